/* Context switch for x86-64 System V.
 *
 * void cio__ctx_switch(cio__ctx *from, cio__ctx *to)
 * Pushes the callee-saved registers on the current stack, stores the stack
 * pointer in from->sp, loads to->sp and pops the same frame from there. A new
 * context's frame is built by cio__ctx_make (ctx.c) so that the `ret` lands in
 * cio__ctx_start.
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

    .text
    .globl  cio__ctx_switch
    .hidden cio__ctx_switch
    .type   cio__ctx_switch,@function
    .p2align 4
cio__ctx_switch:
    .cfi_startproc
    ENDBR
    pushq   %rbp
    pushq   %rbx
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
    movq    %rsp, (%rdi)
    movq    (%rsi), %rsp
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbx
    popq    %rbp
    ret
    .cfi_endproc
    .size   cio__ctx_switch, .-cio__ctx_switch

/* First code a new context runs: entry (r12) with arg (rbx). The entry never
 * returns; it leaves by switching away for good. */
    .globl  cio__ctx_start
    .hidden cio__ctx_start
    .type   cio__ctx_start,@function
    .p2align 4
cio__ctx_start:
    .cfi_startproc
    .cfi_undefined rip
    ENDBR
    movq    %rbx, %rdi
    callq   *%r12
    ud2
    .cfi_endproc
    .size   cio__ctx_start, .-cio__ctx_start

#endif
    .section .note.GNU-stack,"",@progbits
