/* The moment catalogue (src/experiments/calibrate.c) on a small myopic run. */
#include <criterion/criterion.h>
#include <math.h>

#include "experiments/calibrate.h"

static const char *const small_run =
    "run: {model: myopic, seed: 5, periods: 6, burn_in: 20}\n"
    "productivity: {grid: 21}\n"
    "decision: {myopic_sunk: annuity}\n"
    "sectors:\n"
    "  a: {firms: 3000, persistence: 0.95, volatility: 0.2, death_rate: 0.02,\n"
    "      markets: {US: {demand: 1.0}, CN: {demand: 0.4}, ROW: {demand: 0.3}}}\n"
    "  b: {firms: 2000, persistence: 0.9, volatility: 0.2, death_rate: 0.02,\n"
    "      markets: {US: {demand: 0.6}, CN: {demand: 0.5}, ROW: {demand: 0.5}}}\n"
    "destinations:\n"
    "  US: {market: {fixed_cost: 0.5, sunk_cost: 1.5}, regimes: {open: {tariff: 0}}, transition: [[1]]}\n"
    "  CN: {market: {fixed_cost: 0.6, sunk_cost: 2.0}, regimes: {open: {tariff: 0}}, transition: [[1]]}\n"
    "  ROW: {market: {fixed_cost: 0.6, sunk_cost: 2.0}, regimes: {open: {tariff: 0}}, transition: [[1]]}\n";

static tm_params *params;
static tm_moments *moments;

static void setup(void)
{
    tm_error err = {0};
    cr_assert_eq(tm_params_load_text("small", small_run, NULL, 0, &params, &err), 0, "%s", err.msg);
    cr_assert_eq(tm_moments_of_run(params, 1, &moments, &err), 0, "%s", err.msg);
}

static void teardown(void)
{
    tm_moments_close(moments);
    tm_params_free(params);
}

static double value(const char *name)
{
    tm_error err = {0};
    double v = NAN;
    cr_assert_eq(tm_moments_value(moments, name, &v, &err), 0, "%s: %s", name, err.msg);
    return v;
}

TestSuite(moments, .init = setup, .fini = teardown);

Test(moments, destination_shares_sum_to_one)
{
    cr_assert_float_eq(value("us_share") + value("cn_share") + value("row_share"), 1.0, 1e-12);
    cr_assert_float_eq(value("us_share.b") + value("cn_share.b") + value("row_share.b"), 1.0, 1e-12);
    cr_assert_float_eq(value("non_us_share"), 1.0 - value("us_share"), 1e-12);
}

Test(moments, export_totals_add_up_over_destinations_and_sectors)
{
    double total = value("exports");
    cr_assert_float_eq(value("us_exports") + value("non_us_exports"), total, 1e-9 * total);
    cr_assert_float_eq(value("exports.a") + value("exports.b"), total, 1e-9 * total);
    cr_assert_float_eq(value("us_share"), value("us_exports") / total, 1e-12);
}

Test(moments, one_market_shares_are_ordered)
{
    double single = value("single_market_share");
    double only = value("us_only_share") + value("cn_only_share") + value("row_only_share");
    cr_assert_float_eq(single, only, 1e-12);
    cr_assert(single > 0 && single <= 1);
}

Test(moments, participation_is_exporters_over_slots)
{
    double p = value("export_participation");
    cr_assert(p > 0 && p < 1);
    cr_assert_float_eq(value("exporters"), p * 5000.0, 1e-9 * 5000.0);
}

Test(moments, concentration_and_persistence_are_probabilities)
{
    double t1 = value("top1_share"), t10 = value("top10_share"), pers = value("exporter_persistence");
    cr_assert(t1 > 0.01 && t1 <= t10 && t10 <= 1.0, "top1 %g top10 %g", t1, t10);
    cr_assert(pers > 0 && pers <= 1, "persistence %g", pers);
    double us = value("us_persistence");
    cr_assert(us > 0 && us <= 1);
}

Test(moments, unknown_names_are_input_errors)
{
    tm_error err = {0};
    double v;
    cr_assert_neq(tm_moments_value(moments, "eu_share", &v, &err), 0);
    cr_assert_eq(err.status, TM_ERR_INPUT);
    cr_assert_neq(tm_moments_value(moments, "us_share.nosuch", &v, &err), 0);
    cr_assert_neq(tm_moments_value(moments, "top1_share.a", &v, &err), 0);
}
