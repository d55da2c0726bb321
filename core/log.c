/* SPDX-License-Identifier: MIT
 *
 * log.c: the process-wide logger and progress hooks (set once by the program,
 * before any worker thread starts).
 */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#define MX_LOG_LINE_BYTES 1024

static mx_log_fn log_fn;
static void *log_user;
static mx_progress_fn progress_fn;
static void *progress_user;

void mx_log_set(mx_log_fn fn, void *user)
{
    log_fn = fn;
    log_user = user;
}

void mx_progress_set(mx_progress_fn fn, void *user)
{
    progress_fn = fn;
    progress_user = user;
}

void mx_log(mx_log_level level, const char *fmt, ...)
{
    if (!log_fn)
        return;
    char line[MX_LOG_LINE_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log_fn(log_user, level, line);
}

void mx_progress(const char *what, size_t done, size_t total)
{
    if (progress_fn)
        progress_fn(progress_user, what, done, total);
}

double mx_seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
