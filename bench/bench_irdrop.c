/* SPDX-License-Identifier: MIT
 *
 * bench_irdrop.c: exact IR-drop MVMs per second (crossbar/circuit.c) at
 * 128², 256², 512², batch 1 and batch 64, two ways — (a) direct CHOLMOD
 * solves with the factor of the programmed state (factor time reported
 * apart), (b) the exact transfer matrix (built once, time reported apart)
 * applied by DGEMV/DGEMM — against OpenBLAS DGEMV/SGEMV of the same size in
 * the same run (the roofline of an ideal crossbar MVM). Every kernel is
 * validated against the direct solve before it is timed (relative to the
 * largest column current: ≤ 1e-12; see VALIDATE_TOL).
 *
 * Circuit: G uniform in [1, 100] µS, r_row = r_col = 1 Ω per segment, ideal
 * driver and sense (the ngspice reference cases' typical setting), inputs
 * uniform in [0, 0.2] V. Context (issue 4, this machine): CrossSim 3.2's
 * iterative parasitic solver ~2 ms per MVM at 128×128 and ~55–80 ms at
 * 512×512 (batch 1).
 *
 *   OMP_NUM_THREADS=1 build/bench/bench_irdrop     (and =2; OpenBLAS follows it)
 *   build/bench/bench_irdrop 128 256               (only these sizes)
 *   build/bench/bench_irdrop modes                 (accuracy of the fast modes)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "core/rng.h"
#include "crossbar/circuit.h"

void openblas_set_num_threads(int);

#define MIN_SECONDS 0.5
#define BATCH 64
/* Transfer-matrix MVMs agree with the direct solve to rounding: the
 * transfer is itself min(R, C) solves with the same factor, so the
 * difference is a few ulps of the sum of R products (measured ~1e-15). */
#define VALIDATE_TOL 1e-12

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* max |a − b| / max |b| */
static double rel_err(const double *a, const double *b, size_t n)
{
    double d = 0.0, m = 0.0;
    for (size_t k = 0; k < n; k++) {
        d = fmax(d, fabs(a[k] - b[k]));
        m = fmax(m, fabs(b[k]));
    }
    return m > 0.0 ? d / m : d;
}

typedef struct bench_ctx {
    size_t R, C;
    mx_circuit *c;
    const double *m;  /* (R, C) transfer */
    const float *mf;  /* (R, C) float */
    const double *v;  /* (BATCH, R) */
    const float *vf;
    double *i;        /* (BATCH, C) */
    float *fi;
} bench_ctx;

typedef enum kernel { K_SOLVE, K_TRANSFER, K_DGEMV, K_SGEMV } kernel;

static int run(bench_ctx *b, kernel k, size_t batch)
{
    const int R = (int)b->R, C = (int)b->C;
    switch (k) {
    case K_SOLVE:
        return mx_circuit_solve(b->c, b->v, batch, b->i) != MX_OK;
    case K_TRANSFER:
    case K_DGEMV:
        /* i = Mᵀ·v per input; the ideal roofline is the same GEMV */
        if (batch == 1)
            cblas_dgemv(CblasRowMajor, CblasTrans, R, C, 1.0, b->m, C, b->v, 1, 0.0, b->i, 1);
        else
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)batch, C, R, 1.0, b->v,
                        R, b->m, C, 0.0, b->i, C);
        return 0;
    case K_SGEMV:
        if (batch == 1)
            cblas_sgemv(CblasRowMajor, CblasTrans, R, C, 1.0f, b->mf, C, b->vf, 1, 0.0f, b->fi,
                        1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)batch, C, R, 1.0f,
                        b->vf, R, b->mf, C, 0.0f, b->fi, C);
        return 0;
    }
    return 1;
}

/* MVMs per second (batch inputs per call). */
static double rate(bench_ctx *b, kernel k, size_t batch)
{
    size_t calls = 0;
    double t0 = now_s(), t;
    do {
        if (run(b, k, batch)) {
            fprintf(stderr, "kernel failed: %s\n", mx_last_error());
            return 0.0;
        }
        calls++;
        t = now_s() - t0;
    } while (t < MIN_SECONDS);
    return (double)(calls * batch) / t;
}

static int bench_size(size_t N)
{
    const size_t R = N, C = N;
    mx_circuit_params p;
    mx_circuit_params_default(&p);
    p.rows = R;
    p.cols = C;
    double *g = malloc(R * C * sizeof *g), *m = malloc(R * C * sizeof *m);
    float *mf = malloc(R * C * sizeof *mf), *vf = malloc(BATCH * R * sizeof *vf);
    double *v = malloc(BATCH * R * sizeof *v);
    double *ref = malloc(BATCH * C * sizeof *ref), *out = malloc(BATCH * C * sizeof *out);
    float *fi = malloc(BATCH * C * sizeof *fi);
    mx_rng r;
    mx_rng_init_named(&r, 4, "bench.irdrop", N);
    for (size_t k = 0; k < R * C; k++)
        g[k] = 1e-6 + 99e-6 * mx_rng_uniform(&r);
    for (size_t k = 0; k < BATCH * R; k++) {
        v[k] = 0.2 * mx_rng_uniform(&r);
        vf[k] = (float)v[k];
    }
    mx_circuit *c;
    double t0 = now_s();
    if (mx_circuit_create(&p, g, &c)) {
        fprintf(stderr, "%zux%zu: %s\n", R, C, mx_last_error());
        return 1;
    }
    double t_factor = now_s() - t0;
    t0 = now_s();
    if (mx_circuit_transfer(c, m)) {
        fprintf(stderr, "%zux%zu: %s\n", R, C, mx_last_error());
        return 1;
    }
    double t_transfer = now_s() - t0;
    for (size_t k = 0; k < R * C; k++)
        mf[k] = (float)m[k];
    bench_ctx b = {R, C, c, m, mf, v, vf, out, fi};
    /* validate: the batched solve against one input at a time, the transfer
     * GEMV/GEMM against the solve */
    int bad = mx_circuit_solve(c, v, BATCH, ref) != MX_OK;
    for (size_t k = 0; k < 2 && !bad; k++) {
        bad |= mx_circuit_solve(c, v + k * R, 1, out) != MX_OK;
        bad |= rel_err(out, ref + k * C, C) > VALIDATE_TOL;
    }
    double e1 = 0, e64 = 0;
    if (!bad) {
        run(&b, K_TRANSFER, 1);
        e1 = rel_err(out, ref, C);
        run(&b, K_TRANSFER, BATCH);
        e64 = rel_err(out, ref, BATCH * C);
        bad |= !(e1 <= VALIDATE_TOL && e64 <= VALIDATE_TOL);
    }
    if (bad) {
        fprintf(stderr, "%zux%zu: validation failed (%s; transfer err %.3g / %.3g); not timed\n",
                R, C, mx_last_error(), e1, e64);
        return 1;
    }
    double lnz, fl;
    size_t terminals;
    mx_circuit_factor_stats(c, &lnz, &fl, &terminals);
    printf("%4zux%-4zu nodes %7zu  nnz(L) %.3g  %.3g flop  terminals %zu\n"
           "   factor %.3f s  transfer build %.3f s  (transfer vs solve: %.1e)\n",
           R, C, mx_circuit_n_nodes(c), lnz, fl, terminals, t_factor, t_transfer,
           fmax(e1, e64));
    const size_t batches[2] = {1, BATCH};
    for (int q = 0; q < 2; q++) {
        size_t nb = batches[q];
        double r_solve = rate(&b, K_SOLVE, nb), r_tr = rate(&b, K_TRANSFER, nb);
        double r_d = rate(&b, K_DGEMV, nb), r_s = rate(&b, K_SGEMV, nb);
        printf("   batch %-3zu exact solve %10.0f MVM/s (%8.3f ms)  transfer %11.0f MVM/s  "
               "D%s %11.0f  S%s %11.0f  solve/DGEMV %.2e  transfer/DGEMV %.2f\n",
               nb, r_solve, 1e3 / r_solve, r_tr, nb == 1 ? "GEMV" : "GEMM", r_d,
               nb == 1 ? "GEMV" : "GEMM", r_s, r_solve / r_d, r_tr / r_d);
    }
    fflush(stdout);
    mx_circuit_destroy(c);
    free(g);
    free(m);
    free(mf);
    free(vf);
    free(v);
    free(ref);
    free(out);
    free(fi);
    return 0;
}

/* Accuracy of the approximate modes against the exact solve: max over
 * inputs of max_j |I − I_exact| / max_j |I_exact|, inputs = every row at
 * V_read, then 15 uniform in [0, V_read] (the modes are linear in V, so
 * V_read = 0.2 V only sets the scale). */
static int accuracy_table(void)
{
    static const size_t sizes[] = {64, 128, 256};
    static const double r_wire[] = {0.1, 1.0, 5.0};
    enum { NV = 16, NMODES = 5 };
    const char *names[NMODES] = {"ideal", "first-order", "line-sweeps 1", "line-sweeps 2",
                                 "line-sweeps 4"};
    printf("\napproximate modes: max relative error vs exact (G U[1, 100] uS, V_read 0.2 V)\n");
    printf("%-8s %-7s", "size", "r_wire");
    for (int k = 0; k < NMODES; k++)
        printf(" %14s", names[k]);
    printf("\n");
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
        for (size_t ri = 0; ri < sizeof r_wire / sizeof r_wire[0]; ri++) {
            const size_t N = sizes[si];
            mx_circuit_params p;
            mx_circuit_params_default(&p);
            p.rows = p.cols = N;
            p.r_row_ohm = p.r_col_ohm = r_wire[ri];
            double *g = malloc(N * N * sizeof *g), *v = malloc(NV * N * sizeof *v);
            double *ex = malloc(NV * N * sizeof *ex), *ap = malloc(NV * N * sizeof *ap);
            mx_rng r;
            mx_rng_init_named(&r, 5, "bench.irdrop.modes", N);
            for (size_t k = 0; k < N * N; k++)
                g[k] = 1e-6 + 99e-6 * mx_rng_uniform(&r);
            for (size_t k = 0; k < NV * N; k++)
                v[k] = k < N ? 0.2 : 0.2 * mx_rng_uniform(&r);
            if (mx_circuit_currents(&p, MX_CIRCUIT_EXACT, g, v, NV, ex)) {
                fprintf(stderr, "%s\n", mx_last_error());
                return 1;
            }
            printf("%4zux%-4zu %-7g", N, N, r_wire[ri]);
            for (int k = 0; k < NMODES; k++) {
                mx_circuit_mode mode = k == 0 ? MX_CIRCUIT_IDEAL
                                       : k == 1 ? MX_CIRCUIT_FIRST_ORDER
                                                : MX_CIRCUIT_LINE_SWEEPS;
                p.sweeps = k == 2 ? 1 : k == 3 ? 2 : 4;
                if (mx_circuit_currents(&p, mode, g, v, NV, ap)) {
                    fprintf(stderr, "%s\n", mx_last_error());
                    return 1;
                }
                double worst = 0.0;
                for (size_t b = 0; b < NV; b++)
                    worst = fmax(worst, rel_err(ap + b * N, ex + b * N, N));
                printf(" %14.3e", worst);
            }
            printf("\n");
            fflush(stdout);
            free(g);
            free(v);
            free(ex);
            free(ap);
        }
    /* what each mode costs to build a tile's effective conductances (the
     * form matmul.c stores), 2 sweeps */
    printf("\neffective conductance build time per tile (s), r_wire 1 ohm\n%-8s", "size");
    const mx_circuit_mode modes[4] = {MX_CIRCUIT_EXACT, MX_CIRCUIT_IDEAL, MX_CIRCUIT_FIRST_ORDER,
                                      MX_CIRCUIT_LINE_SWEEPS};
    for (int k = 0; k < 4; k++)
        printf(" %12s", mx_circuit_mode_name(modes[k]));
    printf("\n");
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        const size_t N = sizes[si];
        mx_circuit_params p;
        mx_circuit_params_default(&p);
        float *g = malloc(N * N * sizeof *g), *ge = malloc(N * N * sizeof *ge);
        mx_rng r;
        mx_rng_init_named(&r, 5, "bench.irdrop.modes", N);
        for (size_t k = 0; k < N * N; k++)
            g[k] = (float)(1e-6 + 99e-6 * mx_rng_uniform(&r));
        printf("%4zux%-4zu", N, N);
        for (int k = 0; k < 4; k++) {
            double t0 = now_s();
            if (mx_circuit_effective_conductance(&p, modes[k], g, N, N, ge)) {
                fprintf(stderr, "%s\n", mx_last_error());
                return 1;
            }
            printf(" %12.4f", now_s() - t0);
        }
        printf("\n");
        free(g);
        free(ge);
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *env = getenv("OMP_NUM_THREADS");
    int threads = env ? atoi(env) : 1;
    if (threads < 1)
        threads = 1;
    openblas_set_num_threads(threads);
    printf("exact IR-drop MVMs (CHOLMOD) vs OpenBLAS GEMV, %d thread%s; r_wire 1 ohm, "
           "G 1-100 uS, validated first\n",
           threads, threads == 1 ? "" : "s");
    static const size_t sizes[] = {128, 256, 512};
    int bad = 0;
    if (argc > 1 && !strcmp(argv[1], "modes")) {
        bad |= accuracy_table();
    } else if (argc > 1) {
        for (int k = 1; k < argc; k++)
            bad |= bench_size((size_t)atol(argv[k]));
    } else {
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
            bad |= bench_size(sizes[k]);
    }
    return bad;
}
