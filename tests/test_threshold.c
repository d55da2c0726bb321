/* SPDX-License-Identifier: MIT
 *
 * test_threshold.c: SNN threshold re-balancing on hardware
 * (calibration/threshold.h). Closed forms: an ideal crossbar gives back the
 * digital thresholds; a crossbar programmed with g·W (a known gain, per
 * layer or per output neuron) gives thresholds g and, with them, the digital
 * network's spikes; the thread count changes no bit; mode none touches
 * nothing. Data: the first 120 images of the digits set (8×8), a random
 * 64-32-10 MLP (the statistics need activity, not accuracy).
 */
#include "tests/support/mx_test.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#include "calibration/calibration.h"
#include "calibration/threshold.h"
#include "experiments/dataset.h"
#include "snn/snn.h"

#define N_IMAGES 120
#define N_REBALANCE 100
#define SEED 11
#define ITEM_BASE 5000

typedef struct fixture {
    mx_dataset d;
    mx_mlp *mlp;
    mx_snn *net;
    mx_matmul *mm[2];
} fixture;

static int setup(void **state)
{
    *state = NULL;
    const char *dir = mx_test_data_dir();
    if (!dir)
        return 0; /* the tests skip */
    fixture *f = mx_calloc(1, sizeof *f);
    if (mx_dataset_load(dir, "digits", MX_SPLIT_TRAIN, N_IMAGES, &f->d))
        return -1;
    size_t sizes[3] = {64, 32, 10};
    if (mx_mlp_create(sizes, 2, 3, &f->mlp))
        return -1;
    mx_snn_config sc;
    mx_snn_config_default(&sc);
    sc.timesteps = 32;
    if (mx_snn_from_mlp(f->mlp, &sc, f->d.x, f->d.n, &f->net))
        return -1;
    *state = f;
    return 0;
}

static void drop_backends(fixture *f)
{
    for (size_t l = 0; l < 2; l++) {
        mx_snn_set_backend(f->net, l, NULL);
        mx_snn_set_thresholds(f->net, l, NULL);
        mx_matmul_destroy(f->mm[l]);
        f->mm[l] = NULL;
    }
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (!f)
        return 0;
    drop_backends(f);
    mx_snn_destroy(f->net);
    mx_mlp_destroy(f->mlp);
    mx_dataset_free(&f->d);
    mx_free(f);
    return 0;
}

/* Program layer l with its weights times gain[o] per output neuron o (gain
 * NULL: 1) on an ideal ReRAM crossbar (no variation, no noise) with an exact
 * ADC: the layer computes diag(gain)·W·x up to float rounding. */
static void program_with_gain(fixture *f, size_t l, const double *gain)
{
    size_t n_out, n_in;
    const float *w = mx_snn_weights(f->net, l, &n_out, &n_in);
    float *wg = mx_alloc(n_out * n_in * sizeof(float));
    for (size_t o = 0; o < n_out; o++)
        for (size_t i = 0; i < n_in; i++)
            wg[o * n_in + i] = (float)((double)w[o * n_in + i] * (gain ? gain[o] : 1.0));
    mx_crossbar_config xc;
    mx_device_params dp;
    mx_adc_config ac;
    mx_crossbar_config_default(&xc);
    mx_device_params_default(&dp);
    mx_adc_config_default(&ac);
    ac.kind = MX_ADC_NONE;
    assert_int_equal(mx_matmul_create(wg, n_out, n_in, &xc, &mx_device_reram, &dp, &ac, 1,
                                      (uint32_t)l, &f->mm[l]),
                     MX_OK);
    assert_int_equal(mx_snn_set_backend(f->net, l, f->mm[l]), MX_OK);
    mx_free(wg);
}

static mx_status rebalance(fixture *f, mx_rebalance_mode mode, mx_rebalance_report *rep)
{
    mx_rebalance_config c;
    mx_rebalance_config_default(&c);
    c.mode = mode;
    c.images = N_REBALANCE;
    return mx_rebalance_thresholds(f->net, &c, f->d.x, N_REBALANCE, 64, SEED, ITEM_BASE, rep);
}

static void test_positive_percentile_is_the_conversions_quantile(void **state)
{
    (void)state;
    /* positives 3 1 4 (stride 2 skips the odd entries); GSL quantile:
     * linear between ranks, position p·(k − 1). */
    const double a[10] = {3, 99, -1, 99, 1, 99, 0, 99, 4, 99};
    const double b[6] = {2, -5, 0, 0, 0, 0};
    double scratch[10];
    assert_close(mx_positive_percentile(a, 5, 2, 100.0, scratch), 4.0, 0.0, 0.0);
    assert_close(mx_positive_percentile(a, 5, 2, 50.0, scratch), 3.0, 0.0, 0.0);
    assert_close(mx_positive_percentile(a, 5, 2, 75.0, scratch), 3.5, 1e-15, 0.0);
    const double c[4] = {1, 2, 3, 4};
    assert_close(mx_positive_percentile(c, 4, 1, 50.0, scratch), 2.5, 1e-15, 0.0);
    assert_close(mx_positive_percentile(b, 2, 1, 99.9, scratch), 2.0, 0.0, 0.0);
    assert_close(mx_positive_percentile(b + 1, 5, 1, 99.9, scratch), 0.0, 0.0, 0.0);
}

static void test_partial_run_sees_the_currents_of_a_full_run(void **state)
{
    fixture *f = *state;
    if (!f)
        skip();
    program_with_gain(f, 0, NULL);
    program_with_gain(f, 1, NULL);
    mx_snn_state *s;
    assert_int_equal(mx_snn_state_create(f->net, &s), MX_OK);
    double part[32] = {0}, full0[32] = {0}, full1[10] = {0};
    double *sp[2] = {part, NULL}, *sf[2] = {full0, full1};
    assert_int_equal(mx_snn_run_currents(f->net, s, f->d.x, SEED, 7, 1, sp, NULL), MX_OK);
    assert_int_equal(mx_snn_run_currents(f->net, s, f->d.x, SEED, 7, 2, sf, NULL), MX_OK);
    assert_memory_equal(part, full0, sizeof part);
    double any = 0.0;
    for (size_t o = 0; o < 10; o++)
        any += fabs(full1[o]);
    assert_true(any > 0.0);
    assert_int_equal(mx_snn_run_currents(f->net, s, f->d.x, SEED, 7, 3, sf, NULL), MX_EINVAL);
    assert_int_equal(mx_snn_run_currents(f->net, s, f->d.x, SEED, 7, 0, sf, NULL), MX_EINVAL);
    mx_snn_state_destroy(s);
    drop_backends(f);
}

/* Ideal crossbar: the hardware's currents are the digital ones to float
 * rounding (~1e-7 relative), so every threshold comes back 1. 1e-4 allows a
 * borderline spike of layer 0 flipping on rounding and moving layer 1's
 * percentile a little; a wrong statistic or factor misses it by far more. */
static void test_ideal_crossbar_gives_the_digital_thresholds(void **state)
{
    fixture *f = *state;
    if (!f)
        skip();
    program_with_gain(f, 0, NULL);
    program_with_gain(f, 1, NULL);
    for (int m = MX_REBALANCE_LAYER; m <= MX_REBALANCE_NEURON; m++) {
        mx_rebalance_report rep;
        assert_int_equal(rebalance(f, (mx_rebalance_mode)m, &rep), MX_OK);
        assert_int_equal(rep.passes, 2 * N_REBALANCE);
        for (size_t l = 0; l < 2; l++) {
            float th[32];
            mx_snn_get_thresholds(f->net, l, th);
            size_t n_out;
            mx_snn_weights(f->net, l, &n_out, NULL);
            for (size_t o = 0; o < n_out; o++)
                assert_close(th[o], 1.0, 1e-4, 0.0);
            assert_true(rep.stat_digital[l] > 0.0);
            assert_close(rep.stat_hardware[l], rep.stat_digital[l], 0.0, 1e-4);
        }
        assert_true(rep.stats[0].mm.reads > 0 && rep.stats[1].mm.reads > 0);
    }
    drop_backends(f);
}

/* Every cell programmed for g·W: the currents are g times the digital ones,
 * the thresholds come out g, layer after layer — and with them the layers
 * fire the digital spikes, where without re-balancing they fire about g
 * times as often (compounded). */
static void test_known_gain_scales_the_thresholds_by_it(void **state)
{
    fixture *f = *state;
    if (!f)
        skip();
    const double g0 = 0.55, g1 = 0.7;
    double gain0[32], gain1[10];
    for (size_t o = 0; o < 32; o++)
        gain0[o] = g0;
    for (size_t o = 0; o < 10; o++)
        gain1[o] = g1;
    program_with_gain(f, 0, gain0);
    program_with_gain(f, 1, gain1);

    /* Spikes per layer on test-like items, before and after. */
    mx_snn_state *s;
    assert_int_equal(mx_snn_state_create(f->net, &s), MX_OK);
    mx_snn_layer_stats before[2] = {0}, after[2] = {0}, digital[2] = {0};
    for (size_t i = N_REBALANCE; i < N_IMAGES; i++)
        assert_int_equal(mx_snn_run(f->net, s, f->d.x + i * 64, SEED, i, 0, NULL, NULL, before),
                         MX_OK);

    mx_rebalance_report rep;
    assert_int_equal(rebalance(f, MX_REBALANCE_LAYER, &rep), MX_OK);
    const double expect[2] = {g0, g1};
    for (size_t l = 0; l < 2; l++) {
        float th[32];
        mx_snn_get_thresholds(f->net, l, th);
        size_t n_out;
        mx_snn_weights(f->net, l, &n_out, NULL);
        for (size_t o = 0; o < n_out; o++)
            assert_close(th[o], expect[l], 0.0, 1e-4);
        assert_close(rep.theta_mean[l], expect[l], 0.0, 1e-4);
    }
    for (size_t i = N_REBALANCE; i < N_IMAGES; i++)
        assert_int_equal(mx_snn_run(f->net, s, f->d.x + i * 64, SEED, i, 0, NULL, NULL, after),
                         MX_OK);
    for (size_t l = 0; l < 2; l++) {
        mx_snn_set_backend(f->net, l, NULL);
        mx_snn_set_thresholds(f->net, l, NULL);
    }
    for (size_t i = N_REBALANCE; i < N_IMAGES; i++)
        assert_int_equal(
            mx_snn_run(f->net, s, f->d.x + i * 64, SEED, i, 0, NULL, NULL, digital), MX_OK);
    print_message("spikes layer 0/1: digital %llu/%llu, gain without %llu/%llu, re-balanced "
                  "%llu/%llu\n",
                  (unsigned long long)digital[0].spikes, (unsigned long long)digital[1].spikes,
                  (unsigned long long)before[0].spikes, (unsigned long long)before[1].spikes,
                  (unsigned long long)after[0].spikes, (unsigned long long)after[1].spikes);
    for (size_t l = 0; l < 2; l++) {
        /* re-balanced: the digital count to a few borderline spikes */
        assert_close((double)after[l].spikes, (double)digital[l].spikes, 0.0, 0.01);
        /* without: far fewer (about g·, compounded in layer 1) */
        assert_true((double)before[l].spikes < 0.8 * (double)digital[l].spikes);
    }
    mx_snn_state_destroy(s);
    drop_backends(f);
}

/* A different gain per output neuron: mode neuron finds each one; mode
 * layer one factor for all. */
static void test_neuron_mode_finds_a_gain_per_neuron(void **state)
{
    fixture *f = *state;
    if (!f)
        skip();
    double gain0[32], gain1[10];
    for (size_t o = 0; o < 32; o++)
        gain0[o] = 0.5 + 0.25 * (double)(o % 4);
    for (size_t o = 0; o < 10; o++)
        gain1[o] = 1.3 - 0.08 * (double)o;
    program_with_gain(f, 0, gain0);
    program_with_gain(f, 1, gain1);
    mx_rebalance_report rep;
    assert_int_equal(rebalance(f, MX_REBALANCE_NEURON, &rep), MX_OK);
    float th[32];
    mx_snn_get_thresholds(f->net, 0, th);
    /* A neuron the random network never drives positive has no statistic:
     * it gets the layer's factor; every other one its own gain. */
    size_t found = 0;
    for (size_t o = 0; o < 32; o++)
        found += fabs((double)th[o] - gain0[o]) <= 1e-4 * gain0[o];
    print_message("neurons without a statistic: %zu of 32, %zu of 10\n",
                  rep.neurons_fallback[0], rep.neurons_fallback[1]);
    assert_int_equal(found + rep.neurons_fallback[0], 32);
    assert_true(rep.neurons_fallback[0] <= 4);
    /* Layer 1: its inputs are the digital spikes again (layer 0's driven
     * neurons re-balanced; the undriven ones barely fire either way). */
    mx_snn_get_thresholds(f->net, 1, th);
    found = 0;
    for (size_t o = 0; o < 10; o++)
        found += fabs((double)th[o] - gain1[o]) <= 1e-4 * gain1[o];
    assert_int_equal(found + rep.neurons_fallback[1], 10);
    assert_true(rep.neurons_fallback[1] <= 3);

    assert_int_equal(rebalance(f, MX_REBALANCE_LAYER, &rep), MX_OK);
    mx_snn_get_thresholds(f->net, 0, th);
    for (size_t o = 1; o < 32; o++)
        assert_memory_equal(&th[o], &th[0], sizeof th[0]);
    assert_true((double)th[0] > 0.5 && (double)th[0] < 1.25);
    drop_backends(f);
}

/* Noisy hardware (variation, read noise, a calibrated 5-bit ADC): the same
 * thresholds, bit for bit, at 1 and 2 threads. */
static void test_thread_count_changes_no_bit(void **state)
{
    fixture *f = *state;
    if (!f)
        skip();
    mx_crossbar_config xc;
    mx_device_params dp;
    mx_adc_config ac;
    mx_crossbar_config_default(&xc);
    mx_device_params_default(&dp);
    mx_adc_config_default(&ac);
    dp.d2d_sigma = 0.2;
    dp.read_noise_sigma = 0.05;
    ac.bits = 5;
    assert_int_equal(
        mx_snn_program_crossbars(f->net, &xc, &mx_device_reram, &dp, &ac, 4, f->mm), MX_OK);
    assert_int_equal(mx_calibrate_adc_ranges(f->net, f->d.x, N_REBALANCE, 64, 99.9, SEED,
                                             ITEM_BASE, NULL),
                     MX_OK);
    const int threads = omp_get_max_threads();
    float th[2][2][32];
    mx_rebalance_report rep[2];
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t + 1);
        assert_int_equal(rebalance(f, MX_REBALANCE_NEURON, &rep[t]), MX_OK);
        mx_snn_get_thresholds(f->net, 0, th[t][0]);
        mx_snn_get_thresholds(f->net, 1, th[t][1]);
    }
    omp_set_num_threads(threads);
    assert_memory_equal(th[0][0], th[1][0], 32 * sizeof(float));
    assert_memory_equal(th[0][1], th[1][1], 10 * sizeof(float));
    assert_memory_equal(&rep[0], &rep[1], sizeof rep[0]);
    /* the hardware is far from ideal: thresholds moved */
    double dev = 0.0;
    for (size_t o = 0; o < 32; o++)
        dev += fabs((double)th[0][0][o] - 1.0);
    assert_true(dev / 32 > 0.01);
    drop_backends(f);
}

static void test_none_does_nothing_and_bad_settings_are_refused(void **state)
{
    fixture *f = *state;
    if (!f)
        skip();
    program_with_gain(f, 0, NULL);
    program_with_gain(f, 1, NULL);
    float one[32];
    for (size_t o = 0; o < 32; o++)
        one[o] = 2.0f;
    assert_int_equal(mx_snn_set_thresholds(f->net, 0, one), MX_OK);
    mx_rebalance_report rep;
    assert_int_equal(rebalance(f, MX_REBALANCE_NONE, &rep), MX_OK);
    assert_int_equal(rep.passes, 0);
    float th[32];
    mx_snn_get_thresholds(f->net, 0, th);
    assert_close(th[5], 2.0, 0.0, 0.0); /* untouched */

    mx_rebalance_config c;
    mx_rebalance_config_default(&c);
    assert_int_equal(c.mode, MX_REBALANCE_NONE);
    c.images = 0;
    assert_int_equal(mx_rebalance_config_validate(&c), MX_EINVAL);
    assert_non_null(strstr(mx_last_error(), "snn.threshold_rebalance_images"));
    c.images = 10;
    c.mode = (mx_rebalance_mode)7;
    assert_int_equal(mx_rebalance_config_validate(&c), MX_EINVAL);
    assert_non_null(strstr(mx_last_error(), "snn.threshold_rebalance"));
    c.mode = MX_REBALANCE_LAYER;
    assert_int_equal(mx_rebalance_thresholds(f->net, &c, f->d.x, 0, 64, SEED, ITEM_BASE, NULL),
                     MX_EINVAL);
    one[3] = 0.0f;
    assert_int_equal(mx_snn_set_thresholds(f->net, 0, one), MX_EINVAL);
    one[3] = NAN;
    assert_int_equal(mx_snn_set_thresholds(f->net, 0, one), MX_EINVAL);
    assert_int_equal(mx_snn_set_thresholds(f->net, 2, NULL), MX_EINVAL);
    mx_clear_error();
    drop_backends(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_positive_percentile_is_the_conversions_quantile),
        cmocka_unit_test(test_partial_run_sees_the_currents_of_a_full_run),
        cmocka_unit_test(test_ideal_crossbar_gives_the_digital_thresholds),
        cmocka_unit_test(test_known_gain_scales_the_thresholds_by_it),
        cmocka_unit_test(test_neuron_mode_finds_a_gain_per_neuron),
        cmocka_unit_test(test_thread_count_changes_no_bit),
        cmocka_unit_test(test_none_does_nothing_and_bad_settings_are_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
