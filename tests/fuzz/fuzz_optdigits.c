/* SPDX-License-Identifier: MIT
 *
 * fuzz_optdigits.c: the CSV dataset reader (mx_dataset_load_optdigits, UCI
 * optical digits: 64 features 0..16 and the class per line; gzip or plain).
 */
#include <stddef.h>
#include <stdint.h>

#include "experiments/dataset.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[256];
    if (mx_fuzz_write_file("optdigits", ".csv", data, size, path, sizeof path) != 0)
        return 0;
    mx_dataset d;
    /* All rows, then a window, the two ways the experiments call it. */
    if (mx_dataset_load_optdigits(path, 0, 0, &d) == MX_OK)
        mx_dataset_free(&d);
    if (mx_dataset_load_optdigits(path, 1, 2, &d) == MX_OK)
        mx_dataset_free(&d);
    remove(path);
    return 0;
}
