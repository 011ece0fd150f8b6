/* The `sweep` and `sweep-index` commands: options, shards, Slurm scripts,
 * progress lines and messages; the work itself is src/experiments/sweep_*.c. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "base/error.h"
#include "experiments/sweep.h"

static const char *const sweep_usage =
    "usage: tradeabm sweep SWEEP.yaml [-o DIR] [options]\n"
    "\n"
    "Run every point and replicate of a sweep, each into DIR/runs/pPPPP-rRR.h5, and\n"
    "write the index DIR/sweep.h5 when the last run finishes. Complete runs are\n"
    "skipped, so an interrupted sweep resumes where it stopped. Format: docs/sweeps.md.\n"
    "\n"
    "  -o, --output DIR     output folder (default: runs/<sweep name>)\n"
    "      --set KEY=VALUE  set a parameter of every run (after the sweep file's\n"
    "                       `fixed`; not a swept one); repeatable\n"
    "      --plan           print the number of runs and their estimated time, memory\n"
    "                       and output size, then exit\n"
    "  -j, --jobs J         runs at once, each in a worker process (default 1)\n"
    "      --threads T      OpenMP threads in all (default: OMP_NUM_THREADS or all\n"
    "                       cores); each run gets T/J; with --emit-slurm the CPUs\n"
    "                       of each array task, the same total (default J)\n"
    "      --shard K/N      run only the K-th (1 <= K <= N) of N disjoint parts; inside a\n"
    "                       Slurm array job the part comes from SLURM_ARRAY_TASK_ID\n"
    "      --emit-slurm     write an sbatch array script (runs/<sweep name>.sbatch, or\n"
    "                       --script PATH) for this sweep and exit\n"
    "      --tasks N        array tasks of the script (default: runs, at most 100)\n"
    "      --script PATH    where --emit-slurm writes the script\n"
    "  -q, --quiet          print nothing but errors\n"
    "  -h, --help           this help\n"
    "\n"
    "Under `mpirun -np R` the ranks share the runs dynamically.\n";

static const char *const index_usage =
    "usage: tradeabm sweep-index DIR [--condition regime.DEST=REGIME[>=SHARE]]... [-o NAME.h5]\n"
    "\n"
    "(Re)write DIR/sweep.h5 from the run files present in DIR/runs (the design comes\n"
    "from DIR/sweep.yaml, the copy of the sweep file stored when the sweep started).\n"
    "\n"
    "  --condition C   summarise only the runs that spent at least SHARE (default 1:\n"
    "                  every period) of their summary window in REGIME of DEST, e.g.\n"
    "                  regime.US=tariffs or regime.US=tariffs>=0.5 (repeatable: all\n"
    "                  must hold); the index goes to DIR/sweep-conditioned.h5\n"
    "  -o NAME.h5      the index's file name inside DIR (a name, not a path)\n";

/* "name" of path/to/name.yaml */
static void stem_of(const char *path, char *buf, size_t size)
{
    const char *base = strrchr(path, '/');
    snprintf(buf, size, "%s", base ? base + 1 : path);
    char *dot = strrchr(buf, '.');
    if (dot && dot != buf)
        *dot = '\0';
}

static void human_bytes(double b, char *buf, size_t size)
{
    const char *units[] = {"B", "KB", "MB", "GB", "TB"};
    int u = 0;
    while (b >= 1000 && u < 4) {
        b /= 1000;
        u++;
    }
    snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", b, units[u]);
}

/* The part of the sweep this process runs: --shard, else a Slurm array. */
static int find_shard(const char *arg, int *shard, int *shards, tm_error *err)
{
    *shard = 0;
    *shards = 1;
    if (arg) {
        long k, n;
        const char *slash = strchr(arg, '/');
        char kbuf[32];
        if (!slash || slash - arg >= (long)sizeof kbuf)
            return tm_error_set(err, TM_ERR_INPUT, "--shard %s: expected K/N, e.g. 2/8", arg);
        snprintf(kbuf, sizeof kbuf, "%.*s", (int)(slash - arg), arg);
        if (tm_cli_parse_count(slash + 1, 1, 1000000, &n) || tm_cli_parse_count(kbuf, 1, n, &k))
            return tm_error_set(err, TM_ERR_INPUT, "--shard %s: expected K/N with 1 <= K <= N, e.g. 2/8", arg);
        *shard = (int)k - 1;
        *shards = (int)n;
        return 0;
    }
    const char *id = getenv("SLURM_ARRAY_TASK_ID");
    if (!id || !*id)
        return 0;
    const char *count = getenv("SLURM_ARRAY_TASK_COUNT"), *min = getenv("SLURM_ARRAY_TASK_MIN"),
               *max = getenv("SLURM_ARRAY_TASK_MAX");
    long i, lo = 0, hi = -1, n = 0;
    if (tm_cli_parse_count(id, 0, LONG_MAX, &i) || (min && *min && tm_cli_parse_count(min, 0, LONG_MAX, &lo)) ||
        (max && *max && tm_cli_parse_count(max, 0, LONG_MAX, &hi)) ||
        (count && *count && tm_cli_parse_count(count, 1, 1000000, &n)))
        return tm_error_set(err, TM_ERR_INPUT, "SLURM_ARRAY_TASK_* variables are not whole numbers");
    if (!n && hi >= lo)
        n = hi - lo + 1;
    /* `sbatch --array=3 job.sbatch` resubmits one task of a larger array:
     * an array of one task whose index is not 0. Taken as "part 1 of 1" it
     * would run the whole sweep beside the other tasks. */
    if (n == 1 && i > 0)
        return tm_error_set(err, TM_ERR_INPUT,
                            "SLURM_ARRAY_TASK_ID=%s in an array of one task: a resubmitted task of a larger array "
                            "cannot tell its part of the sweep; pass --shard K/N (scripts from --emit-slurm do)",
                            id);
    if (!n || i < lo || i - lo >= n)
        return tm_error_set(err, TM_ERR_INPUT,
                            "SLURM_ARRAY_TASK_ID=%s: cannot tell the part of the sweep (set SLURM_ARRAY_TASK_COUNT or "
                            "MIN/MAX, use an array 0-(N-1), or pass --shard K/N)",
                            id);
    *shard = (int)(i - lo);
    *shards = (int)n;
    return 0;
}

/* Text for a bash script: one single-quoted word ('\'' for each quote),
 * which bash takes literally whatever it holds ($(), backticks, spaces,
 * quotes, newlines). */
static void put_shell_word(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    }
    fputc('\'', f);
}

/* Text inside a comment line: control characters (a newline would end the
 * comment and start a command) shown as '?'. */
static void put_comment_text(FILE *f, const char *s)
{
    for (; *s; s++)
        fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

/* Whether a path can stand unquoted in an #SBATCH line: sbatch reads those
 * lines itself (no shell), splits at white space, gives quotes and
 * backslashes meanings of its own and expands %-patterns in file names. */
static int directive_safe(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || strchr("\"'\\%#", *s))
            return 0;
    return 1;
}

static int emit_slurm(const tm_sweep *s, const char *sweep_path, const char *dir, const char *script, long tasks,
                      int threads, int jobs, tm_error *err)
{
    int64_t runs = tm_sweep_runs(s);
    if (tasks <= 0)
        tasks = runs < 100 ? (long)runs : 100;
    if (tasks > runs)
        tasks = (long)runs;
    if (tm_sweep_prepare_dir(s, dir, err))
        return -1;
    char logs[4096];
    snprintf(logs, sizeof logs, "%s/logs", dir);
    if (mkdir(logs, 0777) != 0 && errno != EEXIST)
        return tm_error_set(err, TM_ERR_INPUT, "%s: cannot create the folder: %s", logs, strerror(errno));
    char exe[PATH_MAX], abs_sweep[PATH_MAX], abs_dir[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        snprintf(exe, sizeof exe, "tradeabm");
    else
        exe[n] = '\0';
    if (!realpath(sweep_path, abs_sweep) || !realpath(dir, abs_dir))
        return tm_error_set(err, TM_ERR_INPUT, "cannot resolve the paths of %s and %s", sweep_path, dir);
    tm_sweep_estimate est;
    if (tm_sweep_plan(s, &est, err))
        return -1;
    /* --threads is the total of a process here as for a local sweep: the
     * CPUs of one array task, T/J threads per run (at least one each). */
    int cpus = threads > jobs ? threads : jobs;
    double per_task = est.seconds_per_run * (double)((runs + tasks - 1) / tasks) / (double)cpus;
    long minutes = (long)(3 * per_task / 60) + 10;
    FILE *f = fopen(script, "w");
    if (!f)
        return tm_error_set(err, TM_ERR_INPUT, "%s: cannot write: %s", script, strerror(errno));
    /* The job name is the sweep file's stem reduced to characters that mean
     * nothing to sbatch or bash. */
    char name[200];
    stem_of(sweep_path, name, sizeof name);
    for (char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
              *c == '-' || *c == '.'))
            *c = '_';
    int plain_logs = directive_safe(abs_dir);
    fputs("#!/bin/bash\n# Slurm array job for the sweep ", f);
    put_comment_text(f, abs_sweep);
    fprintf(f,
            " (%lld runs: %d points x %d replicates).\n"
            "# Each array task runs one disjoint part of the runs (the part is read from\n"
            "# SLURM_ARRAY_TASK_ID); the last task to finish writes the index sweep.h5 of\n# ",
            (long long)runs, tm_sweep_points(s), tm_sweep_replicates(s));
    put_comment_text(f, abs_dir);
    fprintf(f,
            "\n"
            "# Re-submitting resumes: complete runs are skipped. Edit and submit with sbatch.\n"
            "#SBATCH --job-name=tradeabm-%s\n"
            "#SBATCH --array=0-%ld\n"
            "#SBATCH --ntasks=1\n"
            "#SBATCH --cpus-per-task=%d\n"
            "#SBATCH --time=%ld\n",
            name, tasks - 1, cpus, minutes);
    if (plain_logs)
        fprintf(f, "#SBATCH --output=%s/logs/%%A_%%a.out\n#SBATCH --error=%s/logs/%%A_%%a.err\n", abs_dir, abs_dir);
    fprintf(f,
            "# Estimated per run (one thread): %.1f s, memory %.0f MB. Clusters that\n"
            "# schedule memory want a request: remove one '#' from the next line.\n"
            "##SBATCH --mem-per-cpu=%.0fM\n\n",
            est.seconds_per_run, est.memory_per_run / 1e6, est.memory_per_run * jobs / cpus / 1e6 + 256);
    /* Paths go to bash as single-quoted words only. */
    fputs("out=", f);
    put_shell_word(f, abs_dir);
    if (!plain_logs)
        fputs(
            "\n# The output folder's name cannot stand in an #SBATCH line, so each task\n"
            "# sends its own output to the folder's logs (Slurm's own messages go to\n"
            "# slurm-JOB_TASK.out in the folder sbatch was run from).\n"
            "exec >>\"$out/logs/${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}.out\" "
            "2>>\"$out/logs/${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}.err\"",
            f);
    fprintf(f,
            "\n: \"${SLURM_ARRAY_TASK_ID:?is not set; submit this script with sbatch}\"\n"
            "export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-%d}\nexec ",
            cpus);
    put_shell_word(f, exe);
    fputs(" sweep ", f);
    put_shell_word(f, abs_sweep);
    /* The part comes from the array index with the number of parts written
     * here, so a task resubmitted alone (sbatch --array=3) runs its own
     * part, not the whole sweep. */
    fprintf(f, " -o \"$out\" --shard \"$((SLURM_ARRAY_TASK_ID + 1))/%ld\" --jobs %d --threads \"$OMP_NUM_THREADS\"\n",
            tasks, jobs);
    if (fclose(f) != 0)
        return tm_error_set(err, TM_ERR_RUNTIME, "%s: write failed", script);
    chmod(script, 0755);
    printf("wrote %s: %ld array tasks, %d CPUs each, %lld runs; submit with: sbatch ", script, tasks, cpus,
           (long long)runs);
    put_shell_word(stdout, script);
    putchar('\n');
    return 0;
}

typedef struct {
    int quiet;
    char who[32]; /* "rank N " under MPI */
    tm_cli_progress reporter;
} sweep_progress;

/* One line per finished run on stderr through the progress reporter (the
 * record of which run ran where); a failed run is an error and is shown
 * even with --quiet. */
static void progress(void *user, const tm_progress_report *r)
{
    sweep_progress *sp = user;
    const tm_sweep_progress *p = r->detail;
    if (p->rank >= 0)
        snprintf(sp->who, sizeof sp->who, "rank %d ", p->rank);
    if (p->error) {
        fprintf(stderr, "tradeabm: error: %s%s failed: %s\n", sp->who, r->label, p->error);
        fflush(stderr);
        return;
    }
    if (sp->quiet)
        return;
    char what[200], took[32];
    tm_cli_human_seconds(p->seconds, took, sizeof took);
    snprintf(what, sizeof what, "%s done in %s", r->label, took);
    sp->reporter.prefix = sp->who;
    tm_cli_progress_update(&sp->reporter, r->done, r->total, what);
}

static int print_plan(const tm_sweep *s, int jobs, int threads, int shards, tm_error *err)
{
    tm_sweep_estimate est;
    if (tm_sweep_plan(s, &est, err))
        return -1;
    char t1[32], tall[32], mem[32], out[32], outall[32];
    int per_run = threads / jobs > 0 ? threads / jobs : 1;
    /* Runs at one thread each scale close to linearly; more threads per run
     * are counted at 80% efficiency (DESIGN.md's scaling target). */
    double speed = per_run == 1 ? 1.0 : 0.8 * per_run;
    double wall = est.seconds_per_run * (double)est.runs / (jobs * speed) / shards;
    tm_cli_human_seconds(est.seconds_per_run, t1, sizeof t1);
    tm_cli_human_seconds(wall, tall, sizeof tall);
    human_bytes(est.memory_per_run * jobs, mem, sizeof mem);
    human_bytes(est.output_per_run, out, sizeof out);
    human_bytes(est.output_per_run * (double)est.runs, outall, sizeof outall);
    printf("sweep       %d points x %d replicates = %lld runs\n", tm_sweep_points(s), tm_sweep_replicates(s),
           (long long)est.runs);
    printf("parameters  ");
    for (int j = 0; j < tm_sweep_n_values(s); j++)
        printf("%s%s", j ? ", " : "", tm_sweep_value_path(s, j));
    char tp[32];
    tm_cli_human_seconds(est.pilot_seconds, tp, sizeof tp);
    printf(
        "\nper run     %lld firms x %lld periods (burn-in included); %s on one thread, solve and writing "
        "included\n",
        (long long)est.firms, (long long)est.periods, t1);
    if (est.pilot_whole)
        printf("            (point 0 run end to end: %s)\n", tp);
    else
        printf(
            "            (point 0 run end to end for %lld logged periods without burn-in: %s; the rest "
            "extrapolated)\n",
            (long long)est.pilot_periods, tp);
    printf("time        about %s with %d job%s x %d thread%s%s\n", tall, jobs, jobs > 1 ? "s" : "", per_run,
           per_run > 1 ? "s" : "", shards > 1 ? " per shard, shards in parallel" : "");
    printf("memory      about %s (%d run%s at once)\n", mem, jobs, jobs > 1 ? "s" : "");
    printf("output      about %s per run, %s in all\n", out, outall);
    return 0;
}

int tm_cli_sweep(int argc, char **argv)
{
    /* One option a line: */
    /* clang-format off */
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'},
        {"plan", no_argument, 0, 'P'},
        {"jobs", required_argument, 0, 'j'},
        {"threads", required_argument, 0, 't'},
        {"shard", required_argument, 0, 'k'},
        {"emit-slurm", no_argument, 0, 'E'},
        {"tasks", required_argument, 0, 'T'},
        {"script", required_argument, 0, 'S'},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {"set", required_argument, 0, 's'},
        {0, 0, 0, 0},
    };
    /* clang-format on */
    const char *dir_arg = NULL, *shard_arg = NULL, *script_arg = NULL;
    const char *sets[TM_CLI_MAX_SETS];
    int n_sets = 0;
    int plan = 0, emit = 0, quiet = 0;
    long jobs = 1, threads = 0, tasks = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "o:j:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            dir_arg = optarg;
            break;
        case 'P':
            plan = 1;
            break;
        case 'j':
            if (tm_cli_parse_count(optarg, 1, 4096, &jobs))
                return tm_cli_usage_error(sweep_usage, "--jobs %s: expected a whole number from 1 to 4096", optarg);
            break;
        case 't':
            if (tm_cli_parse_count(optarg, 1, 4096, &threads))
                return tm_cli_usage_error(sweep_usage, "--threads %s: expected a whole number from 1 to 4096", optarg);
            break;
        case 'k':
            shard_arg = optarg;
            break;
        case 'E':
            emit = 1;
            break;
        case 'T':
            if (tm_cli_parse_count(optarg, 1, 1000000, &tasks))
                return tm_cli_usage_error(sweep_usage, "--tasks %s: expected a whole number from 1 to 1000000", optarg);
            break;
        case 'S':
            script_arg = optarg;
            break;
        case 'q':
            quiet = 1;
            break;
        case 's':
            if (n_sets == TM_CLI_MAX_SETS)
                return tm_cli_usage_error(sweep_usage, "%s: too many --set options", "--set");
            sets[n_sets++] = optarg;
            break;
        case 'h':
            fputs(sweep_usage, stdout);
            printf("This build %s MPI.\n", tm_sweep_mpi_available() ? "has" : "was made without");
            return 0;
        default:
            fprintf(stderr, "\n%s", sweep_usage);
            return 2;
        }
    }
    if (optind >= argc)
        return tm_cli_usage_error(sweep_usage, "%s", "missing the sweep file");
    const char *path = argv[optind++];
    if (optind < argc)
        return tm_cli_usage_error(sweep_usage, "unexpected argument %s", argv[optind]);

    tm_error err = {0};
    int shard, shards;
    if (find_shard(shard_arg, &shard, &shards, &err))
        return tm_cli_fail(&err);
    tm_sweep *s = NULL;
    if (tm_sweep_open_with_sets(path, 1, sets, n_sets, &s, &err))
        return tm_cli_fail(&err);
    char stem[200], dir[4096];
    stem_of(path, stem, sizeof stem);
    if (dir_arg)
        snprintf(dir, sizeof dir, "%s", dir_arg);
    else
        snprintf(dir, sizeof dir, "runs/%s", stem);
    int total_threads = threads ? (int)threads : omp_get_max_threads();
    /* Ranks sharing a node share its cores unless told otherwise. */
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    long local_ranks;
    if (!threads && local && !tm_cli_parse_count(local, 1, 4096, &local_ranks) && !plan && !emit)
        total_threads = total_threads / (int)local_ranks > 0 ? total_threads / (int)local_ranks : 1;
    int rc = 0;
    if (plan) {
        if (print_plan(s, (int)jobs, total_threads, shards, &err))
            rc = tm_cli_fail(&err);
        tm_sweep_close(s);
        return rc;
    }
    if (emit) {
        char script[4096];
        if (script_arg) {
            snprintf(script, sizeof script, "%s", script_arg);
        } else {
            if (mkdir("runs", 0777) != 0 && errno != EEXIST) {
                tm_error_set(&err, TM_ERR_INPUT, "runs: cannot create the folder: %s", strerror(errno));
                tm_sweep_close(s);
                return tm_cli_fail(&err);
            }
            snprintf(script, sizeof script, "runs/%s.sbatch", stem);
        }
        /* Scripts default to one thread per run: small runs scale best as
         * independent tasks. */
        if (emit_slurm(s, path, dir, script, tasks, threads ? (int)threads : (int)jobs, (int)jobs, &err))
            rc = tm_cli_fail(&err);
        tm_sweep_close(s);
        return rc;
    }
    if (tm_sweep_prepare_dir(s, dir, &err)) {
        tm_sweep_close(s);
        return tm_cli_fail(&err);
    }
    int mpi = tm_sweep_mpi_init(&argc, &argv);
    if (!mpi && !shard_arg && shards == 1 && tm_sweep_mpi_launched()) {
        /* A build without MPI under mpirun: split the runs statically by
         * rank so that the ranks do not all run everything. */
        const char *size = getenv("OMPI_COMM_WORLD_SIZE"), *rank = getenv("OMPI_COMM_WORLD_RANK");
        if (!size || !rank) {
            size = getenv("PMI_SIZE");
            rank = getenv("PMI_RANK");
        }
        long n, k;
        if (size && rank && !tm_cli_parse_count(size, 1, 1000000, &n) && !tm_cli_parse_count(rank, 0, n - 1, &k)) {
            shard = (int)k;
            shards = (int)n;
        }
    }
    sweep_progress sp = {.quiet = quiet};
    tm_cli_progress_init(&sp.reporter);
    sp.reporter.every = 1;
    tm_sweep_exec_options eo = {.jobs = (int)jobs,
                                .threads = total_threads,
                                .shard = shard,
                                .shards = shards,
                                .use_mpi = mpi,
                                .progress = {progress, &sp}};
    tm_sweep_exec_stats st;
    if (!quiet && tm_sweep_mpi_rank() == 0) {
        if (mpi)
            printf("MPI: runs shared among the ranks; ");
        if (shards > 1)
            printf("sweep %s: part %d of %d, ", path, shard + 1, shards);
        else
            printf("sweep %s: ", path);
        printf("%lld runs in all, %d job%s x %d thread%s, output %s\n", (long long)tm_sweep_runs(s), (int)jobs,
               jobs > 1 ? "s" : "", total_threads / (int)jobs > 0 ? total_threads / (int)jobs : 1,
               total_threads / jobs > 1 ? "s" : "", dir);
        fflush(stdout);
    }
    if (tm_sweep_execute(s, dir, &eo, &st, &err)) {
        rc = tm_cli_fail(&err);
    } else if (st.rank == 0) {
        if (!quiet) {
            if (st.done == 0 && st.failed == 0 && st.busy == 0)
                printf("nothing to do: all %lld runs%s are already complete\n", (long long)st.skipped,
                       shards > 1 ? " of this part" : "");
            else
                printf("%lld runs done in %.1f s (%.2f runs/s), %lld already complete, %lld failed\n",
                       (long long)st.done, st.seconds, st.seconds > 0 ? (double)st.done / st.seconds : 0.0,
                       (long long)st.skipped, (long long)st.failed);
            if (st.busy)
                printf("%lld runs were being written by another sweep process and were left to it\n",
                       (long long)st.busy);
            if (st.index_written)
                printf("wrote %s/sweep.h5\n", dir);
            else if (!st.all_complete)
                printf("the sweep is not complete yet; the index is written when the last run finishes\n");
        }
        if (st.failed) {
            fprintf(stderr,
                    "tradeabm: %lld run%s failed (see above); finished runs are kept, and running the same "
                    "command again redoes only what is missing\n",
                    (long long)st.failed, st.failed > 1 ? "s" : "");
            rc = 1;
        }
    }
    tm_sweep_close(s);
    if (mpi)
        tm_sweep_mpi_finalize();
    return rc;
}

int tm_cli_sweep_index(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(index_usage, stdout);
        return 0;
    }
    const char *dir = NULL, *name = NULL;
    tm_sweep_condition conditions[16];
    int n_cond = 0;
    tm_error err = {0};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--condition") == 0 || strcmp(argv[i], "-o") == 0) {
            if (i + 1 == argc)
                return tm_cli_usage_error(index_usage, "%s needs a value", argv[i]);
            if (argv[i][1] == 'o') {
                name = argv[++i];
                continue;
            }
            if (n_cond == 16)
                return tm_cli_usage_error(index_usage, "%s", "at most 16 conditions");
            if (tm_sweep_condition_parse(argv[++i], &conditions[n_cond++], &err))
                return tm_cli_fail(&err);
        } else if (argv[i][0] == '-') {
            return tm_cli_usage_error(index_usage, "unknown option %s", argv[i]);
        } else if (dir) {
            return tm_cli_usage_error(index_usage, "%s", "expected one sweep folder");
        } else {
            dir = argv[i];
        }
    }
    if (!dir)
        return tm_cli_usage_error(index_usage, "%s", "missing the sweep folder");
    if (name && (!*name || strchr(name, '/') || strlen(name) < 4 || strcmp(name + strlen(name) - 3, ".h5") != 0))
        return tm_cli_usage_error(index_usage, "-o %s: expected a file name ending in .h5, without a folder", name);
    if (!name)
        name = n_cond ? "sweep-conditioned.h5" : "sweep.h5";
    char path[4096];
    snprintf(path, sizeof path, "%s/sweep.yaml", dir);
    tm_sweep *s = NULL;
    struct stat st;
    if (stat(path, &st) != 0) {
        tm_error_set(&err, TM_ERR_INPUT, "%s: no sweep.yaml here; expected a folder made by `tradeabm sweep`", dir);
        return tm_cli_fail(&err);
    }
    if (tm_sweep_open(path, 0, &s, &err))
        return tm_cli_fail(&err);
    int64_t complete = 0, included = 0;
    int rc = 0;
    tm_sweep_index_options o = {conditions, n_cond, name};
    if (tm_sweep_write_index_with(s, dir, &o, &complete, &included, &err))
        rc = tm_cli_fail(&err);
    else if (n_cond)
        printf("wrote %s/%s: %lld of %lld runs complete, %lld of them meet the condition\n", dir, name,
               (long long)complete, (long long)tm_sweep_runs(s), (long long)included);
    else
        printf("wrote %s/%s: %lld of %lld runs complete\n", dir, name, (long long)complete,
               (long long)tm_sweep_runs(s));
    tm_sweep_close(s);
    return rc;
}
