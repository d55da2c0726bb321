/* SPDX-License-Identifier: MIT
 *
 * cell.c: what the statistical cell models (reram.c, pcm.c) share — the
 * default parameters, quantisation to levels, the checks of the conductance
 * window, levels, read noise and stuck-at fractions, and the relative
 * Gaussian read. Each model's own file adds what is particular to it.
 */
#include "devices/devices.h"
#include "devices/cell_internal.h"

#include <assert.h>
#include <math.h>

#define CELL_DEFAULT_G_MIN_S 1e-6
#define CELL_DEFAULT_G_MAX_S 1e-5
#define CELL_MAX_LEVELS 65536
/* Drift reference time and read duration of the PCM fit (Nandakumar et al.
 * 2019; aihwkit PCMLikeNoiseModel t_0 and t_read). */
#define CELL_DEFAULT_DRIFT_T0_S 20.0
#define CELL_DEFAULT_READ_TIME_S 250e-9

void mx_device_params_default(mx_device_params *p)
{
    *p = (mx_device_params){
        .g_min_s = CELL_DEFAULT_G_MIN_S,
        .g_max_s = CELL_DEFAULT_G_MAX_S,
        .levels = 0,
        .d2d_sigma = 0.0,
        .prog_noise_coeffs = {0.0, 0.0, 0.0},
        .read_noise_sigma = 0.0,
        .stuck_at_gmin_frac = 0.0,
        .stuck_at_gmax_frac = 0.0,
        .t_inference_s = 0.0,
        .drift_t0_s = CELL_DEFAULT_DRIFT_T0_S,
        .read_time_s = CELL_DEFAULT_READ_TIME_S,
        .endurance_cycles = 0.0,
        .endurance_onset = 1e3,
        .endurance_floor = 0.1,
        .temperature_k = 300.0,
        .iv = {.kind = MX_IV_LINEAR, .v_read_v = 0.2, .sinh_b_per_v = 3.0, .nl = 10.0,
               .v_write_v = 1.0},
        .pulse = {.v_ltp_v = 1.0, .width_ltp_s = 100e-9, .v_ltd_v = 1.0, .width_ltd_s = 100e-9},
        /* A symmetric, mildly nonlinear cell: saturating potentiation and
         * depression (NeuroSim's signed convention: a negative LTD label is the
         * usual saturating depression; devices/nonlinear.c). Presets
         * (devices/presets.c) set the published devices. */
        .nonlinear = {.nl_ltp = 1.0, .nl_ltd = -1.0, .states_ltp = 100, .states_ltd = 100,
                      .c2c_sigma = 0.0, .d2d_nl_sigma = 0.0},
        /* aihwkit's PulsedDevice defaults where it has them
         * (simulator/configs/devices.py; anchors-crossbar.md §2.2), with the
         * step as a fraction of a [0, 1] window. */
        .step = {.kind = MX_STEP_CONSTANT, .dw_min = 0.01, .dw_min_dtod = 0.3,
                 .dw_min_std = 0.3, .up_down = 0.0, .up_down_dtod = 0.01, .bounds_dtod = 0.0,
                 .gamma_up = 0.0, .gamma_down = 0.0, .gamma_dtod = 0.0,
                 .exp_a_up = 0.00081, .exp_a_down = 0.36833, .exp_gamma_up = 12.44625,
                 .exp_gamma_down = 12.78785, .exp_a = 0.244, .exp_b = 0.2425,
                 .pow_gamma = 1.0, .pow_gamma_dtod = 0.0},
        /* Gaba et al. 2013 form; τ0 and V0 of Jo, Kim & Lu, Nano Lett. 2009
         * (paper-tables.md §9.5). */
        .binary = {.tau0_s = 2.85e5, .v0_v = 0.155, .tau0_d2d = 0.0, .v0_d2d = 0.0},
        /* Strukov et al. 2008 values as MemTorch's LinearIonDrift; VTEAM as
         * MemTorch's VTEAM (paper-tables.md §9.1, §9.2). */
        .dynamic = {.window = MX_WINDOW_JOGLEKAR, .window_p = 1.0, .window_j = 1.0,
                    .r_on_ohm = 100.0, .r_off_ohm = 16e3, .d_m = 10e-9, .mu_v = 1e-14,
                    .x0 = 0.5, .k_on_m_per_s = -10.0, .k_off_m_per_s = 5e-4, .alpha_on = 3.0,
                    .alpha_off = 1.0, .v_on_v = -0.2, .v_off_v = 0.02, .vteam_r_on_ohm = 50.0,
                    .vteam_r_off_ohm = 1e3, .vteam_d_m = 3e-9, .vteam_iv = MX_VTEAM_IV_LINEAR,
                    .d2d_sigma_r = 0.0,
                    .ode_rel_tol = 1e-6},
        /* Stanford-PKU RRAM as MemTorch's Stanford_PKU and rram_v_1_0_0.va
         * (paper-tables.md §9.4); its ambient T0 is temperature_k. The gap
         * variation is off, as the source's default standard model. */
        .pku = {.i0_a = 1e-3, .g0_m = 0.25e-9, .v0_v = 0.25, .gap_min_m = 0.2e-9,
                .gap_max_m = 1.7e-9, .nu0_m_per_s = 10.0, .ea_ev = 0.6, .a0_m = 0.25e-9,
                .t_ox_m = 12e-9, .gamma0 = 16.0, .beta = 0.8, .f_min_v_per_m = 1.4e9,
                .r_th_k_per_w = 2.1e3, .delta_g0_m = 0.0, .t_crit_k = 450.0,
                .t_smth_k = 500.0, .d2d_sigma_nu0 = 0.0},
        .measured = {.path = "", .curve = NULL, .spread_scale = 1.0},
    };
}

mx_status mx_device_validate_cell(const mx_device_params *p)
{
    if (!(isfinite(p->g_min_s) && p->g_min_s > 0.0))
        return mx_fail(MX_EINVAL, "hardware.device.g_min_s: expected a conductance > 0 S, got %g",
                       p->g_min_s);
    if (!(isfinite(p->g_max_s) && p->g_max_s > p->g_min_s))
        return mx_fail(MX_EINVAL,
                       "hardware.device.g_min_s: expected less than hardware.device.g_max_s "
                       "(%g S), got %g S",
                       p->g_max_s, p->g_min_s);
    if (p->levels != 0 && (p->levels < 2 || p->levels > CELL_MAX_LEVELS))
        return mx_fail(MX_EINVAL,
                       "hardware.device.levels: expected 0 (continuous) or 2..%d, got %d",
                       CELL_MAX_LEVELS, p->levels);
    if (!finite_nonneg(p->read_noise_sigma))
        return mx_fail(MX_EINVAL,
                       "hardware.device.read_noise_sigma: expected a number >= 0, got %g",
                       p->read_noise_sigma);
    if (!(finite_nonneg(p->stuck_at_gmin_frac) && p->stuck_at_gmin_frac <= 1.0))
        return mx_fail(MX_EINVAL, "hardware.device.stuck_at_gmin: expected a fraction in [0, 1], got %g",
                       p->stuck_at_gmin_frac);
    if (!(finite_nonneg(p->stuck_at_gmax_frac) && p->stuck_at_gmax_frac <= 1.0))
        return mx_fail(MX_EINVAL, "hardware.device.stuck_at_gmax: expected a fraction in [0, 1], got %g",
                       p->stuck_at_gmax_frac);
    if (p->stuck_at_gmin_frac + p->stuck_at_gmax_frac > 1.0)
        return mx_fail(MX_EINVAL,
                       "hardware.device.stuck_at_gmax: expected stuck_at_gmin + stuck_at_gmax <= 1, "
                       "got %g",
                       p->stuck_at_gmin_frac + p->stuck_at_gmax_frac);
    if (!finite_nonneg(p->endurance_cycles))
        return mx_fail(MX_EINVAL,
                       "hardware.device.endurance_cycles: expected a cycle count >= 0 (0 = no "
                       "wear-out), got %g",
                       p->endurance_cycles);
    if (p->endurance_cycles > 0.0) {
        if (!(isfinite(p->endurance_onset) && p->endurance_onset >= 1.0 &&
              p->endurance_onset < p->endurance_cycles))
            return mx_fail(MX_EINVAL,
                           "hardware.device.endurance_onset: expected 1 <= onset < "
                           "endurance_cycles (%g), got %g",
                           p->endurance_cycles, p->endurance_onset);
        if (!(finite_nonneg(p->endurance_floor) && p->endurance_floor <= 1.0))
            return mx_fail(MX_EINVAL,
                           "hardware.device.endurance_floor: expected a fraction in [0, 1], got %g",
                           p->endurance_floor);
    }
    if (!(isfinite(p->temperature_k) && p->temperature_k > 0.0))
        return mx_fail(MX_EINVAL, "hardware.device.temperature_k: expected a temperature > 0 K, got %g",
                       p->temperature_k);
    const mx_iv_params *iv = &p->iv;
    if (iv->kind != MX_IV_LINEAR && iv->kind != MX_IV_SINH && iv->kind != MX_IV_NEUROSIM)
        return mx_fail(MX_EINVAL, "hardware.device.iv.kind: expected linear, sinh or neurosim");
    if (!(isfinite(iv->v_read_v) && iv->v_read_v > 0.0))
        return mx_fail(MX_EINVAL, "hardware.device.iv.v_read_v: expected a voltage > 0 V, got %g",
                       iv->v_read_v);
    if (iv->kind == MX_IV_SINH && !(isfinite(iv->sinh_b_per_v) && iv->sinh_b_per_v > 0.0))
        return mx_fail(MX_EINVAL, "hardware.device.iv.sinh_b_per_v: expected a number > 0 1/V, got %g",
                       iv->sinh_b_per_v);
    if (iv->kind == MX_IV_NEUROSIM) {
        if (!(isfinite(iv->nl) && iv->nl >= 1.0))
            return mx_fail(MX_EINVAL,
                           "hardware.device.iv.nl: expected a current ratio >= 1, got %g", iv->nl);
        if (!(isfinite(iv->v_write_v) && iv->v_write_v > 0.0))
            return mx_fail(MX_EINVAL, "hardware.device.iv.v_write_v: expected a voltage > 0 V, got %g",
                           iv->v_write_v);
    }
    const mx_pulse_params *pp = &p->pulse;
    if (!(isfinite(pp->v_ltp_v) && pp->v_ltp_v > 0.0))
        return mx_fail(MX_EINVAL, "hardware.device.pulse.v_ltp_v: expected a voltage > 0 V, got %g",
                       pp->v_ltp_v);
    if (!(isfinite(pp->v_ltd_v) && pp->v_ltd_v > 0.0))
        return mx_fail(MX_EINVAL, "hardware.device.pulse.v_ltd_v: expected a voltage > 0 V, got %g",
                       pp->v_ltd_v);
    if (!(isfinite(pp->width_ltp_s) && pp->width_ltp_s > 0.0))
        return mx_fail(MX_EINVAL, "hardware.device.pulse.width_ltp_s: expected a time > 0 s, got %g",
                       pp->width_ltp_s);
    if (!(isfinite(pp->width_ltd_s) && pp->width_ltd_s > 0.0))
        return mx_fail(MX_EINVAL, "hardware.device.pulse.width_ltd_s: expected a time > 0 s, got %g",
                       pp->width_ltd_s);
    return MX_OK;
}

double mx_device_quantise(const mx_device_params *p, double g_target_s)
{
    double g = clamp(g_target_s, p->g_min_s, p->g_max_s);
    if (p->levels >= 2) {
        double step = (p->g_max_s - p->g_min_s) / (double)(p->levels - 1);
        double k = nearbyint((g - p->g_min_s) / step);
        /* The top level is g_max itself: g_min + (levels − 1)·step can land an
         * ulp either side of it. */
        g = k >= (double)(p->levels - 1) ? p->g_max_s : p->g_min_s + k * step;
    }
    return g;
}

void mx_device_read_relative(const mx_device_params *p, const float *g_s, float *g_read_s,
                             size_t n, mx_rng *rng)
{
    const double sigma = p->read_noise_sigma;
    for (size_t i = 0; i < n; i++) {
        double g = (double)g_s[i];
        if (sigma > 0.0) {
            g *= 1.0 + sigma * mx_rng_normal(rng);
            if (g < 0.0)
                g = 0.0;
        }
        g_read_s[i] = (float)g;
    }
}

/* Cells programmed per chunk by mx_device_program: the records live on the
 * stack (64 × 16 floats = 4 KiB). */
#define PROGRAM_CHUNK 64

void mx_device_program(const mx_device_type *type, const mx_device_params *p,
                       const float *g_target_s, float *g_out_s, size_t n, mx_rng *rng)
{
    if (type->cell_floats == 0) {
        type->program(p, NULL, g_target_s, g_out_s, n, rng);
        return;
    }
    assert(type->populate && type->cell_floats <= MX_DEVICE_CELL_FLOATS_MAX);
    float cells[PROGRAM_CHUNK * MX_DEVICE_CELL_FLOATS_MAX];
    for (size_t i = 0; i < n; i += PROGRAM_CHUNK) {
        size_t m = n - i < PROGRAM_CHUNK ? n - i : PROGRAM_CHUNK;
        type->populate(p, cells, m, rng);
        type->program(p, cells, g_target_s + i, g_out_s + i, m, rng);
    }
}

double mx_device_current(const mx_device_params *p, double g_s, double v_v)
{
    const mx_iv_params *iv = &p->iv;
    const double vr = iv->v_read_v;
    switch (iv->kind) {
    case MX_IV_SINH:
        return g_s * vr * sinh(iv->sinh_b_per_v * v_v) / sinh(iv->sinh_b_per_v * vr);
    case MX_IV_NEUROSIM: {
        /* I = G(V)·V with G(V) = G(V_r)·(V_r/V)·NL^((V − V_r)/(V_w/2)); odd in
         * V, 0 at 0 (the published form holds for V > 0 only). */
        if (v_v == 0.0)
            return 0.0;
        double a = fabs(v_v);
        double i = g_s * vr * pow(iv->nl, (a - vr) / (0.5 * iv->v_write_v));
        return v_v > 0.0 ? i : -i;
    }
    case MX_IV_LINEAR:
    default:
        return g_s * v_v;
    }
}

double mx_device_endurance_window(const mx_device_params *p, double cycles)
{
    if (p->endurance_cycles <= 0.0 || cycles <= p->endurance_onset)
        return 1.0;
    if (cycles >= p->endurance_cycles)
        return p->endurance_floor;
    double f = log(cycles / p->endurance_onset) / log(p->endurance_cycles / p->endurance_onset);
    return 1.0 - (1.0 - p->endurance_floor) * f;
}

void mx_pulse_resolve(const mx_device_params *p, const mx_pulse *pulse, double *amplitude_v,
                      double *width_s)
{
    const int up = pulse->count >= 0;
    double a = (double)pulse->amplitude_v, w = (double)pulse->width_s;
    *amplitude_v = a > 0.0 ? a : (up ? p->pulse.v_ltp_v : p->pulse.v_ltd_v);
    *width_s = w > 0.0 ? w : (up ? p->pulse.width_ltp_s : p->pulse.width_ltd_s);
}
