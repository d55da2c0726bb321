/* SPDX-License-Identifier: MIT
 *
 * circuit.c: exact DC solution of the crossbar circuit of circuit.h (the
 * circuit of ../shared/reference/irdrop/README.md) by nodal analysis, and
 * its fast approximations.
 *
 * Nodes. Every cell (i,j) has a row node and a column node. A resistance of
 * 0 joins its two nodes: r_src = 0 makes row node (i,0) the source itself
 * (a Dirichlet node at V[i]); r_row = 0 makes row i one node; r_col = 0 makes
 * column j one node; r_sense = 0 makes column node (R-1,j) (or the whole
 * column, with r_col = 0) the grounded sense node. What is left are the free
 * nodes, numbered cell by cell (row node, then column node). A cell with an
 * access resistor is one two-terminal element: linear cells have the series
 * conductance G·g_a/(G + g_a); sinh cells the current I(v) solving
 * v = I·r_a + asinh(k·I/G)/k, found by a scalar Newton iteration from I = 0
 * (φ(I) = I·r_a + asinh(kI/G)/k − |v| is increasing and concave for I ≥ 0, so
 * Newton from below rises monotonically to the root and never overflows),
 * with dI/dv = 1/(r_a + 1/(G·sqrt(1 + (kI/G)²))). So the internal node never
 * becomes an unknown and the matrix pattern does not depend on the cell model.
 *
 * Linear system. Kirchhoff's current law at the free nodes gives K·x = B·V
 * with K the weighted Laplacian of the free nodes (symmetric positive
 * definite: every free node has a path to a Dirichlet node, checked before
 * factoring — see find_floating), B the couplings to the sources. Column
 * currents are I = S·x + D·V (S: the branches into the sense node, D: cells
 * that join a source directly to the ground). K is assembled once per
 * programmed state as an upper-triangular CHOLMOD matrix, analysed (CHOLMOD's
 * default ordering — AMD, METIS when AMD fills badly — or the terminals-last
 * ordering below) and factored once; every input is then one forward/back
 * substitution, a batch one multi-column solve.
 *
 * Transfer matrix. For linear cells I = (S·K⁻¹·B + D)·V, so
 * M = (S·K⁻¹·B + D)ᵀ (rows × cols) is exact by superposition, and every MVM
 * after it is a GEMV. B and S touch only the few "terminal" nodes next to the
 * sources and the sense nodes (2·(R + C) of them for ideal terminals), so
 * for linear cells K is ordered with the terminals last (CAMD with
 * constraint sets, then an elimination-tree postorder within each set): the
 * trailing block of L then factors the Schur complement of K onto the
 * terminals, and M follows from two dense triangular solves and one GEMM
 * (transfer_schur) — 0.3 s instead of ~20 s of unit solves at 512 × 512.
 * When the terminals are most of the nodes (rows held by ideal sources with
 * r_row = 0) M takes min(rows, cols) unit solves instead — K⁻¹·B (one per
 * row) or the adjoint K⁻¹·Sᵀ (one per column, K is symmetric).
 *
 * Sinh cells (Newton). Start from the linear solution with the small-signal
 * conductances G (the stored factor), then chord iterations
 * x ← x − K₀⁻¹·F(x) for the whole batch with the stored factor, while each
 * input's update shrinks by at least CHORD_MAX_RATIO per step. An input that
 * contracts more slowly goes on alone with damped Newton: the Jacobian
 * J(x) = K_wires + Σ cells dI/dv (same pattern as K) is refactored
 * numerically in a second factor that reuses the symbolic analysis, and kept
 * for the next steps while the residual falls by REUSE_MAX_RATIO per step;
 * a step that does not lower max|F| is halved (at most LINE_SEARCH_MAX
 * times). Converged when, after an update, max_a |F_a| ≤ rtol·max_ij |I_ij|
 * (KCL residual against the largest cell current) and max_a |Δx_a| ≤
 * rtol·max_i |V_i|. Otherwise, after newton_max_iter linear solves for one
 * input, or on a non-finite current, MX_ENUMERIC names the input and the
 * residual reached.
 *
 * Per-line terminals. A floating row has no source branch (its driver is
 * off) and a floating column no sense branch, so their nodes stay free and
 * reach the terminals only through cells — the sneak paths of a passive
 * array. A column's sense node may be held at v_col[j] ≠ 0: the sense node
 * of column j stays one reference (REF_GROUND) whose value depends on the
 * column. Every branch into it is an S term (column j, node, g), so the
 * bias enters as K·x = B·V + Sᵀ·v_col and I_j = Σ g·(value(node) − v_col[j]);
 * the transfer matrix (∂I/∂V) is then not the whole answer and is refused.
 * The approximate modes assume every line terminated at 0 V and refuse
 * per-line terminals. mx_circuit_read_cell sets the line states of one
 * single-cell read (floating, v-ground, v-half schemes) and solves exactly;
 * lines no current can reach (all their cells open, e.g. unselected rows
 * of a 1T1R array whose transistors are off) are held at 0 V there, where
 * they change nothing, instead of failing as floating nodes.
 *
 * Approximations (linear cells; equations in docs/crossbar.md): ideal,
 * first order in the wire resistances, and alternating exact row-line and
 * column-line solves (tridiagonal, Thomas algorithm).
 */
#include "crossbar/circuit.h"

#include <assert.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <cblas.h>
#include <cholmod.h>

/* Node references: ≥ 0 a free node (an unknown); REF_GROUND the sense node
 * of the column in question, held at v_col[j] (0 V unless biased);
 * REF_SRC(i) ≤ -2 the source of row i (Dirichlet at V[i]). */
#define REF_GROUND (-1)
#define REF_SRC(i) (-2 - (int32_t)(i))
#define SRC_ROW(ref) ((size_t)(-2 - (ref)))

/* Right-hand sides per CHOLMOD solve: a block of nb columns of n doubles, at
 * most BLOCK_MAX_DOUBLES (64 MiB) so X, Y and E (as large) stay bounded,
 * and at most BLOCK_MAX_COLS (beyond ~64 the supernodal BLAS-3 solve gains
 * little; measured in bench_irdrop). */
#define BLOCK_MAX_DOUBLES ((size_t)1 << 23)
#define BLOCK_MAX_COLS 64
/* Terminals-last ordering for the transfer matrix (linear cells) when the
 * terminal nodes are at most this many (the dense t × t block: 128 MiB at
 * 4096) and at most half of the nodes. */
#define SCHUR_MAX_TERMINALS 4096
/* Newton (see the header comment). A chord step must shrink the update by
 * this factor or the input moves on to Newton; a refactored Jacobian is kept
 * while the residual falls by REUSE_MAX_RATIO per step. */
#define CHORD_MAX_RATIO 0.5
#define REUSE_MAX_RATIO 0.25
#define LINE_SEARCH_MAX 30
/* Scalar series-cell solve: stop when the update is below this many ulps of
 * the current (it converges quadratically; the cap is a safeguard). */
#define SERIES_ULPS 4.0
#define SERIES_MAX_ITER 100

struct mx_circuit {
    mx_circuit_params p;
    size_t R, C, n;      /* array size, free nodes */
    double *g;           /* (R, C) cell conductance G, S */
    double *g_lin;       /* (R, C) small-signal cell conductance (with r_access), S */
    int32_t *row_ref;    /* (R, C) row node of each cell */
    int32_t *col_ref;    /* (R, C) column node of each cell */
    double g_src, g_row, g_col, g_sense, g_access; /* 1/r, S (unused when r is 0 or inf) */
    /* per-line terminals, owned copies (p's pointers point here), or NULL */
    unsigned char *row_floating, *col_floating;
    double *v_col;       /* (C) sense-node voltages, or NULL when all are 0 V */
    /* linear couplings: B terms (free node, source row, g), S terms (column, ref, g) */
    size_t n_bt, n_st;
    int32_t *bt_node;
    int32_t *bt_row;
    double *bt_g;
    int32_t *st_col;
    int32_t *st_ref;
    double *st_g;
    /* nodal matrix */
    cholmod_common cm;
    int cm_started;
    cholmod_sparse *A;   /* upper triangle; small-signal K, later the Jacobian */
    double *x_wire;      /* (nnz) A's values with wires and terminals only */
    int32_t *pos_rr, *pos_cc, *pos_rc; /* (R, C) positions of cell stamps in A->x, or -1 */
    cholmod_factor *L0;  /* factor of K (small signal) */
    int schur;           /* L0 is ordered terminals last (see transfer_schur) */
    size_t t_nodes, s_nodes; /* terminal nodes, of which sense-side (ordered last) */
    double lnz, flops;   /* nnz(L) and Cholesky flops of the analysis (CHOLMOD) */
    cholmod_factor *LJ;  /* Jacobian factor (sinh cells), made on first use */
    cholmod_dense *X, *Y, *E; /* cholmod_solve2 solution and workspaces */
    double *rhs;         /* (n, nb_cap) right-hand sides */
    size_t nb_cap;
    /* Newton scratch (sinh cells) */
    double *dcell;       /* (R, C) dI/dv */
    double *nx, *nf, *nt, *nft; /* (n) iterate, residual, trial, trial residual */
    double *icol_tmp;    /* (C) */
};

/* ------------------------------------------------------------ parameters */

void mx_circuit_params_default(mx_circuit_params *p)
{
    memset(p, 0, sizeof *p);
    p->r_row_ohm = 1.0;
    p->r_col_ohm = 1.0;
    p->r_src_ohm = 0.0;
    p->r_sense_ohm = 0.0;
    p->r_access_ohm = 0.0;
    p->cell = MX_CELL_LINEAR;
    p->k_per_v = 3.0;
    p->newton_rtol = 1e-10;
    p->newton_max_iter = 60;
    p->sweeps = 2;
}

/* A resistance ≥ 0 whose conductance 1/r is finite; +inf allowed if `open_ok`. */
static mx_status check_resistance(const char *field, double r, int open_ok)
{
    if (isnan(r) || r < 0.0 || (isinf(r) && !open_ok))
        return mx_fail(MX_EINVAL,
                       "circuit %s: expected a resistance >= 0 (0 joins the two nodes)%s, got %g",
                       field, open_ok ? " or inf (open)" : "", r);
    if (r > 0.0 && !isinf(r) && !isfinite(1.0 / r))
        return mx_fail(MX_EINVAL, "circuit %s: %g ohm is too small (1/r overflows); use 0 to "
                       "join the nodes", field, r);
    return MX_OK;
}

mx_status mx_circuit_params_validate(const mx_circuit_params *p)
{
    if (p->rows == 0 || p->cols == 0)
        return mx_fail(MX_EINVAL, "circuit rows x cols: expected a non-empty array, got %zu x %zu",
                       p->rows, p->cols);
    /* at most 2·R·C free nodes, indexed by int32 (CHOLMOD's int interface) */
    size_t cells = mx_size_mul(p->rows, p->cols);
    if (cells == 0 || cells > (size_t)(INT32_MAX / 2 - 1) ||
        p->rows > (size_t)(INT32_MAX / 4) || p->cols > (size_t)(INT32_MAX / 4))
        return mx_fail(MX_EINVAL, "circuit rows x cols: %zu x %zu is too large", p->rows,
                       p->cols);
    mx_status st;
    if ((st = check_resistance("r_row_ohm", p->r_row_ohm, 0)) ||
        (st = check_resistance("r_col_ohm", p->r_col_ohm, 0)) ||
        (st = check_resistance("r_src_ohm", p->r_src_ohm, 1)) ||
        (st = check_resistance("r_sense_ohm", p->r_sense_ohm, 1)) ||
        (st = check_resistance("r_access_ohm", p->r_access_ohm, 0)))
        return st;
    if (p->cell != MX_CELL_LINEAR && p->cell != MX_CELL_SINH)
        return mx_fail(MX_EINVAL, "circuit cell_model: expected linear or sinh, got %d",
                       (int)p->cell);
    if (p->cell == MX_CELL_SINH && !(p->k_per_v > 0.0 && isfinite(p->k_per_v)))
        return mx_fail(MX_EINVAL, "circuit k_per_v: expected a finite value > 0 for sinh cells, "
                       "got %g", p->k_per_v);
    if (!(p->newton_rtol >= 1e-15 && p->newton_rtol <= 1e-3))
        return mx_fail(MX_EINVAL, "circuit newton_rtol: expected 1e-15..1e-3, got %g",
                       p->newton_rtol);
    if (p->newton_max_iter < 1 || p->newton_max_iter > 100000)
        return mx_fail(MX_EINVAL, "circuit newton_max_iter: expected 1..100000, got %d",
                       p->newton_max_iter);
    if (p->sweeps < 1 || p->sweeps > 100000)
        return mx_fail(MX_EINVAL, "circuit sweeps: expected 1..100000, got %d", p->sweeps);
    for (size_t i = 0; p->row_floating && i < p->rows; i++)
        if (p->row_floating[i] > 1)
            return mx_fail(MX_EINVAL, "circuit row_floating[%zu]: expected 0 or 1, got %d", i,
                           (int)p->row_floating[i]);
    for (size_t j = 0; p->col_floating && j < p->cols; j++)
        if (p->col_floating[j] > 1)
            return mx_fail(MX_EINVAL, "circuit col_floating[%zu]: expected 0 or 1, got %d", j,
                           (int)p->col_floating[j]);
    for (size_t j = 0; p->v_col_v && j < p->cols; j++)
        if (!isfinite(p->v_col_v[j]))
            return mx_fail(MX_EINVAL, "circuit v_col_v[%zu]: expected a finite voltage, got %g",
                           j, p->v_col_v[j]);
    return MX_OK;
}

mx_status mx_circuit_check_conductances(const mx_circuit_params *p, const double *g)
{
    for (size_t i = 0; i < p->rows; i++)
        for (size_t j = 0; j < p->cols; j++) {
            double v = g[i * p->cols + j];
            if (!(v >= 0.0 && isfinite(v)))
                return mx_fail(MX_EINVAL, "circuit g[%zu, %zu]: expected a finite conductance "
                               ">= 0 S (0 = open cell), got %g", i, j, v);
        }
    return MX_OK;
}

const char *mx_circuit_mode_name(mx_circuit_mode mode)
{
    switch (mode) {
    case MX_CIRCUIT_EXACT: return "exact";
    case MX_CIRCUIT_IDEAL: return "ideal";
    case MX_CIRCUIT_FIRST_ORDER: return "first-order";
    case MX_CIRCUIT_LINE_SWEEPS: return "line-sweeps";
    }
    return "?";
}

mx_status mx_circuit_mode_parse(const char *name, mx_circuit_mode *out)
{
    static const mx_circuit_mode all[] = {MX_CIRCUIT_EXACT, MX_CIRCUIT_IDEAL,
                                          MX_CIRCUIT_FIRST_ORDER, MX_CIRCUIT_LINE_SWEEPS};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        if (!strcmp(name, mx_circuit_mode_name(all[k]))) {
            *out = all[k];
            return MX_OK;
        }
    return mx_fail(MX_EINVAL, "circuit mode: expected one of exact, ideal, first-order, "
                   "line-sweeps, got \"%s\"", name);
}

/* ------------------------------------------------------------ cell I–V */

static int is_open(double r) { return isinf(r); }

/* Row i has no source: every row undriven (r_src = inf) or this one off. */
static int row_floats(const mx_circuit_params *p, size_t i)
{
    return is_open(p->r_src_ohm) || (p->row_floating && p->row_floating[i]);
}

/* Column j has no sense node. */
static int col_floats(const mx_circuit_params *p, size_t j)
{
    return is_open(p->r_sense_ohm) || (p->col_floating && p->col_floating[j]);
}

/* Some line is floating or biased: the approximations do not apply. */
static int has_line_terminals(const mx_circuit_params *p)
{
    for (size_t i = 0; p->row_floating && i < p->rows; i++)
        if (p->row_floating[i])
            return 1;
    for (size_t j = 0; p->col_floating && j < p->cols; j++)
        if (p->col_floating[j])
            return 1;
    for (size_t j = 0; p->v_col_v && j < p->cols; j++)
        if (p->v_col_v[j] != 0.0)
            return 1;
    return 0;
}

/* Small-signal (v = 0) conductance of a cell with its access resistor, S. */
static double cell_g_small(double G, double r_access)
{
    if (r_access > 0.0)
        return G / (1.0 + G * r_access);
    return G;
}

/* Current of a sinh cell in series with r_a > 0 at total voltage v ≥ 0:
 * the root of φ(I) = I·r_a + asinh(k·I/G)/k − v (see the file comment).
 * OUT *didv. */
static double series_sinh_current(double G, double k, double r_a, double v, double *didv)
{
    if (G == 0.0 || v == 0.0) {
        *didv = G == 0.0 ? 0.0 : 1.0 / (r_a + 1.0 / G);
        return 0.0;
    }
    double cur = v / (r_a + 1.0 / G); /* first Newton step from I = 0: below the root */
    for (int it = 0; it < SERIES_MAX_ITER; it++) {
        double y = k * cur / G;
        double phi = cur * r_a + asinh(y) / k - v;
        double dphi = r_a + 1.0 / (G * sqrt(1.0 + y * y));
        double step = phi / dphi;
        cur -= step;
        if (fabs(step) <= SERIES_ULPS * DBL_EPSILON * cur)
            break;
    }
    double y = k * cur / G;
    *didv = 1.0 / (r_a + 1.0 / (G * sqrt(1.0 + y * y)));
    return cur;
}

/* Current through a cell of conductance G (with its access resistor) at
 * voltage v (row minus column), A; OUT *didv (may be NULL). */
static double cell_iv(const mx_circuit_params *p, double G, double v, double *didv)
{
    double d, cur;
    if (p->cell == MX_CELL_LINEAR) {
        d = cell_g_small(G, p->r_access_ohm);
        cur = d * v;
    } else if (p->r_access_ohm > 0.0) {
        cur = series_sinh_current(G, p->k_per_v, p->r_access_ohm, fabs(v), &d);
        cur = v < 0.0 ? -cur : cur;
    } else {
        const double k = p->k_per_v;
        cur = G / k * sinh(k * v);
        d = G * cosh(k * v);
    }
    if (didv)
        *didv = d;
    return cur;
}

/* ------------------------------------------------------------ building */

static inline double ref_value(int32_t ref, const double *x, const double *v)
{
    if (ref >= 0)
        return x[ref];
    if (ref == REF_GROUND)
        return 0.0;
    return v[SRC_ROW(ref)];
}

/* Voltage of the sense node of column j. */
static inline double sense_value(const mx_circuit *c, size_t j)
{
    return c->v_col ? c->v_col[j] : 0.0;
}

/* Value of a column-side ref of column j (REF_GROUND: its sense node). */
static inline double col_value(const mx_circuit *c, int32_t ref, size_t j, const double *x,
                               const double *v)
{
    return ref == REF_GROUND ? sense_value(c, j) : ref_value(ref, x, v);
}

void mx_circuit_destroy(mx_circuit *c)
{
    if (!c)
        return;
    if (c->cm_started) {
        cholmod_free_sparse(&c->A, &c->cm);
        cholmod_free_factor(&c->L0, &c->cm);
        cholmod_free_factor(&c->LJ, &c->cm);
        cholmod_free_dense(&c->X, &c->cm);
        cholmod_free_dense(&c->Y, &c->cm);
        cholmod_free_dense(&c->E, &c->cm);
        cholmod_finish(&c->cm);
    }
    mx_free(c->g);
    mx_free(c->g_lin);
    mx_free(c->row_floating);
    mx_free(c->col_floating);
    mx_free(c->v_col);
    mx_free(c->row_ref);
    mx_free(c->col_ref);
    mx_free(c->bt_node);
    mx_free(c->bt_row);
    mx_free(c->bt_g);
    mx_free(c->st_col);
    mx_free(c->st_ref);
    mx_free(c->st_g);
    mx_free(c->x_wire);
    mx_free(c->pos_rr);
    mx_free(c->pos_cc);
    mx_free(c->pos_rc);
    mx_free(c->rhs);
    mx_free(c->dcell);
    mx_free(c->nx);
    mx_free(c->nf);
    mx_free(c->nt);
    mx_free(c->nft);
    mx_free(c->icol_tmp);
    mx_free(c);
}

/* Number the nodes (see the file comment). */
static void number_nodes(mx_circuit *c)
{
    const size_t R = c->R, C = c->C;
    const mx_circuit_params *p = &c->p;
    int32_t n = 0;
    for (size_t i = 0; i < R; i++)
        for (size_t j = 0; j < C; j++) {
            size_t ij = i * C + j;
            if (p->r_src_ohm == 0.0 && !row_floats(p, i) && (j == 0 || p->r_row_ohm == 0.0))
                c->row_ref[ij] = REF_SRC(i);
            else if (p->r_row_ohm == 0.0 && j > 0)
                c->row_ref[ij] = c->row_ref[i * C];
            else
                c->row_ref[ij] = n++;
            if (p->r_sense_ohm == 0.0 && !col_floats(p, j) && (i == R - 1 || p->r_col_ohm == 0.0))
                c->col_ref[ij] = REF_GROUND;
            else if (p->r_col_ohm == 0.0 && i > 0)
                c->col_ref[ij] = c->col_ref[j];
            else
                c->col_ref[ij] = n++;
        }
    c->n = (size_t)n;
}

/* Union–find over the free nodes plus one anchor (index n) standing for
 * every Dirichlet node. */
static int32_t uf_find(int32_t *parent, int32_t a)
{
    while (parent[a] != a) {
        parent[a] = parent[parent[a]];
        a = parent[a];
    }
    return a;
}

static void uf_join(int32_t *parent, int32_t anchor, int32_t a, int32_t b)
{
    a = uf_find(parent, a < 0 ? anchor : a);
    b = uf_find(parent, b < 0 ? anchor : b);
    if (a != b)
        parent[a < b ? a : b] = a < b ? b : a;
}

/* A free node without a path to a source or a sense node makes K singular;
 * name the first one. This only happens with open terminals (r_src or
 * r_sense = inf, or floating lines) and open cells (G = 0): a driven row's
 * nodes reach its source through the row wire and a sensed column's nodes
 * its sense node through the column wire. */
static mx_status find_floating(const mx_circuit *c)
{
    const size_t R = c->R, C = c->C, n = c->n;
    const mx_circuit_params *p = &c->p;
    const int32_t anchor = (int32_t)n;
    int32_t *parent = mx_alloc((n + 1) * sizeof *parent);
    if (!parent)
        return mx_fail(MX_ENOMEM, "circuit: out of memory (%zu nodes)", n);
    for (size_t a = 0; a <= n; a++)
        parent[a] = (int32_t)a;
    for (size_t i = 0; i < R; i++) {
        if (!row_floats(p, i))
            uf_join(parent, anchor, c->row_ref[i * C], REF_SRC(i));
        for (size_t j = 0; j < C; j++) {
            size_t ij = i * C + j;
            if (j + 1 < C)
                uf_join(parent, anchor, c->row_ref[ij], c->row_ref[ij + 1]);
            if (i + 1 < R)
                uf_join(parent, anchor, c->col_ref[ij], c->col_ref[ij + C]);
            if (c->g_lin[ij] > 0.0)
                uf_join(parent, anchor, c->row_ref[ij], c->col_ref[ij]);
        }
    }
    for (size_t j = 0; j < C; j++)
        if (!col_floats(p, j))
            uf_join(parent, anchor, c->col_ref[(R - 1) * C + j], REF_GROUND);
    const int32_t root = uf_find(parent, anchor);
    mx_status st = MX_OK;
    for (size_t ij = 0; ij < R * C && !st; ij++) {
        int32_t a = c->row_ref[ij], b = c->col_ref[ij];
        const char *kind = NULL;
        if (a >= 0 && uf_find(parent, a) != root)
            kind = "row";
        else if (b >= 0 && uf_find(parent, b) != root)
            kind = "column";
        if (kind)
            st = mx_fail(MX_EINVAL, "circuit: floating node: the %s node of cell [%zu, %zu] has "
                         "no path to a source or a sense node (floating or open terminals and "
                         "G = 0 cells around it)", kind, ij / C, ij % C);
    }
    mx_free(parent);
    return st;
}

/* B terms (free node a gets g·V[i] on the right-hand side) and S terms
 * (I_j += g·value(ref)), see the file comment. */
static mx_status build_terms(mx_circuit *c)
{
    const size_t R = c->R, C = c->C;
    const mx_circuit_params *p = &c->p;
    size_t cap_b = R * C + 2 * R, cap_s = R * C + 2 * C;
    c->bt_node = mx_alloc(cap_b * sizeof *c->bt_node);
    c->bt_row = mx_alloc(cap_b * sizeof *c->bt_row);
    c->bt_g = mx_alloc(cap_b * sizeof *c->bt_g);
    c->st_col = mx_alloc(cap_s * sizeof *c->st_col);
    c->st_ref = mx_alloc(cap_s * sizeof *c->st_ref);
    c->st_g = mx_alloc(cap_s * sizeof *c->st_g);
    if (!c->bt_node || !c->bt_row || !c->bt_g || !c->st_col || !c->st_ref || !c->st_g)
        return mx_fail(MX_ENOMEM, "circuit: out of memory (coupling terms)");
    size_t nb = 0, ns = 0;
#define ADD_B(node, row, gg)                     \
    do {                                         \
        c->bt_node[nb] = (node);                 \
        c->bt_row[nb] = (int32_t)(row);          \
        c->bt_g[nb] = (gg);                      \
        nb++;                                    \
    } while (0)
#define ADD_S(col, ref, gg)                      \
    do {                                         \
        c->st_col[ns] = (int32_t)(col);          \
        c->st_ref[ns] = (ref);                   \
        c->st_g[ns] = (gg);                      \
        ns++;                                    \
    } while (0)
    for (size_t i = 0; i < R; i++) {
        int32_t first = c->row_ref[i * C];
        if (p->r_src_ohm > 0.0 && !row_floats(p, i))
            ADD_B(first, i, c->g_src);
        if (p->r_src_ohm == 0.0 && !row_floats(p, i) && p->r_row_ohm > 0.0 && C > 1 &&
            c->row_ref[i * C + 1] >= 0)
            ADD_B(c->row_ref[i * C + 1], i, c->g_row);
        for (size_t j = 0; j < C; j++) {
            size_t ij = i * C + j;
            if (c->row_ref[ij] < REF_GROUND && c->col_ref[ij] >= 0)
                ADD_B(c->col_ref[ij], i, c->g_lin[ij]);
        }
    }
    for (size_t j = 0; j < C; j++) {
        if (p->r_sense_ohm > 0.0 && !col_floats(p, j))
            ADD_S(j, c->col_ref[(R - 1) * C + j], c->g_sense);
        if (p->r_sense_ohm == 0.0 && !col_floats(p, j) && p->r_col_ohm > 0.0 && R > 1)
            ADD_S(j, c->col_ref[(R - 2) * C + j], c->g_col);
        for (size_t i = 0; i < R; i++) {
            size_t ij = i * C + j;
            if (c->col_ref[ij] == REF_GROUND)
                ADD_S(j, c->row_ref[ij], c->g_lin[ij]);
        }
    }
#undef ADD_B
#undef ADD_S
    c->n_bt = nb;
    c->n_st = ns;
    return MX_OK;
}

static mx_status chol_fail(mx_circuit *c, const char *what)
{
    if (c->cm.status == CHOLMOD_OUT_OF_MEMORY)
        return mx_fail(MX_ENOMEM, "circuit: out of memory in CHOLMOD %s (%zu nodes)", what,
                       c->n);
    return mx_fail(MX_ENUMERIC, "circuit: CHOLMOD %s failed (status %d, %zu nodes)", what,
                   c->cm.status, c->n);
}

/* Position of entry (a, b) of the upper-triangular A (a ≤ b after swap). */
static int32_t entry_pos(const cholmod_sparse *A, int32_t a, int32_t b)
{
    if (a > b) {
        int32_t t = a;
        a = b;
        b = t;
    }
    const int *Ap = A->p, *Ai = A->i;
    int lo = Ap[b], hi = Ap[b + 1] - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (Ai[mid] < a)
            lo = mid + 1;
        else if (Ai[mid] > a)
            hi = mid - 1;
        else
            return mid;
    }
    assert(!"entry in the pattern");
    return -1;
}

/* A->x = wires + cells with conductance gc (R, C). */
static void stamp_cells(mx_circuit *c, const double *gc)
{
    double *ax = c->A->x;
    memcpy(ax, c->x_wire, (size_t)((const int *)c->A->p)[c->n] * sizeof *ax);
    for (size_t ij = 0; ij < c->R * c->C; ij++) {
        double gg = gc[ij];
        if (c->pos_rr[ij] >= 0)
            ax[c->pos_rr[ij]] += gg;
        if (c->pos_cc[ij] >= 0)
            ax[c->pos_cc[ij]] += gg;
        if (c->pos_rc[ij] >= 0)
            ax[c->pos_rc[ij]] -= gg;
    }
}

/* Assemble the pattern and the wire values of K, and the cell positions. */
static mx_status assemble(mx_circuit *c)
{
    const size_t R = c->R, C = c->C, n = c->n;
    const mx_circuit_params *p = &c->p;
    double *diag = mx_calloc(n, sizeof *diag);
    if (!diag)
        return mx_fail(MX_ENOMEM, "circuit: out of memory (%zu nodes)", n);
    cholmod_triplet *T = cholmod_allocate_triplet(n, n, n + 3 * R * C + R + C, 1, CHOLMOD_REAL,
                                                  &c->cm);
    if (!T) {
        mx_free(diag);
        return chol_fail(c, "allocate");
    }
    int *Ti = T->i, *Tj = T->j;
    double *Tx = T->x;
    size_t nz = 0;
    /* one branch of conductance gg between refs a and b (cells: gg = 0, their
     * values are stamped by stamp_cells) */
#define BRANCH(a, b, gg)                                                   \
    do {                                                                   \
        int32_t a_ = (a), b_ = (b);                                        \
        if (a_ >= 0)                                                       \
            diag[a_] += (gg);                                              \
        if (b_ >= 0)                                                       \
            diag[b_] += (gg);                                              \
        if (a_ >= 0 && b_ >= 0) {                                          \
            Ti[nz] = a_ < b_ ? a_ : b_;                                    \
            Tj[nz] = a_ < b_ ? b_ : a_;                                    \
            Tx[nz] = -(gg);                                                \
            nz++;                                                          \
        }                                                                  \
    } while (0)
    for (size_t i = 0; i < R; i++) {
        if (p->r_src_ohm > 0.0 && !row_floats(p, i))
            BRANCH(c->row_ref[i * C], REF_SRC(i), c->g_src);
        for (size_t j = 0; j < C; j++) {
            size_t ij = i * C + j;
            if (p->r_row_ohm > 0.0 && j + 1 < C)
                BRANCH(c->row_ref[ij], c->row_ref[ij + 1], c->g_row);
            if (p->r_col_ohm > 0.0 && i + 1 < R)
                BRANCH(c->col_ref[ij], c->col_ref[ij + C], c->g_col);
            BRANCH(c->row_ref[ij], c->col_ref[ij], 0.0);
        }
    }
    if (p->r_sense_ohm > 0.0)
        for (size_t j = 0; j < C; j++)
            if (!col_floats(p, j))
                BRANCH(c->col_ref[(R - 1) * C + j], REF_GROUND, c->g_sense);
#undef BRANCH
    for (size_t a = 0; a < n; a++) {
        Ti[nz] = Tj[nz] = (int)a;
        Tx[nz] = diag[a];
        nz++;
    }
    T->nnz = nz;
    mx_free(diag);
    c->A = cholmod_triplet_to_sparse(T, 0, &c->cm);
    cholmod_free_triplet(&T, &c->cm);
    if (!c->A)
        return chol_fail(c, "triplet_to_sparse");
    assert(c->A->sorted && c->A->packed && c->A->stype > 0);
    size_t nnz = (size_t)((const int *)c->A->p)[n];
    c->x_wire = mx_alloc(nnz * sizeof *c->x_wire);
    c->pos_rr = mx_alloc(R * C * sizeof *c->pos_rr);
    c->pos_cc = mx_alloc(R * C * sizeof *c->pos_cc);
    c->pos_rc = mx_alloc(R * C * sizeof *c->pos_rc);
    if (!c->x_wire || !c->pos_rr || !c->pos_cc || !c->pos_rc)
        return mx_fail(MX_ENOMEM, "circuit: out of memory (%zu matrix entries)", nnz);
    memcpy(c->x_wire, c->A->x, nnz * sizeof *c->x_wire);
    for (size_t ij = 0; ij < R * C; ij++) {
        int32_t a = c->row_ref[ij], b = c->col_ref[ij];
        c->pos_rr[ij] = a >= 0 ? entry_pos(c->A, a, a) : -1;
        c->pos_cc[ij] = b >= 0 ? entry_pos(c->A, b, b) : -1;
        c->pos_rc[ij] = a >= 0 && b >= 0 ? entry_pos(c->A, a, b) : -1;
    }
    return MX_OK;
}

/* Numeric factorisation of A into the analysed L (a refactorisation when L
 * already holds one: the symbolic analysis is reused). */
static mx_status factor(mx_circuit *c, cholmod_factor *L)
{
    int ok = cholmod_factorize(c->A, L, &c->cm);
    if (c->cm.status == CHOLMOD_NOT_POSDEF || (ok && L->minor < c->n))
        return mx_fail(MX_ENUMERIC, "circuit: the nodal matrix is not numerically positive "
                       "definite (pivot %zu of %zu): the resistances and conductances span too "
                       "many decades for double precision", (size_t)L->minor, c->n);
    if (!ok || c->cm.status < CHOLMOD_OK)
        return chol_fail(c, "factorize");
    return MX_OK;
}

/* Elimination tree of A(perm, perm) (Liu's algorithm with path
 * compression), in permuted indices: OUT parent (n), -1 for a root.
 * Workspace: n + 1 + nnz ints. */
static mx_status etree_permuted(const cholmod_sparse *A, const int *perm, int *parent)
{
    const size_t n = A->ncol;
    const int *Ap = A->p, *Ai = A->i;
    const size_t nnz = (size_t)Ap[n];
    int *pinv = mx_alloc(n * sizeof *pinv), *anc = mx_alloc(n * sizeof *anc);
    int *head = mx_calloc(n + 1, sizeof *head), *lo = mx_alloc((nnz ? nnz : 1) * sizeof *lo);
    if (!pinv || !anc || !head || !lo) {
        mx_free(pinv);
        mx_free(anc);
        mx_free(head);
        mx_free(lo);
        return mx_fail(MX_ENOMEM, "circuit: out of memory (elimination tree, %zu nodes)", n);
    }
    for (size_t k = 0; k < n; k++)
        pinv[perm[k]] = (int)k;
    /* the strictly upper entries of the permuted matrix, bucketed by column */
    for (size_t j = 0; j < n; j++)
        for (int q = Ap[j]; q < Ap[j + 1]; q++) {
            int a = pinv[Ai[q]], b = pinv[j];
            if (a != b)
                head[(a > b ? a : b) + 1]++;
        }
    for (size_t k = 0; k < n; k++)
        head[k + 1] += head[k];
    for (size_t j = 0; j < n; j++)
        for (int q = Ap[j]; q < Ap[j + 1]; q++) {
            int a = pinv[Ai[q]], b = pinv[j];
            if (a != b)
                lo[head[a > b ? a : b]++] = a < b ? a : b;
        }
    for (size_t k = n; k-- > 0;) /* back to the bucket starts */
        head[k + 1] = head[k];
    head[0] = 0;
    for (size_t k = 0; k < n; k++) {
        parent[k] = -1;
        anc[k] = -1;
        for (int q = head[k]; q < head[k + 1]; q++) {
            int i = lo[q];
            while (i != -1 && i < (int)k) {
                int next = anc[i];
                anc[i] = (int)k;
                if (next == -1)
                    parent[i] = (int)k;
                i = next;
            }
        }
    }
    mx_free(pinv);
    mx_free(anc);
    mx_free(head);
    mx_free(lo);
    return MX_OK;
}

/* Postorder of the forest `parent` (n nodes), roots and children in
 * increasing index: OUT post (n), post[k] = the k-th node. Workspace 3n. */
static mx_status postorder(const int *parent, size_t n, int *post)
{
    int *child = mx_alloc(n * sizeof *child), *sibling = mx_alloc(n * sizeof *sibling);
    int *stack = mx_alloc(n * sizeof *stack);
    if (!child || !sibling || !stack) {
        mx_free(child);
        mx_free(sibling);
        mx_free(stack);
        return mx_fail(MX_ENOMEM, "circuit: out of memory (postorder, %zu nodes)", n);
    }
    for (size_t k = 0; k < n; k++)
        child[k] = -1;
    for (size_t k = n; k-- > 0;) /* prepend in decreasing order: lists increase */
        if (parent[k] >= 0) {
            sibling[k] = child[parent[k]];
            child[parent[k]] = (int)k;
        }
    size_t out = 0;
    for (size_t r = 0; r < n; r++) {
        if (parent[r] >= 0)
            continue;
        size_t top = 0;
        stack[top++] = (int)r;
        while (top) {
            int k = stack[top - 1], ch = child[k];
            if (ch >= 0) { /* descend into the next unvisited child */
                child[k] = sibling[ch];
                stack[top++] = ch;
            } else {
                post[out++] = k;
                top--;
            }
        }
    }
    assert(out == n);
    mx_free(child);
    mx_free(sibling);
    mx_free(stack);
    return MX_OK;
}

/* perm (CAMD, constraint sets in order) → its elimination-tree postorder
 * within each set, so that supernodes are as large as CHOLMOD's own
 * postorder makes them while the sets keep their places (CHOLMOD's
 * postorder would move terminal nodes among interior ones). */
static mx_status postorder_within_sets(const cholmod_sparse *A, const int *member, int *perm)
{
    const size_t n = A->ncol;
    int *parent = mx_alloc(n * sizeof *parent), *post = mx_alloc(n * sizeof *post);
    int *tmp = mx_alloc(n * sizeof *tmp);
    mx_status st = MX_OK;
    if (!parent || !post || !tmp)
        st = mx_fail(MX_ENOMEM, "circuit: out of memory (ordering, %zu nodes)", n);
    if (!st)
        st = etree_permuted(A, perm, parent);
    if (!st) {
        for (size_t k = 0; k < n; k++) /* cut the edges between sets */
            if (parent[k] >= 0 && member[perm[parent[k]]] != member[perm[k]])
                parent[k] = -1;
        st = postorder(parent, n, post);
    }
    if (!st) {
        for (size_t k = 0; k < n; k++)
            tmp[k] = perm[post[k]];
        memcpy(perm, tmp, n * sizeof *perm);
    }
    mx_free(parent);
    mx_free(post);
    mx_free(tmp);
    return st;
}

/* Analyse A with the terminal nodes ordered last — the source-fed ones
 * (B terms), then the sensed ones (S terms) — and the rest by CAMD, so that
 * the trailing block of L factors the Schur complement of K onto the
 * terminals (transfer_schur). Leaves c->L0 NULL when the terminals are too
 * many or CHOLMOD's postordering moved them. */
static mx_status analyse_terminals_last(mx_circuit *c)
{
    const size_t n = c->n;
    int *member = mx_calloc(n, sizeof *member), *perm = mx_alloc(n * sizeof *perm);
    if (!member || !perm) {
        mx_free(member);
        mx_free(perm);
        return mx_fail(MX_ENOMEM, "circuit: out of memory (%zu nodes)", n);
    }
    for (size_t k = 0; k < c->n_bt; k++)
        member[c->bt_node[k]] = 1;
    for (size_t k = 0; k < c->n_st; k++)
        if (c->st_ref[k] >= 0)
            member[c->st_ref[k]] = 2;
    size_t t = 0, sn = 0;
    for (size_t a = 0; a < n; a++) {
        t += member[a] != 0;
        sn += member[a] == 2;
    }
    mx_status st = MX_OK;
    if (t > 0 && sn > 0 && t <= SCHUR_MAX_TERMINALS && 2 * t <= n) {
        if (!cholmod_camd(c->A, NULL, 0, member, perm, &c->cm)) {
            st = chol_fail(c, "camd");
        } else if (!(st = postorder_within_sets(c->A, member, perm))) {
            const int nmethods = c->cm.nmethods, ordering = c->cm.method[0].ordering;
            const int supernodal = c->cm.supernodal, postorder = c->cm.postorder;
            c->cm.postorder = 0;
            c->cm.nmethods = 1;
            c->cm.method[0].ordering = CHOLMOD_GIVEN;
            c->cm.supernodal = CHOLMOD_SUPERNODAL;
            c->L0 = cholmod_analyze_p(c->A, perm, NULL, 0, &c->cm);
            c->cm.nmethods = nmethods;
            c->cm.method[0].ordering = ordering;
            c->cm.supernodal = supernodal;
            c->cm.postorder = postorder;
            if (!c->L0) {
                st = chol_fail(c, "analyze");
            } else {
                const int *P = c->L0->Perm;
                int ok = c->L0->is_super;
                for (size_t k = n - t; k < n && ok; k++)
                    ok = member[P[k]] == (k < n - sn ? 1 : 2);
                if (ok) {
                    c->schur = 1;
                    c->t_nodes = t;
                    c->s_nodes = sn;
                } else {
                    cholmod_free_factor(&c->L0, &c->cm);
                }
            }
        }
    }
    mx_free(member);
    mx_free(perm);
    return st;
}

static mx_status create(const mx_circuit_params *p, const double *g, mx_circuit *c)
{
    const size_t R = p->rows, C = p->cols, RC = R * C;
    c->p = *p;
    c->R = R;
    c->C = C;
    c->g_src = p->r_src_ohm > 0.0 ? 1.0 / p->r_src_ohm : 0.0;
    c->g_row = p->r_row_ohm > 0.0 ? 1.0 / p->r_row_ohm : 0.0;
    c->g_col = p->r_col_ohm > 0.0 ? 1.0 / p->r_col_ohm : 0.0;
    c->g_sense = p->r_sense_ohm > 0.0 ? 1.0 / p->r_sense_ohm : 0.0;
    c->g_access = p->r_access_ohm > 0.0 ? 1.0 / p->r_access_ohm : 0.0;
    c->g = mx_alloc(RC * sizeof *c->g);
    c->g_lin = mx_alloc(RC * sizeof *c->g_lin);
    c->row_ref = mx_alloc(RC * sizeof *c->row_ref);
    c->col_ref = mx_alloc(RC * sizeof *c->col_ref);
    c->icol_tmp = mx_alloc(C * sizeof *c->icol_tmp);
    if (!c->g || !c->g_lin || !c->row_ref || !c->col_ref || !c->icol_tmp)
        return mx_fail(MX_ENOMEM, "circuit: out of memory (%zu x %zu cells)", R, C);
    memcpy(c->g, g, RC * sizeof *g);
    for (size_t ij = 0; ij < RC; ij++)
        c->g_lin[ij] = cell_g_small(g[ij], p->r_access_ohm);
    /* own copies of the per-line arrays (p's are the caller's) */
    c->p.row_floating = c->p.col_floating = NULL;
    c->p.v_col_v = NULL;
    int biased = 0;
    for (size_t j = 0; p->v_col_v && j < C; j++)
        biased |= p->v_col_v[j] != 0.0;
    if ((p->row_floating && !(c->row_floating = mx_alloc(R))) ||
        (p->col_floating && !(c->col_floating = mx_alloc(C))) ||
        (biased && !(c->v_col = mx_alloc(C * sizeof *c->v_col))))
        return mx_fail(MX_ENOMEM, "circuit: out of memory (line terminals)");
    if (c->row_floating)
        memcpy(c->row_floating, p->row_floating, R);
    if (c->col_floating)
        memcpy(c->col_floating, p->col_floating, C);
    if (c->v_col)
        memcpy(c->v_col, p->v_col_v, C * sizeof *c->v_col);
    c->p.row_floating = c->row_floating;
    c->p.col_floating = c->col_floating;
    c->p.v_col_v = c->v_col;
    number_nodes(c);
    mx_status st = find_floating(c);
    if (!st)
        st = build_terms(c);
    if (st || c->n == 0)
        return st;
    if (!cholmod_start(&c->cm))
        return mx_fail(MX_ENOMEM, "circuit: CHOLMOD could not start");
    c->cm_started = 1;
    c->cm.print = 0;          /* the library never prints; status is checked */
    c->cm.error_handler = NULL;
    if ((st = assemble(c)))
        return st;
    stamp_cells(c, c->g_lin);
    if (p->cell == MX_CELL_LINEAR && (st = analyse_terminals_last(c)))
        return st;
    if (!c->L0 && !(c->L0 = cholmod_analyze(c->A, &c->cm)))
        return chol_fail(c, "analyze");
    c->lnz = c->cm.lnz;
    c->flops = c->cm.fl;
    return factor(c, c->L0);
}

mx_status mx_circuit_create(const mx_circuit_params *p, const double *g, mx_circuit **out)
{
    *out = NULL;
    mx_status st = mx_circuit_params_validate(p);
    if (!st)
        st = mx_circuit_check_conductances(p, g);
    if (st)
        return st;
    mx_circuit *c = mx_calloc(1, sizeof *c);
    if (!c)
        return mx_fail(MX_ENOMEM, "circuit: out of memory");
    st = create(p, g, c);
    if (st) {
        mx_circuit_destroy(c);
        return st;
    }
    *out = c;
    return MX_OK;
}

const mx_circuit_params *mx_circuit_get_params(const mx_circuit *c) { return &c->p; }
size_t mx_circuit_n_nodes(const mx_circuit *c) { return c->n; }

void mx_circuit_factor_stats(const mx_circuit *c, double *nnz_l, double *flops, size_t *terminals)
{
    *nnz_l = c->lnz;
    *flops = c->flops;
    *terminals = c->schur ? c->t_nodes : 0;
}

/* ------------------------------------------------------------ solving */

/* Columns of right-hand sides per solve for this circuit. */
static size_t block_cols(const mx_circuit *c)
{
    size_t nb = c->n ? BLOCK_MAX_DOUBLES / c->n : BLOCK_MAX_COLS;
    return nb < 1 ? 1 : nb > BLOCK_MAX_COLS ? BLOCK_MAX_COLS : nb;
}

static mx_status ensure_rhs(mx_circuit *c, size_t nb)
{
    if (nb <= c->nb_cap)
        return MX_OK;
    mx_free(c->rhs);
    c->nb_cap = 0;
    c->rhs = mx_alloc(mx_size_mul(c->n, nb) * sizeof *c->rhs);
    if (!c->rhs)
        return mx_fail(MX_ENOMEM, "circuit: out of memory (%zu x %zu right-hand sides)", c->n,
                       nb);
    c->nb_cap = nb;
    return MX_OK;
}

/* The right-hand sides B·V + Sᵀ·v_col of nb inputs v (nb × R) into c->rhs
 * (the second term only with biased sense nodes). */
static void load_rhs(mx_circuit *c, const double *v, size_t nb)
{
    const size_t n = c->n, R = c->R;
    memset(c->rhs, 0, n * nb * sizeof *c->rhs);
    for (size_t k = 0; k < nb; k++) {
        double *r = c->rhs + k * n;
        for (size_t t = 0; t < c->n_bt; t++)
            r[c->bt_node[t]] += c->bt_g[t] * v[k * R + c->bt_row[t]];
        for (size_t t = 0; c->v_col && t < c->n_st; t++)
            if (c->st_ref[t] >= 0)
                r[c->st_ref[t]] += c->st_g[t] * c->v_col[c->st_col[t]];
    }
}

/* The scale of an input for the convergence test: the largest |voltage|
 * held anywhere (driven rows and sense nodes); 0 means x = 0 solves it. */
static double input_scale(const mx_circuit *c, const double *v)
{
    double m = 0.0;
    for (size_t i = 0; i < c->R; i++)
        if (!row_floats(&c->p, i))
            m = fmax(m, fabs(v[i]));
    for (size_t j = 0; c->v_col && j < c->C; j++)
        if (!col_floats(&c->p, j))
            m = fmax(m, fabs(c->v_col[j]));
    return m;
}

/* Solve L·X = c->rhs (n, nb); OUT *x points at the solution, leading
 * dimension *ld (owned by the circuit, valid until the next solve). */
static mx_status solve_block(mx_circuit *c, cholmod_factor *L, size_t nb, const double **x,
                             size_t *ld)
{
    cholmod_dense B = {0};
    B.nrow = c->n;
    B.ncol = nb;
    B.nzmax = c->n * nb;
    B.d = c->n;
    B.x = c->rhs;
    B.xtype = CHOLMOD_REAL;
    B.dtype = CHOLMOD_DOUBLE;
    if (!cholmod_solve2(CHOLMOD_A, L, &B, NULL, &c->X, NULL, &c->Y, &c->E, &c->cm))
        return chol_fail(c, "solve");
    *x = c->X->x;
    *ld = c->X->d;
    return MX_OK;
}

static mx_status check_inputs(const double *v_in, size_t batch, size_t R)
{
    for (size_t b = 0; b < batch; b++)
        for (size_t i = 0; i < R; i++)
            if (!isfinite(v_in[b * R + i]))
                return mx_fail(MX_EINVAL, "circuit input %zu, row %zu: expected a finite "
                               "voltage, got %g", b, i, v_in[b * R + i]);
    return MX_OK;
}

/* Column currents of the linear circuit from node voltages x (may be NULL
 * when n = 0) and inputs v: I = S·x + D·V (− the branch conductances times
 * the sense-node voltage when biased). */
static void linear_currents(const mx_circuit *c, const double *x, const double *v, double *icol)
{
    memset(icol, 0, c->C * sizeof *icol);
    for (size_t t = 0; t < c->n_st; t++) {
        size_t j = (size_t)c->st_col[t];
        icol[j] += c->st_g[t] * (ref_value(c->st_ref[t], x, v) - sense_value(c, j));
    }
}

static mx_status solve_linear(mx_circuit *c, const double *v_in, size_t batch, double *i_col)
{
    const size_t R = c->R, C = c->C, n = c->n;
    if (n == 0) {
        for (size_t b = 0; b < batch; b++)
            linear_currents(c, NULL, v_in + b * R, i_col + b * C);
        return MX_OK;
    }
    const size_t nbmax = block_cols(c);
    mx_status st = ensure_rhs(c, nbmax < batch ? nbmax : batch);
    if (st)
        return st;
    for (size_t b0 = 0; b0 < batch; b0 += nbmax) {
        size_t nb = batch - b0 < nbmax ? batch - b0 : nbmax;
        load_rhs(c, v_in + b0 * R, nb);
        const double *x;
        size_t ld;
        if ((st = solve_block(c, c->L0, nb, &x, &ld)))
            return st;
        for (size_t k = 0; k < nb; k++)
            linear_currents(c, x + k * ld, v_in + (b0 + k) * R, i_col + (b0 + k) * C);
    }
    return MX_OK;
}

/* KCL at every free node for sinh (or linear) cells: OUT F (n) the current
 * leaving each node, icol (C) the column currents, dcell (R, C) dI/dv if not
 * NULL; returns the largest |cell current| (NaN/inf propagate). */
static double kcl(mx_circuit *c, const double *x, const double *v, double *F, double *icol,
                  double *dcell)
{
    const size_t R = c->R, C = c->C;
    const mx_circuit_params *p = &c->p;
    if (c->n && F) /* F is NULL only when there are no unknowns */
        memset(F, 0, c->n * sizeof *F);
    memset(icol, 0, C * sizeof *icol);
#define FLOW(a, b, cur)            \
    do {                         \
        if ((a) >= 0)            \
            F[a] += (cur);         \
        if ((b) >= 0)            \
            F[b] -= (cur);         \
    } while (0)
    if (p->r_src_ohm > 0.0)
        for (size_t i = 0; i < R; i++) {
            if (row_floats(p, i))
                continue;
            int32_t a = c->row_ref[i * C];
            FLOW(REF_SRC(i), a, c->g_src * (v[i] - x[a]));
        }
    if (p->r_row_ohm > 0.0)
        for (size_t i = 0; i < R; i++)
            for (size_t j = 0; j + 1 < C; j++) {
                int32_t a = c->row_ref[i * C + j], b = c->row_ref[i * C + j + 1];
                FLOW(a, b, c->g_row * (ref_value(a, x, v) - ref_value(b, x, v)));
            }
    if (p->r_col_ohm > 0.0)
        for (size_t i = 0; i + 1 < R; i++)
            for (size_t j = 0; j < C; j++) {
                int32_t a = c->col_ref[i * C + j], b = c->col_ref[(i + 1) * C + j];
                double cur = c->g_col * (col_value(c, a, j, x, v) - col_value(c, b, j, x, v));
                FLOW(a, b, cur);
                if (b == REF_GROUND)
                    icol[j] += cur;
            }
    if (p->r_sense_ohm > 0.0)
        for (size_t j = 0; j < C; j++) {
            if (col_floats(p, j))
                continue;
            int32_t a = c->col_ref[(R - 1) * C + j];
            double cur = c->g_sense * (x[a] - sense_value(c, j));
            F[a] += cur;
            icol[j] += cur;
        }
    double scale = 0.0;
    for (size_t i = 0; i < R; i++)
        for (size_t j = 0; j < C; j++) {
            size_t ij = i * C + j;
            int32_t a = c->row_ref[ij], b = c->col_ref[ij];
            double cur = cell_iv(p, c->g[ij], ref_value(a, x, v) - col_value(c, b, j, x, v),
                               dcell ? dcell + ij : NULL);
            FLOW(a, b, cur);
            if (b == REF_GROUND)
                icol[j] += cur;
            double m = fabs(cur);
            if (!(m <= scale)) /* also lets NaN through */
                scale = m;
        }
#undef FLOW
    return scale;
}

static double max_abs(const double *a, size_t n)
{
    double m = 0.0;
    for (size_t k = 0; k < n; k++) {
        double t = fabs(a[k]);
        if (!(t <= m))
            m = t;
    }
    return m;
}

/* Damped Newton for one input from x (n), see the file comment. `used` linear
 * solves are already spent on it. On success icol holds its currents. */
static mx_status newton_one(mx_circuit *c, size_t input, const double *v, double *x, int used,
                            double last_dx, double *icol)
{
    const size_t n = c->n;
    const double rtol = c->p.newton_rtol, vref = input_scale(c, v);
    double *F = c->nf, *xt = c->nt, *Ft = c->nft;
    double scale = kcl(c, x, v, F, icol, c->dcell);
    double res = max_abs(F, n);
    int need_factor = 1;
    mx_status st;
    for (;;) {
        if (!isfinite(res) || !isfinite(scale))
            return mx_fail(MX_ENUMERIC, "circuit: Newton failed for input %zu: a cell current "
                           "is not finite (k·v too large for sinh?) after %d solves", input,
                           used);
        if (res <= rtol * scale && last_dx <= rtol * vref)
            return MX_OK;
        if (used >= c->p.newton_max_iter)
            return mx_fail(MX_ENUMERIC, "circuit: Newton did not converge for input %zu in %d "
                           "solves (KCL residual %.3g A = %.3g of the largest cell current, "
                           "last update %.3g V; tolerance %.3g)", input, used, res,
                           scale > 0 ? res / scale : 0.0, last_dx, rtol);
        if (need_factor) {
            stamp_cells(c, c->dcell);
            if (!c->LJ && !(c->LJ = cholmod_copy_factor(c->L0, &c->cm)))
                return chol_fail(c, "copy_factor");
            if ((st = factor(c, c->LJ)))
                return st == MX_ENUMERIC
                           ? mx_fail(MX_ENUMERIC, "circuit: Newton failed for input %zu: the "
                                     "Jacobian is not numerically positive definite (cell "
                                     "conductances G·cosh(k·v) out of range) after %d solves",
                                     input, used)
                           : st;
        }
        for (size_t a = 0; a < n; a++)
            c->rhs[a] = -F[a];
        const double *dx;
        size_t ld;
        if ((st = solve_block(c, c->LJ, 1, &dx, &ld)))
            return st;
        used++;
        double t = 1.0, res_t = 0.0;
        int accepted = 0;
        for (int ls = 0; ls <= LINE_SEARCH_MAX; ls++, t *= 0.5) {
            for (size_t a = 0; a < n; a++)
                xt[a] = x[a] + t * dx[a];
            double scale_t = kcl(c, xt, v, Ft, c->icol_tmp, NULL);
            res_t = max_abs(Ft, n);
            if (isfinite(res_t) && isfinite(scale_t) && res_t < res) {
                accepted = 1;
                break;
            }
        }
        if (!accepted) {
            if (!need_factor) { /* a stale Jacobian: refactor and retry */
                need_factor = 1;
                continue;
            }
            return mx_fail(MX_ENUMERIC, "circuit: Newton failed for input %zu: no step along "
                           "the Newton direction lowers the KCL residual %.3g A (%d solves)",
                           input, res, used);
        }
        last_dx = t * max_abs(dx, n);
        double ratio = res_t / res;
        memcpy(x, xt, n * sizeof *x);
        res = res_t;
        need_factor = t < 1.0 || ratio > REUSE_MAX_RATIO;
        /* residual, currents and (for a refactor) the Jacobian at the new x */
        scale = kcl(c, x, v, F, icol, c->dcell);
    }
}

static mx_status solve_sinh(mx_circuit *c, const double *v_in, size_t batch, double *i_col)
{
    const size_t R = c->R, C = c->C, n = c->n;
    const double rtol = c->p.newton_rtol;
    mx_status st = MX_OK;
    if (n == 0) { /* every cell between two Dirichlet nodes: no unknowns */
        for (size_t b = 0; b < batch; b++) {
            double s = kcl(c, NULL, v_in + b * R, NULL, i_col + b * C, NULL);
            if (!isfinite(s) || !isfinite(max_abs(i_col + b * C, C)))
                return mx_fail(MX_ENUMERIC, "circuit: input %zu: a cell current is not finite "
                               "(k·v too large for sinh?)", b);
        }
        return MX_OK;
    }
    if (!c->dcell) {
        c->dcell = mx_alloc(R * C * sizeof *c->dcell);
        c->nx = mx_alloc(n * sizeof *c->nx);
        c->nf = mx_alloc(n * sizeof *c->nf);
        c->nt = mx_alloc(n * sizeof *c->nt);
        c->nft = mx_alloc(n * sizeof *c->nft);
        if (!c->dcell || !c->nx || !c->nf || !c->nt || !c->nft)
            return mx_fail(MX_ENOMEM, "circuit: out of memory (Newton work, %zu nodes)", n);
    }
    const size_t nbmax = block_cols(c), nbcap = nbmax < batch ? nbmax : batch;
    if ((st = ensure_rhs(c, nbcap)))
        return st;
    /* per input of a block: iterate X and residual F (n each), the residual's
     * max res, the largest cell current scale, the last update dprev, and
     * the state: 0 chord, 1 done, 2 on to Newton */
    double *X = mx_alloc(mx_size_mul(n, nbcap) * sizeof *X);
    double *Fb = mx_alloc(mx_size_mul(n, nbcap) * sizeof *Fb);
    double *res = mx_alloc(nbcap * sizeof *res), *scale = mx_alloc(nbcap * sizeof *scale);
    double *dprev = mx_alloc(nbcap * sizeof *dprev);
    int *state = mx_alloc(nbcap * sizeof *state);
    size_t *slot = mx_alloc(nbcap * sizeof *slot);
    if (!X || !Fb || !res || !scale || !dprev || !state || !slot) {
        st = mx_fail(MX_ENOMEM, "circuit: out of memory (Newton work, %zu x %zu)", n, nbcap);
        goto done;
    }
    for (size_t b0 = 0; b0 < batch && !st; b0 += nbmax) {
        size_t nb = batch - b0 < nbmax ? batch - b0 : nbmax;
        /* the small-signal linear solution as the start */
        load_rhs(c, v_in + b0 * R, nb);
        const double *xs;
        size_t ld;
        if ((st = solve_block(c, c->L0, nb, &xs, &ld)))
            break;
        for (size_t k = 0; k < nb; k++) {
            const double *v = v_in + (b0 + k) * R;
            double *xk = X + k * n, *Fk = Fb + k * n, *ic = i_col + (b0 + k) * C;
            memcpy(xk, xs + k * ld, n * sizeof *X);
            dprev[k] = HUGE_VAL;
            state[k] = 0;
            if (input_scale(c, v) == 0.0) { /* x = 0 solves it exactly */
                memset(ic, 0, C * sizeof *ic);
                state[k] = 1;
                continue;
            }
            scale[k] = kcl(c, xk, v, Fk, ic, NULL);
            res[k] = max_abs(Fk, n);
            if (!isfinite(res[k]) || !isfinite(scale[k]))
                state[k] = 2; /* Newton reports it */
        }
        int used = 1;
        /* chord iterations with the stored factor, the whole block at once */
        for (;;) {
            size_t na = 0;
            for (size_t k = 0; k < nb; k++) {
                if (state[k] != 0)
                    continue;
                const double *v = v_in + (b0 + k) * R;
                if (res[k] <= rtol * scale[k] && dprev[k] <= rtol * input_scale(c, v)) {
                    state[k] = 1;
                    continue;
                }
                if (used >= c->p.newton_max_iter) {
                    state[k] = 2; /* Newton reports the non-convergence */
                    continue;
                }
                const double *Fk = Fb + k * n;
                double *r = c->rhs + na * n;
                for (size_t a = 0; a < n; a++)
                    r[a] = -Fk[a];
                slot[na++] = k;
            }
            if (na == 0)
                break;
            if ((st = solve_block(c, c->L0, na, &xs, &ld)))
                break;
            used++;
            for (size_t s = 0; s < na; s++) {
                size_t k = slot[s];
                const double *v = v_in + (b0 + k) * R, *dx = xs + s * ld;
                double *xk = X + k * n, *Fk = Fb + k * n, *ic = i_col + (b0 + k) * C;
                for (size_t a = 0; a < n; a++)
                    c->nt[a] = xk[a] + dx[a];
                double sc = kcl(c, c->nt, v, c->nft, c->icol_tmp, NULL);
                double r = max_abs(c->nft, n);
                if (!isfinite(r) || !isfinite(sc) || !(r < res[k])) {
                    state[k] = 2; /* the step does not help: keep x, Newton goes on */
                    continue;
                }
                double d = max_abs(dx, n);
                memcpy(xk, c->nt, n * sizeof *xk);
                memcpy(Fk, c->nft, n * sizeof *Fk);
                memcpy(ic, c->icol_tmp, C * sizeof *ic);
                res[k] = r;
                scale[k] = sc;
                if (used > 2 && !(d <= CHORD_MAX_RATIO * dprev[k]))
                    state[k] = 2;
                dprev[k] = d;
            }
        }
        for (size_t k = 0; k < nb && !st; k++) {
            if (state[k] != 2)
                continue;
            memcpy(c->nx, X + k * n, n * sizeof *c->nx);
            st = newton_one(c, b0 + k, v_in + (b0 + k) * R, c->nx, used, dprev[k],
                            i_col + (b0 + k) * C);
        }
    }
done:
    mx_free(X);
    mx_free(Fb);
    mx_free(res);
    mx_free(scale);
    mx_free(dprev);
    mx_free(state);
    mx_free(slot);
    return st;
}

mx_status mx_circuit_solve(mx_circuit *c, const double *v_in, size_t batch, double *i_col)
{
    mx_status st = check_inputs(v_in, batch, c->R);
    if (st || batch == 0)
        return st;
    if (c->p.cell == MX_CELL_LINEAR)
        return solve_linear(c, v_in, batch, i_col);
    return solve_sinh(c, v_in, batch, i_col);
}

/* Transfer matrix from the terminals-last factor. With P·K·Pᵀ = L·Lᵀ and the
 * t terminal nodes last, (K⁻¹)_TT = (L_TT·L_TTᵀ)⁻¹ for the trailing t × t
 * block L_TT of L. B and S touch only terminals, so
 *   Mᵀ = S_T·(K⁻¹)_TT·B_T = (L_TT⁻¹·S_Tᵀ)ᵀ·(L_TT⁻¹·B_T),
 * and since the sensed nodes are the last s of them, L_TT⁻¹·S_Tᵀ is zero
 * above its last s rows, where it is L_SS⁻¹·S_S. Two dense triangular solves
 * (t × R and s × C right-hand sides) and one GEMM: O(t²·R + s·R·C) instead of
 * min(R, C) sparse solves. Adds to m (which holds D). */
static mx_status transfer_schur(mx_circuit *c, double *m)
{
    const size_t n = c->n, t = c->t_nodes, sn = c->s_nodes, nb = t - sn, R = c->R, C = c->C;
    const size_t first = n - t;
    double *Lt = mx_calloc(t * t, sizeof *Lt);
    double *WB = mx_calloc(t * R, sizeof *WB), *WS = mx_calloc(sn * C, sizeof *WS);
    int32_t *pos = mx_alloc(n * sizeof *pos);
    if (!Lt || !WB || !WS || !pos) {
        mx_free(Lt);
        mx_free(WB);
        mx_free(WS);
        mx_free(pos);
        return mx_fail(MX_ENOMEM, "circuit: out of memory (transfer, %zu terminals)", t);
    }
    const cholmod_factor *L = c->L0;
    const int *P = L->Perm, *super = L->super, *pi = L->pi, *px = L->px, *Ls = L->s;
    const double *Lx = L->x;
    for (size_t a = 0; a < n; a++)
        pos[a] = -1;
    for (size_t k = first; k < n; k++)
        pos[P[k]] = (int32_t)(k - first);
    /* L_TT: the trailing columns of the trailing supernodes (column-major) */
    for (size_t sup = L->nsuper; sup-- > 0;) {
        size_t k1 = (size_t)super[sup], k2 = (size_t)super[sup + 1];
        if (k2 <= first)
            break;
        size_t nsrow = (size_t)(pi[sup + 1] - pi[sup]);
        const int *rows = Ls + pi[sup];
        for (size_t k = k1 > first ? k1 : first; k < k2; k++) {
            const double *col = Lx + px[sup] + (k - k1) * nsrow;
            for (size_t r = k - k1; r < nsrow; r++) /* rows ≥ k */
                Lt[(size_t)rows[r] - first + (k - first) * t] = col[r];
        }
    }
    for (size_t k = 0; k < c->n_bt; k++)
        WB[(size_t)pos[c->bt_node[k]] + (size_t)c->bt_row[k] * t] += c->bt_g[k];
    for (size_t k = 0; k < c->n_st; k++)
        if (c->st_ref[k] >= 0)
            WS[(size_t)pos[c->st_ref[k]] - nb + (size_t)c->st_col[k] * sn] += c->st_g[k];
    cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, (int)t,
                (int)R, 1.0, Lt, (int)t, WB, (int)t);
    cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, (int)sn,
                (int)C, 1.0, Lt + nb + nb * t, (int)t, WS, (int)sn);
    /* m row-major (R, C) is column-major (C, R): Mᵀ += WSᵀ·WB[nb:, :] */
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)C, (int)R, (int)sn, 1.0, WS,
                (int)sn, WB + nb, (int)t, 1.0, m, (int)C);
    mx_free(Lt);
    mx_free(WB);
    mx_free(WS);
    mx_free(pos);
    return MX_OK;
}

mx_status mx_circuit_transfer(mx_circuit *c, double *m)
{
    const size_t R = c->R, C = c->C, n = c->n;
    if (c->p.cell != MX_CELL_LINEAR)
        return mx_fail(MX_EINVAL, "circuit transfer matrix: expected linear cells, got sinh "
                       "(the circuit is not linear in V)");
    for (size_t j = 0; c->v_col && j < C; j++)
        if (c->v_col[j] != 0.0 && !col_floats(&c->p, j))
            return mx_fail(MX_EINVAL, "circuit transfer matrix: expected every sense node at "
                           "0 V, got v_col_v[%zu] = %g (the currents are affine, not linear, "
                           "in V)", j, c->v_col[j]);
    memset(m, 0, R * C * sizeof *m);
    /* D: cells joining a source directly to the ground */
    for (size_t t = 0; t < c->n_st; t++)
        if (c->st_ref[t] < REF_GROUND)
            m[SRC_ROW(c->st_ref[t]) * C + (size_t)c->st_col[t]] += c->st_g[t];
    if (n == 0)
        return MX_OK;
    if (c->schur)
        return transfer_schur(c, m);
    const int adjoint = C < R;
    const size_t nrhs = adjoint ? C : R, nbmax = block_cols(c);
    mx_status st = ensure_rhs(c, nbmax < nrhs ? nbmax : nrhs);
    if (st)
        return st;
    for (size_t k0 = 0; k0 < nrhs; k0 += nbmax) {
        size_t nb = nrhs - k0 < nbmax ? nrhs - k0 : nbmax;
        memset(c->rhs, 0, n * nb * sizeof *c->rhs);
        if (adjoint) { /* column k of Sᵀ for columns j = k0..k0+nb-1 */
            for (size_t t = 0; t < c->n_st; t++) {
                size_t j = (size_t)c->st_col[t];
                if (j >= k0 && j < k0 + nb && c->st_ref[t] >= 0)
                    c->rhs[(j - k0) * n + (size_t)c->st_ref[t]] += c->st_g[t];
            }
        } else { /* B·e_i for rows i = k0..k0+nb-1 */
            for (size_t t = 0; t < c->n_bt; t++) {
                size_t i = (size_t)c->bt_row[t];
                if (i >= k0 && i < k0 + nb)
                    c->rhs[(i - k0) * n + (size_t)c->bt_node[t]] += c->bt_g[t];
            }
        }
        const double *x;
        size_t ld;
        if ((st = solve_block(c, c->L0, nb, &x, &ld)))
            return st;
        if (adjoint) { /* M[i][j] += Σ_(a,i,g) g·Z[a, j] */
            for (size_t t = 0; t < c->n_bt; t++) {
                size_t i = (size_t)c->bt_row[t], a = (size_t)c->bt_node[t];
                for (size_t k = 0; k < nb; k++)
                    m[i * C + k0 + k] += c->bt_g[t] * x[k * ld + a];
            }
        } else { /* M[i][j] += Σ_(j,a,g) g·X[a, i] */
            for (size_t t = 0; t < c->n_st; t++) {
                if (c->st_ref[t] < 0)
                    continue;
                size_t j = (size_t)c->st_col[t], a = (size_t)c->st_ref[t];
                for (size_t k = 0; k < nb; k++)
                    m[(k0 + k) * C + j] += c->st_g[t] * x[k * ld + a];
            }
        }
    }
    return MX_OK;
}

/* ------------------------------------------------------------ approximations */

/* Effective transfer matrix of the ideal mode: the cells with their access
 * resistors, nothing else (zero when a terminal is open). */
static void ideal_matrix(const mx_circuit_params *p, const double *g, double *m)
{
    const size_t RC = p->rows * p->cols;
    int open = is_open(p->r_src_ohm) || is_open(p->r_sense_ohm);
    for (size_t ij = 0; ij < RC; ij++)
        m[ij] = open ? 0.0 : cell_g_small(g[ij], p->r_access_ohm);
}

/* First order in the wire and terminal resistances (docs/crossbar.md):
 *   M[i][j] = G_ij·(1 − a_ij) − G_ij·Σ_i' G_i'j·w(i, i'),
 *   a_ij = r_src·Σ_j' G_ij' + r_row·Σ_{m=1..j} Σ_{j'≥m} G_ij',
 *   w(i, i') = r_sense + r_col·(R − 1 − max(i, i')),
 * with G the cells' small-signal conductance (access resistor included).
 * Workspace: (R + 1) doubles. */
static mx_status first_order_matrix(const mx_circuit_params *p, const double *g, double *m)
{
    const size_t R = p->rows, C = p->cols;
    ideal_matrix(p, g, m);
    if (is_open(p->r_src_ohm) || is_open(p->r_sense_ohm))
        return MX_OK;
    double *q = mx_alloc((R + 1) * sizeof *q);
    if (!q)
        return mx_fail(MX_ENOMEM, "circuit: out of memory (first-order work)");
    /* row part: a_ij from suffix sums of the row's conductances */
    for (size_t i = 0; i < R; i++) {
        double *mi = m + i * C, total = 0.0;
        for (size_t j = 0; j < C; j++)
            total += mi[j];
        double suffix = total, a = p->r_src_ohm * total;
        /* a_ij accumulates r_row·S(m) for m = 1..j; store the new values in
         * place only after the sums that need the old ones */
        double prev_g = mi[0];
        mi[0] = prev_g * (1.0 - a);
        for (size_t j = 1; j < C; j++) {
            suffix -= prev_g; /* S(j) = Σ_{j' ≥ j} */
            a += p->r_row_ohm * suffix;
            prev_g = mi[j];
            mi[j] = prev_g * (1.0 - a);
        }
    }
    /* column part: −G_ij·Σ_i' G_i'j·w(i, i'), with
     * Σ_i' G_i'j·w = r_sense·T + r_col·((R−1−i)·P(i) + Q(i+1)),
     * P(i) = Σ_{i' ≤ i} G_i'j, Q(i+1) = Σ_{i' > i} G_i'j·(R−1−i') */
    for (size_t j = 0; j < C; j++) {
        double T = 0.0;
        q[R] = 0.0;
        for (size_t i = R; i-- > 0;) {
            double gij = cell_g_small(g[i * C + j], p->r_access_ohm);
            T += gij;
            q[i] = q[i + 1] + gij * (double)(R - 1 - i);
        }
        double P = 0.0;
        for (size_t i = 0; i < R; i++) {
            double gij = cell_g_small(g[i * C + j], p->r_access_ohm);
            P += gij;
            double s = p->r_sense_ohm * T + p->r_col_ohm * ((double)(R - 1 - i) * P + q[i + 1]);
            m[i * C + j] -= gij * s;
        }
    }
    mx_free(q);
    return MX_OK;
}

/* Solve a chain of m nodes: link conductance gl between neighbours (gl =
 * inf: one node), a terminal of conductance gt (inf: the node is held; 0:
 * none) to voltage vt at node `t`, shunts s[k] to voltages u[k] (stride
 * `stride` in s and u). OUT y (m). Workspace w (m). Thomas algorithm; the
 * matrix is diagonally dominant. */
static void chain_solve(size_t m, double gl, size_t t, double gt, double vt, const double *s,
                        const double *u, size_t stride, double *y, double *w)
{
    if (isinf(gl)) { /* one node */
        double num = 0.0, den = 0.0;
        for (size_t k = 0; k < m; k++) {
            num += s[k * stride] * u[k * stride];
            den += s[k * stride];
        }
        double val;
        if (isinf(gt))
            val = vt;
        else
            val = den + gt > 0.0 ? (num + gt * vt) / (den + gt) : 0.0;
        for (size_t k = 0; k < m; k++)
            y[k] = val;
        return;
    }
    /* forward elimination: row k: −gl·y[k−1] + d_k·y[k] − gl·y[k+1] = r_k */
    double cprev = 0.0, rprev = 0.0;
    for (size_t k = 0; k < m; k++) {
        double d, r, off = k + 1 < m ? -gl : 0.0, lower = k > 0 ? -gl : 0.0;
        if (k == t && isinf(gt)) {
            d = 1.0;
            r = vt;
            off = 0.0;
            lower = 0.0;
        } else {
            d = s[k * stride] + (k > 0 ? gl : 0.0) + (k + 1 < m ? gl : 0.0);
            r = s[k * stride] * u[k * stride];
            if (k == t) {
                d += gt;
                r += gt * vt;
            }
        }
        double piv = d - lower * cprev;
        if (piv == 0.0) { /* an isolated node without conductance */
            w[k] = 0.0;
            y[k] = 0.0;
            cprev = 0.0;
            rprev = 0.0;
            continue;
        }
        w[k] = off / piv;
        y[k] = (r - lower * rprev) / piv;
        cprev = w[k];
        rprev = y[k];
    }
    for (size_t k = m - 1; k-- > 0;)
        y[k] -= w[k] * y[k + 1];
}

/* Alternating line solves for one input: OUT i_col (C). Workspace: xr, xc
 * (R, C) and w (max(R, C)), gl (R, C) small-signal conductances. */
static void line_sweeps(const mx_circuit_params *p, const double *gl, const double *v,
                        double *i_col, double *xr, double *xc, double *w, double *ycol)
{
    const size_t R = p->rows, C = p->cols;
    const double g_row = p->r_row_ohm > 0.0 ? 1.0 / p->r_row_ohm : HUGE_VAL;
    const double g_col = p->r_col_ohm > 0.0 ? 1.0 / p->r_col_ohm : HUGE_VAL;
    const double g_src = p->r_src_ohm > 0.0 ? 1.0 / p->r_src_ohm : HUGE_VAL;
    const double g_sense = p->r_sense_ohm > 0.0 ? 1.0 / p->r_sense_ohm : HUGE_VAL;
    memset(xc, 0, R * C * sizeof *xc);
    for (int s = 0; s < p->sweeps; s++) {
        for (size_t i = 0; i < R; i++)
            chain_solve(C, g_row, 0, g_src, v[i], gl + i * C, xc + i * C, 1, xr + i * C, w);
        for (size_t j = 0; j < C; j++) {
            chain_solve(R, g_col, R - 1, g_sense, 0.0, gl + j, xr + j, C, ycol, w);
            for (size_t i = 0; i < R; i++)
                xc[i * C + j] = ycol[i];
        }
    }
    /* after a column solve each column's KCL holds: the sense current is the
     * sum of its cell currents */
    for (size_t j = 0; j < C; j++)
        i_col[j] = 0.0;
    for (size_t i = 0; i < R; i++)
        for (size_t j = 0; j < C; j++)
            i_col[j] += gl[i * C + j] * (xr[i * C + j] - xc[i * C + j]);
}

typedef struct sweep_work {
    double *gl, *xr, *xc, *w, *ycol;
} sweep_work;

static void sweep_work_free(sweep_work *sw)
{
    mx_free(sw->gl);
    mx_free(sw->xr);
    mx_free(sw->xc);
    mx_free(sw->w);
    mx_free(sw->ycol);
}

static mx_status sweep_work_init(sweep_work *sw, const mx_circuit_params *p, const double *g)
{
    const size_t R = p->rows, C = p->cols, RC = R * C;
    memset(sw, 0, sizeof *sw);
    sw->gl = mx_alloc(RC * sizeof *sw->gl);
    sw->xr = mx_alloc(RC * sizeof *sw->xr);
    sw->xc = mx_alloc(RC * sizeof *sw->xc);
    sw->w = mx_alloc((R > C ? R : C) * sizeof *sw->w);
    sw->ycol = mx_alloc(R * sizeof *sw->ycol);
    if (!sw->gl || !sw->xr || !sw->xc || !sw->w || !sw->ycol) {
        sweep_work_free(sw);
        return mx_fail(MX_ENOMEM, "circuit: out of memory (line sweeps, %zu x %zu)", R, C);
    }
    for (size_t ij = 0; ij < RC; ij++)
        sw->gl[ij] = cell_g_small(g[ij], p->r_access_ohm);
    return MX_OK;
}

/* Transfer matrix of an approximate mode (linear cells). */
static mx_status approx_matrix(const mx_circuit_params *p, mx_circuit_mode mode, const double *g,
                               double *m)
{
    const size_t R = p->rows, C = p->cols;
    if (mode == MX_CIRCUIT_IDEAL) {
        ideal_matrix(p, g, m);
        return MX_OK;
    }
    if (mode == MX_CIRCUIT_FIRST_ORDER)
        return first_order_matrix(p, g, m);
    if (is_open(p->r_src_ohm) || is_open(p->r_sense_ohm)) {
        memset(m, 0, R * C * sizeof *m);
        return MX_OK;
    }
    sweep_work sw;
    mx_status st = sweep_work_init(&sw, p, g);
    double *v = mx_calloc(R, sizeof *v);
    if (!st && !v)
        st = mx_fail(MX_ENOMEM, "circuit: out of memory (line sweeps)");
    for (size_t i = 0; i < R && !st; i++) {
        v[i] = 1.0;
        line_sweeps(p, sw.gl, v, m + i * C, sw.xr, sw.xc, sw.w, sw.ycol);
        v[i] = 0.0;
    }
    mx_free(v);
    sweep_work_free(&sw);
    return st;
}

static mx_status check_mode(const mx_circuit_params *p, mx_circuit_mode mode)
{
    if (mode != MX_CIRCUIT_EXACT && mode != MX_CIRCUIT_IDEAL && mode != MX_CIRCUIT_FIRST_ORDER &&
        mode != MX_CIRCUIT_LINE_SWEEPS)
        return mx_fail(MX_EINVAL, "circuit mode: expected exact, ideal, first-order or "
                       "line-sweeps, got %d", (int)mode);
    if (p->cell != MX_CELL_LINEAR && mode != MX_CIRCUIT_EXACT && mode != MX_CIRCUIT_IDEAL)
        return mx_fail(MX_EINVAL, "circuit mode %s: expected linear cells, got sinh (use exact "
                       "or ideal)", mx_circuit_mode_name(mode));
    if (mode != MX_CIRCUIT_EXACT && has_line_terminals(p))
        return mx_fail(MX_EINVAL, "circuit mode %s: expected every row driven and every column "
                       "sensed at 0 V, got floating lines or v_col_v (sneak paths need the "
                       "exact solve)", mx_circuit_mode_name(mode));
    return MX_OK;
}

mx_status mx_circuit_currents(const mx_circuit_params *p, mx_circuit_mode mode, const double *g,
                              const double *v_in, size_t batch, double *i_col)
{
    mx_status st = mx_circuit_params_validate(p);
    if (!st)
        st = check_mode(p, mode);
    if (!st)
        st = mx_circuit_check_conductances(p, g);
    if (!st)
        st = check_inputs(v_in, batch, p->rows);
    if (st || batch == 0)
        return st;
    const size_t R = p->rows, C = p->cols;
    if (mode == MX_CIRCUIT_EXACT) {
        mx_circuit *c;
        if ((st = mx_circuit_create(p, g, &c)))
            return st;
        st = mx_circuit_solve(c, v_in, batch, i_col);
        mx_circuit_destroy(c);
        return st;
    }
    if (mode == MX_CIRCUIT_IDEAL && p->cell == MX_CELL_SINH) {
        /* each cell sees its row voltage: I_ij = f(V_i) */
        int open = is_open(p->r_src_ohm) || is_open(p->r_sense_ohm);
        for (size_t b = 0; b < batch; b++) {
            double *ic = i_col + b * C;
            memset(ic, 0, C * sizeof *ic);
            for (size_t i = 0; i < R && !open; i++)
                for (size_t j = 0; j < C; j++)
                    ic[j] += cell_iv(p, g[i * C + j], v_in[b * R + i], NULL);
            if (!isfinite(max_abs(ic, C)))
                return mx_fail(MX_ENUMERIC, "circuit: input %zu: a cell current is not finite "
                               "(k·v too large for sinh?)", b);
        }
        return MX_OK;
    }
    if (mode == MX_CIRCUIT_LINE_SWEEPS) {
        if (is_open(p->r_src_ohm) || is_open(p->r_sense_ohm)) {
            memset(i_col, 0, batch * C * sizeof *i_col);
            return MX_OK;
        }
        sweep_work sw;
        if ((st = sweep_work_init(&sw, p, g)))
            return st;
        for (size_t b = 0; b < batch; b++)
            line_sweeps(p, sw.gl, v_in + b * R, i_col + b * C, sw.xr, sw.xc, sw.w, sw.ycol);
        sweep_work_free(&sw);
        return MX_OK;
    }
    double *m = mx_alloc(R * C * sizeof *m);
    if (!m)
        return mx_fail(MX_ENOMEM, "circuit: out of memory (%zu x %zu)", R, C);
    if (!(st = approx_matrix(p, mode, g, m)))
        for (size_t b = 0; b < batch; b++) {
            double *ic = i_col + b * C;
            memset(ic, 0, C * sizeof *ic);
            for (size_t i = 0; i < R; i++) {
                double vi = v_in[b * R + i];
                for (size_t j = 0; j < C; j++)
                    ic[j] += vi * m[i * C + j];
            }
        }
    mx_free(m);
    return st;
}

mx_status mx_circuit_effective_conductance(const mx_circuit_params *p, mx_circuit_mode mode,
                                           const float *g, size_t rows, size_t cols,
                                           float *g_eff)
{
    mx_circuit_params q = *p;
    q.rows = rows;
    q.cols = cols;
    mx_status st = mx_circuit_params_validate(&q);
    if (!st)
        st = check_mode(&q, mode);
    if (!st && q.cell != MX_CELL_LINEAR)
        st = mx_fail(MX_EINVAL, "circuit effective conductance: expected linear cells, got "
                     "sinh (the circuit is not linear in V)");
    if (st)
        return st;
    const size_t RC = rows * cols;
    double *gd = mx_alloc(RC * sizeof *gd), *m = mx_alloc(RC * sizeof *m);
    if (!gd || !m) {
        mx_free(gd);
        mx_free(m);
        return mx_fail(MX_ENOMEM, "circuit: out of memory (%zu x %zu)", rows, cols);
    }
    for (size_t ij = 0; ij < RC; ij++)
        gd[ij] = (double)g[ij];
    st = mx_circuit_check_conductances(&q, gd);
    if (!st) {
        if (mode == MX_CIRCUIT_EXACT) {
            mx_circuit *c;
            if (!(st = mx_circuit_create(&q, gd, &c)))
                st = mx_circuit_transfer(c, m);
            mx_circuit_destroy(c);
        } else {
            st = approx_matrix(&q, mode, gd, m);
        }
    }
    if (!st)
        for (size_t ij = 0; ij < RC; ij++)
            g_eff[ij] = (float)m[ij];
    mx_free(gd);
    mx_free(m);
    return st;
}

/* ------------------------------------------------------------ reading one cell */

const char *mx_read_scheme_name(mx_read_scheme scheme)
{
    switch (scheme) {
    case MX_READ_FLOATING: return "floating";
    case MX_READ_V_GROUND: return "v-ground";
    case MX_READ_V_HALF: return "v-half";
    }
    return "?";
}

mx_status mx_read_scheme_parse(const char *name, mx_read_scheme *out)
{
    static const mx_read_scheme all[] = {MX_READ_FLOATING, MX_READ_V_GROUND, MX_READ_V_HALF};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        if (!strcmp(name, mx_read_scheme_name(all[k]))) {
            *out = all[k];
            return MX_OK;
        }
    return mx_fail(MX_EINVAL, "read scheme: expected one of floating, v-ground, v-half, got "
                   "\"%s\"", name);
}

/* Lines (rows 0..R-1, columns R..R+C-1) that no terminal reaches through
 * conducting cells: every row and column is one connected wire (r_row,
 * r_col finite), so node connectivity is line connectivity. Such a line is
 * held at 0 V (row driven at 0 V, column sensed at 0 V): its component has
 * no other terminal, so no current flows in it either way. Workspace
 * parent (R + C + 1). */
static void terminate_isolated_lines(const mx_circuit_params *p, const double *g,
                                     unsigned char *rf, unsigned char *cf, double *v,
                                     double *vc, int32_t *parent)
{
    const size_t R = p->rows, C = p->cols;
    const int32_t anchor = (int32_t)(R + C);
    for (size_t a = 0; a <= R + C; a++)
        parent[a] = (int32_t)a;
    for (size_t i = 0; i < R; i++)
        if (!rf[i])
            uf_join(parent, anchor, (int32_t)i, -1);
    for (size_t j = 0; j < C; j++)
        if (!cf[j])
            uf_join(parent, anchor, (int32_t)(R + j), -1);
    for (size_t i = 0; i < R; i++)
        for (size_t j = 0; j < C; j++)
            if (g[i * C + j] > 0.0)
                uf_join(parent, anchor, (int32_t)i, (int32_t)(R + j));
    const int32_t root = uf_find(parent, anchor);
    for (size_t i = 0; i < R; i++)
        if (uf_find(parent, (int32_t)i) != root) {
            rf[i] = 0;
            v[i] = 0.0;
        }
    for (size_t j = 0; j < C; j++)
        if (uf_find(parent, (int32_t)(R + j)) != root) {
            cf[j] = 0;
            vc[j] = 0.0;
        }
}

mx_status mx_circuit_read_cell(const mx_circuit_params *p, const double *g, size_t i, size_t j,
                               double v_read, mx_read_scheme scheme, double *i_read)
{
    mx_circuit_params q = *p;
    q.row_floating = q.col_floating = NULL;
    q.v_col_v = NULL;
    mx_status st = mx_circuit_params_validate(&q);
    if (!st)
        st = mx_circuit_check_conductances(&q, g);
    if (st)
        return st;
    const size_t R = q.rows, C = q.cols;
    if (i >= R || j >= C)
        return mx_fail(MX_EINVAL, "circuit read_cell: expected a cell inside the %zu x %zu "
                       "array, got [%zu, %zu]", R, C, i, j);
    if (!isfinite(v_read))
        return mx_fail(MX_EINVAL, "circuit read_cell v_read: expected a finite voltage, got %g",
                       v_read);
    if (scheme != MX_READ_FLOATING && scheme != MX_READ_V_GROUND && scheme != MX_READ_V_HALF)
        return mx_fail(MX_EINVAL, "circuit read_cell scheme: expected floating, v-ground or "
                       "v-half, got %d", (int)scheme);
    if (is_open(q.r_src_ohm) || is_open(q.r_sense_ohm))
        return mx_fail(MX_EINVAL, "circuit read_cell %s: expected a finite resistance (the "
                       "selected row needs its driver, the selected column its sense node), "
                       "got inf", is_open(q.r_src_ohm) ? "r_src_ohm" : "r_sense_ohm");
    const int access = q.r_access_ohm > 0.0; /* 1T1R: unselected rows' transistors off */
    unsigned char *rf = mx_alloc(R + C);
    double *v = mx_alloc((R + 2 * C) * sizeof *v);
    int32_t *parent = mx_alloc((R + C + 1) * sizeof *parent);
    double *gm = access ? mx_alloc(R * C * sizeof *gm) : NULL;
    if (!rf || !v || !parent || (access && !gm)) {
        st = mx_fail(MX_ENOMEM, "circuit read_cell: out of memory (%zu x %zu)", R, C);
        goto done;
    }
    unsigned char *cf = rf + R;
    double *vc = v + R, *icol = v + R + C;
    const double v_off = scheme == MX_READ_V_HALF ? 0.5 * v_read : 0.0;
    for (size_t r = 0; r < R; r++) {
        rf[r] = scheme == MX_READ_FLOATING && r != i;
        v[r] = r == i ? v_read : v_off;
    }
    for (size_t k = 0; k < C; k++) {
        cf[k] = scheme == MX_READ_FLOATING && k != j;
        vc[k] = k == j ? 0.0 : v_off;
    }
    if (access) {
        memset(gm, 0, R * C * sizeof *gm);
        memcpy(gm + i * C, g + i * C, C * sizeof *gm);
    }
    const double *gg = access ? gm : g;
    terminate_isolated_lines(&q, gg, rf, cf, v, vc, parent);
    q.row_floating = rf;
    q.col_floating = cf;
    q.v_col_v = vc;
    if (!(st = mx_circuit_currents(&q, MX_CIRCUIT_EXACT, gg, v, 1, icol)))
        *i_read = icol[j];
done:
    mx_free(rf);
    mx_free(v);
    mx_free(parent);
    mx_free(gm);
    return st;
}
