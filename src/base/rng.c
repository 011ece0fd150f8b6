#include "base/rng.h"

#include <math.h>
#include <stdlib.h>

/* Domain constants keep the firm, environment and output-derivation chains
 * apart, so no key in one domain can reproduce a stream of another. */
#define TM_DOMAIN_FIRM 0x6669726d5f737472ULL
#define TM_DOMAIN_ENV 0x656e765f73747265ULL
#define TM_TAG_STATE 0x7374617465000001ULL
#define TM_TAG_SEQ 0x7365710000000002ULL

#define TM_GOLDEN 0x9E3779B97F4A7C15ULL

void tm_pcg32_seed(tm_pcg32 *rng, uint64_t initstate, uint64_t initseq)
{
    rng->state = 0u;
    rng->inc = (initseq << 1u) | 1u;
    (void)tm_pcg32_next(rng);
    rng->state += initstate;
    (void)tm_pcg32_next(rng);
}

uint64_t tm_rng_mix(uint64_t a, uint64_t b)
{
    /* b + 1 so that b = 0 still moves a; the finaliser is a bijection, so
     * for a fixed b distinct a never collide (and vice versa). */
    uint64_t z = a + TM_GOLDEN * (b + 1u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void seed_from_key(tm_pcg32 *rng, uint64_t key)
{
    tm_pcg32_seed(rng, tm_rng_mix(key, TM_TAG_STATE), tm_rng_mix(key, TM_TAG_SEQ));
}

void tm_rng_firm_stream(tm_pcg32 *rng, uint64_t seed, uint32_t sector, uint64_t slot)
{
    uint64_t key = tm_rng_mix(seed, TM_DOMAIN_FIRM);
    key = tm_rng_mix(key, sector);
    key = tm_rng_mix(key, slot);
    seed_from_key(rng, key);
}

void tm_rng_env_stream(tm_pcg32 *rng, uint64_t seed)
{
    seed_from_key(rng, tm_rng_mix(seed, TM_DOMAIN_ENV));
}

double tm_rng_uniform(tm_pcg32 *rng)
{
    uint64_t hi = tm_pcg32_next(rng) >> 5; /* 27 bits */
    uint64_t lo = tm_pcg32_next(rng) >> 6; /* 26 bits */
    return (double)((hi << 26) | lo) * (1.0 / 9007199254740992.0);
}

double tm_rng_normal(tm_pcg32 *rng)
{
    /* No cached second variate: a cache would be hidden state outside the
     * 64-bit generator and would break replaying a firm from its state. */
    for (;;) {
        double u = 2.0 * tm_rng_uniform(rng) - 1.0;
        double v = 2.0 * tm_rng_uniform(rng) - 1.0;
        double s = u * u + v * v;
        if (s > 0.0 && s < 1.0)
            return u * sqrt(-2.0 * log(s) / s);
    }
}

uint32_t tm_rng_threshold(double p)
{
    /* The result t gives P(r < t) = t / 2^32 = floor(p * 2^32) / 2^32, which
     * is exact for p in [0, 1) up to flooring. p >= 1 can only be mapped to
     * UINT32_MAX, leaving a 2^-32 chance of failure; callers that need
     * "always" must test p >= 1 themselves. NaN maps to 0 ("never"). */
    if (!(p > 0.0))
        return 0u;
    if (p >= 1.0)
        return UINT32_MAX;
    /* p < 1 implies p * 2^32 <= 2^32 - 2^-21, so the floor fits. */
    return (uint32_t)(p * 4294967296.0);
}

void tm_alias_free(tm_alias *table)
{
    if (!table)
        return;
    free(table->threshold);
    free(table->alias);
    table->threshold = NULL;
    table->alias = NULL;
    table->n = 0u;
}

/* Integer target masses m[i] summing exactly to n * 2^32 (each column holds
 * 2^32 units), so Vose's pairing below runs without rounding drift and
 * zero weights get exactly zero mass. */
static int alias_masses(const double *weights, uint32_t n, uint64_t *mass)
{
    double wmax = 0.0;
    for (uint32_t i = 0; i < n; i++) {
        double w = weights[i];
        if (!isfinite(w) || w < 0.0)
            return -1;
        if (w > wmax)
            wmax = w;
    }
    if (!(wmax > 0.0))
        return -1;

    /* Dividing by the largest weight keeps the sum finite (at most n). */
    double sum = 0.0;
    for (uint32_t i = 0; i < n; i++)
        sum += weights[i] / wmax;

    const uint64_t total = (uint64_t)n << 32;
    const double total_d = (double)n * 4294967296.0;
    uint64_t assigned = 0u;
    uint32_t largest = 0u;
    for (uint32_t i = 0; i < n; i++) {
        double q = weights[i] / wmax / sum * total_d;
        uint64_t m = q >= 18446744073709551616.0 ? total : (uint64_t)q;
        if (m > total)
            m = total;
        mass[i] = m;
        assigned += m;
        if (m > mass[largest])
            largest = i;
    }

    /* Rounding leaves a discrepancy of order n units; the largest mass is at
     * least 2^32 units, so it absorbs it without changing sign. */
    if (assigned <= total) {
        mass[largest] += total - assigned;
    } else {
        uint64_t excess = assigned - total;
        if (excess >= mass[largest])
            return -1;
        mass[largest] -= excess;
    }
    return 0;
}

int tm_alias_init(tm_alias *table, const double *weights, uint32_t n)
{
    if (!table)
        return -1;
    table->n = 0u;
    table->threshold = NULL;
    table->alias = NULL;
    if (!weights || n == 0u)
        return -1;

    uint64_t *mass = malloc((size_t)n * sizeof *mass);
    uint32_t *work = malloc((size_t)n * sizeof *work);
    uint32_t *threshold = malloc((size_t)n * sizeof *threshold);
    uint32_t *alias = malloc((size_t)n * sizeof *alias);
    if (!mass || !work || !threshold || !alias || alias_masses(weights, n, mass) != 0) {
        free(mass);
        free(work);
        free(threshold);
        free(alias);
        return -1;
    }

    const uint64_t cap = (uint64_t)1 << 32;
    /* work[0, nsmall) is the stack of under-full columns, work[n - nlarge, n)
     * that of full or over-full ones; an index is in at most one. */
    uint32_t nsmall = 0u, nlarge = 0u;
    for (uint32_t i = 0; i < n; i++) {
        if (mass[i] < cap)
            work[nsmall++] = i;
        else
            work[n - ++nlarge] = i;
    }

    while (nsmall > 0u && nlarge > 0u) {
        uint32_t s = work[--nsmall];
        uint32_t g = work[n - nlarge];
        threshold[s] = (uint32_t)mass[s];
        alias[s] = g;
        mass[g] -= cap - mass[s];
        if (mass[g] < cap) {
            nlarge--;
            work[nsmall++] = g;
        }
    }

    /* With exact integer masses every leftover column holds exactly 2^32
     * units. Its threshold cannot be 2^32, so aliasing it to itself makes the
     * draw right whichever branch is taken. */
    while (nlarge > 0u) {
        uint32_t g = work[n - nlarge--];
        threshold[g] = UINT32_MAX;
        alias[g] = g;
    }
    while (nsmall > 0u) {
        uint32_t s = work[--nsmall];
        threshold[s] = UINT32_MAX;
        alias[s] = s;
    }

    free(mass);
    free(work);
    table->n = n;
    table->threshold = threshold;
    table->alias = alias;
    return 0;
}
