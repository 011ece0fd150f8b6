/* Preferential (CUSMA) shares: duties marked `exempts_preferential` spare
 * each sector's `preferential_share` p of its sales, so firms pay the
 * uniform rate t with (1 + t)^(-e) = p + (1 - p) (1 + t_stat)^(-e), e the
 * long-run elasticity (docs/model.md eq. 32); off, or with p = 0, nothing
 * changes, bit for bit. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/env.h"
#include "engine/run.h"
#include "fixtures.h"
#include "params/params.h"

/* Two sectors, two destinations; the US has an open regime and a
 * `tariffs` regime. Slots: the tariffs regime, the sectors' US markets
 * (steel, canola), the events. 2024Q1 is period 0. */
static const char *const world =
    "run: {model: dynamic, periods: 8, burn_in: 20, seed: 11}\n"
    "decision: {discount: 0.95}\n"
    "sectors:\n"
    "  steel: {firms: 3000, persistence: 0.9, volatility: 0.2,\n"
    "          markets: {US: %s}}\n"
    "  canola: {firms: 3000, persistence: 0.9, volatility: 0.2,\n"
    "           markets: {US: %s}}\n"
    "destinations:\n"
    "  US:\n"
    "    market: {demand: 1, fixed_cost: 0.3, sunk_cost: 0.5}\n"
    "    regimes:\n"
    "      open: {}\n"
    "      tariffs: %s\n"
    "    transition: [[0.9, 0.1], [0.2, 0.8]]\n"
    "  CN:\n"
    "    market: {demand: 0.8, fixed_cost: 0.3, sunk_cost: 0.5}\n"
    "    regimes: {normal: {}}\n"
    "%s";

static tm_params *world_params(const char *steel, const char *canola, const char *tariffs, const char *events)
{
    return fixture_params_fmt("preference-test", NULL, 0, world, steel, canola, tariffs, events);
}

/* Every logged period's export value, firms serving, entrants, the rate in
 * force and the statutory rate, of every sector and destination. */
typedef struct {
    double value[8][4], serving[8][4], entrants[8][4], tariff[8][4], statutory[8][4];
} run_path;

static void simulate(tm_params *p, run_path *out)
{
    memset(out, 0, sizeof *out);
    fixture_sim sim;
    fixture_sim_open(&sim, p, 2);
    while (fixture_sim_next(&sim)) {
        const tm_period_result *r = sim.result;
        if (r->period < 0)
            continue;
        for (int k = 0; k < 4; k++) {
            out->value[r->period][k] = r->export_value[k];
            out->serving[r->period][k] = (double)r->serving[k];
            out->entrants[r->period][k] = (double)r->entrants[k];
            out->tariff[r->period][k] = r->tariff[k];
            out->statutory[r->period][k] = r->statutory_tariff[k];
        }
    }
    fixture_sim_close(&sim);
}

static void expect_same_run(const run_path *a, const run_path *b, const char *what)
{
    cr_expect_eq(memcmp(a, b, sizeof *a), 0, "%s: the runs differ", what);
}

/* A US duty from 2025Q1 (period 4), 35% statutory. */
static const char *const duty_event =
    "events:\n"
    "  - {at: 2025Q1, destination: US, regime: tariffs}\n"
    "  - {at: 2025Q1, destination: US, tariff: 0.35%s}\n";

static char events_buf[512];
static const char *duty(const char *extra)
{
    snprintf(events_buf, sizeof events_buf, duty_event, extra);
    return events_buf;
}

/* Off: a preferential share alone (no duty marks itself exempting), or the
 * mark with shares of 0, gives the run without either, bit for bit. */
Test(preferential, shares_without_exempting_duties_change_nothing)
{
    run_path plain, shares, marked;
    simulate(world_params("{}", "{}", "{tariff: 0.25}", duty("")), &plain);
    simulate(world_params("{preferential_share: 0.9}", "{preferential_share: 0.4}", "{tariff: 0.25}", duty("")),
             &shares);
    simulate(
        world_params("{}", "{}", "{tariff: 0.25, exempts_preferential: true}", duty(", exempts_preferential: true")),
        &marked);
    expect_same_run(&plain, &shares, "a share alone");
    expect_same_run(&plain, &marked, "the mark with shares of 0");
    cr_expect_gt(plain.value[3][0] - plain.value[6][0], 0.0, "the duty lowers steel's US sales");
}

/* The uniform rate of eq. 32 by another route (pow, not log1p/expm1). */
static double same_weight_rate(double p, double statutory, double e)
{
    return pow(p + (1.0 - p) * pow(1.0 + statutory, -e), -1.0 / e) - 1.0;
}

/* Closed form: an exempting event of rate t_stat on a sector with share p
 * sets the rate firms pay to the uniform rate of eq. 32 and the statutory
 * rate to t_stat, in every period from its date; the run is the one with
 * the effective rate written out and the statutory rate beside it, bit
 * for bit. */
Test(preferential, exempting_event_charges_the_same_weight_rate)
{
    run_path marked, written;
    tm_params *p = world_params("{preferential_share: 0.9}", "{preferential_share: 0.4}", "{}",
                                duty(", exempts_preferential: true"));
    /* No demand section: the long-run elasticity is sigma. */
    const double e = p->elasticity;
    simulate(p, &marked);
    double steel = marked.tariff[4][0], canola = marked.tariff[4][2];
    cr_expect_leq(fabs(steel - same_weight_rate(0.9, 0.35, e)), 1e-15, "steel: %.17g", steel);
    cr_expect_leq(fabs(canola - same_weight_rate(0.4, 0.35, e)), 1e-15, "canola: %.17g", canola);
    /* The sales-weighted mean (1 - p) t_stat overstates the duty: demand
     * for the goods that pay it falls most. */
    cr_expect_lt(steel, (1.0 - 0.9) * 0.35);
    cr_expect_lt(canola, (1.0 - 0.4) * 0.35);
    cr_expect_gt(steel, 0.0);
    char events[512];
    snprintf(events, sizeof events,
             "events:\n"
             "  - {at: 2025Q1, destination: US, regime: tariffs}\n"
             "  - {at: 2025Q1, destination: US, sector: steel, tariff: %.17g, statutory_tariff: 0.35}\n"
             "  - {at: 2025Q1, destination: US, sector: canola, tariff: %.17g, statutory_tariff: 0.35}\n",
             steel, canola);
    simulate(world_params("{preferential_share: 0.9}", "{preferential_share: 0.4}", "{}", events), &written);
    for (int t = 4; t < 8; t++) {
        /* Result cells are sector-major: [s * 2 + d], US is d = 0. */
        cr_expect_eq(marked.tariff[t][0], steel, "steel's rate at %d: %.17g", t, marked.tariff[t][0]);
        cr_expect_eq(marked.tariff[t][2], canola, "canola's rate at %d", t);
        cr_expect_eq(marked.statutory[t][0], 0.35, "steel's statutory rate at %d", t);
        cr_expect_eq(marked.statutory[t][2], 0.35, "canola's statutory rate at %d", t);
        cr_expect_eq(marked.tariff[t][1], 0.0, "China untouched at %d", t);
    }
    expect_same_run(&marked, &written, "the effective rates written out");
}

/* Regimes: the written rates (tariff and sector_tariffs) are statutory and
 * firms pay the uniform rate of eq. 32; the canonical text keeps the mark and the
 * statutory rates and reads back to the same parameters, not applying
 * eq. 32 twice. */
Test(preferential, exempting_regime_resolves_to_effective_and_statutory_rates)
{
    tm_params *p = world_params("{preferential_share: 0.9}", "{preferential_share: 0.4}",
                                "{tariff: 0.25, sector_tariffs: {canola: 0.1}, exempts_preferential: true}", "");
    const tm_regime *reg = &p->dest[0].regime[1];
    cr_expect_leq(fabs(reg->sector_tariff[0] - same_weight_rate(0.9, 0.25, p->elasticity)), 1e-15);
    cr_expect_leq(fabs(reg->sector_tariff[1] - same_weight_rate(0.4, 0.1, p->elasticity)), 1e-15);
    cr_expect_eq(reg->sector_tariff[0], tm_params_preferential_rate(p, 0.9, 0.25), "the event's rule");
    cr_expect_eq(reg->sector_statutory[0], 0.25);
    cr_expect_eq(reg->sector_statutory[1], 0.1);
    cr_expect_eq(p->dest[1].regime[0].sector_tariff[0], 0.0, "China untouched");
    cr_expect(tm_params_has_statutory(p));
    tm_params *q = fixture_params("canonical", p->canonical, NULL, 0);
    cr_expect_str_eq(q->canonical, p->canonical);
    cr_expect_str_eq(q->sha256, p->sha256);
    cr_expect_eq(q->dest[0].regime[1].sector_tariff[0], reg->sector_tariff[0], "not applied twice");
    tm_params_free(q);
    tm_params_free(p);
}

/* With partial adjustment the long-run elasticity e_L replaces sigma: a
 * 25% duty sparing 90% of sales at e_L = 2.1 is the 1.83% of the
 * baseline's `tariffs` regime (docs/calibration.md, "Political risk by
 * sector"). */
Test(preferential, long_run_elasticity_sets_the_rate)
{
    const char *sets[] = {"demand.long_run_elasticity=2.1"};
    tm_params *p = fixture_params_fmt("preference-test", sets, 1, world, "{preferential_share: 0.9}", "{}",
                                      "{tariff: 0.25, exempts_preferential: true}", "");
    double t = p->dest[0].regime[1].sector_tariff[0];
    cr_expect_leq(fabs(t - same_weight_rate(0.9, 0.25, 2.1)), 1e-15, "%.17g", t);
    cr_expect_leq(fabs(t - 0.0183), 0.5e-4, "the baseline's 1.83%%: %.17g", t);
    cr_expect_eq(tm_params_preferential_rate(p, 0.0, 0.25), 0.25, "p = 0 is the statutory rate");
    cr_expect_eq(tm_params_preferential_rate(p, 1.0, 0.25), 0.0, "p = 1 pays nothing");
    tm_params_free(p);
}

/* Bad input: each refused with the key named, exit status 2. */
static void expect_refused(const char *steel, const char *tariffs, const char *events, const char *key)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    fprintf(f, world, steel, "{}", tariffs, events);
    fclose(f);
    tm_params *p = NULL;
    tm_error err = {0};
    int rc = tm_params_load_text("bad", text, NULL, 0, &p, &err);
    cr_expect_neq(rc, 0, "accepted: %s", key);
    cr_expect_eq(err.status, TM_ERR_INPUT, "%s: status", key);
    cr_expect(strstr(err.msg, key) != NULL, "%s not named in: %s", key, err.msg);
    tm_params_free(p);
    free(text);
}

Test(preferential, bad_input_is_refused_naming_the_key)
{
    expect_refused("{preferential_share: 1.5}", "{}", "", "preferential_share");
    expect_refused("{preferential_share: -0.1}", "{}", "", "preferential_share");
    expect_refused("{}", "{tariff: 0.25, exempts_preferential: true, statutory_tariffs: {steel: 0.3}}", "",
                   "statutory_tariffs");
    expect_refused("{}", "{}",
                   "events:\n  - {at: 2025Q1, destination: US, tariff: 0.3, statutory_tariff: 0.4, "
                   "exempts_preferential: true}\n",
                   "exempts_preferential");
    expect_refused("{}", "{}",
                   "events:\n  - {at: 2025Q1, destination: US, sunk_cost_scale: 0.5, exempts_preferential: true}\n",
                   "exempts_preferential");
    expect_refused("{}", "{exempts_preferential: maybe}", "", "exempts_preferential");
}
