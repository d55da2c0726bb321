/* SPDX-License-Identifier: MIT
 *
 * test_rng.c: the block-wise random paths of core/rng.c that the matmul's
 * read noise uses (issue 9) — the batched Philox words against Random123's
 * reference one block at a time, the fast float Box-Muller against the
 * double transform of the same words (pointwise), and its distribution
 * against the exact normal (Kolmogorov–Smirnov, moments) at a fixed seed.
 * The older transforms (mx_rng_normal etc.) are tested in test_core.c.
 */
#include "tests/support/mx_test.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batched_philox_words_match_the_block_at_a_time_stream),
        cmocka_unit_test(test_u32_fill_equals_one_word_at_a_time),
        cmocka_unit_test(test_fast_normals_are_the_box_muller_of_the_block_words_to_float_accuracy),
        cmocka_unit_test(test_fast_normals_pass_kolmogorov_smirnov_against_the_exact_normal),
        cmocka_unit_test(test_fast_normal_fill_spends_whole_blocks_and_pins_its_first_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
