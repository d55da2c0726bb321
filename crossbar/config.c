/* SPDX-License-Identifier: MIT
 *
 * config.c: crossbar configuration defaults and validation.
 */
#include "crossbar/crossbar.h"

#include <math.h>

#define XBAR_DEFAULT_TILE 128
#define XBAR_MAX_TILE 65536
#define XBAR_DEFAULT_READ_VOLTAGE_V 0.2
#define XBAR_DEFAULT_DAC_BITS 8
#define XBAR_MAX_DAC_BITS 16

void mx_crossbar_config_default(mx_crossbar_config *c)
{
    *c = (mx_crossbar_config){
        .tile_rows = XBAR_DEFAULT_TILE,
        .tile_cols = XBAR_DEFAULT_TILE,
        .read_voltage_v = XBAR_DEFAULT_READ_VOLTAGE_V,
        .input = MX_INPUT_SPIKES,
        .dac_bits = XBAR_DEFAULT_DAC_BITS,
        .input_full_scale = 1.0,
        .noise = MX_NOISE_OUTPUT_REFERRED,
    };
}

mx_status mx_crossbar_config_validate(const mx_crossbar_config *c)
{
    if (c->tile_rows < 1 || c->tile_rows > XBAR_MAX_TILE)
        return mx_fail(MX_EINVAL, "hardware.crossbar.tile_rows: expected an integer in [1, %d], got %zu",
                       XBAR_MAX_TILE, c->tile_rows);
    if (c->tile_cols < 1 || c->tile_cols > XBAR_MAX_TILE)
        return mx_fail(MX_EINVAL, "hardware.crossbar.tile_cols: expected an integer in [1, %d], got %zu",
                       XBAR_MAX_TILE, c->tile_cols);
    if (!(isfinite(c->read_voltage_v) && c->read_voltage_v > 0.0))
        return mx_fail(MX_EINVAL, "hardware.crossbar.read_voltage_v: expected a voltage > 0 V, got %g",
                       c->read_voltage_v);
    if (c->input != MX_INPUT_DAC && c->input != MX_INPUT_SPIKES)
        return mx_fail(MX_EINVAL, "hardware.crossbar.input: expected spikes or dac");
    if (c->dac_bits < 0 || c->dac_bits > XBAR_MAX_DAC_BITS)
        return mx_fail(MX_EINVAL,
                       "hardware.crossbar.dac_bits: expected 0 (exact) or an integer in [1, %d], got %d",
                       XBAR_MAX_DAC_BITS, c->dac_bits);
    if (!(isfinite(c->input_full_scale) && c->input_full_scale > 0.0))
        return mx_fail(MX_EINVAL, "hardware.crossbar.input_full_scale: expected a number > 0, got %g",
                       c->input_full_scale);
    if (c->noise != MX_NOISE_OUTPUT_REFERRED && c->noise != MX_NOISE_PER_CELL)
        return mx_fail(MX_EINVAL, "hardware.crossbar.noise: expected output-referred or per-cell");
    return MX_OK;
}
