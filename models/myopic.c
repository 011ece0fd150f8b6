/* Myopic firms: choose the market set that maximises this period's profit
 * net of fixed costs and of the sunk costs of the markets they enter, the
 * sunk cost taken in full or as its annuity (docs/model.md eq. 6). With
 * timing `next` they weigh next period's profit at today's productivity
 * against the cost paid now. */
#include <math.h>
#include <stdlib.h>

#include "models/model.h"
#include "engine/mstate.h"

typedef struct {
    int annuity;
    double discount;
    tm_mstate sets; /* plain market sets, for contexts without states */
    int n_dest;
    const tm_params *p;
    double cost[TM_MAX_STATES * TM_MAX_STATES]; /* contexts without a cost table */
} myopic_state;

static int myopic_init(const tm_params *p, const tm_model_env *env, void **state, tm_error *err)
{
    (void)env;
    myopic_state *st = calloc(1, sizeof *st);
    if (!st || tm_mstate_init_sets(&st->sets, p->n_dest)) {
        free(st);
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    }
    st->annuity = p->myopic_sunk == TM_SUNK_ANNUITY;
    st->discount = p->discount;
    st->n_dest = p->n_dest;
    st->p = p;
    *state = st;
    return 0;
}

static int myopic_values(void *state, const tm_choice_ctx *ctx, double *value, tm_error *err)
{
    (void)err;
    myopic_state *st = state;
    const tm_mstate *ms = ctx->states ? ctx->states : &st->sets;
    const int M = ctx->n_sets, N = ms->n_states;
    const int next = ms->timing == TM_TIMING_NEXT;
    const double *costs = next ? tm_model_costs(ctx, ms, &st->p->sector[ctx->sector], st->cost) : NULL;
    for (int iz = 0; iz < ctx->n_z; iz++) {
        const double *flow = ctx->flow + (size_t)iz * (size_t)N;
        double death = ctx->death ? ctx->death[iz] : ctx->death_rate;
        double bd = st->discount * (1.0 - death);
        /* The annuity spreads F over the expected life of a spell at the
         * discount rate: F * (1 - beta (1 - delta)) per period. */
        double weight = st->annuity ? 1.0 - bd : 1.0;
        for (int m = 0; m < N; m++) {
            double *v = value + ((size_t)iz * (size_t)N + (size_t)m) * (size_t)M;
            for (int S = 0; S < M; S++) {
                double sunk = 0.0;
                for (int d = 0; d < ctx->n_dest; d++)
                    if ((S >> d & 1) && !ms->level[m][d])
                        sunk += ctx->sunk[d];
                if (!next) {
                    v[S] = flow[ms->served[m * M + S]] - weight * sunk;
                    continue;
                }
                /* Cost now (sunk part annuitised if asked), profit next period. */
                double cost = costs[m * M + S];
                double ahead = 0.0;
                for (int k = ms->law_start[m * M + S]; k < ms->law_start[m * M + S + 1]; k++)
                    ahead += ms->law_prob[k] * flow[ms->law_state[k]];
                v[S] = flow[m] - (cost - (1.0 - weight) * sunk) + bd * ahead;
            }
        }
    }
    return 0;
}

static void myopic_free(void *state)
{
    myopic_state *st = state;
    if (st)
        tm_mstate_free(&st->sets);
    free(st);
}

const tm_model_ops tm_model_myopic = {"myopic", myopic_init, myopic_values, myopic_free, NULL, NULL, NULL, NULL};
