#include "base/sha256.h"

#include <string.h>

/* FIPS 180-4 section 4.2.2: first 32 bits of the fractional parts of the
 * cube roots of the first 64 primes. */
static const uint32_t K[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
    0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
    0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
    0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u,
};

static uint32_t rotr(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32u - n));
}

static uint32_t load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static void store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* FIPS 180-4 section 6.2.2 with the usual equivalent forms: Ch(e, f, g) =
 * g ^ (e & (f ^ g)), Maj(a, b, c) = (a & b) | (c & (a | b)), each Sigma as
 * nested rotations (rotr(x, 2) ^ rotr(x, 13) ^ rotr(x, 22) =
 * rotr(rotr(rotr(x, 9) ^ x, 11) ^ x, 2)); the 64 rounds written out, the
 * working variables renamed instead of shifted, the message schedule
 * computed first. About 30% fewer
 * instructions than the round loop written as in the standard (the digest
 * of a run's series is most of what its output costs without the SHA
 * extensions). */
#define BSIG0(x) rotr(rotr(rotr(x, 9) ^ (x), 11) ^ (x), 2)
#define BSIG1(x) rotr(rotr(rotr(x, 14) ^ (x), 5) ^ (x), 6)
#define SSIG0(x) (rotr(x, 7) ^ rotr(x, 18) ^ ((x) >> 3))
#define SSIG1(x) (rotr(x, 17) ^ rotr(x, 19) ^ ((x) >> 10))
#define ROUND(a, b, c, d, e, f, g, h, t, wt)                                                                           \
    do {                                                                                                               \
        uint32_t t1 = (h) + BSIG1(e) + ((g) ^ ((e) & ((f) ^ (g)))) + K[t] + (wt);                                      \
        (h) = t1 + BSIG0(a) + (((a) & (b)) | ((c) & ((a) | (b))));                                                     \
        (d) += t1;                                                                                                     \
    } while (0)
#define EIGHT_ROUNDS(t)                                                                                                \
    do {                                                                                                               \
        ROUND(a, b, c, d, e, f, g, hh, (t), w[t]);                                                                     \
        ROUND(hh, a, b, c, d, e, f, g, (t) + 1, w[(t) + 1]);                                                           \
        ROUND(g, hh, a, b, c, d, e, f, (t) + 2, w[(t) + 2]);                                                           \
        ROUND(f, g, hh, a, b, c, d, e, (t) + 3, w[(t) + 3]);                                                           \
        ROUND(e, f, g, hh, a, b, c, d, (t) + 4, w[(t) + 4]);                                                           \
        ROUND(d, e, f, g, hh, a, b, c, (t) + 5, w[(t) + 5]);                                                           \
        ROUND(c, d, e, f, g, hh, a, b, (t) + 6, w[(t) + 6]);                                                           \
        ROUND(b, c, d, e, f, g, hh, a, (t) + 7, w[(t) + 7]);                                                           \
    } while (0)

static void compress(uint32_t h[8], const uint8_t block[64])
{
    uint32_t w[64];
    for (int t = 0; t < 16; t++)
        w[t] = load_be32(block + 4 * t);
    for (int t = 16; t < 64; t++)
        w[t] = SSIG1(w[t - 2]) + w[t - 7] + SSIG0(w[t - 15]) + w[t - 16];
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    uint32_t e = h[4], f = h[5], g = h[6], hh = h[7];
    EIGHT_ROUNDS(0);
    EIGHT_ROUNDS(8);
    EIGHT_ROUNDS(16);
    EIGHT_ROUNDS(24);
    EIGHT_ROUNDS(32);
    EIGHT_ROUNDS(40);
    EIGHT_ROUNDS(48);
    EIGHT_ROUNDS(56);
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

#undef EIGHT_ROUNDS
#undef ROUND
#undef SSIG1
#undef SSIG0
#undef BSIG1
#undef BSIG0

/* The x86 SHA extensions (SHA-NI) do the same compression in hardware,
 * about ten times the speed of the portable code above: a run's digest
 * hashes every series value it writes, and the portable code was about a
 * quarter of the output time of a 10,000-firm run (docs/performance.md).
 * Built with GCC on x86-64 only (the builtin that reports the feature is
 * GCC's); elsewhere every block takes the portable path. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#define TM_SHA256_HW 1
#include <immintrin.h>

static int hw_available(void)
{
    return __builtin_cpu_supports("sha") && __builtin_cpu_supports("sse4.1") && __builtin_cpu_supports("ssse3");
}

/* `blocks` 64-byte blocks. The state is kept as the instructions want it,
 * (a, b, e, f) and (c, d, g, h); each sha256rnds2 does two rounds, so a
 * group of four message words takes two; the message schedule of FIPS
 * 180-4 eq. 6.2.2 step 1 is sha256msg1 (the sigma0 terms), the add of
 * W[t-7], and sha256msg2 (the sigma1 terms). */
__attribute__((target("sha,sse4.1,ssse3"))) static void compress_hw(uint32_t h[8], const uint8_t *p, size_t blocks)
{
    const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i dcba = _mm_loadu_si128((const __m128i *)&h[0]);
    __m128i hgfe = _mm_loadu_si128((const __m128i *)&h[4]);
    __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
    __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
    __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
    __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
    for (; blocks > 0; blocks--, p += 64) {
        const __m128i abef_in = abef, cdgh_in = cdgh;
        __m128i w[16];
        for (int q = 0; q < 16; q++) {
            if (q < 4)
                w[q] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * q)), byte_swap);
            else
                w[q] = _mm_sha256msg2_epu32(
                    _mm_add_epi32(_mm_sha256msg1_epu32(w[q - 4], w[q - 3]), _mm_alignr_epi8(w[q - 1], w[q - 2], 4)),
                    w[q - 1]);
            __m128i wk = _mm_add_epi32(w[q], _mm_loadu_si128((const __m128i *)&K[4 * q]));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E));
        }
        abef = _mm_add_epi32(abef, abef_in);
        cdgh = _mm_add_epi32(cdgh, cdgh_in);
    }
    __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(dchg, feba, 8));
}
#endif

int tm_sha256_hardware(void)
{
#ifdef TM_SHA256_HW
    return hw_available();
#else
    return 0;
#endif
}

/* `blocks` whole blocks at p, in hardware when asked and available. */
static void compress_blocks(uint32_t h[8], const uint8_t *p, size_t blocks, int hardware)
{
#ifdef TM_SHA256_HW
    if (hardware && hw_available()) {
        compress_hw(h, p, blocks);
        return;
    }
#else
    (void)hardware;
#endif
    for (; blocks > 0; blocks--, p += 64)
        compress(h, p);
}

void tm_sha256_init(tm_sha256 *ctx)
{
    /* Section 5.3.3: fractional parts of the square roots of the first 8 primes. */
    static const uint32_t H0[8] = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
                                   0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u};
    memcpy(ctx->h, H0, sizeof H0);
    ctx->length = 0u;
    ctx->used = 0u;
}

void tm_sha256_update(tm_sha256 *ctx, const void *data, size_t len)
{
    tm_sha256_update_with(ctx, data, len, 1);
}

void tm_sha256_update_with(tm_sha256 *ctx, const void *data, size_t len, int hardware)
{
    if (len == 0u)
        return; /* data may then be NULL, which memcpy must not see */
    const uint8_t *p = data;
    ctx->length += len;
    if (ctx->used > 0u) {
        size_t take = 64u - ctx->used;
        if (take > len)
            take = len;
        memcpy(ctx->block + ctx->used, p, take);
        ctx->used += take;
        p += take;
        len -= take;
        if (ctx->used < 64u)
            return;
        compress_blocks(ctx->h, ctx->block, 1, hardware);
        ctx->used = 0u;
    }
    /* Whole blocks straight from the caller's buffer, without copying. */
    if (len >= 64u) {
        compress_blocks(ctx->h, p, len / 64u, hardware);
        p += len / 64u * 64u;
        len %= 64u;
    }
    if (len > 0u) {
        memcpy(ctx->block, p, len);
        ctx->used = len;
    }
}

void tm_sha256_final(tm_sha256 *ctx, uint8_t out[32])
{
    uint64_t bits = ctx->length * 8u;
    ctx->block[ctx->used++] = 0x80u;
    if (ctx->used > 56u) {
        memset(ctx->block + ctx->used, 0, 64u - ctx->used);
        compress(ctx->h, ctx->block);
        ctx->used = 0u;
    }
    memset(ctx->block + ctx->used, 0, 56u - ctx->used);
    store_be32(ctx->block + 56, (uint32_t)(bits >> 32));
    store_be32(ctx->block + 60, (uint32_t)bits);
    compress(ctx->h, ctx->block);
    for (int i = 0; i < 8; i++)
        store_be32(out + 4 * i, ctx->h[i]);
    ctx->used = 0u;
}

void tm_sha256_hex(const uint8_t digest[32], char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 0x0fu];
    }
    hex[64] = '\0';
}

void tm_sha256_buffer(const void *data, size_t len, char hex[65])
{
    tm_sha256 ctx;
    uint8_t digest[32];
    tm_sha256_init(&ctx);
    tm_sha256_update(&ctx, data, len);
    tm_sha256_final(&ctx, digest);
    tm_sha256_hex(digest, hex);
}
