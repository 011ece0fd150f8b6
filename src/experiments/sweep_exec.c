#include "experiments/sweep.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#ifdef TM_HAVE_MPI
#include <mpi.h>
#endif

#include "base/clock.h"
#include "base/sha256.h"
#include "base/tmpfile.h"
#include "engine/run.h"
#include "experiments/sweep_private.h"
#include "io/runner.h"
#include "params/ytree.h"

/* ------------------------------------------------------------------------
 * Plan
 * ---------------------------------------------------------------------- */

/* Run `p` end to end as a sweep runs it (tm_simulate on one thread, into
 * a private temporary folder): its wall time, solve and writing included,
 * and the size of its file. */
static int pilot_run(const tm_params *p, double *seconds, double *bytes, tm_error *err)
{
    const char *tmpdir = getenv("TMPDIR");
    char dir[4096], path[4200], digest[65];
    snprintf(dir, sizeof dir, "%s/tradeabm-plan-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(dir))
        return tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot create a private temporary folder for the pilot run: %s",
                            dir, strerror(errno));
    snprintf(path, sizeof path, "%s/pilot.h5", dir);
    tm_simulate_options so = {.threads = 1};
    double t0 = tm_clock_seconds();
    int rc = tm_simulate(p, path, &so, digest, err);
    *seconds = tm_clock_seconds() - t0;
    struct stat st;
    *bytes = rc == 0 && stat(path, &st) == 0 ? (double)st.st_size : 0;
    unlink(path);
    rmdir(dir);
    return rc ? tm_error_prefix(err, "the pilot run of point 0") : 0;
}

int tm_sweep_plan(const tm_sweep *s, tm_sweep_estimate *est, tm_error *err)
{
    memset(est, 0, sizeof *est);
    est->runs = tm_sweep_runs(s);
    tm_params *p = NULL, *pilot = NULL;
    if (tm_sweep_run_params(s, 0, &p, err))
        return -1;
    for (int k = 0; k < p->n_sectors; k++)
        est->firms += tm_params_slots(p, k);
    est->periods = p->burn_in + p->periods;
    /* A short probe first: open point 0 (policy tables, the solve) and step
     * it for up to about a second on one thread, for the time a period
     * takes. */
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
    double setup = t1 - t0;
    est->memory_per_run = tm_run_state_bytes_per_firm(run) * (double)est->firms + 16e6;
    tm_run_close(run);
    /* Then a pilot run end to end, as the sweep runs it (solve, periods,
     * writing, the digest and the closing of the file). A run whose
     * periods take up to about 2 s is run whole; a longer one is run
     * without burn-in for about 2 s of logged periods, and the rest
     * extrapolated: the remaining logged periods at the pilot's cost per
     * period (writing included), the burn-in at the probe's. */
    int64_t logged = p->periods;
    if (per_period * (double)est->periods <= 2.0) {
        est->pilot_periods = logged;
        est->pilot_whole = 1;
        if (pilot_run(p, &est->pilot_seconds, &est->output_per_run, err))
            goto fail;
        est->seconds_per_run = est->pilot_seconds;
    } else {
        int64_t n = per_period > 0 ? (int64_t)(2.0 / per_period) : logged;
        n = n < 1 ? 1 : n > logged ? logged : n;
        char periods_set[64];
        snprintf(periods_set, sizeof periods_set, "run.periods=%lld", (long long)n);
        const char *sets[] = {periods_set, "run.burn_in=0"};
        double bytes = 0;
        if (tm_params_load_text(p->source, p->canonical, sets, 2, &pilot, err) ||
            pilot_run(pilot, &est->pilot_seconds, &bytes, err))
            goto fail;
        est->pilot_periods = n;
        double per_logged = n > 0 ? (est->pilot_seconds - setup) / (double)n : 0;
        if (per_logged < per_period)
            per_logged = per_period;
        est->seconds_per_run = est->pilot_seconds + per_logged * (double)(logged - n) + per_period * (double)p->burn_in;
        /* File size: the pilot's, with its logged periods' share scaled up
         * (the fixed part: parameters, grid, dimensions, policy). */
        double fixed = 40e3 + (double)strlen(p->canonical) + 8.0 * p->n_sectors * (double)p->grid_points;
        double per_row = bytes > fixed ? (bytes - fixed) / (double)n : 0;
        est->output_per_run = bytes + per_row * (double)(logged - n);
    }
    tm_params_free(pilot);
    tm_params_free(p);
    return 0;
fail:
    tm_params_free(pilot);
    tm_params_free(p);
    return -1;
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

/* This machine's name, usable inside a file name. */
static void host_name(char *buf, size_t size)
{
    snprintf(buf, size, "host");
    gethostname(buf, size - 1);
    buf[size - 1] = '\0';
    for (char *c = buf; *c; c++)
        if (*c == '/' || *c == ' ')
            *c = '_';
}

void tm_sweep_temp_path(const char *path, char *buf, size_t size)
{
    char host[128];
    host_name(host, sizeof host);
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
    char stem[4400], tmp[4500];
    tm_sweep_temp_path(path, stem, sizeof stem);
    int fd = tm_tmpfile_create(stem, tmp, sizeof tmp, err);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        unlink(tmp);
        return tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot write: %s", tmp, strerror(errno));
    }
    size_t n = strlen(tm_sweep_text(s));
    int bad = fwrite(tm_sweep_text(s), 1, n, f) != n;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot write the copy of the sweep file", path);
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Ownership. A run is written only by the process that holds an exclusive
 * lock (flock) on DIR/runs/<name>.h5.lock, taken before the run starts and
 * held until its file is complete. The kernel drops the lock when its
 * holder dies, so a lock that can be taken is a lock nobody alive holds:
 * that is the liveness check, on one machine and across NFS clients
 * (Linux maps flock to NFS byte-range locks). The file itself holds the
 * owner's host and PID for people looking at the folder.
 * ---------------------------------------------------------------------- */

static void lock_path(const char *run_path, char *buf, size_t size)
{
    snprintf(buf, size, "%s.lock", run_path);
}

/* Take run `path`: 1 and the lock's descriptor when this process owns it
 * now, 0 when another live process does, -1 when the lock cannot be made. */
static int own_run(const char *path, int *fd_out)
{
    char lock[4200];
    lock_path(path, lock, sizeof lock);
    /* The owner removes the lock file when done; a file opened just
     * before that is no longer the lock, so the lock is taken only on the
     * file that is still under the name (a few tries, then "busy"). */
    for (int tries = 0; tries < 4; tries++) {
        int fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
            return -1;
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int busy = errno == EWOULDBLOCK;
            close(fd);
            return busy ? 0 : -1;
        }
        struct stat held, named;
        if (fstat(fd, &held) == 0 && stat(lock, &named) == 0 && held.st_ino == named.st_ino &&
            held.st_dev == named.st_dev) {
            char host[128], line[200];
            host_name(host, sizeof host);
            int n = snprintf(line, sizeof line, "%s %ld\n", host, (long)getpid());
            if (ftruncate(fd, 0) != 0 || write(fd, line, (size_t)n) != n) {
                /* Only information for people is lost. */
            }
            *fd_out = fd;
            return 1;
        }
        close(fd);
    }
    return 0;
}

static void release_run(const char *path, int fd)
{
    char lock[4200];
    lock_path(path, lock, sizeof lock);
    unlink(lock); /* while still held: see own_run */
    close(fd);
}

/* A worker keeps the lock of its last run and moves it to the next one:
 * creating a lock file and removing it again (the file system allocating
 * and freeing an inode) cost about 0.5 ms a run on an idle local disk,
 * a link and an unlink of a name some microseconds (docs/performance.md,
 * "third cut"). The move is link() of the held file
 * under the next run's lock name, which fails if that name exists (the
 * other process's lock, live or dead, is then taken as before), then
 * unlink() of the old name; the lock is held throughout, so a process that
 * opens either name finds it busy, and one that opened the old name and
 * gets the lock after its release sees that the file under the name is
 * not the one it holds (own_run). */
typedef struct {
    int fd;              /* -1: none held */
    char run_path[4096]; /* the run it is named after */
} held_lock;

static int own_run_moving(const char *path, held_lock *held, int *fd_out)
{
    if (held->fd >= 0) {
        char from[4200], to[4200];
        lock_path(held->run_path, from, sizeof from);
        lock_path(path, to, sizeof to);
        if (link(from, to) == 0) {
            unlink(from);
            *fd_out = held->fd;
            held->fd = -1;
            return 1;
        }
        release_run(held->run_path, held->fd);
        held->fd = -1;
    }
    return own_run(path, fd_out);
}

/* Keep the lock of run `path` for the worker's next run. */
static void hold_run(const char *path, int fd, held_lock *held)
{
    snprintf(held->run_path, sizeof held->run_path, "%s", path);
    held->fd = fd;
}

static void release_held(held_lock *held)
{
    if (held->fd >= 0)
        release_run(held->run_path, held->fd);
    held->fd = -1;
}

/* Remove the temporary files that dead runs left behind, once, before any
 * run starts (one pass over the folder, not one per run). A temporary is
 * removed only under its run's lock: a live sweep process writing it holds
 * that lock, and it is left alone. */
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
        char name[64], run_path[4096];
        tm_sweep_run_name(s, run, name, sizeof name);
        if (strncmp(e->d_name, name, strlen(name)) != 0)
            continue;
        tm_sweep_run_path(s, dir, run, run_path, sizeof run_path);
        int fd;
        if (own_run(run_path, &fd) != 1)
            continue;
        snprintf(path, sizeof path, "%s/runs/%s", dir, e->d_name);
        unlink(path);
        release_run(run_path, fd);
    }
    closedir(d);
}

/* ------------------------------------------------------------------------
 * Execution. A work source hands out run indices to this process's
 * workers; each worker runs one simulation at a time with threads/jobs
 * OpenMP threads. Local and shard work with several jobs runs in worker
 * processes, each with its own HDF5 library state (threads of one process
 * would queue on the thread-safe HDF5's global lock); MPI ranks use
 * threads. Either way, what a worker did reaches the caller's callback as
 * a run_record, in the main process.
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
    int64_t n_mine;        /* runs of this shard */
    _Atomic int64_t *next; /* next position handed out (local or rank 0); shared with worker processes */
    int64_t todo;          /* runs expected to need work (progress denominator; -1: unknown) */
    int mpi, rank, ranks;
    pthread_mutex_t lock;
    int64_t done, failed, skipped, busy;
    double t0;
    double params_seconds, simulate_seconds, run_seconds; /* sums over the runs recorded */
    /* Per run of the sweep, what its worker leaves for the index (memory
     * shared with the worker processes); NULL: the index reads the files. */
    tm_sweep_run_summary *fresh;
};

/* What became of one run, sent whole through a pipe from a worker process
 * (smaller than PIPE_BUF, so the writes of several workers never mix). */
enum { RUN_STARTED, RUN_DONE, RUN_FAILED, RUN_SKIPPED, RUN_BUSY };
typedef struct {
    int64_t run;
    int outcome;
    pid_t pid;
    double seconds;                  /* the whole handling of the run */
    double params_seconds, simulate; /* its parameters, tm_simulate */
    char msg[sizeof(((tm_error *)0)->msg)];
} run_record;

/* Local and shard: one counter over this process's share. */
static int64_t take_counter(exec_ctx *c)
{
    int64_t pos = atomic_fetch_add(c->next, 1);
    return pos < c->n_mine ? (int64_t)c->shard + pos * (int64_t)c->shards : -1;
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
            long long counts[4];
            MPI_Recv(counts, 4, MPI_LONG_LONG, st.MPI_SOURCE, TAG_DONE, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            pthread_mutex_lock(&c->lock);
            c->done += counts[0];
            c->failed += counts[1];
            c->skipped += counts[2];
            c->busy += counts[3];
            pthread_mutex_unlock(&c->lock);
            finished_ranks++;
        }
    }
}

static void finish_mpi(exec_ctx *c)
{
    if (c->rank == 0)
        return;
    long long counts[4] = {c->done, c->failed, c->skipped, c->busy};
    MPI_Send(counts, 4, MPI_LONG_LONG, 0, TAG_DONE, MPI_COMM_WORLD);
}

static const work_source mpi_source = {"mpi", take_mpi, serve_mpi, finish_mpi};
#endif

/* Do one run (or find it complete) into `rec`; the run's lock is left in
 * `held` for the worker's next run. */
static void do_run(exec_ctx *c, int64_t run, held_lock *held, run_record *rec)
{
    double start = tm_clock_seconds();
    rec->run = run;
    rec->pid = getpid();
    rec->seconds = rec->params_seconds = rec->simulate = 0;
    rec->msg[0] = '\0';
    if (tm_sweep_run_complete(c->s, c->dir, run)) {
        rec->outcome = RUN_SKIPPED;
        return;
    }
    char path[4096], digest[65];
    tm_sweep_run_path(c->s, c->dir, run, path, sizeof path);
    int lock = -1, owned = own_run_moving(path, held, &lock);
    if (owned == 0) {
        rec->outcome = RUN_BUSY;
        return;
    }
    if (owned < 0) {
        rec->outcome = RUN_FAILED;
        snprintf(rec->msg, sizeof rec->msg, "cannot make the lock file %s.lock: %s", path, strerror(errno));
        return;
    }
    /* Another process may have finished it before the lock was taken. */
    if (tm_sweep_run_complete(c->s, c->dir, run)) {
        hold_run(path, lock, held);
        rec->outcome = RUN_SKIPPED;
        return;
    }
    tm_error err = {0};
    tm_params *p = NULL;
    tm_simulate_timing timing = {0};
    tm_sweep_window_keeper *keeper = NULL;
    /* force: a file under the final name here is incomplete or corrupt.
     * The lock file was just created or linked in the run's folder, which
     * proves that files can be made there. */
    tm_simulate_options so = {.threads = c->threads_per_run, .force = 1, .folder_written = 1, .timing = &timing};
    double t0 = tm_clock_seconds();
    int rc = tm_sweep_run_params(c->s, run, &p, &err);
    rec->params_seconds = tm_clock_seconds() - t0;
    /* Without a keeper (out of memory) the index reads the file. */
    if (!rc && c->fresh && tm_sweep_keeper_open(c->s, p, &keeper) == 0) {
        so.logged = tm_sweep_keeper_period;
        so.logged_user = keeper;
    }
    if (!rc)
        rc = tm_simulate(p, path, &so, digest, &err);
    rec->simulate = timing.total;
    if (!rc && keeper)
        tm_sweep_keeper_summary(keeper, digest, timing.recorded_wall, &c->fresh[run]);
    tm_sweep_keeper_close(keeper);
    tm_params_free(p);
    hold_run(path, lock, held);
    rec->seconds = tm_clock_seconds() - start;
    rec->outcome = rc ? RUN_FAILED : RUN_DONE;
    if (rc)
        snprintf(rec->msg, sizeof rec->msg, "%s", err.msg);
}

/* Count a finished run and report it (serialised: workers are threads). */
static void record(exec_ctx *c, const run_record *rec)
{
    if (rec->outcome == RUN_STARTED)
        return;
    pthread_mutex_lock(&c->lock);
    if (rec->outcome == RUN_SKIPPED)
        c->skipped++;
    else if (rec->outcome == RUN_BUSY)
        c->busy++;
    else if (rec->outcome == RUN_FAILED)
        c->failed++;
    else
        c->done++;
    c->params_seconds += rec->params_seconds;
    c->simulate_seconds += rec->simulate;
    c->run_seconds += rec->seconds;
    if ((rec->outcome == RUN_DONE || rec->outcome == RUN_FAILED) && c->opts->progress.fn) {
        char name[64] = "a worker";
        if (rec->run >= 0)
            tm_sweep_run_name(c->s, rec->run, name, sizeof name);
        tm_sweep_progress p = {rec->seconds, tm_clock_seconds() - c->t0, rec->outcome == RUN_FAILED ? rec->msg : NULL,
                               c->mpi ? c->rank : -1};
        tm_progress_report_to(&c->opts->progress, "sweep", c->done + c->failed, c->todo, name, &p);
    }
    pthread_mutex_unlock(&c->lock);
}

static void *worker_thread(void *arg)
{
    exec_ctx *c = arg;
    run_record rec;
    held_lock held = {.fd = -1};
    for (int64_t run; (run = c->src->take(c)) >= 0;) {
        do_run(c, run, &held, &rec);
        record(c, &rec);
    }
    release_held(&held);
    return NULL;
}

static int run_threads(exec_ctx *c, int jobs, tm_error *err)
{
    pthread_t *tid = calloc((size_t)jobs, sizeof *tid);
    if (!tid)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    int started = 0;
    for (; started < jobs; started++)
        if (pthread_create(&tid[started], NULL, worker_thread, c) != 0)
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

static int write_record(int fd, const run_record *rec)
{
    return write(fd, rec, sizeof *rec) == (ssize_t)sizeof *rec ? 0 : -1;
}

/* A worker process: take runs from the shared counter until none is left,
 * telling the main process before and after each. It ends with the main
 * process (a sweep stopped by a signal stops every worker). */
static void worker_process(exec_ctx *c, int fd, pid_t parent)
{
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
    if (getppid() != parent)
        _exit(1);
    run_record rec = {.outcome = RUN_STARTED, .pid = getpid()};
    held_lock held = {.fd = -1};
    for (int64_t run; (run = c->src->take(c)) >= 0;) {
        rec.run = run;
        rec.outcome = RUN_STARTED;
        if (write_record(fd, &rec))
            _exit(1);
        do_run(c, run, &held, &rec);
        if (write_record(fd, &rec))
            _exit(1);
    }
    release_held(&held);
    _exit(0);
}

/* Read one whole record; 0 at the end of the pipe (every worker gone). */
static int read_record(int fd, run_record *rec)
{
    size_t got = 0;
    while (got < sizeof *rec) {
        ssize_t n = read(fd, (char *)rec + got, sizeof *rec - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return got ? -1 : 0;
        got += (size_t)n;
    }
    return 1;
}

static int run_processes(exec_ctx *c, int jobs, tm_error *err)
{
    int fds[2];
    if (pipe(fds) != 0)
        return tm_error_set(err, TM_ERR_RUNTIME, "cannot start worker processes: %s", strerror(errno));
    pid_t *pid = calloc((size_t)jobs, sizeof *pid);
    int64_t *current = calloc((size_t)jobs, sizeof *current); /* the run each worker is doing, -1: none */
    if (!pid || !current) {
        free(pid);
        free(current);
        close(fds[0]);
        close(fds[1]);
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    }
    /* Whatever is buffered would otherwise be printed once per worker. */
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    int started = 0;
    for (; started < jobs; started++) {
        current[started] = -1;
        pid[started] = fork();
        if (pid[started] < 0)
            break;
        if (pid[started] == 0) {
            close(fds[0]);
            worker_process(c, fds[1], parent);
        }
    }
    close(fds[1]);
    int rc = 0;
    if (started == 0)
        rc = tm_error_set(err, TM_ERR_RUNTIME, "cannot start worker processes: %s", strerror(errno));
    run_record rec;
    int got;
    while ((got = read_record(fds[0], &rec)) > 0) {
        for (int i = 0; i < started; i++)
            if (pid[i] == rec.pid)
                current[i] = rec.outcome == RUN_STARTED ? rec.run : -1;
        record(c, &rec);
    }
    close(fds[0]);
    /* A worker that died (a crash, the kernel's OOM killer) fails its run
     * (its temporary file is removed when the run is redone); one that
     * died between runs may have taken a run it never announced, so it
     * counts as a failure too. The other runs went to the other workers. */
    for (int i = 0; i < started; i++) {
        int status = 0;
        while (waitpid(pid[i], &status, 0) < 0 && errno == EINTR)
            ;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && current[i] < 0)
            continue;
        rec = (run_record){.run = current[i], .outcome = RUN_FAILED, .pid = pid[i]};
        if (WIFSIGNALED(status))
            snprintf(rec.msg, sizeof rec.msg, "the worker process ended by signal %d (%s) during the run",
                     WTERMSIG(status), strsignal(WTERMSIG(status)));
        else
            snprintf(rec.msg, sizeof rec.msg, "the worker process exited with status %d during the run",
                     WEXITSTATUS(status));
        record(c, &rec);
    }
    free(pid);
    free(current);
    return rc;
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
    /* The counter lives in memory shared with the worker processes. */
    c.next = mmap(NULL, sizeof *c.next, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (c.next == MAP_FAILED) {
        pthread_mutex_destroy(&c.lock);
        return tm_error_set(err, TM_ERR_RUNTIME, "cannot map shared memory: %s", strerror(errno));
    }
    atomic_init(c.next, 0);
    /* The runs' summaries for the index, up to 64 MiB of them (about
     * 60,000 runs; a larger sweep's index reads its files). Only the pages
     * of runs done here are ever touched. */
    size_t fresh_bytes = (size_t)runs * sizeof *c.fresh;
    if (runs > 0 && fresh_bytes <= (size_t)64 << 20) {
        c.fresh = mmap(NULL, fresh_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (c.fresh == MAP_FAILED)
            c.fresh = NULL;
    }
    c.t0 = tm_clock_seconds();
    int rc = 0;
    if (c.todo == 0)
        c.skipped = c.n_mine;
    else if (jobs > 1 && !c.mpi)
        rc = run_processes(&c, jobs, err);
    else
        rc = run_threads(&c, jobs, err);
    munmap((void *)c.next, sizeof *c.next);
    pthread_mutex_destroy(&c.lock);
    stats->done = c.done;
    stats->failed = c.failed;
    stats->skipped = c.skipped;
    stats->busy = c.busy;
    stats->seconds = tm_clock_seconds() - c.t0;
    stats->params_seconds = c.params_seconds;
    stats->simulate_seconds = c.simulate_seconds;
    stats->run_seconds = c.run_seconds;
    if (rc || (c.mpi && c.rank != 0)) {
        if (c.fresh)
            munmap(c.fresh, fresh_bytes);
        return rc ? -1 : 0;
    }
    /* The index is written by whoever finds the whole sweep complete after
     * its own runs: the last shard to finish, or rank 0. */
    int all = c.failed == 0;
    if (all && (c.shards > 1 || c.mpi || c.busy > 0))
        for (int64_t run = 0; run < runs && all; run++)
            all = tm_sweep_run_complete(s, dir, run);
    stats->all_complete = all;
    if (all && (c.done > 0 || !index_exists(dir))) {
        int64_t complete = 0;
        double t0 = tm_clock_seconds();
        rc = tm_sweep_write_index_fresh(s, dir, c.fresh, &complete, err);
        stats->index_seconds = tm_clock_seconds() - t0;
        stats->index_written = rc == 0;
    }
    if (c.fresh)
        munmap(c.fresh, fresh_bytes);
    return rc ? -1 : 0;
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
