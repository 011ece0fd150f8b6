/* `tradeabm reproduce`: run a file again from its stored parameters and
 * seed and compare the digests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "io/reader.h"
#include "io/runner.h"
#include "models/model.h"
#include "params/params.h"
#include "tm_build_info.h"

static const char *const reproduce_usage =
    "usage: tradeabm reproduce FILE.h5 [--threads N]\n"
    "\n"
    "Re-run FILE.h5 from its stored parameters and seed, and compare the digest\n"
    "of the new results with the stored one. Exit 0 only if they match.\n";

int tm_cli_reproduce(int argc, char **argv)
{
    tm_cli_one_file_args a;
    int rc = tm_cli_one_file(argc, argv, reproduce_usage, TM_CLI_THREADS, &a);
    if (rc >= 0)
        return rc;
    const char *file = a.file;
    tm_error err = {0};
    tm_file_info info;
    if (tm_reader_read_info(file, &info, &err))
        return tm_cli_fail(&err);
    if (strcmp(info.status, "complete") != 0) {
        tm_reader_info_free(&info);
        tm_error_set(&err, TM_ERR_INPUT, "%s: status is %s; only complete runs can be reproduced", file, info.status);
        return tm_cli_fail(&err);
    }
    tm_params *p = NULL;
    rc = tm_params_load_text(file, info.parameters, NULL, 0, &p, &err);
    if (rc) {
        tm_reader_info_free(&info);
        return tm_cli_fail(&err);
    }
    if (strcmp(p->sha256, info.params_sha256) != 0) {
        tm_reader_info_free(&info);
        tm_params_free(p);
        tm_error_set(&err, TM_ERR_INPUT, "%s: stored parameters do not match their recorded SHA-256", file);
        return tm_cli_fail(&err);
    }
    const char *tmpdir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tradeabm-reproduce-%ld.h5", tmpdir && *tmpdir ? tmpdir : "/tmp", (long)getpid());
    char digest[65];
    printf("re-running %s (seed %llu, %s model)...\n", file, (unsigned long long)p->seed, tm_model_name(p->model));
    fflush(stdout);
    tm_simulate_options so = {.threads = (int)a.threads, .panel = info.panel, .force = 1};
    rc = tm_simulate(p, path, &so, digest, &err);
    tm_params_free(p);
    unlink(path);
    if (rc) {
        tm_reader_info_free(&info);
        return tm_cli_fail(&err);
    }
    int same = strcmp(digest, info.digest) == 0;
    printf("stored digest  %s\nnew digest     %s\n%s\n", info.digest, digest,
           same ? "reproduced: digests match" : "NOT reproduced: digests differ");
    if (!same && strcmp(info.git_commit, TM_GIT_COMMIT) != 0)
        printf("note: the file was written by commit %s, this is %s; results may differ between builds\n",
               info.git_commit, TM_GIT_COMMIT);
    tm_reader_info_free(&info);
    return same ? 0 : 1;
}
