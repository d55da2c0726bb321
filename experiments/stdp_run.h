/* SPDX-License-Identifier: MIT
 *
 * stdp_run.h: one `experiment: stdp` sweep point (method.h). The Diehl &
 * Cook network (snn/stdp.h) is trained unsupervised on the training split
 * with ctx->train_seed, its neurons labelled from their frozen responses to
 * the first stdp.label_examples TRAINING examples, and the result cached in
 * HDF5; then its input→excitatory weights (n_exc × 784, non-negative) are
 * programmed on one mx_matmul with the point's hardware (layer id 0, spike
 * input), the ADC calibrated from the column currents of ctx->n_calib
 * training examples, and the first ctx->n_test test examples run on the
 * crossbar (each step's input spikes read through the array give the
 * excitatory conductance increments; neurons and lateral inhibition stay
 * digital) and on the exact digital path with the same input spikes.
 *
 * Cache file <cache_dir>/stdp-<hash>.h5, keyed by seed, dataset.name,
 * dataset.train_limit, every stdp.* field but progress_every, and — for
 * device and stochastic-binary synapses, whose training is the device's —
 * every hardware.device.* field:
 *
 *   /            attrs: format "memxbar-stdp", format_version 1, key (the
 *                training key text, checked on load), synapse, n_in, n_exc,
 *                n_classes
 *   /weights     float32 (n_exc, n_in): neuron j's input weights, [0, w_max]
 *   /theta_v     float32 (n_exc): adaptive thresholds, V
 *   /gain        float32 (n_exc): digital drive gain (1 except stochastic-binary)
 *   /labels      int32 (n_exc): assigned classes
 *   /proportions float32 (n_exc, n_classes): only with stdp.readout proportion
 */
#ifndef MX_STDP_RUN_H
#define MX_STDP_RUN_H

#include "core/core.h"
#include "experiments/config.h"
#include "experiments/method.h"
#include "snn/stdp.h"

/* The point function of experiment: stdp (method.h). MX_EINVAL (a readout
 * other than adc, a device the synapse kind cannot use), MX_ENOMEM, MX_EIO,
 * and what training, calibration and evaluation return. */
mx_status mx_stdp_point_run(const mx_experiment_config *pc, const mx_method_ctx *ctx,
                            mx_method_point *out);

/* Save / load a trained network (layout above). Load checks the key and
 * shapes: MX_EMISMATCH when they differ, MX_ENOTFOUND when there is no
 * file. */
mx_status mx_stdp_save(const char *path, mx_stdp *net, const char *key);
mx_status mx_stdp_load(const char *path, mx_stdp *net, const char *key);

#endif /* MX_STDP_RUN_H */
