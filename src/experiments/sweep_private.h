/* sweep_private: what the sweep's runner (sweep_exec.c) hands its index
 * writer (sweep_index.c) about the runs it completed, so that the index
 * need not reopen and re-read their files. Not for other modules. */
#ifndef TM_SWEEP_PRIVATE_H
#define TM_SWEEP_PRIVATE_H

#include "engine/run.h"
#include "experiments/sweep.h"

/* Outcome values, then regime shares (destination by destination, in
 * parameter order, as the index's columns). */
#define TM_SWEEP_SUMMARY_VALUES (64 + TM_MAX_DEST * TM_MAX_REGIMES)

/* One run done by this process: its results for the index, exactly as
 * the index would compute them from the finished file (the same periods,
 * the same values, the same order of sums). */
typedef struct {
    int complete; /* 1: the run's file is complete and the fields hold its results */
    int n_shares; /* regime columns filled */
    double wall_seconds;
    char digest[65];
    double values[TM_SWEEP_SUMMARY_VALUES];
} tm_sweep_run_summary;

/* The summary window of one run kept while it runs: the last summary
 * periods (and the one before) of the series the outcomes and the regime
 * shares are computed from. */
typedef struct tm_sweep_window_keeper tm_sweep_window_keeper;

int tm_sweep_keeper_open(const tm_sweep *sweep, const tm_params *p, tm_sweep_window_keeper **out);
void tm_sweep_keeper_close(tm_sweep_window_keeper *k);
/* A tm_simulate_options.logged callback; `user` is the keeper. */
void tm_sweep_keeper_period(void *user, const tm_params *p, const tm_period_result *r);
/* The run's summary from what was kept; -1 if it cannot be computed here
 * (the index then reads the file). */
int tm_sweep_keeper_summary(tm_sweep_window_keeper *k, const char *digest, double wall_seconds,
                            tm_sweep_run_summary *out);

/* The index with what this process's workers recorded: `fresh[run]` for
 * every run of the sweep (NULL: read every file). A run with a complete
 * record is indexed from it (its file was just written and hashed as it
 * was written; `sweep-index` checks it from the file), the others from
 * their files. */
int tm_sweep_write_index_fresh(const tm_sweep *sweep, const char *dir, const tm_sweep_run_summary *fresh,
                               int64_t *complete_runs, tm_error *err);

#endif
