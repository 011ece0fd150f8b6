#include "engine/grid.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/normal.h"

static int valid_ar1(int n, double rho, double sigma, const double *z, const double *P)
{
    return n >= 2 && z && P && isfinite(rho) && fabs(rho) < 1.0 && isfinite(sigma) && sigma > 0.0;
}

double tm_grid_half_width(int method, int n, double rho, double sigma, double width)
{
    const double sigma_z = sigma / sqrt(1.0 - rho * rho);
    return method == TM_GRID_ROUWENHORST ? sqrt((double)(n - 1)) * sigma_z : width * sigma_z;
}

int tm_grid_rouwenhorst(int n, double rho, double sigma, double *z, double *P)
{
    if (!valid_ar1(n, rho, sigma, z, P))
        return -1;

    const size_t m = (size_t)n;
    const double psi = tm_grid_half_width(TM_GRID_ROUWENHORST, n, rho, sigma, 0.0);
    for (size_t i = 0; i < m; i++)
        z[i] = -psi + 2.0 * psi * (double)i / (double)(n - 1);
    /* Exact symmetry, so the stationary mean is 0 to rounding. */
    for (size_t i = 0; i < m / 2; i++)
        z[m - 1 - i] = -z[i];
    if (m % 2 == 1)
        z[m / 2] = 0.0;

    /* State i means i of n - 1 binary units are "high". Next period each
     * high unit stays high with probability p and each low unit turns high
     * with probability 1 - p, so row i is the law of the number of high units:
     * the convolution of n - 1 Bernoulli variables. Building it by repeated
     * convex combinations needs no scratch memory and cannot go negative. */
    const double p = 0.5 * (1.0 + rho);
    for (size_t i = 0; i < m; i++) {
        double *row = P + i * m;
        row[0] = 1.0;
        for (size_t j = 1; j < m; j++)
            row[j] = 0.0;
        for (size_t k = 0; k + 1 < m; k++) {
            double up = k < i ? p : 1.0 - p;
            /* After k units the support is 0..k; update from the top down. */
            row[k + 1] = row[k] * up;
            for (size_t j = k; j > 0; j--)
                row[j] = row[j] * (1.0 - up) + row[j - 1] * up;
            row[0] *= 1.0 - up;
        }
    }
    return 0;
}

/* P(a < X <= b) for standard normal X, from whichever tail is smaller. */
static double norm_interval(double a, double b)
{
    if (a > 0.0)
        return tm_normal_sf(a) - tm_normal_sf(b);
    return tm_normal_cdf(b) - tm_normal_cdf(a);
}

int tm_grid_tauchen(int n, double rho, double sigma, double width, double *z, double *P)
{
    if (!valid_ar1(n, rho, sigma, z, P) || !isfinite(width) || width <= 0.0)
        return -1;

    const size_t m = (size_t)n;
    const double zmax = tm_grid_half_width(TM_GRID_TAUCHEN, n, rho, sigma, width);
    const double step = 2.0 * zmax / (double)(n - 1);
    for (size_t i = 0; i < m; i++)
        z[i] = -zmax + step * (double)i;
    for (size_t i = 0; i < m / 2; i++)
        z[m - 1 - i] = -z[i];
    if (m % 2 == 1)
        z[m / 2] = 0.0;

    for (size_t i = 0; i < m; i++) {
        double *row = P + i * m;
        double mean = rho * z[i];
        double sum = 0.0;
        for (size_t j = 0; j < m; j++) {
            double lo = (z[j] - 0.5 * step - mean) / sigma;
            double hi = (z[j] + 0.5 * step - mean) / sigma;
            double q;
            if (j == 0)
                q = tm_normal_cdf(hi);
            else if (j + 1 == m)
                q = tm_normal_sf(lo);
            else
                q = norm_interval(lo, hi);
            row[j] = q > 0.0 ? q : 0.0;
            sum += row[j];
        }
        /* Mixing the two tail formulas breaks exact telescoping; renormalise
         * so each row is a probability vector to rounding. */
        for (size_t j = 0; j < m; j++)
            row[j] /= sum;
    }
    return 0;
}

int tm_grid_stationary(int n, const double *P, double *pi, double tol, int max_iter)
{
    if (n < 2 || !P || !pi || !(tol > 0.0) || max_iter < 1)
        return -1;
    const size_t m = (size_t)n;
    for (size_t i = 0; i < m; i++) {
        double sum = 0.0;
        for (size_t j = 0; j < m; j++) {
            double v = P[i * m + j];
            if (!isfinite(v) || v < 0.0)
                return -1;
            sum += v;
        }
        if (fabs(sum - 1.0) > 1e-9)
            return -1;
    }

    double *next = malloc(m * sizeof *next);
    if (!next)
        return -1;
    for (size_t j = 0; j < m; j++)
        pi[j] = 1.0 / (double)n;

    int status = -1;
    for (int it = 0; it < max_iter; it++) {
        for (size_t j = 0; j < m; j++)
            next[j] = 0.0;
        /* Row-wise accumulation walks P contiguously. */
        for (size_t i = 0; i < m; i++) {
            double w = pi[i];
            const double *row = P + i * m;
            for (size_t j = 0; j < m; j++)
                next[j] += w * row[j];
        }
        /* Renormalise so rounding cannot let the total mass drift. */
        double total = 0.0;
        for (size_t j = 0; j < m; j++)
            total += next[j];
        double diff = 0.0;
        for (size_t j = 0; j < m; j++) {
            next[j] /= total;
            diff += fabs(next[j] - pi[j]);
            pi[j] = next[j];
        }
        if (diff < tol) {
            status = 0;
            break;
        }
    }
    free(next);
    return status;
}

/* Grassmann-Taksar-Heyman elimination (Grassmann, Taksar and Heyman 1985):
 * exact to rounding, subtraction-free hence stable, O(n^3) whatever the
 * persistence, where power iteration needs O(1 / (1 - rho)) sweeps. */
int tm_grid_stationary_exact(int n, const double *P, double *pi)
{
    if (n < 1 || !P || !pi)
        return -1;
    const size_t m = (size_t)n;
    double *a = malloc(m * m * sizeof *a);
    if (!a)
        return -1;
    memcpy(a, P, m * m * sizeof *a);
    int status = 0;
    for (size_t k = m - 1; k >= 1 && status == 0; k--) {
        double s = 0.0;
        for (size_t j = 0; j < k; j++)
            s += a[k * m + j];
        if (!(s > 0.0)) {
            status = -1; /* a closed class without state 0: not irreducible */
            break;
        }
        for (size_t i = 0; i < k; i++)
            a[i * m + k] /= s;
        for (size_t i = 0; i < k; i++) {
            double aik = a[i * m + k];
            if (aik == 0.0)
                continue;
            for (size_t j = 0; j < k; j++)
                a[i * m + j] += aik * a[k * m + j];
        }
    }
    if (status == 0) {
        double total = 1.0;
        pi[0] = 1.0;
        for (size_t k = 1; k < m; k++) {
            double v = 0.0;
            for (size_t i = 0; i < k; i++)
                v += pi[i] * a[i * m + k];
            pi[k] = v;
            total += v;
        }
        for (size_t k = 0; k < m; k++)
            pi[k] /= total;
    }
    free(a);
    return status;
}

int tm_grid_tables_init(tm_grid_tables *g, const tm_params *p, tm_error *err)
{
    const size_t n_z = (size_t)p->grid_points, S = (size_t)p->n_sectors;
    g->n_z = p->grid_points;
    g->n_sectors = p->n_sectors;
    g->z = malloc(S * n_z * sizeof(double));
    g->P = malloc(S * n_z * n_z * sizeof(double));
    g->pi = malloc(S * n_z * sizeof(double));
    if (!g->z || !g->P || !g->pi) {
        tm_grid_tables_free(g);
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory for the productivity grids (%zu points)", n_z);
    }
    for (int s = 0; s < p->n_sectors; s++) {
        const tm_sector *ps = &p->sector[s];
        double *z = g->z + (size_t)s * n_z, *P = g->P + (size_t)s * n_z * n_z;
        int rc = p->grid_method == TM_GRID_ROUWENHORST
                     ? tm_grid_rouwenhorst(g->n_z, ps->persistence, ps->volatility, z, P)
                     : tm_grid_tauchen(g->n_z, ps->persistence, ps->volatility, p->tauchen_width, z, P);
        if (rc) {
            tm_grid_tables_free(g);
            return tm_error_set(err, TM_ERR_INPUT,
                                "sector %s: cannot discretise productivity (persistence %g, volatility %g)", ps->name,
                                ps->persistence, ps->volatility);
        }
        if (tm_grid_stationary_exact(g->n_z, P, g->pi + (size_t)s * n_z)) {
            tm_grid_tables_free(g);
            return tm_error_set(err, TM_ERR_INPUT,
                                "sector %s: the productivity chain (persistence %g, volatility %g, %d points) has no "
                                "stationary law",
                                ps->name, ps->persistence, ps->volatility, p->grid_points);
        }
    }
    return 0;
}

void tm_grid_tables_free(tm_grid_tables *g)
{
    free(g->z);
    free(g->P);
    free(g->pi);
    g->z = g->P = g->pi = NULL;
}

int tm_grid_top_count(int n, const double *pi, double q)
{
    if (!(q < 1.0))
        return 0;
    if (q <= 0.0)
        return n;
    /* below = F(z_first) = sum_{j<first} pi_j, which only grows with first:
     * stop at the first point where it reaches q. */
    double below = 0.0;
    int first = 0;
    while (first < n && below < q)
        below += pi[first++];
    return n - first;
}
