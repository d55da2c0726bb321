/* SPDX-License-Identifier: MIT
 *
 * cnn_run.h: one sweep point of the CNN conversion (experiment conversion
 * with model.conv_channels set; snn/cnn.h):
 *
 *   the trained CNN (HDF5 cache under the run's cache folder, keyed by every
 *   field that shapes training, or trained now) ──► its ANN accuracy on the
 *   test images ──► conversion with snn.* (norm percentile, encoder, steps)
 *   ──► the digital spiking CNN on the test images ──► one mx_matmul per
 *   layer on the point's hardware (layer 0 DAC-driven with the current
 *   encoder, spikes elsewhere) ──► ADC ranges layer by layer from recorded
 *   column currents (hardware.adc.range_percentile) ──► the spiking CNN on
 *   the crossbar ──► accuracy, accuracy vs step, per-layer errors and
 *   activity, energy/latency/area (energy/).
 *
 * Cache file layout (HDF5, written via <path>.tmp + rename):
 *   /                   attrs: format = "memxbar-cnn-weights", format_version = 1,
 *                       key (string: the training key; a hit needs an equal key),
 *                       n_layers (uint64), input_shape (uint64 C, H, W),
 *                       ann_test_accuracy (float64, may be absent)
 *   /layers/<l>/weight  float32 (n_out, n_in) row-major; conv layers (C_out,
 *                       C_in·k·k) with each row a (C_in, k, k) kernel
 * The architecture itself comes from the config (model.*), which the key
 * holds; the loader checks every weight shape against it.
 */
#ifndef MX_CNN_RUN_H
#define MX_CNN_RUN_H

#include "core/core.h"
#include "experiments/method.h"
#include "snn/cnn.h"

/* The point function of method.h. MX_EINVAL for settings the CNN path does
 * not take (hardware.readout.kind integrate, training.mode noise-aware,
 * model.pool max, event data), and whatever training, programming,
 * calibration or a run fails with. */
mx_status mx_cnn_point_run(const mx_experiment_config *pc, const mx_method_ctx *ctx,
                           mx_method_point *out);

/* Write / read a CNN's weights in the layout above. Load: `net` must already
 * have the architecture (mx_cnn_create); MX_EMISMATCH when the key differs
 * from expected_key (non-NULL), MX_EFORMAT on a bad file or shape, MX_EIO. */
mx_status mx_cnn_weights_save(const char *path, const mx_cnn *net, const char *key,
                              double ann_test_accuracy);
mx_status mx_cnn_weights_load(const char *path, const char *expected_key, mx_cnn *net);

#endif /* MX_CNN_RUN_H */
