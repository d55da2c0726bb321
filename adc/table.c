/* SPDX-License-Identifier: MIT
 *
 * table.c: the ADCs whose transfer curve is a table of decision thresholds
 * and reconstruction levels — lloyd-max (levels fitted to profiled column
 * currents by calibration/, adc/lloyd_max.c) and log. A conversion is a
 * binary search over the 2^bits − 1 thresholds (bits comparisons, as a SAR
 * or a binary-search ADC would make them); code k covers
 * [t_{k−1}, t_k) and stands for level y_k.
 *
 * Logarithmic ADC (log). Signed: one sign bit and M = 2^(bits−1) magnitude
 * cells; unsigned: M = 2^bits magnitude cells and negative inputs in the
 * lowest. With full scale R and dynamic range D (log_dynamic_range), the
 * magnitude cell edges are
 *     e_0 = 0,   e_j = R·D^(−(M−j)/(M−1))  (j = 1 .. M),  so e_1 = R/D, e_M = R,
 * geometric between R/D and R: every cell above the lowest spans the same
 * ratio D^(1/(M−1)), i.e. a constant relative error. The lowest cell
 * [0, R/D) is linear with level R/(2D) (a log ADC cannot reach 0, and the
 * ±R/(2D) pair keeps the sign of small currents); the others reconstruct to
 * the geometric mean of their edges, y_j = √(e_j·e_{j+1}), which minimises
 * the worst relative error in the cell. Magnitudes ≥ R clip to the top cell.
 * This is the sign + log-magnitude companding of μ-law/A-law converters
 * (ITU-T G.711) made piecewise-exact in the log domain; the choice of
 * geometric-mean levels is ours.
 */
#include "adc/adc.h"
#include "adc/adc_internal.h"

#include <math.h>

void mx_adc_log_curve(const mx_adc_config *c, double range_a, double *threshold_a,
                      double *level_a)
{
    const int sign = c->polarity == MX_ADC_SIGNED;
    const size_t m = (size_t)1 << (sign ? c->bits - 1 : c->bits); /* magnitude cells, ≥ 2 */
    const double d = c->log_dynamic_range;
    /* edge(j) for j = 1 .. m; edge(0) = 0. */
#define LOG_EDGE(j) ((j) == m ? range_a : range_a * pow(d, -(double)(m - (j)) / (double)(m - 1)))
    for (size_t j = 0; j < m; j++) {
        const double lo = j == 0 ? 0.0 : LOG_EDGE(j), hi = LOG_EDGE(j + 1);
        const double y = j == 0 ? 0.5 * hi : sqrt(lo * hi);
        if (sign) {
            level_a[m + j] = y;
            level_a[m - 1 - j] = -y;
            if (j > 0) {
                threshold_a[m - 1 + j] = lo;
                threshold_a[m - 1 - j] = -lo;
            } else {
                threshold_a[m - 1] = 0.0;
            }
        } else {
            level_a[j] = y;
            if (j > 0)
                threshold_a[j - 1] = lo;
        }
    }
#undef LOG_EDGE
}

mx_status mx_adc_table_setup(mx_adc *a, const mx_adc_config *c, const mx_adc_fit *fit)
{
    const size_t n = mx_adc_n_codes(a);
    if (fit->n_levels) {
        if (c->kind != MX_ADC_LLOYD_MAX)
            return mx_fail(MX_EINVAL, "ADC fit: fitted levels are for a lloyd-max ADC, not log");
        if (fit->n_levels != n)
            return mx_fail(MX_EINVAL, "ADC fit: expected %zu levels for %d bits, got %zu", n,
                           c->bits, fit->n_levels);
        for (size_t i = 0; i < n; i++)
            if (!isfinite(fit->level_a[i]) || (i > 0 && !(fit->level_a[i] >= fit->level_a[i - 1])))
                return mx_fail(MX_EINVAL, "ADC fit: levels must be finite and ascending; level "
                                          "%zu is %g",
                               i, fit->level_a[i]);
        for (size_t i = 0; i + 1 < n; i++)
            if (!isfinite(fit->threshold_a[i]) ||
                (i > 0 && !(fit->threshold_a[i] >= fit->threshold_a[i - 1])))
                return mx_fail(MX_EINVAL, "ADC fit: thresholds must be finite and ascending; "
                                          "threshold %zu is %g",
                               i, fit->threshold_a[i]);
    }
    a->mem = mx_alloc(mx_size_mul(2 * n, sizeof(double)));
    if (!a->mem)
        return mx_fail(MX_ENOMEM, "ADC: out of memory for %zu levels", n);
    a->level_a = a->mem;
    a->threshold_a = a->level_a + n;
    if (fit->n_levels) {
        for (size_t i = 0; i < n; i++)
            a->level_a[i] = fit->level_a[i];
        for (size_t i = 0; i + 1 < n; i++)
            a->threshold_a[i] = fit->threshold_a[i];
        /* A fitted quantiser has no full scale of its own: it clips where
         * an outer cell's error outgrows the cell's inner half-width. */
        mx_adc_fitted_full_scale(a->threshold_a, a->level_a, n, &a->clip_lo_a, &a->clip_hi_a);
    } else {
        mx_adc_nominal_curve(c, a->range_a, a->threshold_a, a->level_a);
    }
    return MX_OK;
}

double mx_adc_fitted_full_scale(const double *t, const double *y, size_t n, double *lo,
                                double *hi)
{
    const double l = y[0] - (t[0] - y[0]), h = y[n - 1] + (y[n - 1] - t[n - 2]);
    if (lo)
        *lo = l;
    if (hi)
        *hi = h;
    return fmax(fabs(l), fabs(h));
}

/* Thresholds at or below x: the code's index (NaN: 0). The code count is
 * a power of two, so the search takes exactly bits steps, each a select the
 * compiler makes branch-free (a mispredicted branch per bit would cost more
 * than the comparison). */
size_t mx_adc_table_index(const mx_adc *adc, double x)
{
    const double *t = adc->threshold_a;
    size_t idx = 0;
    for (size_t step = mx_adc_n_codes(adc) / 2; step > 0; step /= 2)
        idx += x >= t[idx + step - 1] ? step : 0;
    return idx;
}

size_t mx_adc_table_convert(const mx_adc *adc, float *current_a, size_t n)
{
    size_t clipped = 0;
    const double lo = adc->clip_lo_a, hi = adc->clip_hi_a;
    for (size_t i = 0; i < n; i++) {
        const float x = current_a[i];
        const double xd = (double)x;
        clipped += (xd < lo) | (xd >= hi);
        /* x − x keeps a NaN or infinite current NaN (see uniform.c). */
        current_a[i] = (float)adc->level_a[mx_adc_table_index(adc, xd)] + (x - x);
    }
    return clipped;
}
