/* SPDX-License-Identifier: MIT
 *
 * results.h: sweep results in HDF5 (layout in docs/results-format.md).
 *
 *   /                 attrs: memxbar_version, git_describe, root_seed, config
 *                     (full YAML text), resolved_config and fingerprint (the
 *                     sweep's identity, checked on resume), config_source,
 *                     created, status
 *                     ("incomplete" until the sweep finishes, then "complete"),
 *                     n_points, repeats
 *   /summary          compound table, one row per (sweep point, repeat): point,
 *                     repeat, each swept field (float64, or a string for
 *                     choices) and the metrics — pandas/h5py read it in one call
 *   /points/<k>/<r>/  attrs: swept values; datasets: accuracy_vs_step,
 *                     per-layer error and ADC statistics, per-layer energy per
 *                     component, latency and area
 *
 * The file is written as <path>.partial and renamed to <path> when the sweep
 * completes, so a file at <path> is always complete; every point is flushed
 * as it finishes.
 */
#ifndef MX_RESULTS_H
#define MX_RESULTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "energy/energy.h"
#include "experiments/config.h"
#include "snn/mlp.h"

#define MX_RESULTS_MAX_LAYERS MX_MLP_MAX_LAYERS

/* What one (sweep point, repeat) measured. Plain data owned by the caller. */
typedef struct mx_point_result {
    size_t point;                 /* sweep point index */
    size_t repeat;                /* repeat index */
    size_t n_test;                /* test examples evaluated */
    double accuracy;              /* the network (SNN, or ANN with model.run_as ann) on the
                                     emulated crossbar, [0, 1] */
    double accuracy_snn_digital;  /* same SNN on the exact digital matmul; NaN for an ANN */
    double accuracy_ann;          /* the trained ANN */
    double adc_clip_rate;         /* clipped / all ADC conversions, all layers */
    double eval_seconds;          /* wall time of this point's evaluation */
    double energy_j;              /* energy per inference, all layers and components, J */
    double latency_s;             /* latency per inference, all layers in sequence, s */
    double area_mm2;              /* ADCs and arrays of all layers, mm² */
    /* Programming the point's layers (hardware.programming; summed over the
     * layers by mx_method_programming_cost). Open loop: cells_verified 0 and
     * the write-verify cost columns NaN (its single write is not priced). */
    size_t program_cells_verified;    /* cells write-verified */
    double program_converged_fraction;/* of them, retired within tolerance */
    double program_pulses;            /* write-verify pulses, both polarities */
    double program_verify_reads;      /* verify reads */
    double program_time_s;            /* serial programming time (one cell at a time), s */
    double program_energy_j;          /* pulse and verify-read energy, J */
    double program_rms_error;         /* RMS (g − target)/(g_max − g_min) over every
                                         programmed cell, right after programming
                                         (before ageing); both modes */
    /* Fault-aware mapping (hardware.fault_mapping; summed over the layers by
     * mx_method_programming_cost). Mode none: all NaN. */
    double fault_stuck_cells;         /* cells the test found stuck, low and high */
    double fault_test_reads;          /* test reads (2 per tested cell; as many writes) */
    double fault_spare_cells;         /* cells of the spare columns */
    double fault_moved;               /* logical rows and columns moved by the layout */
    double fault_time_s;              /* test time, one cell at a time, s */
    double fault_energy_j;            /* test write and read energy, J */
    double fault_weight_rms_before;   /* predicted RMS weight error / w_abs_max of the
                                         plain layout over every weight */
    double fault_weight_rms_after;    /* the same for the chosen layout */
    /* Drift compensation (hardware.drift_compensation; summed over the layers
     * by mx_method_drift_compensation). Mode none: all three NaN. */
    double drift_alpha;               /* mean over layers of the global factor
                                         Σ|y(t0)|/Σ|y(t)| */
    double drift_reads;               /* tile reads of the calibration vectors, at t0
                                         and at t (with a schedule: every t0
                                         reference and recalibration up to t) */
    double drift_energy_j;            /* their energy (energy/: cells, DAC/drivers, ADC,
                                         shift-add), J */
    /* Time schedule (hardware.programming.reprogram_every_s,
     * hardware.drift_compensation.recalibrate_every_s; crossbar.h
     * mx_time_schedule; set by mx_method_programming_cost). Both periods 0
     * (or τ_c only, with compensation none): all NaN. The reads and energy of
     * every t0 reference and recalibration up to t are in drift_reads and
     * drift_energy_j. */
    double schedule_recalibrations;   /* drift calibration measurements after a t0
                                         reference up to t (per layer, every
                                         programming period); 0 with compensation none */
    double schedule_reprogrammings;   /* floor(t/τ_p); 0 with τ_p = 0 */
    double schedule_reprogram_energy_j; /* reprogrammings × one programming's energy,
                                         all layers (write-verify, or one nominal
                                         pulse per cell open loop); NaN unpriced */
    double schedule_reprogram_time_s; /* reprogrammings × one programming's serial
                                         time, s; NaN unpriced */
    /* Per-column gain/offset calibration (hardware.column_calibration; summed
     * over the layers by mx_method_column_calibration). Mode none: all NaN. */
    double colcal_gain_rms_dev;       /* RMS over layers' fitted columns of (a − 1):
                                         the column gain spread the fit saw */
    double colcal_reads;              /* tile reads of the reference vectors */
    double colcal_energy_j;           /* their energy (energy/, as drift_energy_j), J */
    /* Hardware threshold re-balancing (snn.threshold_rebalance; calibration/
     * threshold.h): 0 and 0 when none. */
    size_t rebalance_passes;          /* calibration example passes on the hardware (one
                                         per example and re-balanced layer, layers 0..l) */
    double rebalance_energy_j;        /* their energy, all passes together, J */
    const char *network;          /* "snn" or "ann" (model.run_as): the point group's
                                     `network` attribute; NULL: not written */
    size_t timesteps;
    const double *accuracy_vs_step;   /* (timesteps): accuracy using spikes up to step t */
    size_t n_layers;
    const double *layer_rel_rms_error;/* (n_layers): RMS(y − W·x)/RMS(W·x) per layer */
    const double *layer_mean_error;   /* (n_layers): mean(y − W·x), weight units */
    const double *layer_clip_rate;    /* (n_layers): clipped / conversions */
    const double *layer_adc_range_a;  /* (n_layers): calibrated ADC full scale, A */
    const double *layer_spike_rate;   /* (n_layers): spikes per neuron per step */
    const double *layer_energy_parts_j; /* (n_layers, MX_ENERGY_N_COMPONENTS) row-major:
                                           energy per inference by component, J */
    const double *layer_energy_j;     /* (n_layers): energy per inference, J */
    const double *layer_latency_s;    /* (n_layers): latency per inference, s */
    const double *layer_area_mm2;     /* (n_layers): ADC and array area, mm² */
} mx_point_result;

typedef struct mx_results mx_results;

/* Create <path>.partial with the root attributes and an empty /summary whose
 * columns follow cfg's sweep axes. Fails MX_EIO (naming the path) if it
 * cannot be created. */
mx_status mx_results_create(const char *path, const mx_experiment_config *cfg,
                            mx_results **out);
/* Reopen <path>.partial, left by an interrupted run of the same sweep, to
 * continue it (`memxbar sweep --resume`). MX_ENOTFOUND if there is no such
 * file; MX_EMISMATCH if it was written for another sweep — its root attribute
 * resolved_config (code version, every resolved config field, the sweep
 * axes) differs from cfg's, and the message names the first differing
 * field with both values — or another seed, repeats or /summary columns;
 * MX_EFORMAT if it is not a results file. A point group left
 * without its /summary row (the writer died mid-point) is removed, so that
 * point is simply run again. */
mx_status mx_results_resume(const char *path, const mx_experiment_config *cfg,
                            mx_results **out);
/* Is (point, repeat) already written, i.e. is its /summary row there? */
int mx_results_has_point(const mx_results *r, size_t point, size_t repeat);
/* Append one row to /summary and write /points/<point>/<repeat>/; flushed to
 * disk before returning. point_cfg is the resolved config of that point. */
mx_status mx_results_write_point(mx_results *r, const mx_experiment_config *point_cfg,
                                 const mx_point_result *res);
/* Close. With complete != 0, put /summary in (point, repeat) order (a
 * distributed or resumed sweep appends its rows as points finish), mark
 * status "complete" and rename <path>.partial to <path>; otherwise leave
 * the .partial file (status "incomplete"). Accepts NULL. */
mx_status mx_results_close(mx_results *r, int complete);

/* A point result as one byte string, for a distributed sweep's workers to
 * send to its writer (the same binary on every rank: the struct is copied
 * as it is, its arrays and network name after it). OUT: *out (mx_free it)
 * and *out_bytes. */
mx_status mx_point_result_pack(const mx_point_result *res, void **out, size_t *out_bytes);
/* The inverse: *out's arrays and network name point into *storage (one
 * block; mx_free it when done with *out). MX_EFORMAT if the bytes are not a
 * packed result of this binary. */
mx_status mx_point_result_unpack(const void *buf, size_t bytes, mx_point_result *out,
                                 void **storage);

/* How a swept field is named in labels: the shortest end of paths[a]
 * (whole dotted components) that no other of the n paths ends with —
 * "bits" beside "d2d_sigma", but "programming.mode" beside
 * "fault_mapping.mode". Points into paths[a]. */
const char *mx_results_axis_label(const char *const *paths, size_t n, size_t a);

/* Read back /summary's accuracy column and row count (for tests and the
 * CLI summary). OUT: *n_rows, and up to `cap` accuracies. */
mx_status mx_results_read_accuracy(const char *path, size_t *n_rows, double *accuracy,
                                   size_t cap);

/* One /summary row as read back (for `memxbar report` and a resumed
 * sweep's summary). */
typedef struct mx_results_row {
    size_t point, repeat, n_test;
    char swept[256];              /* "d2d_sigma=0.1 bits=4": each swept column, last path
                                     component = value (numbers with %g) */
    double accuracy, accuracy_snn_digital, accuracy_ann, adc_clip_rate;
    double energy_j, latency_s;   /* per inference: J, s */
} mx_results_row;

typedef struct mx_results_table {
    size_t n_rows;
    mx_results_row *rows;         /* owned; in file order (point order) */
    size_t n_points, repeats;     /* of the whole sweep */
    int complete;                 /* status attribute is "complete" */
} mx_results_table;

/* Read /summary and the root attributes of a results file (complete or
 * .partial). MX_EIO if it cannot be opened, MX_EFORMAT if it is not a
 * results file, MX_ENOMEM. On failure *out holds nothing to free. */
mx_status mx_results_read_table(const char *path, mx_results_table *out);
void mx_results_table_free(mx_results_table *t);

#endif /* MX_RESULTS_H */
