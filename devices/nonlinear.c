/* SPDX-License-Identifier: MIT
 *
 * nonlinear.c: the NeuroSim nonlinear exponential pulse-update cell
 * (MLP+NeuroSim V3.0 `Cell.cpp` RealDevice and `formula.cpp`, manual §5 and
 * eq. 8.1–8.3; anchors-crossbar.md §2.1, paper-tables.md §7.3). A cell sits
 * at pulse coordinate P ∈ [0, P_max] on an exponential curve
 *
 *     G(P) = B·(1 − e^(−P/A)) + G_min,   B = (G_max − G_min)/(1 − e^(−P_max/A)),
 *
 * so G(0) = G_min and G(P_max) = G_max. A train of n > 0 identical pulses
 * inverts the present G to P on the potentiation (LTP) curve, moves to
 * P + n and maps back; n < 0 does the same on the depression (LTD) curve,
 * moving to P − |n|. LTP and LTD have their own P_max (states_ltp/_ltd) and
 * their own A, and A comes from a "nonlinearity label" NL (the number the
 * NeuroSim device tables quote) as A = A_norm(NL)·P_max.
 *
 * LTD convention. NeuroSim's code applies this one form to both directions
 * with a signed A per direction (`NonlinearWeight(xPulse + numPulse, ...,
 * paramALTD, ...)`, numPulse < 0); the published labels — Ag:a-Si 2.4/−4.88,
 * fitted by the `nonlinear_fit.m` of the same release with A_LTD < 0 — are
 * in that convention. The manual writes LTD mirrored,
 * G(P) = −B'(1 − e^((P − P_max)/A')) + G_max; that is the same curve with
 * A' = −A (normalised: 1 − g(1 − x; a') = g(x; −a')). So a negative LTD
 * label is the usual saturating depression (large steps just below G_max),
 * and a positive one depresses in small steps first. This file uses the code
 * form, which reproduces the published devices; the tests check both forms.
 *
 * Label → A. The table `Nonlinearity-NormA.htm` (labels 0.01..9) is not
 * copied: A_norm is solved by GSL's Brent root finder from the definition
 * that reproduces it. With g(x; a) = (1 − e^(−x/a))/(1 − e^(−1/a)) on
 * x, y ∈ [0, 1], the largest vertical gap between the curve and the line
 * y = x is
 *
 *     D(a) = 1/c − a + a·ln(a·c),   c = 1 − e^(−1/a)
 *
 * (at x* = −a·ln(a·c), where g' = 1), and the label is defined by
 * D(a) = κ·|NL| with κ = 0.07·√2: the largest perpendicular distance between
 * the normalised curve and the diagonal is 0.07·|NL|. This reproduces every
 * published pair (0.01 → 126.268958 and 0.02 → 63.134314 to 6e-10, 9 →
 * 0.022810 to 1e-6, relative); the value of the curve at x = 0.5 does not
 * (its ratio to NL falls from 0.0989 at NL 0.5 to 0.0556 at NL 9). D is even
 * in a, and the sign of A is the sign of the label. Root finding runs on
 * ln a ∈ [ln 1e-3, ln 1e3], where D falls monotonically from 0.992 to
 * 1.25e-4, bracketing κ·[0.01, 9] = [0.00099, 0.891].
 *
 * Choices, and why:
 * - Labels: 0 is linear (A = ∞); otherwise |NL| ∈ [0.01, 9], the range the
 *   definition was tabulated over. The D2D label of a cell is
 *   NL + d2d_nl_sigma·ξ with its sign kept and |NL| clipped into [0.01, 9];
 *   it is drawn in `populate` and its A stored in the cell record, solved per
 *   cell (one Brent solve per label; the nominal labels once per call).
 * - P is clamped to [0, P_max]: a train that would run past an end leaves the
 *   cell at that end (NeuroSim evaluates the formula past the end and clips
 *   G after adding the noise; near the ends the two differ only in how often
 *   the noise pulls the cell back inside).
 * - C2C: after a train of |n| pulses, G += N(0, c2c_sigma·(g_max − g_min))·√|n|
 *   (the nominal window, as NeuroSim's sigmaCtoC), then G is clipped to the
 *   cell's window. A train of 0 pulses does nothing and draws no noise.
 * - Levels: P_max is the number of states; the pulse count is an integer, so
 *   from a reset the reachable conductances are the curve at P = 0..P_max.
 *   `levels`, when non-zero, only quantises program targets
 *   (mx_device_quantise, as every model) before the pulse count is rounded.
 * - Pulse amplitude and width: the model is defined at its nominal pulse
 *   (p->pulse, the device's published V and width); non-nominal amplitude or
 *   width are ignored — the NeuroSim model has no law for them.
 * - Endurance: each time a train's polarity differs from the previous train's
 *   the cell counts half a switching cycle; the window then narrows
 *   symmetrically about its middle by mx_device_endurance_window (cell.c),
 *   and the curve is stretched over the narrowed window (P_max unchanged).
 *   The reversal count is kept exactly as two floats (low 20 bits, high part).
 * - Stuck-at faults are drawn in `populate`; a stuck cell reads g_min or g_max
 *   whatever pulses it receives, and its bounds are that value.
 * - program (open-loop): reset to the window's lower end (a saturating LTD
 *   train: exact, no noise), then the number of LTP pulses the NOMINAL curve
 *   (nominal NL, no D2D, nominal window) needs from g_min to the quantised
 *   target, rounded to the nearest integer, applied through the cell's own
 *   curve with C2C noise.
 * - d2d_sigma and prog_noise are rejected when non-zero: this model draws its
 *   own variations (d2d_nl_sigma, c2c_sigma), and a config must not believe
 *   it set one the model does not draw (as pcm.c).
 *
 * Draws: every cell spends exactly one Philox block in each of populate
 * (word 0: fault uniform; words 1–2: Box–Muller pair, cos = LTP label
 * normal, sin = LTD label normal), program and pulse (words 0–1: Box–Muller,
 * cos = C2C normal), whatever the parameters, so streams stay aligned.
 */
#include "devices/nonlinear.h"
#include "devices/cell_internal.h"

#include <assert.h>
#include <math.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_math.h>
#include <gsl/gsl_roots.h>

#include "devices/devices.h"

/* Brent bracket in ln a, and its stopping rule. */
#define NL_LN_A_LO (-6.907755278982137) /* ln 1e-3 */
#define NL_LN_A_HI (6.907755278982137)  /* ln 1e3 */
#define NL_ROOT_ABS_TOL 1e-14 /* on ln a: relative 1e-14 on a */
#define NL_ROOT_MAX_ITER 200
#define NL_STATES_MAX 1000000
/* The cell record (nonlinear.h). */
#define REC_A_LTP MX_NONLINEAR_REC_A_LTP
#define REC_A_LTD MX_NONLINEAR_REC_A_LTD
#define REC_REV_LO MX_NONLINEAR_REC_REV_LO
#define REC_REV_HI MX_NONLINEAR_REC_REV_HI
#define REC_POLARITY MX_NONLINEAR_REC_POLARITY
#define REC_STUCK MX_NONLINEAR_REC_STUCK
#define REC_FLOATS MX_NONLINEAR_REC_FLOATS
#define REV_SPLIT 1048576.0 /* 2^20: both parts stay exact integers in a float */

/* ---- closed forms ------------------------------------------------------- */

double mx_nonlinear_max_deviation(double a_norm)
{
    if (isinf(a_norm))
        return 0.0;
    const double a = fabs(a_norm);
    const double c = -expm1(-1.0 / a);
    return 1.0 / c - a + a * log(a * c);
}

double mx_nonlinear_curve(double x, double a_norm)
{
    if (isinf(a_norm))
        return x;
    if (a_norm < 0.0)
        return 1.0 - mx_nonlinear_curve(1.0 - x, -a_norm);
    return expm1(-x / a_norm) / expm1(-1.0 / a_norm);
}

double mx_nonlinear_curve_inverse(double y, double a_norm)
{
    y = clamp(y, 0.0, 1.0);
    if (isinf(a_norm))
        return y;
    if (a_norm < 0.0)
        return 1.0 - mx_nonlinear_curve_inverse(1.0 - y, -a_norm);
    /* y·(1 − e^(−1/a)) = 1 − e^(−x/a); at y = 1 with tiny a the argument of
     * log1p rounds to −1 and x to +∞: clamp. */
    return clamp(-a_norm * log1p(y * expm1(-1.0 / a_norm)), 0.0, 1.0);
}

double mx_nonlinear_conductance(double p_pulses, double p_max, double a_norm, double g_min_s,
                                double g_max_s)
{
    return g_min_s + (g_max_s - g_min_s) * mx_nonlinear_curve(p_pulses / p_max, a_norm);
}

double mx_nonlinear_pulses(double g_s, double p_max, double a_norm, double g_min_s,
                           double g_max_s)
{
    return p_max * mx_nonlinear_curve_inverse((g_s - g_min_s) / (g_max_s - g_min_s), a_norm);
}

/* ---- label → A (GSL Brent) --------------------------------------------- */

static double label_gap(double ln_a, void *target)
{
    return mx_nonlinear_max_deviation(exp(ln_a)) - *(const double *)target;
}

/* A_norm of a label with |NL| ∈ [0.01, 9] (checked by the caller), on a
 * solver the caller owns. The bracket always holds (see the file comment),
 * so GSL's error handler is never reached from here. */
static double solve_norm_a(gsl_root_fsolver *s, double nl)
{
    assert(fabs(nl) >= MX_NONLINEAR_NL_MIN && fabs(nl) <= MX_NONLINEAR_NL_MAX);
    double target = MX_NONLINEAR_KAPPA * fabs(nl);
    gsl_function f = {.function = label_gap, .params = &target};
    assert(label_gap(NL_LN_A_LO, &target) > 0.0 && label_gap(NL_LN_A_HI, &target) < 0.0);
    gsl_root_fsolver_set(s, &f, NL_LN_A_LO, NL_LN_A_HI);
    for (int it = 0; it < NL_ROOT_MAX_ITER; it++) {
        if (gsl_root_fsolver_iterate(s) != GSL_SUCCESS)
            break;
        if (gsl_root_test_interval(gsl_root_fsolver_x_lower(s), gsl_root_fsolver_x_upper(s),
                                   NL_ROOT_ABS_TOL, 0.0) == GSL_SUCCESS)
            break;
    }
    double a = exp(gsl_root_fsolver_root(s));
    return nl < 0.0 ? -a : a;
}

static int label_in_range(double nl)
{
    return isfinite(nl) &&
           (nl == 0.0 || (fabs(nl) >= MX_NONLINEAR_NL_MIN && fabs(nl) <= MX_NONLINEAR_NL_MAX));
}

mx_status mx_nonlinear_norm_a(double nl, const char *field, double *a_norm)
{
    if (!label_in_range(nl))
        return mx_fail(MX_EINVAL,
                       "%s: expected 0 (linear) or a nonlinearity label with |NL| in [%g, %g] "
                       "(the range of NeuroSim's label table), got %g",
                       field, MX_NONLINEAR_NL_MIN, MX_NONLINEAR_NL_MAX, nl);
    if (nl == 0.0) {
        *a_norm = INFINITY;
        return MX_OK;
    }
    gsl_root_fsolver *s = gsl_root_fsolver_alloc(gsl_root_fsolver_brent);
    if (!s)
        return mx_fail(MX_ENOMEM, "%s: GSL could not allocate its root solver", field);
    *a_norm = solve_norm_a(s, nl);
    gsl_root_fsolver_free(s);
    return MX_OK;
}

/* A_norm of a label on a solver that may be NULL (allocation failed with
 * GSL's error handler switched off): then the cell falls back to the
 * straight line, and the failure is recorded for mx_last_error(). */
static double norm_a_or_linear(gsl_root_fsolver *s, double nl)
{
    if (nl == 0.0)
        return INFINITY;
    if (!s) {
        (void)mx_fail(MX_ENOMEM, "hardware.device.nonlinear: GSL could not allocate its root "
                                 "solver; cells fall back to the linear curve");
        return INFINITY;
    }
    return solve_norm_a(s, nl);
}

/* ---- validation ------------------------------------------------------- */

static mx_status nonlinear_validate(const mx_device_params *p)
{
    mx_status st = mx_device_validate_cell(p);
    if (st != MX_OK)
        return st;
    if (p->d2d_sigma != 0.0)
        return mx_fail(MX_EINVAL,
                       "hardware.device.d2d_sigma: expected 0 for the nonlinear model (its "
                       "device-to-device variation is hardware.device.nonlinear.d2d_nl_sigma), "
                       "got %g",
                       p->d2d_sigma);
    for (int i = 0; i < MX_DEVICE_PROG_NOISE_ORDER; i++)
        if (p->prog_noise_coeffs[i] != 0.0)
            return mx_fail(MX_EINVAL,
                           "hardware.device.prog_noise[%d]: expected 0 for the nonlinear model "
                           "(its programming noise is hardware.device.nonlinear.c2c_sigma), "
                           "got %g",
                           i, p->prog_noise_coeffs[i]);
    const mx_nonlinear_params *q = &p->nonlinear;
    if (!label_in_range(q->nl_ltp))
        return mx_fail(MX_EINVAL,
                       "hardware.device.nonlinear.nl_ltp: expected 0 (linear) or |NL| in "
                       "[%g, %g] (the range of NeuroSim's label table), got %g",
                       MX_NONLINEAR_NL_MIN, MX_NONLINEAR_NL_MAX, q->nl_ltp);
    if (!label_in_range(q->nl_ltd))
        return mx_fail(MX_EINVAL,
                       "hardware.device.nonlinear.nl_ltd: expected 0 (linear) or |NL| in "
                       "[%g, %g] (the range of NeuroSim's label table), got %g",
                       MX_NONLINEAR_NL_MIN, MX_NONLINEAR_NL_MAX, q->nl_ltd);
    if (q->states_ltp < 1 || q->states_ltp > NL_STATES_MAX)
        return mx_fail(MX_EINVAL,
                       "hardware.device.nonlinear.states_ltp: expected a pulse count in 1..%d, "
                       "got %d",
                       NL_STATES_MAX, q->states_ltp);
    if (q->states_ltd < 1 || q->states_ltd > NL_STATES_MAX)
        return mx_fail(MX_EINVAL,
                       "hardware.device.nonlinear.states_ltd: expected a pulse count in 1..%d, "
                       "got %d",
                       NL_STATES_MAX, q->states_ltd);
    if (!finite_nonneg(q->c2c_sigma))
        return mx_fail(MX_EINVAL,
                       "hardware.device.nonlinear.c2c_sigma: expected a fraction of the window "
                       ">= 0, got %g",
                       q->c2c_sigma);
    if (!finite_nonneg(q->d2d_nl_sigma))
        return mx_fail(MX_EINVAL,
                       "hardware.device.nonlinear.d2d_nl_sigma: expected a number >= 0 (NL "
                       "units), got %g",
                       q->d2d_nl_sigma);
    return MX_OK;
}

/* ---- one cell ----------------------------------------------------------- */

static double cell_reversals(const float *rec)
{
    return (double)rec[REC_REV_HI] * REV_SPLIT + (double)rec[REC_REV_LO];
}

/* Count half a cycle when this train's polarity differs from the last one. */
static void note_polarity(float *rec, float sign)
{
    float last = rec[REC_POLARITY];
    if (last != 0.0f && last != sign) {
        double lo = (double)rec[REC_REV_LO] + 1.0;
        if (lo >= REV_SPLIT) {
            lo -= REV_SPLIT;
            rec[REC_REV_HI] += 1.0f;
        }
        rec[REC_REV_LO] = (float)lo;
    }
    rec[REC_POLARITY] = sign;
}

/* The cell's conductance window after its wear. */
static void cell_window(const mx_device_params *p, const float *rec, double *lo, double *hi)
{
    double f = mx_device_endurance_window(p, 0.5 * cell_reversals(rec));
    if (f >= 1.0) {
        *lo = p->g_min_s;
        *hi = p->g_max_s;
        return;
    }
    double mid = 0.5 * (p->g_min_s + p->g_max_s);
    double half = 0.5 * f * (p->g_max_s - p->g_min_s);
    *lo = mid - half;
    *hi = mid + half;
}

static double stuck_value(const mx_device_params *p, const float *rec)
{
    return rec[REC_STUCK] == 1.0f ? p->g_min_s : p->g_max_s;
}

/* Apply a train of n pulses to a healthy cell at g; xi is its C2C normal. */
static double apply_train(const mx_device_params *p, float *rec, double g, int32_t n, double xi)
{
    if (n == 0)
        return g;
    const int up = n > 0;
    note_polarity(rec, up ? 1.0f : -1.0f);
    double lo, hi;
    cell_window(p, rec, &lo, &hi);
    const double p_max = (double)(up ? p->nonlinear.states_ltp : p->nonlinear.states_ltd);
    const double a = (double)rec[up ? REC_A_LTP : REC_A_LTD];
    double x = mx_nonlinear_pulses(clamp(g, lo, hi), p_max, a, lo, hi);
    x = clamp(x + (double)n, 0.0, p_max);
    g = mx_nonlinear_conductance(x, p_max, a, lo, hi);
    const double sigma = p->nonlinear.c2c_sigma * (p->g_max_s - p->g_min_s);
    if (sigma > 0.0)
        g += sigma * sqrt(fabs((double)n)) * xi;
    g = clamp(g, lo, hi);
    assert(isfinite(g) && g >= lo && g <= hi);
    return g;
}

/* The cos-branch standard normal of a block's words 0–1. */
static double block_normal(const uint32_t u[4])
{
    return sqrt(-2.0 * log(mx_u01(u[0]))) * cos(2.0 * M_PI * mx_u01(u[1]));
}

/* ---- the table functions ---------------------------------------------- */

static double d2d_label(double nl, double sigma, double xi)
{
    double l = nl + sigma * xi;
    double m = clamp(fabs(l), MX_NONLINEAR_NL_MIN, MX_NONLINEAR_NL_MAX);
    return l < 0.0 ? -m : m;
}

static void nonlinear_populate(const mx_device_params *p, float *cells, size_t n, mx_rng *rng)
{
    const mx_nonlinear_params *q = &p->nonlinear;
    const double sigma = q->d2d_nl_sigma;
    const int need_solver = sigma > 0.0 || q->nl_ltp != 0.0 || q->nl_ltd != 0.0;
    gsl_root_fsolver *s = need_solver ? gsl_root_fsolver_alloc(gsl_root_fsolver_brent) : NULL;
    /* The nominal labels, solved once for the call. */
    const double a_ltp = norm_a_or_linear(s, q->nl_ltp), a_ltd = norm_a_or_linear(s, q->nl_ltd);
    const double stuck_min = p->stuck_at_gmin_frac;
    const double stuck_any = p->stuck_at_gmin_frac + p->stuck_at_gmax_frac;
    for (size_t i = 0; i < n; i++) {
        float *rec = cells + i * REC_FLOATS;
        uint32_t u[4];
        mx_rng_block(rng, u);
        double fault = mx_u01(u[0]);
        double al = a_ltp, ad = a_ltd;
        if (sigma > 0.0) {
            double r = sqrt(-2.0 * log(mx_u01(u[1])));
            double angle = 2.0 * M_PI * mx_u01(u[2]);
            al = norm_a_or_linear(s, d2d_label(q->nl_ltp, sigma, r * cos(angle)));
            ad = norm_a_or_linear(s, d2d_label(q->nl_ltd, sigma, r * sin(angle)));
        }
        rec[REC_A_LTP] = (float)al;
        rec[REC_A_LTD] = (float)ad;
        rec[REC_REV_LO] = 0.0f;
        rec[REC_REV_HI] = 0.0f;
        rec[REC_POLARITY] = 0.0f;
        rec[REC_STUCK] = fault < stuck_min ? 1.0f : (fault < stuck_any ? 2.0f : 0.0f);
    }
    if (s)
        gsl_root_fsolver_free(s);
}

static void nonlinear_program(const mx_device_params *p, float *cells, const float *g_target_s,
                              float *g_out_s, size_t n, mx_rng *rng)
{
    assert(cells);
    const mx_nonlinear_params *q = &p->nonlinear;
    /* The nominal LTP curve the programmer plans with, solved once. */
    double a_nominal = INFINITY;
    if (q->nl_ltp != 0.0) {
        gsl_root_fsolver *s = gsl_root_fsolver_alloc(gsl_root_fsolver_brent);
        a_nominal = norm_a_or_linear(s, q->nl_ltp);
        if (s)
            gsl_root_fsolver_free(s);
    }
    const double p_max = (double)q->states_ltp;
    for (size_t i = 0; i < n; i++) {
        float *rec = cells + i * REC_FLOATS;
        uint32_t u[4];
        mx_rng_block(rng, u);
        double g;
        if (rec[REC_STUCK] != 0.0f) {
            g = stuck_value(p, rec);
        } else {
            double target = mx_device_quantise(p, (double)g_target_s[i]);
            double k = nearbyint(mx_nonlinear_pulses(target, p_max, a_nominal, p->g_min_s,
                                                     p->g_max_s));
            double lo, hi;
            note_polarity(rec, -1.0f); /* the reset train */
            cell_window(p, rec, &lo, &hi);
            g = lo;
            if (k > 0.0) {
                double xi = p->nonlinear.c2c_sigma > 0.0 ? block_normal(u) : 0.0;
                g = apply_train(p, rec, g, (int32_t)k, xi);
            }
        }
        g_out_s[i] = (float)g;
    }
}

static void nonlinear_pulse(const mx_device_params *p, float *cells, float *g_s,
                            const mx_pulse *pulses, size_t n, mx_rng *rng)
{
    assert(cells);
    const int noisy = p->nonlinear.c2c_sigma > 0.0;
    for (size_t i = 0; i < n; i++) {
        float *rec = cells + i * REC_FLOATS;
        uint32_t u[4];
        mx_rng_block(rng, u);
        if (rec[REC_STUCK] != 0.0f) {
            g_s[i] = (float)stuck_value(p, rec);
            continue;
        }
        int32_t count = pulses[i].count; /* amplitude and width: see the file comment */
        double xi = noisy && count != 0 ? block_normal(u) : 0.0;
        g_s[i] = (float)apply_train(p, rec, (double)g_s[i], count, xi);
    }
}

static void nonlinear_bounds(const mx_device_params *p, const float *cells, float *g_lo_s,
                             float *g_hi_s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const float *rec = cells + i * REC_FLOATS;
        double lo, hi;
        if (rec[REC_STUCK] != 0.0f) {
            lo = hi = stuck_value(p, rec);
        } else {
            cell_window(p, rec, &lo, &hi);
        }
        g_lo_s[i] = (float)lo;
        g_hi_s[i] = (float)hi;
    }
}

const mx_device_type mx_device_nonlinear = {
    .name = "nonlinear",
    .description = "NeuroSim nonlinear exponential pulse update: LTP/LTD curves set by "
                   "nonlinearity labels, cycle-to-cycle and device-to-device variation, "
                   "endurance, stuck-at faults",
    .source = "MLP+NeuroSim V3.0 (Chen, Peng & Yu, IEDM 2017; manual §5, eq. 8.1-8.3; "
              "Cell.cpp/formula.cpp); label definition solved from Nonlinearity-NormA",
    .validate = nonlinear_validate,
    .cell_floats = REC_FLOATS,
    .populate = nonlinear_populate,
    .program = nonlinear_program,
    .pulse = nonlinear_pulse,
    .read = mx_device_read_relative,
    .age = NULL, /* NeuroSim's update model has no retention term */
    .bounds = nonlinear_bounds,
};
