/* SPDX-License-Identifier: MIT
 *
 * weights.c: trained networks in HDF5 (format in weights.h and
 * docs/results-format.md). Training writes a network here so later sweeps
 * with the same training key skip it; the runner loads it back before
 * converting it to a spiking network.
 *
 * Saving goes through <path>.tmp and rename(2), so a reader sees either the
 * old file or the whole new one. Loading trusts nothing: the format string,
 * version, layer count, sizes, every dataset's type and shape and every
 * weight's finiteness are checked before the network is handed out, and a
 * bad file fails MX_EFORMAT naming the file and what was wrong. HDF5's own
 * error printing is switched off; every identifier opened is closed on every
 * path.
 *
 * Several processes may share one cache folder (the ranks of a distributed
 * sweep, two sweeps at once): mx_cache_lock serialises the find-train-save
 * of one training key across them, so a network is trained once and no two
 * writers meet on its <path>.tmp.
 */
#include "experiments/weights.h"
#include "experiments/h5io.h"

#include <hdf5.h>

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define WEIGHTS_FORMAT "memxbar-weights"
#define WEIGHTS_FORMAT_VERSION 1
#define TMP_SUFFIX ".tmp"

/* ---- writing ------------------------------------------------------------ */

static mx_status check_net(const char *path, const mx_mlp *net)
{
    if (net->n_layers < 1 || net->n_layers > MX_MLP_MAX_LAYERS)
        return mx_fail(MX_EINVAL, "%s: network has %zu layers, expected 1..%d", path,
                       net->n_layers, MX_MLP_MAX_LAYERS);
    for (size_t l = 0; l <= net->n_layers; l++)
        if (net->sizes[l] == 0)
            return mx_fail(MX_EINVAL, "%s: network size %zu is 0", path, l);
    for (size_t l = 0; l < net->n_layers; l++) {
        size_t n = mx_size_mul(net->sizes[l + 1], net->sizes[l]);
        if (!net->w[l] || n == 0)
            return mx_fail(MX_EINVAL, "%s: layer %zu has no weights", path, l);
        for (size_t i = 0; i < n; i++)
            if (!isfinite(net->w[l][i]))
                return mx_fail(MX_ENUMERIC,
                               "%s: layer %zu weight [%zu][%zu] is %g; refusing to save", path,
                               l, i / net->sizes[l], i % net->sizes[l], (double)net->w[l][i]);
    }
    return MX_OK;
}

static herr_t write_layer(hid_t layers, size_t l, const mx_mlp *net)
{
    char name[32];
    hsize_t dims[2] = {net->sizes[l + 1], net->sizes[l]};
    hid_t group = H5I_INVALID_HID, space = H5I_INVALID_HID, dset = H5I_INVALID_HID;
    herr_t rc = -1;
    snprintf(name, sizeof name, "%zu", l);
    group = H5Gcreate2(layers, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    space = H5Screate_simple(2, dims, NULL);
    /* One chunk with HDF5's Fletcher-32 checksum: a weight changed on disk
     * fails the load (the runner then retrains) instead of loading a wrong
     * network; h5py and scripts/export_torch.py readers handle the filter.
     * A layer past HDF5's 4 GiB chunk limit stays contiguous. */
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (dcpl >= 0 && dims[0] * dims[1] * sizeof(float) < ((hsize_t)1 << 32) &&
        (H5Pset_chunk(dcpl, 2, dims) < 0 || H5Pset_fletcher32(dcpl) < 0))
        mx_h5_close(&dcpl);
    if (group >= 0 && space >= 0 && dcpl >= 0)
        dset = H5Dcreate2(group, "weight", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl,
                          H5P_DEFAULT);
    if (dset >= 0)
        rc = H5Dwrite(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, net->w[l]);
    mx_h5_close(&dcpl);
    mx_h5_close(&dset);
    mx_h5_close(&space);
    mx_h5_close(&group);
    return rc;
}

mx_status mx_weights_save(const char *path, const mx_mlp *net, const char *key,
                          double ann_test_accuracy)
{
    assert(path && net);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    mx_status st = check_net(path, net);
    if (st != MX_OK)
        return st;
    size_t len = strlen(path);
    char *tmp = mx_alloc(len + sizeof TMP_SUFFIX);
    if (!tmp)
        return mx_fail(MX_ENOMEM, "%s: no memory", path);
    memcpy(tmp, path, len);
    memcpy(tmp + len, TMP_SUFFIX, sizeof TMP_SUFFIX);

    errno = 0;
    hid_t file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t layers = H5I_INVALID_HID;
    if (file < 0) {
        st = mx_fail(MX_EIO, "%s: cannot create HDF5 file (%s)", tmp,
                     mx_h5_errno_text(errno, "directory missing or not writable?"));
        mx_free(tmp);
        return st;
    }
    uint64_t version = WEIGHTS_FORMAT_VERSION, n_layers = net->n_layers;
    uint64_t sizes[MX_MLP_MAX_LAYERS + 1];
    for (size_t l = 0; l <= net->n_layers; l++)
        sizes[l] = net->sizes[l];
    if (mx_h5_attr_string(file, "format", WEIGHTS_FORMAT) < 0 ||
        mx_h5_attr_write(file, "format_version", H5T_STD_U64LE, H5T_NATIVE_UINT64, 0, &version) < 0 ||
        mx_h5_attr_write(file, "n_layers", H5T_STD_U64LE, H5T_NATIVE_UINT64, 0, &n_layers) < 0 ||
        mx_h5_attr_write(file, "sizes", H5T_STD_U64LE, H5T_NATIVE_UINT64, net->n_layers + 1, sizes) <
            0 ||
        mx_h5_attr_string(file, "key", key ? key : "") < 0 ||
        (!isnan(ann_test_accuracy) &&
         mx_h5_attr_write(file, "ann_test_accuracy", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0,
                    &ann_test_accuracy) < 0)) {
        st = mx_fail(MX_EIO, "%s: cannot write the root attributes", tmp);
        goto done;
    }
    layers = H5Gcreate2(file, "layers", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (layers < 0) {
        st = mx_fail(MX_EIO, "%s: cannot create /layers", tmp);
        goto done;
    }
    for (size_t l = 0; l < net->n_layers; l++) {
        if (write_layer(layers, l, net) < 0) {
            st = mx_fail(MX_EIO, "%s: cannot write /layers/%zu/weight (disk full?)", tmp, l);
            goto done;
        }
    }
done:
    mx_h5_close(&layers);
    if (H5Fclose(file) < 0 && st == MX_OK)
        st = mx_fail(MX_EIO, "%s: cannot close the HDF5 file (disk full?)", tmp);
    if (st == MX_OK && rename(tmp, path) != 0)
        st = mx_fail(MX_EIO, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
    if (st != MX_OK)
        remove(tmp);
    mx_free(tmp);
    return st;
}

/* ---- reading ------------------------------------------------------------ */

/* Open attribute `name` of the root and check its class and element count
 * (0 = scalar or one element). */
static mx_status open_attr(const char *path, hid_t file, const char *name, H5T_class_t cls,
                           size_t n, hid_t *attr_out)
{
    hid_t attr = H5I_INVALID_HID, type = H5I_INVALID_HID, space = H5I_INVALID_HID;
    mx_status st = MX_OK;
    htri_t exists = H5Aexists(file, name);
    if (exists <= 0)
        return mx_fail(MX_EFORMAT, "%s: root attribute %s is missing", path, name);
    attr = H5Aopen(file, name, H5P_DEFAULT);
    type = attr >= 0 ? H5Aget_type(attr) : H5I_INVALID_HID;
    space = attr >= 0 ? H5Aget_space(attr) : H5I_INVALID_HID;
    if (type < 0 || space < 0) {
        st = mx_fail(MX_EFORMAT, "%s: cannot read root attribute %s", path, name);
        goto done;
    }
    hssize_t count = H5Sget_simple_extent_npoints(space);
    if (H5Tget_class(type) != cls || count != (hssize_t)(n ? n : 1)) {
        st = mx_fail(MX_EFORMAT, "%s: root attribute %s has the wrong type or length", path,
                     name);
        goto done;
    }
    *attr_out = attr;
    attr = H5I_INVALID_HID;
done:
    mx_h5_close(&space);
    mx_h5_close(&type);
    mx_h5_close(&attr);
    return st;
}

/* A string attribute, fixed or variable length. OUT: *out (mx_alloc'd). */
static mx_status read_string_attr(const char *path, hid_t file, const char *name, char **out)
{
    hid_t attr = H5I_INVALID_HID, ftype = H5I_INVALID_HID, mtype = H5I_INVALID_HID;
    mx_status st = open_attr(path, file, name, H5T_STRING, 0, &attr);
    char *vlen = NULL;
    *out = NULL;
    if (st != MX_OK)
        return st;
    ftype = H5Aget_type(attr);
    mtype = H5Tcopy(H5T_C_S1);
    htri_t is_vlen = ftype >= 0 ? H5Tis_variable_str(ftype) : -1;
    H5T_cset_t cset = ftype >= 0 ? H5Tget_cset(ftype) : H5T_CSET_ERROR;
    /* HDF5 does not convert between character sets: read in the file's. */
    if (mtype < 0 || is_vlen < 0 || cset == H5T_CSET_ERROR || H5Tset_cset(mtype, cset) < 0) {
        st = mx_fail(MX_EFORMAT, "%s: cannot read root attribute %s", path, name);
        goto done;
    }
    if (is_vlen) {
        if (H5Tset_size(mtype, H5T_VARIABLE) < 0 || H5Aread(attr, mtype, &vlen) < 0 || !vlen) {
            st = mx_fail(MX_EFORMAT, "%s: cannot read root attribute %s", path, name);
            goto done;
        }
        size_t len = strlen(vlen);
        *out = mx_alloc(len + 1);
        if (*out)
            memcpy(*out, vlen, len + 1);
    } else {
        size_t size = H5Tget_size(ftype);
        *out = size ? mx_calloc(1, size + 1) : NULL;
        if (*out && (H5Tset_size(mtype, size) < 0 || H5Aread(attr, mtype, *out) < 0)) {
            mx_free(*out);
            *out = NULL;
            st = mx_fail(MX_EFORMAT, "%s: cannot read root attribute %s", path, name);
            goto done;
        }
    }
    if (!*out)
        st = mx_fail(MX_ENOMEM, "%s: no memory for root attribute %s", path, name);
done:
    if (vlen)
        H5free_memory(vlen);
    mx_h5_close(&mtype);
    mx_h5_close(&ftype);
    mx_h5_close(&attr);
    return st;
}

/* An integer attribute of n elements (0 = scalar), read as uint64 (negative
 * values read as 0, which every check below rejects). */
static mx_status read_u64_attr(const char *path, hid_t file, const char *name, size_t n,
                               uint64_t *out)
{
    hid_t attr = H5I_INVALID_HID;
    mx_status st = open_attr(path, file, name, H5T_INTEGER, n, &attr);
    if (st != MX_OK)
        return st;
    if (H5Aread(attr, H5T_NATIVE_UINT64, out) < 0)
        st = mx_fail(MX_EFORMAT, "%s: cannot read root attribute %s", path, name);
    mx_h5_close(&attr);
    return st;
}

/* Check /layers/<l>/weight: float, 2-D, shape (sizes[l+1], sizes[l]).
 * OUT: *dset_out, open. */
static mx_status open_layer(const char *path, hid_t file, size_t l, const size_t *sizes,
                            hid_t *dset_out)
{
    char name[48];
    hid_t dset = H5I_INVALID_HID, type = H5I_INVALID_HID, space = H5I_INVALID_HID;
    mx_status st = MX_OK;
    hsize_t dims[2];
    snprintf(name, sizeof name, "/layers/%zu/weight", l);
    dset = H5Dopen2(file, name, H5P_DEFAULT);
    if (dset < 0)
        return mx_fail(MX_EFORMAT, "%s: dataset %s is missing", path, name);
    type = H5Dget_type(dset);
    space = H5Dget_space(dset);
    if (type < 0 || H5Tget_class(type) != H5T_FLOAT) {
        st = mx_fail(MX_EFORMAT, "%s: %s is not a floating-point dataset", path, name);
        goto done;
    }
    if (space < 0 || H5Sget_simple_extent_ndims(space) != 2 ||
        H5Sget_simple_extent_dims(space, dims, NULL) != 2 || dims[0] != sizes[l + 1] ||
        dims[1] != sizes[l]) {
        st = mx_fail(MX_EFORMAT, "%s: %s does not have shape (%zu, %zu) as sizes says", path,
                     name, sizes[l + 1], sizes[l]);
        goto done;
    }
    *dset_out = dset;
    dset = H5I_INVALID_HID;
done:
    mx_h5_close(&space);
    mx_h5_close(&type);
    mx_h5_close(&dset);
    return st;
}

mx_status mx_weights_load(const char *path, const char *expected_key, mx_mlp **out,
                          double *ann_test_accuracy)
{
    assert(path && out);
    *out = NULL;
    if (ann_test_accuracy)
        *ann_test_accuracy = (double)NAN;
    mx_status checked = mx_h5_check_file(path);
    if (checked != MX_OK)
        return checked;

    hid_t file = H5I_INVALID_HID, dsets[MX_MLP_MAX_LAYERS];
    char *format = NULL, *key = NULL;
    mx_mlp *net = NULL;
    uint64_t version = 0, n_layers = 0, sizes64[MX_MLP_MAX_LAYERS + 1];
    size_t sizes[MX_MLP_MAX_LAYERS + 1];
    double accuracy = (double)NAN;
    mx_status st = MX_OK;
    for (size_t l = 0; l < MX_MLP_MAX_LAYERS; l++)
        dsets[l] = H5I_INVALID_HID;

    if ((st = mx_h5_open_read(path, &file)) != MX_OK)
        goto done;
    if ((st = read_string_attr(path, file, "format", &format)) != MX_OK)
        goto done;
    if (strcmp(format, WEIGHTS_FORMAT) != 0) {
        st = mx_fail(MX_EFORMAT, "%s: format is '%s', expected '%s'", path, format,
                     WEIGHTS_FORMAT);
        goto done;
    }
    if ((st = read_u64_attr(path, file, "format_version", 0, &version)) != MX_OK)
        goto done;
    if (version != WEIGHTS_FORMAT_VERSION) {
        st = mx_fail(MX_EFORMAT, "%s: format_version is %llu, this build reads %d", path,
                     (unsigned long long)version, WEIGHTS_FORMAT_VERSION);
        goto done;
    }
    if ((st = read_u64_attr(path, file, "n_layers", 0, &n_layers)) != MX_OK)
        goto done;
    if (n_layers < 1 || n_layers > MX_MLP_MAX_LAYERS) {
        st = mx_fail(MX_EFORMAT, "%s: n_layers is %llu, expected 1..%d", path,
                     (unsigned long long)n_layers, MX_MLP_MAX_LAYERS);
        goto done;
    }
    if ((st = read_u64_attr(path, file, "sizes", (size_t)n_layers + 1, sizes64)) != MX_OK)
        goto done;
    for (size_t l = 0; l <= n_layers; l++) {
        int too_big = 0;
#if SIZE_MAX < UINT64_MAX
        too_big = sizes64[l] > SIZE_MAX;
#endif
        if (sizes64[l] == 0 || too_big) {
            st = mx_fail(MX_EFORMAT, "%s: sizes[%zu] is %llu, expected a positive size", path,
                         l, (unsigned long long)sizes64[l]);
            goto done;
        }
        sizes[l] = (size_t)sizes64[l];
    }
    if ((st = read_string_attr(path, file, "key", &key)) != MX_OK)
        goto done;
    htri_t has_accuracy = H5Aexists(file, "ann_test_accuracy");
    if (has_accuracy > 0) {
        hid_t attr = H5I_INVALID_HID;
        if ((st = open_attr(path, file, "ann_test_accuracy", H5T_FLOAT, 0, &attr)) != MX_OK)
            goto done;
        if (H5Aread(attr, H5T_NATIVE_DOUBLE, &accuracy) < 0)
            st = mx_fail(MX_EFORMAT, "%s: cannot read root attribute ann_test_accuracy", path);
        mx_h5_close(&attr);
        if (st != MX_OK)
            goto done;
    } else if (has_accuracy < 0) {
        st = mx_fail(MX_EFORMAT, "%s: cannot read root attributes", path);
        goto done;
    }
    if (expected_key && strcmp(key, expected_key) != 0) {
        st = mx_fail(MX_EMISMATCH, "%s: trained for key '%s', expected '%s'", path, key,
                     expected_key);
        goto done;
    }
    /* Every shape checked before anything is allocated for the weights. */
    for (size_t l = 0; l < n_layers; l++)
        if ((st = open_layer(path, file, l, sizes, &dsets[l])) != MX_OK)
            goto done;
    if ((st = mx_mlp_create(sizes, (size_t)n_layers, 0, &net)) != MX_OK) {
        mx_fail_context(st, "%s", path);
        goto done;
    }
    for (size_t l = 0; l < n_layers; l++) {
        if (H5Dread(dsets[l], H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, net->w[l]) < 0) {
            st = mx_fail(MX_EFORMAT,
                         "%s: cannot read /layers/%zu/weight (truncated, or changed after it "
                         "was written so its checksum fails?)",
                         path, l);
            goto done;
        }
        size_t n = sizes[l + 1] * sizes[l]; /* allocated above, so no overflow */
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(net->w[l][i])) {
                st = mx_fail(MX_EFORMAT, "%s: /layers/%zu/weight[%zu][%zu] is %g, not finite",
                             path, l, i / sizes[l], i % sizes[l], (double)net->w[l][i]);
                goto done;
            }
        }
    }
done:
    for (size_t l = 0; l < MX_MLP_MAX_LAYERS; l++)
        mx_h5_close(&dsets[l]);
    mx_h5_close(&file);
    mx_free(format);
    mx_free(key);
    if (st != MX_OK) {
        mx_mlp_destroy(net);
        return st;
    }
    *out = net;
    if (ann_test_accuracy)
        *ann_test_accuracy = accuracy;
    return MX_OK;
}

/* ---- sharing the cache between processes -------------------------------- */

int mx_cache_lock(const char *path)
{
    char lock[1200];
    if (snprintf(lock, sizeof lock, "%s.lock", path) >= (int)sizeof lock)
        return -1;
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return -1; /* a read-only cache: nothing will be written to it either */
    while (flock(fd, LOCK_EX) != 0)
        if (errno != EINTR) {
            close(fd);
            return -1;
        }
    return fd;
}

void mx_cache_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the flock */
}
