/* SPDX-License-Identifier: MIT
 *
 * crossbar.h: the analog dot-product engine. An mx_matmul holds a real
 * weight matrix programmed into crossbar tiles of memristive cells and
 * computes y ≈ W·x through every non-ideality on the way:
 *
 *   weights ──map (differential pairs, offset + reference column, or
 *   bit-sliced pairs; optionally fault-aware: a cell test finds the stuck
 *   cells and the layout avoids them, crossbar/fault_map.c)──► conductance
 *   targets ──program (devices/: open
 *   loop, or open loop then write-verify; optional V/2 half-select disturb
 *   of a passive array)──► tiles of tile_rows ×
 *   tile_cols outputs ──row drive (DAC amplitude, binary spikes, bit-serial
 *   passes or PWM durations at the read voltage)──► Ohm/Kirchhoff column
 *   currents with read noise, pairs (or the reference column) subtracted in
 *   analog ──ADC (adc/) per tile column, per slice and per input pass──►
 *   shift-and-add and partial sums added digitally across row tiles ──÷
 *   scale──► y in weight units ──optional per-column digital gain and
 *   offset (drift compensation, calibration/drift.h; per-column gain/offset
 *   calibration, calibration/column_cal.h)──► y.
 *
 * Wires are ideal in this version (no IR drop); see docs/crossbar.md.
 */
#ifndef MX_CROSSBAR_H
#define MX_CROSSBAR_H

#include <stddef.h>
#include <stdint.h>

#include "adc/adc.h"
#include "core/core.h"
#include "core/rng.h"
#include "crossbar/circuit.h"
#include "devices/devices.h"
#include "devices/write_verify.h"

typedef enum mx_input_mode {
    MX_INPUT_DAC,        /* x quantised by a dac_bits DAC to a voltage in [-V_read, V_read] */
    MX_INPUT_SPIKES,     /* x ∈ {0, 1}: a spike drives its row at V_read (event-driven) */
    MX_INPUT_BIT_SERIAL, /* x quantised to sign + (dac_bits − 1) magnitude bits; one read
                            per magnitude bit b, rows at 0 or ±V_read, each pass digitised
                            and shift-added digitally (Σ_b 2^b·y_b) */
    MX_INPUT_PWM,        /* rows at ±V_read for |x| quantised to 2^(dac_bits−1) − 1 time
                            steps; the column integrates charge, the ADC converts it */
} mx_input_mode;

typedef enum mx_noise_mode {
    MX_NOISE_OUTPUT_REFERRED, /* per-cell Gaussian read noise summed exactly in
                                 distribution: one N(0, σ_r²·Σ_j V_j²(G+_ij² + G−_ij²))
                                 draw per column (default) */
    MX_NOISE_PER_CELL,        /* every cell read with its own draw (reference) */
} mx_noise_mode;

/* How a weight becomes conductances (physical column families). */
typedef enum mx_mapping_kind {
    MX_MAPPING_DIFFERENTIAL, /* G+ − G−: one pair of columns per output; the largest
                                |w| uses the full window (default) */
    MX_MAPPING_OFFSET,       /* one cell per weight, G = g_mid + w·s, s = window /
                                (2·w_abs_max); one reference column per tile at g_mid
                                whose current is subtracted */
    MX_MAPPING_BIT_SLICED,   /* |w| quantised to slices·slice_bits bits; slice s holds
                                digit d_s on a G+ (w > 0) or G− (w < 0) cell,
                                g_min + d_s·window/(2^b − 1); each slice digitised
                                separately and shift-added (Σ_s 2^(b·s)·y_s) */
} mx_mapping_kind;

/* Where the offset mapping subtracts its reference column. */
typedef enum mx_offset_subtract {
    MX_OFFSET_ANALOG,  /* I_col − I_ref before the ADC (current mirror): one
                          conversion per column, the ADC sees the signed
                          difference only (default) */
    MX_OFFSET_DIGITAL, /* the reference column has its own conversion, subtracted
                          after both are digitised: the ADC must span the
                          unipolar column current with its g_mid common mode */
} mx_offset_subtract;

/* Disturb of the unselected cells while a passive array is programmed. */
typedef enum mx_half_select {
    MX_HALF_SELECT_OFF,    /* selected cells only (an ideal 1T1R array; default) */
    MX_HALF_SELECT_V_HALF, /* V/2 scheme: every write gives each other cell of its
                              tile row and tile column a pulse of V_w/2 through the
                              device's pulse response (crossbar/matmul.c) */
} mx_half_select;

/* How the cells are programmed (YAML hardware.programming.mode). */
typedef enum mx_programming_mode {
    MX_PROGRAMMING_OPEN_LOOP,    /* one open-loop write per cell through the device's
                                    program (default) */
    MX_PROGRAMMING_WRITE_VERIFY, /* that write, then closed-loop write-verify through
                                    the device's pulse response toward the same
                                    targets (devices/write_verify.h) */
} mx_programming_mode;

/* Drift compensation (YAML hardware.drift_compensation.*): what the matmul
 * measures right after programming, before ageing, so that calibration/drift.h
 * can re-measure it at read time and correct the outputs digitally. */
typedef enum mx_drift_mode {
    MX_DRIFT_NONE,       /* no reference measured, no correction (default) */
    MX_DRIFT_GLOBAL,     /* one factor for every output: α = Σ|y(t0)| / Σ|y(t)| over all
                            columns and calibration vectors (Joshi et al. 2020 GDC) */
    MX_DRIFT_PER_COLUMN, /* the same ratio per output column */
} mx_drift_mode;

typedef struct mx_drift_config {
    mx_drift_mode mode; /* MX_DRIFT_NONE */
    int vectors;        /* calibration input vectors read per measurement, 1..4096; 16 */
    double density;     /* fraction of rows a calibration vector drives at full scale
                           (binary vectors from stream "crossbar.drift_input"), (0, 1];
                           0.1 (about the input spike density of the MNIST SNN, so the
                           calibration currents sit inside the ADC range) */
    double recalibrate_every_s; /* recalibration period τ_c, s: the factors applied at t
                           are those measured at the last multiple of τ_c of the cells'
                           age (none before the first: the identity); 0 = measured at
                           every evaluation, default (mx_time_schedule) */
} mx_drift_config;

/* Per-column gain/offset calibration (YAML hardware.column_calibration.*;
 * calibration/column_cal.h): the matmul keeps a copy of W so the
 * calibration can compare the hardware's outputs with the digital W·x. */
typedef enum mx_column_cal_mode {
    MX_COLUMN_CAL_NONE,        /* no copy kept, no correction (default) */
    MX_COLUMN_CAL_GAIN_OFFSET, /* per output column y_hw = a·(W·x) + b fitted by least
                                  squares; corrected digitally by (y − b)/a */
} mx_column_cal_mode;

typedef struct mx_column_cal_config {
    mx_column_cal_mode mode; /* MX_COLUMN_CAL_NONE */
    int vectors;             /* reference input vectors K, 3..4096 (a line has 2
                                parameters; K − 2 degrees of freedom for the noise); 32 */
    double density;          /* fraction of rows a reference vector drives at full
                                scale (binary vectors from stream "column_cal.input"),
                                (0, 1]; 0.1 (as drift compensation: inside the ADC range) */
} mx_column_cal_config;

/* Fault-aware mapping (YAML hardware.fault_mapping.*; crossbar/fault_map.c,
 * docs/crossbar.md). With a mode other than none, every physical cell is
 * tested before the weights are written: a test-pattern write to g_max and a
 * read, a write to g_min and a read (read noise included); a cell that reads
 * below the window's middle after the g_max write is stuck low, above it
 * after the g_min write stuck high. The weights are then written once in the
 * layout the mode chooses; the stuck cells stay where they physically are. */
typedef enum mx_fault_map_mode {
    MX_FAULT_MAP_NONE,          /* no test, no remap (default) */
    MX_FAULT_MAP_PARTNER,       /* differential and bit-sliced pairs: a stuck cell's
                                   healthy partner is re-targeted so that G+ − G− is
                                   as close to its target as the window allows */
    MX_FAULT_MAP_PERMUTE,       /* logical rows (inputs) assigned to the physical rows
                                   of their row tile, then logical columns (outputs)
                                   to the physical columns of their column tile, each
                                   by an optimal assignment minimising the squared
                                   weight error the stuck cells cause */
    MX_FAULT_MAP_SPARE_COLUMNS, /* spare_columns spare outputs per column tile: the
                                   tile's outputs assigned optimally to its
                                   tile_cols + spare_columns physical outputs */
} mx_fault_map_mode;

typedef struct mx_fault_map_config {
    mx_fault_map_mode mode; /* MX_FAULT_MAP_NONE */
    int spare_columns;      /* spare-columns: spare outputs per column tile (each with
                               all of an output's families: a pair when
                               differential), 1..65536; 4 */
} mx_fault_map_config;

typedef struct mx_crossbar_config {
    size_t tile_rows;        /* rows (inputs) per tile; 128 */
    size_t tile_cols;        /* outputs per tile (each output uses 2 physical columns
                                when differential, 1 when offset — plus the tile's
                                reference column — and 2·slices when bit-sliced); 128 */
    double read_voltage_v;   /* read voltage (full-scale DAC output, spike, bit-serial
                                and PWM amplitude), V; 0.2 */
    mx_input_mode input;     /* MX_INPUT_SPIKES for SNN layers, MX_INPUT_DAC otherwise */
    int dac_bits;            /* input resolution incl. sign, 1..16, or 0 = exact voltages
                                (dac only); bit-serial passes and PWM steps derive from
                                it; 8 */
    double input_full_scale; /* |x| that maps to V_read (dac, bit-serial, pwm); 1.0 */
    mx_noise_mode noise;     /* MX_NOISE_OUTPUT_REFERRED */
    mx_mapping_kind mapping; /* MX_MAPPING_DIFFERENTIAL */
    int slices;              /* bit-sliced: cells (pairs) per weight k, 1..32; 4 */
    int slice_bits;          /* bit-sliced: bits per slice b, 1..16, k·b ≤ 32; 2 */
    mx_offset_subtract offset_subtract; /* offset: where the reference is
                                           subtracted; MX_OFFSET_ANALOG */
    mx_half_select half_select; /* MX_HALF_SELECT_OFF */
    int write_pulses;        /* half-select: nominal-width pulses in one cell write, each
                                a V_w/2 pulse on every half-selected cell, 1..2^20; 1 */
    /* The tile as a circuit (crossbar/circuit.h; docs/crossbar.md). All 0: ideal
     * wires, Ohm/Kirchhoff exactly. Any > 0: every programmed tile is replaced by
     * its effective conductances — the transfer matrix i_col = Mᵀ·V of the
     * tile's circuit — computed once at programming by `irdrop`. */
    double r_wire_ohm;       /* wire per segment common to rows and columns, Ω, added
                                to r_row_ohm and r_col_ohm (one knob to sweep); 0 */
    double r_row_ohm;        /* row wire per segment between adjacent cells, Ω; 0 */
    double r_col_ohm;        /* column wire per segment, Ω; 0 */
    double r_src_ohm;        /* row driver output resistance, Ω; 0 */
    double r_sense_ohm;      /* column sense (virtual ground) input resistance, Ω; 0 */
    double r_access_ohm;     /* 1T1R access resistance in series with each cell, Ω; 0 */
    mx_circuit_mode irdrop;  /* MX_CIRCUIT_EXACT */
    int irdrop_sweeps;       /* line-sweeps: alternating row/column line solves, 1..1000; 2 */
    /* Programming (YAML hardware.programming.*; crossbar/matmul.c). */
    mx_programming_mode programming; /* MX_PROGRAMMING_OPEN_LOOP */
    mx_wv_config write_verify; /* write-verify settings, used when programming is
                                  write-verify and checked then (mx_matmul_create);
                                  tolerance, max_iterations, max_pulses_per_iteration
                                  and gain left 0 take mx_wv_config_default's values
                                  (0.01 of the window, 20 trains, 10^6, 0.7), so the
                                  zeroed struct of mx_crossbar_config_default is the
                                  default; the other fields' 0 already means "derived" */
    double reprogram_every_s;  /* YAML hardware.programming.reprogram_every_s: the chip is
                                  reprogrammed every τ_p s, so its cells are
                                  t − τ_p·floor(t/τ_p) old at t_inference_s; 0 = never,
                                  default (mx_time_schedule) */
    mx_drift_config drift;     /* drift compensation reference (crossbar/matmul.c) */
    mx_column_cal_config column_cal; /* per-column calibration (calibration/column_cal.h) */
    mx_fault_map_config fault_map;   /* fault-aware mapping (crossbar/fault_map.c) */
} mx_crossbar_config;

/* Whether the crossbar config has any wire, terminal or access resistance
 * (so tiles go through crossbar/circuit.h). */
int mx_crossbar_has_wires(const mx_crossbar_config *c);

void mx_crossbar_config_default(mx_crossbar_config *c);
/* MX_EINVAL naming the field (crossbar.tile_rows, ...) on bad values. */
mx_status mx_crossbar_config_validate(const mx_crossbar_config *c);

/* How the weights are mapped to conductances (plain data; see mx_matmul_mapping). */
typedef struct mx_mapping {
    double w_abs_max;       /* largest |w| of the matrix (1 for an all-zero matrix) */
    double siemens_per_unit;/* S per weight unit of the (shift-added) column current:
                               differential window/w_abs_max; offset window/(2·w_abs_max);
                               bit-sliced window·(2^(k·b) − 1)/((2^b − 1)·w_abs_max) */
    double w_step;          /* weight quantisation step of the mapping, weight units:
                               bit-sliced w_abs_max/(2^(k·b) − 1), 0 (continuous) otherwise */
} mx_mapping;

/* Running statistics of analog matmul calls (add to by forward calls). The
 * activity counts are what energy/ prices; event-driven like the reads:
 * undriven rows and unread tiles count nothing. */
typedef struct mx_matmul_stats {
    uint64_t conversions;   /* ADC conversions done (every slice, every bit-serial pass,
                               and the reference columns of a digital offset) */
    uint64_t clipped;       /* of which clipped at full scale */
    uint64_t reads;         /* tile reads (one per active row tile per input pass) */
    uint64_t row_drives;    /* driven rows summed over input passes: DAC conversions or
                               spike / bit / PWM driver pulses */
    uint64_t partial_sums;  /* digitised column values added into the digital
                               accumulator (shift-and-add operations): every current of
                               every read, whether or not an ADC quantised it */
    uint64_t read_passes;   /* input passes in which at least one tile was read */
    double cell_power_w;    /* Σ over input passes of the array's read power
                               Σ_j |V_j·φ(V_j)|·Σ_cells G_j (every family, the reference
                               column included), W; × t_read = the cells' read energy */
} mx_matmul_stats;

/* into += x, field by field. */
void mx_matmul_stats_add(mx_matmul_stats *into, const mx_matmul_stats *x);

/* What programming a matmul's cells cost and achieved, summed over every
 * family (the offset reference column included) in row order. Write-verify
 * counts are 0 for open-loop programming, whose single write is not priced. */
typedef struct mx_programming_stats {
    uint64_t cells;         /* cells programmed */
    uint64_t verified;      /* of which went through write-verify (all of them
                               with write-verify, 0 open-loop) */
    uint64_t converged;     /* verified cells whose verify read came within tolerance */
    uint64_t pulses;        /* write-verify pulses, both polarities */
    uint64_t verify_reads;  /* write-verify verify reads */
    double time_serial_s;   /* write-verify time with one cell programmed at a time:
                               Σ over cells of reads·t_read + pulses·width, s
                               (devices/write_verify.c) */
    double energy_j;        /* write-verify pulse and verify-read energy, J */
    double sq_error;        /* Σ over every cell of ((g − target)/(g_max − g_min))²
                               right after programming (after write-verify and
                               half-select disturb; before ageing and wires) */
    /* Open loop, priced only for scheduled reprogramming (reprogram_every_s > 0)
     * on a model with a pulse response: one nominal potentiating pulse per cell. */
    uint64_t write_priced;  /* cells so priced (0 otherwise) */
    double write_energy_j;  /* Σ |V_ltp·I(g_target, V_ltp)|·width_ltp, J */
    double write_time_s;    /* Σ width_ltp, one cell at a time, s */
} mx_programming_stats;

/* into += x, field by field. */
void mx_programming_stats_add(mx_programming_stats *into, const mx_programming_stats *x);

/* What fault-aware mapping cost and predicted (hardware.fault_mapping), per
 * matmul; all 0 with mode none. The errors are predicted from the detected
 * fault map with the stuck cells at the nominal bounds: per logical weight,
 * ((achieved − intended)/w_abs_max)² of the weight the cells represent,
 * summed over every weight (the offset reference column not included). */
typedef struct mx_fault_map_stats {
    uint64_t cells_tested;  /* physical cells tested, the spare columns included */
    uint64_t stuck_low;     /* of which found stuck at g_min */
    uint64_t stuck_high;    /* of which found stuck at g_max */
    uint64_t test_writes;   /* test-pattern writes (2 per tested cell) */
    uint64_t test_reads;    /* test reads (2 per tested cell) */
    uint64_t spare_cells;   /* physical cells of the spare columns (area) */
    uint64_t moved;         /* logical rows and columns not at their own position */
    uint64_t weights;       /* logical weights the errors are summed over */
    double time_serial_s;   /* test time, one cell at a time: Σ (nominal write pulse
                               width + read_time_s) per test, s */
    double energy_j;        /* test energy: one nominal pulse |V·I(V, G)|·t per
                               write plus |V_r·I(V_r, G)|·t_read per read, J */
    double sq_error_before; /* Σ squared relative weight error of the plain layout */
    double sq_error_after;  /* the same for the layout (and partner targets) chosen */
} mx_fault_map_stats;

/* into += x, field by field. */
void mx_fault_map_stats_add(mx_fault_map_stats *into, const mx_fault_map_stats *x);

typedef struct mx_matmul mx_matmul;
typedef struct mx_matmul_work mx_matmul_work;

/* Map W (n_out, n_in) row-major by xbar->mapping and program every cell with
 * `device` (stream "device.program", item = layer_id·2^32 + input row; the
 * row's families in order, see mx_matmul_family). With half_select on, the
 * disturb pulses draw from "crossbar.half_select", same item. With
 * programming = write-verify, each (row, family) is then write-verified
 * toward the same targets with a seed drawn from "crossbar.write_verify",
 * same item (one draw per family, in order); the step priors, unless the
 * config gives them, are characterised once per matmul from `seed`
 * (mx_wv_characterise). The ADC starts uncalibrated: call
 * mx_matmul_set_adc_range() (or calibration/) before forward calls when
 * adc->kind != MX_ADC_NONE. With fault_map.mode != none every physical
 * cell is first tested (writes replaying "device.program" and, for spare
 * columns, "crossbar.spare_columns"; reads from "crossbar.fault_test"; same
 * item) and the weights are written in the layout the mode chooses
 * (crossbar/fault_map.c); the stream items are then physical rows, and the
 * conductance arrays stay in logical order. Fails with MX_EINVAL (bad
 * config, W not finite, half_select with a device whose pulse response does
 * not depend on amplitude, write-verify with a device that has no pulse
 * response or together with half_select, fault mapping with half_select,
 * partner with the offset mapping, permute or spare-columns with wires),
 * MX_ENOMEM. */
mx_status mx_matmul_create(const float *w, size_t n_out, size_t n_in,
                           const mx_crossbar_config *xbar, const mx_device_type *device,
                           const mx_device_params *device_params, const mx_adc_config *adc,
                           uint64_t seed, uint32_t layer_id, mx_matmul **out);
void mx_matmul_destroy(mx_matmul *mm);

size_t mx_matmul_n_in(const mx_matmul *mm);
size_t mx_matmul_n_out(const mx_matmul *mm);
size_t mx_matmul_n_row_tiles(const mx_matmul *mm);
mx_mapping mx_matmul_mapping(const mx_matmul *mm);
const mx_crossbar_config *mx_matmul_config(const mx_matmul *mm);
/* The ADC configuration the matmul was created with. */
const mx_adc_config *mx_matmul_adc_config(const mx_matmul *mm);
/* Σ over every family and column of input row j's conductances as a read
 * sees them (effective ones with wires), S: the row's load, for read energy. */
double mx_matmul_row_conductance(const mx_matmul *mm, size_t j);

/* The programmed conductances of families 0 and 1 (differential: G+ and G−;
 * bit-sliced: slice 0's G+ and G−), (n_in, n_out) row-major, siemens: OUT
 * g_pos, g_neg (either may be NULL). Offset: g_pos is the weight cells,
 * g_neg NULL (the reference has another shape: mx_matmul_family). */
void mx_matmul_conductances(const mx_matmul *mm, const float **g_pos, const float **g_neg);

/* Physical column families: differential 2 (G+, G−); offset 2 (cells, then
 * the reference column of every column tile); bit-sliced 2·slices (slice s:
 * G+ at 2s, G− at 2s + 1; slice 0 the least significant). */
size_t mx_matmul_n_families(const mx_matmul *mm);
/* What programming the matmul cost (see mx_programming_stats). OUT: *out. */
void mx_matmul_programming_stats(const mx_matmul *mm, mx_programming_stats *out);
/* RMS of (g − target)/(g_max − g_min) over every cell right after
 * programming, from mx_matmul_programming_stats. */
double mx_programming_rms_error(const mx_programming_stats *s);
/* What fault-aware mapping cost and predicted. OUT: *out (zero with mode none). */
void mx_matmul_fault_map_stats(const mx_matmul *mm, mx_fault_map_stats *out);
/* The fault map and layout fault-aware mapping chose (NULL with mode none):
 * faults of family f at physical positions, (n_in, *cols) row-major, 0
 * healthy, 1 stuck at g_min, 2 stuck at g_max; per-output families have
 * *cols = n_out + n_col_tiles·S physical columns (column tile t's spares at
 * n_out + t·S + s; S = spare_columns in spare-columns mode, else 0), the
 * offset reference n_col_tiles. OUT row_of (n_in): the logical input at each
 * physical row; col_of (*cols of family 0): the logical output at each
 * physical column, SIZE_MAX where none. Any OUT pointer may be NULL. */
const unsigned char *mx_matmul_fault_cells(const mx_matmul *mm, size_t f, size_t *cols,
                                           const size_t **row_of, const size_t **col_of);
/* Family f's programmed conductances, (n_in, *cols) row-major, siemens;
 * OUT cols: n_out, or n_col_tiles for the offset reference. f < n_families. */
const float *mx_matmul_family(const mx_matmul *mm, size_t f, size_t *cols);

/* Column currents a forward call can offer the ADC per active row tile and
 * input pass: n_out per slice (one slice unless bit-sliced), plus the
 * reference columns of a digital offset. Times the passes per call
 * (mx_matmul_input_passes) and the active row tiles, an upper bound on the
 * currents one call offers a mx_current_recorder. */
size_t mx_matmul_currents_per_read(const mx_matmul *mm);
/* Reads per forward call and row tile: dac_bits − 1 (at least 1) for
 * bit-serial input, 1 otherwise. */
size_t mx_matmul_input_passes(const mx_matmul *mm);

/* ---- drift reference and digital output correction ----
 *
 * With xbar->drift.mode != none, mx_matmul_create measures a reference right
 * after programming, before ageing to t_inference_s: calibration vector v
 * (mx_matmul_drift_input) read through the forward path with read noise
 * drawn from stream "crossbar.drift_reference", item layer_id·2^32 + v, and
 * an exact conversion (the inference ADC range is not set yet at
 * programming time; see docs/calibration.md), accumulating Σ_v |y_v[o]|. */
typedef struct mx_drift_reference {
    size_t vectors;            /* calibration vectors read (0: none measured) */
    const double *col_abs_sum; /* (n_out) Σ_v |y_v[o]|, weight units; NULL if none */
    double abs_sum;            /* Σ_o col_abs_sum[o] (in column order) */
    mx_matmul_stats stats;     /* what the reference reads did (priced like inference) */
} mx_drift_reference;

/* OUT: *out, the reference measured at create (vectors 0 when mode none). */
void mx_matmul_drift_reference(const mx_matmul *mm, mx_drift_reference *out);

/* Where the evaluation time t (hardware.device.t_inference_s, since the first
 * programming) sits in a chip's life of scheduled reprogramming (period
 * τ_p = xbar->reprogram_every_s) and recalibration (τ_c =
 * xbar->drift.recalibrate_every_s), docs/calibration.md. Each (re)programming
 * takes its own t0 reference; recalibrations count the cells' age from the
 * last programming, at ages k·τ_c < τ_p. At t = k·τ_p the chip has just been
 * reprogrammed (age 0). */
typedef struct mx_time_schedule {
    double t_s;              /* evaluation time since the first programming, s */
    double age_s;            /* the cells' age at t: t − τ_p·floor(t/τ_p) (t if τ_p = 0) */
    int recalibrated;        /* 1 when a recalibration after the last programming sets
                                the factors applied at t (always with τ_c = 0 and
                                compensation on); 0: the t0 reference only, identity */
    double recal_age_s;      /* the cells' age at that recalibration:
                                τ_c·floor(age/τ_c), age_s when τ_c = 0; 0 if none */
    uint64_t reprogrammings; /* floor(t/τ_p) after the first programming; 0 if τ_p = 0 */
    uint64_t recalibrations; /* calibration measurements (after a t0 reference) up to t,
                                over every programming period; 1 with τ_c = 0 and
                                compensation on; 0 with compensation none */
} mx_time_schedule;

/* OUT: *out, the schedule of xbar at evaluation time t_s ≥ 0. */
void mx_time_schedule_at(const mx_crossbar_config *xbar, double t_s, mx_time_schedule *out);
/* OUT: *out, the schedule mm was created with (its t_inference_s). */
void mx_matmul_time_schedule(const mx_matmul *mm, mx_time_schedule *out);
/* Re-age every cell from its programmed state to age_s ≥ 0 (the same targets
 * and "device.age" stream items as create, so ageing back to the schedule's
 * age_s gives the create bits), then the wires and read arrays. Kept
 * possible only when a recalibration reads an earlier state
 * (0 < recal_age_s < age_s with compensation on and an ageing device):
 * MX_EINVAL otherwise; MX_ENOMEM. The ADC and output correction are kept. */
mx_status mx_matmul_set_age(mx_matmul *mm, double age_s);
/* Calibration vector v of xbar->drift (any v; the same at programming and
 * at read time): row j is at full scale (1 for spikes, input_full_scale
 * otherwise) when a uniform from stream "crossbar.drift_input", item
 * layer_id·2^32 + v (one draw per row), is below density; else 0. OUT: x (n_in). */
void mx_matmul_drift_input(const mx_matmul *mm, size_t v, float *x);

/* Digital correction of the outputs after conversion and shift-and-add, in
 * weight units: y[o] ← gain[o]·y[o] + offset[o] (both twins). gain and
 * offset are (n_out) and copied; either may be NULL (1, resp. 0); both
 * NULL restores the identity, under which forward calls give the very bits
 * they gave before any correction. MX_EINVAL if a value is not finite,
 * MX_ENOMEM. */
mx_status mx_matmul_set_output_correction(mx_matmul *mm, const double *gain,
                                          const double *offset);
/* OUT: *gain, *offset (n_out each), both NULL while the correction is the
 * identity; either pointer may be NULL. */
void mx_matmul_output_correction(const mx_matmul *mm, const double **gain,
                                 const double **offset);

/* The weights the matmul was created from, (n_out, n_in) row-major, weight
 * units — kept only when xbar->column_cal.mode != none (the digital
 * reference of calibration/column_cal.h); NULL otherwise. */
const float *mx_matmul_target_weights(const mx_matmul *mm);

/* Full-scale current of every column ADC, A. MX_EINVAL if not > 0. */
mx_status mx_matmul_set_adc_range(mx_matmul *mm, double range_a);
double mx_matmul_adc_range(const mx_matmul *mm);
/* Set every column ADC from a calibration result (a lloyd-max ADC's fitted
 * levels, or a range): the ADCs are rebuilt with their instances' draws from
 * stream "adc.instance", item layer_id·2^32 + instance (adc/adc.h). On
 * failure the ADCs are left as they were. MX_EINVAL, MX_ENOMEM. */
mx_status mx_matmul_set_adc_fit(mx_matmul *mm, const mx_adc_fit *fit);
/* The column ADCs as set up (kind, bits, levels, instances). */
const mx_adc *mx_matmul_adc(const mx_matmul *mm);

/* Per-thread scratch for forward calls. */
mx_status mx_matmul_work_create(const mx_matmul *mm, mx_matmul_work **out);
void mx_matmul_work_destroy(mx_matmul_work *w);
/* Keep *w a workspace of mm: when *owner is not mm, destroy *w and create one
 * for mm (none when mm is NULL), recording mm in *owner. For callers that
 * hold one workspace per layer while the layer's matmul may be replaced. */
mx_status mx_matmul_work_follow(const mx_matmul *mm, mx_matmul_work **w, const mx_matmul **owner);

/* Optional recorder of the analog column currents before the ADC (for ADC
 * range calibration): every `stride`-th active tile column current (A) is
 * appended to values while count < capacity (stride 0 or 1: all). */
typedef struct mx_current_recorder {
    float *values;
    size_t capacity;
    size_t count;
    size_t stride;
    size_t seen;     /* currents offered so far */
} mx_current_recorder;

/* y ≈ W·x. x: (n_in), y: OUT (n_out), in weight units. `read_rng` supplies
 * this read's noise (the caller positions it: one stream item per
 * image/time step keeps results independent of threading). `stats` and
 * `rec` may be NULL; rec sees currents in the order pass, row tile, slice,
 * column (then a digital offset's reference columns). In spike mode x must
 * hold only 0 and 1. No allocation. */
void mx_matmul_forward(const mx_matmul *mm, mx_matmul_work *w, const float *x, float *y,
                       mx_rng *read_rng, mx_matmul_stats *stats, mx_current_recorder *rec);

/* Batched mx_matmul_forward: x (batch, n_in) row-major, y OUT (batch, n_out),
 * in weight units, image b as mx_matmul_forward(x + b·n_in) gives it up to
 * the order of the float sums inside a tile: each row tile's column currents
 * for a block of images are one SGEMM on the read conductances, then every
 * image goes through the same ADC conversion, shift-add and output
 * correction. Outputs agree with the per-vector path to one ADC LSB per
 * conversion (bit for bit unless a current sits within float rounding of a
 * decision level); `stats` (may be NULL) accumulates the same counts, image
 * by image. Only for reads that draw nothing and take one pass: MX_EINVAL
 * naming the reason for read noise (device.read_noise_sigma > 0), ADC input
 * noise (adc.noise_sigma_lsb > 0) or bit-serial input; dac, spikes and pwm
 * inputs, every mapping, wires, nonlinear I–V and output correction are
 * supported. Allocates scratch for up to 64 images per call (MX_ENOMEM). */
mx_status mx_matmul_forward_batch(const mx_matmul *mm, mx_matmul_work *w, const float *x,
                                  size_t batch, float *y, mx_matmul_stats *stats);

/* The plain reference twin of mx_matmul_forward: dense loops, per-cell read
 * noise through the device's read function, no event skipping. Same
 * distribution; with no read noise, the same values to rounding. */
void mx_matmul_forward_reference(const mx_matmul *mm, mx_matmul_work *w, const float *x,
                                 float *y, mx_rng *read_rng, mx_matmul_stats *stats);

#endif /* MX_CROSSBAR_H */
