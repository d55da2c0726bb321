/* SPDX-License-Identifier: MIT
 *
 * dynamic.h: the dynamic memristor models (devices/dynamic.c) — linear ion
 * drift (Strukov et al., Nature 453:80, 2008) with the Joglekar, Biolek or
 * Prodromakis window, VTEAM (Kvatinsky et al., IEEE TCAS-II 62:786, 2015) and
 * the Stanford-PKU RRAM (Jiang et al., IEEE TED 63:1884, 2016) — seen from
 * outside the device table: their cell records, the window and state-rate
 * functions, and the integration of one cell (or the nominal device) under an
 * arbitrary voltage waveform, which is how `memxbar device curve` draws
 * pinched hysteresis loops.
 *
 * The state x ∈ [0, 1] is the model's own: w/D for linear ion drift (x = 1
 * is ON, R_ON), (w − w_on)/(w_off − w_on) for VTEAM (x = 1 is OFF, R_OFF),
 * (g − gap_min)/(gap_max − gap_min) of the filament gap g for pku (x = 1 is
 * OFF). Voltages here are the raw device voltage: VTEAM switches ON at
 * v < v_on < 0 (the crossbar's potentiating pulse reaches a VTEAM cell as
 * −V); pku SETs (the gap shrinks) at v > 0.
 */
#ifndef MX_DYNAMIC_H
#define MX_DYNAMIC_H

#include <stddef.h>

#include "core/core.h"
#include "devices/devices.h"

/* The record of a dynamic cell (mx_device_type.cell_floats floats). */
enum {
    MX_DYNAMIC_CELL_X = 0,  /* state x ∈ [0, 1] */
    MX_DYNAMIC_CELL_R_ON,   /* this cell's R_ON, Ω (with D2D variation) */
    MX_DYNAMIC_CELL_R_OFF,  /* this cell's R_OFF, Ω */
    MX_DYNAMIC_CELL_FLOATS
};

/* The record of a pku cell (as many floats, x in the same slot). */
enum {
    MX_PKU_CELL_X = MX_DYNAMIC_CELL_X, /* normalised gap x ∈ [0, 1] */
    MX_PKU_CELL_I0,                    /* this cell's I0, A (with D2D variation) */
    MX_PKU_CELL_NU0,                   /* this cell's ν0, m/s */
    MX_PKU_CELL_FLOATS
};

/* A voltage waveform: v(t) in volts at time t_s. ctx is the caller's. */
typedef double (*mx_waveform_fn)(double t_s, void *ctx);

/* True iff type is one of the dynamic models (linear-ion-drift, vteam, pku). */
int mx_dynamic_is(const mx_device_type *type);

/* Check the fields a dynamic model's equations use (hardware.device.dynamic.*,
 * and hardware.device.pku.* for pku; not the conductance window, pulses or
 * noise, which the device table's validate checks as well). MX_EINVAL naming
 * the field, also when type is not a dynamic model. */
mx_status mx_dynamic_check(const mx_device_type *type, const mx_device_params *p);

/* Window function f(x) of linear ion drift for p->dynamic.window, at state x
 * (clamped to [0, 1]) and current i_a (Biolek's stp(−i) needs its sign;
 * stp(0) = 1). Even powers are taken as |·|^(2p), so any p > 0 is defined. */
double mx_dynamic_window(const mx_dynamic_params *d, double x, double i_a);

/* Resistance of a cell at state x, Ω: cell is a record, or NULL for the
 * nominal device. For pku, whose I–V is not linear, V_r/I(x, V_r) at the read
 * voltage V_r = iv.v_read_v: the conductance the device table reports is its
 * inverse. NaN when type is not a dynamic model. */
double mx_dynamic_resistance(const mx_device_type *type, const mx_device_params *p,
                             const float *cell, double x);

/* Current through a cell (record, or NULL: the nominal device) at state x
 * under device voltage v_v, A: v/R(x) for linear ion drift and VTEAM,
 * I0·exp(−g/g0)·sinh(v/V0) for pku. NaN when type is not a dynamic model. */
double mx_dynamic_current(const mx_device_type *type, const mx_device_params *p,
                          const float *cell, double x, double v_v);

/* The nominal device's conductance window, S: OUT g_lo_s = 1/R(OFF state),
 * g_hi_s = 1/R(ON state) (for pku, read conductances at gap_max and
 * gap_min). The table's validate asks for [g_min_s, g_max_s] inside it.
 * Fails as mx_dynamic_check. */
mx_status mx_dynamic_conductance_window(const mx_device_type *type, const mx_device_params *p,
                                        double *g_lo_s, double *g_hi_s);

/* The pulse amplitude a nominal pulse must exceed to move every state of the
 * nominal device, V: max(|v_on|, v_off) for VTEAM, F_min·t_ox/γ(gap_max) for
 * pku (γ·|V|/t_ox falls with the gap), 0 for linear ion drift (no
 * threshold). NaN when type is not a dynamic model. */
double mx_dynamic_switching_threshold_v(const mx_device_type *type, const mx_device_params *p);

/* pku: the local filament temperature of a cell (record, or NULL: nominal) at
 * state x under device voltage v_v, T = T0 + |v·I(x, v)|·R_th with T0 =
 * temperature_k, K. NaN when type is not pku. */
double mx_pku_temperature(const mx_device_type *type, const mx_device_params *p,
                          const float *cell, double x, double v_v);

/* dx/dt of a cell (record, or NULL: the nominal device) at state x under
 * device voltage v_v, 1/s; 0 where the state would leave [0, 1]. */
double mx_dynamic_rate(const mx_device_type *type, const mx_device_params *p, const float *cell,
                       double x, double v_v);

/* Integrate one cell under the waveform v(t) and sample it at the n times
 * t_s[0] < t_s[1] < ... (s). The state at t_s[0] is the cell's x (cell is
 * a record, IN/OUT: its x is advanced to t_s[n−1]) or, with cell == NULL,
 * the nominal device's x0. OUT, each optional (NULL) and of length n: v_v
 * (V), i_a (A, the model's current at (x, v), mx_dynamic_current: 0 at
 * v = 0, so the loop is pinched at the origin by construction), x. The
 * waveform may be discontinuous; put a sample at each jump so the solver
 * does not step across it. Fails with MX_EINVAL (not a dynamic model, bad
 * hardware.device.dynamic.* or pku.* field, n == 0, times not finite and
 * increasing, NULL wave), MX_ENOMEM (GSL could not allocate its solver;
 * only reached when GSL's abort-on-error handler is off), MX_ENUMERIC (the
 * solver could not meet ode_rel_tol; the outputs hold the samples before). */
mx_status mx_dynamic_integrate(const mx_device_type *type, const mx_device_params *p,
                               float *cell, mx_waveform_fn wave, void *wave_ctx,
                               const double *t_s, size_t n, double *v_v, double *i_a, double *x);

/* The nominal device (from x0) under v(t) = amplitude_v·sin(2π·frequency_hz·t)
 * for `cycles` periods, sampled samples_per_cycle times a period: OUT t_s,
 * v_v, i_a, x (each optional), of length cycles·samples_per_cycle + 1 (t = 0
 * and every sample up to the end of the last period). Fails as
 * mx_dynamic_integrate, and with MX_EINVAL for a non-finite amplitude,
 * frequency ≤ 0, cycles == 0 or samples_per_cycle < 4. */
mx_status mx_dynamic_sweep(const mx_device_type *type, const mx_device_params *p,
                           double amplitude_v, double frequency_hz, size_t cycles,
                           size_t samples_per_cycle, double *t_s, double *v_v, double *i_a,
                           double *x);

/* Area of the positive-voltage lobe of a sampled i–v curve, V·A: |Σ ½(i_k +
 * i_{k+1})(v_{k+1} − v_k)| over the segments whose midpoint voltage is > 0
 * (trapezoidal ∮ i dv). For samples covering one period of a sinusoid this
 * is the area the lobe encloses; 0 for a memoryless resistor. n ≥ 2. */
double mx_dynamic_lobe_area(const double *v_v, const double *i_a, size_t n);

#endif /* MX_DYNAMIC_H */
