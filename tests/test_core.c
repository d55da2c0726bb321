/* SPDX-License-Identifier: MIT
 *
 * test_core.c: the foundation — status list and error messages, overflow-
 * checked sizes, the allocator (alignment, fault injection) and the Philox
 * random streams (known answers, independence of (seed, stream, item), and
 * the moments and shape of the uniform, normal and Bernoulli transforms).
 *
 * Statistical tests are deterministic by seed and fail beyond 4 standard
 * errors of the theoretical value; each states how its standard error is
 * computed. With ~15 such checks, the chance that a correct generator trips
 * one at some other seed is ~1e-3.
 */
#include "tests/support/mx_test.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <omp.h>

#include <Random123/philox.h>

#include "core/core.h"
#include "core/rng.h"

/* ---- status list and messages ------------------------------------------ */

static void test_strerror_gives_distinct_nonempty_message_for_every_code(void **state)
{
    (void)state;
    for (int i = 0; i < MX_STATUS_COUNT; i++) {
        const char *mi = mx_strerror((mx_status)i);
        assert_non_null(mi);
        assert_true(strlen(mi) > 0);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(mi, mx_strerror((mx_status)j));
    }
    /* Out-of-range codes still get a message, never NULL. */
    assert_non_null(mx_strerror(MX_STATUS_COUNT));
    assert_true(strlen(mx_strerror(MX_STATUS_COUNT)) > 0);
    assert_non_null(mx_strerror((mx_status)-1));
}

static void test_fail_returns_its_code_and_records_the_message(void **state)
{
    (void)state;
    for (int i = 0; i < MX_STATUS_COUNT; i++) {
        char want[64];
        snprintf(want, sizeof want, "failure number %d (%s)", i, "x");
        assert_int_equal(mx_fail((mx_status)i, "failure number %d (%s)", i, "x"), i);
        assert_string_equal(mx_last_error(), want);
    }
}

static void test_clear_error_empties_the_message(void **state)
{
    (void)state;
    mx_fail(MX_EIO, "something");
    mx_clear_error();
    assert_string_equal(mx_last_error(), "");
}

static void test_fail_context_prefixes_the_message_and_keeps_the_code(void **state)
{
    (void)state;
    mx_fail(MX_EFORMAT, "line %d: bad key", 7);
    assert_int_equal(mx_fail_context(MX_EFORMAT, "while reading %s", "net.yaml"), MX_EFORMAT);
    assert_string_equal(mx_last_error(), "while reading net.yaml: line 7: bad key");
    assert_int_equal(mx_fail_context(MX_EIO, "outer"), MX_EIO);
    assert_string_equal(mx_last_error(), "outer: while reading net.yaml: line 7: bad key");
}

static void test_overlong_message_is_truncated_not_overflowed(void **state)
{
    (void)state;
    static char big[10000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    mx_fail(MX_EINVAL, "%s", big);
    size_t len = strlen(mx_last_error());
    assert_true(len > 1000 && len < sizeof big - 1);
    mx_fail_context(MX_EINVAL, "%s", big); /* prefix itself overlong */
    assert_true(strlen(mx_last_error()) <= len);
}

static void test_error_copy_and_set_hand_a_message_across(void **state)
{
    (void)state;
    mx_fail(MX_ERANGE, "value %d out of range", 42);
    char buf[64];
    mx_error_copy(buf, sizeof buf);
    assert_string_equal(buf, "value 42 out of range");
    char small[6];
    mx_error_copy(small, sizeof small);
    assert_string_equal(small, "value");
    mx_error_copy(small, 0); /* size 0: writes nothing, does not crash */
    mx_clear_error();
    mx_error_set(buf);
    assert_string_equal(mx_last_error(), "value 42 out of range");
}

static void test_error_messages_are_per_thread(void **state)
{
    (void)state;
    mx_fail(MX_EINVAL, "main thread");
    int other_saw_empty = 0, ran_on_other = 0;
#pragma omp parallel num_threads(2)
    {
        if (omp_get_thread_num() == 1) {
            ran_on_other = 1;
            other_saw_empty = mx_last_error()[0] == '\0';
            mx_fail(MX_EIO, "worker thread");
        }
    }
    assert_string_equal(mx_last_error(), "main thread");
    if (ran_on_other) /* only meaningful when OpenMP gave us a second thread */
        assert_true(other_saw_empty);
}

/* ---- sizes and allocation ---------------------------------------------- */

static void test_size_mul_detects_overflow(void **state)
{
    (void)state;
    assert_int_equal(mx_size_mul(0, SIZE_MAX), 0);
    assert_int_equal(mx_size_mul(SIZE_MAX, 0), 0);
    assert_true(mx_size_mul(SIZE_MAX, 1) == SIZE_MAX);
    assert_true(mx_size_mul(3, 7) == 21);
    assert_true(mx_size_mul(SIZE_MAX / 2, 2) == SIZE_MAX - 1);
    assert_int_equal(mx_size_mul(SIZE_MAX / 2 + 1, 2), 0);
    assert_int_equal(mx_size_mul((size_t)1 << (sizeof(size_t) * 4),
                                 (size_t)1 << (sizeof(size_t) * 4)),
                     0);
    assert_int_equal(mx_size_mul(SIZE_MAX, SIZE_MAX), 0);
}

static void test_alloc_is_64_byte_aligned_for_every_size(void **state)
{
    (void)state;
    const size_t sizes[] = {0, 1, 3, 63, 64, 65, 127, 1000, 4096, 100003};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *p = mx_alloc(sizes[i]);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 64, 0);
        memset(p, 0xab, sizes[i]); /* writable over the whole request (ASan checks) */
        mx_free(p);
    }
    mx_free(NULL);
}

static void test_calloc_zeroes_and_rejects_overflowing_products(void **state)
{
    (void)state;
    size_t n = 1001;
    double *p = mx_calloc(n, sizeof *p);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 64, 0);
    for (size_t i = 0; i < n; i++)
        assert_true(p[i] == 0.0);
    mx_free(p);
    assert_null(mx_calloc(SIZE_MAX / 2 + 1, 2));
    assert_null(mx_calloc(SIZE_MAX, SIZE_MAX));
}

static void test_alloc_of_an_impossible_size_returns_null(void **state)
{
    (void)state;
    /* Rounding up to the alignment must not wrap around to a tiny block. */
    assert_null(mx_alloc(SIZE_MAX));
    assert_null(mx_alloc(SIZE_MAX - 10));
}

static void test_alloc_fail_after_fails_exactly_the_nth_allocation(void **state)
{
    (void)state;
    for (long n = 1; n <= 6; n++) {
        void *p[8];
        mx_alloc_fail_after(n);
        for (long k = 1; k <= 8; k++) {
            p[k - 1] = (k % 2) ? mx_alloc(16) : mx_calloc(4, 4);
            if (k == n)
                assert_null(p[k - 1]);
            else
                assert_non_null(p[k - 1]);
        }
        for (int k = 0; k < 8; k++)
            mx_free(p[k]);
    }
    /* 0 disables a pending failure. */
    mx_alloc_fail_after(2);
    mx_alloc_fail_after(0);
    for (int k = 0; k < 4; k++) {
        void *q = mx_alloc(8);
        assert_non_null(q);
        mx_free(q);
    }
}

/* ---- Philox streams ------------------------------------------------------ */

static void next_words(mx_rng *r, uint32_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = mx_rng_u32(r);
}

static void test_philox_matches_random123_known_answers(void **state)
{
    (void)state;
    /* Random123's published known-answer vectors for philox4x32-10
     * (kat_vectors): the library we link must reproduce them. */
    struct {
        uint32_t ctr[4], key[2], out[4];
    } kat[] = {
        {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
        {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
         {0xffffffff, 0xffffffff},
         {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
        {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
         {0xa4093822, 0x299f31d0},
         {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
    };
    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
        philox4x32_ctr_t c = {{kat[i].ctr[0], kat[i].ctr[1], kat[i].ctr[2], kat[i].ctr[3]}};
        philox4x32_key_t k = {{kat[i].key[0], kat[i].key[1]}};
        philox4x32_ctr_t o = philox4x32(c, k);
        for (int w = 0; w < 4; w++)
            assert_int_equal(o.v[w], kat[i].out[w]);
    }
    /* Seed 0, stream id 0, item 0 is counter = key = 0: the first KAT, in order. */
    mx_rng r;
    mx_rng_init(&r, 0, 0, 0);
    uint32_t w[4];
    next_words(&r, w, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(w[i], kat[0].out[i]);
}

static void test_rng_keys_philox_by_seed_stream_and_item(void **state)
{
    (void)state;
    /* rng.h's keying: key = seed (low word first), counter = {block, stream,
     * item low, item high}. Check the first two blocks of an arbitrary stream. */
    const uint64_t seed = 0x0123456789abcdefULL, item = 0xfedcba9876543210ULL;
    const uint32_t stream = 0x5eed5eedu;
    mx_rng r;
    mx_rng_init(&r, seed, stream, item);
    for (uint32_t block = 0; block < 2; block++) {
        philox4x32_ctr_t c = {{block, stream, (uint32_t)item, (uint32_t)(item >> 32)}};
        philox4x32_key_t k = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
        philox4x32_ctr_t o = philox4x32(c, k);
        for (int i = 0; i < 4; i++)
            assert_int_equal(mx_rng_u32(&r), o.v[i]);
    }
}

static void test_first_word_of_test_stream_is_pinned(void **state)
{
    (void)state;
    /* Regression pin, computed once from this implementation (and checked
     * once against an independent Python Philox4x32-10 and Box-Muller): it
     * changes if the keying of (seed, stream name, item) or the word order
     * changes. */
    mx_rng r;
    mx_rng_init_named(&r, 1, "test", 0);
    assert_int_equal(mx_rng_u32(&r), 0xbb14e29fu);
    /* And the first Box-Muller pair of the same stream (catches a change of
     * transform; the tolerance only absorbs libm's last bits). */
    mx_rng_init_named(&r, 1, "test", 0);
    const double z0 = mx_rng_normal(&r);
    const double z1 = mx_rng_normal(&r);
    assert_close(z0, -0.74035816385328423, 0.0, 1e-12);
    assert_close(z1, -0.2813095969953931, 0.0, 1e-12);
}

static void test_same_seed_stream_and_item_give_the_same_sequence(void **state)
{
    (void)state;
    mx_rng a, b;
    mx_rng_init_named(&a, 42, "device.program", 7);
    mx_rng_init_named(&b, 42, "device.program", 7);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(mx_rng_u32(&a), mx_rng_u32(&b));
    /* Mixed draws stay in step too (normal caches its Box-Muller spare). */
    for (int i = 0; i < 100; i++) {
        assert_true(mx_rng_normal(&a) == mx_rng_normal(&b));
        assert_true(mx_rng_uniform(&a) == mx_rng_uniform(&b));
        assert_int_equal(mx_rng_bernoulli(&a, 0.3), mx_rng_bernoulli(&b, 0.3));
    }
}

static int sequences_differ(const mx_rng *a0, const mx_rng *b0)
{
    mx_rng a = *a0, b = *b0;
    uint32_t wa[16], wb[16];
    next_words(&a, wa, 16);
    next_words(&b, wb, 16);
    /* Independent 32-bit words coincide with probability 2^-32 each:
     * require that every one of the 16 differs. */
    for (int i = 0; i < 16; i++)
        if (wa[i] == wb[i])
            return 0;
    return 1;
}

static void test_different_item_stream_or_seed_give_different_sequences(void **state)
{
    (void)state;
    mx_rng base, r;
    mx_rng_init(&base, 42, 1000, 7);
    mx_rng_init(&r, 42, 1000, 8);
    assert_true(sequences_differ(&base, &r));
    mx_rng_init(&r, 42, 1000, 7 + (1ULL << 32)); /* the high word of the item counts */
    assert_true(sequences_differ(&base, &r));
    mx_rng_init(&r, 42, 1001, 7);
    assert_true(sequences_differ(&base, &r));
    mx_rng_init(&r, 43, 1000, 7);
    assert_true(sequences_differ(&base, &r));
    mx_rng_init(&r, 42 + (1ULL << 32), 1000, 7); /* the high word of the seed counts */
    assert_true(sequences_differ(&base, &r));
}

static void test_stream_ids_of_different_names_differ(void **state)
{
    (void)state;
    /* FNV-1a published test vectors (Fowler/Noll/Vo): "" → offset basis. */
    assert_int_equal(mx_stream_id(""), 0x811c9dc5u);
    assert_int_equal(mx_stream_id("a"), 0xe40c292cu);
    assert_int_equal(mx_stream_id("foobar"), 0xbf9cf968u);
    const char *names[] = {"device.program", "device.read",  "crossbar.read", "snn.encode",
                           "snn.init",       "snn.train",    "snn.shuffle",   "adc.calibrate",
                           "dataset.split",  "test",         "test2",         "tset",
                           "device.program2"};
    const size_t n = sizeof names / sizeof names[0];
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            assert_int_not_equal(mx_stream_id(names[i]), mx_stream_id(names[j]));
    mx_rng a, b;
    mx_rng_init_named(&a, 5, "snn.encode", 3);
    mx_rng_init(&b, 5, mx_stream_id("snn.encode"), 3);
    for (int i = 0; i < 8; i++)
        assert_int_equal(mx_rng_u32(&a), mx_rng_u32(&b));
}

/* ---- distributions ------------------------------------------------------- */

static void test_uniform_lies_in_open_interval_with_mean_half_and_variance_twelfth(void **state)
{
    (void)state;
    const size_t n = 1000000;
    mx_rng r;
    mx_rng_init_named(&r, 2024, "test.uniform", 0);
    double sum = 0.0, sum2 = 0.0;
    for (size_t i = 0; i < n; i++) {
        double u = mx_rng_uniform(&r);
        assert_true(u > 0.0 && u < 1.0);
        sum += u;
        sum2 += u * u;
    }
    double mean = sum / (double)n;
    double var = (sum2 - (double)n * mean * mean) / (double)(n - 1);
    /* SE(mean) = sqrt(σ²/n), σ² = 1/12. SE(s²) = sqrt((μ4 − σ⁴)/n) with
     * μ4 = 1/80 for U(0, 1). */
    assert_within_sigma(mean, 0.5, sqrt(1.0 / 12.0 / (double)n), 4.0);
    assert_within_sigma(var, 1.0 / 12.0, sqrt((1.0 / 80.0 - 1.0 / 144.0) / (double)n), 4.0);
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_normal_has_mean_zero_variance_one_and_gaussian_shape(void **state)
{
    (void)state;
    const size_t n = 1000000, n_ks = 200000;
    mx_rng r;
    mx_rng_init_named(&r, 2024, "test.normal", 0);
    double *x = malloc(n * sizeof *x);
    assert_non_null(x);
    double sum = 0.0, sum2 = 0.0;
    for (size_t i = 0; i < n; i++) {
        x[i] = mx_rng_normal(&r);
        assert_true(isfinite(x[i]));
        sum += x[i];
        sum2 += x[i] * x[i];
    }
    double mean = sum / (double)n;
    double var = (sum2 - (double)n * mean * mean) / (double)(n - 1);
    /* SE(mean) = 1/sqrt(n); SE(s²) = sqrt(2/(n−1)) for a Gaussian (μ4 = 3). */
    assert_within_sigma(mean, 0.0, 1.0 / sqrt((double)n), 4.0);
    assert_within_sigma(var, 1.0, sqrt(2.0 / (double)(n - 1)), 4.0);
    /* Consecutive draws (including the two halves of a Box-Muller pair) are
     * uncorrelated: lag-1 autocorrelation ≈ Σ x_i·x_(i+1)/(n − 1), SE
     * 1/sqrt(n − 1) for independent N(0, 1). */
    double lag1 = 0.0;
    for (size_t i = 0; i + 1 < n; i++)
        lag1 += x[i] * x[i + 1];
    assert_within_sigma(lag1 / (double)(n - 1), 0.0, 1.0 / sqrt((double)(n - 1)), 4.0);

    /* One-sample Kolmogorov-Smirnov against Φ on the first n_ks draws:
     * reject when sqrt(n)·D exceeds the asymptotic critical value at
     * α = 1e-3, c = sqrt(−ln(α/2)/2) = 1.9495. */
    qsort(x, n_ks, sizeof *x, compare_double);
    double d = 0.0;
    for (size_t i = 0; i < n_ks; i++) {
        double f = gsl_cdf_ugaussian_P(x[i]);
        double lo = f - (double)i / (double)n_ks, hi = (double)(i + 1) / (double)n_ks - f;
        d = fmax(d, fmax(lo, hi));
    }
    const double c_alpha = sqrt(-log(1e-3 / 2.0) / 2.0);
    if (!(sqrt((double)n_ks) * d < c_alpha))
        print_error("KS: sqrt(n)·D = %.4f >= %.4f\n", sqrt((double)n_ks) * d, c_alpha);
    assert_true(sqrt((double)n_ks) * d < c_alpha);
    free(x);
}

static void test_normal_fill_equals_repeated_normal_calls(void **state)
{
    (void)state;
    mx_rng a, b;
    mx_rng_init_named(&a, 9, "test.fill", 1);
    b = a;
    float block[33];
    (void)mx_rng_normal(&a); /* start mid-pair: the cached spare must carry over */
    (void)mx_rng_normal(&b);
    mx_rng_normal_fill(&a, block, 33);
    for (size_t i = 0; i < 33; i++)
        assert_true(block[i] == (float)mx_rng_normal(&b));
    assert_int_equal(mx_rng_u32(&a), mx_rng_u32(&b));
}

/* A permutation, reproducible, and uniform: over 24 000 shuffles of 4
 * elements the counts of the 24 orders give a Pearson χ² (23 degrees of
 * freedom) below its 99.9th percentile, 49.7. */
static void test_permutation_is_uniform_and_reproducible(void **state)
{
    (void)state;
    enum { N = 4, ORDERS = 24, DRAWS = 24000 };
    size_t count[ORDERS] = {0};
    mx_rng r;
    mx_rng_init_named(&r, 11, "test.permutation", 0);
    for (int d = 0; d < DRAWS; d++) {
        size_t o[N], seen = 0;
        mx_rng_permutation(&r, o, N);
        for (int i = 0; i < N; i++)
            seen |= (size_t)1 << o[i];
        assert_int_equal(seen, (1u << N) - 1); /* every index exactly once */
        size_t code = 0, left[N] = {0, 1, 2, 3}, n_left = N; /* Lehmer code */
        for (int i = 0; i < N; i++) {
            size_t k = 0;
            while (left[k] != o[i])
                k++;
            code = code * n_left + k;
            for (size_t j = k; j + 1 < n_left; j++)
                left[j] = left[j + 1];
            n_left--;
        }
        count[code]++;
    }
    double chi2 = 0.0;
    for (int k = 0; k < ORDERS; k++) {
        double dev = (double)count[k] - DRAWS / (double)ORDERS;
        chi2 += dev * dev / (DRAWS / (double)ORDERS);
    }
    assert_true(chi2 < 49.7);
    size_t a[100], b[100];
    mx_rng_init_named(&r, 5, "test.permutation", 7);
    mx_rng_permutation(&r, a, 100);
    mx_rng_init_named(&r, 5, "test.permutation", 7);
    mx_rng_permutation(&r, b, 100);
    assert_memory_equal(a, b, sizeof a);
}

static void test_bernoulli_rate_matches_p(void **state)
{
    (void)state;
    const double ps[] = {0.01, 0.3, 0.5, 0.97};
    const size_t n = 200000;
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        mx_rng r;
        mx_rng_init_named(&r, 77, "test.bernoulli", k);
        size_t hits = 0;
        for (size_t i = 0; i < n; i++)
            hits += (size_t)mx_rng_bernoulli(&r, ps[k]);
        /* Binomial: SE(rate) = sqrt(p(1 − p)/n). */
        assert_within_sigma((double)hits / (double)n, ps[k],
                            sqrt(ps[k] * (1.0 - ps[k]) / (double)n), 4.0);
    }
    mx_rng r;
    mx_rng_init_named(&r, 77, "test.bernoulli", 99);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(mx_rng_bernoulli(&r, 0.0), 0);
        assert_int_equal(mx_rng_bernoulli(&r, -0.5), 0);
        assert_int_equal(mx_rng_bernoulli(&r, 1.0), 1);
        assert_int_equal(mx_rng_bernoulli(&r, 3.0), 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror_gives_distinct_nonempty_message_for_every_code),
        cmocka_unit_test(test_fail_returns_its_code_and_records_the_message),
        cmocka_unit_test(test_clear_error_empties_the_message),
        cmocka_unit_test(test_fail_context_prefixes_the_message_and_keeps_the_code),
        cmocka_unit_test(test_overlong_message_is_truncated_not_overflowed),
        cmocka_unit_test(test_error_copy_and_set_hand_a_message_across),
        cmocka_unit_test(test_error_messages_are_per_thread),
        cmocka_unit_test(test_size_mul_detects_overflow),
        cmocka_unit_test(test_alloc_is_64_byte_aligned_for_every_size),
        cmocka_unit_test(test_calloc_zeroes_and_rejects_overflowing_products),
        cmocka_unit_test(test_alloc_of_an_impossible_size_returns_null),
        cmocka_unit_test(test_alloc_fail_after_fails_exactly_the_nth_allocation),
        cmocka_unit_test(test_philox_matches_random123_known_answers),
        cmocka_unit_test(test_rng_keys_philox_by_seed_stream_and_item),
        cmocka_unit_test(test_first_word_of_test_stream_is_pinned),
        cmocka_unit_test(test_same_seed_stream_and_item_give_the_same_sequence),
        cmocka_unit_test(test_different_item_stream_or_seed_give_different_sequences),
        cmocka_unit_test(test_stream_ids_of_different_names_differ),
        cmocka_unit_test(test_uniform_lies_in_open_interval_with_mean_half_and_variance_twelfth),
        cmocka_unit_test(test_normal_has_mean_zero_variance_one_and_gaussian_shape),
        cmocka_unit_test(test_normal_fill_equals_repeated_normal_calls),
        cmocka_unit_test(test_bernoulli_rate_matches_p),
        cmocka_unit_test(test_permutation_is_uniform_and_reproducible),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
