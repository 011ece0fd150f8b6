/* economy: per-period profit and revenue tables of each sector, from CES
 * demand, iceberg and tariff costs and the capacity (power-cost) closed form.
 * See docs/model.md, section "Profits"; and the death probability of a firm.
 * Owns no state beyond its tables. */
#ifndef TM_ECONOMY_H
#define TM_ECONOMY_H

#include "engine/mstate.h"
#include "params/params.h"

/* Number of market sets for D destinations (bit d of a set = serves d). */
static inline int tm_n_sets(int n_dest)
{
    return 1 << n_dest;
}

/* The conditions a sector faces in one period, per destination. */
typedef struct {
    double tariff[TM_MAX_DEST]; /* in force */
    int closed[TM_MAX_DEST];    /* market closed by its regime */
    /* Partial closure (docs/model.md eq. 26a): the market is closed at the
     * top closed_top[d] points of the productivity grid only; 0: none. */
    int closed_top[TM_MAX_DEST];
    double demand[TM_MAX_DEST]; /* B after crowding */
    double sunk[TM_MAX_DEST];   /* F after spillovers */
} tm_conditions;

/* The closure regime `reg` imposes on sector s over a grid of n_z points
 * with stationary law pi (docs/model.md eqs. 26, 26a): *closed = 1 when every
 * firm is shut out, else *closed_top = the number of top grid points shut
 * out by closed_above_quantile q > 0 (tm_grid_top_count; 0 when none). */
void tm_econ_closure(const tm_regime *reg, int s, int n_z, const double *pi, int *closed, int *closed_top);

/* Probability that a firm of `sector` with log productivity z dies this
 * period (sectors.<s>.death_rule): the constant death_rate, or
 * clip(exp(-a x) + b, 0, 1) with x = z (productivity) or
 * x = exp((sigma - 1) z) (profitability). */
double tm_econ_death_probability(const tm_params *params, const tm_sector *sector, double z);

/* Effective demand and sunk cost given last period's share of sector firms
 * serving d (DESIGN: crowding eta, spillover kappa). */
double tm_econ_crowded_demand(double demand, double crowding, double share_serving);
double tm_econ_spillover_sunk(double sunk, double spillover, double share_serving);

/* Partial adjustment of demand to tariffs (docs/model.md eq. 2b): on when
 * demand.impact_elasticity or demand.long_run_elasticity is set. A stock
 * L(s,d) (log units of 1 + tariff) follows
 *     L' = (1 - lambda_c) L + lambda_c ln(1 + t),
 * and demand is multiplied by (1+t)^(sigma - e_0) exp(-(e_L - e_0) L), so
 * the weight of eq. 2 is B tau^(1-sigma) (1+t)^(-e_0) exp(-(e_L - e_0) L).
 * At the steady stock L = ln(1 + t) the multiplier is (1+t)^(sigma - e_L). */
int tm_econ_adjusts(const tm_params *params);
double tm_econ_stock_step(const tm_params *params, double stock, double tariff);
double tm_econ_adjusted_demand(const tm_params *params, double tariff, double stock);

/* Market weight a_d = B tau^(1-sigma) (1+t)^(-sigma): the operating profit of
 * a firm with phi^(sigma-1) = 1 serving d alone when gamma = 0. */
double tm_econ_weight(double demand, double iceberg, double tariff, double sigma);

/* Profit and revenue of serving market set S at productivity exp(z).
 *   gamma = 0: Pi(S) = exp((sigma-1) z) * sum_{d in S} a_d, R_d = sigma pi_d.
 *   gamma > 0: the CES + power-cost closed form (docs/model.md eq. 4):
 *     Pi(S) = c_gamma * exp((sigma theta - 1) z) * (A_S / k)^theta,
 *     theta = (1+gamma)/(1+gamma sigma), A_S = sum_{d in S} a_d,
 *   with revenue R = Pi * mu / (mu - 1/(1+gamma)) split over d in
 *   proportion to a_d. Constants chosen so gamma = 0 gives the first line. */
typedef struct {
    double sigma, gamma;
    double theta, z_exponent, scale, revenue_ratio, weight_unit, mu;
} tm_profit_fn;

void tm_profit_fn_init(tm_profit_fn *fn, double sigma, double gamma);

/* Sector s's capacity elasticity gamma_s: sectors.<s>.capacity_elasticity,
 * or capacity.elasticity when the sector does not set it; and its profit
 * function. */
double tm_econ_capacity_elasticity(const tm_params *params, int sector);
void tm_econ_sector_profit_fn(tm_profit_fn *fn, const tm_params *params, int sector);
double tm_profit(const tm_profit_fn *fn, double z, double weight_sum);
double tm_revenue_total(const tm_profit_fn *fn, double profit);

/* Tariff incidence (docs/model.md eq. 4b): the exporter absorbs the share
 * alpha of the duty, its producer price is (1+t)^(-alpha) times the
 * duty-free mark-up price and buyers pay (1+t)^(1-alpha) times it. The
 * quantity weight is a_d = B tau^(1-sigma) (1+t)^(-sigma (1-alpha)), which
 * is eq. 2 at alpha = 0. */
double tm_econ_absorbed_weight(double demand, double iceberg, double tariff, double sigma, double absorption);

/* Profit and total producer revenue of serving markets with quantity
 * weights summing to weight_sum and price-weighted sum
 * price_weight_sum = sum_d a_d (1+t_d)^(-alpha_d) (eq. 4b); equals
 * tm_profit and tm_revenue_total, up to rounding, when the two sums agree. */
double tm_profit_absorbed(const tm_profit_fn *fn, double z, double weight_sum, double price_weight_sum,
                          double *revenue);

/* Tables for one sector and period, over the productivity grid:
 *   flow[z * n_sets + S]      = Pi(z, S) - sum_{d in S} f_d  (-inf if S has a market closed at z)
 *   revenue[(z * n_sets + S) * n_dest + d] = producer revenue in d (0 if d not in S) */
void tm_econ_tables(const tm_profit_fn *fn, const tm_sector *sector, int n_dest, const tm_conditions *cond,
                    const double *z_grid, int n_z, double *flow, double *revenue);

/* The same over market states (src/engine/mstate.h): flow[z * n_states + m] and
 * revenue[(z * n_states + m) * n_dest + d], each served destination's
 * demand and iceberg cost scaled by its experience level's multipliers and
 * its fixed cost by the level's fixed-cost multiplier. Timing next: flow is
 * the operating profit only (fixed costs go with the choice) and a closed
 * market sells nothing instead of making the state infeasible. */
void tm_econ_state_tables(const tm_profit_fn *fn, const tm_sector *sector, const tm_mstate *ms,
                          const tm_conditions *cond, const double *z_grid, int n_z, double *flow, double *revenue);

#endif
