/* SPDX-License-Identifier: MIT
 *
 * hwa.h: hardware-aware training, the full form — the forward pass of a
 * layer runs through the emulated analog hardware while its gradients flow
 * in float (Joshi et al. 2020, Nat. Commun. 11:2473; Rasch et al. 2023,
 * Nat. Commun. 14:5282; ../shared/research/paper-tables.md §6):
 *
 *   W (clean, float) ──program (mx_hwa_layer_program, draw d: a new chip
 *   instance — device-to-device variation, programming noise, levels,
 *   stuck cells; effective conductances with IR drop when the crossbar
 *   config has wires)──► mx_matmul ──forward (read noise, DAC, ADC whose
 *   full scale is calibrated on the first batch after each programming)──►
 *   y ≈ W·x
 *
 *   backward (the caller's): straight-through estimator — y is treated as
 *   W̃·x, dL/dx = W̃ᵀ·dL/dy and dL/dW = dL/dy·xᵀ with the layer's actual
 *   input x, where W̃ is either the chip's weights (mx_hwa_layer_chip_weights:
 *   the device error seen exactly, the ADC's rounding and clipping, the read
 *   noise and the IR drop passed straight through) or the clean W (every
 *   non-ideality straight through).
 *
 * So unlike plain weight-noise injection (snn/train.h mx_perturb_weights,
 * training.mode: noise-aware), the network sees every systematic error of
 * the forward path — ADC quantisation and clipping, IR drop, the DAC — not
 * only a random perturbation of W.
 *
 * A layer is an opaque handle holding one mx_matmul (replaced by every
 * programming), its per-thread workspaces and the ADC calibration state.
 * Streams: the chip instance of draw d uses seed' = the first 64 bits of
 * stream "hwa.program" (item d) of `seed`, and mx_matmul_create's own
 * streams ("device.program", item layer_id·2^32 + row; "adc.instance")
 * under seed'. Read noise of example i of a forward call: stream
 * "hwa.read", item layer_id·2^40 + item0 + i, so layers do not share
 * draws. Results do not depend on the thread count.
 *
 * Layering note: the layer calibrates its ADC with calibration/'s
 * mx_adc_fit_currents (the same fit the sweep uses), one library.
 */
#ifndef MX_HWA_H
#define MX_HWA_H

#include <stddef.h>
#include <stdint.h>

#include "adc/adc.h"
#include "core/core.h"
#include "crossbar/crossbar.h"
#include "devices/devices.h"

/* What the emulated hardware of one layer is (plain data). */
typedef struct mx_hwa_config {
    mx_crossbar_config xbar;        /* tiles, read voltage, input drive (DAC, bit-serial,
                                       PWM or spikes), mapping, wires; input_full_scale
                                       is the default |x| full scale of every layer
                                       (mx_hwa_layer_set_input_full_scale overrides it) */
    const mx_device_type *device;   /* cell model; NULL = mx_device_lookup("reram") */
    mx_device_params device_params; /* its parameters (d2d_sigma, read_noise_sigma, ...) */
    mx_adc_config adc;              /* column ADC; kind none = exact currents */
    double adc_percentile;          /* ADC full scale = this percentile of |I| over the
                                       first batch after each programming, (0, 100];
                                       < 0 = adc.range_percentile; -1 */
} mx_hwa_config;

/* Defaults: crossbar, device params and ADC defaults, DAC input, reram,
 * adc_percentile −1. */
void mx_hwa_config_default(mx_hwa_config *c);
/* MX_EINVAL naming the field (hardware.crossbar.*, hardware.device.*,
 * hardware.adc.*, training.hwa_adc_percentile). */
mx_status mx_hwa_config_validate(const mx_hwa_config *c);

typedef struct mx_hwa_layer mx_hwa_layer;

/* A layer of n_out outputs and n_in inputs with layer id `layer_id` (keys
 * its cells' streams). Nothing is programmed yet. MX_EINVAL (bad config,
 * zero size), MX_ENOMEM. On failure *out is NULL. */
mx_status mx_hwa_layer_create(const mx_hwa_config *cfg, size_t n_out, size_t n_in,
                              uint32_t layer_id, mx_hwa_layer **out);
void mx_hwa_layer_destroy(mx_hwa_layer *h);

/* |x| that drives a row at the read voltage (DAC, bit-serial, PWM), > 0;
 * takes effect at the next mx_hwa_layer_program. MX_EINVAL. */
mx_status mx_hwa_layer_set_input_full_scale(mx_hwa_layer *h, double full_scale);

/* Program W (n_out, n_in) row-major onto a fresh mx_matmul: chip instance
 * `draw` (the same (seed, draw) reprograms the same cells; another draw is
 * another chip). The ADC is marked uncalibrated: the next forward call
 * calibrates it on its batch. Fails as mx_matmul_create (MX_EINVAL: W not
 * finite; MX_ENOMEM); on failure the layer keeps no matmul. */
mx_status mx_hwa_layer_program(mx_hwa_layer *h, const float *w, uint64_t seed, uint64_t draw);

/* y (n, n_out) ≈ W·x for rows x (n, n_in) through the programmed matmul,
 * read noise of row i from item item0 + i of `seed` (see above). The first
 * call after a programming first profiles the column currents of its rows
 * and fits the ADC (the configured percentile). Rows run on the OpenMP
 * threads, each with its layer-owned workspace; no allocation per row
 * (the calibration's sample buffer is allocated once per programming).
 * MX_EINVAL (not programmed, n == 0), MX_ENUMERIC (the calibration batch
 * drove no current), MX_ENOMEM. */
mx_status mx_hwa_layer_forward(mx_hwa_layer *h, const float *x, size_t n, uint64_t seed,
                               uint64_t item0, float *y);

/* The weights the programmed chip holds, W̃ (n_out, n_in) row-major into
 * w_out: the programmed conductances mapped back by the matmul's mapping —
 * differential (G+ − G−)/s, offset (G − G_ref)/s, bit-sliced
 * Σ_s 2^(b·s)(G+_s − G−_s)/s, s = siemens_per_unit — so device-to-device
 * variation, programming noise, levels and stuck cells are in it; read
 * noise, DAC, ADC and IR drop are not (they act on currents). For a
 * backward pass through the chip's weights (Joshi et al. 2020 and aihwkit
 * use the perturbed weights in forward and backward alike). MX_EINVAL
 * before the first programming. */
mx_status mx_hwa_layer_chip_weights(const mx_hwa_layer *h, float *w_out);

/* The programmed matmul (NULL before the first programming), e.g. for
 * stats or conductances; owned by the layer, replaced by the next program. */
const mx_matmul *mx_hwa_layer_matmul(const mx_hwa_layer *h);
/* The ADC full scale fitted after the last programming, A (0: not yet, or
 * no ADC). */
double mx_hwa_layer_adc_range(const mx_hwa_layer *h);

#endif /* MX_HWA_H */
