/* SPDX-License-Identifier: MIT
 *
 * rows.h: the row-block accumulation kernel that the analog matmul
 * (crossbar/matmul.c, event-driven accumulation of the driven rows) and the
 * exact digital SNN (snn/network.c, the rows of the inputs that spiked)
 * share.
 */
#ifndef MX_ROWS_H
#define MX_ROWS_H

#include <stddef.h>

/* Rows one call adds at most. */
#define MX_ROW_BLOCK 8

/* acc[o] += v[0]·g[0][o], then += v[1]·g[1][o], ... for k ≤ MX_ROW_BLOCK
 * rows, o < n: per element the very float operations, in the very order, of
 * one pass per row (v·g rounded, then added; no FMA contraction), so every
 * value is bit-identical to the row-at-a-time loop. With v[i] = 1 it is a
 * plain sum of rows (1·g is g exactly). */
typedef void (*mx_axpy_rows_fn)(float *restrict acc, const float *const *g, const float *v,
                                size_t k, size_t n);

/* The kernel for this CPU: the body compiled for the baseline ISA or, on
 * x86-64 with AVX2, for AVX2 (no FMA); both give the same bits. */
mx_axpy_rows_fn mx_axpy_rows_kernel(void);

#endif /* MX_ROWS_H */
