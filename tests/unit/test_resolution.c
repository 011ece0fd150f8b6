/* test_resolution: run.resolution K simulates each firm in K slots, each
 * weighing 1 / K in every aggregate (docs/model.md eq. 37). Checked
 * against its definition: K slots per firm for N firms is the same
 * simulation as N K firms at K = 1 (slot i has firm i's streams), with
 * counts and values divided by K and every share unchanged; the weighted
 * mass is the sector's firms; exact aggregation, which has no sampling
 * noise, ignores K; and the bound on slots is an input error. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "engine/run.h"
#include "fixtures.h"
#include "params/params.h"

/* Forward-looking firms, two destinations (CN can close), two experience
 * levels, productivity-dependent exit, capacity limits (destinations
 * interact) and the peers' share in crowded demand: every aggregate the
 * weight reaches, and the one feedback that reads a count. */
static const char *const world =
    "run: {model: dynamic, periods: 12, burn_in: 20}\n"
    "productivity: {grid: 21}\n"
    "decision: {discount: 0.95, logit_scale: 0.05}\n"
    "interactions: {crowding: 0.5}\n"
    "experience:\n"
    "  levels: 2\n"
    "  demand: [0.5, 1.2]\n"
    "  transition: [[0.7, 0.3], [0.1, 0.9]]\n"
    "sectors:\n"
    "  goods:\n"
    "    firms: 700\n"
    "    persistence: 0.9\n"
    "    volatility: 0.3\n"
    "    death_rule: productivity\n"
    "    death_slope: 2\n"
    "    death_shift: 0.01\n"
    "  ore:\n"
    "    firms: 300\n"
    "    capacity_elasticity: 0.5\n"
    "destinations:\n"
    "  US:\n"
    "    market: {demand: 1.0, fixed_cost: 0.3, sunk_cost: 0.8}\n"
    "    regimes: {low: {tariff: 0}, high: {tariff: 0.3}}\n"
    "    transition: [[0.8, 0.2], [0.3, 0.7]]\n"
    "  CN:\n"
    "    market: {demand: 0.6, fixed_cost: 0.2, sunk_cost: 0.5}\n"
    "    regimes: {open: {}, ban: {closed: true}}\n"
    "    transition: [[0.9, 0.1], [0.5, 0.5]]\n";

#define S 2
#define D 2
#define SD (S * D)
#define NS (1 << D)

static tm_params *load(int goods, int ore, int resolution, const char *extra)
{
    char s1[64], s2[64], s3[64];
    snprintf(s1, sizeof s1, "sectors.goods.firms=%d", goods);
    snprintf(s2, sizeof s2, "sectors.ore.firms=%d", ore);
    snprintf(s3, sizeof s3, "run.resolution=%d", resolution);
    const char *sets[] = {s1, s2, s3, extra};
    return fixture_params("resolution-test", world, sets, extra ? 4 : 3);
}

/* Expects b's counts and values to be a's divided by k and its shares and
 * means to be a's, to a relative `tol` (0: bit for bit). */
static void expect_scaled(const tm_period_result *a, const tm_period_result *b, double k, double tol)
{
#define SAME(x, y, what, i)                                                                                            \
    cr_expect((isnan(x) && isnan(y)) || (tol == 0 ? (x) == (y) : fabs((x) - (y)) <= tol * fabs(x)),                    \
              "period %d, %s[%d]: %.17g at K firms a slot, %.17g with K slots a firm", a->period, what, i, (x), (y))
    for (int i = 0; i < SD; i++) {
        SAME(a->x_serving[i] / k, b->x_serving[i], "serving", i);
        SAME(a->x_entrants[i] / k, b->x_entrants[i], "entrants", i);
        SAME(a->x_exiters[i] / k, b->x_exiters[i], "exiters", i);
        SAME(a->export_value[i] / k, b->export_value[i], "export_value", i);
        SAME(a->entrant_value[i] / k, b->entrant_value[i], "entrant_value", i);
        SAME(a->tariff_paid[i] / k, b->tariff_paid[i], "tariff_paid", i);
        SAME(a->top10_share[i], b->top10_share[i], "top10_share", i);
        SAME(a->mean_log_productivity[i], b->mean_log_productivity[i], "mean_log_productivity", i);
    }
    for (int i = 0; i < S * NS; i++)
        SAME(a->x_firms_by_set[i] / k, b->x_firms_by_set[i], "firms_by_set", i);
    for (int i = 0; i < S; i++)
        SAME(a->x_deaths[i] / k, b->x_deaths[i], "deaths", i);
    SAME(a->non_us_share, b->non_us_share, "non_us_share", 0);
#undef SAME
}

/* N firms with K slots each against N K firms with one: the same slots,
 * streams and choices; on two threads for one and one for the other (a
 * result does not depend on the thread count). */
static void expect_k_slots_are_k_firms(int k, double tol)
{
    fixture_sim a, b;
    fixture_sim_open(&a, load(700 * k, 300 * k, 1, NULL), 2);
    fixture_sim_open(&b, load(700, 300, k, NULL), 1);
    int logged = 0;
    double served = 0;
    while (fixture_sim_next(&a)) {
        cr_assert(fixture_sim_next(&b));
        expect_scaled(a.result, b.result, (double)k, tol);
        if (a.result->period >= 0) {
            logged++;
            served += b.result->x_serving[0] + b.result->x_serving[D + 1];
        }
    }
    cr_expect(!fixture_sim_next(&b));
    cr_expect_eq(logged, 12);
    cr_expect_gt(served, 100.0, "both sectors export (%.1f firm-periods)", served);
    fixture_sim_close(&a);
    fixture_sim_close(&b);
}

Test(resolution, four_slots_a_firm_are_four_times_the_firms_each_a_quarter_bit_for_bit)
{
    /* Dividing by 4 is exact in binary, so every aggregate matches bit for
     * bit, the share that feeds crowded demand back included. */
    expect_k_slots_are_k_firms(4, 0.0);
}

Test(resolution, three_slots_a_firm_are_three_times_the_firms_each_a_third)
{
    /* 1 / 3 rounds: the aggregates agree to a few ulps, and the share fed
     * back (serving / firms) lands on the same side of every choice. */
    expect_k_slots_are_k_firms(3, 1e-13);
}

Test(resolution, the_weighted_mass_of_every_period_is_the_sectors_firms)
{
    fixture_sim a;
    fixture_sim_open(&a, load(700, 300, 3, NULL), 2);
    while (fixture_sim_next(&a)) {
        const double firms[S] = {700, 300};
        for (int s = 0; s < S; s++) {
            double mass = 0;
            for (int set = 0; set < NS; set++)
                mass += a.result->x_firms_by_set[s * NS + set];
            cr_expect(fabs(mass - firms[s]) < 1e-9, "period %d, sector %d: weighted mass %.12g, expected %g",
                      a.result->period, s, mass, firms[s]);
            /* Whole-number counts are the weighted masses rounded. */
            cr_expect_eq(a.result->serving[s * D], llround(a.result->x_serving[s * D]));
        }
    }
    fixture_sim_close(&a);
}

Test(resolution, exact_aggregation_ignores_it)
{
    fixture_sim a, b;
    fixture_sim_open(&a, load(700, 300, 1, "run.aggregation=exact"), 2);
    fixture_sim_open(&b, load(700, 300, 8, "run.aggregation=exact"), 2);
    cr_expect_eq(tm_params_slots(b.p, 0), 700);
    cr_expect_eq(tm_params_slot_weight(b.p), 1.0);
    while (fixture_sim_next(&a)) {
        cr_assert(fixture_sim_next(&b));
        expect_scaled(a.result, b.result, 1.0, 0.0);
    }
    fixture_sim_close(&a);
    fixture_sim_close(&b);
}

Test(resolution, too_many_slots_is_an_input_error_naming_the_key_and_sector)
{
    const char *sets[] = {"sectors.goods.firms=2000000", "run.resolution=64"};
    tm_params *p = NULL;
    tm_error err = {0};
    cr_assert_neq(tm_params_load_text("resolution.yaml", world, sets, 2, &p, &err), 0);
    cr_expect_null(p);
    cr_expect_eq(err.status, TM_ERR_INPUT);
    cr_expect(strstr(err.msg, "run.resolution") && strstr(err.msg, "sectors.goods.firms") &&
                  strstr(err.msg, "128000000 slots") && strstr(err.msg, "100000000"),
              "message: %s", err.msg);
    const char *zero[] = {"run.resolution=0"};
    cr_assert_neq(tm_params_load_text("resolution.yaml", world, zero, 1, &p, &err), 0);
    cr_expect(strstr(err.msg, "run.resolution") && strstr(err.msg, "[1, 64]"), "message: %s", err.msg);
}
