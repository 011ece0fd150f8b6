#include "io/summary.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/numfmt.h"
#include "base/stats.h"

/* The non-US share of one sector (or all, sector < 0) from the period's
 * window: the definition of the outcome non_us_share (base/stats.h). */
static double non_us_share(const tm_stats_window *w, const tm_summary *sum, int sector)
{
    char name[TM_STATS_NAME_MAX];
    snprintf(name, sizeof name, "non_us_share%s%s", sector >= 0 ? "." : "",
             sector >= 0 ? sum->sector_names[sector] : "");
    tm_stats_shape shape = {sum->n_sectors,
                            sum->n_dest,
                            sum->sector_names,
                            sum->dest_names,
                            tm_stats_us_index(sum->dest_names, sum->n_dest),
                            0};
    tm_stats_outcome o;
    return w && tm_stats_outcome_parse(name, &shape, &o, NULL) == 0 ? tm_stats_outcome_value(w, &o) : NAN;
}

/* Column widths: both blocks fit 100 columns with TM_MAX_DEST (6)
 * destinations. */
#define NAME_W 18
#define CELL_W 9

/* Block 1: how many firms, and the share of them serving each destination
 * alone or several. */
static void print_firms_row(FILE *out, const tm_summary *sum, const char *name, const double *by_set)
{
    int n_sets = 1 << sum->n_dest;
    double firms = 0, several = 0;
    for (int S = 0; S < n_sets; S++) {
        firms += by_set[S];
        if (S & (S - 1))
            several += by_set[S];
    }
    double scale = firms > 0 ? 100.0 / firms : 0.0;
    char count[32];
    tm_numfmt_count(llround(firms), count, sizeof count);
    fprintf(out, "%-*s %*s", NAME_W, name, CELL_W + 1, count);
    for (int d = 0; d < sum->n_dest; d++)
        fprintf(out, " %*.1f%%", CELL_W - 1, scale * by_set[1 << d]);
    if (sum->n_dest > 1)
        fprintf(out, " %*.1f%%", CELL_W - 1, scale * several);
    fprintf(out, "\n");
}

/* Block 2: export value by destination (SI suffixes) and the non-US share
 * of it. */
static void print_value_row(FILE *out, const tm_summary *sum, const char *name, const double *value, double non_us)
{
    fprintf(out, "%-*s", NAME_W, name);
    for (int d = 0; d < sum->n_dest; d++) {
        char cell[32];
        tm_numfmt_si(value[d], cell, sizeof cell);
        fprintf(out, " %*s", CELL_W, cell);
    }
    if (isfinite(non_us))
        fprintf(out, " %*.1f%%\n", CELL_W - 1, 100.0 * non_us);
    else
        fprintf(out, " %*s\n", CELL_W, "-");
}

/* A window of this one period (export values and market sets; the other
 * series are not needed by the shares printed). */
static tm_stats_window *period_window(const tm_summary *sum, double *buf)
{
    int S = sum->n_sectors, D = sum->n_dest, NS = 1 << D;
    tm_stats_shape shape = {S, D, sum->sector_names, sum->dest_names, tm_stats_us_index(sum->dest_names, D), 0};
    tm_stats_window *w = NULL;
    if (!buf || tm_stats_window_open(&shape, 1, &w, NULL))
        return NULL;
    double *zeros = buf, *by_set = buf + (size_t)S * (size_t)D;
    for (size_t k = 0; k < (size_t)S * (size_t)NS; k++)
        by_set[k] = sum->firms_by_set[k];
    tm_stats_period p = {sum->export_value, zeros, zeros, zeros, zeros, by_set, NULL};
    tm_stats_window_add(w, &p);
    return w;
}

void tm_summary_print(FILE *out, const tm_summary *sum)
{
    int n_sets = 1 << sum->n_dest, D = sum->n_dest;
    double *buf = calloc((size_t)sum->n_sectors * ((size_t)D + (size_t)n_sets), sizeof *buf);
    tm_stats_window *w = period_window(sum, buf);
    double all_sets[1 << TM_SUMMARY_MAX_DEST] = {0};
    double all_value[TM_SUMMARY_MAX_DEST] = {0};
    for (int s = 0; s < sum->n_sectors; s++) {
        for (int S = 0; S < n_sets; S++)
            all_sets[S] += sum->firms_by_set[(size_t)s * (size_t)n_sets + (size_t)S];
        for (int d = 0; d < D; d++)
            all_value[d] += sum->export_value[(size_t)s * (size_t)D + (size_t)d];
    }

    fprintf(out, "Summary for %s\n", sum->label);
    fprintf(out, "Firms, and the share of them serving each destination only or several\n");
    fprintf(out, "%-*s %*s", NAME_W, "sector", CELL_W + 1, "firms");
    for (int d = 0; d < D; d++) {
        char head[48];
        snprintf(head, sizeof head, "%.4s only", sum->dest_names[d]);
        fprintf(out, " %*s", CELL_W, head);
    }
    if (D > 1)
        fprintf(out, " %*s", CELL_W, "several");
    fprintf(out, "\n");
    for (int s = 0; s < sum->n_sectors; s++)
        print_firms_row(out, sum, sum->sector_names[s], sum->firms_by_set + (size_t)s * (size_t)n_sets);
    print_firms_row(out, sum, "all sectors", all_sets);

    fprintf(out,
            "\nExport value by destination (model money; k thousand, M million, G billion),\n"
            "and the non-US share of it\n");
    fprintf(out, "%-*s", NAME_W, "sector");
    for (int d = 0; d < D; d++)
        fprintf(out, " %*.*s", CELL_W, CELL_W, sum->dest_names[d]);
    fprintf(out, " %*s\n", CELL_W, "non-US");
    for (int s = 0; s < sum->n_sectors; s++)
        print_value_row(out, sum, sum->sector_names[s], sum->export_value + (size_t)s * (size_t)D,
                        non_us_share(w, sum, s));
    print_value_row(out, sum, "all sectors", all_value, non_us_share(w, sum, -1));
    tm_stats_window_close(w);
    free(buf);
}
