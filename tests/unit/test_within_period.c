/* test_within_period: events dated within their period (docs/model.md
 * section 10): a calendar date is the point x of its period, the period's
 * revenue and tariff paid are the time-weighted mix of the conditions
 * before and after, and x = 0 is the event at the start. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fixtures.h"
#include "params/params.h"

/* One sector, one destination whose 50% tariff regime an event forces.
 * Slots: the model line, the event. With no fixed or sunk cost every firm
 * serves in every period whatever the tariff. */
static const char *const world =
    "run: {periods: 6, burn_in: 10, seed: 17, %s}\n"
    "sectors:\n"
    "  steel: {firms: 3000, persistence: 0.9, volatility: 0.2}\n"
    "destinations:\n"
    "  US:\n"
    "    market: {fixed_cost: 0, sunk_cost: 0}\n"
    "    regimes: {open: {}, war: {tariff: 0.5}}\n"
    "    transition: [[1, 0], [0, 1]]\n"
    "events:\n"
    "  - {destination: US, regime: war, %s}\n";

typedef struct {
    double value[6], paid[6];
} flows;

static void simulate(const char *model, const char *event, flows *out)
{
    fixture_sim sim;
    fixture_sim_open(&sim, fixture_params_fmt("within-test", NULL, 0, world, model, event), 2);
    while (fixture_sim_next(&sim))
        if (sim.result->period >= 0) {
            out->value[sim.result->period] = sim.result->export_value[0];
            out->paid[sim.result->period] = sim.result->tariff_paid[0];
        }
    fixture_sim_close(&sim);
}

/* War from 16 August 2024, x = 46/92 = 0.5 of the third quarter (period
 * 2), against war from the start of period 2 (after) and from period 3
 * (before): the same firms serve in all three runs (one seed, every firm
 * serves), so revenue in period 2 is x R(before) + (1 - x) R(after) cell by
 * cell and the tariff paid (1 - x) 0.5 R(after); periods 0-1 are those of
 * `before` and 3-5 those of `after`, bit for bit. Tolerance: the rounding
 * of sums of 3000 positive terms, relative 3000 x 2^-52 < 1e-12. */
static void expect_time_weighted_mix(const char *model)
{
    flows before, after, mid;
    simulate(model, "at: 2024Q4", &before);
    simulate(model, "at: 2024Q3", &after);
    simulate(model, "at: 2024Q3, date: 2024-08-16", &mid);
    const double x = 0.5;
    double want = x * before.value[2] + (1.0 - x) * after.value[2];
    cr_expect_leq(fabs(mid.value[2] - want), 1e-12 * want, "%s: revenue %.17g, expected %.17g", model, mid.value[2],
                  want);
    double paid = (1.0 - x) * after.paid[2];
    cr_expect_leq(fabs(mid.paid[2] - paid), 1e-12 * paid, "%s: tariff paid %.17g, expected %.17g", model, mid.paid[2],
                  paid);
    cr_expect_lt(after.value[2], mid.value[2], "%s", model);
    for (int t = 0; t < 6; t++) {
        if (t < 2)
            cr_expect_eq(mid.value[t], before.value[t], "%s: period %d", model, t);
        if (t > 2) {
            cr_expect_eq(mid.value[t], after.value[t], "%s: period %d", model, t);
            cr_expect_eq(mid.paid[t], after.paid[t], "%s: period %d", model, t);
        }
    }
}

Test(within_period, flows_of_the_period_are_the_time_weighted_mix_myopic)
{
    expect_time_weighted_mix("model: myopic");
}

Test(within_period, flows_of_the_period_are_the_time_weighted_mix_dynamic)
{
    expect_time_weighted_mix("model: dynamic");
}

Test(within_period, flows_of_the_period_are_the_time_weighted_mix_exact)
{
    expect_time_weighted_mix("model: dynamic, aggregation: exact");
}

/* Point x of the period from a date: days from the period's first day over
 * the days of the period, calendar days with leap years. */
Test(within_period, date_is_the_point_of_its_period)
{
    static const struct {
        const char *run, *at, *date;
        double x;
    } cases[] = {
        {"start: 2025Q1", "2025Q1", "2025-03-12", 70.0 / 90.0},
        {"start: 2024Q1", "2024Q1", "2024-03-12", 71.0 / 91.0},
        {"start: 2025M01, periods_per_year: 12", "2025M03", "2025-03-12", 11.0 / 31.0},
        {"start: 1979, periods_per_year: 1", "1980", "1980-07-01", 182.0 / 366.0},
        {"start: 2025H1, periods_per_year: 2", "2025H2", "2025-07-01", 0.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tm_params *p = fixture_params_fmt("within-test", NULL, 0,
                                          "run: {%s}\nsectors: {steel: {}}\n"
                                          "destinations: {US: {regimes: {open: {}}}}\n"
                                          "events: [{at: %s, destination: US, tariff: 0.1, date: %s}]\n",
                                          cases[i].run, cases[i].at, cases[i].date);
        cr_expect_eq(p->event[0].within, cases[i].x, "%s: %.17g, expected %.17g", cases[i].date, p->event[0].within,
                     cases[i].x);
        tm_params_free(p);
    }
}

/* fraction 0 is the event at the start of its period: the same run. */
Test(within_period, fraction_zero_is_the_event_at_the_start)
{
    flows a, b;
    simulate("model: dynamic", "at: 2024Q3", &a);
    simulate("model: dynamic", "at: 2024Q3, fraction: 0", &b);
    cr_expect_eq(memcmp(&a, &b, sizeof a), 0);
}
