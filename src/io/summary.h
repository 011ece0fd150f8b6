/* summary: the short per-sector table printed after a run and by `info`:
 * share of firms serving each destination alone and several, export value
 * by destination, and the non-US share (the outcome non_us_share of
 * base/stats.h, over the one period). */
#ifndef TM_SUMMARY_H
#define TM_SUMMARY_H

#include <stdint.h>
#include <stdio.h>

/* Destinations the table lays out (TM_MAX_DEST of params.h). */
#define TM_SUMMARY_MAX_DEST 6

typedef struct {
    const char *label; /* period */
    int n_sectors, n_dest;
    const char *const *sector_names;
    const char *const *dest_names;
    const double *firms_by_set; /* [s * 2^n_dest + S]: whole numbers, expected or weighted masses */
    const double *export_value; /* [s * n_dest + d] */
} tm_summary;

void tm_summary_print(FILE *out, const tm_summary *sum);

#endif
