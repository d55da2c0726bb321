/* SPDX-License-Identifier: MIT
 *
 * drift.c: global and per-column drift compensation at read time (see
 * drift.h for the data flow). The estimate is the ratio of two measurements
 * of the same calibration vectors through the same array: Σ_v Σ_o |y_v[o]|
 * at t0 (kept by the matmul) and now. With G(t) = G(t0)·κ and one κ for
 * every cell the ratio is exactly 1/κ; with a per-cell exponent it is the
 * |output|-weighted mean decay, which is what restores the layer's scale
 * (Joshi et al. 2020, "global drift compensation"). Per column, the ratio
 * per column also follows columns whose cells drift more (PCM's ν depends
 * on the programmed state, so a column of small weights decays differently
 * from a column of large ones); its estimate rests on 1/n_out of the reads
 * and is noisier — the comparison is the point of having both.
 *
 * Choices, and why:
 * - Σ|y| rather than Σy: the sum of signed outputs of a differential array
 *   can cancel to near 0; the magnitudes cannot (aihwkit does the same).
 * - The calibration vectors are binary, at full scale, sparse
 *   (hardware.drift_compensation.density, default 10 %): every input mode
 *   reads them exactly (no DAC rounding), and at the density of the
 *   network's own inputs their column currents sit inside the ADC range
 *   calibrated on real data, so the t measurement is not clipped. An
 *   all-ones vector would drive every row and clip a percentile-ranged ADC.
 * - Read noise at t is drawn from its own stream: the two measurements are
 *   independent reads, as on a chip.
 * - No offset is estimated: drift scales conductances, and both cells of a
 *   pair scale, so the error is a gain (the hook takes an offset for the
 *   per-column calibration of issue 7 item 3).
 * - Scheduled recalibration (drift.h): a recalibration at age a_c reads the
 *   calibration vectors at a_c against the t0 reference, which is never
 *   re-taken until the chip is reprogrammed: the reference is the scale the
 *   weights were mapped to, what every later measurement is held to. It
 *   goes through the ADC the evaluation uses (calibrated at t in this flow),
 *   so a period that divides the age gives the bits of τ_c = 0.
 */
#include "calibration/drift.h"

#include <math.h>

mx_status mx_drift_compensate(mx_matmul *mm, uint64_t seed, uint64_t item_base,
                              mx_drift_result *out)
{
    const mx_drift_mode mode = mx_matmul_config(mm)->drift.mode;
    mx_drift_result r = {.mode = mode, .alpha = 1.0, .measured_age_s = (double)NAN};
    if (out)
        *out = r;
    if (mode == MX_DRIFT_NONE)
        return MX_OK;
    mx_time_schedule sched;
    mx_matmul_time_schedule(mm, &sched);
    mx_drift_reference ref;
    mx_matmul_drift_reference(mm, &ref);
    if (ref.vectors == 0 || !(ref.abs_sum > 0.0))
        return mx_fail(MX_EINVAL,
                       "drift compensation: expected a reference measured at programming "
                       "(hardware.drift_compensation.mode set when the matmul was created) with "
                       "a non-zero output, got %zu vectors summing to %g",
                       ref.vectors, ref.abs_sum);
    mx_status st = mx_matmul_set_output_correction(mm, NULL, NULL);
    if (st)
        return st;
    if (!sched.recalibrated) { /* the t0 reference only: nothing measured since */
        r.stats = ref.stats;
        r.forward_calls = ref.vectors;
        r.abs_sum_t0 = r.abs_sum_t = ref.abs_sum;
        if (out)
            *out = r;
        return MX_OK;
    }
    /* A recalibration before now reads the array as it was then. */
    const int earlier = sched.recal_age_s < sched.age_s;
    if (earlier && (st = mx_matmul_set_age(mm, sched.recal_age_s)))
        return st;
    r.measured_age_s = sched.recal_age_s;
    const size_t n_in = mx_matmul_n_in(mm), n_out = mx_matmul_n_out(mm);
    float *x = mx_alloc(n_in * sizeof(float)), *y = mx_alloc(n_out * sizeof(float));
    double *now = mx_calloc(n_out, sizeof(double)), *gain = mx_alloc(n_out * sizeof(double));
    mx_matmul_work *w = NULL;
    st = x && y && now && gain ? mx_matmul_work_create(mm, &w)
                               : mx_fail(MX_ENOMEM, "drift compensation: out of memory");
    const uint32_t stream = mx_stream_id("drift.read");
    r.stats = ref.stats;
    r.forward_calls = ref.vectors;
    for (size_t v = 0; v < ref.vectors && !st; v++) {
        mx_rng rng;
        mx_rng_init(&rng, seed, stream, item_base + v);
        mx_matmul_drift_input(mm, v, x);
        mx_matmul_forward(mm, w, x, y, &rng, &r.stats, NULL);
        r.forward_calls++;
        for (size_t o = 0; o < n_out; o++)
            now[o] += fabs((double)y[o]);
    }
    /* The measurement's own activity: counts exact, the power sum to rounding. */
    r.stats_t = (mx_matmul_stats){
        .conversions = r.stats.conversions - ref.stats.conversions,
        .clipped = r.stats.clipped - ref.stats.clipped,
        .reads = r.stats.reads - ref.stats.reads,
        .row_drives = r.stats.row_drives - ref.stats.row_drives,
        .partial_sums = r.stats.partial_sums - ref.stats.partial_sums,
        .read_passes = r.stats.read_passes - ref.stats.read_passes,
        .cell_power_w = r.stats.cell_power_w - ref.stats.cell_power_w,
    };
    if (earlier) { /* back to the evaluation's age, whatever happened above */
        mx_status back = mx_matmul_set_age(mm, sched.age_s);
        if (!st)
            st = back;
    }
    r.abs_sum_t0 = ref.abs_sum;
    for (size_t o = 0; o < n_out && !st; o++) /* column order: thread-independent */
        r.abs_sum_t += now[o];
    if (!st && !(r.abs_sum_t > 0.0))
        st = mx_fail(MX_ENUMERIC,
                     "drift compensation: every output of the %zu calibration vectors is 0 at "
                     "read time (the array drifted to nothing, or the ADC range rounds it away)",
                     ref.vectors);
    if (!st) {
        r.alpha = r.abs_sum_t0 / r.abs_sum_t;
        for (size_t o = 0; o < n_out; o++)
            gain[o] = mode == MX_DRIFT_PER_COLUMN && now[o] > 0.0 && ref.col_abs_sum[o] > 0.0
                          ? ref.col_abs_sum[o] / now[o]
                          : r.alpha;
        st = mx_matmul_set_output_correction(mm, gain, NULL);
    }
    mx_matmul_work_destroy(w);
    mx_free(x);
    mx_free(y);
    mx_free(now);
    mx_free(gain);
    if (st)
        return st;
    if (out)
        *out = r;
    return MX_OK;
}
