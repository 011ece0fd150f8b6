/* model: the small interface every decision model implements (myopic,
 * dynamic, learning). A model turns this period's payoffs into choice values
 * v(z, S_prev, S); the engine turns values into a policy table. */
#ifndef TM_MODEL_H
#define TM_MODEL_H

#include "error.h"
#include "params.h"

/* What a sector's firms face in one period. Tables are over the sector's
 * productivity grid; sets are bit masks over destinations. */
typedef struct {
    int sector;
    int period; /* logged period index; negative during burn-in */
    int n_z, n_sets, n_dest;
    const double *z_grid;  /* [n_z] log productivity */
    const double *P;       /* [n_z * n_z] productivity transition */
    const double *flow;    /* [n_z * n_sets]: Pi(z,S) - fixed costs; -inf if infeasible */
    const double *sunk;    /* [n_dest] sunk cost of entering d this period */
    const int *regime;     /* [n_dest] regimes in force */
    double death_rate;     /* delta_s */
} tm_choice_ctx;

typedef struct tm_model_ops {
    const char *name;
    /* Prepare (e.g. solve a dynamic programme); *state may stay NULL. */
    int (*init)(const tm_params *params, void **state, tm_error *err);
    /* value[(z * n_sets + S_prev) * n_sets + S] for this sector and period. */
    int (*values)(void *state, const tm_choice_ctx *ctx, double *value, tm_error *err);
    void (*free)(void *state);
} tm_model_ops;

/* The model implementing params->model, or NULL if it is not built in. */
const tm_model_ops *tm_model_lookup(int kind);

extern const tm_model_ops tm_model_myopic;

#endif
