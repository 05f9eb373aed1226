/* Context switch for AArch64 (AAPCS64): x19-x30 and d8-d15 are callee-saved.
 * Same contract as ctx_x86_64.S. */
#if defined(__aarch64__) && !defined(CIO_CTX_UCONTEXT)

    .text
    .globl  cio__ctx_switch
    .hidden cio__ctx_switch
    .type   cio__ctx_switch,%function
    .p2align 4
cio__ctx_switch:
    sub     sp, sp, #160
    stp     x19, x20, [sp, #0]
    stp     x21, x22, [sp, #16]
    stp     x23, x24, [sp, #32]
    stp     x25, x26, [sp, #48]
    stp     x27, x28, [sp, #64]
    stp     x29, x30, [sp, #80]
    stp     d8, d9, [sp, #96]
    stp     d10, d11, [sp, #112]
    stp     d12, d13, [sp, #128]
    stp     d14, d15, [sp, #144]
    mov     x2, sp
    str     x2, [x0]
    ldr     x2, [x1]
    mov     sp, x2
    ldp     x19, x20, [sp, #0]
    ldp     x21, x22, [sp, #16]
    ldp     x23, x24, [sp, #32]
    ldp     x25, x26, [sp, #48]
    ldp     x27, x28, [sp, #64]
    ldp     x29, x30, [sp, #80]
    ldp     d8, d9, [sp, #96]
    ldp     d10, d11, [sp, #112]
    ldp     d12, d13, [sp, #128]
    ldp     d14, d15, [sp, #144]
    add     sp, sp, #160
    ret
    .size   cio__ctx_switch, .-cio__ctx_switch

    .globl  cio__ctx_start
    .hidden cio__ctx_start
    .type   cio__ctx_start,%function
    .p2align 4
cio__ctx_start:
    mov     x0, x20
    blr     x19
    brk     #0
    .size   cio__ctx_start, .-cio__ctx_start

#endif
    .section .note.GNU-stack,"",%progbits
