/* test_kernel: the firm loop's two ways of counting give the same runs.
 *
 * Runs with market sets only, timing current and no spells, demand types,
 * logit noise or belief classes count each firm once, by (productivity,
 * state before, set chosen), and spread that joint table onto the period's
 * tables (src/engine/kernel.c, step_block_joint; src/engine/aggregate.c).
 * run.spells sends the same run through the general loop, which counts
 * each table directly and takes no extra draw, so every series and every
 * firm must be the same bit for bit: with one, two and three destinations
 * (loops built for each), four (the loop for any number), four on a grid
 * whose joint table is over the size limit (the plain loop), for myopic
 * and dynamic firms, on one and two threads. The white-box check of
 * run->joint_cells makes sure each case takes the loop it is meant to.
 *
 * The threads' counts are summed after each period by the whole team
 * (src/engine/kernel.c, merge_counts), each thread holding the counts of
 * its own blocks: runs on 3 threads (the world's 5 blocks split unevenly,
 * a sector shared by two threads) and 7 (more threads than blocks) must be
 * the one-thread run bit for bit, in both loops. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "engine/run.h"
#include "engine/run_state.h"
#include "fixtures.h"

/* A world of `n_dest` destinations whose regimes switch (one closes), with
 * costs low enough that firms enter and exit every period; two sectors,
 * one of several blocks and one ending inside a block. */
static tm_params *world(const char *model, int n_dest, int grid, int spells)
{
    static const char *const names[] = {"US", "CN", "EU", "JP"};
    char text[4096];
    size_t n = (size_t)snprintf(text, sizeof text,
                                "run: {model: %s, periods: 14, burn_in: 6, seed: 99, spells: %s}\n"
                                "productivity: {grid: %d}\n"
                                "decision: {discount: 0.95, tolerance: 1e-8}\n"
                                "sectors:\n"
                                "  steel: {firms: 20000, death_rate: 0.03, volatility: 0.2, persistence: 0.9}\n"
                                "  agri: {firms: 9001, death_rate: 0.05, volatility: 0.25, persistence: 0.85}\n"
                                "destinations:\n",
                                model, spells ? "true" : "false", grid);
    for (int d = 0; d < n_dest; d++)
        n += (size_t)snprintf(text + n, sizeof text - n,
                              "  %s:\n"
                              "    market: {demand: %.2f, fixed_cost: 0.5, sunk_cost: 0.7}\n"
                              "    regimes: {open: {tariff: 0}, shut: {%s}}\n"
                              "    transition: [[0.8, 0.2], [0.4, 0.6]]\n",
                              names[d], 1.0 - 0.2 * d, d == 1 ? "closed: true" : "tariff: 0.3");
    return fixture_params("kernel world", text, NULL, 0);
}

static void expect_same_doubles(const double *a, const double *b, size_t n, const char *what, int period)
{
    cr_assert_eq(memcmp(a, b, n * sizeof(double)), 0, "%s differs in period %d", what, period);
}

static void expect_same_counts(const int64_t *a, const int64_t *b, size_t n, const char *what, int period)
{
    cr_assert_eq(memcmp(a, b, n * sizeof(int64_t)), 0, "%s differs in period %d", what, period);
}

/* Every series of a period: the same bits in runs x and y. */
static void expect_same_period(const tm_params *p, const tm_run *x, const tm_run *y)
{
    const tm_period_result *r = tm_run_result(x), *q = tm_run_result(y);
    const size_t S = (size_t)p->n_sectors, sd = S * (size_t)p->n_dest, sets = S * (size_t)tm_n_sets(p->n_dest);
    const size_t z_sets = sets * (size_t)p->grid_points;
    const int t = r->period;
    expect_same_counts(r->serving, q->serving, sd, "serving", t);
    expect_same_counts(r->entrants, q->entrants, sd, "entrants", t);
    expect_same_counts(r->exiters, q->exiters, sd, "exiters", t);
    expect_same_counts(r->deaths, q->deaths, S, "deaths", t);
    expect_same_counts(r->firms_by_set, q->firms_by_set, sets, "firms by set", t);
    expect_same_counts(r->firms_by_z_set, q->firms_by_z_set, z_sets, "firms by z and set", t);
    expect_same_doubles(r->export_value, q->export_value, sd, "export value", t);
    expect_same_doubles(r->entrant_value, q->entrant_value, sd, "entrants' export value", t);
    expect_same_doubles(r->top10_share, q->top10_share, sd, "top-decile share", t);
}

/* The same firms at the end of runs x and y. */
static void expect_same_firms(const tm_params *p, const tm_run *x, const tm_run *y)
{
    for (int s = 0; s < p->n_sectors; s++) {
        size_t n = (size_t)p->sector[s].firms;
        cr_assert_eq(memcmp(tm_run_firm_z(x, s), tm_run_firm_z(y, s), n * sizeof(uint16_t)), 0,
                     "sector %d: productivity of a firm differs", s);
        cr_assert_eq(memcmp(tm_run_firm_markets(x, s), tm_run_firm_markets(y, s), n), 0,
                     "sector %d: markets of a firm differ", s);
    }
}

/* Runs the world with and without run.spells on `threads` threads and
 * expects the same series in every period and the same firms at the end;
 * `joint` says whether the run without spells must count by transition. */
static void expect_same_runs(const char *model, int n_dest, int grid, int threads, int joint)
{
    tm_params *a = world(model, n_dest, grid, 0), *b = world(model, n_dest, grid, 1);
    tm_run *x = fixture_run(a, threads), *y = fixture_run(b, threads);
    cr_assert_eq(x->joint_cells != 0, joint, "counting by transition: expected %s, got joint_cells %zu",
                 joint ? "on" : "off", x->joint_cells);
    cr_assert_eq(y->joint_cells, 0, "run.spells must take the general loop");
    while (!tm_run_finished(x)) {
        fixture_step(x);
        fixture_step(y);
        expect_same_period(a, x, y);
    }
    expect_same_firms(a, x, y);
    tm_run_close(x);
    tm_run_close(y);
    tm_params_free(a);
    tm_params_free(b);
}

Test(kernel, joint_counts_match_the_general_loop_one_destination)
{
    for (int threads = 1; threads <= 2; threads++)
        expect_same_runs("myopic", 1, 25, threads, 1);
}

Test(kernel, joint_counts_match_the_general_loop_two_destinations_dynamic)
{
    for (int threads = 1; threads <= 2; threads++)
        expect_same_runs("dynamic", 2, 25, threads, 1);
}

Test(kernel, joint_counts_match_the_general_loop_three_destinations)
{
    for (int threads = 1; threads <= 2; threads++)
        expect_same_runs("myopic", 3, 25, threads, 1);
}

Test(kernel, joint_counts_match_the_general_loop_four_destinations)
{
    /* 21 points x 2 x 16 x 16 sets = 10,752 cells: the loop for any number. */
    for (int threads = 1; threads <= 2; threads++)
        expect_same_runs("myopic", 4, 21, threads, 1);
}

Test(kernel, plain_loop_takes_over_above_the_joint_table_limit)
{
    /* 41 x 2 x 16 x 16 = 20,992 cells > TM_JOINT_MAX_CELLS. */
    cr_assert_gt(41 * 2 * 16 * 16, TM_JOINT_MAX_CELLS);
    for (int threads = 1; threads <= 2; threads++)
        expect_same_runs("myopic", 4, 41, threads, 0);
}

/* The world on `threads` threads against one thread, with or without
 * run.spells (the general loop and its spell counts, or the joint table). */
static void expect_same_as_one_thread(const char *model, int n_dest, int spells, int threads)
{
    tm_params *p = world(model, n_dest, 25, spells);
    tm_run *x = fixture_run(p, 1), *y = fixture_run(p, threads);
    cr_assert_eq(y->n_blocks, 5, "the world has 5 blocks, got %zu", y->n_blocks);
    cr_assert_eq(y->joint_cells != 0, !spells, "run.spells must take the general loop, its absence the joint table");
    const size_t spell_cells = (size_t)p->n_sectors * (size_t)p->n_dest * TM_SPELL_MAX;
    while (!tm_run_finished(x)) {
        fixture_step(x);
        fixture_step(y);
        expect_same_period(p, x, y);
        const tm_period_result *r = tm_run_result(x), *q = tm_run_result(y);
        expect_same_counts(r->spells, q->spells, spell_cells, "ended spells", r->period);
    }
    expect_same_firms(p, x, y);
    tm_run_close(x);
    tm_run_close(y);
    tm_params_free(p);
}

Test(kernel, joint_counts_are_the_same_on_three_and_seven_threads)
{
    expect_same_as_one_thread("myopic", 3, 0, 3);
    expect_same_as_one_thread("dynamic", 2, 0, 7);
}

Test(kernel, general_loop_counts_are_the_same_on_three_and_seven_threads)
{
    expect_same_as_one_thread("myopic", 3, 1, 3);
    expect_same_as_one_thread("dynamic", 2, 1, 7);
}
