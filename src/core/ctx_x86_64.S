/* The first code a new context runs, and the parking switch, for x86-64
 * System V.
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

/* int cio__ctx_park(cio__ctx *from, cio__ctx *to): the parking switch
 * (internal.h). Entered by a call or, as meant, by the waiting function's
 * tail jump, so 0(%rsp) is the return address into whoever called the wait.
 * The five callee-saved registers the inline switch's resumers do not restore
 * go on this stack above it; rbp goes in the context as for every switch. */
    .globl  cio__ctx_park
    .hidden cio__ctx_park
    .type   cio__ctx_park,@function
    .p2align 4
cio__ctx_park:
    .cfi_startproc
    ENDBR
    pushq   %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rbx, 0
    pushq   %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r12, 0
    pushq   %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r13, 0
    pushq   %r14
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r14, 0
    pushq   %r15
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r15, 0
    leaq    cio__ctx_unpark(%rip), %rax
    movq    %rsp, 0(%rdi)
    movq    %rax, 8(%rdi)
    movq    %rbp, 16(%rdi)
    movq    0(%rsi), %rsp
    movq    16(%rsi), %rbp
    jmpq    *8(%rsi)
    .cfi_endproc
    .size   cio__ctx_park, .-cio__ctx_park

/* Where a context parked by cio__ctx_park resumes: every switch arrives with
 * the resumed context in rsi, rsp and rbp restored. rsp is 16-byte aligned
 * here (the return address and five registers above it), as the call wants.
 * The last jump is not a `ret` on purpose (internal.h says why). */
    .type   cio__ctx_unpark,@function
    .p2align 4
cio__ctx_unpark:
    .cfi_startproc
    .cfi_def_cfa_offset 48
    .cfi_offset rbx, -16
    .cfi_offset r12, -24
    .cfi_offset r13, -32
    .cfi_offset r14, -40
    .cfi_offset r15, -48
    ENDBR
    movq    %rsi, %rdi
    callq   cio__ctx_parked_result
    popq    %r15
    .cfi_adjust_cfa_offset -8
    .cfi_restore r15
    popq    %r14
    .cfi_adjust_cfa_offset -8
    .cfi_restore r14
    popq    %r13
    .cfi_adjust_cfa_offset -8
    .cfi_restore r13
    popq    %r12
    .cfi_adjust_cfa_offset -8
    .cfi_restore r12
    popq    %rbx
    .cfi_adjust_cfa_offset -8
    .cfi_restore rbx
    popq    %rcx
    .cfi_adjust_cfa_offset -8
    .cfi_register rip, rcx
    jmpq    *%rcx
    .cfi_endproc
    .size   cio__ctx_unpark, .-cio__ctx_unpark

#endif
    .section .note.GNU-stack,"",@progbits
