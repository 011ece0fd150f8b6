#include "experiments/optim.h"

#include <math.h>
#include <nlopt.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int n;
    tm_optim_fn fn;
    void *ctx;
    tm_progress progress;
    nlopt_opt opt;
    int evaluations, max_evaluations;
    double best;
    double *best_x;
    int failed; /* the objective returned an error (in err) */
    tm_error *err;
} problem;

/* NLopt's objective: our function, the evaluation count, the best point
 * (NLopt returns its own best, but a forced stop must not lose it). */
static double evaluate(unsigned n, const double *x, double *grad, void *data)
{
    (void)grad; /* derivative-free methods pass NULL */
    problem *pb = data;
    double v = HUGE_VAL;
    if (pb->fn(x, &v, pb->ctx, pb->err)) {
        pb->failed = 1;
        nlopt_force_stop(pb->opt);
        return HUGE_VAL;
    }
    pb->evaluations++;
    if (!isfinite(v))
        v = HUGE_VAL;
    if (v < pb->best) {
        pb->best = v;
        memcpy(pb->best_x, x, n * sizeof *x);
        tm_optim_step step = {v, x, (int)n};
        tm_progress_report_to(&pb->progress, "optimiser", pb->evaluations, pb->max_evaluations, NULL, &step);
    }
    return v;
}

static double scale_of(const double *lower, const double *upper, const double *x, int i)
{
    double lo = lower ? lower[i] : -INFINITY, hi = upper ? upper[i] : INFINITY;
    if (isfinite(lo) && isfinite(hi))
        return hi - lo;
    return fabs(x[i]) > 1 ? fabs(x[i]) : 1.0;
}

int tm_optim_minimize(int n, double *x, const double *lower, const double *upper, tm_optim_fn fn, void *ctx,
                      const tm_optim_options *opts, tm_optim_result *result, tm_error *err)
{
    tm_optim_options o = {0};
    if (opts)
        o = *opts;
    if (o.max_evaluations <= 0)
        o.max_evaluations = 100 * (n + 1);
    if (!(o.f_tolerance > 0))
        o.f_tolerance = 1e-8;
    if (!(o.x_tolerance > 0))
        o.x_tolerance = 1e-6;
    if (!(o.initial_step > 0))
        o.initial_step = 0.1;
    memset(result, 0, sizeof *result);
    result->value = HUGE_VAL;
    if (n < 1)
        return tm_error_set(err, TM_ERR_INPUT, "optimiser: nothing to fit (no parameters)");
    for (int i = 0; i < n; i++) {
        double lo = lower ? lower[i] : -INFINITY, hi = upper ? upper[i] : INFINITY;
        if (!isfinite(x[i]) || x[i] < lo || x[i] > hi || !(lo < hi))
            return tm_error_set(err, TM_ERR_INPUT, "optimiser: start value %g of variable %d is not inside [%g, %g]",
                                x[i], i + 1, lo, hi);
        if (o.method == TM_OPTIM_BOBYQA && !(isfinite(lo) && isfinite(hi)))
            return tm_error_set(err, TM_ERR_INPUT, "optimiser: BOBYQA needs finite bounds (variable %d)", i + 1);
    }
    problem pb = {.n = n,
                  .fn = fn,
                  .ctx = ctx,
                  .progress = o.progress,
                  .max_evaluations = o.max_evaluations,
                  .best = HUGE_VAL,
                  .err = err};
    double *step = malloc((size_t)n * sizeof *step), *xtol = malloc((size_t)n * sizeof *xtol);
    pb.best_x = malloc((size_t)n * sizeof *pb.best_x);
    pb.opt = nlopt_create(o.method == TM_OPTIM_BOBYQA ? NLOPT_LN_BOBYQA : NLOPT_LN_NELDERMEAD, (unsigned)n);
    int rc = -1;
    if (!step || !xtol || !pb.best_x || !pb.opt) {
        tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        goto done;
    }
    memcpy(pb.best_x, x, (size_t)n * sizeof *x);
    if (lower)
        nlopt_set_lower_bounds(pb.opt, lower);
    if (upper)
        nlopt_set_upper_bounds(pb.opt, upper);
    nlopt_set_min_objective(pb.opt, evaluate, &pb);
    nlopt_set_ftol_abs(pb.opt, o.f_tolerance);
    for (int i = 0; i < n; i++)
        xtol[i] = o.x_tolerance * scale_of(lower, upper, x, i);
    nlopt_set_xtol_abs(pb.opt, xtol);
    for (int start = 0; start <= o.restarts; start++) {
        int left = o.max_evaluations - pb.evaluations;
        if (left <= 0)
            break;
        nlopt_set_maxeval(pb.opt, left);
        /* The first step is a fraction of each range (NLopt turns a step
         * that would leave the box the other way). BOBYQA moves a start
         * closer to a bound than its first step to that step's distance
         * from the bound, so the first evaluation would not be at the start:
         * its step is at most the distance to the nearer bound. */
        for (int i = 0; i < n; i++) {
            step[i] = o.initial_step * scale_of(lower, upper, x, i);
            double room = o.method == TM_OPTIM_BOBYQA ? fmin(x[i] - lower[i], upper[i] - x[i]) : 0;
            if (room > 0 && room < step[i])
                step[i] = room;
        }
        nlopt_set_initial_step(pb.opt, step);
        double before = pb.best, f = HUGE_VAL;
        nlopt_result res = nlopt_optimize(pb.opt, x, &f);
        if (pb.failed)
            goto done;
        if (res < 0 && res != NLOPT_ROUNDOFF_LIMITED) {
            tm_error_set(err, TM_ERR_RUNTIME, "optimiser: NLopt stopped with %s", nlopt_result_to_string(res));
            goto done;
        }
        memcpy(x, pb.best_x, (size_t)n * sizeof *x);
        result->converged = res != NLOPT_MAXEVAL_REACHED;
        if (!result->converged)
            break;
        /* A restart that gains nothing confirms the optimum. */
        if (start > 0 && !(pb.best < before - o.f_tolerance))
            break;
    }
    memcpy(x, pb.best_x, (size_t)n * sizeof *x);
    result->value = pb.best;
    rc = 0;
done:
    result->evaluations = pb.evaluations;
    if (pb.opt)
        nlopt_destroy(pb.opt);
    free(step);
    free(xtol);
    free(pb.best_x);
    return rc;
}
