/* sha256: streaming SHA-256 (FIPS 180-4), used to fingerprint parameter files,
 * configurations and outputs so that every result can be traced to its inputs. */
#ifndef TM_SHA256_H
#define TM_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t h[8];     /* chaining value */
    uint64_t length;   /* message bytes consumed so far */
    uint8_t block[64]; /* pending partial block */
    size_t used;       /* bytes pending in block */
} tm_sha256;

void tm_sha256_init(tm_sha256 *ctx);
void tm_sha256_update(tm_sha256 *ctx, const void *data, size_t len);
/* The same with the choice of compression made explicit: hardware 0
 * always takes the portable code, 1 the x86 SHA extensions where the
 * processor has them (what tm_sha256_update does). Both give the same
 * digest; the choice exists so that tests can compare them. */
void tm_sha256_update_with(tm_sha256 *ctx, const void *data, size_t len, int hardware);
/* 1 when tm_sha256_update uses the processor's SHA extensions. */
int tm_sha256_hardware(void);
/* Pads, writes the 32-byte digest; ctx must be re-initialised before reuse. */
void tm_sha256_final(tm_sha256 *ctx, uint8_t out[32]);

/* Lower-case hexadecimal, NUL-terminated. */
void tm_sha256_hex(const uint8_t digest[32], char hex[65]);

/* Digest of one buffer, as lower-case hex. */
void tm_sha256_buffer(const void *data, size_t len, char hex[65]);

#endif
