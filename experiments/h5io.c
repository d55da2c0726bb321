/* SPDX-License-Identifier: MIT
 *
 * h5io.c: shared HDF5 helpers of results.c and weights.c (see h5io.h).
 */
#include "experiments/h5io.h"

#include <errno.h>
#include <string.h>

void mx_h5_close(hid_t *id)
{
    if (*id < 0)
        return;
    switch (H5Iget_type(*id)) {
    case H5I_FILE: H5Fclose(*id); break;
    case H5I_GROUP: H5Gclose(*id); break;
    case H5I_DATASET: H5Dclose(*id); break;
    case H5I_DATASPACE: H5Sclose(*id); break;
    case H5I_DATATYPE: H5Tclose(*id); break;
    case H5I_ATTR: H5Aclose(*id); break;
    case H5I_GENPROP_LST: H5Pclose(*id); break;
    default: break;
    }
    *id = H5I_INVALID_HID;
}

herr_t mx_h5_attr_write(hid_t loc, const char *name, hid_t file_type, hid_t mem_type, size_t n,
                        const void *value)
{
    htri_t exists = H5Aexists(loc, name);
    if (exists < 0 || (exists > 0 && H5Adelete(loc, name) < 0))
        return -1;
    hsize_t dims[1] = {n};
    hid_t space = n ? H5Screate_simple(1, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t attr = H5I_INVALID_HID;
    herr_t rc = -1;
    if (space < 0)
        return -1;
    attr = H5Acreate2(loc, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (attr >= 0)
        rc = H5Awrite(attr, mem_type, value);
    mx_h5_close(&attr);
    mx_h5_close(&space);
    return rc;
}

herr_t mx_h5_attr_string(hid_t loc, const char *name, const char *value)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    herr_t rc = -1;
    if (type < 0)
        return -1;
    if (H5Tset_size(type, H5T_VARIABLE) >= 0 && H5Tset_cset(type, H5T_CSET_UTF8) >= 0)
        rc = mx_h5_attr_write(loc, name, type, type, 0, &value);
    mx_h5_close(&type);
    return rc;
}

const char *mx_h5_errno_text(int err, const char *fallback)
{
    return err ? strerror(err) : fallback;
}

mx_status mx_h5_open_read(const char *path, hid_t *file)
{
    errno = 0;
    *file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (*file >= 0)
        return MX_OK;
    if (errno == EAGAIN || errno == EWOULDBLOCK) /* HDF5's flock(2) */
        return mx_fail(MX_EIO, "%s: locked by another process (a sweep still writing it? "
                               "set HDF5_USE_FILE_LOCKING=FALSE to read it anyway)", path);
    return mx_fail(MX_EFORMAT, "%s: cannot open as HDF5 (truncated or corrupt?)", path);
}

mx_status mx_h5_check_file(const char *path)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    errno = 0;
    htri_t is_h5 = H5Fis_hdf5(path);
    if (is_h5 < 0)
        return mx_fail(MX_EIO, "%s: cannot open (%s)", path,
                       mx_h5_errno_text(errno, "missing or unreadable?"));
    if (is_h5 == 0)
        return mx_fail(MX_EFORMAT, "%s: not an HDF5 file", path);
    return MX_OK;
}
