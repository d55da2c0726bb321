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

/* Parameters shared by the statistical cell models. Defaults from
 * mx_device_params_default(); unit and default on each line. */
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
    double read_time_s;        /* duration of one read, t_read of the 1/f noise
                                  term, s; 250e-9 (Nandakumar 2019, aihwkit) */
} mx_device_params;

void mx_device_params_default(mx_device_params *p);

typedef struct mx_device_type {
    const char *name;
    const char *description;
    /* Check parameters; MX_EINVAL naming the field on failure. */
    mx_status (*validate)(const mx_device_params *p);
    /* Program n cells open-loop toward g_target_s (clamped to [g_min, g_max]).
     * OUT: g_out_s, the conductances reached. Draws a fixed number of values
     * per cell from rng, in cell order. g_target_s and g_out_s may alias. */
    void (*program)(const mx_device_params *p, const float *g_target_s, float *g_out_s,
                    size_t n, mx_rng *rng);
    /* One read of n cells: OUT g_read_s, the conductance seen by this read
     * (read noise drawn afresh). May alias. */
    void (*read)(const mx_device_params *p, const float *g_s, float *g_read_s, size_t n,
                 mx_rng *rng);
    /* Optional (NULL: conductances do not age). The conductance of n cells a
     * time t_s after they were programmed toward g_target_s and reached
     * g_prog_s: drift, and noise accumulated since programming. Draws a fixed
     * number of values per cell from rng, in cell order. OUT: g_out_s (may
     * alias g_prog_s). */
    void (*age)(const mx_device_params *p, const float *g_target_s, const float *g_prog_s,
                float *g_out_s, size_t n, double t_s, mx_rng *rng);
} mx_device_type;

/* Statistical ReRAM cell: finite levels, lognormal D2D variation,
 * state-dependent programming noise, Gaussian read noise, stuck-at faults. */
extern const mx_device_type mx_device_reram;

/* Statistical PCM cell (Nandakumar et al. 2019, as aihwkit's
 * PCMLikeNoiseModel): state-dependent programming noise, conductance drift
 * with a per-cell exponent, accumulated 1/f read noise; see devices/pcm.h. */
extern const mx_device_type mx_device_pcm;

/* Registry look-up by name; NULL if unknown. */
const mx_device_type *mx_device_lookup(const char *name);
/* NULL-terminated list of all device types. */
const mx_device_type *const *mx_device_types(void);

/* Quantise a target conductance to the device's levels (identity when
 * levels == 0) after clamping to [g_min, g_max]. */
double mx_device_quantise(const mx_device_params *p, double g_target_s);

/* Pieces shared by the statistical cell models (devices/cell.c). */

/* The checks every statistical cell makes: g_min, g_max, levels,
 * read_noise_sigma, stuck-at fractions. MX_EINVAL naming the field. */
mx_status mx_device_validate_cell(const mx_device_params *p);

/* A read with relative Gaussian noise: g·(1 + read_noise_sigma·ξ), ξ ~ N(0, 1)
 * afresh per cell and read, clamped at 0 (one normal per cell when σ > 0,
 * none otherwise). The `read` of reram and pcm. OUT: g_read_s (may alias). */
void mx_device_read_relative(const mx_device_params *p, const float *g_s, float *g_read_s,
                             size_t n, mx_rng *rng);

#endif /* MX_DEVICES_H */
