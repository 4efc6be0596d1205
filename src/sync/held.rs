//! What each core holds: how many IRQ-safe locks, the interrupt state to put back when the last
//! one goes, and (with the checker) the ranks of its locks.
//!
//! Interrupts stay masked from a core's first [`IrqSpinLock`](super::IrqSpinLock) acquisition
//! to its last release, whatever order the guards are dropped in: the state saved by the first
//! acquisition is restored by the last release. Restoring per guard would go wrong on an
//! out-of-order release (the outer guard would unmask while the inner lock is still held, and
//! the inner guard would then leave interrupts masked for good).
//!
//! Records sit in a table indexed by core id, one cache line each. Host unit tests number their
//! threads as cores; a thread numbered at or past [`MAX_CORES`] gets a record of its own in
//! thread-local storage, which [`held_locks`] cannot see. On the host outside unit tests every
//! thread is core 0 and shares one record, so the order check would mistake one thread's locks
//! for another's: use these locks from one thread there.

use super::rank_check::{CheckedRank, HeldLocks, RankStack};
use crate::MAX_CORES;
use crate::arch::{self, IrqState};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::CachePadded;

/// One core's record, alone on its cache lines ([`CachePadded`]) so that cores never write to a
/// shared line. Only the core itself touches
/// `locks_held` and `state_before_first`, and only with interrupts masked (from
/// `prepare_acquire` to its last `record_release`), so plain loads and stores suffice: they are
/// atomics only because the record sits in a shared static.
struct CoreRecord {
    /// How many IRQ-safe locks the core holds.
    locks_held: AtomicU32,
    /// The interrupt state from before its first lock, restored when the last one goes.
    state_before_first: AtomicU64,
    ranks: RankStack,
}

impl CoreRecord {
    const fn new() -> Self {
        Self {
            locks_held: AtomicU32::new(0),
            state_before_first: AtomicU64::new(0),
            ranks: RankStack::new(),
        }
    }
}

static RECORDS: [CachePadded<CoreRecord>; MAX_CORES] =
    [const { CachePadded::new(CoreRecord::new()) }; MAX_CORES];

/// Masks interrupts on the calling core, then panics if the lock order forbids it to take a
/// lock of `rank` now. Returns the interrupt state from before, for [`record_acquire`] (or for
/// `arch::irq_restore` if the lock is not taken after all).
pub(crate) fn prepare_acquire(rank: CheckedRank) -> IrqState {
    let saved = arch::irq_save_disable();
    // Interrupts are masked from here to the matching `record_release`, so nothing preempts the
    // caller and moves it to another core: every core id read until then is the same.
    if cfg!(all(debug_assertions, not(loom))) {
        with_this_core(|core, record| record.ranks.check(core, rank));
    }
    saved
}

/// Records that the calling core now holds a lock of `rank`; `saved` is what
/// [`prepare_acquire`] returned for it.
pub(crate) fn record_acquire(rank: CheckedRank, saved: IrqState) {
    with_this_core(|_, record| {
        record.ranks.push(rank);
        let held = record.locks_held.load(Ordering::Relaxed);
        if held == 0 {
            record
                .state_before_first
                .store(saved.to_bits(), Ordering::Relaxed);
        }
        record.locks_held.store(held + 1, Ordering::Relaxed);
    });
}

/// Records that the calling core released a lock of `rank` (already unlocked); if that was the
/// core's last IRQ-safe lock, restores the interrupt state from before its first.
pub(crate) fn record_release(rank: CheckedRank) {
    let state_to_restore = with_this_core(|_, record| {
        record.ranks.remove(rank);
        let held = record.locks_held.load(Ordering::Relaxed) - 1;
        record.locks_held.store(held, Ordering::Relaxed);
        (held == 0).then(|| IrqState::from_bits(record.state_before_first.load(Ordering::Relaxed)))
    });
    if let Some(state) = state_to_restore {
        arch::irq_restore(state);
    }
}

/// [`prepare_acquire`] for a caller that has interrupts masked already: checks the order (in
/// builds with the checker, which also assert that interrupts are masked) and nothing else.
pub(crate) fn prepare_acquire_masked(rank: CheckedRank) {
    if cfg!(all(debug_assertions, not(loom))) {
        debug_assert!(
            arch::irqs_masked(),
            "lock_masked called with interrupts unmasked"
        );
        with_this_core(|core, record| record.ranks.check(core, rank));
    }
}

/// [`record_acquire`] for a guard of [`IrqSpinLock::lock_masked`](super::IrqSpinLock::lock_masked):
/// records the rank (in builds with the checker), leaves the count and the saved state alone.
pub(crate) fn record_acquire_masked(rank: CheckedRank) {
    if cfg!(all(debug_assertions, not(loom))) {
        with_this_core(|_, record| record.ranks.push(rank));
    }
}

/// [`record_release`] for a guard of [`IrqSpinLock::lock_masked`](super::IrqSpinLock::lock_masked):
/// forgets the rank (in builds with the checker); interrupts stay as they are.
pub(crate) fn record_release_masked(rank: CheckedRank) {
    if cfg!(all(debug_assertions, not(loom))) {
        with_this_core(|_, record| record.ranks.remove(rank));
    }
}

/// The ranks of the locks `core` holds, in the order it took them, read without taking any
/// lock (for the watchdog's report on a stalled core). Exact for a stalled core; for a running
/// one it may be a moment out of date. Empty in builds without the rank checker and for a core
/// id at or past [`MAX_CORES`].
pub fn held_locks(core: usize) -> HeldLocks {
    RECORDS
        .get(core)
        .map_or_else(HeldLocks::new, |record| record.ranks.snapshot())
}

fn with_this_core<R>(use_record: impl FnOnce(usize, &CoreRecord) -> R) -> R {
    let core = arch::core_id();
    match RECORDS.get(core) {
        Some(record) => use_record(core, record),
        None => beyond_table(core, use_record),
    }
}

#[cfg(test)]
fn beyond_table<R>(core: usize, use_record: impl FnOnce(usize, &CoreRecord) -> R) -> R {
    std::thread_local!(static RECORD: CoreRecord = const { CoreRecord::new() });
    RECORD.with(|record| use_record(core, record))
}

#[cfg(not(test))]
fn beyond_table<R>(core: usize, _use_record: impl FnOnce(usize, &CoreRecord) -> R) -> R {
    panic!("core id {core} is past MAX_CORES ({MAX_CORES})")
}

/// The calling test thread's held ranks, also for a thread numbered past [`MAX_CORES`].
#[cfg(all(test, debug_assertions, not(loom)))]
pub(crate) fn held_locks_here() -> HeldLocks {
    with_this_core(|_, record| record.ranks.snapshot())
}
