/* SPDX-License-Identifier: MIT
 *
 * device.c: `memxbar device` — the device models and the published devices
 * (presets) at a glance, at the top of the data flow's last stage (cli/):
 *
 *   list        every model of the registry (devices/registry.c) and every
 *               preset (devices/presets.c), with description and source;
 *   show NAME   every parameter that model reads, with its value, unit and
 *               meaning (the unit and meaning come from the config field
 *               table, experiments/config.c, so they cannot drift apart);
 *   curve NAME  the device's response, written to HDF5 — pulse models: K
 *               potentiation/depression cycles of N single pulses on a small
 *               population and on the nominal device; dynamic models: i–v
 *               loops under a sinusoidal voltage at three frequencies; pcm:
 *               conductance drift — and drawn to a PNG beside it by
 *               scripts/plot_device.py when Python with h5py and matplotlib
 *               is there.
 *
 * A device is built exactly as a sweep point would build it: the config
 * defaults, then the preset (or the model), then --set overrides, resolved
 * and validated by mx_config_point (which also loads a measured curve).
 *
 * Randomness: the population is drawn from stream "device.population"
 * (item 0), the programming to g_min from "device.program" (item 0), the
 * pulses' cycle-to-cycle noise from "device.pulse" (item 0), all under
 * --seed; the nominal device has its own items (1) of the same streams.
 */
#include "cli/device.h"
#include "cli/args.h"
#include "cli/fsutil.h"
#include "cli/h5out.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core.h"
#include "core/rng.h"
#include "devices/devices.h"
#include "devices/dynamic.h"
#include "devices/measured.h"
#include "devices/nonlinear.h"
#include "devices/pcm.h"
#include "experiments/config.h"
#include "experiments/h5io.h"
#include "mx_build_config.h"

#define DEVICE_PREFIX "hardware.device."
#define MAX_SETS 64
#define DEFAULT_CELLS 16
#define DEFAULT_PULSES 100
#define MAX_PULSES 1000000
#define MAX_CYCLES 10000
#define MAX_CELLS 4096
/* Samples written per run: cells × (1 + 2·N·K) floats stay below 1 GiB. */
#define MAX_SAMPLES ((size_t)1 << 28)
/* Dynamic models: periods, samples per period and the frequencies, as
 * multiples of the state's rate at x = 0.5 (see hysteresis_curve). */
#define DYNAMIC_PERIODS 2
#define DYNAMIC_SAMPLES_PER_PERIOD 400
#define DYNAMIC_AMPLITUDE_V 1.0
static const double dynamic_freq_factors[] = {0.8, 1.6, 3.2};
#define N_DYNAMIC_FREQS (sizeof dynamic_freq_factors / sizeof dynamic_freq_factors[0])
/* pcm drift: targets as fractions of g_max, and the time axis (log-spaced
 * from DRIFT_T_FIRST_S to DRIFT_T_LAST_S after programming, plus t = 0). */
static const double drift_targets[] = {0.25, 0.5, 0.75, 1.0};
#define N_DRIFT_TARGETS (sizeof drift_targets / sizeof drift_targets[0])
#define DRIFT_TIMES 81
#define DRIFT_T_FIRST_S 1.0
#define DRIFT_T_LAST_S 1e8

const char cli_device_usage[] =
    "usage: memxbar device list\n"
    "       memxbar device show NAME [--set PATH=VALUE]...\n"
    "       memxbar device curve NAME [options]\n"
    "\n"
    "NAME is a device model (hardware.device.type) or a preset, a published device\n"
    "(hardware.device.preset); `memxbar device list` prints both.\n"
    "\n"
    "curve options:\n"
    "  --pulses N          pulses per potentiation or depression branch (default: the\n"
    "                      model's states, e.g. nonlinear.states_ltp; else 100)\n"
    "  --cycles K          potentiation/depression cycles (default 1); dynamic models:\n"
    "                      periods of the sine (default 2)\n"
    "  --cells C           population size (default 16)\n"
    "  --seed S            root seed of the population and noise draws (default 1)\n"
    "  --amplitude V       dynamic models: sine amplitude, V (default 1)\n"
    "  -o, --output FILE   HDF5 file (default: results/device-NAME.h5); the plot is\n"
    "                      FILE with .png\n"
    "  --no-plot           write the HDF5 file only\n"
    "  --set PATH=VALUE    override a device field, e.g. --set\n"
    "                      hardware.device.measured.path=curve.csv\n";

/* ------------------------------------------------------------ messages */

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("memxbar device: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n", stderr);
    va_end(ap);
    return 2;
}

static int fail_status(void)
{
    fprintf(stderr, "memxbar device: %s\n", mx_last_error());
    return 1;
}

/* "reram, pcm, ..." / "ag-si, ..." for messages. */
static void list_names(char *buf, size_t size, int presets)
{
    size_t used = 0;
    buf[0] = '\0';
    if (presets) {
        const mx_device_preset *const *p = mx_device_presets();
        for (size_t i = 0; p[i] && used < size; i++)
            used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", p[i]->name);
    } else {
        const mx_device_type *const *t = mx_device_types();
        for (size_t i = 0; t[i] && used < size; i++)
            used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", t[i]->name);
    }
}

/* ------------------------------------------------------------ the device */

/* A device as the config would build it. */
typedef struct device_ctx {
    const char *name;                /* as given */
    const mx_device_preset *preset;  /* NULL when NAME is a model */
    const mx_device_type *type;
    mx_experiment_config cfg;        /* resolved (mx_config_point); owns a measured curve */
} device_ctx;

static int set_given(const char *const *sets, size_t n_sets, const char *path)
{
    size_t len = strlen(path);
    for (size_t i = 0; i < n_sets; i++)
        if (!strncmp(sets[i], path, len) && sets[i][len] == '=')
            return 1;
    return 0;
}

/* A dynamic model's conductance window must lie within the nominal device's
 * ([1/R_OFF, 1/R_ON]; its validate says so), which the default window
 * [1 µS, 10 µS] does not: unless --set gives g_min_s or g_max_s, take the
 * whole range. Likewise its nominal pulses must pass its switching threshold
 * (pku needs 1.39 V, the default is 1 V): unless --set gives them, raise them
 * to the next 0.1 V above it. */
static mx_status dynamic_window(mx_experiment_config *cfg, const mx_device_type *model,
                                const char *const *sets, size_t n_sets)
{
    const mx_device_params *p = &cfg->hardware.device;
    double g_lo = 0.0, g_hi = 0.0;
    mx_status st = mx_dynamic_conductance_window(model, p, &g_lo, &g_hi);
    if (st != MX_OK)
        return st; /* a bad --set field: named */
    const double v_th = mx_dynamic_switching_threshold_v(model, p);
    const double v_pulse = (floor(v_th * 10.0) + 1.0) / 10.0;
    char text[40];
    if (!set_given(sets, n_sets, "hardware.device.g_min_s")) {
        snprintf(text, sizeof text, "%.17g", g_lo);
        st = mx_config_set(cfg, "hardware.device.g_min_s", text);
    }
    if (st == MX_OK && !set_given(sets, n_sets, "hardware.device.g_max_s")) {
        snprintf(text, sizeof text, "%.17g", g_hi);
        st = mx_config_set(cfg, "hardware.device.g_max_s", text);
    }
    static const char *const pulse_paths[] = {"hardware.device.pulse.v_ltp_v",
                                              "hardware.device.pulse.v_ltd_v"};
    const double v_now[] = {p->pulse.v_ltp_v, p->pulse.v_ltd_v};
    for (size_t k = 0; k < 2 && st == MX_OK; k++)
        if (!(v_now[k] > v_th) && !set_given(sets, n_sets, pulse_paths[k])) {
            snprintf(text, sizeof text, "%.17g", v_pulse);
            st = mx_config_set(cfg, pulse_paths[k], text);
        }
    return st;
}

/* Resolve NAME and the --set overrides. need_curve = 0 lets the measured
 * model through without a curve file (to show its fields). Returns an exit
 * code (0 = ok, with ctx->cfg to be released by mx_config_free). */
static int device_build(const char *name, const char *const *sets, size_t n_sets,
                        int need_curve, device_ctx *ctx)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->name = name;
    ctx->preset = mx_device_preset_lookup(name);
    const mx_device_type *model = mx_device_lookup(name);
    if (!ctx->preset && !model) {
        char models[512], presets[512];
        list_names(models, sizeof models, 0);
        list_names(presets, sizeof presets, 1);
        fprintf(stderr,
                "memxbar device: unknown device '%s' (expected a model: %s; or a preset: %s; "
                "see memxbar device list)\n",
                name, models, presets);
        return 1;
    }
    mx_experiment_config base;
    mx_config_default(&base);
    mx_status st = ctx->preset ? mx_config_set(&base, "hardware.device.preset", name)
                               : mx_config_set(&base, "hardware.device.type", name);
    for (size_t i = 0; i < n_sets && st == MX_OK; i++) {
        char path[MX_CONFIG_NAME_BYTES];
        const char *eq = strchr(sets[i], '=');
        if (!eq || eq == sets[i] || (size_t)(eq - sets[i]) >= sizeof path) {
            mx_config_free(&base);
            return usage_error("--set %s: expected PATH=VALUE", sets[i]);
        }
        snprintf(path, sizeof path, "%.*s", (int)(eq - sets[i]), sets[i]);
        st = mx_config_set(&base, path, eq + 1);
    }
    if (st == MX_OK && !ctx->preset && mx_dynamic_is(model))
        st = dynamic_window(&base, model, sets, n_sets);
    if (st == MX_OK && !need_curve && !strcmp(base.hardware.device_type, "measured") &&
        base.hardware.device.measured.path[0] == '\0')
        ctx->cfg = base; /* nothing to load; owns nothing (no text, no curve) */
    else if (st == MX_OK)
        st = mx_config_point(&base, 0, &ctx->cfg);
    mx_config_free(&base);
    if (st != MX_OK)
        return fail_status();
    ctx->type = mx_device_lookup(ctx->cfg.hardware.device_type);
    return 0;
}

/* The config fields a model reads, as path prefixes under hardware.device.
 * Where a model is not listed, every device field is shown. Shared pieces
 * are added from the model's table (see relevant()). */
typedef struct model_fields {
    const char *model;
    const char *const *prefixes;
} model_fields;

static const char *const fields_statistical[] = {
    "g_min_s", "g_max_s", "levels", "d2d_sigma", "prog_noise", "stuck_at_gmin",
    "stuck_at_gmax", NULL};
static const char *const fields_pcm[] = {
    "g_min_s", "g_max_s", "levels", "stuck_at_gmin", "stuck_at_gmax", "t_inference_s",
    "drift_t0_s", "read_time_s", NULL};
static const char *const fields_nonlinear[] = {
    "g_min_s", "g_max_s", "stuck_at_gmin", "stuck_at_gmax", "endurance_", "nonlinear.", NULL};
static const char *const fields_step[] = {
    "g_min_s", "g_max_s", "stuck_at_gmin", "stuck_at_gmax", "endurance_", "step.", NULL};
static const char *const fields_binary[] = {
    "g_min_s", "g_max_s", "stuck_at_gmin", "stuck_at_gmax", "endurance_", "binary.", NULL};
static const char *const fields_lid[] = {
    "g_min_s", "g_max_s", "dynamic.window", "dynamic.r_on_ohm", "dynamic.r_off_ohm",
    "dynamic.d_m", "dynamic.mu_v", "dynamic.x0", "dynamic.d2d_sigma_r", "dynamic.ode_rel_tol",
    NULL};
static const char *const fields_vteam[] = {
    "g_min_s", "g_max_s", "dynamic.x0", "dynamic.k_", "dynamic.alpha_", "dynamic.v_on_v",
    "dynamic.v_off_v", "dynamic.vteam_", "dynamic.d2d_sigma_r", "dynamic.ode_rel_tol", NULL};
static const char *const fields_pku[] = {
    "g_min_s", "g_max_s", "temperature_k", "dynamic.x0", "dynamic.d2d_sigma_r",
    "dynamic.ode_rel_tol", "pku.", NULL};
static const char *const fields_measured[] = {
    "measured.", "stuck_at_gmin", "stuck_at_gmax", "endurance_", NULL};

static const model_fields model_field_table[] = {
    {"reram", fields_statistical}, {"pcm", fields_pcm},
    {"nonlinear", fields_nonlinear}, {"step", fields_step},
    {"binary", fields_binary}, {"linear-ion-drift", fields_lid},
    {"vteam", fields_vteam}, {"pku", fields_pku}, {"measured", fields_measured},
};

static int has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Does the model read the field at `path` (under hardware.device.)? Besides
 * its own list: read noise when it reads with mx_device_read_relative, the
 * nominal write pulse when it has a pulse response, and the read I–V, which
 * the crossbar applies to every model. */
static int relevant(const mx_device_type *type, const char *path)
{
    if (!has_prefix(path, DEVICE_PREFIX))
        return 0;
    const char *key = path + strlen(DEVICE_PREFIX);
    if (!strcmp(key, "type") || !strcmp(key, "preset"))
        return 0; /* in the header */
    if (has_prefix(key, "iv."))
        return 1;
    if (!strcmp(key, "read_noise_sigma"))
        return type->read == mx_device_read_relative;
    if (has_prefix(key, "pulse."))
        return type->pulse != NULL;
    for (size_t m = 0; m < sizeof model_field_table / sizeof model_field_table[0]; m++) {
        if (strcmp(model_field_table[m].model, type->name) != 0)
            continue;
        for (const char *const *p = model_field_table[m].prefixes; *p; p++)
            if (has_prefix(key, *p))
                return 1;
        return 0;
    }
    return 1; /* a model this table does not know yet: show everything */
}

/* ------------------------------------------------------------ list, show */

static int cmd_list(int argc, char **argv)
{
    if (argc > 0)
        return usage_error("list takes no arguments, got '%s'", argv[0]);
    printf("Models (hardware.device.type):\n");
    const mx_device_type *const *t = mx_device_types();
    for (size_t i = 0; t[i]; i++) {
        printf("  %-18s %s\n", t[i]->name, t[i]->description);
        printf("  %-18s source: %s\n", "", t[i]->source);
    }
    printf("\nPresets (hardware.device.preset), published devices:\n");
    const mx_device_preset *const *p = mx_device_presets();
    for (size_t i = 0; p[i]; i++) {
        printf("  %-18s model %s: %s\n", p[i]->name, p[i]->type, p[i]->description);
        printf("  %-18s source: %s\n", "", p[i]->source);
    }
    printf("\nmemxbar device show NAME prints a device's parameters; memxbar device curve NAME "
           "draws its response.\n");
    return 0;
}

static void print_header(const device_ctx *d)
{
    if (d->preset) {
        printf("%s: preset of the %s model — %s\n", d->preset->name, d->preset->type,
               d->preset->description);
        printf("  source: %s\n", d->preset->source);
        if (isfinite(d->preset->neurosim_online_accuracy))
            printf("  NeuroSim V3.0 online-training accuracy (400-100-10 MLP, MNIST): %.2f %%\n",
                   100.0 * d->preset->neurosim_online_accuracy);
    }
    printf("%s%s: %s\n", d->preset ? "model " : "", d->type->name, d->type->description);
    printf("  source: %s\n", d->type->source);
    printf("  pulse response: %s; ageing: %s\n",
           d->type->pulse ? "yes" : "no (a statistical model: programming draws the conductance)",
           d->type->age ? "yes" : "no");
}

static int cmd_show(int argc, char **argv)
{
    const char *name = NULL;
    const char *sets[MAX_SETS];
    size_t n_sets = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--set") && i + 1 < argc) {
            if (n_sets == MAX_SETS)
                return usage_error("at most %d --set options", MAX_SETS);
            sets[n_sets++] = argv[++i];
        } else if (argv[i][0] == '-')
            return usage_error("show: unknown or incomplete option '%s'\n\n%s", argv[i],
                               cli_device_usage);
        else if (!name)
            name = argv[i];
        else
            return usage_error("show: unexpected argument '%s'", argv[i]);
    }
    if (!name)
        return usage_error("show: expected a device NAME\n\n%s", cli_device_usage);
    device_ctx d;
    int code = device_build(name, sets, n_sets, 0, &d);
    if (code)
        return code;
    print_header(&d);
    printf("\n  %-36s %-14s %-20s %s\n", "parameter (hardware.device.)", "value", "unit",
           "meaning");
    size_t n = mx_config_n_fields();
    for (size_t i = 0; i < n; i++) {
        mx_config_field_info info;
        if (mx_config_field_at(i, &info) != MX_OK || !relevant(d.type, info.path))
            continue;
        char value[512];
        if (mx_config_get(&d.cfg, info.path, value, sizeof value) != MX_OK)
            snprintf(value, sizeof value, "?");
        printf("  %-36s %-14s %-20s %s\n", info.path + strlen(DEVICE_PREFIX),
               value[0] ? value : "\"\"", info.unit, info.doc);
    }
    if (d.cfg.measured_curve)
        printf("\n  (g_min_s and g_max_s of a measured device come from its curve: %g S, %g S)\n",
               d.cfg.hardware.device.g_min_s, d.cfg.hardware.device.g_max_s);
    else if (!strcmp(d.type->name, "measured"))
        printf("\n  (no curve loaded: --set hardware.device.measured.path=FILE shows its window)\n");
    printf("\nIn a config: hardware: {device: {%s: %s}}; fields written beside it override "
           "these values.\n", d.preset ? "preset" : "type", name);
    mx_config_free(&d.cfg);
    return 0;
}

/* ------------------------------------------------------------ HDF5 output */

/* The root attributes every curve file has. */
static int h5_root_attrs(hid_t file, const device_ctx *d, const char *kind, uint64_t seed)
{
    const char *source = d->preset ? d->preset->source : d->type->source;
    const char *desc = d->preset ? d->preset->description : d->type->description;
    int rc = 0;
    rc |= mx_h5_attr_string(file, "kind", kind) < 0;
    rc |= mx_h5_attr_string(file, "device", d->name) < 0;
    rc |= mx_h5_attr_string(file, "model", d->type->name) < 0;
    rc |= mx_h5_attr_string(file, "preset", d->preset ? d->preset->name : "none") < 0;
    rc |= mx_h5_attr_string(file, "description", desc) < 0;
    rc |= mx_h5_attr_string(file, "source", source) < 0;
    rc |= mx_h5_attr_string(file, "model_source", d->type->source) < 0;
    rc |= mx_h5_attr_string(file, "memxbar_version", MX_VERSION " (" MX_GIT_DESCRIBE ")") < 0;
    rc |= mx_cli_h5_attr_u64(file, "seed", seed) < 0;
    rc |= mx_cli_h5_attr_f64(file, "g_min_s", d->cfg.hardware.device.g_min_s) < 0;
    rc |= mx_cli_h5_attr_f64(file, "g_max_s", d->cfg.hardware.device.g_max_s) < 0;
    return rc ? -1 : 0;
}

/* ------------------------------------------------------------ curves */

typedef struct curve_opts {
    long pulses;     /* 0 = the model's default */
    long cycles;     /* 0 = default */
    long cells;
    uint64_t seed;
    double amplitude_v;
    const char *output;
    int plot;
} curve_opts;

/* Parameters of the nominal device: the same model with every device-to-
 * device and cycle-to-cycle spread, fault and read noise off. */
static mx_device_params nominal_params(const mx_device_params *p)
{
    mx_device_params n = *p;
    n.d2d_sigma = 0.0;
    for (int i = 0; i < MX_DEVICE_PROG_NOISE_ORDER; i++)
        n.prog_noise_coeffs[i] = 0.0;
    n.read_noise_sigma = 0.0;
    n.stuck_at_gmin_frac = n.stuck_at_gmax_frac = 0.0;
    n.nonlinear.c2c_sigma = n.nonlinear.d2d_nl_sigma = 0.0;
    n.step.dw_min_dtod = n.step.dw_min_std = n.step.up_down_dtod = 0.0;
    n.step.bounds_dtod = n.step.gamma_dtod = n.step.pow_gamma_dtod = 0.0;
    n.binary.tau0_d2d = n.binary.v0_d2d = 0.0;
    n.dynamic.d2d_sigma_r = 0.0;
    n.pku.d2d_sigma_nu0 = n.pku.delta_g0_m = 0.0;
    n.measured.spread_scale = 0.0;
    return n;
}

/* Pulses per branch when --pulses is not given: the states of the model,
 * the pulse span of a measured curve, the steps across the window of a step
 * model, else DEFAULT_PULSES. */
static long default_pulses(const device_ctx *d)
{
    const mx_device_params *p = &d->cfg.hardware.device;
    const char *m = d->type->name;
    if (!strcmp(m, "nonlinear"))
        return p->nonlinear.states_ltp > p->nonlinear.states_ltd ? p->nonlinear.states_ltp
                                                                 : p->nonlinear.states_ltd;
    if (!strcmp(m, "step") && p->step.dw_min > 0.0) {
        double n = ceil(1.0 / p->step.dw_min);
        return n > MAX_PULSES ? MAX_PULSES : (long)n;
    }
    if (!strcmp(m, "measured") && d->cfg.measured_curve) {
        double first, last;
        mx_measured_curve_pulse_range(d->cfg.measured_curve, MX_MEASURED_LTP, &first, &last);
        double n = ceil(last - first);
        return n < 1 ? 1 : (n > MAX_PULSES ? MAX_PULSES : (long)n);
    }
    return DEFAULT_PULSES;
}

/* Run cells through 1 + 2·N·K samples: the state at the start (programmed to
 * g_min), then after each of N potentiating and N depressing pulses, K times.
 * OUT g: (n_cells, n_samples) row-major, S. Returns 0, or 1 out of memory. */
static int run_pulses(const mx_device_type *type, const mx_device_params *p, size_t n_cells,
                       size_t n_pulses, size_t n_cycles, uint64_t seed, uint64_t item, float *g)
{
    const size_t n_samples = 1 + 2 * n_pulses * n_cycles;
    const size_t cf = type->cell_floats;
    float *cells = cf ? calloc(n_cells * cf, sizeof *cells) : NULL;
    float *now = calloc(n_cells, sizeof *now);
    float *target = calloc(n_cells, sizeof *target);
    mx_pulse *pulses = calloc(n_cells, sizeof *pulses);
    int rc = 0;
    if ((cf && !cells) || !now || !target || !pulses) {
        rc = 1;
        goto done;
    }
    mx_rng rng;
    if (cf) {
        mx_rng_init_named(&rng, seed, "device.population", item);
        type->populate(p, cells, n_cells, &rng);
    }
    for (size_t c = 0; c < n_cells; c++)
        target[c] = (float)p->g_min_s;
    mx_rng_init_named(&rng, seed, "device.program", item);
    type->program(p, cells, target, now, n_cells, &rng);
    mx_rng_init_named(&rng, seed, "device.pulse", item);
    for (size_t t = 0; t < n_samples; t++) {
        if (t > 0) {
            size_t in_cycle = (t - 1) % (2 * n_pulses);
            int32_t sign = in_cycle < n_pulses ? 1 : -1;
            for (size_t c = 0; c < n_cells; c++)
                pulses[c] = (mx_pulse){.count = sign, .amplitude_v = 0.0f, .width_s = 0.0f};
            type->pulse(p, cells, now, pulses, n_cells, &rng);
        }
        for (size_t c = 0; c < n_cells; c++)
            g[c * n_samples + t] = now[c];
    }
done:
    free(cells);
    free(now);
    free(target);
    free(pulses);
    return rc;
}

static int pulse_curve(const device_ctx *d, const curve_opts *o, mx_cli_out *out)
{
    const mx_device_params *p = &d->cfg.hardware.device;
    long n_pulses = o->pulses ? o->pulses : default_pulses(d);
    long n_cycles = o->cycles ? o->cycles : 1;
    const size_t n_cells = (size_t)o->cells;
    const size_t n_samples = 1 + 2 * (size_t)n_pulses * (size_t)n_cycles;
    if (n_samples > MAX_SAMPLES / (n_cells + 1))
        return usage_error("curve: %zu cells x %zu samples is too many (at most %zu values); "
                           "lower --pulses, --cycles or --cells",
                           n_cells, n_samples, MAX_SAMPLES);
    float *g = malloc(n_cells * n_samples * sizeof *g);
    float *g_nom = malloc(n_samples * sizeof *g_nom);
    int32_t *index = malloc(n_samples * sizeof *index);
    int8_t *polarity = malloc(n_samples);
    mx_device_params nom = nominal_params(p);
    int rc = 0;
    if (!g || !g_nom || !index || !polarity ||
        run_pulses(d->type, p, n_cells, (size_t)n_pulses, (size_t)n_cycles, o->seed, 0, g) ||
        run_pulses(d->type, &nom, 1, (size_t)n_pulses, (size_t)n_cycles, o->seed, 1, g_nom)) {
        fprintf(stderr, "memxbar device: out of memory for %zu samples\n", n_samples);
        rc = 1;
        goto done;
    }
    for (size_t t = 0; t < n_samples; t++) {
        size_t in_cycle = t == 0 ? 0 : (t - 1) % (2 * (size_t)n_pulses);
        index[t] = (int32_t)t;
        polarity[t] = (int8_t)(t == 0 ? 0 : (in_cycle < (size_t)n_pulses ? 1 : -1));
    }
    rc = mx_cli_out_open(out, "memxbar device", o->output);
    if (rc == 0) {
        hsize_t dim_t[1] = {n_samples}, dim_ct[2] = {n_cells, n_samples};
        int bad = h5_root_attrs(out->file, d, "pulse-response", o->seed) < 0;
        bad |= mx_cli_h5_attr_u64(out->file, "pulses_per_branch", (uint64_t)n_pulses) < 0;
        bad |= mx_cli_h5_attr_u64(out->file, "cycles", (uint64_t)n_cycles) < 0;
        bad |= mx_cli_h5_attr_u64(out->file, "cells", n_cells) < 0;
        bad |= mx_cli_h5_write(out->file, "pulse_index", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, dim_t,
                               index, "pulses",
                               "pulses applied before each sample (0 = programmed to g_min)") < 0;
        bad |= mx_cli_h5_write(out->file, "polarity", H5T_STD_I8LE, H5T_NATIVE_INT8, 1, dim_t,
                               polarity, "-",
                               "polarity of the pulse before each sample: +1 potentiating, -1 "
                               "depressing, 0 none") < 0;
        bad |= mx_cli_h5_write(
                   out->file, "conductance_s", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, dim_ct, g, "S",
                   "conductance state of each cell of the population (cells, samples), "
                   "device-to-device and cycle-to-cycle variation on, no read noise") < 0;
        bad |= mx_cli_h5_write(out->file, "nominal_conductance_s", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
                               1, dim_t, g_nom, "S",
                               "the nominal device: every spread, fault and noise off") < 0;
        rc = mx_cli_out_close(out, !bad);
    }
    if (rc == 0)
        printf("%s: %zu cells x %ld cycles of %ld potentiating + %ld depressing pulses; nominal "
               "device from %.4g S to %.4g S -> %s\n",
               d->name, n_cells, n_cycles, n_pulses, n_pulses, (double)g_nom[0],
               (double)g_nom[n_pulses], o->output);
done:
    free(g);
    free(g_nom);
    free(index);
    free(polarity);
    return rc;
}

/* Dynamic models: the nominal device under a sine at three frequencies,
 * multiples of the state rate r = |dx/dt| at x = 0.5 under ±amplitude (the
 * slower polarity). Over a half period the state moves about
 * r·(2/π)·1/(2f) = r/(π f): f = 0.8 r moves it by about 0.4, so the loop
 * opens wide without reaching the ends of [0, 1], where a Joglekar window
 * would hold the state for good; 1.6 r and 3.2 r halve that each time, and
 * the loop narrows toward a line as the frequency rises — the memristor's
 * fingerprint. */
static int hysteresis_curve(const device_ctx *d, const curve_opts *o, mx_cli_out *out)
{
    const mx_device_params *p = &d->cfg.hardware.device;
    if (o->pulses)
        return usage_error("curve: --pulses applies to pulse models; %s is a dynamic model "
                           "(use --cycles for periods and --amplitude)", d->type->name);
    const double amp = o->amplitude_v;
    const double r_pos = fabs(mx_dynamic_rate(d->type, p, NULL, 0.5, amp));
    const double r_neg = fabs(mx_dynamic_rate(d->type, p, NULL, 0.5, -amp));
    const double rate = r_pos < r_neg ? r_pos : r_neg;
    if (!(rate > 0.0) || !isfinite(rate)) {
        fprintf(stderr,
                "memxbar device: %s: the state does not move at ±%g V (below a switching "
                "threshold?); raise --amplitude\n",
                d->name, amp);
        return 1;
    }
    const size_t periods = o->cycles ? (size_t)o->cycles : DYNAMIC_PERIODS;
    const size_t spp = DYNAMIC_SAMPLES_PER_PERIOD;
    const size_t n = periods * spp + 1;
    const size_t nf = N_DYNAMIC_FREQS;
    double freq[N_DYNAMIC_FREQS], area[N_DYNAMIC_FREQS];
    double *t = malloc(nf * n * sizeof *t), *v = malloc(nf * n * sizeof *v);
    double *i = malloc(nf * n * sizeof *i), *x = malloc(nf * n * sizeof *x);
    int rc = 0;
    if (!t || !v || !i || !x) {
        fprintf(stderr, "memxbar device: out of memory\n");
        rc = 1;
    }
    for (size_t f = 0; f < nf && rc == 0; f++) {
        freq[f] = dynamic_freq_factors[f] * rate;
        if (mx_dynamic_sweep(d->type, p, amp, freq[f], periods, spp, t + f * n, v + f * n,
                             i + f * n, x + f * n) != MX_OK)
            rc = fail_status();
        else /* the last period: the loop once the start-up transient is over */
            area[f] = mx_dynamic_lobe_area(v + f * n + (periods - 1) * spp,
                                           i + f * n + (periods - 1) * spp, spp + 1);
    }
    if (rc == 0)
        rc = mx_cli_out_open(out, "memxbar device", o->output);
    if (rc == 0) {
        hsize_t dim_f[1] = {nf}, dim_fn[2] = {nf, n};
        int bad = h5_root_attrs(out->file, d, "hysteresis", o->seed) < 0;
        bad |= mx_cli_h5_attr_f64(out->file, "amplitude_v", amp) < 0;
        bad |= mx_cli_h5_attr_u64(out->file, "periods", periods) < 0;
        bad |= mx_cli_h5_write(out->file, "frequency_hz", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1,
                               dim_f, freq, "Hz", "frequency of the sine of each row") < 0;
        bad |= mx_cli_h5_write(out->file, "time_s", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dim_fn, t,
                               "s", "sample times (frequencies, samples)") < 0;
        bad |= mx_cli_h5_write(out->file, "voltage_v", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dim_fn,
                               v, "V", "device voltage amplitude·sin(2π f t)") < 0;
        bad |= mx_cli_h5_write(out->file, "current_a", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dim_fn,
                               i, "A", "device current v/R(x), nominal device") < 0;
        bad |= mx_cli_h5_write(out->file, "state", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dim_fn, x,
                               "-", "normalised internal state x in [0, 1]") < 0;
        bad |= mx_cli_h5_write(
                   out->file, "lobe_area_va", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dim_f, area,
                   "V·A", "area of the positive-voltage lobe of the last period's i-v loop") < 0;
        rc = mx_cli_out_close(out, !bad);
    }
    if (rc == 0) {
        printf("%s: i-v loops at ±%g V,", d->name, amp);
        for (size_t f = 0; f < nf; f++)
            printf(" %.4g Hz (lobe %.3g V·A)%s", freq[f], area[f], f + 1 < nf ? "," : "");
        printf(" -> %s\n", o->output);
    }
    free(t);
    free(v);
    free(i);
    free(x);
    return rc;
}

/* pcm: cells programmed to a few targets, then their drift and accumulated
 * 1/f noise over time (the model's `age`); the nominal curve is the drift at
 * the mean exponent, g·((t + t0)/t0)^(−μ_ν). Each time restarts the same
 * draws, so a cell keeps its drift exponent and noise sample along the axis. */
static int drift_curve(const device_ctx *d, const curve_opts *o, mx_cli_out *out)
{
    const mx_device_params *p = &d->cfg.hardware.device;
    if (o->pulses || o->cycles)
        return usage_error("curve: --pulses and --cycles apply to pulse models; %s has no "
                           "pulse response (its curve is drift over time)", d->type->name);
    const size_t n_cells = (size_t)o->cells, nt = DRIFT_TIMES, nl = N_DRIFT_TARGETS;
    double time[DRIFT_TIMES], nominal[N_DRIFT_TARGETS * DRIFT_TIMES], levels[N_DRIFT_TARGETS];
    float *target = malloc(n_cells * sizeof *target), *prog = malloc(n_cells * sizeof *prog);
    float *aged = malloc(n_cells * sizeof *aged), *g = malloc(n_cells * nt * sizeof *g);
    int rc = 0;
    if (!target || !prog || !aged || !g) {
        fprintf(stderr, "memxbar device: out of memory\n");
        rc = 1;
        goto done;
    }
    time[0] = 0.0;
    for (size_t k = 1; k < nt; k++)
        time[k] = DRIFT_T_FIRST_S *
                  pow(DRIFT_T_LAST_S / DRIFT_T_FIRST_S, (double)(k - 1) / (double)(nt - 2));
    for (size_t c = 0; c < n_cells; c++)
        target[c] = (float)(drift_targets[c % nl] * p->g_max_s);
    mx_rng rng;
    mx_rng_init_named(&rng, o->seed, "device.program", 0);
    mx_device_program(d->type, p, target, prog, n_cells, &rng);
    for (size_t k = 0; k < nt; k++) {
        mx_rng_init_named(&rng, o->seed, "device.age", 0);
        d->type->age(p, target, prog, aged, n_cells, time[k], &rng);
        for (size_t c = 0; c < n_cells; c++)
            g[c * nt + k] = aged[c];
    }
    for (size_t l = 0; l < nl; l++) {
        levels[l] = drift_targets[l] * p->g_max_s;
        double nu = mx_pcm_drift_mean(drift_targets[l]);
        for (size_t k = 0; k < nt; k++)
            nominal[l * nt + k] = levels[l] * pow((time[k] + p->drift_t0_s) / p->drift_t0_s, -nu);
    }
    rc = mx_cli_out_open(out, "memxbar device", o->output);
    if (rc == 0) {
        hsize_t dim_t[1] = {nt}, dim_c[1] = {n_cells}, dim_l[1] = {nl};
        hsize_t dim_ct[2] = {n_cells, nt}, dim_lt[2] = {nl, nt};
        int bad = h5_root_attrs(out->file, d, "drift", o->seed) < 0;
        bad |= mx_cli_h5_attr_u64(out->file, "cells", n_cells) < 0;
        bad |= mx_cli_h5_write(out->file, "time_s", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dim_t,
                               time, "s", "time after programming (0, then log-spaced)") < 0;
        bad |= mx_cli_h5_write(out->file, "target_conductance_s", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
                               1, dim_c, target, "S", "programming target of each cell") < 0;
        bad |= mx_cli_h5_write(out->file, "conductance_s", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2,
                               dim_ct, g, "S",
                               "conductance of each cell over time (cells, times): programming "
                               "noise, drift with a per-cell exponent, accumulated 1/f noise") < 0;
        bad |= mx_cli_h5_write(out->file, "nominal_target_s", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1,
                               dim_l, levels, "S", "targets of the nominal curves") < 0;
        bad |= mx_cli_h5_write(out->file, "nominal_conductance_s", H5T_IEEE_F64LE,
                               H5T_NATIVE_DOUBLE, 2, dim_lt, nominal, "S",
                               "drift at the mean exponent, no noise (targets, times)") < 0;
        rc = mx_cli_out_close(out, !bad);
    }
    if (rc == 0)
        printf("%s: no pulse response (a statistical model); wrote its drift instead: %zu cells "
               "at %zu targets from t = 0 to %g s -> %s\n",
               d->name, n_cells, nl, DRIFT_T_LAST_S, o->output);
done:
    free(target);
    free(prog);
    free(aged);
    free(g);
    return rc;
}

/* ------------------------------------------------------------ curve */

static int cmd_curve(int argc, char **argv)
{
    const char *name = NULL;
    const char *sets[MAX_SETS];
    size_t n_sets = 0;
    curve_opts o = {.cells = DEFAULT_CELLS, .seed = 1, .amplitude_v = DYNAMIC_AMPLITUDE_V,
                    .plot = 1};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        int code = 0;
        if (!strcmp(a, "--pulses") && next)
            code = mx_cli_parse_long("memxbar device", a, argv[++i], 1, MAX_PULSES, &o.pulses);
        else if (!strcmp(a, "--cycles") && next)
            code = mx_cli_parse_long("memxbar device", a, argv[++i], 1, MAX_CYCLES, &o.cycles);
        else if (!strcmp(a, "--cells") && next)
            code = mx_cli_parse_long("memxbar device", a, argv[++i], 1, MAX_CELLS, &o.cells);
        else if (!strcmp(a, "--seed") && next)
            code = mx_cli_parse_seed("memxbar device", a, argv[++i], &o.seed);
        else if (!strcmp(a, "--amplitude") && next) {
            char *end;
            o.amplitude_v = strtod(argv[++i], &end);
            if (end == argv[i] || *end != '\0' || !isfinite(o.amplitude_v) || o.amplitude_v <= 0)
                return usage_error("--amplitude: expected a voltage > 0 V, got \"%s\"", argv[i]);
        } else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && next)
            o.output = argv[++i];
        else if (!strcmp(a, "--no-plot"))
            o.plot = 0;
        else if (!strcmp(a, "--set") && next) {
            if (n_sets == MAX_SETS)
                return usage_error("at most %d --set options", MAX_SETS);
            sets[n_sets++] = argv[++i];
        } else if (a[0] == '-')
            return usage_error("curve: unknown or incomplete option '%s'\n\n%s", a,
                               cli_device_usage);
        else if (!name)
            name = a;
        else
            return usage_error("curve: unexpected argument '%s'", a);
        if (code)
            return code;
    }
    if (!name)
        return usage_error("curve: expected a device NAME\n\n%s", cli_device_usage);
    device_ctx d;
    int code = device_build(name, sets, n_sets, 1, &d);
    if (code)
        return code;
    char default_output[512];
    if (!o.output) {
        snprintf(default_output, sizeof default_output, "results/device-%s.h5", name);
        o.output = default_output;
    }
    mx_cli_out out;
    if (mx_dynamic_is(d.type))
        code = hysteresis_curve(&d, &o, &out);
    else if (d.type->pulse)
        code = pulse_curve(&d, &o, &out);
    else if (d.type->age && !strcmp(d.type->name, "pcm"))
        code = drift_curve(&d, &o, &out);
    else {
        fprintf(stderr,
                "memxbar device: %s has no pulse response: it is a statistical model (programming "
                "draws the conductance directly, with its variation), so there is no curve to "
                "draw; memxbar device show %s lists its parameters\n",
                name, name);
        code = 1;
    }
    mx_config_free(&d.cfg);
    if (code == 0 && o.plot)
        mx_cli_plot("memxbar device", "plot_device.py", o.output);
    return code;
}

int cli_device(int argc, char **argv)
{
    if (argc < 1)
        return usage_error("expected list, show or curve\n\n%s", cli_device_usage);
    const char *sub = argv[0];
    if (!strcmp(sub, "list"))
        return cmd_list(argc - 1, argv + 1);
    if (!strcmp(sub, "show"))
        return cmd_show(argc - 1, argv + 1);
    if (!strcmp(sub, "curve"))
        return cmd_curve(argc - 1, argv + 1);
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
        fputs(cli_device_usage, stdout);
        return 0;
    }
    return usage_error("unknown subcommand '%s' (expected list, show or curve)\n\n%s", sub,
                       cli_device_usage);
}
