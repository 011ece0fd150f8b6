#include "experiments/validate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params/params.h"
#include "params/yfield.h"
#include "params/ytree.h"

static const char *const verdict_names[] = {"within", "right_sign", "wrong_sign", "undefined", NULL};

const char *tm_verdict_name(tm_verdict v)
{
    return verdict_names[v];
}

tm_verdict tm_verdict_of(double model, double data, double tolerance)
{
    if (isnan(model))
        return TM_VERDICT_UNDEFINED;
    if (fabs(model - data) <= tolerance)
        return TM_VERDICT_WITHIN;
    if ((model > 0 && data > 0) || (model < 0 && data < 0))
        return TM_VERDICT_RIGHT_SIGN;
    return TM_VERDICT_WRONG_SIGN;
}

void tm_validation_free(tm_validation *v)
{
    for (int c = 0; c < v->n_comparisons; c++) {
        for (int i = 0; i < v->comparisons[c].n_sets; i++)
            free(v->comparisons[c].sets[i]);
        free(v->comparisons[c].sets);
        free(v->comparisons[c].headline);
    }
    free(v->comparisons);
    free(v->facts);
    free(v->headlines);
    free(v->file);
    memset(v, 0, sizeof *v);
}

/* A required scalar text of at most size - 1 characters. */
static int text_field(const tm_ynode *map, const char *key, const char *where, char *out, size_t size, int required,
                      tm_error *err)
{
    const tm_ynode *n = tm_ytree_get(map, key, NULL);
    char path[192];
    snprintf(path, sizeof path, "%s.%s", where, key);
    if (!n) {
        if (!required)
            return 0;
        return tm_params_fail_at(err, map, path, "missing: expected a text");
    }
    if (n->kind != TM_Y_SCALAR || !n->value[0])
        return tm_params_fail_at(err, n, path, "expected a text, found a %s", tm_yfield_kind_name(n));
    if (strlen(n->value) >= size)
        return tm_params_fail_at(err, n, path, "longer than %zu characters", size - 1);
    snprintf(out, size, "%s", n->value);
    return 0;
}

/* A path relative to the validation file. */
static void resolve(const char *file, const char *rel, char *out, size_t size)
{
    const char *slash = strrchr(file, '/');
    int dirlen = slash && rel[0] != '/' ? (int)(slash - file) + 1 : 0;
    snprintf(out, size, "%.*s%s", dirlen, file, rel);
}

static int parse_comparison(tm_validation *v, const tm_ynode *e, size_t i, tm_error *err)
{
    static const char *const keys[] = {"name", "base", "scenario", "set", "note", "from", "to", NULL};
    tm_validation_comparison *c = &v->comparisons[v->n_comparisons];
    char where[64];
    snprintf(where, sizeof where, "comparisons[%zu]", i);
    if (e->kind != TM_Y_MAP)
        return tm_params_fail_at(err, e, where, "expected a mapping {name, base, scenario, set, note, from, to}");
    /* The headline window is required when the file has headlines and
     * means nothing without them. */
    int window = v->n_headlines > 0;
    if (tm_yfield_check_keys(e, where, keys, err) || text_field(e, "name", where, c->name, sizeof c->name, 1, err) ||
        text_field(e, "note", where, c->note, sizeof c->note, 0, err) ||
        text_field(e, "from", where, c->first, sizeof c->first, window, err) ||
        text_field(e, "to", where, c->last, sizeof c->last, window, err))
        return -1;
    if (!window && (c->first[0] || c->last[0])) {
        char key[80];
        snprintf(key, sizeof key, "%s.%s", where, c->first[0] ? "from" : "to");
        return tm_params_fail_at(err, tm_ytree_get(e, c->first[0] ? "from" : "to", NULL), key,
                                 "a headline window: expected a top-level `headlines` list to go with it");
    }
    for (int k = 0; k < v->n_comparisons; k++)
        if (strcmp(v->comparisons[k].name, c->name) == 0)
            return tm_params_fail_at(err, tm_ytree_get(e, "name", NULL), where, "name %s is given twice", c->name);
    if (text_field(e, "base", where, c->base_written, sizeof c->base_written, 1, err) ||
        text_field(e, "scenario", where, c->scenario_written, sizeof c->scenario_written, 1, err))
        return -1;
    resolve(v->file, c->base_written, c->base, sizeof c->base);
    resolve(v->file, c->scenario_written, c->scenario, sizeof c->scenario);
    v->n_comparisons++;
    const tm_ynode *set = tm_ytree_get(e, "set", NULL);
    if (!set)
        return 0;
    char key[80];
    snprintf(key, sizeof key, "%s.set", where);
    if (set->kind != TM_Y_SEQ)
        return tm_params_fail_at(err, set, key, "expected a list of KEY=VALUE overrides");
    if (!(c->sets = calloc(set->n ? set->n : 1, sizeof *c->sets)))
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    for (size_t k = 0; k < set->n; k++) {
        const tm_ynode *s = set->items[k];
        if (s->kind != TM_Y_SCALAR || !strchr(s->value, '='))
            return tm_params_fail_at(err, s, key, "expected KEY=VALUE");
        if (!(c->sets[c->n_sets] = strdup(s->value)))
            return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        c->n_sets++;
    }
    return 0;
}

static int parse_fact(tm_validation *v, const tm_ynode *e, size_t i, tm_error *err)
{
    static const char *const keys[] = {"name",      "comparison", "outcome",  "from",   "to", "data",
                                       "tolerance", "source",     "recorded", "reason", NULL};
    tm_validation_fact *f = &v->facts[v->n_facts];
    char where[64], key[96], comparison[128], recorded[32];
    snprintf(where, sizeof where, "facts[%zu]", i);
    if (e->kind != TM_Y_MAP)
        return tm_params_fail_at(err, e, where, "expected a mapping {name, comparison, outcome, from, to, ...}");
    if (tm_yfield_check_keys(e, where, keys, err) || text_field(e, "name", where, f->name, sizeof f->name, 1, err) ||
        text_field(e, "comparison", where, comparison, sizeof comparison, 1, err) ||
        text_field(e, "outcome", where, f->outcome, sizeof f->outcome, 1, err) ||
        text_field(e, "from", where, f->first, sizeof f->first, 1, err) ||
        text_field(e, "to", where, f->last, sizeof f->last, 1, err) ||
        text_field(e, "source", where, f->source, sizeof f->source, 1, err) ||
        text_field(e, "reason", where, f->reason, sizeof f->reason, 1, err) ||
        text_field(e, "recorded", where, recorded, sizeof recorded, 1, err))
        return -1;
    f->comparison = -1;
    for (int k = 0; k < v->n_comparisons; k++)
        if (strcmp(v->comparisons[k].name, comparison) == 0)
            f->comparison = k;
    snprintf(key, sizeof key, "%s.comparison", where);
    if (f->comparison < 0)
        return tm_params_fail_at(err, tm_ytree_get(e, "comparison", NULL), key,
                                 "%s: expected the name of an entry of comparisons", comparison);
    snprintf(key, sizeof key, "%s.data", where);
    if (tm_yfield_number(tm_ytree_get(e, "data", NULL), key, &f->data, err))
        return -1;
    const tm_ynode *tol = tm_ytree_get(e, "tolerance", NULL);
    snprintf(key, sizeof key, "%s.tolerance", where);
    if (tm_yfield_number(tol, key, &f->tolerance, err))
        return -1;
    if (!(f->tolerance > 0))
        return tm_params_fail_at(err, tol, key, "expected a positive number (in the outcome's effect units)");
    int r = 0;
    while (verdict_names[r] && strcmp(verdict_names[r], recorded) != 0)
        r++;
    snprintf(key, sizeof key, "%s.recorded", where);
    if (!verdict_names[r] || r == TM_VERDICT_UNDEFINED)
        return tm_params_fail_at(err, tm_ytree_get(e, "recorded", NULL), key,
                                 "%s: expected within, right_sign or wrong_sign", recorded);
    f->recorded = (tm_verdict)r;
    v->n_facts++;
    return 0;
}

static int parse_headline(tm_validation *v, const tm_ynode *e, size_t i, tm_error *err)
{
    static const char *const keys[] = {"outcome", "label", NULL};
    tm_validation_headline *h = &v->headlines[v->n_headlines];
    char where[64];
    snprintf(where, sizeof where, "headlines[%zu]", i);
    if (e->kind != TM_Y_MAP)
        return tm_params_fail_at(err, e, where, "expected a mapping {outcome, label}");
    if (tm_yfield_check_keys(e, where, keys, err) ||
        text_field(e, "outcome", where, h->outcome, sizeof h->outcome, 1, err) ||
        text_field(e, "label", where, h->label, sizeof h->label, 1, err))
        return -1;
    v->n_headlines++;
    return 0;
}

/* Every comparison's files load with its overrides, and every fact's
 * outcome and window hold against its base. */
static int check_against_parameters(tm_validation *v, const tm_ynode *facts, const tm_ynode *comparisons, tm_error *err)
{
    for (int c = 0; c < v->n_comparisons; c++) {
        const tm_validation_comparison *cmp = &v->comparisons[c];
        tm_params *base = NULL, *scenario = NULL;
        const char *const *sets = (const char *const *)cmp->sets;
        if (tm_params_load(cmp->base, sets, cmp->n_sets, &base, err) ||
            tm_params_load(cmp->scenario, sets, cmp->n_sets, &scenario, err)) {
            tm_params_free(base);
            tm_error_prefix(err, "%s: comparison %s", v->file, cmp->name);
            return -1;
        }
        tm_params_free(scenario);
        for (int i = 0; i < v->n_facts; i++) {
            if (v->facts[i].comparison != c)
                continue;
            tm_compare_window w = {
                .outcome = v->facts[i].outcome, .first = v->facts[i].first, .last = v->facts[i].last};
            tm_error why = {0};
            if (tm_compare_window_check(base, &w, &why)) {
                char key[64];
                snprintf(key, sizeof key, "facts[%d]", i);
                tm_params_free(base);
                return tm_params_fail_at(err, facts->items[i], key, "%s", why.msg);
            }
        }
        for (int h = 0; h < v->n_headlines; h++) {
            tm_compare_window w = {.outcome = v->headlines[h].outcome, .first = cmp->first, .last = cmp->last};
            tm_error why = {0};
            if (tm_compare_window_check(base, &w, &why)) {
                char key[64];
                snprintf(key, sizeof key, "comparisons[%d]", c);
                tm_params_free(base);
                return tm_params_fail_at(err, comparisons->items[c], key, "headline %s: %s", v->headlines[h].outcome,
                                         why.msg);
            }
        }
        tm_params_free(base);
    }
    return 0;
}

int tm_validation_load(const char *path, tm_validation *v, tm_error *err)
{
    static const char *const top_keys[] = {"title", "notes", "replicates", "comparisons", "facts", "headlines", NULL};
    memset(v, 0, sizeof *v);
    tm_ypool *pool = tm_ypool_new();
    tm_ynode *root = NULL;
    int rc = -1;
    if (!pool || !(v->file = strdup(path))) {
        tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        goto done;
    }
    if (tm_ytree_load(pool, path, &root, err))
        goto done;
    if (root->kind != TM_Y_MAP) {
        tm_params_fail_at(err, root, "", "expected a mapping with comparisons and facts");
        goto done;
    }
    if (tm_yfield_check_keys(root, "", top_keys, err) ||
        text_field(root, "title", "", v->title, sizeof v->title, 1, err) ||
        text_field(root, "notes", "", v->notes, sizeof v->notes, 0, err))
        goto done;
    long long reps = 4;
    const tm_ynode *rn = tm_ytree_get(root, "replicates", NULL);
    if (rn && tm_yfield_integer(rn, "replicates", 2, 99, &reps, err))
        goto done;
    v->replicates = (int)reps;
    const tm_ynode *cmps = tm_ytree_get(root, "comparisons", NULL), *facts = tm_ytree_get(root, "facts", NULL);
    const tm_ynode *heads = tm_ytree_get(root, "headlines", NULL);
    if (!cmps || cmps->kind != TM_Y_SEQ || cmps->n == 0) {
        tm_params_fail_at(err, cmps ? cmps : root, "comparisons", "expected a non-empty list");
        goto done;
    }
    /* Facts, headlines or both; a key that is given is a non-empty list. */
    if ((facts || !heads) && (!facts || facts->kind != TM_Y_SEQ || facts->n == 0)) {
        tm_params_fail_at(err, facts ? facts : root, "facts",
                          heads ? "expected a non-empty list" : "expected a non-empty list (or a `headlines` list)");
        goto done;
    }
    if (heads && (heads->kind != TM_Y_SEQ || heads->n == 0)) {
        tm_params_fail_at(err, heads, "headlines", "expected a non-empty list of {outcome, label}");
        goto done;
    }
    size_t n_facts = facts ? facts->n : 0, n_heads = heads ? heads->n : 0;
    v->comparisons = calloc(cmps->n, sizeof *v->comparisons);
    v->facts = calloc(n_facts ? n_facts : 1, sizeof *v->facts);
    v->headlines = calloc(n_heads ? n_heads : 1, sizeof *v->headlines);
    if (!v->comparisons || !v->facts || !v->headlines) {
        tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n_heads; i++)
        if (parse_headline(v, heads->items[i], i, err))
            goto done;
    for (size_t i = 0; i < cmps->n; i++)
        if (parse_comparison(v, cmps->items[i], i, err))
            goto done;
    for (size_t i = 0; i < n_facts; i++)
        if (parse_fact(v, facts->items[i], i, err))
            goto done;
    if (check_against_parameters(v, facts, cmps, err))
        goto done;
    rc = 0;
done:
    tm_ytree_free(root);
    tm_ypool_free(pool);
    if (rc)
        tm_validation_free(v);
    return rc;
}

int tm_validation_keep(tm_validation *v, const char *const *names, int n_names, tm_error *err)
{
    for (int k = 0; k < n_names; k++) {
        int found = 0;
        for (int c = 0; c < v->n_comparisons; c++)
            found |= strcmp(v->comparisons[c].name, names[k]) == 0;
        if (!found)
            return tm_error_set(err, TM_ERR_INPUT, "%s: %s: expected the name of an entry of comparisons", v->file,
                                names[k]);
    }
    int kept = 0, n_facts = 0;
    for (int c = 0; c < v->n_comparisons; c++) {
        int keep = 0;
        for (int k = 0; k < n_names; k++)
            keep |= strcmp(v->comparisons[c].name, names[k]) == 0;
        if (!keep) {
            for (int i = 0; i < v->comparisons[c].n_sets; i++)
                free(v->comparisons[c].sets[i]);
            free(v->comparisons[c].sets);
            free(v->comparisons[c].headline);
            for (int i = 0; i < v->n_facts; i++)
                if (v->facts[i].comparison == c)
                    v->facts[i].comparison = -1;
            continue;
        }
        for (int i = 0; i < v->n_facts; i++)
            if (v->facts[i].comparison == c)
                v->facts[i].comparison = -2 - kept; /* renumbered below, after every comparison is placed */
        v->comparisons[kept++] = v->comparisons[c];
    }
    v->n_comparisons = kept;
    for (int i = 0; i < v->n_facts; i++)
        if (v->facts[i].comparison <= -2) {
            v->facts[n_facts] = v->facts[i];
            v->facts[n_facts++].comparison = -2 - v->facts[i].comparison;
        }
    v->n_facts = n_facts;
    return 0;
}

/* Compare's report of one run, passed on as a run of the whole validation. */
typedef struct {
    const tm_progress *outer;
    const char *comparison;
    int64_t before, total; /* runs of the earlier comparisons; of all */
} relay;

static void relay_progress(void *user, const tm_progress_report *r)
{
    const relay *re = user;
    int64_t begun = re->before + 2 * (r->done - 1) + (strcmp(r->stage, "scenario") == 0) + 1;
    tm_progress_report_to(re->outer, r->stage, begun, re->total, re->comparison, NULL);
}

int tm_validation_run(tm_validation *v, const tm_validation_options *o, tm_error *err)
{
    int R = o->replicates, rc = -1;
    size_t n_windows = (size_t)v->n_facts + (size_t)v->n_headlines;
    tm_compare_window *w = calloc(n_windows ? n_windows : 1, sizeof *w);
    int *idx = malloc((n_windows ? n_windows : 1) * sizeof *idx);
    if (!w || !idx) {
        tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        goto done;
    }
    for (int c = 0; c < v->n_comparisons; c++)
        if (v->n_headlines && !v->comparisons[c].headline &&
            !(v->comparisons[c].headline = calloc((size_t)v->n_headlines, sizeof *v->comparisons[c].headline))) {
            tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
            goto done;
        }
    for (int c = 0; c < v->n_comparisons; c++) {
        tm_validation_comparison *cmp = &v->comparisons[c];
        int n = 0;
        for (int i = 0; i < v->n_facts; i++)
            if (v->facts[i].comparison == c) {
                idx[n] = i;
                w[n] = (tm_compare_window){
                    .outcome = v->facts[i].outcome, .first = v->facts[i].first, .last = v->facts[i].last};
                n++;
            }
        int n_facts = n;
        for (int h = 0; h < v->n_headlines; h++)
            w[n++] = (tm_compare_window){.outcome = v->headlines[h].outcome, .first = cmp->first, .last = cmp->last};
        char output[4400];
        snprintf(output, sizeof output, "%s/%s.h5", o->work_dir, cmp->name);
        relay re = {&o->progress, cmp->name, (int64_t)c * 2 * R, (int64_t)v->n_comparisons * 2 * R};
        tm_compare_options co = {.base_path = cmp->base,
                                 .scenario_path = cmp->scenario,
                                 .output = output,
                                 .replicates = R,
                                 .sets = (const char *const *)cmp->sets,
                                 .n_sets = cmp->n_sets,
                                 .threads = o->threads,
                                 .force = 1,
                                 .progress = {o->progress.fn ? relay_progress : NULL, &re},
                                 .windows = w,
                                 .n_windows = n};
        tm_compare_result res;
        if (tm_compare(&co, &res, err)) {
            tm_error_prefix(err, "comparison %s", cmp->name);
            goto done;
        }
        tm_compare_result_free(&res);
        for (int k = 0; k < n_facts; k++) {
            tm_validation_fact *f = &v->facts[idx[k]];
            f->model = w[k].effect;
            f->verdict = tm_verdict_of(f->model.mean, f->data, f->tolerance);
        }
        for (int h = 0; h < v->n_headlines; h++)
            cmp->headline[h] = w[n_facts + h].effect;
    }
    rc = 0;
done:
    free(w);
    free(idx);
    return rc;
}
