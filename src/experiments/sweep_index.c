#include "experiments/sweep.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/stats.h"
#include "io/h5util.h"
#include "io/reader.h"
#include "params/params.h"
#include "tm_build_info.h"

#define INDEX_BLOCK 4096

int tm_sweep_run_complete(const tm_sweep *s, const char *dir, int64_t run)
{
    char path[4096];
    tm_sweep_run_path(s, dir, run, path, sizeof path);
    struct stat st;
    if (stat(path, &st) != 0)
        return 0;
    tm_file_info info;
    tm_error err = {0};
    if (tm_reader_read_info(path, &info, &err))
        return 0;
    int complete = strcmp(info.status, "complete") == 0 && info.seed == tm_sweep_run_seed(s, run);
    tm_reader_info_free(&info);
    return complete;
}

/* A 1-D dataset of n elements, written later block by block. */
static hid_t column(hid_t loc, const char *name, hid_t type, hsize_t n, const char *units, const char *doc)
{
    hsize_t dims = n;
    hid_t sp = H5Screate_simple(1, &dims, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t d = H5Dcreate2(loc, name, type, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    H5Sclose(sp);
    if (d >= 0 && tm_h5_describe(d, units, doc)) {
        H5Dclose(d);
        return -1;
    }
    return d;
}

static int write_block(hid_t d, hid_t mem_type, hsize_t start, hsize_t count, const void *buf)
{
    if (count == 0)
        return 0;
    hid_t fs = H5Dget_space(d);
    hid_t ms = H5Screate_simple(1, &count, NULL);
    int rc = H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL) < 0 ||
             H5Dwrite(d, mem_type, ms, fs, H5P_DEFAULT, buf) < 0;
    H5Sclose(ms);
    H5Sclose(fs);
    return rc ? -1 : 0;
}

/* The outcomes of one complete run: each over its last summary_periods
 * logged periods (all if fewer), resolved against the run's own sectors
 * and destinations (NaN for a name the run lacks). The period before the
 * window is read too: it is the "period before" of market persistence. */
static int read_outcomes(const tm_sweep *s, tm_reader *rd, int periods_per_year, double *values)
{
    static const char *const names[] = {"export_value", "firms_serving", "entrants", "exiters", "tariff_paid"};
    tm_error err = {0};
    tm_stats_shape shape = {0};
    tm_stats_window *w = NULL;
    double *buf = NULL;
    int T = 0, rc = -1;
    if (tm_reader_names(rd, "sectors", &shape.sectors, &shape.n_sectors, &err) ||
        tm_reader_names(rd, "destinations", &shape.dests, &shape.n_dest, &err) || tm_reader_periods(rd, &T, &err) ||
        shape.n_dest > 16 || T < 1)
        return -1;
    shape.us = tm_stats_us_index(shape.dests, shape.n_dest);
    int k = tm_sweep_summary_periods(s) < T ? tm_sweep_summary_periods(s) : T;
    int first = T - k - (T > k), n = T - first;
    size_t sd = (size_t)shape.n_sectors * (size_t)shape.n_dest, ss = (size_t)shape.n_sectors << shape.n_dest;
    size_t per_series = (size_t)n * sd;
    buf = malloc((5 * per_series + (size_t)n * ss) * sizeof *buf);
    if (!buf || tm_stats_window_open(&shape, periods_per_year, &w, &err))
        goto done;
    for (int x = 0; x < 5; x++)
        if (tm_reader_series(rd, names[x], first, n, sd, buf + (size_t)x * per_series, &err))
            goto done;
    double *by_set = buf + 5 * per_series;
    if (tm_reader_series(rd, "firms_by_market_set", first, n, ss, by_set, &err))
        goto done;
    for (int t = n - k; t < n; t++) {
        size_t c = (size_t)t * sd;
        tm_stats_period p = {buf + c,
                             buf + per_series + c,
                             buf + 2 * per_series + c,
                             buf + 3 * per_series + c,
                             buf + 4 * per_series + c,
                             by_set + (size_t)t * ss,
                             t > 0 ? buf + per_series + c - sd : NULL};
        tm_stats_window_add(w, &p);
    }
    for (int i = 0; i < tm_sweep_n_outcomes(s); i++) {
        tm_stats_outcome o;
        values[i] = tm_stats_outcome_parse(tm_sweep_outcome_name(s, i), &shape, &o, &err) == 0
                        ? tm_stats_outcome_value(w, &o)
                        : NAN;
    }
    rc = 0;
done:
    tm_stats_window_close(w);
    free(buf);
    return rc;
}

typedef struct {
    hid_t point, replicate, seed, file, status, wall, digest;
    hid_t *values; /* per swept parameter */
} design_cols;

typedef struct {
    hid_t mean, sd, lo, hi, n;
} summary_cols;

int tm_sweep_write_index(const tm_sweep *s, const char *dir, int64_t *complete_runs, tm_error *err)
{
    char final_path[4096], stem[4400], tmp[4500];
    snprintf(final_path, sizeof final_path, "%s/sweep.h5", dir);
    tm_sweep_temp_path(final_path, stem, sizeof stem);
    tm_h5_quiet();
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
    hid_t f = tm_h5_create_temp(stem, tmp, sizeof tmp, H5P_DEFAULT, fapl, err);
    H5Pclose(fapl);
    if (f < 0)
        return tm_error_prefix(err, "cannot create the index file");
    int64_t runs = tm_sweep_runs(s);
    int R = tm_sweep_replicates(s), P = tm_sweep_points(s), V = tm_sweep_n_values(s), O = tm_sweep_n_outcomes(s);
    int rc = 0, format = TM_SWEEP_FORMAT_VERSION, summary_periods = tm_sweep_summary_periods(s);
    uint64_t seed = tm_sweep_seed(s);
    long long n_runs = runs, n_complete = 0;
    rc |= tm_h5_attr_string(f, "program", "tradeabm");
    rc |= tm_h5_attr_string(f, "kind", "sweep");
    rc |= tm_h5_attr_scalar(f, "format_version", H5T_NATIVE_INT, &format);
    rc |= tm_h5_attr_scalar(f, "seed", H5T_NATIVE_UINT64, &seed);
    rc |= tm_h5_attr_string(f, "sweep_text", tm_sweep_text(s));
    rc |= tm_h5_attr_string(f, "sweep_sha256", tm_sweep_sha256(s));
    rc |= tm_h5_attr_string(f, "version", TM_VERSION);
    rc |= tm_h5_attr_string(f, "git_commit", TM_GIT_COMMIT);
    rc |= tm_h5_attr_scalar(f, "points", H5T_NATIVE_INT, &P);
    rc |= tm_h5_attr_scalar(f, "replicates", H5T_NATIVE_INT, &R);
    rc |= tm_h5_attr_scalar(f, "runs", H5T_NATIVE_LLONG, &n_runs);
    rc |= tm_h5_attr_scalar(f, "summary_periods", H5T_NATIVE_INT, &summary_periods);

    hid_t str = tm_h5_vlen_string();
    design_cols dc = {0};
    summary_cols *sc = calloc((size_t)O, sizeof *sc);
    hid_t *pv = calloc((size_t)V + 1, sizeof *pv);
    dc.values = calloc((size_t)V + 1, sizeof *dc.values);
    hid_t runs_group = H5Gcreate2(f, "runs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t nr = (hsize_t)runs, np = (hsize_t)P;
    rc |= !sc || !pv || !dc.values || runs_group < 0;
    if (!rc) {
        dc.point = column(f, "design/point", H5T_STD_I32LE, nr, "", "design point of the run");
        dc.replicate = column(f, "design/replicate", H5T_STD_I32LE, nr, "", "replicate of the run within its point");
        dc.seed = column(f, "design/seed", H5T_STD_U64LE, nr, "", "run seed, derived from the sweep seed");
        dc.file = column(f, "design/file", str, nr, "", "run file, relative to the index's folder");
        dc.status = column(f, "design/status", str, nr, "", "complete, incomplete or missing");
        dc.wall = column(f, "design/wall_seconds", H5T_IEEE_F64LE, nr, "s",
                         "wall time of the run (NaN if not complete)");
        dc.digest = column(f, "design/digest", str, nr, "", "digest of the run's datasets (empty if not complete)");
        rc |= dc.point < 0 || dc.replicate < 0 || dc.seed < 0 || dc.file < 0 || dc.status < 0 || dc.wall < 0 ||
              dc.digest < 0;
        for (int j = 0; j < V && !rc; j++) {
            char name[300];
            snprintf(name, sizeof name, "design/values/%s", tm_sweep_value_path(s, j));
            dc.values[j] = column(f, name, H5T_IEEE_F64LE, nr, "", "value of the swept parameter (its dotted path)");
            snprintf(name, sizeof name, "summary/points/%s", tm_sweep_value_path(s, j));
            pv[j] = column(f, name, H5T_IEEE_F64LE, np, "", "value of the swept parameter at each point");
            rc |= dc.values[j] < 0 || pv[j] < 0;
        }
        for (int i = 0; i < O && !rc; i++) {
            char name[300], doc[400];
            const char *nm = tm_sweep_outcome_name(s, i);
            tm_stats_outcome o;
            rc |= tm_stats_outcome_parse(nm, NULL, &o, NULL) != 0;
            if (rc)
                break;
            const char *u = tm_stats_outcome_units(&o);
            tm_stats_outcome_describe(&o, NULL, doc, sizeof doc);
            snprintf(name, sizeof name, "summary/%s", nm);
            hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
            H5Pset_create_intermediate_group(lcpl, 1);
            hid_t g = H5Gcreate2(f, name, lcpl, H5P_DEFAULT, H5P_DEFAULT);
            H5Pclose(lcpl);
            rc |= g < 0 || tm_h5_describe(g, u, doc);
            if (g >= 0)
                H5Gclose(g);
            snprintf(name, sizeof name, "summary/%s/mean", nm);
            sc[i].mean = column(f, name, H5T_IEEE_F64LE, np, u, "mean over the point's complete replicates");
            snprintf(name, sizeof name, "summary/%s/sd", nm);
            sc[i].sd = column(f, name, H5T_IEEE_F64LE, np, u, "sample standard deviation (n - 1; NaN if n < 2)");
            snprintf(name, sizeof name, "summary/%s/ci_low", nm);
            sc[i].lo = column(f, name, H5T_IEEE_F64LE, np, u, "lower end of the 95% t interval for the mean");
            snprintf(name, sizeof name, "summary/%s/ci_high", nm);
            sc[i].hi = column(f, name, H5T_IEEE_F64LE, np, u, "upper end of the 95% t interval for the mean");
            snprintf(name, sizeof name, "summary/%s/n", nm);
            sc[i].n = column(f, name, H5T_STD_I32LE, np, "", "complete replicates at the point");
            rc |= sc[i].mean < 0 || sc[i].sd < 0 || sc[i].lo < 0 || sc[i].hi < 0 || sc[i].n < 0;
        }
    }

    /* Block buffers: memory does not grow with the number of runs. */
    const size_t B = INDEX_BLOCK;
    int32_t *b_point = malloc(B * sizeof *b_point), *b_rep = malloc(B * sizeof *b_rep);
    uint64_t *b_seed = malloc(B * sizeof *b_seed);
    char **b_file = calloc(B, sizeof *b_file), **b_status = calloc(B, sizeof *b_status),
         **b_digest = calloc(B, sizeof *b_digest);
    double *b_wall = malloc(B * sizeof *b_wall), *b_vals = malloc(B * ((size_t)V + 1) * sizeof *b_vals);
    double *p_stats = malloc(B * 4 * ((size_t)O + 1) * sizeof *p_stats),
           *p_vals = malloc(B * ((size_t)V + 1) * sizeof *p_vals);
    int32_t *p_n = malloc(B * ((size_t)O + 1) * sizeof *p_n);
    double *rep_vals = malloc((size_t)R * ((size_t)O + 1) * sizeof *rep_vals);
    int *rep_ok = calloc((size_t)R, sizeof *rep_ok);
    rc |= !b_point || !b_rep || !b_seed || !b_file || !b_status || !b_digest || !b_wall || !b_vals || !p_stats ||
          !p_vals || !p_n || !rep_vals || !rep_ok;
    size_t nb = 0, npb = 0;
    tm_error damage = {0};
    int damaged = 0;
    hsize_t run_start = 0, point_start = 0;
    for (int p = 0; p < P && !rc; p++) {
        for (int r = 0; r < R && !rc; r++) {
            int64_t run = (int64_t)p * R + r;
            char name[64], rel[128], path[4300];
            tm_sweep_run_name(s, run, name, sizeof name);
            snprintf(rel, sizeof rel, "runs/%s.h5", name);
            snprintf(path, sizeof path, "%s/%s", dir, rel);
            b_point[nb] = p;
            b_rep[nb] = r;
            b_seed[nb] = tm_sweep_run_seed(s, run);
            b_wall[nb] = NAN;
            b_file[nb] = strdup(rel);
            const char *status = "missing", *digest = "";
            tm_file_info info = {0};
            tm_error ignored = {0};
            rep_ok[r] = 0;
            struct stat st;
            if (stat(path, &st) == 0) {
                status = "incomplete";
                tm_reader *rd = NULL;
                if (tm_reader_open(path, &rd, &ignored) == 0 && tm_reader_info(rd, &info, &ignored) == 0) {
                    /* A complete run whose stored series differ from what
                     * the run wrote (a chunk failing its checksum, or values
                     * changed through HDF5) stops the index, naming them. */
                    if (strcmp(info.status, "complete") == 0 && tm_reader_check_series(rd, &damage)) {
                        damaged = 1;
                        rc = 1;
                    } else if (strcmp(info.status, "complete") == 0 && info.seed == b_seed[nb]) {
                        status = "complete";
                        digest = info.digest;
                        b_wall[nb] = info.wall_seconds;
                        tm_params *rp = NULL;
                        rep_ok[r] = tm_params_load_text(path, info.parameters, NULL, 0, &rp, &ignored) == 0 &&
                                    read_outcomes(s, rd, rp->periods_per_year, &rep_vals[(size_t)r * (size_t)O]) == 0;
                        tm_params_free(rp);
                        if (!rep_ok[r])
                            status = "unreadable";
                    }
                    b_digest[nb] = strdup(digest);
                }
                tm_reader_info_free(&info);
                tm_reader_close(rd);
            }
            if (!b_digest[nb])
                b_digest[nb] = strdup(digest);
            b_status[nb] = strdup(status);
            rc |= !b_file[nb] || !b_digest[nb] || !b_status[nb];
            if (rep_ok[r]) {
                n_complete++;
                rc |= H5Lcreate_external(rel, "/", runs_group, name, H5P_DEFAULT, H5P_DEFAULT) < 0;
            }
            for (int j = 0; j < V; j++)
                b_vals[(size_t)j * B + nb] = tm_sweep_value(s, p, j);
            nb++;
            if (nb == B || run == runs - 1) {
                rc |= write_block(dc.point, H5T_NATIVE_INT32, run_start, nb, b_point) ||
                      write_block(dc.replicate, H5T_NATIVE_INT32, run_start, nb, b_rep) ||
                      write_block(dc.seed, H5T_NATIVE_UINT64, run_start, nb, b_seed) ||
                      write_block(dc.file, str, run_start, nb, b_file) ||
                      write_block(dc.status, str, run_start, nb, b_status) ||
                      write_block(dc.digest, str, run_start, nb, b_digest) ||
                      write_block(dc.wall, H5T_NATIVE_DOUBLE, run_start, nb, b_wall);
                for (int j = 0; j < V; j++)
                    rc |= write_block(dc.values[j], H5T_NATIVE_DOUBLE, run_start, nb, &b_vals[(size_t)j * B]);
                for (size_t i = 0; i < nb; i++) {
                    free(b_file[i]);
                    free(b_status[i]);
                    free(b_digest[i]);
                    b_file[i] = b_status[i] = b_digest[i] = NULL;
                }
                run_start += nb;
                nb = 0;
            }
        }
        /* Summaries over the point's complete replicates, in replicate
         * order, so every way of running the sweep gives the same bits. */
        for (int i = 0; i < O; i++) {
            tm_stats_acc acc = {0};
            for (int r = 0; r < R; r++)
                if (rep_ok[r])
                    tm_stats_acc_add(&acc, rep_vals[(size_t)r * (size_t)O + (size_t)i]);
            tm_stats_summary sum = tm_stats_acc_summary(&acc);
            double *st = &p_stats[((size_t)i * 4) * B];
            st[npb] = sum.mean;
            st[B + npb] = sum.sd;
            st[2 * B + npb] = sum.ci_low;
            st[3 * B + npb] = sum.ci_high;
            p_n[(size_t)i * B + npb] = sum.n;
        }
        for (int j = 0; j < V; j++)
            p_vals[(size_t)j * B + npb] = tm_sweep_value(s, p, j);
        npb++;
        if (npb == B || p == P - 1) {
            for (int i = 0; i < O; i++) {
                double *st = &p_stats[((size_t)i * 4) * B];
                rc |= write_block(sc[i].mean, H5T_NATIVE_DOUBLE, point_start, npb, st) ||
                      write_block(sc[i].sd, H5T_NATIVE_DOUBLE, point_start, npb, st + B) ||
                      write_block(sc[i].lo, H5T_NATIVE_DOUBLE, point_start, npb, st + 2 * B) ||
                      write_block(sc[i].hi, H5T_NATIVE_DOUBLE, point_start, npb, st + 3 * B) ||
                      write_block(sc[i].n, H5T_NATIVE_INT32, point_start, npb, &p_n[(size_t)i * B]);
            }
            for (int j = 0; j < V; j++)
                rc |= write_block(pv[j], H5T_NATIVE_DOUBLE, point_start, npb, &p_vals[(size_t)j * B]);
            point_start += npb;
            npb = 0;
        }
    }
    rc |= tm_h5_attr_scalar(f, "complete_runs", H5T_NATIVE_LLONG, &n_complete);
    for (size_t i = 0; b_file && i < B; i++) {
        free(b_file[i]);
        free(b_status[i]);
        free(b_digest[i]);
    }
    free(b_point);
    free(b_rep);
    free(b_seed);
    free(b_file);
    free(b_status);
    free(b_digest);
    free(b_wall);
    free(b_vals);
    free(p_stats);
    free(p_vals);
    free(p_n);
    free(rep_vals);
    free(rep_ok);
    hid_t all[] = {dc.point, dc.replicate, dc.seed, dc.file, dc.status, dc.wall, dc.digest};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i] > 0)
            H5Dclose(all[i]);
    for (int j = 0; j < V; j++) {
        if (dc.values && dc.values[j] > 0)
            H5Dclose(dc.values[j]);
        if (pv && pv[j] > 0)
            H5Dclose(pv[j]);
    }
    for (int i = 0; sc && i < O; i++) {
        hid_t ds[] = {sc[i].mean, sc[i].sd, sc[i].lo, sc[i].hi, sc[i].n};
        for (size_t k = 0; k < 5; k++)
            if (ds[k] > 0)
                H5Dclose(ds[k]);
    }
    free(dc.values);
    free(pv);
    free(sc);
    if (runs_group >= 0)
        H5Gclose(runs_group);
    H5Tclose(str);
    rc |= H5Fclose(f) < 0;
    if (damaged) {
        unlink(tmp);
        if (err)
            *err = damage;
        return -1;
    }
    if (rc) {
        unlink(tmp);
        return tm_error_set(err, TM_ERR_RUNTIME, "%s: writing the index failed (disk full?)", tmp);
    }
    if (rename(tmp, final_path) != 0) {
        unlink(tmp);
        return tm_error_set(err, TM_ERR_RUNTIME, "cannot rename %s to %s: %s", tmp, final_path, strerror(errno));
    }
    if (complete_runs)
        *complete_runs = n_complete;
    return 0;
}
