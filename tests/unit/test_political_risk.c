/* test_political_risk: regimes that close a destination to named sectors
 * only, statutory tariffs recorded beside the effective ones
 * (docs/model.md section 10). */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/env.h"
#include "engine/run.h"
#include "fixtures.h"
#include "models/model.h"
#include "params/params.h"

/* The regime is held normal from the start (so that canola serves China
 * before the ban whatever the chain draws) and forced to the ban at
 * period 4, or held normal throughout. */
static const char *const ban_at_4 =
    "events:\n"
    "  - {at: 2024Q1, destination: CN, regime: normal}\n"
    "  - {at: 2025Q1, destination: CN, regime: ban}\n";
static const char *const no_ban = "events:\n  - {at: 2024Q1, destination: CN, regime: normal}\n";

static tm_params *world_params(const char *model, const char *ban, const char *events)
{
    return fixture_params_fmt("risk-test", NULL, 0, fixture_ban_world, model, ban, "[[0.95, 0.05], [0.2, 0.8]]",
                              events);
}

/* Every logged period's firms serving and entrants of every sector and
 * destination. */
typedef struct {
    double serving[10][2][2], entrants[10][2][2];
    int regime[10];
} sector_path;

static void simulate(tm_params *p, sector_path *out)
{
    memset(out, 0, sizeof *out);
    fixture_sim sim;
    fixture_sim_open(&sim, p, 2);
    while (fixture_sim_next(&sim)) {
        const tm_period_result *r = sim.result;
        if (r->period < 0)
            continue;
        for (int s = 0; s < 2; s++)
            for (int d = 0; d < 2; d++) {
                /* Expected numbers of firms in exact mode, counts otherwise. */
                out->serving[r->period][s][d] = r->exact ? r->x_serving[s * 2 + d] : (double)r->serving[s * 2 + d];
                out->entrants[r->period][s][d] = r->exact ? r->x_entrants[s * 2 + d] : (double)r->entrants[s * 2 + d];
            }
        out->regime[r->period] = r->regime[1];
    }
    fixture_sim_close(&sim);
}

/* With canola banned from China from period 4: no canola firm serves China
 * from then on, and since nothing else changes for steel (zero tariff in
 * both Chinese regimes) nor for canola in the US (markets are independent
 * without capacity costs), those paths are the same, bit for bit, as
 * without the ban. */
static void expect_ban_hits_canola_in_china_only(const char *model)
{
    sector_path with, without;
    simulate(world_params(model, "{closed_sectors: [canola]}", ban_at_4), &with);
    simulate(world_params(model, "{closed_sectors: [canola]}", no_ban), &without);
    for (int t = 0; t < 10; t++) {
        if (t >= 4) {
            cr_expect_eq(with.regime[t], 1, "%s: the ban is in force at period %d", model, t);
            cr_expect_eq(with.serving[t][0][1], 0.0, "%s: no canola firm serves China at period %d", model, t);
        }
        cr_expect_eq(with.serving[t][1][1], without.serving[t][1][1], "%s: steel in China at period %d", model, t);
        cr_expect_eq(with.entrants[t][1][1], without.entrants[t][1][1], "%s: steel entry in China at %d", model, t);
        /* Exact mode moves the masses of firms serving the US with and
         * without China apart: the same expected number, summed in another
         * order (relative rounding of a sum of a few thousand terms). */
        double us = with.serving[t][0][0], us0 = without.serving[t][0][0];
        if (strstr(model, "exact"))
            cr_expect_leq(fabs(us - us0), 1e-12 * us0, "%s: canola in the US at period %d: %.17g vs %.17g", model, t,
                          us, us0);
        else
            cr_expect_eq(us, us0, "%s: canola in the US at period %d", model, t);
    }
    cr_expect_gt(with.serving[3][0][1], 0.0, "%s: canola served China before the ban", model);
    cr_expect_gt(with.serving[9][1][1], 0.0, "%s: steel still serves China under the ban", model);
}

Test(political_risk, sector_ban_closes_the_destination_to_that_sector_only_myopic)
{
    expect_ban_hits_canola_in_china_only("model: myopic");
}

Test(political_risk, sector_ban_closes_the_destination_to_that_sector_only_dynamic)
{
    expect_ban_hits_canola_in_china_only("model: dynamic");
}

Test(political_risk, sector_ban_closes_the_destination_to_that_sector_only_learning)
{
    expect_ban_hits_canola_in_china_only("model: learning");
}

Test(political_risk, sector_ban_closes_the_destination_to_that_sector_only_exact)
{
    expect_ban_hits_canola_in_china_only("model: dynamic, aggregation: exact");
}

/* `closed: true` is the ban of every sector: listing every sector in
 * closed_sectors gives the same run. */
Test(political_risk, listing_every_sector_is_the_ban_of_every_sector)
{
    sector_path all, listed;
    simulate(world_params("model: dynamic", "{closed: true}", ban_at_4), &all);
    simulate(world_params("model: dynamic", "{closed_sectors: [canola, steel]}", ban_at_4), &listed);
    cr_expect_eq(memcmp(&all, &listed, sizeof all), 0, "the two runs differ");
    cr_expect_eq(all.serving[9][1][1], 0.0, "steel is banned too");
}

/* The dynamic model's cut-offs: canola never enters China in the ban
 * regime (joint regime 1: CN banned); steel's problem is the same in both
 * regimes, so its cut-offs are equal; and in the open regime canola's
 * entry cut-off is above steel's, which faces no risk of a ban (Handley and
 * Limao 2015: the option value of waiting). */
Test(political_risk, dynamic_cutoffs_price_the_risk_of_a_ban_for_the_named_sector_only)
{
    /* A high hazard of a persistent ban, so that the option value of
     * waiting moves the cut-off by more than a grid step. */
    static const char *const sets[] = {"productivity.grid=201", "destinations.CN.market.sunk_cost=3"};
    tm_params *p = fixture_params_fmt("risk-test", sets, 2, fixture_ban_world, "model: dynamic",
                                      "{closed_sectors: [canola]}", "[[0.8, 0.2], [0.05, 0.95]]", "");
    void *state = NULL;
    tm_error err = {0};
    cr_assert_eq(tm_model_open(&tm_model_dynamic, p, 1, &state, &err), 0, "init: %s", err.msg);
    tm_policy_summary canola, steel;
    cr_assert_eq(tm_model_dynamic.summary(state, 0, &canola), 0);
    double canola_open = canola.entry_cutoff[0 * 2 + 1], canola_ban = canola.entry_cutoff[1 * 2 + 1];
    cr_assert_eq(tm_model_dynamic.summary(state, 1, &steel), 0);
    double steel_open = steel.entry_cutoff[0 * 2 + 1], steel_ban = steel.entry_cutoff[1 * 2 + 1];
    cr_expect(isinf(canola_ban), "canola never enters a closed market (cut-off %g)", canola_ban);
    cr_expect_eq(steel_open, steel_ban, "steel: %g vs %g", steel_open, steel_ban);
    cr_expect_gt(canola_open, steel_open, "canola %g, steel %g", canola_open, steel_open);
    tm_model_dynamic.free(state);
    tm_params_free(p);
}

/* Statutory rates are reported beside the effective ones and change
 * nothing else; an event's tariff override sets both, unless the event
 * gives its own statutory rate. */
Test(political_risk, statutory_tariff_is_reported_beside_the_effective_one)
{
    fixture_env e;
    fixture_env_open(&e, world_params("model: myopic",
                                      "{tariff: 0.1, sector_tariffs: {canola: 0.076}, statutory_tariffs: "
                                      "{canola: 0.76}}",
                                      "events:\n"
                                      "  - {at: 2024Q2, destination: CN, regime: ban}\n"
                                      "  - {at: 2024Q3, destination: CN, sector: canola, tariff: 0.3}\n"
                                      "  - {at: 2024Q4, destination: CN, sector: canola, tariff: 0.3, "
                                      "statutory_tariff: 1}\n"));
    tm_env_advance(&e.env, 0, NULL);
    cr_expect_eq(tm_env_statutory_tariff(&e.env, 0, 1), 0.0, "no duty in the normal regime");
    tm_env_advance(&e.env, 1, NULL);
    cr_expect_eq(tm_env_tariff(&e.env, 0, 1), 0.076);
    cr_expect_eq(tm_env_statutory_tariff(&e.env, 0, 1), 0.76);
    cr_expect_eq(tm_env_tariff(&e.env, 1, 1), 0.1);
    cr_expect_eq(tm_env_statutory_tariff(&e.env, 1, 1), 0.1, "steel: statutory defaults to effective");
    tm_env_advance(&e.env, 2, NULL);
    cr_expect_eq(tm_env_tariff(&e.env, 0, 1), 0.3);
    cr_expect_eq(tm_env_statutory_tariff(&e.env, 0, 1), 0.3, "an override sets both rates");
    tm_env_advance(&e.env, 3, NULL);
    cr_expect_eq(tm_env_tariff(&e.env, 0, 1), 0.3);
    cr_expect_eq(tm_env_statutory_tariff(&e.env, 0, 1), 1.0, "the event's statutory rate");
    cr_expect_eq(tm_env_statutory_tariff(&e.env, 1, 1), 0.1, "steel keeps the regime's");
    cr_expect(tm_params_has_statutory(e.p));
    fixture_env_close(&e);
}

/* The canonical text of parameters with sector closures and statutory
 * rates reads back to the same parameters (same text, same digest); files
 * without them keep their text (no new keys appear). */
Test(political_risk, canonical_text_round_trips_sector_closures_and_statutory_rates)
{
    tm_params *p = world_params("model: myopic", "{closed_sectors: [canola], statutory_tariffs: {steel: 0.5}}", "");
    tm_params *q = fixture_params("canonical", p->canonical, NULL, 0);
    cr_expect_str_eq(q->canonical, p->canonical);
    cr_expect(strstr(p->canonical, "closed_sectors: [canola]") != NULL);
    cr_expect_eq(q->dest[1].regime[1].sector_closed[0], 1);
    cr_expect_eq(q->dest[1].regime[1].sector_closed[1], 0);
    cr_expect_eq(q->dest[1].regime[1].sector_statutory[1], 0.5);
    tm_params *plain = world_params("model: myopic", "{closed: true}", "");
    cr_expect(strstr(plain->canonical, "closed_sectors") == NULL);
    cr_expect(strstr(plain->canonical, "statutory_tariffs") == NULL);
    cr_expect(!tm_params_has_statutory(plain));
    tm_params_free(plain);
    tm_params_free(q);
    tm_params_free(p);
}
