/* test_dated_paths: dated demand, iceberg and fixed-cost paths by
 * destination and sector (docs/model.md section 10): level events and
 * growth paths scale the market in closed form, a growth path is the list
 * of its period steps, and forward-looking firms treat an anticipated path
 * consistently (eq. 11). */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/process.h"
#include "fixtures.h"
#include "models/model.h"
#include "params/params.h"

/* Two sectors, one destination, one regime. Slots: the model line, the
 * market line of the destination, the events. 2024Q1 is period 0. */
static const char *const world =
    "run: {periods: 16, burn_in: 20, seed: 31, %s}\n"
    "decision: {discount: 0.95}\n"
    "sectors:\n"
    "  steel: {firms: 3000, persistence: 0.9, volatility: 0.2}\n"
    "  canola: {firms: 3000, persistence: 0.9, volatility: 0.2}\n"
    "destinations:\n"
    "  CN:\n"
    "    market: %s\n"
    "    regimes: {open: {tariff: 0.1}}\n"
    "%s";

static tm_params *load(const char *model, const char *market, const char *events)
{
    return fixture_params_fmt("paths-test", NULL, 0, world, model, market, events);
}

/* fixture_simulate, then the parameters are freed. */
static void simulate(tm_params *p, fixture_path *out)
{
    fixture_simulate(p, out);
    tm_params_free(p);
}

/* Export value of sector s in every logged period. */
static void export_values(tm_params *p, double *value, int s)
{
    fixture_sim sim;
    fixture_sim_open(&sim, p, 2);
    while (fixture_sim_next(&sim))
        if (sim.result->period >= 0)
            value[sim.result->period] = sim.result->export_value[s];
    fixture_sim_close(&sim);
}

/* With no fixed or sunk cost every firm serves CN, the same firms in both
 * runs (one seed), so the export value is sum_i sigma phi_i^(sigma-1) a
 * (eq. 3) and its ratio to the run without events is the multiplier of a
 * (eq. 2): demand b, iceberg i^(1-sigma). The tolerance is the rounding of
 * a sum of 3000 positive terms, relative 3000 x 2^-52 < 1e-12. */
Test(dated_paths, level_and_growth_events_scale_export_value_in_closed_form)
{
    const char *free_market = "{demand: 1, fixed_cost: 0, sunk_cost: 0}";
    double plain[16], plain_c[16], steel[16], canola[16];
    export_values(load("model: myopic", free_market, ""), plain, 0);
    export_values(load("model: myopic", free_market, ""), plain_c, 1);
    tm_params *p = load("model: myopic", free_market,
                        "events:\n"
                        "  - {at: 2024Q3, destination: CN, sector: steel, demand_growth: 0.05, until: 2025Q2}\n"
                        "  - {at: 2026Q1, destination: CN, sector: steel, iceberg_scale: 1.25}\n"
                        "  - {at: 2026Q3, destination: CN, demand_scale: 2}\n");
    const double sigma = p->elasticity;
    export_values(fixture_params("paths-test", p->canonical, NULL, 0), canola, 1);
    export_values(p, steel, 0);
    for (int t = 0; t < 16; t++) {
        /* Steel: (1.05)^k after k growth steps (periods 2..5), then the
         * iceberg factor from period 8, then demand 2 from period 10 (the
         * level event sets the multiplier that growth had raised). */
        int steps = t < 2 ? 0 : t > 5 ? 4 : t - 1;
        double want = pow(1.05, steps);
        if (t >= 8)
            want *= pow(1.25, 1.0 - sigma);
        if (t >= 10)
            want = 2.0 * pow(1.25, 1.0 - sigma);
        double got = steel[t] / plain[t];
        cr_expect_leq(fabs(got - want), 1e-12 * want, "steel, period %d: ratio %.15g, expected %.15g", t, got, want);
        /* Canola: only the all-sector level event. */
        double want_c = t >= 10 ? 2.0 : 1.0;
        cr_expect_leq(fabs(canola[t] / plain_c[t] - want_c), 1e-12 * want_c, "canola, period %d", t);
    }
}

/* A world price as a demand shifter (docs/model.md eq. 29b). A world
 * price x times higher with the world's volume unchanged multiplies the
 * CES shifter B by x^sigma; in a sector with capacity limits (gamma > 0)
 * and no fixed or sunk cost every firm serves, the same firms in both runs,
 * and each firm's revenue is proportional to A^theta (eq. 4), so the
 * export value rises by x^(sigma theta), theta = (1 + gamma) / (1 + gamma
 * sigma): by more than x when gamma is small (output expands along the
 * rising marginal cost), tending to x (the price alone, output fixed) as
 * gamma grows (x^1.07 at gamma = 10). */
Test(dated_paths, world_price_raises_export_value_by_x_to_the_sigma_theta)
{
    /* eq. 29b: `price_scale: x` multiplies B by x^sigma at the run's own
     * sigma; with every firm serving (f = F = 0) export value rises by
     * x^(sigma theta), theta = (1 + gamma) / (1 + gamma sigma), at two
     * elasticities and two capacity elasticities; and the event is the
     * same run as `demand_scale: x^sigma`, bit for bit. */
    static const char *const gold_world =
        "run: {periods: 8, burn_in: 20, seed: 31, model: myopic}\n"
        "decision: {discount: 0.95}\n"
        "demand: {elasticity: %g}\n"
        "sectors:\n"
        "  gold: {firms: 3000, persistence: 0.9, volatility: 0.2, "
        "capacity_elasticity: %g}\n"
        "destinations:\n"
        "  ROW:\n"
        "    market: {demand: 1, fixed_cost: 0, sunk_cost: 0}\n"
        "    regimes: {open: {tariff: 0}}\n"
        "%s";
    const double x = 3435.0 / 2386.0, gammas[] = {0.5, 10.0}, sigmas[] = {3.8, 6.0};
    for (int k = 0; k < 4; k++) {
        double sigma = sigmas[k / 2], gamma = gammas[k % 2], plain[8], priced[8], shifted[8];
        const double theta = (1.0 + gamma) / (1.0 + gamma * sigma);
        char price[128], shift[128];
        snprintf(price, sizeof price, "events:\n  - {at: 2024Q3, destination: ROW, price_scale: %.17g}\n", x);
        snprintf(shift, sizeof shift, "events:\n  - {at: 2024Q3, destination: ROW, demand_scale: %.17g}\n",
                 pow(x, sigma));
        export_values(fixture_params_fmt("price-test", NULL, 0, gold_world, sigma, gamma, ""), plain, 0);
        export_values(fixture_params_fmt("price-test", NULL, 0, gold_world, sigma, gamma, price), priced, 0);
        export_values(fixture_params_fmt("price-test", NULL, 0, gold_world, sigma, gamma, shift), shifted, 0);
        for (int t = 0; t < 8; t++) {
            double want = t < 2 ? 1.0 : pow(x, sigma * theta), got = priced[t] / plain[t];
            cr_expect_leq(fabs(got - want), 1e-12 * want, "sigma %g, gamma %g, period %d: ratio %.15g, expected %.15g",
                          sigma, gamma, t, got, want);
            cr_expect_eq(priced[t], shifted[t], "sigma %g, gamma %g, period %d: price_scale %.17g, demand_scale %.17g",
                         sigma, gamma, t, priced[t], shifted[t]);
        }
    }
}

Test(dated_paths, price_scale_follows_the_elasticity_and_is_bounded)
{
    /* The multiplier is computed from the resolved sigma, so an override
     * of demand.elasticity (as a sweep makes) moves it too; one beyond the
     * largest demand multiplier is refused naming the key. */
    static const char *const priced_world =
        "sectors: {gold: {firms: 10}}\n"
        "destinations:\n"
        "  ROW: {regimes: {open: {}}}\n"
        "events:\n"
        "  - {at: 2024Q3, destination: ROW, sector: gold, price_scale: 1.44}\n";
    tm_params *p = fixture_params_set("price.yaml", priced_world, "demand.elasticity=5");
    cr_expect_eq(p->event[0].kind, TM_EVENT_DEMAND);
    cr_expect_eq(p->event[0].demand_factor, pow(1.44, 5.0));
    tm_params_free(p);
    p = fixture_params_set("price.yaml", priced_world, NULL);
    cr_expect_eq(p->event[0].demand_factor, pow(1.44, 3.8));
    tm_params_free(p);
    const char *sets[] = {"events[0].price_scale=10", "demand.elasticity=7"};
    tm_error err = {0};
    cr_assert_neq(tm_params_load_text("price.yaml", priced_world, sets, 2, &p, &err), 0);
    cr_expect(strstr(err.msg, "events[0].price_scale") && strstr(err.msg, "1e+07") &&
                  strstr(err.msg, "at most 7.19686"),
              "message: %s", err.msg);
}

/* A growth path is the list of its period steps: the same run as level
 * events at the products (1 + g)^k, computed by the same repeated
 * multiplication and written with 17 digits (exact round trip), for
 * forward-looking firms that foresee it and for firms it surprises. */
Test(dated_paths, growth_path_is_the_list_of_its_level_steps)
{
    const char *market = "{demand: 1, fixed_cost: 0.3, sunk_cost: 1}";
    for (int anticipated = 0; anticipated < 2; anticipated++) {
        const char *a = anticipated ? "true" : "false";
        char growth[256], levels[2048];
        snprintf(growth, sizeof growth,
                 "events:\n  - {at: 2024Q3, destination: CN, demand_growth: 0.04, until: 2025Q3, anticipated: %s}\n",
                 a);
        size_t used = (size_t)snprintf(levels, sizeof levels, "events:\n");
        double scale = 1.0;
        for (int t = 2; t <= 6; t++) {
            char label[16];
            tm_period_label(2024 * 4 + t, 4, label, sizeof label);
            scale *= 1.0 + 0.04;
            used += (size_t)snprintf(levels + used, sizeof levels - used,
                                     "  - {at: %s, destination: CN, demand_scale: %.17g, anticipated: %s}\n", label,
                                     scale, a);
        }
        fixture_path x, y;
        simulate(load("model: dynamic", market, growth), &x);
        simulate(load("model: dynamic", market, levels), &y);
        cr_expect_eq(memcmp(&x, &y, sizeof x), 0, "anticipated %s: the runs differ", a);
    }
}

/* Forward-looking firms that foresee demand growing 5% a quarter for two
 * years from 2026Q1 (period 8) enter more before it starts than firms it
 * surprises (eq. 11: the continuation value rises as the path nears, and a
 * sunk cost paid now buys access to it); a surprise leaves the periods
 * before it as they were without the event. */
Test(dated_paths, anticipated_demand_growth_raises_entry_before_it_starts)
{
    const char *market = "{demand: 1, fixed_cost: 0.5, sunk_cost: 3}";
    const char *ahead =
        "events:\n  - {at: 2026Q1, destination: CN, demand_growth: 0.05, until: 2027Q4, "
        "anticipated: true}\n";
    const char *surprise = "events:\n  - {at: 2026Q1, destination: CN, demand_growth: 0.05, until: 2027Q4}\n";
    fixture_path plain, foreseen, surprised;
    simulate(load("model: dynamic", market, ""), &plain);
    simulate(load("model: dynamic", market, ahead), &foreseen);
    simulate(load("model: dynamic", market, surprise), &surprised);
    fixture_expect_same_path(&plain, &surprised, 8);
    int64_t e_f = fixture_path_entrants(&foreseen, 0, 0, 8), e_s = fixture_path_entrants(&surprised, 0, 0, 8);
    cr_expect_gt(e_f, e_s, "entrants before the path: foreseen %lld, surprise %lld", (long long)e_f, (long long)e_s);
    cr_expect_gt(surprised.serving[15][0], plain.serving[15][0], "growth raises participation");
}

/* Every model and exact aggregation accept the paths; after `until` the
 * process is stationary (the one of the last step). */
Test(dated_paths, paths_run_with_every_model_and_end_stationary)
{
    static const char *const models[] = {"model: myopic", "model: dynamic", "model: learning",
                                         "model: dynamic, aggregation: exact"};
    const char *events =
        "events:\n"
        "  - {at: 2024Q2, destination: CN, fixed_cost_scale: 0.5}\n"
        "  - {at: 2024Q3, destination: CN, sector: canola, demand_growth: -0.02, until: 2025Q1}\n";
    for (int m = 0; m < 4; m++) {
        fixture_path path;
        simulate(load(models[m], "{demand: 1, fixed_cost: 0.4, sunk_cost: 1}", events), &path);
        cr_expect_gt(path.serving[15][0], 0, "%s", models[m]);
    }
    tm_params *p = load("model: dynamic", "{}", events);
    tm_process at_end, later;
    int upto = 0;
    while (upto < p->n_events && p->event[upto].period <= 4)
        upto++;
    tm_process_after(p, 1, upto, &at_end);
    tm_process_after(p, 1, p->n_events, &later);
    cr_expect(tm_process_equal(p, &at_end, &later), "the process changes after `until`");
    cr_expect_eq(at_end.demand_scale[0], 0.98 * 0.98 * 0.98);
    cr_expect_eq(at_end.fixed_scale[0], 0.5);
    tm_params_free(p);
}

/* A checkpoint in the middle of a growth path, restored on another thread
 * count, continues with the same export values and counts bit for bit (the
 * process is rebuilt from the events applied, steps included). */
Test(dated_paths, run_resumed_in_the_middle_of_a_path_continues_exactly)
{
    tm_params *p = load("model: dynamic", "{demand: 1, fixed_cost: 0.3, sunk_cost: 1}",
                        "events:\n"
                        "  - {at: 2024Q3, destination: CN, demand_growth: 0.03, until: 2026Q2, anticipated: true}\n"
                        "  - {at: 2025Q2, destination: CN, sector: canola, iceberg_scale: 1.1}\n");
    tm_run *original = fixture_run(p, 2);
    while (tm_run_period(original) < 6)
        fixture_step(original);
    tm_run *restored = fixture_run_copy(p, original, 1);
    const size_t sd = (size_t)p->n_sectors * (size_t)p->n_dest;
    while (!tm_run_finished(original)) {
        fixture_step(original);
        fixture_step(restored);
        const tm_period_result *a = tm_run_result(original), *b = tm_run_result(restored);
        cr_assert_eq(memcmp(a->export_value, b->export_value, sd * sizeof(double)), 0, "period %d", a->period);
        cr_assert_eq(memcmp(a->serving, b->serving, sd * sizeof(int64_t)), 0, "period %d", a->period);
    }
    tm_run_close(original);
    tm_run_close(restored);
    tm_params_free(p);
}
