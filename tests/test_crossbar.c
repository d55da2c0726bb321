/* SPDX-License-Identifier: MIT
 *
 * test_crossbar.c: the analog matmul against independent references — the
 * float matmul W·x for an ideal device and exact ADC (odd shapes, every
 * tiling, DAC and spike inputs), the plain per-cell twin for the event-driven
 * fast path (bit for bit without read noise), and the closed-form mean and
 * variance of output-referred read noise. Also the weight-to-conductance
 * mapping, the ADC error bound and statistics, determinism of programming
 * (seed, layer id, thread count), every documented error, and clean
 * MX_ENOMEM at each allocation of the create paths.
 *
 * Statistical tests are deterministic by seed and fail beyond 4 standard
 * errors; each says how its standard error is computed.
 */
#include "tests/support/mx_test.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "adc/adc.h"
#include "core/core.h"
#include "core/rng.h"
#include "crossbar/crossbar.h"
#include "devices/devices.h"
#include "devices/pcm.h"

#define SEED 987654321u
/* float epsilon as a double, for tolerances on float results. */
#define FLT_EPS ((double)FLT_EPSILON)
/* Relative tolerance (to max |y|) of an ideal crossbar against W·x in
 * double: conductances and currents are float (ε ≈ 6e-8), and sums over
 * ≤ 300 rows grow the rounding error by at most ~sqrt(300)·a few ε on
 * random data; 1e-5 leaves an order of magnitude of margin. */
#define IDEAL_REL_TOL 1e-5

static void assert_error_mentions(const char *needle)
{
    if (!strstr(mx_last_error(), needle)) {
        print_error("expected the message to name '%s', got '%s'\n", needle, mx_last_error());
        fail();
    }
}

/* ---- fixtures ---------------------------------------------------------------- */

typedef struct setup {
    mx_crossbar_config xbar;
    mx_device_params dev;
    mx_adc_config adc;
} setup;

/* Ideal device (every σ 0), exact ADC, exact DAC voltages. */
static setup ideal_setup(mx_input_mode input, size_t tile_rows, size_t tile_cols)
{
    setup s;
    mx_crossbar_config_default(&s.xbar);
    s.xbar.input = input;
    s.xbar.dac_bits = 0;
    s.xbar.tile_rows = tile_rows;
    s.xbar.tile_cols = tile_cols;
    mx_device_params_default(&s.dev);
    mx_adc_config_default(&s.adc);
    s.adc.kind = MX_ADC_NONE;
    return s;
}

static mx_matmul *create_ok(const float *w, size_t n_out, size_t n_in, const setup *s,
                            uint64_t seed, uint32_t layer)
{
    mx_matmul *mm = NULL;
    mx_status st = mx_matmul_create(w, n_out, n_in, &s->xbar, &mx_device_reram, &s->dev,
                                    &s->adc, seed, layer, &mm);
    if (st != MX_OK) {
        print_error("mx_matmul_create: %s: %s\n", mx_strerror(st), mx_last_error());
        fail();
    }
    assert_non_null(mm);
    return mm;
}

static mx_matmul_work *work_ok(const mx_matmul *mm)
{
    mx_matmul_work *w = NULL;
    assert_int_equal(mx_matmul_work_create(mm, &w), MX_OK);
    assert_non_null(w);
    return w;
}

/* Uniform values in [lo, hi] from a test stream. */
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

static float *random_spikes(size_t n, double p, uint64_t item)
{
    float *a = malloc(n * sizeof *a);
    assert_non_null(a);
    mx_rng r;
    mx_rng_init_named(&r, SEED, "test.spikes", item);
    for (size_t i = 0; i < n; i++)
        a[i] = mx_rng_bernoulli(&r, p) ? 1.0f : 0.0f;
    return a;
}

/* y = W·x in double; W (n_out, n_in) row-major. */
static void float_matmul(const float *w, const float *x, size_t n_out, size_t n_in, double *y)
{
    for (size_t o = 0; o < n_out; o++) {
        double s = 0.0;
        for (size_t j = 0; j < n_in; j++)
            s += (double)w[o * n_in + j] * (double)x[j];
        y[o] = s;
    }
}

static double max_abs(const double *y, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(y[i]));
    return m;
}

/* |y − ref| ≤ rel·max|ref| elementwise, reporting the worst element. */
static void assert_matches(const float *y, const double *ref, size_t n, double rel,
                           const char *what)
{
    const double tol = rel * max_abs(ref, n);
    size_t worst = 0;
    double worst_diff = -1.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)y[i] - ref[i]);
        if (!(d <= worst_diff)) {
            worst_diff = d;
            worst = i;
        }
    }
    if (!(worst_diff <= tol)) {
        print_error("%s: worst at [%zu]: %.9g vs %.9g (|diff| %.3g > tol %.3g)\n", what, worst,
                    (double)y[worst], ref[worst], worst_diff, tol);
        fail();
    }
}

/* The row voltages the crossbar should apply, computed independently from
 * crossbar.h's description: spikes drive V_read; the DAC clamps x/fs to
 * [−1, 1] and, with dac_bits > 0, rounds it to K = 2^(bits−1) − 1 levels per
 * polarity (K = 1 for one bit). Voltages are float on the chip. */
static void row_voltages(const mx_crossbar_config *c, const float *x, size_t n_in, double *v)
{
    for (size_t j = 0; j < n_in; j++) {
        if (c->input == MX_INPUT_SPIKES) {
            v[j] = x[j] != 0.0f ? (double)(float)c->read_voltage_v : 0.0;
            continue;
        }
        double u = fmax(-1.0, fmin(1.0, (double)x[j] / c->input_full_scale));
        if (c->dac_bits > 0) {
            double k = fmax(1.0, ldexp(1.0, c->dac_bits - 1) - 1.0);
            u = nearbyint(u * k) / k;
        }
        v[j] = (double)(float)(u * c->read_voltage_v);
    }
}

/* Column currents of every row tile before the ADC, (n_row_tiles, n_out), A,
 * from the programmed conductances. */
static double *tile_currents(const mx_matmul *mm, const float *x)
{
    const size_t n_in = mx_matmul_n_in(mm), n_out = mx_matmul_n_out(mm);
    const size_t n_tiles = mx_matmul_n_row_tiles(mm);
    const size_t tile_rows = mx_matmul_config(mm)->tile_rows;
    const float *gp, *gn;
    mx_matmul_conductances(mm, &gp, &gn);
    double *v = malloc(n_in * sizeof *v), *cur = calloc(n_tiles * n_out, sizeof *cur);
    assert_non_null(v);
    assert_non_null(cur);
    row_voltages(mx_matmul_config(mm), x, n_in, v);
    for (size_t j = 0; j < n_in; j++)
        for (size_t o = 0; o < n_out; o++)
            cur[(j / tile_rows) * n_out + o] +=
                v[j] * ((double)gp[j * n_out + o] - (double)gn[j * n_out + o]);
    free(v);
    return cur;
}

/* Row tiles with at least one driven row. */
static size_t active_tiles(const mx_matmul *mm, const float *x)
{
    const size_t n_in = mx_matmul_n_in(mm), tile_rows = mx_matmul_config(mm)->tile_rows;
    double *v = malloc(n_in * sizeof *v);
    assert_non_null(v);
    row_voltages(mx_matmul_config(mm), x, n_in, v);
    size_t count = 0;
    for (size_t t = 0; t * tile_rows < n_in; t++) {
        int any = 0;
        for (size_t j = t * tile_rows; j < n_in && j < (t + 1) * tile_rows; j++)
            any |= v[j] != 0.0;
        count += (size_t)any;
    }
    free(v);
    return count;
}

/* Output scale, weight units per ampere: fs / (V_read · S per unit). */
static double output_scale(const mx_matmul *mm)
{
    const mx_crossbar_config *c = mx_matmul_config(mm);
    const double fs = c->input == MX_INPUT_DAC ? c->input_full_scale : 1.0;
    return fs / (c->read_voltage_v * mx_matmul_mapping(mm).siemens_per_unit);
}

/* ---- configuration ------------------------------------------------------------ */

static void test_crossbar_config_defaults_are_valid(void **state)
{
    (void)state;
    mx_crossbar_config c;
    mx_crossbar_config_default(&c);
    assert_int_equal(c.tile_rows, 128);
    assert_int_equal(c.tile_cols, 128);
    assert_true(c.read_voltage_v == 0.2);
    assert_int_equal(c.input, MX_INPUT_SPIKES);
    assert_int_equal(c.dac_bits, 8);
    assert_true(c.input_full_scale == 1.0);
    assert_int_equal(c.noise, MX_NOISE_OUTPUT_REFERRED);
    assert_int_equal(mx_crossbar_config_validate(&c), MX_OK);
}

static void expect_config_rejected(mx_crossbar_config c, const char *field)
{
    mx_clear_error();
    assert_int_equal(mx_crossbar_config_validate(&c), MX_EINVAL);
    assert_error_mentions(field);
}

static void test_crossbar_config_validation_names_each_bad_field(void **state)
{
    (void)state;
    mx_crossbar_config d, c;
    mx_crossbar_config_default(&d);
    c = d, c.tile_rows = 0;
    expect_config_rejected(c, "hardware.crossbar.tile_rows");
    c = d, c.tile_rows = 65537;
    expect_config_rejected(c, "hardware.crossbar.tile_rows");
    c = d, c.tile_cols = 0;
    expect_config_rejected(c, "hardware.crossbar.tile_cols");
    c = d, c.read_voltage_v = 0.0;
    expect_config_rejected(c, "hardware.crossbar.read_voltage_v");
    c = d, c.read_voltage_v = -0.2;
    expect_config_rejected(c, "hardware.crossbar.read_voltage_v");
    c = d, c.read_voltage_v = (double)NAN;
    expect_config_rejected(c, "hardware.crossbar.read_voltage_v");
    c = d, c.dac_bits = 17;
    expect_config_rejected(c, "hardware.crossbar.dac_bits");
    c = d, c.dac_bits = -1;
    expect_config_rejected(c, "hardware.crossbar.dac_bits");
    c = d, c.input_full_scale = 0.0;
    expect_config_rejected(c, "hardware.crossbar.input_full_scale");
    c = d, c.input = (mx_input_mode)5;
    expect_config_rejected(c, "hardware.crossbar.input");
    c = d, c.noise = (mx_noise_mode)5;
    expect_config_rejected(c, "hardware.crossbar.noise");

    /* The edges of each range are accepted. */
    c = d, c.dac_bits = 0;
    assert_int_equal(mx_crossbar_config_validate(&c), MX_OK);
    c = d, c.dac_bits = 16, c.tile_rows = 1, c.tile_cols = 65536;
    assert_int_equal(mx_crossbar_config_validate(&c), MX_OK);
}

/* ---- ideal crossbar = float matmul ------------------------------------------ */

typedef struct shape {
    size_t n_out, n_in, tile_rows, tile_cols;
} shape;

static const shape odd_shapes[] = {
    {37, 53, 128, 128}, {1, 1, 128, 128}, {130, 257, 16, 8}, {200, 300, 128, 128}, {5, 129, 7, 3},
};

static void check_ideal_against_float_matmul(mx_input_mode input, double full_scale)
{
    for (size_t s = 0; s < sizeof odd_shapes / sizeof odd_shapes[0]; s++) {
        const shape sh = odd_shapes[s];
        setup su = ideal_setup(input, sh.tile_rows, sh.tile_cols);
        su.xbar.input_full_scale = full_scale;
        float *w = random_floats(sh.n_out * sh.n_in, -1.0, 1.0, 10 + s);
        float *x = input == MX_INPUT_SPIKES ? random_spikes(sh.n_in, 0.4, 20 + s)
                                            : random_floats(sh.n_in, -full_scale, full_scale, 20 + s);
        if (input == MX_INPUT_DAC && sh.n_in > 2)
            x[sh.n_in / 2] = 0.0f; /* an undriven row in the middle */
        if (sh.n_in == 1)
            x[0] = input == MX_INPUT_SPIKES ? 1.0f : (float)(0.7 * full_scale);
        mx_matmul *mm = create_ok(w, sh.n_out, sh.n_in, &su, SEED, 1);
        mx_matmul_work *wk = work_ok(mm);
        float *y = malloc(sh.n_out * sizeof *y);
        double *ref = malloc(sh.n_out * sizeof *ref);
        assert_non_null(y);
        assert_non_null(ref);
        float_matmul(w, x, sh.n_out, sh.n_in, ref);
        mx_rng r;
        mx_rng_init_named(&r, SEED, "test.read", 0);
        mx_matmul_forward(mm, wk, x, y, &r, NULL, NULL);
        assert_matches(y, ref, sh.n_out, IDEAL_REL_TOL, "forward");
        mx_matmul_forward_reference(mm, wk, x, y, &r, NULL);
        assert_matches(y, ref, sh.n_out, IDEAL_REL_TOL, "forward_reference");
        mx_matmul_work_destroy(wk);
        mx_matmul_destroy(mm);
        free(w);
        free(x);
        free(y);
        free(ref);
    }
}

static void test_ideal_dac_mvm_matches_float_matmul_on_odd_shapes(void **state)
{
    (void)state;
    check_ideal_against_float_matmul(MX_INPUT_DAC, 1.0);
    check_ideal_against_float_matmul(MX_INPUT_DAC, 2.5); /* output scale includes fs */
}

static void test_ideal_spike_mvm_matches_float_matmul_on_odd_shapes(void **state)
{
    (void)state;
    check_ideal_against_float_matmul(MX_INPUT_SPIKES, 1.0);
}

static void test_dac_quantises_and_clamps_inputs(void **state)
{
    (void)state;
    const size_t n_out = 23, n_in = 61;
    float *w = random_floats(n_out * n_in, -1.0, 1.0, 30);
    float *x = random_floats(n_in, -1.6, 1.6, 31); /* some beyond full scale */
    const int bits[] = {1, 2, 4, 8};
    for (size_t b = 0; b < 4; b++) {
        setup su = ideal_setup(MX_INPUT_DAC, 16, 16);
        su.xbar.dac_bits = bits[b];
        mx_matmul *mm = create_ok(w, n_out, n_in, &su, SEED, 1);
        mx_matmul_work *wk = work_ok(mm);
        /* Reference: W·x_q with x_q the DAC level of x. */
        double v[61];
        float xq[61];
        row_voltages(&su.xbar, x, n_in, v);
        for (size_t j = 0; j < n_in; j++)
            xq[j] = (float)(v[j] / su.xbar.read_voltage_v * su.xbar.input_full_scale);
        double ref[23];
        float y[23];
        float_matmul(w, xq, n_out, n_in, ref);
        mx_rng r;
        mx_rng_init_named(&r, SEED, "test.read", 0);
        mx_matmul_forward(mm, wk, x, y, &r, NULL, NULL);
        assert_matches(y, ref, n_out, IDEAL_REL_TOL, "dac");
        mx_matmul_work_destroy(wk);
        mx_matmul_destroy(mm);
    }
    free(w);
    free(x);
}

static void test_tiling_does_not_change_the_ideal_result(void **state)
{
    (void)state;
    const size_t n_out = 150, n_in = 333;
    float *w = random_floats(n_out * n_in, -1.0, 1.0, 40);
    const size_t tiles[][2] = {{128, 128}, {333, 150}, {1000, 1000}, {3, 5}, {1, 1}, {17, 64}};
    for (int input = 0; input < 2; input++) {
        const mx_input_mode mode = input ? MX_INPUT_SPIKES : MX_INPUT_DAC;
        float *x = mode == MX_INPUT_SPIKES ? random_spikes(n_in, 0.2, 41)
                                           : random_floats(n_in, -1.0, 1.0, 41);
        double ref[150];
        float y0[150], y[150];
        float_matmul(w, x, n_out, n_in, ref);
        for (size_t t = 0; t < sizeof tiles / sizeof tiles[0]; t++) {
            setup su = ideal_setup(mode, tiles[t][0], tiles[t][1]);
            mx_matmul *mm = create_ok(w, n_out, n_in, &su, SEED, 1);
            assert_int_equal(mx_matmul_n_row_tiles(mm), (n_in + tiles[t][0] - 1) / tiles[t][0]);
            mx_matmul_work *wk = work_ok(mm);
            mx_rng r;
            mx_rng_init_named(&r, SEED, "test.read", 0);
            mx_matmul_forward(mm, wk, x, t == 0 ? y0 : y, &r, NULL, NULL);
            if (t > 0) {
                double y0d[150];
                for (size_t o = 0; o < n_out; o++)
                    y0d[o] = (double)y0[o];
                assert_matches(y, y0d, n_out, IDEAL_REL_TOL, "tiling vs 128x128");
            }
            assert_matches(t == 0 ? y0 : y, ref, n_out, IDEAL_REL_TOL, "tiling vs W·x");
            mx_matmul_work_destroy(wk);
            mx_matmul_destroy(mm);
        }
        free(x);
    }
    free(w);
}

static void test_all_zero_matrix_maps_to_g_min_and_gives_zero(void **state)
{
    (void)state;
    const size_t n_out = 4, n_in = 9;
    float w[36] = {0}, x[9];
    for (size_t j = 0; j < n_in; j++)
        x[j] = 0.1f * (float)j - 0.4f;
    setup su = ideal_setup(MX_INPUT_DAC, 4, 4);
    mx_matmul *mm = create_ok(w, n_out, n_in, &su, SEED, 1);
    const float *gp, *gn;
    mx_matmul_conductances(mm, &gp, &gn);
    for (size_t i = 0; i < n_out * n_in; i++) {
        assert_true(gp[i] == (float)su.dev.g_min_s);
        assert_true(gn[i] == (float)su.dev.g_min_s);
    }
    mx_matmul_work *wk = work_ok(mm);
    float y[4];
    mx_rng r;
    mx_rng_init_named(&r, SEED, "test.read", 0);
    mx_matmul_forward(mm, wk, x, y, &r, NULL, NULL);
    for (size_t o = 0; o < n_out; o++)
        assert_true(y[o] == 0.0f);
    mx_matmul_work_destroy(wk);
    mx_matmul_destroy(mm);
}

/* ---- fast path vs its per-cell twin ----------------------------------------- */

static void test_fast_path_equals_reference_twin_bit_for_bit_without_read_noise(void **state)
{
    (void)state;
    const shape shapes[] = {{37, 53, 16, 8}, {130, 257, 16, 8}, {7, 300, 128, 128}, {1, 1, 1, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int input = 0; input < 2; input++) {
            const shape sh = shapes[s];
            const mx_input_mode mode = input ? MX_INPUT_SPIKES : MX_INPUT_DAC;
            setup su = ideal_setup(mode, sh.tile_rows, sh.tile_cols);
            su.xbar.dac_bits = 8;
            su.adc.kind = MX_ADC_UNIFORM;
            su.adc.bits = 6;
            /* Non-ideal programming: the twins must agree on any conductances. */
            su.dev.d2d_sigma = 0.1;
            su.dev.stuck_at_gmin_frac = 0.02;
            float *w = random_floats(sh.n_out * sh.n_in, -1.0, 1.0, 50 + s);
            mx_matmul *mm = create_ok(w, sh.n_out, sh.n_in, &su, SEED, 3);
            mx_matmul_work *wk = work_ok(mm);
            float *y1 = malloc(sh.n_out * sizeof *y1), *y2 = malloc(sh.n_out * sizeof *y2);
            assert_non_null(y1);
            assert_non_null(y2);
            mx_matmul_stats st1 = {0}, st2 = {0};
            for (int trial = 0; trial < 4; trial++) {
                float *x = mode == MX_INPUT_SPIKES
                               ? random_spikes(sh.n_in, 0.05 + 0.2 * trial, 60 + (uint64_t)trial)
                               : random_floats(sh.n_in, -1.2, 1.2, 60 + (uint64_t)trial);
                if (mode == MX_INPUT_SPIKES && sh.n_in > 32)
                    for (size_t j = 16; j < 32; j++)
                        x[j] = 0.0f; /* a silent tile */
                if (mode == MX_INPUT_SPIKES && trial == 3)
                    x[sh.n_in - 1] = 1.0f; /* at least one read on every shape */
                /* A range at ~60 % of the largest tile current: some clip. */
                double *cur = tile_currents(mm, x);
                double cmax = max_abs(cur, mx_matmul_n_row_tiles(mm) * sh.n_out);
                free(cur);
                assert_int_equal(mx_matmul_set_adc_range(mm, cmax > 0 ? 0.6 * cmax : 1e-6),
                                 MX_OK);
                mx_rng r1, r2;
                mx_rng_init_named(&r1, SEED, "test.read", (uint64_t)trial);
                mx_rng_init_named(&r2, SEED, "test.read", (uint64_t)trial);
                mx_matmul_forward(mm, wk, x, y1, &r1, &st1, NULL);
                mx_matmul_forward_reference(mm, wk, x, y2, &r2, &st2);
                assert_memory_equal(y1, y2, sh.n_out * sizeof *y1);
                assert_true(st1.conversions == st2.conversions);
                assert_true(st1.clipped == st2.clipped);
                assert_true(st1.reads == st2.reads);
                free(x);
            }
            assert_true(st1.reads > 0);
            mx_matmul_work_destroy(wk);
            mx_matmul_destroy(mm);
            free(w);
            free(y1);
            free(y2);
        }
}

/* ---- read noise ----------------------------------------------------------------- */

#define NOISE_OUT 5
#define NOISE_IN 40
#define NOISE_READS 4000

/* NOISE_READS outputs (reads, n_out) of one path. */
typedef enum noise_path { PATH_FAST, PATH_PER_CELL_MODE, PATH_REFERENCE } noise_path;

static float *sample_reads(mx_matmul *mm, noise_path path, const float *x, const char *stream)
{
    const size_t n_out = mx_matmul_n_out(mm);
    float *ys = malloc(NOISE_READS * n_out * sizeof *ys);
    assert_non_null(ys);
    mx_matmul_work *wk = work_ok(mm);
    for (size_t k = 0; k < NOISE_READS; k++) {
        mx_rng r;
        mx_rng_init_named(&r, SEED, stream, k);
        if (path == PATH_REFERENCE)
            mx_matmul_forward_reference(mm, wk, x, ys + k * n_out, &r, NULL);
        else
            mx_matmul_forward(mm, wk, x, ys + k * n_out, &r, NULL, NULL);
    }
    mx_matmul_work_destroy(wk);
    return ys;
}

static int compare_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Two-sample Kolmogorov-Smirnov statistic D of column `o`. */
static double ks_two_sample(const float *a, const float *b, size_t n, size_t stride, size_t o)
{
    float *sa = malloc(n * sizeof *sa), *sb = malloc(n * sizeof *sb);
    assert_non_null(sa);
    assert_non_null(sb);
    for (size_t k = 0; k < n; k++) {
        sa[k] = a[k * stride + o];
        sb[k] = b[k * stride + o];
    }
    qsort(sa, n, sizeof *sa, compare_float);
    qsort(sb, n, sizeof *sb, compare_float);
    size_t i = 0, j = 0;
    double d = 0.0;
    while (i < n && j < n) {
        float v = sa[i] < sb[j] ? sa[i] : sb[j];
        while (i < n && sa[i] == v)
            i++;
        while (j < n && sb[j] == v)
            j++;
        d = fmax(d, fabs((double)i / (double)n - (double)j / (double)n));
    }
    free(sa);
    free(sb);
    return d;
}

static void test_output_referred_noise_is_exact_in_distribution(void **state)
{
    (void)state;
    setup su = ideal_setup(MX_INPUT_DAC, 16, 128); /* 3 row tiles, the last partial */
    const double sigma = 0.05;
    su.dev.read_noise_sigma = sigma;
    float *w = random_floats(NOISE_OUT * NOISE_IN, -1.0, 1.0, 70);
    float *x = random_floats(NOISE_IN, -1.0, 1.0, 71);
    x[3] = 0.0f;
    mx_matmul *fast = create_ok(w, NOISE_OUT, NOISE_IN, &su, SEED, 4);
    su.xbar.noise = MX_NOISE_PER_CELL;
    mx_matmul *cell = create_ok(w, NOISE_OUT, NOISE_IN, &su, SEED, 4);

    /* Theory from the programmed conductances (identical in both, same seed
     * and layer): mean = s·Σ_j V_j(G+ − G−), variance = s²·σ²·Σ_j V_j²(G+² + G−²)
     * with s = fs/(V_read·S per unit) the output scale. */
    const float *gp, *gn, *gp2, *gn2;
    mx_matmul_conductances(fast, &gp, &gn);
    mx_matmul_conductances(cell, &gp2, &gn2);
    assert_memory_equal(gp, gp2, NOISE_OUT * NOISE_IN * sizeof *gp);
    assert_memory_equal(gn, gn2, NOISE_OUT * NOISE_IN * sizeof *gn);
    double v[NOISE_IN], mean_th[NOISE_OUT], var_th[NOISE_OUT], ref[NOISE_OUT];
    row_voltages(&su.xbar, x, NOISE_IN, v);
    const double scale = output_scale(fast);
    float_matmul(w, x, NOISE_OUT, NOISE_IN, ref);
    for (size_t o = 0; o < NOISE_OUT; o++) {
        double m = 0.0, s2 = 0.0;
        for (size_t j = 0; j < NOISE_IN; j++) {
            const double p = (double)gp[j * NOISE_OUT + o], n = (double)gn[j * NOISE_OUT + o];
            m += v[j] * (p - n);
            s2 += v[j] * v[j] * (p * p + n * n);
        }
        mean_th[o] = scale * m;
        var_th[o] = scale * scale * sigma * sigma * s2;
        /* The ideal device's mean is W·x. */
        assert_close(mean_th[o], ref[o], 1e-6 * max_abs(ref, NOISE_OUT), 0.0);
    }

    float *samples[3];
    samples[0] = sample_reads(fast, PATH_FAST, x, "test.read.fast");
    samples[1] = sample_reads(cell, PATH_PER_CELL_MODE, x, "test.read.cell");
    samples[2] = sample_reads(fast, PATH_REFERENCE, x, "test.read.reference");
    for (int p = 0; p < 3; p++) {
        for (size_t o = 0; o < NOISE_OUT; o++) {
            double s = 0.0;
            for (size_t k = 0; k < NOISE_READS; k++)
                s += (double)samples[p][k * NOISE_OUT + o];
            const double mean = s / NOISE_READS;
            double ss = 0.0;
            for (size_t k = 0; k < NOISE_READS; k++) {
                const double d = (double)samples[p][k * NOISE_OUT + o] - mean;
                ss += d * d;
            }
            const double var = ss / (NOISE_READS - 1);
            /* Gaussian (a sum of Gaussian cell reads): SE(mean) =
             * sqrt(var/N), SE(sample variance) = var·sqrt(2/(N − 1)). */
            assert_within_sigma(mean, mean_th[o], sqrt(var_th[o] / NOISE_READS), 4.0);
            assert_within_sigma(var, var_th[o], var_th[o] * sqrt(2.0 / (NOISE_READS - 1)), 4.0);
        }
    }
    /* Shape, not just moments: two-sample KS of column 0, fast vs per-cell,
     * against the asymptotic critical value at α = 1e-3:
     * c(α)·sqrt((n + m)/(n·m)) with c(α) = sqrt(−ln(α/2)/2) ≈ 1.9495. */
    const double d = ks_two_sample(samples[0], samples[1], NOISE_READS, NOISE_OUT, 0);
    const double d_crit = sqrt(-log(1e-3 / 2.0) / 2.0) * sqrt(2.0 / NOISE_READS);
    if (!(d < d_crit))
        print_error("KS: D = %.4f >= %.4f\n", d, d_crit);
    assert_true(d < d_crit);

    /* Regression pins, computed once from this implementation: the first
     * read of column 0 on each path. They move if the draw order of read
     * noise changes; the tolerance only absorbs libm differences. */
    assert_close(samples[0][0], -1.14459205, 0.0, 1e-5);
    assert_close(samples[1][0], -1.06497622, 0.0, 1e-5);
    for (int p = 0; p < 3; p++)
        free(samples[p]);
    mx_matmul_destroy(fast);
    mx_matmul_destroy(cell);
    free(w);
    free(x);
}

static void test_read_noise_is_fresh_at_every_read(void **state)
{
    (void)state;
    setup su = ideal_setup(MX_INPUT_SPIKES, 8, 8);
    su.dev.read_noise_sigma = 0.02;
    const size_t n_out = 12, n_in = 20;
    float *w = random_floats(n_out * n_in, -1.0, 1.0, 80);
    float *x = random_spikes(n_in, 0.5, 81);
    mx_matmul *mm = create_ok(w, n_out, n_in, &su, SEED, 5);
    mx_matmul_work *wk = work_ok(mm);
    float y1[12], y2[12], y3[12];
    mx_rng r;
    mx_rng_init_named(&r, SEED, "test.read", 0);
    mx_matmul_forward(mm, wk, x, y1, &r, NULL, NULL);
    mx_matmul_forward(mm, wk, x, y2, &r, NULL, NULL); /* the stream moves on */
    size_t same = 0;
    for (size_t o = 0; o < n_out; o++)
        same += y1[o] == y2[o];
    assert_true(same == 0);
    mx_rng_init_named(&r, SEED, "test.read", 0); /* repositioned: repeats */
    mx_matmul_forward(mm, wk, x, y3, &r, NULL, NULL);
    assert_memory_equal(y1, y3, sizeof y1);
    mx_matmul_work_destroy(wk);
    mx_matmul_destroy(mm);
    free(w);
    free(x);
}

/* ---- mapping ------------------------------------------------------------------ */

static void test_largest_weight_spans_the_full_window_and_zero_maps_to_g_min(void **state)
{
    (void)state;
    /* W (3, 4): the largest |w| is −2.5 at [0, 1]; a second matrix has its
     * largest +3 at [2, 3]. A non-default window checks nothing assumes it. */
    const float w_neg[12] = {0.5f, -2.5f, 0.0f,  1.0f, 2.0f,  0.25f,
                             -1.0f, 0.0f, 0.0f, 0.0f, -0.125f, 1.5f};
    const float w_pos[12] = {0.5f, -2.5f, 0.0f, 1.0f, 2.0f, 0.25f,
                             -1.0f, 0.0f, 0.0f, 0.0f, -0.125f, 3.0f};
    const size_t n_out = 3, n_in = 4;
    for (int m = 0; m < 2; m++) {
        const float *w = m ? w_pos : w_neg;
        const double w_max = m ? 3.0 : 2.5;
        setup su = ideal_setup(MX_INPUT_DAC, 128, 128);
        su.dev.g_min_s = 2e-6;
        su.dev.g_max_s = 3.3e-5;
        mx_matmul *mm = create_ok(w, n_out, n_in, &su, SEED, 6);
        mx_mapping map = mx_matmul_mapping(mm);
        assert_true(map.w_abs_max == w_max);
        /* One division: within an ulp. */
        assert_close(map.siemens_per_unit, (su.dev.g_max_s - su.dev.g_min_s) / w_max, 0.0,
                     2.0 * DBL_EPSILON);
        const float *gp, *gn;
        mx_matmul_conductances(mm, &gp, &gn);
        const float g_min = (float)su.dev.g_min_s, g_max = (float)su.dev.g_max_s;
        for (size_t o = 0; o < n_out; o++)
            for (size_t j = 0; j < n_in; j++) {
                const double wv = (double)w[o * n_in + j];
                const float p = gp[j * n_out + o], n = gn[j * n_out + o];
                if (fabs(wv) == w_max) { /* exactly the window's ends */
                    assert_true((wv > 0 ? p : n) == g_max);
                    assert_true((wv > 0 ? n : p) == g_min);
                } else if (wv == 0.0) {
                    assert_true(p == g_min && n == g_min);
                } else {
                    /* g_min + |w|·S per unit on the signed side, g_min on the
                     * other; one float rounding. */
                    const double want = su.dev.g_min_s + fabs(wv) * map.siemens_per_unit;
                    assert_close(wv > 0 ? p : n, want, 0.0, FLT_EPS);
                    assert_true((wv > 0 ? n : p) == g_min);
                }
            }
        mx_matmul_destroy(mm);
    }
}

/* ---- ADC ------------------------------------------------------------------------- */

static void test_adc_error_is_within_half_a_step_per_active_tile(void **state)
{
    (void)state;
    const size_t n_out = 20, n_in = 100; /* 16-row tiles: 7, the last with 4 rows */
    float *w = random_floats(n_out * n_in, -1.0, 1.0, 90);
    const int bits[] = {4, 6, 8};
    for (int input = 0; input < 2; input++)
        for (size_t b = 0; b < 3; b++) {
            const mx_input_mode mode = input ? MX_INPUT_SPIKES : MX_INPUT_DAC;
            setup su = ideal_setup(mode, 16, 8);
            su.adc.kind = MX_ADC_UNIFORM;
            su.adc.bits = bits[b];
            mx_matmul *mm = create_ok(w, n_out, n_in, &su, SEED, 7);
            mx_matmul_work *wk = work_ok(mm);
            float *x = mode == MX_INPUT_SPIKES ? random_spikes(n_in, 0.5, 91)
                                               : random_floats(n_in, -1.0, 1.0, 91);
            for (size_t j = 32; j < 48; j++)
                x[j] = 0.0f; /* row tile 2 is silent: not read, not converted */
            const size_t n_tiles = mx_matmul_n_row_tiles(mm), n_active = active_tiles(mm, x);
            assert_int_equal(n_tiles, 7);
            assert_int_equal(n_active, 6);
            double *cur = tile_currents(mm, x);
            const double cmax = max_abs(cur, n_tiles * n_out);
            /* Range just above the largest tile current: nothing clips. */
            const double range = 1.01 * cmax;
            assert_int_equal(mx_matmul_set_adc_range(mm, range), MX_OK);
            assert_true(mx_matmul_adc_range(mm) == range);
            double ref[20];
            float y[20], rec_values[7 * 20];
            float_matmul(w, x, n_out, n_in, ref);
            mx_matmul_stats st = {0};
            mx_current_recorder rec = {.values = rec_values, .capacity = 7 * 20};
            mx_rng r;
            mx_rng_init_named(&r, SEED, "test.read", 0);
            mx_matmul_forward(mm, wk, x, y, &r, &st, &rec);
            assert_true(st.conversions == n_active * n_out);
            assert_true(st.reads == n_active);
            assert_true(st.clipped == 0);
            /* The recorder saw every active tile's currents before the ADC. */
            assert_int_equal(rec.count, n_active * n_out);
            size_t k = 0;
            for (size_t t = 0; t < n_tiles; t++) {
                if (t == 2)
                    continue;
                for (size_t o = 0; o < n_out; o++, k++)
                    assert_close(rec_values[k], cur[t * n_out + o], 1e-6 * cmax, 0.0);
            }
            /* |y − W·x| ≤ n_active·Δ/2 in weight units, plus float rounding. */
            const double step = range / ldexp(1.0, bits[b] - 1);
            const double bound = (double)n_active * 0.5 * step * output_scale(mm);
            for (size_t o = 0; o < n_out; o++)
                assert_close(y[o], ref[o], bound + IDEAL_REL_TOL * max_abs(ref, n_out), 0.0);

            /* A small range clips: count exactly the tile currents beyond it
             * (the range is nudged so none sits within 1e-4 of an edge,
             * where float and double could disagree). */
            double small = 0.3 * cmax;
            for (int again = 1; again;) {
                again = 0;
                for (size_t i = 0; i < n_tiles * n_out; i++)
                    if (fabs(fabs(cur[i]) - small) < 1e-4 * small)
                        again = 1;
                if (again)
                    small *= 1.001;
            }
            assert_int_equal(mx_matmul_set_adc_range(mm, small), MX_OK);
            uint64_t want_clipped = 0;
            for (size_t t = 0; t < n_tiles; t++)
                for (size_t o = 0; o < n_out && t != 2; o++)
                    want_clipped += fabs(cur[t * n_out + o]) > small;
            mx_matmul_stats st2 = {0};
            mx_matmul_forward(mm, wk, x, y, &r, &st2, NULL);
            assert_true(want_clipped > 0);
            assert_true(st2.clipped == want_clipped);
            assert_true(st2.conversions == n_active * n_out);
            free(cur);
            free(x);
            mx_matmul_work_destroy(wk);
            mx_matmul_destroy(mm);
        }
    free(w);
}

static void test_stats_accumulate_and_exact_adc_counts_no_conversions(void **state)
{
    (void)state;
    const size_t n_out = 9, n_in = 30;
    float *w = random_floats(n_out * n_in, -1.0, 1.0, 95);
    float *x = random_spikes(n_in, 0.5, 96);
    setup su = ideal_setup(MX_INPUT_SPIKES, 10, 4);
    mx_matmul *mm = create_ok(w, n_out, n_in, &su, SEED, 8);
    assert_true(mx_matmul_adc_range(mm) == 0.0);
    assert_int_equal(mx_matmul_set_adc_range(mm, 5.0), MX_OK); /* no effect for NONE */
    mx_matmul_work *wk = work_ok(mm);
    float y[9];
    mx_matmul_stats st = {0};
    mx_rng r;
    mx_rng_init_named(&r, SEED, "test.read", 0);
    for (int i = 0; i < 3; i++)
        mx_matmul_forward(mm, wk, x, y, &r, &st, NULL);
    assert_true(st.conversions == 0);
    assert_true(st.clipped == 0);
    assert_true(st.reads == 3 * active_tiles(mm, x));
    mx_matmul_work_destroy(wk);
    mx_matmul_destroy(mm);
    free(w);
    free(x);
}

/* ---- determinism ------------------------------------------------------------------ */

static setup noisy_programming(void)
{
    setup su = ideal_setup(MX_INPUT_SPIKES, 32, 32);
    su.dev.d2d_sigma = 0.1;
    su.dev.prog_noise_coeffs[0] = 0.01;
    su.dev.prog_noise_coeffs[1] = 0.02;
    su.dev.stuck_at_gmin_frac = 0.01;
    su.dev.stuck_at_gmax_frac = 0.01;
    return su;
}

/* Cells programmed strictly inside the window in `a` that hold the same
 * value in `b`. Cells at an edge (stuck, or clamped — half of the g_min
 * targets clamp at g_min) coincide legitimately and are skipped; two
 * independent draws of an interior cell coincide with probability ~1e-6. */
static size_t count_equal_interior(const float *a, const float *b, size_t n, const setup *s)
{
    size_t same = 0;
    for (size_t i = 0; i < n; i++)
        if (a[i] > (float)s->dev.g_min_s && a[i] < (float)s->dev.g_max_s)
            same += a[i] == b[i];
    return same;
}

static void test_programming_is_a_function_of_seed_and_layer_id(void **state)
{
    (void)state;
    const size_t n_out = 40, n_in = 70, n = n_out * n_in;
    float *w = random_floats(n, -1.0, 1.0, 100);
    setup su = noisy_programming();
    mx_matmul *a = create_ok(w, n_out, n_in, &su, SEED, 9);
    mx_matmul *b = create_ok(w, n_out, n_in, &su, SEED, 9);
    mx_matmul *c = create_ok(w, n_out, n_in, &su, SEED, 10);
    mx_matmul *d = create_ok(w, n_out, n_in, &su, SEED + 1, 9);
    const float *ap, *an, *bp, *bn, *cp, *cn, *dp, *dn;
    mx_matmul_conductances(a, &ap, &an);
    mx_matmul_conductances(b, &bp, &bn);
    mx_matmul_conductances(c, &cp, &cn);
    mx_matmul_conductances(d, &dp, &dn);
    assert_memory_equal(ap, bp, n * sizeof *ap);
    assert_memory_equal(an, bn, n * sizeof *an);
    /* A different layer or seed draws afresh. */
    assert_true(memcmp(ap, cp, n * sizeof *ap) != 0);
    assert_true(memcmp(ap, dp, n * sizeof *ap) != 0);
    assert_true(count_equal_interior(ap, cp, n, &su) <= 2);
    assert_true(count_equal_interior(an, cn, n, &su) <= 2);
    assert_true(count_equal_interior(ap, dp, n, &su) <= 2);
    assert_true(count_equal_interior(an, dn, n, &su) <= 2);
    mx_matmul_destroy(a);
    mx_matmul_destroy(b);
    mx_matmul_destroy(c);
    mx_matmul_destroy(d);
    free(w);
}

static void test_each_row_draws_from_its_own_documented_stream_item(void **state)
{
    (void)state;
    /* crossbar.h: stream "device.program", item = layer_id·2^32 + input row;
     * the row programs its n_out positive cells, then its n_out negative
     * cells. Rebuild that from the device model directly. */
    const size_t n_out = 11, n_in = 13;
    const uint32_t layer = 3;
    float *w = random_floats(n_out * n_in, -1.0, 1.0, 110);
    setup su = noisy_programming();
    mx_matmul *mm = create_ok(w, n_out, n_in, &su, SEED, layer);
    const float *gp, *gn;
    mx_matmul_conductances(mm, &gp, &gn);
    const mx_mapping map = mx_matmul_mapping(mm);
    for (size_t j = 0; j < n_in; j++) {
        float tp[11], tn[11];
        for (size_t o = 0; o < n_out; o++) {
            const double wv = (double)w[o * n_in + j];
            tp[o] = (float)(su.dev.g_min_s + (wv > 0 ? wv * map.siemens_per_unit : 0.0));
            tn[o] = (float)(su.dev.g_min_s + (wv < 0 ? -wv * map.siemens_per_unit : 0.0));
        }
        mx_rng r;
        mx_rng_init_named(&r, SEED, "device.program", ((uint64_t)layer << 32) | j);
        mx_device_reram.program(&su.dev, NULL, tp, tp, n_out, &r);
        mx_device_reram.program(&su.dev, NULL, tn, tn, n_out, &r);
        assert_memory_equal(tp, gp + j * n_out, n_out * sizeof *tp);
        assert_memory_equal(tn, gn + j * n_out, n_out * sizeof *tn);
    }
    mx_matmul_destroy(mm);
    free(w);
}

static void test_programming_is_independent_of_thread_count(void **state)
{
    (void)state;
    const size_t n_out = 64, n_in = 257, n = n_out * n_in;
    float *w = random_floats(n, -1.0, 1.0, 120);
    setup su = noisy_programming();
    const int saved = omp_get_max_threads();
    const int threads[] = {1, 2, 3};
    const float *gp0 = NULL, *gn0 = NULL;
    mx_matmul *first = NULL;
    for (int t = 0; t < 3; t++) {
        omp_set_num_threads(threads[t]);
        mx_matmul *mm = create_ok(w, n_out, n_in, &su, SEED, 11);
        const float *gp, *gn;
        mx_matmul_conductances(mm, &gp, &gn);
        if (!first) {
            first = mm;
            gp0 = gp;
            gn0 = gn;
            continue;
        }
        assert_memory_equal(gp, gp0, n * sizeof *gp);
        assert_memory_equal(gn, gn0, n * sizeof *gn);
        mx_matmul_destroy(mm);
    }
    omp_set_num_threads(saved);
    mx_matmul_destroy(first);
    free(w);
}

/* ---- errors ---------------------------------------------------------------------- */

static mx_status try_create(const float *w, size_t n_out, size_t n_in, const setup *s,
                            mx_matmul **out)
{
    *out = (mx_matmul *)(uintptr_t)0x1; /* must be reset to NULL on failure */
    mx_clear_error();
    return mx_matmul_create(w, n_out, n_in, &s->xbar, &mx_device_reram, &s->dev, &s->adc, SEED,
                            12, out);
}

static void test_non_finite_weight_is_rejected_naming_it(void **state)
{
    (void)state;
    float w[12];
    for (size_t i = 0; i < 12; i++)
        w[i] = 0.1f * (float)i;
    setup su = ideal_setup(MX_INPUT_DAC, 128, 128);
    mx_matmul *mm;
    w[1 * 4 + 2] = NAN; /* W (3, 4): [1, 2] */
    assert_int_equal(try_create(w, 3, 4, &su, &mm), MX_EINVAL);
    assert_null(mm);
    assert_error_mentions("weight [1, 2]");
    w[1 * 4 + 2] = 0.0f;
    w[2 * 4 + 3] = -INFINITY;
    assert_int_equal(try_create(w, 3, 4, &su, &mm), MX_EINVAL);
    assert_null(mm);
    assert_error_mentions("weight [2, 3]");
}

static void test_empty_or_oversized_matrix_is_rejected(void **state)
{
    (void)state;
    float w[4] = {1, 2, 3, 4};
    setup su = ideal_setup(MX_INPUT_DAC, 128, 128);
    mx_matmul *mm;
    assert_int_equal(try_create(w, 0, 4, &su, &mm), MX_EINVAL);
    assert_null(mm);
    assert_int_equal(try_create(w, 4, 0, &su, &mm), MX_EINVAL);
    assert_null(mm);
    assert_int_equal(try_create(w, 0, 0, &su, &mm), MX_EINVAL);
    assert_null(mm);
    /* Rejected from the shape alone, before w is read. */
    assert_int_equal(try_create(w, SIZE_MAX / 2, 4, &su, &mm), MX_EINVAL);
    assert_null(mm);
    assert_int_equal(try_create(w, SIZE_MAX / 64, SIZE_MAX / 64, &su, &mm), MX_EINVAL);
    assert_null(mm);
}

static void test_bad_configs_propagate_their_module_messages(void **state)
{
    (void)state;
    float w[6] = {1, -2, 3, 0, 0.5f, -0.25f};
    mx_matmul *mm;
    setup su = ideal_setup(MX_INPUT_DAC, 128, 128);
    su.dev.g_min_s = 0.0;
    assert_int_equal(try_create(w, 2, 3, &su, &mm), MX_EINVAL);
    assert_null(mm);
    assert_error_mentions("hardware.device.g_min_s");

    su = ideal_setup(MX_INPUT_DAC, 128, 128);
    su.dev.read_noise_sigma = -1.0;
    assert_int_equal(try_create(w, 2, 3, &su, &mm), MX_EINVAL);
    assert_error_mentions("hardware.device.read_noise_sigma");

    su = ideal_setup(MX_INPUT_DAC, 0, 128);
    assert_int_equal(try_create(w, 2, 3, &su, &mm), MX_EINVAL);
    assert_null(mm);
    assert_error_mentions("hardware.crossbar.tile_rows");

    su = ideal_setup(MX_INPUT_DAC, 128, 128);
    su.adc.kind = MX_ADC_UNIFORM;
    su.adc.bits = 17;
    assert_int_equal(try_create(w, 2, 3, &su, &mm), MX_EINVAL);
    assert_null(mm);
    assert_error_mentions("hardware.adc.bits");
}

static void test_adc_range_must_be_positive_and_finite(void **state)
{
    (void)state;
    float w[6] = {1, -2, 3, 0, 0.5f, -0.25f};
    setup su = ideal_setup(MX_INPUT_DAC, 128, 128);
    su.adc.kind = MX_ADC_UNIFORM;
    mx_matmul *mm = create_ok(w, 2, 3, &su, SEED, 13);
    assert_int_equal(mx_matmul_set_adc_range(mm, 1e-5), MX_OK);
    const double bad[] = {0.0, -1e-5, (double)NAN, (double)INFINITY};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(mx_matmul_set_adc_range(mm, bad[i]), MX_EINVAL);
    assert_true(mx_matmul_adc_range(mm) == 1e-5); /* a rejected range changes nothing */
    assert_int_equal(mx_matmul_n_in(mm), 3);
    assert_int_equal(mx_matmul_n_out(mm), 2);
    mx_matmul_destroy(mm);
    mx_matmul_destroy(NULL);
    mx_matmul_work_destroy(NULL);
}

/* ---- allocation failure ------------------------------------------------------------ */

static void test_create_fails_cleanly_at_every_allocation(void **state)
{
    (void)state;
    const size_t n_out = 19, n_in = 45;
    float *w = random_floats(n_out * n_in, -1.0, 1.0, 130);
    setup su = noisy_programming();
    long n = 1;
    for (;; n++) {
        mx_matmul *mm = (mx_matmul *)(uintptr_t)0x1;
        mx_alloc_fail_after(n);
        mx_status st = mx_matmul_create(w, n_out, n_in, &su.xbar, &mx_device_reram, &su.dev,
                                        &su.adc, SEED, 14, &mm);
        mx_alloc_fail_after(0);
        if (st == MX_OK) {
            assert_non_null(mm);
            mx_matmul_destroy(mm);
            break;
        }
        assert_int_equal(st, MX_ENOMEM);
        assert_null(mm);
        assert_true(n < 100);
    }
    assert_true(n > 1); /* at least one allocation was failed */
    free(w);
}

static void test_work_create_fails_cleanly_at_every_allocation(void **state)
{
    (void)state;
    const size_t n_out = 19, n_in = 45;
    float *w = random_floats(n_out * n_in, -1.0, 1.0, 131);
    setup su = ideal_setup(MX_INPUT_SPIKES, 16, 16);
    mx_matmul *mm = create_ok(w, n_out, n_in, &su, SEED, 15);
    long n = 1;
    for (;; n++) {
        mx_matmul_work *wk = (mx_matmul_work *)(uintptr_t)0x1;
        mx_alloc_fail_after(n);
        mx_status st = mx_matmul_work_create(mm, &wk);
        mx_alloc_fail_after(0);
        if (st == MX_OK) {
            assert_non_null(wk);
            /* The workspace that finally succeeded works. */
            float *x = random_spikes(n_in, 0.5, 132), y[19];
            double ref[19];
            mx_rng r;
            mx_rng_init_named(&r, SEED, "test.read", 0);
            mx_matmul_forward(mm, wk, x, y, &r, NULL, NULL);
            float_matmul(w, x, n_out, n_in, ref);
            assert_matches(y, ref, n_out, IDEAL_REL_TOL, "after ENOMEM walk");
            free(x);
            mx_matmul_work_destroy(wk);
            break;
        }
        assert_int_equal(st, MX_ENOMEM);
        assert_null(wk);
        assert_true(n < 100);
    }
    assert_true(n > 1);
    mx_matmul_destroy(mm);
    free(w);
}

/* ---- ageing (pcm) -------------------------------------------------------------- */

/* E[D], D = ((t + t0)/t0)^−|ν|, ν ~ N(μ, σ): Simpson's rule on ξ in [−10, 10]
 * with 4000 intervals (smooth integrand; tails beyond 10 σ weigh < 1e-22). */
static double mean_drift_factor(double g_hat, double t_s, double t0_s)
{
    const double mu = mx_pcm_drift_mean(g_hat), sd = mx_pcm_drift_std(g_hat);
    const double lr = log((t_s + t0_s) / t0_s), h = 20.0 / 4000;
    double sum = 0.0;
    for (int i = 0; i <= 4000; i++) {
        double xi = -10.0 + h * i;
        double f = exp(-0.5 * xi * xi) / sqrt(2.0 * M_PI) * exp(-fabs(mu + sd * xi) * lr);
        sum += f * (i == 0 || i == 4000 ? 1.0 : (i % 2 ? 4.0 : 2.0));
    }
    return sum * h / 3.0;
}

static mx_matmul *create_with(const mx_device_type *type, const float *w, size_t n_out,
                              size_t n_in, const setup *s)
{
    mx_matmul *mm = NULL;
    mx_status st =
        mx_matmul_create(w, n_out, n_in, &s->xbar, type, &s->dev, &s->adc, SEED, 3, &mm);
    if (st != MX_OK) {
        print_error("mx_matmul_create: %s: %s\n", mx_strerror(st), mx_last_error());
        fail();
    }
    return mm;
}

/* All weights +1, every row driven: y_o = Σ_j (G+ − G−)/spu with G+ at g_max
 * (ĝ = 1) and G− at g_min (ĝ = 0.1). After t the mean output is
 * n_in·(g_max·E[D(1)] − g_min·E[D(0.1)])/(g_max − g_min): the drift factor
 * of the programmed state, slightly raised by the g_min offset drifting too.
 * Programming and 1/f noise are zero-mean (clamping at 0 is > 5 σ away).
 * SE of the mean over outputs = sample std of y_o / sqrt(n_out). */
static void test_pcm_crossbar_output_shrinks_by_the_drift_factor(void **state)
{
    (void)state;
    const size_t n_out = 64, n_in = 256;
    float *w = malloc(n_out * n_in * sizeof *w), *x = malloc(n_in * sizeof *x);
    float *y = malloc(n_out * sizeof *y);
    assert_non_null(w);
    assert_non_null(x);
    assert_non_null(y);
    for (size_t i = 0; i < n_out * n_in; i++)
        w[i] = 1.0f;
    for (size_t j = 0; j < n_in; j++)
        x[j] = 1.0f;
    setup su = ideal_setup(MX_INPUT_SPIKES, 128, 128);
    su.dev.g_min_s = 2.5e-6;
    su.dev.g_max_s = 25e-6;
    const double times[] = {0.0, 3600.0};
    for (size_t k = 0; k < 2; k++) {
        su.dev.t_inference_s = times[k];
        mx_matmul *mm = create_with(&mx_device_pcm, w, n_out, n_in, &su);
        mx_matmul_work *wk = work_ok(mm);
        mx_rng r;
        mx_rng_init_named(&r, SEED, "test.read", 0);
        mx_matmul_forward(mm, wk, x, y, &r, NULL, NULL);
        double mean = 0.0, ss = 0.0;
        for (size_t o = 0; o < n_out; o++)
            mean += (double)y[o] / (double)n_in;
        mean /= (double)n_out;
        for (size_t o = 0; o < n_out; o++)
            ss += ((double)y[o] / (double)n_in - mean) * ((double)y[o] / (double)n_in - mean);
        const double se = sqrt(ss / (double)(n_out - 1) / (double)n_out);
        const double g_hat_min = su.dev.g_min_s / su.dev.g_max_s;
        const double expect =
            times[k] == 0.0
                ? 1.0
                : (su.dev.g_max_s * mean_drift_factor(1.0, times[k], su.dev.drift_t0_s) -
                   su.dev.g_min_s * mean_drift_factor(g_hat_min, times[k], su.dev.drift_t0_s)) /
                      (su.dev.g_max_s - su.dev.g_min_s);
        print_message("pcm crossbar t = %g s: mean output / W·x = %.4f (expected %.4f, SE %.4f)\n",
                      times[k], mean, expect, se);
        assert_within_sigma(mean, expect, se, 4.0);
        if (times[k] > 0.0) /* ≈ the 1 h drift factor of the programmed state */
            assert_close(mean, mean_drift_factor(1.0, times[k], su.dev.drift_t0_s), 0.01, 0.0);
        mx_matmul_work_destroy(wk);
        mx_matmul_destroy(mm);
    }
    free(w);
    free(x);
    free(y);
}

/* reram has no age: t_inference_s changes nothing, bit for bit. */
static void test_inference_time_leaves_a_non_ageing_device_unchanged(void **state)
{
    (void)state;
    const size_t n_out = 40, n_in = 70, n = n_out * n_in;
    float *w = random_floats(n, -1.0, 1.0, 101);
    setup su = noisy_programming();
    mx_matmul *a = create_ok(w, n_out, n_in, &su, SEED, 9);
    su.dev.t_inference_s = 86400.0;
    mx_matmul *b = create_ok(w, n_out, n_in, &su, SEED, 9);
    const float *ap, *an, *bp, *bn;
    mx_matmul_conductances(a, &ap, &an);
    mx_matmul_conductances(b, &bp, &bn);
    assert_memory_equal(ap, bp, n * sizeof *ap);
    assert_memory_equal(an, bn, n * sizeof *an);
    mx_matmul_destroy(a);
    mx_matmul_destroy(b);
    free(w);
}

/* A sinh or NeuroSim cell I–V bends each row's current by φ(V)/V, the same
 * for every conductance (the forms are separable, I = G·φ(V)): the ideal
 * crossbar then computes Σ_j w_oj·fs·φ(v_j)/V_read, v_j = V_read·x_j/fs —
 * checked against that closed form on both paths. Spikes drive every row at
 * V_read = iv.v_read_v, where the nonlinear forms equal the linear one. */
static void check_iv(mx_iv_kind kind)
{
    const size_t n_out = 23, n_in = 41;
    const double fs = 1.5;
    setup su = ideal_setup(MX_INPUT_DAC, 16, 8);
    su.xbar.input_full_scale = fs;
    su.dev.iv.kind = kind;
    su.dev.iv.v_read_v = su.xbar.read_voltage_v;
    float *w = random_floats(n_out * n_in, -1.0, 1.0, 201);
    float *x = random_floats(n_in, -fs, fs, 202);
    mx_matmul *mm = create_ok(w, n_out, n_in, &su, SEED, 1);
    mx_matmul_work *wk = work_ok(mm);
    float *y = malloc(n_out * sizeof *y);
    double *ref = calloc(n_out, sizeof *ref);
    assert_non_null(y);
    assert_non_null(ref);
    const double vr = su.xbar.read_voltage_v;
    for (size_t o = 0; o < n_out; o++)
        for (size_t j = 0; j < n_in; j++) {
            double v = vr * (double)x[j] / fs, phi;
            if (kind == MX_IV_SINH) {
                double b = su.dev.iv.sinh_b_per_v;
                phi = vr * sinh(b * v) / sinh(b * vr);
            } else {
                /* I/G = V_r·NL^((|V| − V_r)/(V_w/2)), odd in V */
                phi = vr * pow(su.dev.iv.nl, (fabs(v) - vr) / (0.5 * su.dev.iv.v_write_v));
                phi = v < 0.0 ? -phi : phi;
            }
            ref[o] += (double)w[o * n_in + j] * fs * phi / vr;
        }
    mx_rng r;
    mx_rng_init_named(&r, SEED, "test.read", 0);
    mx_matmul_forward(mm, wk, x, y, &r, NULL, NULL);
    assert_matches(y, ref, n_out, IDEAL_REL_TOL, "forward, nonlinear I-V");
    mx_matmul_forward_reference(mm, wk, x, y, &r, NULL);
    assert_matches(y, ref, n_out, IDEAL_REL_TOL, "forward_reference, nonlinear I-V");
    mx_matmul_work_destroy(wk);
    mx_matmul_destroy(mm);

    /* Spikes at V_read: the linear result. */
    su.xbar.input = MX_INPUT_SPIKES;
    float *sp = random_spikes(n_in, 0.5, 203);
    mm = create_ok(w, n_out, n_in, &su, SEED, 1);
    wk = work_ok(mm);
    float_matmul(w, sp, n_out, n_in, ref);
    mx_matmul_forward(mm, wk, sp, y, &r, NULL, NULL);
    assert_matches(y, ref, n_out, IDEAL_REL_TOL, "spikes, nonlinear I-V");
    mx_matmul_work_destroy(wk);
    mx_matmul_destroy(mm);
    free(sp);
    free(w);
    free(x);
    free(y);
    free(ref);
}

static void test_nonlinear_cell_iv_bends_each_row_by_its_closed_form(void **state)
{
    (void)state;
    check_iv(MX_IV_SINH);
    check_iv(MX_IV_NEUROSIM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crossbar_config_defaults_are_valid),
        cmocka_unit_test(test_crossbar_config_validation_names_each_bad_field),
        cmocka_unit_test(test_ideal_dac_mvm_matches_float_matmul_on_odd_shapes),
        cmocka_unit_test(test_ideal_spike_mvm_matches_float_matmul_on_odd_shapes),
        cmocka_unit_test(test_dac_quantises_and_clamps_inputs),
        cmocka_unit_test(test_tiling_does_not_change_the_ideal_result),
        cmocka_unit_test(test_nonlinear_cell_iv_bends_each_row_by_its_closed_form),
        cmocka_unit_test(test_all_zero_matrix_maps_to_g_min_and_gives_zero),
        cmocka_unit_test(test_fast_path_equals_reference_twin_bit_for_bit_without_read_noise),
        cmocka_unit_test(test_output_referred_noise_is_exact_in_distribution),
        cmocka_unit_test(test_read_noise_is_fresh_at_every_read),
        cmocka_unit_test(test_largest_weight_spans_the_full_window_and_zero_maps_to_g_min),
        cmocka_unit_test(test_adc_error_is_within_half_a_step_per_active_tile),
        cmocka_unit_test(test_stats_accumulate_and_exact_adc_counts_no_conversions),
        cmocka_unit_test(test_programming_is_a_function_of_seed_and_layer_id),
        cmocka_unit_test(test_each_row_draws_from_its_own_documented_stream_item),
        cmocka_unit_test(test_programming_is_independent_of_thread_count),
        cmocka_unit_test(test_pcm_crossbar_output_shrinks_by_the_drift_factor),
        cmocka_unit_test(test_inference_time_leaves_a_non_ageing_device_unchanged),
        cmocka_unit_test(test_non_finite_weight_is_rejected_naming_it),
        cmocka_unit_test(test_empty_or_oversized_matrix_is_rejected),
        cmocka_unit_test(test_bad_configs_propagate_their_module_messages),
        cmocka_unit_test(test_adc_range_must_be_positive_and_finite),
        cmocka_unit_test(test_create_fails_cleanly_at_every_allocation),
        cmocka_unit_test(test_work_create_fails_cleanly_at_every_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
