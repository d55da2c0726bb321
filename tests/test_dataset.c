/* SPDX-License-Identifier: MIT
 *
 * test_dataset.c: the dataset loader against the real files in shared/data
 * (MNIST, Fashion-MNIST, UCI optdigits), then every documented error
 * provoked with small files crafted in a temporary folder. Reference values
 * were computed independently with Python's gzip module (see each comment).
 * Real-data tests skip only when no data folder exists at all.
 */
#include "tests/support/mx_test.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "experiments/dataset.h"
#include "mx_build_config.h"

/* --------------------------------------------------------------- helpers */

static char tmp_dir[256];
static char tmp_files[64][512];
static size_t n_tmp_files;

/* Assert the last error message contains `needle`; print it if not. */
#define assert_error_contains(needle) assert_error_contains_impl((needle), __FILE__, __LINE__)
static void assert_error_contains_impl(const char *needle, const char *file, int line)
{
    const char *msg = mx_last_error();
    if (!strstr(msg, needle)) {
        print_error("%s:%d: error message lacks \"%s\": \"%s\"\n", file, line, needle, msg);
        _fail(file, line);
    }
}

static void assert_zeroed(const mx_dataset *d)
{
    assert_null(d->x);
    assert_null(d->y);
    assert_int_equal(d->n, 0);
    assert_int_equal(d->dim, 0);
}

static const char *data_dir_or_skip(void)
{
    const char *dir = mx_test_data_dir();
    if (!dir)
        skip();
    return dir;
}

/* A path in the temporary folder, remembered for cleanup. */
static const char *tmp_path(const char *name)
{
    assert_true(n_tmp_files < sizeof tmp_files / sizeof tmp_files[0]);
    char *p = tmp_files[n_tmp_files];
    snprintf(p, sizeof tmp_files[0], "%s/%s", tmp_dir, name);
    for (size_t i = 0; i < n_tmp_files; i++)
        if (strcmp(tmp_files[i], p) == 0)
            return tmp_files[i];
    n_tmp_files++;
    return p;
}

static const char *write_gz(const char *name, const void *bytes, size_t len)
{
    const char *path = tmp_path(name);
    gzFile f = gzopen(path, "wb");
    assert_non_null(f);
    if (len > 0)
        assert_int_equal(gzwrite(f, bytes, (unsigned)len), (int)len);
    assert_int_equal(gzclose(f), Z_OK);
    return path;
}

static const char *write_raw(const char *name, const void *bytes, size_t len)
{
    const char *path = tmp_path(name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return path;
}

static size_t put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
    return 4;
}

/* IDX images file: header (magic, n, rows, cols) then `n_pixels` bytes
 * (which may differ from n·rows·cols to craft truncation or junk). */
static const char *write_idx_images(const char *name, uint32_t magic, uint32_t n, uint32_t rows,
                                    uint32_t cols, const unsigned char *pixels, size_t n_pixels)
{
    unsigned char *buf = malloc(16 + n_pixels);
    assert_non_null(buf);
    size_t o = put_be32(buf, magic);
    o += put_be32(buf + o, n);
    o += put_be32(buf + o, rows);
    o += put_be32(buf + o, cols);
    if (n_pixels)
        memcpy(buf + o, pixels, n_pixels);
    const char *path = write_gz(name, buf, o + n_pixels);
    free(buf);
    return path;
}

static const char *write_idx_labels(const char *name, uint32_t magic, uint32_t n,
                                    const unsigned char *labels, size_t n_labels)
{
    unsigned char *buf = malloc(8 + n_labels);
    assert_non_null(buf);
    size_t o = put_be32(buf, magic);
    o += put_be32(buf + o, n);
    if (n_labels)
        memcpy(buf + o, labels, n_labels);
    const char *path = write_gz(name, buf, o + n_labels);
    free(buf);
    return path;
}

/* A valid 65-field optdigits line: features all `v`, class `c`. */
static size_t csv_line(char *dst, size_t size, int v, int c)
{
    size_t o = 0;
    for (int k = 0; k < 64; k++)
        o += (size_t)snprintf(dst + o, size - o, "%d,", v);
    o += (size_t)snprintf(dst + o, size - o, "%d\n", c);
    return o;
}

/* `n_lines` valid lines, with line `bad_line` (1-based) replaced by `bad`. */
static const char *write_csv(const char *name, size_t n_lines, size_t bad_line, const char *bad)
{
    static char text[64 * 1024];
    size_t o = 0;
    for (size_t i = 1; i <= n_lines; i++) {
        if (i == bad_line)
            o += (size_t)snprintf(text + o, sizeof text - o, "%s\n", bad);
        else
            o += csv_line(text + o, sizeof text - o, (int)(i % 17), (int)(i % 10));
    }
    return write_gz(name, text, o);
}

static int group_setup(void **state)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/memxbar-test-dataset-XXXXXX");
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    for (size_t i = 0; i < n_tmp_files; i++)
        unlink(tmp_files[i]);
    rmdir(tmp_dir);
    return 0;
}

/* ------------------------------------------------------------- real data */

static void test_mnist_train_is_60000_images_of_28x28_starting_with_a_5(void **state)
{
    const char *dir = data_dir_or_skip();
    mx_dataset d = {0};
    assert_int_equal(mx_dataset_load(dir, "mnist", MX_SPLIT_TRAIN, 0, &d), MX_OK);
    assert_int_equal(d.n, 60000);
    assert_int_equal(d.rows, 28);
    assert_int_equal(d.cols, 28);
    assert_int_equal(d.dim, 784);
    assert_int_equal(d.n_classes, 10);
    assert_int_equal(d.y[0], 5);
    /* Train image 0 at row 14, col 14 is byte 240; its 784 bytes sum to
     * 27525; the train labels sum to 267236 (python3: gzip.open(...).read(),
     * offsets 16 and 8 past the IDX headers). */
    assert_true(d.x[14 * 28 + 14] == 240.0f / 255.0f);
    double s = 0;
    for (size_t i = 0; i < 784; i++)
        s += (double)d.x[i];
    /* 784 floats each within half an ulp of byte/255: k = 784 roundings. */
    assert_close(s, 27525.0 / 255.0, 0.0, 784 * FLT_EPSILON);
    unsigned long label_sum = 0;
    for (size_t i = 0; i < d.n; i++)
        label_sum += d.y[i];
    assert_int_equal(label_sum, 267236);
    mx_dataset_free(&d);
    assert_zeroed(&d);
}

static void test_mnist_test_is_10000_images_starting_with_a_7(void **state)
{
    const char *dir = data_dir_or_skip();
    mx_dataset d = {0};
    assert_int_equal(mx_dataset_load(dir, "mnist", MX_SPLIT_TEST, 0, &d), MX_OK);
    assert_int_equal(d.n, 10000);
    assert_int_equal(d.dim, 784);
    assert_int_equal(d.y[0], 7);
    /* Sum of all 10000 test labels: 44434, from python3
     * sum(gzip.open('mnist/t10k-labels-idx1-ubyte.gz').read()[8:]).
     * Test image 9999 at row 14, col 14 is byte 18 (same way, offset 16). */
    unsigned long label_sum = 0;
    for (size_t i = 0; i < d.n; i++)
        label_sum += d.y[i];
    assert_int_equal(label_sum, 44434);
    assert_true(d.x[9999 * 784 + 14 * 28 + 14] == 18.0f / 255.0f);
    float lo = 1, hi = 0;
    for (size_t i = 0; i < d.n * d.dim; i++) {
        lo = d.x[i] < lo ? d.x[i] : lo;
        hi = d.x[i] > hi ? d.x[i] : hi;
    }
    assert_true(lo == 0.0f && hi == 1.0f);
    mx_dataset_free(&d);
}

static void test_fashion_mnist_has_60000_train_and_10000_test_images(void **state)
{
    const char *dir = data_dir_or_skip();
    mx_dataset tr = {0}, te = {0};
    assert_int_equal(mx_dataset_load(dir, "fashion-mnist", MX_SPLIT_TRAIN, 0, &tr), MX_OK);
    assert_int_equal(mx_dataset_load(dir, "fashion-mnist", MX_SPLIT_TEST, 0, &te), MX_OK);
    assert_int_equal(tr.n, 60000);
    assert_int_equal(te.n, 10000);
    assert_int_equal(tr.dim, 784);
    /* Both splits start with class 9 (ankle boot) and are balanced, so the
     * labels sum to 4.5·n: 270000 and 45000 (checked with python3 gzip). */
    assert_int_equal(tr.y[0], 9);
    assert_int_equal(te.y[0], 9);
    unsigned long s_tr = 0, s_te = 0;
    for (size_t i = 0; i < tr.n; i++)
        s_tr += tr.y[i];
    for (size_t i = 0; i < te.n; i++)
        s_te += te.y[i];
    assert_int_equal(s_tr, 270000);
    assert_int_equal(s_te, 45000);
    mx_dataset_free(&tr);
    mx_dataset_free(&te);
}

static void test_digits_split_1797_rows_into_1000_train_and_797_test(void **state)
{
    const char *dir = data_dir_or_skip();
    mx_dataset tr = {0}, te = {0};
    assert_int_equal(mx_dataset_load(dir, "digits", MX_SPLIT_TRAIN, 0, &tr), MX_OK);
    assert_int_equal(mx_dataset_load(dir, "digits", MX_SPLIT_TEST, 0, &te), MX_OK);
    assert_int_equal(tr.n, 1000);
    assert_int_equal(te.n, 797);
    assert_int_equal(tr.rows, 8);
    assert_int_equal(tr.cols, 8);
    assert_int_equal(tr.dim, 64);
    /* Class counts of the whole file, from shared/data/README.md. */
    const unsigned expected[10] = {178, 182, 177, 183, 181, 182, 181, 179, 174, 180};
    unsigned count[10] = {0};
    for (size_t i = 0; i < tr.n; i++)
        count[tr.y[i]]++;
    for (size_t i = 0; i < te.n; i++)
        count[te.y[i]]++;
    for (int c = 0; c < 10; c++)
        assert_int_equal(count[c], expected[c]);
    /* Row 0 begins 0,0,5,13,9,... and is a 0 (zcat digits.csv.gz | head -1). */
    assert_int_equal(tr.y[0], 0);
    assert_true(tr.x[2] == 5.0f / 16.0f);
    assert_true(tr.x[3] == 13.0f / 16.0f);
    for (size_t i = 0; i < te.n * te.dim; i++)
        assert_true(te.x[i] >= 0.0f && te.x[i] <= 1.0f);
    mx_dataset_free(&tr);
    mx_dataset_free(&te);
}

static void test_limit_keeps_the_first_examples(void **state)
{
    const char *dir = data_dir_or_skip();
    mx_dataset all = {0}, few = {0};
    assert_int_equal(mx_dataset_load(dir, "mnist", MX_SPLIT_TEST, 0, &all), MX_OK);
    assert_int_equal(mx_dataset_load(dir, "mnist", MX_SPLIT_TEST, 123, &few), MX_OK);
    assert_int_equal(few.n, 123);
    assert_memory_equal(few.y, all.y, 123);
    assert_memory_equal(few.x, all.x, 123 * 784 * sizeof(float));
    mx_dataset_free(&few);
    /* A limit beyond the size keeps everything. */
    assert_int_equal(mx_dataset_load(dir, "mnist", MX_SPLIT_TEST, 1000000, &few), MX_OK);
    assert_int_equal(few.n, 10000);
    mx_dataset_free(&few);
    mx_dataset_free(&all);

    assert_int_equal(mx_dataset_load(dir, "digits", MX_SPLIT_TEST, 0, &all), MX_OK);
    assert_int_equal(mx_dataset_load(dir, "digits", MX_SPLIT_TEST, 5, &few), MX_OK);
    assert_int_equal(few.n, 5);
    assert_memory_equal(few.x, all.x, 5 * 64 * sizeof(float));
    mx_dataset_free(&few);
    assert_int_equal(mx_dataset_load(dir, "digits", MX_SPLIT_TEST, 5000, &few), MX_OK);
    assert_int_equal(few.n, 797);
    mx_dataset_free(&few);
    mx_dataset_free(&all);
}

/* ------------------------------------------------------------ data folder */

static void test_data_dir_prefers_explicit_then_environment(void **state)
{
    const char *dir = data_dir_or_skip();
    char found[1024];
    char real[1024];
    snprintf(real, sizeof real, "%s", dir);
    unsetenv("MEMXBAR_DATA");
    assert_int_equal(mx_data_dir_find(real, found, sizeof found), MX_OK);
    assert_string_equal(found, real);
    setenv("MEMXBAR_DATA", real, 1);
    assert_int_equal(mx_data_dir_find(NULL, found, sizeof found), MX_OK);
    assert_string_equal(found, real);
    /* An explicit folder wins over a bad environment. */
    setenv("MEMXBAR_DATA", "/nonexistent/memxbar-env", 1);
    assert_int_equal(mx_data_dir_find(real, found, sizeof found), MX_OK);
    assert_string_equal(found, real);
    unsetenv("MEMXBAR_DATA");
    /* A buffer too small for the path is refused, not truncated. */
    assert_int_equal(mx_data_dir_find(real, found, 3), MX_EINVAL);
}

static void test_data_dir_not_found_lists_every_place_it_looked(void **state)
{
    char found[1024] = "junk";
    setenv("MEMXBAR_DATA", "/nonexistent/memxbar-env", 1);
    assert_int_equal(mx_data_dir_find("/nonexistent/memxbar-explicit", found, sizeof found),
                     MX_ENOTFOUND);
    assert_string_equal(found, "");
    assert_error_contains("--data /nonexistent/memxbar-explicit (missing)");
    assert_error_contains("$MEMXBAR_DATA /nonexistent/memxbar-env (missing)");
    assert_error_contains("./data (");
    assert_error_contains("../shared/data (");
    assert_error_contains(MX_SOURCE_ROOT "/../shared/data (");

    /* A bad $MEMXBAR_DATA alone is not silently replaced by a default. */
    assert_int_equal(mx_data_dir_find(NULL, found, sizeof found), MX_ENOTFOUND);
    assert_error_contains("$MEMXBAR_DATA");
    assert_error_contains("/nonexistent/memxbar-env (missing)");
    unsetenv("MEMXBAR_DATA");

    /* A folder that exists but holds no dataset is named as such. */
    assert_int_equal(mx_data_dir_find(tmp_dir, found, sizeof found), MX_ENOTFOUND);
    assert_error_contains(tmp_dir);
    assert_error_contains("(no mnist/, uci-optdigits/ or poker-dvs/ inside)");
}

/* ------------------------------------------------------------ IDX errors */

static void test_idx_small_file_loads_and_ignores_trailing_bytes(void **state)
{
    const unsigned char pixels[2 * 2 * 3 + 4] = {0, 255, 51, 102, 153, 204, 1, 2, 3, 4, 5, 6,
                                                 /* junk past the announced data */ 9, 9, 9, 9};
    const unsigned char labels[2 + 1] = {3, 9, /* junk */ 200};
    const char *im = write_idx_images("small-images.gz", 0x803, 2, 2, 3, pixels, sizeof pixels);
    const char *lb = write_idx_labels("small-labels.gz", 0x801, 2, labels, sizeof labels);
    mx_dataset d = {0};
    assert_int_equal(mx_dataset_load_idx(im, lb, 0, &d), MX_OK);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.rows, 2);
    assert_int_equal(d.cols, 3);
    assert_int_equal(d.dim, 6);
    assert_int_equal(d.y[0], 3);
    assert_int_equal(d.y[1], 9);
    for (size_t i = 0; i < 12; i++)
        assert_true(d.x[i] == (float)pixels[i] / 255.0f);
    mx_dataset_free(&d);
}

static void test_idx_missing_file_is_an_io_error(void **state)
{
    mx_dataset d = {0};
    const char *lb = write_idx_labels("ok-labels.gz", 0x801, 0, NULL, 0);
    assert_int_equal(mx_dataset_load_idx("/nonexistent/train-images-idx3-ubyte.gz", lb, 0, &d),
                     MX_EIO);
    assert_error_contains("/nonexistent/train-images-idx3-ubyte.gz: cannot open: "
                          "No such file or directory");
    assert_zeroed(&d);
}

static void test_idx_wrong_magic_is_a_format_error(void **state)
{
    const unsigned char lab[1] = {1};
    const char *lb = write_idx_labels("magic-labels.gz", 0x801, 1, lab, 1);
    mx_dataset d = {0};
    /* A label file where images are expected. */
    assert_int_equal(mx_dataset_load_idx(lb, lb, 0, &d), MX_EFORMAT);
    assert_error_contains("magic-labels.gz: not an IDX image file (magic 0x00000801, expected "
                          "0x00000803)");
    assert_zeroed(&d);
    /* An image file where labels are expected. */
    const unsigned char px[4] = {0};
    const char *im = write_idx_images("magic-images.gz", 0x803, 1, 2, 2, px, 4);
    assert_int_equal(mx_dataset_load_idx(im, im, 0, &d), MX_EFORMAT);
    assert_error_contains("magic-images.gz: not an IDX label file (magic 0x00000803, expected "
                          "0x00000801)");
    /* Plain (non-gzip) garbage is read as it is and fails the magic check. */
    const char *junk = write_raw("junk.gz", "hello, world", 12);
    assert_int_equal(mx_dataset_load_idx(junk, lb, 0, &d), MX_EFORMAT);
    assert_error_contains("junk.gz: not an IDX image file (magic 0x68656C6C");
    /* A header cut short. */
    const char *stub = write_gz("stub.gz", "\0\0\x08\x03\0\0", 6);
    assert_int_equal(mx_dataset_load_idx(stub, lb, 0, &d), MX_EFORMAT);
    assert_error_contains("stub.gz: truncated: expected a 16-byte IDX header, got 6 bytes");
    assert_zeroed(&d);
}

static void test_idx_truncated_pixels_report_both_sizes(void **state)
{
    static unsigned char labels[60000];
    unsigned char pixels[1000];
    memset(pixels, 7, sizeof pixels);
    const char *im = write_idx_images("train-images-idx3-ubyte.gz", 0x803, 60000, 28, 28, pixels,
                                      sizeof pixels);
    const char *lb = write_idx_labels("train-labels-idx1-ubyte.gz", 0x801, 60000, labels,
                                      sizeof labels);
    mx_dataset d = {0};
    assert_int_equal(mx_dataset_load_idx(im, lb, 0, &d), MX_EFORMAT);
    assert_error_contains("train-images-idx3-ubyte.gz: truncated: expected 47040000 bytes of "
                          "pixels, got 1000");
    assert_zeroed(&d);
    /* With a limit that fits in what is there, the file is fine. */
    assert_int_equal(mx_dataset_load_idx(im, lb, 1, &d), MX_OK);
    assert_int_equal(d.n, 1);
    mx_dataset_free(&d);
    /* Labels cut short. */
    const char *lb_short = write_idx_labels("short-labels.gz", 0x801, 60000, labels, 10);
    assert_int_equal(mx_dataset_load_idx(im, lb_short, 0, &d), MX_EFORMAT);
    assert_error_contains("short-labels.gz: truncated: expected 60000 bytes of labels, got 10");
    assert_zeroed(&d);
}

static void test_idx_label_count_must_match_image_count(void **state)
{
    const unsigned char px[3 * 4] = {0};
    const unsigned char lab[4] = {0, 1, 2, 3};
    const char *im = write_idx_images("three-images.gz", 0x803, 3, 2, 2, px, sizeof px);
    const char *lb = write_idx_labels("four-labels.gz", 0x801, 4, lab, sizeof lab);
    mx_dataset d = {0};
    assert_int_equal(mx_dataset_load_idx(im, lb, 0, &d), MX_EFORMAT);
    assert_error_contains("three-images.gz holds 3 images but");
    assert_error_contains("four-labels.gz holds 4 labels");
    assert_zeroed(&d);
}

static void test_idx_label_out_of_range_is_rejected(void **state)
{
    const unsigned char px[3 * 4] = {0};
    const unsigned char lab[3] = {0, 10, 2};
    const char *im = write_idx_images("range-images.gz", 0x803, 3, 2, 2, px, sizeof px);
    const char *lb = write_idx_labels("range-labels.gz", 0x801, 3, lab, sizeof lab);
    mx_dataset d = {0};
    assert_int_equal(mx_dataset_load_idx(im, lb, 0, &d), MX_EFORMAT);
    assert_error_contains("range-labels.gz: label 10 of example 1 is outside 0..9");
    assert_zeroed(&d);
    /* The bad label lies past the limit: not read, so not an error. */
    assert_int_equal(mx_dataset_load_idx(im, lb, 1, &d), MX_OK);
    mx_dataset_free(&d);
}

static void test_idx_corrupt_gzip_stream_is_rejected(void **state)
{
    const unsigned char lab[1] = {1};
    const char *lb = write_idx_labels("gz-labels.gz", 0x801, 1, lab, 1);
    /* A gzip header (RFC 1952: 1f 8b, deflate, no flags, mtime, xfl, OS)
     * followed by garbage: 0xff starts a deflate block of reserved type 3. */
    unsigned char bad[64] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    memset(bad + 10, 0xff, sizeof bad - 10);
    const char *im = write_raw("garbage.gz", bad, sizeof bad);
    mx_dataset d = {0};
    assert_int_equal(mx_dataset_load_idx(im, lb, 0, &d), MX_EFORMAT);
    assert_error_contains("garbage.gz: corrupt gzip stream: ");
    assert_error_contains("invalid block type"); /* zlib's gzerror text */
    assert_zeroed(&d);

    /* A real gzip file cut in half. */
    unsigned char px[4096];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (unsigned char)(i * 2654435761u >> 13); /* incompressible-ish */
    const char *whole = write_idx_images("whole.gz", 0x803, 1, 64, 64, px, sizeof px);
    FILE *f = fopen(whole, "rb");
    assert_non_null(f);
    static unsigned char gz[8192];
    size_t len = fread(gz, 1, sizeof gz, f);
    fclose(f);
    assert_true(len > 100 && len < sizeof gz);
    const char *cut = write_raw("cut.gz", gz, len / 2);
    assert_int_equal(mx_dataset_load_idx(cut, lb, 0, &d), MX_EFORMAT);
    assert_error_contains("cut.gz: truncated gzip stream");
    assert_zeroed(&d);
}

/* ------------------------------------------------------------ CSV errors */

static void test_csv_short_line_names_file_and_line(void **state)
{
    char line[512];
    size_t n = csv_line(line, sizeof line, 1, 2);
    line[n - 3] = '\0'; /* drop ",2\n": 64 fields */
    const char *path = write_csv("digits.csv.gz", 20, 17, line);
    mx_dataset d = {0};
    assert_int_equal(mx_dataset_load_optdigits(path, 0, 0, &d), MX_EFORMAT);
    assert_error_contains("digits.csv.gz:17: expected 65 comma-separated integers, got 64");
    assert_zeroed(&d);
    /* A blank line in the middle counts as zero fields. */
    path = write_csv("blank.csv.gz", 5, 3, "");
    assert_int_equal(mx_dataset_load_optdigits(path, 0, 0, &d), MX_EFORMAT);
    assert_error_contains("blank.csv.gz:3: expected 65 comma-separated integers, got 0");
}

static void test_csv_bad_values_are_rejected(void **state)
{
    char line[512];
    mx_dataset d = {0};
    static const struct {
        const char *replace; /* the text of field 5 */
        const char *message;
    } cases[] = {
        {"17", "bad.csv.gz:4: field 5: value 17 is outside 0..16"},
        {"x", "bad.csv.gz:4: field 5: 'x' is not an integer in 0..16"},
        {"-1", "bad.csv.gz:4: field 5: '-1' is not an integer"},
        {" 3", "bad.csv.gz:4: field 5: ' 3' is not an integer"},
        {"", "bad.csv.gz:4: field 5 is empty"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(line, sizeof line, "1,2,3,4,%s", cases[i].replace);
        size_t o = strlen(line);
        for (int k = 5; k < 64; k++)
            o += (size_t)snprintf(line + o, sizeof line - o, ",0");
        snprintf(line + o, sizeof line - o, ",3");
        const char *path = write_csv("bad.csv.gz", 6, 4, line);
        assert_int_equal(mx_dataset_load_optdigits(path, 0, 0, &d), MX_EFORMAT);
        assert_error_contains(cases[i].message);
        assert_zeroed(&d);
    }
    /* The class must be a digit 0..9. */
    size_t n = csv_line(line, sizeof line, 0, 0);
    snprintf(line + n - 2, sizeof line - (n - 2), "10");
    const char *path = write_csv("class.csv.gz", 6, 2, line);
    assert_int_equal(mx_dataset_load_optdigits(path, 0, 0, &d), MX_EFORMAT);
    assert_error_contains("class.csv.gz:2: class 10 is outside 0..9");
}

static void test_csv_rows_are_selected_by_first_and_count(void **state)
{
    const char *path = write_csv("rows.csv.gz", 12, 0, NULL);
    mx_dataset d = {0};
    assert_int_equal(mx_dataset_load_optdigits(path, 3, 4, &d), MX_OK);
    assert_int_equal(d.n, 4);
    /* Line i (1-based) has features i % 17 and class i % 10; row 3 = line 4. */
    assert_int_equal(d.y[0], 4);
    assert_true(d.x[0] == 4.0f / 16.0f);
    mx_dataset_free(&d);
    assert_int_equal(mx_dataset_load_optdigits(path, 10, 0, &d), MX_OK);
    assert_int_equal(d.n, 2);
    mx_dataset_free(&d);
    assert_int_equal(mx_dataset_load_optdigits(path, 10, 5, &d), MX_EFORMAT);
    assert_error_contains("rows.csv.gz: has 12 rows; rows 10..14 were asked for");
    assert_zeroed(&d);
}

/* -------------------------------------------------------- by name, memory */

static void test_unknown_dataset_name_lists_the_known_ones(void **state)
{
    mx_dataset d = {0};
    assert_int_equal(mx_dataset_load(tmp_dir, "cifar10", MX_SPLIT_TRAIN, 0, &d), MX_ENOTFOUND);
    assert_error_contains("unknown dataset 'cifar10'; known: mnist, fashion-mnist, digits");
    assert_zeroed(&d);
    /* A known name in a folder without it names the missing file. */
    assert_int_equal(mx_dataset_load(tmp_dir, "mnist", MX_SPLIT_TEST, 0, &d), MX_EIO);
    assert_error_contains("/mnist/t10k-images-idx3-ubyte.gz: cannot open: ");
    assert_zeroed(&d);
}

static void test_failed_allocation_returns_enomem_and_leaves_output_zeroed(void **state)
{
    const unsigned char px[2 * 4] = {1, 2, 3, 4, 5, 6, 7, 8};
    const unsigned char lab[2] = {1, 2};
    const char *im = write_idx_images("mem-images.gz", 0x803, 2, 2, 2, px, sizeof px);
    const char *lb = write_idx_labels("mem-labels.gz", 0x801, 2, lab, sizeof lab);
    const char *csv = write_csv("mem.csv.gz", 3, 0, NULL);
    mx_dataset d = {0};
    mx_dataset_free(&d); /* safe on a zeroed struct */
    int saw_enomem = 0;
    for (long nth = 1; nth <= 8; nth++) {
        mx_alloc_fail_after(nth);
        mx_status st = mx_dataset_load_idx(im, lb, 0, &d);
        mx_alloc_fail_after(0);
        if (st == MX_OK) {
            mx_dataset_free(&d);
            continue;
        }
        assert_int_equal(st, MX_ENOMEM);
        assert_zeroed(&d);
        saw_enomem = 1;
    }
    for (long nth = 1; nth <= 8; nth++) {
        mx_alloc_fail_after(nth);
        mx_status st = mx_dataset_load_optdigits(csv, 0, 0, &d);
        mx_alloc_fail_after(0);
        if (st == MX_OK) {
            mx_dataset_free(&d);
            continue;
        }
        assert_int_equal(st, MX_ENOMEM);
        assert_zeroed(&d);
    }
    assert_true(saw_enomem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mnist_train_is_60000_images_of_28x28_starting_with_a_5),
        cmocka_unit_test(test_mnist_test_is_10000_images_starting_with_a_7),
        cmocka_unit_test(test_fashion_mnist_has_60000_train_and_10000_test_images),
        cmocka_unit_test(test_digits_split_1797_rows_into_1000_train_and_797_test),
        cmocka_unit_test(test_limit_keeps_the_first_examples),
        cmocka_unit_test(test_data_dir_prefers_explicit_then_environment),
        cmocka_unit_test(test_data_dir_not_found_lists_every_place_it_looked),
        cmocka_unit_test(test_idx_small_file_loads_and_ignores_trailing_bytes),
        cmocka_unit_test(test_idx_missing_file_is_an_io_error),
        cmocka_unit_test(test_idx_wrong_magic_is_a_format_error),
        cmocka_unit_test(test_idx_truncated_pixels_report_both_sizes),
        cmocka_unit_test(test_idx_label_count_must_match_image_count),
        cmocka_unit_test(test_idx_label_out_of_range_is_rejected),
        cmocka_unit_test(test_idx_corrupt_gzip_stream_is_rejected),
        cmocka_unit_test(test_csv_short_line_names_file_and_line),
        cmocka_unit_test(test_csv_bad_values_are_rejected),
        cmocka_unit_test(test_csv_rows_are_selected_by_first_and_count),
        cmocka_unit_test(test_unknown_dataset_name_lists_the_known_ones),
        cmocka_unit_test(test_failed_allocation_returns_enomem_and_leaves_output_zeroed),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
