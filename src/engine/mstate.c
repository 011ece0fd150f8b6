#include "engine/mstate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int build(tm_mstate *ms, int n_dest, const tm_experience *x, int timing)
{
    memset(ms, 0, sizeof *ms);
    ms->n_dest = n_dest;
    ms->levels = x->levels;
    ms->timing = timing;
    ms->radix = x->levels + 1;
    ms->n_sets = 1 << n_dest;
    int n = 1;
    for (int d = 0; d < n_dest; d++)
        n *= ms->radix;
    if (n > TM_MAX_STATES)
        return -1;
    ms->n_states = n;
    const int K = x->levels, R = ms->radix, M = ms->n_sets;
    for (int k = 0; k < K; k++) {
        ms->demand[k] = x->demand[k];
        ms->iceberg[k] = x->iceberg[k];
        ms->fixed_cost[k] = x->fixed_cost[k];
    }
    ms->identity = 1;
    for (int i = 0; i < K; i++) {
        double acc = 0.0;
        int last = 0;
        for (int j = 0; j < K; j++) {
            acc += x->transition[i][j];
            ms->cum[i][j] = (uint64_t)ldexp(acc, 32);
            if (x->transition[i][j] > 0.0)
                last = j;
            if (x->transition[i][j] != (i == j ? 1.0 : 0.0))
                ms->identity = 0;
        }
        /* Every draw lands: the last possible level closes the interval. */
        for (int j = last; j < K; j++)
            ms->cum[i][j] = (uint64_t)1 << 32;
    }
    for (int m = 0; m < n; m++) {
        int set = 0;
        for (int d = 0, rest = m; d < n_dest; d++, rest /= R) {
            ms->level[m][d] = (uint8_t)(rest % R);
            if (rest % R)
                set |= 1 << d;
        }
        ms->set_of[m] = (uint8_t)set;
    }
    int stride[TM_MAX_DEST];
    for (int d = 0, s = 1; d < n_dest; d++, s *= R)
        stride[d] = s;
    for (int m = 0; m < n; m++)
        for (int S = 0; S < M; S++) {
            int l = 0;
            for (int d = 0; d < n_dest; d++)
                if (S >> d & 1)
                    l += (ms->level[m][d] ? ms->level[m][d] : 1) * stride[d];
            ms->served[m * M + S] = (uint8_t)l;
        }
    /* Next-state laws: per destination a law over levels, then products. */
    ms->law_start = malloc(((size_t)n * (size_t)M + 1) * sizeof(int));
    ms->law_state = malloc((size_t)n * (size_t)M * (size_t)n);
    ms->law_prob = malloc((size_t)n * (size_t)M * (size_t)n * sizeof(double));
    if (!ms->law_start || !ms->law_state || !ms->law_prob)
        return -1;
    int nnz = 0;
    for (int m = 0; m < n; m++)
        for (int S = 0; S < M; S++) {
            double per[TM_MAX_DEST][TM_MAX_LEVELS + 1];
            for (int d = 0; d < n_dest; d++) {
                for (int k = 0; k <= K; k++)
                    per[d][k] = 0.0;
                int from; /* level served (current) or paid for (next) */
                if (!(S >> d & 1)) {
                    per[d][0] = 1.0;
                    continue;
                }
                if (timing == TM_TIMING_NEXT) {
                    from = ms->level[m][d];
                    if (from == 0) {
                        per[d][1] = 1.0; /* entry lands in level 1 */
                        continue;
                    }
                } else {
                    from = ms->level[m][d] ? ms->level[m][d] : 1;
                }
                for (int k = 1; k <= K; k++)
                    per[d][k] = x->transition[from - 1][k - 1];
            }
            ms->law_start[m * M + S] = nnz;
            for (int to = 0; to < n; to++) {
                double q = 1.0;
                for (int d = 0; d < n_dest && q > 0.0; d++)
                    q *= per[d][ms->level[to][d]];
                if (q <= 0.0)
                    continue;
                ms->law_state[nnz] = (uint8_t)to;
                ms->law_prob[nnz] = q;
                nnz++;
            }
        }
    ms->law_start[n * M] = nnz;
    return 0;
}

int tm_mstate_init(tm_mstate *ms, const tm_params *p)
{
    int rc = build(ms, p->n_dest, &p->experience, p->timing);
    if (rc)
        tm_mstate_free(ms);
    return rc;
}

int tm_mstate_init_dest(tm_mstate *ms, int n_dest, const tm_experience *x, int timing)
{
    int rc = build(ms, n_dest, x, timing);
    if (rc)
        tm_mstate_free(ms);
    return rc;
}

int tm_mstate_init_sets(tm_mstate *ms, int n_dest)
{
    tm_experience x;
    memset(&x, 0, sizeof x);
    x.levels = 1;
    x.demand[0] = x.iceberg[0] = x.fixed_cost[0] = 1.0;
    x.transition[0][0] = 1.0;
    int rc = build(ms, n_dest, &x, TM_TIMING_CURRENT);
    if (rc)
        tm_mstate_free(ms);
    return rc;
}

void tm_mstate_free(tm_mstate *ms)
{
    free(ms->law_start);
    free(ms->law_state);
    free(ms->law_prob);
    ms->law_start = NULL;
    ms->law_state = NULL;
    ms->law_prob = NULL;
}

void tm_mstate_costs(const tm_mstate *ms, const double *sunk, const double *fixed, const int *closed, double *cost)
{
    const int M = ms->n_sets;
    for (int m = 0; m < ms->n_states; m++)
        for (int S = 0; S < M; S++) {
            double c = 0.0;
            for (int d = 0; d < ms->n_dest; d++) {
                if (!(S >> d & 1))
                    continue;
                int k = ms->level[m][d];
                if (ms->timing == TM_TIMING_NEXT) {
                    if (closed && closed[d]) {
                        c = INFINITY;
                        break;
                    }
                    c += (k == 0 ? sunk[d] : 0.0) + fixed[d] * ms->fixed_cost[k ? k - 1 : 0];
                } else if (k == 0) {
                    c += sunk[d];
                }
            }
            cost[m * M + S] = c;
        }
}
