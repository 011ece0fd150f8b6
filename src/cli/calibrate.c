/* The `calibrate` command: options, progress lines and the fit table; the
 * fitting itself is src/experiments/calibrate.c. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"
#include "base/numfmt.h"
#include "base/stats.h"
#include "cli/cli.h"
#include "experiments/calibrate.h"
#include "io/output.h"

static const char *const calibrate_usage =
    "usage: tradeabm calibrate CALIBRATION.yaml -o FITTED.yaml [options]\n"
    "\n"
    "Fit parameters by simulated method of moments: minimise\n"
    "sum_k weight_k ((model_k - target_k) / tolerance_k)^2 over the parameters\n"
    "listed in CALIBRATION.yaml (paths with bounds), with the same seed in every\n"
    "evaluation, by NLopt's Nelder-Mead or BOBYQA within the bounds (or, with\n"
    "optimizer.method: proportional, by scaling each parameter towards its own\n"
    "moment). FITTED.yaml extends the base file, sets the fitted values and\n"
    "records how it was fitted.\n"
    "\n"
    "  -o, --output FILE        fitted parameter file\n"
    "      --evaluate           only print the fit table at the start values\n"
    "      --held-out           with --evaluate: at the file's held_out_seeds (mean, min and max over them)\n"
    "      --max-evaluations N  override optimizer.max_evaluations (nelder-mead, bobyqa)\n"
    "      --max-iterations N   override optimizer.max_iterations (proportional rounds)\n"
    "      --threads N          OpenMP threads per evaluation (results do not depend on it)\n"
    "      --force              replace FILE if it exists\n"
    "      --moments            list the named outcomes a moment may be, and exit\n"
    "  -q, --quiet              no progress lines\n"
    "  -h, --help               this help\n";

typedef struct {
    const tm_calibration *cal;
    tm_cli_progress reporter;
} fit_progress;

/* The fit's record on stdout, one line per improvement (optimisers) or per
 * round (proportional), and the progress line on stderr. */
static void progress(void *user, const tm_progress_report *r)
{
    fit_progress *fp = user;
    const tm_calibration *c = fp->cal;
    const tm_calibration_step *step = r->detail;
    tm_cli_progress_clear(&fp->reporter);
    if (step->round >= 0)
        printf("round %3d  objective %-12.6g  worst relative gap %.3g\n", step->round, step->objective,
               step->worst_gap);
    else {
        printf("evals %5lld  objective %-12.6g", (long long)r->done, step->objective);
        for (int i = 0; i < step->n; i++)
            printf("  %s=%.5g", tm_calibration_param_name(c, i), step->x[i]);
        printf("\n");
    }
    fflush(stdout);
    char what[96];
    snprintf(what, sizeof what, "evaluations, objective %.6g", step->objective);
    tm_cli_progress_update(&fp->reporter, r->done, r->total, what);
}

int tm_cli_calibrate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'},
        {"evaluate", no_argument, 0, 'e'},
        {"max-iterations", required_argument, 0, 'm'},
        {"max-evaluations", required_argument, 0, 'E'},
        {"threads", required_argument, 0, 't'},
        {"force", no_argument, 0, 'f'},
        {"moments", no_argument, 0, 'M'},
        {"quiet", no_argument, 0, 'q'},
        {"held-out", no_argument, 0, 'H'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *output = NULL;
    int evaluate = 0, force = 0, quiet = 0, held_out = 0, c;
    long max_iter = 0, max_eval = 0, threads = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            output = optarg;
            break;
        case 'e':
            evaluate = 1;
            break;
        case 'H':
            held_out = 1;
            break;
        case 'm':
            if (tm_cli_parse_count(optarg, 1, 10000000, &max_iter))
                return tm_cli_usage_error(calibrate_usage,
                                          "--max-iterations %s: expected a whole number from 1 to "
                                          "10000000",
                                          optarg);
            break;
        case 'E':
            if (tm_cli_parse_count(optarg, 1, 10000000, &max_eval))
                return tm_cli_usage_error(calibrate_usage,
                                          "--max-evaluations %s: expected a whole number from 1 to "
                                          "10000000",
                                          optarg);
            break;
        case 't':
            if (tm_cli_parse_count(optarg, 1, 4096, &threads))
                return tm_cli_usage_error(calibrate_usage, "--threads %s: expected a whole number from 1 to 4096",
                                          optarg);
            break;
        case 'f':
            force = 1;
            break;
        case 'M':
            tm_stats_outcome_table(stdout);
            return 0;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            fputs(calibrate_usage, stdout);
            return 0;
        default:
            fprintf(stderr, "\n%s", calibrate_usage);
            return 2;
        }
    }
    if (optind != argc - 1)
        return tm_cli_usage_error(calibrate_usage, "%s", "calibrate: expected one calibration file");
    if (!output && !evaluate)
        return tm_cli_usage_error(calibrate_usage, "%s", "calibrate: missing -o FITTED.yaml (or --evaluate)");
    if (held_out && !evaluate)
        return tm_cli_usage_error(calibrate_usage, "%s", "calibrate: --held-out goes with --evaluate");
    tm_error err = {0};
    /* The output is checked before the fit, which may take hours. */
    if (output && !evaluate && tm_output_check_path(output, force, &err))
        return tm_cli_fail(&err);
    tm_calibration *cal = NULL;
    double *x = NULL;
    if (tm_calibration_open(argv[optind], &cal, &err))
        return tm_cli_fail(&err);
    const char *method = tm_calibration_method(cal);
    int proportional = strcmp(method, "proportional") == 0;
    if ((max_iter && !proportional) || (max_eval && proportional)) {
        tm_calibration_close(cal);
        return tm_cli_usage_error(calibrate_usage, "%s: does not apply to this calibration's method",
                                  max_iter ? "--max-iterations" : "--max-evaluations");
    }
    int n = tm_calibration_n_params(cal), rc = 1;
    tm_calibration_options co = {.threads = (int)threads,
                                 .max_iterations = (int)max_iter,
                                 .max_evaluations = (int)max_eval,
                                 .progress = {quiet ? NULL : progress, NULL}};
    fit_progress fp = {.cal = cal};
    tm_cli_progress_init(&fp.reporter);
    co.progress.user = &fp;
    tm_calibration_result res = {0};
    if (!(x = malloc((size_t)n * sizeof *x))) {
        tm_error_set(&err, TM_ERR_RUNTIME, "out of memory");
        goto fail;
    }
    tm_calibration_start(cal, x);
    if (held_out) {
        if (tm_calibration_n_seeds(cal, 1) == 0) {
            tm_error_set(&err, TM_ERR_INPUT, "%s: --held-out: the file lists no held_out_seeds", argv[optind]);
            goto fail;
        }
        tm_calibration_use_held_out(cal, 1);
    }
    if (evaluate) {
        double f;
        if (tm_calibration_evaluate(cal, &co, x, &f, &err))
            goto fail;
        printf("objective at the start values%s: %.6g\n", held_out ? " (held-out seeds)" : "", f);
        tm_calibration_format_fit(cal, stdout, "");
        rc = 0;
        goto done;
    }
    if (!quiet) {
        int moments = tm_calibration_n_moments(cal);
        printf("calibrating %d parameter%s to %d moment%s of %s (%s, common random numbers)\n", n, tm_numfmt_plural(n),
               moments, tm_numfmt_plural(moments), tm_calibration_base_path(cal),
               proportional ? "proportional updates" : method);
        fflush(stdout);
    }
    int failed = tm_calibration_fit(cal, &co, x, &res, &err);
    tm_cli_progress_clear(&fp.reporter);
    if (failed)
        goto fail;
    if (proportional)
        printf("\nobjective %.6g after %d rounds (%d evaluations)%s\n", res.objective, res.rounds, res.evaluations,
               res.converged ? ", converged" : ", stopped at the budget");
    else
        printf("\nobjective %.6g after %d evaluations%s\n", res.objective, res.evaluations,
               res.converged ? ", converged" : ", stopped at the budget");
    for (int i = 0; i < n; i++)
        printf("  %-40s %.6g\n", tm_calibration_param_name(cal, i), x[i]);
    printf("\n");
    tm_calibration_format_fit(cal, stdout, "");
    if (tm_calibration_write_fitted(cal, output, x, &res, &err))
        goto fail;
    printf("\nwrote %s\n", output);
    rc = 0;
    goto done;
fail:
    rc = tm_cli_fail(&err);
done:
    free(x);
    tm_calibration_close(cal);
    return rc;
}
