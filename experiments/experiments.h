/* SPDX-License-Identifier: MIT
 *
 * experiments.h: runs a sweep. Each sweep point (and repeat) goes
 *   train (or load the cached network) → convert to an SNN → program the
 *   crossbars → calibrate the ADC ranges → evaluate the test set on the
 *   crossbar and on the exact digital reference → write the point to HDF5.
 *
 * Randomness (docs/numerics.md): streams are keyed by the root seed and
 * named per stage. Hardware draws depend on (seed, repeat) only, not on the
 * sweep point, so every point of repeat r sees the same underlying device
 * draws scaled by its own σ (common random numbers: curves over σ are
 * smooth, differences between points are not drowned in draw-to-draw noise).
 * Every test image has its own encoder and read-noise stream, so results
 * are identical at any thread count.
 */
#ifndef MX_EXPERIMENTS_H
#define MX_EXPERIMENTS_H

#include <stddef.h>

#include "core/core.h"
#include "experiments/config.h"

typedef struct mx_run_options {
    const char *output_path; /* results file (written as <path>.partial, renamed when done) */
    const char *data_dir;    /* NULL: search (see dataset.h) */
    const char *cache_dir;   /* trained-network cache; NULL: <output dir>/cache */
    int full;                /* evaluate the whole test set (overrides dataset.test_limit) */
    int threads;             /* OpenMP threads for the process (omp_set_num_threads);
                                0 = leave the OpenMP default */
    int resume;              /* continue <output>.partial left by a stopped run of the same
                                sweep (mx_results_resume): its finished points are kept */
    /* Called after each (point, repeat) is committed to disk, with how many
     * this process has written so far; NULL: none. For the CLI's test hook. */
    void (*point_written)(void *user, size_t n_written);
    void *user;
} mx_run_options;

/* One line per (point, repeat) for the caller's summary table. */
typedef struct mx_run_row {
    size_t point, repeat;
    char swept[256];         /* "d2d_sigma=0.1 bits=4 mode=plain" */
    const char *network;     /* "snn" or "ann" (model.run_as): what `accuracy` measured */
    double accuracy, accuracy_snn_digital, accuracy_ann, adc_clip_rate;
    double energy_j, latency_s; /* per inference (energy/) */
} mx_run_row;

typedef struct mx_run_report {
    size_t n_rows;
    mx_run_row *rows;        /* owned; free with mx_run_report_free */
    size_t n_test;
    double seconds_total, seconds_training, seconds_eval;
    double seconds_programming;  /* programming the crossbars (MLP conversion points;
                                    the learning methods count it in seconds_eval) */
    double seconds_calibration;  /* ADC ranges, drift and column calibration, threshold
                                    re-balancing (MLP conversion points, as above) */
    double seconds_writing;      /* writing and flushing the points to the results file */
    size_t networks_trained, networks_cached;
    int results_open;        /* the results file was created or reopened (a
                                failure after this leaves a .partial to resume) */
} mx_run_report;

/* Run the sweep described by cfg. OUT: report (may be NULL; with
 * opt->resume its rows are only the points run now). On failure the results
 * stay in <output>.partial with status "incomplete" and the message says
 * what failed at which point; MX_EINTERRUPT after a stop request. With
 * opt->resume: MX_ENOTFOUND without a .partial, MX_EMISMATCH naming the
 * first differing field if it holds another sweep. */
mx_status mx_experiment_run(const mx_experiment_config *cfg, const mx_run_options *opt,
                            mx_run_report *report);
void mx_run_report_free(mx_run_report *r);

/* Request a clean stop after the current point (async-signal-safe). */
void mx_experiment_request_stop(void);
/* Has mx_experiment_request_stop() been called since the last sweep started? */
int mx_experiment_stop_requested(void);
/* Ranks of the MPI job this process belongs to: 1 when memxbar is built
 * without MPI or the program did not initialise MPI (no mpirun). With more,
 * mx_experiment_run spreads the sweep over them (experiments/distribute.c). */
int mx_experiment_ranks(void);

#endif /* MX_EXPERIMENTS_H */
