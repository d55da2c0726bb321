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

/* Map W (n_out, n_in) to conductance pairs, program them with the device and
 * map back into w_out (same shape); the crossbar's mapping (largest |w| uses
 * g_max − g_min). Stream "train.noise", item base `item` (one item per row). */
mx_status mx_perturb_weights(const float *w, size_t n_out, size_t n_in,
                             const mx_noise_aware *noise, uint64_t seed, uint64_t item,
                             float *w_out, float *scratch /* (2·n_out·n_in) */);

#endif /* MX_TRAIN_H */
