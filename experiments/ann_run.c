/* SPDX-License-Identifier: MIT
 *
 * ann_run.c: one `model.run_as: ann` sweep point (ann_run.h) — the trained
 * MLP on the crossbar, evaluated and priced like the SNN point of run.c so
 * the two share a results file.
 *
 * Seeds: the matmuls use the point's hardware seed and layer ids 0..L−1, as
 * the SNN's do, and map the same weights up to a per-layer factor, so an ANN
 * point and an SNN point of one repeat program the very same cells (and ADC
 * instances): the comparison is on one chip. Reads draw "crossbar.read" with
 * the test image as item. Per-image counts are kept and summed in image
 * order, so results do not depend on the thread count.
 *
 * Energy: each layer's counts (one input pass per image, dac_bits − 1 for
 * bit-serial; rows driven only where the quantised input is non-zero, so a
 * ReLU zero costs no drive) priced by energy/ with no neuron updates and one
 * activation per output.
 */
#include "experiments/ann_run.h"

#include <math.h>
#include <string.h>

#include <omp.h>

#include "calibration/calibration.h"
#include "core/log.h"
#include "core/parallel.h"
#include "crossbar/crossbar.h"
#include "experiments/method.h"
#include "snn/ann.h"

/* One evaluation pass, as the items of mx_parallel_items. */
typedef struct eval_ctx {
    const mx_ann *net;
    const mx_dataset *test;
    uint64_t seed;
    size_t compare_images;
    int *pred;
    mx_ann_layer_stats *stats;
} eval_ctx;

static mx_status eval_state_create(const void *ctx, void **state)
{
    return mx_ann_state_create(((const eval_ctx *)ctx)->net, (mx_ann_state **)state);
}

static void eval_state_destroy(void *state) { mx_ann_state_destroy(state); }

static mx_status eval_item(const void *ctx, void *state, size_t i)
{
    const eval_ctx *c = ctx;
    return mx_ann_run(c->net, state, c->test->x + i * c->test->dim, c->seed, i,
                      i < c->compare_images, NULL, &c->pred[i],
                      c->stats + i * mx_ann_n_layers(c->net));
}

/* Every test image through the network. OUT: pred (n), stats (n, L) zeroed
 * first. */
static mx_status evaluate(const mx_ann *net, const mx_dataset *test, size_t n, uint64_t seed,
                          size_t compare_images, int *pred, mx_ann_layer_stats *stats,
                          const char *what)
{
    memset(stats, 0, n * mx_ann_n_layers(net) * sizeof *stats);
    static const mx_parallel_ops ops = {eval_state_create, eval_state_destroy, eval_item};
    const eval_ctx ctx = {net, test, seed, compare_images, pred, stats};
    return mx_parallel_items(&ops, &ctx, n, 16, what);
}

/* Sum the per-image stats of layer l in image order and fill its columns. */
static mx_status summarise_layer(const mx_ann *net, size_t l, const mx_ann_layer_stats *stats,
                                 size_t n, const mx_experiment_config *pc, mx_ann_point *out,
                                 uint64_t *conversions, uint64_t *clipped)
{
    const size_t L = mx_ann_n_layers(net);
    mx_ann_layer_stats s = {0};
    for (size_t i = 0; i < n; i++) {
        const mx_ann_layer_stats *x = &stats[i * L + l];
        s.err_sq_sum += x->err_sq_sum;
        s.ref_sq_sum += x->ref_sq_sum;
        s.err_sum += x->err_sum;
        s.n_values += x->n_values;
        s.activations += x->activations;
        s.nonzero += x->nonzero;
        mx_matmul_stats_add(&s.mm, &x->mm);
    }
    size_t n_out;
    mx_ann_weights(net, l, &n_out, NULL);
    out->rel_rms[l] = s.ref_sq_sum > 0.0 ? sqrt(s.err_sq_sum / s.ref_sq_sum) : 0.0;
    out->mean_err[l] = s.n_values ? s.err_sum / (double)s.n_values : 0.0;
    out->clip[l] = s.mm.conversions ? (double)s.mm.clipped / (double)s.mm.conversions : 0.0;
    out->activity[l] = (double)s.nonzero / ((double)n * (double)n_out);
    *conversions += s.mm.conversions;
    *clipped += s.mm.clipped;

    mx_energy_layer hw;
    mx_status st = mx_energy_layer_describe(mx_ann_backend(net, l), &pc->hardware.energy,
                                            &pc->hardware.device, 0, 0, &hw);
    if (st)
        return st;
    const mx_energy_counts counts = {.mm = s.mm, .activations = s.activations};
    mx_energy_breakdown b;
    mx_energy_cost(&pc->hardware.energy, &hw, &counts, (double)n, &b);
    memcpy(out->e_parts + l * MX_ENERGY_N_COMPONENTS, b.energy_j, sizeof b.energy_j);
    out->e_layer[l] = b.total_j;
    out->latency[l] = b.latency_s;
    out->area[l] = 1e-6 * mx_energy_area_um2(&pc->hardware.energy, &hw, NULL, NULL);
    return MX_OK;
}

mx_status mx_ann_point_run(const mx_mlp *mlp, const mx_experiment_config *pc,
                           const mx_dataset *calib, size_t n_calib, const mx_dataset *test,
                           size_t n_test, uint64_t hw_seed, uint64_t eval_seed,
                           uint64_t calib_item_base, size_t compare_images, const char *what,
                           mx_ann_point *out)
{
    memset(out, 0, sizeof *out);
    const size_t L = mlp->n_layers, n = n_test;
    if (L > MX_RESULTS_MAX_LAYERS)
        return mx_fail(MX_EINVAL, "model.hidden: the ANN has %zu layers, at most %d", L,
                       MX_RESULTS_MAX_LAYERS);
    if (pc->hardware.readout.kind != MX_READOUT_ADC)
        return mx_fail(MX_EINVAL, "hardware.readout.kind: expected adc with model.run_as ann "
                                  "(the ADC-less readout is a spiking neuron), got integrate");
    if (n == 0)
        return mx_fail(MX_EINVAL, "ANN evaluation: no test images");
    mx_ann *net = NULL;
    mx_matmul *mm[MX_ANN_MAX_LAYERS] = {0};
    int *pred = mx_alloc(n * sizeof(int));
    mx_ann_layer_stats *stats = mx_alloc(mx_size_mul(n, L) * sizeof *stats);
    mx_status st = pred && stats ? MX_OK : mx_fail(MX_ENOMEM, "ANN evaluation: out of memory");
    if (!st)
        st = mx_ann_from_mlp(mlp, calib->x, n_calib, pc->snn.norm_percentile, &net);
    if (!st)
        st = mx_ann_program_crossbars(net, &pc->hardware.crossbar,
                                      mx_device_lookup(pc->hardware.device_type),
                                      &pc->hardware.device, &pc->hardware.adc, hw_seed, mm);
    /* ADC ranges, then drift compensation, in rounds (method.h). */
    for (size_t round = 0; !st && round < mx_method_drift_rounds(pc, L); round++) {
        st = mx_calibrate_ann_adc_ranges(net, calib->x, n_calib, calib->dim,
                                         pc->hardware.adc.range_percentile, eval_seed,
                                         calib_item_base, out->range_a);
        if (!st)
            st = mx_method_drift_compensation(&out->pr, pc, mm, L, eval_seed);
        if (!st)
            st = mx_method_column_calibration(&out->pr, pc, mm, L, eval_seed);
    }
    if (!st)
        st = evaluate(net, test, n, eval_seed, compare_images, pred, stats, what);
    uint64_t conversions = 0, clipped = 0;
    for (size_t l = 0; l < L && !st; l++)
        st = summarise_layer(net, l, stats, n, pc, out, &conversions, &clipped);
    if (!st) {
        size_t correct = 0;
        for (size_t i = 0; i < n; i++)
            correct += pred[i] == (int)test->y[i];
        out->accuracy_vs_step[0] = (double)correct / (double)n;
        mx_point_result *pr = &out->pr;
        pr->n_test = n;
        pr->accuracy = out->accuracy_vs_step[0];
        pr->accuracy_snn_digital = NAN;
        pr->adc_clip_rate = conversions ? (double)clipped / (double)conversions : 0.0;
        pr->timesteps = 1;
        pr->accuracy_vs_step = out->accuracy_vs_step;
        pr->n_layers = L;
        pr->layer_rel_rms_error = out->rel_rms;
        pr->layer_mean_error = out->mean_err;
        pr->layer_clip_rate = out->clip;
        pr->layer_adc_range_a = out->range_a;
        pr->layer_spike_rate = out->activity;
        pr->layer_energy_parts_j = out->e_parts;
        pr->layer_energy_j = out->e_layer;
        pr->layer_latency_s = out->latency;
        pr->layer_area_mm2 = out->area;
        for (size_t l = 0; l < L; l++) {
            pr->energy_j += out->e_layer[l];
            pr->latency_s += out->latency[l];
            pr->area_mm2 += out->area[l];
        }
        pr->network = "ann";
        mx_method_programming_cost(pr, mm, L);
    }
    for (size_t l = 0; l < L; l++)
        mx_matmul_destroy(mm[l]);
    mx_ann_destroy(net);
    mx_free(pred);
    mx_free(stats);
    return st;
}
