/* cli: the tradeabm command line (run, check, params, info, reproduce).
 * The only place that prints errors and chooses exit statuses:
 * 0 success, 1 runtime failure, 2 usage or input error. */
#ifndef TM_CLI_H
#define TM_CLI_H

int tm_cli_main(int argc, char **argv);

/* `sweep` and `sweep-index` (src/sweep_cli.c). */
int tm_cli_sweep(int argc, char **argv);
int tm_cli_sweep_index(int argc, char **argv);

/* `calibrate` (src/calibrate.c) and `compare` (src/compare.c). */
int tm_cli_calibrate(int argc, char **argv);
int tm_cli_compare(int argc, char **argv);

#endif
