//! Holding the monitor still, for the benchmark: a paused monitor makes no pass and its buddy
//! reports no silence, so a figure measured meanwhile counts no monitor instructions; and a
//! paused monitor can be let out for a counted number of passes, so that its own cost is
//! measured while every other core is idle.
//!
//! The monitor task calls `after_pass` at the end of every pass; [`pause`],
//! [`measure_passes`] and [`resume`] are called by one task at a time (the benchmark).

use core::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use crate::sched::Semaphore;

/// The monitor runs freely and its buddy watches it.
const RUNNING: u8 = 0;
/// Asked to park (or parked): the buddy does not watch it.
const PAUSED: u8 = 1;
/// Let go again, but it has not finished a pass since: the buddy does not watch it yet, since
/// its last pass may have ended long ago.
const RESUMING: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(RUNNING);
/// Passes still to make before parking again (a measurement under way).
static PASSES_LEFT: AtomicU64 = AtomicU64::new(0);
/// Released by the monitor when it has parked.
static PARKED: Semaphore = Semaphore::new(0);
/// Released to let a parked monitor go.
static GO: Semaphore = Semaphore::new(0);

/// Whether the buddy should check the monitor now: not while it is paused, nor before its
/// first pass after a pause.
pub(super) fn watched() -> bool {
    STATE.load(Ordering::Acquire) == RUNNING
}

/// The monitor task's side, at the end of each pass: parks the monitor if it is paused and has
/// no measured pass left. Returns `true` when it parked and was let go, so that the next pass
/// starts at once instead of after the backoff's sleep.
pub(super) fn after_pass() -> bool {
    match STATE.load(Ordering::Acquire) {
        RUNNING => false,
        RESUMING => {
            // Its first pass since the pause has ended: the buddy may watch it again. A pause
            // asked for meanwhile stays asked for (the exchange then fails).
            let _ = STATE.compare_exchange(RESUMING, RUNNING, Ordering::AcqRel, Ordering::Acquire);
            false
        }
        _ => {
            let left = PASSES_LEFT.load(Ordering::Acquire);
            if left > 1 {
                PASSES_LEFT.store(left - 1, Ordering::Release);
                return false;
            }
            PASSES_LEFT.store(0, Ordering::Release);
            PARKED.release();
            GO.acquire();
            true
        }
    }
}

/// Parks the monitor after its current pass and keeps its buddy from reporting it; returns once
/// it is parked (no pass under way, none until [`measure_passes`] or [`resume`]). Call from a
/// task, never from the monitor itself, and not while paused.
pub fn pause() {
    STATE.store(PAUSED, Ordering::Release);
    PARKED.acquire();
}

/// With the monitor paused: lets it make exactly `passes` passes (at least 1), at its own pace,
/// then parks it again; returns once it is parked. The monitor's counters then hold those passes'
/// costs.
pub fn measure_passes(passes: u64) {
    PASSES_LEFT.store(passes.max(1), Ordering::Release);
    GO.release();
    PARKED.acquire();
}

/// Lets a paused monitor run freely again; its buddy watches it again from its next pass on.
pub fn resume() {
    STATE.store(RESUMING, Ordering::Release);
    GO.release();
}
