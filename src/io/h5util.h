/* h5util: the few HDF5 idioms every file writer and the reader share (run
 * files, sweep indexes, comparisons): quiet error stacks, UTF-8 strings,
 * scalar attributes, described datasets. Functions return 0 or -1 and
 * leave no handle open. */
#ifndef TM_H5UTIL_H
#define TM_H5UTIL_H

#include <hdf5.h>
#include <stddef.h>

#include "base/error.h"

/* Silence HDF5's own error printing (we report our own messages) and turn
 * off its shutdown at exit: after a failed write (disk full) HDF5 1.10
 * cannot close the file and its exit handler then crashes on it. Every
 * file is closed or discarded explicitly before exit. */
void tm_h5_quiet(void);

/* A new variable-length UTF-8 string type; the caller closes it. */
hid_t tm_h5_vlen_string(void);

/* One variable-length UTF-8 string type and one scalar dataspace shared by
 * the many attributes of a file: creating and closing them for every
 * attribute cost a fifth of each attribute's instructions. */
typedef struct {
    hid_t type;   /* variable-length UTF-8 string */
    hid_t scalar; /* scalar dataspace */
    hid_t small;  /* transfer list for up to TM_H5_SMALL_STRINGS strings (tm_h5_transfer's 1 KiB) */
} tm_h5_strings;

#define TM_H5_SMALL_STRINGS 32

/* 0, or -1 with nothing left open; close with tm_h5_strings_close (also
 * safe on a zeroed or failed one). */
int tm_h5_strings_open(tm_h5_strings *s);
void tm_h5_strings_close(tm_h5_strings *s);
/* A scalar string attribute; a scalar attribute of `type`; the `units`
 * and `description` pair (tm_h5_describe), all through `s`. */
int tm_h5_strings_attr(const tm_h5_strings *s, hid_t obj, const char *name, const char *value);
int tm_h5_strings_scalar(const tm_h5_strings *s, hid_t obj, const char *name, hid_t type, const void *value);
int tm_h5_strings_describe(const tm_h5_strings *s, hid_t obj, const char *units, const char *description);

int tm_h5_attr_string(hid_t obj, const char *name, const char *value);
int tm_h5_attr_scalar(hid_t obj, const char *name, hid_t type, const void *value);

/* The `units` and `description` attributes every dataset carries. */
int tm_h5_describe(hid_t obj, const char *units, const char *description);

/* A transfer property list for moving n elements of `dset` as `mem_type`
 * whose conversion buffer fits them, instead of HDF5's 1 MiB default:
 * HDF5 zeroes a background buffer of that size for every read or write
 * that converts variable-length strings (2 MiB of memory traffic for a
 * name list; 13 M instructions, 3-4% of a 10,000-firm run, and most of
 * the reading of a run file for a sweep's index). -1 on failure; the
 * caller closes it. */
hid_t tm_h5_transfer(hid_t dset, hid_t mem_type, hsize_t n);

/* Write all n elements of `dset` from `data` through tm_h5_transfer. */
int tm_h5_write_whole(hid_t dset, hid_t mem_type, const void *data, hsize_t n);

/* A 1-D dataset of n variable-length strings, described; the first
 * through `s`'s string type (and, for a few strings, its transfer list),
 * the dataset left open in *keep when keep is not NULL (the caller closes
 * it; -1 there on failure). */
int tm_h5_strings_write(const tm_h5_strings *s, hid_t loc, const char *name, const char *const *values, hsize_t n,
                        const char *description, hid_t *keep);
int tm_h5_write_strings(hid_t loc, const char *name, const char *const *values, hsize_t n, const char *description);

/* Create an HDF5 file under a fresh temporary name next to its final
 * name (base/tmpfile.h: STEM-random). A name that exists (a planted link,
 * a FIFO) is skipped for another, and HDF5 creates the file with
 * H5F_ACC_EXCL (O_CREAT|O_EXCL), which refuses a name planted in between.
 * One creation, not a file of our own that HDF5 reopens with O_TRUNC
 * through /proc/self/fd/N: ext4 writes a file truncated on open back to
 * disk when the first descriptor closes. Returns the file, its name in
 * `name`; -1 with `err` set (nothing left behind). */
hid_t tm_h5_create_temp(const char *stem, char *name, size_t size, hid_t fcpl, hid_t fapl, tm_error *err);

/* Bytes the datasets of an open file occupy in it (their stored chunks or
 * contiguous data), without the file's metadata and unused space. */
hsize_t tm_h5_data_bytes(hid_t file);

/* Copy the closed file `path` into a new temporary (tm_h5_create_temp,
 * default creation properties): every object below the root and the
 * root's attributes. Chunks are copied as stored (compressed, with their
 * checksums), so the data are the same; the copy holds no space the
 * original leaked. The copy's name goes to `name`; -1 with `err` set and
 * nothing left behind on failure. */
int tm_h5_copy_file(const char *path, const char *stem, char *name, size_t size, tm_error *err);

#endif
