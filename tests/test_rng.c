/* SPDX-License-Identifier: MIT
 *
 * test_rng.c: the block-wise random paths of core/rng.c that the matmul's
 * read noise uses (issue 9) — the batched Philox words against Random123's
 * reference one block at a time, the fast float Box-Muller against the
 * double transform of the same words (pointwise), and its distribution
 * against the exact normal (Kolmogorov–Smirnov, moments) at a fixed seed;
 * and the one-word inversion normal (mx_normal_from_u32,
 * mx_rng_normal_fill_icdf; the per-cell read noise since round 3) against
 * GSL's normal quantile pointwise, its exact tail masses, and a sample
 * against N(0, 1) (Kolmogorov–Smirnov, tails, moments).
 * The older transforms (mx_rng_normal etc.) are tested in test_core.c.
 */
#include "tests/support/mx_test.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>

#include "core/core.h"
#include "core/rng.h"

static int cmp_float(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static void test_batched_philox_words_match_the_block_at_a_time_stream(void **state)
{
    (void)state;
    enum { BLOCKS = 200 }; /* more than one batch of 64, and a remainder */
    uint32_t *fast = malloc(4 * BLOCKS * sizeof(uint32_t));
    mx_rng a, b;
    mx_rng_init(&a, 0x0123456789abcdefull, mx_stream_id("crossbar.read"), 0xfeedbeef12345ull);
    mx_rng_init(&b, 0x0123456789abcdefull, mx_stream_id("crossbar.read"), 0xfeedbeef12345ull);
    (void)mx_rng_u32(&a); /* a partly used block is skipped, as mx_rng_block does */
    (void)mx_rng_u32(&b);
    mx_rng_philox_words(&a, fast, BLOCKS);
    for (size_t i = 0; i < BLOCKS; i++) {
        uint32_t ref[4];
        mx_rng_block(&b, ref);
        for (int k = 0; k < 4; k++)
            assert_int_equal(fast[4 * i + (size_t)k], ref[k]);
    }
    /* Both streams continue from the same place. */
    assert_int_equal(mx_rng_u32(&a), mx_rng_u32(&b));
    free(fast);
}

/* The double Box-Muller of the same words, as rng.h documents the mapping. */
static void exact_pair(uint32_t w0, uint32_t w1, double *z0, double *z1)
{
    const double u1 = ((double)w0 + 0.5) * 0x1p-32;
    const double u2 = ((double)(w1 >> 8) + 0.5) * 0x1p-24;
    const double r = sqrt(-2.0 * log(u1));
    *z0 = r * cos(2.0 * M_PI * u2);
    *z1 = r * sin(2.0 * M_PI * u2);
}

static void test_fast_normals_are_the_box_muller_of_the_block_words_to_float_accuracy(void **state)
{
    (void)state;
    /* Pointwise over 2^16 blocks: |z_fast − z_exact| ≤ 8·FLT_EPSILON·max(1, r)
     * (≈ 1 ulp each from log, sqrt, the angle, sin/cos and the product;
     * near u1 = 1 the float u1 itself rounds, an absolute error of r ≈ 1e-4
     * scale there, covered by the max(1, ·)). */
    enum { BLOCKS = 1 << 16 };
    uint32_t *w = malloc(4 * BLOCKS * sizeof(uint32_t));
    float *z = malloc(4 * BLOCKS * sizeof(float));
    mx_rng a, b;
    mx_rng_init_named(&a, 7, "test.fast_normal", 3);
    mx_rng_init_named(&b, 7, "test.fast_normal", 3);
    mx_rng_philox_words(&a, w, BLOCKS);
    mx_rng_normal_fill_fast(&b, z, 4 * BLOCKS);
    double worst = 0.0;
    for (size_t i = 0; i < 2 * (size_t)BLOCKS; i++) {
        double e0, e1;
        exact_pair(w[2 * i], w[2 * i + 1], &e0, &e1);
        const double r = sqrt(e0 * e0 + e1 * e1);
        const double tol = 8.0 * (double)FLT_EPSILON * (r > 1.0 ? r : 1.0);
        const double d0 = fabs((double)z[2 * i] - e0) / tol;
        const double d1 = fabs((double)z[2 * i + 1] - e1) / tol;
        if (d0 > 1.0 || d1 > 1.0)
            printf("i %zu w %08x %08x fast %.9g %.9g exact %.9g %.9g\n", i, w[2 * i], w[2 * i + 1],
                   (double)z[2 * i], (double)z[2 * i + 1], e0, e1);
        worst = d0 > worst ? d0 : worst;
        worst = d1 > worst ? d1 : worst;
    }
    assert_true(worst <= 1.0);
    /* The extreme words: w0 = 0 gives the largest radius √(2·33·ln 2). */
    double e0, e1;
    exact_pair(0, 0, &e0, &e1);
    assert_close(e0, sqrt(66.0 * log(2.0)), 1e-6, 0.0);
    free(w);
    free(z);
}

static void test_fast_normals_pass_kolmogorov_smirnov_against_the_exact_normal(void **state)
{
    (void)state;
    /* n = 2^20 draws at a fixed seed; the KS statistic D of an exact sampler
     * exceeds 1.95/√n with probability 0.001 (Kolmogorov's limit). The
     * float transform's own error (≤ 1e-6 in z) moves the CDF by < 1e-6,
     * far below 1.95/√n = 1.9e-3. Moments within 4 standard errors:
     * mean σ/√n, variance √(2/n), fourth moment √(96/n) (E z^8 = 105). */
    const size_t n = (size_t)1 << 20;
    float *z = malloc(n * sizeof(float));
    mx_rng r;
    mx_rng_init_named(&r, 2026, "crossbar.read", 0);
    /* Odd lengths per call: the fill must restart at whole blocks. */
    size_t done = 0, len = 1;
    while (done < n) {
        const size_t k = len < n - done ? len : n - done;
        mx_rng_normal_fill_fast(&r, z + done, k);
        done += k;
        len = len * 3 % 1021 + 1;
    }
    double m1 = 0.0, m2 = 0.0, m4 = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double x = (double)z[i];
        assert_true(isfinite(x) && fabs(x) < 6.8);
        m1 += x;
        m2 += x * x;
        m4 += x * x * x * x;
    }
    m1 /= (double)n;
    m2 /= (double)n;
    m4 /= (double)n;
    const double sn = sqrt((double)n);
    assert_within_sigma(m1, 0.0, 1.0 / sn, 4.0);
    assert_within_sigma(m2, 1.0, sqrt(2.0) / sn, 4.0);
    assert_within_sigma(m4, 3.0, sqrt(96.0) / sn, 4.0);
    qsort(z, n, sizeof(float), cmp_float);
    double d = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double f = gsl_cdf_ugaussian_P((double)z[i]);
        const double lo = f - (double)i / (double)n, hi = (double)(i + 1) / (double)n - f;
        d = lo > d ? lo : d;
        d = hi > d ? hi : d;
    }
    printf("KS D = %.3g (n = %zu, 0.1 %% critical value %.3g)\n", d, n, 1.95 / sn);
    assert_true(d < 1.95 / sn);
    free(z);
}

static void test_fast_normal_fill_spends_whole_blocks_and_pins_its_first_values(void **state)
{
    (void)state;
    mx_rng a, b;
    mx_rng_init_named(&a, 1, "test", 0);
    mx_rng_init_named(&b, 1, "test", 0);
    float z[5];
    mx_rng_normal_fill_fast(&a, z, 5); /* two blocks */
    uint32_t skip[4];
    mx_rng_block(&b, skip);
    mx_rng_block(&b, skip);
    assert_int_equal(mx_rng_u32(&a), mx_rng_u32(&b));
    /* Pinned values at (seed 1, "test", 0) catch a change of mapping.
     * The first word of this stream is 0xbb14e29f (test_core.c). */
    double e0, e1;
    uint32_t w[4];
    mx_rng_init_named(&b, 1, "test", 0);
    mx_rng_block(&b, w);
    assert_int_equal(w[0], 0xbb14e29fu);
    exact_pair(w[0], w[1], &e0, &e1);
    assert_close(z[0], e0, 1e-6, 0.0);
    assert_close(z[1], e1, 1e-6, 0.0);
    exact_pair(w[2], w[3], &e0, &e1);
    assert_close(z[2], e0, 1e-6, 0.0);
    assert_close(z[3], e1, 1e-6, 0.0);
}

/* mx_rng_u32_fill: the words, and the stream state after, of n calls of
 * mx_rng_u32, whatever part of a block was used before and whatever n is
 * (below, across and beyond a batch of 64 blocks, and with 1..3 words of a
 * last block, whose rest the next draw must take). */
static void test_u32_fill_equals_one_word_at_a_time(void **state)
{
    (void)state;
    static const size_t lengths[] = {0, 1, 2, 3, 4, 5, 7, 31, 64, 255, 256, 257, 784, 1023, 2049};
    uint32_t *fast = malloc(2049 * sizeof(uint32_t));
    for (size_t skip = 0; skip < 4; skip++)
        for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++) {
            const size_t n = lengths[li];
            mx_rng a, b;
            mx_rng_init_named(&a, 0xabcdef0123ull, "snn.encode", 77 + skip);
            mx_rng_init_named(&b, 0xabcdef0123ull, "snn.encode", 77 + skip);
            for (size_t k = 0; k < skip; k++)
                assert_int_equal(mx_rng_u32(&a), mx_rng_u32(&b));
            for (int rep = 0; rep < 3; rep++) { /* consecutive fills keep the stream */
                mx_rng_u32_fill(&a, fast, n);
                for (size_t i = 0; i < n; i++)
                    assert_int_equal(fast[i], mx_rng_u32(&b));
            }
            for (int k = 0; k < 6; k++)
                assert_int_equal(mx_rng_u32(&a), mx_rng_u32(&b));
        }
    free(fast);
}

/* ---- the inversion normal (mx_normal_from_u32, mx_rng_normal_fill_icdf) ------------- */

/* The tail probability the transform documents for word w: t = (m + ½)·2^−31
 * with m the low 31 bits, m + ½ rounded to float, t < 1. */
static double icdf_t(uint32_t w)
{
    const float t = ((float)(int32_t)(w & 0x7fffffffu) + 0.5f) * 0x1p-31f;
    return t < 0x1.fffffep-1f ? (double)t : (double)0x1.fffffep-1f;
}

/* The exact normal of that t: ±Φ⁻¹(1 − t/2) (GSL's quantile, double). */
static double icdf_exact(uint32_t w)
{
    const double z = gsl_cdf_ugaussian_Qinv(icdf_t(w) / 2.0);
    return (w >> 31) ? -z : z;
}

static void test_icdf_normal_is_the_normal_quantile_to_3_float_ulps(void **state)
{
    (void)state;
    /* The fit (core/rng.c) is within 2 float ulps of |z| (1.4e-7 absolute
     * below 0.674); 3 ulps of max(|z|, ½) leaves room for GSL's own error
     * (≈ 1e-16) and the float steps. Words: every segment boundary of t
     * (m = 2^j − 1, 2^j, 2^j + 1), the extremes, and 2^18 stream words. */
    enum { N = 1 << 18 };
    uint32_t *w = malloc((N + 200) * sizeof(uint32_t));
    mx_rng r;
    mx_rng_init_named(&r, 11, "test.icdf", 0);
    mx_rng_philox_words(&r, w, N / 4);
    size_t n = N;
    for (int j = 0; j < 31; j++) {
        const uint32_t m = 1u << j;
        w[n++] = m - 1;
        w[n++] = m;
        w[n++] = m + 1;
        w[n++] = (m - 1) | 0x80000000u;
        w[n++] = m | 0x80000000u;
    }
    w[n++] = 0x7fffffffu;
    w[n++] = 0x7fffffc0u; /* t rounds to 1: clamped */
    w[n++] = 0x7fffffbfu;
    w[n++] = 0xffffffffu;
    w[n++] = 0x80000000u;
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double z = (double)mx_normal_from_u32(w[i]), e = icdf_exact(w[i]);
        const double mag = fabs(e) > 0.5 ? fabs(e) : 0.5;
        const double ulp = ldexp(1.0, ilogb(mag) - 23);
        const double d = fabs(z - e) / (3.0 * ulp);
        if (d > 1.0)
            printf("w %08x z %.9g exact %.17g (%.2f ulps)\n", w[i], z, e, 3.0 * d);
        worst = d > worst ? d : worst;
        /* symmetric: the sign bit flips the sign and nothing else */
        assert_true(mx_normal_from_u32(w[i] ^ 0x80000000u) == -mx_normal_from_u32(w[i]));
    }
    printf("icdf: worst %.2f float ulps of max(|z|, 1/2) over %zu words\n", 3.0 * worst, n);
    assert_true(worst <= 1.0);
    /* The largest |z|: m = 0, t = 2^−32. */
    assert_close(mx_normal_from_u32(0), gsl_cdf_ugaussian_Qinv(0x1p-33), 1e-6, 0.0);
    free(w);
}

static void test_icdf_normal_has_the_exact_tail_masses(void **state)
{
    (void)state;
    /* The transform is a function of 31 bits and a sign, decreasing in m
     * (within its 3-ulp error), so P(|Z| > c) over all 2^32 words is
     * (the first m with |z| ≤ c)/2^31, found by bisection — the exact
     * output distribution, not a sample. Against 2·Q(c): the words are
     * equally likely, so the mass is a multiple of 2^−31, and the 3-ulp
     * error moves the crossing by |dt/dz|·3 ulps = 2φ(c)·3 ulp(c); the
     * tolerance is the sum of those and 2^−31. */
    static const double cs[] = {0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0};
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        const double c = cs[i];
        uint32_t lo = 0, hi = 0x7fffffffu; /* |z(lo)| > c ≥ |z(hi)| */
        assert_true((double)mx_normal_from_u32(lo) > c && (double)mx_normal_from_u32(hi) <= c);
        while (hi - lo > 1) {
            const uint32_t mid = lo + (hi - lo) / 2;
            if ((double)mx_normal_from_u32(mid) > c)
                lo = mid;
            else
                hi = mid;
        }
        const double p = (double)hi * 0x1p-31, want = 2.0 * gsl_cdf_ugaussian_Q(c);
        const double tol = 2.0 * gsl_ran_ugaussian_pdf(c) * 3.0 * ldexp(1.0, ilogb(c) - 23) +
                           0x1p-31 + want * 1e-6; /* + float rounding of t */
        printf("P(|z| > %g): %.6e exact %.6e (%.2g of tol)\n", c, p, want, fabs(p - want) / tol);
        assert_close(p, want, tol, 0.0);
    }
}

static void test_icdf_fill_is_the_transform_of_the_block_words(void **state)
{
    (void)state;
    /* Every length class of the vectorised fill: below, at and across its
     * 16-block steps and the 64-block batches, 1..3 normals of a last
     * block; after a partly used block; three fills in a row. Bit-equal
     * to the scalar transform (libm's fmaf) of mx_rng_philox_words. */
    static const size_t lengths[] = {0,   1,   2,   3,   4,   5,    7,   63, 64,
                                     65,  255, 256, 257, 511, 512, 1021, 4097};
    float *z = malloc(4100 * sizeof(float));
    uint32_t *wd = malloc(4100 * sizeof(uint32_t));
    for (size_t skip = 0; skip < 2; skip++)
        for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++) {
            const size_t n = lengths[li];
            mx_rng a, b;
            mx_rng_init_named(&a, 99, "crossbar.read", 5 + skip);
            mx_rng_init_named(&b, 99, "crossbar.read", 5 + skip);
            for (size_t k = 0; k < skip; k++)
                assert_int_equal(mx_rng_u32(&a), mx_rng_u32(&b));
            for (int rep = 0; rep < 3; rep++) {
                mx_rng_normal_fill_icdf(&a, z, n);
                mx_rng_philox_words(&b, wd, (n + 3) / 4);
                for (size_t i = 0; i < n; i++) {
                    const float e = mx_normal_from_u32(wd[i]);
                    if (memcmp(&z[i], &e, sizeof e) != 0)
                        printf("n %zu i %zu: %.9g vs %.9g\n", n, i, (double)z[i], (double)e);
                    assert_memory_equal(&z[i], &e, sizeof e);
                }
            }
            assert_int_equal(mx_rng_u32(&a), mx_rng_u32(&b));
        }
    free(z);
    free(wd);
}

static void test_icdf_normals_pass_kolmogorov_smirnov_tails_and_moments(void **state)
{
    (void)state;
    /* n = 2^21 draws at a fixed seed, in fills of odd lengths. KS: D <
     * 1.628/√n, the asymptotic 1 % critical value. Tails: the counts of
     * |z| > 3 and |z| > 4 within 4 binomial standard errors of 2Q(c)·n.
     * Moments within 4 standard errors: mean 1/√n, variance √(2/n), third
     * √(15/n), fourth √(96/n) (E z^6 = 15, E z^8 = 105). */
    const size_t n = (size_t)1 << 21;
    float *z = malloc(n * sizeof(float));
    mx_rng r;
    mx_rng_init_named(&r, 2026, "crossbar.read", 1);
    size_t done = 0, len = 1;
    while (done < n) {
        const size_t k = len < n - done ? len : n - done;
        mx_rng_normal_fill_icdf(&r, z + done, k);
        done += k;
        len = len * 3 % 1021 + 1;
    }
    double m1 = 0.0, m2 = 0.0, m3 = 0.0, m4 = 0.0;
    size_t over3 = 0, over4 = 0;
    for (size_t i = 0; i < n; i++) {
        const double x = (double)z[i];
        assert_true(isfinite(x) && fabs(x) < 6.34);
        m1 += x;
        m2 += x * x;
        m3 += x * x * x;
        m4 += x * x * x * x;
        over3 += fabs(x) > 3.0;
        over4 += fabs(x) > 4.0;
    }
    const double dn = (double)n, sn = sqrt(dn);
    assert_within_sigma(m1 / dn, 0.0, 1.0 / sn, 4.0);
    assert_within_sigma(m2 / dn, 1.0, sqrt(2.0) / sn, 4.0);
    assert_within_sigma(m3 / dn, 0.0, sqrt(15.0) / sn, 4.0);
    assert_within_sigma(m4 / dn, 3.0, sqrt(96.0) / sn, 4.0);
    const double p3 = 2.0 * gsl_cdf_ugaussian_Q(3.0), p4 = 2.0 * gsl_cdf_ugaussian_Q(4.0);
    printf("tails: |z| > 3: %zu (expected %.1f), |z| > 4: %zu (expected %.1f)\n", over3, p3 * dn,
           over4, p4 * dn);
    assert_within_sigma((double)over3, p3 * dn, sqrt(dn * p3 * (1.0 - p3)), 4.0);
    assert_within_sigma((double)over4, p4 * dn, sqrt(dn * p4 * (1.0 - p4)), 4.0);
    qsort(z, n, sizeof(float), cmp_float);
    double d = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double f = gsl_cdf_ugaussian_P((double)z[i]);
        const double lo = f - (double)i / dn, hi = (double)(i + 1) / dn - f;
        d = lo > d ? lo : d;
        d = hi > d ? hi : d;
    }
    printf("icdf KS D = %.3g (n = %zu, 1 %% critical value %.3g)\n", d, n, 1.628 / sn);
    assert_true(d < 1.628 / sn);
    free(z);
}

static void test_icdf_fill_spends_whole_blocks_and_pins_its_first_values(void **state)
{
    (void)state;
    mx_rng a, b;
    mx_rng_init_named(&a, 1, "test", 0);
    mx_rng_init_named(&b, 1, "test", 0);
    float z[5];
    mx_rng_normal_fill_icdf(&a, z, 5); /* two blocks */
    uint32_t skip[4];
    mx_rng_block(&b, skip);
    mx_rng_block(&b, skip);
    assert_int_equal(mx_rng_u32(&a), mx_rng_u32(&b));
    /* The first block of (seed 1, "test", 0) is 0xbb14e29f 0x8ecb6f35
     * 0x6d909076 0xffea84d9; ±Φ⁻¹(1 − t/2) of those words by
     * scipy.special.ndtri, an independent quantile. */
    assert_close(z[0], -0.7362561075828385, 2e-7, 0.0);
    assert_close(z[1], -1.5735854337667372, 2e-7, 0.0);
    assert_close(z[2], 0.18150111633927044, 2e-7, 0.0);
    assert_close(z[3], -0.000821587469154826, 2e-7, 0.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batched_philox_words_match_the_block_at_a_time_stream),
        cmocka_unit_test(test_u32_fill_equals_one_word_at_a_time),
        cmocka_unit_test(test_fast_normals_are_the_box_muller_of_the_block_words_to_float_accuracy),
        cmocka_unit_test(test_fast_normals_pass_kolmogorov_smirnov_against_the_exact_normal),
        cmocka_unit_test(test_fast_normal_fill_spends_whole_blocks_and_pins_its_first_values),
        cmocka_unit_test(test_icdf_normal_is_the_normal_quantile_to_3_float_ulps),
        cmocka_unit_test(test_icdf_normal_has_the_exact_tail_masses),
        cmocka_unit_test(test_icdf_fill_is_the_transform_of_the_block_words),
        cmocka_unit_test(test_icdf_normals_pass_kolmogorov_smirnov_tails_and_moments),
        cmocka_unit_test(test_icdf_fill_spends_whole_blocks_and_pins_its_first_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
