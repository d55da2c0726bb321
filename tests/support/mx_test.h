/* SPDX-License-Identifier: MIT
 *
 * mx_test.h: what every memxbar test program includes — cmocka, and the
 * float assertions cmocka 1.1.5 lacks. On failure they print the index, both
 * values and the worst difference (the llm.c check_tensor habit), then fail.
 * Tolerances are given by the caller with the reason for their size.
 */
#ifndef MX_TEST_H
#define MX_TEST_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

/* |a − b| ≤ tol_abs + tol_rel·|b|; NaN never passes. */
#define assert_close(a, b, tol_abs, tol_rel) \
    mx_assert_close_impl((double)(a), (double)(b), (tol_abs), (tol_rel), #a, #b, __FILE__, __LINE__)

/* Arrays: every element within tolerance; reports the worst element. */
#define assert_array_close(a, b, n, tol_abs, tol_rel)                                          \
    mx_assert_array_close_impl((a), (b), (n), (tol_abs), (tol_rel), #a, #b, __FILE__, __LINE__)

/* A statistic within k standard errors of its expectation. */
#define assert_within_sigma(value, expected, std_error, k)                                  \
    mx_assert_close_impl((double)(value), (double)(expected), (k) * (std_error), 0.0, #value, \
                         #expected, __FILE__, __LINE__)

static inline void mx_assert_close_impl(double a, double b, double tol_abs, double tol_rel,
                                        const char *sa, const char *sb, const char *file,
                                        int line)
{
    double diff = fabs(a - b);
    double tol = tol_abs + tol_rel * fabs(b);
    if (!(diff <= tol)) {
        print_error("%s:%d: %s = %.17g, %s = %.17g, |diff| = %.3g > tol %.3g\n", file, line, sa,
                    a, sb, b, diff, tol);
        _fail(file, line);
    }
}

static inline void mx_assert_array_close_impl(const float *a, const float *b, size_t n,
                                              double tol_abs, double tol_rel, const char *sa,
                                              const char *sb, const char *file, int line)
{
    size_t worst = 0, bad = 0;
    double worst_excess = -1.0;
    for (size_t i = 0; i < n; i++) {
        double diff = fabs((double)a[i] - (double)b[i]);
        double tol = tol_abs + tol_rel * fabs((double)b[i]);
        double excess = isnan(diff) ? (double)INFINITY : diff - tol;
        if (excess > 0)
            bad++;
        if (excess > worst_excess) {
            worst_excess = excess;
            worst = i;
        }
    }
    if (bad) {
        print_error("%s:%d: %zu of %zu elements of %s and %s differ; worst at [%zu]: %.9g vs %.9g "
                    "(|diff| %.3g, tol_abs %.3g, tol_rel %.3g)\n",
                    file, line, bad, n, sa, sb, worst, (double)a[worst], (double)b[worst],
                    fabs((double)a[worst] - (double)b[worst]), tol_abs, tol_rel);
        _fail(file, line);
    }
}

/* The shared data folder for tests (../shared/data beside the source tree),
 * or NULL when it is absent. */
const char *mx_test_data_dir(void);

#endif /* MX_TEST_H */
