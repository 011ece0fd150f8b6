/* output_private: what the two files of the run-file writer share
 * (output.c writes, output_resume.c saves and reopens): the writer's
 * handle and its lifetime helpers. Not for other modules. */
#ifndef TM_OUTPUT_PRIVATE_H
#define TM_OUTPUT_PRIVATE_H

#include <hdf5.h>

#include "base/sha256.h"
#include "io/h5util.h"
#include "io/output.h"

/* Panel chunks hold at most this many firms of one period. */
#define TM_PANEL_CHUNK ((hsize_t)1 << 18)
#define TM_SERIES_CHUNK 64
#define TM_SERIES_CHUNK_BYTES ((size_t)256 << 10)
#define TM_MAX_SERIES 24
#define TM_SERIES_RANK 4

/* A dataset that grows by one period at a time, hashed as it grows.
 * Periods are staged in memory and written a chunk's worth at a time
 * (and whenever the file must be consistent: checkpoints, the close). */
typedef struct {
    const char *name;
    hid_t dset;
    hid_t mem_type;
    int rank;
    hsize_t dims[TM_SERIES_RANK]; /* dims[0] = periods in the file; unused trailing dims are 1 */
    size_t slab_bytes;
    tm_sha256 sha;
    unsigned char *stage; /* periods appended but not yet written (NULL until the first) */
    hsize_t staged, stage_cap;
    size_t elem_bytes; /* bytes of one element, in memory and in the file */
    int direct;        /* created here with shuffle, deflate and Fletcher-32: a fresh chunk may be
                          encoded by series_write_chunk (0 for series reopened from a checkpoint) */
} series_ds;

/* One sector's panel datasets: z_index, markets and, with demand types,
 * type (which = 0, 1, 2). */
typedef struct {
    hid_t z, markets, type;
    tm_sha256 z_sha, m_sha, t_sha;
    hsize_t n;
    int z_bytes; /* stored size of a z_index: 1 (grids up to 256 points) or 2 */
} panel_ds;

struct tm_output {
    char *final_path;
    char *tmp_path;
    hid_t file;
    const tm_params *p;
    int panel;
    int force; /* the final path may be replaced */
    int n_series;
    series_ds series[TM_MAX_SERIES];
    panel_ds *panels;
    int n_events;
    int *event_index, *event_period;
    double started;   /* tm_clock_seconds() at the start, less wall time before a resume */
    double *wall_out; /* tm_output_options.wall_seconds */
    char start_time[40];
    int threads;
    tm_sha256 static_sha; /* dimension names, grids, parameters */
    hid_t label_type;
    tm_h5_strings strings; /* the string type and scalar space of every attribute */
    hid_t series_dcpl;     /* the series' filters (tm_output_open only; each series sets its chunk) */
    hid_t name_scales[3];  /* sectors, destinations, market sets: open from write_static to attach_scales */
    char series_names[TM_MAX_SERIES][64]; /* names of series reopened from a checkpoint */
    int checkpoints;                      /* checkpoints are taken (space freed is never reused) */
    hsize_t flushed_rows;                 /* periods on disk at the last checkpoint's flush */
    int image_fd; /* a file built in memory: its temporary on disk, written at the close (-1: none) */
};

/* Periods in one chunk of a series whose period holds `slab_bytes`. */
hsize_t tm_output_chunk_rows(const tm_params *p, size_t slab_bytes);

/* A handle with its arrays and no file open yet; NULL when out of memory. */
tm_output *tm_output_new_handle(const tm_params *p, const tm_run *run, const char *path, const char *tmp_path,
                                int panel, int force);
void tm_output_free_handle(tm_output *o);
/* Close every dataset and the file (the handle stays allocated). */
void tm_output_close_handles(tm_output *o);
/* Write every series' staged periods to the file (before a flush). */
int tm_output_write_staged(tm_output *o, tm_error *err);
/* Keep dirty metadata in memory until a checkpoint's flush or the close. */
void tm_output_hold_metadata(hid_t file);

#endif
