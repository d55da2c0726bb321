/* SPDX-License-Identifier: MIT
 *
 * method.h: how a learning method plugs into the sweep runner (run.c).
 *
 * The runner owns everything that is the same for every method: the sweep
 * and its repeats, the datasets, seeds, resume, the results file and the
 * summary. A method (surrogate-gradient BPTT, STDP, CNN conversion, ...)
 * supplies one function that runs one (sweep point, repeat):
 *
 *   get the trained network (train it, or load it from the HDF5 cache under
 *   ctx->cache_dir, keyed by every setting that shapes training) ──► program
 *   its layers onto the point's hardware ──► calibrate ──► evaluate the first
 *   ctx->n_test test examples on the crossbar and on the exact digital
 *   reference ──► fill an mx_method_point.
 *
 * Seeds: training draws from ctx->train_seed only (so one trained network
 * serves every hardware point); cells and ADC instances from ctx->hw_seed,
 * encoders and read noise from ctx->eval_seed with the test example as item
 * (calibration examples from ctx->calib_item_base on). Results must not
 * depend on the thread count.
 */
#ifndef MX_METHOD_H
#define MX_METHOD_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "crossbar/crossbar.h"
#include "energy/energy.h"
#include "experiments/config.h"
#include "experiments/dataset.h"
#include "experiments/results.h"

typedef struct mx_method_ctx {
    const mx_dataset *train;   /* training split (dataset.train_limit applied) */
    const mx_dataset *test;    /* test split */
    size_t n_test;             /* evaluate the first n_test test examples */
    size_t n_calib;            /* calibration examples: the first n_calib of train */
    const char *cache_dir;     /* trained-network cache folder (created on demand with
                                  mx_method_cache_path) */
    uint64_t train_seed;       /* training: depends on the root seed only */
    uint64_t hw_seed;          /* cells, ADC instances, comparator offsets of this repeat */
    uint64_t eval_seed;        /* encoders and read noise of this repeat */
    uint64_t calib_item_base;  /* calibration examples' stream items start here */
    size_t compare_images;     /* per-layer error vs the digital W·x on this many test
                                  examples */
    size_t repeat;             /* repeat index */
    const char *what;          /* progress label of the evaluation ("point 3/12 ...") */
} mx_method_ctx;

/* What one (point, repeat) measured. pr's arrays point into the buffers
 * below (so pass the struct by pointer, never copy it); accuracy_vs_step is
 * allocated by the method (mx_alloc) and freed by mx_method_point_free. */
typedef struct mx_method_point {
    mx_point_result pr;  /* the method fills every field but point, repeat and
                            eval_seconds; accuracy_ann: the float network it came
                            from (NaN if none); accuracy_snn_digital: the same
                            spiking network on the exact digital matmul */
    double *accuracy_vs_step; /* (pr.timesteps), owned */
    double rel_rms[MX_RESULTS_MAX_LAYERS], mean_err[MX_RESULTS_MAX_LAYERS],
        clip[MX_RESULTS_MAX_LAYERS], range_a[MX_RESULTS_MAX_LAYERS],
        activity[MX_RESULTS_MAX_LAYERS];
    double e_parts[MX_RESULTS_MAX_LAYERS * MX_ENERGY_N_COMPONENTS],
        e_layer[MX_RESULTS_MAX_LAYERS], latency[MX_RESULTS_MAX_LAYERS],
        area[MX_RESULTS_MAX_LAYERS];
    double seconds_training; /* training done for this point (0 when cached) */
    int trained;             /* 1 if the network was trained now, 0 if loaded */
} mx_method_point;

/* One (point, repeat) of a method. OUT: *out (zeroed by the caller). */
typedef mx_status (*mx_method_point_fn)(const mx_experiment_config *pc, const mx_method_ctx *ctx,
                                        mx_method_point *out);

/* Point pr's layer arrays at out's buffers (call after memset). */
void mx_method_point_init(mx_method_point *out);
void mx_method_point_free(mx_method_point *out);

/* Price layer l with energy/ from its activity summed over n examples
 * (counts) on matmul mm (lif: the neurons leak): fills out->e_parts[l·…],
 * e_layer[l], latency[l] and area[l]. MX_EINVAL from the energy model. */
mx_status mx_method_price_layer(mx_method_point *out, size_t l, const mx_matmul *mm,
                                const mx_experiment_config *pc, int lif,
                                const mx_energy_counts *counts, size_t n);

/* The programming cost of a point: mx_matmul_programming_stats of its
 * layers' matmuls mm[0..n_layers) (NULL entries skipped) summed in layer
 * order into pr's program_* fields — NaN cost and cells_verified 0 when no
 * cell was write-verified (open loop; docs/results-format.md). Also the
 * schedule_* fields (hardware.programming.reprogram_every_s,
 * hardware.drift_compensation.recalibrate_every_s; crossbar.h
 * mx_time_schedule): the counts up to t of the first layer's schedule, and
 * reprogrammings × one programming's energy and serial time (write-verify,
 * or open loop priced as one nominal pulse per cell on a pulse model; NaN
 * unpriced); all NaN when nothing is scheduled. Every method calls it once
 * its layers are programmed. */
void mx_method_programming_cost(mx_point_result *pr, mx_matmul *const *mm, size_t n_layers);

/* Drift compensation of a point's layers (hardware.drift_compensation,
 * calibration/drift.h): mx_drift_compensate on every non-NULL mm[l] — its
 * ADC already calibrated — with read noise from `seed`, items l·2^32 + v;
 * the calibration reads at t0 and t priced by energy/ and summed in layer
 * order into pr's drift_* fields — with a reprogramming or recalibration
 * schedule, every t0 reference (one per programming) and every
 * recalibration up to t, each priced as the one made now (all NaN with
 * mode none, where nothing is
 * read or changed). Call it after the ADC calibration, in
 * mx_method_drift_rounds rounds of (ADC calibration, this): each round
 * overwrites the fields. MX_EINVAL, MX_ENUMERIC, MX_ENOMEM from
 * mx_drift_compensate and energy/. */
mx_status mx_method_drift_compensation(mx_point_result *pr, const mx_experiment_config *pc,
                                       mx_matmul *const *mm, size_t n_layers, uint64_t seed);

/* Per-column gain/offset calibration of a point's layers
 * (hardware.column_calibration, calibration/column_cal.h): on every non-NULL
 * mm[l], mx_column_calibrate with inputs and read noise from `seed`, items
 * l·2^32 + 2^31 + v (apart from drift compensation's l·2^32 + v); the reads
 * priced by energy/ and summed in layer order into pr's colcal_* fields (all
 * NaN with mode none, where nothing is read or changed). Call it right
 * after mx_method_drift_compensation, in the same rounds: it composes with
 * the drift correction; without drift compensation it first resets the
 * layer's correction to the identity, so a later round re-fits instead of
 * stacking on its own earlier fit. Each round overwrites the fields.
 * MX_EINVAL, MX_ENOMEM from mx_column_calibrate and energy/. */
mx_status mx_method_column_calibration(mx_point_result *pr, const mx_experiment_config *pc,
                                       mx_matmul *const *mm, size_t n_layers, uint64_t seed);

/* Rounds of (ADC calibration of every layer, drift compensation, column
 * calibration) a point of n_layers needs: 1 with both modes none; n_layers
 * otherwise, since the ADC of layer l is calibrated on the outputs of
 * layers < l, which are only right once those are corrected (round r
 * settles layer r). */
size_t mx_method_drift_rounds(const mx_experiment_config *pc, size_t n_layers);

/* Cache file for a training key: <cache_dir>/<prefix>-<hash of key>.h5, with
 * the folder created. MX_EIO if it cannot be created. */
mx_status mx_method_cache_path(const mx_method_ctx *ctx, const char *prefix, const char *key,
                               char *path, size_t path_size);

/* FNV-1a (64 bit) of a training key: the short stable name of its cache file. */
uint64_t mx_method_key_hash(const char *key);

/* Append "path=value;" for each dotted config path (NULL-terminated list)
 * to key — the settings that shape a training, for its cache key. */
mx_status mx_method_key_append(const mx_experiment_config *cfg, const char *const *paths,
                               char *key, size_t key_size);

#endif /* MX_METHOD_H */
