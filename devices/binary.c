/* SPDX-License-Identifier: MIT
 *
 * binary.c: the stochastic binary cell — a filamentary device with two
 * states, OFF (g_min) and ON (g_max), whose switching is a Poisson process
 * (Gaba et al., Nanoscale 5:5872, 2013; Ag/a-Si devices;
 * paper-tables.md §9.5). A pulse of amplitude V and width t switches
 * a cell that is not already in the target state with probability
 *
 *   P = 1 − exp(−t/τ(V)),   τ(V) = τ0·exp(−|V|/V0),
 *
 * and a train of n identical pulses, the waiting time being memoryless, with
 * P_n = 1 − exp(−n·t/τ(V)) (the pulses are independent trials of the same
 * exponential clock). Positive trains SET (OFF → ON), negative ones RESET.
 * The defaults τ0 = 2.85e5 s, V0 = 0.155 V are the fit of Jo, Kim & Lu
 * (Nano Lett. 2009) as quoted in paper-tables.md §9.5, where they are
 * marked unverified: set binary.tau0_s and binary.v0_v from the device at
 * hand. With them τ(1 V) ≈ 450 s and τ(3 V) ≈ 1.1 ms.
 *
 * Choices, and why:
 * - One law for both polarities: the source gives one τ(V) fit; a device
 *   with asymmetric switching needs two parameter sets we do not have.
 * - Device-to-device variation: ln τ0 ~ N(ln τ0, tau0_d2d²) (so τ0 is the
 *   median cell's value) and V0·(1 + v0_d2d·ξ), floored at
 *   BINARY_V0_FLOOR_FRACTION of V0 so a far tail cannot make V0 ≤ 0. Both
 *   are drawn once by `populate` and kept in the record.
 * - Temperature: the source fit has no temperature dependence and we found
 *   no published one for these devices, so temperature_k is not used.
 * - program is deterministic in intent, stochastic in effect: targets at or
 *   above the middle of [g_min, g_max] ask for ON, the others for OFF, and
 *   the programmer sends the nominal train (pulse.v_ltp_v/width_ltp_s for
 *   SET, v_ltd_v/width_ltd_s for RESET) of n = ⌈ln(1/(1 − 0.99))·τ_nom(V)/t⌉
 *   pulses — long enough for P ≥ 0.99 on the nominal device. A real cell
 *   with its own τ0, V0 switches with its own P. A cell already in the
 *   target state is left alone (no reset first: a binary cell has no
 *   intermediate state to erase). With the defaults (1 V, 100 ns) the
 *   nominal train is ≈ 2·10¹⁰ pulses (≈ 2000 s); Ag/a-Si cells are written
 *   at a few volts (τ(3 V) ≈ 1 ms), so set pulse.v_ltp_v accordingly.
 * - Endurance: every switching event is half a cycle; the window narrows
 *   about its middle by mx_device_endurance_window(cycles) (cell.c), so a
 *   worn cell's ON state is mid + w·(g_max − g_min)/2 and OFF mid − w·(…)/2.
 * - Stuck-at faults are drawn once by populate (a property of the device,
 *   not of one programming); a stuck cell never switches and sits at g_min
 *   or g_max whatever its wear.
 * - levels, d2d_sigma and prog_noise belong to the statistical cells; the
 *   validator rejects values this model would not honour.
 *
 * Record (cell_floats = 6): τ0 (s), V0 (V), state (0 OFF, 1 ON), fault
 * (0 none, 1 stuck at g_min, 2 stuck at g_max), and the switching-event
 * count as two floats (low part < 2^24 and the number of 2^24 carries), so
 * counts stay exact up to 2^48. A fresh device is OFF with no wear.
 *
 * Draws: populate spends one Philox block per cell (word 0 the fault
 * uniform, words 1–2 a Box–Muller pair: cos → ln τ0 normal, sin → V0
 * normal; word 3 unused); program and pulse one uniform per cell, whatever
 * the cell's state; read is the relative read of cell.c.
 */
#include "devices/devices.h"
#include "devices/cell_internal.h"

#include <assert.h>
#include <math.h>

enum {
    BIN_TAU0 = 0,  /* τ0 of this cell, s */
    BIN_V0,        /* V0 of this cell, V */
    BIN_STATE,     /* 0 OFF, 1 ON */
    BIN_FAULT,     /* 0 none, 1 stuck at g_min, 2 stuck at g_max */
    BIN_SWITCH_LO, /* switching events mod 2^24 */
    BIN_SWITCH_HI, /* switching events / 2^24 */
    BIN_CELL_FLOATS
};

#define BIN_FAULT_NONE 0.0f
#define BIN_FAULT_GMIN 1.0f
#define BIN_FAULT_GMAX 2.0f
/* Counts below this are exact in a float. */
#define BIN_COUNT_CARRY 16777216.0f
/* Probability the nominal programming train reaches on the nominal device. */
#define BINARY_PROGRAM_P 0.99
/* Lowest V0 a cell can draw, as a fraction of the nominal V0. */
#define BINARY_V0_FLOOR_FRACTION 0.01

static mx_status binary_validate(const mx_device_params *p)
{
    mx_status st = mx_device_validate_cell(p);
    if (st != MX_OK)
        return st;
    const mx_binary_params *b = &p->binary;
    if (!(isfinite(b->tau0_s) && b->tau0_s > 0.0))
        return mx_fail(MX_EINVAL, "hardware.device.binary.tau0_s: expected a time > 0 s, got %g",
                       b->tau0_s);
    if (!(isfinite(b->v0_v) && b->v0_v > 0.0))
        return mx_fail(MX_EINVAL, "hardware.device.binary.v0_v: expected a voltage > 0 V, got %g",
                       b->v0_v);
    if (!finite_nonneg(b->tau0_d2d))
        return mx_fail(MX_EINVAL,
                       "hardware.device.binary.tau0_d2d: expected a σ of ln τ0 >= 0, got %g",
                       b->tau0_d2d);
    if (!finite_nonneg(b->v0_d2d))
        return mx_fail(MX_EINVAL,
                       "hardware.device.binary.v0_d2d: expected a relative σ >= 0, got %g",
                       b->v0_d2d);
    if (p->levels != 0 && p->levels != 2)
        return mx_fail(MX_EINVAL,
                       "hardware.device.levels: expected 0 or 2 for the binary model (two states), "
                       "got %d",
                       p->levels);
    if (p->d2d_sigma != 0.0)
        return mx_fail(MX_EINVAL,
                       "hardware.device.d2d_sigma: expected 0 for the binary model (its variation "
                       "is binary.tau0_d2d and binary.v0_d2d), got %g",
                       p->d2d_sigma);
    for (int i = 0; i < MX_DEVICE_PROG_NOISE_ORDER; i++)
        if (p->prog_noise_coeffs[i] != 0.0)
            return mx_fail(MX_EINVAL,
                           "hardware.device.prog_noise[%d]: expected 0 for the binary model (its "
                           "states are g_min and g_max), got %g",
                           i, p->prog_noise_coeffs[i]);
    return MX_OK;
}

static void binary_populate(const mx_device_params *p, float *cells, size_t n, mx_rng *rng)
{
    const mx_binary_params *b = &p->binary;
    const double v0_floor = BINARY_V0_FLOOR_FRACTION * b->v0_v;
    for (size_t i = 0; i < n; i++) {
        float *c = cells + i * BIN_CELL_FLOATS;
        uint32_t u[4];
        mx_rng_block(rng, u);
        double fault = mx_u01(u[0]);
        double radius = sqrt(-2.0 * log(mx_u01(u[1])));
        double angle = 2.0 * M_PI * mx_u01(u[2]);
        double xi_tau = radius * cos(angle), xi_v0 = radius * sin(angle);
        double v0 = b->v0_v * (1.0 + b->v0_d2d * xi_v0);
        c[BIN_TAU0] = (float)(b->tau0_s * exp(b->tau0_d2d * xi_tau));
        c[BIN_V0] = (float)(v0 > v0_floor ? v0 : v0_floor);
        c[BIN_STATE] = 0.0f;
        c[BIN_FAULT] = fault < p->stuck_at_gmin_frac ? BIN_FAULT_GMIN
                       : fault < p->stuck_at_gmin_frac + p->stuck_at_gmax_frac ? BIN_FAULT_GMAX
                                                                               : BIN_FAULT_NONE;
        c[BIN_SWITCH_LO] = 0.0f;
        c[BIN_SWITCH_HI] = 0.0f;
    }
}

static double switch_events(const float *c)
{
    return (double)c[BIN_SWITCH_HI] * (double)BIN_COUNT_CARRY + (double)c[BIN_SWITCH_LO];
}

static void count_switch(float *c)
{
    c[BIN_SWITCH_LO] += 1.0f;
    if (c[BIN_SWITCH_LO] >= BIN_COUNT_CARRY) {
        c[BIN_SWITCH_LO] -= BIN_COUNT_CARRY;
        c[BIN_SWITCH_HI] += 1.0f;
    }
}

/* This cell's conductance bounds: the worn window, or its stuck value. */
static void cell_bounds(const mx_device_params *p, const float *c, double *lo, double *hi)
{
    if (c[BIN_FAULT] == BIN_FAULT_GMIN) {
        *lo = *hi = p->g_min_s;
        return;
    }
    if (c[BIN_FAULT] == BIN_FAULT_GMAX) {
        *lo = *hi = p->g_max_s;
        return;
    }
    /* Each end moves in by half the lost window; a fresh cell's bounds are
     * g_min and g_max exactly. */
    const double w = mx_device_endurance_window(p, 0.5 * switch_events(c));
    const double shrink = 0.5 * (1.0 - w) * (p->g_max_s - p->g_min_s);
    *lo = p->g_min_s + shrink;
    *hi = p->g_max_s - shrink;
}

static float cell_conductance(const mx_device_params *p, const float *c)
{
    double lo, hi;
    cell_bounds(p, c, &lo, &hi);
    double g = c[BIN_STATE] != 0.0f ? hi : lo;
    assert(g >= p->g_min_s && g <= p->g_max_s);
    return (float)g;
}

/* Switching time constant of one cell at |V| = v_abs. */
static double cell_tau_s(const float *c, double v_abs)
{
    return (double)c[BIN_TAU0] * exp(-v_abs / (double)c[BIN_V0]);
}

/* Drive one cell toward `on` for a total time t_total_s at |V| = v_abs,
 * using the uniform u already drawn for it. */
static void drive(float *c, int on, double v_abs, double t_total_s, double u)
{
    if (c[BIN_FAULT] != BIN_FAULT_NONE || (c[BIN_STATE] != 0.0f) == on)
        return;
    double prob = -expm1(-t_total_s / cell_tau_s(c, v_abs));
    if (u < prob) {
        c[BIN_STATE] = on ? 1.0f : 0.0f;
        count_switch(c);
    }
}

static void binary_pulse(const mx_device_params *p, float *cells, float *g_s,
                         const mx_pulse *pulses, size_t n, mx_rng *rng)
{
    for (size_t i = 0; i < n; i++) {
        float *c = cells + i * BIN_CELL_FLOATS;
        double u = mx_rng_uniform(rng);
        if (pulses[i].count != 0) {
            double v_abs, width_s;
            mx_pulse_resolve(p, &pulses[i], &v_abs, &width_s);
            double pulses_n = fabs((double)pulses[i].count);
            drive(c, pulses[i].count > 0, v_abs, pulses_n * width_s, u);
        }
        g_s[i] = cell_conductance(p, c);
    }
}

/* Total time of the nominal programming train for one polarity: the whole
 * number of pulses that brings the nominal cell to P ≥ BINARY_PROGRAM_P. */
static double nominal_train_s(const mx_device_params *p, double v_abs, double width_s)
{
    const double tau = p->binary.tau0_s * exp(-v_abs / p->binary.v0_v);
    const double pulses_n = ceil(-log1p(-BINARY_PROGRAM_P) * tau / width_s);
    return pulses_n * width_s;
}

static void binary_program(const mx_device_params *p, float *cells, const float *g_target_s,
                           float *g_out_s, size_t n, mx_rng *rng)
{
    const double mid = 0.5 * (p->g_min_s + p->g_max_s);
    const double t_set = nominal_train_s(p, p->pulse.v_ltp_v, p->pulse.width_ltp_s);
    const double t_reset = nominal_train_s(p, p->pulse.v_ltd_v, p->pulse.width_ltd_s);
    for (size_t i = 0; i < n; i++) {
        float *c = cells + i * BIN_CELL_FLOATS;
        double u = mx_rng_uniform(rng);
        double target = (double)g_target_s[i];
        target = target < p->g_min_s ? p->g_min_s : (target > p->g_max_s ? p->g_max_s : target);
        if (target >= mid)
            drive(c, 1, p->pulse.v_ltp_v, t_set, u);
        else
            drive(c, 0, p->pulse.v_ltd_v, t_reset, u);
        g_out_s[i] = cell_conductance(p, c);
    }
}

static void binary_bounds(const mx_device_params *p, const float *cells, float *g_lo_s,
                          float *g_hi_s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double lo, hi;
        cell_bounds(p, cells + i * BIN_CELL_FLOATS, &lo, &hi);
        g_lo_s[i] = (float)lo;
        g_hi_s[i] = (float)hi;
    }
}

const mx_device_type mx_device_binary = {
    .name = "binary",
    .description = "stochastic binary cell: Poisson switching with P = 1 − exp(−t/τ(V)), "
                   "τ(V) = τ0·exp(−|V|/V0); lognormal τ0 and Gaussian V0 device-to-device "
                   "variation, endurance, stuck-at faults, read noise",
    .source = "Gaba et al., Nanoscale 5:5872 (2013); τ0, V0 of Jo, Kim & Lu, Nano Lett. "
              "(2009), unverified (paper-tables.md §9.5)",
    .validate = binary_validate,
    .cell_floats = BIN_CELL_FLOATS,
    .populate = binary_populate,
    .program = binary_program,
    .amplitude_aware = 1,
    .pulse = binary_pulse,
    .read = mx_device_read_relative,
    .age = NULL, /* the two states are taken as stable in time */
    .bounds = binary_bounds,
};
