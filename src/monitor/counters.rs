//! The monitor's counters, readable from any core, and the buddy's check that the monitor itself
//! still runs.
//!
//! These are plain `core` atomics even under loom: they report, they do not synchronise, and
//! keeping them `const` lets the kernel's counters be a `static`.

use core::sync::atomic::{AtomicU64, Ordering};

use super::scan::{Action, ScanOutcome};
use crate::registry::CoreTable;

/// What the monitor has done since boot. Each field is written by the monitor only.
pub struct MonitorCounters {
    passes: AtomicU64,
    kicks: AtomicU64,
    retakes: AtomicU64,
    stalls: AtomicU64,
    unresponsive: AtomicU64,
    last_pass_cost_ns: AtomicU64,
    longest_pass_cost_ns: AtomicU64,
    total_pass_cost_ns: AtomicU64,
    last_pass_end_ns: AtomicU64,
    /// The `last_pass_end_ns` whose silence a buddy already reported.
    silence_reported_for: AtomicU64,
}

/// A copy of the counters at one moment, with the core table's longest lock hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// Monitor passes.
    pub passes: u64,
    /// Kicks sent to cores with an overdue timer.
    pub kicks: u64,
    /// Runs retaken at the force-preempt limit.
    pub retakes: u64,
    /// Stalls reported.
    pub stalls: u64,
    /// Cores reported unresponsive after a kick.
    pub unresponsive: u64,
    /// The longest hold of the core-table lock by anyone, in nanoseconds.
    pub longest_lock_hold_ns: u64,
    /// The cost of the last pass, in nanoseconds.
    pub last_pass_cost_ns: u64,
    /// The cost of the most expensive pass, in nanoseconds.
    pub longest_pass_cost_ns: u64,
    /// The mean cost of a pass, in nanoseconds (0 before the first).
    pub mean_pass_cost_ns: u64,
    /// The cost of every pass together, in nanoseconds: two snapshots give the mean of the
    /// passes between them.
    pub total_pass_cost_ns: u64,
}

/// The monitor has not finished a pass for longer than the buddy allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MonitorSilence {
    /// When the monitor's last pass ended.
    pub last_pass_end_ns: u64,
    /// How long ago that was.
    pub silent_for_ns: u64,
    /// How many passes it had made.
    pub passes: u64,
}

impl MonitorCounters {
    /// All zero.
    pub const fn new() -> Self {
        Self {
            passes: AtomicU64::new(0),
            kicks: AtomicU64::new(0),
            retakes: AtomicU64::new(0),
            stalls: AtomicU64::new(0),
            unresponsive: AtomicU64::new(0),
            last_pass_cost_ns: AtomicU64::new(0),
            longest_pass_cost_ns: AtomicU64::new(0),
            total_pass_cost_ns: AtomicU64::new(0),
            last_pass_end_ns: AtomicU64::new(0),
            silence_reported_for: AtomicU64::new(u64::MAX),
        }
    }

    /// Counts a pass that returned `outcome`, cost `cost_ns` and ended at `end_ns` (the
    /// monitor's heartbeat, which its buddy watches).
    pub fn record_pass(&self, outcome: &ScanOutcome, cost_ns: u64, end_ns: u64) {
        for action in &outcome.actions {
            let counter = match action {
                Action::Kick(_) => &self.kicks,
                Action::Retake(_) => &self.retakes,
                Action::ReportStall(_) => &self.stalls,
                Action::ReportUnresponsive(_) => &self.unresponsive,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        self.last_pass_cost_ns.store(cost_ns, Ordering::Relaxed);
        self.longest_pass_cost_ns
            .fetch_max(cost_ns, Ordering::Relaxed);
        self.total_pass_cost_ns
            .fetch_add(cost_ns, Ordering::Relaxed);
        self.last_pass_end_ns.store(end_ns, Ordering::Relaxed);
        // Release: a buddy that sees this pass count also sees its end time.
        self.passes.fetch_add(1, Ordering::Release);
    }

    /// How many passes the monitor has finished.
    pub fn passes(&self) -> u64 {
        self.passes.load(Ordering::Acquire)
    }

    /// The counters now, with `table`'s longest core-table-lock hold.
    pub fn snapshot<const CORES: usize>(&self, table: &CoreTable<CORES>) -> CounterSnapshot {
        let passes = self.passes();
        let total_ns = self.total_pass_cost_ns.load(Ordering::Relaxed);
        CounterSnapshot {
            passes,
            kicks: self.kicks.load(Ordering::Relaxed),
            retakes: self.retakes.load(Ordering::Relaxed),
            stalls: self.stalls.load(Ordering::Relaxed),
            unresponsive: self.unresponsive.load(Ordering::Relaxed),
            longest_lock_hold_ns: table.longest_hold_ns(),
            last_pass_cost_ns: self.last_pass_cost_ns.load(Ordering::Relaxed),
            longest_pass_cost_ns: self.longest_pass_cost_ns.load(Ordering::Relaxed),
            mean_pass_cost_ns: total_ns.checked_div(passes).unwrap_or(0),
            total_pass_cost_ns: total_ns,
        }
    }

    /// The buddy's check, from any core at `now_ns` on the same clock: `Some` if the monitor
    /// has made passes and the last one ended at least `limit_ns` ago, once per silence (the
    /// first caller to see a silence gets it). Before the first pass, `None`. `limit_ns` must
    /// exceed the longest sleep (10 ms) plus a pass, e.g. the stall limit.
    pub fn monitor_silence(&self, now_ns: u64, limit_ns: u64) -> Option<MonitorSilence> {
        let passes = self.passes();
        if passes == 0 {
            return None;
        }
        let last_pass_end_ns = self.last_pass_end_ns.load(Ordering::Relaxed);
        let silent_for_ns = now_ns.saturating_sub(last_pass_end_ns);
        if silent_for_ns < limit_ns {
            return None;
        }
        // A silence is named by the end of the pass before it; the caller that swaps that name
        // in first reports it.
        let first_to_see = self
            .silence_reported_for
            .swap(last_pass_end_ns, Ordering::Relaxed)
            != last_pass_end_ns;
        first_to_see.then_some(MonitorSilence {
            last_pass_end_ns,
            silent_for_ns,
            passes,
        })
    }
}

impl Default for MonitorCounters {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::monitor::scan::{Actions, UnresponsiveReport};
    use crate::registry::test_clock;
    use crate::timer::NO_DEADLINE;

    fn outcome(actions: &[Action]) -> ScanOutcome {
        ScanOutcome {
            actions: Actions::from_slice(actions).unwrap(),
            deferred: false,
            earliest_deadline_ns: NO_DEADLINE,
            next_check_ns: NO_DEADLINE,
            online_cores: 1,
        }
    }

    #[test]
    fn counts_actions_passes_and_costs() {
        let counters = MonitorCounters::new();
        let table = CoreTable::<1>::new(test_clock::now);
        assert_eq!(counters.snapshot(&table).mean_pass_cost_ns, 0);
        let unresponsive = Action::ReportUnresponsive(UnresponsiveReport {
            core: 0,
            deadline_ns: 1,
            kicked_at_ns: 2,
        });
        counters.record_pass(
            &outcome(&[Action::Kick(0), Action::Retake(0), Action::Kick(0)]),
            300,
            1_000,
        );
        counters.record_pass(&outcome(&[unresponsive]), 100, 2_000);
        counters.record_pass(&outcome(&[]), 200, 3_000);
        test_clock::set(10);
        let guard = table.lock();
        test_clock::set(55);
        drop(guard);
        assert_eq!(
            counters.snapshot(&table),
            CounterSnapshot {
                passes: 3,
                kicks: 2,
                retakes: 1,
                stalls: 0,
                unresponsive: 1,
                longest_lock_hold_ns: 45,
                last_pass_cost_ns: 200,
                longest_pass_cost_ns: 300,
                mean_pass_cost_ns: 200,
                total_pass_cost_ns: 600,
            }
        );
    }

    #[test]
    fn the_buddy_reports_a_silent_monitor_once_per_silence() {
        let counters = MonitorCounters::new();
        assert_eq!(counters.monitor_silence(1_000_000, 10), None);
        counters.record_pass(&outcome(&[]), 1, 100);
        assert_eq!(counters.monitor_silence(109, 10), None);
        assert_eq!(
            counters.monitor_silence(110, 10),
            Some(MonitorSilence {
                last_pass_end_ns: 100,
                silent_for_ns: 10,
                passes: 1
            })
        );
        assert_eq!(counters.monitor_silence(500, 10), None);
        counters.record_pass(&outcome(&[]), 1, 600);
        assert_eq!(counters.monitor_silence(605, 10), None);
        assert!(counters.monitor_silence(700, 10).is_some());
    }
}
