/* SPDX-License-Identifier: MIT
 *
 * args.c: option values the commands parse alike (args.h).
 */
#include "cli/args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int mx_cli_parse_long(const char *cmd, const char *opt, const char *text, long lo, long hi,
                      long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "%s: %s: expected an integer in [%ld, %ld], got \"%s\"\n", cmd, opt, lo,
                hi, text);
        return 2;
    }
    *out = v;
    return 0;
}

int mx_cli_parse_seed(const char *cmd, const char *opt, const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long s = strtoull(text, &end, 10);
    if (errno || end == text || *end != '\0' || text[0] == '-') {
        fprintf(stderr, "%s: %s: expected an integer in [0, %llu], got \"%s\"\n", cmd, opt,
                (unsigned long long)UINT64_MAX, text);
        return 2;
    }
    *out = (uint64_t)s;
    return 0;
}
