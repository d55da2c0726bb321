/* SPDX-License-Identifier: MIT
 *
 * encoder.c: rate coding of pixel intensities into input spikes, one step at
 * a time. Bernoulli: P(spike) = intensity. Poisson: a Poisson process of rate
 * intensity·max_rate observed in steps of dt, P(≥1 event) = 1 − exp(−r·dt).
 * Current: the intensity itself every step (an analog input, for the CNN).
 * One uniform is drawn per input per step whatever the intensity, so the
 * stream position never depends on the data.
 */
#include "snn/snn.h"

#include <math.h>

void mx_encode_step(const mx_snn_config *c, const float *intensity, size_t n, mx_rng *rng,
                    float *spikes_out)
{
    if (c->encoder == MX_ENCODER_CURRENT) { /* constant input current, no randomness */
        for (size_t i = 0; i < n; i++)
            spikes_out[i] = intensity[i];
        return;
    }
    const int poisson = c->encoder == MX_ENCODER_POISSON;
    const double rate_dt = c->max_rate_hz * c->dt_s;
    for (size_t i = 0; i < n; i++) {
        double p = (double)intensity[i];
        if (poisson)
            p = -expm1(-p * rate_dt);
        spikes_out[i] = (float)mx_rng_bernoulli(rng, p);
        if (p <= 0.0 || p >= 1.0)
            (void)mx_rng_u32(rng); /* keep one draw per input per step */
    }
}
