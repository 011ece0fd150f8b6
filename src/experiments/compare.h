/* compare: counterfactual comparison of a scenario against a base with
 * common random numbers (same seeds), replicated; writes one comparison
 * HDF5 file (runs linked, differences, headline effects with confidence
 * intervals). Owns the comparison layout (docs/output.md, "Comparison files"). */
#ifndef TM_COMPARE_H
#define TM_COMPARE_H

#include <stdio.h>

#include "base/error.h"

typedef struct {
    const char *base_path, *scenario_path;
    const char *output;       /* comparison file; runs go to <output stem>-runs/ */
    int replicates;           /* >= 1 */
    const char *const *sets;  /* overrides applied to both files */
    int n_sets;
    int threads;
    int force;
    const char *from;         /* first period of the effect window (NULL: first scenario event) */
    FILE *report;             /* headline table (NULL: none) */
    FILE *progress;           /* one line per run (NULL: none) */
} tm_compare_options;

int tm_compare(const tm_compare_options *opts, tm_error *err);

#endif
