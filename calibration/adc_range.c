/* SPDX-License-Identifier: MIT
 *
 * adc_range.c: ADC range calibration from a calibration batch — the column
 * currents are profiled before the ADC and the full scale is set to a
 * percentile of their magnitudes (the "percentile" calibration of CrossSim
 * and aihwkit's calibrated input ranges; anchors-crossbar.md §1).
 * Clipping the rare largest currents buys resolution for the common ones.
 */
#include "calibration/calibration.h"

#include <math.h>
#include <string.h>

#include <gsl/gsl_statistics_float.h>

/* Pre-ADC currents kept per layer: enough for a stable 99.9th percentile. */
#define CALIB_MAX_SAMPLES ((size_t)4 << 20)
/* Full scale used while profiling: far above any column current. */
#define CALIB_PROFILE_RANGE_A 1.0

double mx_percentile_abs(float *values, size_t n, double percentile)
{
    if (n == 0)
        return 0.0;
    for (size_t i = 0; i < n; i++)
        values[i] = fabsf(values[i]);
    /* The quantile of sorted data, linear between ranks (GSL's definition),
     * from two quickselects instead of a full sort: O(n), not O(n log n). */
    double pos = (percentile / 100.0) * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    double frac = pos - (double)lo;
    double v_lo = (double)gsl_stats_float_select(values, 1, n, lo);
    if (frac == 0.0 || lo + 1 >= n)
        return v_lo;
    /* After the select, everything above index lo is >= v_lo: the next
     * order statistic is the smallest of them. */
    float v_hi = values[lo + 1];
    for (size_t i = lo + 2; i < n; i++)
        v_hi = values[i] < v_hi ? values[i] : v_hi;
    return v_lo + frac * ((double)v_hi - v_lo);
}

/* Profile layer l: every image gets an equal slice of the sample buffer and
 * keeps every stride-th current it offers; images run in parallel, each
 * with its own stream item, and the slices are joined in image order — the
 * same samples at any thread count. OUT: *count samples at the buffer start. */
static mx_status profile_layer(mx_snn *net, size_t l, const float *x, size_t n, size_t n_in,
                               uint64_t seed, uint64_t item_base, float *buf, size_t *count)
{
    const mx_matmul *mm = mx_snn_backend(net, l);
    const size_t quota = CALIB_MAX_SAMPLES / n;
    const size_t offered = mx_snn_get_config(net)->timesteps * mx_matmul_n_row_tiles(mm) *
                           mx_matmul_input_passes(mm) * mx_matmul_currents_per_read(mm);
    size_t *got = mx_calloc(n, sizeof(size_t));
    if (!got)
        return mx_fail(MX_ENOMEM, "ADC calibration: out of memory");
    mx_status status = MX_OK;
    char message[2048] = "";
#pragma omp parallel
    {
        mx_snn_state *s = NULL;
        mx_status st = mx_snn_state_create(net, &s);
#pragma omp for schedule(dynamic, 4)
        for (size_t i = 0; i < n; i++) {
            mx_current_recorder rec = {.values = buf + i * quota,
                                       .capacity = quota,
                                       .stride = offered / quota + 1};
            if (!st)
                st = mx_snn_run_record(net, s, x + i * n_in, seed, item_base + i, l, &rec);
            got[i] = rec.count;
        }
        if (st) {
#pragma omp critical(calib_error)
            if (!status) {
                status = st;
                mx_error_copy(message, sizeof message);
            }
        }
        mx_snn_state_destroy(s);
    }
    if (status) {
        mx_error_set(message);
    } else {
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            memmove(buf + k, buf + i * quota, got[i] * sizeof(float));
            k += got[i];
        }
        *count = k;
    }
    mx_free(got);
    return status;
}

mx_status mx_calibrate_adc_ranges(mx_snn *net, const float *x, size_t n, size_t n_in,
                                  double percentile, uint64_t seed, uint64_t item_base,
                                  double *range_a)
{
    const size_t L = mx_snn_n_layers(net);
    mx_matmul *mm[MX_SNN_MAX_LAYERS] = {0};
    for (size_t l = 0; l < L; l++) {
        mm[l] = mx_snn_backend(net, l);
        if (range_a)
            range_a[l] = 0.0;
    }
    if (n == 0 || n > CALIB_MAX_SAMPLES)
        return mx_fail(MX_EINVAL, "ADC calibration: expected 1..%zu examples, got %zu",
                       CALIB_MAX_SAMPLES, n);
    /* The backends come off the network and go back one layer at a time:
     * layer l is profiled with layers < l calibrated and layers > l digital. */
    for (size_t l = 0; l < L; l++)
        mx_snn_set_backend(net, l, NULL);
    float *buf = NULL;
    mx_status st = MX_OK;
    for (size_t l = 0; l < L && !st; l++) {
        if (!mm[l])
            continue;
        mx_snn_set_backend(net, l, mm[l]);
        if ((st = mx_matmul_set_adc_range(mm[l], CALIB_PROFILE_RANGE_A)))
            break;
        if (!buf && !(buf = mx_alloc(CALIB_MAX_SAMPLES * sizeof(float)))) {
            st = mx_fail(MX_ENOMEM, "ADC calibration: out of memory");
            break;
        }
        size_t count = 0;
        if ((st = profile_layer(net, l, x, n, n_in, seed, item_base, buf, &count)))
            break;
        double r = mx_percentile_abs(buf, count, percentile);
        if (!(r > 0.0)) {
            st = mx_fail(MX_ENUMERIC,
                         "ADC calibration: layer %zu saw no current on %zu calibration examples",
                         l, n);
            break;
        }
        st = mx_matmul_set_adc_range(mm[l], r);
        if (range_a)
            range_a[l] = r;
    }
    for (size_t l = 0; l < L; l++)
        mx_snn_set_backend(net, l, mm[l]);
    mx_free(buf);
    return st;
}
