/* optim: derivative-free minimisation (Nelder-Mead simplex with the
 * dimension-adaptive coefficients of Gao & Han 2012), bounds handled by a
 * smooth change of variables. Owns nothing beyond one call's work arrays. */
#ifndef TM_OPTIM_H
#define TM_OPTIM_H

#include "base/error.h"

/* Objective: write f(x) to *value and return 0, or return nonzero (with err
 * set) to stop the search. A non-finite *value counts as +infinity. */
typedef int (*tm_optim_fn)(const double *x, double *value, void *ctx, tm_error *err);

/* Called once per iteration with the best point so far (natural units). */
typedef void (*tm_optim_progress)(int iteration, int evaluations, double best, const double *x, int n,
                                  void *ctx);

typedef struct {
    int max_iterations;   /* per start; 0: 200 * n */
    int max_evaluations;  /* over all starts; 0: unlimited */
    double f_tolerance;   /* stop when max |f_i - f_best| <= this (0: 1e-8) */
    double x_tolerance;   /* ... and the simplex spans at most this in transformed units (0: 1e-6) */
    double initial_step;  /* first simplex: fraction of each bounded range, or of max(|x|,1) (0: 0.1) */
    int restarts;         /* rebuild the simplex at the best point this many times after convergence */
    tm_optim_progress progress;
} tm_optim_options;

typedef struct {
    double value;    /* f at the returned x */
    int iterations;  /* over all starts */
    int evaluations;
    int converged;   /* the tolerances were met (not a budget stop) */
} tm_optim_result;

/* Minimise fn over n variables from x (in: start, out: best point found).
 * lower/upper may be NULL or hold -INFINITY/INFINITY per variable; a bounded
 * variable is mapped through x = lo + (hi - lo) / (1 + exp(-u)) (one bound:
 * lo + exp(u) or hi - exp(u)), so the search never leaves the box. The start
 * must lie strictly inside the bounds. Deterministic: no random numbers. */
int tm_optim_minimize(int n, double *x, const double *lower, const double *upper, tm_optim_fn fn, void *ctx,
                      const tm_optim_options *opts, tm_optim_result *result, tm_error *err);

#endif
