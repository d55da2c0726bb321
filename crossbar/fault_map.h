/* SPDX-License-Identifier: MIT
 *
 * fault_map.h: internal to crossbar/ — the planning half of fault-aware
 * mapping (hardware.fault_mapping; crossbar/fault_map.c): the weight error
 * a layout suffers from a detected fault map, the optimal assignment of
 * logical rows and columns to physical ones, and partner compensation of a
 * differential pair. crossbar/matmul.c tests the cells, calls the planner
 * and writes the chosen layout.
 */
#ifndef MX_CROSSBAR_FAULT_MAP_H
#define MX_CROSSBAR_FAULT_MAP_H

#include "crossbar/crossbar.h"

/* Fault codes of the fault map. */
enum { MX_FM_HEALTHY = 0, MX_FM_STUCK_LOW = 1, MX_FM_STUCK_HIGH = 2 };

/* A matmul's geometry, targets and detected faults as the planner sees them. */
typedef struct mx_fm_layout {
    size_t n_in, n_out;         /* logical rows (inputs) and columns (outputs) */
    size_t n_ch;                /* channels: pairs (differential 1, bit-sliced slices);
                                   offset 1 (family 0 alone) */
    int offset;                 /* offset mapping: channel 0 is family 0 alone */
    size_t tile_rows, tile_cols, n_col_tiles;
    size_t spares;              /* spare outputs per column tile (0 unless spare-columns) */
    double g_min_s, g_max_s;    /* the stuck values and the window */
    const double *ch_scale;     /* (n_ch) relative weight per siemens of channel c's
                                   conductance difference, × window: the weight error
                                   / w_abs_max of an error ΔG is ch_scale[c]·ΔG/window */
    const float *const *target; /* family f's logical targets, (n_in, n_out) S, for the
                                   per-output families (2·n_ch; offset: family 0) */
    const unsigned char *const *fault; /* family f's faults, (n_in, phys_cols) physical */
} mx_fm_layout;

/* Physical columns of a per-output family: n_out + n_col_tiles·spares. */
size_t mx_fm_phys_cols(const mx_fm_layout *L);

/* ((achieved − intended)/w_abs_max)² of logical weight (l, o) written at
 * physical row p, column q, with the stuck cells at their bounds and, when
 * `partner`, each pair with one stuck cell compensated by its partner. */
double mx_fm_slot_error(const mx_fm_layout *L, size_t l, size_t o, size_t p, size_t q,
                        int partner);

/* Partner compensation of one pair in place: with exactly one of the cells
 * stuck (fp, fn fault codes), the healthy one's target becomes the value
 * that makes G+ − G− = tp − tn, clamped to [g_min, g_max]. */
void mx_fm_compensate(const mx_fm_layout *L, float *tp, float *tn, unsigned char fp,
                      unsigned char fn);

/* Minimum-cost assignment of n rows to m ≥ n columns (Hungarian algorithm
 * with potentials, O(n²·m)): cost (n, m) row-major, finite. OUT assign (n):
 * the column of each row, all distinct. MX_ENOMEM. */
mx_status mx_fm_assign(const double *cost, size_t n, size_t m, size_t *assign);

/* Choose the layout of `mode`: OUT row_of (n_in, the logical row at each
 * physical row), col_of (phys_cols, the logical column at each physical
 * column or SIZE_MAX), *sq_before and *sq_after (Σ of mx_fm_slot_error over
 * every weight in the plain layout without compensation, and in the chosen
 * one), *moved (rows and columns not at their own index). MX_ENOMEM. */
mx_status mx_fm_plan(const mx_fm_layout *L, mx_fault_map_mode mode, size_t *row_of,
                     size_t *col_of, double *sq_before, double *sq_after, uint64_t *moved);

#endif /* MX_CROSSBAR_FAULT_MAP_H */
