/* SPDX-License-Identifier: MIT
 *
 * linearity.c: static linearity of an ADC — its transition levels and the
 * INL/DNL computed from them (what `memxbar adc curve` writes).
 *
 * Transition levels, not a code-density histogram: every kind here is
 * deterministic once noise is off, and its transfer curve is monotone (for
 * the SAR see sar.c), so the transition T_i — the smallest input converted
 * above code index i — is found exactly by bisection on the input, down to
 * adjacent doubles. A code-density test (IEEE 1241 §4.1.6) estimates the same
 * widths from a ramp's histogram with a sampling error; bisection has none.
 *
 * INL/DNL are terminal-based (IEEE 1241 §4.5.1, "terminal-based"): the ideal
 * line runs through the first and last transitions, which removes offset and
 * gain error so what remains is the non-linearity proper. See adc.h for the
 * formulas; inl[k + 1] − inl[k] = dnl[k], the INL is the running sum of the
 * DNL.
 */
#include "adc/adc.h"
#include "adc/adc_internal.h"

#include <assert.h>
#include <math.h>

void mx_adc_transitions(const mx_adc *adc, size_t instance, double *t_a)
{
    const size_t n = mx_adc_n_codes(adc);
    double span = adc->clip_hi_a - adc->clip_lo_a;
    if (adc->level_a) /* a fitted table: its thresholds bound it */
        span = fmax(span, adc->threshold_a[n - 2] - adc->threshold_a[0]);
    double off = 0.0;
    if (adc->offset_lsb)
        off = fabs(adc->offset_lsb[instance]) * adc->step_a;
    /* Far enough out that the ends are the end codes, whatever the offset. */
    double x_lo = fmin(adc->clip_lo_a, adc->level_a ? adc->threshold_a[0] : adc->clip_lo_a) -
                  span - 2.0 * off;
    double x_hi = fmax(adc->clip_hi_a, adc->level_a ? adc->threshold_a[n - 2] : adc->clip_hi_a) +
                  span + 2.0 * off;
    for (size_t i = 0; i + 1 < n; i++) {
        const int32_t above = adc->code_min + (int32_t)i;
        double lo = i > 0 ? t_a[i - 1] : x_lo, hi = x_hi;
        /* Monotone: T_i ≥ T_{i−1}; if the code already jumps past `above`
         * at T_{i−1}, code index i is missing and T_i = T_{i−1}. */
        if (i > 0 && mx_adc_code_at(adc, lo, instance, NULL) > above) {
            t_a[i] = lo;
            continue;
        }
        /* Invariant: code(lo) ≤ above < code(hi). */
        assert(mx_adc_code_at(adc, hi, instance, NULL) > above);
        for (;;) {
            const double mid = lo + 0.5 * (hi - lo);
            if (!(mid > lo && mid < hi))
                break;
            if (mx_adc_code_at(adc, mid, instance, NULL) > above)
                hi = mid;
            else
                lo = mid;
        }
        t_a[i] = hi;
    }
}

double mx_adc_linearity(const double *t, size_t n_codes, double *dnl, double *inl)
{
    assert(n_codes >= 3);
    const double lsb = (t[n_codes - 2] - t[0]) / (double)(n_codes - 2);
    dnl[0] = inl[0] = 0.0;
    dnl[n_codes - 1] = 0.0;
    for (size_t k = 1; k + 1 < n_codes; k++)
        dnl[k] = lsb > 0.0 ? (t[k] - t[k - 1]) / lsb - 1.0 : 0.0;
    for (size_t k = 1; k < n_codes; k++)
        inl[k] = lsb > 0.0 ? (t[k - 1] - t[0]) / lsb - (double)(k - 1) : 0.0;
    return lsb;
}
