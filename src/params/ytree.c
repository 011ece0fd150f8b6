#include "params/ytree.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

/* Deeper nesting than this is no parameter file: refuse it rather than risk
 * the stack on hostile input. */
#define TM_YTREE_MAX_DEPTH 64
#define TM_YTREE_MAX_EXTENDS 32

struct tm_ypool {
    char **names;
    size_t n, cap;
};

tm_ypool *tm_ypool_new(void)
{
    return calloc(1, sizeof(tm_ypool));
}

void tm_ypool_free(tm_ypool *pool)
{
    if (!pool)
        return;
    for (size_t i = 0; i < pool->n; i++)
        free(pool->names[i]);
    free(pool->names);
    free(pool);
}

const char *tm_ypool_intern(tm_ypool *pool, const char *name)
{
    for (size_t i = 0; i < pool->n; i++)
        if (strcmp(pool->names[i], name) == 0)
            return pool->names[i];
    if (pool->n == pool->cap) {
        size_t cap = pool->cap ? 2 * pool->cap : 8;
        char **names = realloc(pool->names, cap * sizeof *names);
        if (!names)
            return NULL;
        pool->names = names;
        pool->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return NULL;
    pool->names[pool->n++] = copy;
    return copy;
}

static long pool_index(const tm_ypool *pool, const char *name)
{
    for (size_t i = 0; i < pool->n; i++)
        if (pool->names[i] == name)
            return (long)i;
    return -1;
}

/* Names enter the pool in load order: a file before the file it extends
 * (load_chain parses the extending file first), every file before the
 * --set labels (applied after loading), the --set labels in their order. */
int tm_ypool_overrides(const tm_ypool *pool, const char *later, const char *earlier)
{
    long a = pool_index(pool, later), b = pool_index(pool, earlier);
    int a_set = strncmp(later, "--set ", 6) == 0, b_set = strncmp(earlier, "--set ", 6) == 0;
    if (a < 0 || b < 0 || a == b)
        return 0;
    if (a_set != b_set)
        return a_set;
    return a_set ? a > b : a < b;
}

void tm_ytree_free(tm_ynode *node)
{
    if (!node)
        return;
    free(node->value);
    for (size_t i = 0; i < node->n; i++) {
        if (node->keys)
            free(node->keys[i]);
        tm_ytree_free(node->items[i]);
    }
    free(node->keys);
    free(node->key_line);
    free(node->key_col);
    free(node->key_file);
    free(node->key_added);
    free(node->items);
    free(node);
}

void tm_ytree_where(const tm_ynode *node, char *buf, size_t size)
{
    snprintf(buf, size, "%s:%d:%d", node->file, node->line, node->col);
}

tm_ynode *tm_ytree_get(const tm_ynode *map, const char *key, size_t *index)
{
    if (!map || map->kind != TM_Y_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i], key) == 0) {
            if (index)
                *index = i;
            return map->items[i];
        }
    return NULL;
}

static tm_ynode *node_new(tm_ykind kind, const char *file, int line, int col)
{
    tm_ynode *node = calloc(1, sizeof *node);
    if (node) {
        node->kind = kind;
        node->file = file;
        node->line = line;
        node->col = col;
    }
    return node;
}

/* Append an item (and, for maps, its key) to a container. */
static int node_push(tm_ynode *parent, char *key, const char *key_file, int key_line, int key_col, int added,
                     tm_ynode *item)
{
    size_t n = parent->n + 1;
    tm_ynode **items = realloc(parent->items, n * sizeof *items);
    if (!items)
        return -1;
    parent->items = items;
    if (parent->kind == TM_Y_MAP) {
        char **keys = realloc(parent->keys, n * sizeof *keys);
        if (!keys)
            return -1;
        parent->keys = keys;
        int *kl = realloc(parent->key_line, n * sizeof *kl);
        if (!kl)
            return -1;
        parent->key_line = kl;
        int *kc = realloc(parent->key_col, n * sizeof *kc);
        if (!kc)
            return -1;
        parent->key_col = kc;
        const char **kf = realloc(parent->key_file, n * sizeof *kf);
        if (!kf)
            return -1;
        parent->key_file = kf;
        int *ka = realloc(parent->key_added, n * sizeof *ka);
        if (!ka)
            return -1;
        parent->key_added = ka;
        ka[parent->n] = added;
        kf[parent->n] = key_file;
        keys[parent->n] = key;
        kl[parent->n] = key_line;
        kc[parent->n] = key_col;
    }
    items[parent->n] = item;
    parent->n = n;
    return 0;
}

typedef struct {
    yaml_parser_t parser;
    const char *file;
    tm_error *err;
    const char *text; /* the input, to place reader errors */
    size_t len;
} parse_ctx;

static int parse_fail(parse_ctx *ctx)
{
    yaml_parser_t *p = &ctx->parser;
    const char *problem = p->problem ? p->problem : "malformed YAML";
    if (p->error == YAML_MEMORY_ERROR)
        return tm_error_set(ctx->err, TM_ERR_RUNTIME, "%s: out of memory while parsing", ctx->file);
    if (p->error == YAML_READER_ERROR && ctx->text) {
        /* The reader (bad UTF-8, control characters) reports a byte offset,
         * not a mark: count lines up to it. */
        size_t line = 1, col = 1, end = p->problem_offset < ctx->len ? p->problem_offset : ctx->len;
        for (size_t i = 0; i < end; i++) {
            if (ctx->text[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        return tm_error_set(ctx->err, TM_ERR_INPUT, "%s:%zu:%zu: not valid text: %s (byte 0x%02x)", ctx->file, line,
                            col, problem, (unsigned)p->problem_value & 0xffu);
    }
    if (p->context)
        return tm_error_set(ctx->err, TM_ERR_INPUT, "%s:%zu:%zu: YAML syntax error: %s %s", ctx->file,
                            p->problem_mark.line + 1, p->problem_mark.column + 1, problem, p->context);
    return tm_error_set(ctx->err, TM_ERR_INPUT, "%s:%zu:%zu: YAML syntax error: %s", ctx->file,
                        p->problem_mark.line + 1, p->problem_mark.column + 1, problem);
}

static int next_event(parse_ctx *ctx, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&ctx->parser, ev))
        return parse_fail(ctx);
    return 0;
}

static int parse_node(parse_ctx *ctx, yaml_event_t *ev, int depth, tm_ynode **out);

static int reject_features(parse_ctx *ctx, yaml_event_t *ev)
{
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
    const yaml_char_t *anchor = NULL, *tag = NULL;
    if (ev->type == YAML_ALIAS_EVENT)
        return tm_error_set(ctx->err, TM_ERR_INPUT,
                            "%s:%d:%d: YAML aliases (*name) are not supported in parameter files; "
                            "write the value out",
                            ctx->file, line, col);
    if (ev->type == YAML_SCALAR_EVENT) {
        anchor = ev->data.scalar.anchor;
        tag = ev->data.scalar.tag;
    } else if (ev->type == YAML_MAPPING_START_EVENT) {
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
    } else if (ev->type == YAML_SEQUENCE_START_EVENT) {
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
    }
    if (anchor)
        return tm_error_set(ctx->err, TM_ERR_INPUT,
                            "%s:%d:%d: YAML anchors (&name) are not supported in parameter files", ctx->file, line,
                            col);
    if (tag)
        return tm_error_set(ctx->err, TM_ERR_INPUT, "%s:%d:%d: YAML tags (!tag) are not supported in parameter files",
                            ctx->file, line, col);
    return 0;
}

static int parse_container(parse_ctx *ctx, tm_ynode *node, int depth)
{
    yaml_event_t ev;
    yaml_event_type_t end = node->kind == TM_Y_MAP ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
    for (;;) {
        if (next_event(ctx, &ev))
            return -1;
        if (ev.type == end) {
            yaml_event_delete(&ev);
            return 0;
        }
        char *key = NULL;
        int key_line = 0, key_col = 0;
        if (node->kind == TM_Y_MAP) {
            if (reject_features(ctx, &ev)) {
                yaml_event_delete(&ev);
                return -1;
            }
            key_line = (int)ev.start_mark.line + 1;
            key_col = (int)ev.start_mark.column + 1;
            if (ev.type != YAML_SCALAR_EVENT) {
                yaml_event_delete(&ev);
                return tm_error_set(ctx->err, TM_ERR_INPUT, "%s:%d:%d: a mapping key must be a plain name, found a %s",
                                    ctx->file, key_line, key_col,
                                    ev.type == YAML_MAPPING_START_EVENT ? "mapping" : "sequence");
            }
            key = strdup((const char *)ev.data.scalar.value);
            yaml_event_delete(&ev);
            if (!key)
                return tm_error_set(ctx->err, TM_ERR_RUNTIME, "out of memory");
            if (tm_ytree_get(node, key, NULL)) {
                tm_error_set(ctx->err, TM_ERR_INPUT, "%s:%d:%d: %s: duplicate key", ctx->file, key_line, key_col, key);
                free(key);
                return -1;
            }
            if (next_event(ctx, &ev)) {
                free(key);
                return -1;
            }
        }
        tm_ynode *child = NULL;
        int rc = parse_node(ctx, &ev, depth + 1, &child);
        yaml_event_delete(&ev);
        if (rc) {
            free(key);
            return -1;
        }
        if (node_push(node, key, ctx->file, key_line, key_col, 0, child)) {
            free(key);
            tm_ytree_free(child);
            return tm_error_set(ctx->err, TM_ERR_RUNTIME, "out of memory");
        }
    }
}

/* Build the node that starts with event ev (which the caller deletes). */
static int parse_node(parse_ctx *ctx, yaml_event_t *ev, int depth, tm_ynode **out)
{
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
    if (reject_features(ctx, ev))
        return -1;
    if (depth > TM_YTREE_MAX_DEPTH)
        return tm_error_set(ctx->err, TM_ERR_INPUT, "%s:%d:%d: nesting deeper than %d levels", ctx->file, line, col,
                            TM_YTREE_MAX_DEPTH);
    tm_ynode *node;
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        node = node_new(TM_Y_SCALAR, ctx->file, line, col);
        if (!node || !(node->value = strdup((const char *)ev->data.scalar.value))) {
            tm_ytree_free(node);
            return tm_error_set(ctx->err, TM_ERR_RUNTIME, "out of memory");
        }
        node->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        *out = node;
        return 0;
    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT:
        node = node_new(ev->type == YAML_MAPPING_START_EVENT ? TM_Y_MAP : TM_Y_SEQ, ctx->file, line, col);
        if (!node)
            return tm_error_set(ctx->err, TM_ERR_RUNTIME, "out of memory");
        if (parse_container(ctx, node, depth)) {
            tm_ytree_free(node);
            return -1;
        }
        *out = node;
        return 0;
    default:
        return tm_error_set(ctx->err, TM_ERR_INPUT, "%s:%d:%d: unexpected YAML structure", ctx->file, line, col);
    }
}

int tm_ytree_parse(tm_ypool *pool, const char *name, const char *text, size_t len, tm_ynode **out, tm_error *err)
{
    parse_ctx ctx = {.err = err, .text = text, .len = len};
    *out = NULL;
    ctx.file = tm_ypool_intern(pool, name);
    if (!ctx.file)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    if (memchr(text, '\0', len))
        return tm_error_set(err, TM_ERR_INPUT,
                            "%s: not a text file (it contains NUL bytes); expected a YAML "
                            "parameter file",
                            name);
    if (!yaml_parser_initialize(&ctx.parser))
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    yaml_parser_set_input_string(&ctx.parser, (const unsigned char *)text, len);

    tm_ynode *root = NULL;
    int rc = -1;
    yaml_event_t ev;
    int have_doc = 0;
    for (;;) {
        if (next_event(&ctx, &ev))
            goto done;
        yaml_event_type_t type = ev.type;
        if (type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (type == YAML_DOCUMENT_START_EVENT) {
            int line = (int)ev.start_mark.line + 1;
            yaml_event_delete(&ev);
            if (have_doc) {
                tm_error_set(err, TM_ERR_INPUT, "%s:%d:1: a second YAML document; a parameter file holds one", name,
                             line);
                goto done;
            }
            have_doc = 1;
            if (next_event(&ctx, &ev))
                goto done;
            int prc = parse_node(&ctx, &ev, 0, &root);
            yaml_event_delete(&ev);
            if (prc)
                goto done;
            continue;
        }
        yaml_event_delete(&ev);
    }
    if (!root) {
        tm_error_set(err, TM_ERR_INPUT, "%s: the file is empty; expected a YAML mapping of parameters", name);
        goto done;
    }
    *out = root;
    root = NULL;
    rc = 0;
done:
    tm_ytree_free(root);
    yaml_parser_delete(&ctx.parser);
    return rc ? -1 : 0;
}

int tm_ytree_read_file(const char *path, char **text, size_t *len, tm_error *err)
{
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
     * writer forever; the type is checked before any read. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return tm_error_set(err, TM_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return tm_error_set(err, TM_ERR_INPUT, "%s: cannot open: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        const char *kind = S_ISDIR(st.st_mode)    ? "a folder"
                           : S_ISFIFO(st.st_mode) ? "a FIFO (named pipe)"
                           : S_ISSOCK(st.st_mode) ? "a socket"
                                                  : "a device";
        return tm_error_set(err, TM_ERR_INPUT, "%s: is %s, not a regular file; expected a YAML parameter file", path,
                            kind);
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory reading %s", path);
    }
    /* One byte beyond the cap tells a file at the cap from a larger one. */
    size_t cap = 4096, n = 0, limit = (size_t)TM_YTREE_MAX_FILE + 1;
    char *buf = malloc(cap);
    while (buf && n < limit) {
        if (n + 1 >= cap) {
            size_t want = cap * 2 > limit + 1 ? limit + 1 : cap * 2;
            char *grown = realloc(buf, want);
            if (!grown) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap = want;
        }
        size_t room = cap - n - 1;
        if (room > limit - n)
            room = limit - n;
        size_t got = fread(buf + n, 1, room, f);
        n += got;
        if (got == 0)
            break;
    }
    int failed = ferror(f);
    fclose(f);
    if (!buf)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory reading %s", path);
    if (failed) {
        free(buf);
        return tm_error_set(err, TM_ERR_INPUT, "%s: read error", path);
    }
    if (n > (size_t)TM_YTREE_MAX_FILE) {
        free(buf);
        return tm_error_set(err, TM_ERR_INPUT, "%s: larger than %ld bytes (16 MiB), the limit for a parameter file",
                            path, TM_YTREE_MAX_FILE);
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}

/* Deep merge: maps merge key by key, anything else in `over` replaces. The
 * result takes ownership of both trees' nodes. */
static tm_ynode *merge(tm_ynode *base, tm_ynode *over)
{
    if (base->kind != TM_Y_MAP || over->kind != TM_Y_MAP) {
        tm_ytree_free(base);
        return over;
    }
    for (size_t i = 0; i < over->n; i++) {
        size_t j;
        tm_ynode *old = tm_ytree_get(base, over->keys[i], &j);
        if (old) {
            /* Two maps merge into the base's node, which keeps its file, so
             * the key keeps the base's position; a replaced value takes the
             * overriding key's. */
            int replaced = old->kind != TM_Y_MAP || over->items[i]->kind != TM_Y_MAP;
            base->items[j] = merge(old, over->items[i]);
            if (replaced) {
                base->key_file[j] = over->key_file[i];
                base->key_line[j] = over->key_line[i];
                base->key_col[j] = over->key_col[i];
            }
            free(over->keys[i]);
        } else if (node_push(base, over->keys[i], over->key_file[i], over->key_line[i], over->key_col[i], 1,
                             over->items[i])) {
            return NULL;
        }
        over->items[i] = NULL;
        over->keys[i] = NULL;
    }
    over->n = 0;
    tm_ytree_free(over);
    return base;
}

void tm_ytree_remove(tm_ynode *map, size_t i)
{
    free(map->keys[i]);
    tm_ytree_free(map->items[i]);
    for (size_t k = i + 1; k < map->n; k++) {
        map->keys[k - 1] = map->keys[k];
        map->items[k - 1] = map->items[k];
        map->key_line[k - 1] = map->key_line[k];
        map->key_col[k - 1] = map->key_col[k];
        map->key_file[k - 1] = map->key_file[k];
        map->key_added[k - 1] = map->key_added[k];
    }
    map->n--;
}

static int load_chain(tm_ypool *pool, const char *path, const char **stack, int depth, tm_ynode **out, tm_error *err)
{
    char *real = realpath(path, NULL);
    if (!real)
        return tm_error_set(err, TM_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    const char *key = tm_ypool_intern(pool, real);
    free(real);
    if (!key)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    for (int i = 0; i < depth; i++)
        if (stack[i] == key)
            return tm_error_set(err, TM_ERR_INPUT, "%s: `extends:` cycle: this file extends itself", path);
    if (depth >= TM_YTREE_MAX_EXTENDS)
        return tm_error_set(err, TM_ERR_INPUT, "%s: `extends:` chain longer than %d files", path, TM_YTREE_MAX_EXTENDS);
    stack[depth] = key;

    char *text = NULL;
    size_t len = 0;
    if (tm_ytree_read_file(path, &text, &len, err))
        return -1;
    tm_ynode *tree = NULL;
    int rc = tm_ytree_parse(pool, path, text, len, &tree, err);
    free(text);
    if (rc)
        return -1;
    if (tree->kind != TM_Y_MAP) {
        char where[600];
        tm_ytree_where(tree, where, sizeof where);
        const char *kind = tree->kind == TM_Y_SEQ ? "sequence" : "single value";
        tm_error_set(err, TM_ERR_INPUT,
                     "%s: the document is a %s; expected a mapping of parameters "
                     "(key: value lines)",
                     where, kind);
        tm_ytree_free(tree);
        return -1;
    }
    size_t at;
    tm_ynode *ext = tm_ytree_get(tree, "extends", &at);
    if (!ext) {
        *out = tree;
        return 0;
    }
    if (ext->kind != TM_Y_SCALAR || ext->value[0] == '\0') {
        char where[600];
        tm_ytree_where(ext, where, sizeof where);
        tm_ytree_free(tree);
        return tm_error_set(err, TM_ERR_INPUT, "%s: extends: expected the path of a parameter file", where);
    }
    char base_path[PATH_MAX];
    if (ext->value[0] == '/') {
        snprintf(base_path, sizeof base_path, "%s", ext->value);
    } else {
        const char *slash = strrchr(path, '/');
        int dirlen = slash ? (int)(slash - path) + 1 : 0;
        snprintf(base_path, sizeof base_path, "%.*s%s", dirlen, path, ext->value);
    }
    char where[600];
    tm_ytree_where(ext, where, sizeof where);
    tm_ynode *base = NULL;
    if (load_chain(pool, base_path, stack, depth + 1, &base, err)) {
        tm_error_prefix(err, "%s: extends", where);
        tm_ytree_free(tree);
        return -1;
    }
    tm_ytree_remove(tree, at);
    tm_ynode *merged = merge(base, tree);
    if (!merged)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    *out = merged;
    return 0;
}

int tm_ytree_load(tm_ypool *pool, const char *path, tm_ynode **out, tm_error *err)
{
    const char *stack[TM_YTREE_MAX_EXTENDS + 1];
    *out = NULL;
    return load_chain(pool, path, stack, 0, out, err) ? -1 : 0;
}

int tm_ytree_path_parse(const char *path, tm_ypath_step *steps, int max, int *n, char *why, size_t why_size)
{
    *n = 0;
    const char *c = path;
    for (;;) {
        size_t len = strcspn(c, ".[]");
        if (len == 0) {
            snprintf(why, why_size,
                     "empty name in the key path (a leading, trailing or doubled `.`, or an index without a name)");
            return -1;
        }
        if (len >= TM_YTREE_KEY_MAX) {
            snprintf(why, why_size, "a name in the key path is longer than %d characters", TM_YTREE_KEY_MAX - 1);
            return -1;
        }
        if (*n == max) {
            snprintf(why, why_size, "more than %d steps in the key path", max);
            return -1;
        }
        memcpy(steps[*n].key, c, len);
        steps[*n].key[len] = '\0';
        steps[*n].index = -1;
        (*n)++;
        c += len;
        while (*c == '[') {
            c++;
            /* Plain decimal: `[01]`, `[+1]` or `[ 1]` would name the same
             * item as `[1]` in a sweep's table under another name. */
            size_t digits = strspn(c, "0123456789");
            if (digits == 0 || digits > 6 || c[digits] != ']' || (digits > 1 && c[0] == '0')) {
                snprintf(why, why_size,
                         "malformed list index at `[%.20s`; expected [N] with N = 0, 1, 2, ... (for example "
                         "events[0].tariff)",
                         c);
                return -1;
            }
            if (*n == max) {
                snprintf(why, why_size, "more than %d steps in the key path", max);
                return -1;
            }
            steps[*n].key[0] = '\0';
            steps[*n].index = strtol(c, NULL, 10);
            (*n)++;
            c += digits + 1;
        }
        if (*c == '\0')
            return 0;
        if (*c != '.') {
            snprintf(why, why_size, "unexpected `%c` in the key path; expected `.` or `[` after a name or an index",
                     *c);
            return -1;
        }
        c++;
    }
}

/* "--set PATH:1:1: AT: detail", the form the parameter module gives errors
 * at a --set value, so that callers read both alike. */
static int set_fail(tm_error *err, const char *label, const char *at, const char *fmt, ...) TM_PRINTF(4, 5);
static int set_fail(tm_error *err, const char *label, const char *at, const char *fmt, ...)
{
    char detail[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return tm_error_set(err, TM_ERR_INPUT, "%s:1:1: %s: %s", label, at, detail);
}

int tm_ytree_set(tm_ypool *pool, tm_ynode *root, const char *assignment, tm_error *err)
{
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        return tm_error_set(err, TM_ERR_INPUT, "--set %s: expected path.to.key=value (for example run.seed=7)",
                            assignment);
    size_t path_len = (size_t)(eq - assignment);
    char *path = strndup(assignment, path_len);
    if (!path)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    const char *value = eq + 1;
    tm_ypath_step steps[TM_YTREE_PATH_MAX_STEPS];
    int n_steps = 0;
    char why[300];
    if (tm_ytree_path_parse(path, steps, TM_YTREE_PATH_MAX_STEPS, &n_steps, why, sizeof why)) {
        tm_error_set(err, TM_ERR_INPUT, "--set %s: %s; expected path.to.key=value (for example run.seed=7)", assignment,
                     why);
        free(path);
        return -1;
    }
    char label[300];
    snprintf(label, sizeof label, "--set %s", path);
    tm_ynode *val = NULL;
    int rc = -1;
    if (*value == '\0') {
        tm_error_set(err, TM_ERR_INPUT, "--set %s: the value is empty", path);
        goto done;
    }
    if (tm_ytree_parse(pool, label, value, strlen(value), &val, err))
        goto done;
    /* Walk the path, creating maps that do not exist yet; list items must. */
    tm_ynode *node = root;
    char at[300] = "";
    for (int i = 0; i < n_steps; i++) {
        const tm_ypath_step *step = &steps[i];
        const int last = i == n_steps - 1;
        size_t used = strlen(at);
        if (step->index >= 0) {
            if (node->kind != TM_Y_SEQ) {
                set_fail(err, label, at, "found a %s, not a list; [%ld] indexes a list",
                         node->kind == TM_Y_MAP ? "mapping" : "single value", step->index);
                goto done;
            }
            if ((size_t)step->index >= node->n) {
                if (node->n == 0)
                    set_fail(err, label, at, "unknown index %ld; the list is empty", step->index);
                else
                    set_fail(err, label, at, "unknown index %ld; expected %s[0] to %s[%zu] (%zu entries)", step->index,
                             at, at, node->n - 1, node->n);
                goto done;
            }
            snprintf(at + used, sizeof at - used, "[%ld]", step->index);
            size_t k = (size_t)step->index;
            if (last) {
                tm_ytree_free(node->items[k]);
                node->items[k] = val;
                val = NULL;
                break;
            }
            node = node->items[k];
            continue;
        }
        if (node->kind != TM_Y_MAP) {
            tm_error_set(err, TM_ERR_INPUT, "--set %s: `%s` is inside a value that is not a mapping", path, step->key);
            goto done;
        }
        snprintf(at + used, sizeof at - used, "%s%s", used ? "." : "", step->key);
        size_t k;
        tm_ynode *child = tm_ytree_get(node, step->key, &k);
        if (last) {
            if (child) {
                tm_ytree_free(child);
                node->items[k] = val;
                /* The entry now comes from --set: messages point there. */
                node->key_file[k] = val->file;
                node->key_line[k] = 1;
                node->key_col[k] = 1;
            } else {
                char *key = strdup(step->key);
                if (!key || node_push(node, key, val->file, 1, 1, 1, val)) {
                    free(key);
                    tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
                    goto done;
                }
            }
            val = NULL;
            break;
        }
        if (!child && steps[i + 1].index >= 0) {
            set_fail(err, label, at, "unknown list; there is no %s to index with [%ld]", at, steps[i + 1].index);
            goto done;
        }
        if (!child) {
            child = node_new(TM_Y_MAP, val->file, 1, 1);
            char *key = strdup(step->key);
            if (!child || !key || node_push(node, key, val->file, 1, 1, 1, child)) {
                free(key);
                tm_ytree_free(child);
                tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
                goto done;
            }
        }
        node = child;
    }
    rc = 0;
done:
    tm_ytree_free(val);
    free(path);
    return rc;
}
