/* SPDX-License-Identifier: MIT
 *
 * config.c: crossbar configuration defaults and validation. Checks that
 * need the device (half-select asks for an amplitude-dependent pulse
 * response) are made by mx_matmul_create.
 */
#include "crossbar/crossbar.h"

#include <math.h>

#define XBAR_DEFAULT_TILE 128
#define XBAR_MAX_TILE 65536
#define XBAR_DEFAULT_READ_VOLTAGE_V 0.2
#define XBAR_DEFAULT_DAC_BITS 8
#define XBAR_MAX_DAC_BITS 16
/* Bit-slicing: ISAAC-like 2-bit slices, 8-bit weights by default. Weight
 * codes are held in 64-bit integers and the shift-add weights 2^(b·s) in
 * doubles, exact up to k·b = 32 (float weights carry 24 bits anyway). */
#define XBAR_DEFAULT_SLICES 4
#define XBAR_DEFAULT_SLICE_BITS 2
#define XBAR_MAX_SLICES 32
#define XBAR_MAX_SLICE_BITS 16
#define XBAR_MAX_WEIGHT_BITS 32
/* Write pulses per cell write. The disturb train of one write is sent as
 * one pulse of write_pulses × the nominal width (matmul.c), so this only
 * bounds that width to something a device model can integrate. */
#define XBAR_MAX_WRITE_PULSES (1 << 20)
#define XBAR_DEFAULT_SWEEPS 2
#define XBAR_MAX_SWEEPS 1000
/* Drift reference: 16 binary calibration vectors at 10 % density. Σ|y| over
 * 16 vectors × every column averages read noise and ADC rounding down to a
 * fraction of a percent for a few hundred columns (docs/calibration.md). */
#define XBAR_DEFAULT_DRIFT_VECTORS 16
#define XBAR_MAX_DRIFT_VECTORS 4096
#define XBAR_DEFAULT_DRIFT_DENSITY 0.1
#define XBAR_DEFAULT_COLUMN_CAL_VECTORS 32
#define XBAR_MIN_COLUMN_CAL_VECTORS 3
#define XBAR_MAX_COLUMN_CAL_VECTORS 4096
#define XBAR_DEFAULT_COLUMN_CAL_DENSITY 0.1
/* Fault-aware mapping: 4 spare outputs per 128-output tile, about 3 % extra
 * columns, the order of the redundancy of fault-tolerant mapping studies. */
#define XBAR_DEFAULT_SPARE_COLUMNS 4

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
        .mapping = MX_MAPPING_DIFFERENTIAL,
        .slices = XBAR_DEFAULT_SLICES,
        .slice_bits = XBAR_DEFAULT_SLICE_BITS,
        .offset_subtract = MX_OFFSET_ANALOG,
        .half_select = MX_HALF_SELECT_OFF,
        .write_pulses = 1,
        .r_wire_ohm = 0.0,
        .r_row_ohm = 0.0,
        .r_col_ohm = 0.0,
        .r_src_ohm = 0.0,
        .r_sense_ohm = 0.0,
        .r_access_ohm = 0.0,
        .irdrop = MX_CIRCUIT_EXACT,
        .irdrop_sweeps = XBAR_DEFAULT_SWEEPS,
        .programming = MX_PROGRAMMING_OPEN_LOOP,
        .drift = {.mode = MX_DRIFT_NONE,
                  .vectors = XBAR_DEFAULT_DRIFT_VECTORS,
                  .density = XBAR_DEFAULT_DRIFT_DENSITY},
        .column_cal = {.mode = MX_COLUMN_CAL_NONE,
                       .vectors = XBAR_DEFAULT_COLUMN_CAL_VECTORS,
                       .density = XBAR_DEFAULT_COLUMN_CAL_DENSITY},
        .fault_map = {.mode = MX_FAULT_MAP_NONE, .spare_columns = XBAR_DEFAULT_SPARE_COLUMNS},
    };
    mx_wv_config_default(&c->write_verify);
}

int mx_crossbar_has_wires(const mx_crossbar_config *c)
{
    return c->r_wire_ohm > 0.0 || c->r_row_ohm > 0.0 || c->r_col_ohm > 0.0 || c->r_src_ohm > 0.0 ||
           c->r_sense_ohm > 0.0 || c->r_access_ohm > 0.0;
}

static const char *input_name(mx_input_mode m)
{
    return m == MX_INPUT_BIT_SERIAL ? "bit-serial" : "pwm";
}

/* Settings matter (and are checked) only when the calibration runs. */
static mx_status column_cal_validate(const mx_column_cal_config *c)
{
    if (c->mode != MX_COLUMN_CAL_NONE && c->mode != MX_COLUMN_CAL_GAIN_OFFSET)
        return mx_fail(MX_EINVAL,
                       "hardware.column_calibration.mode: expected none or gain-offset, got %d",
                       (int)c->mode);
    if (c->mode == MX_COLUMN_CAL_NONE)
        return MX_OK;
    if (c->vectors < XBAR_MIN_COLUMN_CAL_VECTORS || c->vectors > XBAR_MAX_COLUMN_CAL_VECTORS)
        return mx_fail(MX_EINVAL,
                       "hardware.column_calibration.vectors: expected an integer in [%d, %d], "
                       "got %d",
                       XBAR_MIN_COLUMN_CAL_VECTORS, XBAR_MAX_COLUMN_CAL_VECTORS, c->vectors);
    if (!(isfinite(c->density) && c->density > 0.0 && c->density <= 1.0))
        return mx_fail(MX_EINVAL,
                       "hardware.column_calibration.density: expected a fraction in (0, 1], "
                       "got %g",
                       c->density);
    return MX_OK;
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
    if (c->input != MX_INPUT_DAC && c->input != MX_INPUT_SPIKES &&
        c->input != MX_INPUT_BIT_SERIAL && c->input != MX_INPUT_PWM)
        return mx_fail(MX_EINVAL,
                       "hardware.crossbar.input: expected spikes, dac, bit-serial or pwm, got %d",
                       (int)c->input);
    if (c->dac_bits < 0 || c->dac_bits > XBAR_MAX_DAC_BITS)
        return mx_fail(MX_EINVAL,
                       "hardware.crossbar.dac_bits: expected 0 (exact) or an integer in [1, %d], got %d",
                       XBAR_MAX_DAC_BITS, c->dac_bits);
    if ((c->input == MX_INPUT_BIT_SERIAL || c->input == MX_INPUT_PWM) && c->dac_bits < 1)
        return mx_fail(MX_EINVAL,
                       "hardware.crossbar.dac_bits: expected an integer in [1, %d] for input %s "
                       "(sign + magnitude bits; 0 = exact voltages exists for dac only), got %d",
                       XBAR_MAX_DAC_BITS, input_name(c->input), c->dac_bits);
    if (!(isfinite(c->input_full_scale) && c->input_full_scale > 0.0))
        return mx_fail(MX_EINVAL, "hardware.crossbar.input_full_scale: expected a number > 0, got %g",
                       c->input_full_scale);
    if (c->noise != MX_NOISE_OUTPUT_REFERRED && c->noise != MX_NOISE_PER_CELL)
        return mx_fail(MX_EINVAL, "hardware.crossbar.noise: expected output-referred or per-cell");
    if (c->mapping != MX_MAPPING_DIFFERENTIAL && c->mapping != MX_MAPPING_OFFSET &&
        c->mapping != MX_MAPPING_BIT_SLICED)
        return mx_fail(MX_EINVAL,
                       "hardware.crossbar.mapping: expected differential, offset or bit-sliced, "
                       "got %d",
                       (int)c->mapping);
    if (c->slices < 1 || c->slices > XBAR_MAX_SLICES)
        return mx_fail(MX_EINVAL,
                       "hardware.crossbar.slices: expected an integer in [1, %d], got %d",
                       XBAR_MAX_SLICES, c->slices);
    if (c->slice_bits < 1 || c->slice_bits > XBAR_MAX_SLICE_BITS)
        return mx_fail(MX_EINVAL,
                       "hardware.crossbar.slice_bits: expected an integer in [1, %d], got %d",
                       XBAR_MAX_SLICE_BITS, c->slice_bits);
    if (c->slices * c->slice_bits > XBAR_MAX_WEIGHT_BITS)
        return mx_fail(MX_EINVAL,
                       "hardware.crossbar.slices: expected slices × slice_bits <= %d weight bits, "
                       "got %d × %d",
                       XBAR_MAX_WEIGHT_BITS, c->slices, c->slice_bits);
    if (c->offset_subtract != MX_OFFSET_ANALOG && c->offset_subtract != MX_OFFSET_DIGITAL)
        return mx_fail(MX_EINVAL,
                       "hardware.crossbar.offset_subtract: expected analog or digital, got %d",
                       (int)c->offset_subtract);
    if (c->half_select != MX_HALF_SELECT_OFF && c->half_select != MX_HALF_SELECT_V_HALF)
        return mx_fail(MX_EINVAL, "hardware.crossbar.half_select: expected off or v-half, got %d",
                       (int)c->half_select);
    if (c->write_pulses < 1 || c->write_pulses > XBAR_MAX_WRITE_PULSES)
        return mx_fail(MX_EINVAL,
                       "hardware.crossbar.write_pulses: expected an integer in [1, %d], got %d",
                       XBAR_MAX_WRITE_PULSES, c->write_pulses);
    const struct {
        const char *name;
        double value;
    } r[] = {{"r_wire_ohm", c->r_wire_ohm},   {"r_row_ohm", c->r_row_ohm},
             {"r_col_ohm", c->r_col_ohm},
             {"r_src_ohm", c->r_src_ohm},     {"r_sense_ohm", c->r_sense_ohm},
             {"r_access_ohm", c->r_access_ohm}};
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        if (!(isfinite(r[i].value) && r[i].value >= 0.0))
            return mx_fail(MX_EINVAL,
                           "hardware.crossbar.%s: expected a resistance >= 0 ohm (0 = none), "
                           "got %g",
                           r[i].name, r[i].value);
    if (c->irdrop != MX_CIRCUIT_EXACT && c->irdrop != MX_CIRCUIT_IDEAL &&
        c->irdrop != MX_CIRCUIT_FIRST_ORDER && c->irdrop != MX_CIRCUIT_LINE_SWEEPS)
        return mx_fail(MX_EINVAL,
                       "hardware.crossbar.irdrop: expected exact, ideal, first-order or "
                       "line-sweeps, got %d",
                       (int)c->irdrop);
    if (c->irdrop_sweeps < 1 || c->irdrop_sweeps > XBAR_MAX_SWEEPS)
        return mx_fail(MX_EINVAL,
                       "hardware.crossbar.irdrop_sweeps: expected an integer in [1, %d], got %d",
                       XBAR_MAX_SWEEPS, c->irdrop_sweeps);
    if (c->programming != MX_PROGRAMMING_OPEN_LOOP &&
        c->programming != MX_PROGRAMMING_WRITE_VERIFY)
        return mx_fail(MX_EINVAL,
                       "hardware.programming.mode: expected open-loop or write-verify, got %d",
                       (int)c->programming);
    if (c->drift.mode != MX_DRIFT_NONE && c->drift.mode != MX_DRIFT_GLOBAL &&
        c->drift.mode != MX_DRIFT_PER_COLUMN)
        return mx_fail(MX_EINVAL,
                       "hardware.drift_compensation.mode: expected none, global or per-column, "
                       "got %d",
                       (int)c->drift.mode);
    mx_status st = column_cal_validate(&c->column_cal);
    if (st)
        return st;
    if (c->fault_map.mode != MX_FAULT_MAP_NONE && c->fault_map.mode != MX_FAULT_MAP_PARTNER &&
        c->fault_map.mode != MX_FAULT_MAP_PERMUTE &&
        c->fault_map.mode != MX_FAULT_MAP_SPARE_COLUMNS)
        return mx_fail(MX_EINVAL,
                       "hardware.fault_mapping.mode: expected none, partner, permute or "
                       "spare-columns, got %d",
                       (int)c->fault_map.mode);
    if (c->fault_map.mode == MX_FAULT_MAP_SPARE_COLUMNS &&
        (c->fault_map.spare_columns < 1 || c->fault_map.spare_columns > XBAR_MAX_TILE))
        return mx_fail(MX_EINVAL,
                       "hardware.fault_mapping.spare_columns: expected an integer in [1, %d], "
                       "got %d",
                       XBAR_MAX_TILE, c->fault_map.spare_columns);
    if (!(isfinite(c->reprogram_every_s) && c->reprogram_every_s >= 0.0))
        return mx_fail(MX_EINVAL,
                       "hardware.programming.reprogram_every_s: expected a period >= 0 s "
                       "(0 = never), got %g",
                       c->reprogram_every_s);
    /* The reference's settings matter (and are checked) only when it is measured. */
    if (c->drift.mode == MX_DRIFT_NONE)
        return MX_OK;
    if (!(isfinite(c->drift.recalibrate_every_s) && c->drift.recalibrate_every_s >= 0.0))
        return mx_fail(MX_EINVAL,
                       "hardware.drift_compensation.recalibrate_every_s: expected a period "
                       ">= 0 s (0 = at every evaluation), got %g",
                       c->drift.recalibrate_every_s);
    if (c->drift.vectors < 1 || c->drift.vectors > XBAR_MAX_DRIFT_VECTORS)
        return mx_fail(MX_EINVAL,
                       "hardware.drift_compensation.vectors: expected an integer in [1, %d], "
                       "got %d",
                       XBAR_MAX_DRIFT_VECTORS, c->drift.vectors);
    if (!(isfinite(c->drift.density) && c->drift.density > 0.0 && c->drift.density <= 1.0))
        return mx_fail(MX_EINVAL,
                       "hardware.drift_compensation.density: expected a fraction in (0, 1], "
                       "got %g",
                       c->drift.density);
    return MX_OK;
}
