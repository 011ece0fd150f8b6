/* The digest of a run file recomputed from the data stored in it (the
 * definition is docs/output.md, "Digest"; src/io/output.c computes the same
 * bytes while writing, analysis/digest.py in Python). Every dataset is read
 * through HDF5, so a chunk that fails its Fletcher32 checksum is reported
 * by name; a value changed through HDF5 changes the digest. */
#include <hdf5.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/sha256.h"
#include "io/fingerprint.h"
#include "io/h5util.h"
#include "io/output_private.h"
#include "io/reader.h"
#include "params/params.h"

/* The series in the order they are created and hashed. */
static const char *const series_order[] = {
    "periods/label",
    "series/firms_serving",
    "series/entrants",
    "series/exiters",
    "series/export_value",
    "series/tariff_paid",
    "series/mean_log_productivity",
    "series/top10_share",
    "series/firms_by_market_set",
    "series/deaths",
    "series/non_us_share",
    "environment/regime",
    "environment/tariff",
    "series/firms_by_productivity_and_set",
    "series/exporters_by_level",
    "series/entrant_export_value",
    "series/firms_by_type_productivity_and_set",
    "series/completed_spells",
    "environment/statutory_tariff",
    "environment/exchange_rate",
};
static const char *const policy_order[] = {"entry_cutoff", "exit_cutoff", "solve_iterations", "solve_residual"};

static int damaged(const char *file, const char *dataset, tm_error *err)
{
    return tm_error_set(err, TM_ERR_RUNTIME,
                        "%s: dataset /%s is damaged (a chunk fails its checksum or cannot be read)", file, dataset);
}

static int exists(hid_t file, const char *path)
{
    return H5Lexists(file, path, H5P_DEFAULT) > 0;
}

static const char *leaf(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* name\0 then each string of a 1-D string dataset and \0. */
static int hash_strings(hid_t file, const char *file_name, const char *path, const char *name, tm_sha256 *sha,
                        tm_error *err)
{
    hid_t d = H5Dopen2(file, path, H5P_DEFAULT);
    if (d < 0)
        return damaged(file_name, path, err);
    hid_t space = H5Dget_space(d), t = tm_h5_vlen_string();
    hssize_t n = H5Sget_simple_extent_npoints(space);
    char **values = n > 0 ? calloc((size_t)n, sizeof *values) : NULL;
    int rc = n < 0 || (n > 0 && (!values || H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) < 0));
    if (!rc) {
        tm_sha256_update(sha, name, strlen(name) + 1);
        for (hssize_t i = 0; i < n; i++)
            tm_sha256_update(sha, values[i] ? values[i] : "", values[i] ? strlen(values[i]) + 1 : 1);
        H5Dvlen_reclaim(t, space, H5P_DEFAULT, values);
    }
    free(values);
    H5Tclose(t);
    H5Sclose(space);
    H5Dclose(d);
    return rc ? damaged(file_name, path, err) : 0;
}

/* The bytes of a dataset in its stored (little-endian, native here) type,
 * row by row along the first axis: hashed into `sha` after `name\0` when
 * name is given. */
static int hash_rows(hid_t file, const char *file_name, const char *path, const char *name, tm_sha256 *sha,
                     tm_error *err)
{
    hid_t d = H5Dopen2(file, path, H5P_DEFAULT);
    if (d < 0)
        return damaged(file_name, path, err);
    hid_t ftype = H5Dget_type(d);
    hid_t mtype = H5Tget_class(ftype) == H5T_STRING ? H5Tcopy(ftype) : H5Tget_native_type(ftype, H5T_DIR_ASCEND);
    hid_t fspace = H5Dget_space(d);
    int rank = H5Sget_simple_extent_ndims(fspace);
    hsize_t dims[8] = {0}, count[8];
    int rc = rank < 1 || rank > 8 || H5Sget_simple_extent_dims(fspace, dims, NULL) < 0;
    size_t row_bytes = H5Tget_size(mtype);
    for (int k = 0; !rc && k < rank; k++) {
        count[k] = k ? dims[k] : 1;
        row_bytes *= k ? (size_t)dims[k] : 1;
    }
    unsigned char *row = rc ? NULL : malloc(row_bytes ? row_bytes : 1);
    hid_t mspace = rc ? -1 : H5Screate_simple(rank, count, NULL);
    rc = rc || !row || mspace < 0;
    if (!rc && name)
        tm_sha256_update(sha, name, strlen(name) + 1);
    for (hsize_t t = 0; !rc && t < dims[0]; t++) {
        hsize_t start[8] = {t};
        rc = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
             H5Dread(d, mtype, mspace, fspace, H5P_DEFAULT, row) < 0;
        if (!rc)
            tm_sha256_update(sha, row, row_bytes);
    }
    if (mspace >= 0)
        H5Sclose(mspace);
    free(row);
    H5Sclose(fspace);
    H5Tclose(mtype);
    H5Tclose(ftype);
    H5Dclose(d);
    return rc ? damaged(file_name, path, err) : 0;
}

/* One panel dataset: SHA-256 of the fingerprints of its chunks' slots. */
static int hash_panel(hid_t file, const char *file_name, const char *path, tm_sha256 *sha, tm_error *err)
{
    uint8_t out[32];
    if (tm_reader_panel_hash(file, file_name, path, (hsize_t)-1, out, err))
        return -1;
    tm_sha256_update(sha, out, sizeof out);
    return 0;
}

int tm_reader_panel_hash(hid_t file, const char *file_name, const char *path, hsize_t rows, uint8_t out[32],
                         tm_error *err)
{
    hid_t d = H5Dopen2(file, path, H5P_DEFAULT);
    if (d < 0)
        return damaged(file_name, path, err);
    hid_t ftype = H5Dget_type(d), mtype = H5Tget_native_type(ftype, H5T_DIR_ASCEND);
    size_t elem = H5Tget_size(mtype);
    hid_t fspace = H5Dget_space(d);
    hsize_t dims[2] = {0, 0};
    int rc = H5Sget_simple_extent_ndims(fspace) != 2 || H5Sget_simple_extent_dims(fspace, dims, NULL) < 0;
    hsize_t count[2] = {1, dims[1]};
    unsigned char *row = rc ? NULL : malloc(dims[1] * elem + 1);
    hid_t mspace = rc ? -1 : H5Screate_simple(2, count, NULL);
    rc = rc || !row || mspace < 0;
    tm_sha256 h;
    tm_sha256_init(&h);
    if (rows > dims[0])
        rows = dims[0];
    for (hsize_t t = 0; !rc && t < rows; t++) {
        hsize_t start[2] = {t, 0};
        rc = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
             H5Dread(d, mtype, mspace, fspace, H5P_DEFAULT, row) < 0;
        for (hsize_t off = 0; !rc && off < dims[1]; off += TM_PANEL_CHUNK) {
            hsize_t end = off + TM_PANEL_CHUNK < dims[1] ? off + TM_PANEL_CHUNK : dims[1];
            uint8_t fp[16];
            tm_fingerprint(row + off * elem, (size_t)(end - off) * elem, fp);
            tm_sha256_update(&h, fp, sizeof fp);
        }
    }
    if (mspace >= 0)
        H5Sclose(mspace);
    free(row);
    H5Sclose(fspace);
    H5Tclose(mtype);
    H5Tclose(ftype);
    H5Dclose(d);
    if (rc)
        return damaged(file_name, path, err);
    tm_sha256_final(&h, out);
    return 0;
}

/* A series' hash against the one recorded when it was written (files of
 * earlier builds record none). */
static int series_changed(hid_t file, const char *file_name, const char *path, const uint8_t h[32], tm_error *err)
{
    hid_t d = H5Dopen2(file, path, H5P_DEFAULT);
    char recorded[65], hex[65];
    int has = d >= 0 && tm_reader_attr_string(d, "sha256", recorded, sizeof recorded) == 0;
    if (d >= 0)
        H5Dclose(d);
    tm_sha256_hex(h, hex);
    if (has && strcmp(hex, recorded) != 0)
        return tm_error_set(err, TM_ERR_RUNTIME,
                            "%s: dataset /%s is damaged: its values differ from those written by the run (its "
                            "SHA-256 differs from the recorded one)",
                            file_name, path);
    return 0;
}

/* A series' SHA-256 recomputed from its stored rows into h, checked
 * against the one recorded with it. */
static int series_hash(hid_t file, const char *file_name, const char *path, uint8_t h[32], tm_error *err)
{
    tm_sha256 one;
    tm_sha256_init(&one);
    if (hash_rows(file, file_name, path, NULL, &one, err))
        return -1;
    tm_sha256_final(&one, h);
    return series_changed(file, file_name, path, h, err);
}

int tm_reader_check_series(tm_reader *r, tm_error *err)
{
    hid_t f = tm_reader_file(r);
    uint8_t h[32];
    for (size_t i = 0; i < sizeof series_order / sizeof series_order[0]; i++)
        if (exists(f, series_order[i]) && series_hash(f, tm_reader_path(r), series_order[i], h, err))
            return -1;
    return 0;
}

/* The events table as stored: every field at its full fixed size (strings
 * NUL-padded), as the digest hashes it. */
int tm_reader_events(tm_reader *r, tm_event_record **out, int *n_out, tm_error *err)
{
    *out = NULL;
    *n_out = 0;
    hid_t file = tm_reader_file(r);
    const char *file_name = tm_reader_path(r);
    hid_t d = H5Dopen2(file, "events", H5P_DEFAULT);
    if (d < 0)
        return damaged(file_name, "events", err);
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(tm_event_record));
    hid_t s[5];
    const size_t sizes[5] = {TM_LABEL_MAX, 16, TM_NAME_MAX, TM_NAME_MAX, TM_NAME_MAX};
    const char *names[5] = {"label", "kind", "destination", "sector", "regime"};
    const size_t offsets[5] = {offsetof(tm_event_record, label), offsetof(tm_event_record, kind),
                               offsetof(tm_event_record, destination), offsetof(tm_event_record, sector),
                               offsetof(tm_event_record, regime)};
    H5Tinsert(t, "period", offsetof(tm_event_record, period), H5T_NATIVE_INT);
    for (int k = 0; k < 5; k++) {
        s[k] = H5Tcopy(H5T_C_S1);
        H5Tset_size(s[k], sizes[k]);
        H5Tinsert(t, names[k], offsets[k], s[k]);
    }
    hid_t snote = H5Tcopy(H5T_C_S1);
    H5Tset_size(snote, TM_NOTE_MAX);
    H5Tinsert(t, "value", offsetof(tm_event_record, value), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "note", offsetof(tm_event_record, note), snote);
    hid_t space = H5Dget_space(d);
    hssize_t n = H5Sget_simple_extent_npoints(space);
    tm_event_record *rows = calloc(n > 0 ? (size_t)n : 1, sizeof *rows);
    int rc = n < 0 || n > INT_MAX || !rows || (n > 0 && H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) < 0);
    H5Sclose(space);
    for (int k = 0; k < 5; k++)
        H5Tclose(s[k]);
    H5Tclose(snote);
    H5Tclose(t);
    H5Dclose(d);
    if (rc) {
        free(rows);
        return damaged(file_name, "events", err);
    }
    *out = rows;
    *n_out = (int)n;
    return 0;
}

static int hash_events(tm_reader *r, tm_sha256 *sha, tm_error *err)
{
    tm_event_record *rows = NULL;
    int n = 0;
    if (tm_reader_events(r, &rows, &n, err))
        return -1;
    tm_sha256_update(sha, "events", 7);
    for (int i = 0; i < n; i++) {
        const tm_event_record *e = &rows[i];
        tm_sha256_update(sha, &e->period, sizeof e->period);
        tm_sha256_update(sha, e->label, sizeof e->label);
        tm_sha256_update(sha, e->kind, sizeof e->kind);
        tm_sha256_update(sha, e->destination, sizeof e->destination);
        tm_sha256_update(sha, e->sector, sizeof e->sector);
        tm_sha256_update(sha, e->regime, sizeof e->regime);
        tm_sha256_update(sha, &e->value, sizeof e->value);
        tm_sha256_update(sha, e->note, sizeof e->note);
    }
    free(rows);
    return 0;
}

int tm_reader_digest(tm_reader *r, char hex[65], tm_error *err)
{
    hid_t f = tm_reader_file(r);
    const char *fn = tm_reader_path(r);
    tm_file_info info;
    if (tm_reader_info(r, &info, err))
        return -1;
    static const char tag[] = "tradeabm-digest-v1";
    tm_sha256 sha, st;
    tm_sha256_init(&sha);
    tm_sha256_update(&sha, tag, sizeof tag);
    tm_sha256_update(&sha, info.parameters, strlen(info.parameters) + 1);
    int panel = info.panel;
    tm_reader_info_free(&info);

    tm_sha256_init(&st);
    static const char *const dims[] = {"sectors", "destinations", "market_sets", "market_states"};
    char path[512];
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "dimensions/%s", dims[i]);
        if ((i < 3 || exists(f, path)) && hash_strings(f, fn, path, dims[i], &st, err))
            return -1;
    }
    if (exists(f, "dimensions/type_multipliers") &&
        hash_rows(f, fn, "dimensions/type_multipliers", "type_multipliers", &st, err))
        return -1;
    const char *const *dest;
    int n_dest;
    if (tm_reader_names(r, "destinations", &dest, &n_dest, err))
        return -1;
    for (int d = 0; d < n_dest; d++) {
        snprintf(path, sizeof path, "dimensions/regimes/%s", dest[d]);
        if (hash_strings(f, fn, path, dest[d], &st, err))
            return -1;
    }
    if (hash_rows(f, fn, "grid/z", "z", &st, err))
        return -1;
    for (int i = 0; i < 4 && exists(f, "policy"); i++) {
        snprintf(path, sizeof path, "policy/%s", policy_order[i]);
        if (exists(f, path) && hash_rows(f, fn, path, policy_order[i], &st, err))
            return -1;
    }
    uint8_t h[32];
    tm_sha256_final(&st, h);
    tm_sha256_update(&sha, h, sizeof h);

    for (size_t i = 0; i < sizeof series_order / sizeof series_order[0]; i++) {
        if (!exists(f, series_order[i]))
            continue;
        if (series_hash(f, fn, series_order[i], h, err))
            return -1;
        const char *name = leaf(series_order[i]);
        tm_sha256_update(&sha, name, strlen(name) + 1);
        tm_sha256_update(&sha, h, sizeof h);
    }
    if (panel) {
        const char *const *sectors;
        int n_sectors;
        if (tm_reader_names(r, "sectors", &sectors, &n_sectors, err))
            return -1;
        static const char *const which[] = {"z_index", "markets", "type"};
        for (int s = 0; s < n_sectors; s++) {
            tm_sha256_update(&sha, sectors[s], strlen(sectors[s]) + 1);
            for (int k = 0; k < 3; k++) {
                snprintf(path, sizeof path, "panel/%s/%s", sectors[s], which[k]);
                if ((k < 2 || exists(f, path)) && hash_panel(f, fn, path, &sha, err))
                    return -1;
            }
        }
    }
    if (hash_events(r, &sha, err))
        return -1;
    tm_sha256_final(&sha, h);
    tm_sha256_hex(h, hex);
    return 0;
}

int tm_reader_digest_matches(tm_reader *r, const char *recorded, char hex[65], tm_error *err)
{
    if (tm_reader_digest(r, hex, err))
        return -1;
    if (strcmp(hex, recorded) != 0)
        return tm_error_set(err, TM_ERR_RUNTIME,
                            "%s: the stored data give digest %.12s..., not the recorded %.12s... (a value was "
                            "changed after the run)",
                            tm_reader_path(r), hex, recorded);
    return 0;
}

int tm_reader_check_digest(const char *path, char hex[65], tm_error *err)
{
    tm_reader *r = NULL;
    tm_file_info info;
    if (tm_reader_open(path, &r, err))
        return -1;
    if (tm_reader_info(r, &info, err)) {
        tm_reader_close(r);
        return -1;
    }
    int rc = tm_reader_digest_matches(r, info.digest, hex, err);
    tm_reader_close(r);
    tm_reader_info_free(&info);
    return rc ? -1 : 0;
}
