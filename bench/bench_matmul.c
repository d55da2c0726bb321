/* SPDX-License-Identifier: MIT
 *
 * bench_matmul.c: throughput of the analog matmul against a roofline
 * measured in the same run — OpenBLAS SGEMV of the same shape. Each kernel is
 * first validated against the plain reference twin (bit-equal without read
 * noise); only then is it timed. Single thread (OMP_NUM_THREADS and
 * openblas_set_num_threads = 1) so the ratio is per core.
 *
 *   meson test -C build --benchmark --verbose        or   build/bench/bench_matmul
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "core/rng.h"
#include "crossbar/crossbar.h"

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

static double time_matmul(kernel_args *a)
{
    size_t reps = 0;
    double t0 = now_s(), t;
    do {
        for (int i = 0; i < 16; i++)
            mx_matmul_forward(a->mm, a->w, a->x, a->y, a->rng, NULL, NULL);
        reps += 16;
        t = now_s() - t0;
    } while (t < MIN_SECONDS);
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

static int bench_case_mapped(const char *name, size_t n_out, size_t n_in, mx_input_mode mode,
                             mx_mapping_kind mapping, double activity, double read_noise,
                             int adc_bits)
{
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
    double rate = time_matmul(&a);
    float *xd = malloc(n_in * sizeof(float));
    for (size_t j = 0; j < n_in; j++)
        xd[j] = x[j];
    double roof = time_sgemv(wt, n_out, n_in, xd, y);
    printf("%-50s %5zux%-5zu %11.0f MVM/s   SGEMV %9.0f MVM/s   ratio %6.3f\n", name, n_in,
           n_out, rate, roof, rate / roof);
    mx_matmul_destroy(mm);
    mx_matmul_work_destroy(w);
    free(wt);
    free(x);
    free(xd);
    free(y);
    return 0;
}

static int bench_case(const char *name, size_t n_out, size_t n_in, mx_input_mode mode,
                      double activity, double read_noise, int adc_bits)
{
    return bench_case_mapped(name, n_out, n_in, mode, MX_MAPPING_DIFFERENTIAL, activity,
                             read_noise, adc_bits);
}

int main(void)
{
    openblas_set_num_threads(1);
    printf("analog matmul vs OpenBLAS SGEMV, 1 thread (validated against the reference first)\n");
    int bad = 0;
    bad |= bench_case("dac 8b, ideal cells, ADC 8b", 512, 512, MX_INPUT_DAC, 1, 0, 8);
    bad |= bench_case("dac 8b, read noise 2 % (output-referred), ADC 8b", 512, 512,
                      MX_INPUT_DAC, 1, 0.02, 8);
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
