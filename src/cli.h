/* cli: the tradeabm command line (run, check, params, info, reproduce).
 * The only place that prints errors and chooses exit statuses:
 * 0 success, 1 runtime failure, 2 usage or input error. */
#ifndef TM_CLI_H
#define TM_CLI_H

int tm_cli_main(int argc, char **argv);

#endif
