/* test_perceived_risk: firms' perceived escalation hazards set apart from
 * the true process that drives the environment (docs/model.md section 10):
 * perceiving the truth changes nothing, bit for bit; overrating the risk
 * lowers entry while the realised regime path stays the same. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/process.h"
#include "fixtures.h"
#include "models/model.h"
#include "params/params.h"

/* One sector, one destination whose regime switches often between free
 * trade and a 50% tariff (true hike hazard 0.05 a period), so that a
 * regime path is a real test of the environment's stream. Slots: the
 * model line, the destination's perceived scale line, the events. */
static const char *const world =
    "run: {periods: 40, burn_in: 30, seed: 909, %s}\n"
    "productivity: {grid: 101}\n"
    "decision: {discount: 0.95, belief_points: 5, hazard_max: 0.2}\n"
    "sectors:\n"
    "  steel:\n"
    "    firms: 4000\n"
    "    persistence: 0.9\n"
    "    volatility: 0.2\n"
    "    death_rate: 0.02\n"
    "    hazard_prior_mean: 0.05\n"
    "    hazard_prior_strength: 1e12\n"
    "destinations:\n"
    "  US:\n"
    "    market: {demand: 1, fixed_cost: 0.5, sunk_cost: 2}\n"
    "    regimes: {free: {tariff: 0}, high: {tariff: 0.5}}\n"
    "    transition: [[0.95, 0.05], [0.2, 0.8]]\n"
    "%s"
    "%s";

static tm_params *load(const char *model, const char *perceived, const char *events)
{
    return fixture_params_fmt("perceived-test", NULL, 0, world, model, perceived, events);
}

static int same_regimes(const fixture_path *a, const fixture_path *b)
{
    for (int t = 0; t < a->periods; t++)
        if (a->regime[t][0] != b->regime[t][0])
            return 0;
    return 1;
}

static int regime_switches(const fixture_path *a)
{
    int n = 0;
    for (int t = 1; t < a->periods; t++)
        n += a->regime[t][0] != a->regime[t - 1][0];
    return n;
}

/* With the perceived scale 1, given as a parameter and again by an event,
 * and with an escalation event in force, the perceived matrices are the
 * true ones bit for bit and so is the whole run. */
Test(perceived_risk, perceiving_the_true_hazards_changes_nothing)
{
    const char *escalate = "events:\n  - {at: 2024Q3, destination: US, escalation_scale: 2}\n";
    const char *escalate_and_perceive =
        "events:\n"
        "  - {at: 2024Q3, destination: US, escalation_scale: 2}\n"
        "  - {at: 2025Q1, destination: US, perceived_escalation_scale: 1}\n";
    static const char *const models[] = {"model: dynamic", "model: learning"};
    for (int m = 0; m < 2; m++) {
        fixture_path a, b;
        tm_params *pa = load(models[m], "", escalate);
        tm_params *pb = load(models[m], "    perceived_escalation_scale: 1\n", escalate_and_perceive);
        fixture_simulate(pa, &a);
        fixture_simulate(pb, &b);
        cr_expect_eq(memcmp(&a, &b, sizeof a), 0, "%s: the runs differ", models[m]);
        tm_process pr;
        tm_process_after(pb, 0, pb->n_events, &pr);
        cr_expect_eq(memcmp(pr.perceived, pr.transition, sizeof pr.perceived), 0, "perceived != true matrices");
        tm_params_free(pa);
        tm_params_free(pb);
    }
}

/* Firms that perceive three times the true hike hazard (0.15 instead of
 * 0.05) see more option value in waiting: a higher entry cut-off in the
 * free regime and fewer entrants, while the environment, driven by the true
 * process and its own stream, realises the same regimes. */
static void expect_overrating_lowers_entry(const char *model, const tm_model_ops *ops)
{
    fixture_path truth, over;
    tm_params *pt = load(model, "", "");
    tm_params *po = load(model, "    perceived_escalation_scale: 3\n", "");
    fixture_simulate(pt, &truth);
    fixture_simulate(po, &over);
    cr_expect(same_regimes(&truth, &over), "%s: the regime paths differ", model);
    cr_expect_gt(regime_switches(&truth), 2, "%s: the regime path should move (%d switches)", model,
                 regime_switches(&truth));
    int64_t entry_t = fixture_path_entrants(&truth, 0, 0, 40), entry_o = fixture_path_entrants(&over, 0, 0, 40);
    cr_expect_lt(entry_o, entry_t, "%s: entrants %lld (overrated) vs %lld (true)", model, (long long)entry_o,
                 (long long)entry_t);
    double cut[2];
    tm_params *ps[2] = {pt, po};
    for (int i = 0; i < 2; i++) {
        void *state = NULL;
        tm_error err = {0};
        cr_assert_eq(tm_model_open(ops, ps[i], 1, &state, &err), 0, "init: %s", err.msg);
        tm_policy_summary sum;
        cr_assert_eq(ops->summary(state, 0, &sum), 0);
        cut[i] = sum.entry_cutoff[0];
        ops->free(state);
    }
    cr_expect_gt(cut[1], cut[0], "%s: entry cut-off in the free regime %g (overrated) vs %g (true)", model, cut[1],
                 cut[0]);
    tm_params_free(pt);
    tm_params_free(po);
}

Test(perceived_risk, overrating_the_hazard_lowers_entry_with_the_same_regime_path_dynamic)
{
    expect_overrating_lowers_entry("model: dynamic", &tm_model_dynamic);
}

/* Learning firms act on their posterior mean times the perceived scale:
 * with a prior of weight 1e12 at 0.05 the mean stays 0.05 and the class is
 * grid point 3 (0.15) instead of 1. */
Test(perceived_risk, overrating_the_hazard_lowers_entry_with_the_same_regime_path_learning)
{
    expect_overrating_lowers_entry("model: learning", &tm_model_learning);
}

Test(perceived_risk, overrating_the_hazard_lowers_entry_with_the_same_regime_path_exact)
{
    /* Exact aggregates are expected numbers of firms; fixture_simulate
     * reads the rounded counts, which keep the order. */
    expect_overrating_lowers_entry("model: dynamic, aggregation: exact", &tm_model_dynamic);
}

/* An event that changes only the perceived process: a surprise at period
 * 16 leaves periods 0-15 as they were (firms did not foresee it), the
 * regimes the same throughout, and lowers entry after it. */
Test(perceived_risk, perceived_only_event_changes_choices_not_the_environment)
{
    fixture_path plain, shock;
    tm_params *pp = load("model: dynamic", "", "");
    tm_params *ps = load("model: dynamic", "",
                         "events:\n  - {at: 2028Q1, destination: US, perceived_escalation_scale: 3}\n");
    cr_assert_eq(ps->event[0].period, 16);
    fixture_simulate(pp, &plain);
    fixture_simulate(ps, &shock);
    cr_expect(same_regimes(&plain, &shock), "the regime paths differ");
    fixture_expect_same_path(&plain, &shock, 16);
    int64_t after_p = fixture_path_entrants(&plain, 0, 16, 40), after_s = fixture_path_entrants(&shock, 0, 16, 40);
    cr_expect_lt(after_s, after_p, "entrants after the event %lld vs %lld", (long long)after_s, (long long)after_p);
    tm_params_free(pp);
    tm_params_free(ps);
}
