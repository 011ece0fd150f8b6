/* calibrate: simulated method of moments over a calibration file
 * (docs/calibration.md): parameters with bounds, moments with targets and
 * tolerances, the optimiser; the objective with common random numbers and
 * the fitted parameter file. Owns a parsed calibration and its last fit. */
#ifndef TM_CALIBRATE_H
#define TM_CALIBRATE_H

#include <stdio.h>

#include "base/error.h"
#include "base/progress.h"

typedef struct tm_calibration tm_calibration;

/* The first line of a fitted parameter file starts with this, then the
 * calibration file's path (how `info` tells one from other YAML). */
#define TM_CALIBRATE_FITTED_HEADER "# Fitted by simulated method of moments: tradeabm calibrate "

/* Parse and validate a calibration file: keys, bounds, the optimiser, and
 * (by loading the base at the start values) every parameter path and
 * moment name, before anything is simulated. Errors name file and key. */
int tm_calibration_open(const char *path, tm_calibration **out, tm_error *err);
void tm_calibration_close(tm_calibration *c);

/* "nelder-mead", "bobyqa" or "proportional" (optimizer.method). */
const char *tm_calibration_method(const tm_calibration *c);
const char *tm_calibration_base_path(const tm_calibration *c);
int tm_calibration_n_params(const tm_calibration *c);
const char *tm_calibration_param_name(const tm_calibration *c, int i);
int tm_calibration_n_moments(const tm_calibration *c);
/* The start values (the base values unless the file gives `start`). */
void tm_calibration_start(const tm_calibration *c, double *x);

/* The detail of a fit's progress report (base/progress.h), one per step:
 * an evaluation that improved the objective (round -1), or a round of
 * proportional updates. Stage "calibration", done the evaluations so far,
 * total -1. */
typedef struct {
    int round;        /* proportional: the round; else -1 */
    double objective; /* best so far (proportional: this round's) */
    double worst_gap; /* proportional: largest |model / target - 1|; else NaN */
    const double *x;  /* the point, natural units */
    int n;
} tm_calibration_step;

typedef struct {
    int threads;          /* OpenMP threads per evaluation (0: default) */
    int max_iterations;   /* > 0: overrides optimizer.max_iterations (proportional rounds) */
    int max_evaluations;  /* > 0: overrides optimizer.max_evaluations (nelder-mead, bobyqa) */
    tm_progress progress; /* detail: tm_calibration_step */
} tm_calibration_options;

typedef struct {
    double objective;
    int evaluations;
    int rounds;    /* proportional only */
    int converged; /* a tolerance was met, not the budget */
} tm_calibration_result;

/* The objective at x; the moments' values are kept for the fit table. */
int tm_calibration_evaluate(tm_calibration *c, const tm_calibration_options *opts, const double *x, double *objective,
                            tm_error *err);

/* Fit from x (in: start, out: the best point); the fit table then shows
 * the moments at that point. */
int tm_calibration_fit(tm_calibration *c, const tm_calibration_options *opts, double *x, tm_calibration_result *res,
                       tm_error *err);

/* Seeds: the fitting ones (seed or seeds; 0: the base file's) or, with
 * held_out, the file's held_out_seeds. Evaluations use the held-out seeds
 * after tm_calibration_use_held_out(c, 1). */
int tm_calibration_n_seeds(const tm_calibration *c, int held_out);
void tm_calibration_use_held_out(tm_calibration *c, int held_out);

/* The fit table of the last evaluation (moment, target, model, tolerance,
 * within, weight; with several seeds `model` is their mean, `within` holds
 * at every seed, and min and max follow), each line starting with `prefix`. */
void tm_calibration_format_fit(const tm_calibration *c, FILE *out, const char *prefix);

/* FITTED.yaml: a header recording how it was fitted, `extends:` the base
 * and the fitted values; written under a temporary name and renamed. */
int tm_calibration_write_fitted(const tm_calibration *c, const char *path, const double *x,
                                const tm_calibration_result *res, tm_error *err);

#endif
