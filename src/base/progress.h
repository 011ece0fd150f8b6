/* progress: how library work that takes a while (a model's start-of-run
 * solve, the periods of a run, a sweep's runs, a comparison's runs, the
 * steps of a calibration) reports how far it has got. The library prints
 * nothing; a command installs a callback and shows what it chooses. */
#ifndef TM_PROGRESS_H
#define TM_PROGRESS_H

#include <stdint.h>

typedef struct {
    const char *stage;  /* what is under way: "solving", "burn-in", "running" (one run); "sweep";
                         * "base", "scenario" (a comparison's runs); "calibration" */
    int64_t done;       /* units of the stage done (or begun) so far ... */
    int64_t total;      /* ... of total (solves; periods with burn-in; runs); -1: not known */
    const char *label;  /* the unit just computed or begun ("2024Q3", "p0003-r01", a run file), or NULL */
    const void *detail; /* more about this report, of the type the reporting module's header names
                         * for its stage; NULL where it names none */
} tm_progress_report;

/* A callback and its argument; fn NULL: nobody listens. Work shared among
 * threads calls fn from one thread at a time, not always the caller's. */
typedef struct {
    void (*fn)(void *user, const tm_progress_report *report);
    void *user;
} tm_progress;

/* Call p's callback, if any, with one report. */
void tm_progress_report_to(const tm_progress *p, const char *stage, int64_t done, int64_t total, const char *label,
                           const void *detail);

#endif
