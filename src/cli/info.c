/* `tradeabm info`: what a file tradeabm wrote is (run file, sweep index,
 * comparison, fitted parameter file, checkpoint) and what it holds; for a
 * run file its provenance, events and the summary of its last logged
 * period. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "experiments/filekind.h"
#include "io/reader.h"

static const char *const info_usage =
    "usage: tradeabm info FILE\n"
    "\n"
    "Say which kind of tradeabm file FILE is (run file, sweep index, comparison,\n"
    "fitted parameter file of a calibration, checkpoint) and what it holds. For a\n"
    "run file: provenance (version, commit, source parameter file, seed, threads,\n"
    "wall time of the whole run, digests, status), the events that took effect\n"
    "and the summary table of its last logged period. Exit 2 for a file tradeabm\n"
    "does not write.\n";

int tm_cli_info(int argc, char **argv)
{
    tm_cli_one_file_args a;
    int rc = tm_cli_one_file(argc, argv, info_usage, 0, &a);
    if (rc >= 0)
        return rc;
    tm_error err = {0};
    tm_file_facts *facts = malloc(sizeof *facts);
    if (!facts) {
        tm_error_set(&err, TM_ERR_RUNTIME, "out of memory");
        return tm_cli_fail(&err);
    }
    rc = tm_filekind_describe(a.file, facts, &err);
    if (rc == 0 && facts->kind == TM_FILE_OTHER)
        rc = tm_error_set(&err, TM_ERR_INPUT, "%s: not a file tradeabm writes: %s", a.file,
                          tm_filekind_fact(facts, "reason"));
    if (rc == 0 && facts->kind == TM_FILE_RUN) {
        free(facts);
        return tm_reader_print_info(a.file, stdout, &err) ? tm_cli_fail(&err) : 0;
    }
    if (rc) {
        free(facts);
        return tm_cli_fail(&err);
    }
    /* Keys in one column, as wide as the longest (at least the run file's 14). */
    int width = 14;
    for (int i = 0; i < facts->n; i++)
        if ((int)strlen(facts->fact[i].key) > width)
            width = (int)strlen(facts->fact[i].key);
    printf("%-*s %s\n%-*s %s\n", width, "file", a.file, width, "kind", tm_filekind_name(facts->kind));
    for (int i = 0; i < facts->n; i++)
        if (strcmp(facts->fact[i].key, "runs path") != 0)
            printf("%-*s %s\n", width, facts->fact[i].key, facts->fact[i].value);
    char advice[4096];
    tm_cli_file_advice(a.file, facts, advice, sizeof advice);
    printf("%-*s %s\n", width, "reproduce", advice);
    free(facts);
    return 0;
}
