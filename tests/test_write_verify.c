/* SPDX-License-Identifier: MIT
 *
 * test_write_verify.c: closed-loop write-verify programming
 * (devices/write_verify.c) on every pulse-level device model of the
 * registry, with device-to-device and cycle-to-cycle variation and read
 * noise: the true residual error shrinks round by round, ends far below the
 * device's own open-loop programming error, and ≥ 95 % of cells converge.
 * Then the closed cases: a noise-free device ends every cell within
 * tolerance; the incremental schedules send the amplitudes and widths they
 * promise (and a binary cell switches only once the amplitude is high
 * enough); time and energy against a hand computation; the same bits at 1
 * and 2 threads; quantiles against a hand sort; every config error names
 * its field; an allocation failure leaves nothing behind. Last, the sweep
 * switch's YAML block hardware.programming: its fields parse into the
 * crossbar config, and bad values and combinations are named.
 *
 * Setting MX_WV_MEASURE=1 in the environment also prints the table of
 * docs (pulses, convergence, RMS before/after per model and tolerance).
 */
#include "tests/support/mx_test.h"

#include <float.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/rng.h"
#include "devices/devices.h"
#include "devices/measured.h"
#include "devices/write_verify.h"
#include "experiments/config.h"

#define SEED 20250307u
#define CELLS 256

static void assert_error_mentions(const char *needle)
{
    if (!strstr(mx_last_error(), needle)) {
        print_error("expected the message to name '%s', got '%s'\n", needle, mx_last_error());
        fail();
    }
}

/* ---- device set-up ------------------------------------------------------- */

static mx_measured_curve *sample_curve;

static int load_sample_curve(void)
{
    if (sample_curve)
        return 1;
    const char *root = getenv("MEMXBAR_SOURCE_ROOT");
    char path[1024];
    snprintf(path, sizeof path, "%s/examples/devices/sample-curve.csv", root ? root : "..");
    return mx_measured_curve_load(path, &sample_curve) == MX_OK;
}

static int teardown_group(void **state)
{
    (void)state;
    mx_measured_curve_free(sample_curve);
    sample_curve = NULL;
    return 0;
}

/* The first preset of a model, if it has one. */
static void apply_preset_of(const mx_device_type *type, mx_device_params *p)
{
    for (const mx_device_preset *const *pr = mx_device_presets(); *pr; pr++)
        if (strcmp((*pr)->type, type->name) == 0) {
            (*pr)->apply(p);
            return;
        }
}

/* A model's parameters for the tests: its first preset (the measured model:
 * the sample curve), with `vary` the model's own device-to-device and
 * cycle-to-cycle variation switched on, and relative read noise. Returns 0
 * if the model cannot be set up. A model added to the registry later runs
 * with its preset or defaults (and its own variation defaults). */
static int device_setup(const mx_device_type *type, mx_device_params *p, int vary,
                        double read_noise)
{
    mx_device_params_default(p);
    apply_preset_of(type, p);
    const char *name = type->name;
    if (strcmp(name, "measured") == 0) {
        if (!load_sample_curve())
            return 0;
        mx_measured_apply(p, sample_curve);
        p->measured.spread_scale = vary ? 1.0 : 0.0;
        p->d2d_sigma = vary ? 0.05 : 0.0;
    } else if (strcmp(name, "nonlinear") == 0) {
        /* ag-si: its published C2C σ (3.5 % of the window per pulse). */
        p->nonlinear.d2d_nl_sigma = vary ? 0.5 : 0.0;
        if (!vary)
            p->nonlinear.c2c_sigma = 0.0;
    } else if (strcmp(name, "step") == 0) {
        /* aihwkit defaults: dw_min_dtod = dw_min_std = 0.3. */
        p->step.bounds_dtod = 0.0;
        if (!vary) {
            p->step.dw_min_dtod = p->step.dw_min_std = p->step.up_down_dtod = 0.0;
        }
    } else if (strcmp(name, "binary") == 0) {
        p->binary.tau0_d2d = vary ? 0.5 : 0.0;
        p->binary.v0_d2d = vary ? 0.02 : 0.0;
    } else if (strcmp(name, "linear-ion-drift") == 0) {
        /* Biolek's window: the preset's Joglekar window locks a cell that a
         * train drives to x = 1 for ever (devices/dynamic.c), and the top of
         * the conductance window sits at x > 0.999; the doc table shows the
         * preset as it is. */
        p->dynamic.window = MX_WINDOW_BIOLEK;
        p->dynamic.d2d_sigma_r = vary ? 0.05 : 0.0;
    } else if (strcmp(name, "vteam") == 0) {
        p->dynamic.d2d_sigma_r = vary ? 0.05 : 0.0;
    } else if (strcmp(name, "pku") == 0) {
        p->dynamic.d2d_sigma_r = vary ? 0.05 : 0.0;
        p->pku.d2d_sigma_nu0 = vary ? 0.2 : 0.0;
        if (!vary)
            p->pku.delta_g0_m = 0.0;
    }
    p->read_noise_sigma = read_noise;
    return type->validate(p) == MX_OK;
}

/* Pulses fine enough for a tolerance band: where one nominal pulse of a
 * continuous amplitude-aware model moves a cell by more than a quarter of
 * the band on average (the strukov-tio2 preset's 1 ms pulse: 2.6 % of the
 * window, up to 6 % near g_max; stanford-pku's 1 ns pulse: 44 %), no pulse
 * count can land it inside, so shorten both widths in proportion (twice:
 * the response is not linear in the width). What a user of these presets
 * would do before write-verify; the doc table shows both. */
static void fit_pulses_to(const mx_device_type *type, mx_device_params *p, double tolerance)
{
    if (!type->amplitude_aware || p->levels != 0)
        return;
    for (int pass = 0; pass < 2; pass++) {
        double up = 0.0, down = 0.0;
        assert_int_equal(mx_wv_characterise(type, p, SEED, &up, &down), MX_OK);
        double worst = up > down ? up : down;
        if (worst <= 0.25 * tolerance)
            return;
        double k = 0.25 * tolerance / worst;
        p->pulse.width_ltp_s *= k;
        p->pulse.width_ltd_s *= k;
    }
}

/* n targets uniform over the middle 90 % of the window, quantised to the
 * model's levels (the binary cell's two states). */
static void make_targets(const mx_device_params *p, float *target, size_t n, uint64_t seed)
{
    mx_rng rng;
    mx_rng_init_named(&rng, seed, "test.targets", 0);
    const double w = p->g_max_s - p->g_min_s;
    for (size_t i = 0; i < n; i++)
        target[i] = (float)mx_device_quantise(
            p, p->g_min_s + w * (0.05 + 0.9 * mx_rng_uniform(&rng)));
}

static double rms_frac(const mx_device_params *p, const float *g, const float *t, size_t n)
{
    double ss = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = ((double)g[i] - (double)t[i]) / (p->g_max_s - p->g_min_s);
        ss += e * e;
    }
    return sqrt(ss / (double)n);
}

#define MAX_ROUNDS 128

typedef struct wv_outcome {
    double rms_open;            /* open-loop programming, fraction of the window */
    double rms_round[MAX_ROUNDS]; /* after each round */
    int rounds;
    mx_wv_totals totals;
    double err_q[3];            /* |error| quantiles 0.5, 0.95, 1 */
    double pulse_q[3];          /* pulse-count quantiles 0.5, 0.95, 1 */
} wv_outcome;

/* Program n cells open-loop, then write-verify them, round by round. */
static void run_case_from(const mx_device_type *type, const mx_device_params *p,
                          const mx_wv_config *cfg, size_t n, uint64_t seed, int reversed,
                          wv_outcome *o, float *g_out)
{
    float *cells = type->cell_floats ? malloc(n * type->cell_floats * sizeof *cells) : NULL;
    float *g = malloc(n * sizeof *g), *target = malloc(n * sizeof *target);
    assert_non_null(g);
    assert_non_null(target);
    make_targets(p, target, n, seed);
    /* reversed: start from the mirror image of each target in the window. */
    for (size_t i = 0; reversed && i < n; i++)
        g[i] = (float)(p->g_min_s + p->g_max_s - (double)target[i]);
    assert_int_equal(
        mx_wv_program_open_loop(type, p, cells, g, reversed ? g : target, n, seed), MX_OK);
    memset(o, 0, sizeof *o);
    o->rms_open = rms_frac(p, g, target, n);
    mx_wv *wv = NULL;
    mx_status st = mx_wv_init(cfg, type, p, cells, g, target, n, seed, &wv);
    if (st != MX_OK)
        print_error("%s\n", mx_last_error());
    assert_int_equal(st, MX_OK);
    while (mx_wv_active(wv) > 0) {
        mx_wv_iterate(wv);
        assert_true(o->rounds < MAX_ROUNDS);
        o->rms_round[o->rounds++] = rms_frac(p, g, target, n);
    }
    mx_wv_get_totals(wv, &o->totals);
    const double q[3] = {0.5, 0.95, 1.0};
    assert_int_equal(mx_wv_error_quantiles(wv, q, 3, o->err_q), MX_OK);
    assert_int_equal(mx_wv_pulse_quantiles(wv, q, 3, o->pulse_q), MX_OK);
    if (g_out)
        memcpy(g_out, g, n * sizeof *g);
    mx_wv_destroy(wv);
    free(cells);
    free(g);
    free(target);
}

static void run_case(const mx_device_type *type, const mx_device_params *p,
                     const mx_wv_config *cfg, size_t n, uint64_t seed, wv_outcome *o,
                     float *g_out)
{
    run_case_from(type, p, cfg, n, seed, 0, o, g_out);
}

/* ---- every pulse-level model -------------------------------------------- */

/* Relative read noise of the verify reads in the model runs: 0.3 % of g,
 * 0.33 % of the window at g_max for ON/OFF 10 — a third of the 1 %
 * tolerance, so the read alone rarely retires a cell outside it. */
#define READ_NOISE 0.003

static void test_every_pulse_model_converges_far_below_open_loop_error(void **state)
{
    (void)state;
    int tested = 0;
    for (const mx_device_type *const *t = mx_device_types(); *t; t++) {
        const mx_device_type *type = *t;
        if (!type->pulse)
            continue;
        mx_device_params p;
        if (!device_setup(type, &p, 1, READ_NOISE)) {
            print_message("skipped %s: %s\n", type->name, mx_last_error());
            continue;
        }
        mx_wv_config cfg;
        mx_wv_config_default(&cfg);
        cfg.max_iterations = 40; /* generous: the bound below is on convergence */
        fit_pulses_to(type, &p, cfg.tolerance);
        wv_outcome o;
        run_case(type, &p, &cfg, CELLS, SEED, &o, NULL);
        const mx_wv_totals *tot = &o.totals;
        double conv = (double)tot->converged / (double)tot->cells;
        print_message("%-17s open-loop RMS %.4f -> %.4f after %d rounds, %.1f %% converged, "
                      "%.1f pulses/cell\n",
                      type->name, o.rms_open, tot->rms_error_frac, o.rounds, 100.0 * conv,
                      (double)tot->pulses / (double)tot->cells);
        if (getenv("MX_WV_MEASURE")) {
            for (int k = 0; k < o.rounds; k++)
                print_message(" %.4f", o.rms_round[k]);
            print_message("\n");
            continue;
        }
        /* Convergence: ≥ 95 % within the 1 % tolerance (measured: 96.5 %
         * pku, 99.6 % nonlinear, 100 % the others). */
        assert_true(conv >= 0.95);
        /* The residual is a fraction of the open-loop error: at least 3×
         * smaller, and below two tolerances. */
        assert_true(tot->rms_error_frac < o.rms_open / 3.0);
        assert_true(tot->rms_error_frac < 2.0 * cfg.tolerance);
        /* Round by round: while most cells are in flight (rounds 1–5) the
         * RMS does not grow by more than an overshoot corrected next round
         * (20 %, plus a quarter tolerance), and by round 5 it is below 2/3
         * of the open-loop RMS (measured: 0.50 binary, 0.52 pku, ≤ 0.3 the
         * others). Later
         * rounds move a few cells each; one noisy train (ag-si's C2C σ is
         * 3.5 % of the window ×√pulses) can lift the RMS of 256 cells by
         * 1e-2, so there the bound is the envelope: round 5's RMS with the
         * same allowance, or two tolerances, whichever is larger. */
        double prev = o.rms_open;
        const int early = o.rounds < 5 ? o.rounds : 5;
        for (int k = 0; k < o.rounds; k++) {
            double bound = k < early ? 1.2 * prev + 0.25 * cfg.tolerance
                                     : fmax(1.2 * o.rms_round[early - 1] + 0.25 * cfg.tolerance,
                                            2.0 * cfg.tolerance);
            if (!(o.rms_round[k] <= bound)) {
                print_error("%s: RMS %g in round %d above %g\n", type->name, o.rms_round[k],
                            k + 1, bound);
                fail();
            }
            prev = o.rms_round[k];
        }
        assert_true(o.rms_round[early - 1] < (2.0 / 3.0) * o.rms_open);
        /* Accounting is consistent. */
        assert_true(tot->reads == tot->trains + (int64_t)tot->cells);
        assert_true(tot->pulses >= tot->trains);
        assert_true(tot->time_serial_s >= tot->time_parallel_s);
        assert_true(tot->energy_pulse_j > 0.0 && tot->energy_read_j > 0.0);
        tested++;
    }
    /* Every pulse model of the registry ran (none needed skipping). */
    int pulse_models = 0;
    for (const mx_device_type *const *t = mx_device_types(); *t; t++)
        pulse_models += (*t)->pulse != NULL;
    assert_int_equal(tested, pulse_models);
}

/* ---- closed cases ---------------------------------------------------------- */

static void test_noise_free_devices_end_every_cell_within_tolerance(void **state)
{
    (void)state;
    /* Deterministic devices, noiseless reads: the constant step of 0.4 % of
     * the window is below the ±1 % band, so every cell lands in it; the
     * linear ion drift and VTEAM cells move continuously. */
    const char *names[] = {"step", "linear-ion-drift", "vteam"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        const mx_device_type *type = mx_device_lookup(names[k]);
        assert_non_null(type);
        mx_device_params p;
        assert_true(device_setup(type, &p, 0, 0.0));
        p.step.dw_min = 0.004;
        mx_wv_config cfg;
        mx_wv_config_default(&cfg);
        cfg.max_iterations = 60;
        fit_pulses_to(type, &p, cfg.tolerance);
        const size_t n = 64;
        float g[64];
        wv_outcome o;
        run_case_from(type, &p, &cfg, n, SEED + k, 1, &o, g);
        /* The cells started far from their targets. */
        assert_true(o.rms_open > 0.2);
        print_message("%-17s noise-free: worst |error| %.5f of the window, %d rounds\n",
                      names[k], o.totals.max_error_frac, o.rounds);
        assert_int_equal(o.totals.converged, n);
        /* 1 + 1e-5: float conductances (the read equals the true g here). */
        assert_true(o.totals.max_error_frac <= cfg.tolerance * (1.0 + 1e-5));
    }
}

/* Amplitude (or width) the schedule promises for train k of a polarity run. */
static double ramp(double start, double step, double top, int k)
{
    double v = start + (double)k * step;
    return v < top ? v : top;
}

static void test_incremental_schedules_ramp_and_reset_on_polarity_flips(void **state)
{
    (void)state;
    /* A coarse constant step (30 % of the window, no noise) overshoots the
     * ±1 % band again and again, so polarities flip; the step model ignores
     * amplitude and width, so the trains are the schedule's alone. */
    const mx_device_type *type = mx_device_lookup("step");
    mx_device_params p;
    assert_true(device_setup(type, &p, 0, 0.0));
    p.step.dw_min = 0.3;
    for (int sched = MX_WV_INCREMENTAL_AMPLITUDE; sched <= MX_WV_INCREMENTAL_WIDTH; sched++) {
        mx_wv_config cfg;
        mx_wv_config_default(&cfg);
        cfg.schedule = (mx_wv_schedule)sched;
        cfg.pulses_per_iteration = 1;
        cfg.max_iterations = 12;
        cfg.v_start_v = 0.5;
        cfg.v_step_v = 0.1;
        cfg.v_max_v = 0.8;
        cfg.width_start_s = 20e-9;
        cfg.width_step_s = 30e-9;
        cfg.width_max_s = 100e-9;
        float target = (float)(p.g_min_s + 0.45 * (p.g_max_s - p.g_min_s)), g;
        float cells[MX_DEVICE_CELL_FLOATS_MAX];
        assert_int_equal(mx_wv_program_open_loop(type, &p, cells, &g, &target, 1, SEED), MX_OK);
        mx_wv *wv = NULL;
        assert_int_equal(mx_wv_init(&cfg, type, &p, cells, &g, &target, 1, SEED, &wv), MX_OK);
        int last_sign = 0, run = 0, flips = 0, trains = 0;
        for (;;) {
            mx_wv_iterate(wv);
            const mx_pulse *tr = mx_wv_last_pulses(wv);
            if (tr->count == 0) /* retired this round */
                break;
            int sign = tr->count > 0 ? 1 : -1;
            run = sign == last_sign ? run + 1 : 0;
            flips += last_sign != 0 && sign != last_sign;
            last_sign = sign;
            trains++;
            assert_int_equal(abs(tr->count), 1);
            if (sched == MX_WV_INCREMENTAL_AMPLITUDE) {
                assert_close(tr->amplitude_v, ramp(0.5, 0.1, 0.8, run), 0.0, 1e-6);
                assert_close(tr->width_s, sign > 0 ? p.pulse.width_ltp_s : p.pulse.width_ltd_s,
                             0.0, 1e-6);
            } else {
                assert_close(tr->width_s, ramp(20e-9, 30e-9, 100e-9, run), 0.0, 1e-6);
                assert_close(tr->amplitude_v, sign > 0 ? p.pulse.v_ltp_v : p.pulse.v_ltd_v,
                             0.0, 1e-6);
            }
        }
        /* The case exercised both a ramp and resets. */
        assert_true(trains >= 4);
        assert_true(flips >= 2);
        mx_wv_destroy(wv);
    }
}

static void test_binary_cell_switches_once_the_amplitude_ramp_is_high_enough(void **state)
{
    (void)state;
    /* τ(V) = τ0·exp(−V/V0) on one nominal cell (no D2D): a 10 µs pulse
     * switches with P = 1 − exp(−t/τ(V)): 1.4e-5 at 2 V, 0.20 at 3.5 V,
     * 0.996 at 4.25 V. One pulse per train, ISPP from 2 V in 0.25 V steps:
     * the amplitudes ramp and the cell switches OFF → ON somewhere between
     * 3 V and 4.5 V, never below 2.75 V (P < 1e-3 per pulse there). */
    const mx_device_type *type = mx_device_lookup("binary");
    mx_device_params p;
    assert_true(device_setup(type, &p, 0, 0.0));
    mx_wv_config cfg;
    mx_wv_config_default(&cfg);
    cfg.schedule = MX_WV_INCREMENTAL_AMPLITUDE;
    cfg.pulses_per_iteration = 1;
    cfg.v_start_v = 2.0;
    cfg.v_step_v = 0.25;
    cfg.v_max_v = 5.0;
    cfg.step_ltp_frac = cfg.step_ltd_frac = 0.5;
    const size_t n = 32;
    float cells[32 * MX_DEVICE_CELL_FLOATS_MAX], g[32], target[32], off[32];
    for (size_t i = 0; i < n; i++) {
        off[i] = (float)p.g_min_s;
        target[i] = (float)p.g_max_s;
    }
    assert_int_equal(mx_wv_program_open_loop(type, &p, cells, g, off, n, SEED), MX_OK);
    mx_wv *wv = NULL;
    assert_int_equal(mx_wv_init(&cfg, type, &p, cells, g, target, n, SEED, &wv), MX_OK);
    double v_switch[32] = {0};
    float v_last[32] = {0};
    for (int round = 0; mx_wv_active(wv) > 0; round++) {
        mx_wv_iterate(wv);
        const mx_pulse *tr = mx_wv_last_pulses(wv);
        for (size_t i = 0; i < n; i++) {
            if (tr[i].count != 0) {
                assert_int_equal(tr[i].count, 1);
                assert_close(tr[i].amplitude_v, ramp(2.0, 0.25, 5.0, mx_wv_cells(wv)[i].trains - 1),
                             0.0, 1e-6);
                v_last[i] = tr[i].amplitude_v;
            } else if (v_switch[i] == 0.0 && mx_wv_cells(wv)[i].converged) {
                v_switch[i] = (double)v_last[i];
            }
        }
    }
    double mean = 0.0;
    for (size_t i = 0; i < n; i++) {
        assert_true(mx_wv_cells(wv)[i].converged);
        assert_true(v_switch[i] >= 2.75 && v_switch[i] <= 4.5);
        mean += v_switch[i] / (double)n;
    }
    print_message("binary ISPP: mean switching amplitude %.3f V\n", mean);
    mx_wv_destroy(wv);
}

static void test_time_and_energy_match_a_hand_computation(void **state)
{
    (void)state;
    /* Two noise-free constant-step cells (step 10 % of the window, the prior
     * given exactly), linear I–V. Cell 0 starts at g_min with target
     * g_min + 0.3 W: read, 3 LTP pulses, read (converged). Cell 1 starts at
     * g_min + 0.5 W (programmed open-loop) with target g_min + 0.3 W: read,
     * 2 LTD pulses, read. Distinct LTP/LTD pulses show each is priced. */
    const mx_device_type *type = mx_device_lookup("step");
    mx_device_params p;
    assert_true(device_setup(type, &p, 0, 0.0));
    p.step.dw_min = 0.1;
    p.pulse = (mx_pulse_params){.v_ltp_v = 1.2, .width_ltp_s = 50e-9, .v_ltd_v = 0.9,
                                .width_ltd_s = 80e-9};
    const double w = p.g_max_s - p.g_min_s;
    mx_wv_config cfg;
    mx_wv_config_default(&cfg);
    cfg.step_ltp_frac = cfg.step_ltd_frac = 0.1;
    cfg.gain = 1.0;
    cfg.verify_energy_j = 1e-12;
    float cells[2 * MX_DEVICE_CELL_FLOATS_MAX], g[2];
    float start[2] = {(float)p.g_min_s, (float)(p.g_min_s + 0.5 * w)};
    float target[2] = {(float)(p.g_min_s + 0.3 * w), (float)(p.g_min_s + 0.3 * w)};
    assert_int_equal(mx_wv_program_open_loop(type, &p, cells, g, start, 2, SEED), MX_OK);
    const double g0[2] = {(double)g[0], (double)g[1]};
    mx_wv *wv = NULL;
    assert_int_equal(mx_wv_init(&cfg, type, &p, cells, g, target, 2, SEED, &wv), MX_OK);
    mx_wv_totals t;
    assert_int_equal(mx_wv_run(wv, &t), 2);
    const double g1[2] = {(double)g[0], (double)g[1]};
    const mx_wv_cell *c = mx_wv_cells(wv);
    assert_int_equal(c[0].pulses, 3);
    assert_int_equal(c[1].pulses, 2);
    assert_int_equal(t.reads, 4);
    assert_int_equal(t.rounds, 2);
    const double vr = p.iv.v_read_v, tr = p.read_time_s;
    const double e_read = vr * vr * tr * (g0[0] + g1[0] + g0[1] + g1[1]) + 4.0 * 1e-12;
    /* The amplitudes and widths as sent: floats (mx_pulse). */
    const double v_up = (double)1.2f, v_down = (double)0.9f;
    const double e_pulse = 3.0 * v_up * v_up * 0.5 * (g0[0] + g1[0]) * (double)(float)50e-9 +
                           2.0 * v_down * v_down * 0.5 * (g0[1] + g1[1]) * (double)(float)80e-9;
    /* Relative 1e-12: a handful of double roundings. */
    assert_close(t.energy_read_j, e_read, 0.0, 1e-12);
    assert_close(t.energy_pulse_j, e_pulse, 0.0, 1e-12);
    assert_close(c[0].energy_j + c[1].energy_j, e_read + e_pulse, 0.0, 1e-12);
    const double t_serial = 4.0 * tr + 3.0 * (double)(float)50e-9 + 2.0 * (double)(float)80e-9;
    /* Round 1: the longer of (t_read + 3·50 ns) and (t_read + 2·80 ns); round 2: t_read. */
    const double t_par = tr + fmax(3.0 * (double)(float)50e-9, 2.0 * (double)(float)80e-9) + tr;
    assert_close(t.time_serial_s, t_serial, 0.0, 1e-12);
    assert_close(t.time_parallel_s, t_par, 0.0, 1e-12);
    /* The true error is reported: both cells land on g_min + 0.3 W. */
    assert_close(c[0].error_s, 0.0, 1e-6 * w, 0.0);
    assert_close(c[1].error_s, 0.0, 1e-6 * w, 0.0);
    mx_wv_destroy(wv);
}

/* A stuck cell never moves, so every verify read shows no change and the
 * step estimate keeps halving: by default a train is capped at the pulses
 * that cross the window twice at the nominal step (before the cap, such a
 * cell took up to 10^6 pulses per train). */
static void test_a_stuck_cell_is_not_hammered(void **state)
{
    (void)state;
    const mx_device_type *type = mx_device_lookup("step");
    mx_device_params p;
    assert_true(device_setup(type, &p, 0, 0.0));
    p.step.dw_min = 0.1;
    p.stuck_at_gmax_frac = 1.0; /* every cell stuck at g_max */
    const double w = p.g_max_s - p.g_min_s;
    mx_wv_config cfg;
    mx_wv_config_default(&cfg);
    cfg.step_ltp_frac = cfg.step_ltd_frac = 0.1; /* cap ceil(2 / 0.1) = 20 per train */
    enum { N = 4 };
    float cells[N * MX_DEVICE_CELL_FLOATS_MAX], g[N], start[N], target[N];
    for (size_t i = 0; i < N; i++) {
        start[i] = (float)p.g_max_s;
        target[i] = (float)(p.g_min_s + 0.3 * w);
    }
    assert_int_equal(mx_wv_program_open_loop(type, &p, cells, g, start, N, SEED), MX_OK);
    float g0[N];
    memcpy(g0, g, sizeof g0);
    mx_wv *wv = NULL;
    assert_int_equal(mx_wv_init(&cfg, type, &p, cells, g, target, N, SEED, &wv), MX_OK);
    mx_wv_totals t;
    mx_wv_run(wv, &t);
    const mx_wv_cell *c = mx_wv_cells(wv);
    for (size_t i = 0; i < N; i++) {
        assert_false(c[i].converged);
        assert_int_equal(c[i].trains, cfg.max_iterations);
        assert_true(c[i].pulses > cfg.max_iterations);           /* it did try harder */
        assert_true(c[i].pulses <= 20 * (int64_t)cfg.max_iterations); /* but within the cap */
        assert_true(g[i] == g0[i] && (double)g[i] > p.g_min_s + 0.5 * w); /* never moved */
    }
    mx_wv_destroy(wv);
}

static void run_threads(const mx_device_type *type, const mx_device_params *p,
                        const mx_wv_config *cfg, int threads, float *g, mx_wv_totals *t)
{
    const int before = omp_get_max_threads();
    omp_set_num_threads(threads);
    wv_outcome o;
    run_case(type, p, cfg, 96, SEED, &o, g);
    *t = o.totals;
    omp_set_num_threads(before);
}

static void test_same_seed_gives_the_same_bits_at_1_and_2_threads(void **state)
{
    (void)state;
    /* pku draws gap noise per train and reads with noise; nonlinear draws
     * C2C per train: both exercise every stream. */
    const char *names[] = {"pku", "nonlinear"};
    for (size_t k = 0; k < 2; k++) {
        const mx_device_type *type = mx_device_lookup(names[k]);
        mx_device_params p;
        assert_true(device_setup(type, &p, 1, READ_NOISE));
        mx_wv_config cfg;
        mx_wv_config_default(&cfg);
        float g1[96], g2[96];
        mx_wv_totals t1, t2;
        run_threads(type, &p, &cfg, 1, g1, &t1);
        run_threads(type, &p, &cfg, 2, g2, &t2);
        assert_memory_equal(g1, g2, sizeof g1);
        assert_int_equal(t1.pulses, t2.pulses);
        assert_int_equal(t1.reads, t2.reads);
        assert_int_equal(t1.converged, t2.converged);
        assert_true(t1.energy_pulse_j == t2.energy_pulse_j);
        assert_true(t1.time_serial_s == t2.time_serial_s);
        assert_true(t1.time_parallel_s == t2.time_parallel_s);
    }
}

static void test_quantiles_match_a_hand_sort(void **state)
{
    (void)state;
    /* Before any round the errors are g − target as given: |errors| of
     * 0.4, 0.1, 0.3, 0.0, 0.2 windows. Sorted 0, .1, .2, .3, .4: q = 0.5 → .2,
     * q = 0.3 → h = 1.2 → .12, q = 1 → .4. */
    const mx_device_type *type = mx_device_lookup("step");
    mx_device_params p;
    assert_true(device_setup(type, &p, 0, 0.0));
    const double w = p.g_max_s - p.g_min_s;
    const double e[5] = {0.4, -0.1, 0.3, 0.0, -0.2};
    float cells[5 * MX_DEVICE_CELL_FLOATS_MAX], g[5], target[5], mid[5];
    for (size_t i = 0; i < 5; i++)
        mid[i] = (float)(p.g_min_s + 0.5 * w);
    assert_int_equal(mx_wv_program_open_loop(type, &p, cells, g, mid, 5, SEED), MX_OK);
    for (size_t i = 0; i < 5; i++)
        target[i] = (float)((double)g[i] - e[i] * w);
    mx_wv_config cfg;
    mx_wv_config_default(&cfg);
    cfg.step_ltp_frac = cfg.step_ltd_frac = 0.01;
    mx_wv *wv = NULL;
    assert_int_equal(mx_wv_init(&cfg, type, &p, cells, g, target, 5, SEED, &wv), MX_OK);
    const double q[3] = {0.5, 0.3, 1.0};
    double out[3];
    assert_int_equal(mx_wv_error_quantiles(wv, q, 3, out), MX_OK);
    /* 1e-6 of the window: targets rounded to float. */
    assert_close(out[0], 0.2, 1e-6, 0.0);
    assert_close(out[1], 0.12, 1e-6, 0.0);
    assert_close(out[2], 0.4, 1e-6, 0.0);
    assert_int_equal(mx_wv_pulse_quantiles(wv, q, 3, out), MX_OK);
    assert_close(out[2], 0.0, 0.0, 0.0);
    const double bad[1] = {1.5};
    assert_int_equal(mx_wv_error_quantiles(wv, bad, 1, out), MX_EINVAL);
    assert_error_mentions("quantile");
    mx_wv_destroy(wv);
}

/* ---- errors ------------------------------------------------------------- */

typedef struct bad_field {
    const char *field;
    void (*spoil)(mx_wv_config *c);
} bad_field;

static void tol_zero(mx_wv_config *c) { c->tolerance = 0.0; }
static void tol_nan(mx_wv_config *c) { c->tolerance = (double)NAN; }
static void iter_zero(mx_wv_config *c) { c->max_iterations = 0; }
static void iter_huge(mx_wv_config *c) { c->max_iterations = MX_WV_MAX_ITERATIONS + 1; }
static void sched_bad(mx_wv_config *c) { c->schedule = (mx_wv_schedule)7; }
static void ppi_neg(mx_wv_config *c) { c->pulses_per_iteration = -1; }
static void maxp_negative(mx_wv_config *c) { c->max_pulses_per_iteration = -1; }
static void ltp_big(mx_wv_config *c) { c->step_ltp_frac = 2.0; }
static void ltd_neg(mx_wv_config *c) { c->step_ltd_frac = -0.1; }
static void vstart_neg(mx_wv_config *c) { c->v_start_v = -1.0; }
static void vstep_inf(mx_wv_config *c) { c->v_step_v = (double)INFINITY; }
static void vmax_low(mx_wv_config *c)
{
    c->v_start_v = 1.0;
    c->v_max_v = 0.5;
}
static void wstart_neg(mx_wv_config *c) { c->width_start_s = -1e-9; }
static void wstep_nan(mx_wv_config *c) { c->width_step_s = (double)NAN; }
static void wmax_low(mx_wv_config *c)
{
    c->width_start_s = 1e-6;
    c->width_max_s = 1e-7;
}
static void verify_neg(mx_wv_config *c) { c->verify_energy_j = -1.0; }
static void gain_zero(mx_wv_config *c) { c->gain = 0.0; }
static void gain_big(mx_wv_config *c) { c->gain = 1.5; }

static void test_bad_config_names_the_field(void **state)
{
    (void)state;
    const bad_field cases[] = {
        {"write_verify.tolerance", tol_zero},
        {"write_verify.tolerance", tol_nan},
        {"write_verify.max_iterations", iter_zero},
        {"write_verify.max_iterations", iter_huge},
        {"write_verify.schedule", sched_bad},
        {"write_verify.pulses_per_iteration", ppi_neg},
        {"write_verify.max_pulses_per_iteration", maxp_negative},
        {"write_verify.step_ltp_frac", ltp_big},
        {"write_verify.step_ltd_frac", ltd_neg},
        {"write_verify.v_start_v", vstart_neg},
        {"write_verify.v_step_v", vstep_inf},
        {"write_verify.v_max_v", vmax_low},
        {"write_verify.width_start_s", wstart_neg},
        {"write_verify.width_step_s", wstep_nan},
        {"write_verify.width_max_s", wmax_low},
        {"write_verify.verify_energy_j", verify_neg},
        {"write_verify.gain", gain_zero},
        {"write_verify.gain", gain_big},
    };
    const mx_device_type *type = mx_device_lookup("step");
    mx_device_params p;
    assert_true(device_setup(type, &p, 0, 0.0));
    float cells[MX_DEVICE_CELL_FLOATS_MAX], g = (float)p.g_min_s, target = (float)p.g_max_s;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        mx_wv_config cfg;
        mx_wv_config_default(&cfg);
        cases[k].spoil(&cfg);
        mx_wv *wv = (mx_wv *)&cfg; /* must come back NULL */
        assert_int_equal(mx_wv_init(&cfg, type, &p, cells, &g, &target, 1, SEED, &wv), MX_EINVAL);
        assert_null(wv);
        assert_error_mentions(cases[k].field);
    }
    mx_wv_config cfg;
    mx_wv_config_default(&cfg);
    mx_wv *wv = NULL;
    /* A model without a pulse response. */
    mx_device_params pr;
    mx_device_params_default(&pr);
    assert_int_equal(mx_wv_init(&cfg, &mx_device_reram, &pr, NULL, &g, &target, 1, SEED, &wv),
                     MX_EINVAL);
    assert_error_mentions("no pulse response");
    /* Parameters the model rejects. */
    mx_device_params pb = p;
    pb.step.dw_min = 0.0;
    assert_int_equal(mx_wv_init(&cfg, type, &pb, cells, &g, &target, 1, SEED, &wv), MX_EINVAL);
    assert_error_mentions("hardware.device.step.dw_min");
    /* Arrays. */
    assert_int_equal(mx_wv_init(&cfg, type, &p, cells, &g, &target, 0, SEED, &wv), MX_EINVAL);
    assert_int_equal(mx_wv_init(&cfg, type, &p, NULL, &g, &target, 1, SEED, &wv), MX_EINVAL);
    assert_error_mentions("record");
    float neg = -1e-6f;
    assert_int_equal(mx_wv_init(&cfg, type, &p, cells, &g, &neg, 1, SEED, &wv), MX_EINVAL);
    assert_error_mentions("target[0]");
    assert_null(wv);
}

static void test_allocation_failures_leave_nothing_behind(void **state)
{
    (void)state;
    const mx_device_type *type = mx_device_lookup("nonlinear");
    mx_device_params p;
    assert_true(device_setup(type, &p, 1, READ_NOISE));
    mx_wv_config cfg;
    mx_wv_config_default(&cfg);
    float cells[4 * MX_DEVICE_CELL_FLOATS_MAX], g[4], target[4];
    make_targets(&p, target, 4, SEED);
    assert_int_equal(mx_wv_program_open_loop(type, &p, cells, g, target, 4, SEED), MX_OK);
    /* init allocates the handle, five arrays and the probe's cells (twice). */
    for (long k = 1; k <= 8; k++) {
        mx_wv *wv = NULL;
        mx_alloc_fail_after(k);
        mx_status st = mx_wv_init(&cfg, type, &p, cells, g, target, 4, SEED, &wv);
        mx_alloc_fail_after(0);
        if (k <= 8 && st == MX_OK) {
            mx_wv_destroy(wv);
            continue; /* fewer allocations than k */
        }
        assert_int_equal(st, MX_ENOMEM);
        assert_null(wv);
    }
}

/* ---- the measurement table (MX_WV_MEASURE=1) ----------------------------- */

static void test_measurement_table(void **state)
{
    (void)state;
    if (!getenv("MX_WV_MEASURE"))
        skip();
    const double tols[] = {0.01, 0.05};
    const char *sched_names[] = {"fixed", "ispp-amplitude", "ispp-width"};
    print_message("| model | schedule | tol | open-loop RMS | final RMS | p95 |err| | converged "
                  "| pulses/cell mean | p95 | rounds | serial time/cell | energy/cell |\n");
    for (const mx_device_type *const *t = mx_device_types(); *t; t++) {
        const mx_device_type *type = *t;
        if (!type->pulse)
            continue;
        mx_device_params p;
        if (!device_setup(type, &p, 1, READ_NOISE))
            continue;
        mx_device_params fine = p;
        fit_pulses_to(type, &fine, 0.01);
        const int refit = memcmp(&fine.pulse, &p.pulse, sizeof p.pulse) != 0;
        for (int f = 0; f <= refit; f++)
        for (int s = 0; s < 3; s++)
            for (size_t k = 0; k < 2; k++) {
                if (s > 0 && k > 0)
                    continue;
                mx_wv_config cfg;
                mx_wv_config_default(&cfg);
                cfg.tolerance = tols[k];
                cfg.schedule = (mx_wv_schedule)s;
                if (getenv("MX_WV_GAIN"))
                    cfg.gain = atof(getenv("MX_WV_GAIN"));
                wv_outcome o;
                run_case(type, f ? &fine : &p, &cfg, CELLS, SEED, &o, NULL);
                if (f && s == 0 && k == 0)
                    print_message("| %s fine pulses: %.3g s / %.3g s |\n", type->name,
                                  fine.pulse.width_ltp_s, fine.pulse.width_ltd_s);
                const mx_wv_totals *tt = &o.totals;
                double nc = (double)tt->cells;
                print_message("| %s | %s | %.2f | %.4f | %.4f | %.4f | %.1f %% | %.1f | %.0f | %d "
                              "| %.3g s | %.3g J |\n",
                              type->name, sched_names[s], tols[k], o.rms_open,
                              tt->rms_error_frac, o.err_q[1], 100.0 * (double)tt->converged / nc,
                              (double)tt->pulses / nc, o.pulse_q[1], o.rounds,
                              tt->time_serial_s / nc, (tt->energy_pulse_j + tt->energy_read_j) / nc);
            }
    }
}

/* ---- the sweep switch: hardware.programming in YAML ------------------------ */

static mx_status parse_yaml(const char *text, mx_experiment_config *cfg)
{
    mx_clear_error();
    return mx_config_parse(text, strlen(text), "wv.yaml", cfg);
}

static void test_yaml_programming_fields_parse_and_bad_values_are_named(void **state)
{
    (void)state;
    mx_experiment_config cfg;
    const char *good = "hardware:\n"
                       "  device: {type: nonlinear, preset: ag-si}\n"
                       "  programming:\n"
                       "    mode: write-verify\n"
                       "    tolerance: 0.05\n"
                       "    max_iterations: 7\n"
                       "    schedule: incremental-width\n"
                       "    gain: 0.5\n"
                       "    verify_energy_j: 1.0e-12\n"
                       "sweep:\n"
                       "  hardware.programming.mode: [open-loop, write-verify]\n";
    assert_int_equal(parse_yaml(good, &cfg), MX_OK);
    assert_int_equal(mx_config_validate(&cfg), MX_OK);
    const mx_crossbar_config *x = &cfg.hardware.crossbar;
    assert_int_equal(x->programming, MX_PROGRAMMING_WRITE_VERIFY);
    assert_true(x->write_verify.tolerance == 0.05 && x->write_verify.gain == 0.5);
    assert_int_equal(x->write_verify.max_iterations, 7);
    assert_int_equal(x->write_verify.schedule, MX_WV_INCREMENTAL_WIDTH);
    assert_true(x->write_verify.verify_energy_j == 1e-12);
    /* The fields not in YAML keep the module's defaults. */
    mx_wv_config d;
    mx_wv_config_default(&d);
    assert_int_equal(x->write_verify.max_pulses_per_iteration, d.max_pulses_per_iteration);
    assert_int_equal(mx_config_n_points(&cfg), 2);
    mx_experiment_config pt;
    assert_int_equal(mx_config_point(&cfg, 0, &pt), MX_OK);
    assert_int_equal(pt.hardware.crossbar.programming, MX_PROGRAMMING_OPEN_LOOP);
    mx_config_free(&pt);
    mx_config_free(&cfg);

    /* Defaults: open loop with the module's write-verify settings. */
    assert_int_equal(parse_yaml("seed: 1\n", &cfg), MX_OK);
    assert_int_equal(cfg.hardware.crossbar.programming, MX_PROGRAMMING_OPEN_LOOP);
    assert_memory_equal(&cfg.hardware.crossbar.write_verify, &d, sizeof d);
    mx_config_free(&cfg);

    const struct {
        const char *yaml;
        const char *needle;
    } bad[] = {
        {"hardware: {programming: {mode: closed-loop}}\n", "hardware.programming.mode"},
        {"hardware: {programming: {tolerance: 1.5}}\n", "hardware.programming.tolerance"},
        {"hardware: {programming: {tolerance: 0}}\n", "hardware.programming.tolerance"},
        {"hardware: {programming: {max_iterations: 0}}\n", "hardware.programming.max_iterations"},
        {"hardware: {programming: {schedule: ramp}}\n", "hardware.programming.schedule"},
        {"hardware: {programming: {gain: 0}}\n", "hardware.programming.gain"},
        {"hardware: {programming: {verify_energy_j: -1}}\n",
         "hardware.programming.verify_energy_j"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse_yaml(bad[i].yaml, &cfg), MX_EINVAL);
        assert_error_mentions(bad[i].needle);
        assert_error_mentions("wv.yaml:1:");
    }

    /* Across fields: a device without a pulse response, and half-select. */
    const struct {
        const char *yaml;
        const char *needle[2];
    } cross[] = {
        {"hardware: {device: {type: reram}, programming: {mode: write-verify}}\n",
         {"hardware.programming.mode", "reram"}},
        {"hardware:\n  device: {type: binary, levels: 2}\n"
         "  crossbar: {half_select: v-half}\n  programming: {mode: write-verify}\n",
         {"hardware.programming.mode", "half_select"}},
    };
    for (size_t i = 0; i < sizeof cross / sizeof cross[0]; i++) {
        assert_int_equal(parse_yaml(cross[i].yaml, &cfg), MX_OK);
        mx_clear_error();
        assert_int_equal(mx_config_validate(&cfg), MX_EINVAL);
        assert_error_mentions(cross[i].needle[0]);
        assert_error_mentions(cross[i].needle[1]);
        mx_config_free(&cfg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_pulse_model_converges_far_below_open_loop_error),
        cmocka_unit_test(test_noise_free_devices_end_every_cell_within_tolerance),
        cmocka_unit_test(test_incremental_schedules_ramp_and_reset_on_polarity_flips),
        cmocka_unit_test(test_binary_cell_switches_once_the_amplitude_ramp_is_high_enough),
        cmocka_unit_test(test_time_and_energy_match_a_hand_computation),
        cmocka_unit_test(test_a_stuck_cell_is_not_hammered),
        cmocka_unit_test(test_same_seed_gives_the_same_bits_at_1_and_2_threads),
        cmocka_unit_test(test_quantiles_match_a_hand_sort),
        cmocka_unit_test(test_bad_config_names_the_field),
        cmocka_unit_test(test_allocation_failures_leave_nothing_behind),
        cmocka_unit_test(test_yaml_programming_fields_parse_and_bad_values_are_named),
        cmocka_unit_test(test_measurement_table),
    };
    return cmocka_run_group_tests(tests, NULL, teardown_group);
}
