/* SPDX-License-Identifier: MIT
 *
 * fuzz_idx.c: the IDX dataset reader (mx_dataset_load_idx, MNIST format).
 * The input is split in two files: its first byte b gives the image file's
 * share (b/255 of the rest), the remainder is the label file. zlib reads
 * files without a gzip header as plain bytes, so both raw and gzip IDX
 * files reach the parser. A limit of 64 examples bounds the allocation a
 * header may ask for, as the experiments do with their `limit`.
 */
#include <stddef.h>
#include <stdint.h>

#include "experiments/dataset.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t rest = size - 1;
    size_t n_img = rest * data[0] / 255;
    char img[256], lbl[256];
    if (mx_fuzz_write_file("images", ".idx", data + 1, n_img, img, sizeof img) != 0 ||
        mx_fuzz_write_file("labels", ".idx", data + 1 + n_img, rest - n_img, lbl, sizeof lbl) != 0)
        return 0;
    mx_dataset d;
    if (mx_dataset_load_idx(img, lbl, 64, &d) == MX_OK)
        mx_dataset_free(&d);
    remove(img);
    remove(lbl);
    return 0;
}
