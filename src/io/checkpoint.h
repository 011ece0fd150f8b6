/* checkpoint: the sidecar file `<output>.ckpt` that lets an interrupted run
 * continue (`tradeabm run --resume`). Owns the file format (header, payload,
 * trailing SHA-256) around the state the engine (src/engine/run_checkpoint.c)
 * and the writer (output.c) save into a tm_ckbuf (src/base/ckbuf.h).
 * Format: docs/reliability.md. */
#ifndef TM_CHECKPOINT_H
#define TM_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "base/ckbuf.h"
#include "base/error.h"
#include "params/params.h"

#define TM_CHECKPOINT_VERSION 3

/* What a checkpoint file holds besides the engine and writer state. */
typedef struct tm_checkpoint {
    int period;       /* last logged period included */
    int every;        /* --checkpoint-every of the run */
    int panel, force; /* output options of the run */
    char params_sha256[65];
    char *params_text; /* canonical parameters (malloc'd) */
    char *final_path;  /* the output file's final name (malloc'd) */
    tm_ckbuf state;    /* engine state, then writer state */
} tm_checkpoint;

/* Default checkpoint name for an output path: "<path>.ckpt". */
void tm_checkpoint_path(const char *output_path, char *buf, size_t size);

/* 1 if the first n bytes of a file start like a checkpoint (its magic). */
int tm_checkpoint_has_magic(const void *head, size_t n);

/* Write atomically (temporary name, fsync, rename). */
int tm_checkpoint_write(const char *path, const tm_params *params, const tm_checkpoint *ck, tm_error *err);

/* Read and verify (magic, version, build, checksum). Input errors for a
 * file that is not a usable checkpoint. */
int tm_checkpoint_read(const char *path, tm_checkpoint *ck, tm_error *err);
void tm_checkpoint_free(tm_checkpoint *ck);

#endif
