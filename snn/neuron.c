/* SPDX-License-Identifier: MIT
 *
 * neuron.c: integrate-and-fire neurons on a block, and the SNN config.
 * IF: v ← v + I. LIF: v ← e^(−dt/τ)·v + I (the exact solution of
 * τ dv/dt = −v over one step with the step's input charge added at its end).
 * Both reset by subtraction (v −= θ on a spike), which keeps the residual
 * charge and makes the spike rate of an IF neuron track a ReLU activation
 * (Rueckauer et al. 2017).
 */
#include "snn/snn.h"

#include <math.h>

#define SNN_DEFAULT_TIMESTEPS 64
#define SNN_DEFAULT_TAU_MEM_S 20e-3
#define SNN_DEFAULT_DT_S 1e-3
#define SNN_DEFAULT_MAX_RATE_HZ 1000.0
#define SNN_DEFAULT_NORM_PERCENTILE 99.9
#define SNN_MAX_TIMESTEPS 100000

void mx_snn_config_default(mx_snn_config *c)
{
    *c = (mx_snn_config){
        .neuron = MX_NEURON_IF,
        .timesteps = SNN_DEFAULT_TIMESTEPS,
        .tau_mem_s = SNN_DEFAULT_TAU_MEM_S,
        .dt_s = SNN_DEFAULT_DT_S,
        .encoder = MX_ENCODER_BERNOULLI,
        .max_rate_hz = SNN_DEFAULT_MAX_RATE_HZ,
        .norm_percentile = SNN_DEFAULT_NORM_PERCENTILE,
    };
}

mx_status mx_snn_config_validate(const mx_snn_config *c)
{
    if (c->neuron != MX_NEURON_IF && c->neuron != MX_NEURON_LIF)
        return mx_fail(MX_EINVAL, "snn.neuron: expected if or lif");
    if (c->timesteps < 1 || c->timesteps > SNN_MAX_TIMESTEPS)
        return mx_fail(MX_EINVAL, "snn.timesteps: expected an integer in [1, %d], got %zu",
                       SNN_MAX_TIMESTEPS, c->timesteps);
    if (!(isfinite(c->tau_mem_s) && c->tau_mem_s > 0.0))
        return mx_fail(MX_EINVAL, "snn.tau_mem_s: expected a time > 0 s, got %g", c->tau_mem_s);
    if (!(isfinite(c->dt_s) && c->dt_s > 0.0))
        return mx_fail(MX_EINVAL, "snn.dt_s: expected a time > 0 s, got %g", c->dt_s);
    if (c->encoder != MX_ENCODER_BERNOULLI && c->encoder != MX_ENCODER_POISSON &&
        c->encoder != MX_ENCODER_CURRENT)
        return mx_fail(MX_EINVAL, "snn.encoder: expected bernoulli, poisson or current");
    if (!(isfinite(c->max_rate_hz) && c->max_rate_hz > 0.0))
        return mx_fail(MX_EINVAL, "snn.max_rate_hz: expected a rate > 0 Hz, got %g",
                       c->max_rate_hz);
    if (!(c->norm_percentile > 0.0 && c->norm_percentile <= 100.0))
        return mx_fail(MX_EINVAL, "snn.norm_percentile: expected a number in (0, 100], got %g",
                       c->norm_percentile);
    return MX_OK;
}

double mx_neuron_decay(const mx_snn_config *c)
{
    return c->neuron == MX_NEURON_LIF ? exp(-c->dt_s / c->tau_mem_s) : 1.0;
}

size_t mx_neuron_step(size_t n, float *v, const float *input, float decay, float threshold,
                      float *spikes_out)
{
    size_t spikes = 0;
    for (size_t i = 0; i < n; i++) {
        float u = decay * v[i] + input[i];
        float s = u >= threshold ? 1.0f : 0.0f;
        v[i] = u - s * threshold;
        spikes_out[i] = s;
        spikes += (size_t)s;
    }
    return spikes;
}
