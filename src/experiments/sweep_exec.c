#include "experiments/sweep.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef TM_HAVE_MPI
#include <mpi.h>
#endif

#include "base/clock.h"
#include "base/sha256.h"
#include "engine/run.h"
#include "io/runner.h"
#include "params/ytree.h"

/* ------------------------------------------------------------------------
 * Plan
 * ---------------------------------------------------------------------- */

int tm_sweep_plan(const tm_sweep *s, tm_sweep_estimate *est, tm_error *err)
{
    memset(est, 0, sizeof *est);
    est->runs = tm_sweep_runs(s);
    tm_params *p = NULL;
    if (tm_sweep_run_params(s, 0, &p, err))
        return -1;
    for (int k = 0; k < p->n_sectors; k++)
        est->firms += p->sector[k].firms;
    est->periods = p->burn_in + p->periods;
    /* Time: open point 0 (policy tables, DP solve) and step it for up to
     * about a second on one thread, then extrapolate over its periods. */
    tm_run_options ro = {.threads = 1};
    tm_run *run = NULL;
    double t0 = tm_clock_seconds();
    if (tm_run_open(p, &ro, &run, err)) {
        tm_params_free(p);
        return -1;
    }
    double t1 = tm_clock_seconds();
    int64_t stepped = 0;
    while (!tm_run_finished(run) && tm_clock_seconds() - t1 < 1.0) {
        if (tm_run_step(run, err)) {
            tm_run_close(run);
            tm_params_free(p);
            return -1;
        }
        stepped++;
    }
    double per_period = stepped ? (tm_clock_seconds() - t1) / (double)stepped : 0;
    est->seconds_per_run = (t1 - t0) + per_period * (double)est->periods;
    est->memory_per_run = tm_run_state_bytes_per_firm(run) * (double)est->firms + 16e6;
    tm_run_close(run);
    /* Output: every series row of the logged periods plus fixed parts. */
    double S = p->n_sectors, D = p->n_dest, NS = (double)(1 << p->n_dest);
    double row = 8 * (8 * S * D) + 8 * S * NS + 8 * S + 8 + TM_LABEL_MAX + 4 * D;
    est->output_per_run = 40e3 + (double)strlen(p->canonical) + 8 * S * (double)p->grid_points +
                          row * (double)p->periods;
    tm_params_free(p);
    return 0;
}

/* ------------------------------------------------------------------------
 * Output folder
 * ---------------------------------------------------------------------- */

static int make_dir(const char *path, tm_error *err)
{
    if (mkdir(path, 0777) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            return 0;
        return tm_error_set(err, TM_ERR_INPUT, "%s: exists and is not a folder", path);
    }
    return tm_error_set(err, TM_ERR_INPUT, "%s: cannot create the folder: %s", path, strerror(errno));
}

void tm_sweep_temp_path(const char *path, char *buf, size_t size)
{
    char host[128] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    for (char *c = host; *c; c++)
        if (*c == '/' || *c == ' ')
            *c = '_';
    snprintf(buf, size, "%s.tmp-%s-%ld", path, host, (long)getpid());
}

int tm_sweep_prepare_dir(const tm_sweep *s, const char *dir, tm_error *err)
{
    char path[4096];
    if (make_dir(dir, err))
        return -1;
    snprintf(path, sizeof path, "%s/runs", dir);
    if (make_dir(path, err))
        return -1;
    snprintf(path, sizeof path, "%s/sweep.yaml", dir);
    char *old = NULL;
    size_t len = 0;
    tm_error ignored = {0};
    if (tm_ytree_read_file(path, &old, &len, &ignored) == 0) {
        char sha[65];
        tm_sha256_buffer(old, len, sha);
        free(old);
        if (strcmp(sha, tm_sweep_sha256(s)) != 0)
            return tm_error_set(err, TM_ERR_INPUT,
                                "%s: holds a different sweep (its sweep.yaml differs from %s); choose another -o "
                                "folder",
                                dir, tm_sweep_path(s));
        return 0;
    }
    /* Shards may start together: each writes its own temporary copy and
     * renames it; the copies are identical. */
    char tmp[4400];
    tm_sweep_temp_path(path, tmp, sizeof tmp);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return tm_error_set(err, TM_ERR_INPUT, "%s: cannot write: %s", tmp, strerror(errno));
    size_t n = strlen(tm_sweep_text(s));
    int bad = fwrite(tm_sweep_text(s), 1, n, f) != n;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot write the copy of the sweep file", path);
    }
    return 0;
}

/* Remove the temporary files that killed runs of this part left behind,
 * once, before any run starts: a run belongs to exactly one part, so no
 * one else can be writing them (one pass over the folder, not one per run). */
static void remove_stale(const tm_sweep *s, const char *dir, int shard, int shards)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/runs", dir);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long long point, rep;
        int used = 0;
        if (!strstr(e->d_name, ".h5.tmp-") || sscanf(e->d_name, "p%lld-r%lld.h5.tmp-%n", &point, &rep, &used) != 2 ||
            used == 0 || point < 0 || point >= tm_sweep_points(s) || rep < 0 || rep >= tm_sweep_replicates(s))
            continue;
        int64_t run = (int64_t)point * tm_sweep_replicates(s) + rep;
        if (run % shards != shard)
            continue;
        char name[64];
        tm_sweep_run_name(s, run, name, sizeof name);
        if (strncmp(e->d_name, name, strlen(name)) != 0)
            continue;
        snprintf(path, sizeof path, "%s/runs/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
}

/* ------------------------------------------------------------------------
 * Execution. A work source hands out run indices to this process's worker
 * threads; each worker runs one simulation at a time with threads/jobs
 * OpenMP threads and reports it through the caller's callback.
 * ---------------------------------------------------------------------- */

typedef struct exec_ctx exec_ctx;

/* The one interface of the three sources of work: local (every run of the
 * sweep, in order), shard (every shards-th run from `shard`) and MPI (rank
 * 0 hands out its share run by run to its own workers and to every other
 * rank on request). */
typedef struct {
    const char *kind;
    /* The next run to do, or -1 when none is left; called by the workers. */
    int64_t (*take)(exec_ctx *c);
    /* Runs on the main thread while the workers work. */
    void (*serve)(exec_ctx *c);
    /* Runs once the workers have joined. */
    void (*finish)(exec_ctx *c);
} work_source;

struct exec_ctx {
    const tm_sweep *s;
    const char *dir;
    const tm_sweep_exec_options *opts;
    const work_source *src;
    int threads_per_run;
    int shard, shards;
    int64_t n_mine; /* runs of this shard */
    int64_t next;   /* next position handed out (local or rank 0) */
    int64_t todo;   /* runs expected to need work (progress denominator; -1: unknown) */
    int mpi, rank, ranks;
    pthread_mutex_t lock;
    int64_t done, failed, skipped;
    double t0;
};

/* Local and shard: one counter over this process's share. */
static int64_t take_counter(exec_ctx *c)
{
    int64_t run = -1;
    pthread_mutex_lock(&c->lock);
    if (c->next < c->n_mine)
        run = (int64_t)c->shard + c->next++ * (int64_t)c->shards;
    pthread_mutex_unlock(&c->lock);
    return run;
}

static void no_service(exec_ctx *c)
{
    (void)c;
}

static const work_source local_source = {"local", take_counter, no_service, no_service};
static const work_source shard_source = {"shard", take_counter, no_service, no_service};

#ifdef TM_HAVE_MPI
enum { TAG_REQUEST = 1, TAG_WORK = 2, TAG_DONE = 3 };

/* Ranks other than 0 ask rank 0 for each run; rank 0's workers count
 * themselves. MPI calls of a rank are serialised by the lock. */
static int64_t take_mpi(exec_ctx *c)
{
    if (c->rank == 0)
        return take_counter(c);
    long long run = -1;
    int ask = 0;
    pthread_mutex_lock(&c->lock);
    MPI_Send(&ask, 1, MPI_INT, 0, TAG_REQUEST, MPI_COMM_WORLD);
    MPI_Recv(&run, 1, MPI_LONG_LONG, 0, TAG_WORK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    pthread_mutex_unlock(&c->lock);
    return (int64_t)run;
}

/* Rank 0's main thread answers requests from the same counter its own
 * workers take from, until every other rank has sent its counts. */
static void serve_mpi(exec_ctx *c)
{
    for (int finished_ranks = 0; c->rank == 0 && finished_ranks < c->ranks - 1;) {
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
        if (!flag) {
            struct timespec pause = {0, 200000};
            nanosleep(&pause, NULL);
            continue;
        }
        if (st.MPI_TAG == TAG_REQUEST) {
            int ask;
            MPI_Recv(&ask, 1, MPI_INT, st.MPI_SOURCE, TAG_REQUEST, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            long long run = (long long)take_counter(c);
            MPI_Send(&run, 1, MPI_LONG_LONG, st.MPI_SOURCE, TAG_WORK, MPI_COMM_WORLD);
        } else {
            long long counts[3];
            MPI_Recv(counts, 3, MPI_LONG_LONG, st.MPI_SOURCE, TAG_DONE, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            pthread_mutex_lock(&c->lock);
            c->done += counts[0];
            c->failed += counts[1];
            c->skipped += counts[2];
            pthread_mutex_unlock(&c->lock);
            finished_ranks++;
        }
    }
}

static void finish_mpi(exec_ctx *c)
{
    if (c->rank == 0)
        return;
    long long counts[3] = {c->done, c->failed, c->skipped};
    MPI_Send(counts, 3, MPI_LONG_LONG, 0, TAG_DONE, MPI_COMM_WORLD);
}

static const work_source mpi_source = {"mpi", take_mpi, serve_mpi, finish_mpi};
#endif

static void report(exec_ctx *c, const char *name, double seconds, const tm_error *err)
{
    if (!c->opts->progress.fn)
        return;
    pthread_mutex_lock(&c->lock);
    tm_sweep_progress p = {seconds, tm_clock_seconds() - c->t0, err ? err->msg : NULL, c->mpi ? c->rank : -1};
    tm_progress_report_to(&c->opts->progress, "sweep", c->done + c->failed, c->todo, name, &p);
    pthread_mutex_unlock(&c->lock);
}

static void *worker(void *arg)
{
    exec_ctx *c = arg;
    for (;;) {
        int64_t run = c->src->take(c);
        if (run < 0)
            break;
        char path[4096], name[64];
        tm_sweep_run_path(c->s, c->dir, run, path, sizeof path);
        tm_sweep_run_name(c->s, run, name, sizeof name);
        if (tm_sweep_run_complete(c->s, c->dir, run)) {
            pthread_mutex_lock(&c->lock);
            c->skipped++;
            pthread_mutex_unlock(&c->lock);
            continue;
        }
        tm_error err = {0};
        tm_params *p = NULL;
        char digest[65];
        double t0 = tm_clock_seconds();
        /* force: a file under the final name here is incomplete or corrupt. */
        tm_simulate_options so = {.threads = c->threads_per_run, .force = 1};
        int rc = tm_sweep_run_params(c->s, run, &p, &err);
        if (!rc)
            rc = tm_simulate(p, path, &so, digest, &err);
        tm_params_free(p);
        pthread_mutex_lock(&c->lock);
        if (rc)
            c->failed++;
        else
            c->done++;
        pthread_mutex_unlock(&c->lock);
        report(c, name, tm_clock_seconds() - t0, rc ? &err : NULL);
    }
    return NULL;
}

static int run_workers(exec_ctx *c, int jobs, tm_error *err)
{
    pthread_t *tid = calloc((size_t)jobs, sizeof *tid);
    if (!tid)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    int started = 0;
    for (; started < jobs; started++)
        if (pthread_create(&tid[started], NULL, worker, c) != 0)
            break;
    if (started == 0) {
        free(tid);
        return tm_error_set(err, TM_ERR_RUNTIME, "cannot start worker threads");
    }
    c->src->serve(c);
    for (int i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    free(tid);
    c->src->finish(c);
    return 0;
}

static int index_exists(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/sweep.h5", dir);
    struct stat st;
    return stat(path, &st) == 0;
}

int tm_sweep_execute(const tm_sweep *s, const char *dir, const tm_sweep_exec_options *opts, tm_sweep_exec_stats *stats,
                     tm_error *err)
{
    memset(stats, 0, sizeof *stats);
    exec_ctx c = {0};
    c.s = s;
    c.dir = dir;
    c.opts = opts;
    c.shards = opts->shards > 0 ? opts->shards : 1;
    c.shard = opts->shard;
    c.ranks = 1;
    c.src = c.shards > 1 ? &shard_source : &local_source;
    int64_t runs = tm_sweep_runs(s);
    c.n_mine = runs > c.shard ? (runs - c.shard + c.shards - 1) / c.shards : 0;
    int jobs = opts->jobs > 0 ? opts->jobs : 1;
    int threads = opts->threads > 0 ? opts->threads : 1;
    c.threads_per_run = threads / jobs > 0 ? threads / jobs : 1;
#ifdef TM_HAVE_MPI
    if (opts->use_mpi) {
        int init = 0;
        MPI_Initialized(&init);
        if (init) {
            c.mpi = 1;
            c.src = &mpi_source;
            MPI_Comm_rank(MPI_COMM_WORLD, &c.rank);
            MPI_Comm_size(MPI_COMM_WORLD, &c.ranks);
            int level = MPI_THREAD_SINGLE;
            MPI_Query_thread(&level);
            if (c.rank != 0 && level < MPI_THREAD_SERIALIZED)
                jobs = 1;
        }
    }
#endif
    stats->rank = c.rank;
    stats->ranks = c.ranks;
    stats->assigned = c.n_mine;
    pthread_mutex_init(&c.lock, NULL);
    /* Progress counts what still needs doing; without MPI a first pass finds
     * the complete runs (with MPI every rank learns as it goes). */
    c.todo = c.mpi ? -1 : c.n_mine;
    if (!c.mpi) {
        int64_t complete = 0;
        for (int64_t k = 0; k < c.n_mine; k++)
            complete += tm_sweep_run_complete(s, dir, (int64_t)c.shard + k * c.shards);
        c.todo = c.n_mine - complete;
    }
    if (!c.mpi || c.rank == 0)
        remove_stale(s, dir, c.shard, c.shards);
    c.t0 = tm_clock_seconds();
    int rc = 0;
    if (c.todo != 0)
        rc = run_workers(&c, jobs, err);
    else
        c.skipped = c.n_mine;
    pthread_mutex_destroy(&c.lock);
    stats->done = c.done;
    stats->failed = c.failed;
    stats->skipped = c.skipped;
    stats->seconds = tm_clock_seconds() - c.t0;
    if (rc)
        return -1;
    if (c.mpi && c.rank != 0)
        return 0;
    /* The index is written by whoever finds the whole sweep complete after
     * its own runs: the last shard to finish, or rank 0. */
    int all = c.failed == 0;
    if (all && (c.shards > 1 || c.mpi))
        for (int64_t run = 0; run < runs && all; run++)
            all = tm_sweep_run_complete(s, dir, run);
    stats->all_complete = all;
    if (all && (c.done > 0 || !index_exists(dir))) {
        int64_t complete = 0;
        if (tm_sweep_write_index(s, dir, &complete, err))
            return -1;
        stats->index_written = 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * MPI start-up
 * ---------------------------------------------------------------------- */

int tm_sweep_mpi_launched(void)
{
    const char *a = getenv("OMPI_COMM_WORLD_SIZE"), *b = getenv("PMI_SIZE");
    return (a && *a) || (b && *b);
}

int tm_sweep_mpi_init(int *argc, char ***argv)
{
#ifdef TM_HAVE_MPI
    if (!tm_sweep_mpi_launched())
        return 0;
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
        return 0;
    return 1;
#else
    (void)argc;
    (void)argv;
    return 0;
#endif
}

int tm_sweep_mpi_rank(void)
{
#ifdef TM_HAVE_MPI
    int init = 0, rank = 0;
    MPI_Initialized(&init);
    if (init)
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return rank;
#else
    return 0;
#endif
}

int tm_sweep_mpi_available(void)
{
#ifdef TM_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

void tm_sweep_mpi_finalize(void)
{
#ifdef TM_HAVE_MPI
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin)
        MPI_Finalize();
#endif
}
