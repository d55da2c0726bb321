/* SPDX-License-Identifier: MIT
 *
 * args.h: option values the commands parse alike. Each returns 0 on
 * success, or prints "<cmd>: <opt>: expected ..., got "<text>"" to stderr
 * and returns 2 (the usage-error exit code).
 */
#ifndef MX_CLI_ARGS_H
#define MX_CLI_ARGS_H

#include <stdint.h>

/* A whole decimal number in [lo, hi]. */
int mx_cli_parse_long(const char *cmd, const char *opt, const char *text, long lo, long hi,
                      long *out);
/* A seed: a whole decimal number in [0, 2^64 − 1]. */
int mx_cli_parse_seed(const char *cmd, const char *opt, const char *text, uint64_t *out);

#endif /* MX_CLI_ARGS_H */
