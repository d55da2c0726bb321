/* SPDX-License-Identifier: MIT
 *
 * test_snn.c: spiking neurons against their closed forms, the rate encoder
 * against its probabilities, and ANN→SNN conversion on the UCI digits (small
 * and fast) on the digital reference and on an ideal crossbar.
 */
#include "tests/support/mx_test.h"

#include <stdlib.h>
#include <string.h>

#include "calibration/calibration.h"
#include "crossbar/crossbar.h"
#include "experiments/dataset.h"
#include "snn/snn.h"
#include "snn/train.h"

/* --- neurons ----------------------------------------------------------- */

static void test_lif_membrane_matches_closed_form_below_threshold(void **state)
{
    (void)state;
    mx_snn_config c;
    mx_snn_config_default(&c);
    c.neuron = MX_NEURON_LIF;
    c.tau_mem_s = 20e-3;
    c.dt_s = 1e-3;
    const double d = mx_neuron_decay(&c);
    assert_close(d, exp(-0.05), 1e-15, 0.0);
    /* Constant input I from v = 0: v_t = I·(1 − d^t)/(1 − d), the geometric
     * series of the exact per-step update. Stays below threshold 1 for
     * I = 0.04 (limit I/(1 − d) ≈ 0.82). */
    const float input = 0.04f;
    float v = 0.0f, spike;
    for (int t = 1; t <= 200; t++) {
        size_t fired = mx_neuron_step(1, &v, &input, (float)d, 1.0f, &spike);
        assert_int_equal(fired, 0);
        double expect = (double)input * (1.0 - pow(d, t)) / (1.0 - d);
        /* float state over 200 updates: a few hundred ulps of relative error */
        assert_close(v, expect, 0.0, 2e-5);
    }
}

static void test_lif_first_spike_time_matches_closed_form(void **state)
{
    (void)state;
    /* With v_t = I(1 − d^t)/(1 − d), the first spike is the smallest t with
     * v_t ≥ 1: t* = ceil(ln(1 − (1 − d)/I)/ln d). */
    const double d = exp(-1.0 / 20.0);
    const float input = 0.1f;
    double t_star = ceil(log(1.0 - (1.0 - d) / (double)input) / log(d));
    float v = 0.0f, spike = 0.0f;
    int t = 0;
    while (spike == 0.0f && t < 1000) {
        mx_neuron_step(1, &v, &input, (float)d, 1.0f, &spike);
        t++;
    }
    assert_int_equal(t, (int)t_star);
}

static void test_if_neuron_rate_equals_input_with_reset_by_subtraction(void **state)
{
    (void)state;
    /* IF with reset by subtraction integrates exactly: after T steps of
     * input I (exact binary fraction), spikes = floor(T·I), v = T·I − spikes. */
    float v[3] = {0}, in[3] = {0.25f, 0.5f, 0.875f}, s[3];
    size_t counts[3] = {0};
    for (int t = 0; t < 64; t++) {
        mx_neuron_step(3, v, in, 1.0f, 1.0f, s);
        for (int i = 0; i < 3; i++)
            counts[i] += (size_t)s[i];
    }
    assert_int_equal(counts[0], 16);
    assert_int_equal(counts[1], 32);
    assert_int_equal(counts[2], 56);
    for (int i = 0; i < 3; i++)
        assert_close(v[i], 0.0, 1e-6, 0.0);
}

/* --- encoder ------------------------------------------------------------ */

static void test_bernoulli_encoder_rate_matches_intensity(void **state)
{
    (void)state;
    mx_snn_config c;
    mx_snn_config_default(&c);
    const float intensity[4] = {0.0f, 0.3f, 0.77f, 1.0f};
    double count[4] = {0};
    float s[4];
    mx_rng r;
    mx_rng_init_named(&r, 42, "snn.encode", 0);
    const int steps = 200000;
    for (int t = 0; t < steps; t++) {
        mx_encode_step(&c, intensity, 4, &r, s);
        for (int i = 0; i < 4; i++)
            count[i] += (double)s[i];
    }
    assert_int_equal((int)count[0], 0);
    assert_int_equal((int)count[3], steps);
    for (int i = 1; i < 3; i++) {
        double p = (double)intensity[i], se = sqrt(p * (1 - p) / steps);
        assert_within_sigma(count[i] / steps, p, se, 4.0);
    }
}

static void test_poisson_encoder_rate_matches_exponential_waiting_time(void **state)
{
    (void)state;
    mx_snn_config c;
    mx_snn_config_default(&c);
    c.encoder = MX_ENCODER_POISSON;
    c.max_rate_hz = 200.0;
    c.dt_s = 1e-3;
    const float intensity = 0.5f; /* 100 Hz: P(spike in 1 ms) = 1 − e^−0.1 */
    double p = -expm1(-0.1), count = 0;
    float s;
    mx_rng r;
    mx_rng_init_named(&r, 7, "snn.encode", 3);
    const int steps = 200000;
    for (int t = 0; t < steps; t++) {
        mx_encode_step(&c, &intensity, 1, &r, &s);
        count += (double)s;
    }
    assert_within_sigma(count / steps, p, sqrt(p * (1 - p) / steps), 4.0);
}

/* The encoder as it was written before the per-example thresholds (one
 * expm1 and one mx_rng_bernoulli per input per step, an extra word where
 * the Bernoulli draws none): the split encoder must give the same spikes
 * and leave the stream where this leaves it. */
static void encode_step_plain(const mx_snn_config *c, const float *intensity, size_t n,
                              mx_rng *rng, float *spikes_out)
{
    const int poisson = c->encoder == MX_ENCODER_POISSON;
    const double rate_dt = c->max_rate_hz * c->dt_s;
    for (size_t i = 0; i < n; i++) {
        double p = (double)intensity[i];
        if (poisson)
            p = -expm1(-p * rate_dt);
        spikes_out[i] = (float)mx_rng_bernoulli(rng, p);
        if (p <= 0.0 || p >= 1.0)
            (void)mx_rng_u32(rng);
    }
}

static void test_encoder_fast_paths_equal_the_plain_encoder_bit_for_bit(void **state)
{
    (void)state;
    enum { N = 301, STEPS = 60 }; /* N odd: steps start mid-block */
    float intensity[N], plain[N], fast[N], split[N];
    uint64_t thr[N];
    uint32_t words[N];
    mx_rng g;
    mx_rng_init_named(&g, 3, "test.intensity", 0);
    for (size_t i = 0; i < N; i++) { /* zeros, ones, runs of equal values, > 1, < 0 */
        const double u = mx_rng_uniform(&g);
        intensity[i] = u < 0.3 ? 0.0f : u < 0.4 ? 1.0f : u < 0.45 ? 1.5f : u < 0.5 ? -0.25f
                     : u < 0.6 && i > 0 ? intensity[i - 1] : (float)mx_rng_uniform(&g);
    }
    intensity[7] = -0.0f;
    for (int kind = 0; kind < 2; kind++) {
        mx_snn_config c;
        mx_snn_config_default(&c);
        c.encoder = kind ? MX_ENCODER_POISSON : MX_ENCODER_BERNOULLI;
        c.max_rate_hz = kind ? 900.0 : c.max_rate_hz;
        c.dt_s = 1e-3;
        mx_rng a, b, d;
        mx_rng_init_named(&a, 11, "snn.encode", 5);
        mx_rng_init_named(&b, 11, "snn.encode", 5);
        mx_rng_init_named(&d, 11, "snn.encode", 5);
        mx_encode_thresholds(&c, intensity, N, thr);
        size_t total = 0;
        for (int t = 0; t < STEPS; t++) {
            encode_step_plain(&c, intensity, N, &a, plain);
            mx_encode_step(&c, intensity, N, &b, fast);
            const size_t k = mx_encode_step_thresholds(thr, N, &d, words, split);
            assert_memory_equal(plain, fast, sizeof plain);
            assert_memory_equal(plain, split, sizeof plain);
            size_t count = 0;
            for (size_t i = 0; i < N; i++)
                count += plain[i] != 0.0f;
            assert_int_equal(k, count);
            total += count;
        }
        assert_true(total > 0);
        const uint32_t next = mx_rng_u32(&a);
        assert_int_equal(mx_rng_u32(&b), next);
        assert_int_equal(mx_rng_u32(&d), next);
    }
}

static void test_snn_config_rejects_bad_values_with_field_names(void **state)
{
    (void)state;
    mx_snn_config c;
    mx_snn_config_default(&c);
    assert_int_equal(mx_snn_config_validate(&c), MX_OK);
    c.timesteps = 0;
    assert_int_equal(mx_snn_config_validate(&c), MX_EINVAL);
    assert_non_null(strstr(mx_last_error(), "snn.timesteps"));
    mx_snn_config_default(&c);
    c.norm_percentile = 0.0;
    assert_int_equal(mx_snn_config_validate(&c), MX_EINVAL);
    assert_non_null(strstr(mx_last_error(), "snn.norm_percentile"));
    mx_snn_config_default(&c);
    c.tau_mem_s = -1.0;
    assert_int_equal(mx_snn_config_validate(&c), MX_EINVAL);
    assert_non_null(strstr(mx_last_error(), "snn.tau_mem_s"));
}

/* --- conversion on the UCI digits ---------------------------------------- */

typedef struct digits_fixture {
    mx_dataset train, test;
    mx_mlp *mlp;
    double ann_accuracy;
} digits_fixture;

static int digits_setup(void **state)
{
    const char *dir = mx_test_data_dir();
    if (!dir)
        return -1;
    digits_fixture *f = calloc(1, sizeof *f);
    if (mx_dataset_load(dir, "digits", MX_SPLIT_TRAIN, 0, &f->train) ||
        mx_dataset_load(dir, "digits", MX_SPLIT_TEST, 0, &f->test))
        return -1;
    size_t sizes[3] = {64, 100, 10};
    mx_train_config tc;
    mx_train_config_default(&tc);
    tc.batch_size = 32;
    tc.epochs = 60;
    tc.learning_rate = 3e-3;
    tc.lr_decay = 0.9;
    if (mx_mlp_create(sizes, 2, 11, &f->mlp) ||
        mx_train(f->mlp, &tc, 0, tc.epochs, f->train.x, f->train.y, f->train.n, 5, NULL,
                 "train", NULL) ||
        mx_mlp_accuracy(f->mlp, f->test.x, f->test.y, f->test.n, &f->ann_accuracy))
        return -1;
    *state = f;
    return 0;
}

static int digits_teardown(void **state)
{
    digits_fixture *f = *state;
    mx_mlp_destroy(f->mlp);
    mx_dataset_free(&f->train);
    mx_dataset_free(&f->test);
    free(f);
    return 0;
}

static double snn_accuracy(const mx_snn *net, const mx_dataset *d, uint64_t seed)
{
    mx_snn_state *s;
    assert_int_equal(mx_snn_state_create(net, &s), MX_OK);
    size_t correct = 0;
    for (size_t i = 0; i < d->n; i++) {
        int pred;
        assert_int_equal(mx_snn_run(net, s, d->x + i * d->dim, seed, i, 0, NULL, &pred, NULL),
                         MX_OK);
        correct += pred == d->y[i];
    }
    mx_snn_state_destroy(s);
    return (double)correct / (double)d->n;
}

static void test_converted_snn_tracks_ann_accuracy_on_digits(void **state)
{
    digits_fixture *f = *state;
    /* The 64-100-10 MLP reaches 94.2 % on the 797 held-out digits (1000
     * training rows, measured); a broken trainer lands far below. */
    assert_true(f->ann_accuracy > 0.92);
    mx_snn_config c;
    mx_snn_config_default(&c);
    c.timesteps = 64;
    mx_snn *net;
    assert_int_equal(mx_snn_from_mlp(f->mlp, &c, f->train.x, 200, &net), MX_OK);
    double acc = snn_accuracy(net, &f->test, 3);
    print_message("digits: ANN %.2f %%, converted SNN (T = 64, Bernoulli inputs) %.2f %%\n",
                  100 * f->ann_accuracy, 100 * acc);
    /* Rate coding with 64 Bernoulli steps costs a little; measured ~1 point. */
    assert_true(acc > f->ann_accuracy - 0.03);
    mx_snn_destroy(net);
}

static void test_snn_run_is_deterministic_per_item(void **state)
{
    digits_fixture *f = *state;
    mx_snn_config c;
    mx_snn_config_default(&c);
    c.timesteps = 32;
    mx_snn *net;
    assert_int_equal(mx_snn_from_mlp(f->mlp, &c, f->train.x, 100, &net), MX_OK);
    mx_snn_state *s;
    assert_int_equal(mx_snn_state_create(net, &s), MX_OK);
    int a[32], b[32], pa, pb;
    assert_int_equal(mx_snn_run(net, s, f->test.x, 9, 5, 0, a, &pa, NULL), MX_OK);
    assert_int_equal(mx_snn_run(net, s, f->test.x + 64, 9, 6, 0, NULL, NULL, NULL), MX_OK);
    assert_int_equal(mx_snn_run(net, s, f->test.x, 9, 5, 0, b, &pb, NULL), MX_OK);
    assert_memory_equal(a, b, sizeof a);
    assert_int_equal(pa, pb);
    assert_int_equal(pa, a[31]);
    mx_snn_state_destroy(s);
    mx_snn_destroy(net);
}

static void test_threshold_balancing_scales_weights_by_activation_percentiles(void **state)
{
    digits_fixture *f = *state;
    mx_snn_config c;
    mx_snn_config_default(&c);
    mx_snn *net;
    assert_int_equal(mx_snn_from_mlp(f->mlp, &c, f->train.x, 100, &net), MX_OK);
    double l0 = mx_snn_layer_scale(net, 0), l1 = mx_snn_layer_scale(net, 1);
    assert_true(l0 > 0.0 && l1 > 0.0);
    size_t n_out, n_in;
    const float *w0 = mx_snn_weights(net, 0, &n_out, &n_in);
    const float *w1 = mx_snn_weights(net, 1, NULL, NULL);
    /* W0' = W0/λ0 and W1' = W1·λ0/λ1 */
    assert_close(w0[7], (double)f->mlp->w[0][7] / l0, 0.0, 1e-6);
    assert_close(w1[5], (double)f->mlp->w[1][5] * l0 / l1, 0.0, 1e-6);
    mx_snn_destroy(net);
}

static void test_snn_on_ideal_crossbar_matches_digital_snn(void **state)
{
    digits_fixture *f = *state;
    mx_snn_config c;
    mx_snn_config_default(&c);
    c.timesteps = 32;
    mx_snn *net;
    assert_int_equal(mx_snn_from_mlp(f->mlp, &c, f->train.x, 100, &net), MX_OK);
    const size_t n = 200;
    mx_dataset sub = f->test;
    sub.n = n;
    double digital = snn_accuracy(net, &sub, 4);

    mx_crossbar_config xc;
    mx_device_params dp;
    mx_adc_config ac;
    mx_crossbar_config_default(&xc);
    xc.tile_rows = 16; /* several row tiles, partial sums added digitally */
    mx_device_params_default(&dp);
    mx_adc_config_default(&ac);
    ac.kind = MX_ADC_NONE;
    mx_matmul *mm[2];
    assert_int_equal(mx_snn_program_crossbars(net, &xc, &mx_device_reram, &dp, &ac, 1, mm), MX_OK);
    double analog = snn_accuracy(net, &sub, 4);
    /* Same spikes in; currents equal W·s to float rounding, so at most a
     * neuron sitting exactly on threshold can differ. */
    assert_close(analog, digital, 0.01, 0.0);

    /* With an 8-bit ADC calibrated at the 99.9th percentile: close too. */
    for (size_t l = 0; l < 2; l++)
        mx_matmul_destroy(mm[l]);
    ac.kind = MX_ADC_UNIFORM;
    ac.bits = 8;
    assert_int_equal(mx_snn_program_crossbars(net, &xc, &mx_device_reram, &dp, &ac, 1, mm), MX_OK);
    double range[2];
    assert_int_equal(mx_calibrate_adc_ranges(net, f->train.x, 50, 64, 99.9, 4, 1u << 20, range),
                     MX_OK);
    assert_true(range[0] > 0.0 && range[1] > 0.0);
    double adc8 = snn_accuracy(net, &sub, 4);
    print_message("digits SNN on 200 images: digital %.1f %%, ideal crossbar %.1f %%, "
                  "8-bit ADC %.1f %%\n", 100 * digital, 100 * analog, 100 * adc8);
    assert_close(adc8, digital, 0.03, 0.0);
    for (size_t l = 0; l < 2; l++)
        mx_matmul_destroy(mm[l]);
    mx_snn_destroy(net);
}

/* Every allocation of an MLP, its conversion, a state and a run may fail:
 * each failure is a clean MX_ENOMEM (nothing leaks: ASan), and the walk ends
 * in a success. */
static void test_allocation_failures_leave_nothing_behind(void **state)
{
    (void)state;
    const size_t sizes[3] = {8, 5, 3};
    mx_snn_config c;
    mx_snn_config_default(&c);
    c.timesteps = 4;
    float x[4 * 8];
    for (size_t i = 0; i < 4 * 8; i++)
        x[i] = (float)(i % 4) / 3.0f;
    int succeeded = 0;
    long k = 1;
    for (; k < 1000 && !succeeded; k++) {
        mx_mlp *mlp = NULL;
        mx_snn *net = NULL;
        mx_snn_state *s = NULL;
        int pred;
        mx_alloc_fail_after(k);
        mx_status st = mx_mlp_create(sizes, 2, 1, &mlp);
        if (!st)
            st = mx_snn_from_mlp(mlp, &c, x, 4, &net);
        if (!st)
            st = mx_snn_state_create(net, &s);
        if (!st)
            st = mx_snn_run(net, s, x, 1, 0, 0, NULL, &pred, NULL);
        mx_alloc_fail_after(0);
        if (st)
            assert_int_equal(st, MX_ENOMEM);
        else
            succeeded = 1;
        mx_snn_state_destroy(s);
        mx_snn_destroy(net);
        mx_mlp_destroy(mlp);
    }
    assert_true(succeeded);
    assert_true(k > 3);
}

int main(void)
{
    const struct CMUnitTest neuron_tests[] = {
        cmocka_unit_test(test_lif_membrane_matches_closed_form_below_threshold),
        cmocka_unit_test(test_lif_first_spike_time_matches_closed_form),
        cmocka_unit_test(test_allocation_failures_leave_nothing_behind),
        cmocka_unit_test(test_if_neuron_rate_equals_input_with_reset_by_subtraction),
        cmocka_unit_test(test_bernoulli_encoder_rate_matches_intensity),
        cmocka_unit_test(test_encoder_fast_paths_equal_the_plain_encoder_bit_for_bit),
        cmocka_unit_test(test_poisson_encoder_rate_matches_exponential_waiting_time),
        cmocka_unit_test(test_snn_config_rejects_bad_values_with_field_names),
    };
    const struct CMUnitTest conversion_tests[] = {
        cmocka_unit_test(test_converted_snn_tracks_ann_accuracy_on_digits),
        cmocka_unit_test(test_snn_run_is_deterministic_per_item),
        cmocka_unit_test(test_threshold_balancing_scales_weights_by_activation_percentiles),
        cmocka_unit_test(test_snn_on_ideal_crossbar_matches_digital_snn),
    };
    int failed = cmocka_run_group_tests_name("snn neurons and encoder", neuron_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("snn conversion (UCI digits)", conversion_tests,
                                          digits_setup, digits_teardown);
    return failed;
}
