//! Kernel-thread context: the initial stack of a new thread and the switch between threads
//! (`context.s`).

/// Bytes `switch_context` keeps on a switched-out thread's stack (see `context.s`).
const SWITCH_FRAME_SIZE: usize = 160;

unsafe extern "C" {
    fn switch_context(
        save_sp: *mut usize,
        next_sp: usize,
        previous_on_core: *mut u8,
        handover: usize,
    ) -> usize;
    fn thread_start();
}

/// Prepares a new thread's stack so that switching to it calls `entry(argument, handover)` on
/// that stack, `handover` being the word the first switch to it hands over (see [`switch`]). `stack_top` must be 16-byte aligned. Returns the thread's initial saved stack pointer.
///
/// # Safety
/// `[stack_top - SWITCH_FRAME_SIZE, stack_top)` must be memory the caller owns and that nothing
/// else uses until the thread runs.
pub unsafe fn prepare_stack(
    stack_top: usize,
    entry: extern "C" fn(usize, usize) -> !,
    argument: usize,
) -> usize {
    let sp = stack_top - SWITCH_FRAME_SIZE;
    let frame = sp as *mut usize;
    // Only three slots matter: 0 = x19, 1 = x20, 11 = x30. The first switch loads the others
    // into callee-saved registers that `thread_start` neither reads nor hands back to anyone
    // (it zeroes x29 itself, ending the frame chain), so they are left as they are.
    // SAFETY: the caller owns the frame's memory, and the slots written lie within it.
    unsafe {
        frame.write(argument);
        frame.add(1).write(entry as usize);
        frame.add(11).write(thread_start as *const () as usize);
    }
    sp
}

/// Switches from the running thread to the one whose saved stack pointer is `next_sp`: saves
/// the current thread's stack pointer in `*save_sp` and, once its state is saved, clears
/// `*previous_on_core` (release) so that another core may resume it. The resumed thread gets
/// `handover` (as this function's return value, or its entry's second argument on a first
/// run); this thread, when it is resumed, returns the word its resumer handed over.
///
/// # Safety
/// IRQs must be masked; `next_sp` must come from [`prepare_stack`] or an earlier switch, and
/// that thread must not be running anywhere; both pointers must be valid.
pub unsafe fn switch(
    save_sp: *mut usize,
    next_sp: usize,
    previous_on_core: *mut u8,
    handover: usize,
) -> usize {
    // SAFETY: forwarded from the caller's contract.
    unsafe { switch_context(save_sp, next_sp, previous_on_core, handover) }
}
