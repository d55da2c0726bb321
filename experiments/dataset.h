/* SPDX-License-Identifier: MIT
 *
 * dataset.h: real datasets, read natively — MNIST and Fashion-MNIST IDX
 * files (gzip, through zlib) and the UCI optical digits CSV. Pixels become
 * floats in [0, 1]. The data folder is found from an explicit directory,
 * $MEMXBAR_DATA, ./data, then ../shared/data; when absent the error lists
 * every place it looked.
 */
#ifndef MX_DATASET_H
#define MX_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

typedef struct mx_dataset {
    size_t n;          /* examples */
    size_t dim;        /* features per example (rows·cols) */
    size_t rows, cols; /* image shape */
    size_t n_classes;  /* 10 */
    float *x;          /* (n, dim) row-major, in [0, 1] */
    uint8_t *y;        /* (n) labels in [0, n_classes) */
} mx_dataset;

typedef enum mx_split { MX_SPLIT_TRAIN, MX_SPLIT_TEST } mx_split;

/* Find the data folder: `explicit_dir` (may be NULL), $MEMXBAR_DATA, ./data,
 * ../shared/data, and finally the source tree's ../shared/data. A folder
 * counts when it holds mnist/ or uci-optdigits/. OUT: dir (dir_size bytes).
 * MX_ENOTFOUND with every path tried in the message. */
mx_status mx_data_dir_find(const char *explicit_dir, char *dir, size_t dir_size);

/* Load a named dataset split from data folder `dir`: name is "mnist",
 * "fashion-mnist" or "digits" (UCI optdigits; it has one split: the first
 * 1000 rows serve as train, the remaining 797 as test). `limit` > 0 keeps the
 * first `limit` examples. Errors name the file and what was wrong
 * (MX_EIO, MX_EFORMAT, MX_ENOTFOUND for an unknown name). */
mx_status mx_dataset_load(const char *dir, const char *name, mx_split split, size_t limit,
                          mx_dataset *out);

/* IDX pair (images .gz, labels .gz); checks magic numbers, counts, sizes. */
mx_status mx_dataset_load_idx(const char *images_path, const char *labels_path, size_t limit,
                              mx_dataset *out);
/* UCI optdigits CSV (.gz): 64 features 0..16 then the class, per line. Rows
 * [first, first + count) are kept (count 0 = to the end). */
mx_status mx_dataset_load_optdigits(const char *path, size_t first, size_t count,
                                    mx_dataset *out);

void mx_dataset_free(mx_dataset *d);

#endif /* MX_DATASET_H */
