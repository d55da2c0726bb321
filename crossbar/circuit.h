/* SPDX-License-Identifier: MIT
 *
 * circuit.h: the crossbar as an electrical circuit — wire resistance on rows
 * and columns, driver and sense resistances, an optional access resistor in
 * series with every cell (1T1R), linear or sinh cell I–V — solved exactly
 * (sparse Cholesky nodal analysis, SuiteSparse CHOLMOD; Newton for sinh
 * cells), plus calibrated fast approximations. It sits beside matmul.c in
 * crossbar/: a programmed tile's conductances go in, its column currents (or
 * its IR-drop-exact effective conductances) come out.
 *
 *   row i:    V[i] --r_src-- (i,0) --r_row-- (i,1) --r_row-- ... (i,C-1)
 *   column j: (0,j) --r_col-- (1,j) --r_col-- ... (R-1,j) --r_sense-- 0 V
 *   cell i,j: row node (i,j) --[r_access]-- cell -- column node (i,j)
 *             linear I = G·v;  sinh I = (G/k)·sinh(k·v)
 *
 * Exactly the circuit of ../shared/reference/irdrop/README.md (ngspice cases).
 * A resistance of 0 joins its two nodes into one (never a huge conductance);
 * r_src or r_sense = +inf leaves every row undriven / every column unsensed.
 *
 * Line by line, a row can float (its driver off: no source, high impedance)
 * and a column can float (no sense node); a sensed column's sense node (the
 * virtual ground) can be held at a voltage other than 0 V. With lines
 * floating, current finds series paths through unselected cells — the sneak
 * paths of a passive (0T1R) array; mx_circuit_read_cell reads one cell under
 * the usual selection schemes (floating, v-ground, v-half).
 * Equations, choices and measured errors: docs/crossbar.md ("Circuit").
 */
#ifndef MX_CIRCUIT_H
#define MX_CIRCUIT_H

#include <stddef.h>

#include "core/core.h"

typedef enum mx_cell_iv {
    MX_CELL_LINEAR, /* I = G·v */
    MX_CELL_SINH,   /* I = (G/k)·sinh(k·v): small-signal conductance G at v = 0 */
} mx_cell_iv;

/* How column currents / effective conductances are computed. */
typedef enum mx_circuit_mode {
    MX_CIRCUIT_EXACT,       /* sparse nodal solve (CHOLMOD), exact to rounding */
    MX_CIRCUIT_IDEAL,       /* no wires, no terminals: I_j = Σ_i G'_ij·V_i, with
                               G' = G in series with r_access */
    MX_CIRCUIT_FIRST_ORDER, /* drops caused by the ideal currents, first order in r */
    MX_CIRCUIT_LINE_SWEEPS, /* `sweeps` alternating exact row-line / column-line
                               solves (block Gauss–Seidel) from the ideal state */
} mx_circuit_mode;

typedef struct mx_circuit_params {
    size_t rows, cols;      /* array size R × C (inputs × outputs); no default, ≥ 1 */
    double r_row_ohm;       /* row wire per segment between adjacent cells, Ω, ≥ 0; 1.0 */
    double r_col_ohm;       /* column wire per segment, Ω, ≥ 0; 1.0 */
    double r_src_ohm;       /* row driver output resistance, Ω, ≥ 0 or +inf (undriven); 0 */
    double r_sense_ohm;     /* column sense (virtual ground) input resistance, Ω, ≥ 0 or
                               +inf (unsensed: its current is 0); 0 */
    double r_access_ohm;    /* 1T1R access resistance in series with each cell, Ω, ≥ 0
                               (0 = passive 0T1R); 0 */
    /* Per-line terminals (all optional, NULL = the default for every line;
     * the arrays are the caller's, read during the call — mx_circuit_create
     * keeps its own copies). */
    const unsigned char *row_floating; /* (rows) 0 or 1: 1 = the row's driver is off (high
                                          impedance): no source, its V[i] is ignored;
                                          NULL = every row driven */
    const unsigned char *col_floating; /* (cols) 0 or 1: 1 = the column has no sense node:
                                          its current is 0; NULL = every column sensed */
    const double *v_col_v;  /* (cols) voltage at which each sensed column's sense node is
                               held (a biased virtual ground, or a column driven through
                               r_sense), V, finite; NULL = 0 V. i_col[j] is still the
                               current flowing out of column j into that node */
    mx_cell_iv cell;        /* MX_CELL_LINEAR */
    double k_per_v;         /* sinh steepness k, 1/V, > 0 for sinh cells; 3.0 */
    double newton_rtol;     /* sinh cells: converged when the largest KCL residual is
                               ≤ rtol · (largest cell current) and the last update
                               ≤ rtol · max|V|; in (0, 1e-3]; 1e-10 */
    int newton_max_iter;    /* sinh cells: linear solves allowed per input, ≥ 1; 60 */
    int sweeps;             /* MX_CIRCUIT_LINE_SWEEPS: row+column sweeps, ≥ 1; 2 */
} mx_circuit_params;

/* Defaults as above, rows = cols = 0 (the caller sets the size). */
void mx_circuit_params_default(mx_circuit_params *p);

/* MX_EINVAL naming the field: a size of 0, a negative or NaN resistance,
 * +inf on a wire or the access resistor, a sinh cell with k not in (0, inf),
 * rtol or max_iter out of range, a row_floating / col_floating entry other
 * than 0 or 1, a non-finite v_col_v entry. */
mx_status mx_circuit_params_validate(const mx_circuit_params *p);

/* MX_EINVAL naming the cell ("g[i, j]") when a conductance is negative or
 * not finite. G = 0 is an open cell. g: (rows, cols) row-major, S. */
mx_status mx_circuit_check_conductances(const mx_circuit_params *p, const double *g);

typedef struct mx_circuit mx_circuit;

/* Build the nodal system of one programmed state and factor it once
 * (CHOLMOD analyse + Cholesky; linear cells: terminal nodes ordered last for
 * mx_circuit_transfer, sinh cells: CHOLMOD's default ordering) with the
 * cells' small-signal conductances. g: (rows, cols) row-major, S, copied.
 * Fails with MX_EINVAL (bad params or g, see above; a floating node — a
 * row or column node with no path to a source or a sense node, e.g. a
 * floating row whose cells are all open — named by its position), MX_ENUMERIC (the nodal matrix is not numerically positive
 * definite: resistances spanning too many decades), MX_ENOMEM. On failure
 * *out is NULL. A circuit is used by one thread at a time (it owns CHOLMOD
 * workspaces); distinct circuits are independent. */
mx_status mx_circuit_create(const mx_circuit_params *p, const double *g, mx_circuit **out);
void mx_circuit_destroy(mx_circuit *c);

const mx_circuit_params *mx_circuit_get_params(const mx_circuit *c);
/* Unknowns of the nodal system (free nodes after merging zero resistances). */
size_t mx_circuit_n_nodes(const mx_circuit *c);
/* The factor's size: OUT nonzeros of L, flops of one factorisation (CHOLMOD's
 * analysis), and the terminal nodes ordered last for the transfer matrix
 * (0: that ordering is not used; all 0 when there are no unknowns). */
void mx_circuit_factor_stats(const mx_circuit *c, double *nnz_l, double *flops,
                             size_t *terminals);

/* Exact column currents for `batch` inputs at once.
 * v_in: (batch, rows) row voltages, V (finite; a floating row's is ignored).
 * OUT i_col: (batch, cols), the current flowing out of each column into its
 * sense node, A (0 for a floating column).
 * Linear cells: one multi-RHS solve with the stored factor. Sinh cells:
 * chord iterations with the stored factor for the whole batch, then damped
 * Newton with numeric refactorisation for inputs that converge slowly.
 * Fails with MX_EINVAL (non-finite input), MX_ENUMERIC (Newton did not
 * converge within newton_max_iter, or a current overflowed: the message names
 * the input and the residual reached), MX_ENOMEM. */
mx_status mx_circuit_solve(mx_circuit *c, const double *v_in, size_t batch, double *i_col);

/* Linear cells only: the exact transfer matrix M with
 * i_col[j] = Σ_i V[i]·M[i][j] (superposition), from the factor's Schur
 * complement onto the terminal nodes (or min(rows, cols) unit solves when
 * the terminals are most of the nodes). Floating rows have M[i][·] = 0,
 * floating columns M[·][j] = 0. OUT m: (rows, cols) S.
 * MX_EINVAL for sinh cells or a nonzero v_col_v (the currents are then
 * affine, not linear, in V), MX_ENOMEM. */
mx_status mx_circuit_transfer(mx_circuit *c, double *m);

/* Column currents by an approximate (or the exact) mode, linear cells.
 * g: (rows, cols) S; v_in: (batch, rows) V; OUT i_col: (batch, cols) A.
 * Needs no circuit object. MX_EINVAL (bad params, sinh cells; per-line
 * terminals — floating lines or v_col_v — with a mode other than exact:
 * the approximations assume every row driven and every column sensed at
 * 0 V), MX_ENOMEM. */
mx_status mx_circuit_currents(const mx_circuit_params *p, mx_circuit_mode mode,
                              const double *g, const double *v_in, size_t batch,
                              double *i_col);

/* Effective conductances of a programmed tile — the transfer matrix of the
 * chosen mode — in the float form matmul.c stores: g (rows, cols) S in,
 * OUT g_eff (rows, cols) S, i_col[j] = Σ_i V[i]·g_eff[i][j]. Linear cells
 * only. Fails as mx_circuit_create (exact mode) or mx_circuit_currents. */
mx_status mx_circuit_effective_conductance(const mx_circuit_params *p, mx_circuit_mode mode,
                                           const float *g, size_t rows, size_t cols,
                                           float *g_eff);

/* Name of a mode ("exact", "ideal", "first-order", "line-sweeps") and back;
 * mx_circuit_mode_parse fails with MX_EINVAL listing the names. */
const char *mx_circuit_mode_name(mx_circuit_mode mode);
mx_status mx_circuit_mode_parse(const char *name, mx_circuit_mode *out);

/* ---- reading one cell of an array --------------------------------------------
 * Select row i (driven at v_read), sense column j (virtual ground, 0 V), and
 * terminate the other lines by the scheme:
 *   floating  unselected rows and columns float: every series path through
 *             unselected cells (sneak paths) adds to the read current;
 *   v-ground  unselected rows driven at 0 V, unselected columns held at 0 V:
 *             with ideal wires the read current is exactly G_ij·v_read;
 *   v-half    unselected rows driven at v_read/2, unselected columns held at
 *             v_read/2 (their sense nodes biased, v_col_v): unselected cells
 *             see 0 V, half-selected cells v_read/2 — those on column j add
 *             (v_read/2)·G_i'j to the read current.
 * 1T1R (r_access_ohm > 0): the access transistors of unselected rows are
 * off, so their cells are open; a passive array (r_access_ohm = 0) keeps
 * every cell. Lines that no current can reach (every cell on them open) are
 * held at 0 V, where they change nothing. */
typedef enum mx_read_scheme {
    MX_READ_FLOATING,
    MX_READ_V_GROUND,
    MX_READ_V_HALF,
} mx_read_scheme;

/* Exact read current of cell (i, j): OUT *i_read, the current flowing out of
 * column j into its sense node, A. p: the array (rows, cols, resistances,
 * cell model; its per-line fields are ignored — the scheme sets them, and
 * r_src_ohm and r_sense_ohm must be finite); g: (rows, cols) S.
 * Fails with MX_EINVAL (bad params or g, i or j out of range, v_read not
 * finite, an unknown scheme, a floating node left), MX_ENUMERIC (as
 * mx_circuit_solve), MX_ENOMEM. */
mx_status mx_circuit_read_cell(const mx_circuit_params *p, const double *g, size_t i, size_t j,
                               double v_read, mx_read_scheme scheme, double *i_read);

/* "floating", "v-ground", "v-half" and back (MX_EINVAL listing the names). */
const char *mx_read_scheme_name(mx_read_scheme scheme);
mx_status mx_read_scheme_parse(const char *name, mx_read_scheme *out);

/* ---- reference case files (circuit_json.c) --------------------------------
 * A case in the JSON format of ../shared/reference/irdrop (README there).
 * Arrays are owned by the case; free with mx_circuit_case_free. */
typedef struct mx_circuit_case {
    char name[128];
    mx_circuit_params params; /* rows, cols, resistances, cell model, k; its per-line
                                 pointers point into the arrays below */
    unsigned char *row_floating; /* (rows) 0/1, NULL when the file has none */
    unsigned char *col_floating; /* (cols) 0/1, NULL when the file has none */
    double *v_col;            /* (cols) V, sense-node voltages; NULL when absent */
    double *g;                /* (rows, cols) S */
    double *v_row;            /* (rows) V */
    double *i_col;            /* (cols) A, expected; NULL when the file has none */
    double *i_col_ideal;      /* (cols) A, expected ideal; NULL when absent */
} mx_circuit_case;

/* Read a case. Fails with MX_EIO (cannot open), MX_EFORMAT (JSON syntax
 * error, with line and column), MX_EINVAL (a field missing, of the wrong
 * type or shape, or out of range; the message names the file and field),
 * MX_ENOMEM. On failure the case is left empty. */
mx_status mx_circuit_case_read(const char *path, mx_circuit_case *out);
void mx_circuit_case_free(mx_circuit_case *cs);

#endif /* MX_CIRCUIT_H */
