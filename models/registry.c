/* The table of built-in decision models, indexed by run.model, and what
 * the models share: the cost table fallback and preparing a model outside
 * a run. */
#include <stdlib.h>

#include "engine/grid.h"
#include "engine/mstate.h"
#include "engine/process.h"
#include "models/model.h"

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

/* In the order of tm_model_kind; each model's name is the value of
 * run.model that selects it. */
static const tm_model_ops *const models[] = {&tm_model_myopic, &tm_model_dynamic, &tm_model_learning};

const tm_model_ops *tm_model_lookup(int kind)
{
    return kind >= 0 && kind < (int)(sizeof models / sizeof models[0]) ? models[kind] : NULL;
}

const char *tm_model_name(int kind)
{
    const tm_model_ops *m = tm_model_lookup(kind);
    return m ? m->name : "?";
}

int tm_model_open(const tm_model_ops *model, const tm_params *p, int threads, void **state, tm_error *err)
{
    *state = NULL;
    tm_grid_tables grids = {0};
    tm_process *process = malloc((size_t)p->n_sectors * sizeof *process);
    if (!process)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    int rc = tm_grid_tables_init(&grids, p, err);
    if (!rc) {
        for (int s = 0; s < p->n_sectors; s++)
            tm_process_init(p, &process[s]);
        tm_model_env env = {.threads = threads > 0 ? threads : 1, .grids = &grids, .process = process};
        rc = model->init(p, &env, state, err);
    }
    tm_grid_tables_free(&grids);
    free(process);
    return rc;
}
