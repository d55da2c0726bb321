/* SPDX-License-Identifier: MIT
 *
 * pcm.c: the statistical phase-change-memory cell of Nandakumar et al.
 * (ICECS 2019), fitted on a million-device IBM PCM array and used by Joshi
 * et al. (Nat. Commun. 11:2473, 2020) and aihwkit's PCMLikeNoiseModel; the
 * equations are those of paper-tables.md §6.2. It describes what happens to
 * a cell's conductance, not the crystallisation physics:
 *
 *   program: target ─clamp to [g_min, g_max]─► quantise to `levels` ─► stuck?
 *            ─► + N(0, σ_prog(ĝ)) ─► clamp at 0
 *   age(t):  g_prog·((t + t0)/t0)^(−ν), ν = |N(μ_ν(ĝ_T), σ_ν(ĝ_T))|
 *            ─► + N(0, g_drift·Q_s(ĝ_P)·sqrt(ln((t + t_read)/(2 t_read))))
 *            ─► clamp at 0
 *   read:    g·(1 + σ_read·ξ), as reram (cell.c)
 *
 * ĝ_T = target/g_max sets the drift exponent, ĝ_P = g_prog/g_max the 1/f
 * amplitude, as in aihwkit (the noise belongs to the state the cell is in).
 *
 * Choices, and why:
 * - Programming noise is the published fit, not d2d_sigma/prog_noise: the
 *   validator rejects non-zero values of those, so a config cannot believe
 *   it set a variation the model does not draw.
 * - The programmed value is clamped at 0 only, as aihwkit does. g_max is
 *   where the mapping puts the largest weight, not a ceiling of a PCM cell;
 *   clipping the upper tail at ĝ = 1 would bias those cells' mean by
 *   −0.4 σ_prog (the half-normal mean). Cells may likewise fall below g_min
 *   (and drift takes every cell lower), so the invariant is g ≥ 0.
 * - t counts from the reference read at t0 where g_prog is observed (drift
 *   is referenced to it, aihwkit's convention). The 1/f term takes the noise
 *   accumulated over t itself, so at t = 0 the cell is exactly g_prog (the
 *   programming-noise fit already holds what that read sees). aihwkit puts
 *   t + t0 in the logarithm instead; for t ≥ 1 h the two σ differ by < 0.02 %,
 *   at t = 0 aihwkit adds a further 3.7 % (ĝ = 1) on top of σ_prog.
 *
 * Draws: every cell spends exactly one Philox block in program (word 0 the
 * fault uniform, words 1–2 a Box–Muller pair, cos branch = programming
 * normal) and one in age (words 0–1 a Box–Muller pair: cos = drift-exponent
 * normal, sin = 1/f normal), whatever the parameters, so streams stay
 * aligned.
 */
#include "devices/pcm.h"
#include "devices/cell_internal.h"

#include <assert.h>
#include <math.h>

#include "devices/devices.h"

/* Reference g_max of the published coefficients (µS fit at 25 µS). */
#define PCM_FIT_G_MAX_S 25e-6
#define PCM_MICROSIEMENS 1e-6
/* Floor of ĝ under the logarithms of the drift fit (aihwkit _ZERO_CLIP). */
#define PCM_G_HAT_FLOOR 1e-7
/* Floor of ĝ^0.65 in Q_s (aihwkit). */
#define PCM_Q_POW_FLOOR 1e-3

double mx_pcm_prog_sigma_s(double g_hat, double g_max_s)
{
    double s_us = -1.1731 * g_hat * g_hat + 1.9650 * g_hat + 0.26348;
    return (s_us > 0.0 ? s_us : 0.0) * PCM_MICROSIEMENS * (g_max_s / PCM_FIT_G_MAX_S);
}

double mx_pcm_drift_mean(double g_hat)
{
    double l = log(g_hat > PCM_G_HAT_FLOOR ? g_hat : PCM_G_HAT_FLOOR);
    return clamp(-0.0155 * l + 0.0244, 0.049, 0.1);
}

double mx_pcm_drift_std(double g_hat)
{
    double l = log(g_hat > PCM_G_HAT_FLOOR ? g_hat : PCM_G_HAT_FLOOR);
    return clamp(-0.0125 * l - 0.0059, 0.008, 0.045);
}

double mx_pcm_q_s(double g_hat)
{
    double a = pow(g_hat > 0.0 ? g_hat : 0.0, 0.65);
    double q = 0.0088 / (a > PCM_Q_POW_FLOOR ? a : PCM_Q_POW_FLOOR);
    return q < 0.2 ? q : 0.2;
}

double mx_pcm_read_sigma_rel(double g_hat, double t_s, double read_time_s)
{
    if (!(t_s > read_time_s))
        return 0.0; /* the logarithm would be ≤ 0: no noise accumulated yet */
    return mx_pcm_q_s(g_hat) * sqrt(log((t_s + read_time_s) / (2.0 * read_time_s)));
}

static mx_status pcm_validate(const mx_device_params *p)
{
    mx_status st = mx_device_validate_cell(p);
    if (st != MX_OK)
        return st;
    if (p->d2d_sigma != 0.0)
        return mx_fail(MX_EINVAL,
                       "hardware.device.d2d_sigma: expected 0 for the pcm model (it draws its "
                       "own published programming noise), got %g",
                       p->d2d_sigma);
    for (int i = 0; i < MX_DEVICE_PROG_NOISE_ORDER; i++)
        if (p->prog_noise_coeffs[i] != 0.0)
            return mx_fail(MX_EINVAL,
                           "hardware.device.prog_noise[%d]: expected 0 for the pcm model (it "
                           "draws its own published programming noise), got %g",
                           i, p->prog_noise_coeffs[i]);
    if (!(isfinite(p->t_inference_s) && p->t_inference_s >= 0.0))
        return mx_fail(MX_EINVAL, "hardware.device.t_inference_s: expected a time >= 0 s, got %g",
                       p->t_inference_s);
    if (!(isfinite(p->drift_t0_s) && p->drift_t0_s > 0.0))
        return mx_fail(MX_EINVAL, "hardware.device.drift_t0_s: expected a time > 0 s, got %g",
                       p->drift_t0_s);
    if (!(isfinite(p->read_time_s) && p->read_time_s > 0.0))
        return mx_fail(MX_EINVAL, "hardware.device.read_time_s: expected a time > 0 s, got %g",
                       p->read_time_s);
    return MX_OK;
}

static void pcm_program(const mx_device_params *p, float *cells, const float *g_target_s,
                          float *g_out_s, size_t n, mx_rng *rng)
{
    (void)cells; /* no per-cell record */
    const double stuck_min = p->stuck_at_gmin_frac;
    const double stuck_any = p->stuck_at_gmin_frac + p->stuck_at_gmax_frac;
    for (size_t i = 0; i < n; i++) {
        uint32_t u[4];
        mx_rng_block(rng, u);
        double fault = mx_u01(u[0]);
        double g;
        if (fault < stuck_min) {
            g = p->g_min_s;
        } else if (fault < stuck_any) {
            g = p->g_max_s;
        } else {
            double target = mx_device_quantise(p, (double)g_target_s[i]);
            assert(target >= p->g_min_s && target <= p->g_max_s);
            /* Box–Muller in single precision, as reram: programming runs for
             * every cell at every minibatch of noise-aware training. */
            float radius = sqrtf(-2.0f * logf((float)mx_u01(u[1])));
            float angle = (float)(2.0 * M_PI * mx_u01(u[2]));
            double xi = (double)(radius * cosf(angle));
            g = target + mx_pcm_prog_sigma_s(target / p->g_max_s, p->g_max_s) * xi;
            if (g < 0.0)
                g = 0.0; /* no negative conductance; no ceiling (see above) */
        }
        assert(isfinite(g) && g >= 0.0);
        g_out_s[i] = (float)g;
    }
}

static void pcm_age(const mx_device_params *p, const float *g_target_s, const float *g_prog_s,
                    float *g_out_s, size_t n, double t_s, mx_rng *rng)
{
    assert(isfinite(t_s) && t_s >= 0.0);
    const double t0 = p->drift_t0_s;
    const double log_ratio = log((t_s + t0) / t0); /* ln of the drift time ratio, ≥ 0 */
    const int drifts = t_s > 0.0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u[4];
        mx_rng_block(rng, u);
        const double g_prog = (double)g_prog_s[i];
        double g = g_prog;
        if (drifts) {
            /* Double precision: ageing runs once per programmed array, and the
             * drift factor's mean depends on the normal's tails. */
            double radius = sqrt(-2.0 * log(mx_u01(u[0])));
            double angle = 2.0 * M_PI * mx_u01(u[1]);
            double xi_nu = radius * cos(angle), xi_noise = radius * sin(angle);
            double gt_hat = (double)g_target_s[i] / p->g_max_s;
            double nu = fabs(mx_pcm_drift_mean(gt_hat) + mx_pcm_drift_std(gt_hat) * xi_nu);
            g = g_prog * exp(-nu * log_ratio);
            double sigma_rel = mx_pcm_read_sigma_rel(g_prog / p->g_max_s, t_s, p->read_time_s);
            g += g * sigma_rel * xi_noise;
            if (g < 0.0)
                g = 0.0;
        }
        assert(isfinite(g) && g >= 0.0);
        g_out_s[i] = (float)g;
    }
}

const mx_device_type mx_device_pcm = {
    .name = "pcm",
    .description = "statistical PCM cell (Nandakumar et al. 2019; aihwkit PCMLikeNoiseModel): "
                   "state-dependent programming noise, drift with a per-cell exponent, "
                   "accumulated 1/f read noise, read noise, stuck-at faults",
    .source = "Nandakumar et al., ICECS 2019; Joshi et al., Nat. Commun. 11:2473, 2020; "
              "aihwkit PCMLikeNoiseModel",
    .validate = pcm_validate,
    .cell_floats = 0,
    .populate = NULL,
    .program = pcm_program,
    .pulse = NULL,
    .read = mx_device_read_relative,
    .age = pcm_age,
};
