/* SPDX-License-Identifier: MIT
 *
 * step.c: aihwkit's pulsed "update once" device models — constant step,
 * linear step, soft bounds, exponential step and power step — as one device
 * type, "step", chosen by p->step.kind. Each potentiating (depressing) pulse
 * moves a cell's state by one step whose size depends on the state; the
 * pulse trains come from the crossbar's in-situ updates or from open-loop
 * programming. Equations: aihwkit `simulator/configs/devices.py`
 * (PulsedDevice, ConstantStepDevice, LinearStepDevice, SoftBoundsDevice,
 * ExpStepDevice, PowStepDevice documentation; Gokmen & Vlasov 2016; Fusi &
 * Abbott 2007 for PowStep); anchors-crossbar.md §2.2.
 *
 * State. w = (g − g_min)/(g_max − g_min) is aihwkit's weight, the
 * conductance normalised to the window: nominal bounds b_min = 0, b_max = 1.
 * aihwkit's weights are zero-centred (default [−0.6, 0.6]); the affine map
 * w = (w_a − w_min)/(w_max − w_min) takes its zero to the window middle. So
 * dw_min here = aihwkit dw_min/(w_max − w_min) (0.001 → 0.00083), bounds_dtod
 * = aihwkit w_max_dtod·w_max/(w_max − w_min) (0.3 → 0.15), and every
 * dimensionless parameter (up_down, γ, ExpStep A, γ, a, b, PowStep γ) keeps
 * its meaning because each is written below in scale-free terms — distances
 * to the middle m = (b_min + b_max)/2 and to the bounds, over the span.
 *
 * Per cell (populate, D2D; ξ standard normals, one each):
 *   β       = up_down + up_down_dtod·ξ₁
 *   Δw^±    = dw_min·|1 ± β + dw_min_dtod·ξ₂|   (one ξ₂ for both directions,
 *             aihwkit's Δw^d = d·Δw_min(1 + dβ + σ_dtod ξ); |·| as aihwkit's
 *             enforce_consistency, which flips a step of the wrong sign)
 *   b_min   = bounds_dtod·ξ₃,  b_max = 1 + bounds_dtod·ξ₄ (swapped if crossed,
 *             floored at the conductance 0)
 *   γ^±     = |gamma_up/down + gamma_dtod·ξ₅,₆|  (linear; 1, no D2D, for soft
 *             bounds, as aihwkit's SoftBoundsDevice)
 *   γ_pow   = |pow_gamma·(1 + pow_gamma_dtod·ξ₇)|
 *   stuck   = at g_min with probability stuck_at_gmin, at g_max with stuck_at_gmax
 * Wear: the window [b_min, b_max] narrows about its middle to the fraction
 * f = mx_device_endurance_window(cycles) (cell.c); lo, hi below are the worn
 * bounds, m = (lo + hi)/2, span = hi − lo. cycles = polarity reversals / 2
 * (a SET–RESET cycle reverses the polarity twice).
 *
 * One pulse in direction d = ±1 (the "update once"):
 *   w ← clip(w + d·Δw^d·F_d(w)·(1 + dw_min_std·ξ), lo, hi)
 *   constant:     F = 1
 *   linear:       F_+ = max(0, 1 − γ⁺(w − m)/(hi − m)),
 *                 F_− = max(0, 1 − γ⁻(m − w)/(m − lo))
 *                 (aihwkit: Δw(1 + γ_ij w) with γ_ij^+ = −|γ⁺|/b_max; the step
 *                 is Δw in the middle and Δw(1 − γ) at the bound it approaches)
 *   soft bounds:  linear with γ = 1: F_+ = 2(hi − w)/span, 0 at the bound
 *   exp:          z = 2a(w − m)/span + b, F_+ = max(0, 1 − A_up·e^{γ_up z}),
 *                 F_− = max(0, 1 − A_down·e^{−γ_down z})
 *   pow:          ω = (hi − w)/span, F_+ = ω^γ_pow, F_− = (1 − ω)^γ_pow
 * C2C noise is multiplicative, as aihwkit's defaults for every kind
 * (LinearStep/SoftBounds mult_noise = True; ExpStep with dw_min_std_add =
 * dw_min_std_slope = 0 reduces to σ·|Δw_actual|). σ_c2c = dw_min_std.
 *
 * Choices, and why:
 * - The middle m is the cell's own (worn) middle, not a fixed 1/2: aihwkit's
 *   zero stays put while its bounds vary, but with wear or bound D2D a fixed
 *   reference can fall outside the window and the linear step would divide
 *   by a vanishing distance. Without D2D and wear the two agree exactly.
 * - The linear and exp factors are floored at 0 (aihwkit's max(y, 0) for
 *   ExpStep; its allow_increasing = False for LinearStep): a pulse never moves
 *   the state backwards; γ > 1 makes a soft bound inside the window.
 * - Pulse amplitude and width are ignored: aihwkit's models are defined per
 *   nominal pulse, with no voltage or time dependence.
 * - Programming (open loop) resets the cell to its lower bound, then sends
 *   the number of up pulses that takes the NOMINAL device (no D2D, no noise,
 *   no wear, Δw⁺ = dw_min(1 + up_down)) closest to the target:
 *   round(target_w/Δw⁺) for constant step, the nominal curve walked pulse by
 *   pulse otherwise. The cell's own steps and noise then decide where it
 *   lands. The reset is a depressing event and the pulses a potentiating one
 *   for the cycle count.
 * - aihwkit's write noise (write_noise_std, a hidden weight under an
 *   apparent one), decay, diffusion, drift and reset_std are not modelled.
 *
 * Draws: populate spends exactly 3 Philox blocks per cell (word 0 the fault
 * uniform, then Box–Muller pairs for ξ₁..ξ₇). program and pulse spend exactly
 * one block per cell from the caller's stream, whatever the parameters and
 * pulse counts: its 4 words key a private per-cell Philox stream from which
 * the cell draws its variable number of C2C normals. So adding a pulse to one
 * cell, or switching noise on, leaves every other cell's draws alone.
 */
#include "devices/devices.h"
#include "devices/cell_internal.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>

/* The cell record (cell_floats = STEP_CELL_FLOATS). */
enum {
    STEP_DW_UP = 0,     /* Δw⁺ > 0, fraction of the window */
    STEP_DW_DOWN,       /* Δw⁻ > 0 */
    STEP_B_MIN,         /* lower bound before wear, fraction of the window */
    STEP_B_MAX,         /* upper bound before wear */
    STEP_GAMMA_UP,      /* linear-step γ⁺ ≥ 0 */
    STEP_GAMMA_DOWN,    /* γ⁻ ≥ 0 */
    STEP_POW_GAMMA,     /* power-step exponent ≥ 0 */
    STEP_FAULT,         /* STEP_HEALTHY, STEP_STUCK_MIN or STEP_STUCK_MAX */
    STEP_REVERSALS_HI,  /* polarity reversals = hi·2^24 + lo: each part stays */
    STEP_REVERSALS_LO,  /*   an integer below 2^24, exact in a float */
    STEP_LAST_POLARITY, /* +1, −1, or 0 (never pulsed) */
    STEP_CELL_FLOATS
};

enum { STEP_HEALTHY = 0, STEP_STUCK_MIN = 1, STEP_STUCK_MAX = 2 };

#define STEP_REVERSAL_RADIX 16777216.0 /* 2^24: floats hold integers below it exactly */
/* Programming walks the nominal curve until the next nominal step is below
 * this fraction of dw_min (the curve has saturated at a soft bound). */
#define STEP_PROGRAM_SATURATED 1e-3

_Static_assert(STEP_CELL_FLOATS <= MX_DEVICE_CELL_FLOATS_MAX, "step record too large");

static mx_status step_validate(const mx_device_params *p)
{
    mx_status st = mx_device_validate_cell(p);
    if (st != MX_OK)
        return st;
    const mx_step_params *s = &p->step;
    if (s->kind < MX_STEP_CONSTANT || s->kind > MX_STEP_POW)
        return mx_fail(MX_EINVAL,
                       "hardware.device.step.kind: expected constant, linear, soft-bounds, exp "
                       "or pow, got %d",
                       (int)s->kind);
    if (!(isfinite(s->dw_min) && s->dw_min > 0.0 && s->dw_min <= 1.0))
        return mx_fail(MX_EINVAL,
                       "hardware.device.step.dw_min: expected a step in (0, 1] of the window, "
                       "got %g",
                       s->dw_min);
    const struct {
        const char *name;
        double value;
    } sigmas[] = {
        {"dw_min_dtod", s->dw_min_dtod},   {"dw_min_std", s->dw_min_std},
        {"up_down_dtod", s->up_down_dtod}, {"bounds_dtod", s->bounds_dtod},
        {"gamma_up", s->gamma_up},         {"gamma_down", s->gamma_down},
        {"gamma_dtod", s->gamma_dtod},     {"pow_gamma_dtod", s->pow_gamma_dtod},
    };
    for (size_t i = 0; i < sizeof sigmas / sizeof sigmas[0]; i++)
        if (!finite_nonneg(sigmas[i].value))
            return mx_fail(MX_EINVAL, "hardware.device.step.%s: expected a number >= 0, got %g",
                           sigmas[i].name, sigmas[i].value);
    if (!(isfinite(s->up_down) && fabs(s->up_down) < 1.0))
        return mx_fail(MX_EINVAL,
                       "hardware.device.step.up_down: expected an asymmetry in (-1, 1) (nominal "
                       "steps dw_min(1 ± up_down) > 0), got %g",
                       s->up_down);
    const struct {
        const char *name;
        double value;
    } exps[] = {
        {"exp_a_up", s->exp_a_up},         {"exp_a_down", s->exp_a_down},
        {"exp_gamma_up", s->exp_gamma_up}, {"exp_gamma_down", s->exp_gamma_down},
        {"exp_a", s->exp_a},               {"exp_b", s->exp_b},
    };
    for (size_t i = 0; i < sizeof exps / sizeof exps[0]; i++)
        if (!isfinite(exps[i].value))
            return mx_fail(MX_EINVAL, "hardware.device.step.%s: expected a finite number, got %g",
                           exps[i].name, exps[i].value);
    if (!(isfinite(s->pow_gamma) && s->pow_gamma > 0.0))
        return mx_fail(MX_EINVAL, "hardware.device.step.pow_gamma: expected an exponent > 0, got %g",
                       s->pow_gamma);
    return MX_OK;
}

/* A Box–Muller pair from two words: OUT z0 (cos branch), z1 (sin branch). */
static void box_muller(uint32_t a, uint32_t b, double *z0, double *z1)
{
    double r = sqrt(-2.0 * log(mx_u01(a)));
    double angle = 2.0 * M_PI * mx_u01(b);
    *z0 = r * cos(angle);
    *z1 = r * sin(angle);
}

static void step_populate(const mx_device_params *p, float *cells, size_t n, mx_rng *rng)
{
    const mx_step_params *s = &p->step;
    const double window = p->g_max_s - p->g_min_s;
    const double b_floor = -p->g_min_s / window; /* w of the conductance 0 */
    const int soft = s->kind == MX_STEP_SOFT_BOUNDS;
    for (size_t i = 0; i < n; i++) {
        float *c = cells + i * STEP_CELL_FLOATS;
        uint32_t u[4], v[4], t[4];
        mx_rng_block(rng, u);
        mx_rng_block(rng, v);
        mx_rng_block(rng, t);
        double xi_ud, xi_dw, xi_bmin, xi_bmax, xi_gup, xi_gdown, xi_pow, unused;
        box_muller(u[1], u[2], &xi_ud, &xi_dw);
        box_muller(v[0], v[1], &xi_bmin, &xi_bmax);
        box_muller(v[2], v[3], &xi_gup, &xi_gdown);
        box_muller(t[0], t[1], &xi_pow, &unused);
        (void)unused;

        double beta = s->up_down + s->up_down_dtod * xi_ud;
        c[STEP_DW_UP] = (float)(s->dw_min * fabs(1.0 + beta + s->dw_min_dtod * xi_dw));
        c[STEP_DW_DOWN] = (float)(s->dw_min * fabs(1.0 - beta + s->dw_min_dtod * xi_dw));

        double lo = s->bounds_dtod * xi_bmin, hi = 1.0 + s->bounds_dtod * xi_bmax;
        if (hi < lo) {
            double x = lo;
            lo = hi;
            hi = x;
        }
        c[STEP_B_MIN] = (float)(lo > b_floor ? lo : b_floor);
        c[STEP_B_MAX] = (float)(hi > b_floor ? hi : b_floor);

        c[STEP_GAMMA_UP] = soft ? 1.0f : (float)fabs(s->gamma_up + s->gamma_dtod * xi_gup);
        c[STEP_GAMMA_DOWN] = soft ? 1.0f : (float)fabs(s->gamma_down + s->gamma_dtod * xi_gdown);
        c[STEP_POW_GAMMA] = (float)fabs(s->pow_gamma * (1.0 + s->pow_gamma_dtod * xi_pow));

        double fault = mx_u01(u[0]);
        c[STEP_FAULT] = fault < p->stuck_at_gmin_frac ? (float)STEP_STUCK_MIN
                        : fault < p->stuck_at_gmin_frac + p->stuck_at_gmax_frac
                            ? (float)STEP_STUCK_MAX
                            : (float)STEP_HEALTHY;
        c[STEP_REVERSALS_HI] = 0.0f;
        c[STEP_REVERSALS_LO] = 0.0f;
        c[STEP_LAST_POLARITY] = 0.0f;
    }
}

/* What one cell's steps depend on, in window units. */
typedef struct step_cell {
    mx_step_kind kind;
    double dw_up, dw_down;     /* Δw⁺, Δw⁻ > 0 */
    double lo, hi, mid, span;  /* worn bounds, their middle and distance */
    double gamma_up, gamma_down, pow_gamma;
    double exp_a_up, exp_a_down, exp_gamma_up, exp_gamma_down, exp_a, exp_b;
} step_cell;

static double reversals(const float *c)
{
    return (double)c[STEP_REVERSALS_HI] * STEP_REVERSAL_RADIX + (double)c[STEP_REVERSALS_LO];
}

/* Record a pulse train of polarity d (±1): one reversal when it differs from
 * the last train's. */
static void note_polarity(float *c, int d)
{
    float last = c[STEP_LAST_POLARITY];
    if (last != 0.0f && last != (float)d) {
        double lo = (double)c[STEP_REVERSALS_LO] + 1.0;
        if (lo >= STEP_REVERSAL_RADIX) {
            lo = 0.0;
            c[STEP_REVERSALS_HI] += 1.0f;
        }
        c[STEP_REVERSALS_LO] = (float)lo;
    }
    c[STEP_LAST_POLARITY] = (float)d;
}

static void exp_params(const mx_step_params *s, step_cell *k)
{
    k->exp_a_up = s->exp_a_up;
    k->exp_a_down = s->exp_a_down;
    k->exp_gamma_up = s->exp_gamma_up;
    k->exp_gamma_down = s->exp_gamma_down;
    k->exp_a = s->exp_a;
    k->exp_b = s->exp_b;
}

/* The cell as it is now: its D2D parameters and its window after wear. */
static void cell_state(const mx_device_params *p, const float *c, step_cell *k)
{
    k->kind = p->step.kind;
    k->dw_up = (double)c[STEP_DW_UP];
    k->dw_down = (double)c[STEP_DW_DOWN];
    double b_min = (double)c[STEP_B_MIN], b_max = (double)c[STEP_B_MAX];
    double f = mx_device_endurance_window(p, 0.5 * reversals(c));
    k->mid = 0.5 * (b_min + b_max);
    k->span = f * (b_max - b_min);
    k->lo = k->mid - 0.5 * k->span;
    k->hi = k->mid + 0.5 * k->span;
    k->gamma_up = (double)c[STEP_GAMMA_UP];
    k->gamma_down = (double)c[STEP_GAMMA_DOWN];
    k->pow_gamma = (double)c[STEP_POW_GAMMA];
    exp_params(&p->step, k);
}

/* The nominal device a programmer knows: no D2D, no wear, no noise. */
static void nominal_state(const mx_device_params *p, step_cell *k)
{
    const mx_step_params *s = &p->step;
    const int soft = s->kind == MX_STEP_SOFT_BOUNDS;
    k->kind = s->kind;
    k->dw_up = s->dw_min * (1.0 + s->up_down);
    k->dw_down = s->dw_min * (1.0 - s->up_down);
    k->lo = 0.0;
    k->hi = 1.0;
    k->mid = 0.5;
    k->span = 1.0;
    k->gamma_up = soft ? 1.0 : s->gamma_up;
    k->gamma_down = soft ? 1.0 : s->gamma_down;
    k->pow_gamma = s->pow_gamma;
    exp_params(s, k);
}

/* Size (≥ 0, before C2C noise) of one step up (up = 1) or down from w. The
 * caller guarantees span > 0 and lo ≤ w ≤ hi. */
static inline double step_size(const step_cell *k, int up, double w)
{
    double f;
    switch (k->kind) {
    case MX_STEP_LINEAR:
    case MX_STEP_SOFT_BOUNDS:
        f = up ? 1.0 - k->gamma_up * (w - k->mid) / (k->hi - k->mid)
               : 1.0 - k->gamma_down * (k->mid - w) / (k->mid - k->lo);
        break;
    case MX_STEP_EXP: {
        double z = 2.0 * k->exp_a * (w - k->mid) / k->span + k->exp_b;
        f = up ? 1.0 - k->exp_a_up * exp(k->exp_gamma_up * z)
               : 1.0 - k->exp_a_down * exp(-k->exp_gamma_down * z);
        break;
    }
    case MX_STEP_POW: {
        double omega = (k->hi - w) / k->span;
        f = pow(up ? omega : 1.0 - omega, k->pow_gamma);
        break;
    }
    case MX_STEP_CONSTANT:
    default:
        f = 1.0;
        break;
    }
    if (f < 0.0)
        f = 0.0;
    return (up ? k->dw_up : k->dw_down) * f;
}

/* Apply m pulses of polarity up to w in [lo, hi], each with multiplicative
 * C2C noise from the cell's own stream; returns the new w. */
static double apply_steps(const step_cell *k, int up, int64_t m, double w, double sigma,
                          mx_rng *cell_rng)
{
    if (!(k->span > 0.0)) /* a window closed by wear */
        return k->mid;
    w = clamp(w, k->lo, k->hi);
    const double d = up ? 1.0 : -1.0;
    if (!(sigma > 0.0)) {
        /* Without noise every step goes the pulses' way (step_size ≥ 0), so
         * once at the bound ahead the rest of the train changes nothing. */
        const double end = up ? k->hi : k->lo;
        for (int64_t j = 0; j < m && w != end; j++)
            w = clamp(w + d * step_size(k, up, w), k->lo, k->hi);
        return w;
    }
    for (int64_t j = 0; j < m; j++) {
        double s = step_size(k, up, w) * (1.0 + sigma * mx_rng_normal(cell_rng));
        w = clamp(w + d * s, k->lo, k->hi);
    }
    return w;
}

/* The cell's private stream: one block of the caller's stream keys it. */
static void cell_stream(mx_rng *rng, mx_rng *cell_rng)
{
    uint32_t u[4];
    mx_rng_block(rng, u);
    mx_rng_init(cell_rng, (uint64_t)u[0] | (uint64_t)u[1] << 32, u[2], (uint64_t)u[3]);
}

static double stuck_g(const mx_device_params *p, const float *c)
{
    return c[STEP_FAULT] == (float)STEP_STUCK_MIN ? p->g_min_s : p->g_max_s;
}

/* Up pulses that take the nominal device from 0 closest to target_w. */
static int64_t nominal_pulses(const mx_device_params *p, double target_w)
{
    step_cell k;
    nominal_state(p, &k);
    if (k.kind == MX_STEP_CONSTANT)
        return (int64_t)llround(target_w / k.dw_up);
    const double saturated = STEP_PROGRAM_SATURATED * p->step.dw_min;
    double w = 0.0;
    int64_t n = 0;
    for (;;) {
        double s = step_size(&k, 1, w);
        /* One more pulse helps iff it lands closer: w + s/2 < target. */
        if (w + 0.5 * s >= target_w || s < saturated)
            return n;
        w = w + s < 1.0 ? w + s : 1.0;
        n++;
    }
}

static void step_program(const mx_device_params *p, float *cells, const float *g_target_s,
                         float *g_out_s, size_t n, mx_rng *rng)
{
    assert(cells);
    const double window = p->g_max_s - p->g_min_s;
    const double sigma = p->step.dw_min_std;
    for (size_t i = 0; i < n; i++) {
        float *c = cells + i * STEP_CELL_FLOATS;
        mx_rng cell_rng;
        cell_stream(rng, &cell_rng);
        double g_target = mx_device_quantise(p, (double)g_target_s[i]);
        if (c[STEP_FAULT] != (float)STEP_HEALTHY) {
            g_out_s[i] = (float)stuck_g(p, c);
            continue;
        }
        int64_t pulses = nominal_pulses(p, (g_target - p->g_min_s) / window);
        step_cell k;
        note_polarity(c, -1); /* the reset */
        cell_state(p, c, &k);
        double w = k.lo;
        if (pulses > 0) {
            note_polarity(c, +1);
            cell_state(p, c, &k);
            w = apply_steps(&k, 1, pulses, w, sigma, &cell_rng);
        }
        g_out_s[i] = (float)(p->g_min_s + window * w);
    }
}

static void step_pulse(const mx_device_params *p, float *cells, float *g_s, const mx_pulse *pulses,
                       size_t n, mx_rng *rng)
{
    assert(cells);
    const double window = p->g_max_s - p->g_min_s;
    const double sigma = p->step.dw_min_std;
    for (size_t i = 0; i < n; i++) {
        float *c = cells + i * STEP_CELL_FLOATS;
        mx_rng cell_rng;
        cell_stream(rng, &cell_rng);
        if (c[STEP_FAULT] != (float)STEP_HEALTHY) {
            g_s[i] = (float)stuck_g(p, c);
            continue;
        }
        int64_t count = pulses[i].count;
        if (count == 0)
            continue;
        int up = count > 0;
        note_polarity(c, up ? 1 : -1);
        step_cell k;
        cell_state(p, c, &k);
        double w = ((double)g_s[i] - p->g_min_s) / window;
        w = apply_steps(&k, up, up ? count : -count, w, sigma, &cell_rng);
        g_s[i] = (float)(p->g_min_s + window * w);
    }
}

static void step_bounds(const mx_device_params *p, const float *cells, float *g_lo_s,
                        float *g_hi_s, size_t n)
{
    const double window = p->g_max_s - p->g_min_s;
    for (size_t i = 0; i < n; i++) {
        const float *c = cells + i * STEP_CELL_FLOATS;
        if (c[STEP_FAULT] != (float)STEP_HEALTHY) {
            g_lo_s[i] = g_hi_s[i] = (float)stuck_g(p, c);
            continue;
        }
        step_cell k;
        cell_state(p, c, &k);
        g_lo_s[i] = (float)(p->g_min_s + window * k.lo);
        g_hi_s[i] = (float)(p->g_min_s + window * k.hi);
    }
}

const mx_device_type mx_device_step = {
    .name = "step",
    .description = "aihwkit pulsed step models (constant, linear, soft bounds, exponential, "
                   "power step): per-pulse state-dependent steps with up/down asymmetry, "
                   "device-to-device and cycle-to-cycle variation, stuck-at faults, endurance",
    .source = "aihwkit simulator/configs/devices.py (Gokmen & Vlasov 2016; Fusi & Abbott 2007)",
    .validate = step_validate,
    .cell_floats = STEP_CELL_FLOATS,
    .populate = step_populate,
    .program = step_program,
    .pulse = step_pulse,
    .read = mx_device_read_relative,
    .age = NULL, /* aihwkit's drift of pulsed devices is not modelled */
    .bounds = step_bounds,
};
