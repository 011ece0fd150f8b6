/* sweep: batch experiments. sweep_file.c parses and validates a sweep file
 * (base parameters, a design, replicates, a seed, outcome names) and
 * derives each run's parameters and seed; sweep_exec.c runs a share of the
 * runs (local jobs, shards, MPI ranks) into their own files; sweep_index.c
 * writes the index DIR/sweep.h5. Owns tm_sweep (the parsed design).
 * Format and layout: docs/sweeps.md. */
#ifndef TM_SWEEP_H
#define TM_SWEEP_H

#include <stdint.h>
#include <stddef.h>

#include "base/error.h"
#include "base/progress.h"
#include "params/params.h"

#define TM_SWEEP_FORMAT_VERSION 1

typedef struct tm_sweep tm_sweep;

/* Parse and validate a sweep file. With `resolve` the base parameter file is
 * loaded and every swept value, the fixed overrides, the outcome names and
 * point 0's complete parameters are checked before anything runs. Without
 * it only the sweep file itself is checked (used when re-indexing a folder
 * from its stored copy). */
int tm_sweep_open(const char *path, int resolve, tm_sweep **out, tm_error *err);
/* The same with `sweep --set` overrides ("path=value"), applied to every
 * run after `fixed` (a swept path is refused); they are appended to the
 * sweep's text as comment lines, so they are part of its identity. */
int tm_sweep_open_with_sets(const char *path, int resolve, const char *const *sets, int n_sets, tm_sweep **out,
                            tm_error *err);
void tm_sweep_close(tm_sweep *sweep);

int tm_sweep_points(const tm_sweep *sweep);
int tm_sweep_replicates(const tm_sweep *sweep);
int64_t tm_sweep_runs(const tm_sweep *sweep); /* points x replicates */
int tm_sweep_n_values(const tm_sweep *sweep); /* swept parameters */
const char *tm_sweep_value_path(const tm_sweep *sweep, int j);
double tm_sweep_value(const tm_sweep *sweep, int point, int j);
uint64_t tm_sweep_seed(const tm_sweep *sweep);
const char *tm_sweep_text(const tm_sweep *sweep);
const char *tm_sweep_sha256(const tm_sweep *sweep);
const char *tm_sweep_base_path(const tm_sweep *sweep); /* resolved against the sweep file's folder */
const char *tm_sweep_path(const tm_sweep *sweep);      /* the sweep file as opened */

/* Outcome names of `summary.outcomes` (docs/statistics.md), each averaged
 * over the last tm_sweep_summary_periods logged periods of a run. */
int tm_sweep_n_outcomes(const tm_sweep *sweep);
const char *tm_sweep_outcome_name(const tm_sweep *sweep, int i);
int tm_sweep_summary_periods(const tm_sweep *sweep);

/* Run index = point * replicates + replicate. Seed of a run (63 bits):
 * the sweep seed mixed with the replicate (common random numbers, the
 * default), or with the point and then the replicate (`seeds:
 * independent`); tm_rng_mix chain, shifted right by one bit. */
uint64_t tm_sweep_run_seed(const tm_sweep *sweep, int64_t run);
int tm_sweep_independent_seeds(const tm_sweep *sweep);
/* "p0003-r01": file DIR/runs/<name>.h5. */
void tm_sweep_run_name(const tm_sweep *sweep, int64_t run, char *buf, size_t size);
void tm_sweep_run_path(const tm_sweep *sweep, const char *dir, int64_t run, char *buf, size_t size);

/* The complete parameters of a run: base + fixed + point values + seed. */
int tm_sweep_run_params(const tm_sweep *sweep, int64_t run, tm_params **out, tm_error *err);

/* Whether DIR/runs/<run>.h5 exists with status "complete". */
int tm_sweep_run_complete(const tm_sweep *sweep, const char *dir, int64_t run);

/* Estimates for `--plan` from point 0: a short probe of its periods, then
 * a pilot run end to end (solve and file writing included) into a private
 * temporary folder, whole if its periods take up to about 2 s. */
typedef struct {
    int64_t runs;
    double seconds_per_run; /* at one thread, solve and writing included */
    double memory_per_run;  /* bytes */
    double output_per_run;  /* bytes: the pilot's file, scaled to every logged period */
    int64_t firms, periods; /* of point 0, burn-in included in periods */
    double pilot_seconds;   /* wall time of the pilot run */
    int64_t pilot_periods;  /* logged periods it ran */
    int pilot_whole;        /* 1: the pilot was point 0's whole run */
} tm_sweep_estimate;
int tm_sweep_plan(const tm_sweep *sweep, tm_sweep_estimate *est, tm_error *err);

/* A temporary name beside `path`, unique to this host and process (files
 * are written under it and renamed: shards may share a folder). */
void tm_sweep_temp_path(const char *path, char *buf, size_t size);

/* Prepare DIR: create DIR and DIR/runs, store a copy of the sweep file as
 * DIR/sweep.yaml; refuse a folder holding a different sweep. */
int tm_sweep_prepare_dir(const tm_sweep *sweep, const char *dir, tm_error *err);

/* The detail of a sweep's progress report (base/progress.h): after every
 * run, in the calling process (from a worker thread under MPI; calls are
 * serialised), stage "sweep", label
 * the run ("p0003-r01"), done the runs finished here so far (failed ones
 * included), total the runs this process expects to do (-1 under MPI: not
 * known). */
typedef struct {
    double seconds;    /* of this run */
    double elapsed;    /* since this process's share started */
    const char *error; /* NULL when the run completed */
    int rank;          /* MPI rank, -1 without MPI */
} tm_sweep_progress;

typedef struct {
    int jobs;             /* runs at once: worker processes (threads under MPI) */
    int threads;          /* total OpenMP threads of this process (0: default) */
    int shard, shards;    /* this part (0-based) of `shards` disjoint parts */
    int use_mpi;          /* share runs among MPI ranks (needs TM_HAVE_MPI) */
    tm_progress progress; /* after every run; detail: tm_sweep_progress */
} tm_sweep_exec_options;

typedef struct {
    int64_t assigned; /* runs of this shard */
    int64_t skipped;  /* already complete */
    int64_t busy;     /* being written by another live process (left to it) */
    int64_t done;     /* completed now */
    int64_t failed;
    int all_complete;  /* every run of the whole sweep is complete */
    int index_written; /* this process wrote sweep.h5 */
    int rank, ranks;   /* MPI rank and size (0, 1 without MPI) */
    double seconds;
    /* Where the runs' time went, summed over the runs done here (seconds
     * of wall time in the worker doing them): parameters built for the
     * run, the run itself (tm_simulate), and the whole of each run's
     * handling (the two before, the completeness checks and the lock);
     * and the index written at the end. */
    double params_seconds, simulate_seconds, run_seconds, index_seconds;
} tm_sweep_exec_stats;

/* Run this process's share; when the whole sweep is complete afterwards,
 * write the index. Failed runs are reported through `progress` and
 * counted; the return value is -1 only for failures of the sweep as a
 * whole. */
int tm_sweep_execute(const tm_sweep *sweep, const char *dir, const tm_sweep_exec_options *opts,
                     tm_sweep_exec_stats *stats, tm_error *err);

/* Write DIR/sweep.h5 (temporary name, then renamed) from the run files. */
int tm_sweep_write_index(const tm_sweep *sweep, const char *dir, int64_t *complete_runs, tm_error *err);

/* A condition on the regimes a run went through (`sweep-index
 * --condition`): its share of the summary window (the periods its
 * outcomes average over) spent in `regime` of destination `dest` is at
 * least `min_share`. Text: `regime.DEST=REGIME` (every period of the
 * window) or `regime.DEST=REGIME>=SHARE` (SHARE in [0, 1]). */
typedef struct {
    char dest[TM_NAME_MAX], regime[TM_NAME_MAX];
    double min_share;
    char text[160];
} tm_sweep_condition;

/* Parse the text of a condition (names are checked against the runs when
 * the index is written); an input error naming what was expected. */
int tm_sweep_condition_parse(const char *text, tm_sweep_condition *out, tm_error *err);

typedef struct {
    const tm_sweep_condition *conditions; /* all must hold (none: every complete run counts) */
    int n_conditions;
    const char *file_name; /* the index's name inside DIR (NULL: sweep.h5) */
} tm_sweep_index_options;

/* Write the index with options; the summaries are over the complete runs
 * that meet every condition. */
int tm_sweep_write_index_with(const tm_sweep *sweep, const char *dir, const tm_sweep_index_options *opts,
                              int64_t *complete_runs, int64_t *included_runs, tm_error *err);

/* MPI support: initialise only when launched by mpirun (OMPI_COMM_WORLD_SIZE
 * or PMI_SIZE in the environment). tm_sweep_mpi_init returns 1 when MPI is
 * now active, 0 when not launched by mpirun or built without MPI. */
int tm_sweep_mpi_launched(void);
int tm_sweep_mpi_init(int *argc, char ***argv);
void tm_sweep_mpi_finalize(void);
int tm_sweep_mpi_rank(void);      /* 0 when MPI is not active */
int tm_sweep_mpi_available(void); /* built with MPI */

#endif
