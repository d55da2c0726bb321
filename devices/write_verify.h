/* SPDX-License-Identifier: MIT
 *
 * write_verify.h: closed-loop program-and-verify of an array of cells of any
 * device type that has a pulse response (mx_device_type.pulse). A round reads
 * every cell that is still active (a verify read through the device's read,
 * read noise included), retires those within tolerance of their target, and
 * sends the others a pulse train of the right polarity, sized from the error
 * and the cell's own step estimate, with the amplitude or width schedule of
 * the config. The round repeats until every cell has converged or used its
 * trains (GSL's init/iterate/test shape, so a caller can watch it). Pulses,
 * verify reads, programming time and energy are accounted per cell; the
 * residual error is the TRUE conductance against the target, not the read.
 * Model, choices and sources: devices/write_verify.c.
 *
 * Cells belong to the caller: the record array (cell_floats per cell) and
 * the conductances g_s are borrowed by mx_wv_init and updated in place by
 * every round. Randomness: Philox streams keyed by (seed, name, cell index
 * and round), so results do not depend on the thread count.
 */
#ifndef MX_WRITE_VERIFY_H
#define MX_WRITE_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "devices/devices.h"

/* How the pulses of successive trains of one cell are shaped. */
typedef enum mx_wv_schedule {
    MX_WV_FIXED = 0,             /* every pulse nominal (device pulse.* amplitude, width) */
    MX_WV_INCREMENTAL_AMPLITUDE, /* ISPP: amplitude v_start + k·v_step (k = trains
                                    since the polarity last changed), capped at
                                    v_max; nominal width */
    MX_WV_INCREMENTAL_WIDTH,     /* the same with the width; nominal amplitude */
} mx_wv_schedule;

/* Largest max_iterations (rounds are packed with the cell index into a
 * stream item). */
#define MX_WV_MAX_ITERATIONS 1000000

typedef struct mx_wv_config {
    double tolerance;          /* a verify read within tolerance·(g_max − g_min) of
                                  the target retires the cell, fraction of the
                                  window, in (0, 1); 0.01 */
    int max_iterations;        /* pulse trains per cell at most, 1..1e6; 20 (a
                                  cell gets at most max_iterations + 1 verify reads) */
    mx_wv_schedule schedule;   /* MX_WV_FIXED */
    int pulses_per_iteration;  /* pulses in each train: 0 = round(gain·|error| / the
                                  cell's step estimate), clamped to
                                  [1, max_pulses_per_iteration]; ≥ 1 = always
                                  that many (classic one-pulse ISPP: 1); 0 */
    int max_pulses_per_iteration; /* cap of the estimated count, 1..2^31−1; 0 = the
                                  pulses that cross the window twice at the
                                  characterised nominal step, ceil(2/step_frac)
                                  per polarity (a cell that does not move — stuck
                                  — is not hammered by ever longer trains); 0 */
    double gain;               /* the estimated count is round(gain·|error|/step):
                                  under-relaxation against overshoot, in (0, 1]; 0.7 */
    double step_ltp_frac;      /* the programmer's prior of the conductance change
                                  of one nominal potentiating pulse, fraction of
                                  the window; 0 = characterised at init on scratch
                                  cells (see write_verify.c); 0 */
    double step_ltd_frac;      /* the same for a depressing pulse; 0 */
    double v_start_v;          /* first amplitude of the incremental-amplitude
                                  schedule, V; 0 = 0.8 × the nominal amplitude of
                                  the polarity; 0 */
    double v_step_v;           /* its increment per train, V; 0 = 0.05 × nominal; 0 */
    double v_max_v;            /* its cap, V; 0 = 1.5 × nominal; 0 */
    double width_start_s;      /* first width of the incremental-width schedule,
                                  s; 0 = 0.5 × the nominal width; 0 */
    double width_step_s;       /* its increment per train, s; 0 = 0.25 × nominal; 0 */
    double width_max_s;        /* its cap, s; 0 = 10 × nominal; 0 */
    double verify_energy_j;    /* periphery energy of one verify read (sense
                                  amplifier or ADC conversion), J, added to the
                                  cell's read energy; 0 (cells only) */
} mx_wv_config;

void mx_wv_config_default(mx_wv_config *c);

/* Check a config: MX_EINVAL naming the field ("write_verify.tolerance:
 * expected ..., got ..."). */
mx_status mx_wv_config_validate(const mx_wv_config *c);

/* What one cell went through. */
typedef struct mx_wv_cell {
    int64_t pulses;       /* pulses applied, both polarities */
    int32_t trains;       /* pulse trains (iterations that pulsed) */
    int32_t reads;        /* verify reads */
    int32_t converged;    /* 1 once a verify read was within tolerance */
    int32_t active;       /* 1 while the cell still takes part in rounds */
    float error_s;        /* true g − target after the last round, S */
    double time_s;        /* its reads and trains back to back, s */
    double energy_j;      /* its pulse and read energy, J */
} mx_wv_cell;

/* Totals over the array, summed in cell order. */
typedef struct mx_wv_totals {
    size_t cells;
    size_t converged;        /* cells retired within tolerance */
    size_t active;           /* cells still taking part */
    int rounds;              /* mx_wv_iterate calls that did something */
    int64_t pulses;          /* Σ pulses */
    int64_t trains;          /* Σ pulse trains */
    int64_t reads;           /* Σ verify reads */
    double time_serial_s;    /* one cell at a time: Σ over cells of (reads·t_read
                                + Σ train durations) — the time model reported
                                as the programming time (write_verify.c) */
    double time_parallel_s;  /* every active cell at once: Σ over rounds of the
                                longest (t_read + train) of the round (a bound) */
    double energy_pulse_j;   /* Σ n·|V·I(V, Ḡ)|·t over trains */
    double energy_read_j;    /* Σ |V_r·I(V_r, G)|·t_read + verify_energy_j over reads */
    double rms_error_frac;   /* sqrt(mean (g − target)²)/(g_max − g_min), true g */
    double max_error_frac;   /* max |g − target|/(g_max − g_min) */
} mx_wv_totals;

typedef struct mx_wv mx_wv;

/* Start write-verify on n cells. `type` must have a pulse function and pass
 * its validate on p; cells holds n·type->cell_floats floats (NULL iff
 * cell_floats == 0) and g_s their n conductances, consistent (populated, and
 * programmed or pulsed by that type, e.g. by mx_wv_program_open_loop); both
 * are borrowed and updated in place by every round, and must outlive wv.
 * g_target_s (n, S, finite, ≥ 0) is copied; a target a cell cannot hold
 * never converges. Unless the config gives both step priors, they are
 * characterised here on scratch cells (stream "write_verify.probe"). p and
 * type are borrowed too. OUT: *out, NULL on failure. Fails with MX_EINVAL
 * (bad config field, a type without pulse, p rejected by its validate,
 * n == 0, NULL arrays, a target not finite or < 0), MX_ENOMEM. */
mx_status mx_wv_init(const mx_wv_config *cfg, const mx_device_type *type,
                     const mx_device_params *p, float *cells, float *g_s,
                     const float *g_target_s, size_t n, uint64_t seed, mx_wv **out);

/* Release; NULL is accepted. */
void mx_wv_destroy(mx_wv *wv);

/* One round over the active cells (OpenMP over cells): verify read; within
 * tolerance → converged; out of trains → given up; else one pulse train.
 * Returns the cells still active after the round (0: done; further calls do
 * nothing). Cannot fail. */
size_t mx_wv_iterate(mx_wv *wv);

/* Rounds until no cell is active (at most max_iterations + 1). OUT: totals
 * (may be NULL). Returns the number of converged cells. */
size_t mx_wv_run(mx_wv *wv, mx_wv_totals *totals);

/* Cells retired within tolerance so far, and cells still active. */
size_t mx_wv_converged(const mx_wv *wv);
size_t mx_wv_active(const mx_wv *wv);

/* Per-cell reports (n), valid until the next round or destroy. */
const mx_wv_cell *mx_wv_cells(const mx_wv *wv);

/* The trains the last round sent (n; count 0 for a cell that got none), as
 * sent: amplitude_v and width_s resolved (never 0). */
const mx_pulse *mx_wv_last_pulses(const mx_wv *wv);

/* The step priors in use, fraction of the window per nominal pulse (given by
 * the config or characterised at init). OUT: either may be NULL. */
void mx_wv_step_priors(const mx_wv *wv, double *ltp_frac, double *ltd_frac);

/* Totals now (true errors from the current g_s). */
void mx_wv_get_totals(const mx_wv *wv, mx_wv_totals *totals);

/* Quantiles of the residual |g − target|/(g_max − g_min) over the cells
 * (n_q probabilities q in [0, 1], linear interpolation between order
 * statistics, numpy's default), and of the pulses per cell. OUT: out (n_q).
 * MX_EINVAL for q outside [0, 1] or NaN, MX_ENOMEM. */
mx_status mx_wv_error_quantiles(const mx_wv *wv, const double *q, size_t n_q, double *out);
mx_status mx_wv_pulse_quantiles(const mx_wv *wv, const double *q, size_t n_q, double *out);

/* The characterisation mx_wv_init runs when the config gives no step
 * priors: the mean conductance change of one nominal potentiating
 * (depressing) pulse on 16 scratch cells, fraction of the window (> 0).
 * A caller can use it to choose pulses fine enough for a tolerance (a step
 * above the tolerance band cannot land in it). OUT: either may be NULL.
 * MX_EINVAL as mx_wv_init's checks of type and p, MX_ENOMEM. */
mx_status mx_wv_characterise(const mx_device_type *type, const mx_device_params *p,
                             uint64_t seed, double *ltp_frac, double *ltd_frac);

/* Populate n fresh cells of `type` (stream "write_verify.populate") and
 * program them open-loop toward g_target_s with the type's own program
 * (stream "write_verify.open_loop"), each cell keyed by its index, so the
 * result does not depend on threads: the usual start of write-verify and the
 * open-loop baseline it improves on. OUT: cells (n·cell_floats; NULL iff
 * cell_floats == 0), g_s (n). MX_EINVAL as mx_wv_init's checks of type, p
 * and arrays. */
mx_status mx_wv_program_open_loop(const mx_device_type *type, const mx_device_params *p,
                                  float *cells, float *g_s, const float *g_target_s, size_t n,
                                  uint64_t seed);

#endif /* MX_WRITE_VERIFY_H */
