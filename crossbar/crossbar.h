/* SPDX-License-Identifier: MIT
 *
 * crossbar.h: the analog dot-product engine. An mx_matmul holds a real
 * weight matrix programmed into crossbar tiles of memristive cells and
 * computes y ≈ W·x through every non-ideality on the way:
 *
 *   weights ──map──► differential pairs G+ − G− (largest |w| of the layer uses
 *   the full window g_max − g_min) ──program (devices/)──► tiles of
 *   tile_rows × tile_cols cells ──row voltages (DAC or binary spikes at the
 *   read voltage)──► Ohm/Kirchhoff column currents with read noise, the pair
 *   subtracted in analog ──ADC (adc/) per tile column──► partial sums added
 *   digitally across row tiles ──÷ scale──► y in weight units.
 *
 * Wires are ideal in this version (no IR drop); see docs/crossbar.md.
 */
#ifndef MX_CROSSBAR_H
#define MX_CROSSBAR_H

#include <stddef.h>
#include <stdint.h>

#include "adc/adc.h"
#include "core/core.h"
#include "core/rng.h"
#include "devices/devices.h"

typedef enum mx_input_mode {
    MX_INPUT_DAC,    /* x quantised by a dac_bits DAC to a voltage in [-V_read, V_read] */
    MX_INPUT_SPIKES, /* x ∈ {0, 1}: a spike drives its row at V_read (event-driven) */
} mx_input_mode;

typedef enum mx_noise_mode {
    MX_NOISE_OUTPUT_REFERRED, /* per-cell Gaussian read noise summed exactly in
                                 distribution: one N(0, σ_r²·Σ_j V_j²(G+_ij² + G−_ij²))
                                 draw per column (default) */
    MX_NOISE_PER_CELL,        /* every cell read with its own draw (reference) */
} mx_noise_mode;

typedef struct mx_crossbar_config {
    size_t tile_rows;        /* rows (inputs) per tile; 128 */
    size_t tile_cols;        /* columns (output pairs) per tile; 128 */
    double read_voltage_v;   /* read voltage (full-scale DAC output, spike amplitude), V; 0.2 */
    mx_input_mode input;     /* MX_INPUT_SPIKES for SNN layers, MX_INPUT_DAC otherwise */
    int dac_bits;            /* DAC resolution incl. sign, 1..16, or 0 = exact voltages; 8 */
    double input_full_scale; /* |x| that maps to V_read in DAC mode; 1.0 */
    mx_noise_mode noise;     /* MX_NOISE_OUTPUT_REFERRED */
} mx_crossbar_config;

void mx_crossbar_config_default(mx_crossbar_config *c);
/* MX_EINVAL naming the field (crossbar.tile_rows, ...) on bad values. */
mx_status mx_crossbar_config_validate(const mx_crossbar_config *c);

/* How the weights are mapped to conductances (plain data; see mx_matmul_mapping). */
typedef struct mx_mapping {
    double w_abs_max;       /* largest |w| of the matrix (maps to g_max − g_min) */
    double siemens_per_unit;/* (g_max − g_min) / w_abs_max, S per weight unit */
} mx_mapping;

/* Running statistics of analog matmul calls (add to by forward calls). */
typedef struct mx_matmul_stats {
    uint64_t conversions;   /* ADC conversions done */
    uint64_t clipped;       /* of which clipped at full scale */
    uint64_t reads;         /* tile reads (one per active row tile per call) */
} mx_matmul_stats;

typedef struct mx_matmul mx_matmul;
typedef struct mx_matmul_work mx_matmul_work;

/* Map W (n_out, n_in) row-major onto differential pairs and program every cell
 * with `device` (stream "device.program", item = layer_id·2^32 + input row).
 * The ADC starts uncalibrated: call mx_matmul_set_adc_range() (or
 * calibration/) before forward calls when adc->kind != MX_ADC_NONE.
 * Fails with MX_EINVAL (bad config, or W not finite), MX_ENOMEM. */
mx_status mx_matmul_create(const float *w, size_t n_out, size_t n_in,
                           const mx_crossbar_config *xbar, const mx_device_type *device,
                           const mx_device_params *device_params, const mx_adc_config *adc,
                           uint64_t seed, uint32_t layer_id, mx_matmul **out);
void mx_matmul_destroy(mx_matmul *mm);

size_t mx_matmul_n_in(const mx_matmul *mm);
size_t mx_matmul_n_out(const mx_matmul *mm);
size_t mx_matmul_n_row_tiles(const mx_matmul *mm);
mx_mapping mx_matmul_mapping(const mx_matmul *mm);
const mx_crossbar_config *mx_matmul_config(const mx_matmul *mm);

/* The programmed conductances, (n_in, n_out) row-major, siemens: OUT g_pos,
 * g_neg (either may be NULL). */
void mx_matmul_conductances(const mx_matmul *mm, const float **g_pos, const float **g_neg);

/* Full-scale current of every column ADC, A. MX_EINVAL if not > 0. */
mx_status mx_matmul_set_adc_range(mx_matmul *mm, double range_a);
double mx_matmul_adc_range(const mx_matmul *mm);

/* Per-thread scratch for forward calls. */
mx_status mx_matmul_work_create(const mx_matmul *mm, mx_matmul_work **out);
void mx_matmul_work_destroy(mx_matmul_work *w);

/* Optional recorder of the analog column currents before the ADC (for ADC
 * range calibration): every `stride`-th active tile column current (A) is
 * appended to values while count < capacity (stride 0 or 1: all). */
typedef struct mx_current_recorder {
    float *values;
    size_t capacity;
    size_t count;
    size_t stride;
    size_t seen;     /* currents offered so far */
} mx_current_recorder;

/* y ≈ W·x. x: (n_in), y: OUT (n_out), in weight units. `read_rng` supplies
 * this read's noise (the caller positions it: one stream item per
 * image/time step keeps results independent of threading). `stats` and
 * `rec` may be NULL. In spike mode x must hold only 0 and 1. */
void mx_matmul_forward(const mx_matmul *mm, mx_matmul_work *w, const float *x, float *y,
                       mx_rng *read_rng, mx_matmul_stats *stats, mx_current_recorder *rec);

/* The plain reference twin of mx_matmul_forward: dense loops, per-cell read
 * noise through the device's read function, no event skipping. Same
 * distribution; with no read noise, the same values to rounding. */
void mx_matmul_forward_reference(const mx_matmul *mm, mx_matmul_work *w, const float *x,
                                 float *y, mx_rng *read_rng, mx_matmul_stats *stats);

#endif /* MX_CROSSBAR_H */
