/* SPDX-License-Identifier: MIT
 *
 * adc.h: the `memxbar adc` command (cli/adc.c): an ADC's transfer curve,
 * transition levels and INL/DNL, to HDF5 and a PNG.
 */
#ifndef MX_CLI_ADC_H
#define MX_CLI_ADC_H

/* Usage text of the adc command, for main.c's help. */
extern const char cli_adc_usage[];

/* `memxbar adc ARGS...` (argv holds what follows "adc"). Returns the
 * process exit code: 0 done, 1 failed (message printed), 2 bad usage. */
int cli_adc(int argc, char **argv);

#endif
