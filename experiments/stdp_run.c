/* SPDX-License-Identifier: MIT
 *
 * stdp_run.c: one `experiment: stdp` sweep point (stdp_run.h): train or
 * load the Diehl & Cook network, program its input weights on the point's
 * crossbar, calibrate the ADC, evaluate on the crossbar and on the exact
 * digital path, price it.
 *
 * Seeds: training and labelling draw from ctx->train_seed only, so one
 * trained network serves every hardware point of a float sweep; the cells
 * from ctx->hw_seed (layer id 0), input spikes and read noise from
 * ctx->eval_seed with the test example as item (calibration examples from
 * ctx->calib_item_base on). Test examples run in parallel with their own
 * streams and per-example statistics are summed in example order, so
 * results do not depend on the thread count. Training is sequential over
 * examples (each starts from the weights the last one left).
 *
 * Energy: the layer's crossbar activity plus the digital neurons — both
 * populations (excitatory and the inhibitory ones of the lateral
 * inhibition) counted as leaky updates every step, their spikes as spikes.
 */
#include "experiments/stdp_run.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <hdf5.h>

#include "calibration/calibration.h"
#include "core/log.h"
#include "core/parallel.h"
#include "crossbar/crossbar.h"
#include "energy/energy.h"
#include "experiments/h5io.h"
#include "experiments/weights.h"

#define STDP_FORMAT "memxbar-stdp"
#define STDP_FORMAT_VERSION 1
#define STDP_KEY_BYTES 8192
/* Calibration samples kept (per example an equal share). */
#define STDP_CALIB_SAMPLES ((size_t)1 << 21)
/* ADC range while profiling: currents are recorded before the ADC, so any
 * range > 0 will do. */
#define STDP_PROFILE_RANGE_A 1.0

/* ------------------------------------------------------------ training key */

static const char *const key_paths[] = {"seed", "dataset.name", "dataset.train_limit", NULL};

static mx_status training_key(const mx_experiment_config *pc, char *key, size_t size)
{
    key[0] = '\0';
    mx_status st = mx_method_key_append(pc, key_paths, key, size);
    const int device = pc->stdp.synapse != MX_STDP_FLOAT;
    for (size_t i = 0; i < mx_config_n_fields() && !st; i++) {
        mx_config_field_info f;
        if (mx_config_field_at(i, &f))
            break;
        /* Fields added after caches existed stay out of the key at their
         * defaults (which train what the engine trained before them), so
         * those caches stay valid. */
        const int new_at_default =
            (strcmp(f.path, "stdp.nu_decay_final") == 0 && pc->stdp.nu_decay_final == 1.0) ||
            (strcmp(f.path, "stdp.readout") == 0 && pc->stdp.readout == MX_STDP_READOUT_MEAN);
        const int is_stdp = strncmp(f.path, "stdp.", 5) == 0 &&
                            strcmp(f.path, "stdp.progress_every") != 0 && !new_at_default;
        const int is_dev = device && strncmp(f.path, "hardware.device.", 16) == 0;
        if (is_stdp || is_dev) {
            const char *one[] = {f.path, NULL};
            st = mx_method_key_append(pc, one, key, size);
        }
    }
    const size_t used = strlen(key);
    if (!st && snprintf(key + used, size - used, "stdp.engine=%d;", MX_STDP_ENGINE_VERSION) >=
                   (int)(size - used))
        st = mx_fail(MX_EINVAL, "stdp: training key longer than %zu bytes", size);
    return st;
}

/* ------------------------------------------------------------ HDF5 cache */

static herr_t write_dataset(hid_t file, const char *name, int rank, const hsize_t *dims,
                            hid_t ftype, hid_t mtype, const void *data)
{
    hid_t space = H5Screate_simple(rank, dims, NULL), dset = H5I_INVALID_HID;
    herr_t rc = -1;
    if (space >= 0)
        dset = H5Dcreate2(file, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (dset >= 0)
        rc = H5Dwrite(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    mx_h5_close(&dset);
    mx_h5_close(&space);
    return rc;
}

mx_status mx_stdp_save(const char *path, mx_stdp *net, const char *key)
{
    const size_t ni = mx_stdp_n_in(net), ne = mx_stdp_get_config(net)->n_exc;
    float *wt = mx_alloc(mx_size_mul(ni, ne) * sizeof(float));
    char tmp[1100];
    if (!wt)
        return mx_fail(MX_ENOMEM, "%s: out of memory", path);
    const float *w = mx_stdp_weights(net);
    for (size_t i = 0; i < ni; i++)
        for (size_t j = 0; j < ne; j++)
            wt[j * ni + i] = w[i * ne + j];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) {
        mx_free(wt);
        return mx_fail(MX_EIO, "%s: cannot create (%s)", tmp,
                       mx_h5_errno_text(errno, "folder missing or not writable?"));
    }
    const uint64_t n_in = ni, n_exc = ne, n_classes = mx_stdp_n_classes(net);
    const int32_t version = STDP_FORMAT_VERSION;
    const int32_t synapse = (int32_t)mx_stdp_get_config(net)->synapse;
    const hsize_t dw[2] = {ne, ni}, dn[1] = {ne};
    herr_t rc = mx_h5_attr_string(file, "format", STDP_FORMAT);
    if (rc >= 0)
        rc = mx_h5_attr_write(file, "format_version", H5T_STD_I32LE, H5T_NATIVE_INT32, 0,
                              &version);
    if (rc >= 0)
        rc = mx_h5_attr_string(file, "key", key);
    if (rc >= 0)
        rc = mx_h5_attr_write(file, "synapse", H5T_STD_I32LE, H5T_NATIVE_INT32, 0, &synapse);
    if (rc >= 0)
        rc = mx_h5_attr_write(file, "n_in", H5T_STD_U64LE, H5T_NATIVE_UINT64, 0, &n_in);
    if (rc >= 0)
        rc = mx_h5_attr_write(file, "n_exc", H5T_STD_U64LE, H5T_NATIVE_UINT64, 0, &n_exc);
    if (rc >= 0)
        rc = mx_h5_attr_write(file, "n_classes", H5T_STD_U64LE, H5T_NATIVE_UINT64, 0,
                              &n_classes);
    if (rc >= 0)
        rc = write_dataset(file, "weights", 2, dw, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, wt);
    if (rc >= 0)
        rc = write_dataset(file, "theta_v", 1, dn, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
                           mx_stdp_theta(net));
    if (rc >= 0)
        rc = write_dataset(file, "gain", 1, dn, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
                           mx_stdp_gain(net));
    if (rc >= 0)
        rc = write_dataset(file, "labels", 1, dn, H5T_STD_I32LE, H5T_NATIVE_INT,
                           mx_stdp_labels(net));
    /* The proportion readout's weights (only with it: caches of the mean
     * readout stay as they were). */
    const hsize_t dp[2] = {ne, n_classes};
    if (rc >= 0 && mx_stdp_get_config(net)->readout == MX_STDP_READOUT_PROPORTION)
        rc = write_dataset(file, "proportions", 2, dp, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
                           mx_stdp_proportions(net));
    if (H5Fclose(file) < 0)
        rc = -1;
    mx_free(wt);
    if (rc < 0) {
        remove(tmp);
        return mx_fail(MX_EIO, "%s: cannot write the trained STDP network", tmp);
    }
    if (rename(tmp, path) != 0)
        return mx_fail(MX_EIO, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
    return MX_OK;
}

/* Read dataset `name` of exactly n elements. */
static mx_status read_dataset(hid_t file, const char *path, const char *name, hid_t mtype,
                              size_t n, void *out)
{
    hid_t dset = H5Dopen2(file, name, H5P_DEFAULT), space = H5I_INVALID_HID;
    mx_status st = MX_OK;
    if (dset < 0)
        return mx_fail(MX_EFORMAT, "%s: no dataset %s", path, name);
    space = H5Dget_space(dset);
    hssize_t count = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    if (count < 0 || (size_t)count != n)
        st = mx_fail(MX_EMISMATCH, "%s: %s has %lld values, expected %zu", path, name,
                     (long long)count, n);
    else if (H5Dread(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
        st = mx_fail(MX_EFORMAT, "%s: cannot read %s", path, name);
    mx_h5_close(&space);
    mx_h5_close(&dset);
    return st;
}

/* Does the file's key attribute equal key? */
static mx_status check_key(hid_t file, const char *path, const char *key)
{
    hid_t attr = H5Aopen(file, "key", H5P_DEFAULT), type = H5I_INVALID_HID;
    if (attr < 0)
        return mx_fail(MX_EFORMAT, "%s: no key attribute", path);
    type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    char *text = NULL;
    mx_status st = MX_OK;
    if (H5Aread(attr, type, &text) < 0 || !text)
        st = mx_fail(MX_EFORMAT, "%s: cannot read the key attribute", path);
    else if (strcmp(text, key) != 0)
        st = mx_fail(MX_EMISMATCH, "%s: trained with other settings (hash collision)", path);
    if (text)
        H5free_memory(text);
    mx_h5_close(&type);
    mx_h5_close(&attr);
    return st;
}

mx_status mx_stdp_load(const char *path, mx_stdp *net, const char *key)
{
    FILE *probe = fopen(path, "rb");
    if (!probe)
        return mx_fail(MX_ENOTFOUND, "%s: no cached STDP network", path);
    fclose(probe);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t file;
    mx_status st = mx_h5_open_read(path, &file);
    if (st)
        return st;
    const size_t ni = mx_stdp_n_in(net), ne = mx_stdp_get_config(net)->n_exc;
    float *wt = mx_alloc(mx_size_mul(ni, ne) * sizeof(float));
    st = wt ? check_key(file, path, key) : mx_fail(MX_ENOMEM, "%s: out of memory", path);
    if (!st)
        st = read_dataset(file, path, "weights", H5T_NATIVE_FLOAT, ni * ne, wt);
    if (!st)
        st = read_dataset(file, path, "theta_v", H5T_NATIVE_FLOAT, ne, mx_stdp_theta(net));
    if (!st)
        st = read_dataset(file, path, "gain", H5T_NATIVE_FLOAT, ne, mx_stdp_gain(net));
    if (!st)
        st = read_dataset(file, path, "labels", H5T_NATIVE_INT, ne, mx_stdp_labels(net));
    if (!st && mx_stdp_get_config(net)->readout == MX_STDP_READOUT_PROPORTION)
        st = read_dataset(file, path, "proportions", H5T_NATIVE_FLOAT,
                          mx_size_mul(ne, mx_stdp_n_classes(net)), mx_stdp_proportions(net));
    if (!st) {
        float *w = mx_stdp_weights(net);
        for (size_t i = 0; i < ni; i++)
            for (size_t j = 0; j < ne; j++)
                w[i * ne + j] = wt[j * ni + i];
    }
    mx_free(wt);
    H5Fclose(file);
    return st;
}

/* ------------------------------------------------------------ evaluation */

typedef struct eval_ctx {
    const mx_stdp *net;
    const mx_dataset *data;
    mx_matmul *mm;            /* NULL: digital */
    uint64_t seed, item_base;
    size_t compare;
    size_t steps;
    int *pred;                /* (n, steps) or NULL */
    int *final;               /* (n) */
    mx_stdp_run_stats *stats; /* (n) or NULL */
    /* calibration */
    float *buf;
    size_t quota, stride;
    size_t *got;
} eval_ctx;

static mx_status eval_state_create(const void *ctx, void **state)
{
    return mx_stdp_state_create(((const eval_ctx *)ctx)->net, (mx_stdp_state **)state);
}

static void eval_state_destroy(void *state) { mx_stdp_state_destroy(state); }

static mx_status eval_item(const void *ctx, void *state, size_t i)
{
    const eval_ctx *c = ctx;
    const size_t ne = mx_stdp_get_config(c->net)->n_exc;
    int *pv = c->pred ? c->pred + i * c->steps : NULL;
    mx_stdp_state *s = state;
    /* One small buffer per example (not per step). */
    uint32_t *counts = mx_alloc(ne * sizeof(uint32_t));
    if (!counts)
        return mx_fail(MX_ENOMEM, "STDP evaluation: out of memory");
    mx_status st = mx_stdp_run(c->net, s, c->data->x + i * c->data->dim, c->seed,
                               c->item_base + i, c->mm, c->mm && i < c->compare, counts, pv,
                               c->stats ? &c->stats[i] : NULL, NULL);
    if (!st)
        c->final[i] = mx_stdp_classify(c->net, counts);
    mx_free(counts);
    return st;
}

static mx_status calib_item(const void *ctx, void *state, size_t i)
{
    const eval_ctx *c = ctx;
    mx_current_recorder rec = {.values = c->buf + i * c->quota,
                               .capacity = c->quota,
                               .stride = c->stride};
    mx_status st = mx_stdp_record_currents(c->net, state, c->data->x + i * c->data->dim,
                                           c->seed, c->item_base + i, c->mm, &rec);
    c->got[i] = rec.count;
    return st;
}

/* Calibrate the ADC from n training examples' currents. OUT range_a. */
static mx_status calibrate(const mx_stdp *net, mx_matmul *mm, const mx_dataset *train,
                           size_t n, const mx_experiment_config *pc, uint64_t seed,
                           uint64_t item_base, double *range_a)
{
    *range_a = 0.0;
    if (mx_matmul_adc_config(mm)->kind == MX_ADC_NONE)
        return MX_OK;
    if (n == 0)
        return mx_fail(MX_EINVAL, "dataset.calibration_images: expected >= 1 for an ADC");
    mx_status st = mx_matmul_set_adc_range(mm, STDP_PROFILE_RANGE_A);
    if (st)
        return st;
    const size_t quota = STDP_CALIB_SAMPLES / n > 0 ? STDP_CALIB_SAMPLES / n : 1;
    const size_t offered = mx_stdp_steps(mx_stdp_get_config(net)) * mx_matmul_n_row_tiles(mm) *
                           mx_matmul_input_passes(mm) * mx_matmul_currents_per_read(mm);
    float *buf = mx_alloc(mx_size_mul(quota, n) * sizeof(float));
    size_t *got = mx_calloc(n, sizeof(size_t));
    double *table = mx_alloc(((size_t)2 << pc->hardware.adc.bits) * sizeof(double));
    if (!buf || !got || !table) {
        mx_free(buf);
        mx_free(got);
        mx_free(table);
        return mx_fail(MX_ENOMEM, "STDP ADC calibration: out of memory");
    }
    eval_ctx c = {.net = net, .data = train, .mm = mm, .seed = seed, .item_base = item_base,
                  .buf = buf, .quota = quota, .stride = offered / quota + 1, .got = got};
    static const mx_parallel_ops ops = {eval_state_create, eval_state_destroy, calib_item};
    st = mx_parallel_items(&ops, &c, n, 4, NULL);
    if (!st)
        st = mx_calibrate_matmul_adc(mm, 0, n, buf, mx_calibration_join(buf, quota, got, n),
                                     pc->hardware.adc.range_percentile, &table, range_a);
    mx_free(buf);
    mx_free(got);
    mx_free(table);
    return st;
}

/* ------------------------------------------------------------ the point */

static mx_status get_network(const mx_experiment_config *pc, const mx_method_ctx *ctx,
                             mx_stdp **out, mx_method_point *mp)
{
    *out = NULL;
    char *key = mx_alloc(STDP_KEY_BYTES);
    if (!key)
        return mx_fail(MX_ENOMEM, "STDP: out of memory");
    char path[1200];
    mx_stdp *net = NULL;
    const mx_device_type *dev = mx_device_lookup(pc->hardware.device_type);
    mx_status st = training_key(pc, key, STDP_KEY_BYTES);
    if (!st)
        st = mx_method_cache_path(ctx, "stdp", key, path, sizeof path);
    /* Processes sharing the cache folder train each network once. */
    const int lock = st ? -1 : mx_cache_lock(path);
    if (!st)
        st = mx_stdp_create(&pc->stdp, ctx->train->dim, ctx->train->n_classes, dev,
                            &pc->hardware.device, ctx->train_seed, &net);
    if (!st) {
        mx_status lst = mx_stdp_load(path, net, key);
        if (lst == MX_OK) {
            mx_log(MX_LOG_INFO, "stdp: loaded the trained network from %s", path);
        } else {
            const double t0 = mx_seconds_now();
            size_t n = ctx->train->n;
            if (pc->stdp.train_examples && pc->stdp.train_examples < n)
                n = pc->stdp.train_examples;
            size_t nl = ctx->train->n;
            if (pc->stdp.label_examples && pc->stdp.label_examples < nl)
                nl = pc->stdp.label_examples;
            mx_log(MX_LOG_INFO, "stdp: training %zu excitatory neurons on %zu examples × %zu",
                   pc->stdp.n_exc, n, pc->stdp.epochs);
            st = mx_stdp_train(net, ctx->train->x, ctx->train->y, n, ctx->train_seed);
            if (!st)
                st = mx_stdp_label(net, ctx->train->x, ctx->train->y, nl, ctx->train_seed, 0);
            if (!st)
                st = mx_stdp_save(path, net, key);
            mp->seconds_training = mx_seconds_now() - t0;
            mp->trained = 1;
            if (!st)
                mx_log(MX_LOG_INFO, "stdp: trained in %.1f s (%llu device pulses), saved %s",
                       mp->seconds_training, (unsigned long long)mx_stdp_pulses(net), path);
        }
    }
    mx_cache_unlock(lock);
    mx_free(key);
    if (st) {
        mx_stdp_destroy(net);
        return st;
    }
    *out = net;
    return MX_OK;
}

mx_status mx_stdp_point_run(const mx_experiment_config *pc, const mx_method_ctx *ctx,
                            mx_method_point *out)
{
    if (pc->hardware.readout.kind != MX_READOUT_ADC)
        return mx_fail(MX_EINVAL, "hardware.readout.kind: expected adc with experiment stdp "
                                  "(the digital conductance-based neurons read the ADC), "
                                  "got integrate");
    if (ctx->n_test == 0)
        return mx_fail(MX_EINVAL, "STDP evaluation: no test examples");
    mx_stdp *net = NULL;
    mx_status st = get_network(pc, ctx, &net, out);
    if (st)
        return st;
    const size_t n = ctx->n_test, ni = mx_stdp_n_in(net), ne = pc->stdp.n_exc;
    const size_t T = mx_stdp_steps(&pc->stdp);
    float *wt = mx_alloc(mx_size_mul(ni, ne) * sizeof(float));
    int *pred = mx_alloc(mx_size_mul(n, T) * sizeof(int));
    int *final_a = mx_alloc(n * sizeof(int)), *final_d = mx_alloc(n * sizeof(int));
    mx_stdp_run_stats *stats = mx_calloc(n, sizeof *stats);
    out->accuracy_vs_step = mx_calloc(T, sizeof(double));
    mx_matmul *mm = NULL;
    if (!wt || !pred || !final_a || !final_d || !stats || !out->accuracy_vs_step)
        st = mx_fail(MX_ENOMEM, "STDP evaluation: out of memory");
    if (!st) {
        const float *w = mx_stdp_weights(net);
        for (size_t i = 0; i < ni; i++)
            for (size_t j = 0; j < ne; j++)
                wt[j * ni + i] = w[i * ne + j];
        st = mx_matmul_create(wt, ne, ni, &pc->hardware.crossbar,
                              mx_device_lookup(pc->hardware.device_type), &pc->hardware.device,
                              &pc->hardware.adc, ctx->hw_seed, 0, &mm);
    }
    if (!st)
        st = calibrate(net, mm, ctx->train, ctx->n_calib, pc, ctx->eval_seed,
                       ctx->calib_item_base, &out->range_a[0]);
    if (!st) /* one layer: one round (method.h) */
        st = mx_method_drift_compensation(&out->pr, pc, &mm, 1, ctx->eval_seed);
    if (!st)
        st = mx_method_column_calibration(&out->pr, pc, &mm, 1, ctx->eval_seed);
    if (!st) {
        static const mx_parallel_ops ops = {eval_state_create, eval_state_destroy, eval_item};
        eval_ctx c = {.net = net, .data = ctx->test, .mm = mm, .seed = ctx->eval_seed,
                      .item_base = 0, .compare = ctx->compare_images, .steps = T,
                      .pred = pred, .final = final_a, .stats = stats};
        st = mx_parallel_items(&ops, &c, n, 4, ctx->what);
        if (!st) {
            eval_ctx d = c;
            d.mm = NULL;
            d.pred = NULL;
            d.final = final_d;
            d.stats = NULL;
            st = mx_parallel_items(&ops, &d, n, 4, NULL);
        }
    }
    if (!st) {
        mx_stdp_run_stats s = {0};
        size_t ok_a = 0, ok_d = 0;
        for (size_t i = 0; i < n; i++) {
            const mx_stdp_run_stats *x = &stats[i];
            s.err_sq_sum += x->err_sq_sum;
            s.ref_sq_sum += x->ref_sq_sum;
            s.err_sum += x->err_sum;
            s.n_values += x->n_values;
            s.spikes += x->spikes;
            s.inh_spikes += x->inh_spikes;
            s.neuron_updates += x->neuron_updates;
            s.steps += x->steps;
            mx_matmul_stats_add(&s.mm, &x->mm);
            ok_a += final_a[i] == (int)ctx->test->y[i];
            ok_d += final_d[i] == (int)ctx->test->y[i];
        }
        for (size_t t = 0; t < T; t++) {
            size_t ok = 0;
            for (size_t i = 0; i < n; i++)
                ok += pred[i * T + t] == (int)ctx->test->y[i];
            out->accuracy_vs_step[t] = (double)ok / (double)n;
        }
        out->rel_rms[0] = s.ref_sq_sum > 0.0 ? sqrt(s.err_sq_sum / s.ref_sq_sum) : 0.0;
        out->mean_err[0] = s.n_values ? s.err_sum / (double)s.n_values : 0.0;
        out->clip[0] = s.mm.conversions ? (double)s.mm.clipped / (double)s.mm.conversions : 0.0;
        out->activity[0] = s.steps ? (double)s.spikes / ((double)s.steps * (double)ne) : 0.0;
        const mx_energy_counts counts = {
            .mm = s.mm, .neuron_updates = s.neuron_updates, .spikes = s.spikes + s.inh_spikes};
        st = mx_method_price_layer(out, 0, mm, pc, 1, &counts, n);
        mx_point_result *pr = &out->pr;
        pr->n_test = n;
        pr->accuracy = (double)ok_a / (double)n;
        pr->accuracy_snn_digital = (double)ok_d / (double)n;
        pr->accuracy_ann = NAN;
        pr->adc_clip_rate = out->clip[0];
        pr->timesteps = T;
        pr->accuracy_vs_step = out->accuracy_vs_step;
        pr->n_layers = 1;
        mx_method_point_init(out); /* the layer arrays */
        pr->energy_j = out->e_layer[0];
        pr->latency_s = out->latency[0];
        pr->area_mm2 = out->area[0];
        pr->network = "snn";
        mx_method_programming_cost(pr, &mm, 1);
    }
    mx_matmul_destroy(mm);
    mx_stdp_destroy(net);
    mx_free(wt);
    mx_free(pred);
    mx_free(final_a);
    mx_free(final_d);
    mx_free(stats);
    return st;
}
