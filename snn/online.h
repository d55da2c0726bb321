/* SPDX-License-Identifier: MIT
 *
 * online.h: in-situ (online) training of a two-layer perceptron whose
 * synapses are device cells, in the style of MLP+NeuroSim V3.0 (Chen, Peng
 * and Yu; the V3.0 manual and its `Train.cpp`, `Array.cpp`, `Cell.cpp`,
 * `formula.cpp`, `Mapping.cpp`; paper-tables.md §7). One cell per weight:
 * a cell's conductance g stands for the weight
 *
 *     w = 2·(g − g_min)/(g_max − g_min) − 1  ∈ [−1, 1]
 *
 * (NeuroSim's ConductanceToWeight, with the column read against a reference
 * column of mid-window cells so that the sign comes out of the array).
 *
 * One training example, plain SGD (batch 1; other optimizers below):
 *   forward   z1 = ADC(g·W1·x), a1 = σ(z1); h = [a1 ≥ ½] (binary_hidden) or
 *             a1; z2 = ADC(g·W2·h), a2 = σ(z2); σ the logistic sigmoid; the
 *             weights read through the device's `read` at every pass; g the
 *             read-out gain (½ in NeuroSim's hardware read-out, below)
 *   loss      L = Σ_k (y_k − a2_k)², y one-hot
 *   backward  δ2 = −2·a2(1 − a2)(y − a2),  δ1 = a1(1 − a1)·W2ᵀδ2
 *             ∇2 = δ2·a1ᵀ (NeuroSim uses the analog a1 here even when the
 *             forward pass sent h),  ∇1 = δ1·xᵀ — NeuroSim's update
 *             direction: the gradient ∂L/∂W when g = 1 and the hidden
 *             read-out is analog; g is left out of the chain rule as
 *             NeuroSim's Train.cpp leaves it (∇ = ∂L/∂W divided by g per
 *             layer crossed)
 *   update    ΔW = −α·∇ (α1 for layer 1, α2 for layer 2; or the
 *             optimizer's ΔW once per batch, mx_online_optimizer), then
 *             device:  n = round(ΔW/(w_max − w_min)·P) pulses (P = the
 *                      device's pulses across the window for that polarity;
 *                      |n| ≤ P), applied through the device's `pulse` with
 *                      its nonlinearity and cycle-to-cycle noise
 *             digital: w ← clip(w + ΔW, −1, 1) (the software reference)
 *
 * NeuroSim's hardware read-out: the column current minus that of a
 * reference column of mid-window cells, digitised over the full column
 * range and scaled so that the range stands for the fan-in, is
 * Σ_active (g − g_mid)/(g_max − g_min) = ½·W·x (Train.cpp, Mapping.cpp
 * CurrentToDigits / DigitsToAlgorithm) — hence g = ½.
 *
 * The ADC converts each pre-activation with a signed uniform quantiser
 * (adc/) of full scale = g·fan-in (the largest |z| for x ∈ [0, 1] and
 * |w| ≤ 1): NeuroSim's read-out also spans the whole column range, so the
 * step, g·fan-in/2^(bits−1), matches its 8-bit partial-sum ADC
 * (fan-in/255 at g = ½).
 *
 * Randomness (core/rng.h), keyed by (seed, stream, item) so any thread count
 * gives bit-identical results:
 *   "online.init"        initial weights, item = layer·2³² + row
 *   "device.population"  each row's cell records (populate), same item
 *   "device.program"     programming the initial weights, same item
 *   "online.read"        reads of a pass, item = example·rows + global row
 *   "online.pulse"       the pulse trains of an update, same item
 * where `example` is the caller's index of the training or test example and
 * rows = n_hidden + n_out (global row: layer-1 rows first).
 */
#ifndef MX_ONLINE_H
#define MX_ONLINE_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "devices/devices.h"

#define MX_ONLINE_LAYERS 2
#define MX_ONLINE_MAX_HIDDEN 4096
#define MX_ONLINE_MAX_BATCH 65536

typedef enum mx_online_weights {
    MX_ONLINE_DEVICE = 0, /* weights are device cells updated by pulses */
    MX_ONLINE_DIGITAL,    /* ideal float weights, same algorithm (software reference) */
} mx_online_weights;

/* How gradients become weight changes (NeuroSim V3.0 Train.cpp offers the
 * same choices; its Param.cpp of Feb 2019 defaults to Adam, batch 100,
 * α = 0.05). g is the gradient averaged over a batch of B examples; one
 * update (one set of pulse trains) per batch:
 *   sgd       ΔW = −α·g                             (B = 1: per example)
 *   momentum  m ← γ·m + (1 − γ)·g,  ΔW = −α·m
 *   adam      m ← β1·m + (1 − β1)·g,  v ← β2·v + (1 − β2)·g²,
 *             ΔW = −α·m̂/(√v̂ + ε),  m̂ = m/(1 − β1^t), v̂ = v/(1 − β2^t),
 *             t = updates so far, ε = 1e−8 (Kingma & Ba, ICLR 2015). */
typedef enum mx_online_optimizer {
    MX_ONLINE_SGD = 0,
    MX_ONLINE_MOMENTUM,
    MX_ONLINE_ADAM,
} mx_online_optimizer;

typedef struct mx_online_config {
    size_t n_hidden;           /* hidden neurons; 100 (NeuroSim) */
    double alpha1;             /* SGD rate of layer 1 (input → hidden); 0.4 */
    double alpha2;             /* SGD rate of layer 2 (hidden → output); 0.2 */
    double readout_gain;       /* g of the pre-activation z = g·W·x; 0.5: NeuroSim's
                                  hardware read-out (column minus a mid-window
                                  reference column, over the full column range);
                                  1: its software form */
    int adc_bits;              /* ADC resolution of each pre-activation, bits;
                                  8 (NeuroSim's partial-sum ADC); 0 = exact */
    int binary_hidden;         /* 1: the hidden layer drives layer 2 with
                                  [a1 ≥ ½], NeuroSim's 1-bit read-out; 0: with
                                  a1 itself; 1 */
    mx_online_weights weights; /* MX_ONLINE_DEVICE */
    int states;                /* P of the pulse-count rule for both polarities;
                                  0 = the device's own (mx_online_device_states); 0 */
    mx_online_optimizer optimizer; /* MX_ONLINE_SGD */
    size_t batch;              /* examples per update B; 1 */
    double momentum;           /* γ of momentum; 0.9 */
    double beta1, beta2;       /* Adam's decay rates; 0.9, 0.999 */
} mx_online_config;

void mx_online_config_default(mx_online_config *c);
/* MX_EINVAL naming the field ("online.alpha1: expected ...") on bad values. */
mx_status mx_online_config_validate(const mx_online_config *c);

typedef struct mx_online mx_online;

/* Create a network of n_in inputs, c->n_hidden hidden and n_out output
 * neurons, weights drawn as NeuroSim draws them (uniform on {−1, −⅔, …, 1}),
 * and in device mode written to fresh cells (populate, then open-loop
 * program). type and p may be NULL in digital mode; in device mode the
 * model must have a `pulse` function and known pulse counts (see
 * mx_online_device_states). p is copied. Fails MX_EINVAL naming the field
 * (online.*, hardware.device.*), MX_ENOMEM; *out is NULL on failure. */
mx_status mx_online_create(const mx_online_config *c, size_t n_in, size_t n_out,
                           const mx_device_type *type, const mx_device_params *p,
                           uint64_t seed, mx_online **out);
void mx_online_destroy(mx_online *net);

/* The pulse counts P (from g_min to g_max, LTP; back, LTD) of a device for
 * the pulse-count rule: nonlinear: states_ltp/ltd; step: 1/(dw_min·(1 ± β));
 * binary: 1; measured: the pulse span of each branch; otherwise levels − 1.
 * MX_EINVAL naming online.states when the model has none of these (set
 * online.states). */
mx_status mx_online_device_states(const mx_device_type *type, const mx_device_params *p,
                                  int *states_ltp, int *states_ltd);

/* NeuroSim's pulse-count rule: n = ±round(|Δw|/w_span·P), P = states_ltp
 * when Δw > 0 (potentiation) and states_ltd otherwise, rounding halves away
 * from zero (formula.cpp `truncate` with threshold ½), |n| ≤ P. */
int32_t mx_online_pulse_count(double dw, double w_span, int states_ltp, int states_ltd);

/* Forward pass of one example x (n_in values in [0, 1]) with the reads of
 * item `example`. Returns the predicted class (largest output; the first
 * one on ties). */
size_t mx_online_predict(mx_online *net, const float *x, uint64_t example);

/* Forward and backward pass without an update. Returns the loss L; OUT:
 * grad1 (n_hidden, n_in) and grad2 (n_out, n_hidden), the update
 * directions ∇1, ∇2 defined above (∂L/∂W with g = 1 and an analog hidden
 * read-out); either may be NULL. */
double mx_online_gradient(mx_online *net, const float *x, size_t label, uint64_t example,
                          float *grad1, float *grad2);

/* One training step on (x, label): forward, backward, the gradient added
 * to the batch; at the batch's last example the optimizer's update is
 * applied (pulses in device mode). Returns the class predicted by the
 * forward pass (before any update). A partial batch at the end of training
 * is never applied. */
size_t mx_online_train_step(mx_online *net, const float *x, size_t label, uint64_t example);

/* Pulses applied so far, Σ|n| over every cell and update (0 in digital mode). */
uint64_t mx_online_pulses(const mx_online *net);

/* Shape of layer l (0: input → hidden, 1: hidden → output). */
void mx_online_layer_shape(const mx_online *net, size_t layer, size_t *n_out, size_t *n_in);

/* The weights of layer l as its cells hold them now (no read noise), or the
 * digital weights. OUT: w (n_out, n_in). */
void mx_online_weights_get(const mx_online *net, size_t layer, float *w);

/* Replace the weights of layer l (digital mode only: MX_EINVAL otherwise). */
mx_status mx_online_weights_set(mx_online *net, size_t layer, const float *w);

#endif /* MX_ONLINE_H */
