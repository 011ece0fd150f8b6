/* test_adjustment: partial adjustment of demand to tariffs (docs/model.md
 * eq. 2b). A permanent tariff rise from 0 to t at period u; the export
 * elasticity at horizon h is
 *     e(h) = -[ln X_{u+h}(t) - ln X_{u+h}(0)] / ln(1 + t),
 * X the export value at producer prices. With no fixed or sunk cost every
 * firm serves every period, so in exact mode only the intensive margin moves
 * and eq. 2b gives
 *     e(h) = e_0 + (e_L - e_0) (1 - (1 - lambda)^(h+1)).
 * The runs and the closed form differ only by rounding (a few pow, exp and
 * log1p calls and a sum over 15 grid points): 1e-9 is ample. */
#include <criterion/criterion.h>

#include <math.h>
#include <string.h>

#include "fixtures.h"

#define PERIODS 40
#define RISE 4 /* logged period of the tariff rise (2025Q1) */

static const char *const world =
    "run: {model: %s, periods: 40, burn_in: 6, aggregation: %s}\n"
    "productivity: {grid: 15}\n"
    "decision: {discount: 0.95}\n"
    "demand: {impact_elasticity: 0.3, long_run_elasticity: 2.1, adjustment: %g}\n"
    "sectors:\n"
    "  goods: {firms: 4000, persistence: 0.9, volatility: 0.2}\n"
    "destinations:\n"
    "  US:\n"
    "    market: {demand: 1.0, fixed_cost: %g, sunk_cost: %g}\n"
    "    regimes: {open: {tariff: 0}}\n"
    "  CN:\n"
    "    market: {demand: 0.5, fixed_cost: %g, sunk_cost: %g}\n"
    "    regimes: {open: {tariff: 0}}\n"
    "events:\n"
    "  - {at: 2025Q1, destination: US, tariff: %g}\n";

/* Export value to each destination in every logged period. */
static void exports(const char *model, const char *aggregation, double lambda, double cost, double tariff, int threads,
                    double out[PERIODS][2])
{
    tm_params *p = fixture_params_fmt("adjustment", NULL, 0, world, model, aggregation, lambda, cost, cost, cost, cost,
                                      tariff);
    fixture_sim s;
    fixture_sim_open(&s, p, threads);
    while (fixture_sim_next(&s))
        if (s.result->period >= 0)
            for (int d = 0; d < 2; d++)
                out[s.result->period][d] = s.result->export_value[d];
    fixture_sim_close(&s);
}

static void expect_elasticity_by_horizon(const char *model, double lambda)
{
    const double t = 0.1, e0 = 0.3, eL = 2.1;
    double base[PERIODS][2], hike[PERIODS][2];
    exports(model, "exact", lambda, 0.0, 0.0, 1, base);
    exports(model, "exact", lambda, 0.0, t, 1, hike);
    for (int period = 0; period < PERIODS; period++) {
        double e = -(log(hike[period][0]) - log(base[period][0])) / log1p(t);
        int h = period - RISE;
        double want = h < 0 ? 0.0 : e0 + (eL - e0) * (1.0 - pow(1.0 - lambda, h + 1));
        cr_expect(fabs(e - want) < 1e-9, "%s, lambda %g, horizon %d: elasticity %.12f, closed form %.12f", model,
                  lambda, h, e, want);
        /* CN's revenue is the total times its weight share (eq. 3), whose
         * rounding moves with the US weight: equal to rounding. */
        cr_expect(fabs(hike[period][1] / base[period][1] - 1.0) < 1e-12, "period %d: CN untouched", period);
    }
}

Test(adjustment, myopic_elasticity_by_horizon_follows_the_closed_form)
{
    expect_elasticity_by_horizon("myopic", 0.075);
}

Test(adjustment, dynamic_elasticity_by_horizon_follows_the_closed_form)
{
    expect_elasticity_by_horizon("dynamic", 0.075);
}

Test(adjustment, full_adjustment_gives_the_long_run_elasticity_at_once)
{
    expect_elasticity_by_horizon("myopic", 1.0);
}

Test(adjustment, firm_simulation_does_not_depend_on_the_thread_count)
{
    double one[PERIODS][2], two[PERIODS][2];
    exports("dynamic", "firms", 0.2, 0.3, 0.25, 1, one);
    exports("dynamic", "firms", 0.2, 0.3, 0.25, 2, two);
    cr_expect_eq(memcmp(one, two, sizeof one), 0, "1 and 2 threads");
}

Test(adjustment, stock_is_carried_by_a_checkpoint)
{
    /* A run restored from a checkpoint taken after the rise continues
     * exactly as the original: the stock is part of the saved state. */
    fixture_expect_resume_continues(
        fixture_params_fmt("adjustment", NULL, 0, world, "myopic", "firms", 0.2, 0.3, 0.3, 0.3, 0.3, 0.25), RISE + 2);
}
