/* SPDX-License-Identifier: MIT
 *
 * test_adc.c: the ADC family.
 * - uniform: configuration defaults and validation (every field named), the
 *   transfer curve of the signed mid-rise quantiser checked exactly on its
 *   grid (code centres, code boundaries at kΔ, monotonicity, clipping
 *   counts) and statistically on a ramp (error within ±Δ/2, RMS Δ/√12);
 *   the unsigned variant on its grid. The exact pass-through (kind NONE) is
 *   the ideal reference.
 * - lloyd-max: fitted to the standard normal density, the levels,
 *   thresholds and MSE of 1–3 bits match Max (1960)'s published optimal
 *   quantisers (and 1 bit its closed form √(2/π), 1 − 2/π); fitted to 2^20
 *   seeded normal samples they match within sampling error; data with fewer
 *   distinct values than levels is quantised with zero error.
 * - the MSE of a transfer curve on sorted samples equals a brute-force sum;
 *   the MSE-optimal range of a uniform quantiser on Gaussian samples matches
 *   Max's optimum uniform step for 2–16 levels.
 * - log: geometric levels, the relative-error bound √r − 1, symmetry.
 * - sar: ideal parts give the uniform quantiser code for code and INL =
 *   DNL = 0; a non-monotone DAC misses a code (DNL −1); with capacitor
 *   mismatch the MSB-transition DNL over 2000 seeded instances has the
 *   first-order variance of the capacitor model within 4 SE; offset shifts
 *   every transition by the instance's offset; noise flips a decision with
 *   the Gaussian probability; the instance stream is pinned.
 * - sense-amp is the 1-bit uniform quantiser when ideal.
 * - columns_per_adc leaves the analog matmul's values unchanged and gives
 *   the documented instance and series-conversion counts.
 */
#include "tests/support/mx_test.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "adc/adc.h"
#include "calibration/calibration.h"
#include "core/core.h"
#include "core/rng.h"
#include "crossbar/crossbar.h"
#include "devices/devices.h"

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
    assert_int_equal(c.polarity, MX_ADC_SIGNED);
    assert_int_equal(c.range_mode, MX_ADC_RANGE_PERCENTILE);
    assert_true(c.range_percentile == 99.9);
    assert_true(c.log_dynamic_range == 1000.0);
    assert_true(c.cap_mismatch_sigma == 0.0);
    assert_true(c.offset_sigma_lsb == 0.0);
    assert_true(c.noise_sigma_lsb == 0.0);
    assert_int_equal(c.columns_per_adc, 1);
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

/* ---- validation of the other fields and kinds ----------------------------------- */

typedef struct bad_field {
    const char *field;
    void (*apply)(mx_adc_config *c);
} bad_field;

static void bad_polarity(mx_adc_config *c) { c->polarity = (mx_adc_polarity)5; }
static void bad_range_mode(mx_adc_config *c) { c->range_mode = (mx_adc_range_mode)9; }
static void bad_log_range_one(mx_adc_config *c) { c->log_dynamic_range = 1.0; }
static void bad_log_range_inf(mx_adc_config *c) { c->log_dynamic_range = (double)INFINITY; }
static void bad_log_range_nan(mx_adc_config *c) { c->log_dynamic_range = (double)NAN; }
static void bad_cap_negative(mx_adc_config *c) { c->cap_mismatch_sigma = -0.01; }
static void bad_cap_above_one(mx_adc_config *c) { c->cap_mismatch_sigma = 1.5; }
static void bad_cap_nan(mx_adc_config *c) { c->cap_mismatch_sigma = (double)NAN; }
static void bad_offset_negative(mx_adc_config *c) { c->offset_sigma_lsb = -1.0; }
static void bad_offset_inf(mx_adc_config *c) { c->offset_sigma_lsb = (double)INFINITY; }
static void bad_noise_negative(mx_adc_config *c) { c->noise_sigma_lsb = -0.5; }
static void bad_noise_nan(mx_adc_config *c) { c->noise_sigma_lsb = (double)NAN; }
static void bad_columns_zero(mx_adc_config *c) { c->columns_per_adc = 0; }
static void bad_columns_many(mx_adc_config *c)
{
    c->columns_per_adc = MX_ADC_MAX_COLUMNS_PER_ADC + 1;
}
static void bad_lloyd_bits(mx_adc_config *c)
{
    c->kind = MX_ADC_LLOYD_MAX;
    c->bits = MX_ADC_LLOYD_MAX_MAX_BITS + 1;
}
static void bad_lloyd_unsigned(mx_adc_config *c)
{
    c->kind = MX_ADC_LLOYD_MAX;
    c->polarity = MX_ADC_UNSIGNED;
}
static void bad_log_one_bit(mx_adc_config *c)
{
    c->kind = MX_ADC_LOG;
    c->bits = 1;
}
static void bad_sense_amp_bits(mx_adc_config *c) { c->kind = MX_ADC_SENSE_AMP; }

static void test_config_validation_names_every_field_and_kind_constraint(void **state)
{
    (void)state;
    const bad_field bad[] = {
        {"hardware.adc.polarity", bad_polarity},
        {"hardware.adc.range_mode", bad_range_mode},
        {"hardware.adc.log_dynamic_range", bad_log_range_one},
        {"hardware.adc.log_dynamic_range", bad_log_range_inf},
        {"hardware.adc.log_dynamic_range", bad_log_range_nan},
        {"hardware.adc.cap_mismatch_sigma", bad_cap_negative},
        {"hardware.adc.cap_mismatch_sigma", bad_cap_above_one},
        {"hardware.adc.cap_mismatch_sigma", bad_cap_nan},
        {"hardware.adc.offset_sigma_lsb", bad_offset_negative},
        {"hardware.adc.offset_sigma_lsb", bad_offset_inf},
        {"hardware.adc.noise_sigma_lsb", bad_noise_negative},
        {"hardware.adc.noise_sigma_lsb", bad_noise_nan},
        {"hardware.adc.columns_per_adc", bad_columns_zero},
        {"hardware.adc.columns_per_adc", bad_columns_many},
        {"hardware.adc.bits", bad_lloyd_bits},
        {"hardware.adc.polarity", bad_lloyd_unsigned},
        {"hardware.adc.bits", bad_log_one_bit},
        {"hardware.adc.bits", bad_sense_amp_bits},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mx_adc_config c;
        mx_adc_config_default(&c);
        bad[i].apply(&c);
        mx_clear_error();
        if (mx_adc_config_validate(&c) != MX_EINVAL) {
            print_error("case %zu (%s) was accepted\n", i, bad[i].field);
            fail();
        }
        assert_error_mentions(bad[i].field);
    }
    /* The edges that are allowed. */
    mx_adc_config c;
    mx_adc_config_default(&c);
    c.kind = MX_ADC_LOG;
    c.bits = 2;
    c.log_dynamic_range = 1.0001;
    assert_int_equal(mx_adc_config_validate(&c), MX_OK);
    c.polarity = MX_ADC_UNSIGNED;
    c.bits = 1;
    assert_int_equal(mx_adc_config_validate(&c), MX_OK);
    mx_adc_config_default(&c);
    c.kind = MX_ADC_SENSE_AMP;
    c.bits = 1;
    c.cap_mismatch_sigma = 1.0;
    c.columns_per_adc = MX_ADC_MAX_COLUMNS_PER_ADC;
    assert_int_equal(mx_adc_config_validate(&c), MX_OK);
    c.kind = MX_ADC_LLOYD_MAX;
    c.bits = MX_ADC_LLOYD_MAX_MAX_BITS;
    assert_int_equal(mx_adc_config_validate(&c), MX_OK);
}

static mx_adc setup_ok(const mx_adc_config *c, const mx_adc_fit *fit, const mx_adc_layout *lay)
{
    mx_adc adc;
    mx_status st = mx_adc_setup(&adc, c, fit, lay);
    if (st != MX_OK) {
        print_error("mx_adc_setup: %s\n", mx_last_error());
        fail();
    }
    return adc;
}

static void test_setup_checks_fitted_levels_and_layout(void **state)
{
    (void)state;
    mx_adc_config c;
    mx_adc_config_default(&c);
    c.bits = 2;
    const double t[3] = {-1.0, 0.0, 1.0}, y[4] = {-1.5, -0.5, 0.5, 1.5};
    const double t_bad[3] = {-1.0, 1.0, 0.0}, y_bad[4] = {-1.5, 0.5, -0.5, 1.5};
    mx_adc_fit fit = {.range_a = 1.5, .n_levels = 4, .threshold_a = t, .level_a = y};
    mx_adc adc;
    /* Fitted levels belong to lloyd-max only. */
    assert_int_equal(mx_adc_setup(&adc, &c, &fit, NULL), MX_EINVAL);
    c.kind = MX_ADC_SAR;
    assert_int_equal(mx_adc_setup(&adc, &c, &fit, NULL), MX_EINVAL);
    c.kind = MX_ADC_LLOYD_MAX;
    adc = setup_ok(&c, &fit, NULL);
    assert_true(mx_adc_value(&adc, -2) == -1.5 && mx_adc_value(&adc, 1) == 1.5);
    assert_int_equal(mx_adc_code(&adc, -1.0), -1); /* x ≥ t goes up */
    assert_int_equal(mx_adc_code(&adc, 0.999), 0);
    mx_adc_release(&adc);
    fit.n_levels = 8;
    assert_int_equal(mx_adc_setup(&adc, &c, &fit, NULL), MX_EINVAL);
    fit.n_levels = 4;
    fit.threshold_a = t_bad;
    assert_int_equal(mx_adc_setup(&adc, &c, &fit, NULL), MX_EINVAL);
    fit.threshold_a = t;
    fit.level_a = y_bad;
    assert_int_equal(mx_adc_setup(&adc, &c, &fit, NULL), MX_EINVAL);
    /* Without levels a lloyd-max ADC is the uniform quantiser of its range. */
    const mx_adc_fit plain = {.range_a = 2.0};
    adc = setup_ok(&c, &plain, NULL);
    mx_adc u = make_adc(2, 2.0);
    for (double x = -3.0; x <= 3.0; x += 0.0625)
        assert_int_equal(mx_adc_code(&adc, x), mx_adc_code(&u, x));
    mx_adc_release(&adc);
    /* The overload point of a fitted table generalises the uniform full
     * scale: on the uniform curve it is ±range, exactly. */
    double tu[7], yu[8], lo, hi;
    c.bits = 3;
    mx_adc_nominal_curve(&c, 2.0, tu, yu);
    assert_true(mx_adc_fitted_full_scale(tu, yu, 8, &lo, &hi) == 2.0);
    assert_true(lo == -2.0 && hi == 2.0);
    c.bits = 2;
    const mx_adc_layout empty = {.banks = 0, .columns = 4, .tile_cols = 4};
    c.kind = MX_ADC_SAR;
    assert_int_equal(mx_adc_setup(&adc, &c, &plain, &empty), MX_EINVAL);
    mx_adc_release(NULL);
}

/* ---- unsigned uniform ------------------------------------------------------------- */

static void test_unsigned_uniform_covers_zero_to_full_scale(void **state)
{
    (void)state;
    mx_adc_config c;
    mx_adc_config_default(&c);
    c.bits = 3;
    c.polarity = MX_ADC_UNSIGNED;
    mx_adc adc;
    assert_int_equal(mx_adc_init(&adc, &c, 1.0), MX_OK);
    assert_true(adc.step_a == 0.125);
    assert_int_equal(adc.code_min, 0);
    assert_int_equal(adc.code_max, 7);
    for (int32_t k = 0; k < 8; k++) {
        assert_int_equal(mx_adc_code(&adc, 0.125 * k), k);
        assert_int_equal(mx_adc_code(&adc, 0.125 * k + 0.1), k);
        assert_true(mx_adc_value(&adc, k) == 0.125 * (k + 0.5));
    }
    float x[] = {-0.3f, 0.0f, 0.3f, 0.99f, 1.0f, 4.0f};
    assert_int_equal(mx_adc_convert(&adc, x, 6), 3); /* −0.3, 1.0 and 4.0 clip */
    const float want[] = {0.0625f, 0.0625f, 0.3125f, 0.9375f, 0.9375f, 0.9375f};
    assert_memory_equal(x, want, sizeof want);
}

/* ---- Lloyd–Max ---------------------------------------------------------------------- */

/* Max (1960), Table I: the optimal quantisers of the standard normal for
 * N = 2, 4, 8 levels (the positive half; thresholds include 0), each value
 * with one unit of its last published digit as tolerance: the table is
 * rounded, and not always to nearest — its 3-bit threshold 0.5006 is the
 * midpoint of its own levels 0.2451 and 0.7560, 0.50055, and its 3-bit MSE
 * 0.03454 is 0.034548 (Jayant & Noll give 0.03455). */
typedef struct max_row {
    double v, tol;
} max_row;
static const max_row max_t4[] = {{0.9816, 1e-4}};
static const max_row max_y4[] = {{0.4528, 1e-4}, {1.510, 1e-3}};
static const max_row max_t8[] = {{0.5006, 1e-4}, {1.050, 1e-3}, {1.748, 1e-3}};
static const max_row max_y8[] = {{0.2451, 1e-4}, {0.7560, 1e-4}, {1.344, 1e-3}, {2.152, 1e-3}};
static const max_row max_y2[] = {{0.7979, 1e-4}};
static const max_row max_mse[] = {{0.3634, 1e-4}, {0.1175, 1e-4}, {0.03454, 1e-5}};

/* The fitted quantiser against Max's table: levels and thresholds
 * symmetric (the table's negative half is implied), each within `scale`
 * times the table's tolerance plus `extra`. */
static void check_against_max(int bits, const double *t, const double *y, double scale,
                              double extra)
{
    const size_t n = (size_t)1 << bits, half = n / 2;
    const max_row *ty = bits == 1 ? max_y2 : bits == 2 ? max_y4 : max_y8;
    const max_row *tt = bits == 2 ? max_t4 : max_t8;
    assert_close(t[half - 1], 0.0, 1e-12 + extra, 0.0);
    for (size_t k = 0; k < half; k++) {
        assert_close(y[half + k], ty[k].v, scale * ty[k].tol + extra, 0.0);
        assert_close(-y[half - 1 - k], ty[k].v, scale * ty[k].tol + extra, 0.0);
    }
    for (size_t k = 0; bits > 1 && k + 1 < half; k++) {
        assert_close(t[half + k], tt[k].v, scale * tt[k].tol + extra, 0.0);
        assert_close(-t[half - 2 - k], tt[k].v, scale * tt[k].tol + extra, 0.0);
    }
}

static void test_lloyd_max_on_the_gaussian_density_matches_max_1960(void **state)
{
    (void)state;
    double t[8], y[8];
    for (int bits = 1; bits <= 3; bits++) {
        mx_lloyd_max_info info;
        assert_int_equal(mx_adc_lloyd_max_gaussian(bits, t, y, &info), MX_OK);
        assert_true(info.converged);
        print_message("lloyd-max on N(0,1), %d bits: MSE %.6f after %zu rounds\n", bits,
                      info.mse, info.iterations);
        check_against_max(bits, t, y, 1.0, 1e-9);
        assert_close(info.mse, max_mse[bits - 1].v, max_mse[bits - 1].tol, 0.0);
        if (bits == 1) { /* closed form: E|X| = √(2/π), MSE 1 − 2/π */
            assert_close(y[1], sqrt(2.0 / M_PI), 1e-12, 0.0);
            assert_close(info.mse, 1.0 - 2.0 / M_PI, 1e-12, 0.0);
        }
    }
    assert_int_equal(mx_adc_lloyd_max_gaussian(0, t, y, NULL), MX_EINVAL);
    assert_int_equal(mx_adc_lloyd_max_gaussian(11, t, y, NULL), MX_EINVAL);
}

static float *normal_samples(size_t n, uint64_t item)
{
    float *x = malloc(n * sizeof *x);
    assert_non_null(x);
    mx_rng r;
    mx_rng_init_named(&r, 1, "test.adc.samples", item);
    mx_rng_normal_fill(&r, x, n);
    return x;
}

static void test_lloyd_max_on_gaussian_samples_matches_max_1960(void **state)
{
    (void)state;
    /* 2^20 draws: a level's sampling error is ~σ_cell/√(n/N) ≲ 0.003 (the
     * outer cells of 3 bits); 0.012 is 4 of those. */
    const size_t n = (size_t)1 << 20;
    float *x = normal_samples(n, 0);
    mx_adc_samples s;
    assert_int_equal(mx_adc_samples_prepare(x, n, &s), MX_OK);
    for (size_t i = 1; i < n; i++)
        assert_true(s.x[i - 1] <= s.x[i]);
    double t[8], y[8];
    for (int bits = 1; bits <= 3; bits++) {
        mx_lloyd_max_info info;
        assert_int_equal(mx_adc_lloyd_max_samples(&s, bits, NULL, t, y, &info), MX_OK);
        assert_true(info.converged);
        print_message("lloyd-max on 2^20 normal samples, %d bits: MSE %.6f after %zu rounds\n",
                      bits, info.mse, info.iterations);
        check_against_max(bits, t, y, 0.0, 0.012);
        assert_close(info.mse, max_mse[bits - 1].v, 0.0, 0.01);
        /* The reported MSE is the curve's MSE on the samples. */
        assert_close(mx_adc_samples_mse(&s, t, y, (size_t)1 << bits), info.mse, 0.0, 1e-12);
    }
    mx_adc_samples_free(&s);
    free(x);
}

static void test_lloyd_max_on_few_distinct_values_has_zero_error(void **state)
{
    (void)state;
    /* Three values, mostly −1: 4 levels must land on all three. */
    float x[100];
    for (size_t i = 0; i < 100; i++)
        x[i] = i < 70 ? -1.0f : i < 90 ? 0.0f : 2.0f;
    mx_adc_samples s;
    assert_int_equal(mx_adc_samples_prepare(x, 100, &s), MX_OK);
    double t[4], y[4];
    mx_lloyd_max_info info;
    assert_int_equal(mx_adc_lloyd_max_samples(&s, 2, NULL, t, y, &info), MX_OK);
    assert_true(info.converged);
    assert_close(info.mse, 0.0, 1e-15, 0.0);
    for (size_t k = 1; k < 4; k++)
        assert_true(y[k] >= y[k - 1]);
    mx_adc_samples_free(&s);
    float bad[2] = {0.0f, (float)NAN};
    assert_int_equal(mx_adc_samples_prepare(bad, 2, &s), MX_EINVAL);
    assert_int_equal(mx_adc_samples_prepare(bad, 0, &s), MX_EINVAL);
}

static void test_sample_mse_equals_a_brute_force_sum(void **state)
{
    (void)state;
    const size_t n = 5000;
    float *x = malloc(n * sizeof *x);
    assert_non_null(x);
    mx_rng r;
    mx_rng_init_named(&r, 3, "test.adc.samples", 1);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(-2.0 + 4.0 * mx_rng_uniform(&r));
    x[7] = x[8]; /* a tie */
    mx_adc_config c;
    mx_adc_config_default(&c);
    c.kind = MX_ADC_LOG;
    c.bits = 4;
    c.log_dynamic_range = 50.0;
    mx_adc adc;
    assert_int_equal(mx_adc_init(&adc, &c, 1.5), MX_OK); /* |x| > 1.5 clips */
    double brute = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double e = (double)x[i] - mx_adc_value(&adc, mx_adc_code(&adc, (double)x[i]));
        brute += e * e;
    }
    brute /= (double)n;
    mx_adc_samples s;
    assert_int_equal(mx_adc_samples_prepare(x, n, &s), MX_OK);
    /* Prefix-sum cancellation: Σx² and the cell terms are O(n); 1e-12. */
    assert_close(mx_adc_samples_mse(&s, adc.threshold_a, adc.level_a, 16), brute, 0.0, 1e-12);
    mx_adc_release(&adc);
    mx_adc_samples_free(&s);
    free(x);
}

/* ---- calibration: range modes ------------------------------------------------------ */

static void test_mse_range_matches_max_optimum_uniform_step(void **state)
{
    (void)state;
    /* Max (1960), Table II, optimum uniform quantiser of N(0, 1): step and
     * MSE for 2, 4, 8, 16 levels (confirmed by direct integration). */
    static const double step[] = {1.596, 0.9957, 0.5860, 0.3352};
    static const double mse[] = {0.3634, 0.1188, 0.03744, 0.01154};
    const size_t n = (size_t)1 << 20;
    float *x0 = normal_samples(n, 2);
    float *x = malloc(n * sizeof *x);
    assert_non_null(x);
    double table[64];
    for (int bits = 1; bits <= 4; bits++) {
        mx_adc_config c;
        mx_adc_config_default(&c);
        c.bits = bits;
        c.range_mode = MX_ADC_RANGE_MSE;
        mx_adc_fit fit;
        double e_mse, e_pct, e_max;
        memcpy(x, x0, n * sizeof *x);
        assert_int_equal(mx_adc_fit_currents(&c, x, n, table, &fit, &e_mse), MX_OK);
        const double got_step = fit.range_a / (double)((size_t)1 << (bits - 1));
        print_message("mse range, %d bits: step %.4f (Max %.4f), MSE %.5f (Max %.5f)\n", bits,
                      got_step, step[bits - 1], e_mse, mse[bits - 1]);
        /* The MSE is flat at its minimum, so the sample's optimum step
         * wanders more than its MSE: 2 % and 1 %. */
        assert_close(got_step, step[bits - 1], 0.0, 0.02);
        assert_close(e_mse, mse[bits - 1], 0.0, 0.01);
        /* It beats the other modes on the same samples. */
        c.range_mode = MX_ADC_RANGE_PERCENTILE;
        memcpy(x, x0, n * sizeof *x);
        assert_int_equal(mx_adc_fit_currents(&c, x, n, table, &fit, &e_pct), MX_OK);
        c.range_mode = MX_ADC_RANGE_MAX;
        memcpy(x, x0, n * sizeof *x);
        assert_int_equal(mx_adc_fit_currents(&c, x, n, table, &fit, &e_max), MX_OK);
        assert_true(e_mse <= e_pct && e_mse <= e_max);
        /* Lloyd–Max beats the best uniform quantiser of the same bits. */
        c.kind = MX_ADC_LLOYD_MAX;
        double e_lm;
        memcpy(x, x0, n * sizeof *x);
        assert_int_equal(mx_adc_fit_currents(&c, x, n, table, &fit, &e_lm), MX_OK);
        assert_int_equal(fit.n_levels, (size_t)1 << bits);
        assert_true(bits == 1 ? e_lm <= e_mse * (1 + 1e-9) : e_lm < e_mse);
    }
    /* max mode: the largest magnitude. */
    mx_adc_config c;
    mx_adc_config_default(&c);
    c.range_mode = MX_ADC_RANGE_MAX;
    float v[4] = {0.5f, -3.0f, 2.0f, 0.0f};
    mx_adc_fit fit;
    assert_int_equal(mx_adc_fit_currents(&c, v, 4, table, &fit, NULL), MX_OK);
    assert_true(fit.range_a == 3.0);
    float zeros[3] = {0};
    assert_int_equal(mx_adc_fit_currents(&c, zeros, 3, table, &fit, NULL), MX_ENUMERIC);
    free(x);
    free(x0);
}

/* ---- log ---------------------------------------------------------------------------- */

static void test_log_adc_levels_are_geometric_with_bounded_relative_error(void **state)
{
    (void)state;
    mx_adc_config c;
    mx_adc_config_default(&c);
    c.kind = MX_ADC_LOG;
    c.bits = 4;
    c.log_dynamic_range = 1000.0;
    const double R = 2e-5;
    mx_adc adc;
    assert_int_equal(mx_adc_init(&adc, &c, R), MX_OK);
    const size_t n = 16, m = 8;
    const double r = pow(1000.0, 1.0 / 7.0); /* cell ratio D^(1/(M−1)) */
    for (size_t k = 0; k < n; k++) /* odd symmetry */
        assert_close(adc.level_a[k], -adc.level_a[n - 1 - k], 0.0, 1e-15);
    assert_close(adc.threshold_a[m - 1], 0.0, 0.0, 0.0);
    assert_close(adc.threshold_a[m], R / 1000.0, 0.0, 1e-14);
    assert_close(adc.level_a[m], R / 2000.0, 0.0, 1e-14);
    for (size_t j = m + 1; j + 1 < n; j++)
        assert_close(adc.level_a[j + 1] / adc.level_a[j], r, 0.0, 1e-12);
    assert_close(adc.level_a[n - 1], R / sqrt(r), 0.0, 1e-12);
    /* Relative error ≤ √r − 1 on [R/D, R), both signs. */
    double worst = 0.0;
    for (double e = -3.0; e < 0.0; e += 0.001) {
        const double x = R * pow(10.0, e);
        for (int sgn = -1; sgn <= 1; sgn += 2) {
            const double q = mx_adc_value(&adc, mx_adc_code(&adc, sgn * x));
            worst = fmax(worst, fabs(q - sgn * x) / x);
        }
    }
    print_message("log 4 bits, D = 1000: worst relative error %.4f (bound %.4f)\n", worst,
                  sqrt(r) - 1.0);
    assert_true(worst <= sqrt(r) - 1.0 + 1e-12);
    /* Conversions in float agree, clip beyond ±R, and keep NaN. */
    float x[] = {(float)(3 * R), (float)(-2 * R), (float)(0.5 * R), 1e-12f, (float)NAN};
    assert_int_equal(mx_adc_convert(&adc, x, 4), 2);
    assert_true(x[0] == (float)adc.level_a[n - 1]);
    assert_true(x[1] == (float)adc.level_a[0]);
    assert_true(x[3] == (float)adc.level_a[m]);
    mx_adc_convert(&adc, x + 4, 1);
    assert_true(isnan(x[4]));
    /* Transitions found by bisection are the thresholds themselves. */
    double t[15];
    mx_adc_transitions(&adc, 0, t);
    for (size_t i = 0; i < 15; i++)
        assert_true(t[i] == adc.threshold_a[i]);
    mx_adc_release(&adc);
    /* Unsigned: all bits magnitude, negative inputs in the lowest cell. */
    c.polarity = MX_ADC_UNSIGNED;
    c.bits = 3;
    assert_int_equal(mx_adc_init(&adc, &c, 1.0), MX_OK);
    assert_true(adc.level_a[0] == 0.0005 && adc.threshold_a[0] == 0.001);
    assert_int_equal(mx_adc_code(&adc, -0.5), 0);
    float neg = -0.5f;
    assert_int_equal(mx_adc_convert(&adc, &neg, 1), 1);
    mx_adc_release(&adc);
}

/* ---- SAR and sense amplifier ---------------------------------------------------- */

static mx_adc_config sar_config(int bits, mx_adc_polarity pol)
{
    mx_adc_config c;
    mx_adc_config_default(&c);
    c.kind = MX_ADC_SAR;
    c.bits = bits;
    c.polarity = pol;
    return c;
}

static void test_ideal_sar_is_the_uniform_quantiser_code_for_code(void **state)
{
    (void)state;
    for (int pol = 0; pol < 2; pol++)
        for (size_t r = 0; r < 2; r++)
            for (int bits = 1; bits <= 10; bits++) {
                mx_adc_config c = sar_config(bits, (mx_adc_polarity)pol);
                mx_adc sar, uni;
                assert_int_equal(mx_adc_init(&sar, &c, ranges_a[r]), MX_OK);
                c.kind = MX_ADC_UNIFORM;
                assert_int_equal(mx_adc_init(&uni, &c, ranges_a[r]), MX_OK);
                const size_t n = 4099; /* not a multiple of any step count */
                for (size_t i = 0; i < n; i++) {
                    const double x = ranges_a[r] * (-1.25 + 2.5 * (double)i / (double)(n - 1));
                    assert_int_equal(mx_adc_code(&sar, x), mx_adc_code(&uni, x));
                }
                /* Every code's edge kΔ and its neighbouring doubles. */
                for (int32_t k = uni.code_min + 1; k <= uni.code_max; k++) {
                    const double edge = (double)k * uni.step_a;
                    const double probe[3] = {nextafter(edge, -HUGE_VAL), edge,
                                             nextafter(edge, HUGE_VAL)};
                    for (size_t p = 0; p < 3; p++)
                        assert_int_equal(mx_adc_code(&sar, probe[p]), mx_adc_code(&uni, probe[p]));
                    if (r == 0) /* dyadic: the edge itself is exact */
                        assert_int_equal(mx_adc_code(&sar, edge), k);
                }
                if (r == 0) { /* dyadic: the float paths agree bit for bit */
                    float a[257], b[257];
                    for (size_t i = 0; i < 257; i++)
                        a[i] = b[i] = (float)(-1.2 + 2.4 * (double)i / 256.0);
                    assert_int_equal(mx_adc_convert(&sar, a, 257), mx_adc_convert(&uni, b, 257));
                    assert_memory_equal(a, b, sizeof a);
                }
                mx_adc_release(&sar);
            }
}

static void test_ideal_sar_has_zero_inl_and_dnl(void **state)
{
    (void)state;
    for (int bits = 2; bits <= 8; bits++) {
        mx_adc_config c = sar_config(bits, MX_ADC_SIGNED);
        mx_adc adc;
        assert_int_equal(mx_adc_init(&adc, &c, 1.0), MX_OK);
        const size_t n = (size_t)1 << bits;
        double t[256], dnl[256], inl[256];
        mx_adc_transitions(&adc, 0, t);
        for (size_t i = 0; i + 1 < n; i++) /* at the ideal kΔ, exactly */
            assert_true(t[i] == (double)(adc.code_min + 1 + (int32_t)i) * adc.step_a);
        const double lsb = mx_adc_linearity(t, n, dnl, inl);
        assert_true(lsb == adc.step_a);
        for (size_t k = 0; k < n; k++)
            assert_true(dnl[k] == 0.0 && inl[k] == 0.0);
        mx_adc_release(&adc);
    }
}

static void test_linearity_of_hand_made_transitions(void **state)
{
    (void)state;
    /* 5 codes, transitions 0, 1, 3, 4: terminal LSB 4/3. */
    const double t[4] = {0.0, 1.0, 3.0, 4.0};
    double dnl[5], inl[5];
    assert_close(mx_adc_linearity(t, 5, dnl, inl), 4.0 / 3.0, 0.0, 1e-15);
    const double want_dnl[5] = {0.0, -0.25, 0.5, -0.25, 0.0};
    const double want_inl[5] = {0.0, 0.0, -0.25, 0.25, 0.0};
    for (size_t k = 0; k < 5; k++) {
        assert_close(dnl[k], want_dnl[k], 1e-15, 0.0);
        assert_close(inl[k], want_inl[k], 1e-15, 0.0);
    }
}

static void test_a_non_monotone_dac_misses_a_code(void **state)
{
    (void)state;
    mx_adc_config c = sar_config(3, MX_ADC_UNSIGNED);
    mx_adc adc;
    assert_int_equal(mx_adc_init(&adc, &c, 8.0), MX_OK); /* Δ = 1 */
    adc.dac_lsb[2] = 2.5; /* MSB below 011's level 3: code 3 can never win */
    double t[7], dnl[8], inl[8];
    mx_adc_transitions(&adc, 0, t);
    const double want[7] = {1.0, 2.0, 2.5, 2.5, 3.5, 4.5, 5.5};
    for (size_t i = 0; i < 7; i++)
        assert_close(t[i], want[i], 0.0, 0.0);
    mx_adc_linearity(t, 8, dnl, inl);
    assert_true(dnl[3] == -1.0);
    for (double x = 0.0; x < 8.0; x += 0.01) /* monotone all the same */
        assert_true(mx_adc_code(&adc, x) != 3);
    mx_adc_release(&adc);
}

static void test_sar_mismatch_dnl_variance_matches_the_capacitor_model(void **state)
{
    (void)state;
    const int b = 6;
    const size_t N = (size_t)1 << b, n_inst = 2000, k_msb = N / 2 - 1;
    const double su = 0.01;
    mx_adc_config c = sar_config(b, MX_ADC_SIGNED);
    c.cap_mismatch_sigma = su;
    const mx_adc_layout lay = {.banks = 1, .columns = n_inst, .tile_cols = n_inst, .seed = 11};
    const mx_adc_fit fit = {.range_a = 1.0};
    mx_adc adc = setup_ok(&c, &fit, &lay);
    assert_int_equal(adc.instances, n_inst);
    double t[64], dnl[64], inl[64], sum = 0.0, sum2 = 0.0;
    for (size_t i = 0; i < n_inst; i++) {
        mx_adc_transitions(&adc, i, t);
        mx_adc_linearity(t, N, dnl, inl);
        for (size_t k = 0; k + 1 < N; k++) { /* INL is the running sum of DNL */
            assert_close(inl[k + 1] - inl[k], dnl[k], 1e-9, 0.0);
            assert_true(dnl[k] >= -1.0);
        }
        sum += dnl[k_msb];
        sum2 += dnl[k_msb] * dnl[k_msb];
    }
    /* First order in ε_i (C_i = 2^i(1 + ε_i), Var ε_i = σ_u²/2^i), with the
     * terminal-based LSB Σ_{i≥1} C_i/(N − 2):
     * DNL = 2^(b−1)ε_{b−1}(1 − 1/(N−2)) − Σ_{1≤i≤b−2} 2^i ε_i (1 + 1/(N−2))
     *       − ε_0. */
    const double g = 1.0 / (double)(N - 2);
    double var = ldexp(1.0, b - 1) * (1 - g) * (1 - g) + 1.0;
    for (int i = 1; i <= b - 2; i++)
        var += ldexp(1.0, i) * (1 + g) * (1 + g);
    var *= su * su;
    const double mean = sum / (double)n_inst;
    const double s2 = (sum2 - (double)n_inst * mean * mean) / (double)(n_inst - 1);
    print_message("sar %d bits, σ_u %.3f: MSB DNL mean %.5f, variance %.6f (model %.6f) over "
                  "%zu instances\n",
                  b, su, mean, s2, var, n_inst);
    assert_within_sigma(mean, 0.0, sqrt(var / (double)n_inst), 4.0);
    assert_within_sigma(s2, var, var * sqrt(2.0 / (double)(n_inst - 1)), 4.0);
    mx_adc_release(&adc);
}

static void test_sar_offset_shifts_every_transition_and_is_pinned(void **state)
{
    (void)state;
    const int b = 5;
    mx_adc_config c = sar_config(b, MX_ADC_SIGNED);
    c.offset_sigma_lsb = 2.0;
    const mx_adc_layout lay = {.banks = 1, .columns = 8, .tile_cols = 8, .seed = 5,
                               .item_base = 77};
    const mx_adc_fit fit = {.range_a = 1.0};
    mx_adc adc = setup_ok(&c, &fit, &lay);
    /* Draw order per instance: b capacitors, the dummy, then the offset. */
    mx_rng r;
    mx_rng_init_named(&r, 5, "adc.instance", 77 + 3);
    for (int i = 0; i < b + 1; i++)
        mx_rng_normal(&r);
    assert_true(adc.offset_lsb[3] == 2.0 * mx_rng_normal(&r));
    double t[31], dnl[32], inl[32];
    for (size_t i = 0; i < 8; i++) {
        mx_adc_transitions(&adc, i, t);
        for (int k = 0; k < 31; k++) /* the comparator trips offset LSB early */
            assert_close(t[k], ((double)(k - 15) - adc.offset_lsb[i]) * adc.step_a, 1e-12, 0.0);
        mx_adc_linearity(t, 32, dnl, inl); /* terminal-based: offset removed */
        for (int k = 0; k < 32; k++)
            assert_close(dnl[k], 0.0, 1e-9, 0.0);
    }
    mx_adc_release(&adc);
}

static void test_sar_noise_flips_decisions_with_gaussian_probability(void **state)
{
    (void)state;
    mx_adc_config c = sar_config(6, MX_ADC_SIGNED);
    c.noise_sigma_lsb = 0.5;
    mx_adc adc;
    assert_int_equal(mx_adc_init(&adc, &c, 1.0), MX_OK);
    const size_t n = 20000;
    float *x = malloc(n * sizeof *x);
    assert_non_null(x);
    const double d = adc.step_a;
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(3.25 * d); /* a quarter LSB above the 2|3 transition */
    mx_rng r, twin;
    mx_rng_init_named(&r, 9, "test.adc.noise", 0);
    twin = r;
    mx_adc_convert_bank(&adc, x, n, 0, 0, &r); /* stride 0: all column 0 */
    size_t at_least_3 = 0, exactly_3 = 0;
    for (size_t i = 0; i < n; i++) {
        at_least_3 += x[i] >= (float)(3.0 * d);
        exactly_3 += x[i] == (float)(3.5 * d);
    }
    /* P(code ≥ 3) = Φ(0.25/0.5), P(code = 3) = Φ(0.75/0.5) − Φ(−0.5). */
    const double p3 = 0.5 * erfc(-0.5 / M_SQRT2);
    const double p_eq = 0.5 * erfc(-1.5 / M_SQRT2) - 0.5 * erfc(0.5 / M_SQRT2);
    assert_within_sigma((double)at_least_3 / (double)n, p3, sqrt(p3 * (1 - p3) / (double)n), 4.0);
    assert_within_sigma((double)exactly_3 / (double)n, p_eq, sqrt(p_eq * (1 - p_eq) / (double)n),
                        4.0);
    /* One normal draw per conversion. */
    for (size_t i = 0; i < n; i++)
        mx_rng_normal(&twin);
    assert_int_equal(mx_rng_u32(&r), mx_rng_u32(&twin));
    /* Without a stream there is no noise. */
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(3.25 * d);
    mx_adc_convert_bank(&adc, x, n, 0, 0, NULL);
    for (size_t i = 0; i < n; i++)
        assert_true(x[i] == (float)(3.5 * d));
    free(x);
    mx_adc_release(&adc);
}

static void test_ideal_sense_amp_is_the_1_bit_uniform_quantiser(void **state)
{
    (void)state;
    for (int pol = 0; pol < 2; pol++) {
        mx_adc_config c;
        mx_adc_config_default(&c);
        c.kind = MX_ADC_SENSE_AMP;
        c.bits = 1;
        c.polarity = (mx_adc_polarity)pol;
        mx_adc sa, uni;
        assert_int_equal(mx_adc_init(&sa, &c, 3.7e-5), MX_OK);
        c.kind = MX_ADC_UNIFORM;
        assert_int_equal(mx_adc_init(&uni, &c, 3.7e-5), MX_OK);
        for (double x = -5e-5; x <= 5e-5; x += 1e-7)
            assert_int_equal(mx_adc_code(&sa, x), mx_adc_code(&uni, x));
        assert_int_equal(mx_adc_code(&sa, pol ? 1.85e-5 : 0.0), pol ? 1 : 0);
        assert_int_equal(mx_adc_code(&sa, nextafter(pol ? 1.85e-5 : 0.0, -1.0)), pol ? 0 : -1);
        mx_adc_release(&sa);
    }
}

/* ---- column multiplexing ------------------------------------------------------------- */

static void test_instance_layout_and_multiplexing_counts(void **state)
{
    (void)state;
    mx_adc_config c = sar_config(6, MX_ADC_SIGNED);
    c.columns_per_adc = 5;
    const mx_adc_layout lay = {.banks = 2, .columns = 37, .tile_cols = 16};
    const mx_adc_fit fit = {.range_a = 1.0};
    mx_adc adc = setup_ok(&c, &fit, &lay);
    /* ⌈16/5⌉ = 4 ADCs per tile (the last serves 1 column), 3 tiles, 2 banks. */
    assert_int_equal(adc.instances, 2 * 3 * 4);
    const size_t col[] = {0, 4, 5, 9, 15, 16, 20, 21, 36};
    const size_t inst[] = {0, 0, 1, 1, 3, 4, 4, 5, 8};
    for (size_t i = 0; i < 9; i++) {
        assert_int_equal(mx_adc_instance(&adc, 0, col[i]), inst[i]);
        assert_int_equal(mx_adc_instance(&adc, 1, col[i]), 12 + inst[i]);
    }
    mx_adc_release(&adc);
    assert_int_equal(mx_adc_instances_per_tile(&c, 16), 4);
    assert_int_equal(mx_adc_conversions_in_series(&c, 16), 5);
    c.columns_per_adc = 32;
    assert_int_equal(mx_adc_instances_per_tile(&c, 16), 1);
    assert_int_equal(mx_adc_conversions_in_series(&c, 16), 16);
    c.columns_per_adc = 1;
    assert_int_equal(mx_adc_instances_per_tile(&c, 128), 128);
    assert_int_equal(mx_adc_conversions_in_series(&c, 128), 1);
    assert_int_equal(mx_adc_decisions_per_conversion(&c), 6);
    c.kind = MX_ADC_SENSE_AMP;
    assert_int_equal(mx_adc_decisions_per_conversion(&c), 1);
    c.kind = MX_ADC_LLOYD_MAX;
    c.bits = 3;
    assert_int_equal(mx_adc_decisions_per_conversion(&c), 3);
    c.kind = MX_ADC_NONE;
    assert_int_equal(mx_adc_decisions_per_conversion(&c), 0);
}

/* One analog forward of a fixed 37 × 40 layer (3 × 3 tiles of 16) under
 * ADC config `ac` and mapping `map` (bit-sliced: 2 slices; offset: the
 * reference subtracted digitally, so it has ADCs of its own), full scale
 * 4e-5 A. OUT y (37). */
static void forward_layer(const mx_adc_config *ac, mx_mapping_kind map, float *y)
{
    const size_t n_out = 37, n_in = 40;
    float w[37 * 40], x[40];
    mx_rng r;
    mx_rng_init_named(&r, 2, "test.adc.layer", 0);
    for (size_t i = 0; i < n_out * n_in; i++)
        w[i] = (float)(2.0 * mx_rng_uniform(&r) - 1.0);
    for (size_t j = 0; j < n_in; j++)
        x[j] = (float)(2.0 * mx_rng_uniform(&r) - 1.0);
    mx_crossbar_config xc;
    mx_crossbar_config_default(&xc);
    xc.tile_rows = xc.tile_cols = 16;
    xc.input = MX_INPUT_DAC;
    xc.dac_bits = 0;
    xc.mapping = map;
    xc.slices = 2;
    xc.offset_subtract = MX_OFFSET_DIGITAL;
    mx_device_params dp;
    mx_device_params_default(&dp);
    mx_matmul *mm = NULL;
    assert_int_equal(mx_matmul_create(w, n_out, n_in, &xc, &mx_device_reram, &dp, ac, 3, 1, &mm),
                     MX_OK);
    assert_int_equal(mx_matmul_set_adc_range(mm, 4e-5), MX_OK);
    mx_matmul_work *wk = NULL;
    assert_int_equal(mx_matmul_work_create(mm, &wk), MX_OK);
    mx_rng rr;
    mx_rng_init_named(&rr, 2, "crossbar.read", 0);
    mx_matmul_stats st = {0};
    mx_matmul_forward(mm, wk, x, y, &rr, &st, NULL);
    const size_t per_read =
        map == MX_MAPPING_BIT_SLICED ? 2 * 37 : map == MX_MAPPING_OFFSET ? 37 + 3 : 37;
    assert_true(st.conversions == 3 * per_read);
    mx_matmul_work_destroy(wk);
    mx_matmul_destroy(mm);
}

static void test_column_multiplexing_leaves_values_unchanged(void **state)
{
    (void)state;
    float y1[37], yk[37], ys[37];
    const mx_adc_kind kinds[] = {MX_ADC_UNIFORM, MX_ADC_LOG, MX_ADC_SAR};
    const mx_mapping_kind maps[] = {MX_MAPPING_DIFFERENTIAL, MX_MAPPING_BIT_SLICED,
                                    MX_MAPPING_OFFSET};
    for (size_t m = 0; m < 3; m++)
        for (size_t i = 0; i < 3; i++) {
            mx_adc_config ac;
            mx_adc_config_default(&ac);
            ac.kind = kinds[i];
            ac.bits = 5;
            forward_layer(&ac, maps[m], y1);
            for (int k = 2; k <= 40; k += 19) {
                ac.columns_per_adc = k;
                forward_layer(&ac, maps[m], yk);
                assert_memory_equal(y1, yk, sizeof y1);
            }
            if (kinds[i] == MX_ADC_SAR) { /* and the ideal SAR in the array is uniform */
                ac.kind = MX_ADC_UNIFORM;
                ac.columns_per_adc = 1;
                forward_layer(&ac, maps[m], ys);
                assert_memory_equal(y1, ys, sizeof y1);
                /* A SAR with mismatch in every bank (slices, reference
                 * columns) runs; its outputs differ but stay finite. */
                ac.kind = MX_ADC_SAR;
                ac.cap_mismatch_sigma = 0.05;
                ac.offset_sigma_lsb = 1.0;
                ac.noise_sigma_lsb = 0.5;
                ac.columns_per_adc = 3;
                forward_layer(&ac, maps[m], ys);
                for (size_t o = 0; o < 37; o++)
                    assert_true(isfinite(ys[o]));
            }
        }
}

/* The uniform quantiser's loop as it was written before its per-ISA
 * dispatch (scalar here: the test is built at -O0 under the sanitizers and
 * at -O3 otherwise): the vectorised builds must give the same bits and the
 * same clip count for every current — on the grid, half a step around it,
 * far outside, signed zeros, subnormals, ±inf and NaN. */
static size_t uniform_convert_plain(const mx_adc *adc, float *current_a, size_t n)
{
    const float inv_step = (float)(1.0 / adc->step_a);
    const float step = (float)adc->step_a;
    const float kmin = (float)adc->code_min, kmax = (float)adc->code_max;
    const float lo = kmin - 1.0f, hi = kmax + 1.0f;
    size_t clipped = 0;
    for (size_t i = 0; i < n; i++) {
        const volatile float x = current_a[i];
        float q = x * inv_step;
        q = q > lo ? q : lo;
        q = q < hi ? q : hi;
        float k = (float)(int32_t)q;
        k = k > q ? k - 1.0f : k;
        clipped += (k < kmin) | (k > kmax);
        k = k > kmin ? k : kmin;
        k = k < kmax ? k : kmax;
        current_a[i] = (k + 0.5f) * step + (x - x);
    }
    return clipped;
}

static void test_uniform_conversion_equals_the_plain_loop_bit_for_bit(void **state)
{
    (void)state;
    enum { N = 20011 }; /* odd: every vector remainder */
    float *a = malloc(N * sizeof(float)), *b = malloc(N * sizeof(float));
    for (int polarity = 0; polarity < 2; polarity++)
        for (int bits = 1; bits <= 12; bits += 3) {
            mx_adc_config c;
            mx_adc_config_default(&c);
            c.bits = bits;
            c.polarity = polarity ? MX_ADC_UNSIGNED : MX_ADC_SIGNED;
            mx_adc adc;
            assert_int_equal(mx_adc_init(&adc, &c, 3e-5), MX_OK);
            mx_rng r;
            mx_rng_init_named(&r, 19, "test.adc_bits", (uint64_t)(bits + 100 * polarity));
            for (size_t i = 0; i < N; i++) {
                const double u = 2.0 * mx_rng_uniform(&r) - 1.0;
                const double k = floor(u * (double)(adc.code_max + 2));
                switch (i % 6) {
                case 0: a[i] = (float)(u * 4e-5); break;                   /* in and out of range */
                case 1: a[i] = (float)(k * adc.step_a); break;             /* on the grid */
                case 2: a[i] = (float)((k + 0.5) * adc.step_a); break;     /* code centres */
                case 3: a[i] = nextafterf((float)(k * adc.step_a), 0.0f); break;
                case 4: a[i] = (float)(u * 1e30); break;                   /* far outside */
                default: a[i] = (float)(u * 1e-41); break;                 /* subnormal */
                }
            }
            a[0] = 0.0f;
            a[1] = -0.0f;
            a[2] = INFINITY;
            a[3] = -INFINITY;
            a[4] = NAN;
            memcpy(b, a, N * sizeof(float));
            const size_t clip_fast = mx_adc_convert(&adc, a, N);
            const size_t clip_plain = uniform_convert_plain(&adc, b, N);
            assert_int_equal(clip_fast, clip_plain);
            assert_memory_equal(a, b, N * sizeof(float));
            mx_adc_release(&adc);
        }
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults_are_an_8_bit_uniform_adc),
        cmocka_unit_test(test_uniform_conversion_equals_the_plain_loop_bit_for_bit),
        cmocka_unit_test(test_config_validation_rejects_bits_outside_1_to_16),
        cmocka_unit_test(test_config_validation_rejects_percentile_outside_0_to_100),
        cmocka_unit_test(test_config_validation_rejects_an_unknown_kind),
        cmocka_unit_test(test_config_validation_names_every_field_and_kind_constraint),
        cmocka_unit_test(test_init_rejects_a_range_that_is_not_positive_and_finite),
        cmocka_unit_test(test_setup_checks_fitted_levels_and_layout),
        cmocka_unit_test(test_step_and_code_span_follow_the_bit_count),
        cmocka_unit_test(test_every_code_centre_converts_to_itself),
        cmocka_unit_test(test_code_boundaries_lie_at_multiples_of_the_step),
        cmocka_unit_test(test_transfer_curve_is_monotone),
        cmocka_unit_test(test_clipping_beyond_full_scale_is_counted_exactly),
        cmocka_unit_test(test_kind_none_passes_values_through_unchanged),
        cmocka_unit_test(test_ramp_error_is_within_half_a_step_with_rms_step_over_sqrt12),
        cmocka_unit_test(test_unsigned_uniform_covers_zero_to_full_scale),
        cmocka_unit_test(test_lloyd_max_on_the_gaussian_density_matches_max_1960),
        cmocka_unit_test(test_lloyd_max_on_gaussian_samples_matches_max_1960),
        cmocka_unit_test(test_lloyd_max_on_few_distinct_values_has_zero_error),
        cmocka_unit_test(test_sample_mse_equals_a_brute_force_sum),
        cmocka_unit_test(test_mse_range_matches_max_optimum_uniform_step),
        cmocka_unit_test(test_log_adc_levels_are_geometric_with_bounded_relative_error),
        cmocka_unit_test(test_ideal_sar_is_the_uniform_quantiser_code_for_code),
        cmocka_unit_test(test_ideal_sar_has_zero_inl_and_dnl),
        cmocka_unit_test(test_linearity_of_hand_made_transitions),
        cmocka_unit_test(test_a_non_monotone_dac_misses_a_code),
        cmocka_unit_test(test_sar_mismatch_dnl_variance_matches_the_capacitor_model),
        cmocka_unit_test(test_sar_offset_shifts_every_transition_and_is_pinned),
        cmocka_unit_test(test_sar_noise_flips_decisions_with_gaussian_probability),
        cmocka_unit_test(test_ideal_sense_amp_is_the_1_bit_uniform_quantiser),
        cmocka_unit_test(test_instance_layout_and_multiplexing_counts),
        cmocka_unit_test(test_column_multiplexing_leaves_values_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
