/* SPDX-License-Identifier: MIT
 *
 * conv.h: the primitives of convolutional networks, on float tensors of ONE
 * example laid out (C, H, W) row-major ("NCHW per example": a batch is n such
 * tensors back to back). Used by the CNN of cnn.h (training, conversion to a
 * spiking CNN, crossbar evaluation) and by convolutional spiking layers.
 *
 * Convolution (cross-correlation, as in every deep-learning framework) of an
 * input (C_in, H, W) with a kernel W (C_out, C_in, k, k), stride s and zero
 * padding p on every side:
 *     y[o, i, j] = Σ_{c, a, b} W[o, c, a, b] · x[c, s·i + a − p, s·j + b − p]
 * with x = 0 outside the image, output H_out = ⌊(H + 2p − k)/s⌋ + 1 (same for
 * W). It is computed as a matrix product through im2col: every output
 * position (i, j) gives one ROW of the patch matrix (positions, C_in·k·k),
 * ordered (c, a, b) with b fastest — the memory order of a (C_out, C_in, k, k)
 * kernel — so y (C_out, positions) = W (C_out, C_in·k·k) · colsᵀ. On a
 * crossbar the unrolled kernel is the programmed matrix and each patch row is
 * one input vector. col2im is the adjoint of im2col (it scatters rows back
 * and ADDS overlapping contributions), which is what back-propagation needs.
 *
 * Pooling: windows of size×size with a stride and no padding (floor mode,
 * H_out = ⌊(H − size)/stride⌋ + 1), per channel. Average pooling is linear;
 * max pooling records, per output, the flat input index of its maximum (the
 * first one on ties) for the backward pass.
 *
 * Nothing here allocates; every function is a pure loop nest or one SGEMM.
 * mx_conv_forward_naive is the direct 7-loop twin of the im2col path
 * (STYLE.md 14) that the tests compare against.
 */
#ifndef MX_CONV_H
#define MX_CONV_H

#include <stddef.h>

#include "core/core.h"

/* Geometry of one convolution (square kernel, same stride and padding on
 * both axes). Plain data; fill it with mx_conv_geom_init. */
typedef struct mx_conv_geom {
    size_t channels;             /* C_in */
    size_t height, width;        /* input H, W */
    size_t kernel;               /* k: kernel side */
    size_t stride;               /* s >= 1 */
    size_t padding;              /* p: zeros added on each side */
    size_t out_height, out_width;/* H_out, W_out (set by mx_conv_geom_init) */
} mx_conv_geom;

/* Shape inference. MX_EINVAL when a size is 0, the stride is 0, or the
 * padded input is smaller than the kernel (no output position). */
mx_status mx_conv_geom_init(mx_conv_geom *g, size_t channels, size_t height, size_t width,
                            size_t kernel, size_t stride, size_t padding);
/* Output positions H_out·W_out (rows of the patch matrix). */
size_t mx_conv_positions(const mx_conv_geom *g);
/* Patch length C_in·k·k (columns of the patch matrix and of the unrolled kernel). */
size_t mx_conv_patch_size(const mx_conv_geom *g);
/* Input elements C_in·H·W. */
size_t mx_conv_input_size(const mx_conv_geom *g);

/* Patch of output position `pos` (= i·W_out + j): OUT patch (C_in·k·k),
 * zeros where the window hangs over the padding. Returns the number of
 * non-zero entries (an all-zero spike patch needs no crossbar read). */
size_t mx_im2col_patch(const mx_conv_geom *g, const float *x /* (C,H,W) */, size_t pos,
                       float *patch);
/* All patches: OUT cols (positions, C_in·k·k) row-major. */
void mx_im2col(const mx_conv_geom *g, const float *x /* (C,H,W) */, float *cols);
/* Adjoint of mx_im2col: x[c, h, w] += Σ of every patch entry that read it
 * (entries over the padding are dropped). x is ACCUMULATED into, not
 * overwritten. cols (positions, C_in·k·k). */
void mx_col2im(const mx_conv_geom *g, const float *cols, float *x /* (C,H,W) */);

/* y (C_out, H_out, W_out) = conv(x, w) through im2col and one SGEMM on the
 * calling thread's BLAS. w (C_out, C_in·k·k); cols scratch
 * (positions, C_in·k·k). */
void mx_conv_forward(const mx_conv_geom *g, const float *w, size_t c_out, const float *x,
                     float *cols, float *y);
/* The same by the direct definition (7 nested loops, double accumulator). */
void mx_conv_forward_naive(const mx_conv_geom *g, const float *w, size_t c_out, const float *x,
                           float *y);

/* ---- pooling ---- */

typedef enum mx_pool_kind { MX_POOL_AVG, MX_POOL_MAX } mx_pool_kind;

typedef struct mx_pool_geom {
    size_t channels;             /* C */
    size_t height, width;        /* input H, W */
    size_t size;                 /* window side */
    size_t stride;               /* >= 1 (= size: non-overlapping windows) */
    size_t out_height, out_width;/* set by mx_pool_geom_init */
} mx_pool_geom;

/* MX_EINVAL when a size or the stride is 0 or the window exceeds the input. */
mx_status mx_pool_geom_init(mx_pool_geom *g, size_t channels, size_t height, size_t width,
                            size_t size, size_t stride);
/* Output elements C·H_out·W_out. */
size_t mx_pool_output_size(const mx_pool_geom *g);

/* y (C, H_out, W_out) = window means of x (C, H, W). */
void mx_avgpool_forward(const mx_pool_geom *g, const float *x, float *y);
/* OUT dx (C, H, W) = ∂L/∂x given dy = ∂L/∂y (overwritten, overlaps summed). */
void mx_avgpool_backward(const mx_pool_geom *g, const float *dy, float *dx);
/* y = window maxima; argmax (C·H_out·W_out, may be NULL) receives the flat
 * index into x of each maximum (first on ties). */
void mx_maxpool_forward(const mx_pool_geom *g, const float *x, float *y, size_t *argmax);
/* OUT dx (C, H, W): dy routed to the recorded maxima (overwritten). */
void mx_maxpool_backward(const mx_pool_geom *g, const float *dy, const size_t *argmax,
                         float *dx);

#endif /* MX_CONV_H */
