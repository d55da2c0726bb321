/* SPDX-License-Identifier: MIT
 *
 * device.h: the `memxbar device` command (cli/device.c): list the device
 * models and presets, show one device's parameters, draw its response.
 */
#ifndef MX_CLI_DEVICE_H
#define MX_CLI_DEVICE_H

/* Usage text of the device command, for main.c's help. */
extern const char cli_device_usage[];

/* `memxbar device ARGS...` (argv holds what follows "device"). Returns the
 * process exit code: 0 done, 1 failed (message printed), 2 bad usage. */
int cli_device(int argc, char **argv);

#endif
