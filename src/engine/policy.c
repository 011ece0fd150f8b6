#include "engine/policy.h"

#include <math.h>
#include <stdlib.h>

int tm_policy_alloc(tm_policy *pol, int n_z, int n_sets, int logit)
{
    return tm_policy_alloc_rows(pol, n_z, n_sets, n_sets, logit);
}

int tm_policy_alloc_rows(tm_policy *pol, int n_z, int n_rows, int n_sets, int logit)
{
    pol->n_z = n_z;
    pol->n_rows = n_rows;
    pol->n_sets = n_sets;
    pol->logit = logit;
    pol->choice = NULL;
    pol->cdf = NULL;
    size_t cells = (size_t)n_z * (size_t)n_rows;
    if (logit)
        pol->cdf = malloc(cells * (size_t)n_sets * sizeof *pol->cdf);
    else
        pol->choice = malloc(cells);
    return (logit ? pol->cdf != NULL : pol->choice != NULL) ? 0 : -1;
}

void tm_policy_free(tm_policy *pol)
{
    free(pol->choice);
    free(pol->cdf);
    pol->choice = NULL;
    pol->cdf = NULL;
}

/* The first set of highest value in one row of values. */
static int row_argmax(const double *v, int n_sets)
{
    int best = 0;
    for (int S = 1; S < n_sets; S++)
        if (v[S] > v[best])
            best = S;
    return best;
}

/* Logit probabilities of one row of values (lambda > 0), or the argmax. */
static void row_probabilities(const double *v, int n_sets, double lambda, double *p)
{
    const int best = row_argmax(v, n_sets);
    if (lambda <= 0.0) {
        for (int S = 0; S < n_sets; S++)
            p[S] = S == best ? 1.0 : 0.0;
        return;
    }
    double total = 0.0;
    for (int S = 0; S < n_sets; S++) {
        /* exp(0) is exactly 1 (C11 F.10.3.1): the best set without the call. */
        p[S] = isinf(v[S]) && v[S] < 0 ? 0.0 : v[S] == v[best] ? 1.0 : exp((v[S] - v[best]) / lambda);
        total += p[S];
    }
    for (int S = 0; S < n_sets; S++)
        p[S] /= total;
}

void tm_policy_probabilities(const double *value, int n_z, int n_sets, double lambda, double *prob)
{
    tm_policy_row_probabilities(value, (size_t)n_z * (size_t)n_sets, n_sets, lambda, prob);
}

void tm_policy_row_probabilities(const double *value, size_t rows, int n_sets, double lambda, double *prob)
{
    for (size_t row = 0; row < rows; row++)
        row_probabilities(value + row * (size_t)n_sets, n_sets, lambda, prob + row * (size_t)n_sets);
}

void tm_policy_build(tm_policy *pol, const double *value, double lambda)
{
    int n_sets = pol->n_sets;
    size_t rows = (size_t)pol->n_z * (size_t)pol->n_rows;
    double prob[256];
    for (size_t row = 0; row < rows; row++) {
        if (!pol->logit) {
            pol->choice[row] = (uint8_t)row_argmax(value + row * (size_t)n_sets, n_sets);
            continue;
        }
        row_probabilities(value + row * (size_t)n_sets, n_sets, lambda, prob);
        uint64_t *c = pol->cdf + row * (size_t)n_sets;
        double acc = 0.0;
        int last = 0;
        for (int S = 0; S < n_sets; S++) {
            acc += prob[S];
            c[S] = (uint64_t)ldexp(acc, 32);
            if (prob[S] > 0.0)
                last = S;
        }
        /* Every draw must land: the last feasible set closes the interval. */
        for (int S = last; S < n_sets; S++)
            c[S] = (uint64_t)1 << 32;
    }
}
