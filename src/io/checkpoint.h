/* checkpoint: the sidecar file `<output>.ckpt` that lets an interrupted run
 * continue (`tradeabm run --resume`). Owns the file format (header, payload,
 * trailing SHA-256) and a small byte buffer into which the engine (sim.c)
 * and the writer (output.c) save their state. Format: docs/reliability.md. */
#ifndef TM_CHECKPOINT_H
#define TM_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "params/params.h"

#define TM_CHECKPOINT_VERSION 3

/* A growable byte buffer with a read position. Writers append; readers
 * take bytes in the same order and get -1 when the buffer runs short. */
typedef struct tm_ckbuf {
    unsigned char *data;
    size_t len, cap, pos;
    int failed; /* an append ran out of memory */
} tm_ckbuf;

void tm_ckbuf_put(tm_ckbuf *b, const void *data, size_t n);
int tm_ckbuf_get(tm_ckbuf *b, void *data, size_t n);
void tm_ckbuf_put_string(tm_ckbuf *b, const char *s);
/* Reads a string written by tm_ckbuf_put_string into buf (size bytes). */
int tm_ckbuf_get_string(tm_ckbuf *b, char *buf, size_t size);
void tm_ckbuf_free(tm_ckbuf *b);

/* What a checkpoint file holds besides the engine and writer state. */
typedef struct tm_checkpoint {
    int period;           /* last logged period included */
    int every;            /* --checkpoint-every of the run */
    int panel, force;     /* output options of the run */
    char params_sha256[65];
    char *params_text;    /* canonical parameters (malloc'd) */
    char *final_path;     /* the output file's final name (malloc'd) */
    tm_ckbuf state;       /* engine state, then writer state */
} tm_checkpoint;

/* Default checkpoint name for an output path: "<path>.ckpt". */
void tm_checkpoint_path(const char *output_path, char *buf, size_t size);

/* Write atomically (temporary name, fsync, rename). */
int tm_checkpoint_write(const char *path, const tm_params *params, const tm_checkpoint *ck, tm_error *err);

/* Read and verify (magic, version, build, checksum). Input errors for a
 * file that is not a usable checkpoint. */
int tm_checkpoint_read(const char *path, tm_checkpoint *ck, tm_error *err);
void tm_checkpoint_free(tm_checkpoint *ck);

#endif
