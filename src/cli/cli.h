/* cli: the tradeabm command line (run, check, params, info, reproduce).
 * The only place that prints errors and chooses exit statuses:
 * 0 success, 1 runtime failure, 2 usage or input error. */
#ifndef TM_CLI_H
#define TM_CLI_H

#include "base/error.h"

int tm_cli_main(int argc, char **argv);

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

#endif
