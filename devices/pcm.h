/* SPDX-License-Identifier: MIT
 *
 * pcm.h: the closed-form pieces of the statistical PCM cell (pcm.c), exposed
 * so tests can check them against the published fit (paper-tables.md §6.2)
 * and tools can plot them. ĝ = g/g_max is the conductance normalised to the
 * device's g_max; the fit's coefficients are in µS at g_max = 25 µS and are
 * scaled by g_max/25 µS (Nandakumar et al., ICECS 2019; Joshi et al., Nat.
 * Commun. 11:2473, 2020; aihwkit PCMLikeNoiseModel). None of these fails.
 */
#ifndef MX_PCM_H
#define MX_PCM_H

/* Standard deviation of the additive Gaussian programming noise, S:
 * max(−1.1731ĝ² + 1.9650ĝ + 0.26348, 0) µS · g_max/25 µS. */
double mx_pcm_prog_sigma_s(double g_hat, double g_max_s);

/* Mean μ_ν of the drift exponent: min(max(−0.0155 ln ĝ + 0.0244, 0.049), 0.1). */
double mx_pcm_drift_mean(double g_hat);

/* Standard deviation σ_ν of the drift exponent:
 * min(max(−0.0125 ln ĝ − 0.0059, 0.008), 0.045). */
double mx_pcm_drift_std(double g_hat);

/* 1/f noise amplitude Q_s = min(0.0088 / max(ĝ^0.65, 1e-3), 0.2). */
double mx_pcm_q_s(double g_hat);

/* Relative σ of the 1/f noise accumulated t_s after programming:
 * Q_s·sqrt(ln((t + t_read)/(2 t_read))) for t > t_read, else 0. */
double mx_pcm_read_sigma_rel(double g_hat, double t_s, double read_time_s);

#endif /* MX_PCM_H */
