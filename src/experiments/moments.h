/* moments: the named outcomes of a run computed in memory while it steps
 * (calibration's moments), firm-level ones included: exporter persistence
 * firm by firm, the pooled top shares and firm histories by calendar year.
 * Owns the run's window sums, the market sets of the period before and the
 * histories. Names: docs/statistics.md. */
#ifndef TM_MOMENTS_H
#define TM_MOMENTS_H

#include "base/error.h"
#include "engine/run.h"
#include "params/params.h"

/* Accumulates what the moments need over the logged periods of one run. */
typedef struct tm_moments tm_moments;

int tm_moments_open(const tm_params *params, tm_moments **out, tm_error *err);
void tm_moments_close(tm_moments *m);

/* Call after every tm_run_step from the first burn-in period on: firm
 * histories by calendar year (spell_median, ...) begin there, firm-level
 * persistence needs the market sets of the period before the first logged
 * one, and the other outcomes count logged periods only. */
void tm_moments_observe(tm_moments *m, const tm_run *run);

/* Value of a named outcome ("export_share.US", "export_share.US.canola",
 * "exporter_persistence", ...); an input error for an unknown name. */
int tm_moments_value(const tm_moments *m, const char *name, double *value, tm_error *err);

/* Check a name against the parameters without running anything. */
int tm_moments_check_name(const tm_params *params, const char *name, tm_error *err);

/* Simulate params (all periods, no file) and return its moments. */
int tm_moments_of_run(const tm_params *params, int threads, tm_moments **out, tm_error *err);

#endif
