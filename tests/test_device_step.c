/* SPDX-License-Identifier: MIT
 *
 * test_device_step.c: the aihwkit-style step models (devices/step.c). With
 * every σ at 0 each kind's single step is checked against its closed form
 * (written out again here, independently of the model's code); then the
 * consequences: pulses to cross the window (constant step), the geometric
 * approach to a soft bound, up/down asymmetry, open-loop programming along
 * the nominal curve, stuck cells, bounds under noisy trains, and the
 * endurance window. Statistical tests (C2C variance growing as n steps, D2D
 * spread of steps and bounds, stuck fractions) are deterministic by seed and
 * fail beyond 4 standard errors; each says how its standard error is
 * computed. Last, the draws: a fixed number of Philox blocks per cell, and a
 * cell's draws independent of its neighbours' pulse counts and of the
 * parameters.
 *
 * w = (g − g_min)/(g_max − g_min) throughout. Conductances are floats: one
 * rounding of g near g_max = 1e-5 S is ≤ 2^-41 S ≈ 4.5e-13 S, i.e. 5e-8 of
 * the 9e-6 S window, so single-call deterministic results are compared in w
 * to W_TOL = 2e-7 (four such roundings).
 */
#include "tests/support/mx_test.h"

#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/rng.h"
#include "devices/devices.h"

#define SEED 20240917u
#define W_TOL 2e-7

static const mx_step_kind all_kinds[] = {MX_STEP_CONSTANT, MX_STEP_LINEAR, MX_STEP_SOFT_BOUNDS,
                                         MX_STEP_EXP, MX_STEP_POW};
#define N_KINDS (sizeof all_kinds / sizeof all_kinds[0])

/* Defaults with every random component off: the nominal device. */
static mx_device_params quiet_params(mx_step_kind kind)
{
    mx_device_params p;
    mx_device_params_default(&p);
    p.step.kind = kind;
    p.step.dw_min_dtod = 0.0;
    p.step.dw_min_std = 0.0;
    p.step.up_down_dtod = 0.0;
    p.step.bounds_dtod = 0.0;
    p.step.gamma_dtod = 0.0;
    p.step.pow_gamma_dtod = 0.0;
    assert_int_equal(mx_device_step.validate(&p), MX_OK);
    return p;
}

static double window(const mx_device_params *p) { return p->g_max_s - p->g_min_s; }
static double w_of(const mx_device_params *p, float g)
{
    return ((double)g - p->g_min_s) / window(p);
}
static float g_of(const mx_device_params *p, double w) { return (float)(p->g_min_s + w * window(p)); }

static float *new_cells(const mx_device_params *p, size_t n, uint64_t item)
{
    float *cells = malloc(n * mx_device_step.cell_floats * sizeof *cells);
    assert_non_null(cells);
    mx_rng r;
    mx_rng_init_named(&r, SEED, "device.population", item);
    mx_device_step.populate(p, cells, n, &r);
    return cells;
}

static float *new_floats(size_t n, float value)
{
    float *a = malloc(n * sizeof *a);
    assert_non_null(a);
    for (size_t i = 0; i < n; i++)
        a[i] = value;
    return a;
}

/* The same pulse train (count pulses, nominal amplitude and width) to n cells. */
static void pulse_all(const mx_device_params *p, float *cells, float *g, size_t n, int32_t count,
                      uint64_t item)
{
    mx_pulse *pulses = malloc(n * sizeof *pulses);
    assert_non_null(pulses);
    for (size_t i = 0; i < n; i++)
        pulses[i] = (mx_pulse){.count = count, .amplitude_v = 0.0f, .width_s = 0.0f};
    mx_rng r;
    mx_rng_init_named(&r, SEED, "device.pulse", item);
    mx_device_step.pulse(p, cells, g, pulses, n, &r);
    free(pulses);
}

/* One cell at w, count pulses: the w reached (from the float g it starts at). */
static double pulse_from(const mx_device_params *p, double w, int32_t count, double *w_start)
{
    float *c = new_cells(p, 1, 0);
    float g = g_of(p, w);
    if (w_start)
        *w_start = w_of(p, g);
    pulse_all(p, c, &g, 1, count, 0);
    free(c);
    return w_of(p, g);
}

static void moments(const double *x, size_t n, double *mean, double *var)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    double m = s / (double)n, ss = 0.0;
    for (size_t i = 0; i < n; i++)
        ss += (x[i] - m) * (x[i] - m);
    *mean = m;
    *var = ss / (double)(n - 1);
}

static void assert_error_mentions(const char *needle)
{
    if (!strstr(mx_last_error(), needle)) {
        print_error("expected the message to name '%s', got '%s'\n", needle, mx_last_error());
        fail();
    }
}

/* ---- registry and validation --------------------------------------------- */

static void test_registry_finds_step_and_its_record_fits(void **state)
{
    (void)state;
    assert_ptr_equal(mx_device_lookup("step"), &mx_device_step);
    assert_true(mx_device_step.cell_floats > 0);
    assert_true(mx_device_step.cell_floats <= MX_DEVICE_CELL_FLOATS_MAX);
    assert_non_null(mx_device_step.populate);
    assert_non_null(mx_device_step.pulse);
    assert_non_null(mx_device_step.bounds);
    assert_null(mx_device_step.age);
    mx_device_params p;
    mx_device_params_default(&p);
    for (size_t k = 0; k < N_KINDS; k++) {
        p.step.kind = all_kinds[k];
        assert_int_equal(mx_device_step.validate(&p), MX_OK); /* the defaults are valid */
    }
}

static void test_validation_names_each_bad_field(void **state)
{
    (void)state;
    mx_device_params p;
    struct {
        const char *field;
        double *slot;
        double bad;
    } doubles[] = {
        {"step.dw_min", &p.step.dw_min, 0.0},
        {"step.dw_min", &p.step.dw_min, 1.5},
        {"step.dw_min", &p.step.dw_min, NAN},
        {"step.dw_min_dtod", &p.step.dw_min_dtod, -0.1},
        {"step.dw_min_std", &p.step.dw_min_std, INFINITY},
        {"step.up_down", &p.step.up_down, 1.0},
        {"step.up_down", &p.step.up_down, -1.2},
        {"step.up_down_dtod", &p.step.up_down_dtod, -1e-3},
        {"step.bounds_dtod", &p.step.bounds_dtod, -0.5},
        {"step.gamma_up", &p.step.gamma_up, -0.1},
        {"step.gamma_down", &p.step.gamma_down, NAN},
        {"step.gamma_dtod", &p.step.gamma_dtod, -1.0},
        {"step.exp_a_up", &p.step.exp_a_up, INFINITY},
        {"step.exp_a_down", &p.step.exp_a_down, NAN},
        {"step.exp_gamma_up", &p.step.exp_gamma_up, -INFINITY},
        {"step.exp_gamma_down", &p.step.exp_gamma_down, NAN},
        {"step.exp_a", &p.step.exp_a, NAN},
        {"step.exp_b", &p.step.exp_b, INFINITY},
        {"step.pow_gamma", &p.step.pow_gamma, 0.0},
        {"step.pow_gamma", &p.step.pow_gamma, -1.0},
        {"step.pow_gamma_dtod", &p.step.pow_gamma_dtod, -0.2},
        {"g_min_s", &p.g_min_s, -1.0}, /* the common checks run too */
    };
    for (size_t i = 0; i < sizeof doubles / sizeof doubles[0]; i++) {
        mx_device_params_default(&p);
        *doubles[i].slot = doubles[i].bad;
        assert_int_equal(mx_device_step.validate(&p), MX_EINVAL);
        char field[96];
        snprintf(field, sizeof field, "hardware.device.%s:", doubles[i].field);
        assert_error_mentions(field);
    }
    mx_device_params_default(&p);
    p.step.kind = (mx_step_kind)7;
    assert_int_equal(mx_device_step.validate(&p), MX_EINVAL);
    assert_error_mentions("hardware.device.step.kind:");
    p.step.kind = (mx_step_kind)-1;
    assert_int_equal(mx_device_step.validate(&p), MX_EINVAL);
    assert_error_mentions("hardware.device.step.kind:");
}

/* ---- single steps against the closed forms -------------------------------- */

/* The nominal step (bounds 0 and 1, middle 1/2, span 1) of each kind, from
 * aihwkit's documented equations rewritten for w ∈ [0, 1]. */
static double closed_form_step(const mx_device_params *p, int up, double w)
{
    const mx_step_params *s = &p->step;
    const double dw = s->dw_min * (up ? 1.0 + s->up_down : 1.0 - s->up_down);
    double f = 1.0;
    switch (s->kind) {
    case MX_STEP_CONSTANT:
        f = 1.0;
        break;
    case MX_STEP_LINEAR: /* aihwkit Δw(1 + γ_ij w_a), γ⁺_ij = −γ⁺/b_max, w_a/b_max = 2w − 1 */
        f = up ? 1.0 - s->gamma_up * (2.0 * w - 1.0) : 1.0 - s->gamma_down * (1.0 - 2.0 * w);
        break;
    case MX_STEP_SOFT_BOUNDS:
        f = up ? 2.0 * (1.0 - w) : 2.0 * w;
        break;
    case MX_STEP_EXP: {
        double z = 2.0 * s->exp_a * (w - 0.5) + s->exp_b;
        f = up ? 1.0 - s->exp_a_up * exp(s->exp_gamma_up * z)
               : 1.0 - s->exp_a_down * exp(-s->exp_gamma_down * z);
        break;
    }
    case MX_STEP_POW:
        f = up ? pow(1.0 - w, s->pow_gamma) : pow(w, s->pow_gamma);
        break;
    }
    return dw * (f > 0.0 ? f : 0.0);
}

static void test_single_step_of_every_kind_matches_its_closed_form(void **state)
{
    (void)state;
    const double ws[] = {0.0, 0.05, 0.3, 0.5, 0.71, 0.95, 1.0};
    for (size_t k = 0; k < N_KINDS; k++) {
        mx_device_params p = quiet_params(all_kinds[k]);
        p.step.dw_min = 0.02;
        p.step.up_down = 0.1;
        p.step.gamma_up = 0.4;
        p.step.gamma_down = 0.7;
        p.step.pow_gamma = 1.7;
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
            for (int up = 0; up <= 1; up++) {
                double w0;
                double w1 = pulse_from(&p, ws[i], up ? 1 : -1, &w0);
                double want = w0 + (up ? 1.0 : -1.0) * closed_form_step(&p, up, w0);
                want = want < 0.0 ? 0.0 : (want > 1.0 ? 1.0 : want);
                assert_close(w1, want, W_TOL, 0.0);
            }
        }
    }
}

static void test_linear_step_with_gamma_one_is_soft_bounds(void **state)
{
    (void)state;
    mx_device_params lin = quiet_params(MX_STEP_LINEAR), soft = quiet_params(MX_STEP_SOFT_BOUNDS);
    lin.step.gamma_up = lin.step.gamma_down = 1.0;
    for (double w = 0.0; w <= 1.0; w += 0.125) {
        assert_close(pulse_from(&lin, w, 3, NULL), pulse_from(&soft, w, 3, NULL), 0.0, 0.0);
        assert_close(pulse_from(&lin, w, -3, NULL), pulse_from(&soft, w, -3, NULL), 0.0, 0.0);
    }
}

/* ---- consequences ---------------------------------------------------------- */

static void test_constant_step_crosses_the_window_in_one_over_dw_min_pulses(void **state)
{
    (void)state;
    mx_device_params p = quiet_params(MX_STEP_CONSTANT);
    p.step.dw_min = 0.01; /* 1/dw_min = 100 pulses */
    assert_close(pulse_from(&p, 0.0, 99, NULL), 0.99, W_TOL, 0.0);
    assert_close(pulse_from(&p, 0.0, 100, NULL), 1.0, W_TOL, 0.0);
    assert_close(pulse_from(&p, 0.0, 100000, NULL), 1.0, W_TOL, 0.0); /* clipped at b_max */
    assert_close(pulse_from(&p, 1.0, -100, NULL), 0.0, W_TOL, 0.0);
    assert_close(pulse_from(&p, 1.0, INT32_MIN, NULL), 0.0, W_TOL, 0.0); /* |INT32_MIN| pulses */
    /* Pulse by pulse (each pulse its own call, g rounded to float between):
     * the bound is reached at pulse 100, not before. */
    float *c = new_cells(&p, 1, 0);
    float g = (float)p.g_min_s;
    int pulses = 0;
    while (w_of(&p, g) < 1.0 - 1e-4 && pulses < 1000) {
        pulse_all(&p, c, &g, 1, 1, (uint64_t)pulses);
        pulses++;
    }
    assert_int_equal(pulses, 100);
    free(c);
}

static void test_soft_bounds_step_shrinks_linearly_to_zero_at_the_bound(void **state)
{
    (void)state;
    mx_device_params p = quiet_params(MX_STEP_SOFT_BOUNDS);
    const double dw = p.step.dw_min;
    /* Up step 2·dw·(1 − w): linear in w, dw in the middle, 0 at b_max. */
    for (double w = 0.0; w <= 1.0; w += 0.0625) {
        double w0, w1 = pulse_from(&p, w, 1, &w0);
        assert_close(w1 - w0, 2.0 * dw * (1.0 - w0), W_TOL, 0.0);
        w1 = pulse_from(&p, w, -1, &w0);
        assert_close(w0 - w1, 2.0 * dw * w0, W_TOL, 0.0);
    }
    assert_close(pulse_from(&p, 1.0, 1000, NULL), 1.0, W_TOL, 0.0);
    assert_close(pulse_from(&p, 0.0, -1000, NULL), 0.0, W_TOL, 0.0);
    /* From b_min, w_n = 1 − (1 − 2dw)^n: never reaching the bound, and
     * within ε of it after n* = ⌈ln ε / ln(1 − 2dw)⌉ pulses and not before. */
    const int ns[] = {1, 10, 100, 300};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        assert_close(pulse_from(&p, 0.0, ns[i], NULL), 1.0 - pow(1.0 - 2.0 * dw, ns[i]), W_TOL, 0.0);
    const double eps = 1e-3;
    int n_sat = (int)ceil(log(eps) / log(1.0 - 2.0 * dw)); /* 342 for dw = 0.01 */
    assert_true(pulse_from(&p, 0.0, n_sat, NULL) >= 1.0 - eps);
    assert_true(pulse_from(&p, 0.0, n_sat - 1, NULL) < 1.0 - eps);
    assert_true(pulse_from(&p, 0.0, 10 * n_sat, NULL) < 1.0);
}

static void test_up_down_asymmetry_sets_the_step_ratio(void **state)
{
    (void)state;
    mx_device_params p = quiet_params(MX_STEP_CONSTANT);
    p.step.up_down = 0.2;
    double w0, up = pulse_from(&p, 0.5, 1, &w0) - w0;
    double down = w0 - pulse_from(&p, 0.5, -1, NULL);
    assert_close(up, p.step.dw_min * 1.2, W_TOL, 0.0);
    assert_close(down, p.step.dw_min * 0.8, W_TOL, 0.0);
    assert_close(up / down, 1.5, 1e-4, 0.0); /* (1 + β)/(1 − β); W_TOL/dw_min = 2e-5 each */
    /* A symmetric train goes up by n·2β·dw_min net. */
    float *c = new_cells(&p, 1, 0);
    float g = g_of(&p, 0.5);
    double start = w_of(&p, g);
    for (int i = 0; i < 10; i++) {
        pulse_all(&p, c, &g, 1, 1, 2u * (unsigned)i);
        pulse_all(&p, c, &g, 1, -1, 2u * (unsigned)i + 1u);
    }
    assert_close(w_of(&p, g) - start, 10 * 2 * 0.2 * p.step.dw_min, 20 * W_TOL, 0.0);
    free(c);
}

static void test_pulse_amplitude_and_width_are_ignored(void **state)
{
    (void)state;
    mx_device_params p;
    mx_device_params_default(&p); /* with D2D and C2C noise */
    p.step.kind = MX_STEP_EXP;
    enum { N = 16 };
    float *c1 = new_cells(&p, N, 3), *c2 = new_cells(&p, N, 3);
    float *g1 = new_floats(N, g_of(&p, 0.4)), *g2 = new_floats(N, g_of(&p, 0.4));
    mx_pulse a[N], b[N];
    for (int i = 0; i < N; i++) {
        a[i] = (mx_pulse){.count = i - 8, .amplitude_v = 0.0f, .width_s = 0.0f};
        b[i] = (mx_pulse){.count = i - 8, .amplitude_v = 2.5f, .width_s = 1e-6f};
    }
    mx_rng r1, r2;
    mx_rng_init_named(&r1, SEED, "device.pulse", 0);
    mx_rng_init_named(&r2, SEED, "device.pulse", 0);
    mx_device_step.pulse(&p, c1, g1, a, N, &r1);
    mx_device_step.pulse(&p, c2, g2, b, N, &r2);
    assert_array_close(g1, g2, N, 0.0, 0.0);
    free(c1);
    free(c2);
    free(g1);
    free(g2);
}

/* ---- statistics ------------------------------------------------------------ */

static void test_c2c_variance_grows_as_n_steps(void **state)
{
    (void)state;
    mx_device_params p = quiet_params(MX_STEP_CONSTANT);
    p.step.dw_min = 0.002;
    p.step.dw_min_std = 0.3;
    enum { M = 4000, STEPS = 50 };
    float *c = new_cells(&p, M, 0);
    float *g = new_floats(M, g_of(&p, 0.5));
    const double w0 = w_of(&p, g[0]);
    pulse_all(&p, c, g, M, STEPS, 0);
    double *w = malloc(M * sizeof *w);
    assert_non_null(w);
    for (size_t i = 0; i < M; i++)
        w[i] = w_of(&p, g[i]);
    double mean, var;
    moments(w, M, &mean, &var);
    /* Sum of n independent steps dw(1 + σξ): mean n·dw, variance n(dw·σ)².
     * The end point, 0.6 ± 0.004, is 90 σ from the bound, so clipping never
     * acts. SE of the mean sqrt(var/M); SE of the sample variance of normal
     * data var·sqrt(2/(M − 1)). */
    const double var_want = STEPS * pow(p.step.dw_min * p.step.dw_min_std, 2.0);
    assert_within_sigma(mean - w0, STEPS * p.step.dw_min, sqrt(var_want / M), 4.0);
    assert_within_sigma(var, var_want, var_want * sqrt(2.0 / (M - 1)), 4.0);
    free(w);
    free(c);
    free(g);
}

static void test_d2d_spread_of_step_sizes_and_bounds(void **state)
{
    (void)state;
    mx_device_params p = quiet_params(MX_STEP_CONSTANT);
    p.step.dw_min_dtod = 0.3;
    p.step.up_down_dtod = 0.05;
    p.step.bounds_dtod = 0.04;
    enum { M = 4000 };
    float *c = new_cells(&p, M, 1);
    float *gu = new_floats(M, g_of(&p, 0.5)), *gd = new_floats(M, g_of(&p, 0.5));
    const double w0 = w_of(&p, gu[0]);
    /* Copies of the records, so the up and down pulses start from the same cells. */
    const size_t bytes = M * mx_device_step.cell_floats * sizeof(float);
    float *c2 = malloc(bytes);
    assert_non_null(c2);
    memcpy(c2, c, bytes);
    pulse_all(&p, c, gu, M, 1, 0);
    pulse_all(&p, c2, gd, M, -1, 1);
    double *beta = malloc(M * sizeof *beta), *dtod = malloc(M * sizeof *dtod);
    assert_non_null(beta);
    assert_non_null(dtod);
    for (size_t i = 0; i < M; i++) {
        /* Δw± = dw(1 ± β + σ_d ξ): their half difference and half sum over dw. */
        double up = w_of(&p, gu[i]) - w0, down = w0 - w_of(&p, gd[i]);
        beta[i] = (up - down) / (2.0 * p.step.dw_min);
        dtod[i] = (up + down) / (2.0 * p.step.dw_min) - 1.0;
    }
    /* For normal data the SE of the mean is s/sqrt(M) and of the standard
     * deviation s/sqrt(2(M − 1)). The |·| of steps of the wrong sign touches
     * P(ξ < −1/0.3) = 4e-4 of the cells, by ≈ 0: far below these SEs. */
    double m, v;
    moments(beta, M, &m, &v);
    assert_within_sigma(m, p.step.up_down, p.step.up_down_dtod / sqrt(M), 4.0);
    assert_within_sigma(sqrt(v), p.step.up_down_dtod, p.step.up_down_dtod / sqrt(2.0 * (M - 1)), 4.0);
    moments(dtod, M, &m, &v);
    assert_within_sigma(m, 0.0, p.step.dw_min_dtod / sqrt(M), 4.0);
    assert_within_sigma(sqrt(v), p.step.dw_min_dtod, p.step.dw_min_dtod / sqrt(2.0 * (M - 1)), 4.0);
    /* Bounds: b_min = σ_b ξ₃, b_max = 1 + σ_b ξ₄, independent. */
    float *lo = new_floats(M, 0.0f), *hi = new_floats(M, 0.0f);
    mx_device_step.bounds(&p, c, lo, hi, M);
    double *blo = malloc(M * sizeof *blo), *bhi = malloc(M * sizeof *bhi);
    assert_non_null(blo);
    assert_non_null(bhi);
    for (size_t i = 0; i < M; i++) {
        blo[i] = w_of(&p, lo[i]);
        bhi[i] = w_of(&p, hi[i]) - 1.0;
    }
    const double sb = p.step.bounds_dtod;
    moments(blo, M, &m, &v);
    assert_within_sigma(m, 0.0, sb / sqrt(M), 4.0);
    assert_within_sigma(sqrt(v), sb, sb / sqrt(2.0 * (M - 1)), 4.0);
    moments(bhi, M, &m, &v);
    assert_within_sigma(m, 0.0, sb / sqrt(M), 4.0);
    assert_within_sigma(sqrt(v), sb, sb / sqrt(2.0 * (M - 1)), 4.0);
    free(blo);
    free(bhi);
    free(lo);
    free(hi);
    free(beta);
    free(dtod);
    free(c);
    free(c2);
    free(gu);
    free(gd);
}

static void test_bounds_hold_under_noisy_trains_for_every_kind(void **state)
{
    (void)state;
    enum { M = 256, TRAINS = 40 };
    for (size_t k = 0; k < N_KINDS; k++) {
        mx_device_params p;
        mx_device_params_default(&p);
        p.step.kind = all_kinds[k];
        p.step.dw_min = 0.05;
        p.step.dw_min_std = 1.0; /* steps of either sign now and then */
        p.step.bounds_dtod = 0.05;
        p.step.gamma_up = p.step.gamma_down = 0.5;
        p.step.gamma_dtod = 0.2;
        p.step.pow_gamma_dtod = 0.3;
        float *c = new_cells(&p, M, k);
        float *g = new_floats(M, g_of(&p, 0.5)), *lo = new_floats(M, 0), *hi = new_floats(M, 0);
        mx_pulse pulses[M];
        mx_rng choose;
        mx_rng_init_named(&choose, SEED, "test.trains", k);
        for (int t = 0; t < TRAINS; t++) {
            for (size_t i = 0; i < M; i++)
                pulses[i] = (mx_pulse){.count = (int32_t)(mx_rng_u32(&choose) % 81u) - 40};
            mx_rng r;
            mx_rng_init_named(&r, SEED, "device.pulse", (uint64_t)t);
            mx_device_step.pulse(&p, c, g, pulses, M, &r);
            mx_device_step.bounds(&p, c, lo, hi, M);
            for (size_t i = 0; i < M; i++) {
                assert_true(lo[i] <= hi[i]);
                assert_true(g[i] >= lo[i] && g[i] <= hi[i]);
            }
        }
        free(c);
        free(g);
        free(lo);
        free(hi);
    }
}

static void test_stuck_cells_stay_stuck(void **state)
{
    (void)state;
    mx_device_params p = quiet_params(MX_STEP_LINEAR);
    p.stuck_at_gmin_frac = 0.2;
    p.stuck_at_gmax_frac = 0.1;
    enum { M = 4000 };
    float *c = new_cells(&p, M, 2);
    float *g = new_floats(M, g_of(&p, 0.5));
    mx_rng r;
    mx_rng_init_named(&r, SEED, "device.program", 0);
    mx_device_step.program(&p, c, g, g, M, &r);
    float *lo = new_floats(M, 0), *hi = new_floats(M, 0);
    mx_device_step.bounds(&p, c, lo, hi, M);
    size_t at_min = 0, at_max = 0;
    for (size_t i = 0; i < M; i++) {
        if (lo[i] == hi[i]) { /* a stuck cell: its bounds meet */
            assert_true(g[i] == lo[i]);
            at_min += g[i] == (float)p.g_min_s;
            at_max += g[i] == (float)p.g_max_s;
        } else {
            assert_close(w_of(&p, g[i]), 0.5, W_TOL, 0.0); /* 50 nominal pulses */
        }
    }
    /* Binomial counts: SE sqrt(M f (1 − f)). */
    assert_within_sigma(at_min, M * 0.2, sqrt(M * 0.2 * 0.8), 4.0);
    assert_within_sigma(at_max, M * 0.1, sqrt(M * 0.1 * 0.9), 4.0);
    /* Pulses do not move them (and healthy cells saturate). */
    pulse_all(&p, c, g, M, 1000, 0);
    for (size_t i = 0; i < M; i++)
        assert_true(lo[i] == hi[i] ? g[i] == lo[i] : g[i] == hi[i]);
    free(c);
    free(g);
    free(lo);
    free(hi);
}

/* ---- endurance --------------------------------------------------------------- */

static void test_endurance_narrows_the_window_about_its_middle(void **state)
{
    (void)state;
    mx_device_params p = quiet_params(MX_STEP_CONSTANT);
    p.endurance_cycles = 1e4;
    p.endurance_onset = 10.0;
    p.endurance_floor = 0.2;
    p.step.dw_min = 0.01;
    assert_int_equal(mx_device_step.validate(&p), MX_OK);
    float *c = new_cells(&p, 1, 0);
    float g = g_of(&p, 0.5), lo, hi;
    /* Alternating single pulses: the first sets the polarity, each later one
     * reverses it; two reversals make one cycle. Trains of 0 pulses and
     * repeated polarities do not count. */
    int reversals = 0;
    pulse_all(&p, c, &g, 1, 1, 0);
    for (int k = 1; k <= 200; k++) {
        pulse_all(&p, c, &g, 1, (k % 2) ? -1 : 1, (uint64_t)k);
        pulse_all(&p, c, &g, 1, 0, 0);
        reversals++;
    }
    pulse_all(&p, c, &g, 1, 1, 0); /* same polarity as the last train */
    double f = mx_device_endurance_window(&p, 0.5 * reversals);
    assert_close(f, 1.0 - 0.8 * log(10.0) / log(1000.0), 1e-12, 0.0); /* 100 cycles */
    mx_device_step.bounds(&p, c, &lo, &hi, 1);
    assert_close(w_of(&p, lo), 0.5 - 0.5 * f, W_TOL, 0.0);
    assert_close(w_of(&p, hi), 0.5 + 0.5 * f, W_TOL, 0.0);
    pulse_all(&p, c, &g, 1, 1000, 0);
    assert_true(g == hi);
    pulse_all(&p, c, &g, 1, -1000, 0); /* a reversal: the window narrows again */
    mx_device_step.bounds(&p, c, &lo, &hi, 1);
    assert_close(w_of(&p, hi) - w_of(&p, lo), mx_device_endurance_window(&p, 0.5 * (reversals + 1)),
                 W_TOL, 0.0);
    assert_true(g == lo);
    /* Worn out: 1e4 cycles and beyond leave the floor. */
    for (int k = 0; k < 20000; k++)
        pulse_all(&p, c, &g, 1, (k % 2) ? -1 : 1, 0);
    mx_device_step.bounds(&p, c, &lo, &hi, 1);
    assert_close(w_of(&p, hi) - w_of(&p, lo), p.endurance_floor, W_TOL, 0.0);
    assert_close(0.5 * (w_of(&p, hi) + w_of(&p, lo)), 0.5, W_TOL, 0.0);
    /* Reprogramming a cell (reset down, pulses up) is one more cycle. */
    mx_device_params q = quiet_params(MX_STEP_CONSTANT);
    q.endurance_cycles = 1e4;
    q.endurance_onset = 1.0;
    float *d = new_cells(&q, 1, 0);
    float target = g_of(&q, 0.5), out;
    mx_rng r;
    mx_rng_init_named(&r, SEED, "device.program", 0);
    for (int k = 0; k < 21; k++) /* 1 + 2·20 reversals: 20.5 cycles */
        mx_device_step.program(&q, d, &target, &out, 1, &r);
    mx_device_step.bounds(&q, d, &lo, &hi, 1);
    assert_close(w_of(&q, hi) - w_of(&q, lo), mx_device_endurance_window(&q, 20.5), W_TOL, 0.0);
    free(c);
    free(d);
}

/* ---- programming ------------------------------------------------------------- */

static void test_program_sends_the_nominal_pulse_count(void **state)
{
    (void)state;
    /* Constant step: round(target/dw_min) pulses from b_min. */
    mx_device_params p = quiet_params(MX_STEP_CONSTANT);
    p.step.dw_min = 0.03;
    enum { N = 7 };
    const double targets[N] = {0.0, 0.01, 0.0149, 0.2, 0.5, 0.77, 1.0};
    float t[N], out[N];
    for (int i = 0; i < N; i++)
        t[i] = g_of(&p, targets[i]);
    mx_rng r;
    mx_rng_init_named(&r, SEED, "device.program", 0);
    mx_device_program(&mx_device_step, &p, t, out, N, &r);
    for (int i = 0; i < N; i++) {
        double want = fmin(1.0, round(w_of(&p, t[i]) / p.step.dw_min) * p.step.dw_min);
        assert_close(w_of(&p, out[i]), want, W_TOL, 0.0);
    }
    /* Levels first: 5 levels put 0.37 on 0.25, then 0.25/0.03 → 8 pulses. */
    p.levels = 5;
    float t1 = g_of(&p, 0.37), o1;
    mx_device_program(&mx_device_step, &p, &t1, &o1, 1, &r);
    assert_close(w_of(&p, o1), 8 * 0.03, W_TOL, 0.0);

    /* Soft bounds: the nominal curve w_n = 1 − (1 − 2dw)^n point closest to
     * the target (found here by brute force). */
    mx_device_params s = quiet_params(MX_STEP_SOFT_BOUNDS);
    for (int i = 0; i < N; i++) {
        double tw = w_of(&s, t[i]);
        int best = 0;
        for (int n = 1; n < 2000; n++)
            if (fabs(1.0 - pow(1.0 - 2.0 * s.step.dw_min, n) - tw) <
                fabs(1.0 - pow(1.0 - 2.0 * s.step.dw_min, best) - tw))
                best = n;
        mx_device_program(&mx_device_step, &s, &t[i], &out[i], 1, &r);
        double want = 1.0 - pow(1.0 - 2.0 * s.step.dw_min, best);
        if (tw < 0.999) /* near 1 the programmer stops once the curve has saturated */
            assert_close(w_of(&s, out[i]), want, W_TOL, 0.0);
        else
            assert_true(w_of(&s, out[i]) > 1.0 - 1e-3);
    }
}

static void test_program_lands_on_the_cells_own_steps(void **state)
{
    (void)state;
    /* With D2D, the nominal count N = round(t/dw_min) of steps of the cell's
     * own size Δw⁺_i: the programmed w is N·Δw⁺_i, read back from a single
     * up pulse of the same cell. */
    mx_device_params p = quiet_params(MX_STEP_CONSTANT);
    p.step.dw_min_dtod = 0.2;
    p.step.dw_min = 0.02;
    enum { M = 64 };
    float *c = new_cells(&p, M, 5);
    float *t = new_floats(M, g_of(&p, 0.3)), *out = new_floats(M, 0);
    mx_rng r;
    mx_rng_init_named(&r, SEED, "device.program", 0);
    mx_device_step.program(&p, c, t, out, M, &r);
    float *g1 = new_floats(M, g_of(&p, 0.0));
    pulse_all(&p, c, g1, M, 1, 0);
    for (size_t i = 0; i < M; i++)
        assert_close(w_of(&p, out[i]), fmin(1.0, 15.0 * w_of(&p, g1[i])), 16 * W_TOL, 0.0);
    free(c);
    free(t);
    free(out);
    free(g1);
}

/* ---- draws -------------------------------------------------------------------- */

static void test_each_cell_spends_a_fixed_number_of_blocks(void **state)
{
    (void)state;
    mx_device_params p;
    mx_device_params_default(&p);
    p.step.kind = MX_STEP_POW;
    enum { M = 9 };
    float cells[M * MX_DEVICE_CELL_FLOATS_MAX];
    mx_rng r;
    mx_rng_init_named(&r, SEED, "device.population", 0);
    mx_device_step.populate(&p, cells, M, &r);
    assert_int_equal(r.ctr[0], 3 * M); /* ctr[0] is the next block index */
    float g[M], t[M];
    mx_pulse pulses[M];
    for (int i = 0; i < M; i++) {
        g[i] = t[i] = g_of(&p, 0.1 * i);
        pulses[i] = (mx_pulse){.count = (i - 4) * 1000};
    }
    mx_rng_init_named(&r, SEED, "device.pulse", 0);
    mx_device_step.pulse(&p, cells, g, pulses, M, &r);
    assert_int_equal(r.ctr[0], M);
    mx_rng_init_named(&r, SEED, "device.program", 0);
    mx_device_step.program(&p, cells, t, g, M, &r);
    assert_int_equal(r.ctr[0], M);
}

static void test_a_cells_draws_ignore_its_neighbours_and_the_parameters(void **state)
{
    (void)state;
    mx_device_params p;
    mx_device_params_default(&p); /* D2D and C2C on */
    p.step.kind = MX_STEP_SOFT_BOUNDS;
    p.step.bounds_dtod = 0.05;
    enum { M = 3 };
    float *c1 = new_cells(&p, M, 4), *c2 = new_cells(&p, M, 4);
    float g1[M] = {g_of(&p, 0.2), g_of(&p, 0.5), g_of(&p, 0.8)};
    float g2[M] = {g1[0], g1[1], g1[2]};
    mx_pulse a[M] = {{.count = 5}, {.count = 7}, {.count = -3}};
    mx_pulse b[M] = {{.count = 5}, {.count = 700}, {.count = -3}};
    mx_rng r1, r2;
    mx_rng_init_named(&r1, SEED, "device.pulse", 9);
    mx_rng_init_named(&r2, SEED, "device.pulse", 9);
    mx_device_step.pulse(&p, c1, g1, a, M, &r1);
    mx_device_step.pulse(&p, c2, g2, b, M, &r2);
    assert_true(g1[0] == g2[0] && g1[2] == g2[2]);
    assert_true(g1[1] != g2[1]);

    /* The population's bounds do not depend on the step's D2D σ (its own
     * draws, spent whether used or not). */
    mx_device_params q = p;
    q.step.dw_min_dtod = 0.0;
    q.step.up_down_dtod = 0.0;
    float *c3 = new_cells(&q, M, 4);
    float lo1[M], hi1[M], lo3[M], hi3[M];
    mx_device_step.bounds(&p, c1, lo1, hi1, M);
    mx_device_step.bounds(&q, c3, lo3, hi3, M);
    assert_array_close(lo1, lo3, M, 0.0, 0.0);
    assert_array_close(hi1, hi3, M, 0.0, 0.0);
    free(c1);
    free(c2);
    free(c3);
}

static void test_pinned_values_catch_a_change_of_draw_order(void **state)
{
    (void)state;
    /* The first cell of a default population (seed SEED, item 0): its up
     * step, and the conductance one default pulse train then gives. */
    mx_device_params p;
    mx_device_params_default(&p);
    float *c = new_cells(&p, 1, 0);
    float g = g_of(&p, 0.5);
    pulse_all(&p, c, &g, 1, 10, 0);
    /* Values of the first run; a tolerance of 1e-6 relative allows for libm
     * differences, far below what a shifted draw changes. */
    double w0, step = pulse_from(&p, 0.5, 1, &w0) - w0;
    assert_close(step, 0.0077964460, 0.0, 1e-6);
    assert_close(g, 6.14797864e-06, 0.0, 1e-6);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_finds_step_and_its_record_fits),
        cmocka_unit_test(test_validation_names_each_bad_field),
        cmocka_unit_test(test_single_step_of_every_kind_matches_its_closed_form),
        cmocka_unit_test(test_linear_step_with_gamma_one_is_soft_bounds),
        cmocka_unit_test(test_constant_step_crosses_the_window_in_one_over_dw_min_pulses),
        cmocka_unit_test(test_soft_bounds_step_shrinks_linearly_to_zero_at_the_bound),
        cmocka_unit_test(test_up_down_asymmetry_sets_the_step_ratio),
        cmocka_unit_test(test_pulse_amplitude_and_width_are_ignored),
        cmocka_unit_test(test_c2c_variance_grows_as_n_steps),
        cmocka_unit_test(test_d2d_spread_of_step_sizes_and_bounds),
        cmocka_unit_test(test_bounds_hold_under_noisy_trains_for_every_kind),
        cmocka_unit_test(test_stuck_cells_stay_stuck),
        cmocka_unit_test(test_endurance_narrows_the_window_about_its_middle),
        cmocka_unit_test(test_program_sends_the_nominal_pulse_count),
        cmocka_unit_test(test_program_lands_on_the_cells_own_steps),
        cmocka_unit_test(test_each_cell_spends_a_fixed_number_of_blocks),
        cmocka_unit_test(test_a_cells_draws_ignore_its_neighbours_and_the_parameters),
        cmocka_unit_test(test_pinned_values_catch_a_change_of_draw_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
