/* SPDX-License-Identifier: MIT
 *
 * bench_devices.c: how fast each device model updates and reads a block of
 * 1024×1024 cells, one core. For every model in the registry (and every
 * preset, which is a model at published parameter values):
 *
 *   populate   cells drawn per second (device-to-device variation)
 *   program    open-loop programming, cells per second
 *   pulse      pulse trains applied per second, one train per cell, counts
 *              drawn uniformly from ±1..±8 (and the pulses that makes)
 *   read       cells read per second, read noise on (σ = 2 %)
 *
 * against a roofline measured in the same run: a STREAM-style triad
 * (a = b + s·c, float) over the same number of cells, i.e. the rate at which
 * the memory system alone can stream one float in and one out per cell.
 *
 * Before timing, each model's block call is validated against the same
 * cells processed one at a time from the same stream (the draws are in cell
 * order, so the two must agree bit for bit): the block path is what is
 * timed, the one-cell path is the reference.
 *
 * Slow models (ODE integration) are timed on consecutive chunks of the block
 * until MIN_SECONDS have passed; the rate is cells done / time.
 *
 *   meson test -C build --benchmark --verbose      or    build/bench/bench_devices
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "core/rng.h"
#include "devices/devices.h"

#define SIDE 1024
#define N_CELLS ((size_t)SIDE * SIDE)
#define CHUNK 4096
#define MIN_SECONDS 0.5
#define VALIDATE_CELLS 512
#define MAX_TRAIN 8
#define SEED 7u

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct block {
    const mx_device_type *type;
    const mx_device_params *p;
    float *cells; /* N_CELLS × cell_floats, or NULL */
    float *g, *target, *out;
    mx_pulse *pulses;
} block;

typedef enum op { OP_POPULATE, OP_PROGRAM, OP_PULSE, OP_READ } op;

static float *cell_ptr(const block *b, size_t i)
{
    return b->cells ? b->cells + i * b->type->cell_floats : NULL;
}

static void run_op(const block *b, op o, size_t first, size_t n, mx_rng *rng)
{
    const mx_device_type *t = b->type;
    switch (o) {
    case OP_POPULATE:
        t->populate(b->p, cell_ptr(b, first), n, rng);
        break;
    case OP_PROGRAM:
        t->program(b->p, cell_ptr(b, first), b->target + first, b->g + first, n, rng);
        break;
    case OP_PULSE:
        t->pulse(b->p, cell_ptr(b, first), b->g + first, b->pulses + first, n, rng);
        break;
    case OP_READ:
        t->read(b->p, b->g + first, b->out + first, n, rng);
        break;
    }
}

/* Cells per second of `o` over the block, chunk by chunk, for at least
 * MIN_SECONDS (wrapping round the block if it is fast). */
static double time_op(const block *b, op o)
{
    mx_rng rng;
    mx_rng_init_named(&rng, SEED, "bench.time", (uint64_t)o);
    size_t done = 0, first = 0;
    double t0 = now_s(), t;
    do {
        run_op(b, o, first, CHUNK, &rng);
        done += CHUNK;
        first = (first + CHUNK) % N_CELLS;
        t = now_s() - t0;
    } while (t < MIN_SECONDS || (done < N_CELLS && t < 20.0 * MIN_SECONDS));
    return (double)done / t;
}

/* Block call vs one cell at a time from the same stream: bit-equal. */
static int validate_op(block *b, op o)
{
    const size_t cf = b->type->cell_floats, n = VALIDATE_CELLS;
    float *cells_copy = cf ? malloc(n * cf * sizeof(float)) : NULL;
    float *g_copy = malloc(n * sizeof(float)), *out_copy = malloc(n * sizeof(float));
    if ((cf && !cells_copy) || !g_copy || !out_copy) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    if (cf)
        memcpy(cells_copy, b->cells, n * cf * sizeof(float));
    memcpy(g_copy, b->g, n * sizeof(float));
    mx_rng rng;
    mx_rng_init_named(&rng, SEED, "bench.validate", (uint64_t)o);
    run_op(b, o, 0, n, &rng);
    /* Swap the block's results out, restore the inputs, redo cell by cell. */
    float *cells_block = cf ? malloc(n * cf * sizeof(float)) : NULL;
    float *g_block = malloc(n * sizeof(float)), *out_block = malloc(n * sizeof(float));
    if ((cf && !cells_block) || !g_block || !out_block) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    if (cf) {
        memcpy(cells_block, b->cells, n * cf * sizeof(float));
        memcpy(b->cells, cells_copy, n * cf * sizeof(float));
    }
    memcpy(g_block, b->g, n * sizeof(float));
    memcpy(out_block, b->out, n * sizeof(float));
    memcpy(b->g, g_copy, n * sizeof(float));
    mx_rng_init_named(&rng, SEED, "bench.validate", (uint64_t)o);
    for (size_t i = 0; i < n; i++)
        run_op(b, o, i, 1, &rng);
    int ok = memcmp(g_block, b->g, n * sizeof(float)) == 0 &&
             (!cf || memcmp(cells_block, b->cells, n * cf * sizeof(float)) == 0) &&
             (o != OP_READ || memcmp(out_block, b->out, n * sizeof(float)) == 0);
    free(cells_copy);
    free(g_copy);
    free(out_copy);
    free(cells_block);
    free(g_block);
    free(out_block);
    return ok;
}

static double triad_cells_per_s(float *a, const float *bv, const float *c)
{
    size_t done = 0;
    double t0 = now_s(), t;
    do {
        for (size_t i = 0; i < N_CELLS; i++)
            a[i] = bv[i] + 0.5f * c[i];
        done += N_CELLS;
        t = now_s() - t0;
    } while (t < MIN_SECONDS);
    /* Keep the stores observable. */
    volatile float sink = a[N_CELLS / 2];
    (void)sink;
    return (double)done / t;
}

static int bench_model(const char *label, const mx_device_type *type, const mx_device_params *p,
                       block *b, double triad)
{
    if (type->validate(p) != MX_OK) {
        printf("%-22s skipped: %s\n", label, mx_last_error());
        return 0;
    }
    b->type = type;
    b->p = p;
    const size_t cf = type->cell_floats;
    b->cells = cf ? malloc(N_CELLS * cf * sizeof(float)) : NULL;
    if (cf && !b->cells) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    mx_rng rng;
    mx_rng_init_named(&rng, SEED, "bench.setup", 0);
    const double lo = p->g_min_s, hi = p->g_max_s;
    for (size_t i = 0; i < N_CELLS; i++) {
        b->target[i] = (float)(lo + (hi - lo) * mx_rng_uniform(&rng));
        int32_t k = 1 + (int32_t)(mx_rng_u32(&rng) % MAX_TRAIN);
        b->pulses[i] = (mx_pulse){.count = (mx_rng_u32(&rng) & 1u) ? k : -k};
    }
    if (cf)
        type->populate(p, b->cells, N_CELLS, &rng);
    mx_device_program(type, p, b->target, b->g, N_CELLS, &rng);

    int ok = 1;
    double r_pop = NAN, r_prog, r_pulse = NAN, r_read;
    if (cf) {
        ok &= validate_op(b, OP_POPULATE);
        r_pop = time_op(b, OP_POPULATE);
    }
    ok &= validate_op(b, OP_PROGRAM);
    r_prog = time_op(b, OP_PROGRAM);
    if (type->pulse) {
        ok &= validate_op(b, OP_PULSE);
        r_pulse = time_op(b, OP_PULSE);
    }
    ok &= validate_op(b, OP_READ);
    r_read = time_op(b, OP_READ);
    if (!ok) {
        printf("%-22s FAILED validation: block call differs from cell-by-cell\n", label);
        free(b->cells);
        return 1;
    }
    char pulse_txt[64] = "       -";
    if (type->pulse)
        snprintf(pulse_txt, sizeof pulse_txt, "%8.3g (%.3g pulses/s)", r_pulse,
                 r_pulse * 0.5 * (1 + MAX_TRAIN));
    printf("%-22s %10.3g %10.3g  %-28s %10.3g  %6.3f %8.3f\n", label, r_pop, r_prog, pulse_txt,
           r_read, type->pulse ? r_pulse / triad : (double)NAN, r_read / triad);
    free(b->cells);
    b->cells = NULL;
    return 0;
}

int main(void)
{
    block b = {0};
    b.g = malloc(N_CELLS * sizeof(float));
    b.target = malloc(N_CELLS * sizeof(float));
    b.out = malloc(N_CELLS * sizeof(float));
    b.pulses = malloc(N_CELLS * sizeof(mx_pulse));
    if (!b.g || !b.target || !b.out || !b.pulses) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < N_CELLS; i++)
        b.g[i] = b.target[i] = b.out[i] = 1.0f;
    double triad = triad_cells_per_s(b.out, b.g, b.target);
    printf("device models on a %dx%d block, one core; rates in cells/s\n", SIDE, SIDE);
    printf("roofline: float triad %.3g cells/s (%.1f GB/s)\n\n", triad, triad * 12.0 / 1e9);
    printf("%-22s %10s %10s  %-28s %10s  %6s %8s\n", "model", "populate", "program",
           "pulse trains", "read", "pulse/", "read/");
    printf("%-22s %10s %10s  %-28s %10s  %6s %8s\n", "", "", "", "(1..8 pulses each)", "",
           "triad", "triad");
    int failed = 0;
    for (const mx_device_type *const *t = mx_device_types(); *t; t++) {
        mx_device_params p;
        mx_device_params_default(&p);
        p.read_noise_sigma = 0.02;
        if (!strcmp((*t)->name, "measured"))
            continue; /* needs a curve file; timed through its preset-free path in tests */
        failed |= bench_model((*t)->name, *t, &p, &b, triad);
    }
    for (const mx_device_preset *const *ps = mx_device_presets(); *ps; ps++) {
        const mx_device_type *t = mx_device_lookup((*ps)->type);
        if (!t)
            continue;
        mx_device_params p;
        mx_device_params_default(&p);
        (*ps)->apply(&p);
        p.read_noise_sigma = 0.02;
        char label[64];
        snprintf(label, sizeof label, "preset %s", (*ps)->name);
        failed |= bench_model(label, t, &p, &b, triad);
    }
    free(b.g);
    free(b.target);
    free(b.out);
    free(b.pulses);
    return failed;
}
