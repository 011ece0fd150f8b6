#include "io/fingerprint.h"

#include <string.h>

/* Four independent 64-bit lanes, each absorbing one 8-byte word per round
 * with a multiply and a rotate (so rounds pipeline), then a final avalanche
 * (the SplitMix64 finaliser) over the lanes, the length and the tail. */
static inline uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t finalise(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t load64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

void tm_fingerprint(const void *data, size_t len, uint8_t out[16])
{
    static const uint64_t k[4] = {0x9e3779b97f4a7c15ULL, 0xc2b2ae3d27d4eb4fULL, 0x165667b19e3779f9ULL,
                                  0xd6e8feb86659fd93ULL};
    const unsigned char *p = data;
    uint64_t lane[4] = {k[0], k[1], k[2], k[3]};
    size_t i = 0;
    for (; i + 32 <= len; i += 32)
        for (int j = 0; j < 4; j++)
            lane[j] = rotl(lane[j] ^ (load64(p + i + 8 * (size_t)j) * k[j]), 29) * k[(j + 1) & 3];
    unsigned char tail[32] = {0};
    memcpy(tail, p + i, len - i);
    for (int j = 0; j < 4; j++)
        lane[j] = rotl(lane[j] ^ (load64(tail + 8 * (size_t)j) * k[j]), 29) * k[(j + 1) & 3];
    uint64_t a = finalise(lane[0] ^ rotl(lane[2], 17) ^ (uint64_t)len);
    uint64_t b = finalise(lane[1] ^ rotl(lane[3], 17) ^ a);
    a = finalise(a ^ lane[3]);
    memcpy(out, &a, 8);
    memcpy(out + 8, &b, 8);
}
