/* SPDX-License-Identifier: MIT
 *
 * test_events.c: the AEDAT 2.0 reader, the event binning and the poker-dvs
 * dataset (experiments/events.h, dataset.h). First the real archive in
 * shared/data/poker-dvs against facts computed independently with Python's
 * tarfile + struct (the counts in shared/data/README.md §4, the pinned
 * values of xclub01.aedat and the split totals below), then every
 * documented error provoked with hand-made AEDAT buffers and tar archives
 * written by libarchive in a temporary folder. Real-data tests skip only
 * when no data folder exists at all.
 */
#include "tests/support/mx_test.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "experiments/dataset.h"
#include "experiments/events.h"

/* --------------------------------------------------------------- helpers */

static char tmp_dir[256];
static char tmp_files[32][512];
static size_t n_tmp_files;
static mx_event_set real; /* the real archive, read once (empty if absent) */
static char archive_path[1024];

#define assert_error_contains(needle) assert_error_contains_impl((needle), __FILE__, __LINE__)
static void assert_error_contains_impl(const char *needle, const char *file, int line)
{
    const char *msg = mx_last_error();
    if (!strstr(msg, needle)) {
        print_error("%s:%d: error message lacks \"%s\": \"%s\"\n", file, line, needle, msg);
        _fail(file, line);
    }
}

static const char *tmp_path(const char *name)
{
    assert_true(n_tmp_files < sizeof tmp_files / sizeof tmp_files[0]);
    char *p = tmp_files[n_tmp_files++];
    snprintf(p, sizeof tmp_files[0], "%s/%s", tmp_dir, name);
    return p;
}

static void skip_without_data(void)
{
    if (real.n == 0)
        skip();
}

/* A hand-made AEDAT buffer: the header lines, then events. */
typedef struct aedat_buf {
    unsigned char b[4096];
    size_t len;
} aedat_buf;

static void put_text(aedat_buf *a, const char *s)
{
    size_t n = strlen(s);
    assert_true(a->len + n <= sizeof a->b);
    memcpy(a->b + a->len, s, n);
    a->len += n;
}

static void put_u32(aedat_buf *a, uint32_t v)
{
    assert_true(a->len + 4 <= sizeof a->b);
    a->b[a->len++] = (unsigned char)(v >> 24);
    a->b[a->len++] = (unsigned char)(v >> 16);
    a->b[a->len++] = (unsigned char)(v >> 8);
    a->b[a->len++] = (unsigned char)v;
}

static uint32_t addr_of(unsigned x, unsigned y, unsigned p) { return y << 8 | x << 1 | p; }

static void put_event(aedat_buf *a, unsigned x, unsigned y, unsigned p, uint32_t t_us)
{
    put_u32(a, addr_of(x, y, p));
    put_u32(a, t_us);
}

static void header(aedat_buf *a)
{
    a->len = 0;
    put_text(a, "#!AER-DAT2.0\r\n# This is a raw AE data file - do not edit\r\n");
    put_text(a, "# Timestamps tick is 1 us\r\n");
}

/* A tar.gz with the given members (name, bytes, length). */
typedef struct member {
    const char *name;
    const void *bytes;
    size_t len;
} member;

static const char *write_tar_gz(const char *file, const member *m, size_t n)
{
    const char *path = tmp_path(file);
    struct archive *a = archive_write_new();
    assert_non_null(a);
    assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
    assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, m[i].name);
        archive_entry_set_size(e, (la_int64_t)m[i].len);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        if (m[i].len)
            assert_int_equal(archive_write_data(a, m[i].bytes, m[i].len), (la_ssize_t)m[i].len);
        archive_entry_free(e);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    return path;
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/memxbar-test-events-XXXXXX");
    if (!mkdtemp(tmp_dir))
        return -1;
    const char *dir = mx_test_data_dir();
    if (!dir)
        return 0;
    snprintf(archive_path, sizeof archive_path, "%s/poker-dvs/poker_dvs.tar.gz", dir);
    if (access(archive_path, R_OK) != 0)
        return 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (mx_events_read_archive(archive_path, &real) != MX_OK) {
        fprintf(stderr, "reading %s failed: %s\n", archive_path, mx_last_error());
        return -1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    mx_log(MX_LOG_INFO, "read %zu POKER-DVS recordings in %.1f ms", real.n,
           1e3 * ((double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec)));
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    mx_event_set_free(&real);
    for (size_t i = 0; i < n_tmp_files; i++)
        unlink(tmp_files[i]);
    rmdir(tmp_dir);
    return 0;
}

/* ------------------------------------------------------------- real data */

/* shared/data/README.md §4: 131 files, 332,710 events, 369..5,387 per
 * file, suits 30/43/23/35, x in 0..32, y in 0..34; timestamps never
 * decrease (checked by the reader, so reading it at all proves it). */
static void test_real_archive_holds_131_recordings_of_332710_events(void **state)
{
    skip_without_data();
    assert_int_equal(real.n, MX_POKER_DVS_RECORDINGS);
    size_t total = 0, min_n = SIZE_MAX, max_n = 0, per_suit[4] = {0};
    unsigned max_x = 0, max_y = 0;
    size_t ones = 0;
    for (size_t i = 0; i < real.n; i++) {
        const mx_events *e = &real.rec[i];
        if (i > 0)
            assert_true(strcmp(real.rec[i - 1].name, e->name) < 0);
        int c = mx_poker_dvs_label(e->name);
        assert_in_range(c, 0, 3);
        per_suit[c]++;
        total += e->n;
        min_n = e->n < min_n ? e->n : min_n;
        max_n = e->n > max_n ? e->n : max_n;
        assert_int_equal(e->ev[0].t_us, 0);
        assert_int_equal(e->ev[e->n - 1].t_us, e->span_us);
        for (size_t k = 0; k < e->n; k++) {
            max_x = e->ev[k].x > max_x ? e->ev[k].x : max_x;
            max_y = e->ev[k].y > max_y ? e->ev[k].y : max_y;
            ones += e->ev[k].p;
            if (k > 0)
                assert_true(e->ev[k].t_us >= e->ev[k - 1].t_us);
        }
    }
    assert_int_equal(total, 332710);
    assert_int_equal(min_n, 369);
    assert_int_equal(max_n, 5387);
    assert_int_equal(per_suit[0], 30);
    assert_int_equal(per_suit[1], 43);
    assert_int_equal(per_suit[2], 23);
    assert_int_equal(per_suit[3], 35);
    assert_int_equal(max_x, 32);
    assert_int_equal(max_y, 34);
    assert_int_equal(ones, 124063); /* events with p = 1 (Python) */
}

/* xclub01.aedat, decoded with Python: a 216-byte header (5 lines), 3136
 * events, first timestamp 1,120,869 µs, span 22,553 µs; the first event is
 * (x 12, y 12, p 1) at 0 µs, the second (17, 12, 1) at 122 µs, the last
 * (11, 18, 1). Its 20 span bins hold the counts below, and the fullest
 * pixel-bin is bin 15, p 0, y 16, x 16 with 7 events. */
static void test_xclub01_decodes_and_bins_like_the_python_reference(void **state)
{
    skip_without_data();
    const mx_events *e = &real.rec[0];
    assert_string_equal(e->name, "xclub01.aedat");
    assert_int_equal(e->n, 3136);
    assert_int_equal(e->t0_us, 1120869);
    assert_int_equal(e->span_us, 22553);
    assert_int_equal(e->ev[0].x, 12);
    assert_int_equal(e->ev[0].y, 12);
    assert_int_equal(e->ev[0].p, 1);
    assert_int_equal(e->ev[1].x, 17);
    assert_int_equal(e->ev[1].t_us, 122);
    assert_int_equal(e->ev[e->n - 1].x, 11);
    assert_int_equal(e->ev[e->n - 1].y, 18);

    enum { STEPS = 20 };
    static const int bins[STEPS] = {8,   70,  124, 127, 126, 83,  50,  22,  35,  115,
                                    184, 254, 308, 313, 258, 240, 227, 286, 205, 101};
    float *frames = malloc(STEPS * MX_EVENTS_FRAME_SIZE * sizeof *frames);
    assert_non_null(frames);
    assert_int_equal(mx_events_bin(e, STEPS, frames), MX_OK);
    float best = 0;
    size_t best_at = 0;
    for (size_t s = 0; s < STEPS; s++) {
        double sum = 0;
        for (size_t k = 0; k < MX_EVENTS_FRAME_SIZE; k++) {
            float v = frames[s * MX_EVENTS_FRAME_SIZE + k];
            sum += (double)v;
            if (v > best) {
                best = v;
                best_at = s * MX_EVENTS_FRAME_SIZE + k;
            }
        }
        assert_int_equal((int)sum, bins[s]);
    }
    assert_true(best == 7.0f);
    assert_int_equal(best_at, 15 * MX_EVENTS_FRAME_SIZE + (0 * 35 + 16) * 35 + 16);
    free(frames);

    /* Reading the member as a file gives the same events. */
    mx_events f = {0};
    const char *path = tmp_path("xclub01.aedat");
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs("#!AER-DAT2.0\r\n", fp);
    for (size_t k = 0; k < e->n; k++) {
        uint32_t a = addr_of(e->ev[k].x, e->ev[k].y, e->ev[k].p), t = e->t0_us + e->ev[k].t_us;
        unsigned char b[8] = {(unsigned char)(a >> 24), (unsigned char)(a >> 16),
                              (unsigned char)(a >> 8),  (unsigned char)a,
                              (unsigned char)(t >> 24), (unsigned char)(t >> 16),
                              (unsigned char)(t >> 8),  (unsigned char)t};
        fwrite(b, 1, 8, fp);
    }
    fclose(fp);
    assert_int_equal(mx_events_read_aedat_file(path, &f), MX_OK);
    assert_string_equal(f.name, "xclub01.aedat");
    assert_int_equal(f.n, e->n);
    assert_memory_equal(f.ev, e->ev, e->n * sizeof *e->ev);
    mx_events_free(&f);
}

/* Our split (dataset.h): per suit in name order, every 4th to test. The
 * 30 test files and the event totals (train 251,802, test 80,908) were
 * listed with Python. */
static void test_split_is_the_documented_30_test_and_101_train_recordings(void **state)
{
    skip_without_data();
    static const char *const test_files[] = {
        "xclub04.aedat",     "xclub08i.aedat",    "xclub12.aedat",     "xclub16i.aedat",
        "xclub20.aedat",     "xclub24.aedat",     "xclub28.aedat",     "xdiamond04.aedat",
        "xdiamond08.aedat",  "xdiamond12.aedat",  "xdiamond16.aedat",  "xdiamond20.aedat",
        "xdiamond24i.aedat", "xdiamond28i.aedat", "xdiamond32.aedat",  "xdiamond36i.aedat",
        "xdiamond40.aedat",  "xheart04.aedat",    "xheart08.aedat",    "xheart12.aedat",
        "xheart16.aedat",    "xheart20.aedat",    "xspade04.aedat",    "xspade08.aedat",
        "xspade12.aedat",    "xspade16.aedat",    "xspade20.aedat",    "xspade24i.aedat",
        "xspade28.aedat",    "xspade32.aedat"};
    const char *names[MX_POKER_DVS_RECORDINGS];
    for (size_t i = 0; i < real.n; i++)
        names[i] = real.rec[i].name;
    size_t tr[MX_POKER_DVS_RECORDINGS], te[MX_POKER_DVS_RECORDINGS], n_tr = 0, n_te = 0;
    assert_int_equal(mx_poker_dvs_split(names, real.n, MX_SPLIT_TRAIN, tr, &n_tr), MX_OK);
    assert_int_equal(mx_poker_dvs_split(names, real.n, MX_SPLIT_TEST, te, &n_te), MX_OK);
    assert_int_equal(n_tr, MX_POKER_DVS_TRAIN);
    assert_int_equal(n_te, MX_POKER_DVS_TEST);
    int used[MX_POKER_DVS_RECORDINGS] = {0};
    size_t ev_tr = 0, ev_te = 0;
    for (size_t i = 0; i < n_tr; i++) {
        used[tr[i]]++;
        ev_tr += real.rec[tr[i]].n;
    }
    for (size_t i = 0; i < n_te; i++) {
        used[te[i]]++;
        ev_te += real.rec[te[i]].n;
        int listed = 0;
        for (size_t k = 0; k < n_te; k++)
            listed |= strcmp(real.rec[te[i]].name, test_files[k]) == 0;
        assert_true(listed);
    }
    for (size_t i = 0; i < real.n; i++)
        assert_int_equal(used[i], 1); /* disjoint, and together all 131 */
    assert_int_equal(ev_tr, 251802);
    assert_int_equal(ev_te, 80908);
    /* Round-robin over suits: the first rows are club, diamond, heart, spade. */
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(mx_poker_dvs_label(real.rec[tr[i]].name), (int)(i % 4));
    assert_string_equal(real.rec[te[0]].name, "xclub04.aedat");
    assert_string_equal(real.rec[te[1]].name, "xdiamond04.aedat");
}

/* Each row's frames sum to its recording's event count; shape, labels and
 * class balance follow the header's convention. */
static void test_poker_dvs_dataset_rows_sum_to_the_event_counts(void **state)
{
    skip_without_data();
    const char *dir = mx_test_data_dir();
    const char *names[MX_POKER_DVS_RECORDINGS];
    for (size_t i = 0; i < real.n; i++)
        names[i] = real.rec[i].name;
    for (int sp = 0; sp < 2; sp++) {
        mx_split split = sp ? MX_SPLIT_TEST : MX_SPLIT_TRAIN;
        size_t idx[MX_POKER_DVS_RECORDINGS], n_idx = 0;
        assert_int_equal(mx_poker_dvs_split(names, real.n, split, idx, &n_idx), MX_OK);
        mx_dataset d = {0};
        assert_int_equal(mx_dataset_load(dir, "poker-dvs", split, 0, &d), MX_OK);
        assert_int_equal(d.n, sp ? MX_POKER_DVS_TEST : MX_POKER_DVS_TRAIN);
        assert_int_equal(d.steps, MX_DATASET_EVENT_STEPS_DEFAULT);
        assert_int_equal(d.dim, (size_t)MX_DATASET_EVENT_STEPS_DEFAULT * 2 * 35 * 35);
        assert_int_equal(d.rows, 35);
        assert_int_equal(d.cols, 35);
        assert_int_equal(d.n_classes, 4);
        size_t per_class[4] = {0};
        for (size_t r = 0; r < d.n; r++) {
            double sum = 0;
            for (size_t k = 0; k < d.dim; k++) {
                float v = d.x[r * d.dim + k];
                assert_true(v >= 0.0f && v == (float)(int)v);
                sum += (double)v;
            }
            assert_int_equal((size_t)sum, real.rec[idx[r]].n);
            assert_int_equal(d.y[r], mx_poker_dvs_label(real.rec[idx[r]].name));
            per_class[d.y[r]]++;
        }
        if (sp) {
            assert_int_equal(per_class[0], 7);
            assert_int_equal(per_class[1], 10);
            assert_int_equal(per_class[2], 5);
            assert_int_equal(per_class[3], 8);
        } else {
            assert_int_equal(per_class[0], 23);
            assert_int_equal(per_class[1], 33);
            assert_int_equal(per_class[2], 18);
            assert_int_equal(per_class[3], 27);
        }
        mx_dataset_free(&d);
    }
}

/* Options: one time bin makes one frame per recording (the whole
 * recording); `limit` keeps the first rows; too many bins is an error
 * naming the config field. */
static void test_event_steps_and_limit_shape_the_dataset(void **state)
{
    skip_without_data();
    const char *dir = mx_test_data_dir();
    mx_dataset one = {0}, few = {0};
    mx_dataset_options opt = {.event_steps = 1};
    assert_int_equal(mx_dataset_load_with(dir, "poker-dvs", MX_SPLIT_TEST, 0, &opt, &one), MX_OK);
    assert_int_equal(one.steps, 1);
    assert_int_equal(one.dim, 2450);
    opt.event_steps = 7;
    assert_int_equal(mx_dataset_load_with(dir, "poker-dvs", MX_SPLIT_TEST, 3, &opt, &few), MX_OK);
    assert_int_equal(few.n, 3);
    assert_int_equal(few.dim, 7 * 2450);
    /* Summing the 7 frames of a row gives its 1-bin frame. */
    for (size_t r = 0; r < 3; r++) {
        assert_int_equal(few.y[r], one.y[r]);
        for (size_t k = 0; k < 2450; k++) {
            float s = 0;
            for (size_t t = 0; t < 7; t++)
                s += few.x[r * few.dim + t * 2450 + k];
            assert_true(s == one.x[r * one.dim + k]);
        }
    }
    mx_dataset_free(&one);
    mx_dataset_free(&few);
    opt.event_steps = MX_DATASET_EVENT_STEPS_MAX + 1;
    assert_int_equal(mx_dataset_load_with(dir, "poker-dvs", MX_SPLIT_TEST, 0, &opt, &one),
                     MX_EINVAL);
    assert_error_contains("dataset.event_steps: expected 1..1000 time bins, got 1001");
    assert_null(one.x);
}

/* ------------------------------------------------------------- binning */

/* Span 9 µs in 2 bins: width (9 + 1) / 2 = 5 µs, so t = 4 goes to bin 0 and
 * t = 5 to bin 1; the layout is (step, p, y, x). */
static void test_binning_splits_the_span_into_equal_bins(void **state)
{
    aedat_buf a;
    header(&a);
    put_event(&a, 1, 2, 0, 100);
    put_event(&a, 1, 2, 0, 104);
    put_event(&a, 34, 0, 1, 105);
    put_event(&a, 0, 34, 1, 109);
    put_event(&a, 0, 34, 1, 109);
    mx_events e = {0};
    assert_int_equal(mx_events_parse_aedat(a.b, a.len, "hand-made", &e), MX_OK);
    assert_int_equal(e.n, 5);
    assert_int_equal(e.t0_us, 100);
    assert_int_equal(e.span_us, 9);
    float f[2 * MX_EVENTS_FRAME_SIZE];
    assert_int_equal(mx_events_bin(&e, 2, f), MX_OK);
    double sum = 0;
    for (size_t k = 0; k < 2 * MX_EVENTS_FRAME_SIZE; k++)
        sum += (double)f[k];
    assert_true(sum == 5.0);
    assert_true(f[(0 * 35 + 2) * 35 + 1] == 2.0f);
    assert_true(f[MX_EVENTS_FRAME_SIZE + (1 * 35 + 0) * 35 + 34] == 1.0f);
    assert_true(f[MX_EVENTS_FRAME_SIZE + (1 * 35 + 34) * 35 + 0] == 2.0f);
    assert_int_equal(mx_events_bin(&e, 0, f), MX_EINVAL);
    assert_error_contains("expected 1..");
    /* A single event (span 0) lands in bin 0 whatever the number of bins. */
    header(&a);
    put_event(&a, 5, 6, 1, 42);
    mx_events one = {0};
    assert_int_equal(mx_events_parse_aedat(a.b, a.len, NULL, &one), MX_OK);
    assert_int_equal(mx_events_bin(&one, 2, f), MX_OK);
    assert_true(f[(1 * 35 + 6) * 35 + 5] == 1.0f); /* bin 0, p 1, y 6, x 5 */
    mx_events_free(&e);
    mx_events_free(&one);
}

/* -------------------------------------------------------------- errors */

static void expect_parse_error(const aedat_buf *a, const char *needle)
{
    mx_events e;
    memset(&e, 0xAB, sizeof e);
    assert_int_equal(mx_events_parse_aedat(a->b, a->len, "t.aedat", &e), MX_EFORMAT);
    assert_error_contains("t.aedat: byte ");
    assert_error_contains(needle);
    assert_null(e.ev);
    assert_int_equal(e.n, 0);
}

static void test_bad_header_is_rejected_at_byte_0(void **state)
{
    aedat_buf a = {.len = 0};
    put_text(&a, "#!AER-DAT3.1\r\n");
    put_event(&a, 1, 1, 1, 5);
    expect_parse_error(&a, "byte 0: expected the AEDAT 2.0 header line \"#!AER-DAT2.0\\r\\n\", "
                           "got \"#!AER-DAT3.1\"");
    a.len = 0;
    put_event(&a, 1, 1, 1, 5); /* no header at all */
    expect_parse_error(&a, "byte 0: expected the AEDAT 2.0 header line");
    a.len = 0;
    expect_parse_error(&a, "(file too short)");
    a.len = 0;
    put_text(&a, "#!AER-DAT2.0\n"); /* LF only on the first line */
    put_event(&a, 1, 1, 1, 5);
    expect_parse_error(&a, "byte 12: expected CRLF (0x0D 0x0A) ending the \"#!AER-DAT2.0\" line, "
                           "got 0x0A 0x00");
    a.len = 0;
    put_text(&a, "#!AER-DAT2.0");
    expect_parse_error(&a, "byte 12: expected CRLF (0x0D 0x0A) ending the \"#!AER-DAT2.0\" line, "
                           "got the end of the file");
    a.len = 0;
    put_text(&a, "#!AER-DAT2.0\r\n# a comment\n"); /* bare LF later */
    put_event(&a, 1, 1, 1, 5);
    expect_parse_error(&a, "byte 25: expected a header line ending in CRLF, got a bare LF");
    a.len = 0;
    put_text(&a, "#!AER-DAT2.0\r\n# never ends");
    expect_parse_error(&a, "byte 14: expected a header line ending in CRLF, got 12 bytes");
}

static void test_empty_recording_is_rejected(void **state)
{
    aedat_buf a;
    header(&a);
    size_t hl = a.len;
    char needle[128];
    snprintf(needle, sizeof needle, "byte %zu: expected at least one event after the header, "
                                    "got none (empty recording)",
             hl);
    expect_parse_error(&a, needle);
}

static void test_truncated_event_is_rejected(void **state)
{
    aedat_buf a;
    header(&a);
    size_t hl = a.len;
    put_event(&a, 1, 1, 1, 5);
    put_event(&a, 2, 1, 1, 6);
    a.len -= 3; /* the second event loses its last 3 bytes */
    char needle[160];
    snprintf(needle, sizeof needle,
             "byte %zu: truncated event: expected 8-byte events after the %zu-byte header, got "
             "13 bytes (5 left over)",
             hl + 8, hl);
    expect_parse_error(&a, needle);
}

static void test_bad_address_bits_are_rejected(void **state)
{
    aedat_buf a;
    header(&a);
    size_t hl = a.len;
    put_event(&a, 1, 1, 1, 5);
    put_u32(&a, 0x00018003u); /* bit 16 set */
    put_u32(&a, 6);
    char needle[160];
    snprintf(needle, sizeof needle,
             "byte %zu: event 1: expected an address with only bits 0..14 set (p, x, y), got "
             "0x00018003",
             hl + 8);
    expect_parse_error(&a, needle);

    header(&a);
    put_event(&a, 35, 0, 0, 5); /* x = 35 is outside the patch */
    snprintf(needle, sizeof needle, "byte %zu: event 0: expected x and y in 0..34, got x = 35, "
                                    "y = 0 (address 0x00000046)",
             hl);
    expect_parse_error(&a, needle);

    header(&a);
    put_event(&a, 0, 127, 1, 5);
    expect_parse_error(&a, "got x = 0, y = 127");
}

static void test_timestamp_going_backwards_is_rejected(void **state)
{
    aedat_buf a;
    header(&a);
    size_t hl = a.len;
    put_event(&a, 1, 1, 1, 1000);
    put_event(&a, 1, 1, 1, 1000); /* equal is fine */
    put_event(&a, 1, 1, 1, 999);
    char needle[160];
    snprintf(needle, sizeof needle,
             "byte %zu: event 2: expected a timestamp >= 1000 us (the previous one), got 999 us",
             hl + 16 + 4);
    expect_parse_error(&a, needle);
}

static void test_file_reader_names_missing_files(void **state)
{
    mx_events e = {0};
    assert_int_equal(mx_events_read_aedat_file("/nonexistent/x.aedat", &e), MX_EIO);
    assert_error_contains("/nonexistent/x.aedat: cannot open");
    const char *path = tmp_path("bad.aedat");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("#!AER-DAT2.0\r\n", f);
    fclose(f);
    assert_int_equal(mx_events_read_aedat_file(path, &e), MX_EFORMAT);
    assert_error_contains(path);
    assert_error_contains("empty recording");
}

static void test_archive_errors_name_the_archive_and_member(void **state)
{
    aedat_buf good, bad;
    header(&good);
    put_event(&good, 3, 4, 1, 10);
    put_event(&good, 3, 5, 0, 12);
    header(&bad);
    put_event(&bad, 3, 4, 1, 10);
    bad.len -= 1;

    /* Two good members read back sorted, with base names. */
    member ok[] = {{"dir/xspade01.aedat", good.b, good.len}, {"xclub01.aedat", good.b, good.len}};
    const char *p = write_tar_gz("ok.tar.gz", ok, 2);
    mx_event_set s = {0};
    assert_int_equal(mx_events_read_archive(p, &s), MX_OK);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.rec[0].name, "xclub01.aedat");
    assert_string_equal(s.rec[1].name, "xspade01.aedat");
    assert_int_equal(s.rec[1].n, 2);
    assert_int_equal(s.rec[1].span_us, 2);
    mx_event_set_free(&s);

    member broken[] = {{"xclub01.aedat", good.b, good.len}, {"xclub02.aedat", bad.b, bad.len}};
    p = write_tar_gz("broken.tar.gz", broken, 2);
    assert_int_equal(mx_events_read_archive(p, &s), MX_EFORMAT);
    assert_error_contains("broken.tar.gz: xclub02.aedat: byte ");
    assert_error_contains("truncated event");
    assert_null(s.rec);

    member other[] = {{"README.txt", "hello", 5}};
    p = write_tar_gz("other.tar.gz", other, 1);
    assert_int_equal(mx_events_read_archive(p, &s), MX_EFORMAT);
    assert_error_contains("README.txt: expected only .aedat files in the archive");

    member twice[] = {{"a/xclub01.aedat", good.b, good.len}, {"b/xclub01.aedat", good.b, good.len}};
    p = write_tar_gz("twice.tar.gz", twice, 2);
    assert_int_equal(mx_events_read_archive(p, &s), MX_EFORMAT);
    assert_error_contains("recording xclub01.aedat appears twice");

    p = write_tar_gz("empty.tar.gz", NULL, 0);
    assert_int_equal(mx_events_read_archive(p, &s), MX_EFORMAT);
    assert_error_contains("expected .aedat recordings in the archive, got none");

    assert_int_equal(mx_events_read_archive("/nonexistent/p.tar.gz", &s), MX_EIO);
    assert_error_contains("/nonexistent/p.tar.gz: cannot open");

    /* The dataset loader insists on the real 131 recordings. */
    mx_dataset d = {0};
    p = write_tar_gz("small.tar.gz", ok, 2);
    assert_int_equal(mx_dataset_load_poker_dvs(p, MX_SPLIT_TRAIN, 0, 20, &d), MX_EFORMAT);
    assert_error_contains("expected the 131 POKER-DVS recordings (club 30, diamond 43, heart "
                          "23, spade 35), got 2 (club 1, diamond 0, heart 0, spade 1)");
    assert_null(d.x);
}

static void test_poker_dvs_names_map_to_the_four_suits(void **state)
{
    assert_int_equal(mx_poker_dvs_label("xclub01.aedat"), 0);
    assert_int_equal(mx_poker_dvs_label("xdiamond43.aedat"), 1);
    assert_int_equal(mx_poker_dvs_label("xheart17i.aedat"), 2);
    assert_int_equal(mx_poker_dvs_label("xspade35.aedat"), 3);
    assert_int_equal(mx_poker_dvs_label("xspade.aedat"), -1);
    assert_int_equal(mx_poker_dvs_label("club01.aedat"), -1);
    assert_int_equal(mx_poker_dvs_label("xclub01i.aed"), -1);
    assert_int_equal(mx_poker_dvs_label("xjoker01.aedat"), -1);
    const char *names[] = {"xclub01.aedat", "xjoker01.aedat"};
    size_t idx[2], n = 0;
    assert_int_equal(mx_poker_dvs_split(names, 2, MX_SPLIT_TRAIN, idx, &n), MX_EFORMAT);
    assert_error_contains("recording 1: expected a name x<club|diamond|heart|spade><NN>[i].aedat, "
                          "got \"xjoker01.aedat\"");
}

static void test_failed_allocation_returns_enomem_and_leaves_output_zeroed(void **state)
{
    aedat_buf a;
    header(&a);
    put_event(&a, 3, 4, 1, 10);
    mx_events e = {0};
    mx_alloc_fail_after(1);
    mx_status st = mx_events_parse_aedat(a.b, a.len, "t.aedat", &e);
    mx_alloc_fail_after(0);
    assert_int_equal(st, MX_ENOMEM);
    assert_null(e.ev);
    member ok[] = {{"xclub01.aedat", a.b, a.len}, {"xclub02.aedat", a.b, a.len}};
    const char *p = write_tar_gz("alloc.tar.gz", ok, 2);
    int saw_enomem = 0;
    for (long nth = 1; nth <= 8; nth++) {
        mx_event_set s = {0};
        mx_alloc_fail_after(nth);
        st = mx_events_read_archive(p, &s);
        mx_alloc_fail_after(0);
        if (st == MX_OK) {
            mx_event_set_free(&s);
            continue;
        }
        saw_enomem = 1;
        assert_int_equal(st, MX_ENOMEM);
        assert_null(s.rec);
    }
    assert_true(saw_enomem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_archive_holds_131_recordings_of_332710_events),
        cmocka_unit_test(test_xclub01_decodes_and_bins_like_the_python_reference),
        cmocka_unit_test(test_split_is_the_documented_30_test_and_101_train_recordings),
        cmocka_unit_test(test_poker_dvs_dataset_rows_sum_to_the_event_counts),
        cmocka_unit_test(test_event_steps_and_limit_shape_the_dataset),
        cmocka_unit_test(test_binning_splits_the_span_into_equal_bins),
        cmocka_unit_test(test_bad_header_is_rejected_at_byte_0),
        cmocka_unit_test(test_empty_recording_is_rejected),
        cmocka_unit_test(test_truncated_event_is_rejected),
        cmocka_unit_test(test_bad_address_bits_are_rejected),
        cmocka_unit_test(test_timestamp_going_backwards_is_rejected),
        cmocka_unit_test(test_file_reader_names_missing_files),
        cmocka_unit_test(test_archive_errors_name_the_archive_and_member),
        cmocka_unit_test(test_poker_dvs_names_map_to_the_four_suits),
        cmocka_unit_test(test_failed_allocation_returns_enomem_and_leaves_output_zeroed),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
