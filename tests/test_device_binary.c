/* SPDX-License-Identifier: MIT
 *
 * test_device_binary.c: the stochastic binary cell (devices/binary.c) —
 * switching probabilities of single pulses and trains against the closed
 * form P = 1 − exp(−n·t/τ(V)), τ(V) = τ0·exp(−|V|/V0) (Gaba et al. 2013);
 * the voltage law recovered from switching fractions; cells already in the
 * target state; device-to-device variation against the expectation of P
 * over the drawn τ0 or V0 (integrated numerically); open-loop programming;
 * endurance and stuck-at faults; validation.
 *
 * Statistical tests are deterministic by seed and fail beyond 4 standard
 * errors; a switching fraction over N cells with probability P has the
 * binomial standard error sqrt(P(1 − P)/N).
 */
#include "tests/support/mx_test.h"

#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/rng.h"
#include "devices/devices.h"

#define SEED 20240917u
#define N_CELLS 20000
#define K_SIGMA 4.0

static const mx_device_type *binary(void) { return &mx_device_binary; }

static void assert_error_mentions(const char *needle)
{
    if (!strstr(mx_last_error(), needle)) {
        print_error("expected the message to name '%s', got '%s'\n", needle, mx_last_error());
        fail();
    }
}

/* A population of n fresh cells, with its conductance array. */
typedef struct population {
    size_t n;
    float *cells, *g;
    mx_pulse *pulses;
} population;

static population make_population(const mx_device_params *p, size_t n, uint64_t item)
{
    assert_int_equal(binary()->validate(p), MX_OK);
    population pop = {.n = n};
    pop.cells = malloc(n * binary()->cell_floats * sizeof *pop.cells);
    pop.g = malloc(n * sizeof *pop.g);
    pop.pulses = malloc(n * sizeof *pop.pulses);
    assert_non_null(pop.cells);
    assert_non_null(pop.g);
    assert_non_null(pop.pulses);
    mx_rng r;
    mx_rng_init_named(&r, SEED, "test.populate", item);
    binary()->populate(p, pop.cells, n, &r);
    return pop;
}

static void free_population(population *pop)
{
    free(pop->cells);
    free(pop->g);
    free(pop->pulses);
}

/* The same train on every cell. */
static void apply_train(const mx_device_params *p, population *pop, int32_t count, double v,
                        double width_s, uint64_t item)
{
    for (size_t i = 0; i < pop->n; i++)
        pop->pulses[i] = (mx_pulse){.count = count, .amplitude_v = (float)v,
                                    .width_s = (float)width_s};
    mx_rng r;
    mx_rng_init_named(&r, SEED, "test.pulse", item);
    binary()->pulse(p, pop->cells, pop->g, pop->pulses, pop->n, &r);
}

static double fraction_at(const population *pop, double g)
{
    size_t k = 0;
    for (size_t i = 0; i < pop->n; i++)
        k += (double)pop->g[i] == (double)(float)g;
    return (double)k / (double)pop->n;
}

static double tau_nominal(const mx_device_params *p, double v)
{
    return p->binary.tau0_s * exp(-fabs(v) / p->binary.v0_v);
}

/* The closed form, with the width as the float the pulse carries. */
static double p_switch(const mx_device_params *p, int32_t count, double v, double width_s)
{
    double t = fabs((double)count) * (double)(float)width_s;
    return -expm1(-t / tau_nominal(p, (double)(float)v));
}

static double binomial_se(double prob, size_t n) { return sqrt(prob * (1.0 - prob) / (double)n); }

/* ---- switching probability ---------------------------------------------- */

static void test_switching_fraction_matches_the_closed_form_for_pulses_and_trains(void **state)
{
    (void)state;
    mx_device_params p;
    mx_device_params_default(&p);
    /* (count, |V|, width): single pulses and trains, P from 0.16 to 0.95. */
    const struct {
        int32_t count;
        double v, width_s;
    } cases[] = {
        {1, 3.0, 200e-6}, {1, 3.0, 1e-3}, {5, 3.0, 200e-6}, {1, 2.5, 10e-3},
        {5, 2.5, 2e-3},   {1, 3.5, 40e-6}, {100, 3.5, 2e-7}, {3, 3.2, 300e-6},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        population pop = make_population(&p, N_CELLS, c);
        /* SET from OFF. */
        apply_train(&p, &pop, cases[c].count, cases[c].v, cases[c].width_s, 2 * c);
        double expect = p_switch(&p, cases[c].count, cases[c].v, cases[c].width_s);
        assert_true(expect > 0.1 && expect < 0.99);
        assert_within_sigma(fraction_at(&pop, p.g_max_s), expect, binomial_se(expect, N_CELLS),
                            K_SIGMA);
        /* Pinned: a change of draw order or stream changes this count. */
        if (c == 0)
            assert_int_equal((size_t)(fraction_at(&pop, p.g_max_s) * N_CELLS + 0.5), 3311);
        /* Every cell ON (P = 1 − e^(−10⁶)), then RESET with the same train. */
        apply_train(&p, &pop, 1, 3.0, 1.0, 1000 + c);
        assert_true(fraction_at(&pop, p.g_max_s) == 1.0);
        apply_train(&p, &pop, -cases[c].count, cases[c].v, cases[c].width_s, 2 * c + 1);
        assert_within_sigma(fraction_at(&pop, p.g_min_s), expect, binomial_se(expect, N_CELLS),
                            K_SIGMA);
        free_population(&pop);
    }
}

static void test_switching_time_follows_the_exponential_voltage_law(void **state)
{
    (void)state;
    /* From the fraction P̂ switched by one 1 ms pulse, τ̂ = −t/ln(1 − P̂);
     * ln τ̂ must follow ln τ0 − V/V0. SE(ln τ̂) by the delta method:
     * d ln τ̂/dP = 1/((1 − P)·(−ln(1 − P))). */
    mx_device_params p;
    mx_device_params_default(&p);
    const double width = 1e-3;
    const double volts[] = {2.8, 2.9, 3.0, 3.1, 3.2};
    double prev = INFINITY;
    for (size_t k = 0; k < 5; k++) {
        population pop = make_population(&p, N_CELLS, 100 + k);
        apply_train(&p, &pop, 1, volts[k], width, 100 + k);
        double ph = fraction_at(&pop, p.g_max_s);
        double prob = p_switch(&p, 1, volts[k], width);
        double ln_tau_hat = log((double)(float)width / -log1p(-ph));
        double ln_tau = log(p.binary.tau0_s) - (double)(float)volts[k] / p.binary.v0_v;
        double se = binomial_se(prob, N_CELLS) / ((1.0 - prob) * -log1p(-prob));
        assert_within_sigma(ln_tau_hat, ln_tau, se, K_SIGMA);
        assert_true(ln_tau_hat < prev); /* higher voltage, faster switching */
        prev = ln_tau_hat;
        free_population(&pop);
    }
}

static void test_cells_already_in_the_target_state_never_switch(void **state)
{
    (void)state;
    mx_device_params p;
    mx_device_params_default(&p);
    /* With wear on, a switch would also move the bounds. */
    p.endurance_cycles = 100.0;
    p.endurance_onset = 1.0;
    population pop = make_population(&p, 1000, 7);
    float *lo = malloc(pop.n * sizeof *lo), *hi = malloc(pop.n * sizeof *hi);
    assert_non_null(lo);
    assert_non_null(hi);
    /* Fresh cells are OFF: RESET trains of certain switching change nothing. */
    apply_train(&p, &pop, -1000, 5.0, 1.0, 1);
    assert_true(fraction_at(&pop, p.g_min_s) == 1.0);
    binary()->bounds(&p, pop.cells, lo, hi, pop.n);
    for (size_t i = 0; i < pop.n; i++) {
        assert_true((double)lo[i] == (double)(float)p.g_min_s);
        assert_true((double)hi[i] == (double)(float)p.g_max_s);
    }
    /* One SET (one switch each: half a cycle, no wear below the onset). */
    apply_train(&p, &pop, 1, 5.0, 1.0, 2);
    float g_on = pop.g[0];
    for (size_t i = 0; i < pop.n; i++)
        assert_true(pop.g[i] == g_on);
    /* More SETs change nothing. */
    apply_train(&p, &pop, 1000, 5.0, 1.0, 3);
    for (size_t i = 0; i < pop.n; i++)
        assert_true(pop.g[i] == g_on);
    /* A zero-count train only reports the conductance. */
    apply_train(&p, &pop, 0, 5.0, 1.0, 4);
    for (size_t i = 0; i < pop.n; i++)
        assert_true(pop.g[i] == g_on);
    free(lo);
    free(hi);
    free_population(&pop);
}

/* ---- device-to-device variation ----------------------------------------- */

/* E[P] over the population: ∫ P(t/τ(ξ)) φ(ξ) dξ by the midpoint rule on
 * [−10, 10] (20 000 nodes; the rule's error is far below 1e-6 for these
 * smooth integrands). tau_of(ξ) gives a cell's τ at the test voltage. */
static double expected_p(double t, double (*tau_of)(double xi, const void *ctx), const void *ctx)
{
    const int nodes = 20000;
    const double lo = -10.0, h = 20.0 / nodes;
    double sum = 0.0;
    for (int k = 0; k < nodes; k++) {
        double xi = lo + (k + 0.5) * h;
        double phi = exp(-0.5 * xi * xi) / sqrt(2.0 * M_PI);
        sum += -expm1(-t / tau_of(xi, ctx)) * phi * h;
    }
    return sum;
}

typedef struct tau_case {
    const mx_device_params *p;
    double v;
} tau_case;

static double tau_lognormal_tau0(double xi, const void *ctx)
{
    const tau_case *c = ctx;
    return c->p->binary.tau0_s * exp(c->p->binary.tau0_d2d * xi) * exp(-c->v / c->p->binary.v0_v);
}

static double tau_gaussian_v0(double xi, const void *ctx)
{
    const tau_case *c = ctx;
    double v0 = c->p->binary.v0_v * (1.0 + c->p->binary.v0_d2d * xi);
    double floor_v0 = 0.01 * c->p->binary.v0_v;
    return c->p->binary.tau0_s * exp(-c->v / (v0 > floor_v0 ? v0 : floor_v0));
}

static void test_d2d_variation_of_tau0_broadens_the_switching_curve(void **state)
{
    (void)state;
    mx_device_params p;
    mx_device_params_default(&p);
    p.binary.tau0_d2d = 1.0;
    const double v = 3.0;
    const double tau = tau_nominal(&p, (double)(float)v);
    /* Widths where the nominal cell switches with P = 0.05 and 0.95. */
    const double widths[] = {-tau * log(0.95), -tau * log(0.05)};
    for (int k = 0; k < 2; k++) {
        population pop = make_population(&p, N_CELLS, 200 + (uint64_t)k);
        apply_train(&p, &pop, 1, v, widths[k], 200 + (uint64_t)k);
        double ph = fraction_at(&pop, p.g_max_s);
        tau_case c = {.p = &p, .v = (double)(float)v};
        double expect = expected_p((double)(float)widths[k], tau_lognormal_tau0, &c);
        assert_within_sigma(ph, expect, binomial_se(expect, N_CELLS), K_SIGMA);
        double nominal = p_switch(&p, 1, v, widths[k]);
        double se = binomial_se(nominal, N_CELLS);
        /* The spread of τ0 lifts the lower tail and lowers the upper one. */
        if (k == 0)
            assert_true(ph > nominal + K_SIGMA * se);
        else
            assert_true(ph < nominal - K_SIGMA * se);
        free_population(&pop);
    }
}

static void test_d2d_variation_of_v0_matches_its_expectation(void **state)
{
    (void)state;
    mx_device_params p;
    mx_device_params_default(&p);
    p.binary.v0_d2d = 0.05;
    /* Where the nominal cell switches with P = 0.05: the spread of V0
     * (±1 in ln τ at 3 V) lifts that tail. */
    const double v = 3.0, width = -tau_nominal(&p, (double)(float)v) * log(0.95);
    population pop = make_population(&p, N_CELLS, 300);
    apply_train(&p, &pop, 1, v, width, 300);
    tau_case c = {.p = &p, .v = (double)(float)v};
    double expect = expected_p((double)(float)width, tau_gaussian_v0, &c);
    assert_within_sigma(fraction_at(&pop, p.g_max_s), expect, binomial_se(expect, N_CELLS),
                        K_SIGMA);
    /* ... and differs from the nominal cell's P by more than 4 SE. */
    double nominal = p_switch(&p, 1, v, width);
    assert_true(fabs(expect - nominal) > 2.0 * K_SIGMA * binomial_se(expect, N_CELLS));
    free_population(&pop);
}

/* ---- programming, endurance, faults -------------------------------------- */

static void test_program_sets_on_above_the_midpoint_with_the_nominal_probability(void **state)
{
    (void)state;
    mx_device_params p;
    mx_device_params_default(&p);
    p.pulse.v_ltp_v = 3.0;
    p.pulse.width_ltp_s = 10e-6;
    p.pulse.v_ltd_v = 2.9;
    p.pulse.width_ltd_s = 20e-6;
    population pop = make_population(&p, N_CELLS, 400);
    float *target = malloc(pop.n * sizeof *target);
    assert_non_null(target);
    const double mid = 0.5 * (p.g_min_s + p.g_max_s);
    /* The nominal train: ⌈ln 100·τ/t⌉ pulses, so P ≥ 0.99 on the nominal
     * cell (and < 0.99 + one pulse's worth). */
    double n_set = ceil(log(100.0) * tau_nominal(&p, 3.0) / 10e-6);
    double p_set = -expm1(-n_set * 10e-6 / tau_nominal(&p, 3.0));
    assert_true(p_set >= 0.99);
    for (size_t i = 0; i < pop.n; i++)
        target[i] = (float)(i % 2 ? mid : p.g_max_s); /* the midpoint itself asks for ON */
    mx_rng r;
    mx_rng_init_named(&r, SEED, "test.program", 1);
    binary()->program(&p, pop.cells, target, pop.g, pop.n, &r);
    assert_within_sigma(fraction_at(&pop, p.g_max_s), p_set, binomial_se(p_set, N_CELLS),
                        K_SIGMA);
    /* Now RESET: targets below the midpoint, including 0 (clamped). */
    double n_reset = ceil(log(100.0) * tau_nominal(&p, 2.9) / 20e-6);
    double p_reset = -expm1(-n_reset * 20e-6 / tau_nominal(&p, 2.9));
    size_t on_before = 0;
    for (size_t i = 0; i < pop.n; i++) {
        on_before += pop.g[i] == (float)p.g_max_s;
        target[i] = (float)(i % 2 ? 0.0 : 0.99 * mid);
    }
    binary()->program(&p, pop.cells, target, pop.g, pop.n, &r);
    /* Cells that stayed OFF stay OFF; each ON cell resets with p_reset. */
    double off = fraction_at(&pop, p.g_min_s) * (double)pop.n;
    double expect_off = (double)(pop.n - on_before) + p_reset * (double)on_before;
    assert_within_sigma(off, expect_off, sqrt(p_reset * (1 - p_reset) * (double)on_before),
                        K_SIGMA);
    free(target);
    free_population(&pop);
}

static void test_endurance_narrows_the_window_with_switching_cycles(void **state)
{
    (void)state;
    mx_device_params p;
    mx_device_params_default(&p);
    p.endurance_cycles = 100.0;
    p.endurance_onset = 10.0;
    p.endurance_floor = 0.2;
    population pop = make_population(&p, 64, 500);
    float *lo = malloc(pop.n * sizeof *lo), *hi = malloc(pop.n * sizeof *hi);
    assert_non_null(lo);
    assert_non_null(hi);
    const double mid = 0.5 * (p.g_min_s + p.g_max_s), half = 0.5 * (p.g_max_s - p.g_min_s);
    /* Certain switching (t/τ ≈ 10⁹): after k SET/RESET pairs, k cycles. */
    for (int k = 1; k <= 120; k++) {
        apply_train(&p, &pop, 1, 5.0, 1.0, 2 * (uint64_t)k);
        double w_half = mx_device_endurance_window(&p, (double)k - 0.5);
        for (size_t i = 0; i < pop.n; i++)
            assert_close(pop.g[i], mid + w_half * half, 0.0, 1e-6);
        apply_train(&p, &pop, -1, 5.0, 1.0, 2 * (uint64_t)k + 1);
        double w = mx_device_endurance_window(&p, (double)k);
        binary()->bounds(&p, pop.cells, lo, hi, pop.n);
        for (size_t i = 0; i < pop.n; i++) {
            assert_close(pop.g[i], mid - w * half, 0.0, 1e-6);
            assert_close(lo[i], mid - w * half, 0.0, 1e-6);
            assert_close(hi[i], mid + w * half, 0.0, 1e-6);
        }
    }
    /* Past endurance_cycles the window stays at the floor. */
    binary()->bounds(&p, pop.cells, lo, hi, 1);
    assert_close(hi[0] - lo[0], 0.2 * (p.g_max_s - p.g_min_s), 0.0, 1e-5);
    free(lo);
    free(hi);
    free_population(&pop);
}

static void test_stuck_cells_keep_their_value_and_come_at_their_rates(void **state)
{
    (void)state;
    mx_device_params p;
    mx_device_params_default(&p);
    p.stuck_at_gmin_frac = 0.1;
    p.stuck_at_gmax_frac = 0.2;
    population pop = make_population(&p, N_CELLS, 600);
    /* Certain RESET: only the cells stuck at g_max are not at g_min. */
    apply_train(&p, &pop, -1, 5.0, 1.0, 1);
    double at_max = fraction_at(&pop, p.g_max_s);
    assert_within_sigma(at_max, 0.2, binomial_se(0.2, N_CELLS), K_SIGMA);
    /* Certain SET: only the cells stuck at g_min stay there. */
    apply_train(&p, &pop, 1, 5.0, 1.0, 2);
    double at_min = fraction_at(&pop, p.g_min_s);
    assert_within_sigma(at_min, 0.1, binomial_se(0.1, N_CELLS), K_SIGMA);
    /* Stuck cells' bounds are their value. */
    float lo[64], hi[64];
    binary()->bounds(&p, pop.cells, lo, hi, 64);
    for (size_t i = 0; i < 64; i++) {
        if (pop.g[i] == (float)p.g_min_s)
            assert_true(lo[i] == hi[i]);
        else
            assert_true(lo[i] <= pop.g[i] && pop.g[i] <= hi[i]);
    }
    free_population(&pop);
}

static void test_pulse_draws_one_uniform_per_cell_whatever_the_state(void **state)
{
    (void)state;
    /* Two populations that differ in state consume the stream equally: a
     * uniform drawn after the pulse call is the same. */
    mx_device_params p;
    mx_device_params_default(&p);
    population a = make_population(&p, 100, 700), b = make_population(&p, 100, 700);
    apply_train(&p, &b, 1, 5.0, 1.0, 9); /* b all ON */
    mx_rng ra, rb;
    mx_rng_init_named(&ra, SEED, "test.align", 0);
    mx_rng_init_named(&rb, SEED, "test.align", 0);
    for (size_t i = 0; i < a.n; i++) {
        a.pulses[i] = (mx_pulse){.count = (int32_t)(i % 3) - 1, .amplitude_v = 3.0f,
                                 .width_s = 1e-3f};
        b.pulses[i] = a.pulses[i];
    }
    binary()->pulse(&p, a.cells, a.g, a.pulses, a.n, &ra);
    binary()->pulse(&p, b.cells, b.g, b.pulses, b.n, &rb);
    assert_true(mx_rng_uniform(&ra) == mx_rng_uniform(&rb));
    free_population(&a);
    free_population(&b);
}

/* ---- validation ----------------------------------------------------------- */

typedef struct bad_case {
    const char *field;
    void (*spoil)(mx_device_params *p);
} bad_case;

static void tau0_zero(mx_device_params *p) { p->binary.tau0_s = 0.0; }
static void tau0_inf(mx_device_params *p) { p->binary.tau0_s = (double)INFINITY; }
static void v0_negative(mx_device_params *p) { p->binary.v0_v = -0.1; }
static void tau0_d2d_nan(mx_device_params *p) { p->binary.tau0_d2d = (double)NAN; }
static void tau0_d2d_negative(mx_device_params *p) { p->binary.tau0_d2d = -1.0; }
static void v0_d2d_negative(mx_device_params *p) { p->binary.v0_d2d = -0.1; }
static void levels_four(mx_device_params *p) { p->levels = 4; }
static void d2d_sigma_set(mx_device_params *p) { p->d2d_sigma = 0.1; }
static void prog_noise_set(mx_device_params *p) { p->prog_noise_coeffs[2] = 0.01; }
static void g_min_zero(mx_device_params *p) { p->g_min_s = 0.0; }

static void test_validate_rejects_each_bad_field_naming_it(void **state)
{
    (void)state;
    const bad_case cases[] = {
        {"hardware.device.binary.tau0_s", tau0_zero},
        {"hardware.device.binary.tau0_s", tau0_inf},
        {"hardware.device.binary.v0_v", v0_negative},
        {"hardware.device.binary.tau0_d2d", tau0_d2d_nan},
        {"hardware.device.binary.tau0_d2d", tau0_d2d_negative},
        {"hardware.device.binary.v0_d2d", v0_d2d_negative},
        {"hardware.device.levels", levels_four},
        {"hardware.device.d2d_sigma", d2d_sigma_set},
        {"hardware.device.prog_noise[2]", prog_noise_set},
        {"hardware.device.g_min_s", g_min_zero},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mx_device_params p;
        mx_device_params_default(&p);
        cases[i].spoil(&p);
        mx_clear_error();
        assert_int_equal(binary()->validate(&p), MX_EINVAL);
        assert_error_mentions(cases[i].field);
    }
    mx_device_params p;
    mx_device_params_default(&p);
    assert_int_equal(binary()->validate(&p), MX_OK);
    p.levels = 2;
    assert_int_equal(binary()->validate(&p), MX_OK);
    assert_ptr_equal(mx_device_lookup("binary"), &mx_device_binary);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_switching_fraction_matches_the_closed_form_for_pulses_and_trains),
        cmocka_unit_test(test_switching_time_follows_the_exponential_voltage_law),
        cmocka_unit_test(test_cells_already_in_the_target_state_never_switch),
        cmocka_unit_test(test_d2d_variation_of_tau0_broadens_the_switching_curve),
        cmocka_unit_test(test_d2d_variation_of_v0_matches_its_expectation),
        cmocka_unit_test(test_program_sets_on_above_the_midpoint_with_the_nominal_probability),
        cmocka_unit_test(test_endurance_narrows_the_window_with_switching_cycles),
        cmocka_unit_test(test_stuck_cells_keep_their_value_and_come_at_their_rates),
        cmocka_unit_test(test_pulse_draws_one_uniform_per_cell_whatever_the_state),
        cmocka_unit_test(test_validate_rejects_each_bad_field_naming_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
