/* test_dynamic: the forward-looking model against what the theory says:
 * the static limit (Melitz cut-off rule), hysteresis (Dixit 1989), trade
 * policy uncertainty (Handley and Limao), the exact stationary distribution
 * of the simulated chain, and foreseen versus unforeseen events. Expected
 * values follow docs/model.md. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/economy.h"
#include "engine/env.h"
#include "engine/grid.h"
#include "models/model.h"
#include "engine/policy.h"
#include "engine/run.h"
#include "fixtures.h"

/* ------------------------------------------------------------------------
 * Fixtures
 * ---------------------------------------------------------------------- */

/* One sector, one destination with one regime; tests override with --set
 * style keys. */
static const char *one_market =
    "run: {model: dynamic, periods: 4, burn_in: 0, seed: 7}\n"
    "productivity: {grid: 201}\n"
    "decision: {discount: 0.95, tolerance: 1e-9}\n"
    "sectors:\n"
    "  a: {firms: 1000, persistence: 0.9, volatility: 0.1, death_rate: 0.02}\n"
    "destinations:\n"
    "  US:\n"
    "    market: {demand: 1, iceberg: 1, fixed_cost: 1, sunk_cost: 2}\n"
    "    regimes:\n"
    "      low: {tariff: 0}\n";

/* Two destinations, one regime each. */
static const char *two_markets =
    "run: {model: dynamic, periods: 4, burn_in: 0, seed: 7}\n"
    "productivity: {grid: 101}\n"
    "decision: {discount: 0.95, tolerance: 1e-9}\n"
    "sectors:\n"
    "  a: {firms: 1000, persistence: 0.9, volatility: 0.15, death_rate: 0.02}\n"
    "destinations:\n"
    "  US:\n"
    "    market: {demand: 1, iceberg: 1, fixed_cost: 1, sunk_cost: 0}\n"
    "    regimes:\n"
    "      low: {tariff: 0}\n"
    "  CN:\n"
    "    market: {demand: 0.6, iceberg: 1.1, fixed_cost: 0.8, sunk_cost: 0}\n"
    "    regimes:\n"
    "      low: {tariff: 0.05}\n";

/* One destination whose tariff may rise: regime `low` (0) or `high`. */
static const char *uncertain_market =
    "run: {model: dynamic, periods: 4, burn_in: 0, seed: 7}\n"
    "productivity: {grid: 201}\n"
    "decision: {discount: 0.95, tolerance: 1e-9}\n"
    "sectors:\n"
    "  a: {firms: 1000, persistence: 0.9, volatility: 0.1, death_rate: 0.02}\n"
    "destinations:\n"
    "  US:\n"
    "    market: {demand: 1, iceberg: 1, fixed_cost: 1, sunk_cost: 3}\n"
    "    regimes:\n"
    "      low: {tariff: 0}\n"
    "      high: {tariff: 0.5}\n"
    "    transition:\n"
    "      - [0.95, 0.05]\n"
    "      - [0.05, 0.95]\n";

static tm_params *load(const char *text, const char *const *sets, int n_sets)
{
    return fixture_params("test", text, sets, n_sets);
}

#define load1(text, set) fixture_params_set("test", text, set)

/* Values of `model` for the fixture's period; argmax into choice[z*n_sets+prev]. */
static void model_choices(fixture_ctx *f, const tm_model_ops *model, uint8_t *choice)
{
    void *state = NULL;
    tm_error err = {0};
    cr_assert_eq(tm_model_open(model, f->p, 1, &state, &err), 0, "%s init: %s", model->name, err.msg);
    cr_assert_eq(model->values(state, &f->ctx, f->value, &err), 0, "%s values: %s", model->name, err.msg);
    tm_policy pol;
    cr_assert_eq(tm_policy_alloc(&pol, f->n_z, f->n_sets, 0), 0);
    tm_policy_build(&pol, f->value, 0.0);
    memcpy(choice, pol.choice, (size_t)f->n_z * (size_t)f->n_sets);
    tm_policy_free(&pol);
    model->free(state);
}

#define cutoffs fixture_cutoffs

/* ------------------------------------------------------------------------
 * Static limit
 * ---------------------------------------------------------------------- */

static void expect_dynamic_equals_myopic(const char *text, const char *const *sets, int n_sets)
{
    tm_params *p = load(text, sets, n_sets);
    fixture_ctx f;
    fixture_ctx_open(&f, p, 0);
    size_t cells = (size_t)f.n_z * (size_t)f.n_sets;
    uint8_t *dyn = malloc(cells), *myo = malloc(cells);
    cr_assert(dyn && myo);
    model_choices(&f, &tm_model_dynamic, dyn);
    model_choices(&f, &tm_model_myopic, myo);
    for (int iz = 0; iz < f.n_z; iz++)
        for (int prev = 0; prev < f.n_sets; prev++)
            cr_expect_eq(dyn[iz * f.n_sets + prev], myo[iz * f.n_sets + prev], "z index %d, previous set %d: %d vs %d",
                         iz, prev, dyn[iz * f.n_sets + prev], myo[iz * f.n_sets + prev]);
    free(dyn);
    free(myo);
    fixture_ctx_close(&f);
    tm_params_free(p);
}

Test(dynamic, static_limit_choice_equals_myopic_at_every_grid_point)
{
    expect_dynamic_equals_myopic(two_markets, NULL, 0);
}

Test(dynamic, static_limit_choice_equals_myopic_with_capacity_constraint)
{
    const char *sets[] = {"capacity.elasticity=0.5"};
    expect_dynamic_equals_myopic(two_markets, sets, 1);
}

Test(dynamic, static_limit_cutoff_is_the_melitz_cutoff)
{
    /* F = 0, one regime: a firm serves US iff exp((sigma-1) z) a > f, with
     * a = B tau^(1-sigma) (1+t)^(-sigma) (docs/model.md eq. 2); a tie goes
     * to the smaller set. f = 1 would make z = 0 a tie. */
    const char *sets[] = {"destinations.US.market.sunk_cost=0", "destinations.US.market.fixed_cost=1.1"};
    tm_params *p = load(one_market, sets, 2);
    double entry, exit_cut;
    cutoffs(p, 0, 0, &entry, &exit_cut);
    cr_expect_eq(entry, exit_cut);
    const tm_sector *ps = &p->sector[0];
    int n = p->grid_points;
    double *z = malloc((size_t)n * sizeof(double)), *P = malloc((size_t)n * (size_t)n * sizeof(double));
    tm_grid_rouwenhorst(n, ps->persistence, ps->volatility, z, P);
    double a = tm_econ_weight(ps->market[0].demand, ps->market[0].iceberg, 0.0, p->elasticity);
    double expected = INFINITY;
    for (int i = 0; i < n; i++)
        if (exp((p->elasticity - 1.0) * z[i]) * a - ps->market[0].fixed_cost > 0.0) {
            expected = z[i];
            break;
        }
    cr_expect_eq(entry, expected, "cut-off %g, Melitz %g", entry, expected);
    free(z);
    free(P);
    tm_params_free(p);
}

Test(dynamic, static_limit_participation_matches_closed_form)
{
    const char *sets[] = {"destinations.US.market.sunk_cost=0", "sectors.a.firms=200000", "run.burn_in=5"};
    tm_params *p = load(one_market, sets, 3);
    double entry, exit_cut;
    cutoffs(p, 0, 0, &entry, &exit_cut);
    const tm_sector *ps = &p->sector[0];
    int n = p->grid_points;
    double *z = malloc((size_t)n * sizeof(double)), *P = malloc((size_t)n * (size_t)n * sizeof(double));
    double *pi = malloc((size_t)n * sizeof(double));
    tm_grid_rouwenhorst(n, ps->persistence, ps->volatility, z, P);
    cr_assert_eq(tm_grid_stationary(n, P, pi, 1e-14, 1000000), 0);
    double share = 0.0;
    for (int i = 0; i < n; i++)
        if (z[i] >= entry)
            share += pi[i];
    cr_assert(share > 0.05 && share < 0.95, "closed-form participation %g: choose another calibration", share);
    fixture_path sim;
    fixture_simulate(p, &sim);
    /* Firms are independent draws from the stationary law: binomial error. */
    double sd = sqrt(share * (1.0 - share) / (double)ps->firms);
    for (int t = 0; t < sim.periods; t++) {
        double got = (double)sim.serving[t][0] / (double)ps->firms;
        cr_expect(fabs(got - share) < 4.0 * sd, "period %d: simulated %g, closed form %g (sd %g)", t, got, share, sd);
    }
    free(z);
    free(P);
    free(pi);
    tm_params_free(p);
}

/* ------------------------------------------------------------------------
 * Hysteresis (Dixit 1989)
 * ---------------------------------------------------------------------- */

static double band(const char *text, const char *set_a, const char *set_b)
{
    const char *sets[] = {set_a, set_b};
    tm_params *p = load(text, sets, set_b ? 2 : set_a ? 1 : 0);
    double entry, exit_cut;
    cutoffs(p, 0, 0, &entry, &exit_cut);
    tm_params_free(p);
    cr_assert(isfinite(entry) && isfinite(exit_cut), "cut-offs %g, %g outside the grid", entry, exit_cut);
    return entry - exit_cut;
}

Test(dynamic, hysteresis_entry_cutoff_is_above_exit_cutoff_with_sunk_cost)
{
    cr_expect_gt(band(one_market, NULL, NULL), 0.0);
}

Test(dynamic, hysteresis_band_widens_as_sunk_cost_grows)
{
    double b1 = band(one_market, "destinations.US.market.sunk_cost=0.5", NULL);
    double b2 = band(one_market, "destinations.US.market.sunk_cost=2", NULL);
    double b3 = band(one_market, "destinations.US.market.sunk_cost=5", NULL);
    cr_expect(0.0 < b1 && b1 < b2 && b2 < b3, "bands %g, %g, %g", b1, b2, b3);
}

Test(dynamic, hysteresis_band_widens_as_volatility_grows)
{
    double b1 = band(one_market, "sectors.a.volatility=0.05", NULL);
    double b2 = band(one_market, "sectors.a.volatility=0.1", NULL);
    double b3 = band(one_market, "sectors.a.volatility=0.2", NULL);
    cr_expect(0.0 < b1 && b1 < b2 && b2 < b3, "bands %g, %g, %g", b1, b2, b3);
}

/* ------------------------------------------------------------------------
 * Trade-policy uncertainty (Handley and Limao)
 * ---------------------------------------------------------------------- */

static double entry_in_low_regime(const char *hike_row, const char *high_tariff)
{
    const char *sets[2];
    int n = 0;
    if (hike_row)
        sets[n++] = hike_row;
    if (high_tariff)
        sets[n++] = high_tariff;
    tm_params *p = load(uncertain_market, sets, n);
    double entry, exit_cut;
    cutoffs(p, 0, 0, &entry, &exit_cut);
    tm_params_free(p);
    return entry;
}

Test(dynamic, entry_falls_when_hike_probability_rises)
{
    /* Today's tariff (regime low, 0%) is the same in the three cases. */
    double e1 = entry_in_low_regime("destinations.US.transition=[[0.995, 0.005], [0.05, 0.95]]", NULL);
    double e2 = entry_in_low_regime("destinations.US.transition=[[0.95, 0.05], [0.05, 0.95]]", NULL);
    double e3 = entry_in_low_regime("destinations.US.transition=[[0.8, 0.2], [0.05, 0.95]]", NULL);
    cr_expect(e1 < e2 && e2 < e3, "entry cut-offs %g, %g, %g", e1, e2, e3);
}

Test(dynamic, entry_rises_when_worst_case_tariff_falls)
{
    /* A 20% chance a quarter of the hike; beyond about 30% the marginal
     * entrant would leave anyway, so the worst case stops mattering. */
    const char *hike = "destinations.US.transition=[[0.8, 0.2], [0.05, 0.95]]";
    double worst_high = entry_in_low_regime(hike, "destinations.US.regimes.high.tariff=0.5");
    double worst_low = entry_in_low_regime(hike, "destinations.US.regimes.high.tariff=0.1");
    cr_expect_lt(worst_low, worst_high, "entry cut-off %g with a 10%% worst case, %g with 50%%", worst_low, worst_high);
}

/* ------------------------------------------------------------------------
 * The stationary distribution of the simulated chain
 * ---------------------------------------------------------------------- */

/* Exact stationary law of (z, S) after the decision, from the choice
 * probabilities: a firm dies with probability delta and is replaced by an
 * entrant drawn from the stationary law of z, with S_prev = {}; otherwise
 * z moves by P and S_prev is last period's S. */
static void exact_distribution(const fixture_ctx *f, const double *prob, double *mu)
{
    int n_z = f->n_z, M = f->n_sets;
    double delta = f->p->sector[0].death_rate;
    double *pi = malloc((size_t)n_z * sizeof(double)), *next = malloc((size_t)n_z * (size_t)M * sizeof(double));
    cr_assert_eq(tm_grid_stationary(n_z, f->P, pi, 1e-15, 1000000), 0);
    for (int i = 0; i < n_z * M; i++)
        mu[i] = i % M == 0 ? pi[i / M] : 0.0;
    for (int it = 0; it < 100000; it++) {
        memset(next, 0, (size_t)n_z * (size_t)M * sizeof(double));
        for (int iz = 0; iz < n_z; iz++)
            for (int prev = 0; prev < M; prev++) {
                double mass = mu[iz * M + prev];
                for (int jz = 0; jz < n_z; jz++) {
                    double q = (1.0 - delta) * f->P[iz * n_z + jz] * mass;
                    if (q == 0.0)
                        continue;
                    const double *pr = prob + ((size_t)jz * (size_t)M + (size_t)prev) * (size_t)M;
                    for (int S = 0; S < M; S++)
                        next[jz * M + S] += q * pr[S];
                }
            }
        for (int jz = 0; jz < n_z; jz++) {
            const double *pr = prob + (size_t)jz * (size_t)M * (size_t)M;
            for (int S = 0; S < M; S++)
                next[jz * M + S] += delta * pi[jz] * pr[S];
        }
        double change = 0.0;
        for (int i = 0; i < n_z * M; i++) {
            change += fabs(next[i] - mu[i]);
            mu[i] = next[i];
        }
        if (change < 1e-13)
            break;
    }
    free(pi);
    free(next);
}

static void expect_simulation_matches_exact(const char *logit)
{
    const char *sets[] = {"destinations.US.market.sunk_cost=2",
                          "destinations.CN.market.sunk_cost=1.5",
                          "sectors.a.firms=100000",
                          "run.burn_in=300",
                          "sectors.a.death_rate=0.05",
                          logit};
    tm_params *p = load(two_markets, sets, logit ? 6 : 5);
    fixture_ctx f;
    fixture_ctx_open(&f, p, 0);
    void *state = NULL;
    tm_error err = {0};
    cr_assert_eq(tm_model_open(&tm_model_dynamic, p, 1, &state, &err), 0, "%s", err.msg);
    cr_assert_eq(tm_model_dynamic.values(state, &f.ctx, f.value, &err), 0, "%s", err.msg);
    tm_model_dynamic.free(state);
    int M = f.n_sets;
    double *prob = malloc((size_t)f.n_z * (size_t)M * (size_t)M * sizeof(double));
    double *mu = malloc((size_t)f.n_z * (size_t)M * sizeof(double));
    tm_policy_probabilities(f.value, f.n_z, M, p->logit_scale, prob);
    exact_distribution(&f, prob, mu);
    fixture_path sim;
    fixture_simulate(p, &sim);
    double n = (double)p->sector[0].firms;
    for (int S = 0; S < M; S++) {
        double share = 0.0;
        for (int iz = 0; iz < f.n_z; iz++)
            share += mu[iz * M + S];
        double sd = sqrt(share * (1.0 - share) / n);
        for (int t = 0; t < sim.periods; t++) {
            double got = (double)sim.by_set[t][S] / n;
            cr_expect(fabs(got - share) < 4.0 * sd + 1e-12, "set %d, period %d: simulated %g, exact %g (sd %g)", S, t,
                      got, share, sd);
        }
    }
    free(prob);
    free(mu);
    fixture_ctx_close(&f);
    tm_params_free(p);
}

Test(dynamic, stationary_market_sets_match_exact_distribution_of_policy_chain)
{
    expect_simulation_matches_exact(NULL);
}

Test(dynamic, stationary_market_sets_match_exact_distribution_with_logit_noise)
{
    expect_simulation_matches_exact("decision.logit_scale=0.3");
}

/* ------------------------------------------------------------------------
 * Events: foreseen and unforeseen
 * ---------------------------------------------------------------------- */

static const char *hike_event =
    "events:\n"
    "  - {at: 2024Q1, destination: US, tariff: 0.6, anticipated: %s}\n";

static tm_params *with_hike(const char *anticipated)
{
    char text[4096], events[256];
    snprintf(events, sizeof events, hike_event, anticipated);
    snprintf(text, sizeof text, "%s%s", one_market, events);
    /* The event is 12 periods after start: periods 0..11 come before it. */
    const char *sets[] = {"run.start=2021Q1", "run.periods=16", "run.burn_in=200", "sectors.a.firms=100000"};
    return load(text, sets, 4);
}

Test(dynamic, anticipated_hike_lowers_pre_event_entry)
{
    fixture_path a, b;
    fixture_expect_foresight_lowers_entry(with_hike("true"), with_hike("false"), 12, &a, &b);
    cr_expect_lt(a.serving[11][0], b.serving[11][0]);
}

Test(dynamic, unanticipated_event_leaves_pre_event_path_unchanged)
{
    tm_params *surprise = with_hike("false");
    const char *sets[] = {"run.start=2021Q1", "run.periods=16", "run.burn_in=200", "sectors.a.firms=100000"};
    tm_params *none = load(one_market, sets, 4);
    fixture_path a, b;
    fixture_simulate(surprise, &a);
    fixture_simulate(none, &b);
    fixture_expect_same_path(&a, &b, 12);
    /* After the surprise the policy is solved again: fewer firms serve. */
    cr_expect_lt(a.serving[15][0], b.serving[15][0]);
    tm_params_free(surprise);
    tm_params_free(none);
}

Test(dynamic, foreseen_hike_raises_entry_cutoff_as_the_date_nears)
{
    tm_params *p = with_hike("true");
    fixture_ctx f;
    fixture_ctx_open(&f, p, 0);
    void *state = NULL;
    tm_error err = {0};
    cr_assert_eq(tm_model_open(&tm_model_dynamic, p, 1, &state, &err), 0, "%s", err.msg);
    int M = f.n_sets, previous_cut = -1;
    for (int t = 0; t < 12; t++) {
        f.ctx.period = t;
        cr_assert_eq(tm_model_dynamic.values(state, &f.ctx, f.value, &err), 0, "%s", err.msg);
        int cut = f.n_z;
        for (int iz = 0; iz < f.n_z && cut == f.n_z; iz++) {
            const double *v = f.value + (size_t)iz * (size_t)M * (size_t)M; /* S_prev = {} */
            if (v[1] > v[0])
                cut = iz;
        }
        cr_expect_geq(cut, previous_cut, "period %d: entry cut-off index %d after %d", t, cut, previous_cut);
        previous_cut = cut;
    }
    tm_model_dynamic.free(state);
    fixture_ctx_close(&f);
    tm_params_free(p);
}

static tm_params *with_regime_switch(const char *anticipated)
{
    char text[4096];
    snprintf(text, sizeof text,
             "%sevents:\n  - {at: 2024Q1, destination: US, regime: high, hold: true, anticipated: %s}\n",
             uncertain_market, anticipated);
    const char *sets[] = {"run.start=2021Q1",
                          "run.periods=16",
                          "run.burn_in=200",
                          "sectors.a.firms=100000",
                          "destinations.US.transition=[[0.995, 0.005], [0.05, 0.95]]",
                          "destinations.US.regimes.high.tariff=0.6"};
    return load(text, sets, 6);
}

Test(dynamic, anticipated_regime_switch_lowers_pre_event_entry)
{
    /* A switch to the 60% regime, held from period 12: foreseen, the regime
     * law from period 11 to 12 is forced and the held regime no longer
     * moves, so the value of entering falls as the date nears. */
    fixture_path a, b;
    fixture_expect_foresight_lowers_entry(with_regime_switch("true"), with_regime_switch("false"), 12, &a, &b);
}

/* ------------------------------------------------------------------------
 * Solver
 * ---------------------------------------------------------------------- */

Test(dynamic, non_convergence_is_a_runtime_error_with_the_residual)
{
    tm_params *p = load1(one_market, "decision.max_iterations=3");
    void *state = NULL;
    tm_error err = {0};
    cr_expect_eq(tm_model_open(&tm_model_dynamic, p, 1, &state, &err), -1);
    cr_expect_eq(err.status, TM_ERR_RUNTIME);
    cr_expect(strstr(err.msg, "did not converge in 3 iterations") && strstr(err.msg, "error bound"), "%s", err.msg);
    cr_expect_null(state);
    tm_params_free(p);
}

Test(dynamic, solution_does_not_depend_on_thread_count)
{
    tm_params *p = load1(uncertain_market, NULL);
    double cuts[2][2];
    for (int k = 0; k < 2; k++) {
        void *state = NULL;
        tm_error err = {0};
        cr_assert_eq(tm_model_open(&tm_model_dynamic, p, k ? 2 : 1, &state, &err), 0, "%s", err.msg);
        tm_policy_summary sum;
        tm_model_dynamic.summary(state, 0, &sum);
        cuts[k][0] = sum.entry_cutoff[0];
        cuts[k][1] = sum.residual;
        tm_model_dynamic.free(state);
    }
    cr_expect_eq(cuts[0][0], cuts[1][0]);
    cr_expect_eq(cuts[0][1], cuts[1][1]);
    tm_params_free(p);
}

/* ctest runs the unit tests with OMP_NUM_THREADS=2: 1 and 3 threads are
 * what the caller asked for, not the process-wide OpenMP setting. */
Test(dynamic, start_of_run_solve_runs_on_the_threads_it_is_given)
{
    tm_params *p = load1(uncertain_market, NULL);
    for (int threads = 1; threads <= 3; threads += 2) {
        void *state = NULL;
        tm_error err = {0};
        cr_assert_eq(tm_model_open(&tm_model_dynamic, p, threads, &state, &err), 0, "%s", err.msg);
        tm_policy_summary sum;
        tm_model_dynamic.summary(state, 0, &sum);
        cr_expect_eq(sum.threads, threads, "asked for %d threads, the solve ran on %d", threads, sum.threads);
        tm_model_dynamic.free(state);
    }
    tm_params_free(p);
}

Test(dynamic, a_run_solves_its_model_on_the_run_threads)
{
    tm_params *p = load1(uncertain_market, NULL);
    for (int threads = 1; threads <= 3; threads += 2) {
        tm_run *run = fixture_run(p, threads);
        const void *state = NULL;
        const tm_model_ops *model = tm_run_model(run, &state);
        tm_policy_summary sum;
        model->summary(state, 0, &sum);
        cr_expect_eq(sum.threads, threads, "--threads %d, the solve ran on %d", threads, sum.threads);
        tm_run_close(run);
    }
    tm_params_free(p);
}

/* The design's benchmark case: 201 grid points, 2 destinations with 3
 * regimes each, at quarterly values like the Canadian baseline's. */
static const char *benchmark_case =
    "run: {model: dynamic, periods: 1, burn_in: 0}\n"
    "productivity: {grid: 201}\n"
    "decision: {discount: 0.99}\n"
    "sectors:\n"
    "  a: {firms: 10, persistence: 0.97, volatility: 0.1, death_rate: 0.015}\n"
    "destinations:\n"
    "  US:\n"
    "    market: {demand: 1, fixed_cost: 1.8, sunk_cost: 6.6}\n"
    "    regimes: {free: {tariff: 0}, threat: {tariff: 0}, tariffs: {tariff: 0.25}}\n"
    "    transition: [[0.99, 0.01, 0.0], [0.1, 0.7, 0.2], [0.03, 0.07, 0.9]]\n"
    "  CN:\n"
    "    market: {demand: 0.3, fixed_cost: 1.8, sunk_cost: 6.6}\n"
    "    regimes: {normal: {tariff: 0}, duties: {tariff: 0.25}, ban: {closed: true}}\n"
    "    transition: [[0.99, 0.008, 0.002], [0.05, 0.93, 0.02], [0.05, 0.05, 0.9]]\n";

/* The cut-offs of the benchmark case (`decision.solver` auto or joint) in
 * every joint regime, and the error bound each solve reached. Its solve
 * time is a benchmark figure (`tradeabm bench`, dp_solve_s), not a test. */
typedef struct {
    double entry[9 * 2], exit_cut[9 * 2], residual, tolerance;
} benchmark_solution;

static void solve_benchmark_case(const char *solver, benchmark_solution *out)
{
    tm_params *p = load1(benchmark_case, solver);
    void *state = NULL;
    tm_error err = {0};
    cr_assert_eq(tm_model_open(&tm_model_dynamic, p, 1, &state, &err), 0, "%s", err.msg);
    tm_policy_summary sum;
    cr_assert_eq(tm_model_dynamic.summary(state, 0, &sum), 0);
    cr_assert_eq(sum.n_joint, 9);
    memcpy(out->entry, sum.entry_cutoff, sizeof out->entry);
    memcpy(out->exit_cut, sum.exit_cutoff, sizeof out->exit_cut);
    out->residual = sum.residual;
    out->tolerance = p->dp_tolerance;
    tm_model_dynamic.free(state);
    tm_params_free(p);
}

Test(dynamic, benchmark_case_separable_and_joint_solvers_give_the_same_cutoffs)
{
    /* Without a capacity constraint the joint programme is the sum of one
     * programme per destination (docs/model.md, "Independent markets"), so
     * both solvers reach the same policy: every cut-off is the same grid
     * point, within each solver's error bound. */
    benchmark_solution sep, joint;
    solve_benchmark_case(NULL, &sep);
    solve_benchmark_case("decision.solver=joint", &joint);
    cr_expect_lt(sep.residual, sep.tolerance);
    cr_expect_lt(joint.residual, joint.tolerance);
    for (int k = 0; k < 9 * 2; k++) {
        cr_expect_eq(sep.entry[k], joint.entry[k], "joint regime %d, destination %d: entry %g vs %g", k / 2, k % 2,
                     sep.entry[k], joint.entry[k]);
        cr_expect_eq(sep.exit_cut[k], joint.exit_cut[k], "joint regime %d, destination %d: exit %g vs %g", k / 2, k % 2,
                     sep.exit_cut[k], joint.exit_cut[k]);
    }
}

Test(dynamic, benchmark_case_us_entry_cutoff_rises_with_the_tariff_threat)
{
    /* US regimes free, threat (no tariff yet, 20% a quarter of moving to
     * the 25% tariff) and tariffs, with CN in `normal` (joint regime
     * r_US + 3 r_CN): entering the US is worth less the nearer the tariff,
     * so the entry cut-off rises from free to threat to tariffs; with a
     * sunk cost, exit happens below entry (hysteresis). */
    benchmark_solution sol;
    solve_benchmark_case(NULL, &sol);
    const double *entry = sol.entry, *exit_cut = sol.exit_cut;
    cr_assert(isfinite(entry[2 * 2]), "the tariffs regime must have entry inside the grid");
    cr_expect_lt(entry[0 * 2], entry[1 * 2], "entry free %g, threat %g", entry[0], entry[2]);
    cr_expect_lt(entry[1 * 2], entry[2 * 2], "entry threat %g, tariffs %g", entry[2], entry[4]);
    for (int r = 0; r < 3; r++)
        cr_expect_lt(exit_cut[r * 2], entry[r * 2], "US regime %d: exit %g, entry %g", r, exit_cut[r * 2],
                     entry[r * 2]);
}
