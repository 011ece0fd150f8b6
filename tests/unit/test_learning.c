/* test_learning: firms that learn the hazard of an escalation. With certain
 * and correct beliefs they act exactly as the dynamic model's firms; Beta
 * beliefs follow the update of docs/model.md eq. 12 and converge to the
 * true hazard under a long stable history; priors differ by sector. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/economy.h"
#include "engine/env.h"
#include "engine/grid.h"
#include "models/model.h"
#include "engine/run.h"
#include "fixtures.h"

/* One sector, one destination whose tariff may rise: the true hazard of an
 * escalation is 0.05 a period; the hazard grid {0, 0.05, 0.1, 0.15, 0.2}
 * contains it. */
static const char *two_regimes =
    "run: {model: learning, periods: 40, burn_in: 20, seed: 11}\n"
    "productivity: {grid: 61}\n"
    "decision: {discount: 0.95, tolerance: 1e-9, belief_points: 5, hazard_max: 0.2, forgetting: 1}\n"
    "sectors:\n"
    "  a: {firms: 20000, persistence: 0.9, volatility: 0.1, death_rate: 0.02,\n"
    "      hazard_prior_mean: 0.05, hazard_prior_strength: 1e12}\n"
    "destinations:\n"
    "  US:\n"
    "    market: {demand: 1, iceberg: 1, fixed_cost: 1, sunk_cost: 3}\n"
    "    regimes:\n"
    "      low: {tariff: 0}\n"
    "      high: {tariff: 0.5}\n"
    "    transition:\n"
    "      - [0.95, 0.05]\n"
    "      - [0.2, 0.8]\n";

static tm_params *load(const char *text, const char *const *sets, int n_sets)
{
    return fixture_params("test", text, sets, n_sets);
}

Test(learning, certain_correct_beliefs_give_the_dynamic_values_at_every_grid_point)
{
    tm_params *p = load(two_regimes, NULL, 0);
    fixture_ctx f;
    fixture_ctx_open(&f, p, 0);
    void *learn = NULL, *dyn = NULL;
    tm_error err = {0};
    cr_assert_eq(tm_model_open(&tm_model_learning, p, 1, &learn, &err), 0, "%s", err.msg);
    cr_assert_eq(tm_model_open(&tm_model_dynamic, p, 1, &dyn, &err), 0, "%s", err.msg);
    uint16_t cls;
    cr_assert_eq(tm_model_learning.belief_classes(learn, &f.ctx, -p->burn_in, 1, &cls), 5);
    cr_expect_eq(cls, 1, "the prior mean 0.05 is grid point 1");
    size_t n = (size_t)f.n_z * (size_t)f.n_sets * (size_t)f.n_sets;
    double *vl = malloc(n * sizeof(double)), *vd = malloc(n * sizeof(double));
    for (int r = 0; r < 2; r++) {
        f.env.regime[0] = r;
        f.ctx.belief_class = cls;
        cr_assert_eq(tm_model_learning.values(learn, &f.ctx, vl, &err), 0, "%s", err.msg);
        cr_assert_eq(tm_model_dynamic.values(dyn, &f.ctx, vd, &err), 0, "%s", err.msg);
        for (size_t i = 0; i < n; i++)
            cr_expect_eq(vl[i], vd[i], "regime %d, cell %zu: %.17g vs %.17g", r, i, vl[i], vd[i]);
    }
    free(vl);
    free(vd);
    tm_model_learning.free(learn);
    tm_model_dynamic.free(dyn);
    fixture_ctx_close(&f);
    tm_params_free(p);
}

Test(learning, certain_correct_beliefs_simulate_the_dynamic_path)
{
    tm_params *learn = load(two_regimes, NULL, 0);
    const char *sets[] = {"run.model=dynamic"};
    tm_params *dyn = load(two_regimes, sets, 1);
    fixture_path a, b;
    fixture_simulate(learn, &a);
    fixture_simulate(dyn, &b);
    int switches = 0;
    for (int t = 0; t < learn->periods; t++) {
        cr_expect_eq(a.serving[t][0], b.serving[t][0], "period %d", t);
        cr_expect_eq(a.entrants[t][0], b.entrants[t][0], "period %d", t);
        cr_expect_eq(a.exiters[t][0], b.exiters[t][0], "period %d", t);
        switches += t > 0 && a.regime[t][0] != a.regime[t - 1][0];
    }
    cr_expect_gt(switches, 0, "the regime should move in 40 periods");
    tm_params_free(learn);
    tm_params_free(dyn);
}

/* Feed the model the regime history of the environment for periods
 * 0 .. n - 1 and count the trials (periods starting in regime low) and
 * escalations. */
static void observe_history(const tm_params *p, void *state, int n, int *trials, int *escalations)
{
    fixture_ctx f;
    fixture_ctx_open(&f, p, 0);
    uint16_t *cls = malloc((size_t)(p->burn_in + p->periods) * sizeof *cls);
    *trials = *escalations = 0;
    int last = f.env.regime[0];
    for (int t = 0; t < n; t++) {
        tm_env_advance(&f.env, t, NULL);
        if (t > 0 && last == 0) {
            (*trials)++;
            *escalations += f.env.regime[0] > last;
        }
        last = f.env.regime[0];
        f.ctx.period = t;
        tm_model_learning.belief_classes(state, &f.ctx, -p->burn_in, t + p->burn_in + 1, cls);
    }
    free(cls);
    fixture_ctx_close(&f);
}

Test(learning, beliefs_converge_to_the_true_hazard_under_a_long_stable_history)
{
    const char *sets[] = {"run.periods=20000",
                          "run.burn_in=0",
                          "productivity.grid=11",
                          "sectors.a.hazard_prior_mean=0.5",
                          "sectors.a.hazard_prior_strength=2",
                          "destinations.US.transition=[[0.9, 0.1], [0.5, 0.5]]"};
    tm_params *p = load(two_regimes, sets, 6);
    void *state = NULL;
    tm_error err = {0};
    cr_assert_eq(tm_model_open(&tm_model_learning, p, 1, &state, &err), 0, "%s", err.msg);
    int trials, escalations;
    observe_history(p, state, p->periods, &trials, &escalations);
    double mean = tm_learning_hazard_mean(state, 0, 0, 0);
    /* Binomial s.d. of the frequency, plus the prior's pull (2 observations). */
    double sd = sqrt(0.1 * 0.9 / trials), pull = 2.0 * 0.4 / (trials + 2.0);
    cr_expect(fabs(mean - 0.1) < 4.0 * sd + pull, "posterior mean %g after %d trials (sd %g)", mean, trials, sd);
    cr_expect(trials > 10000, "%d trials", trials);
    tm_model_learning.free(state);
    tm_params_free(p);
}

Test(learning, beliefs_follow_the_beta_update_with_forgetting)
{
    const char *sets[] = {"run.periods=500",
                          "run.burn_in=0",
                          "productivity.grid=11",
                          "decision.forgetting=0.98",
                          "sectors.a.hazard_prior_mean=0.3",
                          "sectors.a.hazard_prior_strength=4",
                          "destinations.US.transition=[[0.8, 0.2], [0.5, 0.5]]"};
    tm_params *p = load(two_regimes, sets, 7);
    void *state = NULL;
    tm_error err = {0};
    cr_assert_eq(tm_model_open(&tm_model_learning, p, 1, &state, &err), 0, "%s", err.msg);
    /* Replay the same history here: a <- omega a + x, b <- omega b + 1 - x
     * for every trial, from a = m n, b = (1 - m) n. */
    fixture_ctx f;
    fixture_ctx_open(&f, p, 0);
    uint16_t *cls = malloc((size_t)p->periods * sizeof *cls);
    double a = 0.3 * 4, b = 0.7 * 4, a_late = 0.3 * 4, b_late = 0.7 * 4;
    int last = f.env.regime[0], born = 250;
    for (int t = 0; t < p->periods; t++) {
        tm_env_advance(&f.env, t, NULL);
        if (t > 0 && last == 0) {
            double x = f.env.regime[0] > last;
            a = 0.98 * a + x;
            b = 0.98 * b + (1.0 - x);
            if (t > born) {
                a_late = 0.98 * a_late + x;
                b_late = 0.98 * b_late + (1.0 - x);
            }
        }
        last = f.env.regime[0];
        f.ctx.period = t;
        tm_model_learning.belief_classes(state, &f.ctx, 0, t + 1, cls);
    }
    cr_expect_float_eq(tm_learning_hazard_mean(state, 0, 0, 0), a / (a + b), 1e-12);
    cr_expect_float_eq(tm_learning_hazard_mean(state, 0, born, 0), a_late / (a_late + b_late), 1e-12);
    /* An entrant of the last period starts from the prior. */
    cr_expect_float_eq(tm_learning_hazard_mean(state, 0, p->periods - 1, 0), 0.3, 1e-15);
    free(cls);
    fixture_ctx_close(&f);
    tm_model_learning.free(state);
    tm_params_free(p);
}

Test(learning, pessimistic_sector_prior_raises_the_entry_cutoff)
{
    /* Two sectors alike but for the prior: hazard 0.02 vs 0.18 a period. */
    static const char *text =
        "run: {model: learning, periods: 4, burn_in: 0}\n"
        "productivity: {grid: 201}\n"
        "decision: {discount: 0.95, belief_points: 11, hazard_max: 0.2}\n"
        "sectors:\n"
        "  calm: {persistence: 0.9, volatility: 0.1, death_rate: 0.02, hazard_prior_mean: 0.02}\n"
        "  wary: {persistence: 0.9, volatility: 0.1, death_rate: 0.02, hazard_prior_mean: 0.18}\n"
        "destinations:\n"
        "  US:\n"
        "    market: {demand: 1, fixed_cost: 1, sunk_cost: 3}\n"
        "    regimes: {low: {tariff: 0}, high: {tariff: 0.5}}\n"
        "    transition: [[0.95, 0.05], [0.2, 0.8]]\n";
    tm_params *p = load(text, NULL, 0);
    void *state = NULL;
    tm_error err = {0};
    cr_assert_eq(tm_model_open(&tm_model_learning, p, 1, &state, &err), 0, "%s", err.msg);
    tm_policy_summary calm, wary;
    tm_model_learning.summary(state, 0, &calm);
    tm_model_learning.summary(state, 1, &wary);
    cr_expect_lt(calm.entry_cutoff[0], wary.entry_cutoff[0], "entry cut-offs in regime low: calm %g, wary %g",
                 calm.entry_cutoff[0], wary.entry_cutoff[0]);
    tm_model_learning.free(state);
    tm_params_free(p);
}
