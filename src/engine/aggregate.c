/* aggregate: a period's aggregates from the counts of firms by
 * (type, productivity, market state), moves between market sets, deaths
 * and entries: integers when firms are simulated, expected masses with
 * run.aggregation: exact; both land in the same tables. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/stats.h"
#include "engine/exchange_rate.h"
#include "engine/run_state.h"

/* Aggregates of one sector from the summed counts: integers held exactly
 * in doubles when firms are simulated (so the result does not depend on the
 * order of the sums), then weighted by 1 / run.resolution; expected masses
 * with run.aggregation: exact. */
static void aggregate_sector(tm_run *run, int s, const double *hist, const double *trans, const double *died,
                             const double *enter, tm_stats_cell *scratch)
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
    /* Each slot weighs w = 1 / run.resolution (eq. 37): the sums of slots
     * are scaled once, after they are complete. */
    const double w = tm_params_slot_weight(run->p);
    if (w != 1.0) {
        for (size_t c = 0; c < (size_t)n_z * (size_t)n_sets; c++)
            by_z_set[c] *= w;
        for (size_t c = 0; c < (size_t)run->n_types * (size_t)n_z * (size_t)n_sets; c++)
            by_tz_set[c] *= w;
        for (int S = 0; S < n_sets; S++)
            by_set[S] *= w;
    }
    for (int S = 0; S < n_sets; S++)
        deaths += died[S];
    r->x_deaths[s] = w * deaths;
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
        double tariff = r->paid_tariff[k];
        for (int l = 0; w != 1.0 && l < K; l++)
            by_level[l] *= w;
        serving *= w;
        entrants *= w;
        exiters *= w;
        value *= w;
        entrant_value *= w;
        zsum *= w;
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

/* The real exchange rate of the period (docs/model.md section 11, eq. 33):
 * the sectors' export values were computed at the rate firms chose at,
 * e_c = e_{t-1}; the rate e_t solves ln e = -eta_e ln(X(e) / Xbar) with
 * X(e) = sum_s (e / e_c)^(sigma theta_s) X_s, since multiplying every
 * foreign demand by g multiplies a sector's revenue by g^theta_s in every
 * state (eq. 4; theta_s = 1 at gamma_s = 0). Revenue, entrants' revenue
 * and the tariff paid then scale by (e_t / e_c)^(sigma theta_s), and so do
 * the revenue tables (the firm panel reads them). In burn-in e = 1 and the
 * last burn-in period sets Xbar. */
static int settle_exchange_rate(tm_run *run, tm_error *err)
{
    tm_period_result *r = &run->res;
    tm_env *env = &run->env;
    const int n_dest = run->n_dest, n_sectors = run->n_sectors;
    r->exchange_rate = 1.0;
    if (!tm_fx_on(run->p))
        return 0;
    double *exports = calloc(2 * (size_t)n_sectors, sizeof(double));
    if (!exports)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    double *exponent = exports + n_sectors, total = 0.0;
    for (int s = 0; s < n_sectors; s++) {
        tm_profit_fn fn;
        tm_econ_sector_profit_fn(&fn, run->p, s);
        exponent[s] = fn.sigma * fn.theta;
        for (int d = 0; d < n_dest; d++)
            exports[s] += r->export_value[(size_t)s * (size_t)n_dest + (size_t)d];
        total += exports[s];
    }
    if (run->period < 0) {
        if (run->period == -1)
            env->fx_reference = total;
        free(exports);
        return 0;
    }
    double log_rate;
    if (tm_fx_solve(run->p->exchange_elasticity, env->fx_log_rate, n_sectors, exponent, exports, env->fx_reference,
                    &log_rate)) {
        free(exports);
        return tm_error_set(err, TM_ERR_RUNTIME,
                            "exchange_rate: no real exchange rate in period %s: export value %g, reference (last "
                            "burn-in period) %g; both must be positive",
                            r->label, total, env->fx_reference);
    }
    for (int s = 0; s < n_sectors; s++) {
        double g = exp(exponent[s] * (log_rate - env->fx_log_rate));
        for (int d = 0; d < n_dest; d++) {
            size_t k = (size_t)s * (size_t)n_dest + (size_t)d;
            r->export_value[k] *= g;
            r->entrant_value[k] *= g;
            r->tariff_paid[k] *= g;
        }
        double *revenue = run->sec[s].revenue;
        size_t cells = run->hist_cells * (size_t)n_dest;
        for (size_t c = 0; c < cells; c++)
            revenue[c] *= g;
    }
    env->fx_log_rate = log_rate;
    r->exchange_rate = exp(log_rate);
    free(exports);
    return 0;
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

/* The joint table of sector s (src/engine/kernel.c, step_block_joint)
 * spread onto the period's tables: a firm counted in (z, k, S) serves S at
 * z, moved from set k (from 0 if k >= n_sets: it died in set k - n_sets
 * and an entrant took its slot) and entered every destination of S that
 * its former set lacked. */
static void add_joint(const tm_run *run, const double *joint, double *hist, double *trans, double *died, double *enter)
{
    const size_t n_sets = (size_t)run->n_sets, keys = 2 * n_sets;
    for (size_t z = 0; z < (size_t)run->n_z; z++)
        for (size_t k = 0; k < keys; k++)
            for (size_t S = 0; S < n_sets; S++) {
                const double c = joint[(z * keys + k) * n_sets + S];
                if (c == 0)
                    continue;
                const size_t from = k < n_sets ? k : 0, at = z * n_sets + S;
                hist[at] += c;
                trans[from * n_sets + S] += c;
                if (k >= n_sets)
                    died[k - n_sets] += c;
                for (size_t d = 0, entered = S & ~from; entered; d++, entered >>= 1)
                    if (entered & 1u)
                        enter[d * run->hist_cells + at] += c;
            }
}

/* The simulated firms' tables from the counts the kernel summed over its
 * threads: the joint table spread (run->sum), or, from the general loop,
 * the tables as the kernel's merge wrote them, and the ended spells. */
void tm_run_count_firms(tm_run *run, int s, double *hist, double *trans, double *died, double *enter)
{
    const count_sums *sum = &run->sum;
    if (run->joint_cells) {
        memset(hist, 0, run->table_cells * sizeof(double));
        add_joint(run, sum->joint + (size_t)s * run->joint_cells, hist, trans, died, enter);
        return;
    }
    for (size_t c = 0; c < run->spell_cells; c++)
        run->res.spells[(size_t)s * run->spell_cells + c] += (int64_t)sum->spell[(size_t)s * run->spell_cells + c];
}

/* Every sector's tables and aggregates. Sectors are independent (each
 * writes its own slots; the sums inside one keep their order), so they
 * are shared out among the threads of the team that calls this, up to
 * one a thread; called outside a parallel region, one thread does all. */
void tm_run_aggregate_sectors(tm_run *run, tm_run_sector_fill fill)
{
#pragma omp for schedule(static)
    for (int s = 0; s < run->n_sectors; s++) {
        double *hist = run->tables + (size_t)s * run->table_cells;
        double *trans = hist + run->hist_cells, *died = trans + run->trans_cells, *enter = died + run->n_sets;
        memset(run->res.spells + (size_t)s * run->spell_cells, 0, run->spell_cells * sizeof(int64_t));
        fill(run, s, hist, trans, died, enter);
        aggregate_sector(run, s, hist, trans, died, enter, run->top_cells + (size_t)s * run->hist_cells);
    }
}

/* The economy-wide figures, in sector order, once every sector is done. */
int tm_run_finish_aggregates(tm_run *run, tm_error *err)
{
    if (settle_exchange_rate(run, err))
        return -1;
    finish_period(run);
    return 0;
}

int tm_run_aggregate_period(tm_run *run, tm_run_sector_fill fill, tm_error *err)
{
    const int team = run->threads < run->n_sectors ? run->threads : run->n_sectors;
#pragma omp parallel num_threads(team) if (team > 1)
    tm_run_aggregate_sectors(run, fill);
    return tm_run_finish_aggregates(run, err);
}
