#include "engine/env.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void tm_env_escalate(int n, const double (*base)[TM_MAX_REGIMES], double scale, double (*out)[TM_MAX_REGIMES])
{
    for (int i = 0; i < n; i++) {
        double stay = 1.0;
        for (int j = 0; j < n; j++) {
            if (j == i)
                continue;
            double q = base[i][j] * (j > i ? scale : 1.0);
            out[i][j] = q;
            stay -= q;
        }
        /* Validation guarantees stay >= 0 up to rounding. */
        out[i][i] = stay > 0.0 ? stay : 0.0;
    }
}

void tm_env_process_after(const tm_params *p, int d, int n_applied, const double (**base)[TM_MAX_REGIMES],
                          double *scale)
{
    *base = (const double(*)[TM_MAX_REGIMES])p->dest[d].transition;
    *scale = 1.0;
    int have_base = 0, have_scale = 0;
    for (int e = n_applied - 1; e >= 0 && !(have_base && have_scale); e--) {
        const tm_event *ev = &p->event[e];
        if (ev->destination != d)
            continue;
        if (ev->kind == TM_EVENT_TRANSITION && !have_base) {
            *base = (const double(*)[TM_MAX_REGIMES])ev->transition;
            have_base = 1;
        } else if (ev->kind == TM_EVENT_ESCALATION && !have_scale) {
            *scale = ev->escalation_scale;
            have_scale = 1;
        }
    }
}

/* The matrix in force for d once the first n_applied events have applied. */
static void refresh_transition(tm_env *env, int d, int n_applied)
{
    const double(*base)[TM_MAX_REGIMES];
    tm_env_process_after(env->params, d, n_applied, &base, &env->escalation[d]);
    tm_env_escalate(env->params->dest[d].n_regimes, base, env->escalation[d], env->transition[d]);
}

int tm_env_init(tm_env *env, const tm_params *p, tm_error *err)
{
    memset(env, 0, sizeof *env);
    env->params = p;
    size_t cells = (size_t)p->n_sectors * (size_t)p->n_dest;
    env->tariff_override = malloc(cells * sizeof(double));
    if (!env->tariff_override)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    env->sunk_scale = malloc(cells * sizeof(double));
    if (!env->sunk_scale)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    for (size_t i = 0; i < cells; i++) {
        env->tariff_override[i] = NAN;
        env->sunk_scale[i] = 1.0;
    }
    for (int d = 0; d < p->n_dest; d++) {
        env->regime[d] = p->dest[d].initial_regime;
        refresh_transition(env, d, 0);
    }
    tm_rng_env_stream(&env->rng, p->seed);
    return 0;
}

void tm_env_free(tm_env *env)
{
    free(env->tariff_override);
    env->tariff_override = NULL;
    free(env->sunk_scale);
    env->sunk_scale = NULL;
}

static int draw_next(tm_env *env, int d)
{
    const tm_destination *dest = &env->params->dest[d];
    double u = tm_rng_uniform(&env->rng);
    int r = env->regime[d];
    double acc = 0.0;
    for (int j = 0; j < dest->n_regimes; j++) {
        acc += env->transition[d][r][j];
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
            if (!env->held[d])
                env->regime[d] = next;
        }
    }
    int count = 0;
    while (env->next_event < p->n_events && p->event[env->next_event].period <= t) {
        const tm_event *ev = &p->event[env->next_event];
        int d = ev->destination;
        switch (ev->kind) {
        case TM_EVENT_REGIME:
            env->regime[d] = ev->regime;
            env->held[d] = ev->hold;
            break;
        case TM_EVENT_TARIFF:
            for (int s = 0; s < p->n_sectors; s++)
                if (ev->sector < 0 || ev->sector == s)
                    env->tariff_override[(size_t)s * (size_t)p->n_dest + (size_t)d] = ev->tariff;
            break;
        case TM_EVENT_ESCALATION:
        case TM_EVENT_TRANSITION:
            refresh_transition(env, d, env->next_event + 1); /* the process after this event */
            break;
        case TM_EVENT_RELEASE:
            env->held[d] = 0;
            break;
        case TM_EVENT_SUNK_COST:
            for (int s = 0; s < p->n_sectors; s++)
                if (ev->sector < 0 || ev->sector == s)
                    env->sunk_scale[(size_t)s * (size_t)p->n_dest + (size_t)d] = ev->sunk_cost_scale;
            break;
        }
        if (applied)
            applied[count] = env->next_event;
        count++;
        env->next_event++;
    }
    return count;
}

double tm_env_tariff(const tm_env *env, int s, int d)
{
    double o = env->tariff_override[(size_t)s * (size_t)env->params->n_dest + (size_t)d];
    if (!isnan(o))
        return o;
    return env->params->dest[d].regime[env->regime[d]].sector_tariff[s];
}

int tm_env_closed(const tm_env *env, int d)
{
    return env->params->dest[d].regime[env->regime[d]].closed;
}
