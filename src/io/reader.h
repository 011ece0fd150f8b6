/* reader: the one reader of run files (layout in docs/output.md), used by
 * info, reproduce, resume, sweep indexes and comparisons. Owns an open
 * file's handle and the names it read; every error names file and dataset. */
#ifndef TM_READER_H
#define TM_READER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/error.h"

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
    double wall_seconds;
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

/* Provenance and the summary table of the last logged period, for `info`. */
int tm_reader_print_info(const char *path, FILE *out, tm_error *err);

#endif
