/* SPDX-License-Identifier: MIT
 *
 * train.c: epochs of minibatch training with per-epoch shuffling, and the
 * device-model weight perturbation of noise-aware training (see train.h).
 */
#include "snn/train.h"

#include <assert.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "core/log.h"
#include "core/rng.h"

/* BLAS threads during training: MX_MLP_BLAS_THREADS (mlp.h says why). */
#define TRAIN_BLAS_THREADS MX_MLP_BLAS_THREADS

/* Items of stream "train.noise": (global minibatch << 24) | (layer << 20) | row. */
#define NOISE_ITEM_LAYER_SHIFT 20
#define NOISE_ITEM_STEP_SHIFT 24

mx_status mx_perturb_weights(const float *w, size_t n_out, size_t n_in,
                             const mx_noise_aware *noise, uint64_t seed, uint64_t item,
                             float *w_out, float *scratch)
{
    const mx_device_params *p = &noise->params;
    double w_abs_max = 0.0;
    for (size_t i = 0; i < n_out * n_in; i++) {
        double a = fabs((double)w[i]);
        if (a > w_abs_max)
            w_abs_max = a;
    }
    if (w_abs_max == 0.0) {
        memcpy(w_out, w, n_out * n_in * sizeof(float));
        return MX_OK;
    }
    const double spu = (p->g_max_s - p->g_min_s) / w_abs_max;
    const uint32_t stream = mx_stream_id("train.noise");
#pragma omp parallel for schedule(static)
    for (size_t o = 0; o < n_out; o++) {
        float *gp = scratch + 2 * o * n_in, *gn = gp + n_in;
        const float *row = w + o * n_in;
        for (size_t i = 0; i < n_in; i++) {
            double wv = (double)row[i];
            gp[i] = (float)(p->g_min_s + (wv > 0.0 ? wv * spu : 0.0));
            gn[i] = (float)(p->g_min_s + (wv < 0.0 ? -wv * spu : 0.0));
        }
        mx_rng rng;
        mx_rng_init(&rng, seed, stream, item + o);
        mx_device_program(noise->device, p, gp, gp, n_in, &rng);
        mx_device_program(noise->device, p, gn, gn, n_in, &rng);
        float *out = w_out + o * n_in;
        for (size_t i = 0; i < n_in; i++)
            out[i] = (float)(((double)gp[i] - (double)gn[i]) / spu);
    }
    return MX_OK;
}

/* Training accuracy in the epoch log line is measured on this many training
 * examples (a forward pass only; the weights are not touched). */
#define TRAIN_LOG_ACCURACY_EXAMPLES 5000

static void shuffle(size_t *order, size_t n, uint64_t seed, uint64_t item)
{
    mx_rng rng;
    mx_rng_init_named(&rng, seed, "train.shuffle", item);
    mx_rng_permutation(&rng, order, n);
}

/* ------------------------------------------------ hardware-aware training */

void mx_hardware_aware_default(mx_hardware_aware *h)
{
    mx_hwa_config_default(&h->hw);
    h->reprogram_every = 1;
    h->backward = MX_HWA_BACKWARD_CHIP;
    h->input_percentile = 99.9;
    h->calib_examples = 1000;
}

mx_status mx_hardware_aware_validate(const mx_hardware_aware *h)
{
    mx_status st = mx_hwa_config_validate(&h->hw);
    if (st)
        return st;
    if (h->hw.xbar.input == MX_INPUT_SPIKES)
        return mx_fail(MX_EINVAL, "hardware.crossbar.input: hardware-aware training drives "
                                  "rows with activations, expected dac, bit-serial or pwm, "
                                  "got spikes");
    if (h->reprogram_every < 1)
        return mx_fail(MX_EINVAL, "training.hwa_reprogram_every: expected >= 1, got %zu",
                       h->reprogram_every);
    if (!(h->input_percentile > 0.0 && h->input_percentile <= 100.0))
        return mx_fail(MX_EINVAL, "training.hwa_input_percentile: expected in (0, 100], got %g",
                       h->input_percentile);
    if (h->backward != MX_HWA_BACKWARD_CHIP && h->backward != MX_HWA_BACKWARD_CLEAN)
        return mx_fail(MX_EINVAL, "training.hwa_backward: expected chip or clean, got %d",
                       (int)h->backward);
    if (h->calib_examples < 1)
        return mx_fail(MX_EINVAL, "training.hwa_calib_examples: expected >= 1, got %zu",
                       h->calib_examples);
    return MX_OK;
}

/* The hardware of a hardware-aware run: one layer per weight layer, the
 * pre-ReLU outputs y[l] and the ReLU'd inputs of the next layer r[l]. */
typedef struct hwa_run {
    const mx_hardware_aware *cfg;
    mx_hwa_layer *layer[MX_MLP_MAX_LAYERS];
    float *y[MX_MLP_MAX_LAYERS];  /* (bs, sizes[l+1]) */
    float *r[MX_MLP_MAX_LAYERS];  /* (bs, sizes[l+1]), hidden layers */
    float *wb[MX_MLP_MAX_LAYERS]; /* the chip's weights for the backward pass (backward chip) */
} hwa_run;

static void hwa_run_free(hwa_run *h)
{
    for (size_t l = 0; l < MX_MLP_MAX_LAYERS; l++) {
        mx_hwa_layer_destroy(h->layer[l]);
        mx_free(h->y[l]);
        mx_free(h->r[l]);
        mx_free(h->wb[l]);
    }
}

static mx_status hwa_run_create(hwa_run *h, const mx_hardware_aware *cfg, const mx_mlp *net,
                                size_t bs)
{
    memset(h, 0, sizeof *h);
    h->cfg = cfg;
    const size_t L = net->n_layers;
    for (size_t l = 0; l < L; l++) {
        mx_status st = mx_hwa_layer_create(&cfg->hw, net->sizes[l + 1], net->sizes[l],
                                           (uint32_t)l, &h->layer[l]);
        if (st)
            return st;
        const size_t count = mx_size_mul(bs, net->sizes[l + 1]) * sizeof(float);
        if (!(h->y[l] = mx_alloc(count)) || (l + 1 < L && !(h->r[l] = mx_alloc(count))))
            return mx_fail(MX_ENOMEM, "hardware-aware training: out of memory");
        if (cfg->backward == MX_HWA_BACKWARD_CHIP &&
            !(h->wb[l] = mx_alloc(net->sizes[l] * net->sizes[l + 1] * sizeof(float))))
            return mx_fail(MX_ENOMEM, "hardware-aware training: out of memory");
    }
    return MX_OK;
}

/* DAC full scales from the clean network's signals on the calibration
 * examples (the statistic the ANN on the crossbar uses, snn/ann.h). */
static mx_status hwa_set_full_scales(hwa_run *h, const mx_mlp *net, const float *x, size_t n)
{
    double pct[MX_MLP_MAX_LAYERS + 1];
    const size_t m = n < h->cfg->calib_examples ? n : h->cfg->calib_examples;
    mx_status st = mx_mlp_positive_percentiles(net, x, m, h->cfg->input_percentile, pct);
    for (size_t l = 0; l < net->n_layers && !st; l++)
        /* a layer whose input is never positive is driven at 0 anyway */
        st = mx_hwa_layer_set_input_full_scale(h->layer[l], pct[l] > 0.0 ? pct[l] : 1.0);
    return st;
}

/* The forward pass of one minibatch on the hardware: OUT h->y. */
static mx_status hwa_forward(hwa_run *h, const mx_mlp *net, const float *bx, size_t count,
                             uint64_t seed, uint64_t item0)
{
    const size_t L = net->n_layers;
    const float *in = bx;
    for (size_t l = 0; l < L; l++) {
        mx_status st = mx_hwa_layer_forward(h->layer[l], in, count, seed, item0, h->y[l]);
        if (st)
            return st;
        if (l + 1 < L) {
            const size_t k = count * net->sizes[l + 1];
            for (size_t i = 0; i < k; i++)
                h->r[l][i] = h->y[l][i] > 0.0f ? h->y[l][i] : 0.0f;
            in = h->r[l];
        }
    }
    return MX_OK;
}

static mx_status train_loop(mx_mlp *net, const mx_train_config *cfg, size_t first_epoch,
                            size_t epochs, const float *x, const uint8_t *labels, size_t n,
                            uint64_t seed, const mx_noise_aware *noise,
                            const mx_hardware_aware *hwa, const char *what,
                            double *last_epoch_loss)
{
    mx_status st = mx_train_config_validate(cfg);
    if (st)
        return st;
    if (n == 0)
        return mx_fail(MX_EINVAL, "training: no training examples");
    if (noise && (st = noise->device->validate(&noise->params)))
        return st;
    if (hwa && (st = mx_hardware_aware_validate(hwa)))
        return st;
    const size_t dim = net->sizes[0], L = net->n_layers, bs = cfg->batch_size;
    const size_t n_batches = (n + bs - 1) / bs;
    mx_mlp_trainer *tr = NULL;
    size_t *order = mx_alloc(n * sizeof(size_t));
    float *bx = mx_alloc(mx_size_mul(bs, dim) * sizeof(float));
    uint8_t *by = mx_alloc(bs);
    float *w_fwd[MX_MLP_MAX_LAYERS] = {0};
    float *scratch = NULL;
    hwa_run hw;
    memset(&hw, 0, sizeof hw);
    int ok = order && bx && by;
    if (hwa && ok && (st = hwa_run_create(&hw, hwa, net, bs))) {
        hwa_run_free(&hw);
        mx_free(order);
        mx_free(bx);
        mx_free(by);
        return st;
    }
    if (noise && ok) {
        size_t biggest = 0;
        for (size_t l = 0; l < L; l++) {
            size_t cells = net->sizes[l] * net->sizes[l + 1];
            biggest = cells > biggest ? cells : biggest;
            w_fwd[l] = mx_alloc(cells * sizeof(float));
            ok &= w_fwd[l] != NULL;
        }
        scratch = mx_alloc(2 * biggest * sizeof(float));
        ok &= scratch != NULL;
    }
    st = ok ? mx_mlp_trainer_create(net, cfg, &tr) : mx_fail(MX_ENOMEM, "training: out of memory");
    const int blas_threads_before = openblas_get_num_threads();
    openblas_set_num_threads(TRAIN_BLAS_THREADS);
    double epoch_loss = NAN;
    const double started = mx_seconds_now();
    for (size_t e = 0; e < epochs && !st; e++) {
        const size_t epoch = first_epoch + e;
        mx_mlp_trainer_set_epoch(tr, epoch);
        shuffle(order, n, seed, epoch);
        if (hwa)
            st = hwa_set_full_scales(&hw, net, x, n);
        double loss_sum = 0.0;
        for (size_t b = 0; b < n_batches && !st; b++) {
            size_t start = b * bs, count = n - start < bs ? n - start : bs;
            for (size_t i = 0; i < count; i++) {
                size_t k = order[start + i];
                memcpy(bx + i * dim, x + k * dim, dim * sizeof(float));
                by[i] = labels[k];
            }
            if (noise) {
                uint64_t step = (uint64_t)epoch * n_batches + b;
                for (size_t l = 0; l < L && !st; l++)
                    st = mx_perturb_weights(net->w[l], net->sizes[l + 1], net->sizes[l], noise,
                                            seed,
                                            (step << NOISE_ITEM_STEP_SHIFT) |
                                                ((uint64_t)l << NOISE_ITEM_LAYER_SHIFT),
                                            w_fwd[l], scratch);
            }
            double loss = 0.0;
            if (hwa && !st) {
                const uint64_t step = (uint64_t)epoch * n_batches + b;
                if (step % hwa->reprogram_every == 0 || b == 0)
                    for (size_t l = 0; l < L && !st; l++) {
                        st = mx_hwa_layer_program(hw.layer[l], net->w[l], seed, step);
                        if (!st && hw.wb[l])
                            st = mx_hwa_layer_chip_weights(hw.layer[l], hw.wb[l]);
                    }
                if (!st)
                    st = hwa_forward(&hw, net, bx, count, seed, step * bs);
                if (!st)
                    st = mx_mlp_train_batch_forwarded(
                        net, tr, bx, by, count, (const float *const *)hw.y,
                        hwa->backward == MX_HWA_BACKWARD_CHIP ? (const float *const *)hw.wb
                                                              : NULL,
                        &loss);
            } else if (!st)
                st = mx_mlp_train_batch(net, tr, bx, by, count, noise ? w_fwd : NULL, &loss);
            loss_sum += loss * (double)count;
            mx_progress(what, e * n_batches + b + 1, epochs * n_batches);
        }
        epoch_loss = loss_sum / (double)n;
        if (!st) { /* epoch, loss, accuracy, ETA */
            double acc = NAN;
            const size_t n_acc = n < TRAIN_LOG_ACCURACY_EXAMPLES ? n : TRAIN_LOG_ACCURACY_EXAMPLES;
            if (mx_mlp_accuracy(net, x, labels, n_acc, &acc) != MX_OK)
                mx_clear_error(); /* only the log line goes without it */
            const double spent = mx_seconds_now() - started;
            mx_log(MX_LOG_INFO, "%s: epoch %zu/%zu, loss %.4f, training accuracy %.2f %% "
                                "(first %zu examples), %.0f s, ETA %.0f s",
                   what, e + 1, epochs, epoch_loss, 100.0 * acc, n_acc, spent,
                   spent / (double)(e + 1) * (double)(epochs - e - 1));
        }
    }
    openblas_set_num_threads(blas_threads_before);
    if (last_epoch_loss)
        *last_epoch_loss = epoch_loss;
    mx_mlp_trainer_destroy(tr);
    for (size_t l = 0; l < L; l++)
        mx_free(w_fwd[l]);
    mx_free(scratch);
    hwa_run_free(&hw);
    mx_free(order);
    mx_free(bx);
    mx_free(by);
    return st;
}

mx_status mx_train(mx_mlp *net, const mx_train_config *cfg, size_t first_epoch, size_t epochs,
                   const float *x, const uint8_t *labels, size_t n, uint64_t seed,
                   const mx_noise_aware *noise, const char *what, double *last_epoch_loss)
{
    return train_loop(net, cfg, first_epoch, epochs, x, labels, n, seed, noise, NULL, what,
                      last_epoch_loss);
}

mx_status mx_train_hardware_aware(mx_mlp *net, const mx_train_config *cfg, size_t first_epoch,
                                  size_t epochs, const float *x, const uint8_t *labels, size_t n,
                                  uint64_t seed, const mx_hardware_aware *hwa, const char *what,
                                  double *last_epoch_loss)
{
    assert(hwa);
    return train_loop(net, cfg, first_epoch, epochs, x, labels, n, seed, NULL, hwa, what,
                      last_epoch_loss);
}
