/* SPDX-License-Identifier: MIT
 *
 * test_adc.c: the uniform ADC — configuration defaults and validation, and
 * the transfer curve of the signed mid-rise quantiser checked exactly on its
 * grid (code centres, code boundaries at kΔ, monotonicity, clipping counts)
 * and statistically on a ramp (error within ±Δ/2, RMS Δ/√12). The exact
 * pass-through (kind NONE) is the ideal reference.
 */
#include "tests/support/mx_test.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "adc/adc.h"
#include "core/core.h"

/* float epsilon as a double, for tolerances on float results. */
#define FLT_EPS ((double)FLT_EPSILON)

static void assert_error_mentions(const char *needle)
{
    if (!strstr(mx_last_error(), needle)) {
        print_error("expected the message to name '%s', got '%s'\n", needle, mx_last_error());
        fail();
    }
}

static mx_adc make_adc(int bits, double range_a)
{
    mx_adc_config c;
    mx_adc_config_default(&c);
    c.bits = bits;
    mx_adc adc;
    assert_int_equal(mx_adc_init(&adc, &c, range_a), MX_OK);
    return adc;
}

/* Ranges to test: a power of two (every grid value exact in float) and a
 * realistic column current with no short binary expansion. */
static const double ranges_a[] = {1.0, 3.7e-5};

/* ---- configuration ---------------------------------------------------------- */

static void test_config_defaults_are_an_8_bit_uniform_adc(void **state)
{
    (void)state;
    mx_adc_config c;
    mx_adc_config_default(&c);
    assert_int_equal(c.kind, MX_ADC_UNIFORM);
    assert_int_equal(c.bits, 8);
    assert_true(c.range_percentile == 99.9);
    assert_int_equal(mx_adc_config_validate(&c), MX_OK);
}

static void test_config_validation_rejects_bits_outside_1_to_16(void **state)
{
    (void)state;
    mx_adc_config c;
    mx_adc_config_default(&c);
    const int bad[] = {0, -1, 17, 64};
    for (size_t i = 0; i < 4; i++) {
        c.bits = bad[i];
        mx_clear_error();
        assert_int_equal(mx_adc_config_validate(&c), MX_EINVAL);
        assert_error_mentions("hardware.adc.bits");
    }
    c.bits = 1;
    assert_int_equal(mx_adc_config_validate(&c), MX_OK);
    c.bits = 16;
    assert_int_equal(mx_adc_config_validate(&c), MX_OK);
}

static void test_config_validation_rejects_percentile_outside_0_to_100(void **state)
{
    (void)state;
    mx_adc_config c;
    mx_adc_config_default(&c);
    const double bad[] = {0.0, -5.0, 100.5, (double)NAN, (double)INFINITY};
    for (size_t i = 0; i < 5; i++) {
        c.range_percentile = bad[i];
        mx_clear_error();
        assert_int_equal(mx_adc_config_validate(&c), MX_EINVAL);
        assert_error_mentions("hardware.adc.range_percentile");
    }
    c.range_percentile = 100.0;
    assert_int_equal(mx_adc_config_validate(&c), MX_OK);
    c.range_percentile = 1e-3;
    assert_int_equal(mx_adc_config_validate(&c), MX_OK);
}

static void test_config_validation_rejects_an_unknown_kind(void **state)
{
    (void)state;
    mx_adc_config c;
    mx_adc_config_default(&c);
    c.kind = (mx_adc_kind)7;
    mx_clear_error();
    assert_int_equal(mx_adc_config_validate(&c), MX_EINVAL);
    assert_error_mentions("hardware.adc.type");
}

static void test_init_rejects_a_range_that_is_not_positive_and_finite(void **state)
{
    (void)state;
    mx_adc_config c;
    mx_adc_config_default(&c);
    mx_adc adc;
    const double bad[] = {0.0, -1e-6, (double)NAN, (double)INFINITY, -(double)INFINITY};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(mx_adc_init(&adc, &c, bad[i]), MX_EINVAL);
    c.kind = MX_ADC_NONE; /* even the pass-through needs a sane range */
    assert_int_equal(mx_adc_init(&adc, &c, 0.0), MX_EINVAL);
    /* A bad configuration is rejected at init too. */
    mx_adc_config_default(&c);
    c.bits = 17;
    mx_clear_error();
    assert_int_equal(mx_adc_init(&adc, &c, 1.0), MX_EINVAL);
    assert_error_mentions("hardware.adc.bits");
}

/* ---- the transfer curve on its grid ------------------------------------------ */

static void test_step_and_code_span_follow_the_bit_count(void **state)
{
    (void)state;
    for (size_t r = 0; r < 2; r++)
        for (int bits = 1; bits <= 16; bits++) {
            mx_adc adc = make_adc(bits, ranges_a[r]);
            const int32_t half = (int32_t)1 << (bits - 1);
            /* Division by a power of two is exact. */
            assert_true(adc.step_a == ranges_a[r] / (double)half);
            assert_int_equal(adc.code_min, -half);
            assert_int_equal(adc.code_max, half - 1);
            assert_true(adc.range_a == ranges_a[r]);
        }
}

static void test_every_code_centre_converts_to_itself(void **state)
{
    (void)state;
    for (size_t r = 0; r < 2; r++)
        for (int bits = 1; bits <= 8; bits++) {
            mx_adc adc = make_adc(bits, ranges_a[r]);
            for (int32_t k = adc.code_min; k <= adc.code_max; k++) {
                const double centre = mx_adc_value(&adc, k);
                assert_true(centre == ((double)k + 0.5) * adc.step_a);
                assert_int_equal(mx_adc_code(&adc, centre), k);
                float x = (float)centre;
                assert_int_equal(mx_adc_convert(&adc, &x, 1), 0);
                if (r == 0) /* dyadic grid: exact in float */
                    assert_true(x == (float)centre);
                else /* float products: within 2 ulps of the centre */
                    assert_close(x, centre, 0.0, 2.0 * FLT_EPS);
            }
        }
}

static void test_code_boundaries_lie_at_multiples_of_the_step(void **state)
{
    (void)state;
    for (size_t r = 0; r < 2; r++)
        for (int bits = 1; bits <= 8; bits++) {
            mx_adc adc = make_adc(bits, ranges_a[r]);
            const double d = adc.step_a;
            /* Code k covers [kΔ, (k + 1)Δ). Probe each inner boundary kΔ a
             * hair either side: 1e-9Δ in double for mx_adc_code, 1e-4Δ in
             * float for mx_adc_convert (Δ ≥ range/128, so 1e-4Δ is still
             * many float ulps of any on-scale current). */
            for (int32_t k = adc.code_min + 1; k <= adc.code_max; k++) {
                const double edge = (double)k * d;
                assert_int_equal(mx_adc_code(&adc, edge + 1e-9 * d), k);
                assert_int_equal(mx_adc_code(&adc, edge - 1e-9 * d), k - 1);
                float x[2] = {(float)(edge + 1e-4 * d), (float)(edge - 1e-4 * d)};
                assert_int_equal(mx_adc_convert(&adc, x, 2), 0);
                assert_close(x[0], mx_adc_value(&adc, k), 0.0, 2.0 * FLT_EPS);
                assert_close(x[1], mx_adc_value(&adc, k - 1), 0.0, 2.0 * FLT_EPS);
            }
        }
}

static void test_transfer_curve_is_monotone(void **state)
{
    (void)state;
    for (size_t r = 0; r < 2; r++)
        for (int bits = 1; bits <= 8; bits++) {
            mx_adc adc = make_adc(bits, ranges_a[r]);
            const size_t n = 20001;
            float *x = malloc(n * sizeof *x);
            assert_non_null(x);
            for (size_t i = 0; i < n; i++) /* −1.5 range .. +1.5 range */
                x[i] = (float)(ranges_a[r] * (-1.5 + 3.0 * (double)i / (double)(n - 1)));
            int32_t prev_code = INT32_MIN;
            for (size_t i = 0; i < n; i++) {
                int32_t code = mx_adc_code(&adc, (double)x[i]);
                assert_true(code >= prev_code);
                prev_code = code;
            }
            mx_adc_convert(&adc, x, n);
            for (size_t i = 1; i < n; i++)
                assert_true(x[i] >= x[i - 1]);
            free(x);
        }
}

static void test_clipping_beyond_full_scale_is_counted_exactly(void **state)
{
    (void)state;
    for (size_t r = 0; r < 2; r++)
        for (int bits = 1; bits <= 8; bits++) {
            mx_adc adc = make_adc(bits, ranges_a[r]);
            const double fs = ranges_a[r];
            /* 7 beyond ±full scale, 5 inside it (|x| ≤ range − Δ/2, clear of
             * the edges). */
            const double rel[] = {1.5, -1.5, 1.001, -1.001, 10.0, -1e3, 1e6,
                                  0.0, 0.3, -0.3,   -0.9,   0.9};
            const size_t n = sizeof rel / sizeof rel[0], n_clip = 7;
            float x[sizeof rel / sizeof rel[0]];
            for (size_t i = 0; i < n; i++) {
                double v = rel[i] * fs;
                if (i >= n_clip) /* keep inner points a half step inside */
                    v = fmax(fmin(v, fs - 0.5 * adc.step_a), -fs + 0.5 * adc.step_a);
                x[i] = (float)v;
            }
            assert_int_equal(mx_adc_convert(&adc, x, n), n_clip);
            /* Clipped values read as the end codes. */
            for (size_t i = 0; i < n_clip; i++) {
                double end = mx_adc_value(&adc, rel[i] > 0 ? adc.code_max : adc.code_min);
                assert_close(x[i], end, 0.0, 2.0 * FLT_EPS);
                assert_int_equal(mx_adc_code(&adc, rel[i] * fs),
                                 rel[i] > 0 ? adc.code_max : adc.code_min);
            }
            /* Converting an already-converted block clips nothing. */
            assert_int_equal(mx_adc_convert(&adc, x, n), 0);
        }
}

static void test_kind_none_passes_values_through_unchanged(void **state)
{
    (void)state;
    mx_adc_config c;
    mx_adc_config_default(&c);
    c.kind = MX_ADC_NONE;
    mx_adc adc;
    assert_int_equal(mx_adc_init(&adc, &c, 1e-5), MX_OK);
    float x[] = {0.0f, 1e-9f, -3.3e-6f, 5e-5f, -1e3f, 1e30f, 7.25e-7f};
    float orig[sizeof x / sizeof x[0]];
    memcpy(orig, x, sizeof x);
    assert_int_equal(mx_adc_convert(&adc, x, sizeof x / sizeof x[0]), 0);
    assert_memory_equal(x, orig, sizeof x);
    assert_int_equal(mx_adc_code(&adc, 3e-6), 0);
}

static void test_ramp_error_is_within_half_a_step_with_rms_step_over_sqrt12(void **state)
{
    (void)state;
    for (size_t r = 0; r < 2; r++)
        for (int bits = 2; bits <= 10; bits += 4) {
            mx_adc adc = make_adc(bits, ranges_a[r]);
            const double fs = ranges_a[r], d = adc.step_a;
            /* m points per step, centred in m equal sub-intervals across
             * [−range, range): the error takes the values (i + ½)/m·Δ − Δ/2,
             * whose mean square is Δ²/12·(1 − 1/m²) — Δ/√12 to 1/(2m²). */
            const size_t m = 64, n = m * ((size_t)2 << (bits - 1));
            float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
            assert_non_null(x);
            assert_non_null(y);
            for (size_t i = 0; i < n; i++)
                y[i] = x[i] = (float)(-fs + 2.0 * fs * ((double)i + 0.5) / (double)n);
            assert_int_equal(mx_adc_convert(&adc, y, n), 0);
            double worst = 0.0, sum2 = 0.0;
            for (size_t i = 0; i < n; i++) {
                double e = (double)y[i] - (double)x[i];
                worst = fmax(worst, fabs(e));
                sum2 += e * e;
            }
            /* Bound: Δ/2, plus a few float ulps of full scale for the float
             * arithmetic of the conversion. */
            assert_true(worst <= 0.5 * d + 4.0 * FLT_EPS * fs);
            const double rms = sqrt(sum2 / (double)n);
            assert_close(rms, d / sqrt(12.0), 0.0, 1.0 / (2.0 * (double)(m * m)) + 1e-4);
            free(x);
            free(y);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults_are_an_8_bit_uniform_adc),
        cmocka_unit_test(test_config_validation_rejects_bits_outside_1_to_16),
        cmocka_unit_test(test_config_validation_rejects_percentile_outside_0_to_100),
        cmocka_unit_test(test_config_validation_rejects_an_unknown_kind),
        cmocka_unit_test(test_init_rejects_a_range_that_is_not_positive_and_finite),
        cmocka_unit_test(test_step_and_code_span_follow_the_bit_count),
        cmocka_unit_test(test_every_code_centre_converts_to_itself),
        cmocka_unit_test(test_code_boundaries_lie_at_multiples_of_the_step),
        cmocka_unit_test(test_transfer_curve_is_monotone),
        cmocka_unit_test(test_clipping_beyond_full_scale_is_counted_exactly),
        cmocka_unit_test(test_kind_none_passes_values_through_unchanged),
        cmocka_unit_test(test_ramp_error_is_within_half_a_step_with_rms_step_over_sqrt12),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
