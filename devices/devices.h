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
} mx_device_type;

/* Statistical ReRAM cell: finite levels, lognormal D2D variation,
 * state-dependent programming noise, Gaussian read noise, stuck-at faults. */
extern const mx_device_type mx_device_reram;

/* Registry look-up by name; NULL if unknown. */
const mx_device_type *mx_device_lookup(const char *name);
/* NULL-terminated list of all device types. */
const mx_device_type *const *mx_device_types(void);

/* Quantise a target conductance to the device's levels (identity when
 * levels == 0) after clamping to [g_min, g_max]. */
double mx_device_quantise(const mx_device_params *p, double g_target_s);

#endif /* MX_DEVICES_H */
