/* panel_deflate: a fast encoder of zlib streams (RFC 1950 around RFC 1951
 * deflate) for firm panel chunks. Each chunk becomes one deflate block of
 * literals coded with a Huffman code fitted to the chunk's byte
 * frequencies (no string matching). Panel bytes are independent draws from
 * small alphabets with no repeated phrases, so this compresses them as
 * well as zlib's run-length strategy at several times its speed, and any
 * inflater (HDF5's standard deflate filter, h5py, zlib) reads the result.
 * The output is a function of the input bytes alone. */
#ifndef TM_PANEL_DEFLATE_H
#define TM_PANEL_DEFLATE_H

#include <stddef.h>

/* Bytes of output space that always suffice for n input bytes. */
size_t tm_panel_deflate_bound(size_t n);

/* Encode in[0..n) as a zlib stream into out[0..cap); returns its length,
 * or 0 if cap was too small. */
size_t tm_panel_deflate(const unsigned char *in, size_t n, unsigned char *out, size_t cap);

#endif
