/* Growable arrays: the one doubling-and-realloc loop the library needs.
 *
 *     int *fds = NULL;
 *     size_t n = 0, cap = 0;
 *     if (cio__vec_room(fds, n, cap, 16))
 *         return -ENOMEM;          // fds, n and cap unchanged
 *     fds[n++] = fd;
 *
 * The array goes through cio__realloc (so the fault seam can fail it) and is
 * released with free(). Never installed. */
#ifndef CIO_CORE_VEC_H
#define CIO_CORE_VEC_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"

/* Returns arr grown so that it holds at least `need` elements of `elem`
 * bytes (capacity doubled from `first`, stored in *cap), or NULL with arr
 * and *cap unchanged when memory runs out. */
static inline void *cio__vec_grow(void *arr, size_t *cap, size_t need, size_t elem, size_t first)
{
    if (need <= *cap)
        return arr;
    size_t c = *cap ? *cap : first;
    while (c < need) {
        if (c > SIZE_MAX / 2)
            return NULL;
        c *= 2;
    }
    if (c > SIZE_MAX / elem)
        return NULL;
    void *p = cio__realloc(arr, c * elem);
    if (p)
        *cap = c;
    return p;
}

/* Makes room for one more element in `arr` (holding n of cap): 0, or -ENOMEM
 * with everything unchanged. arr and cap are lvalues; cap is a size_t. */
#define cio__vec_room(arr, n, cap, first)                                                          \
    __extension__({                                                                                \
        void *cio__vec_p_ =                                                                        \
            cio__vec_grow((arr), &(cap), (size_t)(n) + 1, sizeof(*(arr)), (first));                \
        if (cio__vec_p_)                                                                           \
            (arr) = cio__vec_p_;                                                                   \
        cio__vec_p_ ? 0 : -ENOMEM;                                                                 \
    })

#endif
