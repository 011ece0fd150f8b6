/* `tradeabm run`: simulate a parameter file (or the built-in baseline)
 * into a run file, or continue a stopped run from its checkpoint. */
#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/numfmt.h"
#include "cli/cli.h"
#include "io/checkpoint.h"
#include "io/runner.h"
#include "io/summary.h"
#include "models/model.h"
#include "params/params.h"
#include "tm_build_info.h"

static const char *const run_usage =
    "usage: tradeabm run [PARAMS.yaml] [options]\n"
    "\n"
    "Simulate a run and write it to an HDF5 file. Without PARAMS.yaml the\n"
    "built-in Canadian baseline (params/canada_baseline.yaml) is used.\n"
    "\n"
    "  -o, --output FILE.h5   output file (default: <params name>-s<seed>.h5 in the\n"
    "                         current folder, numbered so nothing is overwritten)\n"
    "      --seed N           run seed (same as --set run.seed=N)\n"
    "      --threads N        OpenMP threads (default: OMP_NUM_THREADS or all cores);\n"
    "                         results are identical for any N. Periods run on fewer\n"
    "                         where fewer measure faster (a busy machine);\n"
    "                         TRADEABM_FIXED_TEAM=1 keeps all N\n"
    "      --set KEY=VALUE    override a parameter, e.g. --set sectors.energy.firms=500\n"
    "                         (repeatable; VALUE is YAML, so lists work)\n"
    "      --panel            also write the firm panel (productivity and markets of\n"
    "                         every firm every period, compressed)\n"
    "      --force            replace FILE.h5 if it exists\n"
    "      --checkpoint-every N  save the run's state to FILE.h5.ckpt every N periods,\n"
    "                         burn-in included (and when stopped by a signal)\n"
    "      --resume FILE      continue a stopped or killed run from FILE.h5.ckpt (or\n"
    "                         FILE.h5); the result is identical to an uninterrupted run\n"
    "  -q, --quiet            print nothing but errors\n"
    "  -h, --help             this help\n";

typedef struct {
    const char *params_path;
    const char *output;
    const char **sets;
    int n_sets;
    long threads;
    int panel, force, quiet;
    char seed_set[64];
} run_args;

/* The summary table of the last logged period, after the progress line. */
static void print_summary(void *user, const tm_params *p, const tm_period_result *r)
{
    tm_cli_progress_clear(user);
    const char **snames = malloc((size_t)p->n_sectors * sizeof *snames);
    const char *dnames[TM_MAX_DEST];
    if (!snames)
        return;
    for (int s = 0; s < p->n_sectors; s++)
        snames[s] = p->sector[s].name;
    for (int d = 0; d < p->n_dest; d++)
        dnames[d] = p->dest[d].name;
    tm_summary sum = {r->label, p->n_sectors, p->n_dest, snames, dnames, r->x_firms_by_set, r->export_value};
    tm_summary_print(stdout, &sum);
    free(snames);
}

/* tm_simulate with the progress reporter and the summary table, unless
 * quiet. */
static int simulate(const tm_params *p, const char *path, tm_simulate_options *so, int quiet, char digest[65],
                    tm_error *err)
{
    tm_cli_progress pl;
    tm_cli_progress_init(&pl);
    if (!quiet) {
        so->progress = (tm_progress){tm_cli_progress_of_run, &pl};
        so->finished = print_summary;
        so->finished_user = &pl;
    }
    int rc = tm_simulate(p, path, so, digest, err);
    tm_cli_progress_clear(&pl);
    return rc;
}

/* Default output name: <stem>-s<seed>.h5, numbered -2, -3, ... if taken. */
static void default_output(const tm_params *p, const char *params_path, char *buf, size_t size)
{
    char stem[256] = "canada_baseline";
    if (params_path) {
        const char *base = strrchr(params_path, '/');
        base = base ? base + 1 : params_path;
        snprintf(stem, sizeof stem, "%s", base);
        char *dot = strrchr(stem, '.');
        if (dot && dot != stem)
            *dot = '\0';
    }
    struct stat st;
    snprintf(buf, size, "%s-s%llu.h5", stem, (unsigned long long)p->seed);
    for (int k = 2; stat(buf, &st) == 0 && k < 100000; k++)
        snprintf(buf, size, "%s-s%llu-%d.h5", stem, (unsigned long long)p->seed, k);
}

/* `run --resume FILE`: continue the run a checkpoint describes (FILE is
 * the checkpoint or the output it belongs to). Parameters, output name and
 * panel come from the checkpoint; only threads and the interval may change. */
static int resume_run(const char *file, const run_args *a, long every)
{
    if (a->params_path || a->output || a->n_sets || a->panel)
        return tm_cli_usage_error(run_usage,
                                  "%s: --resume takes its parameters, output and --panel from the checkpoint; "
                                  "drop the other arguments",
                                  "--resume");
    char ckpt[4200];
    size_t len = strlen(file);
    if (len > 5 && strcmp(file + len - 5, ".ckpt") == 0)
        snprintf(ckpt, sizeof ckpt, "%s", file);
    else
        tm_checkpoint_path(file, ckpt, sizeof ckpt);
    tm_error err = {0};
    tm_checkpoint ck;
    if (tm_checkpoint_read(ckpt, &ck, &err))
        return tm_cli_fail(&err);
    tm_params *p = NULL;
    if (tm_params_load_text(ckpt, ck.params_text, NULL, 0, &p, &err)) {
        tm_error_prefix(&err, "%s: stored parameters", ckpt);
        tm_checkpoint_free(&ck);
        return tm_cli_fail(&err);
    }
    if (strcmp(p->sha256, ck.params_sha256) != 0) {
        tm_error_set(&err, TM_ERR_INPUT, "%s: stored parameters do not match their SHA-256 (corrupt checkpoint)", ckpt);
        tm_params_free(p);
        tm_checkpoint_free(&ck);
        return tm_cli_fail(&err);
    }
    if (!a->quiet) {
        char label[TM_LABEL_MAX];
        tm_period_label(p->start_index + ck.period, p->periods_per_year, label, sizeof label);
        if (ck.period < 0)
            printf("tradeabm %s: resuming %s after period %s of the burn-in (%d of %d burn-in periods done)\n",
                   TM_VERSION, ck.final_path, label, ck.period + p->burn_in + 1, p->burn_in);
        else
            printf("tradeabm %s: resuming %s after period %s (%d of %d logged periods done)\n", TM_VERSION,
                   ck.final_path, label, ck.period + 1, p->periods);
        fflush(stdout);
    }
    char digest[65];
    double t0 = tm_clock_seconds();
    tm_runner_catch_signals();
    tm_simulate_options so = {.threads = (int)a->threads,
                              .panel = ck.panel,
                              .force = ck.force || a->force,
                              .checkpoint_every = every > 0 ? (int)every : ck.every,
                              .resume = &ck};
    int rc = simulate(p, ck.final_path, &so, a->quiet, digest, &err);
    if (!rc && !a->quiet)
        printf("\nwrote %s in %.2f s (digest %.16s...)\n", ck.final_path, tm_clock_seconds() - t0, digest);
    tm_params_free(p);
    tm_checkpoint_free(&ck);
    return rc ? tm_cli_fail(&err) : 0;
}

int tm_cli_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'},
        {"seed", required_argument, 0, 'S'},
        {"threads", required_argument, 0, 't'},
        {"set", required_argument, 0, 's'},
        {"panel", no_argument, 0, 'p'},
        {"force", no_argument, 0, 'f'},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {"checkpoint-every", required_argument, 0, 'C'},
        {"resume", required_argument, 0, 'R'},
        {0, 0, 0, 0},
    };
    run_args a = {0};
    long checkpoint_every = 0;
    const char *resume = NULL;
    const char *sets[TM_CLI_MAX_SETS + 1];
    a.sets = sets;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            a.output = optarg;
            break;
        case 'S': {
            char *end;
            strtoull(optarg, &end, 10);
            if (!*optarg || *end || optarg[0] == '-')
                return tm_cli_usage_error(run_usage, "--seed %s: expected a non-negative integer", optarg);
            snprintf(a.seed_set, sizeof a.seed_set, "run.seed=%s", optarg);
            break;
        }
        case 't':
            if (tm_cli_parse_count(optarg, 1, 4096, &a.threads))
                return tm_cli_usage_error(run_usage, "--threads %s: expected a whole number from 1 to 4096", optarg);
            break;
        case 's':
            if (a.n_sets == TM_CLI_MAX_SETS)
                return tm_cli_usage_error(run_usage, "%s: too many --set options", "--set");
            sets[a.n_sets++] = optarg;
            break;
        case 'p':
            a.panel = 1;
            break;
        case 'f':
            a.force = 1;
            break;
        case 'C':
            if (tm_cli_parse_count(optarg, 1, 100000, &checkpoint_every))
                return tm_cli_usage_error(
                    run_usage, "--checkpoint-every %s: expected a whole number of periods from 1 to 100000", optarg);
            break;
        case 'R':
            resume = optarg;
            break;
        case 'q':
            a.quiet = 1;
            break;
        case 'h':
            fputs(run_usage, stdout);
            return 0;
        default:
            fprintf(stderr, "\n%s", run_usage);
            return 2;
        }
    }
    if (optind < argc)
        a.params_path = argv[optind++];
    if (optind < argc)
        return tm_cli_usage_error(run_usage, "unexpected argument %s", argv[optind]);
    if (a.seed_set[0])
        sets[a.n_sets++] = a.seed_set;
    if (resume)
        return resume_run(resume, &a, checkpoint_every);

    tm_error err = {0};
    tm_params *p = NULL;
    if (tm_params_load(a.params_path, sets, a.n_sets, &p, &err))
        return tm_cli_fail(&err);
    char path[4096];
    if (a.output)
        snprintf(path, sizeof path, "%s", a.output);
    else
        default_output(p, a.params_path, path, sizeof path);
    if (!a.quiet) {
        int64_t firms = 0;
        for (int s = 0; s < p->n_sectors; s++)
            firms += p->sector[s].firms;
        int threads = a.threads ? (int)a.threads : omp_get_max_threads();
        char count[32];
        tm_numfmt_count(firms, count, sizeof count);
        char slots[48] = "";
        if (!p->exact && p->resolution > 1)
            snprintf(slots, sizeof slots, " (%d slots each)", p->resolution);
        printf(
            "tradeabm %s: %s model, %s firm%s%s in %d sector%s, %d destination%s\n"
            "  %d period%s from %s (+%d burn-in), seed %llu, %d thread%s\n",
            TM_VERSION, tm_model_name(p->model), count, tm_numfmt_plural(firms), slots, p->n_sectors,
            tm_numfmt_plural(p->n_sectors), p->n_dest, tm_numfmt_plural(p->n_dest), p->periods,
            tm_numfmt_plural(p->periods), p->start, p->burn_in, (unsigned long long)p->seed, threads,
            tm_numfmt_plural(threads));
        fflush(stdout);
    }
    char digest[65];
    double t0 = tm_clock_seconds();
    tm_runner_catch_signals();
    tm_simulate_options so = {
        .threads = (int)a.threads, .panel = a.panel, .force = a.force, .checkpoint_every = (int)checkpoint_every};
    int rc = simulate(p, path, &so, a.quiet, digest, &err);
    tm_params_free(p);
    if (rc)
        return tm_cli_fail(&err);
    if (!a.quiet)
        printf("\nwrote %s in %.2f s (digest %.16s...)\n", path, tm_clock_seconds() - t0, digest);
    return 0;
}
