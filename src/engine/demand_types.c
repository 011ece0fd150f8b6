#include "engine/demand_types.h"

#include <math.h>
#include <string.h>

#include "engine/normal.h"

void tm_demand_types_init(tm_demand_types *dt, const tm_params *p)
{
    memset(dt, 0, sizeof *dt);
    dt->points = p->type_points;
    dt->n_types = p->n_types;
    memcpy(dt->type_dest, p->type_dest, sizeof dt->type_dest);
    /* Bin j of k equally likely bins of a standard normal X: the mean of
     * exp(sigma X) over the bin, divided by E[exp(sigma X)], so that the
     * multipliers average exactly 1:
     *   k (Phi(b_j - sigma) - Phi(a_j - sigma)), a_j = Phi^-1(j / k). */
    const int k = p->type_points;
    const double sigma = p->type_dispersion;
    for (int j = 0; j < k; j++) {
        double a = j == 0 ? -INFINITY : tm_normal_quantile((double)j / k);
        double b = j == k - 1 ? INFINITY : tm_normal_quantile((double)(j + 1) / k);
        double mass = tm_normal_cdf(b - sigma) - tm_normal_cdf(a - sigma);
        dt->multiplier[j] = k == 1 ? 1.0 : mass * (double)k;
    }
}

double tm_demand_types_multiplier(const tm_demand_types *dt, int t, int d)
{
    if (dt->type_dest[d] < 0)
        return 1.0;
    for (int e = 0; e < dt->type_dest[d]; e++)
        t /= dt->points;
    return dt->multiplier[t % dt->points];
}
