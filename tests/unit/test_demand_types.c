/* test_demand_types: firm-by-destination demand types (demand_types) and
 * the dynamic programme solved one destination at a time (decision.solver
 * auto) against the joint solve. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/demand_types.h"
#include "io/checkpoint.h"
#include "fixtures.h"
#include "params/params.h"
#include "engine/run.h"

static const char *const world =
    "run: {model: dynamic, periods: 12, burn_in: 30}\n"
    "productivity: {grid: 21}\n"
    "decision: {discount: 0.95}\n"
    "sectors:\n"
    "  goods: {firms: 30000, persistence: 0.9, volatility: 0.3, death_rate: 0.03}\n"
    "destinations:\n"
    "  US:\n"
    "    market: {demand: 1.0, fixed_cost: 0.3, sunk_cost: 0.8}\n"
    "    regimes: {low: {tariff: 0}, high: {tariff: 0.3}}\n"
    "    transition: [[0.9, 0.1], [0.3, 0.7]]\n"
    "  CN:\n"
    "    market: {demand: 0.6, fixed_cost: 0.2, sunk_cost: 0.5}\n"
    "    regimes: {open: {}, ban: {closed: true}}\n"
    "    transition: [[0.95, 0.05], [0.5, 0.5]]\n"
    "  ROW:\n"
    "    market: {demand: 0.4, fixed_cost: 0.2, sunk_cost: 0.4}\n"
    "    regimes: {open: {}}\n";

static tm_params *load(const char *const *sets, int n_sets)
{
    return fixture_params("types-test", world, sets, n_sets);
}

Test(demand_types, multipliers_average_one_and_spread_with_dispersion)
{
    for (int points = 2; points <= 5; points++) {
        char a[64];
        snprintf(a, sizeof a, "demand_types.points=%d", points);
        const char *sets[] = {a, "demand_types.dispersion=1.2"};
        tm_params *p = load(sets, 2);
        cr_assert_eq(p->n_types, points * points * points);
        tm_demand_types types;
        tm_demand_types_init(&types, p);
        double mean = 0;
        for (int k = 0; k < points; k++) {
            mean += types.multiplier[k] / points;
            if (k)
                cr_expect_gt(types.multiplier[k], types.multiplier[k - 1], "multipliers rise with the bin");
        }
        cr_expect(fabs(mean - 1.0) < 1e-12, "%d points: mean multiplier %.15g", points, mean);
        /* Type t holds point (t / points^d) % points in destination d. */
        cr_expect_eq(tm_demand_types_multiplier(&types, 1, 0), types.multiplier[1]);
        cr_expect_eq(tm_demand_types_multiplier(&types, 1, 1), types.multiplier[0]);
        cr_expect_eq(tm_demand_types_multiplier(&types, points, 1), types.multiplier[1]);
        tm_params_free(p);
    }
    const char *none[] = {"demand_types.points=1", "demand_types.dispersion=2"};
    tm_params *p = load(none, 2);
    cr_expect_eq(p->n_types, 1);
    tm_demand_types types;
    tm_demand_types_init(&types, p);
    cr_expect_eq(tm_demand_types_multiplier(&types, 0, 2), 1.0);
    tm_params_free(p);
}

Test(demand_types, listed_destinations_only)
{
    const char *sets[] = {"demand_types.points=3", "demand_types.dispersion=1", "demand_types.destinations=[ROW, CN]"};
    tm_params *p = load(sets, 3);
    cr_assert_eq(p->n_types, 9);
    tm_demand_types types;
    tm_demand_types_init(&types, p);
    for (int t = 0; t < 9; t++) {
        cr_expect_eq(tm_demand_types_multiplier(&types, t, 0), 1.0, "US has no types");
        cr_expect_eq(tm_demand_types_multiplier(&types, t, 2), types.multiplier[t % 3], "ROW listed first");
        cr_expect_eq(tm_demand_types_multiplier(&types, t, 1), types.multiplier[t / 3]);
    }
    cr_expect(strstr(p->canonical, "destinations: [ROW, CN]"), "the list is in the canonical text");
    tm_params_free(p);
}

/* Firms of each type spread evenly; with types, many more firms serve CN
 * only or ROW only than productivity alone makes. */
Test(demand_types, types_make_single_market_exporters_of_small_markets)
{
    const char *plain[] = {"run.model=myopic"};
    const char *typed[] = {"run.model=myopic", "demand_types.points=2", "demand_types.dispersion=1.5"};
    double single_small[2];
    for (int v = 0; v < 2; v++) {
        tm_params *p = v ? load(typed, 3) : load(plain, 1);
        tm_run *run = fixture_run(p, 2);
        while (!tm_run_finished(run))
            fixture_step(run);
        const tm_period_result *r = tm_run_result(run);
        /* Sets: bit 0 US, bit 1 CN, bit 2 ROW. */
        single_small[v] = (double)(r->firms_by_set[2] + r->firms_by_set[4]);
        if (v) {
            const uint8_t *type = tm_run_firm_type(run, 0);
            cr_assert_not_null(type);
            int64_t count[8] = {0};
            for (int64_t i = 0; i < p->sector[0].firms; i++)
                count[type[i]]++;
            for (int t = 0; t < 8; t++)
                cr_expect(fabs((double)count[t] - 30000.0 / 8) < 5 * sqrt(30000.0 / 8),
                          "type %d: %lld firms (expected 3750)", t, (long long)count[t]);
            /* The by-type histogram adds up to the plain one. */
            for (int z = 0; z < 21; z++)
                for (int S = 0; S < 8; S++) {
                    int64_t sum = 0;
                    for (int t = 0; t < 8; t++)
                        sum += r->firms_by_type_z_set[((size_t)t * 21 + (size_t)z) * 8 + (size_t)S];
                    cr_assert_eq(sum, r->firms_by_z_set[(size_t)z * 8 + (size_t)S]);
                }
        } else {
            cr_expect_null(tm_run_firm_type(run, 0));
        }
        tm_run_close(run);
        tm_params_free(p);
    }
    cr_log_info("firms serving CN only or ROW only: %g without types, %g with", single_small[0], single_small[1]);
    cr_expect_gt(single_small[1], 2 * single_small[0],
                 "types multiply the exporters serving a small market alone: %g -> %g", single_small[0],
                 single_small[1]);
}

static void compare_runs(const char *const *sa, int na, const char *const *sb, int nb, int threads_a, int threads_b)
{
    tm_params *pa = load(sa, na), *pb = load(sb, nb);
    tm_run *a = fixture_run(pa, threads_a), *b = fixture_run(pb, threads_b);
    while (!tm_run_finished(a)) {
        fixture_step(a);
        fixture_step(b);
        const tm_period_result *ra = tm_run_result(a), *rb = tm_run_result(b);
        for (int k = 0; k < 3; k++) {
            cr_assert_eq(ra->serving[k], rb->serving[k], "period %d, destination %d", ra->period, k);
            cr_assert_eq(ra->entrants[k], rb->entrants[k]);
            cr_assert_eq(ra->export_value[k], rb->export_value[k]);
        }
    }
    tm_run_close(a);
    tm_run_close(b);
    tm_params_free(pa);
    tm_params_free(pb);
}

Test(demand_types, same_results_with_one_or_two_threads)
{
    const char *sets[] = {"demand_types.points=2", "demand_types.dispersion=1", "decision.logit_scale=0.05"};
    compare_runs(sets, 3, sets, 3, 1, 2);
}

/* Independent markets: solving one programme per destination gives the
 * same choices as the joint programme (decision.solver joint). */
Test(demand_types, separable_solve_matches_the_joint_solve)
{
    const char *sep[] = {"demand_types.points=2", "demand_types.dispersion=1"};
    const char *joint[] = {"demand_types.points=2", "demand_types.dispersion=1", "decision.solver=joint"};
    compare_runs(sep, 2, joint, 3, 2, 2);
    const char *sep2[] = {"experience.levels=2",
                          "experience.demand=[0.6, 1.0]",
                          "experience.transition=[[0.8, 0.2], [0, 1]]",
                          "decision.timing=next",
                          "sectors.goods.death_rule=productivity",
                          "sectors.goods.death_slope=1",
                          "sectors.goods.death_shift=0.01"};
    const char *joint2[] = {"experience.levels=2",
                            "experience.demand=[0.6, 1.0]",
                            "experience.transition=[[0.8, 0.2], [0, 1]]",
                            "decision.timing=next",
                            "sectors.goods.death_rule=productivity",
                            "sectors.goods.death_slope=1",
                            "sectors.goods.death_shift=0.01",
                            "decision.solver=joint"};
    compare_runs(sep2, 7, joint2, 8, 2, 2);
}

Test(demand_types, checkpoint_keeps_each_firms_type)
{
    const char *sets[] = {"demand_types.points=2", "demand_types.dispersion=1"};
    tm_params *p = load(sets, 2);
    tm_run *a = fixture_run(p, 2);
    for (int i = 0; i < p->burn_in + 3; i++)
        fixture_step(a);
    tm_run *b = fixture_run_copy(p, a, 2);
    cr_assert_eq(memcmp(tm_run_firm_type(a, 0), tm_run_firm_type(b, 0), (size_t)p->sector[0].firms), 0);
    while (!tm_run_finished(a)) {
        fixture_step(a);
        fixture_step(b);
        for (int k = 0; k < 3; k++)
            cr_assert_eq(tm_run_result(a)->export_value[k], tm_run_result(b)->export_value[k]);
    }
    tm_run_close(a);
    tm_run_close(b);
    tm_params_free(p);
}

Test(demand_types, learning_firms_have_types_too)
{
    /* Belief classes and types together: one policy per (class, type). */
    const char *sets[] = {"run.model=learning", "demand_types.points=2", "demand_types.dispersion=1"};
    compare_runs(sets, 3, sets, 3, 1, 2);
    const char *plain[] = {"run.model=learning"};
    tm_params *pt = load(sets, 3), *pp = load(plain, 1);
    tm_run *rt = fixture_run(pt, 2), *rp = fixture_run(pp, 2);
    fixture_finish(rt);
    fixture_finish(rp);
    /* Sets: bit 0 US, bit 1 CN, bit 2 ROW; types add small-market-only exporters. */
    const tm_period_result *t = tm_run_result(rt), *q = tm_run_result(rp);
    cr_expect_gt(t->firms_by_set[2] + t->firms_by_set[4], q->firms_by_set[2] + q->firms_by_set[4]);
    tm_run_close(rt);
    tm_run_close(rp);
    tm_params_free(pt);
    tm_params_free(pp);
}

Test(demand_types, too_many_types_is_an_input_error)
{
    tm_params *q = NULL;
    tm_error err = {0};
    const char *too_many[] = {"demand_types.points=7"};
    cr_expect_neq(tm_params_load_text("types-test", world, too_many, 1, &q, &err), 0, "7^3 > 256 types");
    cr_expect(err.status == TM_ERR_INPUT && strstr(err.msg, "demand_types.points"), "%s", err.msg);
}
