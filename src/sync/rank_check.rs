//! The run-time lock-order checker: the ranks each core holds, checked against
//! [`LockRank`]'s order on every acquisition.
//!
//! Compiled in only with `debug_assertions`, and not under `cfg(loom)` (loom runs all its model
//! threads on one host thread, so they would look like one core holding each other's locks).
//! Elsewhere [`CheckedRank`] and [`RankStack`] are empty types and their methods do nothing: no
//! fields, no code.
//!
//! A core records the ranks it holds in atomics that only it writes (with its interrupts
//! masked), so another core, the watchdog, can read a stalled core's list without a lock.

use super::rank::LockRank;
use core::sync::atomic::{AtomicBool, Ordering};

/// How many held locks one core's record keeps. A core that obeys the order holds at most
/// [`LockRank::COUNT`] locks, so it never runs out; only with the check switched off can a core
/// hold more, and the locks past this depth then go unrecorded.
pub const HELD_LOCKS_DEPTH: usize = 8;

const _: () = assert!(HELD_LOCKS_DEPTH >= LockRank::COUNT);

/// The ranks of the locks one core holds, in the order it took them.
pub type HeldLocks = heapless::Vec<LockRank, HELD_LOCKS_DEPTH>;

/// Turns the lock-order check on or off (the `rank-check=off` bootarg turns it off). When off,
/// an acquisition out of order no longer panics, but each core still records the locks it holds,
/// so the watchdog can still name them. In builds without the checker this does nothing.
///
/// Under unit tests the switch belongs to the calling test thread, so a test that turns it off
/// cannot hide an inversion from a test running beside it.
pub fn set_rank_check_enabled(enabled: bool) {
    with_switch(|switch| switch.store(enabled, Ordering::Relaxed));
}

/// Whether an acquisition out of order panics: true if the checker is compiled in (debug
/// builds) and [`set_rank_check_enabled`] has not turned it off.
pub fn rank_check_enabled() -> bool {
    cfg!(all(debug_assertions, not(loom))) && with_switch(|switch| switch.load(Ordering::Relaxed))
}

fn with_switch<R>(use_switch: impl FnOnce(&AtomicBool) -> R) -> R {
    #[cfg(not(test))]
    {
        static SWITCH: AtomicBool = AtomicBool::new(true);
        use_switch(&SWITCH)
    }
    #[cfg(test)]
    {
        std::thread_local!(static SWITCH: AtomicBool = const { AtomicBool::new(true) });
        SWITCH.with(use_switch)
    }
}

#[cfg(all(debug_assertions, not(loom)))]
mod checker {
    use super::{HELD_LOCKS_DEPTH, HeldLocks, LockRank, rank_check_enabled};
    use core::sync::atomic::{AtomicU8, Ordering};

    /// A lock's rank, kept with the lock where the checker needs it.
    #[derive(Clone, Copy)]
    pub(crate) struct CheckedRank(LockRank);

    impl CheckedRank {
        /// Keeps `rank` for the checker.
        pub(crate) const fn new(rank: LockRank) -> Self {
            Self(rank)
        }

        /// The rank kept.
        pub(crate) fn rank(self) -> Option<LockRank> {
            Some(self.0)
        }
    }

    /// The ranks one core holds, in the order it took them. Only the owning core writes it;
    /// any core may read it.
    pub(crate) struct RankStack {
        depth: AtomicU8,
        ranks: [AtomicU8; HELD_LOCKS_DEPTH],
    }

    impl RankStack {
        /// An empty record.
        pub(crate) const fn new() -> Self {
            Self {
                depth: AtomicU8::new(0),
                ranks: [const { AtomicU8::new(0) }; HELD_LOCKS_DEPTH],
            }
        }

        /// Panics, naming both locks, their ranks and `core`, if the check is on and `core`
        /// (the owner of this record) holds a lock whose rank is not below `rank`.
        pub(crate) fn check(&self, core: usize, rank: CheckedRank) {
            let acquiring = rank.0;
            if rank_check_enabled()
                && let Some(held) = self.recorded().max()
                && !acquiring.may_be_taken_while_holding(held)
            {
                panic!(
                    "lock order inversion on core {core}: acquiring {} ({acquiring:?}={}) \
                     while holding {} ({held:?}={})",
                    acquiring.name(),
                    acquiring as u8,
                    held.name(),
                    held as u8,
                );
            }
        }

        /// Records that the owner took a lock of `rank` (unrecorded if the record is full,
        /// which only a core running with the check off can reach).
        pub(crate) fn push(&self, rank: CheckedRank) {
            let depth = self.depth(Ordering::Relaxed);
            if let Some(slot) = self.ranks.get(depth) {
                slot.store(rank.0 as u8, Ordering::Relaxed);
                // Release: a reader that sees the new depth also sees the slot just written.
                self.depth.store(depth as u8 + 1, Ordering::Release);
            }
        }

        /// Records that the owner released a lock of `rank`, in any order: removes the most
        /// recent entry of that rank and closes the gap.
        pub(crate) fn remove(&self, rank: CheckedRank) {
            let depth = self.depth(Ordering::Relaxed);
            let held = &self.ranks[..depth];
            let Some(index) = held
                .iter()
                .rposition(|slot| slot.load(Ordering::Relaxed) == rank.0 as u8)
            else {
                return;
            };
            for pair in held[index..].windows(2) {
                pair[0].store(pair[1].load(Ordering::Relaxed), Ordering::Relaxed);
            }
            self.depth.store(depth as u8 - 1, Ordering::Release);
        }

        /// A copy of the record, readable from any core. Exact for a core that is stalled;
        /// for a running core it may be a moment out of date.
        pub(crate) fn snapshot(&self) -> HeldLocks {
            // Cannot panic: `recorded` yields at most HELD_LOCKS_DEPTH ranks.
            self.recorded().collect()
        }

        fn depth(&self, order: Ordering) -> usize {
            usize::from(self.depth.load(order)).min(HELD_LOCKS_DEPTH)
        }

        fn recorded(&self) -> impl Iterator<Item = LockRank> + '_ {
            self.ranks[..self.depth(Ordering::Acquire)]
                .iter()
                .filter_map(|slot| LockRank::from_u8(slot.load(Ordering::Relaxed)))
        }
    }
}

#[cfg(not(all(debug_assertions, not(loom))))]
mod checker {
    use super::{HeldLocks, LockRank};

    /// Without the checker a lock keeps no rank.
    #[derive(Clone, Copy)]
    pub(crate) struct CheckedRank;

    impl CheckedRank {
        /// Discards `rank`.
        pub(crate) const fn new(_rank: LockRank) -> Self {
            Self
        }

        /// No rank is kept in this build.
        pub(crate) fn rank(self) -> Option<LockRank> {
            None
        }
    }

    /// Without the checker a core records nothing.
    pub(crate) struct RankStack;

    impl RankStack {
        /// The empty record.
        pub(crate) const fn new() -> Self {
            Self
        }

        /// Checks nothing.
        pub(crate) fn check(&self, _core: usize, _rank: CheckedRank) {}

        /// Records nothing.
        pub(crate) fn push(&self, _rank: CheckedRank) {}

        /// Records nothing.
        pub(crate) fn remove(&self, _rank: CheckedRank) {}

        /// Always empty.
        pub(crate) fn snapshot(&self) -> HeldLocks {
            HeldLocks::new()
        }
    }
}

pub(crate) use checker::{CheckedRank, RankStack};

#[cfg(all(test, debug_assertions, not(loom)))]
mod tests {
    use crate::sync::held::held_locks_here;
    use crate::sync::{
        IrqSpinLock, LockRank, held_locks, rank_check_enabled, set_rank_check_enabled,
    };
    use crate::{MAX_CORES, arch};
    use std::panic::AssertUnwindSafe;

    fn lock_of(rank: LockRank) -> IrqSpinLock<()> {
        IrqSpinLock::new(rank, ())
    }

    #[test]
    fn nesting_in_rank_order_passes_and_is_recorded() {
        let locks = LockRank::ALL.map(lock_of);
        let guards: Vec<_> = locks.iter().map(IrqSpinLock::lock).collect();
        assert_eq!(held_locks_here().as_slice(), LockRank::ALL.as_slice());
        drop(guards);
        assert!(held_locks_here().is_empty());
    }

    #[test]
    fn a_masked_guard_is_checked_and_recorded_like_any_other() {
        let run_queue = lock_of(LockRank::RunQueue);
        let console = lock_of(LockRank::Console);
        let masked = run_queue.lock_masked();
        let inner = console.lock();
        assert_eq!(
            held_locks_here().as_slice(),
            [LockRank::RunQueue, LockRank::Console]
        );
        drop(masked);
        assert_eq!(held_locks_here().as_slice(), [LockRank::Console]);
        drop(inner);
        assert!(held_locks_here().is_empty());
        let timer_queue = lock_of(LockRank::TimerQueue);
        let _held = run_queue.lock();
        let inversion = std::panic::catch_unwind(AssertUnwindSafe(|| timer_queue.lock_masked()));
        assert!(
            inversion.is_err(),
            "a masked acquisition out of order must panic"
        );
    }

    #[test]
    fn inversion_panics_with_both_locks_their_ranks_and_the_core() {
        let run_queue = lock_of(LockRank::RunQueue);
        let timer_queue = lock_of(LockRank::TimerQueue);
        let panic = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let _held = run_queue.lock();
            let _acquired = timer_queue.lock();
        }))
        .expect_err("an inversion must panic");
        let message = panic
            .downcast_ref::<String>()
            .expect("the checker panics with a formatted message");
        assert_eq!(
            *message,
            format!(
                "lock order inversion on core {}: acquiring timer_queue (TimerQueue=1) \
                 while holding run_queue (RunQueue=3)",
                arch::core_id()
            )
        );
        assert!(held_locks_here().is_empty());
        assert!(!run_queue.is_locked() && !timer_queue.is_locked());
    }

    #[test]
    #[should_panic(
        expected = "acquiring timer_queue (TimerQueue=1) while holding global_sched (GlobalSched=2)"
    )]
    fn go_issue_35375_sysmon_takes_timer_queue_under_global_sched() {
        let global_sched = lock_of(LockRank::GlobalSched);
        let timer_queue = lock_of(LockRank::TimerQueue);
        let _sysmon_holds = global_sched.lock();
        let _sysmon_scans = timer_queue.lock();
    }

    #[test]
    #[should_panic(
        expected = "acquiring run_queue (RunQueue=3) while holding run_queue (RunQueue=3)"
    )]
    fn same_rank_nesting_panics() {
        let this_core = lock_of(LockRank::RunQueue);
        let other_core = lock_of(LockRank::RunQueue);
        let _held = this_core.lock();
        let _acquired = other_core.lock();
    }

    #[test]
    #[should_panic(
        expected = "acquiring wait_queue (WaitQueue=0) while holding console (Console=7)"
    )]
    fn try_lock_is_checked_too() {
        let console = lock_of(LockRank::Console);
        let wait_queue = lock_of(LockRank::WaitQueue);
        let _held = console.lock();
        let _acquired = wait_queue.try_lock();
    }

    #[test]
    fn release_out_of_order() {
        let wait_queue = lock_of(LockRank::WaitQueue);
        let global_sched = lock_of(LockRank::GlobalSched);
        let run_queue = lock_of(LockRank::RunQueue);
        let console = lock_of(LockRank::Console);
        let outer = wait_queue.lock();
        let middle = global_sched.lock();
        let inner = run_queue.lock();
        drop(middle);
        assert_eq!(
            held_locks_here().as_slice(),
            [LockRank::WaitQueue, LockRank::RunQueue]
        );
        drop(outer);
        assert_eq!(held_locks_here().as_slice(), [LockRank::RunQueue]);
        let innermost = console.lock();
        drop(inner);
        drop(innermost);
        assert!(held_locks_here().is_empty());
        drop(global_sched.lock());
    }

    #[test]
    fn disabled_check_allows_an_inversion_and_still_records_it() {
        let global_sched = lock_of(LockRank::GlobalSched);
        let timer_queue = lock_of(LockRank::TimerQueue);
        set_rank_check_enabled(false);
        assert!(!rank_check_enabled());
        let outer = global_sched.lock();
        let inner = timer_queue.lock();
        assert_eq!(
            held_locks_here().as_slice(),
            [LockRank::GlobalSched, LockRank::TimerQueue]
        );
        drop(outer);
        drop(inner);
        set_rank_check_enabled(true);
        assert!(rank_check_enabled());
        assert!(held_locks_here().is_empty());
    }

    #[test]
    fn another_core_reads_the_locks_a_core_holds() {
        let run_queue = lock_of(LockRank::RunQueue);
        let core_table = lock_of(LockRank::CoreTable);
        let (holding, holder_core) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        std::thread::scope(|scope| {
            let (run_queue, core_table) = (&run_queue, &core_table);
            scope.spawn(move || {
                let _outer = run_queue.lock();
                let _inner = core_table.lock();
                holding
                    .send(arch::core_id())
                    .expect("the reader is waiting");
                released.recv().expect("the reader releases the holder");
            });
            let core = holder_core.recv().expect("the holder reports its core");
            // A test thread numbered past the table keeps a record no other thread can read.
            if core < MAX_CORES {
                assert_eq!(
                    held_locks(core).as_slice(),
                    [LockRank::RunQueue, LockRank::CoreTable]
                );
            }
            release.send(()).expect("the holder is waiting");
        });
    }

    #[test]
    fn a_core_past_the_table_holds_nothing() {
        assert!(held_locks(MAX_CORES).is_empty());
    }
}
