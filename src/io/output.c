#include "io/output.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "base/clock.h"
#include "base/sha256.h"
#include "base/tmpfile.h"
#include "engine/exchange_rate.h"
#include "io/fingerprint.h"
#include "io/h5util.h"
#include "io/output_private.h"
#include "io/panel_deflate.h"
#include "io/summary.h"
#include "models/model.h"
#include "tm_build_info.h"

/* File settings (tm_output_open): half-ranks of the B-tree nodes of
 * groups and of chunked datasets without a panel (HDF5's defaults: 16 and
 * 32), and the growth step of a file built in memory. */
enum { TM_GROUP_BTREE_K = 4, TM_CHUNK_BTREE_K = 4, TM_CORE_INCREMENT = 64 << 10 };

/* UTC time `ago` seconds before now, ISO 8601. */
static void iso_before_now(double ago, char *buf, size_t size)
{
    time_t now = time(NULL) - (time_t)(ago + 0.5);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void iso_now(char *buf, size_t size)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int tm_output_check_path(const char *path, int force, tm_error *err)
{
    return tm_output_check_path_probing(path, force, 1, err);
}

int tm_output_check_path_probing(const char *path, int force, int try_create, tm_error *err)
{
    const char *slash_end = strrchr(path, '/');
    if (!*path || (slash_end && !slash_end[1]))
        return tm_error_set(err, TM_ERR_INPUT, "'%s': expected the name of a file (found %s)", path,
                            *path ? "a folder name ending in /" : "an empty name");
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return tm_error_set(err, TM_ERR_INPUT, "%s: is a folder; expected the name of a file", path);
        if (!force)
            return tm_error_set(err, TM_ERR_INPUT,
                                "%s: already exists; choose another name with -o or pass --force to replace it", path);
    }
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (slash)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path) + (slash == path), path);
    else
        snprintf(dir, sizeof dir, ".");
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return tm_error_set(err, TM_ERR_INPUT, "%s: the folder %s does not exist", path, dir);
    if (access(dir, W_OK | X_OK) != 0)
        return tm_error_set(err, TM_ERR_INPUT, "%s: the folder %s is not writable", path, dir);
    if (!try_create)
        return 0;
    /* access() says yes to root on read-only or pseudo file systems: try,
     * with a unique name (several runs of one process may probe at once). */
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/.tradeabm-probe-XXXXXX", dir);
    int fd = mkstemp(probe);
    if (fd < 0)
        return tm_error_set(err, TM_ERR_INPUT, "%s: cannot create files in the folder %s (%s)", path, dir,
                            strerror(errno));
    close(fd);
    unlink(probe);
    return 0;
}

/* A fixed dataset of strings (names of sectors, destinations, ...), hashed
 * into the digest by name and value. */
static int write_strings(const tm_h5_strings *st, hid_t loc, const char *name, const char *const *values, hsize_t n,
                         const char *description, tm_sha256 *digest, hid_t *keep)
{
    int rc = tm_h5_strings_write(st, loc, name, values, n, description, keep);
    if (digest) {
        tm_sha256_update(digest, name, strlen(name) + 1);
        for (hsize_t i = 0; i < n; i++)
            tm_sha256_update(digest, values[i], strlen(values[i]) + 1);
    }
    return rc;
}

static int write_array(const tm_h5_strings *st, hid_t loc, const char *name, hid_t file_type, hid_t mem_type, int rank,
                       const hsize_t *dims, const void *data, size_t bytes, const char *units, const char *description,
                       tm_sha256 *digest)
{
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(loc, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = d < 0 || H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0 ||
             tm_h5_strings_describe(st, d, units, description);
    if (d >= 0)
        H5Dclose(d);
    H5Sclose(space);
    if (digest) {
        tm_sha256_update(digest, name, strlen(name) + 1);
        tm_sha256_update(digest, data, bytes);
    }
    return rc ? -1 : 0;
}

/* Periods a series chunk holds, also the periods staged in memory between
 * writes: up to TM_SERIES_CHUNK, but a chunk small enough to stay in HDF5's
 * chunk cache (1 MiB by default) while it fills (a chunk evicted between
 * appends is read, inflated and deflated again every period), and never
 * more periods than the run logs. */
hsize_t tm_output_chunk_rows(const tm_params *p, size_t slab_bytes)
{
    hsize_t periods = slab_bytes ? (hsize_t)(TM_SERIES_CHUNK_BYTES / slab_bytes) : TM_SERIES_CHUNK;
    if (periods > TM_SERIES_CHUNK)
        periods = TM_SERIES_CHUNK;
    if (periods > (hsize_t)p->periods)
        periods = (hsize_t)p->periods;
    return periods < 1 ? 1 : periods;
}

/* A series of `rank` dimensions, the first one periods; d1..d3 are the
 * sizes of the others (ignored beyond the rank). */
static int series_create4(tm_output *o, hid_t group, const char *name, hid_t file_type, hid_t mem_type, int rank,
                          hsize_t d1, hsize_t d2, hsize_t d3, const char *units, const char *description)
{
    if (o->n_series >= TM_MAX_SERIES)
        return -1;
    series_ds *s = &o->series[o->n_series++];
    s->name = name;
    s->mem_type = mem_type;
    s->rank = rank;
    s->dims[0] = 0;
    s->dims[1] = rank > 1 ? d1 : 1;
    s->dims[2] = rank > 2 ? d2 : 1;
    s->dims[3] = rank > 3 ? d3 : 1;
    hsize_t maxdims[TM_SERIES_RANK] = {H5S_UNLIMITED, s->dims[1], s->dims[2], s->dims[3]};
    size_t elem = H5Tget_size(mem_type);
    s->elem_bytes = elem;
    s->direct = 1;
    s->slab_bytes = elem * s->dims[1] * s->dims[2] * s->dims[3];
    /* Up to TM_SERIES_CHUNK periods a chunk, but a chunk small enough to
     * stay in HDF5's chunk cache (1 MiB by default) while it fills: a chunk
     * evicted between appends is read, inflated and deflated again every
     * period. Never more periods than the run logs: a chunk is filtered
     * whole, so the periods a short run never fills would be shuffled,
     * deflated and checksummed as zeros at the close (a 12-period run
     * spent more of its output there than on its data). */
    hsize_t periods = tm_output_chunk_rows(o->p, s->slab_bytes);
    hsize_t chunk[TM_SERIES_RANK] = {periods, s->dims[1], s->dims[2], s->dims[3]};
    hid_t space = H5Screate_simple(rank, s->dims, maxdims);
    s->dset = H5Pset_chunk(o->series_dcpl, rank, chunk) < 0
                  ? -1
                  : H5Dcreate2(group, name, file_type, space, H5P_DEFAULT, o->series_dcpl, H5P_DEFAULT);
    H5Sclose(space);
    tm_sha256_init(&s->sha);
    if (s->dset < 0)
        return -1;
    return tm_h5_strings_describe(&o->strings, s->dset, units, description);
}

static int series_create(tm_output *o, hid_t group, const char *name, hid_t file_type, hid_t mem_type, int rank,
                         hsize_t d1, hsize_t d2, const char *units, const char *description)
{
    return series_create4(o, group, name, file_type, mem_type, rank, d1, d2, 1, units, description);
}

/* The staged periods as one whole chunk that holds nothing yet, encoded
 * as the dataset's filters would (shuffle, deflate, Fletcher-32) and
 * written with H5Dwrite_chunk: 1 when written, 0 when this does not apply
 * (the chunk already holds periods, the series was reopened from a
 * checkpoint, a big-endian machine, or the encoding came out longer than
 * zlib's worst case, which the room a checkpoint reserves assumes), -1 on a
 * failed write. HDF5's own pipeline (zlib, set up afresh for every chunk)
 * cost more than the rest of a short run's output; deflate here is
 * tm_panel_deflate_runs (panel_deflate.h): after the shuffle a series
 * chunk is mostly runs of zeros (high bytes of counts, padding), which it
 * codes as matches at distance 1; any inflater reads its streams.
 * Rows past the staged ones are zeros, HDF5's fill value, as the pipeline
 * would store them. The extent already covers the staged rows. */
static int series_write_chunk(series_ds *s)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (!s->direct || s->dims[0] % s->stage_cap != 0)
        return 0;
    size_t bytes = (size_t)s->stage_cap * s->slab_bytes, e = s->elem_bytes, n = e ? bytes / e : 0;
    size_t cap = tm_panel_deflate_runs_bound(bytes) + 4;
    unsigned char *shuffled = malloc(bytes), *out = malloc(cap);
    int rc = -1;
    if (!shuffled || !out)
        goto done;
    memset(s->stage + (size_t)s->staged * s->slab_bytes, 0, bytes - (size_t)s->staged * s->slab_bytes);
    /* HDF5's shuffle: byte j of element i goes to j * n + i. */
    for (size_t j = 0; j < e; j++)
        for (size_t i = 0; i < n; i++)
            shuffled[j * n + i] = s->stage[i * e + j];
    size_t len = tm_panel_deflate_runs(shuffled, bytes, out, cap - 4);
    if (len == 0 || len > bytes + bytes / 1000 + 64) {
        rc = 0;
        goto done;
    }
    unsigned long check = tm_panel_fletcher32(out, len);
    for (int b = 0; b < 4; b++)
        out[len + (size_t)b] = (unsigned char)(check >> (8 * b));
    hsize_t offset[TM_SERIES_RANK] = {s->dims[0], 0, 0, 0};
    rc = H5Dwrite_chunk(s->dset, H5P_DEFAULT, 0, offset, len + 4, out) < 0 ? -1 : 1;
done:
    free(shuffled);
    free(out);
    return rc;
#else
    (void)s;
    return 0;
#endif
}

/* Write the staged periods after the dataset's last row: one extent
 * change and one write for up to a chunk of periods (one a period cost
 * about as much as the rest of the output of a short run). */
static int series_write_staged(series_ds *s)
{
    if (s->staged == 0)
        return 0;
    hsize_t start[TM_SERIES_RANK] = {s->dims[0], 0, 0, 0};
    hsize_t count[TM_SERIES_RANK] = {s->staged, s->dims[1], s->dims[2], s->dims[3]};
    hsize_t grown[TM_SERIES_RANK] = {s->dims[0] + s->staged, s->dims[1], s->dims[2], s->dims[3]};
    if (H5Dset_extent(s->dset, grown) < 0)
        return -1;
    int whole = series_write_chunk(s);
    if (whole < 0)
        return -1;
    if (whole) {
        s->dims[0] = grown[0];
        s->staged = 0;
        return 0;
    }
    hid_t fspace = H5Dget_space(s->dset);
    hid_t mspace = H5Screate_simple(s->rank, count, NULL);
    int rc = fspace < 0 || mspace < 0 || H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
             H5Dwrite(s->dset, s->mem_type, mspace, fspace, H5P_DEFAULT, s->stage) < 0;
    if (mspace >= 0)
        H5Sclose(mspace);
    if (fspace >= 0)
        H5Sclose(fspace);
    if (rc)
        return -1;
    s->dims[0] = grown[0];
    s->staged = 0;
    return 0;
}

/* Append one period: hashed now (the digest follows append order),
 * written when a chunk's worth is staged. */
static int series_append(const tm_params *p, series_ds *s, const void *data)
{
    if (!s->stage) {
        s->stage_cap = tm_output_chunk_rows(p, s->slab_bytes);
        s->stage = malloc((size_t)s->stage_cap * (s->slab_bytes ? s->slab_bytes : 1));
        if (!s->stage)
            return -1;
    }
    memcpy(s->stage + (size_t)s->staged * s->slab_bytes, data, s->slab_bytes);
    s->staged++;
    tm_sha256_update(&s->sha, data, s->slab_bytes);
    return s->staged == s->stage_cap ? series_write_staged(s) : 0;
}

int tm_output_write_staged(tm_output *o, tm_error *err)
{
    for (int i = 0; i < o->n_series; i++)
        if (series_write_staged(&o->series[i]))
            return tm_error_set(err, TM_ERR_RUNTIME, "%s: writing %s failed (disk full?)", o->tmp_path,
                                o->series[i].name);
    return 0;
}

/* Productivity indices are stored in one byte when the grid has at most
 * 256 points, else in two (byte-shuffled). */
static int panel_z_bytes(const tm_params *p)
{
    return p->grid_points <= 256 ? 1 : 2;
}

static int panel_create(tm_output *o, hid_t group, int s, tm_error *err)
{
    const tm_sector *sec = &o->p->sector[s];
    panel_ds *pd = &o->panels[s];
    pd->n = (hsize_t)tm_params_slots(o->p, s);
    pd->z_bytes = panel_z_bytes(o->p);
    hid_t g = H5Gcreate2(group, sec->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot create panel group %s", o->tmp_path, sec->name);
    hsize_t dims[2] = {0, pd->n}, maxdims[2] = {H5S_UNLIMITED, pd->n};
    hsize_t chunk[2] = {1, pd->n < TM_PANEL_CHUNK ? pd->n : TM_PANEL_CHUNK};
    hid_t space = H5Screate_simple(2, dims, maxdims);
    /* Byte datasets: deflate only (shuffling one-byte elements does
     * nothing). Two-byte indices: shuffle, then deflate. write_panel
     * produces exactly what these pipelines would. */
    hid_t bytes_dcpl = H5Pcreate(H5P_DATASET_CREATE), wide_dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(bytes_dcpl, 2, chunk);
    H5Pset_deflate(bytes_dcpl, 1);
    H5Pset_fletcher32(bytes_dcpl);
    H5Pset_chunk(wide_dcpl, 2, chunk);
    H5Pset_shuffle(wide_dcpl);
    H5Pset_deflate(wide_dcpl, 1);
    H5Pset_fletcher32(wide_dcpl);
    if (pd->z_bytes == 1)
        pd->z = H5Dcreate2(g, "z_index", H5T_STD_U8LE, space, H5P_DEFAULT, bytes_dcpl, H5P_DEFAULT);
    else
        pd->z = H5Dcreate2(g, "z_index", H5T_STD_U16LE, space, H5P_DEFAULT, wide_dcpl, H5P_DEFAULT);
    pd->markets = H5Dcreate2(g, "markets", H5T_STD_U8LE, space, H5P_DEFAULT, bytes_dcpl, H5P_DEFAULT);
    pd->type = -1;
    if (o->p->n_types > 1) {
        pd->type = H5Dcreate2(g, "type", H5T_STD_U8LE, space, H5P_DEFAULT, bytes_dcpl, H5P_DEFAULT);
        if (pd->type < 0 ||
            tm_h5_strings_describe(&o->strings, pd->type, "type index",
                                   "firm's demand type (row of /dimensions/type_multipliers); [period, slot]")) {
            H5Pclose(bytes_dcpl);
            H5Pclose(wide_dcpl);
            H5Sclose(space);
            H5Gclose(g);
            return tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot create panel datasets", o->tmp_path);
        }
    }
    H5Pclose(bytes_dcpl);
    H5Pclose(wide_dcpl);
    H5Sclose(space);
    int rc = pd->z < 0 || pd->markets < 0 ||
             tm_h5_strings_describe(&o->strings, pd->z, "grid index",
                                    "firm log-productivity as an index into /grid/z[sector]; [period, slot]") ||
             tm_h5_strings_describe(
                 &o->strings, pd->markets, "bit mask",
                 "markets served: bit d = destination d (see /dimensions/destinations); bit 7 = firm born this "
                 "period; [period, slot]");
    H5Gclose(g);
    tm_sha256_init(&pd->z_sha);
    tm_sha256_init(&pd->m_sha);
    tm_sha256_init(&pd->t_sha);
    if (rc)
        return tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot create panel datasets", o->tmp_path);
    return 0;
}

void tm_output_free_handle(tm_output *o)
{
    if (!o)
        return;
    tm_h5_strings_close(&o->strings);
    free(o->final_path);
    free(o->tmp_path);
    free(o->panels);
    free(o->event_index);
    free(o->event_period);
    free(o);
}

/* A new output handle with its arrays, no file open yet; NULL when out of
 * memory. Shared by a fresh run and a resumed one. */
tm_output *tm_output_new_handle(const tm_params *p, const tm_run *run, const char *path, const char *tmp_path,
                                int panel, int force)
{
    tm_output *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->file = -1;
    o->image_fd = -1;
    o->p = p;
    o->panel = panel;
    o->force = force;
    o->threads = tm_run_threads(run);
    o->final_path = strdup(path);
    o->tmp_path = strdup(tmp_path);
    o->event_index = malloc((size_t)(p->n_events + 1) * sizeof(int));
    o->event_period = malloc((size_t)(p->n_events + 1) * sizeof(int));
    o->panels = calloc((size_t)p->n_sectors, sizeof *o->panels);
    if (!o->final_path || !o->tmp_path || !o->event_index || !o->event_period || !o->panels ||
        tm_h5_strings_open(&o->strings)) {
        tm_output_free_handle(o);
        return NULL;
    }
    return o;
}

static void close_name_scales(tm_output *o)
{
    for (int k = 0; k < 3; k++) {
        if (o->name_scales[k] > 0)
            H5Dclose(o->name_scales[k]);
        o->name_scales[k] = 0;
    }
}

void tm_output_close_handles(tm_output *o)
{
    for (int i = 0; i < o->n_series; i++) {
        if (o->series[i].dset >= 0)
            H5Dclose(o->series[i].dset);
        free(o->series[i].stage);
        o->series[i].stage = NULL;
        o->series[i].staged = 0;
    }
    o->n_series = 0;
    if (o->panels)
        for (int s = 0; s < o->p->n_sectors; s++) {
            if (o->panels[s].z > 0)
                H5Dclose(o->panels[s].z);
            if (o->panels[s].markets > 0)
                H5Dclose(o->panels[s].markets);
            if (o->panels[s].type > 0)
                H5Dclose(o->panels[s].type);
            o->panels[s].z = o->panels[s].markets = o->panels[s].type = 0;
        }
    close_name_scales(o);
    if (o->file >= 0)
        H5Fclose(o->file);
    o->file = -1;
    if (o->image_fd >= 0)
        close(o->image_fd);
    o->image_fd = -1;
    if (o->label_type > 0)
        H5Tclose(o->label_type);
    o->label_type = 0;
}

void tm_output_keep_partial(tm_output *o)
{
    if (!o)
        return;
    /* HDF5's descriptor is pointed at a read-only one of the same file
     * (or /dev/null): whatever HDF5 still holds (metadata and chunks not
     * flushed) cannot be written while closing, so the file stays as the
     * last checkpoint's flush left it plus unreferenced bytes, as after a
     * SIGKILL. */
    int *fd = NULL;
    if (o->file >= 0 && H5Fget_vfd_handle(o->file, H5P_DEFAULT, (void **)&fd) >= 0 && fd && *fd >= 0) {
        int ro = open(o->tmp_path, O_RDONLY | O_CLOEXEC);
        if (ro < 0)
            ro = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (ro >= 0) {
            dup2(ro, *fd);
            close(ro);
        }
    }
    tm_output_close_handles(o);
    tm_output_free_handle(o);
}

void tm_output_discard(tm_output *o)
{
    if (!o)
        return;
    tm_output_close_handles(o);
    unlink(o->tmp_path);
    tm_output_free_handle(o);
}

static const char *set_name(int S, const tm_params *p, char *buf, size_t size)
{
    if (S == 0) {
        snprintf(buf, size, "none");
        return buf;
    }
    size_t used = 0;
    buf[0] = '\0';
    for (int d = 0; d < p->n_dest; d++)
        if (S >> d & 1)
            used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? "+" : "", p->dest[d].name);
    return buf;
}

/* /policy: what a forward-looking model solved at the start of the run
 * (cut-offs [sector, joint regime, destination] and solve statistics).
 * The wall time is not reproducible, so it stays out of the digest. */
static int write_policy(const tm_h5_strings *st, hid_t f, const tm_params *p, const tm_run *run, tm_sha256 *sha)
{
    const void *state;
    const tm_model_ops *model = tm_run_model(run, &state);
    if (!model->summary)
        return 0;
    tm_policy_summary sum;
    model->summary(state, 0, &sum);
    size_t S = (size_t)p->n_sectors, J = (size_t)sum.n_joint, D = (size_t)p->n_dest, cells = S * J * D;
    double *entry = malloc(cells * sizeof(double)), *exit_ = malloc(cells * sizeof(double));
    double *residual = malloc(S * sizeof(double)), *seconds = malloc(S * sizeof(double));
    int *iterations = malloc(S * sizeof(int));
    hid_t g = H5Gcreate2(f, "policy", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = !entry || !exit_ || !residual || !seconds || !iterations || g < 0;
    for (size_t s = 0; s < S && !rc; s++) {
        model->summary(state, (int)s, &sum);
        memcpy(entry + s * J * D, sum.entry_cutoff, J * D * sizeof(double));
        memcpy(exit_ + s * J * D, sum.exit_cutoff, J * D * sizeof(double));
        iterations[s] = sum.iterations;
        residual[s] = sum.residual;
        seconds[s] = sum.seconds;
    }
    hsize_t dims[3] = {(hsize_t)S, (hsize_t)J, (hsize_t)D};
    rc = rc || write_array(st, g, "entry_cutoff", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, dims, entry,
                           cells * sizeof(double), "log productivity",
                           "lowest grid z at which a firm serving nothing enters d, at the "
                           "start of the run [sector, joint regime, destination]; inf: never",
                           sha);
    rc = rc || write_array(st, g, "exit_cutoff", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, dims, exit_,
                           cells * sizeof(double), "log productivity",
                           "lowest grid z at which a firm serving only d keeps d (below it, it "
                           "exits) [sector, joint regime, destination]; inf: never",
                           sha);
    rc = rc ||
         write_array(st, g, "solve_iterations", H5T_STD_I32LE, H5T_NATIVE_INT, 1, dims, iterations, S * sizeof(int),
                     "iterations", "value-iteration sweeps of the stationary solve [sector]", sha);
    rc = rc || write_array(st, g, "solve_residual", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, residual,
                           S * sizeof(double), "model money", "sup-norm error bound of the solved value [sector]", sha);
    rc = rc || write_array(st, g, "solve_seconds", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, seconds,
                           S * sizeof(double), "s", "wall time of the first solve [sector]; not in the digest", NULL);
    if (g >= 0)
        H5Gclose(g);
    free(entry);
    free(exit_);
    free(residual);
    free(seconds);
    free(iterations);
    return rc ? -1 : 0;
}

/* Static datasets: dimension names, grids, parameters. Hashed into `sha`. */
static int write_static(tm_output *o, const tm_run *run, tm_sha256 *sha)
{
    const tm_params *p = o->p;
    hid_t f = o->file;
    const tm_h5_strings *st = &o->strings;
    int n_sets = 1 << p->n_dest;
    const char *names[4096];
    hid_t dims = H5Gcreate2(f, "dimensions", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (dims < 0)
        return -1;
    int rc = 0;
    for (int s = 0; s < p->n_sectors; s++)
        names[s] = p->sector[s].name;
    rc |= write_strings(st, dims, "sectors", names, (hsize_t)p->n_sectors, "sector names, in parameter order", sha,
                        &o->name_scales[0]);
    for (int d = 0; d < p->n_dest; d++)
        names[d] = p->dest[d].name;
    rc |= write_strings(st, dims, "destinations", names, (hsize_t)p->n_dest, "destination names; bit d of a market set",
                        sha, &o->name_scales[1]);
    char set_buf[64][96];
    for (int S = 0; S < n_sets; S++)
        names[S] = set_name(S, p, set_buf[S], sizeof set_buf[S]);
    rc |= write_strings(st, dims, "market_sets", names, (hsize_t)n_sets, "market set names by bit mask", sha,
                        &o->name_scales[2]);
    if (p->experience.levels > 1) {
        /* State m holds level (m / (K+1)^d) mod (K+1) in destination d. */
        int K1 = p->experience.levels + 1, n_states = tm_params_n_states(p);
        if (n_states > TM_MAX_STATES)
            n_states = TM_MAX_STATES;
        char *state_buf = malloc((size_t)TM_MAX_STATES * 160);
        if (!state_buf)
            n_states = 0, rc = 1;
        for (int m = 0; m < n_states; m++) {
            char *buf = state_buf + (size_t)m * 160;
            size_t used = 0;
            buf[0] = '\0';
            for (int d = 0, rest = m; d < p->n_dest && used < 160; d++, rest /= K1)
                if (rest % K1)
                    used += (size_t)snprintf(buf + used, 160 - used, "%s%s:%d", used ? "+" : "", p->dest[d].name,
                                             rest % K1);
            names[m] = used ? buf : "none";
        }
        rc |= write_strings(st, dims, "market_states", names, (hsize_t)n_states,
                            "market states (destination:experience level) by state index m = sum_d level_d (K+1)^d; "
                            "the panel's markets byte holds m",
                            sha, NULL);
        free(state_buf);
    }
    if (p->n_types > 1) {
        double *mult = malloc((size_t)p->n_types * (size_t)p->n_dest * sizeof(double));
        rc |= !mult;
        for (int t = 0; mult && t < p->n_types; t++)
            for (int d = 0; d < p->n_dest; d++)
                mult[(size_t)t * (size_t)p->n_dest + (size_t)d] = tm_demand_types_multiplier(tm_run_demand_types(run),
                                                                                             t, d);
        hsize_t td[2] = {(hsize_t)p->n_types, (hsize_t)p->n_dest};
        if (mult)
            rc |= write_array(st, dims, "type_multipliers", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, td, mult,
                              (size_t)p->n_types * (size_t)p->n_dest * sizeof(double), "",
                              "demand multiplier of each firm-by-destination demand type [type, destination]", sha);
        free(mult);
    }
    hid_t regimes = H5Gcreate2(dims, "regimes", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    for (int d = 0; d < p->n_dest && regimes >= 0; d++) {
        for (int r = 0; r < p->dest[d].n_regimes; r++)
            names[r] = p->dest[d].regime[r].name;
        rc |= write_strings(st, regimes, p->dest[d].name, names, (hsize_t)p->dest[d].n_regimes,
                            "regime names of this destination, least restrictive first", sha, NULL);
    }
    if (regimes >= 0)
        H5Gclose(regimes);
    H5Gclose(dims);

    int n_z = tm_run_grid_size(run);
    double *grid = malloc((size_t)p->n_sectors * (size_t)n_z * sizeof(double));
    if (!grid)
        return -1;
    for (int s = 0; s < p->n_sectors; s++)
        memcpy(grid + (size_t)s * (size_t)n_z, tm_run_z_grid(run, s), (size_t)n_z * sizeof(double));
    hid_t g = H5Gcreate2(f, "grid", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t gd[2] = {(hsize_t)p->n_sectors, (hsize_t)n_z};
    rc |= g < 0 || write_array(st, g, "z", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, gd, grid,
                               (size_t)p->n_sectors * (size_t)n_z * sizeof(double), "log productivity",
                               "productivity grid points [sector, index]", sha);
    free(grid);
    if (g >= 0)
        H5Gclose(g);
    rc |= write_policy(&o->strings, f, p, run, sha);

    const char *text = p->canonical;
    hid_t d = H5Dcreate2(f, "parameters", st->type, st->scalar, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    rc |= d < 0 || H5Dwrite(d, st->type, H5S_ALL, H5S_ALL, st->small, &text) < 0 ||
          tm_h5_strings_describe(st, d, "", "canonical resolved parameters (YAML); `tradeabm run` accepts this text");
    if (d >= 0) {
        rc |= tm_h5_strings_attr(st, d, "sha256", p->sha256);
        H5Dclose(d);
    }
    return rc ? -1 : 0;
}

/* Keep dirty metadata in memory until an explicit flush (a checkpoint) or
 * the close: a run killed between checkpoints then leaves the file's
 * metadata as the last checkpoint wrote it, plus unreferenced bytes at its
 * end, and --resume carries on from there. */
void tm_output_hold_metadata(hid_t file)
{
    H5AC_cache_config_t mdc;
    memset(&mdc, 0, sizeof mdc);
    mdc.version = H5AC__CURR_CACHE_CONFIG_VERSION;
    if (H5Fget_mdc_config(file, &mdc) < 0)
        return;
    mdc.evictions_enabled = 0;
    mdc.incr_mode = H5C_incr__off;
    mdc.flash_incr_mode = H5C_flash_incr__off;
    mdc.decr_mode = H5C_decr__off;
    H5Fset_mdc_config(file, &mdc);
}

/* HDF5 dimension scales, so h5py and xarray see labelled axes: the period
 * labels, sector, destination and market-set names are the scales of the
 * series' axes. Attributes only: the data, and so the digest, are
 * unchanged. Axes: t period, s sector, d destination, m market set, `.`
 * none (a grid or a length).
 *
 * The attributes are those of HDF5's high-level dimension-scale library
 * (H5DS), which every reader of scales goes through: CLASS and NAME on a
 * scale (H5DSset_scale); on a dataset, DIMENSION_LIST, per axis a
 * variable-length list of references to its scales; on a scale,
 * REFERENCE_LIST, the (dataset, axis) pairs attached to it, in the order
 * they were attached. They are written here once per object:
 * H5DSattach_scale reads, deletes and rewrites both lists at every one of
 * the 41 attachments, a quarter of a short run's output. */
typedef struct {
    hobj_ref_t dataset;
    int axis; /* H5DS's ds_list_t: a reference, then the axis as a native int */
} scale_user;

/* A 1-D attribute of n elements of `type` on the open object `obj`. */
static int list_attribute(hid_t obj, const char *name, hid_t type, hsize_t n, const void *data)
{
    hid_t space = H5Screate_simple(1, &n, NULL);
    hid_t a = space < 0 ? -1 : H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a < 0 || H5Awrite(a, type, data) < 0;
    if (a >= 0)
        H5Aclose(a);
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

/* The open series dataset at `path` (group/name; series names are
 * unique across groups), or -1 when the run does not write it. */
static hid_t open_series(const tm_output *o, const char *path)
{
    const char *name = strrchr(path, '/') + 1;
    for (int i = 0; i < o->n_series; i++)
        if (strcmp(o->series[i].name, name) == 0)
            return o->series[i].dset;
    return -1;
}

/* Objects are reached through handles already open (the series) or opened
 * once (the name lists): looking each one up by its path again, for the
 * reference, the test of existence and the attribute, cost a quarter of
 * the attributes' instructions. */
static int attach_scales(const tm_output *o)
{
    static const struct {
        const char *path, *name;
    } scales[] = {{"periods/label", "period"},
                  {"dimensions/sectors", "sector"},
                  {"dimensions/destinations", "destination"},
                  {"dimensions/market_sets", "market_set"}};
    static const struct {
        const char *path, *axes;
    } series[] = {
        {"series/firms_serving", "tsd"},
        {"series/entrants", "tsd"},
        {"series/exiters", "tsd"},
        {"series/export_value", "tsd"},
        {"series/tariff_paid", "tsd"},
        {"series/mean_log_productivity", "tsd"},
        {"series/top10_share", "tsd"},
        {"series/entrant_export_value", "tsd"},
        {"series/firms_by_market_set", "tsm"},
        {"series/deaths", "ts"},
        {"series/non_us_share", "t"},
        {"series/exporters_by_level", "tsd."},
        {"series/completed_spells", "tsd."},
        {"series/firms_by_productivity_and_set", "ts.m"},
        {"series/firms_by_type_productivity_and_set", "ts.m"},
        {"environment/regime", "td"},
        {"environment/tariff", "tsd"},
        {"environment/statutory_tariff", "tsd"},
    };
    enum { N_SCALES = sizeof scales / sizeof scales[0], N_SERIES = sizeof series / sizeof series[0] };
    hobj_ref_t scale_ref[N_SCALES];
    scale_user users[N_SCALES][N_SERIES]; /* a series uses a scale on one axis at most */
    int n_users[N_SCALES] = {0};
    hid_t ref_list = H5Tvlen_create(H5T_STD_REF_OBJ), user_type = H5Tcreate(H5T_COMPOUND, sizeof(scale_user));
    int rc = ref_list < 0 || user_type < 0 ||
             H5Tinsert(user_type, "dataset", HOFFSET(scale_user, dataset), H5T_STD_REF_OBJ) < 0 ||
             H5Tinsert(user_type, "dimension", HOFFSET(scale_user, axis), H5T_NATIVE_INT) < 0;
    hid_t scale[N_SCALES];
    for (int k = 0; k < N_SCALES && !rc; k++) {
        /* The period labels are a series; write_static kept the name
         * lists open. */
        scale[k] = k == 0 ? open_series(o, scales[k].path) : o->name_scales[k - 1];
        rc |= scale[k] < 0 || H5DSset_scale(scale[k], scales[k].name) < 0 ||
              H5Rcreate(&scale_ref[k], scale[k], ".", H5R_OBJECT, -1) < 0;
    }
    for (int i = 0; i < N_SERIES && !rc; i++) {
        hid_t d = open_series(o, series[i].path);
        if (d < 0)
            continue;
        hobj_ref_t self;
        hvl_t axes[TM_SERIES_RANK];
        hsize_t rank = strlen(series[i].axes);
        rc |= H5Rcreate(&self, d, ".", H5R_OBJECT, -1) < 0;
        for (hsize_t axis = 0; axis < rank; axis++) {
            const char *which = strchr("tsdm", series[i].axes[axis]);
            axes[axis].len = 0;
            axes[axis].p = NULL;
            if (!which)
                continue;
            int k = (int)(which - "tsdm");
            axes[axis].len = 1;
            axes[axis].p = &scale_ref[k];
            users[k][n_users[k]++] = (scale_user){self, (int)axis};
        }
        rc |= list_attribute(d, "DIMENSION_LIST", ref_list, rank, axes);
    }
    for (int k = 0; k < N_SCALES && !rc; k++) {
        if (n_users[k] > 0)
            rc |= list_attribute(scale[k], "REFERENCE_LIST", user_type, (hsize_t)n_users[k], users[k]);
    }

    if (ref_list >= 0)
        H5Tclose(ref_list);
    if (user_type >= 0)
        H5Tclose(user_type);
    return rc ? -1 : 0;
}

int tm_output_open(const char *path, const tm_params *p, const tm_run *run, const tm_output_options *opts,
                   tm_output **out, tm_error *err)
{
    tm_h5_quiet();
    *out = NULL;
    if (p->exact && opts && opts->panel)
        return tm_error_set(err, TM_ERR_INPUT,
                            "--panel: run.aggregation: exact follows the distribution of firms, "
                            "not single firms, so there is no firm panel; drop --panel or use "
                            "run.aggregation: firms");
    /* Crash safety of checkpoints: with checkpoints, freed file space is
     * never reused, so the bytes a checkpoint's metadata points to are never
     * overwritten (docs/reliability.md). */
    const int checkpoints = opts && opts->checkpoints, panel = opts && opts->panel;
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE), fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (checkpoints)
        H5Pset_file_space_strategy(fcpl, H5F_FSPACE_STRATEGY_NONE, 0, (hsize_t)1);
    /* Smaller B-tree nodes: a group's node held 32 entries and a chunked
     * dataset's 64 (about 3 KiB each, written whole), for groups of a few
     * links and series of a few chunks; nearly half a short run's file was
     * such nodes. A panel has many chunks a dataset and keeps the default. */
    H5Pset_sym_k(fcpl, TM_GROUP_BTREE_K, 0);
    if (!panel)
        H5Pset_istore_k(fcpl, TM_CHUNK_BTREE_K);
    /* Without a panel or checkpoints the file is small and only needs to
     * be on disk once closed: it is built in memory (HDF5's core driver,
     * no backing file) and its image written at the close, in one write,
     * into a temporary created here (which reserves the name and finds an
     * unwritable folder now, not after the run). A panel can be
     * gigabytes; checkpoints flush a consistent file to disk as the run
     * goes and take HDF5's descriptor (tm_output_keep_partial). */
    const int in_memory = !panel && !checkpoints;
    char stem[4200], tmp[4300];
    tm_tmpfile_stem(path, stem, sizeof stem);
    int image_fd = -1;
    hid_t file = -1;
    if (in_memory) {
        H5Pset_fapl_core(fapl, TM_CORE_INCREMENT, 0);
        image_fd = tm_tmpfile_create(stem, tmp, sizeof tmp, err);
        file = image_fd < 0 ? -1 : H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, fapl);
        if (image_fd >= 0 && file < 0) {
            close(image_fd);
            unlink(tmp);
            tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot create the file in memory (HDF5 error)", tmp);
        }
    } else
        file = tm_h5_create_temp(stem, tmp, sizeof tmp, fcpl, fapl, err);
    H5Pclose(fapl);
    H5Pclose(fcpl);
    if (file < 0)
        return -1;
    tm_output *o = tm_output_new_handle(p, run, path, tmp, panel, opts && opts->force);
    if (!o) {
        H5Fclose(file);
        if (image_fd >= 0)
            close(image_fd);
        unlink(tmp);
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    }
    o->file = file;
    o->image_fd = image_fd;
    o->checkpoints = checkpoints;
    /* The run began before this file: its set-up and solve count in the
     * wall time and the start time. */
    double now = tm_clock_seconds();
    o->started = opts && opts->started > 0 && opts->started <= now ? opts->started : now;
    o->wall_out = opts ? opts->wall_seconds : NULL;
    iso_before_now(now - o->started, o->start_time, sizeof o->start_time);
    if (checkpoints)
        tm_output_hold_metadata(o->file);
    hid_t series = H5Gcreate2(o->file, "series", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t envg = H5Gcreate2(o->file, "environment", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t periods = H5Gcreate2(o->file, "periods", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t S = (hsize_t)p->n_sectors, D = (hsize_t)p->n_dest, NS = (hsize_t)1 << p->n_dest;
    int rc = series < 0 || envg < 0 || periods < 0;
    /* Counts of firms: integers, or expected numbers with run.aggregation:
     * exact, or slots weighted by 1 / run.resolution. */
    const int fractional = tm_params_fractional_counts(p);
    hid_t cf = fractional ? H5T_IEEE_F64LE : H5T_STD_I64LE, cm = fractional ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64;
    const char *firms = p->exact ? "firms (expected)" : fractional ? "firms (weighted slots)" : "firms";
    /* One creation property list for every series: shuffle, deflate,
     * Fletcher-32 (HDF5 verifies every chunk it reads); each series sets
     * its own chunk shape on it. */
    o->series_dcpl = H5Pcreate(H5P_DATASET_CREATE);
    rc = rc || o->series_dcpl < 0 || H5Pset_shuffle(o->series_dcpl) < 0 || H5Pset_deflate(o->series_dcpl, 1) < 0 ||
         H5Pset_fletcher32(o->series_dcpl) < 0;
    /* The order here is the order of the digest. */
    /* Fixed-length labels, so the digest can hash them as bytes. */
    o->label_type = H5Tcopy(H5T_C_S1);
    H5Tset_size(o->label_type, TM_LABEL_MAX);
    rc = rc ||
         series_create(o, periods, "label", o->label_type, o->label_type, 1, 0, 0, "", "period label (2024Q1, ...)");
    rc = rc || series_create(o, series, "firms_serving", cf, cm, 3, S, D, firms,
                             "firms serving the destination [period, sector, destination]");
    rc = rc || series_create(o, series, "entrants", cf, cm, 3, S, D, firms,
                             "firms that started serving the destination this period");
    rc = rc || series_create(o, series, "exiters", cf, cm, 3, S, D, firms,
                             "firms that stopped serving the destination this period (deaths included)");
    rc = rc || series_create(o, series, "export_value", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, S, D, "model money",
                             "producer revenue from the destination");
    rc = rc || series_create(o, series, "tariff_paid", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, S, D, "model money",
                             "ad-valorem tariff on the customs (producer) value");
    rc = rc || series_create(o, series, "mean_log_productivity", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, S, D,
                             "log productivity", "mean log productivity of the destination's exporters (NaN if none)");
    rc = rc || series_create(o, series, "top10_share", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, S, D, "fraction",
                             "share of export value of the largest 10% of the destination's exporters");
    rc = rc || series_create(o, series, "firms_by_market_set", cf, cm, 3, S, NS, firms,
                             "firms serving each market set [period, sector, set] (names in /dimensions/market_sets)");
    rc = rc || series_create(o, series, "deaths", cf, cm, 2, S, 0, firms,
                             "firms that died and were replaced by entrants [period, sector]");
    rc = rc || series_create(o, series, "non_us_share", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, 0, 0, "fraction",
                             "economy-wide share of export value going to destinations other than US");
    rc = rc || series_create(o, envg, "regime", H5T_STD_I32LE, H5T_NATIVE_INT, 2, D, 0, "regime index",
                             "regime in force [period, destination] (names in /dimensions/regimes)");
    rc = rc || series_create(o, envg, "tariff", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, S, D, "fraction",
                             "ad-valorem tariff in force [period, sector, destination]");
    rc = rc ||
         series_create4(o, series, "firms_by_productivity_and_set", cf, cm, 4, S, (hsize_t)tm_run_grid_size(run), NS,
                        firms, "firms by productivity grid index (/grid/z) and market set [period, sector, z, set]");
    rc = rc || series_create4(
                   o, series, "exporters_by_level", cf, cm, 4, S, D, (hsize_t)p->experience.levels, firms,
                   "firms serving the destination at each experience level [period, sector, destination, level 1..K]");
    rc = rc ||
         series_create(o, series, "entrant_export_value", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, S, D, "model money",
                       "export value of firms in the first period of a spell in the destination (new exporters)");
    if (p->n_types > 1)
        rc = rc || series_create4(o, series, "firms_by_type_productivity_and_set", cf, cm, 4, S,
                                  (hsize_t)p->n_types * (hsize_t)tm_run_grid_size(run), NS, firms,
                                  "firms by demand type and productivity grid index (index type * n_z + z) and market "
                                  "set [period, sector, type * n_z + z, set]; /dimensions/type_multipliers gives each "
                                  "type's demand multipliers");
    if (p->spells)
        rc = rc || series_create4(
                       o, series, "completed_spells", H5T_STD_I64LE, H5T_NATIVE_INT64, 4, S, D, TM_SPELL_MAX, "spells",
                       "export spells that ended this period (exit or death) by length in periods [period, sector, "
                       "destination, length]; index 0 unused, the last index counts longer spells");
    if (tm_params_has_statutory(p))
        rc = rc || series_create(o, envg, "statutory_tariff", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, S, D, "fraction",
                                 "statutory ad-valorem tariff beside the effective one in /environment/tariff "
                                 "[period, sector, destination]; reporting only");
    if (tm_fx_on(p))
        rc = rc || series_create(o, envg, "exchange_rate", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, 0, 0, "index",
                                 "real exchange rate e_t, home currency per unit of foreign currency, 1 = the last "
                                 "burn-in period's exports (docs/model.md section 11); a rise is a depreciation");
    if (o->series_dcpl > 0)
        H5Pclose(o->series_dcpl);
    o->series_dcpl = 0;
    if (series >= 0)
        H5Gclose(series);
    if (envg >= 0)
        H5Gclose(envg);
    if (periods >= 0)
        H5Gclose(periods);
    tm_sha256_init(&o->static_sha);
    if (!rc && write_static(o, run, &o->static_sha))
        rc = 1;
    if (!rc && attach_scales(o))
        rc = 1;
    close_name_scales(o);
    if (!rc && o->panel) {
        hid_t pg = H5Gcreate2(o->file, "panel", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        rc = pg < 0;
        for (int s = 0; s < p->n_sectors && !rc; s++)
            rc = panel_create(o, pg, s, err) != 0;
        if (pg >= 0)
            H5Gclose(pg);
    }
    if (rc) {
        if (!err || err->status == TM_OK || !err->msg[0])
            tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot create datasets", o->tmp_path);
        tm_output_discard(o);
        return -1;
    }
    *out = o;
    return 0;
}

/* The stored bytes of one panel chunk, as the dataset's filter pipeline
 * sees them before deflate: z_index narrowed to one byte, or byte-shuffled
 * when two bytes wide; markets as they are. The last chunk of a sector is
 * zero-padded to the full chunk. Returns the bytes to deflate (src itself
 * when nothing needs rearranging) and sets *raw to the chunk's n stored
 * elements in their stored type, which is what is fingerprinted. */
static const unsigned char *panel_chunk_bytes(const tm_run *run, int sector, int which, int z_bytes, hsize_t offset,
                                              size_t n, size_t chunk_elems, unsigned char *scratch, unsigned char *wide,
                                              const unsigned char **raw)
{
    if (which >= 1) {
        const unsigned char *src = (which == 1 ? tm_run_firm_markets(run, sector) : tm_run_firm_type(run, sector)) +
                                   offset;
        *raw = src;
        if (n == chunk_elems)
            return src;
        memcpy(scratch, src, n);
        memset(scratch + n, 0, chunk_elems - n);
        return scratch;
    }
    const uint16_t *z = tm_run_firm_z(run, sector) + offset;
    if (z_bytes == 1) {
        for (size_t i = 0; i < n; i++)
            scratch[i] = (unsigned char)z[i];
        memset(scratch + n, 0, chunk_elems - n);
        *raw = scratch;
        return scratch;
    }
    /* Two bytes, little-endian, shuffled: low bytes then high bytes. */
    unsigned char *lo = wide, *hi = wide + chunk_elems;
    for (size_t i = 0; i < n; i++) {
        lo[i] = (unsigned char)z[i];
        hi[i] = (unsigned char)(z[i] >> 8);
    }
    memset(lo + n, 0, chunk_elems - n);
    memset(hi + n, 0, chunk_elems - n);
    *raw = (const unsigned char *)z; /* native order: little-endian, as the digest assumes */
    return wide;
}

typedef struct {
    int sector;
    int which; /* 0: z, 1: markets, 2: type */
    hsize_t offset, n;
    unsigned char *buf;
    size_t len;
    uint8_t hash[16];
    int failed;
} chunk_job;

static hid_t panel_dset(const panel_ds *pd, int which)
{
    return which == 0 ? pd->z : which == 1 ? pd->markets : pd->type;
}

static tm_sha256 *panel_sha(panel_ds *pd, int which)
{
    return which == 0 ? &pd->z_sha : which == 1 ? &pd->m_sha : &pd->t_sha;
}

static int write_panel(tm_output *o, const tm_run *run, hsize_t period, tm_error *err)
{
    const tm_params *p = o->p;
    const int n_which = p->n_types > 1 ? 3 : 2;
    size_t n_jobs = 0;
    for (int s = 0; s < p->n_sectors; s++)
        n_jobs += (size_t)n_which * (size_t)((o->panels[s].n + TM_PANEL_CHUNK - 1) / TM_PANEL_CHUNK);
    chunk_job *jobs = calloc(n_jobs, sizeof *jobs);
    if (!jobs)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    size_t j = 0;
    for (int s = 0; s < p->n_sectors; s++)
        for (int which = 0; which < n_which; which++)
            for (hsize_t off = 0; off < o->panels[s].n; off += TM_PANEL_CHUNK) {
                jobs[j].sector = s;
                jobs[j].which = which;
                jobs[j].offset = off;
                jobs[j].n = o->panels[s].n - off < TM_PANEL_CHUNK ? o->panels[s].n - off : TM_PANEL_CHUNK;
                j++;
            }
    int threads = o->threads;
    /* Compression and hashing in parallel; HDF5 calls stay on one thread.
     * Chunks are deflated by tm_panel_deflate (one block of literals with a
     * Huffman code fitted to the chunk), which any zlib inflater reads and
     * which costs a fraction of zlib's deflate; see docs/performance.md. */
#pragma omp parallel num_threads(threads)
    {
        size_t cap = tm_panel_deflate_bound(TM_PANEL_CHUNK * 2);
        unsigned char *scratch = malloc(TM_PANEL_CHUNK), *wide = malloc(TM_PANEL_CHUNK * 2), *out = malloc(cap);
#pragma omp for schedule(dynamic, 1)
        for (size_t k = 0; k < n_jobs; k++) {
            chunk_job *job = &jobs[k];
            const panel_ds *pd = &o->panels[job->sector];
            size_t chunk_elems = (size_t)(pd->n < TM_PANEL_CHUNK ? pd->n : TM_PANEL_CHUNK);
            size_t elem = job->which == 0 ? (size_t)pd->z_bytes : 1;
            if (!scratch || !wide || !out) {
                job->failed = 1;
                continue;
            }
            const unsigned char *raw;
            const unsigned char *bytes = panel_chunk_bytes(run, job->sector, job->which, pd->z_bytes, job->offset,
                                                           (size_t)job->n, chunk_elems, scratch, wide, &raw);
            job->len = tm_panel_deflate(bytes, chunk_elems * elem, out, cap);
            job->buf = job->len ? malloc(job->len + 4) : NULL;
            if (!job->buf) {
                job->failed = 1;
                continue;
            }
            memcpy(job->buf, out, job->len);
            /* The Fletcher32 filter's part of the pipeline: its checksum
             * of the deflated bytes, least significant byte first. */
            unsigned long check = tm_panel_fletcher32(out, job->len);
            for (int b = 0; b < 4; b++)
                job->buf[job->len + (size_t)b] = (unsigned char)(check >> (8 * b));
            job->len += 4;
            tm_fingerprint(raw, (size_t)job->n * elem, job->hash);
        }
        free(scratch);
        free(wide);
        free(out);
    }
    int rc = 0;
    for (int s = 0; s < p->n_sectors; s++) {
        hsize_t dims[2] = {period + 1, o->panels[s].n};
        for (int which = 0; which < n_which; which++)
            if (H5Dset_extent(panel_dset(&o->panels[s], which), dims) < 0)
                rc = -1;
    }
    for (size_t k = 0; k < n_jobs && !rc; k++) {
        chunk_job *job = &jobs[k];
        panel_ds *pd = &o->panels[job->sector];
        hsize_t offset[2] = {period, job->offset};
        if (job->failed || H5Dwrite_chunk(panel_dset(pd, job->which), H5P_DEFAULT, 0, offset, job->len, job->buf) < 0) {
            rc = -1;
            break;
        }
        tm_sha256_update(panel_sha(pd, job->which), job->hash, sizeof job->hash);
    }
    for (size_t k = 0; k < n_jobs; k++)
        free(jobs[k].buf);
    free(jobs);
    if (rc)
        return tm_error_set(err, TM_ERR_RUNTIME, "%s: writing the firm panel failed (disk full?)", o->tmp_path);
    return 0;
}

int tm_output_period(tm_output *o, const tm_run *run, tm_error *err)
{
    const tm_period_result *r = tm_run_result(run);
    char label[TM_LABEL_MAX] = {0};
    snprintf(label, sizeof label, "%s", r->label);
    int regime[TM_MAX_DEST];
    for (int d = 0; d < o->p->n_dest; d++)
        regime[d] = r->regime[d];
    const int x = tm_params_fractional_counts(o->p); /* counts as doubles */
    const void *slabs[] = {label,
                           x ? (const void *)r->x_serving : r->serving,
                           x ? (const void *)r->x_entrants : r->entrants,
                           x ? (const void *)r->x_exiters : r->exiters,
                           r->export_value,
                           r->tariff_paid,
                           r->mean_log_productivity,
                           r->top10_share,
                           x ? (const void *)r->x_firms_by_set : r->firms_by_set,
                           x ? (const void *)r->x_deaths : r->deaths,
                           &r->non_us_share,
                           regime,
                           r->tariff,
                           x ? (const void *)r->x_firms_by_z_set : r->firms_by_z_set,
                           x ? (const void *)r->x_by_level : r->by_level,
                           r->entrant_value,
                           NULL,
                           NULL,
                           NULL,
                           NULL};
    /* The optional series, in the order tm_output_open created them. */
    int n_slabs = 16;
    if (o->p->n_types > 1)
        slabs[n_slabs++] = x ? (const void *)r->x_firms_by_type_z_set : r->firms_by_type_z_set;
    if (o->p->spells)
        slabs[n_slabs++] = r->spells;
    if (tm_params_has_statutory(o->p))
        slabs[n_slabs++] = r->statutory_tariff;
    if (tm_fx_on(o->p))
        slabs[n_slabs++] = &r->exchange_rate;
    hsize_t period = o->series[0].dims[0] + o->series[0].staged;
    for (int i = 0; i < o->n_series; i++)
        if (series_append(o->p, &o->series[i], slabs[i]))
            return tm_error_set(err, TM_ERR_RUNTIME, "%s: writing %s failed (disk full?)", o->tmp_path,
                                o->series[i].name);
    for (int e = 0; e < r->n_events; e++) {
        o->event_index[o->n_events] = r->events[e];
        o->event_period[o->n_events] = r->period;
        o->n_events++;
    }
    if (o->panel && write_panel(o, run, period, err))
        return -1;
    /* No flush here: flushing deflates every partly filled series chunk
     * again each period (13-28% of a run). The file is flushed at each
     * checkpoint (tm_output_save) and closed (complete, or incomplete
     * after a signal) at the end, which is when it must be consistent. */
    return 0;
}

/* The realised-events table: one row per event that took effect. */
typedef struct {
    int period;
    char label[TM_LABEL_MAX];
    char kind[16];
    char destination[TM_NAME_MAX];
    char sector[TM_NAME_MAX];
    char regime[TM_NAME_MAX];
    double value;
    char note[TM_NOTE_MAX];
} event_row;

static int write_events(tm_output *o, tm_sha256 *sha)
{
    static const char *const kinds[] = {"regime",    "tariff",     "escalation",    "release",
                                        "sunk_cost", "transition", "perceived",     "demand",
                                        "iceberg",   "fixed_cost", "demand_growth", "hazard_index"};
    hsize_t n = (hsize_t)o->n_events;
    event_row *rows = calloc(n ? n : 1, sizeof *rows);
    if (!rows)
        return -1;
    for (hsize_t i = 0; i < n; i++) {
        const tm_event *ev = &o->p->event[o->event_index[i]];
        event_row *row = &rows[i];
        row->period = o->event_period[i];
        snprintf(row->label, sizeof row->label, "%s", ev->at);
        snprintf(row->kind, sizeof row->kind, "%s", kinds[ev->kind]);
        snprintf(row->destination, sizeof row->destination, "%s", ev->destination_name);
        snprintf(row->sector, sizeof row->sector, "%s", ev->sector >= 0 ? ev->sector_name : "");
        snprintf(row->regime, sizeof row->regime, "%s", ev->regime_name);
        row->value = ev->kind == TM_EVENT_TARIFF       ? ev->tariff
                     : ev->kind == TM_EVENT_ESCALATION ? ev->escalation_scale
                     : ev->kind == TM_EVENT_SUNK_COST  ? ev->sunk_cost_scale
                     : ev->kind == TM_EVENT_PERCEIVED  ? ev->perceived_escalation_scale
                     : ev->kind == TM_EVENT_DEMAND     ? ev->demand_factor
                     : ev->kind == TM_EVENT_ICEBERG    ? ev->iceberg_scale
                     : ev->kind == TM_EVENT_FIXED_COST ? ev->fixed_cost_scale
                     : ev->kind == TM_EVENT_GROWTH     ? ev->demand_growth
                     : ev->kind == TM_EVENT_HAZARD     ? ev->escalation_hazard
                                                       : NAN;
        snprintf(row->note, sizeof row->note, "%s", ev->note);
    }
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(event_row));
    hid_t s16 = H5Tcopy(H5T_C_S1), s32 = H5Tcopy(H5T_C_S1), snote = H5Tcopy(H5T_C_S1), skind = H5Tcopy(H5T_C_S1);
    H5Tset_size(s16, TM_LABEL_MAX);
    H5Tset_size(skind, 16);
    H5Tset_size(s32, TM_NAME_MAX);
    H5Tset_size(snote, TM_NOTE_MAX);
    H5Tinsert(t, "period", HOFFSET(event_row, period), H5T_NATIVE_INT);
    H5Tinsert(t, "label", HOFFSET(event_row, label), s16);
    H5Tinsert(t, "kind", HOFFSET(event_row, kind), skind);
    H5Tinsert(t, "destination", HOFFSET(event_row, destination), s32);
    H5Tinsert(t, "sector", HOFFSET(event_row, sector), s32);
    H5Tinsert(t, "regime", HOFFSET(event_row, regime), s32);
    H5Tinsert(t, "value", HOFFSET(event_row, value), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "note", HOFFSET(event_row, note), snote);
    hid_t space = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(o->file, "events", t, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = d < 0 || (n > 0 && H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) < 0) ||
             tm_h5_strings_describe(&o->strings, d, "",
                                    "scenario events that took effect: logged period index, label, kind, destination, "
                                    "sector (empty: all), regime, value (tariff or scale), note");
    if (d >= 0)
        H5Dclose(d);
    H5Sclose(space);
    H5Tclose(t);
    H5Tclose(s16);
    H5Tclose(s32);
    H5Tclose(snote);
    H5Tclose(skind);
    /* Hash field by field: struct padding bytes are not data. */
    tm_sha256_update(sha, "events", 7);
    for (hsize_t i = 0; i < n; i++) {
        tm_sha256_update(sha, &rows[i].period, sizeof rows[i].period);
        tm_sha256_update(sha, rows[i].label, sizeof rows[i].label);
        tm_sha256_update(sha, rows[i].kind, sizeof rows[i].kind);
        tm_sha256_update(sha, rows[i].destination, sizeof rows[i].destination);
        tm_sha256_update(sha, rows[i].sector, sizeof rows[i].sector);
        tm_sha256_update(sha, rows[i].regime, sizeof rows[i].regime);
        tm_sha256_update(sha, &rows[i].value, sizeof rows[i].value);
        tm_sha256_update(sha, rows[i].note, sizeof rows[i].note);
    }
    free(rows);
    return rc ? -1 : 0;
}

static int finish(tm_output *o, int complete, char digest_hex[65], char *where, size_t where_size, tm_error *err);

int tm_output_close(tm_output *o, int complete, char digest_hex[65], tm_error *err)
{
    return finish(o, complete, digest_hex, NULL, 0, err);
}

int tm_output_close_incomplete(tm_output *o, char *where, size_t size, tm_error *err)
{
    char digest[65];
    return finish(o, 0, digest, where, size, err);
}

/* A file written with checkpoints never reuses space freed (each
 * checkpoint's flush writes the partly filled series chunks and metadata
 * anew), so it can grow to many times the size of its data. When more than
 * a third of it is unused (the file is over 1.5 times its datasets' bytes,
 * hence over 1.5 times a file written without checkpoints), it is copied
 * into a fresh file that holds only the data and metadata. A failed copy
 * (disk full) keeps the larger file, which is complete and valid. */
static void compact(tm_output *o, hsize_t data_bytes)
{
    struct stat st;
    if (stat(o->tmp_path, &st) != 0 || (double)st.st_size <= 1.5 * (double)data_bytes)
        return;
    char stem[4200], copy[4300];
    tm_tmpfile_stem(o->final_path, stem, sizeof stem);
    tm_error ignored = {0};
    if (tm_h5_copy_file(o->tmp_path, stem, copy, sizeof copy, &ignored))
        return;
    char *name = strdup(copy);
    if (!name) {
        unlink(copy);
        return;
    }
    unlink(o->tmp_path);
    free(o->tmp_path);
    o->tmp_path = name;
}

/* The image of a file built in memory, written whole into its temporary. */
static int write_image(hid_t file, int fd)
{
    ssize_t size = H5Fget_file_image(file, NULL, 0);
    char *image = size > 0 ? malloc((size_t)size) : NULL;
    int rc = !image || H5Fget_file_image(file, image, (size_t)size) != size;
    for (ssize_t done = 0; !rc && done < size;) {
        ssize_t n = write(fd, image + done, (size_t)(size - done));
        if (n < 0 && errno == EINTR)
            continue;
        rc = n <= 0;
        done += n > 0 ? n : 0;
    }
    free(image);
    return rc ? -1 : 0;
}

static int finish(tm_output *o, int complete, char digest_hex[65], char *where, size_t where_size, tm_error *err)
{
    const tm_params *p = o->p;
    tm_sha256 sha;
    tm_sha256_init(&sha);
    static const char tag[] = "tradeabm-digest-v1";
    tm_sha256_update(&sha, tag, sizeof tag);
    tm_sha256_update(&sha, p->canonical, strlen(p->canonical) + 1);
    uint8_t h[32];
    tm_sha256_final(&o->static_sha, h);
    tm_sha256_update(&sha, h, sizeof h);
    int rc = 0;
    for (int i = 0; i < o->n_series; i++) {
        tm_sha256_final(&o->series[i].sha, h);
        tm_sha256_update(&sha, o->series[i].name, strlen(o->series[i].name) + 1);
        tm_sha256_update(&sha, h, sizeof h);
        /* Each series' own hash (its term of the digest), so that `verify`
         * can name the series whose values were changed. */
        char hex[65];
        tm_sha256_hex(h, hex);
        if (complete)
            rc |= tm_h5_strings_attr(&o->strings, o->series[i].dset, "sha256", hex);
    }
    if (o->panel)
        for (int s = 0; s < p->n_sectors; s++) {
            tm_sha256_update(&sha, p->sector[s].name, strlen(p->sector[s].name) + 1);
            tm_sha256_final(&o->panels[s].z_sha, h);
            tm_sha256_update(&sha, h, sizeof h);
            tm_sha256_final(&o->panels[s].m_sha, h);
            tm_sha256_update(&sha, h, sizeof h);
            if (p->n_types > 1) {
                tm_sha256_final(&o->panels[s].t_sha, h);
                tm_sha256_update(&sha, h, sizeof h);
            }
        }
    rc |= write_events(o, &sha);
    tm_sha256_final(&sha, h);
    tm_sha256_hex(h, digest_hex);

    double wall = tm_clock_seconds() - o->started;
    char end_time[40], hdf5_version[32];
    iso_now(end_time, sizeof end_time);
    unsigned maj, min, rel;
    H5get_libversion(&maj, &min, &rel);
    snprintf(hdf5_version, sizeof hdf5_version, "%u.%u.%u", maj, min, rel);
    int format = TM_FORMAT_VERSION, block = TM_BLOCK, panel = o->panel;
    hid_t f = o->file;
    const tm_h5_strings *strings = &o->strings;
    rc |= tm_h5_strings_attr(strings, f, "program", "tradeabm");
    rc |= tm_h5_strings_attr(strings, f, "version", TM_VERSION);
    rc |= tm_h5_strings_attr(strings, f, "git_commit", TM_GIT_COMMIT);
    rc |= tm_h5_strings_attr(strings, f, "compiler", TM_C_COMPILER);
    rc |= tm_h5_strings_attr(strings, f, "compiler_flags", TM_C_FLAGS);
    rc |= tm_h5_strings_attr(strings, f, "build_type", TM_BUILD_TYPE);
    rc |= tm_h5_strings_attr(strings, f, "hdf5_version", hdf5_version);
    rc |= tm_h5_strings_scalar(strings, f, "threads", H5T_NATIVE_INT, &o->threads);
    rc |= tm_h5_strings_scalar(strings, f, "seed", H5T_NATIVE_UINT64, &p->seed);
    rc |= tm_h5_strings_attr(strings, f, "model", tm_model_name(p->model));
    rc |= tm_h5_strings_attr(strings, f, "params_sha256", p->sha256);
    rc |= tm_h5_strings_attr(strings, f, "params_source", p->source);
    rc |= tm_h5_strings_attr(strings, f, "start_time", o->start_time);
    rc |= tm_h5_strings_attr(strings, f, "end_time", end_time);
    rc |= tm_h5_strings_scalar(strings, f, "wall_seconds", H5T_NATIVE_DOUBLE, &wall);
    if (o->wall_out)
        *o->wall_out = wall;
    rc |= tm_h5_strings_attr(strings, f, "status", complete ? "complete" : "incomplete");
    rc |= tm_h5_strings_scalar(strings, f, "format_version", H5T_NATIVE_INT, &format);
    rc |= tm_h5_strings_scalar(strings, f, "block_size", H5T_NATIVE_INT, &block);
    rc |= tm_h5_strings_scalar(strings, f, "panel", H5T_NATIVE_INT, &panel);
    rc |= tm_h5_strings_attr(strings, f, "digest", digest_hex);
    /* Periods are not flushed one by one (tm_output_period): the staged
     * periods are written and this flush writes what is still cached; its
     * failure (disk full) must be seen here, since closing the file does
     * not report it. */
    tm_error staged_err = {0};
    rc |= tm_output_write_staged(o, &staged_err) != 0;
    rc |= H5Fflush(f, H5F_SCOPE_GLOBAL) < 0;
    if (!rc && o->image_fd >= 0) {
        /* A failed close fails the write too (NFS may report a full disk
         * only then). */
        rc |= write_image(f, o->image_fd) || close(o->image_fd) != 0;
        o->image_fd = -1;
    }
    hsize_t data_bytes = complete && o->checkpoints ? tm_h5_data_bytes(f) : 0;
    tm_output_close_handles(o);
    if (rc) {
        tm_error_set(err, TM_ERR_RUNTIME, "%s: writing the closing attributes failed (disk full?)", o->tmp_path);
        unlink(o->tmp_path);
        tm_output_free_handle(o);
        return -1;
    }
    if (complete && o->checkpoints)
        compact(o, data_bytes);
    struct stat st;
    if (!complete && stat(o->final_path, &st) == 0) {
        snprintf(where, where_size, "%s", o->tmp_path);
        tm_output_free_handle(o);
        return 0;
    }
    if (where)
        snprintf(where, where_size, "%s", o->final_path);
    if (!o->force) {
        /* A file may have appeared at the final path while we ran (another
         * run chose the same default name): link() never replaces it, and
         * the finished results then stay under the temporary name. Where
         * hard links are unsupported, fall back to rename(). */
        if (link(o->tmp_path, o->final_path) == 0) {
            unlink(o->tmp_path);
            tm_output_free_handle(o);
            return 0;
        }
        if (errno == EEXIST) {
            tm_error_set(err, TM_ERR_RUNTIME,
                         "%s appeared while this run was writing and was not replaced (pass --force to "
                         "replace it); the results are in %s",
                         o->final_path, o->tmp_path);
            tm_output_free_handle(o);
            return -1;
        }
    }
    if (rename(o->tmp_path, o->final_path) != 0) {
        tm_error_set(err, TM_ERR_RUNTIME, "cannot rename %s to %s: %s", o->tmp_path, o->final_path, strerror(errno));
        unlink(o->tmp_path);
        tm_output_free_handle(o);
        return -1;
    }
    tm_output_free_handle(o);
    return 0;
}
