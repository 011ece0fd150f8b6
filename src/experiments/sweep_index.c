#include "experiments/sweep.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/stats.h"
#include "experiments/sweep_private.h"
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
    /* A conversion buffer sized to the block (h5util.h): HDF5's default
     * zeroes 1 MiB for every write of strings. */
    hid_t dxpl = tm_h5_transfer(d, mem_type, count);
    int rc = dxpl < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL) < 0 ||
             H5Dwrite(d, mem_type, ms, fs, dxpl, buf) < 0;
    if (dxpl >= 0)
        H5Pclose(dxpl);
    H5Sclose(ms);
    H5Sclose(fs);
    return rc ? -1 : 0;
}

/* Periods of a run's summary window: the last summary_periods logged
 * periods (all if fewer), k of T; `first` is the first period kept, one
 * before the window when there is one (the "period before" of market
 * persistence), and n = T - first the periods kept. */
static void window_periods(const tm_sweep *s, int T, int *k, int *first, int *n)
{
    *k = tm_sweep_summary_periods(s) < T ? tm_sweep_summary_periods(s) : T;
    *first = T - *k - (T > *k);
    *n = T - *first;
}

/* The outcomes over the window from its n kept periods: `series` holds
 * export_value, firms_serving, entrants, exiters and tariff_paid, each
 * [n][sectors x destinations], and by_set [n][sectors x market sets];
 * names are resolved against the run's own sectors and destinations (NaN
 * for a name the run lacks). The one computation of a run's outcomes,
 * whether its periods were read from its file or kept while it ran. */
static int window_outcomes(const tm_sweep *s, const tm_stats_shape *shape, int periods_per_year, int n, int k,
                           const double *series, const double *by_set, double *values)
{
    tm_error err = {0};
    tm_stats_window *w = NULL;
    if (tm_stats_window_open(shape, periods_per_year, &w, &err))
        return -1;
    size_t sd = (size_t)shape->n_sectors * (size_t)shape->n_dest, ss = (size_t)shape->n_sectors << shape->n_dest;
    size_t per_series = (size_t)n * sd;
    for (int t = n - k; t < n; t++) {
        size_t c = (size_t)t * sd;
        tm_stats_period p = {series + c,
                             series + per_series + c,
                             series + 2 * per_series + c,
                             series + 3 * per_series + c,
                             series + 4 * per_series + c,
                             by_set + (size_t)t * ss,
                             t > 0 ? series + per_series + c - sd : NULL};
        tm_stats_window_add(w, &p);
    }
    for (int i = 0; i < tm_sweep_n_outcomes(s); i++) {
        tm_stats_outcome o;
        values[i] = tm_stats_outcome_parse(tm_sweep_outcome_name(s, i), shape, &o, &err) == 0
                        ? tm_stats_outcome_value(w, &o)
                        : NAN;
    }
    tm_stats_window_close(w);
    return 0;
}

/* The outcomes of one complete run from its file. */
static int read_outcomes(const tm_sweep *s, tm_reader *rd, int periods_per_year, double *values)
{
    static const char *const names[] = {"export_value", "firms_serving", "entrants", "exiters", "tariff_paid"};
    tm_error err = {0};
    tm_stats_shape shape = {0};
    double *buf = NULL;
    int T = 0, rc = -1;
    if (tm_reader_names(rd, "sectors", &shape.sectors, &shape.n_sectors, &err) ||
        tm_reader_names(rd, "destinations", &shape.dests, &shape.n_dest, &err) || tm_reader_periods(rd, &T, &err) ||
        shape.n_dest > 16 || T < 1)
        return -1;
    shape.us = tm_stats_us_index(shape.dests, shape.n_dest);
    int k, first, n;
    window_periods(s, T, &k, &first, &n);
    size_t sd = (size_t)shape.n_sectors * (size_t)shape.n_dest, ss = (size_t)shape.n_sectors << shape.n_dest;
    size_t per_series = (size_t)n * sd;
    buf = malloc((5 * per_series + (size_t)n * ss) * sizeof *buf);
    if (!buf)
        goto done;
    for (int x = 0; x < 5; x++)
        if (tm_reader_series(rd, names[x], first, n, sd, buf + (size_t)x * per_series, &err))
            goto done;
    double *by_set = buf + 5 * per_series;
    if (tm_reader_series(rd, "firms_by_market_set", first, n, ss, by_set, &err))
        goto done;
    rc = window_outcomes(s, &shape, periods_per_year, n, k, buf, by_set, values);
done:
    free(buf);
    return rc;
}

int tm_sweep_condition_parse(const char *text, tm_sweep_condition *c, tm_error *err)
{
    memset(c, 0, sizeof *c);
    snprintf(c->text, sizeof c->text, "%s", text);
    c->min_share = 1;
    const char *dot = strncmp(text, "regime.", 7) == 0 ? text + 7 : NULL;
    const char *eq = dot ? strchr(dot, '=') : NULL;
    const char *ge = eq ? strstr(eq + 1, ">=") : NULL;
    size_t dest_len = eq ? (size_t)(eq - dot) : 0;
    size_t regime_len = eq ? (ge ? (size_t)(ge - eq - 1) : strlen(eq + 1)) : 0;
    if (!eq || dest_len == 0 || dest_len >= TM_NAME_MAX || regime_len == 0 || regime_len >= TM_NAME_MAX ||
        memchr(dot, '.', dest_len))
        return tm_error_set(err, TM_ERR_INPUT,
                            "--condition %s: expected regime.DEST=REGIME or regime.DEST=REGIME>=SHARE "
                            "(e.g. regime.US=tariffs>=0.5)",
                            text);
    memcpy(c->dest, dot, dest_len);
    memcpy(c->regime, eq + 1, regime_len);
    if (ge) {
        char *end = NULL;
        errno = 0;
        c->min_share = strtod(ge + 2, &end);
        if (errno || end == ge + 2 || *end || !(c->min_share >= 0 && c->min_share <= 1))
            return tm_error_set(err, TM_ERR_INPUT, "--condition %s: the share after >= must be a number in [0, 1]",
                                text);
    }
    return 0;
}

/* Regimes of the runs, one column per (destination, regime), from the
 * first complete run's parameters (a sweep cannot add regimes, so every
 * run has the same). */
typedef struct {
    int n_dest, n_cols;
    int first[TM_MAX_DEST + 1]; /* column of destination d's regime 0; first[n_dest] = n_cols */
    char name[TM_MAX_DEST * TM_MAX_REGIMES][2 * TM_NAME_MAX + 1];
} regime_columns;

/* The columns of a run's parameters: destination by destination, its
 * regimes in order, named destination.regime. */
static void regime_columns_of(const tm_params *p, regime_columns *rc)
{
    memset(rc, 0, sizeof *rc);
    rc->n_dest = p->n_dest;
    for (int d = 0; d < p->n_dest; d++) {
        rc->first[d] = rc->n_cols;
        for (int g = 0; g < p->dest[d].n_regimes; g++)
            snprintf(rc->name[rc->n_cols++], sizeof rc->name[0], "%s.%s", p->dest[d].name, p->dest[d].regime[g].name);
    }
    rc->first[p->n_dest] = rc->n_cols;
}

static int find_regimes(const tm_sweep *s, const char *dir, const tm_sweep_run_summary *fresh, regime_columns *rc)
{
    memset(rc, 0, sizeof *rc);
    for (int64_t run = 0; run < tm_sweep_runs(s); run++) {
        char path[4096];
        tm_sweep_run_path(s, dir, run, path, sizeof path);
        tm_file_info info;
        tm_error ignored = {0};
        tm_params *p = NULL;
        /* A run this process just completed was written from the sweep's
         * parameters for it: the same as its file's, without opening it. */
        if (fresh && fresh[run].complete) {
            if (tm_sweep_run_params(s, run, &p, &ignored))
                continue;
            regime_columns_of(p, rc);
            tm_params_free(p);
            return 1;
        }
        struct stat st;
        if (stat(path, &st) != 0 || tm_reader_read_info(path, &info, &ignored))
            continue;
        /* Complete, as tm_sweep_run_complete decides, from the one read. */
        int ok = strcmp(info.status, "complete") == 0 && info.seed == tm_sweep_run_seed(s, run) &&
                 tm_params_load_text(path, info.parameters, NULL, 0, &p, &ignored) == 0;
        tm_reader_info_free(&info);
        if (!ok)
            continue;
        regime_columns_of(p, rc);
        tm_params_free(p);
        return 1;
    }
    return 0;
}

/* Column of a condition's destination and regime, or an input error that
 * lists the names there are. */
static int condition_column(const regime_columns *rc, const tm_sweep_condition *c, int *col, tm_error *err)
{
    char want[2 * TM_NAME_MAX + 1], prefix[TM_NAME_MAX + 1], known[2048] = "";
    snprintf(want, sizeof want, "%s.%s", c->dest, c->regime);
    snprintf(prefix, sizeof prefix, "%s.", c->dest);
    int dest_known = 0;
    for (int k = 0; k < rc->n_cols; k++) {
        if (strcmp(rc->name[k], want) == 0) {
            *col = k;
            return 0;
        }
        dest_known |= strncmp(rc->name[k], prefix, strlen(prefix)) == 0;
    }
    /* The destination's regimes if it has any, else every destination.regime. */
    size_t used = 0;
    for (int k = 0; k < rc->n_cols; k++)
        if ((!dest_known || strncmp(rc->name[k], prefix, strlen(prefix)) == 0) && used < sizeof known)
            used += (size_t)snprintf(known + used, sizeof known - used, "%s%s", used ? ", " : "", rc->name[k]);
    if (rc->n_cols == 0)
        return tm_error_set(err, TM_ERR_INPUT, "--condition %s: no complete run to read the regimes from", c->text);
    return tm_error_set(err, TM_ERR_INPUT, "--condition %s: no regime %s of destination %s; expected one of: %s",
                        c->text, c->regime, c->dest, known);
}

/* Share of the summary window each destination spent in each of its
 * regimes, from the regime indices of its k periods ([k][n_dest]). */
static int window_regime_shares(const regime_columns *rc, int k, const double *regime, double *shares)
{
    for (int c = 0; c < rc->n_cols; c++)
        shares[c] = 0;
    for (int t = 0; t < k; t++)
        for (int d = 0; d < rc->n_dest; d++) {
            double g = regime[(size_t)t * (size_t)rc->n_dest + (size_t)d];
            int n_regimes = rc->first[d + 1] - rc->first[d];
            if (!(g >= 0 && g < n_regimes))
                return -1;
            shares[rc->first[d] + (int)g] += 1.0 / k;
        }
    return 0;
}

/* The same from a run file (the last summary_periods logged periods, all
 * if fewer). */
static int read_regime_shares(const tm_sweep *s, tm_reader *rd, const regime_columns *rc, double *shares)
{
    tm_error err = {0};
    int T = 0;
    if (tm_reader_periods(rd, &T, &err) || T < 1)
        return -1;
    int k, first, n;
    window_periods(s, T, &k, &first, &n);
    double *regime = malloc((size_t)k * (size_t)rc->n_dest * sizeof *regime);
    int rcode = !regime || tm_reader_environment(rd, "regime", T - k, k, (size_t)rc->n_dest, regime, &err) ||
                window_regime_shares(rc, k, regime, shares);
    free(regime);
    return rcode ? -1 : 0;
}

/* ------------------------------------------------------------------------
 * The summary window kept while a run runs (sweep_private.h): the same
 * periods and values read_outcomes and read_regime_shares read from the
 * finished file, so the summary is the one the file gives.
 * ---------------------------------------------------------------------- */

struct tm_sweep_window_keeper {
    const tm_sweep *s;
    tm_stats_shape shape;
    const char **sectors, *dests[TM_MAX_DEST];
    regime_columns cols;
    int fractional, periods_per_year, T, k, first, n, kept;
    size_t sd, ss;
    double *series; /* export_value, firms_serving, entrants, exiters, tariff_paid: each [n][sd] */
    double *by_set; /* [n][ss] */
    double *regime; /* [n][n_dest] */
};

int tm_sweep_keeper_open(const tm_sweep *s, const tm_params *p, tm_sweep_window_keeper **out)
{
    *out = NULL;
    if (p->n_dest > TM_MAX_DEST || p->periods < 1)
        return -1;
    tm_sweep_window_keeper *k = calloc(1, sizeof *k);
    if (!k)
        return -1;
    k->s = s;
    k->sectors = malloc((size_t)p->n_sectors * sizeof *k->sectors);
    if (!k->sectors) {
        free(k);
        return -1;
    }
    for (int i = 0; i < p->n_sectors; i++)
        k->sectors[i] = p->sector[i].name;
    for (int d = 0; d < p->n_dest; d++)
        k->dests[d] = p->dest[d].name;
    k->shape = (tm_stats_shape){.n_sectors = p->n_sectors,
                                .n_dest = p->n_dest,
                                .sectors = k->sectors,
                                .dests = k->dests,
                                .us = tm_stats_us_index(k->dests, p->n_dest)};
    regime_columns_of(p, &k->cols);
    k->fractional = tm_params_fractional_counts(p);
    k->periods_per_year = p->periods_per_year;
    k->T = p->periods;
    window_periods(s, k->T, &k->k, &k->first, &k->n);
    k->sd = (size_t)p->n_sectors * (size_t)p->n_dest;
    k->ss = (size_t)p->n_sectors << p->n_dest;
    k->series = malloc(5 * (size_t)k->n * k->sd * sizeof *k->series);
    k->by_set = malloc((size_t)k->n * k->ss * sizeof *k->by_set);
    k->regime = malloc((size_t)k->n * (size_t)p->n_dest * sizeof *k->regime);
    if (!k->series || !k->by_set || !k->regime) {
        tm_sweep_keeper_close(k);
        return -1;
    }
    *out = k;
    return 0;
}

void tm_sweep_keeper_close(tm_sweep_window_keeper *k)
{
    if (!k)
        return;
    free(k->sectors);
    free(k->series);
    free(k->by_set);
    free(k->regime);
    free(k);
}

void tm_sweep_keeper_period(void *user, const tm_params *p, const tm_period_result *r)
{
    (void)p;
    tm_sweep_window_keeper *k = user;
    if (r->period < k->first || r->period >= k->T)
        return;
    size_t t = (size_t)(r->period - k->first), per_series = (size_t)k->n * k->sd, c = t * k->sd;
    double *value = k->series + c, *serving = value + per_series, *entrants = serving + per_series,
           *exiters = entrants + per_series, *tariff = exiters + per_series;
    /* Counts as the file stores them (integers, or doubles: expected masses
     * with exact aggregation, weighted slots with run.resolution > 1),
     * converted to double as the reader converts them. */
    for (size_t i = 0; i < k->sd; i++) {
        value[i] = r->export_value[i];
        serving[i] = k->fractional ? r->x_serving[i] : (double)r->serving[i];
        entrants[i] = k->fractional ? r->x_entrants[i] : (double)r->entrants[i];
        exiters[i] = k->fractional ? r->x_exiters[i] : (double)r->exiters[i];
        tariff[i] = r->tariff_paid[i];
    }
    for (size_t i = 0; i < k->ss; i++)
        k->by_set[t * k->ss + i] = k->fractional ? r->x_firms_by_set[i] : (double)r->firms_by_set[i];
    for (int d = 0; d < k->shape.n_dest; d++)
        k->regime[t * (size_t)k->shape.n_dest + (size_t)d] = r->regime[d];
    k->kept++;
}

int tm_sweep_keeper_summary(tm_sweep_window_keeper *k, const char *digest, double wall_seconds,
                            tm_sweep_run_summary *out)
{
    memset(out, 0, sizeof *out);
    int O = tm_sweep_n_outcomes(k->s);
    if (k->kept != k->n || O + k->cols.n_cols > TM_SWEEP_SUMMARY_VALUES ||
        window_outcomes(k->s, &k->shape, k->periods_per_year, k->n, k->k, k->series, k->by_set, out->values) ||
        window_regime_shares(&k->cols, k->k, k->regime + (size_t)(k->n - k->k) * (size_t)k->shape.n_dest,
                             out->values + O))
        return -1;
    out->n_shares = k->cols.n_cols;
    out->wall_seconds = wall_seconds;
    snprintf(out->digest, sizeof out->digest, "%s", digest);
    out->complete = 1;
    return 0;
}

typedef struct {
    hid_t point, replicate, seed, file, status, wall, digest, included;
    hid_t *values;       /* per swept parameter */
    hid_t *regime_share; /* per (destination, regime) */
} design_cols;

typedef struct {
    hid_t mean, sd, lo, hi, n;
} summary_cols;

static int write_index(const tm_sweep *s, const char *dir, const tm_sweep_index_options *opts,
                       const tm_sweep_run_summary *fresh, int64_t *complete_runs, int64_t *included_runs,
                       tm_error *err);

int tm_sweep_write_index(const tm_sweep *s, const char *dir, int64_t *complete_runs, tm_error *err)
{
    return write_index(s, dir, NULL, NULL, complete_runs, NULL, err);
}

int tm_sweep_write_index_fresh(const tm_sweep *s, const char *dir, const tm_sweep_run_summary *fresh,
                               int64_t *complete_runs, tm_error *err)
{
    return write_index(s, dir, NULL, fresh, complete_runs, NULL, err);
}

int tm_sweep_write_index_with(const tm_sweep *s, const char *dir, const tm_sweep_index_options *opts,
                              int64_t *complete_runs, int64_t *included_runs, tm_error *err)
{
    return write_index(s, dir, opts, NULL, complete_runs, included_runs, err);
}

static int write_index(const tm_sweep *s, const char *dir, const tm_sweep_index_options *opts,
                       const tm_sweep_run_summary *fresh, int64_t *complete_runs, int64_t *included_runs, tm_error *err)
{
    const int n_cond = opts ? opts->n_conditions : 0;
    const char *file_name = opts && opts->file_name ? opts->file_name : "sweep.h5";
    regime_columns *regimes = malloc(sizeof *regimes);
    int cond_col[16];
    if (!regimes)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    if (n_cond > 16) {
        free(regimes);
        return tm_error_set(err, TM_ERR_INPUT, "--condition: at most 16 conditions");
    }
    find_regimes(s, dir, fresh, regimes);
    for (int c = 0; c < n_cond; c++)
        if (condition_column(regimes, &opts->conditions[c], &cond_col[c], err)) {
            free(regimes);
            return -1;
        }
    const int NC = regimes->n_cols;
    char final_path[4096], stem[4400], tmp[4500];
    snprintf(final_path, sizeof final_path, "%s/%s", dir, file_name);
    tm_sweep_temp_path(final_path, stem, sizeof stem);
    tm_h5_quiet();
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
    hid_t f = tm_h5_create_temp(stem, tmp, sizeof tmp, H5P_DEFAULT, fapl, err);
    H5Pclose(fapl);
    if (f < 0) {
        free(regimes);
        return tm_error_prefix(err, "cannot create the index file");
    }
    int64_t runs = tm_sweep_runs(s);
    int R = tm_sweep_replicates(s), P = tm_sweep_points(s), V = tm_sweep_n_values(s), O = tm_sweep_n_outcomes(s);
    int rc = 0, format = TM_SWEEP_FORMAT_VERSION, summary_periods = tm_sweep_summary_periods(s);
    uint64_t seed = tm_sweep_seed(s);
    long long n_runs = runs, n_complete = 0, n_included = 0;
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
    if (n_cond > 0) {
        char text[2600] = "";
        size_t used = 0;
        for (int c = 0; c < n_cond && used < sizeof text; c++)
            used += (size_t)snprintf(text + used, sizeof text - used, "%s%s", c ? " and " : "",
                                     opts->conditions[c].text);
        rc |= tm_h5_attr_string(f, "condition", text);
    }

    hid_t str = tm_h5_vlen_string();
    design_cols dc = {0};
    summary_cols *sc = calloc((size_t)O, sizeof *sc);
    hid_t *pv = calloc((size_t)V + 1, sizeof *pv);
    dc.values = calloc((size_t)V + 1, sizeof *dc.values);
    dc.regime_share = calloc((size_t)NC + 1, sizeof *dc.regime_share);
    hid_t runs_group = H5Gcreate2(f, "runs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t nr = (hsize_t)runs, np = (hsize_t)P;
    rc |= !sc || !pv || !dc.values || !dc.regime_share || runs_group < 0;
    if (!rc) {
        dc.point = column(f, "design/point", H5T_STD_I32LE, nr, "", "design point of the run");
        dc.replicate = column(f, "design/replicate", H5T_STD_I32LE, nr, "", "replicate of the run within its point");
        dc.seed = column(f, "design/seed", H5T_STD_U64LE, nr, "", "run seed, derived from the sweep seed");
        dc.file = column(f, "design/file", str, nr, "", "run file, relative to the index's folder");
        dc.status = column(f, "design/status", str, nr, "", "complete, incomplete or missing");
        dc.wall = column(f, "design/wall_seconds", H5T_IEEE_F64LE, nr, "s",
                         "wall time of the run (NaN if not complete)");
        dc.digest = column(f, "design/digest", str, nr, "", "digest of the run's datasets (empty if not complete)");
        dc.included = column(f, "design/included", H5T_STD_I8LE, nr, "",
                             "1 if the run counts in /summary: complete, and meeting the index's condition if any");
        rc |= dc.point < 0 || dc.replicate < 0 || dc.seed < 0 || dc.file < 0 || dc.status < 0 || dc.wall < 0 ||
              dc.digest < 0 || dc.included < 0;
        for (int c = 0; c < NC && !rc; c++) {
            char name[300];
            snprintf(name, sizeof name, "design/regime_share/%s", regimes->name[c]);
            dc.regime_share[c] = column(f, name, H5T_IEEE_F64LE, nr, "fraction",
                                        "share of the run's summary window (its last summary_periods logged "
                                        "periods) spent in the regime (destination.regime); NaN if not complete");
            rc |= dc.regime_share[c] < 0;
        }
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
    double *b_share = malloc(B * ((size_t)NC + 1) * sizeof *b_share),
           *run_share = malloc(((size_t)NC + 1) * sizeof *run_share);
    int8_t *b_included = malloc(B * sizeof *b_included);
    double *p_stats = malloc(B * 4 * ((size_t)O + 1) * sizeof *p_stats),
           *p_vals = malloc(B * ((size_t)V + 1) * sizeof *p_vals);
    int32_t *p_n = malloc(B * ((size_t)O + 1) * sizeof *p_n);
    double *rep_vals = malloc((size_t)R * ((size_t)O + 1) * sizeof *rep_vals);
    int *rep_ok = calloc((size_t)R, sizeof *rep_ok);
    rc |= !b_point || !b_rep || !b_seed || !b_file || !b_status || !b_digest || !b_wall || !b_vals || !p_stats ||
          !p_vals || !p_n || !rep_vals || !rep_ok || !b_share || !run_share || !b_included;
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
            const tm_sweep_run_summary *mine = fresh && fresh[run].complete && fresh[run].n_shares == NC ? &fresh[run]
                                                                                                         : NULL;
            if (mine) {
                /* Done by this process just now: its file was hashed as
                 * it was written, and its summary kept while it ran. */
                status = "complete";
                digest = mine->digest;
                b_wall[nb] = mine->wall_seconds;
                memcpy(&rep_vals[(size_t)r * (size_t)O], mine->values, (size_t)O * sizeof(double));
                memcpy(run_share, mine->values + O, (size_t)NC * sizeof(double));
                rep_ok[r] = 1;
            } else if (stat(path, &st) == 0) {
                status = "incomplete";
                tm_reader *rd = NULL;
                if (tm_reader_open(path, &rd, &ignored) != 0 || tm_reader_info(rd, &info, &ignored) != 0) {
                    /* Runs are written under temporary names, so a file
                     * under a run's name is a closed run's (complete, or
                     * incomplete after a signal): one that cannot be read
                     * is damaged and stops the index, as a failing
                     * checksum does. */
                    if (!damaged)
                        tm_error_set(&damage, TM_ERR_RUNTIME, "run file damaged, cannot be read: %s", ignored.msg);
                    damaged = 1;
                    rc = 1;
                } else {
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
                        if (rep_ok[r] && NC > 0)
                            rep_ok[r] = read_regime_shares(s, rd, regimes, run_share) == 0;
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
            for (int c = 0; c < NC; c++)
                b_share[(size_t)c * B + nb] = rep_ok[r] ? run_share[c] : NAN;
            if (rep_ok[r]) {
                n_complete++;
                rc |= H5Lcreate_external(rel, "/", runs_group, name, H5P_DEFAULT, H5P_DEFAULT) < 0;
                /* A run left out by the condition stays complete and linked,
                 * but counts in no summary. */
                for (int c = 0; c < n_cond; c++)
                    if (!(run_share[cond_col[c]] >= opts->conditions[c].min_share))
                        rep_ok[r] = 0;
                n_included += rep_ok[r];
            }
            b_included[nb] = (int8_t)rep_ok[r];
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
                for (int c = 0; c < NC; c++)
                    rc |= write_block(dc.regime_share[c], H5T_NATIVE_DOUBLE, run_start, nb, &b_share[(size_t)c * B]);
                rc |= write_block(dc.included, H5T_NATIVE_INT8, run_start, nb, b_included);
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
    rc |= tm_h5_attr_scalar(f, "included_runs", H5T_NATIVE_LLONG, &n_included);
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
    free(b_share);
    free(run_share);
    free(b_included);
    free(p_stats);
    free(p_vals);
    free(p_n);
    free(rep_vals);
    free(rep_ok);
    hid_t all[] = {dc.point, dc.replicate, dc.seed, dc.file, dc.status, dc.wall, dc.digest, dc.included};
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
    for (int c = 0; dc.regime_share && c < NC; c++)
        if (dc.regime_share[c] > 0)
            H5Dclose(dc.regime_share[c]);
    free(dc.values);
    free(dc.regime_share);
    free(regimes);
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
    if (included_runs)
        *included_runs = n_included;
    return 0;
}
