/* The `target` command: options, progress lines and the answer table; the
 * search itself is src/experiments/target.c. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/error.h"
#include "cli/cli.h"
#include "experiments/target.h"
#include "io/output.h"

static const char *const target_usage =
    "usage: tradeabm target QUESTIONS.yaml -o RESULT.json [options]\n"
    "\n"
    "Answer each question of QUESTIONS.yaml as an inverse problem: the size of\n"
    "its lever ($lever in its events or overrides, between lower and upper) at\n"
    "which the mean over replicates (the same seeds at every size) of\n"
    "  export value to target.destinations in target.at\n"
    "  / its mean over the periods of target.from\n"
    "equals target.ratio within target.tolerance, by Brent's method; or that\n"
    "no size within the bounds reaches it, with the nearest ratio found.\n"
    "RESULT.json keeps every evaluation (docs/questions.md).\n"
    "\n"
    "  -o, --output FILE     result file (rewritten after each question)\n"
    "      --base FILE       base parameter file instead of the file's base:\n"
    "      --question NAME   only this question (repeatable)\n"
    "      --threads N       OpenMP threads per run (results do not depend on it)\n"
    "      --check           validate the file (every question at both bounds) and exit\n"
    "      --force           replace FILE if it exists\n"
    "  -q, --quiet           no progress lines\n"
    "  -h, --help            this help\n";

#define MAX_PICKED 64

typedef struct {
    tm_cli_progress reporter;
    int quiet;
} target_progress;

/* One line per evaluation on stdout, and the progress line on stderr. */
static void progress(void *user, const tm_progress_report *r)
{
    target_progress *tp = user;
    const tm_target_step *step = r->detail;
    if (tp->quiet)
        return;
    tm_cli_progress_clear(&tp->reporter);
    printf("  %-24s eval %2lld  lever %-10.5g ratio %.4f (s.e. %.4f)\n", r->label, (long long)r->done, step->lever,
           step->ratio, step->ratio_se);
    fflush(stdout);
    tm_cli_progress_update(&tp->reporter, r->done, r->total, "evaluations of this question");
}

static const char *status_text(tm_target_status s)
{
    switch (s) {
    case TM_TARGET_FOUND:
        return "reaches the target";
    case TM_TARGET_NOT_REACHED:
        return "no lever size within bounds reaches the target";
    case TM_TARGET_EXCEEDED:
        return "every lever size within bounds exceeds the target";
    default:
        return "bracketed, stopped at the evaluation budget";
    }
}

int tm_cli_target(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'},
        {"base", required_argument, 0, 'b'},
        {"question", required_argument, 0, 'Q'},
        {"threads", required_argument, 0, 't'},
        {"force", no_argument, 0, 'f'},
        {"check", no_argument, 0, 'c'},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *output = NULL, *base = NULL, *picked[MAX_PICKED];
    int n_picked = 0, force = 0, quiet = 0, check = 0, c;
    long threads = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            output = optarg;
            break;
        case 'b':
            base = optarg;
            break;
        case 'Q':
            if (n_picked == MAX_PICKED)
                return tm_cli_usage_error(target_usage, "--question %s: too many questions named", optarg);
            picked[n_picked++] = optarg;
            break;
        case 't':
            if (tm_cli_parse_count(optarg, 1, 4096, &threads))
                return tm_cli_usage_error(target_usage, "--threads %s: expected a whole number from 1 to 4096", optarg);
            break;
        case 'f':
            force = 1;
            break;
        case 'c':
            check = 1;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            fputs(target_usage, stdout);
            return 0;
        default:
            fprintf(stderr, "\n%s", target_usage);
            return 2;
        }
    }
    if (optind != argc - 1)
        return tm_cli_usage_error(target_usage, "%s", "target: expected one question file");
    if (!output && !check)
        return tm_cli_usage_error(target_usage, "%s", "target: missing -o RESULT.json");
    tm_error err = {0};
    /* The output is checked before the search, which may take hours. */
    if (!check && tm_output_check_path(output, force, &err))
        return tm_cli_fail(&err);
    tm_target *t = NULL;
    if (tm_target_open(argv[optind], base, &t, &err))
        return tm_cli_fail(&err);
    if (check) {
        printf("%s: %d questions, valid at both bounds\n", argv[optind], tm_target_n_questions(t));
        tm_target_close(t);
        return 0;
    }
    int rc = 1, n = tm_target_n_questions(t);
    int run[MAX_PICKED];
    for (int i = 0; i < n_picked; i++)
        if ((run[i] = tm_target_find(t, picked[i])) < 0) {
            tm_error_set(&err, TM_ERR_INPUT, "--question %s: %s has no question of that name", picked[i], argv[optind]);
            goto fail;
        }
    if (n_picked == 0) {
        if (n > MAX_PICKED) {
            tm_error_set(&err, TM_ERR_INPUT, "%s: at most %d questions", argv[optind], MAX_PICKED);
            goto fail;
        }
        for (int i = 0; i < n; i++)
            run[i] = i;
        n_picked = n;
    }
    target_progress tp = {.quiet = quiet};
    tm_cli_progress_init(&tp.reporter);
    tm_target_options to = {.threads = (int)threads, .progress = {progress, &tp}};
    tm_target_answer ans[MAX_PICKED];
    double t0 = tm_clock_seconds();
    for (int i = 0; i < n_picked; i++) {
        if (!quiet)
            printf("question %s\n", tm_target_question_name(t, run[i]));
        if (tm_target_solve(t, run[i], &to, &ans[i], &err) || tm_target_write(t, output, &err)) {
            tm_cli_progress_clear(&tp.reporter);
            goto fail;
        }
    }
    tm_cli_progress_clear(&tp.reporter);
    printf("\n%-24s %-12s %-25s %-17s %5s  %s\n", "question", "lever", "95% interval", "ratio (s.e.)", "evals",
           "answer");
    for (int i = 0; i < n_picked; i++) {
        char interval[64] = "-";
        if (isfinite(ans[i].lever_low))
            snprintf(interval, sizeof interval, "[%.5g, %.5g]", ans[i].lever_low, ans[i].lever_high);
        char ratio[40];
        snprintf(ratio, sizeof ratio, "%.4f (%.4f)", ans[i].ratio, ans[i].ratio_se);
        printf("%-24s %-12.5g %-25s %-17s %5d  %s\n", tm_target_question_name(t, run[i]), ans[i].lever, interval, ratio,
               ans[i].evaluations, status_text(ans[i].status));
    }
    char took[32];
    tm_cli_human_seconds(tm_clock_seconds() - t0, took, sizeof took);
    printf("\nwrote %s in %s\n", output, took);
    rc = 0;
    goto done;
fail:
    rc = tm_cli_fail(&err);
done:
    tm_target_close(t);
    return rc;
}
