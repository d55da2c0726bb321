/* SPDX-License-Identifier: MIT
 *
 * fuzz_resume.c: the resume reader (mx_results_resume) and the results
 * table reader of `memxbar report` (mx_results_read_table). The input is
 * written to /tmp/mxfuzz-<pid>-resume.h5.partial; the table is read from
 * it, then the sweep of a fixed small config (2 × 2 points, 2 repeats) is
 * resumed from it — the file is checked against the config, every dataset
 * read (the damage walk), the finished rows loaded and unfinished groups
 * removed — and closed unfinished. Findings inside libhdf5 itself (its
 * parser of the file format) are not memxbar's to fix; docs/reliability.md
 * says which ones were seen.
 *
 * Seeds: a .partial must carry the resolved config of the same sweep *and
 * code version* (MX_GIT_DESCRIBE) to get past the sweep check, so the
 * committed seeds go stale with every commit (they still replay: the check
 * refuses them cleanly). Fresh ones for a fuzzing run come from the target
 * itself: MX_FUZZ_RESUME_SEEDS=<dir> makes LLVMFuzzerInitialize write
 * .partial files with 0, 1 and 5 of the 8 (point, repeat) rows into <dir>
 * (tests/fuzz/run.sh passes the working corpus).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/config.h"
#include "experiments/results.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

#define N_REPEATS 2
#define N_LAYERS 2
#define TIMESTEPS 3

/* The sweep every input is resumed as (as tests/test_results.c). */
static void resume_config(mx_experiment_config *cfg)
{
    static char text[] = "seed: 7\nsweep:\n  hardware.device.d2d_sigma: [0, 0.1]\n"
                         "  training.mode: [plain, noise-aware]\n";
    memset(cfg, 0, sizeof *cfg);
    cfg->seed = 7;
    cfg->repeats = N_REPEATS;
    cfg->n_axes = 2;
    snprintf(cfg->axes[0].path, sizeof cfg->axes[0].path, "hardware.device.d2d_sigma");
    cfg->axes[0].n_values = 2;
    snprintf(cfg->axes[0].values[0], MX_CONFIG_VALUE_BYTES, "0");
    snprintf(cfg->axes[0].values[1], MX_CONFIG_VALUE_BYTES, "0.1");
    snprintf(cfg->axes[1].path, sizeof cfg->axes[1].path, "training.mode");
    cfg->axes[1].n_values = 2;
    snprintf(cfg->axes[1].values[0], MX_CONFIG_VALUE_BYTES, "plain");
    snprintf(cfg->axes[1].values[1], MX_CONFIG_VALUE_BYTES, "noise-aware");
    snprintf(cfg->source_path, sizeof cfg->source_path, "fuzz-resume.yaml");
    cfg->text = text;
}

/* A .partial of resume_config with the first n_rows (point, repeat) rows,
 * at <dir>/partial_<n_rows>.h5. */
static void write_seed(const char *dir, size_t n_rows)
{
    char path[512], partial[600], seed[600];
    snprintf(path, sizeof path, "%s/.seed-%ld.h5", dir, (long)getpid());
    snprintf(partial, sizeof partial, "%s.partial", path);
    snprintf(seed, sizeof seed, "%s/partial_%zu.h5", dir, n_rows);
    mx_experiment_config cfg;
    resume_config(&cfg);
    mx_results *r = NULL;
    if (mx_results_create(path, &cfg, &r) != MX_OK) {
        fprintf(stderr, "fuzz_resume: cannot write a seed: %s\n", mx_last_error());
        return;
    }
    double steps[TIMESTEPS] = {0.25, 0.5, 0.75}, layer[N_LAYERS] = {0.125, 2.5};
    for (size_t i = 0; i < n_rows; i++) {
        mx_point_result res;
        memset(&res, 0, sizeof res);
        res.point = i / N_REPEATS;
        res.repeat = i % N_REPEATS;
        res.n_test = 100;
        res.accuracy = 0.5 + 0.0625 * (double)i;
        res.timesteps = TIMESTEPS;
        res.accuracy_vs_step = steps;
        res.n_layers = N_LAYERS;
        res.layer_rel_rms_error = layer;
        res.layer_clip_rate = layer;
        if (mx_results_write_point(r, &cfg, &res) != MX_OK)
            fprintf(stderr, "fuzz_resume: seed point %zu: %s\n", i, mx_last_error());
    }
    mx_results_close(r, 0);
    if (rename(partial, seed) != 0)
        perror(seed);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("MX_FUZZ_RESUME_SEEDS");
    if (dir && *dir) {
        write_seed(dir, 0);
        write_seed(dir, 1);
        write_seed(dir, 5);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char partial[256];
    if (mx_fuzz_write_file("resume", ".h5.partial", data, size, partial, sizeof partial) != 0)
        return 0;
    char path[256];
    memcpy(path, partial, strlen(partial) - strlen(".partial"));
    path[strlen(partial) - strlen(".partial")] = '\0';

    mx_results_table t;
    if (mx_results_read_table(partial, &t) == MX_OK)
        mx_results_table_free(&t);

    mx_experiment_config cfg;
    resume_config(&cfg);
    mx_results *r = NULL;
    mx_status st = mx_results_resume(path, &cfg, &r);
    if (getenv("MX_FUZZ_VERBOSE")) /* triage: what the reader said */
        fprintf(stderr, "resume: %s\n", st == MX_OK ? "ok" : mx_last_error());
    if (st == MX_OK) {
        /* As the runner does: the first missing (point, repeat) is written
         * into the resumed file. */
        for (size_t i = 0; i < 4 * N_REPEATS; i++) {
            if (mx_results_has_point(r, i / N_REPEATS, i % N_REPEATS))
                continue;
            mx_point_result res;
            memset(&res, 0, sizeof res);
            res.point = i / N_REPEATS;
            res.repeat = i % N_REPEATS;
            res.accuracy = 0.5;
            mx_results_write_point(r, &cfg, &res);
            break;
        }
        mx_results_close(r, 0);
    }
    remove(partial);
    return 0;
}
