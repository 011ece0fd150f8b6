#include "experiments/calibrate.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/sha256.h"
#include "base/tmpfile.h"
#include "engine/preflight.h"
#include "experiments/moments.h"
#include "experiments/optim.h"
#include "params/params.h"
#include "params/yfield.h"
#include "params/ytree.h"

#define CAL_MAX_SETS 64
#define CAL_MAX_SEEDS 32
#define CAL_LIST_MAX 64 /* items of a list a parameter path may index */

typedef enum { METHOD_NELDER_MEAD = 0, METHOD_BOBYQA, METHOD_PROPORTIONAL } cal_method;
static const char *const method_names[] = {"nelder-mead", "bobyqa", "proportional", NULL};

typedef struct {
    char name[128];
    char **paths;
    int n_paths;
    int scale; /* the value multiplies each path's base value */
    double lower, upper, start;
    double *base;    /* [n_paths] base values (scale mode) */
    char moment[96]; /* optimizer.method proportional: the moment this parameter moves */
    int moment_index;
    int moves_down; /* proportional: the moment falls as the parameter rises (moves: down) */
} cal_param;

typedef struct {
    char name[96];
    double target, tolerance, weight;
    char source[200];
    int line, col; /* of the name, for messages once the base is loaded */
    int exact;     /* aggregation: exact: from one exact-aggregation run, not the seeds */
} cal_moment;

struct tm_calibration {
    char *file;
    char sha256[65];
    char base_path[PATH_MAX];
    char base_sha[65];        /* resolved base parameters before fitting */
    char *sets[CAL_MAX_SETS]; /* fixed overrides during fitting */
    int n_sets;
    char seed_set[64]; /* the seed of the evaluation being run */
    /* Seeds of every evaluation (`seed` or `seeds`; none: the base file's)
     * and the held-out ones (`held_out_seeds`), for --held-out. */
    uint64_t seeds[CAL_MAX_SEEDS], held_out[CAL_MAX_SEEDS];
    int n_seeds, n_held_out, use_held_out;
    cal_param *par;
    int n_par;
    cal_moment *mom;
    int n_mom;
    int n_exact; /* moments with aggregation: exact */
    cal_method method;
    tm_optim_options opt;
    int max_iterations; /* proportional rounds (0: 50) */
    double damping;     /* proportional: x <- x (target / model)^damping */
    /* evaluation state */
    const tm_calibration_options *run;
    const char **eval_sets;
    char *eval_buf;
    double *moment_values;           /* of the last evaluation: mean over its seeds */
    double *moment_min, *moment_max; /* of the last evaluation: over its seeds */
    int last_n_seeds;                /* seeds of the last evaluation */
};

void tm_calibration_close(tm_calibration *c)
{
    if (!c)
        return;
    free(c->file);
    for (int i = 0; i < c->n_sets; i++)
        free(c->sets[i]);
    for (int i = 0; c->par && i < c->n_par; i++) {
        for (int k = 0; k < c->par[i].n_paths; k++)
            free(c->par[i].paths[k]);
        free(c->par[i].paths);
        free(c->par[i].base);
    }
    free(c->par);
    free(c->mom);
    free(c->eval_sets);
    free(c->eval_buf);
    free(c->moment_values);
    free(c->moment_min);
    free(c->moment_max);
    free(c);
}

/* Follow a key path (`a.b`, `experience.demand[0]`: tm_ytree_path_parse)
 * through maps and lists; NULL if absent or malformed. */
static const tm_ynode *lookup_path(const tm_ynode *root, const char *path)
{
    tm_ypath_step steps[TM_YTREE_PATH_MAX_STEPS];
    int n = 0;
    char why[128];
    if (tm_ytree_path_parse(path, steps, TM_YTREE_PATH_MAX_STEPS, &n, why, sizeof why))
        return NULL;
    const tm_ynode *node = root;
    for (int k = 0; k < n && node; k++) {
        if (steps[k].index < 0)
            node = node->kind == TM_Y_MAP ? tm_ytree_get(node, steps[k].key, NULL) : NULL;
        else
            node = node->kind == TM_Y_SEQ && (size_t)steps[k].index < node->n ? node->items[steps[k].index] : NULL;
    }
    return node;
}

/* The numbers at a parameter path in the base file (as written, after
 * `extends:` and the fixed overrides), else in its canonical resolved
 * form: one for a scalar, each item of a list of scalars (*is_list);
 * at most max, *n_out of them. */
static int base_numbers(const tm_calibration *c, const char *path, double *out, int max, int *n_out, int *is_list,
                        tm_error *err)
{
    tm_ypool *pool = tm_ypool_new();
    tm_ynode *tree = NULL, *canon = NULL;
    tm_params *p = NULL;
    int found = 0;
    for (int pass = 0; pass < 2 && !found && pool; pass++) {
        const tm_ynode *n = NULL;
        if (pass == 0 && tm_ytree_load(pool, c->base_path, &tree, err) == 0) {
            for (int i = 0; i < c->n_sets; i++)
                tm_ytree_set(pool, tree, c->sets[i], err);
            n = lookup_path(tree, path);
        } else if (pass == 1 && tm_params_load(c->base_path, (const char *const *)c->sets, c->n_sets, &p, err) == 0 &&
                   tm_ytree_parse(pool, "canonical", p->canonical, strlen(p->canonical), &canon, err) == 0) {
            n = lookup_path(canon, path);
        }
        if (n && n->kind == TM_Y_SCALAR) {
            found = tm_params_parse_number(n->value, out) == 0;
            *n_out = 1;
            *is_list = 0;
        } else if (n && n->kind == TM_Y_SEQ && n->n > 0 && (int)n->n <= max) {
            found = 1;
            for (size_t k = 0; k < n->n && found; k++)
                found = n->items[k]->kind == TM_Y_SCALAR && tm_params_parse_number(n->items[k]->value, &out[k]) == 0;
            *n_out = (int)n->n;
            *is_list = 1;
        }
    }
    tm_ytree_free(tree);
    tm_ytree_free(canon);
    tm_params_free(p);
    tm_ypool_free(pool);
    tm_error_clear(err);
    return found ? 0 : -1;
}

/* Value of a scalar parameter path in the base file (base_numbers). */
static int base_value(const tm_calibration *c, const char *path, double *out, tm_error *err)
{
    double v[1];
    int n = 0, is_list = 0;
    if (base_numbers(c, path, v, 1, &n, &is_list, err) || is_list)
        return -1;
    *out = v[0];
    return 0;
}

/* A path that ends in a list index (`experience.demand[0]`): the list's
 * path in `list` and the index, 1; 0 for a path without one. */
static int list_element(const char *path, char *list, size_t size, long *index)
{
    const char *open = strrchr(path, '[');
    if (!open)
        return 0;
    snprintf(list, size, "%.*s", (int)(open - path), path);
    *index = strtol(open + 1, NULL, 10);
    return 1;
}

/* parameters[i]: {name, path or paths, mode, lower, upper, start, moment}. */
static int parse_param(tm_calibration *c, const tm_ynode *e, size_t i, tm_error *err)
{
    static const char *const keys[] = {"name",  "path",  "paths",  "mode",  "lower",
                                       "upper", "start", "moment", "moves", NULL};
    cal_param *q = &c->par[c->n_par++];
    char where[64], key[96];
    snprintf(where, sizeof where, "parameters[%zu]", i);
    if (tm_yfield_check_keys(e, where, keys, err))
        return -1;
    const tm_ynode *path = tm_ytree_get(e, "path", NULL), *paths = tm_ytree_get(e, "paths", NULL);
    if (!!path == !!paths)
        return tm_params_fail_at(err, e, where, "give either path: (one parameter) or paths: (a list tied together)");
    size_t np = path ? 1 : paths->kind == TM_Y_SEQ ? paths->n : 0;
    if (np == 0)
        return tm_params_fail_at(err, paths, where, "paths: expected a non-empty list of parameter paths");
    q->paths = calloc(np, sizeof *q->paths);
    q->base = calloc(np, sizeof *q->base);
    if (!q->paths || !q->base)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    for (size_t k = 0; k < np; k++) {
        const tm_ynode *pn = path ? path : paths->items[k];
        if (pn->kind != TM_Y_SCALAR || !pn->value[0] || strchr(pn->value, '='))
            return tm_params_fail_at(err, pn, where,
                                     "expected a dotted parameter path such as destinations.US.market.sunk_cost");
        const char *open = strchr(pn->value, '[');
        if (open) {
            /* A list element: one index, last, into a list of numbers of
             * the base (the fitted file writes the whole list). */
            char list[512];
            long index = 0;
            double items[CAL_LIST_MAX];
            int n_items = 0, is_list = 0;
            list_element(pn->value, list, sizeof list, &index);
            if (open != strrchr(pn->value, '[') || pn->value[strlen(pn->value) - 1] != ']' ||
                base_numbers(c, list, items, CAL_LIST_MAX, &n_items, &is_list, err) || !is_list || index < 0 ||
                index >= n_items || !strchr(pn->value, '.'))
                return tm_params_fail_at(err, pn, where,
                                         "%s: expected a list of numbers of the base file and one index into it, "
                                         "last (e.g. experience.demand[0])",
                                         pn->value);
        }
        if (!(q->paths[q->n_paths++] = strdup(pn->value)))
            return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    }
    const tm_ynode *mode = tm_ytree_get(e, "mode", NULL);
    if (mode) {
        if (mode->kind == TM_Y_SCALAR && strcmp(mode->value, "scale") == 0)
            q->scale = 1;
        else if (!(mode->kind == TM_Y_SCALAR && strcmp(mode->value, "set") == 0))
            return tm_params_fail_at(
                err, mode, where, "mode: expected set (the value itself) or scale (a multiplier of the base values)");
    }
    const tm_ynode *name = tm_ytree_get(e, "name", NULL);
    snprintf(q->name, sizeof q->name, "%s", name && name->kind == TM_Y_SCALAR ? name->value : q->paths[0]);
    const tm_ynode *steers = tm_ytree_get(e, "moment", NULL);
    q->moment_index = -1;
    if (steers) {
        if (steers->kind != TM_Y_SCALAR || !steers->value[0])
            return tm_params_fail_at(err, steers, where, "moment: expected the name of one of the moments below");
        snprintf(q->moment, sizeof q->moment, "%s", steers->value);
    }
    const tm_ynode *moves = tm_ytree_get(e, "moves", NULL);
    if (moves) {
        if (moves->kind == TM_Y_SCALAR && strcmp(moves->value, "down") == 0)
            q->moves_down = 1;
        else if (!(moves->kind == TM_Y_SCALAR && strcmp(moves->value, "up") == 0))
            return tm_params_fail_at(err, moves, where,
                                     "moves: expected up (the moment rises with the parameter, the default) or down");
    }
    if (tm_yfield_bounds(e, where, &q->lower, &q->upper, err))
        return -1;
    for (int k = 0; k < q->n_paths; k++)
        if (base_value(c, q->paths[k], &q->base[k], err)) {
            if (q->scale)
                return tm_params_fail_at(err, e, where, "cannot find the base value of %s to scale", q->paths[k]);
            q->base[k] = NAN;
        }
    const tm_ynode *start = tm_ytree_get(e, "start", NULL);
    snprintf(key, sizeof key, "%s.start", where);
    if (start) {
        if (tm_yfield_number(start, key, &q->start, err))
            return -1;
    } else {
        q->start = q->scale ? 1.0 : q->base[0];
        if (isnan(q->start))
            return tm_params_fail_at(err, e, where, "cannot find the base value of %s; give start:", q->paths[0]);
    }
    if (!(q->start > q->lower && q->start < q->upper))
        return tm_params_fail_at(err, start ? start : e, key, "start value %g must lie strictly inside (%g, %g)",
                                 q->start, q->lower, q->upper);
    return 0;
}

/* moments[i]: {name, target, tolerance, weight, source}. */
static int parse_moment(tm_calibration *c, const tm_ynode *e, size_t i, tm_error *err)
{
    static const char *const keys[] = {"name", "target", "tolerance", "weight", "source", "aggregation", NULL};
    cal_moment *q = &c->mom[c->n_mom++];
    char where[64], key[96];
    snprintf(where, sizeof where, "moments[%zu]", i);
    if (tm_yfield_check_keys(e, where, keys, err))
        return -1;
    const tm_ynode *name = tm_ytree_get(e, "name", NULL);
    if (!name || name->kind != TM_Y_SCALAR)
        return tm_params_fail_at(err, name ? name : e, where,
                                 "name: expected an outcome name (docs/statistics.md, `tradeabm calibrate --moments`)");
    snprintf(q->name, sizeof q->name, "%s", name->value);
    q->line = name->line;
    q->col = name->col;
    snprintf(key, sizeof key, "%s.target", where);
    if (tm_yfield_number(tm_ytree_get(e, "target", NULL), key, &q->target, err))
        return -1;
    const tm_ynode *tol = tm_ytree_get(e, "tolerance", NULL), *w = tm_ytree_get(e, "weight", NULL);
    q->tolerance = 0.1 * fabs(q->target) > 1e-3 ? 0.1 * fabs(q->target) : 1e-3;
    q->weight = 1.0;
    snprintf(key, sizeof key, "%s.tolerance", where);
    if (tol && (tm_yfield_number(tol, key, &q->tolerance, err) || !(q->tolerance > 0)))
        return tm_params_fail_at(err, tol, key, "expected a positive number");
    snprintf(key, sizeof key, "%s.weight", where);
    if (w && (tm_yfield_number(w, key, &q->weight, err) || !(q->weight >= 0)))
        return tm_params_fail_at(err, w, key, "expected a non-negative number");
    const tm_ynode *src = tm_ytree_get(e, "source", NULL);
    if (src && src->kind == TM_Y_SCALAR)
        snprintf(q->source, sizeof q->source, "%s", src->value);
    const tm_ynode *agg = tm_ytree_get(e, "aggregation", NULL);
    if (agg) {
        snprintf(key, sizeof key, "%s.aggregation", where);
        if (agg->kind != TM_Y_SCALAR || (strcmp(agg->value, "exact") && strcmp(agg->value, "simulated")))
            return tm_params_fail_at(err, agg, key,
                                     "expected exact (the moment from one exact-aggregation run, the same at "
                                     "every seed) or simulated (the mean over the seeds, the default)");
        q->exact = strcmp(agg->value, "exact") == 0;
        c->n_exact += q->exact;
    }
    return 0;
}

/* optimizer: method and the settings that apply to it. */
static int parse_optimizer(tm_calibration *c, const tm_ynode *opt, tm_error *err)
{
    static const char *const keys[] = {"method",      "max_iterations", "max_evaluations",
                                       "f_tolerance", "x_tolerance",    "initial_step",
                                       "restarts",    "damping",        NULL};
    /* Settings of one kind of method only: [0] NLopt's, [1] proportional's. */
    static const char *const only_for[2][5] = {{"max_evaluations", "x_tolerance", "initial_step", "restarts", NULL},
                                               {"max_iterations", "damping", NULL}};
    c->opt.restarts = 1;
    c->damping = 0.5;
    if (!opt)
        return 0;
    if (tm_yfield_check_keys(opt, "optimizer", keys, err))
        return -1;
    const tm_ynode *mv = tm_ytree_get(opt, "method", NULL);
    if (mv) {
        int found = -1;
        for (int m = 0; method_names[m] && mv->kind == TM_Y_SCALAR; m++)
            if (strcmp(mv->value, method_names[m]) == 0)
                found = m;
        if (found < 0) {
            char expected[300];
            tm_params_describe_choices(expected, sizeof expected, mv->kind == TM_Y_SCALAR ? mv->value : "",
                                       method_names, 3);
            return tm_params_fail_at(err, mv, "optimizer.method", "found %s%s%s; %s",
                                     mv->kind == TM_Y_SCALAR ? "\"" : "a ",
                                     mv->kind == TM_Y_SCALAR ? mv->value : tm_yfield_kind_name(mv),
                                     mv->kind == TM_Y_SCALAR ? "\"" : "", expected);
        }
        c->method = (cal_method)found;
    }
    int proportional = c->method == METHOD_PROPORTIONAL;
    for (size_t i = 0; i < opt->n; i++) {
        const char *k = opt->keys[i];
        char key[96];
        snprintf(key, sizeof key, "optimizer.%s", k);
        if (!strcmp(k, "method"))
            continue;
        for (int j = 0; only_for[!proportional][j]; j++)
            if (!strcmp(k, only_for[!proportional][j])) {
                tm_ynode where = tm_yfield_key_at(opt, i);
                return tm_params_fail_at(err, &where, key, "does not apply to method %s (%s)", method_names[c->method],
                                         proportional ? "it stops after max_iterations rounds"
                                                      : "NLopt's methods stop at max_evaluations");
            }
        double v;
        if (tm_yfield_number(opt->items[i], key, &v, err))
            return -1;
        if (v < 0)
            return tm_params_fail_at(err, opt->items[i], key, "expected a non-negative number");
        if (!strcmp(k, "max_iterations"))
            c->max_iterations = (int)v;
        else if (!strcmp(k, "max_evaluations"))
            c->opt.max_evaluations = (int)v;
        else if (!strcmp(k, "f_tolerance"))
            c->opt.f_tolerance = v;
        else if (!strcmp(k, "x_tolerance"))
            c->opt.x_tolerance = v;
        else if (!strcmp(k, "initial_step"))
            c->opt.initial_step = v;
        else if (!strcmp(k, "damping"))
            c->damping = v;
        else
            c->opt.restarts = (int)v;
    }
    c->opt.method = c->method == METHOD_BOBYQA ? TM_OPTIM_BOBYQA : TM_OPTIM_NELDER_MEAD;
    return 0;
}

/* A list of distinct seeds (at most CAL_MAX_SEEDS). */
static int parse_seeds(const tm_ynode *node, const char *key, uint64_t *out, int *n, tm_error *err)
{
    if (node->kind != TM_Y_SEQ || node->n == 0 || node->n > CAL_MAX_SEEDS)
        return tm_params_fail_at(err, node, key, "expected a list of 1 to %d seeds", CAL_MAX_SEEDS);
    for (size_t i = 0; i < node->n; i++) {
        char where[64];
        snprintf(where, sizeof where, "%s[%zu]", key, i);
        if (tm_yfield_seed(node->items[i], where, &out[i], err))
            return -1;
        for (size_t j = 0; j < i; j++)
            if (out[j] == out[i])
                return tm_params_fail_at(err, node->items[i], where, "seed %llu is listed twice",
                                         (unsigned long long)out[i]);
    }
    *n = (int)node->n;
    return 0;
}

static int parse_file(tm_calibration *c, const tm_ynode *root, tm_error *err)
{
    static const char *const top_keys[] = {"base",    "seed",      "seeds", "held_out_seeds", "set", "parameters",
                                           "moments", "optimizer", NULL};
    if (tm_yfield_check_keys(root, "", top_keys, err))
        return -1;
    const tm_ynode *base = tm_ytree_get(root, "base", NULL);
    if (!base || base->kind != TM_Y_SCALAR || !base->value[0])
        return tm_params_fail_at(err, base ? base : root, "base",
                                 "expected the path of the parameter file to fit (relative to this file)");
    if (base->value[0] == '/') {
        snprintf(c->base_path, sizeof c->base_path, "%s", base->value);
    } else {
        const char *slash = strrchr(c->file, '/');
        int dirlen = slash ? (int)(slash - c->file) + 1 : 0;
        snprintf(c->base_path, sizeof c->base_path, "%.*s%s", dirlen, c->file, base->value);
    }
    const tm_ynode *seed = tm_ytree_get(root, "seed", NULL), *seeds = tm_ytree_get(root, "seeds", NULL);
    if (seed && seeds)
        return tm_params_fail_at(err, seeds, "seeds", "give seed: (one) or seeds: (a list), not both");
    if (seed) {
        if (tm_yfield_seed(seed, "seed", &c->seeds[0], err))
            return -1;
        c->n_seeds = 1;
    }
    if (seeds && parse_seeds(seeds, "seeds", c->seeds, &c->n_seeds, err))
        return -1;
    const tm_ynode *held = tm_ytree_get(root, "held_out_seeds", NULL);
    if (held && parse_seeds(held, "held_out_seeds", c->held_out, &c->n_held_out, err))
        return -1;
    for (int i = 0; i < c->n_held_out; i++)
        for (int j = 0; j < c->n_seeds; j++)
            if (c->held_out[i] == c->seeds[j])
                return tm_params_fail_at(err, held, "held_out_seeds",
                                         "seed %llu is also a fitting seed; held-out seeds must not be used in fitting",
                                         (unsigned long long)c->held_out[i]);
    const tm_ynode *sets = tm_ytree_get(root, "set", NULL);
    if (sets) {
        if (sets->kind != TM_Y_SEQ || sets->n > CAL_MAX_SETS)
            return tm_params_fail_at(err, sets, "set", "expected a list of KEY=VALUE overrides (at most %d)",
                                     CAL_MAX_SETS);
        for (size_t i = 0; i < sets->n; i++) {
            const tm_ynode *s = sets->items[i];
            if (s->kind != TM_Y_SCALAR || !strchr(s->value, '='))
                return tm_params_fail_at(err, s, "set", "expected KEY=VALUE");
            if (!(c->sets[c->n_sets++] = strdup(s->value)))
                return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        }
    }
    if (parse_optimizer(c, tm_ytree_get(root, "optimizer", NULL), err))
        return -1;
    const tm_ynode *pars = tm_ytree_get(root, "parameters", NULL);
    if (!pars || pars->kind != TM_Y_SEQ || pars->n == 0)
        return tm_params_fail_at(err, pars ? pars : root, "parameters",
                                 "expected a non-empty list of {path, lower, upper}");
    if (!(c->par = calloc(pars->n, sizeof *c->par)))
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    for (size_t i = 0; i < pars->n; i++)
        if (parse_param(c, pars->items[i], i, err))
            return -1;
    /* One value per path: a path in two parameters would make the later
     * override silently win. */
    for (int i = 0; i < c->n_par; i++)
        for (int k = 0; k < c->par[i].n_paths; k++)
            for (int j = 0; j <= i; j++)
                for (int l = 0; l < (j == i ? k : c->par[j].n_paths); l++)
                    if (strcmp(c->par[i].paths[k], c->par[j].paths[l]) == 0) {
                        char where[64];
                        snprintf(where, sizeof where, "parameters[%d]", i);
                        return tm_params_fail_at(err, pars->items[i], where,
                                                 "%s is already fitted by parameters[%d] (%s); a path may appear once",
                                                 c->par[i].paths[k], j, c->par[j].name);
                    }
    const tm_ynode *moms = tm_ytree_get(root, "moments", NULL);
    if (!moms || moms->kind != TM_Y_SEQ || moms->n == 0)
        return tm_params_fail_at(err, moms ? moms : root, "moments",
                                 "expected a non-empty list of {name, target, tolerance, weight}");
    c->mom = calloc(moms->n, sizeof *c->mom);
    c->moment_values = calloc(moms->n, sizeof(double));
    c->moment_min = calloc(moms->n, sizeof(double));
    c->moment_max = calloc(moms->n, sizeof(double));
    if (!c->mom || !c->moment_values || !c->moment_min || !c->moment_max)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    for (size_t i = 0; i < moms->n; i++)
        if (parse_moment(c, moms->items[i], i, err))
            return -1;
    /* Proportional updates: every parameter names a moment of the list. */
    for (int i = 0; i < c->n_par; i++) {
        cal_param *q = &c->par[i];
        for (int k = 0; k < c->n_mom && q->moment[0]; k++)
            if (!strcmp(c->mom[k].name, q->moment))
                q->moment_index = k;
        if (c->method == METHOD_PROPORTIONAL && q->moment_index < 0) {
            char where[64];
            snprintf(where, sizeof where, "parameters[%d].moment", i);
            const tm_ynode *m = tm_ytree_get(pars->items[i], "moment", NULL);
            return tm_params_fail_at(err, m ? m : pars->items[i], where,
                                     "%s; optimizer.method proportional needs each parameter's moment, one of the "
                                     "names under moments:",
                                     q->moment[0] ? "not among the moments" : "missing");
        }
    }
    int total_paths = 0;
    for (int i = 0; i < c->n_par; i++)
        total_paths += c->par[i].n_paths;
    c->eval_sets = calloc((size_t)(c->n_sets + 2 + total_paths), sizeof(char *));
    c->eval_buf = malloc((size_t)total_paths * 600);
    if (!c->eval_sets || !c->eval_buf)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    return 0;
}

/* Value written for path k of parameter q at x. */
static double path_value(const cal_param *q, int k, double x)
{
    return q->scale ? q->base[k] * x : x;
}

/* Load the base parameters with the fixed overrides, the seed, x and, when
 * exact, run.aggregation=exact. */
static int load_at(tm_calibration *c, const double *x, int exact, tm_params **p, tm_error *err)
{
    int n = 0;
    for (int i = 0; i < c->n_sets; i++)
        c->eval_sets[n++] = c->sets[i];
    if (c->seed_set[0])
        c->eval_sets[n++] = c->seed_set;
    if (exact)
        c->eval_sets[n++] = "run.aggregation=exact";
    char *buf = c->eval_buf;
    for (int i = 0; i < c->n_par; i++)
        for (int k = 0; k < c->par[i].n_paths; k++) {
            char num[64];
            tm_yfield_format_number(path_value(&c->par[i], k, x[i]), num, sizeof num);
            snprintf(buf, 600, "%s=%s", c->par[i].paths[k], num);
            c->eval_sets[n++] = buf;
            buf += 600;
        }
    return tm_params_load(c->base_path, c->eval_sets, n, p, err);
}

/* Whether moment k comes from the exact-aggregation run: its
 * `aggregation: exact`, except at the held-out seeds, where every moment is
 * simulated (that check is about what single seeds give). */
static int from_exact(const tm_calibration *c, int k)
{
    return c->mom[k].exact && !c->use_held_out;
}

/* One run at x (the seed in c->seed_set, exact aggregation when exact):
 * adds its value of each moment it stands for (the
 * exact run's moments, or the others) to the mean with weight 1 / runs and
 * to their range. */
static int add_run(tm_calibration *c, const double *x, int exact, int runs, tm_error *err)
{
    tm_params *p = NULL;
    tm_moments *m = NULL;
    if (load_at(c, x, exact, &p, err))
        return -1;
    int rc = tm_moments_of_run(p, c->run ? c->run->threads : 0, &m, err);
    for (int k = 0; k < c->n_mom && !rc; k++) {
        double v;
        if (from_exact(c, k) != exact)
            continue;
        rc = tm_moments_value(m, c->mom[k].name, &v, err);
        c->moment_values[k] += v / runs;
        c->moment_min[k] = fmin(c->moment_min[k], v);
        c->moment_max[k] = fmax(c->moment_max[k], v);
    }
    tm_moments_close(m);
    tm_params_free(p);
    return rc ? -1 : 0;
}

/* SMM objective: sum_k w_k ((m_k - target_k) / tolerance_k)^2, m_k the
 * mean of moment k over the evaluation seeds, the same seeds in every
 * evaluation (common random numbers), so it is a deterministic function of
 * x; a moment with `aggregation: exact` is its value in one run with exact
 * aggregation (the expectation, with no sampling noise), and when every
 * moment is such the seeds are not run. A moment the model cannot compute
 * makes it +infinity. */
static int objective(const double *x, double *value, void *ctx, tm_error *err)
{
    tm_calibration *c = ctx;
    const uint64_t *seeds = c->use_held_out ? c->held_out : c->seeds;
    int n_seeds = c->use_held_out ? c->n_held_out : c->n_seeds;
    int runs = n_seeds > 0 ? n_seeds : 1, n_exact = 0;
    for (int k = 0; k < c->n_mom; k++) {
        c->moment_values[k] = 0.0;
        c->moment_min[k] = INFINITY;
        c->moment_max[k] = -INFINITY;
        n_exact += from_exact(c, k);
    }
    int rc = 0;
    if (n_exact > 0) {
        c->seed_set[0] = '\0';
        rc = add_run(c, x, 1, 1, err);
    }
    int simulated = n_exact < c->n_mom;
    for (int r = 0; simulated && r < runs && !rc; r++) {
        c->seed_set[0] = '\0';
        if (n_seeds > 0)
            snprintf(c->seed_set, sizeof c->seed_set, "run.seed=%llu", (unsigned long long)seeds[r]);
        rc = add_run(c, x, 0, runs, err);
    }
    c->last_n_seeds = simulated ? runs : 1;
    double f = 0;
    for (int k = 0; k < c->n_mom; k++) {
        double v = c->moment_values[k], z = (v - c->mom[k].target) / c->mom[k].tolerance;
        f += isfinite(v) ? c->mom[k].weight * z * z : INFINITY;
    }
    *value = f;
    return rc;
}

/* The values of x, "name (paths) = value (lower|upper)" for each
 * parameter, into buf. */
static void describe_point(const tm_calibration *c, const double *x, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < c->n_par && used < size; i++) {
        const cal_param *q = &c->par[i];
        used += (size_t)snprintf(buf + used, size - used, "%s%s (%s%s%s) = %g (%s)", i ? ", " : "", q->name,
                                 q->scale ? "scale of " : "", q->paths[0], q->n_paths > 1 ? ", ..." : "", x[i],
                                 x[i] == q->upper   ? "upper"
                                 : x[i] == q->lower ? "lower"
                                                    : "start");
    }
}

/* The overflow pre-flight (tm_preflight_check_values) over the box of the
 * parameters, before any evaluation. Its bound on a sector's log export
 * value (docs/reliability.md) rises with volatility, persistence, demand
 * and firms and is convex in the elasticity, each taken alone, so its
 * largest value over the box is at a corner: with up to 8 parameters every
 * corner is checked (256 parameter loads at most), beyond that only each
 * bound with the other parameters at their start. A corner that does not
 * validate is left to the fit, whose evaluation there reports it. */
static int check_overflow(tm_calibration *c, tm_error *err)
{
    const int n = c->n_par, corners = n <= 8;
    const long points = corners ? 1L << n : 2L * n;
    double *x = malloc((size_t)n * sizeof *x);
    if (!x)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    for (long k = 0; k < points; k++) {
        tm_calibration_start(c, x);
        for (int i = 0; i < n; i++)
            if (corners || i == k / 2)
                x[i] = ((corners ? k >> i : k) & 1) ? c->par[i].upper : c->par[i].lower;
        tm_params *p = NULL;
        tm_error ignored = {0}, why = {0};
        if (load_at(c, x, 0, &p, &ignored))
            continue;
        int overflows = tm_preflight_check_values(p, &why) != 0;
        tm_params_free(p);
        if (!overflows)
            continue;
        char where[480];
        describe_point(c, x, where, sizeof where);
        free(x);
        return tm_error_set(err, TM_ERR_INPUT, "%s: parameters: at %s the model overflows (%s); narrow the bounds",
                            c->file, where, why.msg);
    }
    free(x);
    return 0;
}

int tm_calibration_open(const char *path, tm_calibration **out, tm_error *err)
{
    *out = NULL;
    tm_calibration *c = calloc(1, sizeof *c);
    tm_ypool *pool = tm_ypool_new();
    tm_ynode *root = NULL;
    tm_params *p = NULL;
    char *text = NULL;
    size_t len = 0;
    double *x = NULL;
    int rc = -1;
    if (!c || !pool || !(c->file = strdup(path))) {
        tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        goto done;
    }
    /* The SHA-256 of the file as written goes into the fitted file's header. */
    if (tm_ytree_read_file(path, &text, &len, err))
        goto done;
    tm_sha256_buffer(text, len, c->sha256);
    if (tm_ytree_load(pool, path, &root, err) || parse_file(c, root, err))
        goto done;
    /* Every path and moment name, once, before any fitting. */
    if (!(x = malloc((size_t)c->n_par * sizeof *x))) {
        tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        goto done;
    }
    tm_calibration_start(c, x);
    if (load_at(c, x, 0, &p, err)) {
        tm_error_prefix(err, "%s: parameters", path);
        goto done;
    }
    /* Every name, then those of the exact moments again against the
     * parameters with exact aggregation, which has no firm-level outcomes. */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            if (!c->n_exact)
                break;
            tm_params_free(p);
            p = NULL;
            if (load_at(c, x, 1, &p, err)) {
                tm_error_prefix(err, "%s: parameters with run.aggregation=exact", path);
                goto done;
            }
        }
        for (int k = 0; k < c->n_mom; k++) {
            tm_error why = {0};
            if ((pass && !c->mom[k].exact) || tm_moments_check_name(p, c->mom[k].name, &why) == 0)
                continue;
            tm_ynode where = {.file = c->file, .line = c->mom[k].line, .col = c->mom[k].col};
            char key[64];
            snprintf(key, sizeof key, "moments[%d].name", k);
            if (pass)
                tm_params_fail_at(err, &where, key,
                                  "`%s` follows single firms, and a run with exact aggregation has expected numbers "
                                  "of firms only: drop `aggregation: exact` for this moment",
                                  c->mom[k].name);
            else
                tm_params_fail_at(err, &where, key, "%s", why.msg);
            goto done;
        }
    }
    tm_params_free(p);
    p = NULL;
    if (check_overflow(c, err))
        goto done;
    /* The base as resolved before fitting (fixed overrides and the first seed). */
    const char *sets[CAL_MAX_SETS + 1];
    int n = 0;
    for (int i = 0; i < c->n_sets; i++)
        sets[n++] = c->sets[i];
    if (c->n_seeds > 0) {
        snprintf(c->seed_set, sizeof c->seed_set, "run.seed=%llu", (unsigned long long)c->seeds[0]);
        sets[n++] = c->seed_set;
    }
    if (tm_params_load(c->base_path, sets, n, &p, err))
        goto done;
    snprintf(c->base_sha, sizeof c->base_sha, "%s", p->sha256);
    *out = c;
    c = NULL;
    rc = 0;
done:
    tm_params_free(p);
    free(x);
    free(text);
    tm_ytree_free(root);
    tm_ypool_free(pool);
    tm_calibration_close(c);
    return rc;
}

const char *tm_calibration_method(const tm_calibration *c)
{
    return method_names[c->method];
}
const char *tm_calibration_base_path(const tm_calibration *c)
{
    return c->base_path;
}
int tm_calibration_n_params(const tm_calibration *c)
{
    return c->n_par;
}
const char *tm_calibration_param_name(const tm_calibration *c, int i)
{
    return c->par[i].name;
}
int tm_calibration_n_moments(const tm_calibration *c)
{
    return c->n_mom;
}

void tm_calibration_start(const tm_calibration *c, double *x)
{
    for (int i = 0; i < c->n_par; i++)
        x[i] = c->par[i].start;
}

int tm_calibration_evaluate(tm_calibration *c, const tm_calibration_options *opts, const double *x, double *value,
                            tm_error *err)
{
    c->run = opts;
    int rc = objective(x, value, c, err);
    c->run = NULL;
    return rc;
}

static void report(const tm_calibration *c, int round, int evaluations, double f, double gap, const double *x)
{
    if (!c->run)
        return;
    tm_calibration_step step = {round, f, gap, x, c->n_par};
    tm_progress_report_to(&c->run->progress, "calibration", evaluations, -1, NULL, &step);
}

static void optim_progress(void *user, const tm_progress_report *r)
{
    const tm_optim_step *step = r->detail;
    report(user, -1, (int)r->done, step->best, NAN, step->x);
}

/* optimizer.method: proportional. Each parameter scales towards its own
 * moment, x <- x (target / model)^damping within its bounds (model /
 * target for a parameter whose moment falls as it rises), until every
 * such moment is within f_tolerance (relative; default 1e-3) of its target
 * or max_iterations rounds (default 50). For parameters that move their
 * moment in proportion, such as a sector's demand shifter and its exports
 * to that destination with independent markets, this converges in a few
 * rounds where a general optimiser would need hundreds of evaluations. */
static int proportional_fit(tm_calibration *c, int max_rounds, double *x, tm_calibration_result *res, tm_error *err)
{
    int max_it = max_rounds > 0 ? max_rounds : c->max_iterations > 0 ? c->max_iterations : 50;
    double tol = c->opt.f_tolerance > 0 ? c->opt.f_tolerance : 1e-3;
    for (int it = 1;; it++) {
        double f;
        if (objective(x, &f, c, err))
            return -1;
        res->evaluations++;
        res->rounds = it - 1;
        res->objective = f;
        double worst = 0;
        for (int i = 0; i < c->n_par; i++) {
            const cal_moment *q = &c->mom[c->par[i].moment_index];
            double v = c->moment_values[c->par[i].moment_index];
            if (!(v > 0) || !(q->target > 0))
                return tm_error_set(err, TM_ERR_RUNTIME,
                                    "calibrate: moment %s is %g with target %g; proportional updates need both "
                                    "positive",
                                    q->name, v, q->target);
            worst = fmax(worst, fabs(v / q->target - 1.0));
        }
        report(c, it - 1, res->evaluations, f, worst, x);
        if (worst < tol) {
            res->converged = 1;
            return 0;
        }
        if (it > max_it)
            return 0;
        for (int i = 0; i < c->n_par; i++) {
            int k = c->par[i].moment_index;
            double gap = c->mom[k].target / c->moment_values[k];
            double next = x[i] * pow(c->par[i].moves_down ? 1.0 / gap : gap, c->damping);
            x[i] = fmin(fmax(next, c->par[i].lower), c->par[i].upper);
        }
    }
}

int tm_calibration_fit(tm_calibration *c, const tm_calibration_options *opts, double *x, tm_calibration_result *res,
                       tm_error *err)
{
    memset(res, 0, sizeof *res);
    c->run = opts;
    int rc;
    if (c->method == METHOD_PROPORTIONAL) {
        rc = proportional_fit(c, opts ? opts->max_iterations : 0, x, res, err);
    } else {
        double *lo = malloc((size_t)c->n_par * sizeof *lo), *hi = malloc((size_t)c->n_par * sizeof *hi);
        rc = !lo || !hi ? tm_error_set(err, TM_ERR_RUNTIME, "out of memory") : 0;
        for (int i = 0; !rc && i < c->n_par; i++) {
            lo[i] = c->par[i].lower;
            hi[i] = c->par[i].upper;
        }
        tm_optim_options o = c->opt;
        o.progress = (tm_progress){optim_progress, c};
        if (opts && opts->max_evaluations > 0)
            o.max_evaluations = opts->max_evaluations;
        tm_optim_result r = {0};
        if (!rc)
            rc = tm_optim_minimize(c->n_par, x, lo, hi, objective, c, &o, &r, err);
        res->objective = r.value;
        res->evaluations = r.evaluations;
        res->converged = r.converged;
        free(lo);
        free(hi);
    }
    /* The fit table shows the moments at the returned point. */
    double f;
    if (!rc)
        rc = objective(x, &f, c, err);
    c->run = NULL;
    return rc ? -1 : 0;
}

void tm_calibration_format_fit(const tm_calibration *c, FILE *out, const char *prefix)
{
    /* With several seeds `model` is their mean, `within` holds at every
     * seed, and the range follows. */
    int several = c->last_n_seeds > 1;
    fprintf(out, "%s%-34s %10s %10s %10s %6s %8s%s\n", prefix, "moment", "target", "model", "tolerance", "within",
            "weight", several ? "        min        max" : "");
    for (int k = 0; k < c->n_mom; k++) {
        const cal_moment *q = &c->mom[k];
        double v = c->moment_values[k];
        int within = several ? fabs(c->moment_min[k] - q->target) <= q->tolerance &&
                                   fabs(c->moment_max[k] - q->target) <= q->tolerance
                             : fabs(v - q->target) <= q->tolerance;
        fprintf(out, "%s%-34s %10.4g %10.4g %10.4g %6s %8.3g", prefix, q->name, q->target, v, q->tolerance,
                within ? "yes" : "NO", q->weight);
        if (several)
            fprintf(out, " %10.4g %10.4g", c->moment_min[k], c->moment_max[k]);
        fputc('\n', out);
    }
    int listed = 0;
    for (int k = 0; k < c->n_mom; k++)
        if (from_exact(c, k))
            fprintf(out, "%s%s", listed++ ? ", " : prefix, c->mom[k].name);
    if (listed)
        fprintf(out, ": exact aggregation (one run, no sampling noise: the same at every seed)\n");
}

int tm_calibration_n_seeds(const tm_calibration *c, int held_out)
{
    return held_out ? c->n_held_out : c->n_seeds;
}

void tm_calibration_use_held_out(tm_calibration *c, int held_out)
{
    c->use_held_out = held_out;
}

/* Relative path from folder `from` to file `to` (both absolute). */
static void relative_path(const char *from, const char *to, char *buf, size_t size)
{
    size_t common = 0, i = 0;
    for (; from[i] && to[i] && from[i] == to[i]; i++)
        if (from[i] == '/')
            common = i + 1;
    if (!from[i] && to[i] == '/')
        common = i + 1;
    size_t used = 0;
    buf[0] = '\0';
    for (const char *q = from + common - 1; *q; q++)
        if (*q == '/' && used + 3 < size)
            used += (size_t)snprintf(buf + used, size - used, "../");
    if (from[common - 1] == '/' && !from[common] && used >= 3)
        used -= 3, buf[used] = '\0';
    snprintf(buf + used, size - used, "%s", to + common);
}

typedef struct {
    const char *path;
    double value;
    char *text; /* a whole list, written as is; then path and text are owned */
} assignment;

static void free_assignments(assignment *as, int n)
{
    for (int i = 0; i < n; i++)
        if (as[i].text) {
            free((char *)as[i].path);
            free(as[i].text);
        }
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const assignment *)a)->path, ((const assignment *)b)->path);
}

/* Nested YAML for dotted assignments; sorting puts shared prefixes together. */
static void write_nested(FILE *out, assignment *as, int n)
{
    qsort(as, (size_t)n, sizeof *as, by_path);
    char prev[16][128];
    int prev_depth = 0;
    for (int i = 0; i < n; i++) {
        char buf[512];
        snprintf(buf, sizeof buf, "%s", as[i].path);
        char *parts[16];
        int depth = 0;
        for (char *t = strtok(buf, "."); t && depth < 16; t = strtok(NULL, "."))
            parts[depth++] = t;
        int same = 0;
        while (same < depth - 1 && same < prev_depth && strcmp(parts[same], prev[same]) == 0)
            same++;
        for (int k = same; k < depth; k++) {
            if (k < depth - 1) {
                fprintf(out, "%*s%s:\n", 2 * k, "", parts[k]);
            } else {
                char num[64];
                tm_yfield_format_number(as[i].value, num, sizeof num);
                fprintf(out, "%*s%s: %s\n", 2 * k, "", parts[k], as[i].text ? as[i].text : num);
            }
        }
        for (int k = 0; k < depth && k < 16; k++)
            snprintf(prev[k], sizeof prev[k], "%s", parts[k]);
        prev_depth = depth - 1;
    }
}

/* A list some parameter paths index: its path and its items. */
typedef struct {
    char path[512];
    double items[CAL_LIST_MAX];
    int n;
} list_value;

/* The fitted values as assignments: one per scalar path; the elements of
 * one list gathered into the whole list, its other items as in the base
 * (`extends:` replaces lists), written as text with a path of its own.
 * The number of assignments, or -1. */
static int fitted_assignments(const tm_calibration *c, const double *x, assignment *as, tm_error *err)
{
    int n = 0, n_lists = 0, total = 0;
    for (int i = 0; i < c->n_par; i++)
        total += c->par[i].n_paths;
    list_value *lists = calloc((size_t)total, sizeof *lists);
    if (!lists)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory"), -1;
    int rc = 0;
    for (int i = 0; i < c->n_par && !rc; i++)
        for (int k = 0; k < c->par[i].n_paths && !rc; k++) {
            const char *path = c->par[i].paths[k];
            double value = path_value(&c->par[i], k, x[i]);
            char list[512];
            long index = 0;
            if (!list_element(path, list, sizeof list, &index)) {
                as[n++] = (assignment){path, value, NULL};
                continue;
            }
            int j = 0;
            while (j < n_lists && strcmp(lists[j].path, list) != 0)
                j++;
            if (j == n_lists) {
                snprintf(lists[j].path, sizeof lists[j].path, "%s", list);
                int is_list = 0;
                rc = base_numbers(c, list, lists[j].items, CAL_LIST_MAX, &lists[j].n, &is_list, err) || !is_list;
                n_lists++;
            }
            if (!rc && index < lists[j].n)
                lists[j].items[index] = value;
            else
                rc = tm_error_set(err, TM_ERR_INPUT, "%s: the base has no list of numbers there", path);
        }
    for (int j = 0; j < n_lists && !rc; j++) {
        size_t size = (size_t)lists[j].n * 32 + 8, used = 0;
        char *text = malloc(size), *own = strdup(lists[j].path);
        if (!text || !own) {
            free(text);
            free(own);
            rc = tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
            break;
        }
        used += (size_t)snprintf(text, size, "[");
        for (int k = 0; k < lists[j].n; k++) {
            char num[64];
            tm_yfield_format_number(lists[j].items[k], num, sizeof num);
            used += (size_t)snprintf(text + used, size - used, "%s%s", k ? ", " : "", num);
        }
        snprintf(text + used, size - used, "]");
        as[n++] = (assignment){own, 0.0, text};
    }
    free(lists);
    if (rc) {
        free_assignments(as, n);
        return -1;
    }
    return n;
}

int tm_calibration_write_fitted(const tm_calibration *c, const char *path, const double *x,
                                const tm_calibration_result *res, tm_error *err)
{
    char dir[PATH_MAX], base_abs[PATH_MAX], rel[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    char *dir_abs = realpath(dir, NULL);
    if (!dir_abs || !realpath(c->base_path, base_abs)) {
        free(dir_abs);
        return tm_error_set(err, TM_ERR_INPUT, "%s: cannot resolve the output folder or the base file", path);
    }
    relative_path(dir_abs, base_abs, rel, sizeof rel);
    free(dir_abs);
    int total = 0;
    for (int i = 0; i < c->n_par; i++)
        total += c->par[i].n_paths;
    assignment *as = malloc((size_t)total * sizeof *as);
    if (!as)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    char stem[PATH_MAX + 32], tmp[PATH_MAX + 64];
    tm_tmpfile_stem(path, stem, sizeof stem);
    int fd = tm_tmpfile_create(stem, tmp, sizeof tmp, err);
    FILE *out = fd < 0 ? NULL : fdopen(fd, "w");
    if (!out) {
        free(as);
        if (fd < 0)
            return -1;
        close(fd);
        unlink(tmp);
        return tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot write", tmp);
    }
    char date[64];
    time_t now = time(NULL);
    struct tm utc;
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &utc));
    static const char *const method_text[] = {"nelder-mead (NLopt's Nelder-Mead within the bounds)",
                                              "bobyqa (NLopt's BOBYQA within the bounds)",
                                              "proportional (each parameter scaled towards its moment)"};
    fprintf(out, TM_CALIBRATE_FITTED_HEADER "%s\n", c->file);
    fprintf(out, "# date: %s\n", date);
    fprintf(out, "# calibration file sha256: %s\n", c->sha256);
    fprintf(out, "# base: %s (resolved parameters before fitting, sha256 %s)\n", c->base_path, c->base_sha);
    if (c->n_seeds == 0) {
        fprintf(out, "# common random numbers: the base seed in every evaluation\n");
    } else {
        fprintf(out, "# common random numbers: run.seed =");
        for (int i = 0; i < c->n_seeds; i++)
            fprintf(out, "%s %llu", i ? "," : "", (unsigned long long)c->seeds[i]);
        fprintf(out, " in every evaluation (moments: the mean over these seeds)\n");
    }
    for (int i = 0; i < c->n_sets; i++)
        fprintf(out, "# fixed override while fitting: %s\n", c->sets[i]);
    if (c->n_exact)
        fprintf(out,
                "# %d of %d moments from one run with run.aggregation=exact in every evaluation (listed below "
                "the fit table)\n",
                c->n_exact, c->n_mom);
    fprintf(out, "# method: %s\n", method_text[c->method]);
    fprintf(out, "# objective: %.10g = sum of weight * ((model - target) / tolerance)^2\n", res->objective);
    if (c->method == METHOD_PROPORTIONAL)
        fprintf(out, "# rounds: %d, evaluations: %d, converged: %s\n", res->rounds, res->evaluations,
                res->converged ? "yes" : "no (budget reached)");
    else
        fprintf(out, "# evaluations: %d, converged: %s\n", res->evaluations,
                res->converged ? "yes" : "no (budget reached)");
    fprintf(out, "# fitted: ");
    for (int i = 0; i < c->n_par; i++)
        fprintf(out, "%s%s = %.6g [%g, %g]%s", i ? "; " : "", c->par[i].name, x[i], c->par[i].lower, c->par[i].upper,
                c->par[i].scale ? " (scale)" : "");
    fprintf(out, "\n#\n");
    tm_calibration_format_fit(c, out, "# ");
    fprintf(out, "\nextends: %s\n\n", rel);
    int n = fitted_assignments(c, x, as, err);
    if (n >= 0)
        write_nested(out, as, n);
    free_assignments(as, n);
    free(as);
    if (n < 0) {
        fclose(out);
        unlink(tmp);
        return -1;
    }
    if (fclose(out) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot write", path);
    }
    return 0;
}
