#include "experiments/moments.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/stats.h"
#include "engine/economy.h"
#include "experiments/exporter_years.h"
#include "experiments/outcomes.h"

/* The period's counts as doubles (the window's one type), the firm
 * serving counts of the period before, and the firm-level state. */
struct tm_moments {
    const tm_params *p;
    tm_outcomes names;
    tm_stats_window *window;
    int n_sectors, n_dest, n_sets;
    double *serving, *entrants, *exiters, *by_set, *before; /* one block */
    int have_prev;
    uint8_t **prev_markets;   /* [s][firm] of the previous step */
    tm_exporter_years *years; /* firm histories by calendar year, from the first burn-in period */
    int exact;                /* run.aggregation: exact: expected numbers of firms, no firm-level state */
    int fractional;           /* counts are not whole numbers (exact, or run.resolution > 1) */
    tm_stats_cell *pool;      /* exporters by (type, productivity, market state) */
    double *cell_count;       /* [n_types * n_z * n_states] of one sector */
    size_t max_cells;
};

void tm_moments_close(tm_moments *m)
{
    if (!m)
        return;
    tm_stats_window_close(m->window);
    tm_exporter_years_close(m->years);
    tm_outcomes_free(&m->names);
    free(m->serving);
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
    tm_moments *m = calloc(1, sizeof *m);
    if (!m)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    m->p = p;
    m->n_sectors = p->n_sectors;
    m->n_dest = p->n_dest;
    m->n_sets = tm_n_sets(p->n_dest);
    /* With exact aggregation there are no firms to follow: the outcomes
     * of the expected numbers of firms only (firm-level names are refused). */
    m->exact = p->exact;
    m->fractional = tm_params_fractional_counts(p);
    if (tm_outcomes_init(&m->names, p, !p->exact, err) ||
        tm_stats_window_open(&m->names.shape, p->periods_per_year, &m->window, err) ||
        (!p->exact && tm_exporter_years_open(p, &m->years, err))) {
        tm_moments_close(m);
        return -1;
    }
    size_t sd = (size_t)p->n_sectors * (size_t)p->n_dest, ss = (size_t)p->n_sectors * (size_t)m->n_sets;
    m->serving = calloc(4 * sd + ss, sizeof(double));
    m->prev_markets = calloc((size_t)p->n_sectors, sizeof(uint8_t *));
    m->max_cells = p->exact ? 1
                            : (size_t)p->n_sectors * (size_t)p->grid_points * (size_t)tm_params_n_states(p) *
                                  (size_t)p->n_types;
    m->pool = malloc(m->max_cells * sizeof *m->pool);
    m->cell_count = malloc(m->max_cells * sizeof(double));
    int ok = m->serving && m->prev_markets && m->pool && m->cell_count;
    for (int s = 0; ok && !p->exact && s < p->n_sectors; s++)
        ok = (m->prev_markets[s] = malloc((size_t)tm_params_slots(p, s))) != NULL;
    if (!ok) {
        tm_moments_close(m);
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory for the moments");
    }
    m->entrants = m->serving + sd;
    m->exiters = m->entrants + sd;
    m->before = m->exiters + sd;
    m->by_set = m->before + sd;
    *out = m;
    return 0;
}

/* Exporters of sector s by (type, productivity, market state), appended to
 * the pool as cells of equal export value (revenue summed over the markets
 * each serves) for the pooled top shares; a slot counts 1 / run.resolution
 * of a firm, so the largest firm's share is that of the top firm's mass. */
static size_t pool_exporters(tm_moments *m, const tm_run *run, int s, size_t n_cells)
{
    const int n_dest = m->n_dest, n_z = tm_run_grid_size(run);
    const int N = tm_run_n_states(run), n_types = tm_run_n_types(run);
    const int64_t firms = tm_params_slots(m->p, s);
    const uint8_t *mk = tm_run_firm_markets(run, s), *ty = tm_run_firm_type(run, s);
    const uint16_t *zs = tm_run_firm_z(run, s);
    double *count = m->cell_count;
    /* Cells [(type * n_z + z) * n_states + state], as the revenue table. */
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
            c *= tm_params_slot_weight(m->p);
            double v = 0;
            for (int d = 0; d < n_dest; d++)
                v += rev[((size_t)iz * (size_t)N + (size_t)S) * (size_t)n_dest + (size_t)d];
            m->pool[n_cells].value = v;
            m->pool[n_cells].count = c;
            n_cells++;
        }
    return n_cells;
}

void tm_moments_observe(tm_moments *m, const tm_run *run)
{
    const tm_period_result *r = tm_run_result(run);
    const size_t sd = (size_t)m->n_sectors * (size_t)m->n_dest, ss = (size_t)m->n_sectors * (size_t)m->n_sets;
    if (m->years)
        tm_exporter_years_observe(m->years, run);
    if (r->period < -1)
        return;
    /* The counts as doubles: the expected numbers of firms when exact,
     * slots weighted by 1 / run.resolution. */
    for (size_t k = 0; k < sd; k++)
        m->serving[k] = m->fractional ? r->x_serving[k] : (double)r->serving[k];
    if (r->period >= 0) {
        for (size_t k = 0; k < sd; k++) {
            m->entrants[k] = m->fractional ? r->x_entrants[k] : (double)r->entrants[k];
            m->exiters[k] = m->fractional ? r->x_exiters[k] : (double)r->exiters[k];
        }
        for (size_t k = 0; k < ss; k++)
            m->by_set[k] = m->fractional ? r->x_firms_by_set[k] : (double)r->firms_by_set[k];
        tm_stats_period period = {r->export_value,
                                  m->serving,
                                  m->entrants,
                                  m->exiters,
                                  r->tariff_paid,
                                  m->by_set,
                                  m->have_prev ? m->before : NULL};
        tm_stats_window_add(m->window, &period);
    }
    if (r->period >= 0 && !m->exact) {
        /* Firm-level persistence: exporters of the previous period whose
         * slot did not die and who still serve some market. */
        double before = 0, kept = 0;
        size_t n_cells = 0;
        for (int s = 0; s < m->n_sectors; s++) {
            const int64_t firms = tm_params_slots(m->p, s);
            const uint8_t *mk = tm_run_firm_markets(run, s), *pm = m->prev_markets[s];
            for (int64_t i = 0; m->have_prev && i < firms; i++)
                if (pm[i] & TM_SET_MASK) {
                    before++;
                    if (!(mk[i] & TM_BORN_BIT) && (mk[i] & TM_SET_MASK))
                        kept++;
                }
            n_cells = pool_exporters(m, run, s, n_cells);
        }
        double exported = 0, firms = 0;
        for (size_t i = 0; i < n_cells; i++) {
            firms += m->pool[i].count;
            exported += m->pool[i].count * m->pool[i].value;
        }
        tm_stats_firm_period fp = {before,
                                   kept,
                                   tm_stats_top_share(m->pool, n_cells, 0.01, firms, exported),
                                   tm_stats_top_share(m->pool, n_cells, 0.10, firms, exported),
                                   tm_stats_top_share(m->pool, n_cells, 0.001, firms, exported),
                                   tm_stats_top_share(m->pool, n_cells, 1.0 / firms, firms, exported)};
        tm_stats_window_add_firms(m->window, &fp);
        tm_stats_window_set_years(m->window, tm_exporter_years_sums(m->years));
    }
    for (int s = 0; !m->exact && s < m->n_sectors; s++)
        memcpy(m->prev_markets[s], tm_run_firm_markets(run, s), (size_t)tm_params_slots(m->p, s));
    memcpy(m->before, m->serving, sd * sizeof(double));
    m->have_prev = 1;
}

int tm_moments_value(const tm_moments *m, const char *name, double *value, tm_error *err)
{
    tm_stats_outcome o;
    if (tm_outcomes_parse(&m->names, name, &o, err))
        return -1;
    *value = tm_stats_outcome_value(m->window, &o);
    return 0;
}

int tm_moments_check_name(const tm_params *p, const char *name, tm_error *err)
{
    tm_outcomes names;
    tm_stats_outcome o;
    if (tm_outcomes_init(&names, p, !p->exact, err))
        return -1;
    int rc = tm_outcomes_parse(&names, name, &o, err);
    tm_outcomes_free(&names);
    return rc;
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
