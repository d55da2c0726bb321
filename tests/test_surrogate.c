/* SPDX-License-Identifier: MIT
 *
 * test_surrogate.c: surrogate-gradient spiking networks (snn/surrogate.h)
 * and their sweep point (experiments/surrogate_run.h) — the surrogate
 * derivatives against their formulas and against finite differences of
 * their primitives, BPTT against finite differences of a smooth relaxation
 * (every reset, output and synapse option), the encoders against their
 * formulas and statistics, a short MNIST training, the crossbar with an
 * ideal device and exact ADC against the digital path, and results that do
 * not depend on the thread count.
 */
#include "support/mx_test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <omp.h>

#include "core/core.h"
#include "core/rng.h"
#include "experiments/config.h"
#include "experiments/dataset.h"
#include "experiments/method.h"
#include "experiments/surrogate_run.h"
#include "snn/surrogate.h"

/* ------------------------------------------------------------ surrogates */

static void test_surrogate_derivatives_match_their_formulas(void **state)
{
    (void)state;
    /* fast sigmoid 1/(1 + k|u|)², Zenke & Ganguli 2018 */
    assert_close(mx_surrogate_derivative(MX_SURROGATE_FAST_SIGMOID, 25.0, 0.0), 1.0, 0, 1e-15);
    assert_close(mx_surrogate_derivative(MX_SURROGATE_FAST_SIGMOID, 25.0, 0.1), 1.0 / 12.25, 0,
                 1e-15);
    assert_close(mx_surrogate_derivative(MX_SURROGATE_FAST_SIGMOID, 100.0, -0.03), 1.0 / 16.0, 0,
                 1e-15);
    /* arctan (α/2)/(1 + (π/2·α·u)²), snnTorch atan */
    assert_close(mx_surrogate_derivative(MX_SURROGATE_ARCTAN, 2.0, 0.0), 1.0, 0, 1e-15);
    assert_close(mx_surrogate_derivative(MX_SURROGATE_ARCTAN, 2.0, 0.3),
                 1.0 / (1.0 + (M_PI * 0.3) * (M_PI * 0.3)), 0, 1e-15);
    assert_close(mx_surrogate_derivative(MX_SURROGATE_ARCTAN, 4.0, -0.5),
                 2.0 / (1.0 + (M_PI * 1.0) * (M_PI * 1.0)), 0, 1e-15);
    /* Each is the derivative of its primitive: u/(1 + k|u|), atan(π/2·α·u)/π
     * (central differences, h = 1e-6: error O(h²·F‴) ≪ 1e-6). */
    const double us[] = {-0.7, -0.05, 0.02, 0.4, 1.3};
    for (size_t i = 0; i < sizeof us / sizeof us[0]; i++) {
        const double u = us[i], h = 1e-6, k = 25.0, a = 2.0;
        double fs = ((u + h) / (1 + k * fabs(u + h)) - (u - h) / (1 + k * fabs(u - h))) / (2 * h);
        double at = (atan(M_PI / 2 * a * (u + h)) - atan(M_PI / 2 * a * (u - h))) / M_PI / (2 * h);
        assert_close(mx_surrogate_derivative(MX_SURROGATE_FAST_SIGMOID, k, u), fs, 1e-6, 1e-6);
        assert_close(mx_surrogate_derivative(MX_SURROGATE_ARCTAN, a, u), at, 1e-6, 1e-6);
    }
    /* slope 0 = snnTorch's defaults */
    mx_surrogate_config c;
    mx_surrogate_config_default(&c);
    assert_close(mx_surrogate_slope(&c), 2.0, 0, 0);
    c.surrogate = MX_SURROGATE_FAST_SIGMOID;
    assert_close(mx_surrogate_slope(&c), 25.0, 0, 0);
    c.slope = 100.0;
    assert_close(mx_surrogate_slope(&c), 100.0, 0, 0);
}

static void test_config_checks_name_the_field(void **state)
{
    (void)state;
    mx_surrogate_config c;
    mx_surrogate_config_default(&c);
    assert_int_equal(mx_surrogate_config_validate(&c), MX_OK);
    c.beta = 1.5;
    assert_int_equal(mx_surrogate_config_validate(&c), MX_EINVAL);
    assert_non_null(strstr(mx_last_error(), "surrogate.beta"));
    mx_surrogate_config_default(&c);
    c.timesteps = 0;
    assert_int_equal(mx_surrogate_config_validate(&c), MX_EINVAL);
    assert_non_null(strstr(mx_last_error(), "surrogate.timesteps"));
    mx_surrogate_config_default(&c);
    c.alpha = 1.0;
    assert_int_equal(mx_surrogate_config_validate(&c), MX_EINVAL);
    assert_non_null(strstr(mx_last_error(), "surrogate.alpha"));
    /* events need frames; static encodings refuse them */
    size_t steps, n_in;
    mx_surrogate_config_default(&c);
    assert_int_equal(mx_surrogate_shape(&c, 784, 0, &steps, &n_in), MX_OK);
    assert_int_equal(steps, 25);
    assert_int_equal(n_in, 784);
    assert_int_equal(mx_surrogate_shape(&c, 800, 20, &steps, &n_in), MX_EINVAL);
    c.encoding = MX_SURROGATE_EVENTS;
    assert_int_equal(mx_surrogate_shape(&c, 784, 0, &steps, &n_in), MX_EINVAL);
    assert_int_equal(mx_surrogate_shape(&c, 800, 20, &steps, &n_in), MX_OK);
    assert_int_equal(steps, 20);
    assert_int_equal(n_in, 40);
}

/* ------------------------------------------------------------ BPTT */

#define GC_IN 5
#define GC_B 3
#define GC_T 7

/* Loss of net on the fixed batch. */
static double batch_loss(const mx_mlp *net, mx_surrogate_trainer *tr, const float *in,
                         int constant, const uint8_t *y)
{
    double loss = 0.0;
    assert_int_equal(mx_surrogate_loss_grad(net, tr, in, constant, y, GC_B, NULL, NULL, NULL, 0,
                                            NULL, &loss, NULL),
                     MX_OK);
    return loss;
}

/* BPTT of the relaxed network (S = 1/2 + F(v − θ)) against central
 * differences of its loss, on every weight of a 5-6-4-3 network. */
static void check_gradient(const mx_surrogate_config *base, int constant)
{
    mx_surrogate_config c = *base;
    c.relaxed_forward = 1;
    c.n_hidden = 2;
    c.hidden[0] = 6;
    c.hidden[1] = 4;
    c.timesteps = GC_T;
    c.init_gain = 2.0;
    mx_mlp *net;
    assert_int_equal(mx_surrogate_create(&c, GC_IN, 3, 7, &net), MX_OK);
    float in[GC_T * GC_B * GC_IN];
    mx_rng r;
    mx_rng_init_named(&r, 3, "test.input", 0);
    for (size_t i = 0; i < GC_T * GC_B * GC_IN; i++)
        in[i] = (float)(1.5 * mx_rng_uniform(&r));
    if (c.encoding != MX_SURROGATE_CURRENT) {
        /* spikes on 6 of the 105 inputs: layer 0 takes the sparse path
         * (at most 1/16 non-zero) */
        memset(in, 0, sizeof in);
        const size_t at[6] = {0, 17, 33, 51, 70, 96};
        for (size_t i = 0; i < 6; i++)
            in[at[i]] = 1.0f;
    }
    const uint8_t y[GC_B] = {0, 2, 1};
    mx_surrogate_trainer *tr;
    assert_int_equal(mx_surrogate_trainer_create(net, &c, GC_T, GC_B, &tr), MX_OK);
    float *grad[3];
    for (size_t l = 0; l < 3; l++)
        grad[l] = malloc(net->sizes[l + 1] * net->sizes[l] * sizeof(float));
    double loss;
    assert_int_equal(mx_surrogate_loss_grad(net, tr, in, constant, y, GC_B, NULL, NULL, NULL, 0,
                                            grad, &loss, NULL),
                     MX_OK);
    assert_true(loss > 0.0);
    double worst = 0.0, gmax = 0.0;
    size_t checked = 0, skipped = 0;
    for (size_t l = 0; l < 3; l++) {
        const size_t nw = net->sizes[l + 1] * net->sizes[l];
        for (size_t i = 0; i < nw; i++) {
            /* Central differences at h and h/2. The loss is float (≈1e-7
             * relative, ~1e-4 in the quotient at h = 2e-3); a membrane that
             * crosses θ inside ±h switches a (detached, hard) reset and
             * makes the two quotients disagree: such weights are skipped. */
            const float w0 = net->w[l][i];
            double fd[2];
            for (int q = 0; q < 2; q++) {
                const float h = q ? 1e-3f : 2e-3f;
                net->w[l][i] = w0 + h;
                double lp = batch_loss(net, tr, in, constant, y);
                net->w[l][i] = w0 - h;
                double lm = batch_loss(net, tr, in, constant, y);
                net->w[l][i] = w0;
                fd[q] = (lp - lm) / (2.0 * (double)h);
            }
            if (fabs(fd[0] - fd[1]) > 0.01 * (fabs(fd[1]) + 1e-2)) {
                skipped++;
                continue;
            }
            checked++;
            double e = fabs(fd[1] - (double)grad[l][i]) / (1e-2 + fabs(fd[1]));
            worst = e > worst ? e : worst;
            gmax = fabs(fd[1]) > gmax ? fabs(fd[1]) : gmax;
            if (e > 2e-2)
                print_error("layer %zu weight %zu: BPTT %.6g, finite difference %.6g\n", l, i,
                            (double)grad[l][i], fd[1]);
        }
    }
    /* Every gradient within 2 % (+2e-4 absolute: the float loss) of its finite difference;
     * a missing time carry, α term, reset factor or surrogate is off by far
     * more. At most a quarter of the weights may sit on a threshold crossing
     * (measured: 1 to 15 of 66 in the four cases). */
    print_message("BPTT vs finite differences: %zu weights checked, %zu skipped, worst %.2g\n",
                  checked, skipped, worst);
    assert_true(skipped * 4 <= checked + skipped);
    assert_true(gmax > 1e-2);
    assert_true(worst < 2e-2);
    for (size_t l = 0; l < 3; l++)
        free(grad[l]);
    mx_surrogate_trainer_destroy(tr);
    mx_mlp_destroy(net);
}

static void test_bptt_matches_finite_differences_subtract_reset(void **state)
{
    (void)state;
    mx_surrogate_config c;
    mx_surrogate_config_default(&c);
    c.beta = 0.8;
    check_gradient(&c, 0);
    c.surrogate = MX_SURROGATE_FAST_SIGMOID;
    c.slope = 2.0;
    check_gradient(&c, 1); /* constant input current */
    c.encoding = MX_SURROGATE_LATENCY;
    check_gradient(&c, 0); /* sparse spikes */
}

static void test_bptt_matches_finite_differences_zero_reset_synapse_max_output(void **state)
{
    (void)state;
    mx_surrogate_config c;
    mx_surrogate_config_default(&c);
    c.beta = 0.9;
    c.alpha = 0.6;
    c.reset = MX_SURROGATE_RESET_ZERO;
    c.output = MX_SURROGATE_MAX_MEMBRANE;
    c.surrogate = MX_SURROGATE_FAST_SIGMOID;
    c.slope = 3.0;
    check_gradient(&c, 0);
    c.output = MX_SURROGATE_MEMBRANE_SUM;
    c.surrogate = MX_SURROGATE_ARCTAN;
    check_gradient(&c, 1);
}

/* BPTT through conv blocks (im2col, LIF maps, 2x2 pooling) and the dense
 * layers after them, against central differences of the relaxed network's
 * loss, on every conv and dense weight. Images (1, side, side). */
static void check_conv_gradient(const mx_surrogate_config *base, size_t side, int constant)
{
    mx_surrogate_config c = *base;
    c.relaxed_forward = 1;
    c.n_hidden = 1;
    c.hidden[0] = 4;
    c.timesteps = GC_T;
    c.init_gain = 2.0;
    mx_surrogate_conv *cv;
    assert_int_equal(mx_surrogate_conv_create(&c, 1, side, side, 5, &cv), MX_OK);
    mx_mlp *net;
    assert_int_equal(mx_surrogate_create(&c, cv->n_out, 3, 7, &net), MX_OK);
    const size_t ni = side * side, rows = constant ? GC_B : GC_T * GC_B;
    float *in = malloc(rows * ni * sizeof(float));
    mx_rng r;
    mx_rng_init_named(&r, 3, "test.input", 1);
    for (size_t i = 0; i < rows * ni; i++)
        in[i] = (float)(1.5 * mx_rng_uniform(&r));
    const uint8_t y[GC_B] = {0, 2, 1};
    mx_surrogate_trainer *tr;
    assert_int_equal(mx_surrogate_trainer_create_conv(cv, net, &c, GC_T, GC_B, &tr), MX_OK);
    double loss;
    assert_int_equal(mx_surrogate_loss_grad(net, tr, in, constant, y, GC_B, NULL, NULL, NULL, 0,
                                            NULL, &loss, NULL),
                     MX_OK);
    assert_true(loss > 0.0);
    /* every conv weight, then every dense weight */
    const size_t n_sets = cv->n_conv + net->n_layers;
    double worst = 0.0, gmax_conv = 0.0;
    size_t checked = 0, skipped = 0;
    for (size_t q = 0; q < n_sets; q++) {
        const int is_conv = q < cv->n_conv;
        float *w = is_conv ? cv->w[q] : net->w[q - cv->n_conv];
        const size_t l = q - cv->n_conv;
        const size_t nw = is_conv ? cv->c_out[q] * mx_conv_patch_size(&cv->geom[q])
                                  : net->sizes[l + 1] * net->sizes[l];
        float *g = malloc(nw * sizeof(float));
        /* the gradient of the unperturbed weights (the trainer keeps the last) */
        assert_int_equal(mx_surrogate_loss_grad(net, tr, in, constant, y, GC_B, NULL, NULL, NULL,
                                                0, NULL, &loss, NULL),
                         MX_OK);
        float *gl[MX_MLP_MAX_LAYERS] = {0};
        if (is_conv) {
            memcpy(g, mx_surrogate_trainer_conv_grad(tr, q), nw * sizeof(float));
        } else {
            gl[l] = g;
            for (size_t k = 0; k < net->n_layers; k++)
                if (!gl[k])
                    gl[k] = malloc(net->sizes[k + 1] * net->sizes[k] * sizeof(float));
            assert_int_equal(mx_surrogate_loss_grad(net, tr, in, constant, y, GC_B, NULL, NULL,
                                                    NULL, 0, gl, &loss, NULL),
                             MX_OK);
            for (size_t k = 0; k < net->n_layers; k++)
                if (k != l)
                    free(gl[k]);
        }
        for (size_t i = 0; i < nw; i++) {
            const float w0 = w[i];
            double fd[2];
            for (int h2 = 0; h2 < 2; h2++) {
                const float h = h2 ? 1e-3f : 2e-3f;
                w[i] = w0 + h;
                double lp = batch_loss(net, tr, in, constant, y);
                w[i] = w0 - h;
                double lm = batch_loss(net, tr, in, constant, y);
                w[i] = w0;
                fd[h2] = (lp - lm) / (2.0 * (double)h);
            }
            if (fabs(fd[0] - fd[1]) > 0.01 * (fabs(fd[1]) + 1e-2)) {
                skipped++;
                continue;
            }
            checked++;
            double e = fabs(fd[1] - (double)g[i]) / (1e-2 + fabs(fd[1]));
            worst = e > worst ? e : worst;
            if (is_conv)
                gmax_conv = fabs(fd[1]) > gmax_conv ? fabs(fd[1]) : gmax_conv;
            if (e > 2e-2)
                print_error("%s %zu weight %zu: BPTT %.6g, finite difference %.6g\n",
                            is_conv ? "conv block" : "dense layer", is_conv ? q : l, i,
                            (double)g[i], fd[1]);
        }
        free(g);
    }
    print_message("conv BPTT vs finite differences: %zu weights checked, %zu skipped, worst "
                  "%.2g\n", checked, skipped, worst);
    /* A shared conv weight moves every position's membrane, so more of
     * them sit on some hard-reset crossing than in the dense check
     * (measured: 12, 13, 35 and 12 of 98 to 102): at most 40 %. */
    assert_true(skipped * 5 <= 2 * (checked + skipped));
    assert_true(gmax_conv > 1e-3); /* the conv gradient is not trivially 0 */
    assert_true(worst < 2e-2);
    free(in);
    mx_surrogate_trainer_destroy(tr);
    mx_mlp_destroy(net);
    mx_surrogate_conv_destroy(cv);
}

static void test_conv_bptt_matches_finite_differences(void **state)
{
    (void)state;
    mx_surrogate_config c;
    mx_surrogate_config_default(&c);
    c.beta = 0.8;
    /* 1x6x6, conv 2 channels k 3 pad 1, avg pool -> 2x3x3, dense 4, 3 */
    c.n_conv = 1;
    c.conv_channels[0] = 2;
    check_conv_gradient(&c, 6, 1); /* constant current */
    check_conv_gradient(&c, 6, 0);
    /* two blocks (col2im between them), synaptic current, fast sigmoid:
     * 1x8x8 -> 2x8x8 -> 2x4x4 -> 2x4x4 -> 2x2x2, dense 4, 3 */
    c.n_conv = 2;
    c.conv_channels[1] = 2;
    c.alpha = 0.5;
    c.surrogate = MX_SURROGATE_FAST_SIGMOID;
    c.slope = 3.0;
    check_conv_gradient(&c, 8, 0);
    /* max pooling: the gradient goes to each window's largest (relaxed) spike */
    c.n_conv = 1;
    c.pool = MX_POOL_MAX;
    check_conv_gradient(&c, 6, 0);
}

/* The minibatch dynamics equal the step function the crossbar uses. */
static void test_batch_forward_equals_neuron_step(void **state)
{
    (void)state;
    mx_surrogate_config c;
    mx_surrogate_config_default(&c);
    c.n_hidden = 1;
    c.hidden[0] = 8;
    c.timesteps = 9;
    c.alpha = 0.5;
    c.init_gain = 3.0;
    mx_mlp *net;
    assert_int_equal(mx_surrogate_create(&c, 6, 4, 11, &net), MX_OK);
    float x[5 * 6];
    mx_rng r;
    mx_rng_init_named(&r, 5, "test.input", 0);
    for (size_t i = 0; i < 30; i++)
        x[i] = (float)mx_rng_uniform(&r);
    int pred[5 * 9];
    assert_int_equal(mx_surrogate_predict(net, &c, x, 5, 6, 0, 1, 0, pred), MX_OK);
    for (size_t b = 0; b < 5; b++) {
        float syn[2][8] = {{0}}, v[2][8] = {{0}}, s[2][8] = {{0}}, z[8];
        float counts[4] = {0}, vmax[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
        for (size_t t = 0; t < 9; t++) {
            const float *in = x + b * 6;
            for (size_t l = 0; l < 2; l++) {
                const size_t ni = net->sizes[l], no = net->sizes[l + 1];
                for (size_t o = 0; o < no; o++) {
                    float a = 0.0f;
                    for (size_t j = 0; j < ni; j++)
                        a += net->w[l][o * ni + j] * in[j];
                    z[o] = a;
                }
                mx_surrogate_neuron_step(&c, 1, no, z, syn[l], v[l], s[l]);
                in = s[l];
            }
            for (size_t k = 0; k < 4; k++) {
                counts[k] += s[1][k];
                vmax[k] = v[1][k] > vmax[k] ? v[1][k] : vmax[k];
            }
            assert_int_equal(pred[b * 9 + t], mx_surrogate_decide(&c, counts, v[1], vmax, 4));
        }
    }
    mx_mlp_destroy(net);
}

/* ------------------------------------------------------------ encoders */

static void test_latency_spike_times_follow_the_formula(void **state)
{
    (void)state;
    /* t = ⌊τ·ln(x/(x − θ))⌋, τ = 20, θ = 0.2 (SpyTorch tutorial 2) */
    assert_int_equal(mx_surrogate_latency_step(1.0, 20, 0.2, 100), 4);   /* 4.46 */
    assert_int_equal(mx_surrogate_latency_step(0.5, 20, 0.2, 100), 10);  /* 10.2 */
    assert_int_equal(mx_surrogate_latency_step(0.25, 20, 0.2, 100), 32); /* 32.19 */
    assert_int_equal(mx_surrogate_latency_step(0.25, 20, 0.2, 30), -1);  /* after the window */
    assert_int_equal(mx_surrogate_latency_step(0.2, 20, 0.2, 100), -1);  /* at threshold */
    assert_int_equal(mx_surrogate_latency_step(0.0, 20, 0.2, 100), -1);
    mx_surrogate_config c;
    mx_surrogate_config_default(&c);
    c.encoding = MX_SURROGATE_LATENCY;
    c.timesteps = 50;
    float x[64], s[50 * 64];
    for (size_t j = 0; j < 64; j++)
        x[j] = (float)j / 63.0f;
    mx_surrogate_encode(&c, x, 64, 0, 1, 0, s);
    for (size_t j = 0; j < 64; j++) {
        size_t n = 0;
        long at = -1;
        for (size_t t = 0; t < 50; t++)
            if (s[t * 64 + j] != 0.0f) {
                n++;
                at = (long)t;
                assert_true(s[t * 64 + j] == 1.0f);
            }
        const double xj = (double)x[j];
        long want = -1;
        if (xj > 0.2) {
            double tt = 20.0 * log(xj / (xj - 0.2));
            want = tt < 50.0 ? (long)tt : -1;
        }
        assert_int_equal(at, want);
        assert_true(n <= 1);
    }
}

static void test_rate_encoding_has_the_intensity_as_probability(void **state)
{
    (void)state;
    mx_surrogate_config c;
    mx_surrogate_config_default(&c);
    c.encoding = MX_SURROGATE_RATE;
    c.timesteps = 200;
    enum { D = 100 };
    float x[D], *s = malloc(200 * D * sizeof(float)), *s2 = malloc(200 * D * sizeof(float));
    for (size_t j = 0; j < D; j++)
        x[j] = j < 50 ? 0.3f : (j < 99 ? 0.8f : 0.0f);
    mx_surrogate_encode(&c, x, D, 0, 42, 7, s);
    double n03 = 0, n08 = 0, n0 = 0;
    for (size_t t = 0; t < 200; t++)
        for (size_t j = 0; j < D; j++) {
            float v = s[t * D + j];
            assert_true(v == 0.0f || v == 1.0f);
            double *bin = j < 50 ? &n03 : (j < 99 ? &n08 : &n0);
            *bin += (double)v;
        }
    /* 10 000 and 9 800 Bernoulli draws: within 4 standard errors */
    assert_within_sigma(n03 / 10000.0, 0.3, sqrt(0.3 * 0.7 / 10000.0), 4.0);
    assert_within_sigma(n08 / 9800.0, 0.8, sqrt(0.8 * 0.2 / 9800.0), 4.0);
    assert_true(n0 == 0.0);
    /* the same (seed, item) repeats; another item differs */
    mx_surrogate_encode(&c, x, D, 0, 42, 7, s2);
    assert_memory_equal(s, s2, 200 * D * sizeof(float));
    mx_surrogate_encode(&c, x, D, 0, 42, 8, s2);
    assert_true(memcmp(s, s2, 200 * D * sizeof(float)) != 0);
    /* current: the image at every step; events: count > 0 is a spike */
    c.encoding = MX_SURROGATE_CURRENT;
    c.timesteps = 3;
    mx_surrogate_encode(&c, x, D, 0, 42, 7, s);
    assert_memory_equal(s + 2 * D, x, D * sizeof(float));
    c.encoding = MX_SURROGATE_EVENTS;
    float ev[6] = {0, 2, 0, 1, 0, 0.5f};
    mx_surrogate_encode(&c, ev, 6, 3, 42, 7, s);
    const float want[6] = {0, 1, 0, 1, 0, 1};
    assert_memory_equal(s, want, sizeof want);
    free(s);
    free(s2);
}

/* ------------------------------------------------------------ real data */

typedef struct mnist {
    mx_dataset train, test;
} mnist;

static int load_mnist(void **state)
{
    const char *dir = mx_test_data_dir();
    *state = NULL;
    if (!dir)
        return 0;
    mnist *d = calloc(1, sizeof *d);
    if (!d)
        return -1;
    if (mx_dataset_load(dir, "mnist", MX_SPLIT_TRAIN, 2000, &d->train) != MX_OK ||
        mx_dataset_load(dir, "mnist", MX_SPLIT_TEST, 500, &d->test) != MX_OK) {
        print_error("loading mnist from %s: %s\n", dir, mx_last_error());
        free(d);
        return -1;
    }
    *state = d;
    return 0;
}

static int free_mnist(void **state)
{
    mnist *d = *state;
    if (d) {
        mx_dataset_free(&d->train);
        mx_dataset_free(&d->test);
        free(d);
    }
    return 0;
}

/* A small, quick recipe: 784-128-10, T = 10, current input, 3 epochs. */
static void small_config(mx_surrogate_config *c)
{
    mx_surrogate_config_default(c);
    c->hidden[0] = 128;
    c->timesteps = 10;
    c->epochs = 3;
    c->batch_size = 64;
    c->learning_rate = 2e-3;
}

static double digital_accuracy(const mx_mlp *net, const mx_surrogate_config *c,
                               const mx_dataset *d)
{
    int *pred = malloc(d->n * c->timesteps * sizeof(int));
    assert_int_equal(mx_surrogate_predict(net, c, d->x, d->n, d->dim, 0, 1, 0, pred), MX_OK);
    size_t ok = 0;
    for (size_t i = 0; i < d->n; i++)
        ok += pred[i * c->timesteps + c->timesteps - 1] == (int)d->y[i];
    free(pred);
    return (double)ok / (double)d->n;
}

static void test_short_training_learns_mnist(void **state)
{
    const mnist *d = *state;
    if (!d)
        skip();
    mx_surrogate_config c;
    small_config(&c);
    mx_mlp *net;
    assert_int_equal(mx_surrogate_create(&c, 784, 10, 1, &net), MX_OK);
    double loss, train_acc;
    assert_int_equal(mx_surrogate_train(net, &c, d->train.x, d->train.y, d->train.n, 784, 0, 1,
                                        NULL, NULL, &loss, &train_acc),
                     MX_OK);
    double acc = digital_accuracy(net, &c, &d->test);
    print_message("surrogate 784-128-10, T = 10, 2000 MNIST images x 3 epochs: test %.2f %% "
                  "(train %.2f %%, loss %.3f)\n", 100.0 * acc, 100.0 * train_acc, loss);
    /* Measured 88.8 % on the first 500 test images (seeds 1-3: 87.6-89.8
     * %); an untrained net is at 10 %, a broken gradient stays below 60 %.
     * 85 % leaves the spread across seeds twice over. */
    assert_true(acc >= 0.85);
    /* rate coding trains too (the same recipe, Bernoulli input) */
    mx_mlp_destroy(net);
}

/* Conv blocks in front: conv 4 channels 3x3 "same" -> LIF -> 2x2 avg pool
 * -> 4x14x14 -> dense 32 -> 10, T = 6, current input, 2000 images x 2
 * epochs at Adam 5e-3; digital inference (mx_surrogate_predict_conv) on 500 test images. */
static void test_short_conv_training_learns_mnist(void **state)
{
    const mnist *d = *state;
    if (!d)
        skip();
    mx_surrogate_config c;
    small_config(&c);
    c.hidden[0] = 32;
    c.timesteps = 6;
    c.epochs = 2;
    c.batch_size = 32;
    c.learning_rate = 5e-3;
    c.n_conv = 1;
    c.conv_channels[0] = 4;
    assert_int_equal(mx_surrogate_config_validate(&c), MX_OK);
    mx_surrogate_conv *cv;
    assert_int_equal(mx_surrogate_conv_create(&c, 1, 28, 28, 1, &cv), MX_OK);
    assert_int_equal(cv->n_out, 4 * 14 * 14);
    mx_mlp *net;
    assert_int_equal(mx_surrogate_create(&c, cv->n_out, 10, 1, &net), MX_OK);
    double loss, train_acc;
    assert_int_equal(mx_surrogate_train_conv(cv, net, &c, d->train.x, d->train.y, d->train.n,
                                             784, 0, 1, NULL, NULL, &loss, &train_acc),
                     MX_OK);
    int *pred = malloc(d->test.n * c.timesteps * sizeof(int));
    assert_int_equal(mx_surrogate_predict_conv(cv, net, &c, d->test.x, d->test.n, 784, 0, 1, 0,
                                               pred),
                     MX_OK);
    size_t ok = 0;
    for (size_t i = 0; i < d->test.n; i++)
        ok += pred[i * c.timesteps + c.timesteps - 1] == (int)d->test.y[i];
    const double acc = (double)ok / (double)d->test.n;
    print_message("surrogate conv [4] + 32 -> 10, T = 6, 2000 MNIST images x 2 epochs: test "
                  "%.2f %% (train %.2f %%, loss %.3f)\n", 100.0 * acc, 100.0 * train_acc, loss);
    /* Measured 86.2 % on the first 500 test images (untrained: ~10 %);
     * 80 % leaves a margin for the spread across seeds. */
    assert_true(acc >= 0.80);
    free(pred);
    mx_mlp_destroy(net);
    mx_surrogate_conv_destroy(cv);
}

/* Conv networks go to the training cache and come back bit for bit, and
 * run as sweep points on an ideal crossbar (exact cells, DAC and ADC) as
 * they run digitally: every layer's analog W·x (one read per conv output
 * position) equals W·x to float rounding, at 1 and 2 threads alike. Max
 * pooling feeds spikes to the next layer, average pooling fractional
 * values through the DAC. */
static void test_conv_network_is_cached_and_runs_on_the_crossbar(void **state)
{
    const mnist *d = *state;
    if (!d)
        skip();
    const char *pools[] = {"max", "avg"};
    for (int pk = 0; pk < 2; pk++) {
        mx_experiment_config cfg, pc;
        mx_config_default(&cfg);
        assert_int_equal(mx_config_set(&cfg, "experiment", "surrogate"), MX_OK);
        assert_int_equal(mx_config_set(&cfg, "surrogate.hidden", "[16]"), MX_OK);
        assert_int_equal(mx_config_set(&cfg, "surrogate.timesteps", "3"), MX_OK);
        assert_int_equal(mx_config_set(&cfg, "surrogate.conv_channels", "[2, 3]"), MX_OK);
        assert_int_equal(mx_config_set(&cfg, "surrogate.pool", pools[pk]), MX_OK);
        assert_int_equal(mx_config_set(&cfg, "hardware.adc.type", "none"), MX_OK);
        assert_int_equal(mx_config_set(&cfg, "hardware.crossbar.dac_bits", "0"), MX_OK);
        assert_int_equal(mx_config_set(&cfg, "hardware.device.d2d_sigma", "0"), MX_OK);
        assert_int_equal(mx_config_set(&cfg, "hardware.device.read_noise_sigma", "0"), MX_OK);
        assert_int_equal(mx_config_point(&cfg, 0, &pc), MX_OK);
        char dir[] = "/tmp/mx_test_surrogate_XXXXXX";
        assert_non_null(mkdtemp(dir));
        mx_dataset train = d->train;
        train.n = 200;
        mx_method_ctx ctx = {.train = &train, .test = &d->test, .n_test = 20, .n_calib = 5,
                             .cache_dir = dir, .train_seed = 1, .hw_seed = 2, .eval_seed = 3,
                             .compare_images = 5};
        mx_surrogate_conv *cv[2];
        mx_mlp *net[2];
        double secs;
        int trained[2];
        for (int k = 0; k < 2; k++)
            assert_int_equal(
                mx_surrogate_get_network(&pc, &ctx, &cv[k], &net[k], &secs, &trained[k]), MX_OK);
        assert_int_equal(trained[0], 1);
        assert_int_equal(trained[1], 0); /* loaded */
        assert_int_equal(cv[1]->n_conv, 2);
        assert_int_equal(cv[1]->pool, pk == 0 ? MX_POOL_MAX : MX_POOL_AVG);
        assert_int_equal(cv[1]->n_out, 3 * 7 * 7);
        for (size_t j = 0; j < 2; j++)
            assert_memory_equal(cv[0]->w[j], cv[1]->w[j],
                                cv[0]->c_out[j] * mx_conv_patch_size(&cv[0]->geom[j]) *
                                    sizeof(float));
        for (size_t l = 0; l < 2; l++)
            assert_memory_equal(net[0]->w[l], net[1]->w[l],
                                net[0]->sizes[l + 1] * net[0]->sizes[l] * sizeof(float));
        for (int k = 0; k < 2; k++) {
            mx_surrogate_conv_destroy(cv[k]);
            mx_mlp_destroy(net[k]);
        }
        double acc[2];
        const int before = omp_get_max_threads();
        for (int k = 0; k < 2; k++) {
            omp_set_num_threads(k + 1);
            mx_method_point *mp = calloc(1, sizeof *mp);
            mx_method_point_init(mp);
            mx_status st = mx_surrogate_point_run(&pc, &ctx, mp);
            if (st)
                print_error("%s\n", mx_last_error());
            assert_int_equal(st, MX_OK);
            assert_int_equal(mp->trained, 0);
            assert_int_equal(mp->pr.n_layers, 4); /* 2 conv blocks, 2 dense layers */
            for (size_t l = 0; l < 4; l++) {
                assert_true(mp->pr.layer_rel_rms_error[l] < 1e-5);
                assert_true(mp->e_layer[l] > 0.0);
            }
            assert_close(mp->pr.accuracy, mp->pr.accuracy_snn_digital, 0.051, 0);
            acc[k] = mp->pr.accuracy;
            mx_method_point_free(mp);
            free(mp);
        }
        omp_set_num_threads(before);
        assert_true(acc[0] == acc[1]);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
        mx_config_free(&pc);
        mx_config_free(&cfg);
    }
}

static void test_training_does_not_depend_on_the_thread_count(void **state)
{
    const mnist *d = *state;
    if (!d)
        skip();
    mx_surrogate_config c;
    small_config(&c);
    c.epochs = 1;
    c.encoding = MX_SURROGATE_RATE;
    mx_mlp *net[2];
    const int before = omp_get_max_threads();
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(k + 1);
        assert_int_equal(mx_surrogate_create(&c, 784, 10, 1, &net[k]), MX_OK);
        assert_int_equal(mx_surrogate_train(net[k], &c, d->train.x, d->train.y, 600, 784, 0, 1,
                                            NULL, NULL, NULL, NULL),
                         MX_OK);
    }
    omp_set_num_threads(before);
    for (size_t l = 0; l < 2; l++)
        assert_memory_equal(net[0]->w[l], net[1]->w[l],
                            net[0]->sizes[l + 1] * net[0]->sizes[l] * sizeof(float));
    mx_mlp_destroy(net[0]);
    mx_mlp_destroy(net[1]);
}

/* The sweep point with an ideal device and exact ADC: the crossbar run is
 * the digital run (up to float summation order), at 1 and 2 threads. */
static void test_ideal_crossbar_equals_the_digital_path(void **state)
{
    const mnist *d = *state;
    if (!d)
        skip();
    mx_experiment_config cfg, pc;
    mx_config_default(&cfg);
    assert_int_equal(mx_config_set(&cfg, "experiment", "surrogate"), MX_OK);
    assert_int_equal(mx_config_set(&cfg, "surrogate.hidden", "[64]"), MX_OK);
    assert_int_equal(mx_config_set(&cfg, "surrogate.timesteps", "8"), MX_OK);
    assert_int_equal(mx_config_set(&cfg, "surrogate.learning_rate", "0.002"), MX_OK);
    /* latency input: layer 0 spike-driven on the crossbar, sparse digitally */
    assert_int_equal(mx_config_set(&cfg, "surrogate.encoding", "latency"), MX_OK);
    assert_int_equal(mx_config_set(&cfg, "surrogate.latency_tau_steps", "4"), MX_OK);
    assert_int_equal(mx_config_set(&cfg, "surrogate.output", "max-membrane"), MX_OK);
    assert_int_equal(mx_config_set(&cfg, "surrogate.epochs", "2"), MX_OK);
    assert_int_equal(mx_config_set(&cfg, "surrogate.init_gain", "4"), MX_OK);
    assert_int_equal(mx_config_set(&cfg, "hardware.adc.type", "none"), MX_OK);
    assert_int_equal(mx_config_set(&cfg, "hardware.device.d2d_sigma", "0"), MX_OK);
    assert_int_equal(mx_config_set(&cfg, "hardware.device.read_noise_sigma", "0"), MX_OK);
    assert_int_equal(mx_config_point(&cfg, 0, &pc), MX_OK);
    char dir[] = "/tmp/mx_test_surrogate_XXXXXX";
    assert_non_null(mkdtemp(dir));
    mx_dataset train = d->train;
    train.n = 600;
    mx_dataset test = d->test;
    test.n = 200;
    mx_method_ctx ctx = {.train = &train,
                         .test = &test,
                         .n_test = 200,
                         .n_calib = 20,
                         .cache_dir = dir,
                         .train_seed = 1,
                         .hw_seed = 2,
                         .eval_seed = 3,
                         .calib_item_base = (uint64_t)1 << 40,
                         .compare_images = 20};
    double acc[2];
    const int before = omp_get_max_threads();
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(k + 1);
        mx_method_point *mp = calloc(1, sizeof *mp);
        mx_method_point_init(mp);
        mx_status st = mx_surrogate_point_run(&pc, &ctx, mp);
        if (st)
            print_error("%s\n", mx_last_error());
        assert_int_equal(st, MX_OK);
        assert_int_equal(mp->trained, k == 0); /* the second run loads the cache */
        assert_int_equal(mp->pr.timesteps, 8);
        assert_int_equal(mp->pr.n_layers, 2);
        assert_true(isnan(mp->pr.accuracy_ann));
        /* exact ADC, ideal cells: the analog W·x is W·x to float rounding */
        assert_true(mp->pr.layer_rel_rms_error[0] < 1e-5);
        assert_true(mp->pr.layer_rel_rms_error[1] < 1e-5);
        print_message("ideal crossbar %.2f %%, digital %.2f %%\n", 100.0 * mp->pr.accuracy,
                      100.0 * mp->pr.accuracy_snn_digital);
        assert_close(mp->pr.accuracy, mp->pr.accuracy_snn_digital, 0.0101, 0);
        /* 600 images x 2 epochs of latency input learn little (measured
         * 55 %); what matters here is the agreement above, on a net that
         * is not at chance (10 %). */
        assert_true(mp->pr.accuracy > 0.4);
        assert_true(mp->pr.energy_j > 0.0);
        acc[k] = mp->pr.accuracy;
        mx_method_point_free(mp);
        free(mp);
    }
    omp_set_num_threads(before);
    assert_true(acc[0] == acc[1]);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    mx_config_free(&pc);
    mx_config_free(&cfg);
}

/* weight-noise and hardware-aware training run end to end and learn on the
 * non-ideal crossbar they train for (σ = 0.3 device variation, 4-bit ADC). */
static void test_noise_and_hardware_aware_training_learn(void **state)
{
    const mnist *d = *state;
    if (!d)
        skip();
    const char *modes[] = {"weight-noise", "hardware-aware"};
    for (int k = 0; k < 2; k++) {
        mx_experiment_config cfg, pc;
        mx_config_default(&cfg);
        assert_int_equal(mx_config_set(&cfg, "experiment", "surrogate"), MX_OK);
        assert_int_equal(mx_config_set(&cfg, "surrogate.hidden", "[32]"), MX_OK);
        assert_int_equal(mx_config_set(&cfg, "surrogate.timesteps", "6"), MX_OK);
        assert_int_equal(mx_config_set(&cfg, "surrogate.learning_rate", "0.003"), MX_OK);
        assert_int_equal(mx_config_set(&cfg, "surrogate.epochs", "2"), MX_OK);
        assert_int_equal(mx_config_set(&cfg, "surrogate.batch_size", "64"), MX_OK);
        assert_int_equal(mx_config_set(&cfg, "surrogate.training", modes[k]), MX_OK);
        assert_int_equal(mx_config_set(&cfg, "hardware.adc.bits", "4"), MX_OK);
        assert_int_equal(mx_config_set(&cfg, "hardware.device.d2d_sigma", "0.3"), MX_OK);
        assert_int_equal(mx_config_point(&cfg, 0, &pc), MX_OK);
        char dir[] = "/tmp/mx_test_surrogate_XXXXXX";
        assert_non_null(mkdtemp(dir));
        mx_dataset train = d->train;
        train.n = 1000;
        mx_method_ctx ctx = {.train = &train,
                             .test = &d->test,
                             .n_test = 100,
                             .n_calib = 20,
                             .cache_dir = dir,
                             .train_seed = 1,
                             .hw_seed = 2,
                             .eval_seed = 3,
                             .calib_item_base = (uint64_t)1 << 40,
                             .compare_images = 10};
        mx_method_point *mp = calloc(1, sizeof *mp);
        mx_method_point_init(mp);
        mx_status st = mx_surrogate_point_run(&pc, &ctx, mp);
        if (st)
            print_error("%s\n", mx_last_error());
        assert_int_equal(st, MX_OK);
        assert_int_equal(mp->trained, 1);
        print_message("%s training, 784-32-10, T = 6, 1000 images x 2 epochs: crossbar %.1f %%, "
                      "digital %.1f %%\n", modes[k], 100.0 * mp->pr.accuracy,
                      100.0 * mp->pr.accuracy_snn_digital);
        /* Measured: weight-noise 75 % / 74 %, hardware-aware 75 % / 81 % (crossbar /
         * digital); chance is 10 %, a network that learned nothing stays below 30 %. */
        assert_true(mp->pr.accuracy > 0.6);
        mx_method_point_free(mp);
        free(mp);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
        mx_config_free(&pc);
        mx_config_free(&cfg);
    }
}

/* Every allocation of a conv + dense network, its trainer, a gradient, an
 * Adam step and a prediction may fail: each failure is a clean MX_ENOMEM
 * (nothing leaks: ASan), and the walk ends in a success. */
static void test_allocation_failures_leave_nothing_behind(void **state)
{
    (void)state;
    mx_surrogate_config c;
    mx_surrogate_config_default(&c);
    c.hidden[0] = 6;
    c.timesteps = 3;
    c.n_conv = 1;
    c.conv_channels[0] = 2;
    float img[2 * 36];
    for (size_t i = 0; i < 2 * 36; i++)
        img[i] = (float)(i % 5) / 4.0f;
    const uint8_t y[2] = {1, 2};
    int succeeded = 0;
    long k = 1;
    for (; k < 1000 && !succeeded; k++) {
        mx_surrogate_conv *cv = NULL;
        mx_mlp *net = NULL;
        mx_surrogate_trainer *tr = NULL;
        int pred[2 * 3];
        double loss;
        mx_alloc_fail_after(k);
        mx_status st = mx_surrogate_conv_create(&c, 1, 6, 6, 1, &cv);
        if (!st)
            st = mx_surrogate_create(&c, cv->n_out, 3, 1, &net);
        if (!st)
            st = mx_surrogate_trainer_create_conv(cv, net, &c, 3, 2, &tr);
        if (!st)
            st = mx_surrogate_loss_grad(net, tr, img, 1, y, 2, NULL, NULL, NULL, 0, NULL, &loss,
                                        NULL);
        if (!st)
            mx_surrogate_adam_step(net, tr);
        if (!st)
            st = mx_surrogate_predict_conv(cv, net, &c, img, 2, 36, 0, 1, 0, pred);
        mx_alloc_fail_after(0);
        if (st)
            assert_int_equal(st, MX_ENOMEM);
        else
            succeeded = 1;
        mx_surrogate_trainer_destroy(tr);
        mx_mlp_destroy(net);
        mx_surrogate_conv_destroy(cv);
    }
    assert_true(succeeded);
    assert_true(k > 3);
}

int main(void)
{
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_surrogate_derivatives_match_their_formulas),
        cmocka_unit_test(test_config_checks_name_the_field),
        cmocka_unit_test(test_bptt_matches_finite_differences_subtract_reset),
        cmocka_unit_test(test_bptt_matches_finite_differences_zero_reset_synapse_max_output),
        cmocka_unit_test(test_conv_bptt_matches_finite_differences),
        cmocka_unit_test(test_batch_forward_equals_neuron_step),
        cmocka_unit_test(test_latency_spike_times_follow_the_formula),
        cmocka_unit_test(test_rate_encoding_has_the_intensity_as_probability),
        cmocka_unit_test(test_allocation_failures_leave_nothing_behind),
    };
    const struct CMUnitTest data[] = {
        cmocka_unit_test(test_short_training_learns_mnist),
        cmocka_unit_test(test_short_conv_training_learns_mnist),
        cmocka_unit_test(test_conv_network_is_cached_and_runs_on_the_crossbar),
        cmocka_unit_test(test_training_does_not_depend_on_the_thread_count),
        cmocka_unit_test(test_ideal_crossbar_equals_the_digital_path),
        cmocka_unit_test(test_noise_and_hardware_aware_training_learn),
    };
    int failed = cmocka_run_group_tests_name("surrogate", pure, NULL, NULL);
    failed += cmocka_run_group_tests_name("surrogate on MNIST", data, load_mnist, free_mnist);
    return failed;
}
