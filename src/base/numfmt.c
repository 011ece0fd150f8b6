#include "base/numfmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

void tm_numfmt_plain(double v, char *buf, size_t size)
{
    if (isnan(v)) {
        snprintf(buf, size, "-");
        return;
    }
    /* Effects of the order of rounding error (a ratio of two sums that
     * differ only in their last bits) print as 0. */
    if (fabs(v) < 1e-9) {
        snprintf(buf, size, "0");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, size, "%s", v > 0 ? "inf" : "-inf");
        return;
    }
    int decimals = 2 - (int)floor(log10(fabs(v)));
    if (decimals < 0)
        decimals = 0;
    if (decimals > 12)
        decimals = 12;
    snprintf(buf, size, "%.*f", decimals, v);
    /* Rounding can carry into another digit (9.996 -> "10.00"): one
     * decimal fewer then keeps three significant digits. */
    double shown = fabs(atof(buf));
    if (decimals > 0 && shown >= pow(10.0, 3 - decimals))
        snprintf(buf, size, "%.*f", decimals - 1, v);
}

void tm_numfmt_si(double v, char *buf, size_t size)
{
    static const char suffix[] = {'k', 'M', 'G', 'T', 'P'};
    double a = fabs(v);
    if (!isfinite(v) || a < 9999.5) {
        tm_numfmt_plain(isfinite(v) && a >= 100 ? round(v) : v, buf, size);
        return;
    }
    int k = -1;
    while (a >= 999.95 && k < 4) {
        a /= 1000.0;
        v /= 1000.0;
        k++;
    }
    int decimals = a >= 100 ? 1 : a >= 10 ? 2 : 3;
    snprintf(buf, size, "%.*f%c", decimals, v, suffix[k]);
}

void tm_numfmt_count(long long n, char *buf, size_t size)
{
    char digits[32];
    unsigned long long magnitude = n < 0 ? 0ULL - (unsigned long long)n : (unsigned long long)n;
    int len = snprintf(digits, sizeof digits, "%llu", magnitude);
    char out[48];
    size_t o = 0;
    if (n < 0)
        out[o++] = '-';
    for (int i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
    snprintf(buf, size, "%s", out);
}

const char *tm_numfmt_plural(long long n)
{
    return n == 1 ? "" : "s";
}
