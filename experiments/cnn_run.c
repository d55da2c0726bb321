/* SPDX-License-Identifier: MIT
 *
 * cnn_run.c: the CNN conversion's sweep point (cnn_run.h) — cache or train,
 * convert, evaluate digitally and on the crossbar, price.
 *
 * Seeds: training from ctx->train_seed only; cells and ADC instances from
 * ctx->hw_seed with layer ids 0..L−1; encoders and read noise from
 * ctx->eval_seed with the test image as item (calibration images from
 * ctx->calib_item_base on). Every image runs on one thread and its counts are
 * summed in image order, so results do not depend on the thread count.
 *
 * ADC calibration follows calibration/adc_range.c: layer by layer (layers
 * below calibrated, layers above not run), each calibration image keeps an
 * equal quota of its layer's column currents (every stride-th offered), and
 * the layer's ADC is fitted by mx_adc_fit_currents at
 * hardware.adc.range_percentile. While a layer is profiled its ADC range is
 * a huge 1 A, which records currents unclipped.
 */
#include "experiments/cnn_run.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <hdf5.h>

#include "calibration/calibration.h"
#include "core/log.h"
#include "core/parallel.h"
#include "experiments/h5io.h"
#include "experiments/weights.h"

#define CNN_WEIGHTS_FORMAT "memxbar-cnn-weights"
#define CNN_WEIGHTS_VERSION 1
#define CNN_KEY_BYTES 4096
/* Currents kept per layer for an ADC fit (as calibration/adc_range.c). */
#define CNN_CALIB_MAX_SAMPLES ((size_t)4 << 20)
#define CNN_CALIB_PROFILE_RANGE_A 1.0

/* Every field that shapes training (the cache key). */
static const char *const train_key_paths[] = {
    "seed", "dataset.name", "dataset.train_limit", "model.hidden", "model.conv_channels",
    "model.conv_kernel", "model.conv_padding", "model.pool", "training.optimizer",
    "training.epochs", "training.batch_size", "training.learning_rate", "training.lr_decay",
    "training.momentum", "training.weight_decay", NULL};

/* ------------------------------------------------------------ weights file */

mx_status mx_cnn_weights_save(const char *path, const mx_cnn *net, const char *key,
                              double ann_test_accuracy)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    char tmp[1100];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return mx_fail(MX_EINVAL, "%s: path too long", path);
    errno = 0;
    hid_t file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0)
        return mx_fail(MX_EIO, "%s: cannot create HDF5 file (%s)", tmp,
                       mx_h5_errno_text(errno, "directory missing or not writable?"));
    mx_status st = MX_OK;
    const uint64_t version = CNN_WEIGHTS_VERSION, n_layers = net->n_layers;
    const uint64_t shape[3] = {net->in_c, net->in_h, net->in_w};
    hid_t layers = H5I_INVALID_HID;
    if (mx_h5_attr_string(file, "format", CNN_WEIGHTS_FORMAT) < 0 ||
        mx_h5_attr_write(file, "format_version", H5T_STD_U64LE, H5T_NATIVE_UINT64, 0,
                         &version) < 0 ||
        mx_h5_attr_write(file, "n_layers", H5T_STD_U64LE, H5T_NATIVE_UINT64, 0, &n_layers) <
            0 ||
        mx_h5_attr_write(file, "input_shape", H5T_STD_U64LE, H5T_NATIVE_UINT64, 3, shape) < 0 ||
        mx_h5_attr_string(file, "key", key ? key : "") < 0 ||
        (!isnan(ann_test_accuracy) &&
         mx_h5_attr_write(file, "ann_test_accuracy", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0,
                          &ann_test_accuracy) < 0) ||
        (layers = H5Gcreate2(file, "layers", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        st = mx_fail(MX_EIO, "%s: cannot write the root attributes", tmp);
    for (size_t l = 0; l < net->n_layers && !st; l++) {
        char name[32];
        snprintf(name, sizeof name, "%zu", l);
        const hsize_t dims[2] = {net->layer[l].n_out, net->layer[l].n_in};
        hid_t g = H5Gcreate2(layers, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        hid_t sp = H5Screate_simple(2, dims, NULL), d = H5I_INVALID_HID;
        if (g >= 0 && sp >= 0)
            d = H5Dcreate2(g, "weight", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT,
                           H5P_DEFAULT);
        if (d < 0 || H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                              net->layer[l].w) < 0)
            st = mx_fail(MX_EIO, "%s: cannot write /layers/%zu/weight (disk full?)", tmp, l);
        mx_h5_close(&d);
        mx_h5_close(&sp);
        mx_h5_close(&g);
    }
    mx_h5_close(&layers);
    if (H5Fclose(file) < 0 && !st)
        st = mx_fail(MX_EIO, "%s: cannot close the HDF5 file (disk full?)", tmp);
    if (!st && rename(tmp, path) != 0)
        st = mx_fail(MX_EIO, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
    if (st)
        remove(tmp);
    return st;
}

/* Root string attribute `name` into buf (variable or fixed length). */
static mx_status read_string(const char *path, hid_t file, const char *name, char *buf,
                             size_t size)
{
    mx_status st = MX_OK;
    hid_t a = H5Aexists(file, name) > 0 ? H5Aopen(file, name, H5P_DEFAULT) : H5I_INVALID_HID;
    hid_t ft = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
    hid_t mt = H5Tcopy(H5T_C_S1);
    if (ft < 0 || H5Tget_class(ft) != H5T_STRING || mt < 0 ||
        H5Tset_cset(mt, H5Tget_cset(ft)) < 0) {
        st = mx_fail(MX_EFORMAT, "%s: root attribute %s is missing or not a string", path, name);
    } else if (H5Tis_variable_str(ft) > 0) {
        char *v = NULL;
        if (H5Tset_size(mt, H5T_VARIABLE) < 0 || H5Aread(a, mt, &v) < 0 || !v)
            st = mx_fail(MX_EFORMAT, "%s: cannot read root attribute %s", path, name);
        else
            snprintf(buf, size, "%s", v);
        if (v)
            H5free_memory(v);
    } else {
        const size_t n = H5Tget_size(ft);
        char *v = n ? mx_calloc(1, n + 1) : NULL;
        if (!v || H5Tset_size(mt, n) < 0 || H5Aread(a, mt, v) < 0)
            st = mx_fail(MX_EFORMAT, "%s: cannot read root attribute %s", path, name);
        else
            snprintf(buf, size, "%s", v);
        mx_free(v);
    }
    mx_h5_close(&mt);
    mx_h5_close(&ft);
    mx_h5_close(&a);
    return st;
}

/* Root integer attribute `name` of n elements into out (as uint64). < 0 when
 * it is missing, not an integer or of another length. */
static int read_u64_attr(hid_t file, const char *name, size_t n, uint64_t *out)
{
    hid_t a = H5Aexists(file, name) > 0 ? H5Aopen(file, name, H5P_DEFAULT) : H5I_INVALID_HID;
    hid_t t = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
    hid_t sp = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
    hssize_t count = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    int rc = t >= 0 && H5Tget_class(t) == H5T_INTEGER && count == (hssize_t)n &&
                     H5Aread(a, H5T_NATIVE_UINT64, out) >= 0
                 ? 0
                 : -1;
    mx_h5_close(&sp);
    mx_h5_close(&t);
    mx_h5_close(&a);
    return rc;
}

mx_status mx_cnn_weights_load(const char *path, const char *expected_key, mx_cnn *net)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t file;
    mx_status st = mx_h5_open_read(path, &file);
    if (st)
        return st;
    char *text = mx_alloc(CNN_KEY_BYTES);
    if (!text) {
        mx_h5_close(&file);
        return mx_fail(MX_ENOMEM, "%s: out of memory", path);
    }
    st = read_string(path, file, "format", text, CNN_KEY_BYTES);
    if (!st && strcmp(text, CNN_WEIGHTS_FORMAT) != 0)
        st = mx_fail(MX_EFORMAT, "%s: format is \"%s\", expected %s", path, text,
                     CNN_WEIGHTS_FORMAT);
    if (!st) { /* the file's network must be this one: layer count and input map */
        uint64_t n_layers = 0, shape[3] = {0, 0, 0};
        const uint64_t want[3] = {net->in_c, net->in_h, net->in_w};
        if (read_u64_attr(file, "n_layers", 1, &n_layers) < 0 ||
            read_u64_attr(file, "input_shape", 3, shape) < 0)
            st = mx_fail(MX_EFORMAT, "%s: root attributes n_layers and input_shape (3 "
                                     "integers) expected", path);
        else if (n_layers != net->n_layers || memcmp(shape, want, sizeof want) != 0)
            st = mx_fail(MX_EFORMAT, "%s: holds %llu layers on a %llux%llux%llu input; the "
                                     "config describes %zu layers on %zux%zux%zu", path,
                         (unsigned long long)n_layers, (unsigned long long)shape[0],
                         (unsigned long long)shape[1], (unsigned long long)shape[2],
                         net->n_layers, net->in_c, net->in_h, net->in_w);
    }
    if (!st && expected_key) {
        st = read_string(path, file, "key", text, CNN_KEY_BYTES);
        if (!st && strcmp(text, expected_key) != 0)
            st = mx_fail(MX_EMISMATCH, "%s: trained with other settings", path);
    }
    for (size_t l = 0; l < net->n_layers && !st; l++) {
        char name[48];
        snprintf(name, sizeof name, "layers/%zu/weight", l);
        hid_t d = H5Lexists(file, "layers", H5P_DEFAULT) > 0 ? H5Dopen2(file, name, H5P_DEFAULT)
                                                              : H5I_INVALID_HID;
        hid_t sp = d >= 0 ? H5Dget_space(d) : H5I_INVALID_HID;
        hsize_t dims[2] = {0, 0};
        if (sp < 0 || H5Sget_simple_extent_ndims(sp) != 2 ||
            H5Sget_simple_extent_dims(sp, dims, NULL) < 0 || dims[0] != net->layer[l].n_out ||
            dims[1] != net->layer[l].n_in)
            st = mx_fail(MX_EFORMAT, "%s: /%s missing or not (%zu, %zu)", path, name,
                         net->layer[l].n_out, net->layer[l].n_in);
        else if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, net->layer[l].w) <
                 0)
            st = mx_fail(MX_EFORMAT, "%s: cannot read /%s", path, name);
        for (size_t i = 0; !st && i < net->layer[l].n_out * net->layer[l].n_in; i++)
            if (!isfinite(net->layer[l].w[i]))
                st = mx_fail(MX_EFORMAT, "%s: /%s holds a non-finite weight", path, name);
        mx_h5_close(&sp);
        mx_h5_close(&d);
    }
    mx_free(text);
    mx_h5_close(&file);
    return st;
}

/* ------------------------------------------------------------- training */

static mx_status get_network(const mx_experiment_config *pc, const mx_method_ctx *ctx,
                             mx_cnn **net, double *seconds, int *trained)
{
    *net = NULL;
    *seconds = 0.0;
    *trained = 0;
    const mx_dataset *tr = ctx->train;
    mx_status st = mx_cnn_create(&pc->cnn, 1, tr->rows, tr->cols, pc->model.hidden,
                                 pc->model.n_hidden, tr->n_classes, ctx->train_seed, net);
    if (st)
        return st;
    if (pc->model.weights[0] != '\0') { /* trained elsewhere: its layers must fit the config */
        char file[MX_DEVICE_PATH_BYTES + 1024];
        mx_config_file_path(pc, pc->model.weights, file, sizeof file);
        st = mx_cnn_weights_load(file, NULL, *net);
        if (st) {
            mx_cnn_destroy(*net);
            *net = NULL;
            return mx_fail_context(st, "model.weights (the layers must match model.hidden and "
                                       "model.conv_*)");
        }
        mx_log(MX_LOG_INFO, "cnn: network from model.weights: %s (not trained here)", file);
        return MX_OK;
    }
    char *key = mx_calloc(1, CNN_KEY_BYTES);
    char path[1024];
    st = key ? mx_method_key_append(pc, train_key_paths, key, CNN_KEY_BYTES)
             : mx_fail(MX_ENOMEM, "cnn: out of memory");
    if (!st)
        st = mx_method_cache_path(ctx, "cnn", key, path, sizeof path);
    /* Processes sharing the cache folder train each network once. */
    const int lock = st ? -1 : mx_cache_lock(path);
    if (!st && mx_cnn_weights_load(path, key, *net) == MX_OK) {
        mx_cache_unlock(lock);
        mx_log(MX_LOG_INFO, "cnn: trained network loaded from %s", path);
        mx_free(key);
        return MX_OK;
    }
    mx_clear_error();
    if (!st) {
        /* a failed load may have left part of the weights: start afresh */
        mx_cnn_destroy(*net);
        *net = NULL;
        st = mx_cnn_create(&pc->cnn, 1, tr->rows, tr->cols, pc->model.hidden,
                           pc->model.n_hidden, tr->n_classes, ctx->train_seed, net);
    }
    const double t0 = mx_seconds_now();
    double loss = 0.0;
    if (!st)
        st = mx_cnn_train(*net, &pc->training.train, tr->x, tr->y, tr->n, ctx->train_seed,
                          "training (cnn)", &loss);
    *seconds = mx_seconds_now() - t0;
    if (!st) {
        mx_log(MX_LOG_INFO, "cnn: trained in %.1f s (final epoch loss %.4f)", *seconds, loss);
        st = mx_cnn_weights_save(path, *net, key, NAN);
        *trained = 1;
    }
    mx_cache_unlock(lock);
    mx_free(key);
    if (st) {
        mx_cnn_destroy(*net);
        *net = NULL;
    }
    return st;
}

/* ----------------------------------------------------------- evaluation */

typedef struct eval_ctx {
    const mx_cnn_snn *net;
    const mx_dataset *data;
    uint64_t seed, item_base;
    size_t compare_images;
    int *pred;                 /* (n, T) */
    mx_snn_layer_stats *stats; /* (n, L) or NULL */
    /* recording */
    size_t layer, quota, stride;
    float *buf;
    size_t *got;
} eval_ctx;

static mx_status state_create(const void *ctx, void **state)
{
    return mx_cnn_snn_state_create(((const eval_ctx *)ctx)->net, (mx_cnn_snn_state **)state);
}

static void state_destroy(void *state) { mx_cnn_snn_state_destroy(state); }

static mx_status eval_item(const void *ctx, void *state, size_t i)
{
    const eval_ctx *c = ctx;
    const size_t T = mx_cnn_snn_config(c->net)->timesteps, L = mx_cnn_snn_n_layers(c->net);
    return mx_cnn_snn_run(c->net, state, c->data->x + i * c->data->dim, c->seed,
                          c->item_base + i, i < c->compare_images, c->pred + i * T, NULL,
                          c->stats ? c->stats + i * L : NULL);
}

static mx_status record_item(const void *ctx, void *state, size_t i)
{
    const eval_ctx *c = ctx;
    mx_current_recorder rec = {
        .values = c->buf + i * c->quota, .capacity = c->quota, .stride = c->stride};
    mx_status st = mx_cnn_snn_run_record(c->net, state, c->data->x + i * c->data->dim, c->seed,
                                         c->item_base + i, c->layer, &rec);
    c->got[i] = rec.count;
    return st;
}

/* Calibrate every analog layer's ADC on the first n images of `calib`. */
static mx_status calibrate(mx_cnn_snn *net, mx_matmul **mm, const mx_dataset *calib, size_t n,
                           double percentile, uint64_t seed, uint64_t item_base,
                           double *range_a)
{
    const size_t L = mx_cnn_snn_n_layers(net), T = mx_cnn_snn_config(net)->timesteps;
    if (n == 0 || n > CNN_CALIB_MAX_SAMPLES)
        return mx_fail(MX_EINVAL, "cnn ADC calibration: expected 1..%zu images, got %zu",
                       CNN_CALIB_MAX_SAMPLES, n);
    for (size_t l = 0; l < L; l++) {
        range_a[l] = 0.0;
        mx_cnn_snn_set_backend(net, l, NULL);
    }
    float *buf = mx_alloc(CNN_CALIB_MAX_SAMPLES * sizeof(float));
    size_t *got = mx_calloc(n, sizeof(size_t));
    double *table = NULL;
    mx_status st = buf && got ? MX_OK : mx_fail(MX_ENOMEM, "cnn ADC calibration: out of memory");
    for (size_t l = 0; l < L && !st; l++) {
        st = mx_cnn_snn_set_backend(net, l, mm[l]);
        if (st || mx_matmul_adc_config(mm[l])->kind == MX_ADC_NONE)
            continue;
        if ((st = mx_matmul_set_adc_range(mm[l], CNN_CALIB_PROFILE_RANGE_A)))
            break;
        const size_t quota = CNN_CALIB_MAX_SAMPLES / n;
        const size_t offered = T * mx_conv_positions(mx_cnn_snn_geom(net, l)) *
                               mx_matmul_n_row_tiles(mm[l]) * mx_matmul_input_passes(mm[l]) *
                               mx_matmul_currents_per_read(mm[l]);
        const eval_ctx c = {.net = net, .data = calib, .seed = seed, .item_base = item_base,
                            .layer = l, .quota = quota, .stride = offered / quota + 1,
                            .buf = buf, .got = got};
        static const mx_parallel_ops ops = {state_create, state_destroy, record_item};
        if ((st = mx_parallel_items(&ops, &c, n, 4, NULL)))
            break;
        const size_t count = mx_calibration_join(buf, quota, got, n);
        st = mx_calibrate_matmul_adc(mm[l], l, n, buf, count, percentile, &table, &range_a[l]);
    }
    mx_free(buf);
    mx_free(got);
    mx_free(table);
    return st;
}

/* Run the first n test images: OUT pred (n, T), stats (n, L) zeroed first. */
static mx_status evaluate(const mx_cnn_snn *net, const mx_dataset *test, size_t n,
                          uint64_t seed, size_t compare_images, int *pred,
                          mx_snn_layer_stats *stats, const char *what)
{
    if (stats)
        memset(stats, 0, n * mx_cnn_snn_n_layers(net) * sizeof *stats);
    static const mx_parallel_ops ops = {state_create, state_destroy, eval_item};
    const eval_ctx c = {.net = net, .data = test, .seed = seed, .compare_images = compare_images,
                        .pred = pred, .stats = stats};
    return mx_parallel_items(&ops, &c, n, 4, what);
}

static double accuracy_at(const int *pred, const uint8_t *y, size_t n, size_t T, size_t t)
{
    size_t correct = 0;
    for (size_t i = 0; i < n; i++)
        correct += pred[i * T + t] == (int)y[i];
    return (double)correct / (double)n;
}

/* Sum layer l's per-image stats in image order and fill its columns. */
static mx_status summarise_layer(const mx_cnn_snn *net, size_t l, const mx_snn_layer_stats *st,
                                 size_t n, const mx_experiment_config *pc, mx_method_point *out,
                                 uint64_t *conversions, uint64_t *clipped)
{
    const size_t L = mx_cnn_snn_n_layers(net), T = mx_cnn_snn_config(net)->timesteps;
    mx_snn_layer_stats s;
    memset(&s, 0, sizeof s);
    for (size_t i = 0; i < n; i++) {
        const mx_snn_layer_stats *x = &st[i * L + l];
        s.err_sq_sum += x->err_sq_sum;
        s.ref_sq_sum += x->ref_sq_sum;
        s.err_sum += x->err_sum;
        s.n_values += x->n_values;
        s.spikes += x->spikes;
        s.neuron_updates += x->neuron_updates;
        mx_matmul_stats_add(&s.mm, &x->mm);
    }
    out->rel_rms[l] = s.ref_sq_sum > 0.0 ? sqrt(s.err_sq_sum / s.ref_sq_sum) : 0.0;
    out->mean_err[l] = s.n_values ? s.err_sum / (double)s.n_values : 0.0;
    out->clip[l] = s.mm.conversions ? (double)s.mm.clipped / (double)s.mm.conversions : 0.0;
    out->activity[l] =
        (double)s.spikes / ((double)n * (double)T * (double)mx_cnn_snn_neurons(net, l));
    *conversions += s.mm.conversions;
    *clipped += s.mm.clipped;
    const mx_energy_counts counts = {
        .mm = s.mm, .neuron_updates = s.neuron_updates, .spikes = s.spikes};
    return mx_method_price_layer(out, l, mx_cnn_snn_backend(net, l), pc,
                                 pc->snn.neuron == MX_NEURON_LIF, &counts, n);
}

mx_status mx_cnn_point_run(const mx_experiment_config *pc, const mx_method_ctx *ctx,
                           mx_method_point *out)
{
    const size_t n = ctx->n_test, T = pc->snn.timesteps;
    if (pc->hardware.readout.kind != MX_READOUT_ADC)
        return mx_fail(MX_EINVAL, "hardware.readout.kind: expected adc with model.conv_channels "
                                  "(the CNN has no ADC-less readout), got integrate");
    if (pc->training.mode != MX_TRAINING_PLAIN)
        return mx_fail(MX_EINVAL, "training.mode: expected plain with model.conv_channels, got "
                                  "noise-aware");
    if (ctx->train->steps || ctx->train->rows * ctx->train->cols != ctx->train->dim)
        return mx_fail(MX_EINVAL, "dataset.name: expected an image dataset with "
                                  "model.conv_channels, got %s", pc->dataset.name);
    if (n == 0)
        return mx_fail(MX_EINVAL, "cnn evaluation: no test images");
    mx_cnn *cnn = NULL;
    mx_cnn_snn *net = NULL;
    mx_matmul *mm[MX_CNN_MAX_LAYERS] = {0};
    int *pred = NULL;
    mx_snn_layer_stats *stats = NULL;
    mx_status st = get_network(pc, ctx, &cnn, &out->seconds_training, &out->trained);
    if (st)
        return st;
    const size_t L = cnn->n_layers;
    double acc_ann = NAN;
    out->accuracy_vs_step = mx_calloc(T, sizeof(double));
    pred = mx_alloc(mx_size_mul(n, T) * sizeof(int));
    stats = mx_alloc(mx_size_mul(n, L) * sizeof *stats);
    if (!out->accuracy_vs_step || !pred || !stats)
        st = mx_fail(MX_ENOMEM, "cnn evaluation: out of memory");
    if (!st)
        st = mx_cnn_accuracy(cnn, ctx->test->x, ctx->test->y, n, &acc_ann);
    if (!st)
        st = mx_cnn_snn_from_cnn(cnn, &pc->snn, ctx->train->x, ctx->n_calib, &net);
    /* The exact digital spiking CNN: same input, same read-noise-free steps. */
    double acc_digital = NAN;
    if (!st)
        st = evaluate(net, ctx->test, n, ctx->eval_seed, 0, pred, NULL,
                      "evaluating (digital spiking CNN)");
    if (!st)
        acc_digital = accuracy_at(pred, ctx->test->y, n, T, T - 1);
    if (!st)
        st = mx_cnn_snn_program_crossbars(net, &pc->hardware.crossbar,
                                          mx_device_lookup(pc->hardware.device_type),
                                          &pc->hardware.device, &pc->hardware.adc, ctx->hw_seed,
                                          mm);
    /* ADC ranges, then drift compensation, in rounds (method.h). */
    for (size_t round = 0; !st && round < mx_method_drift_rounds(pc, L); round++) {
        st = calibrate(net, mm, ctx->train, ctx->n_calib, pc->hardware.adc.range_percentile,
                       ctx->eval_seed, ctx->calib_item_base, out->range_a);
        if (!st)
            st = mx_method_drift_compensation(&out->pr, pc, mm, L, ctx->eval_seed);
        if (!st)
            st = mx_method_column_calibration(&out->pr, pc, mm, L, ctx->eval_seed);
    }
    const double t0 = mx_seconds_now();
    if (!st)
        st = evaluate(net, ctx->test, n, ctx->eval_seed, ctx->compare_images, pred, stats,
                      ctx->what);
    const double t_eval = mx_seconds_now() - t0;
    uint64_t conversions = 0, clipped = 0;
    for (size_t l = 0; l < L && !st; l++)
        st = summarise_layer(net, l, stats, n, pc, out, &conversions, &clipped);
    if (!st) {
        for (size_t t = 0; t < T; t++)
            out->accuracy_vs_step[t] = accuracy_at(pred, ctx->test->y, n, T, t);
        mx_point_result *pr = &out->pr;
        pr->n_test = n;
        pr->accuracy = out->accuracy_vs_step[T - 1];
        pr->accuracy_snn_digital = acc_digital;
        pr->accuracy_ann = acc_ann;
        pr->adc_clip_rate = conversions ? (double)clipped / (double)conversions : 0.0;
        pr->timesteps = T;
        pr->accuracy_vs_step = out->accuracy_vs_step;
        pr->n_layers = L;
        for (size_t l = 0; l < L; l++) {
            pr->energy_j += out->e_layer[l];
            pr->latency_s += out->latency[l];
            pr->area_mm2 += out->area[l];
        }
        pr->network = "snn";
        mx_method_programming_cost(pr, mm, L);
        mx_log(MX_LOG_INFO, "cnn: crossbar evaluation %.1f ms per image (%zu images, %zu steps)",
               1e3 * t_eval / (double)n, n, T);
    }
    for (size_t l = 0; l < L; l++)
        mx_matmul_destroy(mm[l]);
    mx_cnn_snn_destroy(net);
    mx_cnn_destroy(cnn);
    mx_free(pred);
    mx_free(stats);
    return st;
}
