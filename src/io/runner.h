/* runner: one complete run from resolved parameters to a finished HDF5
 * file (the engine, the writer and checkpoints), shared by `run`,
 * `reproduce`, sweeps and comparisons. It sits above the engine and the
 * writer it drives. Prints nothing: how far the run has got and its last
 * period go to the caller's callbacks. */
#ifndef TM_RUNNER_H
#define TM_RUNNER_H

#include "base/error.h"
#include "base/progress.h"
#include "engine/run.h"
#include "params/params.h"

struct tm_checkpoint;

/* Where one run's time went, by its own clock (seconds of wall time):
 * `output` is the run file and its preparation (the output folder's write
 * test, tm_output_open, tm_output_period, tm_output_close: datasets,
 * compression, checksums, the digest), `engine` the simulation
 * (tm_run_open with the model's solve, and every period step),
 * `checkpoint` the checkpoints saved, and `total` all of tm_simulate,
 * checks and set-up included. */
typedef struct {
    double total, engine, output, checkpoint;
    double recorded_wall; /* the wall_seconds the finished file records */
} tm_simulate_timing;

typedef struct {
    int threads;                  /* 0: OpenMP default */
    int panel;                    /* write the firm panel */
    int force;                    /* replace an existing output file */
    int folder_written;           /* the caller has just created a file in path's folder (no write test) */
    int checkpoint_every;         /* save <path>.ckpt every N logged periods (0: never) */
    struct tm_checkpoint *resume; /* continue the run this checkpoint describes */
    /* Optional: the model's start-of-run solve (stage "solving"), then
     * every period ("burn-in", "running"; done counts periods from the
     * first burn-in one, of burn_in + periods). */
    tm_progress progress;
    /* Optional: the last logged period's results, once, before the file
     * is closed (the table a command prints after a run). */
    void (*finished)(void *user, const tm_params *params, const tm_period_result *last);
    void *finished_user;
    /* Optional: every logged period's results, after the writer has taken
     * them (a sweep's worker keeps the summary window of its run). */
    void (*logged)(void *user, const tm_params *params, const tm_period_result *result);
    void *logged_user;
    /* Optional: filled with where the run's time went (also on failure,
     * up to the failure). */
    tm_simulate_timing *timing;
} tm_simulate_options;

/* Simulate `params` into `path` (with `resume`: the checkpoint's params
 * and final path, which the caller loaded from it). On success the file exists under its final
 * name with status complete and `digest` holds its digest; on failure no
 * file is left at `path` (an existing file there is untouched unless the
 * run completed with force). */
int tm_simulate(const tm_params *params, const char *path, const tm_simulate_options *opts, char digest[65],
                tm_error *err);

/* Install SIGINT/SIGTERM handlers: a run in progress stops at the next
 * period boundary and keeps what it has with status `incomplete`. */
void tm_runner_catch_signals(void);
int tm_runner_interrupted(void);

#endif
