/* calibrate: the moment catalogue (statistics of a run computed in memory
 * while it steps) and simulated method of moments over a calibration file
 * (`tradeabm calibrate`). Owns moment accumulators and calibration specs. */
#ifndef TM_CALIBRATE_H
#define TM_CALIBRATE_H

#include <stdio.h>

#include "base/error.h"
#include "params/params.h"
#include "engine/run.h"

/* Accumulates what the moments need over the logged periods of one run. */
typedef struct tm_moments tm_moments;

int tm_moments_open(const tm_params *params, tm_moments **out, tm_error *err);
void tm_moments_close(tm_moments *m);

/* Call after every tm_run_step (burn-in included: firm-level persistence
 * needs the market sets of the period before the first logged one). */
void tm_moments_observe(tm_moments *m, const tm_run *run);

/* Value of a catalogue moment by name ("us_share", "us_share.canola",
 * "exporter_persistence", ...); input error naming the catalogue if the
 * name is unknown. */
int tm_moments_value(const tm_moments *m, const char *name, double *value, tm_error *err);

/* Check a moment name against the parameters without running anything. */
int tm_moments_check_name(const tm_params *params, const char *name, tm_error *err);

/* Simulate params (all periods, no file) and return its moments. */
int tm_moments_of_run(const tm_params *params, int threads, tm_moments **out, tm_error *err);

/* The catalogue as a Markdown table (docs/calibration.md, `calibrate --moments`). */
void tm_moments_catalogue(FILE *out);

#endif
