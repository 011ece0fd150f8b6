/* test_exact: run.aggregation: exact (the distribution of firms iterated
 * instead of sampled) against the firm simulation: the simulation's error
 * shrinks like one over the square root of the number of firms, the exact
 * aggregates keep the accounting identities, a checkpoint restores them,
 * and the combinations that cannot work are refused. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/checkpoint.h"
#include "fixtures.h"
#include "params/params.h"
#include "engine/run.h"

/* Forward-looking firms, two destinations (CN can close), two experience
 * levels, productivity-dependent exit: every mechanism the exact mode
 * follows. Regimes switch, so each seed has its own environment path. */
static const char *const world =
    "run: {model: dynamic, periods: 16, burn_in: 30}\n"
    "productivity: {grid: 25}\n"
    "decision: {discount: 0.95}\n"
    "experience:\n"
    "  levels: 2\n"
    "  demand: [0.5, 1.2]\n"
    "  transition: [[0.7, 0.3], [0.1, 0.9]]\n"
    "sectors:\n"
    "  goods:\n"
    "    firms: 1000\n"
    "    persistence: 0.9\n"
    "    volatility: 0.3\n"
    "    death_rule: productivity\n"
    "    death_slope: 2\n"
    "    death_shift: 0.01\n"
    "destinations:\n"
    "  US:\n"
    "    market: {demand: 1.0, fixed_cost: 0.3, sunk_cost: 0.8}\n"
    "    regimes: {low: {tariff: 0}, high: {tariff: 0.3}}\n"
    "    transition: [[0.8, 0.2], [0.3, 0.7]]\n"
    "  CN:\n"
    "    market: {demand: 0.6, fixed_cost: 0.2, sunk_cost: 0.5}\n"
    "    regimes: {open: {}, ban: {closed: true}}\n"
    "    transition: [[0.9, 0.1], [0.5, 0.5]]\n";

static tm_params *load(const char *const *sets, int n_sets)
{
    return fixture_params("exact-test", world, sets, n_sets);
}

#define T_MAX 16
#define D 2

/* Share of firms serving each destination in each logged period (one
 * thread: the results do not depend on it, and these runs are small). */
static void shares(const char *firms, const char *aggregation, unsigned seed, double out[T_MAX][D])
{
    char s1[64], s2[64], s3[64];
    snprintf(s1, sizeof s1, "sectors.goods.firms=%s", firms);
    snprintf(s2, sizeof s2, "run.aggregation=%s", aggregation);
    snprintf(s3, sizeof s3, "run.seed=%u", seed);
    const char *sets[] = {s1, s2, s3};
    tm_params *p = load(sets, 3);
    tm_run *run = fixture_run(p, 1);
    while (!tm_run_finished(run)) {
        fixture_step(run);
        const tm_period_result *r = tm_run_result(run);
        if (r->period < 0)
            continue;
        for (int d = 0; d < D; d++)
            out[r->period][d] = r->x_serving[d] / (double)p->sector[0].firms;
    }
    tm_run_close(run);
    tm_params_free(p);
}

Test(exact, firm_simulation_error_has_the_binomial_variance_at_every_n)
{
    /* For one seed both modes see the same regime path (the environment
     * has its own stream), and given that path the firms are independent
     * and alike (no interactions): the number serving d in period t is
     * binomial(N, p), p the exact share. The simulated share has mean p and
     * variance p (1 - p) / N, so its standardised square
     * u^2 = (share - p)^2 N / (p (1 - p)) has mean exactly 1 at every N:
     * the error shrinks like 1 / sqrt(N), with that constant.
     * The mean of u^2 over the 32 cells of one seed is one independent draw
     * per seed (cells of a seed share their firms, so they are not
     * independent of each other); over the 32 seeds, t = (mean - 1) / se,
     * se = s.d. across seeds / sqrt(32), has 31 degrees of freedom, and
     * |t| < 3.633 (its two-sided 0.1% quantile) fails a correct engine once
     * in a thousand runs of the test per N. Cells with p = 0 or 1 (a closed
     * market) must match exactly. */
    enum { SEEDS = 32 };
    static const char *const sizes[] = {"400", "4000", "40000"};
    const double t_quantile = 3.633;
    for (int k = 0; k < 3; k++) {
        double n_firms = atof(sizes[k]), per_seed[SEEDS], mean = 0, sum_sq = 0;
        int n_sq = 0;
        for (unsigned seed = 1; seed <= SEEDS; seed++) {
            double exact[T_MAX][D], sim[T_MAX][D], u2 = 0;
            shares(sizes[k], "exact", seed, exact);
            shares(sizes[k], "firms", seed, sim);
            int cells = 0;
            for (int t = 0; t < T_MAX; t++)
                for (int d = 0; d < D; d++) {
                    double p = exact[t][d], e = sim[t][d] - p;
                    sum_sq += e * e;
                    n_sq++;
                    if (p * (1 - p) < 1e-12) {
                        cr_expect(fabs(e) < 1e-12, "seed %u, period %d, destination %d: exact %g, simulated %g", seed,
                                  t, d, p, sim[t][d]);
                        continue;
                    }
                    u2 += e * e * n_firms / (p * (1 - p));
                    cells++;
                }
            cr_assert_gt(cells, 0);
            per_seed[seed - 1] = u2 / cells;
            mean += per_seed[seed - 1] / SEEDS;
        }
        double var = 0;
        for (int i = 0; i < SEEDS; i++)
            var += (per_seed[i] - mean) * (per_seed[i] - mean) / (SEEDS - 1);
        double se = sqrt(var / SEEDS);
        cr_log_info("%s firms: RMS error of the participation shares %.4g; mean standardised square %.3f (se %.3f)",
                    sizes[k], sqrt(sum_sq / n_sq), mean, se);
        cr_expect_lt(fabs(mean - 1.0), t_quantile * se,
                     "%s firms: mean of (share - p)^2 N / (p (1 - p)) is %.3f (se %.3f), expected 1", sizes[k], mean,
                     se);
    }
}

/* The accounting identities of the simulation hold for the masses. */
static void check_identities(const char *timing)
{
    char set[64];
    snprintf(set, sizeof set, "decision.timing=%s", timing);
    const char *sets[] = {"run.aggregation=exact", set};
    tm_params *p = load(sets, 2);
    tm_run *run = fixture_run(p, 2);
    double before[D] = {0, 0};
    double firms = (double)p->sector[0].firms;
    int saw_entry = 0;
    while (!tm_run_finished(run)) {
        fixture_step(run);
        const tm_period_result *r = tm_run_result(run);
        double total = 0;
        for (int S = 0; S < 4; S++)
            total += r->x_firms_by_set[S];
        cr_assert(fabs(total - firms) < 1e-9 * firms, "period %d: mass %.15g, expected %g", r->period, total, firms);
        for (int d = 0; d < D; d++) {
            double change = r->x_serving[d] - before[d], net = r->x_entrants[d] - r->x_exiters[d];
            cr_assert(fabs(change - net) < 1e-9 * firms, "period %d, d %d: change %.12g, entrants - exiters %.12g",
                      r->period, d, change, net);
            double levels = r->x_by_level[d * 2] + r->x_by_level[d * 2 + 1];
            cr_assert(fabs(levels - r->x_serving[d]) < 1e-9 * firms, "period %d: levels %.12g, serving %.12g",
                      r->period, levels, r->x_serving[d]);
            cr_assert(r->entrant_value[d] <= r->export_value[d] + 1e-9);
            before[d] = r->x_serving[d];
            saw_entry |= r->x_entrants[d] > 1.0;
        }
    }
    cr_expect(saw_entry, "the world must have entry");
    tm_run_close(run);
    tm_params_free(p);
}

Test(exact, masses_keep_the_accounting_identities_timing_current)
{
    check_identities("current");
}

Test(exact, masses_keep_the_accounting_identities_timing_next)
{
    check_identities("next");
}

Test(exact, timing_next_follows_the_firm_simulation)
{
    const char *sets_x[] = {"decision.timing=next", "run.aggregation=exact", "sectors.goods.firms=200000"};
    const char *sets_f[] = {"decision.timing=next", "sectors.goods.firms=200000"};
    tm_params *px = load(sets_x, 3), *pf = load(sets_f, 2);
    tm_run *rx = fixture_run(px, 2), *rf = fixture_run(pf, 2);
    double served[D] = {0, 0};
    while (!tm_run_finished(rx)) {
        fixture_step(rx);
        fixture_step(rf);
        const tm_period_result *x = tm_run_result(rx), *f = tm_run_result(rf);
        for (int d = 0; d < D; d++) {
            /* The binomial s.d. of a count out of 200,000 is at most 224. */
            cr_expect(fabs(x->x_serving[d] - f->x_serving[d]) < 5 * 224,
                      "period %d, destination %d: exact %.1f, simulated %.0f", x->period, d, x->x_serving[d],
                      f->x_serving[d]);
            served[d] += x->x_serving[d];
        }
    }
    for (int d = 0; d < D; d++)
        cr_expect(served[d] > 1000, "destination %d has exporters (%.1f firm-periods)", d, served[d]);
    tm_run_close(rx);
    tm_run_close(rf);
    tm_params_free(px);
    tm_params_free(pf);
}

Test(exact, demand_types_follow_the_firm_simulation)
{
    const char *sets_x[] = {"demand_types.points=2", "demand_types.dispersion=1.5", "run.aggregation=exact",
                            "sectors.goods.firms=200000"};
    const char *sets_f[] = {"demand_types.points=2", "demand_types.dispersion=1.5", "sectors.goods.firms=200000"};
    tm_params *px = load(sets_x, 4), *pf = load(sets_f, 3);
    tm_run *rx = fixture_run(px, 2), *rf = fixture_run(pf, 2);
    while (!tm_run_finished(rx)) {
        fixture_step(rx);
        fixture_step(rf);
        const tm_period_result *x = tm_run_result(rx), *f = tm_run_result(rf);
        double total = 0;
        for (int S = 0; S < 4; S++)
            total += x->x_firms_by_set[S];
        cr_assert(fabs(total - 200000) < 1e-6, "mass %.9g", total);
        for (int S = 1; S < 4; S++)
            cr_expect(fabs(x->x_firms_by_set[S] - f->x_firms_by_set[S]) < 5 * 224,
                      "period %d, set %d: exact %.1f, simulated %.0f", x->period, S, x->x_firms_by_set[S],
                      f->x_firms_by_set[S]);
    }
    tm_run_close(rx);
    tm_run_close(rf);
    tm_params_free(px);
    tm_params_free(pf);
}

Test(exact, checkpoint_restores_the_distribution)
{
    const char *sets[] = {"run.aggregation=exact"};
    tm_params *p = load(sets, 1);
    tm_run *a = fixture_run(p, 2);
    for (int i = 0; i < p->burn_in + 5; i++)
        fixture_step(a);
    tm_run *b = fixture_run_copy(p, a, 2);
    while (!tm_run_finished(a)) {
        fixture_step(a);
        fixture_step(b);
        const tm_period_result *ra = tm_run_result(a), *rb = tm_run_result(b);
        for (int d = 0; d < D; d++) {
            cr_assert_eq(ra->x_serving[d], rb->x_serving[d]);
            cr_assert_eq(ra->export_value[d], rb->export_value[d]);
        }
    }
    tm_run_close(a);
    tm_run_close(b);
    tm_params_free(p);
}

static void expect_refused(const char *const *sets, int n, const char *needle)
{
    tm_params *p = load(sets, n);
    tm_run *run = NULL;
    tm_error err = {0};
    tm_run_options opts = {.threads = 1};
    cr_expect_neq(tm_run_open(p, &opts, &run, &err), 0);
    cr_expect(err.status == TM_ERR_INPUT && strstr(err.msg, needle), "message: %s", err.msg);
    tm_run_close(run);
    tm_params_free(p);
}

Test(exact, refuses_what_needs_single_firms)
{
    const char *learning[] = {"run.aggregation=exact", "run.model=learning"};
    expect_refused(learning, 2, "run.aggregation");
    const char *spells[] = {"run.aggregation=exact", "run.spells=true"};
    expect_refused(spells, 2, "run.spells");
}
