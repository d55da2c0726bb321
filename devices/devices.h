/* SPDX-License-Identifier: MIT
 *
 * devices.h: memristive cell models. A model is a const function table
 * (mx_device_type) found by name in a registry; every function acts on a
 * block of cells at once. This module knows one cell type at a time and
 * nothing about arrays — crossbar/ arranges cells and decides which random
 * stream each block of cells draws from.
 *
 * Conductances are in siemens, float (bulk); parameters are double.
 */
#ifndef MX_DEVICES_H
#define MX_DEVICES_H

#include <stddef.h>

#include "core/core.h"
#include "core/rng.h"

#define MX_DEVICE_PROG_NOISE_ORDER 3
/* Largest per-cell record of any model (mx_device_type.cell_floats). */
#define MX_DEVICE_CELL_FLOATS_MAX 16
#define MX_DEVICE_PATH_BYTES 256

/* A train of identical programming pulses for one cell. */
typedef struct mx_pulse {
    int32_t count;     /* pulses in the train; the sign is the polarity: > 0
                          potentiates (conductance up: SET, LTP), < 0 depresses
                          (RESET, LTD), 0 leaves the cell alone */
    float amplitude_v; /* |V| of each pulse; 0 = the model's nominal write
                          voltage for that polarity (pulse.v_ltp_v / v_ltd_v) */
    float width_s;     /* width of each pulse, s; 0 = nominal (pulse.width_*) */
} mx_pulse;

/* Read-current nonlinearity (I–V) of a cell, used by the crossbar when
 * enabled: the conductance a model reports is G = I/V at v_read_v. */
typedef enum mx_iv_kind {
    MX_IV_LINEAR = 0, /* I = G·V */
    MX_IV_SINH,       /* I = G·V_r·sinh(b·V)/sinh(b·V_r) (the a·sinh(bV) form
                         with a fixed by G at V_r) */
    MX_IV_NEUROSIM,   /* NeuroSim's read-voltage form: G(V) = G·(V_r/V)·
                         NL^((V − V_r)/(V_w/2)), i.e. I = G·V_r·NL^((V−V_r)/(V_w/2))
                         for V > 0, odd in V (anchors-crossbar.md §2.1) */
} mx_iv_kind;

typedef struct mx_iv_params {
    mx_iv_kind kind;    /* MX_IV_LINEAR */
    double v_read_v;    /* V_r, where G is defined, V; 0.2 */
    double sinh_b_per_v; /* b of the sinh form, 1/V; 3 */
    double nl;          /* NeuroSim I ratio between V_w and V_w/2; 10 */
    double v_write_v;   /* NeuroSim V_w, V; 1.0 */
} mx_iv_params;

/* Nominal programming pulses of the pulse-level models (used when a pulse's
 * amplitude or width is 0, and for programming time and energy). */
typedef struct mx_pulse_params {
    double v_ltp_v;     /* |V| of a potentiating pulse, V; 1.0 */
    double width_ltp_s; /* its width, s; 100e-9 */
    double v_ltd_v;     /* |V| of a depressing pulse, V; 1.0 */
    double width_ltd_s; /* its width, s; 100e-9 */
} mx_pulse_params;

/* NeuroSim nonlinear exponential pulse update (devices/nonlinear.c;
 * anchors-crossbar.md §2.1, paper-tables.md §7.3). Both directions use
 * G(P) = B(1 − e^(−P/A)) + g_min on one pulse axis with a signed A per
 * direction, as NeuroSim's code and published labels do: a positive label
 * bends the curve above the line (big steps near g_min), a negative one
 * below it (so a negative nl_ltd is the usual saturating depression). */
typedef struct mx_nonlinear_params {
    double nl_ltp;      /* nonlinearity label of potentiation, |NL| in
                           [0.01, 9] or 0 (linear); the sign is that of A; 1.0 */
    double nl_ltd;      /* of depression, same convention; 1.0 */
    int states_ltp;     /* P_max of potentiation: pulses from g_min to g_max,
                           1..1e6; 100 */
    int states_ltd;     /* P_max of depression: pulses from g_max to g_min; 100 */
    double c2c_sigma;   /* cycle-to-cycle σ as a fraction of (g_max − g_min),
                           per pulse train ×sqrt(|pulses|); 0 */
    double d2d_nl_sigma;/* device-to-device σ of the NL label (Gaussian, NL
                           units; sign kept, |NL| clipped to [0.01, 9]); 0 */
} mx_nonlinear_params;

/* aihwkit-style step models (devices/step.c; anchors-crossbar.md §2.2).
 * Weights w of aihwkit's equations are conductances normalised to the
 * window: w = (g − g_min)/(g_max − g_min) ∈ [0, 1], bounds b_min = 0,
 * b_max = 1 before device-to-device variation; aihwkit's zero weight is the
 * window middle, so its dw_min and bound spreads divide by (w_max − w_min)
 * (default 1.2) and its dimensionless parameters carry over unchanged. */
typedef enum mx_step_kind {
    MX_STEP_CONSTANT = 0, /* ConstantStep */
    MX_STEP_LINEAR,       /* LinearStep (soft bounds when gamma = 1) */
    MX_STEP_SOFT_BOUNDS,  /* SoftBounds: LinearStep with γ⁺ = γ⁻ = 1, no γ D2D */
    MX_STEP_EXP,          /* ExpStep */
    MX_STEP_POW,          /* PowStep */
} mx_step_kind;

typedef struct mx_step_params {
    mx_step_kind kind;     /* MX_STEP_CONSTANT */
    double dw_min;         /* mean step at the window middle, fraction of the
                              window, in (0, 1]; 0.01 */
    double dw_min_dtod;    /* relative D2D σ of the step; 0.3 (aihwkit) */
    double dw_min_std;     /* relative C2C σ of each step (multiplicative); 0.3 (aihwkit) */
    double up_down;        /* up/down asymmetry β: Δw± = dw_min(1 ± β), |β| < 1; 0 */
    double up_down_dtod;   /* D2D σ of β; 0.01 (aihwkit) */
    double bounds_dtod;    /* D2D σ of each bound, fraction of the window
                              (aihwkit w_max_dtod·w_max/(w_max − w_min)); 0 */
    double gamma_up;       /* LinearStep γ⁺ ≥ 0: the up step shrinks by this
                              fraction from the middle to the upper bound; 0 */
    double gamma_down;     /* LinearStep γ⁻ ≥ 0; 0 */
    double gamma_dtod;     /* D2D σ of γ±, absolute; 0 (aihwkit 0.05) */
    double exp_a_up;       /* ExpStep A_up; 0.00081 (aihwkit) */
    double exp_a_down;     /* ExpStep A_down; 0.36833 */
    double exp_gamma_up;   /* ExpStep γ_up; 12.44625 */
    double exp_gamma_down; /* ExpStep γ_down; 12.78785 */
    double exp_a;          /* ExpStep a (z = 2a(w − middle)/span + b); 0.244 */
    double exp_b;          /* ExpStep b; 0.2425 */
    double pow_gamma;      /* PowStep exponent γ > 0; 1 */
    double pow_gamma_dtod; /* relative D2D σ of the exponent; 0 (aihwkit 0.1) */
} mx_step_params;

/* Stochastic binary switching (devices/binary.c; Gaba et al. 2013 form,
 * paper-tables.md §9.5): P = 1 − exp(−t_pulse/τ(V)), τ(V) = τ0·exp(−|V|/V0).
 * States: OFF = g_min, ON = g_max. */
typedef struct mx_binary_params {
    double tau0_s;      /* τ0, s; 2.85e5 (Jo, Kim & Lu 2009 fit, unverified) */
    double v0_v;        /* V0, V; 0.155 (same fit) */
    double tau0_d2d;    /* D2D σ of ln τ0 (lognormal τ0, median tau0_s); 0 */
    double v0_d2d;      /* relative D2D σ of V0 (Gaussian, floored at 1 % of V0); 0 */
} mx_binary_params;

/* Dynamic memristor models integrated in time (devices/dynamic.c,
 * devices/dynamic.h; paper-tables.md §9.1, §9.2, §9.4). Each cell keeps its
 * state x ∈ [0, 1]: w/D of linear ion drift (x = 1 is ON), (w − w_on)/(w_off −
 * w_on) of VTEAM (x = 1 is OFF), the normalised filament gap of pku (x = 1 is
 * OFF; its own parameters are mx_pku_params). */
typedef enum mx_window_kind {
    MX_WINDOW_NONE = 0,
    MX_WINDOW_JOGLEKAR,    /* f = 1 − (2x − 1)^(2p) */
    MX_WINDOW_BIOLEK,      /* f = 1 − (x − stp(−i))^(2p) */
    MX_WINDOW_PRODROMAKIS, /* f = j·(1 − ((x − 0.5)² + 0.75)^p) */
} mx_window_kind;

/* VTEAM's current–voltage relation at state x ∈ [0, 1] (Kvatinsky 2015). */
typedef enum mx_vteam_iv_kind {
    MX_VTEAM_IV_LINEAR = 0,  /* R = R_ON + (R_OFF − R_ON)·x (MemTorch) */
    MX_VTEAM_IV_EXPONENTIAL, /* R = R_ON·exp(λx), λ = ln(R_OFF/R_ON) */
} mx_vteam_iv_kind;

typedef struct mx_dynamic_params {
    mx_window_kind window; /* linear ion drift window; MX_WINDOW_JOGLEKAR */
    double window_p;       /* window exponent p; 1 */
    double window_j;       /* Prodromakis scale j; 1 */
    double r_on_ohm;       /* R_ON, Ω; 100 (Strukov 2008 / MemTorch) */
    double r_off_ohm;      /* R_OFF, Ω; 16e3 */
    double d_m;            /* film thickness D, m; 10e-9 */
    double mu_v;           /* ion mobility μ_v, m²/(V·s); 1e-14 */
    double x0;             /* state of a fresh cell, and where `program`
                              starts from (every dynamic model); 0.5 */
    /* VTEAM (Kvatinsky 2015; MemTorch defaults, paper-tables.md §9.2) */
    double k_on_m_per_s;   /* k_on, m/s; −10 */
    double k_off_m_per_s;  /* k_off, m/s; 5e-4 */
    double alpha_on;       /* 3 */
    double alpha_off;      /* 1 */
    double v_on_v;         /* < 0; −0.2 */
    double v_off_v;        /* > 0; 0.02 */
    double vteam_r_on_ohm; /* 50 */
    double vteam_r_off_ohm;/* 1e3 */
    double vteam_d_m;      /* x_off − x_on, m; 3e-9 */
    mx_vteam_iv_kind vteam_iv; /* VTEAM I–V; MX_VTEAM_IV_LINEAR */
    double d2d_sigma_r;    /* relative D2D σ of R_ON and R_OFF (lognormal,
                              mean-preserving, drawn independently; pku: of
                              the read resistance at every gap, through I0,
                              so R_ON and R_OFF move together); 0 */
    double ode_rel_tol;    /* GSL ODE relative (and, x being in [0, 1],
                              absolute) tolerance; 1e-6 */
} mx_dynamic_params;

/* Stanford-PKU RRAM (Jiang et al., IEEE TED 63:1884, 2016; the Verilog-A
 * rram_v_1_0_0.va; MemTorch Stanford_PKU defaults, paper-tables.md §9.4),
 * integrated by devices/dynamic.c with dynamic.x0, dynamic.ode_rel_tol and
 * dynamic.d2d_sigma_r. State: the filament gap g ∈ [gap_min, gap_max],
 * x = (g − gap_min)/(gap_max − gap_min) (x = 1 is OFF). The ambient
 * temperature T0 is hardware.device.temperature_k. */
typedef struct mx_pku_params {
    double i0_a;           /* I0 of I = I0·exp(−g/g0)·sinh(V/V0), A; 1e-3 */
    double g0_m;           /* g0, m; 0.25e-9 */
    double v0_v;           /* V0, V; 0.25 */
    double gap_min_m;      /* smallest gap (ON), m; 0.2e-9 */
    double gap_max_m;      /* largest gap (OFF), m; 1.7e-9 */
    double nu0_m_per_s;    /* gap velocity prefactor ν0, m/s; 10 */
    double ea_ev;          /* activation energy E_a, eV; 0.6 */
    double a0_m;           /* atomic hopping distance a0, m; 0.25e-9 */
    double t_ox_m;         /* oxide thickness t_ox, m; 12e-9 */
    double gamma0;         /* field enhancement γ0 of γ = γ0 − β·(g/1 nm)³; 16 */
    double beta;           /* β of γ; 0.8 */
    double f_min_v_per_m;  /* field below which the gap does not move
                              (γ·|V|/t_ox < F_min), V/m; 1.4e9 */
    double r_th_k_per_w;   /* thermal resistance R_th of T = T0 + |V·I|·R_th,
                              K/W; 2.1e3 */
    double delta_g0_m;     /* cycle-to-cycle gap variation δg0 per pulse, m
                              (σ = δg0/(1 + exp((T_crit − T)/T_smth))·√pulses);
                              0 (the source's standard model; its dynamic
                              model and the stanford-pku preset: 0.02e-9) */
    double t_crit_k;       /* T_crit of the variation, K; 450 */
    double t_smth_k;       /* T_smth of the variation, K; 500 */
    double d2d_sigma_nu0;  /* relative D2D σ of ν0 (lognormal, mean-preserving):
                              the spread of switching speed; 0 */
} mx_pku_params;

/* A measured conductance-vs-pulse curve (devices/measured.c). Loaded once
 * by mx_measured_curve_load and shared read-only by every cell. */
typedef struct mx_measured_curve mx_measured_curve;

typedef struct mx_measured_params {
    char path[MX_DEVICE_PATH_BYTES]; /* CSV or HDF5 file of the curve; "" */
    const mx_measured_curve *curve;  /* borrowed, loaded from path; NULL until
                                        mx_measured_apply (devices/measured.h),
                                        which also sets g_min_s/g_max_s to the
                                        curve's window */
    double spread_scale;             /* multiplies the measured cycle-to-cycle
                                        standard deviation (0 = the mean curve
                                        only); 1 */
} mx_measured_params;

/* Parameters of every cell model: the common ones first, then one block per
 * model family; a model reads the common ones and its own block. Defaults
 * from mx_device_params_default(); unit and default on each line. */
typedef struct mx_device_params {
    double g_min_s;            /* lowest programmable conductance, S; 1e-6 (1 MΩ) */
    double g_max_s;            /* highest programmable conductance, S; 1e-5 (100 kΩ):
                                  ON/OFF 10, the DNN+NeuroSim default ratio and its
                                  TaOx/HfOx R_on (paper-tables.md §7.1, §7.4) */
    int levels;                /* programmable levels in [g_min, g_max]; 0 = continuous */
    double d2d_sigma;          /* device-to-device variation of the programmed
                                  conductance: lognormal, relative σ (std/mean); 0 */
    double prog_noise_coeffs[MX_DEVICE_PROG_NOISE_ORDER];
                               /* state-dependent programming noise, additive
                                  Gaussian with σ/g_max = c0 + c1·ĝ + c2·ĝ²,
                                  ĝ = g_target/g_max (form of Nandakumar 2019);
                                  {0, 0, 0} */
    double read_noise_sigma;   /* per-read noise, relative σ, drawn afresh at each read; 0 */
    double stuck_at_gmin_frac; /* fraction of cells stuck at g_min; 0 */
    double stuck_at_gmax_frac; /* fraction of cells stuck at g_max; 0 */
    /* Time, for models that age (mx_device_type.age; others ignore these). */
    double t_inference_s;      /* time between programming and evaluation, s; 0 */
    double drift_t0_s;         /* drift reference time t0 (the first read after
                                  programming), s; 20 (Nandakumar 2019, aihwkit) */
    double read_time_s;        /* duration of one read, t_read of the 1/f term, s;
                                  250e-9 (Nandakumar 2019, aihwkit) */
    /* Endurance of the pulse-level models: the conductance window narrows with
     * switching cycles (cell.c, mx_device_endurance_window). */
    double endurance_cycles;   /* cycles after which the window has closed to
                                  endurance_floor; 0 = no wear-out */
    double endurance_onset;    /* cycles before the window starts to narrow; 1e3 */
    double endurance_floor;    /* remaining window fraction at endurance_cycles; 0.1 */
    double temperature_k;      /* device temperature, K (models whose source has
                                  a dependence); 300 */
    mx_iv_params iv;
    mx_pulse_params pulse;
    mx_nonlinear_params nonlinear;
    mx_step_params step;
    mx_binary_params binary;
    mx_dynamic_params dynamic;
    mx_pku_params pku;
    mx_measured_params measured;
} mx_device_params;

void mx_device_params_default(mx_device_params *p);

/* A cell model. Conductances g_s are float siemens. Models with a per-cell
 * record (cell_floats > 0) keep there what a conductance alone does not say:
 * their device-to-device parameters, drawn once by `populate`, and state such
 * as an internal variable or a cycle count. `program` and `pulse` update the
 * record and g_s together; a cell's next call starts from what the last one
 * left in both. Every function draws a fixed number of values per cell from
 * rng, in cell order, whatever the parameters, so streams stay aligned. */
typedef struct mx_device_type {
    const char *name;
    const char *description;
    const char *source;     /* the publication(s) the equations come from */
    /* Check parameters; MX_EINVAL naming the field on failure. */
    mx_status (*validate)(const mx_device_params *p);
    /* Floats in each cell's record, ≤ MX_DEVICE_CELL_FLOATS_MAX; 0 = none. */
    size_t cell_floats;
    /* Draw a population of n cells (NULL iff cell_floats == 0): the
     * device-to-device variation of every parameter the model has, into
     * cells[i·cell_floats ...], and the state of a fresh (never programmed)
     * device. */
    void (*populate)(const mx_device_params *p, float *cells, size_t n, mx_rng *rng);
    /* Program n cells open-loop toward g_target_s (clamped to [g_min, g_max]):
     * what a programmer that knows only the nominal device does (pulse models:
     * reset, then the pulses the nominal curve needs). cells is NULL iff
     * cell_floats == 0. OUT: g_out_s, the conductances reached (may alias
     * g_target_s). Use mx_device_program for fresh cells. */
    void (*program)(const mx_device_params *p, float *cells, const float *g_target_s,
                    float *g_out_s, size_t n, mx_rng *rng);
    /* Non-zero when `pulse` depends on mx_pulse.amplitude_v (a pulse below
     * the nominal write voltage moves the cell less, or not at all): binary's
     * τ(V) law, the dynamic models' rates and thresholds. Models that take
     * every pulse as a nominal one leave it 0; the crossbar's half-select
     * disturb (V_w/2 pulses) needs it. */
    int amplitude_aware;
    /* Optional (NULL: the model has no pulse response). Apply pulses[i] to
     * cell i, with cycle-to-cycle noise: IN/OUT cells and g_s. */
    void (*pulse)(const mx_device_params *p, float *cells, float *g_s, const mx_pulse *pulses,
                  size_t n, mx_rng *rng);
    /* One read of n cells: OUT g_read_s, the conductance seen by this read
     * (read noise drawn afresh). May alias. */
    void (*read)(const mx_device_params *p, const float *g_s, float *g_read_s, size_t n,
                 mx_rng *rng);
    /* Optional (NULL: conductances do not age). The conductance of n cells a
     * time t_s after they were programmed toward g_target_s and reached
     * g_prog_s: drift, and noise accumulated since programming. OUT: g_out_s
     * (may alias g_prog_s). */
    void (*age)(const mx_device_params *p, const float *g_target_s, const float *g_prog_s,
                float *g_out_s, size_t n, double t_s, mx_rng *rng);
    /* Optional (NULL: every cell spans [g_min, g_max]). Each cell's
     * conductance bounds, with its device-to-device variation and wear. */
    void (*bounds)(const mx_device_params *p, const float *cells, float *g_lo_s, float *g_hi_s,
                   size_t n);
} mx_device_type;

/* Statistical ReRAM cell: finite levels, lognormal D2D variation,
 * state-dependent programming noise, Gaussian read noise, stuck-at faults. */
extern const mx_device_type mx_device_reram;

/* Statistical PCM cell (Nandakumar et al. 2019, as aihwkit's
 * PCMLikeNoiseModel): state-dependent programming noise, conductance drift
 * with a per-cell exponent, accumulated 1/f read noise; see devices/pcm.h. */
extern const mx_device_type mx_device_pcm;

/* NeuroSim nonlinear exponential pulse update (devices/nonlinear.c): LTP/LTD
 * curves from nonlinearity labels, C2C and D2D variation, endurance. */
extern const mx_device_type mx_device_nonlinear;

/* aihwkit's pulsed step models (constant, linear, soft bounds, exp, pow
 * step; p->step.kind), per-pulse updates with D2D and C2C variation. */
extern const mx_device_type mx_device_step;

/* Stochastic binary cell (Gaba et al. 2013): Poisson switching between
 * g_min and g_max with τ(V) = τ0·exp(−|V|/V0); see devices/binary.c. */
extern const mx_device_type mx_device_binary;

/* Linear ion drift memristor (Strukov et al. 2008) with a window function,
 * integrated with GSL's ODE solvers; see devices/dynamic.h. */
extern const mx_device_type mx_device_linear_ion_drift;

/* VTEAM memristor (Kvatinsky et al. 2015), voltage thresholds, integrated
 * with GSL's ODE solvers; see devices/dynamic.h. */
extern const mx_device_type mx_device_vteam;

/* Stanford-PKU RRAM (Jiang et al. 2016): filament-gap dynamics with
 * Arrhenius temperature dependence and self-heating, GSL ODE; see dynamic.h. */
extern const mx_device_type mx_device_pku;

/* Measured conductance-vs-pulse curve from a CSV/HDF5 file, interpolated
 * monotonically, with the measured cycle-to-cycle spread; see measured.h. */
extern const mx_device_type mx_device_measured;

/* Registry look-up by name; NULL if unknown. */
const mx_device_type *mx_device_lookup(const char *name);
/* NULL-terminated list of all device types. */
const mx_device_type *const *mx_device_types(void);

/* A named, published device: a model and its parameter values
 * (devices/presets.c; paper-tables.md §7). */
typedef struct mx_device_preset {
    const char *name;        /* e.g. "ag-si" */
    const char *type;        /* registry name of its model */
    const char *description; /* material stack, one line */
    const char *source;      /* publication the values come from */
    /* Set the preset's parameters on p (already holding the defaults). */
    void (*apply)(mx_device_params *p);
    /* NeuroSim V3.0's published online-training accuracy for this device
     * (paper-tables.md §7.1), fraction; NaN when there is none. */
    double neurosim_online_accuracy;
} mx_device_preset;

/* Preset look-up by name; NULL if unknown. */
const mx_device_preset *mx_device_preset_lookup(const char *name);
/* NULL-terminated list of all presets. */
const mx_device_preset *const *mx_device_presets(void);

/* Program n fresh cells open-loop: draw a population (when the model has
 * one) and program it, in chunks, from one rng — the entry point for callers
 * that keep no cell records (the crossbar's inference programming, noise-aware
 * training). Same signature for every model. */
void mx_device_program(const mx_device_type *type, const mx_device_params *p,
                       const float *g_target_s, float *g_out_s, size_t n, mx_rng *rng);

/* Quantise a target conductance to the device's levels (identity when
 * levels == 0) after clamping to [g_min, g_max]. */
double mx_device_quantise(const mx_device_params *p, double g_target_s);

/* Current through a cell of conductance g_s (defined at iv.v_read_v) at
 * voltage v_v, by the I–V form of p->iv. Odd in v. */
double mx_device_current(const mx_device_params *p, double g_s, double v_v);

/* Fraction of the conductance window left after `cycles` switching cycles:
 * 1 up to endurance_onset, then falling linearly in log(cycles) to
 * endurance_floor at endurance_cycles, and staying there; 1 always when
 * endurance_cycles == 0. The window narrows symmetrically about its middle. */
double mx_device_endurance_window(const mx_device_params *p, double cycles);

/* The effective amplitude and width of a pulse: its own, or the nominal
 * (p->pulse) for its polarity when 0. */
void mx_pulse_resolve(const mx_device_params *p, const mx_pulse *pulse, double *amplitude_v,
                      double *width_s);

/* Pieces shared by the cell models (devices/cell.c). */

/* The checks every cell makes: g_min, g_max, levels, read_noise_sigma,
 * stuck-at fractions, endurance, temperature, I–V and nominal pulse.
 * MX_EINVAL naming the field. */
mx_status mx_device_validate_cell(const mx_device_params *p);

/* A read with relative Gaussian noise: g·(1 + read_noise_sigma·ξ), ξ ~ N(0, 1)
 * afresh per cell and read, clamped at 0 (one normal per cell when σ > 0,
 * none otherwise). OUT: g_read_s (may alias). */
void mx_device_read_relative(const mx_device_params *p, const float *g_s, float *g_read_s,
                             size_t n, mx_rng *rng);

#endif /* MX_DEVICES_H */
