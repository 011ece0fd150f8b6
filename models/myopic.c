/* Myopic firms: choose the market set that maximises this period's profit
 * net of fixed costs and of the sunk costs of the markets they enter, the
 * sunk cost taken in full or as its annuity (docs/model.md eq. 6). */
#include <math.h>
#include <stdlib.h>

#include "model.h"

typedef struct {
    int annuity;
    double discount;
} myopic_state;

static int myopic_init(const tm_params *p, void **state, tm_error *err)
{
    myopic_state *st = malloc(sizeof *st);
    if (!st)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    st->annuity = p->myopic_sunk == TM_SUNK_ANNUITY;
    st->discount = p->discount;
    *state = st;
    return 0;
}

static int myopic_values(void *state, const tm_choice_ctx *ctx, double *value, tm_error *err)
{
    (void)err;
    const myopic_state *st = state;
    int n_sets = ctx->n_sets;
    /* The annuity spreads F over the expected life of a spell at the discount
     * rate: F * (1 - beta (1 - delta)) per period. */
    double weight = st->annuity ? 1.0 - st->discount * (1.0 - ctx->death_rate) : 1.0;
    for (int iz = 0; iz < ctx->n_z; iz++) {
        const double *flow = ctx->flow + iz * n_sets;
        for (int prev = 0; prev < n_sets; prev++) {
            double *v = value + ((size_t)iz * (size_t)n_sets + (size_t)prev) * (size_t)n_sets;
            for (int S = 0; S < n_sets; S++) {
                double sunk = 0.0;
                int entering = S & ~prev;
                for (int d = 0; d < ctx->n_dest; d++)
                    if (entering >> d & 1)
                        sunk += ctx->sunk[d];
                v[S] = flow[S] - weight * sunk;
            }
        }
    }
    return 0;
}

static void myopic_free(void *state)
{
    free(state);
}

const tm_model_ops tm_model_myopic = {"myopic", myopic_init, myopic_values, myopic_free, NULL, NULL, NULL, NULL};
