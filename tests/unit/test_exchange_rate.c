/* test_exchange_rate: the real exchange rate of a small open economy
 * (docs/model.md section 11). Every foreign demand shifter is multiplied
 * by e^sigma; firms choose at last period's rate and within the period
 * e_t solves ln e = -eta ln(X(e) / Xbar).
 *
 * Closed form: with no fixed or sunk cost every firm serves both
 * destinations every period, so only the intensive margin moves and, in
 * exact mode, the economy's export value at rate e after a permanent US
 * tariff t is X(e) = Xbar e^(sigma theta) R^theta with
 * R = w_US (1+t)^(-sigma) + w_CN, w_d = a_d / (a_US + a_CN) the
 * duty-free weights (here B_US = 1, B_CN = 0.5, tau = 1: 2/3 and 1/3),
 * theta = 1 at gamma = 0 (eq. 4). The fixed point is then
 *     ln e = -eta theta ln R / (1 + eta sigma theta)                 (eq. 34)
 * whatever the rate firms chose at, and each destination's export value is
 * e^(sigma theta) times that of the run without the channel. The runs and
 * the closed form differ by rounding of a few pow, exp and log calls, sums
 * over 15 grid points and one Newton step: 1e-10 is ample. */
#include <criterion/criterion.h>

#include <math.h>
#include <string.h>

#include "engine/exchange_rate.h"
#include "fixtures.h"

#define PERIODS 16
#define RISE 4 /* logged period of the tariff rise (2025Q1) */
#define SIGMA 3.8

#define WORLD_HEAD                                                                                                     \
    "run: {model: %s, periods: 16, burn_in: 6, aggregation: %s}\n"                                                     \
    "productivity: {grid: 15}\n"                                                                                       \
    "decision: {discount: 0.95}\n"                                                                                     \
    "capacity: {elasticity: %g}\n"
#define WORLD_TAIL                                                                                                     \
    "sectors:\n"                                                                                                       \
    "  goods: {firms: 4000, persistence: 0.9, volatility: 0.2}\n"                                                      \
    "destinations:\n"                                                                                                  \
    "  US:\n"                                                                                                          \
    "    market: {demand: 1.0, fixed_cost: %g, sunk_cost: %g}\n"                                                       \
    "    regimes: {open: {tariff: 0}}\n"                                                                               \
    "  CN:\n"                                                                                                          \
    "    market: {demand: 0.5, fixed_cost: %g, sunk_cost: %g}\n"                                                       \
    "    regimes: {open: {tariff: 0}}\n"                                                                               \
    "events:\n"                                                                                                        \
    "  - {at: 2025Q1, destination: US, tariff: %g}\n"

static const char *const world = WORLD_HEAD "exchange_rate: {elasticity: %g}\n" WORLD_TAIL;
static const char *const world_without_key = WORLD_HEAD WORLD_TAIL;

typedef struct {
    double value[PERIODS][2]; /* export value to US, CN */
    double rate[PERIODS];
    double serving[PERIODS][2];
} path;

static tm_params *world_params(const char *model, const char *aggregation, double gamma, double eta, double cost,
                               double tariff)
{
    return fixture_params_fmt("exchange_rate", NULL, 0, world, model, aggregation, gamma, eta, cost, cost, cost, cost,
                              tariff);
}

static void simulate(tm_params *p, int threads, path *out)
{
    memset(out, 0, sizeof *out);
    fixture_sim s;
    fixture_sim_open(&s, p, threads);
    while (fixture_sim_next(&s)) {
        if (s.result->period < 0) {
            cr_expect_eq(s.result->exchange_rate, 1.0, "burn-in period %d: e = 1", s.result->period);
            continue;
        }
        int t = s.result->period;
        out->rate[t] = s.result->exchange_rate;
        for (int d = 0; d < 2; d++) {
            out->value[t][d] = s.result->export_value[d];
            out->serving[t][d] = s.result->x_serving[d];
        }
    }
    fixture_sim_close(&s);
}

static void expect_closed_form(const char *model, double gamma)
{
    const double t = 0.25, eta = 0.5;
    const double theta = (1.0 + gamma) / (1.0 + gamma * SIGMA);
    const double R = 2.0 / 3.0 * pow(1.0 + t, -SIGMA) + 1.0 / 3.0;
    const double log_rate = -eta * theta * log(R) / (1.0 + eta * SIGMA * theta);
    path off, on;
    simulate(world_params(model, "exact", gamma, 0.0, 0.0, t), 1, &off);
    simulate(world_params(model, "exact", gamma, eta, 0.0, t), 1, &on);
    for (int period = 0; period < PERIODS; period++) {
        double want = period < RISE ? 0.0 : log_rate;
        cr_expect(fabs(log(on.rate[period]) - want) < 1e-10, "%s, gamma %g, period %d: ln e %.14f, closed form %.14f",
                  model, gamma, period, log(on.rate[period]), want);
        cr_expect_eq(off.rate[period], 1.0, "channel off: e = 1");
        for (int d = 0; d < 2; d++) {
            double ratio = on.value[period][d] / off.value[period][d];
            cr_expect(fabs(log(ratio) - SIGMA * theta * want) < 1e-10,
                      "%s, gamma %g, period %d, destination %d: export ratio %.14f, closed form %.14f", model, gamma,
                      period, d, ratio, exp(SIGMA * theta * want));
        }
    }
    cr_expect(log_rate > 0.0, "a US tariff depreciates the currency");
}

Test(exchange_rate, myopic_rate_follows_the_closed_form)
{
    expect_closed_form("myopic", 0.0);
}

Test(exchange_rate, dynamic_rate_follows_the_closed_form)
{
    expect_closed_form("dynamic", 0.0);
}

Test(exchange_rate, rate_with_capacity_costs_follows_the_closed_form)
{
    /* gamma > 0: a sector's revenue scales with (demand multiplier)^theta. */
    expect_closed_form("myopic", 0.5);
}

Test(exchange_rate, us_tariff_depreciates_and_raises_non_us_exports)
{
    /* With fixed and sunk costs the extensive margin moves too: the
     * depreciation after the US tariff raises CN's export value and the
     * number of firms serving CN above the run without the channel, and
     * takes back part of the fall in the US. */
    for (int m = 0; m < 2; m++) {
        const char *model = m ? "dynamic" : "myopic";
        path off, on;
        simulate(world_params(model, "exact", 0.0, 0.0, 0.3, 0.5), 1, &off);
        simulate(world_params(model, "exact", 0.0, 1.0, 0.3, 0.5), 1, &on);
        for (int period = RISE; period < PERIODS; period++) {
            cr_expect(on.rate[period] > 1.0, "%s, period %d: e %.6f > 1", model, period, on.rate[period]);
            cr_expect(on.value[period][1] > off.value[period][1], "%s, period %d: CN exports rise", model, period);
            cr_expect(on.value[period][0] > off.value[period][0], "%s, period %d: US fall is smaller", model, period);
            cr_expect(on.value[period][0] < on.value[RISE - 1][0], "%s, period %d: US still falls", model, period);
        }
        /* Firms choose at last period's rate, so entry responds from
         * RISE + 1. Higher demand never lowers the number serving; with
         * argmax choices on a 15-point grid the entry cut-off moves by
         * whole grid points, so some periods may show no change, but not
         * all of them. */
        int more = 0;
        for (int period = RISE + 1; period < PERIODS; period++) {
            cr_expect(on.serving[period][1] >= off.serving[period][1], "%s, period %d: no fewer firms serve CN", model,
                      period);
            more += on.serving[period][1] > off.serving[period][1];
        }
        cr_expect(more > 0, "%s: more firms serve CN in some period", model);
    }
}

Test(exchange_rate, zero_elasticity_keeps_the_rate_at_one)
{
    /* eta = 0 written out is the run without the key, value for value. */
    tm_params *p = fixture_params_fmt("exchange_rate", NULL, 0, world_without_key, "dynamic", "firms", 0.0, 0.3, 0.3,
                                      0.3, 0.3, 0.5);
    path none, zero;
    simulate(p, 2, &none);
    simulate(world_params("dynamic", "firms", 0.0, 0.0, 0.3, 0.5), 2, &zero);
    cr_expect_eq(memcmp(&none, &zero, sizeof none), 0, "eta = 0 is the run without the channel");
}

Test(exchange_rate, firm_simulation_does_not_depend_on_the_thread_count)
{
    path one, two;
    simulate(world_params("dynamic", "firms", 0.0, 1.0, 0.3, 0.5), 1, &one);
    simulate(world_params("dynamic", "firms", 0.0, 1.0, 0.3, 0.5), 2, &two);
    cr_expect_eq(memcmp(&one, &two, sizeof one), 0, "1 and 2 threads");
    for (int period = RISE; period < PERIODS; period++)
        cr_expect(one.rate[period] > 1.0, "period %d: e %.6f > 1 after the tariff", period, one.rate[period]);
}

Test(exchange_rate, learning_firms_see_the_depreciation)
{
    /* The learning model chooses at last period's rate like the others:
     * after a large US tariff the rate rises and CN exports exceed those of
     * the same seed without the channel. Firm sampling noise in X is a few
     * tenths of a percent at 4000 firms, far below the fall the 50% duty
     * causes (about 50% of US exports), so the signs are certain. */
    path off, on;
    simulate(world_params("learning", "firms", 0.0, 0.0, 0.3, 0.5), 2, &off);
    simulate(world_params("learning", "firms", 0.0, 1.0, 0.3, 0.5), 2, &on);
    for (int period = RISE; period < PERIODS; period++) {
        cr_expect(on.rate[period] > 1.05, "period %d: e %.6f", period, on.rate[period]);
        cr_expect(on.value[period][1] > off.value[period][1], "period %d: CN exports rise", period);
    }
}

Test(exchange_rate, rate_is_carried_by_a_checkpoint)
{
    /* A run restored from a checkpoint taken after the rise continues
     * exactly as the original: the rate firms choose at and the reference
     * exports are part of the saved state. */
    fixture_expect_resume_continues(world_params("myopic", "firms", 0.0, 1.0, 0.3, 0.5), RISE + 2);
}

Test(exchange_rate, solver_finds_the_root_with_unequal_exponents)
{
    /* Two sectors with different k_s: the returned l satisfies
     * l + eta ln(X(l) / Xbar) = 0 to the documented tolerance, computed
     * here independently; equal exponents give the linear closed form. */
    const double exports[2] = {3.0, 1.0}, exponent[2] = {3.8, 1.9}, eta = 0.7, l_c = 0.02, ref = 5.0;
    double l;
    cr_assert_eq(tm_fx_solve(eta, l_c, 2, exponent, exports, ref, &l), 0);
    double x = exports[0] * exp(exponent[0] * (l - l_c)) + exports[1] * exp(exponent[1] * (l - l_c));
    cr_expect(fabs(l + eta * log(x / ref)) <= 4 * TM_FX_TOLERANCE, "residual %g", l + eta * log(x / ref));
    const double same[2] = {3.8, 3.8};
    cr_assert_eq(tm_fx_solve(eta, l_c, 2, same, exports, ref, &l), 0);
    double want = (eta * 3.8 * l_c - eta * log(4.0 / ref)) / (1.0 + eta * 3.8);
    cr_expect(fabs(l - want) < 1e-14, "linear case: %.17g vs %.17g", l, want);
    const double none[2] = {0.0, 0.0};
    cr_expect_eq(tm_fx_solve(eta, l_c, 2, exponent, none, ref, &l), -1, "no exports: no rate");
}

Test(exchange_rate, economy_without_exports_has_no_rate)
{
    /* A ban that closes the only destination leaves nothing to export:
     * eq. 33 has no solution and the step fails with a message naming the
     * period, instead of a rate of 0 or infinity. */
    tm_params *p = fixture_params_fmt("exchange_rate", NULL, 0, "%s",
                                      "run: {periods: 8, burn_in: 2}\n"
                                      "exchange_rate: {elasticity: 0.5}\n"
                                      "sectors:\n"
                                      "  goods: {firms: 500}\n"
                                      "destinations:\n"
                                      "  US:\n"
                                      "    regimes: {open: {}, ban: {closed: true}}\n"
                                      "    transition: [[1, 0], [0, 1]]\n"
                                      "events:\n"
                                      "  - {at: 2024Q3, destination: US, regime: ban}\n");
    tm_run *run = fixture_run(p, 1);
    tm_error err = {0};
    int rc = 0;
    while (!rc && !tm_run_finished(run))
        rc = tm_run_step(run, &err);
    cr_expect_eq(rc, -1, "the step of the ban fails");
    cr_expect_eq(tm_run_period(run), 2, "in 2024Q3, period %d", tm_run_period(run));
    cr_expect(strstr(err.msg, "no real exchange rate in period 2024Q3") != NULL, "%s", err.msg);
    tm_run_close(run);
    tm_params_free(p);
}
