/* optim: derivative-free minimisation over a box by NLopt: Nelder-Mead
 * (NLOPT_LN_NELDERMEAD, bounds respected) or BOBYQA (NLOPT_LN_BOBYQA,
 * Powell 2009), with restarts and a progress callback. Owns nothing beyond
 * one call's NLopt object. */
#ifndef TM_OPTIM_H
#define TM_OPTIM_H

#include "base/error.h"
#include "base/progress.h"

typedef enum { TM_OPTIM_NELDER_MEAD = 0, TM_OPTIM_BOBYQA } tm_optim_method;

/* Objective: write f(x) to *value and return 0, or return nonzero (with err
 * set) to stop the search. A non-finite *value counts as +infinity. */
typedef int (*tm_optim_fn)(const double *x, double *value, void *ctx, tm_error *err);

/* The detail of the optimiser's progress report (base/progress.h), made
 * when an evaluation improves on the best value so far: stage "optimiser",
 * done the evaluations so far, total the evaluation budget. */
typedef struct {
    double best;     /* the new best value */
    const double *x; /* where it was found */
    int n;
} tm_optim_step;

typedef struct {
    tm_optim_method method;
    int max_evaluations;  /* over all starts; 0: 100 * (n + 1) */
    double f_tolerance;   /* stop when a step changes f by less than this (absolute; 0: 1e-8) */
    double x_tolerance;   /* ... or moves every variable by less than this fraction of its range
                           * (of max(|x|, 1) when unbounded; 0: 1e-6) */
    double initial_step;  /* first step: this fraction of each range, or of max(|x|, 1) (0: 0.1) */
    int restarts;         /* start again from the best point this many times after convergence,
                           * stopping early when a restart gains less than f_tolerance */
    tm_progress progress; /* detail: tm_optim_step */
} tm_optim_options;

typedef struct {
    double value;    /* f at the returned x */
    int evaluations; /* over all starts */
    int converged;   /* a tolerance was met (not the evaluation budget) */
} tm_optim_result;

/* Minimise fn over n variables from x (in: start, out: best point found).
 * lower/upper may be NULL or hold -INFINITY/INFINITY per variable (BOBYQA
 * needs finite bounds); the start must lie inside them. Deterministic: the
 * same start and options give the same evaluations. */
int tm_optim_minimize(int n, double *x, const double *lower, const double *upper, tm_optim_fn fn, void *ctx,
                      const tm_optim_options *opts, tm_optim_result *result, tm_error *err);

#endif
