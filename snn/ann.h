/* SPDX-License-Identifier: MIT
 *
 * ann.h: the trained ReLU MLP itself (mlp.h) run on analog matmuls — the
 * non-spiking twin of the converted SNN (snn.h), so both can be priced on
 * the same crossbar. One forward pass per example:
 *
 *   x_0 = the image ──► layer l: y_l ≈ W_l·x_l on its matmul (rows driven by
 *   the crossbar's DAC, bit-serial passes or PWM, |x| full scale λ_l; ADC per
 *   tile column) ──► x_{l+1} = ReLU(y_l), digitally ──► … ──► argmax of the
 *   last layer's y (the logits).
 *
 * The weights are the MLP's as trained; a layer's input full scale λ_l is
 * the p-th percentile of the positive entries of its input on a calibration
 * batch (the statistic threshold balancing uses for the SNN, snn/network.c):
 * inputs above λ_l clip at the DAC's full scale, the rest are quantised to
 * its levels. Each matmul maps |W_l|'s maximum to the full conductance window,
 * exactly as the SNN's rescaled W_l (a per-layer constant factor), so with
 * the same seed and layer ids the ANN and the SNN program identical cells.
 * Spike input (hardware.crossbar.input: spikes) is binary and cannot carry an
 * activation: programming refuses it.
 */
#ifndef MX_ANN_H
#define MX_ANN_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "core/rng.h"
#include "crossbar/crossbar.h"
#include "snn/mlp.h"

#define MX_ANN_MAX_LAYERS MX_MLP_MAX_LAYERS

typedef struct mx_ann mx_ann;

/* The network of `mlp` (weights copied) with every layer's input full scale
 * λ_l = the `percentile`-th percentile, (0, 100], of the positive entries of
 * its input over `calib_n` examples calib_x (calib_n, sizes[0]). Every layer
 * starts digital (exact float W·x). MX_EINVAL (no examples, bad percentile),
 * MX_ENUMERIC (a layer's input is never positive on the batch), MX_ENOMEM. */
mx_status mx_ann_from_mlp(const mx_mlp *mlp, const float *calib_x, size_t calib_n,
                          double percentile, mx_ann **out);
void mx_ann_destroy(mx_ann *net);

size_t mx_ann_n_layers(const mx_ann *net);
/* Layer l's weights (n_out, n_in) row-major and its sizes (either may be NULL). */
const float *mx_ann_weights(const mx_ann *net, size_t layer, size_t *n_out, size_t *n_in);
/* λ_l: the |x| that layer l's input drive maps to the read voltage. */
double mx_ann_input_full_scale(const mx_ann *net, size_t layer);

/* Program every layer onto a matmul of its own — `xbar` with
 * input_full_scale = λ_l, layer id l, so its cells draw from the streams of
 * the SNN's layer l — and make each the layer's backend. OUT: mm[0..n_layers)
 * for the caller to destroy once the network no longer uses them. MX_EINVAL
 * naming hardware.crossbar.input when xbar->input is spikes, and whatever
 * mx_matmul_create fails with; on failure every mm[l] is NULL and every
 * layer digital again. */
mx_status mx_ann_program_crossbars(mx_ann *net, const mx_crossbar_config *xbar,
                                   const mx_device_type *device,
                                   const mx_device_params *device_params,
                                   const mx_adc_config *adc, uint64_t seed, mx_matmul **mm);
/* Put layer `layer` on an analog matmul (not owned; NULL = back to digital).
 * MX_EINVAL (no such layer), MX_EMISMATCH (shape). */
mx_status mx_ann_set_backend(mx_ann *net, size_t layer, mx_matmul *mm);
/* Layer `layer`'s matmul, or NULL when it runs digitally. */
mx_matmul *mx_ann_backend(const mx_ann *net, size_t layer);

/* Per-thread scratch for runs. */
typedef struct mx_ann_state mx_ann_state;
mx_status mx_ann_state_create(const mx_ann *net, mx_ann_state **out);
void mx_ann_state_destroy(mx_ann_state *s);

/* What a run did, per layer (plain data; added to by runs). */
typedef struct mx_ann_layer_stats {
    double err_sq_sum;     /* Σ (y_analog − W·x)² over outputs (x: the layer's actual input) */
    double ref_sq_sum;     /* Σ (W·x)² */
    double err_sum;        /* Σ (y_analog − W·x) (bias) */
    uint64_t n_values;     /* outputs summed over */
    uint64_t activations;  /* digital activation operations: one per output (ReLU on a
                              hidden layer, one compare of the argmax on the last) */
    uint64_t nonzero;      /* outputs > 0 (after ReLU: the next layer's driven rows) */
    mx_matmul_stats mm;    /* crossbar activity: reads, drives, conversions, read power */
} mx_ann_layer_stats;

/* One example x (sizes[0]) through every layer. rng_seed/item key the
 * read-noise stream ("crossbar.read", the SNN's: one item per example).
 * OUT: logits (sizes[n_layers]; may be NULL), *pred = the argmax (ties to the
 * lowest class, as mx_mlp_accuracy). layer_stats (n_layers entries, may be
 * NULL) are added to; with compare_reference set, the exact W·x of each
 * analog layer's input is computed alongside to measure its error.
 * MX_ENUMERIC if an output is not finite; MX_ENOMEM on a first run's scratch. */
mx_status mx_ann_run(const mx_ann *net, mx_ann_state *s, const float *x, uint64_t rng_seed,
                     uint64_t item, int compare_reference, float *logits, int *pred,
                     mx_ann_layer_stats *layer_stats);

/* Run example x up to layer `layer` (an analog one, MX_EINVAL otherwise),
 * recording its column currents before the ADC (for ADC calibration). */
mx_status mx_ann_run_record(const mx_ann *net, mx_ann_state *s, const float *x,
                            uint64_t rng_seed, uint64_t item, size_t layer,
                            mx_current_recorder *rec);

#endif /* MX_ANN_H */
