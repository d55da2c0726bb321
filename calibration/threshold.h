/* SPDX-License-Identifier: MIT
 *
 * threshold.h: SNN threshold re-balancing on hardware (issue 7, item 6).
 * The conversion (snn/network.c) balances every layer's thresholds on the
 * digital network's activations; once the layers are programmed onto
 * crossbars (and their ADCs calibrated), systematic gains of the hardware —
 * IR drop, a device window off its nominal one, device variation — shift
 * every layer's input currents and so its firing rates. Re-balancing runs a
 * calibration batch through the hardware SNN, measures each layer's input
 * currents with the conversion's statistic, and scales the layer's firing
 * thresholds so that statistic over the threshold is what the digital
 * network has, layer by layer (threshold.c has the model).
 */
#ifndef MX_CALIBRATION_THRESHOLD_H
#define MX_CALIBRATION_THRESHOLD_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "snn/snn.h"

typedef enum mx_rebalance_mode {
    MX_REBALANCE_NONE,   /* thresholds stay those of the conversion (default) */
    MX_REBALANCE_LAYER,  /* one factor per layer: all its neurons' thresholds alike */
    MX_REBALANCE_NEURON, /* one factor per neuron */
} mx_rebalance_mode;

/* YAML snn.threshold_rebalance, snn.threshold_rebalance_images. */
typedef struct mx_rebalance_config {
    mx_rebalance_mode mode; /* MX_REBALANCE_NONE */
    size_t images;          /* calibration images run through the hardware (at most the
                               training set), 1..10^6; 100 */
} mx_rebalance_config;

void mx_rebalance_config_default(mx_rebalance_config *c);
/* MX_EINVAL naming the field (snn.threshold_rebalance, ...) on bad values. */
mx_status mx_rebalance_config_validate(const mx_rebalance_config *c);
/* "none", "layer", "neuron" (NULL for an unknown mode). */
const char *mx_rebalance_mode_name(mx_rebalance_mode m);

/* What a re-balancing did (plain data). */
typedef struct mx_rebalance_report {
    size_t n_layers;
    size_t examples;        /* calibration examples n */
    size_t passes;          /* example passes on the hardware: n per re-balanced layer,
                               the pass for layer l running layers 0..l only */
    double stat_digital[MX_SNN_MAX_LAYERS];  /* layer statistic S_l of the digital network
                                                (threshold 1), threshold units */
    double stat_hardware[MX_SNN_MAX_LAYERS]; /* the hardware's, before layer l's thresholds
                                                were set (layers < l re-balanced) */
    double theta_mean[MX_SNN_MAX_LAYERS];    /* mean threshold of layer l afterwards */
    double theta_min[MX_SNN_MAX_LAYERS], theta_max[MX_SNN_MAX_LAYERS];
    size_t neurons_fallback[MX_SNN_MAX_LAYERS]; /* neuron mode: neurons given the layer
                                                   factor (no positive current) */
    mx_snn_layer_stats stats[MX_SNN_MAX_LAYERS]; /* hardware activity of all the passes,
                                                    per layer (what energy/ prices) */
} mx_rebalance_report;

/* Re-balance the thresholds of every analog layer of `net` (backends set,
 * ADCs calibrated) from `n` calibration examples x (n, n_in) in [0, 1]:
 * thresholds are first reset to 1; one digital pass (every layer on the
 * exact matmul) measures S_l^dig for every layer; then layer by layer, a
 * hardware pass of layers 0..l (layers < l already re-balanced) measures
 * S_l^hw and sets θ_l = S_l^hw / S_l^dig (per layer, or per neuron by
 * c->mode). Digital layers keep threshold 1. The statistic is the
 * conversion's: the snn.norm_percentile-th percentile of the positive
 * per-example mean input currents (threshold.c). Streams: seed, items
 * item_base + i (keep them apart from the evaluation's), the same for the
 * digital and the hardware passes, so both see the same input spikes.
 * Results do not depend on the thread count. Mode none: nothing is done
 * (report zeroed). MX_EINVAL (bad config, n == 0), MX_ENUMERIC (a layer sees
 * no positive current on the digital network or the hardware), MX_ENOMEM;
 * on failure every threshold is 1 again. OUT: *report (may be NULL). */
mx_status mx_rebalance_thresholds(mx_snn *net, const mx_rebalance_config *c, const float *x,
                                  size_t n, size_t n_in, uint64_t seed, uint64_t item_base,
                                  mx_rebalance_report *report);

/* The p-th percentile (p in (0, 100]) of the positive entries of a[0..n)
 * with the stride `stride` (a[0], a[stride], ...), GSL's quantile (linear
 * between ranks) — the statistic of the conversion's balancing (snn/mlp.c);
 * 0 if none is positive. `scratch` holds n doubles. */
double mx_positive_percentile(const double *a, size_t n, size_t stride, double p,
                              double *scratch);

#endif /* MX_CALIBRATION_THRESHOLD_H */
