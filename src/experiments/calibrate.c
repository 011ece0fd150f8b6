#include "experiments/calibrate.h"

#include <ctype.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/economy.h"
#include "experiments/optim.h"
#include "base/sha256.h"
#include "params/ytree.h"

/* ------------------------------------------------------------------------
 * Moment accumulators. Shares are ratios of sums over the logged periods
 * (not means of per-period ratios), so a moment weighs every period's firms
 * or money equally.
 * ---------------------------------------------------------------------- */

typedef struct rev_cell {
    double revenue, count;
} rev_cell;

struct tm_moments {
    const tm_params *p;
    int n_sectors, n_dest, n_sets, us_index;
    int periods;           /* logged periods observed */
    double *export_value;  /* [s * n_dest + d] summed */
    double *firm_periods;  /* [s] slots x periods */
    double *exporters;     /* [s] firm-periods serving any market */
    double *single;        /* [s] firm-periods serving exactly one market */
    double *only;          /* [s * n_dest + d] firm-periods serving d alone */
    double *dest_exiters;  /* [s * n_dest + d] */
    double *dest_serving_before; /* [s * n_dest + d] serving in the period before */
    int64_t *last_serving; /* [s * n_dest + d] of the previous step */
    double continued, exported_before; /* firm level, all sectors */
    double top1_sum, top10_sum;        /* per-period pooled top shares, summed */
    int top_periods;
    uint8_t **prev_markets; /* [s][firm] of the previous step */
    int have_prev;
    rev_cell *pool; /* scratch for top shares: [max_cells] */
    double *cell_count;    /* [n_z * n_sets] */
    size_t max_cells;
};

void tm_moments_close(tm_moments *m)
{
    if (!m)
        return;
    free(m->export_value);
    free(m->firm_periods);
    free(m->exporters);
    free(m->single);
    free(m->only);
    free(m->dest_exiters);
    free(m->dest_serving_before);
    free(m->last_serving);
    for (int s = 0; m->prev_markets && s < m->n_sectors; s++)
        free(m->prev_markets[s]);
    free(m->prev_markets);
    free(m->pool);
    free(m->cell_count);
    free(m);
}

int tm_moments_open(const tm_params *p, tm_moments **out, tm_error *err)
{
    *out = NULL;
    if (p->exact)
        return tm_error_set(err, TM_ERR_INPUT,
                            "run.aggregation: the moments include firm-level persistence, which needs simulated "
                            "firms; use run.aggregation: firms");
    tm_moments *m = calloc(1, sizeof *m);
    if (!m)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    m->p = p;
    m->n_sectors = p->n_sectors;
    m->n_dest = p->n_dest;
    m->n_sets = tm_n_sets(p->n_dest);
    m->us_index = tm_params_us_index(p);
    size_t sd = (size_t)p->n_sectors * (size_t)p->n_dest, ns = (size_t)p->n_sectors;
    m->export_value = calloc(sd, sizeof(double));
    m->firm_periods = calloc(ns, sizeof(double));
    m->exporters = calloc(ns, sizeof(double));
    m->single = calloc(ns, sizeof(double));
    m->only = calloc(sd, sizeof(double));
    m->dest_exiters = calloc(sd, sizeof(double));
    m->dest_serving_before = calloc(sd, sizeof(double));
    m->last_serving = calloc(sd, sizeof(int64_t));
    m->prev_markets = calloc(ns, sizeof(uint8_t *));
    m->max_cells = ns * (size_t)p->grid_points * (size_t)tm_params_n_states(p) * (size_t)p->n_types;
    m->pool = malloc(m->max_cells * sizeof *m->pool);
    m->cell_count = malloc(m->max_cells * sizeof(double));
    int ok = m->export_value && m->firm_periods && m->exporters && m->single && m->only && m->dest_exiters &&
             m->dest_serving_before && m->last_serving && m->prev_markets && m->pool && m->cell_count;
    for (int s = 0; ok && s < p->n_sectors; s++)
        ok = (m->prev_markets[s] = malloc((size_t)p->sector[s].firms)) != NULL;
    if (!ok) {
        tm_moments_close(m);
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory for the moments");
    }
    *out = m;
    return 0;
}


static int rev_desc(const void *a, const void *b)
{
    double x = ((const rev_cell *)a)->revenue, y = ((const rev_cell *)b)->revenue;
    return (x < y) - (x > y);
}

/* Share of export value of the largest `fraction` of exporters, pooling all
 * sectors and destinations (a firm's exports are its revenue summed over the
 * markets it serves); the boundary cell is taken in part. */
static double top_share(const rev_cell *cells, size_t n, double fraction)
{
    double firms = 0, total = 0;
    for (size_t i = 0; i < n; i++) {
        firms += cells[i].count;
        total += cells[i].count * cells[i].revenue;
    }
    if (firms <= 0 || total <= 0)
        return NAN;
    double want = fraction * firms, got = 0, sum = 0;
    for (size_t i = 0; i < n && got < want; i++) {
        double take = cells[i].count < want - got ? cells[i].count : want - got;
        sum += take * cells[i].revenue;
        got += take;
    }
    return sum / total;
}

void tm_moments_observe(tm_moments *m, const tm_run *run)
{
    const tm_period_result *r = tm_run_result(run);
    const int n_dest = m->n_dest, n_sets = m->n_sets, n_z = tm_run_grid_size(run);
    int logged = r->period >= 0;
    size_t n_cells = 0;
    rev_cell *pool = m->pool;
    double *count = m->cell_count;
    for (int s = 0; s < m->n_sectors; s++) {
        int64_t firms = m->p->sector[s].firms;
        const uint8_t *mk = tm_run_firm_markets(run, s);
        const uint16_t *zs = tm_run_firm_z(run, s);
        if (logged) {
            m->firm_periods[s] += (double)firms;
            for (int S = 1; S < n_sets; S++) {
                double c = (double)r->firms_by_set[(size_t)s * (size_t)n_sets + (size_t)S];
                m->exporters[s] += c;
                if ((S & (S - 1)) == 0) {
                    m->single[s] += c;
                    for (int d = 0; d < n_dest; d++)
                        if (S == 1 << d)
                            m->only[(size_t)s * (size_t)n_dest + (size_t)d] += c;
                }
            }
            for (int d = 0; d < n_dest; d++) {
                size_t k = (size_t)s * (size_t)n_dest + (size_t)d;
                m->export_value[k] += r->export_value[k];
                if (m->have_prev) {
                    m->dest_exiters[k] += (double)r->exiters[k];
                    m->dest_serving_before[k] += (double)m->last_serving[k];
                }
            }
            /* Firm-level persistence: exporters of the previous period whose
             * slot did not die and who still serve some market. */
            if (m->have_prev) {
                const uint8_t *pm = m->prev_markets[s];
                int64_t before = 0, kept = 0;
                for (int64_t i = 0; i < firms; i++) {
                    if (pm[i] & TM_SET_MASK) {
                        before++;
                        if (!(mk[i] & TM_BORN_BIT) && (mk[i] & TM_SET_MASK))
                            kept++;
                    }
                }
                m->exported_before += (double)before;
                m->continued += (double)kept;
            }
            /* Exporter counts by (productivity, market state) for top shares. */
            {
                /* Cells [(type * n_z + z) * n_states + state], as the revenue table. */
                const int N = tm_run_n_states(run), n_types = tm_run_n_types(run);
                const uint8_t *ty = tm_run_firm_type(run, s);
                memset(count, 0, (size_t)n_types * (size_t)n_z * (size_t)N * sizeof(double));
                for (int64_t i = 0; i < firms; i++) {
                    int S = mk[i] & TM_SET_MASK;
                    size_t t = ty ? ty[i] : 0;
                    if (S)
                        count[(t * (size_t)n_z + zs[i]) * (size_t)N + (size_t)S] += 1.0;
                }
                const double *rev = tm_run_revenue_table(run, s);
                for (int iz = 0; iz < n_types * n_z; iz++)
                    for (int S = 1; S < N; S++) {
                        double c = count[(size_t)iz * (size_t)N + (size_t)S];
                        if (c <= 0)
                            continue;
                        double v = 0;
                        for (int d = 0; d < n_dest; d++)
                            v += rev[((size_t)iz * (size_t)N + (size_t)S) * (size_t)n_dest + (size_t)d];
                        pool[n_cells].revenue = v;
                        pool[n_cells].count = c;
                        n_cells++;
                    }
            }
        }
        memcpy(m->prev_markets[s], mk, (size_t)firms);
        for (int d = 0; d < n_dest; d++)
            m->last_serving[(size_t)s * (size_t)n_dest + (size_t)d] = r->serving[(size_t)s * (size_t)n_dest + (size_t)d];
    }
    if (logged && n_cells > 0) {
        qsort(pool, n_cells, sizeof *pool, rev_desc);
        double t1 = top_share(pool, n_cells, 0.01), t10 = top_share(pool, n_cells, 0.10);
        if (isfinite(t1) && isfinite(t10)) {
            m->top1_sum += t1;
            m->top10_sum += t10;
            m->top_periods++;
        }
    }
    if (logged)
        m->periods++;
    m->have_prev = 1;
}

/* ------------------------------------------------------------------------
 * The catalogue
 * ---------------------------------------------------------------------- */

typedef enum {
    M_DEST_SHARE, M_NON_US_SHARE, M_PARTICIPATION, M_SINGLE, M_DEST_ONLY, M_TOP1, M_TOP10,
    M_PERSISTENCE, M_DEST_PERSISTENCE, M_EXPORTERS, M_EXPORTS, M_DEST_EXPORTS, M_NON_US_EXPORTS, M_DEST_WEIGHT,
} moment_kind;

typedef struct {
    const char *pattern; /* "<dest>" stands for a destination name in lower case */
    moment_kind kind;
    int by_sector;       /* ".<sector>" allowed */
    const char *doc;
} moment_desc;

static const moment_desc catalogue[] = {
    {"<dest>_share", M_DEST_SHARE, 1, "share of export value going to <dest>"},
    {"non_us_share", M_NON_US_SHARE, 1, "share of export value going to destinations other than US"},
    {"export_participation", M_PARTICIPATION, 1, "share of firm slots serving at least one market"},
    {"single_market_share", M_SINGLE, 1, "share of exporters serving exactly one destination"},
    {"<dest>_only_share", M_DEST_ONLY, 1, "share of exporters serving <dest> and no other destination"},
    {"top1_share", M_TOP1, 0, "share of export value of the largest 1% of exporters, all sectors pooled (mean over periods)"},
    {"top10_share", M_TOP10, 0, "share of export value of the largest 10% of exporters, all sectors pooled (mean over periods)"},
    {"exporter_persistence", M_PERSISTENCE, 0, "annual probability that an exporter still exports: (continuing / exporters a period before)^periods_per_year, firm level, deaths count as exits"},
    {"<dest>_persistence", M_DEST_PERSISTENCE, 1, "annualised 1 - exiters / firms serving <dest> a period before"},
    {"exporters", M_EXPORTERS, 1, "mean number of firms serving at least one market"},
    {"exports", M_EXPORTS, 1, "mean export value per period (model money)"},
    {"<dest>_exports", M_DEST_EXPORTS, 1, "mean export value to <dest> per period (model money)"},
    {"non_us_exports", M_NON_US_EXPORTS, 1, "mean export value to destinations other than US per period"},
    {"<dest>_weight", M_DEST_WEIGHT, 1, "share of all exports (every sector and destination) that go to <dest> (from the sector)"},
};

#define N_CATALOGUE (sizeof catalogue / sizeof catalogue[0])

void tm_moments_catalogue(FILE *out)
{
    fprintf(out, "| moment | by sector | definition |\n|---|---|---|\n");
    for (size_t i = 0; i < N_CATALOGUE; i++)
        fprintf(out, "| `%s` | %s | %s |\n", catalogue[i].pattern, catalogue[i].by_sector ? "`.<sector>`" : "no",
                catalogue[i].doc);
}

static int same_lower(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i]))
            return 0;
    return 1;
}

/* Resolve a moment name into catalogue entry, destination and sector. */
static int parse_name(const tm_params *p, const char *name, const moment_desc **kind, int *dest, int *sector,
                      tm_error *err)
{
    char base[96];
    const char *dot = strchr(name, '.');
    size_t blen = dot ? (size_t)(dot - name) : strlen(name);
    if (blen >= sizeof base)
        blen = sizeof base - 1;
    memcpy(base, name, blen);
    base[blen] = '\0';
    *sector = -1;
    *dest = -1;
    *kind = NULL;
    for (size_t i = 0; i < N_CATALOGUE && !*kind; i++) {
        const char *pat = catalogue[i].pattern;
        if (strncmp(pat, "<dest>", 6) != 0) {
            if (strcmp(pat, base) == 0)
                *kind = &catalogue[i];
            continue;
        }
        const char *suffix = pat + 6;
        size_t sl = strlen(suffix);
        if (blen <= sl || strcmp(base + blen - sl, suffix) != 0)
            continue;
        size_t dl = blen - sl;
        for (int d = 0; d < p->n_dest; d++)
            if (strlen(p->dest[d].name) == dl && same_lower(base, p->dest[d].name, dl)) {
                /* "non_us_share" is its own entry; "<dest>" never matches "non_us". */
                *kind = &catalogue[i];
                *dest = d;
            }
    }
    if (!*kind) {
        char names[900];
        size_t used = (size_t)snprintf(names, sizeof names, "%s", "");
        for (size_t i = 0; i < N_CATALOGUE && used < sizeof names; i++)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", catalogue[i].pattern);
        return tm_error_set(err, TM_ERR_INPUT, "unknown moment `%s`; the catalogue has: %s (<dest> is a destination "
                            "name in lower case; add .<sector> where allowed)", name, names);
    }
    if (dot) {
        if (!(*kind)->by_sector)
            return tm_error_set(err, TM_ERR_INPUT, "moment `%s`: `%s` has no per-sector form", name, (*kind)->pattern);
        for (int s = 0; s < p->n_sectors; s++)
            if (strcmp(dot + 1, p->sector[s].name) == 0)
                *sector = s;
        if (*sector < 0)
            return tm_error_set(err, TM_ERR_INPUT, "moment `%s`: no sector named `%s`", name, dot + 1);
    }
    return 0;
}

int tm_moments_check_name(const tm_params *p, const char *name, tm_error *err)
{
    const moment_desc *k;
    int d, s;
    return parse_name(p, name, &k, &d, &s, err);
}

static double ratio(double a, double b)
{
    return b > 0 ? a / b : NAN;
}

int tm_moments_value(const tm_moments *m, const char *name, double *value, tm_error *err)
{
    const moment_desc *k;
    int dest, sector;
    if (parse_name(m->p, name, &k, &dest, &sector, err))
        return -1;
    int s0 = sector < 0 ? 0 : sector, s1 = sector < 0 ? m->n_sectors : sector + 1;
    double num = 0, den = 0, slots = 0, exporters = 0, only = 0, single = 0;
    double all = 0, to_dest = 0, non_us = 0, exits = 0, before = 0;
    for (int s = s0; s < s1; s++) {
        slots += m->firm_periods[s];
        exporters += m->exporters[s];
        single += m->single[s];
        for (int d = 0; d < m->n_dest; d++) {
            size_t c = (size_t)s * (size_t)m->n_dest + (size_t)d;
            all += m->export_value[c];
            if (d != m->us_index)
                non_us += m->export_value[c];
            if (d == dest) {
                to_dest += m->export_value[c];
                only += m->only[c];
                exits += m->dest_exiters[c];
                before += m->dest_serving_before[c];
            }
        }
    }
    double periods = m->periods > 0 ? (double)m->periods : NAN;
    double ppy = (double)m->p->periods_per_year;
    double total = 0; /* every sector and destination */
    for (size_t c = 0; c < (size_t)m->n_sectors * (size_t)m->n_dest; c++)
        total += m->export_value[c];
    switch (k->kind) {
    case M_DEST_WEIGHT:
        *value = ratio(to_dest, total);
        break;
    case M_DEST_SHARE:
        num = to_dest, den = all;
        *value = ratio(num, den);
        break;
    case M_NON_US_SHARE:
        *value = ratio(non_us, all);
        break;
    case M_PARTICIPATION:
        *value = ratio(exporters, slots);
        break;
    case M_SINGLE:
        *value = ratio(single, exporters);
        break;
    case M_DEST_ONLY:
        *value = ratio(only, exporters);
        break;
    case M_TOP1:
        *value = m->top_periods ? m->top1_sum / m->top_periods : NAN;
        break;
    case M_TOP10:
        *value = m->top_periods ? m->top10_sum / m->top_periods : NAN;
        break;
    case M_PERSISTENCE:
        *value = pow(ratio(m->continued, m->exported_before), ppy);
        break;
    case M_DEST_PERSISTENCE:
        *value = pow(1.0 - ratio(exits, before), ppy);
        break;
    case M_EXPORTERS:
        *value = exporters / periods;
        break;
    case M_EXPORTS:
        *value = all / periods;
        break;
    case M_DEST_EXPORTS:
        *value = to_dest / periods;
        break;
    case M_NON_US_EXPORTS:
        *value = non_us / periods;
        break;
    }
    return 0;
}

int tm_moments_of_run(const tm_params *p, int threads, tm_moments **out, tm_error *err)
{
    *out = NULL;
    tm_run_options ro = {.threads = threads};
    tm_run *run = NULL;
    tm_moments *m = NULL;
    if (tm_moments_open(p, &m, err))
        return -1;
    if (tm_run_open(p, &ro, &run, err))
        goto fail;
    while (!tm_run_finished(run)) {
        if (tm_run_step(run, err))
            goto fail;
        /* Only the last burn-in period and the logged ones matter. */
        if (tm_run_period(run) >= -1)
            tm_moments_observe(m, run);
    }
    tm_run_close(run);
    *out = m;
    return 0;
fail:
    tm_run_close(run);
    tm_moments_close(m);
    return -1;
}

/* ------------------------------------------------------------------------
 * Calibration files and simulated method of moments
 * ---------------------------------------------------------------------- */


#define CAL_MAX_SETS 64

typedef struct {
    char name[128];
    char **paths;
    int n_paths;
    int scale;          /* the value multiplies each path's base value */
    double lower, upper, start;
    double *base;       /* [n_paths] base values (scale mode) */
    char moment[96];    /* optimizer.method proportional: the moment this parameter moves */
    int moment_index;
} cal_param;

typedef struct {
    char name[96];
    double target, tolerance, weight;
    char source[200];
} cal_moment;

typedef struct {
    char *file;
    char sha256[65];
    char base_path[PATH_MAX];
    char *sets[CAL_MAX_SETS]; /* fixed overrides during fitting */
    int n_sets;
    char seed_set[64];
    cal_param *par;
    int n_par;
    cal_moment *mom;
    int n_mom;
    tm_optim_options opt;
    int proportional;   /* optimizer.method: proportional (else Nelder-Mead) */
    double damping;     /* proportional: x <- x (target / model)^damping */
    /* evaluation state */
    int threads, quiet;
    char **eval_sets;
    char *eval_buf;
    double *moment_values; /* of the last evaluation */
} cal_spec;

static void spec_free(cal_spec *c)
{
    free(c->file);
    for (int i = 0; i < c->n_sets; i++)
        free(c->sets[i]);
    for (int i = 0; i < c->n_par; i++) {
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
}

static int scalar_number(const tm_ynode *n, const char *path, double *out, tm_error *err)
{
    if (!n || n->kind != TM_Y_SCALAR || tm_params_parse_number(n->value, out))
        return tm_params_fail_at(err, n, path, "expected a number");
    return 0;
}

static int check_keys(const tm_ynode *map, const char *path, const char *const *allowed, tm_error *err)
{
    if (map->kind != TM_Y_MAP)
        return tm_params_fail_at(err, map, path, "expected a mapping");
    for (size_t i = 0; i < map->n; i++) {
        int ok = 0;
        size_t n = 0;
        for (; allowed[n]; n++)
            ok |= strcmp(map->keys[i], allowed[n]) == 0;
        if (!ok) {
            char expected[400];
            tm_params_describe_choices(expected, sizeof expected, map->keys[i], allowed, n);
            char full[200];
            snprintf(full, sizeof full, "%s%s%s", path, *path ? "." : "", map->keys[i]);
            return tm_params_fail_at(err, map->items[i], full, "unknown key; %s", expected);
        }
    }
    return 0;
}

/* Follow a dotted path through maps; NULL if absent. */
static const tm_ynode *lookup_path(const tm_ynode *root, const char *dotted)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", dotted);
    const tm_ynode *node = root;
    for (char *part = strtok(buf, "."); part && node; part = strtok(NULL, "."))
        node = tm_ytree_get(node, part, NULL);
    return node;
}

/* Value of a parameter path in the base file (as written, after `extends:`
 * and the fixed overrides), else in its canonical resolved form. */
static int base_value(const cal_spec *c, const char *path, double *out, tm_error *err)
{
    tm_ypool *pool = tm_ypool_new();
    tm_ynode *tree = NULL;
    int found = 0;
    if (pool && tm_ytree_load(pool, c->base_path, &tree, err) == 0) {
        for (int i = 0; i < c->n_sets; i++)
            tm_ytree_set(pool, tree, c->sets[i], err);
        const tm_ynode *n = lookup_path(tree, path);
        found = n && n->kind == TM_Y_SCALAR && tm_params_parse_number(n->value, out) == 0;
    }
    tm_ytree_free(tree);
    if (!found) {
        tm_params *p = NULL;
        tm_ynode *canon = NULL;
        if (tm_params_load(c->base_path, (const char *const *)c->sets, c->n_sets, &p, err) == 0 &&
            tm_ytree_parse(pool, "canonical", p->canonical, strlen(p->canonical), &canon, err) == 0) {
            const tm_ynode *n = lookup_path(canon, path);
            found = n && n->kind == TM_Y_SCALAR && tm_params_parse_number(n->value, out) == 0;
        }
        tm_ytree_free(canon);
        tm_params_free(p);
    }
    tm_ypool_free(pool);
    tm_error_clear(err);
    return found ? 0 : -1;
}

static int parse_spec(const char *file, cal_spec *c, tm_error *err)
{
    memset(c, 0, sizeof *c);
    int rc = -1;
    tm_ypool *pool = tm_ypool_new();
    tm_ynode *root = NULL;
    if (!pool || !(c->file = strdup(file)))
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    /* The SHA-256 of the file as written goes into the fitted file's header. */
    FILE *f = fopen(file, "rb");
    if (!f) {
        tm_error_set(err, TM_ERR_INPUT, "%s: cannot open", file);
        goto done;
    }
    tm_sha256 h;
    tm_sha256_init(&h);
    char chunk[8192];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        tm_sha256_update(&h, chunk, got);
    fclose(f);
    uint8_t dig[32];
    tm_sha256_final(&h, dig);
    tm_sha256_hex(dig, c->sha256);
    if (tm_ytree_load(pool, file, &root, err))
        goto done;
    static const char *const top_keys[] = {"base", "seed", "set", "parameters", "moments", "optimizer", NULL};
    if (check_keys(root, "", top_keys, err))
        goto done;
    const tm_ynode *base = tm_ytree_get(root, "base", NULL);
    if (!base || base->kind != TM_Y_SCALAR || !base->value[0]) {
        tm_params_fail_at(err, base ? base : root, "base", "expected the path of the parameter file to fit (relative to this file)");
        goto done;
    }
    if (base->value[0] == '/') {
        snprintf(c->base_path, sizeof c->base_path, "%s", base->value);
    } else {
        const char *slash = strrchr(file, '/');
        int dirlen = slash ? (int)(slash - file) + 1 : 0;
        snprintf(c->base_path, sizeof c->base_path, "%.*s%s", dirlen, file, base->value);
    }
    const tm_ynode *seed = tm_ytree_get(root, "seed", NULL);
    if (seed) {
        long long v;
        if (seed->kind != TM_Y_SCALAR || tm_params_parse_integer(seed->value, &v) || v < 0) {
            tm_params_fail_at(err, seed, "seed", "expected a non-negative integer (the common seed of every evaluation)");
            goto done;
        }
        snprintf(c->seed_set, sizeof c->seed_set, "run.seed=%lld", v);
    }
    const tm_ynode *sets = tm_ytree_get(root, "set", NULL);
    if (sets) {
        if (sets->kind != TM_Y_SEQ || sets->n > CAL_MAX_SETS) {
            tm_params_fail_at(err, sets, "set", "expected a list of KEY=VALUE overrides (at most %d)", CAL_MAX_SETS);
            goto done;
        }
        for (size_t i = 0; i < sets->n; i++) {
            const tm_ynode *s = sets->items[i];
            if (s->kind != TM_Y_SCALAR || !strchr(s->value, '=')) {
                tm_params_fail_at(err, s, "set", "expected KEY=VALUE");
                goto done;
            }
            c->sets[c->n_sets++] = strdup(s->value);
        }
    }
    const tm_ynode *pars = tm_ytree_get(root, "parameters", NULL);
    if (!pars || pars->kind != TM_Y_SEQ || pars->n == 0) {
        tm_params_fail_at(err, pars ? pars : root, "parameters", "expected a non-empty list of {path, lower, upper}");
        goto done;
    }
    c->par = calloc(pars->n, sizeof *c->par);
    if (!c->par) {
        tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < pars->n; i++) {
        const tm_ynode *e = pars->items[i];
        cal_param *q = &c->par[c->n_par++];
        char where[64];
        snprintf(where, sizeof where, "parameters[%zu]", i);
        static const char *const par_keys[] = {"name", "path", "paths", "mode", "lower", "upper", "start", "moment", NULL};
        if (check_keys(e, where, par_keys, err))
            goto done;
        const tm_ynode *path = tm_ytree_get(e, "path", NULL), *paths = tm_ytree_get(e, "paths", NULL);
        if (!!path == !!paths) {
            tm_params_fail_at(err, e, where, "give either path: (one parameter) or paths: (a list tied together)");
            goto done;
        }
        size_t np = path ? 1 : paths->kind == TM_Y_SEQ ? paths->n : 0;
        if (np == 0) {
            tm_params_fail_at(err, paths, where, "paths: expected a non-empty list of parameter paths");
            goto done;
        }
        q->paths = calloc(np, sizeof *q->paths);
        q->base = calloc(np, sizeof *q->base);
        if (!q->paths || !q->base) {
            tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
            goto done;
        }
        for (size_t k = 0; k < np; k++) {
            const tm_ynode *pn = path ? path : paths->items[k];
            if (pn->kind != TM_Y_SCALAR || !pn->value[0] || strchr(pn->value, '=')) {
                tm_params_fail_at(err, pn, where, "expected a dotted parameter path such as destinations.US.market.sunk_cost");
                goto done;
            }
            q->paths[q->n_paths++] = strdup(pn->value);
        }
        const tm_ynode *mode = tm_ytree_get(e, "mode", NULL);
        if (mode) {
            if (mode->kind == TM_Y_SCALAR && strcmp(mode->value, "scale") == 0)
                q->scale = 1;
            else if (!(mode->kind == TM_Y_SCALAR && strcmp(mode->value, "set") == 0)) {
                tm_params_fail_at(err, mode, where, "mode: expected set (the value itself) or scale (a multiplier of the base values)");
                goto done;
            }
        }
        const tm_ynode *name = tm_ytree_get(e, "name", NULL);
        snprintf(q->name, sizeof q->name, "%s", name && name->kind == TM_Y_SCALAR ? name->value : q->paths[0]);
        const tm_ynode *steers = tm_ytree_get(e, "moment", NULL);
        q->moment_index = -1;
        if (steers) {
            if (steers->kind != TM_Y_SCALAR || !steers->value[0]) {
                tm_params_fail_at(err, steers, where, "moment: expected the name of one of the moments below");
                goto done;
            }
            snprintf(q->moment, sizeof q->moment, "%s", steers->value);
        }
        char key[96];
        snprintf(key, sizeof key, "%s.lower", where);
        if (scalar_number(tm_ytree_get(e, "lower", NULL), key, &q->lower, err))
            goto done;
        snprintf(key, sizeof key, "%s.upper", where);
        if (scalar_number(tm_ytree_get(e, "upper", NULL), key, &q->upper, err))
            goto done;
        if (!(q->lower < q->upper)) {
            tm_params_fail_at(err, tm_ytree_get(e, "upper", NULL), key, "must exceed lower (%g)", q->lower);
            goto done;
        }
        for (int k = 0; k < q->n_paths; k++)
            if (base_value(c, q->paths[k], &q->base[k], err)) {
                if (q->scale) {
                    tm_params_fail_at(err, e, where, "cannot find the base value of %s to scale", q->paths[k]);
                    goto done;
                }
                q->base[k] = NAN;
            }
        const tm_ynode *start = tm_ytree_get(e, "start", NULL);
        snprintf(key, sizeof key, "%s.start", where);
        if (start) {
            if (scalar_number(start, key, &q->start, err))
                goto done;
        } else {
            q->start = q->scale ? 1.0 : q->base[0];
            if (isnan(q->start)) {
                tm_params_fail_at(err, e, where, "cannot find the base value of %s; give start:", q->paths[0]);
                goto done;
            }
        }
        if (!(q->start > q->lower && q->start < q->upper)) {
            tm_params_fail_at(err, start ? start : e, key, "start value %g must lie strictly inside (%g, %g)", q->start,
                              q->lower, q->upper);
            goto done;
        }
    }
    /* One value per path: a path in two parameters would make the later
     * override silently win. */
    for (int i = 0; i < c->n_par; i++)
        for (int k = 0; k < c->par[i].n_paths; k++)
            for (int j = 0; j <= i; j++)
                for (int l = 0; l < (j == i ? k : c->par[j].n_paths); l++)
                    if (strcmp(c->par[i].paths[k], c->par[j].paths[l]) == 0) {
                        char where[64];
                        snprintf(where, sizeof where, "parameters[%d]", i);
                        tm_params_fail_at(err, pars->items[i], where, "%s is already fitted by parameters[%d] (%s); "
                                          "a path may appear once", c->par[i].paths[k], j, c->par[j].name);
                        goto done;
                    }
    const tm_ynode *moms = tm_ytree_get(root, "moments", NULL);
    if (!moms || moms->kind != TM_Y_SEQ || moms->n == 0) {
        tm_params_fail_at(err, moms ? moms : root, "moments", "expected a non-empty list of {name, target, tolerance, weight}");
        goto done;
    }
    c->mom = calloc(moms->n, sizeof *c->mom);
    c->moment_values = calloc(moms->n, sizeof(double));
    if (!c->mom || !c->moment_values) {
        tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < moms->n; i++) {
        const tm_ynode *e = moms->items[i];
        cal_moment *q = &c->mom[c->n_mom++];
        char where[64], key[96];
        snprintf(where, sizeof where, "moments[%zu]", i);
        static const char *const mom_keys[] = {"name", "target", "tolerance", "weight", "source", NULL};
        if (check_keys(e, where, mom_keys, err))
            goto done;
        const tm_ynode *name = tm_ytree_get(e, "name", NULL);
        if (!name || name->kind != TM_Y_SCALAR) {
            tm_params_fail_at(err, name ? name : e, where, "name: expected a moment name (see `tradeabm calibrate --moments`)");
            goto done;
        }
        snprintf(q->name, sizeof q->name, "%s", name->value);
        snprintf(key, sizeof key, "%s.target", where);
        if (scalar_number(tm_ytree_get(e, "target", NULL), key, &q->target, err))
            goto done;
        const tm_ynode *tol = tm_ytree_get(e, "tolerance", NULL), *w = tm_ytree_get(e, "weight", NULL);
        q->tolerance = 0.1 * fabs(q->target) > 1e-3 ? 0.1 * fabs(q->target) : 1e-3;
        q->weight = 1.0;
        snprintf(key, sizeof key, "%s.tolerance", where);
        if (tol && (scalar_number(tol, key, &q->tolerance, err) || !(q->tolerance > 0))) {
            tm_params_fail_at(err, tol, key, "expected a positive number");
            goto done;
        }
        snprintf(key, sizeof key, "%s.weight", where);
        if (w && (scalar_number(w, key, &q->weight, err) || !(q->weight >= 0))) {
            tm_params_fail_at(err, w, key, "expected a non-negative number");
            goto done;
        }
        const tm_ynode *src = tm_ytree_get(e, "source", NULL);
        if (src && src->kind == TM_Y_SCALAR)
            snprintf(q->source, sizeof q->source, "%s", src->value);
    }
    const tm_ynode *opt = tm_ytree_get(root, "optimizer", NULL);
    c->opt.restarts = 1;
    c->damping = 0.5;
    if (opt) {
        static const char *const opt_keys[] = {"method", "max_iterations", "max_evaluations", "f_tolerance", "x_tolerance",
                                               "initial_step", "restarts", "damping", NULL};
        if (check_keys(opt, "optimizer", opt_keys, err))
            goto done;
        for (size_t i = 0; i < opt->n; i++) {
            double v;
            char key[96];
            snprintf(key, sizeof key, "optimizer.%s", opt->keys[i]);
            if (!strcmp(opt->keys[i], "method")) {
                const tm_ynode *mv = opt->items[i];
                if (mv->kind == TM_Y_SCALAR && !strcmp(mv->value, "proportional"))
                    c->proportional = 1;
                else if (!(mv->kind == TM_Y_SCALAR && !strcmp(mv->value, "nelder_mead"))) {
                    tm_params_fail_at(err, mv, key, "expected nelder_mead (minimise the objective) or proportional "
                                                    "(each parameter scaled towards its own moment)");
                    goto done;
                }
                continue;
            }
            if (scalar_number(opt->items[i], key, &v, err))
                goto done;
            if (v < 0) {
                tm_params_fail_at(err, opt->items[i], key, "expected a non-negative number");
                goto done;
            }
            const char *k = opt->keys[i];
            if (!strcmp(k, "max_iterations"))
                c->opt.max_iterations = (int)v;
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
    }
    /* Proportional updates: every parameter names a moment of the list. */
    for (int i = 0; i < c->n_par; i++) {
        cal_param *q = &c->par[i];
        for (int k = 0; k < c->n_mom && q->moment[0]; k++)
            if (!strcmp(c->mom[k].name, q->moment))
                q->moment_index = k;
        char where[64];
        snprintf(where, sizeof where, "parameters[%d].moment", i);
        if (c->proportional && q->moment_index < 0) {
            tm_params_fail_at(err, tm_ytree_get(pars->items[i], "moment", NULL) ? tm_ytree_get(pars->items[i], "moment", NULL)
                                                                               : pars->items[i],
                              where, "%s; optimizer.method proportional needs each parameter's moment, one of the "
                                     "names under moments:",
                              q->moment[0] ? "not among the moments" : "missing");
            goto done;
        }
    }
    int total_paths = 0;
    for (int i = 0; i < c->n_par; i++)
        total_paths += c->par[i].n_paths;
    c->eval_sets = calloc((size_t)(c->n_sets + 1 + total_paths), sizeof(char *));
    c->eval_buf = malloc((size_t)total_paths * 600);
    if (!c->eval_sets || !c->eval_buf) {
        tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        goto done;
    }
    rc = 0;
done:
    tm_ytree_free(root);
    tm_ypool_free(pool);
    return rc;
}

/* Value written for path k of parameter i at x. */
static double path_value(const cal_param *q, int k, double x)
{
    return q->scale ? q->base[k] * x : x;
}

static void format_number(double v, char *buf, size_t size)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
}

/* Load the base parameters with the fixed overrides and x applied. */
static int load_at(cal_spec *c, const double *x, tm_params **p, tm_error *err)
{
    int n = 0;
    for (int i = 0; i < c->n_sets; i++)
        c->eval_sets[n++] = c->sets[i];
    if (c->seed_set[0])
        c->eval_sets[n++] = c->seed_set;
    char *buf = c->eval_buf;
    for (int i = 0; i < c->n_par; i++)
        for (int k = 0; k < c->par[i].n_paths; k++) {
            char num[64];
            format_number(path_value(&c->par[i], k, x[i]), num, sizeof num);
            snprintf(buf, 600, "%s=%s", c->par[i].paths[k], num);
            c->eval_sets[n++] = buf;
            buf += 600;
        }
    return tm_params_load(c->base_path, (const char *const *)c->eval_sets, n, p, err);
}

/* SMM objective: sum_k w_k ((m_k - target_k) / tolerance_k)^2, with the same
 * seed in every evaluation (common random numbers), so it is a deterministic
 * function of x. A moment the model cannot compute makes it +infinity. */
static int objective(const double *x, double *value, void *ctx, tm_error *err)
{
    cal_spec *c = ctx;
    tm_params *p = NULL;
    tm_moments *m = NULL;
    if (load_at(c, x, &p, err))
        return -1;
    if (tm_moments_of_run(p, c->threads, &m, err)) {
        tm_params_free(p);
        return -1;
    }
    double f = 0;
    for (int k = 0; k < c->n_mom; k++) {
        double v;
        if (tm_moments_value(m, c->mom[k].name, &v, err)) {
            tm_moments_close(m);
            tm_params_free(p);
            return -1;
        }
        c->moment_values[k] = v;
        double z = (v - c->mom[k].target) / c->mom[k].tolerance;
        f += isfinite(v) ? c->mom[k].weight * z * z : INFINITY;
    }
    tm_moments_close(m);
    tm_params_free(p);
    *value = f;
    return 0;
}

static void progress(int iteration, int evaluations, double best, const double *x, int n, void *ctx)
{
    const cal_spec *c = ctx;
    if (c->quiet)
        return;
    printf("iter %4d  evals %5d  objective %-12.6g", iteration, evaluations, best);
    for (int i = 0; i < n; i++)
        printf("  %s=%.5g", c->par[i].name, x[i]);
    printf("\n");
    fflush(stdout);
}

static void print_fit(FILE *out, const cal_spec *c, const char *prefix)
{
    fprintf(out, "%s%-34s %10s %10s %10s %6s %8s\n", prefix, "moment", "target", "model", "tolerance", "within",
            "weight");
    for (int k = 0; k < c->n_mom; k++) {
        const cal_moment *q = &c->mom[k];
        double v = c->moment_values[k];
        fprintf(out, "%s%-34s %10.4g %10.4g %10.4g %6s %8.3g\n", prefix, q->name, q->target, v, q->tolerance,
                fabs(v - q->target) <= q->tolerance ? "yes" : "NO", q->weight);
    }
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
} assignment;

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
                format_number(as[i].value, num, sizeof num);
                fprintf(out, "%*s%s: %s\n", 2 * k, "", parts[k], num);
            }
        }
        for (int k = 0; k < depth && k < 16; k++)
            snprintf(prev[k], sizeof prev[k], "%s", parts[k]);
        prev_depth = depth - 1;
    }
}

static int write_fitted(const cal_spec *c, const char *path, const double *x, const tm_optim_result *res,
                        const char *base_sha, tm_error *err)
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
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    FILE *out = fopen(tmp, "w");
    if (!out)
        return tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot write", tmp);
    char date[64];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    fprintf(out, "# Fitted by simulated method of moments: tradeabm calibrate %s\n", c->file);
    fprintf(out, "# date: %s\n", date);
    fprintf(out, "# calibration file sha256: %s\n", c->sha256);
    fprintf(out, "# base: %s (resolved parameters before fitting, sha256 %s)\n", c->base_path, base_sha);
    fprintf(out, "# common random numbers: %s in every evaluation\n", c->seed_set[0] ? c->seed_set : "the base seed");
    for (int i = 0; i < c->n_sets; i++)
        fprintf(out, "# fixed override while fitting: %s\n", c->sets[i]);
    fprintf(out, "# method: %s\n", c->proportional ? "proportional updates of each parameter towards its moment"
                                                     : "Nelder-Mead on the bounded parameters");
    fprintf(out, "# objective: %.10g = sum of weight * ((model - target) / tolerance)^2\n", res->value);
    fprintf(out, "# iterations: %d, evaluations: %d, converged: %s\n", res->iterations, res->evaluations,
            res->converged ? "yes" : "no (budget reached)");
    fprintf(out, "# fitted: ");
    for (int i = 0; i < c->n_par; i++)
        fprintf(out, "%s%s = %.6g [%g, %g]%s", i ? "; " : "", c->par[i].name, x[i], c->par[i].lower, c->par[i].upper,
                c->par[i].scale ? " (scale)" : "");
    fprintf(out, "\n#\n");
    print_fit(out, c, "# ");
    fprintf(out, "\nextends: %s\n\n", rel);
    int total = 0;
    for (int i = 0; i < c->n_par; i++)
        total += c->par[i].n_paths;
    assignment *as = malloc((size_t)total * sizeof *as);
    if (!as) {
        fclose(out);
        unlink(tmp);
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    }
    int n = 0;
    for (int i = 0; i < c->n_par; i++)
        for (int k = 0; k < c->par[i].n_paths; k++) {
            as[n].path = c->par[i].paths[k];
            as[n].value = path_value(&c->par[i], k, x[i]);
            n++;
        }
    write_nested(out, as, n);
    free(as);
    if (fclose(out) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot write", path);
    }
    return 0;
}

/* optimizer.method: proportional. Each parameter scales towards its own
 * moment, x <- x (target / model)^damping within its bounds, until every
 * such moment is within f_tolerance (relative; default 1e-3) of its target
 * or max_iterations rounds (default 50). For parameters that move their
 * moment in proportion, such as a sector's demand shifter and its exports
 * to that destination with independent markets, this converges in a few
 * rounds where Nelder-Mead would need thousands of evaluations. */
static int proportional_fit(cal_spec *c, double *x, tm_optim_result *res, tm_error *err)
{
    int max_it = c->opt.max_iterations > 0 ? c->opt.max_iterations : 50;
    double tol = c->opt.f_tolerance > 0 ? c->opt.f_tolerance : 1e-3;
    memset(res, 0, sizeof *res);
    for (int it = 1;; it++) {
        double f;
        if (objective(x, &f, c, err))
            return -1;
        res->evaluations++;
        res->iterations = it - 1;
        res->value = f;
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
        if (!c->quiet) {
            printf("round %3d  objective %-12.6g  worst relative gap %.3g\n", it - 1, f, worst);
            fflush(stdout);
        }
        if (worst < tol) {
            res->converged = 1;
            return 0;
        }
        if (it > max_it)
            return 0;
        for (int i = 0; i < c->n_par; i++) {
            int k = c->par[i].moment_index;
            double next = x[i] * pow(c->mom[k].target / c->moment_values[k], c->damping);
            x[i] = fmin(fmax(next, c->par[i].lower), c->par[i].upper);
        }
    }
}

static const char *const calibrate_usage =
    "usage: tradeabm calibrate CALIBRATION.yaml -o FITTED.yaml [options]\n"
    "\n"
    "Fit parameters by simulated method of moments: minimise\n"
    "sum_k weight_k ((model_k - target_k) / tolerance_k)^2 over the parameters\n"
    "listed in CALIBRATION.yaml (paths with bounds), with the same seed in every\n"
    "evaluation, by Nelder-Mead on bounded variables (or, with optimizer.method:\n"
    "proportional, by scaling each parameter towards its own moment). FITTED.yaml\n"
    "extends the base file, sets the fitted values and records how it was fitted.\n"
    "\n"
    "  -o, --output FILE      fitted parameter file\n"
    "      --evaluate         only print the fit table at the start values\n"
    "      --max-iterations N override optimizer.max_iterations\n"
    "      --threads N        OpenMP threads per evaluation (results do not depend on it)\n"
    "      --force            replace FILE if it exists\n"
    "      --moments          list the moment catalogue and exit\n"
    "  -q, --quiet            no progress lines\n"
    "  -h, --help             this help\n";

int tm_cli_calibrate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'}, {"evaluate", no_argument, 0, 'e'},
        {"max-iterations", required_argument, 0, 'm'}, {"threads", required_argument, 0, 't'},
        {"force", no_argument, 0, 'f'}, {"moments", no_argument, 0, 'M'},
        {"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0},
    };
    const char *output = NULL;
    int evaluate = 0, force = 0, quiet = 0, c;
    long max_iter = 0, threads = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'o':
            output = optarg;
            break;
        case 'e':
            evaluate = 1;
            break;
        case 'm':
        case 't': {
            long v = strtol(optarg, &end, 10);
            if (!*optarg || *end || v < 1 || v > 10000000) {
                fprintf(stderr, "tradeabm: --%s %s: expected a positive whole number\n\n%s",
                        c == 'm' ? "max-iterations" : "threads", optarg, calibrate_usage);
                return 2;
            }
            *(c == 'm' ? &max_iter : &threads) = v;
            break;
        }
        case 'f':
            force = 1;
            break;
        case 'M':
            tm_moments_catalogue(stdout);
            return 0;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            fputs(calibrate_usage, stdout);
            return 0;
        default:
            fprintf(stderr, "\n%s", calibrate_usage);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "tradeabm: calibrate: expected one calibration file\n\n%s", calibrate_usage);
        return 2;
    }
    if (!output && !evaluate) {
        fprintf(stderr, "tradeabm: calibrate: missing -o FITTED.yaml (or --evaluate)\n\n%s", calibrate_usage);
        return 2;
    }
    struct stat st;
    if (output && !force && stat(output, &st) == 0) {
        fprintf(stderr, "tradeabm: error: %s exists; use --force to replace it\n", output);
        return 2;
    }
    tm_error err = {0};
    cal_spec spec;
    int rc = 1;
    double *x = NULL, *lo = NULL, *hi = NULL;
    tm_params *p0 = NULL;
    if (parse_spec(argv[optind], &spec, &err))
        goto fail;
    spec.threads = (int)threads;
    spec.quiet = quiet;
    if (max_iter)
        spec.opt.max_iterations = (int)max_iter;
    x = malloc((size_t)spec.n_par * sizeof *x);
    lo = malloc((size_t)spec.n_par * sizeof *lo);
    hi = malloc((size_t)spec.n_par * sizeof *hi);
    if (!x || !lo || !hi) {
        tm_error_set(&err, TM_ERR_RUNTIME, "out of memory");
        goto fail;
    }
    for (int i = 0; i < spec.n_par; i++) {
        x[i] = spec.par[i].start;
        lo[i] = spec.par[i].lower;
        hi[i] = spec.par[i].upper;
    }
    /* Validate every path and moment name once, before any fitting. */
    if (load_at(&spec, x, &p0, &err)) {
        tm_error_prefix(&err, "%s: parameters", argv[optind]);
        goto fail;
    }
    for (int k = 0; k < spec.n_mom; k++)
        if (tm_moments_check_name(p0, spec.mom[k].name, &err)) {
            tm_error_prefix(&err, "%s: moments[%d]", argv[optind], k);
            goto fail;
        }
    tm_params_free(p0);
    p0 = NULL;
    tm_params *pb = NULL;
    char base_sha[65] = "";
    {
        const char *sets[CAL_MAX_SETS + 1];
        int n = 0;
        for (int i = 0; i < spec.n_sets; i++)
            sets[n++] = spec.sets[i];
        if (spec.seed_set[0])
            sets[n++] = spec.seed_set;
        if (tm_params_load(spec.base_path, sets, n, &pb, &err))
            goto fail;
        snprintf(base_sha, sizeof base_sha, "%s", pb->sha256);
        tm_params_free(pb);
    }
    tm_optim_result res = {0};
    if (evaluate) {
        double f;
        if (objective(x, &f, &spec, &err))
            goto fail;
        printf("objective at the start values: %.6g\n", f);
        print_fit(stdout, &spec, "");
        rc = 0;
        goto done;
    }
    if (!quiet) {
        printf("calibrating %d parameter%s to %d moments of %s (%s, common random numbers)\n", spec.n_par,
               spec.n_par == 1 ? "" : "s", spec.n_mom, spec.base_path,
               spec.proportional ? "proportional updates" : "Nelder-Mead");
        fflush(stdout);
    }
    spec.opt.progress = progress;
    if (spec.proportional ? proportional_fit(&spec, x, &res, &err)
                          : tm_optim_minimize(spec.n_par, x, lo, hi, objective, &spec, &spec.opt, &res, &err))
        goto fail;
    /* The table shows the moments at the returned point. */
    double f;
    if (objective(x, &f, &spec, &err))
        goto fail;
    printf("\nobjective %.6g after %d iterations (%d evaluations)%s\n", res.value, res.iterations, res.evaluations,
           res.converged ? ", converged" : ", stopped at the budget");
    for (int i = 0; i < spec.n_par; i++)
        printf("  %-40s %.6g  [%g, %g]\n", spec.par[i].name, x[i], spec.par[i].lower, spec.par[i].upper);
    printf("\n");
    print_fit(stdout, &spec, "");
    if (write_fitted(&spec, output, x, &res, base_sha, &err))
        goto fail;
    printf("\nwrote %s\n", output);
    rc = 0;
    goto done;
fail:
    rc = tm_cli_fail(&err);
done:
    tm_params_free(p0);
    free(x);
    free(lo);
    free(hi);
    spec_free(&spec);
    return rc;
}
