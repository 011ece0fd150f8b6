/* test_output_panel: the firm panel's chunk encoder (src/io/panel_deflate.c)
 * produces zlib streams that zlib inflates back to the input, for byte
 * distributions that need every part of it: one symbol, all 256, code
 * lengths that must be limited to 15 bits, odd and tiny lengths; and its
 * stored streams (series chunks too small to encode). */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "io/panel_deflate.h"

#define CHUNK (1u << 18)

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* Encode, check the zlib header, inflate with zlib and compare; returns the
 * encoded length. */
static size_t roundtrip(const unsigned char *in, size_t n)
{
    size_t cap = tm_panel_deflate_bound(n);
    unsigned char *out = malloc(cap), *back = malloc(n ? n : 1);
    cr_assert(out && back);
    size_t len = tm_panel_deflate(in, n, out, cap);
    cr_assert_gt(len, 0u, "n = %zu", n);
    cr_assert_leq(len, cap);
    cr_assert_eq((out[0] * 256 + out[1]) % 31, 0, "zlib header check");
    cr_assert_eq(out[0] & 0x0F, 8, "deflate method");
    uLongf back_len = (uLongf)n;
    int rc = uncompress(back, &back_len, out, (uLong)len);
    cr_assert_eq(rc, Z_OK, "inflate failed (%d) for n = %zu", rc, n);
    cr_assert_eq(back_len, n);
    cr_assert_eq(memcmp(back, in, n), 0, "round trip differs for n = %zu", n);
    /* The same bytes always give the same stream. */
    unsigned char *again = malloc(cap);
    cr_assert_eq(tm_panel_deflate(in, n, again, cap), len);
    cr_assert_eq(memcmp(out, again, len), 0);
    free(again);
    free(out);
    free(back);
    return len;
}

Test(output_panel, all_zero_chunk_is_one_bit_per_byte)
{
    unsigned char *in = calloc(CHUNK, 1);
    size_t len = roundtrip(in, CHUNK);
    cr_expect_lt(len, CHUNK / 8 + 200);
    free(in);
}

Test(output_panel, tiny_and_odd_lengths)
{
    unsigned char in[9] = {3, 1, 4, 1, 5, 9, 2, 6, 5};
    for (size_t n = 1; n <= sizeof in; n++)
        roundtrip(in, n);
    unsigned char one = 200;
    roundtrip(&one, 1);
}

Test(output_panel, every_byte_value_uniformly)
{
    unsigned char *in = malloc(CHUNK + 3);
    uint64_t s = 1;
    for (size_t i = 0; i < CHUNK + 3; i++)
        in[i] = (unsigned char)lcg(&s);
    size_t len = roundtrip(in, CHUNK + 3);
    cr_expect_lt(len, CHUNK + 3 + 300); /* 8 bits per byte plus the header */
    free(in);
}

Test(output_panel, skewed_frequencies_need_length_limiting)
{
    /* Fibonacci frequencies give an optimal code deeper than 15 bits. */
    unsigned char *in = malloc(CHUNK);
    size_t n = 0;
    uint64_t a = 1, b = 2; /* with the end-of-block symbol: 1, 1, 2, 3, 5, ... */
    for (int sym = 0; sym < 26 && n < CHUNK; sym++) {
        for (uint64_t k = 0; k < a && n < CHUNK; k++)
            in[n++] = (unsigned char)(sym * 7);
        uint64_t c = a + b;
        a = b;
        b = c;
    }
    uint64_t s = 5;
    for (size_t i = n; i > 1; i--) { /* shuffle */
        size_t j = (size_t)(lcg(&s) % i);
        unsigned char t = in[i - 1];
        in[i - 1] = in[j];
        in[j] = t;
    }
    roundtrip(in, n);
    /* Powers of two: one byte value per halving, 40 values. */
    n = 0;
    for (int sym = 0; sym < 40 && n < CHUNK; sym++) {
        size_t count = (CHUNK >> (sym + 1)) ? (CHUNK >> (sym + 1)) : 1;
        for (size_t k = 0; k < count && n < CHUNK; k++)
            in[n++] = (unsigned char)(255 - sym);
    }
    roundtrip(in, n);
    free(in);
}

Test(output_panel, productivity_like_bytes_compress_near_their_entropy)
{
    /* A discretised normal over 41 grid points, as in the baseline panel. */
    unsigned char *in = malloc(CHUNK);
    uint64_t s = 9;
    double count[256] = {0};
    for (size_t i = 0; i < CHUNK; i++) {
        int v = 0;
        for (int k = 0; k < 40; k++)
            v += (int)(lcg(&s) & 1);
        in[i] = (unsigned char)v;
        count[v]++;
    }
    double entropy_bits = 0;
    for (int v = 0; v < 256; v++)
        if (count[v] > 0)
            entropy_bits -= count[v] * log2(count[v] / CHUNK);
    size_t len = roundtrip(in, CHUNK);
    cr_expect_lt((double)len * 8, entropy_bits + CHUNK * 0.1 + 2000);
    free(in);
}

Test(output_panel, too_small_an_output_is_reported)
{
    unsigned char in[1000];
    uint64_t s = 3;
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (unsigned char)lcg(&s);
    unsigned char out[200];
    cr_expect_eq(tm_panel_deflate(in, sizeof in, out, sizeof out), 0u);
}

/* Stored blocks (series chunks too small to encode): zlib inflates them
 * back, across the 65,535-byte limit of one block, and the length is the
 * input plus the fixed framing: 2 bytes of header, 5 a block, 4 of
 * Adler-32. */
static void stored_roundtrip(size_t n)
{
    unsigned char *in = malloc(n ? n : 1), *out = malloc(tm_panel_store_bound(n)), *back = malloc(n ? n : 1);
    cr_assert(in && out && back);
    uint64_t s = 5;
    for (size_t i = 0; i < n; i++)
        in[i] = (unsigned char)lcg(&s);
    size_t blocks = n / 65535 + (n % 65535 != 0 || n == 0);
    size_t len = tm_panel_store(in, n, out, tm_panel_store_bound(n));
    cr_assert_eq(len, n + 2 + 5 * blocks + 4, "n = %zu", n);
    cr_assert_leq(len, tm_panel_store_bound(n));
    uLongf back_len = (uLongf)n;
    cr_assert_eq(uncompress(back, &back_len, out, (uLong)len), Z_OK, "n = %zu", n);
    cr_assert_eq(back_len, n);
    cr_assert_eq(memcmp(back, in, n), 0, "n = %zu", n);
    free(in);
    free(out);
    free(back);
}

Test(output_panel, stored_stream_inflates_to_its_input)
{
    size_t sizes[] = {0, 1, 96, 4096, 65535, 65536, 3 * 65535 + 17};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        stored_roundtrip(sizes[k]);
}

Test(output_panel, stored_stream_refuses_too_small_an_output)
{
    unsigned char in[100] = {0}, out[200];
    cr_expect_eq(tm_panel_store(in, sizeof in, out, tm_panel_store_bound(sizeof in) - 1), 0u);
    cr_expect_gt(tm_panel_store(in, sizeof in, out, sizeof out), 0u);
}

/* The block type of the last stream runs_roundtrip encoded (RFC 1951
 * BTYPE: 0 stored, 1 fixed code, 2 fitted code), so that the tests can
 * tell that each kind is exercised. */
static int last_btype;

/* The run-length encoder (series chunks): zlib inflates every stream back
 * to its input, the stream never needs more than the stored framing, and
 * the same bytes always give the same stream. Returns the length. */
static size_t runs_roundtrip(const unsigned char *in, size_t n)
{
    size_t cap = tm_panel_deflate_runs_bound(n);
    cr_assert_geq(cap, tm_panel_store_bound(n));
    unsigned char *out = malloc(cap), *again = malloc(cap), *back = malloc(n ? n : 1);
    cr_assert(out && again && back);
    size_t len = tm_panel_deflate_runs(in, n, out, cap);
    cr_assert_gt(len, 0u, "n = %zu", n);
    cr_assert_leq(len, tm_panel_store_bound(n), "n = %zu", n);
    cr_assert_eq((out[0] * 256 + out[1]) % 31, 0, "zlib header check");
    last_btype = out[2] >> 1 & 3;
    uLongf back_len = (uLongf)n;
    int rc = uncompress(back, &back_len, out, (uLong)len);
    cr_assert_eq(rc, Z_OK, "inflate failed (%d) for n = %zu", rc, n);
    cr_assert_eq(back_len, n, "n = %zu", n);
    cr_assert_eq(memcmp(back, in, n), 0, "round trip differs for n = %zu", n);
    cr_assert_eq(tm_panel_deflate_runs(in, n, again, cap), len);
    cr_assert_eq(memcmp(out, again, len), 0);
    free(out);
    free(again);
    free(back);
    return len;
}

/* Sizes around the match limits: 3 (shortest match), 258 (longest) and
 * its multiples plus one and two (a remainder that must not be a match of
 * one or two bytes), and a few large ones. */
static const size_t run_sizes[] = {0,   1,   2,   3,    4,    5,    7,    8,     9,     15,    16,     17,
                                   64,  255, 256, 257,  258,  259,  260,  261,   262,   515,   516,    517,
                                   518, 519, 774, 1000, 1152, 4096, 7872, 65535, 65536, 94464, 200003, 3 * 65535 + 17};
enum { N_RUN_SIZES = sizeof run_sizes / sizeof run_sizes[0] };
enum { RUN_MAX = 200003 }; /* the largest of run_sizes: inputs are this long */

Test(output_panel, runs_all_zero_inputs_of_many_sizes)
{
    unsigned char *in = calloc(RUN_MAX, 1);
    cr_assert(in);
    for (size_t k = 0; k < N_RUN_SIZES; k++) {
        cr_assert_leq(run_sizes[k], (size_t)RUN_MAX);
        size_t len = runs_roundtrip(in, run_sizes[k]);
        /* One literal and a 258-byte match (at most 13 + 5 bits in the
         * fixed code) every 259 bytes, plus the framing. */
        cr_expect_leq(len, run_sizes[k] * 18 / 259 / 8 + 16, "n = %zu: %zu bytes", run_sizes[k], len);
        if (run_sizes[k] > 0 && run_sizes[k] <= 4096)
            cr_expect_eq(last_btype, 1, "n = %zu: a few zeros need no fitted code", run_sizes[k]);
    }
    for (size_t n = 0; n <= 1100; n++)
        runs_roundtrip(in, n);
    free(in);
}

Test(output_panel, runs_random_inputs_of_many_sizes)
{
    unsigned char *in = malloc(RUN_MAX);
    cr_assert(in);
    uint64_t s = 11;
    for (size_t i = 0; i < RUN_MAX; i++)
        in[i] = (unsigned char)lcg(&s);
    for (size_t k = 0; k < N_RUN_SIZES; k++) {
        runs_roundtrip(in, run_sizes[k]);
        if (run_sizes[k] >= 4096) /* below that the fixed code's framing is shorter */
            cr_expect_eq(last_btype, 0, "n = %zu: random bytes are stored", run_sizes[k]);
    }
    for (size_t n = 0; n <= 600; n++)
        runs_roundtrip(in, n);
    free(in);
}

Test(output_panel, runs_of_every_length_and_value)
{
    /* Runs of lengths 1..600 of changing byte values, back to back, so
     * that every match length and every remainder occur. */
    size_t cap = 0;
    for (size_t r = 1; r <= 600; r++)
        cap += r;
    unsigned char *in = malloc(cap);
    cr_assert(in);
    size_t n = 0;
    for (size_t r = 1; r <= 600; r++) {
        memset(in + n, (int)(r * 37 % 256), r);
        n += r;
    }
    size_t len = runs_roundtrip(in, n);
    cr_expect_lt(len, n / 20, "%zu bytes of runs took %zu", n, len);
    /* Every prefix of the first few runs (cuts inside runs). */
    for (size_t m = 0; m <= 3000; m += 7)
        runs_roundtrip(in, m);
    free(in);
}

Test(output_panel, runs_mixed_inputs_of_many_sizes)
{
    /* Shuffled little-endian int64 counts, as a series chunk holds them:
     * a plane of low bytes, a few of small high bytes, zeros after; and a
     * stretch of random bytes in the middle. */
    size_t elems = 94464 / 8, n = elems * 8;
    unsigned char *in = calloc(n, 1);
    cr_assert(in);
    uint64_t s = 17;
    for (size_t i = 0; i < elems; i++) {
        uint64_t v = lcg(&s) % 4 ? 0 : lcg(&s) % 3000;
        for (size_t b = 0; b < 8; b++)
            in[b * elems + i] = (unsigned char)(v >> (8 * b));
    }
    for (size_t i = n / 2; i < n / 2 + 3000; i++)
        in[i] = (unsigned char)lcg(&s);
    for (size_t k = 0; k < N_RUN_SIZES; k++)
        if (run_sizes[k] <= n)
            runs_roundtrip(in, run_sizes[k]);
    size_t len = runs_roundtrip(in, n);
    cr_expect_eq(last_btype, 2, "a chunk this size gets its own code");
    /* Shorter than literals alone (tm_panel_deflate), which must spend a
     * bit on each of the zeros. */
    unsigned char *lit = malloc(tm_panel_deflate_bound(n));
    cr_assert(lit);
    size_t lit_len = tm_panel_deflate(in, n, lit, tm_panel_deflate_bound(n));
    cr_expect_lt(len, lit_len, "runs %zu bytes, literals %zu", len, lit_len);
    for (size_t m = 1; m < n; m = m * 3 + 1)
        runs_roundtrip(in + n - m, m);
    free(lit);
    free(in);
}

Test(output_panel, runs_refuse_too_small_an_output)
{
    unsigned char in[100] = {0}, out[200];
    cr_expect_eq(tm_panel_deflate_runs(in, sizeof in, out, tm_panel_deflate_runs_bound(sizeof in) - 1), 0u);
    cr_expect_gt(tm_panel_deflate_runs(in, sizeof in, out, sizeof out), 0u);
}
