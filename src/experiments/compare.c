#include "experiments/compare.h"

#include <errno.h>
#include <getopt.h>
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "io/h5util.h"
#include "params/params.h"
#include "base/rng.h"
#include "io/runner.h"
#include "tm_build_info.h"

/* Series differenced between scenario and base, [replicate, period, sector, destination]. */
static const struct {
    const char *name, *units, *doc;
} diff_series[] = {
    {"export_value", "model money", "scenario - base: producer revenue from the destination"},
    {"firms_serving", "firms", "scenario - base: firms serving the destination"},
    {"entrants", "firms", "scenario - base: firms that started serving the destination"},
    {"exiters", "firms", "scenario - base: firms that stopped serving the destination"},
    {"tariff_paid", "model money", "scenario - base: tariff paid on the customs value"},
};
#define N_DIFF (sizeof diff_series / sizeof diff_series[0])
enum { X_VALUE = 0, X_SERVING, X_ENTRANTS, X_EXITERS };

/* Headline measures, per sector and for all sectors together, over the
 * effect window: US share change (percentage points), US and non-US export
 * change (percent), change in entries and exits summed over destinations
 * and periods (firms), and export change per other destination (percent). */
enum { M_US_SHARE = 0, M_US_EXPORTS, M_NON_US_EXPORTS, M_ENTRIES, M_EXITS, M_FIXED };

typedef struct {
    int T, S, D, R, us;
    double *data[N_DIFF][2]; /* [series][0 base, 1 scenario]: [R][T][S][D] */
} panel;

static size_t cell(const panel *pn, int r, int t, int s, int d)
{
    return (((size_t)r * (size_t)pn->T + (size_t)t) * (size_t)pn->S + (size_t)s) * (size_t)pn->D + (size_t)d;
}

static int read_series(const char *path, const char *name, size_t count, double *out, tm_error *err)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot open the run file", path);
    char dpath[128];
    snprintf(dpath, sizeof dpath, "/series/%s", name);
    hid_t d = H5Dopen2(f, dpath, H5P_DEFAULT);
    int rc = -1;
    if (d >= 0) {
        hid_t sp = H5Dget_space(d);
        hssize_t n = H5Sget_simple_extent_npoints(sp);
        H5Sclose(sp);
        if (n == (hssize_t)count && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0)
            rc = 0;
        H5Dclose(d);
    }
    H5Fclose(f);
    if (rc)
        tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot read %s with the expected shape", path, dpath);
    return rc;
}

static int attr_int(hid_t obj, const char *name, long long value)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a < 0 || H5Awrite(a, H5T_NATIVE_LLONG, &value) < 0;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
    return rc;
}

/* A list of fixed-length names as a 1-D string dataset. */
static int write_names(hid_t loc, const char *name, const char *const *names, int n)
{
    size_t width = 1;
    for (int i = 0; i < n; i++)
        if (strlen(names[i]) + 1 > width)
            width = strlen(names[i]) + 1;
    char *buf = calloc(n > 0 ? (size_t)n : 1u, width);
    if (!buf)
        return 1;
    for (int i = 0; i < n; i++)
        memcpy(buf + (size_t)i * width, names[i], strlen(names[i]));
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, width);
    hsize_t dims[1] = {(hsize_t)n};
    hid_t sp = H5Screate_simple(1, dims, NULL);
    hid_t d = H5Dcreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = d < 0 || H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0;
    if (d >= 0)
        H5Dclose(d);
    H5Sclose(sp);
    H5Tclose(t);
    free(buf);
    return rc;
}

static double student_t975(int df)
{
    static const double t[] = {0, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                               2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086};
    if (df < 1)
        return NAN;
    if (df <= 20)
        return t[df];
    return 1.96 + 2.5 / df; /* close to the t quantile beyond 20 degrees of freedom */
}

typedef struct {
    char sector[64];
    char measure[64];
    double mean, ci_low, ci_high;
    int replicates;
} effect_row;

/* Measure m of replicate r for sector s (s == S: all sectors) over periods
 * [t0, T). */
static double measure(const panel *pn, int m, int r, int s, int t0)
{
    int s0 = s == pn->S ? 0 : s, s1 = s == pn->S ? pn->S : s + 1;
    double v[2][TM_MAX_DEST] = {{0}}, flows[2][2] = {{0}};
    for (int k = 0; k < 2; k++)
        for (int t = t0; t < pn->T; t++)
            for (int ss = s0; ss < s1; ss++)
                for (int d = 0; d < pn->D; d++) {
                    size_t c = cell(pn, r, t, ss, d);
                    v[k][d] += pn->data[X_VALUE][k][c];
                    flows[k][0] += pn->data[X_ENTRANTS][k][c];
                    flows[k][1] += pn->data[X_EXITERS][k][c];
                }
    double total[2] = {0, 0}, us[2], non_us[2];
    for (int k = 0; k < 2; k++) {
        for (int d = 0; d < pn->D; d++)
            total[k] += v[k][d];
        us[k] = v[k][pn->us];
        non_us[k] = total[k] - us[k];
    }
    switch (m) {
    case M_US_SHARE:
        return total[0] > 0 && total[1] > 0 ? 100.0 * (us[1] / total[1] - us[0] / total[0]) : NAN;
    case M_US_EXPORTS:
        return us[0] > 0 ? 100.0 * (us[1] / us[0] - 1.0) : NAN;
    case M_NON_US_EXPORTS:
        return non_us[0] > 0 ? 100.0 * (non_us[1] / non_us[0] - 1.0) : NAN;
    case M_ENTRIES:
        return flows[1][0] - flows[0][0];
    case M_EXITS:
        return flows[1][1] - flows[0][1];
    default: {
        /* M_FIXED + j: the j-th destination other than US. */
        int j = m - M_FIXED, d = 0;
        for (int seen = -1; d < pn->D; d++)
            if (d != pn->us && ++seen == j)
                break;
        return v[0][d] > 0 ? 100.0 * (v[1][d] / v[0][d] - 1.0) : NAN;
    }
    }
}

static void measure_name(const tm_params *p, int us, int m, char *buf, size_t size)
{
    static const char *const fixed[] = {"us_share_change_pp", "us_exports_change_pct", "non_us_exports_change_pct",
                                        "entries_change", "exits_change"};
    if (m < M_FIXED) {
        snprintf(buf, size, "%s", fixed[m]);
        return;
    }
    int j = m - M_FIXED, d = 0;
    for (int seen = -1; d < p->n_dest; d++)
        if (d != us && ++seen == j)
            break;
    char lower[TM_NAME_MAX];
    size_t i = 0;
    for (; p->dest[d].name[i] && i + 1 < sizeof lower; i++)
        lower[i] = (char)((p->dest[d].name[i] >= 'A' && p->dest[d].name[i] <= 'Z') ? p->dest[d].name[i] + 32 : p->dest[d].name[i]);
    lower[i] = '\0';
    snprintf(buf, size, "%s_exports_change_pct", lower);
}

static int same_shape(const tm_params *a, const tm_params *b, tm_error *err)
{
    if (a->n_sectors != b->n_sectors || a->n_dest != b->n_dest)
        return tm_error_set(err, TM_ERR_INPUT, "base and scenario must have the same sectors and destinations (%d x %d vs %d x %d)",
                            a->n_sectors, a->n_dest, b->n_sectors, b->n_dest);
    for (int s = 0; s < a->n_sectors; s++)
        if (strcmp(a->sector[s].name, b->sector[s].name))
            return tm_error_set(err, TM_ERR_INPUT, "sector %d is %s in the base but %s in the scenario", s + 1,
                                a->sector[s].name, b->sector[s].name);
    for (int d = 0; d < a->n_dest; d++)
        if (strcmp(a->dest[d].name, b->dest[d].name))
            return tm_error_set(err, TM_ERR_INPUT, "destination %d is %s in the base but %s in the scenario", d + 1,
                                a->dest[d].name, b->dest[d].name);
    if (a->periods != b->periods || a->start_index != b->start_index || a->periods_per_year != b->periods_per_year)
        return tm_error_set(err, TM_ERR_INPUT, "base (%s, %d periods) and scenario (%s, %d periods) must cover the same periods; "
                            "use --set run.start=... --set run.periods=... for both", a->start, a->periods, b->start, b->periods);
    return 0;
}

/* For the printed table: effects of the order of rounding error (a ratio
 * of two sums that differ only in their last bits) print as 0. */
static double shown(double v)
{
    return fabs(v) < 1e-9 ? 0.0 : v;
}

/* Path of the comparison file without its .h5 suffix. */
static void stem_of(const char *path, char *buf, size_t size)
{
    snprintf(buf, size, "%s", path);
    size_t n = strlen(buf);
    if (n > 3 && strcmp(buf + n - 3, ".h5") == 0)
        buf[n - 3] = '\0';
}

int tm_compare(const tm_compare_options *o, tm_error *err)
{
    int rc = -1;
    int R = o->replicates > 0 ? o->replicates : 1;
    tm_params *pb = NULL, *ps = NULL;
    panel pn = {0};
    effect_row *rows = NULL;
    double *vals = NULL, *diff = NULL;
    hid_t f = -1;
    char tmp[4200] = "";
    char stem[4096], runs_dir[4200], runs_rel[4200];
    const char **sets = malloc(((size_t)o->n_sets + 1) * sizeof *sets);
    if (!sets)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    for (int i = 0; i < o->n_sets; i++)
        sets[i] = o->sets[i];
    if (tm_params_load(o->base_path, sets, o->n_sets, &pb, err) ||
        tm_params_load(o->scenario_path, sets, o->n_sets, &ps, err) || same_shape(pb, ps, err))
        goto done;
    struct stat st;
    if (!o->force && stat(o->output, &st) == 0) {
        tm_error_set(err, TM_ERR_INPUT, "%s exists; use --force to replace it", o->output);
        goto done;
    }
    stem_of(o->output, stem, sizeof stem);
    snprintf(runs_dir, sizeof runs_dir, "%s-runs", stem);
    const char *base_name = strrchr(runs_dir, '/');
    snprintf(runs_rel, sizeof runs_rel, "%s", base_name ? base_name + 1 : runs_dir);
    if (mkdir(runs_dir, 0777) != 0 && errno != EEXIST) {
        tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot create the folder for the runs (%s)", runs_dir, strerror(errno));
        goto done;
    }
    int t0 = 0;
    if (o->from) {
        int idx;
        if (tm_period_parse(o->from, pb->periods_per_year, &idx) || idx < pb->start_index ||
            idx >= pb->start_index + pb->periods) {
            tm_error_set(err, TM_ERR_INPUT, "--from %s: expected a logged period label between %s and the last period",
                         o->from, pb->start);
            goto done;
        }
        t0 = idx - pb->start_index;
    } else if (ps->n_events > 0) {
        t0 = ps->event[0].period > 0 ? ps->event[0].period : 0;
        if (t0 >= ps->periods)
            t0 = 0;
    }
    pn.T = pb->periods;
    pn.S = pb->n_sectors;
    pn.D = pb->n_dest;
    pn.R = R;
    pn.us = tm_params_us_index(pb);
    size_t per_run = (size_t)pn.T * (size_t)pn.S * (size_t)pn.D, all = per_run * (size_t)R;
    for (size_t x = 0; x < N_DIFF; x++)
        for (int k = 0; k < 2; k++)
            if (!(pn.data[x][k] = malloc(all * sizeof(double)))) {
                tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
                goto done;
            }
    uint64_t *seeds = malloc((size_t)R * sizeof *seeds);
    if (!seeds) {
        tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        goto done;
    }
    /* Replicate 1 keeps the base file's seed; later replicates derive theirs
     * from it. Base and scenario of a replicate share the seed, hence every
     * firm's and the environment's random streams. */
    for (int r = 0; r < R; r++)
        seeds[r] = r == 0 ? pb->seed : tm_rng_mix(pb->seed, (uint64_t)r);
    for (int r = 0; r < R; r++) {
        for (int k = 0; k < 2; k++) {
            const char *src = k ? o->scenario_path : o->base_path;
            char seed_set[64], path[4400];
            snprintf(seed_set, sizeof seed_set, "run.seed=%llu", (unsigned long long)seeds[r]);
            sets[o->n_sets] = seed_set;
            tm_params *p = NULL;
            if (tm_params_load(src, sets, o->n_sets + 1, &p, err)) {
                free(seeds);
                goto done;
            }
            snprintf(path, sizeof path, "%s/%s-r%02d.h5", runs_dir, k ? "scenario" : "base", r + 1);
            if (o->progress) {
                fprintf(o->progress, "  replicate %d/%d, %s (seed %llu) -> %s\n", r + 1, R, k ? "scenario" : "base",
                        (unsigned long long)seeds[r], path);
                fflush(o->progress);
            }
            char digest[65];
            tm_simulate_options so = {.threads = o->threads, .force = 1};
            int bad = tm_simulate(p, path, &so, digest, err);
            tm_params_free(p);
            for (size_t x = 0; !bad && x < N_DIFF; x++)
                bad = read_series(path, diff_series[x].name, per_run, pn.data[x][k] + (size_t)r * per_run, err);
            if (bad) {
                free(seeds);
                goto done;
            }
        }
    }

    /* Effects per replicate, then mean and a t interval across replicates. */
    int n_measures = M_FIXED + pn.D - 1, n_rows_s = pn.S + 1;
    vals = malloc((size_t)n_measures * (size_t)n_rows_s * (size_t)R * sizeof *vals);
    rows = calloc((size_t)n_measures * (size_t)n_rows_s, sizeof *rows);
    diff = malloc(all * sizeof *diff);
    if (!vals || !rows || !diff) {
        free(seeds);
        tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        goto done;
    }
    int n_rows = 0;
    for (int s = 0; s < n_rows_s; s++)
        for (int m = 0; m < n_measures; m++) {
            double sum = 0, ss = 0;
            int n = 0;
            for (int r = 0; r < R; r++) {
                double v = measure(&pn, m, r, s, t0);
                vals[((size_t)m * (size_t)n_rows_s + (size_t)s) * (size_t)R + (size_t)r] = v;
                if (isfinite(v)) {
                    sum += v;
                    n++;
                }
            }
            double mean = n ? sum / n : NAN;
            for (int r = 0; r < R; r++) {
                double v = vals[((size_t)m * (size_t)n_rows_s + (size_t)s) * (size_t)R + (size_t)r];
                if (isfinite(v))
                    ss += (v - mean) * (v - mean);
            }
            double half = n > 1 ? student_t975(n - 1) * sqrt(ss / (n - 1) / n) : NAN;
            effect_row *row = &rows[n_rows++];
            snprintf(row->sector, sizeof row->sector, "%s", s == pn.S ? "all" : pb->sector[s].name);
            measure_name(pb, pn.us, m, row->measure, sizeof row->measure);
            row->mean = mean;
            row->ci_low = mean - half;
            row->ci_high = mean + half;
            row->replicates = n;
        }

    /* The comparison file, written under a temporary name and renamed. */
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", o->output, (long)getpid());
    f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) {
        free(seeds);
        tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot create", tmp);
        goto done;
    }
    char label[TM_LABEL_MAX];
    tm_period_label(pb->start_index + t0, pb->periods_per_year, label, sizeof label);
    int bad = tm_h5_attr_string(f, "program", "tradeabm") || tm_h5_attr_string(f, "kind", "comparison") ||
              attr_int(f, "format_version", 1) || tm_h5_attr_string(f, "version", TM_VERSION) ||
              tm_h5_attr_string(f, "git_commit", TM_GIT_COMMIT) || tm_h5_attr_string(f, "base_parameters", o->base_path) ||
              tm_h5_attr_string(f, "scenario_parameters", o->scenario_path) || tm_h5_attr_string(f, "base_sha256", pb->sha256) ||
              tm_h5_attr_string(f, "scenario_sha256", ps->sha256) || attr_int(f, "replicates", R) ||
              tm_h5_attr_string(f, "effect_window_start", label) || tm_h5_attr_string(f, "runs_folder", runs_rel);
    {
        hsize_t dims[1] = {(hsize_t)R};
        hid_t sp = H5Screate_simple(1, dims, NULL);
        hid_t a = H5Acreate2(f, "seeds", H5T_STD_U64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
        bad = bad || a < 0 || H5Awrite(a, H5T_NATIVE_UINT64, seeds) < 0;
        if (a >= 0)
            H5Aclose(a);
        H5Sclose(sp);
    }
    free(seeds);
    /* Dimensions. */
    {
        hid_t g = H5Gcreate2(f, "dimensions", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        const char **names = malloc(((size_t)pn.S + (size_t)pn.T + (size_t)pn.D) * sizeof *names);
        char(*labels)[TM_LABEL_MAX] = malloc((size_t)pn.T * sizeof *labels);
        if (g < 0 || !names || !labels) {
            bad = 1;
        } else {
            for (int s = 0; s < pn.S; s++)
                names[s] = pb->sector[s].name;
            bad = bad || write_names(g, "sectors", names, pn.S);
            for (int d = 0; d < pn.D; d++)
                names[d] = pb->dest[d].name;
            bad = bad || write_names(g, "destinations", names, pn.D);
            for (int t = 0; t < pn.T; t++) {
                tm_period_label(pb->start_index + t, pb->periods_per_year, labels[t], TM_LABEL_MAX);
                names[t] = labels[t];
            }
            bad = bad || write_names(g, "periods", names, pn.T);
        }
        free(names);
        free(labels);
        if (g >= 0)
            H5Gclose(g);
    }
    /* Runs, linked. */
    for (int k = 0; k < 2 && !bad; k++) {
        hid_t g = H5Gcreate2(f, k ? "scenario" : "base", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        bad = g < 0 || tm_h5_attr_string(g, "parameters", k ? o->scenario_path : o->base_path);
        for (int r = 0; r < R && !bad; r++) {
            char target[4400], link[16];
            snprintf(target, sizeof target, "%s/%s-r%02d.h5", runs_rel, k ? "scenario" : "base", r + 1);
            snprintf(link, sizeof link, "r%02d", r + 1);
            bad = H5Lcreate_external(target, "/", g, link, H5P_DEFAULT, H5P_DEFAULT) < 0;
        }
        if (g >= 0)
            H5Gclose(g);
    }
    /* Differences. */
    if (!bad) {
        hid_t g = H5Gcreate2(f, "difference", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        bad = g < 0 || tm_h5_attr_string(g, "dimensions", "replicate, period, sector, destination");
        hsize_t dims[4] = {(hsize_t)R, (hsize_t)pn.T, (hsize_t)pn.S, (hsize_t)pn.D};
        for (size_t x = 0; x < N_DIFF && !bad; x++) {
            for (size_t i = 0; i < all; i++)
                diff[i] = pn.data[x][1][i] - pn.data[x][0][i];
            hid_t sp = H5Screate_simple(4, dims, NULL);
            hid_t d = H5Dcreate2(g, diff_series[x].name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            bad = d < 0 || H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, diff) < 0 ||
                  tm_h5_attr_string(d, "units", diff_series[x].units) || tm_h5_attr_string(d, "description", diff_series[x].doc);
            if (d >= 0)
                H5Dclose(d);
            H5Sclose(sp);
        }
        if (g >= 0)
            H5Gclose(g);
    }
    /* Effects: a table (compound rows) plus every replicate's value. */
    if (!bad) {
        hid_t st64 = H5Tcopy(H5T_C_S1);
        H5Tset_size(st64, 64);
        hid_t ct = H5Tcreate(H5T_COMPOUND, sizeof(effect_row));
        H5Tinsert(ct, "sector", HOFFSET(effect_row, sector), st64);
        H5Tinsert(ct, "measure", HOFFSET(effect_row, measure), st64);
        H5Tinsert(ct, "mean", HOFFSET(effect_row, mean), H5T_NATIVE_DOUBLE);
        H5Tinsert(ct, "ci_low", HOFFSET(effect_row, ci_low), H5T_NATIVE_DOUBLE);
        H5Tinsert(ct, "ci_high", HOFFSET(effect_row, ci_high), H5T_NATIVE_DOUBLE);
        H5Tinsert(ct, "replicates", HOFFSET(effect_row, replicates), H5T_NATIVE_INT);
        hsize_t dims[1] = {(hsize_t)n_rows};
        hid_t sp = H5Screate_simple(1, dims, NULL);
        hid_t d = H5Dcreate2(f, "effects", ct, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        bad = d < 0 || H5Dwrite(d, ct, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) < 0 ||
              tm_h5_attr_string(d, "description", "headline effects, scenario - base, over the effect window: mean across "
                                          "replicates and a 95% t interval (NaN with one replicate)") ||
              tm_h5_attr_string(d, "effect_window_start", label);
        if (d >= 0)
            H5Dclose(d);
        H5Sclose(sp);
        H5Tclose(ct);
        H5Tclose(st64);
        hsize_t vd[3] = {(hsize_t)n_measures, (hsize_t)n_rows_s, (hsize_t)R};
        sp = H5Screate_simple(3, vd, NULL);
        d = H5Dcreate2(f, "effects_by_replicate", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        bad = bad || d < 0 || H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, vals) < 0 ||
              tm_h5_attr_string(d, "dimensions", "measure, sector (last: all), replicate; same order as /effects");
        if (d >= 0)
            H5Dclose(d);
        H5Sclose(sp);
    }
    H5Fclose(f);
    f = -1;
    if (bad || rename(tmp, o->output) != 0) {
        unlink(tmp);
        tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot write the comparison file", o->output);
        goto done;
    }
    if (o->report) {
        FILE *out = o->report;
        fprintf(out, "Headline effects, scenario - base, %s to the end; mean [95%% CI] over %d replicate%s\n", label, R,
                R == 1 ? "" : "s");
        fprintf(out, "%-16s", "sector");
        for (int m = 0; m < n_measures; m++)
            fprintf(out, " %27s", rows[m].measure);
        fprintf(out, "\n");
        for (int s = 0; s < n_rows_s; s++) {
            fprintf(out, "%-16s", rows[s * n_measures].sector);
            for (int m = 0; m < n_measures; m++) {
                const effect_row *row = &rows[s * n_measures + m];
                char text[64];
                if (R > 1)
                    snprintf(text, sizeof text, "%.3g [%.3g, %.3g]", shown(row->mean), shown(row->ci_low),
                             shown(row->ci_high));
                else
                    snprintf(text, sizeof text, "%.3g", shown(row->mean));
                fprintf(out, " %27s", text);
            }
            fprintf(out, "\n");
        }
    }
    rc = 0;
done:
    if (f >= 0) {
        H5Fclose(f);
        unlink(tmp);
    }
    for (size_t x = 0; x < N_DIFF; x++)
        for (int k = 0; k < 2; k++)
            free(pn.data[x][k]);
    free(vals);
    free(rows);
    free(diff);
    free(sets);
    tm_params_free(pb);
    tm_params_free(ps);
    return rc;
}

static const char *const compare_usage =
    "usage: tradeabm compare BASE.yaml SCENARIO.yaml [options]\n"
    "\n"
    "Run a base and a scenario with common random numbers (the same seed for\n"
    "both in each replicate), store both runs, their difference and headline\n"
    "effects per sector with 95% confidence intervals across replicates.\n"
    "\n"
    "  -o, --output FILE.h5   comparison file (default: compare-<scenario>.h5); the\n"
    "                         runs go to FILE-runs/ and are linked from it\n"
    "      --replicates N     replicates (default 1; 2 or more give intervals)\n"
    "      --from PERIOD      start of the effect window (default: the scenario's\n"
    "                         first event, else the first period)\n"
    "      --set KEY=VALUE    override a parameter in both files (repeatable)\n"
    "      --threads N        OpenMP threads per run\n"
    "      --force            replace FILE.h5 and its runs\n"
    "  -q, --quiet            print nothing but errors\n"
    "  -h, --help             this help\n";

int tm_cli_compare(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'}, {"replicates", required_argument, 0, 'r'},
        {"from", required_argument, 0, 'F'},   {"set", required_argument, 0, 's'},
        {"threads", required_argument, 0, 't'}, {"force", no_argument, 0, 'f'},
        {"quiet", no_argument, 0, 'q'},        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    tm_compare_options co = {.replicates = 1};
    const char *sets[256];
    int n_sets = 0, quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        char *end;
        long v;
        switch (c) {
        case 'o':
            co.output = optarg;
            break;
        case 'r':
        case 't':
            v = strtol(optarg, &end, 10);
            if (!*optarg || *end || v < 1 || v > (c == 'r' ? 99 : 4096)) {
                fprintf(stderr, "tradeabm: --%s %s: expected a whole number from 1 to %d\n\n%s",
                        c == 'r' ? "replicates" : "threads", optarg, c == 'r' ? 99 : 4096, compare_usage);
                return 2;
            }
            if (c == 'r')
                co.replicates = (int)v;
            else
                co.threads = (int)v;
            break;
        case 'F':
            co.from = optarg;
            break;
        case 's':
            if (n_sets == 255) {
                fprintf(stderr, "tradeabm: too many --set options\n");
                return 2;
            }
            sets[n_sets++] = optarg;
            break;
        case 'f':
            co.force = 1;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            fputs(compare_usage, stdout);
            return 0;
        default:
            fprintf(stderr, "\n%s", compare_usage);
            return 2;
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "tradeabm: compare: expected BASE.yaml and SCENARIO.yaml\n\n%s", compare_usage);
        return 2;
    }
    co.base_path = argv[optind];
    co.scenario_path = argv[optind + 1];
    char output[4096];
    if (!co.output) {
        const char *b = strrchr(co.scenario_path, '/');
        char stem[1024];
        snprintf(stem, sizeof stem, "%s", b ? b + 1 : co.scenario_path);
        char *dot = strrchr(stem, '.');
        if (dot && dot != stem)
            *dot = '\0';
        snprintf(output, sizeof output, "compare-%s.h5", stem);
        co.output = output;
    }
    co.sets = sets;
    co.n_sets = n_sets;
    co.report = quiet ? NULL : stdout;
    co.progress = quiet ? NULL : stdout;
    tm_error err = {0};
    if (tm_compare(&co, &err)) {
        return tm_cli_fail(&err);
    }
    if (!quiet)
        printf("wrote %s\n", co.output);
    return 0;
}
