#include "io/reader.h"

#include <errno.h>
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/h5util.h"
#include "io/output.h"
#include "io/summary.h"
#include "models/model.h"
#include "params/params.h"

#define MAX_NAMED_DIMS 4

struct tm_reader {
    char *path;
    hid_t file;
    struct {
        char which[32];
        char **names;
        int n;
    } dims[MAX_NAMED_DIMS];
    int n_dims;
};

int tm_reader_attr_string(hid_t obj, const char *name, char *buf, size_t size)
{
    buf[0] = '\0';
    if (H5Aexists(obj, name) <= 0)
        return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t t = tm_h5_vlen_string();
    char *value = NULL;
    int rc = a < 0 || H5Aread(a, t, &value) < 0;
    if (!rc && value)
        snprintf(buf, size, "%s", value);
    if (value)
        H5free_memory(value);
    H5Tclose(t);
    if (a >= 0)
        H5Aclose(a);
    return rc ? -1 : 0;
}

static int read_attr_scalar(hid_t obj, const char *name, hid_t type, void *value)
{
    if (H5Aexists(obj, name) <= 0)
        return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    int rc = a < 0 || H5Aread(a, type, value) < 0;
    if (a >= 0)
        H5Aclose(a);
    return rc ? -1 : 0;
}

void tm_reader_close(tm_reader *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n_dims; i++) {
        for (int k = 0; k < r->dims[i].n; k++)
            free(r->dims[i].names[k]);
        free(r->dims[i].names);
    }
    if (r->file >= 0)
        H5Fclose(r->file);
    free(r->path);
    free(r);
}

hid_t tm_reader_file(const tm_reader *r)
{
    return r->file;
}

const char *tm_reader_path(const tm_reader *r)
{
    return r->path;
}

int tm_reader_open(const char *path, tm_reader **out, tm_error *err)
{
    *out = NULL;
    tm_h5_quiet();
    struct stat st;
    if (stat(path, &st) != 0)
        return tm_error_set(err, TM_ERR_INPUT, "%s: %s", path, strerror(errno));
    if (H5Fis_hdf5(path) <= 0)
        return tm_error_set(err, TM_ERR_INPUT, "%s: not an HDF5 file (or truncated/corrupt)", path);
    tm_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    }
    r->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (r->file < 0) {
        tm_reader_close(r);
        return tm_error_set(err, TM_ERR_INPUT, "%s: cannot open as HDF5 (truncated or corrupt?)", path);
    }
    char program[64];
    int version = 0;
    if (tm_reader_attr_string(r->file, "program", program, sizeof program) || strcmp(program, "tradeabm") != 0) {
        tm_reader_close(r);
        return tm_error_set(err, TM_ERR_INPUT, "%s: not a tradeabm run file (no program attribute)", path);
    }
    if (read_attr_scalar(r->file, "format_version", H5T_NATIVE_INT, &version) == 0 && version != TM_FORMAT_VERSION) {
        tm_reader_close(r);
        return tm_error_set(err, TM_ERR_INPUT, "%s: format version %d, this build reads version %d", path, version,
                            TM_FORMAT_VERSION);
    }
    *out = r;
    return 0;
}

void tm_reader_info_free(tm_file_info *info)
{
    free(info->parameters);
    info->parameters = NULL;
}

int tm_reader_info(tm_reader *r, tm_file_info *info, tm_error *err)
{
    memset(info, 0, sizeof *info);
    hid_t f = r->file;
    int rc = read_attr_scalar(f, "format_version", H5T_NATIVE_INT, &info->format_version);
    rc |= tm_reader_attr_string(f, "status", info->status, sizeof info->status);
    rc |= tm_reader_attr_string(f, "digest", info->digest, sizeof info->digest);
    rc |= tm_reader_attr_string(f, "params_sha256", info->params_sha256, sizeof info->params_sha256);
    rc |= tm_reader_attr_string(f, "version", info->version, sizeof info->version);
    rc |= tm_reader_attr_string(f, "git_commit", info->git_commit, sizeof info->git_commit);
    rc |= read_attr_scalar(f, "seed", H5T_NATIVE_UINT64, &info->seed);
    rc |= read_attr_scalar(f, "threads", H5T_NATIVE_INT, &info->threads);
    rc |= read_attr_scalar(f, "panel", H5T_NATIVE_INT, &info->panel);
    rc |= read_attr_scalar(f, "wall_seconds", H5T_NATIVE_DOUBLE, &info->wall_seconds);
    /* Optional: not needed to read the data. */
    tm_reader_attr_string(f, "params_source", info->params_source, sizeof info->params_source);
    tm_reader_attr_string(f, "start_time", info->start_time, sizeof info->start_time);
    tm_reader_attr_string(f, "end_time", info->end_time, sizeof info->end_time);
    if (rc)
        return tm_error_set(err, TM_ERR_INPUT, "%s: missing provenance attributes (a file not closed properly?)",
                            r->path);
    hid_t d = H5Dopen2(f, "parameters", H5P_DEFAULT);
    if (d >= 0) {
        hid_t t = tm_h5_vlen_string();
        char *text = NULL;
        hid_t dxpl = tm_h5_transfer(d, t, 1);
        if (dxpl >= 0 && H5Dread(d, t, H5S_ALL, H5S_ALL, dxpl, &text) >= 0 && text) {
            info->parameters = strdup(text);
            H5free_memory(text);
        }
        if (dxpl >= 0)
            H5Pclose(dxpl);
        H5Tclose(t);
        H5Dclose(d);
    }
    if (!info->parameters)
        return tm_error_set(err, TM_ERR_INPUT, "%s: /parameters: missing or unreadable (corrupt file?)", r->path);
    return 0;
}

int tm_reader_read_info(const char *path, tm_file_info *info, tm_error *err)
{
    tm_reader *r = NULL;
    memset(info, 0, sizeof *info);
    if (tm_reader_open(path, &r, err))
        return -1;
    int rc = tm_reader_info(r, info, err);
    tm_reader_close(r);
    return rc;
}

int tm_reader_names(tm_reader *r, const char *which, const char *const **names, int *n, tm_error *err)
{
    for (int i = 0; i < r->n_dims; i++)
        if (strcmp(r->dims[i].which, which) == 0) {
            *names = (const char *const *)r->dims[i].names;
            *n = r->dims[i].n;
            return 0;
        }
    if (r->n_dims == MAX_NAMED_DIMS || strlen(which) >= sizeof r->dims[0].which)
        return tm_error_set(err, TM_ERR_RUNTIME, "%s: too many dimensions read", r->path);
    char path[64];
    snprintf(path, sizeof path, "dimensions/%s", which);
    hid_t d = H5Dopen2(r->file, path, H5P_DEFAULT);
    if (d < 0)
        return tm_error_set(err, TM_ERR_INPUT, "%s: /%s: missing", r->path, path);
    hid_t space = H5Dget_space(d);
    hssize_t count = H5Sget_simple_extent_npoints(space);
    hid_t t = tm_h5_vlen_string();
    char **raw = count > 0 ? calloc((size_t)count, sizeof *raw) : NULL;
    char **copy = count > 0 ? calloc((size_t)count, sizeof *copy) : NULL;
    hid_t dxpl = count > 0 ? tm_h5_transfer(d, t, (hsize_t)count) : -1;
    int rc = count <= 0 || !raw || !copy || dxpl < 0 || H5Sget_simple_extent_ndims(space) != 1 ||
             H5Dread(d, t, H5S_ALL, H5S_ALL, dxpl, raw) < 0;
    if (dxpl >= 0)
        H5Pclose(dxpl);
    for (hssize_t i = 0; !rc && i < count; i++)
        rc = !raw[i] || !(copy[i] = strdup(raw[i]));
    if (raw && count > 0)
        H5Dvlen_reclaim(t, space, H5P_DEFAULT, raw);
    free(raw);
    H5Tclose(t);
    H5Sclose(space);
    H5Dclose(d);
    if (rc) {
        for (hssize_t i = 0; copy && i < count; i++)
            free(copy[i]);
        free(copy);
        return tm_error_set(err, TM_ERR_INPUT, "%s: /%s: expected a non-empty list of names", r->path, path);
    }
    snprintf(r->dims[r->n_dims].which, sizeof r->dims[0].which, "%s", which);
    r->dims[r->n_dims].names = copy;
    r->dims[r->n_dims].n = (int)count;
    *names = (const char *const *)copy;
    *n = (int)count;
    r->n_dims++;
    return 0;
}

/* Open /<group>/<name> (a series, or an /environment dataset) and its
 * shape: periods and the values of one period. */
static hid_t open_periodic(tm_reader *r, const char *group, const char *name, hsize_t dims[4], int *rank,
                           size_t *per_period, tm_error *err)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", group, name);
    hid_t d = H5Dopen2(r->file, path, H5P_DEFAULT);
    if (d < 0) {
        tm_error_set(err, TM_ERR_INPUT, "%s: /%s: missing (not a complete run file?)", r->path, path);
        return -1;
    }
    hid_t space = H5Dget_space(d);
    *rank = H5Sget_simple_extent_ndims(space);
    int ok = *rank >= 1 && *rank <= 4 && H5Sget_simple_extent_dims(space, dims, NULL) >= 0;
    H5Sclose(space);
    if (!ok) {
        H5Dclose(d);
        tm_error_set(err, TM_ERR_INPUT, "%s: /%s: expected 1 to 4 dimensions, periods first", r->path, path);
        return -1;
    }
    *per_period = 1;
    for (int k = 1; k < *rank; k++)
        *per_period *= (size_t)dims[k];
    return d;
}

static hid_t open_series(tm_reader *r, const char *name, hsize_t dims[4], int *rank, size_t *per_period, tm_error *err)
{
    return open_periodic(r, "series", name, dims, rank, per_period, err);
}

int tm_reader_periods(tm_reader *r, int *periods, tm_error *err)
{
    hsize_t dims[4];
    int rank;
    size_t per;
    hid_t d = open_series(r, "export_value", dims, &rank, &per, err);
    if (d < 0)
        return -1;
    H5Dclose(d);
    *periods = (int)dims[0];
    return 0;
}

/* Periods [first, first + count) of /<group>/<name> as doubles. */
static int read_periodic(tm_reader *r, const char *group, const char *name, int first, int count, size_t per_period,
                         double *out, tm_error *err)
{
    hsize_t dims[4];
    int rank;
    size_t per;
    hid_t d = open_periodic(r, group, name, dims, &rank, &per, err);
    if (d < 0)
        return -1;
    if (per != per_period) {
        H5Dclose(d);
        return tm_error_set(err, TM_ERR_INPUT, "%s: /%s/%s: %zu values a period, expected %zu", r->path, group, name,
                            per, per_period);
    }
    if (first < 0 || count < 0 || (hsize_t)first + (hsize_t)count > dims[0]) {
        H5Dclose(d);
        return tm_error_set(err, TM_ERR_INPUT, "%s: /%s/%s: %llu periods, cannot read periods %d to %d", r->path, group,
                            name, (unsigned long long)dims[0], first, first + count - 1);
    }
    int rc = 0;
    if (count > 0) {
        hsize_t start[4] = {(hsize_t)first, 0, 0, 0}, slab[4] = {(hsize_t)count, dims[1], dims[2], dims[3]};
        hid_t fs = H5Dget_space(d);
        hid_t ms = H5Screate_simple(rank, slab, NULL);
        hid_t dxpl = tm_h5_transfer(d, H5T_NATIVE_DOUBLE, (hsize_t)count * (hsize_t)per);
        rc = dxpl < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, slab, NULL) < 0 ||
             H5Dread(d, H5T_NATIVE_DOUBLE, ms, fs, dxpl, out) < 0;
        if (dxpl >= 0)
            H5Pclose(dxpl);
        H5Sclose(ms);
        H5Sclose(fs);
    }
    H5Dclose(d);
    if (rc)
        return tm_error_set(err, TM_ERR_INPUT, "%s: /%s/%s: cannot read (truncated or corrupt?)", r->path, group, name);
    return 0;
}

int tm_reader_series(tm_reader *r, const char *name, int first, int count, size_t per_period, double *out,
                     tm_error *err)
{
    return read_periodic(r, "series", name, first, count, per_period, out, err);
}

int tm_reader_environment(tm_reader *r, const char *name, int first, int count, size_t per_period, double *out,
                          tm_error *err)
{
    return read_periodic(r, "environment", name, first, count, per_period, out, err);
}

/* The events that took effect, one line each: period, kind, where, value. */
static int print_events(tm_reader *r, FILE *out, tm_error *err)
{
    tm_event_record *rows = NULL;
    int n = 0;
    if (tm_reader_events(r, &rows, &n, err))
        return -1;
    fprintf(out, "events         %d took effect%s\n", n, n ? ":" : "");
    for (int i = 0; i < n; i++) {
        const tm_event_record *e = &rows[i];
        char value[64] = "";
        if (strcmp(e->kind, "regime") == 0)
            snprintf(value, sizeof value, "-> %s", e->regime);
        else if (strcmp(e->kind, "tariff") == 0)
            snprintf(value, sizeof value, "%.6g%%", 100 * e->value);
        else if (e->value == e->value)
            snprintf(value, sizeof value, "x %.6g", e->value);
        fprintf(out, "  %-8s %-12s %s%s%s %s%s%s%s\n", e->label, e->kind, e->destination, e->sector[0] ? "." : "",
                e->sector, value, e->note[0] ? " (" : "", e->note, e->note[0] ? ")" : "");
    }
    free(rows);
    return 0;
}

int tm_reader_print_info(const char *path, FILE *out, tm_error *err)
{
    tm_reader *r = NULL;
    tm_file_info info = {0};
    tm_params *p = NULL;
    double *values = NULL, *counts = NULL;
    const char **snames = NULL;
    int rc = -1;
    if (tm_reader_open(path, &r, err) || tm_reader_info(r, &info, err))
        goto done;
    if (tm_params_load_text(path, info.parameters, NULL, 0, &p, err)) {
        tm_error_prefix(err, "%s: stored parameters", path);
        goto done;
    }
    /* A complete file's data must give its digest (damage is named). */
    int complete = strcmp(info.status, "complete") == 0;
    char data_digest[65];
    if (complete && tm_reader_digest_matches(r, info.digest, data_digest, err))
        goto done;
    fprintf(out, "file           %s\n", path);
    fprintf(out, "kind           run file\n");
    fprintf(out, "status         %s\n", info.status);
    fprintf(out, "program        tradeabm %s (commit %s)\n", info.version, info.git_commit);
    fprintf(out, "source         %s\n", info.params_source[0] ? info.params_source : "(not recorded)");
    fprintf(out, "model          %s\n", tm_model_name(p->model));
    fprintf(out, "seed           %llu\n", (unsigned long long)info.seed);
    fprintf(out, "threads        %d\n", info.threads);
    fprintf(out, "wall time      %.2f s (set-up and solve, periods, writing)\n", info.wall_seconds);
    if (info.start_time[0])
        fprintf(out, "ran            %s to %s\n", info.start_time, info.end_time);
    fprintf(out, "params sha256  %s\n", info.params_sha256);
    fprintf(out, "digest         %s\n", info.digest);
    if (complete)
        fprintf(out, "data           verified: the stored data give this digest\n");
    fprintf(out, "firm panel     %s\n", info.panel ? "yes" : "no");
    int periods = 0, n_sets = 1 << p->n_dest;
    size_t sd = (size_t)p->n_sectors * (size_t)p->n_dest, ss = (size_t)p->n_sectors * (size_t)n_sets;
    counts = malloc(ss * sizeof *counts);
    values = malloc(sd * sizeof *values);
    snames = malloc((size_t)p->n_sectors * sizeof *snames);
    if (!counts || !values || !snames) {
        tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        goto done;
    }
    if (tm_reader_periods(r, &periods, err))
        goto done;
    if (periods < 1) {
        tm_error_set(err, TM_ERR_INPUT, "%s: /series/export_value: no logged period", path);
        goto done;
    }
    if (tm_reader_series(r, "firms_by_market_set", periods - 1, 1, ss, counts, err) ||
        tm_reader_series(r, "export_value", periods - 1, 1, sd, values, err))
        goto done;
    const char *dnames[TM_MAX_DEST];
    for (int s = 0; s < p->n_sectors; s++)
        snames[s] = p->sector[s].name;
    for (int d = 0; d < p->n_dest; d++)
        dnames[d] = p->dest[d].name;
    char label[TM_LABEL_MAX];
    tm_period_label(p->start_index + periods - 1, p->periods_per_year, label, sizeof label);
    tm_summary sum = {label, p->n_sectors, p->n_dest, snames, dnames, counts, values};
    fprintf(out, "periods        %d logged (%s to %s)\n", periods, p->start, label);
    if (print_events(r, out, err))
        goto done;
    fputc('\n', out);
    tm_summary_print(out, &sum);
    rc = 0;
done:
    tm_reader_info_free(&info);
    tm_reader_close(r);
    tm_params_free(p);
    free(counts);
    free(values);
    free(snames);
    return rc;
}
