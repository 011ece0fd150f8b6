/* filekind: which of the files tradeabm writes a path is (run file, a run
 * file still being written, sweep index, comparison, fitted parameter file
 * of a calibration, checkpoint), and the facts `info` shows and
 * `reproduce` needs for the kinds that are not run files. Owns nothing;
 * prints nothing. */
#ifndef TM_FILEKIND_H
#define TM_FILEKIND_H

#include <stddef.h>

#include "base/error.h"

typedef enum {
    TM_FILE_OTHER,         /* not a file tradeabm writes */
    TM_FILE_RUN,           /* `run`, `reproduce`, sweep and comparison runs (complete or incomplete) */
    TM_FILE_RUN_TEMPORARY, /* a run file still being written, or left by a killed run */
    TM_FILE_SWEEP,         /* a sweep index, DIR/sweep.h5 */
    TM_FILE_COMPARISON,    /* `compare -o FILE.h5` */
    TM_FILE_FITTED,        /* `calibrate -o FITTED.yaml` */
    TM_FILE_CHECKPOINT,    /* `run --checkpoint-every N`: FILE.h5.ckpt */
} tm_file_kind;

/* "run file", "sweep index", ... */
const char *tm_filekind_name(tm_file_kind kind);

#define TM_FILE_FACTS_MAX 48

/* A labelled line of what a file holds, in the order `info` prints. */
typedef struct {
    char key[40];
    char value[1024];
} tm_file_fact;

typedef struct {
    tm_file_kind kind;
    int n;
    tm_file_fact fact[TM_FILE_FACTS_MAX];
} tm_file_facts;

/* The kind of `path` (an input error if it cannot be opened or read, or
 * is a folder). */
int tm_filekind_detect(const char *path, tm_file_kind *kind, tm_error *err);

/* The kind and, for every kind but run files, its facts (for a file
 * tradeabm does not write: "reason", why not): provenance
 * attributes of sweep indexes and comparisons, the header of a fitted
 * file, the output and period of a checkpoint. */
int tm_filekind_describe(const char *path, tm_file_facts *facts, tm_error *err);

/* The value of a fact by key, or NULL. */
const char *tm_filekind_fact(const tm_file_facts *facts, const char *key);

#endif
