//! The harness's own tests: one passes, one fails, one panics, one never ends, and one takes two
//! locks against the lock order (the rank checker must stop it). They run only
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
