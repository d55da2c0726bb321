/* SPDX-License-Identifier: MIT
 *
 * encoder.c: rate coding of pixel intensities into input spikes, one step at
 * a time. Bernoulli: P(spike) = intensity. Poisson: a Poisson process of rate
 * intensity·max_rate observed in steps of dt, P(≥1 event) = 1 − exp(−r·dt).
 * Current: the intensity itself every step (an analog input, for the CNN).
 * One uniform is drawn per input per step whatever the intensity, so the
 * stream position never depends on the data.
 *
 * The draw is a compare of one 32-bit word against ⌊p·2^32⌋ (core/rng.c's
 * mx_rng_bernoulli): input i spikes where word < threshold_i, with threshold
 * 0 for p ≤ 0 and 2^32 (every word) for p ≥ 1. The threshold depends only
 * on the intensity and the configuration, so it is computed once per
 * example (mx_encode_thresholds; the same double expression as every step
 * computed before, hence the same value), and a step is then one batch of
 * n words from the stream (mx_rng_u32_fill: the very words n calls of
 * mx_rng_u32 give) and n integer compares. mx_encode_step keeps the
 * one-call interface for callers without a per-example buffer; it derives
 * the same thresholds, reusing the last one for a run of equal intensities.
 */
#include "snn/snn.h"

#include <math.h>

/* The Bernoulli threshold of one input, as mx_rng_bernoulli takes it:
 * spike where word < threshold. */
static uint64_t input_threshold(double p, int poisson, double rate_dt)
{
    if (poisson)
        p = -expm1(-p * rate_dt);
    if (p <= 0.0)
        return 0;
    if (p >= 1.0)
        return UINT64_C(1) << 32;
    return (uint32_t)(p * 4294967296.0);
}

void mx_encode_thresholds(const mx_snn_config *c, const float *intensity, size_t n,
                          uint64_t *threshold)
{
    const int poisson = c->encoder == MX_ENCODER_POISSON;
    const double rate_dt = c->max_rate_hz * c->dt_s;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && intensity[i] == intensity[i - 1] &&
            signbit(intensity[i]) == signbit(intensity[i - 1]))
            threshold[i] = threshold[i - 1]; /* same float in, same threshold out */
        else
            threshold[i] = input_threshold((double)intensity[i], poisson, rate_dt);
    }
}

size_t mx_encode_step_thresholds(const uint64_t *threshold, size_t n, mx_rng *rng,
                                 uint32_t *words, float *spikes_out)
{
    mx_rng_u32_fill(rng, words, n);
    size_t spikes = 0;
    for (size_t i = 0; i < n; i++) {
        const int s = (uint64_t)words[i] < threshold[i];
        spikes_out[i] = (float)s;
        spikes += (size_t)s;
    }
    return spikes;
}

#define ENCODE_CHUNK 256

void mx_encode_step(const mx_snn_config *c, const float *intensity, size_t n, mx_rng *rng,
                    float *spikes_out)
{
    if (c->encoder == MX_ENCODER_CURRENT) { /* constant input current, no randomness */
        for (size_t i = 0; i < n; i++)
            spikes_out[i] = intensity[i];
        return;
    }
    uint64_t threshold[ENCODE_CHUNK];
    uint32_t words[ENCODE_CHUNK];
    for (size_t i0 = 0; i0 < n; i0 += ENCODE_CHUNK) {
        const size_t k = n - i0 < ENCODE_CHUNK ? n - i0 : ENCODE_CHUNK;
        mx_encode_thresholds(c, intensity + i0, k, threshold);
        (void)mx_encode_step_thresholds(threshold, k, rng, words, spikes_out + i0);
    }
}
