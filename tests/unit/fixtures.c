#include "fixtures.h"

#include <criterion/criterion.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/economy.h"
#include "engine/grid.h"
#include "io/checkpoint.h"

tm_params *fixture_params(const char *name, const char *text, const char *const *sets, int n_sets)
{
    tm_params *p = NULL;
    tm_error err = {0};
    int rc = tm_params_load_text(name, text, sets, n_sets, &p, &err);
    cr_assert_eq(rc, 0, "parameters: %s", err.msg);
    return p;
}

tm_params *fixture_params_set(const char *name, const char *text, const char *set)
{
    const char *sets[] = {set};
    return fixture_params(name, text, sets, set ? 1 : 0);
}

tm_params *fixture_params_fmt(const char *name, const char *const *sets, int n_sets, const char *format, ...)
{
    char text[16384];
    va_list ap;
    va_start(ap, format);
    int n = vsnprintf(text, sizeof text, format, ap);
    va_end(ap);
    cr_assert(n >= 0 && (size_t)n < sizeof text, "parameter text of %d bytes does not fit the fixture's buffer", n);
    return fixture_params(name, text, sets, n_sets);
}

tm_run *fixture_run(const tm_params *p, int threads)
{
    tm_run *run = NULL;
    tm_error err = {0};
    tm_run_options opts = {.threads = threads};
    cr_assert_eq(tm_run_open(p, &opts, &run, &err), 0, "open: %s", err.msg);
    return run;
}

void fixture_step(tm_run *run)
{
    tm_error err = {0};
    cr_assert_eq(tm_run_step(run, &err), 0, "step: %s", err.msg);
}

void fixture_finish(tm_run *run)
{
    while (!tm_run_finished(run))
        fixture_step(run);
}

tm_run *fixture_run_copy(const tm_params *p, const tm_run *run, int threads)
{
    tm_ckbuf saved = {0};
    tm_error err = {0};
    cr_assert_eq(tm_run_save(run, &saved, &err), 0, "save: %s", err.msg);
    saved.pos = 0;
    tm_run *copy = fixture_run(p, threads);
    cr_assert_eq(tm_run_restore(copy, &saved, &err), 0, "restore: %s", err.msg);
    cr_assert_eq(saved.pos, saved.len, "the whole state is read back");
    tm_ckbuf_free(&saved);
    return copy;
}

void fixture_expect_resume_continues(tm_params *p, int period)
{
    tm_run *run = fixture_run(p, 1);
    do
        fixture_step(run);
    while (tm_run_result(run)->period < period);
    tm_run *copy = fixture_run_copy(p, run, 1);
    const size_t cells = (size_t)p->n_sectors * (size_t)p->n_dest;
    while (!tm_run_finished(run)) {
        fixture_step(run);
        fixture_step(copy);
        const tm_period_result *a = tm_run_result(run), *b = tm_run_result(copy);
        cr_expect_eq(memcmp(a->export_value, b->export_value, cells * sizeof(double)), 0, "period %d", a->period);
        cr_expect_eq(a->exchange_rate, b->exchange_rate, "period %d: exchange rate", a->period);
    }
    tm_run_close(copy);
    tm_run_close(run);
    tm_params_free(p);
}

void fixture_sim_open(fixture_sim *s, tm_params *p, int threads)
{
    s->p = p;
    s->run = fixture_run(p, threads);
    s->result = NULL;
}

int fixture_sim_next(fixture_sim *s)
{
    if (tm_run_finished(s->run))
        return 0;
    fixture_step(s->run);
    s->result = tm_run_result(s->run);
    return 1;
}

void fixture_sim_close(fixture_sim *s)
{
    tm_run_close(s->run);
    tm_params_free(s->p);
    s->run = NULL;
    s->p = NULL;
    s->result = NULL;
}

void fixture_simulate(const tm_params *p, fixture_path *out)
{
    cr_assert_leq(p->periods, FIXTURE_MAX_PERIODS);
    memset(out, 0, sizeof *out);
    out->periods = p->periods;
    tm_run *run = fixture_run(p, 2);
    while (!tm_run_finished(run)) {
        fixture_step(run);
        const tm_period_result *r = tm_run_result(run);
        int t = r->period;
        if (t < 0)
            continue;
        for (int d = 0; d < p->n_dest; d++) {
            out->serving[t][d] = r->serving[d];
            out->entrants[t][d] = r->entrants[d];
            out->exiters[t][d] = r->exiters[d];
            out->regime[t][d] = r->regime[d];
        }
        for (int S = 0; S < tm_n_sets(p->n_dest); S++)
            out->by_set[t][S] = r->firms_by_set[S];
    }
    tm_run_close(run);
}

int64_t fixture_path_entrants(const fixture_path *path, int d, int first, int end)
{
    int64_t sum = 0;
    for (int t = first; t < end; t++)
        sum += path->entrants[t][d];
    return sum;
}

void fixture_expect_same_path(const fixture_path *a, const fixture_path *b, int end)
{
    for (int t = 0; t < end; t++) {
        cr_expect_eq(a->serving[t][0], b->serving[t][0], "serving, period %d", t);
        cr_expect_eq(a->entrants[t][0], b->entrants[t][0], "entrants, period %d", t);
    }
}

void fixture_expect_foresight_lowers_entry(tm_params *foreseen, tm_params *surprise, int date, fixture_path *a,
                                           fixture_path *b)
{
    fixture_simulate(foreseen, a);
    fixture_simulate(surprise, b);
    int64_t entry_a = fixture_path_entrants(a, 0, 0, date), entry_b = fixture_path_entrants(b, 0, 0, date);
    cr_expect_lt(entry_a, entry_b, "entrants before period %d: %lld foreseen, %lld unforeseen", date,
                 (long long)entry_a, (long long)entry_b);
    tm_params_free(foreseen);
    tm_params_free(surprise);
}

void fixture_cutoffs(const tm_params *p, int j, int d, double *entry, double *exit_cut)
{
    void *state = NULL;
    tm_error err = {0};
    cr_assert_eq(tm_model_open(&tm_model_dynamic, p, 1, &state, &err), 0, "init: %s", err.msg);
    tm_policy_summary sum;
    cr_assert_eq(tm_model_dynamic.summary(state, 0, &sum), 0);
    *entry = sum.entry_cutoff[j * p->n_dest + d];
    *exit_cut = sum.exit_cutoff[j * p->n_dest + d];
    tm_model_dynamic.free(state);
}

void fixture_env_open(fixture_env *e, tm_params *p)
{
    tm_error err = {0};
    e->p = p;
    cr_assert_eq(tm_env_init(&e->env, p, &err), 0, "environment: %s", err.msg);
}

void fixture_env_close(fixture_env *e)
{
    tm_env_free(&e->env);
    tm_params_free(e->p);
    e->p = NULL;
}

void fixture_env_advance(fixture_env *e, int first, int last)
{
    for (int t = first; t <= last; t++)
        tm_env_advance(&e->env, t, NULL);
}

int fixture_env_first_move(fixture_env *e, int d, int regime, int first, int last)
{
    for (int t = first; t <= last; t++) {
        tm_env_advance(&e->env, t, NULL);
        if (e->env.regime[d] != regime)
            return t;
    }
    return last + 1;
}

void fixture_env_expect_switch_rows(fixture_env *e, int d, int first, int last, const double *P, int stride)
{
    int n = e->p->dest[d].n_regimes;
    long moves[TM_MAX_REGIMES][TM_MAX_REGIMES] = {{0}}, from[TM_MAX_REGIMES] = {0};
    tm_env_advance(&e->env, first, NULL);
    int prev = e->env.regime[d];
    for (int t = first + 1; t <= last; t++) {
        tm_env_advance(&e->env, t, NULL);
        moves[prev][e->env.regime[d]]++;
        from[prev]++;
        prev = e->env.regime[d];
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double q = P[i * stride + j], freq = (double)moves[i][j] / (double)from[i];
            double se = sqrt(q * (1.0 - q) / (double)from[i]);
            cr_expect_lt(fabs(freq - q), 5.0 * se, "destination %d, %d -> %d: %.5f vs %.5f (se %.5f)", d, i, j, freq, q,
                         se);
        }
}

void fixture_ctx_open(fixture_ctx *f, const tm_params *p, int sector)
{
    memset(f, 0, sizeof *f);
    f->p = p;
    tm_error err = {0};
    cr_assert_eq(tm_env_init(&f->env, p, &err), 0, "environment: %s", err.msg);
    f->n_z = p->grid_points;
    f->n_sets = tm_n_sets(p->n_dest);
    cr_assert_eq(tm_grid_tables_init(&f->grids, p, &err), 0, "grids: %s", err.msg);
    f->z = f->grids.z + (size_t)sector * (size_t)f->n_z;
    f->P = f->grids.P + (size_t)sector * (size_t)f->n_z * (size_t)f->n_z;
    size_t cells = (size_t)f->n_z * (size_t)f->n_sets;
    f->flow = malloc(cells * sizeof(double));
    f->revenue = malloc(cells * (size_t)p->n_dest * sizeof(double));
    f->value = malloc(cells * (size_t)f->n_sets * sizeof(double));
    cr_assert(f->flow && f->revenue && f->value);
    const tm_sector *ps = &p->sector[sector];
    tm_profit_fn fn;
    tm_econ_sector_profit_fn(&fn, p, sector);
    tm_conditions cond;
    memset(&cond, 0, sizeof cond);
    for (int d = 0; d < p->n_dest; d++) {
        cond.tariff[d] = tm_env_tariff(&f->env, sector, d);
        cond.closed[d] = tm_env_closed(&f->env, sector, d);
        cond.demand[d] = ps->market[d].demand;
        cond.sunk[d] = ps->market[d].sunk_cost;
        f->sunk[d] = cond.sunk[d];
    }
    tm_econ_tables(&fn, ps, p->n_dest, &cond, f->z, f->n_z, f->flow, f->revenue);
    f->ctx = (tm_choice_ctx){
        .sector = sector,
        .period = -p->burn_in,
        .n_z = f->n_z,
        .n_sets = f->n_sets,
        .n_dest = p->n_dest,
        .z_grid = f->z,
        .P = f->P,
        .flow = f->flow,
        .sunk = f->sunk,
        .regime = f->env.regime,
        .death_rate = ps->death_rate,
        .process = &f->env.process[sector],
        .threads = 1,
    };
}

void fixture_ctx_close(fixture_ctx *f)
{
    tm_env_free(&f->env);
    tm_grid_tables_free(&f->grids);
    free(f->flow);
    free(f->revenue);
    free(f->value);
}

const char *const fixture_ban_world =
    "run: {periods: 10, burn_in: 20, seed: 77, %s}\n"
    "decision: {discount: 0.95}\n"
    "sectors:\n"
    "  canola: {firms: 3000, persistence: 0.9, volatility: 0.2}\n"
    "  steel: {firms: 3000, persistence: 0.9, volatility: 0.2}\n"
    "destinations:\n"
    "  US:\n"
    "    market: {demand: 1, fixed_cost: 0.3, sunk_cost: 0.5}\n"
    "    regimes: {open: {}}\n"
    "  CN:\n"
    "    market: {demand: 0.8, fixed_cost: 0.3, sunk_cost: 0.5}\n"
    "    regimes:\n"
    "      normal: {}\n"
    "      ban: %s\n"
    "    transition: %s\n"
    "%s";
