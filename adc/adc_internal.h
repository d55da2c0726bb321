/* SPDX-License-Identifier: MIT
 *
 * adc_internal.h: what the ADC kinds' files share inside adc/ (not part of
 * the public API): the uniform grid, and each kind's setup and conversion.
 */
#ifndef MX_ADC_INTERNAL_H
#define MX_ADC_INTERNAL_H

#include "adc/adc.h"

size_t mx_adc_n_codes(const mx_adc *adc);
void mx_adc_uniform_grid(int bits, mx_adc_polarity polarity, double range_a, double *step_a,
                         int32_t *code_min, int32_t *code_max);

/* table.c: lloyd-max and log, a threshold table searched by bisection. */
mx_status mx_adc_table_setup(mx_adc *a, const mx_adc_config *c, const mx_adc_fit *fit);
size_t mx_adc_table_index(const mx_adc *adc, double x);
size_t mx_adc_table_convert(const mx_adc *adc, float *current_a, size_t n);
void mx_adc_log_curve(const mx_adc_config *c, double range_a, double *threshold_a,
                      double *level_a);

/* sar.c: sar and sense-amp. */
mx_status mx_adc_sar_setup(mx_adc *a, const mx_adc_config *c, const mx_adc_layout *layout);
int32_t mx_adc_sar_code(const mx_adc *adc, double x, size_t instance, double noise_lsb);
size_t mx_adc_sar_convert(const mx_adc *adc, float *current_a, size_t n, size_t bank,
                          size_t column_stride, mx_rng *rng);

#endif /* MX_ADC_INTERNAL_H */
