/* SPDX-License-Identifier: MIT
 *
 * online_run.c: the online-training sweep (layout and seeding in
 * online_run.h). It loads the dataset once, crops the centre of every image
 * and binarises it (NeuroSim's 20×20 MNIST patches with a 0.5 threshold,
 * paper-tables.md §7), then for each repeat trains the digital baseline and
 * every sweep point with snn/online.c, evaluating the test set after every
 * epoch, and writes each run to HDF5 as it finishes. The library prints
 * nothing: progress goes through mx_progress, one task per run.
 */
#include "experiments/online_run.h"
#include "experiments/h5io.h"
#include "experiments/results.h"

#include <hdf5.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <omp.h>

#include "core/log.h"
#include "core/rng.h"
#include "experiments/dataset.h"
#include "mx_build_config.h"
#include "snn/online.h"

#define PARTIAL_SUFFIX ".partial"
#define LABEL_BYTES MX_CONFIG_NAME_BYTES
#define SWEPT_BYTES 256
#define SUMMARY_CHUNK_ROWS 64
/* Test examples use read-stream items from here on, apart from the training
 * examples' items 0..epochs·images_per_epoch − 1. */
#define TEST_ITEM_BASE ((uint64_t)1 << 40)
/* Progress is reported every this many examples. */
#define PROGRESS_EVERY 256
#define N_CLASSES_MAX 256

/* The prepared data: cropped, binarised inputs. */
typedef struct online_data {
    size_t n_train, n_test, dim, n_classes;
    float *train_x, *test_x;   /* (n, dim) */
    const uint8_t *train_y, *test_y;
    mx_dataset train, test;    /* owners of the labels */
} online_data;

/* One row of /summary as written (packed by the compound type). */
typedef struct summary_row {
    int64_t point;
    uint64_t repeat;
    char label[LABEL_BYTES];
    char swept[SWEPT_BYTES];
    double accuracy, neurosim_accuracy;
    uint64_t pulses;
    double train_seconds;
} summary_row;

typedef struct online_file {
    hid_t file, summary, row_type, points, baseline;
    hsize_t n_rows;
    char path[1024], partial[1040];
} online_file;

/* What one run measured. */
typedef struct run_result {
    double *test_accuracy, *train_accuracy; /* (epochs) */
    uint64_t *pulses;                       /* (epochs) */
    double accuracy;
    uint64_t pulses_total;
    double seconds;
    int states_ltp, states_ltd;
} run_result;

/* The root seed of repeat r: every stream of the repeat is keyed by it. */
static uint64_t repeat_seed(uint64_t root, size_t repeat)
{
    mx_rng r;
    mx_rng_init_named(&r, root, "online.repeat", (uint64_t)repeat);
    uint64_t lo = mx_rng_u32(&r);
    return lo | ((uint64_t)mx_rng_u32(&r) << 32);
}

/* ------------------------------------------------------------ data */

/* Centre crop of side `crop` (0: whole image), binarised at `threshold`
 * (0: grey levels kept). OUT: *out (n, crop²), allocated. */
static mx_status prepare(const mx_dataset *d, size_t crop, double threshold, float **out)
{
    size_t side_r = crop ? crop : d->rows, side_c = crop ? crop : d->cols;
    size_t r0 = (d->rows - side_r) / 2, c0 = (d->cols - side_c) / 2;
    size_t dim = side_r * side_c;
    float *x = mx_alloc(mx_size_mul(d->n ? d->n : 1, dim) * sizeof(float));
    if (!x)
        return mx_fail(MX_ENOMEM, "online-training: out of memory for the inputs");
    for (size_t i = 0; i < d->n; i++) {
        const float *src = d->x + i * d->dim;
        float *dst = x + i * dim;
        for (size_t r = 0; r < side_r; r++)
            for (size_t c = 0; c < side_c; c++) {
                float v = src[(r0 + r) * d->cols + c0 + c];
                dst[r * side_c + c] = threshold > 0.0 ? ((double)v >= threshold ? 1.0f : 0.0f) : v;
            }
    }
    *out = x;
    return MX_OK;
}

static void data_free(online_data *d)
{
    mx_free(d->train_x);
    mx_free(d->test_x);
    mx_dataset_free(&d->train);
    mx_dataset_free(&d->test);
    memset(d, 0, sizeof *d);
}

static mx_status data_load(online_data *d, const mx_experiment_config *cfg,
                           const mx_run_options *opt)
{
    char dir[1024];
    mx_status st = mx_data_dir_find(opt->data_dir, dir, sizeof dir);
    size_t test_limit = opt->full ? 0 : cfg->dataset.test_limit;
    const mx_dataset_options data_opt = {.event_steps = cfg->dataset.event_steps};
    if (!st)
        st = mx_dataset_load_with(dir, cfg->dataset.name, MX_SPLIT_TRAIN, cfg->dataset.train_limit,
                                  &data_opt, &d->train);
    if (!st)
        st = mx_dataset_load_with(dir, cfg->dataset.name, MX_SPLIT_TEST, test_limit, &data_opt,
                                  &d->test);
    if (st)
        return st;
    size_t crop = cfg->online.crop;
    if (crop > d->train.rows || crop > d->train.cols)
        return mx_fail(MX_EINVAL, "online.crop: expected at most the %zu x %zu images of %s, got %zu",
                       d->train.rows, d->train.cols, cfg->dataset.name, crop);
    if (d->train.n == 0 || d->test.n == 0)
        return mx_fail(MX_EINVAL, "online-training: dataset %s has no training or test examples",
                       cfg->dataset.name);
    if (d->train.n_classes > N_CLASSES_MAX)
        return mx_fail(MX_EINVAL, "online-training: at most %d classes", N_CLASSES_MAX);
    st = prepare(&d->train, crop, cfg->online.binarise_threshold, &d->train_x);
    if (!st)
        st = prepare(&d->test, crop, cfg->online.binarise_threshold, &d->test_x);
    if (st)
        return st;
    d->n_train = d->train.n;
    d->n_test = d->test.n;
    d->dim = crop ? crop * crop : d->train.dim;
    d->n_classes = d->train.n_classes;
    d->train_y = d->train.y;
    d->test_y = d->test.y;
    mx_log(MX_LOG_INFO,
           "dataset %s from %s: %zu training, %zu test examples, %zu inputs (%s, %s)",
           cfg->dataset.name, dir, d->n_train, d->n_test, d->dim,
           crop ? "centre crop" : "whole image",
           cfg->online.binarise_threshold > 0.0 ? "binarised" : "grey levels");
    return MX_OK;
}

/* ------------------------------------------------------------ HDF5 */

static herr_t attr_u64(hid_t loc, const char *name, uint64_t v)
{
    return mx_h5_attr_write(loc, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, 0, &v);
}

static herr_t attr_i64(hid_t loc, const char *name, int64_t v)
{
    return mx_h5_attr_write(loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, 0, &v);
}

static herr_t attr_f64(hid_t loc, const char *name, double v)
{
    return mx_h5_attr_write(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &v);
}

static herr_t dataset_1d(hid_t loc, const char *name, hid_t file_type, hid_t mem_type,
                         const void *data, size_t n)
{
    hsize_t dims[1] = {n};
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t dset = H5I_INVALID_HID;
    herr_t rc = -1;
    if (space >= 0)
        dset = H5Dcreate2(loc, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (dset >= 0)
        rc = n ? H5Dwrite(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : 0;
    mx_h5_close(&dset);
    mx_h5_close(&space);
    return rc;
}

static hid_t string_type(size_t bytes)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t >= 0 && (H5Tset_size(t, bytes) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0 ||
                   H5Tset_cset(t, H5T_CSET_UTF8) < 0))
        mx_h5_close(&t);
    return t;
}

static hid_t summary_type(void)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(summary_row));
    hid_t label = string_type(LABEL_BYTES), swept = string_type(SWEPT_BYTES);
    herr_t rc = (t >= 0 && label >= 0 && swept >= 0) ? 0 : -1;
    if (rc >= 0)
        rc = H5Tinsert(t, "point", HOFFSET(summary_row, point), H5T_STD_I64LE);
    if (rc >= 0)
        rc = H5Tinsert(t, "repeat", HOFFSET(summary_row, repeat), H5T_STD_U64LE);
    if (rc >= 0)
        rc = H5Tinsert(t, "label", HOFFSET(summary_row, label), label);
    if (rc >= 0)
        rc = H5Tinsert(t, "swept", HOFFSET(summary_row, swept), swept);
    if (rc >= 0)
        rc = H5Tinsert(t, "accuracy", HOFFSET(summary_row, accuracy), H5T_IEEE_F64LE);
    if (rc >= 0)
        rc = H5Tinsert(t, "neurosim_accuracy", HOFFSET(summary_row, neurosim_accuracy),
                       H5T_IEEE_F64LE);
    if (rc >= 0)
        rc = H5Tinsert(t, "pulses", HOFFSET(summary_row, pulses), H5T_STD_U64LE);
    if (rc >= 0)
        rc = H5Tinsert(t, "train_seconds", HOFFSET(summary_row, train_seconds), H5T_IEEE_F64LE);
    mx_h5_close(&label);
    mx_h5_close(&swept);
    if (rc < 0)
        mx_h5_close(&t);
    return t;
}

static herr_t file_close_handles(online_file *f)
{
    herr_t rc = 0;
    mx_h5_close(&f->summary);
    mx_h5_close(&f->row_type);
    mx_h5_close(&f->points);
    mx_h5_close(&f->baseline);
    if (f->file >= 0) {
        rc = H5Fclose(f->file);
        f->file = H5I_INVALID_HID;
    }
    return rc;
}

static mx_status file_create(online_file *f, const char *path, const mx_experiment_config *cfg,
                             const online_data *d)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    f->file = f->summary = f->row_type = f->points = f->baseline = H5I_INVALID_HID;
    f->n_rows = 0;
    snprintf(f->path, sizeof f->path, "%s", path);
    snprintf(f->partial, sizeof f->partial, "%s%s", path, PARTIAL_SUFFIX);
    errno = 0;
    f->file = H5Fcreate(f->partial, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f->file < 0)
        return mx_fail(MX_EIO, "%s: cannot create (%s)", f->partial,
                       mx_h5_errno_text(errno, "folder missing or not writable?"));
    char created[32] = "unknown";
    time_t t = time(NULL);
    struct tm tm;
    if (gmtime_r(&t, &tm))
        strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    herr_t rc = mx_h5_attr_string(f->file, "memxbar_version", MX_VERSION);
    if (rc >= 0)
        rc = mx_h5_attr_string(f->file, "git_describe", MX_GIT_DESCRIBE);
    if (rc >= 0)
        rc = attr_u64(f->file, "root_seed", cfg->seed);
    if (rc >= 0)
        rc = mx_h5_attr_string(f->file, "config", cfg->text ? cfg->text : "");
    if (rc >= 0)
        rc = mx_h5_attr_string(f->file, "config_source", cfg->source_path);
    if (rc >= 0)
        rc = mx_h5_attr_string(f->file, "created", created);
    if (rc >= 0)
        rc = mx_h5_attr_string(f->file, "status", "incomplete");
    if (rc >= 0)
        rc = mx_h5_attr_string(f->file, "experiment", "online-training");
    if (rc >= 0)
        rc = attr_u64(f->file, "n_points", mx_config_n_points(cfg));
    if (rc >= 0)
        rc = attr_u64(f->file, "repeats", cfg->repeats);
    if (rc >= 0)
        rc = attr_u64(f->file, "epochs", cfg->online.epochs);
    if (rc >= 0)
        rc = attr_u64(f->file, "images_per_epoch", cfg->online.images_per_epoch);
    if (rc >= 0)
        rc = attr_u64(f->file, "n_train", d->n_train);
    if (rc >= 0)
        rc = attr_u64(f->file, "n_test", d->n_test);
    if (rc >= 0)
        rc = attr_u64(f->file, "n_inputs", d->dim);
    if (rc >= 0) {
        f->row_type = summary_type();
        hsize_t dims[1] = {0}, maxdims[1] = {H5S_UNLIMITED}, chunk[1] = {SUMMARY_CHUNK_ROWS};
        hid_t space = H5Screate_simple(1, dims, maxdims);
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        rc = (f->row_type >= 0 && space >= 0 && dcpl >= 0) ? H5Pset_chunk(dcpl, 1, chunk) : -1;
        if (rc >= 0)
            f->summary = H5Dcreate2(f->file, "summary", f->row_type, space, H5P_DEFAULT, dcpl,
                                    H5P_DEFAULT);
        rc = f->summary >= 0 ? 0 : -1;
        mx_h5_close(&space);
        mx_h5_close(&dcpl);
    }
    if (rc >= 0) {
        f->points = H5Gcreate2(f->file, "points", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        f->baseline = H5Gcreate2(f->file, "baseline", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        rc = f->points >= 0 && f->baseline >= 0 ? 0 : -1;
    }
    if (rc >= 0)
        rc = H5Fflush(f->file, H5F_SCOPE_GLOBAL);
    if (rc < 0) {
        file_close_handles(f);
        return mx_fail(MX_EIO, "%s: cannot write the file's header (disk full?)", f->partial);
    }
    return MX_OK;
}

/* The group of one run: /points/<k>/<r> or /baseline/<r>. */
static hid_t run_group(online_file *f, size_t point, size_t repeat)
{
    char name[32];
    hid_t parent = f->baseline, own = H5I_INVALID_HID;
    if (point != MX_ONLINE_BASELINE) {
        snprintf(name, sizeof name, "%zu", point);
        own = H5Lexists(f->points, name, H5P_DEFAULT) > 0
                  ? H5Gopen2(f->points, name, H5P_DEFAULT)
                  : H5Gcreate2(f->points, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (own < 0)
            return H5I_INVALID_HID;
        parent = own;
    }
    snprintf(name, sizeof name, "%zu", repeat);
    hid_t g = H5Gcreate2(parent, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    mx_h5_close(&own);
    return g;
}

static mx_status file_write_run(online_file *f, const mx_experiment_config *pc,
                                const mx_online_row *row, const run_result *res, size_t epochs)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t g = run_group(f, row->point, row->repeat);
    herr_t rc = g >= 0 ? 0 : -1;
    int digital = pc->online.net.weights == MX_ONLINE_DIGITAL;
    if (rc >= 0)
        rc = mx_h5_attr_string(g, "label", row->label);
    if (rc >= 0)
        rc = mx_h5_attr_string(g, "swept", row->swept);
    if (rc >= 0)
        rc = mx_h5_attr_string(g, "device_type", digital ? "" : pc->hardware.device_type);
    if (rc >= 0)
        rc = mx_h5_attr_string(g, "device_preset", digital ? "" : pc->hardware.device_preset);
    if (rc >= 0)
        rc = mx_h5_attr_string(g, "weights", digital ? "digital" : "device");
    if (rc >= 0)
        rc = attr_f64(g, "accuracy", res->accuracy);
    if (rc >= 0)
        rc = attr_f64(g, "neurosim_accuracy", row->neurosim_accuracy);
    if (rc >= 0)
        rc = attr_u64(g, "pulses", res->pulses_total);
    if (rc >= 0)
        rc = attr_i64(g, "states_ltp", res->states_ltp);
    if (rc >= 0)
        rc = attr_i64(g, "states_ltd", res->states_ltd);
    if (rc >= 0)
        rc = attr_f64(g, "train_seconds", res->seconds);
    if (rc >= 0)
        rc = dataset_1d(g, "test_accuracy", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                        res->test_accuracy, epochs);
    if (rc >= 0)
        rc = dataset_1d(g, "train_accuracy", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                        res->train_accuracy, epochs);
    if (rc >= 0)
        rc = dataset_1d(g, "pulses", H5T_STD_U64LE, H5T_NATIVE_UINT64, res->pulses, epochs);
    mx_h5_close(&g);
    /* The /summary row last: a row present means the group is whole. */
    if (rc >= 0) {
        summary_row sr;
        memset(&sr, 0, sizeof sr);
        sr.point = row->point == MX_ONLINE_BASELINE ? -1 : (int64_t)row->point;
        sr.repeat = row->repeat;
        snprintf(sr.label, sizeof sr.label, "%s", row->label);
        snprintf(sr.swept, sizeof sr.swept, "%s", row->swept);
        sr.accuracy = res->accuracy;
        sr.neurosim_accuracy = row->neurosim_accuracy;
        sr.pulses = res->pulses_total;
        sr.train_seconds = res->seconds;
        hsize_t dims[1] = {f->n_rows + 1}, start[1] = {f->n_rows}, count[1] = {1};
        rc = H5Dset_extent(f->summary, dims);
        hid_t fspace = rc >= 0 ? H5Dget_space(f->summary) : H5I_INVALID_HID;
        hid_t mspace = H5Screate_simple(1, count, NULL);
        rc = fspace >= 0 && mspace >= 0
                 ? H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL)
                 : -1;
        if (rc >= 0)
            rc = H5Dwrite(f->summary, f->row_type, mspace, fspace, H5P_DEFAULT, &sr);
        mx_h5_close(&fspace);
        mx_h5_close(&mspace);
        if (rc >= 0)
            f->n_rows++;
    }
    if (rc >= 0)
        rc = H5Fflush(f->file, H5F_SCOPE_GLOBAL);
    return rc >= 0 ? MX_OK : mx_fail(MX_EIO, "%s: cannot write run %s (disk full?)", f->partial,
                                     row->label);
}

static mx_status file_close(online_file *f, int complete)
{
    if (f->file < 0)
        return MX_OK;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    mx_status st = MX_OK;
    if (complete && mx_h5_attr_string(f->file, "status", "complete") < 0)
        st = mx_fail(MX_EIO, "%s: cannot set status to complete", f->partial);
    if (file_close_handles(f) < 0 && st == MX_OK)
        st = mx_fail(MX_EIO, "%s: cannot close the HDF5 file (disk full?)", f->partial);
    if (complete && st == MX_OK && rename(f->partial, f->path) != 0)
        st = mx_fail(MX_EIO, "%s: cannot rename to %s: %s", f->partial, f->path,
                     strerror(errno));
    return st;
}

/* ------------------------------------------------------------ one run */

/* "preset=ag-si adc_bits=6": each swept field's last name and value. */
static void swept_text(const mx_experiment_config *cfg, const mx_experiment_config *pc,
                       size_t point, char *buf, size_t size)
{
    buf[0] = '\0';
    if (point == MX_ONLINE_BASELINE) {
        snprintf(buf, size, "online.weights=digital");
        return;
    }
    size_t used = 0;
    const char *paths[MX_SWEEP_MAX_AXES];
    for (size_t a = 0; a < cfg->n_axes; a++)
        paths[a] = cfg->axes[a].path;
    for (size_t a = 0; a < cfg->n_axes && used < size; a++) {
        char value[MX_CONFIG_VALUE_BYTES + 64];
        if (mx_config_get(pc, cfg->axes[a].path, value, sizeof value))
            snprintf(value, sizeof value, "?");
        const char *leaf = mx_results_axis_label(paths, cfg->n_axes, a);
        int n = snprintf(buf + used, size - used, "%s%s=%s", a ? " " : "", leaf, value);
        used += n > 0 ? (size_t)n : 0;
    }
}

static void run_label(const mx_experiment_config *pc, char *buf, size_t size, double *neurosim)
{
    *neurosim = NAN;
    if (pc->online.net.weights == MX_ONLINE_DIGITAL) {
        snprintf(buf, size, "digital");
        return;
    }
    const mx_device_preset *preset = mx_device_preset_lookup(pc->hardware.device_preset);
    if (preset) {
        snprintf(buf, size, "%s", preset->name);
        *neurosim = preset->neurosim_online_accuracy;
    } else {
        snprintf(buf, size, "%s", pc->hardware.device_type);
    }
}

static double evaluate(mx_online *net, const online_data *d, uint64_t item0)
{
    size_t correct = 0;
    for (size_t i = 0; i < d->n_test; i++)
        correct += mx_online_predict(net, d->test_x + i * d->dim, item0 + i) == d->test_y[i];
    return (double)correct / (double)d->n_test;
}

static mx_status run_one(const mx_experiment_config *pc, const online_data *d, uint64_t seed,
                         const char *what, run_result *res)
{
    const size_t epochs = pc->online.epochs, ipe = pc->online.images_per_epoch;
    const mx_device_type *type = mx_device_lookup(pc->hardware.device_type);
    const int digital = pc->online.net.weights == MX_ONLINE_DIGITAL;
    mx_online *net = NULL;
    size_t *order = mx_alloc(ipe * sizeof(size_t));
    if (!order)
        return mx_fail(MX_ENOMEM, "online-training: out of memory");
    mx_status st = mx_online_create(&pc->online.net, d->dim, d->n_classes, digital ? NULL : type,
                                    digital ? NULL : &pc->hardware.device, seed, &net);
    res->states_ltp = res->states_ltd = 0;
    if (!st && !digital) {
        if (pc->online.net.states > 0)
            res->states_ltp = res->states_ltd = pc->online.net.states;
        else
            st = mx_online_device_states(type, &pc->hardware.device, &res->states_ltp,
                                         &res->states_ltd);
    }
    const double t0 = mx_seconds_now();
    const size_t total = epochs * (ipe + d->n_test);
    size_t done = 0;
    uint64_t pulses_before = 0;
    for (size_t e = 0; e < epochs && !st; e++) {
        mx_rng r;
        mx_rng_init_named(&r, seed, "online.sample", (uint64_t)e);
        for (size_t i = 0; i < ipe; i++) {
            size_t k = (size_t)(mx_rng_uniform(&r) * (double)d->n_train);
            order[i] = k < d->n_train ? k : d->n_train - 1;
        }
        size_t correct = 0;
        for (size_t i = 0; i < ipe; i++) {
            size_t k = order[i];
            size_t pred = mx_online_train_step(net, d->train_x + k * d->dim, d->train_y[k],
                                               (uint64_t)(e * ipe + i));
            correct += pred == d->train_y[k];
            if (++done % PROGRESS_EVERY == 0) {
                mx_progress(what, done, total);
                if (mx_experiment_stop_requested()) {
                    st = mx_fail(MX_EINTERRUPT, "stopped during %s", what);
                    break;
                }
            }
        }
        if (st)
            break;
        res->train_accuracy[e] = (double)correct / (double)ipe;
        res->test_accuracy[e] = evaluate(net, d, TEST_ITEM_BASE + (uint64_t)e * d->n_test);
        done += d->n_test;
        mx_progress(what, done, total);
        uint64_t p = mx_online_pulses(net);
        res->pulses[e] = p - pulses_before;
        pulses_before = p;
        mx_log(MX_LOG_DEBUG, "%s: epoch %zu: train %.2f %%, test %.2f %%, %llu pulses", what,
               e + 1, 100 * res->train_accuracy[e], 100 * res->test_accuracy[e],
               (unsigned long long)res->pulses[e]);
    }
    if (!st) {
        res->accuracy = res->test_accuracy[epochs - 1];
        res->pulses_total = mx_online_pulses(net);
        res->seconds = mx_seconds_now() - t0;
    }
    mx_online_destroy(net);
    mx_free(order);
    return st;
}

/* ------------------------------------------------------------ the sweep */

/* Every point resolved and its device checked before any work, so a bad
 * sweep fails at once. */
static mx_status check_points(const mx_experiment_config *cfg)
{
    for (size_t k = 0; k < mx_config_n_points(cfg); k++) {
        mx_experiment_config pc;
        mx_status st = mx_config_point(cfg, k, &pc);
        if (!st) {
            if (pc.online.net.weights == MX_ONLINE_DEVICE && pc.online.net.states == 0) {
                int a, b;
                const mx_device_type *type = mx_device_lookup(pc.hardware.device_type);
                st = mx_online_device_states(type, &pc.hardware.device, &a, &b);
            }
            mx_config_free(&pc);
        }
        if (st)
            return mx_fail_context(st, "sweep point %zu", k + 1);
    }
    return MX_OK;
}

void mx_online_report_free(mx_online_report *r)
{
    if (!r)
        return;
    mx_free(r->rows);
    memset(r, 0, sizeof *r);
}

mx_status mx_online_run(const mx_experiment_config *cfg, const mx_run_options *opt,
                        mx_online_report *report)
{
    mx_online_report local = {0};
    mx_online_report *rep = report ? report : &local;
    memset(rep, 0, sizeof *rep);
    const double t_start = mx_seconds_now();
    if (cfg->experiment != MX_EXPERIMENT_ONLINE)
        return mx_fail(MX_EINVAL, "experiment: expected online-training for mx_online_run, got "
                                  "conversion");
    if (opt->threads > 0)
        omp_set_num_threads(opt->threads);
    const size_t n_points = mx_config_n_points(cfg);
    const size_t runs_per_repeat = n_points + (cfg->online.baseline ? 1 : 0);
    const size_t n_runs = runs_per_repeat * cfg->repeats;
    const size_t epochs = cfg->online.epochs;
    online_data d = {0};
    online_file f = {.file = H5I_INVALID_HID};
    run_result res = {0};
    mx_status st = mx_config_validate(cfg);
    if (!st)
        st = check_points(cfg);
    if (!st) {
        rep->rows = mx_calloc(n_runs, sizeof(mx_online_row));
        res.test_accuracy = mx_calloc(epochs, sizeof(double));
        res.train_accuracy = mx_calloc(epochs, sizeof(double));
        res.pulses = mx_calloc(epochs, sizeof(uint64_t));
        if (!rep->rows || !res.test_accuracy || !res.train_accuracy || !res.pulses)
            st = mx_fail(MX_ENOMEM, "online-training: out of memory");
    }
    if (!st)
        st = data_load(&d, cfg, opt);
    if (!st)
        st = file_create(&f, opt->output_path, cfg, &d);
    rep->n_train = d.n_train;
    rep->n_test = d.n_test;
    rep->n_inputs = d.dim;
    rep->epochs = epochs;
    rep->images_per_epoch = cfg->online.images_per_epoch;
    const double sweep_started = mx_seconds_now();
    size_t runs_done = 0;
    for (size_t r = 0; r < cfg->repeats && !st; r++) {
        const uint64_t seed = repeat_seed(cfg->seed, r);
        for (size_t i = 0; i < runs_per_repeat && !st; i++) {
            const int is_baseline = cfg->online.baseline && i == 0;
            const size_t k = is_baseline ? MX_ONLINE_BASELINE : i - (cfg->online.baseline ? 1 : 0);
            mx_experiment_config pc;
            /* The baseline: the first point's settings on float weights. */
            st = mx_config_point(cfg, is_baseline ? 0 : k, &pc);
            if (st)
                break;
            if (is_baseline && (st = mx_config_set(&pc, "online.weights", "digital"))) {
                mx_config_free(&pc);
                break;
            }
            mx_online_row *row = &rep->rows[rep->n_rows];
            row->point = k;
            row->repeat = r;
            run_label(&pc, row->label, sizeof row->label, &row->neurosim_accuracy);
            swept_text(cfg, &pc, k, row->swept, sizeof row->swept);
            char what[160];
            snprintf(what, sizeof what, "online %s (run %zu/%zu)", row->label, runs_done + 1,
                     n_runs);
            if (runs_done > 0) {
                double left = (mx_seconds_now() - sweep_started) / (double)runs_done *
                              (double)(n_runs - runs_done);
                mx_log(MX_LOG_INFO, "%s: %s (sweep ETA %dm%02ds)", what, row->swept,
                       (int)left / 60, (int)left % 60);
            } else {
                mx_log(MX_LOG_INFO, "%s: %s", what, row->swept);
            }
            st = run_one(&pc, &d, seed, what, &res);
            if (!st) {
                row->accuracy = res.accuracy;
                row->pulses = (double)res.pulses_total;
                row->seconds = res.seconds;
                st = file_write_run(&f, &pc, row, &res, epochs);
            }
            if (!st) {
                rep->n_rows++;
                mx_log(MX_LOG_INFO, "%s: test accuracy %.2f %% after %zu epochs, %.3g pulses, %.1f s",
                       row->label, 100 * row->accuracy, epochs, row->pulses, row->seconds);
            } else if (st != MX_EINTERRUPT) {
                mx_fail_context(st, "%s", what);
            }
            mx_config_free(&pc);
            runs_done++;
        }
    }
    mx_status cst = file_close(&f, st == MX_OK);
    if (!st)
        st = cst;
    data_free(&d);
    mx_free(res.test_accuracy);
    mx_free(res.train_accuracy);
    mx_free(res.pulses);
    rep->seconds_total = mx_seconds_now() - t_start;
    if (!report)
        mx_online_report_free(&local);
    return st;
}
