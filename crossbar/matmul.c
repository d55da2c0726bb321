/* SPDX-License-Identifier: MIT
 *
 * matmul.c: the analog matmul — weights mapped to differential conductance
 * pairs, programmed through a device model (and aged to t_inference_s where
 * the model ages), read tile by tile with Ohm/Kirchhoff column currents, read
 * noise and a per-column ADC, partial sums added digitally (see crossbar.h
 * for the signal chain).
 *
 * Fast path (mx_matmul_forward): event-driven — only rows with a non-zero
 * drive are accumulated, only row tiles with an active row are read and
 * converted. Read noise is output-referred: the per-cell noise
 * G·(1 + σ·ξ_ij) summed over a column is Gaussian with variance
 * σ²·Σ_j V_j²·(G+_ij² + G−_ij²), so one draw per column is exact in
 * distribution (not merely an approximation); the per-cell twin
 * (mx_matmul_forward_reference, or noise = per-cell) keeps the plain sum.
 */
#include "crossbar/crossbar.h"

#include <assert.h>
#include <math.h>
#include <string.h>

struct mx_matmul {
    size_t n_in, n_out;
    size_t n_row_tiles, n_col_tiles;
    mx_crossbar_config xbar;
    const mx_device_type *device;
    mx_device_params dev;
    mx_adc_config adc_cfg;
    mx_adc adc;
    int adc_ready;
    mx_mapping map;
    float *g_pos;  /* (n_in, n_out) S */
    float *g_neg;  /* (n_in, n_out) S */
    float *g_diff; /* g_pos − g_neg, (n_in, n_out) S */
    float *g_sq;   /* g_pos² + g_neg², (n_in, n_out) S² — output-referred noise */
    double dac_levels; /* K: DAC codes per polarity (0 = exact voltages) */
    int iv_nonlinear;  /* the device's I–V is not I = G·V */
    float spike_drive; /* φ(V_read): drive of a spiking row, A/S */
};

struct mx_matmul_work {
    float *v;             /* (n_in) row drive: current per siemens of cell
                             conductance, A/S — the row voltage itself when the
                             cell I–V is linear, φ(V) = mx_device_current(G = 1 S, V)
                             otherwise (the I–V forms are separable: I = G·φ(V)) */
    size_t *active;       /* (n_in) indices of driven rows */
    float *acc;           /* (n_row_tiles, n_out) column currents, A */
    float *var;           /* (n_row_tiles, n_out) noise variance / σ², A² */
    unsigned char *tile_active; /* (n_row_tiles) */
    float *row_pos, *row_neg;   /* (n_out) one row's read conductances (reference) */
};

void mx_matmul_destroy(mx_matmul *mm)
{
    if (!mm)
        return;
    mx_free(mm->g_pos);
    mx_free(mm->g_neg);
    mx_free(mm->g_diff);
    mx_free(mm->g_sq);
    mx_free(mm);
}

static mx_status map_and_program(mx_matmul *mm, const float *w, uint64_t seed, uint32_t layer_id)
{
    const size_t n_in = mm->n_in, n_out = mm->n_out;
    double w_abs_max = 0.0;
    for (size_t i = 0; i < n_out * n_in; i++) {
        if (!isfinite(w[i]))
            return mx_fail(MX_EINVAL, "layer %u weight [%zu, %zu] is not finite (%g)", layer_id,
                           i / n_in, i % n_in, (double)w[i]);
        double a = fabs((double)w[i]);
        if (a > w_abs_max)
            w_abs_max = a;
    }
    if (w_abs_max == 0.0)
        w_abs_max = 1.0; /* an all-zero matrix maps to g_min everywhere */
    const double g_min = mm->dev.g_min_s, window = mm->dev.g_max_s - mm->dev.g_min_s;
    mm->map.w_abs_max = w_abs_max;
    mm->map.siemens_per_unit = window / w_abs_max;
    const double spu = mm->map.siemens_per_unit;
    const uint32_t stream = mx_stream_id("device.program");
    const uint32_t age_stream = mx_stream_id("device.age");
    const double t_s = mm->dev.t_inference_s;
    const int ages = mm->device->age && t_s > 0.0;

    /* Row j of the crossbar holds input j's weights to every output. Each row
     * draws from its own stream item, so rows program in any order. The
     * row's targets are written to its g_diff and g_sq rows first (they are
     * scratch until the end of the row), so ageing sees them without an
     * allocation; programming reads them back unchanged. */
#pragma omp parallel for schedule(static)
    for (size_t j = 0; j < n_in; j++) {
        float *gp = mm->g_pos + j * n_out, *gn = mm->g_neg + j * n_out;
        float *gd = mm->g_diff + j * n_out, *gs = mm->g_sq + j * n_out;
        float *tp = gd, *tn = gs; /* targets, S */
        for (size_t o = 0; o < n_out; o++) {
            double wv = (double)w[o * n_in + j];
            tp[o] = (float)(g_min + (wv > 0.0 ? wv * spu : 0.0));
            tn[o] = (float)(g_min + (wv < 0.0 ? -wv * spu : 0.0));
        }
        const uint64_t item = ((uint64_t)layer_id << 32) | (uint64_t)j;
        mx_rng rng;
        mx_rng_init(&rng, seed, stream, item);
        mx_device_program(mm->device, &mm->dev, tp, gp, n_out, &rng);
        mx_device_program(mm->device, &mm->dev, tn, gn, n_out, &rng);
        if (ages) {
            /* Drift and accumulated noise until evaluation, from a stream of
             * its own so programming draws stay as they were. */
            mx_rng age_rng;
            mx_rng_init(&age_rng, seed, age_stream, item);
            mm->device->age(&mm->dev, tp, gp, gp, n_out, t_s, &age_rng);
            mm->device->age(&mm->dev, tn, gn, gn, n_out, t_s, &age_rng);
        }
        for (size_t o = 0; o < n_out; o++) {
            gd[o] = gp[o] - gn[o];
            gs[o] = gp[o] * gp[o] + gn[o] * gn[o];
        }
    }
    return MX_OK;
}

mx_status mx_matmul_create(const float *w, size_t n_out, size_t n_in,
                           const mx_crossbar_config *xbar, const mx_device_type *device,
                           const mx_device_params *device_params, const mx_adc_config *adc,
                           uint64_t seed, uint32_t layer_id, mx_matmul **out)
{
    *out = NULL;
    if (n_out == 0 || n_in == 0)
        return mx_fail(MX_EINVAL, "analog matmul: expected a non-empty matrix, got %zu x %zu",
                       n_out, n_in);
    mx_status st = mx_crossbar_config_validate(xbar);
    if (!st)
        st = device->validate(device_params);
    if (!st)
        st = mx_adc_config_validate(adc);
    if (st)
        return st;
    size_t cells = mx_size_mul(n_in, n_out);
    if (cells == 0 || cells > SIZE_MAX / sizeof(float))
        return mx_fail(MX_EINVAL, "analog matmul: %zu x %zu is too large", n_out, n_in);

    mx_matmul *mm = mx_calloc(1, sizeof *mm);
    if (!mm)
        return mx_fail(MX_ENOMEM, "analog matmul: out of memory");
    mm->n_in = n_in;
    mm->n_out = n_out;
    mm->xbar = *xbar;
    mm->device = device;
    mm->dev = *device_params;
    mm->adc_cfg = *adc;
    mm->n_row_tiles = (n_in + xbar->tile_rows - 1) / xbar->tile_rows;
    mm->n_col_tiles = (n_out + xbar->tile_cols - 1) / xbar->tile_cols;
    /* A nonlinear cell I–V bends the current of every row driven at other
     * than the conductances' defining voltage; the forms are separable
     * (I = G·φ(V)), so it is a transform of the row drive, exact in both the
     * output-referred and the per-cell paths. The digital scale back to
     * weight units stays nominal (V_read): a mismatch between the read
     * voltage and iv.v_read_v shows up as the gain error it is. */
    mm->iv_nonlinear = mm->dev.iv.kind != MX_IV_LINEAR;
    mm->spike_drive = (float)(mm->iv_nonlinear
                                  ? mx_device_current(&mm->dev, 1.0, xbar->read_voltage_v)
                                  : xbar->read_voltage_v);
    mm->dac_levels = 0.0;
    if (xbar->input == MX_INPUT_DAC && xbar->dac_bits > 0) {
        /* Signed mid-tread DAC: K levels per polarity, 0 exact; a 1-bit DAC
         * drives {−V, 0, +V} (sign and enable). */
        double k = ldexp(1.0, xbar->dac_bits - 1) - 1.0;
        mm->dac_levels = k < 1.0 ? 1.0 : k;
    }
    mm->g_pos = mx_alloc(cells * sizeof(float));
    mm->g_neg = mx_alloc(cells * sizeof(float));
    mm->g_diff = mx_alloc(cells * sizeof(float));
    mm->g_sq = mx_alloc(cells * sizeof(float));
    if (!mm->g_pos || !mm->g_neg || !mm->g_diff || !mm->g_sq) {
        mx_matmul_destroy(mm);
        return mx_fail(MX_ENOMEM, "analog matmul: out of memory for %zu x %zu cells", n_in, n_out);
    }
    st = map_and_program(mm, w, seed, layer_id);
    if (st) {
        mx_matmul_destroy(mm);
        return st;
    }
    if (adc->kind == MX_ADC_NONE) {
        mx_adc_init(&mm->adc, adc, 1.0);
        mm->adc_ready = 1;
    }
    *out = mm;
    return MX_OK;
}

size_t mx_matmul_n_in(const mx_matmul *mm) { return mm->n_in; }
size_t mx_matmul_n_out(const mx_matmul *mm) { return mm->n_out; }
size_t mx_matmul_n_row_tiles(const mx_matmul *mm) { return mm->n_row_tiles; }
mx_mapping mx_matmul_mapping(const mx_matmul *mm) { return mm->map; }
const mx_crossbar_config *mx_matmul_config(const mx_matmul *mm) { return &mm->xbar; }

void mx_matmul_conductances(const mx_matmul *mm, const float **g_pos, const float **g_neg)
{
    if (g_pos)
        *g_pos = mm->g_pos;
    if (g_neg)
        *g_neg = mm->g_neg;
}

mx_status mx_matmul_set_adc_range(mx_matmul *mm, double range_a)
{
    if (mm->adc_cfg.kind == MX_ADC_NONE)
        return MX_OK;
    mx_status st = mx_adc_init(&mm->adc, &mm->adc_cfg, range_a);
    if (st)
        return st;
    mm->adc_ready = 1;
    return MX_OK;
}

double mx_matmul_adc_range(const mx_matmul *mm)
{
    return mm->adc_cfg.kind == MX_ADC_NONE ? 0.0 : mm->adc.range_a;
}

void mx_matmul_work_destroy(mx_matmul_work *w)
{
    if (!w)
        return;
    mx_free(w->v);
    mx_free(w->active);
    mx_free(w->acc);
    mx_free(w->var);
    mx_free(w->tile_active);
    mx_free(w->row_pos);
    mx_free(w->row_neg);
    mx_free(w);
}

mx_status mx_matmul_work_create(const mx_matmul *mm, mx_matmul_work **out)
{
    *out = NULL;
    mx_matmul_work *w = mx_calloc(1, sizeof *w);
    if (!w)
        return mx_fail(MX_ENOMEM, "analog matmul workspace: out of memory");
    size_t tile_values = mm->n_row_tiles * mm->n_out;
    w->v = mx_calloc(mm->n_in, sizeof(float));
    w->active = mx_calloc(mm->n_in, sizeof(size_t));
    w->acc = mx_calloc(tile_values, sizeof(float));
    w->var = mx_calloc(tile_values, sizeof(float));
    w->tile_active = mx_calloc(mm->n_row_tiles, 1);
    w->row_pos = mx_calloc(mm->n_out, sizeof(float));
    w->row_neg = mx_calloc(mm->n_out, sizeof(float));
    if (!w->v || !w->active || !w->acc || !w->var || !w->tile_active || !w->row_pos ||
        !w->row_neg) {
        mx_matmul_work_destroy(w);
        return mx_fail(MX_ENOMEM, "analog matmul workspace: out of memory");
    }
    *out = w;
    return MX_OK;
}

/* Row drives from inputs (see mx_matmul_work.v); returns the number of driven
 * rows, listed in w->active in ascending order. */
static size_t drive_rows(const mx_matmul *mm, mx_matmul_work *w, const float *x)
{
    const float v_read = (float)mm->xbar.read_voltage_v;
    size_t n_active = 0;
    if (mm->xbar.input == MX_INPUT_SPIKES) {
        for (size_t j = 0; j < mm->n_in; j++) {
            assert(x[j] == 0.0f || x[j] == 1.0f);
            if (x[j] != 0.0f) {
                w->v[j] = mm->spike_drive;
                w->active[n_active++] = j;
            } else {
                w->v[j] = 0.0f;
            }
        }
        return n_active;
    }
    const double inv_fs = 1.0 / mm->xbar.input_full_scale, k = mm->dac_levels;
    for (size_t j = 0; j < mm->n_in; j++) {
        double u = (double)x[j] * inv_fs;
        u = u > 1.0 ? 1.0 : (u < -1.0 ? -1.0 : u);
        if (k > 0.0)
            u = nearbyint(u * k) / k;
        double v = u * (double)v_read;
        w->v[j] = (float)(mm->iv_nonlinear ? mx_device_current(&mm->dev, 1.0, v) : v);
        if (w->v[j] != 0.0f)
            w->active[n_active++] = j;
    }
    return n_active;
}

/* Scale from summed digitised current (A) to weight units. */
static double output_scale(const mx_matmul *mm)
{
    double fs = mm->xbar.input == MX_INPUT_DAC ? mm->xbar.input_full_scale : 1.0;
    return fs / (mm->xbar.read_voltage_v * mm->map.siemens_per_unit);
}

/* Digitise every active tile's column currents (adding output-referred noise
 * when `noise_sigma` > 0), sum them into y, scale, and clear the tiles. */
static void convert_tiles(const mx_matmul *mm, mx_matmul_work *w, float *y, double noise_sigma,
                          mx_rng *read_rng, mx_matmul_stats *stats, mx_current_recorder *rec)
{
    const size_t n_out = mm->n_out;
    assert(mm->adc_ready);
    for (size_t o = 0; o < n_out; o++)
        y[o] = 0.0f;
    uint64_t conversions = 0, clipped = 0, reads = 0;
    for (size_t t = 0; t < mm->n_row_tiles; t++) {
        if (!w->tile_active[t])
            continue;
        float *acc = w->acc + t * n_out, *var = w->var + t * n_out;
        if (noise_sigma > 0.0)
            for (size_t o = 0; o < n_out; o++)
                acc[o] += (float)(noise_sigma * sqrt((double)var[o]) * mx_rng_normal(read_rng));
        if (rec)
            for (size_t o = 0; o < n_out && rec->count < rec->capacity; o++)
                if (rec->stride <= 1 || rec->seen++ % rec->stride == 0)
                    rec->values[rec->count++] = acc[o];
        clipped += mx_adc_convert(&mm->adc, acc, n_out);
        for (size_t o = 0; o < n_out; o++) {
            y[o] += acc[o];
            acc[o] = 0.0f;
            var[o] = 0.0f;
        }
        w->tile_active[t] = 0;
        reads++;
        conversions += n_out;
    }
    const float scale = (float)output_scale(mm);
    for (size_t o = 0; o < n_out; o++)
        y[o] *= scale;
    if (stats) {
        stats->conversions += mm->adc_cfg.kind == MX_ADC_NONE ? 0 : conversions;
        stats->clipped += clipped;
        stats->reads += reads;
    }
}

/* Per-cell read of every row in each active tile through the device's read
 * function: the plain sum the fast path must agree with. */
static void accumulate_per_cell(const mx_matmul *mm, mx_matmul_work *w, mx_rng *read_rng)
{
    const size_t n_out = mm->n_out, tile_rows = mm->xbar.tile_rows;
    const int noisy = mm->dev.read_noise_sigma > 0.0;
    for (size_t t = 0; t < mm->n_row_tiles; t++) {
        size_t j0 = t * tile_rows, j1 = j0 + tile_rows < mm->n_in ? j0 + tile_rows : mm->n_in;
        int any = 0;
        for (size_t j = j0; j < j1; j++)
            any |= w->v[j] != 0.0f;
        if (!any)
            continue;
        w->tile_active[t] = 1;
        float *acc = w->acc + t * n_out;
        for (size_t j = j0; j < j1; j++) {
            const float *gp = mm->g_pos + j * n_out, *gn = mm->g_neg + j * n_out;
            if (noisy) {
                mm->device->read(&mm->dev, gp, w->row_pos, n_out, read_rng);
                mm->device->read(&mm->dev, gn, w->row_neg, n_out, read_rng);
                gp = w->row_pos;
                gn = w->row_neg;
            }
            const float v = w->v[j];
            if (v == 0.0f)
                continue;
            for (size_t o = 0; o < n_out; o++)
                acc[o] += v * (gp[o] - gn[o]);
        }
    }
}

void mx_matmul_forward(const mx_matmul *mm, mx_matmul_work *w, const float *x, float *y,
                       mx_rng *read_rng, mx_matmul_stats *stats, mx_current_recorder *rec)
{
    const size_t n_out = mm->n_out, tile_rows = mm->xbar.tile_rows;
    const double sigma = mm->dev.read_noise_sigma;
    size_t n_active = drive_rows(mm, w, x);
    if (sigma > 0.0 && mm->xbar.noise == MX_NOISE_PER_CELL) {
        accumulate_per_cell(mm, w, read_rng);
        convert_tiles(mm, w, y, 0.0, read_rng, stats, rec);
        return;
    }
    for (size_t a = 0; a < n_active; a++) {
        const size_t j = w->active[a], t = j / tile_rows;
        const float v = w->v[j];
        const float *gd = mm->g_diff + j * n_out;
        float *acc = w->acc + t * n_out;
        w->tile_active[t] = 1;
        for (size_t o = 0; o < n_out; o++)
            acc[o] += v * gd[o];
        if (sigma > 0.0) {
            const float v2 = v * v;
            const float *gs = mm->g_sq + j * n_out;
            float *var = w->var + t * n_out;
            for (size_t o = 0; o < n_out; o++)
                var[o] += v2 * gs[o];
        }
    }
    convert_tiles(mm, w, y, sigma, read_rng, stats, rec);
}

void mx_matmul_forward_reference(const mx_matmul *mm, mx_matmul_work *w, const float *x,
                                 float *y, mx_rng *read_rng, mx_matmul_stats *stats)
{
    drive_rows(mm, w, x);
    accumulate_per_cell(mm, w, read_rng);
    convert_tiles(mm, w, y, 0.0, read_rng, stats, NULL);
}
