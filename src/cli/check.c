/* `tradeabm check`: validate a parameter file and print the canonical
 * resolved parameters with their SHA-256. */
#include <stdio.h>

#include "cli/cli.h"
#include "engine/preflight.h"
#include "params/params.h"

static const char *const check_usage =
    "usage: tradeabm check PARAMS.yaml [--set KEY=VALUE]...\n"
    "\n"
    "Validate a parameter file (with its `extends:` chain and overrides) and print\n"
    "the canonical resolved parameters and their SHA-256. Exit 2 on any error.\n";

int tm_cli_check(int argc, char **argv)
{
    tm_cli_one_file_args a;
    int rc = tm_cli_one_file(argc, argv, check_usage, TM_CLI_SET, &a);
    if (rc >= 0)
        return rc;
    tm_error err = {0};
    tm_params *p = NULL;
    if (tm_params_load(a.file, a.sets, a.n_sets, &p, &err))
        return tm_cli_fail(&err);
    if (tm_preflight_check_values(p, &err)) {
        tm_params_free(p);
        return tm_cli_fail(&err);
    }
    fputs(p->canonical, stdout);
    printf("# sha256: %s\n", p->sha256);
    tm_params_free(p);
    return 0;
}
