/* SPDX-License-Identifier: MIT
 *
 * parallel.h: n independent items (test images, calibration examples) on
 * the OpenMP threads, each thread with its own state, the first error kept.
 * Items must write only their own outputs and draw from their own stream
 * items, so results do not depend on the thread count.
 */
#ifndef MX_PARALLEL_H
#define MX_PARALLEL_H

#include <stddef.h>

#include "core/core.h"

typedef struct mx_parallel_ops {
    /* Per-thread state (NULL: none); a failure is kept like an item's. */
    mx_status (*state_create)(const void *ctx, void **state);
    void (*state_destroy)(void *state);
    /* Item i with the thread's state. */
    mx_status (*item)(const void *ctx, void *state, size_t i);
} mx_parallel_ops;

/* Run items 0..n−1 in chunks of `chunk` (dynamic schedule). After a failure
 * the remaining items are skipped; the first failure's status is returned
 * with its message (mx_last_error) in the calling thread. With `what`,
 * progress is reported through mx_progress (core/log.h). */
mx_status mx_parallel_items(const mx_parallel_ops *ops, const void *ctx, size_t n, size_t chunk,
                            const char *what);

#endif /* MX_PARALLEL_H */
