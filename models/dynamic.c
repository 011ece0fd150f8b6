/* Forward-looking firms: Das-Roberts-Tybout sunk costs under Handley-Limao
 * trade-policy uncertainty (docs/model.md section 6). Firms know the regime
 * process and foresee the events marked `anticipated`; the dynamic
 * programme itself lives in models/bellman.c. */
#include "models/bellman.h"
#include "models/model.h"

static int dynamic_init(const tm_params *p, const tm_model_env *env, void **state, tm_error *err)
{
    tm_bellman *b = NULL;
    *state = NULL;
    if (tm_bellman_open(p, env, p->n_types, NULL, 1, &b, err))
        return -1;
    *state = b;
    return 0;
}

static int dynamic_values(void *state, const tm_choice_ctx *ctx, double *value, tm_error *err)
{
    return tm_bellman_values(state, ctx->type, ctx, value, err);
}

static void dynamic_free(void *state)
{
    tm_bellman_close(state);
}

static int dynamic_summary(const void *state, int sector, tm_policy_summary *out)
{
    /* With demand types, the policy of the median type (every destination's
     * middle multiplier). */
    tm_bellman_summary(state, sector, tm_bellman_median_type(tm_bellman_params(state)), out);
    return 0;
}

const tm_model_ops tm_model_dynamic = {"dynamic",       dynamic_init, dynamic_values, dynamic_free,
                                       dynamic_summary, NULL,         NULL,           NULL};
