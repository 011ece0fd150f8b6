#include "experiments/exporter_years.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Bits of a firm's record. */
enum {
    EXPORTED_THIS_YEAR = 1u, /* served a destination in a period of the current year */
    EXPORTED_LAST_YEAR = 2u,
    EXPORTED_YEAR_BEFORE = 4u,
    SPELL_CENSORED = 8u, /* the current spell began in the first year of the run */
};

typedef struct {
    uint8_t *flags;
    uint16_t *spell; /* whole calendar years of the current spell before this one */
    double *value;   /* export value this year (wholly logged years only) */
} sector_years;

struct tm_exporter_years {
    const tm_params *p;
    sector_years *sec;
    int observed;  /* periods seen */
    int year_ends; /* year ends seen */
    tm_stats_years sums;
};

void tm_exporter_years_close(tm_exporter_years *y)
{
    if (!y)
        return;
    for (int s = 0; y->sec && s < y->p->n_sectors; s++) {
        free(y->sec[s].flags);
        free(y->sec[s].spell);
        free(y->sec[s].value);
    }
    free(y->sec);
    free(y);
}

int tm_exporter_years_open(const tm_params *p, tm_exporter_years **out, tm_error *err)
{
    *out = NULL;
    if (p->exact)
        return tm_error_set(err, TM_ERR_INPUT,
                            "run.aggregation: export histories by year need simulated firms; "
                            "use run.aggregation: firms");
    tm_exporter_years *y = calloc(1, sizeof *y);
    if (!y)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    y->p = p;
    y->sec = calloc((size_t)p->n_sectors, sizeof *y->sec);
    int ok = y->sec != NULL;
    for (int s = 0; ok && s < p->n_sectors; s++) {
        size_t n = (size_t)tm_params_slots(p, s);
        y->sec[s].flags = calloc(n, 1);
        y->sec[s].spell = calloc(n, sizeof(uint16_t));
        y->sec[s].value = calloc(n, sizeof(double));
        ok = y->sec[s].flags && y->sec[s].spell && y->sec[s].value;
    }
    if (!ok) {
        tm_exporter_years_close(y);
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory for the export histories");
    }
    *out = y;
    return 0;
}

const tm_stats_years *tm_exporter_years_sums(const tm_exporter_years *y)
{
    return &y->sums;
}

static void count_spell(tm_stats_years *sums, unsigned years)
{
    sums->spells[years < TM_STATS_SPELL_YEARS ? years : TM_STATS_SPELL_YEARS - 1] += 1.0;
}

/* The firm in slot i died at the start of this period (logged or not): its
 * year ends early, and so does its spell. */
static void firm_died(tm_exporter_years *y, sector_years *sy, int64_t i, int logged)
{
    unsigned f = sy->flags[i], spell = sy->spell[i];
    int exported = (f & EXPORTED_THIS_YEAR) != 0;
    if (logged) {
        tm_stats_years *sums = &y->sums;
        if ((f & EXPORTED_LAST_YEAR) && (f & EXPORTED_YEAR_BEFORE)) {
            sums->established += 1.0;
            sums->continuing += exported;
        }
        unsigned years = spell + (unsigned)exported;
        int censored = (f & SPELL_CENSORED) || (spell == 0 && y->year_ends == 0);
        if (years > 0 && !censored)
            count_spell(sums, years);
    }
    sy->flags[i] = 0;
    sy->spell[i] = 0;
    sy->value[i] = 0.0;
}

/* The last period of a calendar year: histories move on by one year. */
static void year_end(tm_exporter_years *y, sector_years *sy, int64_t firms, int logged, int whole_year)
{
    tm_stats_years *sums = &y->sums;
    for (int64_t i = 0; i < firms; i++) {
        unsigned f = sy->flags[i], spell = sy->spell[i];
        int exported = (f & EXPORTED_THIS_YEAR) != 0;
        if (logged && (f & EXPORTED_LAST_YEAR) && (f & EXPORTED_YEAR_BEFORE)) {
            sums->established += 1.0;
            sums->continuing += exported;
        }
        if (exported) {
            if (spell == 0) {
                if (y->year_ends == 0)
                    f |= SPELL_CENSORED;
                if (whole_year) {
                    sums->new_exporters += 1.0;
                    sums->new_value += sy->value[i];
                }
            } else if (whole_year) {
                sums->old_exporters += 1.0;
                sums->old_value += sy->value[i];
            }
            if (spell < UINT16_MAX)
                spell++;
        } else if (spell > 0) {
            if (logged && !(f & SPELL_CENSORED))
                count_spell(sums, spell);
            spell = 0;
            f &= ~(unsigned)SPELL_CENSORED;
        }
        sy->flags[i] = (uint8_t)((f & SPELL_CENSORED) | (exported ? EXPORTED_LAST_YEAR : 0u) |
                                 ((f & EXPORTED_LAST_YEAR) ? EXPORTED_YEAR_BEFORE : 0u));
        sy->spell[i] = (uint16_t)spell;
        sy->value[i] = 0.0;
    }
}

void tm_exporter_years_observe(tm_exporter_years *y, const tm_run *run)
{
    const tm_params *p = y->p;
    const int t = tm_run_period(run), ppy = p->periods_per_year;
    const int sub = ((p->start_index + t) % ppy + ppy) % ppy;
    const int logged = t >= 0, last_of_year = sub == ppy - 1;
    const int n_z = tm_run_grid_size(run), N = tm_run_n_states(run), D = p->n_dest;
    for (int s = 0; s < p->n_sectors; s++) {
        sector_years *sy = &y->sec[s];
        const int64_t firms = tm_params_slots(p, s);
        const uint8_t *mk = tm_run_firm_markets(run, s), *type = tm_run_firm_type(run, s);
        const uint16_t *z = tm_run_firm_z(run, s);
        const double *rev = tm_run_revenue_table(run, s);
        for (int64_t i = 0; i < firms; i++) {
            /* The first period's firms have no history to end. */
            if ((mk[i] & TM_BORN_BIT) && y->observed > 0)
                firm_died(y, sy, i, logged);
            int state = mk[i] & TM_SET_MASK;
            if (!state)
                continue;
            sy->flags[i] |= EXPORTED_THIS_YEAR;
            if (logged) {
                size_t row = (((size_t)(type ? type[i] : 0) * (size_t)n_z + z[i]) * (size_t)N + (size_t)state) *
                             (size_t)D;
                for (int d = 0; d < D; d++)
                    sy->value[i] += rev[row + (size_t)d];
            }
        }
        if (last_of_year)
            year_end(y, sy, firms, logged, logged && t >= ppy - 1);
    }
    if (last_of_year)
        y->year_ends++;
    y->observed++;
}
