/* SPDX-License-Identifier: MIT
 *
 * rng.c: Philox4x32-10 streams over Random123's reference implementation
 * (Debian librandom123-dev), the uniform and normal transforms, and the
 * stream-name hash. See rng.h for the keying scheme.
 */
#include "core/rng.h"

#include <math.h>

#include <Random123/philox.h>

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define RNG_HAVE_AVX2_KERNELS 1
#endif

#define FNV1A_OFFSET_BASIS 2166136261u
#define FNV1A_PRIME 16777619u

uint32_t mx_stream_id(const char *name)
{
    uint32_t h = FNV1A_OFFSET_BASIS;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        h ^= *p;
        h *= FNV1A_PRIME;
    }
    return h;
}

void mx_rng_init(mx_rng *r, uint64_t seed, uint32_t stream_id, uint64_t item)
{
    r->key[0] = (uint32_t)seed;
    r->key[1] = (uint32_t)(seed >> 32);
    r->ctr[0] = 0;
    r->ctr[1] = stream_id;
    r->ctr[2] = (uint32_t)item;
    r->ctr[3] = (uint32_t)(item >> 32);
    r->pos = 4;
    r->have_spare = 0;
    r->spare = 0.0;
}

void mx_rng_init_named(mx_rng *r, uint64_t seed, const char *name, uint64_t item)
{
    mx_rng_init(r, seed, mx_stream_id(name), item);
}

void mx_rng_refill(mx_rng *r)
{
    philox4x32_ctr_t c = {{r->ctr[0], r->ctr[1], r->ctr[2], r->ctr[3]}};
    philox4x32_key_t k = {{r->key[0], r->key[1]}};
    philox4x32_ctr_t out = philox4x32(c, k);
    for (int i = 0; i < 4; i++)
        r->buf[i] = out.v[i];
    r->ctr[0]++;
    r->pos = 0;
}

void mx_rng_block(mx_rng *r, uint32_t out[4])
{
    mx_rng_refill(r);
    for (int i = 0; i < 4; i++)
        out[i] = r->buf[i];
    r->pos = 4;
}

double mx_rng_uniform(mx_rng *r)
{
    /* (k + 0.5) / 2^32 lies strictly inside (0, 1). */
    return mx_u01(mx_rng_u32(r));
}

double mx_rng_normal(mx_rng *r)
{
    if (r->have_spare) {
        r->have_spare = 0;
        return r->spare;
    }
    double u1 = mx_rng_uniform(r);
    double u2 = mx_rng_uniform(r);
    double radius = sqrt(-2.0 * log(u1));
    double angle = 2.0 * M_PI * u2;
    r->spare = radius * sin(angle);
    r->have_spare = 1;
    return radius * cos(angle);
}

void mx_rng_normal_fill(mx_rng *r, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (float)mx_rng_normal(r);
}

int mx_rng_bernoulli(mx_rng *r, double p)
{
    if (p <= 0.0)
        return 0;
    if (p >= 1.0)
        return 1;
    uint32_t threshold = (uint32_t)(p * 4294967296.0);
    return mx_rng_u32(r) < threshold;
}

void mx_rng_permutation(mx_rng *r, size_t *order, size_t n)
{
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = n; i > 1; i--) {
        uint64_t k = ((uint64_t)mx_rng_u32(r) * (uint64_t)i) >> 32;
        size_t t = order[i - 1];
        order[i - 1] = order[k];
        order[k] = t;
    }
}

/* ---- block-wise normals: mx_rng_normal_fill_fast ----------------------------------
 *
 * Philox4x32-10 written out over a batch of consecutive blocks, as structure
 * of arrays so the compiler vectorises across blocks (the same words as
 * Random123's philox4x32, checked by tests/test_rng.c), then Box-Muller in
 * float with polynomial log, sin and cos in place of libm's double ones.
 * Only IEEE +, −, ×, ÷ and sqrt are used, and ISO C builds do not contract
 * to FMA, so the baseline and AVX2 builds of the body give the same bits.
 *
 * Accuracy of the transform (against double libm's Box-Muller of the same
 * words over 2^18 normals, tests/test_rng.c: within 8 float ulps of
 * max(1, r)): the log is Cephes' logf (S. L. Moshier,
 * Cephes Math Library, 1984-1992: degree-9 minimax on [√½ − 1, √2 − 1]),
 * ≈ 1 ulp; sin and cos are Cephes' sinf/cosf minimax polynomials on
 * [−π/4, π/4], reached exactly: θ = 2π·u2 with u2 = (k + ½)·2^−24, k the
 * top 24 bits, so the quadrant q = round(4·u2) and u2 − q/4 are exact.
 * u1 = (w + ½)·2^−32 keeps the 32-bit tail of the double transform
 * (|z| ≤ √(2·33·ln 2) = 6.77). The result is within a few float ulps of
 * the double Box-Muller of the same words — not the same bits as
 * mx_rng_normal, which keeps its values. */

#define BATCH_BLOCKS 64

#if defined(__GNUC__)
#define RNG_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define RNG_ALWAYS_INLINE inline
#endif

static RNG_ALWAYS_INLINE void philox_batch_body(const uint32_t key[2], const uint32_t ctr[4],
                                                size_t nb, uint32_t *restrict w0,
                                                uint32_t *restrict w1, uint32_t *restrict w2,
                                                uint32_t *restrict w3)
{
    for (size_t b = 0; b < nb; b++) {
        uint32_t c0 = ctr[0] + (uint32_t)b, c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
        uint32_t k0 = key[0], k1 = key[1];
        for (int round = 0; round < 10; round++) {
            const uint64_t p0 = (uint64_t)PHILOX_M4x32_0 * c0;
            const uint64_t p1 = (uint64_t)PHILOX_M4x32_1 * c2;
            const uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
            const uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
            c1 = (uint32_t)p1;
            c3 = (uint32_t)p0;
            c0 = n0;
            c2 = n2;
            k0 += PHILOX_W32_0;
            k1 += PHILOX_W32_1;
        }
        w0[b] = c0;
        w1[b] = c1;
        w2[b] = c2;
        w3[b] = c3;
    }
}

#ifdef RNG_HAVE_AVX2_KERNELS
/* Philox4x32-10 for 8 consecutive blocks at once, one block per 32-bit
 * lane (AVX2 has no 32×32 → 64 multiply of all 8 lanes: the even lanes'
 * products come from one _mm256_mul_epu32, the odd lanes' from a second on
 * the inputs shifted down, and the halves are blended back). Integer
 * arithmetic only: the very words of philox_batch_body, tested against
 * Random123 in tests/test_rng.c. */
__attribute__((target("avx2"))) static inline void mulhilo8(__m256i m, __m256i c, __m256i *hi,
                                                            __m256i *lo)
{
    const __m256i even = _mm256_mul_epu32(c, m);
    const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(c, 32), m);
    *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xaa);
    *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xaa);
}

__attribute__((target("avx2"))) static inline void philox8_avx2(const uint32_t key[2],
                                                                uint32_t ctr0, uint32_t ctr1,
                                                                uint32_t ctr2, uint32_t ctr3,
                                                                __m256i out[4])
{
    const __m256i m0 = _mm256_set1_epi32((int)PHILOX_M4x32_0);
    const __m256i m1 = _mm256_set1_epi32((int)PHILOX_M4x32_1);
    __m256i c0 = _mm256_add_epi32(_mm256_set1_epi32((int)ctr0),
                                  _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256i c1 = _mm256_set1_epi32((int)ctr1), c2 = _mm256_set1_epi32((int)ctr2);
    __m256i c3 = _mm256_set1_epi32((int)ctr3);
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        __m256i hi0, lo0, hi1, lo1;
        mulhilo8(m0, c0, &hi0, &lo0);
        mulhilo8(m1, c2, &hi1, &lo1);
        c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32((int)k0));
        c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32((int)k1));
        c1 = lo1;
        c3 = lo0;
        k0 += PHILOX_W32_0;
        k1 += PHILOX_W32_1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* philox_batch_body's structure of arrays, 8 blocks per step. */
__attribute__((target("avx2"))) static void philox_batch_avx2(const uint32_t key[2],
                                                              const uint32_t ctr[4], size_t nb,
                                                              uint32_t *restrict w0,
                                                              uint32_t *restrict w1,
                                                              uint32_t *restrict w2,
                                                              uint32_t *restrict w3)
{
    size_t b = 0;
    for (; b + 8 <= nb; b += 8) {
        __m256i c[4];
        philox8_avx2(key, ctr[0] + (uint32_t)b, ctr[1], ctr[2], ctr[3], c);
        _mm256_storeu_si256((__m256i *)(w0 + b), c[0]);
        _mm256_storeu_si256((__m256i *)(w1 + b), c[1]);
        _mm256_storeu_si256((__m256i *)(w2 + b), c[2]);
        _mm256_storeu_si256((__m256i *)(w3 + b), c[3]);
    }
    if (b < nb) {
        const uint32_t rest[4] = {ctr[0] + (uint32_t)b, ctr[1], ctr[2], ctr[3]};
        philox_batch_body(key, rest, nb - b, w0 + b, w1 + b, w2 + b, w3 + b);
    }
}
#endif

/* ln(1 + m)·… Cephes logf's kernel: ln(2^e·(1 + m)) for m in
 * [√½ − 1, √2 − 1]. */
static RNG_ALWAYS_INLINE float log_kernel_f(float m, float fe)
{
    const float z = m * m;
    float y = 7.0376836292e-2f;
    y = y * m - 1.1514610310e-1f;
    y = y * m + 1.1676998740e-1f;
    y = y * m - 1.2420140846e-1f;
    y = y * m + 1.4249322787e-1f;
    y = y * m - 1.6668057665e-1f;
    y = y * m + 2.0000714765e-1f;
    y = y * m - 2.4999993993e-1f;
    y = y * m + 3.3333331174e-1f;
    y = y * m * z;
    y += -2.12194440e-4f * fe;
    y += -0.5f * z;
    return m + y + 0.693359375f * fe;
}

/* The kernel's arguments (m, e) for ln(x), x in (0, 1] (Cephes logf's
 * reduction). */
static RNG_ALWAYS_INLINE void log_unit_reduce(float x, float *m_out, float *fe_out)
{
    union { float f; uint32_t u; } bits = {x};
    int e = (int)((bits.u >> 23) & 0xffu) - 126;
    bits.u = (bits.u & 0x007fffffu) | 0x3f000000u; /* mantissa in [0.5, 1) */
    float m = bits.f;
    if (m < 0.707106781186547524f) {
        e -= 1;
        m = m + m - 1.0f;
    } else {
        m = m - 1.0f;
    }
    *m_out = m;
    *fe_out = (float)e;
}

/* ln u1 for u1 = (a + ½)·2^−32. Near 1 the float u1 would round away the
 * information, so there ln(1 − d) is taken from d = (2^32 − a − ½)·2^−32
 * itself (exact to a float rounding) through the same kernel, as
 * log_kernel_f(−d, 0). The kernel is a pure function of its arguments, so
 * the arguments are selected and the kernel evaluated once (the same value
 * as evaluating both and selecting the result, at half the work). */
static RNG_ALWAYS_INLINE float log_u01_f(uint32_t a)
{
    const float d = ((float)(~a) + 0.5f) * 0x1p-32f;
    float m, fe;
    log_unit_reduce(((float)a + 0.5f) * 0x1p-32f, &m, &fe);
    const int near_one = d <= 0.29289321881f;
    return log_kernel_f(near_one ? -d : m, near_one ? 0.0f : fe);
}

static RNG_ALWAYS_INLINE void box_muller_f(uint32_t a, uint32_t b, float *z0, float *z1)
{
    const float r = sqrtf(-2.0f * log_u01_f(a));
    const float u2 = (float)(b >> 8) * 0x1p-24f + 0x1p-25f;
    const float qf = (float)(int32_t)(4.0f * u2 + 0.5f); /* 0..4 */
    const int q = (int)qf & 3;
    const float x = (u2 - 0.25f * qf) * 6.28318530717958648f; /* [−π/4, π/4] */
    const float zz = x * x;
    const float s = ((-1.9515295891e-4f * zz + 8.3321608736e-3f) * zz - 1.6666654611e-1f) * zz * x + x;
    const float c = ((2.443315711809948e-5f * zz - 1.388731625493765e-3f) * zz +
                     4.166664568298827e-2f) * zz * zz - 0.5f * zz + 1.0f;
    /* (cos θ, sin θ) from the quadrant: θ = q·π/2 + x. */
    const float cq = q == 0 ? c : q == 1 ? -s : q == 2 ? -c : s;
    const float sq = q == 0 ? s : q == 1 ? c : q == 2 ? -s : -c;
    *z0 = r * cq;
    *z1 = r * sq;
}

typedef void (*philox_soa_fn)(const uint32_t key[2], const uint32_t ctr[4], size_t nb,
                              uint32_t *restrict w0, uint32_t *restrict w1,
                              uint32_t *restrict w2, uint32_t *restrict w3);

static void philox_batch_base(const uint32_t key[2], const uint32_t ctr[4], size_t nb,
                              uint32_t *restrict w0, uint32_t *restrict w1, uint32_t *restrict w2,
                              uint32_t *restrict w3)
{
    philox_batch_body(key, ctr, nb, w0, w1, w2, w3);
}

static RNG_ALWAYS_INLINE void normal_batch_body(const uint32_t key[2], const uint32_t ctr[4],
                                                size_t nb, float *restrict out,
                                                philox_soa_fn philox)
{
    uint32_t w0[BATCH_BLOCKS], w1[BATCH_BLOCKS], w2[BATCH_BLOCKS], w3[BATCH_BLOCKS];
    float z0[BATCH_BLOCKS], z1[BATCH_BLOCKS], z2[BATCH_BLOCKS], z3[BATCH_BLOCKS];
    philox(key, ctr, nb, w0, w1, w2, w3);
    for (size_t b = 0; b < nb; b++) {
        box_muller_f(w0[b], w1[b], &z0[b], &z1[b]);
        box_muller_f(w2[b], w3[b], &z2[b], &z3[b]);
    }
    for (size_t b = 0; b < nb; b++) {
        out[4 * b] = z0[b];
        out[4 * b + 1] = z1[b];
        out[4 * b + 2] = z2[b];
        out[4 * b + 3] = z3[b];
    }
}

static void normal_batch_base(const uint32_t key[2], const uint32_t ctr[4], size_t nb,
                              float *restrict out)
{
    normal_batch_body(key, ctr, nb, out, philox_batch_base);
}

#ifdef RNG_HAVE_AVX2_KERNELS
__attribute__((target("avx2"))) static void normal_batch_avx2(const uint32_t key[2],
                                                              const uint32_t ctr[4], size_t nb,
                                                              float *restrict out)
{
    normal_batch_body(key, ctr, nb, out, philox_batch_avx2);
}

/* philox8_avx2 over 16 lanes (AVX-512F). */
__attribute__((target("avx512f"))) static inline void mulhilo16(__m512i m, __m512i c,
                                                                __m512i *hi, __m512i *lo)
{
    const __m512i even = _mm512_mul_epu32(c, m);
    const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(c, 32), m);
    *lo = _mm512_mask_blend_epi32(0xaaaa, even, _mm512_slli_epi64(odd, 32));
    *hi = _mm512_mask_blend_epi32(0xaaaa, _mm512_srli_epi64(even, 32), odd);
}

/* Philox4x32-10 of 16 consecutive blocks from ctr0, one block per lane. */
__attribute__((target("avx512f"))) static inline void philox16_avx512(const uint32_t key[2],
                                                                      uint32_t ctr0, uint32_t ctr1,
                                                                      uint32_t ctr2, uint32_t ctr3,
                                                                      __m512i out[4])
{
    const __m512i m0 = _mm512_set1_epi32((int)PHILOX_M4x32_0);
    const __m512i m1 = _mm512_set1_epi32((int)PHILOX_M4x32_1);
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512i c0 = _mm512_add_epi32(_mm512_set1_epi32((int)ctr0), lane);
    __m512i c1 = _mm512_set1_epi32((int)ctr1), c2 = _mm512_set1_epi32((int)ctr2);
    __m512i c3 = _mm512_set1_epi32((int)ctr3);
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        __m512i hi0, lo0, hi1, lo1;
        mulhilo16(m0, c0, &hi0, &lo0);
        mulhilo16(m1, c2, &hi1, &lo1);
        c0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32((int)k0));
        c2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32((int)k1));
        c1 = lo1;
        c3 = lo0;
        k0 += PHILOX_W32_0;
        k1 += PHILOX_W32_1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

__attribute__((target("avx512f"))) static void philox_batch_avx512(const uint32_t key[2],
                                                                   const uint32_t ctr[4],
                                                                   size_t nb,
                                                                   uint32_t *restrict w0,
                                                                   uint32_t *restrict w1,
                                                                   uint32_t *restrict w2,
                                                                   uint32_t *restrict w3)
{
    size_t b = 0;
    for (; b + 16 <= nb; b += 16) {
        __m512i c[4];
        philox16_avx512(key, ctr[0] + (uint32_t)b, ctr[1], ctr[2], ctr[3], c);
        _mm512_storeu_si512((void *)(w0 + b), c[0]);
        _mm512_storeu_si512((void *)(w1 + b), c[1]);
        _mm512_storeu_si512((void *)(w2 + b), c[2]);
        _mm512_storeu_si512((void *)(w3 + b), c[3]);
    }
    if (b < nb) {
        const uint32_t rest[4] = {ctr[0] + (uint32_t)b, ctr[1], ctr[2], ctr[3]};
        philox_batch_body(key, rest, nb - b, w0 + b, w1 + b, w2 + b, w3 + b);
    }
}

/* The same body for AVX-512 (F, VL, DQ: 16 float lanes, the native unsigned
 * conversions; FMA is not contracted in ISO C, so the same IEEE operations
 * and the same bits as the other two builds, checked against them). */
__attribute__((target("avx512f,avx512vl,avx512dq"))) static void
normal_batch_avx512(const uint32_t key[2], const uint32_t ctr[4], size_t nb, float *restrict out)
{
    normal_batch_body(key, ctr, nb, out, philox_batch_avx512);
}
#endif

/* nb ≤ BATCH_BLOCKS consecutive blocks from ctr, interleaved as Random123
 * gives them (4 words per block). Integer-only: every build the same bits. */
static RNG_ALWAYS_INLINE void words_batch_body(const uint32_t key[2], const uint32_t ctr[4],
                                               size_t nb, uint32_t *restrict out)
{
    uint32_t w0[BATCH_BLOCKS], w1[BATCH_BLOCKS], w2[BATCH_BLOCKS], w3[BATCH_BLOCKS];
    philox_batch_body(key, ctr, nb, w0, w1, w2, w3);
    for (size_t b = 0; b < nb; b++) {
        out[4 * b] = w0[b];
        out[4 * b + 1] = w1[b];
        out[4 * b + 2] = w2[b];
        out[4 * b + 3] = w3[b];
    }
}

static void words_batch_base(const uint32_t key[2], const uint32_t ctr[4], size_t nb,
                             uint32_t *restrict out)
{
    words_batch_body(key, ctr, nb, out);
}

#if defined(__GNUC__) && defined(__x86_64__)
/* 8 blocks per step, transposed from one block per lane to Random123's
 * order (4 words per block) in registers. */
__attribute__((target("avx2"))) static void words_batch_avx2(const uint32_t key[2],
                                                             const uint32_t ctr[4], size_t nb,
                                                             uint32_t *restrict out)
{
    size_t b = 0;
    for (; b + 8 <= nb; b += 8) {
        __m256i c[4];
        philox8_avx2(key, ctr[0] + (uint32_t)b, ctr[1], ctr[2], ctr[3], c);
        const __m256i t0 = _mm256_unpacklo_epi32(c[0], c[1]); /* blocks 0 1 | 4 5, words 0 1 */
        const __m256i t1 = _mm256_unpackhi_epi32(c[0], c[1]); /* blocks 2 3 | 6 7 */
        const __m256i t2 = _mm256_unpacklo_epi32(c[2], c[3]); /* words 2 3 */
        const __m256i t3 = _mm256_unpackhi_epi32(c[2], c[3]);
        const __m256i u0 = _mm256_unpacklo_epi64(t0, t2); /* block 0 | block 4 */
        const __m256i u1 = _mm256_unpackhi_epi64(t0, t2); /* block 1 | block 5 */
        const __m256i u2 = _mm256_unpacklo_epi64(t1, t3); /* block 2 | block 6 */
        const __m256i u3 = _mm256_unpackhi_epi64(t1, t3); /* block 3 | block 7 */
        __m256i *o = (__m256i *)(out + 4 * b);
        _mm256_storeu_si256(o, _mm256_permute2x128_si256(u0, u1, 0x20));
        _mm256_storeu_si256(o + 1, _mm256_permute2x128_si256(u2, u3, 0x20));
        _mm256_storeu_si256(o + 2, _mm256_permute2x128_si256(u0, u1, 0x31));
        _mm256_storeu_si256(o + 3, _mm256_permute2x128_si256(u2, u3, 0x31));
    }
    if (b < nb) {
        const uint32_t rest[4] = {ctr[0] + (uint32_t)b, ctr[1], ctr[2], ctr[3]};
        words_batch_body(key, rest, nb - b, out + 4 * b);
    }
}
#endif

typedef void (*words_batch_fn)(const uint32_t *, const uint32_t *, size_t, uint32_t *);

static words_batch_fn words_batch_kernel(void)
{
#if defined(__GNUC__) && defined(__x86_64__)
    if (__builtin_cpu_supports("avx2"))
        return words_batch_avx2;
#endif
    return words_batch_base;
}

void mx_rng_philox_words(mx_rng *r, uint32_t *out, size_t n_blocks)
{
    const words_batch_fn batch = words_batch_kernel();
    while (n_blocks > 0) {
        const size_t nb = n_blocks < BATCH_BLOCKS ? n_blocks : BATCH_BLOCKS;
        batch(r->key, r->ctr, nb, out);
        r->ctr[0] += (uint32_t)nb;
        out += 4 * nb;
        n_blocks -= nb;
    }
    r->pos = 4;
}

void mx_rng_u32_fill(mx_rng *r, uint32_t *out, size_t n)
{
    size_t i = 0;
    while (i < n && r->pos < 4) /* the rest of the current block first */
        out[i++] = r->buf[r->pos++];
    const size_t whole = (n - i) / 4;
    if (whole > 0) { /* leaves pos = 4: the next word starts a new block, as it would */
        mx_rng_philox_words(r, out + i, whole);
        i += 4 * whole;
    }
    if (i < n) { /* 1..3 words of one more block, the rest kept for the next draw */
        mx_rng_refill(r);
        while (i < n)
            out[i++] = r->buf[r->pos++];
    }
}

void mx_rng_normal_fill_fast(mx_rng *r, float *out, size_t n)
{
    void (*batch)(const uint32_t *, const uint32_t *, size_t, float *) = normal_batch_base;
#if defined(__GNUC__) && defined(__x86_64__)
    if (__builtin_cpu_supports("avx2"))
        batch = normal_batch_avx2;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq"))
        batch = normal_batch_avx512;
#endif
    float tail[4];
    while (n > 0) {
        const size_t whole = n / 4 < BATCH_BLOCKS ? n / 4 : BATCH_BLOCKS;
        if (whole > 0) {
            batch(r->key, r->ctr, whole, out);
            r->ctr[0] += (uint32_t)whole;
            out += 4 * whole;
            n -= 4 * whole;
        } else { /* 1..3 left: one more block, the rest of it unused */
            batch(r->key, r->ctr, 1, tail);
            r->ctr[0] += 1;
            for (size_t i = 0; i < n; i++)
                out[i] = tail[i];
            n = 0;
        }
    }
    r->pos = 4;
}

/* ---- one word per normal: mx_rng_normal_fill_icdf ------------------------------------
 *
 * z = Φ⁻¹ of a 32-bit word, evaluated as a piecewise polynomial: the word's
 * top bit is the sign, the other 31 bits m give the two-sided tail
 * probability t = (m + ½)·2^−31 ∈ (0, 1) (the float rounding of m + ½;
 * exact for m < 2^23, i.e. throughout the tails), and |z| = Φ⁻¹(1 − t/2) =
 * √2·erfc⁻¹(t). t's float exponent picks one of 32 segments, t ∈
 * [2^−k−1, 2^−k) for k = 0 … 31, and on each a degree-7 polynomial in the
 * mantissa, x = 2^(k+1)·t − 1.5 ∈ [−½, ½), gives |z| by Horner's scheme in
 * float with fused multiply-adds (fmaf: one rounding per step, so the same
 * bits from the AVX-512 and AVX2 instructions and from libm's correctly
 * rounded fmaf in the baseline build). The coefficients are Chebyshev
 * least-squares fits of the exact quantile (scipy.special.ndtri in double,
 * 4 000 Chebyshev nodes per segment, converted to the power basis and
 * rounded to float), made once offline: evaluated this way they are within
 * 2 float ulps of the exact |z| on every segment but the first (k = 0,
 * |z| ≤ 0.674: within 1.4e-7 absolute), checked over 2^15 mantissas per
 * segment; tests/test_rng.c finds at most 2.3 ulps of max(|z|, ½) against
 * GSL's quantile (bound 3). This is
 * inversion, not rejection (a ziggurat would reject and redraw about 1 %
 * of the time): one word per normal, always, so a fill's draw count is
 * fixed and the stream position never depends on the values. The range is
 * |z| ≤ Φ⁻¹(1 − 2^−33) = 6.34 (P(|z| > 6.34) = 2.3e-10 is lost; Box-Muller
 * on 32-bit uniforms stops at 6.77). Compared with Box-Muller (one word per
 * normal too) it replaces log, sqrt, sin and cos by one table index and 7
 * multiply-adds; with 32 segments each coefficient column fits two AVX-512
 * registers, so the table lookup is one in-register permute (vpermt2ps)
 * per coefficient instead of a gather. On this machine (Zen 4, one core)
 * the fill costs ≈ 0.95 ns per normal against 1.5 ns for
 * mx_rng_normal_fill_fast, of which ≈ 0.56 ns is the Philox word itself.
 *
 * Only integer operations, int → float conversion, IEEE ×, + and fma and a
 * compare, so every build gives the same bits; tests/test_rng.c checks the
 * fill against mx_normal_from_u32 (the scalar, libm-fmaf build) of the same
 * words, and the distribution (Kolmogorov–Smirnov, tails, moments). */

#define ICDF_DEGREE 7
#define ICDF_T_MAX 0x1.fffffep-1f /* t rounds to 1 for m ≥ 2^31 − 64: kept in segment 0 */

/* icdf_coef[i][k]: the coefficient of x^i on segment k (fitted offline,
 * see above; scripts/fit_normal_icdf.py prints this table). */
static const float icdf_coef[ICDF_DEGREE + 1][32] = {
    {/* x^0 */
     3.1863928e-01f, 8.871465e-01f, 1.3180108e+00f, 1.6759397e+00f, 1.9874278e+00f,
     2.2662268e+00f, 2.520502e+00f, 2.7555487e+00f, 2.9750206e+00f, 3.1815596e+00f,
     3.3771458e+00f, 3.5633078e+00f, 3.7412524e+00f, 3.911953e+00f, 4.0762067e+00f,
     4.2346754e+00f, 4.387918e+00f, 4.536408e+00f, 4.680553e+00f, 4.820706e+00f,
     4.957175e+00f, 5.090231e+00f, 5.220113e+00f, 5.3470345e+00f, 5.4711857e+00f,
     5.592737e+00f, 5.7118435e+00f, 5.8286448e+00f, 5.943267e+00f, 6.0558267e+00f,
     6.1664295e+00f, 6.2751727e+00f},
    {/* x^1 */
     -6.592908e-01f, -4.6440935e-01f, -3.7341148e-01f, -3.190489e-01f, -2.822364e-01f,
     -2.5532952e-01f, -2.3462336e-01f, -2.1808685e-01f, -2.0450564e-01f, -1.9310518e-01f,
     -1.8336602e-01f, -1.7492563e-01f, -1.6752249e-01f, -1.6096285e-01f, -1.5509969e-01f,
     -1.4981931e-01f, -1.4503223e-01f, -1.4066695e-01f, -1.3666561e-01f, -1.3298081e-01f,
     -1.295733e-01f, -1.264103e-01f, -1.2346417e-01f, -1.20711416e-01f, -1.18131965e-01f,
     -1.15708515e-01f, -1.13426074e-01f, -1.112716e-01f, -1.0923364e-01f, -1.0730215e-01f,
     -1.05468236e-01f, -1.0372401e-01f},
    {/* x^2 */
     6.925981e-02f, 9.567681e-02f, 9.189725e-02f, 8.530636e-02f, 7.916378e-02f,
     7.3878005e-02f, 6.938089e-02f, 6.553568e-02f, 6.221738e-02f, 5.9325222e-02f,
     5.6780513e-02f, 5.4522056e-02f, 5.250197e-02f, 5.068243e-02f, 4.9033254e-02f,
     4.753009e-02f, 4.615307e-02f, 4.4885848e-02f, 4.3714847e-02f, 4.2628694e-02f,
     4.1617773e-02f, 4.0673923e-02f, 3.9790142e-02f, 3.896041e-02f, 3.8179494e-02f,
     3.744286e-02f, 3.6746513e-02f, 3.6086958e-02f, 3.5461098e-02f, 3.4866188e-02f,
     3.4299783e-02f, 3.3759702e-02f},
    {/* x^3 */
     -5.7470873e-02f, -4.298014e-02f, -3.8836334e-02f, -3.5827793e-02f, -3.3355612e-02f,
     -3.127816e-02f, -2.9510384e-02f, -2.7988927e-02f, -2.666543e-02f, -2.5502818e-02f,
     -2.4472464e-02f, -2.3552058e-02f, -2.272402e-02f, -2.1974333e-02f, -2.1291712e-02f,
     -2.0666962e-02f, -2.0092528e-02f, -1.9562136e-02f, -1.9070541e-02f, -1.8613314e-02f,
     -1.8186698e-02f, -1.7787471e-02f, -1.7412871e-02f, -1.7060498e-02f, -1.6728267e-02f,
     -1.6414354e-02f, -1.6117156e-02f, -1.5835255e-02f, -1.5567401e-02f, -1.5312474e-02f,
     -1.5069478e-02f, -1.4837519e-02f},
    {/* x^4 */
     1.8906986e-02f, 1.998719e-02f, 1.8446364e-02f, 1.7112432e-02f, 1.5992988e-02f,
     1.5045342e-02f, 1.4234108e-02f, 1.3531972e-02f, 1.2918015e-02f, 1.2376154e-02f,
     1.1893914e-02f, 1.1461519e-02f, 1.1071216e-02f, 1.0716792e-02f, 1.0393213e-02f,
     1.0096354e-02f, 9.822814e-03f, 9.56975e-03f, 9.334778e-03f, 9.1158785e-03f,
     8.911328e-03f, 8.719651e-03f, 8.539569e-03f, 8.369975e-03f, 8.209903e-03f,
     8.058505e-03f, 7.915034e-03f, 7.77883e-03f, 7.6493057e-03f, 7.525939e-03f,
     7.4082618e-03f, 7.2958535e-03f},
    {/* x^5 */
     -1.2222677e-02f, -1.03182085e-02f, -9.513676e-03f, -8.850284e-03f, -8.292725e-03f,
     -7.818786e-03f, -7.411337e-03f, -7.0572603e-03f, -6.7465114e-03f, -6.4713457e-03f,
     -6.2257336e-03f, -6.004928e-03f, -5.8051487e-03f, -5.6233522e-03f, -5.457063e-03f,
     -5.304246e-03f, -5.1632146e-03f, -5.0325585e-03f, -4.911088e-03f, -4.797794e-03f,
     -4.6918127e-03f, -4.5924033e-03f, -4.4989223e-03f, -4.4108112e-03f, -4.327582e-03f,
     -4.2488053e-03f, -4.174103e-03f, -4.103139e-03f, -4.035615e-03f, -3.971265e-03f,
     -3.9098505e-03f, -3.851157e-03f},
    {/* x^6 */
     6.967597e-03f, 6.6945283e-03f, 6.198508e-03f, 5.7832273e-03f, 5.4326486e-03f,
     5.1333155e-03f, 4.874865e-03f, 4.6493723e-03f, 4.4507566e-03f, 4.2743143e-03f,
     4.116366e-03f, 3.9740023e-03f, 3.844897e-03f, 3.7271685e-03f, 3.61928e-03f,
     3.5199644e-03f, 3.428167e-03f, 3.3430036e-03f, 3.2637261e-03f, 3.1896979e-03f,
     3.1203735e-03f, 3.0552824e-03f, 2.994017e-03f, 2.9362217e-03f, 2.881585e-03f,
     2.8298327e-03f, 2.780723e-03f, 2.7340406e-03f, 2.6895942e-03f, 2.647213e-03f,
     2.6067428e-03f, 2.5680463e-03f},
    {/* x^7 */
     -4.308448e-03f, -3.8614855e-03f, -3.581951e-03f, -3.3479705e-03f, -3.1498957e-03f,
     -2.9802895e-03f, -2.8334488e-03f, -2.7050136e-03f, -2.5916328e-03f, -2.490707e-03f,
     -2.4001976e-03f, -2.318488e-03f, -2.2442813e-03f, -2.1765265e-03f, -2.1143625e-03f,
     -2.0570778e-03f, -2.004079e-03f, -1.9548673e-03f, -1.9090204e-03f, -1.8661779e-03f,
     -1.8260306e-03f, -1.7883114e-03f, -1.7527887e-03f, -1.7192601e-03f, -1.6875481e-03f,
     -1.6574964e-03f, -1.6289669e-03f, -1.6018364e-03f, -1.5759957e-03f, -1.5513466e-03f,
     -1.5278014e-03f, -1.5052807e-03f},
};

static RNG_ALWAYS_INLINE float icdf_normal_f(uint32_t w)
{
    const float t0 = ((float)(int32_t)(w & 0x7fffffffu) + 0.5f) * 0x1p-31f;
    const float t = t0 < ICDF_T_MAX ? t0 : ICDF_T_MAX;
    union { float f; uint32_t u; } bits = {t};
    const uint32_t k = 126u - (bits.u >> 23); /* t ∈ [2^−32, 1): 0 … 31 */
    bits.u = (bits.u & 0x007fffffu) | 0x3f800000u;
    const float x = bits.f - 1.5f;
    float y = icdf_coef[7][k];
    for (int i = ICDF_DEGREE - 1; i >= 0; i--)
        y = fmaf(y, x, icdf_coef[i][k]);
    union { float f; uint32_t u; } z = {y};
    z.u ^= w & 0x80000000u;
    return z.f;
}

float mx_normal_from_u32(uint32_t w) { return icdf_normal_f(w); }

/* nb ≤ BATCH_BLOCKS blocks from ctr: their words (words_batch_*), then the
 * transform word by word. */
static RNG_ALWAYS_INLINE void icdf_batch_body(const uint32_t key[2], const uint32_t ctr[4],
                                              size_t nb, float *restrict out,
                                              void (*words)(const uint32_t *, const uint32_t *,
                                                            size_t, uint32_t *))
{
    uint32_t wd[4 * BATCH_BLOCKS];
    words(key, ctr, nb, wd);
    for (size_t i = 0; i < 4 * nb; i++)
        out[i] = icdf_normal_f(wd[i]);
}

static void icdf_batch_base(const uint32_t key[2], const uint32_t ctr[4], size_t nb,
                            float *restrict out)
{
    icdf_batch_body(key, ctr, nb, out, words_batch_base);
}

#if defined(__GNUC__) && defined(__x86_64__)
__attribute__((target("avx2,fma"))) static void icdf_batch_avx2(const uint32_t key[2],
                                                            const uint32_t ctr[4], size_t nb,
                                                            float *restrict out)
{
    icdf_batch_body(key, ctr, nb, out, words_batch_avx2);
}

/* icdf_normal_f on 16 words; lo[i], hi[i] = icdf_coef[i][0..15], [16..31]. */
__attribute__((target("avx512f,avx512vl,avx512dq"))) static inline __m512
icdf16_avx512(__m512i w, const __m512 lo[ICDF_DEGREE + 1], const __m512 hi[ICDF_DEGREE + 1])
{
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    const __m512 t0 = _mm512_mul_ps(_mm512_add_ps(_mm512_cvtepi32_ps(_mm512_andnot_si512(sign, w)),
                                                  _mm512_set1_ps(0.5f)),
                                    _mm512_set1_ps(0x1p-31f));
    const __m512i bits = _mm512_castps_si512(_mm512_min_ps(t0, _mm512_set1_ps(ICDF_T_MAX)));
    const __m512i k = _mm512_sub_epi32(_mm512_set1_epi32(126), _mm512_srli_epi32(bits, 23));
    const __m512 x = _mm512_sub_ps(
        _mm512_castsi512_ps(_mm512_or_si512(_mm512_and_si512(bits, _mm512_set1_epi32(0x007fffff)),
                                            _mm512_set1_epi32(0x3f800000))),
        _mm512_set1_ps(1.5f));
    __m512 y = _mm512_permutex2var_ps(lo[7], k, hi[7]);
    for (int i = ICDF_DEGREE - 1; i >= 0; i--)
        y = _mm512_fmadd_ps(y, x, _mm512_permutex2var_ps(lo[i], k, hi[i]));
    return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(y), _mm512_and_si512(w, sign)));
}

/* 16 blocks from ctr0: transposed in registers from one block per lane to
 * Random123's word order, transformed, stored to o[0..64). */
__attribute__((target("avx512f,avx512vl,avx512dq"))) static inline void
icdf64_avx512(const uint32_t key[2], const uint32_t ctr[4], uint32_t ctr0, const __m512 lo[],
              const __m512 hi[], float *o)
{
    __m512i c[4];
    philox16_avx512(key, ctr0, ctr[1], ctr[2], ctr[3], c);
    /* 4 × 16 → 16 × 4: within each 128-bit lane q, blocks 4q … 4q + 3 ... */
    const __m512i t0 = _mm512_unpacklo_epi32(c[0], c[1]);
    const __m512i t1 = _mm512_unpackhi_epi32(c[0], c[1]);
    const __m512i t2 = _mm512_unpacklo_epi32(c[2], c[3]);
    const __m512i t3 = _mm512_unpackhi_epi32(c[2], c[3]);
    const __m512i u0 = _mm512_unpacklo_epi64(t0, t2); /* block 4q in lane q */
    const __m512i u1 = _mm512_unpackhi_epi64(t0, t2); /* block 4q + 1 */
    const __m512i u2 = _mm512_unpacklo_epi64(t1, t3); /* block 4q + 2 */
    const __m512i u3 = _mm512_unpackhi_epi64(t1, t3); /* block 4q + 3 */
    /* ... then the 4 × 4 transpose of 128-bit lanes. */
    const __m512i a = _mm512_shuffle_i32x4(u0, u1, 0x44);
    const __m512i b = _mm512_shuffle_i32x4(u2, u3, 0x44);
    const __m512i cc = _mm512_shuffle_i32x4(u0, u1, 0xee);
    const __m512i d = _mm512_shuffle_i32x4(u2, u3, 0xee);
    _mm512_storeu_ps(o, icdf16_avx512(_mm512_shuffle_i32x4(a, b, 0x88), lo, hi));
    _mm512_storeu_ps(o + 16, icdf16_avx512(_mm512_shuffle_i32x4(a, b, 0xdd), lo, hi));
    _mm512_storeu_ps(o + 32, icdf16_avx512(_mm512_shuffle_i32x4(cc, d, 0x88), lo, hi));
    _mm512_storeu_ps(o + 48, icdf16_avx512(_mm512_shuffle_i32x4(cc, d, 0xdd), lo, hi));
}

/* Any nb, 16 blocks per step; the last, partial step computes 16 blocks
 * and keeps the first nb mod 16 (the caller advances the counter by nb). */
__attribute__((target("avx512f,avx512vl,avx512dq"))) static void
icdf_blocks_avx512(const uint32_t key[2], const uint32_t ctr[4], size_t nb, float *restrict out)
{
    __m512 lo[ICDF_DEGREE + 1], hi[ICDF_DEGREE + 1];
    for (int i = 0; i <= ICDF_DEGREE; i++) {
        lo[i] = _mm512_loadu_ps(icdf_coef[i]);
        hi[i] = _mm512_loadu_ps(icdf_coef[i] + 16);
    }
    size_t b = 0;
    for (; b + 16 <= nb; b += 16)
        icdf64_avx512(key, ctr, ctr[0] + (uint32_t)b, lo, hi, out + 4 * b);
    if (b < nb) {
        float last[64];
        icdf64_avx512(key, ctr, ctr[0] + (uint32_t)b, lo, hi, last);
        for (size_t i = 0; i < 4 * (nb - b); i++)
            out[4 * b + i] = last[i];
    }
}
#endif

void mx_rng_normal_fill_icdf(mx_rng *r, float *out, size_t n)
{
    void (*batch)(const uint32_t *, const uint32_t *, size_t, float *) = icdf_batch_base;
#if defined(__GNUC__) && defined(__x86_64__)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        batch = icdf_batch_avx2;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq"))
        batch = icdf_blocks_avx512;
#endif
    const size_t batch_blocks = batch == icdf_batch_base || batch == icdf_batch_avx2
                                    ? BATCH_BLOCKS /* their word buffer */
                                    : SIZE_MAX / 4;
    float tail[4];
    while (n > 0) {
        const size_t whole = n / 4 < batch_blocks ? n / 4 : batch_blocks;
        if (whole > 0) {
            batch(r->key, r->ctr, whole, out);
            r->ctr[0] += (uint32_t)whole;
            out += 4 * whole;
            n -= 4 * whole;
        } else { /* 1..3 left: one more block, the rest of it unused */
            batch(r->key, r->ctr, 1, tail);
            r->ctr[0] += 1;
            for (size_t i = 0; i < n; i++)
                out[i] = tail[i];
            n = 0;
        }
    }
    r->pos = 4;
}
