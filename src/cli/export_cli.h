/* export_cli: `tradeabm export`, tidy tables of a run, sweep or comparison
 * for Stata and R. The tables are written by the analysis package
 * (analysis/export.py, one definition of the export); this command runs it
 * with Debian's Python from the source tree the program was built from. */
#ifndef TM_EXPORT_CLI_H
#define TM_EXPORT_CLI_H

int tm_cli_export(int argc, char **argv);

#endif
