/* SPDX-License-Identifier: MIT
 *
 * crossbar.h: the `memxbar crossbar` command (cli/crossbar.c): solve a
 * crossbar circuit given as a JSON case file and print its column currents.
 */
#ifndef MX_CLI_CROSSBAR_H
#define MX_CLI_CROSSBAR_H

/* Usage text of the crossbar command, for main.c's help. */
extern const char cli_crossbar_usage[];

/* `memxbar crossbar ARGS...` (argv holds what follows "crossbar"). Returns
 * the process exit code: 0 done, 1 failed (message printed), 2 bad usage. */
int cli_crossbar(int argc, char **argv);

#endif
