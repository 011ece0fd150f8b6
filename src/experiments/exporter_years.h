/* exporter_years: firm-level export histories by calendar year, as the
 * data that the exporter-dynamics moments come from count them (a firm
 * exports in a year if it serves any destination in any period of it).
 * Owns one small record per firm slot; fed by a run in memory from its
 * first burn-in period. Definitions: docs/statistics.md (spell_median,
 * established_continuation, entrant_size). */
#ifndef TM_EXPORTER_YEARS_H
#define TM_EXPORTER_YEARS_H

#include <stdint.h>

#include "base/error.h"
#include "base/stats.h"
#include "engine/run.h"
#include "params/params.h"

typedef struct tm_exporter_years tm_exporter_years;

int tm_exporter_years_open(const tm_params *params, tm_exporter_years **out, tm_error *err);
void tm_exporter_years_close(tm_exporter_years *y);

/* Call after every tm_run_step, from the first burn-in period on. */
void tm_exporter_years_observe(tm_exporter_years *y, const tm_run *run);

/* What the logged periods saw (base/stats.h defines the sums). */
const tm_stats_years *tm_exporter_years_sums(const tm_exporter_years *y);

#endif
