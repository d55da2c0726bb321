/* SPDX-License-Identifier: MIT
 *
 * drift.h: drift compensation estimated at read time, as a chip does it
 * (issue 7, item 4). A phase-change cell's conductance decays as
 * G(t) = G(t0)·(t/t0)^(−ν) with a spread of ν (devices/pcm.c), so every
 * column current shrinks by a factor the hardware does not know. Global
 * drift compensation (GDC, Joshi et al., Nat. Commun. 11:2473, 2020; also
 * aihwkit's GlobalDriftCompensation) measures it: a fixed calibration input
 * is applied right after programming (t0) and again at read time t, the sum
 * of |outputs| over the columns is taken both times, and every output is
 * multiplied digitally by α = Σ|y(t0)| / Σ|y(t)|.
 *
 *   program ──► t0 reference, mx_matmul_create (crossbar.h: the calibration
 *   vectors of hardware.drift_compensation, read noise, exact conversion)
 *   ──► age to t ──► ADC range calibrated on the drifted currents
 *   ──► mx_drift_compensate: the same vectors through mx_matmul_forward (read
 *   noise, the calibrated ADC, everything) ──► α, or α_o per column ──►
 *   mx_matmul_set_output_correction (digital, after the ADC).
 *
 * The gain is digital after the ADC: the ADC sees the drifted currents it
 * was calibrated on, and the correction costs one multiply per output.
 *
 * Scheduled recalibration (hardware.drift_compensation.recalibrate_every_s
 * = τ_c > 0; crossbar.h mx_time_schedule): the factors applied at the
 * cells' age a are those a chip measured at its last recalibration, at age
 * a_c = τ_c·floor(a/τ_c): the same vectors, read noise and ADC, on the array
 * re-aged to a_c (mx_matmul_set_age: the same cells, the same drift
 * exponents), against the same t0 reference; the array is then aged back to
 * a. Drift between a_c and a stays uncompensated. Before the first
 * recalibration (a < τ_c) only the t0 reference exists: the correction is
 * the identity. τ_c = 0 measures at a itself, as before; so does any a that
 * is a multiple of τ_c, bit for bit.
 */
#ifndef MX_DRIFT_H
#define MX_DRIFT_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "crossbar/crossbar.h"

/* What one compensation measured and cost. */
typedef struct mx_drift_result {
    mx_drift_mode mode;       /* the matmul's hardware.drift_compensation.mode */
    double alpha;             /* global factor Σ|y(t0)| / Σ|y(t)| (1 when mode none;
                                 per-column mode reports it too) */
    double abs_sum_t0;        /* Σ|y| of the reference, weight units */
    double abs_sum_t;         /* Σ|y| at read time, weight units */
    uint64_t forward_calls;   /* calibration forward calls: at t0 and at t */
    mx_matmul_stats stats;    /* their activity (t0 and t), for energy/ to price */
    mx_matmul_stats stats_t;  /* the measurement's alone (zero when none was made) */
    double measured_age_s;    /* cells' age when the factors were measured (the
                                 schedule's recal_age_s); NaN when none was (mode none,
                                 or the t0 reference only) */
} mx_drift_result;

/* Re-measure the drift of `mm` with its calibration vectors and set its
 * output correction from the ratio to the reference taken at programming:
 * mode global: gain α for every column; per-column: α_o = ref_o / now_o for
 * each column (α where either sum is 0). The correction is reset to the
 * identity before the reads (they see raw outputs) and set after them.
 * Vector v's read noise comes from stream "drift.read", item item_base + v
 * of `seed` (keep it apart from the evaluation's items). With a
 * recalibration period the measurement is made at the schedule's
 * recal_age_s (array re-aged there and back), or not at all before the
 * first recalibration (correction: the identity). The ADC must
 * already be set (mx_matmul_set_adc_range or calibration/). Mode none:
 * nothing is read or changed, *out says so. MX_EINVAL (no reference
 * measured, or it is 0: nothing to compare), MX_ENUMERIC (every output 0 at
 * read time), MX_ENOMEM; on failure the correction is the identity.
 * OUT: *out (may be NULL). */
mx_status mx_drift_compensate(mx_matmul *mm, uint64_t seed, uint64_t item_base,
                              mx_drift_result *out);

#endif /* MX_DRIFT_H */
