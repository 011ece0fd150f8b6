/* validate: out-of-sample validation and scenario headlines. Reads a
 * validation file (facts from data, each with its source, tolerance, the
 * comparison and the window that give the model's value, and the verdict
 * last recorded; or headline outcomes taken over each comparison's own
 * window), runs each comparison once with the windows of its facts and
 * headlines, and grades every fact (docs/validation.md, "How a verdict is
 * given"; docs/scenarios.md). */
#ifndef TM_VALIDATE_H
#define TM_VALIDATE_H

#include "base/error.h"
#include "base/progress.h"
#include "experiments/compare.h"

/* Verdicts, best first: a larger value is a worse verdict. */
typedef enum {
    TM_VERDICT_WITHIN = 0, /* |model - data| <= tolerance */
    TM_VERDICT_RIGHT_SIGN, /* outside the tolerance, the sign of the data */
    TM_VERDICT_WRONG_SIGN, /* the opposite sign, or no effect */
    TM_VERDICT_UNDEFINED,  /* the model's effect is undefined (a zero base) */
} tm_verdict;

/* "within", "right_sign", "wrong_sign", "undefined" (the words of the
 * file's `recorded` key). */
const char *tm_verdict_name(tm_verdict v);

typedef struct {
    char name[128];
    char base[4096], scenario[4096];                 /* resolved against the validation file */
    char base_written[4096], scenario_written[4096]; /* as the file writes them */
    char **sets;                                     /* overrides applied to both files */
    int n_sets;
    char note[1024];
    char first[16], last[16]; /* the headline window, logged period labels ("" without headlines) */
    /* Filled by tm_validation_run: one effect per headline of the file. */
    tm_compare_effect *headline;
} tm_validation_comparison;

/* An outcome reported for every comparison over the comparison's window. */
typedef struct {
    char outcome[64]; /* docs/statistics.md name */
    char label[128];  /* column heading, without units */
} tm_validation_headline;

typedef struct {
    char name[128];
    int comparison;           /* index into comparisons */
    char outcome[64];         /* docs/statistics.md name */
    char first[16], last[16]; /* window, logged period labels */
    double data, tolerance;   /* in the outcome's effect units */
    char source[512];
    char reason[2048]; /* why the model misses (or matches) it */
    tm_verdict recorded;
    /* Filled by tm_validation_run. */
    tm_compare_effect model;
    tm_verdict verdict;
} tm_validation_fact;

typedef struct {
    char *file;
    char title[256];
    char notes[4096];
    int replicates; /* the file's default */
    tm_validation_comparison *comparisons;
    int n_comparisons;
    tm_validation_fact *facts;
    int n_facts;
    tm_validation_headline *headlines;
    int n_headlines;
} tm_validation;

/* Read and check a validation file: every key, every comparison's
 * parameter files, every outcome name and window (exit-2 errors name the
 * file, line and key), before anything runs. */
int tm_validation_load(const char *path, tm_validation *v, tm_error *err);
void tm_validation_free(tm_validation *v);

/* Keep only the comparisons named in `names` and the facts that use them
 * (an input error names a name that is not a comparison of the file). */
int tm_validation_keep(tm_validation *v, const char *const *names, int n_names, tm_error *err);

typedef struct {
    int replicates; /* >= 2 */
    int threads;
    const char *work_dir; /* existing folder: COMPARISON.h5 and its runs go there */
    /* Before each run: stage "base" or "scenario", done the runs begun, total
     * all runs of every comparison, label the comparison's name. */
    tm_progress progress;
} tm_validation_options;

/* Run every comparison, grade every fact and fill every headline. */
int tm_validation_run(tm_validation *v, const tm_validation_options *o, tm_error *err);

/* The verdict of a model value against data and tolerance (NaN: undefined). */
tm_verdict tm_verdict_of(double model, double data, double tolerance);

#endif
