/* test_process: what each kind of scenario event does to the regime
 * process a sector faces, and that the environment (which applies events
 * as they happen) and the dynamic programme (which applies the anticipated
 * ones ahead of time, or adopts the process in force after a surprise)
 * see the same process after every event kind. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/env.h"
#include "engine/grid.h"
#include "engine/process.h"
#include "fixtures.h"
#include "models/bellman.h"
#include "params/params.h"

/* Two sectors, US with three regimes, CN with two; 2024Q1 is period 0.
 * One event of every kind, sector-specific where the kind allows it. */
static const char *const world =
    "run: {model: dynamic, periods: 8, burn_in: 0, seed: 11}\n"
    "productivity: {grid: 21}\n"
    "decision: {tolerance: 1e-6}\n"
    "sectors:\n"
    "  steel: {firms: 100}\n"
    "  agri: {firms: 100}\n"
    "destinations:\n"
    "  US:\n"
    "    regimes: {open: {tariff: 0}, threat: {tariff: 0.05}, war: {tariff: 0.25}}\n"
    "    transition: [[0.8, 0.15, 0.05], [0.2, 0.6, 0.2], [0.1, 0.3, 0.6]]\n"
    "  CN:\n"
    "    regimes: {normal: {}, ban: {closed: true}}\n"
    "    transition: [[0.9, 0.1], [0.4, 0.6]]\n"
    "events:\n"
    "  - {at: 2024Q2, destination: US, regime: war, hold: true, anticipated: %s}\n"
    "  - {at: 2024Q3, destination: US, sector: steel, tariff: 0.4, anticipated: %s}\n"
    "  - {at: 2024Q3, destination: US, escalation_scale: 1.5, anticipated: %s}\n"
    "  - {at: 2024Q4, destination: US, release: true, anticipated: %s}\n"
    "  - {at: 2025Q1, destination: CN, sector: agri, sunk_cost_scale: 0.5, anticipated: %s}\n"
    "  - {at: 2025Q2, destination: CN, transition: [[0.7, 0.3], [0.5, 0.5]], anticipated: %s}\n";

static tm_params *load(const char *anticipated)
{
    const char *a = anticipated;
    return fixture_params_fmt("process-test", NULL, 0, world, a, a, a, a, a, a);
}

/* Every field of two processes, the pointers to base matrices included. */
static void expect_same_process(const tm_params *p, const tm_process *a, const tm_process *b, const char *what, int t,
                                int s)
{
    cr_expect(tm_process_equal(p, a, b), "%s: period %d, sector %d: matrices, holds, overrides or scales differ", what,
              t, s);
    for (int d = 0; d < p->n_dest; d++) {
        cr_expect_eq(a->base[d], b->base[d], "%s: period %d, sector %d, destination %d: base matrix", what, t, s, d);
        cr_expect_eq(a->escalation[d], b->escalation[d], "%s: period %d, sector %d, destination %d: escalation", what,
                     t, s, d);
    }
}

Test(process, each_event_kind_changes_what_it_names_and_nothing_else)
{
    tm_params *p = load("false");
    cr_assert_eq(p->n_events, 6);
    tm_process before, after;
    tm_process_init(p, &before);
    const int steel = 0, agri = 1, us = 0, cn = 1;

    /* regime: holds US (the realised regime is the environment's). */
    after = before;
    tm_process_apply(p, &after, &p->event[0], steel);
    cr_expect_eq(after.held[us], 1);
    after.held[us] = 0;
    cr_expect(memcmp(&after, &before, sizeof after) == 0, "a regime event changes only the hold");

    /* tariff: steel's override in the US, not agri's. */
    after = before;
    tm_process_apply(p, &after, &p->event[1], steel);
    cr_expect_eq(after.tariff_override[us], 0.4);
    cr_expect_eq(after.statutory_override[us], 0.4, "without a statutory rate the event's tariff is both");
    after.tariff_override[us] = NAN;
    after.statutory_override[us] = NAN;
    cr_expect(memcmp(&after, &before, sizeof after) == 0, "a tariff event changes only the override");
    after = before;
    tm_process_apply(p, &after, &p->event[1], agri);
    cr_expect(memcmp(&after, &before, sizeof after) == 0, "another sector's tariff event changes nothing");

    /* escalation: US hazards up (j > i) scaled by 1.5, the diagonal takes the rest. */
    after = before;
    tm_process_apply(p, &after, &p->event[2], agri);
    cr_expect_eq(after.escalation[us], 1.5);
    const double(*T)[TM_MAX_REGIMES] = (const double(*)[TM_MAX_REGIMES])p->dest[us].transition;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            if (j != i)
                cr_expect_eq(after.transition[us][i][j], T[i][j] * (j > i ? 1.5 : 1.0), "[%d][%d]", i, j);
    cr_expect_eq(after.transition[us][0][0], 1.0 - 0.15 * 1.5 - 0.05 * 1.5);
    cr_expect(memcmp(after.transition[cn], before.transition[cn], sizeof after.transition[cn]) == 0, "CN untouched");

    /* release: a held regime moves again. */
    tm_process held = before;
    tm_process_apply(p, &held, &p->event[0], steel);
    tm_process_apply(p, &held, &p->event[3], steel);
    cr_expect(memcmp(&held, &before, sizeof held) == 0, "hold then release is no event at all");

    /* sunk cost: agri's scale in CN only. */
    after = before;
    tm_process_apply(p, &after, &p->event[4], agri);
    cr_expect_eq(after.sunk_scale[cn], 0.5);
    cr_expect_eq(after.sunk_scale[us], 1.0);
    tm_process_apply(p, &before, &p->event[4], steel);
    cr_expect_eq(before.sunk_scale[cn], 1.0, "steel keeps its sunk cost");

    /* transition: CN's matrix in force, under the escalation in force. */
    after = before;
    tm_process_apply(p, &after, &p->event[5], steel);
    cr_expect_eq(after.base[cn], (const double(*)[TM_MAX_REGIMES])p->event[5].transition);
    cr_expect_eq(after.transition[cn][0][1], 0.3);
    cr_expect_eq(after.transition[cn][1][0], 0.5);
    tm_params_free(p);
}

Test(process, after_n_events_is_the_first_n_applied_in_order)
{
    tm_params *p = load("false");
    for (int s = 0; s < p->n_sectors; s++)
        for (int n = 0; n <= p->n_events; n++) {
            tm_process stepwise, direct;
            tm_process_init(p, &stepwise);
            for (int e = 0; e < n; e++)
                tm_process_apply(p, &stepwise, &p->event[e], s);
            tm_process_after(p, s, n, &direct);
            cr_expect(memcmp(&stepwise, &direct, sizeof direct) == 0, "sector %d after %d events", s, n);
        }
    tm_params_free(p);
}

/* The environment, grids and solver a run would give the dynamic model. */
typedef struct {
    fixture_env e; /* the parameters and the environment */
    tm_grid_tables grids;
    tm_bellman *b;
} solver;

static void solver_open(solver *v, const char *anticipated)
{
    fixture_env_open(&v->e, load(anticipated));
    tm_error err = {0};
    cr_assert_eq(tm_grid_tables_init(&v->grids, v->e.p, &err), 0, "%s", err.msg);
    tm_model_env menv = {.threads = 1, .grids = &v->grids, .process = v->e.env.process};
    cr_assert_eq(tm_bellman_open(v->e.p, &menv, 1, NULL, 1, &v->b, &err), 0, "%s", err.msg);
}

static void solver_close(solver *v)
{
    tm_bellman_close(v->b);
    tm_grid_tables_free(&v->grids);
    fixture_env_close(&v->e);
}

Test(process, env_and_solver_see_the_same_process_after_every_foreseen_event)
{
    solver v;
    solver_open(&v, "true");
    for (int t = 0; t < v.e.p->periods; t++) {
        tm_env_advance(&v.e.env, t, NULL);
        for (int s = 0; s < v.e.p->n_sectors; s++) {
            tm_process expected;
            cr_assert_eq(tm_bellman_expected_process(v.b, s, 0, t, &expected), 0, "period %d", t);
            expect_same_process(v.e.p, &v.e.env.process[s], &expected, "foreseen", t, s);
        }
    }
    solver_close(&v);
}

Test(process, after_a_surprise_the_solver_adopts_the_process_in_force)
{
    solver v;
    solver_open(&v, "false");
    const tm_params *p = v.e.p;
    const int n_z = p->grid_points, n_sets = 1 << p->n_dest;
    double *flow = calloc((size_t)n_z * (size_t)n_sets, sizeof(double));
    double *value = malloc((size_t)n_z * (size_t)n_sets * (size_t)n_sets * sizeof(double));
    double sunk[TM_MAX_DEST] = {0};
    cr_assert(flow && value);
    for (int t = 0; t < p->periods; t++) {
        tm_env_advance(&v.e.env, t, NULL);
        for (int s = 0; s < p->n_sectors; s++) {
            tm_choice_ctx ctx = {.sector = s,
                                 .period = t,
                                 .n_z = n_z,
                                 .n_sets = n_sets,
                                 .n_dest = p->n_dest,
                                 .z_grid = v.grids.z + (size_t)s * (size_t)n_z,
                                 .P = v.grids.P + (size_t)s * (size_t)n_z * (size_t)n_z,
                                 .flow = flow,
                                 .sunk = sunk,
                                 .regime = v.e.env.regime,
                                 .death_rate = p->sector[s].death_rate,
                                 .process = &v.e.env.process[s],
                                 .threads = 1};
            tm_error err = {0};
            cr_assert_eq(tm_bellman_values(v.b, 0, &ctx, value, &err), 0, "%s", err.msg);
            tm_process expected;
            cr_assert_eq(tm_bellman_expected_process(v.b, s, 0, t, &expected), 0, "period %d", t);
            expect_same_process(p, &v.e.env.process[s], &expected, "surprise", t, s);
        }
    }
    free(flow);
    free(value);
    solver_close(&v);
}
