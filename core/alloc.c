/* SPDX-License-Identifier: MIT
 *
 * alloc.c: every allocation of the library goes through here — 64-byte
 * aligned (a cache line, and enough for any SIMD width the compiler picks),
 * with a counter that tests use to fail the Nth allocation and check that
 * each create path returns MX_ENOMEM cleanly.
 */
#include "core/core.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MX_ALLOC_ALIGN_BYTES 64

static atomic_long fail_countdown; /* 0 = never fail */

void mx_alloc_fail_after(long n) { atomic_store(&fail_countdown, n); }

static int should_fail(void)
{
    long n = atomic_load(&fail_countdown);
    while (n > 0) {
        if (atomic_compare_exchange_weak(&fail_countdown, &n, n - 1))
            return n == 1;
    }
    return 0;
}

void *mx_alloc(size_t bytes)
{
    if (should_fail())
        return NULL;
    /* Rounding up must not wrap a huge request around to a tiny block. */
    if (bytes > SIZE_MAX - (MX_ALLOC_ALIGN_BYTES - 1))
        return NULL;
    size_t rounded = (bytes + MX_ALLOC_ALIGN_BYTES - 1) / MX_ALLOC_ALIGN_BYTES * MX_ALLOC_ALIGN_BYTES;
    if (rounded == 0)
        rounded = MX_ALLOC_ALIGN_BYTES;
    return aligned_alloc(MX_ALLOC_ALIGN_BYTES, rounded);
}

void *mx_calloc(size_t count, size_t size)
{
    size_t bytes = mx_size_mul(count, size);
    if (bytes == 0 && count != 0 && size != 0)
        return NULL;
    void *p = mx_alloc(bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

void mx_free(void *p) { free(p); }
