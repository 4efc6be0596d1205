// The EL1 exception vector table.
//
// Kernel threads run in EL1t (on SP_EL0); SP_EL1 is a small per-core exception stack. So:
// - an IRQ taken from a thread switches back to SP_EL0 and saves the whole interrupted state
//   (general and FP/SIMD registers) on the thread's own stack, which lets the handler switch
//   threads (preemption) and come back later through the same exit;
// - everything else (a synchronous exception, FIQ, SError, anything from SP_EL1 or a lower EL)
//   is fatal and is reported from SP_EL1, which still works when a thread stack overflowed
//   into its guard page.
//
// Frame layout (see `TrapFrame` in exceptions.rs): x0..x30, ELR, SPSR, one spare word, then
// for IRQ frames q0..q31, FPCR, FPSR.

.equ TRAP_FRAME_SIZE, 272
.equ IRQ_FRAME_SIZE, 800
.equ FP_OFFSET, 272

.macro save_gprs_from_x2
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    stp     x30, x2, [sp, #240]
    str     x3, [sp, #256]
.endm

// An exception this kernel does not handle: x1 = kind (origin * 4 + type). Never returns.
.macro fatal_vector kind
.balign 0x80
    sub     sp, sp, #TRAP_FRAME_SIZE
    stp     x0, x1, [sp]
    mov     x1, #\kind
    b       fatal_common
.endm

.section .text.exception_vectors, "ax"
.balign 0x800
.global exception_vectors
exception_vectors:
    // Current EL with SP_EL0: kernel threads.
    fatal_vector 0
.balign 0x80
    msr     spsel, #0                   // IRQ: back onto the interrupted thread's stack
    sub     sp, sp, #IRQ_FRAME_SIZE
    stp     x0, x1, [sp]
    b       irq_common
    fatal_vector 2
    fatal_vector 3
    // Current EL with SP_EL1: an exception inside an exception handler.
    fatal_vector 4
    fatal_vector 5
    fatal_vector 6
    fatal_vector 7
    // Lower EL, AArch64 and AArch32: coresched runs nothing below EL1.
    fatal_vector 8
    fatal_vector 9
    fatal_vector 10
    fatal_vector 11
    fatal_vector 12
    fatal_vector 13
    fatal_vector 14
    fatal_vector 15

fatal_common:
    save_gprs_from_x2
    mov     x0, sp
    bl      handle_fatal_exception
    b       park

irq_common:
    save_gprs_from_x2
    add     x0, sp, #FP_OFFSET
    stp     q0, q1, [x0, #0]
    stp     q2, q3, [x0, #32]
    stp     q4, q5, [x0, #64]
    stp     q6, q7, [x0, #96]
    stp     q8, q9, [x0, #128]
    stp     q10, q11, [x0, #160]
    stp     q12, q13, [x0, #192]
    stp     q14, q15, [x0, #224]
    stp     q16, q17, [x0, #256]
    stp     q18, q19, [x0, #288]
    stp     q20, q21, [x0, #320]
    stp     q22, q23, [x0, #352]
    stp     q24, q25, [x0, #384]
    stp     q26, q27, [x0, #416]
    stp     q28, q29, [x0, #448]
    stp     q30, q31, [x0, #480]
    mrs     x1, fpcr
    mrs     x2, fpsr
    str     x1, [x0, #512]
    str     x2, [x0, #520]
    mov     x0, sp
    bl      handle_irq
    add     x0, sp, #FP_OFFSET
    ldr     x1, [x0, #512]
    ldr     x2, [x0, #520]
    msr     fpcr, x1
    msr     fpsr, x2
    ldp     q0, q1, [x0, #0]
    ldp     q2, q3, [x0, #32]
    ldp     q4, q5, [x0, #64]
    ldp     q6, q7, [x0, #96]
    ldp     q8, q9, [x0, #128]
    ldp     q10, q11, [x0, #160]
    ldp     q12, q13, [x0, #192]
    ldp     q14, q15, [x0, #224]
    ldp     q16, q17, [x0, #256]
    ldp     q18, q19, [x0, #288]
    ldp     q20, q21, [x0, #320]
    ldp     q22, q23, [x0, #352]
    ldp     q24, q25, [x0, #384]
    ldp     q26, q27, [x0, #416]
    ldp     q28, q29, [x0, #448]
    ldp     q30, q31, [x0, #480]
    ldp     x30, x2, [sp, #240]
    ldr     x3, [sp, #256]
    msr     elr_el1, x2
    msr     spsr_el1, x3
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x19, [sp, #144]
    ldp     x20, x21, [sp, #160]
    ldp     x22, x23, [sp, #176]
    ldp     x24, x25, [sp, #192]
    ldp     x26, x27, [sp, #208]
    ldp     x28, x29, [sp, #224]
    ldp     x0, x1, [sp]
    add     sp, sp, #IRQ_FRAME_SIZE
    eret
