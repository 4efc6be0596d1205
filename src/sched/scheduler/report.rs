//! The scheduler's state in words, for time-out and stall reports.

use core::sync::atomic::Ordering;

use super::idle::{IDLE_CORES, SPINNING_CORES};
use super::percore::{ACTIVE_CORES, CORES};
use super::queues::{GLOBAL_QUEUED, queued};
use super::task::{NO_TASK, task};

/// Prints one line per core that has anything queued or runs a task: what it runs, how much
/// waits, and its counters. For time-out and stall reports.
pub fn report_cores(out: &mut impl core::fmt::Write) {
    let cores = ACTIVE_CORES.load(Ordering::Relaxed);
    for (core, state) in CORES.iter().enumerate().take(cores) {
        let current = state.current.load(Ordering::Relaxed);
        let queued = queued(core);
        if queued == 0 && current == state.idle_task.load(Ordering::Relaxed) {
            continue;
        }
        let name = if current == NO_TASK {
            "-"
        } else {
            task(current).name()
        };
        let _ = writeln!(
            out,
            "  core {core}: running {name} (task {current}), {queued} queued ({} stealable), {} switches, {} preemptions, {} steals, idle flag {}",
            state.movable.get(),
            crate::registry::CORE_TABLE.switches(core),
            state.preemptions.load(Ordering::Relaxed),
            state.steals.load(Ordering::Relaxed),
            state.idle.load(Ordering::Relaxed)
        );
    }
    let _ = writeln!(
        out,
        "  global: {} queued, {} idle cores, {} spinning",
        GLOBAL_QUEUED.load(Ordering::Relaxed),
        IDLE_CORES.load(Ordering::Relaxed),
        SPINNING_CORES.load(Ordering::Relaxed)
    );
}
