#include "params/yfield.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params/params.h"

const char *tm_yfield_kind_name(const tm_ynode *n)
{
    return n->kind == TM_Y_MAP ? "mapping" : n->kind == TM_Y_SEQ ? "list" : "single value";
}

tm_ynode tm_yfield_key_at(const tm_ynode *map, size_t i)
{
    tm_ynode k = {0};
    k.file = map->file;
    k.line = map->key_line[i];
    k.col = map->key_col[i];
    return k;
}

int tm_yfield_check_keys(const tm_ynode *map, const char *prefix, const char *const *names, tm_error *err)
{
    size_t n_names = 0;
    while (names[n_names])
        n_names++;
    if (map->kind != TM_Y_MAP)
        return tm_params_fail_at(err, map, prefix[0] ? prefix : "document", "found a %s, expected a mapping",
                                 tm_yfield_kind_name(map));
    for (size_t k = 0; k < map->n; k++) {
        int known = 0;
        for (size_t i = 0; i < n_names && !known; i++)
            known = strcmp(map->keys[k], names[i]) == 0;
        if (known)
            continue;
        char path[300], expected[600];
        snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", map->keys[k]);
        tm_params_describe_choices(expected, sizeof expected, map->keys[k], names, n_names);
        tm_ynode where = tm_yfield_key_at(map, k);
        return tm_params_fail_at(err, &where, path, "unknown key; %s", expected);
    }
    return 0;
}

int tm_yfield_number(const tm_ynode *node, const char *path, double *out, tm_error *err)
{
    if (!node)
        return tm_params_fail_at(err, NULL, path, "missing; expected a number");
    if (node->kind != TM_Y_SCALAR)
        return tm_params_fail_at(err, node, path, "found a %s, expected a number", tm_yfield_kind_name(node));
    if (tm_params_parse_number(node->value, out))
        return tm_params_fail_at(err, node, path, "found \"%s\", expected a number", node->value);
    return 0;
}

int tm_yfield_bounds(const tm_ynode *entry, const char *where, double *lower, double *upper, tm_error *err)
{
    char key[512];
    snprintf(key, sizeof key, "%s.lower", where);
    if (tm_yfield_number(tm_ytree_get(entry, "lower", NULL), key, lower, err))
        return -1;
    snprintf(key, sizeof key, "%s.upper", where);
    if (tm_yfield_number(tm_ytree_get(entry, "upper", NULL), key, upper, err))
        return -1;
    if (!(*lower < *upper))
        return tm_params_fail_at(err, tm_ytree_get(entry, "upper", NULL), key, "must exceed lower (%g)", *lower);
    return 0;
}

int tm_yfield_integer(const tm_ynode *node, const char *path, long long lo, long long hi, long long *out, tm_error *err)
{
    if (!node)
        return tm_params_fail_at(err, NULL, path, "missing; expected an integer in [%lld, %lld]", lo, hi);
    if (node->kind != TM_Y_SCALAR || tm_params_parse_integer(node->value, out))
        return tm_params_fail_at(err, node, path, "found %s%s%s, expected an integer in [%lld, %lld]",
                                 node->kind == TM_Y_SCALAR ? "\"" : "a ",
                                 node->kind == TM_Y_SCALAR ? node->value : tm_yfield_kind_name(node),
                                 node->kind == TM_Y_SCALAR ? "\"" : "", lo, hi);
    if (*out < lo || *out > hi)
        return tm_params_fail_at(err, node, path, "found %s, out of range: expected an integer in [%lld, %lld]",
                                 node->value, lo, hi);
    return 0;
}

int tm_yfield_seed(const tm_ynode *node, const char *path, uint64_t *out, tm_error *err)
{
    if (!node)
        return tm_params_fail_at(err, NULL, path, "missing; expected a non-negative integer below 2^64");
    const char *s = node->kind == TM_Y_SCALAR ? node->value : "";
    char *end = NULL;
    errno = 0;
    unsigned long long v = s[0] >= '0' && s[0] <= '9' ? strtoull(s, &end, 10) : 0;
    if (node->kind != TM_Y_SCALAR || !end || *end || errno == ERANGE)
        return tm_params_fail_at(err, node, path, "found %s%s%s, expected a non-negative integer below 2^64",
                                 node->kind == TM_Y_SCALAR ? "\"" : "a ",
                                 node->kind == TM_Y_SCALAR ? s : tm_yfield_kind_name(node),
                                 node->kind == TM_Y_SCALAR ? "\"" : "");
    *out = (uint64_t)v;
    return 0;
}

void tm_yfield_format_number(double v, char *buf, size_t size)
{
    /* Whole numbers in full ("100", not "1e+02"), which integer keys
     * accept; 2^53 bounds the whole numbers a double holds exactly. */
    if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        snprintf(buf, size, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}
