/* SPDX-License-Identifier: MIT
 *
 * snn.h: spiking networks that run on analog matmuls (crossbar/) or on an
 * exact digital matmul (the reference). Neurons are integrate-and-fire (IF)
 * or leaky integrate-and-fire (LIF) with reset by subtraction; inputs are
 * rate-coded pixel intensities (Bernoulli per step); the class is the output
 * neuron with the most spikes (ties broken by membrane potential).
 *
 * A network comes from a trained ReLU MLP (mlp.h) by data-based threshold
 * balancing (Diehl et al. 2015; Rueckauer et al. 2017): with λ_l the p-th
 * percentile of layer l's ReLU activations on training data, W_l is scaled by
 * λ_{l−1}/λ_l and every threshold is 1.
 *
 * Time is stepped explicitly (mx_snn_step); mx_snn_run drives one example
 * through all steps.
 *
 * Readout of an analog layer (mx_snn_set_readout): through the matmul's ADC
 * into a digital neuron (default), or ADC-less — the column current
 * integrates on the membrane capacitor and a comparator with offset and
 * noise fires, so the neuron is the converter (network.c).
 */
#ifndef MX_SNN_H
#define MX_SNN_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "core/rng.h"
#include "crossbar/crossbar.h"
#include "snn/mlp.h"

#define MX_SNN_MAX_LAYERS MX_MLP_MAX_LAYERS

typedef enum mx_neuron_kind { MX_NEURON_IF, MX_NEURON_LIF } mx_neuron_kind;
typedef enum mx_encoder_kind {
    MX_ENCODER_BERNOULLI, /* one spike per step with probability = intensity */
    MX_ENCODER_POISSON,   /* Poisson process at rate intensity·max_rate_hz, dt_s steps:
                             P(spike in a step) = 1 − exp(−rate·dt) */
    MX_ENCODER_CURRENT,   /* no spikes: the intensity itself is injected as a constant
                             input current every step (SpikingJelly's ann2snn). Out
                             values are then analog, so only the CNN conversion
                             (snn/cnn.h) takes it; the MLP conversion is refused by
                             mx_config_validate (experiments/config.c) */
} mx_encoder_kind;

typedef struct mx_snn_config {
    mx_neuron_kind neuron;   /* MX_NEURON_IF */
    size_t timesteps;        /* simulation steps per example; 64 */
    double tau_mem_s;        /* LIF membrane time constant, s; 20e-3 */
    double dt_s;             /* time step, s; 1e-3 */
    mx_encoder_kind encoder; /* MX_ENCODER_BERNOULLI */
    double max_rate_hz;      /* Poisson rate at intensity 1, Hz; 1000 (= 1/dt: one spike a step) */
    double norm_percentile;  /* threshold-balancing percentile of activations, (0, 100]; 99.9 */
} mx_snn_config;

/* How an analog layer's column currents become spikes. */
typedef enum mx_readout_kind {
    MX_READOUT_ADC,       /* the matmul's ADC, then a digital IF/LIF neuron (default) */
    MX_READOUT_INTEGRATE, /* ADC-less: the (noisy, unquantised) column current
                             integrates on the membrane capacitor; a comparator
                             decides the spike; reset by subtraction. The layer's
                             matmul must have an exact ADC (adc.type none) */
} mx_readout_kind;

typedef struct mx_snn_readout_config {
    mx_readout_kind kind;  /* MX_READOUT_ADC */
    double offset_sigma;   /* integrate: comparator offset σ per neuron, drawn once
                              per programmed instance, threshold units; 0 */
    double noise_sigma;    /* integrate: comparator noise σ per decision, threshold
                              units; 0 */
} mx_snn_readout_config;

void mx_snn_readout_config_default(mx_snn_readout_config *c);
/* MX_EINVAL naming the field (hardware.readout.offset_sigma, ...) on bad values. */
mx_status mx_snn_readout_config_validate(const mx_snn_readout_config *c);

void mx_snn_config_default(mx_snn_config *c);
/* MX_EINVAL naming the field (snn.timesteps, ...) on bad values. */
mx_status mx_snn_config_validate(const mx_snn_config *c);

/* ---- neurons (a block of n neurons; v and input in threshold units) ---- */

/* Membrane decay factor per step: exp(−dt/τ) for LIF, 1 for IF. */
double mx_neuron_decay(const mx_snn_config *c);
/* v ← decay·v + input; where v ≥ threshold: spike (out 1) and v −= threshold.
 * Returns the number of spikes. */
size_t mx_neuron_step(size_t n, float *v, const float *input, float decay, float threshold,
                      float *spikes_out);

/* ---- encoder ---- */

/* Spikes for one step: out[i] ∈ {0, 1} (current: out[i] = intensity[i], no
 * draw). rng positioned by the caller. */
void mx_encode_step(const mx_snn_config *c, const float *intensity, size_t n, mx_rng *rng,
                    float *spikes_out);

/* The rate encoders split in two, for a loop over the steps of one example
 * (not for the current encoder): threshold[0..n) once per example, then per
 * step mx_encode_step_thresholds (words: scratch of n) — the same spikes
 * and the same stream position as mx_encode_step. Returns the spike count. */
void mx_encode_thresholds(const mx_snn_config *c, const float *intensity, size_t n,
                          uint64_t *threshold);
size_t mx_encode_step_thresholds(const uint64_t *threshold, size_t n, mx_rng *rng,
                                 uint32_t *words, float *spikes_out);

/* ---- network ---- */

typedef struct mx_snn mx_snn;

/* Convert a trained MLP: threshold balancing from the activations of
 * `calib_n` examples `calib_x` (calib_n, sizes[0]). OUT: the spiking network
 * (digital backend, weights copied and rescaled). */
mx_status mx_snn_from_mlp(const mx_mlp *mlp, const mx_snn_config *cfg, const float *calib_x,
                          size_t calib_n, mx_snn **out);
void mx_snn_destroy(mx_snn *net);

size_t mx_snn_n_layers(const mx_snn *net);
/* Layer l's scaled weights (n_out, n_in) row-major and its sizes. */
const float *mx_snn_weights(const mx_snn *net, size_t layer, size_t *n_out, size_t *n_in);
/* Per-layer normalisation scale λ_l used in the conversion. */
double mx_snn_layer_scale(const mx_snn *net, size_t layer);

/* Put layer `layer` on an analog matmul (not owned; NULL = back to digital). */
mx_status mx_snn_set_backend(mx_snn *net, size_t layer, mx_matmul *mm);

/* Program every layer onto analog matmuls of its own (layer l uses layer id
 * l, so its cells draw from their own streams) and make each the layer's
 * backend. OUT: mm[0..n_layers), which the caller destroys once the network
 * no longer uses them. On failure every mm[l] is NULL and every layer is
 * digital again. */
mx_status mx_snn_program_crossbars(mx_snn *net, const mx_crossbar_config *xbar,
                                   const mx_device_type *device,
                                   const mx_device_params *device_params,
                                   const mx_adc_config *adc, uint64_t seed, mx_matmul **mm);

/* Layer `layer`'s analog matmul, or NULL when it runs digitally. */
mx_matmul *mx_snn_backend(const mx_snn *net, size_t layer);

/* Set the readout of the analog layers. Integrate: every layer with an
 * analog backend must have an exact ADC (MX_EINVAL otherwise, naming the
 * layer); comparator offsets are drawn here, one N(0, offset_sigma²) per
 * neuron from stream "snn.comparator_offset" (item = layer) of `seed` —
 * once per programmed instance, like the cells. Set it after the backends.
 * MX_EINVAL (bad config), MX_ENOMEM; on failure the readout is ADC. */
mx_status mx_snn_set_readout(mx_snn *net, const mx_snn_readout_config *c, uint64_t seed);
const mx_snn_readout_config *mx_snn_get_readout(const mx_snn *net);

/* Firing thresholds (threshold units of the conversion: every threshold is 1
 * after mx_snn_from_mlp). `theta` (n_out of layer `layer`) is copied; NULL
 * restores the all-1 thresholds, under which runs give the very bits they
 * gave before any were set. Hardware re-balancing (calibration/threshold.h)
 * sets them from the crossbars' own responses. MX_EINVAL (layer out of range,
 * a value not finite or not > 0), MX_ENOMEM; on failure the layer's
 * thresholds are left as they were. */
mx_status mx_snn_set_thresholds(mx_snn *net, size_t layer, const float *theta);
/* OUT: theta[0..n_out) layer `layer`'s thresholds (1 where none are set). */
void mx_snn_get_thresholds(const mx_snn *net, size_t layer, float *theta);

/* Per-thread simulation state. */
typedef struct mx_snn_state mx_snn_state;
mx_status mx_snn_state_create(const mx_snn *net, mx_snn_state **out);
void mx_snn_state_destroy(mx_snn_state *s);

/* Statistics a run accumulates, per layer (plain data, caller-owned arrays). */
typedef struct mx_snn_layer_stats {
    double err_sq_sum;   /* Σ (y_analog − W·x)² over outputs and steps */
    double ref_sq_sum;   /* Σ (W·x)² */
    double err_sum;      /* Σ (y_analog − W·x) (bias) */
    uint64_t n_values;   /* outputs × steps summed over */
    uint64_t spikes;     /* spikes emitted by the layer */
    uint64_t neuron_updates; /* digital neuron updates (neurons × steps) */
    uint64_t decisions;  /* comparator decisions of the ADC-less readout */
    mx_matmul_stats mm;  /* crossbar activity: ADC conversions and clips, reads, row
                            drives, partial sums, read power */
} mx_snn_layer_stats;

/* Run one example through all time steps. intensity: (sizes[0]) in [0,1].
 * rng_seed/item key this example's encoder ("snn.encode"), read-noise
 * ("crossbar.read") and comparator-noise ("snn.comparator") streams. OUT: pred_per_step[t] = predicted class after
 * step t (length timesteps; may be NULL); returns the final prediction in
 * *pred. layer_stats (n_layers entries, may be NULL) are added to; with
 * compare_reference set, the digital W·x is computed alongside each analog
 * layer to measure its error. */
mx_status mx_snn_run(const mx_snn *net, mx_snn_state *s, const float *intensity,
                     uint64_t rng_seed, uint64_t item, int compare_reference,
                     int *pred_per_step, int *pred, mx_snn_layer_stats *layer_stats);

/* Record the analog column currents of layer `layer` while running example
 * `intensity` (for ADC range calibration). */
mx_status mx_snn_run_record(const mx_snn *net, mx_snn_state *s, const float *intensity,
                            uint64_t rng_seed, uint64_t item, size_t layer,
                            mx_current_recorder *rec);

/* Run example `intensity` through layers 0..n_run−1 only (the rest are not
 * simulated; same streams and arithmetic as mx_snn_run, so layer l's
 * currents are those a full run sees) and add each neuron's input current
 * summed over the time steps to current_sum[l] (n_out of layer l; entries
 * NULL are not summed), in threshold units per step — for threshold
 * re-balancing (calibration/threshold.h). layer_stats (n_run entries, may be
 * NULL) are added to. MX_EINVAL if n_run is 0 or > n_layers. */
mx_status mx_snn_run_currents(const mx_snn *net, mx_snn_state *s, const float *intensity,
                              uint64_t rng_seed, uint64_t item, size_t n_run,
                              double *const *current_sum, mx_snn_layer_stats *layer_stats);

const mx_snn_config *mx_snn_get_config(const mx_snn *net);

#endif /* MX_SNN_H */
