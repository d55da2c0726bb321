/* SPDX-License-Identifier: MIT
 *
 * progress.c: what the user sees while a sweep runs — one redrawn progress
 * bar with rate and ETA per task on a terminal; on a pipe or CI log, a line
 * at every tenth of a task so logs stay short.
 */
#include "cli/progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 28
#define REDRAW_INTERVAL_S 0.1
#define LOG_STEPS 10

static struct {
    cli_output *out;
    char task[256];
    double started_s;
    double last_draw_s;
    int last_decile;
    int bar_open;
} state;

static void end_bar(void)
{
    if (state.bar_open) {
        fputc('\n', stderr);
        state.bar_open = 0;
    }
}

static void on_log(void *user, mx_log_level level, const char *msg)
{
    cli_output *out = user;
    if (level == MX_LOG_DEBUG && !out->verbose)
        return;
    if (level == MX_LOG_INFO && out->quiet)
        return;
    end_bar();
    fprintf(stderr, "%s%s%s\n", out->prefix ? out->prefix : "",
            level == MX_LOG_WARN ? "warning: " : "", msg);
}

static void format_duration(double s, char *buf, size_t size)
{
    if (s < 0 || s > 1e7)
        snprintf(buf, size, "--:--");
    else if (s >= 3600)
        snprintf(buf, size, "%d:%02d:%02d", (int)s / 3600, ((int)s / 60) % 60, (int)s % 60);
    else
        snprintf(buf, size, "%02d:%02d", (int)s / 60, (int)s % 60);
}

static void on_progress(void *user, const char *what, size_t done, size_t total)
{
    cli_output *out = user;
    if (out->quiet || total == 0)
        return;
    double t = mx_seconds_now();
    if (strcmp(what, state.task) != 0 || done < 1) {
        end_bar();
        snprintf(state.task, sizeof state.task, "%s", what);
        state.started_s = t;
        state.last_draw_s = 0;
        state.last_decile = -1;
    }
    double frac = (double)done / (double)total;
    double elapsed = t - state.started_s;
    double eta = done > 0 ? elapsed * (1.0 - frac) / frac : -1;
    char el[32], et[32];
    format_duration(elapsed, el, sizeof el);
    format_duration(eta, et, sizeof et);
    if (out->tty) {
        if (done < total && t - state.last_draw_s < REDRAW_INTERVAL_S)
            return;
        state.last_draw_s = t;
        int fill = (int)(frac * BAR_WIDTH + 0.5);
        char bar[BAR_WIDTH + 1];
        for (int i = 0; i < BAR_WIDTH; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[BAR_WIDTH] = '\0';
        fprintf(stderr, "\r\033[K%-48.48s [%s] %3.0f%% %zu/%zu %s ETA %s", what, bar, 100 * frac,
                done, total, el, et);
        state.bar_open = 1;
        if (done >= total)
            end_bar();
    } else {
        int decile = (int)(frac * LOG_STEPS);
        if (decile == state.last_decile)
            return;
        state.last_decile = decile;
        if (decile == LOG_STEPS || decile % 5 == 0)
            fprintf(stderr, "%s: %3.0f%% (%zu/%zu) elapsed %s ETA %s\n", what, 100 * frac, done,
                    total, el, et);
    }
}

void cli_output_install(cli_output *out)
{
    state.out = out;
    out->tty = isatty(fileno(stderr));
    mx_log_set(on_log, out);
    mx_progress_set(on_progress, out);
}
