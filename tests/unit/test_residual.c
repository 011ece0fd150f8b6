/* test_residual: residual demand under a partial closure (docs/model.md
 * eq. 36). While a regime shuts a destination to a sector's most
 * productive firms, the open firms' demand moves towards
 * 1 / ((1 - mu) + mu nu), nu the sector's supply there relative to the
 * last period before the closure; off without a market share, or without
 * a partial closure, bit for bit. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/run.h"
#include "fixtures.h"
#include "params/params.h"

enum { PERIODS = 10, BAN = 4, LIFT = 7 };

static const char *const chain = "[[0.95, 0.05], [0.2, 0.8]]";
/* The ban is forced from period 4 (2025Q1) and lifted from period 7
 * (2025Q4). */
static const char *const ban_4_to_7 =
    "events:\n"
    "  - {at: 2024Q1, destination: CN, regime: normal}\n"
    "  - {at: 2025Q1, destination: CN, regime: ban}\n"
    "  - {at: 2025Q4, destination: CN, regime: normal}\n";
static const char *const no_events =
    "events:\n"
    "  - {at: 2024Q1, destination: CN, regime: normal}\n";
static const char *const partial = "{closed_sectors: [canola], closed_above_quantile: 0.9}";

/* Per logged period: canola's export value in the US and China, steel's in
 * China. */
typedef struct {
    double canola_us[PERIODS], canola_cn[PERIODS], steel_cn[PERIODS];
} path;

static void simulate(const char *run, const char *ban, const char *events, const char *const *sets, int n_sets,
                     path *out)
{
    memset(out, 0, sizeof *out);
    fixture_sim sim;
    fixture_sim_open(&sim,
                     fixture_params_fmt("residual-test", sets, n_sets, fixture_ban_world, run, ban, chain, events), 2);
    while (fixture_sim_next(&sim)) {
        const tm_period_result *r = sim.result;
        if (r->period < 0)
            continue;
        out->canola_us[r->period] = r->export_value[0];
        out->canola_cn[r->period] = r->export_value[1];
        out->steel_cn[r->period] = r->export_value[3];
    }
    fixture_sim_close(&sim);
}

/* With no cost of serving a market and no choice noise every open firm
 * serves, so supply does not respond to demand, and exact aggregation
 * takes sampling noise away: canola's China sales are the run without a
 * market share times m_t, with m_t from the recursion of eq. 36 on that
 * run's own sales. */
static const char *const free_entry[] = {
    "destinations.US.market.fixed_cost=0",
    "destinations.US.market.sunk_cost=0",
    "destinations.CN.market.fixed_cost=0",
    "destinations.CN.market.sunk_cost=0",
    "demand.impact_elasticity=3.8",
    "demand.long_run_elasticity=3.8",
    "demand.adjustment=0.3",
    "sectors.canola.markets.CN.market_share=0.8",
};
enum { N_FREE = sizeof free_entry / sizeof free_entry[0] };

/* The closed form of eq. 36 against the run with a market share (and the
 * settings in `extra`), lambda the rate ln m moves at; canola's US sales
 * agree with the run without a share to us_rel (0: bit for bit). */
static void expect_closed_form(const char *extra, double lambda, double us_rel)
{
    const double mu = 0.8;
    const char *sets[N_FREE + 1];
    int n = 0;
    for (int i = 0; i < N_FREE; i++)
        sets[n++] = free_entry[i];
    if (extra)
        sets[n++] = extra;
    path with, without;
    simulate("model: myopic, aggregation: exact", partial, ban_4_to_7, sets, n, &with);
    simulate("model: myopic, aggregation: exact", partial, ban_4_to_7, free_entry, N_FREE - 1, &without);
    /* ln m_t = (1 - lambda) ln m_{t-1} + lambda target_t; target_t =
     * -ln((1 - mu) + mu nu_t) while closed, else 0; nu_t = S_{t-1} / ref;
     * ref = S_{t-1} whenever period t - 1 was open; S_t the sales at
     * m = 1, here the run without a share. */
    double log_m = 0.0, ref = 0.0;
    for (int t = 1; t < PERIODS; t++) {
        int closed = t >= BAN && t < LIFT, was_closed = t - 1 >= BAN && t - 1 < LIFT;
        if (!was_closed)
            ref = without.canola_cn[t - 1];
        double target = closed ? -log((1.0 - mu) + mu * without.canola_cn[t - 1] / ref) : 0.0;
        log_m = (1.0 - lambda) * log_m + lambda * target;
        double m = exp(log_m);
        cr_expect_leq(fabs(with.canola_cn[t] - m * without.canola_cn[t]), 1e-12 * without.canola_cn[t],
                      "period %d: %.17g against m %.17g x %.17g", t, with.canola_cn[t], m, without.canola_cn[t]);
        if (t >= BAN + 1 && t < LIFT)
            cr_expect_gt(m, 1.0 + 1e-3, "period %d: the open firms gain demand", t);
        cr_expect_leq(fabs(with.canola_us[t] - without.canola_us[t]), us_rel * without.canola_us[t],
                      "period %d: the US untouched (%.17g, %.17g)", t, with.canola_us[t], without.canola_us[t]);
        cr_expect_eq(with.steel_cn[t], without.steel_cn[t], "period %d: steel untouched", t);
    }
    /* The closure binds: the run without the share loses sales at the ban. */
    cr_expect_lt(without.canola_cn[BAN], 0.9 * without.canola_cn[BAN - 1]);
    /* The multiplier decays after the lift, so it is still above 1 then. */
    cr_expect_gt(with.canola_cn[LIFT], without.canola_cn[LIFT]);
}

/* Without a switching rate ln m moves at demand.adjustment (0.3 here). */
Test(residual, closed_form_multiplier_path)
{
    expect_closed_form(NULL, 0.3, 0.0);
}

/* A market's switching_rate replaces demand.adjustment for ln m only: the
 * tariff response keeps demand.adjustment (the US and steel columns are
 * checked against the run without a share; at this rate the US cells are
 * summed in an order that differs by an ulp, so to 1e-14). */
Test(residual, switching_rate_sets_the_speed_of_the_multiplier)
{
    expect_closed_form("sectors.canola.markets.CN.switching_rate=0.65", 0.65, 1e-14);
}

/* Off: a share without any closure, or with the total closure of the
 * sector, is the run without the share, bit for bit, in every model. */
static void expect_off(const char *run)
{
    static const char *const share[] = {"sectors.canola.markets.CN.market_share=0.8"};
    path a, b;
    simulate(run, partial, no_events, share, 1, &a);
    simulate(run, partial, no_events, NULL, 0, &b);
    cr_expect_eq(memcmp(&a, &b, sizeof a), 0, "%s: a share without a closure", run);
    simulate(run, "{closed_sectors: [canola]}", ban_4_to_7, share, 1, &a);
    simulate(run, "{closed_sectors: [canola]}", ban_4_to_7, NULL, 0, &b);
    cr_expect_eq(memcmp(&a, &b, sizeof a), 0, "%s: a share under the total closure", run);
}

Test(residual, off_without_a_partial_closure_myopic)
{
    expect_off("model: myopic");
}

Test(residual, off_without_a_partial_closure_dynamic)
{
    expect_off("model: dynamic");
}

/* With simulated firms and costs, the open firms sell more in China
 * during the closure than without the share, and nothing changes before
 * it. */
Test(residual, open_firms_gain_under_the_closure)
{
    static const char *const share[] = {"sectors.canola.markets.CN.market_share=0.8"};
    path with, without;
    simulate("model: dynamic", partial, ban_4_to_7, share, 1, &with);
    simulate("model: dynamic", partial, ban_4_to_7, NULL, 0, &without);
    for (int t = 0; t <= BAN; t++)
        cr_expect_eq(with.canola_cn[t], without.canola_cn[t], "period %d: before the multiplier moves", t);
    for (int t = BAN + 1; t < LIFT; t++)
        cr_expect_gt(with.canola_cn[t], without.canola_cn[t], "period %d", t);
}

/* A run saved during the closure (ln m away from 0) and restored
 * continues as the original, bit for bit. */
Test(residual, checkpoint_restores_the_multiplier)
{
    static const char *const share[] = {"sectors.canola.markets.CN.market_share=0.8"};
    fixture_expect_resume_continues(
        fixture_params_fmt("residual-test", share, 1, fixture_ban_world, "model: myopic", partial, chain, ban_4_to_7),
        BAN + 1);
}

static void expect_refused(const char *set, const char *words)
{
    const char *sets[] = {set};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    fprintf(f, fixture_ban_world, "model: myopic", partial, chain, no_events);
    fclose(f);
    tm_params *p = NULL;
    tm_error err = {0};
    cr_expect_neq(tm_params_load_text("bad", text, sets, 1, &p, &err), 0, "%s accepted", set);
    cr_expect(strstr(err.msg, words) != NULL, "%s: %s", set, err.msg);
    tm_params_free(p);
    free(text);
}

Test(residual, a_share_of_one_is_refused)
{
    expect_refused("sectors.canola.markets.CN.market_share=1", "market_share");
}

/* A switching rate without a market share could change nothing, for a
 * sector or for the whole destination. */
Test(residual, a_switching_rate_without_a_share_is_refused)
{
    expect_refused("sectors.canola.markets.CN.switching_rate=0.5",
                   "switching_rate: has no effect without market_share");
    expect_refused("destinations.CN.market.switching_rate=0.5", "no sector has a market_share in CN");
}
