/* policy: the per-period decision tables firms look up in the hot loop.
 * Built from choice values v(z, S_prev, S) by exact argmax (lambda = 0) or
 * as logit (extreme-value) choice probabilities with scale lambda. */
#ifndef TM_POLICY_H
#define TM_POLICY_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int n_z, n_rows, n_sets; /* rows: market states a firm can be in (src/engine/mstate.h) */
    int logit;
    uint8_t *choice; /* [n_z * n_rows]: S chosen from (z, state); argmax only */
    uint64_t *cdf;   /* [n_z * n_rows * n_sets]: cumulative probabilities x 2^32; logit only */
} tm_policy;

/* Rows are the market sets themselves (no experience states). */
int tm_policy_alloc(tm_policy *pol, int n_z, int n_sets, int logit);
int tm_policy_alloc_rows(tm_policy *pol, int n_z, int n_rows, int n_sets, int logit);
void tm_policy_free(tm_policy *pol);

/* value[(z * n_rows + state) * n_sets + S]; -INFINITY marks an infeasible
 * set. Ties go to the smallest set index (deterministic). */
void tm_policy_build(tm_policy *pol, const double *value, double lambda);

/* Choice probabilities implied by values (for the exact-distribution tests
 * and the dynamic model): prob has the layout of value. */
void tm_policy_probabilities(const double *value, int n_z, int n_sets, double lambda, double *prob);
/* The same over `rows` rows of n_sets values. */
void tm_policy_row_probabilities(const double *value, size_t rows, int n_sets, double lambda, double *prob);

static inline int tm_policy_choose(const tm_policy *pol, int iz, int prev, uint32_t r)
{
    if (!pol->logit)
        return pol->choice[iz * pol->n_rows + prev];
    const uint64_t *c = pol->cdf + ((size_t)iz * (size_t)pol->n_rows + (size_t)prev) * (size_t)pol->n_sets;
    int S = 0;
    while ((uint64_t)r >= c[S])
        S++;
    return S;
}

#endif
