//! The 2019 lock order, restored for the regression test only (Cargo feature
//! `legacy-monitor-lock-order`): the scheduler's side of Go issue 35375.

use super::queues::GLOBAL;
use crate::sync::IrqSpinLock;

/// The global scheduler lock, for the 2019 lock order the regression test restores.
#[cfg(feature = "legacy-monitor-lock-order")]
pub fn global_lock() -> &'static IrqSpinLock<impl Sized> {
    &GLOBAL
}

/// Go 1.14's timer path, restored for the regression test only: with `core`'s timer-queue lock
/// held, take the global scheduler lock to wake a core (the order `runtimer -> ready -> wakep
/// -> startm` took `sched.lock` under the P's timer lock). The lock order allows it; the
/// monitor's 2019 pass takes the same two locks the other way round.
#[cfg(feature = "legacy-monitor-lock-order")]
pub fn ready_under_timer_lock_2019(core: usize) {
    if let Some(queue) = crate::timer::queue_lock(core) {
        let _timers = queue.lock();
        // Go's `ready` put the goroutine on a run queue before `wakep`: that time is spent
        // holding the timer lock too, which is what leaves room for the monitor to interleave.
        for _ in 0..1024 {
            core::hint::spin_loop();
        }
        let _global = GLOBAL.lock();
    }
}
