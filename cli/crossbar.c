/* SPDX-License-Identifier: MIT
 *
 * crossbar.c: `memxbar crossbar solve CASE.json` — reads one crossbar circuit
 * in the JSON format of ../shared/reference/irdrop (crossbar/circuit_json.c),
 * solves it exactly (crossbar/circuit.c: sparse nodal analysis, Newton for
 * sinh cells) and prints {"i_col_a": [...]} with 17 significant digits on
 * stdout, so anyone can check a circuit of their own against SPICE.
 * `--mode` picks an approximation instead (ideal, first-order,
 * line-sweeps); `--sweeps N` sets the line-sweep count.
 */
#include "cli/crossbar.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "crossbar/circuit.h"

const char cli_crossbar_usage[] =
    "usage: memxbar crossbar solve CASE.json [--mode MODE] [--sweeps N]\n"
    "\n"
    "Solve the crossbar circuit in CASE.json (the format of the ngspice reference\n"
    "cases: rows, cols, r_row_ohm, r_col_ohm, r_src_ohm, r_sense_ohm, r_access_ohm,\n"
    "cell_model \"linear\" | \"sinh\", k_per_v, g_s, v_row_v) and print the current\n"
    "flowing out of each column into its sense node as {\"i_col_a\": [...]} (A).\n"
    "\n"
    "options:\n"
    "  --mode MODE   exact (default), ideal, first-order or line-sweeps\n"
    "  --sweeps N    row+column sweeps of line-sweeps (default 2)\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("memxbar crossbar: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n", stderr);
    va_end(ap);
    return 2;
}

static int cmd_solve(int argc, char **argv)
{
    const char *path = NULL, *mode_name = "exact";
    long sweeps = 0;
    for (int k = 0; k < argc; k++) {
        const char *a = argv[k];
        if (!strcmp(a, "--mode") && k + 1 < argc) {
            mode_name = argv[++k];
        } else if (!strcmp(a, "--sweeps") && k + 1 < argc) {
            char *end;
            sweeps = strtol(argv[++k], &end, 10);
            if (*end || sweeps < 1 || sweeps > 100000)
                return usage_error("--sweeps: expected an integer 1..100000, got '%s'",
                                   argv[k]);
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(cli_crossbar_usage, stdout);
            return 0;
        } else if (a[0] == '-' && a[1]) {
            return usage_error("unknown or incomplete option '%s'\n\n%s", a, cli_crossbar_usage);
        } else if (path) {
            return usage_error("unexpected argument '%s' (one case file)", a);
        } else {
            path = a;
        }
    }
    if (!path)
        return usage_error("solve: expected a case file\n\n%s", cli_crossbar_usage);
    mx_circuit_mode mode;
    if (mx_circuit_mode_parse(mode_name, &mode)) {
        fprintf(stderr, "memxbar crossbar: --mode: %s\n", mx_last_error());
        return 2;
    }
    mx_circuit_case cs;
    mx_status st = mx_circuit_case_read(path, &cs);
    if (st) {
        fprintf(stderr, "memxbar crossbar: %s\n", mx_last_error());
        return 1;
    }
    if (sweeps)
        cs.params.sweeps = (int)sweeps;
    const size_t C = cs.params.cols;
    double *i_col = mx_alloc(C * sizeof *i_col);
    if (!i_col)
        st = mx_fail(MX_ENOMEM, "out of memory");
    else
        st = mx_circuit_currents(&cs.params, mode, cs.g, cs.v_row, 1, i_col);
    if (st) {
        fprintf(stderr, "memxbar crossbar: %s: %s\n", path, mx_last_error());
    } else {
        printf("{\"i_col_a\": [");
        for (size_t j = 0; j < C; j++)
            printf("%s%.17g", j ? ", " : "", i_col[j]);
        printf("]}\n");
        if (fflush(stdout) != 0) {
            fprintf(stderr, "memxbar crossbar: cannot write the result\n");
            st = MX_EIO;
        }
    }
    mx_free(i_col);
    mx_circuit_case_free(&cs);
    return st ? 1 : 0;
}

int cli_crossbar(int argc, char **argv)
{
    if (argc < 1)
        return usage_error("expected solve\n\n%s", cli_crossbar_usage);
    const char *sub = argv[0];
    if (!strcmp(sub, "solve"))
        return cmd_solve(argc - 1, argv + 1);
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
        fputs(cli_crossbar_usage, stdout);
        return 0;
    }
    return usage_error("unknown subcommand '%s' (expected solve)\n\n%s", sub, cli_crossbar_usage);
}
