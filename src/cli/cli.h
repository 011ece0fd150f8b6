/* cli: the tradeabm command line, one file per command in src/cli/ and the
 * option helpers they share. The only place that prints errors, progress
 * and results and chooses exit statuses: 0 success, 1 runtime failure,
 * 2 usage or input error. */
#ifndef TM_CLI_H
#define TM_CLI_H

#include "base/error.h"

int tm_cli_main(int argc, char **argv);

/* The commands: argv[0] is the command name. */
int tm_cli_run(int argc, char **argv);       /* src/cli/run.c */
int tm_cli_check(int argc, char **argv);     /* src/cli/check.c */
int tm_cli_params(int argc, char **argv);    /* src/cli/params.c */
int tm_cli_info(int argc, char **argv);      /* src/cli/info.c */
int tm_cli_reproduce(int argc, char **argv); /* src/cli/reproduce.c */
int tm_cli_bench(int argc, char **argv);     /* src/cli/bench.c */
int tm_cli_export(int argc, char **argv);    /* src/cli/export.c */

/* `sweep` and `sweep-index` (src/cli/sweep.c). */
int tm_cli_sweep(int argc, char **argv);
int tm_cli_sweep_index(int argc, char **argv);

/* `calibrate` (src/cli/calibrate.c) and `compare` (src/cli/compare.c). */
int tm_cli_calibrate(int argc, char **argv);
int tm_cli_compare(int argc, char **argv);

/* Shared by every command: print err and map its status to an exit code
 * (2 input, 1 runtime); print a usage error and return 2; parse a whole
 * number in [lo, hi] (0, or -1 if it is not one). */
int tm_cli_fail(const tm_error *err);
int tm_cli_usage_error(const char *usage, const char *fmt, const char *arg);
int tm_cli_parse_count(const char *s, long lo, long hi, long *out);

/* Most `--set KEY=VALUE` options one command line may carry. */
#define TM_CLI_MAX_SETS 256

/* Commands taking one file argument and few options: --help always, and
 * the options `accept` names. With TM_CLI_DOC the file is optional. */
enum { TM_CLI_SET = 1u << 0, TM_CLI_THREADS = 1u << 1, TM_CLI_DOC = 1u << 2 };
typedef struct {
    const char *file; /* NULL if none was given */
    const char *sets[TM_CLI_MAX_SETS];
    int n_sets;
    long threads; /* 0 unless --threads */
    int doc;      /* --doc was given */
} tm_cli_one_file_args;

/* Returns -1 when the command should go on, else its exit status (0 after
 * --help, 2 after a usage error, which it has printed). */
int tm_cli_one_file(int argc, char **argv, const char *usage, unsigned accept, tm_cli_one_file_args *out);

#endif
