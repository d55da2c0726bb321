/* SPDX-License-Identifier: MIT
 *
 * cnn.c: the bias-free ReLU CNN of cnn.h — creation, minibatch training
 * (im2col + SGEMM forward and backward, softmax cross-entropy, Adam/SGD),
 * forward pass and activation percentiles — and its spiking twin (pool
 * folding, data-based normalisation, the step loop on digital or analog
 * layers). It sits between the dataset (experiments/) and the CNN sweep
 * point (experiments/cnn_run.c), which programs and calibrates crossbars.
 *
 * Training layout: a minibatch of B examples; a conv layer's patches of all
 * examples form one (B·P, K) matrix, so the layer is one SGEMM
 * Y (B·P, C_out) = cols · Wᵀ, transposed into (B, C_out, P) maps; backward
 * dW = dYᵀ·cols, dcols = dY·W and col2im. Every buffer is made once by the
 * trainer (sized for the batch); BLAS runs on MX_MLP_BLAS_THREADS threads
 * during training and forward passes (mlp.h says why), so a trained network
 * does not depend on the machine's core count.
 *
 * The spiking step loop is plain C on one thread per example (the caller
 * parallelises over examples): a digital layer scatters each non-zero input
 * through the transposed matrix (event-driven: a silent input costs
 * nothing); an analog layer calls mx_matmul_forward once per output position
 * with a non-empty patch.
 */
#include "snn/cnn.h"

#include <assert.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include <cblas.h>
#include <gsl/gsl_sort_float.h>
#include <gsl/gsl_statistics_float.h>

#include "core/log.h"
#include "core/rng.h"

/* Adam constants of Kingma & Ba (2015), as mlp.c. */
#define CNN_ADAM_BETA1 0.9
#define CNN_ADAM_BETA2 0.999
#define CNN_ADAM_EPSILON 1e-8
/* Examples per chunk of mx_cnn_forward and the percentiles. */
#define CNN_FORWARD_CHUNK 256
/* SNN threshold (the weights are normalised to it). */
#define CNN_SNN_THRESHOLD 1.0f

/* ---------------------------------------------------------------- config */

void mx_cnn_config_default(mx_cnn_config *c)
{
    memset(c, 0, sizeof *c);
    c->n_conv = 0;
    c->conv_kernel = 3;
    c->conv_padding = 0;
    c->pool = MX_POOL_AVG;
}

mx_status mx_cnn_config_validate(const mx_cnn_config *c)
{
    if (c->n_conv > MX_CNN_MAX_CONV)
        return mx_fail(MX_EINVAL, "model.conv_channels: expected at most %d values, got %zu",
                       MX_CNN_MAX_CONV, c->n_conv);
    for (size_t i = 0; i < c->n_conv; i++)
        if (c->conv_channels[i] < 1)
            return mx_fail(MX_EINVAL, "model.conv_channels[%zu]: expected >= 1, got %zu", i,
                           c->conv_channels[i]);
    if (c->conv_kernel < 1)
        return mx_fail(MX_EINVAL, "model.conv_kernel: expected >= 1, got %zu", c->conv_kernel);
    if (c->conv_padding >= c->conv_kernel)
        return mx_fail(MX_EINVAL, "model.conv_padding: expected less than model.conv_kernel "
                                  "(%zu), got %zu",
                       c->conv_kernel, c->conv_padding);
    if (c->pool != MX_POOL_AVG && c->pool != MX_POOL_MAX)
        return mx_fail(MX_EINVAL, "model.pool: expected avg or max, got %d", (int)c->pool);
    return MX_OK;
}

/* ------------------------------------------------------------------- ANN */

/* Elements of layer l's output that feeds the next layer (pooled for conv). */
static size_t layer_out_size(const mx_cnn_layer *ly)
{
    return ly->conv ? mx_pool_output_size(&ly->pool) : ly->n_out;
}

/* Elements of layer l's ReLU output (before pooling). */
static size_t layer_z_size(const mx_cnn_layer *ly)
{
    return ly->conv ? ly->n_out * mx_conv_positions(&ly->geom) : ly->n_out;
}

size_t mx_cnn_input_size(const mx_cnn *net) { return net->in_c * net->in_h * net->in_w; }
size_t mx_cnn_n_classes(const mx_cnn *net) { return net->layer[net->n_layers - 1].n_out; }
size_t mx_cnn_layer_outputs(const mx_cnn *net, size_t l) { return layer_z_size(&net->layer[l]); }

void mx_cnn_destroy(mx_cnn *net)
{
    if (!net)
        return;
    for (size_t l = 0; l < net->n_layers; l++)
        mx_free(net->layer[l].w);
    mx_free(net);
}

mx_status mx_cnn_create(const mx_cnn_config *cfg, size_t in_c, size_t in_h, size_t in_w,
                        const size_t *hidden, size_t n_hidden, size_t n_classes, uint64_t seed,
                        mx_cnn **out)
{
    *out = NULL;
    mx_status st = mx_cnn_config_validate(cfg);
    if (st)
        return st;
    if (cfg->n_conv < 1)
        return mx_fail(MX_EINVAL, "model.conv_channels: expected at least one conv layer");
    if (cfg->n_conv + n_hidden + 1 > MX_CNN_MAX_LAYERS)
        return mx_fail(MX_EINVAL, "model.hidden: %zu conv + %zu dense layers exceed the %d "
                                  "weight layers a network may have",
                       cfg->n_conv, n_hidden + 1, MX_CNN_MAX_LAYERS);
    if (n_classes < 2)
        return mx_fail(MX_EINVAL, "cnn: expected at least 2 classes, got %zu", n_classes);
    mx_cnn *net = mx_calloc(1, sizeof *net);
    if (!net)
        return mx_fail(MX_ENOMEM, "cnn: out of memory");
    net->in_c = in_c;
    net->in_h = in_h;
    net->in_w = in_w;
    net->pool = cfg->pool;
    net->n_conv = cfg->n_conv;
    net->n_layers = cfg->n_conv + n_hidden + 1;
    size_t c = in_c, h = in_h, w = in_w;
    for (size_t l = 0; l < net->n_layers && !st; l++) {
        mx_cnn_layer *ly = &net->layer[l];
        if (l < cfg->n_conv) {
            ly->conv = 1;
            st = mx_conv_geom_init(&ly->geom, c, h, w, cfg->conv_kernel, 1, cfg->conv_padding);
            if (!st)
                st = mx_pool_geom_init(&ly->pool, cfg->conv_channels[l], ly->geom.out_height,
                                       ly->geom.out_width, MX_CNN_POOL, MX_CNN_POOL);
            if (st) {
                st = mx_fail_context(st, "model.conv_channels[%zu] (input %zux%zux%zu)", l, c, h,
                                     w);
                break;
            }
            ly->n_out = cfg->conv_channels[l];
            ly->n_in = mx_conv_patch_size(&ly->geom);
            c = ly->n_out;
            h = ly->pool.out_height;
            w = ly->pool.out_width;
        } else {
            ly->conv = 0;
            ly->n_in = c * h * w;
            ly->n_out = l + 1 < net->n_layers ? hidden[l - cfg->n_conv] : n_classes;
            if (ly->n_out < 1) {
                st = mx_fail(MX_EINVAL, "model.hidden[%zu]: expected >= 1", l - cfg->n_conv);
                break;
            }
            c = ly->n_out;
            h = w = 1;
        }
        const size_t count = mx_size_mul(ly->n_out, ly->n_in);
        if (!(ly->w = mx_alloc(count * sizeof(float)))) {
            st = mx_fail(MX_ENOMEM, "cnn: out of memory");
            break;
        }
        /* He-uniform (He et al. 2015): Var = 2/fan_in = a²/3. */
        const double a = sqrt(6.0 / (double)ly->n_in);
        mx_rng r;
        mx_rng_init_named(&r, seed, "cnn.init", l);
        for (size_t i = 0; i < count; i++)
            ly->w[i] = (float)(a * (2.0 * mx_rng_uniform(&r) - 1.0));
    }
    if (st) {
        mx_cnn_destroy(net);
        return st;
    }
    *out = net;
    return MX_OK;
}

/* --------------------------------------------------------------- trainer */

struct mx_cnn_trainer {
    mx_train_config cfg;
    size_t cap;                        /* examples per batch */
    uint64_t steps;                    /* updates taken (Adam's t) */
    float *cols[MX_CNN_MAX_LAYERS];    /* conv: (cap·P, K) patches */
    float *z[MX_CNN_MAX_LAYERS];       /* (cap, z size) ReLU outputs (logits last) */
    float *out[MX_CNN_MAX_LAYERS];     /* conv: (cap, pooled size) */
    size_t *argmax[MX_CNN_MAX_LAYERS]; /* conv with max pooling */
    float *dout[MX_CNN_MAX_LAYERS];    /* ∂L/∂(layer output fed forward) */
    float *grad[MX_CNN_MAX_LAYERS];
    float *m[MX_CNN_MAX_LAYERS], *v[MX_CNN_MAX_LAYERS];
    float *yt;                         /* (cap·P, C_out) GEMM output / its gradient */
    float *dz;                         /* (cap, z size) */
    float *dcols;                      /* (cap·P, K) */
};

void mx_cnn_trainer_destroy(mx_cnn_trainer *tr)
{
    if (!tr)
        return;
    for (size_t l = 0; l < MX_CNN_MAX_LAYERS; l++) {
        mx_free(tr->cols[l]);
        mx_free(tr->z[l]);
        mx_free(tr->out[l]);
        mx_free(tr->argmax[l]);
        mx_free(tr->dout[l]);
        mx_free(tr->grad[l]);
        mx_free(tr->m[l]);
        mx_free(tr->v[l]);
    }
    mx_free(tr->yt);
    mx_free(tr->dz);
    mx_free(tr->dcols);
    mx_free(tr);
}

/* Trainer for batches of `cap`; with_optimizer 0 makes a forward-only one. */
static mx_status trainer_create(const mx_cnn *net, const mx_train_config *cfg, size_t cap,
                                int with_grad, mx_cnn_trainer **out)
{
    *out = NULL;
    mx_cnn_trainer *tr = mx_calloc(1, sizeof *tr);
    if (!tr)
        return mx_fail(MX_ENOMEM, "cnn trainer: out of memory");
    if (cfg)
        tr->cfg = *cfg;
    tr->cap = cap;
    int ok = 1;
    size_t max_yt = 0, max_z = 0, max_cols = 0;
    for (size_t l = 0; l < net->n_layers; l++) {
        const mx_cnn_layer *ly = &net->layer[l];
        const size_t zs = mx_size_mul(cap, layer_z_size(ly));
        ok &= (tr->z[l] = mx_alloc(zs * sizeof(float))) != NULL;
        max_z = zs > max_z ? zs : max_z;
        if (ly->conv) {
            const size_t P = mx_conv_positions(&ly->geom);
            const size_t nc = mx_size_mul(mx_size_mul(cap, P), ly->n_in);
            const size_t ny = mx_size_mul(mx_size_mul(cap, P), ly->n_out);
            ok &= (tr->cols[l] = mx_alloc(nc * sizeof(float))) != NULL;
            ok &= (tr->out[l] = mx_alloc(mx_size_mul(cap, layer_out_size(ly)) * sizeof(float))) !=
                  NULL;
            if (net->pool == MX_POOL_MAX)
                ok &= (tr->argmax[l] = mx_alloc(mx_size_mul(cap, layer_out_size(ly)) *
                                                sizeof(size_t))) != NULL;
            max_yt = ny > max_yt ? ny : max_yt;
            max_cols = nc > max_cols ? nc : max_cols;
        }
        if (with_grad) {
            const size_t count = ly->n_out * ly->n_in;
            ok &= (tr->dout[l] = mx_alloc(mx_size_mul(cap, layer_out_size(ly)) * sizeof(float))) !=
                  NULL;
            ok &= (tr->grad[l] = mx_alloc(count * sizeof(float))) != NULL;
            ok &= (tr->m[l] = mx_calloc(count, sizeof(float))) != NULL;
            if (tr->cfg.optimizer == MX_OPT_ADAM)
                ok &= (tr->v[l] = mx_calloc(count, sizeof(float))) != NULL;
        }
    }
    ok &= (tr->yt = mx_alloc((max_yt ? max_yt : 1) * sizeof(float))) != NULL;
    if (with_grad) {
        ok &= (tr->dz = mx_alloc(max_z * sizeof(float))) != NULL;
        ok &= (tr->dcols = mx_alloc((max_cols ? max_cols : 1) * sizeof(float))) != NULL;
    }
    if (!ok) {
        mx_cnn_trainer_destroy(tr);
        return mx_fail(MX_ENOMEM, "cnn trainer: out of memory");
    }
    *out = tr;
    return MX_OK;
}

mx_status mx_cnn_trainer_create(const mx_cnn *net, const mx_train_config *cfg,
                                mx_cnn_trainer **out)
{
    mx_status st = mx_train_config_validate(cfg);
    if (st)
        return st;
    return trainer_create(net, cfg, cfg->batch_size, 1, out);
}

const float *mx_cnn_trainer_grad(const mx_cnn_trainer *tr, size_t l) { return tr->grad[l]; }

/* The input of layer l for the batch: x, or the previous layer's output. */
static const float *layer_input(const mx_cnn *net, const mx_cnn_trainer *tr, size_t l,
                                const float *x)
{
    if (l == 0)
        return x;
    return net->layer[l - 1].conv ? tr->out[l - 1] : tr->z[l - 1];
}

/* Forward pass of `batch` examples through every layer into tr's buffers.
 * BLAS threads are the caller's business. */
static void forward_batch(const mx_cnn *net, mx_cnn_trainer *tr, const float *x, size_t batch)
{
    const size_t L = net->n_layers;
    for (size_t l = 0; l < L; l++) {
        const mx_cnn_layer *ly = &net->layer[l];
        const float *in = layer_input(net, tr, l, x);
        if (ly->conv) {
            const mx_conv_geom *g = &ly->geom;
            const size_t P = mx_conv_positions(g), K = ly->n_in, C = ly->n_out;
            const size_t in_size = mx_conv_input_size(g), zs = C * P, os = layer_out_size(ly);
            for (size_t e = 0; e < batch; e++)
                mx_im2col(g, in + e * in_size, tr->cols[l] + e * P * K);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(batch * P), (int)C,
                        (int)K, 1.0f, tr->cols[l], (int)K, ly->w, (int)K, 0.0f, tr->yt, (int)C);
            for (size_t e = 0; e < batch; e++) {
                float *z = tr->z[l] + e * zs;
                const float *yt = tr->yt + e * P * C;
                for (size_t o = 0; o < C; o++)
                    for (size_t p = 0; p < P; p++) {
                        const float v = yt[p * C + o];
                        z[o * P + p] = v > 0.0f ? v : 0.0f;
                    }
                if (net->pool == MX_POOL_AVG)
                    mx_avgpool_forward(&ly->pool, z, tr->out[l] + e * os);
                else
                    mx_maxpool_forward(&ly->pool, z, tr->out[l] + e * os,
                                       tr->argmax[l] ? tr->argmax[l] + e * os : NULL);
            }
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)batch, (int)ly->n_out,
                        (int)ly->n_in, 1.0f, in, (int)ly->n_in, ly->w, (int)ly->n_in, 0.0f,
                        tr->z[l], (int)ly->n_out);
            if (l + 1 < L) {
                const size_t count = batch * ly->n_out;
                for (size_t i = 0; i < count; i++)
                    tr->z[l][i] = tr->z[l][i] > 0.0f ? tr->z[l][i] : 0.0f;
            }
        }
    }
}

mx_status mx_cnn_gradient(const mx_cnn *net, mx_cnn_trainer *tr, const float *x,
                          const uint8_t *labels, size_t batch, double *loss)
{
    if (batch < 1 || batch > tr->cap || !tr->grad[0])
        return mx_fail(MX_EINVAL, "cnn gradient: expected 1..%zu examples, got %zu", tr->cap,
                       batch);
    const size_t L = net->n_layers, n_cls = mx_cnn_n_classes(net);
    forward_batch(net, tr, x, batch);
    /* Softmax cross-entropy: ∂L/∂logit = (softmax − onehot)/batch. */
    double loss_sum = 0.0;
    float *dlog = tr->dout[L - 1];
    for (size_t e = 0; e < batch; e++) {
        const float *zl = tr->z[L - 1] + e * n_cls;
        float *d = dlog + e * n_cls;
        if (labels[e] >= n_cls)
            return mx_fail(MX_EINVAL, "cnn gradient: label %u of example %zu is not a class",
                           (unsigned)labels[e], e);
        double mx = zl[0], sum = 0.0;
        for (size_t k = 1; k < n_cls; k++)
            mx = (double)zl[k] > mx ? (double)zl[k] : mx;
        for (size_t k = 0; k < n_cls; k++)
            sum += exp((double)zl[k] - mx);
        for (size_t k = 0; k < n_cls; k++)
            d[k] = (float)((exp((double)zl[k] - mx) / sum - (k == labels[e])) / (double)batch);
        loss_sum += log(sum) + mx - (double)zl[labels[e]];
    }
    if (!isfinite(loss_sum))
        return mx_fail(MX_ENUMERIC, "cnn training: the loss is not finite");
    if (loss)
        *loss = loss_sum / (double)batch;
    for (size_t l = L; l-- > 0;) {
        const mx_cnn_layer *ly = &net->layer[l];
        const float *in = layer_input(net, tr, l, x);
        float *din = l > 0 ? tr->dout[l - 1] : NULL;
        if (!ly->conv) {
            const float *dy = tr->dout[l];
            if (l + 1 < L) { /* ReLU mask on this layer's own output */
                float *d = tr->dz;
                for (size_t i = 0; i < batch * ly->n_out; i++)
                    d[i] = tr->z[l][i] > 0.0f ? dy[i] : 0.0f;
                dy = d;
            }
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ly->n_out, (int)ly->n_in,
                        (int)batch, 1.0f, dy, (int)ly->n_out, in, (int)ly->n_in, 0.0f,
                        tr->grad[l], (int)ly->n_in);
            if (din)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)batch,
                            (int)ly->n_in, (int)ly->n_out, 1.0f, dy, (int)ly->n_out, ly->w,
                            (int)ly->n_in, 0.0f, din, (int)ly->n_in);
            continue;
        }
        const mx_conv_geom *g = &ly->geom;
        const size_t P = mx_conv_positions(g), K = ly->n_in, C = ly->n_out;
        const size_t zs = C * P, os = layer_out_size(ly), in_size = mx_conv_input_size(g);
        /* Through the pool, then the ReLU mask, into yt's (B·P, C) layout. */
        for (size_t e = 0; e < batch; e++) {
            float *dz = tr->dz + e * zs;
            if (net->pool == MX_POOL_AVG)
                mx_avgpool_backward(&ly->pool, tr->dout[l] + e * os, dz);
            else
                mx_maxpool_backward(&ly->pool, tr->dout[l] + e * os, tr->argmax[l] + e * os, dz);
            const float *z = tr->z[l] + e * zs;
            float *yt = tr->yt + e * P * C;
            for (size_t o = 0; o < C; o++)
                for (size_t p = 0; p < P; p++)
                    yt[p * C + o] = z[o * P + p] > 0.0f ? dz[o * P + p] : 0.0f;
        }
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)C, (int)K, (int)(batch * P),
                    1.0f, tr->yt, (int)C, tr->cols[l], (int)K, 0.0f, tr->grad[l], (int)K);
        if (din) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(batch * P), (int)K,
                        (int)C, 1.0f, tr->yt, (int)C, ly->w, (int)K, 0.0f, tr->dcols, (int)K);
            memset(din, 0, batch * in_size * sizeof(float));
            for (size_t e = 0; e < batch; e++)
                mx_col2im(g, tr->dcols + e * P * K, din + e * in_size);
        }
    }
    return MX_OK;
}

mx_status mx_cnn_train_batch(mx_cnn *net, mx_cnn_trainer *tr, const float *x,
                             const uint8_t *labels, size_t batch, size_t epoch, double *loss)
{
    mx_status st = mx_cnn_gradient(net, tr, x, labels, batch, loss);
    if (st)
        return st;
    tr->steps++;
    const double lr = tr->cfg.learning_rate * pow(tr->cfg.lr_decay, (double)epoch);
    const float wd = (float)tr->cfg.weight_decay;
    for (size_t l = 0; l < net->n_layers; l++) {
        mx_cnn_layer *ly = &net->layer[l];
        const size_t count = ly->n_out * ly->n_in;
        float *w = ly->w, *g = tr->grad[l], *m = tr->m[l], *v = tr->v[l];
        if (tr->cfg.optimizer == MX_OPT_ADAM) {
            const float b1 = (float)CNN_ADAM_BETA1, b2 = (float)CNN_ADAM_BETA2;
            const float c1 = (float)(1.0 - CNN_ADAM_BETA1), c2 = (float)(1.0 - CNN_ADAM_BETA2);
            const float step = (float)(lr / (1.0 - pow(CNN_ADAM_BETA1, (double)tr->steps)));
            const float inv_bc2 =
                (float)(1.0 / sqrt(1.0 - pow(CNN_ADAM_BETA2, (double)tr->steps)));
            const float eps = (float)CNN_ADAM_EPSILON;
            for (size_t i = 0; i < count; i++) {
                const float gi = g[i] + wd * w[i];
                m[i] = b1 * m[i] + c1 * gi;
                v[i] = b2 * v[i] + c2 * gi * gi;
                w[i] -= step * m[i] / (sqrtf(v[i]) * inv_bc2 + eps);
            }
        } else {
            const float mu = (float)tr->cfg.momentum, rate = (float)lr;
            for (size_t i = 0; i < count; i++) {
                m[i] = mu * m[i] + g[i] + wd * w[i];
                w[i] -= rate * m[i];
            }
        }
    }
    return MX_OK;
}

static void shuffle(size_t *order, size_t n, uint64_t seed, uint64_t item)
{
    mx_rng rng;
    mx_rng_init_named(&rng, seed, "train.shuffle", item);
    mx_rng_permutation(&rng, order, n);
}

/* Index of the largest logit. */
static size_t argmax_row(const float *z, size_t n)
{
    size_t best = 0;
    for (size_t k = 1; k < n; k++)
        if (z[k] > z[best])
            best = k;
    return best;
}

mx_status mx_cnn_train(mx_cnn *net, const mx_train_config *cfg, const float *x,
                       const uint8_t *labels, size_t n, uint64_t seed, const char *what,
                       double *last_epoch_loss)
{
    mx_status st = mx_train_config_validate(cfg);
    if (st)
        return st;
    if (n == 0)
        return mx_fail(MX_EINVAL, "cnn training: no training examples");
    const size_t dim = mx_cnn_input_size(net), bs = cfg->batch_size, n_cls = mx_cnn_n_classes(net);
    const size_t n_batches = (n + bs - 1) / bs;
    mx_cnn_trainer *tr = NULL;
    size_t *order = mx_alloc(n * sizeof(size_t));
    float *bx = mx_alloc(mx_size_mul(bs, dim) * sizeof(float));
    uint8_t *by = mx_alloc(bs);
    st = order && bx && by ? mx_cnn_trainer_create(net, cfg, &tr)
                           : mx_fail(MX_ENOMEM, "cnn training: out of memory");
    const int blas_before = openblas_get_num_threads();
    openblas_set_num_threads(MX_MLP_BLAS_THREADS);
    const double t0 = mx_seconds_now();
    double epoch_loss = NAN;
    for (size_t e = 0; e < cfg->epochs && !st; e++) {
        shuffle(order, n, seed, e);
        double loss_sum = 0.0;
        size_t correct = 0;
        for (size_t b = 0; b < n_batches && !st; b++) {
            const size_t start = b * bs, count = n - start < bs ? n - start : bs;
            for (size_t i = 0; i < count; i++) {
                memcpy(bx + i * dim, x + order[start + i] * dim, dim * sizeof(float));
                by[i] = labels[order[start + i]];
            }
            double loss = 0.0;
            st = mx_cnn_train_batch(net, tr, bx, by, count, e, &loss);
            /* accuracy of the batch's forward pass (before its update) */
            for (size_t i = 0; i < count && !st; i++)
                correct += argmax_row(tr->z[net->n_layers - 1] + i * n_cls, n_cls) == by[i];
            loss_sum += loss * (double)count;
            mx_progress(what, e * n_batches + b + 1, cfg->epochs * n_batches);
        }
        if (st)
            break;
        epoch_loss = loss_sum / (double)n;
        const double el = mx_seconds_now() - t0;
        mx_log(MX_LOG_INFO, "%s: epoch %zu/%zu loss %.4f, training accuracy %.2f %%, %.1f s, "
                            "ETA %.0f s",
               what ? what : "cnn training", e + 1, cfg->epochs, epoch_loss,
               100.0 * (double)correct / (double)n, el,
               el / (double)(e + 1) * (double)(cfg->epochs - e - 1));
    }
    openblas_set_num_threads(blas_before);
    if (!st && last_epoch_loss)
        *last_epoch_loss = epoch_loss;
    mx_cnn_trainer_destroy(tr);
    mx_free(order);
    mx_free(bx);
    mx_free(by);
    return st;
}

/* Run n examples in chunks; after each chunk call `visit` with the trainer's
 * buffers (c examples from `first`). */
typedef mx_status (*chunk_visit)(void *user, const mx_cnn *net, const mx_cnn_trainer *tr,
                                 size_t first, size_t c);

static mx_status forward_chunks(const mx_cnn *net, const float *x, size_t n, chunk_visit visit,
                                void *user)
{
    const size_t cap = n < CNN_FORWARD_CHUNK ? (n ? n : 1) : CNN_FORWARD_CHUNK;
    mx_cnn_trainer *tr = NULL;
    mx_status st = trainer_create(net, NULL, cap, 0, &tr);
    if (st)
        return st;
    const int blas_before = openblas_get_num_threads();
    openblas_set_num_threads(MX_MLP_BLAS_THREADS);
    const size_t dim = mx_cnn_input_size(net);
    for (size_t first = 0; first < n && !st; first += cap) {
        const size_t c = n - first < cap ? n - first : cap;
        forward_batch(net, tr, x + first * dim, c);
        st = visit(user, net, tr, first, c);
    }
    openblas_set_num_threads(blas_before);
    mx_cnn_trainer_destroy(tr);
    return st;
}

static mx_status copy_logits(void *user, const mx_cnn *net, const mx_cnn_trainer *tr,
                             size_t first, size_t c)
{
    const size_t n_cls = mx_cnn_n_classes(net);
    memcpy((float *)user + first * n_cls, tr->z[net->n_layers - 1], c * n_cls * sizeof(float));
    return MX_OK;
}

mx_status mx_cnn_forward(const mx_cnn *net, const float *x, size_t n, float *logits)
{
    return forward_chunks(net, x, n, copy_logits, logits);
}

typedef struct acc_ctx {
    const uint8_t *labels;
    size_t correct;
} acc_ctx;

static mx_status count_correct(void *user, const mx_cnn *net, const mx_cnn_trainer *tr,
                               size_t first, size_t c)
{
    acc_ctx *a = user;
    const size_t n_cls = mx_cnn_n_classes(net);
    for (size_t i = 0; i < c; i++)
        a->correct +=
            argmax_row(tr->z[net->n_layers - 1] + i * n_cls, n_cls) == a->labels[first + i];
    return MX_OK;
}

mx_status mx_cnn_accuracy(const mx_cnn *net, const float *x, const uint8_t *labels, size_t n,
                          double *accuracy)
{
    if (n == 0)
        return mx_fail(MX_EINVAL, "cnn accuracy: no examples");
    acc_ctx a = {labels, 0};
    mx_status st = forward_chunks(net, x, n, count_correct, &a);
    if (!st)
        *accuracy = (double)a.correct / (double)n;
    return st;
}

/* Positive values of every layer, gathered chunk by chunk. */
typedef struct pct_ctx {
    float *vals[MX_CNN_MAX_LAYERS];
    size_t count[MX_CNN_MAX_LAYERS];
} pct_ctx;

static mx_status gather_positive(void *user, const mx_cnn *net, const mx_cnn_trainer *tr,
                                 size_t first, size_t c)
{
    (void)first;
    pct_ctx *p = user;
    for (size_t l = 0; l < net->n_layers; l++) {
        const size_t m = c * layer_z_size(&net->layer[l]);
        for (size_t i = 0; i < m; i++)
            if (tr->z[l][i] > 0.0f)
                p->vals[l][p->count[l]++] = tr->z[l][i];
    }
    return MX_OK;
}

/* p-th percentile of v[0..n) (sorted in place), linear interpolation. */
static double percentile_of(float *v, size_t n, double p)
{
    if (n == 0)
        return 0.0;
    gsl_sort_float(v, 1, n);
    return gsl_stats_float_quantile_from_sorted_data(v, 1, n, p / 100.0);
}

mx_status mx_cnn_positive_percentiles(const mx_cnn *net, const float *x, size_t n, double p,
                                      double *pct)
{
    if (!(p > 0.0 && p <= 100.0))
        return mx_fail(MX_EINVAL, "snn.norm_percentile: expected in (0, 100], got %g", p);
    if (n == 0)
        return mx_fail(MX_EINVAL, "cnn percentiles: no examples");
    const size_t dim = mx_cnn_input_size(net);
    pct_ctx pc;
    memset(&pc, 0, sizeof pc);
    mx_status st = MX_OK;
    float *in = mx_alloc(mx_size_mul(n, dim) * sizeof(float));
    size_t n_in = 0;
    for (size_t l = 0; l < net->n_layers && !st; l++)
        if (!(pc.vals[l] = mx_alloc(mx_size_mul(n, layer_z_size(&net->layer[l])) * sizeof(float))))
            st = mx_fail(MX_ENOMEM, "cnn percentiles: out of memory");
    if (!in && !st)
        st = mx_fail(MX_ENOMEM, "cnn percentiles: out of memory");
    if (!st)
        st = forward_chunks(net, x, n, gather_positive, &pc);
    if (!st) {
        for (size_t i = 0; i < n * dim; i++)
            if (x[i] > 0.0f)
                in[n_in++] = x[i];
        pct[0] = percentile_of(in, n_in, p);
        for (size_t l = 0; l < net->n_layers; l++)
            pct[l + 1] = percentile_of(pc.vals[l], pc.count[l], p);
    }
    for (size_t l = 0; l < net->n_layers; l++)
        mx_free(pc.vals[l]);
    mx_free(in);
    return st;
}

/* ------------------------------------------------------------------- SNN */

typedef struct snn_layer {
    mx_conv_geom g;           /* on the (cropped) input map */
    size_t src_c, src_h, src_w;/* the map the previous layer (or the encoder) produces */
    int crop;                 /* input cropped to g.height × g.width first */
    size_t n_out, n_in, P;    /* matrix (n_out, n_in); output positions */
    float *w;                 /* (n_out, n_in) scaled, pool folded */
    float *wt;                /* (n_in, n_out): the scatter's rows */
    double lambda;
    mx_matmul *mm;            /* analog backend, or NULL */
} snn_layer;

struct mx_cnn_snn {
    mx_snn_config cfg;
    size_t n_layers;
    size_t in_size;
    snn_layer layer[MX_CNN_MAX_LAYERS];
};

void mx_cnn_snn_destroy(mx_cnn_snn *net)
{
    if (!net)
        return;
    for (size_t l = 0; l < net->n_layers; l++) {
        mx_free(net->layer[l].w);
        mx_free(net->layer[l].wt);
    }
    mx_free(net);
}

size_t mx_cnn_snn_n_layers(const mx_cnn_snn *net) { return net->n_layers; }
const mx_snn_config *mx_cnn_snn_config(const mx_cnn_snn *net) { return &net->cfg; }
const float *mx_cnn_snn_weights(const mx_cnn_snn *net, size_t l, size_t *n_out, size_t *n_in)
{
    if (n_out)
        *n_out = net->layer[l].n_out;
    if (n_in)
        *n_in = net->layer[l].n_in;
    return net->layer[l].w;
}
const mx_conv_geom *mx_cnn_snn_geom(const mx_cnn_snn *net, size_t l) { return &net->layer[l].g; }
size_t mx_cnn_snn_neurons(const mx_cnn_snn *net, size_t l)
{
    return net->layer[l].n_out * net->layer[l].P;
}
double mx_cnn_snn_layer_scale(const mx_cnn_snn *net, size_t l) { return net->layer[l].lambda; }
mx_matmul *mx_cnn_snn_backend(const mx_cnn_snn *net, size_t l) { return net->layer[l].mm; }

mx_status mx_cnn_snn_from_cnn(const mx_cnn *cnn, const mx_snn_config *cfg, const float *calib_x,
                              size_t calib_n, mx_cnn_snn **out)
{
    *out = NULL;
    mx_status st = mx_snn_config_validate(cfg);
    if (st)
        return st;
    if (cnn->pool != MX_POOL_AVG)
        return mx_fail(MX_EINVAL, "model.pool: expected avg for the conversion to a spiking "
                                  "network (a max pool has no linear spiking form), got max");
    if (calib_n == 0)
        return mx_fail(MX_EINVAL, "cnn conversion: no calibration images");
    double pct[MX_CNN_MAX_LAYERS + 1];
    if ((st = mx_cnn_positive_percentiles(cnn, calib_x, calib_n, cfg->norm_percentile, pct)))
        return st;
    mx_cnn_snn *net = mx_calloc(1, sizeof *net);
    if (!net)
        return mx_fail(MX_ENOMEM, "cnn conversion: out of memory");
    net->cfg = *cfg;
    net->n_layers = cnn->n_layers;
    net->in_size = mx_cnn_input_size(cnn);
    size_t c = cnn->in_c, h = cnn->in_h, w = cnn->in_w; /* the incoming spike map */
    double lambda_prev = 1.0; /* the input: intensities in [0, 1] */
    for (size_t l = 0; l < cnn->n_layers && !st; l++) {
        const mx_cnn_layer *a = &cnn->layer[l];
        snn_layer *s = &net->layer[l];
        s->lambda = pct[l + 1];
        if (!(s->lambda > 0.0)) {
            st = mx_fail(MX_ENUMERIC, "cnn conversion: layer %zu is never active on %zu "
                                      "calibration images", l, calib_n);
            break;
        }
        s->src_c = c;
        s->src_h = h;
        s->src_w = w;
        s->n_out = a->n_out;
        /* Pool before this layer (the previous one is a conv block)? */
        const mx_pool_geom *pool = l > 0 && cnn->layer[l - 1].conv ? &cnn->layer[l - 1].pool
                                                                    : NULL;
        const size_t f = pool ? MX_CNN_POOL : 1; /* fold factor */
        size_t k, pad;
        if (a->conv) {
            k = a->geom.kernel;
            pad = a->geom.padding;
        } else if (pool) {
            if (pool->out_height != pool->out_width) {
                st = mx_fail(MX_EINVAL, "cnn conversion: a dense layer after a %zux%zu map "
                                        "needs a square map",
                             pool->out_height, pool->out_width);
                break;
            }
            k = pool->out_height; /* the dense layer covers the whole pooled map */
            pad = 0;
        } else { /* dense after dense: a 1×1 kernel on an (n, 1, 1) map */
            k = 1;
            pad = 0;
        }
        const size_t in_h = pool ? pool->out_height * f : h, in_w = pool ? pool->out_width * f : w;
        if (pool && (in_h != h || in_w != w))
            s->crop = 1;
        if ((st = mx_conv_geom_init(&s->g, c, in_h, in_w, k * f, f, pad * f)))
            break;
        s->P = mx_conv_positions(&s->g);
        s->n_in = mx_conv_patch_size(&s->g);
        assert(s->n_in == a->n_in * f * f);
        s->w = mx_alloc(mx_size_mul(s->n_out, s->n_in) * sizeof(float));
        s->wt = mx_alloc(mx_size_mul(s->n_out, s->n_in) * sizeof(float));
        if (!s->w || !s->wt) {
            st = mx_fail(MX_ENOMEM, "cnn conversion: out of memory");
            break;
        }
        /* W'[o, ch, i, j] = W[o, ch, i/f, j/f] / f² · λ_{l−1}/λ_l. */
        const double scale = lambda_prev / s->lambda / (double)(f * f);
        const size_t kf = k * f;
        for (size_t o = 0; o < s->n_out; o++)
            for (size_t ch = 0; ch < c; ch++)
                for (size_t i = 0; i < kf; i++)
                    for (size_t j = 0; j < kf; j++) {
                        const float v = (float)((double)a->w[o * a->n_in + (ch * k + i / f) * k +
                                                             j / f] *
                                                scale);
                        const size_t col = (ch * kf + i) * kf + j;
                        s->w[o * s->n_in + col] = v;
                        s->wt[col * s->n_out + o] = v;
                    }
        lambda_prev = s->lambda;
        c = s->n_out;
        h = s->g.out_height;
        w = s->g.out_width;
    }
    if (st) {
        mx_cnn_snn_destroy(net);
        return st;
    }
    *out = net;
    return MX_OK;
}

mx_status mx_cnn_snn_set_backend(mx_cnn_snn *net, size_t l, mx_matmul *mm)
{
    if (l >= net->n_layers)
        return mx_fail(MX_EINVAL, "cnn snn: no layer %zu", l);
    if (mm && (mx_matmul_n_out(mm) != net->layer[l].n_out ||
               mx_matmul_n_in(mm) != net->layer[l].n_in))
        return mx_fail(MX_EMISMATCH, "cnn snn: layer %zu is %zux%zu, its matmul %zux%zu", l,
                       net->layer[l].n_out, net->layer[l].n_in, mx_matmul_n_out(mm),
                       mx_matmul_n_in(mm));
    net->layer[l].mm = mm;
    return MX_OK;
}

mx_status mx_cnn_snn_program_crossbars(mx_cnn_snn *net, const mx_crossbar_config *xbar,
                                       const mx_device_type *device,
                                       const mx_device_params *device_params,
                                       const mx_adc_config *adc, uint64_t seed, mx_matmul **mm)
{
    mx_status st = MX_OK;
    for (size_t l = 0; l < net->n_layers; l++)
        mm[l] = NULL;
    for (size_t l = 0; l < net->n_layers && !st; l++) {
        mx_crossbar_config xc = *xbar;
        if (l == 0 && net->cfg.encoder == MX_ENCODER_CURRENT) {
            /* An analog input: the pixel drives its row through the DAC. */
            xc.input = MX_INPUT_DAC;
            xc.input_full_scale = 1.0;
        }
        st = mx_matmul_create(net->layer[l].w, net->layer[l].n_out, net->layer[l].n_in, &xc,
                              device, device_params, adc, seed, (uint32_t)l, &mm[l]);
        if (st)
            st = mx_fail_context(st, "programming cnn layer %zu", l);
        else
            net->layer[l].mm = mm[l];
    }
    if (st)
        for (size_t l = 0; l < net->n_layers; l++) {
            mx_matmul_destroy(mm[l]);
            mm[l] = NULL;
            net->layer[l].mm = NULL;
        }
    return st;
}

struct mx_cnn_snn_state {
    float *enc;                        /* encoded input (in_size) */
    float *crop[MX_CNN_MAX_LAYERS];    /* cropped input maps */
    float *v[MX_CNN_MAX_LAYERS];       /* membranes (n_out, P) */
    float *spk[MX_CNN_MAX_LAYERS];     /* output spikes (n_out, P) = the next map */
    float *cur[MX_CNN_MAX_LAYERS];     /* input currents (n_out, P) */
    float *acc;                        /* scatter accumulator (P, n_out) */
    float *patch, *y, *yref;
    uint32_t *count;
    mx_matmul_work *mw[MX_CNN_MAX_LAYERS];
    const mx_matmul *mw_owner[MX_CNN_MAX_LAYERS];
};

void mx_cnn_snn_state_destroy(mx_cnn_snn_state *s)
{
    if (!s)
        return;
    mx_free(s->enc);
    for (size_t l = 0; l < MX_CNN_MAX_LAYERS; l++) {
        mx_free(s->crop[l]);
        mx_free(s->v[l]);
        mx_free(s->spk[l]);
        mx_free(s->cur[l]);
        mx_matmul_work_destroy(s->mw[l]);
    }
    mx_free(s->acc);
    mx_free(s->patch);
    mx_free(s->y);
    mx_free(s->yref);
    mx_free(s->count);
    mx_free(s);
}

mx_status mx_cnn_snn_state_create(const mx_cnn_snn *net, mx_cnn_snn_state **out)
{
    *out = NULL;
    mx_cnn_snn_state *s = mx_calloc(1, sizeof *s);
    if (!s)
        return mx_fail(MX_ENOMEM, "cnn snn state: out of memory");
    size_t max_n = 1, max_k = 1, max_o = 1;
    int ok = (s->enc = mx_alloc(net->in_size * sizeof(float))) != NULL;
    for (size_t l = 0; l < net->n_layers; l++) {
        const snn_layer *ly = &net->layer[l];
        const size_t n = ly->n_out * ly->P;
        max_n = n > max_n ? n : max_n;
        max_k = ly->n_in > max_k ? ly->n_in : max_k;
        max_o = ly->n_out > max_o ? ly->n_out : max_o;
        ok &= (s->v[l] = mx_alloc(n * sizeof(float))) != NULL;
        ok &= (s->spk[l] = mx_alloc(n * sizeof(float))) != NULL;
        ok &= (s->cur[l] = mx_alloc(n * sizeof(float))) != NULL;
        if (ly->crop)
            ok &= (s->crop[l] = mx_alloc(mx_conv_input_size(&ly->g) * sizeof(float))) != NULL;
    }
    ok &= (s->acc = mx_alloc(max_n * sizeof(float))) != NULL;
    ok &= (s->patch = mx_alloc(max_k * sizeof(float))) != NULL;
    ok &= (s->y = mx_alloc(max_o * sizeof(float))) != NULL;
    ok &= (s->yref = mx_alloc(max_o * sizeof(float))) != NULL;
    ok &= (s->count = mx_alloc(net->layer[net->n_layers - 1].n_out * sizeof(uint32_t))) != NULL;
    if (!ok) {
        mx_cnn_snn_state_destroy(s);
        return mx_fail(MX_ENOMEM, "cnn snn state: out of memory");
    }
    *out = s;
    return MX_OK;
}

/* Layer l's input map: the encoder output or the previous spikes, cropped
 * to the layer's geometry where a folded pool needs it. */
static const float *layer_map(const mx_cnn_snn *net, mx_cnn_snn_state *s, size_t l)
{
    const snn_layer *ly = &net->layer[l];
    const float *src = l == 0 ? s->enc : s->spk[l - 1];
    if (!ly->crop)
        return src;
    const size_t H = ly->g.height, W = ly->g.width;
    for (size_t c = 0; c < ly->src_c; c++)
        for (size_t i = 0; i < H; i++)
            memcpy(s->crop[l] + (c * H + i) * W, src + (c * ly->src_h + i) * ly->src_w,
                   W * sizeof(float));
    return s->crop[l];
}

/* Digital layer: cur (n_out, P) = W·patch at every position, by scattering
 * every non-zero input through the rows of Wᵀ it meets (event-driven). */
static void digital_layer(const snn_layer *ly, const float *in, float *acc, float *cur)
{
    const mx_conv_geom *g = &ly->g;
    const size_t k = g->kernel, s = g->stride, pad = g->padding, O = ly->n_out;
    const size_t oh = g->out_height, ow = g->out_width, H = g->height, W = g->width;
    memset(acc, 0, ly->P * O * sizeof(float));
    for (size_t c = 0; c < g->channels; c++)
        for (size_t h = 0; h < H; h++)
            for (size_t w = 0; w < W; w++) {
                const float x = in[(c * H + h) * W + w];
                if (x == 0.0f)
                    continue;
                /* outputs i with 0 ≤ h + pad − i·s < k */
                const size_t hp = h + pad, wp = w + pad;
                const size_t i_lo = hp >= k ? (hp - k) / s + 1 : 0, i_hi = hp / s;
                const size_t j_lo = wp >= k ? (wp - k) / s + 1 : 0, j_hi = wp / s;
                for (size_t i = i_lo; i <= i_hi && i < oh; i++)
                    for (size_t j = j_lo; j <= j_hi && j < ow; j++) {
                        const size_t a = hp - i * s, b = wp - j * s;
                        const float *row = ly->wt + ((c * k + a) * k + b) * O;
                        float *dst = acc + (i * ow + j) * O;
                        for (size_t o = 0; o < O; o++)
                            dst[o] += x * row[o];
                    }
            }
    for (size_t p = 0; p < ly->P; p++)
        for (size_t o = 0; o < O; o++)
            cur[o * ly->P + p] = acc[p * O + o];
}

static int predict(const uint32_t *count, const float *v, size_t n)
{
    size_t best = 0;
    for (size_t k = 1; k < n; k++)
        if (count[k] > count[best] || (count[k] == count[best] && v[k] > v[best]))
            best = k;
    return (int)best;
}

static mx_status run(const mx_cnn_snn *net, mx_cnn_snn_state *s, const float *x,
                     uint64_t rng_seed, uint64_t item, int compare_reference,
                     int *pred_per_step, int *pred, mx_snn_layer_stats *stats,
                     size_t record_layer, mx_current_recorder *rec)
{
    const size_t L = net->n_layers, n_cls = net->layer[L - 1].n_out;
    for (size_t l = 0; l < L; l++) {
        mx_status st = mx_matmul_work_follow(net->layer[l].mm, &s->mw[l], &s->mw_owner[l]);
        if (st)
            return st;
        memset(s->v[l], 0, net->layer[l].n_out * net->layer[l].P * sizeof(float));
    }
    memset(s->count, 0, n_cls * sizeof(uint32_t));
    mx_rng enc, rd;
    mx_rng_init_named(&enc, rng_seed, "snn.encode", item);
    mx_rng_init_named(&rd, rng_seed, "crossbar.read", item);
    const float decay = (float)mx_neuron_decay(&net->cfg);
    /* A constant input current gives a digital first layer the same current
     * every step: computed once. */
    const int constant_input = net->cfg.encoder == MX_ENCODER_CURRENT;
    /* Recording layer r needs the layers up to r only. */
    const size_t L_run = record_layer < L ? record_layer + 1 : L;
    int last = 0;
    for (size_t t = 0; t < net->cfg.timesteps; t++) {
        mx_encode_step(&net->cfg, x, net->in_size, &enc, s->enc);
        for (size_t l = 0; l < L_run; l++) {
            const snn_layer *ly = &net->layer[l];
            const size_t n = ly->n_out * ly->P;
            mx_snn_layer_stats *ls = stats ? &stats[l] : NULL;
            if (ly->mm) {
                const float *in = layer_map(net, s, l);
                const int cmp = compare_reference && ls;
                for (size_t p = 0; p < ly->P; p++) {
                    const size_t nnz = mx_im2col_patch(&ly->g, in, p, s->patch);
                    if (nnz == 0) { /* nothing drives a row: no read, no current */
                        for (size_t o = 0; o < ly->n_out; o++)
                            s->cur[l][o * ly->P + p] = 0.0f;
                        continue;
                    }
                    mx_matmul_forward(ly->mm, s->mw[l], s->patch, s->y, &rd, ls ? &ls->mm : NULL,
                                      l == record_layer ? rec : NULL);
                    for (size_t o = 0; o < ly->n_out; o++)
                        s->cur[l][o * ly->P + p] = s->y[o];
                    if (cmp) {
                        for (size_t o = 0; o < ly->n_out; o++) {
                            const float *wr = ly->w + o * ly->n_in;
                            double r = 0.0;
                            for (size_t q = 0; q < ly->n_in; q++)
                                r += (double)wr[q] * (double)s->patch[q];
                            const double e = (double)s->y[o] - r;
                            ls->err_sum += e;
                            ls->err_sq_sum += e * e;
                            ls->ref_sq_sum += r * r;
                        }
                        ls->n_values += ly->n_out;
                    }
                }
            } else if (!(l == 0 && constant_input && t > 0)) {
                digital_layer(ly, layer_map(net, s, l), s->acc, s->cur[l]);
            }
            for (size_t i = 0; i < n; i++)
                if (!isfinite(s->cur[l][i]))
                    return mx_fail(MX_ENUMERIC, "cnn snn: layer %zu input current %zu is not "
                                                "finite at step %zu", l, i, t);
            const size_t fired =
                mx_neuron_step(n, s->v[l], s->cur[l], decay, CNN_SNN_THRESHOLD, s->spk[l]);
            if (ls) {
                ls->spikes += fired;
                ls->neuron_updates += n;
            }
        }
        if (L_run < L)
            continue;
        for (size_t k = 0; k < n_cls; k++)
            s->count[k] += (uint32_t)s->spk[L - 1][k];
        last = predict(s->count, s->v[L - 1], n_cls);
        if (pred_per_step)
            pred_per_step[t] = last;
    }
    if (pred)
        *pred = last;
    return MX_OK;
}

mx_status mx_cnn_snn_run(const mx_cnn_snn *net, mx_cnn_snn_state *s, const float *x,
                         uint64_t rng_seed, uint64_t item, int compare_reference,
                         int *pred_per_step, int *pred, mx_snn_layer_stats *layer_stats)
{
    return run(net, s, x, rng_seed, item, compare_reference, pred_per_step, pred, layer_stats,
               SIZE_MAX, NULL);
}

mx_status mx_cnn_snn_run_record(const mx_cnn_snn *net, mx_cnn_snn_state *s, const float *x,
                                uint64_t rng_seed, uint64_t item, size_t layer,
                                mx_current_recorder *rec)
{
    if (layer >= net->n_layers || !net->layer[layer].mm)
        return mx_fail(MX_EINVAL, "cnn snn record: layer %zu has no analog backend", layer);
    return run(net, s, x, rng_seed, item, 0, NULL, NULL, NULL, layer, rec);
}
