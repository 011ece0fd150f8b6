/* `tradeabm bench`: fixed workloads that measure throughput per core, the
 * gap to a bare lower-bound kernel, panel I/O overhead, the dynamic
 * programme's solve time, state size and memory (docs/performance.md). */
#include <ftw.h>
#include <getopt.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/numfmt.h"
#include "base/rng.h"
#include "cli/cli.h"
#include "engine/grid.h"
#include "engine/mstate.h"
#include "engine/run.h"
#include "experiments/calibrate.h"
#include "experiments/sweep.h"
#include "io/runner.h"
#include "models/model.h"
#include "params/params.h"

static const char *const bench_usage =
    "usage: tradeabm bench [--quick] [--threads N] [--params-dir DIR] [--json FILE]\n"
    "\n"
    "Run the fixed benchmark workloads and print one line per figure:\n"
    "  bench NAME VALUE UNIT\n"
    "Full workload: 1,000,000 firms in 6 sectors, 100 logged periods, 2 destinations\n"
    "with 3 regimes each, no panel. --quick uses 200,000 firms and 25 periods.\n"
    "\n"
    "      --quick        the small workload (under a minute on 2 cores)\n"
    "      --threads N    OpenMP threads (default: all cores)\n"
    "      --params-dir DIR  the repository's params/ folder, for exact_cells_per_s\n"
    "                     and calibrate_eval_s (default: params)\n"
    "      --json FILE    also write the figures as JSON\n"
    "  -h, --help         this help\n";

typedef struct {
    char name[48];
    double value;
    char unit[24];
} figure;

typedef struct {
    figure f[32];
    int n;
} figures;

static void report(figures *fs, const char *name, double value, const char *unit)
{
    figure *f = &fs->f[fs->n++];
    snprintf(f->name, sizeof f->name, "%s", name);
    snprintf(f->unit, sizeof f->unit, "%s", unit);
    f->value = value;
    if (isnan(value))
        printf("bench %s unavailable %s\n", name, unit);
    else
        printf("bench %s %.6g %s\n", name, value, unit);
    fflush(stdout);
}

/* The benchmark world: 6 equal sectors, US and CN with 3 tariff regimes,
 * as parameter text in `text` (8192 bytes). */
static void bench_text(char *text, size_t size, const char *model, long firms, int sectors, int periods, int burn_in,
                       int grid)
{
    size_t n = (size_t)snprintf(text, size,
                                "run: {model: %s, seed: 7, start: 2024Q1, periods: %d, burn_in: %d}\n"
                                "productivity: {grid: %d}\n"
                                "sectors:\n",
                                model, periods, burn_in, grid);
    for (int s = 0; s < sectors; s++)
        n += (size_t)snprintf(text + n, size - n,
                              "  s%d: {firms: %ld, persistence: 0.95, volatility: %.3f, death_rate: 0.02}\n", s,
                              firms / sectors, 0.10 + 0.005 * s);
    snprintf(text + n, size - n,
             "destinations:\n"
             "  US:\n"
             "    market: {demand: 1.0, fixed_cost: 1.8, sunk_cost: 6.6}\n"
             "    regimes: {low: {tariff: 0}, mid: {tariff: 0.1}, high: {tariff: 0.25}}\n"
             "    transition: [[0.95, 0.04, 0.01], [0.1, 0.8, 0.1], [0.05, 0.15, 0.8]]\n"
             "  CN:\n"
             "    market: {demand: 0.3, fixed_cost: 1.8, sunk_cost: 6.6}\n"
             "    regimes: {normal: {tariff: 0}, duties: {tariff: 0.25}, ban: {closed: true}}\n"
             "    transition: [[0.97, 0.02, 0.01], [0.1, 0.85, 0.05], [0.1, 0.1, 0.8]]\n");
}

static int bench_params(const char *model, long firms, int sectors, int periods, int burn_in, int grid, tm_params **out,
                        tm_error *err)
{
    char text[8192];
    bench_text(text, sizeof text, model, firms, sectors, periods, burn_in, grid);
    return tm_params_load_text("benchmark workload", text, NULL, 0, out, err);
}

/* Firm-periods per second per core of the logged periods (burn-in untimed). */
static double engine_fps(const tm_params *p, int threads, double *state_bytes, tm_error *err)
{
    tm_run_options ro = {.threads = threads};
    tm_run *run = NULL;
    if (tm_run_open(p, &ro, &run, err))
        return NAN;
    while (tm_run_period(run) < -1)
        if (tm_run_step(run, err)) {
            tm_run_close(run);
            return NAN;
        }
    double t0 = tm_clock_seconds();
    while (!tm_run_finished(run))
        if (tm_run_step(run, err)) {
            tm_run_close(run);
            return NAN;
        }
    double dt = tm_clock_seconds() - t0;
    if (state_bytes)
        *state_bytes = tm_run_state_bytes_per_firm(run);
    int64_t firms = 0;
    for (int s = 0; s < p->n_sectors; s++)
        firms += tm_params_slots(p, s);
    tm_run_close(run);
    return (double)firms * (double)p->periods / dt / (double)threads;
}

/* The lower bound: per firm one PCG32 draw, an alias-table productivity
 * move and a policy-table lookup, nothing else, over the same blocks. */
static double kernel_fps(long firms, int periods, int threads, int n_z)
{
    uint64_t *state = malloc((size_t)firms * sizeof *state);
    uint16_t *z = malloc((size_t)firms * sizeof *z);
    uint8_t *set = malloc((size_t)firms);
    double *zg = malloc((size_t)n_z * sizeof(double)), *P = malloc((size_t)n_z * (size_t)n_z * sizeof(double));
    uint32_t *thr = malloc((size_t)n_z * (size_t)n_z * sizeof(uint32_t)),
             *ali = malloc((size_t)n_z * (size_t)n_z * sizeof(uint32_t));
    uint8_t *policy = malloc((size_t)n_z * 4);
    if (!state || !z || !set || !zg || !P || !thr || !ali || !policy) {
        free(state), free(z), free(set), free(zg), free(P), free(thr), free(ali), free(policy);
        return NAN;
    }
    tm_grid_rouwenhorst(n_z, 0.95, 0.1, zg, P);
    for (int i = 0; i < n_z; i++) {
        tm_alias row;
        tm_alias_init(&row, P + (size_t)i * (size_t)n_z, (uint32_t)n_z);
        memcpy(thr + (size_t)i * (size_t)n_z, row.threshold, (size_t)n_z * sizeof(uint32_t));
        memcpy(ali + (size_t)i * (size_t)n_z, row.alias, (size_t)n_z * sizeof(uint32_t));
        tm_alias_free(&row);
        for (int S = 0; S < 4; S++)
            policy[i * 4 + S] = (uint8_t)(zg[i] > 0.1 ? 1 : 0) | (uint8_t)(zg[i] > 0.5 ? 2 : 0);
    }
    const uint64_t inc_base = 0x5851f42d4c957f2dULL | 1u;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (long i = 0; i < firms; i++) {
        state[i] = tm_rng_mix(7, (uint64_t)i);
        z[i] = (uint16_t)(i % n_z);
        set[i] = 0;
    }
    long n_blocks = (firms + TM_BLOCK - 1) / TM_BLOCK;
    double t0 = tm_clock_seconds();
    for (int t = 0; t < periods; t++) {
#pragma omp parallel for schedule(static) num_threads(threads)
        for (long b = 0; b < n_blocks; b++) {
            long end = (b + 1) * TM_BLOCK < firms ? (b + 1) * TM_BLOCK : firms;
            for (long i = b * TM_BLOCK; i < end; i++) {
                uint64_t st = state[i];
                uint32_t r = tm_pcg32_step(&st, inc_base + 2u * (uint64_t)i);
                uint64_t scaled = (uint64_t)r * (uint64_t)n_z;
                uint32_t col = (uint32_t)(scaled >> 32);
                size_t cell = (size_t)z[i] * (size_t)n_z + col;
                int zn = (uint32_t)scaled < thr[cell] ? (int)col : (int)ali[cell];
                set[i] = policy[zn * 4 + set[i]];
                z[i] = (uint16_t)zn;
                state[i] = st;
            }
        }
    }
    double dt = tm_clock_seconds() - t0;
    free(state), free(z), free(set), free(zg), free(P), free(thr), free(ali), free(policy);
    return (double)firms * (double)periods / dt / (double)threads;
}

/* One whole run into a file under $TMPDIR (removed after); where its
 * time went in `timing` when not NULL. */
static double run_seconds(const tm_params *p, int threads, int panel, tm_simulate_timing *timing, tm_error *err)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tradeabm-bench-%ld-%d.h5", dir && *dir ? dir : "/tmp", (long)getpid(), panel);
    tm_simulate_options so = {.threads = threads, .panel = panel, .force = 1, .timing = timing};
    char digest[65];
    double t0 = tm_clock_seconds();
    int rc = tm_simulate(p, path, &so, digest, err);
    double dt = tm_clock_seconds() - t0;
    unlink(path);
    return rc ? NAN : dt;
}

/* The share of a 10,000-firm, 12-period run of the benchmark world (10
 * burn-in periods, the dynamic model's solve included) spent on its file:
 * output seconds over tm_simulate's seconds by the run's own timers, the
 * median of OUTPUT_SHARE_RUNS runs (a run takes a few tenths of a second,
 * so one disturbed run must not decide the figure). */
enum { OUTPUT_SHARE_RUNS = 5 };

static double output_share(const char *model, int threads, tm_error *err)
{
    tm_params *p = NULL;
    if (bench_params(model, 10000, 6, 12, 10, 41, &p, err))
        return NAN;
    double share[OUTPUT_SHARE_RUNS];
    int n = 0;
    for (int k = 0; k < OUTPUT_SHARE_RUNS; k++) {
        tm_simulate_timing t = {0};
        if (isnan(run_seconds(p, threads, 0, &t, err)) || !(t.total > 0))
            break;
        share[n++] = t.output / t.total;
    }
    tm_params_free(p);
    return n == OUTPUT_SHARE_RUNS ? gsl_stats_median(share, 1, (size_t)n) : NAN;
}

/* One sector's DP solve on one core, if the dynamic model is built in. */
static double dp_solve_seconds(tm_error *err)
{
    const tm_model_ops *ops = tm_model_lookup(TM_MODEL_DYNAMIC);
    if (!ops)
        return NAN;
    tm_params *p = NULL;
    if (bench_params("dynamic", 1000, 1, 1, 0, 201, &p, err))
        return NAN;
    void *state = NULL;
    double t0 = tm_clock_seconds();
    int rc = tm_model_open(ops, p, 1, &state, err);
    double dt = tm_clock_seconds() - t0;
    if (!rc && state)
        ops->free(state);
    tm_params_free(p);
    return rc ? NAN : dt;
}

/* Distribution updates per second with run.aggregation: exact: each
 * period moves the mass of every (type, productivity, market state) cell
 * to every productivity of the next period, n_types n_z^2 cells_per_z
 * updates a sector, the count a distribution pass over a dense
 * transition matrix does. All periods timed, burn-in included (the same
 * work). */
static double exact_cells_per_s(const char *path, int threads, tm_error *err)
{
    tm_params *p = NULL;
    if (tm_params_load(path, NULL, 0, &p, err))
        return NAN;
    tm_run_options ro = {.threads = threads};
    tm_run *run = NULL;
    if (!p->exact || tm_run_open(p, &ro, &run, err)) {
        if (!p->exact)
            tm_error_set(err, TM_ERR_INPUT, "%s: run.aggregation is not exact", path);
        tm_params_free(p);
        return NAN;
    }
    const tm_mstate *ms = tm_run_states(run);
    double per_z = ms->timing == TM_TIMING_NEXT ? (double)ms->n_states * ms->n_states : (double)ms->n_states;
    double n_z = (double)tm_run_grid_size(run);
    double cells = (double)p->n_sectors * (double)tm_run_n_types(run) * n_z * n_z * per_z;
    int steps = 0, rc = 0;
    double t0 = tm_clock_seconds();
    while (!tm_run_finished(run) && !(rc = tm_run_step(run, err)))
        steps++;
    double dt = tm_clock_seconds() - t0;
    tm_run_close(run);
    tm_params_free(p);
    return rc ? NAN : cells * steps / dt;
}

/* A sweep of small runs through tm_sweep_execute, as `tradeabm sweep`
 * does them: `runs` runs of 3,000 firms and 12 logged periods (10
 * burn-in) of the benchmark world with the myopic model (no start-of-run
 * solve, so that what a sweep adds to each run shows), one OpenMP thread
 * a run, `jobs` runs
 * at once, in a fresh folder under $TMPDIR (removed after). Besides the
 * runs a second, the time outside the runs' own work, per run: all of
 * tm_sweep_execute (folder scan, workers, index) less the runs'
 * tm_simulate time over `jobs`, and its parts. */
typedef struct {
    double runs_per_s;
    double overhead_ms, params_ms, handling_ms, dispatch_ms, index_ms; /* per run */
} sweep_figures;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int bad = fputs(text, f) < 0;
    return fclose(f) != 0 || bad ? -1 : 0;
}

static int sweep_bench(int jobs, int runs, sweep_figures *fig, tm_error *err)
{
    const char *tmp = getenv("TMPDIR");
    char dir[4096], path[4200], out[4200], text[8192];
    snprintf(dir, sizeof dir, "%s/tradeabm-bench-sweep-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot create a folder for the sweep", dir);
    bench_text(text, sizeof text, "myopic", 3000, 6, 12, 10, 41);
    snprintf(path, sizeof path, "%s/base.yaml", dir);
    int rc = write_text(path, text);
    /* One point, `runs` replicates: every run the same size. */
    snprintf(text, sizeof text,
             "base: base.yaml\nseed: 1\nreplicates: %d\n"
             "design:\n  grid:\n    destinations.US.market.demand: [1.0]\n"
             "summary:\n  outcomes: [non_us_share]\n  periods: 4\n",
             runs);
    snprintf(path, sizeof path, "%s/sweep.yaml", dir);
    rc = rc || write_text(path, text);
    snprintf(out, sizeof out, "%s/out", dir);
    tm_sweep *s = NULL;
    tm_sweep_exec_stats st = {0};
    if (rc)
        tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot write the sweep files", dir);
    else if (!(rc = tm_sweep_open(path, 1, &s, err) || tm_sweep_prepare_dir(s, out, err))) {
        tm_sweep_exec_options eo = {.jobs = jobs, .threads = jobs};
        double t0 = tm_clock_seconds();
        rc = tm_sweep_execute(s, out, &eo, &st, err);
        double wall = tm_clock_seconds() - t0;
        if (!rc && st.done != runs)
            rc = tm_error_set(err, TM_ERR_RUNTIME, "sweep benchmark: %lld of %d runs done", (long long)st.done, runs);
        if (!rc) {
            double n = (double)runs, ms = 1e3 / n;
            fig->runs_per_s = n / wall;
            fig->overhead_ms = (wall - st.simulate_seconds / jobs) * ms;
            fig->params_ms = st.params_seconds * ms;
            fig->handling_ms = (st.run_seconds - st.params_seconds - st.simulate_seconds) * ms;
            fig->index_ms = st.index_seconds * ms;
            fig->dispatch_ms = fig->overhead_ms - (fig->params_ms + fig->handling_ms) / jobs - fig->index_ms;
        }
    }
    tm_sweep_close(s);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc ? -1 : 0;
}

/* One evaluation of a calibration's objective at its start values (one
 * run of the base with the calibration's seed, moments and objective). */
static double calibrate_eval_seconds(const char *path, int threads, tm_error *err)
{
    tm_calibration *cal = NULL;
    if (tm_calibration_open(path, &cal, err))
        return NAN;
    double *x = malloc((size_t)tm_calibration_n_params(cal) * sizeof *x + 1), objective = NAN, dt = NAN;
    int rc = x == NULL;
    if (x) {
        tm_calibration_start(cal, x);
        tm_calibration_options opts = {.threads = threads};
        double t0 = tm_clock_seconds();
        rc = tm_calibration_evaluate(cal, &opts, x, &objective, err);
        dt = tm_clock_seconds() - t0;
    }
    free(x);
    tm_calibration_close(cal);
    return rc ? NAN : dt;
}

static void write_json(const char *path, const figures *fs, int threads, int quick)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "tradeabm: warning: cannot write %s\n", path);
        return;
    }
    char host[256] = "unknown";
    gethostname(host, sizeof host);
    fprintf(f, "{\n  \"host\": \"%s\",\n  \"cores\": %ld,\n  \"threads\": %d,\n  \"quick\": %s,\n  \"figures\": {\n",
            host, sysconf(_SC_NPROCESSORS_ONLN), threads, quick ? "true" : "false");
    for (int i = 0; i < fs->n; i++) {
        if (isnan(fs->f[i].value))
            fprintf(f, "    \"%s\": {\"value\": null, \"unit\": \"%s\"}%s\n", fs->f[i].name, fs->f[i].unit,
                    i + 1 < fs->n ? "," : "");
        else
            fprintf(f, "    \"%s\": {\"value\": %.6g, \"unit\": \"%s\"}%s\n", fs->f[i].name, fs->f[i].value,
                    fs->f[i].unit, i + 1 < fs->n ? "," : "");
    }
    fprintf(f, "  }\n}\n");
    fclose(f);
}

int tm_cli_bench(int argc, char **argv)
{
    static const struct option opts[] = {
        {"quick", no_argument, 0, 'q'},      {"threads", required_argument, 0, 't'},
        {"json", required_argument, 0, 'j'}, {"params-dir", required_argument, 0, 'p'},
        {"help", no_argument, 0, 'h'},       {0, 0, 0, 0},
    };
    int quick = 0, threads = omp_get_max_threads();
    const char *json = NULL, *params_dir = "params";
    /* The figures are of the engine on the threads asked for: every run
     * here keeps its whole team each period (engine/team.h). */
    setenv("TRADEABM_FIXED_TEAM", "1", 1);
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'q':
            quick = 1;
            break;
        case 't': {
            long v;
            if (tm_cli_parse_count(optarg, 1, 4096, &v))
                return tm_cli_usage_error(bench_usage, "--threads %s: expected a whole number from 1 to 4096", optarg);
            threads = (int)v;
            break;
        }
        case 'j':
            json = optarg;
            break;
        case 'p':
            params_dir = optarg;
            break;
        case 'h':
            fputs(bench_usage, stdout);
            return 0;
        default:
            fprintf(stderr, "\n%s", bench_usage);
            return 2;
        }
    }
    if (optind < argc)
        return tm_cli_usage_error(bench_usage, "unexpected argument %s", argv[optind]);
    long firms = quick ? 200000 : 1000000;
    int periods = quick ? 25 : 100;
    printf("# tradeabm bench: %ld firms, 6 sectors, %d periods, %d thread%s%s\n", firms, periods, threads,
           tm_numfmt_plural(threads), quick ? " (quick)" : "");
    figures fs = {0};
    tm_error err = {0};
    tm_params *myopic = NULL, *dynamic = NULL;
    if (bench_params("myopic", firms, 6, periods, 10, 41, &myopic, &err)) {
        fprintf(stderr, "tradeabm: error: %s\n", err.msg);
        return 1;
    }
    int have_dynamic = tm_model_lookup(TM_MODEL_DYNAMIC) != NULL &&
                       bench_params("dynamic", firms, 6, periods, 10, 41, &dynamic, &err) == 0;
    double state_bytes = NAN;
    double kernel = kernel_fps(firms, periods, threads, 41);
    double dyn = have_dynamic ? engine_fps(dynamic, threads, &state_bytes, &err) : NAN;
    double myo = engine_fps(myopic, threads, have_dynamic ? NULL : &state_bytes, &err);
    report(&fs, "dynamic_fps_per_core", dyn, "firm-periods/s");
    report(&fs, "myopic_fps_per_core", myo, "firm-periods/s");
    report(&fs, "kernel_fps_per_core", kernel, "firm-periods/s");
    report(&fs, "dynamic_vs_kernel", dyn / kernel, "ratio");
    report(&fs, "myopic_vs_kernel", myo / kernel, "ratio");
    const tm_params *io = have_dynamic ? dynamic : myopic;
    double plain = run_seconds(io, threads, 0, NULL, &err);
    double with_panel = run_seconds(io, threads, 1, NULL, &err);
    report(&fs, "panel_overhead", with_panel / plain, "ratio");
    report(&fs, "output_share", output_share(have_dynamic ? "dynamic" : "myopic", threads, &err), "fraction");
    /* Sweeps: one job, then one a thread (the cores by default). Enough
     * runs that each worker's start (a fork, its first run's page faults)
     * does not decide the figure: with 24 runs two jobs gained 5%, with
     * 200 as much as two separate processes get from this machine. */
    int sweep_runs = quick ? 200 : 400;
    sweep_figures one = {NAN, NAN, NAN, NAN, NAN, NAN}, many = one;
    if (sweep_bench(1, sweep_runs, &one, &err) == 0)
        printf(
            "# sweep of %d runs, --jobs 1: outside the runs %.2f ms a run: parameters %.2f, completeness checks "
            "and lock %.2f, dispatch and folder scan %.2f, index %.2f\n",
            sweep_runs, one.overhead_ms, one.params_ms, one.handling_ms, one.dispatch_ms, one.index_ms);
    if (threads > 1 && sweep_bench(threads, sweep_runs, &many, &err) == 0)
        printf("# sweep of %d runs, --jobs %d: outside the runs %.2f ms a run\n", sweep_runs, threads,
               many.overhead_ms);
    report(&fs, "sweep_runs_per_s_jobs1", one.runs_per_s, "runs/s");
    report(&fs, "sweep_runs_per_s_jobsN", threads > 1 ? many.runs_per_s : one.runs_per_s, "runs/s");
    report(&fs, "sweep_overhead_ms", one.overhead_ms, "ms/run");
    report(&fs, "dp_solve_s", dp_solve_seconds(&err), "s");
    report(&fs, "state_bytes_per_firm", state_bytes, "bytes");
    char path[4096];
    snprintf(path, sizeof path, "%s/replications/akkrs_steady_state.yaml", params_dir);
    report(&fs, "exact_cells_per_s", exact_cells_per_s(path, threads, &err), "updates/s");
    snprintf(path, sizeof path, "%s/calibration/canada.yaml", params_dir);
    report(&fs, "calibrate_eval_s", calibrate_eval_seconds(path, threads, &err), "s");
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    report(&fs, "peak_rss_mb", (double)ru.ru_maxrss / 1024.0, "MiB");
    if (json)
        write_json(json, &fs, threads, quick);
    tm_params_free(myopic);
    tm_params_free(dynamic);
    if (err.msg[0])
        fprintf(stderr, "tradeabm: note: %s\n", err.msg);
    return 0;
}
