#include "io/summary.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

static void print_row(FILE *out, const tm_summary *sum, const char *name, const int64_t *by_set, const double *value,
                      double non_us)
{
    int n_sets = 1 << sum->n_dest;
    int64_t firms = 0, several = 0;
    for (int S = 0; S < n_sets; S++) {
        firms += by_set[S];
        if (S & (S - 1))
            several += by_set[S];
    }
    double scale = firms > 0 ? 100.0 / (double)firms : 0.0;
    fprintf(out, "%-18s %9lld", name, (long long)firms);
    for (int d = 0; d < sum->n_dest; d++)
        fprintf(out, " %7.1f%%", scale * (double)by_set[1 << d]);
    if (sum->n_dest > 1)
        fprintf(out, " %7.1f%%", scale * (double)several);
    for (int d = 0; d < sum->n_dest; d++)
        fprintf(out, " %11.1f", value[d]);
    if (isfinite(non_us))
        fprintf(out, " %7.1f%%\n", 100.0 * non_us);
    else
        fprintf(out, " %8s\n", "-");
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
        by_set[k] = (double)sum->firms_by_set[k];
    tm_stats_period p = {sum->export_value, zeros, zeros, zeros, zeros, by_set, NULL};
    tm_stats_window_add(w, &p);
    return w;
}

void tm_summary_print(FILE *out, const tm_summary *sum)
{
    int n_sets = 1 << sum->n_dest, D = sum->n_dest;
    double *buf = calloc((size_t)sum->n_sectors * ((size_t)D + (size_t)n_sets), sizeof *buf);
    tm_stats_window *w = period_window(sum, buf);
    fprintf(out, "Summary for %s (firms serving each market alone or several; export value, model units)\n",
            sum->label);
    fprintf(out, "%-18s %9s", "sector", "firms");
    for (int d = 0; d < D; d++) {
        char head[48];
        snprintf(head, sizeof head, "%.3s only", sum->dest_names[d]);
        fprintf(out, " %8s", head);
    }
    if (D > 1)
        fprintf(out, " %8s", "several");
    for (int d = 0; d < D; d++) {
        char head[48];
        snprintf(head, sizeof head, "exp %.6s", sum->dest_names[d]);
        fprintf(out, " %11s", head);
    }
    fprintf(out, " %8s\n", "non-US");
    int64_t all_sets[256] = {0};
    double all_value[16] = {0};
    for (int s = 0; s < sum->n_sectors; s++) {
        const int64_t *by_set = sum->firms_by_set + (size_t)s * (size_t)n_sets;
        const double *value = sum->export_value + (size_t)s * (size_t)D;
        print_row(out, sum, sum->sector_names[s], by_set, value, non_us_share(w, sum, s));
        for (int S = 0; S < n_sets; S++)
            all_sets[S] += by_set[S];
        for (int d = 0; d < D; d++)
            all_value[d] += value[d];
    }
    print_row(out, sum, "all sectors", all_sets, all_value, non_us_share(w, sum, -1));
    tm_stats_window_close(w);
    free(buf);
}
