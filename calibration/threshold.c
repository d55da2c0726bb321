/* SPDX-License-Identifier: MIT
 *
 * threshold.c: SNN threshold re-balancing on hardware. Sits after
 * programming and ADC calibration (experiments/run.c): the thresholds the
 * evaluation then runs with are set here.
 *
 * The conversion (snn/network.c; Diehl et al. 2015, Rueckauer et al. 2017)
 * scales layer l by λ_{l−1}/λ_l with λ_l the p-th percentile (p =
 * snn.norm_percentile) of the layer's positive ReLU activations on a
 * calibration batch, so that with threshold 1 the layer's normalised
 * activations reach the threshold at that percentile. An IF neuron with
 * reset by subtraction fires at rate ≈ ā/θ, ā its input current per step
 * averaged over the T steps — the SNN's stand-in for the normalised
 * pre-activation z/λ. On a crossbar ā is whatever the hardware delivers: a
 * systematic gain g (IR drop, a conductance window off its nominal one,
 * variation, an ADC range) gives ā_hw ≈ g·ā and rates g times the intended
 * ones, compounded layer after layer.
 *
 * Re-balancing measures, on a calibration batch of n examples (their own
 * stream items, apart from the test images), the statistic the conversion
 * used, on the SNN itself:
 *
 *   a_{i,o} = (1/T)·Σ_t I_{l,o}(t)      example i, neuron o of layer l
 *   S_l     = P_p{ a_{i,o} > 0 over i, o }            (mode layer)
 *   S_{l,o} = P_p{ a_{i,o} > 0 over i }               (mode neuron)
 *
 * P_p the p-th percentile of the positive values (GSL's quantile, as
 * snn/mlp.c computes λ_l), once on the digital SNN (every layer on the exact
 * matmul, thresholds 1) and once on the hardware, and sets
 *
 *   θ_l = S_l^hw / S_l^dig     (resp. θ_{l,o} = S_{l,o}^hw / S_{l,o}^dig)
 *
 * so the hardware layer's S/θ equals the digital network's S/1: with a pure
 * gain g the thresholds come out g and the spikes are the digital ones.
 * Choices:
 * - The digital side is measured on the digital SNN with the very input
 *   spikes the hardware passes see (same streams), not taken as the ANN's 1:
 *   the rate code's own deviation then cancels, and an ideal crossbar gives
 *   θ = 1 to rounding.
 * - Mean current, not spike rate: it is linear in the gain (rates saturate at
 *   one spike a step and are quantised to 1/T), and it is the quantity the
 *   percentile of ReLU activations stands for.
 * - Layer by layer: layer l's currents depend on the spikes of layers < l,
 *   so the pass for layer l runs layers 0..l with layers < l re-balanced
 *   (the ADC calibration's order, calibration/adc_range.c). Layer l's own
 *   threshold does not change its input currents, so one pass per layer
 *   suffices; layers after l are not simulated (cost n·(l + 1) layer runs).
 * - Neuron mode, a neuron with no positive mean current on either side
 *   (never driven) gets its layer's factor.
 * - Digital layers keep threshold 1 (nothing to correct) and cost no pass.
 * The ADC ranges stay as calibrated before (with thresholds 1); a layer's
 * currents after re-balancing the layers before it are closer to the
 * digital ones the ranges were not fitted to — docs/calibration.md shows
 * what that costs in clipping.
 */
#include "calibration/threshold.h"

#include <math.h>
#include <string.h>

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "core/parallel.h"

#define REBALANCE_DEFAULT_IMAGES 100
#define REBALANCE_MAX_IMAGES 1000000

void mx_rebalance_config_default(mx_rebalance_config *c)
{
    *c = (mx_rebalance_config){.mode = MX_REBALANCE_NONE, .images = REBALANCE_DEFAULT_IMAGES};
}

mx_status mx_rebalance_config_validate(const mx_rebalance_config *c)
{
    if (c->mode != MX_REBALANCE_NONE && c->mode != MX_REBALANCE_LAYER &&
        c->mode != MX_REBALANCE_NEURON)
        return mx_fail(MX_EINVAL, "snn.threshold_rebalance: expected none, layer or neuron");
    if (c->images < 1 || c->images > REBALANCE_MAX_IMAGES)
        return mx_fail(MX_EINVAL,
                       "snn.threshold_rebalance_images: expected an integer in [1, %d], got %zu",
                       REBALANCE_MAX_IMAGES, c->images);
    return MX_OK;
}

const char *mx_rebalance_mode_name(mx_rebalance_mode m)
{
    switch (m) {
    case MX_REBALANCE_NONE:
        return "none";
    case MX_REBALANCE_LAYER:
        return "layer";
    case MX_REBALANCE_NEURON:
        return "neuron";
    }
    return NULL;
}

double mx_positive_percentile(const double *a, size_t n, size_t stride, double p,
                              double *scratch)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (a[i * stride] > 0.0)
            scratch[k++] = a[i * stride];
    if (k == 0)
        return 0.0;
    gsl_sort(scratch, 1, k);
    return gsl_stats_quantile_from_sorted_data(scratch, 1, k, p / 100.0);
}

/* ---- passes over the calibration batch ---------------------------------------------- */

/* Example i's sums of layer l land at buf + i·stride + off[l] (layers
 * first..n_run−1); its layer statistics at stats + i·n_run (may be NULL). */
typedef struct pass_ctx {
    const mx_snn *net;
    const float *x;
    size_t n_in;
    uint64_t seed, item_base;
    size_t n_run, first;
    size_t off[MX_SNN_MAX_LAYERS];
    size_t stride;
    double *buf;
    mx_snn_layer_stats *stats;
} pass_ctx;

static mx_status pass_state_create(const void *ctx, void **state)
{
    return mx_snn_state_create(((const pass_ctx *)ctx)->net, (mx_snn_state **)state);
}

static void pass_state_destroy(void *state) { mx_snn_state_destroy(state); }

static mx_status pass_item(const void *ctx, void *state, size_t i)
{
    const pass_ctx *c = ctx;
    double *sum[MX_SNN_MAX_LAYERS] = {0};
    for (size_t l = c->first; l < c->n_run; l++)
        sum[l] = c->buf + i * c->stride + c->off[l];
    memset(c->buf + i * c->stride, 0, c->stride * sizeof(double));
    mx_snn_layer_stats *ls = c->stats ? c->stats + i * c->n_run : NULL;
    if (ls)
        memset(ls, 0, c->n_run * sizeof *ls);
    return mx_snn_run_currents(c->net, state, c->x + i * c->n_in, c->seed, c->item_base + i,
                               c->n_run, sum, ls);
}

static mx_status run_pass(const pass_ctx *c, size_t n)
{
    static const mx_parallel_ops ops = {pass_state_create, pass_state_destroy, pass_item};
    return mx_parallel_items(&ops, c, n, 4, NULL);
}

/* a (n, n_out) ← the per-step means of layer l's sums in buf. */
static void gather(double *a, const pass_ctx *c, size_t l, size_t n, size_t n_out, double T)
{
    for (size_t i = 0; i < n; i++)
        for (size_t o = 0; o < n_out; o++)
            a[i * n_out + o] = c->buf[i * c->stride + c->off[l] + o] / T;
}

static void reset_thresholds(mx_snn *net)
{
    for (size_t l = 0; l < mx_snn_n_layers(net); l++)
        mx_snn_set_thresholds(net, l, NULL);
}

mx_status mx_rebalance_thresholds(mx_snn *net, const mx_rebalance_config *c, const float *x,
                                  size_t n, size_t n_in, uint64_t seed, uint64_t item_base,
                                  mx_rebalance_report *report)
{
    const size_t L = mx_snn_n_layers(net);
    mx_rebalance_report local;
    mx_rebalance_report *rep = report ? report : &local;
    memset(rep, 0, sizeof *rep);
    rep->n_layers = L;
    mx_status st = mx_rebalance_config_validate(c);
    if (st || c->mode == MX_REBALANCE_NONE)
        return st;
    if (n == 0)
        return mx_fail(MX_EINVAL, "threshold re-balancing: expected at least one example");
    rep->examples = n;
    const double p = mx_snn_get_config(net)->norm_percentile;
    const double T = (double)mx_snn_get_config(net)->timesteps;
    reset_thresholds(net);

    size_t total = 0, widest = 0;
    size_t n_out[MX_SNN_MAX_LAYERS];
    mx_matmul *mm[MX_SNN_MAX_LAYERS];
    pass_ctx dig = {.net = net, .x = x, .n_in = n_in, .seed = seed, .item_base = item_base,
                    .n_run = L, .first = 0};
    for (size_t l = 0; l < L; l++) {
        mx_snn_weights(net, l, &n_out[l], NULL);
        mm[l] = mx_snn_backend(net, l);
        dig.off[l] = total;
        total += n_out[l];
        widest = n_out[l] > widest ? n_out[l] : widest;
    }
    dig.stride = total;
    double *dig_buf = mx_alloc(mx_size_mul(n, total) * sizeof(double));
    double *hw_buf = mx_alloc(mx_size_mul(n, widest) * sizeof(double));
    double *a_dig = mx_alloc(mx_size_mul(n, widest) * sizeof(double));
    double *a_hw = mx_alloc(mx_size_mul(n, widest) * sizeof(double));
    double *scratch = mx_alloc(mx_size_mul(n, widest) * sizeof(double));
    float *theta = mx_alloc(widest * sizeof(float));
    mx_snn_layer_stats *stats = mx_alloc(mx_size_mul(n, L) * sizeof(mx_snn_layer_stats));
    if (!dig_buf || !hw_buf || !a_dig || !a_hw || !scratch || !theta || !stats)
        st = mx_fail(MX_ENOMEM, "threshold re-balancing: out of memory");

    /* The digital network's statistics, every layer in one pass. */
    if (!st) {
        for (size_t l = 0; l < L; l++)
            mx_snn_set_backend(net, l, NULL);
        dig.buf = dig_buf;
        st = run_pass(&dig, n);
        for (size_t l = 0; l < L; l++)
            mx_snn_set_backend(net, l, mm[l]);
    }

    for (size_t l = 0; l < L && !st; l++) {
        rep->theta_mean[l] = rep->theta_min[l] = rep->theta_max[l] = 1.0;
        gather(a_dig, &dig, l, n, n_out[l], T);
        const double s_dig = mx_positive_percentile(a_dig, n * n_out[l], 1, p, scratch);
        rep->stat_digital[l] = s_dig;
        if (!mm[l])
            continue; /* digital: nothing to correct */
        if (!(s_dig > 0.0)) {
            st = mx_fail(MX_ENUMERIC, "threshold re-balancing: layer %zu has no positive input "
                                      "current on the digital network over %zu examples",
                         l, n);
            break;
        }
        pass_ctx hw = {.net = net, .x = x, .n_in = n_in, .seed = seed, .item_base = item_base,
                       .n_run = l + 1, .first = l, .stride = n_out[l], .buf = hw_buf,
                       .stats = stats};
        if ((st = run_pass(&hw, n)))
            break;
        rep->passes += n;
        for (size_t i = 0; i < n; i++) /* fixed order: same sums at any thread count */
            for (size_t k = 0; k <= l; k++) {
                const mx_snn_layer_stats *s = &stats[i * (l + 1) + k];
                mx_snn_layer_stats *r = &rep->stats[k];
                r->err_sq_sum += s->err_sq_sum;
                r->ref_sq_sum += s->ref_sq_sum;
                r->err_sum += s->err_sum;
                r->n_values += s->n_values;
                r->spikes += s->spikes;
                r->neuron_updates += s->neuron_updates;
                r->decisions += s->decisions;
                mx_matmul_stats_add(&r->mm, &s->mm);
            }
        gather(a_hw, &hw, l, n, n_out[l], T);
        const double s_hw = mx_positive_percentile(a_hw, n * n_out[l], 1, p, scratch);
        rep->stat_hardware[l] = s_hw;
        if (!(s_hw > 0.0)) {
            st = mx_fail(MX_ENUMERIC, "threshold re-balancing: layer %zu has no positive input "
                                      "current on the hardware over %zu examples",
                         l, n);
            break;
        }
        const double layer_factor = s_hw / s_dig;
        double sum = 0.0, lo = HUGE_VAL, hi = 0.0;
        for (size_t o = 0; o < n_out[l]; o++) {
            double f = layer_factor;
            if (c->mode == MX_REBALANCE_NEURON) {
                const double d = mx_positive_percentile(a_dig + o, n, n_out[l], p, scratch);
                const double h = mx_positive_percentile(a_hw + o, n, n_out[l], p, scratch);
                if (d > 0.0 && h > 0.0)
                    f = h / d;
                else
                    rep->neurons_fallback[l]++;
            }
            theta[o] = (float)f;
            sum += (double)theta[o];
            lo = (double)theta[o] < lo ? (double)theta[o] : lo;
            hi = (double)theta[o] > hi ? (double)theta[o] : hi;
        }
        rep->theta_mean[l] = sum / (double)n_out[l];
        rep->theta_min[l] = lo;
        rep->theta_max[l] = hi;
        st = mx_snn_set_thresholds(net, l, theta);
    }
    if (st)
        reset_thresholds(net);
    mx_free(dig_buf);
    mx_free(hw_buf);
    mx_free(a_dig);
    mx_free(a_hw);
    mx_free(scratch);
    mx_free(theta);
    mx_free(stats);
    return st;
}
