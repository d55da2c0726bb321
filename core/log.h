/* SPDX-License-Identifier: MIT
 *
 * log.h: the library never prints. It reports what it is doing through a
 * logger callback and a progress callback that the program installs (the CLI
 * installs a stderr logger and a progress bar). With none installed, nothing
 * is printed.
 */
#ifndef MX_LOG_H
#define MX_LOG_H

#include <stddef.h>

typedef enum mx_log_level { MX_LOG_DEBUG, MX_LOG_INFO, MX_LOG_WARN } mx_log_level;

typedef void (*mx_log_fn)(void *user, mx_log_level level, const char *msg);

/* Progress of a long task: `done` of `total` units of the task named `what`. */
typedef void (*mx_progress_fn)(void *user, const char *what, size_t done, size_t total);

void mx_log_set(mx_log_fn fn, void *user);
void mx_progress_set(mx_progress_fn fn, void *user);

void mx_log(mx_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void mx_progress(const char *what, size_t done, size_t total);
/* Mute (1) or unmute (0) the progress reports of the calling thread only:
 * a thread that drives work beside another one (a distributed sweep's local
 * worker) keeps the terminal's one progress bar to the main thread. */
void mx_progress_mute_thread(int muted);

/* Seconds on the monotonic clock (an arbitrary origin): for the elapsed
 * times and ETAs that logs and results report. */
double mx_seconds_now(void);

#endif /* MX_LOG_H */
