/* SPDX-License-Identifier: MIT
 *
 * main.c: the memxbar command-line program. It parses arguments, installs a
 * stderr logger and a progress bar, calls experiments/, prints the summary —
 * and is the only place that prints or exits. `sweep --resume` continues a
 * stopped sweep's .partial file; SIGINT stops after the current point and
 * prints the command that resumes. Under mpirun the sweep is spread over the
 * ranks (cli/mpi.c, experiments/distribute.c): rank 0 prints the progress
 * and the summary, the other ranks only their warnings. `report` prints a results file's summary
 * and draws its plots (scripts/plot_results.py).
 *
 * Test hooks, read only here: MEMXBAR_TEST_EXIT_AFTER_POINTS=n makes the
 * process _exit(137) right after the n-th (point, repeat) is committed — a
 * kill -9 at that moment; MEMXBAR_TEST_PAUSE_AFTER_POINTS=n prints
 * "memxbar-test: paused after n points" and waits for a signal there, so a
 * test can send a real SIGKILL or SIGINT at a known place.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gsl/gsl_errno.h>
#include <hdf5.h>

#include "cli/adc.h"
#include "cli/crossbar.h"
#include "cli/device.h"
#include "cli/fsutil.h"
#include "cli/mpi.h"
#include "cli/progress.h"
#include "core/core.h"
#include "experiments/config.h"
#include "experiments/experiments.h"
#include "experiments/online_run.h"
#include "experiments/results.h"
#include "mx_build_config.h"

#define MAX_OVERRIDES 64

static const char usage[] =
    "usage: memxbar sweep [CONFIG.yaml] [options]\n"
    "       memxbar device list | show NAME | curve NAME [options]\n"
    "       memxbar crossbar solve CASE.json [--mode MODE]\n"
    "       memxbar crossbar read CASE.json --cell I,J [--scheme floating|v-ground|v-half]\n"
    "       memxbar adc curve [--type T] [--bits B] [--set hardware.adc.F=V]... [-o F]\n"
    "       memxbar report RESULTS.h5 [--no-plot]\n"
    "       memxbar --version | --help\n"
    "\n"
    "Run a non-ideality sweep: train (or load) the network, convert it to a spiking\n"
    "network, run it on the emulated crossbar at every sweep point, write HDF5.\n"
    "Without CONFIG the built-in default sweep runs (examples/default.yaml).\n"
    "With `experiment: online-training` every point instead trains a perceptron in\n"
    "situ through device pulses, NeuroSim style (examples/online-training.yaml).\n"
    "\n"
    "options:\n"
    "  -o, --output FILE   results file (default: results/<config name>.h5)\n"
    "  --resume            continue FILE.partial left by a stopped run of the same\n"
    "                      sweep (same config, --set options and code version)\n"
    "  --data DIR          dataset folder (default: $MEMXBAR_DATA, ./data, ../shared/data)\n"
    "  --cache DIR         trained-network cache (default: <output folder>/cache)\n"
    "  --full              evaluate the whole test set (overrides dataset.test_limit)\n"
    "  --set PATH=VALUE    override one config field, e.g. --set hardware.adc.bits=6\n"
    "                      (a swept field: the value replaces its sweep axis)\n"
    "  --threads N         worker threads (default: all cores)\n"
    "  -q, --quiet         no progress, only the summary\n"
    "  -v, --verbose       also per-epoch training losses\n"
    "\n"
    "memxbar device: the device models and published presets (memxbar device --help).\n"
    "memxbar crossbar: solve a crossbar circuit (IR drop, sneak paths) from a JSON case file\n"
    "(memxbar crossbar --help).\n"
    "memxbar adc: an ADC's transfer curve and INL/DNL to HDF5 and a PNG\n"
    "(memxbar adc --help).\n"
    "memxbar report: the summary table of a results file (complete or .partial) and\n"
    "its plots, written beside it (--no-plot: the table only).\n";

/* The whole command line, for the "resume with" hint. */
static int prog_argc;
static char **prog_argv;

static void on_sigint(int sig)
{
    (void)sig;
    mx_experiment_request_stop();
    signal(SIGINT, SIG_DFL); /* a second Ctrl-C stops at once */
}

/* Print `argv` as a shell command with --resume added (once). */
static void print_resume_command(FILE *f)
{
    int has_resume = 0;
    fputs("memxbar: resume with:", f);
    for (int i = 0; i < prog_argc; i++) {
        const char *a = prog_argv[i];
        has_resume |= i > 1 && !strcmp(a, "--resume");
        if (a[0] && !a[strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "0123456789_-+=./,:@%")]) {
            fprintf(f, " %s", a);
            continue;
        }
        fputs(" '", f);
        for (; *a; a++)
            if (*a == '\'')
                fputs("'\\''", f);
            else
                fputc(*a, f);
        fputc('\'', f);
    }
    fputs(has_resume ? "\n" : " --resume\n", f);
}

/* The test hooks (see the file comment). */
typedef struct test_hooks {
    long exit_after, pause_after; /* points; 0: off */
} test_hooks;

static long env_count(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : 0;
}

static void on_point_written(void *user, size_t n_written)
{
    const test_hooks *h = user;
    if (h->exit_after > 0 && n_written == (size_t)h->exit_after)
        _exit(137);
    if (h->pause_after > 0 && n_written == (size_t)h->pause_after) {
        fprintf(stderr, "memxbar-test: paused after %zu points\n", n_written);
        fflush(stderr);
        pause();
    }
}

static int fail(const char *what)
{
    fprintf(stderr, "memxbar: %s%s%s\n", what ? what : "", what ? ": " : "", mx_last_error());
    return 1;
}

static void print_table_header(void)
{
    printf("\n%-44s %7s %10s %10s %8s %8s %10s\n", "sweep point", "network", "crossbar",
           "digital", "ANN", "ADC clip", "energy");
    printf("%-44s %7s %10s %10s %8s %8s %10s\n", "", "", "%", "SNN %", "%", "%", "nJ/inf");
}

static void print_table_row(size_t repeats, const char *swept, size_t repeat, const char *network,
                            double accuracy, double accuracy_snn_digital, double accuracy_ann,
                            double adc_clip_rate, double energy_j)
{
    char label[300];
    if (repeats > 1)
        snprintf(label, sizeof label, "%s #%zu", swept, repeat);
    else
        snprintf(label, sizeof label, "%s", swept[0] ? swept : "(no sweep)");
    char digital[16] = "-"; /* an ANN point has no digital SNN */
    if (!isnan(accuracy_snn_digital))
        snprintf(digital, sizeof digital, "%.2f", 100 * accuracy_snn_digital);
    char ann[16] = "-"; /* a network trained as a spiking one has no ANN */
    if (!isnan(accuracy_ann))
        snprintf(ann, sizeof ann, "%.2f", 100 * accuracy_ann);
    char energy[24] = "-"; /* files from before the energy model have no column */
    if (!isnan(energy_j))
        snprintf(energy, sizeof energy, "%.4g", 1e9 * energy_j);
    printf("%-44s %7s %10.2f %10s %8s %8.3f %10s\n", label, network, 100 * accuracy,
           digital, ann, 100 * adc_clip_rate, energy);
}

/* The summary table of a results file (a finished or resumed sweep, and
 * `memxbar report`). Returns 0, or 1 after printing why not. */
static int print_file_table(const char *path)
{
    mx_results_table t;
    if (mx_results_read_table(path, &t) != MX_OK)
        return fail(NULL);
    print_table_header();
    for (size_t i = 0; i < t.n_rows; i++) {
        const mx_results_row *r = &t.rows[i];
        print_table_row(t.repeats, r->swept, r->repeat,
                        isnan(r->accuracy_snn_digital) ? "ann" : "snn", r->accuracy,
                        r->accuracy_snn_digital, r->accuracy_ann, r->adc_clip_rate, r->energy_j);
    }
    printf("\n%zu of %zu (point, repeat) runs%s, on %zu test images\nresults: %s\n", t.n_rows,
           t.n_points * t.repeats, t.complete ? "" : " (sweep incomplete)",
           t.n_rows ? t.rows[0].n_test : (size_t)0, path);
    mx_results_table_free(&t);
    return 0;
}

static void print_summary(const mx_experiment_config *cfg, const mx_run_report *rep,
                          const char *output)
{
    print_table_header();
    for (size_t i = 0; i < rep->n_rows; i++) {
        const mx_run_row *r = &rep->rows[i];
        print_table_row(cfg->repeats, r->swept, r->repeat, r->network ? r->network : "snn",
                        r->accuracy, r->accuracy_snn_digital, r->accuracy_ann,
                        r->adc_clip_rate, r->energy_j);
    }
    printf("\n%zu points x %zu repeats on %zu test images in %.1f s (training %.1f s, %zu "
           "networks trained, %zu from cache; programming %.1f s; calibration %.1f s; "
           "evaluation %.1f s; writing %.1f s)\nresults: %s\n",
           mx_config_n_points(cfg), cfg->repeats, rep->n_test, rep->seconds_total,
           rep->seconds_training, rep->networks_trained, rep->networks_cached,
           rep->seconds_programming, rep->seconds_calibration, rep->seconds_eval,
           rep->seconds_writing, output);
}

/* NeuroSim V3.0's software baseline for the 400-100-10 MLP (paper-tables.md §7). */
#define NEUROSIM_SOFTWARE_ACCURACY "96-97"

static void print_online_summary(const mx_online_report *rep, const char *output)
{
    printf("\n%-24s %10s %10s %14s %10s\n", "device", "accuracy", "NeuroSim", "pulses",
           "time");
    printf("%-24s %10s %10s %14s %10s\n", "", "%", "V3.0 %", "applied", "s");
    for (size_t i = 0; i < rep->n_rows; i++) {
        const mx_online_row *r = &rep->rows[i];
        char label[96], neurosim[16];
        snprintf(label, sizeof label, "%s%s", r->label,
                 r->point == MX_ONLINE_BASELINE ? " (baseline)" : "");
        if (r->point == MX_ONLINE_BASELINE)
            snprintf(neurosim, sizeof neurosim, "%s", NEUROSIM_SOFTWARE_ACCURACY);
        else if (r->neurosim_accuracy == r->neurosim_accuracy) /* not NaN */
            snprintf(neurosim, sizeof neurosim, "%.0f", 100 * r->neurosim_accuracy);
        else
            snprintf(neurosim, sizeof neurosim, "-");
        printf("%-24s %10.2f %10s %14.4g %10.1f\n", label, 100 * r->accuracy, neurosim,
               r->pulses, r->seconds);
    }
    printf("\n%zu runs: %zu epochs x %zu images (of %zu), %zu inputs, tested on %zu images, "
           "in %.1f s\nresults: %s\n",
           rep->n_rows, rep->epochs, rep->images_per_epoch, rep->n_train, rep->n_inputs,
           rep->n_test, rep->seconds_total, output);
}

static int run_online(const mx_experiment_config *cfg, const mx_run_options *opt,
                      const char *output)
{
    mx_online_report rep;
    mx_status st = mx_online_run(cfg, opt, &rep);
    int code = 0;
    if (st == MX_EINTERRUPT) {
        fprintf(stderr, "memxbar: %s; finished runs are in %s.partial\n", mx_last_error(),
                output);
        code = 130;
    } else if (st) {
        fprintf(stderr, "memxbar: %s\n", mx_last_error());
        if (rep.n_rows)
            fprintf(stderr, "memxbar: the %zu runs finished before the error are in %s.partial\n",
                    rep.n_rows, output);
        code = 1;
    } else {
        print_online_summary(&rep, output);
    }
    mx_online_report_free(&rep);
    return code;
}

static int cmd_sweep(int argc, char **argv)
{
    const char *config_path = NULL, *output = NULL;
    const char *overrides[MAX_OVERRIDES];
    size_t n_overrides = 0;
    mx_run_options opt = {0};
    cli_output out = {0};
    test_hooks hooks = {env_count("MEMXBAR_TEST_EXIT_AFTER_POINTS"),
                        env_count("MEMXBAR_TEST_PAUSE_AFTER_POINTS")};
    if (hooks.exit_after > 0 || hooks.pause_after > 0) {
        opt.point_written = on_point_written;
        opt.user = &hooks;
    }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int has_next = i + 1 < argc;
        if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && has_next)
            output = argv[++i];
        else if (!strcmp(a, "--data") && has_next)
            opt.data_dir = argv[++i];
        else if (!strcmp(a, "--cache") && has_next)
            opt.cache_dir = argv[++i];
        else if (!strcmp(a, "--full"))
            opt.full = 1;
        else if (!strcmp(a, "--resume"))
            opt.resume = 1;
        else if (!strcmp(a, "--threads") && has_next)
            opt.threads = atoi(argv[++i]);
        else if (!strcmp(a, "--set") && has_next) {
            if (n_overrides == MAX_OVERRIDES) {
                fprintf(stderr, "memxbar: at most %d --set options\n", MAX_OVERRIDES);
                return 2;
            }
            overrides[n_overrides++] = argv[++i];
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet"))
            out.quiet = 1;
        else if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
            out.verbose = 1;
        else if (a[0] == '-' ) {
            fprintf(stderr, "memxbar: unknown or incomplete option '%s'\n\n%s", a, usage);
            return 2;
        } else if (!config_path)
            config_path = a;
        else {
            fprintf(stderr, "memxbar: unexpected argument '%s'\n\n%s", a, usage);
            return 2;
        }
    }
    if (opt.threads < 0) {
        fprintf(stderr, "memxbar: --threads: expected a positive number\n");
        return 2;
    }
    mx_experiment_config cfg;
    mx_status st = config_path ? mx_config_load(config_path, &cfg) : mx_config_load_default(&cfg);
    if (st)
        return fail(NULL);
    for (size_t i = 0; i < n_overrides; i++) {
        char path[MX_CONFIG_NAME_BYTES];
        const char *eq = strchr(overrides[i], '=');
        if (!eq || eq == overrides[i] || (size_t)(eq - overrides[i]) >= sizeof path) {
            fprintf(stderr, "memxbar: --set %s: expected PATH=VALUE\n", overrides[i]);
            mx_config_free(&cfg);
            return 2;
        }
        snprintf(path, sizeof path, "%.*s", (int)(eq - overrides[i]), overrides[i]);
        for (size_t a = 0; a < cfg.n_axes; a++)
            if (strcmp(cfg.axes[a].path, path) == 0) {
                /* A fixed value for a swept field replaces its axis (else the
                 * sweep would silently win). */
                fprintf(stderr, "memxbar: --set %s replaces the sweep axis of %s (%zu values, "
                                "%s:%d:%d)\n", overrides[i], path, cfg.axes[a].n_values,
                        cfg.source_path, cfg.axes[a].line, cfg.axes[a].column);
                memmove(&cfg.axes[a], &cfg.axes[a + 1], (cfg.n_axes - a - 1) * sizeof cfg.axes[0]);
                cfg.n_axes--;
                break;
            }
        if (mx_config_set(&cfg, path, eq + 1)) {
            mx_config_free(&cfg);
            return fail("--set");
        }
    }
    char default_output[512];
    if (!output) {
        const char *base = config_path ? strrchr(config_path, '/') : NULL;
        base = base ? base + 1 : (config_path ? config_path : "default.yaml");
        const char *dot = strrchr(base, '.');
        int len = dot ? (int)(dot - base) : (int)strlen(base);
        snprintf(default_output, sizeof default_output, "results/%.*s.h5", len, base);
        output = default_output;
    }
    if (mx_cli_make_parent_dir(output) != 0) {
        fprintf(stderr, "memxbar: %s: cannot create its folder: %s\n", output, strerror(errno));
        mx_config_free(&cfg);
        return 1;
    }
    opt.output_path = output;
    const int rank = cli_mpi_rank();
    char rank_prefix[32] = "";
    if (rank > 0) { /* rank 0 shows the sweep; the others only their warnings */
        out.quiet = 1;
        snprintf(rank_prefix, sizeof rank_prefix, "rank %d: ", rank);
        out.prefix = rank_prefix;
    }
    cli_output_install(&out);
    signal(SIGINT, on_sigint);
    if (!out.quiet)
        fprintf(stderr, "memxbar %s (%s): %s, %zu sweep points x %zu repeats -> %s\n",
                MX_VERSION, MX_GIT_DESCRIBE, cfg.source_path, mx_config_n_points(&cfg),
                cfg.repeats, output);
    if (cfg.experiment == MX_EXPERIMENT_ONLINE && opt.resume) {
        fprintf(stderr, "memxbar: --resume: online-training runs cannot be resumed yet; run "
                        "without it\n");
        mx_config_free(&cfg);
        return 2;
    }
    if (cfg.experiment == MX_EXPERIMENT_ONLINE && mx_experiment_ranks() > 1) {
        if (rank == 0)
            fprintf(stderr, "memxbar: online-training runs in one process; run it without "
                            "mpirun\n");
        mx_config_free(&cfg);
        return 2;
    }
    if (cfg.experiment == MX_EXPERIMENT_ONLINE) {
        int online_code = run_online(&cfg, &opt, output);
        mx_config_free(&cfg);
        return online_code;
    }
    mx_run_report rep;
    st = mx_experiment_run(&cfg, &opt, &rep);
    int code = 0;
    if (rank > 0) { /* rank 0 reports the sweep, failures included */
        code = st ? 1 : 0;
    } else if (st == MX_EINTERRUPT) {
        fprintf(stderr, "memxbar: %s; finished points are in %s.partial\n", mx_last_error(),
                output);
        print_resume_command(stderr);
        code = 130;
    } else if (st) {
        fprintf(stderr, "memxbar: %s\n", mx_last_error());
        if (st == MX_ENOTFOUND && opt.resume)
            fprintf(stderr, "memxbar: nothing to resume; run without --resume to start the "
                            "sweep\n");
        else if (rep.results_open && (rep.n_rows || opt.resume)) {
            fprintf(stderr, "memxbar: the points finished before the error are in %s.partial\n",
                    output);
            print_resume_command(stderr);
        }
        code = 1;
    } else if (opt.resume) { /* the points of the earlier run are in the file only */
        code = print_file_table(output);
        printf("(%zu runs now, in %.1f s; the rest from the resumed file)\n", rep.n_rows,
               rep.seconds_total);
    } else {
        print_summary(&cfg, &rep, output);
    }
    mx_run_report_free(&rep);
    mx_config_free(&cfg);
    return code;
}

/* Run scripts/plot_results.py on the file; never fails the command. */
static void plot_results(const char *path)
{
    const char *python = getenv("MEMXBAR_PYTHON");
    if (!python || !*python)
        python = "/usr/bin/python3";
    char script[1024];
    snprintf(script, sizeof script, "%s/scripts/plot_results.py", MX_SOURCE_ROOT);
    if (access(python, X_OK) != 0 || access(script, R_OK) != 0) {
        fprintf(stderr, "memxbar report: note: %s not found, so no plots\n",
                access(python, X_OK) != 0 ? python : script);
        return;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "memxbar report: note: cannot start %s (%s), so no plots\n", python,
                strerror(errno));
        return;
    }
    if (pid == 0) {
        execl(python, python, script, path, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "memxbar report: note: no plots (%s exited with %d)\n", script,
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static int cmd_report(int argc, char **argv)
{
    const char *path = NULL;
    int plot = 1;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--no-plot"))
            plot = 0;
        else if (argv[i][0] == '-' || path) {
            fprintf(stderr, "memxbar report: unexpected argument '%s'\n\n%s", argv[i], usage);
            return 2;
        } else
            path = argv[i];
    }
    if (!path) {
        fprintf(stderr, "memxbar report: expected a results file\n\n%s", usage);
        return 2;
    }
    int code = print_file_table(path);
    if (code == 0 && plot)
        plot_results(path);
    return code;
}

int main(int argc, char **argv)
{
    prog_argc = argc;
    prog_argv = argv;
    /* GSL's default error handler aborts the process; the library checks
     * every GSL return code and reports through mx_fail instead. */
    gsl_set_error_handler_off();
    /* libhdf5 (1.10.8) closes every file still open from an atexit hook;
     * after a write failed (disk full) that close writes again and crashes
     * inside the library, turning a clean "disk full" exit into SIGSEGV.
     * memxbar closes its files itself on every path, so the hook is off. */
    H5dont_atexit();
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("memxbar %s (%s)\n", MX_VERSION, MX_GIT_DESCRIBE);
        return 0;
    }
    if (!strcmp(argv[1], "sweep")) {
        if (cli_mpi_start(&argc, &argv) != 0)
            return 1;
        int code = cmd_sweep(argc - 2, argv + 2);
        cli_mpi_end();
        return code;
    }
    if (!strcmp(argv[1], "device"))
        return cli_device(argc - 2, argv + 2);
    if (!strcmp(argv[1], "crossbar"))
        return cli_crossbar(argc - 2, argv + 2);
    if (!strcmp(argv[1], "adc"))
        return cli_adc(argc - 2, argv + 2);
    if (!strcmp(argv[1], "report"))
        return cmd_report(argc - 2, argv + 2);
    fprintf(stderr, "memxbar: unknown command '%s'\n\n%s", argv[1], usage);
    return 2;
}
