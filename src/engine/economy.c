#include "engine/economy.h"

#include <math.h>

#include "engine/grid.h"

double tm_econ_death_probability(const tm_params *p, const tm_sector *sector, double z)
{
    if (sector->death_rule == TM_DEATH_CONSTANT)
        return sector->death_rate;
    double x = sector->death_rule == TM_DEATH_PROFITABILITY ? exp((p->elasticity - 1.0) * z) : z;
    double q = exp(-sector->death_slope * x) + sector->death_shift;
    return q < 0.0 ? 0.0 : q > 1.0 ? 1.0 : q;
}

double tm_econ_crowded_demand(double demand, double crowding, double share_serving)
{
    return demand / (1.0 + crowding * share_serving);
}

double tm_econ_spillover_sunk(double sunk, double spillover, double share_serving)
{
    return sunk * (1.0 - spillover * share_serving);
}

int tm_econ_adjusts(const tm_params *p)
{
    return !isnan(p->demand_impact_elasticity) || !isnan(p->demand_long_run_elasticity);
}

double tm_econ_stock_step(const tm_params *p, double stock, double tariff)
{
    return (1.0 - p->demand_adjustment) * stock + p->demand_adjustment * log1p(tariff);
}

double tm_econ_adjusted_demand(const tm_params *p, double tariff, double stock)
{
    double sigma = p->elasticity;
    double e0 = isnan(p->demand_impact_elasticity) ? sigma : p->demand_impact_elasticity;
    double eL = isnan(p->demand_long_run_elasticity) ? sigma : p->demand_long_run_elasticity;
    return exp((sigma - e0) * log1p(tariff) - (eL - e0) * stock);
}

double tm_econ_weight(double demand, double iceberg, double tariff, double sigma)
{
    return demand * pow(iceberg, 1.0 - sigma) * pow(1.0 + tariff, -sigma);
}

void tm_profit_fn_init(tm_profit_fn *fn, double sigma, double gamma)
{
    double mu = sigma / (sigma - 1.0);
    fn->sigma = sigma;
    fn->gamma = gamma;
    fn->theta = (1.0 + gamma) / (1.0 + gamma * sigma);
    fn->z_exponent = sigma * fn->theta - 1.0;
    /* Demand units are normalised so that gamma = 0 gives Pi = a phi^(sigma-1):
     * a_d = k * (demand shifter of quantities), k = (mu - 1) mu^(-sigma). */
    fn->weight_unit = (mu - 1.0) * pow(mu, -sigma);
    fn->scale = (mu - 1.0 / (1.0 + gamma)) * pow(mu, -sigma * fn->theta);
    fn->revenue_ratio = mu / (mu - 1.0 / (1.0 + gamma));
    fn->mu = mu;
}

double tm_econ_capacity_elasticity(const tm_params *p, int sector)
{
    double gamma = p->sector[sector].capacity_elasticity;
    return isnan(gamma) ? p->capacity_elasticity : gamma;
}

void tm_econ_sector_profit_fn(tm_profit_fn *fn, const tm_params *p, int sector)
{
    tm_profit_fn_init(fn, p->elasticity, tm_econ_capacity_elasticity(p, sector));
}

/* tm_profit(z, A) for A > 0 is the product of a factor of z and a factor
 * of A, computed in the same operations and order as one expression, so
 * that tables over (z, state) compute each factor once (bit for bit the
 * same values). */
static double profit_z_factor(const tm_profit_fn *fn, double z)
{
    return fn->gamma == 0.0 ? exp((fn->sigma - 1.0) * z) : fn->scale * exp(fn->z_exponent * z);
}

static double profit_weight_factor(const tm_profit_fn *fn, double weight_sum)
{
    return fn->gamma == 0.0 ? weight_sum : pow(weight_sum / fn->weight_unit, fn->theta);
}

double tm_profit(const tm_profit_fn *fn, double z, double weight_sum)
{
    if (weight_sum <= 0.0)
        return 0.0;
    return profit_z_factor(fn, z) * profit_weight_factor(fn, weight_sum);
}

double tm_revenue_total(const tm_profit_fn *fn, double profit)
{
    return fn->revenue_ratio * profit;
}

double tm_econ_absorbed_weight(double demand, double iceberg, double tariff, double sigma, double absorption)
{
    return demand * pow(iceberg, 1.0 - sigma) * pow(1.0 + tariff, -sigma * (1.0 - absorption));
}

/* docs/model.md eq. 4b. Prices are mu MC (1+t_d)^(-alpha_d), so quantities
 * and marginal cost are those of eq. 4 at the quantity weights a_d, and
 * R0 = revenue_ratio tm_profit(A) = mu MC Q is what the output would earn at
 * the undiscounted price mu MC; total cost is MC Q / (1 + gamma). */
static double absorbed_from_profit(const tm_profit_fn *fn, double profit, double weight_sum, double price_weight_sum,
                                   double *revenue)
{
    if (weight_sum <= 0.0) {
        *revenue = 0.0;
        return 0.0;
    }
    double undiscounted = tm_revenue_total(fn, profit);
    *revenue = undiscounted * (price_weight_sum / weight_sum);
    return *revenue - undiscounted / (fn->mu * (1.0 + fn->gamma));
}

void tm_econ_closure(const tm_regime *reg, int s, int n_z, const double *pi, int *closed, int *closed_top)
{
    const int partial = reg->closed_above_quantile > 0.0;
    *closed = reg->sector_closed[s] && !partial;
    *closed_top = reg->sector_closed[s] && partial ? tm_grid_top_count(n_z, pi, reg->closed_above_quantile) : 0;
}

double tm_profit_absorbed(const tm_profit_fn *fn, double z, double weight_sum, double price_weight_sum, double *revenue)
{
    return absorbed_from_profit(fn, tm_profit(fn, z, weight_sum), weight_sum, price_weight_sum, revenue);
}

void tm_econ_state_tables(const tm_profit_fn *fn, const tm_sector *sector, const tm_mstate *ms,
                          const tm_conditions *cond, const double *z_grid, int n_z, double *flow, double *revenue)
{
    const int n_dest = ms->n_dest, n_states = ms->n_states, K = ms->levels;
    const int next = ms->timing == TM_TIMING_NEXT;
    /* Quantity weights a_d (eq. 2, or eq. 4b with absorption) and the
     * producer-price factors (1+t)^(-alpha) of the revenue; with no duty
     * absorbed anywhere the factors are 1 and eqs. 3-4 are used as they are. */
    double weight[TM_MAX_DEST][TM_MAX_LEVELS], price[TM_MAX_DEST];
    int absorbs = 0;
    for (int d = 0; d < n_dest; d++) {
        double alpha = sector->market[d].tariff_absorption;
        absorbs |= alpha > 0.0;
        price[d] = alpha > 0.0 ? pow(1.0 + cond->tariff[d], -alpha) : 1.0;
        for (int k = 0; k < K; k++) {
            double demand = cond->demand[d] * ms->demand[k], iceberg = sector->market[d].iceberg * ms->iceberg[k];
            weight[d][k] = alpha > 0.0 ? tm_econ_absorbed_weight(demand, iceberg, cond->tariff[d], fn->sigma, alpha)
                                       : tm_econ_weight(demand, iceberg, cond->tariff[d], fn->sigma);
        }
    }
    /* What a state serves does not depend on z: its weights, their sums,
     * fixed costs and the weight factor of its profit, once per state. */
    double w[TM_MAX_STATES][TM_MAX_DEST], a[TM_MAX_STATES], a_price[TM_MAX_STATES], fixed[TM_MAX_STATES];
    double weight_factor[TM_MAX_STATES];
    int closed[TM_MAX_STATES], open_below[TM_MAX_STATES];
    for (int m = 0; m < n_states; m++) {
        a[m] = a_price[m] = fixed[m] = 0.0;
        closed[m] = 0;
        open_below[m] = n_z; /* eq. 26a: grid points from this one up are closed */
        for (int d = 0; d < n_dest; d++) {
            int k = ms->level[m][d];
            w[m][d] = 0.0;
            if (!k)
                continue;
            if (next && cond->closed[d])
                continue; /* held for next period's choice; sells nothing */
            w[m][d] = weight[d][k - 1];
            a[m] += w[m][d];
            a_price[m] += w[m][d] * price[d];
            fixed[m] += sector->market[d].fixed_cost * ms->fixed_cost[k - 1];
            closed[m] |= cond->closed[d];
            if (cond->closed_top[d] > 0 && n_z - cond->closed_top[d] < open_below[m])
                open_below[m] = n_z - cond->closed_top[d];
        }
        weight_factor[m] = a[m] <= 0.0 ? 0.0 : profit_weight_factor(fn, a[m]);
    }
    for (int iz = 0; iz < n_z; iz++) {
        const double z_factor = profit_z_factor(fn, z_grid[iz]);
        for (int m = 0; m < n_states; m++) {
            /* tm_profit(fn, z, a[m]) */
            double profit = a[m] <= 0.0 ? 0.0 : z_factor * weight_factor[m], total;
            if (absorbs) {
                profit = absorbed_from_profit(fn, profit, a[m], a_price[m], &total);
            } else {
                total = tm_revenue_total(fn, profit);
            }
            /* Timing next: fixed costs are paid with the choice (tm_mstate_costs). */
            flow[iz * n_states + m] = closed[m] || iz >= open_below[m] ? -INFINITY : next ? profit : profit - fixed[m];
            for (int d = 0; d < n_dest; d++) {
                double r = 0.0;
                if (w[m][d] > 0.0 && a[m] > 0.0)
                    r = absorbs ? total * (w[m][d] * price[d]) / a_price[m] : total * w[m][d] / a[m];
                revenue[(iz * n_states + m) * n_dest + d] = r;
            }
        }
    }
}

void tm_econ_tables(const tm_profit_fn *fn, const tm_sector *sector, int n_dest, const tm_conditions *cond,
                    const double *z_grid, int n_z, double *flow, double *revenue)
{
    tm_mstate ms;
    if (tm_mstate_init_sets(&ms, n_dest))
        return;
    tm_econ_state_tables(fn, sector, &ms, cond, z_grid, n_z, flow, revenue);
    tm_mstate_free(&ms);
}
