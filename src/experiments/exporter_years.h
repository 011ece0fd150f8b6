/* exporter_years: firm-level export histories by calendar year, as the
 * data that the exporter-dynamics moments come from count them (a firm
 * exports in a year if it serves any destination in any period of it).
 * Owns one small record per firm slot; fed by a run in memory from its
 * first burn-in period. Definitions: docs/statistics.md. */
#ifndef TM_EXPORTER_YEARS_H
#define TM_EXPORTER_YEARS_H

#include <stdint.h>

#include "base/error.h"
#include "engine/run.h"
#include "params/params.h"

/* Completed spells are counted by length in years up to this; longer ones
 * go in the last bin. */
#define TM_EXPORTER_YEARS_MAX 64

typedef struct tm_exporter_years tm_exporter_years;

int tm_exporter_years_open(const tm_params *params, tm_exporter_years **out, tm_error *err);
void tm_exporter_years_close(tm_exporter_years *y);

/* Call after every tm_run_step, from the first burn-in period on. */
void tm_exporter_years_observe(tm_exporter_years *y, const tm_run *run);

/* What the logged periods saw (sums; moments are ratios of them). */
typedef struct {
    /* Export spells of firms whose first exporting year was observed
     * (not the first calendar year of the run), completed in a logged
     * period: the firm did not export in a year, or died. [L]: spells of
     * L calendar years (L = 1..TM_EXPORTER_YEARS_MAX - 1; the last bin
     * holds longer ones; [0] unused). */
    double spells[TM_EXPORTER_YEARS_MAX];
    /* Firms that exported in the two calendar years before a logged year,
     * and those of them that export in it (deaths in it before exporting
     * count as stopping). */
    double established, continuing;
    /* Calendar years wholly logged: firms exporting in the year but not in
     * the year before (new exporters) and firms exporting in both, their
     * numbers and their export value in the year (model money). */
    double new_exporters, new_value, old_exporters, old_value;
} tm_exporter_years_sums;

const tm_exporter_years_sums *tm_exporter_years_sums_of(const tm_exporter_years *y);

/* The median of the completed spells' lengths in years, each whole year's
 * share spread evenly over the year around it, so that a median of L whole
 * years in the data corresponds to a value in (L - 1/2, L + 1/2]; NaN
 * without spells. */
double tm_exporter_years_median_spell(const tm_exporter_years_sums *s);

#endif
