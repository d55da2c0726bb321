/* SPDX-License-Identifier: MIT
 *
 * test_ann.c: the trained MLP run as an ANN on the crossbar (snn/ann.h,
 * calibration/'s mx_calibrate_ann_adc_ranges, experiments/ann_run.h). With
 * an ideal device, exact ADC and exact DAC voltages the hardware ANN gives
 * the float MLP's logits to float rounding and its predictions exactly, on
 * odd tiles and both continuous mappings. A 2×2 layer's counts and energy by
 * hand for a 4-bit DAC and for bit-serial input (3 passes). ADC calibration
 * fits each layer to the currents it offers with the layers below
 * calibrated. A point evaluation is the same at 1 and 2 threads and its
 * totals are the sums of its layers. Spike input and the ADC-less readout
 * are refused naming the field, in the library and in the config; the other
 * documented errors; allocation failures leave nothing behind.
 */
#include "tests/support/mx_test.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "calibration/calibration.h"
#include "core/core.h"
#include "core/rng.h"
#include "crossbar/crossbar.h"
#include "devices/devices.h"
#include "energy/energy.h"
#include "experiments/ann_run.h"
#include "experiments/config.h"
#include "snn/ann.h"
#include "snn/mlp.h"

#define SEED 20250117u
/* Energies that are a count × a coefficient: a double product, exact to one
 * rounding. */
#define PRODUCT_REL_TOL (2.0 * DBL_EPSILON)
/* The row drive is stored as float: a cell energy from the exact voltage
 * differs by one float rounding of V (squared: 2), and the double sums. */
#define DRIVE_REL_TOL (4.0 * (double)FLT_EPSILON)

static void assert_error_starts_with(const char *prefix)
{
    if (strncmp(mx_last_error(), prefix, strlen(prefix)) != 0) {
        print_error("expected the message to start with '%s', got '%s'\n", prefix,
                    mx_last_error());
        fail();
    }
}

typedef struct hw {
    mx_crossbar_config xbar;
    mx_device_params dev;
    mx_adc_config adc;
} hw;

/* Ideal device (every σ 0, continuous levels), exact DAC voltages, exact ADC. */
static hw ideal_hw(size_t tile_rows, size_t tile_cols)
{
    hw h;
    mx_crossbar_config_default(&h.xbar);
    h.xbar.input = MX_INPUT_DAC;
    h.xbar.dac_bits = 0;
    h.xbar.tile_rows = tile_rows;
    h.xbar.tile_cols = tile_cols;
    mx_device_params_default(&h.dev);
    h.dev.d2d_sigma = 0.0;
    h.dev.read_noise_sigma = 0.0;
    h.dev.levels = 0;
    h.dev.stuck_at_gmin_frac = h.dev.stuck_at_gmax_frac = 0.0;
    for (size_t i = 0; i < MX_DEVICE_PROG_NOISE_ORDER; i++)
        h.dev.prog_noise_coeffs[i] = 0.0;
    mx_adc_config_default(&h.adc);
    h.adc.kind = MX_ADC_NONE;
    return h;
}

static float *random_floats(size_t n, double lo, double hi, uint64_t item)
{
    float *a = malloc(n * sizeof *a);
    assert_non_null(a);
    mx_rng r;
    mx_rng_init_named(&r, SEED, "test.ann", item);
    for (size_t i = 0; i < n; i++)
        a[i] = (float)(lo + (hi - lo) * mx_rng_uniform(&r));
    return a;
}

static mx_mlp *random_mlp(const size_t *sizes, size_t n_layers)
{
    mx_mlp *mlp = NULL;
    assert_int_equal(mx_mlp_create(sizes, n_layers, SEED, &mlp), MX_OK);
    return mlp;
}

/* A 1-layer "MLP" holding W (n_out, n_in). */
static mx_mlp *mlp_of(const float *w, size_t n_out, size_t n_in)
{
    const size_t sizes[2] = {n_in, n_out};
    mx_mlp *mlp = random_mlp(sizes, 1);
    memcpy(mlp->w[0], w, n_out * n_in * sizeof(float));
    return mlp;
}

/* ---- the ideal crossbar is the float MLP -------------------------------------- */

static void check_equals_float_mlp(mx_mapping_kind mapping)
{
    const size_t sizes[4] = {23, 17, 9, 6}, L = 3, n = 40;
    mx_mlp *mlp = random_mlp(sizes, L);
    float *x = random_floats(n * sizes[0], 0.0, 1.0, 1);
    /* Percentile 100 of the very inputs evaluated: nothing clips at the DAC. */
    mx_ann *net = NULL;
    assert_int_equal(mx_ann_from_mlp(mlp, x, n, 100.0, &net), MX_OK);
    assert_int_equal(mx_ann_n_layers(net), L);
    hw h = ideal_hw(7, 5); /* odd tiles: partial row and column tiles */
    h.xbar.mapping = mapping;
    mx_matmul *mm[MX_ANN_MAX_LAYERS];
    assert_int_equal(mx_ann_program_crossbars(net, &h.xbar, &mx_device_reram, &h.dev, &h.adc,
                                              SEED, mm),
                     MX_OK);
    for (size_t l = 0; l < L; l++) {
        assert_ptr_equal(mx_ann_backend(net, l), mm[l]);
        assert_true(mx_matmul_config(mm[l])->input_full_scale == mx_ann_input_full_scale(net, l));
    }
    float *want = malloc(n * sizes[L] * sizeof(float));
    assert_non_null(want);
    assert_int_equal(mx_mlp_forward(mlp, x, n, want, NULL), MX_OK);
    mx_ann_state *s = NULL;
    assert_int_equal(mx_ann_state_create(net, &s), MX_OK);
    double max_logit = 0.0;
    for (size_t i = 0; i < n * sizes[L]; i++)
        max_logit = fmax(max_logit, fabs((double)want[i]));
    for (size_t i = 0; i < n; i++) {
        float logits[6];
        int pred = -1;
        assert_int_equal(mx_ann_run(net, s, x + i * sizes[0], SEED, i, 0, logits, &pred, NULL),
                         MX_OK);
        /* Conductances are floats: each weight is G+ − G− of two floats near
         * g_max, ~1e-7 of the window; through three layers of ~20 terms,
         * 1e-5 of the largest logit is a wide margin. */
        assert_array_close(logits, want + i * sizes[L], sizes[L], 1e-5 * max_logit, 0.0);
        const float *z = want + i * sizes[L];
        int best = 0;
        for (int k = 1; k < (int)sizes[L]; k++)
            best = z[k] > z[best] ? k : best;
        assert_int_equal(pred, best);
    }
    mx_ann_state_destroy(s);
    for (size_t l = 0; l < L; l++)
        mx_matmul_destroy(mm[l]);
    mx_ann_destroy(net);
    free(want);
    free(x);
    mx_mlp_destroy(mlp);
}

static void test_ideal_crossbar_ann_equals_the_float_mlp(void **state)
{
    (void)state;
    check_equals_float_mlp(MX_MAPPING_DIFFERENTIAL);
    check_equals_float_mlp(MX_MAPPING_OFFSET);
}

static void test_digital_ann_equals_the_float_mlp_and_full_scale_is_the_percentile(void **state)
{
    (void)state;
    const size_t sizes[3] = {12, 8, 4}, n = 30;
    mx_mlp *mlp = random_mlp(sizes, 2);
    float *x = random_floats(n * sizes[0], 0.0, 1.0, 2);
    mx_ann *net = NULL;
    assert_int_equal(mx_ann_from_mlp(mlp, x, n, 100.0, &net), MX_OK);
    /* Layer 0: the largest input; layer 1: the largest hidden activation. */
    double x_max = 0.0, h_max = 0.0;
    for (size_t i = 0; i < n * sizes[0]; i++)
        x_max = fmax(x_max, (double)x[i]);
    float *hidden = malloc(n * sizes[1] * sizeof(float)), *logits = malloc(n * 4 * sizeof(float));
    assert_non_null(hidden);
    assert_non_null(logits);
    float *acts[1] = {hidden};
    assert_int_equal(mx_mlp_forward(mlp, x, n, logits, acts), MX_OK);
    for (size_t i = 0; i < n * sizes[1]; i++)
        h_max = fmax(h_max, (double)hidden[i]);
    assert_true(mx_ann_input_full_scale(net, 0) == x_max);
    assert_true(mx_ann_input_full_scale(net, 1) == h_max);
    mx_ann_state *s = NULL;
    assert_int_equal(mx_ann_state_create(net, &s), MX_OK);
    mx_ann_layer_stats st[2];
    memset(st, 0, sizeof st);
    for (size_t i = 0; i < n; i++) {
        float z[4];
        int pred;
        assert_int_equal(mx_ann_run(net, s, x + i * sizes[0], SEED, i, 1, z, &pred, st), MX_OK);
        /* Double sums rounded once vs SGEMM's float sums of 8–12 terms. */
        assert_array_close(z, logits + i * 4, 4, 1e-6, 1e-5);
    }
    /* Digital layers count activations, no crossbar activity, no error terms. */
    assert_int_equal(st[0].activations, n * sizes[1]);
    assert_int_equal(st[1].activations, n * sizes[2]);
    assert_int_equal(st[0].mm.reads, 0);
    assert_int_equal(st[0].n_values, 0);
    size_t positive = 0;
    for (size_t i = 0; i < n * sizes[1]; i++)
        positive += hidden[i] > 0.0f;
    assert_int_equal(st[0].nonzero, positive);
    mx_ann_state_destroy(s);
    mx_ann_destroy(net);
    free(hidden);
    free(logits);
    free(x);
    mx_mlp_destroy(mlp);
}

/* ---- energy of a hand case ------------------------------------------------------- */

/* W = [[1, −0.5], [0.25, 0]], x = (1, 0.5), full scale 1, one 4-bit ADC per
 * column, t_read 100 ns. */
static void hand_case(mx_input_mode input)
{
    static const float w[4] = {1.0f, -0.5f, 0.25f, 0.0f};
    static const float x[2] = {1.0f, 0.5f};
    mx_mlp *mlp = mlp_of(w, 2, 2);
    mx_ann *net = NULL;
    assert_int_equal(mx_ann_from_mlp(mlp, x, 1, 100.0, &net), MX_OK);
    assert_true(mx_ann_input_full_scale(net, 0) == 1.0);
    hw h = ideal_hw(128, 128);
    h.xbar.input = input;
    h.xbar.dac_bits = 4; /* sign + 3 bits: K = 7; m = 7 and nearbyint(3.5) = 4 */
    h.adc.kind = MX_ADC_UNIFORM;
    h.adc.bits = 4;
    mx_matmul *mm[1];
    assert_int_equal(mx_ann_program_crossbars(net, &h.xbar, &mx_device_reram, &h.dev, &h.adc,
                                              SEED, mm),
                     MX_OK);
    assert_int_equal(mx_matmul_set_adc_range(mm[0], 1e-3), MX_OK);
    mx_ann_state *s = NULL;
    assert_int_equal(mx_ann_state_create(net, &s), MX_OK);
    mx_ann_layer_stats st = {0};
    int pred;
    assert_int_equal(mx_ann_run(net, s, x, SEED, 0, 0, NULL, &pred, &st), MX_OK);

    mx_energy_config ec;
    mx_energy_config_default(&ec);
    ec.read_time_s = 100e-9;
    mx_energy_layer lay;
    assert_int_equal(mx_energy_layer_describe(mm[0], &ec, &h.dev, 0, 0, &lay), MX_OK);
    const mx_energy_counts counts = {.mm = st.mm, .activations = st.activations};
    mx_energy_breakdown b;
    mx_energy_cost(&ec, &lay, &counts, 1.0, &b);

    const double v = 0.2, g0 = mx_matmul_row_conductance(mm[0], 0),
                 g1 = mx_matmul_row_conductance(mm[0], 1);
    /* Passes and drives: the DAC drives both rows once, at 7/7 and 4/7 of
     * V_read; bit-serial reads bits 0, 1 (row 0: m = 7 = 111) and 2 (both:
     * 4 = 100), each a 1-bit drive at V_read. */
    const int serial = input == MX_INPUT_BIT_SERIAL;
    const double passes = serial ? 3.0 : 1.0, drives = serial ? 4.0 : 2.0;
    const double dac_bit_j = serial ? ec.dac_energy_j : 8.0 * ec.dac_energy_j; /* 2^(4−1) */
    const double cell_j = serial ? 100e-9 * v * v * (3.0 * g0 + g1)
                                 : 100e-9 * v * v * (g0 + (4.0 / 7.0) * (4.0 / 7.0) * g1);
    assert_int_equal(st.mm.read_passes, (uint64_t)passes);
    assert_int_equal(st.mm.reads, (uint64_t)passes);
    assert_int_equal(st.mm.row_drives, (uint64_t)drives);
    assert_int_equal(st.mm.conversions, 2 * (uint64_t)passes);
    assert_int_equal(st.mm.partial_sums, 2 * (uint64_t)passes);
    assert_int_equal(st.activations, 2);
    assert_close(b.energy_j[MX_ENERGY_CELL], cell_j, 0.0, DRIVE_REL_TOL);
    assert_close(b.energy_j[MX_ENERGY_DAC], drives * dac_bit_j, 0.0, PRODUCT_REL_TOL);
    assert_close(b.energy_j[MX_ENERGY_ADC], 2.0 * passes * 16.0 * 40.5e-15, 0.0, PRODUCT_REL_TOL);
    assert_close(b.energy_j[MX_ENERGY_SHIFT_ADD], 2.0 * passes * 45e-15, 0.0, PRODUCT_REL_TOL);
    assert_close(b.energy_j[MX_ENERGY_NEURON], 2.0 * 1e-13, 0.0, PRODUCT_REL_TOL);
    assert_true(b.energy_j[MX_ENERGY_SENSE] == 0.0);
    assert_close(b.latency_s, passes * (100e-9 + ec.adc_time_s), 0.0, PRODUCT_REL_TOL);
    mx_ann_state_destroy(s);
    mx_matmul_destroy(mm[0]);
    mx_ann_destroy(net);
    mx_mlp_destroy(mlp);
}

static void test_energy_of_a_hand_case_with_a_dac(void **state)
{
    (void)state;
    hand_case(MX_INPUT_DAC);
}

static void test_energy_of_a_hand_case_bit_serial(void **state)
{
    (void)state;
    hand_case(MX_INPUT_BIT_SERIAL);
}

/* ---- ADC calibration ---------------------------------------------------------- */

static void test_adc_ranges_fit_the_currents_each_layer_offers(void **state)
{
    (void)state;
    const size_t sizes[3] = {20, 12, 5}, n = 16;
    mx_mlp *mlp = random_mlp(sizes, 2);
    float *x = random_floats(n * sizes[0], 0.0, 1.0, 3);
    mx_ann *net = NULL;
    assert_int_equal(mx_ann_from_mlp(mlp, x, n, 99.0, &net), MX_OK);
    hw h = ideal_hw(8, 8);
    h.xbar.dac_bits = 6;
    h.dev.read_noise_sigma = 0.02;
    h.adc.kind = MX_ADC_UNIFORM;
    h.adc.bits = 6;
    h.adc.range_mode = MX_ADC_RANGE_MAX;
    mx_matmul *mm[2];
    assert_int_equal(mx_ann_program_crossbars(net, &h.xbar, &mx_device_reram, &h.dev, &h.adc,
                                              SEED, mm),
                     MX_OK);
    double range[2];
    const uint64_t base = (uint64_t)1 << 40;
    assert_int_equal(mx_calibrate_ann_adc_ranges(net, x, n, sizes[0], 99.9, SEED, base, range),
                     MX_OK);
    /* Replay: with the ranges set, every layer's currents on the same items
     * (layer 1 after the calibrated layer 0) have max |I| = its range. */
    mx_ann_state *s = NULL;
    assert_int_equal(mx_ann_state_create(net, &s), MX_OK);
    float buf[64];
    for (size_t l = 0; l < 2; l++) {
        assert_true(range[l] > 0.0);
        assert_true(mx_matmul_adc_range(mm[l]) == range[l]);
        double max_abs = 0.0;
        for (size_t i = 0; i < n; i++) {
            mx_current_recorder rec = {.values = buf, .capacity = 64};
            assert_int_equal(mx_ann_run_record(net, s, x + i * sizes[0], SEED, base + i, l, &rec),
                             MX_OK);
            for (size_t k = 0; k < rec.count; k++)
                max_abs = fmax(max_abs, fabs((double)buf[k]));
        }
        assert_true(max_abs == range[l]);
    }
    /* Layer 0 has 20 rows in tiles of 8: three row tiles, each read (it has
     * a driven row), each offering one current per output. */
    mx_current_recorder rec = {.values = buf, .capacity = 64};
    assert_int_equal(mx_ann_run_record(net, s, x, SEED, base, 0, &rec), MX_OK);
    assert_int_equal(rec.count, 3 * sizes[1]);
    mx_ann_state_destroy(s);
    for (size_t l = 0; l < 2; l++)
        mx_matmul_destroy(mm[l]);
    mx_ann_destroy(net);
    free(x);
    mx_mlp_destroy(mlp);
}

/* ---- a point evaluation ------------------------------------------------------ */

static mx_dataset toy_dataset(size_t n, size_t dim, uint64_t item)
{
    mx_dataset d = {.n = n, .dim = dim, .rows = 1, .cols = dim, .n_classes = 4};
    d.x = random_floats(n * dim, 0.0, 1.0, item);
    d.y = malloc(n);
    assert_non_null(d.y);
    for (size_t i = 0; i < n; i++)
        d.y[i] = (uint8_t)(i % 4);
    return d;
}

static void test_point_is_thread_count_independent_and_sums_its_layers(void **state)
{
    (void)state;
    const size_t sizes[3] = {30, 16, 4};
    mx_mlp *mlp = random_mlp(sizes, 2);
    mx_dataset calib = toy_dataset(24, 30, 4), test = toy_dataset(50, 30, 5);
    mx_experiment_config pc;
    mx_config_default(&pc);
    pc.model.run_as = MX_RUN_AS_ANN;
    pc.hardware.crossbar.input = MX_INPUT_DAC;
    pc.hardware.crossbar.tile_rows = 16;
    pc.hardware.crossbar.tile_cols = 8;
    pc.hardware.device.read_noise_sigma = 0.05;
    pc.hardware.device.d2d_sigma = 0.1;
    pc.hardware.adc.bits = 5;
    mx_ann_point *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    assert_int_equal(mx_ann_point_run(mlp, &pc, &calib, 24, &test, 50, 11, 12, 1000, 20, "t", a),
                     MX_OK);
    omp_set_num_threads(2);
    assert_int_equal(mx_ann_point_run(mlp, &pc, &calib, 24, &test, 50, 11, 12, 1000, 20, "t", b),
                     MX_OK);
    omp_set_num_threads(threads);
    assert_true(a->pr.accuracy == b->pr.accuracy);
    assert_true(a->pr.energy_j == b->pr.energy_j);
    assert_true(memcmp(a->e_parts, b->e_parts, sizeof a->e_parts) == 0);
    assert_true(memcmp(a->rel_rms, b->rel_rms, sizeof a->rel_rms) == 0);
    assert_true(memcmp(a->range_a, b->range_a, sizeof a->range_a) == 0);
    const mx_point_result *pr = &a->pr;
    assert_string_equal(pr->network, "ann");
    assert_int_equal(pr->timesteps, 1);
    assert_int_equal(pr->n_layers, 2);
    assert_int_equal(pr->n_test, 50);
    assert_true(isnan(pr->accuracy_snn_digital));
    assert_true(pr->accuracy_vs_step[0] == pr->accuracy);
    double total = 0.0, latency = 0.0;
    for (size_t l = 0; l < 2; l++) {
        double parts = 0.0;
        for (size_t k = 0; k < MX_ENERGY_N_COMPONENTS; k++)
            parts += pr->layer_energy_parts_j[l * MX_ENERGY_N_COMPONENTS + k];
        assert_true(parts == pr->layer_energy_j[l]);
        assert_true(pr->layer_energy_j[l] > 0.0);
        /* One activation per output and image, priced at 0.1 pJ. */
        assert_close(pr->layer_energy_parts_j[l * MX_ENERGY_N_COMPONENTS + MX_ENERGY_NEURON],
                     (double)sizes[l + 1] * 1e-13, 0.0, 2.0 * PRODUCT_REL_TOL);
        assert_true(pr->layer_adc_range_a[l] > 0.0);
        assert_true(pr->layer_rel_rms_error[l] > 0.0 && pr->layer_rel_rms_error[l] < 1.0);
        total += pr->layer_energy_j[l];
        latency += pr->layer_latency_s[l];
    }
    assert_true(pr->energy_j == total);
    assert_true(pr->latency_s == latency);
    /* One pass per layer per image: latency = 2 layers × (t_read + t_conv). */
    assert_close(pr->latency_s, 2.0 * (2.5e-7 + pc.hardware.energy.adc_time_s), 0.0, 1e-12);

    /* The ADC-less readout is a spiking neuron: refused, naming the field. */
    pc.hardware.readout.kind = MX_READOUT_INTEGRATE;
    assert_int_equal(mx_ann_point_run(mlp, &pc, &calib, 24, &test, 50, 11, 12, 1000, 20, "t", a),
                     MX_EINVAL);
    assert_error_starts_with("hardware.readout.kind: expected adc");
    free(a);
    free(b);
    free(calib.x);
    free(calib.y);
    free(test.x);
    free(test.y);
    mx_mlp_destroy(mlp);
}

/* ---- errors -------------------------------------------------------------------- */

static void test_spike_input_is_refused_naming_the_field(void **state)
{
    (void)state;
    static const float w[4] = {1.0f, -0.5f, 0.25f, 0.0f};
    static const float x[2] = {1.0f, 0.5f};
    mx_mlp *mlp = mlp_of(w, 2, 2);
    mx_ann *net = NULL;
    assert_int_equal(mx_ann_from_mlp(mlp, x, 1, 99.9, &net), MX_OK);
    hw h = ideal_hw(4, 4);
    h.xbar.input = MX_INPUT_SPIKES;
    mx_matmul *mm[1] = {(mx_matmul *)&h}; /* must come back NULL */
    assert_int_equal(mx_ann_program_crossbars(net, &h.xbar, &mx_device_reram, &h.dev, &h.adc,
                                              SEED, mm),
                     MX_EINVAL);
    assert_error_starts_with("hardware.crossbar.input: expected dac, bit-serial or pwm");
    assert_null(mm[0]);
    assert_null(mx_ann_backend(net, 0));
    mx_ann_destroy(net);
    mx_mlp_destroy(mlp);

    /* The config says the same before anything runs. */
    static const char *const yaml[] = {
        "model: {run_as: ann}\n",
        "model: {run_as: ann}\nhardware: {crossbar: {input: pwm}, readout: {kind: integrate}}\n",
        "hardware: {crossbar: {input: dac}}\nsweep:\n  model.run_as: [snn, ann]\n"
        "  hardware.crossbar.input: [dac, spikes]\n",
    };
    static const char *const want[] = {
        "hardware.crossbar.input: expected dac, bit-serial or pwm with model.run_as ann",
        "hardware.readout.kind: expected adc with model.run_as ann",
        "hardware.crossbar.input: expected dac, bit-serial or pwm with model.run_as ann",
    };
    for (size_t i = 0; i < sizeof yaml / sizeof yaml[0]; i++) {
        mx_experiment_config cfg;
        assert_int_equal(mx_config_parse(yaml[i], strlen(yaml[i]), "t.yaml", &cfg), MX_OK);
        assert_int_equal(mx_config_validate(&cfg), MX_EINVAL);
        if (!strstr(mx_last_error(), want[i])) {
            print_error("expected '%s' in '%s'\n", want[i], mx_last_error());
            fail();
        }
        mx_config_free(&cfg);
    }
    /* A sweep over both networks on DAC input is valid. */
    const char *ok = "hardware: {crossbar: {input: dac}}\nsweep:\n  model.run_as: [snn, ann]\n";
    mx_experiment_config cfg;
    assert_int_equal(mx_config_parse(ok, strlen(ok), "t.yaml", &cfg), MX_OK);
    assert_int_equal(mx_config_validate(&cfg), MX_OK);
    mx_experiment_config pt;
    assert_int_equal(mx_config_point(&cfg, 1, &pt), MX_OK);
    assert_int_equal(pt.model.run_as, MX_RUN_AS_ANN);
    mx_config_free(&pt);
    mx_config_free(&cfg);
}

static void test_documented_errors(void **state)
{
    (void)state;
    const size_t sizes[3] = {6, 5, 3};
    mx_mlp *mlp = random_mlp(sizes, 2);
    float x[12] = {0};
    mx_ann *net = (mx_ann *)x; /* must come back NULL */
    assert_int_equal(mx_ann_from_mlp(mlp, x, 0, 99.9, &net), MX_EINVAL);
    assert_null(net);
    assert_int_equal(mx_ann_from_mlp(mlp, x, 2, 0.0, &net), MX_EINVAL);
    assert_error_starts_with("snn.norm_percentile");
    /* All-zero inputs: layer 0's input is never positive. */
    assert_int_equal(mx_ann_from_mlp(mlp, x, 2, 99.9, &net), MX_ENUMERIC);
    assert_error_starts_with("ANN: layer 0's input is never positive");
    assert_null(net);
    for (size_t i = 0; i < 12; i++)
        x[i] = 0.1f * (float)(i + 1);
    assert_int_equal(mx_ann_from_mlp(mlp, x, 2, 99.9, &net), MX_OK);
    assert_int_equal(mx_ann_set_backend(net, 2, NULL), MX_EINVAL);
    hw h = ideal_hw(4, 4);
    mx_matmul *wrong = NULL;
    float w[15] = {0};
    w[0] = 1.0f;
    assert_int_equal(mx_matmul_create(w, 3, 5, &h.xbar, &mx_device_reram, &h.dev, &h.adc, SEED,
                                      0, &wrong),
                     MX_OK);
    assert_int_equal(mx_ann_set_backend(net, 0, wrong), MX_EMISMATCH);
    mx_ann_state *s = NULL;
    assert_int_equal(mx_ann_state_create(net, &s), MX_OK);
    mx_current_recorder rec = {0};
    assert_int_equal(mx_ann_run_record(net, s, x, SEED, 0, 0, &rec), MX_EINVAL);
    assert_error_starts_with("ANN record: layer 0 has no analog backend");
    mx_ann_state_destroy(s);
    mx_matmul_destroy(wrong);
    mx_ann_destroy(net);
    mx_mlp_destroy(mlp);
}

static void test_allocation_failures_leave_nothing_behind(void **state)
{
    (void)state;
    const size_t sizes[3] = {9, 7, 3}, n = 5;
    mx_mlp *mlp = random_mlp(sizes, 2);
    float *x = random_floats(n * sizes[0], 0.0, 1.0, 6);
    hw h = ideal_hw(4, 4);
    int succeeded = 0;
    for (long k = 1; k < 200 && !succeeded; k++) {
        mx_ann *net = NULL;
        mx_matmul *mm[2] = {NULL, NULL};
        mx_ann_state *s = NULL;
        mx_alloc_fail_after(k);
        mx_status st = mx_ann_from_mlp(mlp, x, n, 99.9, &net);
        if (!st)
            st = mx_ann_program_crossbars(net, &h.xbar, &mx_device_reram, &h.dev, &h.adc, SEED,
                                          mm);
        if (!st)
            st = mx_ann_state_create(net, &s);
        int pred;
        if (!st)
            st = mx_ann_run(net, s, x, SEED, 0, 1, NULL, &pred, NULL);
        mx_alloc_fail_after(0);
        if (st)
            assert_int_equal(st, MX_ENOMEM);
        else
            succeeded = 1;
        mx_ann_state_destroy(s);
        for (size_t l = 0; l < 2; l++)
            mx_matmul_destroy(mm[l]);
        mx_ann_destroy(net);
    }
    assert_true(succeeded);
    free(x);
    mx_mlp_destroy(mlp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ideal_crossbar_ann_equals_the_float_mlp),
        cmocka_unit_test(test_digital_ann_equals_the_float_mlp_and_full_scale_is_the_percentile),
        cmocka_unit_test(test_energy_of_a_hand_case_with_a_dac),
        cmocka_unit_test(test_energy_of_a_hand_case_bit_serial),
        cmocka_unit_test(test_adc_ranges_fit_the_currents_each_layer_offers),
        cmocka_unit_test(test_point_is_thread_count_independent_and_sums_its_layers),
        cmocka_unit_test(test_spike_input_is_refused_naming_the_field),
        cmocka_unit_test(test_documented_errors),
        cmocka_unit_test(test_allocation_failures_leave_nothing_behind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
