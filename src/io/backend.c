/* Picks the backend a loop runs on. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cio/core.h"

int cio__backend_open(cio__backend *b, int kind)
{
    memset(b, 0, sizeof(*b));
    if (kind == CIO_BACKEND_AUTO) {
        const char *env = getenv("CIO_BACKEND");
        if (env && strcmp(env, "uring") == 0)
            kind = CIO_BACKEND_URING;
        else
            kind = CIO_BACKEND_EPOLL;
    }
    if (kind == CIO_BACKEND_URING)
        return -ENOTSUP; /* the io_uring backend is not built yet */
    if (kind != CIO_BACKEND_EPOLL)
        return -EINVAL;
    b->vt = &cio__backend_epoll;
    return b->vt->init(b);
}
