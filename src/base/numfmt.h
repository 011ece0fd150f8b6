/* numfmt: numbers as tables print them for people: never in e-notation,
 * to about three significant digits, large amounts with an SI suffix. The
 * files keep full precision; only what is printed is rounded. */
#ifndef TM_NUMFMT_H
#define TM_NUMFMT_H

#include <stddef.h>

/* Three significant digits in fixed point: 6.44, 0.332, 0.0000123, -4450
 * (digits beyond the third of a large number are kept, not rounded to
 * zeros; no thousands separators, so intervals read unambiguously).
 * Values within 1e-9 of zero print as 0; NaN prints as "-". */
void tm_numfmt_plain(double v, char *buf, size_t size);

/* An amount with an SI suffix and four significant digits at most:
 * 7063, 28.22k, 153.5M, 1.235G; below 10000 as a whole number. */
void tm_numfmt_si(double v, char *buf, size_t size);

/* A count with thousands separators: 150,000. Counts are never shown in
 * intervals, where a comma would read as a list separator. */
void tm_numfmt_count(long long n, char *buf, size_t size);

/* "s" unless n is 1: "%d thread%s". */
const char *tm_numfmt_plural(long long n);

#endif
