#include "engine/env.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/exchange_rate.h"

int tm_env_init(tm_env *env, const tm_params *p, tm_error *err)
{
    memset(env, 0, sizeof *env);
    env->params = p;
    env->process = malloc((size_t)p->n_sectors * sizeof *env->process);
    if (!env->process)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    for (int s = 0; s < p->n_sectors; s++)
        tm_process_init(p, &env->process[s]);
    int within = 0;
    for (int e = 0; e < p->n_events; e++)
        within |= p->event[e].within > 0.0;
    if (within) {
        env->before = malloc((size_t)p->n_sectors * sizeof *env->before);
        if (!env->before) {
            free(env->process);
            env->process = NULL;
            return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        }
    }
    for (int d = 0; d < p->n_dest; d++)
        env->regime[d] = p->dest[d].initial_regime;
    tm_rng_env_stream(&env->rng, p->seed);
    return 0;
}

void tm_env_free(tm_env *env)
{
    free(env->process);
    free(env->before);
    env->process = NULL;
    env->before = NULL;
}

static int draw_next(tm_env *env, int d)
{
    const tm_destination *dest = &env->params->dest[d];
    double u = tm_rng_uniform(&env->rng);
    int r = env->regime[d];
    double acc = 0.0;
    for (int j = 0; j < dest->n_regimes; j++) {
        acc += env->process[0].transition[d][r][j];
        if (u < acc)
            return j;
    }
    /* Rounding left u above the last cumulative sum: stay. */
    return r;
}

int tm_env_advance(tm_env *env, int t, int *applied)
{
    const tm_params *p = env->params;
    if (t < 0)
        return 0;
    if (t > 0) {
        /* One uniform per destination every period, held or not, so that the
         * draws of one destination never depend on another's events. */
        for (int d = 0; d < p->n_dest; d++) {
            int next = draw_next(env, d);
            if (!env->process[0].held[d])
                env->regime[d] = next;
        }
    }
    int count = 0;
    env->within = 0.0;
    while (env->next_event < p->n_events && p->event[env->next_event].period <= t) {
        const tm_event *ev = &p->event[env->next_event];
        if (ev->within > 0.0 && env->within == 0.0 && env->before) {
            /* Loading sorted a period's events within it after the others
             * and gave them one point x: what holds before x is now. */
            env->within = ev->within;
            memcpy(env->before_regime, env->regime, sizeof env->regime);
            memcpy(env->before, env->process, (size_t)p->n_sectors * sizeof *env->before);
        }
        if (ev->kind == TM_EVENT_REGIME)
            env->regime[ev->destination] = ev->regime;
        for (int s = 0; s < p->n_sectors; s++)
            tm_process_apply(p, &env->process[s], ev, s);
        if (applied)
            applied[count] = env->next_event;
        count++;
        env->next_event++;
    }
    return count;
}

double tm_env_tariff(const tm_env *env, int s, int d)
{
    return tm_process_tariff(env->params, &env->process[s], s, d, env->regime[d]);
}

double tm_env_statutory_tariff(const tm_env *env, int s, int d)
{
    double o = env->process[s].statutory_override[d];
    if (!isnan(o))
        return o;
    return env->params->dest[d].regime[env->regime[d]].sector_statutory[s];
}

int tm_env_closed(const tm_env *env, int s, int d)
{
    return env->params->dest[d].regime[env->regime[d]].sector_closed[s];
}

/* The layout (docs/reliability.md): regime[TM_MAX_DEST], the destination
 * parts of the process (held, escalation, matrices), the sector parts
 * [sector * n_dest + d] (tariff overrides, sunk scales), the next event and
 * the random stream. */
void tm_env_save(const tm_env *env, tm_ckbuf *b)
{
    const tm_params *p = env->params;
    const tm_process *first = &env->process[0];
    tm_ckbuf_put(b, env->regime, sizeof env->regime);
    tm_ckbuf_put(b, first->held, sizeof first->held);
    tm_ckbuf_put(b, first->escalation, sizeof first->escalation);
    tm_ckbuf_put(b, first->transition, sizeof first->transition);
    for (int s = 0; s < p->n_sectors; s++)
        tm_ckbuf_put(b, env->process[s].tariff_override, (size_t)p->n_dest * sizeof(double));
    for (int s = 0; s < p->n_sectors; s++)
        tm_ckbuf_put(b, env->process[s].sunk_scale, (size_t)p->n_dest * sizeof(double));
    tm_ckbuf_put(b, &env->next_event, sizeof env->next_event);
    tm_ckbuf_put(b, &env->rng, sizeof env->rng);
    if (tm_fx_on(p)) { /* only then, so other checkpoints keep their layout */
        tm_ckbuf_put(b, &env->fx_log_rate, sizeof env->fx_log_rate);
        tm_ckbuf_put(b, &env->fx_reference, sizeof env->fx_reference);
    }
}

/* The process is a function of the events applied, so it is rebuilt from
 * the parameters and the saved copy only checked against it. */
int tm_env_restore(tm_env *env, tm_ckbuf *b)
{
    const tm_params *p = env->params;
    const size_t row = (size_t)p->n_dest * sizeof(double);
    int regime[TM_MAX_DEST], next_event;
    tm_pcg32 rng;
    tm_process saved;
    double *overrides = malloc((size_t)p->n_sectors * 2 * row);
    if (!overrides)
        return -1;
    double *scales = overrides + (size_t)p->n_sectors * (size_t)p->n_dest;
    memset(&saved, 0, sizeof saved);
    int bad = tm_ckbuf_get(b, regime, sizeof regime) || tm_ckbuf_get(b, saved.held, sizeof saved.held) ||
              tm_ckbuf_get(b, saved.escalation, sizeof saved.escalation) ||
              tm_ckbuf_get(b, saved.transition, sizeof saved.transition) ||
              tm_ckbuf_get(b, overrides, (size_t)p->n_sectors * row) ||
              tm_ckbuf_get(b, scales, (size_t)p->n_sectors * row) || tm_ckbuf_get(b, &next_event, sizeof next_event) ||
              tm_ckbuf_get(b, &rng, sizeof rng) || next_event < 0 || next_event > p->n_events;
    double fx_log_rate = 0.0, fx_reference = 0.0;
    if (!bad && tm_fx_on(p))
        bad = tm_ckbuf_get(b, &fx_log_rate, sizeof fx_log_rate) ||
              tm_ckbuf_get(b, &fx_reference, sizeof fx_reference) || !isfinite(fx_log_rate) || !(fx_reference >= 0.0) ||
              !isfinite(fx_reference);
    for (int d = 0; !bad && d < p->n_dest; d++)
        bad = regime[d] < 0 || regime[d] >= p->dest[d].n_regimes;
    for (int s = 0; !bad && s < p->n_sectors; s++) {
        tm_process pr;
        tm_process_after(p, s, next_event, &pr);
        bad = memcmp(pr.held, saved.held, sizeof saved.held) != 0 ||
              memcmp(pr.escalation, saved.escalation, sizeof saved.escalation) != 0 ||
              memcmp(pr.transition, saved.transition, sizeof saved.transition) != 0 ||
              memcmp(pr.tariff_override, overrides + (size_t)s * (size_t)p->n_dest, row) != 0 ||
              memcmp(pr.sunk_scale, scales + (size_t)s * (size_t)p->n_dest, row) != 0;
    }
    free(overrides);
    if (bad)
        return -1;
    for (int s = 0; s < p->n_sectors; s++)
        tm_process_after(p, s, next_event, &env->process[s]);
    memcpy(env->regime, regime, sizeof regime);
    env->next_event = next_event;
    env->rng = rng;
    env->fx_log_rate = fx_log_rate;
    env->fx_reference = fx_reference;
    return 0;
}
