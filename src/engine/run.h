/* run: the period loop of one run. Owns the firm state (structs of arrays,
 * 11 bytes a firm; 15 with learning beliefs), the environment, the grids,
 * the model, the per-period policy tables and the aggregates; OpenMP over
 * fixed blocks of firms. Implemented by src/engine/run*.c, firms.c,
 * kernel.c, aggregate.c and exact.c. */
#ifndef TM_RUN_H
#define TM_RUN_H

#include <stdint.h>

#include "base/ckbuf.h"
#include "base/error.h"
#include "base/progress.h"
#include "engine/demand_types.h"
#include "params/params.h"

/* Firms are processed in blocks of this many slots (a constant of the build,
 * recorded in every output; aggregates are integer counts, so the result
 * does not depend on the thread count). */
#define TM_BLOCK 8192

/* Bit 7 of a firm's market byte marks a firm born this period. */
#define TM_BORN_BIT 0x80u
#define TM_SET_MASK 0x3fu

/* Aggregates of one period. Arrays indexed [s * n_dest + d] unless noted. */
typedef struct {
    int period; /* logged index; negative in burn-in */
    char label[TM_LABEL_MAX];
    int64_t *serving, *entrants, *exiters;
    double *export_value, *tariff_paid, *mean_log_productivity, *top10_share;
    double *tariff;               /* in force */
    double *statutory_tariff;     /* statutory rate beside it (reporting only) */
    double *paid_tariff;          /* rate of the tariff paid on this period's revenue (the mix
                                   * of two rates when an event falls within the period) */
    int64_t *firms_by_set;        /* [s * n_sets + S] */
    int64_t *firms_by_z_set;      /* [(s * n_z + z) * n_sets + S]: firms by productivity and market set */
    int64_t *by_level;            /* [(s * n_dest + d) * levels + k - 1]: firms serving d at experience level k */
    int64_t *firms_by_type_z_set; /* [((s * n_types + type) * n_z + z) * n_sets + S] (demand types) */
    double *entrant_value;        /* export value of firms in the first period of a spell in d */
    /* The counts above as doubles: equal to them when firms are simulated,
     * expected numbers of firms with run.aggregation: exact (the integer
     * arrays then hold them rounded). */
    int exact;
    double *x_serving, *x_entrants, *x_exiters, *x_firms_by_set, *x_firms_by_z_set, *x_deaths, *x_by_level;
    double *x_firms_by_type_z_set;
    int64_t *spells; /* [(s * n_dest + d) * TM_SPELL_MAX + length]: spells in d that ended this
                              * period (run.spells; length 0 unused, the last bin holds longer ones) */
    int64_t *deaths; /* [s] */
    int regime[TM_MAX_DEST];
    double non_us_share;  /* exports to destinations other than US (or the first) */
    double exchange_rate; /* real exchange rate e_t, 1 in burn-in (docs/model.md section 11) */
    int n_events;
    int *events; /* indices into params->event applied this period */
} tm_period_result;

typedef struct tm_run tm_run;

typedef struct {
    int threads;          /* 0: OpenMP default */
    tm_progress progress; /* optional: reports of the model's start-of-run solve */
} tm_run_options;

int tm_run_open(const tm_params *params, const tm_run_options *opts, tm_run **out, tm_error *err);
void tm_run_close(tm_run *run);

/* Advance one period (the first call runs period -burn_in). */
int tm_run_step(tm_run *run, tm_error *err);

/* Period the last step computed, and whether it was the last logged one. */
int tm_run_period(const tm_run *run);
int tm_run_finished(const tm_run *run);
const tm_period_result *tm_run_result(const tm_run *run);

/* Read access for output and tests. */
int tm_run_threads(const tm_run *run);
int tm_run_grid_size(const tm_run *run);
const double *tm_run_z_grid(const tm_run *run, int sector);
const uint16_t *tm_run_firm_z(const tm_run *run, int sector);
const uint8_t *tm_run_firm_markets(const tm_run *run, int sector);
/* Market states (src/engine/mstate.h): their number and tables. Without
 * experience levels the states are the market sets. */
int tm_run_n_states(const tm_run *run);
const struct tm_mstate *tm_run_states(const tm_run *run);
/* Demand types (demand_types): their number and each firm's (NULL
 * without types). */
int tm_run_n_types(const tm_run *run);
const uint8_t *tm_run_firm_type(const tm_run *run, int sector);
/* Producer revenue table of the last period:
 * [((type * n_z + z) * n_states + m) * n_dest + d]. */
const double *tm_run_revenue_table(const tm_run *run, int sector);
/* Bytes of simulation state per firm. */
double tm_run_state_bytes_per_firm(const tm_run *run);
/* The demand types' multipliers (src/engine/demand_types.h). */
const tm_demand_types *tm_run_demand_types(const tm_run *run);
/* The run's decision model and its state (output of the solved policy). */
struct tm_model_ops;
const struct tm_model_ops *tm_run_model(const tm_run *run, const void **state);

/* Checkpoints (src/io/checkpoint.h): append the state a run carries between
 * periods to `b`; restore it into a run freshly opened with the same
 * parameters, which then continues after the saved period. */
/* Whether this run's model can be checkpointed (input error if not). */
int tm_run_checkpointable(const tm_run *run, tm_error *err);
int tm_run_save(const tm_run *run, tm_ckbuf *b, tm_error *err);
int tm_run_restore(tm_run *run, tm_ckbuf *b, tm_error *err);

#endif
