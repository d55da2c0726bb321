/* SPDX-License-Identifier: MIT
 *
 * column_cal.c: per-column gain/offset calibration (see column_cal.h for
 * the data flow). For column o and reference vectors v = 1..K, the
 * hardware's outputs y_v and the exact digital outputs r_v = (W·x_v)[o] are
 * fitted by ordinary least squares, y = a·r + b (gsl_fit_linear:
 * a = Σ(r − r̄)(y − ȳ)/Σ(r − r̄)², b = ȳ − a·r̄). The corrected output is the
 * line's inverse, (y − b)/a: in weight units, as W·x. This is the two-point
 * (gain and offset) calibration of a data converter (IEEE 1241 terminal /
 * least-squares straight line), done per column, as the per-column affine
 * scale and offset that in-memory-computing chips apply digitally to their
 * ADC outputs (e.g. the local digital processing units of Le Gallo et al.,
 * Nat. Electron. 6:680, 2023).
 *
 * Choices, and why:
 * - Binary, sparse, full-scale reference vectors (density 0.1 by default,
 *   as drift compensation's): every input mode reads them exactly, and
 *   their column currents sit inside an ADC range calibrated on the
 *   network's own inputs, so clipping does not bend the line. A 10 % vector
 *   of a 784-row layer drives ~78 rows: r_v spreads over the column's
 *   partial sums, which is what the slope needs.
 * - The fit is of the outputs as the network reads them (the correction
 *   already set included) and composes with that correction, so it can run
 *   after drift compensation: the drift gain stays, column calibration adds
 *   the per-column residue.
 * - A column whose reference output does not vary (all-zero weights, or no
 *   driven row reaches it) has no slope: its offset alone is fitted (the
 *   mean difference). A column whose slope is not > 0 and finite is left as
 *   it was: a negative gain is no calibration.
 * - Inputs and read noise come from their own streams, keyed by the
 *   caller's seed and item, and the K reads are serial, so the result does
 *   not depend on the thread count.
 */
#include "calibration/column_cal.h"

#include <gsl/gsl_fit.h>
#include <math.h>

void mx_column_cal_input(const mx_matmul *mm, uint64_t seed, uint64_t item, float *x)
{
    const mx_crossbar_config *xb = mx_matmul_config(mm);
    mx_rng rng;
    mx_rng_init(&rng, seed, mx_stream_id("column_cal.input"), item);
    const double density = xb->column_cal.density;
    const float full = xb->input == MX_INPUT_SPIKES ? 1.0f : (float)xb->input_full_scale;
    const size_t n_in = mx_matmul_n_in(mm);
    for (size_t j = 0; j < n_in; j++)
        x[j] = mx_u01(mx_rng_u32(&rng)) < density ? full : 0.0f;
}

/* The exact digital W·x of the reference, in double: OUT r (n_out). */
static void reference_output(const float *w, size_t n_out, size_t n_in, const float *x, double *r)
{
    for (size_t o = 0; o < n_out; o++) {
        const float *row = w + o * n_in;
        double s = 0.0;
        for (size_t j = 0; j < n_in; j++)
            s += x[j] != 0.0f ? (double)row[j] * (double)x[j] : 0.0;
        r[o] = s;
    }
}

/* Fit every column (K vectors, (K, n_out) row-major y and r) and compose
 * with the prior correction (g0, o0; NULL: identity). OUT gain, offset, *res. */
static void fit_columns(const double *y, const double *r, size_t k, size_t n_out,
                        const double *g0, const double *o0, double *gain, double *offset,
                        mx_column_cal_result *res)
{
    double dev_sq = 0.0, off_sq = 0.0, resid_sq = 0.0;
    for (size_t o = 0; o < n_out; o++) {
        const double gp = g0 ? g0[o] : 1.0, op = o0 ? o0[o] : 0.0;
        gain[o] = gp;
        offset[o] = op;
        double r_min = r[o], r_max = r[o];
        for (size_t v = 1; v < k; v++) {
            r_min = fmin(r_min, r[v * n_out + o]);
            r_max = fmax(r_max, r[v * n_out + o]);
        }
        if (!(r_max > r_min)) { /* no slope to fit: the offset alone */
            double d = 0.0;
            for (size_t v = 0; v < k; v++)
                d += y[v * n_out + o] - r[v * n_out + o];
            offset[o] = op - d / (double)k;
            res->columns_offset_only++;
            continue;
        }
        double b, a, c00, c01, c11, sumsq;
        gsl_fit_linear(r + o, n_out, y + o, n_out, k, &b, &a, &c00, &c01, &c11, &sumsq);
        if (!(a > 0.0 && isfinite(a) && isfinite(b))) {
            res->columns_kept++;
            continue;
        }
        /* y_c = a·r + b with y_c = g0·y_raw + o0, so r ≈ (g0·y_raw + o0 − b)/a. */
        gain[o] = gp / a;
        offset[o] = (op - b) / a;
        dev_sq += (a - 1.0) * (a - 1.0);
        off_sq += b * b;
        resid_sq += sumsq;
        res->columns_fitted++;
    }
    const double nf = (double)res->columns_fitted;
    res->gain_rms_dev = nf > 0.0 ? sqrt(dev_sq / nf) : 0.0;
    res->offset_rms = nf > 0.0 ? sqrt(off_sq / nf) : 0.0;
    res->residual_rms = nf > 0.0 ? sqrt(resid_sq / (nf * (double)k)) : 0.0;
}

mx_status mx_column_calibrate(mx_matmul *mm, uint64_t seed, uint64_t item_base,
                              mx_column_cal_result *out)
{
    const mx_column_cal_config *cfg = &mx_matmul_config(mm)->column_cal;
    mx_column_cal_result r = {.mode = cfg->mode};
    if (out)
        *out = r;
    if (cfg->mode == MX_COLUMN_CAL_NONE)
        return MX_OK;
    const float *w_target = mx_matmul_target_weights(mm);
    if (!w_target)
        return mx_fail(MX_EINVAL, "column calibration: expected the target weights kept at "
                                  "creation (hardware.column_calibration.mode set when the "
                                  "matmul was created), got none");
    const size_t n_in = mx_matmul_n_in(mm), n_out = mx_matmul_n_out(mm);
    const size_t k = (size_t)cfg->vectors;
    const size_t kn = mx_size_mul(k, n_out);
    float *x = mx_alloc(n_in * sizeof(float)), *yf = mx_alloc(n_out * sizeof(float));
    double *y = mx_alloc(mx_size_mul(kn, sizeof(double)));
    double *ref = mx_alloc(mx_size_mul(kn, sizeof(double)));
    double *gain = mx_alloc(n_out * sizeof(double)), *offset = mx_alloc(n_out * sizeof(double));
    mx_matmul_work *w = NULL;
    mx_status st = x && yf && y && ref && gain && offset
                       ? mx_matmul_work_create(mm, &w)
                       : mx_fail(MX_ENOMEM, "column calibration: out of memory");
    const uint32_t read_stream = mx_stream_id("column_cal.read");
    for (size_t v = 0; v < k && !st; v++) {
        mx_rng rng;
        mx_rng_init(&rng, seed, read_stream, item_base + v);
        mx_column_cal_input(mm, seed, item_base + v, x);
        mx_matmul_forward(mm, w, x, yf, &rng, &r.stats, NULL);
        reference_output(w_target, n_out, n_in, x, ref + v * n_out);
        for (size_t o = 0; o < n_out; o++)
            y[v * n_out + o] = (double)yf[o];
    }
    if (!st) {
        r.vectors = k;
        const double *g0, *o0;
        mx_matmul_output_correction(mm, &g0, &o0);
        fit_columns(y, ref, k, n_out, g0, o0, gain, offset, &r);
        st = mx_matmul_set_output_correction(mm, gain, offset);
    }
    mx_matmul_work_destroy(w);
    mx_free(x);
    mx_free(yf);
    mx_free(y);
    mx_free(ref);
    mx_free(gain);
    mx_free(offset);
    if (st)
        return st;
    if (out)
        *out = r;
    return MX_OK;
}
