/* SPDX-License-Identifier: MIT
 *
 * test_results.c: the results file (experiments/results.c) and the weight
 * format (experiments/weights.c). Files are written into a fresh temporary
 * folder and read back through the HDF5 C API directly, so the tests check
 * the layout docs/results-format.md promises, not just a round trip through
 * our own reader. Every test also checks that no HDF5 identifier was left
 * open. Set MEMXBAR_TEST_KEEP=1 to keep the folder (its name is printed) for
 * looking at the files with h5dump or h5py.
 */
#include "tests/support/mx_test.h"

#include <hdf5.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "experiments/config.h"
#include "experiments/results.h"
#include "experiments/weights.h"
#include "snn/mlp.h"

#define SIGMA_AXIS "hardware.device.d2d_sigma"
#define MODE_AXIS "training.mode"
#define N_POINTS 4
#define N_REPEATS 2
#define N_LAYERS 2
#define TIMESTEPS 5

static char tmp_dir[256];

/* ---- helpers ------------------------------------------------------------ */

/* <tmp_dir>/<name>, in a ring of buffers: valid for the next 31 calls. */
static const char *tmp_path(const char *name)
{
    static char buf[32][512];
    static unsigned next;
    char *p = buf[next++ % 32];
    snprintf(p, sizeof buf[0], "%s/%s", tmp_dir, name);
    return p;
}

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static void assert_no_open_hdf5_ids(void)
{
    ssize_t open_ids = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
    if (open_ids != 0)
        print_error("%zd HDF5 identifiers left open\n", open_ids);
    assert_int_equal(open_ids, 0);
}

static void sweep_config(mx_experiment_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->seed = 12345678901234567ULL;
    cfg->repeats = N_REPEATS;
    cfg->n_axes = 2;
    snprintf(cfg->axes[0].path, sizeof cfg->axes[0].path, "%s", SIGMA_AXIS);
    cfg->axes[0].n_values = 2;
    snprintf(cfg->axes[0].values[0], MX_CONFIG_VALUE_BYTES, "0");
    snprintf(cfg->axes[0].values[1], MX_CONFIG_VALUE_BYTES, "0.1");
    snprintf(cfg->axes[1].path, sizeof cfg->axes[1].path, "%s", MODE_AXIS);
    cfg->axes[1].n_values = 2;
    snprintf(cfg->axes[1].values[0], MX_CONFIG_VALUE_BYTES, "plain");
    snprintf(cfg->axes[1].values[1], MX_CONFIG_VALUE_BYTES, "noise-aware");
    snprintf(cfg->source_path, sizeof cfg->source_path, "examples/test-sweep.yaml");
    static char text[] = "seed: 12345678901234567\nsweep:\n  hardware.device.d2d_sigma: [0, 0.1]\n";
    cfg->text = text;
}

/* What point k, repeat r "measured": distinct, exactly representable values
 * so the read-back can compare exactly. */
typedef struct fake_point {
    double accuracy_vs_step[TIMESTEPS];
    double layer[5][N_LAYERS];
    mx_point_result res;
} fake_point;

static void fake_result(size_t k, size_t r, fake_point *f)
{
    double base = (double)(k * N_REPEATS + r);
    for (size_t t = 0; t < TIMESTEPS; t++)
        f->accuracy_vs_step[t] = 0.125 * (double)t + base;
    for (size_t i = 0; i < 5; i++)
        for (size_t l = 0; l < N_LAYERS; l++)
            f->layer[i][l] = base * 100.0 + (double)(i * 10 + l) + 0.5;
    mx_point_result *res = &f->res;
    memset(res, 0, sizeof *res);
    res->point = k;
    res->repeat = r;
    res->n_test = 1000 + k;
    res->accuracy = 0.5 + 0.0625 * base;
    res->accuracy_snn_digital = 0.25 + base;
    res->accuracy_ann = 0.75 + base;
    res->adc_clip_rate = 0.03125 * base;
    res->eval_seconds = 2.0 + base;
    res->energy_j = 1e-6 * (1.0 + base);
    res->latency_s = 1e-5 * (2.0 + base);
    res->area_mm2 = 0.5 + base;
    res->timesteps = TIMESTEPS;
    res->accuracy_vs_step = f->accuracy_vs_step;
    res->n_layers = N_LAYERS;
    res->layer_rel_rms_error = f->layer[0];
    res->layer_mean_error = f->layer[1];
    res->layer_clip_rate = f->layer[2];
    res->layer_adc_range_a = f->layer[3];
    res->layer_spike_rate = f->layer[4];
}

static void write_sweep(const char *path, int complete)
{
    mx_experiment_config cfg;
    sweep_config(&cfg);
    mx_results *r = NULL;
    assert_int_equal(mx_results_create(path, &cfg, &r), MX_OK);
    for (size_t k = 0; k < N_POINTS; k++) {
        for (size_t rep = 0; rep < N_REPEATS; rep++) {
            fake_point f;
            fake_result(k, rep, &f);
            assert_int_equal(mx_results_write_point(r, &cfg, &f.res), MX_OK);
        }
    }
    assert_int_equal(mx_results_close(r, complete), MX_OK);
}

/* A string attribute of any HDF5 object, fixed or variable length. */
static void read_string_attr(hid_t loc, const char *name, char *buf, size_t size)
{
    hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
    assert_true(attr >= 0);
    hid_t type = H5Aget_type(attr);
    assert_int_equal(H5Tget_class(type), H5T_STRING);
    hid_t mem = H5Tcopy(H5T_C_S1);
    H5Tset_cset(mem, H5Tget_cset(type)); /* HDF5 does not convert between character sets */
    if (H5Tis_variable_str(type) > 0) {
        char *s = NULL;
        H5Tset_size(mem, H5T_VARIABLE);
        assert_true(H5Aread(attr, mem, &s) >= 0);
        snprintf(buf, size, "%s", s);
        H5free_memory(s);
    } else {
        size_t n = H5Tget_size(type);
        assert_true(n < size);
        H5Tset_size(mem, n);
        memset(buf, 0, size);
        assert_true(H5Aread(attr, mem, buf) >= 0);
    }
    H5Tclose(mem);
    H5Tclose(type);
    H5Aclose(attr);
}

static double read_f64_attr(hid_t loc, const char *name)
{
    double v = (double)NAN;
    hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
    assert_true(attr >= 0);
    hid_t type = H5Aget_type(attr);
    assert_int_equal(H5Tget_class(type), H5T_FLOAT);
    assert_true(H5Aread(attr, H5T_NATIVE_DOUBLE, &v) >= 0);
    H5Tclose(type);
    H5Aclose(attr);
    return v;
}

static uint64_t read_u64_attr(hid_t loc, const char *name)
{
    uint64_t v = 0;
    hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
    assert_true(attr >= 0);
    hid_t type = H5Aget_type(attr);
    assert_int_equal(H5Tget_class(type), H5T_INTEGER);
    assert_true(H5Aread(attr, H5T_NATIVE_UINT64, &v) >= 0);
    H5Tclose(type);
    H5Aclose(attr);
    return v;
}

/* One column of /summary, read through a memory type holding only it. */
static void read_column(hid_t summary, const char *name, hid_t mem_member, size_t member_size,
                        void *out)
{
    hid_t mem = H5Tcreate(H5T_COMPOUND, member_size);
    assert_true(H5Tinsert(mem, name, 0, mem_member) >= 0);
    assert_true(H5Dread(summary, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0);
    H5Tclose(mem);
}

static H5T_class_t column_class(hid_t summary, const char *name)
{
    hid_t type = H5Dget_type(summary);
    int i = H5Tget_member_index(type, name);
    assert_true(i >= 0);
    H5T_class_t c = H5Tget_member_class(type, (unsigned)i);
    H5Tclose(type);
    return c;
}

static void read_f64_dataset(hid_t loc, const char *name, double *out, size_t n)
{
    hid_t dset = H5Dopen2(loc, name, H5P_DEFAULT);
    assert_true(dset >= 0);
    hid_t space = H5Dget_space(dset);
    assert_int_equal(H5Sget_simple_extent_npoints(space), (hssize_t)n);
    assert_true(H5Dread(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0);
    H5Sclose(space);
    H5Dclose(dset);
}

/* ---- fixtures ----------------------------------------------------------- */

static int make_tmp_dir(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/mx_results_test.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmp_dir))
        return -1;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* the tests provoke HDF5 errors too */
    return 0;
}

static int remove_tmp_dir(void **state)
{
    (void)state;
    const char *keep = getenv("MEMXBAR_TEST_KEEP");
    if (keep && *keep && strcmp(keep, "0") != 0) {
        print_message("kept test files in %s\n", tmp_dir);
        return 0;
    }
    static const char *const names[] = {
        "sweep.h5", "sweep.h5.partial", "killed.h5", "killed.h5.partial", "killed2.h5.partial", "killed2.h5", "dup.h5.partial",
        "short.h5.partial", "flags.h5", "flags.h5.partial", "noaxes.h5", "noaxes.h5.partial",
        "w.h5", "w.h5.tmp", "junk.h5", "truncated.h5", "nan.h5", "shape.h5", "fmt.h5", "ver.h5",
        "nokey.h5", "bad.h5", "bad.h5.tmp", "oom.h5.partial", "reworded.h5.partial",
        "table.h5", "table-part.h5.partial", "junk-table.h5", "empty-table.h5", "unordered.h5",
        "unordered.h5.partial", "flip.h5", "flip.h5.partial", "nanmetric.h5.partial"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(tmp_path(names[i]));
    return rmdir(tmp_dir) == 0 ? 0 : -1;
}

/* ---- results ------------------------------------------------------------ */

static void test_complete_sweep_is_renamed_and_has_root_attributes(void **state)
{
    (void)state;
    const char *path = tmp_path("sweep.h5");
    const char *partial = tmp_path("sweep.h5.partial");
    write_sweep(path, 1);
    assert_true(file_exists(path));
    assert_false(file_exists(partial));

    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    char buf[512];
    read_string_attr(f, "memxbar_version", buf, sizeof buf);
    assert_string_equal(buf, MX_VERSION);
    read_string_attr(f, "git_describe", buf, sizeof buf);
    assert_true(strlen(buf) > 0);
    read_string_attr(f, "status", buf, sizeof buf);
    assert_string_equal(buf, "complete");
    read_string_attr(f, "config_source", buf, sizeof buf);
    assert_string_equal(buf, "examples/test-sweep.yaml");
    read_string_attr(f, "config", buf, sizeof buf);
    mx_experiment_config cfg;
    sweep_config(&cfg);
    assert_string_equal(buf, cfg.text);
    read_string_attr(f, "created", buf, sizeof buf);
    /* ISO-8601 UTC: 2025-01-31T12:34:56Z */
    assert_int_equal(strlen(buf), 20);
    assert_true(buf[4] == '-' && buf[10] == 'T' && buf[19] == 'Z');
    assert_true(read_u64_attr(f, "root_seed") == cfg.seed);
    assert_int_equal(read_u64_attr(f, "n_points"), N_POINTS);
    assert_int_equal(read_u64_attr(f, "repeats"), N_REPEATS);
    H5Fclose(f);
    assert_no_open_hdf5_ids();
}

static void test_summary_has_one_row_per_point_and_repeat(void **state)
{
    (void)state;
    const char *path = tmp_path("sweep.h5");
    if (!file_exists(path))
        write_sweep(path, 1);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    hid_t summary = H5Dopen2(f, "summary", H5P_DEFAULT);
    assert_true(summary >= 0);
    hid_t space = H5Dget_space(summary);
    const size_t n = N_POINTS * N_REPEATS;
    assert_int_equal(H5Sget_simple_extent_npoints(space), n);
    H5Sclose(space);

    /* Column order: point, repeat, the axes in sweep order, the metrics. */
    static const char *const order[] = {"point", "repeat", SIGMA_AXIS, MODE_AXIS,
                                        "accuracy", "accuracy_snn_digital", "accuracy_ann",
                                        "adc_clip_rate", "n_test", "eval_seconds",
                                        "energy_j", "latency_s", "area_mm2",
                                        "program_cells_verified", "program_converged_fraction",
                                        "program_pulses", "program_verify_reads",
                                        "program_time_s", "program_energy_j",
                                        "program_rms_error", "fault_stuck_cells",
                                        "fault_test_reads", "fault_spare_cells", "fault_moved",
                                        "fault_time_s", "fault_energy_j",
                                        "fault_weight_rms_before", "fault_weight_rms_after",
                                        "drift_alpha", "drift_reads",
                                        "drift_energy_j", "schedule_recalibrations",
                                        "schedule_reprogrammings",
                                        "schedule_reprogram_energy_j",
                                        "schedule_reprogram_time_s", "colcal_gain_rms_dev",
                                        "colcal_reads", "colcal_energy_j", "rebalance_passes",
                                        "rebalance_energy_j"};
    hid_t type = H5Dget_type(summary);
    assert_int_equal(H5Tget_nmembers(type), sizeof order / sizeof order[0]);
    for (unsigned i = 0; i < sizeof order / sizeof order[0]; i++) {
        char *name = H5Tget_member_name(type, i);
        assert_string_equal(name, order[i]);
        H5free_memory(name);
    }
    H5Tclose(type);
    assert_int_equal(column_class(summary, SIGMA_AXIS), H5T_FLOAT);
    assert_int_equal(column_class(summary, MODE_AXIS), H5T_STRING);
    assert_int_equal(column_class(summary, "n_test"), H5T_INTEGER);

    uint64_t point[N_POINTS * N_REPEATS], repeat[N_POINTS * N_REPEATS];
    uint64_t n_test[N_POINTS * N_REPEATS];
    double sigma[N_POINTS * N_REPEATS], metric[N_POINTS * N_REPEATS];
    char mode[N_POINTS * N_REPEATS][24];
    read_column(summary, "point", H5T_NATIVE_UINT64, sizeof(uint64_t), point);
    read_column(summary, "repeat", H5T_NATIVE_UINT64, sizeof(uint64_t), repeat);
    read_column(summary, "n_test", H5T_NATIVE_UINT64, sizeof(uint64_t), n_test);
    read_column(summary, SIGMA_AXIS, H5T_NATIVE_DOUBLE, sizeof(double), sigma);
    hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, sizeof mode[0]);
    H5Tset_strpad(str, H5T_STR_NULLTERM);
    H5Tset_cset(str, H5T_CSET_UTF8);
    read_column(summary, MODE_AXIS, str, sizeof mode[0], mode);
    H5Tclose(str);

    static const double sigmas[] = {0.0, 0.1};
    static const char *const modes[] = {"plain", "noise-aware"};
    for (size_t i = 0; i < n; i++) {
        size_t k = i / N_REPEATS, rep = i % N_REPEATS;
        assert_int_equal(point[i], k);
        assert_int_equal(repeat[i], rep);
        assert_int_equal(n_test[i], 1000 + k);
        /* first axis outermost: point k = (sigma index) * 2 + (mode index) */
        assert_true(sigma[i] == sigmas[k / 2]);
        assert_string_equal(mode[i], modes[k % 2]);
    }
    static const struct {
        const char *name;
        size_t field;
    } metrics[] = {
        {"accuracy", offsetof(mx_point_result, accuracy)},
        {"accuracy_snn_digital", offsetof(mx_point_result, accuracy_snn_digital)},
        {"accuracy_ann", offsetof(mx_point_result, accuracy_ann)},
        {"adc_clip_rate", offsetof(mx_point_result, adc_clip_rate)},
        {"eval_seconds", offsetof(mx_point_result, eval_seconds)},
        {"energy_j", offsetof(mx_point_result, energy_j)},
        {"latency_s", offsetof(mx_point_result, latency_s)},
        {"area_mm2", offsetof(mx_point_result, area_mm2)},
    };
    for (size_t m = 0; m < sizeof metrics / sizeof metrics[0]; m++) {
        read_column(summary, metrics[m].name, H5T_NATIVE_DOUBLE, sizeof(double), metric);
        for (size_t i = 0; i < n; i++) {
            fake_point fp;
            fake_result(i / N_REPEATS, i % N_REPEATS, &fp);
            double expected;
            memcpy(&expected, (const char *)&fp.res + metrics[m].field, sizeof expected);
            assert_true(metric[i] == expected); /* stored and read as float64: exact */
        }
    }
    H5Dclose(summary);
    H5Fclose(f);
    assert_no_open_hdf5_ids();
}

static void test_point_groups_hold_swept_values_and_datasets(void **state)
{
    (void)state;
    const char *path = tmp_path("sweep.h5");
    if (!file_exists(path))
        write_sweep(path, 1);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    static const char *const modes[] = {"plain", "noise-aware"};
    for (size_t k = 0; k < N_POINTS; k++) {
        for (size_t rep = 0; rep < N_REPEATS; rep++) {
            char name[64], buf[64];
            snprintf(name, sizeof name, "/points/%zu/%zu", k, rep);
            hid_t g = H5Gopen2(f, name, H5P_DEFAULT);
            assert_true(g >= 0);
            assert_true(read_f64_attr(g, SIGMA_AXIS) == (k / 2 ? 0.1 : 0.0));
            read_string_attr(g, MODE_AXIS, buf, sizeof buf);
            assert_string_equal(buf, modes[k % 2]);

            fake_point fp;
            fake_result(k, rep, &fp);
            double got[TIMESTEPS];
            read_f64_dataset(g, "accuracy_vs_step", got, TIMESTEPS);
            assert_memory_equal(got, fp.accuracy_vs_step, sizeof got);
            static const char *const layer_sets[] = {"layer_rel_rms_error", "layer_mean_error",
                                                     "layer_clip_rate", "layer_adc_range_a",
                                                     "layer_spike_rate"};
            for (size_t i = 0; i < 5; i++) {
                read_f64_dataset(g, layer_sets[i], got, N_LAYERS);
                assert_memory_equal(got, fp.layer[i], N_LAYERS * sizeof(double));
            }
            H5Gclose(g);
        }
    }
    H5Fclose(f);
    assert_no_open_hdf5_ids();
}

static void test_read_accuracy_returns_every_row(void **state)
{
    (void)state;
    const char *path = tmp_path("sweep.h5");
    if (!file_exists(path))
        write_sweep(path, 1);
    double acc[N_POINTS * N_REPEATS + 3];
    size_t n = 0;
    for (size_t i = 0; i < sizeof acc / sizeof acc[0]; i++)
        acc[i] = -1.0;
    assert_int_equal(mx_results_read_accuracy(path, &n, acc, sizeof acc / sizeof acc[0]),
                     MX_OK);
    assert_int_equal(n, N_POINTS * N_REPEATS);
    for (size_t i = 0; i < n; i++)
        assert_true(acc[i] == 0.5 + 0.0625 * (double)i);
    assert_true(acc[n] == -1.0);

    /* A smaller buffer gets the first rows and still the full count. */
    double few[3] = {-1, -1, -1};
    assert_int_equal(mx_results_read_accuracy(path, &n, few, 2), MX_OK);
    assert_int_equal(n, N_POINTS * N_REPEATS);
    assert_true(few[1] == 0.5 + 0.0625 && few[2] == -1.0);
    assert_int_equal(mx_results_read_accuracy(path, &n, NULL, 0), MX_OK);
    assert_int_equal(n, N_POINTS * N_REPEATS);
    assert_no_open_hdf5_ids();
}

static void test_read_accuracy_rejects_missing_and_foreign_files(void **state)
{
    (void)state;
    size_t n = 99;
    double acc[1];
    const char *missing = tmp_path("nothing-here.h5");
    assert_int_equal(mx_results_read_accuracy(missing, &n, acc, 1), MX_EIO);
    assert_non_null(strstr(mx_last_error(), missing));
    assert_int_equal(n, 0);

    const char *junk = tmp_path("junk.h5");
    FILE *fp = fopen(junk, "wb");
    assert_non_null(fp);
    fputs("this is not an HDF5 file, just some junk bytes\n", fp);
    fclose(fp);
    assert_int_equal(mx_results_read_accuracy(junk, &n, acc, 1), MX_EFORMAT);
    assert_non_null(strstr(mx_last_error(), junk));
    assert_no_open_hdf5_ids();
}

static void test_incomplete_close_leaves_only_the_partial_file(void **state)
{
    (void)state;
    const char *path = tmp_path("killed.h5");
    const char *partial = tmp_path("killed.h5.partial");
    mx_experiment_config cfg;
    sweep_config(&cfg);
    mx_results *r = NULL;
    assert_int_equal(mx_results_create(path, &cfg, &r), MX_OK);
    assert_true(file_exists(partial));
    fake_point fp;
    fake_result(2, 1, &fp);
    assert_int_equal(mx_results_write_point(r, &cfg, &fp.res), MX_OK);

    size_t n = 0;
    double acc[2];
    assert_int_equal(mx_results_close(r, 0), MX_OK);
    assert_false(file_exists(path));
    assert_true(file_exists(partial));
    assert_int_equal(mx_results_read_accuracy(partial, &n, acc, 2), MX_OK);
    assert_int_equal(n, 1);
    assert_true(acc[0] == fp.res.accuracy);

    hid_t f = H5Fopen(partial, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    char buf[32];
    read_string_attr(f, "status", buf, sizeof buf);
    assert_string_equal(buf, "incomplete");
    H5Fclose(f);
    assert_int_equal(mx_results_close(NULL, 1), MX_OK);
    assert_no_open_hdf5_ids();
}

/* A writer killed between points (here: a child that exits without closing
 * anything) leaves a readable .partial holding every point it finished. */
static void test_killed_writer_loses_no_flushed_point(void **state)
{
    (void)state;
    const char *path = tmp_path("killed2.h5");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        mx_experiment_config cfg;
        sweep_config(&cfg);
        mx_results *r = NULL;
        if (mx_results_create(path, &cfg, &r) != MX_OK)
            _exit(1);
        for (size_t k = 0; k < 3; k++) {
            fake_point fp;
            fake_result(k, 0, &fp);
            if (mx_results_write_point(r, &cfg, &fp.res) != MX_OK)
                _exit(2);
        }
        _exit(0); /* no close, no atexit handlers: as if killed */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    size_t n = 0;
    double acc[3];
    assert_int_equal(mx_results_read_accuracy(tmp_path("killed2.h5.partial"), &n, acc, 3),
                     MX_OK);
    assert_int_equal(n, 3);
    for (size_t k = 0; k < 3; k++)
        assert_true(acc[k] == 0.5 + 0.0625 * (double)(k * N_REPEATS));
    hid_t f = H5Fopen(tmp_path("killed2.h5.partial"), H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    double got[TIMESTEPS];
    read_f64_dataset(f, "/points/2/0/accuracy_vs_step", got, TIMESTEPS);
    fake_point fp;
    fake_result(2, 0, &fp);
    assert_memory_equal(got, fp.accuracy_vs_step, sizeof got);
    H5Fclose(f);
    assert_no_open_hdf5_ids();
}

/* Continue the sweep the killed writer above left: its rows count as done, a
 * group written without its row is removed, and the rest completes it. */
static void test_resume_continues_a_killed_sweep(void **state)
{
    (void)state;
    const char *path = tmp_path("killed2.h5");
    const char *partial = tmp_path("killed2.h5.partial");
    if (!file_exists(partial))
        test_killed_writer_loses_no_flushed_point(state);
    /* As if the writer died between writing /points/3/0 and its row. */
    hid_t f = H5Fopen(partial, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0);
    hid_t g = H5Gcreate2(f, "/points/3", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g0 = H5Gcreate2(g, "0", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(g0 >= 0);
    H5Gclose(g0);
    H5Gclose(g);
    H5Fclose(f);

    mx_experiment_config cfg;
    sweep_config(&cfg);
    mx_results *r = NULL;
    cfg.seed++;
    assert_int_equal(mx_results_resume(path, &cfg, &r), MX_EMISMATCH);
    assert_non_null(strstr(mx_last_error(), partial));
    /* A resolved field that differs is named, with both values. */
    sweep_config(&cfg);
    assert_int_equal(mx_config_set(&cfg, "hardware.adc.bits", "6"), MX_OK);
    assert_int_equal(mx_results_resume(path, &cfg, &r), MX_EMISMATCH);
    if (!strstr(mx_last_error(), "hardware.adc.bits is 0 in the file, 6 now"))
        print_error("message: %s\n", mx_last_error());
    assert_non_null(strstr(mx_last_error(), "hardware.adc.bits is 0 in the file, 6 now"));
    /* So is a sweep axis with other values. */
    sweep_config(&cfg);
    snprintf(cfg.axes[0].values[1], MX_CONFIG_VALUE_BYTES, "0.2");
    assert_int_equal(mx_results_resume(path, &cfg, &r), MX_EMISMATCH);
    assert_non_null(strstr(mx_last_error(), "sweep.hardware.device.d2d_sigma is [0, 0.1] in "
                                            "the file, [0, 0.2] now"));
    sweep_config(&cfg);
    snprintf(cfg.axes[1].values[1], MX_CONFIG_VALUE_BYTES, "a-much-longer-mode-name");
    assert_int_equal(mx_results_resume(path, &cfg, &r), MX_EMISMATCH); /* wider column */
    assert_null(r);
    assert_int_equal(mx_results_resume(tmp_path("never-ran.h5"), &cfg, &r), MX_ENOTFOUND);

    sweep_config(&cfg);
    assert_int_equal(mx_results_resume(path, &cfg, &r), MX_OK);
    size_t todo = 0;
    for (size_t k = 0; k < N_POINTS; k++) {
        for (size_t rep = 0; rep < N_REPEATS; rep++) {
            int expected_done = rep == 0 && k < 3;
            assert_int_equal(mx_results_has_point(r, k, rep), expected_done);
            if (expected_done)
                continue;
            fake_point fp;
            fake_result(k, rep, &fp);
            assert_int_equal(mx_results_write_point(r, &cfg, &fp.res), MX_OK);
            todo++;
        }
    }
    assert_int_equal(todo, N_POINTS * N_REPEATS - 3);
    fake_point fp;
    fake_result(0, 0, &fp);
    assert_int_equal(mx_results_write_point(r, &cfg, &fp.res), MX_EINVAL);
    assert_int_equal(mx_results_close(r, 1), MX_OK);
    assert_false(file_exists(partial));

    double acc[N_POINTS * N_REPEATS];
    size_t n = 0;
    assert_int_equal(mx_results_read_accuracy(path, &n, acc, N_POINTS * N_REPEATS), MX_OK);
    assert_int_equal(n, N_POINTS * N_REPEATS);
    double sum = 0.0, expected_sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        sum += acc[i];
        expected_sum += 0.5 + 0.0625 * (double)i;
    }
    assert_true(sum == expected_sum); /* every row once, in some order; exact in binary */
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    double got[TIMESTEPS];
    read_f64_dataset(f, "/points/3/0/accuracy_vs_step", got, TIMESTEPS);
    fake_result(3, 0, &fp);
    assert_memory_equal(got, fp.accuracy_vs_step, sizeof got);
    H5Fclose(f);
    assert_no_open_hdf5_ids();
}

/* The identity is the resolved config, not the YAML text: a comment or a
 * reordering does not block a resume; the fingerprint attribute is the
 * FNV-1a hash of resolved_config, which names the code version first. */
static void test_resume_accepts_the_same_sweep_in_other_words(void **state)
{
    (void)state;
    const char *path = tmp_path("reworded.h5");
    mx_experiment_config cfg;
    sweep_config(&cfg);
    mx_results *r = NULL;
    assert_int_equal(mx_results_create(path, &cfg, &r), MX_OK);
    assert_int_equal(mx_results_close(r, 0), MX_OK);
    static char reworded[] = "# the same sweep\nsweep: {hardware.device.d2d_sigma: [0, 0.1]}\n"
                             "seed: 12345678901234567\n";
    cfg.text = reworded;
    assert_int_equal(mx_results_resume(path, &cfg, &r), MX_OK);
    assert_int_equal(mx_results_close(r, 0), MX_OK);

    char resolved[16384], fingerprint[64];
    hid_t f = H5Fopen(tmp_path("reworded.h5.partial"), H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    read_string_attr(f, "resolved_config", resolved, sizeof resolved);
    read_string_attr(f, "fingerprint", fingerprint, sizeof fingerprint);
    H5Fclose(f);
    assert_true(strncmp(resolved, "memxbar: ", 9) == 0);
    assert_non_null(strstr(resolved, "\nhardware.adc.bits: 0\n"));
    assert_non_null(strstr(resolved, "\nsweep.training.mode: [plain, noise-aware]\n"));
    uint64_t h = 1469598103934665603ull; /* FNV-1a 64, written out again */
    for (const char *c = resolved; *c; c++) {
        h ^= (unsigned char)*c;
        h *= 1099511628211ull;
    }
    char expected[17];
    snprintf(expected, sizeof expected, "%016llx", (unsigned long long)h);
    assert_string_equal(fingerprint, expected);
    assert_no_open_hdf5_ids();
}

/* mx_results_read_table: every row, its swept values as labels, the
 * metrics exactly, and whether the sweep is complete. */
static void test_read_table_returns_rows_labels_and_status(void **state)
{
    (void)state;
    const char *path = tmp_path("table.h5");
    write_sweep(path, 1);
    mx_results_table t;
    assert_int_equal(mx_results_read_table(path, &t), MX_OK);
    assert_int_equal(t.n_rows, N_POINTS * N_REPEATS);
    assert_int_equal(t.n_points, N_POINTS);
    assert_int_equal(t.repeats, N_REPEATS);
    assert_true(t.complete);
    for (size_t i = 0; i < t.n_rows; i++) {
        const mx_results_row *row = &t.rows[i];
        fake_point fp;
        fake_result(row->point, row->repeat, &fp);
        assert_int_equal(i, row->point * N_REPEATS + row->repeat); /* written in order */
        assert_true(row->accuracy == fp.res.accuracy);
        assert_true(row->accuracy_snn_digital == fp.res.accuracy_snn_digital);
        assert_true(row->accuracy_ann == fp.res.accuracy_ann);
        assert_true(row->adc_clip_rate == fp.res.adc_clip_rate);
        assert_true(row->energy_j == fp.res.energy_j);
        assert_true(row->latency_s == fp.res.latency_s);
        assert_int_equal(row->n_test, fp.res.n_test);
    }
    assert_string_equal(t.rows[0].swept, "d2d_sigma=0 mode=plain");
    assert_string_equal(t.rows[7].swept, "d2d_sigma=0.1 mode=noise-aware");
    mx_results_table_free(&t);
    assert_null(t.rows);

    const char *part = tmp_path("table-part.h5");
    mx_experiment_config cfg;
    sweep_config(&cfg);
    mx_results *r = NULL;
    assert_int_equal(mx_results_create(part, &cfg, &r), MX_OK);
    fake_point fp;
    fake_result(0, 1, &fp);
    assert_int_equal(mx_results_write_point(r, &cfg, &fp.res), MX_OK);
    assert_int_equal(mx_results_close(r, 0), MX_OK);
    assert_int_equal(mx_results_read_table(tmp_path("table-part.h5.partial"), &t), MX_OK);
    assert_int_equal(t.n_rows, 1);
    assert_false(t.complete);
    assert_int_equal(t.rows[0].repeat, 1);
    mx_results_table_free(&t);

    assert_int_equal(mx_results_read_table(tmp_path("no-such.h5"), &t), MX_EIO);
    assert_null(t.rows);
    FILE *junk = fopen(tmp_path("junk-table.h5"), "wb");
    assert_non_null(junk);
    fputs("not hdf5", junk);
    fclose(junk);
    assert_int_equal(mx_results_read_table(tmp_path("junk-table.h5"), &t), MX_EFORMAT);
    hid_t f = H5Fcreate(tmp_path("empty-table.h5"), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(f);
    assert_int_equal(mx_results_read_table(tmp_path("empty-table.h5"), &t), MX_EFORMAT);
    assert_non_null(strstr(mx_last_error(), "not a memxbar results file"));
    assert_no_open_hdf5_ids();
}

/* ---- checksums ---------------------------------------------------------- */

/* File address of the first (here: only) chunk of dataset `name`, and
 * whether the dataset carries the Fletcher-32 filter. */
static haddr_t chunk_address(const char *path, const char *name, int *fletcher32)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    assert_true(d >= 0);
    hid_t dcpl = H5Dget_create_plist(d);
    assert_int_equal(H5Pget_layout(dcpl), H5D_CHUNKED);
    unsigned flags = 0, config = 0;
    size_t n_values = 0;
    *fletcher32 = H5Pget_filter_by_id2(dcpl, H5Z_FILTER_FLETCHER32, &flags, &n_values, NULL,
                                       0, NULL, &config) >= 0;
    hsize_t offset[2] = {0, 0}; /* first chunk; rank 1 or 2 */
    unsigned mask = 0;
    haddr_t addr = HADDR_UNDEF;
    hsize_t size = 0;
    assert_true(H5Dget_chunk_info_by_coord(d, offset, &mask, &addr, &size) >= 0);
    assert_true(addr != HADDR_UNDEF && size > 4);
    H5Pclose(dcpl);
    H5Dclose(d);
    H5Fclose(f);
    return addr;
}

/* XOR one byte of the file at `at` with `bits`. */
static void flip_byte(const char *path, haddr_t at, unsigned char bits)
{
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, (long)at, SEEK_SET), 0);
    int c = fgetc(fp);
    assert_true(c != EOF);
    assert_int_equal(fseek(fp, (long)at, SEEK_SET), 0);
    assert_int_equal(fputc(c ^ bits, fp), c ^ bits);
    assert_int_equal(fclose(fp), 0);
}

/* Issue 10: a byte of a dataset overwritten in place (a bad disk or copy)
 * fails on read — the resume walk refuses the file naming the dataset,
 * `memxbar report`'s reader refuses /summary — instead of a silently wrong
 * number. Flipping the byte back makes the file whole again. */
static void test_a_changed_byte_in_a_dataset_fails_its_checksum(void **state)
{
    (void)state;
    const char *path = tmp_path("flip.h5");
    const char *partial = tmp_path("flip.h5.partial");
    write_sweep(path, 0);
    int has_filter = 0;
    const haddr_t point = chunk_address(partial, "/points/1/0/layer_clip_rate", &has_filter);
    assert_true(has_filter);
    const haddr_t summary = chunk_address(partial, "/summary", &has_filter);
    assert_true(has_filter);

    mx_experiment_config cfg;
    sweep_config(&cfg);
    mx_results *r = NULL;
    flip_byte(partial, point + 3, 0x10); /* inside the first double */
    assert_int_equal(mx_results_resume(path, &cfg, &r), MX_EFORMAT);
    assert_null(r);
    if (!strstr(mx_last_error(), "/points/1/0/layer_clip_rate fails its checksum"))
        print_error("message: %s\n", mx_last_error());
    assert_non_null(strstr(mx_last_error(), "/points/1/0/layer_clip_rate fails its checksum"));
    assert_non_null(strstr(mx_last_error(), "run without --resume"));
    flip_byte(partial, point + 3, 0x10);
    double got[N_LAYERS];
    fake_point fp;
    fake_result(1, 0, &fp);
    hid_t f = H5Fopen(partial, H5F_ACC_RDONLY, H5P_DEFAULT);
    read_f64_dataset(f, "/points/1/0/layer_clip_rate", got, N_LAYERS);
    H5Fclose(f);
    assert_memory_equal(got, fp.layer[2], sizeof got);

    mx_results_table t;
    size_t n = 0;
    double acc[N_POINTS * N_REPEATS];
    flip_byte(partial, summary + 20, 0x01); /* row 0, inside a column */
    assert_int_equal(mx_results_read_table(partial, &t), MX_EFORMAT);
    assert_null(t.rows);
    assert_non_null(strstr(mx_last_error(), "/summary fails its checksum"));
    assert_int_equal(mx_results_read_accuracy(partial, &n, acc, N_POINTS * N_REPEATS),
                     MX_EFORMAT);
    assert_non_null(strstr(mx_last_error(), "/summary fails its checksum"));
    assert_int_equal(mx_results_resume(path, &cfg, &r), MX_EFORMAT);
    assert_non_null(strstr(mx_last_error(), "/summary fails its checksum"));

    flip_byte(partial, summary + 20, 0x01);
    assert_int_equal(mx_results_read_table(partial, &t), MX_OK);
    assert_int_equal(t.n_rows, N_POINTS * N_REPEATS);
    mx_results_table_free(&t);
    assert_int_equal(mx_results_resume(path, &cfg, &r), MX_OK);
    assert_int_equal(mx_results_close(r, 1), MX_OK);
    assert_no_open_hdf5_ids();
}

static void test_complete_close_requires_every_row(void **state)
{
    (void)state;
    const char *path = tmp_path("short.h5");
    mx_experiment_config cfg;
    sweep_config(&cfg);
    mx_results *r = NULL;
    assert_int_equal(mx_results_create(path, &cfg, &r), MX_OK);
    fake_point fp;
    fake_result(0, 0, &fp);
    assert_int_equal(mx_results_write_point(r, &cfg, &fp.res), MX_OK);
    assert_int_equal(mx_results_close(r, 1), MX_EINVAL);
    assert_non_null(strstr(mx_last_error(), "1 of 8"));
    assert_false(file_exists(path));
    assert_true(file_exists(tmp_path("short.h5.partial")));
    assert_no_open_hdf5_ids();
}

/* A distributed sweep's points arrive in any order; the complete file's
 * /summary is in (point, repeat) order all the same, each row with its own
 * point's metrics. */
static void test_complete_close_puts_rows_in_point_order(void **state)
{
    (void)state;
    const char *path = tmp_path("unordered.h5");
    mx_experiment_config cfg;
    sweep_config(&cfg);
    mx_results *r = NULL;
    assert_int_equal(mx_results_create(path, &cfg, &r), MX_OK);
    static const size_t order[N_POINTS * N_REPEATS] = {5, 0, 7, 2, 3, 6, 1, 4};
    for (size_t i = 0; i < N_POINTS * N_REPEATS; i++) {
        fake_point fp;
        fake_result(order[i] / N_REPEATS, order[i] % N_REPEATS, &fp);
        assert_int_equal(mx_results_write_point(r, &cfg, &fp.res), MX_OK);
    }
    assert_int_equal(mx_results_close(r, 1), MX_OK);
    mx_results_table t;
    assert_int_equal(mx_results_read_table(path, &t), MX_OK);
    assert_int_equal(t.n_rows, N_POINTS * N_REPEATS);
    for (size_t i = 0; i < t.n_rows; i++) {
        assert_int_equal(t.rows[i].point, i / N_REPEATS);
        assert_int_equal(t.rows[i].repeat, i % N_REPEATS);
        assert_true(t.rows[i].accuracy == 0.5 + 0.0625 * (double)i); /* exact */
    }
    mx_results_table_free(&t);
    assert_no_open_hdf5_ids();
}

/* What a worker rank sends is what the writer gets: every scalar and array
 * bit for bit; foreign or cut bytes are refused. */
static void test_point_result_pack_round_trip(void **state)
{
    (void)state;
    fake_point fp;
    fake_result(3, 1, &fp);
    double parts[N_LAYERS * MX_ENERGY_N_COMPONENTS];
    for (size_t i = 0; i < N_LAYERS * MX_ENERGY_N_COMPONENTS; i++)
        parts[i] = 1e-12 * (double)(i + 1);
    fp.res.layer_energy_parts_j = parts;
    fp.res.network = "ann";
    fp.res.drift_alpha = NAN;
    fp.res.rebalance_passes = 17;
    void *buf = NULL, *storage = NULL;
    size_t len = 0;
    assert_int_equal(mx_point_result_pack(&fp.res, &buf, &len), MX_OK);
    mx_point_result got;
    assert_int_equal(mx_point_result_unpack(buf, len, &got, &storage), MX_OK);
    assert_int_equal(got.point, 3);
    assert_int_equal(got.repeat, 1);
    assert_int_equal(got.rebalance_passes, 17);
    assert_memory_equal(&got.accuracy, &fp.res.accuracy, sizeof got.accuracy);
    assert_true(isnan(got.drift_alpha));
    assert_string_equal(got.network, "ann");
    assert_memory_equal(got.accuracy_vs_step, fp.accuracy_vs_step, sizeof fp.accuracy_vs_step);
    assert_memory_equal(got.layer_spike_rate, fp.layer[4], sizeof fp.layer[4]);
    assert_memory_equal(got.layer_energy_parts_j, parts, sizeof parts);
    assert_null(got.layer_energy_j); /* absent stays absent */
    mx_free(storage);
    assert_int_equal(mx_point_result_unpack(buf, len - 1, &got, &storage), MX_EFORMAT);
    assert_null(storage);
    ((unsigned char *)buf)[0] ^= 1;
    assert_int_equal(mx_point_result_unpack(buf, len, &got, &storage), MX_EFORMAT);
    assert_null(storage);
    mx_free(buf);
}

/* Labels name a swept field by the shortest unambiguous end of its path. */
static void test_axis_label_is_the_shortest_unambiguous_suffix(void **state)
{
    (void)state;
    const char *const paths[] = {"hardware.programming.mode", "hardware.fault_mapping.mode",
                                 "hardware.adc.bits", "training.mode", "seed"};
    assert_string_equal(mx_results_axis_label(paths, 5, 0), "programming.mode");
    assert_string_equal(mx_results_axis_label(paths, 5, 1), "fault_mapping.mode");
    assert_string_equal(mx_results_axis_label(paths, 5, 2), "bits");
    assert_string_equal(mx_results_axis_label(paths, 5, 3), "training.mode");
    assert_string_equal(mx_results_axis_label(paths, 5, 4), "seed");
    const char *const nested[] = {"a.b.c", "b.c"}; /* one path ends the other */
    assert_string_equal(mx_results_axis_label(nested, 2, 0), "a.b.c");
    assert_string_equal(mx_results_axis_label(nested, 2, 1), "b.c");
}

/* A NaN or Inf headline metric fails the point, named, and nothing of it is
 * written; the points before stay. */
static void test_non_finite_metrics_fail_the_point(void **state)
{
    (void)state;
    const char *path = tmp_path("nanmetric.h5");
    mx_experiment_config cfg;
    sweep_config(&cfg);
    mx_results *r = NULL;
    assert_int_equal(mx_results_create(path, &cfg, &r), MX_OK);
    fake_point fp;
    fake_result(0, 0, &fp);
    assert_int_equal(mx_results_write_point(r, &cfg, &fp.res), MX_OK);
    fake_result(0, 1, &fp);
    fp.res.accuracy = (double)NAN;
    assert_int_equal(mx_results_write_point(r, &cfg, &fp.res), MX_ENUMERIC);
    assert_non_null(strstr(mx_last_error(), "point 0 repeat 1: accuracy is nan"));
    fake_result(0, 1, &fp);
    fp.res.energy_j = (double)INFINITY;
    assert_int_equal(mx_results_write_point(r, &cfg, &fp.res), MX_ENUMERIC);
    assert_non_null(strstr(mx_last_error(), "energy inf J"));
    assert_false(mx_results_has_point(r, 0, 1));
    fake_result(0, 1, &fp); /* the same point, computed right, is written */
    assert_int_equal(mx_results_write_point(r, &cfg, &fp.res), MX_OK);
    assert_int_equal(mx_results_close(r, 0), MX_OK);
    size_t n = 0;
    double acc[4];
    assert_int_equal(mx_results_read_accuracy(tmp_path("nanmetric.h5.partial"), &n, acc, 4),
                     MX_OK);
    assert_int_equal(n, 2);
    assert_no_open_hdf5_ids();
}

static void test_write_point_rejects_out_of_range_and_duplicates(void **state)
{
    (void)state;
    const char *path = tmp_path("dup.h5");
    mx_experiment_config cfg;
    sweep_config(&cfg);
    mx_results *r = NULL;
    assert_int_equal(mx_results_create(path, &cfg, &r), MX_OK);
    fake_point fp;
    fake_result(N_POINTS, 0, &fp);
    assert_int_equal(mx_results_write_point(r, &cfg, &fp.res), MX_EINVAL);
    assert_non_null(strstr(mx_last_error(), "point 4"));
    fake_result(0, N_REPEATS, &fp);
    assert_int_equal(mx_results_write_point(r, &cfg, &fp.res), MX_EINVAL);
    fake_result(1, 0, &fp);
    fp.res.n_layers = MX_RESULTS_MAX_LAYERS + 1;
    assert_int_equal(mx_results_write_point(r, &cfg, &fp.res), MX_EINVAL);

    fake_result(1, 1, &fp);
    assert_int_equal(mx_results_write_point(r, &cfg, &fp.res), MX_OK);
    assert_int_equal(mx_results_write_point(r, &cfg, &fp.res), MX_EINVAL);
    assert_non_null(strstr(mx_last_error(), "already written"));

    /* NULL arrays are skipped; the row is still written. */
    fake_result(3, 0, &fp);
    fp.res.accuracy_vs_step = NULL;
    fp.res.layer_spike_rate = NULL;
    assert_int_equal(mx_results_write_point(r, &cfg, &fp.res), MX_OK);
    assert_int_equal(mx_results_close(r, 0), MX_OK);

    size_t n = 0;
    double acc[4];
    assert_int_equal(mx_results_read_accuracy(tmp_path("dup.h5.partial"), &n, acc, 4), MX_OK);
    assert_int_equal(n, 2);
    hid_t f = H5Fopen(tmp_path("dup.h5.partial"), H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    assert_int_equal(H5Lexists(f, "/points/3/0/accuracy_vs_step", H5P_DEFAULT), 0);
    assert_int_equal(H5Lexists(f, "/points/3/0/layer_spike_rate", H5P_DEFAULT), 0);
    assert_true(H5Lexists(f, "/points/3/0/layer_clip_rate", H5P_DEFAULT) > 0);
    H5Fclose(f);
    assert_no_open_hdf5_ids();
}

static void test_create_in_missing_directory_fails_naming_the_path(void **state)
{
    (void)state;
    const char *path = tmp_path("no/such/dir/x.h5");
    mx_experiment_config cfg;
    sweep_config(&cfg);
    mx_results *r = (mx_results *)&cfg; /* must be reset to NULL */
    assert_int_equal(mx_results_create(path, &cfg, &r), MX_EIO);
    assert_null(r);
    char expected[600];
    snprintf(expected, sizeof expected, "%s.partial: cannot create HDF5 file", path);
    assert_non_null(strstr(mx_last_error(), expected));
    assert_no_open_hdf5_ids();
}

static void test_create_rejects_bad_axes(void **state)
{
    (void)state;
    const char *path = tmp_path("bad.h5");
    mx_experiment_config cfg;
    mx_results *r = NULL;
    sweep_config(&cfg);
    snprintf(cfg.axes[1].path, sizeof cfg.axes[1].path, "%s", SIGMA_AXIS);
    assert_int_equal(mx_results_create(path, &cfg, &r), MX_EINVAL);
    assert_non_null(strstr(mx_last_error(), "appears twice"));
    sweep_config(&cfg);
    snprintf(cfg.axes[1].path, sizeof cfg.axes[1].path, "accuracy");
    assert_int_equal(mx_results_create(path, &cfg, &r), MX_EINVAL);
    sweep_config(&cfg);
    cfg.axes[0].n_values = 0;
    assert_int_equal(mx_results_create(path, &cfg, &r), MX_EINVAL);
    sweep_config(&cfg);
    cfg.repeats = 0;
    assert_int_equal(mx_results_create(path, &cfg, &r), MX_EINVAL);
    assert_null(r);
    assert_false(file_exists(tmp_path("bad.h5.partial")));
    assert_no_open_hdf5_ids();
}

static void test_axis_is_numeric_only_when_every_value_is_a_finite_number(void **state)
{
    (void)state;
    const char *path = tmp_path("flags.h5");
    mx_experiment_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.repeats = 1;
    cfg.n_axes = 3;
    static const char *const paths[] = {"snn.flag", "hardware.adc.bits", "hardware.x"};
    static const char *const values[3][2] = {{"true", "False"}, {" 4", "0x10"}, {"1", "nan"}};
    for (size_t a = 0; a < 3; a++) {
        snprintf(cfg.axes[a].path, sizeof cfg.axes[a].path, "%s", paths[a]);
        cfg.axes[a].n_values = 2;
        for (size_t v = 0; v < 2; v++)
            snprintf(cfg.axes[a].values[v], MX_CONFIG_VALUE_BYTES, "%s", values[a][v]);
    }
    mx_results *r = NULL;
    assert_int_equal(mx_results_create(path, &cfg, &r), MX_OK);
    for (size_t k = 0; k < 8; k++) {
        fake_point fp;
        fake_result(k, 0, &fp);
        assert_int_equal(mx_results_write_point(r, &cfg, &fp.res), MX_OK);
    }
    assert_int_equal(mx_results_close(r, 1), MX_OK);

    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t summary = H5Dopen2(f, "summary", H5P_DEFAULT);
    assert_int_equal(column_class(summary, "snn.flag"), H5T_FLOAT);
    assert_int_equal(column_class(summary, "hardware.adc.bits"), H5T_FLOAT);
    assert_int_equal(column_class(summary, "hardware.x"), H5T_STRING);
    double flag[8], bits[8];
    read_column(summary, "snn.flag", H5T_NATIVE_DOUBLE, sizeof(double), flag);
    read_column(summary, "hardware.adc.bits", H5T_NATIVE_DOUBLE, sizeof(double), bits);
    for (size_t k = 0; k < 8; k++) {
        assert_true(flag[k] == (k < 4 ? 1.0 : 0.0));
        assert_true(bits[k] == ((k / 2) % 2 ? 16.0 : 4.0));
    }
    H5Dclose(summary);
    H5Fclose(f);
    assert_no_open_hdf5_ids();
}

static void test_sweep_without_axes_has_one_point(void **state)
{
    (void)state;
    const char *path = tmp_path("noaxes.h5");
    mx_experiment_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.repeats = 1;
    mx_results *r = NULL;
    assert_int_equal(mx_results_create(path, &cfg, &r), MX_OK);
    fake_point fp;
    fake_result(0, 0, &fp);
    assert_int_equal(mx_results_write_point(r, &cfg, &fp.res), MX_OK);
    assert_int_equal(mx_results_close(r, 1), MX_OK);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    char buf[8];
    read_string_attr(f, "config", buf, sizeof buf); /* NULL text is written as "" */
    assert_string_equal(buf, "");
    assert_int_equal(read_u64_attr(f, "n_points"), 1);
    hid_t summary = H5Dopen2(f, "summary", H5P_DEFAULT);
    hid_t type = H5Dget_type(summary);
    assert_int_equal(H5Tget_nmembers(type), 38); /* point, repeat and 36 metrics */
    H5Tclose(type);
    H5Dclose(summary);
    H5Fclose(f);
    assert_no_open_hdf5_ids();
}

static void test_create_fails_cleanly_when_allocation_fails(void **state)
{
    (void)state;
    const char *path = tmp_path("oom.h5");
    const char *partial = tmp_path("oom.h5.partial");
    mx_experiment_config cfg;
    sweep_config(&cfg);
    for (long nth = 1; nth <= 8; nth++) {
        mx_results *r = NULL;
        mx_alloc_fail_after(nth);
        mx_status st = mx_results_create(path, &cfg, &r);
        mx_alloc_fail_after(0);
        if (st == MX_OK) {
            assert_int_equal(mx_results_close(r, 0), MX_OK);
            break;
        }
        assert_int_equal(st, MX_ENOMEM);
        assert_null(r);
        assert_false(file_exists(partial));
    }
    assert_no_open_hdf5_ids();
}

/* ---- weights ------------------------------------------------------------ */

static mx_mlp *make_net(void)
{
    static const size_t sizes[] = {7, 5, 3};
    mx_mlp *net = NULL;
    assert_int_equal(mx_mlp_create(sizes, 2, 42, &net), MX_OK);
    return net;
}

static void test_weights_round_trip_bit_exact(void **state)
{
    (void)state;
    const char *path = tmp_path("w.h5");
    mx_mlp *net = make_net();
    net->w[1][4] = -0.0f;
    net->w[0][0] = 1e-38f; /* subnormal-adjacent values survive too */
    assert_int_equal(mx_weights_save(path, net, "mnist/784-5-3/adam/15", 0.9375), MX_OK);
    assert_false(file_exists(tmp_path("w.h5.tmp")));

    mx_mlp *back = NULL;
    double acc = 0;
    assert_int_equal(mx_weights_load(path, "mnist/784-5-3/adam/15", &back, &acc), MX_OK);
    assert_non_null(back);
    assert_true(acc == 0.9375);
    assert_int_equal(back->n_layers, net->n_layers);
    for (size_t l = 0; l <= net->n_layers; l++)
        assert_int_equal(back->sizes[l], net->sizes[l]);
    for (size_t l = 0; l < net->n_layers; l++)
        assert_memory_equal(back->w[l], net->w[l],
                            net->sizes[l] * net->sizes[l + 1] * sizeof(float));
    mx_mlp_destroy(back);

    /* No expected key: any key loads; NaN accuracy is omitted and reads NaN. */
    assert_int_equal(mx_weights_save(path, net, NULL, (double)NAN), MX_OK);
    assert_int_equal(mx_weights_load(path, NULL, &back, &acc), MX_OK);
    assert_true(isnan(acc));
    mx_mlp_destroy(back);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_int_equal(H5Aexists(f, "ann_test_accuracy"), 0);
    char buf[32];
    read_string_attr(f, "format", buf, sizeof buf);
    assert_string_equal(buf, "memxbar-weights");
    H5Fclose(f);
    mx_mlp_destroy(net);
    assert_no_open_hdf5_ids();
}

/* A weight changed on disk fails the load (the runner then retrains). */
static void test_weights_changed_on_disk_fail_their_checksum(void **state)
{
    (void)state;
    const char *path = tmp_path("w.h5");
    mx_mlp *net = make_net();
    assert_int_equal(mx_weights_save(path, net, "k", 0.5), MX_OK);
    int has_filter = 0;
    const haddr_t at = chunk_address(path, "/layers/1/weight", &has_filter);
    assert_true(has_filter);
    flip_byte(path, at + 2, 0x40);
    mx_mlp *back = NULL;
    assert_int_equal(mx_weights_load(path, "k", &back, NULL), MX_EFORMAT);
    assert_null(back);
    assert_non_null(strstr(mx_last_error(), "/layers/1/weight"));
    assert_non_null(strstr(mx_last_error(), "checksum"));
    flip_byte(path, at + 2, 0x40);
    assert_int_equal(mx_weights_load(path, "k", &back, NULL), MX_OK);
    assert_memory_equal(back->w[1], net->w[1], net->sizes[1] * net->sizes[2] * sizeof(float));
    mx_mlp_destroy(back);
    mx_mlp_destroy(net);
    assert_no_open_hdf5_ids();
}

static void test_weights_key_mismatch_is_reported(void **state)
{
    (void)state;
    const char *path = tmp_path("w.h5");
    mx_mlp *net = make_net();
    assert_int_equal(mx_weights_save(path, net, "plain", 0.5), MX_OK);
    mx_mlp *back = (mx_mlp *)net; /* must be reset to NULL */
    double acc = 0;
    assert_int_equal(mx_weights_load(path, "noise-aware", &back, &acc), MX_EMISMATCH);
    assert_null(back);
    assert_true(isnan(acc));
    assert_non_null(strstr(mx_last_error(), path));
    assert_non_null(strstr(mx_last_error(), "noise-aware"));
    mx_mlp_destroy(net);
    assert_no_open_hdf5_ids();
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    fclose(fp);
}

static void test_weights_reject_junk_and_truncated_files(void **state)
{
    (void)state;
    mx_mlp *back = NULL;
    const char *missing = tmp_path("missing.h5");
    assert_int_equal(mx_weights_load(missing, NULL, &back, NULL), MX_EIO);
    assert_non_null(strstr(mx_last_error(), missing));

    const char *junk = tmp_path("junk.h5");
    static const char bytes[] = "\x89HDF\r\n\x1a\n but then nothing sensible at all....";
    write_bytes(junk, bytes, sizeof bytes);
    mx_status st = mx_weights_load(junk, NULL, &back, NULL);
    assert_true(st == MX_EFORMAT || st == MX_EIO);
    assert_non_null(strstr(mx_last_error(), junk));
    assert_null(back);

    /* The first half of a real weights file. */
    const char *path = tmp_path("w.h5");
    mx_mlp *net = make_net();
    assert_int_equal(mx_weights_save(path, net, "k", 0.5), MX_OK);
    mx_mlp_destroy(net);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    static unsigned char whole[1 << 16];
    size_t n = fread(whole, 1, sizeof whole, fp);
    fclose(fp);
    assert_true(n > 0 && n < sizeof whole);
    const char *truncated = tmp_path("truncated.h5");
    write_bytes(truncated, whole, n / 2);
    st = mx_weights_load(truncated, NULL, &back, NULL);
    assert_true(st == MX_EFORMAT || st == MX_EIO);
    assert_non_null(strstr(mx_last_error(), truncated));
    assert_null(back);
    assert_no_open_hdf5_ids();
}

/* Save a good file, then damage it with the HDF5 API. */
static const char *saved_copy(const char *name)
{
    const char *path = tmp_path(name);
    mx_mlp *net = make_net();
    assert_int_equal(mx_weights_save(path, net, "k", 0.5), MX_OK);
    mx_mlp_destroy(net);
    return path;
}

static void test_weights_reject_non_finite_weights(void **state)
{
    (void)state;
    const char *path = saved_copy("nan.h5");
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "/layers/1/weight", H5P_DEFAULT);
    float w[3][5];
    assert_true(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w) >= 0);
    w[2][3] = NAN;
    assert_true(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w) >= 0);
    H5Dclose(d);
    H5Fclose(f);
    mx_mlp *back = NULL;
    assert_int_equal(mx_weights_load(path, "k", &back, NULL), MX_EFORMAT);
    assert_null(back);
    assert_non_null(strstr(mx_last_error(), path));
    assert_non_null(strstr(mx_last_error(), "/layers/1/weight[2][3]"));

    /* Saving refuses non-finite weights in the first place. */
    mx_mlp *net = make_net();
    net->w[0][6] = INFINITY;
    assert_int_equal(mx_weights_save(tmp_path("bad.h5"), net, "k", 0.5), MX_ENUMERIC);
    assert_false(file_exists(tmp_path("bad.h5")));
    assert_false(file_exists(tmp_path("bad.h5.tmp")));
    mx_mlp_destroy(net);
    assert_no_open_hdf5_ids();
}

static void replace_u64_attr(const char *path, const char *name, const uint64_t *v, size_t n)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0);
    assert_true(H5Adelete(f, name) >= 0);
    hsize_t dims[1] = {n};
    hid_t s = n ? H5Screate_simple(1, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, H5T_STD_U64LE, s, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(H5Awrite(a, H5T_NATIVE_UINT64, v) >= 0);
    H5Aclose(a);
    H5Sclose(s);
    H5Fclose(f);
}

static void test_weights_reject_wrong_format_version_and_shapes(void **state)
{
    (void)state;
    mx_mlp *back = NULL;

    const char *path = saved_copy("shape.h5");
    const uint64_t sizes[] = {7, 6, 3}; /* dataset 0 is (5, 7) */
    replace_u64_attr(path, "sizes", sizes, 3);
    assert_int_equal(mx_weights_load(path, NULL, &back, NULL), MX_EFORMAT);
    assert_non_null(strstr(mx_last_error(), "/layers/0/weight"));

    path = saved_copy("ver.h5");
    const uint64_t version = 2;
    replace_u64_attr(path, "format_version", &version, 0);
    assert_int_equal(mx_weights_load(path, NULL, &back, NULL), MX_EFORMAT);
    assert_non_null(strstr(mx_last_error(), "format_version"));

    path = saved_copy("nokey.h5");
    const uint64_t n_layers = MX_MLP_MAX_LAYERS + 1;
    replace_u64_attr(path, "n_layers", &n_layers, 0);
    assert_int_equal(mx_weights_load(path, NULL, &back, NULL), MX_EFORMAT);
    assert_non_null(strstr(mx_last_error(), "n_layers"));

    path = saved_copy("fmt.h5");
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(H5Adelete(f, "format") >= 0);
    H5Fclose(f);
    assert_int_equal(mx_weights_load(path, NULL, &back, NULL), MX_EFORMAT);
    assert_non_null(strstr(mx_last_error(), "format"));
    assert_non_null(strstr(mx_last_error(), path));

    /* A results file is an HDF5 file but not a weights file. */
    const char *results = tmp_path("sweep.h5");
    if (!file_exists(results))
        write_sweep(results, 1);
    assert_int_equal(mx_weights_load(results, NULL, &back, NULL), MX_EFORMAT);
    assert_null(back);
    assert_no_open_hdf5_ids();
}

static void test_weights_save_into_missing_directory_fails(void **state)
{
    (void)state;
    mx_mlp *net = make_net();
    const char *path = tmp_path("no/such/dir/w.h5");
    assert_int_equal(mx_weights_save(path, net, "k", 0.5), MX_EIO);
    assert_non_null(strstr(mx_last_error(), path));
    mx_mlp_destroy(net);
    assert_no_open_hdf5_ids();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_complete_sweep_is_renamed_and_has_root_attributes),
        cmocka_unit_test(test_summary_has_one_row_per_point_and_repeat),
        cmocka_unit_test(test_point_groups_hold_swept_values_and_datasets),
        cmocka_unit_test(test_read_accuracy_returns_every_row),
        cmocka_unit_test(test_read_accuracy_rejects_missing_and_foreign_files),
        cmocka_unit_test(test_incomplete_close_leaves_only_the_partial_file),
        cmocka_unit_test(test_killed_writer_loses_no_flushed_point),
        cmocka_unit_test(test_resume_continues_a_killed_sweep),
        cmocka_unit_test(test_resume_accepts_the_same_sweep_in_other_words),
        cmocka_unit_test(test_read_table_returns_rows_labels_and_status),
        cmocka_unit_test(test_a_changed_byte_in_a_dataset_fails_its_checksum),
        cmocka_unit_test(test_complete_close_requires_every_row),
        cmocka_unit_test(test_complete_close_puts_rows_in_point_order),
        cmocka_unit_test(test_point_result_pack_round_trip),
        cmocka_unit_test(test_axis_label_is_the_shortest_unambiguous_suffix),
        cmocka_unit_test(test_non_finite_metrics_fail_the_point),
        cmocka_unit_test(test_write_point_rejects_out_of_range_and_duplicates),
        cmocka_unit_test(test_create_in_missing_directory_fails_naming_the_path),
        cmocka_unit_test(test_create_rejects_bad_axes),
        cmocka_unit_test(test_axis_is_numeric_only_when_every_value_is_a_finite_number),
        cmocka_unit_test(test_sweep_without_axes_has_one_point),
        cmocka_unit_test(test_create_fails_cleanly_when_allocation_fails),
        cmocka_unit_test(test_weights_round_trip_bit_exact),
        cmocka_unit_test(test_weights_changed_on_disk_fail_their_checksum),
        cmocka_unit_test(test_weights_key_mismatch_is_reported),
        cmocka_unit_test(test_weights_reject_junk_and_truncated_files),
        cmocka_unit_test(test_weights_reject_non_finite_weights),
        cmocka_unit_test(test_weights_reject_wrong_format_version_and_shapes),
        cmocka_unit_test(test_weights_save_into_missing_directory_fails),
    };
    return cmocka_run_group_tests(tests, make_tmp_dir, remove_tmp_dir);
}
