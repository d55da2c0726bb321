/* SPDX-License-Identifier: MIT
 *
 * surrogate.h: spiking networks trained directly with surrogate gradients
 * through time (BPTT), the `experiment: surrogate` method. Layers are dense,
 * bias-free (on a crossbar a bias would be one more row driven at every step)
 * and held in an mx_mlp, so experiments/weights.h stores them.
 *
 * Neuron of layer l, per step t (threshold θ = 1, snnTorch's Leaky/Synaptic):
 *
 *   syn[t] = α·syn[t−1] + W·s_in[t]                (α = 0: syn[t] = W·s_in[t])
 *   v[t]   = β·v[t−1] + syn[t] − θ·S[t−1]          (reset by subtraction), or
 *   v[t]   = (β·v[t−1] + syn[t])·(1 − S[t−1])      (reset to zero)
 *   S[t]   = H(v[t] − θ)
 *
 * The reset term S[t−1] is detached from the gradient (snnTorch's
 * reset_mechanism with detached reset; SpyTorch's `rst = out.detach()`).
 * Backward, H′ is replaced by a surrogate derivative of u = v − θ:
 *
 *   fast sigmoid: ∂S/∂u ≈ 1/(1 + k·|u|)²            (Zenke & Ganguli 2018,
 *                 SuperSpike; SpyTorch uses k = 100, snnTorch's
 *                 surrogate.fast_sigmoid slope k = 25, our default)
 *   arctan:       ∂S/∂u ≈ (α_s/2)/(1 + (π/2·α_s·u)²) (Fang et al. 2021;
 *                 snnTorch's surrogate.atan default α_s = 2)
 *
 * Output layer and loss (surrogate.output):
 *   membrane-sum: a spiking LIF layer; loss = Σ_t CE(softmax(v_out[t]), y)
 *                 (snnTorch tutorial 5); prediction = most output spikes,
 *                 ties broken by the larger membrane at the last step.
 *   max-membrane: a non-spiking leaky integrator; loss = CE(softmax(max_t
 *                 v_out[t]), y) (SpyTorch tutorial 2); prediction = argmax of
 *                 max_t v_out[t].
 *
 * Input encodings (surrogate.encoding), x in [0, 1]:
 *   current: the image is the input current of every step (snnTorch tut. 5);
 *   rate:    s[t] ~ Bernoulli(x) per step, stream "surrogate.encode", one
 *            item per example (and epoch while training);
 *   latency: one spike per pixel at t = ⌊τ_eff·ln(x/(x − θ_lat))⌋ for
 *            x > θ_lat, none otherwise or when t ≥ T (SpyTorch tutorial 2's
 *            current2firing_time: τ_eff = 20 ms / 1 ms = 20 steps, θ_lat =
 *            0.2);
 *   events:  the dataset already holds `frames` frames of dim/frames event
 *            counts per example; a count > 0 is a spike in that step, and
 *            the network runs one step per frame.
 *
 * Minibatches run time-major: the inputs of a layer for all T steps of B
 * examples are one (T·B, n_in) matrix, so every layer's forward, input
 * gradient and weight gradient are one cblas SGEMM each (the neuron
 * recursion runs between them); a constant `current` input is multiplied
 * once per example, and a sparse spike input of layer 0 (latency: at most
 * one spike per pixel) is scattered over its non-zero entries only. BLAS runs on MX_MLP_BLAS_THREADS threads whatever the
 * environment says, and every reduction has a fixed order, so training is
 * bit-identical at any OMP_NUM_THREADS.
 *
 * Optimiser: Adam (Kingma & Ba 2015), constant learning rate, ε = 1e−8.
 */
#ifndef MX_SURROGATE_H
#define MX_SURROGATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "devices/devices.h"
#include "snn/conv.h"
#include "snn/mlp.h"
#include "snn/train.h"

#define MX_SURROGATE_MAX_HIDDEN (MX_MLP_MAX_LAYERS - 1)
/* Convolutional blocks in front of the dense layers (surrogate.conv_channels). */
#define MX_SURROGATE_MAX_CONV 4
/* Spike threshold θ of every layer (the weights carry the scale). */
#define MX_SURROGATE_THRESHOLD 1.0

typedef enum mx_surrogate_fn {
    MX_SURROGATE_FAST_SIGMOID, /* 1/(1 + k|u|)² */
    MX_SURROGATE_ARCTAN,       /* (α/2)/(1 + (π/2·α·u)²) */
} mx_surrogate_fn;

typedef enum mx_surrogate_reset {
    MX_SURROGATE_RESET_SUBTRACT, /* v −= θ after a spike (default) */
    MX_SURROGATE_RESET_ZERO,     /* v = 0 after a spike */
} mx_surrogate_reset;

typedef enum mx_surrogate_encoding {
    MX_SURROGATE_CURRENT, /* constant input current */
    MX_SURROGATE_RATE,    /* Bernoulli spikes, p = intensity */
    MX_SURROGATE_LATENCY, /* one spike per pixel, time to first spike */
    MX_SURROGATE_EVENTS,  /* the dataset's own frames of events */
} mx_surrogate_encoding;

typedef enum mx_surrogate_output {
    MX_SURROGATE_MEMBRANE_SUM, /* spiking output, CE of the membrane summed over steps */
    MX_SURROGATE_MAX_MEMBRANE, /* non-spiking output, CE of the max over time */
} mx_surrogate_output;

typedef enum mx_surrogate_training {
    MX_SURROGATE_PLAIN,          /* float weights */
    MX_SURROGATE_WEIGHT_NOISE,   /* every minibatch: weights perturbed by the device model
                                    (snn/train.h mx_perturb_weights) in forward and
                                    backward, update to the clean weights */
    MX_SURROGATE_HARDWARE_AWARE, /* every layer's forward through the emulated crossbar
                                    (snn/hwa.h), gradients in float (straight-through) */
} mx_surrogate_training;

typedef struct mx_surrogate_config {
    size_t n_hidden;                        /* hidden layers; 1 */
    size_t hidden[MX_SURROGATE_MAX_HIDDEN]; /* their widths; {1000} */
    size_t timesteps;            /* steps per example (events: the dataset's frames); 25 */
    double beta;                 /* membrane decay per step, exp(−dt/τ_mem); 0.95 */
    double alpha;                /* synaptic current decay per step, exp(−dt/τ_syn);
                                    0 = no synaptic current (I = W·s); 0 */
    mx_surrogate_reset reset;    /* MX_SURROGATE_RESET_SUBTRACT */
    mx_surrogate_fn surrogate;   /* MX_SURROGATE_ARCTAN */
    double slope;                /* k (fast sigmoid) or α (arctan); 0 = the function's
                                    default (25, 2); 0 */
    mx_surrogate_encoding encoding; /* MX_SURROGATE_CURRENT */
    double latency_tau_steps;    /* latency: τ_eff in steps; 20 */
    double latency_threshold;    /* latency: θ_lat, intensity; 0.2 */
    mx_surrogate_output output;  /* MX_SURROGATE_MEMBRANE_SUM */
    double init_gain;            /* weights U(−g/√fan_in, g/√fan_in) (PyTorch nn.Linear
                                    with g = 1); 1 */
    size_t epochs;               /* 1 */
    size_t batch_size;           /* 128 */
    double learning_rate;        /* Adam step size; 5e-4 */
    double adam_beta1;           /* 0.9 */
    double adam_beta2;           /* 0.999 */
    mx_surrogate_training training; /* MX_SURROGATE_PLAIN */
    double noise_sigma;          /* weight-noise / hardware-aware: device d2d σ used in
                                    training; < 0 = the evaluated device's; -1 */
    size_t n_conv;               /* convolutional blocks before the dense layers; 0 */
    size_t conv_channels[MX_SURROGATE_MAX_CONV]; /* their output channels; [] */
    size_t conv_kernel;          /* k of every k×k kernel (stride 1); 3 */
    size_t conv_padding;         /* zeros on each side of every conv input; 1 */
    mx_pool_kind pool;           /* 2×2 pooling of each block's spikes; MX_POOL_AVG */
    int relaxed_forward;         /* tests only (no YAML field): the training forward
                                    emits S = 1/2 + F(v − θ), F the primitive of the
                                    surrogate (u/(1 + k|u|), or arctan(π/2·α·u)/π), to
                                    the next layer and the loss, while the reset keeps
                                    the hard H(v − θ) (piecewise constant: "detached"),
                                    so BPTT is the exact gradient wherever no membrane
                                    crosses θ and can be checked by finite differences; 0 */
} mx_surrogate_config;

void mx_surrogate_config_default(mx_surrogate_config *c);
/* MX_EINVAL naming the field ("surrogate.timesteps: expected ..."). */
mx_status mx_surrogate_config_validate(const mx_surrogate_config *c);

/* The slope in use (c->slope, or the function's default when 0). */
double mx_surrogate_slope(const mx_surrogate_config *c);
/* ∂S/∂u of function `fn` with slope `slope` at u = v − θ. */
double mx_surrogate_derivative(mx_surrogate_fn fn, double slope, double u);

/* Time steps and inputs per step of the network for examples of `dim`
 * values: events (frames > 0) give frames steps of dim/frames inputs;
 * otherwise c->timesteps steps of dim inputs. MX_EINVAL when the encoding
 * and frames disagree (events needs frames > 0 dividing dim; the others
 * need frames == 0). */
mx_status mx_surrogate_shape(const mx_surrogate_config *c, size_t dim, size_t frames,
                             size_t *steps, size_t *n_in);

/* Encode one example x (dim values) into its spikes or currents, OUT s
 * (steps, n_in) row-major (mx_surrogate_shape). rate draws from stream
 * "surrogate.encode" item `item` of `seed`. */
void mx_surrogate_encode(const mx_surrogate_config *c, const float *x, size_t dim,
                         size_t frames, uint64_t seed, uint64_t item, float *s);
/* Latency encoding of one intensity: the spike step, or −1 for none. */
long mx_surrogate_latency_step(double x, double tau_steps, double threshold, size_t steps);

/* One step of n neurons: syn, v, s (n each) are the state, updated in place
 * from z = W·s_in of this step. `spiking` 0: a non-spiking leaky output
 * (no reset, s left 0). The same code serves training and every evaluation. */
void mx_surrogate_neuron_step(const mx_surrogate_config *c, int spiking, size_t n,
                              const float *z, float *syn, float *v, float *s);

/* Create the network for a dataset of n_in inputs per step and `classes`
 * classes: sizes n_in, c->hidden..., classes with weights from stream
 * "surrogate.init" (one item per layer). MX_EINVAL, MX_ENOMEM. */
mx_status mx_surrogate_create(const mx_surrogate_config *c, size_t n_in, size_t classes,
                              uint64_t seed, mx_mlp **out);

/* ---- convolutional blocks (surrogate.conv_channels) ----
 *
 * Block j: conv k×k, stride 1, padding p (snn/conv.h, im2col) of its input
 * map (C_in, H, W) → LIF neurons (C_out, H', W') with the dynamics above →
 * 2×2 pooling, stride 2, of their spike maps. avg: the pooled value (0,
 * 1/4, ..., 1) is the next layer's input for that step (a fractional
 * "current", as the avg-pooled spikes of Lee et al. 2020 / SpikingJelly's
 * AvgPool2d on spikes); max: the OR of the 4 spikes (a spike). The last
 * pooled map, flattened (C, H, W), is the dense network's input per step.
 * The conv weights are bias-free like the dense ones. */
typedef struct mx_surrogate_conv {
    size_t n_conv;
    mx_conv_geom geom[MX_SURROGATE_MAX_CONV];  /* conv of block j */
    mx_pool_geom pgeom[MX_SURROGATE_MAX_CONV]; /* its pooling */
    size_t c_out[MX_SURROGATE_MAX_CONV];
    mx_pool_kind pool;
    float *w[MX_SURROGATE_MAX_CONV];           /* (C_out, C_in·k·k), mx_alloc'd */
    size_t n_in, n_out;                        /* C·H·W of the input / of the last pool */
} mx_surrogate_conv;

/* Blocks of c for input maps (channels, height, width), weights from stream
 * "surrogate.conv_init" item j, U(±g/√(C_in·k·k)). MX_EINVAL naming
 * surrogate.conv_* when a map gets too small; MX_ENOMEM. */
mx_status mx_surrogate_conv_create(const mx_surrogate_config *c, size_t channels,
                                   size_t height, size_t width, uint64_t seed,
                                   mx_surrogate_conv **out);
void mx_surrogate_conv_destroy(mx_surrogate_conv *cv);

/* ---- training ---- */

typedef struct mx_surrogate_trainer mx_surrogate_trainer;

/* Hardware-aware forward: one callback per layer computing Z (rows, n_out)
 * ≈ W·X for X (rows, n_in) on the emulated hardware (training.hardware-
 * aware; NULL otherwise). item0 numbers the rows for read-noise streams. */
typedef mx_status (*mx_surrogate_layer_fwd)(void *user, size_t layer, const float *x,
                                            size_t rows, uint64_t item0, float *z);

/* State for minibatches of at most batch_max examples of `steps` steps.
 * MX_EINVAL, MX_ENOMEM. */
mx_status mx_surrogate_trainer_create(const mx_mlp *net, const mx_surrogate_config *c,
                                      size_t steps, size_t batch_max,
                                      mx_surrogate_trainer **out);
void mx_surrogate_trainer_destroy(mx_surrogate_trainer *tr);
/* The same with conv blocks cv in front of net (cv->n_out == net->sizes[0];
 * cv NULL: mx_surrogate_trainer_create). The trainer keeps cv: loss_grad
 * then takes images (cv->n_in per step) and Adam updates cv's weights too.
 * Only exact forwards (no w_fwd, no hw). */
mx_status mx_surrogate_trainer_create_conv(mx_surrogate_conv *cv, const mx_mlp *net,
                                           const mx_surrogate_config *c, size_t steps,
                                           size_t batch_max, mx_surrogate_trainer **out);
/* ∂L/∂W of conv block j from the last mx_surrogate_loss_grad, (C_out, C_in·k·k). */
const float *mx_surrogate_trainer_conv_grad(const mx_surrogate_trainer *tr, size_t j);

/* Loss and gradient of one minibatch, no update. in: (steps·B, n_in)
 * time-major (row t·B + b), or with `constant` (current encoding) (B, n_in)
 * used at every step. w_fwd: per-layer weights for forward and backward
 * (NULL: net->w). hw / hw_user: hardware-aware forward (NULL: exact SGEMM);
 * its backward is straight-through with w_fwd. OUT: grad[l] (sizes[l+1],
 * sizes[l]) per layer (may be NULL: not computed), *loss (mean over the
 * batch), *correct (training predictions right; may be NULL). */
mx_status mx_surrogate_loss_grad(const mx_mlp *net, mx_surrogate_trainer *tr, const float *in,
                                 int constant, const uint8_t *labels, size_t batch,
                                 float *const *w_fwd, mx_surrogate_layer_fwd hw, void *hw_user,
                                 uint64_t hw_item0, float *const *grad, double *loss,
                                 size_t *correct);

/* One Adam step on net from the gradient the last mx_surrogate_loss_grad
 * left in the trainer. */
void mx_surrogate_adam_step(mx_mlp *net, mx_surrogate_trainer *tr);

/* Weight noise for training.weight-noise (NULL for none) and the
 * hardware-aware forward (NULL for none). */
typedef struct mx_surrogate_train_hooks {
    const mx_noise_aware *noise;  /* snn/train.h */
    mx_surrogate_layer_fwd hw;    /* hardware-aware forward */
    void *hw_user;
    /* Called before each minibatch with its global index (reprogram the
     * emulated hardware, ...); may be NULL. */
    mx_status (*before_batch)(void *user, const mx_mlp *net, uint64_t batch_index);
} mx_surrogate_train_hooks;

/* Train net for c->epochs on x (n, dim) with `frames` (0: static images):
 * shuffled from stream "surrogate.shuffle" (item epoch), encoded from
 * "surrogate.encode" (item epoch·2^32 + example). Progress through
 * mx_progress(what, ...) and one mx_log line per epoch (loss, training
 * accuracy, time, ETA). hooks may be NULL. OUT: *final_loss, *train_acc
 * (last epoch; may be NULL). */
mx_status mx_surrogate_train(mx_mlp *net, const mx_surrogate_config *c, const float *x,
                             const uint8_t *labels, size_t n, size_t dim, size_t frames,
                             uint64_t seed, const mx_surrogate_train_hooks *hooks,
                             const char *what, double *final_loss, double *train_acc);

/* mx_surrogate_train with conv blocks cv in front of net (NULL: none;
 * hooks must then be NULL or empty). */
mx_status mx_surrogate_train_conv(mx_surrogate_conv *cv, mx_mlp *net,
                                  const mx_surrogate_config *c, const float *x,
                                  const uint8_t *labels, size_t n, size_t dim, size_t frames,
                                  uint64_t seed, const mx_surrogate_train_hooks *hooks,
                                  const char *what, double *final_loss, double *train_acc);

/* Exact digital inference of n examples x (n, dim), encoded with `seed`,
 * item item0 + i. OUT: pred (n, steps): the class predicted from steps
 * 0..t (spike counts / max membrane so far), for accuracy against time. */
mx_status mx_surrogate_predict(const mx_mlp *net, const mx_surrogate_config *c, const float *x,
                               size_t n, size_t dim, size_t frames, uint64_t seed,
                               uint64_t item0, int *pred);

/* mx_surrogate_predict with conv blocks cv in front of net (NULL: none). */
mx_status mx_surrogate_predict_conv(const mx_surrogate_conv *cv, const mx_mlp *net,
                                    const mx_surrogate_config *c, const float *x, size_t n,
                                    size_t dim, size_t frames, uint64_t seed, uint64_t item0,
                                    int *pred);

/* The class from output state: spike counts (membrane-sum; ties by v) or the
 * running max of the membrane (max-membrane). counts and vmax have `classes`
 * entries. */
int mx_surrogate_decide(const mx_surrogate_config *c, const float *counts, const float *v,
                        const float *vmax, size_t classes);

#endif /* MX_SURROGATE_H */
