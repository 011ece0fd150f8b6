/* test_runner: one run from parameters to a finished file reports how far
 * it has got through its callbacks (the model's start-of-run solve, then
 * every period in order, then the last period's results once) and prints
 * nothing itself. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixtures.h"
#include "io/reader.h"
#include "io/runner.h"
#include "params/params.h"

/* Two sectors (two start-of-run solves), 3 burn-in and 4 logged periods. */
static const char *const small =
    "run: {model: dynamic, periods: 4, burn_in: 3, seed: 5, start: 2024Q3}\n"
    "productivity: {grid: 21}\n"
    "decision: {tolerance: 1e-6}\n"
    "sectors:\n"
    "  steel: {firms: 500}\n"
    "  agri: {firms: 500}\n"
    "destinations:\n"
    "  US:\n"
    "    regimes: {low: {tariff: 0}, high: {tariff: 0.3}}\n"
    "    transition: [[0.9, 0.1], [0.2, 0.8]]\n";

#define MAX_REPORTS 64

typedef struct {
    int n;
    char stage[MAX_REPORTS][16];
    int done[MAX_REPORTS], total[MAX_REPORTS];
    char label[MAX_REPORTS][TM_LABEL_MAX];
    int finished;
    char finished_label[TM_LABEL_MAX];
    int64_t finished_firms;
    int logged;
    char logged_label[MAX_REPORTS][TM_LABEL_MAX];
    int logged_period[MAX_REPORTS];
    double file_wall; /* the wall_seconds the file records */
} record;

static void on_progress(void *user, const tm_progress_report *r)
{
    record *rec = user;
    cr_assert_lt(rec->n, MAX_REPORTS);
    snprintf(rec->stage[rec->n], sizeof rec->stage[0], "%s", r->stage);
    rec->done[rec->n] = r->done;
    rec->total[rec->n] = r->total;
    snprintf(rec->label[rec->n], sizeof rec->label[0], "%s", r->label ? r->label : "");
    rec->n++;
}

static void on_finished(void *user, const tm_params *p, const tm_period_result *last)
{
    record *rec = user;
    rec->finished++;
    snprintf(rec->finished_label, sizeof rec->finished_label, "%s", last->label);
    rec->finished_firms = 0;
    for (int S = 0; S < 1 << p->n_dest; S++)
        rec->finished_firms += last->firms_by_set[S];
}

static void on_logged(void *user, const tm_params *p, const tm_period_result *r)
{
    (void)p;
    record *rec = user;
    cr_assert_lt(rec->logged, MAX_REPORTS);
    snprintf(rec->logged_label[rec->logged], sizeof rec->logged_label[0], "%s", r->label);
    rec->logged_period[rec->logged++] = r->period;
}

/* Simulate `small` into a fresh folder with the callbacks above (and,
 * when `timing` is not NULL, the run's own timers). */
static void simulate_timed(record *rec, tm_simulate_timing *timing)
{
    tm_params *p = fixture_params("runner-test", small, NULL, 0);
    tm_error err = {0};
    char dir[] = "/tmp/tradeabm-runner-XXXXXX";
    cr_assert(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/run.h5", dir);
    memset(rec, 0, sizeof *rec);
    tm_simulate_options so = {.threads = 1,
                              .progress = {on_progress, rec},
                              .finished = on_finished,
                              .finished_user = rec,
                              .logged = on_logged,
                              .logged_user = rec,
                              .timing = timing};
    char digest[65];
    cr_assert_eq(tm_simulate(p, path, &so, digest, &err), 0, "%s", err.msg);
    cr_expect_eq(access(path, F_OK), 0, "the file is written");
    tm_file_info info;
    cr_assert_eq(tm_reader_read_info(path, &info, &err), 0, "%s", err.msg);
    rec->file_wall = info.wall_seconds;
    tm_reader_info_free(&info);
    unlink(path);
    rmdir(dir);
    tm_params_free(p);
}

static void simulate(record *rec)
{
    simulate_timed(rec, NULL);
}

Test(runner, reports_the_solve_then_every_period_in_order)
{
    record rec;
    simulate(&rec);
    /* Two sectors, one class each: reports 0, 1, 2 of 2 solves. */
    const int solves = 3, periods = 3 + 4;
    cr_assert_eq(rec.n, solves + periods);
    for (int i = 0; i < solves; i++) {
        cr_expect_str_eq(rec.stage[i], "solving");
        cr_expect_eq(rec.done[i], i);
        cr_expect_eq(rec.total[i], 2);
        cr_expect_str_eq(rec.label[i], "", "solves have no period label");
    }
    static const char *const labels[] = {"2023Q4", "2024Q1", "2024Q2", "2024Q3", "2024Q4", "2025Q1", "2025Q2"};
    for (int k = 0; k < periods; k++) {
        int i = solves + k;
        cr_expect_str_eq(rec.stage[i], k < 3 ? "burn-in" : "running", "report %d", i);
        cr_expect_eq(rec.done[i], k + 1);
        cr_expect_eq(rec.total[i], periods);
        cr_expect_str_eq(rec.label[i], labels[k]);
    }
}

Test(runner, hands_over_the_last_period_once)
{
    record rec;
    simulate(&rec);
    cr_expect_eq(rec.finished, 1);
    cr_expect_str_eq(rec.finished_label, "2025Q2");
    cr_expect_eq(rec.finished_firms, 500, "sector steel's firms by market set add up to its firms");
}

static void redirect_both(void)
{
    cr_redirect_stdout();
    cr_redirect_stderr();
}

Test(runner, prints_nothing, .init = redirect_both)
{
    record rec;
    simulate(&rec);
    fflush(stdout);
    fflush(stderr);
    cr_expect_stdout_eq_str("");
    cr_expect_stderr_eq_str("");
}

Test(runner, timers_split_the_run_into_engine_and_output_within_its_total)
{
    /* The parts are measured on the same clock inside the total, one
     * after another, so they add up to at most the total; each part did
     * work (a solve and 7 periods, a file), so each took some time. */
    record rec;
    tm_simulate_timing t = {-1, -1, -1, -1, -1};
    simulate_timed(&rec, &t);
    cr_expect_gt(t.engine, 0.0);
    cr_expect_gt(t.output, 0.0);
    cr_expect_eq(t.checkpoint, 0.0, "no checkpoints were asked for");
    cr_expect_leq(t.engine + t.output + t.checkpoint, t.total);
}

Test(runner, hands_over_every_logged_period_in_order)
{
    record rec;
    simulate(&rec);
    static const char *const labels[] = {"2024Q3", "2024Q4", "2025Q1", "2025Q2"};
    cr_assert_eq(rec.logged, 4, "the 4 logged periods, no burn-in");
    for (int k = 0; k < 4; k++) {
        cr_expect_eq(rec.logged_period[k], k);
        cr_expect_str_eq(rec.logged_label[k], labels[k]);
    }
}

Test(runner, reports_the_wall_time_the_file_records)
{
    /* The same double the file's wall_seconds attribute holds (a sweep's
     * index takes it from here instead of reopening the file). */
    record rec;
    tm_simulate_timing t = {0};
    simulate_timed(&rec, &t);
    cr_expect_eq(t.recorded_wall, rec.file_wall);
    cr_expect_gt(t.recorded_wall, 0.0);
    cr_expect_leq(t.recorded_wall, t.total);
}
