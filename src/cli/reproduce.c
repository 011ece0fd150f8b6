/* `tradeabm reproduce`: run a file again from its stored parameters and
 * seed and compare the digests. */
#include <errno.h>
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
    "Re-run the run file FILE.h5 from its stored parameters and seed, and compare\n"
    "the digest of the new results with the stored one. Exit 0 only if they match,\n"
    "1 if they differ. Exit 2 for a file that is not a complete run file (a sweep\n"
    "index, comparison, fitted parameter file or checkpoint: the message says what\n"
    "to do instead).\n";

static const char *or_else(const char *value, const char *otherwise)
{
    return value ? value : otherwise;
}

void tm_cli_file_advice(const char *path, const tm_file_facts *facts, char *buf, size_t size)
{
    const char *v;
    switch (facts->kind) {
    case TM_FILE_RUN:
        snprintf(buf, size, "tradeabm reproduce %s", path);
        return;
    case TM_FILE_RUN_TEMPORARY:
        snprintf(buf, size,
                 "a partial run file (a run still writing it, or one that was killed) holds no results to "
                 "reproduce: continue the run with tradeabm run --resume FINAL.h5.ckpt if it took checkpoints, "
                 "or run it again");
        return;
    case TM_FILE_SWEEP:
        v = tm_filekind_fact(facts, "folder");
        snprintf(buf, size,
                 "a sweep index holds no run of its own: reproduce one of its runs (tradeabm reproduce "
                 "%s/runs/p0000-r00.h5), or run the sweep again into a new folder (tradeabm sweep %s/sweep.yaml "
                 "-o NEW_FOLDER) and compare /design/digest",
                 or_else(v, "."), or_else(v, "."));
        return;
    case TM_FILE_COMPARISON:
        v = tm_filekind_fact(facts, "runs path");
        snprintf(buf, size,
                 "a comparison file holds differences, not a run: reproduce its runs (tradeabm reproduce "
                 "%s/base-r01.h5, %s/scenario-r01.h5, ...), or run tradeabm compare %s %s --replicates %s -o NEW.h5 "
                 "again",
                 or_else(v, "RUNS"), or_else(v, "RUNS"),
                 or_else(tm_filekind_fact(facts, "base parameters"), "BASE.yaml"),
                 or_else(tm_filekind_fact(facts, "scenario parameters"), "SCENARIO.yaml"),
                 or_else(tm_filekind_fact(facts, "replicates"), "N"));
        return;
    case TM_FILE_FITTED:
        v = tm_filekind_fact(facts, "calibration file");
        snprintf(buf, size,
                 "a fitted parameter file holds parameters, not results: run it (tradeabm run %s -o RUN.h5) and "
                 "reproduce that file; fit again with tradeabm calibrate %s",
                 path, or_else(v, "CALIBRATION.yaml"));
        return;
    case TM_FILE_CHECKPOINT:
        snprintf(buf, size,
                 "a checkpoint holds the state of an unfinished run: continue it with tradeabm run --resume %s, "
                 "then reproduce the finished file",
                 path);
        return;
    case TM_FILE_OTHER:
        break;
    }
    snprintf(buf, size, "not a file tradeabm writes");
}

int tm_cli_reproduce(int argc, char **argv)
{
    tm_cli_one_file_args a;
    int rc = tm_cli_one_file(argc, argv, reproduce_usage, TM_CLI_THREADS, &a);
    if (rc >= 0)
        return rc;
    const char *file = a.file;
    tm_error err = {0};
    tm_file_facts *facts = malloc(sizeof *facts);
    if (!facts) {
        tm_error_set(&err, TM_ERR_RUNTIME, "out of memory");
        return tm_cli_fail(&err);
    }
    rc = tm_filekind_describe(file, facts, &err);
    if (rc == 0 && facts->kind == TM_FILE_OTHER)
        rc = tm_error_set(&err, TM_ERR_INPUT, "%s: not a file tradeabm writes: %s; nothing to reproduce", file,
                          tm_filekind_fact(facts, "reason"));
    else if (rc == 0 && facts->kind != TM_FILE_RUN) {
        char advice[4096];
        tm_cli_file_advice(file, facts, advice, sizeof advice);
        tm_error_set(&err, TM_ERR_INPUT, "%s: a %s, not a run file: %s", file, tm_filekind_name(facts->kind), advice);
        rc = -1;
    }
    free(facts);
    if (rc)
        return tm_cli_fail(&err);
    tm_file_info info;
    if (tm_reader_read_info(file, &info, &err))
        return tm_cli_fail(&err);
    if (strcmp(info.status, "complete") != 0) {
        tm_reader_info_free(&info);
        tm_error_set(&err, TM_ERR_INPUT,
                     "%s: status is %s; only complete runs can be reproduced (a run stopped by a "
                     "signal: continue it with tradeabm run --resume %s.ckpt if it took checkpoints)",
                     file, info.status, file);
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
    /* The stored data must give the recorded digest before the run is
     * repeated: otherwise "reproduced" would vouch for a damaged file. */
    char stored_data[65];
    if (tm_reader_check_digest(file, stored_data, &err)) {
        tm_reader_info_free(&info);
        tm_params_free(p);
        return tm_cli_fail(&err);
    }
    /* The new run goes to a private folder (mkdtemp: unpredictable name,
     * mode 0700), so nobody else sharing TMPDIR can plant a name in it. */
    const char *tmpdir = getenv("TMPDIR");
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/tradeabm-reproduce-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(dir)) {
        tm_reader_info_free(&info);
        tm_params_free(p);
        tm_error_set(&err, TM_ERR_RUNTIME, "%s: cannot create a private temporary folder: %s", dir, strerror(errno));
        return tm_cli_fail(&err);
    }
    snprintf(path, sizeof path, "%s/run.h5", dir);
    char digest[65];
    printf("re-running %s (seed %llu, %s model)...\n", file, (unsigned long long)p->seed, tm_model_name(p->model));
    fflush(stdout);
    tm_cli_progress reporter;
    tm_cli_progress_init(&reporter);
    tm_simulate_options so = {
        .threads = (int)a.threads, .panel = info.panel, .force = 1, .progress = {tm_cli_progress_of_run, &reporter}};
    rc = tm_simulate(p, path, &so, digest, &err);
    tm_cli_progress_clear(&reporter);
    tm_params_free(p);
    unlink(path);
    rmdir(dir);
    if (rc) {
        tm_reader_info_free(&info);
        return tm_cli_fail(&err);
    }
    int same = strcmp(digest, info.digest) == 0;
    printf("stored digest  %s (the stored data give it too)\nnew digest     %s\n%s\n", info.digest, digest,
           same ? "reproduced: digests match" : "NOT reproduced: digests differ");
    if (!same && strcmp(info.git_commit, TM_GIT_COMMIT) != 0)
        printf("note: the file was written by commit %s, this is %s; results may differ between builds\n",
               info.git_commit, TM_GIT_COMMIT);
    tm_reader_info_free(&info);
    return same ? 0 : 1;
}
