/* test_rng: reference agreement, distributional checks (tolerances are
 * multiples of the sampling standard error), stream independence, alias tables. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>

#include "base/rng.h"

#define N_DRAWS 1000000

Test(rng, matches_reference_stream)
{
    static const uint32_t expected[6] = {0xa15c02b7u, 0x7b47f409u, 0xba1d3330u, 0x83d2f293u, 0xbfa4784bu, 0xcbed606eu};
    tm_pcg32 r;
    tm_pcg32_seed(&r, 42u, 54u);
    for (int i = 0; i < 6; i++) {
        uint32_t got = tm_pcg32_next(&r);
        cr_expect_eq(got, expected[i], "output %d: 0x%08x != 0x%08x", i, got, expected[i]);
    }
}

Test(rng, step_on_bare_state_equals_generator_step)
{
    tm_pcg32 r;
    tm_rng_firm_stream(&r, 7u, 2u, 99u);
    uint64_t state = r.state;
    for (int i = 0; i < 100; i++)
        cr_expect_eq(tm_pcg32_step(&state, r.inc), tm_pcg32_next(&r));
}

Test(rng, uniform_mean_and_variance_match_u01_within_5_se)
{
    tm_pcg32 r;
    tm_pcg32_seed(&r, 2024u, 1u);
    double sum = 0.0, sumsq = 0.0;
    for (int i = 0; i < N_DRAWS; i++) {
        double u = tm_rng_uniform(&r);
        cr_assert(u >= 0.0 && u < 1.0, "draw %d out of [0,1): %g", i, u);
        sum += u;
        sumsq += (u - 0.5) * (u - 0.5);
    }
    double mean = sum / N_DRAWS;
    double var = sumsq / N_DRAWS;
    /* Var(U) = 1/12; Var((U - 1/2)^2) = 1/80 - 1/144 = 1/180. */
    double se_mean = sqrt(1.0 / 12.0 / N_DRAWS);
    double se_var = sqrt(1.0 / 180.0 / N_DRAWS);
    cr_expect(fabs(mean - 0.5) < 5.0 * se_mean, "mean %.6f", mean);
    cr_expect(fabs(var - 1.0 / 12.0) < 5.0 * se_var, "variance %.6f", var);
}

Test(rng, uniform_uses_more_than_32_bits)
{
    /* With 53-bit draws, u * 2^32 is almost never an integer. */
    tm_pcg32 r;
    tm_pcg32_seed(&r, 5u, 6u);
    int fractional = 0;
    for (int i = 0; i < 1000; i++) {
        double x = tm_rng_uniform(&r) * 4294967296.0;
        fractional += x != floor(x);
    }
    cr_expect_gt(fractional, 990);
}

Test(rng, normal_moments_match_standard_normal_within_5_se)
{
    tm_pcg32 r;
    tm_pcg32_seed(&r, 77u, 3u);
    double m1 = 0.0, m2 = 0.0, m3 = 0.0, m4 = 0.0;
    for (int i = 0; i < N_DRAWS; i++) {
        double x = tm_rng_normal(&r);
        cr_assert(isfinite(x));
        double x2 = x * x;
        m1 += x;
        m2 += x2;
        m3 += x2 * x;
        m4 += x2 * x2;
    }
    m1 /= N_DRAWS;
    m2 /= N_DRAWS;
    m3 /= N_DRAWS;
    m4 /= N_DRAWS;
    /* Raw-moment standard errors from E x^2 = 1, E x^4 = 3, E x^6 = 15,
     * E x^8 = 105: Var(x) = 1, Var(x^2) = 2, Var(x^3) = 15, Var(x^4) = 96. */
    double n = N_DRAWS;
    cr_expect(fabs(m1) < 5.0 * sqrt(1.0 / n), "mean %.5f", m1);
    cr_expect(fabs(m2 - 1.0) < 5.0 * sqrt(2.0 / n), "E x^2 %.5f", m2);
    cr_expect(fabs(m3) < 5.0 * sqrt(15.0 / n), "E x^3 %.5f", m3);
    cr_expect(fabs(m4 - 3.0) < 5.0 * sqrt(96.0 / n), "E x^4 %.5f", m4);
}

Test(rng, normal_tail_frequency_matches_within_5_se)
{
    /* P(|X| > 3) = erfc(3 / sqrt 2). */
    tm_pcg32 r;
    tm_pcg32_seed(&r, 8u, 9u);
    int tail = 0;
    for (int i = 0; i < N_DRAWS; i++)
        tail += fabs(tm_rng_normal(&r)) > 3.0;
    double p = erfc(3.0 / sqrt(2.0));
    double freq = (double)tail / N_DRAWS;
    cr_expect(fabs(freq - p) < 5.0 * sqrt(p * (1.0 - p) / N_DRAWS), "freq %.6f, p %.6f", freq, p);
}

static int same_stream(const tm_pcg32 *a, const tm_pcg32 *b)
{
    return a->state == b->state && a->inc == b->inc;
}

/* Pearson correlation of the uniforms of two streams over n draws. */
static double stream_correlation(tm_pcg32 a, tm_pcg32 b, int n)
{
    double sa = 0.0, sb = 0.0, saa = 0.0, sbb = 0.0, sab = 0.0;
    for (int i = 0; i < n; i++) {
        double x = tm_rng_uniform(&a), y = tm_rng_uniform(&b);
        sa += x;
        sb += y;
        saa += x * x;
        sbb += y * y;
        sab += x * y;
    }
    double cov = sab / n - (sa / n) * (sb / n);
    double va = saa / n - (sa / n) * (sa / n);
    double vb = sbb / n - (sb / n) * (sb / n);
    return cov / sqrt(va * vb);
}

Test(rng, same_key_gives_same_stream)
{
    tm_pcg32 a, b;
    tm_rng_firm_stream(&a, 123u, 4u, 5678u);
    tm_rng_firm_stream(&b, 123u, 4u, 5678u);
    cr_assert(same_stream(&a, &b));
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(tm_pcg32_next(&a), tm_pcg32_next(&b));

    tm_rng_env_stream(&a, 99u);
    tm_rng_env_stream(&b, 99u);
    cr_assert(same_stream(&a, &b));
}

Test(rng, neighbouring_firm_streams_differ_and_are_uncorrelated)
{
    const int n = 100000;
    const double bound = 5.0 / sqrt((double)n);
    tm_pcg32 base, other;
    tm_rng_firm_stream(&base, 1u, 0u, 0u);

    struct {
        uint64_t seed;
        uint32_t sector;
        uint64_t slot;
    } keys[] = {{1u, 0u, 1u}, {1u, 1u, 0u}, {2u, 0u, 0u}, {1u, 0u, 1u << 20}, {0u, 0u, 0u}};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        tm_rng_firm_stream(&other, keys[k].seed, keys[k].sector, keys[k].slot);
        cr_expect_neq(other.state, base.state, "key %zu", k);
        cr_expect_neq(other.inc, base.inc, "key %zu", k);
        double rho = stream_correlation(base, other, n);
        cr_expect(fabs(rho) < bound, "key %zu: correlation %.5f", k, rho);
    }

    /* Consecutive slots within one sector: pairwise distinct and uncorrelated. */
    tm_pcg32 prev;
    tm_rng_firm_stream(&prev, 42u, 3u, 0u);
    for (uint64_t slot = 1; slot < 20; slot++) {
        tm_pcg32 cur;
        tm_rng_firm_stream(&cur, 42u, 3u, slot);
        cr_expect(!same_stream(&prev, &cur));
        double rho = stream_correlation(prev, cur, n);
        cr_expect(fabs(rho) < bound, "slot %llu: correlation %.5f", (unsigned long long)slot, rho);
        prev = cur;
    }
}

Test(rng, environment_stream_differs_from_firm_streams_and_across_seeds)
{
    tm_pcg32 env, env2, firm;
    tm_rng_env_stream(&env, 1u);
    tm_rng_env_stream(&env2, 2u);
    tm_rng_firm_stream(&firm, 1u, 0u, 0u);
    cr_expect(!same_stream(&env, &env2));
    cr_expect(!same_stream(&env, &firm));
    cr_expect(fabs(stream_correlation(env, firm, 100000)) < 5.0 / sqrt(100000.0));
}

Test(rng, mix_is_deterministic_and_sensitive_to_both_arguments)
{
    cr_expect_eq(tm_rng_mix(1u, 2u), tm_rng_mix(1u, 2u));
    cr_expect_neq(tm_rng_mix(1u, 2u), tm_rng_mix(2u, 2u));
    cr_expect_neq(tm_rng_mix(1u, 2u), tm_rng_mix(1u, 3u));
    cr_expect_neq(tm_rng_mix(0u, 0u), 0u);
    /* Flipping one input bit flips about half of the output bits. */
    int flipped = 0;
    for (int bit = 0; bit < 64; bit++) {
        uint64_t d = tm_rng_mix(12345u, 6u) ^ tm_rng_mix(12345u ^ (1ull << bit), 6u);
        for (; d; d &= d - 1u)
            flipped++;
    }
    double avg = flipped / 64.0;
    cr_expect(avg > 28.0 && avg < 36.0, "average flipped bits %.2f", avg);
}

static void check_alias_frequencies(const double *w, uint32_t n, uint64_t seed)
{
    tm_alias table;
    cr_assert_eq(tm_alias_init(&table, w, n), 0);
    cr_assert_eq(table.n, n);

    unsigned long counts[16] = {0};
    cr_assert(n <= 16);
    tm_pcg32 r;
    tm_pcg32_seed(&r, seed, 11u);
    for (int i = 0; i < N_DRAWS; i++) {
        uint32_t k = tm_alias_draw(&table, tm_pcg32_next(&r));
        cr_assert_lt(k, n);
        counts[k]++;
    }
    double total = 0.0;
    for (uint32_t i = 0; i < n; i++)
        total += w[i];
    for (uint32_t i = 0; i < n; i++) {
        double p = w[i] / total;
        double freq = (double)counts[i] / N_DRAWS;
        if (p == 0.0) {
            cr_expect_eq(counts[i], 0ul, "outcome %u has zero weight but was drawn", i);
            continue;
        }
        double se = sqrt(p * (1.0 - p) / N_DRAWS);
        cr_expect(fabs(freq - p) <= 5.0 * se, "outcome %u: freq %.6f, p %.6f", i, freq, p);
    }
    tm_alias_free(&table);
}

Test(rng, alias_frequencies_match_weights_within_5_se)
{
    const double uniform[5] = {1, 1, 1, 1, 1};
    const double ramp[4] = {1, 2, 3, 4};
    const double with_zeros[6] = {0, 3, 0, 0.5, 0, 1.5};
    const double skewed[5] = {1e6, 1, 10, 100, 1e-3};
    const double single[3] = {0, 0, 2};
    const double unnormalised[7] = {1e-300, 3e-300, 2e-300, 0, 5e-300, 1e-300, 1e-300};
    check_alias_frequencies(uniform, 5, 1u);
    check_alias_frequencies(ramp, 4, 2u);
    check_alias_frequencies(with_zeros, 6, 3u);
    check_alias_frequencies(skewed, 5, 4u);
    check_alias_frequencies(single, 3, 5u);
    check_alias_frequencies(unnormalised, 7, 6u);
}

Test(rng, alias_table_masses_reproduce_weights)
{
    /* Each column splits 2^32 units between itself (threshold) and its alias;
     * summing them back must give every outcome its share of n * 2^32. */
    const double w[9] = {0.1, 0, 7, 3, 1e-9, 0, 2.5, 0.4, 11};
    const uint32_t n = 9;
    tm_alias table;
    cr_assert_eq(tm_alias_init(&table, w, n), 0);
    double mass[9] = {0};
    double wsum = 0.0;
    for (uint32_t c = 0; c < n; c++) {
        double keep = (double)table.threshold[c];
        cr_assert_lt(table.alias[c], n);
        if (table.threshold[c] == UINT32_MAX)
            cr_expect_eq(table.alias[c], c, "full column %u must alias itself", c);
        mass[c] += keep;
        mass[table.alias[c]] += 4294967296.0 - keep;
        wsum += w[c];
    }
    for (uint32_t i = 0; i < n; i++) {
        double share = mass[i] / (n * 4294967296.0);
        cr_expect(fabs(share - w[i] / wsum) < n * 0x1p-32, "outcome %u: %.12g vs %.12g", i, share, w[i] / wsum);
        if (w[i] == 0.0)
            cr_expect_eq(share, 0.0, "zero-weight outcome %u has mass", i);
    }
    tm_alias_free(&table);
    cr_expect_null(table.threshold);
    cr_expect_eq(table.n, 0u);
}

Test(rng, alias_extreme_draws_stay_in_range)
{
    const double w[3] = {1, 1, 1};
    tm_alias table;
    cr_assert_eq(tm_alias_init(&table, w, 3), 0);
    cr_expect_lt(tm_alias_draw(&table, 0u), 3u);
    cr_expect_lt(tm_alias_draw(&table, UINT32_MAX), 3u);
    tm_alias_free(&table);
}

Test(rng, alias_init_rejects_bad_weights)
{
    tm_alias table;
    const double zeros[3] = {0, 0, 0};
    const double negative[3] = {1, -0.5, 2};
    const double with_nan[3] = {1, NAN, 2};
    const double with_inf[3] = {1, INFINITY, 2};
    const double fine[2] = {1, 2};
    cr_expect_eq(tm_alias_init(&table, zeros, 3), -1);
    cr_expect_null(table.threshold);
    cr_expect_eq(tm_alias_init(&table, negative, 3), -1);
    cr_expect_eq(tm_alias_init(&table, with_nan, 3), -1);
    cr_expect_eq(tm_alias_init(&table, with_inf, 3), -1);
    cr_expect_eq(tm_alias_init(&table, fine, 0), -1);
    cr_expect_eq(tm_alias_init(&table, NULL, 2), -1);
    cr_expect_eq(tm_alias_init(NULL, fine, 2), -1);
    tm_alias_free(&table); /* safe after a failed init */
    tm_alias_free(NULL);
}

Test(rng, threshold_edge_cases)
{
    cr_expect_eq(tm_rng_threshold(0.0), 0u);
    cr_expect_eq(tm_rng_threshold(-0.3), 0u);
    cr_expect_eq(tm_rng_threshold(NAN), 0u);
    cr_expect_eq(tm_rng_threshold(1e-12), 0u);
    cr_expect_eq(tm_rng_threshold(0x1p-32), 1u);
    cr_expect_eq(tm_rng_threshold(0.25), 0x40000000u);
    cr_expect_eq(tm_rng_threshold(0.5), 0x80000000u);
    cr_expect_eq(tm_rng_threshold(nextafter(1.0, 0.0)), UINT32_MAX);
    cr_expect_eq(tm_rng_threshold(1.0), UINT32_MAX);
    cr_expect_eq(tm_rng_threshold(7.0), UINT32_MAX);
    cr_expect_eq(tm_rng_threshold(INFINITY), UINT32_MAX);

    /* p = 0 never fires, even for the smallest draw. */
    cr_expect(!(0u < tm_rng_threshold(0.0)));

    uint32_t prev = 0u;
    for (int k = 0; k <= 1000; k++) {
        uint32_t t = tm_rng_threshold(k / 1000.0);
        cr_expect_geq(t, prev, "threshold not monotone at p = %g", k / 1000.0);
        prev = t;
    }
}

Test(rng, threshold_frequency_matches_probability_within_5_se)
{
    const double p = 0.3;
    uint32_t t = tm_rng_threshold(p);
    tm_pcg32 r;
    tm_pcg32_seed(&r, 31u, 41u);
    int hits = 0;
    for (int i = 0; i < N_DRAWS; i++)
        hits += tm_pcg32_next(&r) < t;
    double freq = (double)hits / N_DRAWS;
    cr_expect(fabs(freq - p) < 5.0 * sqrt(p * (1.0 - p) / N_DRAWS), "freq %.6f", freq);
}
