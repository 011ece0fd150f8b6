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
    /* 1: the key was added to this map by a file extending another, or by
     * --set, while the base already had the map (a name the base does not
     * define: the parameter module refuses it unless marked `new: true`). */
    int *key_added;
    struct tm_ynode **items;
} tm_ynode;

/* Every file name a tree refers to lives in one string pool, freed at once. */
typedef struct tm_ypool tm_ypool;
tm_ypool *tm_ypool_new(void);
void tm_ypool_free(tm_ypool *pool);
const char *tm_ypool_intern(tm_ypool *pool, const char *name);
/* Whether values written in `later` (an interned file name or --set
 * label) override those written in `earlier` in a tree loaded from this
 * pool: a --set overrides every file and the --sets before it, a file the
 * files it extends. 0 for the same name. */
int tm_ypool_overrides(const tm_ypool *pool, const char *later, const char *earlier);

/* Parse text as one YAML document. `name` is used in messages. An empty
 * document yields an error. Anchors/aliases, tags and duplicate keys are
 * rejected. */
int tm_ytree_parse(tm_ypool *pool, const char *name, const char *text, size_t len, tm_ynode **out, tm_error *err);

/* Read a whole regular text file (at most TM_YTREE_MAX_FILE bytes) into a
 * NUL-terminated buffer the caller frees; errors name the file. A FIFO,
 * device or folder is refused without reading from it. */
#define TM_YTREE_MAX_FILE (16L * 1024 * 1024)
int tm_ytree_read_file(const char *path, char **text, size_t *len, tm_error *err);

/* Read and parse a file, then resolve `extends:` chains (paths relative to
 * the including file, cycles rejected) into a single merged tree. */
int tm_ytree_load(tm_ypool *pool, const char *path, tm_ynode **out, tm_error *err);

/* A key path: names joined by `.`, each name followed by any number of
 * list indices in brackets (`run.periods`, `events[2].tariff`). A step is
 * a map key (index -1) or a list index (key empty). */
#define TM_YTREE_PATH_MAX_STEPS 32
#define TM_YTREE_KEY_MAX 128
typedef struct {
    char key[TM_YTREE_KEY_MAX];
    long index;
} tm_ypath_step;

/* Split a path into steps. An empty name (`a..b`, `.a`, `a.`, `[0]`), an
 * index that is not a plain decimal number (`[]`, `[-1]`, `[x]`, `[01]`) or
 * an unclosed bracket is refused: -1 with the reason in why. */
int tm_ytree_path_parse(const char *path, tm_ypath_step *steps, int max, int *n, char *why, size_t why_size);

/* Apply one "path=value" override; value is parsed as YAML (so lists
 * work) and replaces or creates the entry. Map keys that do not exist are
 * created; a list index must address an existing item (an unknown index
 * is refused with the list's size). A malformed path is refused (see
 * tm_ytree_path_parse). */
int tm_ytree_set(tm_ypool *pool, tm_ynode *root, const char *assignment, tm_error *err);

void tm_ytree_free(tm_ynode *node);

/* Remove entry i of a map (its key and value). */
void tm_ytree_remove(tm_ynode *map, size_t i);

/* Lookup of a key in a map (NULL if absent or node is not a map). */
tm_ynode *tm_ytree_get(const tm_ynode *map, const char *key, size_t *index);

/* "file:line:col" of a node, for messages. */
void tm_ytree_where(const tm_ynode *node, char *buf, size_t size);

#endif
