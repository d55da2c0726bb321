/* SPDX-License-Identifier: MIT
 *
 * adc.c: `memxbar adc curve` — one ADC as a sweep point would build it
 * (config defaults, then --type, --bits and --set hardware.adc.* overrides,
 * validated by adc/), measured on the bench:
 *
 *   - the transfer curve: an input ramp over the full scale and an eighth of
 *     it beyond either end, points_per_code points per code, converted by
 *     instance 0 with its noise (stream "adc.curve", item 0, under --seed),
 *     and by the ideal ADC of the same type for comparison;
 *   - the transition levels of every instance without noise (bisection,
 *     adc/linearity.c), and from them the terminal-based DNL and INL per
 *     code (IEEE 1241), written to HDF5 with units as attributes;
 *   - a PNG beside it drawn by scripts/plot_adc.py.
 *
 * Instances draw their capacitors and offsets from stream "adc.instance",
 * item = instance, under --seed (mx_adc_layout). A lloyd-max ADC has no
 * profiled currents here: it is fitted to the Gaussian N(0, (range/3)²),
 * the design a sweep would get from Gaussian column currents of that
 * spread.
 */
#include "cli/adc.h"
#include "cli/args.h"
#include "cli/h5out.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adc/adc.h"
#include "core/core.h"
#include "core/rng.h"
#include "experiments/config.h"
#include "experiments/h5io.h"
#include "mx_build_config.h"

#define ADC_PREFIX "hardware.adc."
#define CMD "memxbar adc"
#define MAX_SETS 64
#define DEFAULT_RANGE_A 1e-5
#define DEFAULT_POINTS_PER_CODE 16
#define MAX_POINTS_PER_CODE 4096
#define MAX_INSTANCES 100000
/* Transitions written per run: instances × codes stays below 64 Mi values. */
#define MAX_VALUES ((size_t)1 << 26)
/* A lloyd-max ADC is fitted to N(0, (range/LLOYD_MAX_RANGE_SIGMAS)²). */
#define LLOYD_MAX_RANGE_SIGMAS 3.0

const char cli_adc_usage[] =
    "usage: memxbar adc curve [options]\n"
    "\n"
    "The transfer curve, transition levels and INL/DNL of one ADC, to HDF5 and a PNG\n"
    "(scripts/plot_adc.py). The ADC is built like a sweep's: the config defaults, then\n"
    "the options below.\n"
    "\n"
    "options:\n"
    "  --type T            hardware.adc.type: uniform, lloyd-max, log, sar, sense-amp\n"
    "  --bits B            hardware.adc.bits\n"
    "  --set PATH=VALUE    any hardware.adc field, e.g. --set\n"
    "                      hardware.adc.cap_mismatch_sigma=0.01\n"
    "  --range A           full scale, A (default 1e-05); lloyd-max is fitted to a\n"
    "                      Gaussian of sigma range/3\n"
    "  --instances N       ADC instances drawn (mismatch, offset), each with its INL/DNL\n"
    "                      (default 1)\n"
    "  --points-per-code P input points per code on the transfer curve (default 16)\n"
    "  --seed S            root seed of the instance and noise draws (default 1)\n"
    "  -o, --output FILE   HDF5 file (default: results/adc-TYPE-Bbit.h5); the plot is\n"
    "                      FILE with .png\n"
    "  --no-plot           write the HDF5 file only\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(CMD ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n", stderr);
    va_end(ap);
    return 2;
}

static int fail_status(void)
{
    fprintf(stderr, CMD ": %s\n", mx_last_error());
    return 1;
}

typedef struct curve_opts {
    const char *type, *bits;
    const char *sets[MAX_SETS];
    size_t n_sets;
    double range_a;
    long instances, points_per_code;
    uint64_t seed;
    const char *output;
    int plot;
} curve_opts;

static const char *type_name(mx_adc_kind k)
{
    switch (k) {
    case MX_ADC_UNIFORM: return "uniform";
    case MX_ADC_LLOYD_MAX: return "lloyd-max";
    case MX_ADC_LOG: return "log";
    case MX_ADC_SAR: return "sar";
    case MX_ADC_SENSE_AMP: return "sense-amp";
    default: return "none";
    }
}

/* The ADC config from the defaults and the options. 0 or an exit code. */
static int build_config(const curve_opts *o, mx_adc_config *out)
{
    mx_experiment_config cfg;
    mx_config_default(&cfg);
    mx_status st = MX_OK;
    if (o->type)
        st = mx_config_set(&cfg, ADC_PREFIX "type", o->type);
    if (!st && o->bits)
        st = mx_config_set(&cfg, ADC_PREFIX "bits", o->bits);
    for (size_t i = 0; i < o->n_sets && !st; i++) {
        char path[MX_CONFIG_NAME_BYTES];
        const char *eq = strchr(o->sets[i], '=');
        if (!eq || eq == o->sets[i] || (size_t)(eq - o->sets[i]) >= sizeof path) {
            mx_config_free(&cfg);
            return usage_error("--set %s: expected PATH=VALUE", o->sets[i]);
        }
        snprintf(path, sizeof path, "%.*s", (int)(eq - o->sets[i]), o->sets[i]);
        if (strncmp(path, ADC_PREFIX, strlen(ADC_PREFIX)) != 0) {
            mx_config_free(&cfg);
            return usage_error("--set %s: only hardware.adc.* fields describe an ADC", path);
        }
        st = mx_config_set(&cfg, path, eq + 1);
    }
    if (!st)
        st = mx_adc_config_validate(&cfg.hardware.adc);
    if (!st && cfg.hardware.adc.kind == MX_ADC_NONE)
        st = mx_fail(MX_EINVAL, "hardware.adc.type: none has no transfer curve; expected "
                                "uniform, lloyd-max, log, sar or sense-amp");
    *out = cfg.hardware.adc;
    mx_config_free(&cfg);
    return st ? fail_status() : 0;
}

/* The ADC with `instances` instances (lloyd-max fitted to the Gaussian). */
static mx_status build_adc(const mx_adc_config *c, double range_a, size_t instances,
                           uint64_t seed, double *table, mx_adc *adc)
{
    mx_adc_fit fit = {.range_a = range_a};
    const size_t n = (size_t)1 << c->bits;
    if (c->kind == MX_ADC_LLOYD_MAX) {
        double *t = table, *y = table + n;
        mx_status st = mx_adc_lloyd_max_gaussian(c->bits, t, y, NULL);
        if (st)
            return st;
        const double sigma = range_a / LLOYD_MAX_RANGE_SIGMAS;
        for (size_t k = 0; k < n; k++) {
            y[k] *= sigma;
            if (k + 1 < n)
                t[k] *= sigma;
        }
        fit = (mx_adc_fit){.range_a = mx_adc_fitted_full_scale(t, y, n, NULL, NULL),
                           .n_levels = n,
                           .threshold_a = t,
                           .level_a = y};
    }
    const mx_adc_layout lay = {.banks = 1, .columns = instances, .tile_cols = instances,
                               .seed = seed};
    mx_adc_config one = *c;
    one.columns_per_adc = 1; /* one column per instance here */
    return mx_adc_setup(adc, &one, &fit, &lay);
}

typedef struct curve_data {
    size_t n_codes, n_points, instances;
    double *input_a, *level_a, *transition_a, *dnl, *inl, *lsb_a;
    int32_t *code, *code_ideal, *codes;
    double dnl_worst, inl_worst;
    size_t missing;
} curve_data;

static void curve_free(curve_data *d)
{
    free(d->input_a);
    free(d->level_a);
    free(d->transition_a);
    free(d->dnl);
    free(d->inl);
    free(d->lsb_a);
    free(d->code);
    free(d->code_ideal);
    free(d->codes);
}

/* Measure `adc` (and its ideal twin) into d. 0 or 1 (out of memory). */
static int measure(const mx_adc *adc, const mx_adc *ideal, size_t instances, size_t ppc,
                   uint64_t seed, curve_data *d)
{
    memset(d, 0, sizeof *d);
    const size_t n = (size_t)(adc->code_max - adc->code_min) + 1;
    d->n_codes = n;
    d->instances = instances;
    d->n_points = ppc * n + ppc / 4 * n + 1; /* the scale and an eighth either side */
    d->input_a = malloc(d->n_points * sizeof(double));
    d->code = malloc(d->n_points * sizeof(int32_t));
    d->code_ideal = malloc(d->n_points * sizeof(int32_t));
    d->level_a = malloc(n * sizeof(double));
    d->codes = malloc(n * sizeof(int32_t));
    d->transition_a = malloc(instances * (n - 1) * sizeof(double));
    d->dnl = calloc(instances * n, sizeof(double));
    d->inl = calloc(instances * n, sizeof(double));
    d->lsb_a = calloc(instances, sizeof(double));
    if (!d->input_a || !d->code || !d->code_ideal || !d->level_a || !d->codes ||
        !d->transition_a || !d->dnl || !d->inl || !d->lsb_a) {
        fprintf(stderr, CMD ": out of memory\n");
        return 1;
    }
    for (size_t k = 0; k < n; k++) {
        d->codes[k] = adc->code_min + (int32_t)k;
        d->level_a[k] = mx_adc_value(adc, d->codes[k]);
    }
    double lo = adc->clip_lo_a, hi = adc->clip_hi_a;
    if (adc->level_a) { /* a fitted table: span its thresholds and levels */
        lo = fmin(lo, adc->level_a[0]);
        hi = fmax(hi, adc->level_a[n - 1]);
    }
    const double span = hi - lo;
    mx_rng r;
    mx_rng_init_named(&r, seed, "adc.curve", 0);
    for (size_t i = 0; i < d->n_points; i++) {
        const double x = lo - span / 8.0 + 1.25 * span * (double)i / (double)(d->n_points - 1);
        d->input_a[i] = x;
        d->code[i] = mx_adc_code_at(adc, x, 0, &r);
        d->code_ideal[i] = mx_adc_code(ideal, x);
    }
    for (size_t inst = 0; inst < instances; inst++) {
        double *t = d->transition_a + inst * (n - 1);
        mx_adc_transitions(adc, inst, t);
        for (size_t k = 0; k + 2 < n; k++)
            d->missing += t[k + 1] == t[k];
        if (n < 3)
            continue;
        double *dnl = d->dnl + inst * n, *inl = d->inl + inst * n;
        d->lsb_a[inst] = mx_adc_linearity(t, n, dnl, inl);
        for (size_t k = 0; k < n; k++) {
            d->dnl_worst = fmax(d->dnl_worst, fabs(dnl[k]));
            d->inl_worst = fmax(d->inl_worst, fabs(inl[k]));
        }
    }
    return 0;
}

static int write_curve(const mx_adc_config *c, const mx_adc *adc, const curve_opts *o,
                       const curve_data *d)
{
    mx_cli_out out;
    if (mx_cli_out_open(&out, CMD, o->output))
        return 1;
    const hid_t f = out.file;
    const hsize_t dim_p[1] = {d->n_points}, dim_c[1] = {d->n_codes};
    const hsize_t dim_t[2] = {d->instances, d->n_codes - 1}, dim_ic[2] = {d->instances, d->n_codes};
    const hsize_t dim_i[1] = {d->instances};
    int bad = 0;
    bad |= mx_h5_attr_string(f, "kind", "adc-curve") < 0;
    bad |= mx_h5_attr_string(f, "type", type_name(c->kind)) < 0;
    bad |= mx_h5_attr_string(f, "polarity", c->polarity == MX_ADC_SIGNED ? "signed" : "unsigned") <
           0;
    bad |= mx_h5_attr_string(f, "memxbar_version", MX_VERSION " (" MX_GIT_DESCRIBE ")") < 0;
    bad |= mx_h5_attr_string(f, "linearity",
                             "terminal-based INL/DNL (IEEE 1241) from transition levels found "
                             "by bisection, noise off") < 0;
    bad |= mx_cli_h5_attr_u64(f, "bits", (uint64_t)c->bits) < 0;
    bad |= mx_cli_h5_attr_u64(f, "instances", d->instances) < 0;
    bad |= mx_cli_h5_attr_u64(f, "seed", o->seed) < 0;
    bad |= mx_cli_h5_attr_u64(f, "missing_codes", d->missing) < 0;
    bad |= mx_cli_h5_attr_f64(f, "range_a", adc->range_a) < 0;
    bad |= mx_cli_h5_attr_f64(f, "step_a", adc->step_a) < 0;
    bad |= mx_cli_h5_attr_f64(f, "log_dynamic_range", c->log_dynamic_range) < 0;
    bad |= mx_cli_h5_attr_f64(f, "cap_mismatch_sigma", c->cap_mismatch_sigma) < 0;
    bad |= mx_cli_h5_attr_f64(f, "offset_sigma_lsb", c->offset_sigma_lsb) < 0;
    bad |= mx_cli_h5_attr_f64(f, "noise_sigma_lsb", c->noise_sigma_lsb) < 0;
    bad |= mx_cli_h5_attr_f64(f, "dnl_max_abs_lsb", d->dnl_worst) < 0;
    bad |= mx_cli_h5_attr_f64(f, "inl_max_abs_lsb", d->inl_worst) < 0;
    bad |= mx_cli_h5_write(f, "input_a", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dim_p,
                           d->input_a, "A", "input current of the transfer-curve ramp") < 0;
    bad |= mx_cli_h5_write(f, "code", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, dim_p, d->code, "-",
                           "output code of instance 0 for each input, with its noise") < 0;
    bad |= mx_cli_h5_write(f, "code_ideal", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, dim_p,
                           d->code_ideal, "-",
                           "output code of the ideal ADC of the same type (no mismatch, "
                           "offset or noise)") < 0;
    bad |= mx_cli_h5_write(f, "codes", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, dim_c, d->codes, "-",
                           "every output code, ascending") < 0;
    bad |= mx_cli_h5_write(f, "level_a", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dim_c, d->level_a,
                           "A", "the value each code stands for (reconstruction level)") < 0;
    bad |= mx_cli_h5_write(f, "transition_a", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dim_t,
                           d->transition_a, "A",
                           "transition levels (instances, codes - 1): the smallest input "
                           "converted above code i, noise off") < 0;
    if (d->n_codes >= 3) {
        bad |= mx_cli_h5_write(f, "dnl_lsb", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dim_ic, d->dnl,
                               "LSB",
                               "differential non-linearity per code (instances, codes), "
                               "terminal-based; 0 for the end codes") < 0;
        bad |= mx_cli_h5_write(f, "inl_lsb", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dim_ic, d->inl,
                               "LSB",
                               "integral non-linearity per code (instances, codes): deviation "
                               "of the code's lower transition from the terminal line") < 0;
        bad |= mx_cli_h5_write(f, "lsb_a", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dim_i, d->lsb_a,
                               "A", "terminal-based LSB of each instance") < 0;
    }
    return mx_cli_out_close(&out, !bad);
}

static int cmd_curve(int argc, char **argv)
{
    curve_opts o = {.range_a = DEFAULT_RANGE_A, .instances = 1,
                    .points_per_code = DEFAULT_POINTS_PER_CODE, .seed = 1, .plot = 1};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const int has_next = i + 1 < argc;
        int code = 0;
        if (!strcmp(a, "--type") && has_next)
            o.type = argv[++i];
        else if (!strcmp(a, "--bits") && has_next)
            o.bits = argv[++i];
        else if (!strcmp(a, "--set") && has_next) {
            if (o.n_sets == MAX_SETS)
                return usage_error("at most %d --set options", MAX_SETS);
            o.sets[o.n_sets++] = argv[++i];
        } else if (!strcmp(a, "--range") && has_next) {
            char *end;
            o.range_a = strtod(argv[++i], &end);
            if (end == argv[i] || *end != '\0' || !isfinite(o.range_a) || o.range_a <= 0)
                return usage_error("--range: expected a current > 0 A, got \"%s\"", argv[i]);
        } else if (!strcmp(a, "--instances") && has_next)
            code = mx_cli_parse_long(CMD, a, argv[++i], 1, MAX_INSTANCES, &o.instances);
        else if (!strcmp(a, "--points-per-code") && has_next)
            code = mx_cli_parse_long(CMD, a, argv[++i], 1, MAX_POINTS_PER_CODE, &o.points_per_code);
        else if (!strcmp(a, "--seed") && has_next)
            code = mx_cli_parse_seed(CMD, a, argv[++i], &o.seed);
        else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && has_next)
            o.output = argv[++i];
        else if (!strcmp(a, "--no-plot"))
            o.plot = 0;
        else if (a[0] == '-')
            return usage_error("curve: unknown or incomplete option '%s'\n\n%s", a, cli_adc_usage);
        else
            return usage_error("curve: unexpected argument '%s'", a);
        if (code)
            return code;
    }
    mx_adc_config c;
    int code = build_config(&o, &c);
    if (code)
        return code;
    const size_t n_codes = (size_t)1 << c.bits;
    if (mx_size_mul((size_t)o.instances, n_codes) > MAX_VALUES ||
        mx_size_mul((size_t)o.points_per_code, n_codes) > MAX_VALUES)
        return usage_error("%ld instances or %ld points per code of a %d-bit ADC is too much "
                           "(at most %zu values)",
                           o.instances, o.points_per_code, c.bits, MAX_VALUES);
    char default_output[512];
    if (!o.output) {
        snprintf(default_output, sizeof default_output, "results/adc-%s-%dbit.h5",
                 type_name(c.kind), c.bits);
        o.output = default_output;
    }
    double *table = malloc(2 * n_codes * sizeof(double));
    if (!table) {
        fprintf(stderr, CMD ": out of memory\n");
        return 1;
    }
    mx_adc adc = {0}, ideal = {0};
    mx_adc_config ci = c;
    ci.cap_mismatch_sigma = ci.offset_sigma_lsb = ci.noise_sigma_lsb = 0.0;
    mx_status st = build_adc(&c, o.range_a, (size_t)o.instances, o.seed, table, &adc);
    if (!st)
        st = build_adc(&ci, o.range_a, 1, o.seed, table, &ideal);
    free(table);
    if (st) {
        mx_adc_release(&adc);
        return fail_status();
    }
    curve_data d;
    code = measure(&adc, &ideal, (size_t)o.instances, (size_t)o.points_per_code, o.seed, &d);
    if (!code)
        code = write_curve(&c, &adc, &o, &d);
    if (!code) {
        printf("%s ADC, %d bits, full scale %.4g A", type_name(c.kind), c.bits, adc.range_a);
        if (d.n_codes >= 3)
            printf(", terminal LSB %.4g A: worst |DNL| %.3g LSB, |INL| %.3g LSB over %zu "
                   "instance%s, %zu missing code%s",
                   d.lsb_a[0], d.dnl_worst, d.inl_worst, d.instances, d.instances == 1 ? "" : "s",
                   d.missing, d.missing == 1 ? "" : "s");
        printf("\nwrote %s\n", o.output);
    }
    curve_free(&d);
    mx_adc_release(&adc);
    mx_adc_release(&ideal);
    if (!code && o.plot)
        mx_cli_plot(CMD, "plot_adc.py", o.output);
    return code;
}

int cli_adc(int argc, char **argv)
{
    if (argc < 1)
        return usage_error("expected curve\n\n%s", cli_adc_usage);
    const char *sub = argv[0];
    if (!strcmp(sub, "curve"))
        return cmd_curve(argc - 1, argv + 1);
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
        fputs(cli_adc_usage, stdout);
        return 0;
    }
    return usage_error("unknown subcommand '%s' (expected curve)\n\n%s", sub, cli_adc_usage);
}
