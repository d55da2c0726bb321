/* SPDX-License-Identifier: MIT
 *
 * calibration.h: mitigation strategies that act on crossbars, ADCs and SNN
 * thresholds and produce plain corrections that the lower layers apply. This
 * version holds the ADC calibration the end-to-end sweep needs: full scale
 * by percentile, max or minimum MSE, and Lloyd–Max levels (adc_range.c).
 */
#ifndef MX_CALIBRATION_H
#define MX_CALIBRATION_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "snn/ann.h"
#include "snn/snn.h"

/* Calibrate the column ADCs of every analog layer of `net` from a
 * calibration batch: layer by layer (each layer's currents depend on the
 * ADCs before it), the column currents seen while running `n` examples `x`
 * (n, n_in) are collected and the layer's ADC is fitted to them by
 * mx_adc_fit_currents with the layer's ADC config (range_mode; lloyd-max
 * levels), `percentile` standing in for its range_percentile. Layers
 * without an analog backend, or with ADC type none, are skipped. Streams
 * are keyed by `seed` and items item_base + i (keep them apart from the
 * evaluation's items). OUT: range_a[l] for every layer, the full scale (a
 * lloyd-max ADC: mx_adc_fitted_full_scale; 0 for digital layers); may be NULL.
 * MX_ENUMERIC if a layer sees no current at all. */
mx_status mx_calibrate_adc_ranges(mx_snn *net, const float *x, size_t n, size_t n_in,
                                  double percentile, uint64_t seed, uint64_t item_base,
                                  double *range_a);

/* The same calibration for the ANN on the crossbar (snn/ann.h): layer by
 * layer, the column currents of one forward pass per example (layers < l
 * calibrated, layers > l not run) fitted as above. Layers with ADC type
 * none are skipped (range_a 0). Same streams, errors and OUT as
 * mx_calibrate_adc_ranges. */
mx_status mx_calibrate_ann_adc_ranges(mx_ann *net, const float *x, size_t n, size_t n_in,
                                      double percentile, uint64_t seed, uint64_t item_base,
                                      double *range_a);

/* Fit one ADC of config `c` to column currents x[0..n) (A; reordered in
 * place): the full scale by c->range_mode — max |x|, the range_percentile
 * of |x|, or the range minimising the MSE of the kind's nominal transfer
 * curve on the samples (see adc_range.c) — or, for lloyd-max, the Lloyd–Max
 * thresholds and levels (range_mode ignored). `table` holds 2·2^bits
 * doubles; OUT fit (its arrays point into table), mse (may be NULL: the
 * mean squared error of the result on the samples, A²; asking for it sorts
 * the samples even in the O(n) max and percentile modes). MX_EINVAL (bad
 * config, type none, n == 0), MX_ENUMERIC (a current not finite, or all 0),
 * MX_ENOMEM. */
mx_status mx_adc_fit_currents(const mx_adc_config *c, float *x, size_t n, double *table,
                              mx_adc_fit *fit, double *mse);

/* Fit one layer's ADC (matmul mm) to the `count` column currents profiled
 * in buf (reordered in place) on n calibration examples, with the matmul's
 * ADC config at `percentile` in place of its range_percentile, and set it
 * (mx_adc_fit_currents, mx_matmul_set_adc_fit) — the step every calibration
 * above repeats per layer, for callers that profile currents their own way.
 * *table is the fit's scratch, allocated on first use (2·2^bits doubles;
 * the caller frees it once). `l` only names the layer in messages.
 * MX_ENUMERIC if every current is 0, MX_ENOMEM. OUT: *range_a (may be NULL). */
mx_status mx_calibrate_matmul_adc(mx_matmul *mm, size_t l, size_t n, float *buf, size_t count,
                                  double percentile, double **table, double *range_a);

/* Currents profiled in parallel land in per-example slices: example i's
 * got[i] values at buf + i·quota. Move them together in example order (the
 * order that keeps a calibration independent of the thread count) and
 * return how many there are. */
size_t mx_calibration_join(float *buf, size_t quota, const size_t *got, size_t n);

/* The p-th percentile (p in (0, 100]) of |values[0..n)|. */
double mx_percentile_abs(float *values, size_t n, double percentile);

#endif /* MX_CALIBRATION_H */
