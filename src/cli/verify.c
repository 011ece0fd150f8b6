/* `tradeabm verify`: recompute a run file's digest from its stored data
 * and compare it with the digest it records. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "io/reader.h"

static const char *const verify_usage =
    "usage: tradeabm verify FILE.h5\n"
    "\n"
    "Read every dataset of a finished run file (HDF5 checks each chunk's\n"
    "Fletcher32 checksum), recompute the digest from the stored data and compare\n"
    "it with the file's digest attribute. Exit 0 if they match, 1 if the file is\n"
    "damaged (the damaged dataset is named), 2 if it is not a complete run file.\n";

int tm_cli_verify(int argc, char **argv)
{
    tm_cli_one_file_args a;
    int rc = tm_cli_one_file(argc, argv, verify_usage, 0, &a);
    if (rc >= 0)
        return rc;
    tm_error err = {0};
    tm_file_info info;
    if (tm_reader_read_info(a.file, &info, &err))
        return tm_cli_fail(&err);
    int complete = strcmp(info.status, "complete") == 0;
    if (!complete)
        tm_error_set(&err, TM_ERR_INPUT, "%s: status is %s; only complete runs record a digest", a.file, info.status);
    tm_reader_info_free(&info);
    char digest[65];
    if (!complete || tm_reader_check_digest(a.file, digest, &err))
        return tm_cli_fail(&err);
    printf("%s: verified: the stored data give the recorded digest %s\n", a.file, digest);
    return 0;
}
