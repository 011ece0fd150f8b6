/* Nelder-Mead with bounds: known minima of standard test functions. */
#include <criterion/criterion.h>
#include <math.h>

#include "experiments/optim.h"

static int rosenbrock(const double *x, double *f, void *ctx, tm_error *err)
{
    (void)ctx;
    (void)err;
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

Test(optim, finds_rosenbrock_minimum_unbounded)
{
    double x[2] = {-1.2, 1.0};
    tm_optim_options o = {.max_iterations = 5000, .f_tolerance = 1e-14, .x_tolerance = 1e-9, .restarts = 1};
    tm_optim_result r;
    tm_error err = {0};
    cr_assert_eq(tm_optim_minimize(2, x, NULL, NULL, rosenbrock, NULL, &o, &r, &err), 0, "%s", err.msg);
    cr_assert(r.converged);
    cr_assert_float_eq(x[0], 1.0, 1e-5);
    cr_assert_float_eq(x[1], 1.0, 1e-5);
    cr_assert_lt(r.value, 1e-10);
}

Test(optim, finds_rosenbrock_minimum_inside_bounds)
{
    double x[2] = {-1.2, 1.0}, lo[2] = {-2, -1}, hi[2] = {2, 3};
    tm_optim_options o = {.max_iterations = 5000, .f_tolerance = 1e-14, .x_tolerance = 1e-9, .restarts = 1};
    tm_optim_result r;
    tm_error err = {0};
    cr_assert_eq(tm_optim_minimize(2, x, lo, hi, rosenbrock, NULL, &o, &r, &err), 0, "%s", err.msg);
    cr_assert_float_eq(x[0], 1.0, 1e-5);
    cr_assert_float_eq(x[1], 1.0, 1e-5);
}

Test(optim, finds_quadratic_minimum_in_six_dimensions)
{
    int n = 6;
    double x[6] = {0, 0, 0, 0, 0, 0};
    tm_optim_options o = {.max_iterations = 20000, .f_tolerance = 1e-16, .x_tolerance = 1e-10, .restarts = 2};
    tm_optim_result r;
    tm_error err = {0};
    cr_assert_eq(tm_optim_minimize(n, x, NULL, NULL, quadratic, &n, &o, &r, &err), 0, "%s", err.msg);
    for (int i = 0; i < n; i++)
        cr_assert_float_eq(x[i], 0.5 * i - 1.0, 1e-5, "x[%d] = %g", i, x[i]);
}

Test(optim, stays_in_box_and_reaches_an_active_bound)
{
    /* Unconstrained minimum at (-1, -0.5); the box [0, 1] x [-2, 2] makes
     * x0 = 0 active and leaves x1 free. */
    int n = 2;
    double x[2] = {0.5, 1.0}, lo[2] = {0, -2}, hi[2] = {1, 2};
    tm_optim_options o = {.max_iterations = 5000, .f_tolerance = 1e-14, .x_tolerance = 1e-9};
    tm_optim_result r;
    tm_error err = {0};
    cr_assert_eq(tm_optim_minimize(n, x, lo, hi, quadratic, &n, &o, &r, &err), 0, "%s", err.msg);
    cr_assert_geq(x[0], 0.0);
    cr_assert_lt(x[0], 1e-3);
    cr_assert_float_eq(x[1], -0.5, 1e-4);
}

Test(optim, one_sided_bounds_are_respected)
{
    int n = 2;
    double x[2] = {1.0, 0.0}, lo[2] = {0.25, -INFINITY}, hi[2] = {INFINITY, INFINITY};
    tm_optim_options o = {.max_iterations = 5000, .f_tolerance = 1e-14, .x_tolerance = 1e-9};
    tm_optim_result r;
    tm_error err = {0};
    cr_assert_eq(tm_optim_minimize(n, x, lo, hi, quadratic, &n, &o, &r, &err), 0, "%s", err.msg);
    cr_assert_gt(x[0], 0.25);
    cr_assert_lt(x[0], 0.25 + 1e-3);
    cr_assert_float_eq(x[1], -0.5, 1e-4);
}

Test(optim, is_deterministic)
{
    double a[2] = {-1.2, 1.0}, b[2] = {-1.2, 1.0};
    tm_optim_options o = {.max_iterations = 300};
    tm_optim_result ra, rb;
    tm_error err = {0};
    tm_optim_minimize(2, a, NULL, NULL, rosenbrock, NULL, &o, &ra, &err);
    tm_optim_minimize(2, b, NULL, NULL, rosenbrock, NULL, &o, &rb, &err);
    cr_assert_eq(a[0], b[0]);
    cr_assert_eq(a[1], b[1]);
    cr_assert_eq(ra.evaluations, rb.evaluations);
}

Test(optim, stops_at_the_iteration_budget_without_claiming_convergence)
{
    double x[2] = {-1.2, 1.0};
    tm_optim_options o = {.max_iterations = 10};
    tm_optim_result r;
    tm_error err = {0};
    cr_assert_eq(tm_optim_minimize(2, x, NULL, NULL, rosenbrock, NULL, &o, &r, &err), 0);
    cr_assert_eq(r.iterations, 10);
    cr_assert_not(r.converged);
}

Test(optim, passes_objective_failure_through)
{
    double x[1] = {3.0};
    tm_error err = {0};
    tm_optim_result r;
    calls = 0;
    cr_assert_neq(tm_optim_minimize(1, x, NULL, NULL, fails_on_fifth_call, NULL, NULL, &r, &err), 0);
    cr_assert_str_eq(err.msg, "objective failed");
}

Test(optim, rejects_a_start_outside_the_bounds)
{
    double x[1] = {2.0}, lo[1] = {0}, hi[1] = {1};
    tm_error err = {0};
    tm_optim_result r;
    cr_assert_neq(tm_optim_minimize(1, x, lo, hi, rosenbrock, NULL, NULL, &r, &err), 0);
    cr_assert_eq(err.status, TM_ERR_INPUT);
}
