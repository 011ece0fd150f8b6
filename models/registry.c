/* The table of built-in decision models, indexed by run.model. */
#include <stddef.h>

#include "models/model.h"
#include "engine/mstate.h"

const double *tm_model_costs(const tm_choice_ctx *ctx, const struct tm_mstate *ms, const tm_sector *sector, double *buf)
{
    if (ctx->cost)
        return ctx->cost;
    double fixed[TM_MAX_DEST];
    for (int d = 0; d < ctx->n_dest; d++)
        fixed[d] = sector->market[d].fixed_cost;
    tm_mstate_costs(ms, ctx->sunk, fixed, NULL, buf);
    return buf;
}

const tm_model_ops *tm_model_lookup(int kind)
{
    switch (kind) {
    case TM_MODEL_MYOPIC:
        return &tm_model_myopic;
    case TM_MODEL_DYNAMIC:
        return &tm_model_dynamic;
    case TM_MODEL_LEARNING:
        return &tm_model_learning;
    default:
        return NULL;
    }
}
