/* SPDX-License-Identifier: MIT
 *
 * stdp.h: unsupervised learning with spike-timing-dependent plasticity —
 * the network of Diehl & Cook (Front. Comput. Neurosci. 9:99, 2015) and a
 * stochastic STDP variant on binary stochastic devices (Srinivasan,
 * Sengupta & Roy, Sci. Rep. 6:29545, 2016; paper-tables.md §1, §4).
 *
 *   784 Poisson inputs ──W (n_in × n_exc, plastic, in [0, w_max])──► n_exc
 *   conductance-based LIF excitatory neurons with adaptive thresholds
 *   ──one-to-one──► n_exc inhibitory neurons ──all-but-own──► excitatory
 *   (lateral inhibition, a soft winner-take-all).
 *
 * Each neuron is labelled with the class it answers most to over labelling
 * examples of the TRAINING set; an example's class is the label group with
 * the highest mean spike count (paper-tables.md §1.2, "readout"), or with
 * stdp.readout proportion BindsNET's proportion weighting (Hazan et al.,
 * Front. Neuroinform. 12:89, 2018). Optional learning-rate decay over
 * training (stdp.nu_decay_final).
 *
 * Synapses (stdp.synapse): float weights (the reference), device cells
 * updated by pulse trains through the device's pulse API, or binary
 * stochastic cells (ON = w_max, OFF = 0) switched with timing-dependent
 * probabilities. The engine is sequential over training examples (each
 * example's learning starts from the weights the last one left), so its
 * random draws are keyed per example and do not depend on threads; the
 * frozen network (labelling, evaluation) runs examples independently.
 *
 * Evaluation can drive the input→excitatory weights through an analog
 * matmul (crossbar/): each step's input spike vector is read through the
 * array and the output is the excitatory conductance increment; neurons and
 * the lateral inhibition stay digital.
 *
 * Units: SI in names; membrane potentials in volts, conductances in units
 * of the leak conductance (dimensionless, as in the source's equations).
 */
#ifndef MX_STDP_H
#define MX_STDP_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "core/rng.h"
#include "crossbar/crossbar.h"
#include "devices/devices.h"

/* Version of the learning dynamics: bump it whenever the same settings and
 * seed train a different network. It is part of the training-cache key
 * (experiments/stdp_run.c), so a cache from older code is never loaded.
 * 1: the engine as it is (stdp.exc_spike_gap_s = 0 trains what it did
 * before the field existed). */
#define MX_STDP_ENGINE_VERSION 1

typedef enum mx_stdp_synapse {
    MX_STDP_FLOAT,             /* float weights, the rule applied exactly */
    MX_STDP_DEVICE,            /* each weight a device cell, Δw → pulse trains */
    MX_STDP_STOCHASTIC_BINARY, /* binary stochastic cells, probabilistic switching */
} mx_stdp_synapse;

/* Readout of the excitatory spike counts (stdp.readout). */
typedef enum mx_stdp_readout {
    MX_STDP_READOUT_MEAN,       /* Diehl & Cook: the label group with the highest mean count */
    MX_STDP_READOUT_PROPORTION, /* BindsNET's proportion weighting (Hazan et al., Front.
                                   Neuroinform. 12:89, 2018): each neuron's count weighted by
                                   its share of its class in the labelling responses */
} mx_stdp_readout;

typedef struct mx_stdp_config {
    size_t n_exc;          /* excitatory (= inhibitory) neurons; 100 */
    mx_stdp_synapse synapse; /* MX_STDP_FLOAT */
    size_t epochs;         /* passes over the training examples; 1 */
    size_t train_examples; /* training examples per pass (the first ones), 0 = all; 0 */
    size_t label_examples; /* training examples whose responses label the neurons
                              (the first ones; frozen network), 0 = all; 10000 */
    mx_stdp_readout readout; /* MX_STDP_READOUT_MEAN */
    double dt_s;           /* time step, s; 0.5e-3 */
    double present_s;      /* stimulus duration, s; 0.35 */
    double rest_s;         /* rest between stimuli (no input), s; 0.15 */
    double max_rate_hz;    /* Poisson rate of a pixel of intensity 1, Hz; 63.75 */
    double retry_rate_hz;  /* added to max_rate_hz per retry, Hz; 31.875 */
    size_t min_spikes;     /* fewer excitatory spikes than this: retry; 5 */
    size_t max_retries;    /* retries per example before giving up; 20 */
    double exc_spike_gap_s; /* shortest time between two spikes of one excitatory
                              neuron, s; 0 = the 5 ms refractory period only
                              (0.05: the authors' code, whose threshold needs
                              timer > 5 ms with dtimer/dt = 100 ms/s); 0 */
    double weight_sum;     /* each neuron's incoming weights sum to this before
                              every training example; 78 */
    double w_max;          /* largest weight; 1 */
    double nu_pre;         /* depression per pre spike × x_post1; 1e-4 */
    double nu_post;        /* potentiation per post spike × x_pre·x_post2; 1e-2 */
    double nu_decay_final; /* learning-rate decay over training: nu_pre and nu_post
                              are scaled by nu_decay_final^p, p = examples done /
                              all training examples (epochs × n), so the rates fall
                              geometrically to this fraction at the end; 1 = constant
                              (the authors'); in (0, 1] */
    double tau_pre_s;      /* presynaptic trace, s; 0.02 */
    double tau_post1_s;    /* postsynaptic trace 1 (depression), s; 0.02 */
    double tau_post2_s;    /* postsynaptic trace 2 (potentiation), s; 0.04 */
    double theta_plus_v;   /* adaptive threshold increment per spike, V; 5e-5 */
    double tau_theta_s;    /* adaptive threshold decay, s; 1e4 */
    double w_exc_inh;      /* exc→inh one-to-one weight; 10.4 */
    double w_inh_exc;      /* inh→exc all-but-own weight; 17.0 */
    /* stochastic-binary: P(OFF→ON) on a post spike = gamma_plus·exp(−Δt/tau_plus_s);
     * P(ON→OFF) on a pre spike = gamma_minus·exp(−Δt/tau_minus_s); and on a
     * post spike P(ON→OFF) = gamma_minus_post·(1 − exp(−Δt/tau_plus_s)) for
     * inputs that did not spike just before (this engine's homeostatic term,
     * standing in for the weight normalisation binary cells cannot do). */
    double gamma_plus;     /* 0.02 */
    double gamma_minus;    /* 0.005 */
    double gamma_minus_post; /* 0.005 */
    double tau_plus_s;     /* 0.02 */
    double tau_minus_s;    /* 0.02 */
    double p_on_init;      /* stochastic-binary: initial ON probability; 0.1 (= 78/784) */
    size_t progress_every; /* training examples per progress report; 1000 */
} mx_stdp_config;

void mx_stdp_config_default(mx_stdp_config *c);
/* MX_EINVAL naming the field (stdp.n_exc, ...) on bad values. */
mx_status mx_stdp_config_validate(const mx_stdp_config *c);

/* ---- building blocks (exposed for tests) ---- */

/* Exact update of τ dv/dt = (E_rest − v) + g_e(E_exc − v) + g_i(E_inh − v)
 * over dt with g_e, g_i held constant: v∞ + (v − v∞)·exp(−dt(1+g_e+g_i)/τ),
 * v∞ = (E_rest + g_e·E_exc + g_i·E_inh)/(1 + g_e + g_i). Volts. */
double mx_stdp_membrane_exact(double v, double g_e, double g_i, double e_rest, double e_exc,
                              double e_inh, double tau_s, double dt_s);

/* Rescale each column j of w (n_in, n_exc) to sum to `total` (columns
 * summing to 0 are left alone). */
void mx_stdp_normalise(float *w, size_t n_in, size_t n_exc, double total);

/* Labels: OUT label[j] = the class with neuron j's highest mean count over
 * the n examples (counts (n, n_exc), classes y); 0 when it never fires
 * (the source's rule: strict > from 0). */
void mx_stdp_assign_labels(const uint32_t *counts, const uint8_t *y, size_t n, size_t n_exc,
                           size_t n_classes, int *label);
/* The class with the highest mean count per label group (groups without
 * neurons score 0; ties go to the lower class). */
int mx_stdp_predict(const uint32_t *counts, const int *label, size_t n_exc, size_t n_classes);
/* Proportion weighting (BindsNET's assign_labels / proportion_weighting,
 * Hazan et al. 2018): OUT prop[j·n_classes + k] = r_jk / Σ_k' r_jk', r_jk =
 * neuron j's mean count over the examples of class k (all 0 for a neuron
 * that never fires). */
void mx_stdp_assign_proportions(const uint32_t *counts, const uint8_t *y, size_t n,
                                size_t n_exc, size_t n_classes, float *prop);
/* argmax_k Σ_{j: label j = k} prop_jk·counts_j / |{j: label j = k}| (groups
 * without neurons score 0; ties go to the lower class). */
int mx_stdp_predict_proportion(const uint32_t *counts, const int *label, const float *prop,
                               size_t n_exc, size_t n_classes);

/* ---- the network ---- */

typedef struct mx_stdp mx_stdp;

/* A fresh network: weights U(0.01, 1.01)·0.3 clipped to [0, w_max] (float,
 * device), or ON with p_on_init (binary), from stream "stdp.init" of seed;
 * θ = 0. Device synapses: `device` must have a pulse response (device) or be
 * the binary model (stochastic-binary); cells are populated from
 * "stdp.cells" and programmed to the initial weights. MX_EINVAL, MX_ENOMEM. */
mx_status mx_stdp_create(const mx_stdp_config *c, size_t n_in, size_t n_classes,
                         const mx_device_type *device, const mx_device_params *device_params,
                         uint64_t seed, mx_stdp **out);
void mx_stdp_destroy(mx_stdp *net);

const mx_stdp_config *mx_stdp_get_config(const mx_stdp *net);
size_t mx_stdp_n_in(const mx_stdp *net);
size_t mx_stdp_n_classes(const mx_stdp *net);
/* (n_in, n_exc) row-major input-major, weight units (device: the cells'
 * (g − g_min)/(g_max − g_min)·w_max). */
float *mx_stdp_weights(mx_stdp *net);
float *mx_stdp_theta(mx_stdp *net);  /* (n_exc) V */
int *mx_stdp_labels(mx_stdp *net);   /* (n_exc) */
/* (n_exc, n_classes) proportions of the labelling responses (readout
 * proportion); 0 until mx_stdp_label. */
float *mx_stdp_proportions(mx_stdp *net);
/* The class of one example's counts (n_exc) by the configured readout. */
int mx_stdp_classify(const mx_stdp *net, const uint32_t *counts);
/* (n_exc) digital drive gain per neuron: 1 except stochastic-binary. */
float *mx_stdp_gain(mx_stdp *net);
/* Pulses sent to device cells so far (device and binary synapses). */
uint64_t mx_stdp_pulses(const mx_stdp *net);

/* Train on one example (normalise, present with retries, rest), keyed by
 * `item` (streams "stdp.input", "stdp.update"), with the learning rates
 * nu_pre·s, nu_post·s of the last mx_stdp_set_nu_scale (1 at creation).
 * OUT counts (n_exc) of the accepted presentation (may be NULL). */
mx_status mx_stdp_train_example(mx_stdp *net, const float *x, uint64_t item, uint32_t *counts);

/* Scale of both learning rates for the next training examples (> 0;
 * mx_stdp_train sets nu_decay_final^p before each example). */
void mx_stdp_set_nu_scale(mx_stdp *net, double scale);

/* Train epochs × n examples x (n, n_in) with labels y; logs progress (rate,
 * running accuracy of the labels assigned from the previous chunk, ETA). */
mx_status mx_stdp_train(mx_stdp *net, const float *x, const uint8_t *y, size_t n,
                        uint64_t seed);

/* Learning hooks (tests): the rule of input i spiking / excitatory neuron j
 * spiking at the current training step, and `steps` steps of trace decay
 * without neuron dynamics. mx_stdp_traces: 0 x_pre (n_in), 1 x_post1,
 * 2 x_post2 (n_exc). Device draws come from "stdp.update", item UINT64_MAX−1. */
void mx_stdp_learn_pre(mx_stdp *net, size_t i);
void mx_stdp_learn_post(mx_stdp *net, size_t j);
void mx_stdp_decay_traces(mx_stdp *net, size_t steps);
const float *mx_stdp_traces(const mx_stdp *net, int which);

/* Per-thread state of the frozen network. */
typedef struct mx_stdp_state mx_stdp_state;
mx_status mx_stdp_state_create(const mx_stdp *net, mx_stdp_state **out);
void mx_stdp_state_destroy(mx_stdp_state *s);

/* Statistics of frozen runs on a matmul (summed by the caller). */
typedef struct mx_stdp_run_stats {
    double err_sq_sum, ref_sq_sum, err_sum; /* analog vs digital W·x per step */
    uint64_t n_values;
    uint64_t spikes;         /* excitatory spikes */
    uint64_t inh_spikes;     /* inhibitory spikes */
    uint64_t neuron_updates; /* neuron updates, excitatory and inhibitory */
    uint64_t steps;          /* presented steps (with retries) */
    mx_matmul_stats mm;
} mx_stdp_run_stats;

/* Run the frozen network (θ fixed, no learning) on one example from rest,
 * with retries, input spikes from stream "snn.encode" (seed, item). With
 * mm the input→excitatory drive is read through the matmul (read noise
 * "crossbar.read", same item); compare_reference adds the digital W·x to
 * stats. OUT counts (n_exc) of the accepted presentation; pred_vs_step
 * (mx_stdp_steps) the class predicted from the counts up to each step of
 * the accepted presentation with the network's labels, may be NULL; stats
 * may be NULL; rec records the matmul's currents (may be NULL).
 * Not thread-safe per state; the network is read only. */
mx_status mx_stdp_run(const mx_stdp *net, mx_stdp_state *s, const float *x, uint64_t seed,
                      uint64_t item, mx_matmul *mm, int compare_reference, uint32_t *counts,
                      int *pred_vs_step, mx_stdp_run_stats *stats, mx_current_recorder *rec);

/* Offer the matmul's column currents of one example's first presentation
 * (input spikes as mx_stdp_run draws them; no neurons are simulated: the
 * currents depend on the inputs only) to rec, for ADC calibration. */
mx_status mx_stdp_record_currents(const mx_stdp *net, mx_stdp_state *s, const float *x,
                                  uint64_t seed, uint64_t item, mx_matmul *mm,
                                  mx_current_recorder *rec);

/* Steps of one presentation: round(present_s/dt_s). */
size_t mx_stdp_steps(const mx_stdp_config *c);

/* Label the neurons (labels and proportions) from the frozen responses to n
 * examples (parallel over examples, stream "snn.encode" with item =
 * item_base + example). */
mx_status mx_stdp_label(mx_stdp *net, const float *x, const uint8_t *y, size_t n, uint64_t seed,
                        uint64_t item_base);

#endif /* MX_STDP_H */
