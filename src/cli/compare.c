/* The `compare` command: options, progress lines and the table of effects;
 * the comparison itself is src/experiments/compare.c. */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "base/numfmt.h"
#include "cli/cli.h"
#include "experiments/compare.h"

#define MAX_SETS 256

static const char *const compare_usage =
    "usage: tradeabm compare BASE.yaml SCENARIO.yaml [options]\n"
    "\n"
    "Run a base and a scenario with common random numbers (the same seed for\n"
    "both in each replicate), store both runs, their difference and the effects\n"
    "of headline outcomes per sector with 95% confidence intervals across\n"
    "replicates (outcome names: docs/statistics.md).\n"
    "\n"
    "  -o, --output FILE.h5   comparison file (default: compare-<scenario>.h5); the\n"
    "                         runs go to FILE-runs/ and are linked from it\n"
    "      --replicates N     replicates (default 1; 2 or more give intervals)\n"
    "      --from PERIOD      start of the effect window (default: the scenario's\n"
    "                         first event, else the first period)\n"
    "      --set KEY=VALUE    override a parameter in both files (repeatable)\n"
    "      --threads N        OpenMP threads per run\n"
    "      --force            replace FILE.h5 and its runs\n"
    "  -q, --quiet            print nothing but errors\n"
    "  -h, --help             this help\n";

/* Reported as each run begins: replicate r (1-based), base or scenario. */
static void progress(void *user, const tm_progress_report *r)
{
    const uint64_t *seed = r->detail;
    int64_t begun = 2 * (r->done - 1) + (strcmp(r->stage, "scenario") == 0);
    char what[4400];
    snprintf(what, sizeof what, "runs; now replicate %lld of %lld, %s (seed %llu) -> %s", (long long)r->done,
             (long long)r->total, r->stage, (unsigned long long)*seed, r->label);
    tm_cli_progress_update(user, begun, 2 * r->total, what);
}

/* One row per sector and outcome (a long table fits 100 columns however
 * many outcomes there are); numbers in fixed point to three significant
 * digits, intervals as "lo to hi" so that no comma reads as a separator. */
static void print_effects(const tm_compare_result *res)
{
    int M = res->n_measures, R = res->replicates;
    printf("Effects, scenario - base, %s to the end; mean%s over %d replicate%s\n", res->window_start,
           R > 1 ? " and 95% confidence interval" : "", R, tm_numfmt_plural(R));
    printf("%-16s %-24s %-18s %10s%s\n", "sector", "outcome", "units", "mean", R > 1 ? "   95% CI" : "");
    for (int s = 0; s < res->n_sector_rows; s++) {
        for (int m = 0; m < M; m++) {
            const tm_compare_effect *row = &res->rows[s * M + m];
            char mean[32], lo[32], hi[32];
            tm_numfmt_plain(row->mean, mean, sizeof mean);
            printf("%-16s %-24s %-18s %10s", m == 0 ? row->sector : "", row->measure, row->units, mean);
            if (R > 1) {
                tm_numfmt_plain(row->ci_low, lo, sizeof lo);
                tm_numfmt_plain(row->ci_high, hi, sizeof hi);
                printf("   %s to %s", lo, hi);
            }
            printf("\n");
        }
    }
}

int tm_cli_compare(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'},
        {"replicates", required_argument, 0, 'r'},
        {"from", required_argument, 0, 'F'},
        {"set", required_argument, 0, 's'},
        {"threads", required_argument, 0, 't'},
        {"force", no_argument, 0, 'f'},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    tm_compare_options co = {.replicates = 1};
    const char *sets[MAX_SETS];
    int n_sets = 0, quiet = 0, c;
    long v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            co.output = optarg;
            break;
        case 'r':
            if (tm_cli_parse_count(optarg, 1, 99, &v))
                return tm_cli_usage_error(compare_usage, "--replicates %s: expected a whole number from 1 to 99",
                                          optarg);
            co.replicates = (int)v;
            break;
        case 't':
            if (tm_cli_parse_count(optarg, 1, 4096, &v))
                return tm_cli_usage_error(compare_usage, "--threads %s: expected a whole number from 1 to 4096",
                                          optarg);
            co.threads = (int)v;
            break;
        case 'F':
            co.from = optarg;
            break;
        case 's':
            if (n_sets == MAX_SETS)
                return tm_cli_usage_error(compare_usage, "%s: too many --set options", "--set");
            sets[n_sets++] = optarg;
            break;
        case 'f':
            co.force = 1;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            fputs(compare_usage, stdout);
            return 0;
        default:
            fprintf(stderr, "\n%s", compare_usage);
            return 2;
        }
    }
    if (argc - optind != 2)
        return tm_cli_usage_error(compare_usage, "%s", "compare: expected BASE.yaml and SCENARIO.yaml");
    co.base_path = argv[optind];
    co.scenario_path = argv[optind + 1];
    char output[4096];
    if (!co.output) {
        const char *b = strrchr(co.scenario_path, '/');
        char stem[1024];
        snprintf(stem, sizeof stem, "%s", b ? b + 1 : co.scenario_path);
        char *dot = strrchr(stem, '.');
        if (dot && dot != stem)
            *dot = '\0';
        snprintf(output, sizeof output, "compare-%s.h5", stem);
        co.output = output;
    }
    co.sets = sets;
    co.n_sets = n_sets;
    tm_cli_progress reporter;
    tm_cli_progress_init(&reporter);
    reporter.every = 1; /* a line per run: the record of each run's seed and file */
    co.progress = (tm_progress){quiet ? NULL : progress, &reporter};
    tm_error err = {0};
    tm_compare_result res;
    int failed = tm_compare(&co, &res, &err);
    if (!quiet && !failed)
        tm_cli_progress_update(&reporter, 2 * co.replicates, 2 * co.replicates, "runs done");
    tm_cli_progress_clear(&reporter);
    if (failed)
        return tm_cli_fail(&err);
    if (!quiet) {
        print_effects(&res);
        printf("wrote %s\n", co.output);
    }
    tm_compare_result_free(&res);
    return 0;
}
