/* SPDX-License-Identifier: MIT
 *
 * fuzz_config.c: the YAML experiment-config loader (experiments/config.h):
 * parse, validate, count the sweep points and resolve the first few (sweep
 * expansion, device presets, cross-field checks), then free everything. Any
 * input must end in MX_OK or a clean error; crashes, leaks and undefined
 * behaviour are findings.
 */
#include <stddef.h>
#include <stdint.h>

#include "experiments/config.h"
#include "fuzz_common.h"

/* Sweep points resolved per input: enough to reach every axis' expansion,
 * few enough to keep executions fast. */
#define FUZZ_MAX_POINTS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mx_experiment_config cfg;
    if (mx_config_parse((const char *)data, size, "fuzz.yaml", &cfg) != MX_OK)
        return 0;
    (void)mx_config_validate(&cfg);
    size_t n = mx_config_n_points(&cfg);
    for (size_t k = 0; k < n && k < FUZZ_MAX_POINTS; k++) {
        mx_experiment_config pt;
        if (mx_config_point(&cfg, k, &pt) == MX_OK)
            mx_config_free(&pt);
    }
    mx_config_free(&cfg);
    return 0;
}
