/* SPDX-License-Identifier: MIT
 *
 * column_cal.h: per-column gain/offset calibration (issue 7, item 3). Each
 * output column of an array has its own periphery — a column ADC with its
 * own reference, a sense amplifier with its own gain — and so its own
 * gain and offset error: y_hw[o] ≈ a_o·(W·x)[o] + b_o. The chip measures
 * them with known inputs and corrects digitally:
 *
 *   K reference vectors (binary, sparse, stream "column_cal.input") ──►
 *   mx_matmul_forward (read noise from "column_cal.read", the calibrated
 *   ADC with its gain and offset errors, any correction already set) ──►
 *   per column the least-squares line y_hw = a·y_ref + b against the exact
 *   digital y_ref = W·x of the same inputs (gsl_fit_linear) ──► corrected
 *   output (y − b)/a, composed with the correction already set ──►
 *   mx_matmul_set_output_correction.
 *
 * The reference is the weight matrix the matmul was created from (kept when
 * hardware.column_calibration.mode is gain-offset), so the fit also takes
 * out whatever else maps W·x to the column linearly: the mean programming
 * error of a column, the gain of a drifted column. What it cannot take out
 * is what does not repeat: read noise, per-cell programming errors, and —
 * for a layer of several row tiles, each read by its own ADC — the part of
 * the tiles' different gains that depends on which rows an input drives.
 *
 * Cost: K forward calls of the layer, priced by energy/ like inference
 * (mx_method_column_calibration sums them into /summary colcal_*).
 */
#ifndef MX_COLUMN_CAL_H
#define MX_COLUMN_CAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "crossbar/crossbar.h"

/* What one calibration measured and cost. */
typedef struct mx_column_cal_result {
    mx_column_cal_mode mode;  /* the matmul's hardware.column_calibration.mode */
    size_t vectors;           /* reference vectors read (0 with mode none) */
    size_t columns_fitted;    /* columns given a fitted gain and offset */
    size_t columns_offset_only; /* columns whose reference output did not vary over the
                                   vectors (e.g. all-zero weights): offset only, gain kept */
    size_t columns_kept;      /* columns whose fitted slope was not > 0 and finite: left
                                 as they were */
    double gain_rms_dev;      /* RMS over fitted columns of (a − 1): the gain spread seen */
    double offset_rms;        /* RMS over fitted columns of b, weight units */
    double residual_rms;      /* RMS of the fit residuals over fitted columns and
                                 vectors, weight units (read noise and what is not linear) */
    mx_matmul_stats stats;    /* the reads' activity, for energy/ to price */
} mx_column_cal_result;

/* Reference vector v of `mm`: row j at full scale (1 for spikes,
 * input_full_scale otherwise) when a uniform from stream "column_cal.input",
 * item item_base + v of `seed` (one draw per row), is below
 * hardware.column_calibration.density; else 0. Binary at full scale: every
 * input mode (DAC, spikes, bit-serial, PWM) drives it exactly. OUT x (n_in). */
void mx_column_cal_input(const mx_matmul *mm, uint64_t seed, uint64_t item, float *x);

/* Calibrate the columns of `mm` (mode gain-offset): read the K =
 * hardware.column_calibration.vectors reference vectors (items item_base + v
 * of `seed` for the inputs and, from stream "column_cal.read", their read
 * noise), fit each column and set the correction. The reads see the
 * correction already set (g0, o0 — e.g. drift compensation's), and the
 * result composes with it: gain = g0/a, offset = (o0 − b)/a. Call it after
 * the ADC is set. Mode none: nothing is read or changed, *out says so.
 * MX_EINVAL (no target weights kept), MX_ENOMEM; on failure the correction
 * is what it was. OUT: *out (may be NULL). */
mx_status mx_column_calibrate(mx_matmul *mm, uint64_t seed, uint64_t item_base,
                              mx_column_cal_result *out);

#endif /* MX_COLUMN_CAL_H */
