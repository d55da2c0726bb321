/* SPDX-License-Identifier: MIT
 *
 * mlp.h: the ReLU multilayer perceptron that is trained in C (minibatch
 * Adam or SGD on OpenBLAS SGEMM) and then converted to a spiking network.
 * Layers have no bias: on a crossbar a bias would be one more row driven at
 * every step, and a bias-free 784-H-10 ReLU net reaches the accuracy we need.
 *
 * Noise-aware training (first form): before each minibatch the caller may
 * hand mx_mlp_train_batch a perturbed copy of every weight matrix (drawn from
 * the device variation model); the forward and backward passes then use the
 * perturbed weights while the update is applied to the clean ones
 * (straight-through, as in Joshi et al. 2020).
 */
#ifndef MX_MLP_H
#define MX_MLP_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#define MX_MLP_MAX_LAYERS 8

/* OpenBLAS partitions SGEMM differently at different thread counts, which
 * changes rounding: after one MNIST epoch of the 784-500-10 net the weights
 * differed by up to 1.7e-5 between 1 and 2 threads (measured). Training and
 * every forward pass therefore run BLAS on this many threads, whatever
 * OMP_NUM_THREADS or OPENBLAS_NUM_THREADS say, so a trained network, its
 * conversion and every result after them do not depend on the machine's
 * core count. */
#define MX_MLP_BLAS_THREADS 2

/* Plain data: a network is its sizes and weights. */
typedef struct mx_mlp {
    size_t n_layers;                   /* weight layers */
    size_t sizes[MX_MLP_MAX_LAYERS + 1];/* sizes[0] = inputs, sizes[n_layers] = classes */
    float *w[MX_MLP_MAX_LAYERS];       /* layer l: (sizes[l+1], sizes[l]) row-major */
} mx_mlp;

typedef enum mx_optimizer { MX_OPT_ADAM, MX_OPT_SGD } mx_optimizer;

typedef struct mx_train_config {
    mx_optimizer optimizer; /* MX_OPT_ADAM */
    size_t epochs;          /* passes over the training set; 15 */
    size_t batch_size;      /* examples per minibatch; 128 */
    double learning_rate;   /* Adam step size / SGD rate; 4e-3 */
    double lr_decay;        /* learning rate multiplied by this after each epoch; 0.75 */
    double momentum;        /* SGD momentum; 0.9 */
    double weight_decay;    /* L2 coefficient; 0 */
} mx_train_config;

void mx_train_config_default(mx_train_config *c);
mx_status mx_train_config_validate(const mx_train_config *c);

/* Allocate a network with `n_layers` weight layers of the given sizes
 * (n_layers + 1 entries) and He-uniform initial weights from stream
 * "mlp.init". */
mx_status mx_mlp_create(const size_t *sizes, size_t n_layers, uint64_t seed, mx_mlp **out);
void mx_mlp_destroy(mx_mlp *net);
mx_status mx_mlp_clone(const mx_mlp *src, mx_mlp **out);

/* Training state (optimizer moments, scratch for one minibatch). */
typedef struct mx_mlp_trainer mx_mlp_trainer;

mx_status mx_mlp_trainer_create(const mx_mlp *net, const mx_train_config *cfg,
                                mx_mlp_trainer **out);
void mx_mlp_trainer_destroy(mx_mlp_trainer *tr);

/* One minibatch step. x: (batch, sizes[0]); labels: (batch).
 * w_forward: NULL, or per-layer weights to use in the forward/backward pass
 * instead of net->w (noise-aware training). OUT: loss (mean cross-entropy),
 * may be NULL. Learning rate = cfg rate · decay^epoch (epoch set by
 * mx_mlp_trainer_set_epoch). */
mx_status mx_mlp_train_batch(mx_mlp *net, mx_mlp_trainer *tr, const float *x,
                             const uint8_t *labels, size_t batch,
                             float *const *w_forward, double *loss);
void mx_mlp_trainer_set_epoch(mx_mlp_trainer *tr, size_t epoch);

/* One minibatch step whose forward pass the caller ran elsewhere — on the
 * emulated hardware (hardware-aware training, snn/hwa.h). y[l] (batch,
 * sizes[l+1]), l = 0..n_layers−1: layer l's outputs before the ReLU as the
 * hardware produced them from ReLU(y[l−1]) (from x for l = 0); y[L−1] are
 * the logits. The backward pass is straight-through: each y[l] is taken as
 * W̃_l·input, so dL/dW_l = δ_{l+1}ᵀ·ReLU(y[l−1]) with the layer's actual
 * input, δ_l = (δ_{l+1}·W̃_l) ⊙ [y[l−1] > 0], where W̃_l = w_backward[l]
 * (the chip's weights, snn/hwa.h) or, with w_backward NULL, the clean
 * weights; the update (to net->w) is mx_mlp_train_batch's. With y equal to
 * the float forward pass and w_backward NULL it is the same step. Errors as
 * mx_mlp_train_batch. */
mx_status mx_mlp_train_batch_forwarded(mx_mlp *net, mx_mlp_trainer *tr, const float *x,
                                       const uint8_t *labels, size_t batch,
                                       const float *const *y, const float *const *w_backward,
                                       double *loss);

/* Forward pass of n examples: OUT logits (n, classes). `acts` optional
 * (n_layers - 1 entries, each may be NULL): acts[l - 1] is a buffer
 * (n, sizes[l]) receiving the ReLU activations of hidden layer l
 * (1..n_layers-1). Processes in chunks; allocation free except scratch it
 * makes once per call. */
mx_status mx_mlp_forward(const mx_mlp *net, const float *x, size_t n, float *logits,
                         float *const *acts);

/* Classification accuracy on n examples, in [0, 1]. */
mx_status mx_mlp_accuracy(const mx_mlp *net, const float *x, const uint8_t *labels,
                          size_t n, double *accuracy);

/* The p-th percentile (p in (0, 100]) of the positive entries of every
 * layer's signal on n examples x — the statistic of data-based threshold
 * balancing and of the ANN's DAC full scales. OUT pct (n_layers + 1): pct[0]
 * of the inputs x, pct[l] of hidden layer l's ReLU activations, pct[L] of
 * the logits; 0 where no entry is positive. MX_ENOMEM. */
mx_status mx_mlp_positive_percentiles(const mx_mlp *net, const float *x, size_t n, double p,
                                      double *pct);

#endif /* MX_MLP_H */
