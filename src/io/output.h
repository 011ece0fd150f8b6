/* output: the writer of one run's HDF5 file: provenance, per-period
 * series, regimes, tariffs, realised events and the optional firm panel
 * (compressed chunks written directly), plus the digest that `reproduce`
 * checks; output_resume.c saves and reopens it at checkpoints. Layout in
 * docs/output.md. Files are written under a temporary name and renamed
 * when complete; an existing file is never replaced without `force`. */
#ifndef TM_OUTPUT_H
#define TM_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "params/params.h"
#include "engine/run.h"

#define TM_FORMAT_VERSION 1

typedef struct tm_output tm_output;

typedef struct {
    int force;            /* replace an existing file at the final path */
    int panel;            /* write the firm panel */
    int checkpoints;      /* checkpoints will be taken: make the file resumable after a crash */
    double started;       /* tm_clock_seconds() when the run began, before its set-up and solve (0: now) */
    double *wall_seconds; /* optional: receives the wall time the closed file records */
} tm_output_options;

/* Check that `path` may be written (absent, or force) and that its folder
 * exists and is writable, before any simulation work. */
int tm_output_check_path(const char *path, int force, tm_error *err);
/* The same; try_create 0 leaves out the test file created in the folder, for
 * a caller that has just created a file there itself (a sweep's worker,
 * its run's lock file): on a local disk the test costs about 0.2 ms. */
int tm_output_check_path_probing(const char *path, int force, int try_create, tm_error *err);

int tm_output_open(const char *path, const tm_params *params, const tm_run *run, const tm_output_options *opts,
                   tm_output **out, tm_error *err);

/* Append the run's current (logged) period. */
int tm_output_period(tm_output *out, const tm_run *run, tm_error *err);

/* Finish: write closing attributes and the digest, close, rename to the
 * final path. `digest` receives the hex digest. Frees `out` either way. */
int tm_output_close(tm_output *out, int complete, char digest[65], tm_error *err);

/* Finish an interrupted run: status `incomplete`, renamed to the final
 * path only if nothing is there (an existing file is never replaced by a
 * partial one); `where` receives the path kept. Frees `out`. */
int tm_output_close_incomplete(tm_output *out, char *where, size_t size, tm_error *err);

/* Abandon: close and delete the temporary file. */
void tm_output_discard(tm_output *out);

/* After a failed write with a checkpoint on disk: close without writing
 * anything more (what HDF5 still caches is dropped) and keep the
 * temporary file, which the last checkpoint describes. Frees `out`. */
void tm_output_keep_partial(tm_output *out);

/* Checkpoints (output_resume.c, io/checkpoint.h): flush and append the
 * writer's state to `b`; reopen the partial file a checkpoint describes
 * (cutting datasets back to its period) to continue writing at the next
 * period. */
struct tm_ckbuf;
int tm_output_save(tm_output *out, struct tm_ckbuf *b, tm_error *err);
int tm_output_resume(const char *path, const tm_params *params, const tm_run *run, const tm_output_options *opts,
                     struct tm_ckbuf *b, tm_output **out, tm_error *err);

#endif
