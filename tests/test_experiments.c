/* SPDX-License-Identifier: MIT
 *
 * test_experiments.c: the whole path — YAML config → training → conversion →
 * crossbar → calibration → evaluation → HDF5 — on the UCI digits (small and
 * fast): the results file is complete and readable, the same seed gives
 * identical /summary at 1 and 2 threads (training included), the network
 * cache is used on a second run, and a bad sweep point or missing data is refused before any
 * file is written.
 */
#include "tests/support/mx_test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#include "experiments/config.h"
#include "experiments/experiments.h"
#include "experiments/results.h"

static const char small_sweep[] =
    "seed: 7\n"
    "dataset: {name: digits, test_limit: 150, calibration_images: 50}\n"
    "model: {hidden: [32]}\n"
    "training: {epochs: 8, batch_size: 32, learning_rate: 0.003, noise_epochs: 2}\n"
    "snn: {timesteps: 24}\n"
    "hardware:\n"
    "  device: {read_noise_sigma: 0.02}\n"
    "  crossbar: {tile_rows: 32, tile_cols: 16}\n"
    "  adc: {bits: 6}\n"
    "sweep:\n"
    "  hardware.device.d2d_sigma: [0, 0.3]\n"
    "  training.mode: [plain, noise-aware]\n";

static char tmp_dir[256];

static int make_tmp(void **state)
{
    (void)state;
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/mx_test_experiments_XXXXXX");
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int remove_tmp(void **state)
{
    (void)state;
    char cmd[320];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The metric columns of /summary, read with a memory type naming only them. */
typedef struct summary_row {
    uint64_t point, repeat;
    double accuracy, accuracy_snn_digital, accuracy_ann, adc_clip_rate, sigma;
} summary_row;

static size_t read_summary(const char *path, summary_row *rows, size_t cap)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    hid_t d = H5Dopen2(f, "summary", H5P_DEFAULT);
    assert_true(d >= 0);
    hid_t space = H5Dget_space(d);
    hsize_t n;
    H5Sget_simple_extent_dims(space, &n, NULL);
    assert_true(n <= cap);
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(summary_row));
    H5Tinsert(t, "point", HOFFSET(summary_row, point), H5T_NATIVE_UINT64);
    H5Tinsert(t, "repeat", HOFFSET(summary_row, repeat), H5T_NATIVE_UINT64);
    H5Tinsert(t, "accuracy", HOFFSET(summary_row, accuracy), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "accuracy_snn_digital", HOFFSET(summary_row, accuracy_snn_digital),
              H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "accuracy_ann", HOFFSET(summary_row, accuracy_ann), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "adc_clip_rate", HOFFSET(summary_row, adc_clip_rate), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "hardware.device.d2d_sigma", HOFFSET(summary_row, sigma), H5T_NATIVE_DOUBLE);
    assert_true(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) >= 0);
    H5Tclose(t);
    H5Sclose(space);
    H5Dclose(d);
    H5Fclose(f);
    return (size_t)n;
}

static void run_sweep(const char *out, int threads, const char *cache_name, mx_run_report *rep)
{
    mx_experiment_config cfg;
    assert_int_equal(mx_config_parse(small_sweep, strlen(small_sweep), "small.yaml", &cfg), MX_OK);
    char cache[320];
    snprintf(cache, sizeof cache, "%s/%s", tmp_dir, cache_name);
    mx_run_options opt = {.output_path = out, .cache_dir = cache, .threads = threads};
    mx_status st = mx_experiment_run(&cfg, &opt, rep);
    if (st)
        print_error("%s\n", mx_last_error());
    assert_int_equal(st, MX_OK);
    mx_config_free(&cfg);
}

static void test_sweep_writes_complete_results_identical_at_one_and_two_threads(void **state)
{
    (void)state;
    char out1[320], out2[320], out3[320], partial[340];
    snprintf(out1, sizeof out1, "%s/one.h5", tmp_dir);
    snprintf(out2, sizeof out2, "%s/two.h5", tmp_dir);
    snprintf(out3, sizeof out3, "%s/three.h5", tmp_dir);
    mx_run_report rep1, rep2, rep3;
    /* Runs 1 and 2 each train from scratch (separate caches), at 1 and 2
     * threads; run 3 finds run 1's networks in its cache. */
    run_sweep(out1, 1, "cache-a", &rep1);
    run_sweep(out2, 2, "cache-b", &rep2);
    run_sweep(out3, 2, "cache-a", &rep3);
    /* Complete files only: the .partial was renamed away. */
    snprintf(partial, sizeof partial, "%s.partial", out1);
    assert_int_not_equal(access(out1, R_OK), -1);
    assert_int_equal(access(partial, F_OK), -1);
    /* The second run found every network in the cache. */
    /* plain, and noise-aware at σ = 0.3 (at σ = 0 noise-aware training
     * perturbs nothing: it is the plain network) */
    assert_int_equal(rep1.networks_trained, 2);
    assert_int_equal(rep2.networks_trained, 2);
    assert_int_equal(rep3.networks_trained, 0);
    assert_int_equal(rep3.networks_cached, 2);

    summary_row a[8], b[8], c[8];
    size_t na = read_summary(out1, a, 8), nb = read_summary(out2, b, 8),
           nc = read_summary(out3, c, 8);
    assert_int_equal(na, 4);
    assert_int_equal(nb, 4);
    assert_int_equal(nc, 4);
    for (size_t i = 0; i < na; i++) {
        print_message("point %llu sigma %.1f: crossbar %.3f digital %.3f ann %.3f clip %.4f\n",
                      (unsigned long long)a[i].point, a[i].sigma, a[i].accuracy,
                      a[i].accuracy_snn_digital, a[i].accuracy_ann, a[i].adc_clip_rate);
        assert_int_equal(a[i].point, i);
        assert_memory_equal(&a[i], &b[i], sizeof a[i]); /* bit-identical, training included */
        assert_memory_equal(&a[i], &c[i], sizeof a[i]); /* and from the cache */
        assert_true(a[i].accuracy > 0.5);                /* a working classifier */
    }
    /* Rows follow the sweep: σ is the outer axis. */
    assert_close(a[0].sigma, 0.0, 0.0, 0.0);
    assert_close(a[3].sigma, 0.3, 0.0, 0.0);
    /* The accuracies read back through the library agree. */
    size_t n_rows;
    double acc[8];
    assert_int_equal(mx_results_read_accuracy(out1, &n_rows, acc, 8), MX_OK);
    assert_int_equal(n_rows, 4);
    assert_close(acc[2], a[2].accuracy, 0.0, 0.0);
    mx_run_report_free(&rep1);
    mx_run_report_free(&rep2);
    mx_run_report_free(&rep3);
}

static void test_invalid_sweep_point_is_refused_before_anything_is_written(void **state)
{
    (void)state;
    /* Point 2 asks for g_min >= g_max: the whole sweep is checked before any
     * work, so nothing at all is written and the error names the field. */
    static const char bad[] = "dataset: {name: digits, test_limit: 20}\n"
                              "model: {hidden: [8]}\n"
                              "training: {epochs: 1}\n"
                              "snn: {timesteps: 4}\n"
                              "sweep:\n"
                              "  hardware.device.g_min_s: [1.0e-6, 2.0e-5]\n";
    mx_experiment_config cfg;
    assert_int_equal(mx_config_parse(bad, strlen(bad), "bad.yaml", &cfg), MX_OK);
    char out[320], partial[340], cache[320];
    snprintf(out, sizeof out, "%s/bad.h5", tmp_dir);
    snprintf(partial, sizeof partial, "%s.partial", out);
    snprintf(cache, sizeof cache, "%s/cache", tmp_dir);
    mx_run_options opt = {.output_path = out, .cache_dir = cache};
    mx_run_report rep;
    assert_int_equal(mx_experiment_run(&cfg, &opt, &rep), MX_EINVAL);
    assert_non_null(strstr(mx_last_error(), "g_min_s"));
    assert_int_equal(access(out, F_OK), -1);
    assert_int_equal(access(partial, F_OK), -1);
    mx_run_report_free(&rep);
    mx_config_free(&cfg);
}

static void test_missing_data_folder_is_reported_with_the_places_searched(void **state)
{
    (void)state;
    mx_experiment_config cfg;
    assert_int_equal(mx_config_parse(small_sweep, strlen(small_sweep), "small.yaml", &cfg), MX_OK);
    char out[320];
    snprintf(out, sizeof out, "%s/nodata.h5", tmp_dir);
    mx_run_options opt = {.output_path = out, .data_dir = "/nonexistent/memxbar-data"};
    mx_run_report rep;
    assert_int_equal(mx_experiment_run(&cfg, &opt, &rep), MX_ENOTFOUND);
    assert_non_null(strstr(mx_last_error(), "/nonexistent/memxbar-data"));
    assert_int_equal(access(out, F_OK), -1);
    mx_run_report_free(&rep);
    mx_config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sweep_writes_complete_results_identical_at_one_and_two_threads),
        cmocka_unit_test(test_invalid_sweep_point_is_refused_before_anything_is_written),
        cmocka_unit_test(test_missing_data_folder_is_reported_with_the_places_searched),
    };
    return cmocka_run_group_tests_name("experiments (end to end, UCI digits)", tests, make_tmp,
                                       remove_tmp);
}
