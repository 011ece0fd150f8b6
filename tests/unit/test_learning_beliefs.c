/* test_learning_beliefs: learning firms whose belief lies between hazard
 * grid points (decision.belief_interpolation: linear, docs/model.md eq.
 * 13a) and learning from peers (decision.peer_weight, eq. 12b). */
#include <criterion/criterion.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "models/model.h"

/* One destination whose market may close (regime high), the parameters'
 * hazard of closing h, reopening 0.05 a period; the default hazard grid
 * {0, 0.125, 0.25, 0.375, 0.5} (decision.belief_points 5, hazard_max
 * 0.5). A prior of weight 1e12 at mean h keeps the firms' belief at h. */
static const char *one_market =
    "run: {model: learning, periods: 12, burn_in: 4, seed: 5}\n"
    "productivity: {grid: 401}\n"
    "decision: {discount: 0.99, tolerance: 1e-8, belief_interpolation: %s}\n"
    "sectors:\n"
    "  a: {firms: 1000, persistence: 0.95, volatility: 0.1, death_rate: 0.02,\n"
    "      hazard_prior_mean: %.17g, hazard_prior_strength: 1e12}\n"
    "destinations:\n"
    "  US:\n"
    "    market: {demand: 1, fixed_cost: 1, sunk_cost: 8}\n"
    "    regimes: {low: {tariff: 0}, high: {tariff: 0, closed: true}}\n"
    "    transition: [[%.17g, %.17g], [0.05, 0.95]]\n";

static tm_params *one_market_params(const char *mode, double h)
{
    return fixture_params_fmt("test", NULL, 0, one_market, mode, h, 1.0 - h, h);
}

/* Lowest grid index at which a firm serving nothing enters (ties go to the
 * empty set), from values laid out [z][state][set] with one destination. */
static int entry_index(const double *v, int n_z)
{
    for (int iz = 0; iz < n_z; iz++)
        if (v[(size_t)iz * 4 + 1] > v[(size_t)iz * 4])
            return iz;
    return n_z;
}

/* Values at the start of the run, regime low, of the prior's cohort of a
 * learning model (and of the dynamic model that knows the hazard). */
static void start_values(const tm_params *p, const tm_model_ops *model, double *value)
{
    fixture_ctx f;
    fixture_ctx_open(&f, p, 0);
    void *state = NULL;
    tm_error err = {0};
    cr_assert_eq(tm_model_open(model, p, 1, &state, &err), 0, "%s", err.msg);
    if (model->belief_classes) {
        uint16_t cls;
        /* Linear: the one slot in use (every cohort holds the prior); nearest: every grid class. */
        int in_use = p->belief_interpolation == TM_BELIEF_LINEAR ? 1 : p->belief_points;
        cr_assert_eq(model->belief_classes(state, &f.ctx, -p->burn_in, 1, &cls), in_use);
        f.ctx.belief_class = cls;
    }
    cr_assert_eq(model->values(state, &f.ctx, value, &err), 0, "%s", err.msg);
    model->free(state);
    fixture_ctx_close(&f);
}

/* docs/model.md section 9: a firm whose belief equals the true hazard h
 * chooses as the dynamic firm at h; with linear interpolation its entry
 * cut-off is within one productivity grid step (0.032 log points) of the
 * dynamic one at the baseline's quarterly hazards and at 0.05. The nearest
 * grid point (0) misses the cut-off at 0.05 by two steps, so the setup
 * can tell the rules apart. */
Test(learning_beliefs, interpolated_beliefs_price_small_hazards_like_the_dynamic_firm)
{
    const double hazards[] = {0.002, 0.01, 0.02, 0.05};
    for (int i = 0; i < 4; i++) {
        tm_params *lin = one_market_params("linear", hazards[i]), *near = one_market_params("nearest", hazards[i]);
        size_t n = (size_t)lin->grid_points * 4;
        double *vl = malloc(n * sizeof(double)), *vn = malloc(n * sizeof(double)), *vd = malloc(n * sizeof(double));
        start_values(lin, &tm_model_learning, vl);
        start_values(near, &tm_model_learning, vn);
        start_values(lin, &tm_model_dynamic, vd);
        int a = entry_index(vl, lin->grid_points), b = entry_index(vd, lin->grid_points);
        cr_expect_leq(abs(a - b), 1, "hazard %g: linear entry index %d, dynamic %d", hazards[i], a, b);
        if (hazards[i] == 0.05)
            cr_expect_geq(abs(entry_index(vn, lin->grid_points) - b), 2,
                          "hazard 0.05: the nearest point should miss the dynamic cut-off (%d vs %d)",
                          entry_index(vn, lin->grid_points), b);
        free(vl);
        free(vn);
        free(vd);
        tm_params_free(lin);
        tm_params_free(near);
    }
}

/* Eq. 13a: a belief of 0.05 lies 0.4 of the way from grid point 0 to grid
 * point 1 (0.125), so its values are 0.6 v_0 + 0.4 v_1 (eq. 10a is linear
 * in E[V]). The two sides round differently: each value is a sum of a few
 * terms of size at most |v_0| + |v_1| + |flow| + |cost|, each rounded once
 * (relative error 2^-53), so 16 DBL_EPSILON of that size bounds the gap. */
Test(learning_beliefs, interpolated_values_mix_the_neighbouring_grid_points)
{
    tm_params *lin = one_market_params("linear", 0.05);
    tm_params *at0 = one_market_params("nearest", 0.0), *at1 = one_market_params("nearest", 0.125);
    size_t n = (size_t)lin->grid_points * 4;
    double *v = malloc(n * sizeof(double)), *v0 = malloc(n * sizeof(double)), *v1 = malloc(n * sizeof(double));
    /* The classes of the nearest model at priors 0 and 0.125 are grid
     * points 0 and 1 of the same programme (the parameters' matrix does
     * not enter eq. 13 beyond its shape here). */
    start_values(lin, &tm_model_learning, v);
    start_values(at0, &tm_model_learning, v0);
    start_values(at1, &tm_model_learning, v1);
    int compared = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i]) || !isfinite(v0[i])) {
            cr_expect(isinf(v[i]) && isinf(v0[i]) && isinf(v1[i]), "cell %zu: infeasible in one only", i);
            continue;
        }
        double want = 0.6 * v0[i] + 0.4 * v1[i];
        double size = fabs(v0[i]) + fabs(v1[i]) + 16.0; /* flow and cost of this setup are below 16 in size */
        cr_expect_leq(fabs(v[i] - want), 16.0 * DBL_EPSILON * size, "cell %zu: %.17g vs %.17g", i, v[i], want);
        compared++;
    }
    cr_expect_gt(compared, 100);
    free(v);
    free(v0);
    free(v1);
    tm_params_free(lin);
    tm_params_free(at0);
    tm_params_free(at1);
}

/* A belief on a grid point uses that point's values alone (corners of
 * weight 0 are left out), bit for bit. */
Test(learning_beliefs, a_belief_on_a_grid_point_gives_the_nearest_values_exactly)
{
    tm_params *lin = one_market_params("linear", 0.125), *near = one_market_params("nearest", 0.125);
    size_t n = (size_t)lin->grid_points * 4;
    double *a = malloc(n * sizeof(double)), *b = malloc(n * sizeof(double));
    start_values(lin, &tm_model_learning, a);
    start_values(near, &tm_model_learning, b);
    cr_expect_eq(memcmp(a, b, n * sizeof(double)), 0);
    free(a);
    free(b);
    tm_params_free(lin);
    tm_params_free(near);
}

/* ---- learning from peers ------------------------------------------------ */

static const char *peers_text =
    "run: {model: learning, periods: 10, burn_in: 2, seed: 9}\n"
    "productivity: {grid: 11}\n"
    "decision: {forgetting: 1, peer_weight: %s}\n"
    "sectors:\n"
    "  a: {hazard_prior_mean: 0.1, hazard_prior_strength: 10}\n"
    "destinations:\n"
    "  US:\n"
    "    regimes: {low: {tariff: 0}, high: {tariff: 0.5}}\n"
    "    transition: [[1, 0], [0.5, 0.5]]\n";

/* Feeds periods 0..n-1 with regime low throughout (the parameters' hazard
 * is 0, so the environment never escalates) and the share of peers
 * serving US given by share[t] (NULL: the context has none); returns the
 * posterior mean of the cohort born at -burn_in. */
static double belief_after(const char *weight, const double *share, int n)
{
    tm_params *p = fixture_params_fmt("test", NULL, 0, peers_text, weight);
    fixture_ctx f;
    fixture_ctx_open(&f, p, 0);
    void *state = NULL;
    tm_error err = {0};
    cr_assert_eq(tm_model_open(&tm_model_learning, p, 1, &state, &err), 0, "%s", err.msg);
    uint16_t cls[64];
    for (int t = 0; t < n; t++) {
        tm_env_advance(&f.env, t, NULL);
        cr_assert_eq(f.env.regime[0], 0);
        double m[TM_MAX_DEST] = {share ? share[t] : 0.0};
        f.ctx.period = t;
        f.ctx.share_serving = share ? m : NULL;
        tm_model_learning.belief_classes(state, &f.ctx, -p->burn_in, t + p->burn_in + 1, cls);
    }
    double mean = tm_learning_hazard_mean(state, 0, -p->burn_in, 0);
    tm_model_learning.free(state);
    fixture_ctx_close(&f);
    tm_params_free(p);
    return mean;
}

/* Weight 0: peers' participation changes nothing, bit for bit. */
Test(learning_beliefs, peer_weight_zero_ignores_peers)
{
    const double share[] = {0.3, 0.2, 0.25, 0.1};
    double with = belief_after("0", share, 4), without = belief_after("0", NULL, 4);
    cr_expect_eq(memcmp(&with, &without, sizeof with), 0, "%.17g vs %.17g", with, without);
    /* Three trials without an escalation: (1 + 0) / (10 + 3). */
    cr_expect_float_eq(with, 1.0 / 13.0, 1e-15);
}

/* Eq. 12b on a constructed history: the share serving goes 0.30 (period
 * 0), 0.25, 0.27, 0.20. Each logged period t > 0 is a trial without an
 * escalation (b + 1) and adds w_p max(0, -Delta) to a and w_p max(0, Delta)
 * to b: with w_p = 20, a = 1 + 20 (0.05 + 0.07) = 3.4, b = 9 + 3 + 20 x 0.02
 * = 12.4, mean 3.4 / 15.8. Peers leaving raise the perceived hazard above
 * the 1 / 13 of the same history without peers. */
Test(learning_beliefs, peers_leaving_raise_the_perceived_hazard_by_eq_12b)
{
    const double share[] = {0.30, 0.25, 0.27, 0.20};
    double mean = belief_after("20", share, 4);
    cr_expect_float_eq(mean, 3.4 / 15.8, 1e-13, "%.17g", mean);
    cr_expect_gt(mean, 1.0 / 13.0);
}

/* Peers joining lower it: 0.20, 0.30 gives b + 20 x 0.1. */
Test(learning_beliefs, peers_joining_lower_the_perceived_hazard)
{
    const double share[] = {0.20, 0.30};
    double mean = belief_after("20", share, 2);
    cr_expect_float_eq(mean, 1.0 / (10.0 + 1.0 + 2.0), 1e-15, "%.17g", mean);
}

/* ---- whole runs ----------------------------------------------------------- */

/* Two learned destinations, a coarse grid, forgetting and peers, so that
 * cohorts hold different interpolated beliefs and peers move them. */
static const char *run_text =
    "run: {model: learning, periods: 16, burn_in: 4, seed: 21}\n"
    "productivity: {grid: 31}\n"
    "decision: {discount: 0.95, tolerance: 1e-7, belief_points: 3, hazard_max: 0.4, forgetting: 0.9,\n"
    "           belief_interpolation: linear, peer_weight: 30}\n"
    "sectors:\n"
    "  steel: {firms: 3000, death_rate: 0.08, hazard_prior_mean: 0.05, hazard_prior_strength: 4}\n"
    "  agri: {firms: 1500, death_rate: 0.05, hazard_prior_mean: 0.3, hazard_prior_strength: 2}\n"
    "destinations:\n"
    "  US:\n"
    "    market: {fixed_cost: 0.6, sunk_cost: 3}\n"
    "    regimes: {open: {tariff: 0}, war: {tariff: 0.6}}\n"
    "    transition: [[0.7, 0.3], [0.4, 0.6]]\n"
    "  CN:\n"
    "    market: {demand: 0.7, fixed_cost: 0.4, sunk_cost: 0.5}\n"
    "    regimes: {normal: {tariff: 0}, ban: {tariff: 0, closed: true}}\n"
    "    transition: [[0.8, 0.2], [0.3, 0.7]]\n";

static void expect_same_periods(tm_run *a, tm_run *b, const tm_params *p)
{
    size_t sd = (size_t)p->n_sectors * (size_t)p->n_dest;
    while (!tm_run_finished(a)) {
        fixture_step(a);
        fixture_step(b);
        const tm_period_result *x = tm_run_result(a), *y = tm_run_result(b);
        cr_assert_eq(memcmp(x->serving, y->serving, sd * sizeof(int64_t)), 0, "serving differs at %s", x->label);
        cr_assert_eq(memcmp(x->entrants, y->entrants, sd * sizeof(int64_t)), 0, "entrants differ at %s", x->label);
        cr_assert_eq(memcmp(x->export_value, y->export_value, sd * sizeof(double)), 0, "value differs at %s", x->label);
    }
    cr_assert(tm_run_finished(b));
}

Test(learning_beliefs, interpolation_and_peers_do_not_depend_on_the_thread_count)
{
    tm_params *p = fixture_params("test", run_text, NULL, 0);
    tm_run *one = fixture_run(p, 1), *two = fixture_run(p, 2);
    expect_same_periods(one, two, p);
    /* Cohorts did end up between grid points: the oldest moved off the
     * prior. */
    const void *st;
    tm_run_model(one, &st);
    cr_expect_neq(tm_learning_hazard_mean(st, 0, -p->burn_in, 0), 0.05);
    tm_run_close(one);
    tm_run_close(two);
    tm_params_free(p);
}

Test(learning_beliefs, a_restored_run_with_peers_continues_exactly)
{
    tm_params *p = fixture_params("test", run_text, NULL, 0);
    tm_run *original = fixture_run(p, 2);
    while (tm_run_period(original) < 6)
        fixture_step(original);
    tm_run *restored = fixture_run_copy(p, original, 1);
    expect_same_periods(original, restored, p);
    tm_run_close(original);
    tm_run_close(restored);
    tm_params_free(p);
}

/* Peers matter in a run: the same seed with peer_weight 0 gives another
 * path (the environment is the same, the beliefs are not). */
Test(learning_beliefs, peer_weight_changes_the_path_of_a_run)
{
    const char *sets[] = {"decision.peer_weight=0"};
    tm_params *p = fixture_params("test", run_text, NULL, 0), *q = fixture_params("test", run_text, sets, 1);
    tm_run *a = fixture_run(p, 2), *b = fixture_run(q, 2);
    int differ = 0;
    size_t sd = (size_t)p->n_sectors * (size_t)p->n_dest;
    while (!tm_run_finished(a)) {
        fixture_step(a);
        fixture_step(b);
        cr_assert_eq(memcmp(tm_run_result(a)->regime, tm_run_result(b)->regime, sizeof tm_run_result(a)->regime), 0);
        differ |= memcmp(tm_run_result(a)->serving, tm_run_result(b)->serving, sd * sizeof(int64_t)) != 0;
    }
    cr_expect(differ, "peer learning should move some choice in 16 periods");
    tm_run_close(a);
    tm_run_close(b);
    tm_params_free(p);
    tm_params_free(q);
}
