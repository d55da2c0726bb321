/* SPDX-License-Identifier: MIT
 *
 * test_mlp.c: the ReLU perceptron of snn/mlp.h — its gradient against central
 * differences and against a naive double-precision twin written here, the
 * optimiser step against Adam's closed form, noise-aware (w_forward) passes,
 * bit-for-bit reproducibility, the chunked forward pass, every documented
 * error, allocation failure at every step, and training on the UCI digits.
 */
#include "tests/support/mx_test.h"

#include <float.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/rng.h"
#include "experiments/dataset.h"
#include "snn/mlp.h"

/* --- helpers ----------------------------------------------------------- */

static size_t n_weights(const mx_mlp *net, size_t l) { return net->sizes[l + 1] * net->sizes[l]; }

static void fill_uniform(float *x, size_t n, double lo, double hi, uint64_t seed,
                         const char *stream)
{
    mx_rng r;
    mx_rng_init_named(&r, seed, stream, 0);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(lo + (hi - lo) * mx_rng_uniform(&r));
}

static int nets_equal(const mx_mlp *a, const mx_mlp *b)
{
    if (a->n_layers != b->n_layers)
        return 0;
    for (size_t l = 0; l < a->n_layers; l++)
        if (memcmp(a->w[l], b->w[l], n_weights(a, l) * sizeof(float)) != 0)
            return 0;
    return 1;
}

/* Naive double-precision twin of the trainer's forward and backward pass:
 * mean softmax cross-entropy of a batch, and (if grad is not NULL) its
 * gradient with respect to every weight, written loop by loop from the
 * definitions. `w` are the weights used in both passes. Hidden
 * pre-activations go to `pre` (sum of sizes[1..L-1] per row) if given. */
#define TWIN_MAX_WIDTH 64
static double twin_loss_grad(const mx_mlp *net, const float *const *w, const float *x,
                             const uint8_t *y, size_t batch, double *const *grad,
                             double *min_abs_pre)
{
    const size_t L = net->n_layers;
    const size_t *n = net->sizes;
    double loss = 0.0;
    double min_pre = INFINITY;
    for (size_t l = 0; l < L; l++)
        if (grad)
            memset(grad[l], 0, n_weights(net, l) * sizeof(double));
    for (size_t r = 0; r < batch; r++) {
        double a[MX_MLP_MAX_LAYERS + 1][TWIN_MAX_WIDTH];
        double d[MX_MLP_MAX_LAYERS + 1][TWIN_MAX_WIDTH];
        for (size_t i = 0; i < n[0]; i++)
            a[0][i] = x[r * n[0] + i];
        for (size_t l = 0; l < L; l++)
            for (size_t o = 0; o < n[l + 1]; o++) {
                double z = 0.0;
                for (size_t i = 0; i < n[l]; i++)
                    z += (double)w[l][o * n[l] + i] * a[l][i];
                if (l + 1 < L) {
                    min_pre = fmin(min_pre, fabs(z));
                    z = z > 0.0 ? z : 0.0;
                }
                a[l + 1][o] = z;
            }
        const double *z = a[L];
        double zmax = z[0];
        for (size_t k = 1; k < n[L]; k++)
            zmax = fmax(zmax, z[k]);
        double s = 0.0;
        for (size_t k = 0; k < n[L]; k++)
            s += exp(z[k] - zmax);
        loss += log(s) + zmax - z[y[r]];
        if (!grad)
            continue;
        for (size_t k = 0; k < n[L]; k++)
            d[L][k] = (exp(z[k] - zmax) / s - (k == y[r])) / (double)batch;
        for (size_t l = L; l-- > 0;) {
            for (size_t o = 0; o < n[l + 1]; o++)
                for (size_t i = 0; i < n[l]; i++)
                    grad[l][o * n[l] + i] += d[l + 1][o] * a[l][i];
            if (l == 0)
                break;
            for (size_t i = 0; i < n[l]; i++) {
                double s_i = 0.0;
                for (size_t o = 0; o < n[l + 1]; o++)
                    s_i += d[l + 1][o] * (double)w[l][o * n[l] + i];
                d[l][i] = a[l][i] > 0.0 ? s_i : 0.0;
            }
        }
    }
    if (min_abs_pre)
        *min_abs_pre = min_pre;
    return loss / (double)batch;
}

/* The gradient the library computes, read back from one plain SGD step
 * (rate 1, no momentum, no decay): w_new = w − g, so g = w − w_new. The
 * subtraction of two floats is exact in double; w_new carries the rounding of
 * fl(w − g), at most half an ulp of |w| ≤ 1.1, i.e. 6.6e-8. */
static void library_gradient(const mx_mlp *net, float *const *w_forward, const float *x,
                             const uint8_t *y, size_t batch, double *const *grad, double *loss)
{
    mx_mlp *copy;
    assert_int_equal(mx_mlp_clone(net, &copy), MX_OK);
    mx_train_config cfg;
    mx_train_config_default(&cfg);
    cfg.optimizer = MX_OPT_SGD;
    cfg.learning_rate = 1.0;
    cfg.momentum = 0.0;
    cfg.batch_size = batch;
    mx_mlp_trainer *tr;
    assert_int_equal(mx_mlp_trainer_create(copy, &cfg, &tr), MX_OK);
    assert_int_equal(mx_mlp_train_batch(copy, tr, x, y, batch, w_forward, loss), MX_OK);
    for (size_t l = 0; l < net->n_layers; l++)
        for (size_t i = 0; i < n_weights(net, l); i++)
            grad[l][i] = (double)net->w[l][i] - (double)copy->w[l][i];
    mx_mlp_trainer_destroy(tr);
    mx_mlp_destroy(copy);
}

/* Mean cross-entropy from the library's forward pass (float logits), the
 * softmax evaluated in double here. */
static double forward_loss(const mx_mlp *net, const float *x, const uint8_t *y, size_t batch,
                           float *logits)
{
    assert_int_equal(mx_mlp_forward(net, x, batch, logits, NULL), MX_OK);
    const size_t c = net->sizes[net->n_layers];
    double loss = 0.0;
    for (size_t r = 0; r < batch; r++) {
        const float *z = logits + r * c;
        double zmax = z[0], s = 0.0;
        for (size_t k = 1; k < c; k++)
            zmax = fmax(zmax, z[k]);
        for (size_t k = 0; k < c; k++)
            s += exp((double)z[k] - zmax);
        loss += log(s) + zmax - (double)z[y[r]];
    }
    return loss / (double)batch;
}

/* A small fixed problem: net 5-7-3, 4 examples. */
enum { TINY_IN = 5, TINY_HID = 7, TINY_OUT = 3, TINY_BATCH = 4 };
static const size_t tiny_sizes[3] = {TINY_IN, TINY_HID, TINY_OUT};
static const uint8_t tiny_labels[TINY_BATCH] = {0, 2, 1, 2};

/* --- configuration ------------------------------------------------------- */

static void test_config_defaults_are_the_documented_ones_and_valid(void **state)
{
    (void)state;
    mx_train_config c;
    mx_train_config_default(&c);
    assert_int_equal(c.optimizer, MX_OPT_ADAM);
    assert_int_equal(c.epochs, 15);
    assert_int_equal(c.batch_size, 128);
    assert_true(c.learning_rate == 4e-3);
    assert_true(c.lr_decay == 0.75);
    assert_true(c.momentum == 0.9);
    assert_true(c.weight_decay == 0.0);
    assert_int_equal(mx_train_config_validate(&c), MX_OK);
}

static void expect_config_error(const mx_train_config *c, const char *message)
{
    mx_clear_error();
    assert_int_equal(mx_train_config_validate(c), MX_EINVAL);
    assert_string_equal(mx_last_error(), message);
}

static void test_config_validation_names_the_field(void **state)
{
    (void)state;
    mx_train_config d, c;
    mx_train_config_default(&d);

    c = d, c.optimizer = (mx_optimizer)7;
    expect_config_error(&c, "training.optimizer: expected adam or sgd, got 7");
    c = d, c.epochs = 0;
    expect_config_error(&c, "training.epochs: expected >= 1, got 0");
    c = d, c.batch_size = 0;
    expect_config_error(&c, "training.batch_size: expected >= 1, got 0");
    c = d, c.learning_rate = 0.0;
    expect_config_error(&c, "training.learning_rate: expected > 0, got 0");
    c = d, c.learning_rate = NAN;
    expect_config_error(&c, "training.learning_rate: expected > 0, got nan");
    c = d, c.learning_rate = INFINITY;
    expect_config_error(&c, "training.learning_rate: expected > 0, got inf");
    c = d, c.lr_decay = 0.0;
    expect_config_error(&c, "training.lr_decay: expected in (0, 1], got 0");
    c = d, c.lr_decay = 1.5;
    expect_config_error(&c, "training.lr_decay: expected in (0, 1], got 1.5");
    c = d, c.momentum = 1.0;
    expect_config_error(&c, "training.momentum: expected in [0, 1), got 1");
    c = d, c.momentum = -0.1;
    expect_config_error(&c, "training.momentum: expected in [0, 1), got -0.1");
    c = d, c.weight_decay = -1e-4;
    expect_config_error(&c, "training.weight_decay: expected >= 0, got -0.0001");

    /* The trainer refuses the same configurations. */
    mx_mlp *net;
    assert_int_equal(mx_mlp_create(tiny_sizes, 2, 1, &net), MX_OK);
    mx_mlp_trainer *tr = (mx_mlp_trainer *)&tr;
    c = d, c.epochs = 0;
    assert_int_equal(mx_mlp_trainer_create(net, &c, &tr), MX_EINVAL);
    assert_null(tr);
    assert_string_equal(mx_last_error(), "training.epochs: expected >= 1, got 0");
    mx_mlp_destroy(net);
}

/* --- creation ---------------------------------------------------------- */

static void test_create_rejects_bad_shapes_and_leaves_out_null(void **state)
{
    (void)state;
    size_t sizes[MX_MLP_MAX_LAYERS + 2];
    for (size_t i = 0; i < MX_MLP_MAX_LAYERS + 2; i++)
        sizes[i] = 4;
    mx_mlp *net = (mx_mlp *)&net;
    assert_int_equal(mx_mlp_create(sizes, 0, 1, &net), MX_EINVAL);
    assert_null(net);
    assert_string_equal(mx_last_error(), "mlp.n_layers: expected 1..8, got 0");
    net = (mx_mlp *)&net;
    assert_int_equal(mx_mlp_create(sizes, MX_MLP_MAX_LAYERS + 1, 1, &net), MX_EINVAL);
    assert_null(net);
    assert_string_equal(mx_last_error(), "mlp.n_layers: expected 1..8, got 9");
    sizes[1] = 0;
    assert_int_equal(mx_mlp_create(sizes, 2, 1, &net), MX_EINVAL);
    assert_null(net);
    assert_string_equal(mx_last_error(), "mlp.sizes[1]: expected >= 1, got 0");
    sizes[1] = (size_t)INT_MAX + 1; /* CBLAS dimensions are int */
    assert_int_equal(mx_mlp_create(sizes, 2, 1, &net), MX_EINVAL);
    assert_null(net);
    sizes[1] = 4;
    /* The largest and the smallest legal depth work. */
    assert_int_equal(mx_mlp_create(sizes, MX_MLP_MAX_LAYERS, 1, &net), MX_OK);
    mx_mlp_destroy(net);
    assert_int_equal(mx_mlp_create(sizes, 1, 1, &net), MX_OK);
    mx_mlp_destroy(net);
    mx_mlp_destroy(NULL);
    mx_mlp_trainer_destroy(NULL);
}

static void test_init_is_he_uniform_and_deterministic_by_seed(void **state)
{
    (void)state;
    const size_t sizes[3] = {300, 200, 10};
    mx_mlp *a, *b, *c;
    assert_int_equal(mx_mlp_create(sizes, 2, 42, &a), MX_OK);
    assert_int_equal(mx_mlp_create(sizes, 2, 42, &b), MX_OK);
    assert_int_equal(mx_mlp_create(sizes, 2, 43, &c), MX_OK);
    assert_true(nets_equal(a, b));
    assert_false(nets_equal(a, c));
    for (size_t l = 0; l < 2; l++) {
        /* U(−h, h), h = √(6/fan_in): mean 0 and variance h²/3 = 2/fan_in,
         * each checked to 4 standard errors (variance of a uniform's square
         * is h⁴/5 − h⁴/9 = 4h⁴/45). */
        const size_t count = n_weights(a, l);
        const double h = sqrt(6.0 / (double)sizes[l]);
        double sum = 0.0, sum2 = 0.0;
        for (size_t i = 0; i < count; i++) {
            double w = a->w[l][i];
            assert_true(fabs(w) <= h);
            sum += w;
            sum2 += w * w;
        }
        assert_within_sigma(sum / (double)count, 0.0, h / sqrt(3.0 * (double)count), 4.0);
        assert_within_sigma(sum2 / (double)count, h * h / 3.0,
                            sqrt(4.0 / 45.0) * h * h / sqrt((double)count), 4.0);
    }
    /* Pinned: the first draw of stream ("mlp.init", item 0) at seed 42; a
     * change of draw order or scaling shows up here. */
    mx_rng r;
    mx_rng_init_named(&r, 42, "mlp.init", 0);
    float first = (float)((2.0 * mx_rng_uniform(&r) - 1.0) * sqrt(6.0 / 300.0));
    assert_true(a->w[0][0] == first);
    /* A layer's weights do not depend on the layers before it (one stream
     * item per layer). */
    const size_t other[3] = {100, 200, 10};
    mx_mlp *d;
    assert_int_equal(mx_mlp_create(other, 2, 42, &d), MX_OK);
    assert_memory_equal(d->w[1], a->w[1], n_weights(a, 1) * sizeof(float));
    mx_mlp_destroy(a);
    mx_mlp_destroy(b);
    mx_mlp_destroy(c);
    mx_mlp_destroy(d);
}

static void test_clone_copies_shape_and_weights(void **state)
{
    (void)state;
    mx_mlp *a, *b;
    assert_int_equal(mx_mlp_create(tiny_sizes, 2, 5, &a), MX_OK);
    assert_int_equal(mx_mlp_clone(a, &b), MX_OK);
    assert_ptr_not_equal(a->w[0], b->w[0]);
    assert_memory_equal(a->sizes, b->sizes, sizeof a->sizes);
    assert_true(nets_equal(a, b));
    mx_mlp_destroy(a);
    mx_mlp_destroy(b);
}

/* --- gradient ------------------------------------------------------------ */

static void test_gradient_matches_central_differences(void **state)
{
    (void)state;
    mx_mlp *net;
    assert_int_equal(mx_mlp_create(tiny_sizes, 2, 3, &net), MX_OK);
    float x[TINY_BATCH * TINY_IN];
    fill_uniform(x, TINY_BATCH * TINY_IN, -1.0, 1.0, 3, "test.x");

    /* Central differences of the library's own float forward pass. The step
     * h = 1e-3 balances the two errors: the loss carries float rounding of
     * the logits, δ ≈ a few·2⁻²⁴ ≈ 3e-7, which the difference quotient
     * amplifies to δ/h ≈ 3e-4; truncation is h²·|L'''|/6 ≈ 1e-7. A ReLU kink
     * inside ±h would break the quotient: with |x| ≤ 1 a step moves a hidden
     * pre-activation by at most 1e-3, so we require (for this seed) that
     * none lies within 1e-2 of zero. */
    const float h = 1e-3f;
    double min_pre;
    const float *w[2] = {net->w[0], net->w[1]};
    twin_loss_grad(net, w, x, tiny_labels, TINY_BATCH, NULL, &min_pre);
    assert_true(min_pre > 1e-2);

    double g0[TINY_HID * TINY_IN], g1[TINY_OUT * TINY_HID];
    double *grad[2] = {g0, g1};
    double loss;
    library_gradient(net, NULL, x, tiny_labels, TINY_BATCH, grad, &loss);
    float logits[TINY_BATCH * TINY_OUT];
    assert_close(loss, forward_loss(net, x, tiny_labels, TINY_BATCH, logits), 1e-6, 0.0);

    for (size_t l = 0; l < 2; l++)
        for (size_t i = 0; i < n_weights(net, l); i++) {
            const float w0 = net->w[l][i];
            net->w[l][i] = w0 + h;
            double up = forward_loss(net, x, tiny_labels, TINY_BATCH, logits);
            double step_up = (double)net->w[l][i];
            net->w[l][i] = w0 - h;
            double down = forward_loss(net, x, tiny_labels, TINY_BATCH, logits);
            double step_down = (double)net->w[l][i];
            net->w[l][i] = w0;
            /* Divide by the step the float weights really took. */
            double fd = (up - down) / (step_up - step_down);
            assert_close(grad[l][i], fd, 1e-3, 1e-2);
        }
    mx_mlp_destroy(net);
}

static void test_gradient_matches_double_twin_with_and_without_w_forward(void **state)
{
    (void)state;
    mx_mlp *net;
    assert_int_equal(mx_mlp_create(tiny_sizes, 2, 11, &net), MX_OK);
    float x[TINY_BATCH * TINY_IN];
    fill_uniform(x, TINY_BATCH * TINY_IN, 0.0, 1.0, 11, "test.x");

    /* Perturbed forward weights: w·(1 + 0.2·u), u ∈ (−1, 1). */
    float p0[TINY_HID * TINY_IN], p1[TINY_OUT * TINY_HID];
    float *pert[2] = {p0, p1};
    for (size_t l = 0; l < 2; l++) {
        fill_uniform(pert[l], n_weights(net, l), -0.2, 0.2, 12 + l, "test.noise");
        for (size_t i = 0; i < n_weights(net, l); i++)
            pert[l][i] = net->w[l][i] * (1.0f + pert[l][i]);
    }

    for (int use_pert = 0; use_pert < 2; use_pert++) {
        const float *w_used[2] = {use_pert ? p0 : net->w[0], use_pert ? p1 : net->w[1]};
        double t0[TINY_HID * TINY_IN], t1[TINY_OUT * TINY_HID];
        double g0[TINY_HID * TINY_IN], g1[TINY_OUT * TINY_HID];
        double *twin[2] = {t0, t1}, *grad[2] = {g0, g1};
        double twin_loss = twin_loss_grad(net, w_used, x, tiny_labels, TINY_BATCH, twin, NULL);
        double loss;
        library_gradient(net, use_pert ? pert : NULL, x, tiny_labels, TINY_BATCH, grad, &loss);
        /* Float sums of ≤ 7 products of magnitude ≤ ~2, each rounding at
         * 2⁻²⁴ ≈ 6e-8, plus the 6.6e-8 of reading the gradient back: errors
         * of order 1e-6; 1e-5 leaves a margin of ten. */
        assert_close(loss, twin_loss, 1e-6, 1e-6);
        for (size_t l = 0; l < 2; l++)
            for (size_t i = 0; i < n_weights(net, l); i++)
                assert_close(grad[l][i], twin[l][i], 1e-5, 1e-4);
    }
    mx_mlp_destroy(net);
}

/* The first Adam step from zero moments has m̂ = g and v̂ = g², so each
 * weight moves by −lr·g/(|g| + ε); with L2 decay g includes wd·w. */
static void test_first_adam_step_matches_closed_form(void **state)
{
    (void)state;
    mx_mlp *net, *before;
    assert_int_equal(mx_mlp_create(tiny_sizes, 2, 21, &net), MX_OK);
    assert_int_equal(mx_mlp_clone(net, &before), MX_OK);
    float x[TINY_BATCH * TINY_IN];
    fill_uniform(x, TINY_BATCH * TINY_IN, 0.0, 1.0, 21, "test.x");
    double t0[TINY_HID * TINY_IN], t1[TINY_OUT * TINY_HID];
    double *twin[2] = {t0, t1};
    const float *w[2] = {net->w[0], net->w[1]};
    twin_loss_grad(net, w, x, tiny_labels, TINY_BATCH, twin, NULL);

    mx_train_config cfg;
    mx_train_config_default(&cfg);
    cfg.learning_rate = 1e-2;
    cfg.lr_decay = 0.5;
    cfg.weight_decay = 1e-3;
    mx_mlp_trainer *tr;
    assert_int_equal(mx_mlp_trainer_create(net, &cfg, &tr), MX_OK);
    mx_mlp_trainer_set_epoch(tr, 2); /* rate = 1e-2 · 0.5² */
    assert_int_equal(mx_mlp_train_batch(net, tr, x, tiny_labels, TINY_BATCH, NULL, NULL), MX_OK);
    const double lr = 1e-2 * 0.25;
    for (size_t l = 0; l < 2; l++)
        for (size_t i = 0; i < n_weights(net, l); i++) {
            double g = twin[l][i] + 1e-3 * (double)before->w[l][i];
            double expect = (double)before->w[l][i] - lr * g / (fabs(g) + 1e-8);
            /* g/(|g| + ε) is ±1 to within ε/|g|, so float errors in g hardly
             * matter; what is left is the rounding of w (≤ 1.1) to float. */
            assert_close(net->w[l][i], expect, 2e-7, 0.0);
        }
    mx_mlp_trainer_destroy(tr);
    mx_mlp_destroy(net);
    mx_mlp_destroy(before);
}

static void test_w_forward_equal_to_weights_gives_identical_updates(void **state)
{
    (void)state;
    mx_mlp *a, *b;
    assert_int_equal(mx_mlp_create(tiny_sizes, 2, 31, &a), MX_OK);
    assert_int_equal(mx_mlp_clone(a, &b), MX_OK);
    mx_mlp *copy; /* holds the forward weights, refreshed from b every step */
    assert_int_equal(mx_mlp_clone(b, &copy), MX_OK);
    mx_train_config cfg;
    mx_train_config_default(&cfg);
    cfg.batch_size = TINY_BATCH;
    cfg.weight_decay = 1e-4;
    mx_mlp_trainer *ta, *tb;
    assert_int_equal(mx_mlp_trainer_create(a, &cfg, &ta), MX_OK);
    assert_int_equal(mx_mlp_trainer_create(b, &cfg, &tb), MX_OK);
    float x[TINY_BATCH * TINY_IN];
    for (uint64_t step = 0; step < 5; step++) {
        fill_uniform(x, TINY_BATCH * TINY_IN, 0.0, 1.0, 100 + step, "test.x");
        for (size_t l = 0; l < 2; l++)
            memcpy(copy->w[l], b->w[l], n_weights(b, l) * sizeof(float));
        double la, lb;
        assert_int_equal(mx_mlp_train_batch(a, ta, x, tiny_labels, TINY_BATCH, NULL, &la),
                         MX_OK);
        assert_int_equal(mx_mlp_train_batch(b, tb, x, tiny_labels, TINY_BATCH, copy->w, &lb),
                         MX_OK);
        assert_true(la == lb);
        assert_true(nets_equal(a, b));
    }
    mx_mlp_trainer_destroy(ta);
    mx_mlp_trainer_destroy(tb);
    mx_mlp_destroy(a);
    mx_mlp_destroy(b);
    mx_mlp_destroy(copy);
}

/* --- forward pass -------------------------------------------------------- */

static void test_chunked_forward_matches_twin_and_fills_activations(void **state)
{
    (void)state;
    /* 2500 rows: two full chunks of 1024 and a partial one; three layers so
     * the ping-pong scratch is used in both directions. */
    const size_t sizes[4] = {9, 13, 6, 4};
    const size_t n = 2500;
    mx_mlp *net;
    assert_int_equal(mx_mlp_create(sizes, 3, 7, &net), MX_OK);
    float *x = malloc(n * 9 * sizeof(float));
    float *logits = malloc(n * 4 * sizeof(float));
    float *logits2 = malloc(n * 4 * sizeof(float));
    float *h1 = malloc(n * 13 * sizeof(float));
    float *h2 = malloc(n * 6 * sizeof(float));
    uint8_t *y = malloc(n);
    assert_non_null(x && logits && logits2 && h1 && h2 && y);
    fill_uniform(x, n * 9, 0.0, 1.0, 7, "test.x");
    float *acts[2] = {h1, h2};
    assert_int_equal(mx_mlp_forward(net, x, n, logits, acts), MX_OK);
    /* Only some activations requested: the others go to scratch. */
    float *only_second[2] = {NULL, h2};
    assert_int_equal(mx_mlp_forward(net, x, n, logits2, only_second), MX_OK);
    assert_memory_equal(logits, logits2, n * 4 * sizeof(float));

    size_t correct = 0;
    for (size_t r = 0; r < n; r++) {
        double a0[9], a1[13], a2[6], z[4];
        for (size_t i = 0; i < 9; i++)
            a0[i] = x[r * 9 + i];
        for (size_t o = 0; o < 13; o++) {
            double s = 0.0;
            for (size_t i = 0; i < 9; i++)
                s += (double)net->w[0][o * 9 + i] * a0[i];
            a1[o] = s > 0.0 ? s : 0.0;
        }
        for (size_t o = 0; o < 6; o++) {
            double s = 0.0;
            for (size_t i = 0; i < 13; i++)
                s += (double)net->w[1][o * 13 + i] * a1[i];
            a2[o] = s > 0.0 ? s : 0.0;
        }
        size_t best = 0;
        for (size_t o = 0; o < 4; o++) {
            double s = 0.0;
            for (size_t i = 0; i < 6; i++)
                s += (double)net->w[2][o * 6 + i] * a2[i];
            z[o] = s;
            best = z[o] > z[best] ? o : best;
        }
        /* float sums of ≤ 13 terms of size ≤ ~3: error ≲ 13·3·6e-8 ≈ 2.4e-6 */
        for (size_t o = 0; o < 13; o++)
            assert_close(h1[r * 13 + o], a1[o], 1e-5, 1e-5);
        for (size_t o = 0; o < 6; o++)
            assert_close(h2[r * 6 + o], a2[o], 1e-5, 1e-5);
        for (size_t o = 0; o < 4; o++)
            assert_close(logits[r * 4 + o], z[o], 1e-5, 1e-5);
        /* Labels: the library's own argmax on odd rows, a wrong one on even. */
        size_t lib_best = 0;
        for (size_t o = 1; o < 4; o++)
            lib_best = logits[r * 4 + o] > logits[r * 4 + lib_best] ? o : lib_best;
        y[r] = (uint8_t)(r % 2 ? lib_best : (lib_best + 1) % 4);
        correct += r % 2;
    }
    double acc;
    assert_int_equal(mx_mlp_accuracy(net, x, y, n, &acc), MX_OK);
    assert_true(acc == (double)correct / (double)n);
    assert_int_equal(mx_mlp_accuracy(net, x, y, 0, &acc), MX_EINVAL);
    assert_int_equal(mx_mlp_forward(net, x, 0, logits, NULL), MX_OK);
    free(x), free(logits), free(logits2), free(h1), free(h2), free(y);
    mx_mlp_destroy(net);
}

/* --- errors -------------------------------------------------------------- */

static void test_train_batch_rejects_bad_input(void **state)
{
    (void)state;
    mx_mlp *net, *other;
    assert_int_equal(mx_mlp_create(tiny_sizes, 2, 1, &net), MX_OK);
    const size_t other_sizes[3] = {TINY_IN, TINY_HID + 1, TINY_OUT};
    assert_int_equal(mx_mlp_create(other_sizes, 2, 1, &other), MX_OK);
    mx_train_config cfg;
    mx_train_config_default(&cfg);
    cfg.batch_size = TINY_BATCH;
    mx_mlp_trainer *tr;
    assert_int_equal(mx_mlp_trainer_create(net, &cfg, &tr), MX_OK);
    float x[(TINY_BATCH + 1) * TINY_IN];
    fill_uniform(x, (TINY_BATCH + 1) * TINY_IN, 0.0, 1.0, 1, "test.x");
    uint8_t y[TINY_BATCH + 1] = {0, 1, 2, 0, 1};

    assert_int_equal(mx_mlp_train_batch(net, tr, x, y, 0, NULL, NULL), MX_EINVAL);
    assert_string_equal(mx_last_error(), "mlp train: batch of 0 rows, expected 1..4");
    assert_int_equal(mx_mlp_train_batch(net, tr, x, y, TINY_BATCH + 1, NULL, NULL), MX_EINVAL);
    assert_string_equal(mx_last_error(), "mlp train: batch of 5 rows, expected 1..4");
    y[2] = TINY_OUT;
    assert_int_equal(mx_mlp_train_batch(net, tr, x, y, TINY_BATCH, NULL, NULL), MX_EINVAL);
    assert_string_equal(mx_last_error(), "mlp train: labels[2] = 3, expected < 3");
    y[2] = 2;
    assert_int_equal(mx_mlp_train_batch(other, tr, x, y, TINY_BATCH, NULL, NULL), MX_EMISMATCH);

    /* A non-finite loss stops the step before any weight changes. */
    mx_mlp *before;
    assert_int_equal(mx_mlp_clone(net, &before), MX_OK);
    x[3] = INFINITY;
    double loss = 0.0;
    assert_int_equal(mx_mlp_train_batch(net, tr, x, y, TINY_BATCH, NULL, &loss), MX_ENUMERIC);
    assert_true(loss == 0.0);
    assert_true(nets_equal(net, before));
    /* A partial batch (smaller than batch_size) is fine. */
    x[3] = 0.5f;
    assert_int_equal(mx_mlp_train_batch(net, tr, x, y, 3, NULL, &loss), MX_OK);
    assert_true(isfinite(loss) && loss > 0.0);
    assert_false(nets_equal(net, before));

    mx_mlp_trainer_destroy(tr);
    mx_mlp_destroy(net);
    mx_mlp_destroy(other);
    mx_mlp_destroy(before);
}

static void test_every_allocation_failure_is_clean(void **state)
{
    (void)state;
    const size_t sizes[4] = {6, 5, 4, 3};
    float x[2 * 6] = {0};
    float logits[2 * 3];
    uint8_t y[2] = {0, 1};
    mx_mlp *ref;
    assert_int_equal(mx_mlp_create(sizes, 3, 1, &ref), MX_OK);
    long n;

    for (n = 1;; n++) {
        mx_mlp *net = (mx_mlp *)&net;
        mx_alloc_fail_after(n);
        mx_status st = mx_mlp_create(sizes, 3, 1, &net);
        mx_alloc_fail_after(0);
        if (st == MX_OK) {
            mx_mlp_destroy(net);
            break;
        }
        assert_int_equal(st, MX_ENOMEM);
        assert_null(net);
    }
    assert_int_equal(n, 5); /* the struct and three weight matrices */

    for (n = 1;; n++) {
        mx_mlp *net = (mx_mlp *)&net;
        mx_alloc_fail_after(n);
        mx_status st = mx_mlp_clone(ref, &net);
        mx_alloc_fail_after(0);
        if (st == MX_OK) {
            mx_mlp_destroy(net);
            break;
        }
        assert_int_equal(st, MX_ENOMEM);
        assert_null(net);
    }

    for (int opt = 0; opt < 2; opt++) {
        mx_train_config cfg;
        mx_train_config_default(&cfg);
        cfg.optimizer = opt ? MX_OPT_SGD : MX_OPT_ADAM;
        cfg.batch_size = 2;
        for (n = 1;; n++) {
            mx_mlp_trainer *tr = (mx_mlp_trainer *)&tr;
            mx_alloc_fail_after(n);
            mx_status st = mx_mlp_trainer_create(ref, &cfg, &tr);
            mx_alloc_fail_after(0);
            if (st == MX_OK) {
                /* The step itself allocates nothing: with the very next
                 * allocation set to fail, it still succeeds. */
                mx_alloc_fail_after(1);
                st = mx_mlp_train_batch(ref, tr, x, y, 2, NULL, NULL);
                mx_alloc_fail_after(0);
                assert_int_equal(st, MX_OK);
                mx_mlp_trainer_destroy(tr);
                break;
            }
            assert_int_equal(st, MX_ENOMEM);
            assert_null(tr);
        }
    }

    mx_alloc_fail_after(1);
    mx_status st = mx_mlp_forward(ref, x, 2, logits, NULL);
    mx_alloc_fail_after(0);
    assert_int_equal(st, MX_ENOMEM);
    double acc;
    mx_alloc_fail_after(1);
    st = mx_mlp_accuracy(ref, x, y, 2, &acc);
    mx_alloc_fail_after(0);
    assert_int_equal(st, MX_ENOMEM);
    mx_mlp_destroy(ref);
}

/* --- training on real data ----------------------------------------------- */

typedef struct digits {
    mx_dataset train, test;
} digits;

static int load_digits(void **state)
{
    const char *dir = mx_test_data_dir();
    digits *d = calloc(1, sizeof *d);
    if (!d)
        return -1;
    if (dir && (mx_dataset_load(dir, "digits", MX_SPLIT_TRAIN, 0, &d->train) != MX_OK ||
                mx_dataset_load(dir, "digits", MX_SPLIT_TEST, 0, &d->test) != MX_OK)) {
        print_error("loading digits from %s: %s\n", dir, mx_last_error());
        free(d);
        return -1;
    }
    *state = dir ? d : NULL;
    if (!dir)
        free(d);
    return 0;
}

static int free_digits(void **state)
{
    digits *d = *state;
    if (d) {
        mx_dataset_free(&d->train);
        mx_dataset_free(&d->test);
        free(d);
    }
    return 0;
}

/* Train 64-H-10 on the 1000 training rows with the shuffling the experiment
 * runner uses (Fisher–Yates from stream "train.shuffle", item = epoch). */
static void train_digits(const digits *d, const mx_train_config *cfg, size_t hidden,
                         uint64_t seed, mx_mlp **out)
{
    const mx_dataset *t = &d->train;
    const size_t sizes[3] = {t->dim, hidden, 10};
    mx_mlp *net;
    mx_mlp_trainer *tr;
    assert_int_equal(mx_mlp_create(sizes, 2, seed, &net), MX_OK);
    assert_int_equal(mx_mlp_trainer_create(net, cfg, &tr), MX_OK);
    size_t *perm = malloc(t->n * sizeof *perm);
    float *bx = malloc(cfg->batch_size * t->dim * sizeof(float));
    uint8_t *by = malloc(cfg->batch_size);
    assert_non_null(perm && bx && by);
    for (size_t e = 0; e < cfg->epochs; e++) {
        mx_rng r;
        mx_rng_init_named(&r, seed, "train.shuffle", e);
        for (size_t i = 0; i < t->n; i++)
            perm[i] = i;
        for (size_t i = t->n - 1; i > 0; i--) {
            size_t j = (size_t)(mx_rng_uniform(&r) * (double)(i + 1));
            size_t tmp = perm[i];
            perm[i] = perm[j];
            perm[j] = tmp;
        }
        mx_mlp_trainer_set_epoch(tr, e);
        for (size_t b0 = 0; b0 < t->n; b0 += cfg->batch_size) {
            size_t bs = t->n - b0 < cfg->batch_size ? t->n - b0 : cfg->batch_size;
            for (size_t k = 0; k < bs; k++) {
                memcpy(bx + k * t->dim, t->x + perm[b0 + k] * t->dim, t->dim * sizeof(float));
                by[k] = t->y[perm[b0 + k]];
            }
            double loss;
            assert_int_equal(mx_mlp_train_batch(net, tr, bx, by, bs, NULL, &loss), MX_OK);
        }
    }
    free(perm), free(bx), free(by);
    mx_mlp_trainer_destroy(tr);
    *out = net;
}

static void digits_config(mx_train_config *cfg)
{
    mx_train_config_default(cfg);
    /* The MNIST defaults with smaller batches (63 steps an epoch on 1000
     * rows, the last one partial) and a slower decay, as the set is tiny. */
    cfg->epochs = 10;
    cfg->batch_size = 16;
    cfg->lr_decay = 0.9;
}

static void test_adam_learns_uci_digits(void **state)
{
    const digits *d = *state;
    if (!d)
        skip();
    assert_int_equal(d->train.n, 1000);
    assert_int_equal(d->test.n, 797);
    mx_train_config cfg;
    digits_config(&cfg);
    mx_mlp *net;
    train_digits(d, &cfg, 512, 1, &net);
    double acc;
    assert_int_equal(mx_mlp_accuracy(net, d->test.x, d->test.y, d->test.n, &acc), MX_OK);
    /* Measured 94.35 % on the 797 test rows (seeds 1–8: 94.10–94.98 %, the
     * same with 1 or 2 OpenBLAS threads). This 1000-row split tops out near
     * 95 % for an MLP (hidden 100–512, batch 16–32, 10–30 epochs, lr 1e-3 to
     * 1e-2 all land at 84–95 %), so 93 % is 1.35 points below the
     * measurement: over three times the spread across seeds. */
    print_message("digits, Adam, 64-512-10, 10 epochs: test accuracy %.2f %%\n", 100.0 * acc);
    assert_true(acc >= 0.93);
    mx_mlp_destroy(net);
}

static void test_sgd_with_momentum_learns_uci_digits(void **state)
{
    const digits *d = *state;
    if (!d)
        skip();
    mx_train_config cfg;
    digits_config(&cfg);
    cfg.optimizer = MX_OPT_SGD;
    cfg.learning_rate = 0.05;
    mx_mlp *net;
    train_digits(d, &cfg, 512, 1, &net);
    double acc;
    assert_int_equal(mx_mlp_accuracy(net, d->test.x, d->test.y, d->test.n, &acc), MX_OK);
    /* Measured 93.73 % (seeds 1–8: 93.73–94.35 %); 92 % is 1.7 points below. */
    print_message("digits, SGD, 64-512-10, 10 epochs: test accuracy %.2f %%\n", 100.0 * acc);
    assert_true(acc >= 0.92);
    mx_mlp_destroy(net);
}

static void test_training_repeats_bit_for_bit_by_seed(void **state)
{
    const digits *d = *state;
    if (!d)
        skip();
    mx_train_config cfg;
    digits_config(&cfg);
    cfg.epochs = 2;
    mx_mlp *a, *b, *c;
    train_digits(d, &cfg, 40, 9, &a);
    train_digits(d, &cfg, 40, 9, &b);
    train_digits(d, &cfg, 40, 10, &c);
    assert_true(nets_equal(a, b));
    assert_false(nets_equal(a, c));
    mx_mlp_destroy(a);
    mx_mlp_destroy(b);
    mx_mlp_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults_are_the_documented_ones_and_valid),
        cmocka_unit_test(test_config_validation_names_the_field),
        cmocka_unit_test(test_create_rejects_bad_shapes_and_leaves_out_null),
        cmocka_unit_test(test_init_is_he_uniform_and_deterministic_by_seed),
        cmocka_unit_test(test_clone_copies_shape_and_weights),
        cmocka_unit_test(test_gradient_matches_central_differences),
        cmocka_unit_test(test_gradient_matches_double_twin_with_and_without_w_forward),
        cmocka_unit_test(test_first_adam_step_matches_closed_form),
        cmocka_unit_test(test_w_forward_equal_to_weights_gives_identical_updates),
        cmocka_unit_test(test_chunked_forward_matches_twin_and_fills_activations),
        cmocka_unit_test(test_train_batch_rejects_bad_input),
        cmocka_unit_test(test_every_allocation_failure_is_clean),
        cmocka_unit_test_setup_teardown(test_adam_learns_uci_digits, load_digits, free_digits),
        cmocka_unit_test_setup_teardown(test_sgd_with_momentum_learns_uci_digits, load_digits,
                                        free_digits),
        cmocka_unit_test_setup_teardown(test_training_repeats_bit_for_bit_by_seed, load_digits,
                                        free_digits),
    };
    return cmocka_run_group_tests_name("mlp", tests, NULL, NULL);
}
