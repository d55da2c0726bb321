/* SPDX-License-Identifier: MIT
 *
 * adc.h: analog-to-digital conversion of column currents. An ADC turns a
 * current (amperes) into an integer code and back into the value that code
 * stands for; it knows nothing of what produced the current.
 *
 * The uniform ADC here is a signed, symmetric mid-rise quantiser (the
 * transfer curve of a differential SAR converter): 2^bits codes
 * k ∈ [-2^(bits-1), 2^(bits-1) - 1] standing for (k + 1/2)·Δ with
 * Δ = range/2^(bits-1); inputs beyond ±range clip to the end codes.
 */
#ifndef MX_ADC_H
#define MX_ADC_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#define MX_ADC_MAX_BITS 16

typedef enum mx_adc_kind {
    MX_ADC_NONE,    /* exact: the current passes through unquantised */
    MX_ADC_UNIFORM, /* uniform N-bit quantiser with clipping */
} mx_adc_kind;

typedef struct mx_adc_config {
    mx_adc_kind kind;        /* MX_ADC_UNIFORM */
    int bits;                /* resolution, 1..16; 8 */
    double range_percentile; /* full scale = this percentile of |I| over the
                                calibration batch, in (0, 100]; 99.9 */
} mx_adc_config;

void mx_adc_config_default(mx_adc_config *c);
/* MX_EINVAL naming the field (adc.bits, adc.range_percentile) on bad values. */
mx_status mx_adc_config_validate(const mx_adc_config *c);

typedef struct mx_adc {
    mx_adc_kind kind;
    int bits;
    double range_a;  /* full-scale current, A (> 0 once calibrated) */
    double step_a;   /* Δ, A */
    int32_t code_min, code_max;
} mx_adc;

/* Set up an ADC for a full-scale range (A). MX_EINVAL if range_a <= 0 or
 * not finite. */
mx_status mx_adc_init(mx_adc *adc, const mx_adc_config *c, double range_a);

/* Digitise n currents in place: each becomes the value of its code.
 * Returns how many of them clipped. */
size_t mx_adc_convert(const mx_adc *adc, float *current_a, size_t n);

/* One conversion, to the integer code (kind NONE: not meaningful, returns 0). */
int32_t mx_adc_code(const mx_adc *adc, double current_a);
/* The value a code stands for, A. */
double mx_adc_value(const mx_adc *adc, int32_t code);

#endif /* MX_ADC_H */
