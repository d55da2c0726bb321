/* SPDX-License-Identifier: MIT
 *
 * config.h: an experiment described in YAML (read with libfyaml), its
 * defaults, its validation, and its sweep. Every field has a dotted path
 * ("hardware.adc.bits") — the same path a sweep uses to vary it — a unit, a
 * default and a valid range, all in one field table (config.c) that also
 * drives the documentation (docs/config.md).
 *
 * The device block is resolved in layers: the model defaults, then the
 * published device named by hardware.device.preset (devices/presets.c), then
 * every hardware.device.* field the config writes explicitly (in the YAML,
 * by mx_config_set, or as a sweep value).
 *
 * Errors name the file, line and column, the field, and what was expected:
 *   examples/bad.yaml:12:9: hardware.adc.bits: expected an integer in [1, 16], got 0
 */
#ifndef MX_CONFIG_H
#define MX_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "adc/adc.h"
#include "calibration/threshold.h"
#include "core/core.h"
#include "crossbar/crossbar.h"
#include "devices/devices.h"
#include "energy/energy.h"
#include "snn/cnn.h"
#include "snn/mlp.h"
#include "snn/online.h"
#include "snn/snn.h"
#include "snn/stdp.h"
#include "snn/surrogate.h"
#include "snn/train.h"

#define MX_CONFIG_NAME_BYTES 64
#define MX_CONFIG_MAX_HIDDEN (MX_MLP_MAX_LAYERS - 1)
#define MX_SWEEP_MAX_AXES 8
#define MX_SWEEP_MAX_VALUES 64
#define MX_CONFIG_VALUE_BYTES 64
/* Capacity of the field table (config.c checks it at compile time). */
#define MX_CONFIG_MAX_FIELDS 384

typedef enum mx_training_mode {
    MX_TRAINING_PLAIN,       /* ordinary training */
    MX_TRAINING_NOISE_AWARE, /* weights perturbed by the device model at every minibatch */
    MX_TRAINING_HARDWARE_AWARE, /* every forward pass on the emulated hardware, gradients
                                   straight through in float (snn/hwa.h) */
} mx_training_mode;

/* Which network a conversion point runs on the crossbar (model.run_as). */
typedef enum mx_run_as {
    MX_RUN_AS_SNN, /* the MLP converted to a spiking network (snn/snn.h) */
    MX_RUN_AS_ANN, /* the trained MLP itself, DAC-driven, ReLU digitally (snn/ann.h) */
} mx_run_as;

/* What a sweep point runs (the top-level `experiment` field). */
typedef enum mx_experiment_kind {
    MX_EXPERIMENT_CONVERSION, /* train an ANN, convert it to an SNN, evaluate it on
                                 the crossbar (experiments/run.c) */
    MX_EXPERIMENT_ONLINE,     /* in-situ training through device pulses, NeuroSim
                                 style (experiments/online_run.c) */
    MX_EXPERIMENT_SURROGATE,  /* a spiking network trained directly with surrogate
                                 gradients (BPTT), evaluated on the crossbar
                                 (snn/surrogate.h, experiments/surrogate_run.c) */
    MX_EXPERIMENT_STDP,       /* unsupervised STDP (Diehl & Cook 2015), or stochastic
                                 STDP on binary devices (snn/stdp.h,
                                 experiments/stdp_run.c) */
} mx_experiment_kind;

typedef struct mx_experiment_config {
    uint64_t seed;     /* root seed of every random stream; 1 */
    size_t repeats;    /* independent repeats per sweep point (hardware redrawn); 1 */
    mx_experiment_kind experiment; /* MX_EXPERIMENT_CONVERSION */

    struct {
        char name[MX_CONFIG_NAME_BYTES]; /* "mnist" | "fashion-mnist" | "digits" |
                                            "poker-dvs"; "mnist" */
        size_t train_limit;   /* training examples used, 0 = all; 0 */
        size_t test_limit;    /* test examples evaluated, 0 = all; 2000 */
        size_t calibration_images; /* training images used for ADC range and
                                      threshold-balancing calibration; 200 */
        size_t event_steps;   /* time bins per event recording (poker-dvs):
                                 each recording's span in equal bins; 20 */
    } dataset;

    struct {
        size_t n_hidden;                      /* hidden layers; 1 */
        size_t hidden[MX_CONFIG_MAX_HIDDEN];  /* their widths; {500} */
        mx_run_as run_as;                     /* MX_RUN_AS_SNN */
        char weights[MX_DEVICE_PATH_BYTES];   /* trained elsewhere: a memxbar weight
                                                 file (scripts/export_torch.py) used
                                                 instead of training; "" */
    } model;

    struct {
        mx_train_config train;   /* optimizer, epochs, batch, rate (see mlp.h) */
        mx_training_mode mode;   /* MX_TRAINING_PLAIN */
        size_t noise_epochs;     /* noise-aware fine-tuning epochs, starting from
                                    the plain network; 2 */
        double noise_learning_rate; /* learning rate of the noise-aware fine-tuning; 3e-4 */
        double noise_sigma;      /* device variation σ used while training; < 0 =
                                    the evaluated device's d2d_sigma; -1 */
        size_t hwa_reprogram_every; /* hardware-aware: minibatches per chip instance; 1 */
        mx_hwa_backward hwa_backward; /* hardware-aware: MX_HWA_BACKWARD_CHIP */
    } training;

    mx_snn_config snn;           /* neurons, time steps, encoder, normalisation */
    mx_rebalance_config rebalance; /* hardware threshold re-balancing (calibration/
                                      threshold.h): YAML snn.threshold_rebalance,
                                      snn.threshold_rebalance_images */

    struct {
        char device_type[MX_CONFIG_NAME_BYTES]; /* registry name; "reram" */
        char device_preset[MX_CONFIG_NAME_BYTES]; /* preset name or "none"; "none" */
        mx_device_params device;  /* resolved: defaults, then the preset, then
                                     every device field written explicitly */
        mx_crossbar_config crossbar;
        mx_adc_config adc;
        mx_snn_readout_config readout; /* ADC + digital neuron, or ADC-less */
        mx_energy_config energy;       /* coefficients of the energy/latency/area model */
    } hardware;

    /* experiment: online-training (experiments/online_run.h). */
    struct {
        mx_online_config net;      /* hidden width, rates, ADC, hidden read-out,
                                      device or digital weights, pulse counts */
        size_t epochs;             /* training epochs; 125 (NeuroSim) */
        size_t images_per_epoch;   /* examples per epoch, drawn with replacement; 8000 */
        size_t crop;               /* side of the centre crop, pixels; 20; 0 = whole image */
        double binarise_threshold; /* input = [pixel ≥ threshold]; 0.5; 0 = grey levels */
        int baseline;              /* also train the digital reference once per repeat; 1 */
    } online;

    /* ---- learning methods' settings: one member each (their headers
     * define the structs, config.c's field table their YAML paths) ---- */
    mx_cnn_config cnn;           /* CNN conversion (snn/cnn.h): YAML model.conv_channels,
                                    model.conv_kernel, model.conv_padding, model.pool */
    mx_surrogate_config surrogate; /* experiment: surrogate (snn/surrogate.h) */
    mx_stdp_config stdp;         /* experiment: stdp (snn/stdp.h) */

    /* Sweep: axes of the cartesian product, first axis outermost. Values are
     * kept as their YAML text (validated at load time against the field). */
    size_t n_axes;
    struct {
        char path[MX_CONFIG_NAME_BYTES];
        size_t n_values;
        char values[MX_SWEEP_MAX_VALUES][MX_CONFIG_VALUE_BYTES];
        int line, column;  /* where the axis was written */
    } axes[MX_SWEEP_MAX_AXES];

    char source_path[256];  /* file it came from ("<built-in default>") */
    char *text;             /* the full YAML text (owned; freed by mx_config_free) */

    /* Bookkeeping of the device block (config.c; not for callers). Bit i:
     * field i of the table was written explicitly (YAML, mx_config_set or a
     * sweep value), so it overrides the preset. */
    uint8_t explicit_fields[MX_CONFIG_MAX_FIELDS / 8];
    int preset_applied;     /* the device block was last resolved with a preset */
    /* The curve of hardware.device.measured.path, loaded by mx_config_point
     * when the model is "measured" (owned; freed by mx_config_free); the
     * device block's measured.curve points at it. */
    mx_measured_curve *measured_curve;
} mx_experiment_config;

/* Defaults for every field (no sweep). */
void mx_config_default(mx_experiment_config *cfg);

/* Parse YAML text (`source_path` used in messages). Unknown keys, wrong
 * types, out-of-range values and bad sweep axes fail with MX_EINVAL and a
 * message "file:line:col: path: expected ..., got ...". Rules across fields
 * (g_min_s < g_max_s, ...) are left to mx_config_validate, so that overrides
 * by mx_config_set can still settle them. On failure *cfg is left freed (no
 * allocation to release). */
mx_status mx_config_parse(const char *text, size_t len, const char *source_path,
                          mx_experiment_config *cfg);
/* Read and parse a file; MX_EIO names the file if it cannot be read. */
mx_status mx_config_load(const char *path, mx_experiment_config *cfg);
/* The built-in default sweep (the text of examples/default.yaml). */
mx_status mx_config_load_default(mx_experiment_config *cfg);
const char *mx_config_default_text(void);

/* Every field's range and the cross-field checks (g_min_s < g_max_s, ...).
 * With sweep axes, every sweep point is checked (the first 65536), and a
 * failure names the point's swept values. Messages point at the offending
 * line of the config's text when it still holds the offending value. */
mx_status mx_config_validate(const mx_experiment_config *cfg);

/* Set one field by dotted path from its YAML text ("hardware.adc.bits", "6").
 * The field counts as written explicitly: a device field overrides the
 * preset's value, and setting hardware.device.preset re-resolves the device
 * block. MX_ENOTFOUND for an unknown path, MX_EINVAL for a bad value. */
mx_status mx_config_set(mx_experiment_config *cfg, const char *path, const char *value);
/* Write a field's current value as text into buf. */
mx_status mx_config_get(const mx_experiment_config *cfg, const char *path, char *buf,
                        size_t buf_size);
/* Is the field numeric (an integer, float or bool field)? 0 for choices, names,
 * lists and unknown paths. */
int mx_config_field_is_numeric(const char *path);

/* The field table, for callers that list fields (the CLI's `device show`):
 * the number of fields, and field i's path, unit, default and meaning
 * (static strings), in table order. Returns 0 / MX_ENOTFOUND past the end. */
typedef struct mx_config_field_info {
    const char *path;  /* "hardware.device.g_min_s" */
    const char *unit;  /* "S", "-" for none */
    const char *def;   /* default, as mx_config_get writes it */
    const char *doc;   /* one-line meaning */
    int numeric;       /* as mx_config_field_is_numeric */
} mx_config_field_info;
size_t mx_config_n_fields(void);
mx_status mx_config_field_at(size_t i, mx_config_field_info *out);

/* Number of sweep points (product of axis lengths; 1 with no axes). */
size_t mx_config_n_points(const mx_experiment_config *cfg);
/* Resolve sweep point k (0-based, first axis outermost) into `out`: a copy
 * of cfg with the swept fields set, the device block resolved (defaults,
 * preset, explicit fields), the measured curve loaded when the model is
 * "measured" (its path relative to the config file's folder), and
 * cross-field validation done. `out` shares nothing owned with cfg
 * (out->text is NULL); release it with mx_config_free. On failure nothing
 * is left to release. */
mx_status mx_config_point(const mx_experiment_config *cfg, size_t k,
                          mx_experiment_config *out);

void mx_config_free(mx_experiment_config *cfg);

/* The field reference of docs/config.md (every field's path, default, valid
 * values, unit and meaning, as Markdown tables), made from the same table the
 * loader uses. OUT: *text, allocated with mx_alloc (free with mx_free).
 * MX_ENOMEM on allocation failure. */
mx_status mx_config_doc_markdown(char **text);

/* A file path as the config means it: absolute, or relative to the folder
 * of the config file (to the working folder for a built-in or string
 * config). OUT buf (size). */
void mx_config_file_path(const mx_experiment_config *cfg, const char *path, char *buf,
                         size_t size);

#endif /* MX_CONFIG_H */
