/* SPDX-License-Identifier: MIT
 *
 * write_verify.c: closed-loop program-and-verify ("write-verify") of an
 * array of cells through their pulse-level device model — the programming
 * step between a weight mapping (crossbar/) and inference, which buys back
 * the accuracy open-loop programming noise costs, at a price in pulses, time
 * and energy that this module counts. The loop is the one RRAM and PCM
 * programming papers describe (Alibart, Gao, Hoskins & Strukov,
 * Nanotechnology 23:075201, 2012, adaptive tuning of memristors; the
 * incremental-step pulse programming, ISPP, of NAND Flash, Suh et al., IEEE
 * JSSC 30:1149, 1995; NeuroPack's 1 % tolerance loop and NeuroSim's
 * "non-identical pulse" scheme, anchors-crossbar.md §1). It lives in
 * devices/ (it needs only core and the device-type table) so that the
 * crossbar's programming can call it: crossbar/matmul.c runs it on every
 * row when hardware.programming.mode is write-verify (docs/calibration.md):
 *
 *   round r, for every active cell i (independent, OpenMP over cells):
 *     g_read = read(g_i)                       device read, read noise drawn
 *                                              afresh (stream "write_verify.read")
 *     |g_read − g_target| ≤ tol·(g_max − g_min) → converged, retired
 *     trains_i = max_iterations               → given up, retired
 *     otherwise: d = sign(g_target − g_read), a train of n pulses of
 *       polarity d (stream "write_verify.pulse") with
 *       n = round(gain·|g_target − g_read| / ŝ_i,d)   clamped to [1, n_max]
 *           (or the config's fixed pulses_per_iteration)
 *       fixed:                  nominal amplitude and width
 *       incremental-amplitude:  V_k = min(V_start + k·V_step, V_max), nominal width
 *       incremental-width:      t_k = min(t_start + k·t_step, t_max), nominal V
 *       k = trains of this cell since its polarity last changed (0 after a flip)
 *
 * Step estimate ŝ (conductance change per pulse, per cell and polarity). The
 * programmer starts from a prior s₀ — given in the config, or characterised
 * at init on 16 scratch cells of the same device (mx_wv_characterise):
 * programmed open-loop to a quarter (LTD: three quarters) of the window,
 * then pulsed in trains of 1, 2, 4, ... pulses until their mean conductance
 * has moved a tenth of the window; s₀ = that move / the pulses it took (true
 * conductances: a bench characterisation averages its reads). After each
 * train the next verify read gives the cell's own response Δ = d·(g_read −
 * g_read,prev) to its n pulses, and
 *   Δ > 3σ_Δ                    → ŝ ← clamp(Δ/n, ŝ/4, 4ŝ)   (secant update)
 *   |Δ| ≤ 3σ_Δ and n·ŝ > 6σ_Δ   → ŝ ← ŝ/2   (a move expected to show was lost
 *                                 in the read noise: the cell responds far
 *                                 less than believed, e.g. near a soft bound)
 *   otherwise                   → ŝ kept    (a move against the pulses is
 *                                 cycle-to-cycle noise, not a response)
 * σ_Δ = read_noise_sigma·sqrt(g_read² + g_read,prev²) is the noise of the
 * difference of two relative-noise reads (0 without read noise: then every
 * positive move updates ŝ). gain < 1 aims short of the target: an overshoot
 * costs a polarity reversal (wear, and for ISPP a restarted ramp), and on
 * curves that steepen toward the target (1/R near R_ON) a full step
 * overshoots; measured, gain 0.7 needs fewer pulses than 1 on every model
 * (doc-writeverify.md). One programmer thus works across devices whose
 * pulse moves the cell by 10⁻⁴ of the window (VTEAM at its threshold) or by
 * a coin flip (binary), with no per-model code. A pulse that moves a cell by
 * more than the tolerance band cannot land it inside: choose finer pulses
 * (mx_wv_characterise tells the step) or an incremental schedule.
 *
 * Choices, and why:
 * - The verify read is the device's own read (read noise included): a cell
 *   is retired on what the programmer sees, so with read noise some retired
 *   cells are off by more than the tolerance. The reported residual error is
 *   the true conductance minus the target.
 * - max_iterations bounds the pulse TRAINS of a cell; each train is followed
 *   by a verify read, so a cell gets at most max_iterations + 1 reads, and
 *   the last train's effect is always verified.
 * - A round retires a cell for good: no re-verification of converged cells
 *   (relaxation and drift are the device's `age`, outside this loop).
 * - Models whose pulse ignores amplitude (mx_device_type.amplitude_aware ==
 *   0: nonlinear, step, measured) also ignore width; on them both
 *   incremental schedules act as `fixed` on the conductance, while the
 *   sent amplitude and width still set time and energy.
 * - Time. Rows of 1T1R arrays are programmed one cell at a time (one write
 *   driver and one verify sense path per selected cell; Alibart 2012 tunes
 *   devices one by one): time_serial_s = Σ over cells of reads·t_read +
 *   Σ trains n·t_pulse is the programming time reported. Gaps between pulses
 *   and driver settling are not counted. time_parallel_s, Σ over rounds of the
 *   round's longest (t_read + train), is the bound for a programmer that
 *   drives every cell at once.
 * - Energy. A train of n pulses of amplitude V and width t costs
 *   n·|V·I(V, Ḡ)|·t with Ḡ the mean of the cell's true conductance before
 *   and after the train and I the device's I–V form (mx_device_current:
 *   V²·Ḡ·t for linear cells); a verify read |V_r·I(V_r, G)|·t_read
 *   (iv.v_read_v, read_time_s; as energy/) plus verify_energy_j for the
 *   sense circuit. Drivers, selectors and wires are not counted.
 * - Streams are keyed by (seed, name, item = cell index·2²⁰ + round), and
 *   each device call takes one cell, so every cell's draws are its own and
 *   any thread count gives the same bits. Totals are summed in cell order.
 */
#include "devices/write_verify.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define WV_ROUND_BITS 20
#define WV_PROBE_CELLS 16
/* The probe's start (fraction of the window above g_min) per polarity, and
 * the mean move (fraction of the window) that ends it. */
#define WV_PROBE_START_LTP 0.25
#define WV_PROBE_START_LTD 0.75
#define WV_PROBE_MOVE 0.1
/* Largest probe train, pulses (mx_pulse.count is an int32). */
#define WV_PROBE_MAX_TRAIN (1 << 30)
/* Secant updates move the estimate by at most this factor per train. */
#define WV_STEP_UPDATE_MAX 4.0
/* A change of the read is significant beyond this many σ of read noise. */
#define WV_SIGNIFICANT_SIGMA 3.0
/* A train expected to move the read by this many significance thresholds
 * that was lost in the read noise halves the step estimate. */
#define WV_EXPECTED_SIGMAS 2.0
/* Defaults of the incremental schedules, multiples of the nominal pulse. */
#define WV_V_START_NOMINAL 0.8
#define WV_V_STEP_NOMINAL 0.05
#define WV_V_MAX_NOMINAL 1.5
#define WV_W_START_NOMINAL 0.5
#define WV_W_STEP_NOMINAL 0.25
#define WV_W_MAX_NOMINAL 10.0
#define WV_DEFAULT_TOLERANCE 0.01
#define WV_DEFAULT_MAX_ITERATIONS 20
/* Default cap of a train (max_pulses_per_iteration 0): the pulses that cross
 * the whole window this many times at the characterised nominal step. The
 * step estimate halves whenever a train's change is lost in the read noise,
 * so a cell that does not move (stuck, or pinned at a bound) asked for ever
 * longer trains: before this cap a stuck cell took up to 10^6 pulses per
 * train, and 3 % stuck cells made write-verify cost 10^5 pulses per cell. */
#define WV_DEFAULT_WINDOW_CROSSINGS 2.0
#define WV_DEFAULT_GAIN 0.7
/* OpenMP chunk of cells: dynamic models cost one ODE solve per cell. */
#define WV_CHUNK 8

/* The programmer's memory of one cell. */
typedef struct wv_state {
    double step_s[2];   /* ŝ per pulse, S: [0] potentiating, [1] depressing */
    double last_read_s; /* the verify read before the last train */
    int32_t last_count; /* signed pulses of the last train; 0 = none yet */
    int32_t ramp;       /* trains since the polarity last changed */
    double e_read_j;    /* its verify-read energy, J */
    double e_pulse_j;   /* its pulse energy, J */
} wv_state;

struct mx_wv {
    mx_wv_config cfg;
    const mx_device_type *type;
    const mx_device_params *p;
    float *cells; /* borrowed */
    float *g_s;   /* borrowed */
    size_t n;
    uint64_t seed;
    uint32_t stream_read, stream_pulse;
    double window_s;
    double prior_frac[2];
    int32_t max_count[2]; /* cap of a train's pulses: [0] potentiating, [1] depressing */
    float *target_s;   /* (n) */
    mx_wv_cell *rep;   /* (n) */
    wv_state *st;      /* (n) */
    mx_pulse *last;    /* (n) */
    double *round_s;   /* (n) this round's read + train time per cell */
    int rounds;
    double time_parallel_s;
};

void mx_wv_config_default(mx_wv_config *c)
{
    *c = (mx_wv_config){
        .tolerance = WV_DEFAULT_TOLERANCE,
        .max_iterations = WV_DEFAULT_MAX_ITERATIONS,
        .schedule = MX_WV_FIXED,
        .pulses_per_iteration = 0,
        .max_pulses_per_iteration = 0,
        .gain = WV_DEFAULT_GAIN,
        .step_ltp_frac = 0.0,
        .step_ltd_frac = 0.0,
        .v_start_v = 0.0,
        .v_step_v = 0.0,
        .v_max_v = 0.0,
        .width_start_s = 0.0,
        .width_step_s = 0.0,
        .width_max_s = 0.0,
        .verify_energy_j = 0.0,
    };
}

static int finite_nonneg(double x) { return isfinite(x) && x >= 0.0; }

mx_status mx_wv_config_validate(const mx_wv_config *c)
{
    if (!(isfinite(c->tolerance) && c->tolerance > 0.0 && c->tolerance < 1.0))
        return mx_fail(MX_EINVAL,
                       "write_verify.tolerance: expected a fraction of the window in (0, 1), "
                       "got %g",
                       c->tolerance);
    if (c->max_iterations < 1 || c->max_iterations > MX_WV_MAX_ITERATIONS)
        return mx_fail(MX_EINVAL,
                       "write_verify.max_iterations: expected a train count in 1..%d, got %d",
                       MX_WV_MAX_ITERATIONS, c->max_iterations);
    if (c->schedule != MX_WV_FIXED && c->schedule != MX_WV_INCREMENTAL_AMPLITUDE &&
        c->schedule != MX_WV_INCREMENTAL_WIDTH)
        return mx_fail(MX_EINVAL,
                       "write_verify.schedule: expected fixed, incremental-amplitude or "
                       "incremental-width, got %d",
                       (int)c->schedule);
    if (c->max_pulses_per_iteration < 0)
        return mx_fail(MX_EINVAL,
                       "write_verify.max_pulses_per_iteration: expected a pulse count >= 1, or "
                       "0 for the window crossed twice at the nominal step, got %d",
                       c->max_pulses_per_iteration);
    if (!(isfinite(c->gain) && c->gain > 0.0 && c->gain <= 1.0))
        return mx_fail(MX_EINVAL,
                       "write_verify.gain: expected a fraction of the estimated pulse count in "
                       "(0, 1], got %g",
                       c->gain);
    if (c->pulses_per_iteration < 0)
        return mx_fail(MX_EINVAL,
                       "write_verify.pulses_per_iteration: expected 0 (estimated from the "
                       "error) or a pulse count >= 1, got %d",
                       c->pulses_per_iteration);
    const struct {
        const char *name;
        double value;
    } fracs[] = {{"step_ltp_frac", c->step_ltp_frac}, {"step_ltd_frac", c->step_ltd_frac}};
    for (size_t i = 0; i < 2; i++)
        if (!(finite_nonneg(fracs[i].value) && fracs[i].value <= 1.0))
            return mx_fail(MX_EINVAL,
                           "write_verify.%s: expected 0 (characterise) or a fraction of the "
                           "window in (0, 1], got %g",
                           fracs[i].name, fracs[i].value);
    const struct {
        const char *name;
        double value;
        const char *unit;
    } sched[] = {
        {"v_start_v", c->v_start_v, "a voltage >= 0 V"},
        {"v_step_v", c->v_step_v, "a voltage >= 0 V"},
        {"v_max_v", c->v_max_v, "a voltage >= 0 V"},
        {"width_start_s", c->width_start_s, "a time >= 0 s"},
        {"width_step_s", c->width_step_s, "a time >= 0 s"},
        {"width_max_s", c->width_max_s, "a time >= 0 s"},
        {"verify_energy_j", c->verify_energy_j, "an energy >= 0 J"},
    };
    for (size_t i = 0; i < sizeof sched / sizeof sched[0]; i++)
        if (!finite_nonneg(sched[i].value))
            return mx_fail(MX_EINVAL, "write_verify.%s: expected %s (0 = derived from the "
                                      "nominal pulse where one is), got %g",
                           sched[i].name, sched[i].unit, sched[i].value);
    if (c->v_max_v > 0.0 && c->v_max_v < c->v_start_v)
        return mx_fail(MX_EINVAL,
                       "write_verify.v_max_v: expected 0 or at least v_start_v (%g V), got %g",
                       c->v_start_v, c->v_max_v);
    if (c->width_max_s > 0.0 && c->width_max_s < c->width_start_s)
        return mx_fail(MX_EINVAL,
                       "write_verify.width_max_s: expected 0 or at least width_start_s (%g s), "
                       "got %g",
                       c->width_start_s, c->width_max_s);
    return MX_OK;
}

/* The checks mx_wv_init and mx_wv_program_open_loop share. */
static mx_status check_device(const mx_device_type *type, const mx_device_params *p,
                              const float *cells, const float *g_s, const float *g_target_s,
                              size_t n)
{
    if (!type || !p)
        return mx_fail(MX_EINVAL, "write_verify: expected a device type and its parameters");
    mx_status st = type->validate(p);
    if (st != MX_OK)
        return st;
    if (n == 0)
        return mx_fail(MX_EINVAL, "write_verify: expected at least one cell, got 0");
    if (n >> (64 - WV_ROUND_BITS))
        return mx_fail(MX_EINVAL, "write_verify: expected fewer than 2^44 cells, got %zu", n);
    if (!g_s || !g_target_s)
        return mx_fail(MX_EINVAL, "write_verify: expected conductance and target arrays");
    if ((type->cell_floats > 0) != (cells != NULL))
        return mx_fail(MX_EINVAL,
                       "write_verify: expected a cell record array iff the '%s' model keeps "
                       "records (%zu floats per cell)",
                       type->name, type->cell_floats);
    return MX_OK;
}

/* Energy of a train of |count| pulses of amplitude v_v and width w_s
 * through a cell of mean conductance g_s, J. */
static double train_energy_j(const mx_device_params *p, double g_s, double v_v, double w_s,
                             int32_t count)
{
    return fabs((double)count) * fabs(v_v * mx_device_current(p, g_s, v_v)) * w_s;
}

static double read_energy_j(const mx_device_params *p, double g_s)
{
    const double vr = p->iv.v_read_v;
    return fabs(vr * mx_device_current(p, g_s, vr)) * p->read_time_s;
}

/* ---- the prior: characterisation on scratch cells ---------------------- */

static double probe_mean(const float *g, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)g[i];
    return s / (double)n;
}

/* The mean move per nominal pulse of polarity d (+1/−1) of WV_PROBE_CELLS
 * fresh cells, as a fraction of the window (> 0). */
static mx_status probe_step(const mx_device_type *type, const mx_device_params *p, uint64_t seed,
                            int d, double *frac)
{
    const size_t m = WV_PROBE_CELLS;
    const size_t cf = type->cell_floats;
    float *cells = cf ? mx_alloc(m * cf * sizeof *cells) : NULL;
    float g[WV_PROBE_CELLS], target[WV_PROBE_CELLS];
    mx_pulse pulses[WV_PROBE_CELLS];
    if (cf && !cells)
        return mx_fail(MX_ENOMEM, "write_verify: out of memory for the probe cells");
    const double w = p->g_max_s - p->g_min_s;
    for (size_t i = 0; i < m; i++)
        target[i] = (float)(p->g_min_s + w * (d > 0 ? WV_PROBE_START_LTP : WV_PROBE_START_LTD));
    mx_rng rng;
    mx_rng_init_named(&rng, seed, "write_verify.probe", d > 0 ? 0u : 1u);
    if (cf)
        type->populate(p, cells, m, &rng);
    type->program(p, cells, target, g, m, &rng);
    const double g0 = probe_mean(g, m);
    double total = 0.0, move = 0.0;
    for (int32_t train = 1;; train *= 2) {
        for (size_t i = 0; i < m; i++)
            pulses[i] = (mx_pulse){.count = d * train, .amplitude_v = 0.0f, .width_s = 0.0f};
        type->pulse(p, cells, g, pulses, m, &rng);
        total += (double)train;
        move = (double)d * (probe_mean(g, m) - g0) / w;
        if (move >= WV_PROBE_MOVE || train >= WV_PROBE_MAX_TRAIN)
            break;
    }
    mx_free(cells);
    /* A device that did not move at all: the smallest prior, so the
     * estimated count starts at its cap. */
    *frac = move > 0.0 ? move / total : 1.0 / (2.0 * total);
    return MX_OK;
}

mx_status mx_wv_characterise(const mx_device_type *type, const mx_device_params *p,
                             uint64_t seed, double *ltp_frac, double *ltd_frac)
{
    if (!type || !p)
        return mx_fail(MX_EINVAL, "write_verify: expected a device type and its parameters");
    if (!type->pulse)
        return mx_fail(MX_EINVAL,
                       "write_verify: the '%s' device model has no pulse response; "
                       "write-verify needs a pulse-level model",
                       type->name);
    mx_status st = type->validate(p);
    if (st != MX_OK)
        return st;
    double up = 0.0, down = 0.0;
    st = probe_step(type, p, seed, 1, &up);
    if (st == MX_OK)
        st = probe_step(type, p, seed, -1, &down);
    if (st != MX_OK)
        return st;
    if (ltp_frac)
        *ltp_frac = up;
    if (ltd_frac)
        *ltd_frac = down;
    return MX_OK;
}

/* ---- init and reports --------------------------------------------------- */

mx_status mx_wv_init(const mx_wv_config *cfg, const mx_device_type *type,
                     const mx_device_params *p, float *cells, float *g_s,
                     const float *g_target_s, size_t n, uint64_t seed, mx_wv **out)
{
    *out = NULL;
    mx_status st = mx_wv_config_validate(cfg);
    if (st != MX_OK)
        return st;
    if (type && !type->pulse)
        return mx_fail(MX_EINVAL,
                       "write_verify: the '%s' device model has no pulse response; "
                       "write-verify needs a pulse-level model",
                       type->name);
    st = check_device(type, p, cells, g_s, g_target_s, n);
    if (st != MX_OK)
        return st;
    for (size_t i = 0; i < n; i++)
        if (!(isfinite(g_target_s[i]) && g_target_s[i] >= 0.0f))
            return mx_fail(MX_EINVAL,
                           "write_verify: target[%zu]: expected a conductance >= 0 S, got %g", i,
                           (double)g_target_s[i]);
    mx_wv *wv = mx_calloc(1, sizeof *wv);
    if (!wv)
        return mx_fail(MX_ENOMEM, "write_verify: out of memory");
    wv->cfg = *cfg;
    wv->type = type;
    wv->p = p;
    wv->cells = cells;
    wv->g_s = g_s;
    wv->n = n;
    wv->seed = seed;
    wv->stream_read = mx_stream_id("write_verify.read");
    wv->stream_pulse = mx_stream_id("write_verify.pulse");
    wv->window_s = p->g_max_s - p->g_min_s;
    wv->target_s = mx_alloc(n * sizeof *wv->target_s);
    wv->rep = mx_calloc(n, sizeof *wv->rep);
    wv->st = mx_calloc(n, sizeof *wv->st);
    wv->last = mx_calloc(n, sizeof *wv->last);
    wv->round_s = mx_calloc(n, sizeof *wv->round_s);
    if (!wv->target_s || !wv->rep || !wv->st || !wv->last || !wv->round_s) {
        mx_wv_destroy(wv);
        return mx_fail(MX_ENOMEM, "write_verify: out of memory for %zu cells", n);
    }
    wv->prior_frac[0] = cfg->step_ltp_frac;
    wv->prior_frac[1] = cfg->step_ltd_frac;
    for (int k = 0; k < 2; k++) {
        if (wv->prior_frac[k] > 0.0)
            continue;
        st = probe_step(type, p, seed, k == 0 ? 1 : -1, &wv->prior_frac[k]);
        if (st != MX_OK) {
            mx_wv_destroy(wv);
            return st;
        }
    }
    for (int k = 0; k < 2; k++) {
        const double crossing = ceil(WV_DEFAULT_WINDOW_CROSSINGS / wv->prior_frac[k]);
        wv->max_count[k] = cfg->max_pulses_per_iteration > 0 ? cfg->max_pulses_per_iteration
                           : crossing < (double)INT32_MAX ? (int32_t)crossing
                                                          : INT32_MAX;
    }
    memcpy(wv->target_s, g_target_s, n * sizeof *wv->target_s);
    for (size_t i = 0; i < n; i++) {
        wv->st[i] = (wv_state){.step_s = {wv->prior_frac[0] * wv->window_s,
                                          wv->prior_frac[1] * wv->window_s}};
        wv->rep[i].active = 1;
        wv->rep[i].error_s = g_s[i] - wv->target_s[i];
    }
    *out = wv;
    return MX_OK;
}

void mx_wv_destroy(mx_wv *wv)
{
    if (!wv)
        return;
    mx_free(wv->target_s);
    mx_free(wv->rep);
    mx_free(wv->st);
    mx_free(wv->last);
    mx_free(wv->round_s);
    mx_free(wv);
}

/* ---- one round ------------------------------------------------------- */

static double clampd(double x, double lo, double hi) { return x < lo ? lo : (x > hi ? hi : x); }

/* The amplitude and width of train k (0-based since the last polarity
 * change) of polarity d, from the schedule and the nominal pulse. */
static void schedule_pulse(const mx_wv *wv, int d, int32_t k, double *v_v, double *w_s)
{
    const mx_pulse_params *nom = &wv->p->pulse;
    const double v_nom = d > 0 ? nom->v_ltp_v : nom->v_ltd_v;
    const double w_nom = d > 0 ? nom->width_ltp_s : nom->width_ltd_s;
    const mx_wv_config *c = &wv->cfg;
    *v_v = v_nom;
    *w_s = w_nom;
    if (c->schedule == MX_WV_INCREMENTAL_AMPLITUDE) {
        double start = c->v_start_v > 0.0 ? c->v_start_v : WV_V_START_NOMINAL * v_nom;
        double step = c->v_step_v > 0.0 ? c->v_step_v : WV_V_STEP_NOMINAL * v_nom;
        double top = c->v_max_v > 0.0 ? c->v_max_v : WV_V_MAX_NOMINAL * v_nom;
        *v_v = fmin(start + (double)k * step, fmax(top, start));
    } else if (c->schedule == MX_WV_INCREMENTAL_WIDTH) {
        double start = c->width_start_s > 0.0 ? c->width_start_s : WV_W_START_NOMINAL * w_nom;
        double step = c->width_step_s > 0.0 ? c->width_step_s : WV_W_STEP_NOMINAL * w_nom;
        double top = c->width_max_s > 0.0 ? c->width_max_s : WV_W_MAX_NOMINAL * w_nom;
        *w_s = fmin(start + (double)k * step, fmax(top, start));
    }
}

/* Learn from the read that followed the last train (see the file comment). */
static void update_step(const mx_wv *wv, wv_state *s, double g_read)
{
    if (s->last_count == 0)
        return;
    const int d = s->last_count > 0 ? 1 : -1;
    const double n = fabs((double)s->last_count);
    double *step = &s->step_s[d > 0 ? 0 : 1];
    const double delta = (double)d * (g_read - s->last_read_s);
    const double sigma = wv->p->read_noise_sigma *
                         sqrt(g_read * g_read + s->last_read_s * s->last_read_s);
    const double significant = WV_SIGNIFICANT_SIGMA * sigma;
    if (delta > significant)
        *step = clampd(delta / n, *step / WV_STEP_UPDATE_MAX, *step * WV_STEP_UPDATE_MAX);
    else if (fabs(delta) <= significant && n * *step > WV_EXPECTED_SIGMAS * significant)
        *step *= 0.5;
}

static void cell_round(mx_wv *wv, size_t i, uint64_t item)
{
    const mx_device_type *type = wv->type;
    const mx_device_params *p = wv->p;
    const mx_wv_config *c = &wv->cfg;
    mx_wv_cell *r = &wv->rep[i];
    wv_state *s = &wv->st[i];
    float *rec = wv->cells ? wv->cells + i * type->cell_floats : NULL;
    float *g = &wv->g_s[i];
    wv->last[i] = (mx_pulse){0};
    wv->round_s[i] = 0.0;
    if (!r->active)
        return;

    /* Verify. */
    mx_rng rng;
    mx_rng_init(&rng, wv->seed, wv->stream_read, item);
    float g_read_f;
    type->read(p, g, &g_read_f, 1, &rng);
    const double g_read = (double)g_read_f;
    r->reads++;
    s->e_read_j += read_energy_j(p, (double)*g) + c->verify_energy_j;
    double dt = p->read_time_s;
    update_step(wv, s, g_read);

    const double target = (double)wv->target_s[i];
    const double err = target - g_read;
    if (fabs(err) <= c->tolerance * wv->window_s) {
        r->converged = 1;
        r->active = 0;
    } else if (r->trains >= c->max_iterations) {
        r->active = 0;
    } else {
        const int d = err > 0.0 ? 1 : -1;
        const int32_t last_d = s->last_count > 0 ? 1 : (s->last_count < 0 ? -1 : 0);
        s->ramp = last_d == d ? s->ramp + 1 : 0;
        int32_t count;
        if (c->pulses_per_iteration > 0) {
            count = c->pulses_per_iteration;
        } else {
            double want = nearbyint(c->gain * fabs(err) / s->step_s[d > 0 ? 0 : 1]);
            count = (int32_t)clampd(want, 1.0, (double)wv->max_count[d > 0 ? 0 : 1]);
        }
        double v_v, w_s;
        schedule_pulse(wv, d, s->ramp, &v_v, &w_s);
        mx_pulse pulse = {.count = d * count, .amplitude_v = (float)v_v, .width_s = (float)w_s};
        /* The train as sent, in the float the device sees. */
        v_v = (double)pulse.amplitude_v;
        w_s = (double)pulse.width_s;
        const double g_before = (double)*g;
        mx_rng_init(&rng, wv->seed, wv->stream_pulse, item);
        type->pulse(p, rec, g, &pulse, 1, &rng);
        s->e_pulse_j += train_energy_j(p, 0.5 * (g_before + (double)*g), v_v, w_s, count);
        dt += (double)count * w_s;
        r->pulses += count;
        r->trains++;
        s->last_read_s = g_read;
        s->last_count = pulse.count;
        wv->last[i] = pulse;
    }
    r->time_s += dt;
    r->energy_j = s->e_read_j + s->e_pulse_j;
    r->error_s = (float)((double)*g - target);
    wv->round_s[i] = dt;
}

size_t mx_wv_iterate(mx_wv *wv)
{
    const size_t active = mx_wv_active(wv);
    if (active == 0)
        return 0;
    const uint64_t round = (uint64_t)wv->rounds;
    assert(round < ((uint64_t)1 << WV_ROUND_BITS));
    const long long n = (long long)wv->n;
#pragma omp parallel for schedule(dynamic, WV_CHUNK)
    for (long long i = 0; i < n; i++)
        cell_round(wv, (size_t)i, ((uint64_t)i << WV_ROUND_BITS) | round);
    double longest = 0.0;
    for (size_t i = 0; i < wv->n; i++)
        longest = fmax(longest, wv->round_s[i]);
    wv->time_parallel_s += longest;
    wv->rounds++;
    return mx_wv_active(wv);
}

size_t mx_wv_run(mx_wv *wv, mx_wv_totals *totals)
{
    while (mx_wv_iterate(wv) > 0) {
    }
    if (totals)
        mx_wv_get_totals(wv, totals);
    return mx_wv_converged(wv);
}

size_t mx_wv_converged(const mx_wv *wv)
{
    size_t k = 0;
    for (size_t i = 0; i < wv->n; i++)
        k += wv->rep[i].converged != 0;
    return k;
}

size_t mx_wv_active(const mx_wv *wv)
{
    size_t k = 0;
    for (size_t i = 0; i < wv->n; i++)
        k += wv->rep[i].active != 0;
    return k;
}

const mx_wv_cell *mx_wv_cells(const mx_wv *wv) { return wv->rep; }

const mx_pulse *mx_wv_last_pulses(const mx_wv *wv) { return wv->last; }

void mx_wv_step_priors(const mx_wv *wv, double *ltp_frac, double *ltd_frac)
{
    if (ltp_frac)
        *ltp_frac = wv->prior_frac[0];
    if (ltd_frac)
        *ltd_frac = wv->prior_frac[1];
}

void mx_wv_get_totals(const mx_wv *wv, mx_wv_totals *t)
{
    *t = (mx_wv_totals){.cells = wv->n, .rounds = wv->rounds,
                        .time_parallel_s = wv->time_parallel_s};
    double ss = 0.0, worst = 0.0;
    for (size_t i = 0; i < wv->n; i++) {
        const mx_wv_cell *r = &wv->rep[i];
        t->converged += r->converged != 0;
        t->active += r->active != 0;
        t->pulses += r->pulses;
        t->trains += r->trains;
        t->reads += r->reads;
        t->time_serial_s += r->time_s;
        t->energy_read_j += wv->st[i].e_read_j;
        t->energy_pulse_j += wv->st[i].e_pulse_j;
        double e = ((double)wv->g_s[i] - (double)wv->target_s[i]) / wv->window_s;
        ss += e * e;
        worst = fmax(worst, fabs(e));
    }
    t->rms_error_frac = sqrt(ss / (double)wv->n);
    t->max_error_frac = worst;
}

/* ---- distributions ---------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Quantiles of v[0..n) (sorted here), numpy's default (linear) rule. */
static void quantiles(double *v, size_t n, const double *q, size_t n_q, double *out)
{
    qsort(v, n, sizeof *v, cmp_double);
    for (size_t k = 0; k < n_q; k++) {
        double h = q[k] * (double)(n - 1);
        size_t lo = (size_t)floor(h);
        if (lo >= n - 1) {
            out[k] = v[n - 1];
            continue;
        }
        out[k] = v[lo] + (h - (double)lo) * (v[lo + 1] - v[lo]);
    }
}

static mx_status check_q(const double *q, size_t n_q)
{
    for (size_t k = 0; k < n_q; k++)
        if (!(q[k] >= 0.0 && q[k] <= 1.0))
            return mx_fail(MX_EINVAL, "write_verify: quantile q[%zu]: expected a probability "
                                      "in [0, 1], got %g",
                           k, q[k]);
    return MX_OK;
}

/* Quantiles q of one per-cell value: the final |error| as a fraction of the
 * window (pulses 0) or the pulses sent (pulses 1). */
static mx_status cell_quantiles(const mx_wv *wv, int pulses, const double *q, size_t n_q,
                                double *out)
{
    mx_status st = check_q(q, n_q);
    if (st != MX_OK)
        return st;
    double *v = mx_alloc(wv->n * sizeof *v);
    if (!v)
        return mx_fail(MX_ENOMEM, "write_verify: out of memory for the %s quantiles",
                       pulses ? "pulse" : "error");
    for (size_t i = 0; i < wv->n; i++)
        v[i] = pulses ? (double)wv->rep[i].pulses
                      : fabs((double)wv->g_s[i] - (double)wv->target_s[i]) / wv->window_s;
    quantiles(v, wv->n, q, n_q, out);
    mx_free(v);
    return MX_OK;
}

mx_status mx_wv_error_quantiles(const mx_wv *wv, const double *q, size_t n_q, double *out)
{
    return cell_quantiles(wv, 0, q, n_q, out);
}

mx_status mx_wv_pulse_quantiles(const mx_wv *wv, const double *q, size_t n_q, double *out)
{
    return cell_quantiles(wv, 1, q, n_q, out);
}

/* ---- the open-loop start ---------------------------------------------- */

mx_status mx_wv_program_open_loop(const mx_device_type *type, const mx_device_params *p,
                                  float *cells, float *g_s, const float *g_target_s, size_t n,
                                  uint64_t seed)
{
    mx_status st = check_device(type, p, cells, g_s, g_target_s, n);
    if (st != MX_OK)
        return st;
    const uint32_t s_pop = mx_stream_id("write_verify.populate");
    const uint32_t s_prog = mx_stream_id("write_verify.open_loop");
    const size_t cf = type->cell_floats;
    const long long m = (long long)n;
#pragma omp parallel for schedule(dynamic, WV_CHUNK)
    for (long long i = 0; i < m; i++) {
        float *rec = cf ? cells + (size_t)i * cf : NULL;
        mx_rng rng;
        if (cf) {
            mx_rng_init(&rng, seed, s_pop, (uint64_t)i);
            type->populate(p, rec, 1, &rng);
        }
        mx_rng_init(&rng, seed, s_prog, (uint64_t)i);
        type->program(p, rec, g_target_s + i, g_s + i, 1, &rng);
    }
    return MX_OK;
}
