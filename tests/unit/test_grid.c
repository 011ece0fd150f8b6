/* test_grid: Rouwenhorst and Tauchen discretisations of the AR(1) process
 * reproduce its moments; stationary distributions are fixed points of P. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdlib.h>

#include "engine/grid.h"

static double *alloc_doubles(size_t n)
{
    double *p = calloc(n, sizeof *p);
    cr_assert_not_null(p);
    return p;
}

static void expect_rows_sum_to_one(int n, const double *P, double tol)
{
    for (int i = 0; i < n; i++) {
        double s = 0.0;
        for (int j = 0; j < n; j++) {
            cr_expect_geq(P[i * n + j], 0.0);
            s += P[i * n + j];
        }
        cr_expect(fabs(s - 1.0) < tol, "row %d sums to %.17g", i, s);
    }
}

static void expect_stationary_fixed_point(int n, const double *P, const double *pi, double tol)
{
    double total = 0.0;
    for (int j = 0; j < n; j++) {
        double s = 0.0;
        for (int i = 0; i < n; i++)
            s += pi[i] * P[i * n + j];
        cr_expect(fabs(s - pi[j]) < tol, "(pi P)[%d] = %.17g, pi = %.17g", j, s, pi[j]);
        total += pi[j];
    }
    cr_expect(fabs(total - 1.0) < 1e-12);
}

/* Mean and variance of the grid z under the law pi. */
static void law_moments(int n, const double *z, const double *pi, double *mean, double *var)
{
    *mean = *var = 0.0;
    for (int i = 0; i < n; i++)
        *mean += pi[i] * z[i];
    for (int i = 0; i < n; i++)
        *var += pi[i] * (z[i] - *mean) * (z[i] - *mean);
}

static const struct {
    int n;
    double rho, sigma;
} rouwen_cases[] = {{2, 0.5, 0.1}, {5, 0.9, 0.2}, {9, 0.95, 0.05}, {11, 0.0, 1.0}, {7, -0.6, 0.3}, {25, 0.8, 0.15}};

#define N_ROUWEN (sizeof rouwen_cases / sizeof rouwen_cases[0])

Test(grid, rouwenhorst_rows_sum_to_one_and_grid_is_symmetric)
{
    for (size_t c = 0; c < N_ROUWEN; c++) {
        int n = rouwen_cases[c].n;
        double *z = alloc_doubles((size_t)n), *P = alloc_doubles((size_t)n * n);
        cr_assert_eq(tm_grid_rouwenhorst(n, rouwen_cases[c].rho, rouwen_cases[c].sigma, z, P), 0);
        expect_rows_sum_to_one(n, P, 1e-12);
        for (int i = 0; i < n; i++)
            cr_expect_eq(z[i], -z[n - 1 - i]);
        for (int i = 1; i < n; i++)
            cr_expect_gt(z[i], z[i - 1]);
        free(z);
        free(P);
    }
}

Test(grid, rouwenhorst_stationary_mean_is_zero_and_variance_matches_ar1)
{
    for (size_t c = 0; c < N_ROUWEN; c++) {
        int n = rouwen_cases[c].n;
        double rho = rouwen_cases[c].rho, sigma = rouwen_cases[c].sigma;
        double *z = alloc_doubles((size_t)n), *P = alloc_doubles((size_t)n * n);
        double *pi = alloc_doubles((size_t)n);
        cr_assert_eq(tm_grid_rouwenhorst(n, rho, sigma, z, P), 0);
        cr_assert_eq(tm_grid_stationary(n, P, pi, 1e-14, 100000), 0, "case %zu", c);
        expect_stationary_fixed_point(n, P, pi, 1e-13);

        double mean, var;
        law_moments(n, z, pi, &mean, &var);
        double target = sigma * sigma / (1.0 - rho * rho);
        cr_expect(fabs(mean) < 1e-9 * sqrt(target), "case %zu: mean %.3g", c, mean);
        cr_expect(fabs(var / target - 1.0) < 1e-9, "case %zu: variance %.17g vs %.17g", c, var,
                  target);

        /* The stationary law is Binomial(n - 1, 1/2). */
        double b = pow(0.5, n - 1);
        for (int i = 0; i < n; i++) {
            cr_expect(fabs(pi[i] - b) < 1e-10, "case %zu: pi[%d] %.17g vs %.17g", c, i, pi[i], b);
            b *= (double)(n - 1 - i) / (double)(i + 1);
        }
        free(z);
        free(P);
        free(pi);
    }
}

Test(grid, rouwenhorst_conditional_mean_is_rho_times_z)
{
    for (size_t c = 0; c < N_ROUWEN; c++) {
        int n = rouwen_cases[c].n;
        double rho = rouwen_cases[c].rho;
        double *z = alloc_doubles((size_t)n), *P = alloc_doubles((size_t)n * n);
        cr_assert_eq(tm_grid_rouwenhorst(n, rho, rouwen_cases[c].sigma, z, P), 0);
        for (int i = 0; i < n; i++) {
            double m = 0.0;
            for (int j = 0; j < n; j++)
                m += P[i * n + j] * z[j];
            cr_expect(fabs(m - rho * z[i]) < 1e-10, "case %zu row %d: %.17g vs %.17g", c, i, m,
                      rho * z[i]);
        }
        free(z);
        free(P);
    }
}

Test(grid, rouwenhorst_two_states_match_closed_form)
{
    double z[2], P[4];
    const double rho = 0.6, sigma = 0.4;
    cr_assert_eq(tm_grid_rouwenhorst(2, rho, sigma, z, P), 0);
    double sz = sigma / sqrt(1.0 - rho * rho);
    cr_expect(fabs(z[1] - sz) < 1e-15 && fabs(z[0] + sz) < 1e-15);
    double p = 0.5 * (1.0 + rho);
    cr_expect(fabs(P[0] - p) < 1e-15 && fabs(P[1] - (1.0 - p)) < 1e-15);
    cr_expect(fabs(P[2] - (1.0 - p)) < 1e-15 && fabs(P[3] - p) < 1e-15);
}

Test(grid, tauchen_rows_sum_to_one)
{
    const int ns[] = {2, 7, 51, 201};
    for (size_t c = 0; c < sizeof ns / sizeof ns[0]; c++) {
        int n = ns[c];
        double *z = alloc_doubles((size_t)n), *P = alloc_doubles((size_t)n * n);
        cr_assert_eq(tm_grid_tauchen(n, 0.9, 0.1, 3.0, z, P), 0);
        expect_rows_sum_to_one(n, P, 1e-12);
        double sz = 0.1 / sqrt(1.0 - 0.81);
        cr_expect(fabs(z[n - 1] - 3.0 * sz) < 1e-12 && z[0] == -z[n - 1]);
        free(z);
        free(P);
    }
}

Test(grid, tauchen_fine_grid_stationary_variance_within_2_percent_of_ar1)
{
    const int n = 201;
    const double rho = 0.9, sigma = 0.1;
    double *z = alloc_doubles((size_t)n), *P = alloc_doubles((size_t)n * n);
    double *pi = alloc_doubles((size_t)n);
    cr_assert_eq(tm_grid_tauchen(n, rho, sigma, 4.0, z, P), 0);
    cr_assert_eq(tm_grid_stationary(n, P, pi, 1e-13, 100000), 0);
    expect_stationary_fixed_point(n, P, pi, 1e-12);
    double mean, var;
    law_moments(n, z, pi, &mean, &var);
    double target = sigma * sigma / (1.0 - rho * rho);
    cr_expect(fabs(mean) < 1e-8, "mean %.3g", mean);
    cr_expect(fabs(var / target - 1.0) < 0.02, "variance %.6g vs %.6g", var, target);
    free(z);
    free(P);
    free(pi);
}

Test(grid, stationary_distribution_satisfies_pi_p_equals_pi)
{
    /* An asymmetric chain with known answer pi = (0.25, 0.5, 0.25)... and an
     * arbitrary one checked only as a fixed point. */
    const double P1[9] = {0.5, 0.5, 0.0, 0.25, 0.5, 0.25, 0.0, 0.5, 0.5};
    double pi[3];
    cr_assert_eq(tm_grid_stationary(3, P1, pi, 1e-15, 10000), 0);
    cr_expect(fabs(pi[0] - 0.25) < 1e-13 && fabs(pi[1] - 0.5) < 1e-13 && fabs(pi[2] - 0.25) < 1e-13);

    const double P2[16] = {0.1, 0.6, 0.2, 0.1, 0.3, 0.3, 0.3, 0.1,
                           0.0, 0.2, 0.7, 0.1, 0.5, 0.0, 0.0, 0.5};
    double pi2[4];
    cr_assert_eq(tm_grid_stationary(4, P2, pi2, 1e-15, 10000), 0);
    expect_stationary_fixed_point(4, P2, pi2, 1e-14);
}

Test(grid, stationary_reports_non_convergence)
{
    /* Second eigenvalue 0.999: far from converged after 10 iterations. */
    const double P[4] = {0.9995, 0.0005, 0.0005, 0.9995};
    const double Q[4] = {0.9995, 0.0005, 0.001, 0.999};
    double pi[2];
    cr_expect_eq(tm_grid_stationary(2, Q, pi, 1e-12, 10), -1);
    /* Symmetric: the uniform start is already stationary. */
    cr_expect_eq(tm_grid_stationary(2, P, pi, 1e-12, 10), 0);
}

Test(grid, invalid_arguments_return_minus_one)
{
    double z[4], P[16], pi[4];
    cr_expect_eq(tm_grid_rouwenhorst(1, 0.5, 0.1, z, P), -1);
    cr_expect_eq(tm_grid_rouwenhorst(0, 0.5, 0.1, z, P), -1);
    cr_expect_eq(tm_grid_rouwenhorst(4, 1.0, 0.1, z, P), -1);
    cr_expect_eq(tm_grid_rouwenhorst(4, -1.0, 0.1, z, P), -1);
    cr_expect_eq(tm_grid_rouwenhorst(4, NAN, 0.1, z, P), -1);
    cr_expect_eq(tm_grid_rouwenhorst(4, 0.5, 0.0, z, P), -1);
    cr_expect_eq(tm_grid_rouwenhorst(4, 0.5, -0.1, z, P), -1);
    cr_expect_eq(tm_grid_rouwenhorst(4, 0.5, INFINITY, z, P), -1);
    cr_expect_eq(tm_grid_rouwenhorst(4, 0.5, 0.1, NULL, P), -1);
    cr_expect_eq(tm_grid_rouwenhorst(4, 0.5, 0.1, z, NULL), -1);

    cr_expect_eq(tm_grid_tauchen(1, 0.5, 0.1, 3.0, z, P), -1);
    cr_expect_eq(tm_grid_tauchen(4, 1.2, 0.1, 3.0, z, P), -1);
    cr_expect_eq(tm_grid_tauchen(4, 0.5, 0.0, 3.0, z, P), -1);
    cr_expect_eq(tm_grid_tauchen(4, 0.5, 0.1, 0.0, z, P), -1);
    cr_expect_eq(tm_grid_tauchen(4, 0.5, 0.1, -1.0, z, P), -1);
    cr_expect_eq(tm_grid_tauchen(4, 0.5, 0.1, NAN, z, P), -1);
    cr_expect_eq(tm_grid_tauchen(4, 0.5, 0.1, 3.0, NULL, P), -1);

    const double good[4] = {0.5, 0.5, 0.5, 0.5};
    const double negative[4] = {1.5, -0.5, 0.5, 0.5};
    const double not_stochastic[4] = {0.5, 0.4, 0.5, 0.5};
    const double with_nan[4] = {NAN, 0.5, 0.5, 0.5};
    cr_expect_eq(tm_grid_stationary(1, good, pi, 1e-12, 100), -1);
    cr_expect_eq(tm_grid_stationary(2, good, pi, 0.0, 100), -1);
    cr_expect_eq(tm_grid_stationary(2, good, pi, 1e-12, 0), -1);
    cr_expect_eq(tm_grid_stationary(2, NULL, pi, 1e-12, 100), -1);
    cr_expect_eq(tm_grid_stationary(2, good, NULL, 1e-12, 100), -1);
    cr_expect_eq(tm_grid_stationary(2, negative, pi, 1e-12, 100), -1);
    cr_expect_eq(tm_grid_stationary(2, not_stochastic, pi, 1e-12, 100), -1);
    cr_expect_eq(tm_grid_stationary(2, with_nan, pi, 1e-12, 100), -1);
    cr_expect_eq(tm_grid_stationary(2, good, pi, 1e-12, 100), 0);
}

Test(grid, exact_stationary_matches_power_iteration_and_binomial_law)
{
    enum { N = 41 };
    double z[N], P[N * N], exact[N], iter[N];
    cr_assert_eq(tm_grid_rouwenhorst(N, 0.97, 0.1, z, P), 0);
    cr_assert_eq(tm_grid_stationary_exact(N, P, exact), 0);
    cr_assert_eq(tm_grid_stationary(N, P, iter, 1e-14, 10000000), 0);
    /* Rouwenhorst's stationary law is Binomial(N - 1, 1/2). */
    double binom = ldexp(1.0, -(N - 1));
    for (int k = 0; k < N; k++) {
        cr_assert_float_eq(exact[k], binom, 1e-14 + 1e-11 * binom, "k=%d", k);
        cr_assert_float_eq(exact[k], iter[k], 1e-10, "k=%d", k);
        binom = binom * (double)(N - 1 - k) / (double)(k + 1);
    }
}

Test(grid, exact_stationary_of_tauchen_is_invariant)
{
    enum { N = 201 };
    static double z[N], P[N * N], pi[N];
    cr_assert_eq(tm_grid_tauchen(N, 0.95, 0.12, 4.0, z, P), 0);
    cr_assert_eq(tm_grid_stationary_exact(N, P, pi), 0);
    for (int j = 0; j < N; j++) {
        double v = 0.0;
        for (int i = 0; i < N; i++)
            v += pi[i] * P[i * N + j];
        cr_assert_float_eq(v, pi[j], 1e-13, "j=%d", j);
    }
}

Test(grid, exact_stationary_rejects_reducible_chain)
{
    double P[4] = {1.0, 0.0, 0.0, 1.0}, pi[2];
    cr_assert_eq(tm_grid_stationary_exact(2, P, pi), -1);
}
