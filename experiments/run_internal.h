/* SPDX-License-Identifier: MIT
 *
 * run_internal.h: the sweep runner's parts, shared by the one-process loop
 * (run.c) and the distributed sweep (distribute.c). Not a public header.
 *
 * A sweep is a list of (point, repeat) runs. A worker holds a run context
 * (the datasets and the trained networks it has met) and runs one (point,
 * repeat) at a time; each finished run is handed to an emit function — in
 * one process it writes the point at once (mx_run_record), in a distributed
 * sweep it goes to the one writer. A run's result depends on the config, the
 * seed, the point and the repeat only, never on which worker ran it.
 */
#ifndef MX_RUN_INTERNAL_H
#define MX_RUN_INTERNAL_H

#include <stddef.h>

#include "experiments/experiments.h"
#include "experiments/results.h"

typedef struct run_ctx mx_run_ctx;

/* Where a worker's finished (point, repeat) goes. */
typedef mx_status (*mx_run_emit_fn)(void *user, const mx_point_result *pr);

/* Check the config and resolve every point (a bad sweep fails before any
 * work). */
mx_status mx_run_validate(const mx_experiment_config *cfg);

/* A worker: loads the datasets; finished runs go to emit(emit_user, ...).
 * Its training and evaluation times and network counts go to *rep. */
mx_status mx_run_ctx_open(const mx_experiment_config *cfg, const mx_run_options *opt,
                          mx_run_report *rep, mx_run_emit_fn emit, void *emit_user,
                          mx_run_ctx **out);
void mx_run_ctx_close(mx_run_ctx *ctx);

/* Run (point k, repeat r) on a worker. `eta` is appended to its progress
 * label (may be ""). */
mx_status mx_run_one(mx_run_ctx *ctx, const mx_experiment_config *cfg, size_t k, size_t r,
                     const char *eta);

/* The writer: create the results file, or reopen it with opt->resume. */
mx_status mx_run_results_open(const mx_experiment_config *cfg, const mx_run_options *opt,
                              mx_results **res);
/* Close it, complete when st is MX_OK; returns st, else the close's status. */
mx_status mx_run_results_close(mx_results *res, mx_status st);
/* (point, repeat) runs already in a resumed file (logged when any). */
size_t mx_run_count_done(const mx_experiment_config *cfg, const mx_results *res);
/* Write a finished run, add its row to rep->rows, log it, count it in
 * *written and tell opt->point_written (the point is on disk now). */
mx_status mx_run_record(const mx_experiment_config *cfg, const mx_run_options *opt,
                        mx_results *res, mx_run_report *rep, const mx_point_result *pr,
                        size_t *written);

/* The sweep on every rank (distribute.c): rank 0 writes, every rank (rank 0
 * too, on a second thread) runs points handed out one at a time. */
mx_status mx_run_distributed(const mx_experiment_config *cfg, const mx_run_options *opt,
                             mx_run_report *rep);

#endif /* MX_RUN_INTERNAL_H */
