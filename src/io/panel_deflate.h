/* panel_deflate: fast encoders of zlib streams (RFC 1950 around RFC 1951
 * deflate) for firm panel chunks (tm_panel_deflate) and the run file's
 * series chunks (tm_panel_deflate_runs). A panel chunk becomes one deflate
 * block of literals coded with a Huffman code fitted to the chunk's byte
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

/* Wrap in[0..n) unencoded in a zlib stream (stored blocks of up to 65,535
 * bytes); returns its length, or 0 if cap is below tm_panel_store_bound(n).
 * For chunks too small to repay choosing a code: any inflater reads it. */
size_t tm_panel_store_bound(size_t n);
size_t tm_panel_store(const unsigned char *in, size_t n, unsigned char *out, size_t cap);

/* Encode in[0..n) as a zlib stream for bytes that come in runs (series
 * chunks after HDF5's shuffle: the high bytes of small counts, padding of
 * zeros): a byte repeated three or more times after itself becomes a
 * deflate match at distance 1 (lengths up to 258), other bytes are
 * literals; the block uses the fixed Huffman code or one fitted to the
 * chunk, whichever is shorter, and stored blocks (tm_panel_store) when
 * neither is shorter than the bytes. Returns the stream's length, or 0 if
 * cap is below tm_panel_deflate_runs_bound(n) or memory ran out. The
 * output is a function of the input bytes alone; any inflater reads it. */
size_t tm_panel_deflate_runs_bound(size_t n);
size_t tm_panel_deflate_runs(const unsigned char *in, size_t n, unsigned char *out, size_t cap);

/* Fletcher-32 checksum of data[0..n) as HDF5's Fletcher32 filter computes
 * it (16-bit words, most significant byte first, sums reduced modulo
 * 65535, an odd last byte padded with zero). The filter stores it after
 * the chunk's bytes, least significant byte first; chunks written
 * directly (H5Dwrite_chunk) append it themselves so that HDF5 verifies
 * them on every read. */
unsigned long tm_panel_fletcher32(const unsigned char *data, size_t n);

#endif
