/* SPDX-License-Identifier: MIT
 *
 * conv.c: shape inference, im2col/col2im, convolution through one SGEMM and
 * its direct twin, average and max pooling with their backward passes (see
 * conv.h for the layout and the equations). Plain loop nests, no allocation.
 */
#include "snn/conv.h"

#include <assert.h>
#include <string.h>

#include <cblas.h>

/* ------------------------------------------------------------ convolution */

mx_status mx_conv_geom_init(mx_conv_geom *g, size_t channels, size_t height, size_t width,
                            size_t kernel, size_t stride, size_t padding)
{
    assert(g);
    if (channels == 0 || height == 0 || width == 0)
        return mx_fail(MX_EINVAL, "conv: expected a non-empty input, got (%zu, %zu, %zu)",
                       channels, height, width);
    if (kernel == 0 || stride == 0)
        return mx_fail(MX_EINVAL, "conv: expected kernel >= 1 and stride >= 1, got %zu and %zu",
                       kernel, stride);
    if (height + 2 * padding < kernel || width + 2 * padding < kernel)
        return mx_fail(MX_EINVAL,
                       "conv: kernel %zu larger than the padded input %zux%zu (padding %zu)",
                       kernel, height + 2 * padding, width + 2 * padding, padding);
    g->channels = channels;
    g->height = height;
    g->width = width;
    g->kernel = kernel;
    g->stride = stride;
    g->padding = padding;
    g->out_height = (height + 2 * padding - kernel) / stride + 1;
    g->out_width = (width + 2 * padding - kernel) / stride + 1;
    return MX_OK;
}

size_t mx_conv_positions(const mx_conv_geom *g) { return g->out_height * g->out_width; }
size_t mx_conv_patch_size(const mx_conv_geom *g) { return g->channels * g->kernel * g->kernel; }
size_t mx_conv_input_size(const mx_conv_geom *g) { return g->channels * g->height * g->width; }

size_t mx_im2col_patch(const mx_conv_geom *g, const float *x, size_t pos, float *patch)
{
    const size_t k = g->kernel, H = g->height, W = g->width;
    const size_t oi = pos / g->out_width, oj = pos % g->out_width;
    /* Window origin in padded coordinates; an input row h is h0 + a − p. */
    const size_t h0 = oi * g->stride, w0 = oj * g->stride;
    size_t nnz = 0;
    for (size_t c = 0; c < g->channels; c++) {
        const float *xc = x + c * H * W;
        for (size_t a = 0; a < k; a++) {
            float *row = patch + (c * k + a) * k;
            const size_t hp = h0 + a; /* padded row */
            if (hp < g->padding || hp - g->padding >= H) {
                memset(row, 0, k * sizeof *row);
                continue;
            }
            const float *xr = xc + (hp - g->padding) * W;
            for (size_t b = 0; b < k; b++) {
                const size_t wp = w0 + b;
                float v = (wp < g->padding || wp - g->padding >= W) ? 0.0f
                                                                   : xr[wp - g->padding];
                row[b] = v;
                nnz += v != 0.0f;
            }
        }
    }
    return nnz;
}

void mx_im2col(const mx_conv_geom *g, const float *x, float *cols)
{
    const size_t P = mx_conv_positions(g), K = mx_conv_patch_size(g);
    for (size_t pos = 0; pos < P; pos++)
        (void)mx_im2col_patch(g, x, pos, cols + pos * K);
}

void mx_col2im(const mx_conv_geom *g, const float *cols, float *x)
{
    const size_t k = g->kernel, H = g->height, W = g->width;
    const size_t P = mx_conv_positions(g), K = mx_conv_patch_size(g);
    for (size_t pos = 0; pos < P; pos++) {
        const size_t h0 = (pos / g->out_width) * g->stride, w0 = (pos % g->out_width) * g->stride;
        const float *patch = cols + pos * K;
        for (size_t c = 0; c < g->channels; c++) {
            float *xc = x + c * H * W;
            for (size_t a = 0; a < k; a++) {
                const size_t hp = h0 + a;
                if (hp < g->padding || hp - g->padding >= H)
                    continue;
                float *xr = xc + (hp - g->padding) * W;
                const float *row = patch + (c * k + a) * k;
                for (size_t b = 0; b < k; b++) {
                    const size_t wp = w0 + b;
                    if (wp >= g->padding && wp - g->padding < W)
                        xr[wp - g->padding] += row[b];
                }
            }
        }
    }
}

void mx_conv_forward(const mx_conv_geom *g, const float *w, size_t c_out, const float *x,
                     float *cols, float *y)
{
    const size_t P = mx_conv_positions(g), K = mx_conv_patch_size(g);
    mx_im2col(g, x, cols);
    /* y (C_out, P) = W (C_out, K) · colsᵀ (K, P). */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)c_out, (int)P, (int)K, 1.0f, w,
                (int)K, cols, (int)K, 0.0f, y, (int)P);
}

void mx_conv_forward_naive(const mx_conv_geom *g, const float *w, size_t c_out, const float *x,
                           float *y)
{
    const size_t k = g->kernel, H = g->height, W = g->width, C = g->channels;
    for (size_t o = 0; o < c_out; o++)
        for (size_t i = 0; i < g->out_height; i++)
            for (size_t j = 0; j < g->out_width; j++) {
                double acc = 0.0;
                for (size_t c = 0; c < C; c++)
                    for (size_t a = 0; a < k; a++)
                        for (size_t b = 0; b < k; b++) {
                            /* Signed input coordinates: the window may start
                             * in the padding. */
                            long h = (long)(i * g->stride + a) - (long)g->padding;
                            long ww = (long)(j * g->stride + b) - (long)g->padding;
                            if (h < 0 || ww < 0 || h >= (long)H || ww >= (long)W)
                                continue;
                            acc += (double)w[((o * C + c) * k + a) * k + b] *
                                   (double)x[(c * H + (size_t)h) * W + (size_t)ww];
                        }
                y[(o * g->out_height + i) * g->out_width + j] = (float)acc;
            }
}

/* ---------------------------------------------------------------- pooling */

mx_status mx_pool_geom_init(mx_pool_geom *g, size_t channels, size_t height, size_t width,
                            size_t size, size_t stride)
{
    assert(g);
    if (channels == 0 || height == 0 || width == 0)
        return mx_fail(MX_EINVAL, "pool: expected a non-empty input, got (%zu, %zu, %zu)",
                       channels, height, width);
    if (size == 0 || stride == 0)
        return mx_fail(MX_EINVAL, "pool: expected size >= 1 and stride >= 1, got %zu and %zu",
                       size, stride);
    if (size > height || size > width)
        return mx_fail(MX_EINVAL, "pool: window %zu larger than the input %zux%zu", size, height,
                       width);
    g->channels = channels;
    g->height = height;
    g->width = width;
    g->size = size;
    g->stride = stride;
    g->out_height = (height - size) / stride + 1;
    g->out_width = (width - size) / stride + 1;
    return MX_OK;
}

size_t mx_pool_output_size(const mx_pool_geom *g)
{
    return g->channels * g->out_height * g->out_width;
}

void mx_avgpool_forward(const mx_pool_geom *g, const float *x, float *y)
{
    const size_t H = g->height, W = g->width, s = g->size;
    const float inv = 1.0f / (float)(s * s);
    for (size_t c = 0; c < g->channels; c++)
        for (size_t i = 0; i < g->out_height; i++)
            for (size_t j = 0; j < g->out_width; j++) {
                float acc = 0.0f;
                for (size_t a = 0; a < s; a++)
                    for (size_t b = 0; b < s; b++)
                        acc += x[(c * H + i * g->stride + a) * W + j * g->stride + b];
                y[(c * g->out_height + i) * g->out_width + j] = acc * inv;
            }
}

void mx_avgpool_backward(const mx_pool_geom *g, const float *dy, float *dx)
{
    const size_t H = g->height, W = g->width, s = g->size;
    const float inv = 1.0f / (float)(s * s);
    memset(dx, 0, g->channels * H * W * sizeof *dx);
    for (size_t c = 0; c < g->channels; c++)
        for (size_t i = 0; i < g->out_height; i++)
            for (size_t j = 0; j < g->out_width; j++) {
                const float d = dy[(c * g->out_height + i) * g->out_width + j] * inv;
                for (size_t a = 0; a < s; a++)
                    for (size_t b = 0; b < s; b++)
                        dx[(c * H + i * g->stride + a) * W + j * g->stride + b] += d;
            }
}

void mx_maxpool_forward(const mx_pool_geom *g, const float *x, float *y, size_t *argmax)
{
    const size_t H = g->height, W = g->width, s = g->size;
    for (size_t c = 0; c < g->channels; c++)
        for (size_t i = 0; i < g->out_height; i++)
            for (size_t j = 0; j < g->out_width; j++) {
                size_t best = (c * H + i * g->stride) * W + j * g->stride;
                for (size_t a = 0; a < s; a++)
                    for (size_t b = 0; b < s; b++) {
                        size_t idx = (c * H + i * g->stride + a) * W + j * g->stride + b;
                        if (x[idx] > x[best])
                            best = idx;
                    }
                const size_t o = (c * g->out_height + i) * g->out_width + j;
                y[o] = x[best];
                if (argmax)
                    argmax[o] = best;
            }
}

void mx_maxpool_backward(const mx_pool_geom *g, const float *dy, const size_t *argmax, float *dx)
{
    memset(dx, 0, g->channels * g->height * g->width * sizeof *dx);
    const size_t n = mx_pool_output_size(g);
    for (size_t o = 0; o < n; o++)
        dx[argmax[o]] += dy[o];
}
