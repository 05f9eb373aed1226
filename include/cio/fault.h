/* cio fault seam: make every error path of the library run on demand.
 *
 * Every allocation cio makes (in libcio and in libcio-http, -pg, -sqlite and
 * -ws) and every operation that reaches the I/O backend or one of the few
 * direct system calls passes one check. Normally the check is one predicted
 * branch on a flag that is never set. When the environment variable CIO_FAULT
 * is set (read once, at the first check), the chosen points fail as the real
 * call could fail: an allocation returns NULL, an operation returns a negative
 * errno (-ENOMEM, -EMFILE, -EIO, ...).
 *
 * CIO_FAULT is a comma-separated list of rules; each names a kind of point and
 * when it fails:
 *
 *   alloc:N              the Nth allocation (1-based) fails, once
 *   alloc:every:N        every Nth allocation fails
 *   alloc:random:SEED:N  each allocation fails with probability 1/N (seeded)
 *   op:N, op:every:N, op:random:SEED:N
 *                        the same for backend operations and direct syscalls
 *   syscall:NAME:N       the Nth call of one named point ("accept", "connect",
 *                        "socket", "pipe", "spawn", "open", "read", "write",
 *                        "recv", "send", ...) fails
 *   count                fail nothing; count the points (see CIO_FAULT_REPORT)
 *
 * CIO_FAULT_REPORT=PATH makes the process write, at exit, one line per kind:
 * "alloc <points seen> <faults injected>" and "op <points seen> <faults
 * injected>". The torture runner (tests/torture/torture.sh) uses it to learn
 * how many points a test passes and then fails each in turn.
 *
 * The seam is a testing tool: it costs one branch per point when off and is
 * never needed by programs that use cio.
 */
#ifndef CIO_FAULT_H
#define CIO_FAULT_H

#include "cio/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The kinds of fault point. */
enum cio_fault_kind {
    CIO_FAULT_ALLOC = 0, /* an allocation: fails by returning NULL */
    CIO_FAULT_OP = 1     /* an operation or syscall: fails with a negative errno */
};

/* Nonzero once CIO_FAULT (or cio_fault_set) armed the seam. Read by the
 * inline checks in cio's own sources; not for programs to write. */
CIO_API extern int cio_fault_armed;

/* Counts one fault point of `kind` named `name` (a short literal such as
 * "malloc" or "accept") and says whether it must fail.
 * Returns: 1 when the point must fail, 0 when it runs normally. Thread-safe:
 * executor and database worker threads pass points too.
 * Suspends: no. Cancellation: not a cancellation point.
 * Cost: one atomic increment when armed; callers check cio_fault_armed first. */
CIO_API int cio_fault_hit(enum cio_fault_kind kind, const char *name);

/* Replaces the rules with `spec` (the CIO_FAULT syntax above; NULL or "" turns
 * the seam off) and zeroes the counters. For tests that arm the seam around one
 * step instead of a whole process.
 * Returns: 0, or -EINVAL (with a message naming the bad rule) when `spec` does
 * not parse; the previous rules then stay.
 * Suspends: no. Cancellation: not a cancellation point. */
CIO_API int cio_fault_set(const char *spec);

/* The number of points of `kind` passed so far, and how many of them failed.
 * Suspends: no. */
CIO_API uint64_t cio_fault_points(enum cio_fault_kind kind);
CIO_API uint64_t cio_fault_injected(enum cio_fault_kind kind);

#ifdef __cplusplus
}
#endif

#endif
