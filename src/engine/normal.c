#include "engine/normal.h"

#include <math.h>

double tm_normal_cdf(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0));
}

double tm_normal_sf(double x)
{
    return 0.5 * erfc(x / sqrt(2.0));
}

double tm_normal_quantile(double q)
{
    double lo = -40.0, hi = 40.0;
    for (int i = 0; i < 200; i++) {
        double mid = 0.5 * (lo + hi);
        if (tm_normal_cdf(mid) < q)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}
