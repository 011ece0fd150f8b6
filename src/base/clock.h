/* clock: the monotonic wall clock every timing in tradeabm reads (progress
 * lines, estimates, solve times, benchmarks). Timings are never part of a
 * result. Owns nothing. */
#ifndef TM_CLOCK_H
#define TM_CLOCK_H

/* Seconds since an arbitrary fixed point (CLOCK_MONOTONIC). */
double tm_clock_seconds(void);

#endif
