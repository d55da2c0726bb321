/* SPDX-License-Identifier: MIT
 *
 * fuzz_circuit_case.c: the crossbar circuit JSON case reader
 * (mx_circuit_case_read, the format of ../shared/reference/irdrop). A case
 * that parses and is small (at most FUZZ_MAX_CELLS cells, to keep the
 * executions per second high) is also built and solved: whatever the file
 * holds, mx_circuit_create and mx_circuit_solve must return a status, never
 * crash.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "crossbar/circuit.h"
#include "fuzz_common.h"

#define FUZZ_MAX_CELLS (32 * 32)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[256];
    if (mx_fuzz_write_file("case", ".json", data, size, path, sizeof path) != 0)
        return 0;
    mx_circuit_case cs;
    if (mx_circuit_case_read(path, &cs) == MX_OK) {
        size_t rows = cs.params.rows, cols = cs.params.cols;
        if (rows > 0 && cols > 0 && rows <= FUZZ_MAX_CELLS / cols) {
            mx_circuit *c = NULL;
            double *i_col = mx_calloc(cols, sizeof *i_col);
            if (i_col && mx_circuit_create(&cs.params, cs.g, &c) == MX_OK)
                (void)mx_circuit_solve(c, cs.v_row, 1, i_col);
            mx_circuit_destroy(c);
            mx_free(i_col);
        }
        mx_circuit_case_free(&cs);
    }
    remove(path);
    return 0;
}
