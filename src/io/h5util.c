#include "io/h5util.h"

hid_t tm_h5_vlen_string(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

int tm_h5_attr_scalar(hid_t obj, const char *name, hid_t type, const void *value)
{
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, type, value);
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(space);
    return rc < 0 ? -1 : 0;
}

int tm_h5_attr_string(hid_t obj, const char *name, const char *value)
{
    hid_t t = tm_h5_vlen_string();
    int rc = tm_h5_attr_scalar(obj, name, t, &value);
    H5Tclose(t);
    return rc;
}
