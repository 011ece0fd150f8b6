#include "io/runner.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "engine/preflight.h"
#include "engine/run.h"
#include "io/checkpoint.h"
#include "io/output.h"

/* The one piece of process-wide state: set by SIGINT/SIGTERM, read at
 * period boundaries. A second signal gets the default action (immediate
 * exit); finished files are never touched by an interrupted run. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    interrupted = sig;
    signal(sig, SIG_DFL);
}

void tm_runner_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int tm_runner_interrupted(void)
{
    return interrupted;
}

/* After a resumed run completes: checkpoint files a killed process was
 * writing (`CKPT.tmp-PID-RANDOM`, PID no longer running) describe nothing any
 * more; remove them so no debris stays next to the results. */
static void remove_dead_temps(const char *ckpt_path)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", ckpt_path);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : ckpt_path;
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    char prefix[4200];
    snprintf(prefix, sizeof prefix, "%s.tmp-", base);
    size_t n = strlen(prefix);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, n) != 0)
            continue;
        char *end;
        long pid = strtol(e->d_name + n, &end, 10);
        if ((*end && *end != '-') || pid <= 0)
            continue; /* not a checkpoint temporary (CKPT.tmp-PID-RANDOM) */
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* its writer still runs (or may: not ours to judge) */
        char full[8400];
        snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
        unlink(full);
    }
    closedir(d);
}

/* The numerical guard: a value that is not finite (profits past the range
 * of a double, or NaN from inf - inf) stops the run before it is written.
 * Averages and shares of nothing (mean log productivity and top-10 share
 * of a destination nobody serves, the non-US share of no exports) are NaN
 * by definition and not checked. */
static int check_finite(const tm_params *p, const tm_period_result *r, tm_error *err)
{
    static const char *const names[] = {"export value", "tariff paid", "export value of new exporters"};
    const double *values[] = {r->export_value, r->tariff_paid, r->entrant_value};
    for (int s = 0; s < p->n_sectors; s++)
        for (int d = 0; d < p->n_dest; d++)
            for (int v = 0; v < 3; v++) {
                double x = values[v] ? values[v][s * p->n_dest + d] : 0.0;
                if (isfinite(x))
                    continue;
                const tm_sector *sec = &p->sector[s];
                return tm_error_set(err, TM_ERR_RUNTIME,
                                    "%s is %g in sector %s, destination %s, period %s%s: the run is stopped "
                                    "and nothing is kept; likely parameters: demand.elasticity %g, "
                                    "sectors.%s.volatility %g, sectors.%s.markets.%s.demand %g",
                                    names[v], x, sec->name, p->dest[d].name, r->label,
                                    r->period < 0 ? " (burn-in)" : "", p->elasticity, sec->name, sec->volatility,
                                    sec->name, p->dest[d].name, sec->market[d].demand);
            }
    return 0;
}

/* Save the state after the period just written to `ckpt_path`. */
static int save_checkpoint(const tm_params *p, tm_run *run, tm_output *out, const char *path, int every, int panel,
                           int force, const char *ckpt_path, tm_error *err)
{
    tm_checkpoint ck = {.period = tm_run_period(run), .every = every, .panel = panel, .force = force};
    ck.final_path = (char *)path;
    int rc = tm_run_save(run, &ck.state, err) || tm_output_save(out, &ck.state, err) ||
             tm_checkpoint_write(ckpt_path, p, &ck, err);
    tm_ckbuf_free(&ck.state);
    return rc ? -1 : 0;
}

/* Seconds since `*since`, which moves to now: one clock read a step. */
static double lap(double *since)
{
    double now = tm_clock_seconds(), dt = now - *since;
    *since = now;
    return dt;
}

static int simulate(const tm_params *p, const char *path, const tm_simulate_options *opts, char digest[65],
                    tm_simulate_timing *tm, tm_error *err)
{
    int threads = opts ? opts->threads : 0, panel = opts && opts->panel, force = opts && opts->force;
    int every = opts ? opts->checkpoint_every : 0;
    tm_checkpoint *resume = opts ? opts->resume : NULL;
    /* The folder's write test creates and removes a file: output time. */
    double clock = tm_clock_seconds();
    int probe = !resume && tm_output_check_path_probing(path, force, !(opts && opts->folder_written), err);
    tm->output += lap(&clock);
    if (probe)
        return -1;
    /* The recorded wall time covers the whole run: set-up and solve too. */
    const double started = tm_clock_seconds();
    if (tm_preflight_check(p, threads, panel, path, err))
        return -1;
    char ckpt_path[4200];
    tm_checkpoint_path(path, ckpt_path, sizeof ckpt_path);
    tm_run_options ro = {.threads = threads};
    if (opts)
        ro.progress = opts->progress;
    tm_run *run = NULL;
    tm_output *out = NULL;
    lap(&clock); /* the preflight estimate and check: neither engine nor output */
    int rc = tm_run_open(p, &ro, &run, err);
    tm->engine += lap(&clock);
    if (rc)
        return -1;
    if ((every > 0 || resume) && tm_run_checkpointable(run, err)) {
        tm_run_close(run);
        return -1;
    }
    tm_output_options oo = {.force = force,
                            .panel = panel,
                            .checkpoints = every > 0 || resume != NULL,
                            .started = started,
                            .wall_seconds = &tm->recorded_wall};
    /* A checkpoint holds the engine state, then the writer's. */
    rc = resume ? tm_run_restore(run, &resume->state, err) ||
                      tm_output_resume(path, p, run, &oo, &resume->state, &out, err)
                : tm_output_open(path, p, run, &oo, &out, err);
    tm->output += lap(&clock);
    if (rc) {
        tm_run_close(run);
        return -1;
    }
    const int total = p->burn_in + p->periods;
    /* Last period a checkpoint on disk holds (INT_MIN: none yet). */
    int saved = resume ? resume->period : INT_MIN;
    while (!tm_run_finished(run)) {
        rc = tm_run_step(run, err);
        tm->engine += lap(&clock);
        if (rc || check_finite(p, tm_run_result(run), err))
            goto fail;
        rc = tm_run_period(run) >= 0 && tm_output_period(out, run, err);
        tm->output += lap(&clock);
        if (rc)
            goto write_failed;
        if (opts && opts->logged && tm_run_period(run) >= 0) {
            opts->logged(opts->logged_user, p, tm_run_result(run));
            lap(&clock); /* the caller's, neither engine nor output */
        }
        int period = tm_run_period(run);
        /* Every N-th period counted from the first of the burn-in, so a
         * long burn-in is saved too; and at a signal, burn-in included. */
        int done = period + p->burn_in + 1;
        if (every > 0 && !tm_run_finished(run) && (done % every == 0 || interrupted)) {
            rc = save_checkpoint(p, run, out, path, every, panel, force, ckpt_path, err);
            tm->checkpoint += lap(&clock);
            if (rc)
                goto write_failed;
            saved = period;
        }
        if (interrupted) {
            char label[TM_LABEL_MAX + 16];
            snprintf(label, sizeof label, "%s%s", tm_run_result(run)->label, period < 0 ? " (burn-in)" : "");
            tm_run_close(run);
            char where[4200];
            if (tm_output_close_incomplete(out, where, sizeof where, err))
                return -1;
            return tm_error_set(
                err, TM_ERR_RUNTIME,
                "interrupted by signal %d after period %s; partial results in %s (status incomplete)%s%s",
                (int)interrupted, label, where, every > 0 ? "; continue with tradeabm run --resume " : "",
                every > 0 ? ckpt_path : "");
        }
        if (opts)
            tm_progress_report_to(&opts->progress, period < 0 ? "burn-in" : "running", period + p->burn_in + 1, total,
                                  tm_run_result(run)->label, NULL);
        lap(&clock); /* the caller's progress line is neither engine nor output */
    }
    if (opts && opts->finished)
        opts->finished(opts->finished_user, p, tm_run_result(run));
    tm_run_close(run);
    lap(&clock);
    rc = tm_output_close(out, 1, digest, err);
    tm->output += lap(&clock);
    if (rc)
        return -1;
    if (every > 0 || resume)
        unlink(ckpt_path);
    if (resume)
        remove_dead_temps(ckpt_path);
    return 0;
write_failed:
    if (saved != INT_MIN) {
        /* A write failed (disk full): the last checkpoint and the partial
         * file it describes are kept as they are, to be resumed once there
         * is room. A failure of the run itself (fail:) would only repeat. */
        char label[TM_LABEL_MAX];
        tm_period_label(p->start_index + saved, p->periods_per_year, label, sizeof label);
        tm_output_keep_partial(out);
        tm_run_close(run);
        size_t used = err ? strlen(err->msg) : 0;
        if (err)
            snprintf(err->msg + used, sizeof err->msg - used,
                     "; the last checkpoint (after period %s%s) and its partial file are kept: make room, then "
                     "continue with tradeabm run --resume %s",
                     label, saved < 0 ? ", burn-in" : "", ckpt_path);
        return -1;
    }
fail:
    tm_output_discard(out);
    tm_run_close(run);
    if (every > 0 || resume)
        unlink(ckpt_path); /* it describes the partial file just discarded */
    return -1;
}

int tm_simulate(const tm_params *p, const char *path, const tm_simulate_options *opts, char digest[65], tm_error *err)
{
    tm_simulate_timing tm = {0};
    double start = tm_clock_seconds();
    int rc = simulate(p, path, opts, digest, &tm, err);
    tm.total = tm_clock_seconds() - start;
    if (opts && opts->timing)
        *opts->timing = tm;
    return rc;
}
