/* The dispatcher of `tradeabm COMMAND` and the option helpers every
 * command shares. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm_build_info.h"

static const char *const main_usage =
    "usage: tradeabm COMMAND [options]\n"
    "\n"
    "Agent-based model of firms choosing export markets under tariffs and\n"
    "political risk. Commands:\n"
    "  run [PARAMS.yaml]     simulate (default: the built-in Canadian baseline)\n"
    "  check [PARAMS.yaml]   validate and print the resolved parameters (default: the baseline)\n"
    "  params --doc          list every parameter with default, range and unit\n"
    "  info FILE.h5          print a run file's provenance and summary\n"
    "  reproduce FILE.h5     re-run a file from its stored parameters and compare digests\n"
    "  verify FILE.h5        recompute a file's digest from its stored data and compare\n"
    "  sweep SWEEP.yaml      run a batch experiment (grid, list or Latin hypercube)\n"
    "  sweep-index DIR       rebuild a sweep's index DIR/sweep.h5 from its run files\n"
    "  calibrate CAL.yaml -o FITTED.yaml  fit parameters to target moments (SMM)\n"
    "  compare BASE.yaml SCENARIO.yaml    scenario against base with common random numbers\n"
    "  target QUESTIONS.yaml -o RESULT.json  lever size at which an export ratio reaches a target\n"
    "  validate VALIDATION.yaml -o PAGE.md  model against data the calibration did not use\n"
    "  export FILE.h5 -o DIR tidy tables (CSV or Parquet) for Stata and R\n"
    "  bench [--quick]       run the performance benchmarks\n"
    "\n"
    "Options: --help (also after a command), --version.\n"
    "Exit status: 0 success, 1 runtime failure, 2 usage or input error.\n";

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

int tm_cli_one_file(int argc, char **argv, const char *usage, unsigned accept, tm_cli_one_file_args *out)
{
    static const struct option opts[] = {
        {"set", required_argument, 0, 's'},
        {"threads", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},
        {"doc", no_argument, 0, 'd'},
        {0, 0, 0, 0},
    };
    memset(out, 0, sizeof *out);
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return 0;
        }
        if (c == 's' && (accept & TM_CLI_SET)) {
            if (out->n_sets == TM_CLI_MAX_SETS)
                return tm_cli_usage_error(usage, "%s: too many --set options", "--set");
            out->sets[out->n_sets++] = optarg;
            continue;
        }
        if (c == 't' && (accept & TM_CLI_THREADS)) {
            if (tm_cli_parse_count(optarg, 1, 4096, &out->threads))
                return tm_cli_usage_error(usage, "--threads %s: expected a whole number from 1 to 4096", optarg);
            continue;
        }
        if (c == 'd' && (accept & TM_CLI_DOC)) {
            out->doc = 1;
            continue;
        }
        fprintf(stderr, "tradeabm: unexpected option for this command\n\n%s", usage);
        return 2;
    }
    if (optind < argc)
        out->file = argv[optind++];
    if (optind < argc)
        return tm_cli_usage_error(usage, "unexpected argument %s", argv[optind]);
    if (!out->file && !(accept & (TM_CLI_DOC | TM_CLI_NO_FILE)))
        return tm_cli_usage_error(usage, "%s", "missing the file argument");
    return -1;
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
        {"run", tm_cli_run},
        {"check", tm_cli_check},
        {"params", tm_cli_params},
        {"info", tm_cli_info},
        {"reproduce", tm_cli_reproduce},
        {"verify", tm_cli_verify},
        {"sweep", tm_cli_sweep},
        {"sweep-index", tm_cli_sweep_index},
        {"calibrate", tm_cli_calibrate},
        {"compare", tm_cli_compare},
        {"validate", tm_cli_validate},
        {"export", tm_cli_export},
        {"bench", tm_cli_bench},
        {"target", tm_cli_target},
    };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "tradeabm: unknown command '%s'\n\n%s", cmd, main_usage);
    return 2;
}
