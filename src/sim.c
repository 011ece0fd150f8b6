#include "sim.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
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
    /* Models whose firms hold different beliefs (learning) only, else NULL:
     * each firm's birth period, the belief class of each birth cohort
     * (index birth + burn_in) and one policy per class. */
    int32_t *birth;
    uint16_t *class_of_birth;
    tm_policy *classes;
    int n_classes;
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
    free(s->birth);
    free(s->class_of_birth);
    for (int k = 0; s->classes && k < s->n_classes; k++)
        tm_policy_free(&s->classes[k]);
    free(s->classes);
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
    free(r->firms_by_z_set);
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
        rc = tm_grid_stationary_exact(n_z, sec->P, stationary);
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
    if (run->model->belief_classes) {
        sec->n_classes = run->model->belief_classes(run->model_state, NULL, 0, 0, NULL);
        sec->birth = malloc((size_t)sec->n * sizeof *sec->birth);
        sec->class_of_birth = malloc((size_t)(p->burn_in + p->periods) * sizeof *sec->class_of_birth);
        sec->classes = calloc((size_t)sec->n_classes, sizeof *sec->classes);
        if (!sec->birth || !sec->class_of_birth || !sec->classes)
            return tm_error_set(err, TM_ERR_RUNTIME, "out of memory for sector %s beliefs", ps->name);
        for (int k = 0; k < sec->n_classes; k++)
            if (tm_policy_alloc(&sec->classes[k], n_z, run->n_sets, p->logit_scale > 0.0))
                return tm_error_set(err, TM_ERR_RUNTIME, "out of memory for sector %s beliefs", ps->name);
        for (int64_t i = 0; i < sec->n; i++)
            sec->birth[i] = -p->burn_in;
    }
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
    r->firms_by_z_set = calloc((size_t)run->n_sectors * (size_t)run->n_z * (size_t)run->n_sets, sizeof(int64_t));
    r->deaths = calloc((size_t)run->n_sectors, sizeof(int64_t));
    r->events = calloc((size_t)(run->p->n_events ? run->p->n_events : 1), sizeof(int));
    run->share_serving = calloc(sd, sizeof(double));
    return r->serving && r->entrants && r->exiters && r->export_value && r->tariff_paid &&
                   r->mean_log_productivity && r->top10_share && r->tariff && r->firms_by_set && r->firms_by_z_set && r->deaths &&
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
    run->us_index = tm_params_us_index(p);
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
            cond.sunk[d] = tm_econ_spillover_sunk(ps->market[d].sunk_cost * run->env.sunk_scale[(size_t)s * (size_t)run->n_dest + (size_t)d],
                                                  p->spillover, share);
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
            .transition = (const double(*)[TM_MAX_REGIMES][TM_MAX_REGIMES])run->env.transition,
            .held = run->env.held,
            .tariff_override = run->env.tariff_override + (size_t)s * (size_t)run->n_dest,
            .sunk_scale = run->env.sunk_scale + (size_t)s * (size_t)run->n_dest,
            .threads = run->threads,
        };
        if (sec->classes) {
            /* One policy per belief class; firms pick theirs by birth cohort. */
            run->model->belief_classes(run->model_state, &ctx, -p->burn_in, run->period + p->burn_in + 1,
                                       sec->class_of_birth);
            for (int k = 0; k < sec->n_classes; k++) {
                ctx.belief_class = k;
                if (run->model->values(run->model_state, &ctx, sec->value, err))
                    return -1;
                tm_policy_build(&sec->classes[k], sec->value, p->logit_scale);
            }
            continue;
        }
        if (run->model->values(run->model_state, &ctx, sec->value, err))
            return -1;
        tm_policy_build(&sec->policy, sec->value, p->logit_scale);
    }
    return 0;
}

/* The hot loop: death and replacement, productivity move, decision.
 * Two PCG32 draws a firm (three with logit noise), no allocation, no
 * branches on the model; with belief classes (learning) the firm's policy
 * is the one of its birth cohort's class (a table lookup). */
#if defined(__GNUC__)
#define TM_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define TM_ALWAYS_INLINE inline
#endif

/* `learning` is a constant at each call site, so the compiler builds the
 * loop twice and the default path keeps no per-firm test. */
static TM_ALWAYS_INLINE void step_block_with(tm_run *run, const block *b, accum *acc, const int learning)
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
    int32_t *births = sec->birth;
    const uint16_t *cohort_class = sec->class_of_birth;
    const tm_policy *classes = sec->classes;
    const int now = run->period, first_birth = -run->p->burn_in;
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
            if (learning)
                births[i] = now;
        } else {
            uint64_t scaled = (uint64_t)r2 * (uint64_t)n_z;
            uint32_t col = (uint32_t)(scaled >> 32);
            size_t cell = (size_t)zs[i] * (size_t)n_z + col;
            z = (uint32_t)scaled < mt[cell] ? (int)col : (int)ma[cell];
        }
        const tm_policy *own = learning ? &classes[cohort_class[births[i] - first_birth]] : pol;
        int S = logit ? tm_policy_choose(own, z, prev, tm_pcg32_step(&st, inc))
                      : (learning ? own->choice : choice)[z * n_sets + prev];
        trans[prev * n_sets + S]++;
        hist[z * n_sets + S]++;
        zs[i] = (uint16_t)z;
        ms[i] = (uint8_t)((unsigned)S | born);
        state[i] = st;
    }
}

static void step_block(tm_run *run, const block *b, accum *acc)
{
    if (run->sec[b->sector].birth)
        step_block_with(run, b, acc, 1);
    else
        step_block_with(run, b, acc, 0);
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
    int64_t *by_z_set = r->firms_by_z_set + (size_t)s * run->hist_cells;
    for (size_t c = 0; c < run->hist_cells; c++)
        by_z_set[c] = (int64_t)hist[c];
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

const tm_model_ops *tm_run_model(const tm_run *run, const void **state)
{
    *state = run->model_state;
    return run->model;
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
    size_t learning = run->sec && run->sec[0].birth ? sizeof(int32_t) : 0;
    return (double)(sizeof(uint64_t) + sizeof(uint16_t) + sizeof(uint8_t) + learning);
}

/* ------------------------------------------------------------------------
 * Checkpoints: everything a run carries from one period to the next. The
 * tables rebuilt every period (profits, values, policies) and the results
 * of the last period are not saved; the model is prepared again by
 * tm_run_open (its solve depends only on the parameters).
 * ---------------------------------------------------------------------- */

static const char run_state_tag[8] = {'s', 'i', 'm', 's', 't', 'a', 't', '1'};
static const char model_state_tag[8] = {'m', 'o', 'd', 'e', 'l', 's', 't', '1'};

int tm_run_checkpointable(const tm_run *run, tm_error *err)
{
    if (run->model->belief_classes && !run->model->save)
        return tm_error_set(err, TM_ERR_INPUT,
                            "--checkpoint-every: the %s model keeps state that evolves during a run and cannot "
                            "save it yet; run without checkpoints",
                            run->model->name);
    return 0;
}

int tm_run_save(const tm_run *run, tm_ckbuf *b, tm_error *err)
{
    if (tm_run_checkpointable(run, err))
        return -1;
    const tm_env *env = &run->env;
    size_t sd = (size_t)run->n_sectors * (size_t)run->n_dest;
    int32_t dims[4] = {run->period, run->n_sectors, run->n_dest, run->n_z};
    /* Cohorts born so far: -burn_in .. period (the classes of later
     * cohorts are not computed yet). */
    size_t cohorts = (size_t)(run->p->burn_in + run->period + 1);
    tm_ckbuf_put(b, run_state_tag, sizeof run_state_tag);
    tm_ckbuf_put(b, dims, sizeof dims);
    for (int s = 0; s < run->n_sectors; s++) {
        const sector_state *sec = &run->sec[s];
        int64_t n = sec->n;
        tm_ckbuf_put(b, &n, sizeof n);
        tm_ckbuf_put(b, sec->rng_state, (size_t)n * sizeof *sec->rng_state);
        tm_ckbuf_put(b, sec->z, (size_t)n * sizeof *sec->z);
        tm_ckbuf_put(b, sec->markets, (size_t)n);
        if (sec->birth) {
            tm_ckbuf_put(b, sec->birth, (size_t)n * sizeof *sec->birth);
            tm_ckbuf_put(b, sec->class_of_birth, cohorts * sizeof *sec->class_of_birth);
        }
    }
    tm_ckbuf_put(b, run->share_serving, sd * sizeof(double));
    tm_ckbuf_put(b, env->regime, sizeof env->regime);
    tm_ckbuf_put(b, env->held, sizeof env->held);
    tm_ckbuf_put(b, env->escalation, sizeof env->escalation);
    tm_ckbuf_put(b, env->transition, sizeof env->transition);
    tm_ckbuf_put(b, env->tariff_override, sd * sizeof(double));
    tm_ckbuf_put(b, env->sunk_scale, sd * sizeof(double));
    tm_ckbuf_put(b, &env->next_event, sizeof env->next_event);
    tm_ckbuf_put(b, &env->rng, sizeof env->rng);
    /* The model's section: its name, its size, then what its save hook
     * wrote (nothing for models without one). */
    tm_ckbuf_put(b, model_state_tag, sizeof model_state_tag);
    tm_ckbuf_put_string(b, run->model->name);
    size_t size_at = b->len;
    uint64_t size = 0;
    tm_ckbuf_put(b, &size, sizeof size);
    if (run->model->save && run->model->save(run->model_state, b, err))
        return -1;
    if (!b->failed) {
        size = (uint64_t)(b->len - size_at - sizeof size);
        memcpy(b->data + size_at, &size, sizeof size);
    }
    if (b->failed)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory saving the run state (%zu bytes)", b->len);
    return 0;
}

int tm_run_restore(tm_run *run, tm_ckbuf *b, tm_error *err)
{
    tm_env *env = &run->env;
    size_t sd = (size_t)run->n_sectors * (size_t)run->n_dest;
    char tag[8];
    int32_t dims[4];
    if (tm_ckbuf_get(b, tag, sizeof tag) || memcmp(tag, run_state_tag, sizeof tag) != 0 ||
        tm_ckbuf_get(b, dims, sizeof dims) || dims[1] != run->n_sectors || dims[2] != run->n_dest ||
        dims[3] != run->n_z || dims[0] < 0 || dims[0] >= run->p->periods)
        goto bad;
    for (int s = 0; s < run->n_sectors; s++) {
        sector_state *sec = &run->sec[s];
        int64_t n;
        if (tm_ckbuf_get(b, &n, sizeof n) || n != sec->n ||
            tm_ckbuf_get(b, sec->rng_state, (size_t)n * sizeof *sec->rng_state) ||
            tm_ckbuf_get(b, sec->z, (size_t)n * sizeof *sec->z) || tm_ckbuf_get(b, sec->markets, (size_t)n))
            goto bad;
        for (int64_t i = 0; i < n; i++)
            if (sec->z[i] >= run->n_z)
                goto bad;
        if (sec->birth) {
            /* Every firm's birth period lies in -burn_in .. period, and its
             * cohort's class indexes one of the policies. */
            const int first_birth = -run->p->burn_in;
            size_t cohorts = (size_t)(run->p->burn_in + dims[0] + 1);
            if (tm_ckbuf_get(b, sec->birth, (size_t)n * sizeof *sec->birth) ||
                tm_ckbuf_get(b, sec->class_of_birth, cohorts * sizeof *sec->class_of_birth))
                goto bad;
            for (size_t c = 0; c < cohorts; c++)
                if (sec->class_of_birth[c] >= sec->n_classes)
                    goto bad;
            for (int64_t i = 0; i < n; i++)
                if (sec->birth[i] < first_birth || sec->birth[i] > dims[0])
                    goto bad;
        }
    }
    if (tm_ckbuf_get(b, run->share_serving, sd * sizeof(double)) ||
        tm_ckbuf_get(b, env->regime, sizeof env->regime) || tm_ckbuf_get(b, env->held, sizeof env->held) ||
        tm_ckbuf_get(b, env->escalation, sizeof env->escalation) ||
        tm_ckbuf_get(b, env->transition, sizeof env->transition) ||
        tm_ckbuf_get(b, env->tariff_override, sd * sizeof(double)) ||
        tm_ckbuf_get(b, env->sunk_scale, sd * sizeof(double)) ||
        tm_ckbuf_get(b, &env->next_event, sizeof env->next_event) || tm_ckbuf_get(b, &env->rng, sizeof env->rng))
        goto bad;
    for (int d = 0; d < run->n_dest; d++)
        if (env->regime[d] < 0 || env->regime[d] >= run->p->dest[d].n_regimes)
            goto bad;
    if (env->next_event < 0 || env->next_event > run->p->n_events)
        goto bad;
    char name[64];
    uint64_t size;
    if (tm_ckbuf_get(b, tag, sizeof tag) || memcmp(tag, model_state_tag, sizeof tag) != 0 ||
        tm_ckbuf_get_string(b, name, sizeof name) || strcmp(name, run->model->name) != 0 ||
        tm_ckbuf_get(b, &size, sizeof size) || size > b->len - b->pos || (size > 0 && !run->model->restore))
        goto bad;
    size_t model_start = b->pos;
    if (run->model->restore && run->model->restore(run->model_state, b, err))
        return -1;
    if (b->pos - model_start != size)
        goto bad;
    run->period = dims[0];
    run->res.period = dims[0];
    for (int d = 0; d < run->n_dest; d++)
        run->res.regime[d] = env->regime[d];
    return 0;
bad:
    return tm_error_set(err, TM_ERR_INPUT, "the checkpoint's engine state does not match its parameters (corrupt?)");
}
