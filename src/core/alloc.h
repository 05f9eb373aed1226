/* The one allocation wrapper every cio library uses, so that the fault seam
 * (include/cio/fault.h, CIO_FAULT=alloc:N) can fail any allocation in turn.
 * Release with plain free(). Never installed. */
#ifndef CIO_CORE_ALLOC_H
#define CIO_CORE_ALLOC_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cio/fault.h"

#ifndef CIO__MUST_CHECK /* also in checked.h */
#define CIO__MUST_CHECK __attribute__((warn_unused_result))
#endif

/* One predicted branch when the seam is off. */
static inline int cio__alloc_fails(void)
{
    return __builtin_expect(cio_fault_armed, 0) && cio_fault_hit(CIO_FAULT_ALLOC, "malloc");
}

/* A fault point for an operation or syscall `name`: nonzero when it must fail
 * (the caller returns the errno the real call could return). */
static inline int cio__op_fails(const char *name)
{
    return __builtin_expect(cio_fault_armed, 0) && cio_fault_hit(CIO_FAULT_OP, name);
}

/* A direct system call as a fault point: when the seam fails point `name`, sets
 * errno to `err` and gives -1 (the call is not made); else the call's own
 * result. For calls that report failure as -1 and errno:
 *   int fd = CIO__SYSCALL("socket", EMFILE, socket(domain, type, 0)); */
#define CIO__SYSCALL(name, err, call) (cio__op_fails(name) ? (errno = (err), -1) : (call))

/* The same for a socket's recv or send failing with -ECONNRESET: the socket
 * is shut down both ways first, so that later calls and the peer see the
 * reset too, as with a real one (a reset on one side only would leave the
 * other waiting). */
#define CIO__SYSCALL_RESET(name, fd, call)                                                         \
    (cio__op_fails(name) ? (shutdown((fd), SHUT_RDWR), errno = ECONNRESET, -1) : (call))

CIO__MUST_CHECK static inline void *cio__malloc(size_t n)
{
    return cio__alloc_fails() ? NULL : malloc(n);
}

CIO__MUST_CHECK static inline void *cio__calloc(size_t n, size_t size)
{
    return cio__alloc_fails() ? NULL : calloc(n, size);
}

/* On failure the old block stays valid, as with realloc. */
CIO__MUST_CHECK static inline void *cio__realloc(void *p, size_t n)
{
    return cio__alloc_fails() ? NULL : realloc(p, n);
}

CIO__MUST_CHECK static inline char *cio__strdup(const char *s)
{
    return cio__alloc_fails() ? NULL : strdup(s);
}

CIO__MUST_CHECK static inline char *cio__strndup(const char *s, size_t n)
{
    return cio__alloc_fails() ? NULL : strndup(s, n);
}

/* asprintf with the seam; *out is NULL on failure. Returns the length or -1. */
__attribute__((format(printf, 2, 3))) static inline int cio__asprintf(char **out, const char *fmt,
                                                                      ...)
{
    *out = NULL;
    if (cio__alloc_fails())
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(out, fmt, ap);
    va_end(ap);
    if (n < 0)
        *out = NULL;
    return n;
}

#endif
