/* cli: the tradeabm command line, one file per command in src/cli/ and the
 * option helpers they share. The only place that prints errors, progress
 * and results and chooses exit statuses: 0 success, 1 runtime failure,
 * 2 usage or input error. */
#ifndef TM_CLI_H
#define TM_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/progress.h"
#include "experiments/filekind.h"

int tm_cli_main(int argc, char **argv);

/* The commands: argv[0] is the command name. */
int tm_cli_run(int argc, char **argv);       /* src/cli/run.c */
int tm_cli_check(int argc, char **argv);     /* src/cli/check.c */
int tm_cli_params(int argc, char **argv);    /* src/cli/params.c */
int tm_cli_info(int argc, char **argv);      /* src/cli/info.c */
int tm_cli_reproduce(int argc, char **argv); /* src/cli/reproduce.c */
int tm_cli_verify(int argc, char **argv);    /* src/cli/verify.c */
int tm_cli_bench(int argc, char **argv);     /* src/cli/bench.c */
int tm_cli_export(int argc, char **argv);    /* src/cli/export.c */

/* `sweep` and `sweep-index` (src/cli/sweep.c). */
int tm_cli_sweep(int argc, char **argv);
int tm_cli_sweep_index(int argc, char **argv);

/* `calibrate` (src/cli/calibrate.c) and `compare` (src/cli/compare.c). */
int tm_cli_calibrate(int argc, char **argv);
int tm_cli_compare(int argc, char **argv);
/* `target` (src/cli/target.c). */
int tm_cli_target(int argc, char **argv);
/* `validate` (src/cli/validate.c). */
int tm_cli_validate(int argc, char **argv);

/* What `reproduce` does with a file of this kind, or what to do instead
 * (src/cli/reproduce.c): one sentence, for `info` and `reproduce`. */
void tm_cli_file_advice(const char *path, const tm_file_facts *facts, char *buf, size_t size);

/* Shared by every command: print err and map its status to an exit code
 * (2 input, 1 runtime); print a usage error and return 2; parse a whole
 * number in [lo, hi] (0, or -1 if it is not one). */
int tm_cli_fail(const tm_error *err);
int tm_cli_usage_error(const char *usage, const char *fmt, const char *arg);
int tm_cli_parse_count(const char *s, long lo, long hi, long *out);

/* The one progress reporter of every long command (src/cli/progress.c):
 * on stderr, "[done/total] what; 3.1 s elapsed, about 12 s left". On a
 * terminal one line is rewritten in place at most twice a second; in a
 * batch log (stderr not a terminal) a plain line is written at the first
 * update, then every TRADEABM_PROGRESS_SECONDS seconds (default 10) and
 * when the work is done, so a log shows progress without one line per
 * step. The time left comes from the rate since the work began (since
 * total last changed, so a run's solve and its periods are timed apart). */
typedef struct {
    int tty;            /* stderr is a terminal */
    int every;          /* a line at every update (sweeps: one per finished run) */
    double interval;    /* seconds between lines */
    double started;     /* clock at init */
    double last_line;   /* clock at the last line written */
    double last_update; /* clock at the last update */
    int64_t last_done;  /* done at the last update */
    int64_t rate_total; /* total the rate is measured for */
    int64_t rate_done;  /* done when the rate's measure began ... */
    double rate_t;      /* ... and the clock then */
    int shown;          /* width of the line on the terminal, 0: none */
    int lines;          /* lines written */
    const char *prefix; /* before "[done/total]" (e.g. "rank 1 "), or NULL */
} tm_cli_progress;

void tm_cli_progress_init(tm_cli_progress *p);
/* done units of total (-1: not known) are finished; `what` says what is
 * under way. */
void tm_cli_progress_update(tm_cli_progress *p, int64_t done, int64_t total, const char *what);
/* Clear the terminal line (before printing anything else). */
void tm_cli_progress_clear(tm_cli_progress *p);
/* The progress callback of one run (its solve, burn-in and periods) for
 * tm_simulate, user a tm_cli_progress: `run` and `reproduce`. */
void tm_cli_progress_of_run(void *user, const tm_progress_report *r);
/* "12.3 s", "4.5 min", "2.1 h". */
void tm_cli_human_seconds(double s, char *buf, size_t size);

/* Most `--set KEY=VALUE` options one command line may carry. */
#define TM_CLI_MAX_SETS 256

/* Commands taking one file argument and few options: --help always, and
 * the options `accept` names. With TM_CLI_DOC or TM_CLI_NO_FILE the file
 * is optional. */
enum { TM_CLI_SET = 1u << 0, TM_CLI_THREADS = 1u << 1, TM_CLI_DOC = 1u << 2, TM_CLI_NO_FILE = 1u << 3 };
typedef struct {
    const char *file; /* NULL if none was given */
    const char *sets[TM_CLI_MAX_SETS];
    int n_sets;
    long threads; /* 0 unless --threads */
    int doc;      /* --doc was given */
} tm_cli_one_file_args;

/* Returns -1 when the command should go on, else its exit status (0 after
 * --help, 2 after a usage error, which it has printed). */
int tm_cli_one_file(int argc, char **argv, const char *usage, unsigned accept, tm_cli_one_file_args *out);

#endif
