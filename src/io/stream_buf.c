/* The byte buffers of streams (cio__buf in net_internal.h): data at
 * p[off, off + len), room made by moving the data to the front first and
 * doubling the capacity only when that is not enough. */
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "net_internal.h"

/* Makes room for `extra` bytes after b's data, keeping the data. */
int cio__buf_reserve(cio__buf *b, size_t extra, size_t min_cap)
{
    if (b->cap - b->off - b->len >= extra)
        return 0;
    if (b->off) {
        memmove(b->p, b->p + b->off, b->len);
        b->off = 0;
        if (b->cap - b->len >= extra)
            return 0;
    }
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : min_cap;
    while (cap < need)
        cap *= 2;
    char *p = cio__realloc(b->p, cap);
    if (!p)
        return -ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

void cio__buf_free(cio__buf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}
