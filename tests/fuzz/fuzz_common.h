/* SPDX-License-Identifier: MIT
 *
 * fuzz_common.h: shared helpers of the fuzz targets (issue 10). The readers
 * that take only a path get the fuzz input through a file of their own under
 * /tmp, named by the process id so that parallel fuzzers and parallel replay
 * tests never share one. The file is rewritten for every input and removed
 * at exit.
 */
#ifndef MX_FUZZ_COMMON_H
#define MX_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Every target defines this (libFuzzer's entry point; replay.c calls it). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Write data to /tmp/mxfuzz-<pid>-<tag><suffix> (path in buf, path_size
 * bytes). Returns 0, or -1 when the file cannot be written (the target then
 * skips the input: an I/O fault of the fuzzing host is not a finding). */
static inline int mx_fuzz_write_file(const char *tag, const char *suffix, const uint8_t *data,
                                     size_t size, char *buf, size_t path_size)
{
    int n = snprintf(buf, path_size, "/tmp/mxfuzz-%ld-%s%s", (long)getpid(), tag, suffix);
    if (n < 0 || (size_t)n >= path_size)
        return -1;
    FILE *f = fopen(buf, "wb");
    if (!f)
        return -1;
    size_t put = size ? fwrite(data, 1, size, f) : 0;
    int bad = (put != size);
    if (fclose(f) != 0)
        bad = 1;
    return bad ? -1 : 0;
}

#endif /* MX_FUZZ_COMMON_H */
