/* SPDX-License-Identifier: MIT
 *
 * surrogate_run.h: one `experiment: surrogate` sweep point (experiments/
 * method.h) — a spiking network trained with surrogate gradients
 * (snn/surrogate.h), or loaded from the training cache, programmed onto the
 * point's crossbar and evaluated there and on the exact digital path.
 *
 * Cache: <cache_dir>/surrogate-<hash>.h5 in the weights format of
 * experiments/weights.h (the network is an mx_mlp of bias-free dense
 * layers), plus a group /surrogate_conv with the conv blocks' unrolled
 * kernels when surrogate.conv_channels is set (surrogate_run.c); the key holds every setting that shapes training (dataset,
 * seed, surrogate.*, and for weight-noise / hardware-aware training the
 * device, crossbar and ADC fields the training saw).
 */
#ifndef MX_SURROGATE_RUN_H
#define MX_SURROGATE_RUN_H

#include "core/core.h"
#include "experiments/method.h"
#include "snn/surrogate.h"

/* The method point (mx_method_point_fn). MX_EINVAL (readout integrate, a
 * dataset the encoding cannot use, more layers than results hold),
 * MX_ENOMEM, MX_EIO (cache), MX_ENUMERIC (training diverged, a layer drew
 * no current during ADC calibration). */
mx_status mx_surrogate_point_run(const mx_experiment_config *pc, const mx_method_ctx *ctx,
                                 mx_method_point *out);

/* The trained network of pc (from the cache or trained now, then cached;
 * training draws from train_seed). OUT: *cv (the conv blocks of
 * surrogate.conv_channels, NULL without; caller destroys), *net, *seconds
 * (training time, 0 when loaded), *trained. */
mx_status mx_surrogate_get_network(const mx_experiment_config *pc, const mx_method_ctx *ctx,
                                   mx_surrogate_conv **cv, mx_mlp **net, double *seconds,
                                   int *trained);

#endif /* MX_SURROGATE_RUN_H */
