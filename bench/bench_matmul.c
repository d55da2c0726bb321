/* SPDX-License-Identifier: MIT
 *
 * bench_matmul.c: throughput of the analog matmul against a roofline
 * measured in the same run — OpenBLAS SGEMV of the same shape, and a
 * read-bandwidth sweep over the bytes the kernel must read. Each kernel is
 * first validated against the plain reference twin (bit-equal without read
 * noise); only then is it timed. Single thread (OMP_NUM_THREADS and
 * openblas_set_num_threads = 1) so the ratio is per core. The first block
 * prints the targets of issue 9 side by side (docs/performance.md); the
 * second, the mappings and input modes. The last line is the exact-digital
 * LIF network: 784 Poisson inputs at 20 Hz → 1000 LIF neurons, 1000 steps
 * of 1 ms, through snn/'s mx_snn_run (validated against a dense loop over
 * the same encoder draws first). The batched line times
 * mx_matmul_forward_batch on 64 images against the per-vector calls, SGEMV
 * and the SGEMM of the same shape (validated to one ADC LSB per conversion
 * first).
 *
 *   meson test -C build --benchmark --verbose        or   build/bench/bench_matmul [filter]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>
#include <omp.h>

#include "core/parallel.h"
#include "adc/adc.h"
#include "core/rng.h"
#include "crossbar/crossbar.h"
#include "snn/mlp.h"
#include "snn/snn.h"

void openblas_set_num_threads(int);

#define MIN_SECONDS 0.5

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct kernel_args {
    const mx_matmul *mm;
    mx_matmul_work *w;
    const float *x;
    float *y;
    mx_rng *rng;
} kernel_args;

/* CPU time of this thread: on a machine shared with other jobs the wall
 * clock counts the time the scheduler gave to them; the thread's own CPU
 * time does not (what a quiet core would give, up to cache and memory
 * bandwidth shared with the other jobs). */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* MVM/s by the wall clock; *cpu_rate = MVMs per CPU second of this thread. */
static double time_matmul(kernel_args *a, double *cpu_rate)
{
    size_t reps = 0;
    double t0 = now_s(), c0 = cpu_s(), t;
    do {
        for (int i = 0; i < 16; i++)
            mx_matmul_forward(a->mm, a->w, a->x, a->y, a->rng, NULL, NULL);
        reps += 16;
        t = now_s() - t0;
    } while (t < MIN_SECONDS);
    *cpu_rate = (double)reps / (cpu_s() - c0);
    return (double)reps / t;
}

static double time_sgemv(const float *wt, size_t n_out, size_t n_in, const float *x, float *y)
{
    size_t reps = 0;
    double t0 = now_s(), t;
    do {
        for (int i = 0; i < 16; i++)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n_out, (int)n_in, 1.0f, wt, (int)n_in,
                        x, 1, 0.0f, y, 1);
        reps += 16;
        t = now_s() - t0;
    } while (t < MIN_SECONDS);
    return (double)reps / t;
}

static int validate(const mx_matmul *mm, mx_matmul_work *w, const float *x, size_t n_out)
{
    float *y1 = malloc(n_out * sizeof(float)), *y2 = malloc(n_out * sizeof(float));
    mx_rng r;
    mx_rng_init(&r, 1, 0, 0);
    mx_matmul_forward(mm, w, x, y1, &r, NULL, NULL);
    mx_matmul_forward_reference(mm, w, x, y2, &r, NULL);
    int ok = memcmp(y1, y2, n_out * sizeof(float)) == 0;
    free(y1);
    free(y2);
    return ok;
}

static const char *only; /* argv[1]: run only the cases whose name contains it */

/* Read bandwidth of one core over `bytes` of floats (the roofline of a
 * kernel that must stream that much per MVM), GB/s. */
static double read_bandwidth(size_t bytes)
{
    const size_t n = bytes / sizeof(float);
    float *a = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        a[i] = (float)(i & 7);
    size_t reps = 0;
    volatile float sink = 0.0f;
    double t0 = now_s(), t;
    do {
        float acc[16] = {0};
        for (size_t i = 0; i + 16 <= n; i += 16)
            for (int k = 0; k < 16; k++)
                acc[k] += a[i + (size_t)k];
        sink += acc[0] + acc[15];
        reps++;
        t = now_s() - t0;
    } while (t < MIN_SECONDS / 2);
    free(a);
    (void)sink;
    return (double)reps * (double)bytes / t * 1e-9;
}

typedef struct bench_result {
    double rate, roof; /* MVM/s of the kernel and of SGEMV, same run */
    double cpu;        /* MVMs of the kernel per CPU second of the thread */
} bench_result;

static int bench_case_full(const char *name, size_t n_out, size_t n_in, mx_input_mode mode,
                           mx_mapping_kind mapping, mx_noise_mode noise, double activity,
                           double read_noise, int adc_bits, bench_result *res)
{
    if (only && !strstr(name, only))
        return 0;
    float *wt = malloc(n_out * n_in * sizeof(float));
    float *x = malloc(n_in * sizeof(float)), *y = malloc(n_out * sizeof(float));
    mx_rng r;
    mx_rng_init_named(&r, 3, "bench", 0);
    for (size_t i = 0; i < n_out * n_in; i++)
        wt[i] = (float)(0.1 * mx_rng_normal(&r));
    for (size_t j = 0; j < n_in; j++)
        x[j] = mode == MX_INPUT_SPIKES ? (float)(mx_rng_uniform(&r) < activity)
                                       : (float)(2.0 * mx_rng_uniform(&r) - 1.0);
    mx_crossbar_config xc;
    mx_device_params dp;
    mx_adc_config ac;
    mx_crossbar_config_default(&xc);
    xc.input = mode;
    xc.mapping = mapping; /* bit-sliced: the default 4 slices of 2 bits */
    xc.noise = noise;
    mx_device_params_default(&dp);
    mx_adc_config_default(&ac);
    ac.bits = adc_bits;
    if (adc_bits == 0)
        ac.kind = MX_ADC_NONE;
    mx_matmul *mm;
    mx_matmul_work *w;
    if (mx_matmul_create(wt, n_out, n_in, &xc, &mx_device_reram, &dp, &ac, 1, 0, &mm) ||
        mx_matmul_work_create(mm, &w)) {
        fprintf(stderr, "%s: %s\n", name, mx_last_error());
        return 1;
    }
    mx_matmul_set_adc_range(mm, 1e-4);
    if (!validate(mm, w, x, n_out)) {
        fprintf(stderr, "%s: fast path disagrees with the reference; not timed\n", name);
        return 1;
    }
    /* Read noise only after validation (the paths then agree in distribution). */
    mx_matmul_destroy(mm);
    mx_matmul_work_destroy(w);
    dp.read_noise_sigma = read_noise;
    mx_matmul_create(wt, n_out, n_in, &xc, &mx_device_reram, &dp, &ac, 1, 0, &mm);
    mx_matmul_work_create(mm, &w);
    mx_matmul_set_adc_range(mm, 1e-4);
    kernel_args a = {mm, w, x, y, &r};
    double cpu_rate;
    double rate = time_matmul(&a, &cpu_rate);
    float *xd = malloc(n_in * sizeof(float));
    for (size_t j = 0; j < n_in; j++)
        xd[j] = x[j];
    double roof = time_sgemv(wt, n_out, n_in, xd, y);
    printf("%-50s %5zux%-5zu %11.0f MVM/s   SGEMV %9.0f MVM/s   ratio %6.3f   (cpu %.0f/s)\n",
           name, n_in, n_out, rate, roof, rate / roof, cpu_rate);
    if (res) {
        res->rate = rate;
        res->roof = roof;
        res->cpu = cpu_rate;
    }
    mx_matmul_destroy(mm);
    mx_matmul_work_destroy(w);
    free(wt);
    free(x);
    free(xd);
    free(y);
    return 0;
}

static int bench_case_mapped(const char *name, size_t n_out, size_t n_in, mx_input_mode mode,
                             mx_mapping_kind mapping, double activity, double read_noise,
                             int adc_bits)
{
    return bench_case_full(name, n_out, n_in, mode, mapping, MX_NOISE_OUTPUT_REFERRED, activity,
                           read_noise, adc_bits, NULL);
}

static int bench_case(const char *name, size_t n_out, size_t n_in, mx_input_mode mode,
                      double activity, double read_noise, int adc_bits)
{
    return bench_case_mapped(name, n_out, n_in, mode, MX_MAPPING_DIFFERENTIAL, activity,
                             read_noise, adc_bits);
}

/* ---- exact-digital LIF network ------------------------------------------------------ */

#define LIF_IN 784
#define LIF_OUT 1000
#define LIF_STEPS 1000

/* The plain loop the network must match: the same encoder stream, a dense
 * W·s over every input (ascending, as the event-driven sum adds), the LIF
 * step. Returns the spikes of the run. */
static uint64_t lif_reference(const mx_snn *net, const float *intensity, uint64_t seed,
                              uint64_t item)
{
    size_t n_out, n_in;
    const float *w = mx_snn_weights(net, 0, &n_out, &n_in); /* (n_out, n_in) */
    const mx_snn_config *cfg = mx_snn_get_config(net);
    float *spk = malloc(n_in * sizeof(float)), *cur = malloc(n_out * sizeof(float));
    float *v = calloc(n_out, sizeof(float)), *out = malloc(n_out * sizeof(float));
    const float decay = (float)mx_neuron_decay(cfg);
    mx_rng enc;
    mx_rng_init_named(&enc, seed, "snn.encode", item);
    uint64_t spikes = 0;
    for (size_t t = 0; t < cfg->timesteps; t++) {
        mx_encode_step(cfg, intensity, n_in, &enc, spk);
        for (size_t o = 0; o < n_out; o++) {
            float y = 0.0f;
            for (size_t i = 0; i < n_in; i++)
                if (spk[i] != 0.0f)
                    y += w[o * n_in + i];
            cur[o] = y;
        }
        spikes += mx_neuron_step(n_out, v, cur, decay, 1.0f, out);
    }
    free(spk);
    free(cur);
    free(v);
    free(out);
    return spikes;
}

static int bench_lif(void)
{
    if (only && !strstr("lif", only))
        return 0;
    const size_t sizes[2] = {LIF_IN, LIF_OUT};
    mx_mlp *mlp;
    mx_snn *net;
    mx_snn_state *st;
    mx_snn_config cfg;
    mx_snn_config_default(&cfg);
    cfg.neuron = MX_NEURON_LIF;
    cfg.timesteps = LIF_STEPS;
    cfg.dt_s = 1e-3;
    cfg.tau_mem_s = 20e-3;
    cfg.encoder = MX_ENCODER_POISSON;
    cfg.max_rate_hz = 20.0; /* intensity 1 = 20 Hz */
    float *calib = malloc(16 * LIF_IN * sizeof(float)), *intensity = malloc(LIF_IN * sizeof(float));
    mx_rng r;
    mx_rng_init_named(&r, 5, "bench.lif", 0);
    for (size_t i = 0; i < 16 * LIF_IN; i++)
        calib[i] = (float)mx_rng_uniform(&r);
    for (size_t i = 0; i < LIF_IN; i++)
        intensity[i] = 1.0f;
    if (mx_mlp_create(sizes, 1, 5, &mlp) || mx_snn_from_mlp(mlp, &cfg, calib, 16, &net) ||
        mx_snn_state_create(net, &st)) {
        fprintf(stderr, "lif: %s\n", mx_last_error());
        return 1;
    }
    mx_snn_layer_stats ls;
    memset(&ls, 0, sizeof ls);
    int pred;
    if (mx_snn_run(net, st, intensity, 9, 0, 0, NULL, &pred, &ls) ||
        ls.spikes != lif_reference(net, intensity, 9, 0)) {
        fprintf(stderr, "lif: network disagrees with the dense reference; not timed\n");
        return 1;
    }
    size_t reps = 0;
    double t0 = now_s(), t;
    do {
        mx_snn_run(net, st, intensity, 9, reps, 0, NULL, &pred, NULL);
        reps++;
        t = now_s() - t0;
    } while (t < MIN_SECONDS);
    const double ms = 1e3 * t / (double)reps;
    /* Where the time goes: the encoder alone over the same steps, as the
     * network runs it (thresholds once, then one batch of words per step). */
    float *spk = malloc(LIF_IN * sizeof(float));
    uint64_t *thr = malloc(LIF_IN * sizeof(uint64_t));
    uint32_t *words = malloc(LIF_IN * sizeof(uint32_t));
    size_t enc_reps = 0;
    t0 = now_s();
    do {
        mx_rng enc;
        mx_rng_init_named(&enc, 9, "snn.encode", enc_reps);
        mx_encode_thresholds(&cfg, intensity, LIF_IN, thr);
        for (size_t k = 0; k < LIF_STEPS; k++)
            (void)mx_encode_step_thresholds(thr, LIF_IN, &enc, words, spk);
        enc_reps++;
        t = now_s() - t0;
    } while (t < MIN_SECONDS / 2);
    const double enc_ms = 1e3 * t / (double)enc_reps;
    free(thr);
    free(words);
    printf("%-50s %5dx%-5d %8.2f ms/run (target <= 5, Brian2 ~47)   encoder %.2f ms, "
           "%.0f output spikes/run\n",
           "LIF exact digital, Poisson 20 Hz, 1000 x 1 ms", LIF_IN, LIF_OUT, ms, enc_ms,
           (double)ls.spikes);
    free(spk);
    free(calib);
    free(intensity);
    mx_snn_state_destroy(st);
    mx_snn_destroy(net);
    mx_mlp_destroy(mlp);
    return 0;
}

/* ---- thread scaling of the evaluation path ------------------------------------------
 *
 * What a sweep's evaluation does per test image (experiments/run.c): one
 * mx_snn_run on the programmed crossbars, images spread over the OpenMP
 * threads by mx_parallel_items, a state per thread. A 784-500-10 network
 * (random weights, converted), spiking inputs, 8-bit ADCs, read noise 2 %
 * output-referred, 64 steps, MNIST-like images (80 % zero pixels). Run with
 * 1 and 2 threads; the predictions must agree (streams are per image). */

#define EVAL_IMAGES 96

typedef struct eval_ctx {
    const mx_snn *net;
    const float *images;
    int *pred;
} eval_ctx;

static mx_status eval_state_create(const void *ctx, void **state)
{
    mx_snn_state *s;
    mx_status st = mx_snn_state_create(((const eval_ctx *)ctx)->net, &s);
    *state = st ? NULL : s;
    return st;
}

static void eval_state_destroy(void *state) { mx_snn_state_destroy(state); }

static mx_status eval_item(const void *ctx, void *state, size_t i)
{
    const eval_ctx *c = ctx;
    return mx_snn_run(c->net, state, c->images + i * 784, 11, i, 0, NULL, &c->pred[i], NULL);
}

static double eval_rate(const eval_ctx *c, int threads)
{
    const mx_parallel_ops ops = {eval_state_create, eval_state_destroy, eval_item};
    omp_set_num_threads(threads);
    size_t reps = 0;
    double t0 = now_s(), t;
    do {
        if (mx_parallel_items(&ops, c, EVAL_IMAGES, 1, NULL))
            return 0.0;
        reps++;
        t = now_s() - t0;
    } while (t < MIN_SECONDS);
    return (double)(reps * EVAL_IMAGES) / t;
}

static int bench_eval_scaling(void)
{
    const char *name = "eval 784-500-10 crossbar SNN, 64 steps, threads";
    if (only && !strstr(name, only))
        return 0;
    const size_t sizes[3] = {784, 500, 10};
    mx_snn_config cfg;
    mx_snn_config_default(&cfg);
    float *calib = malloc(16 * 784 * sizeof(float));
    float *images = malloc(EVAL_IMAGES * 784 * sizeof(float));
    int *pred1 = malloc(EVAL_IMAGES * sizeof(int)), *pred2 = malloc(EVAL_IMAGES * sizeof(int));
    mx_rng r;
    mx_rng_init_named(&r, 6, "bench.eval", 0);
    for (size_t i = 0; i < 16 * 784; i++)
        calib[i] = (float)mx_rng_uniform(&r);
    for (size_t i = 0; i < EVAL_IMAGES * 784; i++)
        images[i] = mx_rng_uniform(&r) < 0.8 ? 0.0f : (float)mx_rng_uniform(&r);
    mx_crossbar_config xc;
    mx_device_params dp;
    mx_adc_config ac;
    mx_crossbar_config_default(&xc);
    xc.input = MX_INPUT_SPIKES;
    mx_device_params_default(&dp);
    dp.read_noise_sigma = 0.02;
    mx_adc_config_default(&ac);
    mx_mlp *mlp;
    mx_snn *net;
    mx_matmul *mm[2] = {NULL, NULL};
    if (mx_mlp_create(sizes, 2, 5, &mlp) || mx_snn_from_mlp(mlp, &cfg, calib, 16, &net) ||
        mx_snn_program_crossbars(net, &xc, &mx_device_reram, &dp, &ac, 1, mm)) {
        fprintf(stderr, "eval: %s\n", mx_last_error());
        return 1;
    }
    for (size_t l = 0; l < 2; l++)
        mx_matmul_set_adc_range(mm[l], 1e-4);
    eval_ctx c1 = {net, images, pred1}, c2 = {net, images, pred2};
    const double r1 = eval_rate(&c1, 1), r2 = eval_rate(&c2, 2);
    omp_set_num_threads(1);
    const int same = memcmp(pred1, pred2, EVAL_IMAGES * sizeof(int)) == 0;
    printf("%-50s %11.0f images/s (1) %9.0f images/s (2)   speed-up %.2f x%s\n", name, r1, r2,
           r2 / r1, same ? "" : "   PREDICTIONS DIFFER");
    for (size_t l = 0; l < 2; l++)
        mx_matmul_destroy(mm[l]);
    mx_snn_destroy(net);
    mx_mlp_destroy(mlp);
    free(calib);
    free(images);
    free(pred1);
    free(pred2);
    return !same || r1 <= 0.0 || r2 <= 0.0;
}

/* ---- batched evaluation ------------------------------------------------------------- */

#define BATCH 64

/* x (BATCH, n_in) → y (BATCH, n_out): MVM/s of the batched call. */
static double time_batch(const mx_matmul *mm, mx_matmul_work *w, const float *x, float *y)
{
    size_t reps = 0;
    double t0 = now_s(), t;
    do {
        for (int i = 0; i < 4; i++)
            if (mx_matmul_forward_batch(mm, w, x, BATCH, y, NULL))
                return 0.0;
        reps += 4 * BATCH;
        t = now_s() - t0;
    } while (t < MIN_SECONDS);
    return (double)reps / t;
}

/* The same BATCH images one mx_matmul_forward call each. */
static double time_per_vector(const mx_matmul *mm, mx_matmul_work *w, const float *x,
                              size_t n_in, size_t n_out, float *y, mx_rng *r)
{
    size_t reps = 0;
    double t0 = now_s(), t;
    do {
        for (size_t b = 0; b < BATCH; b++)
            mx_matmul_forward(mm, w, x + b * n_in, y + b * n_out, r, NULL, NULL);
        reps += BATCH;
        t = now_s() - t0;
    } while (t < MIN_SECONDS);
    return (double)reps / t;
}

/* OpenBLAS SGEMM of the same shape, Y (BATCH, n_out) = X (BATCH, n_in)·Wᵀ. */
static double time_sgemm(const float *wt, size_t n_out, size_t n_in, const float *x, float *y)
{
    size_t reps = 0;
    double t0 = now_s(), t;
    do {
        for (int i = 0; i < 4; i++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BATCH, (int)n_out, (int)n_in,
                        1.0f, x, (int)n_in, wt, (int)n_in, 0.0f, y, (int)n_out);
        reps += 4 * BATCH;
        t = now_s() - t0;
    } while (t < MIN_SECONDS);
    return (double)reps / t;
}

/* 512×512, dac 8 b, ideal cells, ADC 8 b, BATCH images: validated first
 * (every output within one LSB per conversion of its per-vector value,
 * and the number of outputs that differ at all), then timed. */
static int bench_batch(void)
{
    const char *name = "batch 64, dac 8b, ideal cells, ADC 8b";
    if (only && !strstr(name, only))
        return 0;
    const size_t n_out = 512, n_in = 512;
    float *wt = malloc(n_out * n_in * sizeof(float));
    float *x = malloc(BATCH * n_in * sizeof(float));
    float *y1 = malloc(BATCH * n_out * sizeof(float)), *y2 = malloc(BATCH * n_out * sizeof(float));
    mx_rng r;
    mx_rng_init_named(&r, 3, "bench", 0);
    for (size_t i = 0; i < n_out * n_in; i++)
        wt[i] = (float)(0.1 * mx_rng_normal(&r));
    for (size_t j = 0; j < BATCH * n_in; j++)
        x[j] = (float)(2.0 * mx_rng_uniform(&r) - 1.0);
    mx_crossbar_config xc;
    mx_device_params dp;
    mx_adc_config ac;
    mx_crossbar_config_default(&xc);
    xc.input = MX_INPUT_DAC;
    mx_device_params_default(&dp);
    mx_adc_config_default(&ac);
    ac.bits = 8;
    mx_matmul *mm;
    mx_matmul_work *w;
    if (mx_matmul_create(wt, n_out, n_in, &xc, &mx_device_reram, &dp, &ac, 1, 0, &mm) ||
        mx_matmul_work_create(mm, &w)) {
        fprintf(stderr, "%s: %s\n", name, mx_last_error());
        return 1;
    }
    mx_matmul_set_adc_range(mm, 1e-4);
    /* One LSB of the ADC in weight units, times the conversions behind an output. */
    const mx_adc *adc = mx_matmul_adc(mm);
    const mx_crossbar_config *cfg = mx_matmul_config(mm);
    const double lsb = (mx_adc_value(adc, 1) - mx_adc_value(adc, 0)) * cfg->input_full_scale /
                       (cfg->read_voltage_v * mx_matmul_mapping(mm).siemens_per_unit);
    const double tol = (double)mx_matmul_n_row_tiles(mm) * lsb * (1.0 + 1e-6);
    for (size_t b = 0; b < BATCH; b++)
        mx_matmul_forward(mm, w, x + b * n_in, y1 + b * n_out, &r, NULL, NULL);
    if (mx_matmul_forward_batch(mm, w, x, BATCH, y2, NULL)) {
        fprintf(stderr, "%s: %s\n", name, mx_last_error());
        return 1;
    }
    size_t differ = 0;
    for (size_t i = 0; i < BATCH * n_out; i++) {
        const double d = fabs((double)y1[i] - (double)y2[i]);
        differ += d > 0.0;
        if (d > tol) {
            fprintf(stderr, "%s: output %zu: batched %g, per-vector %g; not timed\n", name, i,
                    (double)y2[i], (double)y1[i]);
            return 1;
        }
    }
    const double rate = time_batch(mm, w, x, y2);
    const double per_vec = time_per_vector(mm, w, x, n_in, n_out, y1, &r);
    const double gemv = time_sgemv(wt, n_out, n_in, x, y1);
    const double gemm = time_sgemm(wt, n_out, n_in, x, y1);
    printf("%-50s %5zux%-5zu %11.0f MVM/s   per-vector %9.0f   SGEMV %9.0f   SGEMM %9.0f MVM/s"
           "   batched/per-vector %.2f, /SGEMM %.3f   (%zu of %zu outputs differ by one LSB)\n",
           name, n_in, n_out, rate, per_vec, gemv, gemm, rate / per_vec, rate / gemm, differ,
           (size_t)BATCH * n_out);
    mx_matmul_destroy(mm);
    mx_matmul_work_destroy(w);
    free(wt);
    free(x);
    free(y1);
    free(y2);
    return 0;
}

int main(int argc, char **argv)
{
    only = argc > 1 ? argv[1] : NULL;
    openblas_set_num_threads(1);
    printf("analog matmul vs OpenBLAS SGEMV, 1 thread (validated against the reference first)\n");
    if (!only)
        printf("read bandwidth, 1 core: 1 MiB %.1f GB/s, 2 MiB %.1f GB/s, 8 MiB %.1f GB/s\n",
               read_bandwidth(1u << 20), read_bandwidth(2u << 20), read_bandwidth(8u << 20));
    int bad = 0;
    bench_result ideal = {0, 0, 0}, outref = {0, 0, 0}, cell = {0, 0, 0}, spk = {0, 0, 0},
                 dense = {0, 0, 0};
    printf("-- issue 9 targets --\n");
    bad |= bench_case_full("dac 8b, ideal cells, ADC 8b", 512, 512, MX_INPUT_DAC,
                           MX_MAPPING_DIFFERENTIAL, MX_NOISE_OUTPUT_REFERRED, 1, 0, 8, &ideal);
    bad |= bench_case_full("dac 8b, read noise 2 % (output-referred), ADC 8b", 512, 512,
                           MX_INPUT_DAC, MX_MAPPING_DIFFERENTIAL, MX_NOISE_OUTPUT_REFERRED, 1,
                           0.02, 8, &outref);
    bad |= bench_case_full("dac 8b, read noise 2 % (per-cell), ADC 8b", 512, 512, MX_INPUT_DAC,
                           MX_MAPPING_DIFFERENTIAL, MX_NOISE_PER_CELL, 1, 0.02, 8, &cell);
    bad |= bench_case_full("layer 784->1000, spikes 10 %, ADC 8b", 1000, 784, MX_INPUT_SPIKES,
                           MX_MAPPING_DIFFERENTIAL, MX_NOISE_OUTPUT_REFERRED, 0.1, 0, 8, &spk);
    bad |= bench_case_full("layer 784->1000, dac 8b (dense), ADC 8b", 1000, 784, MX_INPUT_DAC,
                           MX_MAPPING_DIFFERENTIAL, MX_NOISE_OUTPUT_REFERRED, 1, 0, 8, &dense);
    bad |= bench_batch();
    bad |= bench_lif();
    bad |= bench_eval_scaling();
    if (!only)
        printf("summary: ideal+ADC %.2f x SGEMV (>= 0.5) | output-referred %.2f x SGEMV (>= 0.25)"
               " | per-cell %.0f MVM/s, %.0f per CPU s (>= 1300) | spikes 10 %% / dense %.1f x"
               " (>= 5)\n",
               ideal.rate / ideal.roof, outref.rate / outref.roof, cell.rate, cell.cpu,
               spk.rate / dense.rate);
    printf("-- more shapes, mappings and input modes --\n");
    bad |= bench_case("spikes 100 %, ADC 8b", 512, 512, MX_INPUT_SPIKES, 1.0, 0, 8);
    bad |= bench_case("spikes 10 %, ADC 8b", 512, 512, MX_INPUT_SPIKES, 0.1, 0, 8);
    bad |= bench_case("layer 784->500, spikes 10 %, ADC 8b", 500, 784, MX_INPUT_SPIKES, 0.1, 0,
                      8);
    bad |= bench_case("layer 784->500, spikes 10 %, noise 2 %, ADC 8b", 500, 784,
                      MX_INPUT_SPIKES, 0.1, 0.02, 8);
    /* Mappings and input modes (crossbar.h): the work per MVM grows with the
     * slices (4 here) and the bit-serial passes (7 for 8-bit inputs). */
    bad |= bench_case_mapped("dac 8b, offset (analog ref), ADC 8b", 512, 512, MX_INPUT_DAC,
                             MX_MAPPING_OFFSET, 1, 0, 8);
    bad |= bench_case_mapped("dac 8b, bit-sliced 4x2b, ADC 8b", 512, 512, MX_INPUT_DAC,
                             MX_MAPPING_BIT_SLICED, 1, 0, 8);
    bad |= bench_case("bit-serial 8b (7 passes), ADC 8b", 512, 512, MX_INPUT_BIT_SERIAL, 1, 0, 8);
    bad |= bench_case("pwm 8b (127 steps), ADC 8b", 512, 512, MX_INPUT_PWM, 1, 0, 8);
    bad |= bench_case_mapped("bit-serial 8b, bit-sliced 4x2b, ADC 8b", 512, 512,
                             MX_INPUT_BIT_SERIAL, MX_MAPPING_BIT_SLICED, 1, 0, 8);
    return bad;
}
