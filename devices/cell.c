/* SPDX-License-Identifier: MIT
 *
 * cell.c: what the statistical cell models (reram.c, pcm.c) share — the
 * default parameters, quantisation to levels, the checks of the conductance
 * window, levels, read noise and stuck-at fractions, and the relative
 * Gaussian read. Each model's own file adds what is particular to it.
 */
#include "devices/devices.h"

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
    };
}

static int finite_nonneg(double x) { return isfinite(x) && x >= 0.0; }

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
    return MX_OK;
}

static double clamp(double x, double lo, double hi) { return x < lo ? lo : (x > hi ? hi : x); }

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
