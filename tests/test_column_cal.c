/* SPDX-License-Identifier: MIT
 *
 * test_column_cal.c: per-column gain/offset calibration
 * (calibration/column_cal.h) and the column gain spread it targets
 * (hardware.adc.gain_sigma, adc/uniform.c). With one row tile every output
 * column is converted by one ADC instance, so the column's gain error is
 * exactly that instance's g: the fitted slopes must recover the injected
 * gains and the corrected outputs' error must drop. Identity on an ideal
 * array; composition with a correction already set; the same bits at 1 and
 * 2 threads; mode none and gain_sigma 0 change no bit; every documented
 * error.
 *
 * Deterministic by seed; each tolerance says where it comes from.
 */
#include "tests/support/mx_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "adc/adc.h"
#include "calibration/column_cal.h"
#include "core/core.h"
#include "core/rng.h"
#include "crossbar/crossbar.h"
#include "devices/devices.h"

#define SEED 20261124u
#define LAYER 1u
#define N_IN 100
#define N_OUT 40
#define GAIN_SIGMA 0.1

typedef struct setup {
    mx_crossbar_config xbar;
    mx_device_params dev;
    mx_adc_config adc;
    double range_a; /* ADC full scale; 0: kind none */
} setup;

/* One row tile of N_IN rows (one ADC per column), spike inputs, 1 % read
 * noise, an 8-bit uniform ADC with a 10 % gain spread, gain-offset
 * calibration with 64 vectors at density 0.2 (~20 driven rows). */
static setup spread_setup(void)
{
    setup s;
    mx_crossbar_config_default(&s.xbar);
    s.xbar.input = MX_INPUT_SPIKES;
    s.xbar.tile_rows = N_IN;
    s.xbar.column_cal.mode = MX_COLUMN_CAL_GAIN_OFFSET;
    s.xbar.column_cal.vectors = 64;
    s.xbar.column_cal.density = 0.2;
    mx_device_params_default(&s.dev);
    s.dev.read_noise_sigma = 0.01;
    mx_adc_config_default(&s.adc);
    s.adc.gain_sigma = GAIN_SIGMA;
    /* ~20 driven rows of |w| ≤ 1: the column current's σ is about
     * √20·0.58 ≈ 2.6 window·V; a 10 window·V full scale clips nothing. */
    s.range_a = 10.0 * (s.dev.g_max_s - s.dev.g_min_s) * s.xbar.read_voltage_v;
    return s;
}

static float *random_weights(size_t n)
{
    float *a = malloc(n * sizeof *a);
    assert_non_null(a);
    mx_rng r;
    mx_rng_init_named(&r, SEED, "test.weights", 0);
    for (size_t i = 0; i < n; i++)
        a[i] = (float)(2.0 * mx_u01(mx_rng_u32(&r)) - 1.0);
    return a;
}

static mx_matmul *create_ok(const float *w, const setup *s)
{
    mx_matmul *mm = NULL;
    mx_status st = mx_matmul_create(w, N_OUT, N_IN, &s->xbar, &mx_device_reram, &s->dev, &s->adc,
                                    SEED, LAYER, &mm);
    if (st != MX_OK) {
        print_error("mx_matmul_create: %s: %s\n", mx_strerror(st), mx_last_error());
        fail();
    }
    if (s->range_a > 0.0)
        assert_int_equal(mx_matmul_set_adc_range(mm, s->range_a), MX_OK);
    return mm;
}

static void calibrate_ok(mx_matmul *mm, mx_column_cal_result *r)
{
    mx_status st = mx_column_calibrate(mm, SEED + 1, 0, r);
    if (st != MX_OK) {
        print_error("mx_column_calibrate: %s: %s\n", mx_strerror(st), mx_last_error());
        fail();
    }
}

/* RMS of y − W·x over n fresh vectors (items 1000 + i, apart from the
 * calibration's), relative to the RMS of W·x. */
static double rel_rms_error(mx_matmul *mm, const float *w, size_t n)
{
    float x[N_IN], y[N_OUT];
    mx_matmul_work *wk = NULL;
    assert_int_equal(mx_matmul_work_create(mm, &wk), MX_OK);
    double err = 0.0, ref = 0.0;
    for (size_t i = 0; i < n; i++) {
        mx_rng rng;
        mx_rng_init_named(&rng, SEED + 2, "test.read", i);
        mx_column_cal_input(mm, SEED + 3, 1000 + i, x);
        mx_matmul_forward(mm, wk, x, y, &rng, NULL, NULL);
        for (size_t o = 0; o < N_OUT; o++) {
            double r = 0.0;
            for (size_t j = 0; j < N_IN; j++)
                r += (double)w[o * N_IN + j] * (double)x[j];
            err += ((double)y[o] - r) * ((double)y[o] - r);
            ref += r * r;
        }
    }
    mx_matmul_work_destroy(wk);
    return sqrt(err / ref);
}

static void test_fitted_gains_recover_the_injected_column_gains(void **state)
{
    (void)state;
    setup s = spread_setup();
    float *w = random_weights(N_IN * N_OUT);
    mx_matmul *mm = create_ok(w, &s);
    const mx_adc *adc = mx_matmul_adc(mm);
    assert_non_null(adc->gain);
    const double before = rel_rms_error(mm, w, 32);
    mx_column_cal_result r;
    calibrate_ok(mm, &r);
    assert_int_equal(r.vectors, 64);
    assert_int_equal(r.columns_fitted, N_OUT);
    const double *gain, *offset;
    mx_matmul_output_correction(mm, &gain, &offset);
    assert_non_null(gain);
    double spread = 0.0;
    for (size_t o = 0; o < N_OUT; o++) {
        const double g = (double)adc->gain[mx_adc_instance(adc, 0, o)];
        spread += (g - 1.0) * (g - 1.0);
        /* The slope's standard error: the output noise over the spread of
         * W·x, over √64 vectors. ~20 driven rows of |w| ≤ 1 spread W·x by
         * σ_r ≈ 2.6 (weight units); the noise is the 8-bit LSB (10/128/√12
         * ≈ 0.023) and 1 % read noise of ~40 cells of g ≤ 1.1 windows
         * (≈ 0.045): ≈ 0.05/2.6/8 ≈ 0.25 %. The mapping's own gain is
         * exact (no programming noise). 1.5 % is 6 σ. */
        assert_close(1.0 / gain[o], g, 1.5e-2, 0.0);
        /* No offset was injected: what is fitted is noise, ≪ one weight. */
        assert_close(offset[o], 0.0, 0.05, 0.0);
    }
    /* The spread the fit reports is the one injected (an RMS over 40
     * columns of slopes each within 0.25 %: well within 0.5 %). */
    assert_close(r.gain_rms_dev, sqrt(spread / N_OUT), 5e-3, 0.0);
    assert_true(sqrt(spread / N_OUT) > 0.5 * GAIN_SIGMA); /* the test has a spread to find */
    const double after = rel_rms_error(mm, w, 32);
    /* Before: the 10 % gain spread; after: read noise and LSB, ≈ 1–2 %. */
    assert_true(before > 0.05);
    assert_true(after < 0.3 * before);
    assert_true(r.stats.reads == 64); /* one tile read per vector */
    mx_matmul_destroy(mm);
    free(w);
}

static void test_ideal_array_calibrates_to_identity(void **state)
{
    (void)state;
    setup s = spread_setup();
    s.dev.read_noise_sigma = 0.0;
    s.adc.kind = MX_ADC_NONE;
    s.adc.gain_sigma = 0.0;
    s.range_a = 0.0;
    float *w = random_weights(N_IN * N_OUT);
    mx_matmul *mm = create_ok(w, &s);
    mx_column_cal_result r;
    calibrate_ok(mm, &r);
    const double *gain, *offset;
    mx_matmul_output_correction(mm, &gain, &offset);
    /* Exact currents in float: outputs equal W·x to ~1e-6 relative. */
    for (size_t o = 0; o < N_OUT; o++) {
        assert_close(gain[o], 1.0, 1e-4, 0.0);
        assert_close(offset[o], 0.0, 1e-4, 0.0);
    }
    assert_true(r.residual_rms < 1e-4);
    mx_matmul_destroy(mm);
    free(w);
}

static void test_calibration_composes_with_a_correction_already_set(void **state)
{
    (void)state;
    setup s = spread_setup();
    float *w = random_weights(N_IN * N_OUT);
    mx_matmul *plain = create_ok(w, &s), *pre = create_ok(w, &s);
    double g0[N_OUT], o0[N_OUT];
    for (size_t o = 0; o < N_OUT; o++) {
        g0[o] = 2.0 + 0.01 * (double)o;
        o0[o] = 0.5 - 0.02 * (double)o;
    }
    assert_int_equal(mx_matmul_set_output_correction(pre, g0, o0), MX_OK);
    calibrate_ok(plain, NULL);
    calibrate_ok(pre, NULL);
    const double *ga, *oa, *gb, *ob;
    mx_matmul_output_correction(plain, &ga, &oa);
    mx_matmul_output_correction(pre, &gb, &ob);
    /* The same reads through an affine map: the composed correction is the
     * plain one to the rounding of the float outputs (~1e-7 relative). */
    for (size_t o = 0; o < N_OUT; o++) {
        assert_close(gb[o], ga[o], 0.0, 1e-5);
        assert_close(ob[o], oa[o], 1e-4, 0.0);
    }
    mx_matmul_destroy(plain);
    mx_matmul_destroy(pre);
    free(w);
}

static void test_same_bits_at_one_and_two_threads(void **state)
{
    (void)state;
    setup s = spread_setup();
    float *w = random_weights(N_IN * N_OUT);
    const int threads = omp_get_max_threads();
    double g[2][N_OUT], b[2][N_OUT];
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t + 1);
        mx_matmul *mm = create_ok(w, &s);
        calibrate_ok(mm, NULL);
        const double *gain, *offset;
        mx_matmul_output_correction(mm, &gain, &offset);
        memcpy(g[t], gain, sizeof g[t]);
        memcpy(b[t], offset, sizeof b[t]);
        mx_matmul_destroy(mm);
    }
    omp_set_num_threads(threads);
    assert_memory_equal(g[0], g[1], sizeof g[0]);
    assert_memory_equal(b[0], b[1], sizeof b[0]);
    free(w);
}

/* Forward outputs of n fresh vectors, OUT y (n, N_OUT). */
static void outputs(mx_matmul *mm, size_t n, float *y)
{
    float x[N_IN];
    mx_matmul_work *wk = NULL;
    assert_int_equal(mx_matmul_work_create(mm, &wk), MX_OK);
    for (size_t i = 0; i < n; i++) {
        mx_rng rng;
        mx_rng_init_named(&rng, SEED + 2, "test.read", i);
        mx_column_cal_input(mm, SEED + 3, i, x);
        mx_matmul_forward(mm, wk, x, y + i * N_OUT, &rng, NULL, NULL);
    }
    mx_matmul_work_destroy(wk);
}

static void test_mode_none_and_zero_spread_change_no_bit(void **state)
{
    (void)state;
    setup s = spread_setup();
    s.adc.gain_sigma = 0.0;
    float *w = random_weights(N_IN * N_OUT);
    mx_matmul *with = create_ok(w, &s);
    s.xbar.column_cal.mode = MX_COLUMN_CAL_NONE;
    mx_matmul *none = create_ok(w, &s);
    assert_null(mx_matmul_adc(none)->gain);
    assert_null(mx_matmul_target_weights(none));
    assert_non_null(mx_matmul_target_weights(with));
    mx_column_cal_result r;
    calibrate_ok(none, &r);
    assert_int_equal(r.mode, MX_COLUMN_CAL_NONE);
    assert_int_equal(r.vectors, 0);
    assert_int_equal(r.stats.reads, 0);
    const double *gain;
    mx_matmul_output_correction(none, &gain, NULL);
    assert_null(gain);
    /* Keeping W (and not calibrating) changes no output bit. */
    enum { N = 8 };
    float ya[N * N_OUT], yb[N * N_OUT];
    outputs(with, N, ya);
    outputs(none, N, yb);
    assert_memory_equal(ya, yb, sizeof ya);
    mx_matmul_destroy(with);
    mx_matmul_destroy(none);
    free(w);
}

static void test_gain_spread_pins_its_stream(void **state)
{
    (void)state;
    /* Instance i draws g_i = 1 + σ·ξ from "adc.gain", item item_base + i. */
    mx_adc_config c;
    mx_adc_config_default(&c);
    c.gain_sigma = 0.2;
    const mx_adc_layout layout = {.banks = 2, .columns = 3, .tile_cols = 3, .seed = SEED,
                                  .item_base = 7};
    const mx_adc_fit fit = {.range_a = 1.0};
    mx_adc adc = {0};
    assert_int_equal(mx_adc_setup(&adc, &c, &fit, &layout), MX_OK);
    assert_int_equal(adc.instances, 6);
    for (size_t i = 0; i < adc.instances; i++) {
        mx_rng r;
        mx_rng_init_named(&r, SEED, "adc.gain", 7 + i);
        assert_true(adc.gain[i] == (float)(1.0 + 0.2 * mx_rng_normal(&r)));
    }
    /* Instance 4 (bank 1, column 1) converts g_4·I: 0.3 A at 1 A full scale. */
    float x[3] = {0.3f, 0.3f, 0.3f};
    mx_adc_convert_bank(&adc, x, 3, 1, 1, NULL);
    const float want = (float)mx_adc_value(&adc, mx_adc_code_at(&adc, 0.3, 4, NULL));
    assert_true(x[1] == want);
    mx_adc_release(&adc);
    assert_null(adc.gain);
}

static void test_documented_errors(void **state)
{
    (void)state;
    mx_adc_config c;
    mx_adc_config_default(&c);
    c.gain_sigma = 1.5;
    assert_int_equal(mx_adc_config_validate(&c), MX_EINVAL);
    assert_non_null(strstr(mx_last_error(), "hardware.adc.gain_sigma"));
    c.gain_sigma = 0.1;
    c.kind = MX_ADC_NONE;
    assert_int_equal(mx_adc_config_validate(&c), MX_EINVAL);
    assert_non_null(strstr(mx_last_error(), "hardware.adc.gain_sigma"));

    mx_crossbar_config x;
    mx_crossbar_config_default(&x);
    x.column_cal.mode = MX_COLUMN_CAL_GAIN_OFFSET;
    x.column_cal.vectors = 2;
    assert_int_equal(mx_crossbar_config_validate(&x), MX_EINVAL);
    assert_non_null(strstr(mx_last_error(), "hardware.column_calibration.vectors"));
    x.column_cal.vectors = 8;
    x.column_cal.density = 0.0;
    assert_int_equal(mx_crossbar_config_validate(&x), MX_EINVAL);
    assert_non_null(strstr(mx_last_error(), "hardware.column_calibration.density"));
    x.column_cal.mode = (mx_column_cal_mode)7;
    assert_int_equal(mx_crossbar_config_validate(&x), MX_EINVAL);
    assert_non_null(strstr(mx_last_error(), "hardware.column_calibration.mode"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fitted_gains_recover_the_injected_column_gains),
        cmocka_unit_test(test_ideal_array_calibrates_to_identity),
        cmocka_unit_test(test_calibration_composes_with_a_correction_already_set),
        cmocka_unit_test(test_same_bits_at_one_and_two_threads),
        cmocka_unit_test(test_mode_none_and_zero_spread_change_no_bit),
        cmocka_unit_test(test_gain_spread_pins_its_stream),
        cmocka_unit_test(test_documented_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
