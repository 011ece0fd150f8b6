/* test_grid: Rouwenhorst and Tauchen discretisations of the AR(1) process
 * reproduce its moments; stationary distributions are fixed points of P;
 * a run's grids follow the method its parameters choose; the normal
 * distribution functions agree with GSL's within their rounding error. */
#include <criterion/criterion.h>

#include <float.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/grid.h"
#include "engine/normal.h"
#include "fixtures.h"
#include "params/params.h"

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
        cr_expect(fabs(var / target - 1.0) < 1e-9, "case %zu: variance %.17g vs %.17g", c, var, target);

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
            cr_expect(fabs(m - rho * z[i]) < 1e-10, "case %zu row %d: %.17g vs %.17g", c, i, m, rho * z[i]);
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

    const double P2[16] = {0.1, 0.6, 0.2, 0.1, 0.3, 0.3, 0.3, 0.1, 0.0, 0.2, 0.7, 0.1, 0.5, 0.0, 0.0, 0.5};
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

/* ------------------------------------------------------------------------
 * The normal distribution functions the grids and demand types use
 * (src/engine/normal.h), against GSL's.
 * ---------------------------------------------------------------------- */

/* tm_normal_cdf(x) = 0.5 erfc(-x / sqrt 2). Rounding x / sqrt 2 (a
 * correctly rounded sqrt and a division: at most 2 eps relative) moves
 * erfc(u) by a relative 2 u^2 = x^2 times that in the tail, where
 * d log erfc(u) / du ~ -2u; erfc itself and GSL's function add a few eps.
 * So the relative gap to gsl_cdf_ugaussian_P is at most (2 x^2 + 8) eps;
 * likewise for the upper tail. */
Test(normal, cdf_and_upper_tail_agree_with_gsl_within_their_rounding_bound)
{
    for (double x = -37.0; x <= 37.0; x += 0.01) {
        double bound = (2.0 * x * x + 8.0) * DBL_EPSILON;
        double lower = gsl_cdf_ugaussian_P(x), upper = gsl_cdf_ugaussian_Q(x);
        if (lower > DBL_MIN)
            cr_expect_leq(fabs(tm_normal_cdf(x) - lower) / lower, bound, "P(X <= %g)", x);
        if (upper > DBL_MIN)
            cr_expect_leq(fabs(tm_normal_sf(x) - upper) / upper, bound, "P(X > %g)", x);
    }
}

/* The bisection stops at the last bit (2 eps relative to max(|x|, 1));
 * the CDF's error dq (the bound above on the smaller tail) moves the root
 * by dq / phi(x). */
Test(normal, quantile_agrees_with_gsl_within_the_cdf_error_over_the_density)
{
    for (int k = 2; k <= 64; k++)
        for (int j = 1; j < k; j++) {
            double q = (double)j / k, x = gsl_cdf_ugaussian_Pinv(q);
            double density = exp(-0.5 * x * x) / sqrt(2.0 * M_PI);
            double bound = (2.0 * x * x + 8.0) * DBL_EPSILON * fmin(q, 1.0 - q) / density +
                           2.0 * DBL_EPSILON * fmax(fabs(x), 1.0);
            cr_expect_leq(fabs(tm_normal_quantile(q) - x), bound, "quantile %d/%d", j, k);
        }
}

/* The grids a run and its model share are the discretisation the
 * parameters name, sector by sector. */
Test(grid, tables_follow_the_method_the_parameters_choose)
{
    static const char *const methods[] = {"rouwenhorst", "tauchen"};
    for (int m = 0; m < 2; m++) {
        tm_params *p = fixture_params_fmt(
            "grid-test", NULL, 0,
            "productivity: {grid: 15, method: %s, tauchen_width: 2.5}\n"
            "sectors:\n  a: {persistence: 0.9, volatility: 0.1}\n  b: {persistence: 0.5, volatility: 0.3}\n"
            "destinations:\n  US: {regimes: {low: {tariff: 0}}}\n",
            methods[m]);
        tm_error err = {0};
        tm_grid_tables g;
        cr_assert_eq(tm_grid_tables_init(&g, p, &err), 0, "%s", err.msg);
        cr_assert_eq(g.n_z, 15);
        cr_assert_eq(g.n_sectors, 2);
        for (int s = 0; s < 2; s++) {
            double z[15], P[15 * 15];
            const tm_sector *ps = &p->sector[s];
            if (m == 0)
                tm_grid_rouwenhorst(15, ps->persistence, ps->volatility, z, P);
            else
                tm_grid_tauchen(15, ps->persistence, ps->volatility, 2.5, z, P);
            cr_expect(memcmp(g.z + s * 15, z, sizeof z) == 0, "%s: sector %d grid", methods[m], s);
            cr_expect(memcmp(g.P + s * 15 * 15, P, sizeof P) == 0, "%s: sector %d transition", methods[m], s);
            /* The stationary law is stored with the grid: pi = pi P within
             * rounding, and for Rouwenhorst the binomial law. */
            const double *pi = g.pi + s * 15;
            double total = 0.0;
            for (int j = 0; j < 15; j++) {
                double back = 0.0;
                for (int i = 0; i < 15; i++)
                    back += pi[i] * P[i * 15 + j];
                cr_expect_float_eq(back, pi[j], 1e-13, "%s: sector %d: (pi P)_%d = %g, pi_%d = %g", methods[m], s, j,
                                   back, j, pi[j]);
                if (m == 0)
                    cr_expect_float_eq(pi[j], gsl_ran_binomial_pdf((unsigned)j, 0.5, 14), 1e-13,
                                       "sector %d: pi_%d against Binomial(14, 1/2)", s, j);
                total += pi[j];
            }
            cr_expect_float_eq(total, 1.0, 1e-13, "%s: sector %d: the law sums to %g", methods[m], s, total);
        }
        tm_grid_tables_free(&g);
        tm_params_free(p);
    }
}
