/* SPDX-License-Identifier: MIT
 *
 * uniform.c: the uniform N-bit ADC — a signed, symmetric mid-rise quantiser
 * with clipping (see adc.h for the transfer curve), and the exact
 * pass-through used as the ideal reference.
 */
#include "adc/adc.h"

#include <math.h>

#define ADC_DEFAULT_BITS 8
#define ADC_DEFAULT_RANGE_PERCENTILE 99.9

void mx_adc_config_default(mx_adc_config *c)
{
    *c = (mx_adc_config){
        .kind = MX_ADC_UNIFORM,
        .bits = ADC_DEFAULT_BITS,
        .range_percentile = ADC_DEFAULT_RANGE_PERCENTILE,
    };
}

mx_status mx_adc_config_validate(const mx_adc_config *c)
{
    if (c->kind != MX_ADC_NONE && c->kind != MX_ADC_UNIFORM)
        return mx_fail(MX_EINVAL, "hardware.adc.type: expected uniform or none");
    if (c->kind == MX_ADC_UNIFORM && (c->bits < 1 || c->bits > MX_ADC_MAX_BITS))
        return mx_fail(MX_EINVAL, "hardware.adc.bits: expected an integer in [1, %d], got %d",
                       MX_ADC_MAX_BITS, c->bits);
    if (!(c->range_percentile > 0.0 && c->range_percentile <= 100.0))
        return mx_fail(MX_EINVAL,
                       "hardware.adc.range_percentile: expected a number in (0, 100], got %g",
                       c->range_percentile);
    return MX_OK;
}

mx_status mx_adc_init(mx_adc *adc, const mx_adc_config *c, double range_a)
{
    if (!(isfinite(range_a) && range_a > 0.0))
        return mx_fail(MX_EINVAL, "ADC full-scale range: expected a current > 0 A, got %g", range_a);
    mx_status st = mx_adc_config_validate(c);
    if (st)
        return st;
    adc->kind = c->kind;
    adc->bits = c->bits;
    adc->range_a = range_a;
    if (c->kind == MX_ADC_UNIFORM) {
        int32_t half = (int32_t)1 << (c->bits - 1);
        adc->step_a = range_a / (double)half;
        adc->code_min = -half;
        adc->code_max = half - 1;
    } else {
        adc->step_a = 0.0;
        adc->code_min = adc->code_max = 0;
    }
    return MX_OK;
}

int32_t mx_adc_code(const mx_adc *adc, double current_a)
{
    if (adc->kind != MX_ADC_UNIFORM)
        return 0;
    double k = floor(current_a / adc->step_a);
    if (k < adc->code_min)
        return adc->code_min;
    if (k > adc->code_max)
        return adc->code_max;
    return (int32_t)k;
}

double mx_adc_value(const mx_adc *adc, int32_t code) { return ((double)code + 0.5) * adc->step_a; }

size_t mx_adc_convert(const mx_adc *adc, float *current_a, size_t n)
{
    if (adc->kind != MX_ADC_UNIFORM)
        return 0;
    const float inv_step = (float)(1.0 / adc->step_a);
    const float step = (float)adc->step_a;
    const float kmin = (float)adc->code_min, kmax = (float)adc->code_max;
    const float lo = kmin - 1.0f, hi = kmax + 1.0f;
    /* Written as selects so the compiler vectorises it: a tile read converts
     * hundreds of currents at once (an integer count vectorises; a float sum
     * would not without reassociation). */
    uint32_t clipped = 0;
    for (size_t i = 0; i < n; i++) {
        const float x = current_a[i];
        float q = x * inv_step;
        q = q > lo ? q : lo; /* NaN lands on lo, never in the int cast */
        q = q < hi ? q : hi;
        float k = (float)(int32_t)q;
        k = k > q ? k - 1.0f : k; /* floor */
        clipped += (k < kmin) | (k > kmax);
        k = k > kmin ? k : kmin;
        k = k < kmax ? k : kmax;
        /* x − x is 0 for a finite current and NaN otherwise: a NaN or
         * infinite current comes out NaN for the caller's finiteness check. */
        current_a[i] = (k + 0.5f) * step + (x - x);
    }
    return clipped;
}
