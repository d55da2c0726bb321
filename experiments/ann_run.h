/* SPDX-License-Identifier: MIT
 *
 * ann_run.h: one sweep point of `model.run_as: ann` — the trained MLP itself
 * on the crossbar (snn/ann.h) instead of its converted SNN:
 *
 *   input full scales (the snn.norm_percentile of each layer's input on the
 *   calibration images) ──► program one mx_matmul per layer (the SNN's
 *   device, mapping, ADC, wires and seeds) ──► calibrate the ADCs layer by
 *   layer (calibration/, as the SNN) ──► one forward pass per test image
 *   (OpenMP over images, read noise keyed by the image) ──► accuracy, per-layer
 *   error on the first images, energy/latency/area per inference (energy/)
 *
 * It fills the same mx_point_result the SNN point writes (results.h), so
 * both land in one /summary: accuracy is the hardware ANN's, timesteps 1,
 * accuracy_snn_digital NaN, layer_spike_rate the fraction of outputs > 0.
 */
#ifndef MX_ANN_RUN_H
#define MX_ANN_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "energy/energy.h"
#include "experiments/config.h"
#include "experiments/dataset.h"
#include "experiments/results.h"
#include "snn/mlp.h"

/* What one ANN point measured: the result with the per-layer arrays it
 * points into (so not to be copied; pass it by pointer). */
typedef struct mx_ann_point {
    mx_point_result pr; /* n_test, accuracy, adc_clip_rate, energy_j, latency_s, area_mm2,
                           timesteps 1 and every layer array set; point, repeat,
                           accuracy_ann and eval_seconds left for the caller;
                           accuracy_snn_digital NaN */
    double accuracy_vs_step[1];
    double rel_rms[MX_RESULTS_MAX_LAYERS], mean_err[MX_RESULTS_MAX_LAYERS],
        clip[MX_RESULTS_MAX_LAYERS], range_a[MX_RESULTS_MAX_LAYERS],
        activity[MX_RESULTS_MAX_LAYERS];
    double e_parts[MX_RESULTS_MAX_LAYERS * MX_ENERGY_N_COMPONENTS],
        e_layer[MX_RESULTS_MAX_LAYERS], latency[MX_RESULTS_MAX_LAYERS],
        area[MX_RESULTS_MAX_LAYERS];
} mx_ann_point;

/* Run `mlp` as an ANN on the hardware of point config `pc`: input full
 * scales and ADC ranges from the first n_calib examples of `calib` (their
 * read-noise items from calib_item_base on), then the first n_test examples
 * of `test` (items 0..n_test−1), the per-layer error on the first
 * compare_images of them. Cells and ADC instances draw from hw_seed, reads
 * from eval_seed. `what` labels the progress. OUT: *out. MX_EINVAL (spike
 * input, the ADC-less readout, a layer count above MX_RESULTS_MAX_LAYERS),
 * and whatever programming, calibration or a run fails with. */
mx_status mx_ann_point_run(const mx_mlp *mlp, const mx_experiment_config *pc,
                           const mx_dataset *calib, size_t n_calib, const mx_dataset *test,
                           size_t n_test, uint64_t hw_seed, uint64_t eval_seed,
                           uint64_t calib_item_base, size_t compare_images, const char *what,
                           mx_ann_point *out);

#endif /* MX_ANN_RUN_H */
