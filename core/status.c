/* SPDX-License-Identifier: MIT
 *
 * status.c: the status list's messages and the one place every failure goes
 * through (mx_fail). Messages live in thread-local storage so OpenMP workers
 * do not trample each other's errors.
 */
#include "core/core.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MX_ERROR_BUF_BYTES 2048

static _Thread_local char error_buf[MX_ERROR_BUF_BYTES];

static const char *const status_messages[MX_STATUS_COUNT] = {
    [MX_OK] = "success",
    [MX_EINVAL] = "invalid argument or configuration value",
    [MX_ENOMEM] = "out of memory",
    [MX_EIO] = "input/output error",
    [MX_EFORMAT] = "malformed file contents",
    [MX_ENOTFOUND] = "not found",
    [MX_ERANGE] = "value out of range",
    [MX_ENUMERIC] = "numerical failure (NaN/Inf or no convergence)",
    [MX_EINTERRUPT] = "interrupted",
    [MX_EMISMATCH] = "mismatch between things that must agree",
};

const char *mx_strerror(mx_status code)
{
    if ((unsigned)code >= MX_STATUS_COUNT)
        return "unknown status";
    return status_messages[code];
}

mx_status mx_fail(mx_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_buf, sizeof error_buf, fmt, ap);
    va_end(ap);
    return code;
}

mx_status mx_fail_context(mx_status code, const char *fmt, ...)
{
    char prefix[512];
    char old[MX_ERROR_BUF_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, error_buf, sizeof old);
    /* Truncating an over-long message is intended: keep what fits. */
    size_t n = strlen(prefix);
    if (n > sizeof error_buf - 3)
        n = sizeof error_buf - 3;
    memcpy(error_buf, prefix, n);
    memcpy(error_buf + n, ": ", 2);
    size_t room = sizeof error_buf - n - 3;
    size_t m = strnlen(old, room);
    memcpy(error_buf + n + 2, old, m);
    error_buf[n + 2 + m] = '\0';
    return code;
}

const char *mx_last_error(void) { return error_buf; }

void mx_clear_error(void) { error_buf[0] = '\0'; }

void mx_error_copy(char *dst, size_t dst_size)
{
    if (dst_size == 0)
        return;
    snprintf(dst, dst_size, "%s", error_buf);
}

void mx_error_set(const char *msg) { snprintf(error_buf, sizeof error_buf, "%s", msg); }

size_t mx_size_mul(size_t a, size_t b)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    return a * b;
}
