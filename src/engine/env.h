/* env: the policy environment of a run: each destination's regime Markov
 * chain, driven by the environment's own random stream, and dated scenario
 * events that force regimes and change the process each sector faces
 * (src/engine/process.h). */
#ifndef TM_ENV_H
#define TM_ENV_H

#include "base/ckbuf.h"
#include "base/rng.h"
#include "engine/process.h"
#include "params/params.h"

typedef struct {
    int regime[TM_MAX_DEST];
    /* [n_sectors]: the process sector s faces; the parts that belong to a
     * destination (matrices, holds) are the same in every sector. */
    tm_process *process;
    int next_event; /* first event not yet applied */
    /* Events within the period (docs/model.md section 10): the point x of
     * the period at which this period's dated events take effect (0: none
     * or at its start), and the regimes and process before them. */
    double within;
    int before_regime[TM_MAX_DEST];
    tm_process *before; /* [n_sectors]; NULL when no event has a date within its period */
    tm_pcg32 rng;
    /* Real exchange rate (docs/model.md section 11; exchange_rate.elasticity
     * > 0): the log rate of the last period, at which firms choose in the
     * next, and the reference export value Xbar (0 until the last burn-in
     * period has set it). */
    double fx_log_rate;
    double fx_reference;
    const tm_params *params;
} tm_env;

int tm_env_init(tm_env *env, const tm_params *params, tm_error *err);
void tm_env_free(tm_env *env);

/* Advance to logged period t (t >= 0). For t > 0 regimes not held take one
 * Markov step; then the events dated t apply in file order. During burn-in
 * (t < 0) regimes stay at their initial values. Returns the number of events
 * applied, writing their indices to applied[] (capacity n_events). */
int tm_env_advance(tm_env *env, int t, int *applied);

/* Tariff in force for sector s in destination d (the effective rate). */
double tm_env_tariff(const tm_env *env, int s, int d);
/* The statutory rate beside it: that of the tariff event in force (its
 * `statutory_tariff`, else its tariff), else the regime's statutory rate. */
double tm_env_statutory_tariff(const tm_env *env, int s, int d);
/* Whether the regime in force closes d to sector s. */
int tm_env_closed(const tm_env *env, int s, int d);

/* Checkpoints: append the environment's state; read it back into an
 * environment fresh from tm_env_init with the same parameters (-1 if it
 * does not belong to them). */
void tm_env_save(const tm_env *env, tm_ckbuf *b);
int tm_env_restore(tm_env *env, tm_ckbuf *b);

#endif
