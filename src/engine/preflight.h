/* preflight: estimates of the memory and disk a run will need, compared
 * with what the machine has, before anything is allocated or written.
 * Owns nothing; reads /proc/meminfo, rlimits and the output folder. */
#ifndef TM_PREFLIGHT_H
#define TM_PREFLIGHT_H

#include "base/error.h"
#include "params/params.h"

typedef struct {
    double memory_bytes;       /* estimated peak memory of the run */
    double memory_available;   /* bytes; negative if unknown */
    const char *memory_source; /* "MemAvailable", "RLIMIT_AS", ... */
    double output_bytes;       /* estimated size of the finished file */
    double disk_available;     /* bytes free for an unprivileged writer; negative if unknown */
} tm_preflight;

/* Fill `est` for a run of `params` with `threads` OpenMP threads (0: the
 * OpenMP default) writing to `output_path` (panel: the firm panel too). */
void tm_preflight_estimate(const tm_params *params, int threads, int panel, const char *output_path, tm_preflight *est);

/* Estimate, then refuse (input error, exit 2) a run that cannot fit, with
 * both numbers in the message. The environment variable
 * TRADEABM_PREFLIGHT=off skips the comparison (estimates are rough). */
int tm_preflight_check(const tm_params *params, int threads, int panel, const char *output_path, tm_error *err);

#endif
