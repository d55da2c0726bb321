/* SPDX-License-Identifier: MIT
 *
 * crossbar.c: `memxbar crossbar solve CASE.json` — reads one crossbar circuit
 * in the JSON format of ../shared/reference/irdrop (crossbar/circuit_json.c),
 * solves it exactly (crossbar/circuit.c: sparse nodal analysis, Newton for
 * sinh cells) and prints {"i_col_a": [...]} with 17 significant digits on
 * stdout, so anyone can check a circuit of their own against SPICE.
 * `--mode` picks an approximation instead (ideal, first-order,
 * line-sweeps); `--sweeps N` sets the line-sweep count. Cases may float
 * lines (row_floating, col_floating) and bias sense nodes (v_col_v), which
 * the exact mode solves with their sneak paths.
 * `memxbar crossbar read CASE.json --cell I,J` reads one cell of the case's
 * array under a selection scheme (floating, v-ground, v-half;
 * mx_circuit_read_cell) and prints {"i_read_a": ...}.
 */
#include "cli/crossbar.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "core/core.h"
#include "crossbar/circuit.h"

const char cli_crossbar_usage[] =
    "usage: memxbar crossbar solve CASE.json [--mode MODE] [--sweeps N]\n"
    "       memxbar crossbar read CASE.json --cell I,J [--scheme S] [--v-read V]\n"
    "\n"
    "solve: solve the crossbar circuit in CASE.json (the format of the ngspice\n"
    "reference cases: rows, cols, r_row_ohm, r_col_ohm, r_src_ohm, r_sense_ohm,\n"
    "r_access_ohm, cell_model \"linear\" | \"sinh\", k_per_v, g_s, v_row_v; optional\n"
    "row_floating and col_floating, lists of 0/1 — 1 = no driver / no sense node —\n"
    "and v_col_v, the sense-node voltages) and print the current flowing out of\n"
    "each column into its sense node as {\"i_col_a\": [...]} (A; 0 when floating).\n"
    "\n"
    "read: the current of cell (I, J) of the case's array (g_s and resistances;\n"
    "its v_row_v and per-line fields are not used) when row I is driven at V and\n"
    "column J sensed, the other lines set by the scheme; prints {\"i_read_a\": ...}.\n"
    "\n"
    "options:\n"
    "  --mode MODE   solve: exact (default), ideal, first-order or line-sweeps\n"
    "  --sweeps N    solve: row+column sweeps of line-sweeps (default 2)\n"
    "  --cell I,J    read: the selected row and column (from 0)\n"
    "  --scheme S    read: floating (default: other lines float, sneak paths),\n"
    "                v-ground (other lines at 0 V) or v-half (other lines at V/2)\n"
    "  --v-read V    read: the selected row's voltage (default v_row_v[I])\n";

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
            int code = mx_cli_parse_long("memxbar crossbar", a, argv[++k], 1, 100000, &sweeps);
            if (code)
                return code;
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

/* "I,J" → two indices. */
static int parse_cell(const char *s, size_t *i, size_t *j)
{
    char *end;
    unsigned long long a = strtoull(s, &end, 10);
    if (end == s || *end != ',' || s[0] == '-')
        return 0;
    const char *t = end + 1;
    unsigned long long b = strtoull(t, &end, 10);
    if (end == t || *end || t[0] == '-')
        return 0;
    *i = (size_t)a;
    *j = (size_t)b;
    return 1;
}

static int cmd_read(int argc, char **argv)
{
    const char *path = NULL, *scheme_name = "floating", *v_text = NULL;
    size_t ci = 0, cj = 0;
    int have_cell = 0;
    for (int k = 0; k < argc; k++) {
        const char *a = argv[k];
        if (!strcmp(a, "--cell") && k + 1 < argc) {
            if (!parse_cell(argv[++k], &ci, &cj))
                return usage_error("--cell: expected I,J (two indices from 0), got '%s'",
                                   argv[k]);
            have_cell = 1;
        } else if (!strcmp(a, "--scheme") && k + 1 < argc) {
            scheme_name = argv[++k];
        } else if (!strcmp(a, "--v-read") && k + 1 < argc) {
            v_text = argv[++k];
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
    if (!path || !have_cell)
        return usage_error("read: expected a case file and --cell I,J\n\n%s",
                           cli_crossbar_usage);
    mx_read_scheme scheme;
    if (mx_read_scheme_parse(scheme_name, &scheme)) {
        fprintf(stderr, "memxbar crossbar: --scheme: %s\n", mx_last_error());
        return 2;
    }
    double v_read = 0.0;
    if (v_text) {
        char *end;
        v_read = strtod(v_text, &end);
        if (end == v_text || *end || !isfinite(v_read))
            return usage_error("--v-read: expected a finite voltage, got '%s'", v_text);
    }
    mx_circuit_case cs;
    mx_status st = mx_circuit_case_read(path, &cs);
    if (st) {
        fprintf(stderr, "memxbar crossbar: %s\n", mx_last_error());
        return 1;
    }
    if (!v_text && ci < cs.params.rows)
        v_read = cs.v_row[ci];
    double i_read = 0.0;
    st = mx_circuit_read_cell(&cs.params, cs.g, ci, cj, v_read, scheme, &i_read);
    if (st) {
        fprintf(stderr, "memxbar crossbar: %s: %s\n", path, mx_last_error());
    } else {
        printf("{\"cell\": [%zu, %zu], \"scheme\": \"%s\", \"v_read_v\": %.17g, "
               "\"i_read_a\": %.17g}\n", ci, cj, mx_read_scheme_name(scheme), v_read, i_read);
        if (fflush(stdout) != 0) {
            fprintf(stderr, "memxbar crossbar: cannot write the result\n");
            st = MX_EIO;
        }
    }
    mx_circuit_case_free(&cs);
    return st ? 1 : 0;
}

int cli_crossbar(int argc, char **argv)
{
    if (argc < 1)
        return usage_error("expected solve or read\n\n%s", cli_crossbar_usage);
    const char *sub = argv[0];
    if (!strcmp(sub, "solve"))
        return cmd_solve(argc - 1, argv + 1);
    if (!strcmp(sub, "read"))
        return cmd_read(argc - 1, argv + 1);
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
        fputs(cli_crossbar_usage, stdout);
        return 0;
    }
    return usage_error("unknown subcommand '%s' (expected solve or read)\n\n%s", sub,
                       cli_crossbar_usage);
}
