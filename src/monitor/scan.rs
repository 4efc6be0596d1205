//! One monitor pass: what every online core needs (a kick, a retake, a report) and the
//! earliest deadline across them, computed under the core-table lock and nothing else.
//!
//! The pass takes the core-table lock just long enough to copy the set of online cores (and,
//! when some core changed state since the last pass, to forget what it remembers about an
//! older incarnation of a core). It then reads each of those cores' published deadline through
//! a [`CoreProbe`] (the kernel's is lock-free atomics) and its published fields from the
//! [`CoreTable`], compares them with what [`ScanMemory`] remembers from earlier passes, and
//! returns the actions for the caller to carry out. It takes no timer-queue lock and never the
//! global scheduler lock: that is the fix of Go runtime commit b50fcc88.
//!
//! Why the lock is not held for the whole pass: a core waiting for the core-table lock waits
//! with interrupts masked, so it takes no timer interrupt and publishes no heartbeat. A pass
//! over 512 cores is tens of thousands of instructions, and if the monitor's core is not run
//! meanwhile (a vCPU the host deschedules; QEMU's single-threaded TCG under `-icount`, which
//! gives the last vCPUs no instructions while an earlier one runs to each timer deadline), a
//! core changing state waits for the whole pass and is then reported stalled by the monitor
//! itself. Holding the lock for a copy of a bitmap makes that window a few dozen instructions.
//! A core that goes offline between the copy and the check of its fields is checked once more
//! on its last published fields, as it already could be between a pass and its actions.

use crate::registry::{CoreTable, OnlineCore, Run};
use crate::timer::NO_DEADLINE;

/// The force-preempt limit: a task that has run this long (10 ms, Go's `forcePreemptNS`)
/// without its core switching is retaken.
pub const FORCE_PREEMPT_NS: u64 = 10_000_000;

/// The most actions one pass returns; more are left for the next passes (see
/// [`ScanOutcome::deferred`]).
pub const ACTIONS_PER_PASS: usize = 16;

/// The actions of one pass, at most [`ACTIONS_PER_PASS`].
pub type Actions = heapless::Vec<Action, ACTIONS_PER_PASS>;

/// When the monitor acts, in nanoseconds of the monitor's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Thresholds {
    /// A core whose earliest timer is late by more than this is kicked.
    pub overdue_ns: u64,
    /// A kicked core whose timer is still overdue this long after the kick is reported
    /// unresponsive.
    pub unresponsive_ns: u64,
    /// A task that has run this long without its core switching is retaken (counted from the
    /// pass that first saw the run, as Go's sysmon counts from the pass that saw a P's
    /// `schedtick` change: a run is retaken between this long and this long plus the gap
    /// between two passes after it started).
    pub force_preempt_ns: u64,
    /// A core running a task with no heartbeat for this long is reported stalled.
    pub stall_ns: u64,
}

impl Thresholds {
    /// Kick after 5 ms late, report unresponsive 200 ms after the kick, retake at
    /// [`FORCE_PREEMPT_NS`], report a stall after 2 s without a heartbeat (generous, because
    /// emulated cores can sit descheduled by the host for a long time).
    pub const DEFAULT: Self = Self {
        overdue_ns: 5_000_000,
        unresponsive_ns: 200_000_000,
        force_preempt_ns: FORCE_PREEMPT_NS,
        stall_ns: 2_000_000_000,
    };
}

/// What the monitor asks the kernel to do after a pass. Small and `Copy` (48 bytes), so a pass's
/// actions are cheap to build and hand over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// The core's earliest timer is overdue: interrupt it (an SGI) so it fires its timers.
    Kick(usize),
    /// The core's task ran past the force-preempt limit: make the core reschedule (an SGI).
    Retake(usize),
    /// The core made no progress for the stall limit.
    ReportStall(StallReport),
    /// The core was kicked and its timer is still overdue.
    ReportUnresponsive(UnresponsiveReport),
}

/// A core that made no progress for the stall limit. The kernel adds what the core publishes
/// for a report (the locks it holds, the PC of its last interrupt) when it reports it, after the
/// pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StallReport {
    /// The stalled core.
    pub core: usize,
    /// The task it runs.
    pub task: u32,
    /// When the monitor first saw that run (at most one pass after it started).
    pub run_seen_at_ns: u64,
    /// Its heartbeat, unchanged since the monitor first saw it.
    pub heartbeat: u64,
    /// How long the core has shown no progress: since the monitor first saw this heartbeat
    /// value, or this run if that is later.
    pub silent_for_ns: u64,
}

/// A core that did not run its overdue timer after a kick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnresponsiveReport {
    /// The unresponsive core.
    pub core: usize,
    /// Its overdue deadline.
    pub deadline_ns: u64,
    /// When the monitor kicked it.
    pub kicked_at_ns: u64,
}

/// What one pass found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanOutcome {
    /// What to do, for the caller to carry out after the pass (no lock is held any more).
    pub actions: Actions,
    /// Some action did not fit in [`ScanOutcome::actions`]; it is returned by a later pass.
    pub deferred: bool,
    /// The earliest timer deadline across the online cores ([`NO_DEADLINE`] if none).
    pub earliest_deadline_ns: u64,
    /// The first time at which a later pass could find something to do (a timer becoming
    /// overdue, a kick running out, a run reaching the force-preempt limit, a heartbeat
    /// reaching the stall limit); [`NO_DEADLINE`] if nothing is pending.
    pub next_check_ns: u64,
    /// How many cores were online.
    pub online_cores: usize,
}

impl Default for ScanOutcome {
    fn default() -> Self {
        Self::new()
    }
}

impl ScanOutcome {
    /// The outcome of no pass: no action, nothing online, nothing to check.
    pub const fn new() -> Self {
        Self {
            actions: Actions::new(),
            deferred: false,
            earliest_deadline_ns: NO_DEADLINE,
            next_check_ns: NO_DEADLINE,
            online_cores: 0,
        }
    }

    /// Whether the pass found work (sysmon's "not idle"): an action, or one left for later.
    pub fn found_work(&self) -> bool {
        !self.actions.is_empty() || self.deferred
    }
}

/// Where the scan reads what a core publishes outside the core table.
pub trait CoreProbe {
    /// The earliest timer deadline `core` published ([`NO_DEADLINE`] if none). Must not take a
    /// lock: the monitor must never wait for a scheduling lock.
    fn earliest_deadline(&self, core: usize) -> u64;
}

/// Any `Fn(core) -> deadline` is a probe, e.g. `crate::timer::earliest_deadline`.
impl<F: Fn(usize) -> u64> CoreProbe for F {
    fn earliest_deadline(&self, core: usize) -> u64 {
        self(core)
    }
}

/// What the monitor remembers about each core between passes: heartbeats seen, kicks sent,
/// runs retaken, reports made. Forgotten for a core when it comes online again.
pub struct ScanMemory<const CORES: usize> {
    cores: [CoreWatch; CORES],
    /// The table's [`crate::registry::CoreTableGuard::changes`] when the memory was last
    /// matched with the online cores' incarnations (`u64::MAX`: never).
    changes_seen: u64,
}

impl<const CORES: usize> ScanMemory<CORES> {
    /// Memory of no pass.
    pub const fn new() -> Self {
        Self {
            cores: [CoreWatch::UNSEEN; CORES],
            changes_seen: u64::MAX,
        }
    }
}

impl<const CORES: usize> Default for ScanMemory<CORES> {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Clone, Copy)]
struct CoreWatch {
    /// The incarnation this record describes; 0 before the core was first seen online.
    incarnation: u32,
    /// The core's heartbeat and switch count as last seen, each as its [`mark`].
    heartbeat: u32,
    run_switches: u32,
    heartbeat_seen_at_ns: u64,
    stall_reported: bool,
    /// When this run (its switch count) was first seen.
    run_seen_at_ns: u64,
    /// Whether this run was retaken already.
    run_retaken: bool,
    /// The overdue deadline last kicked for ([`NO_DEADLINE`]: none).
    kicked_deadline_ns: u64,
    kicked_at_ns: u64,
    unresponsive_reported: bool,
}

/// What the watch keeps of a progress counter (a heartbeat, a switch count): its low 32 bits.
/// The watch only asks whether a counter moved between two passes, and no core makes 2^32
/// timer interrupts or switches (minutes of nothing else) between two passes; the memory
/// stays at 48 bytes per core.
const fn mark(count: u64) -> u32 {
    count as u32
}

impl CoreWatch {
    const UNSEEN: Self = Self::first_seen(0, 0, 0, 0);

    const fn first_seen(incarnation: u32, heartbeat: u64, run_switches: u64, now_ns: u64) -> Self {
        Self {
            incarnation,
            heartbeat: mark(heartbeat),
            heartbeat_seen_at_ns: now_ns,
            stall_reported: false,
            run_switches: mark(run_switches),
            run_seen_at_ns: now_ns,
            run_retaken: false,
            kicked_deadline_ns: NO_DEADLINE,
            kicked_at_ns: 0,
            unresponsive_reported: false,
        }
    }
}

/// One monitor pass at `now_ns`: takes the core-table lock, and only it, just to copy which
/// cores are online (see the module's note); looks at those cores only; writes the actions,
/// the earliest deadline and when to look again into `outcome`, replacing what an earlier pass
/// left there (the caller keeps one outcome and reuses it, so a pass neither clears nor copies
/// a buffer of actions). Each condition yields its action once: a kick once per overdue
/// deadline, a report of unresponsiveness once per kick, a retake once per run, a stall report
/// once per silence.
pub fn scan<const CORES: usize>(
    table: &CoreTable<CORES>,
    memory: &mut ScanMemory<CORES>,
    probe: &impl CoreProbe,
    now_ns: u64,
    thresholds: &Thresholds,
    outcome: &mut ScanOutcome,
) {
    let online = {
        let guard = table.lock();
        if guard.changes() != memory.changes_seen {
            memory.changes_seen = guard.changes();
            for online in guard.online_cores() {
                memory.forget_older_incarnation(table, online, now_ns);
            }
        }
        *guard.online()
    };
    outcome.actions.clear();
    outcome.deferred = false;
    outcome.earliest_deadline_ns = NO_DEADLINE;
    outcome.next_check_ns = NO_DEADLINE;
    outcome.online_cores = online.len();
    let mut pass = Scanner {
        table,
        now_ns,
        thresholds,
        outcome,
    };
    for core in online.cores() {
        let watch = &mut memory.cores[core];
        let deadline_ns = probe.earliest_deadline(core);
        let run = table.run(core);
        pass.outcome.earliest_deadline_ns = pass.outcome.earliest_deadline_ns.min(deadline_ns);
        pass.check_timers(core, watch, deadline_ns);
        pass.note_run(watch, run);
        pass.check_run_length(core, watch, run.task);
        pass.check_heartbeat(core, watch, run.task);
    }
}

impl<const CORES: usize> ScanMemory<CORES> {
    /// Starts the memory of `online` afresh if it describes an older incarnation.
    fn forget_older_incarnation(
        &mut self,
        table: &CoreTable<CORES>,
        online: OnlineCore,
        now_ns: u64,
    ) {
        let watch = &mut self.cores[online.core];
        if watch.incarnation != online.incarnation {
            let heartbeat = table.heartbeat(online.core);
            let switches = table.switches(online.core);
            *watch = CoreWatch::first_seen(online.incarnation, heartbeat, switches, now_ns);
        }
    }
}

/// One pass in progress.
struct Scanner<'a, const CORES: usize> {
    table: &'a CoreTable<CORES>,
    now_ns: u64,
    thresholds: &'a Thresholds,
    outcome: &'a mut ScanOutcome,
}

impl<const CORES: usize> Scanner<'_, CORES> {
    /// Adds `action` to the outcome; `false` (and the outcome marked deferred) if it is full,
    /// in which case the caller must not remember the action as taken.
    fn emit(&mut self, action: Action) -> bool {
        let fitted = self.outcome.actions.push(action).is_ok();
        self.outcome.deferred |= !fitted;
        fitted
    }

    /// Notes that a later pass has something to check at `at_ns`.
    fn check_again_at(&mut self, at_ns: u64) {
        self.outcome.next_check_ns = self.outcome.next_check_ns.min(at_ns);
    }

    /// Kicks a core whose earliest timer is late by more than the threshold; reports it if it
    /// is still late that same deadline `unresponsive_ns` after the kick.
    fn check_timers(&mut self, core: usize, watch: &mut CoreWatch, deadline_ns: u64) {
        if deadline_ns == NO_DEADLINE {
            return;
        }
        let overdue_after_ns = deadline_ns.saturating_add(self.thresholds.overdue_ns);
        if self.now_ns <= overdue_after_ns {
            self.check_again_at(overdue_after_ns.saturating_add(1));
        } else if watch.kicked_deadline_ns != deadline_ns {
            if self.emit(Action::Kick(core)) {
                watch.kicked_deadline_ns = deadline_ns;
                watch.kicked_at_ns = self.now_ns;
                watch.unresponsive_reported = false;
                self.table.record_kick(core, self.now_ns);
                self.check_again_at(self.now_ns.saturating_add(self.thresholds.unresponsive_ns));
            }
        } else if !watch.unresponsive_reported {
            let give_up_at_ns = watch
                .kicked_at_ns
                .saturating_add(self.thresholds.unresponsive_ns);
            if self.now_ns < give_up_at_ns {
                self.check_again_at(give_up_at_ns);
            } else if self.emit(Action::ReportUnresponsive(UnresponsiveReport {
                core,
                deadline_ns,
                kicked_at_ns: watch.kicked_at_ns,
            })) {
                watch.unresponsive_reported = true;
            }
        }
    }

    /// Remembers when the pass first saw the core's current run: a switch count it had not seen.
    fn note_run(&self, watch: &mut CoreWatch, run: Run) {
        if mark(run.switches) != watch.run_switches {
            watch.run_switches = mark(run.switches);
            watch.run_seen_at_ns = self.now_ns;
            watch.run_retaken = false;
        }
    }

    /// Retakes a task run that reached the force-preempt limit, once per run.
    fn check_run_length(&mut self, core: usize, watch: &mut CoreWatch, task: Option<u32>) {
        if task.is_none() || watch.run_retaken {
            return;
        }
        let limit_at_ns = watch
            .run_seen_at_ns
            .saturating_add(self.thresholds.force_preempt_ns);
        if self.now_ns < limit_at_ns {
            self.check_again_at(limit_at_ns);
        } else if self.emit(Action::Retake(core)) {
            watch.run_retaken = true;
        }
    }

    /// Reports a core that runs a task and whose heartbeat has not moved for the stall limit,
    /// once per silence. An idle core is never stalled: it may sleep with its timer off.
    fn check_heartbeat(&mut self, core: usize, watch: &mut CoreWatch, task: Option<u32>) {
        let heartbeat = self.table.heartbeat(core);
        let Some(task) = task.filter(|_| mark(heartbeat) == watch.heartbeat) else {
            watch.heartbeat = mark(heartbeat);
            watch.heartbeat_seen_at_ns = self.now_ns;
            watch.stall_reported = false;
            return;
        };
        if watch.stall_reported {
            return;
        }
        // Starting the run was progress too, and may be more recent than the heartbeat.
        let silent_since_ns = watch.heartbeat_seen_at_ns.max(watch.run_seen_at_ns);
        let stall_at_ns = silent_since_ns.saturating_add(self.thresholds.stall_ns);
        if self.now_ns < stall_at_ns {
            self.check_again_at(stall_at_ns);
        } else if self.emit(Action::ReportStall(StallReport {
            core,
            task,
            run_seen_at_ns: watch.run_seen_at_ns,
            heartbeat,
            silent_for_ns: self.now_ns - silent_since_ns,
        })) {
            watch.stall_reported = true;
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::registry::CoreState;
    use crate::registry::test_clock;

    const CORES: usize = 4;
    const MS: u64 = 1_000_000;
    const THRESHOLDS: Thresholds = Thresholds {
        overdue_ns: MS,
        unresponsive_ns: 10 * MS,
        force_preempt_ns: FORCE_PREEMPT_NS,
        stall_ns: 100 * MS,
    };

    /// One pass into a fresh outcome.
    fn scan_once<const C: usize>(
        table: &CoreTable<C>,
        memory: &mut ScanMemory<C>,
        probe: &impl CoreProbe,
        now_ns: u64,
        thresholds: &Thresholds,
    ) -> ScanOutcome {
        let mut outcome = ScanOutcome::new();
        scan(table, memory, probe, now_ns, thresholds, &mut outcome);
        outcome
    }

    /// Cores with settable deadlines; asking for the deadline of a core that is not online fails
    /// the test, so the scan is shown to skip those entries.
    struct Cores {
        table: CoreTable<CORES>,
        memory: ScanMemory<CORES>,
        deadlines: [u64; CORES],
    }

    impl Cores {
        fn online(count: usize) -> Self {
            let table = CoreTable::new(test_clock::now);
            for core in 0..count {
                table.change_state(core, CoreState::Starting).unwrap();
                table.change_state(core, CoreState::Online).unwrap();
            }
            Self {
                table,
                memory: ScanMemory::new(),
                deadlines: [NO_DEADLINE; CORES],
            }
        }

        fn scan(&mut self, now_ns: u64) -> ScanOutcome {
            let deadlines = self.deadlines;
            let states: [CoreState; CORES] = core::array::from_fn(|core| self.table.state(core));
            let probe = |core: usize| {
                assert_eq!(states[core], CoreState::Online, "read a core not online");
                deadlines[core]
            };
            scan_once(&self.table, &mut self.memory, &probe, now_ns, &THRESHOLDS)
        }
    }

    fn actions(outcome: &ScanOutcome) -> &[Action] {
        outcome.actions.as_slice()
    }

    #[test]
    fn entries_not_online_are_skipped() {
        let mut cores = Cores::online(1);
        cores.table.change_state(1, CoreState::Starting).unwrap();
        cores.table.change_state(2, CoreState::Starting).unwrap();
        cores.table.change_state(2, CoreState::Online).unwrap();
        cores
            .table
            .change_state(2, CoreState::GoingOffline)
            .unwrap();
        cores.deadlines = [50 * MS, 1, 1, 1];
        cores.table.publish_switch(1, Some(9));
        let outcome = cores.scan(40 * MS);
        assert_eq!(actions(&outcome), []);
        assert_eq!(outcome.online_cores, 1);
        assert_eq!(outcome.earliest_deadline_ns, 50 * MS);
        assert_eq!(outcome.next_check_ns, 51 * MS + 1);
        assert!(!outcome.found_work());
    }

    #[test]
    fn no_online_core_means_no_deadline_and_nothing_to_check() {
        let mut cores = Cores::online(0);
        let outcome = cores.scan(MS);
        assert_eq!(outcome.earliest_deadline_ns, NO_DEADLINE);
        assert_eq!(outcome.next_check_ns, NO_DEADLINE);
        assert_eq!(outcome.online_cores, 0);
    }

    #[test]
    fn kicks_only_past_the_threshold_then_reports_once() {
        let mut cores = Cores::online(2);
        cores.deadlines[1] = 10 * MS;
        assert_eq!(actions(&cores.scan(11 * MS)), []);
        assert_eq!(actions(&cores.scan(11 * MS + 1)), [Action::Kick(1)]);
        assert_eq!(cores.table.last_kick_ns(1), 11 * MS + 1);
        let waiting = cores.scan(12 * MS);
        assert_eq!(actions(&waiting), []);
        assert_eq!(waiting.next_check_ns, 21 * MS + 1);
        assert_eq!(
            actions(&cores.scan(21 * MS + 1)),
            [Action::ReportUnresponsive(UnresponsiveReport {
                core: 1,
                deadline_ns: 10 * MS,
                kicked_at_ns: 11 * MS + 1,
            })]
        );
        assert_eq!(actions(&cores.scan(500 * MS)), []);
        cores.deadlines[1] = 600 * MS;
        assert_eq!(actions(&cores.scan(602 * MS)), [Action::Kick(1)]);
    }

    #[test]
    fn one_retake_per_long_run() {
        let mut cores = Cores::online(1);
        cores.table.publish_switch(0, Some(3));
        let first_seen = cores.scan(100 * MS);
        assert_eq!(actions(&first_seen), []);
        assert_eq!(first_seen.next_check_ns, 110 * MS);
        assert_eq!(actions(&cores.scan(109 * MS)), []);
        assert_eq!(actions(&cores.scan(110 * MS)), [Action::Retake(0)]);
        assert_eq!(actions(&cores.scan(115 * MS)), []);
        // Another run of the same task is another run: timed from the pass that sees it.
        cores.table.publish_switch(0, Some(3));
        assert_eq!(actions(&cores.scan(116 * MS)), []);
        assert_eq!(actions(&cores.scan(125 * MS)), []);
        assert_eq!(actions(&cores.scan(126 * MS)), [Action::Retake(0)]);
        cores.table.publish_switch(0, None);
        assert_eq!(actions(&cores.scan(500 * MS)), []);
    }

    #[test]
    fn stall_after_the_limit_with_task_and_silence() {
        let mut cores = Cores::online(2);
        let thresholds = Thresholds {
            force_preempt_ns: NO_DEADLINE,
            ..THRESHOLDS
        };
        let no_deadline = |_core: usize| NO_DEADLINE;
        let mut pass = |now_ns| {
            scan_once(
                &cores.table,
                &mut cores.memory,
                &no_deadline,
                now_ns,
                &thresholds,
            )
        };
        cores.table.publish_switch(1, Some(42));
        cores.table.publish_heartbeat(1);
        assert_eq!(actions(&pass(10 * MS)), []);
        let quiet = pass(109 * MS);
        assert_eq!(actions(&quiet), []);
        assert_eq!(quiet.next_check_ns, 110 * MS);
        let expected = Action::ReportStall(StallReport {
            core: 1,
            task: 42,
            run_seen_at_ns: 10 * MS,
            heartbeat: 1,
            silent_for_ns: 100 * MS,
        });
        assert_eq!(actions(&pass(110 * MS)), [expected]);
        assert_eq!(actions(&pass(300 * MS)), []);
        cores.table.publish_heartbeat(1);
        assert_eq!(actions(&pass(301 * MS)), []);
        assert_eq!(actions(&pass(400 * MS)), []);
        assert_eq!(actions(&pass(401 * MS)).len(), 1);
    }

    #[test]
    fn an_idle_core_never_stalls() {
        let mut cores = Cores::online(1);
        assert_eq!(actions(&cores.scan(MS)), []);
        assert_eq!(actions(&cores.scan(10_000 * MS)), []);
        cores.table.publish_switch(0, Some(1));
        assert_eq!(actions(&cores.scan(10_095 * MS)), []);
        assert_eq!(actions(&cores.scan(10_104 * MS)), []);
        assert_eq!(actions(&cores.scan(10_105 * MS)), [Action::Retake(0)]);
        assert_eq!(cores.scan(10_194 * MS).next_check_ns, 10_195 * MS);
        assert!(matches!(
            actions(&cores.scan(10_195 * MS)),
            [Action::ReportStall(StallReport {
                core: 0,
                silent_for_ns: 100_000_000,
                ..
            })]
        ));
    }

    #[test]
    fn a_core_that_comes_back_is_watched_afresh() {
        let mut cores = Cores::online(1);
        cores.table.publish_switch(0, Some(1));
        assert_eq!(actions(&cores.scan(MS)), []);
        assert_eq!(actions(&cores.scan(20 * MS)), [Action::Retake(0)]);
        for state in [
            CoreState::GoingOffline,
            CoreState::Offline,
            CoreState::Starting,
        ] {
            cores.table.change_state(0, state).unwrap();
        }
        assert_eq!(cores.scan(30 * MS).online_cores, 0);
        cores.table.change_state(0, CoreState::Online).unwrap();
        let first = cores.scan(200 * MS);
        assert_eq!(actions(&first), []);
        assert_eq!(first.next_check_ns, 210 * MS);
        assert_eq!(actions(&cores.scan(210 * MS)), [Action::Retake(0)]);
    }

    #[test]
    fn a_full_pass_defers_the_rest_to_the_next_pass() {
        let table = CoreTable::<{ ACTIONS_PER_PASS + 2 }>::new(test_clock::now);
        let mut memory = ScanMemory::new();
        for core in 0..ACTIONS_PER_PASS + 2 {
            table.change_state(core, CoreState::Starting).unwrap();
            table.change_state(core, CoreState::Online).unwrap();
        }
        let overdue = |_core: usize| 1;
        let first = scan_once(&table, &mut memory, &overdue, MS + 2, &THRESHOLDS);
        assert_eq!(first.actions.len(), ACTIONS_PER_PASS);
        assert!(first.deferred && first.found_work());
        let second = scan_once(&table, &mut memory, &overdue, MS + 3, &THRESHOLDS);
        assert_eq!(
            actions(&second),
            [
                Action::Kick(ACTIONS_PER_PASS),
                Action::Kick(ACTIONS_PER_PASS + 1)
            ]
        );
        assert!(!second.deferred);
    }

    #[test]
    fn the_pass_reads_the_cores_with_no_lock_held_and_holds_the_table_lock_briefly() {
        let mut cores = Cores::online(2);
        test_clock::set(1_000);
        let probe = |_core: usize| {
            let this_core = crate::arch::core_id();
            // A test thread numbered past the table keeps a record `held_locks` cannot see.
            if crate::sync::rank_check_enabled() && this_core < crate::MAX_CORES {
                assert_eq!(crate::sync::held_locks(this_core).as_slice(), []);
            }
            test_clock::set(test_clock::now() + 300);
            NO_DEADLINE
        };
        scan_once(&cores.table, &mut cores.memory, &probe, 1_000, &THRESHOLDS);
        assert_eq!(test_clock::now(), 1_600, "both cores were read");
        assert_eq!(cores.table.longest_hold_ns(), 0);
    }

    #[test]
    fn a_state_change_between_passes_is_seen_by_the_next_pass() {
        let mut cores = Cores::online(2);
        cores.table.publish_switch(1, Some(7));
        assert_eq!(actions(&cores.scan(MS)), []);
        assert_eq!(actions(&cores.scan(20 * MS)), [Action::Retake(1)]);
        for state in [
            CoreState::GoingOffline,
            CoreState::Offline,
            CoreState::Starting,
            CoreState::Online,
        ] {
            cores.table.change_state(1, state).unwrap();
        }
        let again = cores.scan(21 * MS);
        assert_eq!(again.online_cores, 2);
        assert_eq!(actions(&again), []);
        assert_eq!(
            actions(&cores.scan(31 * MS)),
            [Action::Retake(1)],
            "the new incarnation is watched afresh"
        );
    }
}
