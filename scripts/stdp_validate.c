/* SPDX-License-Identifier: MIT
 *
 * stdp_validate.c: the validation driver that chose the 100-neuron Diehl &
 * Cook setting (docs/snn.md). Trains on the first N MNIST TRAINING images, labels the neurons
 * from their frozen responses to the first L training images, and measures
 * accuracy on training images [V0, V0 + NV) (a held-out validation split:
 * V0 >= N so none of them was learned from). The MNIST test set is never
 * loaded. Readouts: Diehl & Cook's (mean count of each label group,
 * mx_stdp_assign_labels / mx_stdp_predict) and BindsNET's proportion
 * weighting (Hazan et al., Front. Neuroinform. 12:89, 2018;
 * bindsnet.evaluation.proportion_weighting).
 *
 *   ninja -C build stdp_validate
 *   MEMXBAR_DATA=../shared/data build/stdp_validate SEED N L V0 NV [stdp.field=value ...]
 *   e.g. build/stdp_validate 1 50000 10000 50000 10000 stdp.w_inh_exc=35
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "experiments/config.h"
#include "experiments/dataset.h"
#include "snn/stdp.h"

static void frozen(const mx_stdp *net, mx_stdp_state *s, const mx_dataset *d, size_t first,
                   size_t n, uint64_t seed, uint32_t *counts)
{
    const size_t ne = mx_stdp_get_config(net)->n_exc;
    for (size_t i = 0; i < n; i++)
        if (mx_stdp_run(net, s, d->x + (first + i) * d->dim, seed, first + i, NULL, 0,
                        counts + i * ne, NULL, NULL, NULL)) {
            fprintf(stderr, "run failed: %s\n", mx_last_error());
            exit(1);
        }
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: stdp_validate SEED N L V0 NV [stdp.x=v ...]\n");
        return 2;
    }
    const uint64_t seed = strtoull(argv[1], NULL, 10);
    const size_t n = strtoull(argv[2], NULL, 10), nl = strtoull(argv[3], NULL, 10);
    const size_t v0 = strtoull(argv[4], NULL, 10), nv = strtoull(argv[5], NULL, 10);
    mx_experiment_config cfg;
    mx_config_default(&cfg);
    for (int a = 6; a < argc; a++) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", argv[a]);
        char *eq = strchr(buf, '=');
        if (!eq) return 2;
        *eq = '\0';
        if (mx_config_set(&cfg, buf, eq + 1)) {
            fprintf(stderr, "%s\n", mx_last_error());
            return 2;
        }
    }
    if (v0 < n || v0 + nv > 60000 || nl > v0) {
        fprintf(stderr, "validation must follow the training and labelling examples\n");
        return 2;
    }
    char dir[1024];
    mx_dataset tr;
    if (mx_data_dir_find(NULL, dir, sizeof dir) ||
        mx_dataset_load(dir, "mnist", MX_SPLIT_TRAIN, 0, &tr)) {
        fprintf(stderr, "%s\n", mx_last_error());
        return 1;
    }
    mx_stdp *net;
    if (mx_stdp_create(&cfg.stdp, tr.dim, tr.n_classes, NULL, NULL, seed, &net)) {
        fprintf(stderr, "%s\n", mx_last_error());
        return 1;
    }
    const double t0 = mx_seconds_now();
    if (mx_stdp_train(net, tr.x, tr.y, n, seed)) {
        fprintf(stderr, "%s\n", mx_last_error());
        return 1;
    }
    const double t1 = mx_seconds_now();
    const size_t ne = cfg.stdp.n_exc, nc = tr.n_classes;
    mx_stdp_state *s;
    if (mx_stdp_state_create(net, &s)) return 1;
    uint32_t *cl = malloc(nl * ne * sizeof *cl), *cv = malloc(nv * ne * sizeof *cv);
    frozen(net, s, &tr, 0, nl, seed, cl);
    frozen(net, s, &tr, v0, nv, seed, cv);
    int *label = malloc(ne * sizeof *label);
    mx_stdp_assign_labels(cl, tr.y, nl, ne, nc, label);
    /* rates (ne, nc): mean count per class (for the silent-neuron count) */
    double *rate = calloc(ne * nc, sizeof *rate);
    float *prop = calloc(ne * nc, sizeof *prop);
    size_t per[64] = {0}, silent = 0, sp = 0;
    for (size_t e = 0; e < nl; e++) {
        per[tr.y[e]]++;
        for (size_t j = 0; j < ne; j++)
            rate[j * nc + tr.y[e]] += cl[e * ne + j];
    }
    mx_stdp_assign_proportions(cl, tr.y, nl, ne, nc, prop);
    size_t ok_mean = 0, ok_prop = 0;
    for (size_t e = 0; e < nv; e++) {
        const uint32_t *c = cv + e * ne;
        const int y = tr.y[v0 + e];
        ok_mean += mx_stdp_predict(c, label, ne, nc) == y;
        ok_prop += mx_stdp_predict_proportion(c, label, prop, ne, nc) == y;
        for (size_t j = 0; j < ne; j++) sp += c[j];
    }
    for (size_t j = 0; j < ne; j++) {
        double sum = 0;
        for (size_t c = 0; c < nc; c++) sum += rate[j * nc + c];
        silent += sum == 0;
    }
    double th = 0;
    for (size_t j = 0; j < ne; j++) th += (double)mx_stdp_theta(net)[j];
    printf("RESULT seed=%llu N=%zu L=%zu val=[%zu,%zu)", (unsigned long long)seed, n, nl, v0,
           v0 + nv);
    for (int a = 6; a < argc; a++) printf(" %s", argv[a]);
    printf(" | mean %.2f %% prop %.2f %% | silent %zu, spikes/ex %.1f, mean theta %.2f mV, "
           "train %.0f s, total %.0f s\n",
           100.0 * ok_mean / nv, 100.0 * ok_prop / nv, silent, (double)sp / nv,
           1e3 * th / ne, t1 - t0, mx_seconds_now() - t0);
    return 0;
}
