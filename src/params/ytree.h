/* ytree: a small YAML document tree with exact source positions, built on
 * libyaml's event parser. Owns parsing, `extends:` merging and `--set` edits;
 * the parameter module interprets the tree.
 *
 * Why not libyaml's document API (yaml_parser_load, yaml_document_t)? Its
 * nodes keep start_mark and end_mark, and syntax errors carry the same
 * problem_mark, but it loses three things the loader reports at their
 * place. Measured with libyaml 0.2.5 on
 *     a: &p 4        (line 1)
 *     b: *p          (line 2)
 *     c: !!str 5     (line 3)
 *     d: 5           (line 4)
 * (1) anchors: yaml_node_t has no anchor, so `&p` at 1:4 leaves no trace
 *     (an anchor never aliased cannot be refused at all);
 * (2) aliases: b's value is node #3 again, a's scalar at 1:4, so the alias
 *     `*p` at 2:4 has no position of its own (tests/data/bad/syntax_alias.yaml
 *     is refused today at its anchor, 5:12);
 * (3) explicit tags: `!!str 5` and plain `5` both come back tagged
 *     tag:yaml.org,2002:str, so the `!!str` at 3:4 cannot be refused.
 * Key marks, duplicate keys, scalar styles and syntax-error marks would
 * survive; the three losses above decide it. */
#ifndef TM_YTREE_H
#define TM_YTREE_H

#include <stddef.h>

#include "base/error.h"

typedef enum { TM_Y_SCALAR, TM_Y_MAP, TM_Y_SEQ } tm_ykind;

/* A node. Maps keep their keys in document order (the order of sectors and
 * destinations is meaningful: it fixes their index and random streams). */
typedef struct tm_ynode {
    tm_ykind kind;
    const char *file; /* interned name of the file (or "--set") it came from */
    int line, col;    /* 1-based position of the node's first character */
    char *value;      /* scalars only */
    int quoted;       /* scalar was written in quotes */
    size_t n;         /* entries of a map or sequence */
    char **keys;      /* maps only */
    int *key_line, *key_col;
    const char **key_file; /* where each key was written (extends, --set) */
    struct tm_ynode **items;
} tm_ynode;

/* Every file name a tree refers to lives in one string pool, freed at once. */
typedef struct tm_ypool tm_ypool;
tm_ypool *tm_ypool_new(void);
void tm_ypool_free(tm_ypool *pool);
const char *tm_ypool_intern(tm_ypool *pool, const char *name);

/* Parse text as one YAML document. `name` is used in messages. An empty
 * document yields an error. Anchors/aliases, tags and duplicate keys are
 * rejected. */
int tm_ytree_parse(tm_ypool *pool, const char *name, const char *text, size_t len, tm_ynode **out, tm_error *err);

/* Read a whole text file (at most 16 MiB) into a NUL-terminated buffer the
 * caller frees; errors name the file. */
int tm_ytree_read_file(const char *path, char **text, size_t *len, tm_error *err);

/* Read and parse a file, then resolve `extends:` chains (paths relative to
 * the including file, cycles rejected) into a single merged tree. */
int tm_ytree_load(tm_ypool *pool, const char *path, tm_ynode **out, tm_error *err);

/* Apply one "dotted.path=value" override; value is parsed as YAML (so lists
 * work) and replaces or creates the entry. */
int tm_ytree_set(tm_ypool *pool, tm_ynode *root, const char *assignment, tm_error *err);

void tm_ytree_free(tm_ynode *node);

/* Lookup of a key in a map (NULL if absent or node is not a map). */
tm_ynode *tm_ytree_get(const tm_ynode *map, const char *key, size_t *index);

/* "file:line:col" of a node, for messages. */
void tm_ytree_where(const tm_ynode *node, char *buf, size_t size);

#endif
