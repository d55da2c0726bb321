/* SPDX-License-Identifier: MIT
 *
 * measured.c: the measured-curve device — a cell that follows a
 * conductance-vs-pulse curve read from a file instead of an equation. The
 * curve has a potentiation branch (ltp) and a depression branch (ltd); each
 * is a table of pulse number P → mean conductance ḡ(P) and its standard
 * deviation s(P) over repeated cycles, as a pulse-response measurement gives
 * them. A curve is loaded once (mx_measured_curve_load), attached to the
 * device parameters (mx_measured_apply) and shared read-only by every cell.
 *
 * Files (docs/devices.md; examples/devices/sample-curve.csv):
 *   CSV   '#' comment lines and blank lines are skipped; the first other line
 *         names the columns branch, pulse, g_mean_s, g_std_s (any order); each
 *         row is one pulse of one branch ("ltp"/"ltd", case-insensitive).
 *         Rows of a branch come in rising pulse order; branches may
 *         interleave. No quoting (no field holds a comma).
 *   HDF5  datasets /ltp/pulse, /ltp/g_mean_s, /ltp/g_std_s and the same under
 *         /ltd: 1-D, numeric (any integer or float type), equal lengths.
 *   Chosen by content (the HDF5 signature at offset 0) or a .h5/.hdf5/.he5
 *   name. Both are checked alike: pulse numbers finite and strictly rising
 *   (a repeat is reported as a duplicate), means finite and > 0, standard
 *   deviations finite and ≥ 0, at least 2 rows a branch, the ltp means
 *   non-decreasing and the ltd means non-increasing (the device inverts the
 *   curve, so it must be monotone; smooth a noisy measurement first), and
 *   each branch must actually move (last ≠ first mean).
 *
 * Interpolation: GSL's Steffen spline (gsl_interp_steffen; M. Steffen, "A
 * simple method for monotonic interpolation in one dimension", Astron.
 * Astrophys. 239:443, 1990) — C¹, through every table point, and monotone
 * between points wherever the data are, so a monotone table gives a monotone
 * curve without the overshoot of a natural cubic spline. Branches of 2 rows
 * (Steffen needs 3) are linear. Table points are returned exactly (the
 * evaluation short-cuts knots), and outside the table the curve is held at
 * its ends. s(P) is interpolated the same way, so it never leaves the range
 * of its neighbours and stays ≥ 0.
 *
 * The cell: its state is a branch b and a continuous pulse coordinate x on
 * it. A fresh cell sits at the first row of ltp (the fully reset state).
 *   pulse train of n pulses, polarity σ = sign(n):
 *     if σ's branch ≠ b: x ← ḡ_σ⁻¹(ḡ_b(x)) (same mean conductance on the other
 *                          branch; monotone inverse by bisection), b ← σ's
 *     x ← clamp(x + |n|, first, last pulse of b)
 *   conductance after it:
 *     g = f·(m + w·(ḡ_b(x) + scale·s_b(x)·ξ − m)),  clamped at 0
 *       m = (g_lo + g_hi)/2, the middle of the curve's window [g_lo, g_hi]
 *       w = mx_device_endurance_window(cycles)  (wear narrows the window about m)
 *       f = the cell's device-to-device factor, ξ ~ N(0, 1) afresh
 *   program(target): reset (x ← first row of ltp), then the k potentiating
 *     pulses whose mean ḡ_ltp(x₀ + k) is nearest the target (clamped to the
 *     window and quantised to `levels` first) — what a programmer knowing
 *     only the mean curve does; one switching cycle.
 *   cycles = polarity reversals / 2 (program counts as one full cycle).
 *
 * Choices, and why:
 * - The spread is taken at the end point: after any sequence of trains that
 *   leaves the cell at coordinate x, g has standard deviation s(x)·scale.
 *   That is what the file's s(P) measures — the spread of G at pulse P over
 *   repeated cycles — and it does not depend on how the pulses were split
 *   into trains (a per-increment √n rule would compound and overshoot the
 *   measured spread along a train). The coordinate itself stays
 *   deterministic: the noise is what each cycle's G scatters about the mean,
 *   not a drift of the state, so a cell never wanders off the measured
 *   curve, and a polarity change maps by the mean conductance.
 * - The curve defines the conductance window: mx_measured_apply sets
 *   g_min_s/g_max_s to its lowest and highest mean, and validate refuses
 *   values that differ (the crossbar maps weights with them; a default
 *   window that disagreed with the curve would silently clip).
 * - Device-to-device variation is a lognormal factor f on the whole curve,
 *   f = exp(σ_s ξ − σ_s²/2), σ_s² = ln(1 + d2d_sigma²): E[f] = 1 and
 *   std(f) = d2d_sigma (as reram). Mapping between branches is unaffected by
 *   f (both branches scale alike).
 * - g is clamped at 0 only, as pcm: the measured spread at the ends of the
 *   curve lies on both sides of the mean (clipping at the window would bias
 *   those cells' mean by −0.4 s). bounds() reports each cell's mean window.
 * - The pulse's amplitude and width are ignored: the curve holds for the
 *   pulse it was measured with.
 * - prog_noise must be 0: the measured spread is the programming noise.
 * - Stuck-at faults (drawn per cell at populate) pin a cell at g_lo or g_hi
 *   of the curve's window, unscaled by f; pulses and programming leave it.
 *
 * Record (cell_floats = 6): d2d factor f; fault (0 none, 1 stuck at g_lo,
 * 2 stuck at g_hi); branch; x; reversal count as lo + 2²⁴·hi (two floats hold
 * it exactly to 2⁴⁸, a float alone only to 2²⁴).
 *
 * Draws: one Philox block per cell in each of populate (word 0 fault
 * uniform, words 1–2 a Box–Muller pair, cos = D2D normal), program and pulse
 * (words 1–2, cos = C2C normal), whatever the parameters or pulse counts.
 *
 * Not thread-safe: mx_measured_curve_load switches GSL's error handler off
 * and back while it builds the splines. Everything else only reads the curve.
 */
#include "devices/measured.h"
#include "devices/cell_internal.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_interp.h>
#include <hdf5.h>

#include "devices/devices.h"
/* HDF5 helpers shared with results/weights (open with lock messages, close
 * any handle); they sit in experiments/ but depend on nothing there. */
#include "experiments/h5io.h"

/* A CSV curve is a few hundred rows; refuse anything absurdly large rather
 * than reading a wrong file into memory. */
#define MEASURED_CSV_MAX_BYTES (16u << 20)
/* The same bound for the elements of one HDF5 dataset. */
#define MEASURED_H5_MAX_ROWS ((size_t)1 << 24)
/* Fields shown in a message are cut to this many characters. */
#define MEASURED_ECHO_CHARS 40
/* Bisection steps of the inverse; halving a double interval stops long
 * before (the loop breaks when the midpoint meets an end). */
#define MEASURED_BISECT_MAX 200
/* Relative mismatch of g_min_s/g_max_s against the curve that validate lets
 * pass (values written out and read back through YAML as %.17g are exact;
 * this admits a few ulps of hand-written ones). */
#define MEASURED_WINDOW_REL_TOL 1e-9

enum { FIELD_BRANCH, FIELD_PULSE, FIELD_MEAN, FIELD_STD, FIELD_COUNT };
static const char *const field_names[FIELD_COUNT] = {"branch", "pulse", "g_mean_s", "g_std_s"};

/* The cell record. */
enum { CELL_D2D, CELL_FAULT, CELL_BRANCH, CELL_PULSE, CELL_REV_LO, CELL_REV_HI, CELL_FLOATS };
#define REV_SPLIT 16777216.0f /* 2^24: the largest float step that counts exactly by 1 */
enum { FAULT_NONE = 0, FAULT_LO = 1, FAULT_HI = 2 };

typedef struct branch_table {
    size_t n;          /* rows */
    double *pulse;     /* (n) rising; owns the allocation of all three */
    double *g_mean_s;  /* (n) S */
    double *g_std_s;   /* (n) S */
    gsl_interp *mean;  /* spline of g_mean_s over pulse */
    gsl_interp *std;   /* spline of g_std_s over pulse */
} branch_table;

struct mx_measured_curve {
    char *path; /* as given to mx_measured_curve_load */
    branch_table b[MX_MEASURED_BRANCHES];
    double g_min_s, g_max_s; /* the window: extreme means of either branch */
};

/* Where each row came from, for messages: CSV line numbers (per branch) and
 * column numbers, or NULL lines for HDF5 (rows are dataset elements). */
typedef struct row_source {
    const size_t *line[MX_MEASURED_BRANCHES];
    int column[FIELD_COUNT]; /* 1-based */
} row_source;

const char *mx_measured_branch_name(mx_measured_branch branch)
{
    return branch == MX_MEASURED_LTD ? "ltd" : "ltp";
}

static const char *branch_long_name(mx_measured_branch b)
{
    return b == MX_MEASURED_LTD ? "depression" : "potentiation";
}

/* ---- tables --------------------------------------------------------------- */

/* Room for `cap` rows in t; the three arrays share one allocation. */
static mx_status table_reserve(branch_table *t, size_t cap, const char *path)
{
    assert(!t->pulse && cap > 0);
    size_t count = mx_size_mul(cap, 3);
    double *block = count ? mx_alloc(mx_size_mul(count, sizeof *block)) : NULL;
    if (!block)
        return mx_fail(MX_ENOMEM, "%s: out of memory for a curve of %zu rows", path, cap);
    t->pulse = block;
    t->g_mean_s = block + cap;
    t->g_std_s = block + 2 * cap;
    t->n = 0;
    return MX_OK;
}

static void table_release(branch_table *t)
{
    if (t->mean)
        gsl_interp_free(t->mean);
    if (t->std)
        gsl_interp_free(t->std);
    mx_free(t->pulse);
    *t = (branch_table){0};
}

void mx_measured_curve_free(mx_measured_curve *c)
{
    if (!c)
        return;
    for (int b = 0; b < MX_MEASURED_BRANCHES; b++)
        table_release(&c->b[b]);
    mx_free(c->path);
    mx_free(c);
}

/* "file:line: field (column k)" for CSV, "file: /branch/field[i]" for HDF5. */
static void row_where(char *buf, size_t size, const char *path, const row_source *src,
                      mx_measured_branch b, size_t i, int field)
{
    if (src->line[b])
        snprintf(buf, size, "%s:%zu: %s (column %d)", path, src->line[b][i], field_names[field],
                 src->column[field]);
    else
        snprintf(buf, size, "%s: /%s/%s[%zu]", path, mx_measured_branch_name(b),
                 field_names[field], i);
}

/* "line 7" or "element 3": another row, named in a message about this one. */
static void row_name(char *buf, size_t size, const row_source *src, mx_measured_branch b,
                     size_t i)
{
    if (src->line[b])
        snprintf(buf, size, "line %zu", src->line[b][i]);
    else
        snprintf(buf, size, "element %zu", i);
}

/* The checks both formats share (see the file comment). MX_EFORMAT. */
static mx_status table_check(const char *path, const row_source *src, mx_measured_branch b,
                             const branch_table *t)
{
    const char *name = mx_measured_branch_name(b);
    char where[1024], other[32];
    if (t->n == 0 && src->line[b])
        return mx_fail(MX_EFORMAT,
                       "%s: branch: no rows of branch '%s': expected the %s curve as rows "
                       "'%s,<pulse>,<g_mean_s>,<g_std_s>'",
                       path, name, branch_long_name(b), name);
    if (t->n < 2) {
        if (t->n == 1) {
            row_name(other, sizeof other, src, b, 0);
            return mx_fail(MX_EFORMAT,
                           "%s: branch %s: expected at least 2 points to interpolate, got 1 "
                           "(%s)",
                           path, name, other);
        }
        return mx_fail(MX_EFORMAT, "%s: branch %s: expected at least 2 points to interpolate, got 0",
                       path, name);
    }
    const double dir = b == MX_MEASURED_LTP ? 1.0 : -1.0;
    for (size_t i = 0; i < t->n; i++) {
        const double p = t->pulse[i], g = t->g_mean_s[i], s = t->g_std_s[i];
        if (!isfinite(p)) {
            row_where(where, sizeof where, path, src, b, i, FIELD_PULSE);
            return mx_fail(MX_EFORMAT, "%s: expected a finite pulse number, got %g", where, p);
        }
        if (i > 0 && p <= t->pulse[i - 1]) {
            row_where(where, sizeof where, path, src, b, i, FIELD_PULSE);
            row_name(other, sizeof other, src, b, i - 1);
            if (p == t->pulse[i - 1])
                return mx_fail(MX_EFORMAT,
                               "%s: duplicate pulse number %g of branch %s (also at %s): "
                               "expected each pulse once",
                               where, p, name, other);
            return mx_fail(MX_EFORMAT,
                           "%s: expected the pulse numbers of branch %s to rise row by row, got "
                           "%g after %g (%s)",
                           where, name, p, t->pulse[i - 1], other);
        }
        if (!(isfinite(g) && g > 0.0)) {
            row_where(where, sizeof where, path, src, b, i, FIELD_MEAN);
            return mx_fail(MX_EFORMAT, "%s: expected a %s conductance > 0 S, got %g", where,
                           isfinite(g) ? "mean" : "finite mean", g);
        }
        if (!(isfinite(s) && s >= 0.0)) {
            row_where(where, sizeof where, path, src, b, i, FIELD_STD);
            return mx_fail(MX_EFORMAT, "%s: expected a %s standard deviation >= 0 S, got %g", where,
                           isfinite(s) ? "conductance" : "finite", s);
        }
        if (i > 0 && dir * (g - t->g_mean_s[i - 1]) < 0.0) {
            row_where(where, sizeof where, path, src, b, i, FIELD_MEAN);
            row_name(other, sizeof other, src, b, i - 1);
            return mx_fail(MX_EFORMAT,
                           "%s: expected the %s means to %s with the pulse number (the device "
                           "needs a monotone curve; smooth the measurement), got %g S after "
                           "%g S (%s)",
                           where, name, b == MX_MEASURED_LTP ? "rise or stay" : "fall or stay",
                           g, t->g_mean_s[i - 1], other);
        }
    }
    if (!(dir * (t->g_mean_s[t->n - 1] - t->g_mean_s[0]) > 0.0))
        return mx_fail(MX_EFORMAT,
                       "%s: branch %s: expected the mean conductance to %s from the first to the "
                       "last pulse, got a flat curve at %g S",
                       path, name, b == MX_MEASURED_LTP ? "rise" : "fall", t->g_mean_s[0]);
    return MX_OK;
}

/* The splines and the window of a checked curve. */
static mx_status curve_finish(mx_measured_curve *c)
{
    mx_status st = MX_OK;
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    for (int b = 0; b < MX_MEASURED_BRANCHES && st == MX_OK; b++) {
        branch_table *t = &c->b[b];
        const gsl_interp_type *type =
            t->n >= gsl_interp_type_min_size(gsl_interp_steffen) ? gsl_interp_steffen
                                                                  : gsl_interp_linear;
        t->mean = gsl_interp_alloc(type, t->n);
        t->std = gsl_interp_alloc(type, t->n);
        if (!t->mean || !t->std)
            st = mx_fail(MX_ENOMEM, "%s: out of memory for the interpolation of branch %s", c->path,
                         mx_measured_branch_name((mx_measured_branch)b));
        else if (gsl_interp_init(t->mean, t->pulse, t->g_mean_s, t->n) != GSL_SUCCESS ||
                 gsl_interp_init(t->std, t->pulse, t->g_std_s, t->n) != GSL_SUCCESS)
            st = mx_fail(MX_ENUMERIC, "%s: GSL could not build the interpolation of branch %s",
                         c->path, mx_measured_branch_name((mx_measured_branch)b));
    }
    gsl_set_error_handler(old);
    if (st != MX_OK)
        return st;
    const branch_table *up = &c->b[MX_MEASURED_LTP], *down = &c->b[MX_MEASURED_LTD];
    c->g_min_s = fmin(up->g_mean_s[0], down->g_mean_s[down->n - 1]);
    c->g_max_s = fmax(up->g_mean_s[up->n - 1], down->g_mean_s[0]);
    return MX_OK;
}

/* ---- CSV ------------------------------------------------------------------ */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* Split a line at commas in place; returns the number of fields (≥ 1),
 * storing at most `max` of them, trimmed. */
static size_t split_fields(char *line, char **fields, size_t max)
{
    size_t n = 0;
    for (char *s = line;;) {
        char *comma = strchr(s, ',');
        if (comma)
            *comma = '\0';
        if (n < max)
            fields[n] = trim(s);
        n++;
        if (!comma)
            return n;
        s = comma + 1;
    }
}

/* The header line: which column holds each field. */
static mx_status csv_header(const char *path, size_t line_no, char *line, int column[FIELD_COUNT])
{
    char *f[FIELD_COUNT + 1];
    size_t nf = split_fields(line, f, FIELD_COUNT + 1);
    for (int k = 0; k < FIELD_COUNT; k++)
        column[k] = 0;
    for (size_t j = 0; j < nf && j < FIELD_COUNT + 1; j++) {
        int k = 0;
        while (k < FIELD_COUNT && strcmp(f[j], field_names[k]) != 0)
            k++;
        if (k == FIELD_COUNT)
            return mx_fail(MX_EFORMAT,
                           "%s:%zu: header (column %zu): expected one of the column names "
                           "branch, pulse, g_mean_s, g_std_s, got '%.*s'",
                           path, line_no, j + 1, MEASURED_ECHO_CHARS, f[j]);
        if (column[k])
            return mx_fail(MX_EFORMAT,
                           "%s:%zu: header (column %zu): column '%s' named twice (also column %d)",
                           path, line_no, j + 1, field_names[k], column[k]);
        column[k] = (int)j + 1;
    }
    for (int k = 0; k < FIELD_COUNT; k++)
        if (!column[k])
            return mx_fail(MX_EFORMAT,
                           "%s:%zu: header: expected a column named '%s' (the header names "
                           "branch, pulse, g_mean_s, g_std_s)",
                           path, line_no, field_names[k]);
    return MX_OK;
}

static mx_status csv_number(const char *path, size_t line_no, int field, int column,
                            const char *text, double *out)
{
    if (!*text)
        return mx_fail(MX_EFORMAT, "%s:%zu: %s (column %d): expected a number, got an empty field",
                       path, line_no, field_names[field], column);
    char *end;
    *out = strtod(text, &end);
    if (end == text || *end != '\0')
        return mx_fail(MX_EFORMAT, "%s:%zu: %s (column %d): expected a number, got '%.*s'", path,
                       line_no, field_names[field], column, MEASURED_ECHO_CHARS, text);
    return MX_OK;
}

/* Parse `text` (NUL-terminated, modified in place) into c's tables. */
static mx_status csv_parse(const char *path, char *text, size_t len, mx_measured_curve *c)
{
    size_t cap = 1;
    for (size_t i = 0; i < len; i++)
        cap += text[i] == '\n';
    size_t *lines[MX_MEASURED_BRANCHES] = {NULL, NULL};
    row_source src = {.line = {NULL, NULL}};
    mx_status st = MX_OK;
    for (int b = 0; b < MX_MEASURED_BRANCHES && st == MX_OK; b++) {
        st = table_reserve(&c->b[b], cap, path);
        if (st == MX_OK && !(lines[b] = mx_alloc(mx_size_mul(cap, sizeof *lines[b]))))
            st = mx_fail(MX_ENOMEM, "%s: out of memory for a curve of %zu rows", path, cap);
    }
    int have_header = 0;
    size_t line_no = 0;
    for (char *s = text; st == MX_OK && s < text + len;) {
        char *nl = memchr(s, '\n', (size_t)(text + len - s));
        char *next = nl ? nl + 1 : text + len;
        if (nl)
            *nl = '\0';
        line_no++;
        char *line = trim(s);
        s = next;
        if (*line == '\0' || *line == '#')
            continue;
        if (!have_header) {
            st = csv_header(path, line_no, line, src.column);
            have_header = 1;
            continue;
        }
        char *f[FIELD_COUNT];
        size_t nf = split_fields(line, f, FIELD_COUNT);
        if (nf != FIELD_COUNT) {
            st = mx_fail(MX_EFORMAT,
                         "%s:%zu: expected %d comma-separated fields (the header's branch, "
                         "pulse, g_mean_s, g_std_s), got %zu",
                         path, line_no, FIELD_COUNT, nf);
            break;
        }
        /* Fields in the header's column order → by field. */
        char *v[FIELD_COUNT];
        for (int k = 0; k < FIELD_COUNT; k++)
            v[k] = f[src.column[k] - 1];
        mx_measured_branch b;
        if (strcasecmp(v[FIELD_BRANCH], "ltp") == 0) {
            b = MX_MEASURED_LTP;
        } else if (strcasecmp(v[FIELD_BRANCH], "ltd") == 0) {
            b = MX_MEASURED_LTD;
        } else {
            st = mx_fail(MX_EFORMAT,
                         "%s:%zu: branch (column %d): expected ltp (potentiation) or ltd "
                         "(depression), got '%.*s'",
                         path, line_no, src.column[FIELD_BRANCH], MEASURED_ECHO_CHARS,
                         v[FIELD_BRANCH]);
            break;
        }
        branch_table *t = &c->b[b];
        size_t i = t->n;
        double *dst[FIELD_COUNT] = {NULL, &t->pulse[i], &t->g_mean_s[i], &t->g_std_s[i]};
        for (int k = FIELD_PULSE; k < FIELD_COUNT && st == MX_OK; k++)
            st = csv_number(path, line_no, k, src.column[k], v[k], dst[k]);
        lines[b][i] = line_no;
        t->n++;
    }
    if (st == MX_OK && !have_header)
        st = mx_fail(MX_EFORMAT,
                     "%s: empty: expected a header line 'branch,pulse,g_mean_s,g_std_s' and rows "
                     "of the ltp and ltd curves",
                     path);
    for (int b = 0; b < MX_MEASURED_BRANCHES; b++)
        src.line[b] = lines[b];
    for (int b = 0; b < MX_MEASURED_BRANCHES && st == MX_OK; b++)
        st = table_check(path, &src, (mx_measured_branch)b, &c->b[b]);
    for (int b = 0; b < MX_MEASURED_BRANCHES; b++)
        mx_free(lines[b]);
    return st;
}

static mx_status csv_load(const char *path, FILE *fp, size_t size, mx_measured_curve *c)
{
    if (size > MEASURED_CSV_MAX_BYTES)
        return mx_fail(MX_EFORMAT,
                       "%s: %zu bytes: expected a CSV curve of at most %u bytes (or an HDF5 file)",
                       path, size, MEASURED_CSV_MAX_BYTES);
    char *text = mx_alloc(size + 1);
    if (!text)
        return mx_fail(MX_ENOMEM, "%s: out of memory reading the file", path);
    mx_status st = MX_OK;
    if (fread(text, 1, size, fp) != size) {
        st = mx_fail(MX_EIO, "%s: read error: %s", path, ferror(fp) ? strerror(errno) : "file shrank");
    } else {
        text[size] = '\0';
        const char *nul = memchr(text, '\0', size);
        if (nul) {
            size_t line_no = 1;
            for (const char *q = text; q < nul; q++)
                line_no += *q == '\n';
            st = mx_fail(MX_EFORMAT, "%s:%zu: expected text (CSV), got a NUL byte (a binary file?)",
                         path, line_no);
        } else {
            st = csv_parse(path, text, size, c);
        }
    }
    mx_free(text);
    return st;
}

/* ---- HDF5 ----------------------------------------------------------------- */

static mx_status h5_read_branch(hid_t file, const char *path, mx_measured_branch b,
                                branch_table *t)
{
    const char *name = mx_measured_branch_name(b);
    hid_t group = H5I_INVALID_HID, dset[3] = {H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID};
    hid_t space = H5I_INVALID_HID, type = H5I_INVALID_HID;
    mx_status st = MX_OK;
    size_t n = 0;
    if (H5Lexists(file, name, H5P_DEFAULT) <= 0 ||
        (group = H5Gopen2(file, name, H5P_DEFAULT)) < 0) {
        st = mx_fail(MX_EFORMAT,
                     "%s: /%s: missing: expected a group with datasets pulse, g_mean_s, g_std_s "
                     "(the %s curve)",
                     path, name, branch_long_name(b));
        goto done;
    }
    for (int k = 0; k < 3 && st == MX_OK; k++) {
        const char *field = field_names[FIELD_PULSE + k];
        if (H5Lexists(group, field, H5P_DEFAULT) <= 0 ||
            (dset[k] = H5Dopen2(group, field, H5P_DEFAULT)) < 0) {
            st = mx_fail(MX_EFORMAT, "%s: /%s/%s: missing: expected a 1-D numeric dataset", path,
                         name, field);
            break;
        }
        type = H5Dget_type(dset[k]);
        H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
        mx_h5_close(&type);
        if (cls != H5T_INTEGER && cls != H5T_FLOAT) {
            st = mx_fail(MX_EFORMAT, "%s: /%s/%s: expected numbers (an integer or float dataset), "
                         "got another type", path, name, field);
            break;
        }
        space = H5Dget_space(dset[k]);
        int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
        hsize_t dims[1] = {0};
        if (rank == 1)
            H5Sget_simple_extent_dims(space, dims, NULL);
        mx_h5_close(&space);
        if (rank != 1) {
            st = mx_fail(MX_EFORMAT, "%s: /%s/%s: expected a 1-D dataset, got rank %d", path, name,
                         field, rank);
            break;
        }
        if (dims[0] > MEASURED_H5_MAX_ROWS) {
            st = mx_fail(MX_EFORMAT, "%s: /%s/%s: expected at most %zu elements, got %llu", path,
                         name, field, MEASURED_H5_MAX_ROWS, (unsigned long long)dims[0]);
            break;
        }
        if (k == 0)
            n = (size_t)dims[0];
        else if ((size_t)dims[0] != n)
            st = mx_fail(MX_EFORMAT, "%s: /%s/%s: expected %zu elements like /%s/pulse, got %llu",
                         path, name, field, n, name, (unsigned long long)dims[0]);
    }
    if (st != MX_OK || n == 0)
        goto done; /* n == 0: table_check reports the missing points */
    st = table_reserve(t, n, path);
    double *dst[3] = {t->pulse, t->g_mean_s, t->g_std_s};
    for (int k = 0; k < 3 && st == MX_OK; k++)
        if (H5Dread(dset[k], H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst[k]) < 0)
            st = mx_fail(MX_EIO, "%s: /%s/%s: cannot read (truncated or corrupt?)", path, name,
                         field_names[FIELD_PULSE + k]);
    if (st == MX_OK)
        t->n = n;
done:
    for (int k = 0; k < 3; k++)
        mx_h5_close(&dset[k]);
    mx_h5_close(&group);
    return st;
}

static mx_status h5_load(const char *path, mx_measured_curve *c)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* the library never prints */
    hid_t file = H5I_INVALID_HID;
    mx_status st = mx_h5_open_read(path, &file);
    for (int b = 0; b < MX_MEASURED_BRANCHES && st == MX_OK; b++)
        st = h5_read_branch(file, path, (mx_measured_branch)b, &c->b[b]);
    mx_h5_close(&file);
    const row_source src = {.line = {NULL, NULL}};
    for (int b = 0; b < MX_MEASURED_BRANCHES && st == MX_OK; b++)
        st = table_check(path, &src, (mx_measured_branch)b, &c->b[b]);
    return st;
}

/* ---- loading -------------------------------------------------------------- */

static int has_h5_extension(const char *path)
{
    static const char *const ext[] = {".h5", ".hdf5", ".he5"};
    size_t n = strlen(path);
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        size_t m = strlen(ext[i]);
        if (n > m && strcasecmp(path + n - m, ext[i]) == 0)
            return 1;
    }
    return 0;
}

mx_status mx_measured_curve_load(const char *path, mx_measured_curve **out)
{
    assert(path && out);
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return mx_fail(MX_EIO, "%s: cannot open the measured curve: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(fp), &sb) != 0) {
        int err = errno;
        fclose(fp);
        return mx_fail(MX_EIO, "%s: cannot read the measured curve: %s", path, strerror(err));
    }
    if (!S_ISREG(sb.st_mode)) {
        fclose(fp);
        return mx_fail(MX_EIO, "%s: cannot read the measured curve: %s", path,
                       S_ISDIR(sb.st_mode) ? "is a folder, expected a CSV or HDF5 file"
                                           : "not a regular file");
    }
    static const unsigned char h5_signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    unsigned char head[8];
    size_t got = fread(head, 1, sizeof head, fp);
    int is_h5 = (got == sizeof head && memcmp(head, h5_signature, sizeof head) == 0) ||
                has_h5_extension(path);
    mx_measured_curve *c = mx_calloc(1, sizeof *c);
    const size_t path_bytes = strlen(path) + 1;
    mx_status st = MX_OK;
    if (!c || !(c->path = mx_alloc(path_bytes))) {
        st = mx_fail(MX_ENOMEM, "%s: out of memory for the measured curve", path);
    } else {
        memcpy(c->path, path, path_bytes);
        if (is_h5) {
            fclose(fp);
            fp = NULL;
            st = h5_load(path, c);
        } else {
            rewind(fp);
            st = csv_load(path, fp, (size_t)sb.st_size, c);
        }
    }
    if (fp)
        fclose(fp);
    if (st == MX_OK)
        st = curve_finish(c);
    if (st != MX_OK) {
        mx_measured_curve_free(c);
        return st;
    }
    *out = c;
    return MX_OK;
}

/* ---- curve queries -------------------------------------------------------- */

const char *mx_measured_curve_path(const mx_measured_curve *c) { return c->path; }
double mx_measured_curve_g_min(const mx_measured_curve *c) { return c->g_min_s; }
double mx_measured_curve_g_max(const mx_measured_curve *c) { return c->g_max_s; }

size_t mx_measured_curve_table(const mx_measured_curve *c, mx_measured_branch branch,
                               const double **pulse, const double **g_mean_s,
                               const double **g_std_s)
{
    assert(branch == MX_MEASURED_LTP || branch == MX_MEASURED_LTD);
    const branch_table *t = &c->b[branch];
    if (pulse)
        *pulse = t->pulse;
    if (g_mean_s)
        *g_mean_s = t->g_mean_s;
    if (g_std_s)
        *g_std_s = t->g_std_s;
    return t->n;
}

void mx_measured_curve_pulse_range(const mx_measured_curve *c, mx_measured_branch branch,
                                   double *first, double *last)
{
    const branch_table *t = &c->b[branch];
    *first = t->pulse[0];
    *last = t->pulse[t->n - 1];
}

/* Spline value at x: the table's own value at a knot, held at the ends. */
static double table_eval(const branch_table *t, const gsl_interp *ip, const double *y, double x)
{
    const double *xa = t->pulse;
    const size_t n = t->n;
    if (!(x > xa[0]))
        return y[0]; /* also NaN */
    if (!(x < xa[n - 1]))
        return y[n - 1];
    size_t i = gsl_interp_bsearch(xa, x, 0, n - 1); /* xa[i] <= x < xa[i + 1] */
    if (x == xa[i])
        return y[i];
    return gsl_interp_eval(ip, xa, y, x, NULL); /* NULL accelerator: shared read-only */
}

double mx_measured_curve_mean(const mx_measured_curve *c, mx_measured_branch branch, double pulse)
{
    const branch_table *t = &c->b[branch];
    return table_eval(t, t->mean, t->g_mean_s, pulse);
}

double mx_measured_curve_std(const mx_measured_curve *c, mx_measured_branch branch, double pulse)
{
    const branch_table *t = &c->b[branch];
    double s = table_eval(t, t->std, t->g_std_s, pulse);
    return s > 0.0 ? s : 0.0; /* Steffen never undershoots; belt and braces */
}

double mx_measured_curve_pulse_at(const mx_measured_curve *c, mx_measured_branch branch,
                                  double g_s)
{
    const branch_table *t = &c->b[branch];
    const double *xa = t->pulse, *ya = t->g_mean_s;
    const size_t n = t->n;
    /* h(x) = dir·ḡ(x) is non-decreasing on either branch. */
    const double dir = branch == MX_MEASURED_LTP ? 1.0 : -1.0, target = dir * g_s;
    if (!(target > dir * ya[0]))
        return xa[0];
    if (target > dir * ya[n - 1])
        return xa[n - 1];
    /* The first knot reaching the target: h(xa[lo]) < target <= h(xa[hi]). */
    size_t lo = 0, hi = n - 1;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (dir * ya[mid] >= target)
            hi = mid;
        else
            lo = mid;
    }
    if (dir * ya[hi] == target)
        return xa[hi];
    double xl = xa[lo], xh = xa[hi];
    for (int k = 0; k < MEASURED_BISECT_MAX; k++) {
        double xm = 0.5 * (xl + xh);
        if (xm <= xl || xm >= xh)
            break;
        if (dir * table_eval(t, t->mean, ya, xm) >= target)
            xh = xm;
        else
            xl = xm;
    }
    return xh;
}

void mx_measured_apply(mx_device_params *p, const mx_measured_curve *c)
{
    p->measured.curve = c;
    p->g_min_s = c->g_min_s;
    p->g_max_s = c->g_max_s;
}

/* ---- the device ----------------------------------------------------------- */

static double cell_reversals(const float *cell)
{
    return (double)cell[CELL_REV_HI] * (double)REV_SPLIT + (double)cell[CELL_REV_LO];
}

static void cell_add_reversals(float *cell, int k)
{
    for (int j = 0; j < k; j++) {
        cell[CELL_REV_LO] += 1.0f;
        if (cell[CELL_REV_LO] >= REV_SPLIT) {
            cell[CELL_REV_LO] = 0.0f;
            cell[CELL_REV_HI] += 1.0f;
        }
    }
}

void mx_measured_cell_state(const float *cell, mx_measured_branch *branch, double *pulse,
                            double *cycles)
{
    if (branch)
        *branch = cell[CELL_BRANCH] != 0.0f ? MX_MEASURED_LTD : MX_MEASURED_LTP;
    if (pulse)
        *pulse = (double)cell[CELL_PULSE];
    if (cycles)
        *cycles = 0.5 * cell_reversals(cell);
}

static mx_status measured_validate(const mx_device_params *p)
{
    const mx_measured_curve *c = p->measured.curve;
    if (!c) {
        if (p->measured.path[0])
            return mx_fail(MX_EINVAL,
                           "hardware.device.measured.path: the curve '%s' is named but not loaded "
                           "(mx_measured_curve_load, then mx_measured_apply)",
                           p->measured.path);
        return mx_fail(MX_EINVAL,
                       "hardware.device.measured.path: expected a CSV or HDF5 file of the "
                       "conductance-vs-pulse curve, got none");
    }
    mx_status st = mx_device_validate_cell(p);
    if (st != MX_OK)
        return st;
    if (fabs(p->g_min_s - c->g_min_s) > MEASURED_WINDOW_REL_TOL * c->g_min_s)
        return mx_fail(MX_EINVAL,
                       "hardware.device.g_min_s: expected the measured curve's lowest mean "
                       "conductance %.9g S (%s; mx_measured_apply sets it), got %.9g S",
                       c->g_min_s, c->path, p->g_min_s);
    if (fabs(p->g_max_s - c->g_max_s) > MEASURED_WINDOW_REL_TOL * c->g_max_s)
        return mx_fail(MX_EINVAL,
                       "hardware.device.g_max_s: expected the measured curve's highest mean "
                       "conductance %.9g S (%s; mx_measured_apply sets it), got %.9g S",
                       c->g_max_s, c->path, p->g_max_s);
    if (!finite_nonneg(p->d2d_sigma))
        return mx_fail(MX_EINVAL, "hardware.device.d2d_sigma: expected a number >= 0, got %g",
                       p->d2d_sigma);
    for (int i = 0; i < MX_DEVICE_PROG_NOISE_ORDER; i++)
        if (p->prog_noise_coeffs[i] != 0.0)
            return mx_fail(MX_EINVAL,
                           "hardware.device.prog_noise[%d]: expected 0 for the measured model (its "
                           "programming noise is the measured spread), got %g",
                           i, p->prog_noise_coeffs[i]);
    if (!finite_nonneg(p->measured.spread_scale))
        return mx_fail(MX_EINVAL,
                       "hardware.device.measured.spread_scale: expected a factor >= 0, got %g",
                       p->measured.spread_scale);
    return MX_OK;
}

/* A standard normal from two words of a block (Box–Muller, cos branch). */
static double block_normal(const uint32_t u[4])
{
    return sqrt(-2.0 * log(mx_u01(u[1]))) * cos(2.0 * M_PI * mx_u01(u[2]));
}

static double stuck_value(const mx_measured_curve *c, float fault)
{
    return fault == (float)FAULT_LO ? c->g_min_s : c->g_max_s;
}

/* The conductance of a working cell at its state, ξ the C2C normal. */
static double cell_conductance(const mx_device_params *p, const float *cell, double xi)
{
    const mx_measured_curve *c = p->measured.curve;
    mx_measured_branch b = cell[CELL_BRANCH] != 0.0f ? MX_MEASURED_LTD : MX_MEASURED_LTP;
    const double x = (double)cell[CELL_PULSE];
    double g = mx_measured_curve_mean(c, b, x);
    if (xi != 0.0)
        g += p->measured.spread_scale * mx_measured_curve_std(c, b, x) * xi;
    const double mid = 0.5 * (c->g_min_s + c->g_max_s);
    const double w = mx_device_endurance_window(p, 0.5 * cell_reversals(cell));
    g = (double)cell[CELL_D2D] * (mid + w * (g - mid));
    return g > 0.0 ? g : 0.0;
}

static void measured_populate(const mx_device_params *p, float *cells, size_t n, mx_rng *rng)
{
    const mx_measured_curve *c = p->measured.curve;
    assert(c && cells);
    const double s2 = log1p(p->d2d_sigma * p->d2d_sigma), s = sqrt(s2);
    const double stuck_lo = p->stuck_at_gmin_frac;
    const double stuck_any = p->stuck_at_gmin_frac + p->stuck_at_gmax_frac;
    for (size_t i = 0; i < n; i++) {
        uint32_t u[4];
        mx_rng_block(rng, u);
        float *cell = cells + i * CELL_FLOATS;
        double fault = mx_u01(u[0]);
        cell[CELL_D2D] = s > 0.0 ? (float)exp(s * block_normal(u) - 0.5 * s2) : 1.0f;
        cell[CELL_FAULT] = (float)(fault < stuck_lo ? FAULT_LO : fault < stuck_any ? FAULT_HI
                                                                                  : FAULT_NONE);
        cell[CELL_BRANCH] = (float)MX_MEASURED_LTP;
        cell[CELL_PULSE] = (float)c->b[MX_MEASURED_LTP].pulse[0];
        cell[CELL_REV_LO] = 0.0f;
        cell[CELL_REV_HI] = 0.0f;
    }
}

static void measured_program(const mx_device_params *p, float *cells, const float *g_target_s,
                             float *g_out_s, size_t n, mx_rng *rng)
{
    const mx_measured_curve *c = p->measured.curve;
    assert(c && cells);
    const branch_table *up = &c->b[MX_MEASURED_LTP];
    const double x0 = up->pulse[0], x1 = up->pulse[up->n - 1];
    const int noisy = p->measured.spread_scale > 0.0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u[4];
        mx_rng_block(rng, u);
        float *cell = cells + i * CELL_FLOATS;
        if (cell[CELL_FAULT] != (float)FAULT_NONE) {
            g_out_s[i] = (float)stuck_value(c, cell[CELL_FAULT]);
            continue;
        }
        /* Reset to the first ltp row, then the whole pulses of the mean curve
         * whose conductance is nearest the target (the lower on a tie). */
        const double target = mx_device_quantise(p, (double)g_target_s[i]);
        const double k = floor(mx_measured_curve_pulse_at(c, MX_MEASURED_LTP, target) - x0);
        double x = fmin(x0 + k, x1);
        const double x_up = fmin(x0 + k + 1.0, x1);
        if (fabs(mx_measured_curve_mean(c, MX_MEASURED_LTP, x_up) - target) <
            fabs(mx_measured_curve_mean(c, MX_MEASURED_LTP, x) - target))
            x = x_up;
        cell[CELL_BRANCH] = (float)MX_MEASURED_LTP;
        cell[CELL_PULSE] = (float)x;
        cell_add_reversals(cell, 2); /* a RESET and a SET: one cycle */
        double g = cell_conductance(p, cell, noisy ? block_normal(u) : 0.0);
        assert(isfinite(g) && g >= 0.0);
        g_out_s[i] = (float)g;
    }
}

static void measured_pulse(const mx_device_params *p, float *cells, float *g_s,
                           const mx_pulse *pulses, size_t n, mx_rng *rng)
{
    const mx_measured_curve *c = p->measured.curve;
    assert(c && cells);
    const int noisy = p->measured.spread_scale > 0.0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u[4];
        mx_rng_block(rng, u);
        float *cell = cells + i * CELL_FLOATS;
        const int32_t count = pulses[i].count;
        if (count == 0)
            continue; /* no pulse: cell and conductance as they were */
        if (cell[CELL_FAULT] != (float)FAULT_NONE) {
            g_s[i] = (float)stuck_value(c, cell[CELL_FAULT]);
            continue;
        }
        const mx_measured_branch to = count > 0 ? MX_MEASURED_LTP : MX_MEASURED_LTD;
        const mx_measured_branch from =
            cell[CELL_BRANCH] != 0.0f ? MX_MEASURED_LTD : MX_MEASURED_LTP;
        double x = (double)cell[CELL_PULSE];
        if (to != from) {
            /* Polarity reversal: continue from the same mean conductance on
             * the other branch. */
            x = mx_measured_curve_pulse_at(c, to, mx_measured_curve_mean(c, from, x));
            cell_add_reversals(cell, 1);
        }
        const branch_table *t = &c->b[to];
        x += count > 0 ? (double)count : -(double)count;
        x = fmin(fmax(x, t->pulse[0]), t->pulse[t->n - 1]);
        cell[CELL_BRANCH] = (float)to;
        cell[CELL_PULSE] = (float)x;
        double g = cell_conductance(p, cell, noisy ? block_normal(u) : 0.0);
        assert(isfinite(g) && g >= 0.0);
        g_s[i] = (float)g;
    }
}

static void measured_bounds(const mx_device_params *p, const float *cells, float *g_lo_s,
                            float *g_hi_s, size_t n)
{
    const mx_measured_curve *c = p->measured.curve;
    assert(c && cells);
    const double mid = 0.5 * (c->g_min_s + c->g_max_s), half = 0.5 * (c->g_max_s - c->g_min_s);
    for (size_t i = 0; i < n; i++) {
        const float *cell = cells + i * CELL_FLOATS;
        if (cell[CELL_FAULT] != (float)FAULT_NONE) {
            g_lo_s[i] = g_hi_s[i] = (float)stuck_value(c, cell[CELL_FAULT]);
            continue;
        }
        const double f = (double)cell[CELL_D2D];
        const double w = mx_device_endurance_window(p, 0.5 * cell_reversals(cell));
        g_lo_s[i] = (float)(f * (mid - w * half));
        g_hi_s[i] = (float)(f * (mid + w * half));
    }
}

const mx_device_type mx_device_measured = {
    .name = "measured",
    .description = "conductance-vs-pulse curve measured on a device (CSV or HDF5 file), "
                   "monotone Steffen interpolation, cycle-to-cycle spread from the measurement, "
                   "lognormal device-to-device factor, stuck-at faults, endurance",
    .source = "the user's measurement; interpolation of Steffen, Astron. Astrophys. 239:443 "
              "(1990), as GSL gsl_interp_steffen",
    .validate = measured_validate,
    .cell_floats = CELL_FLOATS,
    .populate = measured_populate,
    .program = measured_program,
    .pulse = measured_pulse,
    .read = mx_device_read_relative,
    .age = NULL, /* the curve says nothing about retention */
    .bounds = measured_bounds,
};
