/* SPDX-License-Identifier: MIT
 *
 * network.c: a feed-forward spiking network converted from a ReLU MLP, run
 * one time step at a time on analog matmuls or on the exact digital matmul.
 *
 * Conversion (data-based threshold balancing; Diehl et al. 2015, Rueckauer
 * et al. 2017): λ_l = the p-th percentile of the non-zero ReLU activations of
 * layer l over a calibration batch (λ_0 = 1: intensities lie in [0, 1]);
 * W_l ← W_l·λ_{l−1}/λ_l; every threshold is 1. The output layer is treated
 * the same way, with ReLU applied to its logits.
 *
 * Digital matmul: inputs are spikes, so W·s is the sum of the columns of W
 * for the inputs that spiked — kept transposed, (n_in, n_out), so each spike
 * adds one contiguous row (cost ∝ spikes × outputs).
 *
 * ADC-less readout (hardware.readout.kind = integrate): the column current
 * of an analog layer is not digitised; it charges the neuron's membrane
 * capacitor directly, and a comparator decides the spike. With C_mem and the
 * comparator's threshold voltage chosen so that C_mem·V_th is the charge of
 * one threshold unit of current over one read, the membrane in threshold
 * units evolves exactly as the digital neuron's — v ← decay·v + I, the
 * matmul's unquantised, noisy output (its ADC must be exact) — and the
 * comparator fires where v + offset_i + σ_n·ξ ≥ θ, then subtracts θ (reset
 * by subtraction, as the digital neuron). offset_i ~ N(0, σ_o²) is drawn once
 * per neuron and programmed instance ("snn.comparator_offset", item = layer),
 * ξ once per neuron per step ("snn.comparator", item = the example), so the
 * read-noise stream is the same as with the ADC readout. With σ_o = σ_n = 0
 * the arithmetic is the digital neuron's, operation for operation: the two
 * readouts give the same spikes bit for bit. Whatever the matmul adds after
 * its ADC (row tiles, slices, bit-serial passes) is taken to add as charge
 * on the membrane (currents summed on one node, scaled mirrors), ideally.
 *
 * Thresholds: 1 for every neuron after the conversion. Hardware threshold
 * re-balancing (calibration/threshold.c) may set per-neuron thresholds θ_i
 * (mx_snn_set_thresholds); a layer with them fires where v ≥ θ_i and
 * subtracts θ_i, both readouts alike. A layer without keeps the constant
 * threshold 1 and the very arithmetic it had before thresholds existed.
 */
#include "snn/snn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rows.h"

#define SNN_THRESHOLD 1.0f

struct mx_snn {
    mx_snn_config cfg;
    size_t n_layers;
    size_t sizes[MX_SNN_MAX_LAYERS + 1];
    float *w[MX_SNN_MAX_LAYERS];  /* (n_out, n_in) scaled */
    float *wt[MX_SNN_MAX_LAYERS]; /* (n_in, n_out) transposed copy */
    double scale[MX_SNN_MAX_LAYERS];
    mx_matmul *mm[MX_SNN_MAX_LAYERS];
    mx_snn_readout_config readout;
    float *offset[MX_SNN_MAX_LAYERS]; /* integrate: comparator offsets, (n_out) threshold
                                         units; NULL when offset_sigma is 0 */
    float *theta[MX_SNN_MAX_LAYERS];  /* per-neuron thresholds, (n_out); NULL = all
                                         SNN_THRESHOLD (mx_snn_set_thresholds) */
};

struct mx_snn_state {
    float *v[MX_SNN_MAX_LAYERS];       /* membrane, (n_out) */
    float *spk[MX_SNN_MAX_LAYERS + 1]; /* spk[0] input spikes, spk[l+1] layer l's */
    float *cur[MX_SNN_MAX_LAYERS];     /* input current this step, (n_out) */
    float *ref[MX_SNN_MAX_LAYERS];     /* digital reference W·s, (n_out) */
    uint32_t *count;                   /* output spike counts */
    uint64_t *enc_threshold;           /* (n_in) the encoder's Bernoulli thresholds */
    uint32_t *enc_words;               /* (n_in) one step's encoder words */
    mx_matmul_work *mw[MX_SNN_MAX_LAYERS];
    const mx_matmul *mw_owner[MX_SNN_MAX_LAYERS];
};

void mx_snn_destroy(mx_snn *net)
{
    if (!net)
        return;
    for (size_t l = 0; l < net->n_layers; l++) {
        mx_free(net->w[l]);
        mx_free(net->wt[l]);
        mx_free(net->offset[l]);
        mx_free(net->theta[l]);
    }
    mx_free(net);
}

void mx_snn_readout_config_default(mx_snn_readout_config *c)
{
    *c = (mx_snn_readout_config){.kind = MX_READOUT_ADC, .offset_sigma = 0.0, .noise_sigma = 0.0};
}

mx_status mx_snn_readout_config_validate(const mx_snn_readout_config *c)
{
    if (c->kind != MX_READOUT_ADC && c->kind != MX_READOUT_INTEGRATE)
        return mx_fail(MX_EINVAL, "hardware.readout.kind: expected adc or integrate");
    if (!(isfinite(c->offset_sigma) && c->offset_sigma >= 0.0))
        return mx_fail(MX_EINVAL, "hardware.readout.offset_sigma: expected a number >= 0, got %g",
                       c->offset_sigma);
    if (!(isfinite(c->noise_sigma) && c->noise_sigma >= 0.0))
        return mx_fail(MX_EINVAL, "hardware.readout.noise_sigma: expected a number >= 0, got %g",
                       c->noise_sigma);
    return MX_OK;
}

mx_status mx_snn_from_mlp(const mx_mlp *mlp, const mx_snn_config *cfg, const float *calib_x,
                          size_t calib_n, mx_snn **out)
{
    *out = NULL;
    mx_status st = mx_snn_config_validate(cfg);
    if (st)
        return st;
    if (calib_n == 0)
        return mx_fail(MX_EINVAL, "conversion: expected at least one calibration example");
    const size_t L = mlp->n_layers;
    mx_snn *net = mx_calloc(1, sizeof *net);
    if (!net)
        return mx_fail(MX_ENOMEM, "conversion: out of memory");
    net->cfg = *cfg;
    mx_snn_readout_config_default(&net->readout);
    net->n_layers = L;
    memcpy(net->sizes, mlp->sizes, (L + 1) * sizeof(size_t));

    /* The activations' percentile of every layer on the calibration batch. */
    double pct[MX_SNN_MAX_LAYERS + 1];
    st = mx_mlp_positive_percentiles(mlp, calib_x, calib_n, cfg->norm_percentile, pct);
    double lambda_prev = 1.0;
    for (size_t l = 0; l < L && !st; l++) {
        const size_t n_out = mlp->sizes[l + 1], n_in = mlp->sizes[l];
        const double lambda = pct[l + 1];
        if (!(lambda > 0.0)) {
            st = mx_fail(MX_ENUMERIC,
                         "conversion: layer %zu never activates on the calibration batch", l);
            break;
        }
        net->scale[l] = lambda;
        net->w[l] = mx_alloc(n_out * n_in * sizeof(float));
        net->wt[l] = mx_alloc(n_out * n_in * sizeof(float));
        if (!net->w[l] || !net->wt[l]) {
            st = mx_fail(MX_ENOMEM, "conversion: out of memory");
            break;
        }
        const float f = (float)(lambda_prev / lambda);
        for (size_t o = 0; o < n_out; o++)
            for (size_t i = 0; i < n_in; i++) {
                float wv = mlp->w[l][o * n_in + i] * f;
                net->w[l][o * n_in + i] = wv;
                net->wt[l][i * n_out + o] = wv;
            }
        lambda_prev = lambda;
    }
    if (st) {
        mx_snn_destroy(net);
        return st;
    }
    *out = net;
    return MX_OK;
}

size_t mx_snn_n_layers(const mx_snn *net) { return net->n_layers; }
const mx_snn_config *mx_snn_get_config(const mx_snn *net) { return &net->cfg; }
double mx_snn_layer_scale(const mx_snn *net, size_t layer) { return net->scale[layer]; }

const float *mx_snn_weights(const mx_snn *net, size_t layer, size_t *n_out, size_t *n_in)
{
    if (n_out)
        *n_out = net->sizes[layer + 1];
    if (n_in)
        *n_in = net->sizes[layer];
    return net->w[layer];
}

mx_status mx_snn_set_backend(mx_snn *net, size_t layer, mx_matmul *mm)
{
    if (layer >= net->n_layers)
        return mx_fail(MX_EINVAL, "snn backend: layer %zu of %zu", layer, net->n_layers);
    if (mm && (mx_matmul_n_in(mm) != net->sizes[layer] ||
               mx_matmul_n_out(mm) != net->sizes[layer + 1]))
        return mx_fail(MX_EMISMATCH, "snn backend: layer %zu is %zu x %zu, matmul is %zu x %zu",
                       layer, net->sizes[layer + 1], net->sizes[layer], mx_matmul_n_out(mm),
                       mx_matmul_n_in(mm));
    net->mm[layer] = mm;
    return MX_OK;
}

mx_status mx_snn_program_crossbars(mx_snn *net, const mx_crossbar_config *xbar,
                                   const mx_device_type *device,
                                   const mx_device_params *device_params,
                                   const mx_adc_config *adc, uint64_t seed, mx_matmul **mm)
{
    mx_status st = MX_OK;
    for (size_t l = 0; l < net->n_layers; l++)
        mm[l] = NULL;
    for (size_t l = 0; l < net->n_layers && !st; l++) {
        st = mx_matmul_create(net->w[l], net->sizes[l + 1], net->sizes[l], xbar, device,
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

mx_status mx_snn_set_thresholds(mx_snn *net, size_t layer, const float *theta)
{
    if (layer >= net->n_layers)
        return mx_fail(MX_EINVAL, "snn thresholds: layer %zu of %zu", layer, net->n_layers);
    if (!theta) {
        mx_free(net->theta[layer]);
        net->theta[layer] = NULL;
        return MX_OK;
    }
    const size_t n_out = net->sizes[layer + 1];
    for (size_t o = 0; o < n_out; o++)
        if (!(isfinite(theta[o]) && theta[o] > 0.0f))
            return mx_fail(MX_EINVAL, "snn thresholds: layer %zu neuron %zu: expected a "
                                      "threshold > 0, got %g",
                           layer, o, (double)theta[o]);
    if (!net->theta[layer] && !(net->theta[layer] = mx_alloc(n_out * sizeof(float))))
        return mx_fail(MX_ENOMEM, "snn thresholds: out of memory for %zu neurons", n_out);
    memcpy(net->theta[layer], theta, n_out * sizeof(float));
    return MX_OK;
}

void mx_snn_get_thresholds(const mx_snn *net, size_t layer, float *theta)
{
    const size_t n_out = net->sizes[layer + 1];
    for (size_t o = 0; o < n_out; o++)
        theta[o] = net->theta[layer] ? net->theta[layer][o] : SNN_THRESHOLD;
}

mx_matmul *mx_snn_backend(const mx_snn *net, size_t layer)
{
    return layer < net->n_layers ? net->mm[layer] : NULL;
}

static void clear_readout(mx_snn *net)
{
    for (size_t l = 0; l < net->n_layers; l++) {
        mx_free(net->offset[l]);
        net->offset[l] = NULL;
    }
    mx_snn_readout_config_default(&net->readout);
}

mx_status mx_snn_set_readout(mx_snn *net, const mx_snn_readout_config *c, uint64_t seed)
{
    clear_readout(net);
    mx_status st = mx_snn_readout_config_validate(c);
    if (st || c->kind == MX_READOUT_ADC)
        return st;
    for (size_t l = 0; l < net->n_layers; l++)
        if (net->mm[l] && mx_matmul_adc_config(net->mm[l])->kind != MX_ADC_NONE)
            return mx_fail(MX_EINVAL, "hardware.readout.kind: integrate needs an exact ADC "
                                      "(hardware.adc.type none) on layer %zu's matmul",
                           l);
    for (size_t l = 0; l < net->n_layers && c->offset_sigma > 0.0; l++) {
        if (!net->mm[l])
            continue;
        const size_t n_out = net->sizes[l + 1];
        net->offset[l] = mx_alloc(n_out * sizeof(float));
        if (!net->offset[l]) {
            clear_readout(net);
            return mx_fail(MX_ENOMEM, "snn readout: out of memory for %zu comparator offsets",
                           n_out);
        }
        mx_rng rng;
        mx_rng_init_named(&rng, seed, "snn.comparator_offset", l);
        for (size_t o = 0; o < n_out; o++)
            net->offset[l][o] = (float)(c->offset_sigma * mx_rng_normal(&rng));
    }
    net->readout = *c;
    return MX_OK;
}

const mx_snn_readout_config *mx_snn_get_readout(const mx_snn *net) { return &net->readout; }

/* The ADC-less neuron: mx_neuron_step's arithmetic with the comparator's
 * offset (may be NULL: none) and noise (one draw per neuron when σ > 0)
 * added to what the comparator sees, not to the membrane. Per-neuron
 * thresholds `theta` (NULL: `threshold` for all). */
static size_t comparator_step(size_t n, float *v, const float *input, float decay,
                              float threshold, const float *theta, const float *offset,
                              double noise_sigma, mx_rng *rng, float *spikes_out)
{
    size_t spikes = 0;
    for (size_t i = 0; i < n; i++) {
        const float th = theta ? theta[i] : threshold;
        float u = decay * v[i] + input[i];
        float seen = u;
        if (offset)
            seen += offset[i];
        if (noise_sigma > 0.0)
            seen += (float)(noise_sigma * mx_rng_normal(rng));
        float s = seen >= th ? 1.0f : 0.0f;
        v[i] = u - s * th;
        spikes_out[i] = s;
        spikes += (size_t)s;
    }
    return spikes;
}

/* mx_neuron_step with a threshold per neuron. */
static size_t threshold_step(size_t n, float *v, const float *input, float decay,
                             const float *theta, float *spikes_out)
{
    size_t spikes = 0;
    for (size_t i = 0; i < n; i++) {
        float u = decay * v[i] + input[i];
        float s = u >= theta[i] ? 1.0f : 0.0f;
        v[i] = u - s * theta[i];
        spikes_out[i] = s;
        spikes += (size_t)s;
    }
    return spikes;
}

void mx_snn_state_destroy(mx_snn_state *s)
{
    if (!s)
        return;
    for (size_t l = 0; l < MX_SNN_MAX_LAYERS; l++) {
        mx_free(s->v[l]);
        mx_free(s->cur[l]);
        mx_free(s->ref[l]);
        mx_matmul_work_destroy(s->mw[l]);
    }
    for (size_t l = 0; l <= MX_SNN_MAX_LAYERS; l++)
        mx_free(s->spk[l]);
    mx_free(s->count);
    mx_free(s->enc_threshold);
    mx_free(s->enc_words);
    mx_free(s);
}

mx_status mx_snn_state_create(const mx_snn *net, mx_snn_state **out)
{
    *out = NULL;
    mx_snn_state *s = mx_calloc(1, sizeof *s);
    if (!s)
        return mx_fail(MX_ENOMEM, "snn state: out of memory");
    int ok = 1;
    for (size_t l = 0; l < net->n_layers; l++) {
        size_t n = net->sizes[l + 1];
        s->v[l] = mx_calloc(n, sizeof(float));
        s->cur[l] = mx_calloc(n, sizeof(float));
        s->ref[l] = mx_calloc(n, sizeof(float));
        ok &= s->v[l] && s->cur[l] && s->ref[l];
    }
    for (size_t l = 0; l <= net->n_layers; l++) {
        s->spk[l] = mx_calloc(net->sizes[l], sizeof(float));
        ok &= s->spk[l] != NULL;
    }
    s->count = mx_calloc(net->sizes[net->n_layers], sizeof(uint32_t));
    s->enc_threshold = mx_calloc(net->sizes[0], sizeof(uint64_t));
    s->enc_words = mx_calloc(net->sizes[0], sizeof(uint32_t));
    ok &= s->count && s->enc_threshold && s->enc_words;
    if (!ok) {
        mx_snn_state_destroy(s);
        return mx_fail(MX_ENOMEM, "snn state: out of memory");
    }
    *out = s;
    return MX_OK;
}

/* The state's matmul workspace for layer l, made when the backend changes. */
static mx_status layer_work(const mx_snn *net, mx_snn_state *s, size_t l)
{
    return mx_matmul_work_follow(net->mm[l], &s->mw[l], &s->mw_owner[l]);
}

/* y = W·s for binary s, event-driven over the spikes: from y = +0, the rows
 * of the inputs that spiked added in ascending input order. */
static void digital_matmul(const mx_snn *net, size_t l, const float *spikes, float *y)
{
    const size_t n_in = net->sizes[l], n_out = net->sizes[l + 1];
    static const float ones[MX_ROW_BLOCK] = {1, 1, 1, 1, 1, 1, 1, 1};
    const mx_axpy_rows_fn add_rows = mx_axpy_rows_kernel(); /* 1·w is w: a sum of rows */
    const float *rows[MX_ROW_BLOCK];
    size_t k = 0;
    memset(y, 0, n_out * sizeof(float));
    for (size_t i = 0; i < n_in; i++) {
        if (spikes[i] == 0.0f)
            continue;
        rows[k++] = net->wt[l] + i * n_out;
        if (k == MX_ROW_BLOCK) {
            add_rows(y, rows, ones, k, n_out);
            k = 0;
        }
    }
    if (k > 0)
        add_rows(y, rows, ones, k, n_out);
}

/* The index of the first value that is not finite, n if all are. */
static size_t first_not_finite(const float *x, size_t n)
{
    /* A branch-free scan first (x − x is 0 exactly for finite x). */
    int bad = 0;
    for (size_t o = 0; o < n; o++)
        bad |= (x[o] - x[o]) != 0.0f;
    if (!bad)
        return n;
    for (size_t o = 0; o < n; o++)
        if (!isfinite(x[o]))
            return o;
    return n;
}

static int predict(const uint32_t *count, const float *v, size_t n)
{
    size_t best = 0;
    for (size_t k = 1; k < n; k++)
        if (count[k] > count[best] || (count[k] == count[best] && v[k] > v[best]))
            best = k;
    return (int)best;
}

static void reset_state(const mx_snn *net, mx_snn_state *s)
{
    for (size_t l = 0; l < net->n_layers; l++)
        memset(s->v[l], 0, net->sizes[l + 1] * sizeof(float));
    memset(s->count, 0, net->sizes[net->n_layers] * sizeof(uint32_t));
}

/* Run all steps through layers 0..n_run−1 (n_run = n_layers: the whole
 * network, with its prediction); optional recorder on one layer
 * (record_layer < n_layers) and per-layer sums over the steps of each
 * neuron's input current (cur_sum NULL, or entries NULL: none). */
static mx_status run(const mx_snn *net, mx_snn_state *s, const float *intensity,
                     uint64_t rng_seed, uint64_t item, int compare_reference,
                     int *pred_per_step, int *pred, mx_snn_layer_stats *stats,
                     size_t record_layer, mx_current_recorder *rec, size_t n_run,
                     double *const *cur_sum)
{
    const size_t L = n_run, n_cls = net->sizes[net->n_layers];
    const int whole = n_run == net->n_layers;
    for (size_t l = 0; l < L; l++) {
        mx_status st = layer_work(net, s, l);
        if (st)
            return st;
    }
    reset_state(net, s);
    mx_rng enc, rd, cmp;
    mx_rng_init_named(&enc, rng_seed, "snn.encode", item);
    mx_rng_init_named(&rd, rng_seed, "crossbar.read", item);
    mx_rng_init_named(&cmp, rng_seed, "snn.comparator", item);
    const int integrate_readout = net->readout.kind == MX_READOUT_INTEGRATE;
    const float decay = (float)mx_neuron_decay(&net->cfg);
    /* Rate encoders: the Bernoulli thresholds once per example (encoder.c). */
    const int rate_coded = net->cfg.encoder != MX_ENCODER_CURRENT;
    if (rate_coded)
        mx_encode_thresholds(&net->cfg, intensity, net->sizes[0], s->enc_threshold);
    int last = 0;
    for (size_t t = 0; t < net->cfg.timesteps; t++) {
        if (rate_coded)
            (void)mx_encode_step_thresholds(s->enc_threshold, net->sizes[0], &enc, s->enc_words,
                                            s->spk[0]);
        else
            mx_encode_step(&net->cfg, intensity, net->sizes[0], &enc, s->spk[0]);
        for (size_t l = 0; l < L; l++) {
            const size_t n_out = net->sizes[l + 1];
            mx_snn_layer_stats *ls = stats ? &stats[l] : NULL;
            if (net->mm[l]) {
                mx_matmul_forward(net->mm[l], s->mw[l], s->spk[l], s->cur[l], &rd,
                                  ls ? &ls->mm : NULL, l == record_layer ? rec : NULL);
                if (compare_reference && ls) {
                    digital_matmul(net, l, s->spk[l], s->ref[l]);
                    for (size_t o = 0; o < n_out; o++) {
                        double e = (double)s->cur[l][o] - (double)s->ref[l][o];
                        ls->err_sum += e;
                        ls->err_sq_sum += e * e;
                        ls->ref_sq_sum += (double)s->ref[l][o] * (double)s->ref[l][o];
                    }
                    ls->n_values += n_out;
                }
            } else {
                digital_matmul(net, l, s->spk[l], s->cur[l]);
            }
            const size_t bad = first_not_finite(s->cur[l], n_out);
            if (bad < n_out)
                return mx_fail(MX_ENUMERIC, "snn: layer %zu input current %zu is not finite "
                                            "at step %zu", l, bad, t);
            if (cur_sum && cur_sum[l])
                for (size_t o = 0; o < n_out; o++)
                    cur_sum[l][o] += (double)s->cur[l][o];
            const int integrate = integrate_readout && net->mm[l];
            size_t fired =
                integrate ? comparator_step(n_out, s->v[l], s->cur[l], decay, SNN_THRESHOLD,
                                            net->theta[l], net->offset[l],
                                            net->readout.noise_sigma, &cmp, s->spk[l + 1])
                : net->theta[l] ? threshold_step(n_out, s->v[l], s->cur[l], decay,
                                                 net->theta[l], s->spk[l + 1])
                                : mx_neuron_step(n_out, s->v[l], s->cur[l], decay, SNN_THRESHOLD,
                                                 s->spk[l + 1]);
            if (ls) {
                ls->spikes += fired;
                if (integrate)
                    ls->decisions += n_out;
                else
                    ls->neuron_updates += n_out;
            }
        }
        if (!whole)
            continue; /* the output layer was not simulated */
        for (size_t k = 0; k < n_cls; k++)
            s->count[k] += (uint32_t)s->spk[L][k];
        if (pred_per_step || t + 1 == net->cfg.timesteps) { /* only these are read */
            last = predict(s->count, s->v[L - 1], n_cls);
            if (pred_per_step)
                pred_per_step[t] = last;
        }
    }
    if (pred)
        *pred = last;
    return MX_OK;
}

mx_status mx_snn_run(const mx_snn *net, mx_snn_state *s, const float *intensity,
                     uint64_t rng_seed, uint64_t item, int compare_reference,
                     int *pred_per_step, int *pred, mx_snn_layer_stats *layer_stats)
{
    return run(net, s, intensity, rng_seed, item, compare_reference, pred_per_step, pred,
               layer_stats, SIZE_MAX, NULL, net->n_layers, NULL);
}

mx_status mx_snn_run_record(const mx_snn *net, mx_snn_state *s, const float *intensity,
                            uint64_t rng_seed, uint64_t item, size_t layer,
                            mx_current_recorder *rec)
{
    if (layer >= net->n_layers || !net->mm[layer])
        return mx_fail(MX_EINVAL, "snn record: layer %zu has no analog backend", layer);
    return run(net, s, intensity, rng_seed, item, 0, NULL, NULL, NULL, layer, rec,
               net->n_layers, NULL);
}

mx_status mx_snn_run_currents(const mx_snn *net, mx_snn_state *s, const float *intensity,
                              uint64_t rng_seed, uint64_t item, size_t n_run,
                              double *const *current_sum, mx_snn_layer_stats *layer_stats)
{
    if (n_run == 0 || n_run > net->n_layers)
        return mx_fail(MX_EINVAL, "snn currents: expected 1..%zu layers to run, got %zu",
                       net->n_layers, n_run);
    return run(net, s, intensity, rng_seed, item, 0, NULL, NULL, layer_stats, SIZE_MAX, NULL,
               n_run, current_sum);
}
