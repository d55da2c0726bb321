/* SPDX-License-Identifier: MIT
 *
 * test_online.c: in-situ (online) training, snn/online.h and the
 * online-training experiment (experiments/online_run.h). The backward pass
 * against central finite differences of the loss on a tiny digital network;
 * NeuroSim's pulse-count rule on hand-worked cases; one update through an
 * ideal linear device against the rule exactly; a longer run on that device
 * tracking the digital reference; bit-identical results at 1 and 2 threads
 * with device-to-device and cycle-to-cycle noise on; the errors a user can
 * provoke; and a small MNIST run through mx_online_run that must learn
 * (accuracy far above the 10 % of chance) and leave a complete HDF5 file.
 */
#include "tests/support/mx_test.h"

#include <float.h>
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <omp.h>

#include "core/core.h"
#include "core/rng.h"
#include "devices/devices.h"
#include "experiments/config.h"
#include "experiments/dataset.h"
#include "experiments/online_run.h"
#include "snn/online.h"

#define SEED 20240711u

static void assert_error_mentions(const char *needle)
{
    if (!strstr(mx_last_error(), needle)) {
        print_error("expected the message to name '%s', got '%s'\n", needle, mx_last_error());
        fail();
    }
}

static float *random_floats(size_t n, double lo, double hi, uint64_t item)
{
    float *a = malloc(n * sizeof *a);
    assert_non_null(a);
    mx_rng r;
    mx_rng_init_named(&r, SEED, "test.online", item);
    for (size_t i = 0; i < n; i++)
        a[i] = (float)(lo + (hi - lo) * mx_rng_uniform(&r));
    return a;
}

/* An ideal linear pulse device: NeuroSim's model with NL = 0, no noise. */
static void ideal_device(mx_device_params *p, int states)
{
    mx_device_params_default(p);
    p->nonlinear.nl_ltp = 0.0;
    p->nonlinear.nl_ltd = 0.0;
    p->nonlinear.states_ltp = states;
    p->nonlinear.states_ltd = states;
    p->nonlinear.c2c_sigma = 0.0;
    p->nonlinear.d2d_nl_sigma = 0.0;
}

static const mx_device_type *nonlinear_type(void)
{
    const mx_device_type *t = mx_device_lookup("nonlinear");
    assert_non_null(t);
    return t;
}

/* ------------------------------------------------------------ the rule */

static void test_pulse_count_rounds_halves_away_from_zero_and_caps_at_the_states(void **state)
{
    (void)state;
    /* n = ±round(|Δw|/2·P): 0.1/2·100 = 5; 0.1/2·50 = 2.5 → 3 (LTD: −3). */
    assert_int_equal(mx_online_pulse_count(0.1, 2.0, 100, 50), 5);
    assert_int_equal(mx_online_pulse_count(-0.1, 2.0, 100, 50), -3);
    assert_int_equal(mx_online_pulse_count(0.0, 2.0, 100, 50), 0);
    /* 0.0099/2·100 = 0.495 rounds to none; 0.0101 to one. */
    assert_int_equal(mx_online_pulse_count(0.0099, 2.0, 100, 100), 0);
    assert_int_equal(mx_online_pulse_count(0.0101, 2.0, 100, 100), 1);
    assert_int_equal(mx_online_pulse_count(-0.0101, 2.0, 100, 100), -1);
    /* A change larger than the window is one full sweep: |n| ≤ P. */
    assert_int_equal(mx_online_pulse_count(5.0, 2.0, 97, 100), 97);
    assert_int_equal(mx_online_pulse_count(-5.0, 2.0, 97, 100), -100);
    assert_int_equal(mx_online_pulse_count(NAN, 2.0, 97, 100), 0);
}

static void test_device_states_come_from_each_model(void **state)
{
    (void)state;
    mx_device_params p;
    int a = 0, b = 0;
    mx_device_params_default(&p);
    p.nonlinear.states_ltp = 97;
    p.nonlinear.states_ltd = 100;
    assert_int_equal(mx_online_device_states(nonlinear_type(), &p, &a, &b), MX_OK);
    assert_int_equal(a, 97);
    assert_int_equal(b, 100);
    const mx_device_type *step = mx_device_lookup("step");
    assert_non_null(step);
    mx_device_params_default(&p);
    p.step.dw_min = 0.01;
    p.step.up_down = 0.0;
    assert_int_equal(mx_online_device_states(step, &p, &a, &b), MX_OK);
    assert_int_equal(a, 100);
    assert_int_equal(b, 100);
    mx_device_params_default(&p);
    p.levels = 0;
    assert_int_equal(mx_online_device_states(mx_device_lookup("reram"), &p, &a, &b), MX_EINVAL);
    assert_error_mentions("online.states");
}

/* ------------------------------------------------------------ backward */

/* Central differences of L in each weight against mx_online_gradient, on a
 * 6-4-3 digital network with analog hidden read-out, no ADC and g = 1 (where
 * the update direction is the gradient). The step is taken on the float
 * weights actually stored, so representation error does not enter; the
 * truncation error is O(h²·L''') ≈ 1e-7 for h = 1e-3, and L is summed in
 * double from double activations. */
static void test_backward_matches_finite_differences(void **state)
{
    (void)state;
    mx_online_config c;
    mx_online_config_default(&c);
    c.n_hidden = 4;
    c.adc_bits = 0;
    c.binary_hidden = 0;
    c.readout_gain = 1.0;
    c.weights = MX_ONLINE_DIGITAL;
    const size_t n_in = 6, n_out = 3, label = 2;
    mx_online *net = NULL;
    assert_int_equal(mx_online_create(&c, n_in, n_out, NULL, NULL, SEED, &net), MX_OK);
    float *w[2] = {random_floats(c.n_hidden * n_in, -1, 1, 1),
                   random_floats(n_out * c.n_hidden, -1, 1, 2)};
    float *x = random_floats(n_in, 0, 1, 3);
    assert_int_equal(mx_online_weights_set(net, 0, w[0]), MX_OK);
    assert_int_equal(mx_online_weights_set(net, 1, w[1]), MX_OK);
    float g1[24], g2[12];
    mx_online_gradient(net, x, label, 0, g1, g2);
    const float *grad[2] = {g1, g2};
    const size_t n[2] = {c.n_hidden * n_in, n_out * c.n_hidden};
    const double h = 1e-3;
    for (size_t l = 0; l < 2; l++) {
        for (size_t i = 0; i < n[l]; i++) {
            float keep = w[l][i];
            float wp = (float)((double)keep + h), wm = (float)((double)keep - h);
            w[l][i] = wp;
            mx_online_weights_set(net, l, w[l]);
            double lp = mx_online_gradient(net, x, label, 0, NULL, NULL);
            w[l][i] = wm;
            mx_online_weights_set(net, l, w[l]);
            double lm = mx_online_gradient(net, x, label, 0, NULL, NULL);
            w[l][i] = keep;
            mx_online_weights_set(net, l, w[l]);
            double fd = (lp - lm) / ((double)wp - (double)wm);
            /* grad is stored as float: relative 6e-8 of it, plus O(h²). */
            assert_close(grad[l][i], fd, 2e-6, 1e-4);
        }
    }
    mx_online_destroy(net);
    free(w[0]);
    free(w[1]);
    free(x);
}

/* ------------------------------------------------------------ devices */

/* One update through an ideal linear device of P = 1000 states: every cell
 * moves by exactly n·2/P, n the rule's pulse count for −α·∇ — the forward
 * pass, the backward pass and the pulse pipeline agree. */
static void test_one_update_moves_each_cell_by_its_pulse_count(void **state)
{
    (void)state;
    const int states = 1000;
    mx_device_params p;
    ideal_device(&p, states);
    mx_online_config c;
    mx_online_config_default(&c);
    c.n_hidden = 8;
    c.alpha1 = c.alpha2 = 4.0; /* large enough that most cells get pulses */
    const size_t n_in = 30, n_out = 4, label = 1;
    mx_online *net = NULL;
    assert_int_equal(mx_online_create(&c, n_in, n_out, nonlinear_type(), &p, SEED, &net), MX_OK);
    float *x = random_floats(n_in, 0, 1, 4);
    float w0[2][240], w1[2][240], grad[2][240];
    const size_t n[2] = {c.n_hidden * n_in, n_out * c.n_hidden};
    const double alpha[2] = {c.alpha1, c.alpha2};
    for (size_t l = 0; l < 2; l++)
        mx_online_weights_get(net, l, w0[l]);
    mx_online_gradient(net, x, label, 7, grad[0], grad[1]);
    mx_online_train_step(net, x, label, 7);
    uint64_t expected_pulses = 0;
    size_t moved = 0;
    for (size_t l = 0; l < 2; l++) {
        mx_online_weights_get(net, l, w1[l]);
        for (size_t i = 0; i < n[l]; i++) {
            int32_t k = mx_online_pulse_count(-alpha[l] * (double)grad[l][i], 2.0, states, states);
            expected_pulses += (uint64_t)abs(k);
            double target = (double)w0[l][i] + 2.0 * k / states;
            if (target > 1.0)
                target = 1.0;
            if (target < -1.0)
                target = -1.0;
            moved += k != 0;
            /* float conductances in a 1e-6..1e-5 S window: ~1e-6 in w. */
            assert_close(w1[l][i], target, 1e-5, 0.0);
        }
    }
    assert_true(moved > n[0] / 4); /* the test exercised the pulses */
    assert_int_equal(mx_online_pulses(net), expected_pulses);
    mx_online_destroy(net);
    free(x);
}

/* The optimizers in digital mode against their first-step closed forms
 * (online.h): a batch of two examples, gradients g1, g2 taken before any
 * update, ḡ = (g1 + g2)/2; nothing moves after the first example; after the
 * second, sgd moves each weight by −α·ḡ, momentum by −α·(1 − γ)·ḡ and Adam
 * by −α·ḡ/(|ḡ| + ε) (m̂ = ḡ, v̂ = ḡ² at t = 1), all clipped to [−1, 1]. */
static void test_optimizers_take_their_closed_form_first_step(void **state)
{
    (void)state;
    const mx_online_optimizer opts[3] = {MX_ONLINE_SGD, MX_ONLINE_MOMENTUM, MX_ONLINE_ADAM};
    for (int o = 0; o < 3; o++) {
        mx_online_config c;
        mx_online_config_default(&c);
        c.n_hidden = 8;
        c.weights = MX_ONLINE_DIGITAL;
        c.optimizer = opts[o];
        c.batch = 2;
        c.momentum = 0.75;
        c.alpha1 = 0.3;
        c.alpha2 = 0.2;
        const size_t n_in = 30, n_out = 4;
        mx_online *net = NULL;
        assert_int_equal(mx_online_create(&c, n_in, n_out, NULL, NULL, SEED, &net), MX_OK);
        float *x1 = random_floats(n_in, 0, 1, 11), *x2 = random_floats(n_in, 0, 1, 12);
        float w0[2][240], w1[2][240], g1[2][240], g2[2][240];
        const size_t n[2] = {c.n_hidden * n_in, n_out * c.n_hidden};
        const double alpha[2] = {c.alpha1, c.alpha2};
        for (size_t l = 0; l < 2; l++)
            mx_online_weights_get(net, l, w0[l]);
        mx_online_gradient(net, x1, 1, 0, g1[0], g1[1]);
        mx_online_gradient(net, x2, 3, 1, g2[0], g2[1]);
        mx_online_train_step(net, x1, 1, 0);
        for (size_t l = 0; l < 2; l++) {
            mx_online_weights_get(net, l, w1[l]);
            assert_memory_equal(w0[l], w1[l], n[l] * sizeof(float));
        }
        mx_online_train_step(net, x2, 3, 1);
        size_t moved = 0;
        for (size_t l = 0; l < 2; l++) {
            mx_online_weights_get(net, l, w1[l]);
            for (size_t i = 0; i < n[l]; i++) {
                double g = 0.5 * ((double)g1[l][i] + (double)g2[l][i]);
                double dw = opts[o] == MX_ONLINE_SGD        ? -alpha[l] * g
                            : opts[o] == MX_ONLINE_MOMENTUM ? -alpha[l] * (1.0 - c.momentum) * g
                                                            : -alpha[l] * g / (fabs(g) + 1e-8);
                double target = (double)w0[l][i] + dw;
                target = target > 1.0 ? 1.0 : target < -1.0 ? -1.0 : target;
                moved += dw != 0.0;
                /* float gradients and weights: a few ulps of 1. */
                assert_close(w1[l][i], target, 1e-6, 1e-5);
            }
        }
        assert_true(moved > n[0] / 4);
        mx_online_destroy(net);
        free(x1);
        free(x2);
    }
}

/* A small data set for the tracking and thread tests: centre 20×20 of
 * MNIST, binarised at 0.5, or NULL without the data. */
typedef struct small_set {
    size_t n, dim;
    float *x;
    uint8_t *y;
} small_set;

static int small_set_load(small_set *s, mx_split split, size_t n)
{
    const char *dir = mx_test_data_dir();
    mx_dataset d;
    if (!dir || mx_dataset_load(dir, "mnist", split, n, &d) != MX_OK)
        return 0;
    s->n = d.n;
    s->dim = 400;
    s->x = malloc(d.n * s->dim * sizeof(float));
    s->y = malloc(d.n);
    assert_non_null(s->x);
    assert_non_null(s->y);
    for (size_t i = 0; i < d.n; i++) {
        s->y[i] = d.y[i];
        for (size_t r = 0; r < 20; r++)
            for (size_t col = 0; col < 20; col++)
                s->x[i * 400 + r * 20 + col] =
                    d.x[i * d.dim + (r + 4) * 28 + col + 4] >= 0.5f ? 1.0f : 0.0f;
    }
    mx_dataset_free(&d);
    return 1;
}

static void small_set_free(small_set *s)
{
    free(s->x);
    free(s->y);
}

static double accuracy_on(mx_online *net, const small_set *t)
{
    size_t ok = 0;
    for (size_t i = 0; i < t->n; i++)
        ok += mx_online_predict(net, t->x + i * t->dim, 1000000 + i) == t->y[i];
    return (double)ok / (double)t->n;
}

/* With P = 20000 states the device's updates are the digital ones rounded
 * to 1e-4: after 400 examples the two networks' weights agree to a few
 * rounding steps on average, and so do their test accuracies. */
static void test_ideal_device_tracks_the_digital_reference(void **state)
{
    (void)state;
    small_set train, test;
    if (!small_set_load(&train, MX_SPLIT_TRAIN, 400)) {
        skip();
        return;
    }
    assert_true(small_set_load(&test, MX_SPLIT_TEST, 300));
    mx_device_params p;
    ideal_device(&p, 20000);
    mx_online_config c;
    mx_online_config_default(&c);
    c.n_hidden = 30;
    /* A smooth forward pass: with the ADC and the 1-bit hidden read-out,
     * a rounding difference can flip a code and the two runs part ways. */
    c.adc_bits = 0;
    c.binary_hidden = 0;
    mx_online *dev = NULL, *dig = NULL;
    assert_int_equal(mx_online_create(&c, 400, 10, nonlinear_type(), &p, SEED, &dev), MX_OK);
    c.weights = MX_ONLINE_DIGITAL;
    assert_int_equal(mx_online_create(&c, 400, 10, NULL, NULL, SEED, &dig), MX_OK);
    for (size_t i = 0; i < train.n; i++) {
        mx_online_train_step(dev, train.x + i * 400, train.y[i], i);
        mx_online_train_step(dig, train.x + i * 400, train.y[i], i);
    }
    double mean_abs = 0.0;
    size_t n_w = 0;
    for (size_t l = 0; l < 2; l++) {
        size_t rows, cols;
        mx_online_layer_shape(dev, l, &rows, &cols);
        float *a = malloc(rows * cols * sizeof(float)), *b = malloc(rows * cols * sizeof(float));
        mx_online_weights_get(dev, l, a);
        mx_online_weights_get(dig, l, b);
        for (size_t i = 0; i < rows * cols; i++)
            mean_abs += fabs((double)a[i] - (double)b[i]);
        n_w += rows * cols;
        free(a);
        free(b);
    }
    mean_abs /= (double)n_w;
    double acc_dev = accuracy_on(dev, &test), acc_dig = accuracy_on(dig, &test);
    print_message("ideal device vs digital: mean |dw| %.2e, accuracy %.3f vs %.3f\n", mean_abs,
                  acc_dev, acc_dig);
    assert_true(mean_abs < 5e-3); /* weights span [−1, 1]; steps of 1e-4 */
    assert_close(acc_dev, acc_dig, 0.03, 0.0);
    assert_true(acc_dig > 0.3); /* both learned something (chance: 0.1) */
    mx_online_destroy(dev);
    mx_online_destroy(dig);
    small_set_free(&train);
    small_set_free(&test);
}

/* The whole state after 60 examples on a noisy device (D2D labels, C2C
 * noise, read noise) is bit-identical at 1 and 2 threads. */
static void test_results_do_not_depend_on_the_thread_count(void **state)
{
    (void)state;
    mx_device_params p;
    mx_device_params_default(&p);
    p.nonlinear.nl_ltp = 2.4;
    p.nonlinear.nl_ltd = -4.88;
    p.nonlinear.states_ltp = 97;
    p.nonlinear.states_ltd = 100;
    p.nonlinear.c2c_sigma = 0.035;
    p.nonlinear.d2d_nl_sigma = 0.5;
    p.read_noise_sigma = 0.01;
    mx_online_config c;
    mx_online_config_default(&c);
    c.n_hidden = 64;
    const size_t n_in = 400, n_ex = 60;
    float *x = random_floats(n_in * n_ex, 0, 1, 9);
    for (size_t i = 0; i < n_in * n_ex; i++)
        x[i] = x[i] > 0.6f ? 1.0f : 0.0f;
    float *w[2][2];
    uint64_t pulses[2];
    const int saved = omp_get_max_threads(); /* 1, from main */
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t + 1);
        mx_online *net = NULL;
        assert_int_equal(mx_online_create(&c, n_in, 10, nonlinear_type(), &p, SEED, &net), MX_OK);
        for (size_t i = 0; i < n_ex; i++)
            mx_online_train_step(net, x + i * n_in, i % 10, i);
        for (size_t l = 0; l < 2; l++) {
            size_t rows, cols;
            mx_online_layer_shape(net, l, &rows, &cols);
            w[t][l] = malloc(rows * cols * sizeof(float));
            mx_online_weights_get(net, l, w[t][l]);
        }
        pulses[t] = mx_online_pulses(net);
        mx_online_destroy(net);
    }
    omp_set_num_threads(saved);
    assert_true(pulses[0] > 0);
    assert_int_equal(pulses[0], pulses[1]);
    assert_memory_equal(w[0][0], w[1][0], 64 * n_in * sizeof(float));
    assert_memory_equal(w[0][1], w[1][1], 10 * 64 * sizeof(float));
    for (int t = 0; t < 2; t++)
        for (size_t l = 0; l < 2; l++)
            free(w[t][l]);
    free(x);
}

/* ------------------------------------------------------------ errors */

static void test_bad_settings_and_models_without_pulses_are_refused(void **state)
{
    (void)state;
    mx_online_config c;
    mx_online_config_default(&c);
    c.alpha1 = 0.0;
    assert_int_equal(mx_online_config_validate(&c), MX_EINVAL);
    assert_error_mentions("online.alpha1");
    mx_online_config_default(&c);
    c.readout_gain = -1.0;
    assert_int_equal(mx_online_config_validate(&c), MX_EINVAL);
    assert_error_mentions("online.readout_gain");
    mx_online_config_default(&c);
    c.batch = 0;
    assert_int_equal(mx_online_config_validate(&c), MX_EINVAL);
    assert_error_mentions("online.batch");
    mx_online_config_default(&c);
    c.beta2 = 1.0;
    assert_int_equal(mx_online_config_validate(&c), MX_EINVAL);
    assert_error_mentions("online.beta2");
    mx_online_config_default(&c);
    mx_device_params p;
    mx_device_params_default(&p);
    mx_online *net = (mx_online *)&c; /* must come back NULL */
    assert_int_equal(mx_online_create(&c, 4, 2, mx_device_lookup("pcm"), &p, SEED, &net),
                     MX_EINVAL);
    assert_null(net);
    assert_error_mentions("pulse response");
    /* The config refuses the same at validation, naming the field. */
    mx_experiment_config cfg;
    const char *yaml = "experiment: online-training\nhardware:\n  device:\n    type: pcm\n";
    assert_int_equal(mx_config_parse(yaml, strlen(yaml), "t.yaml", &cfg), MX_OK);
    assert_int_equal(mx_config_validate(&cfg), MX_EINVAL);
    assert_error_mentions("hardware.device.type: expected a model with a pulse response");
    mx_config_free(&cfg);
}

static void test_allocation_failures_return_enomem_cleanly(void **state)
{
    (void)state;
    mx_device_params p;
    ideal_device(&p, 100);
    mx_online_config c;
    mx_online_config_default(&c);
    c.n_hidden = 5;
    for (long k = 1; k < 40; k++) {
        mx_online *net = NULL;
        mx_alloc_fail_after(k);
        mx_status st = mx_online_create(&c, 7, 3, nonlinear_type(), &p, SEED, &net);
        mx_alloc_fail_after(0);
        if (st == MX_OK) {
            mx_online_destroy(net);
            return;
        }
        assert_int_equal(st, MX_ENOMEM);
        assert_null(net);
    }
    fail_msg("mx_online_create never succeeded");
}

/* ------------------------------------------------------------ end to end */

/* The experiment as a user runs it, shrunk: two epochs of 1000 MNIST
 * examples on a 400-50-10 network, the EpiRAM preset and the digital
 * baseline. Both must learn (chance is 10 %), and the results file must be
 * complete with one /summary row per run. */
static void test_small_mnist_run_learns_and_writes_a_complete_file(void **state)
{
    (void)state;
    if (!mx_test_data_dir()) {
        skip();
        return;
    }
    const char *yaml = "experiment: online-training\n"
                       "dataset:\n  train_limit: 3000\n  test_limit: 500\n"
                       "online:\n  epochs: 2\n  images_per_epoch: 1000\n  hidden: 50\n"
                       "hardware:\n  device:\n    preset: epiram\n";
    mx_experiment_config cfg;
    assert_int_equal(mx_config_parse(yaml, strlen(yaml), "t.yaml", &cfg), MX_OK);
    char path[64];
    snprintf(path, sizeof path, "test_online_%d.h5", (int)getpid());
    mx_run_options opt = {.output_path = path, .data_dir = mx_test_data_dir()};
    mx_online_report rep;
    mx_status st = mx_online_run(&cfg, &opt, &rep);
    if (st)
        print_error("%s\n", mx_last_error());
    assert_int_equal(st, MX_OK);
    assert_int_equal(rep.n_rows, 2);
    assert_true(rep.rows[0].point == MX_ONLINE_BASELINE);
    assert_string_equal(rep.rows[0].label, "digital");
    assert_string_equal(rep.rows[1].label, "epiram");
    print_message("digital %.3f, epiram %.3f (%g pulses)\n", rep.rows[0].accuracy,
                  rep.rows[1].accuracy, rep.rows[1].pulses);
    assert_true(rep.rows[0].accuracy > 0.6);
    assert_true(rep.rows[1].accuracy > 0.4);
    assert_true(rep.rows[1].pulses > 0);
    assert_close(rep.rows[1].neurosim_accuracy, 0.92, 1e-12, 0.0);
    /* The file: renamed from .partial, status complete, two rows. */
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    hid_t d = H5Dopen2(f, "summary", H5P_DEFAULT);
    assert_true(d >= 0);
    hid_t sp = H5Dget_space(d);
    hsize_t dims[1];
    H5Sget_simple_extent_dims(sp, dims, NULL);
    assert_int_equal(dims[0], 2);
    H5Sclose(sp);
    H5Dclose(d);
    hid_t g = H5Dopen2(f, "points/0/0/test_accuracy", H5P_DEFAULT);
    assert_true(g >= 0);
    double acc[2];
    assert_true(H5Dread(g, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, acc) >= 0);
    assert_close(acc[1], rep.rows[1].accuracy, 0.0, 0.0);
    H5Dclose(g);
    H5Fclose(f);
    remove(path);
    mx_online_report_free(&rep);
    mx_config_free(&cfg);
}

int main(void)
{
    /* One thread, except where a test sets two: meson runs test programs side
     * by side, and a per-example parallel region waiting on a descheduled
     * thread is slower than no parallelism at all. */
    omp_set_num_threads(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pulse_count_rounds_halves_away_from_zero_and_caps_at_the_states),
        cmocka_unit_test(test_device_states_come_from_each_model),
        cmocka_unit_test(test_backward_matches_finite_differences),
        cmocka_unit_test(test_one_update_moves_each_cell_by_its_pulse_count),
        cmocka_unit_test(test_optimizers_take_their_closed_form_first_step),
        cmocka_unit_test(test_ideal_device_tracks_the_digital_reference),
        cmocka_unit_test(test_results_do_not_depend_on_the_thread_count),
        cmocka_unit_test(test_bad_settings_and_models_without_pulses_are_refused),
        cmocka_unit_test(test_allocation_failures_return_enomem_cleanly),
        cmocka_unit_test(test_small_mnist_run_learns_and_writes_a_complete_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
