#include "sim.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "economy.h"
#include "env.h"
#include "grid.h"
#include "model.h"
#include "policy.h"
#include "rng.h"

/* One sector's firms and tables. */
typedef struct {
    int64_t n;
    uint64_t *rng_state; /* PCG32 state per slot */
    uint16_t *z;         /* productivity grid index */
    uint8_t *markets;    /* market set (bits 0-5) and born flag (bit 7) */
    uint64_t inc_base;   /* odd; slot i's stream increment is inc_base + 2 i */
    double *z_grid;      /* [n_z] */
    double *P;           /* [n_z * n_z] */
    uint32_t *move_threshold, *move_alias; /* flattened alias tables, [n_z * n_z] */
    tm_alias entry;      /* entrants' productivity (the stationary law) */
    uint32_t death_threshold;
    double *flow, *revenue, *value;
    tm_policy policy;
} sector_state;

/* A block of consecutive slots of one sector. */
typedef struct {
    int sector;
    int64_t start, end;
} block;

/* Integer accumulators of one thread (counts add exactly in any order). */
typedef struct {
    uint32_t *hist;  /* [s][z * n_sets + S] firms after the decision */
    uint32_t *trans; /* [s][prev * n_sets + S] survivors' and entrants' moves */
    uint32_t *died;  /* [s][S] market set of firms that died */
} accum;

struct tm_run {
    const tm_params *p;
    const tm_model_ops *model;
    void *model_state;
    tm_env env;
    tm_profit_fn profit;
    int n_z, n_sets, n_dest, n_sectors;
    int threads;
    sector_state *sec;
    block *blocks;
    size_t n_blocks;
    accum *acc; /* [threads] */
    size_t hist_cells, trans_cells;
    int period; /* last computed */
    int started;
    double *share_serving; /* [s * n_dest] previous period's share serving d */
    int us_index;
    tm_period_result res;
};

static void sector_free(sector_state *s)
{
    free(s->rng_state);
    free(s->z);
    free(s->markets);
    free(s->z_grid);
    free(s->P);
    free(s->move_threshold);
    free(s->move_alias);
    tm_alias_free(&s->entry);
    free(s->flow);
    free(s->revenue);
    free(s->value);
    tm_policy_free(&s->policy);
}

void tm_run_close(tm_run *run)
{
    if (!run)
        return;
    if (run->model && run->model_state)
        run->model->free(run->model_state);
    for (int s = 0; run->sec && s < run->n_sectors; s++)
        sector_free(&run->sec[s]);
    free(run->sec);
    free(run->blocks);
    for (int t = 0; run->acc && t < run->threads; t++) {
        free(run->acc[t].hist);
        free(run->acc[t].trans);
        free(run->acc[t].died);
    }
    free(run->acc);
    free(run->share_serving);
    tm_env_free(&run->env);
    tm_period_result *r = &run->res;
    free(r->serving);
    free(r->entrants);
    free(r->exiters);
    free(r->export_value);
    free(r->tariff_paid);
    free(r->mean_log_productivity);
    free(r->top10_share);
    free(r->tariff);
    free(r->firms_by_set);
    free(r->deaths);
    free(r->events);
    free(run);
}

static int sector_init(tm_run *run, int s, tm_error *err)
{
    const tm_params *p = run->p;
    const tm_sector *ps = &p->sector[s];
    sector_state *sec = &run->sec[s];
    int n_z = run->n_z;
    sec->n = ps->firms;
    sec->rng_state = malloc((size_t)sec->n * sizeof *sec->rng_state);
    sec->z = malloc((size_t)sec->n * sizeof *sec->z);
    sec->markets = malloc((size_t)sec->n);
    sec->z_grid = malloc((size_t)n_z * sizeof(double));
    sec->P = malloc((size_t)n_z * (size_t)n_z * sizeof(double));
    sec->move_threshold = malloc((size_t)n_z * (size_t)n_z * sizeof(uint32_t));
    sec->move_alias = malloc((size_t)n_z * (size_t)n_z * sizeof(uint32_t));
    size_t cells = (size_t)n_z * (size_t)run->n_sets;
    sec->flow = malloc(cells * sizeof(double));
    sec->revenue = malloc(cells * (size_t)run->n_dest * sizeof(double));
    sec->value = malloc(cells * (size_t)run->n_sets * sizeof(double));
    double *stationary = malloc((size_t)n_z * sizeof(double));
    if (!sec->rng_state || !sec->z || !sec->markets || !sec->z_grid || !sec->P || !sec->move_threshold ||
        !sec->move_alias || !sec->flow || !sec->revenue || !sec->value || !stationary ||
        tm_policy_alloc(&sec->policy, n_z, run->n_sets, p->logit_scale > 0.0)) {
        free(stationary);
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory for sector %s (%lld firms)", ps->name,
                            (long long)ps->firms);
    }
    int rc = p->grid_method == TM_GRID_ROUWENHORST
                 ? tm_grid_rouwenhorst(n_z, ps->persistence, ps->volatility, sec->z_grid, sec->P)
                 : tm_grid_tauchen(n_z, ps->persistence, ps->volatility, p->tauchen_width, sec->z_grid, sec->P);
    if (rc == 0)
        rc = tm_grid_stationary(n_z, sec->P, stationary, 1e-13, 1000000);
    if (rc) {
        free(stationary);
        return tm_error_set(err, TM_ERR_INPUT, "sector %s: cannot discretise productivity (persistence %g, volatility %g)",
                            ps->name, ps->persistence, ps->volatility);
    }
    for (int i = 0; i < n_z; i++) {
        tm_alias row;
        if (tm_alias_init(&row, sec->P + (size_t)i * (size_t)n_z, (uint32_t)n_z)) {
            free(stationary);
            return tm_error_set(err, TM_ERR_RUNTIME, "sector %s: bad productivity transition row %d", ps->name, i);
        }
        memcpy(sec->move_threshold + (size_t)i * (size_t)n_z, row.threshold, (size_t)n_z * sizeof(uint32_t));
        memcpy(sec->move_alias + (size_t)i * (size_t)n_z, row.alias, (size_t)n_z * sizeof(uint32_t));
        tm_alias_free(&row);
    }
    rc = tm_alias_init(&sec->entry, stationary, (uint32_t)n_z);
    free(stationary);
    if (rc)
        return tm_error_set(err, TM_ERR_RUNTIME, "sector %s: bad stationary distribution", ps->name);
    sec->death_threshold = tm_rng_threshold(ps->death_rate);
    sec->inc_base = (tm_rng_mix(tm_rng_mix(p->seed, 0x696e63ULL), (uint64_t)s) << 1) | 1u;

    /* Initial population: the stationary law, serving no market. */
    int64_t n = sec->n;
#pragma omp parallel for schedule(static) num_threads(run->threads)
    for (int64_t i = 0; i < n; i++) {
        tm_pcg32 g;
        tm_rng_firm_stream(&g, p->seed, (uint32_t)s, (uint64_t)i);
        uint64_t inc = sec->inc_base + 2u * (uint64_t)i;
        sec->z[i] = (uint16_t)tm_alias_draw(&sec->entry, tm_pcg32_step(&g.state, inc));
        sec->rng_state[i] = g.state;
        sec->markets[i] = 0;
    }
    return 0;
}

static int alloc_results(tm_run *run)
{
    tm_period_result *r = &run->res;
    size_t sd = (size_t)run->n_sectors * (size_t)run->n_dest;
    r->serving = calloc(sd, sizeof(int64_t));
    r->entrants = calloc(sd, sizeof(int64_t));
    r->exiters = calloc(sd, sizeof(int64_t));
    r->export_value = calloc(sd, sizeof(double));
    r->tariff_paid = calloc(sd, sizeof(double));
    r->mean_log_productivity = calloc(sd, sizeof(double));
    r->top10_share = calloc(sd, sizeof(double));
    r->tariff = calloc(sd, sizeof(double));
    r->firms_by_set = calloc((size_t)run->n_sectors * (size_t)run->n_sets, sizeof(int64_t));
    r->deaths = calloc((size_t)run->n_sectors, sizeof(int64_t));
    r->events = calloc((size_t)(run->p->n_events ? run->p->n_events : 1), sizeof(int));
    run->share_serving = calloc(sd, sizeof(double));
    return r->serving && r->entrants && r->exiters && r->export_value && r->tariff_paid &&
                   r->mean_log_productivity && r->top10_share && r->tariff && r->firms_by_set && r->deaths &&
                   r->events && run->share_serving
               ? 0
               : -1;
}

int tm_run_open(const tm_params *p, const tm_run_options *opts, tm_run **out, tm_error *err)
{
    *out = NULL;
    tm_run *run = calloc(1, sizeof *run);
    if (!run)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    run->p = p;
    run->n_z = p->grid_points;
    run->n_dest = p->n_dest;
    run->n_sets = tm_n_sets(p->n_dest);
    run->n_sectors = p->n_sectors;
    run->threads = opts && opts->threads > 0 ? opts->threads : omp_get_max_threads();
    run->period = -p->burn_in - 1;
    run->us_index = 0;
    for (int d = 0; d < p->n_dest; d++)
        if (strcmp(p->dest[d].name, "US") == 0)
            run->us_index = d;
    tm_profit_fn_init(&run->profit, p->elasticity, p->capacity_elasticity);
    if (tm_env_init(&run->env, p, err))
        goto fail;
    run->model = tm_model_lookup(p->model);
    if (!run->model) {
        tm_error_set(err, TM_ERR_INPUT, "run.model: the %s model is not available in this build",
                     tm_model_name(p->model));
        goto fail;
    }
    if (run->model->init(p, &run->model_state, err))
        goto fail;
    run->sec = calloc((size_t)p->n_sectors, sizeof *run->sec);
    if (!run->sec || alloc_results(run)) {
        tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        goto fail;
    }
    size_t n_blocks = 0;
    for (int s = 0; s < p->n_sectors; s++)
        n_blocks += (size_t)((p->sector[s].firms + TM_BLOCK - 1) / TM_BLOCK);
    run->blocks = malloc(n_blocks * sizeof *run->blocks);
    run->acc = calloc((size_t)run->threads, sizeof *run->acc);
    if (!run->blocks || !run->acc) {
        tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        goto fail;
    }
    run->n_blocks = 0;
    for (int s = 0; s < p->n_sectors; s++)
        for (int64_t start = 0; start < p->sector[s].firms; start += TM_BLOCK) {
            block *b = &run->blocks[run->n_blocks++];
            b->sector = s;
            b->start = start;
            b->end = start + TM_BLOCK < p->sector[s].firms ? start + TM_BLOCK : p->sector[s].firms;
        }
    run->hist_cells = (size_t)run->n_z * (size_t)run->n_sets;
    run->trans_cells = (size_t)run->n_sets * (size_t)run->n_sets;
    for (int t = 0; t < run->threads; t++) {
        run->acc[t].hist = malloc((size_t)p->n_sectors * run->hist_cells * sizeof(uint32_t));
        run->acc[t].trans = malloc((size_t)p->n_sectors * run->trans_cells * sizeof(uint32_t));
        run->acc[t].died = malloc((size_t)p->n_sectors * (size_t)run->n_sets * sizeof(uint32_t));
        if (!run->acc[t].hist || !run->acc[t].trans || !run->acc[t].died) {
            tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
            goto fail;
        }
    }
    for (int s = 0; s < p->n_sectors; s++)
        if (sector_init(run, s, err))
            goto fail;
    *out = run;
    return 0;
fail:
    tm_run_close(run);
    return -1;
}

/* Build this period's policy for every sector from the environment and last
 * period's aggregates. */
static int build_policies(tm_run *run, tm_error *err)
{
    const tm_params *p = run->p;
    int regime[TM_MAX_DEST];
    for (int d = 0; d < run->n_dest; d++)
        regime[d] = run->env.regime[d];
    for (int s = 0; s < run->n_sectors; s++) {
        sector_state *sec = &run->sec[s];
        const tm_sector *ps = &p->sector[s];
        tm_conditions cond;
        for (int d = 0; d < run->n_dest; d++) {
            double share = run->share_serving[(size_t)s * (size_t)run->n_dest + (size_t)d];
            cond.tariff[d] = tm_env_tariff(&run->env, s, d);
            cond.closed[d] = tm_env_closed(&run->env, d);
            cond.demand[d] = tm_econ_crowded_demand(ps->market[d].demand, p->crowding, share);
            cond.sunk[d] = tm_econ_spillover_sunk(ps->market[d].sunk_cost, p->spillover, share);
            run->res.tariff[(size_t)s * (size_t)run->n_dest + (size_t)d] = cond.tariff[d];
        }
        tm_econ_tables(&run->profit, ps, run->n_dest, &cond, sec->z_grid, run->n_z, sec->flow, sec->revenue);
        tm_choice_ctx ctx = {
            .sector = s,
            .period = run->period,
            .n_z = run->n_z,
            .n_sets = run->n_sets,
            .n_dest = run->n_dest,
            .z_grid = sec->z_grid,
            .P = sec->P,
            .flow = sec->flow,
            .sunk = cond.sunk,
            .regime = regime,
            .death_rate = ps->death_rate,
        };
        if (run->model->values(run->model_state, &ctx, sec->value, err))
            return -1;
        tm_policy_build(&sec->policy, sec->value, p->logit_scale);
    }
    return 0;
}

/* The hot loop: death and replacement, productivity move, decision.
 * Two PCG32 draws a firm (three with logit noise), no allocation, no
 * branches on the model. */
static void step_block(tm_run *run, const block *b, accum *acc)
{
    sector_state *sec = &run->sec[b->sector];
    const int n_z = run->n_z, n_sets = run->n_sets;
    uint32_t *hist = acc->hist + (size_t)b->sector * run->hist_cells;
    uint32_t *trans = acc->trans + (size_t)b->sector * run->trans_cells;
    uint32_t *died = acc->died + (size_t)b->sector * (size_t)n_sets;
    const uint32_t death = sec->death_threshold;
    const uint32_t *mt = sec->move_threshold, *ma = sec->move_alias;
    const tm_policy *pol = &sec->policy;
    const uint8_t *choice = pol->choice;
    const int logit = pol->logit;
    uint64_t *state = sec->rng_state;
    uint16_t *zs = sec->z;
    uint8_t *ms = sec->markets;
    for (int64_t i = b->start; i < b->end; i++) {
        const uint64_t inc = sec->inc_base + 2u * (uint64_t)i;
        uint64_t st = state[i];
        int prev = ms[i] & TM_SET_MASK;
        int z;
        unsigned born = 0;
        uint32_t r = tm_pcg32_step(&st, inc);
        uint32_t r2 = tm_pcg32_step(&st, inc);
        if (r < death) {
            died[prev]++;
            prev = 0;
            born = TM_BORN_BIT;
            z = (int)tm_alias_draw(&sec->entry, r2);
        } else {
            uint64_t scaled = (uint64_t)r2 * (uint64_t)n_z;
            uint32_t col = (uint32_t)(scaled >> 32);
            size_t cell = (size_t)zs[i] * (size_t)n_z + col;
            z = (uint32_t)scaled < mt[cell] ? (int)col : (int)ma[cell];
        }
        int S = logit ? tm_policy_choose(pol, z, prev, tm_pcg32_step(&st, inc)) : choice[z * n_sets + prev];
        trans[prev * n_sets + S]++;
        hist[z * n_sets + S]++;
        zs[i] = (uint16_t)z;
        ms[i] = (uint8_t)((unsigned)S | born);
        state[i] = st;
    }
}

typedef struct {
    double revenue;
    int64_t count;
} cell;

static int cell_desc(const void *a, const void *b)
{
    double x = ((const cell *)a)->revenue, y = ((const cell *)b)->revenue;
    return (x < y) - (x > y);
}

/* Aggregates of one sector from the summed counts (exact, order-free). */
static void aggregate_sector(tm_run *run, int s, const uint64_t *hist, const uint64_t *trans, const uint64_t *died,
                             cell *scratch)
{
    const int n_z = run->n_z, n_sets = run->n_sets, n_dest = run->n_dest;
    const sector_state *sec = &run->sec[s];
    tm_period_result *r = &run->res;
    int64_t deaths = 0;
    for (int S = 0; S < n_sets; S++) {
        int64_t firms = 0;
        for (int iz = 0; iz < n_z; iz++)
            firms += (int64_t)hist[iz * n_sets + S];
        r->firms_by_set[(size_t)s * (size_t)n_sets + (size_t)S] = firms;
        deaths += (int64_t)died[S];
    }
    r->deaths[s] = deaths;
    for (int d = 0; d < n_dest; d++) {
        size_t k = (size_t)s * (size_t)n_dest + (size_t)d;
        int64_t serving = 0, entrants = 0, exiters = 0;
        double value = 0, zsum = 0;
        int n_cells = 0;
        for (int prev = 0; prev < n_sets; prev++) {
            for (int S = 0; S < n_sets; S++) {
                int64_t c = (int64_t)trans[prev * n_sets + S];
                if ((S >> d & 1) && !(prev >> d & 1))
                    entrants += c;
                if (!(S >> d & 1) && (prev >> d & 1))
                    exiters += c;
            }
            if (prev >> d & 1)
                exiters += (int64_t)died[prev];
        }
        for (int iz = 0; iz < n_z; iz++) {
            for (int S = 0; S < n_sets; S++) {
                if (!(S >> d & 1))
                    continue;
                int64_t c = (int64_t)hist[iz * n_sets + S];
                if (c == 0)
                    continue;
                double rev = sec->revenue[((size_t)iz * (size_t)n_sets + (size_t)S) * (size_t)n_dest + (size_t)d];
                serving += c;
                value += (double)c * rev;
                zsum += (double)c * sec->z_grid[iz];
                scratch[n_cells].revenue = rev;
                scratch[n_cells].count = c;
                n_cells++;
            }
        }
        /* Top-decile share: the largest 10% of this destination's exporters,
         * taking a fraction of the boundary cell. */
        double top = NAN;
        if (serving > 0 && value > 0) {
            qsort(scratch, (size_t)n_cells, sizeof *scratch, cell_desc);
            double want = 0.1 * (double)serving, got = 0, sum = 0;
            for (int i = 0; i < n_cells && got < want; i++) {
                double take = (double)scratch[i].count < want - got ? (double)scratch[i].count : want - got;
                sum += take * scratch[i].revenue;
                got += take;
            }
            top = sum / value;
        }
        double tariff = r->tariff[k];
        r->serving[k] = serving;
        r->entrants[k] = entrants;
        r->exiters[k] = exiters;
        r->export_value[k] = value;
        r->tariff_paid[k] = tariff * value;
        r->mean_log_productivity[k] = serving > 0 ? zsum / (double)serving : NAN;
        r->top10_share[k] = top;
        run->share_serving[k] = (double)serving / (double)run->p->sector[s].firms;
    }
}

int tm_run_step(tm_run *run, tm_error *err)
{
    const tm_params *p = run->p;
    if (tm_run_finished(run))
        return tm_error_set(err, TM_ERR_RUNTIME, "the run has already finished");
    int t = run->period + 1;
    run->period = t;
    run->res.period = t;
    tm_period_label(p->start_index + t, p->periods_per_year, run->res.label, sizeof run->res.label);
    run->res.n_events = tm_env_advance(&run->env, t, run->res.events);
    for (int d = 0; d < run->n_dest; d++)
        run->res.regime[d] = run->env.regime[d];
    if (build_policies(run, err))
        return -1;

    const size_t hist_all = (size_t)run->n_sectors * run->hist_cells;
    const size_t trans_all = (size_t)run->n_sectors * run->trans_cells;
    const size_t died_all = (size_t)run->n_sectors * (size_t)run->n_sets;
#pragma omp parallel num_threads(run->threads)
    {
        accum *acc = &run->acc[omp_get_thread_num()];
        memset(acc->hist, 0, hist_all * sizeof(uint32_t));
        memset(acc->trans, 0, trans_all * sizeof(uint32_t));
        memset(acc->died, 0, died_all * sizeof(uint32_t));
#pragma omp for schedule(static)
        for (size_t b = 0; b < run->n_blocks; b++)
            step_block(run, &run->blocks[b], acc);
    }

    uint64_t *hist = calloc(run->hist_cells + run->trans_cells + (size_t)run->n_sets, sizeof(uint64_t));
    cell *scratch = malloc(run->hist_cells * sizeof *scratch);
    if (!hist || !scratch) {
        free(hist);
        free(scratch);
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    }
    uint64_t *trans = hist + run->hist_cells, *died = trans + run->trans_cells;
    double total = 0, non_us = 0;
    for (int s = 0; s < run->n_sectors; s++) {
        memset(hist, 0, (run->hist_cells + run->trans_cells + (size_t)run->n_sets) * sizeof(uint64_t));
        for (int th = 0; th < run->threads; th++) {
            const accum *acc = &run->acc[th];
            for (size_t c = 0; c < run->hist_cells; c++)
                hist[c] += acc->hist[(size_t)s * run->hist_cells + c];
            for (size_t c = 0; c < run->trans_cells; c++)
                trans[c] += acc->trans[(size_t)s * run->trans_cells + c];
            for (int c = 0; c < run->n_sets; c++)
                died[c] += acc->died[(size_t)s * (size_t)run->n_sets + (size_t)c];
        }
        aggregate_sector(run, s, hist, trans, died, scratch);
        for (int d = 0; d < run->n_dest; d++) {
            double v = run->res.export_value[(size_t)s * (size_t)run->n_dest + (size_t)d];
            total += v;
            if (d != run->us_index)
                non_us += v;
        }
    }
    run->res.non_us_share = total > 0 ? non_us / total : NAN;
    free(hist);
    free(scratch);
    return 0;
}

int tm_run_period(const tm_run *run)
{
    return run->period;
}

int tm_run_finished(const tm_run *run)
{
    return run->period >= run->p->periods - 1;
}

const tm_period_result *tm_run_result(const tm_run *run)
{
    return &run->res;
}

int tm_run_threads(const tm_run *run)
{
    return run->threads;
}

int tm_run_grid_size(const tm_run *run)
{
    return run->n_z;
}

const double *tm_run_z_grid(const tm_run *run, int sector)
{
    return run->sec[sector].z_grid;
}

const uint16_t *tm_run_firm_z(const tm_run *run, int sector)
{
    return run->sec[sector].z;
}

const uint8_t *tm_run_firm_markets(const tm_run *run, int sector)
{
    return run->sec[sector].markets;
}

const double *tm_run_revenue_table(const tm_run *run, int sector)
{
    return run->sec[sector].revenue;
}

double tm_run_state_bytes_per_firm(const tm_run *run)
{
    (void)run;
    return (double)(sizeof(uint64_t) + sizeof(uint16_t) + sizeof(uint8_t));
}
