/* progress: how library work that takes a while (a model's start-of-run
 * solve, the periods of a run) reports how far it has got. The library
 * prints nothing; a command installs a callback and shows what it chooses. */
#ifndef TM_PROGRESS_H
#define TM_PROGRESS_H

typedef struct {
    const char *stage; /* what is under way: "solving", "burn-in", "running" */
    int done, total;   /* units of the stage done so far, of total (solves; periods with burn-in) */
    const char *label; /* the period just computed ("2024Q3"), or NULL */
} tm_progress_report;

/* A callback and its argument; fn NULL: nobody listens. Work shared among
 * threads calls fn from one thread at a time, not always the caller's. */
typedef struct {
    void (*fn)(void *user, const tm_progress_report *report);
    void *user;
} tm_progress;

/* Call p's callback, if any, with one report. */
void tm_progress_report_to(const tm_progress *p, const char *stage, int done, int total, const char *label);

#endif
