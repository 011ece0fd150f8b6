/* run: one run of the engine, period by period: open (the environment,
 * the grids, the model, every sector's firms), step (the policies of the
 * period, then the firm loop or the exact distribution, then the
 * aggregates), the accessors output and tests read, close. The parts of a
 * period live in firms.c, kernel.c, aggregate.c and exact.c, checkpoints in
 * run_checkpoint.c; their shared state in run_state.h. */
#include "engine/run.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "engine/exchange_rate.h"
#include "engine/run_state.h"

void tm_run_close(tm_run *run)
{
    if (!run)
        return;
    if (run->model && run->model_state)
        run->model->free(run->model_state);
    for (int s = 0; run->sec && s < run->n_sectors; s++)
        tm_run_sector_free(&run->sec[s]);
    free(run->sec);
    free(run->blocks);
    for (int t = 0; run->acc && t < run->threads; t++) {
        free(run->acc[t].hist);
        free(run->acc[t].trans);
        free(run->acc[t].died);
        free(run->acc[t].enter);
        free(run->acc[t].spell);
        free(run->acc[t].joint);
    }
    free(run->acc);
    free(run->sum.spell);
    free(run->sum.joint);
    free(run->tables);
    free(run->top_cells);
    free(run->share_serving);
    free(run->stock);
    free(run->resid);
    free(run->within_flow);
    free(run->within_revenue);
    tm_mstate_free(&run->ms);
    tm_env_free(&run->env);
    tm_grid_tables_free(&run->grids);
    tm_period_result *r = &run->res;
    free(r->serving);
    free(r->entrants);
    free(r->exiters);
    free(r->export_value);
    free(r->tariff_paid);
    free(r->mean_log_productivity);
    free(r->top10_share);
    free(r->tariff);
    free(r->statutory_tariff);
    free(r->paid_tariff);
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
    r->statutory_tariff = calloc(sd, sizeof(double));
    r->paid_tariff = calloc(sd, sizeof(double));
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
    if (tm_econ_adjusts(run->p) && !(run->stock = calloc(sd, sizeof(double))))
        return -1;
    if (tm_run_residual_on(run->p) && !(run->resid = calloc(4 * sd, sizeof(double))))
        return -1;
    if (run->env.before) {
        size_t cells = (size_t)run->n_z * (size_t)run->n_states;
        run->within_flow = malloc(cells * sizeof(double));
        run->within_revenue = malloc(cells * (size_t)run->n_dest * sizeof(double));
        if (!run->within_flow || !run->within_revenue)
            return -1;
    }
    return r->serving && r->entrants && r->exiters && r->export_value && r->tariff_paid && r->mean_log_productivity &&
                   r->top10_share && r->tariff && r->statutory_tariff && r->paid_tariff && r->firms_by_set &&
                   r->firms_by_z_set && r->by_level && r->entrant_value && r->spells && r->deaths && r->x_serving &&
                   r->x_entrants && r->x_exiters && r->x_firms_by_set && r->x_firms_by_z_set && r->x_deaths &&
                   r->x_by_level && r->firms_by_type_z_set && r->x_firms_by_type_z_set && r->events &&
                   run->share_serving
               ? 0
               : -1;
}

/* The threads' count tables and their sums, zero (the kernel's merge
 * zeroes the threads' tables again after each period), and the period's
 * tables of each sector. */
static int alloc_counts(tm_run *run)
{
    const size_t sectors = (size_t)run->n_sectors;
    for (int t = 0; t < run->threads; t++) {
        accum *acc = &run->acc[t];
        acc->hist = calloc(sectors * run->hist_cells * TM_COUNT_LANES, sizeof(uint32_t));
        acc->trans = calloc(sectors * run->trans_cells * TM_COUNT_LANES, sizeof(uint32_t));
        acc->died = calloc(sectors * (size_t)run->n_sets, sizeof(uint32_t));
        acc->enter = calloc(sectors * run->enter_cells * TM_COUNT_LANES, sizeof(uint32_t));
        acc->spell = calloc(sectors * run->spell_cells, sizeof(uint32_t));
        if (run->joint_cells)
            acc->joint = calloc(sectors * run->joint_cells * TM_JOINT_LANES, sizeof(uint32_t));
        if (!acc->hist || !acc->trans || !acc->died || !acc->enter || !acc->spell || (run->joint_cells && !acc->joint))
            return -1;
    }
    run->table_cells = run->hist_cells + run->trans_cells + (size_t)run->n_sets + run->enter_cells;
    run->tables = malloc(sectors * run->table_cells * sizeof(double));
    run->top_cells = malloc(sectors * run->hist_cells * sizeof *run->top_cells);
    if (!run->tables || !run->top_cells)
        return -1;
    count_sums *sum = &run->sum;
    if (run->p->exact)
        return 0;
    if (run->joint_cells)
        return (sum->joint = calloc(sectors * run->joint_cells, sizeof(double))) ? 0 : -1;
    return (sum->spell = calloc(sectors * run->spell_cells, sizeof(double))) ? 0 : -1;
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
    /* Each period's firm loop runs on the team that measured fastest
     * (engine/team.h), or on all threads with TRADEABM_FIXED_TEAM=1 (as
     * `tradeabm bench` sets it, to measure the engine's scaling). Results
     * are the same either way. */
    const char *fixed = getenv("TRADEABM_FIXED_TEAM");
    tm_team_init(&run->team, run->threads, !(fixed && *fixed && strcmp(fixed, "0")));
    run->period = -p->burn_in - 1;
    run->us_index = tm_params_us_index(p);
    tm_demand_types_init(&run->types, p);
    if (tm_env_init(&run->env, p, err) || tm_grid_tables_init(&run->grids, p, err))
        goto fail;
    run->model = tm_model_lookup(p->model);
    if (!run->model) {
        tm_error_set(err, TM_ERR_INPUT, "run.model: the %s model is not available in this build",
                     tm_model_name(p->model));
        goto fail;
    }
    if (p->exact && p->spells) {
        tm_error_set(err, TM_ERR_INPUT,
                     "run.spells: not available with run.aggregation: exact (spells belong to "
                     "single firms); use run.aggregation: firms");
        goto fail;
    }
    /* The model is prepared on the firms' grids, with the run's threads. */
    tm_model_env model_env = {.threads = run->threads, .grids = &run->grids, .process = run->env.process};
    if (opts)
        model_env.progress = opts->progress;
    if (run->model->init(p, &model_env, &run->model_state, err))
        goto fail;
    if (p->exact && run->model->belief_classes) {
        tm_error_set(err, TM_ERR_INPUT,
                     "run.aggregation: exact is not available for the %s model (firms' beliefs "
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
        n_blocks += (size_t)((tm_params_slots(p, s) + TM_BLOCK - 1) / TM_BLOCK);
    run->blocks = malloc((n_blocks ? n_blocks : 1) * sizeof *run->blocks);
    run->acc = calloc((size_t)run->threads, sizeof *run->acc);
    if (!run->blocks || !run->acc) {
        tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        goto fail;
    }
    run->n_blocks = 0;
    for (int s = 0; s < p->n_sectors && !p->exact; s++)
        for (int64_t start = 0; start < tm_params_slots(p, s); start += TM_BLOCK) {
            block *b = &run->blocks[run->n_blocks++];
            b->sector = s;
            b->start = start;
            b->end = start + TM_BLOCK < tm_params_slots(p, s) ? start + TM_BLOCK : tm_params_slots(p, s);
        }
    run->hist_cells = (size_t)run->n_types * (size_t)run->n_z * (size_t)run->n_states;
    run->trans_cells = (size_t)run->n_sets * (size_t)run->n_sets;
    run->enter_cells = (size_t)run->n_dest * run->hist_cells;
    run->spell_cells = (size_t)run->n_dest * TM_SPELL_MAX;
    run->joint_cells = tm_run_joint_cells(run);
    if (alloc_counts(run)) {
        tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        goto fail;
    }
    for (int s = 0; s < p->n_sectors; s++)
        if (tm_run_sector_init(run, s, err))
            goto fail;
    *out = run;
    return 0;
fail:
    tm_run_close(run);
    return -1;
}

/* The conditions sector s faces under regimes `regime` and process `pr`
 * given last period's shares: its markets (dated paths), fixed costs and
 * the per-destination conditions of the profit tables. */
static void sector_conditions(const tm_run *run, int s, const int *regime, const tm_process *pr, tm_sector *here,
                              double *fixed, tm_conditions *cond)
{
    const tm_params *p = run->p;
    *here = p->sector[s];
    for (int d = 0; d < run->n_dest; d++) {
        here->market[d] = tm_process_market(p, pr, s, d);
        fixed[d] = here->market[d].fixed_cost;
        double share = run->share_serving[(size_t)s * (size_t)run->n_dest + (size_t)d];
        cond->tariff[d] = tm_process_tariff(p, pr, s, d, regime[d]);
        tm_econ_closure(&p->dest[d].regime[regime[d]], s, run->n_z, run->sec[s].pi, &cond->closed[d],
                        &cond->closed_top[d]);
        cond->demand[d] = tm_econ_crowded_demand(here->market[d].demand, p->crowding, share);
        if (tm_fx_on(p)) /* firms choose at last period's real exchange rate (docs/model.md section 11) */
            cond->demand[d] *= tm_fx_demand_factor(p->elasticity, run->env.fx_log_rate);
        cond->sunk[d] = tm_econ_spillover_sunk(here->market[d].sunk_cost, p->spillover, share);
    }
}

/* A period with events dated within it (docs/model.md section 10): the
 * flow and revenue tables of sector s become the time-weighted mix
 * x before + (1 - x) after (a state infeasible in either part stays
 * infeasible), and the tariff paid per unit of revenue in d is the mix of
 * the two rates weighted by revenue, x t_b a_b / (x a_b + (1 - x) a_a) +
 * ..., exact with capacity elasticity 0 since revenue in d is then
 * proportional to the market weight a_d of eq. 2 in every state. */
static void mix_within(tm_run *run, int s, const tm_profit_fn *profit, const tm_conditions *after)
{
    const tm_params *p = run->p;
    sector_state *sec = &run->sec[s];
    const double x = run->env.within;
    tm_sector before_sector;
    tm_conditions before;
    double fixed[TM_MAX_DEST];
    sector_conditions(run, s, run->env.before_regime, &run->env.before[s], &before_sector, fixed, &before);
    const size_t cells = (size_t)run->n_z * (size_t)run->n_states;
    for (int t = 0; t < run->n_types; t++) {
        tm_conditions typed = before;
        for (int d = 0; d < run->n_dest; d++)
            typed.demand[d] = before.demand[d] * tm_demand_types_multiplier(&run->types, t, d);
        double *flow = sec->flow + (size_t)t * cells, *revenue = sec->revenue + (size_t)t * cells * (size_t)run->n_dest;
        tm_econ_state_tables(profit, &before_sector, &run->ms, &typed, sec->z_grid, run->n_z, run->within_flow,
                             run->within_revenue);
        for (size_t c = 0; c < cells; c++)
            flow[c] = isinf(flow[c]) || isinf(run->within_flow[c]) ? -INFINITY
                                                                   : x * run->within_flow[c] + (1.0 - x) * flow[c];
        for (size_t c = 0; c < cells * (size_t)run->n_dest; c++)
            revenue[c] = x * run->within_revenue[c] + (1.0 - x) * revenue[c];
    }
    for (int d = 0; d < run->n_dest; d++) {
        double a_b = x *
                     tm_econ_weight(before.demand[d], before_sector.market[d].iceberg, before.tariff[d], p->elasticity);
        double a_a = (1.0 - x) * tm_econ_weight(after->demand[d],
                                                tm_process_market(p, &run->env.process[s], s, d).iceberg,
                                                after->tariff[d], p->elasticity);
        size_t k = (size_t)s * (size_t)run->n_dest + (size_t)d;
        run->res.paid_tariff[k] = a_b + a_a > 0.0 ? (a_b * before.tariff[d] + a_a * after->tariff[d]) / (a_b + a_a)
                                                  : after->tariff[d];
    }
}

int tm_run_residual_on(const tm_params *p)
{
    for (int s = 0; s < p->n_sectors; s++)
        for (int d = 0; d < p->n_dest; d++)
            if (p->sector[s].market[d].market_share > 0.0)
                return 1;
    return 0;
}

/* Eq. 36: the multiplier m of sector s's demand in d this period. While a
 * partial closure of d is in force, ln m moves (at the market's
 * switching_rate a period, else demand.adjustment) towards
 * -ln((1 - mu) + mu nu), nu last period's supply of the sector in d
 * (export value over m) relative to its supply in the last period before
 * the closure; otherwise towards 0. Without a closure ln m
 * stays exactly 0 and demand is untouched, bit for bit. */
static double residual_step(tm_run *run, int s, int d, int closed, int closed_top)
{
    const size_t sd = (size_t)run->n_sectors * (size_t)run->n_dest, k = (size_t)s * (size_t)run->n_dest + (size_t)d;
    double *log_m = &run->resid[k], *ref = &run->resid[sd + k], *was_closed = &run->resid[3 * sd + k];
    const double supply = run->resid[2 * sd + k]; /* 0 before the first period */
    const double mu = run->p->sector[s].market[d].market_share, rate = run->p->sector[s].market[d].switching_rate;
    const double lambda = isnan(rate) ? run->p->demand_adjustment : rate;
    const int partial = !closed && closed_top > 0;
    if (*was_closed == 0.0 && supply > 0.0)
        *ref = supply;
    double target = 0.0;
    if (partial && mu > 0.0 && supply > 0.0 && *ref > 0.0)
        target = -log((1.0 - mu) + mu * (supply / *ref));
    *log_m = (1.0 - lambda) * *log_m + lambda * target;
    *was_closed = closed || partial ? 1.0 : 0.0;
    return exp(*log_m);
}

void tm_run_residual_observe(tm_run *run)
{
    if (!run->resid)
        return;
    const size_t sd = (size_t)run->n_sectors * (size_t)run->n_dest;
    for (size_t k = 0; k < sd; k++)
        run->resid[2 * sd + k] = run->res.export_value[k] / exp(run->resid[k]);
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
        /* The sector with its markets under the process in force (dated
         * demand and cost paths, docs/model.md section 10). */
        tm_sector here;
        const tm_sector *ps = &here;
        tm_conditions cond;
        tm_profit_fn profit;
        tm_econ_sector_profit_fn(&profit, p, s);
        double fixed[TM_MAX_DEST];
        sector_conditions(run, s, regime, &run->env.process[s], &here, fixed, &cond);
        for (int d = 0; d < run->n_dest; d++) {
            size_t k = (size_t)s * (size_t)run->n_dest + (size_t)d;
            if (run->stock) {
                /* Eq. 2b: the stock starts at its steady state in the first
                 * period and moves towards this period's tariff. */
                double *L = &run->stock[k];
                *L = run->period == -p->burn_in ? log1p(cond.tariff[d]) : tm_econ_stock_step(p, *L, cond.tariff[d]);
                cond.demand[d] *= tm_econ_adjusted_demand(p, cond.tariff[d], *L);
            }
            if (run->resid)
                cond.demand[d] *= residual_step(run, s, d, cond.closed[d], cond.closed_top[d]);
            run->res.tariff[k] = run->res.paid_tariff[k] = cond.tariff[d];
            run->res.statutory_tariff[k] = tm_env_statutory_tariff(&run->env, s, d);
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
            .process = &run->env.process[s],
            .threads = run->threads,
            .share_serving = run->share_serving + (size_t)s * (size_t)run->n_dest,
        };
        /* One set of tables and one policy per demand type (one without). */
        const size_t cells = (size_t)run->n_z * (size_t)run->n_states;
        int classes_in_use = sec->n_classes;
        for (int t = 0; t < run->n_types; t++) {
            tm_conditions typed = cond;
            for (int d = 0; d < run->n_dest; d++)
                typed.demand[d] = cond.demand[d] * tm_demand_types_multiplier(&run->types, t, d);
            tm_econ_state_tables(&profit, ps, &run->ms, &typed, sec->z_grid, run->n_z, sec->flow + (size_t)t * cells,
                                 sec->revenue + (size_t)t * cells * (size_t)run->n_dest);
        }
        if (run->env.within > 0.0)
            mix_within(run, s, &profit, &cond);
        for (int t = 0; t < run->n_types; t++) {
            double *flow = sec->flow + (size_t)t * cells;
            ctx.flow = flow;
            ctx.type = t;
            if (sec->classes) {
                /* One policy per (belief class, type); firms pick theirs by
                 * birth cohort and type. The model observes the period once. */
                if (t == 0)
                    classes_in_use = run->model->belief_classes(run->model_state, &ctx, -p->burn_in,
                                                                run->period + p->burn_in + 1, sec->class_of_birth);
                for (int k = 0; k < classes_in_use; k++) {
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

    int rc;
    if (run->p->exact) {
        rc = tm_run_aggregate_period(run, tm_run_exact_step, err);
    } else {
        tm_run_kernel_step(run);
        rc = tm_run_finish_aggregates(run, err);
    }
    if (!rc)
        tm_run_residual_observe(run);
    return rc;
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

const tm_demand_types *tm_run_demand_types(const tm_run *run)
{
    return &run->types;
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
