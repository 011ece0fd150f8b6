/* team: how many threads run each period's firm loop.
 *
 * A period's results are the same bits for any team (the counts are
 * integers summed in a fixed order: src/engine/kernel.c), so the team may
 * change from one period to the next. On a machine shared with other
 * jobs, a team of T threads waits at each period's barriers for threads
 * the system has descheduled; with short periods (tens of thousands of
 * firms) that made a 2-thread run beside a competing 2-thread job four to
 * five times slower than a 1-thread run (docs/performance.md).
 *
 * The choice is made by measured wall time. The candidates are T, T/2,
 * T/4, ..., 1. Now and then three periods run with a neighbouring
 * candidate (a probe), and the team moves there if the last two of them
 * (the first wakes threads that slept, or lets them go) were at least 10%
 * faster than the current choice's recent periods. Probes grow rarer
 * while they fail (every 8 periods at first, at most every 256) and
 * frequent again when the current choice's periods, smoothed, become 50%
 * slower than after the last probe (the machine's load changed). The
 * first period after a change of team is not measured. On a dedicated
 * machine the cost is three periods at T/2 in 256. */
#ifndef TM_TEAM_H
#define TM_TEAM_H

enum {
    TM_TEAM_MAX_CANDIDATES = 16,
    TM_TEAM_FIRST_PROBE = 8,   /* periods before the first probe, and after a move */
    TM_TEAM_LAST_PROBE = 256,  /* the longest interval between probes */
    TM_TEAM_PROBE_PERIODS = 3, /* periods a probe lasts, the first not measured */
};

typedef struct {
    int n;                                 /* candidates (1: the team is fixed) */
    int size[TM_TEAM_MAX_CANDIDATES];      /* T, T/2, ..., 1 */
    double recent[TM_TEAM_MAX_CANDIDATES]; /* seconds a period, smoothed (0: not measured) */
    int current;                           /* index of the current choice */
    int probe;                             /* index probed this period (-1: none) */
    int interval, countdown;               /* periods between probes, and to the next */
    int upward;                            /* the next probe of a middle choice goes to the larger team */
    int probe_left;                        /* periods of the probe still to run */
    double probe_sum;                      /* seconds of its measured periods */
    double reference;                      /* the current choice's recent seconds after the last probe */
    int settle;                            /* the coming period follows a change of team: not measured */
    long probes, moves;                    /* counts, for reports and tests */
} tm_team;

/* Candidates for a run of `threads` threads; with adaptive 0 (or one
 * thread) the team is always `threads`. */
void tm_team_init(tm_team *t, int threads, int adaptive);
/* The team for the coming period. */
int tm_team_next(tm_team *t);
/* The wall time of the period that tm_team_next was asked for. */
void tm_team_done(tm_team *t, double seconds);

#endif
