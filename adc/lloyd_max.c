/* SPDX-License-Identifier: MIT
 *
 * lloyd_max.c: quantisers fitted to data — the sorted-sample machinery
 * (prefix sums, so a cell's count and sum cost two binary searches) that
 * calibration/ uses for the MSE of any transfer curve, and the Lloyd–Max
 * algorithm that designs the lloyd-max ADC's thresholds and levels from the
 * profiled column currents.
 *
 * Lloyd–Max (Lloyd 1957/1982, "Least squares quantization in PCM"; Max
 * 1960, "Quantizing for minimum distortion", IRE Trans. Inf. Theory 6:7).
 * A quantiser with levels y_0 < … < y_{N−1} and thresholds t_k minimises
 * the mean squared error E[(X − Q(X))²] only if
 *     t_k = (y_k + y_{k+1})/2            (each input goes to its nearest level)
 *     y_k = E[X | t_{k−1} ≤ X < t_k]     (each level is its cell's centroid),
 * and iterating the two conditions never increases the error. Choices:
 * - Full asymmetric: all N = 2^bits levels are free, not mirrored about 0:
 *   column currents of a converted SNN are skewed (ReLU-trained weights,
 *   one-sided spikes), and the fit should follow them. On symmetric data
 *   it comes out symmetric by itself (the Gaussian test checks this).
 * - Initialisation at the equal-probability levels: y_k = the sample
 *   quantile at (k + 1/2)/N (the Gaussian: Φ⁻¹((k + 1/2)/N)); every cell
 *   starts with ≈ n/N samples, so none starts empty. Repeated sample values
 *   (quantised devices give many) could start two levels on one value; such
 *   a level is moved up to the next larger sample value, so levels start
 *   strictly increasing wherever the data has enough distinct values.
 *   Lloyd's iteration only finds a local optimum, and on heavy-tailed data
 *   at 7–8 bits the quantile start can end worse than the best uniform
 *   quantiser (the tails get too few levels and a sparse tail's partition
 *   freezes). A caller can pass its own start instead: calibration/ runs
 *   both the quantile start and the MSE-optimal uniform quantiser and keeps
 *   the better, so a fitted ADC never loses to the uniform one on the
 *   calibration data.
 * - Stopping on samples: when no threshold crosses a sample between two
 *   rounds, the partition — hence every centroid — is a fixed point: exact
 *   convergence in finitely many rounds. Also stopped when no level moves by
 *   more than 1e-12 of the level span (a fixed point to rounding), or after
 *   LLOYD_MAX_ITERATIONS rounds (info.converged = 0; the result is still
 *   the best quantiser found, the error never rises). An empty cell keeps
 *   its level.
 * - On the Gaussian density the centroid of [a, b) is (φ(a) − φ(b)) /
 *   (Φ(b) − Φ(a)) in closed form (GSL's Φ, with the upper tail from Q for
 *   accuracy); rounds stop when no level moves by more than 1e-13 σ.
 */
#include "adc/adc.h"

#include <math.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>

#define LLOYD_MAX_ITERATIONS 100000
#define LLOYD_MAX_SAMPLE_TOL 1e-12  /* of the level span */
#define LLOYD_MAX_GAUSSIAN_TOL 1e-13 /* σ */
#define LLOYD_MAX_GAUSSIAN_ITERATIONS 2000000

/* ---- sorted samples ------------------------------------------------------------ */

/* Order-preserving map of a float's bits to an unsigned key: negative
 * numbers flip every bit, the others only the sign bit. */
static uint32_t float_key(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (u & 0x80000000u) ? ~u : u | 0x80000000u;
}

static float key_float(uint32_t k)
{
    uint32_t u = (k & 0x80000000u) ? k & 0x7fffffffu : ~k;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* LSD radix sort of the keys, 11 + 11 + 10 bits: O(n), where a comparison
 * sort of the calibration's millions of currents would dominate it. */
static mx_status radix_sort(float *x, size_t n)
{
    uint32_t *a = mx_alloc(mx_size_mul(n, sizeof(uint32_t)));
    uint32_t *b = mx_alloc(mx_size_mul(n, sizeof(uint32_t)));
    if (!a || !b) {
        mx_free(a);
        mx_free(b);
        return mx_fail(MX_ENOMEM, "ADC fit: out of memory sorting %zu samples", n);
    }
    for (size_t i = 0; i < n; i++)
        a[i] = float_key(x[i]);
    static const unsigned shift[3] = {0, 11, 22};
    for (int p = 0; p < 3; p++) {
        size_t count[2048] = {0};
        const unsigned s = shift[p];
        for (size_t i = 0; i < n; i++)
            count[(a[i] >> s) & 2047u]++;
        size_t sum = 0;
        for (size_t d = 0; d < 2048; d++) {
            const size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            b[count[(a[i] >> s) & 2047u]++] = a[i];
        uint32_t *t = a;
        a = b;
        b = t;
    }
    for (size_t i = 0; i < n; i++)
        x[i] = key_float(a[i]);
    mx_free(a);
    mx_free(b);
    return MX_OK;
}

mx_status mx_adc_samples_prepare(float *x, size_t n, mx_adc_samples *s)
{
    memset(s, 0, sizeof *s);
    if (n == 0)
        return mx_fail(MX_EINVAL, "ADC fit: expected at least one sample, got none");
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return mx_fail(MX_EINVAL, "ADC fit: sample %zu is %g, expected a finite current", i,
                           (double)x[i]);
    mx_status st = radix_sort(x, n);
    if (st)
        return st;
    double *prefix = mx_alloc(mx_size_mul(n + 1, sizeof(double)));
    if (!prefix)
        return mx_fail(MX_ENOMEM, "ADC fit: out of memory for %zu samples", n);
    double sum = 0.0, sum_sq = 0.0;
    prefix[0] = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double v = (double)x[i];
        sum += v;
        sum_sq += v * v;
        prefix[i + 1] = sum;
    }
    *s = (mx_adc_samples){.x = x, .n = n, .prefix = prefix, .sum_sq = sum_sq};
    return MX_OK;
}

void mx_adc_samples_free(mx_adc_samples *s)
{
    if (!s)
        return;
    mx_free(s->prefix);
    memset(s, 0, sizeof *s);
}

/* First index whose sample is ≥ t (n if none): the cell boundary of
 * threshold t under the "x ≥ t goes up" convention of every ADC. */
static size_t lower_bound(const mx_adc_samples *s, double t)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if ((double)s->x[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* First index whose sample is > v. */
static size_t upper_bound(const mx_adc_samples *s, double v)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if ((double)s->x[mid] <= v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

double mx_adc_samples_mse(const mx_adc_samples *s, const double *t, const double *y,
                          size_t n_levels)
{
    /* Σ (x − y_c)² = Σx² + Σ_cells (n_c·y_c² − 2·y_c·Σ_c x): the squares'
     * total is shared by every curve, each cell costs one binary search. */
    double acc = 0.0;
    size_t i0 = 0;
    for (size_t c = 0; c < n_levels; c++) {
        const size_t i1 = c + 1 < n_levels ? lower_bound(s, t[c]) : s->n;
        if (i1 > i0) {
            const double cnt = (double)(i1 - i0), sum = s->prefix[i1] - s->prefix[i0];
            acc += y[c] * (cnt * y[c] - 2.0 * sum);
        }
        i0 = i1 > i0 ? i1 : i0;
    }
    const double mse = (s->sum_sq + acc) / (double)s->n;
    return mse > 0.0 ? mse : 0.0; /* cancellation when the error is ~0 */
}

/* ---- Lloyd–Max on samples ---------------------------------------------------------- */

static mx_status check_bits(int bits)
{
    if (bits < 1 || bits > MX_ADC_LLOYD_MAX_MAX_BITS)
        return mx_fail(MX_EINVAL, "hardware.adc.bits: a lloyd-max ADC fits 2^bits levels, "
                                  "expected 1..%d bits, got %d",
                       MX_ADC_LLOYD_MAX_MAX_BITS, bits);
    return MX_OK;
}

mx_status mx_adc_lloyd_max_samples(const mx_adc_samples *s, int bits, const double *init,
                                   double *threshold, double *level, mx_lloyd_max_info *info)
{
    mx_status st = check_bits(bits);
    if (st)
        return st;
    const size_t nl = (size_t)1 << bits, n = s->n;
    size_t *cut = mx_alloc(2 * nl * sizeof(size_t)); /* this round's and the last's */
    if (!cut)
        return mx_fail(MX_ENOMEM, "ADC fit: out of memory");
    size_t *prev = cut + nl;
    for (size_t k = 0; k < nl; k++) {
        if (init) {
            level[k] = init[k];
            continue;
        }
        const size_t q = (size_t)(((double)k + 0.5) * (double)n / (double)nl);
        level[k] = (double)s->x[q < n ? q : n - 1];
        if (k > 0 && level[k] <= level[k - 1]) {
            const size_t j = upper_bound(s, level[k - 1]);
            level[k] = j < n ? (double)s->x[j] : level[k - 1];
        }
    }
    size_t it = 0;
    int converged = 0;
    for (; it < LLOYD_MAX_ITERATIONS; it++) {
        for (size_t k = 0; k + 1 < nl; k++) {
            threshold[k] = 0.5 * (level[k] + level[k + 1]);
            cut[k] = lower_bound(s, threshold[k]);
        }
        if (it > 0 && memcmp(cut, prev, (nl - 1) * sizeof(size_t)) == 0) {
            converged = 1; /* same partition: the levels are its centroids already */
            break;
        }
        memcpy(prev, cut, (nl - 1) * sizeof(size_t));
        double moved = 0.0;
        size_t i0 = 0;
        for (size_t c = 0; c < nl; c++) {
            const size_t i1 = c + 1 < nl ? cut[c] : n;
            if (i1 > i0) {
                const double y = (s->prefix[i1] - s->prefix[i0]) / (double)(i1 - i0);
                moved = fmax(moved, fabs(y - level[c]));
                level[c] = y;
            }
            i0 = i1 > i0 ? i1 : i0;
        }
        if (moved <= LLOYD_MAX_SAMPLE_TOL * (level[nl - 1] - level[0])) {
            converged = 1;
            it++;
            break;
        }
    }
    for (size_t k = 0; k + 1 < nl; k++)
        threshold[k] = 0.5 * (level[k] + level[k + 1]);
    mx_free(cut);
    if (info)
        *info = (mx_lloyd_max_info){.iterations = it,
                                    .converged = converged,
                                    .mse = mx_adc_samples_mse(s, threshold, level, nl)};
    return MX_OK;
}

/* ---- Lloyd–Max on the standard normal density ---------------------------------- */

static double phi(double x) { return isinf(x) ? 0.0 : gsl_ran_ugaussian_pdf(x); }

/* P(a ≤ X < b), from the tail that keeps its digits. */
static double gauss_mass(double a, double b)
{
    if (a >= 0.0)
        return (isinf(a) ? 0.0 : gsl_cdf_ugaussian_Q(a)) -
               (isinf(b) ? 0.0 : gsl_cdf_ugaussian_Q(b));
    return (isinf(b) ? 1.0 : gsl_cdf_ugaussian_P(b)) - (isinf(a) ? 0.0 : gsl_cdf_ugaussian_P(a));
}

/* x·φ(x), 0 at ±∞. */
static double x_phi(double x) { return isinf(x) ? 0.0 : x * phi(x); }

mx_status mx_adc_lloyd_max_gaussian(int bits, double *threshold, double *level,
                                    mx_lloyd_max_info *info)
{
    mx_status st = check_bits(bits);
    if (st)
        return st;
    const size_t nl = (size_t)1 << bits;
    for (size_t k = 0; k < nl; k++)
        level[k] = gsl_cdf_ugaussian_Pinv(((double)k + 0.5) / (double)nl);
    size_t it = 0;
    int converged = 0;
    while (it < LLOYD_MAX_GAUSSIAN_ITERATIONS) {
        for (size_t k = 0; k + 1 < nl; k++)
            threshold[k] = 0.5 * (level[k] + level[k + 1]);
        double moved = 0.0;
        for (size_t c = 0; c < nl; c++) {
            const double a = c ? threshold[c - 1] : -HUGE_VAL;
            const double b = c + 1 < nl ? threshold[c] : HUGE_VAL;
            const double m0 = gauss_mass(a, b);
            if (m0 > 0.0) {
                const double y = (phi(a) - phi(b)) / m0;
                moved = fmax(moved, fabs(y - level[c]));
                level[c] = y;
            }
        }
        it++;
        if (moved <= LLOYD_MAX_GAUSSIAN_TOL) {
            converged = 1;
            break;
        }
    }
    for (size_t k = 0; k + 1 < nl; k++)
        threshold[k] = 0.5 * (level[k] + level[k + 1]);
    if (info) {
        /* E[(X − y)²] over a cell: M2 − 2y·M1 + y²·M0 with M0 the mass,
         * M1 = φ(a) − φ(b), M2 = M0 + aφ(a) − bφ(b). */
        double mse = 0.0;
        for (size_t c = 0; c < nl; c++) {
            const double a = c ? threshold[c - 1] : -HUGE_VAL;
            const double b = c + 1 < nl ? threshold[c] : HUGE_VAL;
            const double m0 = gauss_mass(a, b), m1 = phi(a) - phi(b);
            const double m2 = m0 + x_phi(a) - x_phi(b);
            mse += m2 - 2.0 * level[c] * m1 + level[c] * level[c] * m0;
        }
        *info = (mx_lloyd_max_info){.iterations = it, .converged = converged, .mse = mse};
    }
    return MX_OK;
}
