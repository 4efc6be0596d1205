//! The harness's own tests: one passes, one fails, one panics, one never ends, one takes two
//! locks against the lock order (the rank checker must stop it), and one overflows a task's
//! stack (the guard page must turn it into a report naming the core, the task and the address). They run only
//! when named (`test=selftest::`), and the host checks that each is reported as it should be:
//! a harness that cannot report a failure would make every other test meaningless.

use crate::{check_eq, kernel_test};

kernel_test!(fn expected_pass(_context) {
    Ok(())
});

kernel_test!(fn expected_fail(_context) {
    check_eq!(1 + 1, 3);
    Ok(())
});

kernel_test!(fn expected_panic(_context) {
    panic!("deliberate panic from a kernel test");
});

kernel_test!(fn expected_timeout(_context) {
    loop {
        core::hint::spin_loop();
    }
});

kernel_test!(fn lock_order_inversion(_context) {
    use crate::sync::{IrqSpinLock, LockRank};
    static GLOBAL_SCHED: IrqSpinLock<()> = IrqSpinLock::new(LockRank::GlobalSched, ());
    static TIMER_QUEUE: IrqSpinLock<()> = IrqSpinLock::new(LockRank::TimerQueue, ());
    // The 2019 sysmon order: the global scheduler lock, then a timer-queue lock.
    let _global = GLOBAL_SCHED.lock();
    let _timers = TIMER_QUEUE.lock();
    Ok(())
});

/// Recurses with a kilobyte frame until the task's stack runs into its guard page.
fn recurse_forever(depth: u64) -> u64 {
    let mut frame = [0u8; 1024];
    frame[(depth % 1024) as usize] = depth as u8;
    core::hint::black_box(&mut frame);
    if depth == u64::MAX {
        return 0;
    }
    recurse_forever(depth + 1).wrapping_add(u64::from(frame[7]))
}

kernel_test!(fn stack_overflow(_context) {
    let deep = crate::sched::spawn(crate::sched::SpawnOptions::named("deep"), || {
        core::hint::black_box(recurse_forever(0));
    });
    if let Ok(deep) = deep {
        deep.join();
    }
    Ok(())
});

kernel_test!(fn lock_up(context) {
    // Another core takes a lock and never lets go; this core's wait for it is reported as a
    // lock-up (after 10 stall limits) instead of hanging, naming the lock and its holder.
    use core::sync::atomic::{AtomicBool, Ordering};
    use crate::sync::{IrqSpinLock, LockRank};
    static LOCK: IrqSpinLock<()> = IrqSpinLock::new(LockRank::WaitQueue, ());
    static HELD: AtomicBool = AtomicBool::new(false);
    let holder_core = context.cores - 1;
    crate::check!(holder_core != crate::sched::current_core(), "needs a second core");
    let holder = crate::sched::spawn(crate::sched::SpawnOptions::named("holder").on_core(holder_core), || {
        let _never_released = LOCK.lock();
        HELD.store(true, Ordering::Release);
        loop {
            core::hint::spin_loop();
        }
    });
    crate::check!(holder.is_ok());
    while !HELD.load(Ordering::Acquire) {
        crate::sched::yield_now();
    }
    let _waits_forever = LOCK.lock();
    Ok(())
});
