/* target: policy questions as inverse problems (docs/questions.md). For
 * each question of a question file, the size of one lever (a number that
 * `$lever` stands for in dated events or parameter overrides) at which the
 * ratio of export value to a set of destinations in one period to its mean
 * over a reference year reaches a target, by Brent's method (GSL) on the
 * mean over replicates with common random numbers. Owns the parsed file
 * and every evaluation of the search. */
#ifndef TM_TARGET_H
#define TM_TARGET_H

#include "base/error.h"
#include "base/progress.h"

typedef struct tm_target tm_target;

/* Parse and validate a question file; base (NULL: the file's `base:`)
 * replaces the parameter file every question starts from. Every question
 * is loaded once at its lower bound, so bad paths, events and periods are
 * refused (file:line, key, what was expected) before anything runs. */
int tm_target_open(const char *path, const char *base, tm_target **out, tm_error *err);
void tm_target_close(tm_target *t);

int tm_target_n_questions(const tm_target *t);
const char *tm_target_question_name(const tm_target *t, int q);
/* Index of the question called name, or -1. */
int tm_target_find(const tm_target *t, const char *name);

typedef enum {
    TM_TARGET_FOUND = 0,   /* |mean ratio - target| <= tolerance at the lever size found */
    TM_TARGET_NOT_REACHED, /* both bounds give a ratio below the target */
    TM_TARGET_EXCEEDED,    /* both bounds give a ratio above the target */
    TM_TARGET_BUDGET       /* bracketed, but the evaluation budget ran out first */
} tm_target_status;

/* The answer to one question. With FOUND or BUDGET, lever is the best
 * point of the bracket and lever_low/lever_high the 95% interval of the
 * root from the sampling error of the mean ratio there (delta method:
 * lever -/+ t975(R - 1) se / |slope|, slope the secant over the last
 * bracket). Otherwise lever is the bound whose ratio is nearest the
 * target and the interval is NaN. */
typedef struct {
    tm_target_status status;
    double lever, lever_low, lever_high;
    double ratio, ratio_se; /* mean over replicates at lever, its standard error */
    int evaluations;
} tm_target_answer;

/* The detail of the search's progress report (base/progress.h): one per
 * evaluation, stage "target", done the evaluations so far, total the
 * budget, label the question's name. */
typedef struct {
    double lever, ratio, ratio_se;
} tm_target_step;

typedef struct {
    int threads;          /* OpenMP threads per run (0: default) */
    tm_progress progress; /* detail: tm_target_step */
} tm_target_options;

/* Search question q; its evaluations are kept for the result file. */
int tm_target_solve(tm_target *t, int q, const tm_target_options *opts, tm_target_answer *ans, tm_error *err);

/* The result file (JSON): provenance (question file and its SHA-256, base
 * file and the SHA-256 of its resolved parameters, seeds, target), and per
 * solved question its bounds, answer and every evaluation with the ratio
 * of each replicate. Written under a temporary name and renamed. */
int tm_target_write(const tm_target *t, const char *path, tm_error *err);

#endif
