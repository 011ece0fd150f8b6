#include "io/h5util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/tmpfile.h"

static herr_t silence(hid_t stack, void *data)
{
    (void)stack;
    (void)data;
    return 0;
}

void tm_h5_quiet(void)
{
    /* Only effective before the library's first use; later calls of
     * H5dont_atexit fail harmlessly. */
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, silence, NULL);
}

hid_t tm_h5_vlen_string(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

int tm_h5_strings_open(tm_h5_strings *s)
{
    s->type = tm_h5_vlen_string();
    s->scalar = H5Screate(H5S_SCALAR);
    /* What tm_h5_transfer gives for so few strings: its 1 KiB floor. */
    s->small = H5Pcreate(H5P_DATASET_XFER);
    if (s->type < 0 || s->scalar < 0 || s->small < 0 || H5Pset_buffer(s->small, 1024, NULL, NULL) < 0) {
        tm_h5_strings_close(s);
        return -1;
    }
    return 0;
}

void tm_h5_strings_close(tm_h5_strings *s)
{
    if (s->type > 0)
        H5Tclose(s->type);
    if (s->scalar > 0)
        H5Sclose(s->scalar);
    if (s->small > 0)
        H5Pclose(s->small);
    s->type = s->scalar = s->small = 0;
}

int tm_h5_strings_scalar(const tm_h5_strings *s, hid_t obj, const char *name, hid_t type, const void *value)
{
    hid_t a = H5Acreate2(obj, name, type, s->scalar, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, type, value);
    if (a >= 0)
        H5Aclose(a);
    return rc < 0 ? -1 : 0;
}

int tm_h5_strings_attr(const tm_h5_strings *s, hid_t obj, const char *name, const char *value)
{
    return tm_h5_strings_scalar(s, obj, name, s->type, &value);
}

int tm_h5_strings_describe(const tm_h5_strings *s, hid_t obj, const char *units, const char *description)
{
    return tm_h5_strings_attr(s, obj, "units", units) || tm_h5_strings_attr(s, obj, "description", description) ? -1
                                                                                                                : 0;
}

int tm_h5_attr_scalar(hid_t obj, const char *name, hid_t type, const void *value)
{
    tm_h5_strings s;
    int rc = tm_h5_strings_open(&s) || tm_h5_strings_scalar(&s, obj, name, type, value);
    tm_h5_strings_close(&s);
    return rc ? -1 : 0;
}

int tm_h5_attr_string(hid_t obj, const char *name, const char *value)
{
    tm_h5_strings s;
    int rc = tm_h5_strings_open(&s) || tm_h5_strings_attr(&s, obj, name, value);
    tm_h5_strings_close(&s);
    return rc ? -1 : 0;
}

int tm_h5_describe(hid_t obj, const char *units, const char *description)
{
    tm_h5_strings s;
    int rc = tm_h5_strings_open(&s) || tm_h5_strings_describe(&s, obj, units, description);
    tm_h5_strings_close(&s);
    return rc ? -1 : 0;
}

hid_t tm_h5_transfer(hid_t dset, hid_t mem_type, hsize_t n)
{
    /* Room for every element at the wider of the two types (vlen strings
     * are 16 bytes in the file against 8 in memory), never below what
     * HDF5 needs for one element, never above its default. */
    size_t elem = H5Tget_size(mem_type), file_elem = 0;
    hid_t file_type = H5Dget_type(dset);
    if (file_type >= 0) {
        file_elem = H5Tget_size(file_type);
        H5Tclose(file_type);
    }
    size_t widest = elem > file_elem ? elem : file_elem;
    size_t bytes = (size_t)(n ? n : 1) * (widest ? widest : 1);
    if (bytes < 1024)
        bytes = 1024;
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    if (dxpl >= 0 && bytes < (size_t)1 << 20 && H5Pset_buffer(dxpl, bytes, NULL, NULL) < 0) {
        H5Pclose(dxpl);
        return -1;
    }
    return dxpl;
}

int tm_h5_write_whole(hid_t dset, hid_t mem_type, const void *data, hsize_t n)
{
    hid_t dxpl = tm_h5_transfer(dset, mem_type, n);
    int rc = dxpl < 0 || H5Dwrite(dset, mem_type, H5S_ALL, H5S_ALL, dxpl, data) < 0;
    if (dxpl >= 0)
        H5Pclose(dxpl);
    return rc ? -1 : 0;
}

int tm_h5_strings_write(const tm_h5_strings *s, hid_t loc, const char *name, const char *const *values, hsize_t n,
                        const char *description, hid_t *keep)
{
    hid_t space = H5Screate_simple(1, &n, NULL);
    hid_t d = space < 0 ? -1 : H5Dcreate2(loc, name, s->type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = d < 0 ||
             (n <= TM_H5_SMALL_STRINGS ? H5Dwrite(d, s->type, H5S_ALL, H5S_ALL, s->small, values) < 0
                                       : tm_h5_write_whole(d, s->type, values, n)) ||
             tm_h5_strings_describe(s, d, "", description);
    if (keep)
        *keep = rc ? -1 : d;
    if (d >= 0 && (rc || !keep))
        H5Dclose(d);
    if (space >= 0)
        H5Sclose(space);
    return rc ? -1 : 0;
}

int tm_h5_write_strings(hid_t loc, const char *name, const char *const *values, hsize_t n, const char *description)
{
    tm_h5_strings s;
    int rc = tm_h5_strings_open(&s) || tm_h5_strings_write(&s, loc, name, values, n, description, NULL);
    tm_h5_strings_close(&s);
    return rc ? -1 : 0;
}

hid_t tm_h5_create_temp(const char *stem, char *name, size_t size, hid_t fcpl, hid_t fapl, tm_error *err)
{
    for (int attempt = 0; attempt < TM_TMPFILE_TRIES; attempt++) {
        if (tm_tmpfile_name(stem, name, size, err))
            return -1;
        /* Something holds the name (drawn twice, or planted): draw another.
         * Tested first because HDF5 opens an existing name read-write (no
         * creation, no truncation) before the exclusive creation refuses it. */
        struct stat st;
        if (lstat(name, &st) == 0)
            continue;
        errno = 0;
        hid_t f = H5Fcreate(name, H5F_ACC_EXCL, fcpl, fapl);
        if (f >= 0)
            return f;
        int saved = errno;
        if (saved == EEXIST)
            continue;
        unlink(name); /* created, then the superblock's write failed (disk full) */
        tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot create the file (%s)", name,
                     saved ? strerror(saved) : "HDF5 error");
        return -1;
    }
    tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot find a free temporary name", stem);
    return -1;
}

static herr_t add_data_bytes(hid_t obj, const char *name, const H5O_info_t *info, void *total)
{
    if (info->type != H5O_TYPE_DATASET)
        return 0;
    hid_t d = H5Dopen2(obj, name, H5P_DEFAULT);
    if (d < 0)
        return 0;
    *(hsize_t *)total += H5Dget_storage_size(d);
    H5Dclose(d);
    return 0;
}

hsize_t tm_h5_data_bytes(hid_t file)
{
    hsize_t total = 0;
    H5Ovisit2(file, H5_INDEX_NAME, H5_ITER_NATIVE, add_data_bytes, &total, H5O_INFO_BASIC);
    return total;
}

static herr_t copy_link(hid_t src, const char *name, const H5L_info_t *info, void *dst)
{
    (void)info;
    return H5Ocopy(src, name, *(hid_t *)dst, name, H5P_DEFAULT, H5P_DEFAULT) < 0 ? -1 : 0;
}

/* One attribute of the source root, read and written in its own type
 * (variable-length strings are read as pointers, then reclaimed). */
static herr_t copy_attribute(hid_t src, const char *name, const H5A_info_t *info, void *dst)
{
    (void)info;
    hid_t a = H5Aopen(src, name, H5P_DEFAULT);
    hid_t t = a < 0 ? -1 : H5Aget_type(a), space = a < 0 ? -1 : H5Aget_space(a);
    hssize_t n = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
    size_t bytes = t < 0 || n < 0 ? 0 : H5Tget_size(t) * (size_t)(n ? n : 1);
    void *buf = bytes ? calloc(1, bytes) : NULL;
    int read = buf && H5Aread(a, t, buf) >= 0;
    hid_t b = read ? H5Acreate2(*(hid_t *)dst, name, t, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
    int rc = b < 0 || H5Awrite(b, t, buf) < 0;
    if (b >= 0)
        H5Aclose(b);
    if (read && (H5Tdetect_class(t, H5T_VLEN) > 0 || H5Tis_variable_str(t) > 0))
        H5Dvlen_reclaim(t, space, H5P_DEFAULT, buf);
    free(buf);
    if (space >= 0)
        H5Sclose(space);
    if (t >= 0)
        H5Tclose(t);
    if (a >= 0)
        H5Aclose(a);
    return rc ? -1 : 0;
}

int tm_h5_copy_file(const char *path, const char *stem, char *name, size_t size, tm_error *err)
{
    hid_t src = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (src < 0)
        return tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot reopen the file to copy it", path);
    hid_t dst = tm_h5_create_temp(stem, name, size, H5P_DEFAULT, H5P_DEFAULT, err);
    if (dst < 0) {
        H5Fclose(src);
        return -1;
    }
    int rc = H5Literate(src, H5_INDEX_NAME, H5_ITER_INC, NULL, copy_link, &dst) < 0;
    rc = rc || H5Aiterate2(src, H5_INDEX_NAME, H5_ITER_INC, NULL, copy_attribute, &dst) < 0;
    rc = rc || H5Fflush(dst, H5F_SCOPE_GLOBAL) < 0;
    rc |= H5Fclose(dst) < 0;
    H5Fclose(src);
    if (rc) {
        unlink(name);
        return tm_error_set(err, TM_ERR_RUNTIME, "%s: copying the file to %s failed (disk full?)", path, name);
    }
    return 0;
}
