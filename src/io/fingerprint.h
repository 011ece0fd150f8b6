/* fingerprint: a fast 128-bit non-cryptographic hash for bulk data (the firm
 * panel), whose results enter the SHA-256 digest of a run. It guards
 * against accidental differences, not adversaries, at memory speed. */
#ifndef TM_FINGERPRINT_H
#define TM_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>

/* 16 bytes of fingerprint of data[0..len), little-endian lanes. */
void tm_fingerprint(const void *data, size_t len, uint8_t out[16]);

#endif
