#include "experiments/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Change of variables between the box and the unconstrained search space. */
typedef struct {
    int n;
    const double *lo, *hi; /* may be NULL */
} transform;

static double lower_of(const transform *t, int i)
{
    return t->lo ? t->lo[i] : -INFINITY;
}

static double upper_of(const transform *t, int i)
{
    return t->hi ? t->hi[i] : INFINITY;
}

static double to_natural(const transform *t, int i, double u)
{
    double lo = lower_of(t, i), hi = upper_of(t, i);
    if (isfinite(lo) && isfinite(hi))
        return lo + (hi - lo) / (1.0 + exp(-u));
    if (isfinite(lo))
        return lo + exp(u);
    if (isfinite(hi))
        return hi - exp(u);
    return u;
}

static double to_search(const transform *t, int i, double x)
{
    double lo = lower_of(t, i), hi = upper_of(t, i);
    if (isfinite(lo) && isfinite(hi)) {
        double q = (x - lo) / (hi - lo);
        return log(q / (1.0 - q));
    }
    if (isfinite(lo))
        return log(x - lo);
    if (isfinite(hi))
        return log(hi - x);
    return x;
}

typedef struct {
    int n;
    transform tr;
    tm_optim_fn fn;
    void *ctx;
    double *x; /* scratch natural point */
    int evaluations, max_evaluations;
    tm_error *err;
} problem;

/* f at search point u; nonzero return stops the search. */
static int evaluate(problem *pb, const double *u, double *f)
{
    for (int i = 0; i < pb->n; i++)
        pb->x[i] = to_natural(&pb->tr, i, u[i]);
    double v = INFINITY;
    if (pb->fn(pb->x, &v, pb->ctx, pb->err))
        return -1;
    pb->evaluations++;
    *f = isfinite(v) ? v : INFINITY;
    return 0;
}

/* Vertices sorted by value, best first (insertion sort: n is small). */
static void order(int n, double *simplex, double *fv, int *idx)
{
    for (int i = 0; i <= n; i++)
        idx[i] = i;
    for (int i = 1; i <= n; i++) {
        int k = idx[i];
        int j = i - 1;
        while (j >= 0 && fv[idx[j]] > fv[k]) {
            idx[j + 1] = idx[j];
            j--;
        }
        idx[j + 1] = k;
    }
    (void)simplex;
}

/* One Nelder-Mead search from u (in/out). Returns 0, or -1 when the
 * objective failed. *converged is set when the tolerances were met. */
static int nelder_mead(problem *pb, double *u, double *fu, const double *step, int max_iter, double ftol,
                       double xtol, tm_optim_progress progress, int *iterations, int *converged)
{
    const int n = pb->n;
    /* Coefficients adapted to the dimension (Gao & Han 2012); n = 2 gives
     * the classic 1, 2, 0.5, 0.5. */
    const double alpha = 1.0, beta = 1.0 + 2.0 / n, gamma = 0.75 - 0.5 / n, delta = 1.0 - 1.0 / n;
    const double beta_eff = n >= 2 ? beta : 2.0, gamma_eff = n >= 2 ? gamma : 0.5, delta_eff = n >= 2 ? delta : 0.5;
    double *simplex = malloc((size_t)(n + 1) * (size_t)n * sizeof(double));
    double *fv = malloc((size_t)(n + 1) * sizeof(double));
    int *idx = malloc((size_t)(n + 1) * sizeof(int));
    double *centroid = malloc((size_t)n * sizeof(double));
    double *xr = malloc((size_t)n * sizeof(double));
    double *xe = malloc((size_t)n * sizeof(double));
    double *xc = malloc((size_t)n * sizeof(double));
    double *best_x = malloc((size_t)n * sizeof(double));
    int rc = -1;
    *converged = 0;
    if (!simplex || !fv || !idx || !centroid || !xr || !xe || !xc || !best_x) {
        tm_error_set(pb->err, TM_ERR_RUNTIME, "out of memory");
        goto done;
    }
#define V(k) (simplex + (size_t)(k) * (size_t)n)
    memcpy(V(0), u, (size_t)n * sizeof(double));
    if (evaluate(pb, V(0), &fv[0]))
        goto done;
    for (int k = 1; k <= n; k++) {
        memcpy(V(k), u, (size_t)n * sizeof(double));
        V(k)[k - 1] += step[k - 1];
        if (evaluate(pb, V(k), &fv[k]))
            goto done;
    }
    int it = 0;
    for (;;) {
        order(n, simplex, fv, idx);
        int b = idx[0], w = idx[n], sw = idx[n - 1];
        if (progress) {
            for (int i = 0; i < n; i++)
                best_x[i] = to_natural(&pb->tr, i, V(b)[i]);
            progress(*iterations + it, pb->evaluations, fv[b], best_x, n, pb->ctx);
        }
        /* Convergence: values and vertices both within tolerance of the best. */
        double fspread = 0, xspread = 0;
        for (int k = 1; k <= n; k++) {
            double df = fabs(fv[idx[k]] - fv[b]);
            if (!(df <= fspread))
                fspread = df;
            for (int i = 0; i < n; i++) {
                double dx = fabs(V(idx[k])[i] - V(b)[i]);
                if (dx > xspread)
                    xspread = dx;
            }
        }
        if (fspread <= ftol && xspread <= xtol) {
            *converged = 1;
            break;
        }
        if (it >= max_iter || (pb->max_evaluations > 0 && pb->evaluations >= pb->max_evaluations))
            break;
        it++;
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int k = 0; k < n; k++)
                s += V(idx[k])[i];
            centroid[i] = s / n;
        }
        for (int i = 0; i < n; i++)
            xr[i] = centroid[i] + alpha * (centroid[i] - V(w)[i]);
        double fr;
        if (evaluate(pb, xr, &fr))
            goto done;
        if (fr < fv[b]) {
            for (int i = 0; i < n; i++)
                xe[i] = centroid[i] + beta_eff * (xr[i] - centroid[i]);
            double fe;
            if (evaluate(pb, xe, &fe))
                goto done;
            if (fe < fr) {
                memcpy(V(w), xe, (size_t)n * sizeof(double));
                fv[w] = fe;
            } else {
                memcpy(V(w), xr, (size_t)n * sizeof(double));
                fv[w] = fr;
            }
            continue;
        }
        if (fr < fv[sw]) {
            memcpy(V(w), xr, (size_t)n * sizeof(double));
            fv[w] = fr;
            continue;
        }
        /* Contraction: outside if the reflection improved on the worst,
         * inside otherwise. */
        int outside = fr < fv[w];
        for (int i = 0; i < n; i++)
            xc[i] = outside ? centroid[i] + gamma_eff * (xr[i] - centroid[i])
                            : centroid[i] - gamma_eff * (centroid[i] - V(w)[i]);
        double fc;
        if (evaluate(pb, xc, &fc))
            goto done;
        if (outside ? fc <= fr : fc < fv[w]) {
            memcpy(V(w), xc, (size_t)n * sizeof(double));
            fv[w] = fc;
            continue;
        }
        /* Shrink towards the best vertex. */
        for (int k = 1; k <= n; k++) {
            int v = idx[k];
            for (int i = 0; i < n; i++)
                V(v)[i] = V(b)[i] + delta_eff * (V(v)[i] - V(b)[i]);
            if (evaluate(pb, V(v), &fv[v]))
                goto done;
        }
    }
    {
        int b = idx[0];
        memcpy(u, V(b), (size_t)n * sizeof(double));
        *fu = fv[b];
    }
    *iterations += it;
    rc = 0;
#undef V
done:
    free(simplex);
    free(fv);
    free(idx);
    free(centroid);
    free(xr);
    free(xe);
    free(xc);
    free(best_x);
    return rc;
}

int tm_optim_minimize(int n, double *x, const double *lower, const double *upper, tm_optim_fn fn, void *ctx,
                      const tm_optim_options *opts, tm_optim_result *result, tm_error *err)
{
    tm_optim_options o = {0};
    if (opts)
        o = *opts;
    if (o.max_iterations <= 0)
        o.max_iterations = 200 * n;
    if (!(o.f_tolerance > 0))
        o.f_tolerance = 1e-8;
    if (!(o.x_tolerance > 0))
        o.x_tolerance = 1e-6;
    if (!(o.initial_step > 0))
        o.initial_step = 0.1;
    memset(result, 0, sizeof *result);
    if (n < 1)
        return tm_error_set(err, TM_ERR_INPUT, "optimiser: nothing to fit (no parameters)");
    problem pb = {.n = n, .tr = {n, lower, upper}, .fn = fn, .ctx = ctx, .max_evaluations = o.max_evaluations,
                  .err = err};
    double *u = malloc((size_t)n * sizeof(double));
    double *step = malloc((size_t)n * sizeof(double));
    pb.x = malloc((size_t)n * sizeof(double));
    int rc = -1;
    if (!u || !step || !pb.x) {
        tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        double lo = lower_of(&pb.tr, i), hi = upper_of(&pb.tr, i);
        if (!isfinite(x[i]) || !(x[i] > lo) || !(x[i] < hi) || (lo >= hi)) {
            tm_error_set(err, TM_ERR_INPUT, "optimiser: start value %g of variable %d is not strictly inside (%g, %g)",
                         x[i], i + 1, lo, hi);
            goto done;
        }
        u[i] = to_search(&pb.tr, i, x[i]);
    }
    double fu = INFINITY;
    for (int start = 0; start <= o.restarts; start++) {
        /* The first simplex steps a fraction of each range in natural units,
         * towards the side with more room, converted to search units. */
        for (int i = 0; i < n; i++) {
            double lo = lower_of(&pb.tr, i), hi = upper_of(&pb.tr, i);
            double xi = to_natural(&pb.tr, i, u[i]);
            double h = isfinite(lo) && isfinite(hi) ? o.initial_step * (hi - lo)
                                                    : o.initial_step * (fabs(xi) > 1 ? fabs(xi) : 1.0);
            double target = (isfinite(hi) ? hi - xi : INFINITY) >= (isfinite(lo) ? xi - lo : INFINITY) ? xi + h : xi - h;
            if (isfinite(lo) && target <= lo)
                target = lo + 0.5 * (xi - lo);
            if (isfinite(hi) && target >= hi)
                target = hi - 0.5 * (hi - xi);
            double s = to_search(&pb.tr, i, target) - u[i];
            step[i] = s != 0 ? s : o.initial_step;
        }
        double before = fu;
        int converged = 0;
        if (nelder_mead(&pb, u, &fu, step, o.max_iterations, o.f_tolerance, o.x_tolerance, o.progress,
                        &result->iterations, &converged))
            goto done;
        result->converged = converged;
        if (!converged || (pb.max_evaluations > 0 && pb.evaluations >= pb.max_evaluations))
            break;
        /* A restart that gains nothing confirms the optimum. */
        if (start > 0 && !(fu < before - o.f_tolerance))
            break;
    }
    for (int i = 0; i < n; i++)
        x[i] = to_natural(&pb.tr, i, u[i]);
    result->value = fu;
    result->evaluations = pb.evaluations;
    rc = 0;
done:
    free(u);
    free(step);
    free(pb.x);
    return rc;
}
