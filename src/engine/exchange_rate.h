/* exchange_rate: the real exchange rate of a small open economy
 * (docs/model.md section 11). The rate e (home currency per unit of
 * foreign currency; a rise is a depreciation) multiplies every foreign
 * demand shifter by e^sigma, and within a period it solves
 *     ln e = -eta_e ln(X(e) / Xbar),   X(e) = sum_s (e / e_c)^(k_s) X_s,
 * the economy's export value at the rate e given the choices made at e_c,
 * k_s = sigma theta_s. Owns no state: the rate lives in the environment. */
#ifndef TM_EXCHANGE_RATE_H
#define TM_EXCHANGE_RATE_H

#include "params/params.h"

/* Whether the channel is on (exchange_rate.elasticity > 0). */
int tm_fx_on(const tm_params *params);

/* The multiplier e^sigma of every foreign demand shifter at log rate
 * log_rate (1 at e = 1). */
double tm_fx_demand_factor(double sigma, double log_rate);

/* The within-period fixed point: given the export value X_s of each of n
 * sectors computed at the log rate log_choice, and k_s = d ln X_s / d ln e
 * (sigma theta_s), the log rate l with l + eta ln(X(l) / reference) = 0,
 * to |residual| <= TM_FX_TOLERANCE (then |l - l*| <= TM_FX_TOLERANCE too,
 * since the left side rises with slope >= 1). Returns -1 when the
 * economy exports nothing or the reference is not positive (the rate is
 * then undefined). */
#define TM_FX_TOLERANCE 1e-13
int tm_fx_solve(double eta, double log_choice, int n, const double *exponent, const double *exports, double reference,
                double *log_rate);

#endif
