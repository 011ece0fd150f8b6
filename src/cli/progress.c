/* The progress reporter every long command uses (cli.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "cli/cli.h"

/* Seconds between lines in a batch log unless TRADEABM_PROGRESS_SECONDS
 * says otherwise: often enough to see a job move, rare enough that a long
 * run's log stays short. */
#define TM_CLI_LOG_INTERVAL 10.0
#define TM_CLI_TTY_INTERVAL 0.5

void tm_cli_human_seconds(double s, char *buf, size_t size)
{
    if (s < 120)
        snprintf(buf, size, "%.1f s", s);
    else if (s < 7200)
        snprintf(buf, size, "%.1f min", s / 60);
    else
        snprintf(buf, size, "%.1f h", s / 3600);
}

void tm_cli_progress_init(tm_cli_progress *p)
{
    *p = (tm_cli_progress){0};
    p->tty = isatty(STDERR_FILENO);
    p->interval = p->tty ? TM_CLI_TTY_INTERVAL : TM_CLI_LOG_INTERVAL;
    const char *env = getenv("TRADEABM_PROGRESS_SECONDS");
    if (env && *env && !p->tty) {
        char *end;
        double v = strtod(env, &end);
        if (!*end && v >= 0)
            p->interval = v;
    }
    p->started = p->last_update = tm_clock_seconds();
    p->rate_total = -2; /* no measure yet */
}

void tm_cli_progress_clear(tm_cli_progress *p)
{
    if (p->shown) {
        fprintf(stderr, "\r%*s\r", p->shown, "");
        fflush(stderr);
    }
    p->shown = 0;
}

void tm_cli_progress_update(tm_cli_progress *p, int64_t done, int64_t total, const char *what)
{
    double t = tm_clock_seconds();
    /* A new measure of the rate when the work changes: the unit just done
     * began at the previous update. */
    if (total != p->rate_total || done < p->last_done) {
        p->rate_total = total;
        p->rate_done = done > 0 ? done - 1 : 0;
        p->rate_t = done > 0 ? p->last_update : t;
    }
    p->last_update = t;
    p->last_done = done;
    int finished = total >= 0 && done >= total;
    int due = p->every || p->lines == 0 || t - p->last_line >= p->interval || (finished && !p->tty);
    if (!due)
        return;
    char count[64], elapsed[32], left[64] = "";
    if (total >= 0)
        snprintf(count, sizeof count, "[%lld/%lld]", (long long)done, (long long)total);
    else
        snprintf(count, sizeof count, "[%lld done]", (long long)done);
    tm_cli_human_seconds(t - p->started, elapsed, sizeof elapsed);
    if (total >= 0 && done > p->rate_done && !finished) {
        char eta[32];
        tm_cli_human_seconds((t - p->rate_t) / (double)(done - p->rate_done) * (double)(total - done), eta, sizeof eta);
        snprintf(left, sizeof left, ", about %s left", eta);
    }
    char line[600];
    int width = snprintf(line, sizeof line, "%s%s %s; %s elapsed%s", p->prefix ? p->prefix : "", count, what, elapsed,
                         left);
    if (width >= (int)sizeof line)
        width = (int)sizeof line - 1;
    if (p->tty && !p->every) {
        /* Rewritten in place; padded over a longer previous line. */
        fprintf(stderr, "\r%s%*s", line, p->shown > width ? p->shown - width : 0, "");
        p->shown = width > p->shown ? width : p->shown;
    } else {
        fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
    p->last_line = t;
    p->lines++;
}

void tm_cli_progress_of_run(void *user, const tm_progress_report *r)
{
    char what[160];
    if (!r->label)
        snprintf(what, sizeof what, "%s the decision problems", r->stage);
    else if (strcmp(r->stage, "running") == 0)
        snprintf(what, sizeof what, "periods (burn-in first), now %s", r->label);
    else
        snprintf(what, sizeof what, "periods, in the burn-in");
    tm_cli_progress_update(user, r->done, r->total, what);
}
