/* yfield: typed fields of YAML trees for the input files other than
 * parameters (sweep and calibration files): known keys, numbers, integers,
 * seeds, with messages that name file, line, key and what was expected. */
#ifndef TM_YFIELD_H
#define TM_YFIELD_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "params/ytree.h"

/* "mapping", "list" or "single value". */
const char *tm_yfield_kind_name(const tm_ynode *node);

/* A node standing where key i of `map` was written (for messages). */
tm_ynode tm_yfield_key_at(const tm_ynode *map, size_t i);

/* `map` must be a mapping whose keys are all in the NULL-terminated
 * `names`; an unknown key is an input error at the key ("did you mean").
 * `prefix` is the dotted path of the map ("" for the document). */
int tm_yfield_check_keys(const tm_ynode *map, const char *prefix, const char *const *names, tm_error *err);

/* A number / an integer in [lo, hi] / a seed (0 to 2^64 - 1). A NULL node
 * is reported as missing. */
int tm_yfield_number(const tm_ynode *node, const char *path, double *out, tm_error *err);
int tm_yfield_integer(const tm_ynode *node, const char *path, long long lo, long long hi, long long *out,
                      tm_error *err);
int tm_yfield_seed(const tm_ynode *node, const char *path, uint64_t *out, tm_error *err);

/* The numbers `lower` and `upper` of mapping `entry` (at dotted path
 * `where`), with lower < upper: the bounds of a fitted parameter or of a
 * searched lever. */
int tm_yfield_bounds(const tm_ynode *entry, const char *where, double *lower, double *upper, tm_error *err);

/* The shortest decimal text that reads back as the same double (for
 * `path=value` overrides and fitted parameter files). */
void tm_yfield_format_number(double v, char *buf, size_t size);

#endif
