/* test_incidence: tariff incidence (docs/model.md eq. 4b). The exporter
 * absorbs the share alpha of the duty: its producer price is
 * (1+t)^(-alpha) times the duty-free mark-up price, buyers pay
 * (1+t)^(1-alpha) times it. The tables are checked against the closed forms
 * at alpha = 0, 1 and in between, with and without capacity costs, and whole
 * runs in exact mode against the same closed forms. */
#include <criterion/criterion.h>

#include <math.h>
#include <string.h>

#include "engine/economy.h"
#include "fixtures.h"

#define SIGMA 3.8

/* Every comparison is of a few multiplications and pow() calls against the
 * same in another order: rounding, 1e-13 relative is ample. */
static void expect_close(double got, double want, double rel, const char *what)
{
    double scale = fabs(want) > 1.0 ? fabs(want) : 1.0;
    cr_expect(fabs(got - want) <= rel * scale, "%s: got %.17g, want %.17g", what, got, want);
}

enum { NZ = 4, NS = 4, ND = 2 };
static const double z_grid[NZ] = {-0.7, -0.1, 0.3, 0.9};

/* Two destinations with duties 25% and 10%, absorption alpha in both. */
static void world(tm_profit_fn *fn, double gamma, double alpha, tm_sector *sec, tm_conditions *cond)
{
    tm_profit_fn_init(fn, SIGMA, gamma);
    memset(sec, 0, sizeof *sec);
    memset(cond, 0, sizeof *cond);
    sec->market[0] = (tm_market){.demand = 1.0, .iceberg = 1.1, .fixed_cost = 0.4, .tariff_absorption = alpha};
    sec->market[1] = (tm_market){.demand = 0.5, .iceberg = 1.3, .fixed_cost = 0.2, .tariff_absorption = alpha};
    cond->tariff[0] = 0.25;
    cond->tariff[1] = 0.10;
    cond->demand[0] = 1.2;
    cond->demand[1] = 0.6;
}

/* The duty-free weight a*_d = B tau^(1-sigma). */
static double free_weight(const tm_sector *sec, const tm_conditions *cond, int d)
{
    return cond->demand[d] * pow(sec->market[d].iceberg, 1.0 - SIGMA);
}

Test(incidence, zero_absorption_is_full_pass_through)
{
    /* alpha = 0: eq. 2, pi_d = phi^(sigma-1) a*_d (1+t)^(-sigma), R_d = sigma pi_d. */
    tm_profit_fn fn;
    tm_sector sec;
    tm_conditions cond;
    world(&fn, 0.0, 0.0, &sec, &cond);
    double flow[NZ * NS], revenue[NZ * NS * ND];
    tm_econ_tables(&fn, &sec, ND, &cond, z_grid, NZ, flow, revenue);
    for (int iz = 0; iz < NZ; iz++) {
        double phi = exp((SIGMA - 1.0) * z_grid[iz]), want = 0.0;
        for (int d = 0; d < ND; d++) {
            double pi = phi * free_weight(&sec, &cond, d) * pow(1.0 + cond.tariff[d], -SIGMA);
            want += pi - sec.market[d].fixed_cost;
            expect_close(revenue[(iz * NS + 3) * ND + d], SIGMA * pi, 1e-13, "revenue");
        }
        expect_close(flow[iz * NS + 3], want, 1e-13, "flow of both");
    }
}

Test(incidence, full_absorption_keeps_quantities_and_cuts_the_producer_price_by_the_duty)
{
    /* alpha = 1: buyers pay the duty-free price, so quantities are the
     * duty-free ones; producer revenue R_d = R*_d / (1+t), cost unchanged:
     * pi_d = phi^(sigma-1) a*_d (1 - sigma t / (1+t)). */
    tm_profit_fn fn;
    tm_sector sec;
    tm_conditions cond;
    world(&fn, 0.0, 1.0, &sec, &cond);
    double flow[NZ * NS], revenue[NZ * NS * ND];
    tm_econ_tables(&fn, &sec, ND, &cond, z_grid, NZ, flow, revenue);
    for (int iz = 0; iz < NZ; iz++) {
        double phi = exp((SIGMA - 1.0) * z_grid[iz]), want = 0.0;
        for (int d = 0; d < ND; d++) {
            double t = cond.tariff[d], a = free_weight(&sec, &cond, d);
            want += phi * a * (1.0 - SIGMA * t / (1.0 + t)) - sec.market[d].fixed_cost;
            double r = revenue[(iz * NS + 3) * ND + d];
            expect_close(r, SIGMA * phi * a / (1.0 + t), 1e-13, "producer revenue");
            /* Buyers' spending R (1+t) is the duty-free revenue: same
             * quantity at the same buyer price. */
            expect_close(r * (1.0 + t), SIGMA * phi * a, 1e-13, "buyer value");
        }
        expect_close(flow[iz * NS + 3], want, 1e-13, "flow of both");
    }
}

Test(incidence, partial_absorption_follows_the_reduced_form)
{
    /* 0 < alpha < 1, x = 1 + t: R_d = sigma phi^(sigma-1) a*_d x^(-alpha - sigma (1-alpha)),
     * pi_d = phi^(sigma-1) a*_d x^(-sigma (1-alpha)) (sigma x^(-alpha) - sigma + 1). */
    const double alpha = 0.4;
    tm_profit_fn fn;
    tm_sector sec;
    tm_conditions cond;
    world(&fn, 0.0, alpha, &sec, &cond);
    double flow[NZ * NS], revenue[NZ * NS * ND];
    tm_econ_tables(&fn, &sec, ND, &cond, z_grid, NZ, flow, revenue);
    for (int iz = 0; iz < NZ; iz++) {
        double phi = exp((SIGMA - 1.0) * z_grid[iz]);
        for (int d = 0; d < ND; d++) {
            double x = 1.0 + cond.tariff[d], a = free_weight(&sec, &cond, d);
            double pi = phi * a * pow(x, -SIGMA * (1.0 - alpha)) * (SIGMA * pow(x, -alpha) - SIGMA + 1.0);
            int alone = 1 << d;
            expect_close(flow[iz * NS + alone], pi - sec.market[d].fixed_cost, 1e-13, "flow alone");
            expect_close(revenue[(iz * NS + alone) * ND + d], SIGMA * phi * a * pow(x, -alpha - SIGMA * (1.0 - alpha)),
                         1e-13, "revenue alone");
        }
    }
}

Test(incidence, full_absorption_with_capacity_costs_takes_the_duty_off_duty_free_revenue)
{
    /* gamma > 0, alpha = 1: quantities, marginal cost and total cost are
     * those of the duty-free firm (eq. 4 at t = 0); the producer receives
     * R*_d / (1+t_d), so Pi = Pi* - sum_d R*_d t_d / (1+t_d). */
    for (double gamma = 0.25; gamma <= 2.0; gamma *= 2.0) {
        tm_profit_fn fn;
        tm_sector sec;
        tm_conditions cond;
        world(&fn, gamma, 1.0, &sec, &cond);
        double flow[NZ * NS], revenue[NZ * NS * ND];
        tm_econ_tables(&fn, &sec, ND, &cond, z_grid, NZ, flow, revenue);
        double a0 = free_weight(&sec, &cond, 0), a1 = free_weight(&sec, &cond, 1);
        for (int iz = 0; iz < NZ; iz++) {
            double pi_free = tm_profit(&fn, z_grid[iz], a0 + a1);
            double r_free = tm_revenue_total(&fn, pi_free);
            double r0 = r_free * a0 / (a0 + a1), r1 = r_free * a1 / (a0 + a1);
            double t0 = cond.tariff[0], t1 = cond.tariff[1];
            double want = pi_free - r0 * t0 / (1.0 + t0) - r1 * t1 / (1.0 + t1) - 0.4 - 0.2;
            expect_close(flow[iz * NS + 3], want, 1e-12, "flow of both");
            expect_close(revenue[(iz * NS + 3) * ND + 0], r0 / (1.0 + t0), 1e-12, "revenue 0");
            expect_close(revenue[(iz * NS + 3) * ND + 1], r1 / (1.0 + t1), 1e-12, "revenue 1");
        }
    }
}

Test(incidence, absorbed_profit_at_equal_sums_is_the_capacity_closed_form)
{
    /* With every price factor 1 the two sums agree and eq. 4b is eq. 4. */
    tm_profit_fn fn;
    tm_profit_fn_init(&fn, SIGMA, 0.7);
    double revenue;
    double got = tm_profit_absorbed(&fn, 0.2, 1.3, 1.3, &revenue);
    double want = tm_profit(&fn, 0.2, 1.3);
    expect_close(got, want, 1e-13, "profit");
    expect_close(revenue, tm_revenue_total(&fn, want), 1e-13, "revenue");
}

/* ---- whole runs ----------------------------------------------------------
 * One destination with a fixed 25% duty, no fixed or sunk cost: every firm
 * serves (its profit is positive at alpha = 0 and at alpha = 1, where
 * 1 - 3.8 x 0.2 = 0.24 > 0), so in exact mode export value and tariff paid
 * are the duty-free export value X* times the closed-form factors. */
static const char *const one_market =
    "run: {model: %s, periods: 3, burn_in: 5, aggregation: exact}\n"
    "productivity: {grid: 15}\n"
    "sectors:\n"
    "  goods: {firms: 1000, persistence: 0.9, volatility: 0.2}\n"
    "destinations:\n"
    "  US:\n"
    "    market: {demand: 1.0, fixed_cost: 0, sunk_cost: 0, tariff_absorption: %g}\n"
    "    regimes: {duty: {tariff: %g}}\n";

/* Export value and tariff paid in the last period. */
static void last_period(const char *model, double alpha, double tariff, double *exports, double *paid)
{
    tm_params *p = fixture_params_fmt("incidence", NULL, 0, one_market, model, alpha, tariff);
    tm_run *run = fixture_run(p, 1);
    fixture_finish(run);
    const tm_period_result *r = tm_run_result(run);
    *exports = r->export_value[0];
    *paid = r->tariff_paid[0];
    tm_run_close(run);
    tm_params_free(p);
}

static void expect_run_closed_forms(const char *model)
{
    const double t = 0.25;
    double free_x, free_paid, x0, paid0, x1, paid1;
    last_period(model, 0.0, 0.0, &free_x, &free_paid);
    last_period(model, 0.0, t, &x0, &paid0);
    last_period(model, 1.0, t, &x1, &paid1);
    cr_expect_eq(free_paid, 0.0);
    cr_expect_gt(free_x, 0.0);
    expect_close(x0 / free_x, pow(1.0 + t, -SIGMA), 1e-12, "full pass-through: exports");
    expect_close(x1 / free_x, 1.0 / (1.0 + t), 1e-12, "full absorption: exports at producer prices");
    expect_close(paid0, t * x0, 1e-12, "tariff paid on the customs value, alpha 0");
    expect_close(paid1, t * x1, 1e-12, "tariff paid on the customs value, alpha 1");
}

Test(incidence, myopic_run_matches_the_closed_forms_at_zero_and_full_absorption)
{
    expect_run_closed_forms("myopic");
}

Test(incidence, dynamic_run_matches_the_closed_forms_at_zero_and_full_absorption)
{
    expect_run_closed_forms("dynamic");
}
