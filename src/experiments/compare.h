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
} tm_compare_options;

/* One row of /effects: an outcome's scenario-minus-base effect in one
 * sector (or "all"), mean across replicates and its 95% t interval. */
typedef struct {
    char sector[64];
    char measure[64]; /* the outcome's name (docs/statistics.md), without the sector */
    char units[32];   /* of the effect: percentage points, percent, firms, ... */
    double mean, ci_low, ci_high;
    int replicates; /* replicates where the effect is defined */
} tm_compare_effect;

typedef struct {
    char window_start[TM_LABEL_MAX];
    int replicates;
    int n_measures, n_sector_rows; /* rows: sector-major, the last sector row is "all" */
    tm_compare_effect *rows;
} tm_compare_result;

int tm_compare(const tm_compare_options *opts, tm_compare_result *result, tm_error *err);
void tm_compare_result_free(tm_compare_result *result);

#endif
