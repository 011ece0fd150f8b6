#include "engine/exchange_rate.h"

#include <math.h>

int tm_fx_on(const tm_params *p)
{
    return p->exchange_elasticity > 0.0;
}

double tm_fx_demand_factor(double sigma, double log_rate)
{
    return exp(sigma * log_rate);
}

/* Newton's method on f(l) = l + eta ln(sum_s X_s exp(k_s (l - l_c)) / Xbar).
 * f is increasing (f' = 1 + eta times the export-weighted mean of k_s, at
 * least 1) and convex (a log-sum-exp), so after the first step the
 * iterates approach the root from above without overshooting; with equal
 * k_s f is linear and one step lands on the root. The iteration cap is
 * far above what a convex function with f' >= 1 needs from a start within
 * a few log points of the root; a step at the rounding level of l also
 * ends it (|f| is then below TM_FX_TOLERANCE up to rounding). */
int tm_fx_solve(double eta, double log_choice, int n, const double *exponent, const double *exports, double reference,
                double *log_rate)
{
    double total = 0.0;
    for (int s = 0; s < n; s++)
        total += exports[s];
    if (!(total > 0.0) || !(reference > 0.0))
        return -1;
    double l = log_choice;
    for (int iter = 0; iter < 200; iter++) {
        double value = 0.0, slope = 0.0;
        for (int s = 0; s < n; s++) {
            double x = exports[s] * exp(exponent[s] * (l - log_choice));
            value += x;
            slope += exponent[s] * x;
        }
        double f = l + eta * log(value / reference);
        if (fabs(f) <= TM_FX_TOLERANCE) {
            *log_rate = l;
            return 0;
        }
        double step = f / (1.0 + eta * slope / value);
        l -= step;
        if (fabs(step) <= 1e-15 * (1.0 + fabs(l))) { /* rounding level: f cannot get smaller */
            *log_rate = l;
            return 0;
        }
    }
    return -1;
}
