#include "base/stats.h"

#include <ctype.h>
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Replicates
 * ---------------------------------------------------------------------- */

double tm_stats_t975(int dof)
{
    return dof < 1 ? NAN : gsl_cdf_tdist_Pinv(0.975, (double)dof);
}

void tm_stats_acc_add(tm_stats_acc *acc, double x)
{
    if (!isfinite(x))
        return;
    acc->n++;
    double delta = x - acc->mean;
    acc->mean += delta / acc->n;
    acc->m2 += delta * (x - acc->mean);
}

tm_stats_summary tm_stats_acc_summary(const tm_stats_acc *acc)
{
    tm_stats_summary s = {acc->n, NAN, NAN, NAN, NAN};
    if (acc->n > 0)
        s.mean = acc->mean;
    if (acc->n > 1) {
        s.sd = sqrt(acc->m2 / (acc->n - 1));
        double half = tm_stats_t975(acc->n - 1) * s.sd / sqrt((double)acc->n);
        s.ci_low = s.mean - half;
        s.ci_high = s.mean + half;
    }
    return s;
}

/* ------------------------------------------------------------------------
 * Top shares
 * ---------------------------------------------------------------------- */

static int value_desc(const void *a, const void *b)
{
    double x = ((const tm_stats_cell *)a)->value, y = ((const tm_stats_cell *)b)->value;
    return (x < y) - (x > y);
}

double tm_stats_top_share(tm_stats_cell *cells, size_t n, double fraction, double count_total, double value_total)
{
    if (!(count_total > 0) || !(value_total > 0))
        return NAN;
    qsort(cells, n, sizeof *cells, value_desc);
    double want = fraction * count_total, got = 0, sum = 0;
    for (size_t i = 0; i < n && got < want; i++) {
        double take = cells[i].count < want - got ? cells[i].count : want - got;
        sum += take * cells[i].value;
        got += take;
    }
    return sum / value_total;
}

/* ------------------------------------------------------------------------
 * The table of named outcomes
 * ---------------------------------------------------------------------- */

typedef enum {
    K_EXPORT_VALUE,
    K_FIRMS_SERVING,
    K_ENTRANTS,
    K_EXITERS,
    K_TARIFF_PAID,
    K_EXPORT_SHARE,
    K_NON_US_SHARE,
    K_NON_US_EXPORT_VALUE,
    K_EXPORT_WEIGHT,
    K_EXPORTERS,
    K_PARTICIPATION,
    K_SINGLE,
    K_ONLY,
    K_MARKET_PERSISTENCE,
    K_EXPORTER_PERSISTENCE,
    K_TOP1,
    K_TOP10,
    K_TOP01,
    K_LARGEST,
    K_SPELL_MEDIAN,
    K_CONTINUATION,
    K_ENTRANT_SIZE,
    K_NON_US_EXCEPT,
    K_EXPORT_VALUE_EXCEPT,
} outcome_kind;

enum { NO_DEST = 0, ANY_DEST, ONE_DEST }; /* destination qualifier: none, optional, required */

static const struct entry {
    const char *name;
    outcome_kind kind;
    int dest;       /* NO_DEST, ANY_DEST or ONE_DEST */
    int sector;     /* a sector qualifier: 0 none, 1 allowed, 2 required */
    int firm_level; /* needs the firms of a run in memory */
    const char *units;
    tm_stats_effect_kind effect;
    const char *description; /* one line */
    const char *computed;    /* over the window W of logged periods, for the docs */
} table[] = {
    {"export_value", K_EXPORT_VALUE, ANY_DEST, 1, 0, "model money", TM_STATS_PERCENT,
     "export value (producer revenue) per period",
     "sum of `/series/export_value` over W, the sectors and the destinations, divided by the periods of W"},
    {"firms_serving", K_FIRMS_SERVING, ANY_DEST, 1, 0, "firms", TM_STATS_DIFFERENCE,
     "firms serving the destination per period (firm-destination pairs when summed over destinations)",
     "sum of `/series/firms_serving` likewise, divided by the periods of W"},
    {"entrants", K_ENTRANTS, ANY_DEST, 1, 0, "firms", TM_STATS_DIFFERENCE,
     "firms that started serving the destination, per period", "`/series/entrants` likewise"},
    {"exiters", K_EXITERS, ANY_DEST, 1, 0, "firms", TM_STATS_DIFFERENCE,
     "firms that stopped serving the destination (deaths included), per period", "`/series/exiters` likewise"},
    {"tariff_paid", K_TARIFF_PAID, ANY_DEST, 1, 0, "model money", TM_STATS_PERCENT,
     "tariff paid on the customs value, per period", "`/series/tariff_paid` likewise"},
    {"export_share", K_EXPORT_SHARE, ONE_DEST, 1, 0, "fraction", TM_STATS_POINTS,
     "share of the export value that goes to the destination",
     "export value to DEST over export value to all destinations, both summed over W (and the sectors)"},
    {"non_us_share", K_NON_US_SHARE, NO_DEST, 1, 0, "fraction", TM_STATS_POINTS,
     "share of the export value that goes to destinations other than US",
     "as export_share, with every destination but US (the first destination if there is no US)"},
    {"non_us_export_value", K_NON_US_EXPORT_VALUE, NO_DEST, 1, 0, "model money", TM_STATS_PERCENT,
     "export value to destinations other than US, per period", "as export_value, without US"},
    {"non_us_export_value_except", K_NON_US_EXCEPT, NO_DEST, 2, 0, "model money", TM_STATS_PERCENT,
     "export value to destinations other than US of every sector but SECTOR, per period",
     "as non_us_export_value, summed over the sectors other than SECTOR"},
    {"export_value_except", K_EXPORT_VALUE_EXCEPT, NO_DEST, 2, 0, "model money", TM_STATS_PERCENT,
     "export value to every destination of every sector but SECTOR, per period",
     "as export_value, summed over the sectors other than SECTOR"},
    {"export_weight", K_EXPORT_WEIGHT, ONE_DEST, 1, 0, "fraction", TM_STATS_POINTS,
     "share of all exports (every sector and destination) that go to the destination from the sector(s)",
     "export value to DEST from the sector(s) over the export value of every sector and destination"},
    {"exporters", K_EXPORTERS, NO_DEST, 1, 0, "firms", TM_STATS_DIFFERENCE,
     "firms serving at least one destination, per period",
     "`/series/firms_by_market_set` summed over the non-empty sets, over W, divided by the periods of W"},
    {"export_participation", K_PARTICIPATION, NO_DEST, 1, 0, "fraction", TM_STATS_POINTS,
     "share of firms serving at least one destination",
     "exporters over all firms (`/series/firms_by_market_set` over every set; weighted slots with "
     "`run.resolution`), summed over W"},
    {"single_market_share", K_SINGLE, NO_DEST, 1, 0, "fraction", TM_STATS_POINTS,
     "share of exporters serving exactly one destination", "firms in one-destination sets over exporters, over W"},
    {"only_share", K_ONLY, ONE_DEST, 1, 0, "fraction", TM_STATS_POINTS,
     "share of exporters serving the destination and no other", "firms in the set {DEST} over exporters, over W"},
    {"market_persistence", K_MARKET_PERSISTENCE, ONE_DEST, 1, 0, "fraction", TM_STATS_POINTS,
     "annual probability that a firm serving the destination still serves it",
     "(1 - exiters / firms serving DEST the period before)^periods_per_year, both summed over the periods of W "
     "whose period before is known"},
    {"exporter_persistence", K_EXPORTER_PERSISTENCE, NO_DEST, 0, 1, "fraction", TM_STATS_POINTS,
     "annual probability that an exporter still exports (firm level; deaths count as exits)",
     "(exporters still exporting / exporters a period before)^periods_per_year, firm by firm, summed over W"},
    {"top1_share", K_TOP1, NO_DEST, 0, 1, "fraction", TM_STATS_POINTS,
     "share of export value of the largest 1% of exporters, every sector and destination pooled",
     "firms ranked by their exports to every destination; mean over the periods of W"},
    {"top10_share", K_TOP10, NO_DEST, 0, 1, "fraction", TM_STATS_POINTS,
     "share of export value of the largest 10% of exporters, every sector and destination pooled",
     "as top1_share; `/series/top10_share` is the same statistic within one sector and destination"},
    {"top01_share", K_TOP01, NO_DEST, 0, 1, "fraction", TM_STATS_POINTS,
     "share of export value of the largest 0.1% of exporters, every sector and destination pooled", "as top1_share"},
    {"largest_share", K_LARGEST, NO_DEST, 0, 1, "fraction", TM_STATS_POINTS,
     "share of export value of the largest exporter", "as top1_share, for the single largest exporter"},
    {"spell_median", K_SPELL_MEDIAN, NO_DEST, 0, 1, "years", TM_STATS_DIFFERENCE,
     "median length of the completed export spells of new exporters, in calendar years (a firm exports in a year "
     "if it serves a destination in any period of it)",
     "spells that end in W (a year without exports, or a death) and began after the run's first year, from the "
     "firm histories kept since the burn-in began; each whole year's share spread evenly over the year around it, "
     "so a median of L whole years in the data is a value in (L - 1/2, L + 1/2]"},
    {"established_continuation", K_CONTINUATION, NO_DEST, 0, 1, "fraction", TM_STATS_POINTS,
     "annual probability that a firm that exported in each of the two years before a year exports in it",
     "over the calendar years ending in W, from the firm histories; deaths count as stopping"},
    {"entrant_size", K_ENTRANT_SIZE, NO_DEST, 0, 1, "fraction", TM_STATS_POINTS,
     "mean export value of new exporters (exporting in a year, not in the year before) in that year over that of "
     "firms exporting in the year and the year before",
     "over the calendar years wholly in W"},
};
#define N_TABLE ((int)(sizeof table / sizeof table[0]))

void tm_stats_outcome_table(FILE *out)
{
    fprintf(out, "| name | qualifiers | units | effect in comparisons | definition | computed over the window W |\n");
    fprintf(out, "|---|---|---|---|---|---|\n");
    for (int i = 0; i < N_TABLE; i++) {
        const struct entry *e = &table[i];
        char q[64];
        snprintf(q, sizeof q, "%s%s",
                 e->dest == ONE_DEST   ? ".DEST"
                 : e->dest == ANY_DEST ? "[.DEST]"
                                       : "",
                 e->sector == 2 ? ".SECTOR"
                 : e->sector    ? "[.SECTOR]"
                                : "");
        fprintf(out, "| `%s` | %s | %s | %s | %s%s | %s |\n", e->name, q[0] ? q : "none", e->units,
                e->effect == TM_STATS_POINTS    ? "percentage points"
                : e->effect == TM_STATS_PERCENT ? "percent"
                                                : "difference",
                e->description, e->firm_level ? " (calibration only)" : "", e->computed);
    }
}

/* ------------------------------------------------------------------------
 * Names
 * ---------------------------------------------------------------------- */

int tm_stats_us_index(const char *const *dests, int n_dest)
{
    for (int d = 0; d < n_dest; d++)
        if (strcmp(dests[d], "US") == 0)
            return d;
    return 0;
}

static int find_entry(const char *root)
{
    for (int i = 0; i < N_TABLE; i++)
        if (strcmp(table[i].name, root) == 0)
            return i;
    return -1;
}

static int same_lower(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i]))
            return 0;
    return 1;
}

/* The destination spelled `s` (n bytes) in any case, written to `out`:
 * with a shape, one of its destinations; without one (a sweep file read
 * before its base), the text as written when `as_written`, else only US. */
static int old_dest(const tm_stats_shape *shape, const char *s, size_t n, int as_written, char *out, size_t size)
{
    for (int d = 0; shape && d < shape->n_dest; d++)
        if (strlen(shape->dests[d]) == n && same_lower(shape->dests[d], s, n)) {
            snprintf(out, size, "%s", shape->dests[d]);
            return 1;
        }
    if (shape || n == 0)
        return 0;
    if (as_written) {
        for (size_t i = 0; i < n; i++)
            if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
                return 0;
        snprintf(out, size, "%.*s", (int)n, s);
        return 1;
    }
    if (n == 2 && same_lower(s, "us", 2)) {
        snprintf(out, size, "US");
        return 1;
    }
    return 0;
}

/* The name that replaces one of the older vocabulary (sweep outcomes
 * exports_US, calibration moments us_share.energy, comparison measures
 * us_exports_change_pct), or 0 if `name` is not one. */
static int older_name(const char *name, const tm_stats_shape *shape, char *buf, size_t size)
{
    static const struct {
        const char *old, *now;
    } fixed[] = {
        {"exports_total", "export_value"},
        {"exports", "export_value"},
        {"non_us_exports", "non_us_export_value"},
        {"non_us_exports_change_pct", "non_us_export_value"},
        {"entries_change", "entrants"},
        {"exits_change", "exiters"},
    };
    /* ROOT_DEST (sweeps) and dest_ROOT (calibration, comparisons). */
    static const struct {
        const char *affix, *now;
    } prefixed[] =
        {
            {"exports_", "export_value"}, {"exporters_", "firms_serving"}, {"entrants_", "entrants"},
            {"exiters_", "exiters"},      {"tariff_paid_", "tariff_paid"},
        },
      suffixed[] = {
          {"_share_change_pp", "export_share"}, {"_exports_change_pct", "export_value"},
          {"_only_share", "only_share"},        {"_persistence", "market_persistence"},
          {"_exports", "export_value"},         {"_weight", "export_weight"},
          {"_share", "export_share"},
      };
    const char *dot = strchr(name, '.');
    size_t len = dot ? (size_t)(dot - name) : strlen(name);
    const char *rest = dot ? dot : "";
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (strlen(fixed[i].old) == len && strncmp(name, fixed[i].old, len) == 0) {
            snprintf(buf, size, "%s%s", fixed[i].now, rest);
            return 1;
        }
    for (size_t i = 0; i < sizeof prefixed / sizeof prefixed[0]; i++) {
        size_t a = strlen(prefixed[i].affix);
        char dest[64];
        if (len > a && strncmp(name, prefixed[i].affix, a) == 0 &&
            old_dest(shape, name + a, len - a, 1, dest, sizeof dest)) {
            snprintf(buf, size, "%s.%s%s", prefixed[i].now, dest, rest);
            return 1;
        }
    }
    for (size_t i = 0; i < sizeof suffixed / sizeof suffixed[0]; i++) {
        size_t a = strlen(suffixed[i].affix);
        char dest[64];
        if (len > a && strncmp(name + len - a, suffixed[i].affix, a) == 0 &&
            old_dest(shape, name, len - a, 0, dest, sizeof dest)) {
            snprintf(buf, size, "%s.%s%s", suffixed[i].now, dest, rest);
            return 1;
        }
    }
    return 0;
}

static void list_names(char *buf, size_t size, const char *const *names, int n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", names[i]);
}

static int unknown_root(const char *name, const tm_stats_shape *shape, tm_error *err)
{
    char now[TM_STATS_NAME_MAX + 32], roots[700];
    const char *names[N_TABLE];
    for (int i = 0; i < N_TABLE; i++)
        names[i] = table[i].name;
    list_names(roots, sizeof roots, names, N_TABLE);
    if (older_name(name, shape, now, sizeof now))
        return tm_error_set(err, TM_ERR_INPUT,
                            "outcome `%s` is a name of the older vocabulary; did you mean `%s`? (docs/statistics.md)",
                            name, now);
    return tm_error_set(err, TM_ERR_INPUT,
                        "unknown outcome `%s`; expected ROOT[.DEST][.SECTOR] with ROOT one of: %s (docs/statistics.md)",
                        name, roots);
}

/* A qualifier that fits no slot of the entry: say what would. */
static int bad_qualifier(const char *name, const char *q, const struct entry *e, const tm_stats_shape *shape,
                         tm_error *err)
{
    if (e->dest == NO_DEST && !e->sector)
        return tm_error_set(err, TM_ERR_INPUT, "outcome `%s`: %s takes no destination or sector", name, e->name);
    char dests[400], sectors[600], expect[1100];
    list_names(dests, sizeof dests, shape->dests, shape->n_dest);
    list_names(sectors, sizeof sectors, shape->sectors, shape->n_sectors);
    snprintf(expect, sizeof expect, "%s%s%s%s", e->dest != NO_DEST ? "destinations: " : "",
             e->dest != NO_DEST ? dests : "",
             e->dest != NO_DEST && e->sector ? "; sectors, after the destination: "
             : e->sector                     ? "sectors: "
                                             : "",
             e->sector ? sectors : "");
    return tm_error_set(err, TM_ERR_INPUT, "outcome `%s`: `%s` is not a %s of these parameters (%s)", name, q,
                        e->dest != NO_DEST && e->sector ? "destination or sector"
                        : e->sector                     ? "sector"
                                                        : "destination",
                        expect);
}

int tm_stats_outcome_parse(const char *name, const tm_stats_shape *shape, tm_stats_outcome *out, tm_error *err)
{
    memset(out, 0, sizeof *out);
    out->dest = out->sector = -1;
    size_t len = strlen(name);
    if (len == 0 || len >= sizeof out->name)
        return tm_error_set(err, TM_ERR_INPUT, "outcome name `%s`: expected 1 to %d characters", name,
                            TM_STATS_NAME_MAX - 1);
    memcpy(out->name, name, len + 1);
    char buf[TM_STATS_NAME_MAX];
    memcpy(buf, name, len + 1);
    char *seg[4];
    int n = 0;
    for (char *p = buf; p && n < 4;) {
        seg[n++] = p;
        char *dot = strchr(p, '.');
        if (dot)
            *dot++ = '\0';
        p = dot;
    }
    out->entry = find_entry(seg[0]);
    if (out->entry < 0)
        return unknown_root(name, shape, err);
    const struct entry *e = &table[out->entry];
    int max_q = (e->dest != NO_DEST) + (e->sector != 0);
    if (n - 1 > max_q || strchr(name, '.') == name + len - 1 || strstr(name, ".."))
        return tm_error_set(err, TM_ERR_INPUT, "outcome `%s`: %s takes %s", name, e->name,
                            max_q == 0   ? "no qualifier"
                            : max_q == 2 ? "at most a destination and a sector (ROOT.DEST.SECTOR)"
                            : e->sector  ? "at most a sector (ROOT.SECTOR)"
                                         : "one destination (ROOT.DEST)");
    if (e->firm_level && shape && !shape->firm_level)
        return tm_error_set(err, TM_ERR_INPUT,
                            "outcome `%s` is computed firm by firm, from a run in memory: it is a calibration "
                            "moment, not available from run files",
                            name);
    if (!shape)
        return 0;
    for (int i = 1; i < n; i++) {
        int found = 0;
        for (int d = 0; d < shape->n_dest && e->dest != NO_DEST && out->dest < 0 && out->sector < 0 && !found; d++)
            if (strcmp(seg[i], shape->dests[d]) == 0) {
                out->dest = d;
                found = 1;
            }
        for (int s = 0; s < shape->n_sectors && e->sector && out->sector < 0 && !found; s++)
            if (strcmp(seg[i], shape->sectors[s]) == 0) {
                out->sector = s;
                found = 1;
            }
        if (!found)
            return bad_qualifier(name, seg[i], e, shape, err);
    }
    if (e->dest == ONE_DEST && out->dest < 0) {
        char dests[400];
        list_names(dests, sizeof dests, shape->dests, shape->n_dest);
        return tm_error_set(err, TM_ERR_INPUT,
                            "outcome `%s`: %s needs a destination first, %s.DEST with DEST one of: %s", name, e->name,
                            e->name, dests);
    }
    if (e->sector == 2 && out->sector < 0) {
        char sectors[400];
        list_names(sectors, sizeof sectors, shape->sectors, shape->n_sectors);
        return tm_error_set(err, TM_ERR_INPUT, "outcome `%s`: %s needs a sector, %s.SECTOR with SECTOR one of: %s",
                            name, e->name, e->name, sectors);
    }
    return 0;
}

const char *tm_stats_outcome_units(const tm_stats_outcome *o)
{
    return table[o->entry].units;
}

tm_stats_effect_kind tm_stats_outcome_effect(const tm_stats_outcome *o)
{
    return table[o->entry].effect;
}

const char *tm_stats_effect_units(const tm_stats_outcome *o)
{
    tm_stats_effect_kind k = table[o->entry].effect;
    return k == TM_STATS_POINTS ? "percentage points" : k == TM_STATS_PERCENT ? "percent" : table[o->entry].units;
}

double tm_stats_effect(const tm_stats_outcome *o, double base, double scenario)
{
    switch (table[o->entry].effect) {
    case TM_STATS_POINTS:
        return 100.0 * (scenario - base);
    case TM_STATS_PERCENT:
        return base > 0 ? 100.0 * (scenario / base - 1.0) : NAN;
    default:
        return scenario - base;
    }
}

void tm_stats_outcome_describe(const tm_stats_outcome *o, const tm_stats_shape *shape, char *buf, size_t size)
{
    const char *dest = o->dest >= 0 && shape ? shape->dests[o->dest] : NULL;
    const char *sector = o->sector >= 0 && shape ? shape->sectors[o->sector] : NULL;
    snprintf(buf, size, "%s%s%s%s%s%s%s%s", table[o->entry].description, dest || sector ? " (" : "",
             dest ? "destination " : "", dest ? dest : "", dest && sector ? ", " : "", sector ? "sector " : "",
             sector ? sector : "", dest || sector ? ")" : "");
}

/* ------------------------------------------------------------------------
 * Windows
 * ---------------------------------------------------------------------- */

struct tm_stats_window {
    int n_sectors, n_dest, n_sets, us, periods_per_year;
    int periods;
    double *export_value, *firms_serving, *entrants, *exiters, *tariff_paid; /* [s * n_dest + d] sums */
    double *firms_by_set;                                                    /* [s * n_sets + S] */
    double *serving_before, *exits_after; /* over periods whose period before is known */
    double exporters_before, continued;
    double top1_sum, top10_sum, top01_sum, largest_sum;
    tm_stats_years years;
    int top_periods, firm_periods;
};

void tm_stats_window_close(tm_stats_window *w)
{
    if (!w)
        return;
    free(w->export_value);
    free(w);
}

int tm_stats_window_open(const tm_stats_shape *shape, int periods_per_year, tm_stats_window **out, tm_error *err)
{
    *out = NULL;
    tm_stats_window *w = calloc(1, sizeof *w);
    if (!w)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    w->n_sectors = shape->n_sectors;
    w->n_dest = shape->n_dest;
    w->n_sets = 1 << shape->n_dest;
    w->us = shape->us;
    w->periods_per_year = periods_per_year;
    /* One block: seven [S x D] arrays and the [S x sets] one. */
    size_t sd = (size_t)w->n_sectors * (size_t)w->n_dest, ss = (size_t)w->n_sectors * (size_t)w->n_sets;
    w->export_value = calloc(7 * sd + ss, sizeof(double));
    if (!w->export_value) {
        free(w);
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    }
    w->firms_serving = w->export_value + sd;
    w->entrants = w->firms_serving + sd;
    w->exiters = w->entrants + sd;
    w->tariff_paid = w->exiters + sd;
    w->serving_before = w->tariff_paid + sd;
    w->exits_after = w->serving_before + sd;
    w->firms_by_set = w->exits_after + sd;
    *out = w;
    return 0;
}

void tm_stats_window_clear(tm_stats_window *w)
{
    size_t sd = (size_t)w->n_sectors * (size_t)w->n_dest, ss = (size_t)w->n_sectors * (size_t)w->n_sets;
    memset(w->export_value, 0, (7 * sd + ss) * sizeof(double));
    w->periods = w->top_periods = w->firm_periods = 0;
    w->exporters_before = w->continued = w->top1_sum = w->top10_sum = w->top01_sum = w->largest_sum = 0;
    memset(&w->years, 0, sizeof w->years);
}

void tm_stats_window_add(tm_stats_window *w, const tm_stats_period *p)
{
    size_t sd = (size_t)w->n_sectors * (size_t)w->n_dest, ss = (size_t)w->n_sectors * (size_t)w->n_sets;
    for (size_t k = 0; k < sd; k++) {
        w->export_value[k] += p->export_value[k];
        w->firms_serving[k] += p->firms_serving[k];
        w->entrants[k] += p->entrants[k];
        w->exiters[k] += p->exiters[k];
        w->tariff_paid[k] += p->tariff_paid[k];
        if (p->serving_before) {
            w->serving_before[k] += p->serving_before[k];
            w->exits_after[k] += p->exiters[k];
        }
    }
    for (size_t k = 0; k < ss; k++)
        w->firms_by_set[k] += p->firms_by_set[k];
    w->periods++;
}

void tm_stats_window_add_firms(tm_stats_window *w, const tm_stats_firm_period *f)
{
    w->exporters_before += f->exporters_before;
    w->continued += f->continued;
    w->firm_periods++;
    if (isfinite(f->top1) && isfinite(f->top10) && isfinite(f->top01) && isfinite(f->largest)) {
        w->top1_sum += f->top1;
        w->top10_sum += f->top10;
        w->top01_sum += f->top01;
        w->largest_sum += f->largest;
        w->top_periods++;
    }
}

void tm_stats_window_set_years(tm_stats_window *w, const tm_stats_years *y)
{
    w->years = *y;
}

double tm_stats_median_spell(const tm_stats_years *y)
{
    double total = 0.0;
    for (int L = 1; L < TM_STATS_SPELL_YEARS; L++)
        total += y->spells[L];
    if (!(total > 0.0))
        return NAN;
    /* Whole years L carry their share evenly over (L - 1/2, L + 1/2]. */
    double below = 0.0;
    for (int L = 1; L < TM_STATS_SPELL_YEARS; L++) {
        double share = y->spells[L] / total;
        if (share > 0.0 && below + share >= 0.5)
            return L - 0.5 + (0.5 - below) / share;
        below += share;
    }
    return TM_STATS_SPELL_YEARS - 1.5;
}

static double ratio(double a, double b)
{
    return b > 0 ? a / b : NAN;
}

double tm_stats_outcome_value(const tm_stats_window *w, const tm_stats_outcome *o)
{
    const int D = w->n_dest, NS = w->n_sets;
    /* The sector of an `_except` name is the one left out of every sector. */
    const outcome_kind kind = table[o->entry].kind;
    int except = kind == K_NON_US_EXCEPT || kind == K_EXPORT_VALUE_EXCEPT ? o->sector : -1;
    int s0 = o->sector < 0 || except >= 0 ? 0 : o->sector;
    int s1 = o->sector < 0 || except >= 0 ? w->n_sectors : o->sector + 1;
    /* Sums over the selected sectors, in sector then destination order. */
    double slots = 0, exporters = 0, single = 0, only = 0;
    double all = 0, non_us = 0, to_dest = 0, exits = 0, before = 0, picked = 0;
    const double *series = NULL;
    switch (table[o->entry].kind) {
    case K_FIRMS_SERVING:
        series = w->firms_serving;
        break;
    case K_ENTRANTS:
        series = w->entrants;
        break;
    case K_EXITERS:
        series = w->exiters;
        break;
    case K_TARIFF_PAID:
        series = w->tariff_paid;
        break;
    default:
        series = w->export_value;
        break;
    }
    for (int s = s0; s < s1; s++) {
        if (s == except)
            continue;
        const double *by_set = w->firms_by_set + (size_t)s * (size_t)NS;
        for (int S = 0; S < NS; S++) {
            slots += by_set[S];
            if (S == 0)
                continue;
            exporters += by_set[S];
            if ((S & (S - 1)) == 0)
                single += by_set[S];
            if (o->dest >= 0 && S == 1 << o->dest)
                only += by_set[S];
        }
        for (int d = 0; d < D; d++) {
            size_t c = (size_t)s * (size_t)D + (size_t)d;
            all += w->export_value[c];
            if (d != w->us)
                non_us += w->export_value[c];
            if (o->dest < 0 || d == o->dest)
                picked += series[c];
            if (d == o->dest) {
                to_dest += w->export_value[c];
                exits += w->exits_after[c];
                before += w->serving_before[c];
            }
        }
    }
    double periods = w->periods > 0 ? (double)w->periods : NAN;
    double ppy = (double)w->periods_per_year;
    switch (table[o->entry].kind) {
    case K_EXPORT_VALUE:
    case K_FIRMS_SERVING:
    case K_ENTRANTS:
    case K_EXITERS:
    case K_TARIFF_PAID:
        return picked / periods;
    case K_EXPORT_SHARE:
        return ratio(to_dest, all);
    case K_NON_US_SHARE:
        return ratio(non_us, all);
    case K_NON_US_EXPORT_VALUE:
    case K_NON_US_EXCEPT:
        return non_us / periods;
    case K_EXPORT_VALUE_EXCEPT:
        return all / periods;
    case K_EXPORT_WEIGHT: {
        double total = 0; /* every sector and destination */
        for (size_t c = 0; c < (size_t)w->n_sectors * (size_t)D; c++)
            total += w->export_value[c];
        return ratio(to_dest, total);
    }
    case K_EXPORTERS:
        return exporters / periods;
    case K_PARTICIPATION:
        return ratio(exporters, slots);
    case K_SINGLE:
        return ratio(single, exporters);
    case K_ONLY:
        return ratio(only, exporters);
    case K_MARKET_PERSISTENCE:
        return pow(1.0 - ratio(exits, before), ppy);
    case K_EXPORTER_PERSISTENCE:
        return w->firm_periods ? pow(ratio(w->continued, w->exporters_before), ppy) : NAN;
    case K_TOP1:
        return w->top_periods ? w->top1_sum / w->top_periods : NAN;
    case K_TOP10:
        return w->top_periods ? w->top10_sum / w->top_periods : NAN;
    case K_TOP01:
        return w->top_periods ? w->top01_sum / w->top_periods : NAN;
    case K_LARGEST:
        return w->top_periods ? w->largest_sum / w->top_periods : NAN;
    case K_SPELL_MEDIAN:
        return tm_stats_median_spell(&w->years);
    case K_CONTINUATION:
        return ratio(w->years.continuing, w->years.established);
    case K_ENTRANT_SIZE:
        return ratio(ratio(w->years.new_value, w->years.new_exporters),
                     ratio(w->years.old_value, w->years.old_exporters));
    }
    return NAN;
}
