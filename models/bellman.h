/* bellman: the dynamic programme of the forward-looking models (dynamic,
 * learning): value iteration per sector and belief class over the
 * productivity grid, the previous market set and the joint regime. */
#ifndef TM_BELLMAN_H
#define TM_BELLMAN_H

#include "engine/process.h"
#include "models/model.h"

typedef double tm_bellman_matrices[TM_MAX_DEST][TM_MAX_REGIMES][TM_MAX_REGIMES];

typedef struct tm_bellman tm_bellman;

/* Solve every sector and class from t0 = -run.burn_in on the grids of
 * env, with env->threads threads, from the process in force env->process.
 * Class k faces demand type k % n_types of the parameters (n_classes is a
 * multiple of n_types); class_trans[k] replaces its transition matrices
 * (beliefs), with class_trans NULL it knows the true process. With
 * foresee, events marked anticipated are foreseen. */
int tm_bellman_open(const tm_params *p, const tm_model_env *env, int n_classes, const tm_bellman_matrices *class_trans,
                    int foresee, tm_bellman **out, tm_error *err);
void tm_bellman_close(tm_bellman *b);

/* Choice values of class k for ctx's sector and period (docs/model.md eq.
 * 10a); solves again when the process in force is not the expected one. */
int tm_bellman_values(tm_bellman *b, int k, const tm_choice_ctx *ctx, double *value, tm_error *err);

/* Choice values with the continuation interpolated between classes:
 * E[V] = sum_c weight[c] E[V of class k[c]] (weights sum to 1), so the
 * values are the weighted sum of the classes' values (eq. 10a is linear in
 * E[V]). With n = 1 they are tm_bellman_values of k[0], bit for bit. */
#define TM_BELLMAN_MAX_MIX 64
int tm_bellman_values_mix(tm_bellman *b, int n, const int *k, const double *weight, const tm_choice_ctx *ctx,
                          double *value, tm_error *err);

/* The type whose multipliers are every typed destination's middle one. */
int tm_bellman_median_type(const tm_params *p);

/* The parameters it was opened with. */
const tm_params *tm_bellman_params(const tm_bellman *b);

/* Cut-offs and statistics of the first solve of (sector, class k). */
void tm_bellman_summary(const tm_bellman *b, int sector, int k, tm_policy_summary *out);

/* The process the current solution of (sector, class k) expects in
 * `period` (the process in force when it was solved, with the anticipated
 * events up to `period` applied); -1 if it does not cover that period. */
int tm_bellman_expected_process(const tm_bellman *b, int sector, int k, int period, tm_process *out);

#endif
