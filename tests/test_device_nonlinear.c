/* SPDX-License-Identifier: MIT
 *
 * test_device_nonlinear.c: the NeuroSim nonlinear pulse-update cell
 * (devices/nonlinear.c) and the device presets (devices/presets.c). The
 * label → A solver against NeuroSim's published table; the cell's curves
 * after k pulses against NeuroSim's closed forms (both LTD notations);
 * inversion; cycle-to-cycle and device-to-device statistics; clipping,
 * endurance, stuck-at faults, open-loop programming; validation messages;
 * every preset; and the fixed number of draws per cell.
 *
 * Statistical tests are deterministic by seed and fail beyond 4 standard
 * errors of the theoretical value; each says how its standard error is
 * computed.
 */
#include "tests/support/mx_test.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/rng.h"
#include "devices/devices.h"
#include "devices/nonlinear.h"

#define SEED 20240917u
#define NF MX_NONLINEAR_REC_FLOATS

static void assert_error_mentions(const char *needle)
{
    if (!strstr(mx_last_error(), needle)) {
        print_error("expected the message to name '%s', got '%s'\n", needle, mx_last_error());
        fail();
    }
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    assert_non_null(p);
    return p;
}

static void rng_at(mx_rng *r, uint64_t item) { mx_rng_init_named(r, SEED, "device.program", item); }

/* A cell with noise off and the given labels, on a window of about
 * [0.95, 9.5] µS whose ends are exact floats (2^-20 S and 10·2^-20 S), so
 * that a cell set to an end in its float conductance is exactly there. */
static void quiet_params(mx_device_params *p, double nl_ltp, double nl_ltd)
{
    mx_device_params_default(p);
    p->g_min_s = 0x1p-20;
    p->g_max_s = 10.0 * 0x1p-20;
    p->nonlinear.nl_ltp = nl_ltp;
    p->nonlinear.nl_ltd = nl_ltd;
    p->nonlinear.states_ltp = 100;
    p->nonlinear.states_ltd = 80;
    assert_int_equal(mx_device_nonlinear.validate(p), MX_OK);
}

static void populate(const mx_device_params *p, float *cells, size_t n, uint64_t item)
{
    mx_rng r;
    rng_at(&r, item);
    mx_device_nonlinear.populate(p, cells, n, &r);
}

/* Trains of `count` pulses on every cell. */
static void pulse_all(const mx_device_params *p, float *cells, float *g, size_t n, int32_t count,
                      mx_rng *r)
{
    mx_pulse *pl = xcalloc(n, sizeof *pl);
    for (size_t i = 0; i < n; i++)
        pl[i].count = count;
    mx_device_nonlinear.pulse(p, cells, g, pl, n, r);
    free(pl);
}

/* The label a normalised A stands for, by the definition D(a) = κ·|NL|. */
static double label_of(double a)
{
    if (isinf(a))
        return 0.0;
    double l = mx_nonlinear_max_deviation(a) / MX_NONLINEAR_KAPPA;
    return a < 0.0 ? -l : l;
}

/* ---- label → A ------------------------------------------------------------ */

static void test_label_to_a_reproduces_the_published_pairs(void **state)
{
    (void)state;
    /* Nonlinearity-NormA.htm as quoted in anchors-crossbar.md §2.1, 4 decimals. */
    static const double pairs[][2] = {{0.5, 2.5199},  {1.0, 1.2517},  {2.0, 0.6090},
                                      {2.40, 0.4992}, {3.0, 0.3868},  {4.88, 0.2003},
                                      {5.0, 0.1924},  {9.0, 0.0228}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        double a = 0.0;
        assert_int_equal(mx_nonlinear_norm_a(pairs[i][0], "x", &a), MX_OK);
        /* The table rounds to 4 decimals: half a unit of the last place. */
        assert_close(a, pairs[i][1], 0.5e-4, 0.0);
        double an = 0.0;
        assert_int_equal(mx_nonlinear_norm_a(-pairs[i][0], "x", &an), MX_OK);
        assert_true(an == -a); /* negative label: the same |A|, negative */
    }
    /* The 6-decimal table of NeuroSim's formula.cpp at both ends of its range
     * (half a unit of its last place). */
    static const double six[][2] = {{0.01, 126.268958}, {0.02, 63.134314}, {1.0, 1.251653},
                                    {4.88, 0.200303},   {9.0, 0.022810}};
    for (size_t i = 0; i < sizeof six / sizeof six[0]; i++) {
        double a = 0.0;
        assert_int_equal(mx_nonlinear_norm_a(six[i][0], "x", &a), MX_OK);
        assert_close(a, six[i][1], 0.5e-6, 0.0);
    }
}

static void test_solved_a_meets_its_definition_and_zero_is_linear(void **state)
{
    (void)state;
    for (double nl = 0.01; nl <= 9.0; nl += 0.37) {
        double a = 0.0;
        assert_int_equal(mx_nonlinear_norm_a(nl, "x", &a), MX_OK);
        /* Brent stops at 1e-14 in ln a; D is smooth: a few ulps of D. */
        assert_close(mx_nonlinear_max_deviation(a), MX_NONLINEAR_KAPPA * nl, 1e-13, 0.0);
        /* The closed-form maximum is the maximum of g(x) − x on a fine grid. */
        double worst = 0.0;
        for (int k = 0; k <= 20000; k++) {
            double x = k / 20000.0;
            double d = mx_nonlinear_curve(x, a) - x;
            worst = d > worst ? d : worst;
        }
        /* Grid spacing h = 5e-5 misses the peak by at most g''·h²/8 ≤ 1e-6. */
        assert_close(worst, mx_nonlinear_max_deviation(a), 1e-6, 0.0);
    }
    double a = 0.0;
    assert_int_equal(mx_nonlinear_norm_a(0.0, "x", &a), MX_OK);
    assert_true(isinf(a) && a > 0.0);
    assert_true(mx_nonlinear_curve(0.3, a) == 0.3);
    assert_true(mx_nonlinear_max_deviation(a) == 0.0);
}

static void test_label_out_of_range_is_refused_naming_the_field(void **state)
{
    (void)state;
    static const double bad[] = {0.005, -0.009, 9.01, -12.0, (double)NAN, (double)INFINITY};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double a = 42.0;
        mx_clear_error();
        assert_int_equal(mx_nonlinear_norm_a(bad[i], "hardware.device.nonlinear.nl_ltd", &a),
                         MX_EINVAL);
        assert_error_mentions("hardware.device.nonlinear.nl_ltd");
        assert_true(a == 42.0); /* untouched on failure */
    }
}

/* ---- curves --------------------------------------------------------------- */

/* NeuroSim's LTP (and code-form LTD) curve, written out independently. */
static double neurosim_curve(double pulses, double p_max, double a_abs, double g_min, double g_max)
{
    double b = (g_max - g_min) / (1.0 - exp(-p_max / a_abs));
    return b * (1.0 - exp(-pulses / a_abs)) + g_min;
}

/* The manual's mirrored LTD form, G = −B'(1 − e^((P − P_max)/A')) + G_max. */
static double manual_ltd(double pulses, double p_max, double a_abs, double g_min, double g_max)
{
    double b = (g_max - g_min) / (1.0 - exp(-p_max / a_abs));
    return -b * (1.0 - exp((pulses - p_max) / a_abs)) + g_max;
}

static void test_curves_after_k_pulses_match_the_closed_forms(void **state)
{
    (void)state;
    static const double labels[] = {2.4, -2.4, 4.88, -4.88, 0.5};
    const size_t n = 1;
    for (size_t li = 0; li < sizeof labels / sizeof labels[0]; li++) {
        mx_device_params p;
        quiet_params(&p, labels[li], labels[li]);
        double a_norm = 0.0;
        assert_int_equal(mx_nonlinear_norm_a(labels[li], "x", &a_norm), MX_OK);
        const double w = p.g_max_s - p.g_min_s;
        for (int up = 0; up <= 1; up++) {
            const double p_max = up ? p.nonlinear.states_ltp : p.nonlinear.states_ltd;
            const double a_abs = a_norm * p_max;
            float cells[NF], g, g_single;
            populate(&p, cells, n, 1);
            mx_rng r;
            rng_at(&r, 2);
            g = (float)(up ? p.g_min_s : p.g_max_s);
            for (int k = 1; k <= (int)p_max; k++) {
                pulse_all(&p, cells, &g, n, up ? 1 : -1, &r);
                double pos = up ? k : p_max - k;
                double want = neurosim_curve(pos, p_max, a_abs, p.g_min_s, p.g_max_s);
                /* k single pulses: each step stores g as a float and inverts
                 * it. Half an ulp of g (3e-8 relative, ≤ 3.5e-8 of this
                 * window) on the flat end of the curve is worth e^(1/|a|)
                 * (≈ 150 at label 4.88) times as much on the steep end, over
                 * ≤ 100 steps: a random walk of ≈ 5e-5 of the window, 5e-4 if
                 * every rounding went one way; measured worst 2.5e-5 (label
                 * 4.88, LTD). The one-train check below is the tight one. */
                assert_close(g, want, 1e-4 * w, 0.0);
                if (!up) /* the manual's notation with A' = −A: the same curve */
                    assert_close(manual_ltd(pos, p_max, -a_abs, p.g_min_s, p.g_max_s), want,
                                 1e-12 * w, 0.0);
                /* One train of k pulses from the end: one float rounding. */
                float fresh[NF];
                populate(&p, fresh, n, 1);
                g_single = (float)(up ? p.g_min_s : p.g_max_s);
                pulse_all(&p, fresh, &g_single, n, up ? k : -k, &r);
                assert_close(g_single, want, 0.0, 4.0 * (double)FLT_EPSILON);
            }
        }
    }
}

static void test_negative_label_bends_the_other_way(void **state)
{
    (void)state;
    double a = 0.0;
    assert_int_equal(mx_nonlinear_norm_a(2.4, "x", &a), MX_OK);
    /* Positive A: above the line, big steps near G_min; negative: below. */
    assert_true(mx_nonlinear_curve(0.5, a) > 0.5);
    assert_true(mx_nonlinear_curve(0.5, -a) < 0.5);
    /* Point symmetry about (0.5, 0.5): g(x; −a) = 1 − g(1 − x; a). */
    for (int k = 0; k <= 10; k++) {
        double x = k / 10.0;
        assert_close(mx_nonlinear_curve(x, -a), 1.0 - mx_nonlinear_curve(1.0 - x, a), 1e-15,
                     0.0);
    }
    /* With A < 0, B is negative and the closed form still spans the window. */
    const double p_max = 100.0, a_abs = -a * p_max;
    double b = (1.0 - 0.0) / (1.0 - exp(-p_max / a_abs));
    assert_true(b < 0.0);
    assert_close(neurosim_curve(p_max, p_max, a_abs, 0.0, 1.0), 1.0, 1e-14, 0.0);
    assert_close(neurosim_curve(37.0, p_max, a_abs, 0.0, 1.0),
                 mx_nonlinear_curve(0.37, -a), 1e-14, 0.0);
}

static void test_inverse_round_trips_on_every_curve(void **state)
{
    (void)state;
    static const double as[] = {126.268958, 2.52, 0.5, 0.2, 0.0228, (double)INFINITY};
    for (size_t i = 0; i < sizeof as / sizeof as[0]; i++) {
        for (int s = -1; s <= 1; s += 2) {
            double a = s * as[i];
            for (int k = 0; k <= 100; k++) {
                double x = k / 100.0;
                double y = mx_nonlinear_curve(x, a);
                /* Conditioning: an error of ε in y is ε/g'(x) in x; g' from
                 * the closed form (1 for the line). */
                double slope = 1.0;
                if (!isinf(a)) {
                    double aa = fabs(a);
                    double xx = a > 0.0 ? x : 1.0 - x;
                    slope = exp(-xx / aa) / (aa * -expm1(-1.0 / aa));
                }
                if (slope < 1e-6)
                    continue; /* y is 1 − (< 1e-8): x is not recoverable */
                double tol = 16.0 * DBL_EPSILON / slope + 16.0 * DBL_EPSILON;
                assert_close(mx_nonlinear_curve_inverse(y, a), x, tol, 0.0);
            }
            assert_true(mx_nonlinear_curve_inverse(0.0, a) == 0.0 ||
                        fabs(mx_nonlinear_curve_inverse(0.0, a)) < 1e-15);
            assert_close(mx_nonlinear_curve_inverse(1.0, a), 1.0, 1e-12, 0.0);
        }
    }
    /* Absolute forms agree with the normalised ones. */
    double g = mx_nonlinear_conductance(30.0, 97.0, 0.4992, 3.0769e-9, 3.8462e-8);
    assert_close(mx_nonlinear_pulses(g, 97.0, 0.4992, 3.0769e-9, 3.8462e-8), 30.0, 1e-10, 0.0);
}

/* ---- variation -------------------------------------------------------------- */

static void test_c2c_variance_grows_with_the_pulse_count(void **state)
{
    (void)state;
    const size_t n = 20000;
    mx_device_params p;
    quiet_params(&p, 2.4, -4.88);
    p.nonlinear.c2c_sigma = 0.01;
    const double w = p.g_max_s - p.g_min_s, sigma1 = 0.01 * w;
    float *cells = xcalloc(n * NF, sizeof *cells);
    float *g = xcalloc(n, sizeof *g);
    static const int32_t counts[] = {1, 4, 16, -9};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        populate(&p, cells, n, 10 + c);
        double a_norm = 0.0;
        int up = counts[c] > 0;
        assert_int_equal(mx_nonlinear_norm_a(up ? 2.4 : -4.88, "x", &a_norm), MX_OK);
        double p_max = up ? 100.0 : 80.0;
        /* Start mid-window: the mean moves at most 0.22 of the window, and
         * the noise (σ ≤ 0.04 window) stays ≥ 7σ inside both ends. */
        double g0 = (double)(float)(0.5 * (p.g_min_s + p.g_max_s));
        double p0 = mx_nonlinear_pulses(g0, p_max, a_norm, p.g_min_s, p.g_max_s);
        for (size_t i = 0; i < n; i++)
            g[i] = (float)g0;
        mx_rng r;
        rng_at(&r, 100 + c);
        pulse_all(&p, cells, g, n, counts[c], &r);
        double want_mean = mx_nonlinear_conductance(p0 + counts[c], p_max, a_norm, p.g_min_s,
                                                    p.g_max_s);
        double s = 0.0, ss = 0.0;
        for (size_t i = 0; i < n; i++)
            s += (double)g[i];
        double m = s / (double)n;
        for (size_t i = 0; i < n; i++)
            ss += ((double)g[i] - m) * ((double)g[i] - m);
        double var = ss / (double)(n - 1);
        double want_var = sigma1 * sigma1 * fabs((double)counts[c]);
        /* SE of a mean σ/√n; of a Gaussian sample variance σ²·√(2/(n − 1)). */
        assert_within_sigma(m, want_mean, sqrt(want_var / (double)n), 4.0);
        assert_within_sigma(var, want_var, want_var * sqrt(2.0 / (double)(n - 1)), 4.0);
    }
    free(cells);
    free(g);
}

static void test_d2d_labels_spread_as_drawn_and_are_clipped_keeping_the_sign(void **state)
{
    (void)state;
    const size_t n = 20000;
    float *cells = xcalloc(n * NF, sizeof *cells);
    mx_device_params p;
    quiet_params(&p, 2.0, -3.0);
    p.nonlinear.d2d_nl_sigma = 0.3;
    assert_int_equal(mx_device_nonlinear.validate(&p), MX_OK);
    populate(&p, cells, n, 20);
    for (int d = 0; d < 2; d++) {
        double nominal = d == 0 ? 2.0 : -3.0;
        double s = 0.0, ss = 0.0;
        for (size_t i = 0; i < n; i++)
            s += label_of((double)cells[i * NF + (size_t)d]);
        double m = s / (double)n;
        for (size_t i = 0; i < n; i++) {
            double l = label_of((double)cells[i * NF + (size_t)d]);
            ss += (l - m) * (l - m);
        }
        double sd = sqrt(ss / (double)(n - 1));
        /* Clipping is ≥ 6.6σ away. SE: σ/√n for the mean, σ/√(2(n − 1)) for
         * the standard deviation (Gaussian). */
        assert_within_sigma(m, nominal, 0.3 / sqrt((double)n), 4.0);
        assert_within_sigma(sd, 0.3, 0.3 / sqrt(2.0 * (double)(n - 1)), 4.0);
    }
    /* Clipping: near the top the excess piles up at 9; around 0 the sign is
     * kept and |NL| ≥ 0.01. */
    p.nonlinear.nl_ltp = 8.9;
    p.nonlinear.nl_ltd = 0.0;
    p.nonlinear.d2d_nl_sigma = 1.0;
    populate(&p, cells, n, 21);
    size_t at_top = 0, negative = 0;
    for (size_t i = 0; i < n; i++) {
        double lt = label_of((double)cells[i * NF]);
        double ld = label_of((double)cells[i * NF + 1]);
        assert_true(fabs(lt) <= 9.0 + 1e-6 && fabs(lt) >= 0.01 - 1e-6);
        assert_true(fabs(ld) <= 9.0 + 1e-6 && fabs(ld) >= 0.01 - 1e-6);
        at_top += fabs(lt - 9.0) < 1e-5;
        negative += ld < 0.0;
    }
    /* P(8.9 + ξ > 9) = P(ξ > 0.1) = 0.46017; binomial SE √(q(1 − q)/n). */
    const double q = 0.460172162722971;
    assert_within_sigma((double)at_top / (double)n, q, sqrt(q * (1.0 - q) / (double)n), 4.0);
    assert_within_sigma((double)negative / (double)n, 0.5, sqrt(0.25 / (double)n), 4.0);
    free(cells);
}

/* ---- bounds, endurance, faults --------------------------------------------- */

static void test_trains_past_an_end_stop_at_the_bound(void **state)
{
    (void)state;
    const size_t n = 4000;
    mx_device_params p;
    quiet_params(&p, 2.4, -4.88);
    float *cells = xcalloc(n * NF, sizeof *cells);
    float *g = xcalloc(n, sizeof *g);
    populate(&p, cells, n, 30);
    for (size_t i = 0; i < n; i++)
        g[i] = (float)p.g_min_s;
    mx_rng r;
    rng_at(&r, 31);
    pulse_all(&p, cells, g, n, 1000, &r);
    for (size_t i = 0; i < n; i++)
        assert_true(g[i] == (float)p.g_max_s);
    /* Back one pulse: the LTD curve one step below its top. */
    double a_ltd = 0.0;
    assert_int_equal(mx_nonlinear_norm_a(-4.88, "x", &a_ltd), MX_OK);
    pulse_all(&p, cells, g, 1, -1, &r);
    assert_close(g[0], mx_nonlinear_conductance(79.0, 80.0, a_ltd, p.g_min_s, p.g_max_s), 0.0,
                 4.0 * (double)FLT_EPSILON);
    pulse_all(&p, cells, g, n, -100000, &r);
    for (size_t i = 0; i < n; i++)
        assert_true(g[i] == (float)p.g_min_s);
    /* With C2C noise a cell driven into its end sits on it or just inside:
     * half of them on it (the noise is symmetric), none outside. */
    p.nonlinear.c2c_sigma = 0.05;
    pulse_all(&p, cells, g, n, 500, &r);
    size_t on_top = 0;
    float lo[1], hi[1];
    for (size_t i = 0; i < n; i++) {
        mx_device_nonlinear.bounds(&p, cells + i * NF, lo, hi, 1);
        assert_true(lo[0] == (float)p.g_min_s && hi[0] == (float)p.g_max_s);
        assert_true(g[i] >= lo[0] && g[i] <= hi[0]);
        on_top += g[i] == hi[0];
    }
    /* Binomial SE √(0.25/n). */
    assert_within_sigma((double)on_top / (double)n, 0.5, sqrt(0.25 / (double)n), 4.0);
    free(cells);
    free(g);
}

static void test_endurance_narrows_the_window_about_its_middle(void **state)
{
    (void)state;
    mx_device_params p;
    quiet_params(&p, 1.0, -1.0);
    p.endurance_cycles = 1e4;
    p.endurance_onset = 10.0;
    p.endurance_floor = 0.2;
    assert_int_equal(mx_device_nonlinear.validate(&p), MX_OK);
    float cells[2 * NF], g[2] = {(float)p.g_min_s, (float)p.g_min_s};
    populate(&p, cells, 2, 40);
    mx_rng r;
    rng_at(&r, 41);
    const double mid = 0.5 * (p.g_min_s + p.g_max_s), w = p.g_max_s - p.g_min_s;
    const int trains = 1001;
    for (int t = 0; t < trains; t++) {
        /* Cell 0 alternates polarity; cell 1 only potentiates. */
        mx_pulse pl[2] = {{.count = t % 2 ? -3 : 3}, {.count = 3}};
        mx_device_nonlinear.pulse(&p, cells, g, pl, 2, &r);
        float lo[2], hi[2];
        mx_device_nonlinear.bounds(&p, cells, lo, hi, 2);
        double f = mx_device_endurance_window(&p, 0.5 * t); /* t reversals so far */
        assert_close(lo[0], mid - 0.5 * f * w, 0.0, 4.0 * (double)FLT_EPSILON);
        assert_close(hi[0], mid + 0.5 * f * w, 0.0, 4.0 * (double)FLT_EPSILON);
        assert_true(g[0] >= lo[0] && g[0] <= hi[0]);
        assert_true(lo[1] == (float)p.g_min_s && hi[1] == (float)p.g_max_s);
    }
    /* 1000 reversals = 500 cycles: 1 − 0.8·log(50)/log(1000) of the window. */
    float lo, hi;
    mx_device_nonlinear.bounds(&p, cells, &lo, &hi, 1);
    double f = 1.0 - 0.8 * log(50.0) / log(1000.0);
    assert_close((double)hi - (double)lo, f * w, 0.0, 1e-6);
    assert_close(cells[MX_NONLINEAR_REC_REV_LO], 1000.0, 0.0, 0.0);
}

static void test_stuck_cells_ignore_pulses_and_programming(void **state)
{
    (void)state;
    const size_t n = 10000;
    mx_device_params p;
    quiet_params(&p, 2.4, -4.88);
    p.stuck_at_gmin_frac = 0.3;
    p.stuck_at_gmax_frac = 0.2;
    assert_int_equal(mx_device_nonlinear.validate(&p), MX_OK);
    float *cells = xcalloc(n * NF, sizeof *cells);
    float *g = xcalloc(n, sizeof *g);
    float *target = xcalloc(n, sizeof *target);
    for (size_t i = 0; i < n; i++)
        target[i] = 5e-6f;
    populate(&p, cells, n, 50);
    mx_rng r;
    rng_at(&r, 51);
    mx_device_nonlinear.program(&p, cells, target, g, n, &r);
    size_t lo_n = 0, hi_n = 0;
    for (size_t i = 0; i < n; i++) {
        float stuck = cells[i * NF + MX_NONLINEAR_REC_STUCK];
        if (stuck == 1.0f) {
            assert_true(g[i] == (float)p.g_min_s);
            lo_n++;
        } else if (stuck == 2.0f) {
            assert_true(g[i] == (float)p.g_max_s);
            hi_n++;
        } else {
            assert_true(g[i] > (float)p.g_min_s && g[i] < (float)p.g_max_s);
        }
    }
    /* Binomial SE √(q(1 − q)/n). */
    assert_within_sigma((double)lo_n / (double)n, 0.3, sqrt(0.21 / (double)n), 4.0);
    assert_within_sigma((double)hi_n / (double)n, 0.2, sqrt(0.16 / (double)n), 4.0);
    pulse_all(&p, cells, g, n, 7, &r);
    for (size_t i = 0; i < n; i++) {
        float stuck = cells[i * NF + MX_NONLINEAR_REC_STUCK];
        float lo, hi;
        mx_device_nonlinear.bounds(&p, cells + i * NF, &lo, &hi, 1);
        if (stuck != 0.0f) {
            float v = (float)(stuck == 1.0f ? p.g_min_s : p.g_max_s);
            assert_true(g[i] == v && lo == v && hi == v);
        }
    }
    free(cells);
    free(g);
    free(target);
}

static void test_pulse_amplitude_and_width_are_ignored(void **state)
{
    (void)state;
    mx_device_params p;
    quiet_params(&p, 2.4, -4.88);
    p.nonlinear.c2c_sigma = 0.02;
    float c1[NF], c2[NF], g1 = 3e-6f, g2 = 3e-6f;
    populate(&p, c1, 1, 60);
    populate(&p, c2, 1, 60);
    mx_rng r1, r2;
    rng_at(&r1, 61);
    rng_at(&r2, 61);
    mx_pulse nominal = {.count = 5}, odd = {.count = 5, .amplitude_v = 7.5f, .width_s = 1e-3f};
    mx_device_nonlinear.pulse(&p, c1, &g1, &nominal, 1, &r1);
    mx_device_nonlinear.pulse(&p, c2, &g2, &odd, 1, &r2);
    assert_true(g1 == g2);
}

/* ---- open-loop programming ------------------------------------------------- */

static void test_program_reaches_the_quantised_target_within_half_a_pulse(void **state)
{
    (void)state;
    static const double labels[] = {2.4, -4.88, 0.0, 9.0};
    static const int levels[] = {0, 16};
    const size_t n = 257;
    float *cells = xcalloc(n * NF, sizeof *cells);
    float *target = xcalloc(n, sizeof *target);
    float *g = xcalloc(n, sizeof *g);
    for (size_t li = 0; li < sizeof labels / sizeof labels[0]; li++) {
        for (size_t lv = 0; lv < 2; lv++) {
            mx_device_params p;
            quiet_params(&p, labels[li], -2.0);
            p.levels = levels[lv];
            double a = 0.0;
            assert_int_equal(mx_nonlinear_norm_a(labels[li], "x", &a), MX_OK);
            const double p_max = p.nonlinear.states_ltp;
            for (size_t i = 0; i < n; i++) /* past both ends, and between */
                target[i] = (float)(0.5e-6 + 10e-6 * (double)i / (double)(n - 1));
            populate(&p, cells, n, 70);
            mx_rng r;
            rng_at(&r, 71);
            mx_device_nonlinear.program(&p, cells, target, g, n, &r);
            for (size_t i = 0; i < n; i++) {
                double tq = mx_device_quantise(&p, (double)target[i]);
                double k = nearbyint(mx_nonlinear_pulses(tq, p_max, a, p.g_min_s, p.g_max_s));
                /* The cell is on the nominal curve at the pulse count nearest
                 * the target (one float rounding of g)... */
                double gk = mx_nonlinear_conductance(k, p_max, a, p.g_min_s, p.g_max_s);
                assert_close(g[i], gk, 0.0, 4.0 * (double)FLT_EPSILON);
                /* ...so the target lies within half a pulse step of it (the
                 * pulse coordinate is not recovered from g: on the flat part
                 * of a label-9 curve one float step spans many pulses). */
                double lo = mx_nonlinear_conductance(fmax(k - 0.5, 0.0), p_max, a, p.g_min_s,
                                                     p.g_max_s);
                double hi = mx_nonlinear_conductance(fmin(k + 0.5, p_max), p_max, a,
                                                     p.g_min_s, p.g_max_s);
                assert_true(tq >= lo * (1.0 - 1e-12) && tq <= hi * (1.0 + 1e-12));
                if (labels[li] == 0.0) /* linear: half of one step of the window */
                    assert_close(g[i], tq, 0.5 * (p.g_max_s - p.g_min_s) / p_max + 1e-15, 0.0);
            }
        }
    }
    free(cells);
    free(target);
    free(g);
}

static void test_program_uses_the_nominal_pulse_count_on_each_cells_own_curve(void **state)
{
    (void)state;
    const size_t n = 64;
    mx_device_params p;
    quiet_params(&p, 2.4, -4.88);
    p.nonlinear.d2d_nl_sigma = 0.5;
    float cells[64 * NF], target[64], g[64];
    double a_nom = 0.0;
    assert_int_equal(mx_nonlinear_norm_a(2.4, "x", &a_nom), MX_OK);
    for (size_t i = 0; i < n; i++)
        target[i] = 4e-6f;
    const double k = nearbyint(mx_nonlinear_pulses(4e-6, 100.0, a_nom, p.g_min_s, p.g_max_s));
    populate(&p, cells, n, 80);
    mx_rng r;
    rng_at(&r, 81);
    mx_device_nonlinear.program(&p, cells, target, g, n, &r);
    int differ = 0;
    for (size_t i = 0; i < n; i++) {
        double a_cell = (double)cells[i * NF + MX_NONLINEAR_REC_A_LTP];
        assert_close(g[i], mx_nonlinear_conductance(k, 100.0, a_cell, p.g_min_s, p.g_max_s), 0.0,
                     4.0 * (double)FLT_EPSILON);
        differ += fabs((double)g[i] - 4e-6) > 0.02e-6;
        assert_true(cells[i * NF + MX_NONLINEAR_REC_POLARITY] == 1.0f);
    }
    assert_true(differ > 0); /* open loop: D2D cells miss the target */
    /* Reprogramming to g_min: a reset and no LTP train. */
    for (size_t i = 0; i < n; i++)
        target[i] = 0.0f;
    mx_device_nonlinear.program(&p, cells, target, g, n, &r);
    for (size_t i = 0; i < n; i++) {
        assert_true(g[i] == (float)p.g_min_s);
        assert_true(cells[i * NF + MX_NONLINEAR_REC_POLARITY] == -1.0f);
    }
}

/* ---- validation ------------------------------------------------------------- */

typedef struct bad_case {
    const char *field;
    void (*spoil)(mx_device_params *p);
} bad_case;

static void nl_ltp_small(mx_device_params *p) { p->nonlinear.nl_ltp = 0.005; }
static void nl_ltp_big(mx_device_params *p) { p->nonlinear.nl_ltp = -9.5; }
static void nl_ltp_nan(mx_device_params *p) { p->nonlinear.nl_ltp = (double)NAN; }
static void nl_ltd_big(mx_device_params *p) { p->nonlinear.nl_ltd = 10.0; }
static void nl_ltd_inf(mx_device_params *p) { p->nonlinear.nl_ltd = -(double)INFINITY; }
static void states_ltp_zero(mx_device_params *p) { p->nonlinear.states_ltp = 0; }
static void states_ltd_huge(mx_device_params *p) { p->nonlinear.states_ltd = 1000001; }
static void c2c_negative(mx_device_params *p) { p->nonlinear.c2c_sigma = -0.01; }
static void c2c_nan(mx_device_params *p) { p->nonlinear.c2c_sigma = (double)NAN; }
static void d2d_nl_negative(mx_device_params *p) { p->nonlinear.d2d_nl_sigma = -1.0; }
static void d2d_sigma_set(mx_device_params *p) { p->d2d_sigma = 0.1; }
static void prog_noise_set(mx_device_params *p) { p->prog_noise_coeffs[2] = 0.01; }
static void g_min_zero(mx_device_params *p) { p->g_min_s = 0.0; }

static void test_validate_rejects_each_bad_field_naming_it(void **state)
{
    (void)state;
    const bad_case cases[] = {
        {"hardware.device.nonlinear.nl_ltp", nl_ltp_small},
        {"hardware.device.nonlinear.nl_ltp", nl_ltp_big},
        {"hardware.device.nonlinear.nl_ltp", nl_ltp_nan},
        {"hardware.device.nonlinear.nl_ltd", nl_ltd_big},
        {"hardware.device.nonlinear.nl_ltd", nl_ltd_inf},
        {"hardware.device.nonlinear.states_ltp", states_ltp_zero},
        {"hardware.device.nonlinear.states_ltd", states_ltd_huge},
        {"hardware.device.nonlinear.c2c_sigma", c2c_negative},
        {"hardware.device.nonlinear.c2c_sigma", c2c_nan},
        {"hardware.device.nonlinear.d2d_nl_sigma", d2d_nl_negative},
        {"hardware.device.d2d_sigma", d2d_sigma_set},
        {"hardware.device.prog_noise[2]", prog_noise_set},
        {"hardware.device.g_min_s", g_min_zero},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mx_device_params p;
        mx_device_params_default(&p);
        cases[i].spoil(&p);
        mx_clear_error();
        assert_int_equal(mx_device_nonlinear.validate(&p), MX_EINVAL);
        assert_error_mentions(cases[i].field);
    }
    /* The edges are accepted. */
    mx_device_params p;
    mx_device_params_default(&p);
    static const double edges[] = {0.0, 0.01, -0.01, 9.0, -9.0};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        p.nonlinear.nl_ltp = edges[i];
        p.nonlinear.nl_ltd = -edges[i];
        assert_int_equal(mx_device_nonlinear.validate(&p), MX_OK);
    }
    p.nonlinear.states_ltp = 1;
    p.nonlinear.states_ltd = 1000000;
    assert_int_equal(mx_device_nonlinear.validate(&p), MX_OK);
}

/* ---- registry and presets --------------------------------------------------- */

static void test_registry_finds_the_nonlinear_model(void **state)
{
    (void)state;
    const mx_device_type *t = mx_device_lookup("nonlinear");
    assert_ptr_equal(t, &mx_device_nonlinear);
    assert_int_equal(t->cell_floats, MX_NONLINEAR_REC_FLOATS);
    assert_true(t->cell_floats <= MX_DEVICE_CELL_FLOATS_MAX);
    assert_non_null(t->populate);
    assert_non_null(t->pulse);
    assert_non_null(t->bounds);
    assert_null(t->age);
    mx_device_params p;
    mx_device_params_default(&p);
    assert_int_equal(t->validate(&p), MX_OK); /* the defaults are a valid cell */
}

static void test_every_preset_validates_with_its_model(void **state)
{
    (void)state;
    const mx_device_preset *const *all = mx_device_presets();
    size_t n = 0;
    for (; all[n]; n++) {
        const mx_device_preset *pr = all[n];
        assert_ptr_equal(mx_device_preset_lookup(pr->name), pr);
        for (size_t k = 0; k < n; k++)
            assert_true(strcmp(all[k]->name, pr->name) != 0);
        const mx_device_type *t = mx_device_lookup(pr->type);
        assert_non_null(t);
        assert_non_null(pr->description);
        assert_non_null(pr->source);
        mx_device_params p;
        mx_device_params_default(&p);
        pr->apply(&p);
        mx_clear_error();
        if (t->validate(&p) != MX_OK) {
            print_error("preset %s: %s\n", pr->name, mx_last_error());
            fail();
        }
        if (strcmp(pr->type, "nonlinear") == 0) {
            assert_non_null(strstr(pr->source, "NeuroSim"));
            assert_true(pr->neurosim_online_accuracy > 0.0 && pr->neurosim_online_accuracy < 1.0);
        }
    }
    assert_int_equal(n, 12); /* 7 NeuroSim rows, pcm, 3 dynamic, binary */
    assert_null(mx_device_preset_lookup("no-such-device"));
    assert_null(mx_device_preset_lookup("AG-SI"));

    /* Spot values against paper-tables.md §7.1. */
    mx_device_params p;
    mx_device_params_default(&p);
    const mx_device_preset *ag = mx_device_preset_lookup("ag-si");
    assert_non_null(ag);
    ag->apply(&p);
    assert_true(p.g_max_s == 3.8462e-8 && p.g_min_s == 3.0769e-9);
    assert_int_equal(p.nonlinear.states_ltp, 97);
    assert_int_equal(p.nonlinear.states_ltd, 100);
    assert_true(p.nonlinear.nl_ltp == 2.40 && p.nonlinear.nl_ltd == -4.88);
    assert_true(p.nonlinear.c2c_sigma == 0.035);
    assert_true(p.pulse.v_ltp_v == 3.2 && p.pulse.width_ltd_s == 300e-6);
    mx_device_params_default(&p);
    mx_device_preset_lookup("taox-hfox")->apply(&p);
    assert_close(p.g_max_s, 1e-5, 0.0, 4.0 * DBL_EPSILON);
    assert_close(p.g_min_s, 1e-6, 0.0, 4.0 * DBL_EPSILON);
    mx_device_params_default(&p);
    mx_device_preset_lookup("epiram")->apply(&p);
    assert_close(p.g_max_s / p.g_min_s, 50.2, 0.0, 4.0 * DBL_EPSILON);
    const mx_device_preset *pcm = mx_device_preset_lookup("pcm-nandakumar");
    assert_non_null(pcm);
    assert_string_equal(pcm->type, "pcm");
    assert_true(isnan(pcm->neurosim_online_accuracy));
    mx_device_params_default(&p);
    pcm->apply(&p);
    assert_true(p.g_max_s == 25e-6);
}

/* ---- streams ---------------------------------------------------------------- */

/* The block that follows populate + program + pulse on n cells; OUT: g_last,
 * the last cell's conductance at the end. */
static void next_block_after(const mx_device_params *p, size_t n, uint32_t out[4],
                             float *g_last)
{
    float *cells = xcalloc(n * NF, sizeof *cells);
    float *g = xcalloc(n, sizeof *g);
    float *target = xcalloc(n, sizeof *target);
    for (size_t i = 0; i < n; i++)
        target[i] = (float)(1e-6 + 9e-6 * (double)i / (double)n);
    mx_rng r;
    rng_at(&r, 90);
    mx_device_nonlinear.populate(p, cells, n, &r);
    mx_device_nonlinear.program(p, cells, target, g, n, &r);
    pulse_all(p, cells, g, n, (int32_t)-3, &r);
    *g_last = g[n - 1];
    mx_rng_block(&r, out);
    free(cells);
    free(g);
    free(target);
}

static void test_every_call_draws_one_block_per_cell_whatever_the_parameters(void **state)
{
    (void)state;
    const size_t n = 37;
    mx_device_params quiet, noisy;
    quiet_params(&quiet, 0.0, 0.0);
    quiet_params(&noisy, 2.4, -4.88);
    noisy.nonlinear.c2c_sigma = 0.035;
    noisy.nonlinear.d2d_nl_sigma = 0.4;
    noisy.stuck_at_gmin_frac = 0.1;
    noisy.stuck_at_gmax_frac = 0.1;
    noisy.read_noise_sigma = 0.0;
    uint32_t a[4], b[4], want[4];
    float g_quiet, g_noisy;
    next_block_after(&quiet, n, a, &g_quiet);
    next_block_after(&noisy, n, b, &g_noisy);
    /* 3 blocks per cell, then the next one. */
    mx_rng r;
    rng_at(&r, 90);
    for (size_t i = 0; i < 3 * n; i++)
        mx_rng_block(&r, want);
    mx_rng_block(&r, want);
    assert_memory_equal(a, want, sizeof want);
    assert_memory_equal(b, want, sizeof want);
    /* The quiet last cell is linear: programmed past the top to g_max, then
     * 3 of 80 LTD steps down. */
    double w = quiet.g_max_s - quiet.g_min_s;
    assert_close(g_quiet, quiet.g_max_s - 3.0 / 80.0 * w, 0.0, 4.0 * (double)FLT_EPSILON);
    /* Pin one noisy value (D2D labels, C2C of program and pulse): a change of
     * draw order shows here. 1e-6 relative leaves room for libm's last bits. */
    assert_close(g_noisy, 7.45922671e-06, 0.0, 1e-6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_to_a_reproduces_the_published_pairs),
        cmocka_unit_test(test_solved_a_meets_its_definition_and_zero_is_linear),
        cmocka_unit_test(test_label_out_of_range_is_refused_naming_the_field),
        cmocka_unit_test(test_curves_after_k_pulses_match_the_closed_forms),
        cmocka_unit_test(test_negative_label_bends_the_other_way),
        cmocka_unit_test(test_inverse_round_trips_on_every_curve),
        cmocka_unit_test(test_c2c_variance_grows_with_the_pulse_count),
        cmocka_unit_test(test_d2d_labels_spread_as_drawn_and_are_clipped_keeping_the_sign),
        cmocka_unit_test(test_trains_past_an_end_stop_at_the_bound),
        cmocka_unit_test(test_endurance_narrows_the_window_about_its_middle),
        cmocka_unit_test(test_stuck_cells_ignore_pulses_and_programming),
        cmocka_unit_test(test_pulse_amplitude_and_width_are_ignored),
        cmocka_unit_test(test_program_reaches_the_quantised_target_within_half_a_pulse),
        cmocka_unit_test(test_program_uses_the_nominal_pulse_count_on_each_cells_own_curve),
        cmocka_unit_test(test_validate_rejects_each_bad_field_naming_it),
        cmocka_unit_test(test_registry_finds_the_nonlinear_model),
        cmocka_unit_test(test_every_preset_validates_with_its_model),
        cmocka_unit_test(test_every_call_draws_one_block_per_cell_whatever_the_parameters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
