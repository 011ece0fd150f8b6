/* The checkpoint half of the run-file writer (module output, io/output.h):
 * the writer's state at a period boundary, and reopening a partial file to
 * continue it. */
#include "io/output.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "base/clock.h"
#include "io/checkpoint.h"
#include "io/h5util.h"
#include "io/output_private.h"
#include "io/reader.h"

/* ------------------------------------------------------------------------
 * Checkpoints: the writer's state at a period boundary (what each dataset
 * holds and its running digest) and reopening the temporary file to
 * continue. Datasets are found again by their HDF5 paths, saved with the
 * state, and cut back to the checkpointed period: a run killed after the
 * checkpoint may have written more.
 * ---------------------------------------------------------------------- */

enum { MEM_LABEL = 0, MEM_INT64, MEM_DOUBLE, MEM_INT };

static const char output_state_tag[8] = {'o', 'u', 't', 's', 't', 'a', 't', '1'};

/* Room for what a checkpoint's flush writes, claimed before it starts. A
 * flush stopped half-way by a full disk would have rewritten some of the
 * file's metadata in place and not the rest, damaging the partial file the
 * last checkpoint describes; a flush that has its room writes everything.
 * What it writes at new places: the series chunks touched since the last
 * flush (at most their uncompressed size, plus deflate's worst-case growth
 * and the checksum) and new metadata (at most the metadata cache's size),
 * plus 64 KiB for HDF5's allocation blocks. The room is reserved past the
 * end of the file (fallocate, keeping the size) and checked against a
 * file-size limit (ulimit -f), which fallocate does not see. */
static int reserve_flush_room(tm_output *o, tm_error *err)
{
    double need = 65536.0;
    for (int i = 0; i < o->n_series; i++) {
        const series_ds *s = &o->series[i];
        hsize_t rows = tm_output_chunk_rows(o->p, s->slab_bytes), end = s->dims[0] + s->staged,
                last = end ? end - 1 : 0;
        hsize_t chunks = last / rows + 1 - o->flushed_rows / rows;
        double bytes = (double)(rows * s->slab_bytes);
        need += (double)chunks * (bytes + bytes / 1000.0 + 64.0);
    }
    size_t max_size, min_clean, cur_size;
    int cur_entries;
    if (H5Fget_mdc_size(o->file, &max_size, &min_clean, &cur_size, &cur_entries) >= 0)
        need += (double)cur_size;
    int *fd = NULL;
    struct stat st;
    hsize_t allocated = 0;
    if (H5Fget_vfd_handle(o->file, H5P_DEFAULT, (void **)&fd) < 0 || !fd || fstat(*fd, &st) != 0)
        return 0; /* not a plain file: nothing to reserve */
    H5Fget_filesize(o->file, &allocated);
    double end = (double)(allocated > (hsize_t)st.st_size ? allocated : (hsize_t)st.st_size) + need;
    struct rlimit limit;
    int too_large = getrlimit(RLIMIT_FSIZE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
                    end > (double)limit.rlim_cur;
    if (!too_large && fallocate(*fd, FALLOC_FL_KEEP_SIZE, st.st_size, (off_t)(end - (double)st.st_size)) != 0 &&
        (errno == ENOSPC || errno == EDQUOT || errno == EFBIG))
        too_large = 1;
    if (too_large)
        return tm_error_set(err, TM_ERR_RUNTIME,
                            "%s: no room to save a checkpoint (about %.0f KiB more needed; disk full?)", o->tmp_path,
                            need / 1024.0);
    return 0;
}

int tm_output_save(tm_output *o, tm_ckbuf *b, tm_error *err)
{
    if (reserve_flush_room(o, err) || tm_output_write_staged(o, err))
        return -1;
    if (H5Fflush(o->file, H5F_SCOPE_GLOBAL) < 0)
        return tm_error_set(err, TM_ERR_RUNTIME, "%s: flush failed (disk full?)", o->tmp_path);
    o->flushed_rows = o->series[0].dims[0];
    double elapsed = tm_clock_seconds() - o->started;
    int32_t counts[3] = {o->n_series, o->panel, o->n_events};
    tm_ckbuf_put(b, output_state_tag, sizeof output_state_tag);
    tm_ckbuf_put_string(b, o->tmp_path);
    tm_ckbuf_put(b, counts, sizeof counts);
    for (int i = 0; i < o->n_series; i++) {
        series_ds *s = &o->series[i];
        char where[256];
        if (H5Iget_name(s->dset, where, sizeof where) <= 0)
            return tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot name dataset %s", o->tmp_path, s->name);
        int32_t mem = H5Tequal(s->mem_type, H5T_NATIVE_INT64) > 0    ? MEM_INT64
                      : H5Tequal(s->mem_type, H5T_NATIVE_DOUBLE) > 0 ? MEM_DOUBLE
                      : H5Tequal(s->mem_type, H5T_NATIVE_INT) > 0    ? MEM_INT
                                                                     : MEM_LABEL;
        int32_t rank = s->rank;
        uint64_t dims[TM_SERIES_RANK] = {s->dims[0], s->dims[1], s->dims[2], s->dims[3]}, slab = s->slab_bytes;
        tm_ckbuf_put_string(b, where);
        tm_ckbuf_put_string(b, s->name);
        tm_ckbuf_put(b, &mem, sizeof mem);
        tm_ckbuf_put(b, &rank, sizeof rank);
        tm_ckbuf_put(b, dims, sizeof dims);
        tm_ckbuf_put(b, &slab, sizeof slab);
        tm_ckbuf_put(b, &s->sha, sizeof s->sha);
    }
    for (int s = 0; o->panel && s < o->p->n_sectors; s++) {
        uint64_t n = o->panels[s].n;
        tm_ckbuf_put(b, &n, sizeof n);
        tm_ckbuf_put(b, &o->panels[s].z_sha, sizeof o->panels[s].z_sha);
        tm_ckbuf_put(b, &o->panels[s].m_sha, sizeof o->panels[s].m_sha);
        if (o->p->n_types > 1)
            tm_ckbuf_put(b, &o->panels[s].t_sha, sizeof o->panels[s].t_sha);
    }
    tm_ckbuf_put(b, &o->static_sha, sizeof o->static_sha);
    tm_ckbuf_put(b, o->event_index, (size_t)o->n_events * sizeof(int));
    tm_ckbuf_put(b, o->event_period, (size_t)o->n_events * sizeof(int));
    tm_ckbuf_put(b, &elapsed, sizeof elapsed);
    tm_ckbuf_put(b, o->start_time, sizeof o->start_time);
    if (b->failed)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory saving the output state");
    return 0;
}

/* Remove what finish() adds, in case the run was stopped while finishing
 * or the file was closed as incomplete. */
static void strip_closing(hid_t f)
{
    static const char *const attrs[] = {"program",       "version",        "git_commit", "compiler", "compiler_flags",
                                        "build_type",    "hdf5_version",   "threads",    "seed",     "model",
                                        "params_sha256", "params_source",  "start_time", "end_time", "wall_seconds",
                                        "status",        "format_version", "block_size", "panel",    "digest"};
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
        if (H5Aexists(f, attrs[i]) > 0)
            H5Adelete(f, attrs[i]);
    if (H5Lexists(f, "events", H5P_DEFAULT) > 0)
        H5Ldelete(f, "events", H5P_DEFAULT);
}

/* Before appending, the stored rows of a series must be the rows the
 * checkpoint hashed: read them back (HDF5 checks each chunk's Fletcher32
 * checksum) and compare their SHA-256 with the checkpoint's running one.
 * A damaged partial file is refused, naming the dataset, and left as it is. */
static int verify_series(tm_output *o, series_ds *s, const char *where, tm_error *err)
{
    unsigned char *row = malloc(s->slab_bytes ? s->slab_bytes : 1);
    if (!row)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    tm_sha256 fresh;
    tm_sha256_init(&fresh);
    hsize_t count[TM_SERIES_RANK] = {1, s->dims[1], s->dims[2], s->dims[3]};
    hid_t fspace = H5Dget_space(s->dset), mspace = H5Screate_simple(s->rank, count, NULL);
    int bad = fspace < 0 || mspace < 0;
    for (hsize_t t = 0; t < s->dims[0] && !bad; t++) {
        hsize_t start[TM_SERIES_RANK] = {t, 0, 0, 0};
        bad = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
              H5Dread(s->dset, s->mem_type, mspace, fspace, H5P_DEFAULT, row) < 0;
        if (!bad)
            tm_sha256_update(&fresh, row, s->slab_bytes);
    }
    H5Sclose(mspace);
    H5Sclose(fspace);
    free(row);
    if (bad)
        return tm_error_set(err, TM_ERR_RUNTIME,
                            "%s: dataset %s is damaged (a chunk fails its checksum or cannot be read); the partial "
                            "file is left as it is",
                            o->tmp_path, where);
    tm_sha256 expected = s->sha;
    uint8_t a[32], b[32];
    tm_sha256_final(&fresh, a);
    tm_sha256_final(&expected, b);
    if (memcmp(a, b, sizeof a) != 0)
        return tm_error_set(err, TM_ERR_RUNTIME,
                            "%s: dataset %s differs from what the checkpoint recorded (damaged); the partial file "
                            "is left as it is",
                            o->tmp_path, where);
    return 0;
}

/* Series i's description in the checkpoint (its dataset not opened):
 * path in the file into `where`, name, memory type, rank, rows and the
 * running SHA-256 of the rows written. */
static int series_from_checkpoint(tm_output *o, tm_ckbuf *b, int i, char where[256])
{
    series_ds *s = &o->series[i];
    int32_t mem, rank;
    uint64_t dims[TM_SERIES_RANK], slab;
    s->dset = -1;
    if (tm_ckbuf_get_string(b, where, 256) || tm_ckbuf_get_string(b, o->series_names[i], sizeof o->series_names[i]) ||
        tm_ckbuf_get(b, &mem, sizeof mem) || tm_ckbuf_get(b, &rank, sizeof rank) ||
        tm_ckbuf_get(b, dims, sizeof dims) || tm_ckbuf_get(b, &slab, sizeof slab) ||
        tm_ckbuf_get(b, &s->sha, sizeof s->sha) || rank < 1 || rank > TM_SERIES_RANK)
        return -1;
    s->name = o->series_names[i];
    s->rank = rank;
    s->mem_type = mem == MEM_INT64    ? H5T_NATIVE_INT64
                  : mem == MEM_DOUBLE ? H5T_NATIVE_DOUBLE
                  : mem == MEM_INT    ? H5T_NATIVE_INT
                                      : o->label_type;
    for (int k = 0; k < TM_SERIES_RANK; k++)
        s->dims[k] = (hsize_t)dims[k];
    s->slab_bytes = (size_t)slab;
    return 0;
}

/* Sector s's panel datasets against the hashes the checkpoint recorded
 * (read from `b`, which follows the series): their first rows, those the
 * checkpoint covers, read back (each chunk's checksum checked) and
 * fingerprinted as the writer did. */
static int verify_panel(tm_output *o, tm_ckbuf *b, hid_t file, int s, tm_error *err)
{
    static const char *const which[] = {"z_index", "markets", "type"};
    uint64_t n;
    tm_sha256 recorded[3];
    const int n_which = o->p->n_types > 1 ? 3 : 2;
    if (tm_ckbuf_get(b, &n, sizeof n) || tm_ckbuf_get(b, &recorded[0], sizeof recorded[0]) ||
        tm_ckbuf_get(b, &recorded[1], sizeof recorded[1]) ||
        (n_which == 3 && tm_ckbuf_get(b, &recorded[2], sizeof recorded[2])))
        return tm_error_set(err, TM_ERR_INPUT, "%s: the partial output does not match the checkpoint (corrupt?)",
                            o->tmp_path);
    for (int k = 0; k < n_which; k++) {
        char where[300];
        snprintf(where, sizeof where, "panel/%s/%s", o->p->sector[s].name, which[k]);
        uint8_t fresh[32], expected[32];
        if (tm_reader_panel_hash(file, o->tmp_path, where, o->series[0].dims[0], fresh, err))
            return -1;
        tm_sha256_final(&recorded[k], expected);
        if (memcmp(fresh, expected, sizeof fresh) != 0)
            return tm_error_set(err, TM_ERR_RUNTIME,
                                "%s: dataset /%s differs from what the checkpoint recorded (damaged); the partial "
                                "file is left as it is",
                                o->tmp_path, where);
    }
    return 0;
}

/* Every series of the partial file checked read-only before anything is
 * written to it (verify_series); the checkpoint is read again afterwards. */
static int verify_partial(tm_output *o, tm_ckbuf *b, int n_series, tm_error *err)
{
    size_t mark = b->pos;
    hid_t file = H5Fopen(o->tmp_path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0)
        return tm_error_set(err, TM_ERR_INPUT, "%s: cannot reopen the partial output (truncated or corrupt?)",
                            o->tmp_path);
    hid_t label_type = H5Tcopy(H5T_C_S1);
    H5Tset_size(label_type, TM_LABEL_MAX);
    o->label_type = label_type;
    int rc = 0;
    for (int i = 0; i < n_series && !rc; i++) {
        char where[256];
        series_ds *s = &o->series[i];
        if (series_from_checkpoint(o, b, i, where)) {
            rc = tm_error_set(err, TM_ERR_INPUT, "%s: the partial output does not match the checkpoint (corrupt?)",
                              o->tmp_path);
            break;
        }
        s->dset = H5Dopen2(file, where, H5P_DEFAULT);
        if (s->dset < 0)
            rc = tm_error_set(err, TM_ERR_RUNTIME, "%s: dataset %s is missing (damaged)", o->tmp_path, where);
        else
            rc = verify_series(o, s, where, err) ? -1 : 0;
        if (s->dset >= 0)
            H5Dclose(s->dset);
        s->dset = -1;
    }
    for (int s = 0; o->panel && s < o->p->n_sectors && !rc; s++)
        rc = verify_panel(o, b, file, s, err);
    H5Tclose(label_type);
    o->label_type = 0;
    H5Fclose(file);
    b->pos = mark;
    return rc ? -1 : 0;
}

int tm_output_resume(const char *path, const tm_params *p, const tm_run *run, const tm_output_options *opts,
                     tm_ckbuf *b, tm_output **out, tm_error *err)
{
    tm_h5_quiet();
    *out = NULL;
    char tag[8], tmp[4200];
    int32_t counts[3];
    if (tm_ckbuf_get(b, tag, sizeof tag) || memcmp(tag, output_state_tag, sizeof tag) != 0 ||
        tm_ckbuf_get_string(b, tmp, sizeof tmp) || tm_ckbuf_get(b, counts, sizeof counts) || counts[0] < 1 ||
        counts[0] > TM_MAX_SERIES || counts[2] < 0 || counts[2] > p->n_events)
        return tm_error_set(err, TM_ERR_INPUT, "%s: malformed output state in the checkpoint", path);
    tm_output *o = tm_output_new_handle(p, run, path, tmp, counts[1], opts && opts->force);
    if (!o)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    /* The partial file is under its temporary name, or (after a signal
     * stopped the run) under the final name with status incomplete. */
    struct stat st;
    if (lstat(o->tmp_path, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* Never write through a link planted at the recorded name. */
        tm_error_set(err, TM_ERR_INPUT, "%s: the partial output %s is not a regular file", path, o->tmp_path);
        tm_output_free_handle(o);
        return -1;
    }
    if (lstat(o->tmp_path, &st) != 0) {
        tm_file_info info;
        tm_error ignored = {0};
        int incomplete = tm_reader_read_info(path, &info, &ignored) == 0 && strcmp(info.status, "incomplete") == 0;
        if (incomplete)
            tm_reader_info_free(&info);
        if (!incomplete || rename(path, o->tmp_path) != 0) {
            tm_error_set(err, TM_ERR_INPUT,
                         "%s: the partial output of this checkpoint is gone (neither %s nor an incomplete %s exists)",
                         path, o->tmp_path, path);
            tm_output_free_handle(o);
            return -1;
        }
    }
    if (verify_partial(o, b, counts[0], err)) {
        tm_output_free_handle(o);
        return -1;
    }
    o->file = H5Fopen(o->tmp_path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (o->file >= 0)
        tm_output_hold_metadata(o->file);
    if (o->file < 0) {
        tm_error_set(err, TM_ERR_INPUT, "%s: cannot reopen the partial output (truncated or corrupt?)", o->tmp_path);
        tm_output_free_handle(o);
        return -1;
    }
    strip_closing(o->file);
    o->label_type = H5Tcopy(H5T_C_S1);
    H5Tset_size(o->label_type, TM_LABEL_MAX);
    int rc = 0;
    for (int i = 0; i < counts[0] && !rc; i++) {
        series_ds *s = &o->series[i];
        char where[256];
        o->n_series = i + 1;
        rc = series_from_checkpoint(o, b, i, where);
        if (rc)
            break;
        s->dset = H5Dopen2(o->file, where, H5P_DEFAULT);
        /* Shrinking to the checkpoint's rows rewrites the last chunk, so
         * a damaged chunk can already fail here. */
        int damaged = s->dset >= 0 && H5Dset_extent(s->dset, s->dims) < 0;
        if (damaged)
            tm_error_set(err, TM_ERR_RUNTIME,
                         "%s: dataset %s is damaged (a chunk fails its checksum or cannot be read); the partial "
                         "file is left as it is",
                         o->tmp_path, where);
        rc = s->dset < 0;
        if (!rc && damaged) {
            tm_output_close_handles(o);
            tm_output_free_handle(o);
            return -1;
        }
    }
    for (int s = 0; o->panel && s < p->n_sectors && !rc; s++) {
        panel_ds *pd = &o->panels[s];
        uint64_t n;
        char where[256];
        rc = tm_ckbuf_get(b, &n, sizeof n) || n != (uint64_t)tm_params_slots(p, s) ||
             tm_ckbuf_get(b, &pd->z_sha, sizeof pd->z_sha) || tm_ckbuf_get(b, &pd->m_sha, sizeof pd->m_sha) ||
             (p->n_types > 1 && tm_ckbuf_get(b, &pd->t_sha, sizeof pd->t_sha));
        if (rc)
            break;
        pd->n = (hsize_t)n;
        hsize_t pdims[2] = {o->series[0].dims[0], pd->n};
        snprintf(where, sizeof where, "panel/%s/z_index", p->sector[s].name);
        pd->z = H5Dopen2(o->file, where, H5P_DEFAULT);
        snprintf(where, sizeof where, "panel/%s/markets", p->sector[s].name);
        pd->markets = H5Dopen2(o->file, where, H5P_DEFAULT);
        pd->type = -1;
        if (p->n_types > 1) {
            snprintf(where, sizeof where, "panel/%s/type", p->sector[s].name);
            pd->type = H5Dopen2(o->file, where, H5P_DEFAULT);
        }
        rc = pd->z < 0 || pd->markets < 0 || H5Dset_extent(pd->z, pdims) < 0 || H5Dset_extent(pd->markets, pdims) < 0 ||
             (p->n_types > 1 && (pd->type < 0 || H5Dset_extent(pd->type, pdims) < 0));
        if (!rc) {
            /* The stored width of z_index, from the file (it follows the
             * grid size, but the file is what the chunks must match). */
            hid_t zt = H5Dget_type(pd->z);
            size_t zb = zt < 0 ? 0 : H5Tget_size(zt);
            if (zt >= 0)
                H5Tclose(zt);
            rc = zb != 1 && zb != 2;
            pd->z_bytes = (int)zb;
        }
    }
    double elapsed = 0;
    o->n_events = counts[2];
    rc = rc || tm_ckbuf_get(b, &o->static_sha, sizeof o->static_sha) ||
         tm_ckbuf_get(b, o->event_index, (size_t)o->n_events * sizeof(int)) ||
         tm_ckbuf_get(b, o->event_period, (size_t)o->n_events * sizeof(int)) ||
         tm_ckbuf_get(b, &elapsed, sizeof elapsed) || tm_ckbuf_get(b, o->start_time, sizeof o->start_time);
    if (rc) {
        tm_error_set(err, TM_ERR_INPUT, "%s: the partial output does not match the checkpoint (corrupt?)", o->tmp_path);
        tm_output_close_handles(o);
        tm_output_free_handle(o);
        return -1;
    }
    o->start_time[sizeof o->start_time - 1] = '\0';
    o->checkpoints = 1;
    o->flushed_rows = o->series[0].dims[0];
    /* Wall time counts the time before the interruption too, and this
     * resumed run's set-up. */
    double now = tm_clock_seconds();
    o->started = (opts && opts->started > 0 && opts->started <= now ? opts->started : now) - elapsed;
    o->wall_out = opts ? opts->wall_seconds : NULL;
    *out = o;
    return 0;
}
