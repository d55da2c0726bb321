/* SPDX-License-Identifier: MIT
 *
 * weights.h: trained networks in HDF5 — memxbar's weight format, used to
 * cache training between sweeps and (later) to bring in networks trained
 * elsewhere.
 *
 *   /                 attrs: format = "memxbar-weights", format_version = 1,
 *                     n_layers, sizes (uint64 array), key (string: what was
 *                     trained, how; a cache hit requires an equal key),
 *                     ann_test_accuracy (float64, may be absent)
 *   /layers/<l>/weight  float32 (n_out, n_in) row-major
 */
#ifndef MX_WEIGHTS_H
#define MX_WEIGHTS_H

#include "core/core.h"
#include "snn/mlp.h"

/* Write net to path (via <path>.tmp + rename, so a reader never sees half a
 * file). key: free text identifying the training. */
mx_status mx_weights_save(const char *path, const mx_mlp *net, const char *key,
                          double ann_test_accuracy);
/* Read path. If expected_key is non-NULL and differs from the file's key:
 * MX_EMISMATCH. Bad format, shapes or non-finite weights: MX_EFORMAT naming
 * the file and dataset. OUT: *out (caller destroys), *ann_test_accuracy
 * (NAN when absent; may be NULL). */
mx_status mx_weights_load(const char *path, const char *expected_key, mx_mlp **out,
                          double *ann_test_accuracy);

/* Take the cache lock of the cache file `path` (flock on <path>.lock,
 * waiting while another process or thread holds it): hold it from looking
 * the network up to saving it, so processes sharing a cache folder train
 * each network once. Returns the lock's descriptor, or -1 when the lock
 * file cannot be made (then the caller goes on without it). */
int mx_cache_lock(const char *path);
/* Release a lock from mx_cache_lock (accepts -1). */
void mx_cache_unlock(int fd);

#endif /* MX_WEIGHTS_H */
