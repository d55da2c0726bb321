/* SPDX-License-Identifier: MIT
 *
 * test_device_measured.c: the measured-curve device (devices/measured.c).
 * The sample curve (examples/devices/sample-curve.csv) against the closed
 * form its comments document; the same curve written to HDF5 here with the
 * HDF5 C API and read back; the Steffen interpolation (table points exact,
 * monotone between, closer to the closed form than straight lines) and its
 * inverse; the cell: pulse trains along the mean curve, polarity changes,
 * the cycle-to-cycle spread against the table's standard deviation, the
 * lognormal device-to-device factor, stuck-at faults, endurance, open-loop
 * programming; validation; then every documented error of both file formats
 * provoked with small files crafted in a temporary folder, and failed
 * allocations (the sanitizer build checks that nothing leaks).
 *
 * Statistical tests are deterministic by seed and fail beyond 4 standard
 * errors; each says how its standard error is computed.
 */
#include "tests/support/mx_test.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "core/core.h"
#include "core/rng.h"
#include "devices/devices.h"
#include "devices/measured.h"
#include "mx_build_config.h"

#define SEED 20240917u

/* A non-NULL curve pointer that failed loads must overwrite with NULL. */
static char not_null_target;
#define NOT_NULL ((mx_measured_curve *)(void *)&not_null_target)

/* The closed form examples/devices/sample-curve.csv was made from (see its
 * comments): NeuroSim's nonlinear curve, NL 2 (A = 0.6090·P_max), P_max = 50,
 * window [1 µS, 10 µS], 2 % spread. */
#define SAMPLE_P_MAX 50
#define SAMPLE_A (0.6090 * SAMPLE_P_MAX)
#define SAMPLE_G_MIN 1e-6
#define SAMPLE_G_MAX 1e-5
#define SAMPLE_SPREAD 0.02

static double sample_b(void) { return (SAMPLE_G_MAX - SAMPLE_G_MIN) / (1.0 - exp(-SAMPLE_P_MAX / SAMPLE_A)); }
static double sample_ltp(double p) { return SAMPLE_G_MIN + sample_b() * (1.0 - exp(-p / SAMPLE_A)); }
static double sample_ltd(double p) { return SAMPLE_G_MAX - sample_b() * (1.0 - exp(-p / SAMPLE_A)); }

/* ---- files ---------------------------------------------------------------- */

static char tmp_dir[256];
static char tmp_files[128][512];
static size_t n_tmp_files;

static const char *tmp_path(const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmp_dir, name);
    for (size_t i = 0; i < n_tmp_files; i++)
        if (strcmp(tmp_files[i], p) == 0)
            return tmp_files[i];
    assert_true(n_tmp_files < sizeof tmp_files / sizeof tmp_files[0]);
    memcpy(tmp_files[n_tmp_files], p, sizeof p);
    return tmp_files[n_tmp_files++];
}

static const char *write_bytes(const char *name, const void *bytes, size_t len)
{
    const char *path = tmp_path(name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return path;
}

static const char *write_text(const char *name, const char *text)
{
    return write_bytes(name, text, strlen(text));
}

static const char *sample_path(void)
{
    static char path[1024];
    const char *root = getenv("MEMXBAR_SOURCE_ROOT");
    snprintf(path, sizeof path, "%s/examples/devices/sample-curve.csv",
             root && *root ? root : MX_SOURCE_ROOT);
    return path;
}

static mx_measured_curve *load_ok(const char *path)
{
    mx_measured_curve *c = NULL;
    mx_status st = mx_measured_curve_load(path, &c);
    if (st != MX_OK) {
        print_error("loading %s failed: %s\n", path, mx_last_error());
        fail();
    }
    assert_non_null(c);
    return c;
}

static mx_measured_curve *load_sample(void) { return load_ok(sample_path()); }

/* One branch of an HDF5 curve as the tests write it; a field may be left
 * out, written 2-D, or written as strings to provoke errors. */
typedef struct h5_branch {
    const char *name;    /* group name; NULL = no group */
    size_t n[3];         /* elements of pulse, g_mean_s, g_std_s */
    const double *v[3];  /* their values */
    int omit;            /* field index left out, or −1 */
    int rank2;           /* field index written as (n, 1), or −1 */
    int strings;         /* field index written as strings, or −1 */
    int integer_pulse;   /* pulse written as int64 */
} h5_branch;

static const char *const h5_fields[3] = {"pulse", "g_mean_s", "g_std_s"};

static const char *write_h5(const char *name, const h5_branch *branches, size_t nb)
{
    const char *path = tmp_path(name);
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(file >= 0);
    for (size_t b = 0; b < nb; b++) {
        const h5_branch *br = &branches[b];
        if (!br->name)
            continue;
        hid_t group = H5Gcreate2(file, br->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        assert_true(group >= 0);
        for (int k = 0; k < 3; k++) {
            if (k == br->omit)
                continue;
            hsize_t dims[2] = {br->n[k], 1};
            hid_t space = H5Screate_simple(k == br->rank2 ? 2 : 1, dims, NULL);
            assert_true(space >= 0);
            hid_t dset;
            if (k == br->strings) {
                hid_t type = H5Tcopy(H5T_C_S1);
                H5Tset_size(type, 16);
                char text[64][16];
                memset(text, 0, sizeof text);
                for (size_t i = 0; i < br->n[k] && i < 64; i++)
                    snprintf(text[i], sizeof text[i], "%g", br->v[k][i] * 1e6);
                dset = H5Dcreate2(group, h5_fields[k], type, space, H5P_DEFAULT, H5P_DEFAULT,
                                  H5P_DEFAULT);
                assert_true(dset >= 0);
                assert_true(H5Dwrite(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, text) >= 0);
                H5Tclose(type);
            } else if (k == 0 && br->integer_pulse) {
                long long iv[256];
                assert_true(br->n[k] <= 256);
                for (size_t i = 0; i < br->n[k]; i++)
                    iv[i] = (long long)br->v[k][i];
                dset = H5Dcreate2(group, h5_fields[k], H5T_STD_I64LE, space, H5P_DEFAULT,
                                  H5P_DEFAULT, H5P_DEFAULT);
                assert_true(dset >= 0);
                assert_true(H5Dwrite(dset, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, iv) >=
                            0);
            } else {
                dset = H5Dcreate2(group, h5_fields[k], H5T_IEEE_F64LE, space, H5P_DEFAULT,
                                  H5P_DEFAULT, H5P_DEFAULT);
                assert_true(dset >= 0);
                if (br->n[k])
                    assert_true(H5Dwrite(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                         br->v[k]) >= 0);
            }
            H5Dclose(dset);
            H5Sclose(space);
        }
        H5Gclose(group);
    }
    H5Fclose(file);
    return path;
}

/* A branch spec holding the table of a loaded curve. */
static h5_branch h5_from_curve(const mx_measured_curve *c, mx_measured_branch b)
{
    h5_branch br = {.name = mx_measured_branch_name(b), .omit = -1, .rank2 = -1, .strings = -1};
    size_t n = mx_measured_curve_table(c, b, &br.v[0], &br.v[1], &br.v[2]);
    br.n[0] = br.n[1] = br.n[2] = n;
    return br;
}

static int group_setup(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/memxbar-test-measured-XXXXXX",
             base && *base ? base : "/tmp");
    if (!mkdtemp(tmp_dir))
        return -1;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* the tests provoke HDF5 errors */
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < n_tmp_files; i++) {
        chmod(tmp_files[i], 0700);
        unlink(tmp_files[i]);
        rmdir(tmp_files[i]); /* the ones made as folders */
    }
    rmdir(tmp_dir);
    return 0;
}

#define assert_error_contains(needle) assert_error_contains_impl((needle), __FILE__, __LINE__)
static void assert_error_contains_impl(const char *needle, const char *file, int line)
{
    const char *msg = mx_last_error();
    if (!strstr(msg, needle)) {
        print_error("%s:%d: error message lacks \"%s\": \"%s\"\n", file, line, needle, msg);
        _fail(file, line);
    }
}

/* ---- the device, driven directly ----------------------------------------- */

#define CELL_FLOATS_MAX MX_DEVICE_CELL_FLOATS_MAX

typedef struct cells {
    size_t n;
    float *rec; /* (n, cell_floats) */
    float *g;   /* (n) S */
} cells;

static void params_for(mx_device_params *p, const mx_measured_curve *c)
{
    mx_device_params_default(p);
    mx_measured_apply(p, c);
    assert_int_equal(mx_device_measured.validate(p), MX_OK);
}

static cells cells_make(const mx_device_params *p, size_t n, uint64_t item)
{
    cells s = {.n = n};
    s.rec = calloc(n * mx_device_measured.cell_floats, sizeof *s.rec);
    s.g = calloc(n, sizeof *s.g);
    assert_non_null(s.rec);
    assert_non_null(s.g);
    mx_rng r;
    mx_rng_init_named(&r, SEED, "device.population", item);
    mx_device_measured.populate(p, s.rec, n, &r);
    for (size_t i = 0; i < n; i++)
        s.g[i] = (float)mx_measured_curve_mean(p->measured.curve, MX_MEASURED_LTP, 0.0);
    return s;
}

static void cells_free(cells *s)
{
    free(s->rec);
    free(s->g);
}

static const float *cell_rec(const cells *s, size_t i)
{
    return s->rec + i * mx_device_measured.cell_floats;
}

/* The same train on every cell, drawing from item `item` of device.pulse. */
static void pulse_all(const mx_device_params *p, cells *s, int32_t count, mx_rng *r)
{
    mx_pulse *pulses = calloc(s->n, sizeof *pulses);
    assert_non_null(pulses);
    for (size_t i = 0; i < s->n; i++)
        pulses[i].count = count;
    mx_device_measured.pulse(p, s->rec, s->g, pulses, s->n, r);
    free(pulses);
}

static void moments(const float *x, size_t n, double *mean, double *var)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += (double)x[i];
    double m = sum / (double)n, ss = 0.0;
    for (size_t i = 0; i < n; i++)
        ss += ((double)x[i] - m) * ((double)x[i] - m);
    *mean = m;
    *var = ss / (double)(n - 1);
}

/* Conductances are floats: a value passes through one float rounding
 * (relative 2^−24) and the double arithmetic before it; 4 float ulps. */
#define FLOAT_REL (4.0 * (double)FLT_EPSILON)

/* ---- the sample curve and the file formats -------------------------------- */

static void test_sample_csv_holds_the_documented_closed_form(void **state)
{
    (void)state;
    mx_measured_curve *c = load_sample();
    assert_string_equal(mx_measured_curve_path(c), sample_path());
    for (int b = 0; b < MX_MEASURED_BRANCHES; b++) {
        const double *p, *g, *s;
        size_t n = mx_measured_curve_table(c, (mx_measured_branch)b, &p, &g, &s);
        assert_int_equal(n, SAMPLE_P_MAX + 1);
        for (size_t i = 0; i < n; i++) {
            assert_true(p[i] == (double)i);
            double want = b == MX_MEASURED_LTP ? sample_ltp((double)i) : sample_ltd((double)i);
            /* printed with 10 significant digits: 5e-10 relative, and the
             * window's ends exactly */
            assert_close(g[i], want, 0.0, 1e-9);
            assert_close(s[i], SAMPLE_SPREAD * want, 0.0, 1e-9);
        }
    }
    assert_true(mx_measured_curve_g_min(c) == SAMPLE_G_MIN);
    assert_true(mx_measured_curve_g_max(c) == SAMPLE_G_MAX);
    double first, last;
    mx_measured_curve_pulse_range(c, MX_MEASURED_LTD, &first, &last);
    assert_true(first == 0.0 && last == SAMPLE_P_MAX);
    mx_measured_curve_free(c);
}

/* Two curves with bit-identical tables and identical interpolants. */
static void assert_same_curve(const mx_measured_curve *a, const mx_measured_curve *b)
{
    assert_true(mx_measured_curve_g_min(a) == mx_measured_curve_g_min(b));
    assert_true(mx_measured_curve_g_max(a) == mx_measured_curve_g_max(b));
    for (int br = 0; br < MX_MEASURED_BRANCHES; br++) {
        const double *pa, *ga, *sa, *pb, *gb, *sb;
        size_t na = mx_measured_curve_table(a, (mx_measured_branch)br, &pa, &ga, &sa);
        size_t nb = mx_measured_curve_table(b, (mx_measured_branch)br, &pb, &gb, &sb);
        assert_int_equal(na, nb);
        assert_memory_equal(pa, pb, na * sizeof *pa);
        assert_memory_equal(ga, gb, na * sizeof *ga);
        assert_memory_equal(sa, sb, na * sizeof *sa);
        for (double x = pa[0] - 1.0; x <= pa[na - 1] + 1.0; x += 0.37) {
            assert_true(mx_measured_curve_mean(a, (mx_measured_branch)br, x) ==
                        mx_measured_curve_mean(b, (mx_measured_branch)br, x));
            assert_true(mx_measured_curve_std(a, (mx_measured_branch)br, x) ==
                        mx_measured_curve_std(b, (mx_measured_branch)br, x));
        }
    }
}

static void test_hdf5_copy_of_the_sample_loads_the_same_curve(void **state)
{
    (void)state;
    mx_measured_curve *csv = load_sample();
    h5_branch br[2] = {h5_from_curve(csv, MX_MEASURED_LTP), h5_from_curve(csv, MX_MEASURED_LTD)};
    /* by extension, float pulse numbers */
    mx_measured_curve *h5 = load_ok(write_h5("sample.h5", br, 2));
    assert_same_curve(csv, h5);
    mx_measured_curve_free(h5);
    /* by content (no .h5 name), integer pulse numbers, groups in the other order */
    br[0].integer_pulse = br[1].integer_pulse = 1;
    h5_branch swapped[2] = {br[1], br[0]};
    h5 = load_ok(write_h5("sample-curve.dat", swapped, 2));
    assert_same_curve(csv, h5);
    mx_measured_curve_free(h5);
    mx_measured_curve_free(csv);
}

/* The small curve most malformed-file cases spoil one line of. */
static const char *const base_lines[] = {
    "# a small curve",            /* 1 */
    "branch,pulse,g_mean_s,g_std_s", /* 2 */
    "ltp,0,1e-6,1e-8",            /* 3 */
    "ltp,1,2e-6,2e-8",            /* 4 */
    "ltp,2,3e-6,3e-8",            /* 5 */
    "ltd,0,3e-6,3e-8",            /* 6 */
    "ltd,1,2.5e-6,2e-8",          /* 7 */
    "ltd,2,1e-6,1e-8",            /* 8 */
};
#define BASE_LINES (sizeof base_lines / sizeof base_lines[0])

/* The base text with line `line` (1-based) replaced by `with` (NULL: line
 * dropped); line 0 replaces nothing. */
static const char *base_variant(const char *name, size_t line, const char *with)
{
    char text[2048];
    size_t o = 0;
    for (size_t i = 1; i <= BASE_LINES; i++) {
        const char *s = i == line ? with : base_lines[i - 1];
        if (s)
            o += (size_t)snprintf(text + o, sizeof text - o, "%s\n", s);
    }
    return write_text(name, text);
}

static void test_csv_variants_load_the_same_curve(void **state)
{
    (void)state;
    mx_measured_curve *base = load_ok(base_variant("base.csv", 0, NULL));
    const char *const variants[] = {
        /* columns in another order, spaces around fields */
        "pulse, g_std_s ,branch,g_mean_s\n0,1e-8,ltp,1e-6\n1,2e-8,ltp,2e-6\n2,3e-8,ltp,3e-6\n"
        "0,3e-8,ltd,3e-6\n1,2e-8,ltd,2.5e-6\n2,1e-8,ltd,1e-6\n",
        /* CRLF, upper case branch names, interleaved branches, no final newline */
        "# crlf\r\nbranch,pulse,g_mean_s,g_std_s\r\nLTD,0,3e-6,3e-8\r\nltp,0,1e-6,1e-8\r\n"
        "Ltd,1,2.5e-6,2e-8\r\nltp,1,2e-6,2e-8\r\n\r\nltd,2,1e-6,1e-8\r\nltp,2,3e-6,3e-8",
        /* blank and indented comment lines between rows */
        "\n  # indented comment\nbranch,pulse,g_mean_s,g_std_s\nltp,0,1e-6,1e-8\n\n# mid\n"
        "ltp,1,2e-6,2e-8\nltp,2,3e-6,3e-8\nltd,0,3e-6,3e-8\nltd,1,2.5e-6,2e-8\nltd,2,1e-6,1e-8\n",
    };
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "variant-%zu.csv", i);
        mx_measured_curve *c = load_ok(write_text(name, variants[i]));
        assert_same_curve(base, c);
        mx_measured_curve_free(c);
    }
    mx_measured_curve_free(base);
}

/* ---- interpolation --------------------------------------------------------- */

static void test_interpolation_hits_table_points_and_is_monotone_between(void **state)
{
    (void)state;
    mx_measured_curve *c = load_sample();
    for (int b = 0; b < MX_MEASURED_BRANCHES; b++) {
        const mx_measured_branch br = (mx_measured_branch)b;
        const double dir = br == MX_MEASURED_LTP ? 1.0 : -1.0;
        const double *p, *g, *s;
        size_t n = mx_measured_curve_table(c, br, &p, &g, &s);
        for (size_t i = 0; i < n; i++) {
            assert_true(mx_measured_curve_mean(c, br, p[i]) == g[i]);
            assert_true(mx_measured_curve_std(c, br, p[i]) == s[i]);
        }
        /* 64 points in every interval: monotone, and inside the interval's
         * own table values (no overshoot) */
        double prev = mx_measured_curve_mean(c, br, p[0]);
        for (size_t i = 0; i + 1 < n; i++)
            for (int k = 1; k <= 64; k++) {
                double x = p[i] + (p[i + 1] - p[i]) * k / 64.0;
                double m = mx_measured_curve_mean(c, br, x), sd = mx_measured_curve_std(c, br, x);
                assert_true(dir * (m - prev) >= 0.0);
                assert_true(dir * (m - g[i]) >= 0.0 && dir * (g[i + 1] - m) >= 0.0);
                assert_true(sd >= fmin(s[i], s[i + 1]) && sd <= fmax(s[i], s[i + 1]));
                prev = m;
            }
        /* held at the ends */
        assert_true(mx_measured_curve_mean(c, br, -3.0) == g[0]);
        assert_true(mx_measured_curve_mean(c, br, 1e9) == g[n - 1]);
        assert_true(mx_measured_curve_mean(c, br, (double)NAN) == g[0]);
    }
    mx_measured_curve_free(c);
}

static void test_steffen_interpolation_beats_straight_lines_on_the_closed_form(void **state)
{
    (void)state;
    /* Between integer pulses the sample's closed form is known. Linear
     * interpolation misses it at a midpoint by ≈ g''/8 = B e^(−P/A)/(8A²)
     * (1.5e-9 S at P = 0). The Steffen spline is O(h³) inside the table —
     * measured 3e-13 S at worst, 5000× below linear — and falls back to a
     * one-sided parabola in the first and last interval (measured 7.5e-10
     * and 1.5e-10 S, half of linear's). Asserted: 1000× better inside, and
     * better than linear at the ends. */
    mx_measured_curve *c = load_sample();
    for (int b = 0; b < MX_MEASURED_BRANCHES; b++) {
        const mx_measured_branch br = (mx_measured_branch)b;
        double (*exact_of)(double) = br == MX_MEASURED_LTP ? sample_ltp : sample_ltd;
        for (int i = 0; i < SAMPLE_P_MAX; i++) {
            const double x = i + 0.5, exact = exact_of(x);
            const double spline = fabs(mx_measured_curve_mean(c, br, x) - exact);
            const double linear = fabs(0.5 * (exact_of(i) + exact_of(i + 1)) - exact);
            const int end = i == 0 || i == SAMPLE_P_MAX - 1;
            if (!(linear > 2e-10 && spline < (end ? 1.0 : 1e-3) * linear)) {
                print_error("%s interval %d: spline error %g S vs linear %g S\n",
                            mx_measured_branch_name(br), i, spline, linear);
                fail();
            }
        }
    }
    mx_measured_curve_free(c);
}

static void test_inverse_returns_table_pulses_and_inverts_the_spline(void **state)
{
    (void)state;
    mx_measured_curve *c = load_sample();
    for (int b = 0; b < MX_MEASURED_BRANCHES; b++) {
        const mx_measured_branch br = (mx_measured_branch)b;
        const double *p, *g;
        size_t n = mx_measured_curve_table(c, br, &p, &g, NULL);
        for (size_t i = 0; i < n; i++)
            assert_true(mx_measured_curve_pulse_at(c, br, g[i]) == p[i]);
        for (double x = 0.013; x < SAMPLE_P_MAX; x += 0.731) {
            double y = mx_measured_curve_pulse_at(c, br, mx_measured_curve_mean(c, br, x));
            /* bisection to adjacent doubles; the slope is ≥ 0.08 µS/pulse,
             * so a few ulps of g are ≪ 1e-9 pulses */
            assert_close(y, x, 1e-9, 0.0);
        }
        /* beyond the branch: its ends */
        assert_true(mx_measured_curve_pulse_at(c, br, 0.5e-6) ==
                    (br == MX_MEASURED_LTP ? 0.0 : SAMPLE_P_MAX));
        assert_true(mx_measured_curve_pulse_at(c, br, 2e-5) ==
                    (br == MX_MEASURED_LTP ? SAMPLE_P_MAX : 0.0));
    }
    mx_measured_curve_free(c);
}

static void test_two_point_branches_are_linear_and_flat_runs_invert_to_their_start(void **state)
{
    (void)state;
    mx_measured_curve *c = load_ok(write_text(
        "two-points.csv", "branch,pulse,g_mean_s,g_std_s\n"
                          "ltp,0,1e-6,0\nltp,10,5e-6,0\nltp,20,5e-6,0\nltp,30,6e-6,0\n"
                          "ltd,0,6e-6,2e-8\nltd,8,2e-6,4e-8\n"));
    /* ltd has 2 rows: a straight line */
    assert_close(mx_measured_curve_mean(c, MX_MEASURED_LTD, 2.0), 5e-6, 0.0, 4 * DBL_EPSILON);
    assert_close(mx_measured_curve_std(c, MX_MEASURED_LTD, 6.0), 3.5e-8, 0.0, 4 * DBL_EPSILON);
    assert_close(mx_measured_curve_pulse_at(c, MX_MEASURED_LTD, 3e-6), 6.0, 1e-12, 0.0);
    /* ltp saturates on [10, 20]: flat there (Steffen keeps flat data flat),
     * and 5 µS inverts to the first pulse of the run */
    for (double x = 10.0; x <= 20.0; x += 0.5)
        assert_true(mx_measured_curve_mean(c, MX_MEASURED_LTP, x) == 5e-6);
    assert_true(mx_measured_curve_pulse_at(c, MX_MEASURED_LTP, 5e-6) == 10.0);
    assert_true(mx_measured_curve_g_min(c) == 1e-6 && mx_measured_curve_g_max(c) == 6e-6);
    mx_measured_curve_free(c);
}

/* ---- the cell -------------------------------------------------------------- */

static void test_registry_finds_the_measured_device(void **state)
{
    (void)state;
    assert_ptr_equal(mx_device_lookup("measured"), &mx_device_measured);
    assert_true(mx_device_measured.cell_floats > 0 &&
                mx_device_measured.cell_floats <= MX_DEVICE_CELL_FLOATS_MAX);
    assert_non_null(mx_device_measured.populate);
    assert_non_null(mx_device_measured.pulse);
    assert_non_null(mx_device_measured.bounds);
    assert_ptr_equal(mx_device_measured.read, mx_device_read_relative);
}

static void test_pulse_trains_follow_the_mean_curve_without_spread(void **state)
{
    (void)state;
    mx_measured_curve *c = load_sample();
    mx_device_params p;
    params_for(&p, c);
    p.measured.spread_scale = 0.0;
    const double *g_up, *g_down;
    mx_measured_curve_table(c, MX_MEASURED_LTP, NULL, &g_up, NULL);
    mx_measured_curve_table(c, MX_MEASURED_LTD, NULL, &g_down, NULL);
    cells one = cells_make(&p, 1, 0), trains = cells_make(&p, 1, 1);
    mx_rng r;
    mx_rng_init_named(&r, SEED, "device.pulse", 0);
    /* single pulses up the ltp table, past its end (saturation) */
    for (int k = 1; k <= SAMPLE_P_MAX + 5; k++) {
        pulse_all(&p, &one, 1, &r);
        assert_true(one.g[0] == (float)g_up[k < SAMPLE_P_MAX ? k : SAMPLE_P_MAX]);
    }
    /* then down: g_max is the first ltd row, so pulse k gives row k */
    for (int k = 1; k <= SAMPLE_P_MAX; k++) {
        pulse_all(&p, &one, -1, &r);
        assert_true(one.g[0] == (float)g_down[k]);
    }
    /* trains of n equal n single pulses */
    pulse_all(&p, &trains, 17, &r);
    assert_true(trains.g[0] == (float)g_up[17]);
    pulse_all(&p, &trains, 33, &r);
    assert_true(trains.g[0] == (float)g_up[50]);
    pulse_all(&p, &trains, -20, &r);
    assert_true(trains.g[0] == (float)g_down[20]);
    /* a zero train leaves cell and conductance alone */
    trains.g[0] = 1.234e-6f;
    pulse_all(&p, &trains, 0, &r);
    assert_true(trains.g[0] == 1.234e-6f);
    double cycles;
    mx_measured_cell_state(cell_rec(&one, 0), NULL, NULL, &cycles);
    assert_true(cycles == 0.5); /* one reversal */
    mx_measured_cell_state(cell_rec(&trains, 0), NULL, NULL, &cycles);
    assert_true(cycles == 0.5);
    cells_free(&one);
    cells_free(&trains);
    mx_measured_curve_free(c);
}

static void test_polarity_change_continues_from_the_same_mean_conductance(void **state)
{
    (void)state;
    mx_measured_curve *c = load_sample();
    mx_device_params p;
    params_for(&p, c);
    p.measured.spread_scale = 0.0;
    cells s = cells_make(&p, 1, 2);
    mx_rng r;
    mx_rng_init_named(&r, SEED, "device.pulse", 1);
    pulse_all(&p, &s, 20, &r);
    const double g20 = sample_ltp(20.0);
    pulse_all(&p, &s, -5, &r);
    mx_measured_branch b;
    double x, cycles;
    mx_measured_cell_state(cell_rec(&s, 0), &b, &x, &cycles);
    assert_int_equal(b, MX_MEASURED_LTD);
    /* The closed form's ltd pulse at g20, plus 5: the spline's inverse is
     * within its interpolation error (≈ 1e-12 S over a slope ≈ 0.1 µS/pulse,
     * so 1e-4 pulses is loose) and the coordinate is a float. */
    const double x_exact = -SAMPLE_A * log(1.0 - (SAMPLE_G_MAX - g20) / sample_b()) + 5.0;
    assert_close(x, x_exact, 1e-4, 0.0);
    assert_close(s.g[0], mx_measured_curve_mean(c, MX_MEASURED_LTD, x), 0.0, FLOAT_REL);
    assert_close(s.g[0], sample_ltd(x_exact), 0.0, 1e-4);
    /* and back up: lands where ltp has that conductance */
    const double g_now = mx_measured_curve_mean(c, MX_MEASURED_LTD, x);
    pulse_all(&p, &s, 3, &r);
    mx_measured_cell_state(cell_rec(&s, 0), &b, &x, &cycles);
    assert_int_equal(b, MX_MEASURED_LTP);
    assert_close(x, mx_measured_curve_pulse_at(c, MX_MEASURED_LTP, g_now) + 3.0, 1e-5, 0.0);
    assert_true(cycles == 1.0); /* two reversals */
    cells_free(&s);
    mx_measured_curve_free(c);
}

/* Sample mean and std of N cells against the table's mean and std at the
 * cells' common coordinate. SE of the mean = σ/√N; SE of the sample std of a
 * normal ≈ σ/√(2(N − 1)). */
static void assert_spread(const cells *s, double mean, double sd)
{
    double m, v;
    moments(s->g, s->n, &m, &v);
    const double n = (double)s->n;
    assert_within_sigma(m, mean, sd / sqrt(n), 4.0);
    assert_within_sigma(sqrt(v), sd, sd / sqrt(2.0 * (n - 1.0)), 4.0);
}

static void test_spread_at_a_pulse_matches_the_table_std_however_the_train_is_split(void **state)
{
    (void)state;
    mx_measured_curve *c = load_sample();
    mx_device_params p;
    params_for(&p, c);
    const size_t n = 20000;
    cells singles = cells_make(&p, n, 3), train = cells_make(&p, n, 4);
    mx_rng r;
    mx_rng_init_named(&r, SEED, "device.pulse", 2);
    for (int k = 0; k < 25; k++)
        pulse_all(&p, &singles, 1, &r);
    pulse_all(&p, &train, 25, &r);
    /* the measured spread is that of G at pulse 25 over repeated cycles:
     * the same whether reached by 25 single pulses or one train */
    const double *g, *sd;
    mx_measured_curve_table(c, MX_MEASURED_LTP, NULL, &g, &sd);
    assert_spread(&singles, g[25], sd[25]);
    assert_spread(&train, g[25], sd[25]);
    /* off the table: a polarity change puts the cells between ltd rows,
     * where the spline's std applies (all cells share the coordinate) */
    pulse_all(&p, &train, -3, &r);
    double x;
    mx_measured_cell_state(cell_rec(&train, 0), NULL, &x, NULL);
    assert_true(x != floor(x));
    assert_spread(&train, mx_measured_curve_mean(c, MX_MEASURED_LTD, x),
                  mx_measured_curve_std(c, MX_MEASURED_LTD, x));
    /* spread_scale multiplies it */
    p.measured.spread_scale = 2.5;
    pulse_all(&p, &singles, -10, &r);
    mx_measured_cell_state(cell_rec(&singles, 0), NULL, &x, NULL);
    assert_spread(&singles, mx_measured_curve_mean(c, MX_MEASURED_LTD, x),
                  2.5 * mx_measured_curve_std(c, MX_MEASURED_LTD, x));
    cells_free(&singles);
    cells_free(&train);
    mx_measured_curve_free(c);
}

static void test_device_to_device_factor_is_lognormal_with_the_given_std(void **state)
{
    (void)state;
    mx_measured_curve *c = load_sample();
    mx_device_params p;
    params_for(&p, c);
    p.measured.spread_scale = 0.0;
    p.d2d_sigma = 0.2;
    assert_int_equal(mx_device_measured.validate(&p), MX_OK);
    const size_t n = 20000;
    cells s = cells_make(&p, n, 5);
    mx_rng r;
    mx_rng_init_named(&r, SEED, "device.pulse", 3);
    pulse_all(&p, &s, 12, &r);
    /* g/ḡ(12) = f: mean 1 (SE = σ/√N), std σ (SE of the std of a lognormal
     * with σ = 0.2: √((κ − 1)/4N)·σ with kurtosis κ = e^4s² + 2e^3s² +
     * 3e^2s² − 3 ≈ 3.66 (s² = ln 1.04) → 0.82σ/√N) */
    float *f = malloc(n * sizeof *f);
    float *lo = malloc(n * sizeof *lo), *hi = malloc(n * sizeof *hi);
    assert_non_null(f);
    assert_non_null(lo);
    assert_non_null(hi);
    const double g12 = mx_measured_curve_mean(c, MX_MEASURED_LTP, 12.0);
    mx_device_measured.bounds(&p, s.rec, lo, hi, n);
    for (size_t i = 0; i < n; i++) {
        f[i] = (float)((double)s.g[i] / g12);
        /* each cell's window is the curve's scaled by its own factor */
        assert_close(lo[i], (double)f[i] * SAMPLE_G_MIN, 0.0, 2 * FLOAT_REL);
        assert_close(hi[i], (double)f[i] * SAMPLE_G_MAX, 0.0, 2 * FLOAT_REL);
    }
    double m, v;
    moments(f, n, &m, &v);
    assert_within_sigma(m, 1.0, 0.2 / sqrt((double)n), 4.0);
    const double s2 = log1p(0.04), kurt = exp(4 * s2) + 2 * exp(3 * s2) + 3 * exp(2 * s2) - 3;
    assert_within_sigma(sqrt(v), 0.2, 0.2 * sqrt((kurt - 1.0) / (4.0 * (double)n)), 4.0);
    free(f);
    free(lo);
    free(hi);
    cells_free(&s);
    mx_measured_curve_free(c);
}

static void test_stuck_cells_hold_the_window_ends_whatever_the_pulses(void **state)
{
    (void)state;
    mx_measured_curve *c = load_sample();
    mx_device_params p;
    params_for(&p, c);
    p.stuck_at_gmin_frac = 0.1;
    p.stuck_at_gmax_frac = 0.05;
    p.d2d_sigma = 0.1;
    assert_int_equal(mx_device_measured.validate(&p), MX_OK);
    const size_t n = 20000;
    cells s = cells_make(&p, n, 6);
    mx_rng r;
    mx_rng_init_named(&r, SEED, "device.pulse", 4);
    pulse_all(&p, &s, 30, &r);
    pulse_all(&p, &s, -7, &r);
    float *tgt = malloc(n * sizeof *tgt), *lo = malloc(n * sizeof *lo), *hi = malloc(n * sizeof *hi);
    assert_non_null(tgt);
    assert_non_null(lo);
    assert_non_null(hi);
    mx_device_measured.bounds(&p, s.rec, lo, hi, n);
    size_t at_lo = 0, at_hi = 0, pinned = 0;
    for (size_t i = 0; i < n; i++) {
        if (lo[i] == hi[i]) {
            assert_true(s.g[i] == lo[i]);
            pinned++;
            at_lo += s.g[i] == (float)SAMPLE_G_MIN;
            at_hi += s.g[i] == (float)SAMPLE_G_MAX;
        }
        tgt[i] = 5e-6f;
    }
    /* binomial counts: SE = √(N q (1 − q)) */
    assert_within_sigma((double)at_lo, 0.1 * n, sqrt(n * 0.1 * 0.9), 4.0);
    assert_within_sigma((double)at_hi, 0.05 * n, sqrt(n * 0.05 * 0.95), 4.0);
    assert_int_equal(at_lo + at_hi, pinned); /* pinned only at the window's ends */
    mx_device_measured.program(&p, s.rec, tgt, tgt, n, &r);
    for (size_t i = 0; i < n; i++)
        if (lo[i] == hi[i])
            assert_true(tgt[i] == lo[i]);
    free(tgt);
    free(lo);
    free(hi);
    cells_free(&s);
    mx_measured_curve_free(c);
}

static void test_endurance_narrows_the_window_about_its_middle(void **state)
{
    (void)state;
    mx_measured_curve *c = load_sample();
    mx_device_params p;
    params_for(&p, c);
    p.measured.spread_scale = 0.0;
    p.endurance_cycles = 1000.0;
    p.endurance_onset = 10.0;
    p.endurance_floor = 0.2;
    assert_int_equal(mx_device_measured.validate(&p), MX_OK);
    cells s = cells_make(&p, 1, 7);
    mx_rng r;
    mx_rng_init_named(&r, SEED, "device.pulse", 5);
    const double mid = 0.5 * (SAMPLE_G_MIN + SAMPLE_G_MAX);
    /* full swings: each reversal is half a cycle */
    for (int k = 1; k <= 2100; k++) {
        pulse_all(&p, &s, k % 2 ? -SAMPLE_P_MAX : SAMPLE_P_MAX, &r);
        double cycles;
        mx_measured_cell_state(cell_rec(&s, 0), NULL, NULL, &cycles);
        assert_true(cycles == 0.5 * k);
        if (k % 100 == 0 || k == 21 || k == 20) {
            const double w = mx_device_endurance_window(&p, cycles);
            float lo, hi;
            mx_device_measured.bounds(&p, s.rec, &lo, &hi, 1);
            assert_close(lo, mid - w * (mid - SAMPLE_G_MIN), 0.0, FLOAT_REL);
            assert_close(hi, mid + w * (SAMPLE_G_MAX - mid), 0.0, FLOAT_REL);
            assert_close(s.g[0], k % 2 ? lo : hi, 0.0, FLOAT_REL);
        }
    }
    /* past endurance_cycles: the floor */
    float lo, hi;
    mx_device_measured.bounds(&p, s.rec, &lo, &hi, 1);
    assert_close(hi - lo, 0.2 * (SAMPLE_G_MAX - SAMPLE_G_MIN), 0.0, 8 * FLOAT_REL);
    cells_free(&s);
    mx_measured_curve_free(c);
}

static void test_program_reaches_the_target_on_the_mean_curve(void **state)
{
    (void)state;
    mx_measured_curve *c = load_sample();
    mx_device_params p;
    params_for(&p, c);
    p.measured.spread_scale = 0.0;
    const double *g_up;
    mx_measured_curve_table(c, MX_MEASURED_LTP, NULL, &g_up, NULL);
    const size_t n = 400;
    cells s = cells_make(&p, n, 8);
    float *tgt = malloc(n * sizeof *tgt), *out = malloc(n * sizeof *out);
    assert_non_null(tgt);
    assert_non_null(out);
    mx_rng r;
    mx_rng_init_named(&r, SEED, "device.program", 0);
    /* cells left in assorted states first: programming resets them */
    mx_pulse *mixed = calloc(n, sizeof *mixed);
    assert_non_null(mixed);
    for (size_t i = 0; i < n; i++)
        mixed[i].count = (int32_t)(i % 61) - 30;
    mx_device_measured.pulse(&p, s.rec, s.g, mixed, n, &r);
    /* table points are reached exactly; a target between rows reaches the
     * nearer one (whole pulses); outside the window, the window's ends */
    for (size_t i = 0; i < n; i++) {
        if (i <= SAMPLE_P_MAX)
            tgt[i] = (float)g_up[i];
        else
            tgt[i] = (float)(0.5e-6 + 10e-6 * (double)(i - SAMPLE_P_MAX - 1) /
                                          (double)(n - SAMPLE_P_MAX - 2));
    }
    mx_device_measured.program(&p, s.rec, tgt, out, n, &r);
    for (size_t i = 0; i < n; i++) {
        const double t = (double)tgt[i];
        double x, cycles;
        mx_measured_branch b;
        mx_measured_cell_state(cell_rec(&s, i), &b, &x, &cycles);
        assert_int_equal(b, MX_MEASURED_LTP);
        assert_true(x == floor(x) && x >= 0 && x <= SAMPLE_P_MAX);
        assert_true(out[i] == (float)g_up[(int)x]);
        if (i <= SAMPLE_P_MAX) {
            assert_true(x == (double)i);
        } else if (t <= SAMPLE_G_MIN) {
            assert_true(x == 0.0);
        } else if (t >= SAMPLE_G_MAX) {
            assert_true(x == SAMPLE_P_MAX);
        } else {
            /* no other whole pulse is nearer the target */
            int k = (int)x;
            double err = fabs(g_up[k] - t);
            if (k > 0)
                assert_true(err <= fabs(g_up[k - 1] - t));
            if (k < SAMPLE_P_MAX)
                assert_true(err <= fabs(g_up[k + 1] - t));
        }
        /* one cycle for the RESET–SET, plus the reversal of the mixed pulse */
        assert_true(cycles == (mixed[i].count < 0 ? 1.5 : 1.0));
    }
    /* with the spread: the mean and std of the table at the reached row
     * (SE as assert_spread) */
    p.measured.spread_scale = 1.0;
    cells many = cells_make(&p, 20000, 9);
    float *t2 = malloc(many.n * sizeof *t2);
    assert_non_null(t2);
    for (size_t i = 0; i < many.n; i++)
        t2[i] = (float)g_up[40];
    mx_device_measured.program(&p, many.rec, t2, many.g, many.n, &r);
    const double *sd;
    mx_measured_curve_table(c, MX_MEASURED_LTP, NULL, NULL, &sd);
    assert_spread(&many, g_up[40], sd[40]);
    free(t2);
    cells_free(&many);
    free(mixed);
    free(tgt);
    free(out);
    cells_free(&s);
    mx_measured_curve_free(c);
}

static void test_draws_per_cell_do_not_depend_on_the_parameters(void **state)
{
    (void)state;
    mx_measured_curve *c = load_sample();
    mx_device_params quiet, noisy;
    params_for(&quiet, c);
    params_for(&noisy, c);
    quiet.measured.spread_scale = 0.0;
    noisy.d2d_sigma = 0.3;
    noisy.stuck_at_gmin_frac = 0.2;
    const size_t n = 37;
    float rec[2][37 * CELL_FLOATS_MAX], g[2][37];
    mx_pulse pulses[37];
    for (size_t i = 0; i < n; i++)
        pulses[i] = (mx_pulse){.count = (int32_t)(i % 5) - 2};
    float tgt[37];
    for (size_t i = 0; i < n; i++)
        tgt[i] = 4e-6f;
    uint32_t next[2];
    const mx_device_params *ps[2] = {&quiet, &noisy};
    for (int k = 0; k < 2; k++) {
        mx_rng r;
        mx_rng_init_named(&r, SEED, "device.population", 11);
        mx_device_measured.populate(ps[k], rec[k], n, &r);
        mx_device_measured.pulse(ps[k], rec[k], g[k], pulses, n, &r);
        mx_device_measured.program(ps[k], rec[k], tgt, g[k], n, &r);
        next[k] = mx_rng_u32(&r);
    }
    assert_int_equal(next[0], next[1]);
    /* one known value, pinned so a change of draw order is caught: cell 1
     * of the noisy run after programming (4 µS target → the nearest ltp row,
     * 4.125 µS, times its D2D factor, plus its C2C draw); float result */
    assert_close(g[1][1], 3.2549232855672017e-06, 0.0, FLOAT_REL);
    mx_measured_curve_free(c);
}

static void test_read_is_the_relative_gaussian_read(void **state)
{
    (void)state;
    mx_measured_curve *c = load_sample();
    mx_device_params p;
    params_for(&p, c);
    float g[3] = {1e-6f, 5e-6f, 1e-5f}, out[3];
    mx_rng r;
    mx_rng_init_named(&r, SEED, "crossbar.read", 0);
    mx_device_measured.read(&p, g, out, 3, &r);
    assert_memory_equal(g, out, sizeof g); /* read_noise_sigma = 0 */
    mx_measured_curve_free(c);
}

/* ---- validation ------------------------------------------------------------ */

static void test_validate_requires_a_loaded_curve_and_its_window(void **state)
{
    (void)state;
    mx_device_params p;
    mx_device_params_default(&p);
    mx_clear_error();
    assert_int_equal(mx_device_measured.validate(&p), MX_EINVAL);
    assert_error_contains("hardware.device.measured.path");
    snprintf(p.measured.path, sizeof p.measured.path, "curve.csv");
    assert_int_equal(mx_device_measured.validate(&p), MX_EINVAL);
    assert_error_contains("hardware.device.measured.path");
    assert_error_contains("curve.csv");

    mx_measured_curve *c = load_ok(write_text(
        "window.csv", "branch,pulse,g_mean_s,g_std_s\nltp,0,2e-6,0\nltp,1,8e-6,0\n"
                      "ltd,0,9e-6,0\nltd,1,3e-6,0\n"));
    p.measured.curve = c; /* without mx_measured_apply: the default window */
    assert_int_equal(mx_device_measured.validate(&p), MX_EINVAL);
    assert_error_contains("hardware.device.g_min_s");
    mx_measured_apply(&p, c);
    assert_true(p.g_min_s == 2e-6 && p.g_max_s == 9e-6); /* either branch's extremes */
    assert_string_equal(p.measured.path, "curve.csv"); /* the config's, untouched */
    assert_int_equal(mx_device_measured.validate(&p), MX_OK);
    p.g_max_s = 1e-5;
    assert_int_equal(mx_device_measured.validate(&p), MX_EINVAL);
    assert_error_contains("hardware.device.g_max_s");
    mx_measured_apply(&p, c);

    struct {
        const char *field;
        double *where;
        double value;
    } bad[] = {
        {"hardware.device.measured.spread_scale", &p.measured.spread_scale, -0.5},
        {"hardware.device.measured.spread_scale", &p.measured.spread_scale, (double)NAN},
        {"hardware.device.d2d_sigma", &p.d2d_sigma, -0.1},
        {"hardware.device.prog_noise[1]", &p.prog_noise_coeffs[1], 0.01},
        {"hardware.device.read_noise_sigma", &p.read_noise_sigma, -1.0},
        {"hardware.device.stuck_at_gmin", &p.stuck_at_gmin_frac, 2.0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double keep = *bad[i].where;
        *bad[i].where = bad[i].value;
        mx_clear_error();
        assert_int_equal(mx_device_measured.validate(&p), MX_EINVAL);
        assert_error_contains(bad[i].field);
        *bad[i].where = keep;
    }
    p.measured.spread_scale = 0.0; /* the mean curve only */
    assert_int_equal(mx_device_measured.validate(&p), MX_OK);
    mx_measured_curve_free(c);
}

/* ---- malformed files ------------------------------------------------------- */

typedef struct bad_csv {
    size_t line;          /* base line replaced (0 = whole text below) */
    const char *with;     /* its replacement; NULL drops it */
    const char *text;     /* whole file when line == 0 */
    const char *needle[3];/* the message must name each */
} bad_csv;

static void test_malformed_csv_files_are_refused_naming_line_and_field(void **state)
{
    (void)state;
    const bad_csv cases[] = {
        {4, "ltp,1,abc,2e-8", NULL, {":4:", "g_mean_s (column 3)", "'abc'"}},
        {4, "ltp,1,2e-6x,2e-8", NULL, {":4:", "g_mean_s", "'2e-6x'"}},
        {4, "ltp,1,,2e-8", NULL, {":4:", "g_mean_s", "empty field"}},
        {4, "ltp,one,2e-6,2e-8", NULL, {":4:", "pulse (column 2)", "expected a number"}},
        {5, "ltp,0.5,3e-6,3e-8", NULL, {":5:", "pulse (column 2)", "rise"}},
        {5, "ltp,1,3e-6,3e-8", NULL, {":5:", "duplicate pulse number 1", "line 4"}},
        {4, "ltp,1,-2e-6,2e-8", NULL, {":4:", "g_mean_s", "> 0 S"}},
        {3, "ltp,0,0,1e-8", NULL, {":3:", "g_mean_s", "> 0 S"}},
        {7, "ltd,1,2.5e-6,-2e-8", NULL, {":7:", "g_std_s (column 4)", ">= 0"}},
        {4, "ltp,1,nan,2e-8", NULL, {":4:", "g_mean_s", "finite"}},
        {4, "ltp,nan,2e-6,2e-8", NULL, {":4:", "pulse", "finite"}},
        {7, "ltd,1,2.5e-6,inf", NULL, {":7:", "g_std_s", "finite"}},
        {5, "ltp,2,1.5e-6,3e-8", NULL, {":5:", "g_mean_s", "monotone"}},
        {7, "ltd,1,3.5e-6,2e-8", NULL, {":7:", "g_mean_s", "monotone"}},
        {4, "ltp,1,2e-6", NULL, {":4:", "4 comma-separated fields", "got 3"}},
        {4, "ltp,1,2e-6,2e-8,9", NULL, {":4:", "4 comma-separated fields", "got 5"}},
        {4, "set,1,2e-6,2e-8", NULL, {":4:", "branch (column 1)", "'set'"}},
        {2, "branch,pulse,g_mean_s", NULL, {":2:", "header", "'g_std_s'"}},
        {2, "branch,pulse,g_mean_s,g_std_s,extra", NULL, {":2:", "column 5", "'extra'"}},
        {2, "branch,pulse,pulse,g_std_s", NULL, {":2:", "'pulse' named twice", "column 3"}},
        {2, NULL, NULL, {":2:", "header", "'ltp'"}},
        {0, NULL, "", {"empty", "header", NULL}},
        {0, NULL, "# only\n# comments\n\n", {"empty", NULL, NULL}},
        {0, NULL, "branch,pulse,g_mean_s,g_std_s\n", {"branch", "'ltp'", "no rows"}},
        {0, NULL,
         "branch,pulse,g_mean_s,g_std_s\nltp,0,1e-6,0\nltp,1,2e-6,0\n",
         {"branch", "'ltd'", "no rows"}},
        {0, NULL,
         "branch,pulse,g_mean_s,g_std_s\nltp,0,1e-6,0\nltp,1,2e-6,0\nltd,0,2e-6,0\n",
         {"branch ltd", "at least 2 points", "line 4"}},
        {0, NULL,
         "branch,pulse,g_mean_s,g_std_s\nltp,0,1e-6,0\nltp,1,1e-6,0\nltd,0,2e-6,0\nltd,1,1e-6,0\n",
         {"branch ltp", "flat", NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "bad-%zu.csv", i);
        const char *path = cases[i].line ? base_variant(name, cases[i].line, cases[i].with)
                                         : write_text(name, cases[i].text);
        mx_measured_curve *c = NOT_NULL; /* the load must reset it */
        mx_clear_error();
        mx_status st = mx_measured_curve_load(path, &c);
        if (st != MX_EFORMAT) {
            print_error("case %zu: status %d, message '%s'\n", i, (int)st, mx_last_error());
            fail();
        }
        assert_null(c);
        assert_error_contains(path);
        for (int k = 0; k < 3; k++)
            if (cases[i].needle[k])
                assert_error_contains(cases[i].needle[k]);
    }
    /* a NUL byte: not text */
    static const char binary[] = "branch,pulse,g_mean_s,g_std_s\nltp,0,1e-6\0,0\n";
    mx_measured_curve *c = NULL;
    assert_int_equal(mx_measured_curve_load(write_bytes("nul.csv", binary, sizeof binary - 1), &c),
                     MX_EFORMAT);
    assert_null(c);
    assert_error_contains(":2:");
    assert_error_contains("NUL");
}

static void test_malformed_hdf5_files_are_refused_naming_dataset_and_element(void **state)
{
    (void)state;
    static const double pulse[3] = {0, 1, 2}, up[3] = {1e-6, 2e-6, 3e-6},
                        down[3] = {3e-6, 2e-6, 1e-6}, sd[3] = {1e-8, 1e-8, 1e-8};
    static const double nan_up[3] = {1e-6, (double)NAN, 3e-6}, neg_sd[3] = {1e-8, 1e-8, -1e-8},
                        back[3] = {0, 2, 1}, dup[3] = {0, 0, 1};
    const h5_branch ltp = {"ltp", {3, 3, 3}, {pulse, up, sd}, -1, -1, -1, 0};
    const h5_branch ltd = {"ltd", {3, 3, 3}, {pulse, down, sd}, -1, -1, -1, 0};
    struct {
        h5_branch b[2];
        const char *needle[3];
    } cases[] = {
        {{ltp, {.name = NULL}}, {"/ltd", "missing", NULL}},
        {{{"ltp", {3, 3, 3}, {pulse, up, sd}, 2, -1, -1, 0}, ltd}, {"/ltp/g_std_s", "missing", NULL}},
        {{ltp, {"ltd", {3, 2, 3}, {pulse, down, sd}, -1, -1, -1, 0}},
         {"/ltd/g_mean_s", "expected 3 elements", "got 2"}},
        {{{"ltp", {3, 3, 3}, {pulse, up, sd}, -1, 1, -1, 0}, ltd}, {"/ltp/g_mean_s", "1-D", "rank 2"}},
        {{{"ltp", {3, 3, 3}, {pulse, up, sd}, -1, -1, 2, 0}, ltd}, {"/ltp/g_std_s", "numbers", NULL}},
        {{{"ltp", {3, 3, 3}, {pulse, nan_up, sd}, -1, -1, -1, 0}, ltd},
         {"/ltp/g_mean_s[1]", "finite", NULL}},
        {{ltp, {"ltd", {3, 3, 3}, {pulse, down, neg_sd}, -1, -1, -1, 0}},
         {"/ltd/g_std_s[2]", ">= 0", NULL}},
        {{{"ltp", {3, 3, 3}, {back, up, sd}, -1, -1, -1, 0}, ltd}, {"/ltp/pulse[2]", "rise", "element 1"}},
        {{{"ltp", {3, 3, 3}, {dup, up, sd}, -1, -1, -1, 0}, ltd},
         {"/ltp/pulse[1]", "duplicate", "element 0"}},
        {{{"ltp", {1, 1, 1}, {pulse, up, sd}, -1, -1, -1, 0}, ltd}, {"branch ltp", "at least 2", "got 1"}},
        {{ltp, {"ltd", {0, 0, 0}, {pulse, down, sd}, -1, -1, -1, 0}}, {"branch ltd", "got 0", NULL}},
        {{ltp, {"ltd", {3, 3, 3}, {pulse, up, sd}, -1, -1, -1, 0}}, {"/ltd/g_mean_s[1]", "monotone", NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "bad-%zu.h5", i);
        const char *path = write_h5(name, cases[i].b, 2);
        mx_measured_curve *c = NOT_NULL;
        mx_clear_error();
        mx_status st = mx_measured_curve_load(path, &c);
        if (st != MX_EFORMAT) {
            print_error("case %zu: status %d, message '%s'\n", i, (int)st, mx_last_error());
            fail();
        }
        assert_null(c);
        assert_error_contains(path);
        for (int k = 0; k < 3; k++)
            if (cases[i].needle[k])
                assert_error_contains(cases[i].needle[k]);
    }
    /* .h5 by name but not HDF5 inside */
    mx_measured_curve *c = NULL;
    const char *path = write_text("text.h5", "branch,pulse,g_mean_s,g_std_s\n");
    assert_int_equal(mx_measured_curve_load(path, &c), MX_EFORMAT);
    assert_null(c);
    assert_error_contains(path);
    assert_error_contains("HDF5");
}

static void test_missing_and_unreadable_files_are_io_errors(void **state)
{
    (void)state;
    mx_measured_curve *c = NULL;
    const char *missing = tmp_path("no-such-curve.csv");
    assert_int_equal(mx_measured_curve_load(missing, &c), MX_EIO);
    assert_null(c);
    assert_error_contains(missing);
    assert_error_contains("No such file");
    /* a folder */
    const char *dir = tmp_path("a-folder.csv");
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(mx_measured_curve_load(dir, &c), MX_EIO);
    assert_null(c);
    assert_error_contains(dir);
    assert_error_contains("folder");
    /* no read permission (root reads anyway) */
    if (geteuid() != 0) {
        const char *locked = base_variant("locked.csv", 0, NULL);
        assert_int_equal(chmod(locked, 0), 0);
        assert_int_equal(mx_measured_curve_load(locked, &c), MX_EIO);
        assert_null(c);
        assert_error_contains("Permission denied");
    }
}

static void test_failed_allocations_leave_nothing_behind(void **state)
{
    (void)state;
    mx_measured_curve *csv = load_sample();
    h5_branch br[2] = {h5_from_curve(csv, MX_MEASURED_LTP), h5_from_curve(csv, MX_MEASURED_LTD)};
    const char *paths[2] = {sample_path(), write_h5("alloc.h5", br, 2)};
    for (int f = 0; f < 2; f++) {
        int succeeded = 0;
        for (long k = 1; k < 64 && !succeeded; k++) {
            mx_measured_curve *c = NOT_NULL;
            mx_alloc_fail_after(k);
            mx_status st = mx_measured_curve_load(paths[f], &c);
            mx_alloc_fail_after(0);
            if (st == MX_OK) {
                assert_same_curve(csv, c);
                mx_measured_curve_free(c);
                succeeded = 1;
            } else {
                assert_int_equal(st, MX_ENOMEM);
                assert_null(c);
            }
        }
        assert_true(succeeded);
    }
    mx_measured_curve_free(csv);
    mx_measured_curve_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_csv_holds_the_documented_closed_form),
        cmocka_unit_test(test_hdf5_copy_of_the_sample_loads_the_same_curve),
        cmocka_unit_test(test_csv_variants_load_the_same_curve),
        cmocka_unit_test(test_interpolation_hits_table_points_and_is_monotone_between),
        cmocka_unit_test(test_steffen_interpolation_beats_straight_lines_on_the_closed_form),
        cmocka_unit_test(test_inverse_returns_table_pulses_and_inverts_the_spline),
        cmocka_unit_test(test_two_point_branches_are_linear_and_flat_runs_invert_to_their_start),
        cmocka_unit_test(test_registry_finds_the_measured_device),
        cmocka_unit_test(test_pulse_trains_follow_the_mean_curve_without_spread),
        cmocka_unit_test(test_polarity_change_continues_from_the_same_mean_conductance),
        cmocka_unit_test(test_spread_at_a_pulse_matches_the_table_std_however_the_train_is_split),
        cmocka_unit_test(test_device_to_device_factor_is_lognormal_with_the_given_std),
        cmocka_unit_test(test_stuck_cells_hold_the_window_ends_whatever_the_pulses),
        cmocka_unit_test(test_endurance_narrows_the_window_about_its_middle),
        cmocka_unit_test(test_program_reaches_the_target_on_the_mean_curve),
        cmocka_unit_test(test_draws_per_cell_do_not_depend_on_the_parameters),
        cmocka_unit_test(test_read_is_the_relative_gaussian_read),
        cmocka_unit_test(test_validate_requires_a_loaded_curve_and_its_window),
        cmocka_unit_test(test_malformed_csv_files_are_refused_naming_line_and_field),
        cmocka_unit_test(test_malformed_hdf5_files_are_refused_naming_dataset_and_element),
        cmocka_unit_test(test_missing_and_unreadable_files_are_io_errors),
        cmocka_unit_test(test_failed_allocations_leave_nothing_behind),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
