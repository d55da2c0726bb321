/* SPDX-License-Identifier: MIT
 *
 * test_fault_map.c: fault-aware mapping (hardware.fault_mapping;
 * crossbar/fault_map.c, crossbar/matmul.c) against closed forms and
 * independent references: the assignment solver against brute force; the
 * cell test against the stuck cells programming itself reveals (the same
 * physical cells, with and without read noise); partner compensation
 * against its per-pair closed form; row permutation restoring W·x exactly
 * on a matrix built so that an error-free layout exists; spare columns
 * against a brute-force search over every placement, and the forward pass
 * against W·x with the effective weights of the chosen placement. Also
 * thread independence (1 and 2 threads, with write-verify and with a drift
 * reference), mode none leaving everything as it was, every documented
 * error, and clean MX_ENOMEM at every allocation of the create path.
 */
#include "tests/support/mx_test.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "adc/adc.h"
#include "core/core.h"
#include "core/rng.h"
#include "crossbar/crossbar.h"
#include "crossbar/fault_map.h"
#include "devices/devices.h"

#define SEED 424242u
/* Relative tolerance of an ideal crossbar against W·x in double: float
 * conductances and currents (ε ≈ 6e-8) summed over ≤ 16 rows; 1e-5 leaves
 * two orders of magnitude of margin (as test_crossbar.c's IDEAL_REL_TOL). */
#define IDEAL_REL_TOL 1e-5
/* Squared relative weight error that counts as 0: the float rounding of a
 * target at g_max (≈ 2^-24 of it, relative to the window ≈ 1.2·2^-24),
 * squared and summed over ≤ 100 weights, is below 1e-12. */
#define ZERO_SQ_ERROR 1e-12

typedef struct setup {
    mx_crossbar_config xbar;
    mx_device_params dev;
    mx_adc_config adc;
} setup;

/* Ideal reram (every σ 0) with stuck cells, exact ADC and DAC voltages. */
static setup faulty_setup(double stuck_low, double stuck_high, size_t tile_rows, size_t tile_cols)
{
    setup s;
    mx_crossbar_config_default(&s.xbar);
    s.xbar.input = MX_INPUT_DAC;
    s.xbar.dac_bits = 0;
    s.xbar.tile_rows = tile_rows;
    s.xbar.tile_cols = tile_cols;
    mx_device_params_default(&s.dev);
    s.dev.stuck_at_gmin_frac = stuck_low;
    s.dev.stuck_at_gmax_frac = stuck_high;
    mx_adc_config_default(&s.adc);
    s.adc.kind = MX_ADC_NONE;
    return s;
}

static mx_matmul *create_with(const float *w, size_t n_out, size_t n_in, const setup *s,
                              const mx_device_type *type)
{
    mx_matmul *mm = NULL;
    mx_status st = mx_matmul_create(w, n_out, n_in, &s->xbar, type, &s->dev, &s->adc, SEED, 3, &mm);
    if (st != MX_OK) {
        print_error("mx_matmul_create: %s: %s\n", mx_strerror(st), mx_last_error());
        fail();
    }
    return mm;
}

static mx_matmul *create_ok(const float *w, size_t n_out, size_t n_in, const setup *s)
{
    return create_with(w, n_out, n_in, s, &mx_device_reram);
}

static float *random_floats(size_t n, double lo, double hi, uint64_t item)
{
    float *a = malloc(n * sizeof *a);
    assert_non_null(a);
    mx_rng r;
    mx_rng_init_named(&r, SEED, "test.data", item);
    for (size_t i = 0; i < n; i++)
        a[i] = (float)(lo + (hi - lo) * mx_rng_uniform(&r));
    return a;
}

/* y = W·x in double; W (n_out, n_in). */
static void float_matmul(const float *w, const float *x, size_t n_out, size_t n_in, double *y)
{
    for (size_t o = 0; o < n_out; o++) {
        double s = 0.0;
        for (size_t j = 0; j < n_in; j++)
            s += (double)w[o * n_in + j] * (double)x[j];
        y[o] = s;
    }
}

/* max_o |y − ref| / max_o |ref|. */
static double rel_error(const float *y, const double *ref, size_t n)
{
    double e = 0.0, m = 0.0;
    for (size_t o = 0; o < n; o++) {
        e = fmax(e, fabs((double)y[o] - ref[o]));
        m = fmax(m, fabs(ref[o]));
    }
    return e / m;
}

static void forward_exact(const mx_matmul *mm, const float *x, float *y)
{
    mx_matmul_work *wk = NULL;
    assert_int_equal(mx_matmul_work_create(mm, &wk), MX_OK);
    mx_rng r;
    mx_rng_init_named(&r, SEED, "test.read", 0);
    mx_matmul_forward(mm, wk, x, y, &r, NULL, NULL);
    mx_matmul_work_destroy(wk);
}

/* ---- the assignment solver --------------------------------------------------- */

static double brute_min(const double *cost, size_t n, size_t m, size_t i, unsigned used)
{
    if (i == n)
        return 0.0;
    double best = HUGE_VAL;
    for (size_t k = 0; k < m; k++)
        if (!(used & (1u << k)))
            best = fmin(best, cost[i * m + k] + brute_min(cost, n, m, i + 1, used | (1u << k)));
    return best;
}

static void test_assignment_matches_brute_force(void **state)
{
    (void)state;
    for (size_t n = 1; n <= 6; n++)
        for (size_t m = n; m <= n + 2; m++)
            for (uint64_t trial = 0; trial < 4; trial++) {
                float *c = random_floats(n * m, 0.0, 1.0, 100 * n + 10 * m + trial);
                double cost[64];
                for (size_t i = 0; i < n * m; i++) /* ties too: values on a coarse grid */
                    cost[i] = trial & 1 ? floor(4.0 * (double)c[i]) : (double)c[i];
                size_t assign[8];
                assert_int_equal(mx_fm_assign(cost, n, m, assign), MX_OK);
                unsigned seen = 0;
                double total = 0.0;
                for (size_t i = 0; i < n; i++) {
                    assert_true(assign[i] < m);
                    assert_false(seen & (1u << assign[i]));
                    seen |= 1u << assign[i];
                    total += cost[i * m + assign[i]];
                }
                /* Sums of ≤ 6 values in [0, 4]: exact to a few ulp. */
                assert_close(total, brute_min(cost, n, m, 0, 0), 64 * DBL_EPSILON, 0.0);
                free(c);
            }
}

/* ---- the cell test ----------------------------------------------------------- */

/* The cell test finds exactly the cells that programming leaves stuck:
 * with W = +1 everywhere G+ targets g_max and G− g_min (an ideal cell hits
 * its target exactly), so a G+ at g_min is stuck low and a G− at g_max
 * stuck high; W = −1 shows the other two. The same seed and layer are the
 * same physical cells. */
static void check_test_finds_the_stuck_cells(double read_sigma)
{
    const size_t n_in = 23, n_out = 17;
    setup s = faulty_setup(0.08, 0.08, 8, 8);
    float *w = malloc(n_in * n_out * sizeof *w);
    assert_non_null(w);
    const float *gp[2], *gn[2];
    mx_matmul *plain[2];
    for (int sign = 0; sign < 2; sign++) {
        for (size_t i = 0; i < n_in * n_out; i++)
            w[i] = sign ? -1.0f : 1.0f;
        plain[sign] = create_ok(w, n_out, n_in, &s);
        mx_matmul_conductances(plain[sign], &gp[sign], &gn[sign]);
    }
    s.dev.read_noise_sigma = read_sigma;
    s.xbar.fault_map.mode = MX_FAULT_MAP_PARTNER;
    mx_matmul *mm = create_ok(w, n_out, n_in, &s);
    size_t cols0 = 0, cols1 = 0;
    const unsigned char *f0 = mx_matmul_fault_cells(mm, 0, &cols0, NULL, NULL);
    const unsigned char *f1 = mx_matmul_fault_cells(mm, 1, &cols1, NULL, NULL);
    assert_int_equal(cols0, n_out);
    assert_int_equal(cols1, n_out);
    const float lo = (float)s.dev.g_min_s, hi = (float)s.dev.g_max_s;
    uint64_t low = 0, high = 0;
    for (size_t i = 0; i < n_in * n_out; i++) {
        const int p_low = gp[0][i] == lo, p_high = gp[1][i] == hi;
        const int n_high = gn[0][i] == hi, n_low = gn[1][i] == lo;
        assert_int_equal(f0[i], p_low ? MX_FM_STUCK_LOW : p_high ? MX_FM_STUCK_HIGH : 0);
        assert_int_equal(f1[i], n_low ? MX_FM_STUCK_LOW : n_high ? MX_FM_STUCK_HIGH : 0);
        low += (uint64_t)(p_low + n_low);
        high += (uint64_t)(p_high + n_high);
    }
    mx_fault_map_stats fs;
    mx_matmul_fault_map_stats(mm, &fs);
    assert_true(low > 0 && high > 0);
    assert_int_equal(fs.stuck_low, low);
    assert_int_equal(fs.stuck_high, high);
    assert_int_equal(fs.cells_tested, 2 * n_in * n_out);
    assert_int_equal(fs.test_writes, 4 * n_in * n_out);
    assert_int_equal(fs.test_reads, 4 * n_in * n_out);
    /* Time: per test one nominal pulse width + one read (devices.h defaults). */
    const double per_test = s.dev.pulse.width_ltp_s + s.dev.read_time_s;
    assert_close(fs.time_serial_s, (double)fs.test_reads * per_test, 0.0, 1e-12);
    assert_true(fs.energy_j > 0.0);
    mx_matmul_destroy(mm);
    mx_matmul_destroy(plain[0]);
    mx_matmul_destroy(plain[1]);
    free(w);
}

static void test_cell_test_finds_exactly_the_stuck_cells(void **state)
{
    (void)state;
    check_test_finds_the_stuck_cells(0.0);
    /* 5 % read noise: a healthy cell reads within ~25 % of its bound, far
     * from the window's middle (g_max/g_min = 10). */
    check_test_finds_the_stuck_cells(0.05);
}

/* ---- partner compensation ---------------------------------------------------- */

static double clampd(double x, double lo, double hi) { return x < lo ? lo : (x > hi ? hi : x); }

/* Every pair with one stuck cell holds G+ − G− = s − clamp(s − d) (G+ stuck
 * at s; d the target difference) or clamp(s + d) − s (G− stuck): the
 * residual is the distance of the partner's target from the window. */
static void test_partner_compensation_meets_its_closed_form(void **state)
{
    (void)state;
    const size_t n_in = 19, n_out = 13;
    setup s = faulty_setup(0.1, 0.1, 8, 8);
    float *w = random_floats(n_in * n_out, -1.0, 1.0, 7);
    mx_matmul *plain = create_ok(w, n_out, n_in, &s);
    s.xbar.fault_map.mode = MX_FAULT_MAP_PARTNER;
    mx_matmul *mm = create_ok(w, n_out, n_in, &s);
    const float *gp, *gn, *pp, *pn;
    mx_matmul_conductances(mm, &gp, &gn);
    mx_matmul_conductances(plain, &pp, &pn);
    const unsigned char *f0 = mx_matmul_fault_cells(mm, 0, NULL, NULL, NULL);
    const unsigned char *f1 = mx_matmul_fault_cells(mm, 1, NULL, NULL, NULL);
    const double g_min = s.dev.g_min_s, g_max = s.dev.g_max_s, window = g_max - g_min;
    const double spu = window / mx_matmul_mapping(mm).w_abs_max;
    double sq = 0.0, sq_plain = 0.0;
    size_t helped = 0;
    for (size_t j = 0; j < n_in; j++)
        for (size_t o = 0; o < n_out; o++) {
            const size_t i = j * n_out + o;
            const double wv = (double)w[o * n_in + j];
            const double tp = (double)(float)(g_min + (wv > 0.0 ? wv * spu : 0.0));
            const double tn = (double)(float)(g_min + (wv < 0.0 ? -wv * spu : 0.0));
            const double d = tp - tn;
            double want = d;
            const double sp = f0[i] == MX_FM_STUCK_HIGH ? g_max : g_min;
            const double sn = f1[i] == MX_FM_STUCK_HIGH ? g_max : g_min;
            if (f0[i] && !f1[i])
                want = sp - (double)(float)clampd(sp - d, g_min, g_max);
            else if (f1[i] && !f0[i])
                want = (double)(float)clampd(sn + d, g_min, g_max) - sn;
            else if (f0[i] && f1[i])
                want = sp - sn;
            const double got = (double)gp[i] - (double)gn[i];
            /* float conductances: a few ulp of g_max. */
            assert_close(got, want, 4.0 * (double)FLT_EPSILON * g_max, 0.0);
            const double e = (got - d) / window, ep = ((double)pp[i] - (double)pn[i] - d) / window;
            assert_true(fabs(e) <= fabs(ep) + 40.0 * (double)FLT_EPSILON);
            helped += fabs(e) < fabs(ep) - 1e-3;
            sq += e * e;
            sq_plain += ep * ep;
        }
    assert_true(helped > 0);
    mx_fault_map_stats fs;
    mx_matmul_fault_map_stats(mm, &fs);
    /* The planner's prediction is the measured error (ideal cells). */
    assert_close(fs.sq_error_after, sq, 1e-9, 1e-6);
    assert_close(fs.sq_error_before, sq_plain, 1e-9, 1e-6);
    assert_true(fs.sq_error_after < fs.sq_error_before);
    assert_int_equal(fs.moved, 0);
    mx_matmul_destroy(mm);
    mx_matmul_destroy(plain);
    free(w);
}

/* ---- row permutation ---------------------------------------------------------- */

/* A weight that a pair with faults (fp, fn) holds exactly (w_abs_max = 1):
 * G+ stuck low → w ≤ 0; stuck high → w = 1 (G+ = g_max); G− likewise;
 * both stuck → the difference of the bounds. r: a healthy magnitude. */
static float exact_weight(unsigned char fp, unsigned char fn, float r)
{
    if (fp && fn)
        return fp == fn ? 0.0f : (fp == MX_FM_STUCK_HIGH ? 1.0f : -1.0f);
    if (fp)
        return fp == MX_FM_STUCK_HIGH ? 1.0f : -r;
    if (fn)
        return fn == MX_FM_STUCK_HIGH ? -1.0f : r;
    return r < 0.5f ? r : -r;
}

static void test_row_permutation_restores_exact_matmul(void **state)
{
    (void)state;
    const size_t n_in = 12, n_out = 7;
    setup s = faulty_setup(0.07, 0.07, 12, 8);
    s.xbar.fault_map.mode = MX_FAULT_MAP_PERMUTE;
    /* The fault map depends on the seed and the geometry only. */
    float *w = random_floats(n_in * n_out, -1.0, 1.0, 11);
    mx_matmul *probe = create_ok(w, n_out, n_in, &s);
    const unsigned char *f0 = mx_matmul_fault_cells(probe, 0, NULL, NULL, NULL);
    const unsigned char *f1 = mx_matmul_fault_cells(probe, 1, NULL, NULL, NULL);
    /* Logical row pi[p] at physical row p: a rotation by 5. */
    size_t pi[12];
    for (size_t p = 0; p < n_in; p++)
        pi[p] = (p + 5) % n_in;
    float *r = random_floats(n_in * n_out, 0.1, 0.9, 12);
    int any_fault = 0;
    for (size_t p = 0; p < n_in; p++)
        for (size_t q = 0; q < n_out; q++) {
            const size_t i = p * n_out + q;
            any_fault |= f0[i] | f1[i];
            w[q * n_in + pi[p]] = exact_weight(f0[i], f1[i], r[i]);
        }
    assert_true(any_fault);
    /* w_abs_max = 1 whatever the faults: a 1 on the first healthy slot. */
    size_t healthy = SIZE_MAX;
    for (size_t i = 0; i < n_in * n_out && healthy == SIZE_MAX; i++)
        if (!f0[i] && !f1[i])
            healthy = i;
    assert_true(healthy != SIZE_MAX);
    w[(healthy % n_out) * n_in + pi[healthy / n_out]] = 1.0f;
    float *x = random_floats(n_in, -1.0, 1.0, 13);
    float y[7];
    double ref[7];
    float_matmul(w, x, n_out, n_in, ref);
    mx_matmul *mm = create_ok(w, n_out, n_in, &s);
    forward_exact(mm, x, y);
    assert_true(rel_error(y, ref, n_out) < IDEAL_REL_TOL);
    mx_fault_map_stats fs;
    mx_matmul_fault_map_stats(mm, &fs);
    assert_true(fs.sq_error_after < ZERO_SQ_ERROR);
    assert_true(fs.sq_error_before > 1e-2);
    assert_true(fs.moved > 0);
    /* Without the remap the same faults spoil W·x. */
    s.xbar.fault_map.mode = MX_FAULT_MAP_NONE;
    mx_matmul *plain = create_ok(w, n_out, n_in, &s);
    forward_exact(plain, x, y);
    assert_true(rel_error(y, ref, n_out) > 1e-3);
    mx_matmul_destroy(plain);
    mx_matmul_destroy(mm);
    mx_matmul_destroy(probe);
    free(w);
    free(r);
    free(x);
}

/* ---- spare columns ------------------------------------------------------------ */

/* Squared relative error of logical column o (all rows, rows in place)
 * placed at physical column q, by the closed form of an uncompensated pair. */
static double column_error(const float *w, size_t n_in, size_t o, const unsigned char *f0,
                           const unsigned char *f1, size_t pc, size_t q)
{
    double s = 0.0;
    for (size_t p = 0; p < n_in; p++) {
        const double wv = (double)w[o * n_in + p];
        double wp = wv > 0.0 ? wv : 0.0, wn = wv < 0.0 ? -wv : 0.0; /* w_abs_max = 1 */
        if (f0[p * pc + q])
            wp = f0[p * pc + q] == MX_FM_STUCK_HIGH ? 1.0 : 0.0;
        if (f1[p * pc + q])
            wn = f1[p * pc + q] == MX_FM_STUCK_HIGH ? 1.0 : 0.0;
        s += (wp - wn - wv) * (wp - wn - wv);
    }
    return s;
}

static void test_spare_columns_take_the_best_placement(void **state)
{
    (void)state;
    const size_t n_in = 6, n_out = 4, spares = 2;
    setup s = faulty_setup(0.12, 0.12, 8, 4);
    s.xbar.fault_map.mode = MX_FAULT_MAP_SPARE_COLUMNS;
    s.xbar.fault_map.spare_columns = (int)spares;
    float *w = random_floats(n_in * n_out, -1.0, 1.0, 21);
    w[0] = 1.0f; /* w_abs_max = 1 */
    mx_matmul *mm = create_ok(w, n_out, n_in, &s);
    size_t pc = 0;
    const size_t *row_of, *col_of;
    const unsigned char *f0 = mx_matmul_fault_cells(mm, 0, &pc, &row_of, &col_of);
    const unsigned char *f1 = mx_matmul_fault_cells(mm, 1, NULL, NULL, NULL);
    assert_int_equal(pc, n_out + spares);
    /* Brute force: each of the 4 outputs on a distinct one of 6 columns. */
    double cost[4 * 6];
    for (size_t o = 0; o < n_out; o++)
        for (size_t q = 0; q < pc; q++)
            cost[o * pc + q] = column_error(w, n_in, o, f0, f1, pc, q);
    const double best = brute_min(cost, n_out, pc, 0, 0);
    mx_fault_map_stats fs;
    mx_matmul_fault_map_stats(mm, &fs);
    assert_close(fs.sq_error_after, best, 1e-9, 1e-6);
    assert_true(fs.sq_error_before > fs.sq_error_after);
    assert_int_equal(fs.spare_cells, 2 * n_in * spares);
    assert_int_equal(fs.cells_tested, 2 * n_in * pc);
    /* The forward pass computes W_eff·x, W_eff the weights the chosen
     * physical columns hold. */
    for (size_t p = 0; p < n_in; p++)
        assert_int_equal(row_of[p], p);
    float w_eff[6 * 4];
    size_t placed = 0;
    for (size_t q = 0; q < pc; q++) {
        if (col_of[q] == SIZE_MAX)
            continue;
        const size_t o = col_of[q];
        placed++;
        for (size_t p = 0; p < n_in; p++) {
            const double wv = (double)w[o * n_in + p];
            double wp = wv > 0.0 ? wv : 0.0, wn = wv < 0.0 ? -wv : 0.0;
            if (f0[p * pc + q])
                wp = f0[p * pc + q] == MX_FM_STUCK_HIGH ? 1.0 : 0.0;
            if (f1[p * pc + q])
                wn = f1[p * pc + q] == MX_FM_STUCK_HIGH ? 1.0 : 0.0;
            w_eff[o * n_in + p] = (float)(wp - wn);
        }
    }
    assert_int_equal(placed, n_out);
    float *x = random_floats(n_in, -1.0, 1.0, 22);
    float y[4];
    double ref[4];
    float_matmul(w_eff, x, n_out, n_in, ref);
    forward_exact(mm, x, y);
    assert_true(rel_error(y, ref, n_out) < IDEAL_REL_TOL);
    mx_matmul_destroy(mm);
    free(w);
    free(x);
}

/* ---- determinism, mode none, errors, allocation failures ----------------------- */

static void check_thread_independent(setup s, const mx_device_type *type)
{
    const size_t n_in = 21, n_out = 19; /* 3 x 3 tiles of 8 x 8 */
    float *w = random_floats(n_in * n_out, -1.0, 1.0, 31);
    mx_matmul *mm[2];
    const int saved = omp_get_max_threads();
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t + 1);
        mm[t] = create_with(w, n_out, n_in, &s, type);
    }
    omp_set_num_threads(saved);
    for (size_t f = 0; f < mx_matmul_n_families(mm[0]); f++) {
        size_t cols;
        const float *a = mx_matmul_family(mm[0], f, &cols), *b = mx_matmul_family(mm[1], f, NULL);
        assert_memory_equal(a, b, n_in * cols * sizeof(float));
    }
    mx_fault_map_stats a, b;
    mx_matmul_fault_map_stats(mm[0], &a);
    mx_matmul_fault_map_stats(mm[1], &b);
    assert_memory_equal(&a, &b, sizeof a);
    assert_true(a.stuck_low + a.stuck_high > 0);
    mx_programming_stats pa, pb;
    mx_matmul_programming_stats(mm[0], &pa);
    mx_matmul_programming_stats(mm[1], &pb);
    assert_memory_equal(&pa, &pb, sizeof pa);
    mx_matmul_destroy(mm[0]);
    mx_matmul_destroy(mm[1]);
    free(w);
}

static void test_fault_mapping_is_thread_independent(void **state)
{
    (void)state;
    setup s = faulty_setup(0.05, 0.05, 8, 8);
    s.dev.d2d_sigma = 0.1;
    s.dev.prog_noise_coeffs[0] = 0.01;
    s.dev.read_noise_sigma = 0.05;
    const mx_fault_map_mode modes[] = {MX_FAULT_MAP_PARTNER, MX_FAULT_MAP_PERMUTE,
                                       MX_FAULT_MAP_SPARE_COLUMNS};
    for (size_t m = 0; m < 3; m++) {
        s.xbar.fault_map.mode = modes[m];
        check_thread_independent(s, &mx_device_reram);
    }
    /* Bit-sliced pairs and the offset mapping's reference column. */
    s.xbar.mapping = MX_MAPPING_BIT_SLICED;
    s.xbar.fault_map.mode = MX_FAULT_MAP_PARTNER;
    check_thread_independent(s, &mx_device_reram);
    s.xbar.mapping = MX_MAPPING_OFFSET;
    s.xbar.fault_map.mode = MX_FAULT_MAP_SPARE_COLUMNS;
    check_thread_independent(s, &mx_device_reram);
    s.xbar.fault_map.mode = MX_FAULT_MAP_PERMUTE;
    check_thread_independent(s, &mx_device_reram);
    /* Write-verify on the spare columns too (a pulse-level model). */
    setup n = faulty_setup(0.05, 0.05, 8, 8);
    n.xbar.programming = MX_PROGRAMMING_WRITE_VERIFY;
    n.xbar.fault_map.mode = MX_FAULT_MAP_SPARE_COLUMNS;
    check_thread_independent(n, &mx_device_nonlinear);
    /* The deferred ageing of a drift reference (PCM). */
    setup d = faulty_setup(0.05, 0.05, 8, 8);
    d.dev.t_inference_s = 3600.0;
    d.xbar.drift.mode = MX_DRIFT_GLOBAL;
    d.xbar.fault_map.mode = MX_FAULT_MAP_PERMUTE;
    check_thread_independent(d, &mx_device_pcm);
}

/* Without defer: a drift-reference matmul ages to the bits of one without. */
static void test_deferred_ageing_matches_inline_ageing(void **state)
{
    (void)state;
    const size_t n_in = 21, n_out = 11;
    float *w = random_floats(n_in * n_out, -1.0, 1.0, 41);
    setup s = faulty_setup(0.05, 0.05, 8, 8);
    s.dev.t_inference_s = 3600.0;
    s.xbar.fault_map.mode = MX_FAULT_MAP_PERMUTE;
    mx_matmul *a = create_with(w, n_out, n_in, &s, &mx_device_pcm);
    s.xbar.drift.mode = MX_DRIFT_GLOBAL;
    mx_matmul *b = create_with(w, n_out, n_in, &s, &mx_device_pcm);
    for (size_t f = 0; f < 2; f++)
        assert_memory_equal(mx_matmul_family(a, f, NULL), mx_matmul_family(b, f, NULL),
                            n_in * n_out * sizeof(float));
    mx_matmul_destroy(a);
    mx_matmul_destroy(b);
    free(w);
}

static void test_mode_none_tests_nothing(void **state)
{
    (void)state;
    const size_t n_in = 9, n_out = 5;
    float *w = random_floats(n_in * n_out, -1.0, 1.0, 51);
    setup s = faulty_setup(0.1, 0.1, 8, 8);
    mx_matmul *mm = create_ok(w, n_out, n_in, &s);
    size_t cols = 1;
    const size_t *row_of = (const size_t *)1;
    assert_null(mx_matmul_fault_cells(mm, 0, &cols, &row_of, NULL));
    assert_int_equal(cols, 0);
    assert_null(row_of);
    mx_fault_map_stats fs, zero = {0};
    mx_matmul_fault_map_stats(mm, &fs);
    assert_memory_equal(&fs, &zero, sizeof fs);
    mx_matmul_destroy(mm);
    free(w);
}

static void expect_einval(const setup *s, const char *needle)
{
    float w[4] = {1.0f, -0.5f, 0.25f, 0.0f};
    mx_matmul *mm = (mx_matmul *)(uintptr_t)0x1;
    assert_int_equal(mx_matmul_create(w, 2, 2, &s->xbar, &mx_device_binary, &s->dev, &s->adc,
                                      SEED, 0, &mm),
                     MX_EINVAL);
    assert_null(mm);
    if (!strstr(mx_last_error(), needle)) {
        print_error("expected '%s' in '%s'\n", needle, mx_last_error());
        fail();
    }
}

static void test_fault_mapping_errors_name_their_field(void **state)
{
    (void)state;
    setup s = faulty_setup(0.0, 0.0, 8, 8);
    s.xbar.fault_map.mode = (mx_fault_map_mode)7;
    expect_einval(&s, "hardware.fault_mapping.mode");
    s.xbar.fault_map.mode = MX_FAULT_MAP_SPARE_COLUMNS;
    s.xbar.fault_map.spare_columns = 0;
    expect_einval(&s, "hardware.fault_mapping.spare_columns");
    s = faulty_setup(0.0, 0.0, 8, 8);
    s.xbar.fault_map.mode = MX_FAULT_MAP_PARTNER;
    s.xbar.mapping = MX_MAPPING_OFFSET;
    expect_einval(&s, "partner needs a differential or bit-sliced mapping");
    s = faulty_setup(0.0, 0.0, 8, 8);
    s.xbar.fault_map.mode = MX_FAULT_MAP_PERMUTE;
    s.xbar.half_select = MX_HALF_SELECT_V_HALF;
    expect_einval(&s, "half_select");
    s = faulty_setup(0.0, 0.0, 8, 8);
    s.xbar.fault_map.mode = MX_FAULT_MAP_SPARE_COLUMNS;
    s.xbar.r_wire_ohm = 1.0;
    expect_einval(&s, "spare-columns with wire resistances");
}

/* n_in x n_out over tiles of 8 x 8: with n_in, n_out > 8 every per-tile
 * plan allocates. */
static void check_create_fails_cleanly(const setup *s, const mx_device_type *type, size_t n_in,
                                       size_t n_out)
{
    float *w = random_floats(n_in * n_out, -1.0, 1.0, 61);
    long n = 1;
    for (;; n++) {
        mx_matmul *mm = (mx_matmul *)(uintptr_t)0x1;
        mx_alloc_fail_after(n);
        mx_status st = mx_matmul_create(w, n_out, n_in, &s->xbar, type, &s->dev, &s->adc, SEED, 1,
                                        &mm);
        mx_alloc_fail_after(0);
        if (st == MX_OK) {
            assert_non_null(mm);
            mx_matmul_destroy(mm);
            break;
        }
        assert_int_equal(st, MX_ENOMEM);
        assert_null(mm);
        assert_true(n < 5000);
    }
    assert_true(n > 1);
    free(w);
}

static void test_create_fails_cleanly_at_every_allocation(void **state)
{
    (void)state;
    setup s = faulty_setup(0.1, 0.1, 8, 8);
    const mx_fault_map_mode modes[] = {MX_FAULT_MAP_PARTNER, MX_FAULT_MAP_PERMUTE,
                                       MX_FAULT_MAP_SPARE_COLUMNS};
    for (size_t m = 0; m < 3; m++) {
        s.xbar.fault_map.mode = modes[m];
        check_create_fails_cleanly(&s, &mx_device_reram, 10, 9);
    }
    s.xbar.programming = MX_PROGRAMMING_WRITE_VERIFY;
    /* Step priors given: no bench characterisation in every walked create. */
    s.xbar.write_verify.step_ltp_frac = s.xbar.write_verify.step_ltd_frac = 0.01;
    check_create_fails_cleanly(&s, &mx_device_nonlinear, 3, 9); /* a wv run per row part */
    setup d = faulty_setup(0.1, 0.1, 8, 8);
    d.dev.t_inference_s = 3600.0;
    d.xbar.drift.mode = MX_DRIFT_GLOBAL;
    d.xbar.fault_map.mode = MX_FAULT_MAP_PERMUTE;
    check_create_fails_cleanly(&d, &mx_device_pcm, 10, 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_assignment_matches_brute_force),
        cmocka_unit_test(test_cell_test_finds_exactly_the_stuck_cells),
        cmocka_unit_test(test_partner_compensation_meets_its_closed_form),
        cmocka_unit_test(test_row_permutation_restores_exact_matmul),
        cmocka_unit_test(test_spare_columns_take_the_best_placement),
        cmocka_unit_test(test_fault_mapping_is_thread_independent),
        cmocka_unit_test(test_deferred_ageing_matches_inline_ageing),
        cmocka_unit_test(test_mode_none_tests_nothing),
        cmocka_unit_test(test_fault_mapping_errors_name_their_field),
        cmocka_unit_test(test_create_fails_cleanly_at_every_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
