/* reader: the one reader of run files (layout in docs/output.md), used by
 * info, reproduce, resume, sweep indexes and comparisons. Owns an open
 * file's handle and the names it read; every error names file and dataset. */
#ifndef TM_READER_H
#define TM_READER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <hdf5.h>

#include "base/error.h"
#include "params/params.h"

/* What `info`, `reproduce` and `resume` need from a file's provenance. */
typedef struct {
    char status[32];
    char digest[65];
    char params_sha256[65];
    char version[64];
    char git_commit[64];
    uint64_t seed;
    int threads;
    int format_version;
    int panel;
    double wall_seconds;      /* the whole run: set-up and solve, periods, writing */
    char params_source[4096]; /* parameter file the run was made from ("" if not recorded) */
    char start_time[40], end_time[40];
    char *parameters; /* canonical text (malloc'd) */
} tm_file_info;

/* Free what tm_reader_info or tm_reader_read_info filled in. */
void tm_reader_info_free(tm_file_info *info);

typedef struct tm_reader tm_reader;

/* Open a tradeabm run file of this build's format version (an input error
 * otherwise: missing, not HDF5, another program's, another version). */
int tm_reader_open(const char *path, tm_reader **out, tm_error *err);
void tm_reader_close(tm_reader *r);
const char *tm_reader_path(const tm_reader *r);

/* Provenance: root attributes and /parameters. */
int tm_reader_info(tm_reader *r, tm_file_info *info, tm_error *err);
/* Open, read the provenance, close. */
int tm_reader_read_info(const char *path, tm_file_info *info, tm_error *err);

/* The names along a dimension, /dimensions/<which> ("sectors",
 * "destinations"); the reader owns them until it is closed. */
int tm_reader_names(tm_reader *r, const char *which, const char *const **names, int *n, tm_error *err);

/* Logged periods in the file (the length of /series/export_value). */
int tm_reader_periods(tm_reader *r, int *periods, tm_error *err);

/* Periods [first, first + count) of /series/<name> as doubles into out
 * (count x per_period values); a period of the dataset must hold exactly
 * `per_period` values. */
int tm_reader_series(tm_reader *r, const char *name, int first, int count, size_t per_period, double *out,
                     tm_error *err);

/* The same for /environment/<name> (`regime`, `tariff`). */
int tm_reader_environment(tm_reader *r, const char *name, int first, int count, size_t per_period, double *out,
                          tm_error *err);

/* The digest recomputed from the stored data (docs/output.md, "Digest"),
 * as hex; a dataset that cannot be read (a chunk failing its checksum) is
 * a runtime error naming it. Compare with the `digest` attribute. */
int tm_reader_digest(tm_reader *r, char hex[65], tm_error *err);

/* Recompute the digest into hex; 0 if it equals `recorded`, else a runtime
 * error (damaged dataset named, or the two digests). */
int tm_reader_digest_matches(tm_reader *r, const char *recorded, char hex[65], tm_error *err);

/* Every series read back and its SHA-256 compared with the `sha256`
 * attribute written with it (the series' term of the digest): 0, or a
 * runtime error naming the file and the damaged dataset (a chunk failing
 * its checksum, or values changed through HDF5). Cheaper than the digest:
 * the static datasets and the panel are not read. */
int tm_reader_check_series(tm_reader *r, tm_error *err);

/* The hash of panel dataset `path` (panel/SECTOR/z_index, markets or type)
 * over its first `rows` periods (all if fewer): SHA-256 of the
 * fingerprints of its chunks' slots, as the writer computes it. A chunk
 * that fails its checksum is a runtime error naming the dataset. */
int tm_reader_panel_hash(hid_t file, const char *file_name, const char *path, hsize_t rows, uint8_t out[32],
                         tm_error *err);

/* Open `path`, recompute its digest into hex and compare it with the
 * recorded one: 0 if equal, else a runtime error (damaged dataset named,
 * or the mismatch). */
int tm_reader_check_digest(const char *path, char hex[65], tm_error *err);

/* The HDF5 file handle and a string attribute (0, or -1 if missing), for
 * the modules of this reader. */
hid_t tm_reader_file(const tm_reader *r);
int tm_reader_attr_string(hid_t obj, const char *name, char *buf, size_t size);

/* One row of /events (docs/output.md), every field at its stored size. */
typedef struct {
    int period;
    char label[TM_LABEL_MAX], kind[16], destination[TM_NAME_MAX], sector[TM_NAME_MAX], regime[TM_NAME_MAX];
    double value;
    char note[TM_NOTE_MAX];
} tm_event_record;

/* The events that took effect, in order (*rows malloc'd, free it). */
int tm_reader_events(tm_reader *r, tm_event_record **rows, int *n, tm_error *err);

/* Provenance and the summary table of the last logged period, for `info`. */
int tm_reader_print_info(const char *path, FILE *out, tm_error *err);

#endif
