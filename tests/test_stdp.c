/* SPDX-License-Identifier: MIT
 *
 * test_stdp.c: the Diehl & Cook STDP network (snn/stdp.h) and its sweep
 * point (experiments/stdp_run.h): the membrane's closed form, trace decay,
 * the pre-and-post rule's Δw for a spike pattern, weight normalisation, the
 * adaptive threshold, stochastic binary switching frequency, labelling from
 * the given (training) responses, a short real learning run on MNIST that a
 * broken rule cannot pass, the crossbar with an ideal device against the
 * digital path, and the HDF5 cache round trip.
 */
#include "support/mx_test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "crossbar/crossbar.h"
#include "devices/devices.h"
#include "experiments/dataset.h"
#include "experiments/stdp_run.h"
#include "snn/stdp.h"

static mx_stdp *make_net(size_t n_in, size_t n_exc, mx_stdp_synapse syn, uint64_t seed)
{
    mx_stdp_config c;
    mx_stdp_config_default(&c);
    c.n_exc = n_exc;
    c.synapse = syn;
    mx_stdp *net = NULL;
    assert_int_equal(mx_stdp_create(&c, n_in, 10, NULL, NULL, seed, &net), MX_OK);
    return net;
}

/* Exponential integrator vs the closed form at several times, and vs an
 * independent RK4 integration with 1000× finer steps. */
static void test_membrane_matches_the_closed_form_for_constant_conductance(void **state)
{
    (void)state;
    const double tau = 0.1, dt = 0.5e-3, e_rest = -65e-3, e_exc = 0.0, e_inh = -100e-3;
    const double ge = 0.3, gi = 0.05, v0 = -80e-3;
    const double g = 1.0 + ge + gi, vinf = (e_rest + ge * e_exc + gi * e_inh) / g;
    double v = v0;
    for (int k = 1; k <= 400; k++) {
        v = mx_stdp_membrane_exact(v, ge, gi, e_rest, e_exc, e_inh, tau, dt);
        const double closed = vinf + (v0 - vinf) * exp(-k * dt * g / tau);
        assert_close(v, closed, 1e-12, 0.0);
    }
    /* RK4 of τ dv/dt = (E_rest − v) + g_e(E_exc − v) + g_i(E_inh − v) */
    double u = v0;
    const double h = dt / 1000.0;
    for (int k = 0; k < 400 * 1000; k++) {
        double f1 = ((e_rest - u) + ge * (e_exc - u) + gi * (e_inh - u)) / tau;
        double u2 = u + 0.5 * h * f1;
        double f2 = ((e_rest - u2) + ge * (e_exc - u2) + gi * (e_inh - u2)) / tau;
        double u3 = u + 0.5 * h * f2;
        double f3 = ((e_rest - u3) + ge * (e_exc - u3) + gi * (e_inh - u3)) / tau;
        double u4 = u + h * f3;
        double f4 = ((e_rest - u4) + ge * (e_exc - u4) + gi * (e_inh - u4)) / tau;
        u += h / 6.0 * (f1 + 2 * f2 + 2 * f3 + f4);
    }
    assert_close(v, u, 1e-10, 0.0);
}

/* x(t) = exp(−t/τ) after a spike at 0, for all three traces. */
static void test_traces_decay_by_their_closed_forms(void **state)
{
    (void)state;
    mx_stdp *net = make_net(4, 3, MX_STDP_FLOAT, 1);
    const mx_stdp_config *c = mx_stdp_get_config(net);
    mx_stdp_learn_pre(net, 2);
    mx_stdp_learn_post(net, 1);
    const size_t steps = 37;
    mx_stdp_decay_traces(net, steps);
    const double t = (double)steps * c->dt_s;
    /* float traces: 37 products of a float factor, ~37 ulp */
    assert_close(mx_stdp_traces(net, 0)[2], exp(-t / c->tau_pre_s), 0.0, 1e-5);
    assert_close(mx_stdp_traces(net, 1)[1], exp(-t / c->tau_post1_s), 0.0, 1e-5);
    assert_close(mx_stdp_traces(net, 2)[1], exp(-t / c->tau_post2_s), 0.0, 1e-5);
    assert_true(mx_stdp_traces(net, 0)[0] == 0.0f);
    mx_stdp_destroy(net);
}

/* post at 0, pre at a, post at a + b:
 *   Δw = −ν_pre·e^(−a/τ1) + ν_post·e^(−b/τ_pre)·e^(−(a+b)/τ2) */
static void test_a_spike_pattern_gives_the_rules_weight_change(void **state)
{
    (void)state;
    mx_stdp *net = make_net(2, 2, MX_STDP_FLOAT, 2);
    const mx_stdp_config *c = mx_stdp_get_config(net);
    float *w = mx_stdp_weights(net);
    const float w0 = w[0 * 2 + 1], w_other = w[0 * 2 + 0];
    const size_t a = 12, b = 7;
    mx_stdp_learn_post(net, 1);
    mx_stdp_decay_traces(net, a);
    mx_stdp_learn_pre(net, 0);
    mx_stdp_decay_traces(net, b);
    mx_stdp_learn_post(net, 1);
    const double dt = c->dt_s;
    const double dw = -c->nu_pre * exp(-(double)a * dt / c->tau_post1_s) +
                      c->nu_post * exp(-(double)b * dt / c->tau_pre_s) *
                          exp(-(double)(a + b) * dt / c->tau_post2_s);
    assert_close(w[0 * 2 + 1] - w0, dw, 2e-7, 1e-4);
    /* neuron 0 never spiked: its synapse is untouched */
    assert_true(w[0 * 2 + 0] == w_other);
    /* the first post spike alone potentiates nothing (x_post2 was 0 before it) */
    mx_stdp *fresh = make_net(2, 2, MX_STDP_FLOAT, 2);
    float *wf = mx_stdp_weights(fresh);
    const float before = wf[1];
    mx_stdp_learn_pre(fresh, 0);
    mx_stdp_decay_traces(fresh, 3);
    mx_stdp_learn_post(fresh, 1);
    assert_true(wf[1] == before);
    mx_stdp_destroy(fresh);
    mx_stdp_destroy(net);
}

/* Learning-rate decay (stdp.nu_decay_final): a scale s multiplies the
 * rule's Δw exactly (closed form as above), and mx_stdp_train applies
 * s = f^(done/total) before each example — the same weights as a manual
 * loop over mx_stdp_train_example with that schedule, and different ones
 * from constant rates. */
static void test_learning_rate_decay_scales_the_rule_on_its_schedule(void **state)
{
    (void)state;
    mx_stdp *net = make_net(2, 2, MX_STDP_FLOAT, 2);
    const mx_stdp_config *c = mx_stdp_get_config(net);
    float *w = mx_stdp_weights(net);
    const float w0 = w[1];
    const size_t a = 12, b = 7;
    const double scale = 0.25;
    mx_stdp_set_nu_scale(net, scale);
    mx_stdp_learn_post(net, 1);
    mx_stdp_decay_traces(net, a);
    mx_stdp_learn_pre(net, 0);
    mx_stdp_decay_traces(net, b);
    mx_stdp_learn_post(net, 1);
    const double dt = c->dt_s;
    const double dw = scale * (-c->nu_pre * exp(-(double)a * dt / c->tau_post1_s) +
                               c->nu_post * exp(-(double)b * dt / c->tau_pre_s) *
                                   exp(-(double)(a + b) * dt / c->tau_post2_s));
    assert_close(w[1] - w0, dw, 2e-7, 1e-4);
    mx_stdp_destroy(net);

    /* the schedule of mx_stdp_train over 2 epochs × 3 examples */
    enum { NI = 16, NE = 3, N = 3, EP = 2 };
    float x[N * NI];
    uint8_t y[N] = {0, 1, 2};
    for (size_t i = 0; i < N * NI; i++)
        x[i] = (float)((i * 7 + 3) % 11) / 10.0f;
    mx_stdp_config cd;
    mx_stdp_config_default(&cd);
    cd.n_exc = NE;
    cd.epochs = EP;
    cd.nu_post = 0.2; /* large rates so three examples move the weights */
    cd.nu_pre = 0.02;
    cd.nu_decay_final = 0.1;
    mx_stdp *tr = NULL, *man = NULL, *flat = NULL;
    assert_int_equal(mx_stdp_create(&cd, NI, 10, NULL, NULL, 9, &tr), MX_OK);
    assert_int_equal(mx_stdp_create(&cd, NI, 10, NULL, NULL, 9, &man), MX_OK);
    mx_stdp_config cf = cd;
    cf.nu_decay_final = 1.0;
    assert_int_equal(mx_stdp_create(&cf, NI, 10, NULL, NULL, 9, &flat), MX_OK);
    assert_int_equal(mx_stdp_train(tr, x, y, N, 9), MX_OK);
    assert_int_equal(mx_stdp_train(flat, x, y, N, 9), MX_OK);
    for (size_t e = 0; e < EP; e++)
        for (size_t i = 0; i < N; i++) {
            mx_stdp_set_nu_scale(man, pow(0.1, (double)(e * N + i) / (double)(EP * N)));
            assert_int_equal(
                mx_stdp_train_example(man, x + i * NI, ((uint64_t)e << 32) | i, NULL), MX_OK);
        }
    mx_stdp_normalise(mx_stdp_weights(man), NI, NE, cd.weight_sum);
    const float *wt = mx_stdp_weights(tr), *wm = mx_stdp_weights(man),
                *wf = mx_stdp_weights(flat);
    double diff_flat = 0.0;
    for (size_t i = 0; i < NI * NE; i++) {
        assert_true(wt[i] == wm[i]);
        diff_flat += fabs((double)wt[i] - (double)wf[i]);
    }
    assert_true(diff_flat > 1e-3);
    mx_stdp_destroy(tr);
    mx_stdp_destroy(man);
    mx_stdp_destroy(flat);
}

static void test_normalisation_makes_every_neuron_sum_to_the_target(void **state)
{
    (void)state;
    const size_t ni = 784, ne = 7;
    float *w = malloc(ni * ne * sizeof(float));
    srand(3);
    for (size_t i = 0; i < ni * ne; i++)
        w[i] = (float)rand() / (float)RAND_MAX;
    w[5 * ne + 2] = 0.0f;
    mx_stdp_normalise(w, ni, ne, 78.0);
    for (size_t j = 0; j < ne; j++) {
        double s = 0.0;
        for (size_t i = 0; i < ni; i++)
            s += (double)w[i * ne + j];
        assert_close(s, 78.0, 0.0, 1e-5);
    }
    assert_true(w[5 * ne + 2] == 0.0f);
    free(w);
}

/* θ rises by θ+ per training spike (decay over one example ≈ 1 − 3.5e-5)
 * and is frozen in mx_stdp_run. */
static void test_adaptive_threshold_rises_per_spike_and_is_frozen_at_test(void **state)
{
    (void)state;
    mx_stdp *net = make_net(784, 1, MX_STDP_FLOAT, 4);
    const mx_stdp_config *c = mx_stdp_get_config(net);
    float *x = malloc(784 * sizeof(float));
    for (size_t i = 0; i < 784; i++)
        x[i] = 1.0f;
    uint32_t count = 0;
    assert_int_equal(mx_stdp_train_example(net, x, 0, &count), MX_OK);
    assert_true(count >= c->min_spikes); /* bright input: no retry */
    assert_close(mx_stdp_theta(net)[0], c->theta_plus_v * count, 0.0, 1e-3);
    const float th = mx_stdp_theta(net)[0];
    mx_stdp_state *s = NULL;
    assert_int_equal(mx_stdp_state_create(net, &s), MX_OK);
    uint32_t cnt;
    assert_int_equal(mx_stdp_run(net, s, x, 9, 0, NULL, 0, &cnt, NULL, NULL, NULL), MX_OK);
    assert_true(cnt > 0);
    assert_true(mx_stdp_theta(net)[0] == th);
    mx_stdp_state_destroy(s);
    mx_stdp_destroy(net);
    free(x);
}

/* The authors' threshold timer: an excitatory neuron driven far above
 * threshold fires at most once per exc_spike_gap_s (50 ms: at most 7 spikes
 * in a 350 ms stimulus, ⌈350/50.5⌉); with the gap off only the 5 ms
 * refractory period limits it, and it fires many times more. */
static void test_excitatory_spikes_keep_the_authors_gap(void **state)
{
    (void)state;
    float *x = malloc(784 * sizeof(float));
    for (size_t i = 0; i < 784; i++)
        x[i] = 1.0f;
    uint32_t cnt[2];
    for (int k = 0; k < 2; k++) {
        mx_stdp_config c;
        mx_stdp_config_default(&c);
        c.n_exc = 1;
        c.exc_spike_gap_s = k == 0 ? 0.05 : 0.0;
        mx_stdp *net = NULL;
        assert_int_equal(mx_stdp_create(&c, 784, 10, NULL, NULL, 4, &net), MX_OK);
        mx_stdp_state *s = NULL;
        assert_int_equal(mx_stdp_state_create(net, &s), MX_OK);
        assert_int_equal(mx_stdp_run(net, s, x, 9, 0, NULL, 0, &cnt[k], NULL, NULL, NULL),
                         MX_OK);
        mx_stdp_state_destroy(s);
        mx_stdp_destroy(net);
    }
    print_message("bright input, 350 ms: %u spikes with the 50 ms gap, %u without\n", cnt[0],
                  cnt[1]);
    assert_true(cnt[0] >= 6 && cnt[0] <= 7);
    assert_true(cnt[1] >= 3 * cnt[0]);
    free(x);
}

/* Binary cells, all OFF; every input spikes at 0, then k steps, then a post
 * spike: each switches ON with p = γ⁺·exp(−k·dt/τ⁺) through one SET pulse
 * of the binary device (nominal cell: P(pulse) = p). Binomial 4σ. */
static void test_stochastic_switching_frequency_matches_p_plus(void **state)
{
    (void)state;
    mx_stdp_config c;
    mx_stdp_config_default(&c);
    c.n_exc = 1;
    c.synapse = MX_STDP_STOCHASTIC_BINARY;
    c.p_on_init = 0.0;
    c.gamma_plus = 0.6;
    mx_device_params dp;
    mx_device_params_default(&dp);
    const size_t n = 20000, k = 10;
    mx_stdp *net = NULL;
    assert_int_equal(mx_stdp_create(&c, n, 10, &mx_device_binary, &dp, 5, &net), MX_OK);
    const float *w = mx_stdp_weights(net);
    for (size_t i = 0; i < n; i++)
        assert_true(w[i] == 0.0f);
    for (size_t i = 0; i < n; i++)
        mx_stdp_learn_pre(net, i);
    mx_stdp_decay_traces(net, k);
    mx_stdp_learn_post(net, 0);
    size_t on = 0;
    for (size_t i = 0; i < n; i++)
        on += w[i] > 0.5f;
    const double p = c.gamma_plus * exp(-(double)k * c.dt_s / c.tau_plus_s);
    assert_within_sigma((double)on / (double)n, p, sqrt(p * (1 - p) / (double)n), 4.0);
    assert_true(mx_stdp_pulses(net) == n);
    mx_stdp_destroy(net);
}

/* Labels come from the responses handed in: each neuron takes the class of
 * its highest mean count; a silent one class 0; prediction by group means. */
static void test_labels_come_from_the_given_responses(void **state)
{
    (void)state;
    /* 6 examples, 3 neurons */
    const uint8_t y[6] = {3, 3, 5, 5, 1, 1};
    const uint32_t counts[6 * 3] = {9, 0, 0, 7, 0, 0, 1, 4, 0, 0, 6, 0, 2, 1, 0, 2, 1, 0};
    int label[3];
    mx_stdp_assign_labels(counts, y, 6, 3, 10, label);
    assert_int_equal(label[0], 3);
    assert_int_equal(label[1], 5);
    assert_int_equal(label[2], 0);
    const uint32_t probe[3] = {1, 3, 0};
    assert_int_equal(mx_stdp_predict(probe, label, 3, 10), 5);
    /* a changed label set changes the assignment: labels follow y */
    const uint8_t y2[6] = {7, 7, 2, 2, 1, 1};
    mx_stdp_assign_labels(counts, y2, 6, 3, 10, label);
    assert_int_equal(label[0], 7);
    assert_int_equal(label[1], 2);
}

/* Proportion weighting (BindsNET, Hazan et al. 2018) by hand: 4 labelling
 * examples of classes 0,0,1,1. Neuron 0 answers 4,2,1,1 (class means 3, 1:
 * proportions 0.75, 0.25, label 0), neuron 1 0,0,2,4 (0, 3: 0, 1, label 1),
 * neuron 2 1,1,1,1 (1, 1: 0.5, 0.5, label 0 by the tie rule). For counts
 * (0, 3, 6) the group means tie at 3 (class 0 by the tie rule), while
 * proportion weighting scores class 0 (0.75·0 + 0.5·6)/2 = 1.5 and class 1
 * 1·3/1 = 3: class 1. mx_stdp_classify follows stdp.readout, and the cache
 * keeps the proportions. */
static void test_proportion_weighting_by_hand(void **state)
{
    (void)state;
    const uint8_t y[4] = {0, 0, 1, 1};
    const uint32_t counts[4 * 3] = {4, 0, 1, 2, 0, 1, 1, 2, 1, 1, 4, 1};
    int label[3];
    float prop[3 * 2];
    mx_stdp_assign_labels(counts, y, 4, 3, 2, label);
    mx_stdp_assign_proportions(counts, y, 4, 3, 2, prop);
    assert_int_equal(label[0], 0);
    assert_int_equal(label[1], 1);
    assert_int_equal(label[2], 0);
    const float want[6] = {0.75f, 0.25f, 0.0f, 1.0f, 0.5f, 0.5f};
    for (size_t i = 0; i < 6; i++)
        assert_close(prop[i], want[i], 1e-7, 0.0);
    const uint32_t probe[3] = {0, 3, 6};
    assert_int_equal(mx_stdp_predict(probe, label, 3, 2), 0);
    assert_int_equal(mx_stdp_predict_proportion(probe, label, prop, 3, 2), 1);
    /* a silent neuron has proportions 0 */
    const uint32_t quiet[4 * 1] = {0, 0, 0, 0};
    float p1[2] = {9, 9};
    mx_stdp_assign_proportions(quiet, y, 4, 1, 2, p1);
    assert_true(p1[0] == 0.0f && p1[1] == 0.0f);

    mx_stdp_config c;
    mx_stdp_config_default(&c);
    c.n_exc = 3;
    c.readout = MX_STDP_READOUT_PROPORTION;
    mx_stdp *net = NULL, *raw = NULL;
    assert_int_equal(mx_stdp_create(&c, 4, 2, NULL, NULL, 1, &net), MX_OK);
    assert_int_equal(mx_stdp_create(&c, 4, 2, NULL, NULL, 1, &raw), MX_OK);
    memcpy(mx_stdp_labels(net), label, sizeof label);
    memcpy(mx_stdp_proportions(net), prop, sizeof prop);
    assert_int_equal(mx_stdp_classify(net, probe), 1);
    char path[] = "/tmp/test_stdp_prop_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(mx_stdp_save(path, net, "k=1;"), MX_OK);
    assert_int_equal(mx_stdp_load(path, raw, "k=1;"), MX_OK);
    assert_memory_equal(mx_stdp_proportions(raw), prop, sizeof prop);
    assert_int_equal(mx_stdp_classify(raw, probe), 1);
    remove(path);
    mx_stdp_destroy(raw);
    c.readout = MX_STDP_READOUT_MEAN;
    mx_stdp *mean = NULL;
    assert_int_equal(mx_stdp_create(&c, 4, 2, NULL, NULL, 1, &mean), MX_OK);
    memcpy(mx_stdp_labels(mean), label, sizeof label);
    assert_int_equal(mx_stdp_classify(mean, probe), 0);
    mx_stdp_destroy(mean);
    mx_stdp_destroy(net);
}

static int load_mnist(size_t n_train, mx_dataset *tr)
{
    char dir[1024];
    if (mx_data_dir_find(mx_test_data_dir(), dir, sizeof dir) != MX_OK)
        return 0;
    return mx_dataset_load(dir, "mnist", MX_SPLIT_TRAIN, n_train, tr) == MX_OK;
}

static double accuracy(mx_stdp *net, const float *x, const uint8_t *y, size_t n, mx_matmul *mm)
{
    mx_stdp_state *s = NULL;
    assert_int_equal(mx_stdp_state_create(net, &s), MX_OK);
    const size_t ne = mx_stdp_get_config(net)->n_exc;
    uint32_t *cnt = malloc(ne * sizeof(uint32_t));
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(mx_stdp_run(net, s, x + i * 784, 11, i, mm, 0, cnt, NULL, NULL, NULL),
                         MX_OK);
        ok += mx_stdp_predict(cnt, mx_stdp_labels(net), ne, 10) == (int)y[i];
    }
    free(cnt);
    mx_stdp_state_destroy(s);
    return (double)ok / (double)n;
}

/* LEARN_EXC neurons trained on the first LEARN_TRAIN MNIST training images,
 * labelled on them, tested on the held-out images after them. A rule with
 * its sign flipped or no learning stays near the untrained network's value
 * (measured values in the assertion's comment). */
#define LEARN_EXC 30
#define LEARN_TRAIN 400
#define LEARN_TEST 200
#define ACC_MIN 0.45 /* measured 0.550 (seed 1; 0.590 with the 50 ms spike gap) */
#define ACC_GAIN 0.20 /* untrained: 0.165 */
static void test_learning_on_400_mnist_images_beats_the_untrained_network(void **state)
{
    (void)state;
    mx_dataset tr;
    if (!load_mnist(LEARN_TRAIN + LEARN_TEST, &tr))
        skip();
    mx_stdp *net = make_net(784, LEARN_EXC, MX_STDP_FLOAT, 1);
    mx_stdp *raw = make_net(784, LEARN_EXC, MX_STDP_FLOAT, 1);
    assert_int_equal(mx_stdp_train(net, tr.x, tr.y, LEARN_TRAIN, 1), MX_OK);
    assert_int_equal(mx_stdp_label(net, tr.x, tr.y, LEARN_TRAIN, 7, 0), MX_OK);
    assert_int_equal(mx_stdp_label(raw, tr.x, tr.y, LEARN_TRAIN, 7, 0), MX_OK);
    const float *xt = tr.x + LEARN_TRAIN * 784;
    const uint8_t *yt = tr.y + LEARN_TRAIN;
    const double acc = accuracy(net, xt, yt, LEARN_TEST, NULL);
    const double acc_raw = accuracy(raw, xt, yt, LEARN_TEST, NULL);
    print_message("STDP %d neurons, %d images: held-out accuracy %.3f (untrained %.3f)\n",
                  LEARN_EXC, LEARN_TRAIN, acc, acc_raw);
    assert_true(acc >= ACC_MIN);
    assert_true(acc >= acc_raw + ACC_GAIN);

    /* crossbar with an ideal device and an exact ADC = the digital path */
    mx_crossbar_config xb;
    mx_crossbar_config_default(&xb);
    xb.input = MX_INPUT_SPIKES;
    mx_device_params dp;
    mx_device_params_default(&dp);
    mx_adc_config adc;
    mx_adc_config_default(&adc);
    adc.kind = MX_ADC_NONE;
    const size_t ne = LEARN_EXC;
    float *w = mx_stdp_weights(net), *wt = malloc(784 * ne * sizeof(float));
    for (size_t i = 0; i < 784; i++)
        for (size_t j = 0; j < ne; j++)
            wt[j * 784 + i] = w[i * ne + j];
    mx_matmul *mm = NULL;
    assert_int_equal(mx_matmul_create(wt, ne, 784, &xb, &mx_device_reram, &dp, &adc, 3, 0, &mm),
                     MX_OK);
    mx_stdp_state *s1 = NULL, *s2 = NULL;
    assert_int_equal(mx_stdp_state_create(net, &s1), MX_OK);
    assert_int_equal(mx_stdp_state_create(net, &s2), MX_OK);
    uint32_t c1[LEARN_EXC], c2[LEARN_EXC];
    size_t same = 0, same_pred = 0;
    const size_t n_cmp = 20;
    for (size_t i = 0; i < n_cmp; i++) {
        mx_stdp_run_stats st = {0};
        assert_int_equal(mx_stdp_run(net, s1, xt + i * 784, 5, i, mm, 1, c1, NULL, &st, NULL),
                         MX_OK);
        assert_int_equal(mx_stdp_run(net, s2, xt + i * 784, 5, i, NULL, 0, c2, NULL, NULL, NULL),
                         MX_OK);
        same += memcmp(c1, c2, sizeof c1) == 0;
        same_pred += mx_stdp_predict(c1, mx_stdp_labels(net), ne, 10) ==
                     mx_stdp_predict(c2, mx_stdp_labels(net), ne, 10);
        /* float rounding of the conductance sums only */
        assert_true(st.ref_sq_sum > 0.0);
        assert_true(sqrt(st.err_sq_sum / st.ref_sq_sum) < 1e-5);
    }
    /* a rounding difference may move one spike by a step in a rare example */
    assert_true(same >= n_cmp - 2);
    assert_true(same_pred >= n_cmp - 1);
    mx_matmul_destroy(mm);
    mx_stdp_state_destroy(s1);
    mx_stdp_state_destroy(s2);
    free(wt);

    /* the HDF5 cache round trip */
    char path[] = "/tmp/test_stdp_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(mx_stdp_save(path, net, "k=1;"), MX_OK);
    assert_int_equal(mx_stdp_load(path, raw, "k=2;"), MX_EMISMATCH);
    assert_int_equal(mx_stdp_load(path, raw, "k=1;"), MX_OK);
    assert_memory_equal(mx_stdp_weights(raw), mx_stdp_weights(net), 784 * ne * sizeof(float));
    assert_memory_equal(mx_stdp_theta(raw), mx_stdp_theta(net), ne * sizeof(float));
    assert_memory_equal(mx_stdp_labels(raw), mx_stdp_labels(net), ne * sizeof(int));
    remove(path);
    mx_stdp_destroy(net);
    mx_stdp_destroy(raw);
    mx_dataset_free(&tr);
}

static void test_bad_settings_are_named(void **state)
{
    (void)state;
    mx_stdp_config c;
    mx_stdp_config_default(&c);
    assert_int_equal(mx_stdp_config_validate(&c), MX_OK);
    c.n_exc = 0;
    assert_int_equal(mx_stdp_config_validate(&c), MX_EINVAL);
    assert_non_null(strstr(mx_last_error(), "stdp.n_exc"));
    mx_stdp_config_default(&c);
    c.gamma_plus = 1.5;
    assert_int_equal(mx_stdp_config_validate(&c), MX_EINVAL);
    assert_non_null(strstr(mx_last_error(), "stdp.gamma_plus"));
    mx_stdp_config_default(&c);
    c.tau_pre_s = 0.0;
    assert_int_equal(mx_stdp_config_validate(&c), MX_EINVAL);
    assert_non_null(strstr(mx_last_error(), "stdp.tau_pre_s"));
    mx_stdp_config_default(&c);
    c.nu_decay_final = 0.0;
    assert_int_equal(mx_stdp_config_validate(&c), MX_EINVAL);
    assert_non_null(strstr(mx_last_error(), "stdp.nu_decay_final"));
    c.nu_decay_final = 1.5;
    assert_int_equal(mx_stdp_config_validate(&c), MX_EINVAL);
    mx_stdp_config_default(&c);
    c.readout = (mx_stdp_readout)7;
    assert_int_equal(mx_stdp_config_validate(&c), MX_EINVAL);
    assert_non_null(strstr(mx_last_error(), "stdp.readout"));
    /* stochastic-binary needs the binary device; device a pulse response */
    mx_stdp_config_default(&c);
    c.synapse = MX_STDP_STOCHASTIC_BINARY;
    mx_device_params dp;
    mx_device_params_default(&dp);
    mx_stdp *net = NULL;
    assert_int_equal(mx_stdp_create(&c, 10, 10, &mx_device_reram, &dp, 1, &net), MX_EINVAL);
    assert_null(net);
    c.synapse = MX_STDP_DEVICE;
    assert_int_equal(mx_stdp_create(&c, 10, 10, &mx_device_reram, &dp, 1, &net), MX_EINVAL);
    assert_non_null(strstr(mx_last_error(), "hardware.device.type"));
}

/* Device synapses: pulses happen and the weights stay in the window. */
static void test_device_synapses_learn_through_pulses(void **state)
{
    (void)state;
    mx_dataset tr;
    if (!load_mnist(60, &tr))
        skip();
    mx_stdp_config c;
    mx_stdp_config_default(&c);
    c.n_exc = 10;
    c.synapse = MX_STDP_DEVICE;
    mx_device_params dp;
    mx_device_params_default(&dp);
    mx_stdp *net = NULL;
    assert_int_equal(mx_stdp_create(&c, 784, 10, &mx_device_nonlinear, &dp, 1, &net), MX_OK);
    assert_int_equal(mx_stdp_train(net, tr.x, tr.y, 60, 1), MX_OK);
    assert_true(mx_stdp_pulses(net) > 1000);
    const float *w = mx_stdp_weights(net);
    double sum = 0.0;
    for (size_t i = 0; i < 784 * 10; i++) {
        assert_true(w[i] >= -1e-6f && w[i] <= 1.0f + 1e-6f);
        sum += (double)w[i];
    }
    /* normalised by pulses toward 78 per neuron (stochastic rounding of
     * 100-state steps: within a few per cent) */
    assert_close(sum / 10.0, 78.0, 0.0, 0.05);
    mx_stdp_destroy(net);
    mx_dataset_free(&tr);
}

/* Every allocation of a network, a training example, a state and a frozen
 * run may fail: each failure is a clean MX_ENOMEM (nothing leaks: ASan),
 * and the walk ends in a success. Float and stochastic-binary synapses. */
static void test_allocation_failures_leave_nothing_behind(void **state)
{
    (void)state;
    float x[16];
    for (size_t i = 0; i < 16; i++)
        x[i] = (float)(i % 3) / 2.0f;
    for (int binary = 0; binary < 2; binary++) {
        mx_stdp_config c;
        mx_stdp_config_default(&c);
        c.n_exc = 4;
        c.synapse = binary ? MX_STDP_STOCHASTIC_BINARY : MX_STDP_FLOAT;
        mx_device_params dp;
        mx_device_params_default(&dp);
        const mx_device_type *dev = binary ? mx_device_lookup("binary") : NULL;
        int succeeded = 0;
        long k = 1;
        for (; k < 1000 && !succeeded; k++) {
            mx_stdp *net = NULL;
            mx_stdp_state *s = NULL;
            uint32_t cnt[4];
            mx_alloc_fail_after(k);
            mx_status st = mx_stdp_create(&c, 16, 10, dev, binary ? &dp : NULL, 1, &net);
            if (!st)
                st = mx_stdp_train_example(net, x, 0, cnt);
            if (!st)
                st = mx_stdp_state_create(net, &s);
            if (!st)
                st = mx_stdp_run(net, s, x, 1, 0, NULL, 0, cnt, NULL, NULL, NULL);
            mx_alloc_fail_after(0);
            if (st)
                assert_int_equal(st, MX_ENOMEM);
            else
                succeeded = 1;
            mx_stdp_state_destroy(s);
            mx_stdp_destroy(net);
        }
        assert_true(succeeded);
        assert_true(k > 3); /* the walk did fail some allocations */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_membrane_matches_the_closed_form_for_constant_conductance),
        cmocka_unit_test(test_traces_decay_by_their_closed_forms),
        cmocka_unit_test(test_a_spike_pattern_gives_the_rules_weight_change),
        cmocka_unit_test(test_learning_rate_decay_scales_the_rule_on_its_schedule),
        cmocka_unit_test(test_normalisation_makes_every_neuron_sum_to_the_target),
        cmocka_unit_test(test_adaptive_threshold_rises_per_spike_and_is_frozen_at_test),
        cmocka_unit_test(test_excitatory_spikes_keep_the_authors_gap),
        cmocka_unit_test(test_allocation_failures_leave_nothing_behind),
        cmocka_unit_test(test_stochastic_switching_frequency_matches_p_plus),
        cmocka_unit_test(test_labels_come_from_the_given_responses),
        cmocka_unit_test(test_proportion_weighting_by_hand),
        cmocka_unit_test(test_learning_on_400_mnist_images_beats_the_untrained_network),
        cmocka_unit_test(test_bad_settings_are_named),
        cmocka_unit_test(test_device_synapses_learn_through_pulses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
