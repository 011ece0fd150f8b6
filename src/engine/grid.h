/* grid: finite-state Markov approximations of the AR(1) log-productivity
 * process z' = rho z + sigma e, e ~ N(0, 1), their stationary laws, and
 * the grids of a run's sectors by the method its parameters choose (the one
 * place that choice is made: the firms and the models get these tables). */
#ifndef TM_GRID_H
#define TM_GRID_H

#include "base/error.h"
#include "params/params.h"

/* Rouwenhorst (1995), as in Kopecky and Suen (2010): n >= 2 points, evenly
 * spaced and symmetric around 0 with half-width sqrt(n - 1) * sigma_z, where
 * sigma_z^2 = sigma^2 / (1 - rho^2). The chain's stationary variance equals
 * sigma_z^2 and E[z' | z_i] = rho z_i exactly, for any n. z has n entries,
 * P is n * n row-major with row i the law of z' given z[i].
 * Returns 0, or -1 for n < 2, |rho| >= 1, sigma <= 0, non-finite or NULL. */
int tm_grid_rouwenhorst(int n, double rho, double sigma, double *z, double *P);

/* Tauchen (1986): n >= 2 evenly spaced points spanning +-width * sigma_z;
 * each row assigns the normal mass of the cell around z[j] (the two edge
 * cells extend to infinity). Needs width > 0; other arguments and the
 * return value as for tm_grid_rouwenhorst. */
int tm_grid_tauchen(int n, double rho, double sigma, double width, double *z, double *P);

/* Largest |z| of the grid that tm_grid_rouwenhorst (method
 * TM_GRID_ROUWENHORST: sqrt(n - 1) sigma_z) or tm_grid_tauchen (width
 * sigma_z) builds, sigma_z = sigma / sqrt(1 - rho^2); pre-flight bounds
 * profits with it before any grid exists. */
double tm_grid_half_width(int method, int n, double rho, double sigma, double width);

/* Stationary distribution pi = pi P of a row-stochastic n * n matrix by
 * power iteration from the uniform law, stopping when successive iterates
 * differ by less than tol in the L1 norm. Returns 0; -1 for bad arguments
 * (n < 2, tol <= 0, max_iter < 1, negative or non-finite entries, rows not
 * summing to 1 within 1e-9), allocation failure, or no convergence within
 * max_iter iterations (pi then holds the last iterate). */
int tm_grid_stationary(int n, const double *P, double *pi, double tol, int max_iter);

/* Stationary distribution of an irreducible chain by GTH elimination, in
 * O(n^3) operations and without iteration. Returns 0, or -1 for bad
 * arguments, allocation failure or a reducible chain. */
int tm_grid_stationary_exact(int n, const double *P, double *pi);

/* Partial closure (docs/model.md eq. 26a): the number of top points of an
 * n-point grid with stationary law pi (tm_grid_stationary_exact) at which
 * F(z_i) = sum_{j<i} pi_j is at least q: the points holding the top 1 - q
 * of the stationary mass, to the grid's discreteness. n for q <= 0, 0 for
 * q >= 1 (the top point has mass: F < 1 everywhere). */
int tm_grid_top_count(int n, const double *pi, double q);

/* Every sector's grid and transition, by productivity.method:
 * z[s * n_z + i], P[(s * n_z + i) * n_z + j] (row i: the law of z' given
 * z_i), and its stationary law pi[s * n_z + i] (tm_grid_stationary_exact,
 * computed once here). Input error if a sector's process cannot be
 * discretised or its chain has no stationary law. */
typedef struct tm_grid_tables {
    int n_z, n_sectors;
    double *z, *P, *pi;
} tm_grid_tables;

int tm_grid_tables_init(tm_grid_tables *grids, const tm_params *params, tm_error *err);
void tm_grid_tables_free(tm_grid_tables *grids);

#endif
