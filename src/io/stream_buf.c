/* The byte buffers of streams (cio__buf in net_internal.h): data at
 * p[off, off + len), room made by moving the data to the front first and
 * doubling the capacity only when that is not enough.
 *
 * Buffers of the first read size go through the running loop's small cache
 * (cio_loop.rbuf_cache, up to 128): a connection that waits with nothing buffered gives
 * its buffer back (cio_stream_release_read_buffer, so 10k idle WebSockets
 * hold none) and takes one on its next read. Through malloc that pair cost
 * ~300 instructions per echo round trip; through the cache, a few. */
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "net_internal.h"

#ifdef CIO_ASAN
#include <sanitizer/asan_interface.h>
#define CACHE_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define CACHE_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define CACHE_POISON(p, n) ((void)(p), (void)(n))
#define CACHE_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

static char *cache_take(void)
{
    cio_loop *l = cio__loop;
    if (!l || !l->nrbuf_cache)
        return NULL;
    char *p = l->rbuf_cache[--l->nrbuf_cache];
    CACHE_UNPOISON(p, CIO__RBUF_MIN);
    return p;
}

static int cache_give(char *p)
{
    cio_loop *l = cio__loop;
    if (!l || l->nrbuf_cache == CIO__RBUF_CACHE)
        return 0;
    CACHE_POISON(p, CIO__RBUF_MIN); /* a stale pointer into it is still caught */
    l->rbuf_cache[l->nrbuf_cache++] = p;
    return 1;
}

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
    char *p = !b->p && cap == CIO__RBUF_MIN ? cache_take() : NULL;
    if (p) {
        b->p = p;
        b->cap = cap;
        return 0;
    }
    p = cio__realloc(b->p, cap);
    if (!p)
        return -ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

void cio__buf_free(cio__buf *b)
{
    if (b->cap != CIO__RBUF_MIN || !cache_give(b->p))
        free(b->p);
    memset(b, 0, sizeof(*b));
}
