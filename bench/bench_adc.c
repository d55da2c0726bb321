/* SPDX-License-Identifier: MIT
 *
 * bench_adc.c: conversion rate of every ADC kind on a block of 512 column
 * currents (a tile read's worth), single thread. Validated first: the
 * uniform quantiser through mx_adc_convert_bank (the matmul's call) equals
 * mx_adc_convert, and the ideal SAR gives the uniform quantiser's values.
 * The uniform rate is the hot path of every SNN time step; the others are
 * reported against it.
 *
 *   meson test -C build --benchmark --verbose        or   build/bench/bench_adc
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adc/adc.h"
#include "core/rng.h"

#define MIN_SECONDS 0.5
#define BLOCK 512
#define BITS 8

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Conversions per second of adc on x (refreshed from x0 every block). */
static double rate(const mx_adc *adc, const float *x0, float *x, mx_rng *rng)
{
    size_t reps = 0;
    double t0 = now_s(), t;
    volatile size_t sink = 0;
    do {
        for (int i = 0; i < 64; i++) {
            memcpy(x, x0, BLOCK * sizeof *x);
            sink += mx_adc_convert_bank(adc, x, BLOCK, 0, 1, rng);
        }
        reps += 64;
        t = now_s() - t0;
    } while (t < MIN_SECONDS);
    (void)sink;
    return (double)reps * BLOCK / t;
}

static int setup(mx_adc *adc, mx_adc_kind kind, double noise_lsb, double *table)
{
    mx_adc_config c;
    mx_adc_config_default(&c);
    c.kind = kind;
    c.bits = kind == MX_ADC_SENSE_AMP ? 1 : BITS;
    c.noise_sigma_lsb = noise_lsb;
    c.cap_mismatch_sigma = noise_lsb > 0 ? 0.01 : 0.0;
    mx_adc_fit fit = {.range_a = 4e-5};
    if (kind == MX_ADC_LLOYD_MAX) {
        const size_t n = (size_t)1 << BITS;
        if (mx_adc_lloyd_max_gaussian(BITS, table, table + n, NULL))
            return 1;
        for (size_t k = 0; k < 2 * n; k++)
            table[k] *= 1e-5;
        fit = (mx_adc_fit){.range_a = 4e-5, .n_levels = n, .threshold_a = table,
                           .level_a = table + n};
    }
    const mx_adc_layout lay = {.banks = 1, .columns = BLOCK, .tile_cols = 128, .seed = 1};
    return mx_adc_setup(adc, &c, &fit, &lay) != MX_OK;
}

int main(void)
{
    float x0[BLOCK], x[BLOCK], y[BLOCK];
    double table[2 << BITS];
    mx_rng r;
    mx_rng_init_named(&r, 1, "bench.adc", 0);
    for (size_t i = 0; i < BLOCK; i++) /* σ = 1e-5 A column currents */
        x0[i] = (float)(1e-5 * mx_rng_normal(&r));
    mx_adc uni, sar;
    if (setup(&uni, MX_ADC_UNIFORM, 0.0, table) || setup(&sar, MX_ADC_SAR, 0.0, table)) {
        fprintf(stderr, "bench_adc: setup failed\n");
        return 1;
    }
    memcpy(x, x0, sizeof x);
    memcpy(y, x0, sizeof y);
    mx_adc_convert(&uni, x, BLOCK);
    mx_adc_convert_bank(&uni, y, BLOCK, 0, 1, NULL);
    int ok = memcmp(x, y, sizeof x) == 0;
    for (size_t i = 0; i < BLOCK; i++)
        ok &= mx_adc_code_at(&sar, (double)x0[i], mx_adc_instance(&sar, 0, i), NULL) ==
              mx_adc_code(&uni, (double)x0[i]);
    if (!ok) {
        fprintf(stderr, "bench_adc: validation failed\n");
        return 1;
    }
    printf("ADC conversions, 1 thread, blocks of %d currents, %d bits (validated first)\n", BLOCK,
           BITS);
    const struct {
        const char *name;
        mx_adc_kind kind;
        double noise;
    } cases[] = {
        {"uniform", MX_ADC_UNIFORM, 0.0},
        {"lloyd-max (table search)", MX_ADC_LLOYD_MAX, 0.0},
        {"log (table search)", MX_ADC_LOG, 0.0},
        {"sar, ideal", MX_ADC_SAR, 0.0},
        {"sar, mismatch + noise 0.5 LSB", MX_ADC_SAR, 0.5},
        {"sense-amp (1 bit)", MX_ADC_SENSE_AMP, 0.0},
    };
    double base = 0.0;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        mx_adc adc;
        if (setup(&adc, cases[k].kind, cases[k].noise, table)) {
            fprintf(stderr, "bench_adc: setup of %s failed\n", cases[k].name);
            return 1;
        }
        const double v = rate(&adc, x0, x, &r);
        if (k == 0)
            base = v;
        printf("%-32s %10.1f M conversions/s   %6.3f x uniform\n", cases[k].name, v / 1e6,
               v / base);
        mx_adc_release(&adc);
    }
    mx_adc_release(&uni);
    mx_adc_release(&sar);
    return 0;
}
