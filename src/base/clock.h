/* clock: the monotonic wall clock that progress lines, estimates and
 * timings read. Owns nothing. */
#ifndef TM_CLOCK_H
#define TM_CLOCK_H

/* Seconds since an arbitrary fixed point (CLOCK_MONOTONIC). */
double tm_clock_seconds(void);

#endif
