/* SPDX-License-Identifier: MIT
 *
 * online_run.h: the online-training experiment (`experiment: online-training`),
 * NeuroSim style: at every sweep point a two-layer perceptron is trained in
 * situ, its weight updates sent to the device cells as pulse trains
 * (snn/online.h), and its test accuracy measured after every epoch; with
 * online.baseline the same algorithm on ideal float weights runs once per
 * repeat as the software reference. Results go to HDF5 (layout below),
 * written as <path>.partial and renamed when complete.
 *
 *   /                      attrs: memxbar_version, git_describe, root_seed,
 *                          config (YAML text), config_source, created, status
 *                          ("incomplete" → "complete"), experiment
 *                          ("online-training"), n_points, repeats, epochs,
 *                          images_per_epoch, n_train, n_test, n_inputs
 *   /summary               compound rows, one per run in the order run:
 *                          point (int64, −1 = the digital baseline), repeat,
 *                          label (preset, model or "digital"), swept,
 *                          accuracy, neurosim_accuracy (NaN when none),
 *                          pulses, train_seconds
 *   /points/<k>/<r>/       one sweep point and repeat; /baseline/<r>/ the
 *                          digital reference. attrs: label, swept,
 *                          device_type, device_preset, weights, accuracy,
 *                          neurosim_accuracy, pulses, states_ltp, states_ltd,
 *                          train_seconds; datasets (epochs): test_accuracy,
 *                          train_accuracy (on the examples of that epoch,
 *                          before each one's update), pulses (uint64, applied
 *                          in that epoch)
 *
 * Randomness: the device population, the initial weights, the examples drawn
 * ("online.sample", item = epoch), reads and pulses all depend on (seed,
 * repeat) and not on the sweep point, so every preset of a repeat starts
 * from the same weights and sees the same example order (common random
 * numbers); results are identical at any thread count.
 */
#ifndef MX_ONLINE_RUN_H
#define MX_ONLINE_RUN_H

#include <stddef.h>

#include "core/core.h"
#include "experiments/config.h"
#include "experiments/experiments.h"

/* The point index of the digital baseline's rows. */
#define MX_ONLINE_BASELINE ((size_t)-1)

typedef struct mx_online_row {
    size_t point, repeat;     /* point = MX_ONLINE_BASELINE for the digital reference */
    char label[MX_CONFIG_NAME_BYTES]; /* preset name, device model, or "digital" */
    char swept[256];          /* "preset=ag-si" */
    double accuracy;          /* test accuracy after the last epoch, [0, 1] */
    double neurosim_accuracy; /* the preset's published NeuroSim V3.0 accuracy; NaN if none */
    double pulses;            /* pulses applied, Σ|n| over the whole training */
    double seconds;           /* wall time of training and evaluation */
} mx_online_row;

typedef struct mx_online_report {
    size_t n_rows;
    mx_online_row *rows;      /* owned; free with mx_online_report_free */
    size_t n_train, n_test, n_inputs, epochs, images_per_epoch;
    double seconds_total;
} mx_online_report;

/* Run the online-training sweep of cfg (cfg->experiment must be
 * MX_EXPERIMENT_ONLINE): the baseline (with online.baseline) and every
 * sweep point, for every repeat. opt->cache_dir is unused. OUT: report (may
 * be NULL). Fails with MX_EINVAL for a bad config (every point is resolved
 * and checked first), the dataset's and the results file's errors, and
 * MX_EINTERRUPT after mx_experiment_request_stop(); the runs finished by
 * then stay in <output>.partial. */
mx_status mx_online_run(const mx_experiment_config *cfg, const mx_run_options *opt,
                        mx_online_report *report);
void mx_online_report_free(mx_online_report *r);

#endif /* MX_ONLINE_RUN_H */
