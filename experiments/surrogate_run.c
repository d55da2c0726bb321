/* SPDX-License-Identifier: MIT
 *
 * surrogate_run.c: the `experiment: surrogate` point (surrogate_run.h).
 *
 *   trained network (cache or mx_surrogate_train; weight-noise through
 *   snn/train.h mx_perturb_weights, hardware-aware through snn/hwa.h)
 *   ──► one mx_matmul per analog layer, conv blocks (surrogate.conv_channels)
 *   first, then the dense layers. A block's matrix is its unrolled kernel,
 *   read once per output position and step with that position's im2col
 *   patch (patches with no input are not read); its LIF map is pooled for
 *   the next layer. Layer 0 with the current encoding and the layer after
 *   an avg-pooled block are driven through the configured input drive (DAC
 *   unless bit-serial or PWM); every other layer reads spikes (event-driven:
 *   only rows with a spike are read)
 *   ──► ADC full scales calibrated layer by layer from the column currents
 *   of ctx->n_calib training examples (layers before l already calibrated)
 *   ──► the first ctx->n_test test examples stepped through the crossbar
 *   with the LIF dynamics of snn/surrogate.h (mx_surrogate_neuron_step) and
 *   on the exact digital path (mx_surrogate_predict, SGEMM) ──► results.
 *
 * Streams: cells and ADC instances from ctx->hw_seed with layer ids
 * 0..L−1 (blocks, then dense layers); input encoding "surrogate.encode" and
 * read noise "crossbar.read" from ctx->eval_seed — encoding item = the
 * example (test i, calibration calib_item_base + i), read item =
 * example·T + step, all layers (and positions) of a step drawing in order
 * from that one item. Per-example statistics are summed in
 * example order, so results do not depend on the thread count.
 *
 * Energy: each layer's counts priced by energy/ with LIF neuron updates
 * (one per neuron and step) and the layer's spikes.
 */
#include "experiments/surrogate_run.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "calibration/calibration.h"
#include "core/log.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "crossbar/crossbar.h"
#include "experiments/h5io.h"
#include "experiments/weights.h"
#include "snn/hwa.h"
#include "snn/train.h"

/* Currents kept for one layer's ADC calibration (as calibration/). */
#define CALIB_MAX_SAMPLES ((size_t)4 << 20)
/* Full scale while profiling: far above any column current, so nothing clips. */
#define CALIB_PROFILE_RANGE_A 1.0
#define MAX_CLASSES 256
#define KEY_BYTES 8192

/* Frames per example of a dataset (0: static images). */
static size_t dataset_frames(const mx_dataset *d) { return d->steps; }

/* ------------------------------------------------------------ training */

static const char *const key_paths[] = {
    "seed", "dataset.name", "dataset.train_limit", "dataset.event_steps",
    "surrogate.hidden", "surrogate.timesteps", "surrogate.beta", "surrogate.alpha",
    "surrogate.reset", "surrogate.function", "surrogate.slope", "surrogate.encoding",
    "surrogate.latency_tau_steps", "surrogate.latency_threshold", "surrogate.output",
    "surrogate.init_gain", "surrogate.epochs", "surrogate.batch_size",
    "surrogate.learning_rate", "surrogate.adam_beta1", "surrogate.adam_beta2",
    "surrogate.training", NULL};
/* Conv blocks: keyed only when there are some, so a dense network's key
 * (and cache file) is what it was before conv blocks existed. */
static const char *const conv_key_paths[] = {"surrogate.conv_channels", "surrogate.conv_kernel",
                                             "surrogate.conv_padding", "surrogate.pool", NULL};
/* What weight-noise training sees of the device (besides σ). */
static const char *const noise_key_paths[] = {
    "hardware.device.type", "hardware.device.preset", "hardware.device.g_min_s",
    "hardware.device.g_max_s", "hardware.device.levels", "hardware.device.prog_noise",
    "hardware.device.stuck_at_gmin", "hardware.device.stuck_at_gmax", NULL};
/* ... and what hardware-aware training sees of the whole forward path. */
static const char *const hwa_key_paths[] = {
    "hardware.device.read_noise_sigma", "hardware.crossbar.tile_rows",
    "hardware.crossbar.tile_cols", "hardware.crossbar.read_voltage_v", "hardware.crossbar.input",
    "hardware.crossbar.dac_bits", "hardware.crossbar.noise", "hardware.crossbar.mapping",
    "hardware.crossbar.slices", "hardware.crossbar.slice_bits", "hardware.crossbar.r_wire_ohm",
    "hardware.crossbar.r_row_ohm", "hardware.crossbar.r_col_ohm", "hardware.crossbar.r_src_ohm",
    "hardware.crossbar.r_sense_ohm", "hardware.crossbar.r_access_ohm", "hardware.crossbar.irdrop",
    "hardware.adc.type", "hardware.adc.bits", "hardware.adc.polarity", "hardware.adc.range_mode",
    "hardware.adc.range_percentile", NULL};

static double training_sigma(const mx_experiment_config *pc)
{
    return pc->surrogate.noise_sigma < 0.0 ? pc->hardware.device.d2d_sigma
                                           : pc->surrogate.noise_sigma;
}

static mx_status training_key(const mx_experiment_config *pc, char *key, size_t size)
{
    key[0] = '\0';
    mx_status st = mx_method_key_append(pc, key_paths, key, size);
    if (!st && pc->surrogate.n_conv > 0)
        st = mx_method_key_append(pc, conv_key_paths, key, size);
    if (!st && pc->surrogate.training != MX_SURROGATE_PLAIN) {
        st = mx_method_key_append(pc, noise_key_paths, key, size);
        size_t used = strlen(key);
        if (!st)
            snprintf(key + used, size - used, "noise_sigma=%.17g;", training_sigma(pc));
    }
    if (!st && pc->surrogate.training == MX_SURROGATE_HARDWARE_AWARE)
        st = mx_method_key_append(pc, hwa_key_paths, key, size);
    return st;
}

/* The input drive of analog layer l (conv blocks first, then the dense
 * layers): a constant current into layer 0, and the average-pooled spike
 * maps of conv blocks (values 0, 1/4, ..., 1), enter through the
 * configured voltage drive (DAC unless bit-serial or PWM is asked for);
 * spikes (0/1, max-pooled or not) drive every other layer's rows. */
static mx_input_mode layer_input(const mx_experiment_config *pc, size_t l)
{
    const mx_surrogate_config *c = &pc->surrogate;
    const mx_input_mode analog = pc->hardware.crossbar.input == MX_INPUT_SPIKES
                                     ? MX_INPUT_DAC
                                     : pc->hardware.crossbar.input;
    if (l == 0 && c->encoding == MX_SURROGATE_CURRENT)
        return analog;
    if (l > 0 && l <= c->n_conv && c->pool == MX_POOL_AVG)
        return analog;
    return MX_INPUT_SPIKES;
}

/* Hardware-aware training: one emulated layer per dense layer. */
typedef struct hwa_train {
    mx_hwa_layer *h[MX_MLP_MAX_LAYERS];
    size_t L;
    uint64_t seed;
} hwa_train;

static mx_status hwa_before_batch(void *user, const mx_mlp *net, uint64_t batch)
{
    hwa_train *ht = user;
    for (size_t l = 0; l < ht->L; l++) {
        mx_status st = mx_hwa_layer_program(ht->h[l], net->w[l], ht->seed, batch);
        if (st)
            return st;
    }
    return MX_OK;
}

static mx_status hwa_forward(void *user, size_t layer, const float *x, size_t rows,
                             uint64_t item0, float *z)
{
    hwa_train *ht = user;
    return mx_hwa_layer_forward(ht->h[layer], x, rows, ht->seed, item0, z);
}

static void hwa_train_free(hwa_train *ht)
{
    for (size_t l = 0; l < ht->L; l++)
        mx_hwa_layer_destroy(ht->h[l]);
}

static mx_status hwa_train_init(hwa_train *ht, const mx_experiment_config *pc, const mx_mlp *net,
                                uint64_t seed)
{
    memset(ht, 0, sizeof *ht);
    ht->L = net->n_layers;
    ht->seed = seed;
    for (size_t l = 0; l < ht->L; l++) {
        mx_hwa_config hc;
        mx_hwa_config_default(&hc);
        hc.xbar = pc->hardware.crossbar;
        hc.xbar.input = layer_input(pc, l);
        /* Training chips are written open-loop: hardware.programming is how
         * the evaluated chip is programmed (and is not in the training key). */
        hc.xbar.programming = MX_PROGRAMMING_OPEN_LOOP;
        hc.xbar.drift.mode = MX_DRIFT_NONE; /* nor drift-compensated */
        hc.xbar.column_cal.mode = MX_COLUMN_CAL_NONE; /* nor column-calibrated */
        hc.device = mx_device_lookup(pc->hardware.device_type);
        hc.device_params = pc->hardware.device;
        hc.device_params.d2d_sigma = training_sigma(pc);
        hc.adc = pc->hardware.adc;
        mx_status st =
            mx_hwa_layer_create(&hc, net->sizes[l + 1], net->sizes[l], (uint32_t)l, &ht->h[l]);
        if (st) {
            hwa_train_free(ht);
            return st;
        }
    }
    return MX_OK;
}

/* ---- conv blocks in the cache file ----
 * The weights file of experiments/weights.h holds the dense layers; conv
 * blocks add a group /surrogate_conv to the same file: attributes
 * n_blocks, input_shape (C, H, W), kernel, padding, pool ("avg" | "max"),
 * and one float32 dataset block<j> (C_out, C_in·k·k) per block, the
 * unrolled kernel (row o = output channel o, columns (c, a, b), b fastest:
 * PyTorch's Conv2d weight (C_out, C_in, k, k) reshaped). */
#define CONV_GROUP "surrogate_conv"

static mx_status conv_save(const char *path, const mx_surrogate_conv *cv)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT), g = H5I_INVALID_HID;
    mx_status st = file >= 0 ? MX_OK : mx_fail(MX_EIO, "%s: cannot reopen to add the conv "
                                                       "blocks", path);
    const uint64_t nb = cv->n_conv, kernel = cv->geom[0].kernel, pad = cv->geom[0].padding;
    const uint64_t shape[3] = {cv->geom[0].channels, cv->geom[0].height, cv->geom[0].width};
    if (!st && ((g = H5Gcreate2(file, CONV_GROUP, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
                mx_h5_attr_write(g, "n_blocks", H5T_STD_U64LE, H5T_NATIVE_UINT64, 0, &nb) < 0 ||
                mx_h5_attr_write(g, "input_shape", H5T_STD_U64LE, H5T_NATIVE_UINT64, 3, shape) <
                    0 ||
                mx_h5_attr_write(g, "kernel", H5T_STD_U64LE, H5T_NATIVE_UINT64, 0, &kernel) < 0 ||
                mx_h5_attr_write(g, "padding", H5T_STD_U64LE, H5T_NATIVE_UINT64, 0, &pad) < 0 ||
                mx_h5_attr_string(g, "pool", cv->pool == MX_POOL_MAX ? "max" : "avg") < 0))
        st = mx_fail(MX_EIO, "%s: cannot write group /%s", path, CONV_GROUP);
    for (size_t j = 0; j < cv->n_conv && !st; j++) {
        char name[32];
        snprintf(name, sizeof name, "block%zu", j);
        const hsize_t dims[2] = {cv->c_out[j], mx_conv_patch_size(&cv->geom[j])};
        hid_t sp = H5Screate_simple(2, dims, NULL), d = H5I_INVALID_HID;
        if (sp >= 0)
            d = H5Dcreate2(g, name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (d < 0 || H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, cv->w[j]) < 0)
            st = mx_fail(MX_EIO, "%s: cannot write /%s/%s", path, CONV_GROUP, name);
        mx_h5_close(&d);
        mx_h5_close(&sp);
    }
    mx_h5_close(&g);
    if (file >= 0 && H5Fclose(file) < 0 && !st)
        st = mx_fail(MX_EIO, "%s: cannot close", path);
    return st;
}

/* Read the blocks into cv (already shaped by the config). MX_EFORMAT when
 * the group is missing or a shape or value is wrong. */
static mx_status conv_load(const char *path, mx_surrogate_conv *cv)
{
    hid_t file = H5I_INVALID_HID, g = H5I_INVALID_HID;
    mx_status st = mx_h5_open_read(path, &file);
    if (!st && (H5Lexists(file, CONV_GROUP, H5P_DEFAULT) <= 0 ||
                (g = H5Gopen2(file, CONV_GROUP, H5P_DEFAULT)) < 0))
        st = mx_fail(MX_EFORMAT, "%s: no group /%s", path, CONV_GROUP);
    for (size_t j = 0; j < cv->n_conv && !st; j++) {
        char name[32];
        snprintf(name, sizeof name, "block%zu", j);
        const size_t K = mx_conv_patch_size(&cv->geom[j]), nw = cv->c_out[j] * K;
        hid_t d = H5Lexists(g, name, H5P_DEFAULT) > 0 ? H5Dopen2(g, name, H5P_DEFAULT)
                                                       : H5I_INVALID_HID;
        hid_t sp = d >= 0 ? H5Dget_space(d) : H5I_INVALID_HID;
        hsize_t dims[2] = {0, 0};
        if (sp < 0 || H5Sget_simple_extent_ndims(sp) != 2 ||
            H5Sget_simple_extent_dims(sp, dims, NULL) < 0 || dims[0] != cv->c_out[j] ||
            dims[1] != K ||
            H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, cv->w[j]) < 0)
            st = mx_fail(MX_EFORMAT, "%s: /%s/%s: expected float (%zu, %zu)", path, CONV_GROUP,
                         name, cv->c_out[j], K);
        for (size_t i = 0; i < nw && !st; i++)
            if (!isfinite(cv->w[j][i]))
                st = mx_fail(MX_EFORMAT, "%s: /%s/%s: non-finite weight", path, CONV_GROUP, name);
        mx_h5_close(&sp);
        mx_h5_close(&d);
    }
    mx_h5_close(&g);
    mx_h5_close(&file);
    return st;
}

/* The conv blocks of c for examples of ctx's dataset (channels = inputs
 * per step / (rows·cols): 1 for images, 2 polarities for events). */
static mx_status conv_for_dataset(const mx_surrogate_config *c, const mx_dataset *d,
                                  size_t n_in, uint64_t seed, mx_surrogate_conv **cv)
{
    *cv = NULL;
    if (c->n_conv == 0)
        return MX_OK;
    const size_t hw = d->rows * d->cols;
    if (hw == 0 || n_in % hw != 0)
        return mx_fail(MX_EINVAL, "surrogate.conv_channels: the dataset's %zu inputs per step "
                                  "are no stack of %zux%zu maps", n_in, d->rows, d->cols);
    return mx_surrogate_conv_create(c, n_in / hw, d->rows, d->cols, seed, cv);
}

mx_status mx_surrogate_get_network(const mx_experiment_config *pc, const mx_method_ctx *ctx,
                                   mx_surrogate_conv **cv, mx_mlp **net, double *seconds,
                                   int *trained)
{
    *net = NULL;
    *cv = NULL;
    *seconds = 0.0;
    *trained = 0;
    const mx_surrogate_config *c = &pc->surrogate;
    const mx_dataset *tr = ctx->train;
    const size_t frames = dataset_frames(tr);
    size_t steps, n_in;
    mx_status st = mx_surrogate_shape(c, tr->dim, frames, &steps, &n_in);
    if (st)
        return st;
    char *key = mx_alloc(KEY_BYTES);
    if (!key)
        return mx_fail(MX_ENOMEM, "surrogate: out of memory");
    char path[1024];
    st = training_key(pc, key, KEY_BYTES);
    if (!st)
        st = mx_method_cache_path(ctx, "surrogate", key, path, sizeof path);
    /* Processes sharing the cache folder train each network once. */
    const int lock = st ? -1 : mx_cache_lock(path);
    if (!st)
        st = conv_for_dataset(c, tr, n_in, ctx->train_seed, cv);
    const size_t dense_in = *cv ? (*cv)->n_out : n_in;
    if (!st && mx_weights_load(path, key, net, NULL) == MX_OK) {
        if ((*net)->sizes[0] == dense_in && (*net)->sizes[(*net)->n_layers] == tr->n_classes &&
            (!*cv || conv_load(path, *cv) == MX_OK)) {
            mx_cache_unlock(lock);
            mx_log(MX_LOG_INFO, "surrogate: trained network loaded from %s", path);
            mx_free(key);
            return MX_OK;
        }
        mx_mlp_destroy(*net);
        *net = NULL;
        if (*cv) { /* fresh initial weights for the training below */
            mx_surrogate_conv_destroy(*cv);
            st = conv_for_dataset(c, tr, n_in, ctx->train_seed, cv);
        }
    }
    if (st) {
        mx_surrogate_conv_destroy(*cv);
        *cv = NULL;
        mx_cache_unlock(lock);
        mx_free(key);
        return st;
    }
    mx_clear_error(); /* a missing or stale cache file is no error: train */
    double t0 = mx_seconds_now();
    st = mx_surrogate_create(c, dense_in, tr->n_classes, ctx->train_seed, net);
    mx_noise_aware na = {0};
    hwa_train ht = {0};
    mx_surrogate_train_hooks hooks = {0};
    if (!st && c->training == MX_SURROGATE_WEIGHT_NOISE) {
        na.device = mx_device_lookup(pc->hardware.device_type);
        na.params = pc->hardware.device;
        na.params.d2d_sigma = training_sigma(pc);
        na.params.read_noise_sigma = 0.0;
        hooks.noise = &na;
    }
    if (!st && c->training == MX_SURROGATE_HARDWARE_AWARE) {
        st = hwa_train_init(&ht, pc, *net, ctx->train_seed);
        hooks.hw = hwa_forward;
        hooks.hw_user = &ht;
        hooks.before_batch = hwa_before_batch;
    }
    double loss = 0.0, acc = 0.0;
    if (!st)
        st = mx_surrogate_train_conv(*cv, *net, c, tr->x, tr->y, tr->n, tr->dim, frames,
                                     ctx->train_seed, &hooks, "training (surrogate gradients)",
                                     &loss, &acc);
    hwa_train_free(&ht);
    *seconds = mx_seconds_now() - t0;
    if (!st) {
        mx_log(MX_LOG_INFO, "surrogate: trained in %.1f s (final epoch loss %.4f, training "
                            "accuracy %.2f %%)", *seconds, loss, 100.0 * acc);
        st = mx_weights_save(path, *net, key, NAN);
        if (!st && *cv)
            st = conv_save(path, *cv);
        *trained = 1;
    }
    mx_cache_unlock(lock);
    if (st) {
        mx_mlp_destroy(*net);
        *net = NULL;
        mx_surrogate_conv_destroy(*cv);
        *cv = NULL;
    }
    mx_free(key);
    return st;
}

/* ------------------------------------------------------------ crossbar run */

typedef struct layer_stats {
    double err_sq_sum, ref_sq_sum, err_sum;
    uint64_t n_values, spikes, neuron_updates;
    mx_matmul_stats mm;
} layer_stats;

/* One analog layer: a programmed matrix (n_out, n_in). A conv block's
 * matrix is its unrolled kernel, read once per output position with that
 * position's im2col patch of the input map, and its spike map is pooled
 * for the next layer; a dense layer is read once with its whole input. */
typedef struct alayer {
    const float *w;            /* (n_out, n_in) */
    size_t n_in, n_out;
    const mx_conv_geom *geom;  /* conv block: its patches; NULL: dense */
    const mx_pool_geom *pgeom; /* conv block: the pooling after it */
    size_t positions;          /* conv: H_out·W_out; dense: 1 */
    size_t neurons;            /* n_out·positions */
    size_t out_size;           /* what the next layer reads: pooled map or n_out */
    int spiking;
} alayer;

/* The network on its matmuls, for one evaluation or calibration pass. */
typedef struct xnet {
    const mx_surrogate_config *cfg;
    alayer lay[MX_RESULTS_MAX_LAYERS];
    mx_matmul *const *mm;
    size_t L, T, n_in, C, dim, frames;
    size_t run_layers;      /* layers stepped (calibration: up to the profiled one) */
    uint64_t seed;          /* eval seed */
    /* one pass's items */
    const float *x;         /* (n, dim) */
    uint64_t item_base;     /* encoding item of example i = item_base + i */
    size_t compare;         /* examples i < compare accumulate the error vs W·x */
    int *pred;              /* (n, T) or NULL */
    layer_stats *stats;     /* (n, L) or NULL */
    /* calibration */
    size_t rec_layer, quota, stride;
    float *rec_buf;         /* (n, quota) */
    size_t *rec_got;        /* (n) */
} xnet;

/* The analog layers of (cv, net): conv blocks first, then the dense
 * layers. MX_EINVAL when there are more than results hold. */
static mx_status xnet_layers(xnet *x, const mx_surrogate_conv *cv, const mx_mlp *net)
{
    const size_t J = cv ? cv->n_conv : 0, L = J + net->n_layers;
    if (L > MX_RESULTS_MAX_LAYERS)
        return mx_fail(MX_EINVAL, "surrogate.hidden: the network has %zu conv and %zu dense "
                                  "layers, at most %d in all", J, net->n_layers,
                       MX_RESULTS_MAX_LAYERS);
    const int spiking_out = x->cfg->output == MX_SURROGATE_MEMBRANE_SUM;
    for (size_t j = 0; j < J; j++) {
        const size_t P = mx_conv_positions(&cv->geom[j]);
        x->lay[j] = (alayer){.w = cv->w[j],
                             .n_in = mx_conv_patch_size(&cv->geom[j]),
                             .n_out = cv->c_out[j],
                             .geom = &cv->geom[j],
                             .pgeom = &cv->pgeom[j],
                             .positions = P,
                             .neurons = cv->c_out[j] * P,
                             .out_size = mx_pool_output_size(&cv->pgeom[j]),
                             .spiking = 1};
    }
    for (size_t l = 0; l < net->n_layers; l++)
        x->lay[J + l] = (alayer){.w = net->w[l],
                                 .n_in = net->sizes[l],
                                 .n_out = net->sizes[l + 1],
                                 .positions = 1,
                                 .neurons = net->sizes[l + 1],
                                 .out_size = net->sizes[l + 1],
                                 .spiking = l + 1 < net->n_layers || spiking_out};
    x->L = L;
    x->run_layers = L;
    x->C = net->sizes[net->n_layers];
    return MX_OK;
}

typedef struct xstate {
    float *in;                       /* (T, n_in) */
    float *z, *zref;                 /* (most neurons) */
    float *zpos, *patch;             /* one position's outputs and patch */
    float *syn[MX_RESULTS_MAX_LAYERS], *v[MX_RESULTS_MAX_LAYERS], *s[MX_RESULTS_MAX_LAYERS];
    float *pooled[MX_RESULTS_MAX_LAYERS]; /* conv blocks: the pooled spike map */
    size_t *argmax;                  /* max pooling scratch */
    float counts[MAX_CLASSES], vmax[MAX_CLASSES];
    mx_matmul_work *work[MX_RESULTS_MAX_LAYERS];
    size_t *nz;                      /* (most n_in): indices of non-zero inputs */
    float *mem;
} xstate;

static void xstate_destroy(void *state)
{
    xstate *s = state;
    if (!s)
        return;
    for (size_t l = 0; l < MX_RESULTS_MAX_LAYERS; l++)
        mx_matmul_work_destroy(s->work[l]);
    mx_free(s->mem);
    mx_free(s->nz);
    mx_free(s->argmax);
    mx_free(s);
}

static mx_status xstate_create(const void *ctx, void **state)
{
    const xnet *x = ctx;
    xstate *s = mx_calloc(1, sizeof *s);
    if (!s)
        return mx_fail(MX_ENOMEM, "surrogate evaluation: out of memory");
    size_t most = 0, most_out = 1, most_in = 1, most_pool = 1, total = x->T * x->n_in;
    for (size_t l = 0; l < x->L; l++) {
        const alayer *a = &x->lay[l];
        most = a->neurons > most ? a->neurons : most;
        most_out = a->n_out > most_out ? a->n_out : most_out;
        most_in = a->n_in > most_in ? a->n_in : most_in;
        total += 3 * a->neurons + (a->geom ? a->out_size : 0);
        if (a->geom)
            most_pool = a->out_size > most_pool ? a->out_size : most_pool;
    }
    total += 2 * most + most_out + most_in;
    s->mem = mx_alloc(total * sizeof(float));
    s->nz = mx_alloc(most_in * sizeof(size_t));
    s->argmax = mx_alloc(most_pool * sizeof(size_t));
    mx_status st = s->mem && s->nz && s->argmax
                       ? MX_OK
                       : mx_fail(MX_ENOMEM, "surrogate evaluation: out of memory");
    float *p = s->mem;
    if (!st) {
        s->in = p;
        p += x->T * x->n_in;
        s->z = p;
        p += most;
        s->zref = p;
        p += most;
        s->zpos = p;
        p += most_out;
        s->patch = p;
        p += most_in;
        for (size_t l = 0; l < x->L; l++) {
            const size_t n = x->lay[l].neurons;
            s->syn[l] = p;
            s->v[l] = p + n;
            s->s[l] = p + 2 * n;
            p += 3 * n;
            if (x->lay[l].geom) {
                s->pooled[l] = p;
                p += x->lay[l].out_size;
            }
        }
    }
    for (size_t l = 0; l < x->L && !st; l++)
        st = mx_matmul_work_create(x->mm[l], &s->work[l]);
    if (st) {
        xstate_destroy(s);
        return st;
    }
    *state = s;
    return MX_OK;
}

/* Accumulate the error of z (n) against the exact W·in over the driven
 * rows of `in` (n_in); nz scratch. */
static void compare_add(layer_stats *ls, const float *w, size_t n_in, size_t n, const float *in,
                        const float *z, size_t *nz)
{
    size_t nnz = 0;
    for (size_t j = 0; j < n_in; j++)
        if (in[j] != 0.0f)
            nz[nnz++] = j;
    for (size_t o = 0; o < n; o++) {
        double acc = 0.0;
        for (size_t q = 0; q < nnz; q++)
            acc += (double)w[o * n_in + nz[q]] * (double)in[nz[q]];
        const double e = (double)z[o] - acc;
        ls->err_sq_sum += e * e;
        ls->ref_sq_sum += acc * acc;
        ls->err_sum += e;
    }
    ls->n_values += n;
}

/* Layer l's input currents z (neurons) from its input `in` at one step: one
 * read, or one read per output position whose patch has any input (a
 * patch of zeros draws no current and is not read). */
static void layer_read(const xnet *x, xstate *s, size_t l, const float *in, mx_rng *rng,
                       layer_stats *ls, int compare, mx_current_recorder *rec)
{
    const alayer *a = &x->lay[l];
    mx_current_recorder *r = x->rec_buf && l == x->rec_layer ? rec : NULL;
    mx_matmul_stats *mst = ls ? &ls->mm : NULL;
    if (!a->geom) {
        mx_matmul_forward(x->mm[l], s->work[l], in, s->z, rng, mst, r);
        if (compare)
            compare_add(ls, a->w, a->n_in, a->n_out, in, s->z, s->nz);
        return;
    }
    const size_t P = a->positions;
    for (size_t p = 0; p < P; p++) {
        if (mx_im2col_patch(a->geom, in, p, s->patch) == 0) {
            for (size_t o = 0; o < a->n_out; o++)
                s->z[o * P + p] = 0.0f;
            continue;
        }
        mx_matmul_forward(x->mm[l], s->work[l], s->patch, s->zpos, rng, mst, r);
        if (compare)
            compare_add(ls, a->w, a->n_in, a->n_out, s->patch, s->zpos, s->nz);
        for (size_t o = 0; o < a->n_out; o++)
            s->z[o * P + p] = s->zpos[o];
    }
}

/* Example i of the pass through the crossbar, step by step. */
static mx_status xitem(const void *ctx, void *state, size_t i)
{
    const xnet *x = ctx;
    xstate *s = state;
    const mx_surrogate_config *c = x->cfg;
    const uint64_t item = x->item_base + i;
    mx_surrogate_encode(c, x->x + i * x->dim, x->dim, x->frames, x->seed, item, s->in);
    for (size_t l = 0; l < x->run_layers; l++) {
        const size_t n = x->lay[l].neurons;
        memset(s->syn[l], 0, n * sizeof(float));
        memset(s->v[l], 0, n * sizeof(float));
        memset(s->s[l], 0, n * sizeof(float));
    }
    for (size_t k = 0; k < x->C; k++) {
        s->counts[k] = 0.0f;
        s->vmax[k] = -INFINITY;
    }
    layer_stats *ls = x->stats ? x->stats + i * x->L : NULL;
    mx_current_recorder rec = {0};
    if (x->rec_buf)
        rec = (mx_current_recorder){.values = x->rec_buf + i * x->quota,
                                    .capacity = x->quota,
                                    .stride = x->stride};
    const int compare = ls && i < x->compare;
    for (size_t t = 0; t < x->T; t++) {
        mx_rng rng;
        mx_rng_init_named(&rng, x->seed, "crossbar.read", item * x->T + t);
        const float *in = s->in + t * x->n_in;
        for (size_t l = 0; l < x->run_layers; l++) {
            const alayer *a = &x->lay[l];
            layer_read(x, s, l, in, &rng, ls ? &ls[l] : NULL, compare, &rec);
            mx_surrogate_neuron_step(c, a->spiking, a->neurons, s->z, s->syn[l], s->v[l],
                                     s->s[l]);
            if (ls) {
                uint64_t k = 0;
                for (size_t o = 0; o < a->neurons; o++)
                    k += s->s[l][o] != 0.0f;
                ls[l].spikes += k;
                ls[l].neuron_updates += a->neurons;
            }
            in = s->s[l];
            if (a->geom) {
                if (c->pool == MX_POOL_MAX)
                    mx_maxpool_forward(a->pgeom, s->s[l], s->pooled[l], s->argmax);
                else
                    mx_avgpool_forward(a->pgeom, s->s[l], s->pooled[l]);
                in = s->pooled[l];
            }
        }
        if (x->pred) {
            const size_t L = x->L;
            const float *vo = s->v[L - 1], *so = s->s[L - 1];
            for (size_t k = 0; k < x->C; k++) {
                s->counts[k] += so[k];
                s->vmax[k] = vo[k] > s->vmax[k] ? vo[k] : s->vmax[k];
            }
            x->pred[i * x->T + t] = mx_surrogate_decide(c, s->counts, vo, s->vmax, x->C);
        }
    }
    if (x->rec_got)
        x->rec_got[i] = rec.count;
    return MX_OK;
}

/* Calibrate every layer's ADC in order from n training examples. OUT:
 * range_a (L). */
static mx_status calibrate(xnet *x, mx_matmul *const *mm, const mx_dataset *train, size_t n,
                           uint64_t item_base, double percentile, double *range_a)
{
    if (n == 0)
        return mx_fail(MX_EINVAL, "dataset.calibration_images: expected >= 1 for the ADC "
                                  "calibration, got 0");
    n = n > CALIB_MAX_SAMPLES ? CALIB_MAX_SAMPLES : n;
    float *buf = mx_alloc(CALIB_MAX_SAMPLES * sizeof(float));
    size_t *got = mx_calloc(n, sizeof(size_t));
    double *table = NULL;
    mx_status st = buf && got ? MX_OK : mx_fail(MX_ENOMEM, "ADC calibration: out of memory");
    static const mx_parallel_ops ops = {xstate_create, xstate_destroy, xitem};
    for (size_t l = 0; l < x->L && !st; l++) {
        range_a[l] = 0.0;
        const mx_adc_config *ac0 = mx_matmul_adc_config(mm[l]);
        if (ac0->kind == MX_ADC_NONE)
            continue;
        if ((st = mx_matmul_set_adc_range(mm[l], CALIB_PROFILE_RANGE_A)))
            break;
        const size_t offered = x->T * x->lay[l].positions * mx_matmul_n_row_tiles(mm[l]) *
                               mx_matmul_input_passes(mm[l]) * mx_matmul_currents_per_read(mm[l]);
        xnet px = *x;
        px.x = train->x;
        px.item_base = item_base;
        px.compare = 0;
        px.pred = NULL;
        px.stats = NULL;
        px.run_layers = l + 1;
        px.rec_layer = l;
        px.quota = CALIB_MAX_SAMPLES / n;
        px.stride = offered / px.quota + 1;
        px.rec_buf = buf;
        px.rec_got = got;
        if ((st = mx_parallel_items(&ops, &px, n, 4, NULL)))
            break;
        const size_t count = mx_calibration_join(buf, px.quota, got, n);
        st = mx_calibrate_matmul_adc(mm[l], l, n, buf, count, percentile, &table, &range_a[l]);
    }
    mx_free(buf);
    mx_free(got);
    mx_free(table);
    return st;
}

static double accuracy_at(const int *pred, const uint8_t *y, size_t n, size_t T, size_t t)
{
    size_t ok = 0;
    for (size_t i = 0; i < n; i++)
        ok += pred[i * T + t] == (int)y[i];
    return n ? (double)ok / (double)n : 0.0;
}

mx_status mx_surrogate_point_run(const mx_experiment_config *pc, const mx_method_ctx *ctx,
                                 mx_method_point *out)
{
    const mx_surrogate_config *c = &pc->surrogate;
    const size_t n = ctx->n_test;
    if (pc->hardware.readout.kind != MX_READOUT_ADC)
        return mx_fail(MX_EINVAL, "hardware.readout.kind: expected adc with experiment "
                                  "surrogate (the ADC-less readout is not modelled here), got "
                                  "integrate");
    if (n == 0)
        return mx_fail(MX_EINVAL, "surrogate evaluation: no test examples");
    if (ctx->train->n_classes > MAX_CLASSES)
        return mx_fail(MX_EINVAL, "surrogate: at most %d classes", MAX_CLASSES);
    if (dataset_frames(ctx->test) != dataset_frames(ctx->train) ||
        ctx->test->dim != ctx->train->dim)
        return mx_fail(MX_EMISMATCH, "surrogate: training and test examples differ in shape");
    mx_mlp *net = NULL;
    mx_surrogate_conv *cv = NULL;
    double train_s = 0.0;
    int trained = 0;
    mx_status st = mx_surrogate_get_network(pc, ctx, &cv, &net, &train_s, &trained);
    if (st)
        return st;
    const size_t frames = dataset_frames(ctx->test);
    size_t T = 0, n_in = 0;
    xnet x = {.cfg = c, .dim = ctx->test->dim, .frames = frames, .seed = ctx->eval_seed};
    st = mx_surrogate_shape(c, ctx->test->dim, frames, &T, &n_in);
    if (!st)
        st = xnet_layers(&x, cv, net);
    x.T = T;
    x.n_in = n_in;
    const size_t L = x.L;
    mx_matmul *mm[MX_RESULTS_MAX_LAYERS] = {0};
    x.mm = mm;
    int *pred = NULL, *pred_dig = NULL;
    layer_stats *stats = NULL;
    if (!st) {
        pred = mx_alloc(mx_size_mul(n, T) * sizeof(int));
        pred_dig = mx_alloc(mx_size_mul(n, T) * sizeof(int));
        stats = mx_calloc(mx_size_mul(n, L), sizeof *stats);
        out->accuracy_vs_step = mx_calloc(T, sizeof(double));
        if (!pred || !pred_dig || !stats || !out->accuracy_vs_step)
            st = mx_fail(MX_ENOMEM, "surrogate evaluation: out of memory");
    }
    /* Exact digital path: the same encoded inputs (same seed and items). */
    if (!st)
        st = mx_surrogate_predict_conv(cv, net, c, ctx->test->x, n, ctx->test->dim, frames,
                                       ctx->eval_seed, 0, pred_dig);
    const mx_device_type *dev = mx_device_lookup(pc->hardware.device_type);
    for (size_t l = 0; l < L && !st; l++) {
        mx_crossbar_config xb = pc->hardware.crossbar;
        xb.input = layer_input(pc, l);
        st = mx_matmul_create(x.lay[l].w, x.lay[l].n_out, x.lay[l].n_in, &xb, dev,
                              &pc->hardware.device, &pc->hardware.adc, ctx->hw_seed,
                              (uint32_t)l, &mm[l]);
    }
    /* ADC ranges, then drift compensation, in rounds (method.h). */
    for (size_t round = 0; !st && round < mx_method_drift_rounds(pc, L); round++) {
        st = calibrate(&x, mm, ctx->train, ctx->n_calib, ctx->calib_item_base,
                       pc->hardware.adc.range_percentile, out->range_a);
        if (!st)
            st = mx_method_drift_compensation(&out->pr, pc, mm, L, ctx->eval_seed);
        if (!st)
            st = mx_method_column_calibration(&out->pr, pc, mm, L, ctx->eval_seed);
    }
    if (!st) {
        static const mx_parallel_ops ops = {xstate_create, xstate_destroy, xitem};
        x.x = ctx->test->x;
        x.item_base = 0;
        x.compare = ctx->compare_images;
        x.pred = pred;
        x.stats = stats;
        st = mx_parallel_items(&ops, &x, n, 8, ctx->what);
    }
    uint64_t conv_all = 0, clip_all = 0;
    mx_point_result *pr = &out->pr;
    for (size_t l = 0; l < L && !st; l++) {
        layer_stats s = {0};
        for (size_t i = 0; i < n; i++) { /* example order: the same sums at any thread count */
            const layer_stats *e = &stats[i * L + l];
            s.err_sq_sum += e->err_sq_sum;
            s.ref_sq_sum += e->ref_sq_sum;
            s.err_sum += e->err_sum;
            s.n_values += e->n_values;
            s.spikes += e->spikes;
            s.neuron_updates += e->neuron_updates;
            mx_matmul_stats_add(&s.mm, &e->mm);
        }
        const size_t n_out = x.lay[l].neurons;
        out->rel_rms[l] = s.ref_sq_sum > 0.0 ? sqrt(s.err_sq_sum / s.ref_sq_sum) : 0.0;
        out->mean_err[l] = s.n_values ? s.err_sum / (double)s.n_values : 0.0;
        out->clip[l] = s.mm.conversions ? (double)s.mm.clipped / (double)s.mm.conversions : 0.0;
        out->activity[l] = (double)s.spikes / ((double)n * (double)T * (double)n_out);
        conv_all += s.mm.conversions;
        clip_all += s.mm.clipped;
        const mx_energy_counts counts = {
            .mm = s.mm, .neuron_updates = s.neuron_updates, .spikes = s.spikes};
        if ((st = mx_method_price_layer(out, l, mm[l], pc, c->beta < 1.0, &counts, n)))
            break;
        pr->energy_j += out->e_layer[l];
        pr->latency_s += out->latency[l];
        pr->area_mm2 += out->area[l];
    }
    if (!st) {
        for (size_t t = 0; t < T; t++)
            out->accuracy_vs_step[t] = accuracy_at(pred, ctx->test->y, n, T, t);
        pr->n_test = n;
        pr->accuracy = out->accuracy_vs_step[T - 1];
        pr->accuracy_snn_digital = accuracy_at(pred_dig, ctx->test->y, n, T, T - 1);
        pr->accuracy_ann = NAN;
        pr->adc_clip_rate = conv_all ? (double)clip_all / (double)conv_all : 0.0;
        pr->timesteps = T;
        pr->accuracy_vs_step = out->accuracy_vs_step;
        pr->n_layers = L;
        mx_method_point_init(out); /* the layer arrays */
        pr->network = "snn";
        mx_method_programming_cost(pr, mm, L);
        out->seconds_training = train_s;
        out->trained = trained;
        mx_log(MX_LOG_INFO, "surrogate: %zu test examples, digital %.2f %%, crossbar %.2f %%", n,
               100.0 * pr->accuracy_snn_digital, 100.0 * pr->accuracy);
    }
    for (size_t l = 0; l < L; l++)
        mx_matmul_destroy(mm[l]);
    mx_mlp_destroy(net);
    mx_surrogate_conv_destroy(cv);
    mx_free(pred);
    mx_free(pred_dig);
    mx_free(stats);
    return st;
}
