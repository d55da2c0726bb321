/* SPDX-License-Identifier: MIT
 *
 * nonlinear.h: closed forms of the NeuroSim nonlinear exponential
 * pulse-update model (devices/nonlinear.c), public so that tests and tools
 * can compute the nominal curves and the label-to-A relation themselves.
 *
 * Normalised form: a cell's pulse coordinate x = P/P_max ∈ [0, 1] and its
 * conductance y = (G − G_min)/(G_max − G_min) ∈ [0, 1] lie on
 *
 *     y = g(x; a) = (1 − e^(−x/a)) / (1 − e^(−1/a)),   a = A/P_max,
 *
 * which is NeuroSim's G(P) = B(1 − e^(−P/A)) + G_min with
 * B = (G_max − G_min)/(1 − e^(−P_max/A)) (MLP+NeuroSim V3.0 `Cell.cpp`,
 * manual eq. 8.1–8.3). a > 0 bends the curve above the straight line
 * (large steps near G_min), a < 0 below it; a = ±∞ is the straight line.
 * The nonlinearity label NL of the NeuroSim tables maps to a (same sign).
 */
#ifndef MX_NONLINEAR_H
#define MX_NONLINEAR_H

#include "core/core.h"

/* Range of |NL| the NeuroSim table covers (`Nonlinearity-NormA.htm`):
 * labels 0.01 to 9; 0 means linear. */
#define MX_NONLINEAR_NL_MIN 0.01
#define MX_NONLINEAR_NL_MAX 9.0

/* The constant of the label definition: the largest vertical distance
 * between g(x; a) and the line y = x is κ·|NL|, κ = 0.07·√2 (equivalently,
 * the largest perpendicular distance is 0.07·|NL|). Found by fitting the
 * published table; see nonlinear.c. */
#define MX_NONLINEAR_KAPPA 0.098994949366116653

/* A cell's record (mx_device_nonlinear.cell_floats floats), public for tests
 * and tools; the library reads it only through the device table. */
enum {
    MX_NONLINEAR_REC_A_LTP = 0, /* normalised A of potentiation (±INFINITY: linear) */
    MX_NONLINEAR_REC_A_LTD,     /* normalised A of depression */
    MX_NONLINEAR_REC_REV_LO,    /* polarity reversals mod 2^20 (exact in a float) */
    MX_NONLINEAR_REC_REV_HI,    /* polarity reversals / 2^20 */
    MX_NONLINEAR_REC_POLARITY,  /* sign of the last train: +1, −1; 0 = never pulsed */
    MX_NONLINEAR_REC_STUCK,     /* 0 healthy, 1 stuck at g_min, 2 stuck at g_max */
    MX_NONLINEAR_REC_FLOATS
};

/* max over x ∈ [0, 1] of |g(x; a) − x|, closed form: 1/c − |a| + |a|·ln(|a|·c)
 * with c = 1 − e^(−1/|a|); 0 for a = ±∞. Even in a. */
double mx_nonlinear_max_deviation(double a_norm);

/* Solve the normalised A of a nonlinearity label (GSL Brent root finding on
 * mx_nonlinear_max_deviation(a) = κ·|NL|; the sign of A is that of NL).
 * NL = 0 gives ±INFINITY (+: linear). OUT: a_norm. MX_EINVAL (naming
 * `field`, e.g. "hardware.device.nonlinear.nl_ltp") when NL is not finite or
 * 0 < |NL| < 0.01 or |NL| > 9; MX_ENOMEM when GSL cannot allocate its
 * solver (reached only with GSL's error handler switched off; its default
 * handler aborts). */
mx_status mx_nonlinear_norm_a(double nl, const char *field, double *a_norm);

/* g(x; a), the normalised curve; x is not clamped (a caller clamps it to
 * [0, 1]). Stable for every a ≠ 0: a < 0 is evaluated as 1 − g(1 − x; −a). */
double mx_nonlinear_curve(double x, double a_norm);

/* The inverse of g: the pulse coordinate x of a normalised conductance y
 * (y clamped to [0, 1]). */
double mx_nonlinear_curve_inverse(double y, double a_norm);

/* Absolute forms. The LTP curve: G after p pulses from G_min along the curve
 * of normalised A a_norm (A = a_norm·P_max). The LTD curve of NeuroSim is the
 * same form in the same coordinate (P = P_max at G_max); depression moves P
 * down. In the manual's mirrored notation, G_LTD(P) = −B'(1 − e^((P−P_max)/A'))
 * + G_max with A' = −A: the two are one curve (nonlinear.c). */
double mx_nonlinear_conductance(double p_pulses, double p_max, double a_norm, double g_min_s,
                                double g_max_s);
/* Its inverse: the pulse coordinate P ∈ [0, P_max] of conductance g_s. */
double mx_nonlinear_pulses(double g_s, double p_max, double a_norm, double g_min_s,
                           double g_max_s);

#endif /* MX_NONLINEAR_H */
