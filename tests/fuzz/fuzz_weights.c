/* SPDX-License-Identifier: MIT
 *
 * fuzz_weights.c: the HDF5 weight loader (mx_weights_load). The input is
 * written to a file and read back, with and without an expected key.
 * Findings inside libhdf5 itself (its parser of the file format) are not
 * memxbar's to fix; docs/reliability.md says which ones were seen.
 */
#include <stddef.h>
#include <stdint.h>

#include "experiments/weights.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[256];
    if (mx_fuzz_write_file("weights", ".h5", data, size, path, sizeof path) != 0)
        return 0;
    mx_mlp *net = NULL;
    double acc = 0.0;
    if (mx_weights_load(path, NULL, &net, &acc) == MX_OK)
        mx_mlp_destroy(net);
    net = NULL;
    if (mx_weights_load(path, "seed", &net, NULL) == MX_OK)
        mx_mlp_destroy(net);
    remove(path);
    return 0;
}
