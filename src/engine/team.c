#include "engine/team.h"

#include <string.h>

/* A probe must beat the current choice by this factor to be taken. */
#define TM_TEAM_GAIN 0.9
/* When the current choice's recent periods become this much slower than
 * they were after the last probe, the machine changed: probe again soon. */
#define TM_TEAM_SLOWER 1.5

void tm_team_init(tm_team *t, int threads, int adaptive)
{
    memset(t, 0, sizeof *t);
    t->probe = -1;
    t->interval = t->countdown = TM_TEAM_FIRST_PROBE;
    int size = threads > 1 ? threads : 1;
    t->size[t->n++] = size;
    if (!adaptive)
        return;
    while (size > 1 && t->n < TM_TEAM_MAX_CANDIDATES) {
        size = size / 2 > 1 ? size / 2 : 1;
        t->size[t->n++] = size;
    }
}

int tm_team_next(tm_team *t)
{
    if (t->n == 1)
        return t->size[0];
    if (t->probe >= 0)
        return t->size[t->probe];
    if (--t->countdown > 0)
        return t->size[t->current];
    /* A neighbour: the smaller team from the largest, the larger from the
     * smallest, and in between each in turn. */
    if (t->current == 0)
        t->probe = 1;
    else if (t->current == t->n - 1)
        t->probe = t->current - 1;
    else {
        t->probe = t->upward ? t->current - 1 : t->current + 1;
        t->upward = !t->upward;
    }
    t->probes++;
    t->probe_left = TM_TEAM_PROBE_PERIODS;
    t->probe_sum = 0.0;
    return t->size[t->probe];
}

static void remember(tm_team *t, int k, double seconds)
{
    t->recent[k] = t->recent[k] > 0 ? 0.5 * (t->recent[k] + seconds) : seconds;
}

void tm_team_done(tm_team *t, double seconds)
{
    if (t->n == 1 || !(seconds >= 0))
        return;
    if (t->probe >= 0) {
        if (t->probe_left-- < TM_TEAM_PROBE_PERIODS) /* not the probe's first period */
            t->probe_sum += seconds;
        if (t->probe_left > 0)
            return;
        const int k = t->probe;
        t->probe = -1;
        const double now = t->recent[t->current];
        const double mean = t->probe_sum / (TM_TEAM_PROBE_PERIODS - 1);
        t->recent[k] = mean; /* a probe stands for the candidate as it is now */
        t->settle = 1;
        t->reference = 0.0; /* set again by the next measured period */
        if (now > 0 && mean < TM_TEAM_GAIN * now) {
            t->current = k;
            t->moves++;
            t->interval = TM_TEAM_FIRST_PROBE;
        } else if (t->interval < TM_TEAM_LAST_PROBE)
            t->interval *= 2;
        t->countdown = t->interval;
        return;
    }
    if (t->settle) {
        t->settle = 0;
        return;
    }
    remember(t, t->current, seconds);
    if (t->reference <= 0)
        t->reference = t->recent[t->current];
    else if (t->recent[t->current] > TM_TEAM_SLOWER * t->reference) {
        t->reference = t->recent[t->current];
        t->interval = TM_TEAM_FIRST_PROBE;
        if (t->countdown > 1)
            t->countdown = 1;
    }
}
