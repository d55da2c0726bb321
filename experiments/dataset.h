/* SPDX-License-Identifier: MIT
 *
 * dataset.h: real datasets, read natively — MNIST and Fashion-MNIST IDX
 * files (gzip, through zlib), the UCI optical digits CSV, and the POKER-DVS
 * event recordings (AEDAT 2.0 inside a .tar.gz, events.h). Pixels become
 * floats in [0, 1]; event data becomes `steps` frames of event counts per
 * example. The data folder is found from an explicit directory,
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
    size_t dim;        /* features per example: rows·cols for images,
                          steps·2·rows·cols for event data */
    size_t rows, cols; /* image / sensor patch shape */
    size_t n_classes;  /* 10 (4 for poker-dvs) */
    size_t steps;      /* 0 for static images; > 0 for event data: each row
                          holds `steps` consecutive frames of 2·rows·cols
                          values (polarity, then y, then x), each the event
                          count of that pixel and polarity in the time bin */
    float *x;          /* (n, dim) row-major; in [0, 1] for images, counts
                          (whole numbers >= 0) for event data */
    uint8_t *y;        /* (n) labels in [0, n_classes) */
} mx_dataset;

typedef enum mx_split { MX_SPLIT_TRAIN, MX_SPLIT_TEST } mx_split;

/* Time bins per event recording when none is asked for, and the most
 * accepted (dataset.event_steps). 20 bins split the median POKER-DVS
 * recording (14.7 ms) into 0.73 ms frames of ~125 events. */
#define MX_DATASET_EVENT_STEPS_DEFAULT 20
#define MX_DATASET_EVENT_STEPS_MAX 1000
/* POKER-DVS: 131 recordings, 4 classes, 35x35 patch; our split holds these. */
#define MX_POKER_DVS_RECORDINGS 131
#define MX_POKER_DVS_CLASSES 4
#define MX_POKER_DVS_TRAIN 101
#define MX_POKER_DVS_TEST 30
/* Our split: within each suit, in name order, every 4th recording (index
 * 3, 7, 11, ... counting from 0) is test. */
#define MX_POKER_DVS_TEST_EVERY 4

/* Options of mx_dataset_load_with; zero-initialise for the defaults. */
typedef struct mx_dataset_options {
    size_t event_steps; /* time bins per event recording; 0 = the default (20) */
} mx_dataset_options;

/* Find the data folder: `explicit_dir` (may be NULL), $MEMXBAR_DATA, ./data,
 * ../shared/data, and finally the source tree's ../shared/data. A folder
 * counts when it holds mnist/ or uci-optdigits/. OUT: dir (dir_size bytes).
 * MX_ENOTFOUND with every path tried in the message. */
mx_status mx_data_dir_find(const char *explicit_dir, char *dir, size_t dir_size);

/* Load a named dataset split from data folder `dir`: name is "mnist",
 * "fashion-mnist", "digits" (UCI optdigits; it has one split: the first
 * 1000 rows serve as train, the remaining 797 as test) or "poker-dvs"
 * (poker-dvs/poker_dvs.tar.gz, 20 time bins; see mx_dataset_load_poker_dvs).
 * `limit` > 0 keeps the first `limit` examples. Errors name the file and
 * what was wrong (MX_EIO, MX_EFORMAT, MX_ENOTFOUND for an unknown name). */
mx_status mx_dataset_load(const char *dir, const char *name, mx_split split, size_t limit,
                          mx_dataset *out);
/* The same with options (opt may be NULL: defaults). MX_EINVAL
 * "dataset.event_steps: ..." for event_steps above the maximum. */
mx_status mx_dataset_load_with(const char *dir, const char *name, mx_split split, size_t limit,
                               const mx_dataset_options *opt, mx_dataset *out);

/* POKER-DVS from its archive (any path): the 131 recordings are checked
 * (count and suits 30/43/23/35), labelled from their names x<suit><NN>[i]
 * (club 0, diamond 1, heart 2, spade 3), split (MX_POKER_DVS_TEST_EVERY) and
 * binned into `steps` frames each (mx_events_bin: the recording's span in
 * `steps` equal bins). Rows go round-robin over the suits (club, diamond,
 * heart, spade, club, ...; each suit in name order, exhausted suits
 * skipped), so the first `limit` rows stay balanced. */
mx_status mx_dataset_load_poker_dvs(const char *archive_path, mx_split split, size_t limit,
                                    size_t steps, mx_dataset *out);
/* Class of a POKER-DVS recording name ("xheart17.aedat" -> 2), -1 if the
 * name is not x<club|diamond|heart|spade><digits>[i].aedat. */
int mx_poker_dvs_label(const char *name);
/* Row order of one split over recording names sorted by strcmp (as
 * mx_events_read_archive returns them): OUT: idx[0, *n) indexes `names`
 * (idx holds n_names entries). MX_EFORMAT when a name is not a POKER-DVS
 * name. */
mx_status mx_poker_dvs_split(const char *const *names, size_t n_names, mx_split split,
                             size_t *idx, size_t *n);

/* IDX pair (images .gz, labels .gz); checks magic numbers, counts, sizes. */
mx_status mx_dataset_load_idx(const char *images_path, const char *labels_path, size_t limit,
                              mx_dataset *out);
/* UCI optdigits CSV (.gz): 64 features 0..16 then the class, per line. Rows
 * [first, first + count) are kept (count 0 = to the end). */
mx_status mx_dataset_load_optdigits(const char *path, size_t first, size_t count,
                                    mx_dataset *out);

void mx_dataset_free(mx_dataset *d);

#endif /* MX_DATASET_H */
