/* SPDX-License-Identifier: MIT
 *
 * log.c: the process-wide logger and progress hooks (set once by the program,
 * before any worker thread starts). Calls into the hooks are serialised by a
 * mutex, so a second driving thread (the local worker of a distributed
 * sweep, experiments/distribute.c) cannot interleave a line with the main
 * thread's; a thread may mute its own progress reports.
 */
#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#define MX_LOG_LINE_BYTES 1024

static mx_log_fn log_fn;
static void *log_user;
static mx_progress_fn progress_fn;
static void *progress_user;
static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local int progress_muted;

void mx_progress_mute_thread(int muted) { progress_muted = muted != 0; }

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
    pthread_mutex_lock(&hook_lock);
    log_fn(log_user, level, line);
    pthread_mutex_unlock(&hook_lock);
}

void mx_progress(const char *what, size_t done, size_t total)
{
    if (!progress_fn || progress_muted)
        return;
    pthread_mutex_lock(&hook_lock);
    progress_fn(progress_user, what, done, total);
    pthread_mutex_unlock(&hook_lock);
}

double mx_seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
