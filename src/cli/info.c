/* `tradeabm info`: a run file's provenance and the summary of its last
 * logged period. */
#include <stdio.h>

#include "cli/cli.h"
#include "io/reader.h"

static const char *const info_usage =
    "usage: tradeabm info FILE.h5\n"
    "\n"
    "Print a run file's provenance (version, commit, seed, threads, digests, status)\n"
    "and the summary table of its last logged period.\n";

int tm_cli_info(int argc, char **argv)
{
    tm_cli_one_file_args a;
    int rc = tm_cli_one_file(argc, argv, info_usage, 0, &a);
    if (rc >= 0)
        return rc;
    tm_error err = {0};
    if (tm_reader_print_info(a.file, stdout, &err))
        return tm_cli_fail(&err);
    return 0;
}
