#include "experiments/target.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_roots.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/sha256.h"
#include "base/stats.h"
#include "base/tmpfile.h"
#include "engine/run.h"
#include "params/params.h"
#include "params/yfield.h"
#include "params/ytree.h"

#define TGT_MAX_SEEDS 32
#define TGT_MAX_SETS 64
/* Stands for the lever's value in the text built from a question's events
 * and overrides; a control character no YAML scalar can hold. */
#define TGT_MARK '\x01'

typedef struct {
    double x;
    double mean, se;
    double *ratio; /* [n_seeds], replicate order */
} tgt_eval;

typedef struct {
    char name[96];
    char unit[64];
    double lower, upper;
    int line, col; /* of the question, for messages */
    char *events;  /* "events=[...]" with TGT_MARK for the lever; NULL: none */
    char **sets;   /* KEY=VALUE overrides, TGT_MARK for the lever */
    int n_sets;
    tgt_eval *ev;
    int n_ev, cap_ev;
    int solved;
    tm_target_answer ans;
} tgt_question;

struct tm_target {
    char *file;
    char sha256[65];
    char base_path[PATH_MAX];
    char base_sha[65]; /* resolved base parameters (with the fixed overrides) */
    char *sets[TGT_MAX_SETS];
    int n_sets;
    uint64_t seeds[TGT_MAX_SEEDS];
    int n_seeds;
    /* target */
    char at[32], from[32];
    int at_index;               /* logged period of the numerator */
    int from_first, from_n;     /* logged periods of the reference */
    int dest_mask[TM_MAX_DEST]; /* destinations summed (by index) */
    char dest_names[TGT_MAX_SETS][32];
    int n_dest_names;
    double ratio_target, tolerance, x_tolerance;
    int max_evaluations;
    tgt_question *q;
    int n_q;
    /* evaluation state */
    const tm_target_options *opts;
    int failed;
    tm_error fail;
    int current;
};

static void free_question(tgt_question *q)
{
    free(q->events);
    for (int i = 0; i < q->n_sets; i++)
        free(q->sets[i]);
    free(q->sets);
    for (int i = 0; i < q->n_ev; i++)
        free(q->ev[i].ratio);
    free(q->ev);
}

void tm_target_close(tm_target *t)
{
    if (!t)
        return;
    free(t->file);
    for (int i = 0; i < t->n_sets; i++)
        free(t->sets[i]);
    for (int i = 0; t->q && i < t->n_q; i++)
        free_question(&t->q[i]);
    free(t->q);
    free(t);
}

int tm_target_n_questions(const tm_target *t)
{
    return t->n_q;
}
const char *tm_target_question_name(const tm_target *t, int q)
{
    return t->q[q].name;
}

int tm_target_find(const tm_target *t, const char *name)
{
    for (int i = 0; i < t->n_q; i++)
        if (strcmp(t->q[i].name, name) == 0)
            return i;
    return -1;
}

/* ------------------------------------------------------------------------
 * Text of events in YAML flow style, so that a question's events can be
 * given as one `events=[...]` override on top of the base's.
 * ---------------------------------------------------------------------- */

typedef struct {
    char *s;
    size_t len, cap;
    int oom;
} tgt_buf;

static void buf_put(tgt_buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void buf_str(tgt_buf *b, const char *s)
{
    buf_put(b, s, strlen(s));
}

/* A scalar: the lever's mark for a plain `$lever`; plain if it holds no
 * character with a meaning in flow style; else double-quoted. */
static void emit_scalar(tgt_buf *b, const tm_ynode *n, int *levers)
{
    if (!n->quoted && strcmp(n->value, "$lever") == 0) {
        char mark[2] = {TGT_MARK, 0};
        buf_str(b, mark);
        (*levers)++;
        return;
    }
    if (!n->quoted && n->value[0] && !strpbrk(n->value, ",[]{}:#\"'&*!|>%@`\\ ")) {
        buf_str(b, n->value);
        return;
    }
    buf_str(b, "\"");
    for (const char *c = n->value; *c; c++) {
        if (*c == '"' || *c == '\\')
            buf_str(b, "\\");
        buf_put(b, c, 1);
    }
    buf_str(b, "\"");
}

static void emit_flow(tgt_buf *b, const tm_ynode *n, int *levers)
{
    if (n->kind == TM_Y_SCALAR) {
        emit_scalar(b, n, levers);
        return;
    }
    buf_str(b, n->kind == TM_Y_MAP ? "{" : "[");
    for (size_t i = 0; i < n->n; i++) {
        if (i)
            buf_str(b, ", ");
        if (n->kind == TM_Y_MAP) {
            buf_str(b, n->keys[i]);
            buf_str(b, ": ");
        }
        emit_flow(b, n->items[i], levers);
    }
    buf_str(b, n->kind == TM_Y_MAP ? "}" : "]");
}

/* text with every TGT_MARK replaced by x (shortest round-trip decimal). */
static char *with_lever(const char *text, double x)
{
    char num[64];
    tm_yfield_format_number(x, num, sizeof num);
    tgt_buf b = {0};
    for (const char *c = text; *c; c++) {
        if (*c == TGT_MARK)
            buf_str(&b, num);
        else
            buf_put(&b, c, 1);
    }
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

/* ------------------------------------------------------------------------
 * Parsing the question file.
 * ---------------------------------------------------------------------- */

static int parse_question(tm_target *t, const tm_ynode *base_events, const tm_ynode *e, size_t i, tm_error *err)
{
    static const char *const keys[] = {"name", "lower", "upper", "unit", "events", "set", NULL};
    tgt_question *q = &t->q[t->n_q++];
    char where[64], key[96];
    snprintf(where, sizeof where, "questions[%zu]", i);
    q->line = e->line;
    q->col = e->col;
    if (e->kind != TM_Y_MAP)
        return tm_params_fail_at(err, e, where, "expected a mapping {name, lower, upper, events or set}");
    if (tm_yfield_check_keys(e, where, keys, err))
        return -1;
    const tm_ynode *name = tm_ytree_get(e, "name", NULL);
    if (!name || name->kind != TM_Y_SCALAR || !name->value[0] || strlen(name->value) >= sizeof q->name)
        return tm_params_fail_at(err, name ? name : e, where, "name: expected a short name for the question");
    snprintf(q->name, sizeof q->name, "%s", name->value);
    for (int j = 0; j < t->n_q - 1; j++)
        if (strcmp(t->q[j].name, q->name) == 0)
            return tm_params_fail_at(err, name, where, "name %s is already used by questions[%d]", q->name, j);
    if (tm_yfield_bounds(e, where, &q->lower, &q->upper, err))
        return -1;
    const tm_ynode *unit = tm_ytree_get(e, "unit", NULL);
    if (unit && unit->kind == TM_Y_SCALAR)
        snprintf(q->unit, sizeof q->unit, "%s", unit->value);
    int levers = 0;
    const tm_ynode *events = tm_ytree_get(e, "events", NULL);
    if (events) {
        snprintf(key, sizeof key, "%s.events", where);
        if (events->kind != TM_Y_SEQ || events->n == 0)
            return tm_params_fail_at(err, events, key, "expected a non-empty list of events (docs/model.md)");
        tgt_buf b = {0};
        buf_str(&b, "events=[");
        size_t written = 0;
        for (size_t k = 0; base_events && k < base_events->n; k++, written++) {
            if (written)
                buf_str(&b, ", ");
            int none = 0;
            emit_flow(&b, base_events->items[k], &none);
        }
        for (size_t k = 0; k < events->n; k++, written++) {
            if (written)
                buf_str(&b, ", ");
            if (events->items[k]->kind != TM_Y_MAP) {
                free(b.s);
                return tm_params_fail_at(err, events->items[k], key, "expected each event as a mapping");
            }
            emit_flow(&b, events->items[k], &levers);
        }
        buf_str(&b, "]");
        if (b.oom) {
            free(b.s);
            return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        }
        q->events = b.s;
    }
    const tm_ynode *sets = tm_ytree_get(e, "set", NULL);
    if (sets) {
        snprintf(key, sizeof key, "%s.set", where);
        if (sets->kind != TM_Y_SEQ || sets->n == 0 || sets->n > TGT_MAX_SETS)
            return tm_params_fail_at(err, sets, key, "expected a list of KEY=VALUE overrides (VALUE may be $lever)");
        if (!(q->sets = calloc(sets->n, sizeof *q->sets)))
            return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        for (size_t k = 0; k < sets->n; k++) {
            const tm_ynode *s = sets->items[k];
            const char *eq = s->kind == TM_Y_SCALAR ? strchr(s->value, '=') : NULL;
            if (!eq || eq == s->value || !strncmp(s->value, "events", 6))
                return tm_params_fail_at(err, s, key,
                                         "expected KEY=VALUE, such as destinations.CN.perceived_escalation_scale="
                                         "$lever (events go under events:)");
            if (!(q->sets[q->n_sets] = strdup(s->value)))
                return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
            if (strcmp(eq + 1, "$lever") == 0) {
                q->sets[q->n_sets][eq + 1 - s->value] = TGT_MARK;
                q->sets[q->n_sets][eq + 2 - s->value] = '\0';
                levers++;
            }
            q->n_sets++;
        }
    }
    if (levers == 0)
        return tm_params_fail_at(err, e, where,
                                 "no $lever: expected the lever as the value `$lever` of some event field under "
                                 "events: or of some KEY=$lever under set:");
    return 0;
}

static int parse_seeds(tm_target *t, const tm_ynode *node, tm_error *err)
{
    if (!node || node->kind != TM_Y_SEQ || node->n < 2 || node->n > TGT_MAX_SEEDS)
        return tm_params_fail_at(err, node, "seeds",
                                 "expected a list of 2 to %d seeds (the replicates; the same in every evaluation)",
                                 TGT_MAX_SEEDS);
    for (size_t i = 0; i < node->n; i++) {
        char where[64];
        snprintf(where, sizeof where, "seeds[%zu]", i);
        if (tm_yfield_seed(node->items[i], where, &t->seeds[i], err))
            return -1;
        for (size_t j = 0; j < i; j++)
            if (t->seeds[j] == t->seeds[i])
                return tm_params_fail_at(err, node->items[i], where, "seed %llu is listed twice",
                                         (unsigned long long)t->seeds[i]);
    }
    t->n_seeds = (int)node->n;
    return 0;
}

static int parse_target(tm_target *t, const tm_ynode *n, tm_error *err)
{
    static const char *const keys[] = {"ratio",        "tolerance",       "at",          "from",
                                       "destinations", "max_evaluations", "x_tolerance", NULL};
    if (!n || n->kind != TM_Y_MAP)
        return tm_params_fail_at(err, n, "target",
                                 "expected {ratio, tolerance, at, from, destinations}, such as {ratio: 2.0, "
                                 "tolerance: 0.02, at: 2035Q4, from: 2024, destinations: [CN, ROW]}");
    if (tm_yfield_check_keys(n, "target", keys, err))
        return -1;
    const tm_ynode *r = tm_ytree_get(n, "ratio", NULL), *tol = tm_ytree_get(n, "tolerance", NULL);
    if (tm_yfield_number(r, "target.ratio", &t->ratio_target, err))
        return -1;
    if (!(t->ratio_target > 0))
        return tm_params_fail_at(err, r, "target.ratio", "expected a positive ratio");
    if (tm_yfield_number(tol, "target.tolerance", &t->tolerance, err))
        return -1;
    if (!(t->tolerance > 0))
        return tm_params_fail_at(err, tol, "target.tolerance", "expected a positive number");
    const tm_ynode *at = tm_ytree_get(n, "at", NULL), *from = tm_ytree_get(n, "from", NULL);
    if (!at || at->kind != TM_Y_SCALAR || strlen(at->value) >= sizeof t->at)
        return tm_params_fail_at(err, at ? at : n, "target.at", "expected a period label such as 2035Q4");
    if (!from || from->kind != TM_Y_SCALAR || strlen(from->value) >= sizeof t->from)
        return tm_params_fail_at(err, from ? from : n, "target.from",
                                 "expected a year (the mean of its periods) or a period label, such as 2024");
    snprintf(t->at, sizeof t->at, "%s", at->value);
    snprintf(t->from, sizeof t->from, "%s", from->value);
    const tm_ynode *d = tm_ytree_get(n, "destinations", NULL);
    if (d) {
        if (d->kind != TM_Y_SEQ || d->n == 0 || d->n > TGT_MAX_SETS)
            return tm_params_fail_at(err, d, "target.destinations", "expected a list of destination names");
        for (size_t i = 0; i < d->n; i++) {
            if (d->items[i]->kind != TM_Y_SCALAR || strlen(d->items[i]->value) >= 32)
                return tm_params_fail_at(err, d->items[i], "target.destinations", "expected a destination name");
            snprintf(t->dest_names[t->n_dest_names++], 32, "%s", d->items[i]->value);
        }
    }
    t->max_evaluations = 12;
    const tm_ynode *me = tm_ytree_get(n, "max_evaluations", NULL);
    long long v;
    if (me) {
        if (tm_yfield_integer(me, "target.max_evaluations", 3, 1000, &v, err))
            return -1;
        t->max_evaluations = (int)v;
    }
    const tm_ynode *xt = tm_ytree_get(n, "x_tolerance", NULL);
    t->x_tolerance = 1e-4;
    if (xt && (tm_yfield_number(xt, "target.x_tolerance", &t->x_tolerance, err) || !(t->x_tolerance > 0)))
        return tm_params_fail_at(err, xt, "target.x_tolerance", "expected a positive fraction of the bounds' range");
    return 0;
}

/* The target's periods and destinations against the loaded parameters. */
static int resolve_target(tm_target *t, const tm_params *p, const tm_ynode *root, tm_error *err)
{
    const tm_ynode *tn = tm_ytree_get(root, "target", NULL);
    const tm_ynode *at = tm_ytree_get(tn, "at", NULL), *from = tm_ytree_get(tn, "from", NULL);
    char first[TM_LABEL_MAX], last[TM_LABEL_MAX];
    tm_period_label(p->start_index, p->periods_per_year, first, sizeof first);
    tm_period_label(p->start_index + p->periods - 1, p->periods_per_year, last, sizeof last);
    int idx;
    if (tm_period_parse(t->at, p->periods_per_year, &idx) || idx < p->start_index || idx >= p->start_index + p->periods)
        return tm_params_fail_at(err, at, "target.at",
                                 "expected a period of the runs, %s to %s (raise run.periods under set:)", first, last);
    t->at_index = idx - p->start_index;
    /* A year: every period of it; else one period. */
    int year_only = t->from[0] && strspn(t->from, "0123456789") == strlen(t->from);
    if (year_only && p->periods_per_year > 1) {
        long y = strtol(t->from, NULL, 10);
        idx = (int)y * p->periods_per_year;
        t->from_n = p->periods_per_year;
    } else {
        if (tm_period_parse(t->from, p->periods_per_year, &idx))
            idx = INT_MIN;
        t->from_n = 1;
    }
    if (idx == INT_MIN || idx < p->start_index || idx + t->from_n > p->start_index + p->periods)
        return tm_params_fail_at(err, from, "target.from", "expected a year or a period within the runs, %s to %s",
                                 first, last);
    t->from_first = idx - p->start_index;
    memset(t->dest_mask, 0, sizeof t->dest_mask);
    if (t->n_dest_names == 0) {
        for (int d = 0; d < p->n_dest; d++)
            t->dest_mask[d] = d != tm_params_us_index(p);
        return 0;
    }
    const tm_ynode *dn = tm_ytree_get(tn, "destinations", NULL);
    for (int i = 0; i < t->n_dest_names; i++) {
        int found = -1;
        for (int d = 0; d < p->n_dest; d++)
            if (strcmp(p->dest[d].name, t->dest_names[i]) == 0)
                found = d;
        if (found < 0)
            return tm_params_fail_at(err, dn->items[i], "target.destinations",
                                     "%s is not a destination of the base parameters", t->dest_names[i]);
        t->dest_mask[found] = 1;
    }
    return 0;
}

static int parse_file(tm_target *t, tm_ypool *pool, const tm_ynode *root, const char *base_override, tm_error *err)
{
    static const char *const top[] = {"base", "set", "seeds", "target", "questions", NULL};
    if (root->kind != TM_Y_MAP)
        return tm_params_fail_at(err, root, "", "expected a mapping {base, set, seeds, target, questions}");
    if (tm_yfield_check_keys(root, "", top, err))
        return -1;
    const tm_ynode *base = tm_ytree_get(root, "base", NULL);
    if (base_override) {
        snprintf(t->base_path, sizeof t->base_path, "%s", base_override);
    } else {
        if (!base || base->kind != TM_Y_SCALAR || !base->value[0])
            return tm_params_fail_at(err, base ? base : root, "base",
                                     "expected the path of the base parameter file (relative to this file)");
        const char *slash = strrchr(t->file, '/');
        int dirlen = base->value[0] != '/' && slash ? (int)(slash - t->file) + 1 : 0;
        snprintf(t->base_path, sizeof t->base_path, "%.*s%s", dirlen, t->file, base->value);
    }
    const tm_ynode *sets = tm_ytree_get(root, "set", NULL);
    if (sets) {
        if (sets->kind != TM_Y_SEQ || sets->n > TGT_MAX_SETS)
            return tm_params_fail_at(err, sets, "set", "expected a list of KEY=VALUE overrides (at most %d)",
                                     TGT_MAX_SETS);
        for (size_t i = 0; i < sets->n; i++) {
            const tm_ynode *s = sets->items[i];
            if (s->kind != TM_Y_SCALAR || !strchr(s->value, '=') || strchr(s->value, TGT_MARK) ||
                strstr(s->value, "$lever") || !strncmp(s->value, "events", 6))
                return tm_params_fail_at(err, s, "set",
                                         "expected KEY=VALUE, fixed for every question (no $lever; events go in "
                                         "the base file or under a question's events:)");
            if (!(t->sets[t->n_sets++] = strdup(s->value)))
                return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        }
    }
    if (parse_seeds(t, tm_ytree_get(root, "seeds", NULL), err) ||
        parse_target(t, tm_ytree_get(root, "target", NULL), err))
        return -1;
    /* The base's own events come first in every question's event list (a
     * list given as an override replaces the one it overrides). */
    tm_ynode *btree = NULL;
    if (tm_ytree_load(pool, t->base_path, &btree, err)) {
        tm_error_prefix(err, "%s: base", t->file);
        return -1;
    }
    const tm_ynode *qs = tm_ytree_get(root, "questions", NULL);
    int rc = 0;
    if (!qs || qs->kind != TM_Y_SEQ || qs->n == 0)
        rc = tm_params_fail_at(err, qs ? qs : root, "questions",
                               "expected a non-empty list of {name, lower, upper, events or set}");
    else if (!(t->q = calloc(qs->n, sizeof *t->q)))
        rc = tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    for (size_t i = 0; rc == 0 && i < qs->n; i++) {
        const tm_ynode *be = tm_ytree_get(btree, "events", NULL);
        rc = parse_question(t, be && be->kind == TM_Y_SEQ ? be : NULL, qs->items[i], i, err);
    }
    tm_ytree_free(btree);
    return rc ? -1 : 0;
}

/* Parameters of question q at lever x for replicate r (r < 0: the base
 * file's seed). */
static int load_question(const tm_target *t, const tgt_question *q, double x, int r, tm_params **p, tm_error *err)
{
    const char *sets[2 * TGT_MAX_SETS + 2];
    char *owned[TGT_MAX_SETS + 1];
    int n = 0, n_owned = 0, rc = -1;
    char seed[64];
    for (int i = 0; i < t->n_sets; i++)
        sets[n++] = t->sets[i];
    if (r >= 0) {
        snprintf(seed, sizeof seed, "run.seed=%llu", (unsigned long long)t->seeds[r]);
        sets[n++] = seed;
    }
    for (int i = 0; q && i < q->n_sets + (q->events != NULL); i++) {
        char *s = with_lever(i < q->n_sets ? q->sets[i] : q->events, x);
        if (!s) {
            tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
            goto done;
        }
        owned[n_owned++] = s;
        sets[n++] = s;
    }
    rc = tm_params_load(t->base_path, sets, n, p, err);
done:
    for (int i = 0; i < n_owned; i++)
        free(owned[i]);
    return rc;
}

int tm_target_open(const char *path, const char *base, tm_target **out, tm_error *err)
{
    *out = NULL;
    tm_target *t = calloc(1, sizeof *t);
    tm_ypool *pool = tm_ypool_new();
    tm_ynode *root = NULL;
    tm_params *p = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc = -1;
    if (!t || !pool || !(t->file = strdup(path))) {
        tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        goto done;
    }
    if (tm_ytree_read_file(path, &text, &len, err))
        goto done;
    tm_sha256_buffer(text, len, t->sha256);
    if (tm_ytree_load(pool, path, &root, err) || parse_file(t, pool, root, base, err))
        goto done;
    if (load_question(t, NULL, 0, -1, &p, err)) {
        tm_error_prefix(err, "%s: base %s", path, t->base_path);
        goto done;
    }
    snprintf(t->base_sha, sizeof t->base_sha, "%s", p->sha256);
    if (resolve_target(t, p, root, err))
        goto done;
    tm_params_free(p);
    p = NULL;
    /* Every question once at each bound: bad events, paths or values are
     * refused here, naming the question, not after hours of searching. */
    for (int i = 0; i < t->n_q; i++)
        for (int b = 0; b < 2; b++) {
            tgt_question *q = &t->q[i];
            if (load_question(t, q, b ? q->upper : q->lower, -1, &p, err)) {
                tm_error_prefix(err, "%s:%d:%d: questions[%d] (%s) at lever = %s %g", path, q->line, q->col, i, q->name,
                                b ? "upper" : "lower", b ? q->upper : q->lower);
                err->status = TM_ERR_INPUT;
                goto done;
            }
            tm_params_free(p);
            p = NULL;
        }
    rc = 0;
done:
    tm_params_free(p);
    tm_ytree_free(root);
    tm_ypool_free(pool);
    free(text);
    if (rc) {
        tm_target_close(t);
        return -1;
    }
    *out = t;
    return 0;
}

/* ------------------------------------------------------------------------
 * Evaluation and search.
 * ---------------------------------------------------------------------- */

/* The ratio of one run: export value to the target's destinations in
 * period `at` over its mean across the reference periods. */
static int run_ratio(const tm_target *t, const tm_params *p, double *ratio, tm_error *err)
{
    tm_run_options ro = {.threads = t->opts ? t->opts->threads : 0};
    tm_run *run = NULL;
    if (tm_run_open(p, &ro, &run, err))
        return -1;
    int last = t->at_index > t->from_first + t->from_n - 1 ? t->at_index : t->from_first + t->from_n - 1;
    double num = 0, den = 0;
    while (!tm_run_finished(run)) {
        if (tm_run_step(run, err)) {
            tm_run_close(run);
            return -1;
        }
        const tm_period_result *r = tm_run_result(run);
        if (r->period < 0)
            continue;
        double v = 0;
        for (int s = 0; s < p->n_sectors; s++)
            for (int d = 0; d < p->n_dest; d++)
                if (t->dest_mask[d])
                    v += r->export_value[s * p->n_dest + d];
        if (r->period == t->at_index)
            num = v;
        if (r->period >= t->from_first && r->period < t->from_first + t->from_n)
            den += v / t->from_n;
        if (r->period >= last)
            break;
    }
    tm_run_close(run);
    if (!(den > 0))
        return tm_error_set(err, TM_ERR_RUNTIME,
                            "no exports to the target's destinations in %s: the ratio is undefined", t->from);
    *ratio = num / den;
    return 0;
}

static tgt_eval *find_eval(tgt_question *q, double x)
{
    for (int i = 0; i < q->n_ev; i++)
        if (q->ev[i].x == x)
            return &q->ev[i];
    return NULL;
}

/* Mean ratio over the replicates at x (common random numbers: the same
 * seeds at every x), kept with each replicate's ratio. */
static int evaluate(tm_target *t, tgt_question *q, double x, tgt_eval **out, tm_error *err)
{
    if ((*out = find_eval(q, x)))
        return 0;
    if (q->n_ev == q->cap_ev) {
        int cap = q->cap_ev ? 2 * q->cap_ev : 16;
        tgt_eval *ev = realloc(q->ev, (size_t)cap * sizeof *ev);
        if (!ev)
            return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        q->ev = ev;
        q->cap_ev = cap;
    }
    tgt_eval *e = &q->ev[q->n_ev];
    memset(e, 0, sizeof *e);
    e->x = x;
    if (!(e->ratio = calloc((size_t)t->n_seeds, sizeof *e->ratio)))
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    tm_stats_acc acc = {0};
    for (int r = 0; r < t->n_seeds; r++) {
        tm_params *p = NULL;
        int rc = load_question(t, q, x, r, &p, err) || run_ratio(t, p, &e->ratio[r], err);
        tm_params_free(p);
        if (rc) {
            free(e->ratio);
            return tm_error_prefix(err, "question %s at lever %g, seed %llu", q->name, x,
                                   (unsigned long long)t->seeds[r]);
        }
        tm_stats_acc_add(&acc, e->ratio[r]);
    }
    tm_stats_summary s = tm_stats_acc_summary(&acc);
    e->mean = s.mean;
    e->se = s.sd / sqrt((double)s.n);
    q->n_ev++;
    *out = e;
    if (t->opts) {
        tm_target_step step = {x, e->mean, e->se};
        tm_progress_report_to(&t->opts->progress, "target", q->n_ev, t->max_evaluations, q->name, &step);
    }
    return 0;
}

/* f(x) = mean ratio - target for GSL; an error is kept in t and ends the
 * search after the step (a finite value goes back, as GSL requires). */
static double gap(double x, void *ctx)
{
    tm_target *t = ctx;
    tgt_question *q = &t->q[t->current];
    tgt_eval *e = NULL;
    if (t->failed || evaluate(t, q, x, &e, &t->fail)) {
        t->failed = 1;
        return 0.0;
    }
    return e->mean - t->ratio_target;
}

int tm_target_solve(tm_target *t, int qi, const tm_target_options *opts, tm_target_answer *ans, tm_error *err)
{
    tgt_question *q = &t->q[qi];
    t->opts = opts;
    t->current = qi;
    t->failed = 0;
    memset(ans, 0, sizeof *ans);
    ans->lever_low = ans->lever_high = NAN;
    tgt_eval *lo = NULL, *hi = NULL;
    if (evaluate(t, q, q->lower, &lo, err))
        return -1;
    double lo_x = lo->x, lo_gap = lo->mean - t->ratio_target, lo_se = lo->se;
    if (evaluate(t, q, q->upper, &hi, err))
        return -1;
    double hi_gap = hi->mean - t->ratio_target;
    /* evaluate() may move q->ev: read lo's values before the second call. */
    if ((lo_gap > 0) == (hi_gap > 0) && fabs(lo_gap) > t->tolerance && fabs(hi_gap) > t->tolerance) {
        int upper_nearer = fabs(hi_gap) < fabs(lo_gap);
        ans->status = lo_gap < 0 ? TM_TARGET_NOT_REACHED : TM_TARGET_EXCEEDED;
        ans->lever = upper_nearer ? q->upper : lo_x;
        ans->ratio = (upper_nearer ? hi_gap : lo_gap) + t->ratio_target;
        ans->ratio_se = upper_nearer ? hi->se : lo_se;
        ans->evaluations = q->n_ev;
        q->ans = *ans;
        q->solved = 1;
        return 0;
    }
    gsl_function fn = {gap, t};
    gsl_root_fsolver *s = gsl_root_fsolver_alloc(gsl_root_fsolver_brent);
    if (!s)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    double a = q->lower, b = q->upper, best = fabs(lo_gap) < fabs(hi_gap) ? a : b;
    ans->status = TM_TARGET_BUDGET;
    if (fabs(lo_gap) <= t->tolerance || fabs(hi_gap) <= t->tolerance)
        ans->status = TM_TARGET_FOUND;
    else
        gsl_root_fsolver_set(s, &fn, a, b);
    double x_tol = t->x_tolerance * (q->upper - q->lower);
    while (ans->status == TM_TARGET_BUDGET && q->n_ev < t->max_evaluations) {
        gsl_root_fsolver_iterate(s);
        if (t->failed)
            break;
        double root = gsl_root_fsolver_root(s);
        a = gsl_root_fsolver_x_lower(s);
        b = gsl_root_fsolver_x_upper(s);
        tgt_eval *e = find_eval(q, root);
        if (e && fabs(e->mean - t->ratio_target) < fabs(find_eval(q, best)->mean - t->ratio_target))
            best = root;
        if (fabs(find_eval(q, best)->mean - t->ratio_target) <= t->tolerance || b - a <= x_tol)
            ans->status = TM_TARGET_FOUND;
    }
    gsl_root_fsolver_free(s);
    if (t->failed) {
        *err = t->fail;
        return -1;
    }
    tgt_eval *e = find_eval(q, best);
    ans->lever = best;
    ans->ratio = e->mean;
    ans->ratio_se = e->se;
    ans->evaluations = q->n_ev;
    if (fabs(e->mean - t->ratio_target) > t->tolerance)
        ans->status = TM_TARGET_BUDGET;
    /* The slope of the mean ratio over the last bracket (its ends are
     * evaluated points), for the interval of the root. */
    tgt_eval *ea = find_eval(q, a), *eb = find_eval(q, b);
    double slope = ea && eb && b > a ? (eb->mean - ea->mean) / (b - a) : NAN;
    double half = tm_stats_t975(t->n_seeds - 1) * e->se / fabs(slope);
    if (isfinite(half)) {
        ans->lever_low = best - half;
        ans->lever_high = best + half;
    }
    q->ans = *ans;
    q->solved = 1;
    return 0;
}

/* ------------------------------------------------------------------------
 * The result file.
 * ---------------------------------------------------------------------- */

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", (unsigned char)*s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

/* A number, or null when it is not finite (JSON has no NaN). */
static void json_number(FILE *f, double v)
{
    char num[64];
    if (!isfinite(v)) {
        fputs("null", f);
        return;
    }
    tm_yfield_format_number(v, num, sizeof num);
    fputs(num, f);
}

static const char *const status_names[] = {"found", "not_reached", "exceeded", "budget"};

static int cmp_eval(const void *a, const void *b)
{
    double x = ((const tgt_eval *)a)->x, y = ((const tgt_eval *)b)->x;
    return (x > y) - (x < y);
}

static void write_json(const tm_target *t, FILE *f)
{
    fprintf(f, "{\n  \"question_file\": ");
    json_string(f, t->file);
    fprintf(f, ",\n  \"question_sha256\": \"%s\",\n  \"base\": ", t->sha256);
    json_string(f, t->base_path);
    fprintf(f, ",\n  \"base_sha256\": \"%s\",\n  \"set\": [", t->base_sha);
    for (int i = 0; i < t->n_sets; i++) {
        fputs(i ? ", " : "", f);
        json_string(f, t->sets[i]);
    }
    fprintf(f, "],\n  \"seeds\": [");
    for (int i = 0; i < t->n_seeds; i++)
        fprintf(f, "%s%llu", i ? ", " : "", (unsigned long long)t->seeds[i]);
    fprintf(f, "],\n  \"target\": {\"ratio\": ");
    json_number(f, t->ratio_target);
    fprintf(f, ", \"tolerance\": ");
    json_number(f, t->tolerance);
    fprintf(f, ", \"at\": ");
    json_string(f, t->at);
    fprintf(f, ", \"from\": ");
    json_string(f, t->from);
    fprintf(f, ", \"destinations\": [");
    for (int i = 0; i < t->n_dest_names; i++) {
        fputs(i ? ", " : "", f);
        json_string(f, t->dest_names[i]);
    }
    fprintf(f, "]},\n  \"questions\": [");
    int first = 1;
    for (int i = 0; i < t->n_q; i++) {
        const tgt_question *q = &t->q[i];
        if (!q->solved)
            continue;
        fprintf(f, "%s\n    {\"name\": ", first ? "" : ",");
        first = 0;
        json_string(f, q->name);
        fprintf(f, ", \"unit\": ");
        json_string(f, q->unit);
        fprintf(f, ", \"lower\": ");
        json_number(f, q->lower);
        fprintf(f, ", \"upper\": ");
        json_number(f, q->upper);
        fprintf(f, ",\n     \"status\": \"%s\", \"lever\": ", status_names[q->ans.status]);
        json_number(f, q->ans.lever);
        fprintf(f, ", \"lever_low\": ");
        json_number(f, q->ans.lever_low);
        fprintf(f, ", \"lever_high\": ");
        json_number(f, q->ans.lever_high);
        fprintf(f, ", \"ratio\": ");
        json_number(f, q->ans.ratio);
        fprintf(f, ", \"ratio_se\": ");
        json_number(f, q->ans.ratio_se);
        fprintf(f, ",\n     \"evaluations\": [");
        tgt_eval *sorted = malloc((size_t)q->n_ev * sizeof *sorted);
        if (sorted) {
            memcpy(sorted, q->ev, (size_t)q->n_ev * sizeof *sorted);
            qsort(sorted, (size_t)q->n_ev, sizeof *sorted, cmp_eval);
        }
        for (int k = 0; sorted && k < q->n_ev; k++) {
            fprintf(f, "%s\n       {\"lever\": ", k ? "," : "");
            json_number(f, sorted[k].x);
            fprintf(f, ", \"ratio\": ");
            json_number(f, sorted[k].mean);
            fprintf(f, ", \"ratio_se\": ");
            json_number(f, sorted[k].se);
            fprintf(f, ", \"replicates\": [");
            for (int r = 0; r < t->n_seeds; r++) {
                fputs(r ? ", " : "", f);
                json_number(f, sorted[k].ratio[r]);
            }
            fprintf(f, "]}");
        }
        free(sorted);
        fprintf(f, "]}");
    }
    fprintf(f, "\n  ]\n}\n");
}

int tm_target_write(const tm_target *t, const char *path, tm_error *err)
{
    char stem[PATH_MAX], tmp[PATH_MAX + 32];
    tm_tmpfile_stem(path, stem, sizeof stem);
    int fd = tm_tmpfile_create(stem, tmp, sizeof tmp, err);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(tmp);
        return tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot write", tmp);
    }
    write_json(t, f);
    int bad = ferror(f);
    if (fclose(f) || bad || rename(tmp, path)) {
        unlink(tmp);
        return tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot write the result file", path);
    }
    return 0;
}
