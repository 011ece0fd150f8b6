#include "io/h5util.h"

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

int tm_h5_describe(hid_t obj, const char *units, const char *description)
{
    return tm_h5_attr_string(obj, "units", units) || tm_h5_attr_string(obj, "description", description) ? -1 : 0;
}

int tm_h5_write_strings(hid_t loc, const char *name, const char *const *values, hsize_t n, const char *description)
{
    hid_t t = tm_h5_vlen_string();
    hid_t space = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(loc, name, t, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = d < 0 || H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) < 0 || tm_h5_describe(d, "", description);
    if (d >= 0)
        H5Dclose(d);
    H5Sclose(space);
    H5Tclose(t);
    return rc ? -1 : 0;
}
