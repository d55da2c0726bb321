/* SPDX-License-Identifier: MIT
 *
 * test_energy.c: the energy, latency and area model (energy/) and the
 * activity the crossbar counts for it, against hand computation: a 2×2
 * layer with known conductances, read voltage and spikes gives the cell
 * energy Σ V²·G·t_read, the driver, ADC, shift-and-add and neuron energies,
 * the latency and the area by hand; totals are the sum of their parts
 * exactly; zero input costs no cell, driver, ADC or shift-and-add energy
 * and no time (event-driven). The read power the fast path derives from
 * per-row conductance sums equals a per-cell sum over every family, the
 * reference column included, and the event-driven twin counts what the
 * reference twin counts, for every input mode and mapping. ADC instances
 * under column multiplexing by hand. The ADC-less spiking readout with an
 * ideal comparator gives the digital IF neuron's spikes bit for bit (same
 * arithmetic, operation for operation); with offsets it differs and stays
 * deterministic. Every documented error.
 */
#include "tests/support/mx_test.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adc/adc.h"
#include "core/core.h"
#include "core/rng.h"
#include "crossbar/crossbar.h"
#include "devices/devices.h"
#include "energy/energy.h"
#include "snn/mlp.h"
#include "snn/snn.h"

#define SEED 20240605u
/* The row drive is stored as float (φ(V_read) = (float)V_read): a cell
 * energy computed from the exact V differs by ≤ 1 float rounding of V,
 * 2·FLT_EPSILON relative leaves room for the double sums. */
#define DRIVE_REL_TOL (2.0 * (double)FLT_EPSILON)
/* Energies that are a count × a coefficient (÷ 1): a double product, exact
 * to 1 rounding. */
#define PRODUCT_REL_TOL (2.0 * DBL_EPSILON)

static void assert_error_mentions(const char *needle)
{
    if (!strstr(mx_last_error(), needle)) {
        print_error("expected the message to name '%s', got '%s'\n", needle, mx_last_error());
        fail();
    }
}

/* ---- fixtures ------------------------------------------------------------------ */

typedef struct setup {
    mx_crossbar_config xbar;
    mx_device_params dev;
    mx_adc_config adc;
} setup;

/* Ideal device (every σ 0, continuous levels), spike inputs, exact ADC. */
static setup ideal_setup(size_t tile_rows, size_t tile_cols)
{
    setup s;
    mx_crossbar_config_default(&s.xbar);
    s.xbar.input = MX_INPUT_SPIKES;
    s.xbar.tile_rows = tile_rows;
    s.xbar.tile_cols = tile_cols;
    mx_device_params_default(&s.dev);
    s.dev.d2d_sigma = 0.0;
    s.dev.read_noise_sigma = 0.0;
    s.dev.levels = 0;
    s.dev.stuck_at_gmin_frac = s.dev.stuck_at_gmax_frac = 0.0;
    for (size_t i = 0; i < MX_DEVICE_PROG_NOISE_ORDER; i++)
        s.dev.prog_noise_coeffs[i] = 0.0;
    mx_adc_config_default(&s.adc);
    s.adc.kind = MX_ADC_NONE;
    return s;
}

static mx_matmul *create_ok(const float *w, size_t n_out, size_t n_in, const setup *s)
{
    mx_matmul *mm = NULL;
    mx_status st = mx_matmul_create(w, n_out, n_in, &s->xbar, &mx_device_reram, &s->dev, &s->adc,
                                    SEED, 0, &mm);
    if (st)
        print_error("create: %s\n", mx_last_error());
    assert_int_equal(st, MX_OK);
    return mm;
}

static float *random_floats(size_t n, double lo, double hi, uint64_t item)
{
    float *a = malloc(n * sizeof *a);
    assert_non_null(a);
    mx_rng r;
    mx_rng_init_named(&r, SEED, "test.energy", item);
    for (size_t i = 0; i < n; i++)
        a[i] = (float)(lo + (hi - lo) * mx_rng_uniform(&r));
    return a;
}

static double sum_parts(const mx_energy_breakdown *b)
{
    double s = 0.0;
    for (size_t k = 0; k < MX_ENERGY_N_COMPONENTS; k++)
        s += b->energy_j[k];
    return s;
}

/* ---- config ---------------------------------------------------------------------- */

static void test_defaults_are_valid_and_cited_values(void **state)
{
    (void)state;
    mx_energy_config c;
    mx_energy_config_default(&c);
    assert_int_equal(mx_energy_config_validate(&c), MX_OK);
    assert_true(c.adc_fom_j == 40.5e-15);          /* survey median, paper-tables §8 */
    assert_true(c.adc_area_um2 == 24000.0);         /* 0.024 mm² */
    assert_true(c.adc_time_s == 1.0 / 1.28e9);      /* ISAAC 1.28 GS/s */
    assert_true(c.sense_energy_j == 2.0 * c.adc_fom_j);
    assert_true(c.read_time_s == 0.0);              /* the device's */
    /* ISAAC's ADC at 8 bits: FoM_W ≈ 6.1 fJ/step (paper-tables §8): a fixed
     * 1.5625 pJ per conversion overrides the FoM. */
    c.adc_energy_j = 2e-3 / 1.28e9;
    assert_close(mx_energy_adc_conversion_j(&c, 8), 1.5625e-12, 0.0, PRODUCT_REL_TOL);
    assert_true(mx_energy_adc_conversion_j(&c, 0) == 0.0);
    mx_energy_config_default(&c);
    assert_true(mx_energy_adc_conversion_j(&c, 4) == 16.0 * 40.5e-15);
    assert_true(mx_energy_dac_conversion_j(&c, 1) == 3.9e-15);
    assert_true(mx_energy_dac_conversion_j(&c, 8) == 128.0 * 3.9e-15); /* MNSIM: 499.2 µW */
    assert_true(mx_energy_dac_conversion_j(&c, 0) == 0.0);
    assert_string_equal(mx_energy_component_name(MX_ENERGY_CELL), "cell");
    assert_string_equal(mx_energy_component_name(MX_ENERGY_SHIFT_ADD), "shift_add");
    assert_null(mx_energy_component_name(MX_ENERGY_N_COMPONENTS));
}

static void test_every_bad_coefficient_is_named(void **state)
{
    (void)state;
    static const struct {
        size_t offset;
        double value;
        const char *name;
    } cases[] = {
        {offsetof(mx_energy_config, read_time_s), -1e-9, "hardware.energy.read_time_s"},
        {offsetof(mx_energy_config, dac_energy_j), -1.0, "hardware.energy.dac_energy_j"},
        {offsetof(mx_energy_config, adc_fom_j), NAN, "hardware.energy.adc_fom_j"},
        {offsetof(mx_energy_config, adc_energy_j), INFINITY, "hardware.energy.adc_energy_j"},
        {offsetof(mx_energy_config, adc_time_s), 0.0, "hardware.energy.adc_time_s"},
        {offsetof(mx_energy_config, sense_energy_j), -1e-15, "hardware.energy.sense_energy_j"},
        {offsetof(mx_energy_config, sense_time_s), 0.0, "hardware.energy.sense_time_s"},
        {offsetof(mx_energy_config, neuron_energy_j), -1.0, "hardware.energy.neuron_energy_j"},
        {offsetof(mx_energy_config, leak_energy_j), -1.0, "hardware.energy.leak_energy_j"},
        {offsetof(mx_energy_config, spike_energy_j), -1.0, "hardware.energy.spike_energy_j"},
        {offsetof(mx_energy_config, shift_add_energy_j), -1.0,
         "hardware.energy.shift_add_energy_j"},
        {offsetof(mx_energy_config, adc_area_um2), -1.0, "hardware.energy.adc_area_um2"},
        {offsetof(mx_energy_config, cell_area_um2), NAN, "hardware.energy.cell_area_um2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mx_energy_config c;
        mx_energy_config_default(&c);
        memcpy((char *)&c + cases[i].offset, &cases[i].value, sizeof(double));
        assert_int_equal(mx_energy_config_validate(&c), MX_EINVAL);
        assert_error_mentions(cases[i].name);
    }
    /* A t_read that resolves to nothing: describe refuses it. */
    setup s = ideal_setup(2, 2);
    const float w[4] = {1.0f, 0.5f, -0.25f, 0.0f};
    mx_matmul *mm = create_ok(w, 2, 2, &s);
    mx_energy_config c;
    mx_energy_config_default(&c);
    mx_device_params dev = s.dev;
    dev.read_time_s = 0.0;
    mx_energy_layer hw;
    assert_int_equal(mx_energy_layer_describe(mm, &c, &dev, 0, 0, &hw), MX_EINVAL);
    assert_error_mentions("hardware.energy.read_time_s");
    mx_matmul_destroy(mm);
}

/* ---- a 2×2 layer by hand ------------------------------------------------------------ */

/* W (n_out = 2, n_in = 2) = [[1, −0.5], [0.25, 0]]: differential pairs with
 * w_abs_max 1, so row j = 0 holds G+ = (g_min + win, g_min + win/4),
 * G− = (g_min, g_min) and row 1 G+ = (g_min, g_min), G− = (g_min + win/2,
 * g_min): Σ_row0 G = 4·g_min + 1.25·win, Σ_row1 G = 4·g_min + 0.5·win. */
static void test_a_2x2_layer_costs_what_the_hand_computation_says(void **state)
{
    (void)state;
    setup s = ideal_setup(2, 2);
    s.adc.kind = MX_ADC_UNIFORM;
    s.adc.bits = 4;
    const float w[4] = {1.0f, -0.5f, 0.25f, 0.0f};
    mx_matmul *mm = create_ok(w, 2, 2, &s);
    assert_int_equal(mx_matmul_set_adc_range(mm, 1e-5), MX_OK);
    mx_matmul_work *wk = NULL;
    assert_int_equal(mx_matmul_work_create(mm, &wk), MX_OK);

    const double g_min = s.dev.g_min_s, win = s.dev.g_max_s - s.dev.g_min_s;
    const double row_g[2] = {4.0 * g_min + 1.25 * win, 4.0 * g_min + 0.5 * win};
    /* The programmed cells are those targets (ideal device, float storage). */
    assert_close(mx_matmul_row_conductance(mm, 0), row_g[0], 0.0, 4.0 * (double)FLT_EPSILON);
    assert_close(mx_matmul_row_conductance(mm, 1), row_g[1], 0.0, 4.0 * (double)FLT_EPSILON);

    /* Two steps of spikes: (1, 0), then (1, 1). */
    const float x1[2] = {1.0f, 0.0f}, x2[2] = {1.0f, 1.0f};
    float y[2];
    mx_rng rng;
    mx_rng_init_named(&rng, SEED, "test.read", 0);
    mx_matmul_stats st = {0};
    mx_matmul_forward(mm, wk, x1, y, &rng, &st, NULL);
    mx_matmul_forward(mm, wk, x2, y, &rng, &st, NULL);
    assert_true(st.row_drives == 3);
    assert_true(st.reads == 2);        /* one row tile, read at both steps */
    assert_true(st.read_passes == 2);
    assert_true(st.conversions == 4);  /* 2 outputs × 2 reads */
    assert_true(st.partial_sums == 4);

    mx_energy_config c;
    mx_energy_config_default(&c);
    c.read_time_s = 1e-7;
    mx_energy_layer hw;
    assert_int_equal(mx_energy_layer_describe(mm, &c, &s.dev, 0, 0, &hw), MX_OK);
    assert_int_equal(hw.dac_bits, 1);
    assert_int_equal(hw.adc_bits, 4);
    assert_int_equal(hw.adc_count, 2);  /* one per output of the one tile */
    assert_int_equal(hw.cells, 8);      /* 2 rows × 2 outputs × (G+, G−) */
    assert_int_equal(hw.conversions_in_series, 1);
    const mx_energy_counts n = {.mm = st, .neuron_updates = 4, .spikes = 3};
    mx_energy_breakdown b;
    mx_energy_cost(&c, &hw, &n, 1.0, &b);

    const double v = 0.2, t = 1e-7;
    const double cell = t * v * v * (2.0 * row_g[0] + row_g[1]);
    assert_close(b.energy_j[MX_ENERGY_CELL], cell, 0.0, DRIVE_REL_TOL);
    assert_close(b.energy_j[MX_ENERGY_DAC], 3.0 * 3.9e-15, 0.0, PRODUCT_REL_TOL);
    assert_close(b.energy_j[MX_ENERGY_ADC], 4.0 * 40.5e-15 * 16.0, 0.0, PRODUCT_REL_TOL);
    assert_true(b.energy_j[MX_ENERGY_SENSE] == 0.0);
    assert_close(b.energy_j[MX_ENERGY_SHIFT_ADD], 4.0 * 45e-15, 0.0, PRODUCT_REL_TOL);
    assert_close(b.energy_j[MX_ENERGY_NEURON], 4.0 * 0.2e-12 + 3.0 * 0.1e-12, 0.0,
                 PRODUCT_REL_TOL);
    assert_true(b.total_j == sum_parts(&b)); /* same order of additions: exact */
    assert_close(b.latency_s, 2.0 * (t + 1.0 / 1.28e9), 0.0, PRODUCT_REL_TOL);

    /* Per inference: every part and the latency divide by the inferences. */
    mx_energy_breakdown half;
    mx_energy_cost(&c, &hw, &n, 2.0, &half);
    for (size_t k = 0; k < MX_ENERGY_N_COMPONENTS; k++)
        assert_true(half.energy_j[k] == b.energy_j[k] / 2.0);
    assert_true(half.total_j == sum_parts(&half));
    assert_true(half.latency_s == b.latency_s / 2.0);

    /* LIF pays the leak on every update. */
    mx_energy_layer lif = hw;
    lif.leaky = 1;
    mx_energy_cost(&c, &lif, &n, 1.0, &b);
    assert_close(b.energy_j[MX_ENERGY_NEURON], 4.0 * (0.2e-12 + 3.1e-12) + 3.0 * 0.1e-12, 0.0,
                 PRODUCT_REL_TOL);

    /* Area: 2 ADCs and 8 cells. */
    double a_adc, a_arr;
    double area = mx_energy_area_um2(&c, &hw, &a_adc, &a_arr);
    assert_true(a_adc == 2.0 * 24000.0);
    assert_true(a_arr == 8.0 * 25.0 / 16384.0);
    assert_true(area == a_adc + a_arr);

    /* t_read 0 takes the device's. */
    c.read_time_s = 0.0;
    assert_int_equal(mx_energy_layer_describe(mm, &c, &s.dev, 0, 0, &hw), MX_OK);
    assert_true(hw.read_time_s == s.dev.read_time_s);

    /* The ADC-less readout: no ADCs, no conversions or shift-adds priced,
     * one comparator decision per neuron per step. */
    c.read_time_s = 1e-7;
    assert_int_equal(mx_energy_layer_describe(mm, &c, &s.dev, 1, 0, &hw), MX_OK);
    assert_int_equal(hw.adc_bits, 0);
    assert_int_equal(hw.adc_count, 0);
    const mx_energy_counts ni = {.mm = st, .decisions = 4, .spikes = 3};
    mx_energy_cost(&c, &hw, &ni, 1.0, &b);
    assert_true(b.energy_j[MX_ENERGY_ADC] == 0.0);
    assert_true(b.energy_j[MX_ENERGY_SHIFT_ADD] == 0.0);
    assert_close(b.energy_j[MX_ENERGY_SENSE], 4.0 * 81e-15, 0.0, PRODUCT_REL_TOL);
    assert_close(b.energy_j[MX_ENERGY_NEURON], 3.0 * 0.1e-12, 0.0, PRODUCT_REL_TOL);
    assert_close(b.latency_s, 2.0 * (t + 1.0 / 1.28e9 / 8.0), 0.0, PRODUCT_REL_TOL);
    assert_true(b.total_j == sum_parts(&b));

    mx_matmul_work_destroy(wk);
    mx_matmul_destroy(mm);
}

static void test_zero_input_costs_no_array_energy_and_no_time(void **state)
{
    (void)state;
    static const mx_input_mode modes[] = {MX_INPUT_SPIKES, MX_INPUT_DAC, MX_INPUT_BIT_SERIAL,
                                          MX_INPUT_PWM};
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        setup s = ideal_setup(4, 3);
        s.xbar.input = modes[m];
        s.adc.kind = MX_ADC_UNIFORM;
        float *w = random_floats(7 * 9, -1.0, 1.0, 1);
        mx_matmul *mm = create_ok(w, 7, 9, &s);
        assert_int_equal(mx_matmul_set_adc_range(mm, 1e-5), MX_OK);
        mx_matmul_work *wk = NULL;
        assert_int_equal(mx_matmul_work_create(mm, &wk), MX_OK);
        float x[9] = {0}, y[7];
        mx_rng rng;
        mx_rng_init_named(&rng, SEED, "test.read", 1);
        mx_matmul_stats st = {0};
        for (int step = 0; step < 5; step++)
            mx_matmul_forward(mm, wk, x, y, &rng, &st, NULL);
        mx_energy_config c;
        mx_energy_config_default(&c);
        mx_energy_layer hw;
        assert_int_equal(mx_energy_layer_describe(mm, &c, &s.dev, 0, 0, &hw), MX_OK);
        const mx_energy_counts n = {.mm = st};
        mx_energy_breakdown b;
        mx_energy_cost(&c, &hw, &n, 5.0, &b);
        for (size_t k = 0; k < MX_ENERGY_N_COMPONENTS; k++)
            assert_true(b.energy_j[k] == 0.0);
        assert_true(b.total_j == 0.0);
        assert_true(b.latency_s == 0.0);
        assert_true(st.reads == 0 && st.conversions == 0 && st.row_drives == 0);
        mx_matmul_work_destroy(wk);
        mx_matmul_destroy(mm);
        free(w);
    }
}

/* ---- the counts of the fast path ------------------------------------------------------ */

/* Σ over every family's cells of the rows x drives, from the programmed
 * families themselves (linear cells, exact DAC voltages: V_j = x_j·V_read). */
static double per_cell_power(const mx_matmul *mm, const float *x, double v_read)
{
    double p = 0.0;
    const size_t n_in = mx_matmul_n_in(mm);
    for (size_t j = 0; j < n_in; j++) {
        double u = (double)x[j];
        u = u > 1.0 ? 1.0 : (u < -1.0 ? -1.0 : u);
        /* As the drive is made: V in double, the row drive φ(V) = V stored
         * as float. */
        const double v = u * (double)(float)v_read, drive = (double)(float)v;
        for (size_t f = 0; f < mx_matmul_n_families(mm); f++) {
            size_t cols;
            const float *g = mx_matmul_family(mm, f, &cols);
            for (size_t c = 0; c < cols; c++)
                p += fabs(v * drive) * (double)g[j * cols + c];
        }
    }
    return p;
}

static void test_read_power_is_the_per_cell_sum_over_every_family(void **state)
{
    (void)state;
    static const mx_mapping_kind mappings[] = {MX_MAPPING_DIFFERENTIAL, MX_MAPPING_OFFSET,
                                               MX_MAPPING_BIT_SLICED};
    for (size_t m = 0; m < 3; m++) {
        setup s = ideal_setup(5, 4);
        s.xbar.input = MX_INPUT_DAC;
        s.xbar.dac_bits = 0;
        s.xbar.mapping = mappings[m];
        s.xbar.slices = 3;
        s.dev.d2d_sigma = 0.2; /* programmed cells away from the targets */
        float *w = random_floats(11 * 13, -1.0, 1.0, 2 + m);
        mx_matmul *mm = create_ok(w, 11, 13, &s);
        mx_matmul_work *wk = NULL;
        assert_int_equal(mx_matmul_work_create(mm, &wk), MX_OK);
        float *x = random_floats(13, -1.3, 1.3, 10 + m);
        x[3] = 0.0f;
        float y[11];
        mx_rng rng;
        mx_rng_init_named(&rng, SEED, "test.read", 2);
        mx_matmul_stats st = {0};
        mx_matmul_forward(mm, wk, x, y, &rng, &st, NULL);
        /* The per-row sums are double sums of the same floats in another
         * order; 1e-12 relative is far above that rounding. */
        assert_close(st.cell_power_w, per_cell_power(mm, x, s.xbar.read_voltage_v), 0.0, 1e-12);
        assert_true(st.row_drives == 12);
        mx_matmul_work_destroy(wk);
        mx_matmul_destroy(mm);
        free(w);
        free(x);
    }
}

static void test_fast_path_counts_what_the_reference_twin_counts(void **state)
{
    (void)state;
    static const mx_input_mode modes[] = {MX_INPUT_SPIKES, MX_INPUT_DAC, MX_INPUT_BIT_SERIAL,
                                          MX_INPUT_PWM};
    static const mx_mapping_kind mappings[] = {MX_MAPPING_DIFFERENTIAL, MX_MAPPING_OFFSET,
                                               MX_MAPPING_BIT_SLICED};
    for (size_t i = 0; i < 4; i++)
        for (size_t m = 0; m < 3; m++)
            for (int digital_ref = 0; digital_ref < 2; digital_ref++) {
                if (digital_ref && mappings[m] != MX_MAPPING_OFFSET)
                    continue;
                setup s = ideal_setup(6, 5);
                s.xbar.input = modes[i];
                s.xbar.dac_bits = 5;
                s.xbar.mapping = mappings[m];
                s.xbar.offset_subtract = digital_ref ? MX_OFFSET_DIGITAL : MX_OFFSET_ANALOG;
                s.adc.kind = MX_ADC_UNIFORM;
                s.adc.bits = 6;
                float *w = random_floats(12 * 17, -1.0, 1.0, 20 + 3 * i + m);
                mx_matmul *mm = create_ok(w, 12, 17, &s);
                assert_int_equal(mx_matmul_set_adc_range(mm, 2e-5), MX_OK);
                mx_matmul_work *wk = NULL;
                assert_int_equal(mx_matmul_work_create(mm, &wk), MX_OK);
                float *x = random_floats(17, -1.0, 1.0, 40 + i);
                for (size_t j = 0; j < 17; j++) {
                    if (modes[i] == MX_INPUT_SPIKES)
                        x[j] = x[j] > 0.3f ? 1.0f : 0.0f;
                    if (j >= 6 && j < 12)
                        x[j] = 0.0f; /* a silent row tile */
                }
                float y1[12], y2[12];
                mx_rng r1, r2;
                mx_rng_init_named(&r1, SEED, "test.read", 3);
                mx_rng_init_named(&r2, SEED, "test.read", 3);
                mx_matmul_stats a = {0}, b = {0};
                mx_matmul_forward(mm, wk, x, y1, &r1, &a, NULL);
                mx_matmul_forward_reference(mm, wk, x, y2, &r2, &b);
                assert_true(a.row_drives == b.row_drives);
                assert_true(a.partial_sums == b.partial_sums);
                assert_true(a.read_passes == b.read_passes);
                assert_true(a.reads == b.reads);
                assert_true(a.cell_power_w == b.cell_power_w);
                assert_true(a.read_passes <= mx_matmul_input_passes(mm));
                /* Every digitised value is added once: outputs × slices per
                 * read, plus the digital reference's subtraction. */
                const size_t slices = mappings[m] == MX_MAPPING_BIT_SLICED ? 4 : 1;
                assert_true(a.partial_sums == a.reads * 12 * (slices + (size_t)digital_ref));
                assert_true(a.cell_power_w > 0.0);
                mx_matmul_stats sum = a;
                mx_matmul_stats_add(&sum, &b);
                assert_true(sum.row_drives == 2 * a.row_drives);
                assert_true(sum.cell_power_w == 2.0 * a.cell_power_w);
                mx_matmul_work_destroy(wk);
                mx_matmul_destroy(mm);
                free(w);
                free(x);
            }
}

/* A DAC drive of b bits is priced at b bits; spikes and bit-serial at 1. */
static void test_row_drives_are_priced_by_their_bits(void **state)
{
    (void)state;
    static const struct {
        mx_input_mode mode;
        int dac_bits, priced;
    } cases[] = {{MX_INPUT_SPIKES, 8, 1}, {MX_INPUT_DAC, 8, 8}, {MX_INPUT_DAC, 0, 0},
                 {MX_INPUT_BIT_SERIAL, 8, 1}, {MX_INPUT_PWM, 6, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setup s = ideal_setup(4, 4);
        s.xbar.input = cases[i].mode;
        s.xbar.dac_bits = cases[i].dac_bits;
        const float w[4] = {1.0f, 0.5f, -0.25f, 0.0f};
        mx_matmul *mm = create_ok(w, 2, 2, &s);
        mx_energy_config c;
        mx_energy_config_default(&c);
        mx_energy_layer hw;
        assert_int_equal(mx_energy_layer_describe(mm, &c, &s.dev, 0, 0, &hw), MX_OK);
        assert_int_equal(hw.dac_bits, cases[i].priced);
        assert_int_equal(hw.adc_bits, 0); /* exact ADC: not priced */
        assert_int_equal(hw.adc_count, 0);
        mx_matmul_destroy(mm);
    }
}

/* ADC instances: per row tile and slice ⌈outputs of each column tile / k⌉,
 * plus a digital reference's ⌈column tiles / k⌉; k = 1 and 3 by hand. */
static void test_adc_instances_and_series_conversions_by_hand(void **state)
{
    (void)state;
    setup s = ideal_setup(6, 5); /* 7 outputs: column tiles of 5 and 2; 8 rows: 2 row tiles */
    s.adc.kind = MX_ADC_UNIFORM;
    float *w = random_floats(7 * 8, -1.0, 1.0, 60);
    mx_energy_config c;
    mx_energy_config_default(&c);
    mx_energy_layer hw;

    mx_matmul *mm = create_ok(w, 7, 8, &s);
    assert_int_equal(mx_energy_layer_describe(mm, &c, &s.dev, 0, 0, &hw), MX_OK);
    assert_int_equal(hw.adc_count, 2 * 7);
    assert_int_equal(hw.conversions_in_series, 1);
    assert_int_equal(hw.cells, 8 * 7 * 2);
    mx_matmul_destroy(mm);

    s.adc.columns_per_adc = 3;
    mm = create_ok(w, 7, 8, &s);
    assert_int_equal(mx_energy_layer_describe(mm, &c, &s.dev, 0, 0, &hw), MX_OK);
    assert_int_equal(hw.adc_count, 2 * (2 + 1));
    assert_int_equal(hw.conversions_in_series, 3);
    mx_matmul_destroy(mm);

    s.xbar.mapping = MX_MAPPING_OFFSET;
    s.xbar.offset_subtract = MX_OFFSET_DIGITAL;
    mm = create_ok(w, 7, 8, &s);
    assert_int_equal(mx_energy_layer_describe(mm, &c, &s.dev, 0, 0, &hw), MX_OK);
    assert_int_equal(hw.adc_count, 2 * (2 + 1 + 1)); /* + ⌈2 reference columns / 3⌉ */
    assert_int_equal(hw.cells, 8 * 7 + 8 * 2);        /* cells + one reference per tile */
    mx_matmul_destroy(mm);

    s.xbar.mapping = MX_MAPPING_BIT_SLICED;
    s.xbar.slices = 2;
    s.xbar.slice_bits = 3;
    s.adc.columns_per_adc = 8; /* more than a tile: one ADC per tile and slice */
    mm = create_ok(w, 7, 8, &s);
    assert_int_equal(mx_energy_layer_describe(mm, &c, &s.dev, 0, 0, &hw), MX_OK);
    assert_int_equal(hw.adc_count, 2 * 2 * 2);
    assert_int_equal(hw.conversions_in_series, 5);
    assert_int_equal(hw.cells, 8 * 7 * 4);
    mx_matmul_destroy(mm);
    free(w);
}

/* ---- the ADC-less readout ---------------------------------------------------------------- */

typedef struct snn_fixture {
    mx_mlp *mlp;
    mx_snn *net;
    mx_matmul *mm[MX_SNN_MAX_LAYERS];
    float *x;      /* (N_IMAGES, N_IN) intensities */
} snn_fixture;

#define N_IN 24
#define N_HIDDEN 16
#define N_CLASSES 6
#define N_IMAGES 12
#define T_STEPS 20

/* A 24-16-6 network with positive-leaning random weights on crossbars with
 * read noise and an exact ADC (tiles 10 × 7: several row and column tiles). */
static void snn_fixture_make(snn_fixture *f, const mx_adc_config *adc)
{
    memset(f, 0, sizeof *f);
    const size_t sizes[3] = {N_IN, N_HIDDEN, N_CLASSES};
    assert_int_equal(mx_mlp_create(sizes, 2, SEED, &f->mlp), MX_OK);
    for (size_t l = 0; l < 2; l++) {
        float *w = random_floats(sizes[l] * sizes[l + 1], -0.4, 0.8, 70 + l);
        memcpy(f->mlp->w[l], w, sizes[l] * sizes[l + 1] * sizeof(float));
        free(w);
    }
    f->x = random_floats(N_IMAGES * N_IN, 0.0, 1.0, 80);
    mx_snn_config sc;
    mx_snn_config_default(&sc);
    sc.timesteps = T_STEPS;
    assert_int_equal(mx_snn_from_mlp(f->mlp, &sc, f->x, N_IMAGES, &f->net), MX_OK);
    setup s = ideal_setup(10, 7);
    s.dev.read_noise_sigma = 0.05;
    s.dev.d2d_sigma = 0.1;
    assert_int_equal(mx_snn_program_crossbars(f->net, &s.xbar, &mx_device_reram, &s.dev, adc,
                                              SEED, f->mm),
                     MX_OK);
}

static void snn_fixture_free(snn_fixture *f)
{
    for (size_t l = 0; l < MX_SNN_MAX_LAYERS; l++)
        mx_matmul_destroy(f->mm[l]);
    mx_snn_destroy(f->net);
    mx_mlp_destroy(f->mlp);
    free(f->x);
}

/* Run every image; OUT per-step predictions (N_IMAGES, T_STEPS) and the
 * per-layer statistics summed over images. */
static void run_all(const snn_fixture *f, int *pred, mx_snn_layer_stats *stats)
{
    mx_snn_state *s = NULL;
    assert_int_equal(mx_snn_state_create(f->net, &s), MX_OK);
    memset(stats, 0, 2 * sizeof *stats);
    for (size_t i = 0; i < N_IMAGES; i++) {
        int p;
        assert_int_equal(mx_snn_run(f->net, s, f->x + i * N_IN, SEED, i, 0, pred + i * T_STEPS,
                                    &p, stats),
                         MX_OK);
    }
    mx_snn_state_destroy(s);
}

static void test_ideal_comparator_readout_equals_the_digital_neuron_bit_for_bit(void **state)
{
    (void)state;
    mx_adc_config adc;
    mx_adc_config_default(&adc);
    adc.kind = MX_ADC_NONE;
    snn_fixture f;
    snn_fixture_make(&f, &adc);
    int pred_adc[N_IMAGES * T_STEPS], pred_int[N_IMAGES * T_STEPS];
    mx_snn_layer_stats st_adc[2], st_int[2];
    run_all(&f, pred_adc, st_adc);

    mx_snn_readout_config rc;
    mx_snn_readout_config_default(&rc);
    rc.kind = MX_READOUT_INTEGRATE;
    assert_int_equal(mx_snn_set_readout(f.net, &rc, SEED), MX_OK);
    assert_int_equal(mx_snn_get_readout(f.net)->kind, MX_READOUT_INTEGRATE);
    run_all(&f, pred_int, st_int);

    assert_memory_equal(pred_adc, pred_int, sizeof pred_adc);
    for (size_t l = 0; l < 2; l++) {
        assert_true(st_adc[l].spikes == st_int[l].spikes);
        assert_true(st_adc[l].spikes > 0);
        /* The crossbar did the same work; the neurons were counted as
         * digital updates in one and comparator decisions in the other. */
        assert_true(st_adc[l].mm.reads == st_int[l].mm.reads);
        assert_true(st_adc[l].mm.cell_power_w == st_int[l].mm.cell_power_w);
        const uint64_t steps = (uint64_t)N_IMAGES * T_STEPS * (l ? N_CLASSES : N_HIDDEN);
        assert_true(st_adc[l].neuron_updates == steps && st_adc[l].decisions == 0);
        assert_true(st_int[l].decisions == steps && st_int[l].neuron_updates == 0);
    }
    snn_fixture_free(&f);
}

static void test_comparator_offset_and_noise_change_spikes_deterministically(void **state)
{
    (void)state;
    mx_adc_config adc;
    mx_adc_config_default(&adc);
    adc.kind = MX_ADC_NONE;
    snn_fixture f;
    snn_fixture_make(&f, &adc);
    int p0[N_IMAGES * T_STEPS], p1[N_IMAGES * T_STEPS], p2[N_IMAGES * T_STEPS];
    mx_snn_layer_stats s0[2], s1[2], s2[2];
    mx_snn_readout_config rc;
    mx_snn_readout_config_default(&rc);
    rc.kind = MX_READOUT_INTEGRATE;
    assert_int_equal(mx_snn_set_readout(f.net, &rc, SEED), MX_OK);
    run_all(&f, p0, s0);
    rc.offset_sigma = 0.3;
    rc.noise_sigma = 0.2;
    assert_int_equal(mx_snn_set_readout(f.net, &rc, SEED), MX_OK);
    run_all(&f, p1, s1);
    assert_int_equal(mx_snn_set_readout(f.net, &rc, SEED), MX_OK); /* same draws again */
    run_all(&f, p2, s2);
    assert_memory_equal(p1, p2, sizeof p1);
    assert_true(s1[0].spikes == s2[0].spikes && s1[1].spikes == s2[1].spikes);
    assert_true(s0[0].spikes != s1[0].spikes || memcmp(p0, p1, sizeof p0) != 0);
    /* Another hardware instance draws other offsets. */
    rc.noise_sigma = 0.0;
    assert_int_equal(mx_snn_set_readout(f.net, &rc, SEED), MX_OK);
    run_all(&f, p1, s1);
    assert_int_equal(mx_snn_set_readout(f.net, &rc, SEED + 1), MX_OK);
    run_all(&f, p2, s2);
    assert_true(s1[0].spikes != s2[0].spikes || memcmp(p1, p2, sizeof p1) != 0);
    snn_fixture_free(&f);
}

static void test_integrate_readout_refuses_a_quantising_adc_and_bad_sigmas(void **state)
{
    (void)state;
    mx_adc_config adc;
    mx_adc_config_default(&adc); /* uniform */
    snn_fixture f;
    snn_fixture_make(&f, &adc);
    mx_snn_readout_config rc;
    mx_snn_readout_config_default(&rc);
    rc.kind = MX_READOUT_INTEGRATE;
    assert_int_equal(mx_snn_set_readout(f.net, &rc, SEED), MX_EINVAL);
    assert_error_mentions("hardware.readout.kind");
    assert_int_equal(mx_snn_get_readout(f.net)->kind, MX_READOUT_ADC);
    rc.kind = MX_READOUT_ADC;
    assert_int_equal(mx_snn_set_readout(f.net, &rc, SEED), MX_OK); /* ADC readout is fine */
    rc.offset_sigma = -0.1;
    assert_int_equal(mx_snn_set_readout(f.net, &rc, SEED), MX_EINVAL);
    assert_error_mentions("hardware.readout.offset_sigma");
    rc.offset_sigma = 0.0;
    rc.noise_sigma = NAN;
    assert_int_equal(mx_snn_readout_config_validate(&rc), MX_EINVAL);
    assert_error_mentions("hardware.readout.noise_sigma");
    rc.noise_sigma = 0.0;
    rc.kind = (mx_readout_kind)7;
    assert_int_equal(mx_snn_readout_config_validate(&rc), MX_EINVAL);
    assert_error_mentions("hardware.readout.kind");
    snn_fixture_free(&f);
}

static void test_offsets_fail_cleanly_without_memory(void **state)
{
    (void)state;
    mx_adc_config adc;
    mx_adc_config_default(&adc);
    adc.kind = MX_ADC_NONE;
    snn_fixture f;
    snn_fixture_make(&f, &adc);
    mx_snn_readout_config rc;
    mx_snn_readout_config_default(&rc);
    rc.kind = MX_READOUT_INTEGRATE;
    rc.offset_sigma = 0.1;
    for (long k = 1; k <= 2; k++) {
        mx_alloc_fail_after(k);
        assert_int_equal(mx_snn_set_readout(f.net, &rc, SEED), MX_ENOMEM);
        mx_alloc_fail_after(0);
        assert_int_equal(mx_snn_get_readout(f.net)->kind, MX_READOUT_ADC);
    }
    assert_int_equal(mx_snn_set_readout(f.net, &rc, SEED), MX_OK);
    snn_fixture_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_are_valid_and_cited_values),
        cmocka_unit_test(test_every_bad_coefficient_is_named),
        cmocka_unit_test(test_a_2x2_layer_costs_what_the_hand_computation_says),
        cmocka_unit_test(test_zero_input_costs_no_array_energy_and_no_time),
        cmocka_unit_test(test_read_power_is_the_per_cell_sum_over_every_family),
        cmocka_unit_test(test_fast_path_counts_what_the_reference_twin_counts),
        cmocka_unit_test(test_row_drives_are_priced_by_their_bits),
        cmocka_unit_test(test_adc_instances_and_series_conversions_by_hand),
        cmocka_unit_test(test_ideal_comparator_readout_equals_the_digital_neuron_bit_for_bit),
        cmocka_unit_test(test_comparator_offset_and_noise_change_spikes_deterministically),
        cmocka_unit_test(test_integrate_readout_refuses_a_quantising_adc_and_bad_sigmas),
        cmocka_unit_test(test_offsets_fail_cleanly_without_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
