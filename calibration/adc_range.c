/* SPDX-License-Identifier: MIT
 *
 * adc_range.c: ADC calibration from a calibration batch — the column
 * currents are profiled before the ADC, layer by layer, and each layer's ADC
 * is fitted to them (mx_adc_fit_currents):
 * - range_mode percentile: full scale = a percentile of |I| (the
 *   "percentile" calibration of CrossSim and aihwkit's calibrated input
 *   ranges; anchors-crossbar.md §1). Clipping the rare largest currents buys
 *   resolution for the common ones.
 * - range_mode max: the largest |I|, nothing clips.
 * - range_mode mse: the full scale R minimising the mean squared error
 *   (granular + clipping) of the ADC's nominal transfer curve over the
 *   samples, MSE(R) = (1/n)·Σ (x − Q_R(x))². Evaluated exactly on the sorted
 *   samples with prefix sums (adc/lloyd_max.c), O(2^bits·log n) per R. MSE(R)
 *   is only piecewise smooth and can have local minima at low resolution,
 *   so the search is global then local: a scan of 8 points per octave over
 *   [max|I|·2^−10, 2·max|I|], then GSL's Brent minimiser (gsl_min_fminimizer_
 *   brent) on the bracket of the best scan point and its neighbours, to a
 *   relative width of 1e-6. The scan's best point is the answer when it sits
 *   at an end of the scan or the bracket is flat.
 *   This is the "MSE-optimal clipping" of Sung et al. 2015 and of the
 *   post-training quantisation literature (e.g. Banner et al. 2019, ACIQ,
 *   which solves it for a Laplace/Gauss prior instead of the samples).
 * Kinds: uniform, log (its range), sar and sense-amp (calibrated like
 * uniform on their nominal curves: the digital side knows the design, not
 * one instance's mismatch) follow range_mode; lloyd-max ignores it — its
 * levels are fitted by Lloyd–Max to the samples (from two starts, the
 * sample quantiles and the MSE-optimal uniform quantiser, keeping the lower
 * MSE: Lloyd finds local optima only), and its range is reported as its
 * overload point
 * (mx_adc_fitted_full_scale: where the outer cells' error outgrows their
 * inner half-width; ±range for a uniform quantiser).
 */
#include "calibration/calibration.h"

#include <math.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_min.h>
#include <gsl/gsl_statistics_float.h>

#include "core/parallel.h"

/* Layers of the deeper of the two networks. */
#define CALIB_MAX_LAYERS                                                                        \
    (MX_SNN_MAX_LAYERS > MX_ANN_MAX_LAYERS ? MX_SNN_MAX_LAYERS : MX_ANN_MAX_LAYERS)
/* Pre-ADC currents kept per layer: enough for a stable 99.9th percentile. */
#define CALIB_MAX_SAMPLES ((size_t)4 << 20)
/* Full scale used while profiling: far above any column current. */
#define CALIB_PROFILE_RANGE_A 1.0
/* The MSE range search: scan points per octave, octaves below max|I|, the
 * top of the scan (× max|I|), Brent's relative tolerance and iterations. */
#define MSE_SCAN_PER_OCTAVE 8
#define MSE_SCAN_OCTAVES_BELOW 10
#define MSE_SCAN_TOP 2.0
#define MSE_BRENT_TOL_REL 1e-6
#define MSE_BRENT_ITERATIONS 100

double mx_percentile_abs(float *values, size_t n, double percentile)
{
    if (n == 0)
        return 0.0;
    for (size_t i = 0; i < n; i++)
        values[i] = fabsf(values[i]);
    /* The quantile of sorted data, linear between ranks (GSL's definition),
     * from two quickselects instead of a full sort: O(n), not O(n log n). */
    double pos = (percentile / 100.0) * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    double frac = pos - (double)lo;
    double v_lo = (double)gsl_stats_float_select(values, 1, n, lo);
    if (frac == 0.0 || lo + 1 >= n)
        return v_lo;
    /* After the select, everything above index lo is >= v_lo: the next
     * order statistic is the smallest of them. */
    float v_hi = values[lo + 1];
    for (size_t i = lo + 2; i < n; i++)
        v_hi = values[i] < v_hi ? values[i] : v_hi;
    return v_lo + frac * ((double)v_hi - v_lo);
}

/* ---- fitting one ADC to samples ---------------------------------------------------- */

typedef struct mse_ctx {
    const mx_adc_config *c;
    const mx_adc_samples *s;
    double *t, *y; /* (2^bits − 1), (2^bits) */
    size_t n_levels;
} mse_ctx;

static double mse_at(double range_a, void *p)
{
    mse_ctx *m = p;
    mx_adc_nominal_curve(m->c, range_a, m->t, m->y);
    return mx_adc_samples_mse(m->s, m->t, m->y, m->n_levels);
}

/* The range minimising mse_at over the samples (see the file comment). */
static mx_status mse_range(mse_ctx *m, double x_abs_max, double *range_a)
{
    const int n_scan = MSE_SCAN_PER_OCTAVE * (MSE_SCAN_OCTAVES_BELOW + 1) + 1;
    double best_r = x_abs_max, best_f = HUGE_VAL;
    int best = 0;
    double r_at[MSE_SCAN_PER_OCTAVE * (MSE_SCAN_OCTAVES_BELOW + 1) + 1];
    double f_at[MSE_SCAN_PER_OCTAVE * (MSE_SCAN_OCTAVES_BELOW + 1) + 1];
    for (int g = 0; g < n_scan; g++) {
        r_at[g] = MSE_SCAN_TOP * x_abs_max *
                  exp2(-(double)(n_scan - 1 - g) / (double)MSE_SCAN_PER_OCTAVE);
        f_at[g] = mse_at(r_at[g], m);
        if (f_at[g] < best_f) {
            best_f = f_at[g];
            best_r = r_at[g];
            best = g;
        }
    }
    *range_a = best_r;
    if (best == 0 || best == n_scan - 1 || !(f_at[best] < f_at[best - 1]) ||
        !(f_at[best] < f_at[best + 1]))
        return MX_OK;
    gsl_min_fminimizer *mz = gsl_min_fminimizer_alloc(gsl_min_fminimizer_brent);
    if (!mz)
        return mx_fail(MX_ENOMEM, "ADC calibration: out of memory");
    gsl_function fn = {.function = mse_at, .params = m};
    if (gsl_min_fminimizer_set_with_values(mz, &fn, r_at[best], f_at[best], r_at[best - 1],
                                           f_at[best - 1], r_at[best + 1],
                                           f_at[best + 1]) == GSL_SUCCESS) {
        for (int it = 0; it < MSE_BRENT_ITERATIONS; it++) {
            if (gsl_min_fminimizer_iterate(mz) != GSL_SUCCESS)
                break;
            if (gsl_min_test_interval(gsl_min_fminimizer_x_lower(mz),
                                      gsl_min_fminimizer_x_upper(mz), 0.0,
                                      MSE_BRENT_TOL_REL) == GSL_SUCCESS)
                break;
        }
        const double r = gsl_min_fminimizer_x_minimum(mz);
        if (gsl_min_fminimizer_f_minimum(mz) <= best_f && r > 0.0)
            *range_a = r;
    }
    gsl_min_fminimizer_free(mz);
    return MX_OK;
}

mx_status mx_adc_fit_currents(const mx_adc_config *c, float *x, size_t n, double *table,
                              mx_adc_fit *fit, double *mse)
{
    *fit = (mx_adc_fit){0};
    mx_status st = mx_adc_config_validate(c);
    if (st)
        return st;
    if (c->kind == MX_ADC_NONE)
        return mx_fail(MX_EINVAL, "ADC calibration: an exact ADC (type none) has nothing to fit");
    if (n == 0)
        return mx_fail(MX_EINVAL, "ADC calibration: expected at least one current, got none");
    double x_abs_max = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            return mx_fail(MX_ENUMERIC, "ADC calibration: current %zu is %g", i, (double)x[i]);
        x_abs_max = fmax(x_abs_max, fabs((double)x[i]));
    }
    if (!(x_abs_max > 0.0))
        return mx_fail(MX_ENUMERIC, "ADC calibration: every current is 0");
    const size_t n_levels = (size_t)1 << c->bits;
    double *t = table, *y = table + n_levels;
    const int need_samples = c->kind == MX_ADC_LLOYD_MAX || c->range_mode == MX_ADC_RANGE_MSE ||
                             mse;
    if (!need_samples) { /* O(n): no sort */
        fit->range_a = c->range_mode == MX_ADC_RANGE_MAX
                           ? x_abs_max
                           : mx_percentile_abs(x, n, c->range_percentile);
        if (!(fit->range_a > 0.0))
            return mx_fail(MX_ENUMERIC, "ADC calibration: the %g percentile of |I| is 0; "
                                        "raise hardware.adc.range_percentile",
                           c->range_percentile);
        return MX_OK;
    }
    mx_adc_samples s;
    if ((st = mx_adc_samples_prepare(x, n, &s)))
        return st;
    if (c->kind == MX_ADC_LLOYD_MAX) {
        /* Two starts, the better kept: the sample quantiles, and the
         * MSE-optimal uniform quantiser (lloyd_max.c says why). */
        mx_lloyd_max_info info, info_u;
        mx_adc_config cu = *c;
        cu.kind = MX_ADC_UNIFORM;
        double r_u = 0.0;
        double *tu = mx_alloc(2 * n_levels * sizeof(double));
        if (!tu) {
            mx_adc_samples_free(&s);
            return mx_fail(MX_ENOMEM, "ADC calibration: out of memory");
        }
        double *yu = tu + n_levels;
        mse_ctx mu = {.c = &cu, .s = &s, .t = tu, .y = yu, .n_levels = n_levels};
        st = mse_range(&mu, x_abs_max, &r_u);
        if (!st) {
            mx_adc_nominal_curve(&cu, r_u, tu, yu);
            st = mx_adc_lloyd_max_samples(&s, c->bits, yu, tu, yu, &info_u);
        }
        if (!st)
            st = mx_adc_lloyd_max_samples(&s, c->bits, NULL, t, y, &info);
        if (!st && info_u.mse < info.mse) {
            memcpy(table, tu, 2 * n_levels * sizeof(double)); /* t then y, as in table */
            info = info_u;
        }
        mx_free(tu);
        if (!st) {
            *fit = (mx_adc_fit){.range_a = mx_adc_fitted_full_scale(t, y, n_levels, NULL, NULL),
                                .n_levels = n_levels,
                                .threshold_a = t,
                                .level_a = y};
            if (!(fit->range_a > 0.0))
                st = mx_fail(MX_ENUMERIC, "ADC calibration: the fitted levels are all 0");
            if (mse)
                *mse = info.mse;
        }
        mx_adc_samples_free(&s);
        return st;
    }
    mse_ctx m = {.c = c, .s = &s, .t = t, .y = y, .n_levels = n_levels};
    if (c->range_mode == MX_ADC_RANGE_MSE) {
        st = mse_range(&m, x_abs_max, &fit->range_a);
    } else if (c->range_mode == MX_ADC_RANGE_MAX) {
        fit->range_a = x_abs_max;
    } else {
        /* The samples are sorted: the percentile of |x| needs its own copy. */
        float *a = mx_alloc(mx_size_mul(n, sizeof(float)));
        if (!a) {
            st = mx_fail(MX_ENOMEM, "ADC calibration: out of memory");
        } else {
            memcpy(a, s.x, n * sizeof(float));
            fit->range_a = mx_percentile_abs(a, n, c->range_percentile);
            mx_free(a);
            if (!(fit->range_a > 0.0))
                st = mx_fail(MX_ENUMERIC, "ADC calibration: the %g percentile of |I| is 0; "
                                          "raise hardware.adc.range_percentile",
                             c->range_percentile);
        }
    }
    if (!st && mse)
        *mse = mse_at(fit->range_a, &m);
    mx_adc_samples_free(&s);
    return st;
}

/* How a network is run for profiling: the SNN (every time step) or the ANN
 * (one forward pass up to the layer). */
typedef struct profile_ops {
    size_t (*n_layers)(const void *net);
    mx_matmul *(*backend)(const void *net, size_t layer);
    mx_status (*set_backend)(void *net, size_t layer, mx_matmul *mm);
    size_t (*passes)(const void *net); /* reads of a layer per example: T or 1 */
    mx_status (*state_create)(const void *net, void **state);
    void (*state_destroy)(void *state);
    mx_status (*run_record)(const void *net, void *state, const float *x, uint64_t seed,
                            uint64_t item, size_t layer, mx_current_recorder *rec);
} profile_ops;

static mx_status snn_state_create(const void *net, void **state)
{
    return mx_snn_state_create(net, (mx_snn_state **)state);
}
static void snn_state_destroy(void *state) { mx_snn_state_destroy(state); }
static mx_status snn_run_record(const void *net, void *state, const float *x, uint64_t seed,
                                uint64_t item, size_t layer, mx_current_recorder *rec)
{
    return mx_snn_run_record(net, state, x, seed, item, layer, rec);
}
static size_t snn_n_layers(const void *net) { return mx_snn_n_layers(net); }
static mx_matmul *snn_backend(const void *net, size_t l) { return mx_snn_backend(net, l); }
static mx_status snn_set_backend(void *net, size_t l, mx_matmul *mm)
{
    return mx_snn_set_backend(net, l, mm);
}
static size_t snn_passes(const void *net) { return mx_snn_get_config(net)->timesteps; }
static const profile_ops snn_ops = {snn_n_layers,     snn_backend,       snn_set_backend,
                                    snn_passes,       snn_state_create,  snn_state_destroy,
                                    snn_run_record};

static mx_status ann_state_create(const void *net, void **state)
{
    return mx_ann_state_create(net, (mx_ann_state **)state);
}
static void ann_state_destroy(void *state) { mx_ann_state_destroy(state); }
static mx_status ann_run_record(const void *net, void *state, const float *x, uint64_t seed,
                                uint64_t item, size_t layer, mx_current_recorder *rec)
{
    return mx_ann_run_record(net, state, x, seed, item, layer, rec);
}
static size_t ann_n_layers(const void *net) { return mx_ann_n_layers(net); }
static mx_matmul *ann_backend(const void *net, size_t l) { return mx_ann_backend(net, l); }
static mx_status ann_set_backend(void *net, size_t l, mx_matmul *mm)
{
    return mx_ann_set_backend(net, l, mm);
}
static size_t ann_passes(const void *net)
{
    (void)net;
    return 1;
}
static const profile_ops ann_ops = {ann_n_layers,     ann_backend,       ann_set_backend,
                                    ann_passes,       ann_state_create,  ann_state_destroy,
                                    ann_run_record};

/* Profile layer l (matmul mm, offering `offered` currents per example):
 * every example gets an equal slice of the sample buffer and keeps every
 * stride-th current it offers; examples run in parallel, each with its own
 * stream item, and the slices are joined in example order — the same
 * samples at any thread count. OUT: *count samples at the buffer start. */
size_t mx_calibration_join(float *buf, size_t quota, const size_t *got, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        memmove(buf + k, buf + i * quota, got[i] * sizeof(float));
        k += got[i];
    }
    return k;
}

/* One example of a profiling pass, as the items of mx_parallel_items. */
typedef struct profile_ctx {
    const profile_ops *ops;
    const void *net;
    size_t layer, quota, stride, n_in;
    const float *x;
    uint64_t seed, item_base;
    float *buf;
    size_t *got;
} profile_ctx;

static mx_status profile_state_create(const void *ctx, void **state)
{
    const profile_ctx *c = ctx;
    return c->ops->state_create(c->net, state);
}

static mx_status profile_item(const void *ctx, void *state, size_t i)
{
    const profile_ctx *c = ctx;
    mx_current_recorder rec = {.values = c->buf + i * c->quota,
                               .capacity = c->quota,
                               .stride = c->stride};
    mx_status st =
        c->ops->run_record(c->net, state, c->x + i * c->n_in, c->seed, c->item_base + i,
                           c->layer, &rec);
    c->got[i] = rec.count;
    return st;
}

static mx_status profile(const profile_ops *ops, const void *net, size_t l, size_t offered,
                         const float *x, size_t n, size_t n_in, uint64_t seed,
                         uint64_t item_base, float *buf, size_t *count)
{
    const size_t quota = CALIB_MAX_SAMPLES / n;
    size_t *got = mx_calloc(n, sizeof(size_t));
    if (!got)
        return mx_fail(MX_ENOMEM, "ADC calibration: out of memory");
    const mx_parallel_ops pops = {profile_state_create, ops->state_destroy, profile_item};
    const profile_ctx ctx = {.ops = ops,
                             .net = net,
                             .layer = l,
                             .quota = quota,
                             .stride = offered / quota + 1,
                             .n_in = n_in,
                             .x = x,
                             .seed = seed,
                             .item_base = item_base,
                             .buf = buf,
                             .got = got};
    mx_status status = mx_parallel_items(&pops, &ctx, n, 4, NULL);
    if (!status) {
        *count = mx_calibration_join(buf, quota, got, n);
    }
    mx_free(got);
    return status;
}

mx_status mx_calibrate_matmul_adc(mx_matmul *mm, size_t l, size_t n, float *buf, size_t count,
                                  double percentile, double **table, double *range_a)
{
    int any = 0;
    for (size_t i = 0; i < count && !any; i++)
        any = buf[i] != 0.0f;
    if (!any)
        return mx_fail(MX_ENUMERIC,
                       "ADC calibration: layer %zu saw no current on %zu calibration examples",
                       l, n);
    mx_adc_config ac = *mx_matmul_adc_config(mm);
    ac.range_percentile = percentile;
    if (!*table && !(*table = mx_alloc(((size_t)2 << ac.bits) * sizeof(double))))
        return mx_fail(MX_ENOMEM, "ADC calibration: out of memory");
    mx_adc_fit fit;
    mx_status st = mx_adc_fit_currents(&ac, buf, count, *table, &fit, NULL);
    if (!st)
        st = mx_matmul_set_adc_fit(mm, &fit);
    if (!st && range_a)
        *range_a = fit.range_a;
    return st;
}

/* Calibrate every analog layer's ADC in order: the backends come off the
 * network and go back one layer at a time, so layer l is profiled with
 * layers < l calibrated and layers > l digital (SNN) or not run (ANN).
 * Layers with an exact ADC are left as they are. */
static mx_status calibrate(const profile_ops *ops, void *net, const float *x, size_t n,
                           size_t n_in, double percentile, uint64_t seed, uint64_t item_base,
                           double *range_a)
{
    const size_t L = ops->n_layers(net);
    mx_matmul *mm[CALIB_MAX_LAYERS] = {0};
    if (L > CALIB_MAX_LAYERS)
        return mx_fail(MX_EINVAL, "ADC calibration: expected at most %d layers, got %zu",
                       CALIB_MAX_LAYERS, L);
    for (size_t l = 0; l < L; l++) {
        mm[l] = ops->backend(net, l);
        if (range_a)
            range_a[l] = 0.0;
    }
    if (n == 0 || n > CALIB_MAX_SAMPLES)
        return mx_fail(MX_EINVAL, "ADC calibration: expected 1..%zu examples, got %zu",
                       CALIB_MAX_SAMPLES, n);
    for (size_t l = 0; l < L; l++)
        ops->set_backend(net, l, NULL);
    float *buf = NULL;
    double *table = NULL; /* the fitted thresholds and levels of one layer */
    mx_status st = MX_OK;
    for (size_t l = 0; l < L && !st; l++) {
        if (!mm[l])
            continue;
        ops->set_backend(net, l, mm[l]);
        if (mx_matmul_adc_config(mm[l])->kind == MX_ADC_NONE)
            continue;
        if ((st = mx_matmul_set_adc_range(mm[l], CALIB_PROFILE_RANGE_A)))
            break;
        if (!buf && !(buf = mx_alloc(CALIB_MAX_SAMPLES * sizeof(float)))) {
            st = mx_fail(MX_ENOMEM, "ADC calibration: out of memory");
            break;
        }
        const size_t offered = ops->passes(net) * mx_matmul_n_row_tiles(mm[l]) *
                               mx_matmul_input_passes(mm[l]) * mx_matmul_currents_per_read(mm[l]);
        size_t count = 0;
        if ((st = profile(ops, net, l, offered, x, n, n_in, seed, item_base, buf, &count)))
            break;
        st = mx_calibrate_matmul_adc(mm[l], l, n, buf, count, percentile, &table,
                                     range_a ? &range_a[l] : NULL);
    }
    for (size_t l = 0; l < L; l++)
        ops->set_backend(net, l, mm[l]);
    mx_free(buf);
    mx_free(table);
    return st;
}

mx_status mx_calibrate_adc_ranges(mx_snn *net, const float *x, size_t n, size_t n_in,
                                  double percentile, uint64_t seed, uint64_t item_base,
                                  double *range_a)
{
    return calibrate(&snn_ops, net, x, n, n_in, percentile, seed, item_base, range_a);
}

mx_status mx_calibrate_ann_adc_ranges(mx_ann *net, const float *x, size_t n, size_t n_in,
                                      double percentile, uint64_t seed, uint64_t item_base,
                                      double *range_a)
{
    return calibrate(&ann_ops, net, x, n, n_in, percentile, seed, item_base, range_a);
}
