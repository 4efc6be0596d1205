//! The 2019 lock order, kept only to prove it is caught: Go 1.14's `sysmon` held `sched.lock`
//! and called `timeSleepUntil`, which took every P's timer lock, while a P holding its own timer
//! lock readied a goroutine and took `sched.lock` (Go issue 35375, fixed by runtime commit
//! b50fcc88).
//!
//! Compiled only with the Cargo feature `legacy-monitor-lock-order` (the kernel's regression
//! test, which shows the lock-rank checker and the watchdog catching it) and under `cfg(loom)`
//! (the model that shows the order deadlocks). No kernel build calls it.

use crate::sync::IrqSpinLock;
use crate::timer::{EarliestDeadline, NO_DEADLINE};

/// The earliest deadline of `timer_queues`, computed the 2019 way: takes `global_sched` (the
/// global scheduler lock) and, while holding it, each timer-queue lock in turn. Returns
/// [`NO_DEADLINE`] if no timer is armed. With the rank checker on, the first timer-queue lock
/// panics as an inversion; with it off, a core that holds its timer-queue lock and wants the
/// global lock deadlocks against it.
pub fn earliest_deadline_2019<'q, Global, Queue: EarliestDeadline + 'q>(
    global_sched: &IrqSpinLock<Global>,
    timer_queues: impl IntoIterator<Item = &'q IrqSpinLock<Queue>>,
) -> u64 {
    let _global_sched = global_sched.lock();
    timer_queues
        .into_iter()
        .filter_map(|queue| queue.lock().earliest())
        .min()
        .unwrap_or(NO_DEADLINE)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::earliest_deadline_2019;
    use crate::sync::{IrqSpinLock, LockRank, set_rank_check_enabled};
    use crate::timer::NO_DEADLINE;
    use crate::timer::queue::TimerQueue;

    fn timer_queue(deadlines: &[u64]) -> IrqSpinLock<TimerQueue<(), 4>> {
        let mut queue = TimerQueue::new();
        for deadline in deadlines {
            queue.insert(*deadline, ()).unwrap();
        }
        IrqSpinLock::new(LockRank::TimerQueue, queue)
    }

    #[test]
    fn finds_the_earliest_deadline_with_the_check_off() {
        let global = IrqSpinLock::new(LockRank::GlobalSched, ());
        let queues = [timer_queue(&[30, 90]), timer_queue(&[]), timer_queue(&[20])];
        set_rank_check_enabled(false);
        let earliest = earliest_deadline_2019(&global, &queues);
        let none = earliest_deadline_2019(&global, &queues[1..2]);
        set_rank_check_enabled(true);
        assert_eq!((earliest, none), (20, NO_DEADLINE));
    }

    #[test]
    #[cfg_attr(
        debug_assertions,
        should_panic(
            expected = "acquiring timer_queue (TimerQueue=1) while holding global_sched (GlobalSched=2)"
        )
    )]
    fn the_rank_checker_rejects_it() {
        let global = IrqSpinLock::new(LockRank::GlobalSched, ());
        let queues = [timer_queue(&[5])];
        assert_eq!(earliest_deadline_2019(&global, &queues), 5);
    }
}
