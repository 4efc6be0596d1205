//! The monitor: a routine on one core that watches every other core, in the shape of Go's
//! `sysmon` after runtime commit b50fcc88 (Go issue 35375).
//!
//! It reads the core registry ([`crate::registry`]): which cores exist and are online, behind
//! the core-table lock (rank `CoreTable`, held briefly, nothing taken under it), plus what each
//! core publishes lock-free: heartbeat, switch count and running task, PC at its last interrupt.
//! - [`scan()`]: one pass under the core-table lock only. It reads each online core's published
//!   deadline (never a timer-queue lock, never the global scheduler lock), and returns the
//!   actions: [`Action::Kick`] a core whose timer is overdue, [`Action::ReportUnresponsive`] if
//!   the kick does not help, [`Action::Retake`] a task past the 10 ms force-preempt limit,
//!   [`Action::ReportStall`] a busy core whose heartbeat stopped.
//! - [`Backoff`]: `sysmon`'s sleep, 20 us while passes find work, doubling to 10 ms when idle,
//!   cut short by the next time something may become due.
//! - [`MonitorCounters`]: passes, kicks, retakes, stalls, pass costs, longest lock hold; and the
//!   buddy's check that the monitor itself still runs ([`MonitorCounters::monitor_silence`]),
//!   made by the core [`crate::registry::CoreTable::buddy_of`] names.
//! - [`Monitor`] ties them together: [`Monitor::pass`] is one iteration of the monitor loop.
//!
//! The kernel glue (the monitor task, SGIs, PCs) is built on this API:
//! - each core, on every timer interrupt: [`crate::registry::CoreTable::publish_heartbeat`];
//!   on every switch: [`crate::registry::CoreTable::publish_switch`] (progress too; a run is
//!   timed from the pass that first sees its switch count, as sysmon times a P's `schedtick`);
//!   on every interrupt: [`crate::registry::CoreTable::publish_interrupt_pc`];
//! - bring-up and hot-unplug: [`crate::registry::CoreTable::change_state`] (`Starting` before the core is
//!   started, `Online` from the core itself once its timer queue is installed and its deadline
//!   published);
//! - the monitor task: `loop { let pass = monitor.pass(&TABLE, &timer::earliest_deadline,
//!   &COUNTERS); carry out pass.outcome.actions; sleep pass.sleep_ns }` (the outcome lives in
//!   the monitor, so a pass hands it over by reference);
//! - the buddy core, periodically: `COUNTERS.monitor_silence(now, stall_ns)`;
//! - the benchmark: `hold` parks the monitor (and quiets its buddy) while it measures, and
//!   lets it out for a counted number of passes to measure the pass itself.
//!
//! The lock protocol is model-checked with loom (`model.rs`): under `cfg(loom)` the locks are
//! loom mutexes and [`crate::sync::atomic`] is loom's. The models show that the protocol here
//! neither deadlocks nor loses a wake-up, and that the 2019 order deadlocks; they run
//! exhaustively, in well under a second once built, with
//! `RUSTFLAGS="--cfg loom" cargo test --release -p coresched --lib monitor::`.

mod backoff;
mod counters;
#[cfg(target_os = "none")]
pub mod hold;
#[cfg(target_os = "none")]
pub mod kernel;
#[cfg(any(feature = "legacy-monitor-lock-order", loom))]
mod legacy;
#[cfg(all(test, loom))]
mod model;
mod scan;

pub use backoff::{Backoff, IDLE_PASSES_AT_MIN_SLEEP, MAX_SLEEP_NS, MIN_SLEEP_NS};
pub use counters::{CounterSnapshot, MonitorCounters, MonitorSilence};
#[cfg(any(feature = "legacy-monitor-lock-order", loom))]
pub use legacy::earliest_deadline_2019;
pub use scan::{
    ACTIONS_PER_PASS, Action, Actions, CoreProbe, FORCE_PREEMPT_NS, ScanMemory, ScanOutcome,
    StallReport, Thresholds, UnresponsiveReport, scan,
};

use crate::MAX_CORES;
use crate::registry::CoreTable;

/// The monitor's own state for `CORES` cores: its memory of earlier passes, the outcome of its
/// last pass (reused by the next, see [`scan()`]), its backoff and its thresholds. Plain data,
/// `const`-constructible (about 48 bytes a core, so the kernel's belongs in a `static`, not on
/// a task stack), used by the monitor task alone.
pub struct Monitor<const CORES: usize = MAX_CORES> {
    memory: ScanMemory<CORES>,
    outcome: ScanOutcome,
    backoff: Backoff,
    thresholds: Thresholds,
}

/// The result of one [`Monitor::pass`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pass<'a> {
    /// What the scan found (kept in the monitor until its next pass); the caller carries out
    /// its actions.
    pub outcome: &'a ScanOutcome,
    /// How long to sleep before the next pass (never 0).
    pub sleep_ns: u64,
}

impl<const CORES: usize> Monitor<CORES> {
    /// A monitor that has made no pass, acting at `thresholds`.
    pub const fn new(thresholds: Thresholds) -> Self {
        Self {
            memory: ScanMemory::new(),
            outcome: ScanOutcome::new(),
            backoff: Backoff::new(),
            thresholds,
        }
    }

    /// The thresholds it acts at.
    pub fn thresholds(&self) -> &Thresholds {
        &self.thresholds
    }

    /// One iteration of the monitor loop: a [`scan()`] at the table's clock, counted in
    /// `counters` (which also serves as the monitor's heartbeat), and the sleep that follows it.
    /// Takes the core-table lock and no other.
    pub fn pass(
        &mut self,
        table: &CoreTable<CORES>,
        probe: &impl CoreProbe,
        counters: &MonitorCounters,
    ) -> Pass<'_> {
        let start_ns = table.now_ns();
        let outcome = &mut self.outcome;
        scan(
            table,
            &mut self.memory,
            probe,
            start_ns,
            &self.thresholds,
            outcome,
        );
        let end_ns = table.now_ns();
        counters.record_pass(outcome, end_ns.saturating_sub(start_ns), end_ns);
        let sleep_ns =
            self.backoff
                .next_sleep_ns(outcome.found_work(), end_ns, outcome.next_check_ns);
        Pass {
            outcome: &self.outcome,
            sleep_ns,
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::registry::{CoreState, test_clock};
    use crate::timer::NO_DEADLINE;

    const MS: u64 = 1_000_000;

    #[test]
    fn a_pass_counts_backs_off_and_wakes_for_the_next_check() {
        let table = CoreTable::<2>::new(test_clock::now);
        let counters = MonitorCounters::new();
        let mut monitor = Monitor::new(Thresholds::DEFAULT);
        for core in 0..2 {
            table.change_state(core, CoreState::Starting).unwrap();
            table.change_state(core, CoreState::Online).unwrap();
        }
        table.publish_switch(0, Some(5));
        test_clock::set(100 * MS);
        let deadlines = |core: usize| [NO_DEADLINE, 103 * MS][core];
        let quiet = monitor.pass(&table, &deadlines, &counters);
        assert_eq!(quiet.outcome.earliest_deadline_ns, 103 * MS);
        assert_eq!(quiet.sleep_ns, MIN_SLEEP_NS);
        for _ in 0..60 {
            monitor.pass(&table, &deadlines, &counters);
        }
        let capped = monitor.pass(&table, &deadlines, &counters);
        assert_eq!(
            capped.sleep_ns,
            8 * MS + 1,
            "woken when core 1's timer becomes overdue"
        );
        test_clock::set(110 * MS);
        let busy = monitor.pass(&table, &deadlines, &counters);
        assert_eq!(
            busy.outcome.actions.as_slice(),
            [Action::Retake(0), Action::Kick(1)]
        );
        assert_eq!(busy.sleep_ns, MIN_SLEEP_NS);
        let snapshot = counters.snapshot(&table);
        assert_eq!(
            (snapshot.passes, snapshot.kicks, snapshot.retakes),
            (63, 1, 1)
        );
        assert_eq!(table.buddy_of(1), Some(0));
        assert_eq!(
            counters.monitor_silence(110 * MS, Thresholds::DEFAULT.stall_ns),
            None
        );
    }

    #[test]
    fn the_kernels_monitor_and_a_pass_stay_small() {
        assert!(
            core::mem::size_of::<Monitor>()
                <= 48 * MAX_CORES + core::mem::size_of::<ScanOutcome>() + 64
        );
        assert!(core::mem::size_of::<Action>() <= 48);
        assert!(core::mem::size_of::<Pass>() <= 16);
    }
}
