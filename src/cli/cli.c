#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <hdf5.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/bench.h"
#include "cli/export_cli.h"
#include "io/checkpoint.h"
#include "base/error.h"
#include "io/output.h"
#include "params/params.h"
#include "engine/runner.h"
#include "engine/sim.h"
#include "io/summary.h"
#include "tm_build_info.h"

#define MAX_SETS 256

static const char *const main_usage =
    "usage: tradeabm COMMAND [options]\n"
    "\n"
    "Agent-based model of firms choosing export markets under tariffs and\n"
    "political risk. Commands:\n"
    "  run [PARAMS.yaml]     simulate (default: the built-in Canadian baseline)\n"
    "  check PARAMS.yaml     validate and print the resolved parameters\n"
    "  params --doc          list every parameter with default, range and unit\n"
    "  info FILE.h5          print a run file's provenance and summary\n"
    "  reproduce FILE.h5     re-run a file from its stored parameters and compare digests\n"
    "  sweep SWEEP.yaml      run a batch experiment (grid, list or Latin hypercube)\n"
    "  sweep-index DIR       rebuild a sweep's index DIR/sweep.h5 from its run files\n"
    "  calibrate CAL.yaml -o FITTED.yaml  fit parameters to target moments (SMM)\n"
    "  compare BASE.yaml SCENARIO.yaml    scenario against base with common random numbers\n"
    "  export FILE.h5 -o DIR tidy tables (CSV or Parquet) for Stata and R\n"
    "  bench [--quick]       run the performance benchmarks\n"
    "\n"
    "Options: --help (also after a command), --version.\n"
    "Exit status: 0 success, 1 runtime failure, 2 usage or input error.\n";

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
    "                         results are identical for any N\n"
    "      --set KEY=VALUE    override a parameter, e.g. --set sectors.energy.firms=500\n"
    "                         (repeatable; VALUE is YAML, so lists work)\n"
    "      --panel            also write the firm panel (productivity and markets of\n"
    "                         every firm every period, compressed)\n"
    "      --force            replace FILE.h5 if it exists\n"
    "      --checkpoint-every N  save the run's state to FILE.h5.ckpt every N logged\n"
    "                         periods (and when stopped by a signal)\n"
    "      --resume FILE      continue a stopped or killed run from FILE.h5.ckpt (or\n"
    "                         FILE.h5); the result is identical to an uninterrupted run\n"
    "  -q, --quiet            print nothing but errors\n"
    "  -h, --help             this help\n";

static const char *const check_usage =
    "usage: tradeabm check PARAMS.yaml [--set KEY=VALUE]...\n"
    "\n"
    "Validate a parameter file (with its `extends:` chain and overrides) and print\n"
    "the canonical resolved parameters and their SHA-256. Exit 2 on any error.\n";

static const char *const params_usage =
    "usage: tradeabm params --doc\n"
    "\n"
    "List every parameter: path, type, default, range, unit, symbol, description\n"
    "and source (a Markdown table).\n";

static const char *const info_usage =
    "usage: tradeabm info FILE.h5\n"
    "\n"
    "Print a run file's provenance (version, commit, seed, threads, digests, status)\n"
    "and the summary table of its last logged period.\n";

static const char *const reproduce_usage =
    "usage: tradeabm reproduce FILE.h5 [--threads N]\n"
    "\n"
    "Re-run FILE.h5 from its stored parameters and seed, and compare the digest\n"
    "of the new results with the stored one. Exit 0 only if they match.\n";

int tm_cli_fail(const tm_error *err)
{
    fprintf(stderr, "tradeabm: error: %s\n", err->msg);
    return err->status == TM_ERR_INPUT ? 2 : 1;
}

int tm_cli_usage_error(const char *usage, const char *fmt, const char *arg)
{
    fprintf(stderr, "tradeabm: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n\n%s", usage);
    return 2;
}

int tm_cli_parse_count(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

typedef struct {
    const char *params_path;
    const char *output;
    const char **sets;
    int n_sets;
    long threads;
    int panel, force, quiet;
    char seed_set[64];
} run_args;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
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
        return tm_cli_usage_error(run_usage, "%s: --resume takes its parameters, output and --panel from the checkpoint; "
                                      "drop the other arguments", "--resume");
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
        printf("tradeabm %s: resuming %s after period %s (%d of %d logged periods done)\n", TM_VERSION,
               ck.final_path, label, ck.period + 1, p->periods);
        fflush(stdout);
    }
    char digest[65];
    double t0 = now_seconds();
    tm_runner_catch_signals();
    tm_simulate_options so = {.threads = (int)a->threads, .panel = ck.panel, .force = ck.force || a->force,
                              .progress = !a->quiet, .summary = a->quiet ? NULL : stdout,
                              .checkpoint_every = every > 0 ? (int)every : ck.every, .resume = &ck};
    int rc = tm_simulate(p, ck.final_path, &so, digest, &err);
    if (!rc && !a->quiet)
        printf("\nwrote %s in %.2f s (digest %.16s...)\n", ck.final_path, now_seconds() - t0, digest);
    tm_params_free(p);
    tm_checkpoint_free(&ck);
    return rc ? tm_cli_fail(&err) : 0;
}

static int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'}, {"seed", required_argument, 0, 'S'},
        {"threads", required_argument, 0, 't'}, {"set", required_argument, 0, 's'},
        {"panel", no_argument, 0, 'p'},        {"force", no_argument, 0, 'f'},
        {"quiet", no_argument, 0, 'q'},        {"help", no_argument, 0, 'h'},
        {"checkpoint-every", required_argument, 0, 'C'}, {"resume", required_argument, 0, 'R'},
        {0, 0, 0, 0},
    };
    run_args a = {0};
    long checkpoint_every = 0;
    const char *resume = NULL;
    const char *sets[MAX_SETS + 1];
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
            if (a.n_sets == MAX_SETS)
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
                return tm_cli_usage_error(run_usage, "--checkpoint-every %s: expected a whole number of periods from 1 to 100000",
                                   optarg);
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
        printf("tradeabm %s: %s model, %lld firms in %d sectors, %d destinations, %d periods from %s "
               "(+%d burn-in), seed %llu, %d threads\n",
               TM_VERSION, tm_model_name(p->model), (long long)firms, p->n_sectors, p->n_dest, p->periods, p->start,
               p->burn_in, (unsigned long long)p->seed, a.threads ? (int)a.threads : omp_get_max_threads());
        fflush(stdout);
    }
    char digest[65];
    double t0 = now_seconds();
    tm_runner_catch_signals();
    tm_simulate_options so = {.threads = (int)a.threads, .panel = a.panel, .force = a.force, .progress = !a.quiet,
                              .checkpoint_every = (int)checkpoint_every,
                              .summary = a.quiet ? NULL : stdout};
    int rc = tm_simulate(p, path, &so, digest, &err);
    tm_params_free(p);
    if (rc)
        return tm_cli_fail(&err);
    if (!a.quiet)
        printf("\nwrote %s in %.2f s (digest %.16s...)\n", path, now_seconds() - t0, digest);
    return 0;
}

/* Commands taking one file argument and few options share this parser. */
static int one_file_args(int argc, char **argv, const char *usage, const char **file, const char **sets, int *n_sets,
                         long *threads)
{
    static const struct option opts[] = {
        {"set", required_argument, 0, 's'}, {"threads", required_argument, 0, 't'}, {"help", no_argument, 0, 'h'},
        {"doc", no_argument, 0, 'd'},        {0, 0, 0, 0},
    };
    optind = 1;
    int c;
    *file = NULL;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return 0;
        }
        if (c == 's' && sets && *n_sets < MAX_SETS) {
            sets[(*n_sets)++] = optarg;
            continue;
        }
        if (c == 't' && threads) {
            if (tm_cli_parse_count(optarg, 1, 4096, threads))
                return tm_cli_usage_error(usage, "--threads %s: expected a whole number from 1 to 4096", optarg);
            continue;
        }
        if (c == 'd' && usage == params_usage) {
            *file = "--doc";
            continue;
        }
        fprintf(stderr, "tradeabm: unexpected option for this command\n\n%s", usage);
        return 2;
    }
    if (optind < argc && !*file)
        *file = argv[optind++];
    if (optind < argc)
        return tm_cli_usage_error(usage, "unexpected argument %s", argv[optind]);
    if (!*file)
        return tm_cli_usage_error(usage, "%s", usage == params_usage ? "params: expected --doc" : "missing the file argument");
    return -1;
}

static int cmd_check(int argc, char **argv)
{
    const char *file, *sets[MAX_SETS];
    int n_sets = 0;
    int rc = one_file_args(argc, argv, check_usage, &file, sets, &n_sets, NULL);
    if (rc >= 0)
        return rc;
    tm_error err = {0};
    tm_params *p = NULL;
    if (tm_params_load(file, sets, n_sets, &p, &err))
        return tm_cli_fail(&err);
    fputs(p->canonical, stdout);
    printf("# sha256: %s\n", p->sha256);
    tm_params_free(p);
    return 0;
}

static int cmd_params(int argc, char **argv)
{
    const char *file;
    int rc = one_file_args(argc, argv, params_usage, &file, NULL, NULL, NULL);
    if (rc >= 0)
        return rc;
    if (strcmp(file, "--doc") != 0)
        return tm_cli_usage_error(params_usage, "params: unexpected argument %s", file);
    tm_params_doc(stdout);
    return 0;
}

static int cmd_info(int argc, char **argv)
{
    const char *file;
    int rc = one_file_args(argc, argv, info_usage, &file, NULL, NULL, NULL);
    if (rc >= 0)
        return rc;
    tm_error err = {0};
    if (tm_output_print_info(file, stdout, &err))
        return tm_cli_fail(&err);
    return 0;
}

static int cmd_reproduce(int argc, char **argv)
{
    const char *file;
    long threads = 0;
    int rc = one_file_args(argc, argv, reproduce_usage, &file, NULL, NULL, &threads);
    if (rc >= 0)
        return rc;
    tm_error err = {0};
    tm_file_info info;
    if (tm_output_read_info(file, &info, &err))
        return tm_cli_fail(&err);
    if (strcmp(info.status, "complete") != 0) {
        tm_file_info_free(&info);
        tm_error_set(&err, TM_ERR_INPUT, "%s: status is %s; only complete runs can be reproduced", file, info.status);
        return tm_cli_fail(&err);
    }
    tm_params *p = NULL;
    rc = tm_params_load_text(file, info.parameters, NULL, 0, &p, &err);
    if (rc) {
        tm_file_info_free(&info);
        return tm_cli_fail(&err);
    }
    if (strcmp(p->sha256, info.params_sha256) != 0) {
        tm_file_info_free(&info);
        tm_params_free(p);
        tm_error_set(&err, TM_ERR_INPUT, "%s: stored parameters do not match their recorded SHA-256", file);
        return tm_cli_fail(&err);
    }
    const char *tmpdir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tradeabm-reproduce-%ld.h5", tmpdir && *tmpdir ? tmpdir : "/tmp", (long)getpid());
    char digest[65];
    printf("re-running %s (seed %llu, %s model)...\n", file, (unsigned long long)p->seed, tm_model_name(p->model));
    fflush(stdout);
    tm_simulate_options so = {.threads = (int)threads, .panel = info.panel, .force = 1};
    rc = tm_simulate(p, path, &so, digest, &err);
    tm_params_free(p);
    unlink(path);
    if (rc) {
        tm_file_info_free(&info);
        return tm_cli_fail(&err);
    }
    int same = strcmp(digest, info.digest) == 0;
    printf("stored digest  %s\nnew digest     %s\n%s\n", info.digest, digest,
           same ? "reproduced: digests match" : "NOT reproduced: digests differ");
    if (!same && strcmp(info.git_commit, TM_GIT_COMMIT) != 0)
        printf("note: the file was written by commit %s, this is %s; results may differ between builds\n",
               info.git_commit, TM_GIT_COMMIT);
    tm_file_info_free(&info);
    return same ? 0 : 1;
}

int tm_cli_main(int argc, char **argv)
{
    /* Before any other HDF5 call: no library shutdown at exit (see
     * quiet_hdf5 in output.c: it crashes on a file whose close failed). */
    H5dont_atexit();
    if (argc < 2) {
        fputs(main_usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(main_usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        unsigned maj, min, rel;
        H5get_libversion(&maj, &min, &rel);
        printf("tradeabm %s (commit %s, %s, HDF5 %u.%u.%u)\n", TM_VERSION, TM_GIT_COMMIT, TM_C_COMPILER, maj, min, rel);
        return 0;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } commands[] = {
        {"run", cmd_run}, {"check", cmd_check}, {"params", cmd_params}, {"info", cmd_info}, {"reproduce", cmd_reproduce},
        {"sweep", tm_cli_sweep}, {"sweep-index", tm_cli_sweep_index},
        {"calibrate", tm_cli_calibrate}, {"compare", tm_cli_compare},
        {"export", tm_cli_export}, {"bench", tm_cli_bench},
    };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "tradeabm: unknown command '%s'\n\n%s", cmd, main_usage);
    return 2;
}
