/* SPDX-License-Identifier: MIT
 *
 * test_config.c: the experiment configuration — the defaults against the
 * documented schema, the built-in default sweep (examples/default.yaml,
 * embedded at build time) and its 24 points in mixed-radix order, every
 * documented error provoked with its exact one-line message
 * ("file:line:col: path: expected ..., got ..."), set/get round trips,
 * allocation failures, and docs/config.md kept equal to the field table.
 */
#include "tests/support/mx_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "experiments/config.h"

/* Every field and its documented default, written independently of the
 * field table in config.c (the schema in the design brief). */
static const char *const schema_defaults[][2] = {
    {"seed", "1"},
    {"repeats", "1"},
    {"dataset.name", "mnist"},
    {"dataset.train_limit", "0"},
    {"dataset.test_limit", "2000"},
    {"dataset.calibration_images", "200"},
    {"model.hidden", "[500]"},
    {"training.optimizer", "adam"},
    {"training.epochs", "15"},
    {"training.batch_size", "128"},
    {"training.learning_rate", "0.004"},
    {"training.lr_decay", "0.75"},
    {"training.momentum", "0.9"},
    {"training.weight_decay", "0"},
    {"training.mode", "plain"},
    {"training.noise_epochs", "2"},
    {"training.noise_learning_rate", "0.0003"},
    {"training.noise_sigma", "-1"},
    {"snn.neuron", "if"},
    {"snn.timesteps", "64"},
    {"snn.tau_mem_s", "0.02"},
    {"snn.dt_s", "0.001"},
    {"snn.encoder", "bernoulli"},
    {"snn.max_rate_hz", "1000"},
    {"snn.norm_percentile", "99.9"},
    {"hardware.device.type", "reram"},
    {"hardware.device.preset", "none"},
    {"hardware.device.g_min_s", "1e-06"},
    {"hardware.device.g_max_s", "1e-05"},
    {"hardware.device.levels", "0"},
    {"hardware.device.d2d_sigma", "0"},
    {"hardware.device.prog_noise", "[0, 0, 0]"},
    {"hardware.device.read_noise_sigma", "0"},
    {"hardware.device.stuck_at_gmin", "0"},
    {"hardware.device.stuck_at_gmax", "0"},
    {"hardware.device.t_inference_s", "0"},
    {"hardware.device.drift_t0_s", "20"},
    {"hardware.device.read_time_s", "2.5e-07"},
    /* The pulse-level and dynamic models' blocks (devices.h, cell.c). */
    {"hardware.device.endurance_cycles", "0"},
    {"hardware.device.endurance_onset", "1000"},
    {"hardware.device.endurance_floor", "0.1"},
    {"hardware.device.temperature_k", "300"},
    {"hardware.device.iv.kind", "linear"},
    {"hardware.device.iv.v_read_v", "0.2"},
    {"hardware.device.iv.sinh_b_per_v", "3"},
    {"hardware.device.iv.nl", "10"},
    {"hardware.device.iv.v_write_v", "1"},
    {"hardware.device.pulse.v_ltp_v", "1"},
    {"hardware.device.pulse.width_ltp_s", "1e-07"},
    {"hardware.device.pulse.v_ltd_v", "1"},
    {"hardware.device.pulse.width_ltd_s", "1e-07"},
    {"hardware.device.nonlinear.nl_ltp", "1"},
    {"hardware.device.nonlinear.nl_ltd", "-1"},
    {"hardware.device.nonlinear.states_ltp", "100"},
    {"hardware.device.nonlinear.states_ltd", "100"},
    {"hardware.device.nonlinear.c2c_sigma", "0"},
    {"hardware.device.nonlinear.d2d_nl_sigma", "0"},
    {"hardware.device.step.kind", "constant"},
    {"hardware.device.step.dw_min", "0.01"},
    {"hardware.device.step.dw_min_dtod", "0.3"},
    {"hardware.device.step.dw_min_std", "0.3"},
    {"hardware.device.step.up_down", "0"},
    {"hardware.device.step.up_down_dtod", "0.01"},
    {"hardware.device.step.bounds_dtod", "0"},
    {"hardware.device.step.gamma_up", "0"},
    {"hardware.device.step.gamma_down", "0"},
    {"hardware.device.step.gamma_dtod", "0"},
    {"hardware.device.step.exp_a_up", "0.00081"},
    {"hardware.device.step.exp_a_down", "0.36833"},
    {"hardware.device.step.exp_gamma_up", "12.44625"},
    {"hardware.device.step.exp_gamma_down", "12.78785"},
    {"hardware.device.step.exp_a", "0.244"},
    {"hardware.device.step.exp_b", "0.2425"},
    {"hardware.device.step.pow_gamma", "1"},
    {"hardware.device.step.pow_gamma_dtod", "0"},
    {"hardware.device.binary.tau0_s", "285000"},
    {"hardware.device.binary.v0_v", "0.155"},
    {"hardware.device.binary.tau0_d2d", "0"},
    {"hardware.device.binary.v0_d2d", "0"},
    {"hardware.device.dynamic.window", "joglekar"},
    {"hardware.device.dynamic.window_p", "1"},
    {"hardware.device.dynamic.window_j", "1"},
    {"hardware.device.dynamic.r_on_ohm", "100"},
    {"hardware.device.dynamic.r_off_ohm", "16000"},
    {"hardware.device.dynamic.d_m", "1e-08"},
    {"hardware.device.dynamic.mu_v", "1e-14"},
    {"hardware.device.dynamic.x0", "0.5"},
    {"hardware.device.dynamic.k_on_m_per_s", "-10"},
    {"hardware.device.dynamic.k_off_m_per_s", "0.0005"},
    {"hardware.device.dynamic.alpha_on", "3"},
    {"hardware.device.dynamic.alpha_off", "1"},
    {"hardware.device.dynamic.v_on_v", "-0.2"},
    {"hardware.device.dynamic.v_off_v", "0.02"},
    {"hardware.device.dynamic.vteam_r_on_ohm", "50"},
    {"hardware.device.dynamic.vteam_r_off_ohm", "1000"},
    {"hardware.device.dynamic.vteam_d_m", "3e-09"},
    {"hardware.device.dynamic.vteam_iv", "linear"},
    {"hardware.device.dynamic.d2d_sigma_r", "0"},
    {"hardware.device.dynamic.ode_rel_tol", "1e-06"},
    {"hardware.device.measured.path", ""},
    {"hardware.device.measured.spread_scale", "1"},
    {"hardware.crossbar.tile_rows", "128"},
    {"hardware.crossbar.tile_cols", "128"},
    {"hardware.crossbar.read_voltage_v", "0.2"},
    {"hardware.crossbar.input", "spikes"},
    {"hardware.crossbar.dac_bits", "8"},
    {"hardware.crossbar.input_full_scale", "1"},
    {"hardware.crossbar.noise", "output-referred"},
    {"hardware.adc.type", "uniform"},
    {"hardware.adc.bits", "8"},
    {"hardware.adc.range_percentile", "99.9"},
};
#define N_SCHEMA (sizeof schema_defaults / sizeof schema_defaults[0])

static void assert_field(const mx_experiment_config *cfg, const char *path, const char *want)
{
    char got[256];
    assert_int_equal(mx_config_get(cfg, path, got, sizeof got), MX_OK);
    if (strcmp(got, want) != 0) {
        print_error("%s: expected '%s', got '%s'\n", path, want, got);
        fail();
    }
}

static void assert_message(const char *want)
{
    if (strcmp(mx_last_error(), want) != 0) {
        print_error("expected the message\n  '%s'\ngot\n  '%s'\n", want, mx_last_error());
        fail();
    }
}

/* Parsing `yaml` as t.yaml fails with exactly `want` and leaves nothing
 * allocated. */
static void expect_parse_error(const char *yaml, const char *want)
{
    mx_experiment_config cfg;
    assert_int_equal(mx_config_parse(yaml, strlen(yaml), "t.yaml", &cfg), MX_EINVAL);
    assert_null(cfg.text);
    assert_message(want);
}

/* Parsing `yaml` succeeds, and validation fails with exactly `want`. */
static void expect_validate_error(const char *yaml, const char *want)
{
    mx_experiment_config cfg;
    assert_int_equal(mx_config_parse(yaml, strlen(yaml), "t.yaml", &cfg), MX_OK);
    assert_int_equal(mx_config_validate(&cfg), MX_EINVAL);
    assert_message(want);
    mx_config_free(&cfg);
}

static char *read_source_file(const char *relative, size_t *len)
{
    const char *root = getenv("MEMXBAR_SOURCE_ROOT");
    if (!root)
        return NULL;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, relative);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n == cap) {
            cap = cap ? 2 * cap : 65536;
            char *grown = realloc(buf, cap + 1);
            assert_non_null(grown);
            buf = grown;
        }
        got = fread(buf + n, 1, cap - n, fp);
        n += got;
    } while (got > 0);
    fclose(fp);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* ------------------------------------------------------------ defaults */

static void test_defaults_match_the_documented_schema(void **state)
{
    (void)state;
    mx_experiment_config cfg;
    mx_config_default(&cfg);
    for (size_t i = 0; i < N_SCHEMA; i++)
        assert_field(&cfg, schema_defaults[i][0], schema_defaults[i][1]);
    assert_int_equal(cfg.model.n_hidden, 1);
    assert_int_equal(cfg.model.hidden[0], 500);
    assert_int_equal(cfg.hardware.adc.kind, MX_ADC_UNIFORM);
    assert_int_equal(cfg.training.mode, MX_TRAINING_PLAIN);
    assert_int_equal(cfg.n_axes, 0);
    assert_int_equal(mx_config_n_points(&cfg), 1);
    assert_null(cfg.text);
    assert_int_equal(mx_config_validate(&cfg), MX_OK);
    mx_config_free(&cfg);
    mx_config_free(&cfg); /* twice is harmless */
}

static void test_empty_or_comment_only_text_gives_the_defaults(void **state)
{
    (void)state;
    static const char *const texts[] = {"", "# nothing here\n", "---\n", "hardware:\n  adc:\n"};
    mx_experiment_config def;
    mx_config_default(&def);
    for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
        mx_experiment_config cfg;
        assert_int_equal(mx_config_parse(texts[t], strlen(texts[t]), "e.yaml", &cfg), MX_OK);
        for (size_t i = 0; i < N_SCHEMA; i++)
            assert_field(&cfg, schema_defaults[i][0], schema_defaults[i][1]);
        assert_int_equal(mx_config_n_points(&cfg), 1);
        assert_string_equal(cfg.source_path, "e.yaml");
        mx_config_free(&cfg);
    }
}

/* ---------------------------------------------------- built-in default */

static void test_builtin_default_parses_with_24_points_in_the_documented_order(void **state)
{
    (void)state;
    mx_experiment_config cfg;
    assert_int_equal(mx_config_load_default(&cfg), MX_OK);
    assert_string_equal(cfg.source_path, "<built-in default>");
    assert_int_equal(mx_config_n_points(&cfg), 24);
    assert_int_equal(cfg.n_axes, 3);
    assert_string_equal(cfg.axes[0].path, "hardware.device.d2d_sigma");
    assert_string_equal(cfg.axes[1].path, "hardware.adc.bits");
    assert_string_equal(cfg.axes[2].path, "training.mode");
    assert_int_equal(cfg.axes[0].n_values, 4);
    assert_int_equal(cfg.axes[1].n_values, 3);
    assert_int_equal(cfg.axes[2].n_values, 2);
    assert_string_equal(cfg.axes[2].values[1], "noise-aware");
    assert_true(cfg.axes[0].line > 0 && cfg.axes[0].column > 0);
    assert_int_equal(mx_config_validate(&cfg), MX_OK);
    mx_config_free(&cfg);
}

static void test_builtin_default_writes_out_every_default(void **state)
{
    (void)state;
    mx_experiment_config cfg;
    assert_int_equal(mx_config_load_default(&cfg), MX_OK);
    for (size_t i = 0; i < N_SCHEMA; i++)
        assert_field(&cfg, schema_defaults[i][0], schema_defaults[i][1]);
    mx_config_free(&cfg);
}

static void test_builtin_default_text_is_examples_default_yaml(void **state)
{
    (void)state;
    size_t len;
    char *file = read_source_file("examples/default.yaml", &len);
    if (!file)
        skip();
    assert_string_equal(mx_config_default_text(), file);
    free(file);
}

static void test_point_k_decodes_mixed_radix_with_the_first_axis_outermost(void **state)
{
    (void)state;
    mx_experiment_config cfg;
    assert_int_equal(mx_config_load_default(&cfg), MX_OK);
    static const char *const sigma[] = {"0", "0.1", "0.2", "0.3"};
    static const char *const bits[] = {"4", "6", "8"};
    static const char *const mode[] = {"plain", "noise-aware"};
    for (size_t k = 0; k < 24; k++) {
        mx_experiment_config pt;
        assert_int_equal(mx_config_point(&cfg, k, &pt), MX_OK);
        assert_field(&pt, "hardware.device.d2d_sigma", sigma[k / 6]);
        assert_field(&pt, "hardware.adc.bits", bits[k / 2 % 3]);
        assert_field(&pt, "training.mode", mode[k % 2]);
        assert_field(&pt, "dataset.test_limit", "2000");
        assert_null(pt.text);
        mx_config_free(&pt);
    }
    mx_experiment_config pt;
    assert_int_equal(mx_config_point(&cfg, 7, &pt), MX_OK);
    assert_close(pt.hardware.device.d2d_sigma, 0.1, 0.0, 0.0);
    assert_int_equal(pt.hardware.adc.bits, 4);
    assert_int_equal(pt.training.mode, MX_TRAINING_NOISE_AWARE);
    assert_int_equal(mx_config_point(&cfg, 24, &pt), MX_EINVAL);
    assert_message("<built-in default>: sweep: expected a point index below 24, got 24");
    mx_config_free(&cfg);
}

/* ------------------------------------------------------- parse errors */

static void test_unknown_key_lists_the_keys_of_its_section(void **state)
{
    (void)state;
    expect_parse_error("hardware:\n  adc:\n    bitz: 3\n",
                       "t.yaml:3:5: hardware.adc.bitz: unknown key (expected one of: type, bits, "
                       "polarity, range_mode, range_percentile, log_dynamic_range, "
                       "cap_mismatch_sigma, offset_sigma_lsb, noise_sigma_lsb, gain_sigma, columns_per_adc)");
    expect_parse_error("seed: 1\nhardwre: {}\n",
                       "t.yaml:2:1: hardwre: unknown key (expected one of: seed, repeats, experiment, "
                       "dataset, model, training, snn, hardware, online, surrogate, stdp, sweep)");
}

static void test_wrong_types_are_named(void **state)
{
    (void)state;
    expect_parse_error("hardware:\n  adc:\n    bits: \"8\"\n",
                       "t.yaml:3:11: hardware.adc.bits: expected an integer in [1, 16], got the "
                       "string \"8\"");
    expect_parse_error("hardware:\n  adc:\n    bits: {a: 1}\n",
                       "t.yaml:3:5: hardware.adc.bits: expected an integer in [1, 16], got a "
                       "mapping");
    expect_parse_error("hardware:\n  adc:\n    bits: eight\n",
                       "t.yaml:3:11: hardware.adc.bits: expected an integer in [1, 16], got "
                       "\"eight\"");
    expect_parse_error("hardware:\n  adc:\n    bits: 8.5\n",
                       "t.yaml:3:11: hardware.adc.bits: expected an integer in [1, 16], got 8.5");
    expect_parse_error("hardware:\n  adc:\n    bits:\n",
                       "t.yaml:3:5: hardware.adc.bits: expected an integer in [1, 16], got null");
    expect_parse_error("hardware: 5\n", "t.yaml:1:11: hardware: expected a mapping, got a scalar");
    expect_parse_error("- 1\n", "t.yaml:1:3: (top level): expected a mapping, got a list");
    expect_parse_error("training:\n  learning_rate: fast\n",
                       "t.yaml:2:18: training.learning_rate: expected a number > 0, got \"fast\"");
    expect_parse_error("training:\n  mode: fancy\n",
                       "t.yaml:2:9: training.mode: expected one of: plain, noise-aware, hardware-aware, got "
                       "\"fancy\"");
    /* The choices are the registry's, whatever it holds. */
    char want[1024];
    int used = snprintf(want, sizeof want, "t.yaml:3:11: hardware.device.type: expected one of: ");
    const mx_device_type *const *types = mx_device_types();
    for (size_t i = 0; types[i]; i++)
        used += snprintf(want + used, sizeof want - (size_t)used, "%s%s", i ? ", " : "",
                         types[i]->name);
    snprintf(want + used, sizeof want - (size_t)used, ", got \"flash\"");
    assert_non_null(strstr(want, "reram, pcm"));
    expect_parse_error("hardware:\n  device:\n    type: flash\n", want);
    expect_parse_error("seed: -1\n",
                       "t.yaml:1:7: seed: expected an integer in [0, 18446744073709551615], got -1");
    expect_parse_error("base: &b 3\nseed: *b\n",
                       "t.yaml:1:1: base: unknown key (expected one of: seed, repeats, experiment, "
                       "dataset, model, training, snn, hardware, online, surrogate, stdp, sweep)");
    expect_parse_error("seed: *b\n", "t.yaml:1:7: seed: expected an integer in [0, "
                                     "18446744073709551615], got an alias (anchors and aliases "
                                     "are not supported)");
}

static void test_out_of_range_values_are_named_with_their_range(void **state)
{
    (void)state;
    expect_parse_error("hardware:\n  device:\n    d2d_sigma: -0.1\n",
                       "t.yaml:3:16: hardware.device.d2d_sigma: expected a number >= 0, got -0.1");
    expect_parse_error("hardware:\n  device:\n    d2d_sigma: 11\n",
                       "t.yaml:3:16: hardware.device.d2d_sigma: expected a number <= 10, got 11");
    expect_parse_error("hardware:\n  adc:\n    bits: 0\n",
                       "t.yaml:3:11: hardware.adc.bits: expected an integer in [1, 16], got 0");
    expect_parse_error("hardware:\n  adc:\n    bits: 17\n",
                       "t.yaml:3:11: hardware.adc.bits: expected an integer in [1, 16], got 17");
    expect_parse_error("hardware:\n  crossbar: {tile_rows: 0}\n",
                       "t.yaml:2:25: hardware.crossbar.tile_rows: expected an integer in [1, "
                       "65536], got 0");
    expect_parse_error("hardware:\n  device:\n    levels: 1\n",
                       "t.yaml:3:13: hardware.device.levels: expected 0 or an integer in [2, "
                       "65536], got 1");
    expect_parse_error("training:\n  lr_decay: 0\n",
                       "t.yaml:2:13: training.lr_decay: expected a number in (0, 1], got 0");
    expect_parse_error("training:\n  momentum: 1\n",
                       "t.yaml:2:13: training.momentum: expected a number in [0, 1), got 1");
    expect_parse_error("dataset:\n  train_limit: -5\n",
                       "t.yaml:2:16: dataset.train_limit: expected an integer >= 0, got -5");
    expect_parse_error("snn: {timesteps: 100001}\n",
                       "t.yaml:1:18: snn.timesteps: expected an integer in [1, 100000], got "
                       "100001");
}

static void test_list_fields_check_their_length_and_items(void **state)
{
    (void)state;
    expect_parse_error("model:\n  hidden: [100, 0]\n",
                       "t.yaml:2:17: model.hidden[1]: expected an integer >= 1, got 0");
    /* An empty list parses (a CNN may have no dense hidden layer) and is
     * refused for an MLP when the config is validated. */
    expect_validate_error("model:\n  hidden: []\n",
                          "t.yaml:2:3: model.hidden: expected at least one hidden layer without "
                          "model.conv_channels, got []");
    expect_parse_error("model:\n  hidden: [1, 2, 3, 4, 5, 6, 7, 8]\n",
                       "t.yaml:2:3: model.hidden: expected a list of 0 to 7 integers >= 1, got 8 "
                       "values");
    expect_parse_error("model:\n  hidden: 500\n",
                       "t.yaml:2:11: model.hidden: expected a list of 0 to 7 integers >= 1, got a "
                       "scalar");
    expect_parse_error("hardware:\n  device:\n    prog_noise: [1, 2]\n",
                       "t.yaml:3:5: hardware.device.prog_noise: expected a list of 3 numbers, got "
                       "2 values");

    mx_experiment_config cfg;
    static const char ok[] = "model:\n  hidden: [300, 100]\nhardware:\n  device:\n"
                             "    prog_noise: [0.01, 0.002, 0]\n";
    assert_int_equal(mx_config_parse(ok, strlen(ok), "t.yaml", &cfg), MX_OK);
    assert_int_equal(cfg.model.n_hidden, 2);
    assert_int_equal(cfg.model.hidden[1], 100);
    assert_close(cfg.hardware.device.prog_noise_coeffs[1], 0.002, 0.0, 0.0);
    mx_config_free(&cfg);
}

static void test_duplicate_keys_name_the_first_place(void **state)
{
    (void)state;
    expect_parse_error("seed: 3\nseed: 4\n",
                       "t.yaml:2:1: seed: expected each key once, got it again (first at line 1, "
                       "column 1)");
    expect_parse_error("hardware:\n  adc: {bits: 4}\n  adc: {bits: 6}\n",
                       "t.yaml:3:3: hardware.adc: expected each key once, got it again (first at "
                       "line 2, column 3)");
}

static void test_syntax_errors_carry_the_parsers_message(void **state)
{
    (void)state;
    expect_parse_error("seed: 1\nmodel:\n  hidden: [500\n",
                       "t.yaml:4:1: syntax error: flow sequence without a closing bracket");
    expect_parse_error("a: \"\\q\"\n", "t.yaml:1:5: syntax error: invalid escape 'q' in "
                                        "double-quoted string");
    expect_parse_error("seed: 1\n---\nseed: 2\n",
                       "t.yaml:3:1: (top level): expected a single YAML document, got more than "
                       "one");
}

static void test_sweep_errors_point_at_the_axis_or_the_value(void **state)
{
    (void)state;
    expect_parse_error("sweep:\n  hardware.adc.bitz: [1]\n",
                       "t.yaml:2:3: sweep.hardware.adc.bitz: unknown field path (expected a field "
                       "such as hardware.adc.bits; see docs/config.md)");
    /* The bad value is on its own line, two below the axis. */
    expect_parse_error("seed: 1\nsweep:\n  hardware.adc.bits:\n    - 4\n    - 17\n",
                       "t.yaml:5:7: sweep.hardware.adc.bits[1]: expected an integer in [1, 16], "
                       "got 17");
    expect_parse_error("sweep:\n  hardware.adc.bits: []\n",
                       "t.yaml:2:3: sweep.hardware.adc.bits: expected a non-empty list of values, "
                       "got an empty list");
    expect_parse_error("sweep:\n  hardware.adc.bits: 4\n",
                       "t.yaml:2:3: sweep.hardware.adc.bits: expected a non-empty list of values, "
                       "got a scalar");
    expect_parse_error("sweep: [1, 2]\n",
                       "t.yaml:1:9: sweep: expected a mapping from field paths to lists of values, "
                       "got a list");
    expect_parse_error("sweep:\n  model.hidden: [[100], [200]]\n",
                       "t.yaml:2:3: sweep.model.hidden: expected a field with a single value, got "
                       "a list-valued field (sweeping lists is not supported in this version)");
    /* Fields that shape the whole run (data loaded once, the repeat loop)
     * would be silently ignored per point: refused. */
    expect_parse_error("sweep:\n  dataset.name: [mnist, digits]\n",
                       "t.yaml:2:3: sweep.dataset.name: expected a field that can vary between "
                       "sweep points, got one that applies to the whole run (run one sweep per "
                       "value instead)");
    expect_parse_error("sweep:\n  repeats: [1, 2]\n",
                       "t.yaml:2:3: sweep.repeats: expected a field that can vary between sweep "
                       "points, got one that applies to the whole run (run one sweep per value "
                       "instead)");
    expect_parse_error("sweep:\n  training.mode: [plain, clever]\n",
                       "t.yaml:2:26: sweep.training.mode[1]: expected one of: plain, noise-aware, "
                       "hardware-aware, got \"clever\"");
    expect_parse_error("sweep:\n  seed: [1, 2]\n  seed: [3]\n",
                       "t.yaml:3:3: sweep.seed: expected each key once, got it again (first at "
                       "line 2, column 3)");
}

static void test_sweeps_beyond_the_axis_and_value_limits_are_refused(void **state)
{
    (void)state;
    static const char *const paths[] = {
        "seed", "dataset.calibration_images", "training.batch_size", "training.epochs",
        "snn.timesteps",
        "snn.dt_s", "hardware.adc.bits", "hardware.crossbar.dac_bits", "hardware.device.levels"};
    char yaml[4096];
    size_t n = (size_t)snprintf(yaml, sizeof yaml, "sweep:\n");
    for (size_t a = 0; a < MX_SWEEP_MAX_AXES + 1; a++)
        n += (size_t)snprintf(yaml + n, sizeof yaml - n, "  %s: [%d]\n", paths[a],
                              a == 8 ? 0 : 1);
    expect_parse_error(yaml, "t.yaml:10:3: sweep: expected at most 8 axes, got more");

    n = (size_t)snprintf(yaml, sizeof yaml, "sweep:\n  seed: [");
    for (int v = 0; v < MX_SWEEP_MAX_VALUES + 1; v++)
        n += (size_t)snprintf(yaml + n, sizeof yaml - n, "%s%d", v ? ", " : "", v);
    snprintf(yaml + n, sizeof yaml - n, "]\n");
    expect_parse_error(yaml, "t.yaml:2:3: sweep.seed: expected at most 64 values, got 65");
}

/* ------------------------------------------------- cross-field checks */

static void test_g_min_not_below_g_max_is_refused_at_its_line(void **state)
{
    (void)state;
    expect_validate_error("hardware:\n  device:\n    g_min_s: 2.0e-5\n",
                          "t.yaml:3:14: hardware.device.g_min_s: expected less than "
                          "hardware.device.g_max_s (1e-05), got 2e-05");
    /* Only g_max_s written: the message points there. */
    expect_validate_error("hardware:\n  device:\n    g_max_s: 1.0e-7\n",
                          "t.yaml:3:14: hardware.device.g_min_s: expected less than "
                          "hardware.device.g_max_s (1e-07), got 1e-06");
}

static void test_other_cross_field_rules_are_enforced(void **state)
{
    (void)state;
    expect_validate_error("hardware:\n  device:\n    stuck_at_gmin: 0.6\n    stuck_at_gmax: 0.6\n",
                          "t.yaml:4:20: hardware.device.stuck_at_gmax: expected at most 1 - "
                          "hardware.device.stuck_at_gmin = 0.4, got 0.6");
    expect_validate_error("dataset:\n  train_limit: 100\n",
                          "t.yaml:2:16: training.batch_size: expected at most "
                          "dataset.train_limit (100), got 128");
    expect_validate_error("dataset:\n  name: digits\n  calibration_images: 1500\n",
                          "t.yaml:3:23: dataset.calibration_images: expected at most the 1000 "
                          "training examples of digits, got 1500");
    /* Threshold re-balancing acts on the MLP conversion's spiking network. */
    expect_validate_error("model:\n  run_as: ann\nhardware:\n  crossbar:\n    input: dac\n"
                          "snn:\n  threshold_rebalance: layer\n",
                          "t.yaml:7:24: snn.threshold_rebalance: expected none except with "
                          "experiment conversion of an MLP run as an SNN, got layer");
}

static void test_pcm_and_its_time_fields_parse_and_are_checked(void **state)
{
    (void)state;
    static const char yaml[] = "hardware:\n  device:\n    type: pcm\n    g_max_s: 2.5e-5\n"
                               "    t_inference_s: 3600\n    drift_t0_s: 15\n"
                               "    read_time_s: 1.0e-6\n";
    mx_experiment_config cfg;
    assert_int_equal(mx_config_parse(yaml, strlen(yaml), "t.yaml", &cfg), MX_OK);
    assert_int_equal(mx_config_validate(&cfg), MX_OK);
    assert_field(&cfg, "hardware.device.type", "pcm");
    assert_field(&cfg, "hardware.device.t_inference_s", "3600");
    assert_field(&cfg, "hardware.device.drift_t0_s", "15");
    assert_field(&cfg, "hardware.device.read_time_s", "1e-06");
    mx_config_free(&cfg);
    expect_parse_error("hardware:\n  device:\n    t_inference_s: -1\n",
                       "t.yaml:3:20: hardware.device.t_inference_s: expected a number >= 0, "
                       "got -1");
    expect_parse_error("hardware:\n  device:\n    drift_t0_s: 0\n",
                       "t.yaml:3:17: hardware.device.drift_t0_s: expected a number > 0, got 0");
    expect_parse_error("hardware:\n  device:\n    read_time_s: -2.5e-7\n",
                       "t.yaml:3:18: hardware.device.read_time_s: expected a number > 0, got "
                       "-2.5e-7");
    /* The pcm model draws its own programming noise: a reram variation knob
     * is refused rather than silently ignored, at its line. */
    expect_validate_error("hardware:\n  device:\n    type: pcm\n    d2d_sigma: 0.1\n",
                          "t.yaml:4:16: hardware.device.d2d_sigma: expected 0 for the pcm "
                          "model (it draws its own published programming noise), got 0.1");
}

static void test_a_failing_sweep_point_is_named_with_its_values(void **state)
{
    (void)state;
    static const char yaml[] = "sweep:\n"
                               "  hardware.device.g_min_s: [1.0e-6, 2.0e-5]\n"
                               "  hardware.adc.bits: [4, 6]\n";
    mx_experiment_config cfg, pt;
    assert_int_equal(mx_config_parse(yaml, strlen(yaml), "t.yaml", &cfg), MX_OK);
    assert_int_equal(mx_config_validate(&cfg), MX_EINVAL);
    assert_message("t.yaml:2:37: hardware.device.g_min_s: expected less than "
                   "hardware.device.g_max_s (1e-05), got 2e-05 (at sweep point 2: "
                   "hardware.device.g_min_s=2.0e-5, hardware.adc.bits=4)");
    assert_int_equal(mx_config_point(&cfg, 1, &pt), MX_OK);
    assert_int_equal(mx_config_point(&cfg, 3, &pt), MX_EINVAL);
    assert_message("t.yaml:2:37: hardware.device.g_min_s: expected less than "
                   "hardware.device.g_max_s (1e-05), got 2e-05 (at sweep point 3: "
                   "hardware.device.g_min_s=2.0e-5, hardware.adc.bits=6)");
    mx_config_free(&cfg);
}

static void test_a_sweep_can_settle_what_the_base_values_break(void **state)
{
    (void)state;
    /* The base g_min_s (1e-6) is above g_max_s, but every point sets g_min_s. */
    static const char yaml[] = "hardware:\n  device:\n    g_max_s: 1.0e-7\n"
                               "sweep:\n  hardware.device.g_min_s: [1.0e-9, 1.0e-8]\n";
    mx_experiment_config cfg;
    assert_int_equal(mx_config_parse(yaml, strlen(yaml), "t.yaml", &cfg), MX_OK);
    assert_int_equal(mx_config_validate(&cfg), MX_OK);
    mx_config_free(&cfg);
}

static void test_an_overridden_value_is_not_blamed_on_the_file(void **state)
{
    (void)state;
    static const char yaml[] = "hardware:\n  device:\n    g_min_s: 2.0e-6\n";
    mx_experiment_config cfg;
    assert_int_equal(mx_config_parse(yaml, strlen(yaml), "t.yaml", &cfg), MX_OK);
    assert_int_equal(mx_config_validate(&cfg), MX_OK);
    assert_int_equal(mx_config_set(&cfg, "hardware.device.g_min_s", "3e-5"), MX_OK);
    assert_int_equal(mx_config_validate(&cfg), MX_EINVAL);
    assert_message("t.yaml: hardware.device.g_min_s: expected less than hardware.device.g_max_s "
                   "(1e-05), got 3e-05");
    mx_config_free(&cfg);
}

static void test_every_message_is_one_line_starting_with_file_line_column(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "seed: [1\n",
        "hardware:\n  adc:\n    bitz: 3\n",
        "\"we\\tird\\nkey\": 1\n",
        "dataset:\n  name: \"mn\\nist\"\n",
        "dataset:\n  name: |\n    two\n    lines\n",
        "sweep:\n  \"a\\nb\": [1]\n",
        "snn:\n  dt_s: 1e999\n",
        "seed: 18446744073709551616\n",
        "hardware:\n  device:\n    type: "
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
        "{[1]: 2}\n",
        "\t- tab\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mx_experiment_config cfg;
        assert_int_equal(mx_config_parse(bad[i], strlen(bad[i]), "t.yaml", &cfg), MX_EINVAL);
        const char *msg = mx_last_error();
        int line = 0, col = 0, used = 0;
        if (sscanf(msg, "t.yaml:%d:%d: %n", &line, &col, &used) != 2 || used == 0 ||
            line < 1 || col < 1 || strchr(msg, '\n') || strlen(msg) > 400) {
            print_error("case %zu: not a one-line located message: '%s'\n", i, msg);
            fail();
        }
        assert_null(cfg.text);
    }
}

/* ---------------------------------------------------------- set / get */

static void test_set_then_get_round_trips_every_field(void **state)
{
    (void)state;
    mx_experiment_config cfg;
    mx_config_default(&cfg);
    for (size_t i = 0; i < N_SCHEMA; i++) {
        char text[256];
        assert_int_equal(mx_config_get(&cfg, schema_defaults[i][0], text, sizeof text), MX_OK);
        assert_int_equal(mx_config_set(&cfg, schema_defaults[i][0], text), MX_OK);
        assert_field(&cfg, schema_defaults[i][0], text);
    }
    static const char *const values[][3] = {
        /* path, value set, value read back */
        {"seed", "18446744073709551615", "18446744073709551615"},
        {"hardware.device.d2d_sigma", "0.1", "0.1"},
        {"hardware.device.d2d_sigma", "0.30000000000000004", "0.30000000000000004"},
        {"hardware.device.g_min_s", "1.0e-300", "1e-300"},
        {"snn.max_rate_hz", "250000", "250000"},
        {"training.noise_sigma", "-0.5", "-0.5"},
        {"hardware.adc.bits", " 6 ", "6"},
        {"hardware.adc.type", "none", "none"},
        {"model.hidden", "[300, 100]", "[300, 100]"},
        {"model.hidden", "50", "[50]"},
        {"hardware.device.prog_noise", "1e-3, 0, 2.5", "[0.001, 0, 2.5]"},
        {"dataset.name", "fashion-mnist", "fashion-mnist"},
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        assert_int_equal(mx_config_set(&cfg, values[i][0], values[i][1]), MX_OK);
        assert_field(&cfg, values[i][0], values[i][2]);
    }
    assert_int_equal(cfg.seed, UINT64_MAX);
    assert_int_equal(cfg.hardware.adc.kind, MX_ADC_NONE);
    assert_close(cfg.hardware.device.d2d_sigma, 0.30000000000000004, 0.0, 0.0);
}

static void test_set_refuses_bad_values_and_unknown_paths_leaving_the_field(void **state)
{
    (void)state;
    mx_experiment_config cfg;
    mx_config_default(&cfg);
    assert_int_equal(mx_config_set(&cfg, "hardware.adc.bitz", "4"), MX_ENOTFOUND);
    assert_message("hardware.adc.bitz: unknown field path (expected a field such as "
                   "hardware.adc.bits; see docs/config.md)");
    assert_int_equal(mx_config_set(&cfg, "hardware.adc.bits", "17"), MX_EINVAL);
    assert_message("hardware.adc.bits: expected an integer in [1, 16], got 17");
    assert_int_equal(mx_config_set(&cfg, "model.hidden", "[100, 0]"), MX_EINVAL);
    assert_message("model.hidden[1]: expected an integer >= 1, got 0");
    assert_int_equal(mx_config_set(&cfg, "model.hidden", "[1,,2]"), MX_EINVAL);
    assert_int_equal(mx_config_set(&cfg, "hardware.device.prog_noise", "[1, 2]"), MX_EINVAL);
    assert_int_equal(mx_config_set(&cfg, "snn.neuron", "izhikevich"), MX_EINVAL);
    assert_message("snn.neuron: expected one of: if, lif, got \"izhikevich\"");
    assert_int_equal(mx_config_set(&cfg, "training.learning_rate", "nan"), MX_EINVAL);
    assert_int_equal(mx_config_set(&cfg, "training.learning_rate", "1e999"), MX_EINVAL);
    assert_int_equal(mx_config_set(&cfg, "repeats", "-1"), MX_EINVAL);
    for (size_t i = 0; i < N_SCHEMA; i++)
        assert_field(&cfg, schema_defaults[i][0], schema_defaults[i][1]);
}

/* Invalid UTF-8 (a run of continuation bytes counts no characters) is cut
 * by bytes too, so quoting it in a message cannot overrun the buffer. */
static void test_invalid_utf8_in_a_message_is_cut_without_overrunning(void **state)
{
    (void)state;
    mx_experiment_config cfg;
    mx_config_default(&cfg);
    char junk[300];
    memset(junk, 0x80, sizeof junk - 1);
    junk[sizeof junk - 1] = '\0';
    assert_int_equal(mx_config_set(&cfg, junk, "1"), MX_ENOTFOUND);
    assert_message("...: unknown field path (expected a field such as hardware.adc.bits; see "
                   "docs/config.md)");
    junk[200] = '\0'; /* under SCALAR_MAX_BYTES, so the value itself is decoded */
    assert_int_equal(mx_config_set(&cfg, "dataset.name", junk), MX_EINVAL);
    assert_message("dataset.name: expected one of: mnist, fashion-mnist, digits, poker-dvs, got \"...\"");
}

static void test_get_refuses_a_buffer_too_small_and_unknown_paths(void **state)
{
    (void)state;
    mx_experiment_config cfg;
    mx_config_default(&cfg);
    char buf[5]; /* "2000" fits exactly, "mnist" does not */
    assert_int_equal(mx_config_get(&cfg, "dataset.name", buf, sizeof buf), MX_EINVAL);
    assert_int_equal(mx_config_get(&cfg, "dataset.test_limit", buf, sizeof buf), MX_OK);
    assert_string_equal(buf, "2000");
    assert_int_equal(mx_config_get(&cfg, "dataset", buf, sizeof buf), MX_ENOTFOUND);
}

static void test_numeric_fields_are_flagged_for_float_columns(void **state)
{
    (void)state;
    assert_int_equal(mx_config_field_is_numeric("hardware.device.d2d_sigma"), 1);
    assert_int_equal(mx_config_field_is_numeric("hardware.adc.bits"), 1);
    assert_int_equal(mx_config_field_is_numeric("seed"), 1);
    assert_int_equal(mx_config_field_is_numeric("repeats"), 1);
    assert_int_equal(mx_config_field_is_numeric("training.mode"), 0);
    assert_int_equal(mx_config_field_is_numeric("hardware.device.type"), 0);
    assert_int_equal(mx_config_field_is_numeric("model.hidden"), 0);
    assert_int_equal(mx_config_field_is_numeric("no.such.field"), 0);
}

static void test_names_and_choices_can_be_quoted_and_swept(void **state)
{
    (void)state;
    static const char yaml[] = "dataset: {name: \"digits\", train_limit: 500}\n"
                               "sweep:\n"
                               "  hardware.device.type: [reram]\n"
                               "  hardware.crossbar.input: ['spikes', dac]\n";
    mx_experiment_config cfg, pt;
    assert_int_equal(mx_config_parse(yaml, strlen(yaml), "t.yaml", &cfg), MX_OK);
    assert_string_equal(cfg.dataset.name, "digits");
    assert_int_equal(mx_config_n_points(&cfg), 2);
    assert_int_equal(mx_config_validate(&cfg), MX_OK);
    assert_int_equal(mx_config_point(&cfg, 1, &pt), MX_OK);
    assert_int_equal(pt.hardware.crossbar.input, MX_INPUT_DAC);
    assert_string_equal(pt.hardware.device_type, "reram");
    mx_config_free(&cfg);
}

/* ------------------------------------------------- device fields, presets */

static void test_every_table_default_is_what_the_defaults_hold(void **state)
{
    (void)state;
    mx_experiment_config cfg;
    mx_config_default(&cfg);
    size_t n = mx_config_n_fields();
    assert_true(n >= N_SCHEMA);
    for (size_t i = 0; i < n; i++) {
        mx_config_field_info info;
        assert_int_equal(mx_config_field_at(i, &info), MX_OK);
        assert_non_null(info.unit);
        assert_true(info.doc && info.doc[0]);
        assert_field(&cfg, info.path, info.def);
        assert_int_equal(info.numeric, mx_config_field_is_numeric(info.path));
    }
    mx_config_field_info info;
    assert_int_equal(mx_config_field_at(n, &info), MX_ENOTFOUND);
}

static int compare_paths(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every field of the table written out in one YAML file, nested by its
 * dotted path (sorted, so each section is written once), at its default:
 * it parses, validates and reads back unchanged. The largest mappings
 * (hardware.device with 24 keys, hardware.device.dynamic with 20) must fit
 * the loader's per-mapping key limit. */
static void test_every_field_written_out_parses_back_to_the_defaults(void **state)
{
    (void)state;
    mx_experiment_config def, cfg;
    mx_config_default(&def);
    const size_t n = mx_config_n_fields();
    const char **paths = calloc(n, sizeof *paths);
    assert_non_null(paths);
    for (size_t i = 0; i < n; i++) {
        mx_config_field_info info;
        assert_int_equal(mx_config_field_at(i, &info), MX_OK);
        paths[i] = info.path;
    }
    qsort(paths, n, sizeof *paths, compare_paths);
    size_t cap = 1 << 17, used = 0;
    char *yaml = malloc(cap);
    assert_non_null(yaml);
    yaml[0] = '\0';
    const char *prev = "";
    for (size_t i = 0; i < n; i++) {
        const char *p = paths[i];
        /* Open the sections this path enters that the previous one was not in. */
        size_t common = 0, depth = 0;
        for (size_t k = 0; p[k] && p[k] == prev[k]; k++)
            if (p[k] == '.')
                common = k + 1;
        for (size_t k = 0; k < common; k++)
            depth += p[k] == '.';
        const char *seg = p + common;
        for (const char *dot; (dot = strchr(seg, '.')) != NULL; seg = dot + 1, depth++)
            used += (size_t)snprintf(yaml + used, cap - used, "%*s%.*s:\n", (int)(2 * depth), "",
                                     (int)(dot - seg), seg);
        char value[256];
        assert_int_equal(mx_config_get(&def, p, value, sizeof value), MX_OK);
        const char *q = value[0] ? "" : "\""; /* an empty text must be quoted */
        used += (size_t)snprintf(yaml + used, cap - used, "%*s%s: %s%s%s\n", (int)(2 * depth), "",
                                 seg, q, value, q);
        assert_true(used < cap);
        prev = p;
    }
    if (mx_config_parse(yaml, used, "t.yaml", &cfg) != MX_OK) {
        print_error("%s\n%s\n", mx_last_error(), yaml);
        fail();
    }
    assert_int_equal(mx_config_validate(&cfg), MX_OK);
    for (size_t i = 0; i < n; i++) {
        mx_config_field_info info;
        assert_int_equal(mx_config_field_at(i, &info), MX_OK);
        assert_field(&cfg, info.path, info.def);
    }
    mx_config_free(&cfg);
    free(yaml);
    free(paths);
}

/* "expected one of: none, ag-si, ..." from the preset registry. */
static void preset_choices(char *buf, size_t size)
{
    int used = snprintf(buf, size, "none");
    const mx_device_preset *const *p = mx_device_presets();
    for (size_t i = 0; p[i]; i++)
        used += snprintf(buf + used, size - (size_t)used, ", %s", p[i]->name);
}

static void test_a_preset_sets_its_model_and_published_values(void **state)
{
    (void)state;
    /* Ag:a-Si, MLP+NeuroSim V3.0 Table II and Cell.cpp (paper-tables.md
     * §7.1, §7.3): 97/100 states, NL 2.4/−4.88, 3.8462e-8/3.0769e-9 S,
     * 3.2 V / 300 µs LTP, 2.8 V / 300 µs LTD, C2C 3.5 %. */
    static const char yaml[] = "hardware:\n  device:\n    preset: ag-si\n";
    mx_experiment_config cfg, pt;
    assert_int_equal(mx_config_parse(yaml, strlen(yaml), "t.yaml", &cfg), MX_OK);
    assert_int_equal(mx_config_validate(&cfg), MX_OK);
    assert_field(&cfg, "hardware.device.preset", "ag-si");
    assert_field(&cfg, "hardware.device.type", "nonlinear");
    assert_field(&cfg, "hardware.device.nonlinear.states_ltp", "97");
    assert_field(&cfg, "hardware.device.nonlinear.states_ltd", "100");
    assert_field(&cfg, "hardware.device.nonlinear.nl_ltp", "2.4");
    assert_field(&cfg, "hardware.device.nonlinear.nl_ltd", "-4.88");
    assert_close(cfg.hardware.device.g_max_s, 3.8462e-8, 0.0, 1e-4);
    assert_close(cfg.hardware.device.g_min_s, 3.0769e-9, 0.0, 1e-4);
    assert_field(&cfg, "hardware.device.pulse.v_ltp_v", "3.2");
    assert_field(&cfg, "hardware.device.pulse.width_ltd_s", "0.0003");
    assert_field(&cfg, "hardware.device.nonlinear.c2c_sigma", "0.035");
    /* A resolved point carries the same block. */
    assert_int_equal(mx_config_point(&cfg, 0, &pt), MX_OK);
    assert_string_equal(pt.hardware.device_type, "nonlinear");
    assert_int_equal(pt.hardware.device.nonlinear.states_ltp, 97);
    mx_config_free(&pt);
    mx_config_free(&cfg);

    /* Every preset of the registry resolves to its model, its apply()'s
     * values, and a valid config. */
    const mx_device_preset *const *presets = mx_device_presets();
    for (size_t i = 0; presets[i]; i++) {
        mx_config_default(&cfg);
        assert_int_equal(mx_config_set(&cfg, "hardware.device.preset", presets[i]->name), MX_OK);
        if (mx_config_validate(&cfg) != MX_OK) {
            print_error("preset %s: %s\n", presets[i]->name, mx_last_error());
            fail();
        }
        assert_string_equal(cfg.hardware.device_type, presets[i]->type);
        mx_device_params want;
        mx_device_params_default(&want);
        presets[i]->apply(&want);
        assert_close(cfg.hardware.device.g_max_s, want.g_max_s, 0.0, 0.0);
        assert_close(cfg.hardware.device.nonlinear.nl_ltd, want.nonlinear.nl_ltd, 0.0, 0.0);
        assert_int_equal(cfg.hardware.device.nonlinear.states_ltp, want.nonlinear.states_ltp);
        mx_config_free(&cfg);
    }
}

static void test_fields_written_explicitly_override_the_preset(void **state)
{
    (void)state;
    /* Written before the preset line: the order in the file does not matter. */
    static const char yaml[] = "hardware:\n  device:\n    nonlinear: {nl_ltp: 1.5}\n"
                               "    g_max_s: 5.0e-8\n    preset: ag-si\n";
    mx_experiment_config cfg, pt;
    assert_int_equal(mx_config_parse(yaml, strlen(yaml), "t.yaml", &cfg), MX_OK);
    assert_int_equal(mx_config_validate(&cfg), MX_OK);
    assert_field(&cfg, "hardware.device.nonlinear.nl_ltp", "1.5");
    assert_field(&cfg, "hardware.device.g_max_s", "5e-08");
    assert_field(&cfg, "hardware.device.nonlinear.nl_ltd", "-4.88"); /* the preset's */
    assert_field(&cfg, "hardware.device.type", "nonlinear");
    /* Another preset by --set: its values, except what was written. */
    assert_int_equal(mx_config_set(&cfg, "hardware.device.preset", "taox-hfox"), MX_OK);
    assert_field(&cfg, "hardware.device.nonlinear.nl_ltp", "1.5");
    assert_field(&cfg, "hardware.device.nonlinear.nl_ltd", "-0.63");
    assert_field(&cfg, "hardware.device.nonlinear.states_ltp", "128");
    /* --set of a device field wins over the preset too. */
    assert_int_equal(mx_config_set(&cfg, "hardware.device.nonlinear.states_ltp", "64"), MX_OK);
    assert_field(&cfg, "hardware.device.nonlinear.states_ltp", "64");
    /* Back to no preset: the defaults and the written fields. */
    assert_int_equal(mx_config_set(&cfg, "hardware.device.preset", "none"), MX_OK);
    assert_field(&cfg, "hardware.device.type", "reram");
    assert_field(&cfg, "hardware.device.nonlinear.nl_ltd", "-1");
    assert_field(&cfg, "hardware.device.nonlinear.nl_ltp", "1.5");
    assert_field(&cfg, "hardware.device.g_min_s", "1e-06");
    mx_config_free(&cfg);

    /* A sweep over presets: each point its preset, the written field kept. */
    static const char sweep[] = "hardware:\n  device:\n    nonlinear: {c2c_sigma: 0}\n"
                                "sweep:\n  hardware.device.preset: [ag-si, pcmo, none]\n";
    assert_int_equal(mx_config_parse(sweep, strlen(sweep), "t.yaml", &cfg), MX_OK);
    assert_int_equal(mx_config_validate(&cfg), MX_OK);
    assert_int_equal(mx_config_point(&cfg, 1, &pt), MX_OK);
    assert_field(&pt, "hardware.device.type", "nonlinear");
    assert_field(&pt, "hardware.device.nonlinear.nl_ltp", "3.68");
    assert_field(&pt, "hardware.device.nonlinear.states_ltp", "50");
    assert_field(&pt, "hardware.device.nonlinear.c2c_sigma", "0");
    mx_config_free(&pt);
    assert_int_equal(mx_config_point(&cfg, 2, &pt), MX_OK);
    assert_field(&pt, "hardware.device.type", "reram");
    assert_field(&pt, "hardware.device.g_max_s", "1e-05");
    mx_config_free(&pt);
    mx_config_free(&cfg);

    /* A swept device field over a preset wins at every point. */
    static const char axis[] = "hardware:\n  device:\n    preset: pcmo\n"
                               "sweep:\n  hardware.device.nonlinear.nl_ltp: [1, 2]\n";
    assert_int_equal(mx_config_parse(axis, strlen(axis), "t.yaml", &cfg), MX_OK);
    assert_int_equal(mx_config_point(&cfg, 1, &pt), MX_OK);
    assert_field(&pt, "hardware.device.nonlinear.nl_ltp", "2");
    assert_field(&pt, "hardware.device.nonlinear.nl_ltd", "-6.76");
    mx_config_free(&pt);
    mx_config_free(&cfg);
}

static void test_a_type_other_than_the_presets_is_refused_naming_both(void **state)
{
    (void)state;
    expect_validate_error("hardware:\n  device:\n    preset: ag-si\n    type: step\n",
                          "t.yaml:4:11: hardware.device.type: expected nonlinear, the model of "
                          "hardware.device.preset ag-si, got step");
    /* Writing the preset's own model is fine. */
    static const char same[] = "hardware:\n  device:\n    preset: ag-si\n    type: nonlinear\n";
    mx_experiment_config cfg, pt;
    assert_int_equal(mx_config_parse(same, strlen(same), "t.yaml", &cfg), MX_OK);
    assert_int_equal(mx_config_validate(&cfg), MX_OK);
    mx_config_free(&cfg);
    /* By --set, and at a sweep point (named with its values). */
    mx_config_default(&cfg);
    assert_int_equal(mx_config_set(&cfg, "hardware.device.type", "pcm"), MX_OK);
    assert_int_equal(mx_config_set(&cfg, "hardware.device.preset", "epiram"), MX_OK);
    assert_int_equal(mx_config_validate(&cfg), MX_EINVAL);
    assert_message("hardware.device.type: expected nonlinear, the model of "
                   "hardware.device.preset epiram, got pcm");
    static const char sweep[] = "hardware:\n  device:\n    preset: gst-pcm\n"
                                "sweep:\n  hardware.device.type: [nonlinear, pcm]\n";
    assert_int_equal(mx_config_parse(sweep, strlen(sweep), "t.yaml", &cfg), MX_OK);
    assert_int_equal(mx_config_point(&cfg, 0, &pt), MX_OK);
    mx_config_free(&pt);
    assert_int_equal(mx_config_point(&cfg, 1, &pt), MX_EINVAL);
    assert_message("t.yaml:5:37: hardware.device.type: expected nonlinear, the model of "
                   "hardware.device.preset gst-pcm, got pcm (at sweep point 1: "
                   "hardware.device.type=pcm)");
    mx_config_free(&cfg);
}

static void test_a_bad_nonlinear_label_is_named_at_its_line(void **state)
{
    (void)state;
    expect_parse_error("hardware:\n  device:\n    nonlinear:\n      nl_ltp: 12\n",
                       "t.yaml:4:15: hardware.device.nonlinear.nl_ltp: expected a number in "
                       "[-9, 9], got 12");
    /* Inside the table's range but in the gap the NeuroSim labels leave
     * (0 < |NL| < 0.01): the model's validator names the field, and the
     * message points at the line. */
    static const char yaml[] = "hardware:\n  device:\n    type: nonlinear\n"
                               "    nonlinear: {nl_ltd: 0.005}\n";
    mx_experiment_config cfg;
    assert_int_equal(mx_config_parse(yaml, strlen(yaml), "t.yaml", &cfg), MX_OK);
    assert_int_equal(mx_config_validate(&cfg), MX_EINVAL);
    const char *want = "t.yaml:4:25: hardware.device.nonlinear.nl_ltd: ";
    if (strncmp(mx_last_error(), want, strlen(want)) != 0) {
        print_error("expected a message starting '%s', got '%s'\n", want, mx_last_error());
        fail();
    }
    mx_config_free(&cfg);
}

static void test_an_unknown_preset_lists_the_choices(void **state)
{
    (void)state;
    char choices[1024], want[1200];
    preset_choices(choices, sizeof choices);
    assert_non_null(strstr(choices, "none, ag-si, "));
    snprintf(want, sizeof want,
             "t.yaml:3:13: hardware.device.preset: expected one of: %s, got \"ag-sy\"", choices);
    expect_parse_error("hardware:\n  device:\n    preset: ag-sy\n", want);
    mx_experiment_config cfg;
    mx_config_default(&cfg);
    assert_int_equal(mx_config_set(&cfg, "hardware.device.preset", "flash"), MX_EINVAL);
    snprintf(want, sizeof want, "hardware.device.preset: expected one of: %s, got \"flash\"",
             choices);
    assert_message(want);
    assert_field(&cfg, "hardware.device.preset", "none");
    snprintf(want, sizeof want,
             "t.yaml:3:13: sweep.hardware.device.preset[1]: expected one of: %s, got \"x\"",
             choices);
    expect_parse_error("sweep:\n  hardware.device.preset:\n    [ag-si, x]\n", want);
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void test_the_measured_curve_is_loaded_from_beside_the_config(void **state)
{
    (void)state;
    const char *dir = "test_config_measured";
    (void)mkdir(dir, 0777);
    write_file("test_config_measured/curve.csv",
               "branch,pulse,g_mean_s,g_std_s\nltp,0,2e-6,0\nltp,10,8e-6,1e-7\n"
               "ltd,0,8e-6,0\nltd,10,2e-6,1e-7\n");
    write_file("test_config_measured/bad.csv", "branch,pulse,g_mean_s,g_std_s\nltp,0,x,0\n");
    write_file("test_config_measured/ok.yaml",
               "hardware:\n  device:\n    type: measured\n    measured: {path: curve.csv}\n");
    write_file("test_config_measured/missing.yaml",
               "hardware:\n  device:\n    type: measured\n    measured: {path: nope.csv}\n");
    write_file("test_config_measured/bad.yaml",
               "hardware:\n  device:\n    type: measured\n    measured: {path: bad.csv}\n");
    write_file("test_config_measured/empty.yaml", "hardware:\n  device:\n    type: measured\n");

    mx_experiment_config cfg, pt;
    assert_int_equal(mx_config_load("test_config_measured/ok.yaml", &cfg), MX_OK);
    assert_field(&cfg, "hardware.device.measured.path", "curve.csv");
    assert_int_equal(mx_config_validate(&cfg), MX_OK);
    assert_null(cfg.measured_curve); /* the base config loads nothing */
    assert_int_equal(mx_config_point(&cfg, 0, &pt), MX_OK);
    assert_non_null(pt.measured_curve);
    assert_ptr_equal(pt.hardware.device.measured.curve, pt.measured_curve);
    assert_close(pt.hardware.device.g_min_s, 2e-6, 0.0, 1e-12); /* the curve's window */
    assert_close(pt.hardware.device.g_max_s, 8e-6, 0.0, 1e-12);
    mx_config_free(&pt);
    assert_null(pt.measured_curve);
    assert_null(pt.hardware.device.measured.curve);
    mx_config_free(&cfg);

    /* A missing file: MX_EIO naming the config's line, the field and the file. */
    assert_int_equal(mx_config_load("test_config_measured/missing.yaml", &cfg), MX_OK);
    assert_int_equal(mx_config_validate(&cfg), MX_EIO);
    const char *want = "test_config_measured/missing.yaml:4:22: hardware.device.measured.path: "
                       "test_config_measured/nope.csv";
    if (strncmp(mx_last_error(), want, strlen(want)) != 0) {
        print_error("expected a message starting '%s', got '%s'\n", want, mx_last_error());
        fail();
    }
    assert_int_equal(mx_config_point(&cfg, 0, &pt), MX_EIO);
    assert_null(pt.measured_curve);
    mx_config_free(&cfg);

    /* A malformed file: MX_EFORMAT, the field and the file named. */
    assert_int_equal(mx_config_load("test_config_measured/bad.yaml", &cfg), MX_OK);
    assert_int_equal(mx_config_validate(&cfg), MX_EFORMAT);
    assert_non_null(strstr(mx_last_error(), "hardware.device.measured.path: "));
    assert_non_null(strstr(mx_last_error(), "test_config_measured/bad.csv"));
    mx_config_free(&cfg);

    /* The measured model without a file. */
    assert_int_equal(mx_config_load("test_config_measured/empty.yaml", &cfg), MX_OK);
    assert_int_equal(mx_config_validate(&cfg), MX_EINVAL);
    assert_message("test_config_measured/empty.yaml: hardware.device.measured.path: expected the "
                   "CSV or HDF5 file of the measured curve (model measured), got nothing");
    mx_config_free(&cfg);

    static const char *const files[] = {"curve.csv", "bad.csv", "ok.yaml", "missing.yaml",
                                        "bad.yaml", "empty.yaml"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        remove(path);
    }
    rmdir(dir);
}

/* ------------------------------------------------- files and memory */

static void test_load_reads_a_file_and_names_a_missing_one(void **state)
{
    (void)state;
    const char *path = "test_config_tmp.yaml";
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("seed: 7\nhardware:\n  adc:\n    bits: 99\n", fp);
    fclose(fp);
    mx_experiment_config cfg;
    assert_int_equal(mx_config_load(path, &cfg), MX_EINVAL);
    assert_message("test_config_tmp.yaml:4:11: hardware.adc.bits: expected an integer in [1, 16], "
                   "got 99");
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("seed: 7\n", fp);
    fclose(fp);
    assert_int_equal(mx_config_load(path, &cfg), MX_OK);
    assert_int_equal(cfg.seed, 7);
    assert_string_equal(cfg.source_path, path);
    assert_string_equal(cfg.text, "seed: 7\n");
    mx_config_free(&cfg);
    remove(path);

    assert_int_equal(mx_config_load("no/such/config.yaml", &cfg), MX_EIO);
    assert_non_null(strstr(mx_last_error(), "no/such/config.yaml"));
    assert_null(cfg.text);
}

static void test_parse_errors_leave_nothing_allocated(void **state)
{
    (void)state;
    /* Run under ASan in the sanitizer build: every failure path must free the
     * text copy and everything libfyaml made. */
    static const char *const bad[] = {
        "seed: [1\n", "a: 1\n", "seed: 1\n---\nseed: 2\n", "sweep:\n  x: [1]\n",
        "sweep:\n  seed: [1, -1]\n", "model: {hidden: [0]}\n", "seed: 1\nseed: 1\n",
    };
    for (int round = 0; round < 20; round++)
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            mx_experiment_config cfg;
            assert_int_equal(mx_config_parse(bad[i], strlen(bad[i]), "t.yaml", &cfg), MX_EINVAL);
            assert_null(cfg.text);
            mx_config_free(&cfg);
        }
}

static void test_allocation_failures_return_enomem_cleanly(void **state)
{
    (void)state;
    const char *text = mx_config_default_text();
    int failures = 0;
    for (long n = 1; n < 32; n++) {
        mx_experiment_config cfg;
        mx_alloc_fail_after(n);
        mx_status st = mx_config_parse(text, strlen(text), "t.yaml", &cfg);
        if (st == MX_OK)
            st = mx_config_validate(&cfg);
        mx_alloc_fail_after(0);
        if (st == MX_OK) {
            mx_config_free(&cfg);
            break;
        }
        assert_int_equal(st, MX_ENOMEM);
        failures++;
        if (cfg.text) /* parse succeeded, validation ran out */
            mx_config_free(&cfg);
    }
    assert_true(failures >= 2); /* the text copy, the parse context, the sweep scratch */
}

static void test_docs_config_md_holds_the_generated_field_reference(void **state)
{
    (void)state;
    size_t len;
    char *doc = read_source_file("docs/config.md", &len);
    if (!doc)
        skip();
    char *table = NULL;
    assert_int_equal(mx_config_doc_markdown(&table), MX_OK);
    if (!strstr(doc, table)) {
        print_error("docs/config.md does not contain the field reference generated from the "
                    "table; regenerate it (see the note in docs/config.md). Generated:\n%s\n",
                    table);
        fail();
    }
    mx_free(table);
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_match_the_documented_schema),
        cmocka_unit_test(test_empty_or_comment_only_text_gives_the_defaults),
        cmocka_unit_test(test_builtin_default_parses_with_24_points_in_the_documented_order),
        cmocka_unit_test(test_builtin_default_writes_out_every_default),
        cmocka_unit_test(test_builtin_default_text_is_examples_default_yaml),
        cmocka_unit_test(test_point_k_decodes_mixed_radix_with_the_first_axis_outermost),
        cmocka_unit_test(test_unknown_key_lists_the_keys_of_its_section),
        cmocka_unit_test(test_wrong_types_are_named),
        cmocka_unit_test(test_out_of_range_values_are_named_with_their_range),
        cmocka_unit_test(test_list_fields_check_their_length_and_items),
        cmocka_unit_test(test_duplicate_keys_name_the_first_place),
        cmocka_unit_test(test_syntax_errors_carry_the_parsers_message),
        cmocka_unit_test(test_sweep_errors_point_at_the_axis_or_the_value),
        cmocka_unit_test(test_sweeps_beyond_the_axis_and_value_limits_are_refused),
        cmocka_unit_test(test_g_min_not_below_g_max_is_refused_at_its_line),
        cmocka_unit_test(test_other_cross_field_rules_are_enforced),
        cmocka_unit_test(test_pcm_and_its_time_fields_parse_and_are_checked),
        cmocka_unit_test(test_a_failing_sweep_point_is_named_with_its_values),
        cmocka_unit_test(test_a_sweep_can_settle_what_the_base_values_break),
        cmocka_unit_test(test_an_overridden_value_is_not_blamed_on_the_file),
        cmocka_unit_test(test_every_message_is_one_line_starting_with_file_line_column),
        cmocka_unit_test(test_set_then_get_round_trips_every_field),
        cmocka_unit_test(test_set_refuses_bad_values_and_unknown_paths_leaving_the_field),
        cmocka_unit_test(test_invalid_utf8_in_a_message_is_cut_without_overrunning),
        cmocka_unit_test(test_get_refuses_a_buffer_too_small_and_unknown_paths),
        cmocka_unit_test(test_numeric_fields_are_flagged_for_float_columns),
        cmocka_unit_test(test_names_and_choices_can_be_quoted_and_swept),
        cmocka_unit_test(test_every_table_default_is_what_the_defaults_hold),
        cmocka_unit_test(test_every_field_written_out_parses_back_to_the_defaults),
        cmocka_unit_test(test_a_preset_sets_its_model_and_published_values),
        cmocka_unit_test(test_fields_written_explicitly_override_the_preset),
        cmocka_unit_test(test_a_type_other_than_the_presets_is_refused_naming_both),
        cmocka_unit_test(test_a_bad_nonlinear_label_is_named_at_its_line),
        cmocka_unit_test(test_an_unknown_preset_lists_the_choices),
        cmocka_unit_test(test_the_measured_curve_is_loaded_from_beside_the_config),
        cmocka_unit_test(test_load_reads_a_file_and_names_a_missing_one),
        cmocka_unit_test(test_parse_errors_leave_nothing_allocated),
        cmocka_unit_test(test_allocation_failures_return_enomem_cleanly),
        cmocka_unit_test(test_docs_config_md_holds_the_generated_field_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
