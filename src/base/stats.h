/* stats: one definition of every statistic tradeabm reports. The table of
 * named outcomes (docs/statistics.md) computed from sums over a window of
 * periods, the accumulator of replicates (mean, s.d., 95% t interval, GSL's
 * t quantile) and the top shares of exporters. Owns the window sums. */
#ifndef TM_STATS_H
#define TM_STATS_H

#include <stddef.h>
#include <stdio.h>

#include "base/error.h"

/* ------------------------------------------------------------------------
 * Replicates: mean, sample s.d. and the 95% t interval for the mean.
 * ---------------------------------------------------------------------- */

/* The 0.975 quantile of Student's t with `dof` degrees of freedom
 * (gsl_cdf_tdist_Pinv); NaN below one degree of freedom. */
double tm_stats_t975(int dof);

/* Running mean and sum of squared deviations (Welford 1962); add values
 * in a fixed order (replicate order) and the result is the same bits
 * whatever ran first. Start from {0}. */
typedef struct {
    int n;
    double mean, m2;
} tm_stats_acc;

/* Add one value; non-finite values are skipped (a run whose outcome is
 * undefined, such as a share of zero exports, does not count). */
void tm_stats_acc_add(tm_stats_acc *acc, double x);

typedef struct {
    int n;         /* finite values added */
    double mean;   /* NaN if n == 0 */
    double sd;     /* sample s.d. (n - 1); NaN if n < 2 */
    double ci_low; /* mean -/+ t975(n - 1) sd / sqrt(n); NaN if n < 2 */
    double ci_high;
} tm_stats_summary;

tm_stats_summary tm_stats_acc_summary(const tm_stats_acc *acc);

/* ------------------------------------------------------------------------
 * Top shares: the share of value held by the largest `fraction` of units
 * (firms), from cells of units with equal value.
 * ---------------------------------------------------------------------- */

typedef struct {
    double value; /* of each unit in the cell */
    double count; /* units (a fractional mass with exact aggregation) */
} tm_stats_cell;

/* Sorts `cells` by value, largest first, and returns the share of
 * value_total held by the largest fraction * count_total units, taking the
 * boundary cell in part; NaN unless both totals are positive. The totals
 * are the caller's (sums over the same cells). */
double tm_stats_top_share(tm_stats_cell *cells, size_t n, double fraction, double count_total, double value_total);

/* ------------------------------------------------------------------------
 * Named outcomes. A name is a root from the table, then an optional
 * destination and an optional sector, dot-separated and in that order:
 * export_value, export_value.US, export_value.US.canola, export_share.CN,
 * exporters.energy. Unqualified roots sum over every sector and destination.
 * ---------------------------------------------------------------------- */

#define TM_STATS_NAME_MAX 96

/* The destination that "non-US" outcomes leave out: the one named US, else
 * the first (as the engine's /series/non_us_share). */
int tm_stats_us_index(const char *const *dests, int n_dest);

/* What a name is resolved against: the run's sectors and destinations. */
typedef struct {
    int n_sectors, n_dest;
    const char *const *sectors;
    const char *const *dests;
    int us;         /* the destination that "non-US" excludes: US, else the first (as the engine) */
    int firm_level; /* firm-level outcomes can be computed (a run in memory) */
} tm_stats_shape;

typedef struct {
    char name[TM_STATS_NAME_MAX]; /* as written */
    int entry;                    /* row of the table */
    int dest, sector;             /* -1: all */
} tm_stats_outcome;

/* How a scenario-minus-base effect of an outcome is expressed. */
typedef enum {
    TM_STATS_POINTS = 0, /* fractions: 100 (scenario - base), percentage points */
    TM_STATS_PERCENT,    /* money: 100 (scenario / base - 1), percent; NaN unless base > 0 */
    TM_STATS_DIFFERENCE, /* counts: scenario - base, in the outcome's units */
} tm_stats_effect_kind;

/* Resolve a name; an input error names it and, for a name of an older
 * vocabulary (us_share, exports_US, cn_weight.energy, ...), the name that
 * replaces it ("did you mean `export_share.US`?"). */
int tm_stats_outcome_parse(const char *name, const tm_stats_shape *shape, tm_stats_outcome *out, tm_error *err);

const char *tm_stats_outcome_units(const tm_stats_outcome *o);
/* One line: the table's description with the qualifiers filled in. */
void tm_stats_outcome_describe(const tm_stats_outcome *o, const tm_stats_shape *shape, char *buf, size_t size);
tm_stats_effect_kind tm_stats_outcome_effect(const tm_stats_outcome *o);
const char *tm_stats_effect_units(const tm_stats_outcome *o);
double tm_stats_effect(const tm_stats_outcome *o, double base, double scenario);

/* The table as Markdown (docs/statistics.md, `tradeabm calibrate --moments`). */
void tm_stats_outcome_table(FILE *out);

/* ------------------------------------------------------------------------
 * Windows: sums over logged periods of one run, from which every outcome
 * is computed. Sweeps fill one from a run file's last periods, comparisons
 * from the effect window, calibration from a run in memory.
 * ---------------------------------------------------------------------- */

typedef struct tm_stats_window tm_stats_window;

/* One period, arrays [s * n_dest + d] (firms_by_set: [s * 2^n_dest + S]). */
typedef struct {
    const double *export_value, *firms_serving, *entrants, *exiters, *tariff_paid;
    const double *firms_by_set;
    const double *serving_before; /* firms_serving of the period before; NULL if unknown */
} tm_stats_period;

int tm_stats_window_open(const tm_stats_shape *shape, int periods_per_year, tm_stats_window **out, tm_error *err);
void tm_stats_window_close(tm_stats_window *w);
void tm_stats_window_clear(tm_stats_window *w);
void tm_stats_window_add(tm_stats_window *w, const tm_stats_period *p);

/* Firm-level statistics of a period (runs in memory): exporters of the
 * period before and those of them still exporting, and the pooled top
 * shares (NaN when undefined: the period is then not counted for them). */
typedef struct {
    double exporters_before, continued;
    double top1, top10, top01; /* shares of the largest 1%, 10% and 0.1% of exporters */
    double largest;            /* share of the largest exporter */
} tm_stats_firm_period;

void tm_stats_window_add_firms(tm_stats_window *w, const tm_stats_firm_period *f);

/* Firm histories by calendar year (runs in memory from the first burn-in
 * period; src/experiments/exporter_years.c), as the exporter-dynamics
 * facts count them: a firm exports in a year if it serves a destination in
 * any period of it. Sums over the logged periods. */
#define TM_STATS_SPELL_YEARS 64
typedef struct {
    /* Completed export spells by length in calendar years, [L] for
     * L = 1..TM_STATS_SPELL_YEARS - 2, [TM_STATS_SPELL_YEARS - 1] for longer
     * ones ([0] unused): spells that ended in a logged period (the firm
     * did not export in a year, or died) and began after the run's first
     * year (their start was seen). */
    double spells[TM_STATS_SPELL_YEARS];
    /* Firms that exported in the two calendar years before a logged year,
     * and those of them that export in it (a death before exporting in it
     * counts as stopping). */
    double established, continuing;
    /* Calendar years wholly logged: firms exporting in the year and not in
     * the year before (new exporters) and firms exporting in both, their
     * numbers and their export value in the year (model money). */
    double new_exporters, new_value, old_exporters, old_value;
} tm_stats_years;

void tm_stats_window_set_years(tm_stats_window *w, const tm_stats_years *y);

/* Median of the completed spells' lengths in years, each whole year's
 * share spread evenly over the year around it, so that a median of L
 * whole years in the data corresponds to a value in (L - 1/2, L + 1/2];
 * NaN without spells. */
double tm_stats_median_spell(const tm_stats_years *y);

/* The outcome over the window; NaN where undefined (no periods, a share
 * of nothing, firm-level statistics never added). */
double tm_stats_outcome_value(const tm_stats_window *w, const tm_stats_outcome *o);

#endif
