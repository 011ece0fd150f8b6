/* h5util: the few HDF5 idioms every file writer shares (run files, sweep
 * indexes, comparisons): UTF-8 variable-length strings and scalar
 * attributes. Functions return 0 or -1 and leave no handle open. */
#ifndef TM_H5UTIL_H
#define TM_H5UTIL_H

#include <hdf5.h>

/* A new variable-length UTF-8 string type; the caller closes it. */
hid_t tm_h5_vlen_string(void);

int tm_h5_attr_string(hid_t obj, const char *name, const char *value);
int tm_h5_attr_scalar(hid_t obj, const char *name, hid_t type, const void *value);

#endif
