/* anderson: Anderson acceleration of a fixed-point iteration (see
 * anderson.h). The normal equations of the least-squares problem are kept
 * as a Gram matrix of the residual differences, updated by one row per
 * step, and solved by Cholesky with a Tikhonov term mu = 1e-10 x their
 * mean diagonal (Walker and Ni 2011 discuss the conditioning). */
#include "models/anderson.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The Tikhonov term relative to the mean squared length of a difference. */
#define ANDERSON_REGULARISATION 1e-10

int tm_anderson_init(tm_anderson *a, size_t n, int depth)
{
    memset(a, 0, sizeof *a);
    if (depth < 1)
        depth = 1;
    if (depth > TM_ANDERSON_MAX_DEPTH)
        depth = TM_ANDERSON_MAX_DEPTH;
    a->n = n;
    a->depth = depth;
    a->newest = depth - 1;
    a->df = malloc((size_t)depth * n * sizeof(double));
    a->dg = malloc((size_t)depth * n * sizeof(double));
    a->f_prev = malloc(n * sizeof(double));
    a->g_prev = malloc(n * sizeof(double));
    if (!a->df || !a->dg || !a->f_prev || !a->g_prev) {
        tm_anderson_free(a);
        return -1;
    }
    return 0;
}

void tm_anderson_free(tm_anderson *a)
{
    free(a->df);
    free(a->dg);
    free(a->f_prev);
    free(a->g_prev);
    a->df = a->dg = a->f_prev = a->g_prev = NULL;
}

void tm_anderson_reset(tm_anderson *a)
{
    a->count = 0;
    a->newest = a->depth - 1;
    a->primed = 0;
}

static double dot(const double *u, const double *v, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += u[i] * v[i];
    return s;
}

/* Solve (A + mu I) y = b in place of b, A symmetric positive semi-definite
 * of order k; -1 when a pivot is not positive. */
static int cholesky_solve(double A[TM_ANDERSON_MAX_DEPTH][TM_ANDERSON_MAX_DEPTH], int k, double mu, double *b)
{
    double L[TM_ANDERSON_MAX_DEPTH][TM_ANDERSON_MAX_DEPTH];
    for (int i = 0; i < k; i++)
        for (int j = 0; j <= i; j++) {
            double s = A[i][j] + (i == j ? mu : 0.0);
            for (int q = 0; q < j; q++)
                s -= L[i][q] * L[j][q];
            if (i == j) {
                if (!(s > 0.0))
                    return -1;
                L[i][i] = sqrt(s);
            } else {
                L[i][j] = s / L[j][j];
            }
        }
    for (int i = 0; i < k; i++) {
        double s = b[i];
        for (int q = 0; q < i; q++)
            s -= L[i][q] * b[q];
        b[i] = s / L[i][i];
    }
    for (int i = k - 1; i >= 0; i--) {
        double s = b[i];
        for (int q = i + 1; q < k; q++)
            s -= L[q][i] * b[q];
        b[i] = s / L[i][i];
    }
    return 0;
}

int tm_anderson_step(tm_anderson *a, const double *x, const double *g, double *x_out)
{
    const size_t n = a->n;
    const int m = a->depth;
    if (a->primed) {
        /* The newest difference replaces the oldest when the history is full. */
        int s = (a->newest + 1) % m;
        double *df = a->df + (size_t)s * n, *dg = a->dg + (size_t)s * n;
        for (size_t i = 0; i < n; i++) {
            double f = g[i] - x[i];
            df[i] = f - a->f_prev[i];
            dg[i] = g[i] - a->g_prev[i];
            a->f_prev[i] = f;
            a->g_prev[i] = g[i];
        }
        a->newest = s;
        if (a->count < m)
            a->count++;
        for (int k = 0; k < a->count; k++) {
            int t = (s - k + m) % m;
            a->gram[s][t] = a->gram[t][s] = dot(df, a->df + (size_t)t * n, n);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            a->f_prev[i] = g[i] - x[i];
            a->g_prev[i] = g[i];
        }
        a->primed = 1;
    }
    const int k = a->count;
    if (k == 0) {
        if (x_out != g)
            memcpy(x_out, g, n * sizeof(double));
        return 0;
    }
    /* The held differences, oldest first: a fixed order. */
    int slot[TM_ANDERSON_MAX_DEPTH];
    double A[TM_ANDERSON_MAX_DEPTH][TM_ANDERSON_MAX_DEPTH], gamma[TM_ANDERSON_MAX_DEPTH];
    double trace = 0.0;
    for (int i = 0; i < k; i++)
        slot[i] = (a->newest - (k - 1) + i + m) % m;
    for (int i = 0; i < k; i++) {
        for (int j = 0; j < k; j++)
            A[i][j] = a->gram[slot[i]][slot[j]];
        trace += A[i][i];
        gamma[i] = dot(a->df + (size_t)slot[i] * n, a->f_prev, n);
    }
    double mu = ANDERSON_REGULARISATION * trace / k;
    if (!(trace > 0.0) || !isfinite(trace) || cholesky_solve(A, k, mu, gamma)) {
        if (x_out != g)
            memcpy(x_out, g, n * sizeof(double));
        return 0;
    }
    for (size_t c = 0; c < n; c++) {
        double v = g[c];
        for (int i = 0; i < k; i++)
            v -= gamma[i] * a->dg[(size_t)slot[i] * n + c];
        x_out[c] = v;
    }
    return k;
}
