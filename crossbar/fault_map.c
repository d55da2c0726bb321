/* SPDX-License-Identifier: MIT
 *
 * fault_map.c: the planning half of fault-aware mapping
 * (hardware.fault_mapping; crossbar.h mx_fault_map_mode). crossbar/matmul.c
 * first tests every physical cell with two test-pattern writes and reads
 * (all to g_max, read; all to g_min, read: the two march elements that
 * expose stuck-at-0 and stuck-at-1 cells; march tests of RRAM arrays, e.g.
 * Chen et al., "RRAM defect modeling and failure analysis based on march
 * test and a novel squeeze-search scheme", IEEE Trans. Computers 64(1),
 * 2015, add elements for other fault types), which gives the fault map; this file
 * turns the map and the weights into a layout, which matmul.c then writes
 * once. The stuck cells stay where they are: a layout only decides which
 * weight each physical cell is asked to hold.
 *
 * Error of a layout. Logical weight (l, o) written at physical row p,
 * column q is represented by its cells' conductances; a stuck cell sits at
 * its bound (g_min or g_max, the nominal value the planner assumes), a
 * healthy one at its target. The weight error, relative to w_abs_max, is
 * e = Σ_c k_c·(ΔG_c − ΔG*_c)/window over the channels c: the pair
 * difference G+ − G− (differential, each slice of bit-sliced: k_c =
 * (2^b − 1)·2^(b·c)/(2^(k·b) − 1), so that slice errors add in weight
 * units and may cancel) or the single cell (offset: k = 2, the cell spans
 * both signs; its shared reference column is not planned for). The cost of
 * a layout is Σ e² over every weight.
 *
 * Strategies.
 * - partner: a differential pair with exactly one stuck cell keeps its
 *   healthy partner free: it is re-targeted to G− = s − ΔG* (G+ stuck at s)
 *   or G+ = s + ΔG* (G− stuck), clamped to the window. The residual is the
 *   distance of that target from [g_min, g_max]: 0 for a stuck-high cell
 *   whose weight has its sign, at most |ΔG*| otherwise (a G+ stuck low on
 *   a positive weight cannot be helped: ΔG ≤ 0). Both cells stuck: no help.
 * - permute: within each row tile the logical rows are assigned to physical
 *   rows by a minimum-cost assignment, cost[l][p] = Σ over the faulty cells
 *   of physical row p of e²(l at p); then, given the rows, the logical
 *   columns of each column tile to its physical columns the same way. Both
 *   are exact optimal assignments (Hungarian algorithm; Kuhn 1955, Munkres
 *   1957) of a separable cost — the row-then-column order is a heuristic
 *   for the joint problem, as the bipartite-matching remaps of Liu et al.
 *   (DAC 2017, "Rescuing memristor-based neuromorphic design with high
 *   defects") are. Permutations stay inside tiles, so every tile's rows and
 *   columns are the same set of inputs and outputs and the matmul's
 *   per-tile partial sums and ADCs are unchanged: the input permutation is
 *   a gather before the row drivers and the output one a scatter after
 *   the ADC, both outside the analog core, and the emulator holds the
 *   conductances in logical order (matmul.c), which is the same thing.
 * - spare-columns: each column tile has S spare physical outputs (every
 *   family of an output: a pair when differential); its logical outputs are
 *   assigned to its tile_cols + S physical outputs by the same rectangular
 *   assignment, so the S worst columns move to the spares when a spare is
 *   better (spares have their own stuck cells, tested like the others).
 *   Rows stay in place.
 * A tie-break cost FLT_EPSILON² per moved row or column keeps a layout in
 * place unless moving it gains more than the squared float rounding of a
 * relative weight, an error no float weight can represent; tiles without a
 * fault are not planned at all.
 */
#include "crossbar/fault_map.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define FM_NONE SIZE_MAX
/* Cost of moving a row or column off its own index (see the file comment). */
#define FM_MOVE_COST ((double)FLT_EPSILON * (double)FLT_EPSILON)

size_t mx_fm_phys_cols(const mx_fm_layout *L) { return L->n_out + L->n_col_tiles * L->spares; }

static double stuck_value(const mx_fm_layout *L, unsigned char f)
{
    return f == MX_FM_STUCK_HIGH ? L->g_max_s : L->g_min_s;
}

static double clampd(double x, double lo, double hi) { return x < lo ? lo : (x > hi ? hi : x); }

void mx_fm_compensate(const mx_fm_layout *L, float *tp, float *tn, unsigned char fp,
                      unsigned char fn)
{
    const double d = (double)*tp - (double)*tn;
    if (fp && !fn)
        *tn = (float)clampd(stuck_value(L, fp) - d, L->g_min_s, L->g_max_s);
    else if (fn && !fp)
        *tp = (float)clampd(stuck_value(L, fn) + d, L->g_min_s, L->g_max_s);
}

static size_t used_families(const mx_fm_layout *L) { return L->offset ? 1 : 2 * L->n_ch; }

static int any_fault(const mx_fm_layout *L, size_t p, size_t q)
{
    const size_t i = p * mx_fm_phys_cols(L) + q;
    for (size_t f = 0; f < used_families(L); f++)
        if (L->fault[f][i])
            return 1;
    return 0;
}

double mx_fm_slot_error(const mx_fm_layout *L, size_t l, size_t o, size_t p, size_t q,
                        int partner)
{
    const size_t i = p * mx_fm_phys_cols(L) + q, k = l * L->n_out + o;
    const double inv_window = 1.0 / (L->g_max_s - L->g_min_s);
    double e = 0.0;
    if (L->offset) {
        const unsigned char f = L->fault[0][i];
        if (f)
            e = L->ch_scale[0] * (stuck_value(L, f) - (double)L->target[0][k]) * inv_window;
        return e * e;
    }
    for (size_t c = 0; c < L->n_ch; c++) {
        const unsigned char fp = L->fault[2 * c][i], fn = L->fault[2 * c + 1][i];
        if (!fp && !fn)
            continue;
        const float tp = L->target[2 * c][k], tn = L->target[2 * c + 1][k];
        float ap = tp, an = tn;
        if (partner)
            mx_fm_compensate(L, &ap, &an, fp, fn);
        const double gp = fp ? stuck_value(L, fp) : (double)ap;
        const double gn = fn ? stuck_value(L, fn) : (double)an;
        e += L->ch_scale[c] * ((gp - gn) - ((double)tp - (double)tn)) * inv_window;
    }
    return e * e;
}

mx_status mx_fm_assign(const double *cost, size_t n, size_t m, size_t *assign)
{
    /* Potentials u (rows), v (columns); match[j] = row (1-based) on column j,
     * column 0 a virtual start; way[j] the previous column on the
     * alternating path. Each row is added by a Dijkstra-like search over
     * reduced costs (Kuhn–Munkres with potentials). */
    if (n == 0)
        return MX_OK;
    double *u = mx_calloc(n + 1, sizeof(double));
    double *v = mx_calloc(m + 1, sizeof(double));
    double *minv = mx_alloc((m + 1) * sizeof(double));
    size_t *match = mx_calloc(m + 1, sizeof(size_t));
    size_t *way = mx_calloc(m + 1, sizeof(size_t));
    unsigned char *used = mx_alloc(m + 1);
    if (!u || !v || !minv || !match || !way || !used) {
        mx_free(u);
        mx_free(v);
        mx_free(minv);
        mx_free(match);
        mx_free(way);
        mx_free(used);
        return mx_fail(MX_ENOMEM, "fault-aware mapping: out of memory for a %zu x %zu assignment",
                       n, m);
    }
    for (size_t i = 1; i <= n; i++) {
        match[0] = i;
        size_t j0 = 0;
        for (size_t j = 0; j <= m; j++) {
            minv[j] = HUGE_VAL;
            used[j] = 0;
        }
        do {
            used[j0] = 1;
            const size_t i0 = match[j0];
            double delta = HUGE_VAL;
            size_t j1 = 0;
            for (size_t j = 1; j <= m; j++) {
                if (used[j])
                    continue;
                const double cur = cost[(i0 - 1) * m + (j - 1)] - u[i0] - v[j];
                if (cur < minv[j]) {
                    minv[j] = cur;
                    way[j] = j0;
                }
                if (minv[j] < delta) {
                    delta = minv[j];
                    j1 = j;
                }
            }
            for (size_t j = 0; j <= m; j++) {
                if (used[j]) {
                    u[match[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
        } while (match[j0] != 0);
        do {
            const size_t j1 = way[j0];
            match[j0] = match[j1];
            j0 = j1;
        } while (j0);
    }
    for (size_t j = 1; j <= m; j++)
        if (match[j])
            assign[match[j] - 1] = j - 1;
    mx_free(u);
    mx_free(v);
    mx_free(minv);
    mx_free(match);
    mx_free(way);
    mx_free(used);
    return MX_OK;
}

/* Σ over every placed weight of its error in the layout (row_of, col_of). */
static double layout_error(const mx_fm_layout *L, const size_t *row_of, const size_t *col_of,
                           int partner)
{
    const size_t pc = mx_fm_phys_cols(L);
    double s = 0.0;
    for (size_t p = 0; p < L->n_in; p++)
        for (size_t q = 0; q < pc; q++)
            if (col_of[q] != FM_NONE && any_fault(L, p, q))
                s += mx_fm_slot_error(L, row_of[p], col_of[q], p, q, partner);
    return s;
}

/* Rows of row tile rt, given the columns. cost: (tile_rows²) scratch. */
static mx_status plan_rows(const mx_fm_layout *L, size_t rt, size_t *row_of,
                           const size_t *col_of, double *cost, size_t *assign)
{
    const size_t pc = mx_fm_phys_cols(L), r0 = rt * L->tile_rows;
    const size_t n = r0 + L->tile_rows <= L->n_in ? L->tile_rows : L->n_in - r0;
    int faulty = 0;
    for (size_t k = 0; k < n && !faulty; k++)
        for (size_t q = 0; q < pc && !faulty; q++)
            faulty = col_of[q] != FM_NONE && any_fault(L, r0 + k, q);
    if (!faulty)
        return MX_OK;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < n; k++)
            cost[i * n + k] = i == k ? 0.0 : FM_MOVE_COST;
    for (size_t k = 0; k < n; k++) {
        const size_t p = r0 + k;
        for (size_t q = 0; q < pc; q++) {
            if (col_of[q] == FM_NONE || !any_fault(L, p, q))
                continue;
            for (size_t i = 0; i < n; i++)
                cost[i * n + k] += mx_fm_slot_error(L, r0 + i, col_of[q], p, q, 0);
        }
    }
    mx_status st = mx_fm_assign(cost, n, n, assign);
    if (st)
        return st;
    for (size_t i = 0; i < n; i++)
        row_of[r0 + assign[i]] = r0 + i;
    return MX_OK;
}

/* Columns of column tile ct over its tile_cols + spares physical outputs,
 * given the rows. cost: (tile_cols·(tile_cols + spares)) scratch; phys:
 * (tile_cols + spares) scratch. */
static mx_status plan_columns(const mx_fm_layout *L, size_t ct, const size_t *row_of,
                              size_t *col_of, double *cost, size_t *assign, size_t *phys)
{
    const size_t o0 = ct * L->tile_cols;
    const size_t n = o0 + L->tile_cols <= L->n_out ? L->tile_cols : L->n_out - o0;
    const size_t m = n + L->spares;
    for (size_t k = 0; k < m; k++)
        phys[k] = k < n ? o0 + k : L->n_out + ct * L->spares + (k - n);
    int faulty = 0;
    for (size_t k = 0; k < n && !faulty; k++)
        for (size_t p = 0; p < L->n_in && !faulty; p++)
            faulty = any_fault(L, p, phys[k]);
    if (!faulty)
        return MX_OK;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < m; k++)
            cost[i * m + k] = i == k ? 0.0 : FM_MOVE_COST;
    for (size_t k = 0; k < m; k++)
        for (size_t p = 0; p < L->n_in; p++) {
            if (!any_fault(L, p, phys[k]))
                continue;
            for (size_t i = 0; i < n; i++)
                cost[i * m + k] += mx_fm_slot_error(L, row_of[p], o0 + i, p, phys[k], 0);
        }
    mx_status st = mx_fm_assign(cost, n, m, assign);
    if (st)
        return st;
    for (size_t k = 0; k < m; k++)
        col_of[phys[k]] = FM_NONE;
    for (size_t i = 0; i < n; i++)
        col_of[phys[assign[i]]] = o0 + i;
    return MX_OK;
}

mx_status mx_fm_plan(const mx_fm_layout *L, mx_fault_map_mode mode, size_t *row_of,
                     size_t *col_of, double *sq_before, double *sq_after, uint64_t *moved)
{
    const size_t pc = mx_fm_phys_cols(L);
    for (size_t p = 0; p < L->n_in; p++)
        row_of[p] = p;
    for (size_t q = 0; q < pc; q++)
        col_of[q] = q < L->n_out ? q : FM_NONE;
    *sq_before = layout_error(L, row_of, col_of, 0);
    *moved = 0;
    mx_status st = MX_OK;
    if (mode == MX_FAULT_MAP_PERMUTE || mode == MX_FAULT_MAP_SPARE_COLUMNS) {
        const size_t n_row_tiles = (L->n_in + L->tile_rows - 1) / L->tile_rows;
        const size_t tr = L->tile_rows < L->n_in ? L->tile_rows : L->n_in;
        const size_t tc = (L->tile_cols < L->n_out ? L->tile_cols : L->n_out) + L->spares;
        const size_t side = tr > tc ? tr : tc;
        double *cost = mx_alloc(mx_size_mul(side, side) * sizeof(double));
        size_t *assign = mx_alloc(side * sizeof(size_t)), *phys = mx_alloc(side * sizeof(size_t));
        if (!cost || !assign || !phys)
            st = mx_fail(MX_ENOMEM, "fault-aware mapping: out of memory for the plan");
        if (mode == MX_FAULT_MAP_PERMUTE)
            for (size_t rt = 0; rt < n_row_tiles && !st; rt++)
                st = plan_rows(L, rt, row_of, col_of, cost, assign);
        for (size_t ct = 0; ct < L->n_col_tiles && !st; ct++)
            st = plan_columns(L, ct, row_of, col_of, cost, assign, phys);
        mx_free(cost);
        mx_free(assign);
        mx_free(phys);
        if (st)
            return st;
    }
    for (size_t p = 0; p < L->n_in; p++)
        *moved += row_of[p] != p;
    for (size_t q = 0; q < pc; q++)
        *moved += col_of[q] != FM_NONE && col_of[q] != q;
    *sq_after = layout_error(L, row_of, col_of, mode == MX_FAULT_MAP_PARTNER);
    return MX_OK;
}
