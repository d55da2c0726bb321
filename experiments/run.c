/* SPDX-License-Identifier: MIT
 *
 * run.c: the sweep runner (see experiments.h for the stages and the seeding
 * scheme). Trained networks are kept in memory for the run and cached in
 * HDF5 under the cache folder, keyed by every setting that shapes training,
 * so a second sweep does not retrain. A point with model.run_as ann runs the
 * trained network itself on the crossbar instead of its SNN (ann_run.c) and
 * is written the same way (record_point).
 */
#include "experiments/experiments.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <omp.h>

#include "calibration/calibration.h"
#include "core/log.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "crossbar/crossbar.h"
#include "energy/energy.h"
#include "experiments/ann_run.h"
#include "experiments/cnn_run.h"
#include "experiments/surrogate_run.h"
#include "experiments/stdp_run.h"
#include "experiments/dataset.h"
#include "experiments/method.h"
#include "experiments/online_run.h"
#include "experiments/results.h"
#include "experiments/run_internal.h"
#include "experiments/weights.h"
#include "snn/snn.h"
#include "snn/train.h"

#define RUN_MAX_NETWORKS 64
#define RUN_KEY_BYTES 4096
/* Per-layer error statistics against the digital W·x are measured on the
 * first this many test images (12 800+ steps × outputs: plenty for an RMS),
 * which keeps the digital twin off most of the evaluation. */
#define RUN_COMPARE_IMAGES 256
/* Calibration examples use read/encoder stream items from here on, apart
 * from the test images' items 0..n_test−1. */
#define RUN_CALIB_ITEM_BASE ((uint64_t)1 << 40)
/* Threshold re-balancing's calibration examples: items of their own. */
#define RUN_REBALANCE_ITEM_BASE ((uint64_t)2 << 40)

static volatile sig_atomic_t stop_requested;

void mx_experiment_request_stop(void) { stop_requested = 1; }

/* Declared in experiments/online_run.h (the online runner and the
 * distributed sweep share the flag). */
int mx_experiment_stop_requested(void) { return stop_requested != 0; }

#define RUN_MAX_DIGITAL 64

/* The digital SNN's accuracy depends on the network, the SNN settings and the
 * repeat (its input spikes), not on the hardware: kept per network. */
typedef struct digital_result {
    char key[512]; /* SNN settings and repeat */
    double accuracy;
} digital_result;

typedef struct net_entry {
    char key[RUN_KEY_BYTES];
    mx_mlp *mlp;
    double ann_accuracy; /* on the evaluated test images */
    digital_result digital[RUN_MAX_DIGITAL];
    size_t n_digital;
} net_entry;

typedef struct run_ctx {
    const mx_run_options *opt;
    mx_run_emit_fn emit;         /* where a finished point goes (mx_run_ctx_open) */
    void *emit_user;
    char cache_dir[1024];
    mx_dataset train, test;
    size_t n_test;
    net_entry nets[RUN_MAX_NETWORKS];
    size_t n_nets;
    mx_run_report *report;
} run_ctx;

/* The finished point, to the writer (this process's, or a distributed
 * sweep's over MPI). */
static mx_status emit_point(run_ctx *ctx, const mx_point_result *pr)
{
    return ctx->emit(ctx->emit_user, pr);
}

/* A 64-bit seed derived from the root seed for a named stage and an index. */
static uint64_t derive_seed(uint64_t root, const char *stage, uint64_t index)
{
    mx_rng r;
    mx_rng_init_named(&r, root, stage, index);
    uint64_t lo = mx_rng_u32(&r);
    return lo | ((uint64_t)mx_rng_u32(&r) << 32);
}

static const char *const plain_key_paths[] = {
    "seed", "dataset.name", "dataset.train_limit", "model.hidden", "training.optimizer",
    "training.epochs", "training.batch_size", "training.learning_rate", "training.lr_decay",
    "training.momentum", "training.weight_decay", NULL};
static const char *const snn_key_paths[] = {
    "snn.neuron", "snn.timesteps", "snn.tau_mem_s", "snn.dt_s", "snn.encoder", "snn.max_rate_hz",
    "snn.norm_percentile", "dataset.calibration_images", NULL};
static const char *const noise_key_paths[] = {
    "training.noise_epochs", "training.noise_learning_rate", "hardware.device.type", "hardware.device.g_min_s",
    "hardware.device.g_max_s", "hardware.device.levels", "hardware.device.prog_noise",
    "hardware.device.stuck_at_gmin", "hardware.device.stuck_at_gmax", NULL};

static double training_sigma(const mx_experiment_config *cfg)
{
    return cfg->training.noise_sigma < 0.0 ? cfg->hardware.device.d2d_sigma
                                           : cfg->training.noise_sigma;
}

/* Hardware-aware training also depends on everything its forward pass
 * runs through: the readable essentials, and a hash of every device,
 * crossbar and ADC field (their full list would not fit the key) except
 * d2d_sigma (the training σ is in the key) and the input full scale (set
 * per layer from snn.norm_percentile); input spikes counts as dac, which
 * training uses instead. */
static const char *const hwa_key_paths[] = {
    "training.mode", "training.hwa_reprogram_every", "training.hwa_backward",
    "hardware.device.read_noise_sigma", "hardware.adc.type", "hardware.adc.bits",
    "hardware.adc.range_percentile", "hardware.crossbar.dac_bits", "hardware.crossbar.r_wire_ohm",
    "hardware.crossbar.irdrop", "snn.norm_percentile", "dataset.calibration_images", NULL};

static mx_status hwa_hardware_hash(const mx_experiment_config *cfg, uint64_t *hash)
{
    char text[RUN_KEY_BYTES];
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < mx_config_n_fields(); i++) {
        mx_config_field_info f;
        if (mx_config_field_at(i, &f))
            break;
        if (strncmp(f.path, "hardware.device.", 16) && strncmp(f.path, "hardware.crossbar.", 18) &&
            strncmp(f.path, "hardware.adc.", 13))
            continue;
        if (!strcmp(f.path, "hardware.device.d2d_sigma") ||
            !strcmp(f.path, "hardware.crossbar.input_full_scale"))
            continue;
        char value[256];
        mx_status st = mx_config_get(cfg, f.path, value, sizeof value);
        if (st)
            return st;
        /* training drives DAC rows where the evaluation drives spikes */
        if (!strcmp(f.path, "hardware.crossbar.input") && !strcmp(value, "spikes"))
            snprintf(value, sizeof value, "dac");
        snprintf(text, sizeof text, "%s=%s;", f.path, value);
        for (const char *c = text; *c; c++) {
            h ^= (unsigned char)*c;
            h *= 1099511628211ull;
        }
    }
    *hash = h;
    return MX_OK;
}

static mx_status training_key(const mx_experiment_config *cfg, mx_training_mode mode, char *key,
                              size_t key_size)
{
    key[0] = '\0';
    mx_status st = mx_method_key_append(cfg, plain_key_paths, key, key_size);
    if (!st && cfg->model.weights[0] != '\0') { /* keyed only when set: caches stay valid */
        static const char *const weights_path[] = {"model.weights", NULL};
        st = mx_method_key_append(cfg, weights_path, key, key_size);
    }
    if (!st && mode != MX_TRAINING_PLAIN) {
        st = mx_method_key_append(cfg, noise_key_paths, key, key_size);
        size_t used = strlen(key);
        snprintf(key + used, key_size - used, "noise_sigma=%.17g;", training_sigma(cfg));
    }
    if (!st && mode == MX_TRAINING_HARDWARE_AWARE) {
        uint64_t hash = 0;
        if (!(st = mx_method_key_append(cfg, hwa_key_paths, key, key_size)) &&
            !(st = hwa_hardware_hash(cfg, &hash))) {
            size_t used = strlen(key);
            snprintf(key + used, key_size - used, "hwa_hardware=%016llx;",
                     (unsigned long long)hash);
        }
    }
    return st;
}

static mx_status make_dir(const char *path)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return mx_fail(MX_EIO, "%s: cannot create folder: %s", path, strerror(errno));
    return MX_OK;
}

/* The device model that perturbs the weights in noise-aware training: the
 * evaluated device at the training σ, without read noise. */
static mx_noise_aware training_device(const mx_experiment_config *cfg)
{
    mx_noise_aware na = {.device = mx_device_lookup(cfg->hardware.device_type),
                         .params = cfg->hardware.device};
    na.params.d2d_sigma = training_sigma(cfg);
    na.params.read_noise_sigma = 0.0;
    return na;
}

/* The hardware of hardware-aware training: the evaluated crossbar (DAC-driven
 * rows where the evaluation drives spikes), device at the training σ, ADC. */
static mx_hardware_aware training_hardware(const mx_experiment_config *cfg)
{
    mx_hardware_aware h;
    mx_hardware_aware_default(&h);
    h.hw.xbar = cfg->hardware.crossbar;
    if (h.hw.xbar.input == MX_INPUT_SPIKES)
        h.hw.xbar.input = MX_INPUT_DAC;
    /* Training chips are written open-loop: hardware.programming is how the
     * evaluated chip is programmed (and is not in the training key). */
    h.hw.xbar.programming = MX_PROGRAMMING_OPEN_LOOP;
    h.hw.xbar.drift.mode = MX_DRIFT_NONE; /* nor drift-compensated */
    h.hw.xbar.column_cal.mode = MX_COLUMN_CAL_NONE; /* nor column-calibrated */
    h.hw.device = mx_device_lookup(cfg->hardware.device_type);
    h.hw.device_params = cfg->hardware.device;
    h.hw.device_params.d2d_sigma = training_sigma(cfg);
    h.hw.adc = cfg->hardware.adc;
    h.reprogram_every = cfg->training.hwa_reprogram_every;
    h.backward = cfg->training.hwa_backward;
    h.input_percentile = cfg->snn.norm_percentile;
    h.calib_examples = cfg->dataset.calibration_images;
    return h;
}

/* Cells programmed to probe the model: targets spread over the window. */
#define PROBE_CELLS 64

/* Does programming through the device change weights at all? If not,
 * noise-aware training is plain training (the same network). The model is
 * asked, not second-guessed: a probe block is programmed and compared with
 * its targets; rare faults a probe could miss are checked directly. */
static int training_perturbs(const mx_experiment_config *cfg)
{
    mx_noise_aware na = training_device(cfg);
    const mx_device_params *p = &na.params;
    if (p->stuck_at_gmin_frac > 0.0 || p->stuck_at_gmax_frac > 0.0)
        return 1;
    float target[PROBE_CELLS], out[PROBE_CELLS];
    for (size_t i = 0; i < PROBE_CELLS; i++)
        target[i] = (float)(p->g_min_s + (p->g_max_s - p->g_min_s) * ((double)i + 0.37) /
                                             (double)PROBE_CELLS);
    mx_rng rng;
    mx_rng_init_named(&rng, cfg->seed, "train.probe", 0);
    mx_device_program(na.device, p, target, out, PROBE_CELLS, &rng);
    return memcmp(target, out, sizeof target) != 0;
}

/* Entry e (its network set) joins the sweep's networks, with its ANN
 * accuracy on the evaluated test images. */
static mx_status add_entry(run_ctx *ctx, net_entry *e, net_entry **out)
{
    mx_status st = mx_mlp_accuracy(e->mlp, ctx->test.x, ctx->test.y, ctx->n_test,
                                   &e->ann_accuracy);
    if (st) {
        mx_mlp_destroy(e->mlp);
        e->mlp = NULL;
        return st;
    }
    ctx->n_nets++;
    *out = e;
    return MX_OK;
}

/* The network of model.weights (trained elsewhere), checked against the
 * shape the config and the dataset describe, as the entry e. */
static mx_status load_external(run_ctx *ctx, const mx_experiment_config *cfg, net_entry *e,
                               net_entry **out)
{
    char file[MX_DEVICE_PATH_BYTES + 1024];
    mx_config_file_path(cfg, cfg->model.weights, file, sizeof file);
    mx_status st = mx_weights_load(file, NULL, &e->mlp, NULL);
    if (st)
        return mx_fail_context(st, "model.weights");
    const mx_mlp *m = e->mlp;
    int same = m->n_layers == cfg->model.n_hidden + 1 && m->sizes[0] == ctx->train.dim &&
               m->sizes[m->n_layers] == ctx->train.n_classes;
    for (size_t l = 0; same && l < cfg->model.n_hidden; l++)
        same = m->sizes[l + 1] == cfg->model.hidden[l];
    if (!same) {
        char has[256] = "", want[256] = "";
        for (size_t l = 0; l <= m->n_layers; l++)
            snprintf(has + strlen(has), sizeof has - strlen(has), "%s%zu", l ? "-" : "",
                     m->sizes[l]);
        snprintf(want, sizeof want, "%zu", ctx->train.dim);
        for (size_t l = 0; l < cfg->model.n_hidden; l++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "-%zu",
                     cfg->model.hidden[l]);
        snprintf(want + strlen(want), sizeof want - strlen(want), "-%zu",
                 ctx->train.n_classes);
        mx_mlp_destroy(e->mlp);
        e->mlp = NULL;
        return mx_fail(MX_EINVAL, "model.weights: %s holds a %s network; the config and the "
                                  "dataset describe %s (set model.hidden to the file's hidden "
                                  "widths)", file, has, want);
    }
    mx_log(MX_LOG_INFO, "network from model.weights: %s (not trained here)", file);
    ctx->report->networks_cached++;
    return add_entry(ctx, e, out);
}

static mx_status get_network(run_ctx *ctx, const mx_experiment_config *cfg,
                             mx_training_mode mode, net_entry **out);
static mx_status load_or_train(run_ctx *ctx, const mx_experiment_config *cfg,
                               mx_training_mode mode, const char *key, const char *path,
                               net_entry *e, net_entry **out);

/* The next free entry, keyed `key` (it joins the list in add_entry). */
static mx_status take_slot(run_ctx *ctx, const char *key, net_entry **e)
{
    if (ctx->n_nets == RUN_MAX_NETWORKS)
        return mx_fail(MX_EINVAL, "sweep needs more than %d distinct trained networks",
                       RUN_MAX_NETWORKS);
    *e = &ctx->nets[ctx->n_nets];
    snprintf((*e)->key, sizeof (*e)->key, "%s", key);
    return MX_OK;
}

/* Fine-tuning (noise-aware, hardware-aware) starts from a copy of the plain
 * network. Finding or training that one may take the entry taken for the
 * fine-tuned network, so the entry is taken again afterwards. OUT: *e, an
 * entry of its own holding the copy; *fine, training.train at the
 * fine-tuning rate. */
static mx_status start_fine_tuning(run_ctx *ctx, const mx_experiment_config *cfg,
                                   const char *key, net_entry **e, mx_train_config *fine)
{
    net_entry *plain;
    mx_status st = get_network(ctx, cfg, MX_TRAINING_PLAIN, &plain);
    if (!st)
        st = take_slot(ctx, key, e);
    if (!st)
        st = mx_mlp_clone(plain->mlp, &(*e)->mlp);
    *fine = cfg->training.train;
    fine->learning_rate = cfg->training.noise_learning_rate;
    return st;
}

/* Find, load or train the network a config asks for. */
static mx_status get_network(run_ctx *ctx, const mx_experiment_config *cfg,
                             mx_training_mode mode, net_entry **out)
{
    if (mode == MX_TRAINING_NOISE_AWARE && !training_perturbs(cfg))
        mode = MX_TRAINING_PLAIN;
    char key[RUN_KEY_BYTES];
    mx_status st = training_key(cfg, mode, key, sizeof key);
    if (st)
        return st;
    for (size_t i = 0; i < ctx->n_nets; i++)
        if (strcmp(ctx->nets[i].key, key) == 0) {
            *out = &ctx->nets[i];
            return MX_OK;
        }
    net_entry *e = NULL;
    if ((st = take_slot(ctx, key, &e)))
        return st;
    char path[1200];
    snprintf(path, sizeof path, "%s/net-%016llx.h5", ctx->cache_dir,
             (unsigned long long)mx_method_key_hash(key));

    if (mode == MX_TRAINING_PLAIN && cfg->model.weights[0] != '\0')
        return load_external(ctx, cfg, e, out);
    /* Other processes may share the cache folder (a distributed sweep's
     * ranks): the first to take the key's lock trains, the rest load. */
    if (make_dir(ctx->cache_dir))
        mx_clear_error(); /* then no lock and no cache: only costs time */
    int lock = mx_cache_lock(path);
    st = load_or_train(ctx, cfg, mode, key, path, e, out);
    mx_cache_unlock(lock);
    return st;
}

/* get_network's cache lookup, else training and saving (under the cache
 * lock of `path`). */
static mx_status load_or_train(run_ctx *ctx, const mx_experiment_config *cfg,
                               mx_training_mode mode, const char *key, const char *path,
                               net_entry *e, net_entry **out)
{
    const int noise_aware = mode == MX_TRAINING_NOISE_AWARE;
    double cached_acc = NAN;
    mx_status st = mx_weights_load(path, key, &e->mlp, &cached_acc);
    if (!st) {
        ctx->report->networks_cached++;
        mx_log(MX_LOG_INFO, "loaded trained network %s", path);
    } else if (st == MX_EIO || st == MX_ENOTFOUND || st == MX_EFORMAT || st == MX_EMISMATCH) {
        /* Not cached yet — or a damaged or colliding cache file, which is
         * retrained and overwritten. */
        if (st == MX_EFORMAT || st == MX_EMISMATCH)
            mx_log(MX_LOG_WARN, "ignoring cached network: %s", mx_last_error());
        mx_clear_error();
        double t0 = mx_seconds_now();
        const size_t dim = ctx->train.dim;
        mx_train_config fine;
        if (mode == MX_TRAINING_HARDWARE_AWARE) {
            if ((st = start_fine_tuning(ctx, cfg, key, &e, &fine)))
                return st;
            mx_hardware_aware hwa = training_hardware(cfg);
            char what[128];
            snprintf(what, sizeof what, "training (hardware-aware, sigma %g, %d-bit ADC)",
                     hwa.hw.device_params.d2d_sigma, hwa.hw.adc.bits);
            mx_log(MX_LOG_INFO, "%s: %zu epochs from the plain network", what,
                   cfg->training.noise_epochs);
            st = mx_train_hardware_aware(e->mlp, &fine, 0, cfg->training.noise_epochs,
                                         ctx->train.x, ctx->train.y, ctx->train.n,
                                         derive_seed(cfg->seed, "seed.train-hwa", 0), &hwa, what,
                                         NULL);
        } else if (noise_aware) {
            if ((st = start_fine_tuning(ctx, cfg, key, &e, &fine)))
                return st;
            mx_noise_aware na = training_device(cfg);
            char what[96];
            snprintf(what, sizeof what, "training (noise-aware, sigma %g)", na.params.d2d_sigma);
            mx_log(MX_LOG_INFO, "%s: %zu epochs from the plain network", what,
                   cfg->training.noise_epochs);
            st = mx_train(e->mlp, &fine, 0, cfg->training.noise_epochs,
                          ctx->train.x, ctx->train.y, ctx->train.n,
                          derive_seed(cfg->seed, "seed.train-noise", 0), &na, what, NULL);
        } else {
            size_t sizes[MX_MLP_MAX_LAYERS + 1];
            size_t L = cfg->model.n_hidden + 1;
            sizes[0] = dim;
            for (size_t l = 0; l < cfg->model.n_hidden; l++)
                sizes[l + 1] = cfg->model.hidden[l];
            sizes[L] = ctx->train.n_classes;
            st = mx_mlp_create(sizes, L, derive_seed(cfg->seed, "seed.init", 0), &e->mlp);
            if (!st) {
                mx_log(MX_LOG_INFO, "training (plain): %zu epochs", cfg->training.train.epochs);
                st = mx_train(e->mlp, &cfg->training.train, 0, cfg->training.train.epochs,
                              ctx->train.x, ctx->train.y, ctx->train.n,
                              derive_seed(cfg->seed, "seed.train", 0), NULL, "training (plain)",
                              NULL);
            }
        }
        if (st) {
            mx_mlp_destroy(e->mlp);
            e->mlp = NULL;
            return st;
        }
        ctx->report->seconds_training += mx_seconds_now() - t0;
        ctx->report->networks_trained++;
        double full_acc = NAN;
        if (ctx->test.n > 0)
            mx_mlp_accuracy(e->mlp, ctx->test.x, ctx->test.y, ctx->test.n, &full_acc);
        if ((st = make_dir(ctx->cache_dir)) ||
            (st = mx_weights_save(path, e->mlp, key, full_acc))) {
            /* A cache that cannot be written only costs time next run. */
            mx_log(MX_LOG_WARN, "could not cache the trained network: %s", mx_last_error());
            mx_clear_error();
        }
    } else {
        return mx_fail_context(st, "trained-network cache");
    }
    return add_entry(ctx, e, out);
}

/* Per-image results of one evaluation pass. */
typedef struct eval_out {
    int *pred;                  /* (n, T) prediction after each step */
    mx_snn_layer_stats *stats;  /* (n, L) */
} eval_out;

/* One evaluation pass, as the items of mx_parallel_items. */
typedef struct eval_ctx {
    const mx_snn *net;
    const mx_dataset *test;
    uint64_t seed;
    int compare;
    eval_out *out;
} eval_ctx;

static mx_status eval_state_create(const void *ctx, void **state)
{
    return mx_snn_state_create(((const eval_ctx *)ctx)->net, (mx_snn_state **)state);
}

static void eval_state_destroy(void *state) { mx_snn_state_destroy(state); }

static mx_status eval_item(const void *ctx, void *state, size_t i)
{
    const eval_ctx *c = ctx;
    const size_t T = mx_snn_get_config(c->net)->timesteps, L = mx_snn_n_layers(c->net);
    int pred;
    return mx_snn_run(c->net, state, c->test->x + i * c->test->dim, c->seed, i,
                      c->compare && i < RUN_COMPARE_IMAGES, c->out->pred + i * T, &pred,
                      c->out->stats + i * L);
}

static mx_status evaluate(const mx_snn *net, const mx_dataset *test, size_t n, uint64_t seed,
                          int compare, eval_out *out, const char *what)
{
    memset(out->stats, 0, n * mx_snn_n_layers(net) * sizeof *out->stats);
    static const mx_parallel_ops ops = {eval_state_create, eval_state_destroy, eval_item};
    const eval_ctx ctx = {net, test, seed, compare, out};
    return mx_parallel_items(&ops, &ctx, n, 4, what);
}

static double accuracy_at(const eval_out *e, const uint8_t *labels, size_t n, size_t T,
                          size_t t)
{
    size_t correct = 0;
    for (size_t i = 0; i < n; i++)
        correct += e->pred[i * T + t] == (int)labels[i];
    return (double)correct / (double)n;
}

static void describe_point(const mx_experiment_config *base, const mx_experiment_config *pc,
                           char *buf, size_t size)
{
    buf[0] = '\0';
    const char *paths[MX_SWEEP_MAX_AXES];
    for (size_t a = 0; a < base->n_axes; a++)
        paths[a] = base->axes[a].path;
    for (size_t a = 0; a < base->n_axes; a++) {
        char value[128];
        if (mx_config_get(pc, base->axes[a].path, value, sizeof value))
            snprintf(value, sizeof value, "?");
        const char *name = mx_results_axis_label(paths, base->n_axes, a);
        size_t used = strlen(buf);
        snprintf(buf + used, size - used, "%s%s=%s", a ? " " : "", name, value);
    }
}

/* The progress label of point k: "point 3/8 (sweep ETA ...) bits=4 ...". */
static void point_label(const mx_experiment_config *base, const mx_experiment_config *pc,
                        size_t k, const char *eta, char *what, size_t size)
{
    char swept[256];
    describe_point(base, pc, swept, sizeof swept);
    snprintf(what, size, "point %zu/%zu%s %s", k + 1, mx_config_n_points(base), eta, swept);
}

mx_status mx_run_record(const mx_experiment_config *cfg, const mx_run_options *opt,
                        mx_results *res, mx_run_report *rep, const mx_point_result *pr,
                        size_t *written)
{
    const double t0 = mx_seconds_now();
    mx_status st = mx_results_write_point(res, NULL, pr);
    rep->seconds_writing += mx_seconds_now() - t0;
    if (st)
        return st;
    mx_experiment_config pc;
    char swept[256] = "";
    if (mx_config_point(cfg, pr->point, &pc) == MX_OK) {
        describe_point(cfg, &pc, swept, sizeof swept);
        mx_config_free(&pc);
    }
    mx_clear_error();
    mx_run_row *row = &rep->rows[rep->n_rows++];
    row->point = pr->point;
    row->repeat = pr->repeat;
    snprintf(row->swept, sizeof row->swept, "%s", swept);
    /* a literal: pr->network may live in a received message */
    row->network = pr->network && strcmp(pr->network, "ann") == 0 ? "ann" : "snn";
    row->accuracy = pr->accuracy;
    row->accuracy_snn_digital = pr->accuracy_snn_digital;
    row->accuracy_ann = pr->accuracy_ann;
    row->adc_clip_rate = pr->adc_clip_rate;
    row->energy_j = pr->energy_j;
    row->latency_s = pr->latency_s;
    rep->n_test = pr->n_test;
    if (strcmp(row->network, "ann") == 0)
        mx_log(MX_LOG_INFO, "point %zu/%zu %s: crossbar ANN %.2f %%, float ANN %.2f %%, "
                            "%.4g nJ and %.4g us per inference",
               pr->point + 1, mx_config_n_points(cfg), swept, 100.0 * pr->accuracy,
               100.0 * pr->accuracy_ann, 1e9 * pr->energy_j, 1e6 * pr->latency_s);
    else if (isnan(pr->accuracy_ann)) /* a spiking network trained as one */
        mx_log(MX_LOG_INFO, "point %zu/%zu %s: crossbar SNN %.2f %%, digital SNN %.2f %%, "
                            "%.4g nJ and %.4g us per inference",
               pr->point + 1, mx_config_n_points(cfg), swept, 100.0 * pr->accuracy,
               100.0 * pr->accuracy_snn_digital, 1e9 * pr->energy_j, 1e6 * pr->latency_s);
    else
        mx_log(MX_LOG_INFO, "point %zu/%zu %s: crossbar SNN %.2f %%, digital SNN %.2f %%, "
                            "ANN %.2f %%, %.4g nJ and %.4g us per inference",
               pr->point + 1, mx_config_n_points(cfg), swept, 100.0 * pr->accuracy,
               100.0 * pr->accuracy_snn_digital, 100.0 * pr->accuracy_ann, 1e9 * pr->energy_j,
               1e6 * pr->latency_s);
    ++*written;
    if (opt->point_written) /* the point is on disk now */
        opt->point_written(opt->user, *written);
    return MX_OK;
}

/* One (point, repeat) of model.run_as ann: the trained network itself on
 * the crossbar (experiments/ann_run.c), written like an SNN point. */
static mx_status run_ann_point(run_ctx *ctx, const mx_experiment_config *base,
                               const mx_experiment_config *pc, size_t k, size_t r,
                               const char *eta, const net_entry *e, size_t n_calib)
{
    char what[320];
    point_label(base, pc, k, eta, what, sizeof what);
    mx_ann_point ap;
    double t0 = mx_seconds_now();
    mx_status st = mx_ann_point_run(e->mlp, pc, &ctx->train, n_calib, &ctx->test, ctx->n_test,
                                    derive_seed(pc->seed, "seed.hardware", r),
                                    derive_seed(pc->seed, "seed.eval", r), RUN_CALIB_ITEM_BASE,
                                    RUN_COMPARE_IMAGES, what, &ap);
    ap.pr.eval_seconds = mx_seconds_now() - t0;
    ctx->report->seconds_eval += ap.pr.eval_seconds;
    if (st)
        return st;
    ap.pr.point = k;
    ap.pr.repeat = r;
    ap.pr.accuracy_ann = e->ann_accuracy;
    return emit_point(ctx, &ap.pr);
}

/* The learning method that runs a point, or NULL for the MLP conversion
 * below. Each method adds its case here (method.h). */
static mx_method_point_fn method_for(const mx_experiment_config *pc)
{
    switch (pc->experiment) {
    /* ---- methods: one case each ---- */
    case MX_EXPERIMENT_CONVERSION:
        return pc->cnn.n_conv ? mx_cnn_point_run : NULL;
    case MX_EXPERIMENT_SURROGATE:
        return mx_surrogate_point_run;
    case MX_EXPERIMENT_STDP:
        return mx_stdp_point_run;
    default:
        return NULL;
    }
}

/* One (point, repeat) of a learning method (method.h), written like the
 * conversion's points. */
static mx_status run_method_point(run_ctx *ctx, const mx_experiment_config *base,
                                  const mx_experiment_config *pc, size_t k, size_t r,
                                  const char *eta, mx_method_point_fn fn)
{
    char what[320];
    point_label(base, pc, k, eta, what, sizeof what);
    const mx_method_ctx mc = {
        .train = &ctx->train,
        .test = &ctx->test,
        .n_test = ctx->n_test,
        .n_calib = pc->dataset.calibration_images < ctx->train.n
                       ? pc->dataset.calibration_images
                       : ctx->train.n,
        .cache_dir = ctx->cache_dir,
        .train_seed = derive_seed(pc->seed, "seed.train", 0),
        .hw_seed = derive_seed(pc->seed, "seed.hardware", r),
        .eval_seed = derive_seed(pc->seed, "seed.eval", r),
        .calib_item_base = RUN_CALIB_ITEM_BASE,
        .compare_images = RUN_COMPARE_IMAGES,
        .repeat = r,
        .what = what,
    };
    mx_method_point *mp = mx_calloc(1, sizeof *mp);
    if (!mp)
        return mx_fail(MX_ENOMEM, "sweep point: out of memory");
    mx_method_point_init(mp);
    double t0 = mx_seconds_now();
    mx_status st = fn(pc, &mc, mp);
    double seconds = mx_seconds_now() - t0;
    ctx->report->seconds_training += mp->seconds_training;
    ctx->report->seconds_eval += seconds - mp->seconds_training;
    if (mp->trained)
        ctx->report->networks_trained++;
    else if (!st)
        ctx->report->networks_cached++;
    if (!st) {
        mp->pr.point = k;
        mp->pr.repeat = r;
        mp->pr.eval_seconds = seconds - mp->seconds_training;
        mp->pr.accuracy_vs_step = mp->accuracy_vs_step;
        st = emit_point(ctx, &mp->pr);
    }
    mx_method_point_free(mp);
    mx_free(mp);
    return st;
}

/* Hardware threshold re-balancing of a point (calibration/threshold.h): the
 * first snn.threshold_rebalance_images training images, on stream items of
 * their own; the thresholds it sets are logged. OUT: *rb. */
static mx_status rebalance_point(const run_ctx *ctx, const mx_experiment_config *pc,
                                 mx_snn *net, uint64_t eval_seed, mx_rebalance_report *rb)
{
    const size_t n = pc->rebalance.images < ctx->train.n ? pc->rebalance.images : ctx->train.n;
    mx_status st = mx_rebalance_thresholds(net, &pc->rebalance, ctx->train.x, n, ctx->train.dim,
                                           eval_seed, RUN_REBALANCE_ITEM_BASE, rb);
    for (size_t l = 0; !st && l < rb->n_layers; l++)
        mx_log(MX_LOG_INFO, "threshold re-balancing (%s, %zu images): layer %zu statistic "
                            "%.4g digital, %.4g hardware; thresholds mean %.4g in [%.4g, %.4g]",
               mx_rebalance_mode_name(pc->rebalance.mode), n, l, rb->stat_digital[l],
               rb->stat_hardware[l], rb->theta_mean[l], rb->theta_min[l], rb->theta_max[l]);
    return st;
}

/* One (point, repeat): convert, program, calibrate, evaluate, write.
 * `eta` is the caller's estimate of the rest of the sweep, for the label. */
static mx_status run_point(run_ctx *ctx, const mx_experiment_config *base,
                           const mx_experiment_config *pc, size_t k, size_t r, const char *eta)
{
    mx_method_point_fn method = method_for(pc);
    if (method)
        return run_method_point(ctx, base, pc, k, r, eta, method);
    const size_t n = ctx->n_test, T = pc->snn.timesteps;
    net_entry *e;
    mx_status st = get_network(ctx, pc, pc->training.mode, &e);
    if (st)
        return st;
    const size_t n_calib = pc->dataset.calibration_images < ctx->train.n
                               ? pc->dataset.calibration_images
                               : ctx->train.n;
    if (pc->model.run_as == MX_RUN_AS_ANN)
        return run_ann_point(ctx, base, pc, k, r, eta, e, n_calib);
    mx_snn *net = NULL;
    st = mx_snn_from_mlp(e->mlp, &pc->snn, ctx->train.x, n_calib, &net);
    if (st)
        return st;
    const size_t L = mx_snn_n_layers(net);
    mx_matmul *mm[MX_SNN_MAX_LAYERS] = {0};
    eval_out ev = {0};
    int *pred_digital = NULL;
    double *acc_vs_step = mx_calloc(T, sizeof(double));
    ev.pred = mx_alloc(mx_size_mul(n, T) * sizeof(int));
    ev.stats = mx_alloc(mx_size_mul(n, L) * sizeof(mx_snn_layer_stats));
    pred_digital = mx_alloc(mx_size_mul(n, T) * sizeof(int));
    if (!acc_vs_step || !ev.pred || !ev.stats || !pred_digital)
        st = mx_fail(MX_ENOMEM, "evaluation: out of memory");

    const uint64_t hw_seed = derive_seed(pc->seed, "seed.hardware", r);
    const uint64_t eval_seed = derive_seed(pc->seed, "seed.eval", r);
    const mx_device_type *dev = mx_device_lookup(pc->hardware.device_type);
    double t0 = mx_seconds_now();

    /* Digital reference: the same SNN, the same input spikes — once per
     * network, SNN settings and repeat. */
    double acc_digital = 0.0;
    char dkey[512] = "";
    if (!st)
        st = mx_method_key_append(pc, snn_key_paths, dkey, sizeof dkey);
    if (!st)
        snprintf(dkey + strlen(dkey), sizeof dkey - strlen(dkey), "repeat=%zu;", r);
    digital_result *cached = NULL;
    for (size_t i = 0; !st && i < e->n_digital; i++)
        if (strcmp(e->digital[i].key, dkey) == 0)
            cached = &e->digital[i];
    if (!st && cached) {
        acc_digital = cached->accuracy;
    } else if (!st) {
        eval_out dig = {.pred = pred_digital, .stats = ev.stats};
        st = evaluate(net, &ctx->test, n, eval_seed, 0, &dig, "evaluating (digital SNN)");
        if (!st) {
            acc_digital = accuracy_at(&dig, ctx->test.y, n, T, T - 1);
            if (e->n_digital < RUN_MAX_DIGITAL) {
                snprintf(e->digital[e->n_digital].key, sizeof e->digital[0].key, "%s", dkey);
                e->digital[e->n_digital++].accuracy = acc_digital;
            }
        }
    }
    /* The ADC-less readout integrates the unquantised current: its matmuls
     * get an exact ADC, and its comparators draw their offsets with the
     * cells' seed (once per hardware instance). */
    const int integrate = pc->hardware.readout.kind == MX_READOUT_INTEGRATE;
    mx_adc_config adc = pc->hardware.adc;
    if (integrate)
        adc.kind = MX_ADC_NONE;
    const double t_program = mx_seconds_now();
    if (!st)
        st = mx_snn_program_crossbars(net, &pc->hardware.crossbar, dev, &pc->hardware.device,
                                      &adc, hw_seed, mm);
    if (!st)
        st = mx_snn_set_readout(net, &pc->hardware.readout, hw_seed);
    const double t_calibrate = mx_seconds_now();
    double range_a[MX_SNN_MAX_LAYERS] = {0};
    /* ADC ranges, then drift compensation (digital, after the ADC), in
     * rounds until every layer's ADC has seen compensated inputs. */
    mx_point_result drift = {0};
    for (size_t round = 0; !st && round < mx_method_drift_rounds(pc, L); round++) {
        if (adc.kind != MX_ADC_NONE)
            st = mx_calibrate_adc_ranges(net, ctx->train.x, n_calib, ctx->train.dim,
                                         pc->hardware.adc.range_percentile, eval_seed,
                                         RUN_CALIB_ITEM_BASE, range_a);
        if (!st)
            st = mx_method_drift_compensation(&drift, pc, mm, L, eval_seed);
        if (!st)
            st = mx_method_column_calibration(&drift, pc, mm, L, eval_seed);
    }
    mx_rebalance_report rb = {0};
    if (!st && pc->rebalance.mode != MX_REBALANCE_NONE)
        st = rebalance_point(ctx, pc, net, eval_seed, &rb);
    const double t_evaluate = mx_seconds_now();
    char what[320];
    point_label(base, pc, k, eta, what, sizeof what);
    if (!st)
        st = evaluate(net, &ctx->test, n, eval_seed, 1, &ev, what);
    double eval_seconds = mx_seconds_now() - t0;
    ctx->report->seconds_programming += t_calibrate - t_program;
    ctx->report->seconds_calibration += t_evaluate - t_calibrate;
    ctx->report->seconds_eval += eval_seconds - (t_evaluate - t_program);

    if (!st) {
        double rel_rms[MX_SNN_MAX_LAYERS], mean_err[MX_SNN_MAX_LAYERS], clip[MX_SNN_MAX_LAYERS],
            spike_rate[MX_SNN_MAX_LAYERS];
        double e_parts[MX_SNN_MAX_LAYERS * MX_ENERGY_N_COMPONENTS], e_layer[MX_SNN_MAX_LAYERS],
            lat_layer[MX_SNN_MAX_LAYERS], area_layer[MX_SNN_MAX_LAYERS];
        double energy_all = 0.0, latency_all = 0.0, area_all = 0.0, rebalance_j = 0.0;
        uint64_t conv_all = 0, clip_all = 0;
        for (size_t l = 0; l < L && !st; l++) {
            mx_snn_layer_stats s = {0};
            for (size_t i = 0; i < n; i++) { /* fixed order: same sums at any thread count */
                const mx_snn_layer_stats *x = &ev.stats[i * L + l];
                s.err_sq_sum += x->err_sq_sum;
                s.ref_sq_sum += x->ref_sq_sum;
                s.err_sum += x->err_sum;
                s.n_values += x->n_values;
                s.spikes += x->spikes;
                s.neuron_updates += x->neuron_updates;
                s.decisions += x->decisions;
                mx_matmul_stats_add(&s.mm, &x->mm);
            }
            size_t n_out;
            mx_snn_weights(net, l, &n_out, NULL);
            rel_rms[l] = s.ref_sq_sum > 0.0 ? sqrt(s.err_sq_sum / s.ref_sq_sum) : 0.0;
            mean_err[l] = s.n_values ? s.err_sum / (double)s.n_values : 0.0;
            clip[l] = s.mm.conversions ? (double)s.mm.clipped / (double)s.mm.conversions : 0.0;
            spike_rate[l] = (double)s.spikes / ((double)n * (double)T * (double)n_out);
            conv_all += s.mm.conversions;
            clip_all += s.mm.clipped;
            /* Energy and latency per inference (mean over the test images). */
            mx_energy_layer hw;
            st = mx_energy_layer_describe(mm[l], &pc->hardware.energy, &pc->hardware.device,
                                          integrate, pc->snn.neuron == MX_NEURON_LIF, &hw);
            if (st)
                break;
            const mx_energy_counts counts = {.mm = s.mm,
                                             .neuron_updates = s.neuron_updates,
                                             .decisions = s.decisions,
                                             .spikes = s.spikes};
            mx_energy_breakdown b;
            mx_energy_cost(&pc->hardware.energy, &hw, &counts, (double)n, &b);
            memcpy(e_parts + l * MX_ENERGY_N_COMPONENTS, b.energy_j, sizeof b.energy_j);
            e_layer[l] = b.total_j;
            lat_layer[l] = b.latency_s;
            area_layer[l] = 1e-6 * mx_energy_area_um2(&pc->hardware.energy, &hw, NULL, NULL);
            energy_all += b.total_j;
            latency_all += b.latency_s;
            area_all += area_layer[l];
            if (rb.passes) { /* the re-balancing passes, all together */
                const mx_energy_counts rc = {.mm = rb.stats[l].mm,
                                             .neuron_updates = rb.stats[l].neuron_updates,
                                             .decisions = rb.stats[l].decisions,
                                             .spikes = rb.stats[l].spikes};
                mx_energy_cost(&pc->hardware.energy, &hw, &rc, 1.0, &b);
                rebalance_j += b.total_j;
            }
        }
        for (size_t t = 0; t < T; t++)
            acc_vs_step[t] = accuracy_at(&ev, ctx->test.y, n, T, t);
        mx_point_result pr = {
            .point = k,
            .repeat = r,
            .n_test = n,
            .accuracy = acc_vs_step[T - 1],
            .accuracy_snn_digital = acc_digital,
            .accuracy_ann = e->ann_accuracy,
            .adc_clip_rate = conv_all ? (double)clip_all / (double)conv_all : 0.0,
            .eval_seconds = eval_seconds,
            .timesteps = T,
            .accuracy_vs_step = acc_vs_step,
            .n_layers = L,
            .layer_rel_rms_error = rel_rms,
            .layer_mean_error = mean_err,
            .layer_clip_rate = clip,
            .layer_adc_range_a = range_a,
            .layer_spike_rate = spike_rate,
            .energy_j = energy_all,
            .latency_s = latency_all,
            .area_mm2 = area_all,
            .layer_energy_parts_j = e_parts,
            .layer_energy_j = e_layer,
            .layer_latency_s = lat_layer,
            .layer_area_mm2 = area_layer,
            .network = "snn",
            .rebalance_passes = rb.passes,
            .rebalance_energy_j = rebalance_j,
        };
        mx_method_programming_cost(&pr, mm, L);
        pr.drift_alpha = drift.drift_alpha;
        pr.drift_reads = drift.drift_reads;
        pr.drift_energy_j = drift.drift_energy_j;
        pr.colcal_gain_rms_dev = drift.colcal_gain_rms_dev;
        pr.colcal_reads = drift.colcal_reads;
        pr.colcal_energy_j = drift.colcal_energy_j;
        if (!st)
            st = emit_point(ctx, &pr);
    }
    for (size_t l = 0; l < L; l++)
        mx_matmul_destroy(mm[l]);
    mx_snn_destroy(net);
    mx_free(acc_vs_step);
    mx_free(ev.pred);
    mx_free(ev.stats);
    mx_free(pred_digital);
    return st;
}

void mx_run_report_free(mx_run_report *r)
{
    if (!r)
        return;
    mx_free(r->rows);
    r->rows = NULL;
    r->n_rows = 0;
}

static mx_status load_data(run_ctx *ctx, const mx_experiment_config *cfg)
{
    char dir[1024];
    mx_status st = mx_data_dir_find(ctx->opt->data_dir, dir, sizeof dir);
    if (st)
        return st;
    size_t test_limit = ctx->opt->full ? 0 : cfg->dataset.test_limit;
    const mx_dataset_options data_opt = {.event_steps = cfg->dataset.event_steps};
    st = mx_dataset_load_with(dir, cfg->dataset.name, MX_SPLIT_TRAIN, cfg->dataset.train_limit,
                              &data_opt, &ctx->train);
    if (!st)
        st = mx_dataset_load_with(dir, cfg->dataset.name, MX_SPLIT_TEST, test_limit, &data_opt,
                                  &ctx->test);
    if (st)
        return st;
    ctx->n_test = ctx->test.n;
    mx_log(MX_LOG_INFO, "dataset %s from %s: %zu training, %zu test examples", cfg->dataset.name,
           dir, ctx->train.n, ctx->test.n);
    return MX_OK;
}

mx_status mx_run_validate(const mx_experiment_config *cfg)
{
    mx_status st = mx_config_validate(cfg);
    /* Resolve every point before any work, so a bad sweep fails at once —
     * including the device parameters noise-aware training will use. */
    for (size_t k = 0; k < mx_config_n_points(cfg) && !st; k++) {
        mx_experiment_config pc;
        st = mx_config_point(cfg, k, &pc);
        if (!st && pc.training.mode == MX_TRAINING_NOISE_AWARE) {
            mx_noise_aware na = training_device(&pc);
            if ((st = na.device->validate(&na.params)))
                mx_fail_context(st, "sweep point %zu, noise-aware training at "
                                    "training.noise_sigma = %g", k + 1, na.params.d2d_sigma);
        }
        if (!st && pc.training.mode == MX_TRAINING_HARDWARE_AWARE) {
            mx_hardware_aware hwa = training_hardware(&pc);
            if (!hwa.hw.device)
                st = mx_fail(MX_EINVAL, "hardware.device.type: unknown device '%s'",
                             pc.hardware.device_type);
            else if ((st = mx_hardware_aware_validate(&hwa)))
                mx_fail_context(st, "sweep point %zu, hardware-aware training", k + 1);
        }
        mx_config_free(&pc); /* a point owns its measured curve, if any */
    }
    return st;
}

mx_status mx_run_ctx_open(const mx_experiment_config *cfg, const mx_run_options *opt,
                          mx_run_report *rep, mx_run_emit_fn emit, void *emit_user,
                          run_ctx **out)
{
    *out = NULL;
    run_ctx *ctx = mx_calloc(1, sizeof *ctx); /* megabytes of keys: not on the stack */
    if (!ctx)
        return mx_fail(MX_ENOMEM, "sweep: out of memory");
    ctx->opt = opt;
    ctx->report = rep;
    ctx->emit = emit;
    ctx->emit_user = emit_user;
    if (opt->cache_dir) {
        snprintf(ctx->cache_dir, sizeof ctx->cache_dir, "%s", opt->cache_dir);
    } else { /* beside the results file */
        const char *slash = strrchr(opt->output_path, '/');
        if (slash)
            snprintf(ctx->cache_dir, sizeof ctx->cache_dir, "%.*s/cache",
                     (int)(slash - opt->output_path), opt->output_path);
        else
            snprintf(ctx->cache_dir, sizeof ctx->cache_dir, "cache");
    }
    mx_status st = load_data(ctx, cfg);
    if (st) {
        mx_run_ctx_close(ctx);
        return st;
    }
    *out = ctx;
    return MX_OK;
}

void mx_run_ctx_close(run_ctx *ctx)
{
    if (!ctx)
        return;
    for (size_t i = 0; i < ctx->n_nets; i++)
        mx_mlp_destroy(ctx->nets[i].mlp);
    mx_dataset_free(&ctx->train);
    mx_dataset_free(&ctx->test);
    mx_free(ctx);
}

mx_status mx_run_one(run_ctx *ctx, const mx_experiment_config *cfg, size_t k, size_t r,
                     const char *eta)
{
    mx_experiment_config pc;
    mx_status st = mx_config_point(cfg, k, &pc);
    if (!st)
        st = run_point(ctx, cfg, &pc, k, r, eta);
    mx_config_free(&pc);
    if (st)
        mx_fail_context(st, "sweep point %zu", k + 1);
    return st;
}

mx_status mx_run_results_open(const mx_experiment_config *cfg, const mx_run_options *opt,
                              mx_results **res)
{
    /* The results file's identity counts the test images actually
     * evaluated, so --full and a test_limit differ. */
    mx_experiment_config ident = *cfg;
    if (opt->full)
        ident.dataset.test_limit = 0;
    return opt->resume ? mx_results_resume(opt->output_path, &ident, res)
                       : mx_results_create(opt->output_path, &ident, res);
}

mx_status mx_run_results_close(mx_results *res, mx_status st)
{
    mx_status cst = mx_results_close(res, st == MX_OK);
    return st ? st : cst;
}

size_t mx_run_count_done(const mx_experiment_config *cfg, const mx_results *res)
{
    size_t done = 0;
    for (size_t k = 0; k < mx_config_n_points(cfg); k++)
        for (size_t r = 0; r < cfg->repeats; r++)
            done += mx_results_has_point(res, k, r) != 0;
    if (done)
        mx_log(MX_LOG_INFO, "resuming: %zu of %zu (point, repeat) runs already done", done,
               mx_config_n_points(cfg) * cfg->repeats);
    return done;
}

/* ---- one process ---------------------------------------------------------- */

typedef struct serial_writer {
    const mx_experiment_config *cfg;
    const mx_run_options *opt;
    mx_results *res;
    mx_run_report *rep;
    size_t written;
} serial_writer;

static mx_status serial_emit(void *user, const mx_point_result *pr)
{
    serial_writer *w = user;
    return mx_run_record(w->cfg, w->opt, w->res, w->rep, pr, &w->written);
}

static mx_status run_serial(const mx_experiment_config *cfg, const mx_run_options *opt,
                            mx_run_report *rep)
{
    serial_writer w = {.cfg = cfg, .opt = opt, .rep = rep};
    run_ctx *ctx = NULL;
    mx_status st = mx_run_ctx_open(cfg, opt, rep, serial_emit, &w, &ctx);
    if (!st && !(st = mx_run_results_open(cfg, opt, &w.res)))
        rep->results_open = 1;
    const size_t n_points = mx_config_n_points(cfg), n_runs = n_points * cfg->repeats;
    const size_t runs_skipped = w.res ? mx_run_count_done(cfg, w.res) : 0;
    size_t runs_done = 0;
    const double sweep_started = mx_seconds_now();
    for (size_t k = 0; k < n_points && !st; k++)
        for (size_t r = 0; r < cfg->repeats && !st; r++) {
            if (mx_results_has_point(w.res, k, r))
                continue; /* done by the run being resumed */
            if (stop_requested) {
                st = mx_fail(MX_EINTERRUPT, "stopped after %zu of %zu (point, repeat) runs",
                             runs_skipped + w.written, n_runs);
                break;
            }
            /* The rest of the sweep at the mean pace of the points so far,
             * training excluded (it happens once per network). */
            char eta[64] = "";
            if (runs_done > 0) {
                double per_run =
                    (mx_seconds_now() - sweep_started - rep->seconds_training) / (double)runs_done;
                double left = per_run * (double)(n_runs - runs_skipped - runs_done);
                snprintf(eta, sizeof eta, " (sweep ETA %dm%02ds)", (int)left / 60,
                         (int)left % 60);
            }
            st = mx_run_one(ctx, cfg, k, r, eta);
            runs_done++;
        }
    if (ctx)
        rep->n_test = ctx->n_test;
    if (w.res)
        st = mx_run_results_close(w.res, st);
    mx_run_ctx_close(ctx);
    return st;
}

mx_status mx_experiment_run(const mx_experiment_config *cfg, const mx_run_options *opt,
                            mx_run_report *report)
{
    mx_run_report local = {0};
    mx_run_report *rep = report ? report : &local;
    memset(rep, 0, sizeof *rep);
    if (cfg->experiment == MX_EXPERIMENT_ONLINE)
        return mx_fail(MX_EINVAL, "experiment: online-training runs with mx_online_run, not "
                                  "mx_experiment_run");
    double t_start = mx_seconds_now();
    if (opt->threads > 0)
        omp_set_num_threads(opt->threads);
    stop_requested = 0;
    mx_status st = mx_run_validate(cfg);
    if (!st) {
        rep->rows = mx_calloc(mx_config_n_points(cfg) * cfg->repeats, sizeof(mx_run_row));
        st = rep->rows ? MX_OK : mx_fail(MX_ENOMEM, "out of memory");
    }
    if (!st)
        st = mx_experiment_ranks() > 1 ? mx_run_distributed(cfg, opt, rep)
                                           : run_serial(cfg, opt, rep);
    rep->seconds_total = mx_seconds_now() - t_start;
    if (!report)
        mx_run_report_free(&local); /* a caller's report keeps the rows done so far */
    return st;
}
