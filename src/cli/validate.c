/* The `validate` command: options, progress lines, the verdict table on
 * stdout and the validation page (Markdown); the comparisons and verdicts
 * are src/experiments/validate.c. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/tmpfile.h"
#include "cli/cli.h"
#include "experiments/validate.h"
#include "tm_build_info.h"

static const char *const validate_usage =
    "usage: tradeabm validate VALIDATION.yaml [options]\n"
    "\n"
    "Out-of-sample validation: run each comparison of the file (scenario against\n"
    "base, common random numbers, replicated), take each fact's outcome over its\n"
    "window, set it beside the data and grade it: within data tolerance, right\n"
    "sign, wrong sign (docs/validation.md). Writes the validation page and prints\n"
    "the verdicts; a verdict worse than the one recorded in the file is flagged.\n"
    "A file with `headlines` also gets, for each comparison, those outcomes over\n"
    "the comparison's own window (docs/scenarios.md).\n"
    "\n"
    "  -o, --output FILE.md   the page to write (default: validation.md)\n"
    "      --comparison NAME  run only this comparison and its facts (repeatable)\n"
    "      --replicates N     replicates of each comparison (default: the file's;\n"
    "                         2 to 99)\n"
    "      --work DIR         keep the comparison files and runs in DIR (an existing\n"
    "                         folder; default: a temporary folder, removed after)\n"
    "      --threads N        OpenMP threads per run\n"
    "  -q, --quiet            print nothing but errors\n"
    "  -h, --help             this help\n";

static void progress(void *user, const tm_progress_report *r)
{
    char what[256];
    snprintf(what, sizeof what, "runs; now %s, %s", r->label, r->stage);
    tm_cli_progress_update(user, r->done - 1, r->total, what);
}

/* Effects of fractions and of money are both read in percentage points
 * when two of them are subtracted. */
static const char *gap_units(const char *units)
{
    return strcmp(units, "percent") == 0 || strcmp(units, "percentage points") == 0 ? "pp" : units;
}

static const char *short_units(const char *units)
{
    if (strcmp(units, "percent") == 0)
        return "%";
    if (strcmp(units, "percentage points") == 0)
        return " pp";
    return units;
}

/* Units after a column heading: "%", "pp", "firms". */
static const char *heading_units(const char *units)
{
    return strcmp(units, "percent") == 0 ? "%" : gap_units(units);
}

/* "within data tolerance", "right sign, too small by 4.1 pp", ... */
static void verdict_text(const tm_validation_fact *f, char *buf, size_t size)
{
    double m = f->model.mean, d = f->data;
    switch (f->verdict) {
    case TM_VERDICT_WITHIN:
        snprintf(buf, size, "within data tolerance");
        break;
    case TM_VERDICT_RIGHT_SIGN:
        snprintf(buf, size, "right sign, too %s by %.1f %s", fabs(m) < fabs(d) ? "small" : "large",
                 fabs(fabs(m) - fabs(d)), gap_units(f->model.units));
        break;
    case TM_VERDICT_WRONG_SIGN:
        snprintf(buf, size, "%s, off by %.1f %s", m == 0 ? "no effect" : "wrong sign", fabs(m - d),
                 gap_units(f->model.units));
        break;
    default:
        snprintf(buf, size, "undefined (no base value)");
    }
}

static void model_text(const tm_validation_fact *f, char *buf, size_t size)
{
    const char *u = short_units(f->model.units);
    snprintf(buf, size, "%+.1f%s [%+.1f, %+.1f]", f->model.mean, u, f->model.ci_low, f->model.ci_high);
}

/* The verdict table. */
static void write_facts(FILE *out, const tm_validation *v)
{
    fprintf(out, "| fact | data | model, mean [95%% CI] | tolerance | verdict | recorded |\n");
    fprintf(out, "|---|---|---|---|---|---|\n");
    for (int i = 0; i < v->n_facts; i++) {
        const tm_validation_fact *f = &v->facts[i];
        char model[128], verdict[128];
        model_text(f, model, sizeof model);
        verdict_text(f, verdict, sizeof verdict);
        fprintf(out, "| %s | %+.1f%s | %s | %.1f %s | %s%s | %s |\n", f->name, f->data, short_units(f->model.units),
                model, f->tolerance, gap_units(f->model.units), verdict, f->verdict > f->recorded ? " (WORSE)" : "",
                tm_verdict_name(f->recorded));
    }
}

/* Each fact with its source and reason, and how a verdict is given. */
static void write_fact_details(FILE *out, const tm_validation *v)
{
    fprintf(out, "\n## Each fact\n\n");
    for (int i = 0; i < v->n_facts; i++) {
        const tm_validation_fact *f = &v->facts[i];
        char model[128], verdict[128];
        model_text(f, model, sizeof model);
        verdict_text(f, verdict, sizeof verdict);
        fprintf(out,
                "**%s.** Data %+.1f%s (%s). Model: `%s`, %s to %s, comparison `%s`: %s over %d replicates. "
                "Verdict: %s (recorded: %s). %s\n\n",
                f->name, f->data, short_units(f->model.units), f->source, f->outcome, f->first, f->last,
                v->comparisons[f->comparison].name, model, f->model.replicates, verdict, tm_verdict_name(f->recorded),
                f->reason);
    }
    fprintf(out,
            "## How a verdict is given\n\n"
            "With m the model's mean effect, d the data and tol the fact's tolerance (the same units: "
            "percentage points for shares, percent for values): *within data tolerance* if |m - d| <= tol; "
            "else *right sign* (too small or too large by ||m| - |d||) if m and d have the same sign; else "
            "*wrong sign* (or *no effect*, m = 0). The order within < right_sign < wrong_sign is the one "
            "tests/cli/test_validation.py holds each fact to: a verdict worse than the one recorded in the "
            "file fails it (and is marked WORSE above). A recorded verdict is a statement about the model, "
            "changed by hand in the file when the model changes.\n");
}

/* "-2.9 [-3.2, -2.6]", or "undefined" where no replicate defines it. */
static void effect_text(const tm_compare_effect *e, char *buf, size_t size)
{
    if (e->replicates == 0 || isnan(e->mean))
        snprintf(buf, size, "undefined");
    else
        snprintf(buf, size, "%+.1f [%+.1f, %+.1f]", e->mean, e->ci_low, e->ci_high);
}

/* One row per comparison, one column per headline outcome over the
 * comparison's window. */
static void write_headlines(FILE *out, const tm_validation *v)
{
    fprintf(out, "| scenario | window |");
    for (int h = 0; h < v->n_headlines; h++)
        fprintf(out, " %s, %s |", v->headlines[h].label,
                v->n_comparisons ? heading_units(v->comparisons[0].headline[h].units) : "");
    fprintf(out, "\n|---|---|");
    for (int h = 0; h < v->n_headlines; h++)
        fprintf(out, "---|");
    fprintf(out, "\n");
    for (int c = 0; c < v->n_comparisons; c++) {
        const tm_validation_comparison *cmp = &v->comparisons[c];
        fprintf(out, "| %s | %s-%s |", cmp->name, cmp->first, cmp->last);
        for (int h = 0; h < v->n_headlines; h++) {
            char cell[96];
            effect_text(&cmp->headline[h], cell, sizeof cell);
            fprintf(out, " %s |", cell);
        }
        fprintf(out, "\n");
    }
    fprintf(out,
            "\nEach cell is the effect, scenario minus base, over the window: mean across the replicates "
            "[95%% t interval]. ");
    for (int h = 0; h < v->n_headlines; h++)
        fprintf(out, "%s: `%s` (%s)%s", v->headlines[h].label, v->headlines[h].outcome,
                v->n_comparisons ? v->comparisons[0].headline[h].units : "", h + 1 < v->n_headlines ? "; " : ".\n");
    fprintf(out, "Outcome names and their units: docs/statistics.md.\n");
}

static void write_page(FILE *out, const tm_validation *v, const char *file, const char *page, int R, double seconds)
{
    fprintf(out, "# %s%s\n\n", v->n_facts ? "Validation: " : "", v->title);
    fprintf(out,
            "This page is written by `tradeabm validate %s -o %s` (tradeabm %s, %s); do not edit it by hand: "
            "%s are in `%s`. "
            "Each comparison ran %d replicates (common random numbers, the base file's seed, then seeds "
            "derived from it); the model value is the mean effect across them and its 95%% t interval. "
            "The whole %s took %.0f s of wall time.\n\n",
            file, page, TM_VERSION, TM_GIT_COMMIT,
            v->n_facts ? "the facts, their sources and tolerances, the recorded verdicts and the reasons"
                       : "the comparisons, their windows and the outcomes",
            file, R, v->n_facts ? "validation" : "page", seconds);
    if (v->notes[0])
        fprintf(out, "%s\n\n", v->notes);
    if (v->n_headlines) {
        write_headlines(out, v);
        fprintf(out, "\n");
    }
    if (v->n_facts)
        write_facts(out, v);
    fprintf(out, "%s## The comparisons\n\n", v->n_facts ? "\n" : "");
    for (int c = 0; c < v->n_comparisons; c++) {
        const tm_validation_comparison *cmp = &v->comparisons[c];
        fprintf(out, "- `%s`: `%s` against `%s` (paths relative to the validation file)", cmp->name,
                cmp->scenario_written, cmp->base_written);
        for (int k = 0; k < cmp->n_sets; k++)
            fprintf(out, "%s`--set %s`", k ? ", " : ", with ", cmp->sets[k]);
        fprintf(out, ".%s%s\n", cmp->note[0] ? " " : "", cmp->note);
    }
    if (v->n_facts)
        write_fact_details(out, v);
}

/* Remove what the comparisons wrote into a temporary work folder (the
 * comparison layout of docs/output.md: NAME.h5 and NAME-runs/). */
static void remove_work(const char *dir, const tm_validation *v, int R)
{
    char path[4600];
    for (int c = 0; c < v->n_comparisons; c++) {
        for (int r = 1; r <= R; r++)
            for (int k = 0; k < 2; k++) {
                snprintf(path, sizeof path, "%s/%s-runs/%s-r%02d.h5", dir, v->comparisons[c].name,
                         k ? "scenario" : "base", r);
                unlink(path);
            }
        snprintf(path, sizeof path, "%s/%s-runs", dir, v->comparisons[c].name);
        rmdir(path);
        snprintf(path, sizeof path, "%s/%s.h5", dir, v->comparisons[c].name);
        unlink(path);
    }
    rmdir(dir);
}

/* The page, written under a temporary name and renamed. */
static int save_page(const char *path, const tm_validation *v, const char *file, int R, double seconds, tm_error *err)
{
    char stem[4200], tmp[4400];
    tm_tmpfile_stem(path, stem, sizeof stem - 32);
    int fd = tm_tmpfile_create(stem, tmp, sizeof tmp, err);
    if (fd < 0)
        return -1;
    FILE *out = fdopen(fd, "w");
    if (!out) {
        close(fd);
        unlink(tmp);
        return tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot write (%s)", path, strerror(errno));
    }
    write_page(out, v, file, path, R, seconds);
    int bad = ferror(out);
    bad = fclose(out) != 0 || bad;
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot write the validation page", path);
    }
    return 0;
}

/* `only` has room for every argument (the --comparison names). */
static int validate(int argc, char **argv, const char **only)
{
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'},
        {"comparison", required_argument, 0, 'c'},
        {"replicates", required_argument, 0, 'r'},
        {"work", required_argument, 0, 'w'},
        {"threads", required_argument, 0, 't'},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *output = "validation.md", *work = NULL;
    int replicates = 0, threads = 0, quiet = 0, c, n_only = 0;
    long n;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            output = optarg;
            break;
        case 'c':
            only[n_only++] = optarg;
            break;
        case 'r':
            if (tm_cli_parse_count(optarg, 2, 99, &n))
                return tm_cli_usage_error(validate_usage, "--replicates %s: expected a whole number from 2 to 99",
                                          optarg);
            replicates = (int)n;
            break;
        case 't':
            if (tm_cli_parse_count(optarg, 1, 4096, &n))
                return tm_cli_usage_error(validate_usage, "--threads %s: expected a whole number from 1 to 4096",
                                          optarg);
            threads = (int)n;
            break;
        case 'w':
            work = optarg;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            fputs(validate_usage, stdout);
            return 0;
        default:
            fprintf(stderr, "\n%s", validate_usage);
            return 2;
        }
    }
    if (argc - optind != 1)
        return tm_cli_usage_error(validate_usage, "%s", "validate: expected one VALIDATION.yaml");
    const char *file = argv[optind];
    tm_error err = {0};
    tm_validation v;
    if (tm_validation_load(file, &v, &err))
        return tm_cli_fail(&err);
    if (n_only && tm_validation_keep(&v, only, n_only, &err)) {
        tm_validation_free(&v);
        return tm_cli_fail(&err);
    }
    struct stat st;
    if (work && (stat(work, &st) != 0 || !S_ISDIR(st.st_mode))) {
        tm_validation_free(&v);
        tm_error_set(&err, TM_ERR_INPUT, "--work %s: expected an existing folder", work);
        return tm_cli_fail(&err);
    }
    char tmp_dir[4096] = "";
    if (!work) {
        const char *t = getenv("TMPDIR");
        snprintf(tmp_dir, sizeof tmp_dir, "%s/tradeabm-validate-XXXXXX", t && t[0] ? t : "/tmp");
        if (!mkdtemp(tmp_dir)) {
            tm_validation_free(&v);
            tm_error_set(&err, TM_ERR_RUNTIME, "%s: cannot create a temporary folder (%s)", tmp_dir, strerror(errno));
            return tm_cli_fail(&err);
        }
        work = tmp_dir;
    }
    int R = replicates ? replicates : v.replicates;
    tm_cli_progress reporter;
    tm_cli_progress_init(&reporter);
    reporter.every = 1;
    tm_validation_options vo = {
        .replicates = R, .threads = threads, .work_dir = work, .progress = {quiet ? NULL : progress, &reporter}};
    double t0 = tm_clock_seconds();
    int failed = tm_validation_run(&v, &vo, &err);
    double seconds = tm_clock_seconds() - t0;
    tm_cli_progress_clear(&reporter);
    if (tmp_dir[0])
        remove_work(tmp_dir, &v, R);
    if (!failed)
        failed = save_page(output, &v, file, R, seconds, &err);
    if (failed) {
        tm_validation_free(&v);
        return tm_cli_fail(&err);
    }
    if (!quiet && v.n_headlines) {
        printf("%-32s %-26s %26s\n", "comparison", "headline", "effect, mean [95% CI]");
        for (int k = 0; k < v.n_comparisons; k++)
            for (int h = 0; h < v.n_headlines; h++) {
                char cell[96], what[192];
                effect_text(&v.comparisons[k].headline[h], cell, sizeof cell);
                snprintf(what, sizeof what, "%s, %s", v.headlines[h].label,
                         heading_units(v.comparisons[k].headline[h].units));
                printf("%-32.32s %-26.26s %26s\n", h ? "" : v.comparisons[k].name, what, cell);
            }
    }
    if (!quiet && !v.n_facts)
        printf("%d comparisons, %d replicates, %.0f s; wrote %s\n", v.n_comparisons, R, seconds, output);
    if (!quiet && v.n_facts) {
        int worse = 0;
        printf("%-44s %9s %28s  %s\n", "fact", "data", "model, mean [95% CI]", "verdict (recorded)");
        for (int i = 0; i < v.n_facts; i++) {
            const tm_validation_fact *f = &v.facts[i];
            char model[128], verdict[128], data[32];
            model_text(f, model, sizeof model);
            verdict_text(f, verdict, sizeof verdict);
            snprintf(data, sizeof data, "%+.1f%s", f->data, short_units(f->model.units));
            printf("%-44.44s %9s %28s  %s (%s)%s\n", f->name, data, model, verdict, tm_verdict_name(f->recorded),
                   f->verdict > f->recorded ? " WORSE" : "");
            worse += f->verdict > f->recorded;
        }
        printf("%d of %d verdicts worse than recorded; %d replicates, %.0f s; wrote %s\n", worse, v.n_facts, R, seconds,
               output);
    }
    tm_validation_free(&v);
    return 0;
}

int tm_cli_validate(int argc, char **argv)
{
    const char **only = calloc((size_t)argc + 1, sizeof *only);
    if (!only) {
        fprintf(stderr, "tradeabm validate: out of memory\n");
        return 1;
    }
    int status = validate(argc, argv, only);
    free(only);
    return status;
}
