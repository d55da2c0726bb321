/* SPDX-License-Identifier: MIT
 *
 * train.h: the training loop around mx_mlp_train_batch — shuffled epochs and
 * noise-aware training. Noise-aware training perturbs every weight matrix at
 * every minibatch with the device model itself: the weights are mapped to
 * differential conductance pairs exactly as the crossbar maps them, the
 * device programs every cell (its device-to-device variation, programming
 * noise, levels and stuck-at faults) and the conductances are mapped back
 * to weights, which the forward and backward pass then use (straight-through:
 * the update goes to the clean weights). So "σ" means the same thing in
 * training as on the emulated hardware.
 */
#ifndef MX_TRAIN_H
#define MX_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "devices/devices.h"
#include "snn/hwa.h"
#include "snn/mlp.h"

typedef struct mx_noise_aware {
    const mx_device_type *device;  /* model that perturbs the weights */
    mx_device_params params;       /* its parameters (d2d_sigma = training σ) */
} mx_noise_aware;

/* Train `net` for `epochs` passes over (x, labels): x (n, dim) row-major.
 * Each epoch visits the examples in an order drawn from stream
 * "train.shuffle" (item = first_epoch + epoch); the learning rate follows
 * cfg (decay counted from epoch first_epoch). noise: NULL for plain
 * training. Progress is reported as mx_progress(what, batches done, total).
 * OUT: *last_epoch_loss (mean loss of the final epoch; may be NULL). */
mx_status mx_train(mx_mlp *net, const mx_train_config *cfg, size_t first_epoch, size_t epochs,
                   const float *x, const uint8_t *labels, size_t n, uint64_t seed,
                   const mx_noise_aware *noise, const char *what, double *last_epoch_loss);

/* Hardware-aware training, the full form (snn/hwa.h): every layer's forward
 * pass runs through the emulated hardware — DAC-driven rows at a per-layer
 * full scale, the device's cells (a new chip instance every
 * reprogram_every minibatches), read noise, IR drop when the crossbar has
 * wires, the ADC fitted on the first minibatch after each programming — and
 * the gradients flow in float, straight through (mx_mlp_train_batch_forwarded). */
/* Which weights the backward pass of hardware-aware training multiplies by. */
typedef enum mx_hwa_backward {
    MX_HWA_BACKWARD_CHIP,  /* the programmed chip's weights W̃ (device error exact in
                              the gradient; ADC, read noise, IR drop straight
                              through), as noise-aware training and aihwkit do */
    MX_HWA_BACKWARD_CLEAN, /* the clean W (every non-ideality straight through) */
} mx_hwa_backward;

typedef struct mx_hardware_aware {
    mx_hwa_config hw;        /* the hardware of every layer (xbar.input: DAC,
                                bit-serial or PWM; spikes cannot carry an activation) */
    size_t reprogram_every;  /* minibatches per chip instance, >= 1; 1 */
    mx_hwa_backward backward;/* MX_HWA_BACKWARD_CHIP */
    double input_percentile; /* DAC full scale of layer l = this percentile of the
                                positive entries of its input on the calibration
                                examples, recomputed at every epoch, (0, 100]; 99.9 */
    size_t calib_examples;   /* the first this many training examples give those
                                percentiles, >= 1; 1000 */
} mx_hardware_aware;

void mx_hardware_aware_default(mx_hardware_aware *h);
/* MX_EINVAL naming the field (training.hwa_reprogram_every, hardware.*). */
mx_status mx_hardware_aware_validate(const mx_hardware_aware *h);

/* mx_train with every forward pass on the emulated hardware (see above).
 * Minibatch b of epoch e is global step s = e·n_batches + b; at every s
 * divisible by reprogram_every all layers are programmed with the current
 * weights as chip instance s (mx_hwa_layer_program(.., seed, s)); row i of
 * step s reads with noise item s·batch_size + i. Shuffling as mx_train.
 * Errors as mx_train and mx_hwa_layer_*. */
mx_status mx_train_hardware_aware(mx_mlp *net, const mx_train_config *cfg, size_t first_epoch,
                                  size_t epochs, const float *x, const uint8_t *labels, size_t n,
                                  uint64_t seed, const mx_hardware_aware *hwa, const char *what,
                                  double *last_epoch_loss);

/* Map W (n_out, n_in) to conductance pairs, program them with the device and
 * map back into w_out (same shape); the crossbar's mapping (largest |w| uses
 * g_max − g_min). Stream "train.noise", item base `item` (one item per row). */
mx_status mx_perturb_weights(const float *w, size_t n_out, size_t n_in,
                             const mx_noise_aware *noise, uint64_t seed, uint64_t item,
                             float *w_out, float *scratch /* (2·n_out·n_in) */);

#endif /* MX_TRAIN_H */
