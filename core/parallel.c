/* SPDX-License-Identifier: MIT
 *
 * parallel.c: independent items on the OpenMP threads (parallel.h).
 */
#include "core/parallel.h"

#include <omp.h>

#include "core/log.h"

mx_status mx_parallel_items(const mx_parallel_ops *ops, const void *ctx, size_t n, size_t chunk,
                            const char *what)
{
    mx_status status = MX_OK;
    char message[2048] = "";
    size_t done = 0;
    int any_failed = 0; /* lets the other threads skip the rest after a failure */
    const int ch = chunk > 0 && chunk < 65536 ? (int)chunk : 1;
#pragma omp parallel
    {
        void *state = NULL;
        mx_status st = ops->state_create ? ops->state_create(ctx, &state) : MX_OK;
#pragma omp for schedule(dynamic, ch)
        for (size_t i = 0; i < n; i++) {
            int failed;
#pragma omp atomic read
            failed = any_failed;
            if (!st && !failed) {
                st = ops->item(ctx, state, i);
                if (st) {
#pragma omp atomic write
                    any_failed = 1;
                }
            }
            if (what) {
                size_t d;
#pragma omp atomic capture
                d = ++done;
                if (omp_get_thread_num() == 0)
                    mx_progress(what, d, n);
            }
        }
        if (st) {
#pragma omp critical(mx_parallel_error)
            if (!status) {
                status = st;
                mx_error_copy(message, sizeof message);
            }
        }
        if (state && ops->state_destroy)
            ops->state_destroy(state);
    }
    if (what)
        mx_progress(what, n, n);
    if (status)
        mx_error_set(message);
    return status;
}
