/* SPDX-License-Identifier: MIT
 *
 * surrogate.c: surrogate-gradient BPTT for the LIF networks of surrogate.h —
 * encoders, the neuron step shared with the crossbar evaluation
 * (experiments/surrogate_run.c), the minibatch forward and backward passes on
 * cblas SGEMM, Adam, and the epoch loop.
 *
 * Layout of a minibatch of B examples and T steps: the inputs, currents,
 * membranes and spikes of a layer are (T·B, n) row-major, row t·B + b
 * ("time-major"), so W·x of every step of every example is one SGEMM. A
 * constant input (current encoding) is (B, n_in) and multiplied once.
 *
 * Backward through time, per neuron (m_t = 1 − S[t−1] with reset to zero,
 * 1 otherwise; reset and S[t−1] detached):
 *   g_v[t]   = ∂L/∂v[t] (loss) + σ′(v[t] − θ)·∂L/∂S[t] + β·m_{t+1}·g_v[t+1]
 *   g_syn[t] = m_t·g_v[t] + α·g_syn[t+1]          (= ∂L/∂(W·s_in)[t])
 *   ∂L/∂W    = Σ_t g_syn[t]ᵀ·s_in[t],  ∂L/∂s_in[t] = g_syn[t]·W
 * (the non-spiking output has no reset: m_t = 1, no σ′ term).
 *
 * Conv blocks (surrogate.conv_channels, surrogate.h): per block the patches
 * of all T·B rows are one (T·B·P, C_in·k·k) matrix, so forward, ∂L/∂W and
 * ∂L/∂patches are one SGEMM each; col2im turns ∂L/∂patches into the
 * gradient of the previous block's pooled spikes, and the pooling backward
 * of snn/conv.h routes ∂L/∂(pooled) to ∂L/∂S of the block's neurons, which
 * run the same recursion as the dense layers (lif_dynamics, lif_backward).
 */
#include "snn/surrogate.h"

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "core/log.h"
#include "core/rng.h"

#define ADAM_EPSILON 1e-8
/* snnTorch's defaults (snntorch.surrogate.fast_sigmoid slope = 25,
 * snntorch.surrogate.atan alpha = 2). */
#define FAST_SIGMOID_DEFAULT_SLOPE 25.0
#define ARCTAN_DEFAULT_SLOPE 2.0
/* Layer 0 takes the sparse path when at most 1/this of its inputs are
 * non-zero (a dense SGEMM is ~10x faster per multiply-add than the scatter). */
#define SPARSE_MAX_FRACTION 16
/* Examples per chunk of mx_surrogate_predict. */
#define PREDICT_CHUNK 256
/* ... with conv blocks (their patch matrices are T·B·positions rows). */
#define PREDICT_CHUNK_CONV 32
/* Items of stream "surrogate.encode" while training: epoch << 32 | example. */
#define ENCODE_EPOCH_SHIFT 32
/* Items of stream "train.noise": (global minibatch << 24) | (layer << 20) | row
 * (as snn/train.c). */
#define NOISE_ITEM_LAYER_SHIFT 20
#define NOISE_ITEM_STEP_SHIFT 24

/* ------------------------------------------------------------ config */

void mx_surrogate_config_default(mx_surrogate_config *c)
{
    /* snnTorch tutorial 5 (paper-tables.md §10): 784-1000-10, β = 0.95,
     * T = 25, constant current input, arctan, Adam 5e-4 (0.9, 0.999),
     * batch 128, one epoch: 93.87 % on MNIST. */
    memset(c, 0, sizeof *c);
    c->n_hidden = 1;
    c->hidden[0] = 1000;
    c->timesteps = 25;
    c->beta = 0.95;
    c->alpha = 0.0;
    c->reset = MX_SURROGATE_RESET_SUBTRACT;
    c->surrogate = MX_SURROGATE_ARCTAN;
    c->slope = 0.0;
    c->encoding = MX_SURROGATE_CURRENT;
    c->latency_tau_steps = 20.0;
    c->latency_threshold = 0.2;
    c->output = MX_SURROGATE_MEMBRANE_SUM;
    c->init_gain = 1.0;
    c->epochs = 1;
    c->batch_size = 128;
    c->learning_rate = 5e-4;
    c->adam_beta1 = 0.9;
    c->adam_beta2 = 0.999;
    c->training = MX_SURROGATE_PLAIN;
    c->noise_sigma = -1.0;
    /* conv blocks: none (the dense network); when given, 3×3 kernels with
     * "same" padding and 2×2 average pooling (SpikingJelly's CSNN examples). */
    c->n_conv = 0;
    c->conv_kernel = 3;
    c->conv_padding = 1;
    c->pool = MX_POOL_AVG;
}

mx_status mx_surrogate_config_validate(const mx_surrogate_config *c)
{
    assert(c);
    if (c->n_hidden > MX_SURROGATE_MAX_HIDDEN)
        return mx_fail(MX_EINVAL, "surrogate.hidden: expected at most %d layers, got %zu",
                       MX_SURROGATE_MAX_HIDDEN, c->n_hidden);
    for (size_t l = 0; l < c->n_hidden; l++)
        if (c->hidden[l] < 1 || c->hidden[l] > INT_MAX)
            return mx_fail(MX_EINVAL, "surrogate.hidden[%zu]: expected >= 1, got %zu", l,
                           c->hidden[l]);
    if (c->timesteps < 1 || c->timesteps > 100000)
        return mx_fail(MX_EINVAL, "surrogate.timesteps: expected 1..100000, got %zu",
                       c->timesteps);
    if (!(c->beta >= 0.0 && c->beta <= 1.0))
        return mx_fail(MX_EINVAL, "surrogate.beta: expected in [0, 1], got %g", c->beta);
    if (!(c->alpha >= 0.0 && c->alpha < 1.0))
        return mx_fail(MX_EINVAL, "surrogate.alpha: expected in [0, 1), got %g", c->alpha);
    if (c->reset != MX_SURROGATE_RESET_SUBTRACT && c->reset != MX_SURROGATE_RESET_ZERO)
        return mx_fail(MX_EINVAL, "surrogate.reset: expected subtract or zero, got %d",
                       (int)c->reset);
    if (c->surrogate != MX_SURROGATE_FAST_SIGMOID && c->surrogate != MX_SURROGATE_ARCTAN)
        return mx_fail(MX_EINVAL, "surrogate.function: expected fast-sigmoid or arctan, got %d",
                       (int)c->surrogate);
    if (!(isfinite(c->slope) && c->slope >= 0.0))
        return mx_fail(MX_EINVAL, "surrogate.slope: expected >= 0, got %g", c->slope);
    if ((unsigned)c->encoding > MX_SURROGATE_EVENTS)
        return mx_fail(MX_EINVAL, "surrogate.encoding: expected current, rate, latency or "
                                  "events, got %d", (int)c->encoding);
    if (!(isfinite(c->latency_tau_steps) && c->latency_tau_steps > 0.0))
        return mx_fail(MX_EINVAL, "surrogate.latency_tau_steps: expected > 0, got %g",
                       c->latency_tau_steps);
    if (!(c->latency_threshold >= 0.0 && c->latency_threshold < 1.0))
        return mx_fail(MX_EINVAL, "surrogate.latency_threshold: expected in [0, 1), got %g",
                       c->latency_threshold);
    if (c->output != MX_SURROGATE_MEMBRANE_SUM && c->output != MX_SURROGATE_MAX_MEMBRANE)
        return mx_fail(MX_EINVAL, "surrogate.output: expected membrane-sum or max-membrane, "
                                  "got %d", (int)c->output);
    if (!(isfinite(c->init_gain) && c->init_gain > 0.0))
        return mx_fail(MX_EINVAL, "surrogate.init_gain: expected > 0, got %g", c->init_gain);
    if (c->epochs < 1)
        return mx_fail(MX_EINVAL, "surrogate.epochs: expected >= 1, got %zu", c->epochs);
    if (c->batch_size < 1 || c->batch_size > 65536)
        return mx_fail(MX_EINVAL, "surrogate.batch_size: expected 1..65536, got %zu",
                       c->batch_size);
    if (!(isfinite(c->learning_rate) && c->learning_rate > 0.0))
        return mx_fail(MX_EINVAL, "surrogate.learning_rate: expected > 0, got %g",
                       c->learning_rate);
    if (!(c->adam_beta1 >= 0.0 && c->adam_beta1 < 1.0))
        return mx_fail(MX_EINVAL, "surrogate.adam_beta1: expected in [0, 1), got %g",
                       c->adam_beta1);
    if (!(c->adam_beta2 >= 0.0 && c->adam_beta2 < 1.0))
        return mx_fail(MX_EINVAL, "surrogate.adam_beta2: expected in [0, 1), got %g",
                       c->adam_beta2);
    if ((unsigned)c->training > MX_SURROGATE_HARDWARE_AWARE)
        return mx_fail(MX_EINVAL, "surrogate.training: expected plain, weight-noise or "
                                  "hardware-aware, got %d", (int)c->training);
    if (!isfinite(c->noise_sigma))
        return mx_fail(MX_EINVAL, "surrogate.noise_sigma: expected a number, got %g",
                       c->noise_sigma);
    if (c->n_conv > MX_SURROGATE_MAX_CONV)
        return mx_fail(MX_EINVAL, "surrogate.conv_channels: expected at most %d blocks, got %zu",
                       MX_SURROGATE_MAX_CONV, c->n_conv);
    for (size_t j = 0; j < c->n_conv; j++)
        if (c->conv_channels[j] < 1 || c->conv_channels[j] > 65536)
            return mx_fail(MX_EINVAL, "surrogate.conv_channels[%zu]: expected 1..65536, got %zu",
                           j, c->conv_channels[j]);
    if (c->conv_kernel < 1 || c->conv_kernel > 64)
        return mx_fail(MX_EINVAL, "surrogate.conv_kernel: expected 1..64, got %zu",
                       c->conv_kernel);
    if (c->conv_padding >= c->conv_kernel)
        return mx_fail(MX_EINVAL, "surrogate.conv_padding: expected less than "
                                  "surrogate.conv_kernel (%zu), got %zu", c->conv_kernel,
                       c->conv_padding);
    if (c->pool != MX_POOL_AVG && c->pool != MX_POOL_MAX)
        return mx_fail(MX_EINVAL, "surrogate.pool: expected avg or max, got %d", (int)c->pool);
    if (c->n_conv > 0 && c->training != MX_SURROGATE_PLAIN)
        return mx_fail(MX_EINVAL, "surrogate.training: conv blocks (surrogate.conv_channels) "
                                  "train plain only, got weight-noise or hardware-aware");
    return MX_OK;
}

double mx_surrogate_slope(const mx_surrogate_config *c)
{
    if (c->slope > 0.0)
        return c->slope;
    return c->surrogate == MX_SURROGATE_ARCTAN ? ARCTAN_DEFAULT_SLOPE
                                               : FAST_SIGMOID_DEFAULT_SLOPE;
}

double mx_surrogate_derivative(mx_surrogate_fn fn, double slope, double u)
{
    if (fn == MX_SURROGATE_FAST_SIGMOID) {
        double d = 1.0 + slope * fabs(u);
        return 1.0 / (d * d);
    }
    double a = M_PI / 2.0 * slope * u;
    return slope / 2.0 / (1.0 + a * a);
}

/* ------------------------------------------------------------ encoders */

mx_status mx_surrogate_shape(const mx_surrogate_config *c, size_t dim, size_t frames,
                             size_t *steps, size_t *n_in)
{
    if (c->encoding == MX_SURROGATE_EVENTS) {
        if (frames == 0 || dim % frames != 0)
            return mx_fail(MX_EINVAL, "surrogate.encoding: events needs a dataset of frames "
                                      "(got %zu frames of %zu values)", frames, dim);
        *steps = frames;
        *n_in = dim / frames;
        return MX_OK;
    }
    if (frames != 0)
        return mx_fail(MX_EINVAL, "surrogate.encoding: the dataset is a sequence of %zu frames; "
                                  "expected events", frames);
    *steps = c->timesteps;
    *n_in = dim;
    return MX_OK;
}

long mx_surrogate_latency_step(double x, double tau_steps, double threshold, size_t steps)
{
    /* SpyTorch tutorial 2, current2firing_time: T = τ_eff·ln(x/(x − θ)) for
     * x > θ, truncated to an integer step (np.int); x ≤ θ never fires. */
    if (!(x > threshold))
        return -1;
    double t = tau_steps * log(x / (x - threshold));
    if (!(t < (double)steps))
        return -1;
    return (long)floor(t);
}

/* Encode one example with step t's row at s + t·stride. */
static void encode_rows(const mx_surrogate_config *c, const float *x, size_t dim,
                        size_t frames, size_t steps, uint64_t seed, uint64_t item, float *s,
                        size_t stride)
{
    const size_t n_in = c->encoding == MX_SURROGATE_EVENTS ? dim / frames : dim;
    switch (c->encoding) {
    case MX_SURROGATE_CURRENT:
        for (size_t t = 0; t < steps; t++)
            memcpy(s + t * stride, x, n_in * sizeof(float));
        break;
    case MX_SURROGATE_RATE: {
        mx_rng r;
        mx_rng_init_named(&r, seed, "surrogate.encode", item);
        for (size_t t = 0; t < steps; t++)
            for (size_t j = 0; j < n_in; j++)
                s[t * stride + j] = (float)mx_rng_bernoulli(&r, (double)x[j]);
        break;
    }
    case MX_SURROGATE_LATENCY:
        for (size_t t = 0; t < steps; t++)
            memset(s + t * stride, 0, n_in * sizeof(float));
        for (size_t j = 0; j < n_in; j++) {
            long t = mx_surrogate_latency_step((double)x[j], c->latency_tau_steps,
                                               c->latency_threshold, steps);
            if (t >= 0)
                s[(size_t)t * stride + j] = 1.0f;
        }
        break;
    case MX_SURROGATE_EVENTS:
        for (size_t t = 0; t < steps; t++)
            for (size_t j = 0; j < n_in; j++)
                s[t * stride + j] = x[t * n_in + j] > 0.0f ? 1.0f : 0.0f;
        break;
    }
}

void mx_surrogate_encode(const mx_surrogate_config *c, const float *x, size_t dim,
                         size_t frames, uint64_t seed, uint64_t item, float *s)
{
    size_t steps, n_in;
    mx_status st = mx_surrogate_shape(c, dim, frames, &steps, &n_in);
    assert(st == MX_OK);
    (void)st;
    encode_rows(c, x, dim, frames, steps, seed, item, s, n_in);
}

/* ------------------------------------------------------------ neurons */

void mx_surrogate_neuron_step(const mx_surrogate_config *c, int spiking, size_t n,
                              const float *z, float *syn, float *v, float *s)
{
    const float alpha = (float)c->alpha, beta = (float)c->beta;
    const float theta = (float)MX_SURROGATE_THRESHOLD;
    const int zero = c->reset == MX_SURROGATE_RESET_ZERO;
    for (size_t k = 0; k < n; k++) {
        float cur = alpha * syn[k] + z[k];
        syn[k] = cur;
        float vk;
        if (!spiking)
            vk = beta * v[k] + cur;
        else if (zero)
            vk = (beta * v[k] + cur) * (1.0f - s[k]);
        else
            vk = beta * v[k] + cur - theta * s[k];
        v[k] = vk;
        s[k] = spiking && vk > theta ? 1.0f : 0.0f;
    }
}

int mx_surrogate_decide(const mx_surrogate_config *c, const float *counts, const float *v,
                        const float *vmax, size_t classes)
{
    size_t best = 0; /* remaining ties go to the lowest class */
    if (c->output == MX_SURROGATE_MAX_MEMBRANE) {
        for (size_t k = 1; k < classes; k++)
            best = vmax[k] > vmax[best] ? k : best;
        return (int)best;
    }
    for (size_t k = 1; k < classes; k++)
        if (counts[k] > counts[best] || (counts[k] == counts[best] && v[k] > v[best]))
            best = k;
    return (int)best;
}

/* ------------------------------------------------------------ network */

mx_status mx_surrogate_create(const mx_surrogate_config *c, size_t n_in, size_t classes,
                              uint64_t seed, mx_mlp **out)
{
    size_t sizes[MX_MLP_MAX_LAYERS + 1];
    size_t L = c->n_hidden + 1;
    sizes[0] = n_in;
    for (size_t l = 0; l < c->n_hidden; l++)
        sizes[l + 1] = c->hidden[l];
    sizes[L] = classes;
    mx_status st = mx_mlp_create(sizes, L, seed, out);
    if (st)
        return st;
    /* PyTorch nn.Linear's default (kaiming_uniform with a = √5):
     * U(−1/√fan_in, 1/√fan_in), times init_gain. One item per layer. */
    for (size_t l = 0; l < L; l++) {
        mx_rng r;
        mx_rng_init_named(&r, seed, "surrogate.init", l);
        const double a = c->init_gain / sqrt((double)sizes[l]);
        const size_t nw = sizes[l + 1] * sizes[l];
        for (size_t i = 0; i < nw; i++)
            (*out)->w[l][i] = (float)(a * (2.0 * mx_rng_uniform(&r) - 1.0));
    }
    return MX_OK;
}

/* ------------------------------------------------------------ conv blocks */

void mx_surrogate_conv_destroy(mx_surrogate_conv *cv)
{
    if (!cv)
        return;
    for (size_t j = 0; j < MX_SURROGATE_MAX_CONV; j++)
        mx_free(cv->w[j]);
    mx_free(cv);
}

mx_status mx_surrogate_conv_create(const mx_surrogate_config *c, size_t channels,
                                   size_t height, size_t width, uint64_t seed,
                                   mx_surrogate_conv **out)
{
    *out = NULL;
    if (c->n_conv > MX_SURROGATE_MAX_CONV)
        return mx_fail(MX_EINVAL, "surrogate.conv_channels: expected at most %d blocks, got %zu",
                       MX_SURROGATE_MAX_CONV, c->n_conv);
    mx_surrogate_conv *cv = mx_calloc(1, sizeof *cv);
    if (!cv)
        return mx_fail(MX_ENOMEM, "surrogate conv blocks: out of memory");
    cv->n_conv = c->n_conv;
    cv->pool = c->pool;
    cv->n_in = channels * height * width;
    size_t ch = channels, h = height, w = width;
    mx_status st = MX_OK;
    for (size_t j = 0; j < c->n_conv && !st; j++) {
        mx_conv_geom *g = &cv->geom[j];
        st = mx_conv_geom_init(g, ch, h, w, c->conv_kernel, 1, c->conv_padding);
        if (!st)
            st = mx_pool_geom_init(&cv->pgeom[j], c->conv_channels[j], g->out_height,
                                   g->out_width, 2, 2);
        if (st) {
            mx_clear_error();
            st = mx_fail(MX_EINVAL, "surrogate.conv_channels: block %zu gets a %zux%zu map, too "
                                    "small for a %zux%zu kernel (surrogate.conv_kernel, "
                                    "conv_padding) and 2x2 pooling", j, h, w, c->conv_kernel,
                         c->conv_kernel);
            break;
        }
        cv->c_out[j] = c->conv_channels[j];
        const size_t K = mx_conv_patch_size(g), nw = cv->c_out[j] * K;
        if (!(cv->w[j] = mx_alloc(nw * sizeof(float)))) {
            st = mx_fail(MX_ENOMEM, "surrogate conv blocks: out of memory");
            break;
        }
        /* PyTorch nn.Conv2d's default: U(±1/√fan_in), fan_in = C_in·k·k. */
        mx_rng r;
        mx_rng_init_named(&r, seed, "surrogate.conv_init", j);
        const double a = c->init_gain / sqrt((double)K);
        for (size_t i = 0; i < nw; i++)
            cv->w[j][i] = (float)(a * (2.0 * mx_rng_uniform(&r) - 1.0));
        ch = cv->c_out[j];
        h = cv->pgeom[j].out_height;
        w = cv->pgeom[j].out_width;
    }
    cv->n_out = ch * h * w;
    if (st) {
        mx_surrogate_conv_destroy(cv);
        return st;
    }
    *out = cv;
    return MX_OK;
}

/* ------------------------------------------------------------ trainer */

struct mx_surrogate_trainer {
    mx_surrogate_config cfg;
    size_t L, T, bmax;
    size_t sizes[MX_MLP_MAX_LAYERS + 1];
    float *z[MX_MLP_MAX_LAYERS];   /* (T·B, n): W·in, then ∂L/∂(W·in) */
    float *v[MX_MLP_MAX_LAYERS];   /* (T·B, n) membranes */
    float *s[MX_MLP_MAX_LAYERS];   /* (T·B, n) spikes */
    float *ds;                     /* (T·B, max hidden): ∂L/∂S of the layer below */
    float *dz_sum;                 /* (B, n_1): Σ_t ∂L/∂z of a constant input */
    float *dv_out;                 /* (T·B, classes): ∂L/∂v_out from the loss */
    float *carry;                  /* (B, 2·nmax): backward carries of v and syn */
    /* sparse layer-0 input (sparse_forward): row offsets (T·B + 1), the
     * non-zero inputs' indices and values (sp_cap), Wᵀ / Gᵀ (n_in, n_1) */
    size_t *sp_off, sp_cap;
    uint32_t *sp_idx;
    float *sp_val, *wt;
    int sp_used;
    size_t nmax;                   /* widest layer */
    double *row_loss;              /* (B) */
    int *pred;                     /* (B) */
    float *grad[MX_MLP_MAX_LAYERS];
    float *m[MX_MLP_MAX_LAYERS], *u[MX_MLP_MAX_LAYERS]; /* Adam moments */
    uint64_t adam_t;
    /* conv blocks (NULL / 0 without): per block j, rows R = T·B (B for a
     * constant input's block 0), P positions, K patch, n = C_out·P */
    mx_surrogate_conv *cv;
    float *ccols[MX_SURROGATE_MAX_CONV]; /* (R·P, K) patches; backward: ∂L/∂patches */
    float *czt[MX_SURROGATE_MAX_CONV];   /* (R·P, C_out) conv output, channel last; ∂L/∂z */
    float *cz[MX_SURROGATE_MAX_CONV], *cvm[MX_SURROGATE_MAX_CONV],
        *csp[MX_SURROGATE_MAX_CONV];     /* (T·B, n) currents, membranes, spikes */
    float *cpool[MX_SURROGATE_MAX_CONV]; /* (T·B, pooled) the next layer's input */
    size_t *cargmax[MX_SURROGATE_MAX_CONV]; /* (T·B, pooled) max pooling */
    float *cds;                          /* (T·B, largest n): ∂L/∂S of a block */
    float *cdp;                          /* (T·B, largest pooled): ∂L/∂pooled */
    float *cgrad[MX_SURROGATE_MAX_CONV], *cm[MX_SURROGATE_MAX_CONV], *cu[MX_SURROGATE_MAX_CONV];
};

void mx_surrogate_trainer_destroy(mx_surrogate_trainer *tr)
{
    if (!tr)
        return;
    for (size_t l = 0; l < MX_MLP_MAX_LAYERS; l++) {
        mx_free(tr->z[l]);
        mx_free(tr->v[l]);
        mx_free(tr->s[l]);
        mx_free(tr->grad[l]);
        mx_free(tr->m[l]);
        mx_free(tr->u[l]);
    }
    mx_free(tr->ds);
    mx_free(tr->dz_sum);
    mx_free(tr->dv_out);
    mx_free(tr->row_loss);
    mx_free(tr->carry);
    mx_free(tr->sp_off);
    mx_free(tr->sp_idx);
    mx_free(tr->sp_val);
    mx_free(tr->wt);
    mx_free(tr->pred);
    for (size_t j = 0; j < MX_SURROGATE_MAX_CONV; j++) {
        mx_free(tr->ccols[j]);
        mx_free(tr->czt[j]);
        mx_free(tr->cz[j]);
        mx_free(tr->cvm[j]);
        mx_free(tr->csp[j]);
        mx_free(tr->cpool[j]);
        mx_free(tr->cargmax[j]);
        mx_free(tr->cgrad[j]);
        mx_free(tr->cm[j]);
        mx_free(tr->cu[j]);
    }
    mx_free(tr->cds);
    mx_free(tr->cdp);
    mx_free(tr);
}

const float *mx_surrogate_trainer_conv_grad(const mx_surrogate_trainer *tr, size_t j)
{
    return tr->cv && j < tr->cv->n_conv ? tr->cgrad[j] : NULL;
}

mx_status mx_surrogate_trainer_create(const mx_mlp *net, const mx_surrogate_config *c,
                                      size_t steps, size_t batch_max,
                                      mx_surrogate_trainer **out)
{
    return mx_surrogate_trainer_create_conv(NULL, net, c, steps, batch_max, out);
}

mx_status mx_surrogate_trainer_create_conv(mx_surrogate_conv *cv, const mx_mlp *net,
                                           const mx_surrogate_config *c, size_t steps,
                                           size_t batch_max, mx_surrogate_trainer **out)
{
    assert(net && c && out);
    *out = NULL;
    if (steps < 1 || batch_max < 1)
        return mx_fail(MX_EINVAL, "surrogate trainer: expected steps and batch >= 1");
    if (cv && cv->n_conv && cv->n_out != net->sizes[0])
        return mx_fail(MX_EMISMATCH, "surrogate trainer: the conv blocks give %zu inputs, the "
                                     "dense network takes %zu", cv->n_out, net->sizes[0]);
    const size_t rows = mx_size_mul(steps, batch_max);
    if (rows == 0 || rows > INT_MAX)
        return mx_fail(MX_EINVAL, "surrogate trainer: %zu steps x %zu examples is too many rows",
                       steps, batch_max);
    mx_surrogate_trainer *tr = mx_calloc(1, sizeof *tr);
    if (!tr)
        return mx_fail(MX_ENOMEM, "surrogate trainer: out of memory");
    tr->cfg = *c;
    tr->L = net->n_layers;
    tr->T = steps;
    tr->bmax = batch_max;
    memcpy(tr->sizes, net->sizes, (net->n_layers + 1) * sizeof net->sizes[0]);
    size_t max_hidden = 1;
    int ok = 1;
    for (size_t l = 0; l < tr->L && ok; l++) {
        const size_t n = tr->sizes[l + 1], nw = n * tr->sizes[l];
        const size_t bytes = mx_size_mul(rows, n) * sizeof(float);
        if (l + 1 < tr->L && n > max_hidden)
            max_hidden = n;
        if (n > tr->nmax)
            tr->nmax = n;
        tr->z[l] = mx_alloc(bytes);
        tr->v[l] = mx_alloc(bytes);
        tr->s[l] = mx_alloc(bytes);
        tr->grad[l] = mx_alloc(nw * sizeof(float));
        tr->m[l] = mx_calloc(nw, sizeof(float));
        tr->u[l] = mx_calloc(nw, sizeof(float));
        ok = tr->z[l] && tr->v[l] && tr->s[l] && tr->grad[l] && tr->m[l] && tr->u[l];
    }
    const size_t classes = tr->sizes[tr->L];
    tr->ds = mx_alloc(mx_size_mul(rows, max_hidden) * sizeof(float));
    tr->dz_sum = mx_alloc(batch_max * tr->sizes[1] * sizeof(float));
    tr->dv_out = mx_alloc(rows * classes * sizeof(float));
    tr->row_loss = mx_alloc(batch_max * sizeof(double));
    tr->pred = mx_alloc(batch_max * sizeof(int));
    tr->carry = mx_alloc(mx_size_mul(2 * batch_max, tr->nmax) * sizeof(float));
    if (cv && cv->n_conv) {
        tr->cv = cv;
        size_t most_n = 0, most_p = 0;
        for (size_t j = 0; j < cv->n_conv && ok; j++) {
            const size_t P = mx_conv_positions(&cv->geom[j]), K = mx_conv_patch_size(&cv->geom[j]);
            const size_t n = cv->c_out[j] * P, np = mx_pool_output_size(&cv->pgeom[j]);
            const size_t rp = mx_size_mul(rows, P), nw = cv->c_out[j] * K;
            if (rp > INT_MAX || mx_size_mul(rows, n) > INT_MAX) {
                mx_surrogate_trainer_destroy(tr);
                return mx_fail(MX_EINVAL, "surrogate trainer: conv block %zu has too many rows "
                                          "(lower surrogate.batch_size)", j);
            }
            most_n = n > most_n ? n : most_n;
            most_p = np > most_p ? np : most_p;
            tr->nmax = n > tr->nmax ? n : tr->nmax;
            tr->ccols[j] = mx_alloc(mx_size_mul(rp, K) * sizeof(float));
            tr->czt[j] = mx_alloc(mx_size_mul(rp, cv->c_out[j]) * sizeof(float));
            tr->cz[j] = mx_alloc(mx_size_mul(rows, n) * sizeof(float));
            tr->cvm[j] = mx_alloc(mx_size_mul(rows, n) * sizeof(float));
            tr->csp[j] = mx_alloc(mx_size_mul(rows, n) * sizeof(float));
            tr->cpool[j] = mx_alloc(mx_size_mul(rows, np) * sizeof(float));
            tr->cargmax[j] = mx_alloc(mx_size_mul(rows, np) * sizeof(size_t));
            tr->cgrad[j] = mx_alloc(nw * sizeof(float));
            tr->cm[j] = mx_calloc(nw, sizeof(float));
            tr->cu[j] = mx_calloc(nw, sizeof(float));
            ok = tr->ccols[j] && tr->czt[j] && tr->cz[j] && tr->cvm[j] && tr->csp[j] &&
                 tr->cpool[j] && tr->cargmax[j] && tr->cgrad[j] && tr->cm[j] && tr->cu[j];
        }
        tr->cds = mx_alloc(mx_size_mul(rows, most_n) * sizeof(float));
        tr->cdp = mx_alloc(mx_size_mul(rows, most_p) * sizeof(float));
        mx_free(tr->carry);
        tr->carry = mx_alloc(mx_size_mul(2 * batch_max, tr->nmax) * sizeof(float));
        ok = ok && tr->cds && tr->cdp;
    }
    if (c->encoding != MX_SURROGATE_CURRENT || tr->cv) {
        /* worth it below one input in SPARSE_MAX_FRACTION⁻¹ */
        tr->sp_cap = rows * tr->sizes[0] / SPARSE_MAX_FRACTION;
        tr->sp_off = mx_alloc((rows + 1) * sizeof(size_t));
        tr->sp_idx = mx_alloc((tr->sp_cap ? tr->sp_cap : 1) * sizeof(uint32_t));
        tr->sp_val = mx_alloc((tr->sp_cap ? tr->sp_cap : 1) * sizeof(float));
        tr->wt = mx_alloc(tr->sizes[0] * tr->sizes[1] * sizeof(float));
        ok = ok && tr->sp_off && tr->sp_idx && tr->sp_val && tr->wt;
    }
    if (!ok || !tr->carry || !tr->ds || !tr->dz_sum || !tr->dv_out || !tr->row_loss || !tr->pred) {
        mx_surrogate_trainer_destroy(tr);
        return mx_fail(MX_ENOMEM, "surrogate trainer: out of memory for %zu x %zu rows", steps,
                       batch_max);
    }
    *out = tr;
    return MX_OK;
}

/* 1/2 + the primitive of the surrogate derivative (relaxed_forward). */
static double relaxed_spike(mx_surrogate_fn fn, double slope, double u)
{
    if (fn == MX_SURROGATE_FAST_SIGMOID)
        return 0.5 + u / (1.0 + slope * fabs(u));
    return 0.5 + atan(M_PI / 2.0 * slope * u) / M_PI;
}

/* The neuron recursion of layer l over all steps, after z[l] holds W·in:
 * rows (T·B, n), or with `constant` (B, n) — the same current at every step,
 * copied out to every step's row first. z becomes the synaptic current. */
static void lif_dynamics(const mx_surrogate_config *c, int spiking, size_t n, size_t T,
                         size_t B, int constant, float *z, float *v, float *s)
{
    const float alpha = (float)c->alpha, beta = (float)c->beta;
    const float theta = (float)MX_SURROGATE_THRESHOLD;
    const int zero = c->reset == MX_SURROGATE_RESET_ZERO;
    const int relaxed = c->relaxed_forward;
    const double slope = mx_surrogate_slope(c);
    if (constant) /* row b of step 0 is already in place */
        for (size_t t = 1; t < T; t++)
            memcpy(z + t * B * n, z, B * n * sizeof(float));
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < B; b++) {
        /* The arithmetic of mx_surrogate_neuron_step, on the stored rows. */
        for (size_t t = 0; t < T; t++) {
            float *zt = z + (t * B + b) * n;
            float *vt = v + (t * B + b) * n, *st = s + (t * B + b) * n;
            const float *zp = t ? z + ((t - 1) * B + b) * n : NULL;
            const float *vp = t ? v + ((t - 1) * B + b) * n : NULL;
            const float *sp = t ? s + ((t - 1) * B + b) * n : NULL;
            for (size_t k = 0; k < n; k++) {
                float cur = zp && alpha != 0.0f ? alpha * zp[k] + zt[k] : zt[k];
                zt[k] = cur;
                float vprev = vp ? vp[k] : 0.0f, sprev = sp ? sp[k] : 0.0f;
                if (relaxed && vp) /* the reset stays the hard spike */
                    sprev = vprev > theta ? 1.0f : 0.0f;
                float vk;
                if (!spiking)
                    vk = beta * vprev + cur;
                else if (zero)
                    vk = (beta * vprev + cur) * (1.0f - sprev);
                else
                    vk = beta * vprev + cur - theta * sprev;
                vt[k] = vk;
                if (relaxed && spiking)
                    st[k] = (float)relaxed_spike(c->surrogate, slope, (double)(vk - theta));
                else
                    st[k] = spiking && vk > theta ? 1.0f : 0.0f;
            }
        }
    }
}

static void layer_dynamics(mx_surrogate_trainer *tr, size_t l, size_t B, int constant)
{
    const int spiking = l + 1 < tr->L || tr->cfg.output == MX_SURROGATE_MEMBRANE_SUM;
    lif_dynamics(&tr->cfg, spiking, tr->sizes[l + 1], tr->T, B, constant, tr->z[l], tr->v[l],
                 tr->s[l]);
}

/* C (m, n) = A (m, k) · Bᵀ with B (n, k): rows times a weight matrix. */
static void gemm_nt(size_t m, size_t n, size_t k, const float *a, const float *b, float *c)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k, 1.0f, a,
                (int)k, b, (int)k, 0.0f, c, (int)n);
}

/* Forward pass of a minibatch (see mx_surrogate_loss_grad for in/constant). */
/* Layer 0 on a sparse input (rate, latency and event spikes: a latency
 * image has at most one spike per pixel in T steps): list the non-zero
 * inputs of every row, and if they are few, z = Σ_j x_j·W[:, j] over the
 * list against Wᵀ — O(spikes·n) instead of O(rows·n_in·n). Returns 1 if the
 * sparse form was used. Rows are summed in index order: deterministic. */
static int sparse_forward(mx_surrogate_trainer *tr, const float *x, size_t rows,
                          const float *w)
{
    const size_t n_in = tr->sizes[0], n = tr->sizes[1];
    if (!tr->sp_idx)
        return 0;
    size_t nnz = 0;
    tr->sp_off[0] = 0;
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * n_in;
        for (size_t j = 0; j < n_in; j++)
            if (xr[j] != 0.0f) {
                if (nnz == tr->sp_cap)
                    return 0;
                tr->sp_idx[nnz] = (uint32_t)j;
                tr->sp_val[nnz++] = xr[j];
            }
        tr->sp_off[r + 1] = nnz;
    }
    for (size_t o = 0; o < n; o++) /* Wᵀ: (n_in, n) */
        for (size_t j = 0; j < n_in; j++)
            tr->wt[j * n + o] = w[o * n_in + j];
    float *z = tr->z[0];
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < rows; r++) {
        float *zr = z + r * n;
        for (size_t o = 0; o < n; o++)
            zr[o] = 0.0f;
        for (size_t q = tr->sp_off[r]; q < tr->sp_off[r + 1]; q++) {
            const float *wj = tr->wt + (size_t)tr->sp_idx[q] * n, a = tr->sp_val[q];
            for (size_t o = 0; o < n; o++)
                zr[o] += a * wj[o];
        }
    }
    return 1;
}

/* ∂L/∂W of layer 0 from the sparse list: Gᵀ[j] += x_j·∂L/∂z[r], rows in
 * order, then transposed into g (n, n_in). */
static void sparse_weight_grad(mx_surrogate_trainer *tr, size_t rows, float *g)
{
    const size_t n_in = tr->sizes[0], n = tr->sizes[1];
    float *gt = tr->wt;
    memset(gt, 0, n_in * n * sizeof(float));
    const float *dz = tr->z[0];
    for (size_t r = 0; r < rows; r++)
        for (size_t q = tr->sp_off[r]; q < tr->sp_off[r + 1]; q++) {
            float *gj = gt + (size_t)tr->sp_idx[q] * n;
            const float a = tr->sp_val[q], *dr = dz + r * n;
            for (size_t o = 0; o < n; o++)
                gj[o] += a * dr[o];
        }
    for (size_t o = 0; o < n; o++)
        for (size_t j = 0; j < n_in; j++)
            g[o * n_in + j] = gt[j * n + o];
}

/* Forward pass of a minibatch (see mx_surrogate_loss_grad for in/constant). */
static mx_status forward(const mx_mlp *net, mx_surrogate_trainer *tr, const float *in,
                         int constant, size_t B, float *const *w_fwd, mx_surrogate_layer_fwd hw,
                         void *hw_user, uint64_t hw_item0)
{
    const size_t T = tr->T;
    tr->sp_used = 0;
    for (size_t l = 0; l < tr->L; l++) {
        const size_t n_in = tr->sizes[l], n = tr->sizes[l + 1];
        const int cst = constant && l == 0;
        const float *x = l == 0 ? in : tr->s[l - 1];
        const size_t rows = cst ? B : T * B;
        const float *w = w_fwd ? w_fwd[l] : net->w[l];
        if (hw) {
            mx_status st = hw(hw_user, l, x, rows, hw_item0, tr->z[l]);
            if (st)
                return st;
        } else if (!(l == 0 && !cst && (tr->sp_used = sparse_forward(tr, x, rows, w)))) {
            gemm_nt(rows, n, n_in, x, w, tr->z[l]);
        }
        layer_dynamics(tr, l, B, cst);
    }
    return MX_OK;
}

static void lif_backward(const mx_surrogate_config *c, int spiking, size_t n, size_t T,
                         size_t B, const float *v, const float *s, const float *ds,
                         const float *dv, float *dz, float *carry, size_t cstride);

/* Forward of the conv blocks on images `in` ((T·B, n_in), or (B, n_in) with
 * `constant`): leaves the dense input in cpool[J − 1] (T·B, cv->n_out). */
static void conv_forward(mx_surrogate_trainer *tr, const float *in, int constant, size_t B)
{
    const mx_surrogate_conv *cv = tr->cv;
    const size_t T = tr->T;
    const float *x = in;
    for (size_t j = 0; j < cv->n_conv; j++) {
        const mx_conv_geom *g = &cv->geom[j];
        const size_t P = mx_conv_positions(g), K = mx_conv_patch_size(g);
        const size_t ni = mx_conv_input_size(g), co = cv->c_out[j], n = co * P;
        const int cst = constant && j == 0;
        const size_t R = cst ? B : T * B;
        float *cols = tr->ccols[j], *zt = tr->czt[j], *z = tr->cz[j];
#pragma omp parallel for schedule(static)
        for (size_t r = 0; r < R; r++)
            mx_im2col(g, x + r * ni, cols + r * P * K);
        gemm_nt(R * P, co, K, cols, cv->w[j], zt); /* (R·P, C_out) */
#pragma omp parallel for schedule(static)
        for (size_t r = 0; r < R; r++) /* to (C_out, P) per row */
            for (size_t p = 0; p < P; p++)
                for (size_t o = 0; o < co; o++)
                    z[r * n + o * P + p] = zt[(r * P + p) * co + o];
        lif_dynamics(&tr->cfg, 1, n, T, B, cst, z, tr->cvm[j], tr->csp[j]);
        const mx_pool_geom *pg = &cv->pgeom[j];
        const size_t np = mx_pool_output_size(pg);
        const float *sp = tr->csp[j];
        float *po = tr->cpool[j];
        size_t *am = tr->cargmax[j];
#pragma omp parallel for schedule(static)
        for (size_t r = 0; r < T * B; r++) {
            if (cv->pool == MX_POOL_MAX)
                mx_maxpool_forward(pg, sp + r * n, po + r * np, am + r * np);
            else
                mx_avgpool_forward(pg, sp + r * n, po + r * np);
        }
        x = po;
    }
}

/* Backward of the conv blocks from ∂L/∂(dense input) in cdp (T·B, n_out):
 * weight gradients into cgrad[j]. */
static void conv_backward(mx_surrogate_trainer *tr, const float *in, int constant, size_t B)
{
    const mx_surrogate_conv *cv = tr->cv;
    const size_t T = tr->T;
    for (size_t j = cv->n_conv; j-- > 0;) {
        const mx_conv_geom *g = &cv->geom[j];
        const mx_pool_geom *pg = &cv->pgeom[j];
        const size_t P = mx_conv_positions(g), K = mx_conv_patch_size(g);
        const size_t co = cv->c_out[j], n = co * P, np = mx_pool_output_size(pg);
        const int cst = constant && j == 0;
        const size_t R = cst ? B : T * B;
        float *ds = tr->cds, *dz = tr->cz[j], *dzt = tr->czt[j], *cols = tr->ccols[j];
        const float *dp = tr->cdp;
        const size_t *am = tr->cargmax[j];
#pragma omp parallel for schedule(static)
        for (size_t r = 0; r < T * B; r++) { /* pooling: ∂L/∂S of the block */
            if (cv->pool == MX_POOL_MAX)
                mx_maxpool_backward(pg, dp + r * np, am + r * np, ds + r * n);
            else
                mx_avgpool_backward(pg, dp + r * np, ds + r * n);
        }
        lif_backward(&tr->cfg, 1, n, T, B, tr->cvm[j], tr->csp[j], ds, NULL, dz, tr->carry,
                     tr->nmax);
        if (cst) /* Σ_t ∂L/∂z[t] in step order into step 0's rows */
            for (size_t t = 1; t < T; t++) {
                const float *zt = dz + t * B * n;
                for (size_t i = 0; i < B * n; i++)
                    dz[i] += zt[i];
            }
#pragma omp parallel for schedule(static)
        for (size_t r = 0; r < R; r++) /* to (R·P, C_out) */
            for (size_t p = 0; p < P; p++)
                for (size_t o = 0; o < co; o++)
                    dzt[(r * P + p) * co + o] = dz[r * n + o * P + p];
        /* dW (C_out, K) = Σ_rows dZᵀ·cols */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)co, (int)K, (int)(R * P), 1.0f,
                    dzt, (int)co, cols, (int)K, 0.0f, tr->cgrad[j], (int)K);
        if (j == 0)
            break;
        /* ∂L/∂patches = dZ·W, then col2im into ∂L/∂(pooled output of j − 1) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(R * P), (int)K, (int)co,
                    1.0f, dzt, (int)co, cv->w[j], (int)K, 0.0f, cols, (int)K);
        const size_t ni = mx_conv_input_size(g);
        float *dprev = tr->cdp;
#pragma omp parallel for schedule(static)
        for (size_t r = 0; r < R; r++) {
            memset(dprev + r * ni, 0, ni * sizeof(float));
            mx_col2im(g, cols + r * P * K, dprev + r * ni);
        }
    }
    (void)in;
}

/* Loss of the output layer and its gradient ∂L/∂v_out into dv_out (all rows),
 * per-example losses into row_loss and training predictions into pred. */
static void output_loss(mx_surrogate_trainer *tr, const uint8_t *labels, size_t B)
{
    const size_t T = tr->T, C = tr->sizes[tr->L];
    const float *v = tr->v[tr->L - 1], *s = tr->s[tr->L - 1];
    float *dv = tr->dv_out;
    const mx_surrogate_config *c = &tr->cfg;
    const double inv_b = 1.0 / (double)B;
    const int maxmem = c->output == MX_SURROGATE_MAX_MEMBRANE;
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < B; b++) {
        double loss = 0.0;
        float counts[256] = {0}, vmax[256] = {0};
        size_t tmax[256] = {0};
        const size_t y = labels[b];
        for (size_t k = 0; k < C; k++) {
            counts[k] = 0.0f;
            vmax[k] = -INFINITY;
            tmax[k] = 0;
        }
        for (size_t t = 0; t < T; t++) {
            const float *vt = v + (t * B + b) * C, *st = s + (t * B + b) * C;
            float *dt = dv + (t * B + b) * C;
            for (size_t k = 0; k < C; k++) {
                counts[k] += st[k];
                if (vt[k] > vmax[k]) {
                    vmax[k] = vt[k];
                    tmax[k] = t;
                }
                dt[k] = 0.0f;
            }
            if (maxmem)
                continue;
            /* CE of softmax(v[t]) summed over steps (snnTorch tutorial 5). */
            double mx = (double)vt[0], sum = 0.0;
            for (size_t k = 1; k < C; k++)
                mx = (double)vt[k] > mx ? (double)vt[k] : mx;
            for (size_t k = 0; k < C; k++)
                sum += exp((double)vt[k] - mx);
            loss += log(sum) + mx - (double)vt[y];
            for (size_t k = 0; k < C; k++)
                dt[k] = (float)((exp((double)vt[k] - mx) / sum - (k == y)) * inv_b);
        }
        if (maxmem) {
            double mx = (double)vmax[0], sum = 0.0;
            for (size_t k = 1; k < C; k++)
                mx = (double)vmax[k] > mx ? (double)vmax[k] : mx;
            for (size_t k = 0; k < C; k++)
                sum += exp((double)vmax[k] - mx);
            loss = log(sum) + mx - (double)vmax[y];
            for (size_t k = 0; k < C; k++)
                dv[(tmax[k] * B + b) * C + k] =
                    (float)((exp((double)vmax[k] - mx) / sum - (k == y)) * inv_b);
        }
        tr->row_loss[b] = loss;
        tr->pred[b] = mx_surrogate_decide(c, counts, v + ((T - 1) * B + b) * C, vmax, C);
    }
}

/* Backward through time of layer l: from ∂L/∂S (ds, hidden) or ∂L/∂v
 * (dv_out, output) to ∂L/∂z in z[l]. */
static void lif_backward(const mx_surrogate_config *c, int spiking, size_t n, size_t T,
                         size_t B, const float *v, const float *s, const float *ds,
                         const float *dv, float *dz, float *carry, size_t cstride)
{
    const double slope = mx_surrogate_slope(c);
    const float alpha = (float)c->alpha, beta = (float)c->beta;
    const float theta = (float)MX_SURROGATE_THRESHOLD;
    const int zero = spiking && c->reset == MX_SURROGATE_RESET_ZERO;
    const int relaxed = c->relaxed_forward;
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < B; b++) {
        /* Steps outermost, neurons innermost: rows are read in order. */
        float *cv = carry + 2 * b * cstride, *cs = cv + cstride;
        for (size_t k = 0; k < n; k++)
            cv[k] = cs[k] = 0.0f;
        for (size_t t = T; t-- > 0;) {
            const size_t r0 = (t * B + b) * n;
            for (size_t k = 0; k < n; k++) {
                const size_t r = r0 + k;
                float gv = cv[k];
                if (dv)
                    gv += dv[r];
                if (spiking && ds)
                    gv += (float)mx_surrogate_derivative(c->surrogate, slope,
                                                         (double)(v[r] - theta)) * ds[r];
                float m = 1.0f;
                if (zero && t)
                    m = relaxed ? (v[r - B * n] > theta ? 0.0f : 1.0f) : 1.0f - s[r - B * n];
                const float gsyn = m * gv + alpha * cs[k];
                dz[r] = gsyn;
                cs[k] = gsyn;
                cv[k] = beta * m * gv;
            }
        }
    }
}

static void layer_backward(mx_surrogate_trainer *tr, size_t l, size_t B)
{
    const int out = l + 1 == tr->L;
    const int spiking = !out || tr->cfg.output == MX_SURROGATE_MEMBRANE_SUM;
    lif_backward(&tr->cfg, spiking, tr->sizes[l + 1], tr->T, B, tr->v[l], tr->s[l],
                 out ? NULL : tr->ds, out ? tr->dv_out : NULL, tr->z[l], tr->carry, tr->nmax);
}

mx_status mx_surrogate_loss_grad(const mx_mlp *net, mx_surrogate_trainer *tr, const float *in,
                                 int constant, const uint8_t *labels, size_t batch,
                                 float *const *w_fwd, mx_surrogate_layer_fwd hw, void *hw_user,
                                 uint64_t hw_item0, float *const *grad, double *loss,
                                 size_t *correct)
{
    assert(net && tr && in && labels);
    if (batch < 1 || batch > tr->bmax)
        return mx_fail(MX_EINVAL, "surrogate: batch of %zu examples, expected 1..%zu", batch,
                       tr->bmax);
    if (tr->sizes[tr->L] > 256)
        return mx_fail(MX_EINVAL, "surrogate: at most 256 classes, got %zu", tr->sizes[tr->L]);
    const size_t T = tr->T, B = batch;
    const int blas_before = openblas_get_num_threads();
    openblas_set_num_threads(MX_MLP_BLAS_THREADS);
    const float *img = in;
    const int img_constant = constant;
    if (tr->cv) { /* the dense layers see the last block's pooled spikes */
        if (w_fwd || hw) {
            openblas_set_num_threads(blas_before);
            return mx_fail(MX_EINVAL, "surrogate.training: conv blocks train plain only");
        }
        conv_forward(tr, img, img_constant, B);
        in = tr->cpool[tr->cv->n_conv - 1];
        constant = 0;
    }
    mx_status st = forward(net, tr, in, constant, B, w_fwd, hw, hw_user, hw_item0);
    if (!st) {
        output_loss(tr, labels, B);
        double sum = 0.0;
        size_t ok = 0;
        for (size_t b = 0; b < B; b++) { /* fixed order */
            sum += tr->row_loss[b];
            ok += tr->pred[b] == (int)labels[b];
        }
        if (loss)
            *loss = sum / (double)B;
        if (correct)
            *correct = ok;
    }
    for (size_t l = tr->L; !st && l-- > 0;) {
        const size_t n_in = tr->sizes[l], n = tr->sizes[l + 1];
        const float *w = w_fwd ? w_fwd[l] : net->w[l];
        layer_backward(tr, l, B);
        float *g = grad ? grad[l] : tr->grad[l];
        if (constant && l == 0) {
            /* Σ_t ∂L/∂z[t] in step order, then one product with the input. */
            float *sum = tr->dz_sum;
            memcpy(sum, tr->z[0], B * n * sizeof(float));
            for (size_t t = 1; t < T; t++) {
                const float *zt = tr->z[0] + t * B * n;
                for (size_t i = 0; i < B * n; i++)
                    sum[i] += zt[i];
            }
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)n_in, (int)B,
                        1.0f, sum, (int)n, in, (int)n_in, 0.0f, g, (int)n_in);
        } else if (l == 0 && tr->sp_used) {
            sparse_weight_grad(tr, T * B, g);
        } else {
            const float *x = l == 0 ? in : tr->s[l - 1];
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)n_in,
                        (int)(T * B), 1.0f, tr->z[l], (int)n, x, (int)n_in, 0.0f, g,
                        (int)n_in);
        }
        if (l > 0 || tr->cv) /* ∂L/∂S of layer l − 1 (or the conv output) = ∂L/∂z · W */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(T * B), (int)n_in,
                        (int)n, 1.0f, tr->z[l], (int)n, w, (int)n_in, 0.0f,
                        l > 0 ? tr->ds : tr->cdp, (int)n_in);
        if (grad && grad[l] != tr->grad[l])
            memcpy(tr->grad[l], g, n * n_in * sizeof(float));
    }
    if (!st && tr->cv)
        conv_backward(tr, img, img_constant, B);
    openblas_set_num_threads(blas_before);
    return st;
}

void mx_surrogate_adam_step(mx_mlp *net, mx_surrogate_trainer *tr)
{
    const mx_surrogate_config *c = &tr->cfg;
    tr->adam_t++;
    const double b1 = c->adam_beta1, b2 = c->adam_beta2;
    const double c1 = 1.0 - pow(b1, (double)tr->adam_t), c2 = 1.0 - pow(b2, (double)tr->adam_t);
    const float lr = (float)(c->learning_rate / c1), sc2 = (float)(1.0 / sqrt(c2));
    const float fb1 = (float)b1, fb2 = (float)b2, eps = (float)ADAM_EPSILON;
    for (size_t l = 0; l < tr->L; l++) {
        const size_t nw = tr->sizes[l + 1] * tr->sizes[l];
        float *w = net->w[l], *g = tr->grad[l], *m = tr->m[l], *u = tr->u[l];
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < nw; i++) {
            m[i] = fb1 * m[i] + (1.0f - fb1) * g[i];
            u[i] = fb2 * u[i] + (1.0f - fb2) * g[i] * g[i];
            w[i] -= lr * m[i] / (sqrtf(u[i]) * sc2 + eps);
        }
    }
    for (size_t j = 0; tr->cv && j < tr->cv->n_conv; j++) {
        const size_t nw = tr->cv->c_out[j] * mx_conv_patch_size(&tr->cv->geom[j]);
        float *w = tr->cv->w[j], *g = tr->cgrad[j], *m = tr->cm[j], *u = tr->cu[j];
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < nw; i++) {
            m[i] = fb1 * m[i] + (1.0f - fb1) * g[i];
            u[i] = fb2 * u[i] + (1.0f - fb2) * g[i] * g[i];
            w[i] -= lr * m[i] / (sqrtf(u[i]) * sc2 + eps);
        }
    }
}

/* ------------------------------------------------------------ loops */

/* Encode examples idx[0..B) of x into the minibatch input `in`
 * (time-major, or (B, n_in) for a constant current). */
static void encode_batch(const mx_surrogate_config *c, const float *x, size_t dim,
                         size_t frames, size_t steps, size_t n_in, const size_t *idx,
                         size_t first, size_t B, uint64_t seed, uint64_t item_hi, float *in)
{
    if (c->encoding == MX_SURROGATE_CURRENT) {
        for (size_t b = 0; b < B; b++)
            memcpy(in + b * n_in, x + (idx ? idx[b] : first + b) * dim, n_in * sizeof(float));
        return;
    }
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < B; b++) {
        const size_t i = idx ? idx[b] : first + b;
        encode_rows(c, x + i * dim, dim, frames, steps, seed, item_hi + i, in + b * n_in,
                    B * n_in);
    }
}

mx_status mx_surrogate_train(mx_mlp *net, const mx_surrogate_config *c, const float *x,
                             const uint8_t *labels, size_t n, size_t dim, size_t frames,
                             uint64_t seed, const mx_surrogate_train_hooks *hooks,
                             const char *what, double *final_loss, double *train_acc)
{
    return mx_surrogate_train_conv(NULL, net, c, x, labels, n, dim, frames, seed, hooks, what,
                                   final_loss, train_acc);
}

mx_status mx_surrogate_train_conv(mx_surrogate_conv *cv, mx_mlp *net,
                                  const mx_surrogate_config *c, const float *x,
                                  const uint8_t *labels, size_t n, size_t dim, size_t frames,
                                  uint64_t seed, const mx_surrogate_train_hooks *hooks,
                                  const char *what, double *final_loss, double *train_acc)
{
    if (cv && cv->n_conv == 0)
        cv = NULL;
    size_t steps, n_in;
    mx_status st = mx_surrogate_shape(c, dim, frames, &steps, &n_in);
    if (st)
        return st;
    if (n == 0)
        return mx_fail(MX_EINVAL, "surrogate training: no examples");
    if (n_in != (cv ? cv->n_in : net->sizes[0]))
        return mx_fail(MX_EMISMATCH, "surrogate training: %zu inputs per step, the network "
                                     "has %zu", n_in, cv ? cv->n_in : net->sizes[0]);
    if (cv && hooks && (hooks->noise || hooks->hw))
        return mx_fail(MX_EINVAL, "surrogate.training: conv blocks train plain only");
    const size_t L = net->n_layers, B = c->batch_size < n ? c->batch_size : n;
    const int constant = c->encoding == MX_SURROGATE_CURRENT;
    mx_surrogate_trainer *tr = NULL;
    size_t *order = mx_alloc(n * sizeof(size_t));
    float *in = mx_alloc(mx_size_mul(mx_size_mul(constant ? 1 : steps, B), n_in) *
                         sizeof(float));
    uint8_t *by = mx_alloc(B);
    float *w_fwd[MX_MLP_MAX_LAYERS] = {0};
    float *scratch = NULL;
    const mx_noise_aware *noise = hooks ? hooks->noise : NULL;
    st = order && in && by ? MX_OK : mx_fail(MX_ENOMEM, "surrogate training: out of memory");
    if (!st)
        st = mx_surrogate_trainer_create_conv(cv, net, c, steps, B, &tr);
    if (!st && noise) {
        size_t most = 0;
        for (size_t l = 0; l < L && !st; l++) {
            const size_t nw = net->sizes[l + 1] * net->sizes[l];
            most = nw > most ? nw : most;
            if (!(w_fwd[l] = mx_alloc(nw * sizeof(float))))
                st = mx_fail(MX_ENOMEM, "surrogate training: out of memory");
        }
        if (!st && !(scratch = mx_alloc(2 * most * sizeof(float))))
            st = mx_fail(MX_ENOMEM, "surrogate training: out of memory");
    }
    const size_t n_batches = (n + B - 1) / B;
    const double t0 = mx_seconds_now();
    double epoch_loss = 0.0, epoch_acc = 0.0;
    for (size_t e = 0; e < c->epochs && !st; e++) {
        mx_rng r;
        mx_rng_init_named(&r, seed, "surrogate.shuffle", e);
        for (size_t i = 0; i < n; i++)
            order[i] = i;
        for (size_t i = n; i > 1; i--) { /* Fisher–Yates */
            size_t j = (size_t)(mx_rng_uniform(&r) * (double)i);
            j = j < i ? j : i - 1;
            size_t tmp = order[i - 1];
            order[i - 1] = order[j];
            order[j] = tmp;
        }
        double loss_sum = 0.0;
        size_t correct = 0;
        for (size_t k = 0; k < n_batches && !st; k++) {
            const size_t first = k * B, cnt = n - first < B ? n - first : B;
            const uint64_t step = (uint64_t)e * n_batches + k;
            encode_batch(c, x, dim, frames, steps, n_in, order + first, 0, cnt, seed,
                         (uint64_t)e << ENCODE_EPOCH_SHIFT, in);
            for (size_t b = 0; b < cnt; b++)
                by[b] = labels[order[first + b]];
            for (size_t l = 0; l < L && !st && noise; l++)
                st = mx_perturb_weights(net->w[l], net->sizes[l + 1], net->sizes[l], noise, seed,
                                        (step << NOISE_ITEM_STEP_SHIFT) |
                                            ((uint64_t)l << NOISE_ITEM_LAYER_SHIFT),
                                        w_fwd[l], scratch);
            if (!st && hooks && hooks->before_batch)
                st = hooks->before_batch(hooks->hw_user, net, step);
            double loss = 0.0;
            size_t ok = 0;
            if (!st)
                st = mx_surrogate_loss_grad(net, tr, in, constant, by, cnt,
                                            noise ? w_fwd : NULL, hooks ? hooks->hw : NULL,
                                            hooks ? hooks->hw_user : NULL, step << 32, NULL,
                                            &loss, &ok);
            if (!st)
                mx_surrogate_adam_step(net, tr);
            if (!st) {
                for (size_t l = 0; l < L; l++) {
                    const size_t nw = net->sizes[l + 1] * net->sizes[l];
                    for (size_t i = 0; i < nw; i++)
                        if (!isfinite(net->w[l][i])) {
                            st = mx_fail(MX_ENUMERIC, "surrogate training: weights diverged "
                                                      "(epoch %zu, batch %zu); lower "
                                                      "surrogate.learning_rate", e + 1, k + 1);
                            break;
                        }
                }
                for (size_t j = 0; !st && cv && j < cv->n_conv; j++) {
                    const size_t nw = cv->c_out[j] * mx_conv_patch_size(&cv->geom[j]);
                    for (size_t i = 0; i < nw; i++)
                        if (!isfinite(cv->w[j][i])) {
                            st = mx_fail(MX_ENUMERIC, "surrogate training: conv weights "
                                                      "diverged (epoch %zu, batch %zu); lower "
                                                      "surrogate.learning_rate", e + 1, k + 1);
                            break;
                        }
                }
            }
            loss_sum += loss * (double)cnt;
            correct += ok;
            mx_progress(what, e * n_batches + k + 1, c->epochs * n_batches);
        }
        epoch_loss = loss_sum / (double)n;
        epoch_acc = (double)correct / (double)n;
        if (!st) {
            const double el = mx_seconds_now() - t0;
            mx_log(MX_LOG_INFO, "%s: epoch %zu/%zu loss %.4f train accuracy %.2f %% "
                                "(%.0f s, ETA %.0f s)",
                   what ? what : "surrogate training", e + 1, c->epochs, epoch_loss,
                   100.0 * epoch_acc, el, el / (double)(e + 1) * (double)(c->epochs - e - 1));
        }
    }
    if (final_loss)
        *final_loss = epoch_loss;
    if (train_acc)
        *train_acc = epoch_acc;
    mx_surrogate_trainer_destroy(tr);
    for (size_t l = 0; l < L; l++)
        mx_free(w_fwd[l]);
    mx_free(scratch);
    mx_free(order);
    mx_free(in);
    mx_free(by);
    return st;
}

mx_status mx_surrogate_predict(const mx_mlp *net, const mx_surrogate_config *c, const float *x,
                               size_t n, size_t dim, size_t frames, uint64_t seed,
                               uint64_t item0, int *pred)
{
    return mx_surrogate_predict_conv(NULL, net, c, x, n, dim, frames, seed, item0, pred);
}

mx_status mx_surrogate_predict_conv(const mx_surrogate_conv *cv, const mx_mlp *net,
                                    const mx_surrogate_config *c, const float *x, size_t n,
                                    size_t dim, size_t frames, uint64_t seed, uint64_t item0,
                                    int *pred)
{
    if (cv && cv->n_conv == 0)
        cv = NULL;
    size_t steps, n_in;
    mx_status st = mx_surrogate_shape(c, dim, frames, &steps, &n_in);
    if (st)
        return st;
    if (n_in != (cv ? cv->n_in : net->sizes[0]))
        return mx_fail(MX_EMISMATCH, "surrogate inference: %zu inputs per step, the network "
                                     "has %zu", n_in, cv ? cv->n_in : net->sizes[0]);
    const size_t C = net->sizes[net->n_layers];
    if (C > 256)
        return mx_fail(MX_EINVAL, "surrogate: at most 256 classes, got %zu", C);
    const size_t chunk = cv ? PREDICT_CHUNK_CONV : PREDICT_CHUNK;
    const size_t B = n < chunk ? (n ? n : 1) : chunk;
    const int constant = c->encoding == MX_SURROGATE_CURRENT;
    mx_surrogate_trainer *tr = NULL;
    float *in = mx_alloc(mx_size_mul(mx_size_mul(constant ? 1 : steps, B), n_in) *
                         sizeof(float));
    st = in ? MX_OK : mx_fail(MX_ENOMEM, "surrogate inference: out of memory");
    if (!st)
        st = mx_surrogate_trainer_create_conv((mx_surrogate_conv *)cv, net, c, steps, B, &tr);
    const int blas_before = openblas_get_num_threads();
    openblas_set_num_threads(MX_MLP_BLAS_THREADS);
    for (size_t first = 0; first < n && !st; first += B) {
        const size_t cnt = n - first < B ? n - first : B;
        encode_batch(c, x, dim, frames, steps, n_in, NULL, first, cnt, seed, item0, in);
        if (cv) { /* the trainer only reads cv's weights here */
            conv_forward(tr, in, constant, cnt);
            st = forward(net, tr, tr->cpool[cv->n_conv - 1], 0, cnt, NULL, NULL, NULL, 0);
        } else {
            st = forward(net, tr, in, constant, cnt, NULL, NULL, NULL, 0);
        }
        const float *v = tr->v[net->n_layers - 1], *s = tr->s[net->n_layers - 1];
#pragma omp parallel for schedule(static)
        for (size_t b = 0; b < cnt; b++) {
            float counts[256], vmax[256];
            for (size_t k = 0; k < C; k++) {
                counts[k] = 0.0f;
                vmax[k] = -INFINITY;
            }
            for (size_t t = 0; t < steps; t++) {
                const float *vt = v + (t * cnt + b) * C, *stp = s + (t * cnt + b) * C;
                for (size_t k = 0; k < C; k++) {
                    counts[k] += stp[k];
                    vmax[k] = vt[k] > vmax[k] ? vt[k] : vmax[k];
                }
                pred[(first + b) * steps + t] = mx_surrogate_decide(c, counts, vt, vmax, C);
            }
        }
    }
    openblas_set_num_threads(blas_before);
    mx_surrogate_trainer_destroy(tr);
    mx_free(in);
    return st;
}
