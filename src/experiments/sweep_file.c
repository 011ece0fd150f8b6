#include "experiments/sweep.h"

#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "base/sha256.h"
#include "base/stats.h"
#include "experiments/outcomes.h"
#include "params/yfield.h"
#include "params/ytree.h"

#define MAX_POINTS 10000000L
#define MAX_REPLICATES 100000
#define MAX_VALUES 64
#define MAX_OUTCOMES 64
#define MAX_FIXED 256

typedef enum { DESIGN_GRID = 0, DESIGN_POINTS, DESIGN_LHS } design_kind;

/* One swept parameter: its dotted path and, for a grid, its levels; for a
 * Latin hypercube, its range. */
typedef struct {
    char *path;
    int n_levels;
    double *levels;
    double lo, hi;
} swept;

struct tm_sweep {
    char *path, *text, *base_path;
    char sha256[65];
    uint64_t seed;
    int independent_seeds; /* `seeds: independent`; default: common random numbers */
    int replicates;
    int n_fixed;
    char **fixed; /* "path=value" overrides applied to every run */
    int n_sets;
    char **sets; /* `sweep --set` overrides, applied after `fixed` */
    design_kind kind;
    int n_values;
    swept value[MAX_VALUES];
    int n_points;
    double *matrix; /* [point * n_values + j] for lists and hypercubes */
    uint64_t lhs_seed;
    int n_outcomes;
    char out[MAX_OUTCOMES][TM_STATS_NAME_MAX]; /* outcome names (docs/statistics.md) */
    int summary_periods;
    int point_width, rep_width;
};

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

static int digits(long v)
{
    int d = 1;
    while (v >= 10) {
        v /= 10;
        d++;
    }
    return d;
}

/* A parameter path as `--set` takes it: dot-separated names, each with
 * optional list indices (sectors.energy.firms, events[0].tariff). */
static int check_param_path(const tm_ynode *map, size_t k, const char *prefix, tm_error *err)
{
    const char *s = map->keys[k];
    tm_ypath_step steps[TM_YTREE_PATH_MAX_STEPS];
    int n = 0;
    char why[300] = "";
    int ok = strlen(s) < 200 && tm_ytree_path_parse(s, steps, TM_YTREE_PATH_MAX_STEPS, &n, why, sizeof why) == 0;
    for (int i = 0; ok && i < n; i++)
        ok = steps[i].index >= 0 || valid_segment(steps[i].key, strlen(steps[i].key));
    if (ok)
        return 0;
    tm_ynode where = tm_yfield_key_at(map, k);
    char path[300];
    snprintf(path, sizeof path, "%s.%s", prefix, s);
    return tm_params_fail_at(err, &where, path,
                             "not a parameter path%s%s; expected dot-separated names such as "
                             "interactions.spillover or sectors.energy.firms, a list item as events[0].tariff",
                             why[0] ? ": " : "", why);
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
            tm_ynode where = tm_yfield_key_at(map, k);
            return tm_params_fail_at(err, &where, prefix, "%s is listed twice", map->keys[k]);
        }
    for (int i = 0; i < s->n_fixed; i++) {
        size_t n = strlen(map->keys[k]);
        if (strncmp(s->fixed[i], map->keys[k], n) == 0 && s->fixed[i][n] == '=') {
            tm_ynode where = tm_yfield_key_at(map, k);
            char path[300];
            snprintf(path, sizeof path, "%s.%s", prefix, map->keys[k]);
            return tm_params_fail_at(err, &where, path, "also set under `fixed`; a parameter is either fixed or swept");
        }
    }
    if (s->n_values == MAX_VALUES) {
        tm_ynode where = tm_yfield_key_at(map, k);
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
                                     list->kind == TM_Y_SEQ ? "empty list" : tm_yfield_kind_name(list));
        swept *v = &s->value[s->n_values - 1];
        v->levels = malloc(list->n * sizeof *v->levels);
        if (!v->levels)
            return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        v->n_levels = (int)list->n;
        for (size_t i = 0; i < list->n; i++) {
            char ipath[320];
            snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
            if (tm_yfield_number(list->items[i], ipath, &v->levels[i], err))
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
                                 tm_yfield_kind_name(first));
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
                                     tm_yfield_kind_name(pt));
        for (size_t k = 0; k < pt->n; k++) {
            int j;
            for (j = 0; j < s->n_values; j++)
                if (strcmp(pt->keys[k], s->value[j].path) == 0)
                    break;
            char path[300];
            snprintf(path, sizeof path, "%s.%s", ppath, pt->keys[k]);
            if (j == s->n_values) {
                tm_ynode where = tm_yfield_key_at(pt, k);
                return tm_params_fail_at(err, &where, path,
                                         "not set in the first point; every point must set the same parameters");
            }
            if (tm_yfield_number(pt->items[k], path, &s->matrix[i * (size_t)s->n_values + (size_t)j], err))
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
                                 tm_yfield_kind_name(lhs));
    if (tm_yfield_check_keys(lhs, prefix, keys, err))
        return -1;
    const tm_ynode *n = tm_ytree_get(lhs, "n", NULL), *seed = tm_ytree_get(lhs, "seed", NULL),
                   *ranges = tm_ytree_get(lhs, "ranges", NULL);
    long long points;
    if (!n)
        return tm_params_fail_at(err, lhs, "design.latin_hypercube.n", "missing; expected the number of points");
    if (tm_yfield_integer(n, "design.latin_hypercube.n", 1, MAX_POINTS, &points, err))
        return -1;
    if (!seed)
        return tm_params_fail_at(err, lhs, "design.latin_hypercube.seed",
                                 "missing; expected the seed of the hypercube (a non-negative integer)");
    if (tm_yfield_seed(seed, "design.latin_hypercube.seed", &s->lhs_seed, err))
        return -1;
    if (!ranges)
        return tm_params_fail_at(err, lhs, "design.latin_hypercube.ranges",
                                 "missing; expected a mapping of parameter paths to [low, high]");
    if (ranges->kind != TM_Y_MAP || ranges->n == 0)
        return tm_params_fail_at(err, ranges, "design.latin_hypercube.ranges",
                                 "found a %s, expected a mapping of parameter paths to [low, high]",
                                 ranges->kind == TM_Y_MAP ? "empty mapping" : tm_yfield_kind_name(ranges));
    for (size_t k = 0; k < ranges->n; k++) {
        if (add_value(s, ranges, k, "design.latin_hypercube.ranges", err))
            return -1;
        const tm_ynode *r = ranges->items[k];
        char path[300];
        snprintf(path, sizeof path, "design.latin_hypercube.ranges.%s", ranges->keys[k]);
        swept *v = &s->value[s->n_values - 1];
        if (r->kind != TM_Y_SEQ || r->n != 2)
            return tm_params_fail_at(err, r, path, "expected [low, high]");
        if (tm_yfield_number(r->items[0], path, &v->lo, err) || tm_yfield_number(r->items[1], path, &v->hi, err))
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
            s->matrix[(size_t)i * (size_t)s->n_values + (size_t)j] = v->lo + ((double)perm[i] + u) / (double)points *
                                                                                 (v->hi - v->lo);
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
                                 tm_yfield_kind_name(fixed));
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
            return tm_params_fail_at(err, v, path, "found a %s, expected a single value", tm_yfield_kind_name(v));
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
    static const char *const defaults[] = {"non_us_share", "export_share.US"};
    s->summary_periods = 4;
    const tm_ynode *list = NULL;
    if (sum) {
        if (sum->kind != TM_Y_MAP)
            return tm_params_fail_at(err, sum, "summary", "found a %s, expected a mapping with outcomes and periods",
                                     tm_yfield_kind_name(sum));
        if (tm_yfield_check_keys(sum, "summary", keys, err))
            return -1;
        const tm_ynode *periods = tm_ytree_get(sum, "periods", NULL);
        long long v;
        if (periods) {
            if (tm_yfield_integer(periods, "summary.periods", 1, 100000, &v, err))
                return -1;
            s->summary_periods = (int)v;
        }
        list = tm_ytree_get(sum, "outcomes", NULL);
    }
    if (!list) {
        for (size_t i = 0; i < 2; i++)
            snprintf(s->out[s->n_outcomes++], TM_STATS_NAME_MAX, "%s", defaults[i]);
        return 0;
    }
    if (list->kind != TM_Y_SEQ || list->n == 0)
        return tm_params_fail_at(err, list, "summary.outcomes",
                                 "found a %s, expected a non-empty list of outcome names",
                                 list->kind == TM_Y_SEQ ? "empty list" : tm_yfield_kind_name(list));
    if (list->n > MAX_OUTCOMES)
        return tm_params_fail_at(err, list, "summary.outcomes", "more than %d outcomes", MAX_OUTCOMES);
    for (size_t i = 0; i < list->n; i++) {
        const tm_ynode *item = list->items[i];
        char path[64];
        snprintf(path, sizeof path, "summary.outcomes[%zu]", i);
        if (item->kind != TM_Y_SCALAR)
            return tm_params_fail_at(err, item, path, "found a %s, expected an outcome name (docs/statistics.md)",
                                     tm_yfield_kind_name(item));
        /* The name's root now; its destination and sector once the base
         * is loaded (validate_against_base). */
        tm_stats_outcome o;
        tm_error inner = {0};
        if (tm_stats_outcome_parse(item->value, NULL, &o, &inner))
            return tm_params_fail_at(err, item, path, "%s", inner.msg);
        for (int k = 0; k < s->n_outcomes; k++)
            if (strcmp(s->out[k], item->value) == 0)
                return tm_params_fail_at(err, item, path, "%s is listed twice", item->value);
        snprintf(s->out[s->n_outcomes++], TM_STATS_NAME_MAX, "%s", item->value);
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
            snprintf(bad, size,
                     "no %s \"%s\" in the base parameters (a sweep sets parameters; it does not add "
                     "sectors, destinations or regimes)",
                     what, seg[i + 1]);
            return -1;
        }
    }
    return 0;
}

/* Check one override against the base parameters; on error blame `node`
 * (or the key, for an unknown key). The base's own position for a `--set`
 * value is meaningless here, so only its detail is kept. */
static int try_sets(const tm_sweep *s, const char *const *sets, int n_sets, const tm_ynode *key, const tm_ynode *node,
                    const char *path, tm_error *err)
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
        return tm_params_fail_at(err, is_key && key ? key : node, path, "not accepted by %s: %s", s->base_path, detail);
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
    return tm_yfield_key_at(map, i);
}

/* A listed value and the point that lists it. */
typedef struct {
    double value;
    int point;
} listed_value;

static int by_value_then_point(const void *a, const void *b)
{
    const listed_value *x = a, *y = b;
    if (x->value != y->value)
        return x->value < y->value ? -1 : 1;
    return (x->point > y->point) - (x->point < y->point);
}

static int by_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The points where parameter j's listed value appears for the first time,
 * in point order: checking these checks every value of the list. */
static int distinct_firsts(const tm_sweep *s, int j, int **out, int *n_out, tm_error *err)
{
    listed_value *all = malloc((size_t)s->n_points * sizeof *all);
    int *first = malloc((size_t)s->n_points * sizeof *first);
    if (!all || !first) {
        free(all);
        free(first);
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    }
    for (int i = 0; i < s->n_points; i++)
        all[i] = (listed_value){s->matrix[(size_t)i * (size_t)s->n_values + (size_t)j], i};
    qsort(all, (size_t)s->n_points, sizeof *all, by_value_then_point);
    int n = 0;
    for (int i = 0; i < s->n_points; i++)
        if (i == 0 || all[i].value != all[i - 1].value)
            first[n++] = all[i].point;
    free(all);
    qsort(first, (size_t)n, sizeof *first, by_int);
    *out = first;
    *n_out = n;
    return 0;
}

/* `sweep --set path=value`: a path that is not swept and names no new
 * sector, destination or regime, and the base with `fixed` and every
 * --set loads. Errors name the option, as `run --set` does. */
static int check_command_line_sets(const tm_sweep *s, tm_error *err)
{
    if (s->n_sets == 0)
        return 0;
    tm_params *p = NULL;
    if (tm_params_load(s->base_path, NULL, 0, &p, err))
        return -1;
    char bad[400];
    for (int i = 0; i < s->n_sets; i++) {
        const char *eq = strchr(s->sets[i], '=');
        size_t klen = (size_t)(eq - s->sets[i]);
        char key[300];
        snprintf(key, sizeof key, "%.*s", (int)(klen < sizeof key ? klen : sizeof key - 1), s->sets[i]);
        for (int j = 0; j < s->n_values; j++)
            if (strcmp(key, s->value[j].path) == 0) {
                tm_params_free(p);
                return tm_error_set(err, TM_ERR_INPUT,
                                    "--set %s: %s is swept by the design of %s; a parameter is either set or swept",
                                    s->sets[i], key, s->path);
            }
        if (check_names(p, key, bad, sizeof bad)) {
            tm_params_free(p);
            return tm_error_set(err, TM_ERR_INPUT, "--set %s: %s", s->sets[i], bad);
        }
    }
    tm_params_free(p);
    int n = s->n_fixed + s->n_sets;
    const char **all = malloc((size_t)n * sizeof *all);
    if (!all)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    for (int i = 0; i < s->n_fixed; i++)
        all[i] = s->fixed[i];
    for (int i = 0; i < s->n_sets; i++)
        all[s->n_fixed + i] = s->sets[i];
    int rc = tm_params_load(s->base_path, all, n, &p, err);
    free(all);
    if (rc)
        return -1;
    tm_params_free(p);
    return 0;
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
    const tm_ynode *keys = s->kind == DESIGN_GRID  ? body
                           : s->kind == DESIGN_LHS ? tm_ytree_get(body, "ranges", NULL)
                                                   : body->items[0];
    const char *prefix = s->kind == DESIGN_GRID  ? "design.grid"
                         : s->kind == DESIGN_LHS ? "design.latin_hypercube.ranges"
                                                 : "design.points[0]";
    char bad[400], path[300];
    for (int i = 0; i < s->n_fixed + s->n_values; i++) {
        const tm_ynode *map = i < s->n_fixed ? fixed : keys;
        size_t k = i < s->n_fixed ? (size_t)i : (size_t)(i - s->n_fixed);
        if (check_names(p, map->keys[k], bad, sizeof bad)) {
            tm_ynode where = tm_yfield_key_at(map, k);
            snprintf(path, sizeof path, "%s.%s", i < s->n_fixed ? "fixed" : prefix, map->keys[k]);
            tm_params_free(p);
            return tm_params_fail_at(err, &where, path, "%s", bad);
        }
    }
    tm_params_free(p);
    for (int i = 0; i < s->n_fixed; i++) {
        const char *set = s->fixed[i];
        tm_ynode key = tm_yfield_key_at(fixed, (size_t)i);
        snprintf(path, sizeof path, "fixed.%s", fixed->keys[i]);
        if (try_sets(s, &set, 1, &key, fixed->items[i], path, err))
            return -1;
    }
    if (check_command_line_sets(s, err))
        return -1;
    char buf[512];
    const char *set = buf;
    for (int j = 0; j < s->n_values; j++) {
        const swept *v = &s->value[j];
        char num[40];
        if (s->kind == DESIGN_GRID) {
            const tm_ynode *list = tm_ytree_get(body, v->path, NULL);
            tm_ynode key = key_of(body, v->path);
            for (int i = 0; i < v->n_levels; i++) {
                tm_yfield_format_number(v->levels[i], num, sizeof num);
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
                tm_yfield_format_number(e ? v->hi : v->lo, num, sizeof num);
                snprintf(buf, sizeof buf, "%s=%s", v->path, num);
                if (try_sets(s, &set, 1, &key, r->items[e], path, err))
                    return -1;
            }
        } else {
            /* Every listed value, however long the list: each distinct
             * value once, at the first point that lists it, in the order
             * of the points (the first bad point is the one reported). */
            int *first = NULL, n_first = 0;
            if (distinct_firsts(s, j, &first, &n_first, err))
                return -1;
            for (int f = 0; f < n_first; f++) {
                int i = first[f];
                const tm_ynode *pt = body->items[i];
                const tm_ynode *val = tm_ytree_get(pt, v->path, NULL);
                tm_ynode key = key_of(pt, v->path);
                tm_yfield_format_number(s->matrix[(size_t)i * (size_t)s->n_values + (size_t)j], num, sizeof num);
                snprintf(buf, sizeof buf, "%s=%s", v->path, num);
                snprintf(path, sizeof path, "design.points[%d].%s", i, v->path);
                if (try_sets(s, &set, 1, &key, val, path, err)) {
                    free(first);
                    return -1;
                }
            }
            free(first);
        }
    }
    /* Point 0 as a whole (combinations can fail where single values pass). */
    if (tm_sweep_run_params(s, 0, &p, &inner)) {
        if (inner.status != TM_ERR_INPUT)
            return tm_error_set(err, inner.status, "%s", inner.msg);
        return tm_params_fail_at(err, design, "design", "point 0 is rejected by the base parameters %s: %s",
                                 s->base_path, inner.msg);
    }
    /* Outcome names resolve against point 0's sectors and destinations. */
    const tm_ynode *sum = tm_ytree_get(root, "summary", NULL);
    const tm_ynode *list = sum ? tm_ytree_get(sum, "outcomes", NULL) : NULL;
    tm_outcomes names;
    int rc = tm_outcomes_init(&names, p, 0, err);
    for (int k = 0; k < s->n_outcomes && !rc; k++) {
        tm_stats_outcome o;
        tm_error why = {0};
        if (tm_outcomes_parse(&names, s->out[k], &o, &why) == 0)
            continue;
        char opath[64];
        snprintf(opath, sizeof opath, "summary.outcomes[%d]", k);
        rc = tm_params_fail_at(err,
                               list  ? list->items[k]
                               : sum ? sum
                                     : root,
                               opath, "%s (base parameters %s)", why.msg, s->base_path);
    }
    tm_outcomes_free(&names);
    tm_params_free(p);
    return rc ? -1 : 0;
}

static int parse_root(tm_sweep *s, const tm_ynode *root, int resolve, tm_error *err)
{
    static const char *const keys[] = {"base", "seed", "seeds", "replicates", "fixed", "design", "summary", NULL};
    if (root->kind != TM_Y_MAP) {
        char where[600];
        tm_ytree_where(root, where, sizeof where);
        return tm_error_set(err, TM_ERR_INPUT,
                            "%s: the document is a %s; expected a mapping with base, seed, "
                            "replicates, design and summary",
                            where, tm_yfield_kind_name(root));
    }
    if (tm_yfield_check_keys(root, "", keys, err))
        return -1;
    const tm_ynode *base = tm_ytree_get(root, "base", NULL);
    if (!base)
        return tm_params_fail_at(err, root, "base",
                                 "missing; expected the path of the base parameter file "
                                 "(relative to this sweep file)");
    if (base->kind != TM_Y_SCALAR || base->value[0] == '\0')
        return tm_params_fail_at(err, base, "base", "found a %s, expected the path of a parameter file",
                                 tm_yfield_kind_name(base));
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
    if (tm_yfield_seed(seed, "seed", &s->seed, err))
        return -1;
    const tm_ynode *seeds = tm_ytree_get(root, "seeds", NULL);
    if (seeds) {
        if (seeds->kind != TM_Y_SCALAR ||
            (strcmp(seeds->value, "common") != 0 && strcmp(seeds->value, "independent") != 0))
            return tm_params_fail_at(err, seeds, "seeds",
                                     "found %s%s%s, expected common (replicate r has the same seed at every point) "
                                     "or independent (a seed per run)",
                                     seeds->kind == TM_Y_SCALAR ? "\"" : "a ",
                                     seeds->kind == TM_Y_SCALAR ? seeds->value : tm_yfield_kind_name(seeds),
                                     seeds->kind == TM_Y_SCALAR ? "\"" : "");
        s->independent_seeds = strcmp(seeds->value, "independent") == 0;
    }
    const tm_ynode *reps = tm_ytree_get(root, "replicates", NULL);
    s->replicates = 1;
    if (reps) {
        long long v;
        if (tm_yfield_integer(reps, "replicates", 1, MAX_REPLICATES, &v, err))
            return -1;
        s->replicates = (int)v;
    }
    const tm_ynode *fixed = tm_ytree_get(root, "fixed", NULL);
    if (fixed && parse_fixed(s, fixed, err))
        return -1;
    const tm_ynode *design = tm_ytree_get(root, "design", NULL);
    if (!design)
        return tm_params_fail_at(err, root, "design",
                                 "missing; expected a mapping with one of grid, points or "
                                 "latin_hypercube");
    static const char *const kinds[] = {"grid", "points", "latin_hypercube", NULL};
    if (design->kind != TM_Y_MAP || design->n != 1)
        return tm_params_fail_at(
            err, design, "design", "found a %s, expected a mapping with exactly one of grid, points or latin_hypercube",
            design->kind == TM_Y_MAP ? "mapping with several designs" : tm_yfield_kind_name(design));
    if (tm_yfield_check_keys(design, "design", kinds, err))
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
    return tm_sweep_open_with_sets(path, resolve, NULL, 0, out, err);
}

/* The --set overrides become comment lines at the end of the sweep's text:
 * the copy stored in the sweep folder and the index then say how the runs
 * were made, and a folder made with other overrides is a different sweep. */
static int append_sets(tm_sweep *s, const char *const *sets, int n_sets, size_t *len, tm_error *err)
{
    s->sets = calloc((size_t)n_sets + 1, sizeof *s->sets);
    if (!s->sets)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    static const char head[] = "\n# Applied to every run after `fixed` by `tradeabm sweep --set`:\n";
    size_t extra = sizeof head;
    for (int i = 0; i < n_sets; i++) {
        const char *eq = strchr(sets[i], '=');
        if (!eq || eq == sets[i] || eq[1] == '\0')
            return tm_error_set(err, TM_ERR_INPUT, "--set %s: expected KEY=VALUE, e.g. run.periods=8", sets[i]);
        for (const char *c = sets[i]; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                return tm_error_set(err, TM_ERR_INPUT, "--set %s: contains a control character", sets[i]);
        if (!(s->sets[i] = strdup(sets[i])))
            return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        s->n_sets++;
        extra += strlen(sets[i]) + 9;
    }
    char *text = realloc(s->text, *len + extra + 1);
    if (!text)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    s->text = text;
    size_t n = *len;
    n += (size_t)snprintf(text + n, extra + 1, "%s", head);
    for (int i = 0; i < n_sets; i++)
        n += (size_t)snprintf(text + n, *len + extra + 1 - n, "# --set %s\n", sets[i]);
    *len = n;
    return 0;
}

int tm_sweep_open_with_sets(const char *path, int resolve, const char *const *sets, int n_sets, tm_sweep **out,
                            tm_error *err)
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
    if (n_sets > 0 && append_sets(s, sets, n_sets, &len, err))
        goto done;
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
    for (int i = 0; i < s->n_sets; i++)
        free(s->sets[i]);
    free(s->sets);
    free(s->matrix);
    free(s->path);
    free(s->text);
    free(s->base_path);
    free(s);
}

/* ------------------------------------------------------------------------
 * The design
 * ---------------------------------------------------------------------- */

int tm_sweep_points(const tm_sweep *s)
{
    return s->n_points;
}
int tm_sweep_replicates(const tm_sweep *s)
{
    return s->replicates;
}
int64_t tm_sweep_runs(const tm_sweep *s)
{
    return (int64_t)s->n_points * s->replicates;
}
int tm_sweep_n_values(const tm_sweep *s)
{
    return s->n_values;
}
const char *tm_sweep_value_path(const tm_sweep *s, int j)
{
    return s->value[j].path;
}
uint64_t tm_sweep_seed(const tm_sweep *s)
{
    return s->seed;
}
const char *tm_sweep_text(const tm_sweep *s)
{
    return s->text;
}
const char *tm_sweep_sha256(const tm_sweep *s)
{
    return s->sha256;
}
const char *tm_sweep_base_path(const tm_sweep *s)
{
    return s->base_path;
}

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

/* Common random numbers (the default): replicate r draws the same seed at
 * every point, so points differ by their parameters, not by their luck.
 * Seeds keep 63 bits: they fit a signed 64-bit integer (Stata, R, JSON). */
uint64_t tm_sweep_run_seed(const tm_sweep *s, int64_t run)
{
    uint64_t point = (uint64_t)(run / s->replicates), rep = (uint64_t)(run % s->replicates);
    uint64_t mixed = s->independent_seeds ? tm_rng_mix(tm_rng_mix(s->seed, point), rep) : tm_rng_mix(s->seed, rep);
    return mixed >> 1;
}

int tm_sweep_independent_seeds(const tm_sweep *s)
{
    return s->independent_seeds;
}

void tm_sweep_run_name(const tm_sweep *s, int64_t run, char *buf, size_t size)
{
    snprintf(buf, size, "p%0*lld-r%0*lld", s->point_width, (long long)(run / s->replicates), s->rep_width,
             (long long)(run % s->replicates));
}

int tm_sweep_run_params(const tm_sweep *s, int64_t run, tm_params **out, tm_error *err)
{
    int n = s->n_fixed + s->n_sets + s->n_values + 1;
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
    for (int i = 0; i < s->n_sets; i++)
        sets[k++] = s->sets[i];
    int point = (int)(run / s->replicates);
    for (int j = 0; j < s->n_values; j++) {
        char num[40];
        tm_yfield_format_number(tm_sweep_value(s, point, j), num, sizeof num);
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

void tm_sweep_run_path(const tm_sweep *s, const char *dir, int64_t run, char *buf, size_t size)
{
    char name[64];
    tm_sweep_run_name(s, run, name, sizeof name);
    snprintf(buf, size, "%s/runs/%s.h5", dir, name);
}

const char *tm_sweep_path(const tm_sweep *s)
{
    return s->path;
}
int tm_sweep_n_outcomes(const tm_sweep *s)
{
    return s->n_outcomes;
}
const char *tm_sweep_outcome_name(const tm_sweep *s, int i)
{
    return s->out[i];
}
int tm_sweep_summary_periods(const tm_sweep *s)
{
    return s->summary_periods;
}
