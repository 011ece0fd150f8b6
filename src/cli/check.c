/* `tradeabm check`: validate a parameter file (default: the built-in
 * baseline) and print the canonical resolved parameters with their
 * SHA-256, or every error found in one pass. */
#include <stdio.h>

#include "cli/cli.h"
#include "engine/preflight.h"
#include "params/params.h"

static const char *const check_usage =
    "usage: tradeabm check [PARAMS.yaml] [--set KEY=VALUE]...\n"
    "\n"
    "Validate a parameter file (with its `extends:` chain and overrides; without\n"
    "a file, the built-in Canadian baseline) and print the canonical resolved\n"
    "parameters and their SHA-256. On errors, print every error found (each key\n"
    "in error is set aside and checking goes on) and exit 2.\n";

int tm_cli_check(int argc, char **argv)
{
    tm_cli_one_file_args a;
    int rc = tm_cli_one_file(argc, argv, check_usage, TM_CLI_SET | TM_CLI_NO_FILE, &a);
    if (rc >= 0)
        return rc;
    tm_error errs[TM_PARAMS_MAX_CHECK_ERRORS] = {0};
    int n_errs = 0;
    tm_params *p = NULL;
    if (tm_params_check_all(a.file, a.sets, a.n_sets, &p, errs, TM_PARAMS_MAX_CHECK_ERRORS, &n_errs)) {
        int status = 2;
        for (int i = 0; i < n_errs; i++)
            if (tm_cli_fail(&errs[i]) == 1)
                status = 1; /* a failure of the machine, not of the input */
        if (n_errs > 1)
            fprintf(stderr, "tradeabm: %d errors%s\n", n_errs,
                    n_errs == TM_PARAMS_MAX_CHECK_ERRORS ? " (the first ones; fix them and check again)" : "");
        return status;
    }
    if (tm_preflight_check_values(p, &errs[0])) {
        tm_params_free(p);
        return tm_cli_fail(&errs[0]);
    }
    fputs(p->canonical, stdout);
    printf("# sha256: %s\n", p->sha256);
    tm_params_free(p);
    return 0;
}
