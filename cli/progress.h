/* SPDX-License-Identifier: MIT
 *
 * progress.h: the CLI's stderr logger and progress bar (installed as the
 * library's mx_log / mx_progress hooks).
 */
#ifndef MX_CLI_PROGRESS_H
#define MX_CLI_PROGRESS_H

#include "core/log.h"

typedef struct cli_output {
    int quiet;        /* only warnings and errors */
    int verbose;      /* debug messages too */
    int tty;          /* stderr is a terminal: redraw one bar line */
    const char *prefix; /* before every message (an MPI rank's "rank 1: "); NULL: none */
} cli_output;

void cli_output_install(cli_output *out);

#endif
