/* compare: counterfactual comparison of a scenario against a base with
 * common random numbers (same seeds), replicated; writes one comparison
 * HDF5 file (runs linked, differences, effects of named outcomes with 95%
 * t intervals). Owns the comparison layout (docs/output.md, "Comparison
 * files"). */
#ifndef TM_COMPARE_H
#define TM_COMPARE_H

#include "base/error.h"
#include "base/progress.h"
#include "params/params.h"

/* One row of /effects: an outcome's scenario-minus-base effect in one
 * sector (or "all"), mean across replicates and its 95% t interval. */
typedef struct {
    char sector[64];
    char measure[64]; /* the outcome's name (docs/statistics.md), without the sector */
    char units[32];   /* of the effect: percentage points, percent, firms, ... */
    double mean, ci_low, ci_high;
    int replicates; /* replicates where the effect is defined */
} tm_compare_effect;

/* An effect over a window the caller chooses, beside the file's headline
 * effects (not written to the comparison file): `outcome` a name of
 * docs/statistics.md, `first` and `last` logged period labels (both
 * included). Checked before any run; tm_compare fills `effect` (its
 * sector field is empty, its measure the whole name). */
typedef struct {
    const char *outcome, *first, *last;
    tm_compare_effect effect;
} tm_compare_window;

typedef struct {
    const char *base_path, *scenario_path;
    const char *output;      /* comparison file; runs go to <output stem>-runs/ */
    int replicates;          /* >= 1 */
    const char *const *sets; /* overrides applied to both files */
    int n_sets;
    int threads;
    int force;
    const char *from; /* first period of the effect window (NULL: first scenario event) */
    /* Before each run: stage "base" or "scenario", done the replicate
     * (1-based), total the replicates, label the run file, detail its seed
     * (const uint64_t *). */
    tm_progress progress;
    tm_compare_window *windows; /* optional: effects over chosen windows */
    int n_windows;
} tm_compare_options;

typedef struct {
    char window_start[TM_LABEL_MAX];
    int replicates;
    int n_measures, n_sector_rows; /* rows: sector-major, the last sector row is "all" */
    tm_compare_effect *rows;
} tm_compare_result;

/* Check one window against the base parameters as tm_compare will (an
 * input error naming the outcome or the labels). */
int tm_compare_window_check(const tm_params *base, const tm_compare_window *w, tm_error *err);

int tm_compare(const tm_compare_options *opts, tm_compare_result *result, tm_error *err);
void tm_compare_result_free(tm_compare_result *result);

#endif
