#include "experiments/filekind.h"

#include <errno.h>
#include <hdf5.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "experiments/calibrate.h"
#include "io/checkpoint.h"
#include "io/h5util.h"
#include "io/reader.h"

const char *tm_filekind_name(tm_file_kind kind)
{
    switch (kind) {
    case TM_FILE_RUN:
        return "run file";
    case TM_FILE_RUN_TEMPORARY:
        return "partial run file";
    case TM_FILE_SWEEP:
        return "sweep index";
    case TM_FILE_COMPARISON:
        return "comparison file";
    case TM_FILE_FITTED:
        return "fitted parameter file (calibration)";
    case TM_FILE_CHECKPOINT:
        return "checkpoint";
    case TM_FILE_OTHER:
        break;
    }
    return "not a file tradeabm writes";
}

static void add_fact(tm_file_facts *f, const char *key, const char *value)
{
    if (f->n == TM_FILE_FACTS_MAX)
        return;
    snprintf(f->fact[f->n].key, sizeof f->fact[0].key, "%s", key);
    snprintf(f->fact[f->n].value, sizeof f->fact[0].value, "%s", value);
    f->n++;
}

const char *tm_filekind_fact(const tm_file_facts *facts, const char *key)
{
    for (int i = 0; i < facts->n; i++)
        if (strcmp(facts->fact[i].key, key) == 0)
            return facts->fact[i].value;
    return NULL;
}

/* A root attribute as text: a string, a number, or a list of whole
 * numbers (a comparison's seeds); -1 if absent or of another type. */
static int attr_text(hid_t obj, const char *name, char *buf, size_t size)
{
    buf[0] = '\0';
    if (H5Aexists(obj, name) <= 0)
        return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    hid_t t = H5Aget_type(a);
    hid_t sp = H5Aget_space(a);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    H5T_class_t cls = H5Tget_class(t);
    int rc = -1;
    if (cls == H5T_STRING) {
        H5Sclose(sp);
        H5Tclose(t);
        H5Aclose(a);
        return tm_reader_attr_string(obj, name, buf, size);
    }
    if (cls == H5T_INTEGER && n >= 1 && n <= 4096) {
        uint64_t *v = malloc((size_t)n * sizeof *v);
        int is_signed = H5Tget_sign(t) == H5T_SGN_2;
        if (v && H5Aread(a, is_signed ? H5T_NATIVE_INT64 : H5T_NATIVE_UINT64, v) >= 0) {
            size_t used = 0;
            for (hssize_t i = 0; i < n && used < size; i++)
                used += (size_t)snprintf(buf + used, size - used, is_signed ? "%s%" PRId64 : "%s%" PRIu64,
                                         i ? ", " : "", v[i]);
            rc = 0;
        }
        free(v);
    } else if (cls == H5T_FLOAT && n == 1) {
        double v;
        if (H5Aread(a, H5T_NATIVE_DOUBLE, &v) >= 0) {
            snprintf(buf, size, "%.17g", v);
            rc = 0;
        }
    }
    H5Sclose(sp);
    H5Tclose(t);
    H5Aclose(a);
    return rc;
}

/* The program that wrote the file, then each root attribute shown[i][1]
 * the file has, as fact shown[i][0]. */
static void add_attrs(tm_file_facts *f, hid_t file, const char *const shown[][2], size_t n)
{
    char version[64], commit[64], value[1024];
    attr_text(file, "version", version, sizeof version);
    attr_text(file, "git_commit", commit, sizeof commit);
    snprintf(value, sizeof value, "tradeabm %s (commit %s)", version, commit);
    add_fact(f, "program", value);
    for (size_t i = 0; i < n; i++)
        if (attr_text(file, shown[i][1], value, sizeof value) == 0)
            add_fact(f, shown[i][0], value);
}

typedef struct {
    char *buf;
    size_t size, used;
    int n;
} name_list;

static herr_t add_name(hid_t group, const char *name, const H5L_info_t *info, void *user)
{
    (void)group;
    (void)info;
    name_list *l = user;
    if (strcmp(name, "points") == 0 || l->used >= l->size)
        return 0;
    l->used += (size_t)snprintf(l->buf + l->used, l->size - l->used, "%s%s", l->n ? ", " : "", name);
    l->n++;
    return 0;
}

/* The members of a group, comma-separated ("points" left out: the
 * summary's design values); the number of them. */
static int group_names(hid_t file, const char *group, char *buf, size_t size)
{
    buf[0] = '\0';
    name_list l = {buf, size, 0, 0};
    if (H5Lexists(file, group, H5P_DEFAULT) <= 0)
        return 0;
    hid_t g = H5Gopen2(file, group, H5P_DEFAULT);
    if (g < 0)
        return 0;
    H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, add_name, &l);
    H5Gclose(g);
    return l.n;
}

/* The folder of `path` ("." if none), for the advice on sweep indexes. */
static void folder_of(const char *path, char *buf, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(buf, size, ".");
    else if (slash == path)
        snprintf(buf, size, "/");
    else
        snprintf(buf, size, "%.*s", (int)(slash - path), path);
}

static void sweep_facts(hid_t file, const char *path, tm_file_facts *f)
{
    char text[1024], *sweep_text = NULL;
    static const char *const shown[][2] = {
        {"seed", "seed"},
        {"points", "points"},
        {"replicates", "replicates"},
        {"runs", "runs"},
        {"complete runs", "complete_runs"},
        {"summary periods", "summary_periods"},
        {"sweep sha256", "sweep_sha256"},
    };
    add_attrs(f, file, shown, sizeof shown / sizeof shown[0]);
    /* The base parameter file, from the stored sweep file's `base:` line. */
    hid_t a = H5Aexists(file, "sweep_text") > 0 ? H5Aopen(file, "sweep_text", H5P_DEFAULT) : -1;
    if (a >= 0) {
        hid_t t = tm_h5_vlen_string();
        if (H5Aread(a, t, &sweep_text) < 0)
            sweep_text = NULL;
        H5Tclose(t);
        H5Aclose(a);
    }
    for (const char *line = sweep_text; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > 5 && strncmp(line, "base:", 5) == 0) {
            const char *v = line + 5;
            while (*v == ' ')
                v++;
            size_t vlen = len - (size_t)(v - line);
            const char *hash = memchr(v, '#', vlen);
            if (hash)
                vlen = (size_t)(hash - v);
            while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\r'))
                vlen--;
            snprintf(text, sizeof text, "%.*s (relative to the sweep file)", (int)vlen, v);
            add_fact(f, "base parameters", text);
            break;
        }
        line = end ? end + 1 : NULL;
    }
    if (sweep_text)
        H5free_memory(sweep_text);
    if (group_names(file, "design/values", text, sizeof text) > 0)
        add_fact(f, "swept", text);
    if (group_names(file, "summary", text, sizeof text) > 0)
        add_fact(f, "outcomes", text);
    folder_of(path, text, sizeof text);
    add_fact(f, "folder", text);
}

static void comparison_facts(hid_t file, const char *path, tm_file_facts *f)
{
    static const char *const shown[][2] = {
        {"base parameters", "base_parameters"},
        {"scenario parameters", "scenario_parameters"},
        {"replicates", "replicates"},
        {"seeds", "seeds"},
        {"effect window from", "effect_window_start"},
    };
    add_attrs(f, file, shown, sizeof shown / sizeof shown[0]);
    char runs[1024], folder[1024], full[2100];
    if (attr_text(file, "runs_folder", runs, sizeof runs) == 0) {
        folder_of(path, folder, sizeof folder);
        snprintf(full, sizeof full, "%s/%s", folder, runs);
        struct stat st;
        char text[2200];
        snprintf(text, sizeof text, "%s (%s)", full,
                 stat(full, &st) == 0 && S_ISDIR(st.st_mode) ? "present" : "missing: linked runs cannot be read");
        add_fact(f, "runs folder", text);
        add_fact(f, "runs path", full);
    }
}

/* The header comments of a fitted file, "# key: value" lines up to the
 * first line that is not a comment. */
static int fitted_facts(FILE *in, tm_file_facts *f)
{
    char line[2048];
    int first = 1;
    while (fgets(line, sizeof line, in) && line[0] == '#') {
        line[strcspn(line, "\r\n")] = '\0';
        if (first) {
            add_fact(f, "calibration file", line + strlen(TM_CALIBRATE_FITTED_HEADER));
            first = 0;
            continue;
        }
        const char *body = line[1] == ' ' ? line + 2 : line + 1;
        const char *colon = strstr(body, ": ");
        if (!colon || colon - body >= 40)
            continue;
        char key[40];
        snprintf(key, sizeof key, "%.*s", (int)(colon - body), body);
        add_fact(f, key, colon + 2);
    }
    return 0;
}

static void checkpoint_facts(const char *path, tm_file_facts *f)
{
    tm_checkpoint ck;
    tm_error err = {0};
    if (tm_checkpoint_read(path, &ck, &err)) {
        add_fact(f, "readable", err.msg);
        return;
    }
    char text[64];
    add_fact(f, "output", ck.final_path);
    snprintf(text, sizeof text, "%d", ck.period + 1);
    add_fact(f, "logged periods saved", text);
    snprintf(text, sizeof text, "%d", ck.every);
    add_fact(f, "checkpoint every", text);
    add_fact(f, "params sha256", ck.params_sha256);
    tm_checkpoint_free(&ck);
}

/* Kind of an HDF5 file: root attribute `kind` (sweep, comparison), else
 * `program` (a run file), else the groups of a run file being written. */
static tm_file_kind hdf5_kind(hid_t file)
{
    char kind[64], program[64];
    if (tm_reader_attr_string(file, "kind", kind, sizeof kind) == 0) {
        if (strcmp(kind, "sweep") == 0)
            return TM_FILE_SWEEP;
        if (strcmp(kind, "comparison") == 0)
            return TM_FILE_COMPARISON;
        return TM_FILE_OTHER;
    }
    if (tm_reader_attr_string(file, "program", program, sizeof program) == 0)
        return strcmp(program, "tradeabm") == 0 ? TM_FILE_RUN : TM_FILE_OTHER;
    /* Provenance is written when a run closes its file: without it, a
     * file with a run's layout is one still being written (or killed). */
    if (H5Lexists(file, "series", H5P_DEFAULT) > 0 && H5Lexists(file, "parameters", H5P_DEFAULT) > 0)
        return TM_FILE_RUN_TEMPORARY;
    return TM_FILE_OTHER;
}

static int detect(const char *path, tm_file_facts *facts, int describe, tm_error *err)
{
    memset(facts, 0, sizeof *facts);
    struct stat st;
    if (stat(path, &st) != 0)
        return tm_error_set(err, TM_ERR_INPUT, "%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return tm_error_set(err, TM_ERR_INPUT, "%s: a folder, not a file%s", path,
                            "; a sweep folder's index is DIR/sweep.h5, its runs DIR/runs/*.h5");
    tm_h5_quiet();
    if (H5Fis_hdf5(path) > 0) {
        hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        if (file < 0)
            return tm_error_set(err, TM_ERR_INPUT, "%s: cannot open as HDF5 (truncated or corrupt?)", path);
        facts->kind = hdf5_kind(file);
        if (facts->kind == TM_FILE_OTHER)
            add_fact(facts, "reason", "an HDF5 file, but not a tradeabm run file, sweep index or comparison");
        if (describe && facts->kind == TM_FILE_SWEEP)
            sweep_facts(file, path, facts);
        else if (describe && facts->kind == TM_FILE_COMPARISON)
            comparison_facts(file, path, facts);
        H5Fclose(file);
        return 0;
    }
    FILE *in = fopen(path, "rb");
    if (!in)
        return tm_error_set(err, TM_ERR_INPUT, "%s: %s", path, strerror(errno));
    char head[sizeof TM_CALIBRATE_FITTED_HEADER];
    size_t got = fread(head, 1, sizeof head - 1, in);
    if (tm_checkpoint_has_magic(head, got)) {
        facts->kind = TM_FILE_CHECKPOINT;
    } else if (got == sizeof head - 1 && memcmp(head, TM_CALIBRATE_FITTED_HEADER, got) == 0) {
        facts->kind = TM_FILE_FITTED;
        if (describe) {
            rewind(in);
            fitted_facts(in, facts);
        }
    }
    fclose(in);
    if (facts->kind == TM_FILE_OTHER)
        add_fact(facts, "reason", "not an HDF5 file (nor a fitted parameter file or checkpoint)");
    if (describe && facts->kind == TM_FILE_CHECKPOINT)
        checkpoint_facts(path, facts);
    return 0;
}

int tm_filekind_detect(const char *path, tm_file_kind *kind, tm_error *err)
{
    tm_file_facts *facts = malloc(sizeof *facts);
    if (!facts)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    int rc = detect(path, facts, 0, err);
    *kind = facts->kind;
    free(facts);
    return rc;
}

int tm_filekind_describe(const char *path, tm_file_facts *facts, tm_error *err)
{
    return detect(path, facts, 1, err);
}
