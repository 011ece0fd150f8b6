#include "experiments/sweep.h"

#include <errno.h>
#include <dirent.h>
#include <hdf5.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef TM_HAVE_MPI
#include <mpi.h>
#endif

#include "io/h5util.h"
#include "io/output.h"
#include "base/rng.h"
#include "io/runner.h"
#include "base/sha256.h"
#include "engine/run.h"
#include "tm_build_info.h"
#include "params/ytree.h"

#define MAX_POINTS 10000000L
#define MAX_REPLICATES 100000
#define MAX_VALUES 64
#define MAX_OUTCOMES 64
#define MAX_FIXED 256
#define INDEX_BLOCK 4096
#define MAX_CHECKED_POINTS 200 /* listed points validated value by value */

typedef enum { DESIGN_GRID = 0, DESIGN_POINTS, DESIGN_LHS } design_kind;

/* One swept parameter: its dotted path and, for a grid, its levels; for a
 * Latin hypercube, its range. */
typedef struct {
    char *path;
    int n_levels;
    double *levels;
    double lo, hi;
} swept;

/* A headline outcome: a scalar per run, averaged over the last periods. */
typedef enum { OUT_NON_US_SHARE = 0, OUT_US_SHARE, OUT_EXPORTS_TOTAL, OUT_EXPORTS, OUT_EXPORTERS, OUT_ENTRANTS,
               OUT_EXITERS, OUT_TARIFF_PAID } outcome_kind;

typedef struct {
    char name[64];
    outcome_kind kind;
    char dest[TM_NAME_MAX]; /* per-destination outcomes */
} outcome;

struct tm_sweep {
    char *path, *text, *base_path;
    char sha256[65];
    uint64_t seed;
    int replicates;
    int n_fixed;
    char **fixed; /* "path=value" overrides applied to every run */
    design_kind kind;
    int n_values;
    swept value[MAX_VALUES];
    int n_points;
    double *matrix; /* [point * n_values + j] for lists and hypercubes */
    uint64_t lhs_seed;
    int n_outcomes;
    outcome out[MAX_OUTCOMES];
    int summary_periods;
    int point_width, rep_width;
};

/* ------------------------------------------------------------------------
 * Outcome catalogue (documented in docs/sweeps.md)
 * ---------------------------------------------------------------------- */

static const struct {
    const char *name;
    outcome_kind kind;
    int per_dest;
    const char *doc;
} catalogue[] = {
    {"non_us_share", OUT_NON_US_SHARE, 0, "share of export value going to destinations other than US"},
    {"us_share", OUT_US_SHARE, 0, "share of export value going to US"},
    {"exports_total", OUT_EXPORTS_TOTAL, 0, "export value summed over sectors and destinations"},
    {"exports_", OUT_EXPORTS, 1, "export value to DEST summed over sectors"},
    {"exporters_", OUT_EXPORTERS, 1, "firms serving DEST, summed over sectors"},
    {"entrants_", OUT_ENTRANTS, 1, "firms that started serving DEST"},
    {"exiters_", OUT_EXITERS, 1, "firms that stopped serving DEST"},
    {"tariff_paid_", OUT_TARIFF_PAID, 1, "tariff paid on exports to DEST"},
};
#define N_CATALOGUE (sizeof catalogue / sizeof catalogue[0])

static int valid_segment(const char *s, size_t n)
{
    if (n == 0 || n >= TM_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static int parse_outcome(const char *name, outcome *o)
{
    memset(o, 0, sizeof *o);
    if (strlen(name) >= sizeof o->name)
        return -1;
    snprintf(o->name, sizeof o->name, "%s", name);
    for (size_t i = 0; i < N_CATALOGUE; i++) {
        size_t n = strlen(catalogue[i].name);
        if (!catalogue[i].per_dest && strcmp(name, catalogue[i].name) == 0) {
            o->kind = catalogue[i].kind;
            return 0;
        }
        if (catalogue[i].per_dest && strncmp(name, catalogue[i].name, n) == 0 &&
            valid_segment(name + n, strlen(name + n))) {
            o->kind = catalogue[i].kind;
            snprintf(o->dest, sizeof o->dest, "%s", name + n);
            return 0;
        }
    }
    return -1;
}

/* ------------------------------------------------------------------------
 * Small helpers
 * ---------------------------------------------------------------------- */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Shortest decimal text that reads back as the same double. */
static void format_number(double v, char *buf, size_t size)
{
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

static int digits(long v)
{
    int d = 1;
    while (v >= 10) {
        v /= 10;
        d++;
    }
    return d;
}

/* Where a map's key stands, for "unknown key" messages. */
static tm_ynode key_at(const tm_ynode *map, size_t i)
{
    tm_ynode k = {0};
    k.file = map->file;
    k.line = map->key_line[i];
    k.col = map->key_col[i];
    return k;
}

static int unknown_key(tm_error *err, const tm_ynode *map, size_t k, const char *path, const char *const *names)
{
    size_t n = 0;
    while (names[n])
        n++;
    char expected[600];
    tm_params_describe_choices(expected, sizeof expected, map->keys[k], names, n);
    tm_ynode where = key_at(map, k);
    return tm_params_fail_at(err, &where, path, "unknown key; %s", expected);
}

static int check_keys(const tm_ynode *map, const char *prefix, const char *const *names, tm_error *err)
{
    for (size_t k = 0; k < map->n; k++) {
        int known = 0;
        for (size_t i = 0; names[i] && !known; i++)
            known = strcmp(map->keys[k], names[i]) == 0;
        if (!known) {
            char path[300];
            snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", map->keys[k]);
            return unknown_key(err, map, k, path, names);
        }
    }
    return 0;
}

static const char *kind_name(const tm_ynode *n)
{
    return n->kind == TM_Y_MAP ? "mapping" : n->kind == TM_Y_SEQ ? "list" : "single value";
}

static int get_number(const tm_ynode *node, const char *path, double *out, tm_error *err)
{
    if (node->kind != TM_Y_SCALAR)
        return tm_params_fail_at(err, node, path, "found a %s, expected a number", kind_name(node));
    if (tm_params_parse_number(node->value, out))
        return tm_params_fail_at(err, node, path, "found \"%s\", expected a number", node->value);
    return 0;
}

static int get_integer(const tm_ynode *node, const char *path, long long lo, long long hi, long long *out,
                       tm_error *err)
{
    if (node->kind != TM_Y_SCALAR || tm_params_parse_integer(node->value, out))
        return tm_params_fail_at(err, node, path, "found %s%s%s, expected an integer in [%lld, %lld]",
                                 node->kind == TM_Y_SCALAR ? "\"" : "a ",
                                 node->kind == TM_Y_SCALAR ? node->value : kind_name(node),
                                 node->kind == TM_Y_SCALAR ? "\"" : "", lo, hi);
    if (*out < lo || *out > hi)
        return tm_params_fail_at(err, node, path, "found %s, out of range: expected an integer in [%lld, %lld]",
                                 node->value, lo, hi);
    return 0;
}

static int get_seed(const tm_ynode *node, const char *path, uint64_t *out, tm_error *err)
{
    const char *s = node->kind == TM_Y_SCALAR ? node->value : "";
    char *end = NULL;
    errno = 0;
    unsigned long long v = s[0] >= '0' && s[0] <= '9' ? strtoull(s, &end, 10) : 0;
    if (node->kind != TM_Y_SCALAR || !end || *end || errno == ERANGE)
        return tm_params_fail_at(err, node, path, "found %s%s%s, expected a non-negative integer below 2^64",
                                 node->kind == TM_Y_SCALAR ? "\"" : "a ",
                                 node->kind == TM_Y_SCALAR ? s : kind_name(node),
                                 node->kind == TM_Y_SCALAR ? "\"" : "");
    *out = (uint64_t)v;
    return 0;
}

/* A parameter path: dot-separated names (sectors.energy.firms). */
static int check_param_path(const tm_ynode *map, size_t k, const char *prefix, tm_error *err)
{
    const char *s = map->keys[k];
    size_t len = strlen(s);
    int ok = len > 0 && len < 200;
    for (const char *p = s; ok;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        ok = valid_segment(p, n);
        if (!dot)
            break;
        p = dot + 1;
    }
    if (ok)
        return 0;
    tm_ynode where = key_at(map, k);
    char path[300];
    snprintf(path, sizeof path, "%s.%s", prefix, s);
    return tm_params_fail_at(err, &where, path,
                             "not a parameter path; expected dot-separated names such as interactions.spillover "
                             "or sectors.energy.firms");
}

/* ------------------------------------------------------------------------
 * Parsing the sweep file
 * ---------------------------------------------------------------------- */

typedef struct {
    const tm_ynode *key;   /* position of the key (messages) */
    const tm_ynode *where; /* node of a value to blame when the value is bad */
} value_pos;

static int add_value(tm_sweep *s, const tm_ynode *map, size_t k, const char *prefix, tm_error *err)
{
    if (check_param_path(map, k, prefix, err))
        return -1;
    for (int j = 0; j < s->n_values; j++)
        if (strcmp(s->value[j].path, map->keys[k]) == 0) {
            tm_ynode where = key_at(map, k);
            return tm_params_fail_at(err, &where, prefix, "%s is listed twice", map->keys[k]);
        }
    for (int i = 0; i < s->n_fixed; i++) {
        size_t n = strlen(map->keys[k]);
        if (strncmp(s->fixed[i], map->keys[k], n) == 0 && s->fixed[i][n] == '=') {
            tm_ynode where = key_at(map, k);
            char path[300];
            snprintf(path, sizeof path, "%s.%s", prefix, map->keys[k]);
            return tm_params_fail_at(err, &where, path, "also set under `fixed`; a parameter is either fixed or swept");
        }
    }
    if (s->n_values == MAX_VALUES) {
        tm_ynode where = key_at(map, k);
        return tm_params_fail_at(err, &where, prefix, "more than %d swept parameters", MAX_VALUES);
    }
    swept *v = &s->value[s->n_values++];
    v->path = strdup(map->keys[k]);
    if (!v->path)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    return 0;
}

static int parse_grid(tm_sweep *s, const tm_ynode *grid, tm_error *err)
{
    const char *prefix = "design.grid";
    if (grid->kind != TM_Y_MAP || grid->n == 0)
        return tm_params_fail_at(err, grid, prefix,
                                 "expected a mapping of parameter paths to lists of values, e.g. "
                                 "interactions.spillover: [0, 0.1, 0.2]");
    long points = 1;
    for (size_t k = 0; k < grid->n; k++) {
        if (add_value(s, grid, k, prefix, err))
            return -1;
        const tm_ynode *list = grid->items[k];
        char path[300];
        snprintf(path, sizeof path, "%s.%s", prefix, grid->keys[k]);
        if (list->kind != TM_Y_SEQ || list->n == 0)
            return tm_params_fail_at(err, list, path, "found a %s, expected a non-empty list of numbers",
                                     list->kind == TM_Y_SEQ ? "empty list" : kind_name(list));
        swept *v = &s->value[s->n_values - 1];
        v->levels = malloc(list->n * sizeof *v->levels);
        if (!v->levels)
            return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        v->n_levels = (int)list->n;
        for (size_t i = 0; i < list->n; i++) {
            char ipath[320];
            snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
            if (get_number(list->items[i], ipath, &v->levels[i], err))
                return -1;
        }
        if (points > MAX_POINTS / (long)list->n)
            return tm_params_fail_at(err, grid, prefix, "the grid has more than %ld points", MAX_POINTS);
        points *= (long)list->n;
    }
    s->n_points = (int)points;
    return 0;
}

static int parse_points(tm_sweep *s, const tm_ynode *list, tm_error *err)
{
    const char *prefix = "design.points";
    if (list->kind != TM_Y_SEQ || list->n == 0)
        return tm_params_fail_at(err, list, prefix,
                                 "expected a non-empty list of points, each a mapping of parameter paths to numbers");
    if (list->n > (size_t)MAX_POINTS)
        return tm_params_fail_at(err, list, prefix, "more than %ld points", MAX_POINTS);
    const tm_ynode *first = list->items[0];
    char path0[64];
    snprintf(path0, sizeof path0, "%s[0]", prefix);
    if (first->kind != TM_Y_MAP || first->n == 0)
        return tm_params_fail_at(err, first, path0, "found a %s, expected a mapping of parameter paths to numbers",
                                 kind_name(first));
    for (size_t k = 0; k < first->n; k++)
        if (add_value(s, first, k, path0, err))
            return -1;
    s->n_points = (int)list->n;
    s->matrix = malloc(list->n * (size_t)s->n_values * sizeof *s->matrix);
    if (!s->matrix)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    for (size_t i = 0; i < list->n; i++) {
        const tm_ynode *pt = list->items[i];
        char ppath[64];
        snprintf(ppath, sizeof ppath, "%s[%zu]", prefix, i);
        if (pt->kind != TM_Y_MAP)
            return tm_params_fail_at(err, pt, ppath, "found a %s, expected a mapping of parameter paths to numbers",
                                     kind_name(pt));
        for (size_t k = 0; k < pt->n; k++) {
            int j;
            for (j = 0; j < s->n_values; j++)
                if (strcmp(pt->keys[k], s->value[j].path) == 0)
                    break;
            char path[300];
            snprintf(path, sizeof path, "%s.%s", ppath, pt->keys[k]);
            if (j == s->n_values) {
                tm_ynode where = key_at(pt, k);
                return tm_params_fail_at(err, &where, path,
                                         "not set in the first point; every point must set the same parameters");
            }
            if (get_number(pt->items[k], path, &s->matrix[i * (size_t)s->n_values + (size_t)j], err))
                return -1;
        }
        if ((int)pt->n != s->n_values) {
            for (int j = 0; j < s->n_values; j++)
                if (!tm_ytree_get(pt, s->value[j].path, NULL))
                    return tm_params_fail_at(err, pt, ppath, "%s missing; every point must set the same parameters",
                                             s->value[j].path);
        }
    }
    return 0;
}

static int parse_lhs(tm_sweep *s, const tm_ynode *lhs, tm_error *err)
{
    const char *prefix = "design.latin_hypercube";
    static const char *const keys[] = {"n", "seed", "ranges", NULL};
    if (lhs->kind != TM_Y_MAP)
        return tm_params_fail_at(err, lhs, prefix, "found a %s, expected a mapping with n, seed and ranges",
                                 kind_name(lhs));
    if (check_keys(lhs, prefix, keys, err))
        return -1;
    const tm_ynode *n = tm_ytree_get(lhs, "n", NULL), *seed = tm_ytree_get(lhs, "seed", NULL),
                   *ranges = tm_ytree_get(lhs, "ranges", NULL);
    long long points;
    if (!n)
        return tm_params_fail_at(err, lhs, "design.latin_hypercube.n", "missing; expected the number of points");
    if (get_integer(n, "design.latin_hypercube.n", 1, MAX_POINTS, &points, err))
        return -1;
    if (!seed)
        return tm_params_fail_at(err, lhs, "design.latin_hypercube.seed",
                                 "missing; expected the seed of the hypercube (a non-negative integer)");
    if (get_seed(seed, "design.latin_hypercube.seed", &s->lhs_seed, err))
        return -1;
    if (!ranges)
        return tm_params_fail_at(err, lhs, "design.latin_hypercube.ranges",
                                 "missing; expected a mapping of parameter paths to [low, high]");
    if (ranges->kind != TM_Y_MAP || ranges->n == 0)
        return tm_params_fail_at(err, ranges, "design.latin_hypercube.ranges",
                                 "found a %s, expected a mapping of parameter paths to [low, high]",
                                 ranges->kind == TM_Y_MAP ? "empty mapping" : kind_name(ranges));
    for (size_t k = 0; k < ranges->n; k++) {
        if (add_value(s, ranges, k, "design.latin_hypercube.ranges", err))
            return -1;
        const tm_ynode *r = ranges->items[k];
        char path[300];
        snprintf(path, sizeof path, "design.latin_hypercube.ranges.%s", ranges->keys[k]);
        swept *v = &s->value[s->n_values - 1];
        if (r->kind != TM_Y_SEQ || r->n != 2)
            return tm_params_fail_at(err, r, path, "expected [low, high]");
        if (get_number(r->items[0], path, &v->lo, err) || get_number(r->items[1], path, &v->hi, err))
            return -1;
        if (v->hi < v->lo)
            return tm_params_fail_at(err, r, path, "low %s is above high %s", r->items[0]->value, r->items[1]->value);
    }
    s->n_points = (int)points;
    /* Latin hypercube: each parameter's range is cut into n equal strata,
     * every stratum is used once (a random permutation per parameter) and
     * the value is uniform within its stratum. Stream j of the hypercube
     * seed drives parameter j, so adding a parameter does not move others. */
    s->matrix = malloc((size_t)points * (size_t)s->n_values * sizeof *s->matrix);
    int *perm = malloc((size_t)points * sizeof *perm);
    if (!s->matrix || !perm) {
        free(perm);
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    }
    for (int j = 0; j < s->n_values; j++) {
        tm_pcg32 rng;
        tm_pcg32_seed(&rng, tm_rng_mix(s->lhs_seed, (uint64_t)j), (uint64_t)j);
        for (int i = 0; i < (int)points; i++)
            perm[i] = i;
        for (int i = (int)points - 1; i > 0; i--) {
            int r = (int)(tm_rng_uniform(&rng) * (double)(i + 1));
            int t = perm[i];
            perm[i] = perm[r];
            perm[r] = t;
        }
        const swept *v = &s->value[j];
        for (int i = 0; i < (int)points; i++) {
            double u = tm_rng_uniform(&rng);
            s->matrix[(size_t)i * (size_t)s->n_values + (size_t)j] =
                v->lo + ((double)perm[i] + u) / (double)points * (v->hi - v->lo);
        }
    }
    free(perm);
    return 0;
}

static int parse_fixed(tm_sweep *s, const tm_ynode *fixed, tm_error *err)
{
    if (fixed->kind != TM_Y_MAP)
        return tm_params_fail_at(err, fixed, "fixed",
                                 "found a %s, expected a mapping of parameter paths to values (applied to every run)",
                                 kind_name(fixed));
    if (fixed->n > MAX_FIXED)
        return tm_params_fail_at(err, fixed, "fixed", "more than %d entries", MAX_FIXED);
    s->fixed = calloc(fixed->n + 1, sizeof *s->fixed);
    if (!s->fixed)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    for (size_t k = 0; k < fixed->n; k++) {
        if (check_param_path(fixed, k, "fixed", err))
            return -1;
        const tm_ynode *v = fixed->items[k];
        char path[300];
        snprintf(path, sizeof path, "fixed.%s", fixed->keys[k]);
        if (v->kind != TM_Y_SCALAR || v->value[0] == '\0')
            return tm_params_fail_at(err, v, path, "found a %s, expected a single value", kind_name(v));
        size_t len = strlen(fixed->keys[k]) + strlen(v->value) + 2;
        s->fixed[k] = malloc(len);
        if (!s->fixed[k])
            return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        snprintf(s->fixed[k], len, "%s=%s", fixed->keys[k], v->value);
        s->n_fixed++;
    }
    return 0;
}

static int parse_summary(tm_sweep *s, const tm_ynode *sum, tm_error *err)
{
    static const char *const keys[] = {"outcomes", "periods", NULL};
    s->summary_periods = 4;
    const char *defaults[] = {"non_us_share", "us_share"};
    const tm_ynode *list = NULL;
    if (sum) {
        if (sum->kind != TM_Y_MAP)
            return tm_params_fail_at(err, sum, "summary", "found a %s, expected a mapping with outcomes and periods",
                                     kind_name(sum));
        if (check_keys(sum, "summary", keys, err))
            return -1;
        const tm_ynode *periods = tm_ytree_get(sum, "periods", NULL);
        long long v;
        if (periods) {
            if (get_integer(periods, "summary.periods", 1, 100000, &v, err))
                return -1;
            s->summary_periods = (int)v;
        }
        list = tm_ytree_get(sum, "outcomes", NULL);
    }
    if (!list) {
        for (size_t i = 0; i < 2; i++)
            parse_outcome(defaults[i], &s->out[s->n_outcomes++]);
        return 0;
    }
    if (list->kind != TM_Y_SEQ || list->n == 0)
        return tm_params_fail_at(err, list, "summary.outcomes", "found a %s, expected a non-empty list of outcome names",
                                 list->kind == TM_Y_SEQ ? "empty list" : kind_name(list));
    if (list->n > MAX_OUTCOMES)
        return tm_params_fail_at(err, list, "summary.outcomes", "more than %d outcomes", MAX_OUTCOMES);
    for (size_t i = 0; i < list->n; i++) {
        const tm_ynode *item = list->items[i];
        char path[64];
        snprintf(path, sizeof path, "summary.outcomes[%zu]", i);
        outcome *o = &s->out[s->n_outcomes];
        if (item->kind != TM_Y_SCALAR || parse_outcome(item->value, o))
            return tm_params_fail_at(err, item, path,
                                     "found \"%s\", expected non_us_share, us_share, exports_total, or exports_DEST, "
                                     "exporters_DEST, entrants_DEST, exiters_DEST, tariff_paid_DEST with DEST a "
                                     "destination name",
                                     item->kind == TM_Y_SCALAR ? item->value : kind_name(item));
        for (int k = 0; k < s->n_outcomes; k++)
            if (strcmp(s->out[k].name, o->name) == 0)
                return tm_params_fail_at(err, item, path, "%s is listed twice", o->name);
        s->n_outcomes++;
    }
    return 0;
}

/* A swept or fixed path may set any parameter, but not create sectors,
 * destinations or regimes: names after those keys must exist in the base
 * (a typo there would otherwise add a new sector to every run). */
static int check_names(const tm_params *base, const char *path, char *bad, size_t size)
{
    char buf[300];
    snprintf(buf, sizeof buf, "%s", path);
    char *seg[16];
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ".", &save); t && n < 16; t = strtok_r(NULL, ".", &save))
        seg[n++] = t;
    int dest = -1;
    for (int i = 0; i + 1 < n; i++) {
        const char *what = NULL;
        int found = 0;
        if (strcmp(seg[i], "sectors") == 0 || strcmp(seg[i], "sector_tariffs") == 0) {
            what = "sector";
            for (int k = 0; k < base->n_sectors && !found; k++)
                found = strcmp(base->sector[k].name, seg[i + 1]) == 0;
        } else if ((strcmp(seg[i], "destinations") == 0 && i == 0) || strcmp(seg[i], "markets") == 0) {
            what = "destination";
            for (int d = 0; d < base->n_dest && !found; d++)
                if (strcmp(base->dest[d].name, seg[i + 1]) == 0) {
                    found = 1;
                    dest = d;
                }
        } else if (strcmp(seg[i], "regimes") == 0 && dest >= 0) {
            what = "regime";
            for (int r = 0; r < base->dest[dest].n_regimes && !found; r++)
                found = strcmp(base->dest[dest].regime[r].name, seg[i + 1]) == 0;
        }
        if (what && !found) {
            snprintf(bad, size, "no %s \"%s\" in the base parameters (a sweep sets parameters; it does not add "
                                "sectors, destinations or regimes)", what, seg[i + 1]);
            return -1;
        }
    }
    return 0;
}

/* Check one override against the base parameters; on error blame `node`
 * (or the key, for an unknown key). The base's own position for a `--set`
 * value is meaningless here, so only its detail is kept. */
static int try_sets(const tm_sweep *s, const char *const *sets, int n_sets, const tm_ynode *key,
                    const tm_ynode *node, const char *path, tm_error *err)
{
    tm_params *p = NULL;
    tm_error inner = {0};
    if (tm_params_load(s->base_path, sets, n_sets, &p, &inner)) {
        if (inner.status != TM_ERR_INPUT)
            return tm_error_set(err, inner.status, "%s", inner.msg);
        const char *detail = inner.msg;
        if (strncmp(detail, "--set ", 6) == 0) {
            const char *colon = strstr(detail, ": ");
            const char *second = colon ? strstr(colon + 2, ": ") : NULL;
            if (second)
                detail = second + 2;
        }
        int is_key = strncmp(detail, "unknown", 7) == 0;
        return tm_params_fail_at(err, is_key && key ? key : node, path, "not accepted by %s: %s", s->base_path,
                                 detail);
    }
    tm_params_free(p);
    return 0;
}

/* The position of the key of `item` in `map` (for messages about a path). */
static tm_ynode key_of(const tm_ynode *map, const char *key)
{
    size_t i = 0;
    tm_ynode none = {0};
    if (!map || !tm_ytree_get(map, key, &i))
        return none;
    return key_at(map, i);
}

/* Resolve the paths against the base file: every fixed override, every
 * grid level (or hypercube bound, or listed point) alone, then point 0 as
 * a whole with its seed. Errors name the sweep file's line and key. */
static int validate_against_base(tm_sweep *s, const tm_ynode *root, tm_error *err)
{
    const tm_ynode *base = tm_ytree_get(root, "base", NULL);
    tm_params *p = NULL;
    tm_error inner = {0};
    if (tm_params_load(s->base_path, NULL, 0, &p, &inner))
        return tm_params_fail_at(err, base, "base", "cannot load %s: %s", s->base_path, inner.msg);
    const tm_ynode *fixed = tm_ytree_get(root, "fixed", NULL);
    const tm_ynode *design = tm_ytree_get(root, "design", NULL);
    const tm_ynode *body = design->items[0];
    const tm_ynode *keys = s->kind == DESIGN_GRID ? body
                           : s->kind == DESIGN_LHS ? tm_ytree_get(body, "ranges", NULL)
                                                   : body->items[0];
    const char *prefix = s->kind == DESIGN_GRID ? "design.grid"
                         : s->kind == DESIGN_LHS ? "design.latin_hypercube.ranges"
                                                 : "design.points[0]";
    char bad[400], path[300];
    for (int i = 0; i < s->n_fixed + s->n_values; i++) {
        const tm_ynode *map = i < s->n_fixed ? fixed : keys;
        size_t k = i < s->n_fixed ? (size_t)i : (size_t)(i - s->n_fixed);
        if (check_names(p, map->keys[k], bad, sizeof bad)) {
            tm_ynode where = key_at(map, k);
            snprintf(path, sizeof path, "%s.%s", i < s->n_fixed ? "fixed" : prefix, map->keys[k]);
            tm_params_free(p);
            return tm_params_fail_at(err, &where, path, "%s", bad);
        }
    }
    tm_params_free(p);
    for (int i = 0; i < s->n_fixed; i++) {
        const char *set = s->fixed[i];
        tm_ynode key = key_at(fixed, (size_t)i);
        snprintf(path, sizeof path, "fixed.%s", fixed->keys[i]);
        if (try_sets(s, &set, 1, &key, fixed->items[i], path, err))
            return -1;
    }
    char buf[512];
    const char *set = buf;
    for (int j = 0; j < s->n_values; j++) {
        const swept *v = &s->value[j];
        char num[40];
        if (s->kind == DESIGN_GRID) {
            const tm_ynode *list = tm_ytree_get(body, v->path, NULL);
            tm_ynode key = key_of(body, v->path);
            for (int i = 0; i < v->n_levels; i++) {
                format_number(v->levels[i], num, sizeof num);
                snprintf(buf, sizeof buf, "%s=%s", v->path, num);
                snprintf(path, sizeof path, "design.grid.%s", v->path);
                if (try_sets(s, &set, 1, &key, list->items[i], path, err))
                    return -1;
            }
        } else if (s->kind == DESIGN_LHS) {
            const tm_ynode *r = tm_ytree_get(keys, v->path, NULL);
            tm_ynode key = key_of(keys, v->path);
            snprintf(path, sizeof path, "design.latin_hypercube.ranges.%s", v->path);
            for (int e = 0; e < 2; e++) {
                format_number(e ? v->hi : v->lo, num, sizeof num);
                snprintf(buf, sizeof buf, "%s=%s", v->path, num);
                if (try_sets(s, &set, 1, &key, r->items[e], path, err))
                    return -1;
            }
        } else {
            /* Long lists: every value is still range-checked when its run
             * starts; here the extremes stand for the rest. */
            int lo = 0, hi = 0;
            for (int i = 1; i < s->n_points; i++) {
                double x = s->matrix[(size_t)i * (size_t)s->n_values + (size_t)j];
                if (x < s->matrix[(size_t)lo * (size_t)s->n_values + (size_t)j])
                    lo = i;
                if (x > s->matrix[(size_t)hi * (size_t)s->n_values + (size_t)j])
                    hi = i;
            }
            for (int i = 0; i < s->n_points; i++) {
                if (s->n_points > MAX_CHECKED_POINTS && i != lo && i != hi)
                    continue;
                const tm_ynode *pt = body->items[i];
                const tm_ynode *val = tm_ytree_get(pt, v->path, NULL);
                tm_ynode key = key_of(pt, v->path);
                format_number(s->matrix[(size_t)i * (size_t)s->n_values + (size_t)j], num, sizeof num);
                snprintf(buf, sizeof buf, "%s=%s", v->path, num);
                snprintf(path, sizeof path, "design.points[%d].%s", i, v->path);
                if (try_sets(s, &set, 1, &key, val, path, err))
                    return -1;
            }
        }
    }
    /* Point 0 as a whole (combinations can fail where single values pass). */
    if (tm_sweep_run_params(s, 0, &p, &inner)) {
        if (inner.status != TM_ERR_INPUT)
            return tm_error_set(err, inner.status, "%s", inner.msg);
        return tm_params_fail_at(err, design, "design", "point 0 is rejected by the base parameters %s: %s",
                                 s->base_path, inner.msg);
    }
    /* Outcomes that name a destination must name one of point 0's. */
    const tm_ynode *sum = tm_ytree_get(root, "summary", NULL);
    const tm_ynode *list = sum ? tm_ytree_get(sum, "outcomes", NULL) : NULL;
    for (int k = 0; k < s->n_outcomes; k++) {
        const outcome *o = &s->out[k];
        int found = !o->dest[0];
        for (int d = 0; d < p->n_dest && !found; d++)
            found = strcmp(p->dest[d].name, o->dest) == 0;
        if ((o->kind == OUT_US_SHARE || o->kind == OUT_NON_US_SHARE) && found) {
            found = 0;
            for (int d = 0; d < p->n_dest && !found; d++)
                found = strcmp(p->dest[d].name, "US") == 0;
            if (!found && o->kind == OUT_NON_US_SHARE)
                found = 1; /* the engine then uses the first destination */
        }
        if (!found) {
            const char *names[TM_MAX_DEST];
            for (int d = 0; d < p->n_dest; d++)
                names[d] = p->dest[d].name;
            char expected[600];
            tm_params_describe_choices(expected, sizeof expected, o->dest[0] ? o->dest : "US", names,
                                       (size_t)p->n_dest);
            char opath[64];
            snprintf(opath, sizeof opath, "summary.outcomes[%d]", k);
            tm_params_free(p);
            return tm_params_fail_at(err, list ? list->items[k] : sum, opath,
                                     "%s: no destination %s in the base parameters; %s", o->name,
                                     o->dest[0] ? o->dest : "US", expected);
        }
    }
    tm_params_free(p);
    return 0;
}

static int parse_root(tm_sweep *s, const tm_ynode *root, int resolve, tm_error *err)
{
    static const char *const keys[] = {"base", "seed", "replicates", "fixed", "design", "summary", NULL};
    if (root->kind != TM_Y_MAP) {
        char where[600];
        tm_ytree_where(root, where, sizeof where);
        return tm_error_set(err, TM_ERR_INPUT, "%s: the document is a %s; expected a mapping with base, seed, "
                                               "replicates, design and summary", where, kind_name(root));
    }
    if (check_keys(root, "", keys, err))
        return -1;
    const tm_ynode *base = tm_ytree_get(root, "base", NULL);
    if (!base)
        return tm_params_fail_at(err, root, "base", "missing; expected the path of the base parameter file "
                                                    "(relative to this sweep file)");
    if (base->kind != TM_Y_SCALAR || base->value[0] == '\0')
        return tm_params_fail_at(err, base, "base", "found a %s, expected the path of a parameter file",
                                 kind_name(base));
    if (base->value[0] == '/') {
        s->base_path = strdup(base->value);
    } else {
        const char *slash = strrchr(s->path, '/');
        int dirlen = slash ? (int)(slash - s->path) + 1 : 0;
        size_t len = (size_t)dirlen + strlen(base->value) + 1;
        s->base_path = malloc(len);
        if (s->base_path)
            snprintf(s->base_path, len, "%.*s%s", dirlen, s->path, base->value);
    }
    if (!s->base_path)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    const tm_ynode *seed = tm_ytree_get(root, "seed", NULL);
    if (!seed)
        return tm_params_fail_at(err, root, "seed", "missing; expected the sweep seed (a non-negative integer)");
    if (get_seed(seed, "seed", &s->seed, err))
        return -1;
    const tm_ynode *reps = tm_ytree_get(root, "replicates", NULL);
    s->replicates = 1;
    if (reps) {
        long long v;
        if (get_integer(reps, "replicates", 1, MAX_REPLICATES, &v, err))
            return -1;
        s->replicates = (int)v;
    }
    const tm_ynode *fixed = tm_ytree_get(root, "fixed", NULL);
    if (fixed && parse_fixed(s, fixed, err))
        return -1;
    const tm_ynode *design = tm_ytree_get(root, "design", NULL);
    if (!design)
        return tm_params_fail_at(err, root, "design", "missing; expected a mapping with one of grid, points or "
                                                      "latin_hypercube");
    static const char *const kinds[] = {"grid", "points", "latin_hypercube", NULL};
    if (design->kind != TM_Y_MAP || design->n != 1)
        return tm_params_fail_at(err, design, "design",
                                 "found a %s, expected a mapping with exactly one of grid, points or latin_hypercube",
                                 design->kind == TM_Y_MAP ? "mapping with several designs" : kind_name(design));
    if (check_keys(design, "design", kinds, err))
        return -1;
    const char *kind = design->keys[0];
    int rc;
    if (strcmp(kind, "grid") == 0) {
        s->kind = DESIGN_GRID;
        rc = parse_grid(s, design->items[0], err);
    } else if (strcmp(kind, "points") == 0) {
        s->kind = DESIGN_POINTS;
        rc = parse_points(s, design->items[0], err);
    } else {
        s->kind = DESIGN_LHS;
        rc = parse_lhs(s, design->items[0], err);
    }
    if (rc)
        return -1;
    if ((int64_t)s->n_points * s->replicates > (int64_t)MAX_POINTS * 10)
        return tm_params_fail_at(err, design, "design", "%lld runs; at most %lld are supported",
                                 (long long)s->n_points * s->replicates, (long long)MAX_POINTS * 10);
    if (parse_summary(s, tm_ytree_get(root, "summary", NULL), err))
        return -1;
    s->point_width = digits(s->n_points - 1) < 4 ? 4 : digits(s->n_points - 1);
    s->rep_width = digits(s->replicates - 1) < 2 ? 2 : digits(s->replicates - 1);
    return resolve ? validate_against_base(s, root, err) : 0;
}

int tm_sweep_open(const char *path, int resolve, tm_sweep **out, tm_error *err)
{
    *out = NULL;
    tm_sweep *s = calloc(1, sizeof *s);
    tm_ypool *pool = tm_ypool_new();
    tm_ynode *root = NULL;
    size_t len = 0;
    int rc = -1;
    if (!s || !pool || !(s->path = strdup(path))) {
        tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        goto done;
    }
    if (tm_ytree_read_file(path, &s->text, &len, err))
        goto done;
    if (strlen(s->text) != len) {
        tm_error_set(err, TM_ERR_INPUT, "%s: contains a NUL byte; expected a YAML text file", path);
        goto done;
    }
    tm_sha256_buffer(s->text, len, s->sha256);
    if (tm_ytree_parse(pool, path, s->text, len, &root, err))
        goto done;
    if (parse_root(s, root, resolve, err))
        goto done;
    *out = s;
    s = NULL;
    rc = 0;
done:
    tm_ytree_free(root);
    tm_ypool_free(pool);
    tm_sweep_close(s);
    return rc;
}

void tm_sweep_close(tm_sweep *s)
{
    if (!s)
        return;
    for (int j = 0; j < s->n_values; j++) {
        free(s->value[j].path);
        free(s->value[j].levels);
    }
    for (int i = 0; i < s->n_fixed; i++)
        free(s->fixed[i]);
    free(s->fixed);
    free(s->matrix);
    free(s->path);
    free(s->text);
    free(s->base_path);
    free(s);
}

/* ------------------------------------------------------------------------
 * The design
 * ---------------------------------------------------------------------- */

int tm_sweep_points(const tm_sweep *s) { return s->n_points; }
int tm_sweep_replicates(const tm_sweep *s) { return s->replicates; }
int64_t tm_sweep_runs(const tm_sweep *s) { return (int64_t)s->n_points * s->replicates; }
int tm_sweep_n_values(const tm_sweep *s) { return s->n_values; }
const char *tm_sweep_value_path(const tm_sweep *s, int j) { return s->value[j].path; }
uint64_t tm_sweep_seed(const tm_sweep *s) { return s->seed; }
const char *tm_sweep_text(const tm_sweep *s) { return s->text; }
const char *tm_sweep_sha256(const tm_sweep *s) { return s->sha256; }
const char *tm_sweep_base_path(const tm_sweep *s) { return s->base_path; }

/* Grid points are numbered with the last listed parameter varying fastest
 * (nested loops in the order written). */
double tm_sweep_value(const tm_sweep *s, int point, int j)
{
    if (s->kind != DESIGN_GRID)
        return s->matrix[(size_t)point * (size_t)s->n_values + (size_t)j];
    int rest = point;
    for (int k = s->n_values - 1; k > j; k--)
        rest /= s->value[k].n_levels;
    return s->value[j].levels[rest % s->value[j].n_levels];
}

uint64_t tm_sweep_run_seed(const tm_sweep *s, int64_t run)
{
    uint64_t point = (uint64_t)(run / s->replicates), rep = (uint64_t)(run % s->replicates);
    return tm_rng_mix(tm_rng_mix(s->seed, point), rep);
}

void tm_sweep_run_name(const tm_sweep *s, int64_t run, char *buf, size_t size)
{
    snprintf(buf, size, "p%0*lld-r%0*lld", s->point_width, (long long)(run / s->replicates), s->rep_width,
             (long long)(run % s->replicates));
}

int tm_sweep_run_params(const tm_sweep *s, int64_t run, tm_params **out, tm_error *err)
{
    int n = s->n_fixed + s->n_values + 1;
    const char **sets = malloc((size_t)n * sizeof *sets);
    char *buf = malloc((size_t)(s->n_values + 1) * 320);
    if (!sets || !buf) {
        free(sets);
        free(buf);
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    }
    int k = 0;
    for (int i = 0; i < s->n_fixed; i++)
        sets[k++] = s->fixed[i];
    int point = (int)(run / s->replicates);
    for (int j = 0; j < s->n_values; j++) {
        char num[40];
        format_number(tm_sweep_value(s, point, j), num, sizeof num);
        char *set = buf + (size_t)j * 320;
        snprintf(set, 320, "%s=%s", s->value[j].path, num);
        sets[k++] = set;
    }
    char *seed = buf + (size_t)s->n_values * 320;
    snprintf(seed, 320, "run.seed=%llu", (unsigned long long)tm_sweep_run_seed(s, run));
    sets[k++] = seed;
    int rc = tm_params_load(s->base_path, sets, k, out, err);
    free(sets);
    free(buf);
    return rc;
}

static void run_path(const tm_sweep *s, const char *dir, int64_t run, char *buf, size_t size)
{
    char name[64];
    tm_sweep_run_name(s, run, name, sizeof name);
    snprintf(buf, size, "%s/runs/%s.h5", dir, name);
}

int tm_sweep_run_complete(const tm_sweep *s, const char *dir, int64_t run)
{
    char path[4096];
    run_path(s, dir, run, path, sizeof path);
    struct stat st;
    if (stat(path, &st) != 0)
        return 0;
    tm_file_info info;
    tm_error err = {0};
    if (tm_output_read_info(path, &info, &err))
        return 0;
    int complete = strcmp(info.status, "complete") == 0 && info.seed == tm_sweep_run_seed(s, run);
    tm_file_info_free(&info);
    return complete;
}

/* ------------------------------------------------------------------------
 * Plan
 * ---------------------------------------------------------------------- */

int tm_sweep_plan(const tm_sweep *s, tm_sweep_estimate *est, tm_error *err)
{
    memset(est, 0, sizeof *est);
    est->runs = tm_sweep_runs(s);
    tm_params *p = NULL;
    if (tm_sweep_run_params(s, 0, &p, err))
        return -1;
    for (int k = 0; k < p->n_sectors; k++)
        est->firms += p->sector[k].firms;
    est->periods = p->burn_in + p->periods;
    /* Time: open point 0 (policy tables, DP solve) and step it for up to
     * about a second on one thread, then extrapolate over its periods. */
    tm_run_options ro = {.threads = 1};
    tm_run *run = NULL;
    double t0 = now_seconds();
    if (tm_run_open(p, &ro, &run, err)) {
        tm_params_free(p);
        return -1;
    }
    double t1 = now_seconds();
    int64_t stepped = 0;
    while (!tm_run_finished(run) && now_seconds() - t1 < 1.0) {
        if (tm_run_step(run, err)) {
            tm_run_close(run);
            tm_params_free(p);
            return -1;
        }
        stepped++;
    }
    double per_period = stepped ? (now_seconds() - t1) / (double)stepped : 0;
    est->seconds_per_run = (t1 - t0) + per_period * (double)est->periods;
    est->memory_per_run = tm_run_state_bytes_per_firm(run) * (double)est->firms + 16e6;
    tm_run_close(run);
    /* Output: every series row of the logged periods plus fixed parts. */
    double S = p->n_sectors, D = p->n_dest, NS = (double)(1 << p->n_dest);
    double row = 8 * (8 * S * D) + 8 * S * NS + 8 * S + 8 + TM_LABEL_MAX + 4 * D;
    est->output_per_run = 40e3 + (double)strlen(p->canonical) + 8 * S * (double)p->grid_points +
                          row * (double)p->periods;
    tm_params_free(p);
    return 0;
}

/* ------------------------------------------------------------------------
 * Output folder
 * ---------------------------------------------------------------------- */

static int make_dir(const char *path, tm_error *err)
{
    if (mkdir(path, 0777) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            return 0;
        return tm_error_set(err, TM_ERR_INPUT, "%s: exists and is not a folder", path);
    }
    return tm_error_set(err, TM_ERR_INPUT, "%s: cannot create the folder: %s", path, strerror(errno));
}

static void host_tag(char *buf, size_t size)
{
    char host[128] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    for (char *c = host; *c; c++)
        if (*c == '/' || *c == ' ')
            *c = '_';
    snprintf(buf, size, "%s-%ld", host, (long)getpid());
}

int tm_sweep_prepare_dir(const tm_sweep *s, const char *dir, tm_error *err)
{
    char path[4096];
    if (make_dir(dir, err))
        return -1;
    snprintf(path, sizeof path, "%s/runs", dir);
    if (make_dir(path, err))
        return -1;
    snprintf(path, sizeof path, "%s/sweep.yaml", dir);
    char *old = NULL;
    size_t len = 0;
    tm_error ignored = {0};
    if (tm_ytree_read_file(path, &old, &len, &ignored) == 0) {
        char sha[65];
        tm_sha256_buffer(old, len, sha);
        free(old);
        if (strcmp(sha, s->sha256) != 0)
            return tm_error_set(err, TM_ERR_INPUT,
                                "%s: holds a different sweep (its sweep.yaml differs from %s); choose another -o "
                                "folder", dir, s->path);
        return 0;
    }
    /* Shards may start together: each writes its own temporary copy and
     * renames it; the copies are identical. */
    char tmp[4200], tag[200];
    host_tag(tag, sizeof tag);
    snprintf(tmp, sizeof tmp, "%s.tmp-%s", path, tag);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return tm_error_set(err, TM_ERR_INPUT, "%s: cannot write: %s", tmp, strerror(errno));
    size_t n = strlen(s->text);
    int bad = fwrite(s->text, 1, n, f) != n;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot write the copy of the sweep file", path);
    }
    return 0;
}

/* Remove the temporary files that killed runs of this part left behind,
 * once, before any run starts: a run belongs to exactly one part, so no
 * one else can be writing them (one pass over the folder, not one per run). */
static void remove_stale(const tm_sweep *s, const char *dir, int shard, int shards)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/runs", dir);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long long point, rep;
        int used = 0;
        if (!strstr(e->d_name, ".h5.tmp-") || sscanf(e->d_name, "p%lld-r%lld.h5.tmp-%n", &point, &rep, &used) != 2 ||
            used == 0 || point < 0 || point >= s->n_points || rep < 0 || rep >= s->replicates)
            continue;
        int64_t run = (int64_t)point * s->replicates + rep;
        if (run % shards != shard)
            continue;
        char name[64];
        tm_sweep_run_name(s, run, name, sizeof name);
        if (strncmp(e->d_name, name, strlen(name)) != 0)
            continue;
        snprintf(path, sizeof path, "%s/runs/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
}

/* ------------------------------------------------------------------------
 * Execution: a work source handing out run indices (a local counter over
 * this shard's runs, or rank 0's counter under MPI), and worker threads
 * that each run one simulation at a time with threads/jobs OpenMP threads.
 * ---------------------------------------------------------------------- */

enum { TAG_REQUEST = 1, TAG_WORK = 2, TAG_DONE = 3 };

typedef struct {
    const tm_sweep *s;
    const char *dir;
    int threads_per_run;
    int shard, shards;
    int64_t n_mine;  /* runs of this shard */
    int64_t next;    /* next position handed out (local or rank 0) */
    int64_t todo;    /* runs expected to need work (progress denominator) */
    int mpi, rank, ranks;
    pthread_mutex_t lock;
    int64_t done, failed, skipped;
    double t0, last_print;
    FILE *progress;
} exec_ctx;

static int64_t take_local(exec_ctx *c)
{
    int64_t run = -1;
    pthread_mutex_lock(&c->lock);
    if (c->next < c->n_mine)
        run = (int64_t)c->shard + c->next++ * (int64_t)c->shards;
    pthread_mutex_unlock(&c->lock);
    return run;
}

static int64_t take(exec_ctx *c)
{
#ifdef TM_HAVE_MPI
    if (c->mpi && c->rank != 0) {
        long long run = -1;
        int ask = 0;
        pthread_mutex_lock(&c->lock);
        MPI_Send(&ask, 1, MPI_INT, 0, TAG_REQUEST, MPI_COMM_WORLD);
        MPI_Recv(&run, 1, MPI_LONG_LONG, 0, TAG_WORK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        pthread_mutex_unlock(&c->lock);
        return (int64_t)run;
    }
#endif
    return take_local(c);
}

static void report(exec_ctx *c, const char *name, double seconds, const tm_error *err)
{
    /* A failed run is an error: it is shown even when progress is not. */
    if (!c->progress && !err)
        return;
    pthread_mutex_lock(&c->lock);
    double t = now_seconds() - c->t0;
    int64_t finished = c->done + c->failed;
    char who[32] = "";
    if (c->mpi)
        snprintf(who, sizeof who, "rank %d ", c->rank);
    if (err) {
        fprintf(stderr, "tradeabm: error: %s%s failed: %s\n", who, name, err->msg);
    } else if (!c->mpi) {
        double eta = finished ? t / (double)finished * (double)(c->todo - finished) : 0;
        fprintf(c->progress, "[%lld/%lld] %s done in %.2f s; %.1f s elapsed, about %.0f s left\n",
                (long long)finished, (long long)c->todo, name, seconds, t, eta < 0 ? 0 : eta);
    } else {
        fprintf(c->progress, "%s[%lld done here] %s done in %.2f s; %.1f s elapsed\n", who, (long long)finished, name,
                seconds, t);
    }
    if (c->progress)
        fflush(c->progress);
    pthread_mutex_unlock(&c->lock);
}

static void *worker(void *arg)
{
    exec_ctx *c = arg;
    for (;;) {
        int64_t run = take(c);
        if (run < 0)
            break;
        char path[4096], name[64];
        run_path(c->s, c->dir, run, path, sizeof path);
        tm_sweep_run_name(c->s, run, name, sizeof name);
        if (tm_sweep_run_complete(c->s, c->dir, run)) {
            pthread_mutex_lock(&c->lock);
            c->skipped++;
            pthread_mutex_unlock(&c->lock);
            continue;
        }
        tm_error err = {0};
        tm_params *p = NULL;
        char digest[65];
        double t0 = now_seconds();
        /* force: a file under the final name here is incomplete or corrupt. */
        tm_simulate_options so = {.threads = c->threads_per_run, .force = 1};
        int rc = tm_sweep_run_params(c->s, run, &p, &err);
        if (!rc)
            rc = tm_simulate(p, path, &so, digest, &err);
        tm_params_free(p);
        pthread_mutex_lock(&c->lock);
        if (rc)
            c->failed++;
        else
            c->done++;
        pthread_mutex_unlock(&c->lock);
        report(c, name, now_seconds() - t0, rc ? &err : NULL);
    }
    return NULL;
}

static int run_workers(exec_ctx *c, int jobs, tm_error *err)
{
    pthread_t *tid = calloc((size_t)jobs, sizeof *tid);
    if (!tid)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    int started = 0;
    for (; started < jobs; started++)
        if (pthread_create(&tid[started], NULL, worker, c) != 0)
            break;
    if (started == 0) {
        free(tid);
        return tm_error_set(err, TM_ERR_RUNTIME, "cannot start worker threads");
    }
#ifdef TM_HAVE_MPI
    /* Rank 0's main thread hands out runs to the other ranks while its own
     * workers take from the same counter. */
    if (c->mpi && c->rank == 0) {
        int finished_ranks = 0;
        while (finished_ranks < c->ranks - 1) {
            int flag = 0;
            MPI_Status st;
            MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
            if (!flag) {
                struct timespec pause = {0, 200000};
                nanosleep(&pause, NULL);
                continue;
            }
            if (st.MPI_TAG == TAG_REQUEST) {
                int ask;
                MPI_Recv(&ask, 1, MPI_INT, st.MPI_SOURCE, TAG_REQUEST, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                long long run = (long long)take_local(c);
                MPI_Send(&run, 1, MPI_LONG_LONG, st.MPI_SOURCE, TAG_WORK, MPI_COMM_WORLD);
            } else {
                long long counts[3];
                MPI_Recv(counts, 3, MPI_LONG_LONG, st.MPI_SOURCE, TAG_DONE, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                pthread_mutex_lock(&c->lock);
                c->done += counts[0];
                c->failed += counts[1];
                c->skipped += counts[2];
                pthread_mutex_unlock(&c->lock);
                finished_ranks++;
            }
        }
    }
#endif
    for (int i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    free(tid);
#ifdef TM_HAVE_MPI
    if (c->mpi && c->rank != 0) {
        long long counts[3] = {c->done, c->failed, c->skipped};
        MPI_Send(counts, 3, MPI_LONG_LONG, 0, TAG_DONE, MPI_COMM_WORLD);
    }
#endif
    return 0;
}

static int index_exists(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/sweep.h5", dir);
    struct stat st;
    return stat(path, &st) == 0;
}

int tm_sweep_execute(const tm_sweep *s, const char *dir, const tm_sweep_exec_options *opts,
                     tm_sweep_exec_stats *stats, tm_error *err)
{
    memset(stats, 0, sizeof *stats);
    exec_ctx c = {0};
    c.s = s;
    c.dir = dir;
    c.shards = opts->shards > 0 ? opts->shards : 1;
    c.shard = opts->shard;
    c.ranks = 1;
    c.progress = opts->progress;
    int64_t runs = tm_sweep_runs(s);
    c.n_mine = runs > c.shard ? (runs - c.shard + c.shards - 1) / c.shards : 0;
    int jobs = opts->jobs > 0 ? opts->jobs : 1;
    int threads = opts->threads > 0 ? opts->threads : 1;
    c.threads_per_run = threads / jobs > 0 ? threads / jobs : 1;
#ifdef TM_HAVE_MPI
    if (opts->use_mpi) {
        int init = 0;
        MPI_Initialized(&init);
        if (init) {
            c.mpi = 1;
            MPI_Comm_rank(MPI_COMM_WORLD, &c.rank);
            MPI_Comm_size(MPI_COMM_WORLD, &c.ranks);
            int level = MPI_THREAD_SINGLE;
            MPI_Query_thread(&level);
            if (c.rank != 0 && level < MPI_THREAD_SERIALIZED)
                jobs = 1;
        }
    }
#endif
    stats->rank = c.rank;
    stats->ranks = c.ranks;
    stats->assigned = c.n_mine;
    pthread_mutex_init(&c.lock, NULL);
    /* Progress counts what still needs doing; without MPI a first pass finds
     * the complete runs (with MPI every rank learns as it goes). */
    c.todo = c.n_mine;
    if (!c.mpi) {
        int64_t complete = 0;
        for (int64_t k = 0; k < c.n_mine; k++)
            complete += tm_sweep_run_complete(s, dir, (int64_t)c.shard + k * c.shards);
        c.todo = c.n_mine - complete;
    }
    if (!c.mpi || c.rank == 0)
        remove_stale(s, dir, c.shard, c.shards);
    c.t0 = now_seconds();
    int rc = 0;
    if (c.todo > 0 || c.mpi)
        rc = run_workers(&c, jobs, err);
    else
        c.skipped = c.n_mine;
    pthread_mutex_destroy(&c.lock);
    stats->done = c.done;
    stats->failed = c.failed;
    stats->skipped = c.skipped;
    stats->seconds = now_seconds() - c.t0;
    if (rc)
        return -1;
    if (c.mpi && c.rank != 0)
        return 0;
    /* The index is written by whoever finds the whole sweep complete after
     * its own runs: the last shard to finish, or rank 0. */
    int all = c.failed == 0;
    if (all && (c.shards > 1 || c.mpi))
        for (int64_t run = 0; run < runs && all; run++)
            all = tm_sweep_run_complete(s, dir, run);
    stats->all_complete = all;
    if (all && (c.done > 0 || !index_exists(dir))) {
        int64_t complete = 0;
        if (tm_sweep_write_index(s, dir, &complete, err))
            return -1;
        stats->index_written = 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * MPI start-up
 * ---------------------------------------------------------------------- */

int tm_sweep_mpi_launched(void)
{
    const char *a = getenv("OMPI_COMM_WORLD_SIZE"), *b = getenv("PMI_SIZE");
    return (a && *a) || (b && *b);
}

int tm_sweep_mpi_init(int *argc, char ***argv)
{
#ifdef TM_HAVE_MPI
    if (!tm_sweep_mpi_launched())
        return 0;
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
        return 0;
    return 1;
#else
    (void)argc;
    (void)argv;
    return 0;
#endif
}

int tm_sweep_mpi_rank(void)
{
#ifdef TM_HAVE_MPI
    int init = 0, rank = 0;
    MPI_Initialized(&init);
    if (init)
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return rank;
#else
    return 0;
#endif
}

int tm_sweep_mpi_available(void)
{
#ifdef TM_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

void tm_sweep_mpi_finalize(void)
{
#ifdef TM_HAVE_MPI
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin)
        MPI_Finalize();
#endif
}

/* ------------------------------------------------------------------------
 * Statistics: the 95% t quantile from the Student t distribution function,
 * P(T <= t) = 1 - I_{v/(v+t^2)}(v/2, 1/2) / 2, inverted by bisection; the
 * regularised incomplete beta by its continued fraction (modified Lentz).
 * ---------------------------------------------------------------------- */

static double beta_fraction(double a, double b, double x)
{
    const double tiny = 1e-300;
    double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
    if (fabs(d) < tiny)
        d = tiny;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= 300; m++) {
        double m2 = 2.0 * m;
        double num = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
        d = 1.0 + num * d;
        d = fabs(d) < tiny ? 1.0 / tiny : 1.0 / d;
        c = 1.0 + num / c;
        if (fabs(c) < tiny)
            c = tiny;
        h *= d * c;
        num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
        d = 1.0 + num * d;
        d = fabs(d) < tiny ? 1.0 / tiny : 1.0 / d;
        c = 1.0 + num / c;
        if (fabs(c) < tiny)
            c = tiny;
        double delta = d * c;
        h *= delta;
        if (fabs(delta - 1.0) < 1e-15)
            break;
    }
    return h;
}

static double incomplete_beta(double a, double b, double x)
{
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    double front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x));
    if (x < (a + 1.0) / (a + b + 2.0))
        return front * beta_fraction(a, b, x) / a;
    return 1.0 - front * beta_fraction(b, a, 1.0 - x) / b;
}

double tm_sweep_t975(int dof)
{
    if (dof < 1)
        return NAN;
    double v = dof, lo = 0, hi = 1000;
    for (int i = 0; i < 200; i++) {
        double t = 0.5 * (lo + hi);
        double upper = 0.5 * incomplete_beta(v / 2.0, 0.5, v / (v + t * t));
        if (upper > 0.025)
            lo = t;
        else
            hi = t;
    }
    return 0.5 * (lo + hi);
}

/* ------------------------------------------------------------------------
 * Index
 * ---------------------------------------------------------------------- */

/* Units of an outcome of the catalogue (docs/sweeps.md). */
static const char *outcome_units(const char *name)
{
    if (strncmp(name, "exports_", 8) == 0 || strncmp(name, "tariff_paid_", 12) == 0)
        return "model money";
    if (strncmp(name, "exporters_", 10) == 0 || strncmp(name, "entrants_", 9) == 0 ||
        strncmp(name, "exiters_", 8) == 0)
        return "firms";
    return "fraction";
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
    if (d >= 0 && (tm_h5_attr_string(d, "units", units) || tm_h5_attr_string(d, "description", doc))) {
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

/* Read the last `k` rows of a [T, a, b] (or [T]) series as doubles, summed
 * over the middle axis when `dest` >= 0 picks the last axis; returns the
 * per-period values in out[0..k). */
static int read_tail(hid_t f, const char *name, int dest, int want, double *out, int *got)
{
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0)
        return -1;
    hid_t fs = H5Dget_space(d);
    int rank = H5Sget_simple_extent_ndims(fs);
    hsize_t dims[3] = {0, 1, 1};
    int rc = rank < 1 || rank > 3 || H5Sget_simple_extent_dims(fs, dims, NULL) < 0 || dims[0] == 0;
    double *buf = NULL;
    if (!rc) {
        hsize_t k = dims[0] < (hsize_t)want ? dims[0] : (hsize_t)want;
        hsize_t start[3] = {dims[0] - k, 0, 0}, count[3] = {k, dims[1], dims[2]};
        size_t n = (size_t)(k * (rank > 1 ? dims[1] : 1) * (rank > 2 ? dims[2] : 1));
        buf = malloc(n * sizeof *buf);
        hid_t ms = H5Screate_simple(rank, count, NULL);
        rc = !buf || H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
             H5Dread(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, buf) < 0;
        H5Sclose(ms);
        if (!rc) {
            size_t a = rank > 1 ? (size_t)dims[1] : 1, b = rank > 2 ? (size_t)dims[2] : 1;
            for (size_t t = 0; t < (size_t)k; t++) {
                double sum = 0;
                for (size_t i = 0; i < a; i++)
                    for (size_t j = 0; j < b; j++)
                        if (dest < 0 || (int)j == dest)
                            sum += buf[(t * a + i) * b + j];
                out[t] = sum;
            }
            *got = (int)k;
        }
    }
    free(buf);
    H5Sclose(fs);
    H5Dclose(d);
    return rc ? -1 : 0;
}

static int find_destination(hid_t f, const char *name)
{
    hid_t d = H5Dopen2(f, "dimensions/destinations", H5P_DEFAULT);
    if (d < 0)
        return -1;
    hid_t fs = H5Dget_space(d);
    hssize_t n = H5Sget_simple_extent_npoints(fs);
    int found = -1;
    if (n > 0 && n <= TM_MAX_DEST) {
        char *names[TM_MAX_DEST] = {0};
        hid_t t = tm_h5_vlen_string();
        if (H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, names) >= 0) {
            for (int i = 0; i < (int)n; i++)
                if (names[i] && strcmp(names[i], name) == 0 && found < 0)
                    found = i;
            H5Dvlen_reclaim(t, fs, H5P_DEFAULT, names);
        }
        H5Tclose(t);
    }
    H5Sclose(fs);
    H5Dclose(d);
    return found;
}

/* The headline outcomes of one run file (catalogue at the top). */
static int read_outcomes(const tm_sweep *s, const char *path, double *values)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return -1;
    int k = s->summary_periods, rc = 0;
    double *a = malloc((size_t)k * sizeof *a), *b = malloc((size_t)k * sizeof *b);
    if (!a || !b)
        rc = -1;
    int us = rc ? -1 : find_destination(f, "US");
    for (int i = 0; i < s->n_outcomes && !rc; i++) {
        const outcome *o = &s->out[i];
        int got = 0, got_b = 0, dest = -1;
        if (o->dest[0] && (dest = find_destination(f, o->dest)) < 0) {
            values[i] = NAN;
            continue;
        }
        switch (o->kind) {
        case OUT_NON_US_SHARE:
            rc = read_tail(f, "series/non_us_share", -1, k, a, &got);
            break;
        case OUT_US_SHARE:
            if (us < 0) {
                values[i] = NAN;
                continue;
            }
            rc = read_tail(f, "series/export_value", us, k, a, &got) ||
                 read_tail(f, "series/export_value", -1, k, b, &got_b);
            for (int t = 0; t < got && !rc; t++)
                a[t] = b[t] > 0 ? a[t] / b[t] : NAN;
            break;
        case OUT_EXPORTS_TOTAL:
            rc = read_tail(f, "series/export_value", -1, k, a, &got);
            break;
        case OUT_EXPORTS:
            rc = read_tail(f, "series/export_value", dest, k, a, &got);
            break;
        case OUT_EXPORTERS:
            rc = read_tail(f, "series/firms_serving", dest, k, a, &got);
            break;
        case OUT_ENTRANTS:
            rc = read_tail(f, "series/entrants", dest, k, a, &got);
            break;
        case OUT_EXITERS:
            rc = read_tail(f, "series/exiters", dest, k, a, &got);
            break;
        case OUT_TARIFF_PAID:
            rc = read_tail(f, "series/tariff_paid", dest, k, a, &got);
            break;
        }
        double sum = 0;
        for (int t = 0; t < got; t++)
            sum += a[t];
        values[i] = got ? sum / got : NAN;
    }
    free(a);
    free(b);
    H5Fclose(f);
    return rc ? -1 : 0;
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
    char final_path[4096], tmp[4300], tag[200];
    snprintf(final_path, sizeof final_path, "%s/sweep.h5", dir);
    host_tag(tag, sizeof tag);
    snprintf(tmp, sizeof tmp, "%s.tmp-%s", final_path, tag);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f < 0)
        return tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot create the index file", tmp);
    int64_t runs = tm_sweep_runs(s);
    int R = s->replicates, P = s->n_points, V = s->n_values, O = s->n_outcomes;
    int rc = 0, format = TM_SWEEP_FORMAT_VERSION;
    uint64_t seed = s->seed;
    long long n_runs = runs, n_complete = 0;
    rc |= tm_h5_attr_string(f, "program", "tradeabm");
    rc |= tm_h5_attr_string(f, "kind", "sweep");
    rc |= tm_h5_attr_scalar(f, "format_version", H5T_NATIVE_INT, &format);
    rc |= tm_h5_attr_scalar(f, "seed", H5T_NATIVE_UINT64, &seed);
    rc |= tm_h5_attr_string(f, "sweep_text", s->text);
    rc |= tm_h5_attr_string(f, "sweep_sha256", s->sha256);
    rc |= tm_h5_attr_string(f, "version", TM_VERSION);
    rc |= tm_h5_attr_string(f, "git_commit", TM_GIT_COMMIT);
    rc |= tm_h5_attr_scalar(f, "points", H5T_NATIVE_INT, &P);
    rc |= tm_h5_attr_scalar(f, "replicates", H5T_NATIVE_INT, &R);
    rc |= tm_h5_attr_scalar(f, "runs", H5T_NATIVE_LLONG, &n_runs);
    rc |= tm_h5_attr_scalar(f, "summary_periods", H5T_NATIVE_INT, &s->summary_periods);

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
        dc.wall = column(f, "design/wall_seconds", H5T_IEEE_F64LE, nr, "s", "wall time of the run (NaN if not complete)");
        dc.digest = column(f, "design/digest", str, nr, "", "digest of the run's datasets (empty if not complete)");
        rc |= dc.point < 0 || dc.replicate < 0 || dc.seed < 0 || dc.file < 0 || dc.status < 0 || dc.wall < 0 ||
              dc.digest < 0;
        for (int j = 0; j < V && !rc; j++) {
            char name[300];
            snprintf(name, sizeof name, "design/values/%s", s->value[j].path);
            dc.values[j] = column(f, name, H5T_IEEE_F64LE, nr, "", "value of the swept parameter (its dotted path)");
            snprintf(name, sizeof name, "summary/points/%s", s->value[j].path);
            pv[j] = column(f, name, H5T_IEEE_F64LE, np, "", "value of the swept parameter at each point");
            rc |= dc.values[j] < 0 || pv[j] < 0;
        }
        for (int i = 0; i < O && !rc; i++) {
            char name[300];
            const char *nm = s->out[i].name, *u = outcome_units(nm);
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
    double *p_stats = malloc(B * 4 * ((size_t)O + 1) * sizeof *p_stats), *p_vals = malloc(B * ((size_t)V + 1) * sizeof *p_vals);
    int32_t *p_n = malloc(B * ((size_t)O + 1) * sizeof *p_n);
    double *rep_vals = malloc((size_t)R * ((size_t)O + 1) * sizeof *rep_vals);
    int *rep_ok = malloc((size_t)R * sizeof *rep_ok);
    rc |= !b_point || !b_rep || !b_seed || !b_file || !b_status || !b_digest || !b_wall || !b_vals || !p_stats ||
          !p_vals || !p_n || !rep_vals || !rep_ok;
    size_t nb = 0, npb = 0;
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
            tm_file_info info;
            tm_error ignored = {0};
            rep_ok[r] = 0;
            struct stat st;
            if (stat(path, &st) == 0) {
                status = "incomplete";
                if (tm_output_read_info(path, &info, &ignored) == 0) {
                    if (strcmp(info.status, "complete") == 0 && info.seed == b_seed[nb]) {
                        status = "complete";
                        digest = info.digest;
                        b_wall[nb] = info.wall_seconds;
                        rep_ok[r] = read_outcomes(s, path, &rep_vals[(size_t)r * (size_t)O]) == 0;
                        if (!rep_ok[r])
                            status = "unreadable";
                    }
                    b_digest[nb] = strdup(digest);
                    tm_file_info_free(&info);
                }
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
            double sum = 0, ss = 0;
            int n = 0;
            for (int r = 0; r < R; r++)
                if (rep_ok[r] && !isnan(rep_vals[(size_t)r * (size_t)O + (size_t)i])) {
                    sum += rep_vals[(size_t)r * (size_t)O + (size_t)i];
                    n++;
                }
            double mean = n ? sum / n : NAN;
            for (int r = 0; r < R; r++)
                if (rep_ok[r] && !isnan(rep_vals[(size_t)r * (size_t)O + (size_t)i])) {
                    double dev = rep_vals[(size_t)r * (size_t)O + (size_t)i] - mean;
                    ss += dev * dev;
                }
            double sd = n > 1 ? sqrt(ss / (n - 1)) : NAN;
            double half = n > 1 ? tm_sweep_t975(n - 1) * sd / sqrt((double)n) : NAN;
            double *st = &p_stats[((size_t)i * 4) * B];
            st[npb] = mean;
            st[B + npb] = sd;
            st[2 * B + npb] = mean - half;
            st[3 * B + npb] = mean + half;
            p_n[(size_t)i * B + npb] = n;
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
