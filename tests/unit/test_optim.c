/* The optimiser (NLopt's Nelder-Mead and BOBYQA within bounds): known
 * minima of standard test functions, bounds, budgets and failures. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>

#include "experiments/optim.h"

static int rosenbrock(const double *x, double *f, void *ctx, tm_error *err)
{
    (void)err;
    if (ctx)
        ++*(int *)ctx;
    double a = 1.0 - x[0], b = x[1] - x[0] * x[0];
    *f = a * a + 100.0 * b * b;
    return 0;
}

/* sum_i (i+1) (x_i - c_i)^2 with c_i = 0.5 i - 1: an ill-scaled bowl. */
static int quadratic(const double *x, double *f, void *ctx, tm_error *err)
{
    (void)err;
    int n = *(const int *)ctx;
    double s = 0;
    for (int i = 0; i < n; i++) {
        double d = x[i] - (0.5 * i - 1.0);
        s += (i + 1) * d * d;
    }
    *f = s;
    return 0;
}

static int calls;
static int fails_on_fifth_call(const double *x, double *f, void *ctx, tm_error *err)
{
    (void)ctx;
    if (++calls == 5)
        return tm_error_set(err, TM_ERR_RUNTIME, "objective failed");
    *f = x[0] * x[0];
    return 0;
}

static void rosenbrock_in_box(tm_optim_method method)
{
    double x[2] = {-1.2, 1.0}, lo[2] = {-2, -1}, hi[2] = {2, 3};
    tm_optim_options o = {.method = method, .max_evaluations = 20000, .f_tolerance = 1e-14, .x_tolerance = 1e-10};
    tm_optim_result r;
    tm_error err = {0};
    cr_assert_eq(tm_optim_minimize(2, x, lo, hi, rosenbrock, NULL, &o, &r, &err), 0, "%s", err.msg);
    cr_assert(r.converged);
    cr_assert_float_eq(x[0], 1.0, 1e-4);
    cr_assert_float_eq(x[1], 1.0, 1e-4);
    cr_assert_lt(r.value, 1e-8);
}

Test(optim, nelder_mead_finds_rosenbrock_minimum_inside_bounds)
{
    rosenbrock_in_box(TM_OPTIM_NELDER_MEAD);
}

Test(optim, bobyqa_finds_rosenbrock_minimum_inside_bounds)
{
    rosenbrock_in_box(TM_OPTIM_BOBYQA);
}

Test(optim, nelder_mead_finds_rosenbrock_minimum_unbounded)
{
    double x[2] = {-1.2, 1.0};
    tm_optim_options o = {.max_evaluations = 20000, .f_tolerance = 1e-14, .x_tolerance = 1e-10, .restarts = 1};
    tm_optim_result r;
    tm_error err = {0};
    cr_assert_eq(tm_optim_minimize(2, x, NULL, NULL, rosenbrock, NULL, &o, &r, &err), 0, "%s", err.msg);
    cr_assert_float_eq(x[0], 1.0, 1e-4);
    cr_assert_float_eq(x[1], 1.0, 1e-4);
}

/* A quadratic is BOBYQA's own model: it should need far fewer evaluations
 * than the simplex, and both must find the minimum. */
Test(optim, both_methods_find_a_six_dimensional_quadratic_and_bobyqa_needs_fewer_evaluations)
{
    int n = 6, evals[2];
    for (int m = 0; m < 2; m++) {
        double x[6] = {0, 0, 0, 0, 0, 0}, lo[6], hi[6];
        for (int i = 0; i < n; i++) {
            lo[i] = -5;
            hi[i] = 5;
        }
        tm_optim_options o = {.method = m ? TM_OPTIM_BOBYQA : TM_OPTIM_NELDER_MEAD,
                              .max_evaluations = 50000,
                              .f_tolerance = 1e-16,
                              .x_tolerance = 1e-10,
                              .restarts = 2};
        tm_optim_result r;
        tm_error err = {0};
        cr_assert_eq(tm_optim_minimize(n, x, lo, hi, quadratic, &n, &o, &r, &err), 0, "%s", err.msg);
        for (int i = 0; i < n; i++)
            cr_assert_float_eq(x[i], 0.5 * i - 1.0, 1e-4, "method %d: x[%d] = %g", m, i, x[i]);
        evals[m] = r.evaluations;
    }
    cr_assert_lt(evals[1], evals[0], "BOBYQA %d, Nelder-Mead %d evaluations", evals[1], evals[0]);
}

static void active_bound(tm_optim_method method)
{
    /* Unconstrained minimum at (-1, -0.5); the box [0, 1] x [-2, 2] makes
     * x0 = 0 active and leaves x1 free. A simplex can flatten against the
     * bound and stop short in x1; a restart from the best point resumes
     * (hence optimizer.restarts: 1 by default in calibration files). */
    int n = 2;
    double x[2] = {0.5, 1.0}, lo[2] = {0, -2}, hi[2] = {1, 2};
    tm_optim_options o = {
        .method = method, .max_evaluations = 5000, .f_tolerance = 1e-14, .x_tolerance = 1e-9, .restarts = 2};
    tm_optim_result r;
    tm_error err = {0};
    cr_assert_eq(tm_optim_minimize(n, x, lo, hi, quadratic, &n, &o, &r, &err), 0, "%s", err.msg);
    cr_assert_geq(x[0], 0.0);
    cr_assert_lt(x[0], 1e-3);
    cr_assert_float_eq(x[1], -0.5, 1e-4);
}

Test(optim, nelder_mead_stays_in_box_and_reaches_an_active_bound)
{
    active_bound(TM_OPTIM_NELDER_MEAD);
}

Test(optim, bobyqa_stays_in_box_and_reaches_an_active_bound)
{
    active_bound(TM_OPTIM_BOBYQA);
}

Test(optim, one_sided_bounds_are_respected)
{
    int n = 2;
    double x[2] = {1.0, 0.0}, lo[2] = {0.25, -INFINITY}, hi[2] = {INFINITY, INFINITY};
    tm_optim_options o = {.max_evaluations = 5000, .f_tolerance = 1e-14, .x_tolerance = 1e-9};
    tm_optim_result r;
    tm_error err = {0};
    cr_assert_eq(tm_optim_minimize(n, x, lo, hi, quadratic, &n, &o, &r, &err), 0, "%s", err.msg);
    cr_assert_geq(x[0], 0.25);
    cr_assert_lt(x[0], 0.25 + 1e-3);
    cr_assert_float_eq(x[1], -0.5, 1e-4);
}

Test(optim, is_deterministic)
{
    double a[2] = {-1.2, 1.0}, b[2] = {-1.2, 1.0};
    tm_optim_options o = {.max_evaluations = 300};
    tm_optim_result ra, rb;
    tm_error err = {0};
    tm_optim_minimize(2, a, NULL, NULL, rosenbrock, NULL, &o, &ra, &err);
    tm_optim_minimize(2, b, NULL, NULL, rosenbrock, NULL, &o, &rb, &err);
    cr_assert_eq(a[0], b[0]);
    cr_assert_eq(a[1], b[1]);
    cr_assert_eq(ra.evaluations, rb.evaluations);
}

Test(optim, stops_at_the_evaluation_budget_without_claiming_convergence)
{
    double x[2] = {-1.2, 1.0}, lo[2] = {-2, -2}, hi[2] = {2, 2};
    for (int m = 0; m < 2; m++) {
        int counted = 0;
        tm_optim_options o = {
            .method = m ? TM_OPTIM_BOBYQA : TM_OPTIM_NELDER_MEAD, .max_evaluations = 15, .restarts = 3};
        tm_optim_result r;
        tm_error err = {0};
        cr_assert_eq(tm_optim_minimize(2, x, lo, hi, rosenbrock, &counted, &o, &r, &err), 0, "%s", err.msg);
        cr_assert_eq(r.evaluations, 15);
        cr_assert_eq(counted, 15, "the objective ran %d times", counted);
        cr_assert_not(r.converged);
    }
}

Test(optim, passes_objective_failure_through)
{
    double x[1] = {3.0};
    tm_error err = {0};
    tm_optim_result r;
    calls = 0;
    cr_assert_neq(tm_optim_minimize(1, x, NULL, NULL, fails_on_fifth_call, NULL, NULL, &r, &err), 0);
    cr_assert_str_eq(err.msg, "objective failed");
    cr_assert_eq(calls, 5);
}

Test(optim, rejects_a_start_outside_the_bounds)
{
    double x[1] = {2.0}, lo[1] = {0}, hi[1] = {1};
    tm_error err = {0};
    tm_optim_result r;
    cr_assert_neq(tm_optim_minimize(1, x, lo, hi, rosenbrock, NULL, NULL, &r, &err), 0);
    cr_assert_eq(err.status, TM_ERR_INPUT);
}

Test(optim, bobyqa_needs_finite_bounds)
{
    double x[2] = {0, 0};
    tm_optim_options o = {.method = TM_OPTIM_BOBYQA};
    tm_error err = {0};
    tm_optim_result r;
    cr_assert_neq(tm_optim_minimize(2, x, NULL, NULL, rosenbrock, NULL, &o, &r, &err), 0);
    cr_assert_eq(err.status, TM_ERR_INPUT);
    cr_assert(strstr(err.msg, "BOBYQA") != NULL, "%s", err.msg);
}

/* Progress: one report per improvement, through the one progress
 * mechanism (base/progress.h): stage "optimiser", the evaluations so far,
 * the budget, and the new best value with its point. */
typedef struct {
    int n;
    int64_t done[512], total;
    double best[512];
    double last_x[2];
} reports;

static void record_report(void *user, const tm_progress_report *r)
{
    reports *rec = user;
    const tm_optim_step *step = r->detail;
    cr_assert_str_eq(r->stage, "optimiser");
    cr_assert_lt(rec->n, 512);
    cr_assert_eq(step->n, 2);
    rec->done[rec->n] = r->done;
    rec->best[rec->n] = step->best;
    rec->total = r->total;
    rec->last_x[0] = step->x[0];
    rec->last_x[1] = step->x[1];
    rec->n++;
}

Test(optim, reports_every_improvement_with_its_evaluation_and_the_budget)
{
    double x[2] = {-1.2, 1.0};
    reports rec = {0};
    int evaluations = 0;
    tm_optim_options o = {.max_evaluations = 300, .progress = {record_report, &rec}};
    tm_optim_result r;
    tm_error err = {0};
    cr_assert_eq(tm_optim_minimize(2, x, NULL, NULL, rosenbrock, &evaluations, &o, &r, &err), 0, "%s", err.msg);
    cr_assert_gt(rec.n, 1);
    cr_assert_eq(rec.total, 300);
    cr_assert_eq(rec.done[0], 1, "the first evaluation always improves on +infinity");
    for (int i = 1; i < rec.n; i++) {
        cr_assert_gt(rec.done[i], rec.done[i - 1]);
        cr_assert_lt(rec.best[i], rec.best[i - 1]);
    }
    cr_assert_leq(rec.done[rec.n - 1], evaluations);
    /* The last report is the best point, the one returned. */
    cr_assert_eq(rec.best[rec.n - 1], r.value);
    cr_assert(rec.last_x[0] == x[0] && rec.last_x[1] == x[1]);
}

/* The first point evaluated is the start, also when the start is closer to
 * a bound than a tenth of the range (BOBYQA would otherwise move it to one
 * first step from the bound: 2 + 0.1 x 198 = 21.8 for a start of 20.7 in
 * [2, 200], the calibration's choice noise). */
static double first_x[2];
static int first_calls;
static int records_first_point(const double *x, double *f, void *ctx, tm_error *err)
{
    (void)ctx;
    (void)err;
    if (first_calls++ == 0) {
        first_x[0] = x[0];
        first_x[1] = x[1];
    }
    *f = (x[0] - 50) * (x[0] - 50) + (x[1] - 1) * (x[1] - 1);
    return 0;
}

Test(optim, both_methods_evaluate_the_start_first_next_to_a_bound)
{
    for (int m = 0; m < 2; m++) {
        double x[2] = {20.7, 0.25}, lo[2] = {2, 0.2}, hi[2] = {200, 5};
        tm_optim_options o = {.method = m ? TM_OPTIM_BOBYQA : TM_OPTIM_NELDER_MEAD, .max_evaluations = 400};
        tm_optim_result r;
        tm_error err = {0};
        first_calls = 0;
        cr_assert_eq(tm_optim_minimize(2, x, lo, hi, records_first_point, NULL, &o, &r, &err), 0, "%s", err.msg);
        cr_assert_eq(first_x[0], 20.7, "method %d started at %.17g", m, first_x[0]);
        cr_assert_eq(first_x[1], 0.25, "method %d started at %.17g", m, first_x[1]);
        cr_assert_float_eq(x[0], 50.0, 1e-3, "method %d ended at %g", m, x[0]);
        cr_assert_float_eq(x[1], 1.0, 1e-3, "method %d ended at %g", m, x[1]);
    }
}
