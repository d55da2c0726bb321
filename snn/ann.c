/* SPDX-License-Identifier: MIT
 *
 * ann.c: the trained ReLU MLP run on analog matmuls, one forward pass per
 * example (ann.h) — what the converted SNN (network.c) is compared with on
 * the same crossbar.
 *
 * Input full scale: λ_l = the p-th percentile of the positive entries of
 * layer l's input over the calibration batch (the images for l = 0, the
 * hidden ReLU activations after), computed as threshold balancing computes
 * its λ (Diehl et al. 2015; Rueckauer et al. 2017: the percentile keeps a few
 * outliers from stretching the range). Where the SNN divides W_l by λ_l so
 * that a threshold of 1 means λ_l, the ANN hands λ_l to the row drive: the
 * matmul maps |x| = λ_l to V_read and scales its output back, so y is W·x in
 * the MLP's own units and ReLU and argmax act on them unchanged. Inputs above
 * λ_l clip (the DAC's top code); inputs are ≥ 0 (pixels, ReLU outputs), so
 * the DAC's sign bit is never used — a b-bit DAC gives 2^(b−1) − 1 levels.
 *
 * Digital layers (no backend; the reference, and the layers above the one
 * being calibrated) compute W·x in double and round once to float. Activation
 * cost is counted per output: a ReLU (max(0, y), one compare) on a hidden
 * layer, one compare of the running argmax on the last.
 */
#include "snn/ann.h"

#include <math.h>
#include <string.h>

struct mx_ann {
    size_t n_layers;
    size_t sizes[MX_ANN_MAX_LAYERS + 1];
    float *w[MX_ANN_MAX_LAYERS];        /* (n_out, n_in) as trained */
    double full_scale[MX_ANN_MAX_LAYERS]; /* λ_l of layer l's input */
    mx_matmul *mm[MX_ANN_MAX_LAYERS];
};

struct mx_ann_state {
    float *act[MX_ANN_MAX_LAYERS + 1]; /* act[l + 1]: layer l's output (sizes[l + 1]) */
    float *ref;                        /* the exact W·x of one layer (widest layer) */
    mx_matmul_work *mw[MX_ANN_MAX_LAYERS];
    const mx_matmul *mw_owner[MX_ANN_MAX_LAYERS]; /* matmul each workspace was made for */
};

void mx_ann_destroy(mx_ann *net)
{
    if (!net)
        return;
    for (size_t l = 0; l < net->n_layers; l++)
        mx_free(net->w[l]);
    mx_free(net);
}

mx_status mx_ann_from_mlp(const mx_mlp *mlp, const float *calib_x, size_t calib_n,
                          double percentile, mx_ann **out)
{
    *out = NULL;
    if (calib_n == 0)
        return mx_fail(MX_EINVAL, "ANN: expected at least one calibration example");
    if (!(percentile > 0.0 && percentile <= 100.0))
        return mx_fail(MX_EINVAL, "snn.norm_percentile: expected a number in (0, 100], got %g",
                       percentile);
    const size_t L = mlp->n_layers;
    mx_ann *net = mx_calloc(1, sizeof *net);
    if (!net)
        return mx_fail(MX_ENOMEM, "ANN: out of memory");
    net->n_layers = L;
    memcpy(net->sizes, mlp->sizes, (L + 1) * sizeof(size_t));
    mx_status st = MX_OK;
    for (size_t l = 0; l < L && !st; l++) {
        const size_t n = mx_size_mul(mlp->sizes[l + 1], mlp->sizes[l]);
        net->w[l] = mx_alloc(n * sizeof(float));
        if (net->w[l])
            memcpy(net->w[l], mlp->w[l], n * sizeof(float));
        else
            st = mx_fail(MX_ENOMEM, "ANN: out of memory");
    }
    /* The percentile of every layer's input on the calibration batch. */
    double pct[MX_ANN_MAX_LAYERS + 1];
    if (!st)
        st = mx_mlp_positive_percentiles(mlp, calib_x, calib_n, percentile, pct);
    for (size_t l = 0; l < L && !st; l++) {
        net->full_scale[l] = pct[l];
        if (!(net->full_scale[l] > 0.0))
            st = mx_fail(MX_ENUMERIC, "ANN: layer %zu's input is never positive on the %zu "
                                      "calibration examples", l, calib_n);
    }
    if (st) {
        mx_ann_destroy(net);
        return st;
    }
    *out = net;
    return MX_OK;
}

size_t mx_ann_n_layers(const mx_ann *net) { return net->n_layers; }
double mx_ann_input_full_scale(const mx_ann *net, size_t layer) { return net->full_scale[layer]; }

const float *mx_ann_weights(const mx_ann *net, size_t layer, size_t *n_out, size_t *n_in)
{
    if (n_out)
        *n_out = net->sizes[layer + 1];
    if (n_in)
        *n_in = net->sizes[layer];
    return net->w[layer];
}

mx_status mx_ann_set_backend(mx_ann *net, size_t layer, mx_matmul *mm)
{
    if (layer >= net->n_layers)
        return mx_fail(MX_EINVAL, "ANN backend: layer %zu of %zu", layer, net->n_layers);
    if (mm && (mx_matmul_n_in(mm) != net->sizes[layer] ||
               mx_matmul_n_out(mm) != net->sizes[layer + 1]))
        return mx_fail(MX_EMISMATCH, "ANN backend: layer %zu is %zu x %zu, matmul is %zu x %zu",
                       layer, net->sizes[layer + 1], net->sizes[layer], mx_matmul_n_out(mm),
                       mx_matmul_n_in(mm));
    net->mm[layer] = mm;
    return MX_OK;
}

mx_matmul *mx_ann_backend(const mx_ann *net, size_t layer)
{
    return layer < net->n_layers ? net->mm[layer] : NULL;
}

mx_status mx_ann_program_crossbars(mx_ann *net, const mx_crossbar_config *xbar,
                                   const mx_device_type *device,
                                   const mx_device_params *device_params,
                                   const mx_adc_config *adc, uint64_t seed, mx_matmul **mm)
{
    for (size_t l = 0; l < net->n_layers; l++)
        mm[l] = NULL;
    if (xbar->input == MX_INPUT_SPIKES)
        return mx_fail(MX_EINVAL, "hardware.crossbar.input: expected dac, bit-serial or pwm "
                                  "for the ANN (model.run_as: ann; a spike cannot carry an "
                                  "activation), got spikes");
    mx_status st = MX_OK;
    for (size_t l = 0; l < net->n_layers && !st; l++) {
        mx_crossbar_config x = *xbar;
        x.input_full_scale = net->full_scale[l];
        st = mx_matmul_create(net->w[l], net->sizes[l + 1], net->sizes[l], &x, device,
                              device_params, adc, seed, (uint32_t)l, &mm[l]);
        if (!st)
            net->mm[l] = mm[l];
    }
    if (st)
        for (size_t l = 0; l < net->n_layers; l++) {
            net->mm[l] = NULL;
            mx_matmul_destroy(mm[l]);
            mm[l] = NULL;
        }
    return st;
}

void mx_ann_state_destroy(mx_ann_state *s)
{
    if (!s)
        return;
    for (size_t l = 0; l <= MX_ANN_MAX_LAYERS; l++)
        mx_free(s->act[l]);
    for (size_t l = 0; l < MX_ANN_MAX_LAYERS; l++)
        mx_matmul_work_destroy(s->mw[l]);
    mx_free(s->ref);
    mx_free(s);
}

mx_status mx_ann_state_create(const mx_ann *net, mx_ann_state **out)
{
    *out = NULL;
    mx_ann_state *s = mx_calloc(1, sizeof *s);
    if (!s)
        return mx_fail(MX_ENOMEM, "ANN state: out of memory");
    int ok = 1;
    size_t widest = 1;
    for (size_t l = 1; l <= net->n_layers; l++) {
        s->act[l] = mx_calloc(net->sizes[l], sizeof(float));
        ok &= s->act[l] != NULL;
        widest = net->sizes[l] > widest ? net->sizes[l] : widest;
    }
    s->ref = mx_calloc(widest, sizeof(float));
    if (!ok || !s->ref) {
        mx_ann_state_destroy(s);
        return mx_fail(MX_ENOMEM, "ANN state: out of memory");
    }
    *out = s;
    return MX_OK;
}

/* The state's matmul workspace for layer l, made when the backend changes. */
static mx_status layer_work(const mx_ann *net, mx_ann_state *s, size_t l)
{
    return mx_matmul_work_follow(net->mm[l], &s->mw[l], &s->mw_owner[l]);
}

/* y = W·x exactly: double sums in input order, one rounding to float. */
static void digital_matmul(const mx_ann *net, size_t l, const float *x, float *y)
{
    const size_t n_in = net->sizes[l], n_out = net->sizes[l + 1];
    for (size_t o = 0; o < n_out; o++) {
        const float *row = net->w[l] + o * n_in;
        double acc = 0.0;
        for (size_t i = 0; i < n_in; i++)
            acc += (double)row[i] * (double)x[i];
        y[o] = (float)acc;
    }
}

/* Layers 0..last; record_layer (≤ last) gets `rec`. */
static mx_status run(const mx_ann *net, mx_ann_state *s, const float *x, uint64_t rng_seed,
                     uint64_t item, int compare_reference, size_t last, int *pred,
                     mx_ann_layer_stats *stats, size_t record_layer, mx_current_recorder *rec)
{
    const size_t L = net->n_layers;
    for (size_t l = 0; l <= last; l++) {
        mx_status st = layer_work(net, s, l);
        if (st)
            return st;
    }
    mx_rng rd;
    mx_rng_init_named(&rd, rng_seed, "crossbar.read", item);
    const float *in = x;
    for (size_t l = 0; l <= last; l++) {
        const size_t n_out = net->sizes[l + 1];
        float *y = s->act[l + 1];
        mx_ann_layer_stats *ls = stats ? &stats[l] : NULL;
        if (net->mm[l]) {
            mx_matmul_forward(net->mm[l], s->mw[l], in, y, &rd, ls ? &ls->mm : NULL,
                              l == record_layer ? rec : NULL);
            if (compare_reference && ls) {
                digital_matmul(net, l, in, s->ref);
                for (size_t o = 0; o < n_out; o++) {
                    const double e = (double)y[o] - (double)s->ref[o];
                    ls->err_sum += e;
                    ls->err_sq_sum += e * e;
                    ls->ref_sq_sum += (double)s->ref[o] * (double)s->ref[o];
                }
                ls->n_values += n_out;
            }
        } else {
            digital_matmul(net, l, in, y);
        }
        size_t positive = 0;
        for (size_t o = 0; o < n_out; o++) {
            if (!isfinite(y[o]))
                return mx_fail(MX_ENUMERIC, "ANN: layer %zu output %zu is not finite", l, o);
            if (l + 1 < L && y[o] < 0.0f) /* ReLU on the hidden layers */
                y[o] = 0.0f;
            positive += y[o] > 0.0f;
        }
        if (ls) {
            ls->activations += n_out;
            ls->nonzero += positive;
        }
        in = y;
    }
    if (pred) {
        const size_t classes = net->sizes[L];
        const float *z = s->act[L];
        size_t best = 0; /* ties go to the lowest class index, as mx_mlp_accuracy */
        for (size_t k = 1; k < classes; k++)
            best = z[k] > z[best] ? k : best;
        *pred = (int)best;
    }
    return MX_OK;
}

mx_status mx_ann_run(const mx_ann *net, mx_ann_state *s, const float *x, uint64_t rng_seed,
                     uint64_t item, int compare_reference, float *logits, int *pred,
                     mx_ann_layer_stats *layer_stats)
{
    int best = 0;
    mx_status st = run(net, s, x, rng_seed, item, compare_reference, net->n_layers - 1, &best,
                       layer_stats, SIZE_MAX, NULL);
    if (st)
        return st;
    if (logits)
        memcpy(logits, s->act[net->n_layers], net->sizes[net->n_layers] * sizeof(float));
    if (pred)
        *pred = best;
    return MX_OK;
}

mx_status mx_ann_run_record(const mx_ann *net, mx_ann_state *s, const float *x,
                            uint64_t rng_seed, uint64_t item, size_t layer,
                            mx_current_recorder *rec)
{
    if (layer >= net->n_layers || !net->mm[layer])
        return mx_fail(MX_EINVAL, "ANN record: layer %zu has no analog backend", layer);
    return run(net, s, x, rng_seed, item, 0, layer, NULL, NULL, layer, rec);
}
