/* test_team: the team of each period's firm loop (src/engine/team.c).
 *
 * The choice is fed period times made up here, for a machine where the
 * whole team is fastest (it must stay there, probing rarely), one where a
 * smaller team is fastest (it must move there), and one whose load changes
 * midway (it must follow). Then a run whose team changes every period,
 * through every candidate of 7 threads (7, 3, 1), must be the one-thread
 * run bit for bit: a thread left out of a period holds no counts. */
#include <criterion/criterion.h>

#include <string.h>

#include "engine/run.h"
#include "engine/run_state.h"
#include "engine/team.h"
#include "fixtures.h"

/* Seconds a period takes with `team` threads on a machine where `best`
 * threads are fastest: 1 ms at best, 30% more for each halving or doubling
 * away from it, with a little repeatable noise. */
static double period_seconds(int team, int best, int period)
{
    double t = 1e-3;
    for (int k = team; k < best; k *= 2)
        t *= 1.3;
    for (int k = best; k < team; k *= 2)
        t *= 1.3;
    return t * (1.0 + 0.02 * (double)(period % 5) / 4.0);
}

/* Runs `periods` periods of the choice on a machine whose fastest team is
 * best(period); returns the team of the last period. */
static int drive(tm_team *t, int periods, int (*best)(int), long *periods_off_best)
{
    int team = 0;
    for (int i = 0; i < periods; i++) {
        team = tm_team_next(t);
        if (periods_off_best && team != best(i))
            (*periods_off_best)++;
        tm_team_done(t, period_seconds(team, best(i), i));
    }
    return team;
}

static int all_sixteen(int period)
{
    (void)period;
    return 16;
}

static int one(int period)
{
    (void)period;
    return 1;
}

static int busy_from_1000(int period)
{
    return period < 1000 ? 16 : 2;
}

Test(team, candidates_halve_down_to_one)
{
    tm_team t;
    tm_team_init(&t, 16, 1);
    cr_assert_eq(t.n, 5);
    const int want[] = {16, 8, 4, 2, 1};
    for (int k = 0; k < 5; k++)
        cr_assert_eq(t.size[k], want[k]);
    tm_team_init(&t, 3, 1);
    cr_assert(t.n == 2 && t.size[0] == 3 && t.size[1] == 1);
    tm_team_init(&t, 1, 1);
    cr_assert(t.n == 1 && tm_team_next(&t) == 1);
}

Test(team, a_fixed_team_is_always_the_whole_team)
{
    tm_team t;
    tm_team_init(&t, 16, 0);
    long off = 0;
    cr_assert_eq(drive(&t, 2000, one, &off), 16);
    cr_assert_eq(off, 2000, "a fixed team never leaves 16 threads");
    cr_assert_eq(t.probes, 0);
}

Test(team, stays_with_the_whole_team_where_it_is_fastest_and_probes_ever_less)
{
    tm_team t;
    tm_team_init(&t, 16, 1);
    long off = 0;
    cr_assert_eq(drive(&t, 5000, all_sixteen, &off), 16);
    cr_assert_eq(t.moves, 0);
    /* Intervals 8, 16, ..., 256, then every 256 periods: 5 + 19 probes of
     * 3 periods in 5000 periods. */
    cr_assert_leq(t.probes, 25, "%ld probes", t.probes);
    cr_assert_leq(off, 3 * t.probes);
    cr_assert_lt((double)off / 5000.0, 0.02, "%ld periods off the fastest team", off);
}

Test(team, moves_to_one_thread_where_that_is_fastest)
{
    tm_team t;
    tm_team_init(&t, 16, 1);
    long off = 0;
    cr_assert_eq(drive(&t, 3000, one, &off), 1);
    cr_assert_eq(t.moves, 4, "16 -> 8 -> 4 -> 2 -> 1");
    cr_assert_lt((double)off / 3000.0, 0.05, "%ld periods off the fastest team", off);
}

Test(team, follows_a_change_of_load)
{
    tm_team t;
    tm_team_init(&t, 16, 1);
    cr_assert_eq(drive(&t, 1000, busy_from_1000, NULL), 16);
    /* From period 1000 the whole team is 1.3^3 = 2.2 times slower than 2
     * threads: the slowdown makes probes frequent again. */
    long off = 0;
    int team = 0;
    for (int i = 1000; i < 1300; i++) {
        team = tm_team_next(&t);
        off += team != 2;
        tm_team_done(&t, period_seconds(team, busy_from_1000(i), i));
    }
    cr_assert_eq(team, 2);
    cr_assert_lt(off, 100, "%ld of 300 periods off the fastest team", off);
}

Test(team, a_probe_is_judged_without_its_first_period)
{
    /* The first period of a probe of the larger team pays for waking its
     * threads: 5 ms, the next two 0.5 ms against 1 ms at one thread. */
    tm_team t;
    tm_team_init(&t, 2, 1);
    t.current = 1; /* one thread */
    int moved = 0;
    for (int i = 0; i < 40 && !moved; i++) {
        int team = tm_team_next(&t);
        double s = team == 1 ? 1e-3 : (t.probe_left == TM_TEAM_PROBE_PERIODS ? 5e-3 : 0.5e-3);
        tm_team_done(&t, s);
        moved = t.current == 0;
    }
    cr_assert(moved, "the two measured periods of the probe were twice as fast");
}

/* A run whose team changes every period through 7, 3 and 1 threads,
 * against the same run on one thread. */
Test(team, a_run_whose_team_changes_every_period_is_the_one_thread_run)
{
    const char *text =
        "run: {model: dynamic, periods: 12, burn_in: 4, seed: 5}\n"
        "productivity: {grid: 21}\n"
        "decision: {discount: 0.95, tolerance: 1e-8}\n"
        "sectors:\n"
        "  steel: {firms: 20000, death_rate: 0.03, volatility: 0.2, persistence: 0.9}\n"
        "  agri: {firms: 9001, death_rate: 0.05, volatility: 0.25, persistence: 0.85}\n"
        "destinations:\n"
        "  US:\n"
        "    market: {demand: 1.0, fixed_cost: 0.5, sunk_cost: 0.7}\n"
        "    regimes: {open: {tariff: 0}, high: {tariff: 0.3}}\n"
        "    transition: [[0.8, 0.2], [0.4, 0.6]]\n"
        "  CN:\n"
        "    market: {demand: 0.6, fixed_cost: 0.5, sunk_cost: 0.7}\n"
        "    regimes: {open: {tariff: 0}, shut: {closed: true}}\n"
        "    transition: [[0.8, 0.2], [0.4, 0.6]]\n";
    tm_params *p = fixture_params("team world", text, NULL, 0);
    tm_run *x = fixture_run(p, 1), *y = fixture_run(p, 7);
    cr_assert(y->team.n == 3 && y->team.size[1] == 3 && y->team.size[2] == 1, "candidates 7, 3, 1");
    const size_t S = (size_t)p->n_sectors, sd = S * (size_t)p->n_dest;
    const size_t z_sets = S * (size_t)tm_n_sets(p->n_dest) * (size_t)p->grid_points;
    for (int i = 0; !tm_run_finished(x); i++) {
        /* The choice as it would stand with index i % 3 chosen. */
        y->team.current = i % 3;
        y->team.probe = -1;
        y->team.countdown = 2;
        fixture_step(x);
        fixture_step(y);
        const tm_period_result *r = tm_run_result(x), *q = tm_run_result(y);
        cr_assert_eq(memcmp(r->serving, q->serving, sd * sizeof(int64_t)), 0, "serving, period %d", r->period);
        cr_assert_eq(memcmp(r->entrants, q->entrants, sd * sizeof(int64_t)), 0, "entrants, period %d", r->period);
        cr_assert_eq(memcmp(r->firms_by_z_set, q->firms_by_z_set, z_sets * sizeof(int64_t)), 0,
                     "firms by z and set, period %d", r->period);
        cr_assert_eq(memcmp(r->export_value, q->export_value, sd * sizeof(double)), 0, "export value, period %d",
                     r->period);
    }
    for (int s = 0; s < p->n_sectors; s++)
        cr_assert_eq(memcmp(tm_run_firm_markets(x, s), tm_run_firm_markets(y, s), (size_t)p->sector[s].firms), 0,
                     "sector %d: markets of a firm differ", s);
    tm_run_close(x);
    tm_run_close(y);
    tm_params_free(p);
}
