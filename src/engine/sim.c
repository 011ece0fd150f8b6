#include "engine/sim.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "io/checkpoint.h"
#include "engine/economy.h"
#include "engine/env.h"
#include "engine/grid.h"
#include "models/model.h"
#include "engine/mstate.h"
#include "engine/policy.h"
#include "base/rng.h"
#include "base/stats.h"

/* One sector's firms and tables. */
typedef struct {
    int64_t n;
    uint64_t *rng_state; /* PCG32 state per slot */
    uint16_t *z;         /* productivity grid index */
    uint8_t *markets;    /* market state served (bits 0-5, src/engine/mstate.h) and born flag (bit 7) */
    uint8_t *pending;    /* timing next: the state chosen for next period; else NULL */
    uint8_t *tenure;     /* run.spells: [i * n_dest + d] periods of the current spell in d (capped) */
    /* run.aggregation: exact: the mass of firms over (z, state served last
     * period) [n_z * n_states], with timing next also the state chosen for
     * this period [n_z * n_states * n_states]; firm arrays are not kept. */
    double *mass, *mass_next, *prob, *entry_law;
    size_t mass_cells, mass_per_z; /* all cells; cells per (type, z) */
    /* Demand types (demand_types.points > 1): each firm's type, one policy
     * per type; flow, revenue and value tables hold one block per type. */
    uint8_t *type;
    tm_policy *type_pol;
    uint64_t inc_base;   /* odd; slot i's stream increment is inc_base + 2 i */
    double *z_grid;      /* [n_z] */
    double *P;           /* [n_z * n_z] */
    uint32_t *move_threshold, *move_alias; /* flattened alias tables, [n_z * n_z] */
    tm_alias entry;      /* entrants' productivity (the stationary law) */
    uint64_t *death_threshold; /* [n_z]: a firm at z dies if its draw is below */
    double *death;             /* [n_z]: death probability at z */
    double *flow, *revenue, *value, *cost;
    tm_policy policy;
    /* Models whose firms hold different beliefs (learning) only, else NULL:
     * each firm's birth period, the belief class of each birth cohort
     * (index birth + burn_in) and one policy per class. */
    int32_t *birth;
    uint16_t *class_of_birth;
    tm_policy *classes;
    int n_classes;
    int n_types;
} sector_state;

/* A block of consecutive slots of one sector. */
typedef struct {
    int sector;
    int64_t start, end;
} block;

/* Integer accumulators of one thread (counts add exactly in any order). */
typedef struct {
    uint32_t *hist;  /* [s][z * n_states + m] firms by the state they serve after the decision */
    uint32_t *trans; /* [s][prev * n_sets + S] survivors' and entrants' moves between market sets */
    uint32_t *died;  /* [s][S] market set of firms that died */
    uint32_t *enter; /* [s][d][z * n_states + m] firms serving d for the first period of a spell */
    uint32_t *spell; /* [s][d][length]: spells in d that ended (run.spells) */
} accum;

struct tm_run {
    const tm_params *p;
    const tm_model_ops *model;
    void *model_state;
    tm_env env;
    tm_profit_fn profit;
    int n_z, n_sets, n_dest, n_sectors;
    int n_states, levels, n_types;
    tm_mstate ms;
    int threads;
    sector_state *sec;
    block *blocks;
    size_t n_blocks;
    accum *acc; /* [threads] */
    size_t hist_cells, trans_cells, enter_cells, spell_cells;
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
    free(s->pending);
    free(s->tenure);
    free(s->mass);
    free(s->mass_next);
    free(s->prob);
    free(s->entry_law);
    free(s->type);
    for (int t = 0; s->type_pol && t < s->n_types; t++)
        tm_policy_free(&s->type_pol[t]);
    free(s->type_pol);
    free(s->death_threshold);
    free(s->death);
    free(s->cost);
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
    for (int k = 0; s->classes && k < s->n_classes * s->n_types; k++)
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
        free(run->acc[t].enter);
        free(run->acc[t].spell);
    }
    free(run->acc);
    free(run->share_serving);
    tm_mstate_free(&run->ms);
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
    free(r->by_level);
    free(r->entrant_value);
    free(r->spells);
    free(r->x_serving);
    free(r->x_entrants);
    free(r->x_exiters);
    free(r->x_firms_by_set);
    free(r->x_firms_by_z_set);
    free(r->x_deaths);
    free(r->x_by_level);
    free(r->firms_by_type_z_set);
    free(r->x_firms_by_type_z_set);
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
    const int exact = p->exact;
    /* Firms (sampled) or their distribution (exact). */
    size_t n_firm = exact ? 0 : (size_t)sec->n;
    sec->rng_state = malloc((n_firm ? n_firm : 1) * sizeof *sec->rng_state);
    sec->z = malloc((n_firm ? n_firm : 1) * sizeof *sec->z);
    sec->markets = malloc(n_firm ? n_firm : 1);
    sec->z_grid = malloc((size_t)n_z * sizeof(double));
    sec->P = malloc((size_t)n_z * (size_t)n_z * sizeof(double));
    sec->move_threshold = malloc((size_t)n_z * (size_t)n_z * sizeof(uint32_t));
    sec->move_alias = malloc((size_t)n_z * (size_t)n_z * sizeof(uint32_t));
    size_t cells = (size_t)n_z * (size_t)run->n_states * (size_t)run->n_types;
    sec->n_types = run->n_types;
    if (run->n_types > 1) {
        sec->type = malloc(n_firm ? n_firm : 1);
        sec->type_pol = calloc((size_t)run->n_types, sizeof *sec->type_pol);
        for (int t = 0; sec->type_pol && t < run->n_types; t++)
            if (tm_policy_alloc_rows(&sec->type_pol[t], n_z, run->n_states, run->n_sets, p->logit_scale > 0.0))
                return tm_error_set(err, TM_ERR_RUNTIME, "out of memory for sector %s types", ps->name);
        if (!sec->type || !sec->type_pol)
            return tm_error_set(err, TM_ERR_RUNTIME, "out of memory for sector %s types", ps->name);
    }
    sec->flow = malloc(cells * sizeof(double));
    sec->revenue = malloc(cells * (size_t)run->n_dest * sizeof(double));
    sec->value = malloc(cells * (size_t)run->n_sets * sizeof(double));
    sec->cost = malloc((size_t)run->n_states * (size_t)run->n_sets * sizeof(double));
    sec->death_threshold = malloc((size_t)n_z * sizeof *sec->death_threshold);
    sec->death = malloc((size_t)n_z * sizeof *sec->death);
    if (p->timing == TM_TIMING_NEXT && !exact)
        sec->pending = malloc((size_t)sec->n);
    if (p->spells && !exact)
        sec->tenure = calloc((size_t)sec->n * (size_t)run->n_dest, 1);
    if (exact) {
        /* cells counts every (type, z, state); timing next adds the state chosen. */
        sec->mass_per_z = (size_t)run->n_states * (p->timing == TM_TIMING_NEXT ? (size_t)run->n_states : 1);
        sec->mass_cells = cells * (p->timing == TM_TIMING_NEXT ? (size_t)run->n_states : 1);
        sec->mass = calloc(sec->mass_cells, sizeof(double));
        sec->mass_next = calloc(sec->mass_cells, sizeof(double));
        sec->prob = malloc(cells * (size_t)run->n_sets * sizeof(double));
        sec->entry_law = malloc((size_t)n_z * sizeof(double));
    }
    double *stationary = malloc((size_t)n_z * sizeof(double));
    if (!sec->rng_state || !sec->z || !sec->markets || !sec->z_grid || !sec->P || !sec->move_threshold ||
        !sec->move_alias || !sec->flow || !sec->revenue || !sec->value || !sec->cost || !sec->death_threshold ||
        !sec->death || (p->timing == TM_TIMING_NEXT && !exact && !sec->pending) ||
        (p->spells && !exact && !sec->tenure) ||
        (exact && (!sec->mass || !sec->mass_next || !sec->prob || !sec->entry_law)) || !stationary ||
        tm_policy_alloc_rows(&sec->policy, n_z, run->n_states, run->n_sets, p->logit_scale > 0.0)) {
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
    if (exact) {
        /* Everyone starts serving nothing, spread over the stationary law. */
        memcpy(sec->entry_law, stationary, (size_t)n_z * sizeof(double));
        for (int t = 0; t < run->n_types; t++)
            for (int iz = 0; iz < n_z; iz++)
                sec->mass[((size_t)t * (size_t)n_z + (size_t)iz) * sec->mass_per_z] =
                    (double)sec->n * stationary[iz] / (double)run->n_types;
    }
    free(stationary);
    if (rc)
        return tm_error_set(err, TM_ERR_RUNTIME, "sector %s: bad stationary distribution", ps->name);
    if (run->model->belief_classes) {
        sec->n_classes = run->model->belief_classes(run->model_state, NULL, 0, 0, NULL);
        sec->birth = malloc((size_t)sec->n * sizeof *sec->birth);
        sec->class_of_birth = malloc((size_t)(p->burn_in + p->periods) * sizeof *sec->class_of_birth);
        /* One policy per (belief class, demand type): [class * n_types + type]. */
        sec->classes = calloc((size_t)sec->n_classes * (size_t)run->n_types, sizeof *sec->classes);
        if (!sec->birth || !sec->class_of_birth || !sec->classes)
            return tm_error_set(err, TM_ERR_RUNTIME, "out of memory for sector %s beliefs", ps->name);
        for (int k = 0; k < sec->n_classes * run->n_types; k++)
            if (tm_policy_alloc_rows(&sec->classes[k], n_z, run->n_states, run->n_sets, p->logit_scale > 0.0))
                return tm_error_set(err, TM_ERR_RUNTIME, "out of memory for sector %s beliefs", ps->name);
        for (int64_t i = 0; i < sec->n; i++)
            sec->birth[i] = -p->burn_in;
    }
    /* A firm's death is drawn against the productivity it had last period. */
    for (int iz = 0; iz < n_z; iz++) {
        double q = tm_params_death_probability(p, ps, sec->z_grid[iz]);
        sec->death[iz] = q;
        sec->death_threshold[iz] = q >= 1.0 ? (uint64_t)1 << 32 : (uint64_t)tm_rng_threshold(q);
    }
    sec->inc_base = (tm_rng_mix(tm_rng_mix(p->seed, 0x696e63ULL), (uint64_t)s) << 1) | 1u;

    /* Initial population: the stationary law, serving no market. */
    int64_t n = (int64_t)n_firm;
#pragma omp parallel for schedule(static) num_threads(run->threads)
    for (int64_t i = 0; i < n; i++) {
        tm_pcg32 g;
        tm_rng_firm_stream(&g, p->seed, (uint32_t)s, (uint64_t)i);
        uint64_t inc = sec->inc_base + 2u * (uint64_t)i;
        sec->z[i] = (uint16_t)tm_alias_draw(&sec->entry, tm_pcg32_step(&g.state, inc));
        if (sec->type)
            sec->type[i] = (uint8_t)(((uint64_t)tm_pcg32_step(&g.state, inc) * (uint64_t)run->n_types) >> 32);
        sec->rng_state[i] = g.state;
        sec->markets[i] = 0;
        if (sec->pending)
            sec->pending[i] = 0;
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
    r->by_level = calloc(sd * (size_t)run->levels, sizeof(int64_t));
    r->entrant_value = calloc(sd, sizeof(double));
    r->spells = calloc(sd * TM_SPELL_MAX, sizeof(int64_t));
    r->exact = run->p->exact;
    r->x_serving = calloc(sd, sizeof(double));
    r->x_entrants = calloc(sd, sizeof(double));
    r->x_exiters = calloc(sd, sizeof(double));
    r->x_firms_by_set = calloc((size_t)run->n_sectors * (size_t)run->n_sets, sizeof(double));
    r->x_firms_by_z_set = calloc((size_t)run->n_sectors * (size_t)run->n_z * (size_t)run->n_sets, sizeof(double));
    r->x_deaths = calloc((size_t)run->n_sectors, sizeof(double));
    r->x_by_level = calloc(sd * (size_t)run->levels, sizeof(double));
    size_t tzs = (size_t)run->n_sectors * (size_t)run->n_types * (size_t)run->n_z * (size_t)run->n_sets;
    r->firms_by_type_z_set = calloc(tzs, sizeof(int64_t));
    r->x_firms_by_type_z_set = calloc(tzs, sizeof(double));
    r->deaths = calloc((size_t)run->n_sectors, sizeof(int64_t));
    r->events = calloc((size_t)(run->p->n_events ? run->p->n_events : 1), sizeof(int));
    run->share_serving = calloc(sd, sizeof(double));
    return r->serving && r->entrants && r->exiters && r->export_value && r->tariff_paid &&
                   r->mean_log_productivity && r->top10_share && r->tariff && r->firms_by_set && r->firms_by_z_set &&
                   r->by_level && r->entrant_value && r->spells && r->deaths && r->x_serving && r->x_entrants &&
                   r->x_exiters && r->x_firms_by_set && r->x_firms_by_z_set && r->x_deaths && r->x_by_level &&
                   r->firms_by_type_z_set && r->x_firms_by_type_z_set &&
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
    if (tm_mstate_init(&run->ms, p)) {
        free(run);
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    }
    run->n_states = run->ms.n_states;
    run->levels = run->ms.levels;
    run->n_types = p->n_types;
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
    if (p->exact && p->spells) {
        tm_error_set(err, TM_ERR_INPUT, "run.spells: not available with run.aggregation: exact (spells belong to "
                                        "single firms); use run.aggregation: firms");
        goto fail;
    }
    if (run->model->init(p, &run->model_state, err))
        goto fail;
    if (p->exact && run->model->belief_classes) {
        tm_error_set(err, TM_ERR_INPUT, "run.aggregation: exact is not available for the %s model (firms' beliefs "
                                        "differ by birth cohort); use run.aggregation: firms",
                     run->model->name);
        goto fail;
    }
    run->sec = calloc((size_t)p->n_sectors, sizeof *run->sec);
    if (!run->sec || alloc_results(run)) {
        tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        goto fail;
    }
    size_t n_blocks = 0;
    for (int s = 0; s < p->n_sectors && !p->exact; s++)
        n_blocks += (size_t)((p->sector[s].firms + TM_BLOCK - 1) / TM_BLOCK);
    run->blocks = malloc((n_blocks ? n_blocks : 1) * sizeof *run->blocks);
    run->acc = calloc((size_t)run->threads, sizeof *run->acc);
    if (!run->blocks || !run->acc) {
        tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        goto fail;
    }
    run->n_blocks = 0;
    for (int s = 0; s < p->n_sectors && !p->exact; s++)
        for (int64_t start = 0; start < p->sector[s].firms; start += TM_BLOCK) {
            block *b = &run->blocks[run->n_blocks++];
            b->sector = s;
            b->start = start;
            b->end = start + TM_BLOCK < p->sector[s].firms ? start + TM_BLOCK : p->sector[s].firms;
        }
    run->hist_cells = (size_t)run->n_types * (size_t)run->n_z * (size_t)run->n_states;
    run->trans_cells = (size_t)run->n_sets * (size_t)run->n_sets;
    run->enter_cells = (size_t)run->n_dest * run->hist_cells;
    run->spell_cells = (size_t)run->n_dest * TM_SPELL_MAX;
    for (int t = 0; t < run->threads; t++) {
        run->acc[t].hist = malloc((size_t)p->n_sectors * run->hist_cells * sizeof(uint32_t));
        run->acc[t].trans = malloc((size_t)p->n_sectors * run->trans_cells * sizeof(uint32_t));
        run->acc[t].died = malloc((size_t)p->n_sectors * (size_t)run->n_sets * sizeof(uint32_t));
        run->acc[t].enter = malloc((size_t)p->n_sectors * run->enter_cells * sizeof(uint32_t));
        run->acc[t].spell = malloc((size_t)p->n_sectors * run->spell_cells * sizeof(uint32_t));
        if (!run->acc[t].hist || !run->acc[t].trans || !run->acc[t].died || !run->acc[t].enter ||
            !run->acc[t].spell) {
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
        double fixed[TM_MAX_DEST];
        for (int d = 0; d < run->n_dest; d++) {
            fixed[d] = ps->market[d].fixed_cost;
            double share = run->share_serving[(size_t)s * (size_t)run->n_dest + (size_t)d];
            cond.tariff[d] = tm_env_tariff(&run->env, s, d);
            cond.closed[d] = tm_env_closed(&run->env, d);
            cond.demand[d] = tm_econ_crowded_demand(ps->market[d].demand, p->crowding, share);
            cond.sunk[d] = tm_econ_spillover_sunk(ps->market[d].sunk_cost * run->env.sunk_scale[(size_t)s * (size_t)run->n_dest + (size_t)d],
                                                  p->spillover, share);
            run->res.tariff[(size_t)s * (size_t)run->n_dest + (size_t)d] = cond.tariff[d];
        }
        tm_mstate_costs(&run->ms, cond.sunk, fixed, cond.closed, sec->cost);
        tm_choice_ctx ctx = {
            .sector = s,
            .period = run->period,
            .n_z = run->n_z,
            .n_sets = run->n_sets,
            .n_dest = run->n_dest,
            .n_states = run->n_states,
            .states = &run->ms,
            .cost = sec->cost,
            .death = sec->death,
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
        /* One set of tables and one policy per demand type (one without). */
        const size_t cells = (size_t)run->n_z * (size_t)run->n_states;
        for (int t = 0; t < run->n_types; t++) {
            tm_conditions typed = cond;
            for (int d = 0; d < run->n_dest; d++)
                typed.demand[d] = cond.demand[d] * tm_params_type_multiplier(p, t, d);
            double *flow = sec->flow + (size_t)t * cells, *revenue = sec->revenue + (size_t)t * cells * (size_t)run->n_dest;
            tm_econ_state_tables(&run->profit, ps, &run->ms, &typed, sec->z_grid, run->n_z, flow, revenue);
            ctx.flow = flow;
            ctx.type = t;
            if (sec->classes) {
                /* One policy per (belief class, type); firms pick theirs by
                 * birth cohort and type. The model observes the period once. */
                if (t == 0)
                    run->model->belief_classes(run->model_state, &ctx, -p->burn_in, run->period + p->burn_in + 1,
                                               sec->class_of_birth);
                for (int k = 0; k < sec->n_classes; k++) {
                    ctx.belief_class = k;
                    if (run->model->values(run->model_state, &ctx, sec->value, err))
                        return -1;
                    tm_policy_build(&sec->classes[(size_t)k * (size_t)run->n_types + (size_t)t], sec->value,
                                    p->logit_scale);
                }
                continue;
            }
            if (run->model->values(run->model_state, &ctx, sec->value, err))
                return -1;
            tm_policy_build(sec->type_pol ? &sec->type_pol[t] : &sec->policy, sec->value, p->logit_scale);
            if (sec->prob) /* exact aggregation: the choice probabilities of this type */
                tm_policy_row_probabilities(sec->value, cells, run->n_sets, p->logit_scale,
                                            sec->prob + (size_t)t * cells * (size_t)run->n_sets);
        }
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

/* The state a firm carries into this period after serving `served` last
 * period (timing current): each market served moves to its next experience
 * level, one draw per market. */
static TM_ALWAYS_INLINE int experience_step(const tm_mstate *ms, int served, uint64_t *st, uint64_t inc)
{
    int m = 0;
    for (int d = 0, stride = 1; d < ms->n_dest; d++, stride *= ms->radix) {
        int k = ms->level[served][d];
        if (k)
            m += tm_mstate_next_level(ms, k, tm_pcg32_step(st, inc)) * stride;
    }
    return m;
}

/* Timing next: next period's state after choosing S from state m (entry
 * lands in level 1, continuing markets draw their next level). */
static TM_ALWAYS_INLINE int next_state(const tm_mstate *ms, int m, int S, uint64_t *st, uint64_t inc)
{
    int out = 0;
    for (int d = 0, stride = 1; d < ms->n_dest; d++, stride *= ms->radix) {
        if (!(S >> d & 1))
            continue;
        int k = ms->level[m][d];
        int next = k == 0 ? 1 : ms->identity ? k : tm_mstate_next_level(ms, k, tm_pcg32_step(st, inc));
        out += next * stride;
    }
    return out;
}

/* `learning` and `plain` (market sets only: one experience level, timing
 * current) are constants at each call site, so the compiler builds the
 * loop for each case and the default path keeps no per-firm test. */
static TM_ALWAYS_INLINE void step_block_with(tm_run *run, const block *b, accum *acc, const int learning,
                                             const int plain)
{
    sector_state *sec = &run->sec[b->sector];
    const int n_z = run->n_z, n_sets = run->n_sets, n_states = run->n_states;
    uint32_t *hist = acc->hist + (size_t)b->sector * run->hist_cells;
    uint32_t *trans = acc->trans + (size_t)b->sector * run->trans_cells;
    uint32_t *died = acc->died + (size_t)b->sector * (size_t)n_sets;
    uint32_t *enter = acc->enter + (size_t)b->sector * run->enter_cells;
    const size_t hist_cells = run->hist_cells;
    const uint64_t *death = sec->death_threshold;
    const uint32_t *mt = sec->move_threshold, *ma = sec->move_alias;
    const tm_policy *pol = &sec->policy;
    const uint8_t *choice = pol->choice;
    const int logit = pol->logit;
    const tm_mstate *mst = &run->ms;
    const uint8_t *set_of = mst->set_of, *served = mst->served;
    const int next_timing = mst->timing == TM_TIMING_NEXT, draws = !mst->identity;
    uint8_t *pend = sec->pending;
    uint8_t *tenure = sec->tenure;
    uint8_t *types = sec->type;
    const tm_policy *type_pol = sec->type_pol;
    const uint64_t n_types = (uint64_t)run->n_types;
    uint32_t *spell = acc->spell + (size_t)b->sector * run->spell_cells;
    const int n_dest = run->n_dest;
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
        int prev = ms[i] & TM_SET_MASK; /* state served last period */
        int z, cur;
        unsigned born = 0;
        uint32_t r = tm_pcg32_step(&st, inc);
        uint32_t r2 = tm_pcg32_step(&st, inc);
        if ((uint64_t)r < death[zs[i]]) {
            died[plain ? prev : set_of[prev]]++;
            prev = 0;
            cur = 0;
            born = TM_BORN_BIT;
            z = (int)tm_alias_draw(&sec->entry, r2);
            if (learning)
                births[i] = now;
            if (!plain && types)
                types[i] = (uint8_t)(((uint64_t)tm_pcg32_step(&st, inc) * n_types) >> 32);
        } else {
            uint64_t scaled = (uint64_t)r2 * (uint64_t)n_z;
            uint32_t col = (uint32_t)(scaled >> 32);
            size_t cell = (size_t)zs[i] * (size_t)n_z + col;
            z = (uint32_t)scaled < mt[cell] ? (int)col : (int)ma[cell];
            cur = plain ? prev : next_timing ? pend[i] : draws && prev ? experience_step(mst, prev, &st, inc) : prev;
        }
        const size_t type_base = !plain && types ? (size_t)types[i] * (size_t)n_z : 0;
        const tm_policy *own =
            learning ? &classes[(size_t)cohort_class[births[i] - first_birth] * n_types + (!plain && types ? types[i] : 0)]
            : !plain && types ? &type_pol[types[i]] : pol;
        int S = logit ? tm_policy_choose(own, z, cur, tm_pcg32_step(&st, inc))
                      : (learning || (!plain && types) ? own->choice : choice)[z * n_states + cur];
        int now_served, now_set, prev_set;
        if (plain) {
            now_served = now_set = S;
            prev_set = prev;
        } else {
            if (next_timing) {
                now_served = cur;
                pend[i] = (uint8_t)next_state(mst, cur, S, &st, inc);
            } else {
                now_served = served[cur * n_sets + S];
            }
            now_set = set_of[now_served];
            prev_set = set_of[prev];
        }
        trans[prev_set * n_sets + now_set]++;
        const size_t at = (type_base + (size_t)z) * (size_t)n_states + (size_t)now_served;
        hist[at]++;
        unsigned entered = (unsigned)(now_set & ~prev_set);
        for (int d = 0; entered; d++, entered >>= 1)
            if (entered & 1u)
                enter[(size_t)d * hist_cells + at]++;
        if (!plain && tenure) {
            /* Spells: a death or an exit ends one (its length is counted), a
             * period of service extends or starts one. */
            uint8_t *ten = tenure + (size_t)i * (size_t)n_dest;
            for (int d = 0; d < n_dest; d++) {
                if (ten[d] && (born || !(now_set >> d & 1))) {
                    spell[d * TM_SPELL_MAX + (ten[d] < TM_SPELL_MAX ? ten[d] : TM_SPELL_MAX - 1)]++;
                    ten[d] = 0;
                }
                if (now_set >> d & 1)
                    ten[d] = ten[d] < 255 ? (uint8_t)(ten[d] + 1) : 255;
            }
        }
        zs[i] = (uint16_t)z;
        ms[i] = (uint8_t)((unsigned)now_served | born);
        state[i] = st;
    }
}

static void step_block(tm_run *run, const block *b, accum *acc)
{
    int learning = run->sec[b->sector].birth != NULL;
    int plain = run->levels == 1 && run->ms.timing == TM_TIMING_CURRENT && !run->sec[b->sector].tenure &&
                run->n_types == 1;
    if (learning)
        plain ? step_block_with(run, b, acc, 1, 1) : step_block_with(run, b, acc, 1, 0);
    else
        plain ? step_block_with(run, b, acc, 0, 1) : step_block_with(run, b, acc, 0, 0);
}

typedef tm_stats_cell cell;

/* Aggregates of one sector from the summed counts: integers held exactly
 * in doubles when firms are simulated (so the result does not depend on the
 * order of the sums), expected masses with run.aggregation: exact. */
static void aggregate_sector(tm_run *run, int s, const double *hist, const double *trans, const double *died,
                             const double *enter, cell *scratch)
{
    const int n_z = run->n_z, n_sets = run->n_sets, n_dest = run->n_dest, N = run->n_states, K = run->levels;
    const sector_state *sec = &run->sec[s];
    const tm_mstate *ms = &run->ms;
    tm_period_result *r = &run->res;
    double deaths = 0;
    /* Firms by (productivity, market set): states folded onto their sets. */
    double *by_z_set = r->x_firms_by_z_set + (size_t)s * (size_t)n_z * (size_t)n_sets;
    double *by_set = r->x_firms_by_set + (size_t)s * (size_t)n_sets;
    memset(by_z_set, 0, (size_t)n_z * (size_t)n_sets * sizeof(double));
    memset(by_set, 0, (size_t)n_sets * sizeof(double));
    double *by_tz_set = r->x_firms_by_type_z_set + (size_t)s * (size_t)run->n_types * (size_t)n_z * (size_t)n_sets;
    memset(by_tz_set, 0, (size_t)run->n_types * (size_t)n_z * (size_t)n_sets * sizeof(double));
    for (size_t at = 0; at < run->hist_cells; at++) {
        /* at = (type * n_z + z) * n_states + m */
        int m = (int)(at % (size_t)N), iz = (int)(at / (size_t)N % (size_t)n_z);
        double c = hist[at];
        by_z_set[iz * n_sets + ms->set_of[m]] += c;
        by_set[ms->set_of[m]] += c;
        by_tz_set[at / (size_t)N * (size_t)n_sets + ms->set_of[m]] += c;
    }
    for (int S = 0; S < n_sets; S++)
        deaths += died[S];
    r->x_deaths[s] = deaths;
    for (int d = 0; d < n_dest; d++) {
        size_t k = (size_t)s * (size_t)n_dest + (size_t)d;
        double serving = 0, entrants = 0, exiters = 0;
        double value = 0, zsum = 0, entrant_value = 0;
        double *by_level = r->x_by_level + k * (size_t)K;
        for (int l = 0; l < K; l++)
            by_level[l] = 0;
        int n_cells = 0;
        for (int prev = 0; prev < n_sets; prev++) {
            for (int S = 0; S < n_sets; S++) {
                double c = trans[prev * n_sets + S];
                if ((S >> d & 1) && !(prev >> d & 1))
                    entrants += c;
                if (!(S >> d & 1) && (prev >> d & 1))
                    exiters += c;
            }
            if (prev >> d & 1)
                exiters += died[prev];
        }
        for (size_t at = 0; at < run->hist_cells; at++) {
            {
                int m = (int)(at % (size_t)N), iz = (int)(at / (size_t)N % (size_t)n_z);
                int level = ms->level[m][d];
                if (!level)
                    continue;
                double c = hist[at];
                if (c == 0)
                    continue;
                double rev = sec->revenue[at * (size_t)n_dest + (size_t)d];
                double e = enter[(size_t)d * run->hist_cells + at];
                if (e != 0)
                    entrant_value += e * rev;
                by_level[level - 1] += c;
                serving += c;
                value += c * rev;
                zsum += c * sec->z_grid[iz];
                scratch[n_cells].value = rev;
                scratch[n_cells].count = c;
                n_cells++;
            }
        }
        /* Top-decile share: the largest 10% of this destination's exporters,
         * taking a fraction of the boundary cell. */
        double top = tm_stats_top_share(scratch, (size_t)n_cells, 0.1, serving, value);
        double tariff = r->tariff[k];
        r->x_serving[k] = serving;
        r->x_entrants[k] = entrants;
        r->x_exiters[k] = exiters;
        r->export_value[k] = value;
        r->entrant_value[k] = entrant_value;
        r->tariff_paid[k] = tariff * value;
        r->mean_log_productivity[k] = serving > 0 ? zsum / serving : NAN;
        r->top10_share[k] = top;
        run->share_serving[k] = serving / (double)run->p->sector[s].firms;
    }
}

/* The integer counts of the period (rounded expected masses when exact). */
static void round_counts(tm_run *run)
{
    tm_period_result *r = &run->res;
    size_t sd = (size_t)run->n_sectors * (size_t)run->n_dest;
    for (size_t k = 0; k < sd; k++) {
        r->serving[k] = llround(r->x_serving[k]);
        r->entrants[k] = llround(r->x_entrants[k]);
        r->exiters[k] = llround(r->x_exiters[k]);
    }
    for (size_t k = 0; k < sd * (size_t)run->levels; k++)
        r->by_level[k] = llround(r->x_by_level[k]);
    for (size_t k = 0; k < (size_t)run->n_sectors * (size_t)run->n_sets; k++)
        r->firms_by_set[k] = llround(r->x_firms_by_set[k]);
    for (size_t k = 0; k < (size_t)run->n_sectors * (size_t)run->n_z * (size_t)run->n_sets; k++)
        r->firms_by_z_set[k] = llround(r->x_firms_by_z_set[k]);
    for (int s = 0; s < run->n_sectors; s++)
        r->deaths[s] = llround(r->x_deaths[s]);
    for (size_t k = 0; k < (size_t)run->n_sectors * (size_t)run->n_types * (size_t)run->n_z * (size_t)run->n_sets; k++)
        r->firms_by_type_z_set[k] = llround(r->x_firms_by_type_z_set[k]);
}

/* run.aggregation: exact. One period of the distribution of sector s's
 * firms, in the order the simulation moves a firm: death (at last
 * period's productivity) and replacement by an entrant serving nothing,
 * the productivity move, the experience step of the markets kept (timing
 * current), the choice (its probabilities from this period's values), and
 * the state carried into next period. Writes the period's masses into the
 * same tables the firm simulation counts into. */
/* Exact aggregation: mass w of row tz (type, z) serves state `served` this
 * period after serving the markets prev_set last period; counted as the
 * firm loop counts a firm. */
static inline void exact_record(const tm_run *run, double *hist, double *trans, double *enter, int tz, int prev_set,
                                int served, double w)
{
    const int set = run->ms.set_of[served];
    const size_t at = (size_t)tz * (size_t)run->n_states + (size_t)served;
    hist[at] += w;
    trans[prev_set * run->n_sets + set] += w;
    unsigned entered = (unsigned)(set & ~prev_set);
    for (int d = 0; entered; d++, entered >>= 1)
        if (entered & 1u)
            enter[(size_t)d * run->hist_cells + at] += w;
}

static void exact_step_sector(tm_run *run, int s, double *hist, double *trans, double *died, double *enter)
{
    const tm_params *p = run->p;
    sector_state *sec = &run->sec[s];
    const tm_mstate *ms = &run->ms;
    const int n_z = run->n_z, N = run->n_states, M = run->n_sets;
    const int next = ms->timing == TM_TIMING_NEXT;
    const size_t per_z = sec->mass_per_z; /* N, or N * N with timing next */
    const int n_types = run->n_types;
    (void)p;
    /* Deaths, then survivors move; mass_next holds the moved survivors.
     * Rows are (type, z): a firm keeps its type until it dies. */
    double born = 0.0;
    memset(sec->mass_next, 0, sec->mass_cells * sizeof(double));
    for (int tz = 0; tz < n_types * n_z; tz++) {
        const int iz = tz % n_z;
        const size_t base = (size_t)(tz - iz) * per_z; /* first row of this type */
        double *row = sec->mass + (size_t)tz * per_z;
        const double *P = sec->P + (size_t)iz * (size_t)n_z;
        for (size_t c = 0; c < per_z; c++) {
            double w = row[c];
            if (w == 0.0)
                continue;
            double dead = w * sec->death[iz];
            died[ms->set_of[c / (next ? (size_t)N : 1)]] += dead;
            born += dead;
            w -= dead;
            for (int jz = 0; jz < n_z; jz++)
                if (P[jz] != 0.0)
                    sec->mass_next[base + (size_t)jz * per_z + c] += w * P[jz];
        }
    }
    /* Entrants serve nothing; their types are equally likely. */
    for (int t = 0; t < n_types; t++)
        for (int jz = 0; jz < n_z; jz++)
            sec->mass_next[((size_t)t * (size_t)n_z + (size_t)jz) * per_z] += born * sec->entry_law[jz] / n_types;
    /* Choices. */
    memset(sec->mass, 0, sec->mass_cells * sizeof(double));
    for (int tz = 0; tz < n_types * n_z; tz++) {
        const double *row = sec->mass_next + (size_t)tz * per_z;
        double *out = sec->mass + (size_t)tz * per_z;
        for (size_t c = 0; c < per_z; c++) {
            double w = row[c];
            if (w == 0.0)
                continue;
            int prev = next ? (int)(c / (size_t)N) : (int)c;
            int prev_set = ms->set_of[prev];
            /* The state the firm decides in, with its probability. */
            int cur_first, cur_last;
            const int *law_start = NULL;
            if (next) {
                cur_first = cur_last = (int)(c % (size_t)N);
            } else {
                /* Experience step of the markets served last period: the
                 * law of served(prev, set(prev)) = prev. */
                law_start = ms->law_start + prev * M + prev_set;
                cur_first = law_start[0];
                cur_last = law_start[1] - 1;
            }
            for (int k = cur_first; k <= cur_last; k++) {
                int cur = next ? k : ms->law_state[k];
                double wc = next ? w : w * ms->law_prob[k];
                if (next) /* served this period: chosen last period */
                    exact_record(run, hist, trans, enter, tz, prev_set, cur, wc);
                const double *pr = sec->prob + ((size_t)tz * (size_t)N + (size_t)cur) * (size_t)M;
                for (int S = 0; S < M; S++) {
                    if (pr[S] == 0.0)
                        continue;
                    double ws = wc * pr[S];
                    if (!next) {
                        int l = ms->served[cur * M + S];
                        exact_record(run, hist, trans, enter, tz, prev_set, l, ws);
                        out[l] += ws;
                        continue;
                    }
                    /* Timing next: the state chosen for next period. */
                    const int *ls = ms->law_start + cur * M + S;
                    for (int q = ls[0]; q < ls[1]; q++)
                        out[(size_t)cur * (size_t)N + ms->law_state[q]] += ws * ms->law_prob[q];
                }
            }
        }
    }
}

/* Economy-wide figures and integer counts once every sector is aggregated. */
static void finish_period(tm_run *run)
{
    double total = 0, non_us = 0;
    for (int s = 0; s < run->n_sectors; s++)
        for (int d = 0; d < run->n_dest; d++) {
            double v = run->res.export_value[(size_t)s * (size_t)run->n_dest + (size_t)d];
            total += v;
            if (d != run->us_index)
                non_us += v;
        }
    run->res.non_us_share = total > 0 ? non_us / total : NAN;
    round_counts(run);
}

/* Fills one sector's period tables: firms by (type, z, state served),
 * moves between market sets, deaths by set, first periods of spells. */
typedef void (*sector_fill)(tm_run *run, int s, double *hist, double *trans, double *died, double *enter);

/* The simulated firms' tables: the threads' integer counts summed (integer
 * counts below 2^53 add exactly in doubles, in any order). */
static void sum_threads(tm_run *run, int s, double *hist, double *trans, double *died, double *enter)
{
    for (int th = 0; th < run->threads; th++) {
        const accum *acc = &run->acc[th];
        for (size_t c = 0; c < run->hist_cells; c++)
            hist[c] += acc->hist[(size_t)s * run->hist_cells + c];
        for (size_t c = 0; c < run->trans_cells; c++)
            trans[c] += acc->trans[(size_t)s * run->trans_cells + c];
        for (int c = 0; c < run->n_sets; c++)
            died[c] += acc->died[(size_t)s * (size_t)run->n_sets + (size_t)c];
        for (size_t c = 0; c < run->enter_cells; c++)
            enter[c] += acc->enter[(size_t)s * run->enter_cells + c];
        for (size_t c = 0; c < run->spell_cells; c++)
            run->res.spells[(size_t)s * run->spell_cells + c] += (int64_t)acc->spell[(size_t)s * run->spell_cells + c];
    }
}

/* Every sector's tables, then the period's aggregates. */
static int aggregate_period(tm_run *run, sector_fill fill, tm_error *err)
{
    const size_t sum_cells = run->hist_cells + run->trans_cells + (size_t)run->n_sets + run->enter_cells;
    double *hist = malloc(sum_cells * sizeof(double));
    cell *scratch = malloc(run->hist_cells * sizeof *scratch);
    if (!hist || !scratch) {
        free(hist);
        free(scratch);
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    }
    double *trans = hist + run->hist_cells, *died = trans + run->trans_cells, *enter = died + run->n_sets;
    memset(run->res.spells, 0, (size_t)run->n_sectors * run->spell_cells * sizeof(int64_t));
    for (int s = 0; s < run->n_sectors; s++) {
        memset(hist, 0, sum_cells * sizeof(double));
        fill(run, s, hist, trans, died, enter);
        aggregate_sector(run, s, hist, trans, died, enter, scratch);
    }
    finish_period(run);
    free(hist);
    free(scratch);
    return 0;
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

    if (run->p->exact)
        return aggregate_period(run, exact_step_sector, err);
    const size_t hist_all = (size_t)run->n_sectors * run->hist_cells;
    const size_t trans_all = (size_t)run->n_sectors * run->trans_cells;
    const size_t died_all = (size_t)run->n_sectors * (size_t)run->n_sets;
    const size_t enter_all = (size_t)run->n_sectors * run->enter_cells;
#pragma omp parallel num_threads(run->threads)
    {
        accum *acc = &run->acc[omp_get_thread_num()];
        memset(acc->hist, 0, hist_all * sizeof(uint32_t));
        memset(acc->trans, 0, trans_all * sizeof(uint32_t));
        memset(acc->died, 0, died_all * sizeof(uint32_t));
        memset(acc->enter, 0, enter_all * sizeof(uint32_t));
        memset(acc->spell, 0, (size_t)run->n_sectors * run->spell_cells * sizeof(uint32_t));
#pragma omp for schedule(static)
        for (size_t b = 0; b < run->n_blocks; b++)
            step_block(run, &run->blocks[b], acc);
    }

    return aggregate_period(run, sum_threads, err);
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

int tm_run_n_states(const tm_run *run)
{
    return run->n_states;
}

const tm_mstate *tm_run_states(const tm_run *run)
{
    return &run->ms;
}

const double *tm_run_z_grid(const tm_run *run, int sector)
{
    return run->sec[sector].z_grid;
}

const uint16_t *tm_run_firm_z(const tm_run *run, int sector)
{
    return run->sec[sector].z;
}

const uint8_t *tm_run_firm_type(const tm_run *run, int sector)
{
    return run->sec[sector].type;
}

int tm_run_n_types(const tm_run *run)
{
    return run->n_types;
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
    size_t pending = run->sec && run->sec[0].pending ? 1 : 0;
    size_t tenure = run->sec && run->sec[0].tenure ? (size_t)run->n_dest : 0;
    size_t type = run->sec && run->sec[0].type ? 1 : 0;
    return (double)(sizeof(uint64_t) + sizeof(uint16_t) + sizeof(uint8_t) + learning + pending + tenure + type);
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
        if (sec->mass) {
            tm_ckbuf_put(b, sec->mass, sec->mass_cells * sizeof(double));
            continue;
        }
        tm_ckbuf_put(b, sec->rng_state, (size_t)n * sizeof *sec->rng_state);
        tm_ckbuf_put(b, sec->z, (size_t)n * sizeof *sec->z);
        tm_ckbuf_put(b, sec->markets, (size_t)n);
        if (sec->pending)
            tm_ckbuf_put(b, sec->pending, (size_t)n);
        if (sec->tenure)
            tm_ckbuf_put(b, sec->tenure, (size_t)n * (size_t)run->n_dest);
        if (sec->type)
            tm_ckbuf_put(b, sec->type, (size_t)n);
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
        if (tm_ckbuf_get(b, &n, sizeof n) || n != sec->n)
            goto bad;
        if (sec->mass) {
            if (tm_ckbuf_get(b, sec->mass, sec->mass_cells * sizeof(double)))
                goto bad;
            for (size_t c = 0; c < sec->mass_cells; c++)
                if (!(sec->mass[c] >= 0.0) || sec->mass[c] > (double)n * (1.0 + 1e-9))
                    goto bad;
            continue;
        }
        if (tm_ckbuf_get(b, sec->rng_state, (size_t)n * sizeof *sec->rng_state) ||
            tm_ckbuf_get(b, sec->z, (size_t)n * sizeof *sec->z) || tm_ckbuf_get(b, sec->markets, (size_t)n))
            goto bad;
        if ((sec->pending && tm_ckbuf_get(b, sec->pending, (size_t)n)) ||
            (sec->tenure && tm_ckbuf_get(b, sec->tenure, (size_t)n * (size_t)run->n_dest)) ||
            (sec->type && tm_ckbuf_get(b, sec->type, (size_t)n)))
            goto bad;
        for (int64_t i = 0; i < n; i++)
            if (sec->z[i] >= run->n_z || (int)(sec->markets[i] & TM_SET_MASK) >= run->n_states ||
                (sec->pending && sec->pending[i] >= run->n_states) || (sec->type && sec->type[i] >= run->n_types))
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
