/* test_sim: the period loop against its accounting identities (computed
 * again from the firm arrays), thread-count invariance of every result,
 * and the static limit where myopic choices follow the Melitz cutoff rule. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/economy.h"
#include "params/params.h"
#include "engine/run.h"
#include "fixtures.h"

/* Two sectors (steel spans several blocks of TM_BLOCK firms), two
 * destinations whose regimes switch often (CN can close), sunk costs,
 * spillovers and crowding all on. */
static const char *const busy_text =
    "run: {periods: 24, burn_in: 12, seed: 9001}\n"
    "productivity: {grid: 21}\n"
    "decision: {myopic_sunk: full}\n"
    "interactions: {spillover: 0.5, crowding: 0.8}\n"
    "sectors:\n"
    "  steel: {firms: 20000, death_rate: 0.03, volatility: 0.2, persistence: 0.9}\n"
    "  agri:\n"
    "    firms: 3001\n"
    "    death_rate: 0.05\n"
    "    volatility: 0.25\n"
    "    persistence: 0.85\n"
    "    markets:\n"
    "      CN: {demand: 1.2}\n"
    "destinations:\n"
    "  US:\n"
    "    market: {fixed_cost: 0.6, sunk_cost: 0.8}\n"
    "    regimes:\n"
    "      open: {tariff: 0}\n"
    "      war: {tariff: 0.3}\n"
    "    transition: [[0.7, 0.3], [0.4, 0.6]]\n"
    "  CN:\n"
    "    market: {demand: 0.7, fixed_cost: 0.4, sunk_cost: 0.5}\n"
    "    regimes:\n"
    "      normal: {}\n"
    "      duties: {tariff: 0.25}\n"
    "      ban: {closed: true}\n"
    "    transition: [[0.7, 0.2, 0.1], [0.3, 0.5, 0.2], [0.3, 0.2, 0.5]]\n"
    "events:\n"
    "  - {at: 2025Q1, destination: US, sector: steel, tariff: 0.45}\n"
    "  - {at: 2026Q1, destination: CN, regime: ban}\n"
    "  - {at: 2026Q3, destination: CN, release: true}\n"
    "  - {at: 2027Q1, destination: US, escalation_scale: 2}\n";

static tm_params *load(const char *text, const char *const *sets, int n_sets)
{
    return fixture_params("sim-test", text, sets, n_sets);
}

/* A run on `threads` threads, which it must report. */
static tm_run *open_run(const tm_params *p, int threads)
{
    tm_run *run = fixture_run(p, threads);
    cr_assert_eq(tm_run_threads(run), threads);
    return run;
}

#define step fixture_step

/* `text` run on two threads, visited period by period. */
static void open_sim(fixture_sim *s, const char *text)
{
    fixture_sim_open(s, load(text, NULL, 0), 2);
    cr_assert_eq(tm_run_threads(s->run), 2);
}

Test(sim, steps_run_burn_in_then_the_logged_periods)
{
    fixture_sim sim;
    open_sim(&sim, busy_text);
    const tm_params *p = sim.p;
    int steps = 0;
    while (fixture_sim_next(&sim)) {
        cr_expect_eq(tm_run_period(sim.run), steps - p->burn_in);
        cr_expect_eq(sim.result->period, tm_run_period(sim.run));
        steps++;
    }
    cr_expect_eq(steps, p->burn_in + p->periods);
    cr_expect_str_eq(sim.result->label, "2029Q4", "24 quarters from 2024Q1 end in 2029Q4");
    tm_error err = {0};
    cr_expect_neq(tm_run_step(sim.run, &err), 0, "stepping a finished run is an error");
    fixture_sim_close(&sim);
}

Test(sim, entrants_minus_exiters_equals_change_in_serving)
{
    fixture_sim sim;
    open_sim(&sim, busy_text);
    const tm_params *p = sim.p;
    size_t cells = (size_t)p->n_sectors * (size_t)p->n_dest;
    int64_t *before = calloc(cells, sizeof *before); /* nobody serves before the first period */
    int64_t total_entrants = 0, total_exiters = 0;
    while (fixture_sim_next(&sim)) {
        const tm_period_result *r = sim.result;
        for (size_t k = 0; k < cells; k++) {
            cr_assert_eq(r->serving[k] - before[k], r->entrants[k] - r->exiters[k],
                         "period %d, cell %zu: serving %lld -> %lld, entrants %lld, exiters %lld", r->period, k,
                         (long long)before[k], (long long)r->serving[k], (long long)r->entrants[k],
                         (long long)r->exiters[k]);
            before[k] = r->serving[k];
            if (r->period >= 0) {
                total_entrants += r->entrants[k];
                total_exiters += r->exiters[k];
            }
        }
    }
    cr_expect_gt(total_entrants, 0, "the scenario must have entry");
    cr_expect_gt(total_exiters, 0, "the scenario must have exit");
    free(before);
    fixture_sim_close(&sim);
}

Test(sim, entrants_and_exiters_match_a_recount_from_the_firm_arrays)
{
    fixture_sim sim;
    open_sim(&sim, busy_text);
    const tm_params *p = sim.p;
    int nd = p->n_dest;
    uint8_t *prev[2];
    for (int s = 0; s < p->n_sectors; s++)
        prev[s] = calloc((size_t)p->sector[s].firms, 1);
    while (fixture_sim_next(&sim)) {
        const tm_period_result *r = sim.result;
        for (int s = 0; s < p->n_sectors; s++) {
            const uint8_t *m = tm_run_firm_markets(sim.run, s);
            int64_t n = p->sector[s].firms, born = 0;
            int64_t entrants[TM_MAX_DEST] = {0}, exiters[TM_MAX_DEST] = {0}, serving[TM_MAX_DEST] = {0};
            for (int64_t i = 0; i < n; i++) {
                int is_born = (m[i] & TM_BORN_BIT) != 0;
                int was = prev[s][i] & TM_SET_MASK, now = m[i] & TM_SET_MASK;
                int had = is_born ? 0 : was; /* a newborn replaced the slot's previous firm */
                born += is_born;
                for (int d = 0; d < nd; d++) {
                    serving[d] += now >> d & 1;
                    entrants[d] += (now >> d & 1) && !(had >> d & 1);
                    /* The dead firm exits every market it served. */
                    exiters[d] += (was >> d & 1) && (is_born || !(now >> d & 1));
                }
            }
            cr_assert_eq(r->deaths[s], born, "period %d sector %d deaths", r->period, s);
            for (int d = 0; d < nd; d++) {
                size_t k = (size_t)s * (size_t)nd + (size_t)d;
                cr_assert_eq(r->serving[k], serving[d], "period %d serving[%zu]", r->period, k);
                cr_assert_eq(r->entrants[k], entrants[d], "period %d entrants[%zu]", r->period, k);
                cr_assert_eq(r->exiters[k], exiters[d], "period %d exiters[%zu]", r->period, k);
            }
            memcpy(prev[s], m, (size_t)n);
        }
    }
    for (int s = 0; s < p->n_sectors; s++)
        free(prev[s]);
    fixture_sim_close(&sim);
}

Test(sim, sum_of_firm_exports_equals_export_value_series)
{
    fixture_sim sim;
    open_sim(&sim, busy_text);
    const tm_params *p = sim.p;
    int nd = p->n_dest, n_sets = tm_n_sets(nd), nz = tm_run_grid_size(sim.run);
    double grand_total = 0.0;
    while (fixture_sim_next(&sim)) {
        const tm_period_result *r = sim.result;
        double total = 0.0, non_us = 0.0;
        for (int s = 0; s < p->n_sectors; s++) {
            const uint8_t *m = tm_run_firm_markets(sim.run, s);
            const uint16_t *z = tm_run_firm_z(sim.run, s);
            const double *rev = tm_run_revenue_table(sim.run, s);
            const double *zg = tm_run_z_grid(sim.run, s);
            double value[TM_MAX_DEST] = {0}, zsum[TM_MAX_DEST] = {0};
            int64_t count[TM_MAX_DEST] = {0};
            for (int64_t i = 0; i < p->sector[s].firms; i++) {
                int S = m[i] & TM_SET_MASK;
                cr_assert_lt(z[i], nz);
                for (int d = 0; d < nd; d++) {
                    double v = rev[((size_t)z[i] * (size_t)n_sets + (size_t)S) * (size_t)nd + (size_t)d];
                    value[d] += v;
                    if (S >> d & 1) {
                        cr_assert_gt(v, 0.0, "a firm serving a market sells there");
                        zsum[d] += zg[z[i]];
                        count[d]++;
                    } else {
                        cr_assert_eq(v, 0.0, "no revenue from a market not served");
                    }
                }
            }
            for (int d = 0; d < nd; d++) {
                size_t k = (size_t)s * (size_t)nd + (size_t)d;
                double series = r->export_value[k];
                cr_assert(fabs(value[d] - series) <= 1e-9 * fabs(series),
                          "period %d cell %zu: firms sum %.17g, series %.17g", r->period, k, value[d], series);
                cr_assert(fabs(r->tariff_paid[k] - r->tariff[k] * series) <= 1e-12 * fabs(series));
                if (count[d] > 0)
                    cr_assert(fabs(r->mean_log_productivity[k] - zsum[d] / (double)count[d]) <= 1e-12,
                              "mean log productivity of exporters");
                else
                    cr_assert(isnan(r->mean_log_productivity[k]));
                if (series > 0)
                    cr_assert(r->top10_share[k] >= 0.1 - 1e-12 && r->top10_share[k] <= 1.0 + 1e-12, "top-10%% share %g",
                              r->top10_share[k]);
                total += series;
                if (strcmp(p->dest[d].name, "US") != 0)
                    non_us += series;
            }
        }
        if (total > 0)
            cr_assert(fabs(r->non_us_share - non_us / total) <= 1e-12, "non-US share");
        grand_total += total;
    }
    cr_expect_gt(grand_total, 0.0, "the scenario must export");
    fixture_sim_close(&sim);
}

Test(sim, firms_by_market_set_sum_to_firms_and_give_serving_counts)
{
    fixture_sim sim;
    open_sim(&sim, busy_text);
    const tm_params *p = sim.p;
    int nd = p->n_dest, n_sets = tm_n_sets(nd);
    int64_t several = 0;
    while (fixture_sim_next(&sim)) {
        const tm_period_result *r = sim.result;
        for (int s = 0; s < p->n_sectors; s++) {
            const int64_t *by_set = r->firms_by_set + (size_t)s * (size_t)n_sets;
            int64_t total = 0;
            for (int S = 0; S < n_sets; S++) {
                cr_assert_geq(by_set[S], 0);
                total += by_set[S];
            }
            cr_assert_eq(total, p->sector[s].firms, "period %d sector %d", r->period, s);
            for (int d = 0; d < nd; d++) {
                int64_t serving = 0;
                for (int S = 0; S < n_sets; S++)
                    if (S >> d & 1)
                        serving += by_set[S];
                cr_assert_eq(serving, r->serving[(size_t)s * (size_t)nd + (size_t)d]);
            }
            several += by_set[n_sets - 1];
        }
    }
    cr_expect_gt(several, 0, "some firms must serve both markets");
    fixture_sim_close(&sim);
}

Test(sim, closed_market_has_no_firms_serving_it)
{
    fixture_sim sim;
    open_sim(&sim, busy_text);
    const tm_params *p = sim.p;
    int closed_periods = 0;
    while (fixture_sim_next(&sim)) {
        const tm_period_result *r = sim.result;
        if (r->regime[1] != 2)
            continue;
        closed_periods++;
        for (int s = 0; s < p->n_sectors; s++) {
            cr_assert_eq(r->serving[(size_t)s * 2 + 1], 0, "period %d: CN is closed", r->period);
            cr_assert_eq(r->export_value[(size_t)s * 2 + 1], 0.0);
        }
    }
    cr_expect_gt(closed_periods, 0, "the CN ban must occur in the scenario");
    fixture_sim_close(&sim);
}

/* Bitwise comparison of every result of two runs' current period. */
static void expect_same_results(const tm_run *a, const tm_run *b, const tm_params *p, const char *what)
{
    const tm_period_result *x = tm_run_result(a), *y = tm_run_result(b);
    size_t sd = (size_t)p->n_sectors * (size_t)p->n_dest;
    size_t ss = (size_t)p->n_sectors * (size_t)tm_n_sets(p->n_dest);
    int t = x->period;
    cr_assert_eq(x->period, y->period);
    cr_assert_str_eq(x->label, y->label);
    cr_assert_eq(memcmp(x->serving, y->serving, sd * sizeof(int64_t)), 0, "%s: serving, period %d", what, t);
    cr_assert_eq(memcmp(x->entrants, y->entrants, sd * sizeof(int64_t)), 0, "%s: entrants, period %d", what, t);
    cr_assert_eq(memcmp(x->exiters, y->exiters, sd * sizeof(int64_t)), 0, "%s: exiters, period %d", what, t);
    cr_assert_eq(memcmp(x->export_value, y->export_value, sd * sizeof(double)), 0, "%s: exports, period %d", what, t);
    cr_assert_eq(memcmp(x->tariff_paid, y->tariff_paid, sd * sizeof(double)), 0, "%s: tariff paid, period %d", what, t);
    cr_assert_eq(memcmp(x->mean_log_productivity, y->mean_log_productivity, sd * sizeof(double)), 0,
                 "%s: mean log productivity, period %d", what, t);
    cr_assert_eq(memcmp(x->top10_share, y->top10_share, sd * sizeof(double)), 0, "%s: top-10 share, period %d", what,
                 t);
    cr_assert_eq(memcmp(x->tariff, y->tariff, sd * sizeof(double)), 0, "%s: tariffs, period %d", what, t);
    cr_assert_eq(memcmp(x->firms_by_set, y->firms_by_set, ss * sizeof(int64_t)), 0, "%s: firms by set, period %d", what,
                 t);
    cr_assert_eq(memcmp(x->deaths, y->deaths, (size_t)p->n_sectors * sizeof(int64_t)), 0, "%s: deaths, period %d", what,
                 t);
    cr_assert_eq(memcmp(x->regime, y->regime, sizeof x->regime), 0, "%s: regimes, period %d", what, t);
    cr_assert_eq(memcmp(&x->non_us_share, &y->non_us_share, sizeof(double)), 0, "%s: non-US share, period %d", what, t);
    cr_assert_eq(x->n_events, y->n_events);
}

static void expect_same_firms(const tm_run *a, const tm_run *b, const tm_params *p)
{
    for (int s = 0; s < p->n_sectors; s++) {
        size_t n = (size_t)p->sector[s].firms;
        cr_assert_eq(memcmp(tm_run_firm_z(a, s), tm_run_firm_z(b, s), n * sizeof(uint16_t)), 0, "sector %d z", s);
        cr_assert_eq(memcmp(tm_run_firm_markets(a, s), tm_run_firm_markets(b, s), n), 0, "sector %d markets", s);
    }
}

/* Runs with 1, 2 and 4 threads in lockstep; every period must agree. */
static void expect_thread_invariance(const tm_params *p)
{
    tm_run *one = open_run(p, 1), *two = open_run(p, 2), *four = open_run(p, 4);
    while (!tm_run_finished(one)) {
        step(one);
        step(two);
        step(four);
        expect_same_results(one, two, p, "1 vs 2 threads");
        expect_same_results(one, four, p, "1 vs 4 threads");
    }
    cr_expect(tm_run_finished(two) && tm_run_finished(four));
    expect_same_firms(one, two, p);
    expect_same_firms(one, four, p);
    tm_run_close(one);
    tm_run_close(two);
    tm_run_close(four);
}

Test(sim, results_are_bitwise_identical_with_1_2_and_4_threads)
{
    tm_params *p = load(busy_text, NULL, 0);
    expect_thread_invariance(p);
    tm_params_free(p);
}

Test(sim, logit_choice_noise_is_thread_invariant)
{
    tm_params *p = load(busy_text, (const char *const[]){"decision.logit_scale=0.3"}, 1);
    expect_thread_invariance(p);
    tm_params_free(p);
}

Test(sim, capacity_and_annuity_runs_are_thread_invariant)
{
    tm_params *p = load(busy_text, (const char *const[]){"capacity.elasticity=0.5", "decision.myopic_sunk=annuity"}, 2);
    expect_thread_invariance(p);
    tm_params_free(p);
}

Test(sim, logit_noise_changes_choices)
{
    tm_params *exact = load(busy_text, NULL, 0);
    tm_params *noisy = load(busy_text, (const char *const[]){"decision.logit_scale=0.3"}, 1);
    tm_run *a = open_run(exact, 2), *b = open_run(noisy, 2);
    fixture_finish(a);
    fixture_finish(b);
    const tm_period_result *x = tm_run_result(a), *y = tm_run_result(b);
    size_t ss = (size_t)exact->n_sectors * 4;
    cr_expect_neq(memcmp(x->firms_by_set, y->firms_by_set, ss * sizeof(int64_t)), 0);
    tm_run_close(a);
    tm_run_close(b);
    tm_params_free(exact);
    tm_params_free(noisy);
}

Test(sim, different_seeds_give_different_firm_paths)
{
    tm_params *p = load(busy_text, NULL, 0);
    tm_params *q = load(busy_text, (const char *const[]){"run.seed=9002"}, 1);
    tm_run *a = open_run(p, 2), *b = open_run(q, 2);
    fixture_finish(a);
    fixture_finish(b);
    cr_expect_neq(memcmp(tm_run_firm_z(a, 0), tm_run_firm_z(b, 0), (size_t)p->sector[0].firms * sizeof(uint16_t)), 0);
    tm_run_close(a);
    tm_run_close(b);
    tm_params_free(p);
    tm_params_free(q);
}

/* Static limit: no sunk cost, one regime per destination, no crowding and
 * independent markets. Each market is then a separate static decision and
 * a firm serves d exactly when exp((sigma-1) z) a_d > f_d (Melitz 2003). */
static const char *const static_text =
    "run: {periods: 8, burn_in: 4, seed: 77}\n"
    "productivity: {grid: 31}\n"
    "sectors:\n"
    "  steel: {firms: 9000, volatility: 0.3, death_rate: 0.05}\n"
    "  agri: {firms: 4000, volatility: 0.2}\n"
    "destinations:\n"
    "  US:\n"
    "    market: {demand: 1.0, iceberg: 1.1, fixed_cost: 1.2, sunk_cost: 0}\n"
    "    regimes: {open: {tariff: 0.1}}\n"
    "  CN:\n"
    "    market: {demand: 0.5, iceberg: 1.2, fixed_cost: 0.9, sunk_cost: 0}\n"
    "    regimes: {normal: {tariff: 0.05}}\n";

Test(sim, static_limit_every_firm_serves_exactly_the_markets_with_positive_flow_profit)
{
    fixture_sim sim;
    open_sim(&sim, static_text);
    const tm_params *p = sim.p;
    int nd = p->n_dest;
    int64_t exporters = 0, non_exporters = 0;
    while (fixture_sim_next(&sim)) {
        for (int s = 0; s < p->n_sectors; s++) {
            const tm_sector *sec = &p->sector[s];
            const double *zg = tm_run_z_grid(sim.run, s);
            const uint16_t *z = tm_run_firm_z(sim.run, s);
            const uint8_t *m = tm_run_firm_markets(sim.run, s);
            double a[TM_MAX_DEST];
            for (int d = 0; d < nd; d++)
                a[d] = sec->market[d].demand * pow(sec->market[d].iceberg, 1.0 - p->elasticity) *
                       pow(1.0 + p->dest[d].regime[0].sector_tariff[s], -p->elasticity);
            for (int64_t i = 0; i < sec->firms; i++) {
                int want = 0;
                for (int d = 0; d < nd; d++)
                    if (exp((p->elasticity - 1.0) * zg[z[i]]) * a[d] - sec->market[d].fixed_cost > 0.0)
                        want |= 1 << d;
                cr_assert_eq(m[i] & TM_SET_MASK, want, "period %d sector %d firm %lld at z=%g", tm_run_period(sim.run),
                             s, (long long)i, zg[z[i]]);
                exporters += want != 0;
                non_exporters += want == 0;
            }
        }
    }
    cr_expect_gt(exporters, 0, "the cutoff must fall inside the productivity range");
    cr_expect_gt(non_exporters, 0, "the cutoff must fall inside the productivity range");
    fixture_sim_close(&sim);
}

Test(sim, static_limit_participation_matches_the_stationary_productivity_law)
{
    /* The share of firms above the cutoff is the entry (stationary) law's
     * mass above it; firms are independent, so the sample share has
     * binomial standard error sqrt(q (1 - q) / n) within a period. */
    fixture_sim sim;
    open_sim(&sim, static_text);
    const tm_params *p = sim.p;
    while (fixture_sim_next(&sim))
        continue;
    const tm_sector *sec = &p->sector[0];
    int nz = tm_run_grid_size(sim.run);
    const double *zg = tm_run_z_grid(sim.run, 0);
    /* Rouwenhorst stationary law: binomial(nz - 1, 1/2) over the grid. */
    double a_us = sec->market[0].demand * pow(sec->market[0].iceberg, 1.0 - p->elasticity) *
                  pow(1.0 + p->dest[0].regime[0].sector_tariff[0], -p->elasticity);
    double q = 0.0;
    for (int k = 0; k < nz; k++)
        if (exp((p->elasticity - 1.0) * zg[k]) * a_us > sec->market[0].fixed_cost)
            q += exp(lgamma(nz) - lgamma(k + 1.0) - lgamma((double)(nz - k)) - (nz - 1) * log(2.0));
    const tm_period_result *r = sim.result;
    double share = (double)r->serving[0] / (double)sec->firms;
    double se = sqrt(q * (1.0 - q) / (double)sec->firms);
    cr_expect_gt(q, 0.01);
    cr_expect_lt(fabs(share - q), 5.0 * se, "share %.4f, closed form %.4f, se %.4f", share, q, se);
    fixture_sim_close(&sim);
}

Test(sim, tariff_series_and_regimes_follow_the_events)
{
    fixture_sim sim;
    open_sim(&sim, busy_text);
    const tm_params *p = sim.p;
    int events_seen = 0;
    while (fixture_sim_next(&sim)) {
        const tm_period_result *r = sim.result;
        events_seen += r->n_events;
        if (r->period < 0) {
            cr_assert_eq(r->n_events, 0, "no events in burn-in");
            continue;
        }
        for (int s = 0; s < p->n_sectors; s++)
            for (int d = 0; d < p->n_dest; d++) {
                double want = p->dest[d].regime[r->regime[d]].sector_tariff[s];
                if (s == 0 && d == 0 && r->period >= 4)
                    want = 0.45; /* 2025Q1 is logged period 4 */
                cr_assert_eq(r->tariff[(size_t)s * 2 + (size_t)d], want, "period %d sector %d dest %d", r->period, s,
                             d);
            }
        if (r->period >= 8 && r->period < 10)
            cr_assert_eq(r->regime[1], 2, "CN is held in the ban from 2026Q1 to its release in 2026Q3");
    }
    cr_expect_eq(events_seen, p->n_events, "every event applied exactly once");
    fixture_sim_close(&sim);
}
