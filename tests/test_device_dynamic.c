/* SPDX-License-Identifier: MIT
 *
 * test_device_dynamic.c: the dynamic memristor models (devices/dynamic.c) —
 * linear ion drift, VTEAM and the Stanford-PKU RRAM integrated with GSL's
 * ODE solver — against closed forms derived here (pku's in its section
 * below):
 *
 * Linear ion drift, k = μ_v·R_ON/D², R(x) = R_OFF − ΔR·x, ΔR = R_OFF − R_ON,
 * dx/dt = k·i·f(x):
 * - constant current I, no window: x(t) = x0 + kIt;
 * - constant current, Joglekar p = 1 (f = 4x(1 − x)): logistic
 *   x(t) = 1/(1 + ((1 − x0)/x0)·e^(−4kIt)); Prodromakis p = 1, j = 1
 *   (f = x(1 − x)): the same with kI; Biolek p = 1, I > 0 (f = 1 − x²):
 *   x(t) = tanh(kIt + atanh x0);
 * - constant voltage V, no window: R dx = kV dt, and dR = −ΔR dx give
 *   R(t)² = R(x0)² − 2ΔR·kV·t, so x(t) = (R_OFF − sqrt(R(x0)² − 2ΔR·kVt))/ΔR
 *   until x reaches a boundary.
 * A constant current is driven by the voltage v(t) = I·R(x(t)) of the
 * closed form itself. Under a sinusoid the loop is pinched at the origin,
 * its lobe shrinks as the frequency grows, and x returns to x0 after each
 * period (x is a function of the charge q, the flux φ = ∫v dt returns to 0
 * and φ(q) is monotone, so q does too).
 *
 * VTEAM: no motion between the thresholds, the closed-form constant rate
 * beyond them. Both: the state stays in [0, 1] and the conductance in the
 * cell's [1/R_OFF, 1/R_ON]; lognormal D2D moments; open-loop programming;
 * validation naming fields.
 *
 * Tolerances: the ODE is solved to relative (= absolute, x ∈ [0, 1])
 * tolerance 1e-6 per step; the global error over these smooth solves stays
 * below 1e-5, asserted with that bound; at 1e-10 the bound is 1e-8. Records
 * are float, so states read back from them carry 6e-8 of rounding.
 */
#include "tests/support/mx_test.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/rng.h"
#include "devices/devices.h"
#include "devices/dynamic.h"

#define SEED 20240918u
#define K_SIGMA 4.0

static const mx_device_type *lid(void) { return &mx_device_linear_ion_drift; }
static const mx_device_type *vteam(void) { return &mx_device_vteam; }

static void assert_error_mentions(const char *needle)
{
    if (!strstr(mx_last_error(), needle)) {
        print_error("expected the message to name '%s', got '%s'\n", needle, mx_last_error());
        fail();
    }
}

/* Defaults with a conductance window inside each model's [1/R_OFF, 1/R_ON]. */
static void lid_params(mx_device_params *p)
{
    mx_device_params_default(p);
    p->g_min_s = 1e-4; /* R_OFF 16 kΩ: 6.25e-5 S */
    p->g_max_s = 5e-3; /* R_ON 100 Ω: 1e-2 S */
}

static void vteam_params(mx_device_params *p)
{
    mx_device_params_default(p);
    p->g_min_s = 1.2e-3; /* R_OFF 1 kΩ */
    p->g_max_s = 1.8e-2; /* R_ON 50 Ω */
}

static double k_lid(const mx_device_params *p)
{
    return p->dynamic.mu_v * p->dynamic.r_on_ohm / (p->dynamic.d_m * p->dynamic.d_m);
}

static double r_lid(const mx_device_params *p, double x)
{
    return p->dynamic.r_on_ohm * x + p->dynamic.r_off_ohm * (1.0 - x);
}

static float *populate(const mx_device_type *type, const mx_device_params *p, size_t n,
                       uint64_t item)
{
    float *cells = malloc(n * type->cell_floats * sizeof *cells);
    assert_non_null(cells);
    mx_rng r;
    mx_rng_init_named(&r, SEED, "test.populate", item);
    type->populate(p, cells, n, &r);
    return cells;
}

static void pulse_all(const mx_device_type *type, const mx_device_params *p, float *cells,
                      float *g, size_t n, mx_pulse pulse)
{
    mx_pulse *pulses = malloc(n * sizeof *pulses);
    assert_non_null(pulses);
    for (size_t i = 0; i < n; i++)
        pulses[i] = pulse;
    mx_rng r;
    mx_rng_init_named(&r, SEED, "test.pulse", 0);
    type->pulse(p, cells, g, pulses, n, &r);
    free(pulses);
}

/* ---- windows -------------------------------------------------------------- */

static void test_window_functions_match_their_formulas(void **state)
{
    (void)state;
    mx_device_params p;
    mx_device_params_default(&p);
    mx_dynamic_params *d = &p.dynamic;
    const double xs[] = {0.0, 0.25, 0.5, 1.0};
    for (int pi = 1; pi <= 2; pi++) {
        const double pw = (double)pi;
        d->window_p = pw;
        for (size_t k = 0; k < 4; k++) {
            const double x = xs[k];
            d->window = MX_WINDOW_NONE;
            assert_true(mx_dynamic_window(d, x, 1.0) == 1.0);
            d->window = MX_WINDOW_JOGLEKAR;
            assert_close(mx_dynamic_window(d, x, 1.0), 1.0 - pow(2.0 * x - 1.0, 2.0 * pw), 1e-15,
                         0.0);
            d->window = MX_WINDOW_BIOLEK; /* stp(−i): 0 for i > 0, 1 for i ≤ 0 */
            assert_close(mx_dynamic_window(d, x, 1e-3), 1.0 - pow(x, 2.0 * pw), 1e-15, 0.0);
            assert_close(mx_dynamic_window(d, x, -1e-3), 1.0 - pow(x - 1.0, 2.0 * pw), 1e-15,
                         0.0);
            assert_close(mx_dynamic_window(d, x, 0.0), 1.0 - pow(x - 1.0, 2.0 * pw), 1e-15, 0.0);
            d->window = MX_WINDOW_PRODROMAKIS;
            d->window_j = 0.5 * pw;
            assert_close(mx_dynamic_window(d, x, 1.0),
                         0.5 * pw * (1.0 - pow((x - 0.5) * (x - 0.5) + 0.75, pw)), 1e-15, 0.0);
        }
    }
    /* The values at 0, 0.5, 1 spelled out (p = 1, j = 1). */
    d->window_p = 1.0;
    d->window_j = 1.0;
    d->window = MX_WINDOW_JOGLEKAR;
    assert_true(mx_dynamic_window(d, 0.0, 1.0) == 0.0);
    assert_true(mx_dynamic_window(d, 0.5, 1.0) == 1.0);
    assert_true(mx_dynamic_window(d, 1.0, 1.0) == 0.0);
    d->window = MX_WINDOW_BIOLEK;
    assert_true(mx_dynamic_window(d, 0.0, 1.0) == 1.0);
    assert_true(mx_dynamic_window(d, 1.0, 1.0) == 0.0);
    assert_true(mx_dynamic_window(d, 0.0, -1.0) == 0.0);
    assert_true(mx_dynamic_window(d, 1.0, -1.0) == 1.0);
    assert_true(mx_dynamic_window(d, 0.5, -1.0) == 0.75);
    d->window = MX_WINDOW_PRODROMAKIS;
    assert_true(mx_dynamic_window(d, 0.0, 1.0) == 0.0);
    assert_true(mx_dynamic_window(d, 0.5, 1.0) == 0.25);
    assert_true(mx_dynamic_window(d, 1.0, 1.0) == 0.0);
    /* Non-integer p is |·|^(2p), defined on both sides of the middle. */
    d->window = MX_WINDOW_JOGLEKAR;
    d->window_p = 1.5;
    assert_close(mx_dynamic_window(d, 0.2, 1.0), mx_dynamic_window(d, 0.8, 1.0), 1e-15, 0.0);
    assert_close(mx_dynamic_window(d, 0.2, 1.0), 1.0 - pow(0.6, 3.0), 1e-15, 0.0);
}

/* ---- closed forms of linear ion drift -------------------------------------- */

typedef struct current_drive {
    const mx_device_params *p;
    double i_a, x0;
    double (*x_of_t)(const struct current_drive *c, double t);
} current_drive;

static double x_linear(const current_drive *c, double t)
{
    return c->x0 + k_lid(c->p) * c->i_a * t;
}

static double x_logistic4(const current_drive *c, double t)
{
    return 1.0 / (1.0 + (1.0 - c->x0) / c->x0 * exp(-4.0 * k_lid(c->p) * c->i_a * t));
}

static double x_logistic1(const current_drive *c, double t)
{
    return 1.0 / (1.0 + (1.0 - c->x0) / c->x0 * exp(-k_lid(c->p) * c->i_a * t));
}

static double x_tanh(const current_drive *c, double t)
{
    return tanh(k_lid(c->p) * c->i_a * t + atanh(c->x0));
}

/* The voltage that drives the constant current i_a along the closed form. */
static double v_for_current(double t, void *ctx)
{
    const current_drive *c = ctx;
    return c->i_a * r_lid(c->p, c->x_of_t(c, t));
}

static void test_constant_current_follows_the_closed_form_for_each_window(void **state)
{
    (void)state;
    const struct {
        mx_window_kind window;
        double (*x_of_t)(const current_drive *c, double t);
        double t_end_s;
    } cases[] = {
        {MX_WINDOW_NONE, x_linear, 0.8},
        {MX_WINDOW_JOGLEKAR, x_logistic4, 1.5},
        {MX_WINDOW_PRODROMAKIS, x_logistic1, 4.0},
        {MX_WINDOW_BIOLEK, x_tanh, 2.0},
    };
    enum { N = 41 };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        mx_device_params p;
        mx_device_params_default(&p);
        p.dynamic.window = cases[c].window;
        p.dynamic.window_p = 1.0;
        p.dynamic.window_j = 1.0;
        p.dynamic.x0 = 0.1;
        current_drive drive = {.p = &p, .i_a = 1e-4, .x0 = 0.1, .x_of_t = cases[c].x_of_t};
        double t[N], v[N], i[N], x[N];
        for (int k = 0; k < N; k++)
            t[k] = cases[c].t_end_s * k / (N - 1);
        assert_int_equal(mx_dynamic_integrate(lid(), &p, NULL, v_for_current, &drive, t, N, v, i,
                                              x),
                         MX_OK);
        for (int k = 0; k < N; k++) {
            assert_close(x[k], drive.x_of_t(&drive, t[k]), 1e-5, 0.0);
            assert_close(i[k], drive.i_a, 0.0, 1e-4); /* i = v/R(x): x within 1e-5 */
        }
        assert_true(x[N - 1] > 0.75); /* the test covers most of the window */
    }
}

static double v_const(double t, void *ctx)
{
    (void)t;
    return *(const double *)ctx;
}

static double x_const_voltage(const mx_device_params *p, double x0, double v, double t)
{
    const double d_r = p->dynamic.r_off_ohm - p->dynamic.r_on_ohm;
    const double r0 = r_lid(p, x0);
    return (p->dynamic.r_off_ohm - sqrt(r0 * r0 - 2.0 * d_r * k_lid(p) * v * t)) / d_r;
}

static void test_constant_voltage_follows_the_charge_flux_closed_form(void **state)
{
    (void)state;
    enum { N = 61 };
    const struct {
        double x0, v, t_end_s; /* ends before x reaches a boundary */
    } cases[] = {{0.1, 1.0, 0.6}, {0.9, -1.0, 0.75}, {0.5, 0.3, 0.6}};
    const double tols[] = {1e-6, 1e-10}, bounds[] = {1e-5, 1e-8};
    for (size_t tk = 0; tk < 2; tk++) {
        for (size_t c = 0; c < 3; c++) {
            mx_device_params p;
            mx_device_params_default(&p);
            p.dynamic.window = MX_WINDOW_NONE;
            p.dynamic.x0 = cases[c].x0;
            p.dynamic.ode_rel_tol = tols[tk];
            double t[N], x[N], v = cases[c].v;
            for (int k = 0; k < N; k++)
                t[k] = cases[c].t_end_s * k / (N - 1);
            assert_int_equal(mx_dynamic_integrate(lid(), &p, NULL, v_const, &v, t, N, NULL, NULL,
                                                  x),
                             MX_OK);
            for (int k = 0; k < N; k++)
                assert_close(x[k], x_const_voltage(&p, cases[c].x0, v, t[k]), bounds[tk], 0.0);
        }
    }
}

static void test_a_pulse_train_is_one_solve_over_its_total_time(void **state)
{
    (void)state;
    mx_device_params p;
    lid_params(&p);
    p.dynamic.window = MX_WINDOW_NONE;
    p.dynamic.x0 = 0.1;
    enum { N = 8 };
    float *a = populate(lid(), &p, N, 1), *b = populate(lid(), &p, N, 1);
    float ga[N], gb[N];
    /* 1000 pulses of 0.1 ms at 1 V = 0.1 s at 1 V (closed form), and the
     * same as two trains of 500. */
    pulse_all(lid(), &p, a, ga, N, (mx_pulse){.count = 1000, .amplitude_v = 1.0f, .width_s = 1e-4f});
    pulse_all(lid(), &p, b, gb, N, (mx_pulse){.count = 500, .amplitude_v = 1.0f, .width_s = 1e-4f});
    pulse_all(lid(), &p, b, gb, N, (mx_pulse){.count = 500, .amplitude_v = 1.0f, .width_s = 1e-4f});
    const double expect = x_const_voltage(&p, 0.1, 1.0, 1000.0 * (double)1e-4f);
    for (size_t i = 0; i < N; i++) {
        assert_close(a[i * MX_DYNAMIC_CELL_FLOATS + MX_DYNAMIC_CELL_X], expect, 1e-5, 0.0);
        assert_close(b[i * MX_DYNAMIC_CELL_FLOATS + MX_DYNAMIC_CELL_X], expect, 1e-5, 0.0);
        assert_close(ga[i], 1.0 / r_lid(&p, expect), 0.0, 1e-4);
    }
    /* Depressing trains apply −V: back down along the same law. */
    pulse_all(lid(), &p, a, ga, N,
              (mx_pulse){.count = -1000, .amplitude_v = 1.0f, .width_s = 1e-4f});
    for (size_t i = 0; i < N; i++)
        assert_close(a[i * MX_DYNAMIC_CELL_FLOATS + MX_DYNAMIC_CELL_X], 0.1, 1e-5, 0.0);
    free(a);
    free(b);
}

/* ---- hysteresis ------------------------------------------------------------ */

/* A sine sweep of `cycles` periods, spc samples each: the loop is pinched
 * (i within i_tol of 0 wherever v = 0) and not a line (at v = A/2 the
 * falling branch, after the positive half moved the state toward ON,
 * carries more current than the rising one). Returns the lobe area of
 * cycle `cycle` (> 0, checked). */
static double pinched_loop_area(const mx_device_type *type, const mx_device_params *p,
                                double amplitude, double freq, int spc, int cycles, double i_tol,
                                int cycle, double *t, double *v, double *i, double *x)
{
    const int n = spc * cycles + 1;
    assert_int_equal(mx_dynamic_sweep(type, p, amplitude, freq, (size_t)cycles, (size_t)spc, t, v,
                                      i, x),
                     MX_OK);
    for (int k = 0; k < n; k += spc / 2) {
        assert_close(v[k], 0.0, 1e-12, 0.0);
        assert_close(i[k], 0.0, i_tol, 0.0);
    }
    assert_close(v[spc / 12], 0.5 * amplitude, 1e-12, 0.0);
    assert_close(v[5 * spc / 12], 0.5 * amplitude, 1e-12, 0.0);
    assert_true(i[5 * spc / 12] > 1.01 * i[spc / 12]);
    const double area = mx_dynamic_lobe_area(v + cycle * spc, i + cycle * spc, (size_t)spc + 1);
    assert_true(area > 0.0);
    return area;
}

static void test_sinusoidal_drive_gives_a_pinched_loop_shrinking_with_frequency(void **state)
{
    (void)state;
    mx_device_params p;
    mx_device_params_default(&p); /* Joglekar p = 1, x0 = 0.5; the g window is not needed */
    enum { SPC = 2400, CYCLES = 2, N = SPC * CYCLES + 1 };
    const double freqs[] = {1.0, 2.0, 4.0}, amplitude = 1.0;
    double *t = malloc(N * sizeof *t), *v = malloc(N * sizeof *v), *i = malloc(N * sizeof *i),
           *x = malloc(N * sizeof *x);
    assert_non_null(t);
    assert_non_null(v);
    assert_non_null(i);
    assert_non_null(x);
    double prev_area = INFINITY;
    for (size_t f = 0; f < 3; f++) {
        /* i = 0 at v = 0 to the rounding of sin(kπ), ~1e-16 V, over R ≥ 100 Ω. */
        const double area = pinched_loop_area(lid(), &p, amplitude, freqs[f], SPC, CYCLES, 1e-14,
                                              0, t, v, i, x);
        assert_true(area < prev_area);
        prev_area = area;
        /* x is a function of the charge, which returns to 0 each period. */
        assert_close(x[SPC], p.dynamic.x0, 1e-5, 0.0);
        assert_close(x[2 * SPC], p.dynamic.x0, 1e-5, 0.0);
    }
    /* A cell that does not move (VTEAM below both thresholds) is a resistor:
     * no lobe at all. */
    mx_device_params pv;
    mx_device_params_default(&pv);
    assert_int_equal(mx_dynamic_sweep(vteam(), &pv, 0.015, 1e6, 1, SPC, t, v, i, x), MX_OK);
    assert_close(mx_dynamic_lobe_area(v, i, SPC + 1), 0.0, 1e-18, 0.0);
    for (int k = 0; k <= SPC; k++)
        assert_true(x[k] == pv.dynamic.x0);
    free(t);
    free(v);
    free(i);
    free(x);
}

/* ---- VTEAM --------------------------------------------------------------- */

static void test_vteam_does_not_move_between_its_thresholds_and_moves_beyond(void **state)
{
    (void)state;
    mx_device_params p;
    vteam_params(&p);
    const mx_dynamic_params *d = &p.dynamic;
    const double below[] = {-0.1999, -0.1, 0.0, 0.01, 0.0199, d->v_on_v, d->v_off_v};
    for (size_t k = 0; k < sizeof below / sizeof below[0]; k++)
        for (double x = 0.0; x <= 1.0; x += 0.25)
            assert_true(mx_dynamic_rate(vteam(), &p, NULL, x, below[k]) == 0.0);
    /* Beyond: (k/D)·(v/v_th − 1)^α, off (x up) for v > v_off, on for v < v_on. */
    assert_close(mx_dynamic_rate(vteam(), &p, NULL, 0.5, 0.5),
                 d->k_off_m_per_s / d->vteam_d_m * pow(0.5 / d->v_off_v - 1.0, d->alpha_off), 0.0,
                 1e-14);
    assert_close(mx_dynamic_rate(vteam(), &p, NULL, 0.5, -0.3),
                 d->k_on_m_per_s / d->vteam_d_m * pow(-0.3 / d->v_on_v - 1.0, d->alpha_on), 0.0,
                 1e-14);
    /* ... and stops at the boundary it is pushed against. */
    assert_true(mx_dynamic_rate(vteam(), &p, NULL, 1.0, 0.5) == 0.0);
    assert_true(mx_dynamic_rate(vteam(), &p, NULL, 0.0, -0.3) == 0.0);

    enum { N = 16 };
    float *cells = populate(vteam(), &p, N, 2);
    float g[N];
    /* Sub-threshold trains, long ones: a potentiating pulse reaches the
     * device as −V, a depressing one as +V. */
    pulse_all(vteam(), &p, cells, g, N, (mx_pulse){.count = 100000, .amplitude_v = 0.19f,
                                                  .width_s = 1e-3f});
    pulse_all(vteam(), &p, cells, g, N, (mx_pulse){.count = -100000, .amplitude_v = 0.019f,
                                                  .width_s = 1e-3f});
    for (size_t i = 0; i < N; i++)
        assert_true(cells[i * MX_DYNAMIC_CELL_FLOATS + MX_DYNAMIC_CELL_X] == (float)d->x0);
    /* Depress at 0.5 V for 10 ns: x rises by the constant rate × time. */
    pulse_all(vteam(), &p, cells, g, N, (mx_pulse){.count = -1, .amplitude_v = 0.5f,
                                                  .width_s = 10e-9f});
    double x1 = d->x0 + d->k_off_m_per_s / d->vteam_d_m *
                            pow((double)0.5f / d->v_off_v - 1.0, d->alpha_off) * (double)10e-9f;
    /* Potentiate at 0.3 V for 1 ns: x falls (toward ON). */
    float g_mid[N];
    memcpy(g_mid, g, sizeof g);
    pulse_all(vteam(), &p, cells, g, N, (mx_pulse){.count = 1, .amplitude_v = 0.3f,
                                                  .width_s = 1e-9f});
    double x2 = x1 + d->k_on_m_per_s / d->vteam_d_m *
                         pow(-(double)0.3f / d->v_on_v - 1.0, d->alpha_on) * (double)1e-9f;
    assert_true(x1 > d->x0 && x2 < x1 && x2 > 0.0);
    for (size_t i = 0; i < N; i++) {
        assert_close(cells[i * MX_DYNAMIC_CELL_FLOATS + MX_DYNAMIC_CELL_X], x2, 1e-6, 0.0);
        /* Linear I–V: g = 1/(R_ON + (R_OFF − R_ON)x); potentiation raised it. */
        assert_close(g[i], 1.0 / (d->vteam_r_on_ohm + (d->vteam_r_off_ohm - d->vteam_r_on_ohm) * x2),
                     0.0, 1e-5);
        assert_true(g[i] > g_mid[i]);
    }
    /* The exponential I–V form at the same state. */
    p.dynamic.vteam_iv = MX_VTEAM_IV_EXPONENTIAL;
    const double lambda = log(d->vteam_r_off_ohm / d->vteam_r_on_ohm);
    assert_close(mx_dynamic_resistance(vteam(), &p, NULL, 0.3),
                 d->vteam_r_on_ohm * exp(lambda * 0.3), 0.0, 1e-14);
    assert_close(mx_dynamic_resistance(vteam(), &p, NULL, 1.0), d->vteam_r_off_ohm, 0.0, 1e-14);
    free(cells);
}

/* ---- bounds, variation, programming ---------------------------------------- */

static void test_state_and_conductance_stay_inside_each_cells_bounds(void **state)
{
    (void)state;
    enum { N = 200, TRAINS = 40 };
    for (int model = 0; model < 2; model++) {
        const mx_device_type *type = model ? vteam() : lid();
        mx_device_params p;
        if (model)
            vteam_params(&p);
        else
            lid_params(&p);
        p.dynamic.window = MX_WINDOW_NONE; /* nothing slows x near the ends */
        p.dynamic.d2d_sigma_r = 0.3;
        float *cells = populate(type, &p, N, 3 + (uint64_t)model);
        float g[N], lo[N], hi[N];
        mx_pulse pulses[N];
        type->bounds(&p, cells, lo, hi, N);
        for (size_t i = 0; i < N; i++) {
            assert_close(lo[i], 1.0 / (double)cells[i * MX_DYNAMIC_CELL_FLOATS + MX_DYNAMIC_CELL_R_OFF],
                         0.0, 1e-7);
            assert_close(hi[i], 1.0 / (double)cells[i * MX_DYNAMIC_CELL_FLOATS + MX_DYNAMIC_CELL_R_ON],
                         0.0, 1e-7);
            assert_true(lo[i] < hi[i]);
        }
        mx_rng r;
        mx_rng_init_named(&r, SEED, "test.trains", (uint64_t)model);
        size_t hit_top = 0, hit_bottom = 0;
        for (int k = 0; k < TRAINS; k++) {
            for (size_t i = 0; i < N; i++) {
                int32_t count = (int32_t)(1 + (mx_rng_u32(&r) % 1000000u));
                pulses[i] = (mx_pulse){
                    .count = mx_rng_u32(&r) & 1u ? count : -count,
                    .amplitude_v = (float)(0.1 + 1.9 * mx_rng_uniform(&r)),
                    .width_s = (float)pow(10.0, -9.0 + 6.0 * mx_rng_uniform(&r))};
            }
            type->pulse(&p, cells, g, pulses, N, &r);
            for (size_t i = 0; i < N; i++) {
                float xi = cells[i * MX_DYNAMIC_CELL_FLOATS + MX_DYNAMIC_CELL_X];
                assert_true(xi >= 0.0f && xi <= 1.0f);
                hit_top += xi == 1.0f;
                hit_bottom += xi == 0.0f;
                assert_true((double)g[i] >= (double)lo[i] * (1.0 - 1e-6));
                assert_true((double)g[i] <= (double)hi[i] * (1.0 + 1e-6));
            }
        }
        /* The trains are long enough to pin cells against both ends. */
        assert_true(hit_top > 0 && hit_bottom > 0);
        free(cells);
    }
}

static void test_d2d_resistances_are_lognormal_with_the_nominal_mean(void **state)
{
    (void)state;
    enum { N = 20000 };
    const double sigma = 0.2;
    for (int model = 0; model < 2; model++) {
        const mx_device_type *type = model ? vteam() : lid();
        mx_device_params p;
        mx_device_params_default(&p);
        p.dynamic.d2d_sigma_r = sigma;
        float *cells = populate(type, &p, N, 10 + (uint64_t)model);
        for (int which = 0; which < 2; which++) {
            const int slot = which ? MX_DYNAMIC_CELL_R_OFF : MX_DYNAMIC_CELL_R_ON;
            const double nominal =
                model ? (which ? p.dynamic.vteam_r_off_ohm : p.dynamic.vteam_r_on_ohm)
                      : (which ? p.dynamic.r_off_ohm : p.dynamic.r_on_ohm);
            double s = 0.0;
            for (size_t i = 0; i < N; i++)
                s += (double)cells[i * MX_DYNAMIC_CELL_FLOATS + slot];
            const double mean = s / N;
            double m2 = 0.0, m4 = 0.0;
            for (size_t i = 0; i < N; i++) {
                double dv = (double)cells[i * MX_DYNAMIC_CELL_FLOATS + slot] - mean;
                m2 += dv * dv;
                m4 += dv * dv * dv * dv;
            }
            m2 /= N - 1;
            m4 /= N;
            /* Mean: SE = σ·R/√N (std/mean = σ). */
            assert_within_sigma(mean, nominal, sigma * nominal / sqrt((double)N), K_SIGMA);
            /* Relative std: SE of the sample std by the delta method,
             * sqrt((m4 − s⁴)/N)/(2s), over the mean. */
            const double sd = sqrt(m2);
            assert_within_sigma(sd / mean, sigma, sqrt((m4 - m2 * m2) / N) / (2.0 * sd) / mean,
                                K_SIGMA);
        }
        for (size_t i = 0; i < N; i++)
            assert_true(cells[i * MX_DYNAMIC_CELL_FLOATS + MX_DYNAMIC_CELL_X] ==
                        (float)p.dynamic.x0);
        /* Pinned first cell: a change of draw order or stream changes it. */
        if (model == 0) {
            assert_close(cells[MX_DYNAMIC_CELL_R_ON], 108.09977, 0.0, 1e-6);
            assert_close(cells[MX_DYNAMIC_CELL_R_OFF], 19676.0234, 0.0, 1e-6);
        }
        free(cells);
    }
}

static void test_program_reaches_the_target_on_the_nominal_device(void **state)
{
    (void)state;
    enum { N = 101 };
    for (int model = 0; model < 2; model++) {
        const mx_device_type *type = model ? vteam() : lid();
        mx_device_params p;
        if (model) {
            vteam_params(&p);
            /* Fine steps: one 0.1 ns pulse at 0.21 V moves x by 4e-5. */
            p.pulse.v_ltp_v = 0.21;
            p.pulse.width_ltp_s = 1e-10;
            p.pulse.v_ltd_v = 0.5;
            p.pulse.width_ltd_s = 1e-11;
        } else {
            lid_params(&p);
        }
        assert_int_equal(type->validate(&p), MX_OK);
        float target[N], g[N], g2[N];
        for (size_t i = 0; i < N; i++)
            target[i] = (float)(p.g_min_s + (p.g_max_s - p.g_min_s) * (double)i / (N - 1));
        mx_rng r;
        mx_rng_init_named(&r, SEED, "test.program", 0);
        mx_device_program(type, &p, target, g, N, &r);
        /* Half a pulse of state error, ≤ 2e-5·(R_OFF/R_ON) relative. */
        for (size_t i = 0; i < N; i++)
            assert_close(g[i], target[i], 0.0, 1e-3);
        /* Programming starts from x0: a second programming of the same cells
         * lands on the same values, and in place. */
        float *cells = populate(type, &p, N, 20);
        type->program(&p, cells, target, g, N, &r);
        memcpy(g2, target, sizeof g2);
        type->program(&p, cells, g2, g2, N, &r);
        assert_memory_equal(g, g2, sizeof g);
        free(cells);
        /* With D2D variation the same plan lands elsewhere, inside each
         * cell's bounds. */
        p.dynamic.d2d_sigma_r = 0.1;
        cells = populate(type, &p, N, 21);
        type->program(&p, cells, target, g, N, &r);
        float lo[N], hi[N];
        type->bounds(&p, cells, lo, hi, N);
        double dev = 0.0;
        for (size_t i = 0; i < N; i++) {
            assert_true((double)g[i] >= (double)lo[i] * (1.0 - 1e-6) &&
                        (double)g[i] <= (double)hi[i] * (1.0 + 1e-6));
            dev += fabs((double)g[i] / (double)target[i] - 1.0);
        }
        assert_true(dev / N > 0.01);
        free(cells);
    }
}

/* ---- validation ------------------------------------------------------------ */

typedef struct bad_case {
    const char *field;
    void (*spoil)(mx_device_params *p);
} bad_case;

static void window_bad(mx_device_params *p) { p->dynamic.window = (mx_window_kind)99; }
static void window_p_zero(mx_device_params *p) { p->dynamic.window_p = 0.0; }
static void window_j_negative(mx_device_params *p)
{
    p->dynamic.window = MX_WINDOW_PRODROMAKIS;
    p->dynamic.window_j = -1.0;
}
static void x0_joglekar_edge(mx_device_params *p) { p->dynamic.x0 = 0.0; }
static void x0_above_one(mx_device_params *p) { p->dynamic.x0 = 1.5; }
static void r_on_zero(mx_device_params *p) { p->dynamic.r_on_ohm = 0.0; }
static void r_off_below_r_on(mx_device_params *p) { p->dynamic.r_off_ohm = 50.0; }
static void d_zero(mx_device_params *p) { p->dynamic.d_m = 0.0; }
static void mu_nan(mx_device_params *p) { p->dynamic.mu_v = (double)NAN; }
static void d2d_r_negative(mx_device_params *p) { p->dynamic.d2d_sigma_r = -0.1; }
static void tol_zero(mx_device_params *p) { p->dynamic.ode_rel_tol = 0.0; }
static void tol_large(mx_device_params *p) { p->dynamic.ode_rel_tol = 0.5; }
static void g_min_default(mx_device_params *p) { p->g_min_s = 1e-6; }
static void g_max_large(mx_device_params *p) { p->g_max_s = 0.1; }
static void stuck_set(mx_device_params *p) { p->stuck_at_gmin_frac = 0.01; }
static void stuck_max_set(mx_device_params *p) { p->stuck_at_gmax_frac = 0.01; }
static void endurance_set(mx_device_params *p) { p->endurance_cycles = 1e6; }
static void d2d_sigma_set(mx_device_params *p) { p->d2d_sigma = 0.1; }
static void prog_noise_set(mx_device_params *p) { p->prog_noise_coeffs[0] = 0.01; }
static void k_on_positive(mx_device_params *p) { p->dynamic.k_on_m_per_s = 1.0; }
static void k_off_zero(mx_device_params *p) { p->dynamic.k_off_m_per_s = 0.0; }
static void alpha_on_zero(mx_device_params *p) { p->dynamic.alpha_on = 0.0; }
static void alpha_off_inf(mx_device_params *p) { p->dynamic.alpha_off = (double)INFINITY; }
static void v_on_positive(mx_device_params *p) { p->dynamic.v_on_v = 0.2; }
static void v_off_negative(mx_device_params *p) { p->dynamic.v_off_v = -0.02; }
static void vteam_r_on_zero(mx_device_params *p) { p->dynamic.vteam_r_on_ohm = 0.0; }
static void vteam_r_off_low(mx_device_params *p) { p->dynamic.vteam_r_off_ohm = 10.0; }
static void vteam_d_zero(mx_device_params *p) { p->dynamic.vteam_d_m = 0.0; }
static void vteam_iv_bad(mx_device_params *p) { p->dynamic.vteam_iv = (mx_vteam_iv_kind)7; }
static void ltp_below_threshold(mx_device_params *p) { p->pulse.v_ltp_v = 0.15; }
static void ltd_below_threshold(mx_device_params *p) { p->pulse.v_ltd_v = 0.01; }

static void check_cases(const mx_device_type *type, void (*setup)(mx_device_params *),
                        const bad_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        mx_device_params p;
        setup(&p);
        assert_int_equal(type->validate(&p), MX_OK);
        cases[i].spoil(&p);
        mx_clear_error();
        if (type->validate(&p) != MX_EINVAL) {
            print_error("%s: case %zu (%s) was accepted\n", type->name, i, cases[i].field);
            fail();
        }
        assert_error_mentions(cases[i].field);
    }
}

static void test_validate_rejects_each_bad_field_naming_it(void **state)
{
    (void)state;
    const bad_case lid_cases[] = {
        {"hardware.device.dynamic.window", window_bad},
        {"hardware.device.dynamic.window_p", window_p_zero},
        {"hardware.device.dynamic.window_j", window_j_negative},
        {"hardware.device.dynamic.x0", x0_joglekar_edge},
        {"hardware.device.dynamic.x0", x0_above_one},
        {"hardware.device.dynamic.r_on_ohm", r_on_zero},
        {"hardware.device.dynamic.r_off_ohm", r_off_below_r_on},
        {"hardware.device.dynamic.d_m", d_zero},
        {"hardware.device.dynamic.mu_v", mu_nan},
        {"hardware.device.dynamic.d2d_sigma_r", d2d_r_negative},
        {"hardware.device.dynamic.ode_rel_tol", tol_zero},
        {"hardware.device.dynamic.ode_rel_tol", tol_large},
        {"hardware.device.g_min_s", g_min_default},
        {"hardware.device.g_max_s", g_max_large},
        {"hardware.device.stuck_at_gmin", stuck_set},
        {"hardware.device.stuck_at_gmax", stuck_max_set},
        {"hardware.device.endurance_cycles", endurance_set},
        {"hardware.device.d2d_sigma", d2d_sigma_set},
        {"hardware.device.prog_noise[0]", prog_noise_set},
    };
    check_cases(lid(), lid_params, lid_cases, sizeof lid_cases / sizeof lid_cases[0]);
    const bad_case vteam_cases[] = {
        {"hardware.device.dynamic.k_on_m_per_s", k_on_positive},
        {"hardware.device.dynamic.k_off_m_per_s", k_off_zero},
        {"hardware.device.dynamic.alpha_on", alpha_on_zero},
        {"hardware.device.dynamic.alpha_off", alpha_off_inf},
        {"hardware.device.dynamic.v_on_v", v_on_positive},
        {"hardware.device.dynamic.v_off_v", v_off_negative},
        {"hardware.device.dynamic.vteam_r_on_ohm", vteam_r_on_zero},
        {"hardware.device.dynamic.vteam_r_off_ohm", vteam_r_off_low},
        {"hardware.device.dynamic.vteam_d_m", vteam_d_zero},
        {"hardware.device.dynamic.vteam_iv", vteam_iv_bad},
        {"hardware.device.dynamic.x0", x0_above_one},
        {"hardware.device.dynamic.ode_rel_tol", tol_zero},
        {"hardware.device.g_min_s", g_min_default},
        {"hardware.device.pulse.v_ltp_v", ltp_below_threshold},
        {"hardware.device.pulse.v_ltd_v", ltd_below_threshold},
        {"hardware.device.stuck_at_gmin", stuck_set},
    };
    check_cases(vteam(), vteam_params, vteam_cases, sizeof vteam_cases / sizeof vteam_cases[0]);
    /* The window is linear ion drift's only: VTEAM ignores it, and x0 = 0
     * is a valid start without a vanishing window. */
    mx_device_params p;
    vteam_params(&p);
    p.dynamic.window_p = 0.0;
    p.dynamic.x0 = 0.0;
    assert_int_equal(vteam()->validate(&p), MX_OK);
    lid_params(&p);
    p.dynamic.window = MX_WINDOW_BIOLEK;
    p.dynamic.x0 = 0.0;
    assert_int_equal(lid()->validate(&p), MX_OK);
    assert_ptr_equal(mx_device_lookup("linear-ion-drift"), lid());
    assert_ptr_equal(mx_device_lookup("vteam"), vteam());
}

static void test_integration_entry_points_reject_bad_arguments(void **state)
{
    (void)state;
    mx_device_params p;
    mx_device_params_default(&p);
    double t[4] = {0.0, 1.0, 1.0, 2.0}, x[4], v = 1.0;
    mx_clear_error();
    assert_int_equal(mx_dynamic_sweep(&mx_device_reram, &p, 1.0, 1.0, 1, 16, NULL, NULL, NULL, x),
                     MX_EINVAL);
    assert_error_mentions("hardware.device.type");
    assert_int_equal(mx_dynamic_sweep(lid(), &p, 1.0, 0.0, 1, 16, NULL, NULL, NULL, x), MX_EINVAL);
    assert_int_equal(mx_dynamic_sweep(lid(), &p, 1.0, 1.0, 0, 16, NULL, NULL, NULL, x), MX_EINVAL);
    assert_int_equal(mx_dynamic_sweep(lid(), &p, 1.0, 1.0, 1, 3, NULL, NULL, NULL, x), MX_EINVAL);
    assert_int_equal(mx_dynamic_sweep(lid(), &p, (double)NAN, 1.0, 1, 16, NULL, NULL, NULL, x),
                     MX_EINVAL);
    assert_int_equal(mx_dynamic_integrate(lid(), &p, NULL, v_const, &v, t, 4, NULL, NULL, x),
                     MX_EINVAL); /* t[2] == t[1] */
    assert_int_equal(mx_dynamic_integrate(lid(), &p, NULL, NULL, &v, t, 2, NULL, NULL, x),
                     MX_EINVAL);
    assert_int_equal(mx_dynamic_integrate(lid(), &p, NULL, v_const, &v, t, 0, NULL, NULL, x),
                     MX_EINVAL);
    p.dynamic.mu_v = -1.0;
    mx_clear_error();
    assert_int_equal(mx_dynamic_integrate(lid(), &p, NULL, v_const, &v, t, 2, NULL, NULL, x),
                     MX_EINVAL);
    assert_error_mentions("hardware.device.dynamic.mu_v");
    /* A cell record is advanced in place. */
    mx_device_params_default(&p);
    p.dynamic.window = MX_WINDOW_NONE;
    p.dynamic.x0 = 0.1;
    float cell[MX_DYNAMIC_CELL_FLOATS];
    mx_rng r;
    mx_rng_init_named(&r, SEED, "test.populate", 99);
    lid()->populate(&p, cell, 1, &r);
    v = 0.5; /* reaches x = 1 at 1.3 s */
    assert_int_equal(mx_dynamic_integrate(lid(), &p, cell, v_const, &v, t, 2, NULL, NULL, x),
                     MX_OK);
    assert_close(cell[MX_DYNAMIC_CELL_X], x_const_voltage(&p, 0.1, 0.5, 1.0), 1e-5, 0.0);
    assert_close(x[1], cell[MX_DYNAMIC_CELL_X], 1e-7, 0.0);
    assert_true(mx_dynamic_is(lid()) && mx_dynamic_is(vteam()) && !mx_dynamic_is(&mx_device_reram));
}

/* ---- Stanford-PKU RRAM ------------------------------------------------------ *
 *
 * Closed forms (paper-tables.md §9.4; the constants q = 1.6e-19 C and
 * k = 1.3806503e-23 J/K of rram_v_1_0_0.va, which the model uses):
 *   I = I0·exp(−g/g0)·sinh(V/V0),  R_read = V_r/I(g, V_r),
 *   dg/dt = −ν0·exp(−q·E_a/(k·T))·sinh(γ·a0/t_ox·q·V/(k·T)),
 *   γ = γ0 − β·(g/1 nm)³, 0 where γ·|V|/t_ox < F_min, T = T0 + |V·I|·R_th,
 * and the state x = (g − gap_min)/(gap_max − gap_min). With R_th = 0 the
 * ratio of the velocities at two ambient temperatures T1, T2 is
 *   exp(−qE_a/k·(1/T2 − 1/T1))·sinh(c/T2)/sinh(c/T1),  c = γ·a0/t_ox·qV/k.
 */

static const mx_device_type *pku(void) { return &mx_device_pku; }

#define PKU_Q 1.6e-19
#define PKU_KB 1.3806503e-23

/* Defaults, read at MemTorch's 0.1 V, with the window of the gap range and
 * the stanford-pku preset's nominal pulses (1.5 V, 1 ns). */
static void pku_params(mx_device_params *p)
{
    mx_device_params_default(p);
    p->iv.v_read_v = 0.1;
    double lo = 0.0, hi = 0.0;
    assert_int_equal(mx_dynamic_conductance_window(pku(), p, &lo, &hi), MX_OK);
    p->g_min_s = lo;
    p->g_max_s = hi;
    p->pulse = (mx_pulse_params){.v_ltp_v = 1.5, .width_ltp_s = 1e-9, .v_ltd_v = 1.5,
                                 .width_ltd_s = 1e-9};
}

static double pku_gap_of(const mx_device_params *p, double x)
{
    return p->pku.gap_min_m + (p->pku.gap_max_m - p->pku.gap_min_m) * x;
}

static double pku_i(const mx_device_params *p, double gap, double v)
{
    return p->pku.i0_a * exp(-gap / p->pku.g0_m) * sinh(v / p->pku.v0_v);
}

static double pku_gamma_of(const mx_device_params *p, double gap)
{
    return p->pku.gamma0 - p->pku.beta * pow(gap / 1e-9, 3.0);
}

/* dg/dt at gap and v for a given filament temperature t_k, m/s. */
static double pku_dgdt(const mx_device_params *p, double gap, double v, double t_k)
{
    const mx_pku_params *k = &p->pku;
    const double gamma = pku_gamma_of(p, gap);
    if (gamma * fabs(v) / k->t_ox_m < k->f_min_v_per_m)
        return 0.0;
    return -k->nu0_m_per_s * exp(-PKU_Q * k->ea_ev / (PKU_KB * t_k)) *
           sinh(gamma * k->a0_m / k->t_ox_m * PKU_Q * v / (PKU_KB * t_k));
}

static double pku_span(const mx_device_params *p)
{
    return p->pku.gap_max_m - p->pku.gap_min_m;
}

static void test_pku_read_resistance_is_memtorchs_window_at_0_1_v(void **state)
{
    (void)state;
    mx_device_params p;
    pku_params(&p);
    /* paper-tables.md §9.4: 541.8 Ω at 0.2 nm and 218.6 kΩ at 1.7 nm, given
     * to 4 digits (±0.05 of the last one). */
    assert_close(mx_dynamic_resistance(pku(), &p, NULL, 0.0), 541.8, 0.05, 0.0);
    assert_close(mx_dynamic_resistance(pku(), &p, NULL, 1.0), 218.6e3, 50.0, 0.0);
    /* Every state: V_r/I(g, V_r); the current is odd in V and 0 at 0 V. */
    for (double x = 0.0; x <= 1.0; x += 0.125) {
        const double gap = pku_gap_of(&p, x);
        assert_close(mx_dynamic_resistance(pku(), &p, NULL, x), 0.1 / pku_i(&p, gap, 0.1), 0.0,
                     1e-13);
        assert_close(mx_dynamic_current(pku(), &p, NULL, x, 0.7), pku_i(&p, gap, 0.7), 0.0, 1e-13);
        assert_true(mx_dynamic_current(pku(), &p, NULL, x, -0.7) ==
                    -mx_dynamic_current(pku(), &p, NULL, x, 0.7));
        assert_true(mx_dynamic_current(pku(), &p, NULL, x, 0.0) == 0.0);
    }
    /* The window and the device table agree: populate, a train of 0
     * pulses reports 1/R(x0), bounds are the window. */
    double lo, hi;
    assert_int_equal(mx_dynamic_conductance_window(pku(), &p, &lo, &hi), MX_OK);
    assert_close(1.0 / hi, 541.8, 0.05, 0.0);
    assert_close(1.0 / lo, 218.6e3, 50.0, 0.0);
    assert_int_equal(pku()->validate(&p), MX_OK);
    enum { N = 4 };
    float *cells = populate(pku(), &p, N, 30);
    float g[N], blo[N], bhi[N];
    pulse_all(pku(), &p, cells, g, N, (mx_pulse){.count = 0});
    pku()->bounds(&p, cells, blo, bhi, N);
    for (size_t i = 0; i < N; i++) {
        assert_true(cells[i * MX_PKU_CELL_FLOATS + MX_PKU_CELL_X] == (float)p.dynamic.x0);
        assert_close(g[i], 1.0 / mx_dynamic_resistance(pku(), &p, NULL, p.dynamic.x0), 0.0, 1e-6);
        assert_close(blo[i], lo, 0.0, 1e-6);
        assert_close(bhi[i], hi, 0.0, 1e-6);
    }
    free(cells);
    /* The preset: the source's window at 0.1 V, its 298 K, the model's own
     * I–V for crossbar reads, valid as it stands. */
    const mx_device_preset *pre = mx_device_preset_lookup("stanford-pku");
    assert_non_null(pre);
    assert_string_equal(pre->type, "pku");
    mx_device_params_default(&p);
    pre->apply(&p);
    assert_int_equal(mx_device_lookup(pre->type)->validate(&p), MX_OK);
    assert_close(1.0 / p.g_max_s, 541.8, 0.05, 0.0);
    assert_close(1.0 / p.g_min_s, 218.6e3, 50.0, 0.0);
    assert_true(p.temperature_k == 298.0 && p.iv.kind == MX_IV_SINH);
    /* ... whose sinh read form is the model's current exactly. */
    for (double v = -0.5; v <= 0.5; v += 0.25)
        assert_close(mx_device_current(&p, 1.0 / mx_dynamic_resistance(pku(), &p, NULL, 0.3), v),
                     mx_dynamic_current(pku(), &p, NULL, 0.3, v), 1e-18, 1e-12);
}

static void test_pku_gap_velocity_follows_the_arrhenius_and_field_terms(void **state)
{
    (void)state;
    mx_device_params p;
    pku_params(&p);
    p.pku.r_th_k_per_w = 0.0; /* no self-heating: T is the ambient */
    const double xs[] = {0.1, 0.5, 0.9}, vs[] = {1.5, -1.5, 1.7};
    const double t1 = 300.0, t2 = 350.0;
    for (size_t a = 0; a < 3; a++)
        for (size_t b = 0; b < 3; b++) {
            const double gap = pku_gap_of(&p, xs[a]), v = vs[b];
            p.temperature_k = t1;
            const double r1 = mx_dynamic_rate(pku(), &p, NULL, xs[a], v);
            p.temperature_k = t2;
            const double r2 = mx_dynamic_rate(pku(), &p, NULL, xs[a], v);
            /* dx/dt = (dg/dt)/span; the closed form at each temperature. */
            assert_close(r1, pku_dgdt(&p, gap, v, t1) / pku_span(&p), 0.0, 1e-12);
            assert_close(r2, pku_dgdt(&p, gap, v, t2) / pku_span(&p), 0.0, 1e-12);
            /* SET (gap shrinks) for V > 0, RESET for V < 0. */
            assert_true(v > 0.0 ? r1 < 0.0 : r1 > 0.0);
            /* The ratio: Arrhenius times the field term. */
            const double c = pku_gamma_of(&p, gap) * p.pku.a0_m / p.pku.t_ox_m * PKU_Q * v / PKU_KB;
            const double ratio = exp(-PKU_Q * p.pku.ea_ev / PKU_KB * (1.0 / t2 - 1.0 / t1)) *
                                 sinh(c / t2) / sinh(c / t1);
            assert_close(r2 / r1, ratio, 0.0, 1e-12);
            /* Below E_a·t_ox/(γ·a0) (1.8 V at γ0 = 16) heat speeds the gap up. */
            assert_true(ratio > 1.0);
        }
    /* An integrated pulse short enough that the rate barely changes moves
     * x by rate × width: Δx ≈ 4e-6 here, whose curvature term (Δx·|d ln
     * r/dx|/2 ≲ 1e-5 relative) and solver error (1e-10 absolute, 3e-5
     * relative) stay below the 2e-4 asserted. */
    p.dynamic.ode_rel_tol = 1e-10;
    const double temps[] = {250.0, 300.0, 350.0, 400.0};
    double prev = 0.0;
    for (size_t k = 0; k < 4; k++) {
        p.temperature_k = temps[k];
        double t[2] = {0.0, 1e-13}, x[2], v = 1.5;
        assert_int_equal(mx_dynamic_integrate(pku(), &p, NULL, v_const, &v, t, 2, NULL, NULL, x),
                         MX_OK);
        const double expect = pku_dgdt(&p, pku_gap_of(&p, p.dynamic.x0), 1.5, temps[k]) /
                              pku_span(&p) * t[1];
        assert_close(x[1] - x[0], expect, 0.0, 2e-4);
        /* Monotone in the ambient temperature: each step switches further. */
        assert_true(x[1] - x[0] < prev);
        prev = x[1] - x[0];
    }
}

static void test_pku_nominal_pulses_switch_further_when_hotter(void **state)
{
    (void)state;
    /* The device table's pulses, with self-heating: one nominal SET pulse
     * and one nominal RESET pulse from mid-window, at four ambients. */
    const double temps[] = {250.0, 300.0, 350.0, 400.0};
    double prev_set = 0.0, prev_reset = 0.0;
    for (size_t k = 0; k < 4; k++) {
        mx_device_params p;
        pku_params(&p);
        p.temperature_k = temps[k];
        enum { N = 2 };
        float *cells = populate(pku(), &p, N, 31);
        float g[N];
        mx_pulse pulses[N] = {{.count = 1}, {.count = -1}};
        mx_rng r;
        mx_rng_init_named(&r, SEED, "test.pulse", 0);
        pku()->pulse(&p, cells, g, pulses, N, &r);
        const double d_set = (double)cells[MX_PKU_CELL_X] - p.dynamic.x0;
        const double d_reset = (double)cells[MX_PKU_CELL_FLOATS + MX_PKU_CELL_X] - p.dynamic.x0;
        assert_true(d_set < prev_set && d_reset > prev_reset);
        assert_true(g[0] > g[1]);
        prev_set = d_set;
        prev_reset = d_reset;
        free(cells);
    }
}

static void test_pku_self_heating_sets_the_local_temperature(void **state)
{
    (void)state;
    mx_device_params p;
    pku_params(&p);
    const double xs[] = {0.0, 0.05, 0.3, 0.95, 1.0}, vs[] = {1.5, -1.2, 0.1};
    for (size_t a = 0; a < 5; a++)
        for (size_t b = 0; b < 3; b++) {
            const double gap = pku_gap_of(&p, xs[a]), v = vs[b];
            const double t_local =
                p.temperature_k + fabs(v * pku_i(&p, gap, v)) * p.pku.r_th_k_per_w;
            assert_close(mx_pku_temperature(pku(), &p, NULL, xs[a], v), t_local, 0.0, 1e-14);
            /* Inside the window the velocity is the one at that temperature
             * (at the ends it is 0 outward). */
            if (xs[a] > 0.0 && xs[a] < 1.0)
                assert_close(mx_dynamic_rate(pku(), &p, NULL, xs[a], v),
                             pku_dgdt(&p, gap, v, t_local) / pku_span(&p), 1e-300, 1e-12);
        }
    /* ON at 1.5 V: 90 mA, 0.14 W, the filament ~285 K above ambient. */
    assert_true(mx_pku_temperature(pku(), &p, NULL, 0.0, 1.5) > p.temperature_k + 250.0);
    assert_true(mx_pku_temperature(pku(), &p, NULL, 0.5, 0.0) == p.temperature_k);
    assert_true(isnan(mx_pku_temperature(vteam(), &p, NULL, 0.5, 1.0)));
    /* Self-heating makes a RESET pulse from ON switch further than without. */
    double t[2] = {0.0, 1e-10}, x_hot[2], x_cold[2], v = -1.5;
    p.dynamic.x0 = 0.0;
    assert_int_equal(mx_dynamic_integrate(pku(), &p, NULL, v_const, &v, t, 2, NULL, NULL, x_hot),
                     MX_OK);
    p.pku.r_th_k_per_w = 0.0;
    assert_int_equal(mx_dynamic_integrate(pku(), &p, NULL, v_const, &v, t, 2, NULL, NULL, x_cold),
                     MX_OK);
    assert_true(x_hot[1] > 2.0 * x_cold[1] && x_cold[1] > 0.0);
}

static void test_pku_does_not_move_below_the_field_threshold(void **state)
{
    (void)state;
    mx_device_params p;
    pku_params(&p);
    p.pku.delta_g0_m = 0.02e-9; /* the variation too acts on switching pulses only */
    enum { N = 5 };
    float *cells = populate(pku(), &p, N, 32);
    float g[N];
    mx_pulse pulses[N];
    double v_th[N];
    for (size_t i = 0; i < N; i++) {
        const double x = 0.25 * (double)i;
        cells[i * MX_PKU_CELL_FLOATS + MX_PKU_CELL_X] = (float)x;
        const double xf = (double)(float)x;
        /* V_th(g) = F_min·t_ox/γ(g): 1.05 V at gap_min to 1.39 V at gap_max. */
        v_th[i] = p.pku.f_min_v_per_m * p.pku.t_ox_m / pku_gamma_of(&p, pku_gap_of(&p, xf));
        assert_true(mx_dynamic_rate(pku(), &p, NULL, xf, 0.999 * v_th[i]) == 0.0);
        assert_true(mx_dynamic_rate(pku(), &p, NULL, xf, -0.999 * v_th[i]) == 0.0);
        assert_true(mx_dynamic_rate(pku(), &p, NULL, xf, 1.001 * v_th[i]) != 0.0 || xf == 0.0);
        /* Long sub-threshold trains, alternately SET and RESET. */
        pulses[i] = (mx_pulse){.count = i & 1 ? -100000 : 100000,
                               .amplitude_v = (float)(0.999 * v_th[i]), .width_s = 1e-6f};
    }
    assert_close(mx_dynamic_switching_threshold_v(pku(), &p), v_th[N - 1], 0.0, 1e-6);
    mx_rng r;
    mx_rng_init_named(&r, SEED, "test.pulse", 1);
    pku()->pulse(&p, cells, g, pulses, N, &r);
    for (size_t i = 0; i < N; i++)
        assert_true(cells[i * MX_PKU_CELL_FLOATS + MX_PKU_CELL_X] == (float)(0.25 * (double)i));
    free(cells);
    /* Below F_min·t_ox/γ0 = 1.05 V no state moves: a sine of 1 V leaves the
     * nominal device a resistor, x = x0 throughout, no lobe. */
    enum { SPC = 400 };
    double t[SPC + 1], v[SPC + 1], i[SPC + 1], x[SPC + 1];
    assert_int_equal(mx_dynamic_sweep(pku(), &p, 1.0, 1e7, 1, SPC, t, v, i, x), MX_OK);
    for (int k = 0; k <= SPC; k++)
        assert_true(x[k] == p.dynamic.x0);
    /* A nonlinear resistor traces the same curve up and down. */
    assert_close(mx_dynamic_lobe_area(v, i, SPC + 1), 0.0, 1e-15, 0.0);
}

static void test_pku_sine_drive_gives_a_pinched_loop_shrinking_with_frequency(void **state)
{
    (void)state;
    mx_device_params p;
    pku_params(&p);
    enum { SPC = 2400, CYCLES = 2, N = SPC * CYCLES + 1 };
    /* |dx/dt| at x0 = 0.5 and 1.5 V is 3.8e7 /s: these periods move x by
     * tenths of the window without pinning it at an end. */
    const double freqs[] = {3e7, 6e7, 1.2e8}, amplitude = 1.5;
    double *t = malloc(N * sizeof *t), *v = malloc(N * sizeof *v), *i = malloc(N * sizeof *i),
           *x = malloc(N * sizeof *x);
    assert_non_null(t);
    assert_non_null(v);
    assert_non_null(i);
    assert_non_null(x);
    double prev_area = INFINITY;
    for (size_t f = 0; f < 3; f++) {
        /* i = 0 at v = 0: sinh(v/V0) of ~1e-16 V; the area of the second
         * cycle (the first starts from x0). */
        const double area = pinched_loop_area(pku(), &p, amplitude, freqs[f], SPC, CYCLES, 1e-15,
                                              1, t, v, i, x);
        for (int k = 0; k < N; k++)
            assert_true(x[k] > 0.0 && x[k] < 1.0);
        assert_true(area < prev_area);
        prev_area = area;
    }
    free(t);
    free(v);
    free(i);
    free(x);
}

static void test_pku_d2d_spreads_the_resistance_and_the_speed(void **state)
{
    (void)state;
    enum { N = 20000 };
    const double sr = 0.2, sn = 0.3;
    mx_device_params p;
    pku_params(&p);
    p.dynamic.d2d_sigma_r = sr;
    p.pku.d2d_sigma_nu0 = sn;
    float *cells = populate(pku(), &p, N, 33);
    const double r_on = mx_dynamic_resistance(pku(), &p, NULL, 0.0);
    const double r_off = mx_dynamic_resistance(pku(), &p, NULL, 1.0);
    double s_r = 0.0, s_n = 0.0;
    double *rr = malloc(N * sizeof *rr), *nn = malloc(N * sizeof *nn);
    assert_non_null(rr);
    assert_non_null(nn);
    for (size_t i = 0; i < N; i++) {
        const float *c = cells + i * MX_PKU_CELL_FLOATS;
        rr[i] = mx_dynamic_resistance(pku(), &p, c, 0.0);
        nn[i] = (double)c[MX_PKU_CELL_NU0];
        /* R_ON and R_OFF move together (one factor on I0). */
        assert_close(mx_dynamic_resistance(pku(), &p, c, 1.0) / rr[i], r_off / r_on, 0.0, 1e-12);
        assert_true(c[MX_PKU_CELL_X] == (float)p.dynamic.x0);
        s_r += rr[i];
        s_n += nn[i];
    }
    const double m_r = s_r / N, m_n = s_n / N;
    double v_r = 0.0, v_n = 0.0, c_rn = 0.0, m4_r = 0.0, m4_n = 0.0;
    for (size_t i = 0; i < N; i++) {
        const double dr = rr[i] - m_r, dn = nn[i] - m_n;
        v_r += dr * dr;
        v_n += dn * dn;
        c_rn += dr * dn;
        m4_r += dr * dr * dr * dr;
        m4_n += dn * dn * dn * dn;
    }
    v_r /= N - 1;
    v_n /= N - 1;
    m4_r /= N;
    m4_n /= N;
    /* Means: SE = σ·mean/√N. */
    assert_within_sigma(m_r, r_on, sr * r_on / sqrt((double)N), K_SIGMA);
    assert_within_sigma(m_n, p.pku.nu0_m_per_s, sn * p.pku.nu0_m_per_s / sqrt((double)N),
                        K_SIGMA);
    /* Relative stds: SE of a sample std by the delta method,
     * sqrt((m4 − s⁴)/N)/(2s), over the mean. */
    const double sd_r = sqrt(v_r), sd_n = sqrt(v_n);
    assert_within_sigma(sd_r / m_r, sr, sqrt((m4_r - v_r * v_r) / N) / (2.0 * sd_r) / m_r, K_SIGMA);
    assert_within_sigma(sd_n / m_n, sn, sqrt((m4_n - v_n * v_n) / N) / (2.0 * sd_n) / m_n, K_SIGMA);
    /* Independent (cos and sin of one Box–Muller pair): the correlation's SE
     * is ~1/√N under independence. */
    assert_within_sigma(c_rn / ((N - 1) * sd_r * sd_n), 0.0, 1.0 / sqrt((double)N), K_SIGMA);
    /* Pinned first cell: a change of draw order or stream changes it. */
    assert_close(cells[MX_PKU_CELL_I0], 0.00105642166, 0.0, 1e-6);
    assert_close(cells[MX_PKU_CELL_NU0], 10.3918791, 0.0, 1e-6);
    free(rr);
    free(nn);
    free(cells);
}

static void test_pku_gap_variation_per_pulse_follows_its_temperature_law(void **state)
{
    (void)state;
    enum { N = 8000 };
    const double temps[] = {300.0, 600.0};
    for (size_t k = 0; k < 2; k++) {
        mx_device_params p;
        pku_params(&p);
        p.temperature_k = temps[k];
        /* The deterministic end state of 4 pulses of 1.5 V from mid-window,
         * each moving x by about 0.01 (δg0 = 0), then the same with δg0 =
         * 0.02 nm. */
        const double rate = fabs(mx_dynamic_rate(pku(), &p, NULL, p.dynamic.x0, 1.5));
        const mx_pulse train = {.count = 4, .amplitude_v = 1.5f, .width_s = (float)(0.01 / rate)};
        float *det = populate(pku(), &p, 1, 34);
        float g1;
        pulse_all(pku(), &p, det, &g1, 1, train);
        const double x_det = (double)det[MX_PKU_CELL_X];
        assert_true(x_det > 0.4 && x_det < 0.49);
        free(det);
        p.pku.delta_g0_m = 0.02e-9;
        float *cells = populate(pku(), &p, N, 35);
        float *g = malloc(N * sizeof *g);
        assert_non_null(g);
        pulse_all(pku(), &p, cells, g, N, train);
        /* σ = δg0·√4/(1 + exp((T_crit − T)/T_smth)), T at the end state. */
        const double t_end = mx_pku_temperature(pku(), &p, NULL, x_det, 1.5);
        const double sigma =
            p.pku.delta_g0_m * 2.0 / (1.0 + exp((p.pku.t_crit_k - t_end) / p.pku.t_smth_k));
        double s = 0.0, s2 = 0.0;
        for (size_t i = 0; i < N; i++) {
            const double d = pku_span(&p) * ((double)cells[i * MX_PKU_CELL_FLOATS] - x_det);
            s += d;
            s2 += d * d;
        }
        const double mean = s / N, sd = sqrt((s2 - N * mean * mean) / (N - 1));
        /* Far from the ends (x_det ≈ 0.46, σ ≈ 0.02 nm = 0.013 in x), nothing
         * is clamped:
         * mean SE σ/√N, std SE σ/√(2N) (normal). */
        assert_within_sigma(mean, 0.0, sigma / sqrt((double)N), K_SIGMA);
        assert_within_sigma(sd, sigma, sigma / sqrt(2.0 * N), K_SIGMA);
        free(g);
        free(cells);
    }
    /* One block per cell whatever the pulse: a cell left alone (count 0)
     * does not shift its neighbours' draws. */
    mx_device_params p;
    pku_params(&p);
    p.pku.delta_g0_m = 0.02e-9;
    enum { M = 6 };
    float *a = populate(pku(), &p, M, 36), *b = populate(pku(), &p, M, 36);
    float ga[M], gb[M];
    mx_pulse pa[M], pb[M];
    for (size_t i = 0; i < M; i++)
        pa[i] = pb[i] = (mx_pulse){.count = 2, .amplitude_v = 1.5f, .width_s = 0.25e-9f};
    pb[2].count = 0;
    mx_rng ra, rb;
    mx_rng_init_named(&ra, SEED, "test.pulse", 7);
    mx_rng_init_named(&rb, SEED, "test.pulse", 7);
    pku()->pulse(&p, a, ga, pa, M, &ra);
    pku()->pulse(&p, b, gb, pb, M, &rb);
    for (size_t i = 0; i < M; i++)
        if (i != 2)
            assert_true(a[i * MX_PKU_CELL_FLOATS] == b[i * MX_PKU_CELL_FLOATS]);
    assert_true(b[2 * MX_PKU_CELL_FLOATS] == (float)p.dynamic.x0);
    assert_true(mx_rng_u32(&ra) == mx_rng_u32(&rb));
    free(a);
    free(b);
}

static void test_pku_program_reaches_the_target_on_the_nominal_device(void **state)
{
    (void)state;
    enum { N = 41 };
    mx_device_params p;
    pku_params(&p);
    /* Fine pulses: 1.45 V (above the 1.39 V threshold at gap_max), 1 ps. */
    p.pulse = (mx_pulse_params){.v_ltp_v = 1.45, .width_ltp_s = 1e-12, .v_ltd_v = 1.45,
                                .width_ltd_s = 1e-12};
    assert_int_equal(pku()->validate(&p), MX_OK);
    float target[N], g[N];
    /* Log-spaced over the window (the conductance is exponential in x). */
    for (size_t i = 0; i < N; i++)
        target[i] = (float)(p.g_min_s * pow(p.g_max_s / p.g_min_s, (double)i / (N - 1)));
    mx_rng r;
    mx_rng_init_named(&r, SEED, "test.program", 1);
    mx_device_program(pku(), &p, target, g, N, &r);
    for (size_t i = 0; i < N; i++) {
        /* Half a pulse of state at the target, plus the solver's 1e-6 (twice:
         * plan and drive) and float targets: G = G_ON·exp(−span·x/g0), so a
         * state error δx is a relative conductance error (span/g0)·δx. */
        const double g_t = (double)target[i];
        const double x_t = (p.pku.g0_m * log(p.g_max_s / g_t)) / pku_span(&p);
        const double v = x_t > p.dynamic.x0 ? -1.45 : 1.45;
        const double dx = 0.5 * fabs(mx_dynamic_rate(pku(), &p, NULL, x_t, v)) * 1e-12 + 4e-6;
        assert_close(g[i], g_t, 0.0, pku_span(&p) / p.pku.g0_m * dx + 1e-6);
    }
    /* With the gap variation the same plan lands elsewhere, within the
     * cells' bounds, and the same rng gives the same cells. */
    p.pku.delta_g0_m = 0.02e-9;
    float g2[N], g3[N];
    mx_rng_init_named(&r, SEED, "test.program", 2);
    mx_device_program(pku(), &p, target, g2, N, &r);
    mx_rng_init_named(&r, SEED, "test.program", 2);
    mx_device_program(pku(), &p, target, g3, N, &r);
    assert_memory_equal(g2, g3, sizeof g2);
    double dev = 0.0;
    for (size_t i = 0; i < N; i++) {
        assert_true((double)g2[i] >= p.g_min_s * (1.0 - 1e-6) &&
                    (double)g2[i] <= p.g_max_s * (1.0 + 1e-6));
        dev += fabs((double)g2[i] / (double)target[i] - 1.0);
    }
    assert_true(dev / N > 0.01);
}

static void i0_zero(mx_device_params *p) { p->pku.i0_a = 0.0; }
static void g0_negative(mx_device_params *p) { p->pku.g0_m = -1e-10; }
static void v0_nan(mx_device_params *p) { p->pku.v0_v = (double)NAN; }
static void gap_min_zero(mx_device_params *p) { p->pku.gap_min_m = 0.0; }
static void gap_max_below_min(mx_device_params *p) { p->pku.gap_max_m = 0.1e-9; }
static void nu0_zero(mx_device_params *p) { p->pku.nu0_m_per_s = 0.0; }
static void ea_zero(mx_device_params *p) { p->pku.ea_ev = 0.0; }
static void a0_inf(mx_device_params *p) { p->pku.a0_m = (double)INFINITY; }
static void t_ox_zero(mx_device_params *p) { p->pku.t_ox_m = 0.0; }
static void gamma0_zero(mx_device_params *p) { p->pku.gamma0 = 0.0; }
static void beta_negative(mx_device_params *p) { p->pku.beta = -0.1; }
static void beta_too_large(mx_device_params *p) { p->pku.beta = 4.0; } /* γ(1.7 nm) < 0 */
static void f_min_negative(mx_device_params *p) { p->pku.f_min_v_per_m = -1.0; }
static void r_th_negative(mx_device_params *p) { p->pku.r_th_k_per_w = -1.0; }
static void delta_g_negative(mx_device_params *p) { p->pku.delta_g0_m = -1e-12; }
static void t_crit_zero(mx_device_params *p) { p->pku.t_crit_k = 0.0; }
static void t_smth_negative(mx_device_params *p) { p->pku.t_smth_k = -500.0; }
static void d2d_nu0_negative(mx_device_params *p) { p->pku.d2d_sigma_nu0 = -0.1; }
static void pku_g_min_low(mx_device_params *p) { p->g_min_s = 4e-6; }  /* 250 kΩ > R_OFF */
static void pku_g_max_high(mx_device_params *p) { p->g_max_s = 2e-3; } /* 500 Ω < R_ON */
static void pku_ltp_low(mx_device_params *p) { p->pulse.v_ltp_v = 1.3; }
static void pku_ltd_low(mx_device_params *p) { p->pulse.v_ltd_v = 1.0; }
static void temperature_zero(mx_device_params *p) { p->temperature_k = 0.0; }

static void test_pku_validate_rejects_each_bad_field_naming_it(void **state)
{
    (void)state;
    const bad_case cases[] = {
        {"hardware.device.pku.i0_a", i0_zero},
        {"hardware.device.pku.g0_m", g0_negative},
        {"hardware.device.pku.v0_v", v0_nan},
        {"hardware.device.pku.gap_min_m", gap_min_zero},
        {"hardware.device.pku.gap_max_m", gap_max_below_min},
        {"hardware.device.pku.nu0_m_per_s", nu0_zero},
        {"hardware.device.pku.ea_ev", ea_zero},
        {"hardware.device.pku.a0_m", a0_inf},
        {"hardware.device.pku.t_ox_m", t_ox_zero},
        {"hardware.device.pku.gamma0", gamma0_zero},
        {"hardware.device.pku.beta", beta_negative},
        {"hardware.device.pku.beta", beta_too_large},
        {"hardware.device.pku.f_min_v_per_m", f_min_negative},
        {"hardware.device.pku.r_th_k_per_w", r_th_negative},
        {"hardware.device.pku.delta_g0_m", delta_g_negative},
        {"hardware.device.pku.t_crit_k", t_crit_zero},
        {"hardware.device.pku.t_smth_k", t_smth_negative},
        {"hardware.device.pku.d2d_sigma_nu0", d2d_nu0_negative},
        {"hardware.device.dynamic.x0", x0_above_one},
        {"hardware.device.dynamic.d2d_sigma_r", d2d_r_negative},
        {"hardware.device.dynamic.ode_rel_tol", tol_zero},
        {"hardware.device.g_min_s", pku_g_min_low},
        {"hardware.device.g_max_s", pku_g_max_high},
        {"hardware.device.pulse.v_ltp_v", pku_ltp_low},
        {"hardware.device.pulse.v_ltd_v", pku_ltd_low},
        {"hardware.device.temperature_k", temperature_zero},
        {"hardware.device.stuck_at_gmin", stuck_set},
        {"hardware.device.endurance_cycles", endurance_set},
        {"hardware.device.d2d_sigma", d2d_sigma_set},
    };
    check_cases(pku(), pku_params, cases, sizeof cases / sizeof cases[0]);
    /* Without a field threshold any pulse switches; x0 at an end is fine. */
    mx_device_params p;
    pku_params(&p);
    p.pku.f_min_v_per_m = 0.0;
    p.pulse.v_ltp_v = 0.5;
    p.dynamic.x0 = 1.0;
    assert_int_equal(pku()->validate(&p), MX_OK);
    assert_true(mx_dynamic_switching_threshold_v(pku(), &p) == 0.0);
    assert_ptr_equal(mx_device_lookup("pku"), pku());
    assert_true(mx_dynamic_is(pku()));
    /* The integration entry points check the pku fields too. */
    p.pku.g0_m = 0.0;
    double t[2] = {0.0, 1e-9}, x[2], v = 1.5;
    mx_clear_error();
    assert_int_equal(mx_dynamic_integrate(pku(), &p, NULL, v_const, &v, t, 2, NULL, NULL, x),
                     MX_EINVAL);
    assert_error_mentions("hardware.device.pku.g0_m");
    double lo, hi;
    assert_int_equal(mx_dynamic_conductance_window(pku(), &p, &lo, &hi), MX_EINVAL);
    assert_int_equal(mx_dynamic_conductance_window(&mx_device_reram, &p, &lo, &hi), MX_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_functions_match_their_formulas),
        cmocka_unit_test(test_constant_current_follows_the_closed_form_for_each_window),
        cmocka_unit_test(test_constant_voltage_follows_the_charge_flux_closed_form),
        cmocka_unit_test(test_a_pulse_train_is_one_solve_over_its_total_time),
        cmocka_unit_test(test_sinusoidal_drive_gives_a_pinched_loop_shrinking_with_frequency),
        cmocka_unit_test(test_vteam_does_not_move_between_its_thresholds_and_moves_beyond),
        cmocka_unit_test(test_state_and_conductance_stay_inside_each_cells_bounds),
        cmocka_unit_test(test_d2d_resistances_are_lognormal_with_the_nominal_mean),
        cmocka_unit_test(test_program_reaches_the_target_on_the_nominal_device),
        cmocka_unit_test(test_validate_rejects_each_bad_field_naming_it),
        cmocka_unit_test(test_integration_entry_points_reject_bad_arguments),
        cmocka_unit_test(test_pku_read_resistance_is_memtorchs_window_at_0_1_v),
        cmocka_unit_test(test_pku_gap_velocity_follows_the_arrhenius_and_field_terms),
        cmocka_unit_test(test_pku_nominal_pulses_switch_further_when_hotter),
        cmocka_unit_test(test_pku_self_heating_sets_the_local_temperature),
        cmocka_unit_test(test_pku_does_not_move_below_the_field_threshold),
        cmocka_unit_test(test_pku_sine_drive_gives_a_pinched_loop_shrinking_with_frequency),
        cmocka_unit_test(test_pku_d2d_spreads_the_resistance_and_the_speed),
        cmocka_unit_test(test_pku_gap_variation_per_pulse_follows_its_temperature_law),
        cmocka_unit_test(test_pku_program_reaches_the_target_on_the_nominal_device),
        cmocka_unit_test(test_pku_validate_rejects_each_bad_field_naming_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
