/* The first code a new context runs, for x86-64 System V.
 *
 * The switch itself is inline assembly in internal.h (cio__ctx_switch): it
 * saves the stack pointer, the resume address and the frame pointer, and
 * declares every other register clobbered, so that the compiler saves only
 * the callee-saved registers the switching function uses. A new context's
 * first frame is built by cio__ctx_make (ctx.c) so that the switch's jump
 * lands here with arg at 0(%rsp) and entry at 8(%rsp).
 *
 * The MXCSR and x87 control words are not switched: saving and restoring them
 * costs more than the rest of the switch (ldmxcsr serialises), and the
 * floating-point environment is thread state that every task of the loop
 * shares, as docs/guide.md says. */
#if defined(__x86_64__) && !defined(CIO_CTX_UCONTEXT)

#if defined(__CET__)
#define ENDBR endbr64
#else
#define ENDBR
#endif

/* Runs entry(arg). The entry never returns; it leaves by switching away for
 * good. rsp is 16-byte aligned here, so the call sees the ABI's alignment. */
    .text
    .globl  cio__ctx_start
    .hidden cio__ctx_start
    .type   cio__ctx_start,@function
    .p2align 4
cio__ctx_start:
    .cfi_startproc
    .cfi_undefined rip
    ENDBR
    movq    0(%rsp), %rdi
    callq   *8(%rsp)
    ud2
    .cfi_endproc
    .size   cio__ctx_start, .-cio__ctx_start

#endif
    .section .note.GNU-stack,"",@progbits
