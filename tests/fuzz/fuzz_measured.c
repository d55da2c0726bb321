/* SPDX-License-Identifier: MIT
 *
 * fuzz_measured.c: the measured-curve device loader (devices/measured.h),
 * CSV path (an input starting with the HDF5 signature takes the HDF5 path).
 * A curve that loads is queried through its public accessors over both
 * branches and a pulse range past both ends.
 */
#include <stddef.h>
#include <stdint.h>

#include "devices/measured.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[256];
    if (mx_fuzz_write_file("curve", ".csv", data, size, path, sizeof path) != 0)
        return 0;
    mx_measured_curve *c = NULL;
    if (mx_measured_curve_load(path, &c) == MX_OK) {
        volatile double sink = mx_measured_curve_g_min(c) + mx_measured_curve_g_max(c);
        for (int b = 0; b < 2; b++) {
            mx_measured_branch br = (mx_measured_branch)b;
            double lo = 0, hi = 0;
            mx_measured_curve_pulse_range(c, br, &lo, &hi);
            for (int k = -1; k <= 5; k++) {
                double pulse = lo + (hi - lo) * k / 4.0;
                sink += mx_measured_curve_mean(c, br, pulse) + mx_measured_curve_std(c, br, pulse);
                sink += mx_measured_curve_pulse_at(c, br, mx_measured_curve_mean(c, br, pulse));
            }
        }
        (void)sink;
        mx_measured_curve_free(c);
    }
    remove(path);
    return 0;
}
