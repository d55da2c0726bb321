/* SPDX-License-Identifier: MIT
 *
 * online.c: the in-situ trained perceptron of online.h — device cells as
 * synapses, a float forward and backward pass in NeuroSim's form, and
 * weight updates sent to the cells as pulse trains. It sits between
 * devices/ (which knows one cell's response to pulses) and the online
 * experiment runner (experiments/online_run.c, which feeds it examples).
 *
 * What follows MLP+NeuroSim V3.0 (paper-tables.md §7; the repository's
 * Train.cpp, Array.cpp, Cell.cpp, formula.cpp, Mapping.cpp, Param.cpp), and
 * where this file departs from it:
 * - One cell per weight, w = 2(g − g_min)/(g_max − g_min) − 1: NeuroSim's
 *   ConductanceToWeight, and its forward read-out subtracts a reference
 *   column of mid-window cells ((I_max + I_min)/2 per active row). Its
 *   hardware read-out divides the column current by the whole column range,
 *   which makes its pre-activation ½·W·x: readout_gain = ½ (1 gives its
 *   software form W·x). The gain matters more than it looks: NeuroSim's
 *   initial weights (below) put |W·x| near 10 on MNIST, where σ' is ~1e−4,
 *   and halving it lets enough error through for updates to survive the
 *   rounding to whole pulses. As in Train.cpp the backward pass leaves the
 *   gain out of the chain rule.
 * - Logistic sigmoid in both layers; δ2 = −2a2(1 − a2)(y − a2) (Σ(y − a)²
 *   loss), δ1 = a1(1 − a1)·W2ᵀδ2, ΔW = −α·δ·input with the analog a1 as
 *   layer 2's input in the gradient (Train.cpp's `gradt = s2·a1`), plain SGD
 *   per example: the V3.0 manual's setting (α1 = 0.4, α2 = 0.2).
 * - Binary hidden read-out: the hidden layer drives layer 2 with
 *   [a1 ≥ ½] (Train.cpp: `da1 = round_th(a1·(numInputLevel − 1), Hthreshold)`
 *   with numBitInput = 1, Hthreshold = ½).
 * - Initial weights uniform on {−1, −⅔, …, 1} (Mapping.cpp, `rand() % 7 − 3`
 *   over 3). NeuroSim writes them into the cells ideally; here they are
 *   programmed open loop through the device (its `program`), so the
 *   starting conductances already carry the device's errors.
 * - Pulse count n = round(Δw/(w_max − w_min)·P), halves away from zero
 *   (Cell.cpp RealDevice::Write with formula.cpp `truncate`). NeuroSim lets
 *   |n| exceed P and clips the conductance; here |n| ≤ P (P pulses already
 *   cross the whole window, and the digital reference clips w to [−1, 1]).
 * - ADC: each pre-activation through a signed N-bit uniform quantiser of
 *   full scale = fan-in. NeuroSim converts the column and the reference
 *   column separately with 2^N − 1 codes over [0, fan-in] and subtracts
 *   (Mapping.cpp CurrentToDigits, Train.cpp): the same step size, one
 *   rounding instead of two.
 * - Every forward pass reads every cell through the device's `read` (read
 *   noise afresh); the backward pass uses the weights that pass read.
 *   NeuroSim has no read noise in its benchmark presets and wire and access
 *   resistances that are left out here.
 *
 * Parallelism: OpenMP over the rows of a layer (a row = one output neuron's
 * fan-in). Each row draws from its own stream item and sums in a fixed
 * order, so results do not depend on the thread count. Pulses go only to
 * cells with n ≠ 0 (a row's cells are gathered, pulsed, scattered back).
 */
#include "snn/online.h"

#include <assert.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include <omp.h>

#include "adc/adc.h"
#include "core/rng.h"
#include "devices/measured.h"

/* NeuroSim's weight range (Param.cpp maxWeight / minWeight). */
#define W_MIN (-1.0)
#define W_MAX 1.0
#define W_SPAN (W_MAX - W_MIN)
/* Initial weights: (k − 3)/3 for k uniform in 0..6 (Mapping.cpp). */
#define INIT_LEVELS 7
/* Hidden read-out threshold (Param.cpp Hthreshold). */
#define HIDDEN_THRESHOLD 0.5
/* Rows of one layer in the stream items of a layer (item = layer·2³² + row). */
#define LAYER_ITEM_SHIFT 32
/* Adam's ε (Kingma & Ba 2015). */
#define ADAM_EPSILON 1e-8

typedef struct online_layer {
    size_t n_in, n_out;
    float *w;          /* (n_out, n_in): digital weights, or in device mode the
                          weights the last forward pass read */
    float *g;          /* (n_out, n_in) conductances, S (device mode) */
    float *g_read;     /* (n_out, n_in) scratch: one read */
    float *cells;      /* (n_out, n_in, cell_floats) records, or NULL */
    /* Per-row gather scratch for pulses (device mode). */
    mx_pulse *pulses;  /* (n_out, n_in) */
    float *g_pack;     /* (n_out, n_in) */
    float *cell_pack;  /* (n_out, n_in, cell_floats) or NULL */
    uint32_t *idx;     /* (n_out, n_in) */
    uint64_t *row_pulses; /* (n_out): pulses of the last update, per row */
    double *z, *a, *delta; /* (n_out) */
    double *dw;        /* (n_out, n_in) the update being applied */
    double *grad;      /* (n_out, n_in) gradient summed over the batch, or NULL
                          (plain SGD per example) */
    float *m, *v;      /* (n_out, n_in) optimizer moments, or NULL */
    mx_adc adc;
    double alpha;
} online_layer;

struct mx_online {
    mx_online_config cfg;
    const mx_device_type *type;
    mx_device_params params;
    uint64_t seed;
    int states_ltp, states_ltd;
    size_t n_rows;     /* n_hidden + n_out: rows per example in stream items */
    online_layer layer[MX_ONLINE_LAYERS];
    double *x;         /* (n_in): the example being processed, as double */
    double *h;         /* (n_hidden): layer 2's input on the forward pass */
    uint64_t pulses;
    size_t in_batch;   /* examples in the current batch */
    uint64_t updates;  /* optimizer steps t so far */
};

void mx_online_config_default(mx_online_config *c)
{
    *c = (mx_online_config){
        .n_hidden = 100,
        .alpha1 = 0.4,
        .alpha2 = 0.2,
        .readout_gain = 0.5,
        .adc_bits = 8,
        .binary_hidden = 1,
        .weights = MX_ONLINE_DEVICE,
        .states = 0,
        .optimizer = MX_ONLINE_SGD,
        .batch = 1,
        .momentum = 0.9,
        .beta1 = 0.9,
        .beta2 = 0.999,
    };
}

mx_status mx_online_config_validate(const mx_online_config *c)
{
    if (c->n_hidden < 1 || c->n_hidden > MX_ONLINE_MAX_HIDDEN)
        return mx_fail(MX_EINVAL, "online.hidden: expected an integer in [1, %d], got %zu",
                       MX_ONLINE_MAX_HIDDEN, c->n_hidden);
    if (!(isfinite(c->alpha1) && c->alpha1 > 0.0))
        return mx_fail(MX_EINVAL, "online.alpha1: expected a number > 0, got %g", c->alpha1);
    if (!(isfinite(c->alpha2) && c->alpha2 > 0.0))
        return mx_fail(MX_EINVAL, "online.alpha2: expected a number > 0, got %g", c->alpha2);
    if (!(isfinite(c->readout_gain) && c->readout_gain > 0.0))
        return mx_fail(MX_EINVAL, "online.readout_gain: expected a number > 0, got %g",
                       c->readout_gain);
    if (c->adc_bits < 0 || c->adc_bits > MX_ADC_MAX_BITS)
        return mx_fail(MX_EINVAL, "online.adc_bits: expected an integer in [0, %d], got %d",
                       MX_ADC_MAX_BITS, c->adc_bits);
    if (c->binary_hidden != 0 && c->binary_hidden != 1)
        return mx_fail(MX_EINVAL, "online.binary_hidden: expected true or false");
    if (c->weights != MX_ONLINE_DEVICE && c->weights != MX_ONLINE_DIGITAL)
        return mx_fail(MX_EINVAL, "online.weights: expected device or digital");
    if (c->states < 0)
        return mx_fail(MX_EINVAL, "online.states: expected an integer >= 0, got %d", c->states);
    if (c->optimizer != MX_ONLINE_SGD && c->optimizer != MX_ONLINE_MOMENTUM &&
        c->optimizer != MX_ONLINE_ADAM)
        return mx_fail(MX_EINVAL, "online.optimizer: expected sgd, momentum or adam");
    if (c->batch < 1 || c->batch > MX_ONLINE_MAX_BATCH)
        return mx_fail(MX_EINVAL, "online.batch: expected an integer in [1, %d], got %zu",
                       MX_ONLINE_MAX_BATCH, c->batch);
    if (!(isfinite(c->momentum) && c->momentum >= 0.0 && c->momentum < 1.0))
        return mx_fail(MX_EINVAL, "online.momentum: expected a number in [0, 1), got %g",
                       c->momentum);
    if (!(isfinite(c->beta1) && c->beta1 >= 0.0 && c->beta1 < 1.0))
        return mx_fail(MX_EINVAL, "online.beta1: expected a number in [0, 1), got %g", c->beta1);
    if (!(isfinite(c->beta2) && c->beta2 >= 0.0 && c->beta2 < 1.0))
        return mx_fail(MX_EINVAL, "online.beta2: expected a number in [0, 1), got %g", c->beta2);
    return MX_OK;
}

int32_t mx_online_pulse_count(double dw, double w_span, int states_ltp, int states_ltd)
{
    assert(w_span > 0.0 && states_ltp > 0 && states_ltd > 0);
    if (!(dw != 0.0) || !isfinite(dw))
        return 0;
    const int states = dw > 0.0 ? states_ltp : states_ltd;
    double v = fabs(dw) / w_span * (double)states;
    double n = floor(v);
    if (v - n >= 0.5)
        n += 1.0;
    if (n > (double)states)
        n = (double)states;
    return dw > 0.0 ? (int32_t)n : -(int32_t)n;
}

static int round_states(double v) { return v >= 1.0 && v < 2e9 ? (int)floor(v + 0.5) : 0; }

mx_status mx_online_device_states(const mx_device_type *type, const mx_device_params *p,
                                  int *states_ltp, int *states_ltd)
{
    int ltp = 0, ltd = 0;
    if (strcmp(type->name, "nonlinear") == 0) {
        ltp = p->nonlinear.states_ltp;
        ltd = p->nonlinear.states_ltd;
    } else if (strcmp(type->name, "step") == 0) {
        /* The nominal steps: Δw± = dw_min·(1 ± β) of a unit window. */
        ltp = round_states(1.0 / (p->step.dw_min * (1.0 + p->step.up_down)));
        ltd = round_states(1.0 / (p->step.dw_min * (1.0 - p->step.up_down)));
    } else if (strcmp(type->name, "binary") == 0) {
        ltp = ltd = 1;
    } else if (strcmp(type->name, "measured") == 0 && p->measured.curve) {
        double first, last;
        mx_measured_curve_pulse_range(p->measured.curve, MX_MEASURED_LTP, &first, &last);
        ltp = round_states(last - first);
        mx_measured_curve_pulse_range(p->measured.curve, MX_MEASURED_LTD, &first, &last);
        ltd = round_states(last - first);
    } else if (p->levels > 1) {
        ltp = ltd = p->levels - 1;
    }
    if (ltp < 1 || ltd < 1)
        return mx_fail(MX_EINVAL,
                       "online.states: expected a number of pulses across the window for model "
                       "%s (it gives none), got 0",
                       type->name);
    *states_ltp = ltp;
    *states_ltd = ltd;
    return MX_OK;
}

/* ------------------------------------------------------------ create */

static void layer_free(online_layer *l)
{
    mx_free(l->w);
    mx_free(l->g);
    mx_free(l->g_read);
    mx_free(l->cells);
    mx_free(l->pulses);
    mx_free(l->g_pack);
    mx_free(l->cell_pack);
    mx_free(l->idx);
    mx_free(l->row_pulses);
    mx_free(l->z);
    mx_free(l->a);
    mx_free(l->delta);
    mx_free(l->dw);
    mx_free(l->grad);
    mx_free(l->m);
    mx_free(l->v);
    memset(l, 0, sizeof *l);
}

void mx_online_destroy(mx_online *net)
{
    if (!net)
        return;
    for (size_t l = 0; l < MX_ONLINE_LAYERS; l++)
        layer_free(&net->layer[l]);
    mx_free(net->x);
    mx_free(net->h);
    mx_free(net);
}

static bool device_mode(const mx_online *net) { return net->cfg.weights == MX_ONLINE_DEVICE; }

/* Plain SGD with batch 1 updates from each example's δ·inᵀ directly. */
static bool per_example_sgd(const mx_online_config *c)
{
    return c->optimizer == MX_ONLINE_SGD && c->batch == 1;
}

static mx_status layer_alloc(mx_online *net, online_layer *l, size_t n_out, size_t n_in)
{
    l->n_in = n_in;
    l->n_out = n_out;
    size_t n = mx_size_mul(n_out, n_in);
    if (n == 0)
        return mx_fail(MX_ENOMEM, "online network: layer of %zu x %zu weights", n_out, n_in);
    bool ok = (l->w = mx_alloc(n * sizeof(float))) && (l->z = mx_calloc(n_out, sizeof(double))) &&
              (l->a = mx_calloc(n_out, sizeof(double))) &&
              (l->delta = mx_calloc(n_out, sizeof(double))) &&
              (l->dw = mx_alloc(n * sizeof(double)));
    if (ok && !per_example_sgd(&net->cfg))
        ok = (l->grad = mx_calloc(n, sizeof(double))) != NULL;
    if (ok && net->cfg.optimizer != MX_ONLINE_SGD)
        ok = (l->m = mx_calloc(n, sizeof(float))) && (l->v = mx_calloc(n, sizeof(float)));
    if (ok && device_mode(net)) {
        size_t cf = net->type->cell_floats;
        ok = (l->g = mx_alloc(n * sizeof(float))) && (l->g_read = mx_alloc(n * sizeof(float))) &&
             (l->pulses = mx_alloc(n * sizeof(mx_pulse))) &&
             (l->g_pack = mx_alloc(n * sizeof(float))) &&
             (l->idx = mx_alloc(n * sizeof(uint32_t))) &&
             (l->row_pulses = mx_calloc(n_out, sizeof(uint64_t)));
        if (ok && cf) {
            size_t nc = mx_size_mul(n, cf);
            ok = nc && (l->cells = mx_alloc(nc * sizeof(float))) &&
                 (l->cell_pack = mx_alloc(nc * sizeof(float)));
        }
    }
    return ok ? MX_OK : mx_fail(MX_ENOMEM, "online network: out of memory");
}

static uint64_t layer_item(size_t layer, size_t row)
{
    return ((uint64_t)layer << LAYER_ITEM_SHIFT) + (uint64_t)row;
}

static double weight_to_g(const mx_device_params *p, double w)
{
    return p->g_min_s + (w - W_MIN) / W_SPAN * (p->g_max_s - p->g_min_s);
}

/* NeuroSim's initial weights for every row, and in device mode the cells
 * written with them. */
static void layer_init(mx_online *net, size_t li)
{
    online_layer *l = &net->layer[li];
    const uint32_t s_init = mx_stream_id("online.init");
    const uint32_t s_pop = mx_stream_id("device.population");
    const uint32_t s_prog = mx_stream_id("device.program");
    const bool dev = device_mode(net);
    const size_t cf = dev ? net->type->cell_floats : 0;
#pragma omp parallel for schedule(static)
    for (size_t j = 0; j < l->n_out; j++) {
        mx_rng r;
        mx_rng_init(&r, net->seed, s_init, layer_item(li, j));
        float *w = l->w + j * l->n_in;
        for (size_t k = 0; k < l->n_in; k++)
            w[k] = (float)((double)((int)(mx_rng_u32(&r) % INIT_LEVELS) - 3) / 3.0);
        if (!dev)
            continue;
        float *g = l->g + j * l->n_in;
        float *target = l->g_read + j * l->n_in; /* scratch */
        for (size_t k = 0; k < l->n_in; k++)
            target[k] = (float)weight_to_g(&net->params, (double)w[k]);
        float *cells = cf ? l->cells + j * l->n_in * cf : NULL;
        if (cf) {
            mx_rng_init(&r, net->seed, s_pop, layer_item(li, j));
            net->type->populate(&net->params, cells, l->n_in, &r);
        }
        mx_rng_init(&r, net->seed, s_prog, layer_item(li, j));
        net->type->program(&net->params, cells, target, g, l->n_in, &r);
    }
}

mx_status mx_online_create(const mx_online_config *c, size_t n_in, size_t n_out,
                           const mx_device_type *type, const mx_device_params *p,
                           uint64_t seed, mx_online **out)
{
    assert(c && out);
    *out = NULL;
    mx_status st = mx_online_config_validate(c);
    if (st)
        return st;
    if (n_in < 1 || n_out < 1)
        return mx_fail(MX_EINVAL, "online network: expected at least one input and output, got "
                                  "%zu and %zu", n_in, n_out);
    if (n_in > UINT32_MAX)
        return mx_fail(MX_EINVAL, "online network: expected at most %u inputs, got %zu",
                       UINT32_MAX, n_in);
    mx_online *net = mx_calloc(1, sizeof *net);
    if (!net)
        return mx_fail(MX_ENOMEM, "online network: out of memory");
    net->cfg = *c;
    net->seed = seed;
    net->n_rows = c->n_hidden + n_out;
    if (c->weights == MX_ONLINE_DEVICE) {
        if (!type || !p) {
            mx_online_destroy(net);
            return mx_fail(MX_EINVAL, "online.weights: device mode needs a device model");
        }
        net->type = type;
        net->params = *p;
        st = type->validate ? type->validate(p) : MX_OK;
        if (!st && !type->pulse)
            st = mx_fail(MX_EINVAL,
                         "hardware.device.type: expected a model with a pulse response for "
                         "online training, got %s",
                         type->name);
        if (!st && type->cell_floats > MX_DEVICE_CELL_FLOATS_MAX)
            st = mx_fail(MX_EINVAL, "hardware.device.type: %s has too large a cell record",
                         type->name);
        if (!st) {
            if (c->states > 0)
                net->states_ltp = net->states_ltd = c->states;
            else
                st = mx_online_device_states(type, p, &net->states_ltp, &net->states_ltd);
        }
    }
    if (!st)
        st = layer_alloc(net, &net->layer[0], c->n_hidden, n_in);
    if (!st)
        st = layer_alloc(net, &net->layer[1], n_out, c->n_hidden);
    if (!st && !((net->h = mx_calloc(c->n_hidden, sizeof(double))) &&
                 (net->x = mx_calloc(n_in, sizeof(double)))))
        st = mx_fail(MX_ENOMEM, "online network: out of memory");
    for (size_t li = 0; li < MX_ONLINE_LAYERS && !st; li++) {
        online_layer *l = &net->layer[li];
        l->alpha = li == 0 ? c->alpha1 : c->alpha2;
        mx_adc_config ac;
        mx_adc_config_default(&ac);
        ac.kind = c->adc_bits > 0 ? MX_ADC_UNIFORM : MX_ADC_NONE;
        ac.bits = c->adc_bits > 0 ? c->adc_bits : ac.bits;
        /* Full scale: the largest |g·W·x| with x ∈ [0, 1], |w| ≤ 1. */
        st = mx_adc_init(&l->adc, &ac, c->readout_gain * (double)l->n_in);
    }
    if (st) {
        mx_online_destroy(net);
        return st;
    }
    for (size_t li = 0; li < MX_ONLINE_LAYERS; li++)
        layer_init(net, li);
    *out = net;
    return MX_OK;
}

/* ------------------------------------------------------------ passes */

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* z = ADC(g·W·in), a = σ(z) for one layer; in device mode the weights are
 * read from the cells first (row by row, each row its own read stream). */
static void layer_forward(mx_online *net, size_t li, const double *in, uint64_t example)
{
    online_layer *l = &net->layer[li];
    const bool dev = device_mode(net);
    const uint32_t s_read = mx_stream_id("online.read");
    const uint64_t row0 = example * (uint64_t)net->n_rows + (li ? net->layer[0].n_out : 0);
    const double g_min = net->params.g_min_s;
    const double scale = dev ? W_SPAN / (net->params.g_max_s - g_min) : 0.0;
#pragma omp parallel for schedule(static) if (l->n_out * l->n_in >= 4096)
    for (size_t j = 0; j < l->n_out; j++) {
        float *w = l->w + j * l->n_in;
        if (dev) {
            mx_rng r;
            mx_rng_init(&r, net->seed, s_read, row0 + j);
            float *gr = l->g_read + j * l->n_in;
            net->type->read(&net->params, l->g + j * l->n_in, gr, l->n_in, &r);
            for (size_t k = 0; k < l->n_in; k++)
                w[k] = (float)(((double)gr[k] - g_min) * scale + W_MIN);
        }
        double z = 0.0;
        for (size_t k = 0; k < l->n_in; k++)
            z += in[k] * (double)w[k];
        z *= net->cfg.readout_gain;
        if (l->adc.kind == MX_ADC_UNIFORM)
            z = mx_adc_value(&l->adc, mx_adc_code(&l->adc, z));
        l->z[j] = z;
        l->a[j] = sigmoid(z);
    }
}

static void forward(mx_online *net, const double *x, uint64_t example)
{
    online_layer *l0 = &net->layer[0];
    layer_forward(net, 0, x, example);
    for (size_t j = 0; j < l0->n_out; j++)
        net->h[j] = net->cfg.binary_hidden ? (l0->a[j] >= HIDDEN_THRESHOLD ? 1.0 : 0.0) : l0->a[j];
    layer_forward(net, 1, net->h, example);
}

static size_t argmax(const double *a, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (a[i] > a[best])
            best = i;
    return best;
}

/* δ of both layers from the last forward pass and the one-hot label;
 * returns the loss. */
static double backward(mx_online *net, size_t label)
{
    online_layer *l0 = &net->layer[0], *l1 = &net->layer[1];
    assert(label < l1->n_out);
    double loss = 0.0;
    for (size_t k = 0; k < l1->n_out; k++) {
        double y = k == label ? 1.0 : 0.0, a = l1->a[k];
        l1->delta[k] = -2.0 * a * (1.0 - a) * (y - a);
        loss += (y - a) * (y - a);
    }
    for (size_t j = 0; j < l0->n_out; j++) {
        double s = 0.0;
        for (size_t k = 0; k < l1->n_out; k++)
            s += (double)l1->w[k * l1->n_in + j] * l1->delta[k];
        l0->delta[j] = l0->a[j] * (1.0 - l0->a[j]) * s;
    }
    return loss;
}

/* Examples come in as float (the dataset's bulk type); the passes run in
 * double on the network's copy. */
static const double *load_input(mx_online *net, const float *x)
{
    for (size_t k = 0; k < net->layer[0].n_in; k++)
        net->x[k] = (double)x[k];
    return net->x;
}

size_t mx_online_predict(mx_online *net, const float *x, uint64_t example)
{
    const double *xd = load_input(net, x);
    forward(net, xd, example);
    return argmax(net->layer[1].a, net->layer[1].n_out);
}

double mx_online_gradient(mx_online *net, const float *x, size_t label, uint64_t example,
                          float *grad1, float *grad2)
{
    const double *xd = load_input(net, x);
    forward(net, xd, example);
    double loss = backward(net, label);
    online_layer *l0 = &net->layer[0], *l1 = &net->layer[1];
    for (size_t j = 0; grad1 && j < l0->n_out; j++)
        for (size_t k = 0; k < l0->n_in; k++)
            grad1[j * l0->n_in + k] = (float)(l0->delta[j] * xd[k]);
    for (size_t j = 0; grad2 && j < l1->n_out; j++)
        for (size_t k = 0; k < l1->n_in; k++)
            grad2[j * l1->n_in + k] = (float)(l1->delta[j] * l0->a[k]);
    return loss;
}

/* ------------------------------------------------------------ update */

/* Apply the layer's l->dw: digital (clipped to [w_min, w_max]), or as
 * pulse trains through the device, row by row; `item0` + row keys each
 * row's pulse stream. */
static void layer_apply(mx_online *net, size_t li, uint64_t item0)
{
    online_layer *l = &net->layer[li];
    if (!device_mode(net)) {
        for (size_t i = 0; i < l->n_out * l->n_in; i++) {
            double v = (double)l->w[i] + l->dw[i];
            l->w[i] = (float)(v < W_MIN ? W_MIN : v > W_MAX ? W_MAX : v);
        }
        return;
    }
    const uint32_t s_pulse = mx_stream_id("online.pulse");
    const size_t cf = net->type->cell_floats;
#pragma omp parallel for schedule(dynamic, 4) if (l->n_out * l->n_in >= 4096)
    for (size_t j = 0; j < l->n_out; j++) {
        const double *dw = l->dw + j * l->n_in;
        mx_pulse *pulses = l->pulses + j * l->n_in;
        uint32_t *idx = l->idx + j * l->n_in;
        size_t m = 0;
        uint64_t sum = 0;
        for (size_t k = 0; k < l->n_in; k++) {
            if (dw[k] == 0.0)
                continue;
            int32_t n = mx_online_pulse_count(dw[k], W_SPAN, net->states_ltp, net->states_ltd);
            if (n == 0)
                continue;
            pulses[m] = (mx_pulse){.count = n, .amplitude_v = 0.0f, .width_s = 0.0f};
            idx[m++] = (uint32_t)k;
            sum += (uint64_t)(n < 0 ? -(int64_t)n : n);
        }
        l->row_pulses[j] = sum;
        if (m == 0)
            continue;
        float *g = l->g + j * l->n_in, *gp = l->g_pack + j * l->n_in;
        float *cells = cf ? l->cells + j * l->n_in * cf : NULL;
        float *cp = cf ? l->cell_pack + j * l->n_in * cf : NULL;
        for (size_t i = 0; i < m; i++) {
            gp[i] = g[idx[i]];
            if (cf)
                memcpy(cp + i * cf, cells + (size_t)idx[i] * cf, cf * sizeof(float));
        }
        mx_rng r;
        mx_rng_init(&r, net->seed, s_pulse, item0 + j);
        net->type->pulse(&net->params, cp, gp, pulses, m, &r);
        for (size_t i = 0; i < m; i++) {
            g[idx[i]] = gp[i];
            if (cf)
                memcpy(cells + (size_t)idx[i] * cf, cp + i * cf, cf * sizeof(float));
        }
    }
    for (size_t j = 0; j < l->n_out; j++)
        net->pulses += l->row_pulses[j];
}

/* The layer's δ·inᵀ: as this example's update −α·δ·inᵀ (per-example SGD),
 * or added to the batch's gradient sum. */
static void layer_gradient(mx_online *net, size_t li, const double *in)
{
    online_layer *l = &net->layer[li];
    const bool sgd1 = per_example_sgd(&net->cfg);
    for (size_t j = 0; j < l->n_out; j++) {
        const double d = l->delta[j];
        double *row = (sgd1 ? l->dw : l->grad) + j * l->n_in;
        if (sgd1)
            for (size_t k = 0; k < l->n_in; k++)
                row[k] = -l->alpha * d * in[k];
        else
            for (size_t k = 0; k < l->n_in; k++)
                row[k] += d * in[k];
    }
}

/* The optimizer's ΔW from the batch's gradient sum (which it clears). */
static void layer_optimize(mx_online *net, size_t li)
{
    online_layer *l = &net->layer[li];
    const mx_online_config *c = &net->cfg;
    const double inv_b = 1.0 / (double)c->batch, t = (double)net->updates;
    const double bc1 = 1.0 - pow(c->beta1, t), bc2 = 1.0 - pow(c->beta2, t);
    for (size_t i = 0; i < l->n_out * l->n_in; i++) {
        const double g = l->grad[i] * inv_b;
        l->grad[i] = 0.0;
        switch (c->optimizer) {
        case MX_ONLINE_SGD:
            l->dw[i] = -l->alpha * g;
            break;
        case MX_ONLINE_MOMENTUM: {
            double m = c->momentum * (double)l->m[i] + (1.0 - c->momentum) * g;
            l->m[i] = (float)m;
            l->dw[i] = -l->alpha * m;
            break;
        }
        case MX_ONLINE_ADAM: {
            double m = c->beta1 * (double)l->m[i] + (1.0 - c->beta1) * g;
            double v = c->beta2 * (double)l->v[i] + (1.0 - c->beta2) * g * g;
            l->m[i] = (float)m;
            l->v[i] = (float)v;
            l->dw[i] = -l->alpha * (m / bc1) / (sqrt(v / bc2) + ADAM_EPSILON);
            break;
        }
        }
    }
}

size_t mx_online_train_step(mx_online *net, const float *x, size_t label, uint64_t example)
{
    const double *xd = load_input(net, x);
    forward(net, xd, example);
    size_t predicted = argmax(net->layer[1].a, net->layer[1].n_out);
    backward(net, label);
    /* Layer 2's gradient uses the analog a1 (Train.cpp), whatever drove it. */
    layer_gradient(net, 0, xd);
    layer_gradient(net, 1, net->layer[0].a);
    if (++net->in_batch < net->cfg.batch)
        return predicted;
    net->in_batch = 0;
    net->updates++;
    /* The pulses of an update are keyed by the example that completed its
     * batch (the last one), as per-example SGD keys them. */
    const uint64_t row0 = example * (uint64_t)net->n_rows;
    for (size_t li = 0; li < MX_ONLINE_LAYERS; li++) {
        if (!per_example_sgd(&net->cfg))
            layer_optimize(net, li);
        layer_apply(net, li, row0 + (li ? net->layer[0].n_out : 0));
    }
    return predicted;
}

/* ------------------------------------------------------------ access */

uint64_t mx_online_pulses(const mx_online *net) { return net->pulses; }

void mx_online_layer_shape(const mx_online *net, size_t layer, size_t *n_out, size_t *n_in)
{
    assert(layer < MX_ONLINE_LAYERS);
    if (n_out)
        *n_out = net->layer[layer].n_out;
    if (n_in)
        *n_in = net->layer[layer].n_in;
}

void mx_online_weights_get(const mx_online *net, size_t layer, float *w)
{
    assert(layer < MX_ONLINE_LAYERS);
    const online_layer *l = &net->layer[layer];
    size_t n = l->n_out * l->n_in;
    if (!device_mode(net)) {
        memcpy(w, l->w, n * sizeof(float));
        return;
    }
    const double g_min = net->params.g_min_s;
    const double scale = W_SPAN / (net->params.g_max_s - g_min);
    for (size_t i = 0; i < n; i++)
        w[i] = (float)(((double)l->g[i] - g_min) * scale + W_MIN);
}

mx_status mx_online_weights_set(mx_online *net, size_t layer, const float *w)
{
    assert(layer < MX_ONLINE_LAYERS);
    if (device_mode(net))
        return mx_fail(MX_EINVAL, "online.weights: weights can be set in digital mode only");
    online_layer *l = &net->layer[layer];
    memcpy(l->w, w, l->n_out * l->n_in * sizeof(float));
    return MX_OK;
}
