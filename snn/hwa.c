/* SPDX-License-Identifier: MIT
 *
 * hwa.c: one layer of hardware-aware training (hwa.h) — a weight matrix
 * programmed onto a fresh mx_matmul per chip instance, its ADC full scale
 * fitted on the first batch after each programming, and the batch's rows run
 * through the analog forward path on the OpenMP threads. The backward pass
 * is the caller's (straight-through, see hwa.h); this file only produces y.
 *
 * Calibration follows calibration/adc_range.c: every row of the batch keeps
 * an equal slice of one sample buffer (every stride-th current it offers),
 * the slices are joined in row order and fitted by mx_adc_fit_currents — so
 * the fitted range does not depend on the thread count. The profiling pass
 * and the real pass draw the same read noise (same stream items), so the
 * ADC is fitted to exactly the currents it then converts.
 */
#include "snn/hwa.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include <omp.h>

#include "calibration/calibration.h"
#include "core/rng.h"

/* Current samples kept for one ADC fit (floats): 4 Mi, as calibration/. */
#define HWA_CALIB_MAX_SAMPLES ((size_t)4 << 20)
/* Placeholder ADC full scale while profiling: the recorder sees the currents
 * before the ADC, so any positive value serves (calibration/ uses 1 A). */
#define HWA_PROFILE_RANGE_A 1.0
/* Read-noise items: layer_id·2^40 + item0 + i (2^40 rows per layer). */
#define HWA_READ_LAYER_SHIFT 40

struct mx_hwa_layer {
    mx_hwa_config cfg;
    const mx_device_type *device;
    size_t n_out, n_in;
    uint32_t layer_id;
    double full_scale;          /* |x| at V_read for the next programming */
    mx_matmul *mm;              /* NULL until programmed */
    int calibrated;             /* ADC fitted since the last programming */
    double adc_range_a;
    mx_matmul_work **work;      /* one per thread, for mm */
    int n_work;
    float *calib_buf;           /* (HWA_CALIB_MAX_SAMPLES) */
    size_t *calib_got;          /* (calib_cap_rows) */
    size_t calib_cap_rows;
    double *table;              /* 2·2^bits doubles: the fit's scratch */
};

void mx_hwa_config_default(mx_hwa_config *c)
{
    assert(c);
    memset(c, 0, sizeof *c);
    mx_crossbar_config_default(&c->xbar);
    c->xbar.input = MX_INPUT_DAC;
    c->device = NULL;
    mx_device_params_default(&c->device_params);
    mx_adc_config_default(&c->adc);
    c->adc_percentile = -1.0;
}

static const mx_device_type *config_device(const mx_hwa_config *c)
{
    return c->device ? c->device : mx_device_lookup("reram");
}

mx_status mx_hwa_config_validate(const mx_hwa_config *c)
{
    assert(c);
    mx_status st = mx_crossbar_config_validate(&c->xbar);
    if (st)
        return st;
    const mx_device_type *dev = config_device(c);
    if (!dev)
        return mx_fail(MX_EINVAL, "hardware.device.type: no device model 'reram' registered");
    if ((st = dev->validate(&c->device_params)))
        return st;
    if ((st = mx_adc_config_validate(&c->adc)))
        return st;
    if (!(c->adc_percentile < 0.0 || (c->adc_percentile > 0.0 && c->adc_percentile <= 100.0)))
        return mx_fail(MX_EINVAL,
                       "training.hwa_adc_percentile: expected in (0, 100] or < 0 "
                       "(hardware.adc.range_percentile), got %g",
                       c->adc_percentile);
    return MX_OK;
}

static void free_work(mx_hwa_layer *h)
{
    for (int t = 0; t < h->n_work; t++)
        mx_matmul_work_destroy(h->work[t]);
    mx_free(h->work);
    h->work = NULL;
    h->n_work = 0;
}

void mx_hwa_layer_destroy(mx_hwa_layer *h)
{
    if (!h)
        return;
    free_work(h);
    mx_matmul_destroy(h->mm);
    mx_free(h->calib_buf);
    mx_free(h->calib_got);
    mx_free(h->table);
    mx_free(h);
}

mx_status mx_hwa_layer_create(const mx_hwa_config *cfg, size_t n_out, size_t n_in,
                              uint32_t layer_id, mx_hwa_layer **out)
{
    assert(cfg && out);
    *out = NULL;
    mx_status st = mx_hwa_config_validate(cfg);
    if (st)
        return st;
    if (n_out == 0 || n_in == 0)
        return mx_fail(MX_EINVAL, "hwa layer: expected n_out, n_in >= 1, got %zu x %zu", n_out,
                       n_in);
    mx_hwa_layer *h = mx_calloc(1, sizeof *h);
    if (!h)
        return mx_fail(MX_ENOMEM, "hwa layer: out of memory");
    h->cfg = *cfg;
    h->device = config_device(cfg);
    h->n_out = n_out;
    h->n_in = n_in;
    h->layer_id = layer_id;
    h->full_scale = cfg->xbar.input_full_scale;
    *out = h;
    return MX_OK;
}

mx_status mx_hwa_layer_set_input_full_scale(mx_hwa_layer *h, double full_scale)
{
    assert(h);
    if (!(isfinite(full_scale) && full_scale > 0.0))
        return mx_fail(MX_EINVAL, "hwa layer %u: input full scale: expected > 0, got %g",
                       h->layer_id, full_scale);
    h->full_scale = full_scale;
    return MX_OK;
}

mx_status mx_hwa_layer_program(mx_hwa_layer *h, const float *w, uint64_t seed, uint64_t draw)
{
    assert(h && w);
    free_work(h);
    mx_matmul_destroy(h->mm);
    h->mm = NULL;
    h->calibrated = 0;
    h->adc_range_a = 0.0;
    /* The chip instance: a root seed of its own per draw, under which the
     * matmul keys its cells by (layer id, row) as everywhere else. */
    mx_rng rng;
    mx_rng_init_named(&rng, seed, "hwa.program", draw);
    const uint64_t hi = mx_rng_u32(&rng), lo = mx_rng_u32(&rng);
    const uint64_t chip_seed = hi << 32 | lo;
    mx_crossbar_config xb = h->cfg.xbar;
    xb.input_full_scale = h->full_scale;
    mx_status st = mx_matmul_create(w, h->n_out, h->n_in, &xb, h->device, &h->cfg.device_params,
                                    &h->cfg.adc, chip_seed, h->layer_id, &h->mm);
    if (st)
        return st;
    if (h->cfg.adc.kind == MX_ADC_NONE)
        h->calibrated = 1;
    return MX_OK;
}

const mx_matmul *mx_hwa_layer_matmul(const mx_hwa_layer *h) { return h->mm; }
double mx_hwa_layer_adc_range(const mx_hwa_layer *h) { return h->adc_range_a; }

/* One workspace per OpenMP thread for the current matmul (created outside
 * the parallel region; once per programming). */
static mx_status ensure_work(mx_hwa_layer *h)
{
    const int threads = omp_get_max_threads();
    if (h->n_work >= threads)
        return MX_OK;
    mx_matmul_work **w = mx_calloc((size_t)threads, sizeof *w);
    if (!w)
        return mx_fail(MX_ENOMEM, "hwa layer: out of memory");
    for (int t = 0; t < h->n_work; t++)
        w[t] = h->work[t];
    mx_free(h->work);
    h->work = w;
    for (int t = h->n_work; t < threads; t++) {
        mx_status st = mx_matmul_work_create(h->mm, &h->work[t]);
        if (st)
            return st;
        h->n_work = t + 1;
    }
    return MX_OK;
}

/* Rows [0, n) through the matmul; with `quota` > 0, row i records every
 * `stride`-th current into calib_buf + i·quota (count in calib_got[i]). */
static void run_rows(mx_hwa_layer *h, const float *x, size_t n, uint64_t seed, uint64_t item0,
                     float *y, size_t quota, size_t stride)
{
    const uint32_t stream = mx_stream_id("hwa.read");
    const uint64_t base = ((uint64_t)h->layer_id << HWA_READ_LAYER_SHIFT) + item0;
    const mx_matmul *mm = h->mm;
    const size_t n_in = h->n_in, n_out = h->n_out;
    const long long rows = (long long)n;
#pragma omp parallel for schedule(dynamic, 4)
    for (long long r = 0; r < rows; r++) {
        const size_t i = (size_t)r;
        mx_matmul_work *w = h->work[omp_get_thread_num()];
        mx_rng rng;
        mx_rng_init(&rng, seed, stream, base + i);
        if (quota) {
            mx_current_recorder rec = {.values = h->calib_buf + i * quota,
                                       .capacity = quota,
                                       .stride = stride};
            mx_matmul_forward(mm, w, x + i * n_in, y + i * n_out, &rng, NULL, &rec);
            h->calib_got[i] = rec.count;
        } else {
            mx_matmul_forward(mm, w, x + i * n_in, y + i * n_out, &rng, NULL, NULL);
        }
    }
}

/* Fit the ADC to the currents of this batch (see the file comment). */
static mx_status calibrate(mx_hwa_layer *h, const float *x, size_t n, uint64_t seed,
                           uint64_t item0, float *y)
{
    mx_status st;
    if (!h->calib_buf && !(h->calib_buf = mx_alloc(HWA_CALIB_MAX_SAMPLES * sizeof(float))))
        return mx_fail(MX_ENOMEM, "hwa layer: out of memory");
    if (!h->table && !(h->table = mx_alloc(((size_t)2 << h->cfg.adc.bits) * sizeof(double))))
        return mx_fail(MX_ENOMEM, "hwa layer: out of memory");
    if (h->calib_cap_rows < n) {
        mx_free(h->calib_got);
        if (!(h->calib_got = mx_alloc(n * sizeof(size_t)))) {
            h->calib_cap_rows = 0;
            return mx_fail(MX_ENOMEM, "hwa layer: out of memory");
        }
        h->calib_cap_rows = n;
    }
    if ((st = mx_matmul_set_adc_range(h->mm, HWA_PROFILE_RANGE_A)))
        return st;
    const size_t offered = mx_matmul_n_row_tiles(h->mm) * mx_matmul_input_passes(h->mm) *
                           mx_matmul_currents_per_read(h->mm);
    size_t quota = HWA_CALIB_MAX_SAMPLES / n;
    if (quota == 0)
        quota = 1;
    if (quota > offered)
        quota = offered;
    const size_t stride = (offered + quota - 1) / quota;
    run_rows(h, x, n, seed, item0, y, quota, stride);
    size_t k = 0;
    int any = 0;
    for (size_t i = 0; i < n; i++) {
        memmove(h->calib_buf + k, h->calib_buf + i * quota, h->calib_got[i] * sizeof(float));
        k += h->calib_got[i];
    }
    for (size_t i = 0; i < k && !any; i++)
        any = h->calib_buf[i] != 0.0f;
    if (!any)
        return mx_fail(MX_ENUMERIC,
                       "hwa layer %u: ADC calibration: the batch of %zu rows drove no current",
                       h->layer_id, n);
    mx_adc_config ac = h->cfg.adc;
    if (h->cfg.adc_percentile > 0.0)
        ac.range_percentile = h->cfg.adc_percentile;
    mx_adc_fit fit;
    if ((st = mx_adc_fit_currents(&ac, h->calib_buf, k, h->table, &fit, NULL)))
        return st;
    if ((st = mx_matmul_set_adc_fit(h->mm, &fit)))
        return st;
    h->adc_range_a = fit.range_a;
    h->calibrated = 1;
    return MX_OK;
}

mx_status mx_hwa_layer_forward(mx_hwa_layer *h, const float *x, size_t n, uint64_t seed,
                               uint64_t item0, float *y)
{
    assert(h && x && y);
    if (!h->mm)
        return mx_fail(MX_EINVAL, "hwa layer %u: forward before programming", h->layer_id);
    if (n == 0)
        return mx_fail(MX_EINVAL, "hwa layer %u: forward of 0 rows", h->layer_id);
    mx_status st = ensure_work(h);
    if (st)
        return st;
    if (!h->calibrated && (st = calibrate(h, x, n, seed, item0, y)))
        return st;
    run_rows(h, x, n, seed, item0, y, 0, 0);
    return MX_OK;
}

mx_status mx_hwa_layer_chip_weights(const mx_hwa_layer *h, float *w_out)
{
    assert(h && w_out);
    if (!h->mm)
        return mx_fail(MX_EINVAL, "hwa layer %u: chip weights before programming", h->layer_id);
    const mx_matmul *mm = h->mm;
    const size_t n_in = h->n_in, n_out = h->n_out;
    const double inv_spu = 1.0 / mx_matmul_mapping(mm).siemens_per_unit;
    const mx_crossbar_config *xb = mx_matmul_config(mm);
    /* Families are (n_in, cols) row-major; W̃ is (n_out, n_in). */
    if (xb->mapping == MX_MAPPING_OFFSET) {
        size_t ref_cols = 0;
        const float *g = mx_matmul_family(mm, 0, NULL), *ref = mx_matmul_family(mm, 1, &ref_cols);
        for (size_t j = 0; j < n_in; j++)
            for (size_t o = 0; o < n_out; o++)
                w_out[o * n_in + j] = (float)(((double)g[j * n_out + o] -
                                               (double)ref[j * ref_cols + o / xb->tile_cols]) *
                                              inv_spu);
        return MX_OK;
    }
    const size_t slices = xb->mapping == MX_MAPPING_BIT_SLICED ? (size_t)xb->slices : 1;
    const int bits = xb->mapping == MX_MAPPING_BIT_SLICED ? xb->slice_bits : 0;
    for (size_t j = 0; j < n_in; j++)
        for (size_t o = 0; o < n_out; o++) {
            double acc = 0.0;
            for (size_t s = 0; s < slices; s++) {
                const float *gp = mx_matmul_family(mm, 2 * s, NULL);
                const float *gn = mx_matmul_family(mm, 2 * s + 1, NULL);
                acc += ldexp((double)gp[j * n_out + o] - (double)gn[j * n_out + o],
                             bits * (int)s);
            }
            w_out[o * n_in + j] = (float)(acc * inv_spu);
        }
    return MX_OK;
}
