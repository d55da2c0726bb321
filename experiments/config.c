/* SPDX-License-Identifier: MIT
 *
 * config.c: the experiment configuration — YAML in (libfyaml's document
 * API), a resolved mx_experiment_config out, one sweep point at a time.
 *
 * Everything about a field lives in one table below (`fields`): its dotted
 * path, kind, place in the struct, valid range, unit, default and meaning.
 * The YAML walker, mx_config_set/get, the validation messages and the
 * Markdown reference in docs/config.md (mx_config_doc_markdown) are all
 * driven by it, so they cannot drift apart. The only checks outside the
 * table are the cross-field ones in check_cross() and the modules' own
 * validators, which run last as a backstop.
 *
 * The device block is resolved in layers (resolve_device): the model
 * defaults, the preset's values, then every device field written explicitly
 * (one bit per table field in the config records which). A point whose model
 * is "measured" loads its curve file when it is resolved (attach_measured).
 *
 * Reading a file checks each value on its own (type, range, known key);
 * rules across fields wait for mx_config_validate / mx_config_point, which
 * see the config after any --set overrides and each sweep point resolved.
 * Every error is one line, "file:line:col: path: expected X, got Y", with a
 * 1-based line and column of the offending YAML node; a cross-field failure
 * finds its line by reading the kept text again (text_pos), so the config
 * carries no table of positions.
 */
#include "experiments/config.h"

#include "devices/measured.h"
#include "experiments/dataset.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <libfyaml.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The text of examples/default.yaml, generated at build time by
 * experiments/embed.c (see experiments/meson.build). */
extern const char mx_config_default_yaml[];
extern const size_t mx_config_default_yaml_len;

#define SOURCE_BUILTIN "<built-in default>"
#define SOURCE_STRING "<string>"
/* Longest scalar we read; longer values are refused whatever the field. */
#define SCALAR_MAX_BYTES 256
/* Characters of a user's text quoted in a message before "..." */
#define SHOW_MAX_CHARS 48
/* Largest file mx_config_load reads: configs are a few kB. */
#define CONFIG_FILE_MAX_BYTES (16u << 20)
/* mx_config_validate checks the sweep points up to this many (a sweep that
 * large could not be run anyway; mx_config_point checks each point it
 * resolves). */
#define VALIDATE_MAX_POINTS ((size_t)1 << 16)
/* Keys one mapping may hold. Each mapping counts its own keys (a nested
 * section is one key of its parent): the largest now are hardware.device
 * (25 keys) and hardware.device.dynamic (20). test_config parses every field
 * written out, so a section outgrowing this fails a test, not a user. */
#define MAPPING_MAX_KEYS 48
#define PATH_BYTES 384
#define MSG_BYTES 1024

/* ------------------------------------------------------------ the table */

typedef enum field_kind {
    FIELD_INT,     /* int */
    FIELD_SIZE,    /* size_t */
    FIELD_U64,     /* uint64_t */
    FIELD_DOUBLE,  /* double, always finite */
    FIELD_BOOL,    /* int, 0 or 1, written true/false */
    FIELD_ENUM,    /* an int-sized enum, written as one of its names */
    FIELD_NAME,    /* char[MX_CONFIG_NAME_BYTES]: one of `choices`, or (choices
                      NULL) one of the names `names` lists (a registry) */
    FIELD_STRING,  /* char[max_count]: free text without control characters,
                      such as a file path ("" allowed) */
    FIELD_DOUBLES, /* double[max_count], exactly max_count numbers */
    FIELD_SIZES,   /* size_t[max_count] holding min_count..max_count values,
                      how many at count_offset (a size_t) */
} field_kind;

/* Bounds flags. The range applies to a scalar field's value, or to every
 * element of a list field. */
enum {
    LO = 1u << 0,      /* value >= min (> min with LO_OPEN) */
    HI = 1u << 1,      /* value <= max (< max with HI_OPEN) */
    LO_OPEN = 1u << 2,
    HI_OPEN = 1u << 3,
    ZERO_OK = 1u << 4, /* 0 is allowed besides the range (it means "none") */
    SPLIT = 1u << 5,   /* messages name only the bound that was broken: the
                          upper one is a plausibility cap, not the usual case */
};

typedef struct choice {
    const char *name;
    int value;
} choice;

typedef struct field {
    const char *path;
    field_kind kind;
    size_t offset;          /* offsetof into mx_experiment_config */
    size_t count_offset;    /* FIELD_SIZES: where the element count lives */
    size_t min_count, max_count; /* list fields: allowed lengths */
    unsigned bounds;
    double min, max;
    const choice *choices;  /* FIELD_ENUM, FIELD_NAME; NULL-name terminated */
    const char *(*names)(size_t i); /* FIELD_NAME without choices: the i-th
                                       allowed name, NULL past the last */
    bool from_module;       /* default set by the owning module's *_default() */
    bool whole_run;         /* applies to the whole run (data loaded once, repeats
                               loop): cannot be swept */
    const char *unit;
    const char *def;        /* default, as mx_config_get writes it */
    const char *doc;
} field;

#define OFF(member) offsetof(mx_experiment_config, member)

_Static_assert(sizeof(mx_training_mode) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(mx_hwa_backward) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(mx_optimizer) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(mx_neuron_kind) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(mx_encoder_kind) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(mx_input_mode) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(mx_noise_mode) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(mx_mapping_kind) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(mx_offset_subtract) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(mx_half_select) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(mx_adc_kind) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(mx_adc_range_mode) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(mx_adc_polarity) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(mx_iv_kind) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(mx_step_kind) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(mx_window_kind) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(mx_experiment_kind) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(mx_online_weights) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(mx_vteam_iv_kind) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(mx_readout_kind) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(mx_run_as) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(mx_programming_mode) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(mx_wv_schedule) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(mx_drift_mode) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(mx_column_cal_mode) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(mx_fault_map_mode) == sizeof(int), "enum fields are stored as int");

static const choice dataset_names[] = {
    {"mnist", 0}, {"fashion-mnist", 0}, {"digits", 0}, {"poker-dvs", 0}, {NULL, 0}};
static const choice optimizers[] = {{"adam", MX_OPT_ADAM}, {"sgd", MX_OPT_SGD}, {NULL, 0}};
static const choice training_modes[] = {
    {"plain", MX_TRAINING_PLAIN}, {"noise-aware", MX_TRAINING_NOISE_AWARE},
    {"hardware-aware", MX_TRAINING_HARDWARE_AWARE}, {NULL, 0}};
static const choice hwa_backwards[] = {
    {"chip", MX_HWA_BACKWARD_CHIP}, {"clean", MX_HWA_BACKWARD_CLEAN}, {NULL, 0}};
static const choice neurons[] = {{"if", MX_NEURON_IF}, {"lif", MX_NEURON_LIF}, {NULL, 0}};
static const choice encoders[] = {
    {"bernoulli", MX_ENCODER_BERNOULLI}, {"poisson", MX_ENCODER_POISSON},
    {"current", MX_ENCODER_CURRENT}, {NULL, 0}};
static const choice input_modes[] = {
    {"spikes", MX_INPUT_SPIKES}, {"dac", MX_INPUT_DAC}, {"bit-serial", MX_INPUT_BIT_SERIAL},
    {"pwm", MX_INPUT_PWM}, {NULL, 0}};
static const choice irdrop_modes[] = {{"exact", MX_CIRCUIT_EXACT},
                                       {"ideal", MX_CIRCUIT_IDEAL},
                                       {"first-order", MX_CIRCUIT_FIRST_ORDER},
                                       {"line-sweeps", MX_CIRCUIT_LINE_SWEEPS},
                                       {NULL, 0}};
static const choice mapping_kinds[] = {
    {"differential", MX_MAPPING_DIFFERENTIAL}, {"offset", MX_MAPPING_OFFSET},
    {"bit-sliced", MX_MAPPING_BIT_SLICED}, {NULL, 0}};
static const choice offset_subtracts[] = {
    {"analog", MX_OFFSET_ANALOG}, {"digital", MX_OFFSET_DIGITAL}, {NULL, 0}};
static const choice half_selects[] = {
    {"off", MX_HALF_SELECT_OFF}, {"v-half", MX_HALF_SELECT_V_HALF}, {NULL, 0}};
static const choice programming_modes[] = {
    {"open-loop", MX_PROGRAMMING_OPEN_LOOP}, {"write-verify", MX_PROGRAMMING_WRITE_VERIFY},
    {NULL, 0}};
static const choice drift_modes[] = {{"none", MX_DRIFT_NONE},
                                     {"global", MX_DRIFT_GLOBAL},
                                     {"per-column", MX_DRIFT_PER_COLUMN},
                                     {NULL, 0}};
static const choice column_cal_modes[] = {
    {"none", MX_COLUMN_CAL_NONE}, {"gain-offset", MX_COLUMN_CAL_GAIN_OFFSET}, {NULL, 0}};
static const choice fault_map_modes[] = {{"none", MX_FAULT_MAP_NONE},
                                         {"partner", MX_FAULT_MAP_PARTNER},
                                         {"permute", MX_FAULT_MAP_PERMUTE},
                                         {"spare-columns", MX_FAULT_MAP_SPARE_COLUMNS},
                                         {NULL, 0}};
static const choice wv_schedules[] = {
    {"fixed", MX_WV_FIXED}, {"incremental-amplitude", MX_WV_INCREMENTAL_AMPLITUDE},
    {"incremental-width", MX_WV_INCREMENTAL_WIDTH}, {NULL, 0}};
static const choice noise_modes[] = {
    {"output-referred", MX_NOISE_OUTPUT_REFERRED}, {"per-cell", MX_NOISE_PER_CELL}, {NULL, 0}};
static const choice adc_kinds[] = {
    {"uniform", MX_ADC_UNIFORM}, {"lloyd-max", MX_ADC_LLOYD_MAX}, {"log", MX_ADC_LOG},
    {"sar", MX_ADC_SAR}, {"sense-amp", MX_ADC_SENSE_AMP}, {"none", MX_ADC_NONE}, {NULL, 0}};
static const choice adc_range_modes[] = {
    {"percentile", MX_ADC_RANGE_PERCENTILE}, {"max", MX_ADC_RANGE_MAX},
    {"mse", MX_ADC_RANGE_MSE}, {NULL, 0}};
static const choice adc_polarities[] = {
    {"signed", MX_ADC_SIGNED}, {"unsigned", MX_ADC_UNSIGNED}, {NULL, 0}};
/* model.pool (snn/cnn.h) */
_Static_assert(sizeof(mx_pool_kind) == sizeof(int), "enum fields are stored as int");
static const choice pool_kinds[] = {{"avg", MX_POOL_AVG}, {"max", MX_POOL_MAX}, {NULL, 0}};
static const choice run_as_kinds[] = {{"snn", MX_RUN_AS_SNN}, {"ann", MX_RUN_AS_ANN}, {NULL, 0}};
/* snn.threshold_rebalance (calibration/threshold.h) */
_Static_assert(sizeof(mx_rebalance_mode) == sizeof(int), "enum fields are stored as int");
static const choice rebalance_modes[] = {{"none", MX_REBALANCE_NONE},
                                         {"layer", MX_REBALANCE_LAYER},
                                         {"neuron", MX_REBALANCE_NEURON},
                                         {NULL, 0}};
static const choice readout_kinds[] = {
    {"adc", MX_READOUT_ADC}, {"integrate", MX_READOUT_INTEGRATE}, {NULL, 0}};
static const choice iv_kinds[] = {
    {"linear", MX_IV_LINEAR}, {"sinh", MX_IV_SINH}, {"neurosim", MX_IV_NEUROSIM}, {NULL, 0}};
static const choice step_kinds[] = {
    {"constant", MX_STEP_CONSTANT}, {"linear", MX_STEP_LINEAR},
    {"soft-bounds", MX_STEP_SOFT_BOUNDS}, {"exp", MX_STEP_EXP}, {"pow", MX_STEP_POW}, {NULL, 0}};
static const choice window_kinds[] = {
    {"none", MX_WINDOW_NONE}, {"joglekar", MX_WINDOW_JOGLEKAR}, {"biolek", MX_WINDOW_BIOLEK},
    {"prodromakis", MX_WINDOW_PRODROMAKIS}, {NULL, 0}};
static const choice experiment_kinds[] = {
    {"conversion", MX_EXPERIMENT_CONVERSION}, {"online-training", MX_EXPERIMENT_ONLINE},
    {"surrogate", MX_EXPERIMENT_SURROGATE}, {"stdp", MX_EXPERIMENT_STDP}, {NULL, 0}};
static const choice online_weights[] = {
    {"device", MX_ONLINE_DEVICE}, {"digital", MX_ONLINE_DIGITAL}, {NULL, 0}};
static const choice online_optimizers[] = {
    {"sgd", MX_ONLINE_SGD}, {"momentum", MX_ONLINE_MOMENTUM}, {"adam", MX_ONLINE_ADAM},
    {NULL, 0}};
/* surrogate.* (snn/surrogate.h) */
_Static_assert(sizeof(mx_surrogate_fn) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(mx_surrogate_reset) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(mx_surrogate_encoding) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(mx_surrogate_output) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(mx_surrogate_training) == sizeof(int), "enum fields are stored as int");
static const choice surrogate_fns[] = {
    {"fast-sigmoid", MX_SURROGATE_FAST_SIGMOID}, {"arctan", MX_SURROGATE_ARCTAN}, {NULL, 0}};
static const choice surrogate_resets[] = {
    {"subtract", MX_SURROGATE_RESET_SUBTRACT}, {"zero", MX_SURROGATE_RESET_ZERO}, {NULL, 0}};
static const choice surrogate_encodings[] = {
    {"current", MX_SURROGATE_CURRENT}, {"rate", MX_SURROGATE_RATE},
    {"latency", MX_SURROGATE_LATENCY}, {"events", MX_SURROGATE_EVENTS}, {NULL, 0}};
static const choice surrogate_outputs[] = {
    {"membrane-sum", MX_SURROGATE_MEMBRANE_SUM}, {"max-membrane", MX_SURROGATE_MAX_MEMBRANE},
    {NULL, 0}};
static const choice surrogate_trainings[] = {
    {"plain", MX_SURROGATE_PLAIN}, {"weight-noise", MX_SURROGATE_WEIGHT_NOISE},
    {"hardware-aware", MX_SURROGATE_HARDWARE_AWARE}, {NULL, 0}};
/* stdp.* (snn/stdp.h) */
_Static_assert(sizeof(mx_stdp_synapse) == sizeof(int), "enum fields are stored as int");
static const choice stdp_synapses[] = {
    {"float", MX_STDP_FLOAT}, {"device", MX_STDP_DEVICE},
    {"stochastic-binary", MX_STDP_STOCHASTIC_BINARY}, {NULL, 0}};
static const choice stdp_readouts[] = {
    {"mean", MX_STDP_READOUT_MEAN}, {"proportion", MX_STDP_READOUT_PROPORTION}, {NULL, 0}};
static const choice vteam_iv_kinds[] = {
    {"linear", MX_VTEAM_IV_LINEAR}, {"exponential", MX_VTEAM_IV_EXPONENTIAL}, {NULL, 0}};

/* The names of the registries, for FIELD_NAME fields without choices. */
#define PRESET_NONE "none"

static const char *device_type_name(size_t i)
{
    const mx_device_type *const *types = mx_device_types();
    for (size_t k = 0; k < i; k++)
        if (!types[k])
            return NULL;
    return types[i] ? types[i]->name : NULL;
}

/* "none" first, then every preset of the registry. */
static const char *preset_name(size_t i)
{
    if (i == 0)
        return PRESET_NONE;
    const mx_device_preset *const *presets = mx_device_presets();
    for (size_t k = 0; k < i - 1; k++)
        if (!presets[k])
            return NULL;
    return presets[i - 1] ? presets[i - 1]->name : NULL;
}

/* Training-split sizes of the datasets (dataset.h), for the batch-size and
 * calibration checks; a limit above them simply keeps everything. */
static const struct {
    const char *name;
    size_t n_train;
} dataset_sizes[] = {{"mnist", 60000}, {"fashion-mnist", 60000}, {"digits", 1000},
                     {"poker-dvs", MX_POKER_DVS_TRAIN}};

static const field fields[] = {
    {.path = "seed", .kind = FIELD_U64, .offset = OFF(seed), .unit = "-", .def = "1",
     .doc = "root seed of every random stream"},
    {.path = "repeats", .whole_run = true,
     .kind = FIELD_SIZE, .offset = OFF(repeats), .bounds = LO, .min = 1,
     .unit = "-", .def = "1",
     .doc = "independent repeats per sweep point (hardware redrawn each time)"},
    {.path = "experiment", .whole_run = true, .kind = FIELD_ENUM, .offset = OFF(experiment),
     .choices = experiment_kinds, .unit = "-", .def = "conversion",
     .doc = "what each sweep point runs: conversion (train an ANN — an MLP, or a CNN with "
            "model.conv_channels — convert it to an SNN, evaluate it on the crossbar), "
            "online-training (NeuroSim-style in-situ training through device pulses; the online "
            "section), surrogate (a spiking network trained with surrogate gradients; the "
            "surrogate section) or stdp (Diehl & Cook STDP, or stochastic STDP on binary "
            "devices; the stdp section); docs/snn.md"},

    {.path = "dataset.name", .whole_run = true,
     .kind = FIELD_NAME, .offset = OFF(dataset.name),
     .choices = dataset_names, .unit = "-", .def = "mnist",
     .doc = "dataset (digits = UCI optical digits, 8x8; poker-dvs = DVS recordings of card "
            "pips, 35x35, 2 polarities, dataset.event_steps frames)"},
    {.path = "dataset.train_limit", .whole_run = true,
     .kind = FIELD_SIZE, .offset = OFF(dataset.train_limit),
     .bounds = LO, .min = 0, .unit = "examples", .def = "0",
     .doc = "training examples used (the first ones); 0 = all"},
    {.path = "dataset.test_limit", .whole_run = true,
     .kind = FIELD_SIZE, .offset = OFF(dataset.test_limit),
     .bounds = LO, .min = 0, .unit = "examples", .def = "2000",
     .doc = "test examples evaluated (the first ones); 0 = all"},
    {.path = "dataset.calibration_images", .kind = FIELD_SIZE,
     .offset = OFF(dataset.calibration_images), .bounds = LO, .min = 1, .unit = "examples",
     .def = "200",
     .doc = "training images used for threshold balancing and the ADC range; at most the "
            "training examples used"},
    {.path = "dataset.event_steps", .whole_run = true,
     .kind = FIELD_SIZE, .offset = OFF(dataset.event_steps), .bounds = LO | HI, .min = 1,
     .max = MX_DATASET_EVENT_STEPS_MAX, .unit = "bins", .def = "20",
     .doc = "time bins per event recording (poker-dvs): each recording's span is split into "
            "this many equal bins, one frame of event counts per bin and polarity"},

    {.path = "model.hidden", .kind = FIELD_SIZES, .offset = OFF(model.hidden),
     .count_offset = OFF(model.n_hidden), .min_count = 0, .max_count = MX_CONFIG_MAX_HIDDEN,
     .bounds = LO, .min = 1, .unit = "neurons", .def = "[500]",
     .doc = "hidden layer widths of the ReLU MLP (inputs and 10 classes come from the dataset); "
            "with model.conv_channels the dense layers after the conv blocks (may be [])"},
    {.path = "model.weights", .kind = FIELD_STRING, .offset = OFF(model.weights),
     .max_count = MX_DEVICE_PATH_BYTES, .unit = "-", .def = "",
     .doc = "a network trained elsewhere, used instead of training: a memxbar weight file "
            "(MLP or CNN format, e.g. from scripts/export_torch.py; relative to the config "
            "file's folder) whose layers match model.hidden / model.conv_* and the dataset; "
            "experiment conversion only"},
    {.path = "model.run_as", .kind = FIELD_ENUM, .offset = OFF(model.run_as),
     .choices = run_as_kinds, .unit = "-", .def = "snn",
     .doc = "what runs on the crossbar: snn (the MLP converted to a spiking network, snn.*) "
            "or ann (the trained MLP itself, one pass per image: each layer's input driven "
            "by hardware.crossbar.input — dac, bit-serial or pwm, not spikes — at a full "
            "scale of the snn.norm_percentile of its activations, ReLU digitally between "
            "layers; snn.* other than norm_percentile unused)"},

    {.path = "training.optimizer", .kind = FIELD_ENUM, .offset = OFF(training.train.optimizer),
     .choices = optimizers, .from_module = true, .unit = "-", .def = "adam",
     .doc = "minibatch optimizer"},
    {.path = "training.epochs", .kind = FIELD_SIZE, .offset = OFF(training.train.epochs),
     .bounds = LO, .min = 1, .from_module = true, .unit = "epochs", .def = "15",
     .doc = "passes over the training set (plain training)"},
    {.path = "training.batch_size", .kind = FIELD_SIZE, .offset = OFF(training.train.batch_size),
     .bounds = LO, .min = 1, .from_module = true, .unit = "examples", .def = "128",
     .doc = "examples per minibatch; at most the training examples used"},
    {.path = "training.learning_rate", .kind = FIELD_DOUBLE,
     .offset = OFF(training.train.learning_rate), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "-", .def = "0.004", .doc = "Adam step size / SGD rate"},
    {.path = "training.lr_decay", .kind = FIELD_DOUBLE, .offset = OFF(training.train.lr_decay),
     .bounds = LO | HI | LO_OPEN, .min = 0, .max = 1, .from_module = true, .unit = "-",
     .def = "0.75", .doc = "learning rate multiplied by this after each epoch"},
    {.path = "training.momentum", .kind = FIELD_DOUBLE, .offset = OFF(training.train.momentum),
     .bounds = LO | HI | HI_OPEN, .min = 0, .max = 1, .from_module = true, .unit = "-",
     .def = "0.9", .doc = "SGD momentum (unused by Adam)"},
    {.path = "training.weight_decay", .kind = FIELD_DOUBLE,
     .offset = OFF(training.train.weight_decay), .bounds = LO, .min = 0, .from_module = true,
     .unit = "-", .def = "0", .doc = "L2 regularisation coefficient"},
    {.path = "training.mode", .kind = FIELD_ENUM, .offset = OFF(training.mode),
     .choices = training_modes, .unit = "-", .def = "plain",
     .doc = "plain training; or plain then noise-aware fine-tuning with weights perturbed by "
            "the device variation model at every minibatch; or plain then hardware-aware "
            "fine-tuning with every forward pass on the emulated crossbar (device, read "
            "noise, DAC at hardware.crossbar.dac_bits, ADC, IR drop) and float gradients "
            "straight through"},
    {.path = "training.noise_epochs", .kind = FIELD_SIZE, .offset = OFF(training.noise_epochs),
     .bounds = LO, .min = 1, .unit = "epochs", .def = "2",
     .doc = "noise-aware (or hardware-aware) fine-tuning epochs, starting from the plain "
            "network"},
    {.path = "training.noise_learning_rate", .kind = FIELD_DOUBLE,
     .offset = OFF(training.noise_learning_rate), .bounds = LO | LO_OPEN, .min = 0, .unit = "-",
     .def = "0.0003",
     .doc = "learning rate of the noise-aware (or hardware-aware) fine-tuning (decays by "
            "lr_decay per epoch)"},
    {.path = "training.noise_sigma", .kind = FIELD_DOUBLE, .offset = OFF(training.noise_sigma),
     .unit = "relative", .def = "-1",
     .doc = "device variation σ used while training noise-aware or hardware-aware; < 0 = "
            "the evaluated device's d2d_sigma"},
    {.path = "training.hwa_reprogram_every", .kind = FIELD_SIZE,
     .offset = OFF(training.hwa_reprogram_every), .bounds = LO, .min = 1, .unit = "minibatches",
     .def = "1",
     .doc = "hardware-aware: the layers are programmed onto a new chip instance (new device "
            "draws, ADC refitted) every this many minibatches and at each epoch start"},
    {.path = "training.hwa_backward", .kind = FIELD_ENUM, .offset = OFF(training.hwa_backward),
     .choices = hwa_backwards, .unit = "-", .def = "chip",
     .doc = "hardware-aware: the backward pass multiplies by the programmed chip's weights "
            "(chip) or by the clean weights (clean); ADC, read noise and IR drop are "
            "straight-through either way"},

    {.path = "snn.neuron", .kind = FIELD_ENUM, .offset = OFF(snn.neuron), .choices = neurons,
     .from_module = true, .unit = "-", .def = "if",
     .doc = "integrate-and-fire or leaky integrate-and-fire, reset by subtraction"},
    {.path = "snn.timesteps", .kind = FIELD_SIZE, .offset = OFF(snn.timesteps),
     .bounds = LO | HI, .min = 1, .max = 100000, .from_module = true, .unit = "steps",
     .def = "64", .doc = "simulation steps per example"},
    {.path = "snn.tau_mem_s", .kind = FIELD_DOUBLE, .offset = OFF(snn.tau_mem_s),
     .bounds = LO | LO_OPEN, .min = 0, .from_module = true, .unit = "s", .def = "0.02",
     .doc = "LIF membrane time constant"},
    {.path = "snn.dt_s", .kind = FIELD_DOUBLE, .offset = OFF(snn.dt_s), .bounds = LO | LO_OPEN,
     .min = 0, .from_module = true, .unit = "s", .def = "0.001", .doc = "time step"},
    {.path = "snn.encoder", .kind = FIELD_ENUM, .offset = OFF(snn.encoder), .choices = encoders,
     .from_module = true, .unit = "-", .def = "bernoulli",
     .doc = "rate coding: one Bernoulli draw per step with p = intensity, or a Poisson "
            "process at intensity·max_rate_hz; or current: the intensity injected as a "
            "constant input current every step (CNN conversion only, model.conv_channels)"},
    {.path = "snn.max_rate_hz", .kind = FIELD_DOUBLE, .offset = OFF(snn.max_rate_hz),
     .bounds = LO | LO_OPEN, .min = 0, .from_module = true, .unit = "Hz", .def = "1000",
     .doc = "Poisson rate at intensity 1"},
    {.path = "snn.norm_percentile", .kind = FIELD_DOUBLE, .offset = OFF(snn.norm_percentile),
     .bounds = LO | HI | LO_OPEN, .min = 0, .max = 100, .from_module = true, .unit = "%",
     .def = "99.9", .doc = "percentile of each layer's ReLU activations used for threshold balancing "
                           "(model.run_as ann: of each layer's input, its DAC full scale)"},
    {.path = "snn.threshold_rebalance", .kind = FIELD_ENUM, .offset = OFF(rebalance.mode),
     .choices = rebalance_modes, .from_module = true, .unit = "-", .def = "none",
     .doc = "after programming and ADC calibration, re-set the firing thresholds from the "
            "hardware's own input currents on calibration images, so each layer's "
            "norm_percentile statistic over its threshold is the digital network's: one "
            "factor per layer or per neuron (docs/calibration.md; MLP conversion only)"},
    {.path = "snn.threshold_rebalance_images", .kind = FIELD_SIZE,
     .offset = OFF(rebalance.images), .bounds = LO | HI, .min = 1, .max = 1000000,
     .from_module = true, .unit = "examples", .def = "100",
     .doc = "training images run through the hardware SNN for threshold re-balancing (at "
            "most the training set; their own stream items, apart from the test images)"},

    {.path = "hardware.device.type", .kind = FIELD_NAME, .offset = OFF(hardware.device_type),
     .names = device_type_name, .unit = "-", .def = "reram",
     .doc = "device model, by its registry name (memxbar device list); with a preset, its "
            "model unless written"},
    {.path = "hardware.device.preset", .kind = FIELD_NAME, .offset = OFF(hardware.device_preset),
     .names = preset_name, .unit = "-", .def = PRESET_NONE,
     .doc = "published device (memxbar device show NAME): its model and parameters replace "
            "the defaults; device fields written in the config override it"},
    {.path = "hardware.device.g_min_s", .kind = FIELD_DOUBLE, .offset = OFF(hardware.device.g_min_s),
     .bounds = LO | LO_OPEN, .min = 0, .from_module = true, .unit = "S", .def = "1e-06",
     .doc = "lowest programmable conductance; less than g_max_s"},
    {.path = "hardware.device.g_max_s", .kind = FIELD_DOUBLE, .offset = OFF(hardware.device.g_max_s),
     .bounds = LO | LO_OPEN, .min = 0, .from_module = true, .unit = "S", .def = "1e-05",
     .doc = "highest programmable conductance"},
    {.path = "hardware.device.levels", .kind = FIELD_INT, .offset = OFF(hardware.device.levels),
     .bounds = LO | HI | ZERO_OK, .min = 2, .max = 65536, .from_module = true, .unit = "levels",
     .def = "0", .doc = "programmable conductance levels in [g_min_s, g_max_s]; 0 = continuous"},
    {.path = "hardware.device.d2d_sigma", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.d2d_sigma), .bounds = LO | HI | SPLIT, .min = 0, .max = 10,
     .from_module = true, .unit = "relative", .def = "0",
     .doc = "device-to-device variation of the programmed conductance: lognormal, σ = std/mean"},
    {.path = "hardware.device.prog_noise", .kind = FIELD_DOUBLES,
     .offset = OFF(hardware.device.prog_noise_coeffs), .min_count = MX_DEVICE_PROG_NOISE_ORDER,
     .max_count = MX_DEVICE_PROG_NOISE_ORDER, .from_module = true, .unit = "relative",
     .def = "[0, 0, 0]",
     .doc = "programming noise [c0, c1, c2]: additive Gaussian, σ/g_max = c0 + c1·ĝ + c2·ĝ², "
            "ĝ = g_target/g_max"},
    {.path = "hardware.device.read_noise_sigma", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.read_noise_sigma), .bounds = LO, .min = 0,
     .from_module = true, .unit = "relative", .def = "0",
     .doc = "read noise σ relative to the conductance, drawn afresh at every read"},
    {.path = "hardware.device.stuck_at_gmin", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.stuck_at_gmin_frac), .bounds = LO | HI, .min = 0, .max = 1,
     .from_module = true, .unit = "fraction", .def = "0",
     .doc = "fraction of cells stuck at g_min_s; with stuck_at_gmax at most 1"},
    {.path = "hardware.device.stuck_at_gmax", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.stuck_at_gmax_frac), .bounds = LO | HI, .min = 0, .max = 1,
     .from_module = true, .unit = "fraction", .def = "0", .doc = "fraction of cells stuck at g_max_s"},
    {.path = "hardware.device.t_inference_s", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.t_inference_s), .bounds = LO, .min = 0, .from_module = true,
     .unit = "s", .def = "0",
     .doc = "time between programming and evaluation: drift and accumulated 1/f noise of "
            "models that age (pcm); 0 = evaluate as programmed"},
    {.path = "hardware.device.drift_t0_s", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.drift_t0_s), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "s", .def = "20",
     .doc = "drift reference time t0: G(t) = G·((t + t0)/t0)^−ν (pcm; Nandakumar 2019)"},
    {.path = "hardware.device.read_time_s", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.read_time_s), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "s", .def = "2.5e-07",
     .doc = "duration of one read, t_read of the accumulated 1/f noise term (pcm)"},
    {.path = "hardware.device.endurance_cycles", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.endurance_cycles), .bounds = LO, .min = 0, .from_module = true,
     .unit = "cycles", .def = "0",
     .doc = "switching cycles after which the conductance window of a pulse-level model has "
            "narrowed to endurance_floor; 0 = no wear-out"},
    {.path = "hardware.device.endurance_onset", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.endurance_onset), .bounds = LO, .min = 1, .from_module = true,
     .unit = "cycles", .def = "1000",
     .doc = "cycles before the window starts to narrow (linearly in log cycles); below "
            "endurance_cycles"},
    {.path = "hardware.device.endurance_floor", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.endurance_floor), .bounds = LO | HI, .min = 0, .max = 1,
     .from_module = true, .unit = "fraction", .def = "0.1",
     .doc = "window fraction left at endurance_cycles (it narrows about its middle)"},
    {.path = "hardware.device.temperature_k", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.temperature_k), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "K", .def = "300",
     .doc = "device (ambient) temperature, for models whose source gives a dependence (pku: "
            "T0 of its local filament temperature)"},

    {.path = "hardware.device.iv.kind", .kind = FIELD_ENUM, .offset = OFF(hardware.device.iv.kind),
     .choices = iv_kinds, .from_module = true, .unit = "-", .def = "linear",
     .doc = "read I–V of a cell: I = G·V; I = G·V_r·sinh(bV)/sinh(bV_r); or NeuroSim's "
            "I = G·V_r·NL^((V − V_r)/(V_w/2))"},
    {.path = "hardware.device.iv.v_read_v", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.iv.v_read_v), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "V", .def = "0.2",
     .doc = "V_r, the voltage at which a cell's conductance G = I/V is defined"},
    {.path = "hardware.device.iv.sinh_b_per_v", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.iv.sinh_b_per_v), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "1/V", .def = "3", .doc = "b of the sinh I–V form"},
    {.path = "hardware.device.iv.nl", .kind = FIELD_DOUBLE, .offset = OFF(hardware.device.iv.nl),
     .bounds = LO, .min = 1, .from_module = true, .unit = "-", .def = "10",
     .doc = "NeuroSim I–V nonlinearity: current ratio between V_w and V_w/2"},
    {.path = "hardware.device.iv.v_write_v", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.iv.v_write_v), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "V", .def = "1", .doc = "NeuroSim I–V write voltage V_w"},

    {.path = "hardware.device.pulse.v_ltp_v", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.pulse.v_ltp_v), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "V", .def = "1",
     .doc = "|V| of a nominal potentiating (SET, LTP) pulse"},
    {.path = "hardware.device.pulse.width_ltp_s", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.pulse.width_ltp_s), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "s", .def = "1e-07", .doc = "width of a potentiating pulse"},
    {.path = "hardware.device.pulse.v_ltd_v", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.pulse.v_ltd_v), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "V", .def = "1",
     .doc = "|V| of a nominal depressing (RESET, LTD) pulse"},
    {.path = "hardware.device.pulse.width_ltd_s", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.pulse.width_ltd_s), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "s", .def = "1e-07", .doc = "width of a depressing pulse"},

    {.path = "hardware.device.nonlinear.nl_ltp", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.nonlinear.nl_ltp), .bounds = LO | HI, .min = -9, .max = 9,
     .from_module = true, .unit = "-", .def = "1",
     .doc = "NeuroSim nonlinearity label of potentiation: |NL| in [0.01, 9], or 0 = linear; "
            "the sign is that of A"},
    {.path = "hardware.device.nonlinear.nl_ltd", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.nonlinear.nl_ltd), .bounds = LO | HI, .min = -9, .max = 9,
     .from_module = true, .unit = "-", .def = "-1",
     .doc = "nonlinearity label of depression, as nl_ltp (negative: the usual saturating "
            "depression, NeuroSim's signed convention)"},
    {.path = "hardware.device.nonlinear.states_ltp", .kind = FIELD_INT,
     .offset = OFF(hardware.device.nonlinear.states_ltp), .bounds = LO | HI, .min = 1,
     .max = 1000000, .from_module = true, .unit = "pulses", .def = "100",
     .doc = "P_max of potentiation: pulses from g_min_s to g_max_s"},
    {.path = "hardware.device.nonlinear.states_ltd", .kind = FIELD_INT,
     .offset = OFF(hardware.device.nonlinear.states_ltd), .bounds = LO | HI, .min = 1,
     .max = 1000000, .from_module = true, .unit = "pulses", .def = "100",
     .doc = "P_max of depression: pulses from g_max_s to g_min_s"},
    {.path = "hardware.device.nonlinear.c2c_sigma", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.nonlinear.c2c_sigma), .bounds = LO, .min = 0,
     .from_module = true, .unit = "fraction of window", .def = "0",
     .doc = "cycle-to-cycle σ of each pulse train as a fraction of g_max_s − g_min_s, "
            "×sqrt(pulses)"},
    {.path = "hardware.device.nonlinear.d2d_nl_sigma", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.nonlinear.d2d_nl_sigma), .bounds = LO, .min = 0,
     .from_module = true, .unit = "NL units", .def = "0",
     .doc = "device-to-device σ of the nonlinearity labels (Gaussian)"},

    {.path = "hardware.device.step.kind", .kind = FIELD_ENUM,
     .offset = OFF(hardware.device.step.kind), .choices = step_kinds, .from_module = true,
     .unit = "-", .def = "constant",
     .doc = "aihwkit update rule: ConstantStep, LinearStep, SoftBounds, ExpStep or PowStep"},
    {.path = "hardware.device.step.dw_min", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.step.dw_min), .bounds = LO | HI | LO_OPEN, .min = 0, .max = 1,
     .from_module = true, .unit = "fraction of window", .def = "0.01",
     .doc = "mean step of one pulse, w = (g − g_min_s)/(g_max_s − g_min_s)"},
    {.path = "hardware.device.step.dw_min_dtod", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.step.dw_min_dtod), .bounds = LO, .min = 0, .from_module = true,
     .unit = "relative", .def = "0.3", .doc = "device-to-device σ of the step"},
    {.path = "hardware.device.step.dw_min_std", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.step.dw_min_std), .bounds = LO, .min = 0, .from_module = true,
     .unit = "relative", .def = "0.3", .doc = "cycle-to-cycle σ of each step"},
    {.path = "hardware.device.step.up_down", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.step.up_down),
     .bounds = LO | HI | LO_OPEN | HI_OPEN, .min = -1, .max = 1, .from_module = true,
     .unit = "-", .def = "0",
     .doc = "up/down asymmetry β: up steps dw_min·(1 + β), down steps dw_min·(1 − β)"},
    {.path = "hardware.device.step.up_down_dtod", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.step.up_down_dtod), .bounds = LO, .min = 0,
     .from_module = true, .unit = "-", .def = "0.01", .doc = "device-to-device σ of β"},
    {.path = "hardware.device.step.bounds_dtod", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.step.bounds_dtod), .bounds = LO, .min = 0, .from_module = true,
     .unit = "fraction of window", .def = "0", .doc = "device-to-device σ of the bounds"},
    {.path = "hardware.device.step.gamma_up", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.step.gamma_up), .bounds = LO, .min = 0, .from_module = true,
     .unit = "-", .def = "0",
     .doc = "LinearStep γ⁺: the fraction by which the up step shrinks from the window middle "
            "to the upper bound"},
    {.path = "hardware.device.step.gamma_down", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.step.gamma_down), .bounds = LO, .min = 0, .from_module = true,
     .unit = "-", .def = "0", .doc = "LinearStep γ⁻, as gamma_up for down steps"},
    {.path = "hardware.device.step.gamma_dtod", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.step.gamma_dtod), .bounds = LO, .min = 0, .from_module = true,
     .unit = "-", .def = "0", .doc = "device-to-device σ of γ⁺ and γ⁻ (absolute)"},
    {.path = "hardware.device.step.exp_a_up", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.step.exp_a_up), .from_module = true, .unit = "-",
     .def = "0.00081", .doc = "ExpStep A_up"},
    {.path = "hardware.device.step.exp_a_down", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.step.exp_a_down), .from_module = true, .unit = "-",
     .def = "0.36833", .doc = "ExpStep A_down"},
    {.path = "hardware.device.step.exp_gamma_up", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.step.exp_gamma_up), .from_module = true, .unit = "-",
     .def = "12.44625", .doc = "ExpStep γ_up"},
    {.path = "hardware.device.step.exp_gamma_down", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.step.exp_gamma_down), .from_module = true, .unit = "-",
     .def = "12.78785", .doc = "ExpStep γ_down"},
    {.path = "hardware.device.step.exp_a", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.step.exp_a), .from_module = true, .unit = "-", .def = "0.244",
     .doc = "ExpStep a"},
    {.path = "hardware.device.step.exp_b", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.step.exp_b), .from_module = true, .unit = "-", .def = "0.2425",
     .doc = "ExpStep b"},
    {.path = "hardware.device.step.pow_gamma", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.step.pow_gamma), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "-", .def = "1", .doc = "PowStep exponent"},
    {.path = "hardware.device.step.pow_gamma_dtod", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.step.pow_gamma_dtod), .bounds = LO, .min = 0,
     .from_module = true, .unit = "relative", .def = "0",
     .doc = "device-to-device σ of the exponent"},

    {.path = "hardware.device.binary.tau0_s", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.binary.tau0_s), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "s", .def = "285000",
     .doc = "τ0 of the switching time τ(V) = τ0·exp(−|V|/V0); P = 1 − exp(−t_pulse/τ)"},
    {.path = "hardware.device.binary.v0_v", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.binary.v0_v), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "V", .def = "0.155", .doc = "V0 of τ(V)"},
    {.path = "hardware.device.binary.tau0_d2d", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.binary.tau0_d2d), .bounds = LO, .min = 0, .from_module = true,
     .unit = "ln s", .def = "0", .doc = "device-to-device σ of ln τ0 (lognormal τ0)"},
    {.path = "hardware.device.binary.v0_d2d", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.binary.v0_d2d), .bounds = LO, .min = 0, .from_module = true,
     .unit = "relative", .def = "0", .doc = "device-to-device σ of V0"},

    {.path = "hardware.device.dynamic.window", .kind = FIELD_ENUM,
     .offset = OFF(hardware.device.dynamic.window), .choices = window_kinds, .from_module = true,
     .unit = "-", .def = "joglekar",
     .doc = "window function of linear ion drift: none, Joglekar 1 − (2x − 1)^(2p), Biolek "
            "1 − (x − stp(−i))^(2p), Prodromakis j·(1 − ((x − 0.5)² + 0.75)^p)"},
    {.path = "hardware.device.dynamic.window_p", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.dynamic.window_p), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "-", .def = "1", .doc = "window exponent p"},
    {.path = "hardware.device.dynamic.window_j", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.dynamic.window_j), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "-", .def = "1", .doc = "Prodromakis window scale j"},
    {.path = "hardware.device.dynamic.r_on_ohm", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.dynamic.r_on_ohm), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "Ω", .def = "100", .doc = "linear ion drift R_ON"},
    {.path = "hardware.device.dynamic.r_off_ohm", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.dynamic.r_off_ohm), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "Ω", .def = "16000", .doc = "linear ion drift R_OFF"},
    {.path = "hardware.device.dynamic.d_m", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.dynamic.d_m), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "m", .def = "1e-08", .doc = "film thickness D"},
    {.path = "hardware.device.dynamic.mu_v", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.dynamic.mu_v), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "m²/(V·s)", .def = "1e-14", .doc = "dopant mobility μ_v"},
    {.path = "hardware.device.dynamic.x0", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.dynamic.x0), .bounds = LO | HI, .min = 0, .max = 1,
     .from_module = true, .unit = "-", .def = "0.5",
     .doc = "state of a fresh cell, where programming starts: w/D (linear ion drift, 1 = ON), "
            "(w − w_on)/(w_off − w_on) (VTEAM, 1 = OFF), normalised filament gap (pku, 1 = OFF)"},
    {.path = "hardware.device.dynamic.k_on_m_per_s", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.dynamic.k_on_m_per_s), .bounds = HI | HI_OPEN, .max = 0,
     .from_module = true, .unit = "m/s", .def = "-10", .doc = "VTEAM k_on (negative)"},
    {.path = "hardware.device.dynamic.k_off_m_per_s", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.dynamic.k_off_m_per_s), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "m/s", .def = "0.0005", .doc = "VTEAM k_off"},
    {.path = "hardware.device.dynamic.alpha_on", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.dynamic.alpha_on), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "-", .def = "3", .doc = "VTEAM α_on"},
    {.path = "hardware.device.dynamic.alpha_off", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.dynamic.alpha_off), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "-", .def = "1", .doc = "VTEAM α_off"},
    {.path = "hardware.device.dynamic.v_on_v", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.dynamic.v_on_v), .bounds = HI | HI_OPEN, .max = 0,
     .from_module = true, .unit = "V", .def = "-0.2", .doc = "VTEAM threshold v_on (negative)"},
    {.path = "hardware.device.dynamic.v_off_v", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.dynamic.v_off_v), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "V", .def = "0.02", .doc = "VTEAM threshold v_off"},
    {.path = "hardware.device.dynamic.vteam_r_on_ohm", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.dynamic.vteam_r_on_ohm), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "Ω", .def = "50", .doc = "VTEAM R_ON"},
    {.path = "hardware.device.dynamic.vteam_r_off_ohm", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.dynamic.vteam_r_off_ohm), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "Ω", .def = "1000", .doc = "VTEAM R_OFF"},
    {.path = "hardware.device.dynamic.vteam_d_m", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.dynamic.vteam_d_m), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "m", .def = "3e-09", .doc = "VTEAM x_off − x_on"},
    {.path = "hardware.device.dynamic.vteam_iv", .kind = FIELD_ENUM,
     .offset = OFF(hardware.device.dynamic.vteam_iv), .choices = vteam_iv_kinds,
     .from_module = true, .unit = "-", .def = "linear",
     .doc = "VTEAM I–V at state x: R = R_ON + (R_OFF − R_ON)·x, or R = R_ON·exp(λx) with "
            "λ = ln(R_OFF/R_ON)"},
    {.path = "hardware.device.dynamic.d2d_sigma_r", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.dynamic.d2d_sigma_r), .bounds = LO, .min = 0,
     .from_module = true, .unit = "relative", .def = "0",
     .doc = "device-to-device σ of R_ON and R_OFF (lognormal; pku: of the read resistance at "
            "every gap, through I0)"},
    {.path = "hardware.device.dynamic.ode_rel_tol", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.dynamic.ode_rel_tol), .bounds = LO | HI | LO_OPEN | HI_OPEN,
     .min = 0, .max = 1, .from_module = true, .unit = "-", .def = "1e-06",
     .doc = "relative tolerance of the ODE integration (GSL)"},

    {.path = "hardware.device.pku.i0_a", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.pku.i0_a), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "A", .def = "0.001",
     .doc = "pku: I0 of the current I = I0·exp(−g/g0)·sinh(V/V0)"},
    {.path = "hardware.device.pku.g0_m", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.pku.g0_m), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "m", .def = "2.5e-10",
     .doc = "pku: g0, the gap scale of the current"},
    {.path = "hardware.device.pku.v0_v", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.pku.v0_v), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "V", .def = "0.25",
     .doc = "pku: V0, the voltage scale of the current (the crossbar's sinh I–V has b = 1/V0)"},
    {.path = "hardware.device.pku.gap_min_m", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.pku.gap_min_m), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "m", .def = "2e-10",
     .doc = "pku: smallest filament gap (ON)"},
    {.path = "hardware.device.pku.gap_max_m", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.pku.gap_max_m), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "m", .def = "1.7e-09",
     .doc = "pku: largest filament gap (OFF)"},
    {.path = "hardware.device.pku.nu0_m_per_s", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.pku.nu0_m_per_s), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "m/s", .def = "10",
     .doc = "pku: ν0 of the gap velocity dg/dt = −ν0·exp(−q·E_a/(k·T))·sinh(γ·a0/t_ox·q·V/(k·T))"},
    {.path = "hardware.device.pku.ea_ev", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.pku.ea_ev), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "eV", .def = "0.6",
     .doc = "pku: activation energy E_a of the gap velocity"},
    {.path = "hardware.device.pku.a0_m", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.pku.a0_m), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "m", .def = "2.5e-10",
     .doc = "pku: atomic hopping distance a0"},
    {.path = "hardware.device.pku.t_ox_m", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.pku.t_ox_m), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "m", .def = "1.2e-08",
     .doc = "pku: oxide thickness t_ox"},
    {.path = "hardware.device.pku.gamma0", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.pku.gamma0), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "-", .def = "16",
     .doc = "pku: field enhancement γ0 of γ = γ0 − β·(g/1 nm)³"},
    {.path = "hardware.device.pku.beta", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.pku.beta), .bounds = LO, .min = 0,
     .from_module = true, .unit = "-", .def = "0.8",
     .doc = "pku: β of γ = γ0 − β·(g/1 nm)³"},
    {.path = "hardware.device.pku.f_min_v_per_m", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.pku.f_min_v_per_m), .bounds = LO, .min = 0,
     .from_module = true, .unit = "V/m", .def = "1400000000",
     .doc = "pku: the gap moves only where the field γ·V/t_ox reaches F_min in magnitude (0 = "
            "no threshold)"},
    {.path = "hardware.device.pku.r_th_k_per_w", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.pku.r_th_k_per_w), .bounds = LO, .min = 0,
     .from_module = true, .unit = "K/W", .def = "2100",
     .doc = "pku: thermal resistance R_th: the filament's local temperature is temperature_k "
            "plus R_th times the dissipated power V·I (0 = no self-heating)"},
    {.path = "hardware.device.pku.delta_g0_m", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.pku.delta_g0_m), .bounds = LO, .min = 0,
     .from_module = true, .unit = "m", .def = "0",
     .doc = "pku: cycle-to-cycle gap variation per switching pulse, σ = δg0·√pulses/(1 + "
            "exp((T_crit − T)/T_smth)) (0 = none; the stanford-pku preset: 2e-11)"},
    {.path = "hardware.device.pku.t_crit_k", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.pku.t_crit_k), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "K", .def = "450",
     .doc = "pku: T_crit of the gap variation"},
    {.path = "hardware.device.pku.t_smth_k", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.pku.t_smth_k), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "K", .def = "500",
     .doc = "pku: T_smth of the gap variation"},
    {.path = "hardware.device.pku.d2d_sigma_nu0", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.pku.d2d_sigma_nu0), .bounds = LO, .min = 0,
     .from_module = true, .unit = "relative", .def = "0",
     .doc = "pku: device-to-device σ of ν0 (lognormal, mean-preserving): the spread of switching "
            "speed"},

    {.path = "hardware.device.measured.path", .kind = FIELD_STRING,
     .offset = OFF(hardware.device.measured.path), .max_count = MX_DEVICE_PATH_BYTES,
     .from_module = true, .unit = "-", .def = "",
     .doc = "CSV or HDF5 file of a measured conductance-vs-pulse curve (model measured); "
            "relative to the config file's folder"},
    {.path = "hardware.device.measured.spread_scale", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.device.measured.spread_scale), .bounds = LO, .min = 0,
     .from_module = true, .unit = "-", .def = "1", .doc = "multiplies the measured spread"},

    {.path = "hardware.crossbar.tile_rows", .kind = FIELD_SIZE,
     .offset = OFF(hardware.crossbar.tile_rows), .bounds = LO | HI, .min = 1, .max = 65536,
     .from_module = true, .unit = "cells", .def = "128", .doc = "rows (inputs) per tile"},
    {.path = "hardware.crossbar.tile_cols", .kind = FIELD_SIZE,
     .offset = OFF(hardware.crossbar.tile_cols), .bounds = LO | HI, .min = 1, .max = 65536,
     .from_module = true, .unit = "outputs", .def = "128",
     .doc = "outputs per tile (2 physical columns each when differential, 1 when offset plus "
            "one reference column per tile, 2·slices when bit-sliced)"},
    {.path = "hardware.crossbar.read_voltage_v", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.crossbar.read_voltage_v), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "V", .def = "0.2",
     .doc = "read voltage: spike amplitude, DAC full-scale output"},
    {.path = "hardware.crossbar.input", .kind = FIELD_ENUM, .offset = OFF(hardware.crossbar.input),
     .choices = input_modes, .from_module = true, .unit = "-", .def = "spikes",
     .doc = "row drive: binary spikes at the read voltage, a DAC amplitude, bit-serial passes "
            "(one read per magnitude bit, shift-added) or PWM (pulse width proportional to "
            "the input magnitude)"},
    {.path = "hardware.crossbar.dac_bits", .kind = FIELD_INT,
     .offset = OFF(hardware.crossbar.dac_bits), .bounds = LO | HI, .min = 0, .max = 16,
     .from_module = true, .unit = "bits", .def = "8",
     .doc = "input resolution including sign (dac levels; bit-serial passes max(bits − 1, 1); PWM "
            "steps = 2^(bits−1) − 1); 0 = exact voltages (dac only)"},
    {.path = "hardware.crossbar.input_full_scale", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.crossbar.input_full_scale), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "input units", .def = "1",
     .doc = "input magnitude mapped to the read voltage (dac, bit-serial, pwm)"},
    {.path = "hardware.crossbar.noise", .kind = FIELD_ENUM, .offset = OFF(hardware.crossbar.noise),
     .choices = noise_modes, .from_module = true, .unit = "-", .def = "output-referred",
     .doc = "read noise summed exactly in distribution per column, or drawn per cell (reference)"},
    {.path = "hardware.crossbar.mapping", .kind = FIELD_ENUM,
     .offset = OFF(hardware.crossbar.mapping), .choices = mapping_kinds, .from_module = true,
     .unit = "-", .def = "differential",
     .doc = "weights as differential pairs G+ − G−, one cell about g_mid with a reference "
            "column per tile (offset), or bit-sliced pairs shift-added after the ADC"},
    {.path = "hardware.crossbar.slices", .kind = FIELD_INT,
     .offset = OFF(hardware.crossbar.slices), .bounds = LO | HI, .min = 1, .max = 32,
     .from_module = true, .unit = "cells", .def = "4",
     .doc = "bit-sliced: slices (cell pairs) per weight; slices × slice_bits <= 32"},
    {.path = "hardware.crossbar.slice_bits", .kind = FIELD_INT,
     .offset = OFF(hardware.crossbar.slice_bits), .bounds = LO | HI, .min = 1, .max = 16,
     .from_module = true, .unit = "bits", .def = "2", .doc = "bit-sliced: bits per slice"},
    {.path = "hardware.crossbar.offset_subtract", .kind = FIELD_ENUM,
     .offset = OFF(hardware.crossbar.offset_subtract), .choices = offset_subtracts,
     .from_module = true, .unit = "-", .def = "analog",
     .doc = "offset: reference current subtracted before the ADC, or digitally after its own "
            "conversion"},
    {.path = "hardware.crossbar.half_select", .kind = FIELD_ENUM,
     .offset = OFF(hardware.crossbar.half_select), .choices = half_selects, .from_module = true,
     .unit = "-", .def = "off",
     .doc = "programming disturb of a passive array: off, or the V/2 scheme's V_w/2 pulses "
            "through the device's pulse response (binary, linear-ion-drift, vteam)"},
    {.path = "hardware.crossbar.write_pulses", .kind = FIELD_INT,
     .offset = OFF(hardware.crossbar.write_pulses), .bounds = LO | HI, .min = 1,
     .max = 1048576, .from_module = true, .unit = "pulses", .def = "1",
     .doc = "half-select: nominal-width pulses in one cell write (each half-selects the "
            "cell's tile row and column)"},
    {.path = "hardware.crossbar.r_wire_ohm", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.crossbar.r_wire_ohm), .bounds = LO, .min = 0, .from_module = true,
     .unit = "ohm", .def = "0",
     .doc = "wire resistance per segment common to rows and columns, added to r_row_ohm and "
            "r_col_ohm (one knob to sweep)"},
    {.path = "hardware.crossbar.r_row_ohm", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.crossbar.r_row_ohm), .bounds = LO, .min = 0, .from_module = true,
     .unit = "ohm", .def = "0",
     .doc = "row wire resistance per segment between adjacent cells; any resistance > 0 "
            "makes every tile a circuit solved by irdrop"},
    {.path = "hardware.crossbar.r_col_ohm", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.crossbar.r_col_ohm), .bounds = LO, .min = 0, .from_module = true,
     .unit = "ohm", .def = "0", .doc = "column wire resistance per segment"},
    {.path = "hardware.crossbar.r_src_ohm", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.crossbar.r_src_ohm), .bounds = LO, .min = 0, .from_module = true,
     .unit = "ohm", .def = "0", .doc = "row driver output resistance"},
    {.path = "hardware.crossbar.r_sense_ohm", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.crossbar.r_sense_ohm), .bounds = LO, .min = 0, .from_module = true,
     .unit = "ohm", .def = "0", .doc = "column sense (virtual ground) input resistance"},
    {.path = "hardware.crossbar.r_access_ohm", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.crossbar.r_access_ohm), .bounds = LO, .min = 0,
     .from_module = true, .unit = "ohm", .def = "0",
     .doc = "1T1R access transistor resistance in series with every cell (0 = passive)"},
    {.path = "hardware.crossbar.irdrop", .kind = FIELD_ENUM,
     .offset = OFF(hardware.crossbar.irdrop), .choices = irdrop_modes, .from_module = true,
     .unit = "-", .def = "exact",
     .doc = "how a tile with resistances becomes effective conductances: exact (CHOLMOD "
            "nodal solve), first-order, line-sweeps or ideal (access resistor only); "
            "errors in docs/crossbar.md"},
    {.path = "hardware.crossbar.irdrop_sweeps", .kind = FIELD_INT,
     .offset = OFF(hardware.crossbar.irdrop_sweeps), .bounds = LO | HI, .min = 1, .max = 1000,
     .from_module = true, .unit = "sweeps", .def = "2",
     .doc = "line-sweeps: alternating row-line / column-line solves"},

    {.path = "hardware.programming.mode", .kind = FIELD_ENUM,
     .offset = OFF(hardware.crossbar.programming), .choices = programming_modes,
     .from_module = true, .unit = "-", .def = "open-loop",
     .doc = "how cells are programmed: one open-loop write through the device model, or that "
            "write then closed-loop write-verify through its pulse response (pulse-level "
            "models only; not with half_select v-half); cost in the /summary program_* "
            "columns (docs/calibration.md)"},
    {.path = "hardware.programming.tolerance", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.crossbar.write_verify.tolerance),
     .bounds = LO | HI | LO_OPEN | HI_OPEN, .min = 0, .max = 1, .from_module = true,
     .unit = "fraction of window", .def = "0.01",
     .doc = "write-verify: a verify read within tolerance × (g_max − g_min) of the target "
            "retires the cell"},
    {.path = "hardware.programming.max_iterations", .kind = FIELD_INT,
     .offset = OFF(hardware.crossbar.write_verify.max_iterations), .bounds = LO | HI, .min = 1,
     .max = MX_WV_MAX_ITERATIONS, .from_module = true, .unit = "trains", .def = "20",
     .doc = "write-verify: pulse trains per cell at most (each followed by a verify read)"},
    {.path = "hardware.programming.schedule", .kind = FIELD_ENUM,
     .offset = OFF(hardware.crossbar.write_verify.schedule), .choices = wv_schedules,
     .from_module = true, .unit = "-", .def = "fixed",
     .doc = "write-verify pulse shape: nominal pulses (fixed), or ISPP ramps of the amplitude "
            "(0.8 → 1.5 × nominal in 0.05 steps) or width (0.5 → 10 × nominal in 0.25 steps), "
            "restarted when the polarity flips"},
    {.path = "hardware.programming.gain", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.crossbar.write_verify.gain), .bounds = LO | HI | LO_OPEN,
     .min = 0, .max = 1, .from_module = true, .unit = "-", .def = "0.7",
     .doc = "write-verify: pulses per train = round(gain × the error / the cell's step "
            "estimate); under 1 aims short of the target against overshoot"},
    {.path = "hardware.programming.verify_energy_j", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.crossbar.write_verify.verify_energy_j), .bounds = LO, .min = 0,
     .from_module = true, .unit = "J", .def = "0",
     .doc = "write-verify: periphery energy of one verify read (sense amplifier or ADC "
            "conversion), added to the cell's read energy"},
    {.path = "hardware.programming.reprogram_every_s", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.crossbar.reprogram_every_s), .bounds = LO, .min = 0,
     .from_module = true, .unit = "s", .def = "0",
     .doc = "scheduled reprogramming: the chip is reprogrammed every τ_p, so at "
            "hardware.device.t_inference_s = t its cells are t − τ_p·floor(t/τ_p) old (0 right "
            "at a multiple); 0 = never; cost in the /summary schedule_* columns "
            "(docs/calibration.md)"},

    {.path = "hardware.drift_compensation.mode", .kind = FIELD_ENUM,
     .offset = OFF(hardware.crossbar.drift.mode), .choices = drift_modes, .from_module = true,
     .unit = "-", .def = "none",
     .doc = "drift compensation at read time: calibration vectors read right after "
            "programming and again after the ADC calibration; every output × Σ|y(t0)|/Σ|y(t)| "
            "(global, Joshi et al. 2020) or that ratio per column (per-column), digitally after "
            "the ADC; cost in the /summary drift_* columns (docs/calibration.md)"},
    {.path = "hardware.drift_compensation.vectors", .kind = FIELD_INT,
     .offset = OFF(hardware.crossbar.drift.vectors), .bounds = LO | HI, .min = 1, .max = 4096,
     .from_module = true, .unit = "vectors", .def = "16",
     .doc = "calibration input vectors read per measurement (each a forward call of every "
            "layer, at t0 and at t)"},
    {.path = "hardware.drift_compensation.density", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.crossbar.drift.density), .bounds = LO | HI | LO_OPEN, .min = 0,
     .max = 1, .from_module = true, .unit = "fraction", .def = "0.1",
     .doc = "fraction of a calibration vector's rows driven at full scale (binary vectors; "
            "near the network's input density keeps the calibration currents inside the ADC "
            "range)"},
    {.path = "hardware.drift_compensation.recalibrate_every_s", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.crossbar.drift.recalibrate_every_s), .bounds = LO, .min = 0,
     .from_module = true, .unit = "s", .def = "0",
     .doc = "scheduled recalibration: the factors applied at cell age a were measured at the "
            "last multiple of τ_c, a_c = τ_c·floor(a/τ_c) (none before the first: no "
            "correction), so drift between a_c and a is uncompensated; 0 = measured at every "
            "evaluation; reads in drift_*, count in schedule_recalibrations"},
    {.path = "hardware.column_calibration.mode", .kind = FIELD_ENUM,
     .offset = OFF(hardware.crossbar.column_cal.mode), .choices = column_cal_modes,
     .from_module = true, .unit = "-", .def = "none",
     .doc = "per-column gain/offset calibration: reference vectors read after the ADC "
            "calibration (and drift compensation), each column's outputs fitted to the "
            "digital W·x by least squares, y = a·W·x + b, and corrected digitally to (y − b)/a; "
            "cost in the /summary colcal_* columns (docs/calibration.md)"},
    {.path = "hardware.column_calibration.vectors", .kind = FIELD_INT,
     .offset = OFF(hardware.crossbar.column_cal.vectors), .bounds = LO | HI, .min = 3,
     .max = 4096, .from_module = true, .unit = "vectors", .def = "32",
     .doc = "reference input vectors read per calibration (each a forward call of every layer)"},
    {.path = "hardware.column_calibration.density", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.crossbar.column_cal.density), .bounds = LO | HI | LO_OPEN,
     .min = 0, .max = 1, .from_module = true, .unit = "fraction", .def = "0.1",
     .doc = "fraction of a reference vector's rows driven at full scale (binary vectors)"},
    {.path = "hardware.fault_mapping.mode", .kind = FIELD_ENUM,
     .offset = OFF(hardware.crossbar.fault_map.mode), .choices = fault_map_modes,
     .from_module = true, .unit = "-", .def = "none",
     .doc = "fault-aware mapping: every cell is first tested (written to g_max and read, to "
            "g_min and read) to find the stuck cells, then the weights are written once in a "
            "layout that avoids them: partner (a stuck cell's healthy partner in its "
            "differential pair re-targeted to keep G+ - G-; differential and bit-sliced), "
            "permute (rows, then columns, assigned within their tiles by a minimum-error "
            "matching; not with wire resistances) or spare-columns (each column tile's "
            "outputs assigned to its columns plus spare_columns spares); not with half_select "
            "v-half; cost in the /summary fault_* columns (docs/calibration.md)"},
    {.path = "hardware.fault_mapping.spare_columns", .kind = FIELD_INT,
     .offset = OFF(hardware.crossbar.fault_map.spare_columns), .bounds = LO | HI, .min = 1,
     .max = 65536, .from_module = true, .unit = "outputs per column tile", .def = "4",
     .doc = "spare-columns: spare outputs per column tile (each with all of an output's "
            "cells: a pair when differential); they are tested and their cells counted in "
            "fault_spare_cells"},

    {.path = "hardware.adc.type", .kind = FIELD_ENUM, .offset = OFF(hardware.adc.kind),
     .choices = adc_kinds, .from_module = true, .unit = "-", .def = "uniform",
     .doc = "column ADC: uniform (mid-rise quantiser with clipping), lloyd-max (thresholds "
            "and levels fitted to the calibration currents), log (sign + log-spaced "
            "magnitude), sar (capacitor-DAC circuit with mismatch, offset and noise), "
            "sense-amp (1-bit comparator), or none (exact currents)"},
    {.path = "hardware.adc.bits", .kind = FIELD_INT, .offset = OFF(hardware.adc.bits),
     .bounds = LO | HI, .min = 1, .max = MX_ADC_MAX_BITS, .from_module = true, .unit = "bits",
     .def = "8",
     .doc = "ADC resolution (lloyd-max at most 10, signed log at least 2, sense-amp 1)"},
    {.path = "hardware.adc.polarity", .kind = FIELD_ENUM, .offset = OFF(hardware.adc.polarity),
     .choices = adc_polarities, .from_module = true, .unit = "-", .def = "signed",
     .doc = "signed: codes around 0 (differential columns); unsigned: [0, full scale] for "
            "unipolar currents (offset mapping with a digital reference), negatives clip to "
            "code 0 (not lloyd-max)"},
    {.path = "hardware.adc.range_mode", .kind = FIELD_ENUM,
     .offset = OFF(hardware.adc.range_mode), .choices = adc_range_modes, .from_module = true,
     .unit = "-", .def = "percentile",
     .doc = "how calibration sets the full scale from the profiled column currents: "
            "percentile (range_percentile of |I|), max (largest |I|), or mse (the range "
            "minimising quantisation + clipping MSE); lloyd-max fits its levels instead"},
    {.path = "hardware.adc.range_percentile", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.adc.range_percentile), .bounds = LO | HI | LO_OPEN, .min = 0,
     .max = 100, .from_module = true, .unit = "%", .def = "99.9",
     .doc = "range_mode percentile: full scale = this percentile of the column current "
            "magnitudes over the calibration images"},
    {.path = "hardware.adc.log_dynamic_range", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.adc.log_dynamic_range), .bounds = LO | LO_OPEN, .min = 1,
     .from_module = true, .unit = "-", .def = "1000",
     .doc = "log: full scale / lowest magnitude edge; the magnitude cells are geometric "
            "between them"},
    {.path = "hardware.adc.cap_mismatch_sigma", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.adc.cap_mismatch_sigma), .bounds = LO | HI, .min = 0, .max = 1,
     .from_module = true, .unit = "-", .def = "0",
     .doc = "sar: relative σ of one unit capacitor of the binary-weighted DAC (capacitor i "
            "has 2^i units), drawn per ADC instance"},
    {.path = "hardware.adc.offset_sigma_lsb", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.adc.offset_sigma_lsb), .bounds = LO, .min = 0, .from_module = true,
     .unit = "LSB", .def = "0",
     .doc = "sar, sense-amp: comparator offset σ, drawn per ADC instance"},
    {.path = "hardware.adc.noise_sigma_lsb", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.adc.noise_sigma_lsb), .bounds = LO, .min = 0, .from_module = true,
     .unit = "LSB", .def = "0",
     .doc = "sar, sense-amp: input-referred noise σ, drawn per conversion"},
    {.path = "hardware.adc.gain_sigma", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.adc.gain_sigma), .bounds = LO | HI, .min = 0, .max = 1,
     .from_module = true, .unit = "-", .def = "0",
     .doc = "any converting type: relative σ of a gain error drawn per ADC instance (each "
            "converts g·I, g = 1 + σ·ξ): the column gain spread that "
            "hardware.column_calibration corrects"},
    {.path = "hardware.adc.columns_per_adc", .kind = FIELD_INT,
     .offset = OFF(hardware.adc.columns_per_adc), .bounds = LO | HI, .min = 1,
     .max = MX_ADC_MAX_COLUMNS_PER_ADC, .from_module = true, .unit = "columns", .def = "1",
     .doc = "columns of a tile sharing one ADC (multiplexed): k conversions in series per "
            "read, ceil(tile_cols/k) ADCs per tile; values unchanged for ideal ADCs"},

    {.path = "hardware.readout.kind", .kind = FIELD_ENUM, .offset = OFF(hardware.readout.kind),
     .choices = readout_kinds, .from_module = true, .unit = "-", .def = "adc",
     .doc = "how a layer's column currents become spikes: the ADC then a digital neuron, or "
            "integrate (ADC-less: the current charges the membrane capacitor and a comparator "
            "fires; hardware.adc is not used)"},
    {.path = "hardware.readout.offset_sigma", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.readout.offset_sigma), .bounds = LO, .min = 0, .from_module = true,
     .unit = "threshold", .def = "0",
     .doc = "integrate: comparator offset σ, drawn once per neuron and hardware repeat"},
    {.path = "hardware.readout.noise_sigma", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.readout.noise_sigma), .bounds = LO, .min = 0, .from_module = true,
     .unit = "threshold", .def = "0",
     .doc = "integrate: comparator noise σ, drawn per neuron per time step"},

    {.path = "hardware.energy.read_time_s", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.energy.read_time_s), .bounds = LO | ZERO_OK | LO_OPEN, .min = 0,
     .from_module = true, .unit = "s", .def = "0",
     .doc = "t_read of one array read (cell energy V·I·t_read, latency); 0 = "
            "hardware.device.read_time_s"},
    {.path = "hardware.energy.dac_energy_j", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.energy.dac_energy_j), .bounds = LO, .min = 0, .from_module = true,
     .unit = "J", .def = "3.9e-15",
     .doc = "one 1-bit row drive (spike, bit-serial bit, PWM pulse); a b-bit DAC costs "
            "2^(b-1) of it (MNSIM 2.0 after ISAAC)"},
    {.path = "hardware.energy.adc_fom_j", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.energy.adc_fom_j), .bounds = LO, .min = 0, .from_module = true,
     .unit = "J/step", .def = "4.05e-14",
     .doc = "Walden figure of merit: a b-bit conversion costs FoM·2^b (Murmann survey, "
            "median of crossbar-relevant ADCs)"},
    {.path = "hardware.energy.adc_energy_j", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.energy.adc_energy_j), .bounds = LO, .min = 0, .from_module = true,
     .unit = "J", .def = "0",
     .doc = "fixed energy per conversion instead of FoM·2^b when > 0 (ISAAC's 8-bit ADC: "
            "1.5625e-12)"},
    {.path = "hardware.energy.adc_time_s", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.energy.adc_time_s), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "s", .def = "7.8125e-10",
     .doc = "one conversion (ISAAC: 1.28 GS/s); columns sharing an ADC convert in series"},
    {.path = "hardware.energy.sense_energy_j", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.energy.sense_energy_j), .bounds = LO, .min = 0, .from_module = true,
     .unit = "J", .def = "8.1e-14",
     .doc = "one comparator decision of the ADC-less readout (FoM·2^1)"},
    {.path = "hardware.energy.sense_time_s", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.energy.sense_time_s), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "s", .def = "9.765625e-11",
     .doc = "one comparator decision (one bit cycle of ISAAC's 8-bit SAR)"},
    {.path = "hardware.energy.neuron_energy_j", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.energy.neuron_energy_j), .bounds = LO, .min = 0,
     .from_module = true, .unit = "J", .def = "2e-13",
     .doc = "one digital neuron update per neuron per step: an int32 add and a compare "
            "(Horowitz 2014, 45 nm)"},
    {.path = "hardware.energy.leak_energy_j", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.energy.leak_energy_j), .bounds = LO, .min = 0, .from_module = true,
     .unit = "J", .def = "3.1e-12",
     .doc = "the leak of one digital LIF update: an int32 multiply (Horowitz 2014)"},
    {.path = "hardware.energy.spike_energy_j", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.energy.spike_energy_j), .bounds = LO, .min = 0, .from_module = true,
     .unit = "J", .def = "1e-13", .doc = "one spike: the reset subtraction, an int32 add"},
    {.path = "hardware.energy.activation_energy_j", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.energy.activation_energy_j), .bounds = LO, .min = 0,
     .from_module = true, .unit = "J", .def = "1e-13",
     .doc = "one activation of the ANN on the crossbar (model.run_as ann): a ReLU, or an "
            "argmax compare on the last layer, per output; an int32 compare (Horowitz 2014)"},
    {.path = "hardware.energy.shift_add_energy_j", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.energy.shift_add_energy_j), .bounds = LO, .min = 0,
     .from_module = true, .unit = "J", .def = "4.5e-14",
     .doc = "one digital shift-and-add of a digitised partial sum (PUMA's unit after ISAAC)"},
    {.path = "hardware.energy.adc_area_um2", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.energy.adc_area_um2), .bounds = LO, .min = 0, .from_module = true,
     .unit = "um^2", .def = "24000", .doc = "one ADC (Murmann survey median 0.024 mm^2)"},
    {.path = "hardware.energy.cell_area_um2", .kind = FIELD_DOUBLE,
     .offset = OFF(hardware.energy.cell_area_um2), .bounds = LO, .min = 0, .from_module = true,
     .unit = "um^2", .def = "0.00152587890625",
     .doc = "one cell (ISAAC/PUMA: 128x128 array of 25 um^2)"},

    {.path = "online.epochs", .kind = FIELD_SIZE, .offset = OFF(online.epochs), .bounds = LO,
     .min = 1, .unit = "epochs", .def = "125",
     .doc = "online-training epochs (NeuroSim: 125)"},
    {.path = "online.images_per_epoch", .kind = FIELD_SIZE,
     .offset = OFF(online.images_per_epoch), .bounds = LO, .min = 1, .unit = "examples",
     .def = "8000",
     .doc = "training examples per epoch, drawn at random with replacement from the training "
            "examples used (NeuroSim: 8000)"},
    {.path = "online.hidden", .kind = FIELD_SIZE, .offset = OFF(online.net.n_hidden),
     .bounds = LO | HI, .min = 1, .max = MX_ONLINE_MAX_HIDDEN, .from_module = true,
     .unit = "neurons", .def = "100", .doc = "hidden neurons of the two-layer perceptron"},
    {.path = "online.alpha1", .kind = FIELD_DOUBLE, .offset = OFF(online.net.alpha1),
     .bounds = LO | LO_OPEN, .min = 0, .from_module = true, .unit = "-", .def = "0.4",
     .doc = "SGD learning rate of layer 1, input to hidden (NeuroSim V3.0: 0.4)"},
    {.path = "online.alpha2", .kind = FIELD_DOUBLE, .offset = OFF(online.net.alpha2),
     .bounds = LO | LO_OPEN, .min = 0, .from_module = true, .unit = "-", .def = "0.2",
     .doc = "SGD learning rate of layer 2, hidden to output (NeuroSim V3.0: 0.2)"},
    {.path = "online.readout_gain", .kind = FIELD_DOUBLE, .offset = OFF(online.net.readout_gain),
     .bounds = LO | LO_OPEN, .min = 0, .from_module = true, .unit = "-", .def = "0.5",
     .doc = "g of the pre-activation g·W·x: 0.5 is NeuroSim's hardware read-out (column minus "
            "a mid-window reference column over the full column range), 1 its software form"},
    {.path = "online.adc_bits", .kind = FIELD_INT, .offset = OFF(online.net.adc_bits),
     .bounds = LO | HI, .min = 0, .max = MX_ADC_MAX_BITS, .from_module = true, .unit = "bits",
     .def = "8",
     .doc = "ADC of each pre-activation, full scale = readout_gain x fan-in (NeuroSim: 8-bit "
            "partial sums); 0 = exact"},
    {.path = "online.binary_hidden", .kind = FIELD_BOOL, .offset = OFF(online.net.binary_hidden),
     .from_module = true, .unit = "-", .def = "true",
     .doc = "the hidden layer drives layer 2 with 1 where its sigmoid output is at least 0.5, "
            "else 0 (NeuroSim's 1-bit read-out); false: with the sigmoid output"},
    {.path = "online.weights", .kind = FIELD_ENUM, .offset = OFF(online.net.weights),
     .choices = online_weights, .from_module = true, .unit = "-", .def = "device",
     .doc = "weights held by device cells and updated by pulses, or ideal float weights with "
            "the same algorithm (the software reference)"},
    {.path = "online.states", .kind = FIELD_INT, .offset = OFF(online.net.states), .bounds = LO,
     .min = 0, .from_module = true, .unit = "pulses", .def = "0",
     .doc = "P of the pulse-count rule n = round(Δw/2·P) for both polarities; 0 = the "
            "device's own (nonlinear: states_ltp/ltd; step: 1/dw_min; ...)"},
    {.path = "online.optimizer", .kind = FIELD_ENUM, .offset = OFF(online.net.optimizer),
     .choices = online_optimizers, .from_module = true, .unit = "-", .def = "sgd",
     .doc = "how the batch gradient becomes a weight change: sgd, momentum or adam "
            "(NeuroSim V3.0 Train.cpp has all three; docs/devices.md)"},
    {.path = "online.batch", .kind = FIELD_SIZE, .offset = OFF(online.net.batch),
     .bounds = LO | HI, .min = 1, .max = MX_ONLINE_MAX_BATCH, .from_module = true,
     .unit = "examples", .def = "1",
     .doc = "examples whose gradients are averaged into one update (one set of pulse trains)"},
    {.path = "online.momentum", .kind = FIELD_DOUBLE, .offset = OFF(online.net.momentum),
     .bounds = LO | HI | HI_OPEN, .min = 0, .max = 1, .from_module = true, .unit = "-",
     .def = "0.9", .doc = "decay γ of the momentum optimizer"},
    {.path = "online.beta1", .kind = FIELD_DOUBLE, .offset = OFF(online.net.beta1),
     .bounds = LO | HI | HI_OPEN, .min = 0, .max = 1, .from_module = true, .unit = "-",
     .def = "0.9", .doc = "Adam's first-moment decay β1"},
    {.path = "online.beta2", .kind = FIELD_DOUBLE, .offset = OFF(online.net.beta2),
     .bounds = LO | HI | HI_OPEN, .min = 0, .max = 1, .from_module = true, .unit = "-",
     .def = "0.999", .doc = "Adam's second-moment decay β2"},
    {.path = "online.crop", .kind = FIELD_SIZE, .offset = OFF(online.crop),
     .bounds = LO | ZERO_OK, .min = 1, .unit = "pixels", .def = "20",
     .doc = "side of the centre crop of each image (NeuroSim: 20 of MNIST's 28); 0 = the "
            "whole image"},
    {.path = "online.binarise_threshold", .kind = FIELD_DOUBLE,
     .offset = OFF(online.binarise_threshold), .bounds = LO | HI, .min = 0, .max = 1,
     .unit = "intensity", .def = "0.5",
     .doc = "inputs are 1 where the pixel (in [0, 1]) is at least this, else 0 (NeuroSim: "
            "0.5); 0 = keep grey levels"},
    {.path = "online.baseline", .whole_run = true, .kind = FIELD_BOOL,
     .offset = OFF(online.baseline), .unit = "-", .def = "true",
     .doc = "also train the digital reference (online.weights = digital) once per repeat, "
            "reported as the baseline"},

    /* ---- learning methods: one block of fields each ---- */
    /* model.conv_* (snn/cnn.h): the CNN conversion (experiments/cnn_run.c) */
    {.path = "model.conv_channels", .kind = FIELD_SIZES, .offset = OFF(cnn.conv_channels),
     .count_offset = OFF(cnn.n_conv), .min_count = 0, .max_count = MX_CNN_MAX_CONV,
     .bounds = LO, .min = 1, .from_module = true, .unit = "channels", .def = "[]",
     .doc = "output channels of each conv block (conv k x k + ReLU + 2x2 pool); empty = the "
            "MLP; with blocks, model.hidden lists the dense hidden layers after them (may be "
            "empty) and the conversion runs the spiking CNN (SpikingJelly ann2snn: [32, 32, 32])"},
    {.path = "model.conv_kernel", .kind = FIELD_SIZE, .offset = OFF(cnn.conv_kernel),
     .bounds = LO, .min = 1, .from_module = true, .unit = "pixels", .def = "3",
     .doc = "side k of every conv kernel (stride 1)"},
    {.path = "model.conv_padding", .kind = FIELD_SIZE, .offset = OFF(cnn.conv_padding),
     .bounds = LO, .min = 0, .from_module = true, .unit = "pixels", .def = "0",
     .doc = "zeros added on each side of every conv input; less than model.conv_kernel"},
    {.path = "model.pool", .kind = FIELD_ENUM, .offset = OFF(cnn.pool), .choices = pool_kinds,
     .from_module = true, .unit = "-", .def = "avg",
     .doc = "2x2 pooling after each conv: avg (folded into the next layer's weights in the "
            "SNN) or max (trains, but the conversion refuses it)"},
    {.path = "surrogate.hidden", .kind = FIELD_SIZES, .offset = OFF(surrogate.hidden),
     .count_offset = OFF(surrogate.n_hidden), .min_count = 1,
     .max_count = MX_SURROGATE_MAX_HIDDEN, .bounds = LO, .min = 1, .from_module = true,
     .unit = "neurons", .def = "[1000]",
     .doc = "hidden LIF layer widths (inputs and classes come from the dataset; snnTorch "
            "tutorial 5: [1000])"},
    {.path = "surrogate.timesteps", .kind = FIELD_SIZE, .offset = OFF(surrogate.timesteps),
     .bounds = LO | HI, .min = 1, .max = 100000, .from_module = true, .unit = "steps",
     .def = "25", .doc = "simulation steps per example (events: the dataset's frames instead)"},
    {.path = "surrogate.beta", .kind = FIELD_DOUBLE, .offset = OFF(surrogate.beta),
     .bounds = LO | HI, .min = 0, .max = 1, .from_module = true, .unit = "-", .def = "0.95",
     .doc = "membrane decay per step, exp(-dt/tau_mem)"},
    {.path = "surrogate.alpha", .kind = FIELD_DOUBLE, .offset = OFF(surrogate.alpha),
     .bounds = LO | HI | HI_OPEN, .min = 0, .max = 1, .from_module = true, .unit = "-",
     .def = "0", .doc = "synaptic current decay per step, exp(-dt/tau_syn); 0 = no synaptic "
                        "current"},
    {.path = "surrogate.reset", .kind = FIELD_ENUM, .offset = OFF(surrogate.reset),
     .choices = surrogate_resets, .from_module = true, .unit = "-", .def = "subtract",
     .doc = "after a spike: subtract the threshold, or set the membrane to zero"},
    {.path = "surrogate.function", .kind = FIELD_ENUM, .offset = OFF(surrogate.surrogate),
     .choices = surrogate_fns, .from_module = true, .unit = "-", .def = "arctan",
     .doc = "surrogate derivative of the spike: fast-sigmoid 1/(1+k|u|)^2 or arctan "
            "(a/2)/(1+(pi/2 a u)^2)"},
    {.path = "surrogate.slope", .kind = FIELD_DOUBLE, .offset = OFF(surrogate.slope),
     .bounds = LO, .min = 0, .from_module = true, .unit = "1/threshold", .def = "0",
     .doc = "k (fast-sigmoid) or a (arctan); 0 = snnTorch's default (25, 2)"},
    {.path = "surrogate.encoding", .kind = FIELD_ENUM, .offset = OFF(surrogate.encoding),
     .choices = surrogate_encodings, .from_module = true, .unit = "-", .def = "current",
     .doc = "input: constant current, Bernoulli rate, latency (one spike per pixel), or the "
            "dataset's event frames"},
    {.path = "surrogate.latency_tau_steps", .kind = FIELD_DOUBLE,
     .offset = OFF(surrogate.latency_tau_steps), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "steps", .def = "20",
     .doc = "latency: tau_eff of t = tau_eff ln(x/(x - theta)) (SpyTorch: 20 ms / 1 ms)"},
    {.path = "surrogate.latency_threshold", .kind = FIELD_DOUBLE,
     .offset = OFF(surrogate.latency_threshold), .bounds = LO | HI | HI_OPEN, .min = 0,
     .max = 1, .from_module = true, .unit = "intensity", .def = "0.2",
     .doc = "latency: pixels at or below this never fire (SpyTorch: 0.2)"},
    {.path = "surrogate.output", .kind = FIELD_ENUM, .offset = OFF(surrogate.output),
     .choices = surrogate_outputs, .from_module = true, .unit = "-", .def = "membrane-sum",
     .doc = "loss: CE of the spiking output's membrane summed over steps (snnTorch), or CE "
            "of the max over time of a non-spiking output (SpyTorch)"},
    {.path = "surrogate.init_gain", .kind = FIELD_DOUBLE, .offset = OFF(surrogate.init_gain),
     .bounds = LO | LO_OPEN, .min = 0, .from_module = true, .unit = "-", .def = "1",
     .doc = "initial weights U(-g/sqrt(fan_in), g/sqrt(fan_in)) (PyTorch nn.Linear: 1)"},
    {.path = "surrogate.epochs", .kind = FIELD_SIZE, .offset = OFF(surrogate.epochs),
     .bounds = LO, .min = 1, .from_module = true, .unit = "epochs", .def = "1",
     .doc = "passes over the training set"},
    {.path = "surrogate.batch_size", .kind = FIELD_SIZE, .offset = OFF(surrogate.batch_size),
     .bounds = LO | HI, .min = 1, .max = 65536, .from_module = true, .unit = "examples",
     .def = "128", .doc = "examples per minibatch"},
    {.path = "surrogate.learning_rate", .kind = FIELD_DOUBLE,
     .offset = OFF(surrogate.learning_rate), .bounds = LO | LO_OPEN, .min = 0,
     .from_module = true, .unit = "-", .def = "0.0005", .doc = "Adam step size"},
    {.path = "surrogate.adam_beta1", .kind = FIELD_DOUBLE, .offset = OFF(surrogate.adam_beta1),
     .bounds = LO | HI | HI_OPEN, .min = 0, .max = 1, .from_module = true, .unit = "-",
     .def = "0.9", .doc = "Adam's first-moment decay"},
    {.path = "surrogate.adam_beta2", .kind = FIELD_DOUBLE, .offset = OFF(surrogate.adam_beta2),
     .bounds = LO | HI | HI_OPEN, .min = 0, .max = 1, .from_module = true, .unit = "-",
     .def = "0.999", .doc = "Adam's second-moment decay"},
    {.path = "surrogate.training", .kind = FIELD_ENUM, .offset = OFF(surrogate.training),
     .choices = surrogate_trainings, .from_module = true, .unit = "-", .def = "plain",
     .doc = "plain; weight-noise (device-perturbed weights every minibatch); hardware-aware "
            "(forward through the emulated crossbar, float gradients)"},
    {.path = "surrogate.noise_sigma", .kind = FIELD_DOUBLE, .offset = OFF(surrogate.noise_sigma),
     .from_module = true, .unit = "relative", .def = "-1",
     .doc = "device d2d sigma while training (weight-noise, hardware-aware); < 0 = the "
            "evaluated device's"},
    {.path = "surrogate.conv_channels", .kind = FIELD_SIZES,
     .offset = OFF(surrogate.conv_channels), .count_offset = OFF(surrogate.n_conv),
     .min_count = 0, .max_count = MX_SURROGATE_MAX_CONV, .bounds = LO | HI, .min = 1,
     .max = 65536, .from_module = true, .unit = "channels", .def = "[]",
     .doc = "output channels of each conv block (conv k x k, stride 1 + LIF + 2x2 pooling of "
            "the spikes) before surrogate.hidden; empty = the dense network"},
    {.path = "surrogate.conv_kernel", .kind = FIELD_SIZE, .offset = OFF(surrogate.conv_kernel),
     .bounds = LO | HI, .min = 1, .max = 64, .from_module = true, .unit = "pixels", .def = "3",
     .doc = "side k of every conv kernel"},
    {.path = "surrogate.conv_padding", .kind = FIELD_SIZE,
     .offset = OFF(surrogate.conv_padding), .bounds = LO, .min = 0, .from_module = true,
     .unit = "pixels", .def = "1",
     .doc = "zeros added on each side of every conv input; less than surrogate.conv_kernel"},
    {.path = "surrogate.pool", .kind = FIELD_ENUM, .offset = OFF(surrogate.pool),
     .choices = pool_kinds, .from_module = true, .unit = "-", .def = "avg",
     .doc = "2x2 pooling of each block's spike maps: avg (the mean, a fractional input "
            "current of the next layer) or max (the OR of the spikes)"},
    /* stdp.* (snn/stdp.h): Diehl & Cook 2015 defaults (paper-tables.md §1.2) */
    {.path = "stdp.n_exc", .kind = FIELD_SIZE, .offset = OFF(stdp.n_exc), .bounds = LO | HI,
     .min = 1, .max = 100000, .from_module = true, .unit = "neurons", .def = "100",
     .doc = "excitatory neurons (and as many inhibitory); Diehl & Cook 2015: 100 to 6400"},
    {.path = "stdp.synapse", .kind = FIELD_ENUM, .offset = OFF(stdp.synapse),
     .choices = stdp_synapses, .from_module = true, .unit = "-", .def = "float",
     .doc = "float weights; device (each weight a hardware.device cell, STDP updates as pulse "
            "trains); stochastic-binary (binary cells, hardware.device.type binary, switched "
            "with timing-dependent probabilities)"},
    {.path = "stdp.epochs", .kind = FIELD_SIZE, .offset = OFF(stdp.epochs), .bounds = LO,
     .min = 1, .from_module = true, .unit = "epochs", .def = "1",
     .doc = "passes over the training examples"},
    {.path = "stdp.train_examples", .kind = FIELD_SIZE, .offset = OFF(stdp.train_examples),
     .from_module = true, .unit = "examples", .def = "0",
     .doc = "training examples per pass (the first ones); 0 = all used"},
    {.path = "stdp.label_examples", .kind = FIELD_SIZE, .offset = OFF(stdp.label_examples),
     .from_module = true, .unit = "examples", .def = "10000",
     .doc = "training examples whose frozen responses label the neurons; 0 = all used"},
    {.path = "stdp.readout", .kind = FIELD_ENUM, .offset = OFF(stdp.readout),
     .choices = stdp_readouts, .from_module = true, .unit = "-", .def = "mean",
     .doc = "class from the spike counts: mean (Diehl & Cook: the label group with the highest "
            "mean count) or proportion (BindsNET's proportion weighting, Hazan et al. 2018: "
            "counts weighted by each neuron's share of its class in the labelling responses)"},
    {.path = "stdp.dt_s", .kind = FIELD_DOUBLE, .offset = OFF(stdp.dt_s),
     .bounds = LO | LO_OPEN, .min = 0, .from_module = true, .unit = "s", .def = "0.0005",
     .doc = "time step"},
    {.path = "stdp.present_s", .kind = FIELD_DOUBLE, .offset = OFF(stdp.present_s),
     .bounds = LO | LO_OPEN, .min = 0, .from_module = true, .unit = "s", .def = "0.35",
     .doc = "stimulus duration per example"},
    {.path = "stdp.rest_s", .kind = FIELD_DOUBLE, .offset = OFF(stdp.rest_s), .bounds = LO,
     .min = 0, .from_module = true, .unit = "s", .def = "0.15",
     .doc = "rest between stimuli (done in closed form)"},
    {.path = "stdp.max_rate_hz", .kind = FIELD_DOUBLE, .offset = OFF(stdp.max_rate_hz),
     .bounds = LO | LO_OPEN, .min = 0, .from_module = true, .unit = "Hz", .def = "63.75",
     .doc = "Poisson rate of a pixel of intensity 1 (255/8 x intensity 2)"},
    {.path = "stdp.retry_rate_hz", .kind = FIELD_DOUBLE, .offset = OFF(stdp.retry_rate_hz),
     .bounds = LO, .min = 0, .from_module = true, .unit = "Hz", .def = "31.875",
     .doc = "added to the rate for each retry of an example"},
    {.path = "stdp.min_spikes", .kind = FIELD_SIZE, .offset = OFF(stdp.min_spikes),
     .from_module = true, .unit = "spikes", .def = "5",
     .doc = "fewer excitatory spikes than this: present the example again at a higher rate"},
    {.path = "stdp.max_retries", .kind = FIELD_SIZE, .offset = OFF(stdp.max_retries),
     .from_module = true, .unit = "-", .def = "20",
     .doc = "retries per example before its response is taken as it is"},
    {.path = "stdp.exc_spike_gap_s", .kind = FIELD_DOUBLE, .offset = OFF(stdp.exc_spike_gap_s),
     .bounds = LO, .min = 0, .from_module = true, .unit = "s", .def = "0",
     .doc = "shortest time between two spikes of one excitatory neuron; 0 = the 5 ms "
            "refractory period only; 0.05 = the authors' code (threshold timer at 0.1 s/s "
            "past 5 ms), which measured 2 points lower here (docs/snn.md)"},
    {.path = "stdp.weight_sum", .kind = FIELD_DOUBLE, .offset = OFF(stdp.weight_sum),
     .bounds = LO | LO_OPEN, .min = 0, .from_module = true, .unit = "-", .def = "78",
     .doc = "each neuron's incoming weights are rescaled to sum to this before every "
            "training example"},
    {.path = "stdp.w_max", .kind = FIELD_DOUBLE, .offset = OFF(stdp.w_max),
     .bounds = LO | LO_OPEN, .min = 0, .from_module = true, .unit = "-", .def = "1",
     .doc = "largest weight (the ON state of a binary synapse)"},
    {.path = "stdp.nu_pre", .kind = FIELD_DOUBLE, .offset = OFF(stdp.nu_pre), .bounds = LO,
     .min = 0, .from_module = true, .unit = "-", .def = "0.0001",
     .doc = "depression on a pre spike: w -= nu_pre x_post1"},
    {.path = "stdp.nu_post", .kind = FIELD_DOUBLE, .offset = OFF(stdp.nu_post), .bounds = LO,
     .min = 0, .from_module = true, .unit = "-", .def = "0.01",
     .doc = "potentiation on a post spike: w += nu_post x_pre x_post2"},
    {.path = "stdp.nu_decay_final", .kind = FIELD_DOUBLE, .offset = OFF(stdp.nu_decay_final),
     .bounds = LO | HI | LO_OPEN, .min = 0, .max = 1, .from_module = true, .unit = "-",
     .def = "1",
     .doc = "learning-rate decay: nu_pre, nu_post scaled by nu_decay_final^(examples done / "
            "all), 1 = constant (the authors'); float and device synapses"},
    {.path = "stdp.tau_pre_s", .kind = FIELD_DOUBLE, .offset = OFF(stdp.tau_pre_s),
     .bounds = LO | LO_OPEN, .min = 0, .from_module = true, .unit = "s", .def = "0.02",
     .doc = "presynaptic trace time constant"},
    {.path = "stdp.tau_post1_s", .kind = FIELD_DOUBLE, .offset = OFF(stdp.tau_post1_s),
     .bounds = LO | LO_OPEN, .min = 0, .from_module = true, .unit = "s", .def = "0.02",
     .doc = "postsynaptic trace of the depression"},
    {.path = "stdp.tau_post2_s", .kind = FIELD_DOUBLE, .offset = OFF(stdp.tau_post2_s),
     .bounds = LO | LO_OPEN, .min = 0, .from_module = true, .unit = "s", .def = "0.04",
     .doc = "postsynaptic trace of the potentiation"},
    {.path = "stdp.theta_plus_v", .kind = FIELD_DOUBLE, .offset = OFF(stdp.theta_plus_v),
     .bounds = LO, .min = 0, .from_module = true, .unit = "V", .def = "5e-05",
     .doc = "adaptive threshold increment per excitatory spike (training only)"},
    {.path = "stdp.tau_theta_s", .kind = FIELD_DOUBLE, .offset = OFF(stdp.tau_theta_s),
     .bounds = LO | LO_OPEN, .min = 0, .from_module = true, .unit = "s", .def = "10000",
     .doc = "adaptive threshold decay time constant"},
    {.path = "stdp.w_exc_inh", .kind = FIELD_DOUBLE, .offset = OFF(stdp.w_exc_inh),
     .bounds = LO, .min = 0, .from_module = true, .unit = "-", .def = "10.4",
     .doc = "excitatory to inhibitory weight, one-to-one"},
    {.path = "stdp.w_inh_exc", .kind = FIELD_DOUBLE, .offset = OFF(stdp.w_inh_exc),
     .bounds = LO, .min = 0, .from_module = true, .unit = "-", .def = "17",
     .doc = "inhibitory to excitatory weight, to all but its own partner"},
    {.path = "stdp.gamma_plus", .kind = FIELD_DOUBLE, .offset = OFF(stdp.gamma_plus),
     .bounds = LO | HI, .min = 0, .max = 1, .from_module = true, .unit = "-", .def = "0.02",
     .doc = "stochastic-binary: OFF->ON probability on a post spike is gamma_plus "
            "exp(-dt/tau_plus_s)"},
    {.path = "stdp.gamma_minus", .kind = FIELD_DOUBLE, .offset = OFF(stdp.gamma_minus),
     .bounds = LO | HI, .min = 0, .max = 1, .from_module = true, .unit = "-", .def = "0.005",
     .doc = "stochastic-binary: ON->OFF probability on a pre spike is gamma_minus "
            "exp(-dt/tau_minus_s)"},
    {.path = "stdp.gamma_minus_post", .kind = FIELD_DOUBLE,
     .offset = OFF(stdp.gamma_minus_post), .bounds = LO | HI, .min = 0, .max = 1,
     .from_module = true, .unit = "-", .def = "0.005",
     .doc = "stochastic-binary: ON->OFF probability on a post spike for a quiet input, "
            "gamma_minus_post (1 - exp(-dt/tau_plus_s))"},
    {.path = "stdp.tau_plus_s", .kind = FIELD_DOUBLE, .offset = OFF(stdp.tau_plus_s),
     .bounds = LO | LO_OPEN, .min = 0, .from_module = true, .unit = "s", .def = "0.02",
     .doc = "stochastic-binary: potentiation window"},
    {.path = "stdp.tau_minus_s", .kind = FIELD_DOUBLE, .offset = OFF(stdp.tau_minus_s),
     .bounds = LO | LO_OPEN, .min = 0, .from_module = true, .unit = "s", .def = "0.02",
     .doc = "stochastic-binary: depression window"},
    {.path = "stdp.p_on_init", .kind = FIELD_DOUBLE, .offset = OFF(stdp.p_on_init),
     .bounds = LO | HI, .min = 0, .max = 1, .from_module = true, .unit = "-", .def = "0.1",
     .doc = "stochastic-binary: probability a synapse starts ON"},
    {.path = "stdp.progress_every", .kind = FIELD_SIZE, .offset = OFF(stdp.progress_every),
     .bounds = LO, .min = 1, .from_module = true, .unit = "examples", .def = "1000",
     .doc = "training examples per progress line (rate, running accuracy, ETA)"},
};

#define N_FIELDS (sizeof fields / sizeof fields[0])

static const field *field_find(const char *path)
{
    for (size_t i = 0; i < N_FIELDS; i++)
        if (strcmp(fields[i].path, path) == 0)
            return &fields[i];
    return NULL;
}

static size_t field_index(const field *f) { return (size_t)(f - fields); }

static bool field_is_list(const field *f)
{
    return f->kind == FIELD_DOUBLES || f->kind == FIELD_SIZES;
}

/* The kind of one element: the field's own kind for scalars. */
static field_kind element_kind(const field *f)
{
    return f->kind == FIELD_DOUBLES ? FIELD_DOUBLE : f->kind == FIELD_SIZES ? FIELD_SIZE : f->kind;
}

static void *field_ptr(mx_experiment_config *cfg, const field *f)
{
    return (char *)cfg + f->offset;
}

static const void *field_cptr(const mx_experiment_config *cfg, const field *f)
{
    return (const char *)cfg + f->offset;
}

/* -------------------------------------------------------- text helpers */

/* A small appender that never overflows: text past the end is dropped. */
typedef struct strbuf {
    char *buf;
    size_t size, len; /* len may exceed size: the length it would have had */
} strbuf;

static void sb_add(strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = sb->len < sb->size ? sb->size - sb->len : 0;
    int n = vsnprintf(room ? sb->buf + sb->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        sb->len += (size_t)n;
}

/* Copy user text for a message: one line, control characters as '?', at
 * most SHOW_MAX_CHARS characters then "...", not cutting a UTF-8 sequence.
 * Bytes are capped too (4 per character): invalid UTF-8 such as a run of
 * continuation bytes counts no characters and must not overrun dst. */
static void show_text(char *dst, size_t dst_size, const char *src, size_t len)
{
    size_t o = 0, chars = 0, i = 0;
    assert(dst_size > SHOW_MAX_CHARS * 4 + 4);
    for (; i < len && chars < SHOW_MAX_CHARS && o < SHOW_MAX_CHARS * 4; i++) {
        unsigned char c = (unsigned char)src[i];
        if ((c & 0xC0) != 0x80)
            chars++;
        dst[o++] = (c < 0x20 || c == 0x7F) ? '?' : (char)c;
    }
    if (i < len) {
        while (o > 0 && ((unsigned char)dst[o - 1] & 0xC0) == 0x80)
            o--;
        if (o > 0 && ((unsigned char)dst[o - 1] & 0x80))
            o--; /* the lead byte of the cut sequence */
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
}

/* Shortest text that reads back as exactly v, in fixed notation where %g
 * would switch to an exponent for a whole number (1000, not 1e+03). */
static void format_double(double v, char *buf, size_t size)
{
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    snprintf(buf, size, "%.*g", prec, v);
    const char *e = strchr(buf, 'e');
    if (e) {
        int exp10 = atoi(e + 1);
        if (exp10 >= prec && exp10 < 17)
            snprintf(buf, size, "%.*g", exp10 + 1, v);
    }
}

/* Does s look like a number to a reader (so it is shown unquoted)? */
static bool looks_numeric(const char *s)
{
    if (*s == '\0')
        return false;
    char *end;
    errno = 0;
    (void)strtod(s, &end);
    return *end == '\0';
}

/* "got ..." text for a value the user wrote. */
static void show_value(char *dst, size_t dst_size, const char *text, bool quoted)
{
    char shown[SHOW_MAX_CHARS * 4 + 8];
    show_text(shown, sizeof shown, text, strlen(text));
    if (quoted)
        snprintf(dst, dst_size, "the string \"%s\"", shown);
    else if (looks_numeric(text))
        snprintf(dst, dst_size, "%s", shown);
    else
        snprintf(dst, dst_size, "\"%s\"", shown);
}

/* Decimal integer: optional sign, digits only. OUT neg, mag. */
static bool parse_integer(const char *s, bool *neg, unsigned long long *mag)
{
    *neg = false;
    if (*s == '+' || *s == '-')
        *neg = *s++ == '-';
    if (*s < '0' || *s > '9')
        return false;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    errno = 0;
    *mag = strtoull(s, NULL, 10);
    return errno != ERANGE;
}

/* A finite decimal number (YAML's int and float forms; no hex, no .inf). */
static bool parse_number(const char *s, double *out)
{
    bool digit = false;
    for (const char *p = s; *p; p++) {
        if (*p >= '0' && *p <= '9')
            digit = true;
        else if (!strchr("+-.eE", *p))
            return false;
    }
    if (!digit)
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end != '\0' || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* ------------------------------------------------ describing the range */

static void choices_text(const field *f, strbuf *sb)
{
    sb_add(sb, "one of: ");
    if (f->choices) {
        for (size_t i = 0; f->choices[i].name; i++)
            sb_add(sb, "%s%s", i ? ", " : "", f->choices[i].name);
    } else {
        assert(f->names);
        const char *name;
        for (size_t i = 0; (name = f->names(i)) != NULL; i++)
            sb_add(sb, "%s%s", i ? ", " : "", name);
    }
}

/* " in [1, 16]", " > 0", ...: side < 0 / > 0 names only the lower / upper
 * bound (for SPLIT fields), 0 both. */
static void range_text(const field *f, int side, strbuf *sb)
{
    char lo[40], hi[40];
    format_double(f->min, lo, sizeof lo);
    format_double(f->max, hi, sizeof hi);
    bool has_lo = (f->bounds & LO) && side <= 0, has_hi = (f->bounds & HI) && side >= 0;
    if (has_lo && has_hi)
        sb_add(sb, " in %c%s, %s%c", (f->bounds & LO_OPEN) ? '(' : '[', lo, hi,
               (f->bounds & HI_OPEN) ? ')' : ']');
    else if (has_lo)
        sb_add(sb, " %s %s", (f->bounds & LO_OPEN) ? ">" : ">=", lo);
    else if (has_hi)
        sb_add(sb, " %s %s", (f->bounds & HI_OPEN) ? "<" : "<=", hi);
}

/* What one value (one element, for lists) of f must be: "an integer in
 * [1, 16]", "one of: adam, sgd". */
static void describe_element(const field *f, int side, strbuf *sb)
{
    if (f->bounds & ZERO_OK)
        sb_add(sb, "0 or ");
    switch (element_kind(f)) {
    case FIELD_INT:
    case FIELD_SIZE:
        sb_add(sb, "an integer");
        range_text(f, side, sb);
        break;
    case FIELD_U64:
        sb_add(sb, "an integer in [0, %" PRIu64 "]", UINT64_MAX);
        break;
    case FIELD_DOUBLE:
        sb_add(sb, "a number");
        range_text(f, side, sb);
        break;
    case FIELD_BOOL:
        sb_add(sb, "true or false");
        break;
    case FIELD_ENUM:
    case FIELD_NAME:
        choices_text(f, sb);
        break;
    case FIELD_STRING:
        sb_add(sb, "a text of at most %zu characters", f->max_count - 1);
        break;
    case FIELD_DOUBLES:
    case FIELD_SIZES:
        assert(0 && "element_kind never returns a list kind");
        break;
    }
}

/* What the whole value of f must be ("a list of 1 to 7 integers >= 1"). */
static void describe(const field *f, strbuf *sb)
{
    if (!field_is_list(f)) {
        describe_element(f, 0, sb);
        return;
    }
    if (f->min_count == f->max_count)
        sb_add(sb, "a list of %zu ", f->min_count);
    else
        sb_add(sb, "a list of %zu to %zu ", f->min_count, f->max_count);
    sb_add(sb, "%s", f->kind == FIELD_SIZES ? "integers" : "numbers");
    range_text(f, 0, sb);
}

static void describe_str(const field *f, int side, bool element, char *buf, size_t size)
{
    strbuf sb = {buf, size, 0};
    buf[0] = '\0';
    if (element)
        describe_element(f, side, &sb);
    else
        describe(f, &sb);
}

/* 0 when v is in range, else -1 (below) or +1 (above). */
static int range_side(const field *f, double v)
{
    if ((f->bounds & ZERO_OK) && v == 0.0)
        return 0;
    if (f->bounds & LO) {
        if ((f->bounds & LO_OPEN) ? !(v > f->min) : !(v >= f->min))
            return -1;
    }
    if (f->bounds & HI) {
        if ((f->bounds & HI_OPEN) ? !(v < f->max) : !(v <= f->max))
            return 1;
    }
    return 0;
}

/* ------------------------------------------------ decoding one value */

/* Storage big enough for one element of any kind. */
typedef union element {
    int i;
    size_t z;
    uint64_t u;
    double d;
    char name[MX_CONFIG_NAME_BYTES];
    char text[SCALAR_MAX_BYTES]; /* FIELD_STRING */
} element;
_Static_assert(MX_DEVICE_PATH_BYTES <= SCALAR_MAX_BYTES, "a FIELD_STRING fits an element");

static bool name_allowed(const field *f, const char *text)
{
    if (f->choices) {
        for (size_t i = 0; f->choices[i].name; i++)
            if (strcmp(f->choices[i].name, text) == 0)
                return true;
        return false;
    }
    assert(f->names);
    const char *name;
    for (size_t i = 0; (name = f->names(i)) != NULL; i++)
        if (strcmp(name, text) == 0)
            return true;
    return false;
}

/* A FIELD_STRING value: shorter than the field and free of control
 * characters (it ends up in messages and file names). */
static bool string_allowed(const field *f, const char *text)
{
    size_t n = strlen(text);
    if (n >= f->max_count)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)text[i] < 0x20 || text[i] == 0x7F)
            return false;
    return true;
}

/* Decode `text` as one element of f into *dst (typed by element_kind(f)).
 * `quoted`: the YAML scalar was quoted or a block scalar, i.e. a string.
 * On failure returns false and writes "expected X, got Y" into why. */
static bool decode_element(const field *f, const char *text, bool quoted, element *dst,
                           char *why, size_t why_size)
{
    char expect[256], got[SHOW_MAX_CHARS * 4 + 32];
    field_kind kind = element_kind(f);
    int side = 0;
    bool ok = false;

    if (kind == FIELD_ENUM || kind == FIELD_NAME) {
        if (kind == FIELD_ENUM) {
            for (size_t i = 0; f->choices[i].name; i++)
                if (strcmp(f->choices[i].name, text) == 0) {
                    dst->i = f->choices[i].value;
                    return true;
                }
        } else if (strlen(text) < MX_CONFIG_NAME_BYTES && name_allowed(f, text)) {
            snprintf(dst->name, sizeof dst->name, "%s", text);
            return true;
        }
        show_value(got, sizeof got, text, false);
        describe_str(f, 0, true, expect, sizeof expect);
        snprintf(why, why_size, "expected %s, got %s", expect, got);
        return false;
    }
    if (kind == FIELD_STRING) {
        if (string_allowed(f, text)) {
            snprintf(dst->text, sizeof dst->text, "%s", text);
            return true;
        }
        show_value(got, sizeof got, text, quoted);
        describe_str(f, 0, true, expect, sizeof expect);
        snprintf(why, why_size, "expected %s (no control characters), got %s", expect, got);
        return false;
    }

    if (!quoted) {
        bool neg;
        unsigned long long mag;
        double v;
        switch (kind) {
        case FIELD_INT:
            if (parse_integer(text, &neg, &mag) && mag <= INT_MAX) {
                v = neg ? -(double)mag : (double)mag;
                side = range_side(f, v);
                if (side == 0) {
                    dst->i = neg ? -(int)mag : (int)mag;
                    ok = true;
                }
            }
            break;
        case FIELD_SIZE:
            if (parse_integer(text, &neg, &mag) && mag <= SIZE_MAX) {
                v = neg ? -(double)mag : (double)mag;
                side = (neg && mag > 0) ? -1 : range_side(f, v);
                if (side == 0) {
                    dst->z = (size_t)mag;
                    ok = true;
                }
            }
            break;
        case FIELD_U64:
            if (parse_integer(text, &neg, &mag) && (!neg || mag == 0) && mag <= UINT64_MAX) {
                dst->u = (uint64_t)mag;
                ok = true;
            }
            break;
        case FIELD_DOUBLE:
            if (parse_number(text, &v)) {
                side = range_side(f, v);
                if (side == 0) {
                    dst->d = v;
                    ok = true;
                }
            }
            break;
        case FIELD_BOOL:
            if (!strcmp(text, "true") || !strcmp(text, "True") || !strcmp(text, "TRUE")) {
                dst->i = 1;
                ok = true;
            } else if (!strcmp(text, "false") || !strcmp(text, "False") ||
                       !strcmp(text, "FALSE")) {
                dst->i = 0;
                ok = true;
            }
            break;
        default:
            assert(0 && "handled above");
            break;
        }
    }
    if (ok)
        return true;
    describe_str(f, (f->bounds & SPLIT) ? side : 0, true, expect, sizeof expect);
    if (*text == '\0' && !quoted)
        snprintf(got, sizeof got, "nothing");
    else
        show_value(got, sizeof got, text, quoted);
    snprintf(why, why_size, "expected %s, got %s", expect, got);
    return false;
}

/* Strip blanks at both ends, in place. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

static void store_element(void *dst, field_kind kind, const element *e)
{
    switch (kind) {
    case FIELD_INT:
    case FIELD_BOOL:
    case FIELD_ENUM:
        *(int *)dst = e->i;
        break;
    case FIELD_SIZE:
        *(size_t *)dst = e->z;
        break;
    case FIELD_U64:
        *(uint64_t *)dst = e->u;
        break;
    case FIELD_DOUBLE:
        *(double *)dst = e->d;
        break;
    case FIELD_NAME:
        memcpy(dst, e->name, MX_CONFIG_NAME_BYTES);
        break;
    case FIELD_STRING: /* decode_element checked it fits the field */
        memcpy(dst, e->text, strlen(e->text) + 1);
        break;
    case FIELD_DOUBLES:
    case FIELD_SIZES:
        assert(0 && "lists are stored element by element");
        break;
    }
}

static size_t element_bytes(field_kind kind)
{
    return kind == FIELD_SIZE ? sizeof(size_t) : sizeof(double);
}

/* Decode a list written as text, "[a, b, c]" (brackets optional), and store
 * it. On failure nothing is stored and `why`/`why_path` say what and where. */
static bool set_list_text(mx_experiment_config *cfg, const field *f, const char *text,
                          char *why, size_t why_size, char *why_path, size_t path_size)
{
    element vals[MX_CONFIG_MAX_HIDDEN > MX_DEVICE_PROG_NOISE_ORDER ? MX_CONFIG_MAX_HIDDEN
                                                                   : MX_DEVICE_PROG_NOISE_ORDER];
    char buf[SCALAR_MAX_BYTES];
    char expect[256], got[SHOW_MAX_CHARS * 4 + 32];
    snprintf(why_path, path_size, "%s", f->path);

    size_t len = strlen(text);
    if (len >= sizeof buf)
        goto bad_list;
    memcpy(buf, text, len + 1);
    char *s = trim(buf);
    len = strlen(s);
    if (*s == '[') {
        if (len < 2 || s[len - 1] != ']')
            goto bad_list;
        s[len - 1] = '\0';
        s = trim(s + 1);
    }
    size_t n = 0;
    /* Items separated by commas; "" is the empty list, refused by the count. */
    char *item = *s ? s : NULL;
    while (item) {
        char *comma = strchr(item, ',');
        if (comma)
            *comma = '\0';
        item = trim(item);
        if (n == f->max_count || *item == '\0')
            goto bad_list; /* too many, or an empty item as in "1,,2" */
        if (!decode_element(f, item, false, &vals[n], why, why_size)) {
            snprintf(why_path, path_size, "%s[%zu]", f->path, n);
            return false;
        }
        n++;
        item = comma ? comma + 1 : NULL;
    }
    if (n < f->min_count)
        goto bad_list;
    field_kind kind = element_kind(f);
    char *dst = (char *)field_ptr(cfg, f);
    for (size_t i = 0; i < n; i++)
        store_element(dst + i * element_bytes(kind), kind, &vals[i]);
    if (f->kind == FIELD_SIZES)
        *(size_t *)((char *)cfg + f->count_offset) = n;
    return true;

bad_list:
    describe_str(f, 0, false, expect, sizeof expect);
    show_value(got, sizeof got, text, false);
    snprintf(why, why_size, "expected %s, got %s", expect, got);
    return false;
}

/* Set field f from its text (no YAML quoting: text is the scalar's value).
 * On failure the field is unchanged; why_path/why say where and what. */
static bool set_text(mx_experiment_config *cfg, const field *f, const char *text, char *why,
                     size_t why_size, char *why_path, size_t path_size)
{
    if (field_is_list(f))
        return set_list_text(cfg, f, text, why, why_size, why_path, path_size);
    snprintf(why_path, path_size, "%s", f->path);
    char buf[SCALAR_MAX_BYTES];
    element e;
    snprintf(buf, sizeof buf, "%s", text);
    if (strlen(text) >= sizeof buf) {
        char expect[256];
        describe_str(f, 0, false, expect, sizeof expect);
        snprintf(why, why_size, "expected %s, got a value of %zu characters", expect,
                 strlen(text));
        return false;
    }
    if (!decode_element(f, trim(buf), false, &e, why, why_size))
        return false;
    store_element(field_ptr(cfg, f), f->kind, &e);
    return true;
}

/* ------------------------------------------------ writing one value */

static void format_element(const field *f, const void *src, strbuf *sb)
{
    char num[40];
    switch (element_kind(f)) {
    case FIELD_INT:
        sb_add(sb, "%d", *(const int *)src);
        break;
    case FIELD_SIZE:
        sb_add(sb, "%zu", *(const size_t *)src);
        break;
    case FIELD_U64:
        sb_add(sb, "%" PRIu64, *(const uint64_t *)src);
        break;
    case FIELD_DOUBLE:
        format_double(*(const double *)src, num, sizeof num);
        sb_add(sb, "%s", num);
        break;
    case FIELD_BOOL:
        sb_add(sb, "%s", *(const int *)src ? "true" : "false");
        break;
    case FIELD_ENUM: {
        int v = *(const int *)src;
        for (size_t i = 0; f->choices[i].name; i++)
            if (f->choices[i].value == v) {
                sb_add(sb, "%s", f->choices[i].name);
                return;
            }
        sb_add(sb, "%d", v); /* not a valid value: validation says so */
        break;
    }
    case FIELD_NAME: {
        char shown[SHOW_MAX_CHARS * 4 + 8];
        const char *s = src;
        show_text(shown, sizeof shown, s, strnlen(s, MX_CONFIG_NAME_BYTES));
        sb_add(sb, "%s", shown);
        break;
    }
    case FIELD_STRING: /* whole, so that get/set round-trip */
        sb_add(sb, "%.*s", (int)strnlen(src, f->max_count), (const char *)src);
        break;
    case FIELD_DOUBLES:
    case FIELD_SIZES:
        assert(0 && "element_kind never returns a list kind");
        break;
    }
}

static size_t list_count(const mx_experiment_config *cfg, const field *f)
{
    if (f->kind == FIELD_SIZES)
        return *(const size_t *)((const char *)cfg + f->count_offset);
    return f->max_count;
}

static void format_value(const mx_experiment_config *cfg, const field *f, strbuf *sb)
{
    const char *src = field_cptr(cfg, f);
    if (!field_is_list(f)) {
        format_element(f, src, sb);
        return;
    }
    size_t n = list_count(cfg, f);
    if (n > f->max_count)
        n = f->max_count; /* corrupt count: validation reports it */
    sb_add(sb, "[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_add(sb, ", ");
        format_element(f, src + i * element_bytes(element_kind(f)), sb);
    }
    sb_add(sb, "]");
}

/* ------------------------------------------------ the device block */

_Static_assert(N_FIELDS <= MX_CONFIG_MAX_FIELDS, "raise MX_CONFIG_MAX_FIELDS in config.h");

/* The model whose curve comes from a file (devices/measured.c). */
#define MEASURED_MODEL "measured"

static void mark_explicit(mx_experiment_config *cfg, const field *f)
{
    size_t i = field_index(f);
    cfg->explicit_fields[i / 8] = (uint8_t)(cfg->explicit_fields[i / 8] | (1u << (i % 8)));
}

static bool is_explicit(const mx_experiment_config *cfg, const field *f)
{
    size_t i = field_index(f);
    return (cfg->explicit_fields[i / 8] >> (i % 8)) & 1u;
}

/* Bytes field f occupies in the config. */
static size_t field_bytes(const field *f)
{
    switch (f->kind) {
    case FIELD_INT:
    case FIELD_BOOL:
    case FIELD_ENUM:
        return sizeof(int);
    case FIELD_SIZE:
        return sizeof(size_t);
    case FIELD_U64:
        return sizeof(uint64_t);
    case FIELD_DOUBLE:
        return sizeof(double);
    case FIELD_NAME:
        return MX_CONFIG_NAME_BYTES;
    case FIELD_STRING:
        return f->max_count;
    case FIELD_DOUBLES:
        return f->max_count * sizeof(double);
    case FIELD_SIZES:
        return f->max_count * sizeof(size_t);
    }
    return 0;
}

/* Does f live in hardware.device (the mx_device_params block)? */
static bool in_device_block(const field *f)
{
    const size_t lo = OFF(hardware.device);
    return f->offset >= lo && f->offset < lo + sizeof(mx_device_params);
}

/* The preset cfg names; NULL for "none". */
static const mx_device_preset *config_preset(const mx_experiment_config *cfg)
{
    if (strcmp(cfg->hardware.device_preset, PRESET_NONE) == 0)
        return NULL;
    return mx_device_preset_lookup(cfg->hardware.device_preset);
}

static bool is_measured(const mx_experiment_config *cfg)
{
    return strcmp(cfg->hardware.device_type, MEASURED_MODEL) == 0;
}

/* The file hardware.device.measured.path names: a relative path is taken
 * from the folder of the config file (from the working folder when the
 * config is not a file). */
static void measured_file(const mx_experiment_config *cfg, char *buf, size_t size)
{
    mx_config_file_path(cfg, cfg->hardware.device.measured.path, buf, size);
}

void mx_config_file_path(const mx_experiment_config *cfg, const char *path, char *buf,
                         size_t size)
{
    const char *src = cfg->source_path;
    const char *slash = strrchr(src, '/');
    bool from_file = strcmp(src, SOURCE_BUILTIN) != 0 && strcmp(src, SOURCE_STRING) != 0;
    if (path[0] == '/' || !from_file || !slash)
        snprintf(buf, size, "%s", path);
    else
        snprintf(buf, size, "%.*s/%s", (int)(slash - src), src, path);
}

/* Resolve the device block in layers: the model defaults, the preset's
 * values, then every device field written explicitly (their values are
 * kept in the block itself, so resolving again gives the same block). The
 * model is the preset's unless hardware.device.type was written; check_cross
 * refuses a conflict. A config that has never named a preset is left as it
 * is, so values a caller assigned directly survive. A curve cfg owns stays
 * attached while the model and the file are unchanged. */
static void resolve_device(mx_experiment_config *cfg)
{
    const mx_device_preset *preset = config_preset(cfg);
    if (preset || cfg->preset_applied) {
        mx_device_params d;
        mx_device_params_default(&d);
        if (preset)
            preset->apply(&d);
        for (size_t i = 0; i < N_FIELDS; i++) {
            const field *f = &fields[i];
            if (in_device_block(f) && is_explicit(cfg, f))
                memcpy((char *)&d + (f->offset - OFF(hardware.device)), field_cptr(cfg, f),
                       field_bytes(f));
        }
        cfg->hardware.device = d;
        const field *type = field_find("hardware.device.type");
        if (!is_explicit(cfg, type))
            snprintf(cfg->hardware.device_type, sizeof cfg->hardware.device_type, "%s",
                     preset ? preset->type : type->def);
        cfg->preset_applied = preset != NULL;
    }
    if (cfg->measured_curve) {
        char file[2 * MX_DEVICE_PATH_BYTES + 8];
        measured_file(cfg, file, sizeof file);
        if (is_measured(cfg) && strcmp(file, mx_measured_curve_path(cfg->measured_curve)) == 0) {
            mx_measured_apply(&cfg->hardware.device, cfg->measured_curve);
        } else {
            mx_measured_curve_free(cfg->measured_curve);
            cfg->measured_curve = NULL;
            cfg->hardware.device.measured.curve = NULL;
        }
    }
}

/* Load the curve of a resolved config whose model is measured, unless
 * *cached already holds that file's, and attach it (g_min_s and g_max_s
 * become the curve's window). IN/OUT: *cached, the curve (the caller frees
 * it); on failure it is freed and NULL. MX_EIO / MX_EFORMAT naming the field
 * and the file. */
static mx_status attach_measured(mx_experiment_config *cfg, mx_measured_curve **cached)
{
    char file[2 * MX_DEVICE_PATH_BYTES + 8];
    measured_file(cfg, file, sizeof file);
    if (*cached && strcmp(file, mx_measured_curve_path(*cached)) != 0) {
        mx_measured_curve_free(*cached);
        *cached = NULL;
    }
    if (!*cached) {
        if (cfg->hardware.device.measured.path[0] == '\0')
            return mx_fail(MX_EINVAL, "hardware.device.measured.path: expected the CSV or HDF5 "
                           "file of the measured curve (model measured), got nothing");
        mx_status st = mx_measured_curve_load(file, cached);
        if (st != MX_OK) {
            char msg[MSG_BYTES];
            mx_error_copy(msg, sizeof msg);
            return mx_fail(st, "hardware.device.measured.path: %s", msg);
        }
    }
    mx_measured_apply(&cfg->hardware.device, *cached);
    return MX_OK;
}

/* ------------------------------------------------ validation */

/* Where a message points: a 1-based line and column, 0 = unknown. */
typedef struct pos {
    int line, col;
} pos;

/* Rewrite this thread's message "path: ..." as "file:line:col: path: ...
 * suffix" (or "file: ..." without a position, or unchanged without a file). */
static mx_status locate(mx_status st, const char *file, pos p, const char *suffix)
{
    char msg[MSG_BYTES];
    mx_error_copy(msg, sizeof msg);
    if (file && *file && p.line > 0)
        return mx_fail(st, "%s:%d:%d: %s%s", file, p.line, p.col, msg, suffix);
    if (file && *file)
        return mx_fail(st, "%s: %s%s", file, msg, suffix);
    return mx_fail(st, "%s%s", msg, suffix);
}

static mx_status fail_value(const field *f, const char *path, const mx_experiment_config *cfg,
                            int side)
{
    char expect[256], got[256];
    strbuf sb = {got, sizeof got, 0};
    describe_str(f, (f->bounds & SPLIT) ? side : 0, false, expect, sizeof expect);
    format_value(cfg, f, &sb);
    return mx_fail(MX_EINVAL, "%s: expected %s, got %s", path, expect, got);
}

/* Is the stored value of f one the table allows? */
static mx_status check_field(const mx_experiment_config *cfg, const field *f)
{
    const char *src = field_cptr(cfg, f);
    switch (f->kind) {
    case FIELD_INT: {
        int side = range_side(f, *(const int *)src);
        return side ? fail_value(f, f->path, cfg, side) : MX_OK;
    }
    case FIELD_SIZE: {
        int side = range_side(f, (double)*(const size_t *)src);
        return side ? fail_value(f, f->path, cfg, side) : MX_OK;
    }
    case FIELD_U64:
        return MX_OK;
    case FIELD_DOUBLE: {
        double v = *(const double *)src;
        int side = isfinite(v) ? range_side(f, v) : -1;
        return side ? fail_value(f, f->path, cfg, side) : MX_OK;
    }
    case FIELD_BOOL:
        return (*(const int *)src == 0 || *(const int *)src == 1) ? MX_OK
                                                                  : fail_value(f, f->path, cfg, 0);
    case FIELD_ENUM:
        for (size_t i = 0; f->choices[i].name; i++)
            if (f->choices[i].value == *(const int *)src)
                return MX_OK;
        return fail_value(f, f->path, cfg, 0);
    case FIELD_NAME:
        if (strnlen(src, MX_CONFIG_NAME_BYTES) < MX_CONFIG_NAME_BYTES && name_allowed(f, src))
            return MX_OK;
        return fail_value(f, f->path, cfg, 0);
    case FIELD_STRING:
        if (strnlen(src, f->max_count) < f->max_count && string_allowed(f, src))
            return MX_OK;
        return mx_fail(MX_EINVAL, "%s: expected a text of at most %zu characters without "
                       "control characters", f->path, f->max_count - 1);
    case FIELD_DOUBLES:
    case FIELD_SIZES: {
        size_t n = list_count(cfg, f);
        if (n < f->min_count || n > f->max_count) {
            char expect[256];
            describe_str(f, 0, false, expect, sizeof expect);
            return mx_fail(MX_EINVAL, "%s: expected %s, got %zu values", f->path, expect, n);
        }
        for (size_t i = 0; i < n; i++) {
            double v = f->kind == FIELD_SIZES ? (double)((const size_t *)src)[i]
                                              : ((const double *)src)[i];
            int side = isfinite(v) ? range_side(f, v) : -1;
            if (side) {
                char expect[256], got[40];
                describe_str(f, side, true, expect, sizeof expect);
                if (f->kind == FIELD_SIZES)
                    snprintf(got, sizeof got, "%zu", ((const size_t *)src)[i]);
                else
                    format_double(v, got, sizeof got);
                return mx_fail(MX_EINVAL, "%s[%zu]: expected %s, got %s", f->path, i, expect,
                               got);
            }
        }
        return MX_OK;
    }
    }
    return MX_OK;
}

static size_t dataset_train_size(const char *name)
{
    for (size_t i = 0; i < sizeof dataset_sizes / sizeof dataset_sizes[0]; i++)
        if (strcmp(dataset_sizes[i].name, name) == 0)
            return dataset_sizes[i].n_train;
    return 0;
}

/* The checks that involve two fields. OUT: blame[0..1], the fields whose
 * place in the file the message should point at (first one written wins). */
static mx_status check_cross(const mx_experiment_config *cfg, const field **blame)
{
    char a[40], b[40];
    const mx_device_params *d = &cfg->hardware.device;
    const mx_device_preset *preset = config_preset(cfg);
    if (preset && strcmp(cfg->hardware.device_type, preset->type) != 0) {
        blame[0] = field_find("hardware.device.type");
        blame[1] = field_find("hardware.device.preset");
        return mx_fail(MX_EINVAL,
                       "hardware.device.type: expected %s, the model of hardware.device.preset "
                       "%s, got %s",
                       preset->type, preset->name, cfg->hardware.device_type);
    }
    if (!(d->g_min_s < d->g_max_s)) {
        blame[0] = field_find("hardware.device.g_min_s");
        blame[1] = field_find("hardware.device.g_max_s");
        format_double(d->g_max_s, a, sizeof a);
        format_double(d->g_min_s, b, sizeof b);
        return mx_fail(MX_EINVAL,
                       "hardware.device.g_min_s: expected less than hardware.device.g_max_s (%s), "
                       "got %s",
                       a, b);
    }
    const mx_device_type *type = mx_device_lookup(cfg->hardware.device_type);
    if (cfg->experiment == MX_EXPERIMENT_ONLINE && cfg->online.net.weights == MX_ONLINE_DEVICE &&
        type && !type->pulse) {
        blame[0] = field_find("hardware.device.type");
        blame[1] = field_find("hardware.device.preset");
        return mx_fail(MX_EINVAL,
                       "hardware.device.type: expected a model with a pulse response for "
                       "experiment online-training, got %s",
                       type->name);
    }
    if (cfg->hardware.crossbar.programming == MX_PROGRAMMING_WRITE_VERIFY && type &&
        !type->pulse) {
        blame[0] = field_find("hardware.programming.mode");
        blame[1] = field_find("hardware.device.type");
        return mx_fail(MX_EINVAL,
                       "hardware.programming.mode: expected open-loop for device %s, which has "
                       "no pulse response (write-verify needs a pulse-level model), got "
                       "write-verify",
                       type->name);
    }
    if (cfg->hardware.crossbar.programming == MX_PROGRAMMING_WRITE_VERIFY &&
        cfg->hardware.crossbar.half_select != MX_HALF_SELECT_OFF) {
        blame[0] = field_find("hardware.programming.mode");
        blame[1] = field_find("hardware.crossbar.half_select");
        return mx_fail(MX_EINVAL,
                       "hardware.programming.mode: expected open-loop with "
                       "hardware.crossbar.half_select v-half (the disturb of verify trains is "
                       "not modelled), got write-verify");
    }
    const mx_fault_map_mode fm = cfg->hardware.crossbar.fault_map.mode;
    if (fm != MX_FAULT_MAP_NONE && cfg->hardware.crossbar.half_select != MX_HALF_SELECT_OFF) {
        blame[0] = field_find("hardware.fault_mapping.mode");
        blame[1] = field_find("hardware.crossbar.half_select");
        return mx_fail(MX_EINVAL,
                       "hardware.fault_mapping.mode: expected none with "
                       "hardware.crossbar.half_select v-half (the disturb of the test writes is "
                       "not modelled)");
    }
    if (fm == MX_FAULT_MAP_PARTNER && cfg->hardware.crossbar.mapping == MX_MAPPING_OFFSET) {
        blame[0] = field_find("hardware.fault_mapping.mode");
        blame[1] = field_find("hardware.crossbar.mapping");
        return mx_fail(MX_EINVAL,
                       "hardware.fault_mapping.mode: expected permute or spare-columns with "
                       "hardware.crossbar.mapping offset (its cells have no partner), got partner");
    }
    if ((fm == MX_FAULT_MAP_PERMUTE || fm == MX_FAULT_MAP_SPARE_COLUMNS) &&
        mx_crossbar_has_wires(&cfg->hardware.crossbar)) {
        blame[0] = field_find("hardware.fault_mapping.mode");
        blame[1] = field_find("hardware.crossbar.r_wire_ohm");
        return mx_fail(MX_EINVAL,
                       "hardware.fault_mapping.mode: expected none or partner with wire "
                       "resistances (hardware.crossbar.r_*_ohm; the tile circuit needs the "
                       "physical positions)");
    }
    if (d->stuck_at_gmin_frac + d->stuck_at_gmax_frac > 1.0) {
        blame[0] = field_find("hardware.device.stuck_at_gmax");
        blame[1] = field_find("hardware.device.stuck_at_gmin");
        format_double(1.0 - d->stuck_at_gmin_frac, a, sizeof a);
        format_double(d->stuck_at_gmax_frac, b, sizeof b);
        return mx_fail(MX_EINVAL,
                       "hardware.device.stuck_at_gmax: expected at most 1 - "
                       "hardware.device.stuck_at_gmin = %s, got %s",
                       a, b);
    }
    const int ann = cfg->experiment == MX_EXPERIMENT_CONVERSION &&
                    cfg->model.run_as == MX_RUN_AS_ANN;
    if (ann && cfg->hardware.crossbar.input == MX_INPUT_SPIKES) {
        blame[0] = field_find("hardware.crossbar.input");
        blame[1] = field_find("model.run_as");
        return mx_fail(MX_EINVAL, "hardware.crossbar.input: expected dac, bit-serial or pwm with "
                                  "model.run_as ann (a spike cannot carry an activation), got "
                                  "spikes");
    }
    if (ann && cfg->hardware.readout.kind != MX_READOUT_ADC) {
        blame[0] = field_find("hardware.readout.kind");
        blame[1] = field_find("model.run_as");
        return mx_fail(MX_EINVAL, "hardware.readout.kind: expected adc with model.run_as ann (the "
                                  "ADC-less readout is a spiking neuron), got integrate");
    }
    size_t n_train = dataset_train_size(cfg->dataset.name);
    const char *limit_name = "the training set size of";
    if (cfg->dataset.train_limit != 0 && (n_train == 0 || cfg->dataset.train_limit < n_train)) {
        n_train = cfg->dataset.train_limit;
        limit_name = "dataset.train_limit";
    }
    if (n_train != 0) {
        char limit[MX_CONFIG_NAME_BYTES + 64];
        if (strcmp(limit_name, "dataset.train_limit") == 0)
            snprintf(limit, sizeof limit, "dataset.train_limit (%zu)", n_train);
        else
            snprintf(limit, sizeof limit, "the %zu training examples of %s", n_train,
                     cfg->dataset.name);
        /* training.* trains the conversion's ANN (and, with hardware-aware
         * training, nothing else): the other methods have batch sizes of
         * their own. */
        if (cfg->experiment == MX_EXPERIMENT_CONVERSION &&
            cfg->training.train.batch_size > n_train) {
            blame[0] = field_find("training.batch_size");
            blame[1] = field_find("dataset.train_limit");
            return mx_fail(MX_EINVAL, "training.batch_size: expected at most %s, got %zu", limit,
                           cfg->training.train.batch_size);
        }
        if (cfg->dataset.calibration_images > n_train) {
            blame[0] = field_find("dataset.calibration_images");
            blame[1] = field_find("dataset.train_limit");
            return mx_fail(MX_EINVAL, "dataset.calibration_images: expected at most %s, got %zu",
                           limit, cfg->dataset.calibration_images);
        }
    }
    return MX_OK;
}

/* The field a module validator's message names ("hardware.adc.bits: ..."). */
static const field *field_named_in_message(void)
{
    char path[PATH_BYTES];
    mx_error_copy(path, sizeof path);
    path[strcspn(path, ":[ ")] = '\0';
    return field_find(path);
}

/* Every check of a resolved config. OUT: blame[0..1] as for check_cross. */
static mx_status check_all(const mx_experiment_config *cfg, const field **blame)
{
    blame[0] = blame[1] = NULL;
    for (size_t i = 0; i < N_FIELDS; i++) {
        mx_status st = check_field(cfg, &fields[i]);
        if (st != MX_OK) {
            blame[0] = &fields[i];
            if (in_device_block(&fields[i]) && !is_explicit(cfg, &fields[i]))
                blame[1] = field_find("hardware.device.preset"); /* a preset's value */
            return st;
        }
    }
    mx_status st = check_cross(cfg, blame);
    if (st != MX_OK)
        return st;
    /* The modules' own checks: a backstop, as the table covers their ranges. */
    const mx_device_type *type = mx_device_lookup(cfg->hardware.device_type);
    assert(type); /* check_field ran name_allowed */
    st = type->validate ? type->validate(&cfg->hardware.device) : MX_OK;
    if (st == MX_OK)
        st = mx_crossbar_config_validate(&cfg->hardware.crossbar);
    if (st == MX_OK)
        st = mx_adc_config_validate(&cfg->hardware.adc);
    if (st == MX_OK)
        st = mx_snn_readout_config_validate(&cfg->hardware.readout);
    if (st == MX_OK)
        st = mx_energy_config_validate(&cfg->hardware.energy);
    if (st == MX_OK)
        st = mx_snn_config_validate(&cfg->snn);
    if (st == MX_OK)
        st = mx_train_config_validate(&cfg->training.train);
    if (st == MX_OK)
        st = mx_online_config_validate(&cfg->online.net);
    /* ---- learning methods' checks: one each ---- */
    if (st == MX_OK)
        st = mx_cnn_config_validate(&cfg->cnn);
    if (st == MX_OK && cfg->cnn.n_conv == 0 && cfg->model.n_hidden == 0)
        st = mx_fail(MX_EINVAL, "model.hidden: expected at least one hidden layer without "
                                "model.conv_channels, got []");
    if (st == MX_OK && cfg->cnn.n_conv == 0 && cfg->snn.encoder == MX_ENCODER_CURRENT)
        st = mx_fail(MX_EINVAL, "snn.encoder: expected bernoulli or poisson without "
                                "model.conv_channels (current input is taken by the CNN "
                                "conversion only), got current");
    if (st == MX_OK && cfg->cnn.n_conv > 0 && cfg->experiment == MX_EXPERIMENT_CONVERSION &&
        cfg->model.run_as != MX_RUN_AS_SNN)
        st = mx_fail(MX_EINVAL, "model.run_as: expected snn with model.conv_channels, got ann");
    if (st == MX_OK && cfg->model.weights[0] != '\0' &&
        cfg->experiment != MX_EXPERIMENT_CONVERSION)
        st = mx_fail(MX_EINVAL, "model.weights: expected \"\" except with experiment "
                                "conversion (the other methods train their own networks), "
                                "got \"%s\"", cfg->model.weights);
    if (st == MX_OK)
        st = mx_surrogate_config_validate(&cfg->surrogate);
    if (st == MX_OK)
        st = mx_stdp_config_validate(&cfg->stdp);
    if (st == MX_OK)
        st = mx_rebalance_config_validate(&cfg->rebalance);
    if (st == MX_OK && cfg->rebalance.mode != MX_REBALANCE_NONE &&
        (cfg->experiment != MX_EXPERIMENT_CONVERSION || cfg->cnn.n_conv > 0 ||
         cfg->model.run_as != MX_RUN_AS_SNN))
        st = mx_fail(MX_EINVAL, "snn.threshold_rebalance: expected none except with experiment "
                                "conversion of an MLP run as an SNN, got %s",
                     mx_rebalance_mode_name(cfg->rebalance.mode));
    if (st != MX_OK)
        blame[0] = field_named_in_message();
    return st;
}

/* ------------------------------------------------ sweep points */

static size_t axis_field_index(const mx_experiment_config *cfg, size_t a)
{
    const field *f = field_find(cfg->axes[a].path);
    assert(f);
    return field_index(f);
}

/* Which axis sweeps field f, or -1. */
static int axis_of(const mx_experiment_config *cfg, const field *f)
{
    for (size_t a = 0; a < cfg->n_axes; a++)
        if (strcmp(cfg->axes[a].path, f->path) == 0)
            return (int)a;
    return -1;
}

/* Split point k into one value index per axis, first axis outermost. */
static void point_indices(const mx_experiment_config *cfg, size_t k, size_t *idx)
{
    for (size_t a = cfg->n_axes; a-- > 0;) {
        idx[a] = k % cfg->axes[a].n_values;
        k /= cfg->axes[a].n_values;
    }
}

/* Set the swept fields of `out` to point idx's values. */
static mx_status apply_point(mx_experiment_config *out, const size_t *idx)
{
    for (size_t a = 0; a < out->n_axes; a++) {
        const field *f = &fields[axis_field_index(out, a)];
        char why[MSG_BYTES], where[PATH_BYTES];
        if (!set_text(out, f, out->axes[a].values[idx[a]], why, sizeof why, where, sizeof where))
            return mx_fail(MX_EINVAL, "%s: %s", where, why);
        mark_explicit(out, f); /* a swept value overrides the preset */
    }
    resolve_device(out);
    return MX_OK;
}

/* " (at sweep point k: path=value, ...)" */
static void point_suffix(const mx_experiment_config *cfg, size_t k, const size_t *idx,
                         char *buf, size_t size)
{
    strbuf sb = {buf, size, 0};
    buf[0] = '\0';
    if (cfg->n_axes == 0)
        return;
    sb_add(&sb, " (at sweep point %zu:", k);
    for (size_t a = 0; a < cfg->n_axes; a++) {
        char shown[SHOW_MAX_CHARS * 4 + 8];
        const char *v = cfg->axes[a].values[idx[a]];
        show_text(shown, sizeof shown, v, strlen(v));
        sb_add(&sb, "%s %s=%s", a ? "," : "", cfg->axes[a].path, shown);
    }
    sb_add(&sb, ")");
}

/* ------------------------------------------------ public: set/get/validate */

void mx_config_default(mx_experiment_config *cfg)
{
    assert(cfg);
    memset(cfg, 0, sizeof *cfg);
    mx_train_config_default(&cfg->training.train);
    mx_snn_config_default(&cfg->snn);
    mx_device_params_default(&cfg->hardware.device);
    mx_crossbar_config_default(&cfg->hardware.crossbar);
    mx_wv_config_default(&cfg->hardware.crossbar.write_verify);
    mx_adc_config_default(&cfg->hardware.adc);
    mx_snn_readout_config_default(&cfg->hardware.readout);
    mx_energy_config_default(&cfg->hardware.energy);
    mx_online_config_default(&cfg->online.net);
    /* ---- learning methods' defaults: one line each ---- */
    mx_cnn_config_default(&cfg->cnn);
    mx_surrogate_config_default(&cfg->surrogate);
    mx_stdp_config_default(&cfg->stdp);
    mx_rebalance_config_default(&cfg->rebalance);
    for (size_t i = 0; i < N_FIELDS; i++) {
        if (fields[i].from_module)
            continue;
        char why[MSG_BYTES], where[PATH_BYTES];
        bool ok = set_text(cfg, &fields[i], fields[i].def, why, sizeof why, where, sizeof where);
        assert(ok && "every table default is valid");
        (void)ok;
    }
}

/* The nearest field path to an unknown one (edit distance), for a hint. */
static const char *nearest_path(const char *path)
{
    size_t best = SIZE_MAX;
    const char *best_path = fields[0].path;
    size_t n = strlen(path);
    if (n > PATH_BYTES)
        n = PATH_BYTES;
    for (size_t i = 0; i < N_FIELDS; i++) {
        const char *p = fields[i].path;
        size_t m = strlen(p);
        size_t row[PATH_BYTES + 1];
        for (size_t j = 0; j <= m; j++)
            row[j] = j;
        for (size_t a = 1; a <= n; a++) {
            size_t diag = row[0];
            row[0] = a;
            for (size_t j = 1; j <= m; j++) {
                size_t up = row[j];
                size_t cost = diag + (path[a - 1] != p[j - 1]);
                size_t del = row[j] + 1, ins = row[j - 1] + 1;
                row[j] = cost < del ? (cost < ins ? cost : ins) : (del < ins ? del : ins);
                diag = up;
            }
        }
        if (row[m] < best) {
            best = row[m];
            best_path = p;
        }
    }
    /* Far from everything: give a typical path rather than a random one. */
    return best <= n / 2 ? best_path : "hardware.adc.bits";
}

static mx_status fail_unknown_path(const char *shown_path, const char *path)
{
    return mx_fail(MX_ENOTFOUND, "%s: unknown field path (expected a field such as %s; see "
                   "docs/config.md)", shown_path, nearest_path(path));
}

mx_status mx_config_set(mx_experiment_config *cfg, const char *path, const char *value)
{
    assert(cfg && path && value);
    const field *f = field_find(path);
    if (!f) {
        char shown[SHOW_MAX_CHARS * 4 + 8];
        show_text(shown, sizeof shown, path, strlen(path));
        return fail_unknown_path(shown, path);
    }
    char why[MSG_BYTES], where[PATH_BYTES];
    if (!set_text(cfg, f, value, why, sizeof why, where, sizeof where))
        return mx_fail(MX_EINVAL, "%s: %s", where, why);
    mark_explicit(cfg, f);
    resolve_device(cfg);
    return MX_OK;
}

mx_status mx_config_get(const mx_experiment_config *cfg, const char *path, char *buf,
                        size_t buf_size)
{
    assert(cfg && path && buf);
    const field *f = field_find(path);
    if (!f) {
        char shown[SHOW_MAX_CHARS * 4 + 8];
        show_text(shown, sizeof shown, path, strlen(path));
        return fail_unknown_path(shown, path);
    }
    char text[512];
    strbuf sb = {text, sizeof text, 0};
    format_value(cfg, f, &sb);
    if (sb.len >= buf_size)
        return mx_fail(MX_EINVAL, "%s: a buffer of %zu bytes cannot hold the value (%zu bytes)",
                       path, buf_size, sb.len + 1);
    memcpy(buf, text, sb.len + 1);
    return MX_OK;
}

int mx_config_field_is_numeric(const char *path)
{
    const field *f = field_find(path);
    if (!f)
        return 0;
    switch (f->kind) {
    case FIELD_INT:
    case FIELD_SIZE:
    case FIELD_U64:
    case FIELD_DOUBLE:
    case FIELD_BOOL:
        return 1;
    default:
        return 0;
    }
}

size_t mx_config_n_fields(void) { return N_FIELDS; }

mx_status mx_config_field_at(size_t i, mx_config_field_info *out)
{
    assert(out);
    if (i >= N_FIELDS)
        return mx_fail(MX_ENOTFOUND, "config field %zu: expected an index below %zu", i,
                       (size_t)N_FIELDS);
    const field *f = &fields[i];
    *out = (mx_config_field_info){.path = f->path, .unit = f->unit, .def = f->def,
                                  .doc = f->doc, .numeric = mx_config_field_is_numeric(f->path)};
    return MX_OK;
}

void mx_config_free(mx_experiment_config *cfg)
{
    if (!cfg)
        return;
    mx_free(cfg->text);
    cfg->text = NULL;
    mx_measured_curve_free(cfg->measured_curve);
    cfg->measured_curve = NULL;
    cfg->hardware.device.measured.curve = NULL;
}

/* ------------------------------------------------ YAML */

typedef struct parse_ctx {
    const char *file;
    mx_experiment_config *cfg;
} parse_ctx;

static mx_status fail_at(const parse_ctx *ctx, pos p, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static mx_status fail_at(const parse_ctx *ctx, pos p, const char *path, const char *fmt, ...)
{
    char what[MSG_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (p.line > 0)
        return mx_fail(MX_EINVAL, "%s:%d:%d: %s: %s", ctx->file, p.line, p.col, path, what);
    return mx_fail(MX_EINVAL, "%s: %s: %s", ctx->file, path, what);
}

/* Where a node starts: a scalar's own token, or the first scalar inside a
 * collection; `fallback` (the key's place) when there is none. */
static pos node_pos(struct fy_node *n, pos fallback)
{
    if (!n)
        return fallback;
    if (fy_node_is_scalar(n)) {
        struct fy_token *t = fy_node_get_scalar_token(n);
        const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
        if (!m)
            return fallback;
        /* The token of a quoted scalar or an alias starts after its quote or
         * '*': point at that character, where the value is written. */
        enum fy_node_style style = fy_node_get_style(n);
        int quote = (style == FYNS_SINGLE_QUOTED || style == FYNS_DOUBLE_QUOTED ||
                     style == FYNS_ALIAS) && m->column > 0;
        return (pos){m->line + 1, m->column + 1 - quote};
    }
    void *it = NULL;
    if (fy_node_is_sequence(n)) {
        struct fy_node *c = fy_node_sequence_iterate(n, &it);
        return c ? node_pos(c, fallback) : fallback;
    }
    struct fy_node_pair *pr = fy_node_mapping_iterate(n, &it);
    return pr ? node_pos(fy_node_pair_key(pr), fallback) : fallback;
}

static bool node_is_null(struct fy_node *n)
{
    if (!n)
        return true;
    if (!fy_node_is_scalar(n) || fy_node_get_style(n) != FYNS_PLAIN)
        return false;
    size_t len;
    const char *s = fy_node_get_scalar(n, &len);
    return len == 0 || (len == 1 && s[0] == '~') ||
           (len == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) || !memcmp(s, "NULL", 4)));
}

/* "a mapping", "a list", "null", ... for "got ..." */
static const char *node_kind_name(struct fy_node *n)
{
    if (node_is_null(n))
        return "null";
    if (fy_node_is_mapping(n))
        return "a mapping";
    if (fy_node_is_sequence(n))
        return "a list";
    if (fy_node_get_style(n) == FYNS_ALIAS)
        return "an alias (anchors and aliases are not supported)";
    return "a scalar";
}

/* A scalar node's text, NUL-terminated, into buf (SCALAR_MAX_BYTES).
 * False if it is too long. OUT quoted: a quoted or block scalar. */
static bool scalar_text(struct fy_node *n, char *buf, bool *quoted)
{
    size_t len = 0;
    const char *s = fy_node_get_scalar(n, &len);
    enum fy_node_style style = fy_node_get_style(n);
    *quoted = style != FYNS_PLAIN;
    if (!s)
        len = 0;
    if (len >= SCALAR_MAX_BYTES)
        return false;
    if (len)
        memcpy(buf, s, len);
    buf[len] = '\0';
    return true;
}

static bool is_scalar_value(struct fy_node *n)
{
    return n && fy_node_is_scalar(n) && fy_node_get_style(n) != FYNS_ALIAS;
}

/* Decode one YAML scalar node as an element of f. */
static mx_status decode_node_element(const parse_ctx *ctx, const field *f, struct fy_node *n,
                                     pos at, const char *path, element *e)
{
    char text[SCALAR_MAX_BYTES], why[MSG_BYTES], expect[256];
    bool quoted;
    if (!is_scalar_value(n) || node_is_null(n)) {
        describe_str(f, 0, true, expect, sizeof expect);
        return fail_at(ctx, at, path, "expected %s, got %s", expect,
                       n && fy_node_is_scalar(n) && node_is_null(n) ? "null" : node_kind_name(n));
    }
    if (!scalar_text(n, text, &quoted)) {
        describe_str(f, 0, true, expect, sizeof expect);
        return fail_at(ctx, at, path, "expected %s, got a value of %zu characters", expect,
                       fy_node_get_scalar_length(n));
    }
    if (!decode_element(f, text, quoted, e, why, sizeof why))
        return fail_at(ctx, at, path, "%s", why);
    return MX_OK;
}

/* Decode the value node of field f (key at key_pos) into ctx->cfg. */
static mx_status decode_field(parse_ctx *ctx, const field *f, struct fy_node *value, pos key_pos)
{
    pos at = (value && fy_node_is_scalar(value)) ? node_pos(value, key_pos) : key_pos;
    if (!field_is_list(f)) {
        element e;
        mx_status st = decode_node_element(ctx, f, value, at, f->path, &e);
        if (st == MX_OK) {
            store_element(field_ptr(ctx->cfg, f), f->kind, &e);
            mark_explicit(ctx->cfg, f);
        }
        return st;
    }
    char expect[256];
    describe_str(f, 0, false, expect, sizeof expect);
    if (!value || !fy_node_is_sequence(value))
        return fail_at(ctx, at, f->path, "expected %s, got %s", expect, node_kind_name(value));
    size_t n = (size_t)fy_node_sequence_item_count(value);
    if (n < f->min_count || n > f->max_count) {
        if (n == 0)
            return fail_at(ctx, at, f->path, "expected %s, got an empty list", expect);
        return fail_at(ctx, at, f->path, "expected %s, got %zu values", expect, n);
    }
    element vals[MX_CONFIG_MAX_HIDDEN > MX_DEVICE_PROG_NOISE_ORDER ? MX_CONFIG_MAX_HIDDEN
                                                                   : MX_DEVICE_PROG_NOISE_ORDER];
    void *it = NULL;
    struct fy_node *item;
    for (size_t i = 0; (item = fy_node_sequence_iterate(value, &it)) != NULL; i++) {
        char path[PATH_BYTES];
        snprintf(path, sizeof path, "%s[%zu]", f->path, i);
        mx_status st = decode_node_element(ctx, f, item, node_pos(item, at), path, &vals[i]);
        if (st != MX_OK)
            return st;
    }
    field_kind kind = element_kind(f);
    char *dst = field_ptr(ctx->cfg, f);
    for (size_t i = 0; i < n; i++)
        store_element(dst + i * element_bytes(kind), kind, &vals[i]);
    if (f->kind == FIELD_SIZES)
        *(size_t *)((char *)ctx->cfg + f->count_offset) = n;
    mark_explicit(ctx->cfg, f);
    return MX_OK;
}

/* Is `path` ("hardware.adc") a section, i.e. a prefix of some field path? */
static bool is_section(const char *path)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < N_FIELDS; i++)
        if (strncmp(fields[i].path, path, n) == 0 && fields[i].path[n] == '.')
            return true;
    return false;
}

/* "type, bits, range_percentile": the keys a section (prefix "hardware.adc."
 * or "" for the top level) may hold, in table order. */
static void section_keys(const char *prefix, strbuf *sb)
{
    size_t plen = strlen(prefix);
    const char *seen[N_FIELDS];
    size_t seen_len[N_FIELDS], n_seen = 0;
    for (size_t i = 0; i < N_FIELDS; i++) {
        const char *p = fields[i].path;
        if (strncmp(p, prefix, plen) != 0)
            continue;
        const char *key = p + plen;
        size_t klen = strcspn(key, ".");
        bool dup = false;
        for (size_t j = 0; j < n_seen && !dup; j++)
            dup = seen_len[j] == klen && !strncmp(seen[j], key, klen);
        if (dup)
            continue;
        seen[n_seen] = key;
        seen_len[n_seen++] = klen;
        sb_add(sb, "%s%.*s", n_seen > 1 ? ", " : "", (int)klen, key);
    }
    if (plen == 0)
        sb_add(sb, ", sweep");
}

typedef struct seen_keys {
    size_t n;
    char key[MAPPING_MAX_KEYS][MX_CONFIG_NAME_BYTES];
    pos at[MAPPING_MAX_KEYS];
} seen_keys;

/* Remember a key of a mapping; fail on a duplicate. */
static mx_status note_key(const parse_ctx *ctx, seen_keys *seen, const char *key,
                          const char *path, pos at)
{
    for (size_t i = 0; i < seen->n; i++)
        if (strcmp(seen->key[i], key) == 0)
            return fail_at(ctx, at, path,
                           "expected each key once, got it again (first at line %d, column %d)",
                           seen->at[i].line, seen->at[i].col);
    if (seen->n == MAPPING_MAX_KEYS) /* the table outgrew the limit (test_config writes every
                                        field out to catch it) */
        return fail_at(ctx, at, path, "expected at most %d keys in one mapping, got more",
                       MAPPING_MAX_KEYS);
    snprintf(seen->key[seen->n], MX_CONFIG_NAME_BYTES, "%s", key);
    seen->at[seen->n++] = at;
    return MX_OK;
}

/* A mapping key's text into buf (SCALAR_MAX_BYTES; a longer key is cut,
 * which cannot make it match a field). Fails unless the key is a scalar. */
static mx_status key_text(const parse_ctx *ctx, struct fy_node *key, const char *section,
                          pos at, char *buf)
{
    if (!is_scalar_value(key))
        return fail_at(ctx, at, *section ? section : "(top level)",
                       "expected a plain key, got %s", node_kind_name(key));
    size_t len = 0;
    const char *s = fy_node_get_scalar(key, &len);
    if (!s)
        len = 0;
    if (len >= SCALAR_MAX_BYTES)
        len = SCALAR_MAX_BYTES - 1;
    if (len)
        memcpy(buf, s, len);
    buf[len] = '\0';
    return MX_OK;
}

static mx_status parse_sweep(parse_ctx *ctx, struct fy_node *map, pos at);

/* Walk a mapping whose keys are under `prefix` ("" or "hardware.adc."). */
static mx_status parse_section(parse_ctx *ctx, struct fy_node *map, const char *prefix, pos at)
{
    char name[PATH_BYTES] = "(top level)";
    if (prefix[0]) /* "hardware.adc." names the section "hardware.adc" */
        snprintf(name, sizeof name, "%.*s", (int)strlen(prefix) - 1, prefix);
    if (node_is_null(map))
        return MX_OK; /* "adc:" with every key commented out: all defaults */
    if (!fy_node_is_mapping(map))
        return fail_at(ctx, node_pos(map, at), name, "expected a mapping, got %s",
                       node_kind_name(map));
    seen_keys seen = {0};
    void *it = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(map, &it)) != NULL) {
        struct fy_node *key = fy_node_pair_key(pair), *value = fy_node_pair_value(pair);
        pos key_pos = node_pos(key, at);
        char k[SCALAR_MAX_BYTES], path[PATH_BYTES];
        mx_status st = key_text(ctx, key, name, key_pos, k);
        if (st != MX_OK)
            return st;
        char shown[SHOW_MAX_CHARS * 4 + 8];
        show_text(shown, sizeof shown, k, strlen(k));
        snprintf(path, sizeof path, "%s%s", prefix, shown);
        const field *f = field_find(path);
        bool sweep = prefix[0] == '\0' && strcmp(k, "sweep") == 0;
        if (!f && !sweep && !is_section(path)) {
            char keys[MSG_BYTES];
            strbuf sb = {keys, sizeof keys, 0};
            section_keys(prefix, &sb);
            return fail_at(ctx, key_pos, path, "unknown key (expected one of: %s)", keys);
        }
        st = note_key(ctx, &seen, k, path, key_pos);
        if (st == MX_OK) {
            if (sweep)
                st = parse_sweep(ctx, value, key_pos);
            else if (f)
                st = decode_field(ctx, f, value, key_pos);
            else {
                char sub[PATH_BYTES + 1];
                snprintf(sub, sizeof sub, "%s.", path);
                st = parse_section(ctx, value, sub, key_pos);
            }
        }
        if (st != MX_OK)
            return st;
    }
    return MX_OK;
}

static mx_status parse_sweep(parse_ctx *ctx, struct fy_node *map, pos at)
{
    mx_experiment_config *cfg = ctx->cfg;
    if (node_is_null(map))
        return MX_OK;
    if (!fy_node_is_mapping(map))
        return fail_at(ctx, node_pos(map, at), "sweep",
                       "expected a mapping from field paths to lists of values, got %s",
                       node_kind_name(map));
    seen_keys seen = {0};
    void *it = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(map, &it)) != NULL) {
        struct fy_node *key = fy_node_pair_key(pair), *list = fy_node_pair_value(pair);
        pos key_pos = node_pos(key, at);
        char k[SCALAR_MAX_BYTES], path[PATH_BYTES], shown[SHOW_MAX_CHARS * 4 + 8];
        mx_status st = key_text(ctx, key, "sweep", key_pos, k);
        if (st != MX_OK)
            return st;
        show_text(shown, sizeof shown, k, strlen(k));
        snprintf(path, sizeof path, "sweep.%s", shown);
        const field *f = field_find(k);
        if (!f)
            return fail_at(ctx, key_pos, path,
                           "unknown field path (expected a field such as %s; see docs/config.md)",
                           nearest_path(k));
        if (field_is_list(f))
            return fail_at(ctx, key_pos, path,
                           "expected a field with a single value, got a list-valued field "
                           "(sweeping lists is not supported in this version)");
        if (f->whole_run)
            return fail_at(ctx, key_pos, path,
                           "expected a field that can vary between sweep points, got one that "
                           "applies to the whole run (run one sweep per value instead)");
        if (seen.n == MX_SWEEP_MAX_AXES)
            return fail_at(ctx, key_pos, "sweep", "expected at most %d axes, got more",
                           MX_SWEEP_MAX_AXES);
        st = note_key(ctx, &seen, k, path, key_pos);
        if (st != MX_OK)
            return st;
        if (!list || !fy_node_is_sequence(list))
            return fail_at(ctx, key_pos, path, "expected a non-empty list of values, got %s",
                           node_kind_name(list));
        size_t n = (size_t)fy_node_sequence_item_count(list);
        if (n == 0)
            return fail_at(ctx, key_pos, path, "expected a non-empty list of values, got an "
                           "empty list");
        if (n > MX_SWEEP_MAX_VALUES)
            return fail_at(ctx, key_pos, path, "expected at most %d values, got %zu",
                           MX_SWEEP_MAX_VALUES, n);

        size_t a = cfg->n_axes;
        assert(strlen(f->path) < sizeof cfg->axes[a].path);
        memcpy(cfg->axes[a].path, f->path, strlen(f->path) + 1);
        cfg->axes[a].line = key_pos.line;
        cfg->axes[a].column = key_pos.col;
        void *vit = NULL;
        struct fy_node *item;
        for (size_t i = 0; (item = fy_node_sequence_iterate(list, &vit)) != NULL; i++) {
            char vpath[PATH_BYTES + 32], text[SCALAR_MAX_BYTES];
            snprintf(vpath, sizeof vpath, "%s[%zu]", path, i);
            pos vpos = node_pos(item, key_pos);
            element e;
            st = decode_node_element(ctx, f, item, vpos, vpath, &e);
            if (st != MX_OK)
                return st;
            bool quoted;
            (void)scalar_text(item, text, &quoted); /* fits: decoded above */
            if (strlen(text) >= MX_CONFIG_VALUE_BYTES)
                return fail_at(ctx, vpos, vpath, "expected a value of at most %d characters, "
                               "got %zu", MX_CONFIG_VALUE_BYTES - 1, strlen(text));
            memcpy(cfg->axes[a].values[i], text, strlen(text) + 1);
        }
        cfg->axes[a].n_values = n;
        cfg->n_axes = a + 1;
    }
    return MX_OK;
}

/* libfyaml's diagnostics never reach stderr: errors are collected, and
 * anything printed is kept as a last resort message. */
typedef struct diag_capture {
    char text[256];
} diag_capture;

static void diag_output(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
    (void)diag;
    diag_capture *cap = user;
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
        len--;
    if (len)
        show_text(cap->text, sizeof cap->text, buf, len);
}

/* The first error libfyaml collected, as "file:line:col: syntax error: ...". */
static mx_status fail_syntax(const char *file, struct fy_diag *diag, const diag_capture *cap)
{
    void *it = NULL;
    struct fy_diag_error *e;
    while ((e = fy_diag_errors_iterate(diag, &it)) != NULL) {
        if (e->type < FYET_ERROR || !e->msg)
            continue;
        char shown[SHOW_MAX_CHARS * 4 + 8];
        show_text(shown, sizeof shown, e->msg, strlen(e->msg));
        return mx_fail(MX_EINVAL, "%s:%d:%d: syntax error: %s", file, e->line > 0 ? e->line : 1,
                       e->column > 0 ? e->column : 1, shown);
    }
    return mx_fail(MX_EINVAL, "%s:1:1: syntax error: %s", file,
                   cap->text[0] ? cap->text : "the YAML parser failed");
}

/* A libfyaml diagnostic object that never prints: errors are collected,
 * and anything it would print lands in `cap`. NULL if out of memory. */
static struct fy_diag *quiet_diag(diag_capture *cap)
{
    struct fy_diag_cfg dcfg;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.output_fn = diag_output;
    dcfg.user = cap;
    dcfg.level = FYET_ERROR;
    dcfg.colorize = false;
    dcfg.show_source = dcfg.show_position = dcfg.show_type = dcfg.show_module = false;
    struct fy_diag *diag = fy_diag_create(&dcfg);
    if (diag)
        fy_diag_set_collect_errors(diag, true);
    return diag;
}

/* Duplicate keys are let through so that we can name the field. */
#define PARSE_FLAGS (FYPCF_QUIET | FYPCF_ALLOW_DUPLICATE_KEYS | FYPCF_JSON_NONE)

/* Length of the well-formed UTF-8 sequence at s[0..n) (RFC 3629 §4: no
 * overlong forms, no surrogates, nothing above U+10FFFF), 0 when it is not
 * one. YAML text is Unicode (YAML 1.2 §5.2); libfyaml 0.7.12 loops forever on
 * some malformed bytes (a truncated sequence after '%', found by
 * tests/fuzz/fuzz_config), so they are rejected before it sees them. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
                                           : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F;
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

static mx_status check_utf8(const parse_ctx *ctx, const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    int line = 1, col = 1;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_sequence(s + i, len - i);
        if (k == 0)
            return mx_fail(MX_EINVAL, "%s:%d:%d: (top level): expected UTF-8 text, got the byte "
                           "0x%02X", ctx->file, line, col, (unsigned)s[i]);
        if (s[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
        i += k;
    }
    return MX_OK;
}

static mx_status parse_text(parse_ctx *ctx, const char *text, size_t len)
{
    mx_status utf8_st = check_utf8(ctx, text, len);
    if (utf8_st != MX_OK)
        return utf8_st;
    diag_capture cap = {{0}};
    struct fy_diag *diag = quiet_diag(&cap);
    if (!diag)
        return mx_fail(MX_ENOMEM, "%s: out of memory starting the YAML parser", ctx->file);
    struct fy_parse_cfg pcfg = {.flags = PARSE_FLAGS, .diag = diag};
    mx_status st = MX_OK;
    struct fy_document *doc = NULL, *extra = NULL;
    struct fy_parser *fyp = fy_parser_create(&pcfg);
    if (!fyp || fy_parser_set_string(fyp, text, len) != 0) {
        st = mx_fail(MX_ENOMEM, "%s: out of memory starting the YAML parser", ctx->file);
        goto done;
    }
    doc = fy_parse_load_document(fyp);
    if (doc && !fy_diag_got_error(diag))
        extra = fy_parse_load_document(fyp);
    if (fy_diag_got_error(diag)) {
        st = fail_syntax(ctx->file, diag, &cap);
        goto done;
    }
    if (extra) {
        st = fail_at(ctx, node_pos(fy_document_root(extra), (pos){0, 0}), "(top level)",
                     "expected a single YAML document, got more than one");
        goto done;
    }
    if (doc) /* no document at all (empty text, only comments) = all defaults */
        st = parse_section(ctx, fy_document_root(doc), "", (pos){1, 1});
done:
    if (extra)
        fy_parse_document_destroy(fyp, extra);
    if (doc)
        fy_parse_document_destroy(fyp, doc);
    if (fyp)
        fy_parser_destroy(fyp);
    fy_diag_destroy(diag);
    return st;
}

/* ------------------------------------------------ locating a failure */

/* The pair of `map` whose key is key[0..key_len). OUT key_pos (unchanged if
 * not found). */
static struct fy_node_pair *mapping_get(struct fy_node *map, const char *key, size_t key_len,
                                        pos *key_pos)
{
    if (!map || !fy_node_is_mapping(map))
        return NULL;
    void *it = NULL;
    struct fy_node_pair *pr;
    while ((pr = fy_node_mapping_iterate(map, &it)) != NULL) {
        struct fy_node *k = fy_node_pair_key(pr);
        size_t len = 0;
        const char *s = is_scalar_value(k) ? fy_node_get_scalar(k, &len) : NULL;
        if (s && len == key_len && memcmp(s, key, len) == 0) {
            *key_pos = node_pos(k, *key_pos);
            return pr;
        }
    }
    return NULL;
}

/* Does the scalar node hold the value field f has in `current`? */
static bool node_holds(struct fy_node *n, const field *f, const mx_experiment_config *current)
{
    char text[SCALAR_MAX_BYTES], why[MSG_BYTES], a[512], b[512];
    bool quoted;
    element e;
    if (!is_scalar_value(n) || !scalar_text(n, text, &quoted) ||
        !decode_element(f, text, quoted, &e, why, sizeof why))
        return false;
    strbuf sa = {a, sizeof a, 0}, sb = {b, sizeof b, 0};
    format_element(f, &e, &sa);
    format_value(current, f, &sb);
    return strcmp(a, b) == 0;
}

/* Where the YAML text sets field f (value_index < 0) or value value_index of
 * f's sweep axis; {0, 0} if nowhere. For a field, the place is given only if
 * it still holds the value `current` has: after an override by
 * mx_config_set, pointing at the file's line would mislead. Messages are
 * rare, so the text is simply parsed again rather than keeping every
 * position in the config. */
static pos text_pos(const char *text, const field *f, int value_index,
                    const mx_experiment_config *current)
{
    pos p = {0, 0};
    diag_capture cap = {{0}};
    struct fy_diag *diag = text ? quiet_diag(&cap) : NULL;
    if (!diag)
        return p;
    struct fy_parse_cfg pcfg = {.flags = PARSE_FLAGS, .diag = diag};
    struct fy_document *doc = fy_document_build_from_string(&pcfg, text, strlen(text));
    struct fy_node *n = doc ? fy_document_root(doc) : NULL;
    struct fy_node_pair *pr;
    pos at = {0, 0};
    if (n && value_index >= 0) {
        pr = mapping_get(n, "sweep", strlen("sweep"), &at);
        pr = pr ? mapping_get(fy_node_pair_value(pr), f->path, strlen(f->path), &at) : NULL;
        struct fy_node *list = pr ? fy_node_pair_value(pr) : NULL;
        struct fy_node *item =
            list && fy_node_is_sequence(list) ? fy_node_sequence_get_by_index(list, value_index)
                                              : NULL;
        if (item)
            p = node_pos(item, at);
    } else if (n) {
        for (const char *c = f->path;;) {
            size_t len = strcspn(c, ".");
            if (!(pr = mapping_get(n, c, len, &at)))
                break;
            n = fy_node_pair_value(pr);
            if (c[len] == '\0') {
                if (field_is_list(f) || node_holds(n, f, current))
                    p = n && fy_node_is_scalar(n) ? node_pos(n, at) : at;
                break;
            }
            c += len + 1;
        }
    }
    if (doc)
        fy_document_destroy(doc);
    fy_diag_destroy(diag);
    return p;
}

/* Rewrite the failure of a check_all(resolved) as "file:line:col: ...":
 * the place is that of the first blamed field `base` sets — its sweep value
 * of point idx if swept, else its own line. */
static mx_status locate_failure(mx_status st, const mx_experiment_config *base,
                                const mx_experiment_config *resolved, const field *const *blame,
                                const size_t *idx, const char *suffix)
{
    pos p = {0, 0};
    for (int b = 0; b < 2 && p.line == 0; b++) {
        if (!blame[b])
            continue;
        int a = axis_of(base, blame[b]);
        if (a >= 0 && idx) {
            p = text_pos(base->text, blame[b], (int)idx[a], resolved);
            if (p.line == 0)
                p = (pos){base->axes[a].line, base->axes[a].column};
        } else {
            p = text_pos(base->text, blame[b], -1, resolved);
        }
    }
    return locate(st, base->source_path, p, suffix);
}

/* ------------------------------------------------ validation and points */

mx_status mx_config_validate(const mx_experiment_config *cfg)
{
    assert(cfg);
    const field *blame[2];
    if (cfg->n_axes == 0 && !is_measured(cfg)) {
        mx_status st = check_all(cfg, blame);
        return st == MX_OK ? MX_OK : locate_failure(st, cfg, cfg, blame, NULL, "");
    }
    mx_experiment_config *work = mx_alloc(sizeof *work);
    if (!work)
        return mx_fail(MX_ENOMEM, "%s: out of memory validating the sweep", cfg->source_path);
    *work = *cfg;
    work->text = NULL;
    work->measured_curve = NULL;
    /* Measured curves are loaded to be checked, once per file in a row. */
    mx_measured_curve *curve = NULL;
    size_t n = mx_config_n_points(cfg);
    if (n > VALIDATE_MAX_POINTS)
        n = VALIDATE_MAX_POINTS;
    mx_status st = MX_OK;
    for (size_t k = 0; k < n && st == MX_OK; k++) {
        size_t idx[MX_SWEEP_MAX_AXES];
        point_indices(cfg, k, idx);
        blame[0] = blame[1] = NULL;
        /* apply_point sets every swept field; the device block is reset
         * because attaching a curve changes its window. */
        work->hardware.device = cfg->hardware.device;
        st = apply_point(work, idx);
        if (st == MX_OK && is_measured(work)) {
            st = attach_measured(work, &curve);
            if (st != MX_OK)
                blame[0] = field_find("hardware.device.measured.path");
        }
        if (st == MX_OK)
            st = check_all(work, blame);
        if (st != MX_OK) {
            char suffix[MSG_BYTES];
            point_suffix(cfg, k, idx, suffix, sizeof suffix);
            st = locate_failure(st, cfg, work, blame, idx, suffix);
        }
    }
    mx_measured_curve_free(curve);
    mx_free(work);
    return st;
}

size_t mx_config_n_points(const mx_experiment_config *cfg)
{
    assert(cfg);
    size_t n = 1;
    for (size_t a = 0; a < cfg->n_axes; a++)
        n *= cfg->axes[a].n_values; /* ≤ 64^8 = 2^48: no overflow */
    return n;
}

mx_status mx_config_point(const mx_experiment_config *cfg, size_t k, mx_experiment_config *out)
{
    assert(cfg && out && cfg != out);
    out->text = NULL; /* mx_config_free(out) is safe on every return */
    out->measured_curve = NULL;
    size_t n = mx_config_n_points(cfg);
    if (k >= n)
        return mx_fail(MX_EINVAL, "%s%ssweep: expected a point index below %zu, got %zu",
                       cfg->source_path, cfg->source_path[0] ? ": " : "", n, k);
    size_t idx[MX_SWEEP_MAX_AXES];
    point_indices(cfg, k, idx);
    *out = *cfg;
    out->text = NULL;
    out->measured_curve = NULL;
    out->hardware.device.measured.curve = NULL;
    const field *blame[2] = {NULL, NULL};
    mx_status st = apply_point(out, idx);
    if (st == MX_OK && is_measured(out)) {
        st = attach_measured(out, &out->measured_curve);
        if (st != MX_OK)
            blame[0] = field_find("hardware.device.measured.path");
    }
    if (st == MX_OK)
        st = check_all(out, blame);
    if (st == MX_OK)
        return MX_OK;
    mx_config_free(out); /* nothing left for the caller to release */
    char suffix[MSG_BYTES];
    point_suffix(cfg, k, idx, suffix, sizeof suffix);
    return locate_failure(st, cfg, out, blame, idx, suffix);
}

mx_status mx_config_parse(const char *text, size_t len, const char *source_path,
                          mx_experiment_config *cfg)
{
    assert(cfg && (text || len == 0));
    mx_config_default(cfg);
    snprintf(cfg->source_path, sizeof cfg->source_path, "%s",
             source_path && *source_path ? source_path : SOURCE_STRING);
    if (len == SIZE_MAX || !(cfg->text = mx_alloc(len + 1)))
        return mx_fail(MX_ENOMEM, "%s: out of memory copying the configuration",
                       cfg->source_path);
    if (len)
        memcpy(cfg->text, text, len);
    cfg->text[len] = '\0';

    parse_ctx ctx = {.file = cfg->source_path, .cfg = cfg};
    mx_status st = parse_text(&ctx, cfg->text, len);
    if (st != MX_OK)
        mx_config_free(cfg);
    else
        resolve_device(cfg);
    return st;
}

mx_status mx_config_load(const char *path, mx_experiment_config *cfg)
{
    assert(path && cfg);
    mx_config_default(cfg);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return mx_fail(MX_EIO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    mx_status st = MX_OK;
    for (;;) {
        if (len == cap) {
            if (cap >= CONFIG_FILE_MAX_BYTES) {
                st = mx_fail(MX_EIO, "%s: expected a configuration of at most %u bytes, got "
                             "more", path, CONFIG_FILE_MAX_BYTES);
                break;
            }
            size_t new_cap = cap ? cap * 2 : 4096;
            char *grown = mx_alloc(new_cap);
            if (!grown) {
                st = mx_fail(MX_ENOMEM, "%s: out of memory reading the file", path);
                break;
            }
            if (len)
                memcpy(grown, buf, len);
            mx_free(buf);
            buf = grown;
            cap = new_cap;
        }
        size_t got = fread(buf + len, 1, cap - len, fp);
        len += got;
        if (got == 0) {
            if (ferror(fp))
                st = mx_fail(MX_EIO, "%s: read error: %s", path, strerror(errno));
            break;
        }
    }
    fclose(fp);
    if (st == MX_OK)
        st = mx_config_parse(buf, len, path, cfg);
    mx_free(buf);
    return st;
}

const char *mx_config_default_text(void) { return mx_config_default_yaml; }

mx_status mx_config_load_default(mx_experiment_config *cfg)
{
    return mx_config_parse(mx_config_default_yaml, mx_config_default_yaml_len, SOURCE_BUILTIN,
                           cfg);
}

/* ------------------------------------------------ documentation */

static void doc_markdown(strbuf *sb)
{
    const char *section = NULL;
    size_t section_len = 0;
    for (size_t i = 0; i < N_FIELDS; i++) {
        const field *f = &fields[i];
        const char *dot = strrchr(f->path, '.');
        size_t len = dot ? (size_t)(dot - f->path) : 0;
        if (!section || len != section_len || strncmp(section, f->path, len) != 0) {
            if (section)
                sb_add(sb, "\n");
            if (len)
                sb_add(sb, "### `%.*s`\n\n", (int)len, f->path);
            else
                sb_add(sb, "### Top level\n\n");
            sb_add(sb, "| Field | Default | Valid values | Unit | Meaning |\n");
            sb_add(sb, "|---|---|---|---|---|\n");
            section = f->path;
            section_len = len;
        }
        char expect[256];
        describe_str(f, 0, false, expect, sizeof expect);
        sb_add(sb, "| `%s` | `%s` | %s | %s | %s%s |\n", f->path, f->def, expect, f->unit, f->doc,
               f->whole_run ? " (whole run: not sweepable)" : "");
    }
}

mx_status mx_config_doc_markdown(char **out)
{
    assert(out);
    *out = NULL;
    strbuf count = {NULL, 0, 0};
    doc_markdown(&count);
    char *text = mx_alloc(count.len + 1);
    if (!text)
        return mx_fail(MX_ENOMEM, "config documentation: out of memory");
    strbuf sb = {text, count.len + 1, 0};
    doc_markdown(&sb);
    *out = text;
    return MX_OK;
}
