/* SPDX-License-Identifier: MIT
 *
 * calibration.h: mitigation strategies that act on crossbars, ADCs and SNN
 * thresholds and produce plain corrections that the lower layers apply. This
 * version holds the ADC range calibration the end-to-end sweep needs.
 */
#ifndef MX_CALIBRATION_H
#define MX_CALIBRATION_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "snn/snn.h"

/* Set the ADC full scale of every analog layer of `net` from a calibration
 * batch: layer by layer (each layer's currents depend on the ADCs before
 * it), the column currents seen while running `n` examples `x` (n, n_in) are
 * collected, and the range is the `percentile` of their magnitudes. Layers
 * without an analog backend are skipped. Streams are keyed by `seed` and
 * items item_base + i (keep them apart from the evaluation's items).
 * OUT: range_a[l] for every layer (0 for digital layers); may be NULL.
 * MX_ENUMERIC if a layer sees no current at all. */
mx_status mx_calibrate_adc_ranges(mx_snn *net, const float *x, size_t n, size_t n_in,
                                  double percentile, uint64_t seed, uint64_t item_base,
                                  double *range_a);

/* The p-th percentile (p in (0, 100]) of |values[0..n)|. */
double mx_percentile_abs(float *values, size_t n, double percentile);

#endif /* MX_CALIBRATION_H */
