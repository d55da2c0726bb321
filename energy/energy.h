/* SPDX-License-Identifier: MIT
 *
 * energy.h: what a run costs in energy, time and silicon. A per-component
 * model priced from the activity the crossbar and the neurons actually had
 * (mx_matmul_stats and the neuron counts), so a spiking run pays only for
 * the spikes that occur: an undriven row costs no driver or cell energy, an
 * unread row tile no conversions.
 *
 *   cell      t_read · Σ_reads Σ_j |V_j·φ(V_j)|·Σ_cells G  (V²G t_read for linear cells)
 *   dac       row drives × E_dac1 · 2^(b−1)   (b = 1: a spike or bit driver)
 *   adc       conversions × FoM_W · 2^bits    (Walden), or a fixed energy
 *   sense     comparator decisions × E_cmp    (ADC-less readout)
 *   shift_add partial sums × E_sa             (digital shift-and-add/accumulate)
 *   neuron    updates × (E_upd [+ E_leak for LIF]) + spikes × E_spike
 *             + activations × E_act (the ANN: ReLU / argmax per output)
 *
 *   latency   passes with a read × (t_read + k·t_conv)   (k = min(columns per
 *             ADC, tile_cols) in series; ADC-less: t_read + t_cmp; exact: t_read)
 *   area      ADC instances × A_adc + cells × A_cell
 *
 * Every coefficient is a config field (hardware.energy.*) with its source
 * on its line below; docs/energy.md has the derivations. The layer is
 * described once from its matmul (mx_energy_layer_describe); the costs are
 * a pure function of that description and the counts (mx_energy_cost).
 */
#ifndef MX_ENERGY_H
#define MX_ENERGY_H

#include <stddef.h>
#include <stdint.h>

#include "adc/adc.h"
#include "core/core.h"
#include "crossbar/crossbar.h"
#include "devices/devices.h"

typedef struct mx_energy_config {
    double read_time_s;        /* t_read of one array read, s; 0 = the device's
                                  hardware.device.read_time_s; 0 */
    double dac_energy_j;       /* one 1-bit DAC conversion (a spike / bit / PWM row
                                  driver pulse), J; a b-bit DAC costs 2^(b−1) of it
                                  (MNSIM 2.0 DAC table after ISAAC: 3.9 µW at 1 GS/s,
                                  doubling per bit); 3.9e-15 */
    double adc_fom_j;          /* Walden figure of merit, J per conversion step: a
                                  b-bit conversion costs FoM·2^b (Murmann survey median of
                                  the crossbar-relevant subset); 40.5e-15 */
    double adc_energy_j;       /* fixed energy per conversion, J, overriding FoM·2^b
                                  when > 0 (ISAAC's ADC: 2 mW / 1.28 GS/s = 1.5625e-12);
                                  0 */
    double adc_time_s;         /* one conversion, s (ISAAC's 1.28 GS/s); 7.8125e-10 */
    double sense_energy_j;     /* one comparator decision of the ADC-less readout, J
                                  (FoM·2^1 at the survey median: a 1-bit converter);
                                  8.1e-14 */
    double sense_time_s;       /* one comparator decision, s (one bit cycle of ISAAC's
                                  8-bit SAR: 7.8125e-10 / 8); 9.765625e-11 */
    double neuron_energy_j;    /* one digital IF update of one neuron (an int32 add and a
                                  compare; Horowitz ISSCC 2014, 45 nm: 0.1 pJ each), J;
                                  2e-13 */
    double leak_energy_j;      /* the LIF leak of one digital update (an int32 multiply,
                                  Horowitz: 3.1 pJ), J; 3.1e-12 */
    double spike_energy_j;     /* one spike: the reset subtraction (an int32 add), J;
                                  1e-13 */
    double activation_energy_j;/* one digital activation of the ANN on the crossbar: a
                                  ReLU max(0, y) or one argmax compare per output (an
                                  int32 compare ≈ an add, Horowitz: 0.1 pJ), J; 1e-13 */
    double shift_add_energy_j; /* one digital shift-and-add of a partial sum (PUMA's
                                  shift-and-add unit after ISAAC: 0.045 mW dynamic at
                                  1 GHz), J; 4.5e-14 */
    double adc_area_um2;       /* one ADC, µm² (survey median 0.024 mm²); 24000 */
    double cell_area_um2;      /* one cell, µm² (ISAAC/PUMA 128×128 array 2.5e-5 mm² /
                                  16384 cells); 0.00152587890625 */
} mx_energy_config;

void mx_energy_config_default(mx_energy_config *c);
/* MX_EINVAL naming the field (hardware.energy.adc_fom_j, ...) on a value that
 * is negative or not finite, or a time that is not > 0 (read_time_s may be
 * 0: the device's). */
mx_status mx_energy_config_validate(const mx_energy_config *c);

typedef enum mx_energy_component {
    MX_ENERGY_CELL,      /* read current through the cells */
    MX_ENERGY_DAC,       /* row drivers: DACs or spike drivers */
    MX_ENERGY_ADC,       /* column conversions */
    MX_ENERGY_SENSE,     /* comparator decisions (ADC-less readout) */
    MX_ENERGY_SHIFT_ADD, /* digital shift-and-add / partial-sum accumulation */
    MX_ENERGY_NEURON,    /* digital neuron updates, leak and spikes; ANN activations */
    MX_ENERGY_N_COMPONENTS
} mx_energy_component;

/* "cell", "dac", "adc", "sense", "shift_add", "neuron"; NULL past the end. */
const char *mx_energy_component_name(mx_energy_component c);

/* The hardware of one layer, as the model prices it (plain data). */
typedef struct mx_energy_layer {
    size_t n_out;           /* neurons */
    double read_time_s;     /* t_read, resolved (> 0) */
    int dac_bits;           /* bits of one row drive: 1 for spikes, bit-serial and PWM
                               drivers, dac_bits for a DAC, 0 for exact voltages (not
                               priced) */
    int adc_bits;           /* bits of one conversion; 0 = no ADC (exact, or ADC-less) */
    size_t conversions_in_series; /* conversions one ADC does in series per read:
                               min(columns_per_adc, tile_cols), >= 1 */
    size_t adc_count;       /* ADC instances of the layer (0 without ADCs) */
    size_t cells;           /* cells of the layer's arrays, reference columns included */
    int integrate;          /* ADC-less readout: comparators instead of ADCs and
                               digital neurons */
    int leaky;              /* LIF neurons (a digital update pays the leak) */
} mx_energy_layer;

/* Describe layer `mm` (its crossbar and ADC configs: the ADC's column
 * multiplexing hardware.adc.columns_per_adc sets the instances and the
 * conversions in series). `dev` resolves read_time_s 0; `integrate` selects
 * the ADC-less readout (no ADC instances, no conversions priced); `leaky`
 * LIF neurons. MX_EINVAL on a t_read that is not > 0. */
mx_status mx_energy_layer_describe(const mx_matmul *mm, const mx_energy_config *c,
                                   const mx_device_params *dev, int integrate, int leaky,
                                   mx_energy_layer *out);

/* What one layer did, summed over the inferences being priced. */
typedef struct mx_energy_counts {
    mx_matmul_stats mm;      /* its crossbar activity */
    uint64_t neuron_updates; /* digital neuron updates (neurons × steps) */
    uint64_t decisions;      /* comparator decisions (ADC-less readout) */
    uint64_t spikes;         /* spikes the layer emitted */
    uint64_t activations;    /* digital activations of the ANN (one per output) */
} mx_energy_counts;

/* Energy per component and latency of one layer (per inference when the
 * counts are divided over inferences by the caller's `n_inferences`). */
typedef struct mx_energy_breakdown {
    double energy_j[MX_ENERGY_N_COMPONENTS]; /* J */
    double total_j;   /* Σ energy_j in component order, J */
    double latency_s; /* s */
} mx_energy_breakdown;

/* Price `n` on layer `hw`: every count × its coefficient / n_inferences
 * (> 0). OUT: *out. No failure: the inputs are validated data. */
void mx_energy_cost(const mx_energy_config *c, const mx_energy_layer *hw,
                    const mx_energy_counts *n, double n_inferences, mx_energy_breakdown *out);

/* Energy of one conversion of a `bits`-bit ADC, J: adc_energy_j when > 0,
 * else FoM·2^bits; 0 for bits 0 (no ADC). */
double mx_energy_adc_conversion_j(const mx_energy_config *c, int bits);
/* Energy of one `bits`-bit row drive, J: dac_energy_j·2^(bits−1); 0 for bits 0. */
double mx_energy_dac_conversion_j(const mx_energy_config *c, int bits);

/* Silicon of layer `hw`, µm²: ADCs and array. OUT: adc_um2, array_um2 (either
 * may be NULL); returns their sum. */
double mx_energy_area_um2(const mx_energy_config *c, const mx_energy_layer *hw, double *adc_um2,
                          double *array_um2);

#endif /* MX_ENERGY_H */
