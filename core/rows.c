/* SPDX-License-Identifier: MIT
 *
 * rows.c: the row-block accumulation kernel (rows.h). acc stays in
 * registers across a block of up to MX_ROW_BLOCK rows instead of being
 * loaded and stored once per row; the per-element operations and their
 * order are those of one pass per row. The body is compiled twice, for the
 * baseline ISA and, on x86-64, for AVX2 (no FMA enabled: the project
 * builds with -ffp-contract=off), and chosen at run time.
 */
#include "core/rows.h"

#if defined(__GNUC__)
#define MX_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define MX_ALWAYS_INLINE inline
#endif

static MX_ALWAYS_INLINE void axpy_rows_body(float *restrict acc, const float *const *g,
                                            const float *v, size_t k, size_t n)
{
    size_t i = 0;
    if (k == 8) {
        const float *restrict g0 = g[0], *restrict g1 = g[1], *restrict g2 = g[2];
        const float *restrict g3 = g[3], *restrict g4 = g[4], *restrict g5 = g[5];
        const float *restrict g6 = g[6], *restrict g7 = g[7];
        const float v0 = v[0], v1 = v[1], v2 = v[2], v3 = v[3];
        const float v4 = v[4], v5 = v[5], v6 = v[6], v7 = v[7];
        for (size_t o = 0; o < n; o++) {
            float a = acc[o];
            a += v0 * g0[o];
            a += v1 * g1[o];
            a += v2 * g2[o];
            a += v3 * g3[o];
            a += v4 * g4[o];
            a += v5 * g5[o];
            a += v6 * g6[o];
            a += v7 * g7[o];
            acc[o] = a;
        }
        return;
    }
    for (; i + 4 <= k; i += 4) {
        const float *restrict g0 = g[i], *restrict g1 = g[i + 1];
        const float *restrict g2 = g[i + 2], *restrict g3 = g[i + 3];
        const float v0 = v[i], v1 = v[i + 1], v2 = v[i + 2], v3 = v[i + 3];
        for (size_t o = 0; o < n; o++) {
            float a = acc[o];
            a += v0 * g0[o];
            a += v1 * g1[o];
            a += v2 * g2[o];
            a += v3 * g3[o];
            acc[o] = a;
        }
    }
    for (; i < k; i++) {
        const float *restrict g0 = g[i];
        const float v0 = v[i];
        for (size_t o = 0; o < n; o++)
            acc[o] += v0 * g0[o];
    }
}

static void axpy_rows_base(float *restrict acc, const float *const *g, const float *v, size_t k,
                           size_t n)
{
    axpy_rows_body(acc, g, v, k, n);
}

#if defined(__GNUC__) && defined(__x86_64__)
__attribute__((target("avx2"))) static void axpy_rows_avx2(float *restrict acc,
                                                           const float *const *g,
                                                           const float *v, size_t k, size_t n)
{
    axpy_rows_body(acc, g, v, k, n);
}
#endif

mx_axpy_rows_fn mx_axpy_rows_kernel(void)
{
#if defined(__GNUC__) && defined(__x86_64__)
    if (__builtin_cpu_supports("avx2"))
        return axpy_rows_avx2;
#endif
    return axpy_rows_base;
}
