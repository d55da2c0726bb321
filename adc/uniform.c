/* SPDX-License-Identifier: MIT
 *
 * uniform.c: the ADC's configuration and life cycle, the uniform mid-rise
 * quantiser with clipping (signed or unsigned; see adc.h for the transfer
 * curve), the exact pass-through used as the ideal reference, and the
 * dispatch to the other kinds (table.c: lloyd-max and log; sar.c: sar and
 * sense-amp). The uniform conversion is the hot path of every SNN time step
 * (bench/bench_matmul.c): mx_adc_convert_bank hands it straight to the
 * vectorised loop below, nothing is looked up per value (unless the
 * instances carry a gain error, gain_sigma > 0: one multiply per value by
 * its instance's g first, stream "adc.gain").
 */
#include "adc/adc.h"
#include "adc/adc_internal.h"

#include <math.h>
#include <string.h>

#define ADC_DEFAULT_BITS 8
#define ADC_DEFAULT_RANGE_PERCENTILE 99.9
/* 60 dB between the lowest magnitude edge and full scale: the span of
 * column currents between one weakly and fully driven column. */
#define ADC_DEFAULT_LOG_DYNAMIC_RANGE 1000.0
/* A unit capacitor that may be off by more than itself is no capacitor. */
#define ADC_MAX_CAP_MISMATCH_SIGMA 1.0
/* The same bound for the gain error: beyond it g_i would be clamped at 0. */
#define ADC_MAX_GAIN_SIGMA 1.0
/* Stream of the per-instance gain draws: its own, so that the SAR draws of
 * "adc.instance" stay what they were. */
#define ADC_GAIN_STREAM "adc.gain"

void mx_adc_config_default(mx_adc_config *c)
{
    *c = (mx_adc_config){
        .kind = MX_ADC_UNIFORM,
        .bits = ADC_DEFAULT_BITS,
        .polarity = MX_ADC_SIGNED,
        .range_mode = MX_ADC_RANGE_PERCENTILE,
        .range_percentile = ADC_DEFAULT_RANGE_PERCENTILE,
        .log_dynamic_range = ADC_DEFAULT_LOG_DYNAMIC_RANGE,
        .cap_mismatch_sigma = 0.0,
        .offset_sigma_lsb = 0.0,
        .noise_sigma_lsb = 0.0,
        .columns_per_adc = 1,
        .gain_sigma = 0.0,
    };
}

/* A σ-like field: ≥ 0, finite, at most max. */
static mx_status check_sigma(const char *field, double v, double max)
{
    if (v >= 0.0 && v <= max && isfinite(v))
        return MX_OK;
    if (isfinite(max))
        return mx_fail(MX_EINVAL, "hardware.adc.%s: expected a number in [0, %g], got %g", field,
                       max, v);
    return mx_fail(MX_EINVAL, "hardware.adc.%s: expected a finite number >= 0, got %g", field, v);
}

mx_status mx_adc_config_validate(const mx_adc_config *c)
{
    if (c->kind < MX_ADC_NONE || c->kind > MX_ADC_SENSE_AMP)
        return mx_fail(MX_EINVAL, "hardware.adc.type: expected uniform, lloyd-max, log, sar, "
                                  "sense-amp or none");
    if (c->kind != MX_ADC_NONE && (c->bits < 1 || c->bits > MX_ADC_MAX_BITS))
        return mx_fail(MX_EINVAL, "hardware.adc.bits: expected an integer in [1, %d], got %d",
                       MX_ADC_MAX_BITS, c->bits);
    if (c->polarity != MX_ADC_SIGNED && c->polarity != MX_ADC_UNSIGNED)
        return mx_fail(MX_EINVAL, "hardware.adc.polarity: expected signed or unsigned");
    if (c->range_mode < MX_ADC_RANGE_PERCENTILE || c->range_mode > MX_ADC_RANGE_MSE)
        return mx_fail(MX_EINVAL, "hardware.adc.range_mode: expected max, percentile or mse");
    if (!(c->range_percentile > 0.0 && c->range_percentile <= 100.0))
        return mx_fail(MX_EINVAL,
                       "hardware.adc.range_percentile: expected a number in (0, 100], got %g",
                       c->range_percentile);
    if (!(c->log_dynamic_range > 1.0 && isfinite(c->log_dynamic_range)))
        return mx_fail(MX_EINVAL,
                       "hardware.adc.log_dynamic_range: expected a finite ratio > 1, got %g",
                       c->log_dynamic_range);
    mx_status st = check_sigma("cap_mismatch_sigma", c->cap_mismatch_sigma,
                               ADC_MAX_CAP_MISMATCH_SIGMA);
    if (!st)
        st = check_sigma("offset_sigma_lsb", c->offset_sigma_lsb, HUGE_VAL);
    if (!st)
        st = check_sigma("noise_sigma_lsb", c->noise_sigma_lsb, HUGE_VAL);
    if (!st)
        st = check_sigma("gain_sigma", c->gain_sigma, ADC_MAX_GAIN_SIGMA);
    if (st)
        return st;
    if (c->kind == MX_ADC_NONE && c->gain_sigma > 0.0)
        return mx_fail(MX_EINVAL, "hardware.adc.gain_sigma: a gain error belongs to a converter; "
                                  "type none converts nothing, expected 0, got %g",
                       c->gain_sigma);
    if (c->columns_per_adc < 1 || c->columns_per_adc > MX_ADC_MAX_COLUMNS_PER_ADC)
        return mx_fail(MX_EINVAL,
                       "hardware.adc.columns_per_adc: expected an integer in [1, %d], got %d",
                       MX_ADC_MAX_COLUMNS_PER_ADC, c->columns_per_adc);
    switch (c->kind) {
    case MX_ADC_LLOYD_MAX:
        if (c->bits > MX_ADC_LLOYD_MAX_MAX_BITS)
            return mx_fail(MX_EINVAL,
                           "hardware.adc.bits: a lloyd-max ADC fits 2^bits levels, at most %d "
                           "bits; got %d",
                           MX_ADC_LLOYD_MAX_MAX_BITS, c->bits);
        if (c->polarity != MX_ADC_SIGNED)
            return mx_fail(MX_EINVAL, "hardware.adc.polarity: a lloyd-max ADC places its levels "
                                      "wherever the currents are, of either sign; expected "
                                      "signed, got unsigned");
        break;
    case MX_ADC_LOG:
        if (c->polarity == MX_ADC_SIGNED && c->bits < 2)
            return mx_fail(MX_EINVAL, "hardware.adc.bits: a signed log ADC needs a sign bit and at "
                                      "least one magnitude bit; expected >= 2, got %d",
                           c->bits);
        break;
    case MX_ADC_SENSE_AMP:
        if (c->bits != 1)
            return mx_fail(MX_EINVAL,
                           "hardware.adc.bits: a sense-amp is a 1-bit comparator; expected 1, "
                           "got %d",
                           c->bits);
        break;
    default:
        break;
    }
    return MX_OK;
}

/* ---- set up and release ------------------------------------------------------ */

size_t mx_adc_n_codes(const mx_adc *adc) { return (size_t)(adc->code_max - adc->code_min) + 1; }

/* Code span and LSB of the uniform family (uniform, sar, sense-amp; the
 * uniform start of lloyd-max) for a full scale range_a. */
void mx_adc_uniform_grid(int bits, mx_adc_polarity polarity, double range_a, double *step_a,
                         int32_t *code_min, int32_t *code_max)
{
    if (polarity == MX_ADC_SIGNED) {
        const int32_t half = (int32_t)1 << (bits - 1);
        *step_a = range_a / (double)half;
        *code_min = -half;
        *code_max = half - 1;
    } else {
        const int32_t n = (int32_t)1 << bits;
        *step_a = range_a / (double)n;
        *code_min = 0;
        *code_max = n - 1;
    }
}

void mx_adc_release(mx_adc *adc)
{
    if (!adc)
        return;
    mx_free(adc->mem);
    mx_free(adc->gain);
    memset(adc, 0, sizeof *adc);
    adc->kind = MX_ADC_NONE;
}

/* Per-instance gain errors: one normal draw per instance from ADC_GAIN_STREAM,
 * g = 1 + σ·ξ clamped at 0 (a converter cannot invert its input). */
static mx_status gain_setup(mx_adc *a, double sigma, const mx_adc_layout *layout)
{
    a->gain = mx_alloc(mx_size_mul(a->instances, sizeof(float)));
    if (!a->gain)
        return mx_fail(MX_ENOMEM, "ADC: out of memory for %zu instance gains", a->instances);
    const uint32_t stream = mx_stream_id(ADC_GAIN_STREAM);
    for (size_t i = 0; i < a->instances; i++) {
        mx_rng r;
        mx_rng_init(&r, layout->seed, stream, layout->item_base + i);
        const double g = 1.0 + sigma * mx_rng_normal(&r);
        a->gain[i] = (float)(g > 0.0 ? g : 0.0);
    }
    return MX_OK;
}

mx_status mx_adc_setup(mx_adc *adc, const mx_adc_config *c, const mx_adc_fit *fit,
                       const mx_adc_layout *layout)
{
    if (!(isfinite(fit->range_a) && fit->range_a > 0.0))
        return mx_fail(MX_EINVAL, "ADC full-scale range: expected a current > 0 A, got %g",
                       fit->range_a);
    mx_status st = mx_adc_config_validate(c);
    if (st)
        return st;
    const mx_adc_layout one = {.banks = 1, .columns = 1, .tile_cols = 1};
    if (!layout)
        layout = &one;
    if (layout->banks == 0 || layout->columns == 0 || layout->tile_cols == 0)
        return mx_fail(MX_EINVAL, "ADC layout: expected banks, columns and tile columns >= 1, "
                                  "got %zu, %zu, %zu",
                       layout->banks, layout->columns, layout->tile_cols);
    mx_adc a = {
        .kind = c->kind,
        .bits = c->bits,
        .polarity = c->polarity,
        .range_a = fit->range_a,
        .columns_per_adc = (size_t)c->columns_per_adc,
        .tile_cols = layout->tile_cols,
    };
    a.groups_per_tile = (layout->tile_cols + a.columns_per_adc - 1) / a.columns_per_adc;
    a.per_bank = mx_size_mul((layout->columns + layout->tile_cols - 1) / layout->tile_cols,
                             a.groups_per_tile);
    a.instances = mx_size_mul(layout->banks, a.per_bank);
    if (a.instances == 0)
        return mx_fail(MX_EINVAL, "ADC layout: %zu banks of %zu columns is too many", layout->banks,
                       layout->columns);
    if (c->kind == MX_ADC_NONE) {
        *adc = a;
        return MX_OK;
    }
    mx_adc_uniform_grid(c->bits, c->polarity, fit->range_a, &a.step_a, &a.code_min, &a.code_max);
    a.clip_lo_a = (double)a.code_min * a.step_a;
    a.clip_hi_a = ((double)a.code_max + 1.0) * a.step_a;
    switch (c->kind) {
    case MX_ADC_UNIFORM:
        if (fit->n_levels)
            return mx_fail(MX_EINVAL, "ADC fit: fitted levels are for a lloyd-max ADC, not %s",
                           "uniform");
        break;
    case MX_ADC_LLOYD_MAX:
    case MX_ADC_LOG:
        st = mx_adc_table_setup(&a, c, fit);
        break;
    case MX_ADC_SAR:
    case MX_ADC_SENSE_AMP:
        if (fit->n_levels)
            return mx_fail(MX_EINVAL, "ADC fit: fitted levels are for a lloyd-max ADC, not %s",
                           c->kind == MX_ADC_SAR ? "sar" : "sense-amp");
        st = mx_adc_sar_setup(&a, c, layout);
        break;
    default:
        break;
    }
    if (!st && c->gain_sigma > 0.0)
        st = gain_setup(&a, c->gain_sigma, layout);
    if (st) {
        mx_free(a.mem);
        mx_free(a.gain);
        return st;
    }
    *adc = a;
    return MX_OK;
}

mx_status mx_adc_init(mx_adc *adc, const mx_adc_config *c, double range_a)
{
    const mx_adc_fit fit = {.range_a = range_a};
    return mx_adc_setup(adc, c, &fit, NULL);
}

/* ---- the uniform quantiser ----------------------------------------------------- */

/* The quantiser's loop, written once and compiled for the baseline ISA,
 * AVX2 and AVX-512 (F, VL, DQ), chosen at run time: per value the same IEEE
 * operations (multiply, compares, truncating conversion, no FMA contraction
 * in ISO C) in every build, so the same codes and values — a tile read
 * converts hundreds of currents at once, and wider lanes are most of its
 * cost in an event-driven spiking read. */
#if defined(__GNUC__)
#define ADC_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ADC_ALWAYS_INLINE inline
#endif

static ADC_ALWAYS_INLINE uint32_t uniform_convert_body(float *restrict current_a, size_t n,
                                                       float inv_step, float step, float kmin,
                                                       float kmax)
{
    const float lo = kmin - 1.0f, hi = kmax + 1.0f;
    /* Written as selects so the compiler vectorises it (an integer count
     * vectorises; a float sum would not without reassociation). */
    uint32_t clipped = 0;
    for (size_t i = 0; i < n; i++) {
        const float x = current_a[i];
        float q = x * inv_step;
        q = q > lo ? q : lo; /* NaN lands on lo, never in the int cast */
        q = q < hi ? q : hi;
        float k = (float)(int32_t)q;
        k = k > q ? k - 1.0f : k; /* floor */
        clipped += (k < kmin) | (k > kmax);
        k = k > kmin ? k : kmin;
        k = k < kmax ? k : kmax;
        /* x − x is 0 for a finite current and NaN otherwise: a NaN or
         * infinite current comes out NaN for the caller's finiteness check. */
        current_a[i] = (k + 0.5f) * step + (x - x);
    }
    return clipped;
}

typedef uint32_t (*uniform_convert_fn)(float *restrict, size_t, float, float, float, float);

static uint32_t uniform_convert_base(float *restrict current_a, size_t n, float inv_step,
                                     float step, float kmin, float kmax)
{
    return uniform_convert_body(current_a, n, inv_step, step, kmin, kmax);
}

#if defined(__GNUC__) && defined(__x86_64__)
__attribute__((target("avx2"))) static uint32_t
uniform_convert_avx2(float *restrict current_a, size_t n, float inv_step, float step, float kmin,
                     float kmax)
{
    return uniform_convert_body(current_a, n, inv_step, step, kmin, kmax);
}

__attribute__((target("avx512f,avx512vl,avx512dq"))) static uint32_t
uniform_convert_avx512(float *restrict current_a, size_t n, float inv_step, float step,
                       float kmin, float kmax)
{
    return uniform_convert_body(current_a, n, inv_step, step, kmin, kmax);
}
#endif

static uniform_convert_fn uniform_convert_kernel(void)
{
#if defined(__GNUC__) && defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq"))
        return uniform_convert_avx512;
    if (__builtin_cpu_supports("avx2"))
        return uniform_convert_avx2;
#endif
    return uniform_convert_base;
}

static size_t uniform_convert(const mx_adc *adc, float *current_a, size_t n)
{
    const float inv_step = (float)(1.0 / adc->step_a);
    const float step = (float)adc->step_a;
    const float kmin = (float)adc->code_min, kmax = (float)adc->code_max;
    return uniform_convert_kernel()(current_a, n, inv_step, step, kmin, kmax);
}

size_t mx_adc_convert_bank(const mx_adc *adc, float *current_a, size_t n, size_t bank,
                           size_t column_stride, mx_rng *rng)
{
    /* A gain error scales what the converter sees against its own LSB:
     * applied to the current before the conversion, so it clips too. */
    if (adc->gain)
        for (size_t i = 0; i < n; i++)
            current_a[i] *= adc->gain[mx_adc_instance(adc, bank, i * column_stride)];
    switch (adc->kind) {
    case MX_ADC_UNIFORM:
        return uniform_convert(adc, current_a, n);
    case MX_ADC_LLOYD_MAX:
    case MX_ADC_LOG:
        return mx_adc_table_convert(adc, current_a, n);
    case MX_ADC_SAR:
    case MX_ADC_SENSE_AMP:
        return mx_adc_sar_convert(adc, current_a, n, bank, column_stride, rng);
    default:
        return 0;
    }
}

size_t mx_adc_convert(const mx_adc *adc, float *current_a, size_t n)
{
    /* Stride 0: every value is column 0 of bank 0, instance 0. */
    return mx_adc_convert_bank(adc, current_a, n, 0, 0, NULL);
}

int32_t mx_adc_code_at(const mx_adc *adc, double current_a, size_t instance, mx_rng *rng)
{
    if (adc->gain)
        current_a = (double)((float)current_a * adc->gain[instance]);
    switch (adc->kind) {
    case MX_ADC_UNIFORM: {
        double k = floor(current_a / adc->step_a);
        if (!(k >= adc->code_min)) /* NaN too */
            return adc->code_min;
        if (k > adc->code_max)
            return adc->code_max;
        return (int32_t)k;
    }
    case MX_ADC_LLOYD_MAX:
    case MX_ADC_LOG:
        return adc->code_min + (int32_t)mx_adc_table_index(adc, current_a);
    case MX_ADC_SAR:
    case MX_ADC_SENSE_AMP: {
        const double noise =
            rng && adc->noise_lsb > 0.0 ? adc->noise_lsb * mx_rng_normal(rng) : 0.0;
        return mx_adc_sar_code(adc, current_a, instance, noise);
    }
    default:
        return 0;
    }
}

int32_t mx_adc_code(const mx_adc *adc, double current_a)
{
    return mx_adc_code_at(adc, current_a, 0, NULL);
}

double mx_adc_value(const mx_adc *adc, int32_t code)
{
    if (adc->level_a) {
        if (code < adc->code_min)
            code = adc->code_min;
        if (code > adc->code_max)
            code = adc->code_max;
        return adc->level_a[code - adc->code_min];
    }
    return ((double)code + 0.5) * adc->step_a;
}

/* ---- counts -------------------------------------------------------------------- */

size_t mx_adc_instances_per_tile(const mx_adc_config *c, size_t tile_cols)
{
    const size_t k = c->columns_per_adc > 0 ? (size_t)c->columns_per_adc : 1;
    return (tile_cols + k - 1) / k;
}

size_t mx_adc_conversions_in_series(const mx_adc_config *c, size_t tile_cols)
{
    const size_t k = c->columns_per_adc > 0 ? (size_t)c->columns_per_adc : 1;
    return k < tile_cols ? k : tile_cols;
}

int mx_adc_decisions_per_conversion(const mx_adc_config *c)
{
    switch (c->kind) {
    case MX_ADC_NONE:
        return 0;
    case MX_ADC_SENSE_AMP:
        return 1;
    default:
        return c->bits;
    }
}

size_t mx_adc_instance(const mx_adc *adc, size_t bank, size_t column)
{
    return bank * adc->per_bank + (column / adc->tile_cols) * adc->groups_per_tile +
           (column % adc->tile_cols) / adc->columns_per_adc;
}

/* ---- the nominal transfer curve ---------------------------------------------------- */

void mx_adc_nominal_curve(const mx_adc_config *c, double range_a, double *threshold_a,
                          double *level_a)
{
    if (c->kind == MX_ADC_LOG) {
        mx_adc_log_curve(c, range_a, threshold_a, level_a);
        return;
    }
    double step;
    int32_t kmin, kmax;
    mx_adc_uniform_grid(c->bits, c->polarity, range_a, &step, &kmin, &kmax);
    for (int32_t k = kmin; k <= kmax; k++) {
        level_a[k - kmin] = ((double)k + 0.5) * step;
        if (k < kmax)
            threshold_a[k - kmin] = ((double)k + 1.0) * step;
    }
}
