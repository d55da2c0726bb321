/* SPDX-License-Identifier: MIT
 *
 * measured.h: the measured-curve device (devices/measured.c) — a
 * conductance-vs-pulse curve read from a CSV or HDF5 file, interpolated
 * monotonically (GSL Steffen splines), and the cell model that walks along
 * it (mx_device_measured, declared in devices.h). A curve has two branches,
 * potentiation (ltp: conductance rises with the pulse number) and depression
 * (ltd: it falls); each is a table of pulse number → mean conductance and its
 * cycle-to-cycle standard deviation, S. The file formats are described in
 * measured.c and docs/devices.md; examples/devices/sample-curve.csv is one.
 *
 * A loaded curve is immutable and may be shared by any number of threads.
 */
#ifndef MX_MEASURED_H
#define MX_MEASURED_H

#include <stddef.h>

#include "core/core.h"
#include "devices/devices.h"

typedef enum mx_measured_branch {
    MX_MEASURED_LTP = 0, /* potentiation: mean conductance non-decreasing in pulse */
    MX_MEASURED_LTD = 1, /* depression: mean conductance non-increasing in pulse */
    MX_MEASURED_BRANCHES
} mx_measured_branch;

/* "ltp" or "ltd", as the files spell them. */
const char *mx_measured_branch_name(mx_measured_branch branch);

/* Read a curve from `path`: HDF5 when the file starts with the HDF5
 * signature or its name ends in .h5/.hdf5, CSV otherwise. OUT: *out, a new
 * curve to release with mx_measured_curve_free; NULL on failure.
 * Fails with MX_EIO when the file cannot be opened or read (missing,
 * unreadable, a folder, locked by HDF5), MX_EFORMAT when its contents are
 * malformed — the message names the file, the CSV line or the HDF5 dataset
 * and element, the column, and what was expected — and MX_ENOMEM. Nothing is
 * left allocated on any failure. */
mx_status mx_measured_curve_load(const char *path, mx_measured_curve **out);

/* Release a curve; NULL is accepted. */
void mx_measured_curve_free(mx_measured_curve *c);

/* The path the curve was loaded from, as given to mx_measured_curve_load. */
const char *mx_measured_curve_path(const mx_measured_curve *c);

/* The conductance window the curve defines: the lowest and highest mean
 * conductance of either branch, S. */
double mx_measured_curve_g_min(const mx_measured_curve *c);
double mx_measured_curve_g_max(const mx_measured_curve *c);

/* The table of one branch as loaded (rows in rising pulse order). Returns
 * the number of rows n (≥ 2); OUT: the three arrays of n doubles, owned by
 * the curve. Any OUT pointer may be NULL. */
size_t mx_measured_curve_table(const mx_measured_curve *c, mx_measured_branch branch,
                               const double **pulse, const double **g_mean_s,
                               const double **g_std_s);

/* First and last pulse number of a branch. */
void mx_measured_curve_pulse_range(const mx_measured_curve *c, mx_measured_branch branch,
                                   double *first, double *last);

/* Interpolated mean conductance (S) and cycle-to-cycle standard deviation
 * (S) of a branch at a pulse coordinate (clamped to the branch's range).
 * Exactly the table's values at its pulse numbers; monotone between them. */
double mx_measured_curve_mean(const mx_measured_curve *c, mx_measured_branch branch,
                              double pulse);
double mx_measured_curve_std(const mx_measured_curve *c, mx_measured_branch branch,
                             double pulse);

/* Inverse of the mean curve: the lowest pulse coordinate of the branch
 * whose interpolated mean reaches g_s (from below on ltp, from above on
 * ltd); g_s outside the branch's range gives the nearer end. A table
 * conductance gives its own pulse number exactly (first row of a flat run). */
double mx_measured_curve_pulse_at(const mx_measured_curve *c, mx_measured_branch branch,
                                  double g_s);

/* Attach a loaded curve to device parameters: p->measured.curve = c, and
 * g_min_s/g_max_s set to the curve's window (the measured device's
 * validate requires both). p->measured.path is left as it is (a config
 * resolves it relative to its own folder). c must outlive every use of p. */
void mx_measured_apply(mx_device_params *p, const mx_measured_curve *c);

/* State of one measured cell (a record of mx_device_measured.cell_floats
 * floats): OUT the branch it sits on, its pulse coordinate on that branch,
 * and the switching cycles it has made. Any OUT pointer may be NULL. */
void mx_measured_cell_state(const float *cell, mx_measured_branch *branch, double *pulse,
                            double *cycles);

#endif /* MX_MEASURED_H */
