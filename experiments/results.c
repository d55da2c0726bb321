/* SPDX-License-Identifier: MIT
 *
 * results.c: the sweep's results file, the last stop of the data flow (layout
 * in docs/results-format.md). The runner creates it from the base config,
 * then for every finished (point, repeat) writes /points/<k>/<r>/ and appends
 * one /summary row — the row goes last, so a row present means the point is
 * whole — and flushes. When the sweep ends the status attribute becomes
 * "complete" and <path>.partial is renamed to <path>. A sweep that was
 * stopped is continued by reopening its .partial (mx_results_resume): the
 * rows present are done, a group without its row is removed and redone.
 * Whether the file holds the same sweep is decided by its resolved_config
 * attribute — the code version, every config field as resolved and the
 * sweep axes, one "name: value" line each — so a refusal can name the first
 * field that differs; mx_results_read_table reads /summary back for
 * `memxbar report`.
 *
 * /summary's row type is built at run time from the sweep axes: a float64
 * column for an axis whose every value is a number, a fixed-length string
 * otherwise. A row's swept values are decoded from the point index (first
 * axis outermost), so this file needs nothing from config.c.
 *
 * Every dataset carries HDF5's Fletcher-32 checksum (one chunk per per-point
 * dataset), so a byte changed on disk after it was written fails the read —
 * resume and `memxbar report` refuse the file — instead of giving a wrong
 * number (issue 10, docs/reliability.md).
 *
 * HDF5's automatic error printing is switched off (the library never prints);
 * every failure is reported once through mx_fail naming the file, and every
 * identifier a function opens is closed on every path out of it.
 */
#include "experiments/results.h"
#include "experiments/h5io.h"

#include <hdf5.h>

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "mx_build_config.h"

#define SUMMARY_CHUNK_ROWS 256
/* String columns are padded to a multiple of this so the float64 columns
 * after them stay 8-byte aligned in the row. */
#define STRING_COLUMN_ALIGN_BYTES 8
#define PARTIAL_SUFFIX ".partial"

typedef struct results_axis {
    char path[MX_CONFIG_NAME_BYTES];
    size_t n_values;
    int numeric;       /* every value parsed as a finite number */
    size_t offset;     /* of its column in a /summary row, bytes */
    size_t str_bytes;  /* width of a string column, bytes */
    double number[MX_SWEEP_MAX_VALUES];
    char text[MX_SWEEP_MAX_VALUES][MX_CONFIG_VALUE_BYTES];
} results_axis;

struct mx_results {
    hid_t file;
    hid_t summary;   /* /summary dataset */
    hid_t row_type;  /* its compound type, in memory and in the file */
    hid_t points;    /* /points group */
    size_t n_axes;
    results_axis axes[MX_SWEEP_MAX_AXES];
    size_t n_points;
    size_t repeats;
    size_t row_bytes;
    hsize_t n_rows;       /* rows written to /summary */
    unsigned char *row;   /* scratch for one row (row_bytes) */
    unsigned char *done;  /* (n_points, repeats): 1 where the row is written */
    char *path;           /* final name */
    char *partial;        /* <path>.partial, the name while writing */
    hsize_t file_bytes;   /* file size after the last flush */
    hsize_t point_bytes;  /* the most one point has added to it */
};

/* Room kept free for the next point: ROOM_FACTOR × the largest point so
 * far, at least ROOM_MIN_BYTES (the first point, metadata growth). */
#define ROOM_FACTOR 4
#define ROOM_MIN_BYTES ((hsize_t)1 << 20)

/* The metric columns after the swept ones, in order. n_test is a count
 * (uint64); the rest are float64. */
typedef struct metric_column {
    const char *name;
    int is_count;
    size_t field; /* offsetof in mx_point_result */
} metric_column;

static const metric_column metric_columns[] = {
    {"accuracy", 0, offsetof(mx_point_result, accuracy)},
    {"accuracy_snn_digital", 0, offsetof(mx_point_result, accuracy_snn_digital)},
    {"accuracy_ann", 0, offsetof(mx_point_result, accuracy_ann)},
    {"adc_clip_rate", 0, offsetof(mx_point_result, adc_clip_rate)},
    {"n_test", 1, offsetof(mx_point_result, n_test)},
    {"eval_seconds", 0, offsetof(mx_point_result, eval_seconds)},
    {"energy_j", 0, offsetof(mx_point_result, energy_j)},
    {"latency_s", 0, offsetof(mx_point_result, latency_s)},
    {"area_mm2", 0, offsetof(mx_point_result, area_mm2)},
    {"program_cells_verified", 1, offsetof(mx_point_result, program_cells_verified)},
    {"program_converged_fraction", 0, offsetof(mx_point_result, program_converged_fraction)},
    {"program_pulses", 0, offsetof(mx_point_result, program_pulses)},
    {"program_verify_reads", 0, offsetof(mx_point_result, program_verify_reads)},
    {"program_time_s", 0, offsetof(mx_point_result, program_time_s)},
    {"program_energy_j", 0, offsetof(mx_point_result, program_energy_j)},
    {"program_rms_error", 0, offsetof(mx_point_result, program_rms_error)},
    {"fault_stuck_cells", 0, offsetof(mx_point_result, fault_stuck_cells)},
    {"fault_test_reads", 0, offsetof(mx_point_result, fault_test_reads)},
    {"fault_spare_cells", 0, offsetof(mx_point_result, fault_spare_cells)},
    {"fault_moved", 0, offsetof(mx_point_result, fault_moved)},
    {"fault_time_s", 0, offsetof(mx_point_result, fault_time_s)},
    {"fault_energy_j", 0, offsetof(mx_point_result, fault_energy_j)},
    {"fault_weight_rms_before", 0, offsetof(mx_point_result, fault_weight_rms_before)},
    {"fault_weight_rms_after", 0, offsetof(mx_point_result, fault_weight_rms_after)},
    {"drift_alpha", 0, offsetof(mx_point_result, drift_alpha)},
    {"drift_reads", 0, offsetof(mx_point_result, drift_reads)},
    {"drift_energy_j", 0, offsetof(mx_point_result, drift_energy_j)},
    {"schedule_recalibrations", 0, offsetof(mx_point_result, schedule_recalibrations)},
    {"schedule_reprogrammings", 0, offsetof(mx_point_result, schedule_reprogrammings)},
    {"schedule_reprogram_energy_j", 0, offsetof(mx_point_result, schedule_reprogram_energy_j)},
    {"schedule_reprogram_time_s", 0, offsetof(mx_point_result, schedule_reprogram_time_s)},
    {"colcal_gain_rms_dev", 0, offsetof(mx_point_result, colcal_gain_rms_dev)},
    {"colcal_reads", 0, offsetof(mx_point_result, colcal_reads)},
    {"colcal_energy_j", 0, offsetof(mx_point_result, colcal_energy_j)},
    {"rebalance_passes", 1, offsetof(mx_point_result, rebalance_passes)},
    {"rebalance_energy_j", 0, offsetof(mx_point_result, rebalance_energy_j)},
};
#define N_METRIC_COLUMNS (sizeof metric_columns / sizeof metric_columns[0])

/* ---- small HDF5 helpers ------------------------------------------------ */

static herr_t attr_u64(hid_t loc, const char *name, uint64_t value)
{
    return mx_h5_attr_write(loc, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, 0, &value);
}

static herr_t attr_f64(hid_t loc, const char *name, double value)
{
    return mx_h5_attr_write(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &value);
}

/* Dataset creation properties of `rank` dimensions `chunk`, with HDF5's
 * Fletcher-32 checksum filter: a byte of a chunk changed after it was written
 * (a bad disk, memory or copy) then fails the read (H5Z_filter_fletcher32)
 * instead of giving a silently wrong number. The filter needs a chunked
 * layout. h5py and every HDF5 since 1.6 read it natively. */
static hid_t checksummed_dcpl(int rank, const hsize_t *chunk)
{
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (dcpl >= 0 && (H5Pset_chunk(dcpl, rank, chunk) < 0 || H5Pset_fletcher32(dcpl) < 0))
        mx_h5_close(&dcpl);
    return dcpl;
}

/* Whether HDF5's current error stack holds a failed checksum (the
 * Fletcher-32 filter's "data error detected by Fletcher32 checksum", or a
 * metadata checksum). Call right after the failing call: the next HDF5 API
 * call clears the stack. */
static herr_t find_checksum_error(unsigned n, const H5E_error2_t *err, void *data)
{
    (void)n;
    if (err->desc && (strstr(err->desc, "Fletcher32") || strstr(err->desc, "checksum")))
        *(int *)data = 1;
    return 0;
}

static int h5_checksum_failed(void)
{
    int found = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, find_checksum_error, &found);
    return found;
}

/* File creation properties with small chunk-index B-tree nodes. A chunked
 * dataset (needed for the checksum) is indexed by a version-1 B-tree whose
 * nodes have a fixed room of 2K chunks; HDF5's default K = 32 makes a ~2 KB
 * node for each one-chunk per-point dataset (a results file 1.7x larger).
 * K = CHUNK_BTREE_K keeps a node at ~0.2 KB; /summary's few chunks (one per
 * SUMMARY_CHUNK_ROWS rows) only get a deeper tree. The superblock becomes
 * version 1 (HDF5 >= 1.6, h5py read it). */
#define CHUNK_BTREE_K 2
static hid_t small_chunk_btree_fcpl(void)
{
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    if (fcpl >= 0 && H5Pset_istore_k(fcpl, CHUNK_BTREE_K) < 0)
        mx_h5_close(&fcpl);
    return fcpl;
}

/* A 1-D float64 dataset holding data[0..n), one checksummed chunk (an empty
 * one stays contiguous: a chunk cannot be larger than a fixed extent). */
static herr_t dataset_f64(hid_t loc, const char *name, const double *data, size_t n)
{
    hsize_t dims[1] = {n};
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t dcpl = n ? checksummed_dcpl(1, dims) : H5Pcreate(H5P_DATASET_CREATE);
    hid_t dset = H5I_INVALID_HID;
    herr_t rc = -1;
    if (space >= 0 && dcpl >= 0)
        dset = H5Dcreate2(loc, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (dset >= 0)
        rc = n ? H5Dwrite(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : 0;
    mx_h5_close(&dset);
    mx_h5_close(&dcpl);
    mx_h5_close(&space);
    return rc;
}

static char *dup_string(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = mx_alloc(la + lb + 1);
    if (s) {
        memcpy(s, a, la);
        memcpy(s + la, b, lb + 1);
    }
    return s;
}

/* ---- sweep axes -------------------------------------------------------- */

/* A swept value as a number: the whole text (surrounding blanks allowed)
 * must be a finite number, or a YAML boolean (1/0). */
static int parse_number(const char *text, double *out)
{
    static const char *const truths[] = {"true", "True", "TRUE"};
    static const char *const falsities[] = {"false", "False", "FALSE"};
    while (isspace((unsigned char)*text))
        text++;
    size_t len = strlen(text);
    while (len && isspace((unsigned char)text[len - 1]))
        len--;
    if (len == 0)
        return 0;
    for (size_t i = 0; i < 3; i++) {
        if (strlen(truths[i]) == len && !strncmp(text, truths[i], len)) {
            *out = 1.0;
            return 1;
        }
        if (strlen(falsities[i]) == len && !strncmp(text, falsities[i], len)) {
            *out = 0.0;
            return 1;
        }
    }
    char *end;
    double v = strtod(text, &end);
    if (end != text + len || !isfinite(v))
        return 0;
    *out = v;
    return 1;
}

static int is_reserved_column(const char *name)
{
    if (!strcmp(name, "point") || !strcmp(name, "repeat"))
        return 1;
    for (size_t i = 0; i < N_METRIC_COLUMNS; i++)
        if (!strcmp(name, metric_columns[i].name))
            return 1;
    return 0;
}

/* Copy cfg's axes, decide each column's type and lay out the row. */
static mx_status plan_columns(mx_results *r, const mx_experiment_config *cfg)
{
    if (cfg->n_axes > MX_SWEEP_MAX_AXES)
        return mx_fail(MX_EINVAL, "%s: %zu sweep axes, at most %d are supported", r->partial,
                       cfg->n_axes, MX_SWEEP_MAX_AXES);
    size_t offset = 2 * sizeof(uint64_t); /* point, repeat */
    size_t n_points = 1;
    r->n_axes = cfg->n_axes;
    for (size_t a = 0; a < cfg->n_axes; a++) {
        results_axis *ax = &r->axes[a];
        const char *path = cfg->axes[a].path;
        size_t n = cfg->axes[a].n_values;
        if (memchr(path, '\0', sizeof cfg->axes[a].path) == NULL || path[0] == '\0')
            return mx_fail(MX_EINVAL, "%s: sweep axis %zu has no path", r->partial, a);
        if (n == 0 || n > MX_SWEEP_MAX_VALUES)
            return mx_fail(MX_EINVAL, "%s: sweep axis %s has %zu values, expected 1..%d",
                           r->partial, path, n, MX_SWEEP_MAX_VALUES);
        if (is_reserved_column(path))
            return mx_fail(MX_EINVAL, "%s: sweep axis %s clashes with a /summary column name",
                           r->partial, path);
        for (size_t b = 0; b < a; b++)
            if (!strcmp(r->axes[b].path, path))
                return mx_fail(MX_EINVAL, "%s: sweep axis %s appears twice", r->partial, path);
        memcpy(ax->path, path, sizeof ax->path);
        ax->n_values = n;
        ax->numeric = 1;
        size_t longest = 1;
        for (size_t v = 0; v < n; v++) {
            const char *text = cfg->axes[a].values[v];
            size_t len = strnlen(text, MX_CONFIG_VALUE_BYTES);
            if (len == MX_CONFIG_VALUE_BYTES)
                return mx_fail(MX_EINVAL, "%s: sweep axis %s: value %zu is not terminated",
                               r->partial, path, v);
            memcpy(ax->text[v], text, len + 1);
            if (len > longest)
                longest = len;
            if (ax->numeric && !parse_number(text, &ax->number[v]))
                ax->numeric = 0;
        }
        ax->offset = offset;
        ax->str_bytes = (longest + STRING_COLUMN_ALIGN_BYTES - 1) / STRING_COLUMN_ALIGN_BYTES *
                        STRING_COLUMN_ALIGN_BYTES;
        offset += ax->numeric ? sizeof(double) : ax->str_bytes;
        n_points = mx_size_mul(n_points, n);
        if (n_points == 0)
            return mx_fail(MX_EINVAL, "%s: the sweep has too many points", r->partial);
    }
    r->n_points = n_points;
    r->row_bytes = offset + N_METRIC_COLUMNS * sizeof(uint64_t);
    return MX_OK;
}

/* Which value of every axis sweep point k takes: mixed radix, first axis
 * outermost (slowest varying). OUT: idx[n_axes]. */
static void decode_point(const mx_results *r, size_t k, size_t *idx)
{
    for (size_t a = r->n_axes; a-- > 0;) {
        idx[a] = k % r->axes[a].n_values;
        k /= r->axes[a].n_values;
    }
}

static hid_t make_row_type(const mx_results *r)
{
    hid_t type = H5Tcreate(H5T_COMPOUND, r->row_bytes);
    hid_t str = H5I_INVALID_HID;
    if (type < 0)
        return H5I_INVALID_HID;
    if (H5Tinsert(type, "point", 0, H5T_NATIVE_UINT64) < 0 ||
        H5Tinsert(type, "repeat", sizeof(uint64_t), H5T_NATIVE_UINT64) < 0)
        goto fail;
    for (size_t a = 0; a < r->n_axes; a++) {
        const results_axis *ax = &r->axes[a];
        if (ax->numeric) {
            if (H5Tinsert(type, ax->path, ax->offset, H5T_NATIVE_DOUBLE) < 0)
                goto fail;
            continue;
        }
        str = H5Tcopy(H5T_C_S1);
        if (str < 0 || H5Tset_size(str, ax->str_bytes) < 0 ||
            H5Tset_strpad(str, H5T_STR_NULLPAD) < 0 || H5Tset_cset(str, H5T_CSET_UTF8) < 0 ||
            H5Tinsert(type, ax->path, ax->offset, str) < 0)
            goto fail;
        mx_h5_close(&str);
    }
    size_t offset = r->row_bytes - N_METRIC_COLUMNS * sizeof(uint64_t);
    for (size_t i = 0; i < N_METRIC_COLUMNS; i++, offset += sizeof(uint64_t)) {
        hid_t t = metric_columns[i].is_count ? H5T_NATIVE_UINT64 : H5T_NATIVE_DOUBLE;
        if (H5Tinsert(type, metric_columns[i].name, offset, t) < 0)
            goto fail;
    }
    return type;
fail:
    mx_h5_close(&str);
    mx_h5_close(&type);
    return H5I_INVALID_HID;
}

/* ---- the sweep's fingerprint ------------------------------------------- */

/* A growing text buffer; on allocation failure `failed` is set and the text
 * stops growing. */
typedef struct text_buf {
    char *s;
    size_t len, cap;
    int failed;
} text_buf;

static void text_add(text_buf *b, const char *a, const char *c, const char *d)
{
    const char *parts[3] = {a, c, d};
    for (size_t i = 0; i < 3 && !b->failed; i++) {
        size_t n = strlen(parts[i]);
        if (b->len + n + 1 > b->cap) {
            size_t cap = (b->cap ? 2 * b->cap : 4096) + n;
            char *s = mx_alloc(cap);
            if (!s) {
                b->failed = 1;
                return;
            }
            if (b->s)
                memcpy(s, b->s, b->len + 1);
            mx_free(b->s);
            b->s = s;
            b->cap = cap;
        }
        memcpy(b->s + b->len, parts[i], n + 1);
        b->len += n;
    }
}

/* The sweep's identity as text, one "name: value" line each: the code
 * version, every config field as resolved (so --set overrides and
 * defaults count, comments and key order do not), then each sweep axis
 * with its values. Two runs with the same text produce the same datasets.
 * OUT: *out, allocated with mx_alloc. */
static mx_status resolved_config_text(const char *file, const mx_experiment_config *cfg,
                                      char **out)
{
    text_buf b = {0};
    char value[512];
    *out = NULL;
    text_add(&b, "memxbar: ", MX_VERSION " (" MX_GIT_DESCRIBE ")", "\n");
    snprintf(value, sizeof value, "%zu", cfg->repeats);
    text_add(&b, "repeats: ", value, "\n");
    for (size_t i = 0; i < mx_config_n_fields(); i++) {
        mx_config_field_info info;
        if (mx_config_field_at(i, &info) != MX_OK)
            break;
        if (mx_config_get(cfg, info.path, value, sizeof value) != MX_OK) {
            mx_clear_error(); /* a field too long to show: counts by its length */
            snprintf(value, sizeof value, "(unshown)");
        }
        text_add(&b, info.path, ": ", value);
        text_add(&b, "\n", "", "");
    }
    for (size_t a = 0; a < cfg->n_axes && a < MX_SWEEP_MAX_AXES; a++) {
        text_add(&b, "sweep.", cfg->axes[a].path, ": [");
        for (size_t v = 0; v < cfg->axes[a].n_values && v < MX_SWEEP_MAX_VALUES; v++)
            text_add(&b, v ? ", " : "", cfg->axes[a].values[v], "");
        text_add(&b, "]\n", "", "");
    }
    if (b.failed || !b.s) {
        mx_free(b.s);
        return mx_fail(MX_ENOMEM, "%s: no memory for the config fingerprint", file);
    }
    *out = b.s;
    return MX_OK;
}

/* FNV-1a 64 of the resolved config: a short name for it. */
static void fingerprint_of(const char *text, char hex[17])
{
    uint64_t h = 1469598103934665603ull;
    for (; *text; text++) {
        h ^= (unsigned char)*text;
        h *= 1099511628211ull;
    }
    snprintf(hex, 17, "%016llx", (unsigned long long)h);
}

/* ---- create / write / close -------------------------------------------- */

static mx_status write_root_attrs(const mx_results *r, const mx_experiment_config *cfg)
{
    char created[32];
    time_t now = time(NULL);
    struct tm tm;
    if (now == (time_t)-1 || !gmtime_r(&now, &tm) ||
        !strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(created, sizeof created, "unknown");
    const char *source = memchr(cfg->source_path, '\0', sizeof cfg->source_path)
                             ? cfg->source_path
                             : "";
    struct {
        const char *name;
        const char *value;
    } strings[] = {
        {"memxbar_version", MX_VERSION},
        {"git_describe", MX_GIT_DESCRIBE},
        {"config", cfg->text ? cfg->text : ""},
        {"config_source", source},
        {"created", created},
        {"status", "incomplete"},
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        if (mx_h5_attr_string(r->file, strings[i].name, strings[i].value) < 0)
            return mx_fail(MX_EIO, "%s: cannot write root attribute %s", r->partial,
                           strings[i].name);
    char *resolved = NULL, fingerprint[17];
    mx_status st = resolved_config_text(r->partial, cfg, &resolved);
    if (st != MX_OK)
        return st;
    fingerprint_of(resolved, fingerprint);
    herr_t rc = mx_h5_attr_string(r->file, "resolved_config", resolved);
    mx_free(resolved);
    if (rc < 0 || mx_h5_attr_string(r->file, "fingerprint", fingerprint) < 0)
        return mx_fail(MX_EIO, "%s: cannot write root attribute fingerprint", r->partial);
    if (attr_u64(r->file, "root_seed", cfg->seed) < 0)
        return mx_fail(MX_EIO, "%s: cannot write root attribute root_seed", r->partial);
    if (attr_u64(r->file, "n_points", r->n_points) < 0)
        return mx_fail(MX_EIO, "%s: cannot write root attribute n_points", r->partial);
    if (attr_u64(r->file, "repeats", cfg->repeats) < 0)
        return mx_fail(MX_EIO, "%s: cannot write root attribute repeats", r->partial);
    return MX_OK;
}

static mx_status create_summary(mx_results *r)
{
    hsize_t dims[1] = {0}, max_dims[1] = {H5S_UNLIMITED}, chunk[1] = {SUMMARY_CHUNK_ROWS};
    hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
    mx_status st = MX_OK;
    space = H5Screate_simple(1, dims, max_dims);
    dcpl = checksummed_dcpl(1, chunk);
    if (space < 0 || dcpl < 0) {
        st = mx_fail(MX_EIO, "%s: cannot set up /summary", r->partial);
        goto done;
    }
    r->summary = H5Dcreate2(r->file, "summary", r->row_type, space, H5P_DEFAULT, dcpl,
                            H5P_DEFAULT);
    if (r->summary < 0)
        st = mx_fail(MX_EIO, "%s: cannot create /summary", r->partial);
done:
    mx_h5_close(&dcpl);
    mx_h5_close(&space);
    return st;
}

/* Close every identifier r holds; returns < 0 if closing the file failed
 * (its last writes may be lost). */
static herr_t close_handles(mx_results *r)
{
    herr_t rc = 0;
    mx_h5_close(&r->summary);
    mx_h5_close(&r->row_type);
    mx_h5_close(&r->points);
    if (r->file >= 0) {
        rc = H5Fclose(r->file);
        r->file = H5I_INVALID_HID;
    }
    return rc;
}

static void free_results(mx_results *r)
{
    mx_free(r->done);
    mx_free(r->row);
    mx_free(r->path);
    mx_free(r->partial);
    mx_free(r);
}

/* The writer without a file: names, columns and scratch. */
static mx_status results_alloc(const char *path, const mx_experiment_config *cfg,
                               mx_results **out)
{
    *out = NULL;
    mx_results *r = mx_calloc(1, sizeof *r);
    if (!r)
        return mx_fail(MX_ENOMEM, "%s: no memory for the results writer", path);
    r->file = r->summary = r->row_type = r->points = H5I_INVALID_HID;
    r->repeats = cfg->repeats;
    r->path = dup_string(path, "");
    r->partial = dup_string(path, PARTIAL_SUFFIX);
    if (!r->path || !r->partial) {
        free_results(r);
        return mx_fail(MX_ENOMEM, "%s: no memory for the results writer", path);
    }
    mx_status st = cfg->repeats == 0
                       ? mx_fail(MX_EINVAL, "%s: repeats is 0, expected at least 1", r->partial)
                       : plan_columns(r, cfg);
    size_t n_done = mx_size_mul(r->n_points, r->repeats);
    if (st == MX_OK && n_done == 0)
        st = mx_fail(MX_EINVAL, "%s: the sweep has too many points", r->partial);
    if (st == MX_OK) {
        r->row = mx_calloc(1, r->row_bytes);
        r->done = mx_calloc(n_done, 1);
        if (!r->row || !r->done)
            st = mx_fail(MX_ENOMEM, "%s: no memory for the results writer", path);
    }
    if (st == MX_OK && (r->row_type = make_row_type(r)) < 0)
        st = mx_fail(MX_EIO, "%s: cannot build the /summary row type", r->partial);
    if (st != MX_OK) {
        mx_h5_close(&r->row_type);
        free_results(r);
        return st;
    }
    *out = r;
    return MX_OK;
}

/* Is there room for one more point? The file system's free space
 * (statvfs) and the process's file-size limit (RLIMIT_FSIZE) must both
 * leave room for it. A write that runs out of space half way leaves
 * HDF5 B-tree nodes and heaps pointing past the end of the file and can
 * damage the points already in it, so the sweep stops BEFORE a point it
 * cannot finish, with every finished point intact (tests/test_cli.sh
 * checks this under `ulimit -f`). */
static mx_status check_room(const mx_results *r)
{
    hsize_t need = ROOM_FACTOR * r->point_bytes;
    need = need > ROOM_MIN_BYTES ? need : ROOM_MIN_BYTES;
    double room = INFINITY;
    struct statvfs fs;
    if (statvfs(r->partial, &fs) == 0)
        room = (double)fs.f_bavail * (double)fs.f_frsize;
    struct rlimit lim;
    if (getrlimit(RLIMIT_FSIZE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) {
        const double left = (double)lim.rlim_cur - (double)r->file_bytes;
        room = left < room ? left : room;
    }
    if (room >= (double)need)
        return MX_OK;
    return mx_fail(MX_EIO,
                   "%s: %.2f MiB left for the results (free disk space, or the process's "
                   "file-size limit), the next point needs about %.2f MiB: stopping before it "
                   "(a point cut short by a full disk would damage the points already written, "
                   "%llu so far); "
                   "make room, then resume",
                   r->partial, room > 0.0 ? room / 1048576.0 : 0.0,
                   (double)need / 1048576.0, (unsigned long long)r->n_rows);
}

/* After a flush: the file's size, and the largest step a point made it grow. */
static void note_file_size(mx_results *r)
{
    hsize_t size = 0;
    if (H5Fget_filesize(r->file, &size) < 0)
        return;
    if (size > r->file_bytes && size - r->file_bytes > r->point_bytes)
        r->point_bytes = size - r->file_bytes;
    r->file_bytes = size;
}

/* Clear the way for a new <path>.partial without harming one that another
 * process is writing. A writer holds HDF5's exclusive flock(2) on its file
 * until it closes it; creating with H5F_ACC_TRUNC would truncate that file
 * before HDF5 even tries its lock (measured: a second sweep to the same
 * output wiped the first one's finished points). So: take the old file's
 * lock ourselves, non-blocking — busy means another sweep owns it — and
 * remove it while holding the lock; the new file is then created with
 * H5F_ACC_EXCL, so two sweeps starting at once cannot both create it. */
static mx_status claim_partial(const mx_results *r)
{
    int fd = open(r->partial, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? MX_OK
                               : mx_fail(MX_EIO, "%s: cannot open the old file to replace it "
                                                 "(%s)", r->partial, strerror(errno));
    mx_status st = MX_OK;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0)
        st = errno == EWOULDBLOCK
                 ? mx_fail(MX_EIO, "%s: another process is writing it (a sweep to the same "
                                   "output still running?); wait for it or choose another "
                                   "output", r->partial)
                 : mx_fail(MX_EIO, "%s: cannot lock the old file (%s)", r->partial,
                           strerror(errno));
    else if (unlink(r->partial) != 0)
        st = mx_fail(MX_EIO, "%s: cannot remove the old file (%s)", r->partial, strerror(errno));
    close(fd); /* releases the lock */
    return st;
}

mx_status mx_results_create(const char *path, const mx_experiment_config *cfg,
                            mx_results **out)
{
    assert(path && cfg && out);
    *out = NULL;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    mx_results *r;
    mx_status st = results_alloc(path, cfg, &r);
    if (st != MX_OK)
        return st;

    if ((st = claim_partial(r)) != MX_OK) {
        free_results(r);
        return st;
    }
    errno = 0;
    hid_t fcpl = small_chunk_btree_fcpl();
    r->file = fcpl >= 0 ? H5Fcreate(r->partial, H5F_ACC_EXCL, fcpl, H5P_DEFAULT)
                        : H5I_INVALID_HID;
    mx_h5_close(&fcpl);
    if (r->file < 0) {
        st = errno == EEXIST
                 ? mx_fail(MX_EIO, "%s: another process created it just now (two sweeps to "
                                   "the same output?)", r->partial)
                 : mx_fail(MX_EIO, "%s: cannot create HDF5 file (%s)", r->partial,
                           mx_h5_errno_text(errno, "directory missing or not writable?"));
        close_handles(r);
        free_results(r);
        return st;
    }
    st = write_root_attrs(r, cfg);
    if (st == MX_OK)
        st = create_summary(r);
    if (st == MX_OK) {
        r->points = H5Gcreate2(r->file, "points", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (r->points < 0)
            st = mx_fail(MX_EIO, "%s: cannot create /points", r->partial);
    }
    if (st == MX_OK && H5Fflush(r->file, H5F_SCOPE_GLOBAL) < 0)
        st = mx_fail(MX_EIO, "%s: cannot flush to disk", r->partial);
    if (st == MX_OK)
        note_file_size(r);
    if (st != MX_OK) {
        close_handles(r);
        remove(r->partial);
        free_results(r);
        return st;
    }
    *out = r;
    return MX_OK;
}

/* The swept values of point k as attributes of `group`. */
static herr_t write_point_attrs(const mx_results *r, hid_t group, const size_t *idx,
                                const char *network)
{
    for (size_t a = 0; a < r->n_axes; a++) {
        const results_axis *ax = &r->axes[a];
        herr_t rc = ax->numeric ? attr_f64(group, ax->path, ax->number[idx[a]])
                                : mx_h5_attr_string(group, ax->path, ax->text[idx[a]]);
        if (rc < 0)
            return rc;
    }
    return network ? mx_h5_attr_string(group, "network", network) : 0;
}

/* layer_energy_<component>_j, one 1-D dataset per component of the
 * (n_layers, components) breakdown. */
static mx_status write_energy_parts(const mx_results *r, hid_t group, const mx_point_result *res,
                                    const char *point_name, const char *repeat_name)
{
    if (!res->layer_energy_parts_j)
        return MX_OK;
    double column[MX_RESULTS_MAX_LAYERS];
    for (size_t k = 0; k < MX_ENERGY_N_COMPONENTS; k++) {
        char name[64];
        snprintf(name, sizeof name, "layer_energy_%s_j",
                 mx_energy_component_name((mx_energy_component)k));
        for (size_t l = 0; l < res->n_layers; l++)
            column[l] = res->layer_energy_parts_j[l * MX_ENERGY_N_COMPONENTS + k];
        if (dataset_f64(group, name, column, res->n_layers) < 0)
            return mx_fail(MX_EIO, "%s: cannot write /points/%s/%s/%s", r->partial, point_name,
                           repeat_name, name);
    }
    return MX_OK;
}

static void fill_row(const mx_results *r, const mx_point_result *res, const size_t *idx)
{
    unsigned char *row = r->row;
    uint64_t u = res->point;
    memset(row, 0, r->row_bytes);
    memcpy(row, &u, sizeof u);
    u = res->repeat;
    memcpy(row + sizeof u, &u, sizeof u);
    for (size_t a = 0; a < r->n_axes; a++) {
        const results_axis *ax = &r->axes[a];
        if (ax->numeric)
            memcpy(row + ax->offset, &ax->number[idx[a]], sizeof(double));
        else /* null-padded; the text never exceeds the column width */
            memcpy(row + ax->offset, ax->text[idx[a]], strlen(ax->text[idx[a]]));
    }
    size_t offset = r->row_bytes - N_METRIC_COLUMNS * sizeof(uint64_t);
    const unsigned char *base = (const unsigned char *)res;
    for (size_t i = 0; i < N_METRIC_COLUMNS; i++, offset += sizeof(uint64_t)) {
        if (metric_columns[i].is_count) {
            size_t count;
            memcpy(&count, base + metric_columns[i].field, sizeof count);
            u = count;
            memcpy(row + offset, &u, sizeof u);
        } else {
            memcpy(row + offset, base + metric_columns[i].field, sizeof(double));
        }
    }
}

static herr_t append_row(mx_results *r)
{
    hsize_t start[1] = {r->n_rows}, count[1] = {1}, new_size[1] = {r->n_rows + 1};
    hid_t file_space = H5I_INVALID_HID, mem_space = H5I_INVALID_HID;
    herr_t rc = -1;
    if (H5Dset_extent(r->summary, new_size) < 0)
        return -1;
    file_space = H5Dget_space(r->summary);
    mem_space = H5Screate_simple(1, count, NULL);
    if (file_space >= 0 && mem_space >= 0 &&
        H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL, count, NULL) >= 0)
        rc = H5Dwrite(r->summary, r->row_type, mem_space, file_space, H5P_DEFAULT, r->row);
    mx_h5_close(&mem_space);
    mx_h5_close(&file_space);
    if (rc < 0) /* leave the table as it was */
        H5Dset_extent(r->summary, start);
    else
        r->n_rows++;
    return rc;
}

mx_status mx_results_write_point(mx_results *r, const mx_experiment_config *point_cfg,
                                 const mx_point_result *res)
{
    (void)point_cfg; /* swept values come from the base config given at create */
    assert(r && res);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (res->point >= r->n_points)
        return mx_fail(MX_EINVAL, "%s: point %zu out of range (the sweep has %zu)", r->partial,
                       res->point, r->n_points);
    if (res->repeat >= r->repeats)
        return mx_fail(MX_EINVAL, "%s: repeat %zu out of range (the sweep has %zu)",
                       r->partial, res->repeat, r->repeats);
    if (res->n_layers > MX_RESULTS_MAX_LAYERS)
        return mx_fail(MX_EINVAL, "%s: point %zu: %zu layers, at most %d", r->partial,
                       res->point, res->n_layers, MX_RESULTS_MAX_LAYERS);
    /* The headline metrics are never "not applicable": a NaN or Inf here is
     * a computation gone wrong, and the point fails rather than be written
     * as a number (the columns documented as NaN-when-off are not checked). */
    if (!isfinite(res->accuracy))
        return mx_fail(MX_ENUMERIC, "%s: point %zu repeat %zu: accuracy is %g, expected a "
                                    "finite fraction; the point is not written",
                       r->partial, res->point, res->repeat, res->accuracy);
    if (!(isfinite(res->energy_j) && isfinite(res->latency_s)))
        return mx_fail(MX_ENUMERIC, "%s: point %zu repeat %zu: energy %g J and latency %g s "
                                    "per inference, expected finite values; the point is not "
                                    "written",
                       r->partial, res->point, res->repeat, res->energy_j, res->latency_s);

    unsigned char *done = &r->done[res->point * r->repeats + res->repeat];
    if (*done)
        return mx_fail(MX_EINVAL, "%s: point %zu repeat %zu is already written", r->partial,
                       res->point, res->repeat);
    mx_status room = check_room(r);
    if (room != MX_OK)
        return room;

    char point_name[32], repeat_name[32];
    snprintf(point_name, sizeof point_name, "%zu", res->point);
    snprintf(repeat_name, sizeof repeat_name, "%zu", res->repeat);
    size_t idx[MX_SWEEP_MAX_AXES];
    decode_point(r, res->point, idx);

    hid_t point_group = H5I_INVALID_HID, group = H5I_INVALID_HID;
    mx_status st = MX_OK;
    int created = 0, appended = 0;
    htri_t exists = H5Lexists(r->points, point_name, H5P_DEFAULT);
    if (exists > 0)
        point_group = H5Gopen2(r->points, point_name, H5P_DEFAULT);
    else if (exists == 0)
        point_group = H5Gcreate2(r->points, point_name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (point_group < 0) {
        st = mx_fail(MX_EIO, "%s: cannot create /points/%s", r->partial, point_name);
        goto done;
    }
    exists = H5Lexists(point_group, repeat_name, H5P_DEFAULT);
    if (exists != 0) {
        st = exists > 0 ? mx_fail(MX_EINVAL, "%s: point %zu repeat %zu is already written",
                                  r->partial, res->point, res->repeat)
                        : mx_fail(MX_EIO, "%s: cannot read /points/%s", r->partial, point_name);
        goto done;
    }
    group = H5Gcreate2(point_group, repeat_name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (group < 0) {
        st = mx_fail(MX_EIO, "%s: cannot create /points/%s/%s", r->partial, point_name,
                     repeat_name);
        goto done;
    }
    created = 1;
    if (write_point_attrs(r, group, idx, res->network) < 0) {
        st = mx_fail(MX_EIO, "%s: cannot write the swept values of /points/%s/%s", r->partial,
                     point_name, repeat_name);
        goto done;
    }
    const struct {
        const char *name;
        const double *data;
        size_t n;
    } sets[] = {
        {"accuracy_vs_step", res->accuracy_vs_step, res->timesteps},
        {"layer_rel_rms_error", res->layer_rel_rms_error, res->n_layers},
        {"layer_mean_error", res->layer_mean_error, res->n_layers},
        {"layer_clip_rate", res->layer_clip_rate, res->n_layers},
        {"layer_adc_range_a", res->layer_adc_range_a, res->n_layers},
        {"layer_spike_rate", res->layer_spike_rate, res->n_layers},
        {"layer_energy_j", res->layer_energy_j, res->n_layers},
        {"layer_latency_s", res->layer_latency_s, res->n_layers},
        {"layer_area_mm2", res->layer_area_mm2, res->n_layers},
    };
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        if (!sets[i].data)
            continue;
        if (dataset_f64(group, sets[i].name, sets[i].data, sets[i].n) < 0) {
            st = mx_fail(MX_EIO, "%s: cannot write /points/%s/%s/%s", r->partial, point_name,
                         repeat_name, sets[i].name);
            goto done;
        }
    }
    if ((st = write_energy_parts(r, group, res, point_name, repeat_name)) != MX_OK)
        goto done;
    fill_row(r, res, idx);
    if (append_row(r) < 0) {
        st = mx_fail(MX_EIO, "%s: cannot append row %llu to /summary", r->partial,
                     (unsigned long long)r->n_rows);
        goto done;
    }
    appended = 1;
    *done = 1;
    if (H5Fflush(r->file, H5F_SCOPE_GLOBAL) < 0)
        st = mx_fail(MX_EIO, "%s: cannot flush to disk", r->partial);
    else
        note_file_size(r);
done:
    mx_h5_close(&group);
    /* A point that failed before its row leaves no group behind, so writing
     * it again can succeed. */
    if (st != MX_OK && created && !appended && point_group >= 0)
        H5Ldelete(point_group, repeat_name, H5P_DEFAULT);
    mx_h5_close(&point_group);
    return st;
}

/* ---- resume ------------------------------------------------------------ */

/* String attribute `name` of loc, copied with mx_alloc into *out. < 0 if it
 * is missing or not a variable-length string (this writer's kind). */
static int attr_string_read(hid_t loc, const char *name, char **out)
{
    hid_t attr = H5I_INVALID_HID, ftype = H5I_INVALID_HID, mtype = H5I_INVALID_HID;
    char *value = NULL;
    int result = -1;
    *out = NULL;
    if (H5Aexists(loc, name) <= 0)
        return -1;
    attr = H5Aopen(loc, name, H5P_DEFAULT);
    ftype = attr >= 0 ? H5Aget_type(attr) : H5I_INVALID_HID;
    mtype = H5Tcopy(H5T_C_S1);
    if (ftype >= 0 && mtype >= 0 && H5Tget_class(ftype) == H5T_STRING &&
        H5Tis_variable_str(ftype) > 0 && H5Tset_size(mtype, H5T_VARIABLE) >= 0 &&
        H5Tset_cset(mtype, H5Tget_cset(ftype)) >= 0 && H5Aread(attr, mtype, &value) >= 0 &&
        value) {
        *out = dup_string(value, "");
        result = *out ? 0 : -1;
    }
    if (value)
        H5free_memory(value);
    mx_h5_close(&mtype);
    mx_h5_close(&ftype);
    mx_h5_close(&attr);
    return result;
}

/* Fail MX_EMISMATCH naming the first line where the file's resolved config
 * (`was`) and this run's (`now`) differ: "hardware.adc.bits is 4 in the
 * file, 6 now". */
static mx_status fail_config_differs(const char *file, const char *was, const char *now)
{
    while (*was || *now) {
        size_t lw = strcspn(was, "\n"), ln = strcspn(now, "\n");
        if (lw != ln || memcmp(was, now, lw) != 0) {
            const char *cw = memchr(was, ':', lw), *cn = memchr(now, ':', ln);
            size_t kw = cw ? (size_t)(cw - was) : lw, kn = cn ? (size_t)(cn - now) : ln;
            if (cw && cn && kw == kn && !memcmp(was, now, kw)) {
                /* "path: value": the value starts after ": " */
                size_t vw = kw + 2 <= lw ? kw + 2 : lw, vn = kn + 2 <= ln ? kn + 2 : ln;
                return mx_fail(MX_EMISMATCH,
                               "%s: written for a different sweep: %.*s is %.*s in the file, "
                               "%.*s now; cannot resume (run without --resume to start afresh, "
                               "or give the same config and --set options)",
                               file, (int)kw, was, (int)(lw - vw), was + vw, (int)(ln - vn),
                               now + vn);
            }
            return mx_fail(MX_EMISMATCH,
                           "%s: written for a different sweep: the file has \"%.*s\" where "
                           "this run has \"%.*s\"; cannot resume (run without --resume to "
                           "start afresh)",
                           file, (int)lw, was, (int)ln, now);
        }
        was += lw + (was[lw] == '\n');
        now += ln + (now[ln] == '\n');
    }
    return MX_OK;
}

static herr_t attr_read_u64(hid_t loc, const char *name, uint64_t *value)
{
    if (H5Aexists(loc, name) <= 0)
        return -1;
    hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
    herr_t rc = attr >= 0 ? H5Aread(attr, H5T_NATIVE_UINT64, value) : -1;
    mx_h5_close(&attr);
    return rc;
}

/* Does the file hold the sweep cfg describes? Compares the resolved config
 * (the fingerprint's text: code version, every field, the sweep axes), the
 * seed, repeats and the /summary columns. */
static mx_status check_same_sweep(mx_results *r, const mx_experiment_config *cfg)
{
    uint64_t seed = 0, repeats = 0;
    char *was = NULL, *now = NULL;
    if (attr_read_u64(r->file, "root_seed", &seed) < 0 ||
        attr_read_u64(r->file, "repeats", &repeats) < 0)
        return mx_fail(MX_EFORMAT, "%s: missing root attributes (not a memxbar results file?)",
                       r->partial);
    if (attr_string_read(r->file, "resolved_config", &was) < 0)
        return mx_fail(MX_EMISMATCH, "%s: has no config fingerprint (written by an older "
                                     "memxbar?); cannot resume",
                       r->partial);
    mx_status st = resolved_config_text(r->partial, cfg, &now);
    if (st == MX_OK)
        st = fail_config_differs(r->partial, was, now);
    mx_free(was);
    mx_free(now);
    if (st != MX_OK)
        return st;
    if (seed != cfg->seed || repeats != cfg->repeats)
        return mx_fail(MX_EMISMATCH,
                       "%s: written with seed %llu and %llu repeats, not %llu and %zu; "
                       "cannot resume",
                       r->partial, (unsigned long long)seed, (unsigned long long)repeats,
                       (unsigned long long)cfg->seed, cfg->repeats);
    hid_t ftype = H5Dget_type(r->summary);
    htri_t same_columns = ftype >= 0 ? H5Tequal(ftype, r->row_type) : -1;
    mx_h5_close(&ftype);
    if (same_columns <= 0)
        return mx_fail(MX_EMISMATCH, "%s: /summary columns differ from this sweep's axes; "
                                     "cannot resume",
                       r->partial);
    return MX_OK;
}

/* Mark the rows already in /summary as done. */
static mx_status load_done(mx_results *r)
{
    hid_t space = H5Dget_space(r->summary), mtype = H5I_INVALID_HID;
    uint64_t *pairs = NULL;
    hsize_t dims[1];
    mx_status st = MX_OK;
    if (space < 0 || H5Sget_simple_extent_ndims(space) != 1 ||
        H5Sget_simple_extent_dims(space, dims, NULL) != 1) {
        st = mx_fail(MX_EFORMAT, "%s: /summary is not a 1-D table", r->partial);
        goto done;
    }
    if (dims[0] > (hsize_t)r->n_points * (hsize_t)r->repeats) {
        st = mx_fail(MX_EFORMAT, "%s: /summary has %llu rows, more than the sweep has",
                     r->partial, (unsigned long long)dims[0]);
        goto done;
    }
    size_t n = (size_t)dims[0];
    if (n > 0) {
        pairs = mx_alloc(n * 2 * sizeof *pairs);
        if (!pairs) {
            st = mx_fail(MX_ENOMEM, "%s: no memory for %zu rows", r->partial, n);
            goto done;
        }
        mtype = H5Tcreate(H5T_COMPOUND, 2 * sizeof *pairs);
        if (mtype < 0 || H5Tinsert(mtype, "point", 0, H5T_NATIVE_UINT64) < 0 ||
            H5Tinsert(mtype, "repeat", sizeof *pairs, H5T_NATIVE_UINT64) < 0 ||
            H5Dread(r->summary, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, pairs) < 0) {
            st = mx_fail(MX_EIO, "%s: cannot read /summary", r->partial);
            goto done;
        }
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t k = pairs[2 * i], rep = pairs[2 * i + 1];
        if (k >= r->n_points || rep >= r->repeats || r->done[k * r->repeats + rep]) {
            st = mx_fail(MX_EFORMAT, "%s: /summary row %zu (point %llu, repeat %llu) is out of "
                                     "range or repeated",
                         r->partial, i, (unsigned long long)k, (unsigned long long)rep);
            goto done;
        }
        r->done[k * r->repeats + rep] = 1;
    }
    r->n_rows = n;
done:
    mx_free(pairs);
    mx_h5_close(&mtype);
    mx_h5_close(&space);
    return st;
}

/* Remove /points/<k>/<r> groups without a /summary row: a writer killed in
 * the middle of a point leaves one, and the point is redone. */
static mx_status remove_unfinished_groups(mx_results *r)
{
    for (size_t k = 0; k < r->n_points; k++) {
        char name[32];
        snprintf(name, sizeof name, "%zu", k);
        htri_t exists = H5Lexists(r->points, name, H5P_DEFAULT);
        if (exists < 0)
            return mx_fail(MX_EFORMAT, "%s: cannot read /points", r->partial);
        if (exists == 0)
            continue;
        hid_t group = H5Gopen2(r->points, name, H5P_DEFAULT);
        if (group < 0)
            return mx_fail(MX_EFORMAT, "%s: /points/%s is not a group", r->partial, name);
        for (size_t rep = 0; rep < r->repeats; rep++) {
            char rname[32];
            snprintf(rname, sizeof rname, "%zu", rep);
            if (r->done[k * r->repeats + rep])
                continue;
            exists = H5Lexists(group, rname, H5P_DEFAULT);
            if (exists < 0 || (exists > 0 && H5Ldelete(group, rname, H5P_DEFAULT) < 0)) {
                mx_h5_close(&group);
                return mx_fail(MX_EIO, "%s: cannot remove the unfinished /points/%s/%s",
                               r->partial, name, rname);
            }
        }
        mx_h5_close(&group);
    }
    return MX_OK;
}

/* Read every dataset of the file once (H5Ovisit). A write that failed half
 * way (disk full, a crash in the middle of a flush) can leave B-tree nodes
 * or heaps that point past the end of the file; /summary may still read
 * while other objects do not, and writing on into such a file makes the
 * damage permanent. */
typedef struct visit_ctx {
    const char *failed; /* the first object that did not read (points into H5Ovisit's name) */
    int checksum;       /* it failed its checksum (bytes changed after they were written) */
    char name[256];
} visit_ctx;

static herr_t visit_read(hid_t root, const char *name, const H5O_info_t *info, void *data)
{
    visit_ctx *v = data;
    if (info->type != H5O_TYPE_DATASET)
        return 0;
    hid_t d = H5Dopen2(root, name, H5P_DEFAULT);
    hid_t type = d >= 0 ? H5Dget_type(d) : H5I_INVALID_HID;
    hid_t space = d >= 0 ? H5Dget_space(d) : H5I_INVALID_HID;
    hssize_t n = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    size_t size = type >= 0 ? H5Tget_size(type) : 0;
    void *buf = n > 0 && size > 0 ? mx_alloc((size_t)n * size) : NULL;
    int ok = d >= 0 && n >= 0 && size > 0 &&
             (n == 0 || (buf && H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0));
    if (!ok && buf)
        v->checksum = h5_checksum_failed();
    if (ok && buf && H5Tis_variable_str(type) > 0)
        H5Dvlen_reclaim(type, space, H5P_DEFAULT, buf);
    mx_free(buf);
    mx_h5_close(&space);
    mx_h5_close(&type);
    mx_h5_close(&d);
    if (ok)
        return 0;
    snprintf(v->name, sizeof v->name, "%s", name);
    v->failed = v->name;
    return 1; /* stop */
}

static mx_status check_readable(const mx_results *r)
{
    visit_ctx v = {0};
    herr_t rc = H5Ovisit(r->file, H5_INDEX_NAME, H5_ITER_NATIVE, visit_read, &v);
    if (rc == 0 && !v.failed)
        return MX_OK;
    if (v.checksum)
        return mx_fail(MX_EFORMAT,
                       "%s: damaged — /%s fails its checksum (bytes changed after they were "
                       "written: a bad disk, memory or copy); resuming would build on it, so it "
                       "is refused: run without --resume to start afresh",
                       r->partial, v.name);
    return mx_fail(MX_EFORMAT,
                   "%s: damaged — %s%s cannot be read (a write that failed half way, e.g. a "
                   "full disk, or a truncated copy); resuming would build on it, so it is "
                   "refused: run without --resume to start afresh",
                   r->partial, v.failed ? "/" : "its object tree",
                   v.failed ? v.failed : "");
}

mx_status mx_results_resume(const char *path, const mx_experiment_config *cfg,
                            mx_results **out)
{
    assert(path && cfg && out);
    *out = NULL;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    mx_results *r;
    mx_status st = results_alloc(path, cfg, &r);
    if (st != MX_OK)
        return st;
    errno = 0;
    htri_t is_h5 = H5Fis_hdf5(r->partial);
    if (is_h5 < 0)
        st = errno == ENOENT
                 ? mx_fail(MX_ENOTFOUND, "%s: no unfinished sweep to resume", r->partial)
                 : mx_fail(MX_EIO, "%s: cannot open (%s)", r->partial,
                           mx_h5_errno_text(errno, "unreadable?"));
    else if (is_h5 == 0)
        st = mx_fail(MX_EFORMAT, "%s: not an HDF5 file", r->partial);
    if (st == MX_OK) {
        errno = 0;
        r->file = H5Fopen(r->partial, H5F_ACC_RDWR, H5P_DEFAULT);
        if (r->file < 0)
            st = errno == EAGAIN || errno == EWOULDBLOCK
                     ? mx_fail(MX_EIO, "%s: locked by another process (a sweep still writing "
                                       "it?)",
                               r->partial)
                     : mx_fail(MX_EIO, "%s: cannot open for writing (%s)", r->partial,
                               mx_h5_errno_text(errno, "truncated, corrupt or read-only?"));
    }
    if (st == MX_OK) {
        if (H5Lexists(r->file, "summary", H5P_DEFAULT) > 0)
            r->summary = H5Dopen2(r->file, "summary", H5P_DEFAULT);
        if (H5Lexists(r->file, "points", H5P_DEFAULT) > 0)
            r->points = H5Gopen2(r->file, "points", H5P_DEFAULT);
        if (r->summary < 0 || r->points < 0)
            st = mx_fail(MX_EFORMAT, "%s: no /summary or /points (not a memxbar results file?)",
                         r->partial);
    }
    if (st == MX_OK)
        st = check_same_sweep(r, cfg);
    if (st == MX_OK)
        st = check_readable(r);
    if (st == MX_OK)
        st = load_done(r);
    if (st == MX_OK)
        st = remove_unfinished_groups(r);
    if (st == MX_OK && mx_h5_attr_string(r->file, "status", "incomplete") < 0)
        st = mx_fail(MX_EIO, "%s: cannot write root attribute status", r->partial);
    if (st == MX_OK && H5Fflush(r->file, H5F_SCOPE_GLOBAL) < 0)
        st = mx_fail(MX_EIO, "%s: cannot flush to disk", r->partial);
    if (st == MX_OK) { /* the points so far, as the estimate of the next one */
        note_file_size(r);
        r->point_bytes = r->n_rows ? r->file_bytes / r->n_rows : 0;
    }
    if (st != MX_OK) {
        close_handles(r);
        free_results(r);
        return st;
    }
    *out = r;
    return MX_OK;
}

int mx_results_has_point(const mx_results *r, size_t point, size_t repeat)
{
    assert(r);
    if (point >= r->n_points || repeat >= r->repeats)
        return 0;
    return r->done[point * r->repeats + repeat];
}

static int row_order(const void *a, const void *b)
{
    uint64_t ka[2], kb[2]; /* point, repeat: the first two columns */
    memcpy(ka, a, sizeof ka);
    memcpy(kb, b, sizeof kb);
    return ka[0] != kb[0] ? (ka[0] > kb[0]) - (ka[0] < kb[0]) : (ka[1] > kb[1]) - (ka[1] < kb[1]);
}

/* Put /summary in (point, repeat) order. Rows are appended as points
 * finish; a distributed sweep (or a resumed one) finishes them out of
 * order, and the complete file must equal a one-process run's. */
static mx_status sort_summary(mx_results *r)
{
    if (r->n_rows < 2)
        return MX_OK;
    unsigned char *rows = mx_alloc(mx_size_mul((size_t)r->n_rows, r->row_bytes));
    if (!rows)
        return mx_fail(MX_ENOMEM, "%s: no memory to sort /summary", r->partial);
    mx_status st = MX_OK;
    if (H5Dread(r->summary, r->row_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) < 0) {
        st = mx_fail(MX_EIO, "%s: cannot read /summary back to sort it", r->partial);
    } else {
        int sorted = 1;
        for (hsize_t i = 1; i < r->n_rows && sorted; i++)
            sorted = row_order(rows + (i - 1) * r->row_bytes, rows + i * r->row_bytes) < 0;
        if (!sorted) {
            qsort(rows, (size_t)r->n_rows, r->row_bytes, row_order);
            if (H5Dwrite(r->summary, r->row_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) < 0 ||
                H5Fflush(r->file, H5F_SCOPE_GLOBAL) < 0)
                st = mx_fail(MX_EIO, "%s: cannot write /summary back in point order", r->partial);
        }
    }
    mx_free(rows);
    return st;
}

mx_status mx_results_close(mx_results *r, int complete)
{
    if (!r)
        return MX_OK;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    mx_status st = MX_OK;
    if (complete) {
        hsize_t expected = (hsize_t)r->n_points * (hsize_t)r->repeats;
        if (r->n_rows != expected)
            st = mx_fail(MX_EINVAL,
                         "%s: cannot mark complete: %llu of %llu (point, repeat) rows written",
                         r->partial, (unsigned long long)r->n_rows,
                         (unsigned long long)expected);
        else if ((st = sort_summary(r)) != MX_OK)
            ;
        else if (mx_h5_attr_string(r->file, "status", "complete") < 0)
            st = mx_fail(MX_EIO, "%s: cannot set status to complete", r->partial);
    }
    if (close_handles(r) < 0 && st == MX_OK)
        st = mx_fail(MX_EIO, "%s: cannot close the HDF5 file (disk full?)", r->partial);
    if (complete && st == MX_OK && rename(r->partial, r->path) != 0)
        st = mx_fail(MX_EIO, "%s: cannot rename to %s: %s", r->partial, r->path,
                     strerror(errno));
    free_results(r);
    return st;
}

/* ---- reading ----------------------------------------------------------- */

/* Why reading /summary of `path` failed; call right after the failed read. */
static mx_status summary_read_failed(const char *path)
{
    if (h5_checksum_failed())
        return mx_fail(MX_EFORMAT,
                       "%s: /summary fails its checksum: bytes changed after they were "
                       "written (a bad disk, memory or copy), so its numbers cannot be trusted",
                       path);
    return mx_fail(MX_EIO, "%s: cannot read /summary", path);
}

mx_status mx_results_read_accuracy(const char *path, size_t *n_rows, double *accuracy,
                                   size_t cap)
{
    assert(path && n_rows && (accuracy || cap == 0));
    *n_rows = 0;
    mx_status checked = mx_h5_check_file(path);
    if (checked != MX_OK)
        return checked;

    hid_t file = H5I_INVALID_HID, dset = H5I_INVALID_HID, ftype = H5I_INVALID_HID;
    hid_t space = H5I_INVALID_HID, mtype = H5I_INVALID_HID;
    double *all = NULL;
    mx_status st = MX_OK;
    if ((st = mx_h5_open_read(path, &file)) != MX_OK)
        goto done;
    htri_t has = H5Lexists(file, "summary", H5P_DEFAULT);
    if (has > 0)
        dset = H5Dopen2(file, "summary", H5P_DEFAULT);
    if (dset < 0) {
        st = mx_fail(MX_EFORMAT, "%s: no /summary table (not a memxbar results file?)", path);
        goto done;
    }
    ftype = H5Dget_type(dset);
    space = H5Dget_space(dset);
    int member = ftype >= 0 && H5Tget_class(ftype) == H5T_COMPOUND
                     ? H5Tget_member_index(ftype, "accuracy")
                     : -1;
    if (member < 0 || H5Tget_member_class(ftype, (unsigned)member) != H5T_FLOAT) {
        st = mx_fail(MX_EFORMAT, "%s: /summary has no float column 'accuracy'", path);
        goto done;
    }
    hsize_t dims[1];
    if (space < 0 || H5Sget_simple_extent_ndims(space) != 1 ||
        H5Sget_simple_extent_dims(space, dims, NULL) != 1) {
        st = mx_fail(MX_EFORMAT, "%s: /summary is not a 1-D table", path);
        goto done;
    }
    if (dims[0] > SIZE_MAX / sizeof(double)) {
        st = mx_fail(MX_EFORMAT, "%s: /summary has too many rows (%llu)", path,
                     (unsigned long long)dims[0]);
        goto done;
    }
    size_t n = (size_t)dims[0];
    if (n > 0) {
        all = mx_alloc(n * sizeof *all);
        mtype = H5Tcreate(H5T_COMPOUND, sizeof(double));
        if (!all) {
            st = mx_fail(MX_ENOMEM, "%s: no memory for %zu rows", path, n);
            goto done;
        }
        if (mtype < 0 || H5Tinsert(mtype, "accuracy", 0, H5T_NATIVE_DOUBLE) < 0 ||
            H5Dread(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, all) < 0) {
            st = summary_read_failed(path);
            goto done;
        }
        for (size_t i = 0; i < n && i < cap; i++)
            accuracy[i] = all[i];
    }
    *n_rows = n;
done:
    mx_free(all);
    mx_h5_close(&mtype);
    mx_h5_close(&space);
    mx_h5_close(&ftype);
    mx_h5_close(&dset);
    mx_h5_close(&file);
    return st;
}

void mx_results_table_free(mx_results_table *t)
{
    if (!t)
        return;
    mx_free(t->rows);
    memset(t, 0, sizeof *t);
}

/* Does `path` end with the dotted suffix `suffix` (whole components)? */
static int ends_with_component(const char *path, const char *suffix)
{
    size_t lp = strlen(path), ls = strlen(suffix);
    return lp >= ls && !strcmp(path + lp - ls, suffix) && (lp == ls || path[lp - ls - 1] == '.');
}

const char *mx_results_axis_label(const char *const *paths, size_t n, size_t a)
{
    const char *p = paths[a];
    for (const char *at = p + strlen(p); at > p; at--) {
        if (at[-1] != '.')
            continue;
        int shared = 0;
        for (size_t b = 0; b < n && !shared; b++)
            shared = b != a && ends_with_component(paths[b], at);
        if (!shared)
            return at;
    }
    return p;
}

/* Fill out->rows from the raw /summary rows `buf` (n rows of the native
 * compound type mtype). */
static mx_status table_from_rows(const char *path, hid_t mtype, const unsigned char *buf,
                                 size_t n, mx_results_table *out)
{
    const size_t row_bytes = H5Tget_size(mtype);
    const int n_members = H5Tget_nmembers(mtype);
    if (n_members < 0 || row_bytes == 0)
        return mx_fail(MX_EFORMAT, "%s: /summary has no columns", path);
    /* The swept columns' labels: the shortest unambiguous end of each path. */
    char names[MX_SWEEP_MAX_AXES][MX_CONFIG_NAME_BYTES];
    const char *paths[MX_SWEEP_MAX_AXES];
    size_t n_swept = 0;
    for (int m = 0; m < n_members && n_swept < MX_SWEEP_MAX_AXES; m++) {
        char *name = H5Tget_member_name(mtype, (unsigned)m);
        if (name && !is_reserved_column(name)) {
            snprintf(names[n_swept], sizeof names[0], "%s", name);
            paths[n_swept] = names[n_swept];
            n_swept++;
        }
        if (name)
            H5free_memory(name);
    }
    for (size_t i = 0; i < n; i++) {
        mx_results_row *row = &out->rows[i];
        const unsigned char *raw = buf + i * row_bytes;
        row->accuracy = row->accuracy_snn_digital = row->accuracy_ann = NAN;
        row->adc_clip_rate = row->energy_j = row->latency_s = NAN;
        for (int m = 0; m < n_members; m++) {
            char *name = H5Tget_member_name(mtype, (unsigned)m);
            hid_t type = H5Tget_member_type(mtype, (unsigned)m);
            if (!name || type < 0) {
                if (name)
                    H5free_memory(name);
                mx_h5_close(&type);
                return mx_fail(MX_EFORMAT, "%s: /summary column %d is unreadable", path, m);
            }
            const unsigned char *at = raw + H5Tget_member_offset(mtype, (unsigned)m);
            const H5T_class_t cls = H5Tget_class(type);
            const size_t size = H5Tget_size(type);
            double f = NAN;
            uint64_t u = 0;
            if (cls == H5T_FLOAT && size == sizeof(double))
                memcpy(&f, at, sizeof f);
            else if (cls == H5T_INTEGER && size == sizeof(uint64_t))
                memcpy(&u, at, sizeof u);
            const struct {
                const char *name;
                double *dst;
            } floats[] = {
                {"accuracy", &row->accuracy},
                {"accuracy_snn_digital", &row->accuracy_snn_digital},
                {"accuracy_ann", &row->accuracy_ann},
                {"adc_clip_rate", &row->adc_clip_rate},
                {"energy_j", &row->energy_j},
                {"latency_s", &row->latency_s},
            };
            int known = 0;
            for (size_t k = 0; k < sizeof floats / sizeof floats[0]; k++)
                if (!strcmp(name, floats[k].name)) {
                    *floats[k].dst = f;
                    known = 1;
                }
            if (!strcmp(name, "point"))
                row->point = (size_t)u;
            else if (!strcmp(name, "repeat"))
                row->repeat = (size_t)u;
            else if (!strcmp(name, "n_test"))
                row->n_test = (size_t)u;
            else if (!known && !is_reserved_column(name)) { /* a swept field */
                const char *label = name;
                for (size_t a = 0; a < n_swept; a++)
                    if (!strcmp(paths[a], name))
                        label = mx_results_axis_label(paths, n_swept, a);
                size_t used = strlen(row->swept);
                char *dst = row->swept + used;
                size_t room = sizeof row->swept - used;
                const char *sep = used ? " " : "";
                if (cls == H5T_STRING)
                    snprintf(dst, room, "%s%s=%.*s", sep, label, (int)strnlen((const char *)at, size),
                             (const char *)at);
                else
                    snprintf(dst, room, "%s%s=%g", sep, label, f);
            }
            H5free_memory(name);
            mx_h5_close(&type);
        }
    }
    return MX_OK;
}

mx_status mx_results_read_table(const char *path, mx_results_table *out)
{
    assert(path && out);
    memset(out, 0, sizeof *out);
    mx_status checked = mx_h5_check_file(path);
    if (checked != MX_OK)
        return checked;
    hid_t file = H5I_INVALID_HID, dset = H5I_INVALID_HID, ftype = H5I_INVALID_HID;
    hid_t mtype = H5I_INVALID_HID, space = H5I_INVALID_HID;
    unsigned char *buf = NULL;
    char *status = NULL;
    uint64_t n_points = 0, repeats = 0;
    mx_status st = mx_h5_open_read(path, &file);
    if (st != MX_OK)
        goto done;
    if (H5Lexists(file, "summary", H5P_DEFAULT) > 0)
        dset = H5Dopen2(file, "summary", H5P_DEFAULT);
    if (dset < 0 || attr_read_u64(file, "n_points", &n_points) < 0 ||
        attr_read_u64(file, "repeats", &repeats) < 0) {
        st = mx_fail(MX_EFORMAT, "%s: no /summary table or root attributes (not a memxbar "
                                 "results file?)",
                     path);
        goto done;
    }
    ftype = H5Dget_type(dset);
    mtype = ftype >= 0 ? H5Tget_native_type(ftype, H5T_DIR_ASCEND) : H5I_INVALID_HID;
    space = H5Dget_space(dset);
    hsize_t dims[1];
    if (mtype < 0 || H5Tget_class(mtype) != H5T_COMPOUND || space < 0 ||
        H5Sget_simple_extent_ndims(space) != 1 ||
        H5Sget_simple_extent_dims(space, dims, NULL) != 1) {
        st = mx_fail(MX_EFORMAT, "%s: /summary is not a 1-D table", path);
        goto done;
    }
    const size_t row_bytes = H5Tget_size(mtype);
    if (row_bytes == 0 || dims[0] > SIZE_MAX / row_bytes ||
        dims[0] > SIZE_MAX / sizeof(mx_results_row)) {
        st = mx_fail(MX_EFORMAT, "%s: /summary has too many rows (%llu)", path,
                     (unsigned long long)dims[0]);
        goto done;
    }
    const size_t n = (size_t)dims[0];
    if (n > 0) {
        buf = mx_alloc(n * row_bytes);
        out->rows = mx_calloc(n, sizeof *out->rows);
        if (!buf || !out->rows) {
            st = mx_fail(MX_ENOMEM, "%s: no memory for %zu rows", path, n);
            goto done;
        }
        if (H5Dread(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
            st = summary_read_failed(path);
            goto done;
        }
        if ((st = table_from_rows(path, mtype, buf, n, out)) != MX_OK)
            goto done;
    }
    out->n_rows = n;
    out->n_points = (size_t)n_points;
    out->repeats = (size_t)repeats;
    out->complete = attr_string_read(file, "status", &status) == 0 && !strcmp(status, "complete");
done:
    mx_free(status);
    mx_free(buf);
    mx_h5_close(&space);
    mx_h5_close(&mtype);
    mx_h5_close(&ftype);
    mx_h5_close(&dset);
    mx_h5_close(&file);
    if (st != MX_OK)
        mx_results_table_free(out);
    return st;
}

/* ---- a point result as bytes (distributed sweeps) ---------------------- */

/* The arrays a point result points to, and their lengths. */
typedef struct result_array {
    size_t field; /* offsetof the pointer in mx_point_result */
    int len;      /* 0: timesteps, 1: n_layers, 2: n_layers × MX_ENERGY_N_COMPONENTS */
} result_array;

static const result_array result_arrays[] = {
    {offsetof(mx_point_result, accuracy_vs_step), 0},
    {offsetof(mx_point_result, layer_rel_rms_error), 1},
    {offsetof(mx_point_result, layer_mean_error), 1},
    {offsetof(mx_point_result, layer_clip_rate), 1},
    {offsetof(mx_point_result, layer_adc_range_a), 1},
    {offsetof(mx_point_result, layer_spike_rate), 1},
    {offsetof(mx_point_result, layer_energy_parts_j), 2},
    {offsetof(mx_point_result, layer_energy_j), 1},
    {offsetof(mx_point_result, layer_latency_s), 1},
    {offsetof(mx_point_result, layer_area_mm2), 1},
};
#define N_RESULT_ARRAYS (sizeof result_arrays / sizeof result_arrays[0])
#define PACK_MAGIC 0x5250584du /* "MXPR" */
#define PACK_NETWORK_BYTES 16

static size_t array_len(const mx_point_result *p, int len)
{
    return len == 0 ? p->timesteps
                    : len == 1 ? p->n_layers : p->n_layers * (size_t)MX_ENERGY_N_COMPONENTS;
}

static const double *array_at(const mx_point_result *p, size_t i)
{
    const double *a;
    memcpy(&a, (const unsigned char *)p + result_arrays[i].field, sizeof a);
    return a;
}

/* Header: magic, the struct's size (the same binary on every rank), the
 * mask of arrays present. */
typedef struct pack_header {
    uint32_t magic, struct_bytes, present, network_bytes;
} pack_header;

mx_status mx_point_result_pack(const mx_point_result *res, void **out, size_t *out_bytes)
{
    *out = NULL;
    *out_bytes = 0;
    if (res->n_layers > MX_RESULTS_MAX_LAYERS || res->timesteps > ((size_t)1 << 24))
        return mx_fail(MX_EINVAL, "point %zu: cannot pack %zu layers, %zu steps", res->point,
                       res->n_layers, res->timesteps);
    pack_header h = {PACK_MAGIC, (uint32_t)sizeof *res, 0, 0};
    size_t bytes = sizeof h + sizeof *res;
    for (size_t i = 0; i < N_RESULT_ARRAYS; i++)
        if (array_at(res, i)) {
            h.present |= 1u << i;
            bytes += array_len(res, result_arrays[i].len) * sizeof(double);
        }
    if (res->network) {
        h.network_bytes = (uint32_t)strlen(res->network);
        if (h.network_bytes >= PACK_NETWORK_BYTES)
            return mx_fail(MX_EINVAL, "point %zu: network name '%s' too long", res->point,
                           res->network);
        bytes += h.network_bytes;
    }
    unsigned char *buf = mx_alloc(bytes);
    if (!buf)
        return mx_fail(MX_ENOMEM, "point %zu: no memory to pack its result", res->point);
    unsigned char *at = buf;
    memcpy(at, &h, sizeof h);
    at += sizeof h;
    mx_point_result flat = *res; /* the pointers mean nothing on another rank */
    flat.network = NULL;
    for (size_t i = 0; i < N_RESULT_ARRAYS; i++)
        memset((unsigned char *)&flat + result_arrays[i].field, 0, sizeof(double *));
    memcpy(at, &flat, sizeof flat);
    at += sizeof flat;
    for (size_t i = 0; i < N_RESULT_ARRAYS; i++)
        if (h.present & (1u << i)) {
            size_t n = array_len(res, result_arrays[i].len) * sizeof(double);
            memcpy(at, array_at(res, i), n);
            at += n;
        }
    if (h.network_bytes)
        memcpy(at, res->network, h.network_bytes);
    *out = buf;
    *out_bytes = bytes;
    return MX_OK;
}

mx_status mx_point_result_unpack(const void *buf, size_t bytes, mx_point_result *out,
                                 void **storage)
{
    *storage = NULL;
    memset(out, 0, sizeof *out);
    pack_header h;
    const unsigned char *at = buf, *end = at + bytes;
    if (bytes < sizeof h + sizeof *out)
        return mx_fail(MX_EFORMAT, "packed point result: %zu bytes, too short", bytes);
    memcpy(&h, at, sizeof h);
    at += sizeof h;
    if (h.magic != PACK_MAGIC || h.struct_bytes != sizeof *out ||
        h.network_bytes >= PACK_NETWORK_BYTES || (h.present >> N_RESULT_ARRAYS) != 0)
        return mx_fail(MX_EFORMAT, "packed point result: not from this memxbar binary (header "
                                   "%08x, %u bytes)", h.magic, h.struct_bytes);
    memcpy(out, at, sizeof *out);
    at += sizeof *out;
    if (out->n_layers > MX_RESULTS_MAX_LAYERS || out->timesteps > ((size_t)1 << 24))
        return mx_fail(MX_EFORMAT, "packed point result: %zu layers, %zu steps", out->n_layers,
                       out->timesteps);
    size_t doubles = 0;
    for (size_t i = 0; i < N_RESULT_ARRAYS; i++)
        if (h.present & (1u << i))
            doubles += array_len(out, result_arrays[i].len);
    if ((size_t)(end - at) != doubles * sizeof(double) + h.network_bytes)
        return mx_fail(MX_EFORMAT, "packed point result: %zu bytes, expected %zu", bytes,
                       (size_t)(at - (const unsigned char *)buf) + doubles * sizeof(double) +
                           h.network_bytes);
    /* One block: the arrays, then the network name. */
    unsigned char *block = mx_alloc(doubles * sizeof(double) + PACK_NETWORK_BYTES);
    if (!block)
        return mx_fail(MX_ENOMEM, "packed point result: out of memory");
    double *d = (double *)(void *)block;
    for (size_t i = 0; i < N_RESULT_ARRAYS; i++) {
        if (!(h.present & (1u << i)))
            continue;
        size_t n = array_len(out, result_arrays[i].len);
        memcpy(d, at, n * sizeof(double));
        at += n * sizeof(double);
        memcpy((unsigned char *)out + result_arrays[i].field, &d, sizeof d);
        d += n;
    }
    if (h.network_bytes) {
        char *name = (char *)d;
        memcpy(name, at, h.network_bytes);
        name[h.network_bytes] = '\0';
        out->network = name;
    }
    *storage = block;
    return MX_OK;
}
