/* cio debugging aids. Debug mode is turned on by CIO_DEBUG=1 in the
 * environment or cio_opts.debug; see docs/guide.md for what it adds. */
#ifndef CIO_DEBUG_H
#define CIO_DEBUG_H

#include <stdio.h>
#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Prints every live task of the current loop to `out` (stderr if NULL): name,
 * state (ready, running, waiting, done) and what it waits on. Returns the
 * number of tasks listed, or -EPERM outside a loop. Suspends: no. */
CIO_API int cio_dump_tasks(FILE *out);

/* Whether the current loop runs in debug mode. Suspends: no. */
CIO_API int cio_debug_enabled(void);

#ifdef __cplusplus
}
#endif
#endif
