#include "experiments/compare.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/rng.h"
#include "base/stats.h"
#include "base/tmpfile.h"
#include "experiments/outcomes.h"
#include "io/h5util.h"
#include "io/output.h"
#include "io/reader.h"
#include "io/runner.h"
#include "tm_build_info.h"

#define COMPARE_FORMAT_VERSION 1

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
enum { X_VALUE = 0, X_SERVING, X_ENTRANTS, X_EXITERS, X_TARIFF };

/* The runs' series: data[x][k] for series x of side k (0 base, 1
 * scenario), [R][T][S][D]; by_set[k], [R][T][S][NS]. */
typedef struct {
    int T, S, D, NS, R;
    double *data[N_DIFF][2];
    double *by_set[2];
} panel;

static size_t cell(const panel *pn, int r, int t)
{
    return ((size_t)r * (size_t)pn->T + (size_t)t) * (size_t)pn->S * (size_t)pn->D;
}

/* Read one run's series into replicate r of side k. */
static int read_run(panel *pn, const char *path, int k, int r, tm_error *err)
{
    tm_reader *rd = NULL;
    if (tm_reader_open(path, &rd, err))
        return -1;
    size_t sd = (size_t)pn->S * (size_t)pn->D, ss = (size_t)pn->S * (size_t)pn->NS;
    int rc = 0;
    for (size_t x = 0; x < N_DIFF && !rc; x++)
        rc = tm_reader_series(rd, diff_series[x].name, 0, pn->T, sd, pn->data[x][k] + cell(pn, r, 0), err);
    if (!rc)
        rc = tm_reader_series(rd, "firms_by_market_set", 0, pn->T, ss, pn->by_set[k] + (size_t)r * (size_t)pn->T * ss,
                              err);
    tm_reader_close(rd);
    return rc;
}

/* The window [t0, t1) of replicate r, side k. */
static void fill_window(tm_stats_window *w, const panel *pn, int k, int r, int t0, int t1)
{
    size_t ss = (size_t)pn->S * (size_t)pn->NS;
    tm_stats_window_clear(w);
    for (int t = t0; t < t1; t++) {
        size_t c = cell(pn, r, t);
        tm_stats_period p = {pn->data[X_VALUE][k] + c,
                             pn->data[X_SERVING][k] + c,
                             pn->data[X_ENTRANTS][k] + c,
                             pn->data[X_EXITERS][k] + c,
                             pn->data[X_TARIFF][k] + c,
                             pn->by_set[k] + ((size_t)r * (size_t)pn->T + (size_t)t) * ss,
                             t > 0 ? pn->data[X_SERVING][k] + cell(pn, r, t - 1) : NULL};
        tm_stats_window_add(w, &p);
    }
}

/* The headline outcomes, per sector and for all sectors: the US share of
 * export value, exports to the US and elsewhere, entries and exits, and
 * exports to each other destination (names in docs/statistics.md). */
static int measure_names(const tm_params *p, char (*names)[64], int max)
{
    int us = tm_params_us_index(p), n = 0;
    snprintf(names[n++], 64, "export_share.%s", p->dest[us].name);
    snprintf(names[n++], 64, "export_value.%s", p->dest[us].name);
    snprintf(names[n++], 64, "non_us_export_value");
    snprintf(names[n++], 64, "entrants");
    snprintf(names[n++], 64, "exiters");
    for (int d = 0; d < p->n_dest && n < max; d++)
        if (d != us)
            snprintf(names[n++], 64, "export_value.%s", p->dest[d].name);
    return n;
}

static int same_shape(const tm_params *a, const tm_params *b, tm_error *err)
{
    if (a->n_sectors != b->n_sectors || a->n_dest != b->n_dest)
        return tm_error_set(err, TM_ERR_INPUT,
                            "base and scenario must have the same sectors and destinations (%d x %d vs %d x %d)",
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
        return tm_error_set(err, TM_ERR_INPUT,
                            "base (%s, %d periods) and scenario (%s, %d periods) must cover the same periods; "
                            "use --set run.start=... --set run.periods=... for both",
                            a->start, a->periods, b->start, b->periods);
    return 0;
}

/* Path of the comparison file without its .h5 suffix. */
static void stem_of(const char *path, char *buf, size_t size)
{
    snprintf(buf, size, "%s", path);
    size_t n = strlen(buf);
    if (n > 3 && strcmp(buf + n - 3, ".h5") == 0)
        buf[n - 3] = '\0';
}

/* Mean and 95% t interval across the R replicates' effects of outcome o. */
static void summarise(const double *by_replicate, int R, const tm_stats_outcome *o, tm_compare_effect *row)
{
    tm_stats_acc acc = {0};
    for (int r = 0; r < R; r++)
        tm_stats_acc_add(&acc, by_replicate[r]);
    tm_stats_summary sum = tm_stats_acc_summary(&acc);
    snprintf(row->units, sizeof row->units, "%s", tm_stats_effect_units(o));
    row->mean = sum.mean;
    row->ci_low = sum.ci_low;
    row->ci_high = sum.ci_high;
    row->replicates = sum.n;
}

/* One window against the base: its outcome resolved (out) and its labels
 * turned into logged periods [t0, t1). */
static int check_window(const tm_params *pb, const tm_outcomes *names, const tm_compare_window *w,
                        tm_stats_outcome *out, int *t0, int *t1, tm_error *err)
{
    int a, b;
    if (tm_outcomes_parse(names, w->outcome, out, err))
        return -1;
    if (tm_period_parse(w->first, pb->periods_per_year, &a) || tm_period_parse(w->last, pb->periods_per_year, &b) ||
        a < pb->start_index || b < a || b >= pb->start_index + pb->periods)
        return tm_error_set(err, TM_ERR_INPUT,
                            "window %s to %s: expected logged period labels in order, from %s within the %d "
                            "periods run",
                            w->first, w->last, pb->start, pb->periods);
    *t0 = a - pb->start_index;
    *t1 = b - pb->start_index + 1;
    return 0;
}

int tm_compare_window_check(const tm_params *base, const tm_compare_window *w, tm_error *err)
{
    tm_outcomes names;
    tm_stats_outcome out;
    int t0, t1;
    if (tm_outcomes_init(&names, base, 0, err))
        return -1;
    int rc = check_window(base, &names, w, &out, &t0, &t1, err);
    tm_outcomes_free(&names);
    return rc;
}

/* The caller's windows, checked against the base before any run. */
static int check_windows(const tm_params *pb, const tm_compare_options *o, tm_stats_outcome *out, int *t0, int *t1,
                         tm_error *err)
{
    tm_outcomes names;
    if (tm_outcomes_init(&names, pb, 0, err))
        return -1;
    int rc = 0;
    for (int i = 0; i < o->n_windows && !rc; i++)
        rc = check_window(pb, &names, &o->windows[i], &out[i], &t0[i], &t1[i], err);
    tm_outcomes_free(&names);
    return rc;
}

/* The effect of each of the caller's windows, per replicate, then across. */
static int window_effects(const tm_params *pb, const panel *pn, const tm_compare_options *o,
                          const tm_stats_outcome *out, const int *t0, const int *t1, tm_error *err)
{
    tm_outcomes names;
    tm_stats_window *w[2] = {NULL, NULL};
    double *vals = malloc((size_t)pn->R * sizeof *vals);
    int rc = -1;
    if (!vals)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    if (tm_outcomes_init(&names, pb, 0, err))
        goto done_vals;
    if (tm_stats_window_open(&names.shape, pb->periods_per_year, &w[0], err) ||
        tm_stats_window_open(&names.shape, pb->periods_per_year, &w[1], err))
        goto done;
    for (int i = 0; i < o->n_windows; i++) {
        for (int r = 0; r < pn->R; r++) {
            for (int k = 0; k < 2; k++)
                fill_window(w[k], pn, k, r, t0[i], t1[i]);
            vals[r] = tm_stats_effect(&out[i], tm_stats_outcome_value(w[0], &out[i]),
                                      tm_stats_outcome_value(w[1], &out[i]));
        }
        tm_compare_effect *e = &o->windows[i].effect;
        memset(e, 0, sizeof *e);
        summarise(vals, pn->R, &out[i], e);
        snprintf(e->measure, sizeof e->measure, "%s", o->windows[i].outcome);
    }
    rc = 0;
done:
    tm_stats_window_close(w[0]);
    tm_stats_window_close(w[1]);
    tm_outcomes_free(&names);
done_vals:
    free(vals);
    return rc;
}

/* The effects per replicate over the window (vals[m][s][r]), across
 * replicates (rows) and per replicate in each period alone
 * (by_period[m][s][r][t], for figures over time). */
static int effects(const tm_params *pb, const panel *pn, int t0, double *vals, double *by_period,
                   tm_compare_result *res, tm_error *err)
{
    tm_outcomes names;
    tm_stats_window *w[2] = {NULL, NULL};
    tm_stats_outcome *out = NULL;
    char measures[5 + TM_MAX_DEST][64];
    int M = measure_names(pb, measures, 5 + TM_MAX_DEST), SR = pn->S + 1, R = pn->R, rc = -1;
    if (tm_outcomes_init(&names, pb, 0, err))
        return -1;
    out = malloc((size_t)M * (size_t)SR * sizeof *out);
    res->rows = calloc((size_t)M * (size_t)SR, sizeof *res->rows);
    if (!out || !res->rows) {
        tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        goto done;
    }
    res->n_measures = M;
    res->n_sector_rows = SR;
    for (int s = 0; s < SR; s++)
        for (int m = 0; m < M; m++) {
            char name[TM_STATS_NAME_MAX];
            snprintf(name, sizeof name, "%s%s%s", measures[m], s < pn->S ? "." : "",
                     s < pn->S ? pb->sector[s].name : "");
            if (tm_outcomes_parse(&names, name, &out[s * M + m], err))
                goto done;
        }
    if (tm_stats_window_open(&names.shape, pb->periods_per_year, &w[0], err) ||
        tm_stats_window_open(&names.shape, pb->periods_per_year, &w[1], err))
        goto done;
    for (int r = 0; r < R; r++)
        for (int t = -1; t < pn->T; t++) {
            /* t = -1: the effect window; t >= 0: period t alone. */
            for (int k = 0; k < 2; k++)
                fill_window(w[k], pn, k, r, t < 0 ? t0 : t, t < 0 ? pn->T : t + 1);
            for (int s = 0; s < SR; s++)
                for (int m = 0; m < M; m++) {
                    const tm_stats_outcome *o = &out[s * M + m];
                    double e = tm_stats_effect(o, tm_stats_outcome_value(w[0], o), tm_stats_outcome_value(w[1], o));
                    size_t at = ((size_t)m * (size_t)SR + (size_t)s) * (size_t)R + (size_t)r;
                    if (t < 0)
                        vals[at] = e;
                    else
                        by_period[at * (size_t)pn->T + (size_t)t] = e;
                }
        }
    for (int s = 0; s < SR; s++)
        for (int m = 0; m < M; m++) {
            tm_compare_effect *row = &res->rows[s * M + m];
            summarise(vals + ((size_t)m * (size_t)SR + (size_t)s) * (size_t)R, R, &out[s * M + m], row);
            snprintf(row->sector, sizeof row->sector, "%s", s == pn->S ? "all" : pb->sector[s].name);
            snprintf(row->measure, sizeof row->measure, "%s", measures[m]);
        }
    rc = 0;
done:
    tm_stats_window_close(w[0]);
    tm_stats_window_close(w[1]);
    free(out);
    tm_outcomes_free(&names);
    return rc;
}

/* A dataset of doubles with its description attributes. */
static int write_doubles(hid_t loc, const char *name, int rank, const hsize_t *dims, const double *data,
                         const char *units, const char *description)
{
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(loc, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int bad = d < 0 || H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0 ||
              tm_h5_describe(d, units, description);
    if (d >= 0)
        H5Dclose(d);
    H5Sclose(sp);
    return bad;
}

static int write_effects(hid_t f, const tm_compare_result *res, const double *vals, const double *by_period,
                         int periods)
{
    hid_t st64 = H5Tcopy(H5T_C_S1), st32 = H5Tcopy(H5T_C_S1);
    H5Tset_size(st64, 64);
    H5Tset_size(st32, 32);
    hid_t ct = H5Tcreate(H5T_COMPOUND, sizeof(tm_compare_effect));
    H5Tinsert(ct, "sector", HOFFSET(tm_compare_effect, sector), st64);
    H5Tinsert(ct, "measure", HOFFSET(tm_compare_effect, measure), st64);
    H5Tinsert(ct, "units", HOFFSET(tm_compare_effect, units), st32);
    H5Tinsert(ct, "mean", HOFFSET(tm_compare_effect, mean), H5T_NATIVE_DOUBLE);
    H5Tinsert(ct, "ci_low", HOFFSET(tm_compare_effect, ci_low), H5T_NATIVE_DOUBLE);
    H5Tinsert(ct, "ci_high", HOFFSET(tm_compare_effect, ci_high), H5T_NATIVE_DOUBLE);
    H5Tinsert(ct, "replicates", HOFFSET(tm_compare_effect, replicates), H5T_NATIVE_INT);
    hsize_t n = (hsize_t)res->n_measures * (hsize_t)res->n_sector_rows;
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(f, "effects", ct, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int bad = d < 0 || H5Dwrite(d, ct, H5S_ALL, H5S_ALL, H5P_DEFAULT, res->rows) < 0 ||
              tm_h5_describe(d, "",
                             "effects of named outcomes (docs/statistics.md), scenario - base, over the "
                             "effect window: mean across replicates and a 95% t interval (NaN with one "
                             "replicate); units per row") ||
              tm_h5_attr_string(d, "effect_window_start", res->window_start);
    if (d >= 0)
        H5Dclose(d);
    H5Sclose(sp);
    H5Tclose(ct);
    H5Tclose(st64);
    H5Tclose(st32);
    hsize_t vd[4] = {(hsize_t)res->n_measures, (hsize_t)res->n_sector_rows, (hsize_t)res->replicates, (hsize_t)periods};
    return bad ||
           write_doubles(f, "effects_by_replicate", 3, vd, vals, "",
                         "measure, sector (last: all), replicate; same order as /effects; units as /effects") ||
           write_doubles(f, "effects_by_period", 4, vd, by_period, "",
                         "the effect in each logged period alone: measure, sector (last: all), replicate, period; "
                         "same order and units as /effects");
}

static int write_file(hid_t f, const tm_compare_options *o, const tm_params *pb, const tm_params *ps, const panel *pn,
                      const uint64_t *seeds, const char *runs_rel, const tm_compare_result *res, const double *vals,
                      const double *by_period)
{
    long long format = COMPARE_FORMAT_VERSION, R = pn->R;
    int bad = tm_h5_attr_string(f, "program", "tradeabm") || tm_h5_attr_string(f, "kind", "comparison") ||
              tm_h5_attr_scalar(f, "format_version", H5T_NATIVE_LLONG, &format) ||
              tm_h5_attr_string(f, "version", TM_VERSION) || tm_h5_attr_string(f, "git_commit", TM_GIT_COMMIT) ||
              tm_h5_attr_string(f, "base_parameters", o->base_path) ||
              tm_h5_attr_string(f, "scenario_parameters", o->scenario_path) ||
              tm_h5_attr_string(f, "base_sha256", pb->sha256) || tm_h5_attr_string(f, "scenario_sha256", ps->sha256) ||
              tm_h5_attr_scalar(f, "replicates", H5T_NATIVE_LLONG, &R) ||
              tm_h5_attr_string(f, "effect_window_start", res->window_start) ||
              tm_h5_attr_string(f, "runs_folder", runs_rel);
    {
        hsize_t dims[1] = {(hsize_t)pn->R};
        hid_t sp = H5Screate_simple(1, dims, NULL);
        hid_t a = H5Acreate2(f, "seeds", H5T_STD_U64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
        bad = bad || a < 0 || H5Awrite(a, H5T_NATIVE_UINT64, seeds) < 0;
        if (a >= 0)
            H5Aclose(a);
        H5Sclose(sp);
    }
    /* Dimensions. */
    hid_t g = H5Gcreate2(f, "dimensions", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const char **names = malloc(((size_t)pn->S + (size_t)pn->T + (size_t)pn->D) * sizeof *names);
    char(*labels)[TM_LABEL_MAX] = malloc((size_t)pn->T * sizeof *labels);
    bad = bad || g < 0 || !names || !labels;
    if (!bad) {
        for (int s = 0; s < pn->S; s++)
            names[s] = pb->sector[s].name;
        bad = tm_h5_write_strings(g, "sectors", names, (hsize_t)pn->S, "sector names, in parameter order");
        for (int d = 0; d < pn->D; d++)
            names[d] = pb->dest[d].name;
        bad = bad || tm_h5_write_strings(g, "destinations", names, (hsize_t)pn->D, "destination names");
        for (int t = 0; t < pn->T; t++) {
            tm_period_label(pb->start_index + t, pb->periods_per_year, labels[t], TM_LABEL_MAX);
            names[t] = labels[t];
        }
        bad = bad || tm_h5_write_strings(g, "periods", names, (hsize_t)pn->T, "logged period labels");
    }
    free(names);
    free(labels);
    if (g >= 0)
        H5Gclose(g);
    /* Runs, linked. */
    for (int k = 0; k < 2 && !bad; k++) {
        g = H5Gcreate2(f, k ? "scenario" : "base", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        bad = g < 0 || tm_h5_attr_string(g, "parameters", k ? o->scenario_path : o->base_path);
        for (int r = 0; r < pn->R && !bad; r++) {
            char target[4400], link[16];
            snprintf(target, sizeof target, "%s/%s-r%02d.h5", runs_rel, k ? "scenario" : "base", r + 1);
            snprintf(link, sizeof link, "r%02d", r + 1);
            bad = H5Lcreate_external(target, "/", g, link, H5P_DEFAULT, H5P_DEFAULT) < 0;
        }
        if (g >= 0)
            H5Gclose(g);
    }
    /* Differences. */
    size_t all = cell(pn, pn->R, 0);
    double *diff = bad ? NULL : malloc(all * sizeof *diff);
    g = bad || !diff ? -1 : H5Gcreate2(f, "difference", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    bad = bad || g < 0 || tm_h5_attr_string(g, "dimensions", "replicate, period, sector, destination");
    hsize_t dims[4] = {(hsize_t)pn->R, (hsize_t)pn->T, (hsize_t)pn->S, (hsize_t)pn->D};
    for (size_t x = 0; x < N_DIFF && !bad; x++) {
        for (size_t i = 0; i < all; i++)
            diff[i] = pn->data[x][1][i] - pn->data[x][0][i];
        bad = write_doubles(g, diff_series[x].name, 4, dims, diff, diff_series[x].units, diff_series[x].doc);
    }
    if (g >= 0)
        H5Gclose(g);
    free(diff);
    return bad || write_effects(f, res, vals, by_period, pn->T) ? -1 : 0;
}

void tm_compare_result_free(tm_compare_result *res)
{
    free(res->rows);
    res->rows = NULL;
}

int tm_compare(const tm_compare_options *o, tm_compare_result *res, tm_error *err)
{
    memset(res, 0, sizeof *res);
    int rc = -1, R = o->replicates > 0 ? o->replicates : 1;
    tm_params *pb = NULL, *ps = NULL;
    panel pn = {0};
    double *vals = NULL, *by_period = NULL;
    uint64_t *seeds = NULL;
    tm_stats_outcome *win_out = NULL;
    int *win_t = NULL;
    hid_t f = -1;
    char tmp[4200] = "";
    char stem[4096], runs_dir[4200] = "", runs_rel[4200];
    int created_runs_dir = 0, runs_written = 0;
    const char **sets = malloc(((size_t)o->n_sets + 1) * sizeof *sets);
    if (!sets)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    for (int i = 0; i < o->n_sets; i++)
        sets[i] = o->sets[i];
    if (tm_params_load(o->base_path, sets, o->n_sets, &pb, err) ||
        tm_params_load(o->scenario_path, sets, o->n_sets, &ps, err) || same_shape(pb, ps, err))
        goto done;
    /* Every check before anything is created: the output path (exit 2 for
     * a missing or unwritable folder), then the window. */
    if (tm_output_check_path(o->output, o->force, err))
        goto done;
    if (o->n_windows > 0) {
        win_out = malloc((size_t)o->n_windows * sizeof *win_out);
        win_t = malloc(2 * (size_t)o->n_windows * sizeof *win_t);
        if (!win_out || !win_t)
            goto oom;
        if (check_windows(pb, o, win_out, win_t, win_t + o->n_windows, err))
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
    stem_of(o->output, stem, sizeof stem);
    snprintf(runs_dir, sizeof runs_dir, "%s-runs", stem);
    const char *base_name = strrchr(runs_dir, '/');
    snprintf(runs_rel, sizeof runs_rel, "%s", base_name ? base_name + 1 : runs_dir);
    if (mkdir(runs_dir, 0777) == 0)
        created_runs_dir = 1;
    else if (errno != EEXIST) {
        tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot create the folder for the runs (%s)", runs_dir, strerror(errno));
        goto done;
    }
    pn.T = pb->periods;
    pn.S = pb->n_sectors;
    pn.D = pb->n_dest;
    pn.NS = 1 << pb->n_dest;
    pn.R = R;
    size_t all = cell(&pn, R, 0), all_sets = all / (size_t)pn.D * (size_t)pn.NS;
    for (int k = 0; k < 2; k++) {
        for (size_t x = 0; x < N_DIFF; x++)
            if (!(pn.data[x][k] = malloc(all * sizeof(double))))
                goto oom;
        if (!(pn.by_set[k] = malloc(all_sets * sizeof(double))))
            goto oom;
    }
    if (!(seeds = malloc((size_t)R * sizeof *seeds)))
        goto oom;
    /* Replicate 1 keeps the base file's seed; later replicates derive theirs
     * from it. Base and scenario of a replicate share the seed, hence every
     * firm's and the environment's random streams. */
    for (int r = 0; r < R; r++)
        seeds[r] = r == 0 ? pb->seed : tm_rng_mix(pb->seed, (uint64_t)r);
    for (int r = 0; r < R; r++)
        for (int k = 0; k < 2; k++) {
            char seed_set[64], path[4400];
            snprintf(seed_set, sizeof seed_set, "run.seed=%llu", (unsigned long long)seeds[r]);
            sets[o->n_sets] = seed_set;
            tm_params *p = NULL;
            if (tm_params_load(k ? o->scenario_path : o->base_path, sets, o->n_sets + 1, &p, err))
                goto done;
            snprintf(path, sizeof path, "%s/%s-r%02d.h5", runs_dir, k ? "scenario" : "base", r + 1);
            tm_progress_report_to(&o->progress, k ? "scenario" : "base", r + 1, R, path, &seeds[r]);
            char digest[65];
            tm_simulate_options so = {.threads = o->threads, .force = 1};
            int bad = tm_simulate(p, path, &so, digest, err);
            runs_written = 2 * r + k + 1;
            tm_params_free(p);
            if (bad || read_run(&pn, path, k, r, err))
                goto done;
        }

    res->replicates = R;
    tm_period_label(pb->start_index + t0, pb->periods_per_year, res->window_start, sizeof res->window_start);
    size_t n_vals = (size_t)(5 + TM_MAX_DEST) * (size_t)(pn.S + 1) * (size_t)R;
    vals = malloc(n_vals * sizeof *vals);
    by_period = malloc(n_vals * (size_t)pn.T * sizeof *by_period);
    if (!vals || !by_period)
        goto oom;
    if (effects(pb, &pn, t0, vals, by_period, res, err) ||
        (o->n_windows > 0 && window_effects(pb, &pn, o, win_out, win_t, win_t + o->n_windows, err)))
        goto done;

    /* The comparison file, written under a temporary name and renamed. */
    char tmp_stem[sizeof tmp];
    tm_tmpfile_stem(o->output, tmp_stem, sizeof tmp_stem - 32);
    tm_h5_quiet();
    f = tm_h5_create_temp(tmp_stem, tmp, sizeof tmp, H5P_DEFAULT, H5P_DEFAULT, err);
    if (f < 0)
        goto done;
    int bad = write_file(f, o, pb, ps, &pn, seeds, runs_rel, res, vals, by_period);
    H5Fclose(f);
    f = -1;
    if (bad || rename(tmp, o->output) != 0) {
        unlink(tmp);
        tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot write the comparison file", o->output);
        goto done;
    }
    rc = 0;
    goto done;
oom:
    tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
done:
    if (f >= 0) {
        H5Fclose(f);
        unlink(tmp);
    }
    if (rc)
        tm_compare_result_free(res);
    if (rc && created_runs_dir) {
        /* A failed comparison leaves nothing behind: the runs it wrote
         * into the folder it created go with the folder. */
        for (int i = 0; i < runs_written; i++) {
            char path[4400];
            snprintf(path, sizeof path, "%s/%s-r%02d.h5", runs_dir, i % 2 ? "scenario" : "base", i / 2 + 1);
            unlink(path);
        }
        rmdir(runs_dir);
    }
    for (int k = 0; k < 2; k++) {
        for (size_t x = 0; x < N_DIFF; x++)
            free(pn.data[x][k]);
        free(pn.by_set[k]);
    }
    free(seeds);
    free(win_out);
    free(win_t);
    free(vals);
    free(by_period);
    free(sets);
    tm_params_free(pb);
    tm_params_free(ps);
    return rc;
}
