/* fixtures: what the unit tests share. Parameters from text (with --set
 * overrides or a printf format), runs stepped period by period, the path of
 * a run's aggregates, an environment with its parameters, and the choice
 * context a model sees at the start of a run. Every helper fails the
 * calling test with the library's message; the tests own what they open
 * and close it with the matching _close. Compiled once (fixtures.c) into
 * every test executable. */
#ifndef TM_TEST_FIXTURES_H
#define TM_TEST_FIXTURES_H

#include <stdint.h>

#include "engine/env.h"
#include "engine/grid.h"
#include "engine/run.h"
#include "models/model.h"
#include "params/params.h"

/* ---- parameters -------------------------------------------------------- */

/* Parameters from text; `name` stands for the file name in messages. */
tm_params *fixture_params(const char *name, const char *text, const char *const *sets, int n_sets);

/* The same with at most one override (NULL: none). */
tm_params *fixture_params_set(const char *name, const char *text, const char *set);

/* Parameters from a printf format and its arguments (a base text with a
 * slot for a section or an event list). */
/* Two sectors (canola, steel) and two destinations (US, China) for tests
 * of China's `ban` regime, a format for fixture_params_fmt. Slots: the
 * model line, the ban regime, China's transition matrix, the events.
 * 2024Q1 is period 0. */
extern const char *const fixture_ban_world;

tm_params *fixture_params_fmt(const char *name, const char *const *sets, int n_sets, const char *format, ...)
    TM_PRINTF(4, 5);

/* ---- runs -------------------------------------------------------------- */

tm_run *fixture_run(const tm_params *p, int threads);
void fixture_step(tm_run *run);
void fixture_finish(tm_run *run); /* steps to the end of the run */

/* A fresh run of p on `threads` threads restored from a checkpoint of
 * `run` taken now (src/io/checkpoint.h); the whole state must be read. */
tm_run *fixture_run_copy(const tm_params *p, const tm_run *run, int threads);

/* Runs p on one thread to logged period `period`, restores a copy from a
 * checkpoint taken there and expects both to continue with the same export
 * values and exchange rate in every later period. Frees p. */
void fixture_expect_resume_continues(tm_params *p, int period);

/* A run and its parameters (owned: closing the fixture frees them),
 * visited period by period, burn-in included:
 *     fixture_sim s;
 *     fixture_sim_open(&s, fixture_params(...), 2);
 *     while (fixture_sim_next(&s)) { ... s.result ... }
 *     fixture_sim_close(&s); */
typedef struct {
    tm_params *p;
    tm_run *run;
    const tm_period_result *result; /* the period just stepped */
} fixture_sim;

void fixture_sim_open(fixture_sim *s, tm_params *p, int threads);
int fixture_sim_next(fixture_sim *s); /* steps; 0 once the run is finished */
void fixture_sim_close(fixture_sim *s);

/* Sector 0's aggregates in every logged period of a run on two threads. */
#define FIXTURE_MAX_PERIODS 64
typedef struct {
    int periods;
    int64_t serving[FIXTURE_MAX_PERIODS][TM_MAX_DEST], entrants[FIXTURE_MAX_PERIODS][TM_MAX_DEST];
    int64_t exiters[FIXTURE_MAX_PERIODS][TM_MAX_DEST];
    int64_t by_set[FIXTURE_MAX_PERIODS][64];
    int regime[FIXTURE_MAX_PERIODS][TM_MAX_DEST];
} fixture_path;

void fixture_simulate(const tm_params *p, fixture_path *out);

/* Entrants into destination d over logged periods first .. end - 1. */
int64_t fixture_path_entrants(const fixture_path *path, int d, int first, int end);

/* Expects the same firms serving and entering destination 0 in both paths
 * in every logged period before `end`. */
void fixture_expect_same_path(const fixture_path *a, const fixture_path *b, int end);

/* Simulates a run whose event in period `date` is foreseen and one where it
 * is a surprise (fixture_simulate) and expects fewer entrants into
 * destination 0 before the date when foreseen; keeps both paths for
 * further checks and frees both parameter sets. */
void fixture_expect_foresight_lowers_entry(tm_params *foreseen, tm_params *surprise, int date, fixture_path *a,
                                           fixture_path *b);

/* Entry and exit cut-offs the dynamic model solves at the start of a run
 * for sector 0, joint regime j, destination d (src/engine/run.c /policy). */
void fixture_cutoffs(const tm_params *p, int j, int d, double *entry, double *exit_cut);

/* ---- environment ------------------------------------------------------- */

/* An environment and the parameters it was made from (owned: closing the
 * fixture frees them). */
typedef struct {
    tm_params *p;
    tm_env env;
} fixture_env;

void fixture_env_open(fixture_env *e, tm_params *p);
void fixture_env_close(fixture_env *e);

/* Advance e's environment through periods first..last. */
void fixture_env_advance(fixture_env *e, int first, int last);

/* The first period in first..last at which destination d's regime is not
 * `regime`, or last + 1 if it stays (the environment is advanced to it). */
int fixture_env_first_move(fixture_env *e, int d, int regime, int first, int last);

/* Counts the regime switches of destination d from period first to last
 * and expects each row's frequencies within 5 binomial standard errors of
 * P (row i at P + i * stride): given the regime left, each switch is an
 * independent draw from its row. */
void fixture_env_expect_switch_rows(fixture_env *e, int d, int first, int last, const double *P, int stride);

/* ---- a model's view of one sector ------------------------------------- */

/* The tables src/engine/run.c gives a model for sector s at the start of a
 * run (no peers yet, so no crowding or spillover): the run's grids
 * (tm_grid_tables, productivity.method), flows at the tariffs in force,
 * the sector's regime process in force, one thread; `value` has room for
 * one values() call. The parameters stay the caller's. */
typedef struct {
    const tm_params *p;
    tm_env env;
    tm_grid_tables grids;
    int n_z, n_sets;
    const double *z, *P; /* sector s's rows of grids */
    double *flow, *revenue, *value;
    double sunk[TM_MAX_DEST];
    tm_choice_ctx ctx;
} fixture_ctx;

void fixture_ctx_open(fixture_ctx *f, const tm_params *p, int sector);
void fixture_ctx_close(fixture_ctx *f);

#endif
