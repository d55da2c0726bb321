/* SPDX-License-Identifier: MIT
 *
 * reram.c: the statistical ReRAM cell — the first model behind the device
 * table. It describes what programming and reading do to a cell's
 * conductance without integrating the switching physics (dynamic models join
 * the registry later):
 *
 *   program: target ─clamp to [g_min, g_max]─► quantise to `levels` ─► stuck?
 *            ─► × lognormal D2D factor ─► + state-dependent Gaussian
 *            programming noise ─► clamp to [g_min, g_max]
 *   read:    g · (1 + σ_read·ξ), ξ ~ N(0, 1) afresh at every read, ≥ 0
 *
 * D2D: g ← g·exp(s·ξ − s²/2) with s² = ln(1 + σ²), so E[g] is unchanged and
 * std/mean = σ exactly (moments of the lognormal distribution).
 * Programming noise: σ_p = g_max·(c0 + c1·ĝ + c2·ĝ²), ĝ = g_target/g_max — the
 * polynomial form of Nandakumar et al. (ICECS 2019) used for PCM; with
 * c = (0.0105392, 0.0786, −0.046924) and g_max = 25 µS it is their fit
 * (σ[µS] = 0.26348 + 1.9650ĝ − 1.1731ĝ²; paper-tables.md §6.2).
 * Stuck-at faults (a fraction of cells stuck at g_min or g_max regardless of
 * target) are drawn per cell at programming. Defaults, quantisation, the
 * shared checks and the read live in cell.c; the cell does not age.
 *
 * Draws: each cell spends exactly one Philox block of 4 words whatever the
 * parameters, so streams stay aligned: word 0 is the fault uniform, words 1–2
 * a Box–Muller pair giving the D2D normal (cos branch) and the programming
 * normal (sin branch); word 3 is unused. The transcendental work is skipped
 * when a component is off.
 */
#include "devices/devices.h"
#include "devices/cell_internal.h"

#include <assert.h>
#include <math.h>

static mx_status reram_validate(const mx_device_params *p)
{
    mx_status st = mx_device_validate_cell(p);
    if (st != MX_OK)
        return st;
    if (!finite_nonneg(p->d2d_sigma))
        return mx_fail(MX_EINVAL, "hardware.device.d2d_sigma: expected a number >= 0, got %g",
                       p->d2d_sigma);
    for (int i = 0; i < MX_DEVICE_PROG_NOISE_ORDER; i++)
        if (!isfinite(p->prog_noise_coeffs[i]))
            return mx_fail(MX_EINVAL, "hardware.device.prog_noise[%d]: expected a finite number",
                           i);
    return MX_OK;
}

static void reram_program(const mx_device_params *p, float *cells, const float *g_target_s,
                          float *g_out_s, size_t n, mx_rng *rng)
{
    (void)cells; /* no per-cell record */
    const double s2 = log1p(p->d2d_sigma * p->d2d_sigma);
    const double s = sqrt(s2);
    const double c0 = p->prog_noise_coeffs[0], c1 = p->prog_noise_coeffs[1],
                 c2 = p->prog_noise_coeffs[2];
    const int any_prog = c0 != 0.0 || c1 != 0.0 || c2 != 0.0;
    const int any_noise = s > 0.0 || any_prog;
    for (size_t i = 0; i < n; i++) {
        uint32_t u[4];
        mx_rng_block(rng, u);
        double fault = mx_u01(u[0]);
        double xi_d2d = 0.0, xi_prog = 0.0;
        if (any_noise) {
            /* Box–Muller in single precision: the draws end in float
             * conductances, and logf/sincosf cost a third of log/sin/cos —
             * this function runs for every cell at every minibatch of
             * noise-aware training. */
            float radius = sqrtf(-2.0f * logf((float)mx_u01(u[1])));
            float sn, cs;
            float angle = (float)(2.0 * M_PI * mx_u01(u[2]));
            sn = sinf(angle);
            cs = cosf(angle);
            xi_d2d = (double)(radius * cs);
            xi_prog = any_prog ? (double)(radius * sn) : 0.0;
        }
        double g;
        if (fault < p->stuck_at_gmin_frac) {
            g = p->g_min_s;
        } else if (fault < p->stuck_at_gmin_frac + p->stuck_at_gmax_frac) {
            g = p->g_max_s;
        } else {
            double target = mx_device_quantise(p, (double)g_target_s[i]);
            double g_hat = target / p->g_max_s;
            double sigma_prog = p->g_max_s * (c0 + c1 * g_hat + c2 * g_hat * g_hat);
            g = s > 0.0 ? target * (double)expf((float)(s * xi_d2d - 0.5 * s2)) : target;
            if (sigma_prog > 0.0)
                g += sigma_prog * xi_prog;
            g = clamp(g, p->g_min_s, p->g_max_s);
        }
        assert(g >= p->g_min_s && g <= p->g_max_s);
        g_out_s[i] = (float)g;
    }
}

const mx_device_type mx_device_reram = {
    .name = "reram",
    .description = "statistical ReRAM cell: finite levels, lognormal device-to-device "
                   "variation, state-dependent programming noise, read noise, stuck-at faults",
    .source = "statistical form; programming-noise polynomial of Nandakumar et al., ICECS 2019",
    .validate = reram_validate,
    .cell_floats = 0,
    .populate = NULL,
    .program = reram_program,
    .pulse = NULL,
    .read = mx_device_read_relative,
    .age = NULL, /* ReRAM conductances are taken as stable in time here */
};
