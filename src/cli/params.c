/* `tradeabm params --doc`: the table of every parameter. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "params/params.h"

static const char *const params_usage =
    "usage: tradeabm params --doc\n"
    "\n"
    "List every parameter: path, type, default, range, unit, symbol, description\n"
    "and source (a Markdown table).\n";

int tm_cli_params(int argc, char **argv)
{
    tm_cli_one_file_args a;
    int rc = tm_cli_one_file(argc, argv, params_usage, TM_CLI_DOC, &a);
    if (rc >= 0)
        return rc;
    if (a.file)
        return tm_cli_usage_error(params_usage, "params: unexpected argument %s", a.file);
    if (!a.doc)
        return tm_cli_usage_error(params_usage, "%s", "params: expected --doc");
    char *doc = tm_params_doc();
    if (!doc) {
        tm_error err;
        tm_error_set(&err, TM_ERR_RUNTIME, "out of memory");
        return tm_cli_fail(&err);
    }
    fputs(doc, stdout);
    free(doc);
    return 0;
}
