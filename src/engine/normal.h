/* normal: the standard normal distribution functions that results depend
 * on (Tauchen grids, demand-type multipliers). Kept as our own code, not
 * GSL's gsl_cdf_ugaussian_P/_Q/_Pinv, because switching would change the
 * digests of existing results; measured on this build (GSL 2.7.1):
 *   - on the 242,406 cell edges of 201-point Tauchen grids (width 6.397 s.d.,
 *     three persistence/volatility pairs) the CDF here and GSL's differ in
 *     the last bits at 47.5% of the points; against a long-double reference
 *     the largest relative error is 1.7e-13 here (the rounding of x/sqrt(2)
 *     grows with x^2 in the tails) and 6.8e-16 for GSL;
 *   - Phi(-1.6936164170406143), half the baseline's low demand-type
 *     multiplier, is 0.045169098186912719 here, 0.045169098186912705 GSL;
 *   - 25 of the 28 quantiles j/k (k = 2..8) differ in the last bits (the
 *     median is -7.0e-17 here, 0 with GSL).
 * With GSL's three functions in their place 13 of the 14 reference runs
 * change digest (the baseline, its seven scenarios, the three replications
 * and exact aggregation; only a small run with neither Tauchen grids nor
 * demand types keeps it). tests/unit/test_grid.c keeps these functions
 * within their rounding error bound of GSL's. */
#ifndef TM_NORMAL_H
#define TM_NORMAL_H

/* P(X <= x) and P(X > x) for standard normal X, each from erfc so that
 * neither loses precision far out in its own tail. */
double tm_normal_cdf(double x);
double tm_normal_sf(double x);

/* The x with tm_normal_cdf(x) = q, 0 < q < 1, by bisection on [-40, 40]
 * (200 halvings: to the last bit). */
double tm_normal_quantile(double q);

#endif
