#include "io/summary.h"

#include <string.h>

static int us_index(const tm_summary *sum)
{
    for (int d = 0; d < sum->n_dest; d++)
        if (strcmp(sum->dest_names[d], "US") == 0)
            return d;
    return 0;
}

static void print_row(FILE *out, const tm_summary *sum, const char *name, const int64_t *by_set,
                      const double *value)
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
    double total = 0, non_us = 0;
    int us = us_index(sum);
    for (int d = 0; d < sum->n_dest; d++) {
        fprintf(out, " %11.1f", value[d]);
        total += value[d];
        if (d != us)
            non_us += value[d];
    }
    if (total > 0)
        fprintf(out, " %7.1f%%\n", 100.0 * non_us / total);
    else
        fprintf(out, " %8s\n", "-");
}

void tm_summary_print(FILE *out, const tm_summary *sum)
{
    int n_sets = 1 << sum->n_dest, D = sum->n_dest;
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
        print_row(out, sum, sum->sector_names[s], by_set, value);
        for (int S = 0; S < n_sets; S++)
            all_sets[S] += by_set[S];
        for (int d = 0; d < D; d++)
            all_value[d] += value[d];
    }
    print_row(out, sum, "all sectors", all_sets, all_value);
}
