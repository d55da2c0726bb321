/* SPDX-License-Identifier: MIT
 *
 * energy.c: the energy, latency and area model of energy.h — the last stage
 * of a sweep point before its results are written. The crossbar counts what
 * happened (crossbar/matmul.c: rows driven, reads, conversions, partial
 * sums, read power); the network counts neuron updates, comparator decisions
 * and spikes (snn/network.c), or activations (snn/ann.c); this file multiplies each count by its
 * coefficient. Nothing here is data-dependent beyond those counts, so the
 * model is exact arithmetic on them and the tests check it by hand.
 *
 * Choices (docs/energy.md):
 * - Cells: the columns sit at virtual ground, so a cell of a driven row
 *   dissipates V·I = V·φ(V)·G for the read time; undriven rows dissipate
 *   nothing. PWM rows are on for |m|/K of the window. Reads are priced at
 *   their programmed (or, with wires, effective) conductances; read noise
 *   does not change the expected energy.
 * - Row drivers: a b-bit DAC costs 2^(b−1) times a 1-bit one (MNSIM 2.0's
 *   DAC table after ISAAC doubles per bit); spikes, bit-serial bits and PWM
 *   pulses are 1-bit drives. An exact DAC (dac_bits 0) and an exact ADC
 *   (adc.type none) are idealisations and are not priced.
 * - ADC: Walden FoM_W·2^bits per conversion (ENOB = bits), or a fixed
 *   energy; conversions of row tiles without a driven row never happen.
 * - The ADC-less readout pays one comparator decision per neuron per step,
 *   no ADC, no shift-and-add (the row tiles' currents add on the membrane
 *   capacitor) and no digital update (the membrane is analog); spikes are
 *   still priced (the reset charge packet, assumed to cost a digital reset).
 * - The ANN on the crossbar (snn/ann.c) has no neurons: one activation per
 *   output (a ReLU, or an argmax compare on the last layer), each priced as
 *   an int32 compare; its DAC, cell, ADC and shift-add energy are counted by
 *   the matmul as for the SNN, one input pass per layer (dac_bits − 1 for
 *   bit-serial input).
 * - Latency: the tiles of a layer are read in parallel; one input pass costs
 *   t_read plus the conversions one ADC does in series (min(columns_per_adc,
 *   tile_cols) × t_conv), or one comparator decision; passes without any driven row
 *   cost nothing (event-driven). Layers run one after the other within a
 *   step; digital adds and neuron updates are assumed to overlap the next
 *   read and add no time.
 * - Area: ADC instances (per tile and slice, ⌈outputs / columns_per_adc⌉)
 *   × A_adc + cells × A_cell; drivers, neurons and wiring are not counted.
 */
#include "energy/energy.h"

#include <assert.h>
#include <math.h>
#include <string.h>

/* Defaults with their sources (energy.h has them on each field). */
#define DEF_DAC_ENERGY_J 3.9e-15        /* MNSIM 2.0 DAC.py, 1-bit: 3.9 µW × 1 ns (ISAAC) */
#define DEF_ADC_FOM_J 40.5e-15          /* Murmann ADC survey, crossbar subset median */
#define DEF_ADC_TIME_S (1.0 / 1.28e9)   /* ISAAC: 8-bit 1.28 GS/s */
#define DEF_SENSE_ENERGY_J (2.0 * DEF_ADC_FOM_J) /* FoM·2^1 */
#define DEF_SENSE_TIME_S (DEF_ADC_TIME_S / 8.0)  /* one of the 8 SAR bit cycles */
#define DEF_NEURON_ENERGY_J 0.2e-12     /* Horowitz 2014: int32 add 0.1 pJ, + compare */
#define DEF_LEAK_ENERGY_J 3.1e-12       /* Horowitz 2014: int32 multiply */
#define DEF_SPIKE_ENERGY_J 0.1e-12      /* Horowitz 2014: int32 add (reset) */
#define DEF_ACTIVATION_ENERGY_J 0.1e-12 /* Horowitz 2014: int32 compare ≈ add (ReLU) */
#define DEF_SHIFT_ADD_ENERGY_J 45e-15   /* PUMA constants.py: sna 0.045 mW × 1 ns */
#define DEF_ADC_AREA_UM2 24000.0        /* Murmann survey subset median 0.024 mm² */
#define DEF_CELL_AREA_UM2 (25.0 / 16384.0) /* PUMA/ISAAC: 128×128 array 2.5e-5 mm² */
/* Bits beyond which 2^bits stops meaning anything for a converter. */
#define MAX_PRICED_BITS 32

void mx_energy_config_default(mx_energy_config *c)
{
    *c = (mx_energy_config){
        .read_time_s = 0.0,
        .dac_energy_j = DEF_DAC_ENERGY_J,
        .adc_fom_j = DEF_ADC_FOM_J,
        .adc_energy_j = 0.0,
        .adc_time_s = DEF_ADC_TIME_S,
        .sense_energy_j = DEF_SENSE_ENERGY_J,
        .sense_time_s = DEF_SENSE_TIME_S,
        .neuron_energy_j = DEF_NEURON_ENERGY_J,
        .leak_energy_j = DEF_LEAK_ENERGY_J,
        .spike_energy_j = DEF_SPIKE_ENERGY_J,
        .activation_energy_j = DEF_ACTIVATION_ENERGY_J,
        .shift_add_energy_j = DEF_SHIFT_ADD_ENERGY_J,
        .adc_area_um2 = DEF_ADC_AREA_UM2,
        .cell_area_um2 = DEF_CELL_AREA_UM2,
    };
}

mx_status mx_energy_config_validate(const mx_energy_config *c)
{
    const struct {
        const char *name;
        double value;
        int positive; /* a time: must be > 0 */
    } f[] = {
        {"read_time_s", c->read_time_s, 0},
        {"dac_energy_j", c->dac_energy_j, 0},
        {"adc_fom_j", c->adc_fom_j, 0},
        {"adc_energy_j", c->adc_energy_j, 0},
        {"adc_time_s", c->adc_time_s, 1},
        {"sense_energy_j", c->sense_energy_j, 0},
        {"sense_time_s", c->sense_time_s, 1},
        {"neuron_energy_j", c->neuron_energy_j, 0},
        {"leak_energy_j", c->leak_energy_j, 0},
        {"spike_energy_j", c->spike_energy_j, 0},
        {"activation_energy_j", c->activation_energy_j, 0},
        {"shift_add_energy_j", c->shift_add_energy_j, 0},
        {"adc_area_um2", c->adc_area_um2, 0},
        {"cell_area_um2", c->cell_area_um2, 0},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        const double v = f[i].value;
        if (!isfinite(v) || v < 0.0 || (f[i].positive && v == 0.0))
            return mx_fail(MX_EINVAL, "hardware.energy.%s: expected a number %s 0, got %g",
                           f[i].name, f[i].positive ? ">" : ">=", v);
    }
    return MX_OK;
}

const char *mx_energy_component_name(mx_energy_component c)
{
    static const char *const names[MX_ENERGY_N_COMPONENTS] = {
        [MX_ENERGY_CELL] = "cell",         [MX_ENERGY_DAC] = "dac",
        [MX_ENERGY_ADC] = "adc",           [MX_ENERGY_SENSE] = "sense",
        [MX_ENERGY_SHIFT_ADD] = "shift_add", [MX_ENERGY_NEURON] = "neuron",
    };
    return (unsigned)c < MX_ENERGY_N_COMPONENTS ? names[c] : NULL;
}

/* Bits of one conversion of the layer's ADC; 0 when nothing is quantised. */
static int adc_bits(const mx_adc_config *adc)
{
    return adc->kind == MX_ADC_NONE ? 0 : adc->bits;
}

mx_status mx_energy_layer_describe(const mx_matmul *mm, const mx_energy_config *c,
                                   const mx_device_params *dev, int integrate, int leaky,
                                   mx_energy_layer *out)
{
    memset(out, 0, sizeof *out);
    const double t_read = c->read_time_s > 0.0 ? c->read_time_s : dev->read_time_s;
    if (!(isfinite(t_read) && t_read > 0.0))
        return mx_fail(MX_EINVAL, "hardware.energy.read_time_s: expected a time > 0 s (or 0 "
                                  "for hardware.device.read_time_s), got %g",
                       t_read);
    const mx_crossbar_config *x = mx_matmul_config(mm);
    const size_t n_in = mx_matmul_n_in(mm), n_out = mx_matmul_n_out(mm);
    const mx_adc_config *adc = mx_matmul_adc_config(mm);
    out->n_out = n_out;
    out->read_time_s = t_read;
    out->dac_bits = x->input == MX_INPUT_DAC ? x->dac_bits : 1;
    out->adc_bits = integrate ? 0 : adc_bits(adc);
    out->conversions_in_series = mx_adc_conversions_in_series(adc, x->tile_cols);
    out->integrate = integrate != 0;
    out->leaky = leaky != 0;
    for (size_t f = 0; f < mx_matmul_n_families(mm); f++) {
        size_t cols;
        mx_matmul_family(mm, f, &cols);
        out->cells += n_in * cols;
    }
    if (out->adc_bits > 0) {
        /* Per row tile and slice, ⌈outputs / k⌉ ADCs in every column tile;
         * a digitally subtracted reference has ⌈column tiles / k⌉ of its own
         * per row tile (the banks of adc/adc.h's mx_adc_layout). */
        const size_t n_ch = x->mapping == MX_MAPPING_BIT_SLICED ? (size_t)x->slices : 1;
        const size_t n_ct = (n_out + x->tile_cols - 1) / x->tile_cols;
        size_t per_bank = 0;
        for (size_t o0 = 0; o0 < n_out; o0 += x->tile_cols) {
            const size_t outs = o0 + x->tile_cols <= n_out ? x->tile_cols : n_out - o0;
            per_bank += mx_adc_instances_per_tile(adc, outs);
        }
        size_t per_row_tile = n_ch * per_bank;
        if (x->mapping == MX_MAPPING_OFFSET && x->offset_subtract == MX_OFFSET_DIGITAL)
            per_row_tile += mx_adc_instances_per_tile(adc, n_ct);
        out->adc_count = mx_matmul_n_row_tiles(mm) * per_row_tile;
    }
    return MX_OK;
}

double mx_energy_adc_conversion_j(const mx_energy_config *c, int bits)
{
    if (bits <= 0)
        return 0.0;
    if (c->adc_energy_j > 0.0)
        return c->adc_energy_j;
    return c->adc_fom_j * ldexp(1.0, bits < MAX_PRICED_BITS ? bits : MAX_PRICED_BITS);
}

double mx_energy_dac_conversion_j(const mx_energy_config *c, int bits)
{
    if (bits <= 0)
        return 0.0;
    return c->dac_energy_j * ldexp(1.0, (bits < MAX_PRICED_BITS ? bits : MAX_PRICED_BITS) - 1);
}

void mx_energy_cost(const mx_energy_config *c, const mx_energy_layer *hw,
                    const mx_energy_counts *n, double n_inferences, mx_energy_breakdown *out)
{
    assert(n_inferences > 0.0);
    double *e = out->energy_j;
    const double update_j = c->neuron_energy_j + (hw->leaky ? c->leak_energy_j : 0.0);
    e[MX_ENERGY_CELL] = n->mm.cell_power_w * hw->read_time_s;
    e[MX_ENERGY_DAC] = (double)n->mm.row_drives * mx_energy_dac_conversion_j(c, hw->dac_bits);
    e[MX_ENERGY_ADC] = (double)n->mm.conversions * mx_energy_adc_conversion_j(c, hw->adc_bits);
    e[MX_ENERGY_SENSE] = (double)n->decisions * c->sense_energy_j;
    e[MX_ENERGY_SHIFT_ADD] =
        hw->integrate ? 0.0 : (double)n->mm.partial_sums * c->shift_add_energy_j;
    e[MX_ENERGY_NEURON] = (double)n->neuron_updates * update_j +
                          (double)n->spikes * c->spike_energy_j +
                          (double)n->activations * c->activation_energy_j;
    out->total_j = 0.0;
    for (size_t k = 0; k < MX_ENERGY_N_COMPONENTS; k++) {
        e[k] /= n_inferences;
        out->total_j += e[k];
    }
    double t_pass = hw->read_time_s;
    if (hw->integrate)
        t_pass += c->sense_time_s;
    else if (hw->adc_bits > 0)
        t_pass += (double)hw->conversions_in_series * c->adc_time_s;
    out->latency_s = (double)n->mm.read_passes * t_pass / n_inferences;
}

double mx_energy_area_um2(const mx_energy_config *c, const mx_energy_layer *hw, double *adc_um2,
                          double *array_um2)
{
    const double a = (double)hw->adc_count * c->adc_area_um2;
    const double b = (double)hw->cells * c->cell_area_um2;
    if (adc_um2)
        *adc_um2 = a;
    if (array_um2)
        *array_um2 = b;
    return a + b;
}
