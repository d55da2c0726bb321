/* SPDX-License-Identifier: MIT
 *
 * stdp.c: the Diehl & Cook (2015) network and its STDP learning (stdp.h),
 * with float, device-pulse or binary stochastic synapses. Parameters are
 * the authors' code's (`Diehl&Cook_spiking_MNIST.py`, paper-tables.md §1.2).
 *
 * Excitatory neuron (volts, conductances in leak units):
 *   τ_e dv/dt = (E_rest − v) + g_e(E_exc − v) + g_i(E_inh − v)
 *   τ_e 100 ms, E_rest −65 mV, E_exc 0, E_inh −100 mV, reset −65 mV,
 *   threshold −52 mV + θ, refractory 5 ms (v held at reset); optionally no
 *   second spike within exc_spike_gap_s (default 0: off). The authors'
 *   threshold is `(v > θ − 20 mV − 52 mV) * (timer > 5 ms)` with
 *   `dtimer/dt = 100.0 : ms`, a timer that runs at 0.1 s/s, so it passes
 *   5 ms only 50 ms after the reset (at most 7 spikes per 350 ms stimulus);
 *   exc_spike_gap_s = 0.05 reproduces it, but measured over seeds it costs
 *   this engine 2 points (docs/snn.md), so it is off by default;
 *   dg_e/dt = −g_e/1 ms, dg_i/dt = −g_i/2 ms; θ += 0.05 mV per spike, dθ/dt = −θ/10⁴ s (training
 *   only; frozen at test). Inhibitory: τ 10 ms, E_rest −60 mV, reset −45 mV,
 *   threshold −40 mV, refractory 2 ms (E_inh −85 mV, unused: it receives
 *   excitation only). exc→inh one-to-one 10.4, inh→exc all-but-own 17.0.
 *
 * Numerics and choices, and why:
 * - v is advanced exactly over each step with the conductances held at
 *   their start-of-step values (exponential integrator; the source's Brian
 *   used Euler at the same dt); conductances and traces decay by their exact
 *   factors. A step: integrate, threshold and reset, then deliver this
 *   step's spikes (inputs → g_e of the excitatory neurons, exc → inh,
 *   inh → exc), then the STDP of this step's pre spikes, then of its post
 *   spikes. Spikes act from the next step on (zero synaptic delay).
 * - Input delays U(0, 10) ms of the source are left out: per-synapse delays
 *   make each step's drive Σ_d W_d·x(t − d) instead of one W·x, which one
 *   crossbar read per step cannot compute; BindsNET leaves them out too.
 * - Inputs are Poisson with P(spike in a step) = rate·dt, as Brian's
 *   PoissonGroup draws them, generated event-driven: each active input
 *   draws its geometric gap to the next spike, so a silent pixel costs
 *   nothing and a spike costs one weight-row add.
 * - Rest (150 ms, no input) is done in closed form: conductances → 0, v
 *   relaxes by exp(−rest/τ) toward E_rest, traces and θ decay; refractory
 *   periods are over (the spike gap too, unless longer than the rest). The
 *   frozen network starts each example from rest (v = E_rest), so examples
 *   are independent.
 * - Traces and conductances below MX_STDP_FLUSH are set to 0 (they would
 *   otherwise become denormal and slow); this changes a Δw by < ν·1e-6.
 * - Retry: fewer than min_spikes excitatory spikes → rest, rate +=
 *   retry_rate_hz, present again (learning stays on, as in the source).
 * - Options beyond the source (defaults off, bit-identical to it): the
 *   learning rates scaled by nu_decay_final^(examples done / all) (a
 *   geometric learning-rate decay); the proportion-weighting readout of
 *   BindsNET (Hazan et al. 2018, bindsnet.evaluation.proportion_weighting):
 *   class k scores Σ_{j labelled k} p_jk·count_j / |{j labelled k}|, p_jk =
 *   neuron j's mean labelling response to class k over its sum over classes.
 *   For 100 neurons the inhibition w_inh_exc matters most: 35 instead of 17
 *   gives ~+8 points on a validation split (docs: the 100-neuron section).
 *
 * Synapses:
 * - float: pre spike w −= ν_pre·x_post1 (clip at 0); post spike
 *   w += ν_post·x_pre·x_post2 (x_post2 before its reset; clip at w_max);
 *   traces set to 1 on their spikes; before each training example every
 *   neuron's weights are rescaled to sum to weight_sum.
 * - device: w = w_max·(g − g_min)/(g_max − g_min) of a device cell. Every
 *   Δw of the rule above (normalisation included) becomes a pulse train of
 *   n = ⌊|Δw|/w_max·P⌋ + Bernoulli(frac) pulses (stochastic rounding:
 *   ν_pre·x ≤ 1e-4 is far below one step of a 100-state device, so the
 *   round-to-nearest of snn/online.c would never move a cell), sign = that
 *   of Δw, P = the device's pulses across the window (states_ltp/ltd of
 *   mx_online_device_states); w is read back from the cell. Updates whose
 *   trace is below MX_STDP_DEVICE_CUTOFF are skipped.
 * - stochastic-binary: a binary cell (devices/binary.c), ON = w_max. On a
 *   post spike an OFF synapse gets a SET pulse that switches the nominal
 *   cell with p⁺ = γ⁺·x_pre (x_pre = exp(−Δt/τ⁺)); an ON synapse whose
 *   input was quiet gets a RESET pulse with p = γ⁻_post·(1 − x_pre); on a
 *   pre spike an ON synapse gets RESET with p⁻ = γ⁻·x_post (τ⁻). The
 *   probability is the pulse width: t = −τ(V_nom)·ln(1 − p) at the nominal
 *   amplitude, so the nominal cell switches with P = 1 − exp(−t/τ) = p and
 *   a cell with its own τ0, V0 (device-to-device) with its own P. Binary
 *   weights cannot be rescaled, so each neuron's drive is multiplied by a
 *   digital gain weight_sum/Σ_i w_ij set before each example.
 * Draws: "stdp.init" (weights, item 0), "stdp.cells" (populate/program),
 * "stdp.input" and "stdp.update" (item = epoch·2³² + example) in training,
 * "snn.encode" (item = example) for the frozen network.
 */
#include "snn/stdp.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/parallel.h"
#include "snn/online.h"

/* Diehl & Cook 2015, authors' code (paper-tables.md §1.2). */
#define E_REST_E (-65e-3)
#define V_RESET_E (-65e-3)
#define V_THRESH_E (-52e-3)
#define TAU_E_S 100e-3
#define REFRAC_E_S 5e-3
#define E_EXC 0.0
#define E_INH_E (-100e-3)
#define E_REST_I (-60e-3)
#define V_RESET_I (-45e-3)
#define V_THRESH_I (-40e-3)
#define TAU_I_S 10e-3
#define REFRAC_I_S 2e-3
#define E_INH_I (-85e-3)
#define TAU_GE_S 1e-3
#define TAU_GI_S 2e-3
/* Initial weights: U(0.01, 1.01)·0.3 (the source's random/XeAe.npy). */
#define W_INIT_LO 0.01
#define W_INIT_HI 1.01
#define W_INIT_SCALE 0.3

#define MX_STDP_FLUSH 1e-6f
#define MX_STDP_DEVICE_CUTOFF 1e-3f
/* Largest switching probability one binary pulse is asked for. */
#define MX_STDP_P_MAX 0.999999

void mx_stdp_config_default(mx_stdp_config *c)
{
    *c = (mx_stdp_config){
        .n_exc = 100,
        .synapse = MX_STDP_FLOAT,
        .epochs = 1,
        .train_examples = 0,
        .label_examples = 10000,
        .readout = MX_STDP_READOUT_MEAN,
        .dt_s = 0.5e-3,
        .present_s = 0.35,
        .rest_s = 0.15,
        .max_rate_hz = 63.75,
        .retry_rate_hz = 31.875,
        .min_spikes = 5,
        .max_retries = 20,
        .exc_spike_gap_s = 0.0,
        .weight_sum = 78.0,
        .w_max = 1.0,
        .nu_pre = 1e-4,
        .nu_post = 1e-2,
        .nu_decay_final = 1.0,
        .tau_pre_s = 20e-3,
        .tau_post1_s = 20e-3,
        .tau_post2_s = 40e-3,
        .theta_plus_v = 0.05e-3,
        .tau_theta_s = 1e4,
        .w_exc_inh = 10.4,
        .w_inh_exc = 17.0,
        .gamma_plus = 0.02,
        .gamma_minus = 0.005,
        .gamma_minus_post = 0.005,
        .tau_plus_s = 20e-3,
        .tau_minus_s = 20e-3,
        .p_on_init = 0.1,
        .progress_every = 1000,
    };
}

static int pos(double x) { return isfinite(x) && x > 0.0; }
static int nonneg(double x) { return isfinite(x) && x >= 0.0; }

mx_status mx_stdp_config_validate(const mx_stdp_config *c)
{
    if (c->n_exc < 1 || c->n_exc > 100000)
        return mx_fail(MX_EINVAL, "stdp.n_exc: expected 1..100000 neurons, got %zu", c->n_exc);
    if (c->synapse != MX_STDP_FLOAT && c->synapse != MX_STDP_DEVICE &&
        c->synapse != MX_STDP_STOCHASTIC_BINARY)
        return mx_fail(MX_EINVAL, "stdp.synapse: expected float, device or stochastic-binary");
    if (c->readout != MX_STDP_READOUT_MEAN && c->readout != MX_STDP_READOUT_PROPORTION)
        return mx_fail(MX_EINVAL, "stdp.readout: expected mean or proportion");
    if (c->epochs < 1)
        return mx_fail(MX_EINVAL, "stdp.epochs: expected >= 1, got %zu", c->epochs);
    if (!pos(c->dt_s))
        return mx_fail(MX_EINVAL, "stdp.dt_s: expected a time > 0 s, got %g", c->dt_s);
    if (!pos(c->present_s) || c->present_s / c->dt_s > 1e6 || c->present_s < c->dt_s)
        return mx_fail(MX_EINVAL,
                       "stdp.present_s: expected a time of 1..1e6 steps of dt_s, got %g",
                       c->present_s);
    if (!nonneg(c->rest_s))
        return mx_fail(MX_EINVAL, "stdp.rest_s: expected a time >= 0 s, got %g", c->rest_s);
    if (!pos(c->max_rate_hz))
        return mx_fail(MX_EINVAL, "stdp.max_rate_hz: expected a rate > 0 Hz, got %g",
                       c->max_rate_hz);
    if (!nonneg(c->retry_rate_hz))
        return mx_fail(MX_EINVAL, "stdp.retry_rate_hz: expected a rate >= 0 Hz, got %g",
                       c->retry_rate_hz);
    if (!nonneg(c->exc_spike_gap_s) || c->exc_spike_gap_s / c->dt_s > 1e6)
        return mx_fail(MX_EINVAL,
                       "stdp.exc_spike_gap_s: expected a time of 0..1e6 steps of dt_s, got %g",
                       c->exc_spike_gap_s);
    if (!pos(c->weight_sum))
        return mx_fail(MX_EINVAL, "stdp.weight_sum: expected > 0, got %g", c->weight_sum);
    if (!pos(c->w_max))
        return mx_fail(MX_EINVAL, "stdp.w_max: expected > 0, got %g", c->w_max);
    const struct {
        const char *name;
        double v;
        int strict;
    } checks[] = {
        {"stdp.nu_pre", c->nu_pre, 0},         {"stdp.nu_post", c->nu_post, 0},
        {"stdp.tau_pre_s", c->tau_pre_s, 1},   {"stdp.tau_post1_s", c->tau_post1_s, 1},
        {"stdp.tau_post2_s", c->tau_post2_s, 1}, {"stdp.theta_plus_v", c->theta_plus_v, 0},
        {"stdp.tau_theta_s", c->tau_theta_s, 1}, {"stdp.w_exc_inh", c->w_exc_inh, 0},
        {"stdp.w_inh_exc", c->w_inh_exc, 0},   {"stdp.tau_plus_s", c->tau_plus_s, 1},
        {"stdp.tau_minus_s", c->tau_minus_s, 1},
    };
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
        if (checks[i].strict ? !pos(checks[i].v) : !nonneg(checks[i].v))
            return mx_fail(MX_EINVAL, "%s: expected a value %s 0, got %g", checks[i].name,
                           checks[i].strict ? ">" : ">=", checks[i].v);
    const struct {
        const char *name;
        double v;
    } probs[] = {{"stdp.gamma_plus", c->gamma_plus},
                 {"stdp.gamma_minus", c->gamma_minus},
                 {"stdp.gamma_minus_post", c->gamma_minus_post},
                 {"stdp.p_on_init", c->p_on_init}};
    for (size_t i = 0; i < sizeof probs / sizeof probs[0]; i++)
        if (!(isfinite(probs[i].v) && probs[i].v >= 0.0 && probs[i].v <= 1.0))
            return mx_fail(MX_EINVAL, "%s: expected a probability in [0, 1], got %g",
                           probs[i].name, probs[i].v);
    if (!(isfinite(c->nu_decay_final) && c->nu_decay_final > 0.0 && c->nu_decay_final <= 1.0))
        return mx_fail(MX_EINVAL, "stdp.nu_decay_final: expected a fraction in (0, 1], got %g",
                       c->nu_decay_final);
    if (c->progress_every < 1)
        return mx_fail(MX_EINVAL, "stdp.progress_every: expected >= 1 examples, got %zu",
                       c->progress_every);
    return MX_OK;
}

size_t mx_stdp_steps(const mx_stdp_config *c)
{
    return (size_t)floor(c->present_s / c->dt_s + 0.5);
}

/* ------------------------------------------------------------ building blocks */

double mx_stdp_membrane_exact(double v, double g_e, double g_i, double e_rest, double e_exc,
                              double e_inh, double tau_s, double dt_s)
{
    const double g = 1.0 + g_e + g_i;
    const double v_inf = (e_rest + g_e * e_exc + g_i * e_inh) / g;
    return v_inf + (v - v_inf) * exp(-dt_s * g / tau_s);
}

void mx_stdp_normalise(float *w, size_t n_in, size_t n_exc, double total)
{
    for (size_t j = 0; j < n_exc; j++) {
        double sum = 0.0;
        for (size_t i = 0; i < n_in; i++)
            sum += (double)w[i * n_exc + j];
        if (sum <= 0.0)
            continue;
        const float f = (float)(total / sum);
        for (size_t i = 0; i < n_in; i++)
            w[i * n_exc + j] *= f;
    }
}

void mx_stdp_assign_labels(const uint32_t *counts, const uint8_t *y, size_t n, size_t n_exc,
                           size_t n_classes, int *label)
{
    for (size_t j = 0; j < n_exc; j++) {
        double best = 0.0;
        label[j] = 0;
        for (size_t k = 0; k < n_classes; k++) {
            double sum = 0.0;
            size_t m = 0;
            for (size_t e = 0; e < n; e++)
                if (y[e] == k) {
                    sum += counts[e * n_exc + j];
                    m++;
                }
            if (m && sum / (double)m > best) {
                best = sum / (double)m;
                label[j] = (int)k;
            }
        }
    }
}

/* The class whose label group has the highest mean of counts[j], each
 * weighted by prop[j][label j] (NULL: weight 1, Diehl & Cook's readout);
 * ties to the lower class. */
static int predict_weighted(const uint32_t *counts, const int *label, const float *prop,
                            size_t n_exc, size_t n_classes)
{
    double sum[64] = {0};
    size_t m[64] = {0};
    assert(n_classes <= 64);
    for (size_t j = 0; j < n_exc; j++) {
        if (label[j] < 0 || (size_t)label[j] >= n_classes)
            continue;
        sum[label[j]] += prop ? (double)prop[j * n_classes + (size_t)label[j]] * counts[j]
                              : (double)counts[j];
        m[label[j]]++;
    }
    int best = 0;
    double best_v = -1.0;
    for (size_t k = 0; k < n_classes; k++) {
        double v = m[k] ? sum[k] / (double)m[k] : 0.0;
        if (v > best_v) {
            best_v = v;
            best = (int)k;
        }
    }
    return best;
}

int mx_stdp_predict(const uint32_t *counts, const int *label, size_t n_exc, size_t n_classes)
{
    return predict_weighted(counts, label, NULL, n_exc, n_classes);
}

void mx_stdp_assign_proportions(const uint32_t *counts, const uint8_t *y, size_t n,
                                size_t n_exc, size_t n_classes, float *prop)
{
    size_t m[64] = {0};
    assert(n_classes <= 64);
    for (size_t e = 0; e < n; e++)
        if (y[e] < n_classes)
            m[y[e]]++;
    for (size_t j = 0; j < n_exc; j++) {
        double r[64] = {0}, total = 0.0;
        for (size_t e = 0; e < n; e++)
            if (y[e] < n_classes)
                r[y[e]] += counts[e * n_exc + j];
        for (size_t k = 0; k < n_classes; k++) {
            r[k] = m[k] ? r[k] / (double)m[k] : 0.0;
            total += r[k];
        }
        for (size_t k = 0; k < n_classes; k++)
            prop[j * n_classes + k] = total > 0.0 ? (float)(r[k] / total) : 0.0f;
    }
}

int mx_stdp_predict_proportion(const uint32_t *counts, const int *label, const float *prop,
                               size_t n_exc, size_t n_classes)
{
    return predict_weighted(counts, label, prop, n_exc, n_classes);
}

/* ------------------------------------------------------------ the network */

/* Per-step constants. */
typedef struct consts {
    size_t steps, rest_steps;
    int refrac_e, refrac_i;
    int gap_e;                      /* steps an exc. neuron's threshold is off after a spike */
    float k_e, k_i;                 /* dt/τ of the membranes */
    float d_ge, d_gi;               /* conductance decay per step */
    float d_pre, d_post1, d_post2;  /* trace decay per step */
    float d_theta;                  /* θ decay per step */
    float rest_v_e, rest_v_i;       /* membrane relaxation over a rest */
    float rest_pre, rest_post1, rest_post2, rest_theta;
} consts;

struct mx_stdp_state {
    size_t n_in, n_exc, steps;
    float *v_e, *ge_e, *gi_e, *v_i, *ge_i;
    int32_t *ref_e, *ref_i;
    int32_t *hold_e; /* steps left before an exc. neuron may spike again */
    uint32_t *counts, *spk_e, *spk_i;
    uint8_t *inh_fired;
    int32_t *bucket_head, *bucket_next;
    uint32_t *in_spk;
    double *log_q; /* per input: ln(1 − p), or 0 when silent, +inf when p ≥ 1 */
    float *xin, *y, *yref;
    mx_matmul_work *work;
    const mx_matmul *owner;
};

struct mx_stdp {
    mx_stdp_config c;
    consts k;
    size_t n_in, n_exc, n_classes;
    float *w, *theta, *gain;
    int *label;
    float *prop; /* (n_exc, n_classes) proportions of the labelling responses */
    /* learning state */
    mx_stdp_state *st;
    float *x_pre, *x_post1, *x_post2;
    /* device cells (device, stochastic-binary) */
    const mx_device_type *dev;
    mx_device_params dp;
    float *cells, *g;       /* (n_in·n_exc·cell_floats), (n_in·n_exc) */
    float *gc, *gg;         /* gather scratch: max(n_in, n_exc) cells */
    mx_pulse *gp;
    size_t *gidx;
    int states_ltp, states_ltd;
    double tau_set_s, tau_reset_s; /* binary: nominal τ at the nominal SET/RESET */
    uint64_t pulses;
    uint64_t seed;
    double nu_pre, nu_post; /* the learning rates in force (c.nu_* × scale) */
    mx_rng upd;             /* "stdp.update" of the current example */
};

static consts make_consts(const mx_stdp_config *c, int binary)
{
    const double dt = c->dt_s;
    const double tp = binary ? c->tau_plus_s : c->tau_pre_s;
    const double t1 = binary ? c->tau_minus_s : c->tau_post1_s;
    consts k = {
        .steps = mx_stdp_steps(c),
        .rest_steps = (size_t)floor(c->rest_s / dt + 0.5),
        .refrac_e = (int)floor(REFRAC_E_S / dt + 0.5),
        .refrac_i = (int)floor(REFRAC_I_S / dt + 0.5),
        .gap_e = (int)floor(c->exc_spike_gap_s / dt + 0.5),
        .k_e = (float)(dt / TAU_E_S),
        .k_i = (float)(dt / TAU_I_S),
        .d_ge = (float)exp(-dt / TAU_GE_S),
        .d_gi = (float)exp(-dt / TAU_GI_S),
        .d_pre = (float)exp(-dt / tp),
        .d_post1 = (float)exp(-dt / t1),
        .d_post2 = (float)exp(-dt / c->tau_post2_s),
        .d_theta = (float)exp(-dt / c->tau_theta_s),
        .rest_v_e = (float)exp(-c->rest_s / TAU_E_S),
        .rest_v_i = (float)exp(-c->rest_s / TAU_I_S),
        .rest_pre = (float)exp(-c->rest_s / tp),
        .rest_post1 = (float)exp(-c->rest_s / t1),
        .rest_post2 = (float)exp(-c->rest_s / c->tau_post2_s),
        .rest_theta = (float)exp(-c->rest_s / c->tau_theta_s),
    };
    return k;
}

void mx_stdp_state_destroy(mx_stdp_state *s)
{
    if (!s)
        return;
    mx_free(s->v_e);
    mx_free(s->ge_e);
    mx_free(s->gi_e);
    mx_free(s->v_i);
    mx_free(s->ge_i);
    mx_free(s->ref_e);
    mx_free(s->hold_e);
    mx_free(s->ref_i);
    mx_free(s->counts);
    mx_free(s->spk_e);
    mx_free(s->spk_i);
    mx_free(s->inh_fired);
    mx_free(s->bucket_head);
    mx_free(s->bucket_next);
    mx_free(s->in_spk);
    mx_free(s->log_q);
    mx_free(s->xin);
    mx_free(s->y);
    mx_free(s->yref);
    mx_matmul_work_destroy(s->work);
    mx_free(s);
}

mx_status mx_stdp_state_create(const mx_stdp *net, mx_stdp_state **out)
{
    *out = NULL;
    mx_stdp_state *s = mx_calloc(1, sizeof *s);
    if (!s)
        return mx_fail(MX_ENOMEM, "STDP state: out of memory");
    const size_t ne = net->n_exc, ni = net->n_in;
    s->n_in = ni;
    s->n_exc = ne;
    s->steps = net->k.steps;
    s->v_e = mx_alloc(ne * sizeof(float));
    s->ge_e = mx_alloc(ne * sizeof(float));
    s->gi_e = mx_alloc(ne * sizeof(float));
    s->v_i = mx_alloc(ne * sizeof(float));
    s->ge_i = mx_alloc(ne * sizeof(float));
    s->ref_e = mx_alloc(ne * sizeof(int32_t));
    s->hold_e = mx_alloc(ne * sizeof(int32_t));
    s->ref_i = mx_alloc(ne * sizeof(int32_t));
    s->counts = mx_alloc(ne * sizeof(uint32_t));
    s->spk_e = mx_alloc(ne * sizeof(uint32_t));
    s->spk_i = mx_alloc(ne * sizeof(uint32_t));
    s->inh_fired = mx_calloc(ne, 1);
    s->bucket_head = mx_alloc(s->steps * sizeof(int32_t));
    s->bucket_next = mx_alloc(ni * sizeof(int32_t));
    s->in_spk = mx_alloc(ni * sizeof(uint32_t));
    s->log_q = mx_alloc(ni * sizeof(double));
    s->xin = mx_calloc(ni, sizeof(float));
    s->y = mx_alloc(ne * sizeof(float));
    s->yref = mx_alloc(ne * sizeof(float));
    if (!s->v_e || !s->ge_e || !s->gi_e || !s->v_i || !s->ge_i || !s->ref_e || !s->hold_e ||
        !s->ref_i || !s->counts || !s->spk_e || !s->spk_i || !s->inh_fired || !s->bucket_head ||
        !s->bucket_next || !s->in_spk || !s->log_q || !s->xin || !s->y || !s->yref) {
        mx_stdp_state_destroy(s);
        return mx_fail(MX_ENOMEM, "STDP state: out of memory");
    }
    *out = s;
    return MX_OK;
}

/* The state of a network that has rested for ever. */
static void state_rest_fresh(mx_stdp_state *s)
{
    for (size_t j = 0; j < s->n_exc; j++) {
        s->v_e[j] = (float)E_REST_E;
        s->v_i[j] = (float)E_REST_I;
        s->ge_e[j] = s->gi_e[j] = s->ge_i[j] = 0.0f;
        s->ref_e[j] = s->hold_e[j] = s->ref_i[j] = 0;
    }
}

/* A rest of rest_s in closed form (no input: conductances → 0). */
static void state_rest(mx_stdp_state *s, const consts *k)
{
    for (size_t j = 0; j < s->n_exc; j++) {
        s->v_e[j] = (float)E_REST_E + (s->v_e[j] - (float)E_REST_E) * k->rest_v_e;
        s->v_i[j] = (float)E_REST_I + (s->v_i[j] - (float)E_REST_I) * k->rest_v_i;
        s->ge_e[j] = s->gi_e[j] = s->ge_i[j] = 0.0f;
        s->ref_e[j] = s->ref_i[j] = 0;
        s->hold_e[j] = (size_t)s->hold_e[j] > k->rest_steps
                           ? s->hold_e[j] - (int32_t)k->rest_steps : 0;
    }
}

void mx_stdp_destroy(mx_stdp *net)
{
    if (!net)
        return;
    mx_free(net->w);
    mx_free(net->theta);
    mx_free(net->gain);
    mx_free(net->label);
    mx_free(net->prop);
    mx_stdp_state_destroy(net->st);
    mx_free(net->x_pre);
    mx_free(net->x_post1);
    mx_free(net->x_post2);
    mx_free(net->cells);
    mx_free(net->g);
    mx_free(net->gc);
    mx_free(net->gg);
    mx_free(net->gp);
    mx_free(net->gidx);
    mx_free(net);
}

/* The window ends as the float conductances hold them, so a cell at g_min
 * or g_max reads exactly 0 or w_max. */
static float g_to_w(const mx_stdp *net, float g)
{
    const double lo = (double)(float)net->dp.g_min_s, hi = (double)(float)net->dp.g_max_s;
    return (float)(net->c.w_max * ((double)g - lo) / (hi - lo));
}

/* Per-neuron drive gain of binary synapses: weight_sum/Σ_i w_ij. */
static void update_gain(mx_stdp *net)
{
    for (size_t j = 0; j < net->n_exc; j++) {
        double sum = 0.0;
        for (size_t i = 0; i < net->n_in; i++)
            sum += (double)net->w[i * net->n_exc + j];
        net->gain[j] = sum > 0.0 ? (float)(net->c.weight_sum / sum) : 1.0f;
    }
}

mx_status mx_stdp_create(const mx_stdp_config *c, size_t n_in, size_t n_classes,
                         const mx_device_type *device, const mx_device_params *device_params,
                         uint64_t seed, mx_stdp **out)
{
    *out = NULL;
    mx_status st = mx_stdp_config_validate(c);
    if (st)
        return st;
    if (n_in == 0 || n_classes == 0 || n_classes > 64)
        return mx_fail(MX_EINVAL, "STDP network: expected inputs > 0 and 1..64 classes");
    if (c->synapse == MX_STDP_DEVICE && (!device || !device->pulse || !device_params))
        return mx_fail(MX_EINVAL, "hardware.device.type: expected a model with a pulse response "
                                  "for stdp.synapse device, got %s",
                       device ? device->name : "none");
    if (c->synapse == MX_STDP_STOCHASTIC_BINARY &&
        (!device || device != &mx_device_binary || !device_params))
        return mx_fail(MX_EINVAL, "hardware.device.type: expected binary for stdp.synapse "
                                  "stochastic-binary, got %s",
                       device ? device->name : "none");
    mx_stdp *net = mx_calloc(1, sizeof *net);
    if (!net)
        return mx_fail(MX_ENOMEM, "STDP network: out of memory");
    net->c = *c;
    net->n_in = n_in;
    net->n_exc = c->n_exc;
    net->n_classes = n_classes;
    net->seed = seed;
    net->nu_pre = c->nu_pre;
    net->nu_post = c->nu_post;
    net->k = make_consts(c, c->synapse == MX_STDP_STOCHASTIC_BINARY);
    const size_t nw = mx_size_mul(n_in, c->n_exc);
    net->w = mx_alloc(nw * sizeof(float));
    net->theta = mx_calloc(c->n_exc, sizeof(float));
    net->gain = mx_alloc(c->n_exc * sizeof(float));
    net->label = mx_calloc(c->n_exc, sizeof(int));
    net->prop = mx_calloc(mx_size_mul(c->n_exc, n_classes), sizeof(float));
    net->x_pre = mx_calloc(n_in, sizeof(float));
    net->x_post1 = mx_calloc(c->n_exc, sizeof(float));
    net->x_post2 = mx_calloc(c->n_exc, sizeof(float));
    if (!nw || !net->w || !net->theta || !net->gain || !net->label || !net->prop ||
        !net->x_pre ||
        !net->x_post1 || !net->x_post2) {
        mx_stdp_destroy(net);
        return mx_fail(MX_ENOMEM, "STDP network: out of memory");
    }
    for (size_t j = 0; j < c->n_exc; j++)
        net->gain[j] = 1.0f;
    mx_rng rng;
    mx_rng_init_named(&rng, seed, "stdp.init", 0);
    for (size_t i = 0; i < nw; i++) {
        double w;
        if (c->synapse == MX_STDP_STOCHASTIC_BINARY)
            w = mx_rng_uniform(&rng) < c->p_on_init ? c->w_max : 0.0;
        else
            w = (W_INIT_LO + (W_INIT_HI - W_INIT_LO) * mx_rng_uniform(&rng)) * W_INIT_SCALE;
        net->w[i] = (float)(w < 0.0 ? 0.0 : (w > c->w_max ? c->w_max : w));
    }
    if (c->synapse != MX_STDP_FLOAT) {
        net->dev = device;
        net->dp = *device_params;
        st = device->validate ? device->validate(device_params) : MX_OK;
        if (!st && c->synapse == MX_STDP_DEVICE)
            st = mx_online_device_states(device, device_params, &net->states_ltp,
                                         &net->states_ltd);
        const size_t cf = device->cell_floats, nmax = n_in > c->n_exc ? n_in : c->n_exc;
        if (!st) {
            net->g = mx_alloc(nw * sizeof(float));
            net->cells = cf ? mx_alloc(mx_size_mul(nw, cf) * sizeof(float)) : NULL;
            net->gc = cf ? mx_alloc(nmax * cf * sizeof(float)) : NULL;
            net->gg = mx_alloc(nmax * sizeof(float));
            net->gp = mx_alloc(nmax * sizeof(mx_pulse));
            net->gidx = mx_alloc(nmax * sizeof(size_t));
            if (!net->g || (cf && (!net->cells || !net->gc)) || !net->gg || !net->gp ||
                !net->gidx)
                st = mx_fail(MX_ENOMEM, "STDP device synapses: out of memory");
        }
        if (st) {
            mx_stdp_destroy(net);
            return st;
        }
        const double span = device_params->g_max_s - device_params->g_min_s;
        for (size_t i = 0; i < nw; i++)
            net->g[i] = (float)(device_params->g_min_s + span * (double)net->w[i] / c->w_max);
        mx_rng_init_named(&rng, seed, "stdp.cells", 0);
        if (cf)
            device->populate(device_params, net->cells, nw, &rng);
        device->program(device_params, net->cells, net->g, net->g, nw, &rng);
        for (size_t i = 0; i < nw; i++)
            net->w[i] = g_to_w(net, net->g[i]);
        if (c->synapse == MX_STDP_STOCHASTIC_BINARY) {
            const mx_binary_params *b = &device_params->binary;
            net->tau_set_s = b->tau0_s * exp(-device_params->pulse.v_ltp_v / b->v0_v);
            net->tau_reset_s = b->tau0_s * exp(-device_params->pulse.v_ltd_v / b->v0_v);
        }
    }
    if (c->synapse == MX_STDP_STOCHASTIC_BINARY)
        update_gain(net);
    st = mx_stdp_state_create(net, &net->st);
    if (st) {
        mx_stdp_destroy(net);
        return st;
    }
    state_rest_fresh(net->st);
    mx_rng_init_named(&net->upd, seed, "stdp.update", UINT64_MAX - 1);
    *out = net;
    return MX_OK;
}

const mx_stdp_config *mx_stdp_get_config(const mx_stdp *net) { return &net->c; }
size_t mx_stdp_n_in(const mx_stdp *net) { return net->n_in; }
size_t mx_stdp_n_classes(const mx_stdp *net) { return net->n_classes; }
float *mx_stdp_weights(mx_stdp *net) { return net->w; }
float *mx_stdp_theta(mx_stdp *net) { return net->theta; }
int *mx_stdp_labels(mx_stdp *net) { return net->label; }
float *mx_stdp_proportions(mx_stdp *net) { return net->prop; }

int mx_stdp_classify(const mx_stdp *net, const uint32_t *counts)
{
    if (net->c.readout == MX_STDP_READOUT_PROPORTION)
        return mx_stdp_predict_proportion(counts, net->label, net->prop, net->n_exc,
                                          net->n_classes);
    return mx_stdp_predict(counts, net->label, net->n_exc, net->n_classes);
}
float *mx_stdp_gain(mx_stdp *net) { return net->gain; }
uint64_t mx_stdp_pulses(const mx_stdp *net) { return net->pulses; }

/* ------------------------------------------------------------ learning events */

/* Stochastic rounding of v ≥ 0 to a whole number of pulses. */
static int32_t stoch_round(mx_rng *r, double v)
{
    double f = floor(v);
    double frac = v - f;
    if (frac > 0.0 && mx_rng_uniform(r) < frac)
        f += 1.0;
    return f > 2e9 ? 2000000000 : (int32_t)f;
}

/* Apply the gathered pulses (m cells at flat indices gidx) and read back w. */
static void flush_pulses(mx_stdp *net, size_t m)
{
    if (m == 0)
        return;
    const size_t cf = net->dev->cell_floats;
    for (size_t k = 0; k < m; k++) {
        const size_t idx = net->gidx[k];
        if (cf)
            memcpy(net->gc + k * cf, net->cells + idx * cf, cf * sizeof(float));
        net->gg[k] = net->g[idx];
        net->pulses += (uint64_t)(net->gp[k].count < 0 ? -(int64_t)net->gp[k].count
                                                       : (int64_t)net->gp[k].count);
    }
    net->dev->pulse(&net->dp, cf ? net->gc : NULL, net->gg, net->gp, m, &net->upd);
    for (size_t k = 0; k < m; k++) {
        const size_t idx = net->gidx[k];
        if (cf)
            memcpy(net->cells + idx * cf, net->gc + k * cf, cf * sizeof(float));
        net->g[idx] = net->gg[k];
        net->w[idx] = g_to_w(net, net->gg[k]);
    }
}

/* Queue a device update Δw of cell idx (stochastic rounding). */
static size_t queue_dw(mx_stdp *net, size_t m, size_t idx, double dw)
{
    const int states = dw > 0.0 ? net->states_ltp : net->states_ltd;
    int32_t n = stoch_round(&net->upd, fabs(dw) / net->c.w_max * (double)states);
    if (n == 0)
        return m;
    net->gidx[m] = idx;
    net->gp[m] = (mx_pulse){.count = dw > 0.0 ? n : -n, .amplitude_v = 0.0f, .width_s = 0.0f};
    return m + 1;
}

/* Queue a binary switching pulse of probability p (SET when on). */
static size_t queue_switch(mx_stdp *net, size_t m, size_t idx, double p, int on)
{
    if (p <= 0.0)
        return m;
    if (p > MX_STDP_P_MAX)
        p = MX_STDP_P_MAX;
    const double tau = on ? net->tau_set_s : net->tau_reset_s;
    net->gidx[m] = idx;
    net->gp[m] = (mx_pulse){.count = on ? 1 : -1, .amplitude_v = 0.0f,
                            .width_s = (float)(-tau * log1p(-p))};
    return m + 1;
}

/* Input i spiked: depression from the post traces, then x_pre = 1. */
static void pre_event(mx_stdp *net, size_t i)
{
    const size_t ne = net->n_exc;
    float *w = net->w + i * ne;
    const float *x1 = net->x_post1;
    switch (net->c.synapse) {
    case MX_STDP_FLOAT: {
        const float nu = (float)net->nu_pre;
        for (size_t j = 0; j < ne; j++) {
            float v = w[j] - nu * x1[j];
            w[j] = v > 0.0f ? v : 0.0f;
        }
        break;
    }
    case MX_STDP_DEVICE: {
        size_t m = 0;
        for (size_t j = 0; j < ne; j++)
            if (x1[j] >= MX_STDP_DEVICE_CUTOFF)
                m = queue_dw(net, m, i * ne + j, -net->nu_pre * (double)x1[j]);
        flush_pulses(net, m);
        break;
    }
    case MX_STDP_STOCHASTIC_BINARY: {
        size_t m = 0;
        const float half = (float)(0.5 * net->c.w_max);
        for (size_t j = 0; j < ne; j++)
            if (x1[j] >= MX_STDP_DEVICE_CUTOFF && w[j] > half)
                m = queue_switch(net, m, i * ne + j, net->c.gamma_minus * (double)x1[j], 0);
        flush_pulses(net, m);
        break;
    }
    }
    net->x_pre[i] = 1.0f;
}

/* Excitatory neuron j spiked: potentiation from the pre traces and x_post2
 * before its reset, then both post traces = 1. */
static void post_event(mx_stdp *net, size_t j)
{
    const size_t ne = net->n_exc, ni = net->n_in;
    const float *xp = net->x_pre;
    const float x2 = net->x_post2[j];
    switch (net->c.synapse) {
    case MX_STDP_FLOAT: {
        const float a = (float)net->nu_post * x2, wmax = (float)net->c.w_max;
        if (a > 0.0f)
            for (size_t i = 0; i < ni; i++)
                if (xp[i] > 0.0f) {
                    float *w = net->w + i * ne + j;
                    float v = *w + a * xp[i];
                    *w = v < wmax ? v : wmax;
                }
        break;
    }
    case MX_STDP_DEVICE: {
        size_t m = 0;
        const double a = net->nu_post * (double)x2;
        if (a > 0.0)
            for (size_t i = 0; i < ni; i++)
                if (xp[i] >= MX_STDP_DEVICE_CUTOFF)
                    m = queue_dw(net, m, i * ne + j, a * (double)xp[i]);
        flush_pulses(net, m);
        break;
    }
    case MX_STDP_STOCHASTIC_BINARY: {
        size_t m = 0;
        const float half = (float)(0.5 * net->c.w_max);
        for (size_t i = 0; i < ni; i++) {
            const size_t idx = i * ne + j;
            const double quiet = 1.0 - (double)xp[i];
            if (net->w[idx] > half)
                m = queue_switch(net, m, idx, net->c.gamma_minus_post * quiet, 0);
            else
                m = queue_switch(net, m, idx, net->c.gamma_plus * (double)xp[i], 1);
        }
        flush_pulses(net, m);
        break;
    }
    }
    net->x_post1[j] = 1.0f;
    net->x_post2[j] = 1.0f;
}

/* Device weights: rescale each neuron's weights toward weight_sum by pulses. */
static void normalise_device(mx_stdp *net)
{
    const size_t ne = net->n_exc, ni = net->n_in;
    /* The column sums use the index scratch (n_exc ≤ its size) before any
     * pulse is queued. */
    double *sum = (double *)(void *)net->gidx;
    _Static_assert(sizeof(double) == sizeof(size_t), "scratch reuse");
    for (size_t j = 0; j < ne; j++)
        sum[j] = 0.0;
    for (size_t i = 0; i < ni; i++)
        for (size_t j = 0; j < ne; j++)
            sum[j] += (double)net->w[i * ne + j];
    /* Keep the factors in the gain array (restored to 1 below). */
    for (size_t j = 0; j < ne; j++)
        net->gain[j] = sum[j] > 0.0 ? (float)(net->c.weight_sum / sum[j]) : 1.0f;
    for (size_t i = 0; i < ni; i++) {
        size_t m = 0;
        for (size_t j = 0; j < ne; j++) {
            const double w = (double)net->w[i * ne + j];
            const double dw = w * ((double)net->gain[j] - 1.0);
            if (dw != 0.0)
                m = queue_dw(net, m, i * ne + j, dw);
        }
        flush_pulses(net, m);
    }
    for (size_t j = 0; j < ne; j++)
        net->gain[j] = 1.0f;
}

/* ------------------------------------------------------------ simulation */

/* Schedule the first spike of every input for a presentation at `rate_hz`. */
static void schedule_inputs(const mx_stdp *net, mx_stdp_state *s, const float *x, double rate_hz,
                            mx_rng *r)
{
    const size_t T = s->steps;
    for (size_t t = 0; t < T; t++)
        s->bucket_head[t] = -1;
    const double dt = net->c.dt_s;
    for (size_t i = 0; i < s->n_in; i++) {
        const double p = (double)x[i] * rate_hz * dt;
        s->log_q[i] = p <= 0.0 ? 0.0 : (p >= 1.0 ? (double)INFINITY : log1p(-p));
        if (p <= 0.0)
            continue;
        const double u = mx_rng_uniform(r);
        const double gap = p >= 1.0 ? 1.0 : floor(log(u) / s->log_q[i]) + 1.0;
        if (gap - 1.0 < (double)T) {
            const size_t t0 = (size_t)(gap - 1.0);
            s->bucket_next[i] = s->bucket_head[t0];
            s->bucket_head[t0] = (int32_t)i;
        }
    }
}

/* Pop the inputs spiking at step t into s->in_spk, rescheduling each. */
static size_t inputs_at(mx_stdp_state *s, size_t t, mx_rng *r)
{
    size_t m = 0;
    int32_t i = s->bucket_head[t];
    s->bucket_head[t] = -1;
    while (i >= 0) {
        const int32_t next = s->bucket_next[i];
        s->in_spk[m++] = (uint32_t)i;
        const double u = mx_rng_uniform(r);
        const double gap = isinf(s->log_q[i]) ? 1.0 : floor(log(u) / s->log_q[i]) + 1.0;
        if ((double)t + gap < (double)s->steps) {
            const size_t tn = t + (size_t)gap;
            s->bucket_next[i] = s->bucket_head[tn];
            s->bucket_head[tn] = i;
        }
        i = next;
    }
    return m;
}

/* Neurons of one step: integrate, threshold, reset. Returns exc spikes
 * in s->spk_e (count *ne_spk) and inh spikes in s->spk_i (*ni_spk). */
static void neurons_step(const mx_stdp *net, mx_stdp_state *s, const float *theta, int learn,
                         float *theta_rw, size_t *ne_spk, size_t *ni_spk)
{
    const consts *k = &net->k;
    const size_t ne = s->n_exc;
    const float th_e = (float)V_THRESH_E, th_i = (float)V_THRESH_I;
    size_t me = 0, mi = 0;
    for (size_t j = 0; j < ne; j++) {
        const float ge = s->ge_e[j], gi = s->gi_e[j];
        if (s->ref_e[j] > 0) {
            s->ref_e[j]--;
        } else {
            const float g = 1.0f + ge + gi;
            const float vinf = ((float)E_REST_E + ge * (float)E_EXC + gi * (float)E_INH_E) / g;
            s->v_e[j] = vinf + (s->v_e[j] - vinf) * expf(-k->k_e * g);
            if (s->v_e[j] > th_e + theta[j] && s->hold_e[j] == 0) {
                s->v_e[j] = (float)V_RESET_E;
                s->ref_e[j] = k->refrac_e;
                s->hold_e[j] = k->gap_e + 1;
                s->spk_e[me++] = (uint32_t)j;
            }
        }
        if (s->hold_e[j] > 0)
            s->hold_e[j]--;
        float nge = ge * k->d_ge, ngi = gi * k->d_gi;
        s->ge_e[j] = nge < MX_STDP_FLUSH ? 0.0f : nge;
        s->gi_e[j] = ngi < MX_STDP_FLUSH ? 0.0f : ngi;

        const float gei = s->ge_i[j];
        if (s->ref_i[j] > 0) {
            s->ref_i[j]--;
        } else if (gei > 0.0f || s->v_i[j] != (float)E_REST_I) {
            const float g = 1.0f + gei;
            const float vinf = ((float)E_REST_I + gei * (float)E_EXC) / g;
            s->v_i[j] = vinf + (s->v_i[j] - vinf) * expf(-k->k_i * g);
            if (s->v_i[j] > th_i) {
                s->v_i[j] = (float)V_RESET_I;
                s->ref_i[j] = k->refrac_i;
                s->spk_i[mi++] = (uint32_t)j;
            }
        }
        float ng = gei * k->d_ge;
        s->ge_i[j] = ng < MX_STDP_FLUSH ? 0.0f : ng;
    }
    if (learn) {
        const float th_plus = (float)net->c.theta_plus_v;
        for (size_t j = 0; j < ne; j++)
            theta_rw[j] *= k->d_theta;
        for (size_t m = 0; m < me; m++)
            theta_rw[s->spk_e[m]] += th_plus;
    }
    *ne_spk = me;
    *ni_spk = mi;
}

/* Lateral connections of this step's spikes. */
static void lateral(const mx_stdp *net, mx_stdp_state *s, size_t me, size_t mi)
{
    const float wei = (float)net->c.w_exc_inh, wie = (float)net->c.w_inh_exc;
    for (size_t m = 0; m < me; m++)
        s->ge_i[s->spk_e[m]] += wei;
    if (mi) {
        const float all = (float)mi * wie;
        for (size_t j = 0; j < s->n_exc; j++)
            s->gi_e[j] += all;
        for (size_t m = 0; m < mi; m++)
            s->gi_e[s->spk_i[m]] -= wie;
    }
}

/* The digital input drive: g_e[j] += gain_j·Σ_{spiking i} w_ij. */
static void drive_digital(const mx_stdp *net, float *ge, const uint32_t *spk, size_t m, int gain)
{
    const size_t ne = net->n_exc;
    for (size_t q = 0; q < m; q++) {
        const float *w = net->w + (size_t)spk[q] * ne;
        if (gain)
            for (size_t j = 0; j < ne; j++)
                ge[j] += net->gain[j] * w[j];
        else
            for (size_t j = 0; j < ne; j++)
                ge[j] += w[j];
    }
}

/* One step of trace decay. */
static void decay_traces(mx_stdp *net)
{
    const consts *k = &net->k;
    for (size_t i = 0; i < net->n_in; i++) {
        const float v = net->x_pre[i] * k->d_pre;
        net->x_pre[i] = v < MX_STDP_FLUSH ? 0.0f : v;
    }
    for (size_t j = 0; j < net->n_exc; j++) {
        const float a = net->x_post1[j] * k->d_post1, b = net->x_post2[j] * k->d_post2;
        net->x_post1[j] = a < MX_STDP_FLUSH ? 0.0f : a;
        net->x_post2[j] = b < MX_STDP_FLUSH ? 0.0f : b;
    }
}

void mx_stdp_learn_pre(mx_stdp *net, size_t i)
{
    assert(i < net->n_in);
    pre_event(net, i);
}

void mx_stdp_learn_post(mx_stdp *net, size_t j)
{
    assert(j < net->n_exc);
    post_event(net, j);
}

void mx_stdp_decay_traces(mx_stdp *net, size_t steps)
{
    for (size_t t = 0; t < steps; t++)
        decay_traces(net);
}

const float *mx_stdp_traces(const mx_stdp *net, int which)
{
    return which == 0 ? net->x_pre : which == 1 ? net->x_post1 : net->x_post2;
}

/* One training presentation at rate_hz; returns the exc spike count. */
static size_t present_train(mx_stdp *net, const float *x, double rate_hz, mx_rng *rin)
{
    mx_stdp_state *s = net->st;
    const size_t ne = net->n_exc;
    const int binary = net->c.synapse == MX_STDP_STOCHASTIC_BINARY;
    schedule_inputs(net, s, x, rate_hz, rin);
    memset(s->counts, 0, ne * sizeof(uint32_t));
    size_t total = 0;
    for (size_t t = 0; t < s->steps; t++) {
        decay_traces(net);
        size_t me, mi;
        neurons_step(net, s, net->theta, 1, net->theta, &me, &mi);
        const size_t m = inputs_at(s, t, rin);
        drive_digital(net, s->ge_e, s->in_spk, m, binary);
        lateral(net, s, me, mi);
        for (size_t q = 0; q < m; q++)
            pre_event(net, s->in_spk[q]);
        for (size_t q = 0; q < me; q++) {
            post_event(net, s->spk_e[q]);
            s->counts[s->spk_e[q]]++;
        }
        total += me;
    }
    return total;
}

static void rest_train(mx_stdp *net)
{
    const consts *k = &net->k;
    state_rest(net->st, k);
    for (size_t i = 0; i < net->n_in; i++) {
        const float v = net->x_pre[i] * k->rest_pre;
        net->x_pre[i] = v < MX_STDP_FLUSH ? 0.0f : v;
    }
    for (size_t j = 0; j < net->n_exc; j++) {
        const float a = net->x_post1[j] * k->rest_post1, b = net->x_post2[j] * k->rest_post2;
        net->x_post1[j] = a < MX_STDP_FLUSH ? 0.0f : a;
        net->x_post2[j] = b < MX_STDP_FLUSH ? 0.0f : b;
        net->theta[j] *= k->rest_theta;
    }
}

mx_status mx_stdp_train_example(mx_stdp *net, const float *x, uint64_t item, uint32_t *counts)
{
    mx_rng rin;
    mx_rng_init_named(&rin, net->seed, "stdp.input", item);
    mx_rng_init_named(&net->upd, net->seed, "stdp.update", item);
    switch (net->c.synapse) {
    case MX_STDP_FLOAT:
        mx_stdp_normalise(net->w, net->n_in, net->n_exc, net->c.weight_sum);
        break;
    case MX_STDP_DEVICE:
        normalise_device(net);
        break;
    case MX_STDP_STOCHASTIC_BINARY:
        update_gain(net);
        break;
    }
    double rate = net->c.max_rate_hz;
    for (size_t attempt = 0;; attempt++) {
        size_t total = present_train(net, x, rate, &rin);
        rest_train(net);
        if (total >= net->c.min_spikes || attempt >= net->c.max_retries)
            break;
        rate += net->c.retry_rate_hz;
    }
    if (counts)
        memcpy(counts, net->st->counts, net->n_exc * sizeof(uint32_t));
    for (size_t i = 0; i < mx_size_mul(net->n_in, net->n_exc); i++)
        if (!isfinite(net->w[i]))
            return mx_fail(MX_ENUMERIC, "STDP training: weight %zu became %g at example %llu", i,
                           (double)net->w[i], (unsigned long long)item);
    return MX_OK;
}

/* The normalisation that precedes every training example, once more after
 * the last: the last examples' winners would otherwise carry their fresh
 * potentiation (their weight sums above weight_sum) into evaluation and
 * answer every input. */
static void finish_training(mx_stdp *net)
{
    mx_rng_init_named(&net->upd, net->seed, "stdp.update", UINT64_MAX);
    switch (net->c.synapse) {
    case MX_STDP_FLOAT:
        mx_stdp_normalise(net->w, net->n_in, net->n_exc, net->c.weight_sum);
        break;
    case MX_STDP_DEVICE:
        normalise_device(net);
        break;
    case MX_STDP_STOCHASTIC_BINARY:
        update_gain(net);
        break;
    }
}

void mx_stdp_set_nu_scale(mx_stdp *net, double scale)
{
    assert(isfinite(scale) && scale > 0.0);
    net->nu_pre = net->c.nu_pre * scale;
    net->nu_post = net->c.nu_post * scale;
}

mx_status mx_stdp_train(mx_stdp *net, const float *x, const uint8_t *y, size_t n, uint64_t seed)
{
    (void)seed;
    if (n == 0)
        return mx_fail(MX_EINVAL, "STDP training: no training examples");
    const size_t ne = net->n_exc, chunk = net->c.progress_every < n ? net->c.progress_every : n;
    const size_t total = net->c.epochs * n;
    uint32_t *counts = mx_alloc(mx_size_mul(chunk, ne) * sizeof(uint32_t));
    uint8_t *labels = mx_alloc(chunk);
    int *assign = mx_alloc(ne * sizeof(int));
    if (!counts || !labels || !assign) {
        mx_free(counts);
        mx_free(labels);
        mx_free(assign);
        return mx_fail(MX_ENOMEM, "STDP training: out of memory");
    }
    int have_assign = 0;
    size_t correct = 0, in_chunk = 0, done = 0;
    const double t0 = mx_seconds_now();
    mx_status st = MX_OK;
    for (size_t e = 0; e < net->c.epochs && !st; e++)
        for (size_t i = 0; i < n && !st; i++) {
            uint32_t *cnt = counts + in_chunk * ne;
            /* Learning-rate decay: exactly 1 (the authors' constant rates)
             * when nu_decay_final = 1. */
            if (net->c.nu_decay_final != 1.0)
                mx_stdp_set_nu_scale(net, pow(net->c.nu_decay_final,
                                              (double)done / (double)total));
            st = mx_stdp_train_example(net, x + i * net->n_in, ((uint64_t)e << 32) | i, cnt);
            if (st)
                break;
            labels[in_chunk] = y[i];
            if (have_assign)
                correct += mx_stdp_predict(cnt, assign, ne, net->n_classes) == (int)y[i];
            in_chunk++;
            done++;
            if (in_chunk == chunk || done == total) {
                const double el = mx_seconds_now() - t0, rate = (double)done / el;
                if (have_assign)
                    mx_log(MX_LOG_INFO,
                           "stdp: %zu/%zu examples, %.1f examples/s, running accuracy %.1f %%, "
                           "ETA %.0f s",
                           done, total, rate, 100.0 * (double)correct / (double)in_chunk,
                           (double)(total - done) / rate);
                else
                    mx_log(MX_LOG_INFO, "stdp: %zu/%zu examples, %.1f examples/s, ETA %.0f s",
                           done, total, rate, (double)(total - done) / rate);
                mx_progress("stdp training", done, total);
                mx_stdp_assign_labels(counts, labels, in_chunk, ne, net->n_classes, assign);
                if (done == total) /* the last chunk's proportions go with its labels */
                    mx_stdp_assign_proportions(counts, labels, in_chunk, ne, net->n_classes,
                                               net->prop);
                have_assign = 1;
                correct = 0;
                in_chunk = 0;
            }
        }
    if (!st) {
        memcpy(net->label, assign, ne * sizeof(int));
        finish_training(net);
    }
    mx_free(counts);
    mx_free(labels);
    mx_free(assign);
    return st;
}

/* ------------------------------------------------------------ frozen runs */

mx_status mx_stdp_run(const mx_stdp *net, mx_stdp_state *s, const float *x, uint64_t seed,
                      uint64_t item, mx_matmul *mm, int compare_reference, uint32_t *counts,
                      int *pred_vs_step, mx_stdp_run_stats *stats, mx_current_recorder *rec)
{
    const size_t ne = net->n_exc, ni = net->n_in;
    const int binary = net->c.synapse == MX_STDP_STOCHASTIC_BINARY;
    if (mm) {
        if (mx_matmul_n_in(mm) != ni || mx_matmul_n_out(mm) != ne)
            return mx_fail(MX_EMISMATCH, "STDP run: matmul is %zu×%zu, network %zu×%zu",
                           mx_matmul_n_out(mm), mx_matmul_n_in(mm), ne, ni);
        mx_status st = mx_matmul_work_follow(mm, &s->work, &s->owner);
        if (st)
            return st;
    }
    mx_rng rin, rread;
    mx_rng_init_named(&rin, seed, "snn.encode", item);
    mx_rng_init_named(&rread, seed, "crossbar.read", item);
    state_rest_fresh(s);
    double rate = net->c.max_rate_hz;
    mx_stdp_run_stats local = {0};
    for (size_t attempt = 0;; attempt++) {
        schedule_inputs(net, s, x, rate, &rin);
        memset(s->counts, 0, ne * sizeof(uint32_t));
        size_t total = 0;
        for (size_t t = 0; t < s->steps; t++) {
            size_t me, mi;
            neurons_step(net, s, net->theta, 0, NULL, &me, &mi);
            const size_t m = inputs_at(s, t, &rin);
            if (m && mm) {
                for (size_t q = 0; q < m; q++)
                    s->xin[s->in_spk[q]] = 1.0f;
                mx_matmul_forward(mm, s->work, s->xin, s->y, &rread, stats ? &local.mm : NULL,
                                  rec);
                for (size_t q = 0; q < m; q++)
                    s->xin[s->in_spk[q]] = 0.0f;
                if (compare_reference && stats) {
                    memset(s->yref, 0, ne * sizeof(float));
                    drive_digital(net, s->yref, s->in_spk, m, 0);
                    for (size_t j = 0; j < ne; j++) {
                        const double d = (double)s->y[j] - (double)s->yref[j];
                        local.err_sq_sum += d * d;
                        local.ref_sq_sum += (double)s->yref[j] * (double)s->yref[j];
                        local.err_sum += d;
                    }
                    local.n_values += ne;
                }
                if (binary)
                    for (size_t j = 0; j < ne; j++)
                        s->ge_e[j] += net->gain[j] * s->y[j];
                else
                    for (size_t j = 0; j < ne; j++)
                        s->ge_e[j] += s->y[j];
            } else if (m) {
                drive_digital(net, s->ge_e, s->in_spk, m, binary);
            }
            lateral(net, s, me, mi);
            for (size_t q = 0; q < me; q++)
                s->counts[s->spk_e[q]]++;
            total += me;
            local.spikes += me;
            local.inh_spikes += mi;
            if (pred_vs_step)
                pred_vs_step[t] = mx_stdp_classify(net, s->counts);
        }
        local.steps += s->steps;
        local.neuron_updates += 2 * ne * s->steps;
        if (total >= net->c.min_spikes || attempt >= net->c.max_retries)
            break;
        state_rest(s, &net->k);
        rate += net->c.retry_rate_hz;
    }
    if (counts)
        memcpy(counts, s->counts, ne * sizeof(uint32_t));
    if (stats) {
        stats->err_sq_sum += local.err_sq_sum;
        stats->ref_sq_sum += local.ref_sq_sum;
        stats->err_sum += local.err_sum;
        stats->n_values += local.n_values;
        stats->spikes += local.spikes;
        stats->inh_spikes += local.inh_spikes;
        stats->neuron_updates += local.neuron_updates;
        stats->steps += local.steps;
        mx_matmul_stats_add(&stats->mm, &local.mm);
    }
    return MX_OK;
}

mx_status mx_stdp_record_currents(const mx_stdp *net, mx_stdp_state *s, const float *x,
                                  uint64_t seed, uint64_t item, mx_matmul *mm,
                                  mx_current_recorder *rec)
{
    mx_status st = mx_matmul_work_follow(mm, &s->work, &s->owner);
    if (st)
        return st;
    mx_rng rin, rread;
    mx_rng_init_named(&rin, seed, "snn.encode", item);
    mx_rng_init_named(&rread, seed, "crossbar.read", item);
    schedule_inputs(net, s, x, net->c.max_rate_hz, &rin);
    for (size_t t = 0; t < s->steps; t++) {
        const size_t m = inputs_at(s, t, &rin);
        if (!m)
            continue;
        for (size_t q = 0; q < m; q++)
            s->xin[s->in_spk[q]] = 1.0f;
        mx_matmul_forward(mm, s->work, s->xin, s->y, &rread, NULL, rec);
        for (size_t q = 0; q < m; q++)
            s->xin[s->in_spk[q]] = 0.0f;
    }
    return MX_OK;
}

/* Labelling: frozen runs of n examples in parallel. */
typedef struct label_ctx {
    const mx_stdp *net;
    const float *x;
    uint64_t seed, item_base;
    uint32_t *counts;
} label_ctx;

static mx_status label_state_create(const void *ctx, void **state)
{
    return mx_stdp_state_create(((const label_ctx *)ctx)->net, (mx_stdp_state **)state);
}

static void label_state_destroy(void *state) { mx_stdp_state_destroy(state); }

static mx_status label_item(const void *ctx, void *state, size_t i)
{
    const label_ctx *c = ctx;
    const size_t ni = c->net->n_in, ne = c->net->n_exc;
    return mx_stdp_run(c->net, state, c->x + i * ni, c->seed, c->item_base + i, NULL, 0,
                       c->counts + i * ne, NULL, NULL, NULL);
}

mx_status mx_stdp_label(mx_stdp *net, const float *x, const uint8_t *y, size_t n, uint64_t seed,
                        uint64_t item_base)
{
    if (n == 0)
        return mx_fail(MX_EINVAL, "STDP labelling: no examples");
    uint32_t *counts = mx_alloc(mx_size_mul(n, net->n_exc) * sizeof(uint32_t));
    if (!counts)
        return mx_fail(MX_ENOMEM, "STDP labelling: out of memory");
    static const mx_parallel_ops ops = {label_state_create, label_state_destroy, label_item};
    const label_ctx ctx = {net, x, seed, item_base, counts};
    mx_status st = mx_parallel_items(&ops, &ctx, n, 16, "stdp labelling");
    if (!st) {
        mx_stdp_assign_labels(counts, y, n, net->n_exc, net->n_classes, net->label);
        mx_stdp_assign_proportions(counts, y, n, net->n_exc, net->n_classes, net->prop);
    }
    mx_free(counts);
    return st;
}
