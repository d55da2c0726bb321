/* SPDX-License-Identifier: MIT
 *
 * sar.c: the successive-approximation ADC as a circuit (sar), and the
 * 1-bit sense amplifier (sense-amp) as its one-decision special case.
 *
 * Circuit. A charge-redistribution SAR (McCreary & Gray, JSSC 1975) samples
 * the input on a binary-weighted capacitor DAC of b capacitors
 * C_i = 2^i·C_u (i = 0 .. b−1, LSB first) plus a dummy unit C_d = C_u that
 * makes the total 2^b·C_u, and decides one bit per clock, MSB first: with
 * the bits decided so far D, it tries D + 2^i and keeps the bit when the
 * input is at or above the DAC level of the trial code,
 *     V_DAC(d) = S·Σ_i d_i·C_i / C_total,    C_total = Σ_i C_i + C_d,
 * over the input span S (2R signed, offset-binary around −R; R unsigned).
 * That is b comparator decisions per conversion. Inputs are currents here
 * (the column current, or the charge it integrates, in current units), so S
 * and every level are in amperes.
 *
 * Non-idealities, drawn per instance from stream "adc.instance" (item =
 * layout item_base + instance; b + 2 normal draws, always, in this order:
 * capacitors 0 .. b−1, dummy, offset):
 * - capacitor mismatch: every unit capacitor is C_u·(1 + σ_u·ξ), so C_i, the
 *   sum of 2^i independent units, is 2^i·C_u·(1 + σ_u·ξ_i/√(2^i)) in
 *   distribution (Pelgrom: relative σ falls as 1/√area), and the dummy
 *   C_u·(1 + σ_u·ξ_d); σ_u = cap_mismatch_sigma. A capacitor is never
 *   negative (clamped at 0; σ_u ≤ 1 is enforced).
 * - comparator offset: V_os = offset_sigma_lsb·Δ·ξ_os, fixed per instance.
 * - input-referred noise: one N(0, (noise_sigma_lsb·Δ)²) draw per conversion
 *   added to the sampled input (kT/C sampling noise and the comparator's
 *   noise lumped at the input, as the SAR models of the ADC surveys do); the
 *   decisions of one conversion then see the same noisy sample.
 * The digital output is the code; its value is the nominal (k + 1/2)·Δ —
 * the digital side does not know its ADC's mismatch.
 *
 * With σ_u = offset = noise = 0 the DAC levels are S·d/2^b exactly (powers
 * of two), the search is a binary search over the ideal thresholds and the
 * result is the uniform mid-rise quantiser, code for code. With mismatch the
 * DAC can be non-monotone; the SAR result stays monotone in the input (each
 * decision is monotone in it and a larger input never takes a lower branch),
 * so transition levels and INL/DNL are well defined (adc/linearity.c). The
 * DNL at the MSB transition (code 2^(b−1) − 1 of the offset-binary code) is
 * the classic worst case: its width is C_{b−1} − Σ_{i<b−1} C_i, variance
 * ≈ σ_u²·(2^b − 1) LSB² (tests/test_adc.c checks the exact first-order form
 * with the terminal-based LSB).
 *
 * Instances: one ADC per columns_per_adc adjacent columns of a tile, per row
 * tile and per slice (adc.h, mx_adc_layout) — the physical converters, so a
 * column always meets the same mismatch and a shared ADC's columns share it.
 *
 * sense-amp: a latch comparator against the middle of the span (0 signed,
 * R/2 unsigned), offset and noise as above with Δ its LSB (R signed, R/2
 * unsigned); one decision, one offset draw per instance (item as above).
 */
#include "adc/adc.h"
#include "adc/adc_internal.h"

#include <assert.h>
#include <math.h>

#define SAR_STREAM "adc.instance"

mx_status mx_adc_sar_setup(mx_adc *a, const mx_adc_config *c, const mx_adc_layout *layout)
{
    const size_t b = (size_t)a->bits;
    a->inv_step = 1.0 / a->step_a;
    a->noise_lsb = c->noise_sigma_lsb;
    const size_t doubles = mx_size_mul(a->instances, b + 1);
    if (doubles == 0 || doubles > SIZE_MAX / sizeof(double))
        return mx_fail(MX_EINVAL, "ADC layout: %zu instances is too many", a->instances);
    a->mem = mx_alloc(doubles * sizeof(double));
    if (!a->mem)
        return mx_fail(MX_ENOMEM, "ADC: out of memory for %zu SAR instances", a->instances);
    a->dac_lsb = a->mem;
    a->offset_lsb = a->dac_lsb + a->instances * b;
    const uint32_t stream = mx_stream_id(SAR_STREAM);
    const double su = c->cap_mismatch_sigma, so = c->offset_sigma_lsb;
    const double codes = ldexp(1.0, (int)b);
    for (size_t i = 0; i < a->instances; i++) {
        mx_rng r;
        mx_rng_init(&r, layout->seed, stream, layout->item_base + i);
        double *dac = a->dac_lsb + i * b;
        if (c->kind == MX_ADC_SENSE_AMP) {
            dac[0] = 1.0; /* the comparator's reference: mid-span, one LSB up */
            a->offset_lsb[i] = so * mx_rng_normal(&r);
            continue;
        }
        double total = 0.0;
        for (size_t k = 0; k < b; k++) {
            const double units = ldexp(1.0, (int)k);
            const double xi = mx_rng_normal(&r);
            double cap = su > 0.0 ? units * (1.0 + su * xi / sqrt(units)) : units;
            cap = cap > 0.0 ? cap : 0.0;
            dac[k] = cap;
            total += cap;
        }
        const double xi_d = mx_rng_normal(&r);
        const double dummy = su > 0.0 ? 1.0 + su * xi_d : 1.0;
        total += dummy > 0.0 ? dummy : 0.0;
        /* Ideal parts: total is 2^b and every step 2^k, exactly. */
        for (size_t k = 0; k < b; k++)
            dac[k] = total > 0.0 ? dac[k] * (codes / total) : 0.0;
        a->offset_lsb[i] = so * mx_rng_normal(&r);
    }
    return MX_OK;
}

/* The successive approximation of one sample (u = input/Δ, in LSB, noise
 * included) by instance `inst`. Working in LSB keeps the ideal converter
 * exact: its trial levels are whole numbers, so "u ≥ trial" is
 * "⌊x/Δ⌋ ≥ trial", the uniform quantiser's own test. */
static inline int32_t sar_search(const mx_adc *adc, double u, size_t inst)
{
    const size_t b = (size_t)adc->bits;
    const double *dac = adc->dac_lsb + inst * b;
    /* The comparator sees the input plus its offset against the DAC, whose
     * zero is the bottom of the span, code_min LSB. */
    u += adc->offset_lsb[inst];
    double level = (double)adc->code_min;
    uint32_t code = 0;
    for (size_t k = b; k-- > 0;) {
        const double trial = level + dac[k];
        if (u >= trial) {
            level = trial;
            code |= (uint32_t)1 << k;
        }
    }
    return adc->code_min + (int32_t)code;
}

int32_t mx_adc_sar_code(const mx_adc *adc, double x, size_t instance, double noise_lsb)
{
    assert(instance < adc->instances);
    return sar_search(adc, x / adc->step_a + noise_lsb, instance);
}

size_t mx_adc_sar_convert(const mx_adc *adc, float *current_a, size_t n, size_t bank,
                          size_t column_stride, mx_rng *rng)
{
    size_t clipped = 0;
    const int noisy = rng && adc->noise_lsb > 0.0;
    const double lo = adc->clip_lo_a, hi = adc->clip_hi_a;
    for (size_t i = 0; i < n; i++) {
        const float x = current_a[i];
        const double xd = (double)x;
        const size_t inst = mx_adc_instance(adc, bank, i * column_stride);
        assert(inst < adc->instances);
        const double noise = noisy ? adc->noise_lsb * mx_rng_normal(rng) : 0.0;
        clipped += (xd < lo) | (xd >= hi);
        const int32_t k = sar_search(adc, xd / adc->step_a + noise, inst);
        /* x − x keeps a NaN or infinite current NaN (see uniform.c). */
        current_a[i] = (float)(((double)k + 0.5) * adc->step_a) + (x - x);
    }
    return clipped;
}
