/* env: the policy environment of a run: each destination's regime Markov
 * chain, driven by the environment's own random stream, and dated scenario
 * events that force regimes, override tariffs or scale escalation hazards. */
#ifndef TM_ENV_H
#define TM_ENV_H

#include "params/params.h"
#include "base/rng.h"

typedef struct {
    int regime[TM_MAX_DEST];
    int held[TM_MAX_DEST];                                   /* regime pinned by an event */
    double escalation[TM_MAX_DEST];                          /* current hazard scale */
    double transition[TM_MAX_DEST][TM_MAX_REGIMES][TM_MAX_REGIMES]; /* in force */
    double *tariff_override;                                 /* [n_sectors * n_dest], NaN = none */
    double *sunk_scale;                                      /* [n_sectors * n_dest], 1 = none */
    int next_event;                                          /* first event not yet applied */
    tm_pcg32 rng;
    const tm_params *params;
} tm_env;

int tm_env_init(tm_env *env, const tm_params *params, tm_error *err);
void tm_env_free(tm_env *env);

/* Advance to logged period t (t >= 0). For t > 0 regimes not held take one
 * Markov step; then the events dated t apply in file order. During burn-in
 * (t < 0) regimes stay at their initial values. Returns the number of events
 * applied, writing their indices to applied[] (capacity n_events). */
int tm_env_advance(tm_env *env, int t, int *applied);

/* out = base with the hazards of moving to more restrictive regimes (j > i)
 * scaled by `scale` and the probability of staying adjusted (n regimes). */
void tm_env_escalate(int n, const double (*base)[TM_MAX_REGIMES], double scale, double (*out)[TM_MAX_REGIMES]);

/* The process of destination d once the first n_applied events (in period
 * order) have applied: its base transition matrix (the destination's, or
 * that of the last `transition` event) and its escalation scale. */
void tm_env_process_after(const tm_params *p, int d, int n_applied, const double (**base)[TM_MAX_REGIMES],
                          double *scale);

/* Tariff in force for sector s in destination d. */
double tm_env_tariff(const tm_env *env, int s, int d);
int tm_env_closed(const tm_env *env, int d);

#endif
