/* test_economy: CES profit and revenue values against the formulas they
 * implement, the power-cost closed form against a direct numerical
 * optimisation of the firm's problem, and the per-period tables. */
#include <criterion/criterion.h>

#include <math.h>
#include <string.h>

#include "engine/economy.h"

#define SIGMA 3.8

static void expect_close(double got, double want, double rel, const char *what)
{
    double scale = fabs(want) > 1.0 ? fabs(want) : 1.0;
    cr_expect(fabs(got - want) <= rel * scale, "%s: got %.17g, want %.17g", what, got, want);
}

Test(economy, market_weight_is_demand_times_iceberg_and_tariff_powers)
{
    /* a = B tau^(1-sigma) (1+t)^(-sigma) */
    double a = tm_econ_weight(2.0, 1.5, 0.25, SIGMA);
    expect_close(a, 2.0 * pow(1.5, 1.0 - SIGMA) * pow(1.25, -SIGMA), 1e-15, "weight");
    expect_close(tm_econ_weight(0.7, 1.0, 0.0, SIGMA), 0.7, 1e-15, "free trade weight");
}

Test(economy, higher_tariff_lowers_the_weight_with_elasticity_sigma)
{
    double lo = tm_econ_weight(1.0, 1.0, 0.10, SIGMA), hi = tm_econ_weight(1.0, 1.0, 0.25, SIGMA);
    cr_expect_lt(hi, lo);
    expect_close(log(lo / hi), SIGMA * log(1.25 / 1.10), 1e-13, "log weight ratio");
}

Test(economy, independent_markets_profit_is_phi_power_sigma_minus_one_times_weight_sum)
{
    tm_profit_fn fn;
    tm_profit_fn_init(&fn, SIGMA, 0.0);
    for (double z = -1.0; z <= 1.0; z += 0.25) {
        double want = exp((SIGMA - 1.0) * z) * 1.7;
        expect_close(tm_profit(&fn, z, 1.7), want, 1e-14, "profit");
    }
    cr_expect_eq(tm_profit(&fn, 0.3, 0.0), 0.0, "serving nothing earns nothing");
}

Test(economy, independent_markets_revenue_is_sigma_times_profit)
{
    tm_profit_fn fn;
    tm_profit_fn_init(&fn, SIGMA, 0.0);
    expect_close(tm_revenue_total(&fn, 2.5), SIGMA * 2.5, 1e-14, "revenue");
}

Test(economy, crowding_divides_demand_and_spillover_cuts_sunk_cost)
{
    expect_close(tm_econ_crowded_demand(2.0, 0.5, 0.4), 2.0 / 1.2, 1e-15, "crowded demand");
    cr_expect_eq(tm_econ_crowded_demand(2.0, 0.0, 0.9), 2.0);
    expect_close(tm_econ_spillover_sunk(3.0, 0.5, 0.4), 3.0 * 0.8, 1e-15, "spillover sunk");
    cr_expect_eq(tm_econ_spillover_sunk(3.0, 0.0, 0.9), 3.0);
}

/* Profits at capacity elasticity gamma, a sector with two destinations and
 * the conditions it faces. */
static void two_markets(tm_profit_fn *fn, double gamma, tm_sector *sec, tm_conditions *cond)
{
    tm_profit_fn_init(fn, SIGMA, gamma);
    memset(sec, 0, sizeof *sec);
    memset(cond, 0, sizeof *cond);
    sec->market[0] = (tm_market){.demand = 1.0, .iceberg = 1.1, .fixed_cost = 0.4, .sunk_cost = 1.0};
    sec->market[1] = (tm_market){.demand = 0.5, .iceberg = 1.3, .fixed_cost = 0.2, .sunk_cost = 1.0};
    cond->tariff[0] = 0.25;
    cond->tariff[1] = 0.05;
    cond->demand[0] = 1.2; /* the tables use the period's effective demand */
    cond->demand[1] = 0.6;
}

Test(economy, tables_with_independent_markets_match_hand_formulas)
{
    tm_profit_fn fn;
    tm_sector sec;
    tm_conditions cond;
    two_markets(&fn, 0.0, &sec, &cond);
    enum { NZ = 5, NS = 4, ND = 2 };
    const double z[NZ] = {-0.8, -0.3, 0.0, 0.4, 1.1};
    double flow[NZ * NS], revenue[NZ * NS * ND];
    tm_econ_tables(&fn, &sec, ND, &cond, z, NZ, flow, revenue);
    double a[ND], f[ND];
    for (int d = 0; d < ND; d++) {
        a[d] = cond.demand[d] * pow(sec.market[d].iceberg, 1.0 - SIGMA) * pow(1.0 + cond.tariff[d], -SIGMA);
        f[d] = sec.market[d].fixed_cost;
    }
    for (int iz = 0; iz < NZ; iz++) {
        double phi = exp((SIGMA - 1.0) * z[iz]);
        for (int S = 0; S < NS; S++) {
            double want = 0.0;
            for (int d = 0; d < ND; d++) {
                int in = S >> d & 1;
                if (in)
                    want += phi * a[d] - f[d];
                expect_close(revenue[(iz * NS + S) * ND + d], in ? SIGMA * phi * a[d] : 0.0, 1e-13, "revenue");
            }
            expect_close(flow[iz * NS + S], want, 1e-13, "flow");
        }
        cr_expect_eq(flow[iz * NS + 0], 0.0, "the empty set earns exactly 0");
    }
}

Test(economy, closed_market_makes_every_set_containing_it_infeasible)
{
    tm_profit_fn fn;
    tm_sector sec;
    tm_conditions cond;
    two_markets(&fn, 0.0, &sec, &cond);
    cond.closed[1] = 1;
    const double z[2] = {-0.5, 0.5};
    double flow[2 * 4], revenue[2 * 4 * 2];
    tm_econ_tables(&fn, &sec, 2, &cond, z, 2, flow, revenue);
    for (int iz = 0; iz < 2; iz++) {
        cr_expect(isfinite(flow[iz * 4 + 0]));
        cr_expect(isfinite(flow[iz * 4 + 1]), "serving only the open market stays feasible");
        cr_expect(isinf(flow[iz * 4 + 2]) && flow[iz * 4 + 2] < 0, "closed market alone: -inf");
        cr_expect(isinf(flow[iz * 4 + 3]) && flow[iz * 4 + 3] < 0, "both markets: -inf");
    }
}

/* The firm's problem behind the closed form, solved numerically: inverse
 * CES demand p_d = (q_d / b_d)^(-1/sigma) in each market, cost
 * C(Q) = Q^(1+gamma) / ((1+gamma) phi) of total output Q. Equal marginal
 * revenue across markets puts q_d = Q b_d / sum b, so one dimension
 * (log Q, golden-section search) remains. Returns profit; revenue too. */
static double solve_firm(double sigma, double gamma, double z, const double *b, int n, double *revenue)
{
    double B = 0.0;
    for (int d = 0; d < n; d++)
        B += b[d];
    double phi = exp(z);
    double lo = -40.0, hi = 40.0;
    const double g = (sqrt(5.0) - 1.0) / 2.0;
#define FIRM_PROFIT(lq, rev)                                                                                           \
    do {                                                                                                               \
        double Q = exp(lq), r = 0.0;                                                                                   \
        for (int d = 0; d < n; d++) {                                                                                  \
            double q = Q * b[d] / B;                                                                                   \
            r += q * pow(q / b[d], -1.0 / sigma);                                                                      \
        }                                                                                                              \
        rev = r;                                                                                                       \
        value = r - pow(Q, 1.0 + gamma) / ((1.0 + gamma) * phi);                                                       \
    } while (0)
    double value, rev;
    for (int it = 0; it < 300; it++) {
        double m1 = hi - g * (hi - lo), m2 = lo + g * (hi - lo), v1, v2;
        FIRM_PROFIT(m1, rev);
        v1 = value;
        FIRM_PROFIT(m2, rev);
        v2 = value;
        if (v1 < v2)
            lo = m1;
        else
            hi = m2;
    }
    FIRM_PROFIT(0.5 * (lo + hi), rev);
#undef FIRM_PROFIT
    *revenue = rev;
    return value;
}

Test(economy, power_cost_closed_form_matches_numerical_optimum)
{
    const double gammas[] = {0.0, 0.2, 1.0, 3.0};
    const double zs[] = {-0.6, 0.0, 0.7};
    for (size_t ig = 0; ig < sizeof gammas / sizeof gammas[0]; ig++) {
        tm_profit_fn fn;
        tm_profit_fn_init(&fn, SIGMA, gammas[ig]);
        for (size_t iz = 0; iz < sizeof zs / sizeof zs[0]; iz++) {
            /* Market weights a_d are quantity shifters b_d in units of
             * k = (mu - 1) mu^(-sigma); the closed form takes their sum. */
            const double a[2] = {0.9, 0.35};
            double b[2] = {a[0] / fn.weight_unit, a[1] / fn.weight_unit};
            double revenue;
            double want = solve_firm(SIGMA, gammas[ig], zs[iz], b, 2, &revenue);
            double got = tm_profit(&fn, zs[iz], a[0] + a[1]);
            expect_close(got / want, 1.0, 1e-9, "closed-form profit / numerical optimum");
            expect_close(tm_revenue_total(&fn, got) / revenue, 1.0, 1e-6, "revenue / numerical revenue");
        }
    }
}

Test(economy, capacity_makes_markets_substitutes)
{
    tm_profit_fn fn;
    tm_profit_fn_init(&fn, SIGMA, 0.5);
    const double a_us = 1.0, a_cn = 0.4;
    for (double z = -0.5; z <= 0.5; z += 0.5) {
        double us = tm_profit(&fn, z, a_us), cn = tm_profit(&fn, z, a_cn), both = tm_profit(&fn, z, a_us + a_cn);
        cr_expect_lt(both, us + cn, "z=%g: serving both (%g) must earn less than the two alone (%g + %g)", z, both, us,
                     cn);
        cr_expect_gt(both, us, "adding a market still raises operating profit");
    }
}

Test(economy, independent_markets_are_additive)
{
    tm_profit_fn fn;
    tm_profit_fn_init(&fn, SIGMA, 0.0);
    double us = tm_profit(&fn, 0.2, 1.0), cn = tm_profit(&fn, 0.2, 0.4), both = tm_profit(&fn, 0.2, 1.4);
    expect_close(both, us + cn, 1e-14, "additivity");
}

Test(economy, capacity_profit_scales_with_weight_power_theta_and_productivity_power)
{
    const double gamma = 0.8;
    tm_profit_fn fn;
    tm_profit_fn_init(&fn, SIGMA, gamma);
    double theta = (1.0 + gamma) / (1.0 + gamma * SIGMA);
    expect_close(tm_profit(&fn, 0.1, 2.0) / tm_profit(&fn, 0.1, 1.0), pow(2.0, theta), 1e-13, "weight elasticity");
    expect_close(tm_profit(&fn, 0.4, 1.0) / tm_profit(&fn, 0.1, 1.0), exp((SIGMA * theta - 1.0) * 0.3), 1e-13,
                 "productivity elasticity");
}

Test(economy, profit_is_continuous_as_capacity_elasticity_goes_to_zero)
{
    tm_profit_fn f0;
    tm_profit_fn_init(&f0, SIGMA, 0.0);
    double prev_gap = INFINITY;
    for (double gamma = 1e-2; gamma >= 1e-8; gamma /= 10.0) {
        tm_profit_fn fg;
        tm_profit_fn_init(&fg, SIGMA, gamma);
        double p0 = tm_profit(&f0, 0.3, 1.4), pg = tm_profit(&fg, 0.3, 1.4);
        double gap = fabs(pg / p0 - 1.0);
        /* The profit is smooth in gamma: the gap shrinks in proportion. */
        cr_expect_lt(gap, 20.0 * gamma, "gamma %g: relative gap %g", gamma, gap);
        cr_expect_lt(gap, prev_gap);
        prev_gap = gap;
        double r = tm_revenue_total(&fg, 1.0);
        cr_expect_lt(fabs(r - SIGMA), 20.0 * gamma, "revenue ratio %g at gamma %g", r, gamma);
    }
}

Test(economy, tables_with_capacity_split_revenue_in_proportion_to_weights)
{
    tm_profit_fn fn;
    tm_sector sec;
    tm_conditions cond;
    two_markets(&fn, 0.5, &sec, &cond);
    const double z[3] = {-0.4, 0.0, 0.6};
    double flow[3 * 4], revenue[3 * 4 * 2];
    tm_econ_tables(&fn, &sec, 2, &cond, z, 3, flow, revenue);
    double a0 = tm_econ_weight(cond.demand[0], sec.market[0].iceberg, cond.tariff[0], SIGMA);
    double a1 = tm_econ_weight(cond.demand[1], sec.market[1].iceberg, cond.tariff[1], SIGMA);
    for (int iz = 0; iz < 3; iz++) {
        const double *r = revenue + (iz * 4 + 3) * 2;
        double both = tm_profit(&fn, z[iz], a0 + a1);
        expect_close(r[0] / r[1], a0 / a1, 1e-13, "revenue split");
        expect_close(r[0] + r[1], tm_revenue_total(&fn, both), 1e-13, "total revenue");
        expect_close(flow[iz * 4 + 3], both - 0.4 - 0.2, 1e-13, "flow of both");
    }
}

/* The tables compute the factor of z and the factor of the weight sum of
 * a profit once each (src/engine/economy.c); every cell must still be the
 * value tm_profit (or tm_profit_absorbed) gives for that cell, bit for
 * bit, with and without capacity costs and tariff absorption. */
Test(economy, tables_equal_the_profit_function_cell_by_cell)
{
    const double gammas[2] = {0.0, 0.5}, alphas[2] = {0.0, 0.6};
    const double z[4] = {-0.9, -0.2, 0.3, 1.2};
    for (int g = 0; g < 2; g++)
        for (int al = 0; al < 2; al++) {
            tm_profit_fn fn;
            tm_sector sec;
            tm_conditions cond;
            two_markets(&fn, gammas[g], &sec, &cond);
            double w[2], price[2];
            for (int d = 0; d < 2; d++) {
                sec.market[d].tariff_absorption = alphas[al];
                w[d] = alphas[al] > 0.0 ? tm_econ_absorbed_weight(cond.demand[d], sec.market[d].iceberg, cond.tariff[d],
                                                                  SIGMA, alphas[al])
                                        : tm_econ_weight(cond.demand[d], sec.market[d].iceberg, cond.tariff[d], SIGMA);
                price[d] = alphas[al] > 0.0 ? pow(1.0 + cond.tariff[d], -alphas[al]) : 1.0;
            }
            double flow[4 * 4], revenue[4 * 4 * 2];
            tm_econ_tables(&fn, &sec, 2, &cond, z, 4, flow, revenue);
            for (int iz = 0; iz < 4; iz++)
                for (int S = 1; S < 4; S++) {
                    double a = 0.0, a_price = 0.0, fixed = 0.0, total;
                    for (int d = 0; d < 2; d++)
                        if (S >> d & 1) {
                            a += w[d];
                            a_price += w[d] * price[d];
                            fixed += sec.market[d].fixed_cost;
                        }
                    double profit = alphas[al] > 0.0 ? tm_profit_absorbed(&fn, z[iz], a, a_price, &total)
                                                     : tm_profit(&fn, z[iz], a);
                    cr_assert_eq(flow[iz * 4 + S], profit - fixed, "gamma %g alpha %g z %g set %d: %.17g vs %.17g",
                                 gammas[g], alphas[al], z[iz], S, flow[iz * 4 + S], profit - fixed);
                }
        }
}
