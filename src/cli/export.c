/* `tradeabm export`: tidy tables of a run, sweep or comparison for Stata
 * and R. The tables are written by the analysis package
 * (analysis/export.py, the one definition of the export); this command
 * runs it with Debian's Python from the source tree the program was built
 * from. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "tm_build_info.h"

/* Debian's interpreter, which has python3-h5py, -numpy and -pandas; a
 * python3 found first on PATH may lack them (docs/output.md). */
#define EXPORT_PYTHON "/usr/bin/python3"

int tm_cli_export(int argc, char **argv)
{
    const char *source = TM_BUILD_SOURCE_DIR;
    char module[4096];
    snprintf(module, sizeof module, "%s/analysis/export.py", source);
    if (access(module, R_OK) != 0) {
        fprintf(stderr,
                "tradeabm: error: export runs the analysis package of the source tree this program was built "
                "from, and %s is not there; from a copy of the source run\n"
                "  PYTHONPATH=SOURCE " EXPORT_PYTHON " -m analysis export FILE.h5 -o DIR\n",
                module);
        return 1;
    }
    if (access(EXPORT_PYTHON, X_OK) != 0) {
        fprintf(stderr,
                "tradeabm: error: export needs " EXPORT_PYTHON
                " (Debian's python3 with python3-h5py, python3-numpy and python3-pandas): %s\n",
                strerror(errno));
        return 1;
    }
    /* The source tree first on the module path, so that its analysis
     * package is the one that runs; messages name this command. */
    const char *old = getenv("PYTHONPATH");
    size_t size = strlen(source) + (old ? strlen(old) : 0) + 2;
    char *path = malloc(size);
    const char **args = calloc((size_t)argc + 4, sizeof *args);
    if (!path || !args) {
        free(path);
        free(args);
        fputs("tradeabm: error: out of memory\n", stderr);
        return 1;
    }
    snprintf(path, size, "%s%s%s", source, old && *old ? ":" : "", old && *old ? old : "");
    int failed = setenv("PYTHONPATH", path, 1) || setenv("TRADEABM_COMMAND", "tradeabm export", 1) ||
                 setenv("TRADEABM_ERROR_PREFIX", "tradeabm: error", 1);
    free(path);
    if (failed) {
        free(args);
        fprintf(stderr, "tradeabm: error: cannot set the environment of export: %s\n", strerror(errno));
        return 1;
    }
    args[0] = EXPORT_PYTHON;
    args[1] = "-m";
    args[2] = "analysis";
    args[3] = "export";
    for (int i = 1; i < argc; i++)
        args[3 + i] = argv[i];
    fflush(stdout);
    fflush(stderr);
    execv(EXPORT_PYTHON, (char *const *)args);
    int e = errno;
    free(args);
    fprintf(stderr, "tradeabm: error: cannot run " EXPORT_PYTHON ": %s\n", strerror(e));
    return 1;
}
