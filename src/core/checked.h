/* Results that must be looked at. CIO__MUST_CHECK marks an internal function
 * whose ignored result is a bug (an error dropped, a scope never entered, a
 * block lost): ignoring it is a compile error under -Werror. Inside cio's own
 * sources the scope-enter macros of cio/scope.h are wrapped the same way, so
 * a timeout whose enter failed cannot vanish unnoticed (every library
 * includes this through its internal header). Never installed. */
#ifndef CIO_CORE_CHECKED_H
#define CIO_CORE_CHECKED_H

#include "cio/scope.h"

#ifndef CIO__MUST_CHECK /* also in alloc.h */
#define CIO__MUST_CHECK __attribute__((warn_unused_result))
#endif

/* Passes r through; only its attribute matters. */
CIO__MUST_CHECK static inline int cio__must_check(int r)
{
    return r;
}

#undef cio_scope_enter
#undef cio_timeout_enter
#undef cio_timeout_at_enter
#undef cio_shield_enter
#define cio_scope_enter(s) cio__must_check(cio__scope_enter((s), __FILE__, __LINE__))
#define cio_timeout_enter(s, seconds)                                                              \
    cio__must_check(cio__timeout_enter((s), (seconds), __FILE__, __LINE__))
#define cio_timeout_at_enter(s, when)                                                              \
    cio__must_check(cio__timeout_at_enter((s), (when), __FILE__, __LINE__))
#define cio_shield_enter(s) cio__must_check(cio__shield_enter((s), __FILE__, __LINE__))

#endif
