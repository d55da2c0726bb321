/* SPDX-License-Identifier: MIT
 *
 * dynamic.c: memristors described by a state equation dx/dt = F(x, v),
 * integrated in time with GSL's adaptive ODE solver (gsl_odeiv2, rkf45 under
 * a driver, relative tolerance dynamic.ode_rel_tol). Three models
 * (paper-tables.md §9.1, §9.2, §9.4):
 *
 * Linear ion drift (Strukov, Snider, Stewart & Williams, Nature 453:80,
 * 2008), x = w/D ∈ [0, 1], x = 1 fully doped (ON):
 *   R(x) = R_ON·x + R_OFF·(1 − x),   i = v/R(x),
 *   dx/dt = (μ_v·R_ON/D²)·i·f(x)
 * with the window f of dynamic.window (Kvatinsky's Verilog-A report,
 * Table 3; the forms of paper-tables.md §9.1, not MemTorch's, whose Python
 * windows misplace parentheses):
 *   none         f = 1 (x is stopped at 0 and 1)
 *   Joglekar     f = 1 − (2x − 1)^(2p)           (Joglekar & Wolf, Eur. J.
 *                                                 Phys. 30:661, 2009)
 *   Biolek       f = 1 − (x − stp(−i))^(2p)      (Biolek et al.,
 *                                                 Radioengineering 18:210, 2009)
 *   Prodromakis  f = j·(1 − ((x − 0.5)² + 0.75)^p) (Prodromakis et al.,
 *                                                 IEEE TED 58:3099, 2011)
 * R_ON in the rate is the cell's own: the boundary moves at μ_v·E with E
 * the field i·R_ON/D across the doped region.
 *
 * VTEAM (Kvatinsky, Ramadan, Friedman & Kolodny, IEEE TCAS-II 62:786, 2015),
 * x = (w − w_on)/(w_off − w_on), x = 1 is OFF, D = w_off − w_on:
 *   dx/dt = (k_off/D)·(v/v_off − 1)^α_off   for v > v_off > 0
 *         = 0                               for v_on ≤ v ≤ v_off
 *         = (k_on/D)·(v/v_on − 1)^α_on      for v < v_on < 0   (k_on < 0)
 *   R(x) = R_ON + (R_OFF − R_ON)·x (linear I–V, MemTorch's and our default)
 *        or R_ON·exp(λx), λ = ln(R_OFF/R_ON) (dynamic.vteam_iv = exponential)
 * with MemTorch's defaults (k_on = −10 m/s, k_off = 5e-4 m/s, α_on = 3,
 * α_off = 1, v_on = −0.2 V, v_off = 0.02 V, 50 Ω / 1 kΩ, D = 3 nm) and, as
 * MemTorch, no window: x is stopped at 0 and 1.
 *
 * Stanford-PKU RRAM (Jiang, Zheng, Chen, Wang, Kang, Wong & Yu, IEEE TED
 * 63:1884, 2016; the Verilog-A rram_v_1_0_0.va; MemTorch Stanford_PKU
 * defaults), the filament gap g ∈ [gap_min, gap_max], x = (g − gap_min)/
 * (gap_max − gap_min), x = 1 is OFF:
 *   I = I0·exp(−g/g0)·sinh(V/V0)
 *   dg/dt = −ν0·exp(−q·E_a/(k·T))·sinh(γ·a0/t_ox·q·V/(k·T)),
 *   γ = γ0 − β·(g/1 nm)³, and dg/dt = 0 where γ·|V|/t_ox < F_min
 *   T = T0 + |V·I|·R_th   (T0 = temperature_k; self-heating)
 * V > 0 shrinks the gap (SET, conductance up), V < 0 grows it (RESET): the
 * sign of rram.va's V(TE, BE). The variation term of rram.va's dynamic model,
 * δg0·N(0, 1)/(1 + exp((T_crit − T)/T_smth)), is the cycle-to-cycle noise
 * (below). q = 1.6e-19 C and k = 1.3806503e-23 J/K are the source's own
 * constants (CODATA's would move q/k by 0.13 % and the rates by ~3 % at
 * 300 K; the fit was made with these). The conductance the device table
 * reports is I(g, V_r)/V_r at the read voltage V_r = iv.v_read_v (MemTorch
 * reads at 0.1 V: 541.8 Ω at 0.2 nm, 218.6 kΩ at 1.7 nm); the crossbar's sinh
 * I–V (iv.kind = sinh, b = 1/V0, as the stanford-pku preset sets) is this
 * model's I–V exactly. Temperature enters twice: the Arrhenius factor grows
 * with T, the field term sinh(c/T) shrinks; the rate rises with T while
 * γ·a0·|V|/t_ox < E_a (|V| < 1.8 V at γ0 = 16), beyond which the model's
 * field lowers the barrier past zero and heat slows it (docs/devices.md).
 *
 * Choices, and why:
 * - Polarity: a potentiating train (mx_pulse count > 0) applies the sign
 *   that raises conductance: +V for linear ion drift and pku, −V for VTEAM.
 * - A pulse train of n pulses of width t is one ODE solve over n·t at
 *   constant voltage. No model relaxes at v = 0, and pku's temperature
 *   follows the power at once (the source has no thermal capacitance), so
 *   the gaps between pulses change nothing and this is exact, not an
 *   approximation.
 * - program is open-loop from the fresh state: the cell's x is first set to
 *   x0 (an idealised initialise step — a physical full RESET is no
 *   reference for Joglekar's window, which locks a cell at x = 0 for ever),
 *   then the programmer computes, on the nominal device, the train time
 *   T = ∫ dx / |dx/dt| from x0 to the target state (a 1-D quadrature done
 *   with the same ODE driver, x as the variable), rounds T to a whole number
 *   of nominal pulses (pulse.v_ltp_v/width_ltp_s when the conductance must
 *   rise, v_ltd_v/width_ltd_s when it must fall), and applies that train to
 *   the real cell. Without D2D variation the cell lands within half a pulse
 *   of the target; with it, where its own R_ON, R_OFF (pku: I0, ν0, and the
 *   gap variation of the train) take it. Targets are
 *   clamped to [g_min, g_max] and quantised to `levels` first; for windows
 *   that vanish at the boundaries the target state is kept
 *   DYN_X_EDGE away from them (the time to reach them is infinite).
 * - Device-to-device variation: R_ON and R_OFF of each cell are lognormal
 *   with mean R and std/mean d2d_sigma_r, drawn independently by populate
 *   and kept in the record; a pair drawn out of order is defensively set to
 *   R_OFF = R_ON·(1 + DYN_MIN_R_SPAN).
 * - pku's device-to-device variation: I0 of each cell is I0/F with F
 *   lognormal of mean 1 and std d2d_sigma_r, so the read resistance at every
 *   gap (R_ON and R_OFF together) has mean R and std/mean d2d_sigma_r; ν0 is
 *   ν0·F' with F' lognormal of mean 1 and std pku.d2d_sigma_nu0 (the spread
 *   of switching speed). The source gives no device-to-device law; these are
 *   the two prefactors, which leave the equations' shape alone.
 * - pku's cycle-to-cycle variation: rram.va adds δg0·N(0, 1)/(1 +
 *   exp((T_crit − T)/T_smth)) to dg/dt at every simulator step (bounded at
 *   1 ns), so its spread depends on the step. Here it is a gap change per
 *   pulse, δg0 in metres (0.02 nm: one 1-ns step of rram.va), drawn once for
 *   a train as δg0·√n·ξ/(1 + exp((T_crit − T)/T_smth)) with T the local
 *   temperature at the train's end state, added after the deterministic
 *   solve and clamped to the gap range. It acts only on switching trains
 *   (γ·|V|/t_ox ≥ F_min at the start or end gap): rram.va's term also runs
 *   at zero bias, which would make a stored state random-walk between reads.
 *   program applies it to its train too.
 * - Linear ion drift and VTEAM have no cycle-to-cycle noise and no
 *   temperature dependence (temperature_k is not used); pku's temperature is
 *   T0 = temperature_k plus self-heating. No dynamic model has stuck-at
 *   faults, wear or programming noise: the validator rejects non-zero
 *   stuck_at_*, endurance_cycles, d2d_sigma and prog_noise. It also asks for
 *   [g_min, g_max] inside the nominal device's conductance window
 *   ([1/R_OFF, 1/R_ON]; pku: the read conductances at gap_max and gap_min),
 *   where the crossbar maps weights, and nominal pulses that switch
 *   (mx_dynamic_switching_threshold_v) for VTEAM and pku.
 * - The state is clamped to [0, 1] at the end of every solve, and the rate
 *   is 0 where it would push x out (the solver may overshoot by its
 *   tolerance inside a step). Joglekar's window keeps its known terminal
 *   state: once x rounds to 0 or 1, f = 0 and the cell stays (a 1 V, 0.5 Hz
 *   sinusoid from x0 = 0.5 does it); Biolek's window avoids this.
 * - GSL allocation: one driver per call (per block of cells). GSL reports a
 *   failed allocation through its error handler, which aborts unless the
 *   program has switched it off (gsl_set_error_handler_off, as the CLI
 *   should). Then, and if the solver ever fails, the table functions (which
 *   return nothing) finish the solve with fixed-step classical RK4
 *   (DYN_FALLBACK_STEPS steps), the plain twin of the adaptive solve.
 *
 * Record: MX_DYNAMIC_CELL_* of dynamic.h (x, R_ON, R_OFF); pku:
 * MX_PKU_CELL_* (x, I0, ν0). Draws: populate spends one Philox block per cell
 * (words 1–2 a Box–Muller pair: cos → R_ON, sin → R_OFF; pku: cos → I0,
 * sin → ν0; words 0 and 3 unused); program and pulse draw nothing for linear
 * ion drift and VTEAM and one block per cell for pku (words 1–2, cos → the
 * gap variation), whatever the parameters; read is the relative read of
 * cell.c.
 */
#include "devices/dynamic.h"
#include "devices/cell_internal.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdint.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_odeiv2.h>

/* Closest a programming target comes to a boundary where the window
 * vanishes: the remaining conductance error is ≤ DYN_X_EDGE·(R_OFF − R_ON)/R. */
#define DYN_X_EDGE 1e-6
/* Smallest R_OFF/R_ON − 1 a cell may draw. */
#define DYN_MIN_R_SPAN 1e-3
/* First step of a solve, as a fraction of its span (the control adapts it). */
#define DYN_H0_FRACTION 1e-3
/* Most adaptive steps one solve may take before giving up. */
#define DYN_STEPS_MAX 1000000ul
/* Steps of the RK4 fallback over one solve. */
#define DYN_FALLBACK_STEPS 4096
/* Smallest and largest ode_rel_tol: below 1e-12 the control cannot be met
 * in double precision over long solves; above 1e-2 it is not a solution. */
#define DYN_TOL_MIN 1e-12
#define DYN_TOL_MAX 1e-2

/* The fit's physical constants, as rram_v_1_0_0.va and MemTorch use them. */
#define PKU_Q_C 1.6e-19
#define PKU_KB_J_PER_K 1.3806503e-23
/* The length unit of γ = γ0 − β·(g/1 nm)³. */
#define PKU_NM_M 1e-9

_Static_assert((int)MX_PKU_CELL_FLOATS == (int)MX_DYNAMIC_CELL_FLOATS &&
                   (int)MX_PKU_CELL_X == (int)MX_DYNAMIC_CELL_X,
               "the table functions step through pku records as dynamic ones");

typedef enum dyn_model { DYN_LID, DYN_VTEAM, DYN_PKU } dyn_model;

/* One cell (or the nominal device) and its drive, the params of the GSL
 * system. */
typedef struct dyn_ctx {
    dyn_model model;
    const mx_dynamic_params *d;
    double r_on, r_off; /* this cell's, Ω */
    double k_lid;       /* μ_v·R_ON/D², 1/(A·s) */
    double lambda;      /* ln(R_OFF/R_ON) (VTEAM exponential I–V) */
    /* pku */
    const mx_pku_params *k;
    double i0, nu0;     /* this cell's I0 (A) and ν0 (m/s) */
    double span;        /* gap_max − gap_min, m */
    double t0_k;        /* ambient temperature T0, K */
    double v_read;      /* V_r where the conductance is defined, V */
    /* Drive: wave(t) when set, else the constant v_const. */
    mx_waveform_fn wave;
    void *wave_ctx;
    double v_const;
    /* State-domain quadrature: x = x_from + dir·u, and the rate at x_from
     * that scales dt/du to O(1). */
    double x_from, dir, rate_from;
} dyn_ctx;

/* A solver for one block of cells: the GSL system, its driver (NULL when it
 * could not be allocated) and the cell it currently integrates. */
typedef struct dyn_solver {
    dyn_ctx ctx;
    gsl_odeiv2_system sys;
    gsl_odeiv2_driver *drv;
} dyn_solver;

static double clamp01(double x) { return x < 0.0 ? 0.0 : (x > 1.0 ? 1.0 : x); }

static int model_of(const mx_device_type *type, dyn_model *m)
{
    if (type == &mx_device_linear_ion_drift) {
        *m = DYN_LID;
        return 1;
    }
    if (type == &mx_device_vteam) {
        *m = DYN_VTEAM;
        return 1;
    }
    if (type == &mx_device_pku) {
        *m = DYN_PKU;
        return 1;
    }
    return 0;
}

int mx_dynamic_is(const mx_device_type *type)
{
    dyn_model m = DYN_LID;
    return type != NULL && model_of(type, &m);
}

/* ---- the equations ------------------------------------------------------ */

double mx_dynamic_window(const mx_dynamic_params *d, double x, double i_a)
{
    x = clamp01(x);
    const double two_p = 2.0 * d->window_p;
    switch (d->window) {
    case MX_WINDOW_JOGLEKAR:
        return 1.0 - pow(fabs(2.0 * x - 1.0), two_p);
    case MX_WINDOW_BIOLEK: {
        const double stp = -i_a >= 0.0 ? 1.0 : 0.0; /* stp(−i), stp(0) = 1 */
        return 1.0 - pow(fabs(x - stp), two_p);
    }
    case MX_WINDOW_PRODROMAKIS:
        return d->window_j * (1.0 - pow((x - 0.5) * (x - 0.5) + 0.75, d->window_p));
    case MX_WINDOW_NONE:
    default:
        return 1.0;
    }
}

static void ctx_init(dyn_ctx *c, dyn_model model, const mx_device_params *p, const float *cell)
{
    const mx_dynamic_params *d = &p->dynamic;
    *c = (dyn_ctx){.model = model, .d = d};
    if (model == DYN_PKU) {
        const mx_pku_params *k = &p->pku;
        c->k = k;
        c->i0 = cell ? (double)cell[MX_PKU_CELL_I0] : k->i0_a;
        c->nu0 = cell ? (double)cell[MX_PKU_CELL_NU0] : k->nu0_m_per_s;
        c->span = k->gap_max_m - k->gap_min_m;
        c->t0_k = p->temperature_k;
        c->v_read = p->iv.v_read_v;
        return;
    }
    if (cell) {
        c->r_on = (double)cell[MX_DYNAMIC_CELL_R_ON];
        c->r_off = (double)cell[MX_DYNAMIC_CELL_R_OFF];
    } else if (model == DYN_LID) {
        c->r_on = d->r_on_ohm;
        c->r_off = d->r_off_ohm;
    } else {
        c->r_on = d->vteam_r_on_ohm;
        c->r_off = d->vteam_r_off_ohm;
    }
    c->k_lid = model == DYN_LID ? d->mu_v * c->r_on / (d->d_m * d->d_m) : 0.0;
    c->lambda = log(c->r_off / c->r_on);
}

/* ---- pku: the gap, its current, temperature and velocity ---- */

static double pku_gap(const dyn_ctx *c, double x) { return c->k->gap_min_m + c->span * clamp01(x); }

/* I = I0·exp(−g/g0)·sinh(V/V0), A. */
static double pku_current(const dyn_ctx *c, double gap, double v)
{
    return c->i0 * exp(-gap / c->k->g0_m) * sinh(v / c->k->v0_v);
}

/* T = T0 + |V·I|·R_th, K. */
static double pku_temperature(const dyn_ctx *c, double gap, double v)
{
    return c->t0_k + fabs(v * pku_current(c, gap, v)) * c->k->r_th_k_per_w;
}

/* γ = γ0 − β·(g/1 nm)³. */
static double pku_gamma(const mx_pku_params *k, double gap)
{
    const double g_nm = gap / PKU_NM_M;
    return k->gamma0 - k->beta * g_nm * g_nm * g_nm;
}

/* Does |V| reach the field F_min that moves the gap at g? rram.va's test,
 * γ·|V|/t_ox < F_min → γ = 0, negated. */
static int pku_switches(const mx_pku_params *k, double gap, double v)
{
    return !(pku_gamma(k, gap) * fabs(v) / k->t_ox_m < k->f_min_v_per_m);
}

/* dg/dt, m/s, with q·E_a/(k·T) written E_a[eV]/(k·T/q). */
static double pku_gap_rate(const dyn_ctx *c, double gap, double v)
{
    const mx_pku_params *k = c->k;
    if (!pku_switches(k, gap, v))
        return 0.0;
    const double kt_q = PKU_KB_J_PER_K * pku_temperature(c, gap, v) / PKU_Q_C; /* V */
    return -c->nu0 * exp(-k->ea_ev / kt_q) *
           sinh(pku_gamma(k, gap) * k->a0_m / k->t_ox_m * v / kt_q);
}

static double ctx_resistance(const dyn_ctx *c, double x)
{
    x = clamp01(x);
    if (c->model == DYN_PKU)
        return c->v_read / pku_current(c, pku_gap(c, x), c->v_read);
    if (c->model == DYN_LID)
        return c->r_on * x + c->r_off * (1.0 - x);
    if (c->d->vteam_iv == MX_VTEAM_IV_EXPONENTIAL)
        return c->r_on * exp(c->lambda * x);
    return c->r_on + (c->r_off - c->r_on) * x;
}

/* The current of a cell at state x under v, A. */
static double ctx_current(const dyn_ctx *c, double x, double v)
{
    if (c->model == DYN_PKU)
        return pku_current(c, pku_gap(c, x), v);
    return v / ctx_resistance(c, x);
}

/* dx/dt at x ∈ [0, 1] without the boundary rule. */
static double ctx_rate_raw(const dyn_ctx *c, double x, double v)
{
    const mx_dynamic_params *d = c->d;
    if (c->model == DYN_PKU)
        return pku_gap_rate(c, pku_gap(c, x), v) / c->span;
    if (c->model == DYN_LID) {
        const double i = v / ctx_resistance(c, x);
        return c->k_lid * i * mx_dynamic_window(d, x, i);
    }
    if (v > d->v_off_v)
        return d->k_off_m_per_s / d->vteam_d_m * pow(v / d->v_off_v - 1.0, d->alpha_off);
    if (v < d->v_on_v)
        return d->k_on_m_per_s / d->vteam_d_m * pow(v / d->v_on_v - 1.0, d->alpha_on);
    return 0.0;
}

/* dx/dt with x clamped to [0, 1] and no motion out of it. */
static double ctx_rate(const dyn_ctx *c, double x, double v)
{
    const double xc = clamp01(x);
    const double r = ctx_rate_raw(c, xc, v);
    if ((xc >= 1.0 && r > 0.0) || (xc <= 0.0 && r < 0.0))
        return 0.0;
    return r;
}

static double ctx_voltage(const dyn_ctx *c, double t)
{
    return c->wave ? c->wave(t, c->wave_ctx) : c->v_const;
}

/* GSL system in time: y = {x}. */
static int rhs_time(double t, const double y[], double dydt[], void *params)
{
    const dyn_ctx *c = params;
    dydt[0] = ctx_rate(c, y[0], ctx_voltage(c, t));
    return GSL_SUCCESS;
}

/* GSL system in the state: u = |x − x_from|, y = {t·|rate_from|}, so
 * dy/du = |rate_from|/|dx/dt| starts at 1 and the tolerances, made for an
 * O(1) variable, apply to it as they do to x. */
static int rhs_state(double u, const double y[], double dydt[], void *params)
{
    (void)y;
    const dyn_ctx *c = params;
    const double r = fabs(ctx_rate_raw(c, clamp01(c->x_from + c->dir * u), c->v_const));
    if (!(r > 0.0))
        return GSL_EBADFUNC; /* the state cannot move here: no finite time */
    dydt[0] = c->rate_from / r;
    return GSL_SUCCESS;
}

double mx_dynamic_resistance(const mx_device_type *type, const mx_device_params *p,
                             const float *cell, double x)
{
    dyn_model m = DYN_LID;
    if (!model_of(type, &m))
        return NAN;
    dyn_ctx c;
    ctx_init(&c, m, p, cell);
    return ctx_resistance(&c, x);
}

double mx_dynamic_rate(const mx_device_type *type, const mx_device_params *p, const float *cell,
                       double x, double v_v)
{
    dyn_model m = DYN_LID;
    if (!model_of(type, &m))
        return NAN;
    dyn_ctx c;
    ctx_init(&c, m, p, cell);
    return ctx_rate(&c, x, v_v);
}

double mx_dynamic_current(const mx_device_type *type, const mx_device_params *p,
                          const float *cell, double x, double v_v)
{
    dyn_model m = DYN_LID;
    if (!model_of(type, &m))
        return NAN;
    dyn_ctx c;
    ctx_init(&c, m, p, cell);
    return ctx_current(&c, x, v_v);
}

double mx_pku_temperature(const mx_device_type *type, const mx_device_params *p,
                          const float *cell, double x, double v_v)
{
    if (type != &mx_device_pku)
        return NAN;
    dyn_ctx c;
    ctx_init(&c, DYN_PKU, p, cell);
    return pku_temperature(&c, pku_gap(&c, x), v_v);
}

double mx_dynamic_switching_threshold_v(const mx_device_type *type, const mx_device_params *p)
{
    dyn_model m = DYN_LID;
    if (!type || !model_of(type, &m))
        return NAN;
    if (m == DYN_VTEAM)
        return fmax(-p->dynamic.v_on_v, p->dynamic.v_off_v);
    if (m == DYN_PKU)
        return p->pku.f_min_v_per_m * p->pku.t_ox_m / pku_gamma(&p->pku, p->pku.gap_max_m);
    return 0.0;
}

/* ---- the solver --------------------------------------------------------- */

/* Allocate the driver of one block. s must not move afterwards (the driver
 * keeps &s->sys). Leaves s->drv NULL if GSL could not allocate. */
static void solver_open(dyn_solver *s, const mx_device_params *p)
{
    const double tol = p->dynamic.ode_rel_tol;
    s->sys = (gsl_odeiv2_system){.function = rhs_time, .jacobian = NULL, .dimension = 1,
                                 .params = &s->ctx};
    /* Both integrated variables are O(1) (x ∈ [0, 1]; the scaled time of
     * rhs_state), so the absolute tolerance equals the relative one. The
     * first step is set per solve. */
    s->drv = gsl_odeiv2_driver_alloc_y_new(&s->sys, gsl_odeiv2_step_rkf45, 1.0, tol, tol);
    if (s->drv)
        gsl_odeiv2_driver_set_nmax(s->drv, DYN_STEPS_MAX);
}

static void solver_close(dyn_solver *s)
{
    if (s->drv)
        gsl_odeiv2_driver_free(s->drv);
    s->drv = NULL;
}

/* Classical RK4 with a fixed number of steps from t0 to t1: the plain twin,
 * used when the adaptive solve is unavailable or fails. */
static void rk4_fixed(gsl_odeiv2_system *sys, double t0, double t1, double *y)
{
    const double h = (t1 - t0) / DYN_FALLBACK_STEPS;
    for (int k = 0; k < DYN_FALLBACK_STEPS; k++) {
        const double t = t0 + k * h;
        double k1, k2, k3, k4, yy;
        if (sys->function(t, y, &k1, sys->params) != GSL_SUCCESS)
            return;
        yy = y[0] + 0.5 * h * k1;
        if (sys->function(t + 0.5 * h, &yy, &k2, sys->params) != GSL_SUCCESS)
            return;
        yy = y[0] + 0.5 * h * k2;
        if (sys->function(t + 0.5 * h, &yy, &k3, sys->params) != GSL_SUCCESS)
            return;
        yy = y[0] + h * k3;
        if (sys->function(t + h, &yy, &k4, sys->params) != GSL_SUCCESS)
            return;
        y[0] += h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4);
    }
}

/* Integrate s->sys (with `f`) from t0 to t1 > t0, y in/out. Returns the GSL
 * status; on failure y holds the last accepted step's value. With
 * `fallback`, a failure (or no driver) is finished by rk4_fixed and
 * reported as success. */
static int solver_run(dyn_solver *s, int (*f)(double, const double *, double *, void *),
                      double t0, double t1, double *y, int fallback)
{
    s->sys.function = f;
    if (!(t1 > t0))
        return GSL_SUCCESS;
    int status = GSL_ENOMEM;
    double t = t0;
    if (s->drv) {
        gsl_odeiv2_driver_reset_hstart(s->drv, (t1 - t0) * DYN_H0_FRACTION);
        status = gsl_odeiv2_driver_apply(s->drv, &t, t1, y);
    }
    if (status != GSL_SUCCESS && fallback) {
        rk4_fixed(&s->sys, t, t1, y);
        status = GSL_SUCCESS;
    }
    return status;
}

/* Apply a constant voltage v for t_total seconds to the cell in s->ctx from
 * state x; returns the state reached, in [0, 1]. */
static double solver_drive(dyn_solver *s, double x, double v, double t_total)
{
    s->ctx.wave = NULL;
    s->ctx.v_const = v;
    double y = x;
    solver_run(s, rhs_time, 0.0, t_total, &y, 1);
    return clamp01(y);
}

/* Time for the nominal device in s->ctx to go from x_from to x_to under the
 * constant voltage v (which must move it that way), s. */
static double solver_time_to(dyn_solver *s, double x_from, double x_to, double v)
{
    const double span = fabs(x_to - x_from);
    if (span == 0.0)
        return 0.0;
    s->ctx.wave = NULL;
    s->ctx.v_const = v;
    s->ctx.x_from = x_from;
    s->ctx.dir = x_to > x_from ? 1.0 : -1.0;
    s->ctx.rate_from = fabs(ctx_rate_raw(&s->ctx, x_from, v));
    if (!(s->ctx.rate_from > 0.0))
        return INFINITY;
    double y = 0.0;
    solver_run(s, rhs_state, 0.0, span, &y, 1);
    return y / s->ctx.rate_from;
}

/* ---- validation ---------------------------------------------------------- */

static int finite_pos(double x) { return isfinite(x) && x > 0.0; }

/* The pku fields, each named; hardware.device.pku.<name> must be > 0. */
static mx_status pku_positive(const char *name, const char *what, double value)
{
    if (finite_pos(value))
        return MX_OK;
    return mx_fail(MX_EINVAL, "hardware.device.pku.%s: expected %s > 0, got %g", name, what,
                   value);
}

static mx_status pku_check(const mx_pku_params *k)
{
    const struct {
        const char *name, *what;
        double value;
    } positive[] = {
        {"i0_a", "a current (A)", k->i0_a},
        {"g0_m", "a length (m)", k->g0_m},
        {"v0_v", "a voltage (V)", k->v0_v},
        {"gap_min_m", "a gap (m)", k->gap_min_m},
        {"nu0_m_per_s", "a speed (m/s)", k->nu0_m_per_s},
        {"ea_ev", "an activation energy (eV)", k->ea_ev},
        {"a0_m", "a length (m)", k->a0_m},
        {"t_ox_m", "a thickness (m)", k->t_ox_m},
        {"gamma0", "a field enhancement factor", k->gamma0},
        {"t_crit_k", "a temperature (K)", k->t_crit_k},
        {"t_smth_k", "a temperature (K)", k->t_smth_k},
    };
    for (size_t i = 0; i < sizeof positive / sizeof positive[0]; i++) {
        mx_status st = pku_positive(positive[i].name, positive[i].what, positive[i].value);
        if (st != MX_OK)
            return st;
    }
    if (!(isfinite(k->gap_max_m) && k->gap_max_m > k->gap_min_m))
        return mx_fail(MX_EINVAL,
                       "hardware.device.pku.gap_max_m: expected a gap > gap_min_m (%g m), got %g",
                       k->gap_min_m, k->gap_max_m);
    const struct {
        const char *name, *what;
        double value;
    } nonneg[] = {
        {"beta", "a number", k->beta},
        {"f_min_v_per_m", "a field (V/m; 0 = no threshold)", k->f_min_v_per_m},
        {"r_th_k_per_w", "a thermal resistance (K/W; 0 = no self-heating)", k->r_th_k_per_w},
        {"delta_g0_m", "a gap variation (m; 0 = none)", k->delta_g0_m},
        {"d2d_sigma_nu0", "a relative σ", k->d2d_sigma_nu0},
    };
    for (size_t i = 0; i < sizeof nonneg / sizeof nonneg[0]; i++)
        if (!finite_nonneg(nonneg[i].value))
            return mx_fail(MX_EINVAL, "hardware.device.pku.%s: expected %s >= 0, got %g",
                           nonneg[i].name, nonneg[i].what, nonneg[i].value);
    /* Where γ ≤ 0 no voltage moves the gap: a state there could never be
     * left (and open-loop programming could not plan a path through it). */
    if (!(pku_gamma(k, k->gap_max_m) > 0.0))
        return mx_fail(MX_EINVAL,
                       "hardware.device.pku.beta: expected γ0 − β·(gap_max/1 nm)³ > 0 (the field "
                       "enhancement at gap_max = %g m), got β = %g, γ0 = %g",
                       k->gap_max_m, k->beta, k->gamma0);
    return MX_OK;
}

mx_status mx_dynamic_check(const mx_device_type *type, const mx_device_params *p)
{
    dyn_model m = DYN_LID;
    if (!type || !model_of(type, &m))
        return mx_fail(MX_EINVAL,
                       "hardware.device.type: expected a dynamic model (linear-ion-drift, vteam, "
                       "pku), got %s",
                       type && type->name ? type->name : "(none)");
    const mx_dynamic_params *d = &p->dynamic;
    if (!(isfinite(d->x0) && d->x0 >= 0.0 && d->x0 <= 1.0))
        return mx_fail(MX_EINVAL, "hardware.device.dynamic.x0: expected a state in [0, 1], got %g",
                       d->x0);
    if (!(isfinite(d->d2d_sigma_r) && d->d2d_sigma_r >= 0.0))
        return mx_fail(MX_EINVAL,
                       "hardware.device.dynamic.d2d_sigma_r: expected a relative σ >= 0, got %g",
                       d->d2d_sigma_r);
    if (!(isfinite(d->ode_rel_tol) && d->ode_rel_tol >= DYN_TOL_MIN &&
          d->ode_rel_tol <= DYN_TOL_MAX))
        return mx_fail(MX_EINVAL,
                       "hardware.device.dynamic.ode_rel_tol: expected a tolerance in [%g, %g], "
                       "got %g",
                       DYN_TOL_MIN, DYN_TOL_MAX, d->ode_rel_tol);
    if (m == DYN_PKU) {
        /* Its equations also read the ambient temperature and the read
         * voltage (the cell checks repeat these for the device table). */
        if (!finite_pos(p->temperature_k))
            return mx_fail(MX_EINVAL,
                           "hardware.device.temperature_k: expected a temperature > 0 K, got %g",
                           p->temperature_k);
        if (!finite_pos(p->iv.v_read_v))
            return mx_fail(MX_EINVAL,
                           "hardware.device.iv.v_read_v: expected a voltage > 0 V, got %g",
                           p->iv.v_read_v);
        return pku_check(&p->pku);
    }
    if (m == DYN_LID) {
        if (d->window != MX_WINDOW_NONE && d->window != MX_WINDOW_JOGLEKAR &&
            d->window != MX_WINDOW_BIOLEK && d->window != MX_WINDOW_PRODROMAKIS)
            return mx_fail(MX_EINVAL, "hardware.device.dynamic.window: expected none, joglekar, "
                                      "biolek or prodromakis");
        if (!finite_pos(d->window_p))
            return mx_fail(MX_EINVAL,
                           "hardware.device.dynamic.window_p: expected an exponent > 0, got %g",
                           d->window_p);
        if (d->window == MX_WINDOW_PRODROMAKIS && !finite_pos(d->window_j))
            return mx_fail(MX_EINVAL,
                           "hardware.device.dynamic.window_j: expected a scale > 0, got %g",
                           d->window_j);
        if ((d->window == MX_WINDOW_JOGLEKAR || d->window == MX_WINDOW_PRODROMAKIS) &&
            !(d->x0 > 0.0 && d->x0 < 1.0))
            return mx_fail(MX_EINVAL,
                           "hardware.device.dynamic.x0: expected a state in (0, 1) with the %s "
                           "window (it vanishes at 0 and 1, where a cell would never move), got %g",
                           d->window == MX_WINDOW_JOGLEKAR ? "joglekar" : "prodromakis", d->x0);
        if (!finite_pos(d->r_on_ohm))
            return mx_fail(MX_EINVAL,
                           "hardware.device.dynamic.r_on_ohm: expected a resistance > 0 Ω, got %g",
                           d->r_on_ohm);
        if (!(isfinite(d->r_off_ohm) && d->r_off_ohm > d->r_on_ohm))
            return mx_fail(MX_EINVAL,
                           "hardware.device.dynamic.r_off_ohm: expected a resistance > r_on_ohm "
                           "(%g Ω), got %g",
                           d->r_on_ohm, d->r_off_ohm);
        if (!finite_pos(d->d_m))
            return mx_fail(MX_EINVAL, "hardware.device.dynamic.d_m: expected a thickness > 0 m, "
                                      "got %g",
                           d->d_m);
        if (!finite_pos(d->mu_v))
            return mx_fail(MX_EINVAL,
                           "hardware.device.dynamic.mu_v: expected a mobility > 0 m²/(V·s), got %g",
                           d->mu_v);
        return MX_OK;
    }
    if (!(isfinite(d->k_on_m_per_s) && d->k_on_m_per_s < 0.0))
        return mx_fail(MX_EINVAL,
                       "hardware.device.dynamic.k_on_m_per_s: expected a speed < 0 m/s, got %g",
                       d->k_on_m_per_s);
    if (!finite_pos(d->k_off_m_per_s))
        return mx_fail(MX_EINVAL,
                       "hardware.device.dynamic.k_off_m_per_s: expected a speed > 0 m/s, got %g",
                       d->k_off_m_per_s);
    if (!finite_pos(d->alpha_on))
        return mx_fail(MX_EINVAL, "hardware.device.dynamic.alpha_on: expected a number > 0, got %g",
                       d->alpha_on);
    if (!finite_pos(d->alpha_off))
        return mx_fail(MX_EINVAL,
                       "hardware.device.dynamic.alpha_off: expected a number > 0, got %g",
                       d->alpha_off);
    if (!(isfinite(d->v_on_v) && d->v_on_v < 0.0))
        return mx_fail(MX_EINVAL, "hardware.device.dynamic.v_on_v: expected a voltage < 0 V, got %g",
                       d->v_on_v);
    if (!finite_pos(d->v_off_v))
        return mx_fail(MX_EINVAL,
                       "hardware.device.dynamic.v_off_v: expected a voltage > 0 V, got %g",
                       d->v_off_v);
    if (!finite_pos(d->vteam_r_on_ohm))
        return mx_fail(MX_EINVAL,
                       "hardware.device.dynamic.vteam_r_on_ohm: expected a resistance > 0 Ω, got %g",
                       d->vteam_r_on_ohm);
    if (!(isfinite(d->vteam_r_off_ohm) && d->vteam_r_off_ohm > d->vteam_r_on_ohm))
        return mx_fail(MX_EINVAL,
                       "hardware.device.dynamic.vteam_r_off_ohm: expected a resistance > "
                       "vteam_r_on_ohm (%g Ω), got %g",
                       d->vteam_r_on_ohm, d->vteam_r_off_ohm);
    if (!finite_pos(d->vteam_d_m))
        return mx_fail(MX_EINVAL,
                       "hardware.device.dynamic.vteam_d_m: expected a length > 0 m, got %g",
                       d->vteam_d_m);
    if (d->vteam_iv != MX_VTEAM_IV_LINEAR && d->vteam_iv != MX_VTEAM_IV_EXPONENTIAL)
        return mx_fail(MX_EINVAL,
                       "hardware.device.dynamic.vteam_iv: expected linear or exponential");
    return MX_OK;
}

/* The nominal device's [1/R(OFF), 1/R(ON)], S: the resistance parameters
 * themselves where the model has them (R(x) at the ends may round an ulp
 * away), the read conductances at gap_max and gap_min for pku. */
static void nominal_window(dyn_model m, const mx_device_params *p, double *g_lo, double *g_hi)
{
    const mx_dynamic_params *d = &p->dynamic;
    if (m == DYN_PKU) {
        dyn_ctx c;
        ctx_init(&c, m, p, NULL);
        *g_lo = 1.0 / ctx_resistance(&c, 1.0);
        *g_hi = 1.0 / ctx_resistance(&c, 0.0);
        return;
    }
    *g_lo = 1.0 / (m == DYN_LID ? d->r_off_ohm : d->vteam_r_off_ohm);
    *g_hi = 1.0 / (m == DYN_LID ? d->r_on_ohm : d->vteam_r_on_ohm);
}

mx_status mx_dynamic_conductance_window(const mx_device_type *type, const mx_device_params *p,
                                        double *g_lo_s, double *g_hi_s)
{
    mx_status st = mx_dynamic_check(type, p);
    if (st != MX_OK)
        return st;
    dyn_model m = DYN_LID;
    model_of(type, &m);
    nominal_window(m, p, g_lo_s, g_hi_s);
    return MX_OK;
}

/* The table's validate: the shared cell checks, what these models do not
 * model, the conductance window against the nominal device, the nominal
 * pulses against VTEAM's and pku's thresholds, and the model's own fields. */
static mx_status dynamic_validate(const mx_device_type *type, const mx_device_params *p)
{
    mx_status st = mx_device_validate_cell(p);
    if (st != MX_OK)
        return st;
    st = mx_dynamic_check(type, p);
    if (st != MX_OK)
        return st;
    const char *name = type->name;
    if (p->d2d_sigma != 0.0)
        return mx_fail(MX_EINVAL,
                       "hardware.device.d2d_sigma: expected 0 for %s (its variation is "
                       "dynamic.d2d_sigma_r), got %g",
                       name, p->d2d_sigma);
    for (int i = 0; i < MX_DEVICE_PROG_NOISE_ORDER; i++)
        if (p->prog_noise_coeffs[i] != 0.0)
            return mx_fail(MX_EINVAL,
                           "hardware.device.prog_noise[%d]: expected 0 for %s (programming is "
                           "integrated, not drawn), got %g",
                           i, name, p->prog_noise_coeffs[i]);
    if (p->stuck_at_gmin_frac != 0.0)
        return mx_fail(MX_EINVAL,
                       "hardware.device.stuck_at_gmin: expected 0 for %s (no stuck-at faults), "
                       "got %g",
                       name, p->stuck_at_gmin_frac);
    if (p->stuck_at_gmax_frac != 0.0)
        return mx_fail(MX_EINVAL,
                       "hardware.device.stuck_at_gmax: expected 0 for %s (no stuck-at faults), "
                       "got %g",
                       name, p->stuck_at_gmax_frac);
    if (p->endurance_cycles != 0.0)
        return mx_fail(MX_EINVAL,
                       "hardware.device.endurance_cycles: expected 0 for %s (no wear-out), got %g",
                       name, p->endurance_cycles);
    dyn_model m = DYN_LID;
    model_of(type, &m);
    double g_lo, g_hi;
    nominal_window(m, p, &g_lo, &g_hi);
    static const char *const lo_names[] = {
        [DYN_LID] = "1/hardware.device.dynamic.r_off_ohm",
        [DYN_VTEAM] = "1/hardware.device.dynamic.vteam_r_off_ohm",
        [DYN_PKU] = "the read conductance at hardware.device.pku.gap_max_m"};
    static const char *const hi_names[] = {
        [DYN_LID] = "1/hardware.device.dynamic.r_on_ohm",
        [DYN_VTEAM] = "1/hardware.device.dynamic.vteam_r_on_ohm",
        [DYN_PKU] = "the read conductance at hardware.device.pku.gap_min_m"};
    const char *lo_name = lo_names[m], *hi_name = hi_names[m];
    /* One ulp of slack so g = 1/R itself is accepted. */
    if (p->g_min_s < g_lo * (1.0 - DBL_EPSILON))
        return mx_fail(MX_EINVAL, "hardware.device.g_min_s: expected >= %s = %g S for %s, got %g",
                       lo_name, g_lo, name, p->g_min_s);
    if (p->g_max_s > g_hi * (1.0 + DBL_EPSILON))
        return mx_fail(MX_EINVAL, "hardware.device.g_max_s: expected <= %s = %g S for %s, got %g",
                       hi_name, g_hi, name, p->g_max_s);
    if (m == DYN_PKU) {
        const double v_th = mx_dynamic_switching_threshold_v(type, p);
        if (!(p->pulse.v_ltp_v > v_th))
            return mx_fail(MX_EINVAL,
                           "hardware.device.pulse.v_ltp_v: expected more than "
                           "F_min·t_ox/γ(gap_max) = %g V (pku would not SET from its OFF state), "
                           "got %g",
                           v_th, p->pulse.v_ltp_v);
        if (!(p->pulse.v_ltd_v > v_th))
            return mx_fail(MX_EINVAL,
                           "hardware.device.pulse.v_ltd_v: expected more than "
                           "F_min·t_ox/γ(gap_max) = %g V (pku would not RESET to its OFF state), "
                           "got %g",
                           v_th, p->pulse.v_ltd_v);
    }
    if (m == DYN_VTEAM) {
        if (!(p->pulse.v_ltp_v > -p->dynamic.v_on_v))
            return mx_fail(MX_EINVAL,
                           "hardware.device.pulse.v_ltp_v: expected more than |dynamic.v_on_v| = "
                           "%g V (vteam would not switch), got %g",
                           -p->dynamic.v_on_v, p->pulse.v_ltp_v);
        if (!(p->pulse.v_ltd_v > p->dynamic.v_off_v))
            return mx_fail(MX_EINVAL,
                           "hardware.device.pulse.v_ltd_v: expected more than dynamic.v_off_v = "
                           "%g V (vteam would not switch), got %g",
                           p->dynamic.v_off_v, p->pulse.v_ltd_v);
    }
    return MX_OK;
}

static mx_status lid_validate(const mx_device_params *p)
{
    return dynamic_validate(&mx_device_linear_ion_drift, p);
}

static mx_status vteam_validate(const mx_device_params *p)
{
    return dynamic_validate(&mx_device_vteam, p);
}

static mx_status pku_validate(const mx_device_params *p)
{
    return dynamic_validate(&mx_device_pku, p);
}

/* ---- the table functions ------------------------------------------------- */

static void dynamic_populate(const mx_device_params *p, float *cells, size_t n, mx_rng *rng,
                             double r_on, double r_off)
{
    const double sigma = p->dynamic.d2d_sigma_r;
    const double s2 = log1p(sigma * sigma), s = sqrt(s2);
    for (size_t i = 0; i < n; i++) {
        float *c = cells + i * MX_DYNAMIC_CELL_FLOATS;
        uint32_t u[4];
        mx_rng_block(rng, u);
        double on = r_on, off = r_off;
        if (s > 0.0) {
            const double radius = sqrt(-2.0 * log(mx_u01(u[1])));
            const double angle = 2.0 * M_PI * mx_u01(u[2]);
            on *= exp(s * radius * cos(angle) - 0.5 * s2);
            off *= exp(s * radius * sin(angle) - 0.5 * s2);
            if (!(off > on * (1.0 + DYN_MIN_R_SPAN)))
                off = on * (1.0 + DYN_MIN_R_SPAN);
        }
        c[MX_DYNAMIC_CELL_X] = (float)p->dynamic.x0;
        c[MX_DYNAMIC_CELL_R_ON] = (float)on;
        c[MX_DYNAMIC_CELL_R_OFF] = (float)off;
    }
}

static void lid_populate(const mx_device_params *p, float *cells, size_t n, mx_rng *rng)
{
    dynamic_populate(p, cells, n, rng, p->dynamic.r_on_ohm, p->dynamic.r_off_ohm);
}

static void vteam_populate(const mx_device_params *p, float *cells, size_t n, mx_rng *rng)
{
    dynamic_populate(p, cells, n, rng, p->dynamic.vteam_r_on_ohm, p->dynamic.vteam_r_off_ohm);
}

/* pku: I0 = I0/F (F the mean-1 lognormal factor of the read resistance, std
 * d2d_sigma_r) and ν0·F' (std pku.d2d_sigma_nu0), one block per cell. */
static void pku_populate(const mx_device_params *p, float *cells, size_t n, mx_rng *rng)
{
    const double sr = p->dynamic.d2d_sigma_r, sn = p->pku.d2d_sigma_nu0;
    const double sr2 = log1p(sr * sr), sn2 = log1p(sn * sn);
    for (size_t i = 0; i < n; i++) {
        float *c = cells + i * MX_PKU_CELL_FLOATS;
        uint32_t u[4];
        mx_rng_block(rng, u);
        double i0 = p->pku.i0_a, nu0 = p->pku.nu0_m_per_s;
        if (sr2 > 0.0 || sn2 > 0.0) {
            const double radius = sqrt(-2.0 * log(mx_u01(u[1])));
            const double angle = 2.0 * M_PI * mx_u01(u[2]);
            i0 /= exp(sqrt(sr2) * radius * cos(angle) - 0.5 * sr2);
            nu0 *= exp(sqrt(sn2) * radius * sin(angle) - 0.5 * sn2);
        }
        c[MX_PKU_CELL_X] = (float)p->dynamic.x0;
        c[MX_PKU_CELL_I0] = (float)i0;
        c[MX_PKU_CELL_NU0] = (float)nu0;
    }
}

/* The signed device voltage of a pulse: the sign that raises conductance
 * when potentiating. */
static double pulse_voltage(dyn_model m, int potentiate, double amplitude_v)
{
    const int positive = m == DYN_VTEAM ? !potentiate : potentiate;
    return positive ? amplitude_v : -amplitude_v;
}

/* pku's cycle-to-cycle gap variation of a train of `pulses` pulses at
 * voltage v that took the cell in c from x_before to x_after: the state
 * after δg0·√pulses·ξ/(1 + exp((T_crit − T)/T_smth)) is added to the gap,
 * T the local temperature at x_after, ξ the normal of the block u (words
 * 1–2, cos). Unchanged when the train does not switch (below F_min at both
 * ends) or δg0 = 0. */
static double pku_vary(const dyn_ctx *c, double x_before, double x_after, double v,
                       double pulses, const uint32_t u[4])
{
    const mx_pku_params *k = c->k;
    if (!(k->delta_g0_m > 0.0) || !(pulses > 0.0))
        return x_after;
    const double gap = pku_gap(c, x_after);
    if (!pku_switches(k, pku_gap(c, x_before), v) && !pku_switches(k, gap, v))
        return x_after;
    const double t = pku_temperature(c, gap, v);
    const double sigma =
        k->delta_g0_m * sqrt(pulses) / (1.0 + exp((k->t_crit_k - t) / k->t_smth_k));
    const double xi = sqrt(-2.0 * log(mx_u01(u[1]))) * cos(2.0 * M_PI * mx_u01(u[2]));
    return clamp01((gap + sigma * xi - k->gap_min_m) / c->span);
}

static float cell_conductance(const dyn_ctx *c, double x)
{
    return (float)(1.0 / ctx_resistance(c, x));
}

/* rng: one block per cell for pku (its gap variation), unused otherwise. */
static void dynamic_pulse(dyn_model m, const mx_device_params *p, float *cells, float *g_s,
                          const mx_pulse *pulses, size_t n, mx_rng *rng)
{
    dyn_solver s;
    solver_open(&s, p);
    for (size_t i = 0; i < n; i++) {
        float *cell = cells + i * MX_DYNAMIC_CELL_FLOATS;
        ctx_init(&s.ctx, m, p, cell);
        uint32_t u[4] = {0, 0, 0, 0};
        if (m == DYN_PKU)
            mx_rng_block(rng, u);
        double x = (double)cell[MX_DYNAMIC_CELL_X];
        if (pulses[i].count != 0) {
            double amplitude, width;
            mx_pulse_resolve(p, &pulses[i], &amplitude, &width);
            const double v = pulse_voltage(m, pulses[i].count > 0, amplitude);
            const double count = fabs((double)pulses[i].count);
            const double x_end = solver_drive(&s, x, v, count * width);
            x = m == DYN_PKU ? pku_vary(&s.ctx, x, x_end, v, count, u) : x_end;
            cell[MX_DYNAMIC_CELL_X] = (float)x;
        }
        g_s[i] = cell_conductance(&s.ctx, (double)cell[MX_DYNAMIC_CELL_X]);
    }
    solver_close(&s);
}

static void lid_pulse(const mx_device_params *p, float *cells, float *g_s, const mx_pulse *pulses,
                      size_t n, mx_rng *rng)
{
    (void)rng; /* no cycle-to-cycle noise */
    dynamic_pulse(DYN_LID, p, cells, g_s, pulses, n, NULL);
}

static void vteam_pulse(const mx_device_params *p, float *cells, float *g_s,
                        const mx_pulse *pulses, size_t n, mx_rng *rng)
{
    (void)rng;
    dynamic_pulse(DYN_VTEAM, p, cells, g_s, pulses, n, NULL);
}

static void pku_pulse(const mx_device_params *p, float *cells, float *g_s, const mx_pulse *pulses,
                      size_t n, mx_rng *rng)
{
    dynamic_pulse(DYN_PKU, p, cells, g_s, pulses, n, rng);
}

/* The nominal device's state at conductance g (clamped to [0, 1]). */
static double nominal_state(const dyn_ctx *c, double g)
{
    const double r = 1.0 / g;
    double x;
    if (c->model == DYN_PKU) /* g = I0·exp(−gap/g0)·sinh(V_r/V0)/V_r */
        x = (-c->k->g0_m * log(g * c->v_read / pku_current(c, 0.0, c->v_read)) -
             c->k->gap_min_m) /
            c->span;
    else if (c->model == DYN_LID)
        x = (c->r_off - r) / (c->r_off - c->r_on);
    else if (c->d->vteam_iv == MX_VTEAM_IV_EXPONENTIAL)
        x = log(r / c->r_on) / c->lambda;
    else
        x = (r - c->r_on) / (c->r_off - c->r_on);
    return clamp01(x);
}

/* rng: one block per cell for pku (the gap variation of its train), unused
 * otherwise. */
static void dynamic_program(dyn_model m, const mx_device_params *p, float *cells,
                            const float *g_target_s, float *g_out_s, size_t n, mx_rng *rng)
{
    const mx_dynamic_params *d = &p->dynamic;
    const double x0 = d->x0;
    /* Windows of linear ion drift that vanish at a boundary make it
     * unreachable in finite time. */
    const double edge = m == DYN_LID && d->window != MX_WINDOW_NONE ? DYN_X_EDGE : 0.0;
    dyn_ctx nominal;
    ctx_init(&nominal, m, p, NULL);
    dyn_solver s;
    solver_open(&s, p);
    /* Many cells share a target (every zero weight is at g_min): keep the
     * last plan. */
    double last_x_t = NAN, last_v = 0.0, last_t = 0.0, last_pulses = 0.0;
    for (size_t i = 0; i < n; i++) {
        float *cell = cells + i * MX_DYNAMIC_CELL_FLOATS;
        uint32_t u[4] = {0, 0, 0, 0};
        if (m == DYN_PKU)
            mx_rng_block(rng, u);
        const double g_t = mx_device_quantise(p, (double)g_target_s[i]);
        double x_t = nominal_state(&nominal, g_t);
        x_t = x_t < edge ? edge : (x_t > 1.0 - edge ? 1.0 - edge : x_t);
        if (!(x_t == last_x_t)) {
            /* Conductance rises with x for linear ion drift, falls for VTEAM
             * and pku. */
            const int potentiate = (x_t > x0) == (m == DYN_LID);
            const double amplitude = potentiate ? p->pulse.v_ltp_v : p->pulse.v_ltd_v;
            const double width = potentiate ? p->pulse.width_ltp_s : p->pulse.width_ltd_s;
            last_v = pulse_voltage(m, potentiate, amplitude);
            s.ctx = nominal;
            const double t_nominal = solver_time_to(&s, x0, x_t, last_v);
            /* Unreachable (validation excludes it): no pulses rather than
             * an endless train. */
            last_pulses = isfinite(t_nominal) ? nearbyint(t_nominal / width) : 0.0;
            last_t = last_pulses * width;
            last_x_t = x_t;
        }
        ctx_init(&s.ctx, m, p, cell);
        double x = solver_drive(&s, x0, last_v, last_t);
        if (m == DYN_PKU)
            x = pku_vary(&s.ctx, x0, x, last_v, last_pulses, u);
        cell[MX_DYNAMIC_CELL_X] = (float)x;
        g_out_s[i] = cell_conductance(&s.ctx, x);
    }
    solver_close(&s);
}

static void lid_program(const mx_device_params *p, float *cells, const float *g_target_s,
                        float *g_out_s, size_t n, mx_rng *rng)
{
    (void)rng; /* deterministic given the record */
    dynamic_program(DYN_LID, p, cells, g_target_s, g_out_s, n, NULL);
}

static void vteam_program(const mx_device_params *p, float *cells, const float *g_target_s,
                          float *g_out_s, size_t n, mx_rng *rng)
{
    (void)rng;
    dynamic_program(DYN_VTEAM, p, cells, g_target_s, g_out_s, n, NULL);
}

static void pku_program(const mx_device_params *p, float *cells, const float *g_target_s,
                        float *g_out_s, size_t n, mx_rng *rng)
{
    dynamic_program(DYN_PKU, p, cells, g_target_s, g_out_s, n, rng);
}

static void dynamic_bounds(const mx_device_params *p, const float *cells, float *g_lo_s,
                           float *g_hi_s, size_t n)
{
    (void)p;
    for (size_t i = 0; i < n; i++) {
        const float *c = cells + i * MX_DYNAMIC_CELL_FLOATS;
        g_lo_s[i] = (float)(1.0 / (double)c[MX_DYNAMIC_CELL_R_OFF]);
        g_hi_s[i] = (float)(1.0 / (double)c[MX_DYNAMIC_CELL_R_ON]);
    }
}

/* pku: the read conductances at gap_max and gap_min with the cell's I0. */
static void pku_bounds(const mx_device_params *p, const float *cells, float *g_lo_s,
                       float *g_hi_s, size_t n)
{
    dyn_ctx c;
    for (size_t i = 0; i < n; i++) {
        ctx_init(&c, DYN_PKU, p, cells + i * MX_PKU_CELL_FLOATS);
        g_lo_s[i] = cell_conductance(&c, 1.0);
        g_hi_s[i] = cell_conductance(&c, 0.0);
    }
}

const mx_device_type mx_device_linear_ion_drift = {
    .name = "linear-ion-drift",
    .description = "linear ion drift memristor: R(x) = R_ON·x + R_OFF·(1 − x), "
                   "dx/dt = μ_v·R_ON/D²·i·f(x) with a Joglekar, Biolek or Prodromakis window, "
                   "integrated with GSL; lognormal R_ON/R_OFF device-to-device variation",
    .source = "Strukov et al., Nature 453:80 (2008); windows of Joglekar & Wolf (2009), "
              "Biolek et al. (2009), Prodromakis et al. (2011); MemTorch defaults",
    .validate = lid_validate,
    .cell_floats = MX_DYNAMIC_CELL_FLOATS,
    .populate = lid_populate,
    .program = lid_program,
    .amplitude_aware = 1,
    .pulse = lid_pulse,
    .read = mx_device_read_relative,
    .age = NULL, /* no relaxation at zero bias */
    .bounds = dynamic_bounds,
};

const mx_device_type mx_device_vteam = {
    .name = "vteam",
    .description = "VTEAM voltage-threshold memristor: dx/dt = k·(v/v_th − 1)^α beyond the "
                   "thresholds, linear (or exponential) I–V, integrated with GSL; lognormal "
                   "R_ON/R_OFF device-to-device variation",
    .source = "Kvatinsky et al., IEEE TCAS-II 62:786 (2015); MemTorch defaults",
    .validate = vteam_validate,
    .cell_floats = MX_DYNAMIC_CELL_FLOATS,
    .populate = vteam_populate,
    .program = vteam_program,
    .amplitude_aware = 1,
    .pulse = vteam_pulse,
    .read = mx_device_read_relative,
    .age = NULL,
    .bounds = dynamic_bounds,
};

const mx_device_type mx_device_pku = {
    .name = "pku",
    .description = "Stanford-PKU RRAM: filament gap g, I = I0·exp(−g/g0)·sinh(V/V0), "
                   "dg/dt = −ν0·exp(−qE_a/kT)·sinh(γ·a0/t_ox·qV/kT) above the field F_min, "
                   "local temperature T = T0 + |V·I|·R_th (ambient temperature_k), integrated "
                   "with GSL; per-pulse gap variation growing with T; lognormal I0 and ν0 "
                   "device-to-device variation",
    .source = "Jiang et al., IEEE TED 63:1884 (2016); Verilog-A rram_v_1_0_0.va; MemTorch "
              "Stanford_PKU defaults",
    .validate = pku_validate,
    .cell_floats = MX_PKU_CELL_FLOATS,
    .populate = pku_populate,
    .program = pku_program,
    .amplitude_aware = 1,
    .pulse = pku_pulse,
    .read = mx_device_read_relative,
    .age = NULL, /* no motion at zero bias (the variation acts on switching pulses only) */
    .bounds = pku_bounds,
};

/* ---- integration under a waveform ---------------------------------------- */

mx_status mx_dynamic_integrate(const mx_device_type *type, const mx_device_params *p,
                               float *cell, mx_waveform_fn wave, void *wave_ctx,
                               const double *t_s, size_t n, double *v_v, double *i_a, double *x)
{
    mx_status st = mx_dynamic_check(type, p);
    if (st != MX_OK)
        return st;
    if (!wave)
        return mx_fail(MX_EINVAL, "mx_dynamic_integrate: expected a waveform, got NULL");
    if (n == 0 || !t_s)
        return mx_fail(MX_EINVAL, "mx_dynamic_integrate: expected at least one sample time");
    for (size_t k = 0; k < n; k++)
        if (!isfinite(t_s[k]) || (k > 0 && !(t_s[k] > t_s[k - 1])))
            return mx_fail(MX_EINVAL,
                           "mx_dynamic_integrate: expected finite, increasing sample times; "
                           "t[%zu] = %g",
                           k, t_s[k]);
    dyn_model m = DYN_LID;
    model_of(type, &m);
    dyn_solver s;
    ctx_init(&s.ctx, m, p, cell);
    s.ctx.wave = wave;
    s.ctx.wave_ctx = wave_ctx;
    solver_open(&s, p);
    if (!s.drv)
        return mx_fail(MX_ENOMEM, "mx_dynamic_integrate: GSL could not allocate the ODE driver");
    double y = cell ? (double)cell[MX_DYNAMIC_CELL_X] : p->dynamic.x0;
    gsl_odeiv2_driver_reset_hstart(s.drv, (n > 1 ? t_s[1] - t_s[0] : 1.0) * DYN_H0_FRACTION);
    s.sys.function = rhs_time;
    st = MX_OK;
    for (size_t k = 0; k < n; k++) {
        if (k > 0) {
            double t = t_s[k - 1];
            int gs = gsl_odeiv2_driver_apply(s.drv, &t, t_s[k], &y);
            if (gs != GSL_SUCCESS) {
                st = mx_fail(MX_ENUMERIC,
                             "mx_dynamic_integrate: the ODE solver stopped at t = %g s (%s); "
                             "raise hardware.device.dynamic.ode_rel_tol or add samples",
                             t, gsl_strerror(gs));
                break;
            }
            y = clamp01(y);
        }
        const double v = wave(t_s[k], wave_ctx);
        if (v_v)
            v_v[k] = v;
        if (i_a)
            i_a[k] = ctx_current(&s.ctx, y, v);
        if (x)
            x[k] = y;
    }
    solver_close(&s);
    if (cell && st == MX_OK)
        cell[MX_DYNAMIC_CELL_X] = (float)y;
    return st;
}

typedef struct sine_wave {
    double amplitude_v, omega;
} sine_wave;

static double sine_at(double t_s, void *ctx)
{
    const sine_wave *w = ctx;
    return w->amplitude_v * sin(w->omega * t_s);
}

mx_status mx_dynamic_sweep(const mx_device_type *type, const mx_device_params *p,
                           double amplitude_v, double frequency_hz, size_t cycles,
                           size_t samples_per_cycle, double *t_s, double *v_v, double *i_a,
                           double *x)
{
    if (!isfinite(amplitude_v))
        return mx_fail(MX_EINVAL, "mx_dynamic_sweep: expected a finite amplitude, got %g V",
                       amplitude_v);
    if (!(isfinite(frequency_hz) && frequency_hz > 0.0))
        return mx_fail(MX_EINVAL, "mx_dynamic_sweep: expected a frequency > 0 Hz, got %g",
                       frequency_hz);
    if (cycles == 0 || samples_per_cycle < 4)
        return mx_fail(MX_EINVAL,
                       "mx_dynamic_sweep: expected cycles >= 1 and samples_per_cycle >= 4, got "
                       "%zu and %zu",
                       cycles, samples_per_cycle);
    const size_t n = mx_size_mul(cycles, samples_per_cycle) + 1;
    if (n == 1)
        return mx_fail(MX_EINVAL, "mx_dynamic_sweep: cycles·samples_per_cycle overflows");
    double *t = t_s;
    if (!t) {
        t = mx_alloc(n * sizeof *t);
        if (!t)
            return mx_fail(MX_ENOMEM, "mx_dynamic_sweep: %zu sample times", n);
    }
    /* Sample k at k/(f·N) exactly: the zero crossings fall on samples. */
    const double per_sample = 1.0 / (frequency_hz * (double)samples_per_cycle);
    for (size_t k = 0; k < n; k++)
        t[k] = (double)k * per_sample;
    sine_wave w = {.amplitude_v = amplitude_v, .omega = 2.0 * M_PI * frequency_hz};
    mx_status st = mx_dynamic_integrate(type, p, NULL, sine_at, &w, t, n, v_v, i_a, x);
    if (t != t_s)
        mx_free(t);
    return st;
}

double mx_dynamic_lobe_area(const double *v_v, const double *i_a, size_t n)
{
    assert(n >= 2);
    double area = 0.0;
    for (size_t k = 0; k + 1 < n; k++)
        if (v_v[k] + v_v[k + 1] > 0.0)
            area += 0.5 * (i_a[k] + i_a[k + 1]) * (v_v[k + 1] - v_v[k]);
    return fabs(area);
}
