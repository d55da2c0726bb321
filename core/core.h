/* SPDX-License-Identifier: MIT
 *
 * core.h: the foundation every memxbar module stands on — the status list and
 * its messages, the precision policy, and small helpers for sizes and names.
 * Nothing here knows about devices, crossbars or networks.
 *
 * Errors: every failure in the library passes through mx_fail(), which
 * formats a message into thread-local storage and returns the code. A caller
 * reads it with mx_last_error(). One breakpoint on mx_fail catches them all.
 * The library never prints and never exits.
 */
#ifndef MX_CORE_H
#define MX_CORE_H

#include <stddef.h>
#include <stdint.h>

#define MX_VERSION "0.1.0"

/* Precision policy (see docs/numerics.md): bulk arrays — conductances,
 * activations, currents — are float; parameters, accumulators of statistics
 * and training-time reductions are double. Builds never use -ffast-math. */
typedef float mx_bulk;

typedef enum mx_status {
    MX_OK = 0,
    MX_EINVAL,    /* invalid argument or configuration value */
    MX_ENOMEM,    /* allocation failed */
    MX_EIO,       /* file could not be opened, read or written */
    MX_EFORMAT,   /* file contents malformed or of the wrong kind */
    MX_ENOTFOUND, /* a named thing (file, key, model) does not exist */
    MX_ERANGE,    /* a value is out of its physical or numerical range */
    MX_ENUMERIC,  /* a computation produced NaN/Inf or failed to converge */
    MX_EINTERRUPT,/* stopped on request (e.g. SIGINT) */
    MX_EMISMATCH, /* two things that must agree do not (shapes, configs) */
    MX_STATUS_COUNT
} mx_status;

/* Generic one-line description of a status code; never NULL. */
const char *mx_strerror(mx_status code);

/* Record a failure: format the message (printf-style) into this thread's
 * error buffer and return `code`. Use as `return mx_fail(MX_EINVAL, ...)`. */
mx_status mx_fail(mx_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prefix this thread's current message with more context ("while X: ")
 * and return `code` unchanged. */
mx_status mx_fail_context(mx_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The message of the last failure on this thread ("" if none). */
const char *mx_last_error(void);

/* Clear this thread's error message. */
void mx_clear_error(void);

/* Copy this thread's error message into another buffer (for handing an error
 * from an OpenMP worker thread back to the calling thread). */
void mx_error_copy(char *dst, size_t dst_size);
/* Set this thread's error message verbatim (the receiving side of the above). */
void mx_error_set(const char *msg);

/* Overflow-checked size product; returns 0 on overflow (callers treat 0 as
 * failure where the operands are non-zero). */
size_t mx_size_mul(size_t a, size_t b);

/* Allocation hooks. All library allocations go through these so tests can
 * inject failures (see tests/support). Allocations are 64-byte aligned. */
void *mx_alloc(size_t bytes);
void *mx_calloc(size_t count, size_t size);
void mx_free(void *p);
/* Fail the Nth allocation from now (1 = next); 0 disables. For tests. */
void mx_alloc_fail_after(long n);

#endif /* MX_CORE_H */
