/* SPDX-License-Identifier: MIT
 *
 * matmul.c: the analog matmul — weights mapped to conductances, programmed
 * through a device model (with the V/2 half-select disturb of a passive
 * array if asked, and aged to t_inference_s where the model ages), read tile
 * by tile with Ohm/Kirchhoff column currents, read noise and a per-column
 * ADC, slices, input passes and row tiles added digitally (see crossbar.h
 * for the signal chain; docs/crossbar.md for the equations and numbers).
 *
 * Data. The programmed conductances live in one array per physical column
 * family, (n_in, n_out) like the weight columns they hold (the offset
 * reference family is (n_in, n_col_tiles)): differential G+, G−; offset
 * cells, reference; bit-sliced G+ and G− of each slice. What forward calls
 * read is derived from them in one place, derive_read_row(): per digitised
 * channel (the one pair, or each slice) g_diff = plus − minus and g_sq =
 * plus² + minus² (the per-cell noise weights). Anything that changes the
 * conductance a read sees (IR drop as effective conductances) belongs in
 * read_family()/derive_read_row(), nowhere else.
 *
 * Mappings (hardware.crossbar.mapping):
 * - differential: G± = g_min + max(±w, 0)·window/w_abs_max.
 * - offset: G = g_mid + w·s, g_mid = (g_min + g_max)/2, s = window/(2·w_abs_max)
 *   (half the differential's S per unit: one cell spans both signs), and
 *   one reference column per tile programmed toward g_mid through the device
 *   (its own variation and noise). Its current is subtracted from every
 *   column of the tile either in analog before the ADC (default: a current
 *   mirror, as reference-column designs do — the ADC then sees only the
 *   signed difference and keeps its resolution) or digitally after its own
 *   conversion (offset_subtract = digital, the ISAAC-style "bias subtracted
 *   after the ADC": the column ADC must span the unipolar current with its
 *   n·g_mid·V common mode, which wastes codes — the choice is kept because
 *   it is the cheaper circuit and the comparison is the point). Either way
 *   a shared reference's noise is common to the tile's columns: it is drawn
 *   once per (row tile, column tile), not per column.
 * - bit-sliced: |w| is quantised uniformly, round to nearest, to
 *   q = nearbyint(|w|/w_abs_max·Q), Q = 2^(k·b) − 1 (so |w| ≤ w_abs_max and
 *   the error per weight is ≤ w_abs_max/(2Q)); slice s holds the digit
 *   d_s = ⌊q / 2^(b·s)⌋ mod 2^b on its G+ cell (w > 0) or G− cell (w < 0),
 *   G = g_min + d_s·window/(2^b − 1), the other cell at g_min. Each slice's
 *   pair is subtracted in analog and digitised by the tile ADC (same full
 *   scale for every slice: each spans the whole window), then the codes are
 *   shift-added, Σ_s 2^(b·s)·y_s.
 *
 * Inputs (hardware.crossbar.input), u = clamp(x/fs, −1, 1), K = 2^M − 1
 * codes per polarity with M = max(dac_bits − 1, 1), m = nearbyint(|u|·K):
 * - dac: rows at φ(sign·m/K·V_read) (exact voltages when dac_bits = 0);
 * - spikes: rows at φ(V_read) where x = 1;
 * - bit-serial: M reads; read b drives rows with bit b of m at
 *   sign·φ(V_read), is digitised, and added with weight 2^b/K;
 * - pwm: rows at ±V_read for m of K time steps; the integrated charge over
 *   the full K-step window, divided by it, is Σ_j sign·(m_j/K)·G·φ(V_read) —
 *   linear in m whatever the cell I–V, because every row sees only 0 or
 *   V_read. The ADC converts that charge (in current units, so one range
 *   serves every mode). Read noise is one draw per cell per read, as in dac.
 * φ is the cell I–V (φ(V) = V for linear cells); the digital scale back to
 * weight units is nominal, fs/(V_read·S per unit), so a nonlinear I–V under
 * dac drive shows up as the error it is.
 *
 * Half-select (hardware.crossbar.half_select = v-half), for a passive array
 * written cell by cell with the V/2 scheme: the selected row at V_w, the
 * selected column at 0, every other line at V_w/2, so each other cell of the
 * selected row and column sees +V_w/2 for the length of the write. Assumed
 * programming sequence: each tile is first erased to g_min as a block (a
 * RESET of every cell at once disturbs nobody), then every cell whose
 * target, quantised to the device's levels, is above g_min gets one SET
 * write of write_pulses nominal pulses (pulse.v_ltp_v, width_ltp_s); cells
 * at g_min get none. V_w = pulse.v_ltp_v; all disturb is SET-polarity. A
 * cell then receives n = (writes in its tile row) + (writes in its tile
 * column) − 2·(its own write) half-select trains; they are applied after its
 * own programming as one train of n pulses of amplitude V_w/2 and width
 * write_pulses × width_ltp_s through the device's `pulse` (exact for the
 * binary and dynamic models: a train acts through its total time at one
 * amplitude). Whether a disturb comes before or after the cell's own write
 * is not tracked: an open-loop write is computed for the erased state and
 * adds to whatever state it finds, so both count. For binary cells this is
 * exact (a written cell is ON and a SET disturb cannot move it); for analog
 * cells it assumes the write and the disturb commute. Only models whose
 * pulse response depends on amplitude can say anything here
 * (mx_device_type.amplitude_aware); others are refused at create.
 *
 * Programming (hardware.programming.mode). open-loop: each row's cells of
 * each family are populated and written once through the device's own
 * `program` (mx_device_program: the write a programmer that knows only the
 * nominal device makes). write-verify: the same populate-and-write, in the
 * same chunks from the same stream, so the starting state is the open-loop
 * one draw for draw, keeping the cells' records; then closed-loop
 * write-verify of the row's cells of that family toward the same targets
 * (devices/write_verify.c), its seed drawn from stream "crossbar.write_verify"
 * with the row's item (two 32-bit words per family, in family order), so any
 * thread count gives the same bits. The programmer's step priors are
 * characterised once per matmul from the hardware seed (mx_wv_characterise,
 * a bench characterisation of the device before the chip is programmed)
 * unless the config gives them. g then holds the verified conductances;
 * ageing to t_inference_s comes after, as for open loop, so drift and
 * relaxation act on the verified state (write-verify does not re-verify
 * after them). Half-select disturb together with write-verify is refused:
 * every verify train would itself half-select its row and column, which
 * the disturb model (one write per cell) does not count, and disturb after
 * the verify would undo what was verified without charging for it. Cost
 * and residual error are accumulated per row and summed in row order
 * (mx_matmul_programming_stats); open loop reports its residual error too,
 * and no pulses, reads, time or energy (its one write is not priced).
 *
 * Drift reference (hardware.drift_compensation; calibration/drift.c uses it).
 * With a mode other than none, ageing waits: every row is programmed as
 * above, the fresh array (with its wires) is read with the calibration
 * vectors (mx_matmul_drift_input) through mx_matmul_forward — read noise,
 * an exact conversion in place of the not-yet-ranged ADC — and Σ_v |y_v| per
 * column is kept; then the rows are aged in a second pass with the same
 * targets and stream items, so the aged cells are the very bits a matmul
 * without the reference gets. This is the t0 read of Joshi et al. 2020's
 * global drift compensation, taken at programming as a chip takes it.
 *
 * Time schedule (mx_time_schedule; docs/calibration.md). With
 * reprogram_every_s = τ_p the cells are aged to t − τ_p·floor(t/τ_p), not t:
 * a reprogramming writes the same targets from the same stream items, so
 * the chip at t is the fresh chip at t mod τ_p bit for bit (common random
 * numbers: the statistics of a new programming, the comparison free of a
 * new chip's luck). When a recalibration must read the array at an earlier
 * age a_c (0 < a_c < age, drift.recalibrate_every_s), the programmed
 * families and the weights are kept, and mx_matmul_set_age re-ages every
 * cell from them with the same "device.age" items: the device's `age` is a
 * function of the programmed state, the time and a fixed number of draws
 * per cell, so the cell at a_c and at the evaluation's age share their
 * drift exponent and noise draw (pcm: the same ν; the 1/f term the same
 * normal scaled to each time), and ageing back gives the create bits.
 * Open loop with a schedule on a pulse model prices one nominal pulse per
 * cell (write_priced, write_energy_j), for the reprogramming's cost.
 *
 * Fault-aware mapping (hardware.fault_mapping; crossbar/fault_map.c for the
 * planner and its sources). Before anything is written, every physical cell
 * is tested (fm_test_row: written to g_max and read, to g_min and read, the
 * writes replaying the row's programming streams so they hit the very cells
 * the weights will), the planner chooses a layout from the fault map, and
 * program_row_mapped writes physical row p (stream item p) with logical row
 * row_of[p]'s targets placed by col_of (spare columns after the regular
 * ones, from "crossbar.spare_columns"), partner-compensated if asked, ages
 * it in physical order and scatters the conductances to their logical
 * slots. Rows and columns move only within their tiles, so holding the
 * array in logical order is exact and the forward path needs no gather.
 *
 * Output correction: y[o] = gain[o]·y[o] + offset[o] in weight units, after
 * the ADC and shift-and-add, in finish_output (both twins): a digital
 * multiply-add per column, as the affine correction of a chip's digital
 * periphery. While none is set the old expression runs, bit for bit.
 *
 * Fast path (mx_matmul_forward): event-driven — only rows with a non-zero
 * drive are accumulated, only row tiles with an active row are read and
 * converted. Read noise is output-referred: the per-cell noise
 * G·(1 + σ·ξ_ij) summed over a column is Gaussian with variance
 * σ²·Σ_j V_j²·(G+_ij² + G−_ij²), so one draw per column (and one per shared
 * reference column) is exact in distribution; the per-cell twin
 * (mx_matmul_forward_reference, or noise = per-cell) keeps the plain sum.
 *
 * Activity for energy/ (mx_matmul_stats), counted by both twins alike: rows
 * driven per pass, digitised values added digitally, passes with a read,
 * and the read power Σ_j |V_j·φ(V_j)|·ΣG_j from a per-row conductance sum
 * made once at programming (derive_read_row) — O(driven rows) per pass, not
 * per cell. With wires it uses the effective conductances (the power the
 * row drivers deliver, to first order; the wires' own share is not split
 * out).
 */
#include "crossbar/crossbar.h"

#include "core/parallel.h"
#include "core/rows.h"
#include "crossbar/fault_map.h"

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include <cblas.h>

/* Slices × 2 families at most (crossbar/config.c bounds slices by 32). */
#define MM_MAX_CHANNELS 32
#define MM_MAX_FAMILIES (2 * MM_MAX_CHANNELS)
/* Cells populated, programmed and disturbed per chunk when half-select keeps
 * the cell records (on the stack: 64 × 16 floats = 4 KiB). */
#define MM_RECORD_CHUNK 64
/* Cells populated and written per chunk before write-verify: as
 * mx_device_program's chunk (devices/cell.c), so the open-loop write draws
 * exactly what open-loop programming draws. */
#define MM_PROGRAM_CHUNK 64
/* Rows per item of the programming loop (dynamic schedule). */
#define MM_PROGRAM_ROWS_PER_CHUNK 4

struct mx_matmul {
    size_t n_in, n_out;
    size_t n_row_tiles, n_col_tiles;
    mx_crossbar_config xbar;
    const mx_device_type *device;
    mx_device_params dev;
    mx_adc_config adc_cfg;
    mx_adc adc;
    mx_adc_layout adc_layout;        /* where the column ADCs sit (adc/adc.h): banks =
                                        (row tile, slice), then a digital offset's
                                        reference columns per row tile */
    int adc_ready;
    mx_mapping map;
    size_t n_fam;                    /* physical column families */
    float *g_block;                  /* the families, each n_in·n_out floats */
    float *fam[MM_MAX_FAMILIES];     /* programmed family f, (n_in, fam_cols(f)) S */
    float *eff_block;                /* with wires: the families' effective
                                        conductances, same layout as g_block */
    float *eff[MM_MAX_FAMILIES];     /* effective family f (crossbar/circuit.h), or NULL */
    size_t n_ch;                     /* digitised channels: slices, or 1 */
    double ch_weight[MM_MAX_CHANNELS]; /* shift-add weight 2^(b·c) */
    float *rd_block;                 /* the read arrays, 2·n_ch of n_in·n_out floats */
    float *g_diff[MM_MAX_CHANNELS];  /* plus − minus, (n_in, n_out) S */
    float *g_sq[MM_MAX_CHANNELS];    /* plus² + minus² (a shared reference's
                                        noise is kept apart), (n_in, n_out) S² */
    double *g_row_sum;               /* (n_in) Σ of row j's read conductances over every
                                        family and column, S (read energy) */
    int offset;                      /* offset mapping: family 1 is the reference */
    int ref_digital;                 /* ... subtracted after its own conversion */
    size_t n_passes;                 /* reads per call: bit-serial M, else 1 */
    double in_levels;                /* K: input codes per polarity (0 = exact dac) */
    int iv_nonlinear;                /* the device's I–V is not I = G·V */
    float full_drive;                /* φ(V_read): drive of a row at full scale, A/S */
    mx_programming_stats prog;       /* what programming cost, summed in row order */
    uint64_t seed;                   /* the hardware seed it was programmed with */
    uint32_t layer_id;
    double *corr_gain;               /* (n_out) digital output gain, or NULL (identity) */
    double *corr_offset;             /* (n_out) digital output offset, weight units; set
                                        together with corr_gain */
    double *drift_ref;               /* (n_out) Σ_v |y_v| right after programming, or NULL */
    double drift_ref_sum;            /* Σ_o drift_ref[o] */
    mx_matmul_stats drift_stats;     /* what the reference reads did */
    mx_time_schedule sched;          /* reprogramming/recalibration at t_inference_s: the
                                        cells are aged to sched.age_s */
    float *g_fresh;                  /* the families as programmed, before ageing, kept
                                        when a recalibration reads an earlier age
                                        (mx_matmul_set_age), else NULL */
    float *w_target;                 /* (n_out, n_in) W as given, kept for per-column
                                        calibration (column_cal.mode != none) and for
                                        re-ageing (g_fresh), or NULL */
    /* Fault-aware mapping (xbar.fault_map.mode != none; crossbar/fault_map.h),
     * else all NULL/0. */
    unsigned char *fault_block;      /* the detected faults of every family */
    unsigned char *fault[MM_MAX_FAMILIES]; /* family f's, (n_in, fm_width(f)) physical */
    size_t fm_spares;                /* spare outputs per column tile */
    size_t fm_cols;                  /* physical columns of a per-output family:
                                        n_out + n_col_tiles·fm_spares */
    size_t *row_of;                  /* (n_in) logical input at each physical row */
    size_t *col_of;                  /* (fm_cols) logical output at each physical
                                        column, SIZE_MAX where none */
    mx_fault_map_stats fm_stats;     /* test cost and predicted errors */
};

struct mx_matmul_work {
    float *v;             /* (n_in) row drive: current per siemens of cell
                             conductance, A/S — the row voltage itself when the
                             cell I–V is linear, φ(V) = mx_device_current(G = 1 S, V)
                             otherwise (the I–V forms are separable: I = G·φ(V)) */
    size_t *active;       /* (n_in) indices of driven rows */
    int32_t *code;        /* (n_in) signed input code ±m (bit-serial) */
    float *acc;           /* (n_ch, n_row_tiles, n_out) column currents, A */
    float *var;           /* (n_ch, n_row_tiles, n_out) noise variance / σ², A² */
    float *acc_ref;       /* (n_row_tiles, n_col_tiles) reference currents (offset), A */
    float *var_ref;       /* (n_row_tiles, n_col_tiles) their noise variance / σ², A² */
    unsigned char *tile_active; /* (n_row_tiles) */
    float *rows;          /* (n_fam, n_out) one row's read conductances (reference) */
    double *y_acc;        /* (n_out) digital shift-and-add accumulator */
    float *noise;         /* (max(n_out, n_col_tiles)) N(0, 1) draws of one read */
    double pass_power_w;  /* read power of the driven rows of this pass, W:
                             Σ_active |V_j·φ(V_j)|·g_row_sum[j] */
};

static size_t fam_cols(const mx_matmul *mm, size_t f)
{
    return mm->offset && f == 1 ? mm->n_col_tiles : mm->n_out;
}

/* Family f's conductances as a read sees them: as programmed, or through
 * the tile's wires (the effective conductances of apply_wires). */
static const float *read_family(const mx_matmul *mm, size_t f)
{
    return mm->eff_block ? mm->eff[f] : mm->fam[f];
}

/* The single place where conductances become what the fast path reads:
 * every channel's g_diff and g_sq for input row j, and the row's total
 * conductance (its load on the row driver, for read energy). */
static void derive_read_row(mx_matmul *mm, size_t j)
{
    const size_t n_out = mm->n_out, tile_cols = mm->xbar.tile_cols;
    double g_sum = 0.0;
    for (size_t f = 0; f < mm->n_fam; f++) {
        const size_t cols = fam_cols(mm, f);
        const float *g = read_family(mm, f) + j * cols;
        for (size_t c = 0; c < cols; c++)
            g_sum += (double)g[c];
    }
    mm->g_row_sum[j] = g_sum;
    for (size_t c = 0; c < mm->n_ch; c++) {
        float *gd = mm->g_diff[c] + j * n_out, *gs = mm->g_sq[c] + j * n_out;
        const float *gp = read_family(mm, 2 * c) + j * n_out;
        if (mm->offset) {
            const float *gr = read_family(mm, 1) + j * mm->n_col_tiles;
            for (size_t o = 0; o < n_out; o++) {
                gd[o] = mm->ref_digital ? gp[o] : gp[o] - gr[o / tile_cols];
                gs[o] = gp[o] * gp[o];
            }
            continue;
        }
        const float *gn = read_family(mm, 2 * c + 1) + j * n_out;
        for (size_t o = 0; o < n_out; o++) {
            gd[o] = gp[o] - gn[o];
            gs[o] = gp[o] * gp[o] + gn[o] * gn[o];
        }
    }
}

void mx_matmul_destroy(mx_matmul *mm)
{
    if (!mm)
        return;
    mx_free(mm->g_block);
    mx_free(mm->eff_block);
    mx_free(mm->rd_block);
    mx_free(mm->g_row_sum);
    mx_free(mm->corr_gain);
    mx_free(mm->corr_offset);
    mx_free(mm->drift_ref);
    mx_free(mm->g_fresh);
    mx_free(mm->w_target);
    mx_free(mm->fault_block);
    mx_free(mm->row_of);
    mx_free(mm->col_of);
    mx_adc_release(&mm->adc);
    mx_free(mm);
}

/* ---- mapping ----------------------------------------------------------------- */

/* Targets of family f in input row j, OUT t (fam_cols(f)), S. */
static void row_targets(const mx_matmul *mm, const float *w, size_t j, size_t f, float *t)
{
    const size_t n_in = mm->n_in, n_out = mm->n_out;
    const double g_min = mm->dev.g_min_s, g_max = mm->dev.g_max_s, window = g_max - g_min;
    const double w_max = mm->map.w_abs_max;
    switch (mm->xbar.mapping) {
    case MX_MAPPING_OFFSET: {
        const double g_mid = 0.5 * (g_min + g_max), s = mm->map.siemens_per_unit;
        if (f == 1) {
            for (size_t ct = 0; ct < mm->n_col_tiles; ct++)
                t[ct] = (float)g_mid;
            return;
        }
        for (size_t o = 0; o < n_out; o++)
            t[o] = (float)(g_mid + (double)w[o * n_in + j] * s);
        return;
    }
    case MX_MAPPING_BIT_SLICED: {
        const int b = mm->xbar.slice_bits, neg = (int)(f & 1);
        const size_t slice = f / 2;
        const double q_max = ldexp(1.0, mm->xbar.slices * b) - 1.0;
        const uint64_t digit_mask = ((uint64_t)1 << b) - 1;
        const double g_per_digit = window / (double)digit_mask;
        for (size_t o = 0; o < n_out; o++) {
            const double wv = (double)w[o * n_in + j];
            uint64_t d = 0;
            if (neg ? wv < 0.0 : wv > 0.0) {
                const uint64_t q = (uint64_t)nearbyint(fabs(wv) / w_max * q_max);
                d = (q >> ((unsigned)b * slice)) & digit_mask;
            }
            t[o] = (float)(g_min + (double)d * g_per_digit);
        }
        return;
    }
    case MX_MAPPING_DIFFERENTIAL:
    default: {
        const double spu = mm->map.siemens_per_unit;
        for (size_t o = 0; o < n_out; o++) {
            const double wv = (double)w[o * n_in + j];
            t[o] = (float)(g_min + (f == 0 ? (wv > 0.0 ? wv * spu : 0.0)
                                           : (wv < 0.0 ? -wv * spu : 0.0)));
        }
        return;
    }
    }
}

/* A cell gets a SET write iff its target, on the device's levels, is above
 * the erased state g_min. */
static int needs_write(const mx_device_params *p, float target)
{
    return (float)mx_device_quantise(p, (double)target) > (float)p->g_min_s;
}

/* Half-select bookkeeping: writes per (input row, column tile) and per
 * (row tile, family, column). */
typedef struct write_counts {
    uint32_t *row;  /* (n_in, n_col_tiles) */
    uint32_t *col;  /* (n_row_tiles, n_fam, n_out) */
} write_counts;

static mx_status count_writes(const mx_matmul *mm, const float *w, write_counts *wc)
{
    const size_t n_out = mm->n_out, tile_rows = mm->xbar.tile_rows;
    const size_t tile_cols = mm->xbar.tile_cols;
    wc->row = mx_calloc(mx_size_mul(mm->n_in, mm->n_col_tiles), sizeof(uint32_t));
    wc->col = mx_calloc(mx_size_mul(mm->n_row_tiles * mm->n_fam, n_out), sizeof(uint32_t));
    float *t = mx_alloc(n_out * sizeof(float));
    if (!wc->row || !wc->col || !t) {
        mx_free(t);
        return mx_fail(MX_ENOMEM, "analog matmul: out of memory for half-select counts");
    }
    for (size_t j = 0; j < mm->n_in; j++) {
        const size_t rt = j / tile_rows;
        for (size_t f = 0; f < mm->n_fam; f++) {
            const size_t cols = fam_cols(mm, f);
            row_targets(mm, w, j, f, t);
            uint32_t *col = wc->col + (rt * mm->n_fam + f) * n_out;
            const int is_ref = mm->offset && f == 1;
            for (size_t c = 0; c < cols; c++) {
                if (!needs_write(&mm->dev, t[c]))
                    continue;
                const size_t ct = is_ref ? c : c / tile_cols;
                wc->row[j * mm->n_col_tiles + ct]++;
                col[c]++;
            }
        }
    }
    mx_free(t);
    return MX_OK;
}

/* Program n cells of family f, row j (targets t, OUT g) keeping their
 * records, then give each the half-select trains of the writes around it.
 * Draws as mx_device_program (populate and program per chunk) from `rng`;
 * the pulses from `hs_rng`. */
static void program_disturbed(const mx_matmul *mm, const write_counts *wc, size_t j, size_t f,
                              const float *t, float *g, size_t n, mx_rng *rng, mx_rng *hs_rng)
{
    const mx_device_type *type = mm->device;
    const mx_device_params *p = &mm->dev;
    const size_t tile_cols = mm->xbar.tile_cols, rt = j / mm->xbar.tile_rows;
    const uint32_t *row = wc->row + j * mm->n_col_tiles;
    const uint32_t *col = wc->col + (rt * mm->n_fam + f) * mm->n_out;
    const float amplitude = (float)(0.5 * p->pulse.v_ltp_v);
    const float width = (float)((double)mm->xbar.write_pulses * p->pulse.width_ltp_s);
    const int is_ref = mm->offset && f == 1;
    float cells[MM_RECORD_CHUNK * MX_DEVICE_CELL_FLOATS_MAX];
    mx_pulse pulses[MM_RECORD_CHUNK];
    assert(type->cell_floats > 0 && type->cell_floats <= MX_DEVICE_CELL_FLOATS_MAX);
    for (size_t i0 = 0; i0 < n; i0 += MM_RECORD_CHUNK) {
        const size_t m = n - i0 < MM_RECORD_CHUNK ? n - i0 : MM_RECORD_CHUNK;
        type->populate(p, cells, m, rng);
        type->program(p, cells, t + i0, g + i0, m, rng);
        for (size_t i = 0; i < m; i++) {
            const size_t c = i0 + i, ct = is_ref ? c : c / tile_cols;
            const uint32_t own = (uint32_t)needs_write(p, t[c]);
            /* The cell's own write is in both its row's and its column's count. */
            const uint32_t k = row[ct] + col[c] - 2 * own;
            pulses[i] = (mx_pulse){.count = (int32_t)k, .amplitude_v = amplitude, .width_s = width};
        }
        type->pulse(p, cells, g + i0, pulses, m, hs_rng);
    }
}

/* ---- wires ------------------------------------------------------------------- */

/* One tile as the circuit of crossbar/circuit.h: its input rows drive the
 * circuit's rows; its physical columns are, output by output, every
 * per-output family in order (the pair G+, G−; each slice's pair; the offset
 * cell), then the offset mapping's reference column. The programmed
 * conductances go in, the tile's effective conductances (the transfer
 * matrix of the chosen irdrop mode) come out into mm->eff. */
static mx_status tile_wires(mx_matmul *mm, size_t rt, size_t ct)
{
    const size_t tr = mm->xbar.tile_rows, tc = mm->xbar.tile_cols;
    const size_t r0 = rt * tr, rows = r0 + tr <= mm->n_in ? tr : mm->n_in - r0;
    const size_t o0 = ct * tc, outs = o0 + tc <= mm->n_out ? tc : mm->n_out - o0;
    const size_t per_out = mm->offset ? 1 : mm->n_fam;
    const size_t cols = outs * per_out + (mm->offset ? 1 : 0);
    float *g = mx_alloc(2 * rows * cols * sizeof(float));
    if (!g)
        return mx_fail(MX_ENOMEM, "analog matmul: out of memory for a %zu x %zu tile circuit",
                       rows, cols);
    float *ge = g + rows * cols;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < rows; i++) {
            const size_t j = r0 + i;
            float *gr = (pass ? ge : g) + i * cols;
            for (size_t o = 0; o < outs; o++)
                for (size_t f = 0; f < per_out; f++) {
                    float *a = (pass ? mm->eff[f] : mm->fam[f]) + j * mm->n_out + o0 + o;
                    if (pass)
                        *a = gr[o * per_out + f];
                    else
                        gr[o * per_out + f] = *a;
                }
            if (mm->offset) {
                float *a = (pass ? mm->eff[1] : mm->fam[1]) + j * mm->n_col_tiles + ct;
                if (pass)
                    *a = gr[cols - 1];
                else
                    gr[cols - 1] = *a;
            }
        }
        if (pass)
            break;
        mx_circuit_params cp;
        mx_circuit_params_default(&cp);
        cp.rows = rows;
        cp.cols = cols;
        cp.r_row_ohm = mm->xbar.r_row_ohm + mm->xbar.r_wire_ohm;
        cp.r_col_ohm = mm->xbar.r_col_ohm + mm->xbar.r_wire_ohm;
        cp.r_src_ohm = mm->xbar.r_src_ohm;
        cp.r_sense_ohm = mm->xbar.r_sense_ohm;
        cp.r_access_ohm = mm->xbar.r_access_ohm;
        cp.cell = MX_CELL_LINEAR;
        cp.sweeps = mm->xbar.irdrop_sweeps;
        mx_status st = mx_circuit_effective_conductance(&cp, mm->xbar.irdrop, g, rows, cols, ge);
        if (st) {
            mx_free(g);
            return st;
        }
    }
    mx_free(g);
    return MX_OK;
}

/* Every tile through its circuit, tiles in parallel (each its own circuit
 * object; the solve is deterministic, so the result does not depend on the
 * thread count). */
static mx_status apply_wires(mx_matmul *mm)
{
    const size_t n_tiles = mm->n_row_tiles * mm->n_col_tiles;
    mx_status status = MX_OK;
    int failed = 0;
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t t = 0; t < n_tiles; t++) {
        int stop;
#pragma omp atomic read
        stop = failed;
        if (stop)
            continue;
        mx_status st = tile_wires(mm, t / mm->n_col_tiles, t % mm->n_col_tiles);
        if (st) {
#pragma omp critical(mx_matmul_wires)
            if (!failed) {
                failed = 1;
                status = st;
            }
        }
    }
    return status;
}

/* ---- programming ------------------------------------------------------------ */

/* The write-verify settings in use: the fields whose 0 is not a value of
 * their own take mx_wv_config_default's (crossbar.h). OUT: *out. */
static void resolve_wv_config(const mx_wv_config *c, mx_wv_config *out)
{
    mx_wv_config d;
    mx_wv_config_default(&d);
    *out = *c;
    if (out->tolerance == 0.0)
        out->tolerance = d.tolerance;
    if (out->max_iterations == 0)
        out->max_iterations = d.max_iterations;
    if (out->max_pulses_per_iteration == 0)
        out->max_pulses_per_iteration = d.max_pulses_per_iteration;
    if (out->gain == 0.0)
        out->gain = d.gain;
}

/* Everything the rows of one programming share (items of mx_parallel_items). */
typedef struct program_ctx {
    mx_matmul *mm;
    const float *w;
    const write_counts *wc;     /* half-select counts, or NULL */
    const mx_wv_config *wv;     /* resolved write-verify settings with their step
                                   priors, or NULL for open loop */
    uint64_t seed;
    uint32_t layer_id;
    uint32_t stream, age_stream, hs_stream, wv_stream;
    int defer_age;              /* age in a pass of its own (age_row) after the drift
                                   reference has been read */
    double age_s;               /* age the cells to this time since their programming:
                                   the schedule's age_s, or mx_matmul_set_age's */
    int price_writes;           /* open loop: price one nominal pulse per cell
                                   (scheduled reprogramming on a pulse model) */
    mx_programming_stats *row_stats; /* (n_in) */
    int fm;                     /* fault-aware mapping: rows are physical, written in
                                   the planned layout (program_row_mapped) */
    uint32_t spare_stream;      /* the spare columns' cells ("crossbar.spare_columns") */
    mx_fault_map_stats *fm_row; /* (n_in) the cell test's cost per row, or NULL */
} program_ctx;

/* Per-thread scratch: one row's cell records for write-verify. */
static size_t fm_scratch_floats(const mx_matmul *mm, int records);

static mx_status program_state_create(const void *ctx, void **state)
{
    const program_ctx *c = ctx;
    *state = NULL;
    const size_t cf = c->mm->device->cell_floats;
    if (c->fm) {
        *state = mx_alloc(fm_scratch_floats(c->mm, c->wv != NULL) * sizeof(float));
        return *state ? MX_OK
                      : mx_fail(MX_ENOMEM, "analog matmul: out of memory for a row's layout");
    }
    if (!c->wv || cf == 0)
        return MX_OK;
    /* fam_cols ≤ n_out for every family (the offset reference has n_col_tiles). */
    *state = mx_alloc(mx_size_mul(c->mm->n_out, cf) * sizeof(float));
    return *state ? MX_OK
                  : mx_fail(MX_ENOMEM, "analog matmul: out of memory for %zu cell records",
                            c->mm->n_out);
}

static void program_state_destroy(void *state) { mx_free(state); }

/* The cost of n open-loop writes toward t priced as one nominal potentiating
 * pulse each, |V·I(g_target, V)|·width (the pulse energy of
 * devices/write_verify.c at the target), into *ps: what a reprogramming
 * costs when the schedule needs a number for open loop. */
static void price_open_loop_writes(const mx_matmul *mm, const float *t, size_t n,
                                   mx_programming_stats *ps)
{
    const double v = mm->dev.pulse.v_ltp_v, width = mm->dev.pulse.width_ltp_s;
    double e = 0.0;
    for (size_t k = 0; k < n; k++)
        e += fabs(v * mx_device_current(&mm->dev, (double)t[k], v)) * width;
    ps->write_priced += n;
    ps->write_energy_j += e;
    ps->write_time_s += (double)n * width;
}

/* Write n fresh cells open-loop toward t keeping their records (draws as
 * mx_device_program), then write-verify them toward t with `wv_seed`;
 * the cost into *ps. OUT: g (n). MX_EINVAL, MX_ENOMEM from mx_wv_init. */
static mx_status program_verified(const mx_matmul *mm, const mx_wv_config *cfg, const float *t,
                                  float *g, size_t n, mx_rng *rng, uint64_t wv_seed,
                                  float *cells, mx_programming_stats *ps)
{
    const mx_device_type *type = mm->device;
    const mx_device_params *p = &mm->dev;
    const size_t cf = type->cell_floats;
    if (cf == 0)
        type->program(p, NULL, t, g, n, rng);
    for (size_t i0 = 0; cf && i0 < n; i0 += MM_PROGRAM_CHUNK) {
        const size_t m = n - i0 < MM_PROGRAM_CHUNK ? n - i0 : MM_PROGRAM_CHUNK;
        type->populate(p, cells + i0 * cf, m, rng);
        type->program(p, cells + i0 * cf, t + i0, g + i0, m, rng);
    }
    mx_wv *wv = NULL;
    mx_status st = mx_wv_init(cfg, type, p, cf ? cells : NULL, g, t, n, wv_seed, &wv);
    if (st)
        return st;
    mx_wv_totals tot;
    mx_wv_run(wv, &tot);
    mx_wv_destroy(wv);
    ps->verified += tot.cells;
    ps->converged += tot.converged;
    ps->pulses += (uint64_t)tot.pulses;
    ps->verify_reads += (uint64_t)tot.reads;
    ps->time_serial_s += tot.time_serial_s;
    ps->energy_j += tot.energy_pulse_j + tot.energy_read_j;
    return MX_OK;
}

/* Program input row j: every family's cells, then ageing, then (without
 * wires) the row's read arrays. Row j of the crossbar holds input j's
 * weights to every output. Each row draws from its own stream items, so
 * rows program in any order. The targets of family f are written to row j
 * of read array f first (rows of the read arrays are scratch until
 * derive_read_row; there are at least as many read arrays as families), so
 * ageing sees them without an allocation; programming reads them back
 * unchanged. */
static mx_status program_row_mapped(const program_ctx *c, float *scratch, size_t p);

static mx_status program_row(const void *ctx, void *state, size_t j)
{
    const program_ctx *c = ctx;
    if (c->fm)
        return program_row_mapped(c, state, j);
    mx_matmul *mm = c->mm;
    const size_t n_out = mm->n_out, cells = mm->n_in * n_out;
    const uint64_t item = ((uint64_t)c->layer_id << 32) | (uint64_t)j;
    const double t_s = c->age_s;
    const int ages = mm->device->age && t_s > 0.0;
    const double inv_window = 1.0 / (mm->dev.g_max_s - mm->dev.g_min_s);
    mx_programming_stats *ps = &c->row_stats[j];
    mx_rng rng, age_rng, hs_rng, wv_rng;
    mx_rng_init(&rng, c->seed, c->stream, item);
    /* Drift, accumulated noise, disturb and verification from streams of
     * their own, so programming draws stay as they were. */
    mx_rng_init(&age_rng, c->seed, c->age_stream, item);
    mx_rng_init(&hs_rng, c->seed, c->hs_stream, item);
    mx_rng_init(&wv_rng, c->seed, c->wv_stream, item);
    for (size_t f = 0; f < mm->n_fam; f++) {
        const size_t cols = fam_cols(mm, f);
        float *t = mm->rd_block + f * cells + j * n_out; /* this row's scratch */
        float *g = mm->fam[f] + j * cols;
        row_targets(mm, c->w, j, f, t);
        if (c->wc) {
            program_disturbed(mm, c->wc, j, f, t, g, cols, &rng, &hs_rng);
        } else if (c->wv) {
            const uint64_t hi = mx_rng_u32(&wv_rng), lo = mx_rng_u32(&wv_rng);
            mx_status st = program_verified(mm, c->wv, t, g, cols, &rng, hi << 32 | lo, state, ps);
            if (st)
                return st;
        } else {
            mx_device_program(mm->device, &mm->dev, t, g, cols, &rng);
            if (c->price_writes)
                price_open_loop_writes(mm, t, cols, ps);
        }
        ps->cells += cols;
        for (size_t k = 0; k < cols; k++) {
            const double e = ((double)g[k] - (double)t[k]) * inv_window;
            ps->sq_error += e * e;
        }
        if (ages && !c->defer_age)
            mm->device->age(&mm->dev, t, g, g, cols, t_s, &age_rng);
    }
    if (!mm->eff_block)
        derive_read_row(mm, j);
    return MX_OK;
}

/* ---- fault-aware mapping (hardware.fault_mapping; crossbar/fault_map.c) -------- */

/* Cells of family f in one physical row: the per-output families have
 * fm_cols (the regular columns, then every column tile's spares); the
 * offset reference its n_col_tiles. */
static size_t fm_width(const mx_matmul *mm, size_t f)
{
    return mm->offset && f == 1 ? mm->n_col_tiles : mm->fm_cols;
}

/* One row's scratch: [cell records (fm_cols·cell_floats) when write-verify
 * keeps them] logical targets (n_fam·n_out), physical targets and
 * conductances (n_fam·fm_cols each). */
static size_t fm_scratch_floats(const mx_matmul *mm, int records)
{
    const size_t rec = records ? mm->fm_cols * mm->device->cell_floats : 0;
    return rec + mm->n_fam * (mm->n_out + 2 * mm->fm_cols);
}

/* Physical row p's targets in the planned layout, OUT tphys (n_fam·fm_cols;
 * family f at f·fm_cols): logical row row_of[p]'s targets (scratch tlog,
 * n_fam·n_out) placed by col_of, unused physical columns left erased at
 * g_min, then (partner) each pair with one stuck cell compensated. */
static void fm_row_targets(const program_ctx *c, size_t p, float *tlog, float *tphys)
{
    const mx_matmul *mm = c->mm;
    const size_t n_out = mm->n_out, pc = mm->fm_cols, l = mm->row_of[p];
    for (size_t f = 0; f < mm->n_fam; f++) {
        const float *tl = tlog + f * n_out;
        float *t = tphys + f * pc;
        row_targets(mm, c->w, l, f, tlog + f * n_out);
        if (mm->offset && f == 1) {
            memcpy(t, tl, mm->n_col_tiles * sizeof(float));
            continue;
        }
        for (size_t q = 0; q < pc; q++)
            t[q] = mm->col_of[q] != SIZE_MAX ? tl[mm->col_of[q]] : (float)mm->dev.g_min_s;
    }
    if (mm->xbar.fault_map.mode != MX_FAULT_MAP_PARTNER)
        return;
    const mx_fm_layout bounds = {.g_min_s = mm->dev.g_min_s, .g_max_s = mm->dev.g_max_s};
    for (size_t ch = 0; ch < mm->n_ch; ch++) {
        const unsigned char *fp = mm->fault[2 * ch] + p * pc, *fn = mm->fault[2 * ch + 1] + p * pc;
        float *tp = tphys + 2 * ch * pc, *tn = tphys + (2 * ch + 1) * pc;
        for (size_t q = 0; q < pc; q++)
            if (fp[q] || fn[q])
                mx_fm_compensate(&bounds, &tp[q], &tn[q], fp[q], fn[q]);
    }
}

/* Scatter physical row p's conductances gphys into the logical arrays. */
static void fm_scatter(mx_matmul *mm, size_t p, const float *gphys)
{
    const size_t n_out = mm->n_out, pc = mm->fm_cols, l = mm->row_of[p];
    for (size_t f = 0; f < mm->n_fam; f++) {
        const float *g = gphys + f * pc;
        if (mm->offset && f == 1) {
            memcpy(mm->fam[1] + l * mm->n_col_tiles, g, mm->n_col_tiles * sizeof(float));
            continue;
        }
        for (size_t q = 0; q < pc; q++)
            if (mm->col_of[q] != SIZE_MAX)
                mm->fam[f][l * n_out + mm->col_of[q]] = g[q];
    }
}

/* Program physical row p (stream item p: the physical cells' own draws)
 * with the planned layout: the regular columns of every family from
 * "device.program" as without fault mapping, then the spare columns of
 * every family from "crossbar.spare_columns"; write-verify draws its seeds
 * from "crossbar.write_verify" in that order. Then ageing (physical order,
 * "device.age"), the scatter to logical row row_of[p] and its read arrays. */
static mx_status program_row_mapped(const program_ctx *c, float *scratch, size_t p)
{
    mx_matmul *mm = c->mm;
    const size_t pc = mm->fm_cols, n_reg = mm->n_out, n_spare = pc - n_reg;
    const size_t rec = c->wv ? pc * mm->device->cell_floats : 0;
    float *tlog = scratch + rec, *tphys = tlog + mm->n_fam * mm->n_out;
    float *gphys = tphys + mm->n_fam * pc;
    const uint64_t item = ((uint64_t)c->layer_id << 32) | (uint64_t)p;
    const double t_s = c->age_s;
    const int ages = mm->device->age && t_s > 0.0;
    const double inv_window = 1.0 / (mm->dev.g_max_s - mm->dev.g_min_s);
    mx_programming_stats *ps = &c->row_stats[p];
    mx_rng rng, spare_rng, age_rng, wv_rng;
    mx_rng_init(&rng, c->seed, c->stream, item);
    mx_rng_init(&spare_rng, c->seed, c->spare_stream, item);
    mx_rng_init(&age_rng, c->seed, c->age_stream, item);
    mx_rng_init(&wv_rng, c->seed, c->wv_stream, item);
    fm_row_targets(c, p, tlog, tphys);
    for (int part = 0; part < 2; part++) { /* regular columns, then spares */
        for (size_t f = 0; f < mm->n_fam; f++) {
            const int is_ref = mm->offset && f == 1;
            const size_t q0 = part ? n_reg : 0;
            const size_t n = is_ref ? (part ? 0 : mm->n_col_tiles) : (part ? n_spare : n_reg);
            if (n == 0)
                continue;
            const float *t = tphys + f * pc + q0;
            float *g = gphys + f * pc + q0;
            mx_rng *r = part ? &spare_rng : &rng;
            if (c->wv) {
                const uint64_t hi = mx_rng_u32(&wv_rng), lo = mx_rng_u32(&wv_rng);
                mx_status st = program_verified(mm, c->wv, t, g, n, r, hi << 32 | lo, scratch, ps);
                if (st)
                    return st;
            } else {
                mx_device_program(mm->device, &mm->dev, t, g, n, r);
                if (c->price_writes)
                    price_open_loop_writes(mm, t, n, ps);
            }
        }
    }
    for (size_t f = 0; f < mm->n_fam; f++) {
        const size_t width = fm_width(mm, f);
        const int is_ref = mm->offset && f == 1;
        const float *t = tphys + f * pc;
        float *g = gphys + f * pc;
        for (size_t q = 0; q < width; q++) {
            if (!is_ref && mm->col_of[q] == SIZE_MAX)
                continue; /* an unused cell holds no weight */
            const double e = ((double)g[q] - (double)t[q]) * inv_window;
            ps->sq_error += e * e;
            ps->cells++;
        }
        if (ages && !c->defer_age)
            mm->device->age(&mm->dev, t, g, g, width, t_s, &age_rng);
    }
    fm_scatter(mm, p, gphys);
    if (!mm->eff_block)
        derive_read_row(mm, mm->row_of[p]);
    return MX_OK;
}

/* The deferred ageing of physical row p: the same targets, cells in the
 * same physical order and the same stream item as program_row_mapped's
 * inline ageing. Unused cells are aged too (their draws keep the others'
 * aligned) from their target, and dropped. */
static mx_status age_row_mapped(const program_ctx *c, float *scratch, size_t p)
{
    mx_matmul *mm = c->mm;
    const size_t pc = mm->fm_cols, n_out = mm->n_out, l = mm->row_of[p];
    float *tlog = scratch, *tphys = tlog + mm->n_fam * n_out, *gphys = tphys + mm->n_fam * pc;
    mx_rng age_rng;
    mx_rng_init(&age_rng, c->seed, c->age_stream, ((uint64_t)c->layer_id << 32) | (uint64_t)p);
    fm_row_targets(c, p, tlog, tphys);
    for (size_t f = 0; f < mm->n_fam; f++) {
        const size_t width = fm_width(mm, f);
        float *g = gphys + f * pc;
        const float *t = tphys + f * pc;
        if (mm->offset && f == 1)
            memcpy(g, mm->fam[1] + l * mm->n_col_tiles, width * sizeof(float));
        else
            for (size_t q = 0; q < width; q++)
                g[q] = mm->col_of[q] != SIZE_MAX ? mm->fam[f][l * n_out + mm->col_of[q]] : t[q];
        mm->device->age(&mm->dev, t, g, g, width, c->age_s, &age_rng);
    }
    fm_scatter(mm, p, gphys);
    if (!mm->eff_block)
        derive_read_row(mm, l);
    return MX_OK;
}

/* Per-thread scratch of the test: both patterns' conductances of one row. */
static mx_status fm_test_state_create(const void *ctx, void **state)
{
    const program_ctx *c = ctx;
    *state = mx_alloc(mx_size_mul(4 * c->mm->n_fam, c->mm->fm_cols) * sizeof(float));
    return *state ? MX_OK : mx_fail(MX_ENOMEM, "analog matmul: out of memory for the cell test");
}

/* Test physical row p: every cell written to g_max and read, written to
 * g_min and read. The writes replay the row's programming streams (the
 * same physical cells, draw for draw: "device.program" for the regular
 * columns, "crossbar.spare_columns" for the spares, families in order), so
 * a cell found stuck here is stuck when the weights are written; the reads
 * draw their noise from "crossbar.fault_test", same item. Stuck low: reads
 * below the window's middle after the g_max write; stuck high: above it
 * after the g_min write. The cost into fm_row[p]. */
static mx_status fm_test_row(const void *ctx, void *state, size_t p)
{
    const program_ctx *c = ctx;
    mx_matmul *mm = c->mm;
    const mx_device_params *dp = &mm->dev;
    const size_t pc = mm->fm_cols, n_reg = mm->n_out, n_spare = pc - n_reg;
    const size_t plane = mm->n_fam * pc;
    float *tgt = state, *g = tgt + plane, *rd = g + plane;
    const uint64_t item = ((uint64_t)c->layer_id << 32) | (uint64_t)p;
    const double g_mid = 0.5 * (dp->g_min_s + dp->g_max_s), v_r = dp->iv.v_read_v;
    mx_fault_map_stats *fs = &c->fm_row[p];
    mx_rng read_rng;
    mx_rng_init(&read_rng, c->seed, mx_stream_id("crossbar.fault_test"), item);
    for (int high = 1; high >= 0; high--) {
        const double v_w = high ? dp->pulse.v_ltp_v : dp->pulse.v_ltd_v;
        const double w_s = high ? dp->pulse.width_ltp_s : dp->pulse.width_ltd_s;
        mx_rng rng, spare_rng;
        mx_rng_init(&rng, c->seed, c->stream, item);
        mx_rng_init(&spare_rng, c->seed, c->spare_stream, item);
        for (size_t i = 0; i < plane; i++)
            tgt[i] = (float)(high ? dp->g_max_s : dp->g_min_s);
        for (int part = 0; part < 2; part++)
            for (size_t f = 0; f < mm->n_fam; f++) {
                const int is_ref = mm->offset && f == 1;
                const size_t q0 = part ? n_reg : 0;
                const size_t n = is_ref ? (part ? 0 : mm->n_col_tiles) : (part ? n_spare : n_reg);
                if (n)
                    mx_device_program(mm->device, dp, tgt + f * pc + q0, g + f * pc + q0, n,
                                      part ? &spare_rng : &rng);
            }
        for (size_t f = 0; f < mm->n_fam; f++) {
            const size_t width = fm_width(mm, f);
            unsigned char *fault = mm->fault[f] + p * width;
            mm->device->read(dp, g + f * pc, rd + f * pc, width, &read_rng);
            for (size_t q = 0; q < width; q++) {
                const double gr = (double)rd[f * pc + q];
                if (high && gr < g_mid)
                    fault[q] = MX_FM_STUCK_LOW;
                else if (!high && gr > g_mid && !fault[q])
                    fault[q] = MX_FM_STUCK_HIGH;
                fs->energy_j += fabs(v_w * mx_device_current(dp, (double)g[f * pc + q], v_w)) * w_s +
                                fabs(v_r * mx_device_current(dp, gr, v_r)) * dp->read_time_s;
            }
            fs->cells_tested += high ? width : 0;
            fs->test_writes += width;
            fs->test_reads += width;
            fs->time_serial_s += (double)width * (w_s + dp->read_time_s);
        }
    }
    for (size_t f = 0; f < mm->n_fam; f++) {
        const size_t width = fm_width(mm, f);
        const unsigned char *fault = mm->fault[f] + p * width;
        for (size_t q = 0; q < width; q++) {
            fs->stuck_low += fault[q] == MX_FM_STUCK_LOW;
            fs->stuck_high += fault[q] == MX_FM_STUCK_HIGH;
        }
    }
    return MX_OK;
}

/* Test every cell, plan the layout (crossbar/fault_map.c) and keep the
 * cost. The read arrays, scratch until derive_read_row, hold the logical
 * targets the planner needs (2·n_ch arrays of n_in·n_out: one per family). */
static mx_status fm_test_and_plan(mx_matmul *mm, const program_ctx *pc)
{
    const size_t n_in = mm->n_in, n_out = mm->n_out, cells = n_in * n_out;
    mx_fault_map_stats *row = mx_calloc(n_in, sizeof *row);
    if (!row)
        return mx_fail(MX_ENOMEM, "analog matmul: out of memory for the cell test");
    program_ctx tc = *pc;
    tc.fm_row = row;
    static const mx_parallel_ops ops = {fm_test_state_create, program_state_destroy, fm_test_row};
    mx_status st = mx_parallel_items(&ops, &tc, n_in, MM_PROGRAM_ROWS_PER_CHUNK, NULL);
    mx_fault_map_stats *fs = &mm->fm_stats;
    *fs = (mx_fault_map_stats){0};
    for (size_t j = 0; j < n_in && !st; j++)
        mx_fault_map_stats_add(fs, &row[j]);
    mx_free(row);
    if (st)
        return st;
    const float *target[MM_MAX_FAMILIES];
    double ch_scale[MM_MAX_CHANNELS];
    for (size_t f = 0; f < mm->n_fam; f++) {
        float *t = mm->rd_block + f * cells;
        for (size_t j = 0; j < n_in; j++)
            row_targets(mm, pc->w, j, f, t + j * n_out);
        target[f] = t;
    }
    for (size_t ch = 0; ch < mm->n_ch; ch++) {
        if (mm->xbar.mapping == MX_MAPPING_BIT_SLICED) {
            const int b = mm->xbar.slice_bits;
            ch_scale[ch] = (ldexp(1.0, b) - 1.0) * mm->ch_weight[ch] /
                           (ldexp(1.0, mm->xbar.slices * b) - 1.0);
        } else {
            ch_scale[ch] = mm->offset ? 2.0 : 1.0;
        }
    }
    const mx_fm_layout L = {
        .n_in = n_in,
        .n_out = n_out,
        .n_ch = mm->n_ch,
        .offset = mm->offset,
        .tile_rows = mm->xbar.tile_rows,
        .tile_cols = mm->xbar.tile_cols,
        .n_col_tiles = mm->n_col_tiles,
        .spares = mm->fm_spares,
        .g_min_s = mm->dev.g_min_s,
        .g_max_s = mm->dev.g_max_s,
        .ch_scale = ch_scale,
        .target = target,
        .fault = (const unsigned char *const *)mm->fault,
    };
    st = mx_fm_plan(&L, mm->xbar.fault_map.mode, mm->row_of, mm->col_of, &fs->sq_error_before,
                    &fs->sq_error_after, &fs->moved);
    fs->weights = (uint64_t)cells;
    fs->spare_cells = (uint64_t)(n_in * (mm->fm_cols - n_out) * (mm->offset ? 1 : mm->n_fam));
    return st;
}

/* Per-thread scratch of the deferred ageing pass: one family row's targets. */
static mx_status age_state_create(const void *ctx, void **state)
{
    const program_ctx *c = ctx;
    *state = mx_alloc((c->fm ? fm_scratch_floats(c->mm, 0) : c->mm->n_out) * sizeof(float));
    return *state ? MX_OK : mx_fail(MX_ENOMEM, "analog matmul: out of memory for ageing");
}

/* Age input row j to c->age_s after the drift reference was read: the
 * same targets, the same stream item and the same families in the same
 * order as program_row's inline ageing, so the aged cells are the bits
 * program_row would have made. */
static mx_status age_row(const void *ctx, void *state, size_t j)
{
    const program_ctx *c = ctx;
    mx_matmul *mm = c->mm;
    float *t = state;
    if (c->fm)
        return age_row_mapped(c, t, j);
    mx_rng age_rng;
    mx_rng_init(&age_rng, c->seed, c->age_stream, ((uint64_t)c->layer_id << 32) | (uint64_t)j);
    for (size_t f = 0; f < mm->n_fam; f++) {
        const size_t cols = fam_cols(mm, f);
        float *g = mm->fam[f] + j * cols;
        row_targets(mm, c->w, j, f, t);
        mm->device->age(&mm->dev, t, g, g, cols, c->age_s, &age_rng);
    }
    if (!mm->eff_block)
        derive_read_row(mm, j);
    return MX_OK;
}

/* The drift reference (crossbar.h): the calibration vectors read through
 * the forward path right after programming, with read noise and an exact
 * conversion standing in for the ADC, whose range is not set yet. */
static mx_status measure_drift_reference(mx_matmul *mm)
{
    const size_t n_vec = (size_t)mm->xbar.drift.vectors;
    mx_adc_config exact;
    mx_adc_config_default(&exact);
    exact.kind = MX_ADC_NONE;
    mx_status st = mx_adc_init(&mm->adc, &exact, 1.0);
    if (st)
        return st;
    mm->adc_ready = 1;
    mx_matmul_work *w = NULL;
    float *x = mx_alloc(mm->n_in * sizeof(float)), *y = mx_alloc(mm->n_out * sizeof(float));
    mm->drift_ref = mx_calloc(mm->n_out, sizeof(double));
    st = x && y && mm->drift_ref
             ? mx_matmul_work_create(mm, &w)
             : mx_fail(MX_ENOMEM, "analog matmul: out of memory for the drift reference");
    const uint32_t stream = mx_stream_id("crossbar.drift_reference");
    mm->drift_stats = (mx_matmul_stats){0};
    for (size_t v = 0; v < n_vec && !st; v++) {
        mx_rng rng;
        mx_rng_init(&rng, mm->seed, stream, ((uint64_t)mm->layer_id << 32) | (uint64_t)v);
        mx_matmul_drift_input(mm, v, x);
        mx_matmul_forward(mm, w, x, y, &rng, &mm->drift_stats, NULL);
        for (size_t o = 0; o < mm->n_out; o++)
            mm->drift_ref[o] += fabs((double)y[o]);
    }
    mm->drift_ref_sum = 0.0;
    for (size_t o = 0; o < mm->n_out && !st; o++)
        mm->drift_ref_sum += mm->drift_ref[o];
    mx_matmul_work_destroy(w);
    mx_free(x);
    mx_free(y);
    mx_adc_release(&mm->adc);
    mm->adc = (mx_adc){0};
    mm->adc_ready = 0;
    return st;
}

/* Age every row from the state in the families to c->age_s (no pass at age
 * 0 or for a model that does not age: the read arrays are re-derived), then
 * the wires and read arrays. */
static mx_status age_array(mx_matmul *mm, const program_ctx *c)
{
    static const mx_parallel_ops age_ops = {age_state_create, program_state_destroy, age_row};
    mx_status st = MX_OK;
    if (mm->device->age && c->age_s > 0.0)
        st = mx_parallel_items(&age_ops, c, mm->n_in, MM_PROGRAM_ROWS_PER_CHUNK, NULL);
    else if (!mm->eff_block)
        for (size_t j = 0; j < mm->n_in; j++)
            derive_read_row(mm, j);
    if (!st && mm->eff_block) {
        st = apply_wires(mm);
        for (size_t j = 0; j < mm->n_in && !st; j++)
            derive_read_row(mm, j);
    }
    return st;
}

static int keeps_fresh_state(const mx_matmul *mm);

static mx_status map_and_program(mx_matmul *mm, const float *w, uint64_t seed, uint32_t layer_id)
{
    const size_t n_in = mm->n_in, n_out = mm->n_out;
    double w_abs_max = 0.0;
    for (size_t i = 0; i < n_out * n_in; i++) {
        if (!isfinite(w[i]))
            return mx_fail(MX_EINVAL, "layer %u weight [%zu, %zu] is not finite (%g)", layer_id,
                           i / n_in, i % n_in, (double)w[i]);
        double a = fabs((double)w[i]);
        if (a > w_abs_max)
            w_abs_max = a;
    }
    if (w_abs_max == 0.0)
        w_abs_max = 1.0; /* an all-zero matrix maps to g_min (offset: g_mid) everywhere */
    const double window = mm->dev.g_max_s - mm->dev.g_min_s;
    mm->map.w_abs_max = w_abs_max;
    mm->map.w_step = 0.0;
    switch (mm->xbar.mapping) {
    case MX_MAPPING_OFFSET:
        mm->map.siemens_per_unit = window / (2.0 * w_abs_max);
        break;
    case MX_MAPPING_BIT_SLICED: {
        const double q_max = ldexp(1.0, mm->xbar.slices * mm->xbar.slice_bits) - 1.0;
        const double digit_max = ldexp(1.0, mm->xbar.slice_bits) - 1.0;
        mm->map.siemens_per_unit = window * q_max / (digit_max * w_abs_max);
        mm->map.w_step = w_abs_max / q_max;
        break;
    }
    case MX_MAPPING_DIFFERENTIAL:
    default:
        mm->map.siemens_per_unit = window / w_abs_max;
        break;
    }

    write_counts wc = {0};
    const int disturb = mm->xbar.half_select == MX_HALF_SELECT_V_HALF;
    if (disturb) {
        mx_status st = count_writes(mm, w, &wc);
        if (st) {
            mx_free(wc.row);
            mx_free(wc.col);
            return st;
        }
    }
    mx_wv_config wv_cfg;
    const int verify = mm->xbar.programming == MX_PROGRAMMING_WRITE_VERIFY;
    if (verify) {
        resolve_wv_config(&mm->xbar.write_verify, &wv_cfg);
        mx_status st = MX_OK;
        if (wv_cfg.step_ltp_frac <= 0.0 || wv_cfg.step_ltd_frac <= 0.0) {
            double ltp = 0.0, ltd = 0.0;
            st = mx_wv_characterise(mm->device, &mm->dev, seed, &ltp, &ltd);
            if (wv_cfg.step_ltp_frac <= 0.0)
                wv_cfg.step_ltp_frac = ltp;
            if (wv_cfg.step_ltd_frac <= 0.0)
                wv_cfg.step_ltd_frac = ltd;
        }
        if (st) {
            mx_free(wc.row);
            mx_free(wc.col);
            return st;
        }
    }
    mx_programming_stats *row_stats = mx_calloc(n_in, sizeof *row_stats);
    if (!row_stats) {
        mx_free(wc.row);
        mx_free(wc.col);
        return mx_fail(MX_ENOMEM, "analog matmul: out of memory for programming statistics");
    }
    const program_ctx pc = {
        .mm = mm,
        .w = w,
        .wc = disturb ? &wc : NULL,
        .wv = verify ? &wv_cfg : NULL,
        .seed = seed,
        .layer_id = layer_id,
        .stream = mx_stream_id("device.program"),
        .age_stream = mx_stream_id("device.age"),
        .hs_stream = mx_stream_id("crossbar.half_select"),
        .wv_stream = mx_stream_id("crossbar.write_verify"),
        .defer_age = mm->xbar.drift.mode != MX_DRIFT_NONE,
        .age_s = mm->sched.age_s,
        .price_writes = !disturb && !verify && mm->xbar.reprogram_every_s > 0.0 &&
                        mm->device->pulse != NULL,
        .row_stats = row_stats,
        .fm = mm->fault_block != NULL,
        .spare_stream = mx_stream_id("crossbar.spare_columns"),
    };
    static const mx_parallel_ops ops = {program_state_create, program_state_destroy,
                                        program_row};
    /* Fault-aware mapping: test the cells and plan the layout first. */
    mx_status st = pc.fm ? fm_test_and_plan(mm, &pc) : MX_OK;
    if (!st)
        st = mx_parallel_items(&ops, &pc, n_in, MM_PROGRAM_ROWS_PER_CHUNK, NULL);
    mm->prog = (mx_programming_stats){0};
    for (size_t j = 0; j < n_in && !st; j++) /* row order: same sums at any thread count */
        mx_programming_stats_add(&mm->prog, &row_stats[j]);
    mx_free(row_stats);
    mx_free(wc.row);
    mx_free(wc.col);
    if (!st && mm->eff_block) {
        st = apply_wires(mm);
        for (size_t j = 0; j < n_in && !st; j++)
            derive_read_row(mm, j);
    }
    if (st || !pc.defer_age)
        return st;
    /* Drift reference: read the fresh array, then age it (and its wires). */
    st = measure_drift_reference(mm);
    if (st || !(mm->device->age && pc.age_s > 0.0))
        return st;
    if (keeps_fresh_state(mm)) {
        const size_t floats = mx_size_mul(mx_size_mul(n_in, n_out), mm->n_fam);
        mm->g_fresh = mx_alloc(floats * sizeof(float));
        if (!mm->g_fresh)
            return mx_fail(MX_ENOMEM, "analog matmul: out of memory for the programmed state");
        memcpy(mm->g_fresh, mm->g_block, floats * sizeof(float));
    }
    return age_array(mm, &pc);
}

/* ---- time schedule (reprogramming, recalibration) ------------------------------ */

/* n = floor(x/τ) and x − n·τ for x ≥ 0, τ > 0, consistent with each other:
 * fmod is exact, so the remainder is never negative and n·τ ≤ x. */
static double schedule_floor(double x, double tau, double *rest)
{
    const double r = fmod(x, tau);
    *rest = r;
    return nearbyint((x - r) / tau);
}

void mx_time_schedule_at(const mx_crossbar_config *xbar, double t_s, mx_time_schedule *out)
{
    const double tau_p = xbar->reprogram_every_s, tau_c = xbar->drift.recalibrate_every_s;
    const int compensates = xbar->drift.mode != MX_DRIFT_NONE;
    mx_time_schedule s = {.t_s = t_s, .age_s = t_s};
    double periods = 0.0;
    if (!(isfinite(t_s) && t_s >= 0.0)) { /* refused by the ageing models' validate */
        *out = s;
        return;
    }
    if (tau_p > 0.0)
        periods = schedule_floor(t_s, tau_p, &s.age_s);
    s.reprogrammings = (uint64_t)periods;
    if (!compensates) {
        *out = s;
        return;
    }
    if (!(tau_c > 0.0)) { /* measured at every evaluation */
        s.recalibrated = 1;
        s.recal_age_s = s.age_s;
        s.recalibrations = 1;
        *out = s;
        return;
    }
    double rest;
    const double k = schedule_floor(s.age_s, tau_c, &rest);
    s.recalibrated = k >= 1.0;
    s.recal_age_s = s.age_s - rest;
    if (!s.recalibrated)
        s.recal_age_s = 0.0;
    /* A full period holds the recalibrations at ages k·τ_c < τ_p: at τ_p the
     * reprogramming (and its new t0 reference) takes the place of one. */
    double per_period = 0.0;
    if (tau_p > 0.0) {
        double r_p;
        per_period = schedule_floor(tau_p, tau_c, &r_p);
        if (r_p == 0.0)
            per_period -= 1.0;
    }
    s.recalibrations = (uint64_t)(periods * per_period + k);
    *out = s;
}

void mx_matmul_time_schedule(const mx_matmul *mm, mx_time_schedule *out) { *out = mm->sched; }

/* The programmed state is kept when a recalibration must read the array at
 * an age before the evaluation's (mx_drift_compensate via mx_matmul_set_age). */
static int keeps_fresh_state(const mx_matmul *mm)
{
    const mx_time_schedule *s = &mm->sched;
    return mm->xbar.drift.mode != MX_DRIFT_NONE && mm->device->age && s->recalibrated &&
           s->recal_age_s > 0.0 && s->recal_age_s < s->age_s;
}

mx_status mx_matmul_set_age(mx_matmul *mm, double age_s)
{
    if (!mm->g_fresh || !mm->w_target)
        return mx_fail(MX_EINVAL,
                       "analog matmul: re-ageing needs the programmed state, kept only when a "
                       "recalibration reads an earlier age than the evaluation's "
                       "(hardware.drift_compensation.recalibrate_every_s)");
    if (!(isfinite(age_s) && age_s >= 0.0))
        return mx_fail(MX_EINVAL, "analog matmul: expected an age >= 0 s, got %g", age_s);
    const program_ctx pc = {
        .mm = mm,
        .w = mm->w_target,
        .seed = mm->seed,
        .layer_id = mm->layer_id,
        .stream = mx_stream_id("device.program"),
        .age_stream = mx_stream_id("device.age"),
        .defer_age = 1,
        .age_s = age_s,
        .fm = mm->fault_block != NULL,
    };
    memcpy(mm->g_block, mm->g_fresh,
           mx_size_mul(mx_size_mul(mm->n_in, mm->n_out), mm->n_fam) * sizeof(float));
    return age_array(mm, &pc);
}

mx_status mx_matmul_create(const float *w, size_t n_out, size_t n_in,
                           const mx_crossbar_config *xbar, const mx_device_type *device,
                           const mx_device_params *device_params, const mx_adc_config *adc,
                           uint64_t seed, uint32_t layer_id, mx_matmul **out)
{
    *out = NULL;
    if (n_out == 0 || n_in == 0)
        return mx_fail(MX_EINVAL, "analog matmul: expected a non-empty matrix, got %zu x %zu",
                       n_out, n_in);
    mx_status st = mx_crossbar_config_validate(xbar);
    if (!st)
        st = device->validate(device_params);
    if (!st)
        st = mx_adc_config_validate(adc);
    if (st)
        return st;
    if (xbar->half_select != MX_HALF_SELECT_OFF &&
        !(device->amplitude_aware && device->pulse && device->populate && device->cell_floats > 0))
        return mx_fail(MX_EINVAL,
                       "hardware.crossbar.half_select: device '%s' has no amplitude-dependent "
                       "pulse response; use binary, linear-ion-drift or vteam",
                       device->name);
    if (xbar->programming == MX_PROGRAMMING_WRITE_VERIFY) { /* the mode itself: validated */
        if (!device->pulse)
            return mx_fail(MX_EINVAL,
                           "hardware.programming.mode: write-verify needs a device model with a "
                           "pulse response; device '%s' has none (use open-loop, or a pulse-level "
                           "model such as nonlinear or step)",
                           device->name);
        if (xbar->half_select != MX_HALF_SELECT_OFF)
            return mx_fail(MX_EINVAL,
                           "hardware.programming.mode: write-verify with "
                           "hardware.crossbar.half_select v-half is not modelled (each verify "
                           "train would disturb its row and column too); use half_select off");
        mx_wv_config wv;
        resolve_wv_config(&xbar->write_verify, &wv);
        st = mx_wv_config_validate(&wv);
        if (st)
            return mx_fail_context(st, "hardware.programming");
    }
    const mx_fault_map_mode fm_mode = xbar->fault_map.mode;
    if (fm_mode != MX_FAULT_MAP_NONE && xbar->half_select != MX_HALF_SELECT_OFF)
        return mx_fail(MX_EINVAL,
                       "hardware.fault_mapping.mode: fault-aware mapping with "
                       "hardware.crossbar.half_select v-half is not modelled (the test writes "
                       "would disturb too); use half_select off");
    if (fm_mode == MX_FAULT_MAP_PARTNER && xbar->mapping == MX_MAPPING_OFFSET)
        return mx_fail(MX_EINVAL,
                       "hardware.fault_mapping.mode: partner needs a differential or bit-sliced "
                       "mapping (the offset mapping's cells have no partner); use permute or "
                       "spare-columns");
    if ((fm_mode == MX_FAULT_MAP_PERMUTE || fm_mode == MX_FAULT_MAP_SPARE_COLUMNS) &&
        mx_crossbar_has_wires(xbar))
        return mx_fail(MX_EINVAL,
                       "hardware.fault_mapping.mode: %s with wire resistances is not modelled "
                       "(the tile circuit would need the physical positions); use partner, or "
                       "r_*_ohm 0",
                       fm_mode == MX_FAULT_MAP_PERMUTE ? "permute" : "spare-columns");
    if (mx_crossbar_has_wires(xbar) && device_params->iv.kind != MX_IV_LINEAR)
        return mx_fail(MX_EINVAL,
                       "hardware.crossbar.r_*_ohm: wire, terminal and access resistances need a "
                       "linear cell I-V (hardware.device.iv.kind = linear) in the analog matmul, "
                       "whose tiles are linear effective conductances; a nonlinear cell with "
                       "wires is solved by `memxbar crossbar solve`");
    const size_t n_ch = xbar->mapping == MX_MAPPING_BIT_SLICED ? (size_t)xbar->slices : 1;
    const size_t n_fam = 2 * n_ch;
    size_t cells = mx_size_mul(n_in, n_out);
    /* The read arrays (2·n_ch) outnumber nothing: with the families, 4·n_ch. */
    size_t floats = mx_size_mul(cells, 4 * n_ch);
    if (cells == 0 || floats == 0 || floats > SIZE_MAX / sizeof(float))
        return mx_fail(MX_EINVAL, "analog matmul: %zu x %zu is too large", n_out, n_in);

    mx_matmul *mm = mx_calloc(1, sizeof *mm);
    if (!mm)
        return mx_fail(MX_ENOMEM, "analog matmul: out of memory");
    mm->n_in = n_in;
    mm->n_out = n_out;
    mm->xbar = *xbar;
    mm->device = device;
    mm->dev = *device_params;
    mm->adc_cfg = *adc;
    mm->seed = seed;
    mm->layer_id = layer_id;
    mx_time_schedule_at(xbar, device_params->t_inference_s, &mm->sched);
    mm->n_row_tiles = (n_in + xbar->tile_rows - 1) / xbar->tile_rows;
    mm->n_col_tiles = (n_out + xbar->tile_cols - 1) / xbar->tile_cols;
    mm->n_ch = n_ch;
    mm->n_fam = n_fam;
    mm->offset = xbar->mapping == MX_MAPPING_OFFSET;
    mm->ref_digital = mm->offset && xbar->offset_subtract == MX_OFFSET_DIGITAL;
    for (size_t c = 0; c < n_ch; c++)
        mm->ch_weight[c] = ldexp(1.0, xbar->slice_bits * (int)c);
    /* A nonlinear cell I–V bends the current of every row driven at other
     * than the conductances' defining voltage; the forms are separable
     * (I = G·φ(V)), so it is a transform of the row drive, exact in both the
     * output-referred and the per-cell paths. The digital scale back to
     * weight units stays nominal (V_read): a mismatch between the read
     * voltage and iv.v_read_v shows up as the gain error it is. */
    mm->iv_nonlinear = mm->dev.iv.kind != MX_IV_LINEAR;
    mm->full_drive = (float)(mm->iv_nonlinear
                                 ? mx_device_current(&mm->dev, 1.0, xbar->read_voltage_v)
                                 : xbar->read_voltage_v);
    mm->in_levels = 0.0;
    mm->n_passes = 1;
    if (xbar->input != MX_INPUT_SPIKES && xbar->dac_bits > 0) {
        /* Signed mid-tread codes: K levels per polarity, 0 exact; one bit
         * drives {−V, 0, +V} (sign and enable). */
        const int m_bits = xbar->dac_bits > 1 ? xbar->dac_bits - 1 : 1;
        mm->in_levels = ldexp(1.0, m_bits) - 1.0;
        if (xbar->input == MX_INPUT_BIT_SERIAL)
            mm->n_passes = (size_t)m_bits;
    }
    mm->g_block = mx_alloc(cells * n_fam * sizeof(float));
    mm->rd_block = mx_alloc(cells * 2 * n_ch * sizeof(float));
    mm->g_row_sum = mx_alloc(n_in * sizeof(double));
    if (!mm->g_block || !mm->rd_block || !mm->g_row_sum) {
        mx_matmul_destroy(mm);
        return mx_fail(MX_ENOMEM, "analog matmul: out of memory for %zu x %zu cells", n_in, n_out);
    }
    for (size_t f = 0; f < n_fam; f++)
        mm->fam[f] = mm->g_block + f * cells;
    if (mx_crossbar_has_wires(xbar)) {
        mm->eff_block = mx_alloc(cells * n_fam * sizeof(float));
        if (!mm->eff_block) {
            mx_matmul_destroy(mm);
            return mx_fail(MX_ENOMEM, "analog matmul: out of memory for %zu x %zu cells", n_in,
                           n_out);
        }
        for (size_t f = 0; f < n_fam; f++)
            mm->eff[f] = mm->eff_block + f * cells;
    }
    for (size_t c = 0; c < n_ch; c++) {
        mm->g_diff[c] = mm->rd_block + 2 * c * cells;
        mm->g_sq[c] = mm->rd_block + (2 * c + 1) * cells;
    }
    if (fm_mode != MX_FAULT_MAP_NONE) {
        mm->fm_spares = fm_mode == MX_FAULT_MAP_SPARE_COLUMNS ? (size_t)xbar->fault_map.spare_columns
                                                              : 0;
        mm->fm_cols = n_out + mx_size_mul(mm->n_col_tiles, mm->fm_spares);
        size_t total = 0;
        for (size_t f = 0; f < n_fam; f++)
            total += mx_size_mul(n_in, fm_width(mm, f));
        mm->fault_block = mx_calloc(total, 1);
        mm->row_of = mx_alloc(n_in * sizeof(size_t));
        mm->col_of = mx_alloc(mm->fm_cols * sizeof(size_t));
        if (!mm->fault_block || !mm->row_of || !mm->col_of) {
            mx_matmul_destroy(mm);
            return mx_fail(MX_ENOMEM, "analog matmul: out of memory for the fault map");
        }
        for (size_t f = 0, off = 0; f < n_fam; off += n_in * fm_width(mm, f), f++)
            mm->fault[f] = mm->fault_block + off;
    }
    st = map_and_program(mm, w, seed, layer_id);
    if (st) {
        mx_matmul_destroy(mm);
        return st;
    }
    mm->adc_layout = (mx_adc_layout){
        .banks = mm->n_row_tiles * (n_ch + (mm->ref_digital ? 1 : 0)),
        .columns = n_out,
        .tile_cols = xbar->tile_cols,
        .seed = seed,
        .item_base = (uint64_t)layer_id << 32,
    };
    if (adc->kind == MX_ADC_NONE) {
        mx_adc_init(&mm->adc, adc, 1.0);
        mm->adc_ready = 1;
    }
    if (xbar->column_cal.mode != MX_COLUMN_CAL_NONE || mm->g_fresh) {
        mm->w_target = mx_alloc(cells * sizeof(float));
        if (!mm->w_target) {
            mx_matmul_destroy(mm);
            return mx_fail(MX_ENOMEM, "analog matmul: out of memory for the calibration weights");
        }
        memcpy(mm->w_target, w, cells * sizeof(float));
    }
    *out = mm;
    return MX_OK;
}

size_t mx_matmul_n_in(const mx_matmul *mm) { return mm->n_in; }
size_t mx_matmul_n_out(const mx_matmul *mm) { return mm->n_out; }
size_t mx_matmul_n_row_tiles(const mx_matmul *mm) { return mm->n_row_tiles; }
mx_mapping mx_matmul_mapping(const mx_matmul *mm) { return mm->map; }
const mx_crossbar_config *mx_matmul_config(const mx_matmul *mm) { return &mm->xbar; }
const mx_adc_config *mx_matmul_adc_config(const mx_matmul *mm) { return &mm->adc_cfg; }

double mx_matmul_row_conductance(const mx_matmul *mm, size_t j)
{
    assert(j < mm->n_in);
    return mm->g_row_sum[j];
}

void mx_matmul_stats_add(mx_matmul_stats *into, const mx_matmul_stats *x)
{
    into->conversions += x->conversions;
    into->clipped += x->clipped;
    into->reads += x->reads;
    into->row_drives += x->row_drives;
    into->partial_sums += x->partial_sums;
    into->read_passes += x->read_passes;
    into->cell_power_w += x->cell_power_w;
}
size_t mx_matmul_n_families(const mx_matmul *mm) { return mm->n_fam; }

void mx_programming_stats_add(mx_programming_stats *into, const mx_programming_stats *x)
{
    into->cells += x->cells;
    into->verified += x->verified;
    into->converged += x->converged;
    into->pulses += x->pulses;
    into->verify_reads += x->verify_reads;
    into->time_serial_s += x->time_serial_s;
    into->energy_j += x->energy_j;
    into->sq_error += x->sq_error;
    into->write_priced += x->write_priced;
    into->write_energy_j += x->write_energy_j;
    into->write_time_s += x->write_time_s;
}

void mx_matmul_programming_stats(const mx_matmul *mm, mx_programming_stats *out)
{
    *out = mm->prog;
}

void mx_fault_map_stats_add(mx_fault_map_stats *into, const mx_fault_map_stats *x)
{
    into->cells_tested += x->cells_tested;
    into->stuck_low += x->stuck_low;
    into->stuck_high += x->stuck_high;
    into->test_writes += x->test_writes;
    into->test_reads += x->test_reads;
    into->spare_cells += x->spare_cells;
    into->moved += x->moved;
    into->weights += x->weights;
    into->time_serial_s += x->time_serial_s;
    into->energy_j += x->energy_j;
    into->sq_error_before += x->sq_error_before;
    into->sq_error_after += x->sq_error_after;
}

void mx_matmul_fault_map_stats(const mx_matmul *mm, mx_fault_map_stats *out)
{
    *out = mm->fm_stats;
}

const unsigned char *mx_matmul_fault_cells(const mx_matmul *mm, size_t f, size_t *cols,
                                           const size_t **row_of, const size_t **col_of)
{
    assert(f < mm->n_fam);
    if (row_of)
        *row_of = mm->row_of;
    if (col_of)
        *col_of = mm->col_of;
    if (cols)
        *cols = mm->fault_block ? fm_width(mm, f) : 0;
    return mm->fault_block ? mm->fault[f] : NULL;
}

double mx_programming_rms_error(const mx_programming_stats *s)
{
    return s->cells ? sqrt(s->sq_error / (double)s->cells) : 0.0;
}
size_t mx_matmul_input_passes(const mx_matmul *mm) { return mm->n_passes; }

size_t mx_matmul_currents_per_read(const mx_matmul *mm)
{
    return mm->n_ch * mm->n_out + (mm->ref_digital ? mm->n_col_tiles : 0);
}

const float *mx_matmul_family(const mx_matmul *mm, size_t f, size_t *cols)
{
    assert(f < mm->n_fam);
    if (cols)
        *cols = fam_cols(mm, f);
    return mm->fam[f];
}

void mx_matmul_conductances(const mx_matmul *mm, const float **g_pos, const float **g_neg)
{
    if (g_pos)
        *g_pos = mm->fam[0];
    if (g_neg)
        *g_neg = mm->offset ? NULL : mm->fam[1];
}

mx_status mx_matmul_set_adc_range(mx_matmul *mm, double range_a)
{
    if (mm->adc_cfg.kind == MX_ADC_NONE)
        return MX_OK;
    const mx_adc_fit fit = {.range_a = range_a};
    return mx_matmul_set_adc_fit(mm, &fit);
}

mx_status mx_matmul_set_adc_fit(mx_matmul *mm, const mx_adc_fit *fit)
{
    if (mm->adc_cfg.kind == MX_ADC_NONE)
        return MX_OK;
    mx_adc adc;
    mx_status st = mx_adc_setup(&adc, &mm->adc_cfg, fit, &mm->adc_layout);
    if (st)
        return st;
    mx_adc_release(&mm->adc);
    mm->adc = adc;
    mm->adc_ready = 1;
    return MX_OK;
}

const mx_adc *mx_matmul_adc(const mx_matmul *mm) { return &mm->adc; }

const float *mx_matmul_target_weights(const mx_matmul *mm) { return mm->w_target; }

/* ---- drift reference and output correction ---------------------------------------- */

void mx_matmul_drift_reference(const mx_matmul *mm, mx_drift_reference *out)
{
    *out = (mx_drift_reference){0};
    if (!mm->drift_ref)
        return;
    out->vectors = (size_t)mm->xbar.drift.vectors;
    out->col_abs_sum = mm->drift_ref;
    out->abs_sum = mm->drift_ref_sum;
    out->stats = mm->drift_stats;
}

void mx_matmul_drift_input(const mx_matmul *mm, size_t v, float *x)
{
    mx_rng rng;
    mx_rng_init(&rng, mm->seed, mx_stream_id("crossbar.drift_input"),
                ((uint64_t)mm->layer_id << 32) | (uint64_t)v);
    const double density = mm->xbar.drift.density;
    const float full = mm->xbar.input == MX_INPUT_SPIKES ? 1.0f
                                                         : (float)mm->xbar.input_full_scale;
    for (size_t j = 0; j < mm->n_in; j++)
        x[j] = mx_u01(mx_rng_u32(&rng)) < density ? full : 0.0f;
}

mx_status mx_matmul_set_output_correction(mx_matmul *mm, const double *gain,
                                          const double *offset)
{
    const size_t n = mm->n_out;
    for (size_t o = 0; o < n; o++)
        if ((gain && !isfinite(gain[o])) || (offset && !isfinite(offset[o])))
            return mx_fail(MX_EINVAL,
                           "analog matmul output correction: expected finite gain and offset, "
                           "got gain %g, offset %g at column %zu",
                           gain ? gain[o] : 1.0, offset ? offset[o] : 0.0, o);
    if (!gain && !offset) {
        mx_free(mm->corr_gain);
        mx_free(mm->corr_offset);
        mm->corr_gain = mm->corr_offset = NULL;
        return MX_OK;
    }
    if (!mm->corr_gain) {
        double *g = mx_alloc(n * sizeof(double)), *b = mx_alloc(n * sizeof(double));
        if (!g || !b) {
            mx_free(g);
            mx_free(b);
            return mx_fail(MX_ENOMEM, "analog matmul: out of memory for the output correction");
        }
        mm->corr_gain = g;
        mm->corr_offset = b;
    }
    for (size_t o = 0; o < n; o++) {
        mm->corr_gain[o] = gain ? gain[o] : 1.0;
        mm->corr_offset[o] = offset ? offset[o] : 0.0;
    }
    return MX_OK;
}

void mx_matmul_output_correction(const mx_matmul *mm, const double **gain, const double **offset)
{
    if (gain)
        *gain = mm->corr_gain;
    if (offset)
        *offset = mm->corr_offset;
}

double mx_matmul_adc_range(const mx_matmul *mm)
{
    return mm->adc_cfg.kind == MX_ADC_NONE ? 0.0 : mm->adc.range_a;
}

/* ---- work buffers -------------------------------------------------------------- */

void mx_matmul_work_destroy(mx_matmul_work *w)
{
    if (!w)
        return;
    mx_free(w->v);
    mx_free(w->active);
    mx_free(w->code);
    mx_free(w->acc);
    mx_free(w->var);
    mx_free(w->acc_ref);
    mx_free(w->var_ref);
    mx_free(w->tile_active);
    mx_free(w->rows);
    mx_free(w->y_acc);
    mx_free(w->noise);
    mx_free(w);
}

mx_status mx_matmul_work_follow(const mx_matmul *mm, mx_matmul_work **w, const mx_matmul **owner)
{
    if (*owner == mm && (*w || !mm))
        return MX_OK;
    mx_matmul_work_destroy(*w);
    *w = NULL;
    *owner = NULL;
    if (mm) {
        mx_status st = mx_matmul_work_create(mm, w);
        if (st)
            return st;
    }
    *owner = mm;
    return MX_OK;
}

mx_status mx_matmul_work_create(const mx_matmul *mm, mx_matmul_work **out)
{
    *out = NULL;
    mx_matmul_work *w = mx_calloc(1, sizeof *w);
    if (!w)
        return mx_fail(MX_ENOMEM, "analog matmul workspace: out of memory");
    const size_t tile_values = mm->n_ch * mm->n_row_tiles * mm->n_out;
    const size_t ref_values = mm->offset ? mm->n_row_tiles * mm->n_col_tiles : 1;
    w->v = mx_calloc(mm->n_in, sizeof(float));
    w->active = mx_calloc(mm->n_in, sizeof(size_t));
    w->code = mx_calloc(mm->n_in, sizeof(int32_t));
    w->acc = mx_calloc(tile_values, sizeof(float));
    w->var = mx_calloc(tile_values, sizeof(float));
    w->acc_ref = mx_calloc(ref_values, sizeof(float));
    w->var_ref = mx_calloc(ref_values, sizeof(float));
    w->tile_active = mx_calloc(mm->n_row_tiles, 1);
    w->rows = mx_calloc(mm->n_fam * mm->n_out, sizeof(float));
    w->y_acc = mx_calloc(mm->n_out, sizeof(double));
    w->noise = mx_calloc(mm->n_out > mm->n_col_tiles ? mm->n_out : mm->n_col_tiles,
                         sizeof(float));
    if (!w->v || !w->active || !w->code || !w->acc || !w->var || !w->acc_ref || !w->var_ref ||
        !w->tile_active || !w->rows || !w->y_acc || !w->noise) {
        mx_matmul_work_destroy(w);
        return mx_fail(MX_ENOMEM, "analog matmul workspace: out of memory");
    }
    *out = w;
    return MX_OK;
}

/* ---- forward ----------------------------------------------------------------------- */

/* Signed input code ±m of x (see the file comment), m ∈ [0, K]. */
static int32_t input_code(const mx_matmul *mm, float x)
{
    double u = (double)x / mm->xbar.input_full_scale;
    u = u > 1.0 ? 1.0 : (u < -1.0 ? -1.0 : u);
    return (int32_t)nearbyint(u * mm->in_levels);
}

/* Row drives of input pass `pass` (see mx_matmul_work.v); returns the number
 * of driven rows, listed in w->active in ascending order. Also the pass's
 * read power w->pass_power_w: a driven row at voltage V puts V·φ(V)·G into
 * each of its cells (the columns are held at virtual ground), so the row
 * costs |V·φ(V)|·g_row_sum; a PWM row is on at V_read for |m|/K of the
 * window, so its mean power is V_read·|u·φ(V_read)| = V_read·|v|. */
static size_t drive_rows(const mx_matmul *mm, mx_matmul_work *w, const float *x, size_t pass)
{
    size_t n_active = 0;
    double power = 0.0;
    const double v_read = mm->xbar.read_voltage_v;
    const double p_full = v_read * fabs((double)mm->full_drive); /* a row at ±V_read, W/S */
    switch (mm->xbar.input) {
    case MX_INPUT_SPIKES:
        for (size_t j = 0; j < mm->n_in; j++) {
            assert(x[j] == 0.0f || x[j] == 1.0f);
            w->v[j] = x[j] != 0.0f ? mm->full_drive : 0.0f;
            if (w->v[j] != 0.0f) {
                w->active[n_active++] = j;
                power += p_full * mm->g_row_sum[j];
            }
        }
        break;
    case MX_INPUT_BIT_SERIAL:
        if (pass == 0)
            for (size_t j = 0; j < mm->n_in; j++)
                w->code[j] = input_code(mm, x[j]);
        for (size_t j = 0; j < mm->n_in; j++) {
            const int32_t c = w->code[j];
            const uint32_t m = (uint32_t)(c < 0 ? -c : c);
            w->v[j] = (m >> pass) & 1u ? (c < 0 ? -mm->full_drive : mm->full_drive) : 0.0f;
            if (w->v[j] != 0.0f) {
                w->active[n_active++] = j;
                power += p_full * mm->g_row_sum[j];
            }
        }
        break;
    case MX_INPUT_PWM:
        /* Charge over the K-step window / its length: (±m/K)·φ(V_read). */
        for (size_t j = 0; j < mm->n_in; j++) {
            const double u = (double)input_code(mm, x[j]) / mm->in_levels;
            w->v[j] = (float)(u * (double)mm->full_drive);
            if (w->v[j] != 0.0f) {
                w->active[n_active++] = j;
                power += v_read * fabs((double)w->v[j]) * mm->g_row_sum[j];
            }
        }
        break;
    case MX_INPUT_DAC:
    default: {
        const double inv_fs = 1.0 / mm->xbar.input_full_scale, k = mm->in_levels;
        const double v_dac = (double)(float)mm->xbar.read_voltage_v;
        for (size_t j = 0; j < mm->n_in; j++) {
            double u = (double)x[j] * inv_fs;
            u = u > 1.0 ? 1.0 : (u < -1.0 ? -1.0 : u);
            if (k > 0.0)
                u = nearbyint(u * k) / k;
            const double v = u * v_dac;
            w->v[j] = (float)(mm->iv_nonlinear ? mx_device_current(&mm->dev, 1.0, v) : v);
            if (w->v[j] != 0.0f) {
                w->active[n_active++] = j;
                power += fabs(v * (double)w->v[j]) * mm->g_row_sum[j];
            }
        }
        break;
    }
    }
    w->pass_power_w = power;
    return n_active;
}

/* Digital weight of input pass p: 2^p/K for bit-serial, 1 otherwise. */
static double pass_weight(const mx_matmul *mm, size_t pass)
{
    return mm->xbar.input == MX_INPUT_BIT_SERIAL ? ldexp(1.0, (int)pass) / mm->in_levels : 1.0;
}

/* Scale from shift-added digitised current (A) to weight units. */
static double output_scale(const mx_matmul *mm)
{
    double fs = mm->xbar.input == MX_INPUT_SPIKES ? 1.0 : mm->xbar.input_full_scale;
    return fs / (mm->xbar.read_voltage_v * mm->map.siemens_per_unit);
}

static void record(mx_current_recorder *rec, const float *cur, size_t n)
{
    for (size_t o = 0; o < n && rec->count < rec->capacity; o++)
        if (rec->stride <= 1 || rec->seen++ % rec->stride == 0)
            rec->values[rec->count++] = cur[o];
}

/* Digitise every active tile's column currents of this pass (adding
 * output-referred noise when `noise_sigma` > 0), shift-add them into
 * w->y_acc, and clear the tiles. */
static void convert_tiles(const mx_matmul *mm, mx_matmul_work *w, double weight,
                          double noise_sigma, mx_rng *read_rng, mx_matmul_stats *stats,
                          mx_current_recorder *rec)
{
    const size_t n_out = mm->n_out, n_ct = mm->n_col_tiles, tile_cols = mm->xbar.tile_cols;
    const size_t ch_stride = mm->n_row_tiles * n_out;
    assert(mm->adc_ready);
    uint64_t conversions = 0, clipped = 0, reads = 0, partial_sums = 0;
    for (size_t t = 0; t < mm->n_row_tiles; t++) {
        if (!w->tile_active[t])
            continue;
        float *acc_ref = w->acc_ref + t * n_ct, *var_ref = w->var_ref + t * n_ct;
        for (size_t c = 0; c < mm->n_ch; c++) {
            float *acc = w->acc + c * ch_stride + t * n_out;
            float *var = w->var + c * ch_stride + t * n_out;
            if (noise_sigma > 0.0) {
                /* One fast block-wise fill per tile read (core/rng.h). */
                mx_rng_normal_fill_fast(read_rng, w->noise, n_out);
                for (size_t o = 0; o < n_out; o++)
                    acc[o] += (float)(noise_sigma * sqrt((double)var[o]) * (double)w->noise[o]);
                /* A shared reference column's noise: one draw, every column. */
                if (mm->offset && !mm->ref_digital) {
                    mx_rng_normal_fill_fast(read_rng, w->noise, n_ct);
                    for (size_t ct = 0; ct < n_ct; ct++) {
                        const float e = (float)(noise_sigma * sqrt((double)var_ref[ct]) *
                                                (double)w->noise[ct]);
                        const size_t o0 = ct * tile_cols;
                        const size_t o1 = o0 + tile_cols < n_out ? o0 + tile_cols : n_out;
                        for (size_t o = o0; o < o1; o++)
                            acc[o] -= e;
                    }
                }
            }
            if (rec)
                record(rec, acc, n_out);
            clipped += mx_adc_convert_bank(&mm->adc, acc, n_out, t * mm->n_ch + c, 1, read_rng);
            const double wc = weight * mm->ch_weight[c];
            for (size_t o = 0; o < n_out; o++) {
                w->y_acc[o] += wc * (double)acc[o];
                acc[o] = 0.0f;
                var[o] = 0.0f;
            }
            conversions += n_out;
            partial_sums += n_out;
        }
        if (mm->ref_digital) {
            if (noise_sigma > 0.0) {
                mx_rng_normal_fill_fast(read_rng, w->noise, n_ct);
                for (size_t ct = 0; ct < n_ct; ct++)
                    acc_ref[ct] += (float)(noise_sigma * sqrt((double)var_ref[ct]) *
                                           (double)w->noise[ct]);
            }
            if (rec)
                record(rec, acc_ref, n_ct);
            clipped += mx_adc_convert_bank(&mm->adc, acc_ref, n_ct,
                                           mm->n_row_tiles * mm->n_ch + t, tile_cols, read_rng);
            for (size_t o = 0; o < n_out; o++)
                w->y_acc[o] -= weight * (double)acc_ref[o / tile_cols];
            conversions += n_ct;
            partial_sums += n_out;
        }
        if (mm->offset)
            for (size_t ct = 0; ct < n_ct; ct++)
                acc_ref[ct] = var_ref[ct] = 0.0f;
        w->tile_active[t] = 0;
        reads++;
    }
    if (stats) {
        stats->conversions += mm->adc_cfg.kind == MX_ADC_NONE ? 0 : conversions;
        stats->clipped += clipped;
        stats->reads += reads;
        stats->partial_sums += partial_sums;
        stats->read_passes += reads > 0;
    }
}

/* Per-cell read of every row in each active tile through the device's read
 * function: the plain sum the fast path must agree with. With fast_noise
 * (the noise = per-cell mode of mx_matmul_forward, for a device whose read
 * is mx_device_read_relative) the same model draws its normals block-wise,
 * one Philox word each by inversion (mx_rng_normal_fill_icdf), and applies
 * them in float: the same distribution, other values than the reference
 * twin's mx_rng_normal (tests/test_crossbar.c compares the two in
 * distribution, tests/test_rng.c the normals with the exact N(0, 1)). */
/* The element-wise loops of the differential per-cell read, dispatched by
 * ISA (defined with the row-block kernels below). */
typedef struct per_cell_kernels {
    void (*read_relative)(const float *restrict g, const float *restrict z, double sigma,
                          float *restrict out, size_t n);
    void (*axpy_diff)(float *restrict acc, float v, const float *restrict gp,
                      const float *restrict gn, size_t n);
} per_cell_kernels;
static const per_cell_kernels *per_cell_kernel_set(void);

static void accumulate_per_cell(const mx_matmul *mm, mx_matmul_work *w, mx_rng *read_rng,
                                int fast_noise)
{
    const size_t n_out = mm->n_out, tile_rows = mm->xbar.tile_rows;
    const size_t n_ct = mm->n_col_tiles, tile_cols = mm->xbar.tile_cols;
    const size_t ch_stride = mm->n_row_tiles * n_out;
    const int noisy = mm->dev.read_noise_sigma > 0.0;
    const per_cell_kernels *kern = per_cell_kernel_set();
    const float *g[MM_MAX_FAMILIES];
    for (size_t t = 0; t < mm->n_row_tiles; t++) {
        size_t j0 = t * tile_rows, j1 = j0 + tile_rows < mm->n_in ? j0 + tile_rows : mm->n_in;
        int any = 0;
        for (size_t j = j0; j < j1; j++)
            any |= w->v[j] != 0.0f;
        if (!any)
            continue;
        w->tile_active[t] = 1;
        for (size_t j = j0; j < j1; j++) {
            for (size_t f = 0; f < mm->n_fam; f++) {
                const size_t cols = fam_cols(mm, f);
                g[f] = read_family(mm, f) + j * cols;
                if (noisy && fast_noise) {
                    /* mx_device_read_relative's model, g·(1 + σ·ξ) clamped at 0,
                     * with ξ from one block-wise fill per row and family
                     * (⌈cols/4⌉ Philox blocks: a fixed count). */
                    float *gr = w->rows + f * n_out;
                    mx_rng_normal_fill_icdf(read_rng, w->noise, cols);
                    kern->read_relative(g[f], w->noise, mm->dev.read_noise_sigma, gr, cols);
                    g[f] = gr;
                } else if (noisy) {
                    mm->device->read(&mm->dev, g[f], w->rows + f * n_out, cols, read_rng);
                    g[f] = w->rows + f * n_out;
                }
            }
            const float v = w->v[j];
            if (v == 0.0f)
                continue;
            for (size_t c = 0; c < mm->n_ch; c++) {
                float *acc = w->acc + c * ch_stride + t * n_out;
                const float *gp = g[2 * c], *gn = g[2 * c + 1];
                if (!mm->offset)
                    kern->axpy_diff(acc, v, gp, gn, n_out);
                else if (!mm->ref_digital)
                    for (size_t o = 0; o < n_out; o++)
                        acc[o] += v * (gp[o] - gn[o / tile_cols]);
                else
                    for (size_t o = 0; o < n_out; o++)
                        acc[o] += v * gp[o];
            }
            if (mm->ref_digital)
                for (size_t ct = 0; ct < n_ct; ct++)
                    w->acc_ref[t * n_ct + ct] += v * g[1][ct];
        }
    }
}

/* ---- row-block kernels: core/rows.h (mx_axpy_rows_kernel) --------------------------- */

#if defined(__GNUC__)
#define MM_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define MM_ALWAYS_INLINE inline
#endif

/* ---- per-cell kernels -----------------------------------------------------------------
 *
 * The two loops of accumulate_per_cell's differential read, element-wise
 * and written once: mx_device_read_relative's g·(1 + σ·ξ) clamped at 0, and
 * acc += v·(g+ − g−). The read is evaluated in float (σ rounded to float,
 * then ×, +, ×: three roundings, a relative error ≤ 2e-7 on g·(1 + σξ),
 * far inside the noise it models), where the device function and the
 * reference twin use double: half the lanes' work of the
 * float → double → float round trip, which cost a third as much as the
 * normals themselves (perf, round 3). Compiled for the
 * baseline ISA, AVX2 and AVX-512 (F, VL, DQ), chosen at run time: the same
 * IEEE operations per element in every build (no FMA contraction in ISO
 * C), so the same bits — only more lanes per instruction. */
static MM_ALWAYS_INLINE void read_relative_body(const float *restrict g, const float *restrict z,
                                                double sigma, float *restrict out, size_t n)
{
    const float s = (float)sigma;
    for (size_t o = 0; o < n; o++) {
        const float gn = g[o] * (1.0f + s * z[o]);
        out[o] = gn < 0.0f ? 0.0f : gn;
    }
}

static MM_ALWAYS_INLINE void axpy_diff_body(float *restrict acc, float v, const float *restrict gp,
                                            const float *restrict gn, size_t n)
{
    for (size_t o = 0; o < n; o++)
        acc[o] += v * (gp[o] - gn[o]);
}

#define MM_PER_CELL_VARIANT(suffix, attr)                                                          \
    attr static void read_relative_##suffix(const float *restrict g, const float *restrict z,     \
                                            double sigma, float *restrict out, size_t n)          \
    {                                                                                              \
        read_relative_body(g, z, sigma, out, n);                                                   \
    }                                                                                              \
    attr static void axpy_diff_##suffix(float *restrict acc, float v, const float *restrict gp,   \
                                        const float *restrict gn, size_t n)                       \
    {                                                                                              \
        axpy_diff_body(acc, v, gp, gn, n);                                                         \
    }                                                                                              \
    static const per_cell_kernels per_cell_##suffix = {read_relative_##suffix, axpy_diff_##suffix};

MM_PER_CELL_VARIANT(base, )
#if defined(__GNUC__) && defined(__x86_64__)
MM_PER_CELL_VARIANT(avx2, __attribute__((target("avx2"))))
MM_PER_CELL_VARIANT(avx512, __attribute__((target("avx512f,avx512vl,avx512dq"))))
#endif

static const per_cell_kernels *per_cell_kernel_set(void)
{
#if defined(__GNUC__) && defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq"))
        return &per_cell_avx512;
    if (__builtin_cpu_supports("avx2"))
        return &per_cell_avx2;
#endif
    return &per_cell_base;
}

/* The event-driven accumulation of one pass's driven rows, in blocks of up
 * to MX_ROW_BLOCK consecutive driven rows of one row tile. */
static void accumulate_active(const mx_matmul *mm, mx_matmul_work *w, size_t n_active, int noisy)
{
    const size_t n_out = mm->n_out, tile_rows = mm->xbar.tile_rows, n_ct = mm->n_col_tiles;
    const size_t ch_stride = mm->n_row_tiles * n_out;
    const float *g_ref = mm->offset ? read_family(mm, 1) : NULL;
    const mx_axpy_rows_fn axpy_rows = mx_axpy_rows_kernel();
    for (size_t a = 0; a < n_active;) {
        const size_t t = w->active[a] / tile_rows;
        size_t k = 1;
        while (k < MX_ROW_BLOCK && a + k < n_active && w->active[a + k] / tile_rows == t)
            k++;
        float v[MX_ROW_BLOCK], v2[MX_ROW_BLOCK];
        const float *rows[MX_ROW_BLOCK];
        for (size_t i = 0; i < k; i++) {
            v[i] = w->v[w->active[a + i]];
            v2[i] = v[i] * v[i];
        }
        w->tile_active[t] = 1;
        for (size_t c = 0; c < mm->n_ch; c++) {
            for (size_t i = 0; i < k; i++)
                rows[i] = mm->g_diff[c] + w->active[a + i] * n_out;
            axpy_rows(w->acc + c * ch_stride + t * n_out, rows, v, k, n_out);
            if (noisy) {
                for (size_t i = 0; i < k; i++)
                    rows[i] = mm->g_sq[c] + w->active[a + i] * n_out;
                axpy_rows(w->var + c * ch_stride + t * n_out, rows, v2, k, n_out);
            }
        }
        if (g_ref)
            for (size_t i = 0; i < k; i++) {
                const float *gr = g_ref + w->active[a + i] * n_ct;
                if (mm->ref_digital)
                    for (size_t ct = 0; ct < n_ct; ct++)
                        w->acc_ref[t * n_ct + ct] += v[i] * gr[ct];
                if (noisy)
                    for (size_t ct = 0; ct < n_ct; ct++)
                        w->var_ref[t * n_ct + ct] += v2[i] * (gr[ct] * gr[ct]);
            }
        a += k;
    }
}

/* The row drives and read power of one pass, into the statistics. */
static void count_drive(const mx_matmul_work *w, size_t n_active, mx_matmul_stats *stats)
{
    if (!stats)
        return;
    stats->row_drives += n_active;
    stats->cell_power_w += w->pass_power_w;
}

static void finish_output(const mx_matmul *mm, mx_matmul_work *w, float *y)
{
    const double scale = output_scale(mm);
    if (mm->corr_gain) { /* digital correction, one rounding to float */
        for (size_t o = 0; o < mm->n_out; o++) {
            y[o] = (float)(w->y_acc[o] * scale * mm->corr_gain[o] + mm->corr_offset[o]);
            w->y_acc[o] = 0.0;
        }
        return;
    }
    for (size_t o = 0; o < mm->n_out; o++) {
        y[o] = (float)(w->y_acc[o] * scale);
        w->y_acc[o] = 0.0;
    }
}

void mx_matmul_forward(const mx_matmul *mm, mx_matmul_work *w, const float *x, float *y,
                       mx_rng *read_rng, mx_matmul_stats *stats, mx_current_recorder *rec)
{
    const double sigma = mm->dev.read_noise_sigma;
    const int per_cell = sigma > 0.0 && mm->xbar.noise == MX_NOISE_PER_CELL;
    for (size_t p = 0; p < mm->n_passes; p++) {
        const size_t n_active = drive_rows(mm, w, x, p);
        count_drive(w, n_active, stats);
        if (per_cell) {
            accumulate_per_cell(mm, w, read_rng, mm->device->read == mx_device_read_relative);
            convert_tiles(mm, w, pass_weight(mm, p), 0.0, read_rng, stats, rec);
        } else {
            accumulate_active(mm, w, n_active, sigma > 0.0);
            convert_tiles(mm, w, pass_weight(mm, p), sigma, read_rng, stats, rec);
        }
    }
    finish_output(mm, w, y);
}

/* ---- batched forward ------------------------------------------------------------------
 *
 * mx_matmul_forward_batch: the same read as mx_matmul_forward for every
 * image of a batch when a read draws nothing — no read noise, no ADC input
 * noise — and takes one input pass (dac, spikes, pwm). Per row tile t and
 * digitised channel c the column currents of the whole block of images are
 * one SGEMM, C_t,c (images, n_out) = V_t (images, rows of t) · G_c[rows of
 * t, :] on the read arrays the event-driven path reads (g_diff, wires
 * already folded in by derive_read_row; a digital offset's reference family
 * through read_family), with V the row drives drive_rows gives each image.
 * Then each image runs the per-vector tail unchanged: its active tiles'
 * currents go through convert_tiles (ADC per bank, shift-add, the activity
 * counts) and finish_output (scale, output correction). Only the order of
 * the float sums inside a tile differs from the per-vector path (BLAS
 * blocking against row-ordered axpy), so a current that lands within a few
 * float roundings of an ADC decision level can take the neighbouring code:
 * outputs agree with mx_matmul_forward to one LSB per conversion, and are
 * bit-identical otherwise. OpenBLAS's threads split the rows and columns
 * of C, not the inner (row) sum, so the bits do not depend on its thread
 * count (tests/test_crossbar.c checks 1 against 2). */

/* Images per SGEMM block: bounds the scratch (block·n_in drives and
 * block·n_ch·n_row_tiles·n_out currents) while keeping the GEMM shape. */
#define MM_BATCH_BLOCK 64

mx_status mx_matmul_forward_batch(const mx_matmul *mm, mx_matmul_work *w, const float *x,
                                  size_t batch, float *y, mx_matmul_stats *stats)
{
    if (mm->dev.read_noise_sigma > 0.0)
        return mx_fail(MX_EINVAL,
                       "device.read_noise_sigma: expected 0 for batched evaluation (every read "
                       "draws its own noise; use mx_matmul_forward per image), got %g",
                       mm->dev.read_noise_sigma);
    if (mm->xbar.input == MX_INPUT_BIT_SERIAL)
        return mx_fail(MX_EINVAL, "hardware.crossbar.input: expected dac, spikes or pwm for "
                                  "batched evaluation (one read per image), got bit-serial");
    if ((mm->adc_cfg.kind == MX_ADC_SAR || mm->adc_cfg.kind == MX_ADC_SENSE_AMP) &&
        mm->adc_cfg.noise_sigma_lsb > 0.0)
        return mx_fail(MX_EINVAL,
                       "adc.noise_sigma_lsb: expected 0 for batched evaluation (every "
                       "conversion draws its own noise), got %g",
                       mm->adc_cfg.noise_sigma_lsb);
    if (batch == 0)
        return MX_OK;
    const size_t n_in = mm->n_in, n_out = mm->n_out, n_rt = mm->n_row_tiles;
    const size_t n_ct = mm->n_col_tiles, tile_rows = mm->xbar.tile_rows;
    const size_t ch_stride = n_rt * n_out, img_stride = mm->n_ch * ch_stride;
    const size_t ref_stride = mm->ref_digital ? n_rt * n_ct : 0;
    if (n_in > INT_MAX || img_stride > INT_MAX)
        return mx_fail(MX_EINVAL, "batched matmul: expected n_in and n_ch·n_row_tiles·n_out "
                                  "≤ %d (BLAS int), got %zu and %zu",
                       INT_MAX, n_in, img_stride);
    const size_t block = batch < MM_BATCH_BLOCK ? batch : MM_BATCH_BLOCK;
    float *drive = mx_alloc(mx_size_mul(block, n_in) * sizeof(float));
    float *cur = mx_alloc(mx_size_mul(block, img_stride) * sizeof(float));
    float *cur_ref = mx_alloc(mx_size_mul(block, ref_stride ? ref_stride : 1) * sizeof(float));
    unsigned char *act = mx_alloc(mx_size_mul(block, n_rt));
    if (!drive || !cur || !cur_ref || !act) {
        mx_free(drive);
        mx_free(cur);
        mx_free(cur_ref);
        mx_free(act);
        return mx_fail(MX_ENOMEM, "batched matmul scratch: out of memory");
    }
    const float *g_ref = mm->ref_digital ? read_family(mm, 1) : NULL;
    for (size_t b0 = 0; b0 < batch; b0 += block) {
        const size_t nb = batch - b0 < block ? batch - b0 : block;
        memset(act, 0, nb * n_rt);
        for (size_t i = 0; i < nb; i++) {
            const size_t n_active = drive_rows(mm, w, x + (b0 + i) * n_in, 0);
            count_drive(w, n_active, stats);
            memcpy(drive + i * n_in, w->v, n_in * sizeof(float));
            for (size_t a = 0; a < n_active; a++)
                act[i * n_rt + w->active[a] / tile_rows] = 1;
        }
        for (size_t t = 0; t < n_rt; t++) {
            int any = 0;
            for (size_t i = 0; i < nb && !any; i++)
                any = act[i * n_rt + t];
            if (!any)
                continue;
            const size_t j0 = t * tile_rows;
            const size_t rows = j0 + tile_rows < n_in ? tile_rows : n_in - j0;
            for (size_t c = 0; c < mm->n_ch; c++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)n_out,
                            (int)rows, 1.0f, drive + j0, (int)n_in, mm->g_diff[c] + j0 * n_out,
                            (int)n_out, 0.0f, cur + c * ch_stride + t * n_out, (int)img_stride);
            if (g_ref)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)n_ct,
                            (int)rows, 1.0f, drive + j0, (int)n_in, g_ref + j0 * n_ct, (int)n_ct,
                            0.0f, cur_ref + t * n_ct, (int)ref_stride);
        }
        /* The per-vector tail, image by image, on the active tiles' currents. */
        for (size_t i = 0; i < nb; i++) {
            for (size_t t = 0; t < n_rt; t++) {
                w->tile_active[t] = act[i * n_rt + t];
                if (!w->tile_active[t])
                    continue;
                for (size_t c = 0; c < mm->n_ch; c++)
                    memcpy(w->acc + c * ch_stride + t * n_out,
                           cur + i * img_stride + c * ch_stride + t * n_out,
                           n_out * sizeof(float));
                if (g_ref)
                    memcpy(w->acc_ref + t * n_ct, cur_ref + i * ref_stride + t * n_ct,
                           n_ct * sizeof(float));
            }
            convert_tiles(mm, w, pass_weight(mm, 0), 0.0, NULL, stats, NULL);
            finish_output(mm, w, y + (b0 + i) * n_out);
        }
    }
    mx_free(drive);
    mx_free(cur);
    mx_free(cur_ref);
    mx_free(act);
    return MX_OK;
}

void mx_matmul_forward_reference(const mx_matmul *mm, mx_matmul_work *w, const float *x,
                                 float *y, mx_rng *read_rng, mx_matmul_stats *stats)
{
    for (size_t p = 0; p < mm->n_passes; p++) {
        count_drive(w, drive_rows(mm, w, x, p), stats);
        accumulate_per_cell(mm, w, read_rng, 0);
        convert_tiles(mm, w, pass_weight(mm, p), 0.0, read_rng, stats, NULL);
    }
    finish_output(mm, w, y);
}
