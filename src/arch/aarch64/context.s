// Switching between kernel threads.
//
// A voluntary switch saves only what the AAPCS64 says a callee must preserve: x19..x29, the
// return address x30, the stack pointer and the low halves of v8..v15 (d8..d15). Everything
// else a preempted thread had live is already in the IRQ frame on its own stack (see
// exceptions.s), so preemption goes through the very same switch.
//
// A new thread's stack is prepared so that its first switch "returns" into
// `thread_start` with x19 = its argument, x20 = its Rust entry: first run and every later
// run take the same path.
//
// The switching thread hands the resumed one a word (x3), which comes out as the resumed
// thread's return value, or as its entry's second argument on a first run: the scheduler
// passes the thread it switched away from, as Linux's switch_to returns `last`.

.equ SWITCH_FRAME_SIZE, 160

// switch_context(save_sp: *mut usize, next_sp: usize, previous_on_core: *mut u8,
//                handover: usize) -> usize
// Saves the current thread's callee-saved state on its stack and its stack pointer in
// *save_sp, marks it off this core (a release store of 0 to *previous_on_core: from then on
// another core may run it), and resumes the thread whose saved stack pointer is next_sp,
// returning `handover` to it. Returns, once this thread is resumed, the word its resumer handed.
.section .text.context, "ax"
.global switch_context
switch_context:
    sub     sp, sp, #SWITCH_FRAME_SIZE
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
    mov     x9, sp
    str     x9, [x0]
    stlrb   wzr, [x2]
    mov     sp, x1
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
    add     sp, sp, #SWITCH_FRAME_SIZE
    mov     x0, x3
    ret

// Where a new thread's first switch lands: calls entry(argument, handover), which never
// returns.
.global thread_start
thread_start:
    mov     x1, x3
    mov     x0, x19
    mov     x29, xzr
    blr     x20
    b       park
