/* Building a new context's first frame, and the portable fallback.
 *
 * On x86-64 the switch is inline assembly (internal.h) and ctx_x86_64.S holds
 * only the first code a new context runs; on AArch64 the switch is
 * ctx_aarch64.S, a handful of stores and loads. Neither makes a system call.
 * Elsewhere (or with -DCIO_CTX_UCONTEXT=ON) cio falls
 * back to POSIX ucontext, which is correct but slower: swapcontext saves the
 * signal mask with a system call on every switch. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "internal.h"

#if !defined(CIO_CTX_UCONTEXT) && (defined(__x86_64__) || defined(__aarch64__))

void cio__ctx_start(void);

void cio__ctx_make(cio__ctx *c, void *lo, size_t size, void (*entry)(void *), void *arg)
{
    uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
#if defined(__x86_64__)
    /* The inline switch (internal.h) jumps to ip with sp and bp loaded.
     * cio__ctx_start finds arg and entry on the stack and calls entry with
     * rsp 16-byte aligned, as the ABI wants at a call; bp 0 ends the chain
     * of frames for debuggers. */
    uint64_t *sp = (uint64_t *)(top - 16);
    sp[0] = (uint64_t)(uintptr_t)arg;
    sp[1] = (uint64_t)(uintptr_t)entry;
    c->sp = sp;
    c->ip = (void *)(uintptr_t)cio__ctx_start;
    c->bp = NULL;
#else
    /* x19..x30 then d8..d15; x30 (lr) is where `ret` goes. */
    uint64_t *sp = (uint64_t *)(top - 160);
    memset(sp, 0, 160);
    sp[0] = (uint64_t)(uintptr_t)entry; /* x19 */
    sp[1] = (uint64_t)(uintptr_t)arg;   /* x20 */
    sp[11] = (uint64_t)(uintptr_t)cio__ctx_start;
    c->sp = sp;
#endif
}

#else /* ucontext fallback */

#include <ucontext.h>

/* makecontext passes int arguments only: split the pointers in halves. */
static void uc_entry(unsigned e_hi, unsigned e_lo, unsigned a_hi, unsigned a_lo)
{
    void (*entry)(void *) = (void (*)(void *))(uintptr_t)(((uint64_t)e_hi << 32) | (uint64_t)e_lo);
    void *arg = (void *)(uintptr_t)(((uint64_t)a_hi << 32) | (uint64_t)a_lo);
    entry(arg);
    abort(); /* entry leaves by switching away */
}

static ucontext_t *uc_of(cio__ctx *c)
{
    if (!c->uc)
        c->uc = cio__calloc(1, sizeof(ucontext_t));
    return c->uc;
}

void cio__ctx_make(cio__ctx *c, void *lo, size_t size, void (*entry)(void *), void *arg)
{
    ucontext_t *uc = uc_of(c);
    if (!uc)
        abort();
    getcontext(uc);
    uc->uc_stack.ss_sp = lo;
    uc->uc_stack.ss_size = size;
    uc->uc_link = NULL;
    uint64_t e = (uint64_t)(uintptr_t)entry, a = (uint64_t)(uintptr_t)arg;
    makecontext(uc, (void (*)(void))uc_entry, 4, (unsigned)(e >> 32), (unsigned)e,
                (unsigned)(a >> 32), (unsigned)a);
}

void cio__ctx_switch(cio__ctx *from, cio__ctx *to)
{
    ucontext_t *f = uc_of(from);
    if (!f)
        abort();
    swapcontext(f, (ucontext_t *)to->uc);
}

void cio__ctx_free(cio__ctx *c)
{
    free(c->uc);
    c->uc = NULL;
}

#endif
