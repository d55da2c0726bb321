/* SPDX-License-Identifier: MIT
 *
 * cnn.h: a bias-free convolutional ReLU network, trained in C, and its
 * spiking twin by ANN→SNN conversion.
 *
 * The ANN (mx_cnn): an input (C, H, W), then conv blocks — conv(k×k,
 * stride 1, zero padding p, no bias) + ReLU + 2×2 pooling (average or max,
 * stride 2, floor mode) — then dense ReLU layers and a dense output layer to
 * the classes. No bias anywhere (as mx_mlp: on a crossbar a bias would be one
 * more row driven at every step) and no batch norm. The reference is the
 * SpikingJelly ann2snn tutorial's MNIST net, Conv(1→32,3)–ReLU–AvgPool2 ×3 →
 * Linear(32→10), ANN 98.70 % (../shared/research/paper-tables.md §2.1; theirs
 * has biases and batch norm). Training: softmax cross-entropy, minibatch Adam
 * (or SGD) with mlp.h's mx_train_config, convolutions as im2col + OpenBLAS
 * SGEMM (conv.h) on MX_MLP_BLAS_THREADS threads whatever the machine, shuffled
 * epochs from stream "train.shuffle" (item = epoch), He-uniform initial
 * weights from stream "cnn.init" (item = layer).
 *
 * The SNN (mx_cnn_snn): every weight layer becomes a layer of IF (or LIF)
 * neurons with reset by subtraction and threshold 1, one neuron per ReLU
 * output (conv layers: C_out × H_out × W_out neurons, BEFORE pooling).
 * Data-based normalisation (Diehl et al. 2015; Rueckauer et al. 2017): λ_l =
 * the p-th percentile (snn.norm_percentile; 100 = max norm, 99.9 = robust
 * norm) of the positive ReLU outputs of layer l on calibration images (the
 * logits for the output layer), λ_{−1} = 1 for the input, and layer l's
 * weights are scaled by λ_{l−1}/λ_l. Input: snn.encoder current injects
 * the pixel intensity as a constant current every step (SpikingJelly's
 * conversion), bernoulli/poisson send rate-coded spikes.
 *
 * Pooling in the SNN: average pooling is linear, so a 2×2/2 average pool
 * followed by a conv of kernel k, padding p equals ONE conv on the unpooled
 * map of kernel 2k, stride 2, padding 2p with weights W'[o,c,a,b] =
 * W[o,c,⌊a/2⌋,⌊b/2⌋]/4 (the map cropped to the pooled extent first; a dense
 * layer after a pool is folded the same way). The pool is folded into the
 * next layer's weights, so every layer's input stays the binary spike map of
 * the layer before: on the crossbar every layer after the first runs in spike
 * input mode (0/1 rows), at the price of 4× the rows. Max pooling has no such
 * linear form (a spiking max pool needs gating, Rueckauer 2017 §2.4): the
 * conversion refuses it with MX_EINVAL.
 *
 * Every layer l — conv or dense — is then a convolution (a dense layer is
 * one whose kernel covers its whole input: one position): a matrix
 * (C_out, K_l) (mx_cnn_snn_weights) applied to each of P_l im2col patches.
 * On the crossbar each layer is one mx_matmul and each output position one
 * forward call with its patch; a patch with no input (no spike, or all-zero
 * pixels) is not read at all. Read noise comes from stream "crossbar.read"
 * with the example as item, drawn in (step, layer, position) order, so a run
 * is a function of (seed, example) alone.
 */
#ifndef MX_CNN_H
#define MX_CNN_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "crossbar/crossbar.h"
#include "snn/conv.h"
#include "snn/mlp.h"
#include "snn/snn.h"

#define MX_CNN_MAX_CONV 6      /* conv blocks */
#define MX_CNN_MAX_LAYERS 8    /* weight layers in all (= MX_RESULTS_MAX_LAYERS) */
#define MX_CNN_POOL 2          /* pooling window and stride */

/* The architecture's settings (YAML model.conv_*; model.hidden gives the
 * dense hidden layers after the conv stack). */
typedef struct mx_cnn_config {
    size_t n_conv;                         /* conv blocks; 0 (no CNN: the MLP) */
    size_t conv_channels[MX_CNN_MAX_CONV]; /* output channels of each block; [] */
    size_t conv_kernel;                    /* kernel side k; 3 */
    size_t conv_padding;                   /* zero padding on each side; 0 */
    mx_pool_kind pool;                     /* pooling after each conv; MX_POOL_AVG */
} mx_cnn_config;

void mx_cnn_config_default(mx_cnn_config *c);
/* MX_EINVAL naming the field (model.conv_kernel, ...) on bad values. */
mx_status mx_cnn_config_validate(const mx_cnn_config *c);

/* One weight layer of the ANN (plain data). */
typedef struct mx_cnn_layer {
    int conv;          /* 1: conv block (conv + ReLU + pool); 0: dense */
    mx_conv_geom geom; /* conv: geometry on the layer's input map */
    mx_pool_geom pool; /* conv: the pool after it */
    size_t n_out;      /* conv: C_out; dense: outputs */
    size_t n_in;       /* conv: C_in·k·k; dense: inputs */
    float *w;          /* (n_out, n_in) row-major; conv rows are (C_in, k, k) kernels */
} mx_cnn_layer;

typedef struct mx_cnn {
    size_t in_c, in_h, in_w;  /* input shape */
    mx_pool_kind pool;        /* pooling of every conv block */
    size_t n_layers;          /* weight layers (conv blocks, then dense layers) */
    size_t n_conv;            /* of which conv */
    mx_cnn_layer layer[MX_CNN_MAX_LAYERS];
} mx_cnn;

/* Build the network for inputs (in_c, in_h, in_w): cfg's conv blocks, then
 * dense hidden layers hidden[0..n_hidden) and n_classes outputs, He-uniform
 * weights U(±√(6/fan_in)) from stream "cnn.init" (item = layer). MX_EINVAL
 * (bad config, a map too small for a kernel or a pool, too many layers),
 * MX_ENOMEM. */
mx_status mx_cnn_create(const mx_cnn_config *cfg, size_t in_c, size_t in_h, size_t in_w,
                        const size_t *hidden, size_t n_hidden, size_t n_classes, uint64_t seed,
                        mx_cnn **out);
void mx_cnn_destroy(mx_cnn *net);
size_t mx_cnn_input_size(const mx_cnn *net);
size_t mx_cnn_n_classes(const mx_cnn *net);
/* Outputs of layer l's ReLU (conv: C_out·H_out·W_out, before pooling). */
size_t mx_cnn_layer_outputs(const mx_cnn *net, size_t l);

/* Training state: optimizer moments and the buffers of one minibatch. */
typedef struct mx_cnn_trainer mx_cnn_trainer;

mx_status mx_cnn_trainer_create(const mx_cnn *net, const mx_train_config *cfg,
                                mx_cnn_trainer **out);
void mx_cnn_trainer_destroy(mx_cnn_trainer *tr);
/* Loss (mean softmax cross-entropy) and its gradient for one minibatch
 * x (batch, input size), batch ≤ cfg->batch_size; no update. OUT *loss;
 * the gradient of layer l then sits at mx_cnn_trainer_grad(tr, l). */
mx_status mx_cnn_gradient(const mx_cnn *net, mx_cnn_trainer *tr, const float *x,
                          const uint8_t *labels, size_t batch, double *loss);
const float *mx_cnn_trainer_grad(const mx_cnn_trainer *tr, size_t l);
/* One optimizer step on a minibatch (gradient, then Adam/SGD with weight
 * decay at rate lr·decay^epoch). OUT *loss (may be NULL). */
mx_status mx_cnn_train_batch(mx_cnn *net, mx_cnn_trainer *tr, const float *x,
                             const uint8_t *labels, size_t batch, size_t epoch, double *loss);

/* Train for cfg->epochs shuffled epochs (stream "train.shuffle" of seed,
 * item = epoch) with progress through mx_progress(what, ...) and one
 * mx_log line per epoch (loss, training accuracy of the epoch's batches,
 * ETA). OUT *last_epoch_loss (may be NULL). */
mx_status mx_cnn_train(mx_cnn *net, const mx_train_config *cfg, const float *x,
                       const uint8_t *labels, size_t n, uint64_t seed, const char *what,
                       double *last_epoch_loss);

/* Forward pass of n examples (chunked, BLAS on MX_MLP_BLAS_THREADS). OUT
 * logits (n, classes). MX_ENOMEM. */
mx_status mx_cnn_forward(const mx_cnn *net, const float *x, size_t n, float *logits);
/* Classification accuracy on n examples, in [0, 1]. */
mx_status mx_cnn_accuracy(const mx_cnn *net, const float *x, const uint8_t *labels, size_t n,
                          double *accuracy);
/* The p-th percentile (p in (0, 100]) of the positive entries of every
 * layer's signal on n examples: OUT pct (n_layers + 1), pct[0] of the
 * inputs, pct[l + 1] of layer l's ReLU outputs (before pooling; the logits
 * for the last layer); 0 where none is positive. MX_EINVAL, MX_ENOMEM. */
mx_status mx_cnn_positive_percentiles(const mx_cnn *net, const float *x, size_t n, double p,
                                      double *pct);

/* ---- the spiking CNN ---- */

typedef struct mx_cnn_snn mx_cnn_snn;

/* Convert: λ_l from calib_n examples calib_x (calib_n, input size), the
 * average pools folded into the next layer, weights scaled (see the top of
 * this file). MX_EINVAL (max pooling, bad cfg), MX_ENUMERIC (a layer never
 * active on the calibration images), MX_ENOMEM. */
mx_status mx_cnn_snn_from_cnn(const mx_cnn *cnn, const mx_snn_config *cfg, const float *calib_x,
                              size_t calib_n, mx_cnn_snn **out);
void mx_cnn_snn_destroy(mx_cnn_snn *net);

size_t mx_cnn_snn_n_layers(const mx_cnn_snn *net);
const mx_snn_config *mx_cnn_snn_config(const mx_cnn_snn *net);
/* Layer l's scaled (and pool-folded) matrix (n_out, n_in) row-major: the
 * matrix its crossbar holds. */
const float *mx_cnn_snn_weights(const mx_cnn_snn *net, size_t l, size_t *n_out, size_t *n_in);
/* Layer l's geometry on its input map (a dense layer: one position). */
const mx_conv_geom *mx_cnn_snn_geom(const mx_cnn_snn *net, size_t l);
/* Neurons of layer l (n_out × positions). */
size_t mx_cnn_snn_neurons(const mx_cnn_snn *net, size_t l);
/* λ_l of the conversion. */
double mx_cnn_snn_layer_scale(const mx_cnn_snn *net, size_t l);

/* Put layer l on an analog matmul (not owned; NULL = digital). Its shape
 * must be (n_out, n_in) of the layer (MX_EMISMATCH otherwise). */
mx_status mx_cnn_snn_set_backend(mx_cnn_snn *net, size_t l, mx_matmul *mm);
mx_matmul *mx_cnn_snn_backend(const mx_cnn_snn *net, size_t l);
/* Program every layer onto a matmul of its own (layer id l) and make it the
 * backend: layer 0 with DAC input (full scale 1) when the encoder is
 * current, every other layer with xbar as given. OUT mm[0..n_layers) (the
 * caller destroys them); on failure all NULL and the network digital. */
mx_status mx_cnn_snn_program_crossbars(mx_cnn_snn *net, const mx_crossbar_config *xbar,
                                       const mx_device_type *device,
                                       const mx_device_params *device_params,
                                       const mx_adc_config *adc, uint64_t seed,
                                       mx_matmul **mm);

/* Per-thread simulation state. */
typedef struct mx_cnn_snn_state mx_cnn_snn_state;
mx_status mx_cnn_snn_state_create(const mx_cnn_snn *net, mx_cnn_snn_state **out);
void mx_cnn_snn_state_destroy(mx_cnn_snn_state *s);

/* Run one example (input size values in [0, 1]) for cfg->timesteps steps.
 * Streams "snn.encode" and "crossbar.read" of rng_seed, item `item`.
 * OUT pred_per_step (timesteps, may be NULL): the class after each step
 * (most output spikes, ties to the higher membrane potential); *pred the
 * final one. layer_stats (n_layers, may be NULL) are added to; with
 * compare_reference the digital W·x of every analog call is computed too
 * for the error statistics. MX_ENUMERIC on a non-finite current. */
mx_status mx_cnn_snn_run(const mx_cnn_snn *net, mx_cnn_snn_state *s, const float *x,
                         uint64_t rng_seed, uint64_t item, int compare_reference,
                         int *pred_per_step, int *pred, mx_snn_layer_stats *layer_stats);
/* Run one example, offering layer `layer`'s column currents to rec (ADC
 * calibration). MX_EINVAL if the layer has no analog backend. */
mx_status mx_cnn_snn_run_record(const mx_cnn_snn *net, mx_cnn_snn_state *s, const float *x,
                                uint64_t rng_seed, uint64_t item, size_t layer,
                                mx_current_recorder *rec);

#endif /* MX_CNN_H */
