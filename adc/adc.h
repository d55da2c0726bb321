/* SPDX-License-Identifier: MIT
 *
 * adc.h: analog-to-digital conversion of column currents. An ADC turns a
 * current (amperes) into an integer code and back into the value that code
 * stands for; it knows nothing of what produced the current. It sits between
 * the crossbar's column currents and the digital shift-and-add (crossbar/);
 * calibration/ sets its full scale, or fits its levels, from profiled
 * currents. Equations, parameters and measured numbers: docs/adc.md.
 *
 * The family (hardware.adc.type):
 * - uniform: mid-rise quantiser with clipping. Signed (the transfer curve of
 *   a differential converter): 2^bits codes k ∈ [-2^(bits-1), 2^(bits-1) - 1]
 *   standing for (k + 1/2)·Δ, Δ = range/2^(bits-1); unsigned: k ∈
 *   [0, 2^bits - 1], Δ = range/2^bits. Code k covers [kΔ, (k + 1)Δ); inputs
 *   beyond the end codes clip to them.
 * - lloyd-max: 2^bits decision thresholds and reconstruction levels fitted
 *   to profiled currents by the Lloyd–Max algorithm (adc/lloyd_max.c), full
 *   asymmetric: the levels follow the data wherever it lies.
 * - log: sign + log-spaced magnitude (adc/table.c): the magnitude cells'
 *   edges are geometric between range/log_dynamic_range and range, the
 *   bottom cell [0, range/D) is linear.
 * - sar: a successive-approximation converter as a circuit (adc/sar.c):
 *   binary-weighted capacitor DAC with per-capacitor mismatch, comparator
 *   offset per instance, input-referred noise per conversion; bits
 *   comparator decisions per conversion against the mismatched DAC levels.
 *   Ideal parts give the uniform quantiser exactly.
 * - sense-amp: one comparator (1 bit) with offset and noise: the sar
 *   circuit with one decision and no DAC.
 *
 * Instances. The circuit kinds (sar, sense-amp) carry per-instance draws; an
 * ADC is shared by columns_per_adc = k adjacent columns of one tile, so a
 * layer has ⌈tile_cols/k⌉ ADCs per tile, per row tile and per slice
 * (mx_adc_layout). Sharing changes latency (k conversions in series per
 * read) and the instance count, never what an ideal ADC returns.
 * Every converting kind may also carry a per-instance gain error
 * (gain_sigma: instance i converts g_i·I), the column gain spread that
 * calibration/column_cal.h corrects.
 */
#ifndef MX_ADC_H
#define MX_ADC_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "core/rng.h"

#define MX_ADC_MAX_BITS 16
/* The Lloyd–Max fit has 2^bits levels: beyond 10 bits (1024 levels) a
 * fitted non-uniform ADC buys nothing a uniform one would not. */
#define MX_ADC_LLOYD_MAX_MAX_BITS 10
/* Columns one ADC may serve (hardware.adc.columns_per_adc). */
#define MX_ADC_MAX_COLUMNS_PER_ADC 4096

typedef enum mx_adc_kind {
    MX_ADC_NONE,      /* exact: the current passes through unquantised */
    MX_ADC_UNIFORM,   /* uniform N-bit quantiser with clipping */
    MX_ADC_LLOYD_MAX, /* thresholds and levels fitted to profiled currents */
    MX_ADC_LOG,       /* sign + logarithmic magnitude */
    MX_ADC_SAR,       /* SAR circuit: capacitor mismatch, offset, noise */
    MX_ADC_SENSE_AMP, /* 1-bit comparator with offset and noise */
} mx_adc_kind;

/* How calibration sets the full scale (uniform, log, sar, sense-amp). */
typedef enum mx_adc_range_mode {
    MX_ADC_RANGE_PERCENTILE, /* range_percentile of |I| (default) */
    MX_ADC_RANGE_MAX,        /* the largest |I| seen: nothing clips */
    MX_ADC_RANGE_MSE,        /* the range minimising the mean squared error
                                (quantisation + clipping) on the samples */
} mx_adc_range_mode;

typedef enum mx_adc_polarity {
    MX_ADC_SIGNED,   /* codes of both signs around 0 (default) */
    MX_ADC_UNSIGNED, /* [0, range]: for unipolar currents (offset mapping with a
                        digital reference); negative inputs clip to code 0 */
} mx_adc_polarity;

typedef struct mx_adc_config {
    mx_adc_kind kind;             /* MX_ADC_UNIFORM */
    int bits;                     /* resolution, 1..16 (lloyd-max 1..10, log 2..16 when
                                     signed, sense-amp exactly 1); 8 */
    mx_adc_polarity polarity;     /* MX_ADC_SIGNED (lloyd-max: signed only) */
    mx_adc_range_mode range_mode; /* MX_ADC_RANGE_PERCENTILE */
    double range_percentile;      /* percentile mode: full scale = this percentile of |I|
                                     over the calibration batch, in (0, 100]; 99.9 */
    double log_dynamic_range;     /* log: full scale / lowest magnitude edge, > 1; 1000 */
    double cap_mismatch_sigma;    /* sar: relative σ of one unit capacitor, ≥ 0; 0 */
    double offset_sigma_lsb;      /* sar, sense-amp: comparator offset σ, per instance,
                                     LSB (Δ), ≥ 0; 0 */
    double noise_sigma_lsb;       /* sar, sense-amp: input-referred noise σ, per
                                     conversion, LSB (Δ), ≥ 0; 0 */
    int columns_per_adc;          /* k: columns sharing one ADC, 1..4096; 1 */
    double gain_sigma;            /* any converting kind: relative σ of a per-instance
                                     gain error (reference or input-stage mismatch):
                                     instance i converts g_i·I, g_i = max(0, 1 + σ·ξ_i),
                                     ξ_i from stream "adc.gain", item item_base + i;
                                     [0, 1]; 0 (no gain array, bit-identical) */
} mx_adc_config;

void mx_adc_config_default(mx_adc_config *c);
/* MX_EINVAL naming the field (hardware.adc.bits, hardware.adc.range_percentile,
 * ...) on bad values or a kind/field combination that cannot work. */
mx_status mx_adc_config_validate(const mx_adc_config *c);

/* Where the ADC instances of one array sit and how their draws are keyed.
 * Columns come in `banks` (matmul: one per row tile and slice, then one per
 * row tile for a digital offset's reference columns), each of `columns`
 * columns cut into tiles of `tile_cols`; one ADC serves columns_per_adc
 * adjacent columns of one tile. Instance i of a circuit kind draws its
 * capacitors and offset from stream "adc.instance", item item_base + i. */
typedef struct mx_adc_layout {
    size_t banks;       /* ≥ 1 */
    size_t columns;     /* columns per bank, ≥ 1 */
    size_t tile_cols;   /* columns per tile, ≥ 1 */
    uint64_t seed;      /* root seed of the instance draws */
    uint64_t item_base; /* first stream item */
} mx_adc_layout;

/* What calibration decided for an ADC (plain data; the arrays are the
 * caller's and are copied). */
typedef struct mx_adc_fit {
    double range_a;           /* full scale, A (> 0; lloyd-max: mx_adc_fitted_full_scale) */
    size_t n_levels;          /* lloyd-max: 2^bits fitted levels; 0 otherwise (a
                                 lloyd-max ADC without them starts as the uniform
                                 quantiser of range_a) */
    const double *threshold_a;/* (n_levels − 1) ascending decision thresholds, A */
    const double *level_a;    /* (n_levels) reconstruction levels, A */
} mx_adc_fit;

typedef struct mx_adc {
    mx_adc_kind kind;
    int bits;
    mx_adc_polarity polarity;
    double range_a;           /* full-scale current, A (> 0 once set up) */
    double step_a;            /* Δ (uniform, sar, sense-amp: the LSB), A */
    int32_t code_min, code_max;
    double clip_lo_a, clip_hi_a; /* inputs outside [lo, hi) count as clipped */
    /* lloyd-max, log: code k ↔ index k − code_min */
    double *threshold_a;      /* (n_codes − 1): x ≥ threshold_a[i] ⇔ index > i */
    double *level_a;          /* (n_codes) value of each code, A */
    /* sar, sense-amp */
    double inv_step;          /* 1/Δ, 1/A */
    double noise_lsb;         /* σ of the input-referred noise per conversion, LSB */
    size_t instances;         /* ADCs with their own draws */
    size_t tile_cols, groups_per_tile, per_bank, columns_per_adc;
    double *dac_lsb;          /* (instances, bits): the DAC step of bit i (LSB first),
                                 2^bits·C_i/C_total, in LSB (ideal: 2^i) */
    double *offset_lsb;       /* (instances): comparator offset, LSB */
    void *mem;                /* the one allocation behind the arrays above */
    float *gain;              /* (instances) gain error g_i (gain_sigma > 0), or NULL */
} mx_adc;

/* Set up an ADC for a full-scale range (A): one instance, drawn from seed 0.
 * For uniform and none nothing is allocated (mx_adc_release is optional);
 * the other kinds allocate. MX_EINVAL if range_a is not > 0 and finite or
 * the configuration is bad; MX_ENOMEM. */
mx_status mx_adc_init(mx_adc *adc, const mx_adc_config *c, double range_a);

/* Set up an ADC from a calibration result and a layout (NULL: one
 * instance, seed 0). On success *adc is overwritten without looking at what
 * it held (set up into a fresh struct, then release the old one); on
 * failure *adc is left as it was.
 * MX_EINVAL (bad config, range, levels not ascending and finite, layout
 * with a zero size), MX_ENOMEM. */
mx_status mx_adc_setup(mx_adc *adc, const mx_adc_config *c, const mx_adc_fit *fit,
                       const mx_adc_layout *layout);

/* Free what mx_adc_setup allocated and leave a kind-NONE ADC; NULL-safe. */
void mx_adc_release(mx_adc *adc);

/* Digitise n currents in place: each becomes the value of its code, as
 * instance 0 without noise would digitise it. Returns how many clipped. */
size_t mx_adc_convert(const mx_adc *adc, float *current_a, size_t n);

/* Digitise n currents of one bank in place: current_a[i] is column
 * i·column_stride of bank `bank`, converted by the instance serving it, with
 * one N(0, 1) draw from `rng` per conversion when the kind has
 * input-referred noise (rng NULL: no noise). Returns how many clipped. */
size_t mx_adc_convert_bank(const mx_adc *adc, float *current_a, size_t n, size_t bank,
                           size_t column_stride, mx_rng *rng);

/* One conversion, to the integer code (kind NONE: not meaningful, returns 0). */
int32_t mx_adc_code(const mx_adc *adc, double current_a);
/* One conversion by a given instance, with noise drawn from rng (NULL: none). */
int32_t mx_adc_code_at(const mx_adc *adc, double current_a, size_t instance, mx_rng *rng);
/* The value a code stands for, A. */
double mx_adc_value(const mx_adc *adc, int32_t code);

/* The overload points of a fitted quantiser (thresholds t, levels y, n ≥ 2):
 * lo = y_0 − (t_0 − y_0), hi = y_{n−1} + (y_{n−1} − t_{n−2}), where the
 * outer cell's error outgrows its inner half-width — for the uniform
 * quantiser exactly ±range. OUT lo, hi; returns max(|lo|, |hi|), the full
 * scale a lloyd-max ADC reports. */
double mx_adc_fitted_full_scale(const double *t, const double *y, size_t n, double *lo,
                                double *hi);

/* ---- counts for area, energy and latency models ------------------------------- */

/* ADC instances serving one tile of tile_cols columns: ⌈tile_cols / k⌉. */
size_t mx_adc_instances_per_tile(const mx_adc_config *c, size_t tile_cols);
/* Conversions one ADC does in series per tile read: min(k, tile_cols). The
 * read's ADC latency is this times one conversion time. */
size_t mx_adc_conversions_in_series(const mx_adc_config *c, size_t tile_cols);
/* Comparator decisions per conversion: sar bits (one per bit, MSB first);
 * sense-amp 1; uniform, lloyd-max and log are priced as a binary search over
 * their thresholds, bits decisions; none 0. */
int mx_adc_decisions_per_conversion(const mx_adc_config *c);
/* Instance serving column `column` of bank `bank` (layout of the setup). */
size_t mx_adc_instance(const mx_adc *adc, size_t bank, size_t column);

/* ---- the transfer curve ---------------------------------------------------------- */

/* The ideal (nominal) transfer curve of a scale-family kind (uniform, log,
 * sar, sense-amp) at full scale range_a: OUT threshold_a (2^bits − 1),
 * level_a (2^bits). lloyd-max: the uniform curve it starts from. */
void mx_adc_nominal_curve(const mx_adc_config *c, double range_a, double *threshold_a,
                          double *level_a);

/* Transition levels of one instance without noise: OUT t_a[i] (i = 0 ..
 * n_codes − 2) the smallest input converted to a code above code_min + i, by
 * bisection on the monotone transfer curve to the last double. A missing
 * code has t_a[i] == t_a[i + 1]. */
void mx_adc_transitions(const mx_adc *adc, size_t instance, double *t_a);

/* Static linearity from transition levels (IEEE 1241 terminal-based: the
 * straight line through the first and last transitions removes offset and
 * gain). n_codes ≥ 3, t (n_codes − 1). OUT dnl, inl (n_codes) in LSB:
 * for the inner codes k = 1 .. n_codes − 2, W_k = t[k] − t[k − 1],
 * Δ_avg = (t[n−2] − t[0])/(n − 2), dnl[k] = W_k/Δ_avg − 1; inl[k] =
 * (t[k − 1] − t[0])/Δ_avg − (k − 1) (the deviation of code k's lower
 * transition). The end codes have no width: dnl = inl = 0 there.
 * Returns Δ_avg. */
double mx_adc_linearity(const double *t, size_t n_codes, double *dnl, double *inl);

/* ---- fitting to samples (adc/lloyd_max.c) ---------------------------------------- */

/* A sorted sample of column currents with its prefix sums: what the
 * Lloyd–Max fit and the MSE of any transfer curve need, each cell's count
 * and sum in O(log n). */
typedef struct mx_adc_samples {
    const float *x;   /* (n) ascending */
    size_t n;
    double *prefix;   /* (n + 1): prefix[i] = Σ_{j<i} x[j] */
    double sum_sq;    /* Σ x² */
} mx_adc_samples;

/* Sort x (n ≥ 1, finite) in place and build the prefix sums. MX_EINVAL on
 * n == 0 or a value that is not finite, MX_ENOMEM. */
mx_status mx_adc_samples_prepare(float *x, size_t n, mx_adc_samples *s);
void mx_adc_samples_free(mx_adc_samples *s);
/* Mean squared error of the transfer curve (thresholds t, levels y, n_levels)
 * over the samples: every sample to the level of its cell, clipping
 * included. */
double mx_adc_samples_mse(const mx_adc_samples *s, const double *t, const double *y,
                          size_t n_levels);

typedef struct mx_lloyd_max_info {
    size_t iterations; /* centroid/midpoint rounds done */
    int converged;     /* the stopping rule held before the iteration limit */
    double mse;        /* mean squared error of the result (A², or σ² units) */
} mx_lloyd_max_info;

/* Lloyd–Max on samples: n_levels = 2^bits (1 ≤ bits ≤ 10) levels started
 * from `init` (n_levels ascending levels, e.g. the MSE-optimal uniform
 * quantiser) or, when init is NULL, from the sample quantiles
 * (k + 1/2)/n_levels; then thresholds at midpoints and levels at cell
 * centroids until no threshold moves to another sample (the partition is a
 * fixed point) or the iteration limit. The result's MSE is never above the
 * start's. OUT threshold (n_levels − 1), level (n_levels; may alias init),
 * info (may be NULL). MX_EINVAL on bad bits. */
mx_status mx_adc_lloyd_max_samples(const mx_adc_samples *s, int bits, const double *init,
                                   double *threshold, double *level, mx_lloyd_max_info *info);
/* Lloyd–Max on the standard normal density (the reference of Max 1960),
 * centroids in closed form; stops when no level moves by more than 1e-13. */
mx_status mx_adc_lloyd_max_gaussian(int bits, double *threshold, double *level,
                                    mx_lloyd_max_info *info);

#endif /* MX_ADC_H */
