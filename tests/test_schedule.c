/* SPDX-License-Identifier: MIT
 *
 * test_schedule.c: scheduled recalibration and reprogramming along the time
 * axis (crossbar.h mx_time_schedule, mx_matmul_set_age; calibration/drift.h;
 * the schedule columns of experiments/method.c). The schedule's arithmetic
 * against floor(t/τ) by hand; on a noiseless power-law device (every cell
 * G·((t + t0)/t0)^(−ν) with one ν) the gain left after global compensation
 * recalibrated at a_c is exactly ((a + t0)/(a_c + t0))^(−ν); on PCM a
 * recalibration at a_c reads the very chip a fresh matmul aged to a_c is
 * (same α bits), re-ageing returns the evaluation's cells bit for bit, and
 * a chip reprogrammed every τ_p is at t the fresh chip at t mod τ_p; a
 * period that divides t is the default, bit for bit; 1 and 2 threads give
 * the same bits; the costs count floor(t/τ).
 */
#include "tests/support/mx_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "adc/adc.h"
#include "calibration/drift.h"
#include "core/core.h"
#include "core/rng.h"
#include "crossbar/crossbar.h"
#include "devices/devices.h"
#include "experiments/config.h"
#include "experiments/method.h"
#include "experiments/results.h"

#define SEED 20251124u
#define LAYER 3u
#define DAY_S 86400.0
#define POWERLAW_NU 0.05

/* ---- a noiseless power-law drift device ------------------------------------------ */

/* Programs exactly, ages every cell by D(t) = ((t + t0)/t0)^(−ν) with one ν
 * (the PCM law without its spreads), spending one Philox block per cell as
 * the age contract asks. */
static mx_status powerlaw_validate(const mx_device_params *p)
{
    (void)p;
    return MX_OK;
}

static void powerlaw_program(const mx_device_params *p, float *cells, const float *g_target_s,
                             float *g_out_s, size_t n, mx_rng *rng)
{
    (void)p;
    (void)cells;
    (void)rng;
    memmove(g_out_s, g_target_s, n * sizeof(float));
}

static void powerlaw_age(const mx_device_params *p, const float *g_target_s,
                         const float *g_prog_s, float *g_out_s, size_t n, double t_s, mx_rng *rng)
{
    (void)g_target_s;
    const double d = pow((t_s + p->drift_t0_s) / p->drift_t0_s, -POWERLAW_NU);
    for (size_t i = 0; i < n; i++) {
        uint32_t u[4];
        mx_rng_block(rng, u);
        g_out_s[i] = (float)((double)g_prog_s[i] * d);
    }
}

static const mx_device_type powerlaw = {
    .name = "test-powerlaw",
    .description = "noiseless power-law drift",
    .source = "test",
    .validate = powerlaw_validate,
    .program = powerlaw_program,
    .read = mx_device_read_relative,
    .age = powerlaw_age,
};

static double drift_factor(double t_s, double t0_s) { return pow((t_s + t0_s) / t0_s, -POWERLAW_NU); }

/* ---- helpers ------------------------------------------------------------------------ */

typedef struct setup {
    mx_crossbar_config xbar;
    mx_device_params dev;
    mx_adc_config adc;
} setup;

/* Spike inputs, exact ADC, global compensation, no read noise. */
static setup base_setup(double t_s)
{
    setup s;
    mx_crossbar_config_default(&s.xbar);
    s.xbar.input = MX_INPUT_SPIKES;
    s.xbar.tile_rows = 64;
    s.xbar.drift.mode = MX_DRIFT_GLOBAL;
    mx_device_params_default(&s.dev);
    s.dev.g_min_s = 2.5e-6;
    s.dev.g_max_s = 25e-6;
    s.dev.t_inference_s = t_s;
    mx_adc_config_default(&s.adc);
    s.adc.kind = MX_ADC_NONE;
    return s;
}

static mx_matmul *create_ok(const mx_device_type *type, const float *w, size_t n_out,
                            size_t n_in, const setup *s)
{
    mx_matmul *mm = NULL;
    mx_status st =
        mx_matmul_create(w, n_out, n_in, &s->xbar, type, &s->dev, &s->adc, SEED, LAYER, &mm);
    if (st != MX_OK) {
        print_error("mx_matmul_create: %s: %s\n", mx_strerror(st), mx_last_error());
        fail();
    }
    assert_non_null(mm);
    return mm;
}

static void compensate_ok(mx_matmul *mm, mx_drift_result *r)
{
    mx_status st = mx_drift_compensate(mm, SEED + 1, 0, r);
    if (st != MX_OK) {
        print_error("mx_drift_compensate: %s: %s\n", mx_strerror(st), mx_last_error());
        fail();
    }
}

static float *random_weights(size_t n)
{
    float *a = malloc(n * sizeof *a);
    assert_non_null(a);
    mx_rng r;
    mx_rng_init_named(&r, SEED, "test.weights", 0);
    for (size_t i = 0; i < n; i++) {
        double v = mx_rng_uniform(&r);
        a[i] = (float)(mx_rng_uniform(&r) < 0.5 ? -v : v);
    }
    return a;
}

/* Outputs of `n_vec` fixed spike vectors (density 0.2, test stream; read
 * noise from its own stream). OUT: y (n_vec·n_out). */
static void outputs(const mx_matmul *mm, size_t n_vec, float *y)
{
    const size_t n_in = mx_matmul_n_in(mm), n_out = mx_matmul_n_out(mm);
    float *x = malloc(n_in * sizeof *x);
    assert_non_null(x);
    mx_matmul_work *wk = NULL;
    assert_int_equal(mx_matmul_work_create(mm, &wk), MX_OK);
    mx_rng xr;
    mx_rng_init_named(&xr, SEED, "test.inputs", 0);
    for (size_t v = 0; v < n_vec; v++) {
        for (size_t j = 0; j < n_in; j++)
            x[j] = mx_rng_uniform(&xr) < 0.2 ? 1.0f : 0.0f;
        mx_rng rd;
        mx_rng_init_named(&rd, SEED, "test.read", v);
        mx_matmul_forward(mm, wk, x, y + v * n_out, &rd, NULL, NULL);
    }
    mx_matmul_work_destroy(wk);
    free(x);
}

/* Least-squares gain of y against the exact W·x over the same vectors. */
static double output_gain(const mx_matmul *mm, const float *w, size_t n_vec)
{
    const size_t n_in = mx_matmul_n_in(mm), n_out = mx_matmul_n_out(mm);
    float *y = malloc(n_vec * n_out * sizeof *y), *x = malloc(n_in * sizeof *x);
    assert_non_null(y);
    assert_non_null(x);
    outputs(mm, n_vec, y);
    mx_rng xr;
    mx_rng_init_named(&xr, SEED, "test.inputs", 0);
    double num = 0.0, den = 0.0;
    for (size_t v = 0; v < n_vec; v++) {
        for (size_t j = 0; j < n_in; j++)
            x[j] = mx_rng_uniform(&xr) < 0.2 ? 1.0f : 0.0f;
        for (size_t o = 0; o < n_out; o++) {
            double ref = 0.0;
            for (size_t j = 0; j < n_in; j++)
                ref += (double)w[o * n_in + j] * (double)x[j];
            num += (double)y[v * n_out + o] * ref;
            den += ref * ref;
        }
    }
    free(x);
    free(y);
    return num / den;
}

static void assert_same_families(const mx_matmul *a, const mx_matmul *b)
{
    assert_int_equal(mx_matmul_n_families(a), mx_matmul_n_families(b));
    for (size_t f = 0; f < mx_matmul_n_families(a); f++) {
        size_t cols = 0;
        const float *ga = mx_matmul_family(a, f, &cols);
        const float *gb = mx_matmul_family(b, f, NULL);
        assert_memory_equal(ga, gb, mx_matmul_n_in(a) * cols * sizeof *ga);
    }
}

/* ---- the schedule's arithmetic ---------------------------------------------------- */

static void test_schedule_counts_floor_t_over_tau(void **state)
{
    (void)state;
    mx_crossbar_config c;
    mx_crossbar_config_default(&c);
    mx_time_schedule s;
    /* Defaults: nothing scheduled, the cells are t old, nothing measured. */
    mx_time_schedule_at(&c, 365 * DAY_S, &s);
    assert_true(s.age_s == 365 * DAY_S && s.reprogrammings == 0 && s.recalibrations == 0);
    assert_int_equal(s.recalibrated, 0);
    /* Compensation measured at every evaluation: one recalibration, at t. */
    c.drift.mode = MX_DRIFT_GLOBAL;
    mx_time_schedule_at(&c, 3600.0, &s);
    assert_true(s.recalibrated && s.recal_age_s == 3600.0 && s.recalibrations == 1);
    /* Reprogrammed every 30 days: 12 times in a year, the cells 5 days old. */
    c.reprogram_every_s = 30 * DAY_S;
    mx_time_schedule_at(&c, 365 * DAY_S, &s);
    assert_true(s.reprogrammings == 12 && s.age_s == 5 * DAY_S);
    /* At a multiple the chip has just been reprogrammed: age 0. */
    mx_time_schedule_at(&c, 60 * DAY_S, &s);
    assert_true(s.reprogrammings == 2 && s.age_s == 0.0);
    mx_time_schedule_at(&c, 29 * DAY_S, &s);
    assert_true(s.reprogrammings == 0 && s.age_s == 29 * DAY_S);
    /* Recalibrated daily, never reprogrammed: floor(t/τ_c). */
    c.reprogram_every_s = 0.0;
    c.drift.recalibrate_every_s = DAY_S;
    mx_time_schedule_at(&c, 10.5 * DAY_S, &s);
    assert_true(s.recalibrated && s.recal_age_s == 10 * DAY_S && s.recalibrations == 10);
    mx_time_schedule_at(&c, 365 * DAY_S, &s);
    assert_true(s.recal_age_s == s.age_s && s.recalibrations == 365);
    /* Before the first recalibration: the t0 reference only. */
    mx_time_schedule_at(&c, 3600.0, &s);
    assert_true(!s.recalibrated && s.recal_age_s == 0.0 && s.recalibrations == 0);
    /* Both: a 30-day period holds recalibrations at days 1..29 (the one at
     * day 30 is the reprogramming); 65.5 days = 2 periods + 5.5 days. */
    c.reprogram_every_s = 30 * DAY_S;
    mx_time_schedule_at(&c, 65.5 * DAY_S, &s);
    assert_true(s.reprogrammings == 2 && s.age_s == 5.5 * DAY_S);
    assert_true(s.recalibrated && s.recal_age_s == 5 * DAY_S);
    assert_int_equal(s.recalibrations, 2 * 29 + 5);
    /* Weekly in 30-day periods: days 7, 14, 21, 28 per period. */
    c.drift.recalibrate_every_s = 7 * DAY_S;
    mx_time_schedule_at(&c, 65.5 * DAY_S, &s);
    assert_true(!s.recalibrated && s.recalibrations == 2 * 4);
    /* Compensation none counts no recalibration whatever τ_c says. */
    c.drift.mode = MX_DRIFT_NONE;
    mx_time_schedule_at(&c, 65.5 * DAY_S, &s);
    assert_true(s.recalibrations == 0 && s.reprogrammings == 2);
}

/* ---- recalibration -------------------------------------------------------------- */

/* Noiseless power law, exact conversion: the output scale at cell age a is
 * D(a) exactly (every cell, both of a pair, scaled alike), α measured at a_c
 * is 1/D(a_c), so the compensated gain is D(a)/D(a_c) =
 * ((a + t0)/(a_c + t0))^(−ν). Tolerance 1e-5 relative: float conductances
 * (2^−24) summed over ≤ 256 rows and 8 vectors. */
static void test_recalibrated_gain_is_the_drift_since_the_last_recalibration(void **state)
{
    (void)state;
    const size_t n_out = 24, n_in = 200;
    float *w = random_weights(n_out * n_in);
    const struct {
        double t_s, tau_s, expect_age_c; /* expect_age_c < 0: no recalibration yet */
    } cases[] = {
        {10.5 * DAY_S, DAY_S, 10 * DAY_S},
        {365 * DAY_S, 30 * DAY_S, 360 * DAY_S},
        {0.5 * DAY_S, DAY_S, -1.0},
        {3600.0, 0.0, 3600.0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        setup su = base_setup(cases[k].t_s);
        su.xbar.drift.recalibrate_every_s = cases[k].tau_s;
        mx_matmul *mm = create_ok(&powerlaw, w, n_out, n_in, &su);
        const double t0 = su.dev.drift_t0_s;
        const double before = output_gain(mm, w, 8);
        mx_drift_result r;
        compensate_ok(mm, &r);
        const double after = output_gain(mm, w, 8);
        const double d_t = drift_factor(cases[k].t_s, t0);
        const double expect =
            cases[k].expect_age_c < 0.0 ? d_t : d_t / drift_factor(cases[k].expect_age_c, t0);
        print_message("t %.0f s, tau_c %.0f s: scale %.6f uncompensated (D %.6f), alpha %.6f, "
                      "%.6f compensated (closed form %.6f)\n",
                      cases[k].t_s, cases[k].tau_s, before, d_t, r.alpha, after, expect);
        assert_close(before, d_t, 0.0, 1e-5);
        assert_close(after, expect, 0.0, 1e-5);
        if (cases[k].expect_age_c < 0.0) {
            assert_true(r.alpha == 1.0);
            assert_true(isnan(r.measured_age_s));
            assert_int_equal(r.forward_calls, (uint64_t)su.xbar.drift.vectors);
            const double *g = NULL;
            mx_matmul_output_correction(mm, &g, NULL);
            assert_null(g); /* the identity: the uncompensated bits */
        } else {
            assert_true(r.measured_age_s == cases[k].expect_age_c);
            assert_close(r.alpha, 1.0 / drift_factor(cases[k].expect_age_c, t0), 0.0, 1e-5);
            assert_int_equal(r.stats_t.read_passes, (uint64_t)su.xbar.drift.vectors);
        }
        mx_matmul_destroy(mm);
    }
    free(w);
}

/* PCM (spread ν, 1/f noise, read noise): the recalibration at a_c reads the
 * chip a matmul aged straight to a_c is — the same α bit for bit — and after
 * it the cells are back at the evaluation's age, the bits of a matmul
 * without a schedule. */
static void test_recalibration_reads_the_chip_at_its_age_and_returns(void **state)
{
    (void)state;
    const size_t n_out = 40, n_in = 150;
    float *w = random_weights(n_out * n_in);
    for (int per_column = 0; per_column < 2; per_column++) {
        setup su = base_setup(10.5 * DAY_S);
        su.dev.read_noise_sigma = 0.02;
        su.xbar.drift.mode = per_column ? MX_DRIFT_PER_COLUMN : MX_DRIFT_GLOBAL;
        su.xbar.drift.recalibrate_every_s = DAY_S;
        mx_matmul *sched = create_ok(&mx_device_pcm, w, n_out, n_in, &su);
        su.xbar.drift.recalibrate_every_s = 0.0;
        mx_matmul *plain = create_ok(&mx_device_pcm, w, n_out, n_in, &su);
        su.dev.t_inference_s = 10 * DAY_S;
        mx_matmul *at_c = create_ok(&mx_device_pcm, w, n_out, n_in, &su);
        mx_drift_result rs, rc;
        compensate_ok(sched, &rs);
        compensate_ok(at_c, &rc);
        assert_true(rs.alpha == rc.alpha);
        const double *gs = NULL, *gc = NULL;
        mx_matmul_output_correction(sched, &gs, NULL);
        mx_matmul_output_correction(at_c, &gc, NULL);
        assert_memory_equal(gs, gc, n_out * sizeof *gs);
        assert_same_families(sched, plain);
        /* And it reads what the evaluation-time read arrays say. */
        float *ys = malloc(4 * n_out * sizeof *ys), *yp = malloc(4 * n_out * sizeof *yp);
        assert_non_null(ys);
        assert_non_null(yp);
        outputs(sched, 4, ys);
        outputs(plain, 4, yp); /* plain is uncompensated: undo sched's gain */
        for (size_t v = 0; v < 4; v++)
            for (size_t o = 0; o < n_out; o++)
                yp[v * n_out + o] = (float)(gs[o] * (double)yp[v * n_out + o]);
        assert_array_close(ys, yp, 4 * n_out, 1e-6, 4.0 * (double)__FLT_EPSILON__);
        free(ys);
        free(yp);
        mx_matmul_destroy(sched);
        mx_matmul_destroy(plain);
        mx_matmul_destroy(at_c);
    }
    free(w);
}

/* The same through every programming path that re-ageing replays: offset
 * mapping with its reference column and wires (effective conductances
 * re-solved), bit slices, fault-aware mapping (physical rows, spare
 * layout) — the α of the chip at a_c and the evaluation's cells, bits. */
static void test_reageing_replays_every_programming_path(void **state)
{
    (void)state;
    const size_t n_out = 20, n_in = 70;
    float *w = random_weights(n_out * n_in);
    for (int variant = 0; variant < 3; variant++) {
        setup su = base_setup(10.5 * DAY_S);
        su.dev.read_noise_sigma = 0.02;
        su.xbar.tile_cols = 8;
        if (variant == 0) {
            su.xbar.mapping = MX_MAPPING_OFFSET;
            su.xbar.r_wire_ohm = 1.0;
        } else if (variant == 1) {
            su.xbar.mapping = MX_MAPPING_BIT_SLICED;
            su.xbar.slices = 2;
            su.xbar.slice_bits = 2;
        } else {
            su.dev.stuck_at_gmin_frac = 0.03;
            su.xbar.fault_map.mode = MX_FAULT_MAP_PERMUTE;
        }
        su.xbar.drift.recalibrate_every_s = DAY_S;
        mx_matmul *sched = create_ok(&mx_device_pcm, w, n_out, n_in, &su);
        su.xbar.drift.recalibrate_every_s = 0.0;
        mx_matmul *plain = create_ok(&mx_device_pcm, w, n_out, n_in, &su);
        su.dev.t_inference_s = 10 * DAY_S;
        mx_matmul *at_c = create_ok(&mx_device_pcm, w, n_out, n_in, &su);
        mx_drift_result rs, rc;
        compensate_ok(sched, &rs);
        compensate_ok(at_c, &rc);
        if (!(rs.alpha == rc.alpha))
            print_error("variant %d: alpha %.17g scheduled, %.17g at a_c\n", variant, rs.alpha,
                        rc.alpha);
        assert_true(rs.alpha == rc.alpha);
        assert_same_families(sched, plain);
        float ys[2 * 20], yp[2 * 20];
        mx_matmul_set_output_correction(sched, NULL, NULL);
        outputs(sched, 2, ys);
        outputs(plain, 2, yp);
        assert_memory_equal(ys, yp, sizeof ys); /* the read arrays (and wires) too */
        mx_matmul_destroy(sched);
        mx_matmul_destroy(plain);
        mx_matmul_destroy(at_c);
    }
    free(w);
}

/* A period that divides t recalibrates at t itself: the default's bits. */
static void test_period_dividing_t_is_the_default_bit_for_bit(void **state)
{
    (void)state;
    const size_t n_out = 30, n_in = 100;
    float *w = random_weights(n_out * n_in);
    setup su = base_setup(4 * DAY_S);
    su.dev.read_noise_sigma = 0.02;
    su.xbar.drift.recalibrate_every_s = DAY_S;
    mx_matmul *sched = create_ok(&mx_device_pcm, w, n_out, n_in, &su);
    su.xbar.drift.recalibrate_every_s = 0.0;
    mx_matmul *plain = create_ok(&mx_device_pcm, w, n_out, n_in, &su);
    mx_drift_result rs, rp;
    compensate_ok(sched, &rs);
    compensate_ok(plain, &rp);
    assert_true(rs.alpha == rp.alpha);
    assert_memory_equal(&rs.stats, &rp.stats, sizeof rs.stats);
    float ys[3 * 30], yp[3 * 30];
    outputs(sched, 3, ys);
    outputs(plain, 3, yp);
    assert_memory_equal(ys, yp, sizeof ys);
    assert_same_families(sched, plain);
    mx_matmul_destroy(sched);
    mx_matmul_destroy(plain);
    free(w);
}

/* ---- reprogramming ---------------------------------------------------------------- */

/* Reprogrammed every 30 days, evaluated at 65.5 days: the cells, the
 * reference, α and the outputs are those of a fresh chip at 5.5 days, bit for
 * bit (reprogramming draws the same programming noise: see
 * docs/calibration.md), with and without a recalibration schedule. */
static void test_reprogrammed_chip_is_a_fresh_chip_at_t_mod_tau(void **state)
{
    (void)state;
    const size_t n_out = 33, n_in = 90;
    float *w = random_weights(n_out * n_in);
    for (int recal = 0; recal < 2; recal++) {
        setup su = base_setup(65.5 * DAY_S);
        su.dev.read_noise_sigma = 0.02;
        su.xbar.reprogram_every_s = 30 * DAY_S;
        su.xbar.drift.recalibrate_every_s = recal ? DAY_S : 0.0;
        mx_matmul *reprog = create_ok(&mx_device_pcm, w, n_out, n_in, &su);
        su.xbar.reprogram_every_s = 0.0;
        su.dev.t_inference_s = 5.5 * DAY_S;
        mx_matmul *fresh = create_ok(&mx_device_pcm, w, n_out, n_in, &su);
        assert_same_families(reprog, fresh);
        mx_drift_result ra, rb;
        compensate_ok(reprog, &ra);
        compensate_ok(fresh, &rb);
        assert_true(ra.alpha == rb.alpha);
        float ya[2 * 33], yb[2 * 33];
        outputs(reprog, 2, ya);
        outputs(fresh, 2, yb);
        assert_memory_equal(ya, yb, sizeof ya);
        mx_time_schedule ts;
        mx_matmul_time_schedule(reprog, &ts);
        assert_true(ts.reprogrammings == 2 && ts.age_s == 5.5 * DAY_S);
        mx_matmul_destroy(reprog);
        mx_matmul_destroy(fresh);
    }
    free(w);
}

/* ---- threads ------------------------------------------------------------------------ */

static void test_same_bits_at_one_and_two_threads(void **state)
{
    (void)state;
    const size_t n_out = 50, n_in = 300;
    float *w = random_weights(n_out * n_in);
    double *gains[2];
    float *y[2];
    const int saved = omp_get_max_threads();
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(k + 1);
        setup su = base_setup(100 * DAY_S);
        su.dev.read_noise_sigma = 0.02;
        su.xbar.drift.mode = MX_DRIFT_PER_COLUMN;
        su.xbar.drift.recalibrate_every_s = 7 * DAY_S;
        su.xbar.reprogram_every_s = 60 * DAY_S;
        mx_matmul *mm = create_ok(&mx_device_pcm, w, n_out, n_in, &su);
        compensate_ok(mm, NULL);
        const double *g = NULL;
        mx_matmul_output_correction(mm, &g, NULL);
        assert_non_null(g);
        gains[k] = malloc(n_out * sizeof(double));
        y[k] = malloc(4 * n_out * sizeof(float));
        assert_non_null(gains[k]);
        assert_non_null(y[k]);
        memcpy(gains[k], g, n_out * sizeof(double));
        outputs(mm, 4, y[k]);
        mx_matmul_destroy(mm);
    }
    omp_set_num_threads(saved);
    assert_memory_equal(gains[0], gains[1], n_out * sizeof(double));
    assert_memory_equal(y[0], y[1], 4 * n_out * sizeof(float));
    for (int k = 0; k < 2; k++) {
        free(gains[k]);
        free(y[k]);
    }
    free(w);
}

/* ---- costs (experiments/method.c) ------------------------------------------------- */

/* Two PCM layers, reprogrammed every 30 days, recalibrated daily, at 65.5
 * days: 2 reprogrammings, 2·29 + 5 recalibrations; the drift reads are 3
 * t0 references and 63 measurements per layer; open-loop PCM (no pulse
 * model) leaves the reprogramming unpriced. */
static void test_costs_count_floor_t_over_tau(void **state)
{
    (void)state;
    mx_experiment_config cfg;
    mx_config_default(&cfg);
    cfg.hardware.crossbar.input = MX_INPUT_SPIKES;
    cfg.hardware.crossbar.drift.mode = MX_DRIFT_GLOBAL;
    cfg.hardware.crossbar.drift.recalibrate_every_s = DAY_S;
    cfg.hardware.crossbar.reprogram_every_s = 30 * DAY_S;
    mx_device_params_default(&cfg.hardware.device);
    cfg.hardware.device.t_inference_s = 65.5 * DAY_S;
    mx_adc_config adc;
    mx_adc_config_default(&adc);
    adc.kind = MX_ADC_NONE;
    float *w = random_weights(20 * 70);
    mx_matmul *mm[2] = {NULL, NULL};
    for (uint32_t l = 0; l < 2; l++)
        assert_int_equal(mx_matmul_create(w, l ? 10 : 20, l ? 20 : 70, &cfg.hardware.crossbar,
                                          &mx_device_pcm, &cfg.hardware.device, &adc, SEED, l,
                                          &mm[l]),
                         MX_OK);
    mx_point_result pr;
    memset(&pr, 0, sizeof pr);
    assert_int_equal(mx_method_drift_compensation(&pr, &cfg, mm, 2, SEED), MX_OK);
    mx_method_programming_cost(&pr, mm, 2);
    assert_true(pr.schedule_reprogrammings == 2.0);
    assert_true(pr.schedule_recalibrations == 63.0);
    assert_true(isnan(pr.schedule_reprogram_energy_j) && isnan(pr.schedule_reprogram_time_s));
    double reads = 0.0;
    for (size_t l = 0; l < 2; l++) {
        mx_drift_reference ref;
        mx_matmul_drift_reference(mm[l], &ref);
        reads += (1.0 + 2.0 + 63.0) * (double)ref.stats.reads; /* measurement: same tiles */
    }
    assert_true(pr.drift_reads == reads);
    assert_true(pr.drift_energy_j > 0.0);
    for (size_t l = 0; l < 2; l++)
        mx_matmul_destroy(mm[l]);

    /* Off: NaN; τ_p alone on a pulse model (nonlinear): one nominal pulse per
     * cell and reprogramming, |V·G·V|·width at the target (linear I–V). All
     * weights 1: G+ at g_max, G− at g_min. */
    cfg.hardware.crossbar.drift.mode = MX_DRIFT_NONE;
    cfg.hardware.crossbar.reprogram_every_s = 0.0;
    for (size_t i = 0; i < 20 * 70; i++)
        w[i] = 1.0f;
    const mx_device_params *p = &cfg.hardware.device;
    mx_matmul *one = NULL;
    assert_int_equal(mx_matmul_create(w, 20, 70, &cfg.hardware.crossbar, &mx_device_nonlinear, p,
                                      &adc, SEED, 0, &one),
                     MX_OK);
    memset(&pr, 0, sizeof pr);
    mx_method_programming_cost(&pr, &one, 1);
    assert_true(isnan(pr.schedule_reprogrammings) && isnan(pr.schedule_recalibrations));
    mx_matmul_destroy(one);
    cfg.hardware.crossbar.reprogram_every_s = 30 * DAY_S;
    assert_int_equal(mx_matmul_create(w, 20, 70, &cfg.hardware.crossbar, &mx_device_nonlinear, p,
                                      &adc, SEED, 0, &one),
                     MX_OK);
    mx_method_programming_cost(&pr, &one, 1);
    const double v = p->pulse.v_ltp_v, width = p->pulse.width_ltp_s, cells = 20.0 * 70.0;
    assert_true(pr.schedule_reprogrammings == 2.0 && pr.schedule_recalibrations == 0.0);
    /* The targets are float siemens: 2 float ε relative. */
    assert_close(pr.schedule_reprogram_energy_j,
                 2.0 * cells * v * v * width * (p->g_max_s + p->g_min_s), 0.0,
                 2.0 * (double)__FLT_EPSILON__);
    assert_close(pr.schedule_reprogram_time_s, 2.0 * 2.0 * cells * width, 0.0, 1e-12);
    mx_matmul_destroy(one);
    mx_config_free(&cfg);
    free(w);
}

/* ---- errors ----------------------------------------------------------------------- */

static void test_errors_name_the_field(void **state)
{
    (void)state;
    mx_crossbar_config c;
    mx_crossbar_config_default(&c);
    c.reprogram_every_s = -1.0;
    assert_int_equal(mx_crossbar_config_validate(&c), MX_EINVAL);
    assert_non_null(strstr(mx_last_error(), "hardware.programming.reprogram_every_s"));
    c.reprogram_every_s = 0.0;
    c.drift.recalibrate_every_s = NAN; /* not checked while nothing is measured */
    assert_int_equal(mx_crossbar_config_validate(&c), MX_OK);
    c.drift.mode = MX_DRIFT_GLOBAL;
    assert_int_equal(mx_crossbar_config_validate(&c), MX_EINVAL);
    assert_non_null(strstr(mx_last_error(), "hardware.drift_compensation.recalibrate_every_s"));
    /* Re-ageing needs the programmed state, kept only when a recalibration
     * reads an earlier age. */
    float w[6] = {1, -1, 0.5f, 0.25f, -0.5f, 1};
    setup su = base_setup(DAY_S);
    mx_matmul *mm = create_ok(&mx_device_pcm, w, 2, 3, &su);
    assert_int_equal(mx_matmul_set_age(mm, 0.0), MX_EINVAL);
    mx_matmul_destroy(mm);
    su.dev.t_inference_s = 1.5 * DAY_S;
    su.xbar.drift.recalibrate_every_s = DAY_S;
    mm = create_ok(&mx_device_pcm, w, 2, 3, &su);
    assert_int_equal(mx_matmul_set_age(mm, -1.0), MX_EINVAL);
    assert_int_equal(mx_matmul_set_age(mm, DAY_S), MX_OK);
    mx_matmul_destroy(mm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule_counts_floor_t_over_tau),
        cmocka_unit_test(test_recalibrated_gain_is_the_drift_since_the_last_recalibration),
        cmocka_unit_test(test_recalibration_reads_the_chip_at_its_age_and_returns),
        cmocka_unit_test(test_reageing_replays_every_programming_path),
        cmocka_unit_test(test_period_dividing_t_is_the_default_bit_for_bit),
        cmocka_unit_test(test_reprogrammed_chip_is_a_fresh_chip_at_t_mod_tau),
        cmocka_unit_test(test_same_bits_at_one_and_two_threads),
        cmocka_unit_test(test_costs_count_floor_t_over_tau),
        cmocka_unit_test(test_errors_name_the_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
