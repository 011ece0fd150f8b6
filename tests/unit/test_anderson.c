/* test_anderson: Anderson acceleration of value iteration (models/anderson.h,
 * decision.acceleration; docs/model.md, "Solving: value iteration with error
 * bounds"). On a linear contraction with a known fixed point it needs far
 * fewer iterations than plain iteration and reaches that point; on a small
 * economy with capacity limits (a joint programme) its choice values are
 * those of plain value iteration solved far more tightly, within the bound
 * the error bounds imply; and they do not depend on the thread count. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/economy.h"
#include "engine/grid.h"
#include "fixtures.h"
#include "models/anderson.h"
#include "models/bellman.h"

/* ---- (a) a linear contraction x = rho P x + b ------------------------- */

#define LIN_N 60
#define LIN_RHO 0.99
#define LIN_TOL 1e-10

/* P: a random walk on LIN_N points (stay 0.5, step 0.25 each way, reflected
 * at the ends), row-stochastic like a productivity chain, so rho P has sup
 * norm rho. b = x* - rho P x* for the fixed point x*_i = sin(i) + i / 10. */
static void lin_apply(const double *x, double *out)
{
    for (int i = 0; i < LIN_N; i++) {
        int lo = i > 0 ? i - 1 : i, hi = i < LIN_N - 1 ? i + 1 : i;
        out[i] = LIN_RHO * (0.5 * x[i] + 0.25 * x[lo] + 0.25 * x[hi]);
    }
}

static void lin_solution(double *xs)
{
    for (int i = 0; i < LIN_N; i++)
        xs[i] = sin((double)i) + i / 10.0;
}

static void lin_map(const double *b, const double *x, double *g)
{
    lin_apply(x, g);
    for (int i = 0; i < LIN_N; i++)
        g[i] += b[i];
}

static double sup_diff(const double *u, const double *v, int n)
{
    double m = 0.0;
    for (int i = 0; i < n; i++)
        m = fmax(m, fabs(u[i] - v[i]));
    return m;
}

/* Iterations until |G(x) - x| < LIN_TOL (1 - rho), so that |x - x*| <=
 * |G(x) - x| / (1 - rho) < LIN_TOL; x holds the last iterate. */
static int lin_solve(int accelerate, double *x)
{
    double xs[LIN_N], b[LIN_N], g[LIN_N], ax[LIN_N];
    lin_solution(xs);
    lin_apply(xs, ax);
    for (int i = 0; i < LIN_N; i++) {
        b[i] = xs[i] - ax[i];
        x[i] = 0.0;
    }
    tm_anderson a;
    cr_assert_eq(tm_anderson_init(&a, LIN_N, 10), 0);
    int it = 0;
    for (; it < 100000; it++) {
        lin_map(b, x, g);
        if (sup_diff(g, x, LIN_N) < LIN_TOL * (1.0 - LIN_RHO))
            break;
        if (accelerate)
            tm_anderson_step(&a, x, g, x);
        else
            memcpy(x, g, sizeof g);
    }
    tm_anderson_free(&a);
    return it;
}

Test(anderson, linear_contraction_converges_far_faster_to_the_known_fixed_point)
{
    double plain[LIN_N], fast[LIN_N], xs[LIN_N];
    lin_solution(xs);
    int n_plain = lin_solve(0, plain), n_fast = lin_solve(1, fast);
    /* Plain iteration shrinks the error's slowest mode (P's eigenvalue 1)
     * by rho a step: from |b| of order 1 to LIN_TOL (1 - rho) takes
     * about log(1e-12) / log(0.99), over 2000 steps, and at least 1000. */
    cr_expect_gt(n_plain, 1000, "plain iterations %d", n_plain);
    cr_expect_lt(4 * n_fast, n_plain, "Anderson %d iterations, plain %d", n_fast, n_plain);
    cr_expect_lt(sup_diff(plain, xs, LIN_N), LIN_TOL, "plain: off by %g", sup_diff(plain, xs, LIN_N));
    cr_expect_lt(sup_diff(fast, xs, LIN_N), LIN_TOL, "Anderson: off by %g", sup_diff(fast, xs, LIN_N));
}

Test(anderson, without_history_the_step_is_the_plain_one_and_reset_forgets)
{
    double x[3] = {1, 2, 3}, g[3] = {2, 2, 2}, out[3];
    tm_anderson a;
    cr_assert_eq(tm_anderson_init(&a, 3, 4), 0);
    cr_expect_eq(tm_anderson_step(&a, x, g, out), 0);
    cr_expect(memcmp(out, g, sizeof g) == 0);
    double x2[3] = {2, 2, 2}, g2[3] = {1.5, 2, 2.5};
    cr_expect_eq(tm_anderson_step(&a, x2, g2, out), 1);
    tm_anderson_reset(&a);
    cr_expect_eq(tm_anderson_step(&a, x2, g2, out), 0);
    cr_expect(memcmp(out, g2, sizeof g2) == 0);
    tm_anderson_free(&a);
}

/* ---- (b), (c) a small economy with capacity limits -------------------- */

/* One sector with capacity elasticity 0.5 (its markets are substitutes, a
 * joint programme over 2 destinations), logit noise, regimes in both. */
static const char *capacity_economy =
    "run: {model: dynamic, periods: 1, burn_in: 0}\n"
    "productivity: {grid: %d}\n"
    "decision: {discount: 0.97, logit_scale: 0.05}\n"
    "capacity: {elasticity: 0.5}\n"
    "sectors:\n"
    "  a: {firms: 10, persistence: 0.95, volatility: 0.15, death_rate: 0.02}\n"
    "  b: {firms: 10, persistence: 0.9, volatility: 0.2, death_rate: 0.03}\n"
    "destinations:\n"
    "  US:\n"
    "    market: {demand: 1, fixed_cost: 0.3, sunk_cost: 1.5}\n"
    "    regimes: {free: {tariff: 0}, tariffs: {tariff: 0.25}}\n"
    "    transition: [[0.95, 0.05], [0.1, 0.9]]\n"
    "  CN:\n"
    "    market: {demand: 0.5, fixed_cost: 0.2, sunk_cost: 1.0}\n"
    "    regimes: {normal: {tariff: 0}, duties: {tariff: 0.3}, ban: {closed: true}}\n"
    "    transition: [[0.95, 0.04, 0.01], [0.1, 0.85, 0.05], [0.05, 0.05, 0.9]]\n";

/* Choice values of every sector at the start of the run: [sector][z][m][S],
 * solved on `threads` threads; *bd_max is the largest beta (1 - delta).
 * With `resolve`, the values are asked under a process that is not the one
 * solved (US escalation 0.07 instead of 0.05), so the solver solves again
 * during the run, with the sweeps shared among the threads. */
static double *capacity_values(int grid, const char *const *sets, int n_sets, int threads, int resolve, double *bd_max)
{
    tm_params *p = fixture_params_fmt("capacity-economy", sets, n_sets, capacity_economy, grid);
    cr_assert_eq(p->dp_acceleration, n_sets > 0 && strstr(sets[0], "none") ? TM_ACCEL_NONE : TM_ACCEL_ANDERSON);
    const int n_z = p->grid_points, M = tm_n_sets(p->n_dest);
    const size_t per = (size_t)n_z * (size_t)M * (size_t)M;
    double *out = malloc((size_t)p->n_sectors * per * sizeof(double));
    cr_assert(out);
    *bd_max = 0.0;
    for (int s = 0; s < p->n_sectors; s++) {
        fixture_ctx f;
        fixture_ctx_open(&f, p, s);
        tm_model_env menv = {.threads = threads, .grids = &f.grids, .process = f.env.process};
        tm_bellman *b = NULL;
        tm_error err = {0};
        cr_assert_eq(tm_bellman_open(p, &menv, 1, NULL, 1, &b, &err), 0, "%s", err.msg);
        tm_policy_summary sum;
        tm_bellman_summary(b, s, 0, &sum);
        cr_assert_lt(sum.residual, p->dp_tolerance, "sector %d: bound %g", s, sum.residual);
        f.ctx.threads = threads;
        tm_process changed = *f.ctx.process;
        if (resolve) {
            changed.transition[0][0][0] = changed.perceived[0][0][0] = 0.93;
            changed.transition[0][0][1] = changed.perceived[0][0][1] = 0.07;
            f.ctx.process = &changed;
        }
        cr_assert_eq(tm_bellman_values(b, 0, &f.ctx, out + (size_t)s * per, &err), 0, "%s", err.msg);
        *bd_max = fmax(*bd_max, p->discount * (1.0 - p->sector[s].death_rate));
        tm_bellman_close(b);
        fixture_ctx_close(&f);
    }
    tm_params_free(p);
    return out;
}

Test(anderson, capacity_economy_values_match_a_tight_plain_solve_within_the_error_bounds)
{
    /* Each solve stops when its MacQueen-Porteus half-width, derived from
     * the contraction modulus bd = beta (1 - delta), is below its tolerance
     * epsilon: |V - V*| <= epsilon. The choice values are flow - cost + bd
     * E[V] (E an average), so those of the accelerated solve (epsilon =
     * 1e-7) and of the plain one at epsilon_t = 1e-12 differ by at most
     * bd (1e-7 + 1e-12), plus the rounding of values of order 10 (less
     * than 1e-12). */
    const char *fast_sets[] = {"decision.tolerance=1e-7"};
    const char *tight_sets[] = {"decision.acceleration=none", "decision.tolerance=1e-12",
                                "decision.max_iterations=100000"};
    double bd = 0.0, bd_t = 0.0;
    double *fast = capacity_values(31, fast_sets, 1, 1, 0, &bd);
    double *tight = capacity_values(31, tight_sets, 3, 1, 0, &bd_t);
    const double bound = bd * (1e-7 + 1e-12) + 1e-12;
    const size_t n = 2 * (size_t)31 * 4 * 4;
    double worst = 0.0;
    int exact = 1;
    for (size_t i = 0; i < n; i++) {
        if (isinf(fast[i]) || isinf(tight[i])) {
            cr_expect_eq(fast[i], tight[i], "entry %zu", i);
            continue;
        }
        worst = fmax(worst, fabs(fast[i] - tight[i]));
        exact &= fast[i] == tight[i];
    }
    cr_expect_leq(worst, bound, "largest difference %g, bound %g", worst, bound);
    /* The two solves are different computations (else this shows nothing). */
    cr_expect(!exact, "accelerated and tight plain values are the same bits");
    free(fast);
    free(tight);
}

Test(anderson, capacity_economy_accelerated_solve_needs_fewer_sweeps)
{
    int sweeps[2];
    for (int k = 0; k < 2; k++) {
        const char *set = k ? "decision.acceleration=none" : "decision.acceleration=anderson";
        tm_params *p = fixture_params_fmt("capacity-economy", &set, 1, capacity_economy, 31);
        void *state = NULL;
        tm_error err = {0};
        cr_assert_eq(tm_model_open(&tm_model_dynamic, p, 1, &state, &err), 0, "%s", err.msg);
        tm_policy_summary sum;
        cr_assert_eq(tm_model_dynamic.summary(state, 0, &sum), 0);
        sweeps[k] = sum.iterations;
        cr_expect_lt(sum.residual, p->dp_tolerance);
        tm_model_dynamic.free(state);
        tm_params_free(p);
    }
    cr_expect_lt(2 * sweeps[0], sweeps[1], "Anderson %d sweeps, plain %d", sweeps[0], sweeps[1]);
}

Test(anderson, thread_count_does_not_change_the_values)
{
    /* Start-of-run solves run one per thread; a re-solve during the run
     * shares its sweeps among threads from 16384 cells (the grid of 700
     * points x 6 joint regimes x 4 sets = 16800 cells). */
    double bd;
    double *one = capacity_values(31, NULL, 0, 1, 0, &bd);
    double *two = capacity_values(31, NULL, 0, 2, 0, &bd);
    cr_expect(memcmp(one, two, 2 * (size_t)31 * 16 * sizeof(double)) == 0);
    free(one);
    free(two);
    one = capacity_values(700, NULL, 0, 1, 1, &bd);
    two = capacity_values(700, NULL, 0, 2, 1, &bd);
    cr_expect(memcmp(one, two, 2 * (size_t)700 * 16 * sizeof(double)) == 0);
    free(one);
    free(two);
}

/* The start-of-run solve of the capacity economy (2 joint programmes, one
 * per sector) on `threads` threads: every sector's choice values, as
 * capacity_values, and the largest team one of its sweeps ran on. */
static double *startup_values(int grid, int threads, int *team)
{
    tm_params *p = fixture_params_fmt("capacity-economy", NULL, 0, capacity_economy, grid);
    const int n_z = p->grid_points, M = tm_n_sets(p->n_dest);
    const size_t per = (size_t)n_z * (size_t)M * (size_t)M;
    double *out = malloc((size_t)p->n_sectors * per * sizeof(double));
    cr_assert(out);
    fixture_ctx f;
    fixture_ctx_open(&f, p, 0);
    tm_model_env menv = {.threads = threads, .grids = &f.grids, .process = f.env.process};
    tm_bellman *b = NULL;
    tm_error err = {0};
    cr_assert_eq(tm_bellman_open(p, &menv, 1, NULL, 1, &b, &err), 0, "%s", err.msg);
    tm_policy_summary sum;
    tm_bellman_summary(b, 0, 0, &sum);
    *team = sum.sweep_threads;
    cr_expect_eq(sum.threads, threads);
    fixture_ctx_close(&f);
    for (int s = 0; s < p->n_sectors; s++) {
        fixture_ctx_open(&f, p, s);
        f.ctx.threads = 1;
        cr_assert_eq(tm_bellman_values(b, 0, &f.ctx, out + (size_t)s * per, &err), 0, "%s", err.msg);
        fixture_ctx_close(&f);
    }
    tm_bellman_close(b);
    tm_params_free(p);
    return out;
}

Test(anderson, start_of_run_solve_lends_idle_threads_to_the_sweeps_without_changing_the_values)
{
    /* Two items (one per sector): threads with no item join the sweeps of
     * the items running (a nested team), with 4 threads one each from the
     * first sweep (1 + 2 idle / 2 running), then all of them for the item
     * left when the other is done. So it is as each sweep's work, 200
     * points x 6 joint regimes x 4 states x 4 sets = 19200, is above
     * DP_SHARED_WORK (16384); on a grid of 31 points (2976) the sweeps
     * stay on one thread. A sweep's rows are independent and its range a
     * min and a max, so the values are the same bits on 1 to 4 threads. */
    const int grid = 200;
    const size_t n = 2 * (size_t)grid * 16;
    int team = 0;
    double *one = startup_values(grid, 1, &team);
    cr_expect_eq(team, 1, "one thread: a sweep ran on %d", team);
    for (int threads = 2; threads <= 4; threads++) {
        double *many = startup_values(grid, threads, &team);
        cr_expect(memcmp(one, many, n * sizeof(double)) == 0, "%d threads: values differ", threads);
        cr_expect_leq(team, threads, "%d threads: a sweep ran on %d", threads, team);
        if (threads == 4)
            cr_expect_geq(team, 2, "4 threads, 2 items: a sweep ran on %d", team);
        free(many);
    }
    free(one);
    double *small = startup_values(31, 4, &team);
    cr_expect_eq(team, 1, "31 points: a sweep ran on %d", team);
    free(small);
}
