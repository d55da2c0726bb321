/* SPDX-License-Identifier: MIT
 *
 * dynamic.h: the dynamic memristor models (devices/dynamic.c) — linear ion
 * drift (Strukov et al., Nature 453:80, 2008) with the Joglekar, Biolek or
 * Prodromakis window, and VTEAM (Kvatinsky et al., IEEE TCAS-II 62:786,
 * 2015) — seen from outside the device table: their cell record, the
 * window and state-rate functions, and the integration of one cell (or the
 * nominal device) under an arbitrary voltage waveform, which is how
 * `memxbar device curve` draws pinched hysteresis loops.
 *
 * The state x ∈ [0, 1] is the model's own: w/D for linear ion drift (x = 1
 * is ON, R_ON), (w − w_on)/(w_off − w_on) for VTEAM (x = 1 is OFF, R_OFF).
 * Voltages here are the raw device voltage: VTEAM switches ON at v < v_on < 0
 * (the crossbar's potentiating pulse reaches a VTEAM cell as −V).
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

/* A voltage waveform: v(t) in volts at time t_s. ctx is the caller's. */
typedef double (*mx_waveform_fn)(double t_s, void *ctx);

/* True iff type is one of the dynamic models (linear-ion-drift, vteam). */
int mx_dynamic_is(const mx_device_type *type);

/* Check the fields a dynamic model's equations use (hardware.device.dynamic.*
 * and nothing else: not the conductance window, pulses or noise, which the
 * device table's validate checks as well). MX_EINVAL naming the field, also
 * when type is not a dynamic model. */
mx_status mx_dynamic_check(const mx_device_type *type, const mx_device_params *p);

/* Window function f(x) of linear ion drift for p->dynamic.window, at state x
 * (clamped to [0, 1]) and current i_a (Biolek's stp(−i) needs its sign;
 * stp(0) = 1). Even powers are taken as |·|^(2p), so any p > 0 is defined. */
double mx_dynamic_window(const mx_dynamic_params *d, double x, double i_a);

/* Resistance of a cell at state x, Ω: cell is a record, or NULL for the
 * nominal device. */
double mx_dynamic_resistance(const mx_device_type *type, const mx_device_params *p,
                             const float *cell, double x);

/* dx/dt of a cell (record, or NULL: the nominal device) at state x under
 * device voltage v_v, 1/s; 0 where the state would leave [0, 1]. */
double mx_dynamic_rate(const mx_device_type *type, const mx_device_params *p, const float *cell,
                       double x, double v_v);

/* Integrate one cell under the waveform v(t) and sample it at the n times
 * t_s[0] < t_s[1] < ... (s). The state at t_s[0] is the cell's x (cell is
 * a record, IN/OUT: its x is advanced to t_s[n−1]) or, with cell == NULL,
 * the nominal device's x0. OUT, each optional (NULL) and of length n: v_v
 * (V), i_a (A, = v/R(x): the loop is pinched at the origin by construction),
 * x. The waveform may be discontinuous; put a sample at each jump so the
 * solver does not step across it. Fails with MX_EINVAL (not a dynamic
 * model, bad hardware.device.dynamic.* field, n == 0, times not finite and
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
