/* panel_deflate: a fast encoder of zlib streams (RFC 1950/1951) for firm
 * panel chunks. See panel_deflate.h. */
#include "io/panel_deflate.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define MAX_BITS 15
#define N_LIT 257    /* literals 0..255 and end-of-block 256; no lengths */
#define N_LITLEN 286 /* with the length codes 257..285 */
#define MAX_SYMS 288 /* the fixed code's alphabet (RFC 1951 3.2.6) */
#define TM_RUNS_FIT_BYTES 4096

/* Sort n distinct keys ascending: bottom-up merge sort through tmp (a few
 * hundred keys; qsort's calls of a comparison cost several times more). */
static void sort_keys(uint64_t *key, uint64_t *tmp, int n)
{
    uint64_t *a = key, *b = tmp;
    for (int width = 1; width < n; width *= 2) {
        for (int lo = 0; lo < n; lo += 2 * width) {
            int mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            int i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                b[k++] = a[i] < a[j] ? a[i++] : a[j++];
            while (i < mid)
                b[k++] = a[i++];
            while (j < hi)
                b[k++] = a[j++];
        }
        uint64_t *t = a;
        a = b;
        b = t;
    }
    if (a != key)
        memcpy(key, a, (size_t)n * sizeof *key);
}

/* Huffman code lengths of n symbols with frequencies freq (0 = unused),
 * at most MAX_BITS bits, forming a complete prefix code whenever two or
 * more symbols are used. Ties are broken by symbol index, so the result is
 * a function of the frequencies alone. */
static void code_lengths(const uint32_t *freq, int n, uint8_t *len)
{
    int sym[MAX_SYMS], used = 0;
    memset(len, 0, (size_t)n);
    for (int s = 0; s < n; s++)
        if (freq[s])
            sym[used++] = s;
    if (used == 0)
        return;
    if (used == 1) {
        len[sym[0]] = 1;
        return;
    }
    /* Sort used symbols by frequency ascending, ties by symbol index: keys
     * (frequency, symbol) are distinct, so the order is a function of the
     * frequencies alone. */
    uint64_t key[MAX_SYMS], tmp[MAX_SYMS];
    for (int i = 0; i < used; i++)
        key[i] = (uint64_t)freq[sym[i]] << 16 | (uint64_t)sym[i];
    sort_keys(key, tmp, used);
    for (int i = 0; i < used; i++)
        sym[i] = (int)(key[i] & 0xFFFF);
    /* Two-queue Huffman construction: leaves in sorted order, internal
     * nodes in creation order (non-decreasing weights). */
    uint64_t w[2 * MAX_SYMS];
    int parent[2 * MAX_SYMS];
    for (int i = 0; i < used; i++)
        w[i] = freq[sym[i]];
    int leaf = 0, node = used, next = used;
    for (int k = 0; k < used - 1; k++) {
        int pick[2];
        for (int c = 0; c < 2; c++) {
            if (leaf < used && (node >= next || w[leaf] <= w[node]))
                pick[c] = leaf++;
            else
                pick[c] = node++;
        }
        w[next] = w[pick[0]] + w[pick[1]];
        parent[pick[0]] = parent[pick[1]] = next;
        next++;
    }
    /* Depths: the root is next - 1, parents come after their children. */
    int depth[2 * MAX_SYMS];
    depth[next - 1] = 0;
    for (int i = next - 2; i >= 0; i--)
        depth[i] = depth[parent[i]] + 1;
    /* Count leaves per length, fold lengths above MAX_BITS and restore a
     * complete code (Kraft sum exactly 1), then hand out lengths, shortest
     * to the most frequent symbols. */
    int count[2 * MAX_SYMS + 1] = {0};
    int max_depth = 0;
    for (int i = 0; i < used; i++) {
        count[depth[i]]++;
        if (depth[i] > max_depth)
            max_depth = depth[i];
    }
    if (max_depth > MAX_BITS) {
        for (int d = MAX_BITS + 1; d <= max_depth; d++) {
            count[MAX_BITS] += count[d];
            count[d] = 0;
        }
        uint32_t total = 0;
        for (int d = 1; d <= MAX_BITS; d++)
            total += (uint32_t)count[d] << (MAX_BITS - d);
        while (total != 1u << MAX_BITS) {
            count[MAX_BITS]--;
            for (int d = MAX_BITS - 1; d > 0; d--)
                if (count[d]) {
                    count[d]--;
                    count[d + 1] += 2;
                    break;
                }
            total--;
        }
    }
    int i = used - 1; /* most frequent first */
    for (int d = 1; d <= MAX_BITS && i >= 0; d++)
        for (int c = 0; c < count[d]; c++)
            len[sym[i--]] = (uint8_t)d;
}

/* Bytes with their bits in reverse order. */
#define R2(n) n, n + 2 * 64, n + 1 * 64, n + 3 * 64
#define R4(n) R2(n), R2(n + 2 * 16), R2(n + 1 * 16), R2(n + 3 * 16)
#define R6(n) R4(n), R4(n + 2 * 4), R4(n + 1 * 4), R4(n + 3 * 4)
static const unsigned char rev8[256] = {R6(0), R6(2), R6(1), R6(3)};
#undef R2
#undef R4
#undef R6

/* Canonical codes (RFC 1951 3.2.2), bit-reversed for LSB-first output. */
static void canonical_codes(const uint8_t *len, int n, uint16_t *code)
{
    int bl_count[MAX_BITS + 1] = {0};
    uint16_t next_code[MAX_BITS + 1];
    for (int s = 0; s < n; s++)
        bl_count[len[s]]++;
    bl_count[0] = 0;
    unsigned c = 0;
    for (int b = 1; b <= MAX_BITS; b++) {
        c = (c + (unsigned)bl_count[b - 1]) << 1;
        next_code[b] = (uint16_t)c;
    }
    for (int s = 0; s < n; s++) {
        code[s] = 0;
        if (!len[s])
            continue;
        unsigned v = next_code[len[s]]++;
        code[s] = (uint16_t)(((unsigned)rev8[v & 0xFF] << 8 | rev8[v >> 8]) >> (16 - len[s]));
    }
}

typedef struct {
    unsigned char *out, *end;
    uint64_t buf;
    int bits;
} bit_writer;

static inline void put_bits(bit_writer *w, uint64_t v, int n)
{
    w->buf |= v << w->bits;
    w->bits += n;
    if (w->bits >= 32) {
        if (w->out + 4 <= w->end) {
            uint32_t x = (uint32_t)w->buf;
            unsigned char b[4] = {(unsigned char)x, (unsigned char)(x >> 8), (unsigned char)(x >> 16),
                                  (unsigned char)(x >> 24)};
            memcpy(w->out, b, 4);
        }
        w->out += 4;
        w->buf >>= 32;
        w->bits -= 32;
    }
}

/* The header of a dynamic-Huffman block (BTYPE 2) after its final-block
 * bit: the first hlit literal/length code lengths (each at most 15), and
 * two distance codes of one bit each (code 0 is distance 1). */
static void put_dynamic_header(bit_writer *w, const uint8_t *len, int hlit)
{
    put_bits(w, 2, 2);
    put_bits(w, (uint64_t)(hlit - 257), 5); /* HLIT */
    put_bits(w, 2 - 1, 5);                  /* HDIST: two distance codes */
    put_bits(w, 19 - 4, 4);                 /* HCLEN: all 19 code-length code lengths */
    /* Code-length code: symbols 0..15 (literal lengths) get 4 bits each,
     * 16-18 (repeats) are unused; complete since 16 x 2^-4 = 1. In the
     * transmission order 16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13,
     * 2, 14, 1, 15 that is three zeros then sixteen fours. */
    for (int k = 0; k < 19; k++)
        put_bits(w, k < 3 ? 0 : 4, 3);
    /* With all lengths 4 bits, the canonical code of length value v is v,
     * sent most significant bit first. */
    static const uint8_t rev4[16] = {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15};
    for (int s = 0; s < hlit; s++)
        put_bits(w, rev4[len[s]], 4);
    put_bits(w, rev4[1], 4);
    put_bits(w, rev4[1], 4);
}

/* Ends a zlib stream whose last block's end code is written: pads to a
 * byte boundary, flushes the bits and appends the Adler-32 of the n input
 * bytes. Returns the stream's length, or 0 if it does not fit in cap. */
static size_t finish_stream(bit_writer *w, const unsigned char *in, size_t n, unsigned char *out, size_t cap)
{
    put_bits(w, 0, (8 - (w->bits & 7)) & 7);
    while (w->bits > 0) {
        if (w->out < w->end)
            *w->out = (unsigned char)w->buf;
        w->out++;
        w->buf >>= 8;
        w->bits -= 8;
    }
    if (w->out + 4 > out + cap || w->out > w->end)
        return 0;
    uint32_t a = (uint32_t)adler32(adler32(0L, Z_NULL, 0), in, (uInt)n);
    w->out[0] = (unsigned char)(a >> 24);
    w->out[1] = (unsigned char)(a >> 16);
    w->out[2] = (unsigned char)(a >> 8);
    w->out[3] = (unsigned char)a;
    return (size_t)(w->out + 4 - out);
}

size_t tm_panel_deflate_bound(size_t n)
{
    /* Header 2 + block header and code lengths < 160 + at most 15 bits per
     * byte + end of block and padding 4 + adler-32 4. */
    return n * 15 / 8 + 256;
}

size_t tm_panel_deflate(const unsigned char *in, size_t n, unsigned char *out, size_t cap)
{
    uint32_t freq[N_LIT] = {0};
    {
        uint32_t f[4][256];
        memset(f, 0, sizeof f);
        size_t i = 0;
        for (; i + 4 <= n; i += 4) {
            f[0][in[i]]++;
            f[1][in[i + 1]]++;
            f[2][in[i + 2]]++;
            f[3][in[i + 3]]++;
        }
        for (; i < n; i++)
            f[0][in[i]]++;
        for (int s = 0; s < 256; s++)
            freq[s] = f[0][s] + f[1][s] + f[2][s] + f[3][s];
    }
    freq[256] = 1; /* end of block */
    uint8_t len[N_LIT];
    uint16_t code[N_LIT];
    code_lengths(freq, N_LIT, len);
    canonical_codes(len, N_LIT, code);

    if (cap < 8)
        return 0;
    bit_writer w = {out, out + cap - 8, 0, 0};
    /* zlib header: deflate, 32 KiB window, no dictionary, level "fastest". */
    put_bits(&w, 0x78, 8);
    put_bits(&w, 0x01, 8);
    /* One final block with dynamic Huffman codes (distance codes never used). */
    put_bits(&w, 1, 1);
    put_dynamic_header(&w, len, N_LIT);
    /* The data: one literal per byte. Codes are at most 15 bits, so two fit
     * in the buffer before it must be flushed. */
    uint32_t table[256];
    for (int s = 0; s < 256; s++)
        table[s] = (uint32_t)code[s] | (uint32_t)len[s] << 16;
    size_t i = 0;
    if (n >= 2 && (size_t)(w.end - w.out) >= (n * 15 + 7) / 8 + 8) {
        /* Fast path: room for the worst case, no bounds checks. */
        unsigned char *o = w.out;
        uint64_t buf = w.buf;
        int bits = w.bits;
        for (; i + 2 <= n; i += 2) {
            uint32_t a = table[in[i]], b = table[in[i + 1]];
            buf |= (uint64_t)(a & 0xFFFF) << bits;
            bits += (int)(a >> 16);
            buf |= (uint64_t)(b & 0xFFFF) << bits;
            bits += (int)(b >> 16);
            if (bits >= 32) {
                uint32_t x = (uint32_t)buf;
                o[0] = (unsigned char)x;
                o[1] = (unsigned char)(x >> 8);
                o[2] = (unsigned char)(x >> 16);
                o[3] = (unsigned char)(x >> 24);
                o += 4;
                buf >>= 32;
                bits -= 32;
            }
        }
        w.out = o;
        w.buf = buf;
        w.bits = bits;
    }
    for (; i < n; i++)
        put_bits(&w, code[in[i]], len[in[i]]);
    put_bits(&w, code[256], len[256]);
    return finish_stream(&w, in, n, out, cap);
}

size_t tm_panel_store_bound(size_t n)
{
    /* Header 2 + 5 a block (at least one) + adler-32 4. */
    return n + 5 * (n / 65535 + 1) + 6;
}

size_t tm_panel_store(const unsigned char *in, size_t n, unsigned char *out, size_t cap)
{
    if (cap < tm_panel_store_bound(n))
        return 0;
    unsigned char *o = out;
    *o++ = 0x78; /* zlib header as tm_panel_deflate writes it */
    *o++ = 0x01;
    size_t done = 0;
    do {
        size_t len = n - done < 65535 ? n - done : 65535;
        /* BFINAL on the last block, BTYPE 00 (stored), padded to the byte;
         * then LEN and its one's complement NLEN, little-endian. */
        *o++ = done + len == n ? 1 : 0;
        o[0] = (unsigned char)len;
        o[1] = (unsigned char)(len >> 8);
        o[2] = (unsigned char)~len;
        o[3] = (unsigned char)(~len >> 8);
        memcpy(o + 4, in + done, len);
        o += 4 + len;
        done += len;
    } while (done < n);
    uint32_t a = (uint32_t)adler32(adler32(0L, Z_NULL, 0), in, (uInt)n);
    o[0] = (unsigned char)(a >> 24);
    o[1] = (unsigned char)(a >> 16);
    o[2] = (unsigned char)(a >> 8);
    o[3] = (unsigned char)a;
    return (size_t)(o + 4 - out);
}

unsigned long tm_panel_fletcher32(const unsigned char *data, size_t n)
{
    unsigned long sum1 = 0, sum2 = 0;
    size_t words = n / 2;
    /* 360 words keep both sums below 2^32 before they are folded. */
    while (words) {
        size_t block = words > 360 ? 360 : words;
        words -= block;
        for (size_t i = 0; i < block; i++, data += 2) {
            sum1 += ((unsigned long)data[0] << 8) | data[1];
            sum2 += sum1;
        }
        sum1 = (sum1 & 0xffff) + (sum1 >> 16);
        sum2 = (sum2 & 0xffff) + (sum2 >> 16);
    }
    if (n % 2) {
        sum1 += (unsigned long)data[0] << 8;
        sum2 += sum1;
        sum1 = (sum1 & 0xffff) + (sum1 >> 16);
        sum2 = (sum2 & 0xffff) + (sum2 >> 16);
    }
    sum1 = (sum1 & 0xffff) + (sum1 >> 16);
    sum2 = (sum2 & 0xffff) + (sum2 >> 16);
    return ((sum2 & 0xffff) << 16) | (sum1 & 0xffff);
}

/* Run-length tokens: a byte equal to the one before it, repeated r >= 3
 * times, becomes one match of length r (up to 258) at distance 1; every
 * other byte is a literal. A token is its literal (0..255) or 256 + the
 * match length. Returns the number of tokens. */
static size_t run_tokens(const unsigned char *in, size_t n, uint16_t *tok)
{
    size_t t = 0, i = 0;
    while (i < n) {
        unsigned char b = in[i];
        tok[t++] = b;
        size_t j = i + 1;
        if (j + 8 <= n) {
            uint64_t pattern = 0x0101010101010101ull * b, v;
            memcpy(&v, in + j, 8);
            while (v == pattern) {
                j += 8;
                if (j + 8 > n)
                    break;
                memcpy(&v, in + j, 8);
            }
        }
        while (j < n && in[j] == b)
            j++;
        size_t r = j - i - 1; /* repeats after the literal */
        while (r >= 3) {
            size_t m = r < 258 ? r : 258;
            if (r - m > 0 && r - m < 3)
                m = r - 3; /* leave a whole match, not one or two literals */
            tok[t++] = (uint16_t)(256 + m);
            r -= m;
        }
        while (r--)
            tok[t++] = b;
        i = j;
    }
    return t;
}

/* RFC 1951 3.2.5: length codes 257..285, their base lengths and extra bits. */
static const uint16_t len_base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                      31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                      2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};

size_t tm_panel_deflate_runs_bound(size_t n)
{
    return tm_panel_store_bound(n);
}

size_t tm_panel_deflate_runs(const unsigned char *in, size_t n, unsigned char *out, size_t cap)
{
    if (cap < tm_panel_deflate_runs_bound(n))
        return 0;
    /* The code of each match length: symbol, extra bits and their value. */
    uint8_t code_of[259];
    for (int c = 0; c < 29; c++)
        for (int m = len_base[c]; m < (c == 28 ? 259 : len_base[c + 1]); m++)
            code_of[m] = (uint8_t)c;
    uint16_t *tok = malloc((n ? n : 1) * sizeof *tok);
    if (!tok)
        return 0;
    size_t n_tok = run_tokens(in, n, tok);
    uint32_t freq[MAX_SYMS] = {0};
    uint64_t extra_bits = 0, matches = 0;
    for (size_t k = 0; k < n_tok; k++) {
        if (tok[k] < 256) {
            freq[tok[k]]++;
        } else {
            int c = code_of[tok[k] - 256];
            freq[257 + c]++;
            extra_bits += len_extra[c];
            matches++;
        }
    }
    freq[256] = 1;
    /* The fixed code (no header) and, for inputs over TM_RUNS_FIT_BYTES,
     * a code fitted to the frequencies (its code lengths sent with 4 bits
     * each: about 150 bytes, which a smaller input seldom repays, while
     * building the code costs as much as encoding a few kilobytes); the
     * stream takes the shorter, or stored blocks when neither saves
     * anything. */
    uint8_t fixed_len[MAX_SYMS], fitted_len[MAX_SYMS];
    for (int s = 0; s < MAX_SYMS; s++)
        fixed_len[s] = s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8;
    uint64_t fixed_bits = 3 + extra_bits + 5 * matches, fitted_bits = UINT64_MAX;
    for (int s = 0; s < N_LITLEN; s++)
        fixed_bits += (uint64_t)freq[s] * fixed_len[s];
    int hlit = 257;
    if (n > TM_RUNS_FIT_BYTES) {
        code_lengths(freq, N_LITLEN, fitted_len);
        for (int s = 257; s < N_LITLEN; s++)
            if (fitted_len[s])
                hlit = s + 1;
        fitted_bits = 3 + 5 + 5 + 4 + 19 * 3 + 4 * ((uint64_t)hlit + 2) + extra_bits + matches;
        for (int s = 0; s < N_LITLEN; s++)
            fitted_bits += (uint64_t)freq[s] * fitted_len[s];
    }
    int fitted = fitted_bits < fixed_bits;
    uint64_t bits = fitted ? fitted_bits : fixed_bits;
    /* zlib header, the block, Adler-32 (the bit counts are exact): the
     * choice depends on the input alone, and an encoded stream always
     * fits the room a stored one needs. */
    if ((16 + bits + 7) / 8 + 4 >= tm_panel_store_bound(n)) {
        free(tok);
        return tm_panel_store(in, n, out, cap);
    }
    const uint8_t *len = fitted ? fitted_len : fixed_len;
    uint16_t code[MAX_SYMS];
    canonical_codes(len, fitted ? N_LITLEN : MAX_SYMS, code);

    bit_writer w = {out, out + cap - 4, 0, 0};
    put_bits(&w, 0x78, 8); /* zlib header as tm_panel_deflate writes it */
    put_bits(&w, 0x01, 8);
    put_bits(&w, 1, 1); /* the final block */
    if (fitted)
        put_dynamic_header(&w, len, hlit); /* distance code 0 is distance 1 */
    else
        put_bits(&w, 1, 2);
    /* Distance 1 is distance code 0: one bit (0) in the fitted code, five
     * zero bits in the fixed one. */
    const int dist_bits = fitted ? 1 : 5;
    for (size_t k = 0; k < n_tok; k++) {
        uint16_t t = tok[k];
        if (t < 256) {
            put_bits(&w, code[t], len[t]);
            continue;
        }
        int m = t - 256, c = code_of[m];
        put_bits(&w, code[257 + c], len[257 + c]);
        if (len_extra[c])
            put_bits(&w, (uint64_t)(m - len_base[c]), len_extra[c]);
        put_bits(&w, 0, dist_bits);
    }
    free(tok);
    put_bits(&w, code[256], len[256]);
    return finish_stream(&w, in, n, out, cap);
}
