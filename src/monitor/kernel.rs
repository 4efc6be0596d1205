//! The monitor on the board: the core table every core publishes to, the monitor task on the
//! monitor core, and the buddy core that watches the monitor itself.
//!
//! Everything here only carries out what the portable parts decide: [`Monitor::pass`] scans
//! under the core-table lock alone, and its actions (SGIs, reports) run after the pass, with
//! no lock held.

use core::cell::UnsafeCell;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use core::time::Duration;

use super::{Action, Monitor, MonitorCounters, StallReport, Thresholds};
use crate::arch;
use crate::registry::CORE_TABLE;
use crate::sched::{self, SpawnOptions, scheduler, task};
use crate::timer::{self, PeriodicTimer};

/// The monitor's counters, printed at shutdown.
pub static COUNTERS: MonitorCounters = MonitorCounters::new();

/// The monitor's memory between passes: too large for a task stack, used by the one monitor
/// task only (the `STARTED` flag guarantees there is one).
struct MonitorCell(UnsafeCell<Option<Monitor>>);

// SAFETY: only the single monitor task, started once, ever touches the cell.
unsafe impl Sync for MonitorCell {}

static MONITOR: MonitorCell = MonitorCell(UnsafeCell::new(None));
static STARTED: AtomicBool = AtomicBool::new(false);
static MONITOR_CORE: AtomicUsize = AtomicUsize::new(usize::MAX);
static STALL_LIMIT_NS: AtomicU64 = AtomicU64::new(0);
static BUDDY_REPORTS: AtomicU64 = AtomicU64::new(0);
static CONTINUOUS: AtomicBool = AtomicBool::new(false);

/// Makes the monitor scan back to back (yielding between passes) instead of backing off, for
/// stress tests that want it to race with every other core.
pub fn scan_continuously(continuous: bool) {
    CONTINUOUS.store(continuous, Ordering::Relaxed);
}

/// The stall limit the monitor and the buddy use (bootarg `stall-ms`).
pub fn stall_limit_ns() -> u64 {
    STALL_LIMIT_NS.load(Ordering::Relaxed)
}

/// How many times the buddy reported the monitor silent.
pub fn buddy_reports() -> u64 {
    BUDDY_REPORTS.load(Ordering::Relaxed)
}

/// The core the monitor runs on (`usize::MAX` before it starts).
pub fn monitor_core() -> usize {
    MONITOR_CORE.load(Ordering::Relaxed)
}

/// The core that watches the monitor, if any.
pub fn buddy_core() -> Option<usize> {
    CORE_TABLE.buddy_of(monitor_core())
}

/// Starts the monitor task pinned to `core`, with a stall limit of `stall_ns`, and arms the
/// buddy's periodic check on the next online core. Called once, by the boot core.
pub fn start(core: usize, stall_ns: u64) {
    if STARTED.swap(true, Ordering::AcqRel) {
        return;
    }
    MONITOR_CORE.store(core, Ordering::Relaxed);
    STALL_LIMIT_NS.store(stall_ns, Ordering::Relaxed);
    let thresholds = Thresholds {
        stall_ns,
        ..Thresholds::DEFAULT
    };
    // SAFETY: `STARTED` was false, so no monitor task exists yet to use the cell.
    unsafe { *MONITOR.0.get() = Some(Monitor::new(thresholds)) };
    if sched::spawn(
        SpawnOptions::named("monitor").on_core(core).urgent(),
        monitor_loop,
    )
    .is_err()
    {
        log::error!("monitor: could not start its task on core {core}");
        return;
    }
    if let Some(buddy) = buddy_core() {
        let first = arch::now_ns().saturating_add(BUDDY.period_ns());
        if BUDDY.start_on(buddy, first).is_err() {
            log::error!("monitor: could not arm the buddy check on core {buddy}");
        }
    }
    log::info!(
        "monitor: on core {core}, watched by core {:?}; stall limit {} ms",
        buddy_core(),
        stall_ns / 1_000_000
    );
}

fn monitor_loop() {
    // SAFETY: this is the one monitor task (see `start`); nothing else touches the cell.
    let Some(monitor) = (unsafe { &mut *MONITOR.0.get() }).as_mut() else {
        return;
    };
    let probe = |core: usize| timer::earliest_deadline(core);
    loop {
        #[cfg(feature = "legacy-monitor-lock-order")]
        legacy_pass();
        let pass = monitor.pass(&CORE_TABLE, &probe, &COUNTERS);
        crate::trace::record!(monitor_pass(pass.outcome.actions.len()));
        log::trace!(
            "monitor: pass done, {} actions; next pass in {} us",
            pass.outcome.actions.len(),
            pass.sleep_ns / 1000
        );
        for action in &pass.outcome.actions {
            carry_out(action);
        }
        if super::hold::after_pass() {
            continue;
        }
        if CONTINUOUS.load(Ordering::Relaxed) {
            sched::yield_now();
        } else {
            sched::sleep_for(Duration::from_nanos(pass.sleep_ns));
        }
    }
}

/// The 2019 order (feature `legacy-monitor-lock-order`, for the regression test only): the
/// global scheduler lock, then each core's timer-queue lock.
#[cfg(feature = "legacy-monitor-lock-order")]
fn legacy_pass() {
    // Every core that has a timer queue (the 2019 pass did not ask which were online).
    let queues = (0..crate::MAX_CORES).filter_map(timer::queue_lock);
    super::earliest_deadline_2019(scheduler::global_lock(), queues);
}

fn carry_out(action: &Action) {
    crate::trace::record!(=> traced(action));
    match action {
        Action::Kick(core) => {
            log::debug!("monitor: kicking core {core}: its timer deadline has passed");
            CORE_TABLE.record_kick(*core, arch::now_ns());
            arch::send_reschedule(*core);
        }
        Action::Retake(core) => {
            log::debug!("monitor: retaking core {core}: its task ran past its time slice");
            scheduler::request_reschedule(*core);
        }
        Action::ReportStall(report) => {
            let mut line = heapless::String::<512>::new();
            let _ = write_stall_report(&mut line, report);
            log::error!("{line}");
        }
        Action::ReportUnresponsive(report) => log::error!(
            "monitor: core {} is unresponsive: its timer was due at {} us, kicked at {} us, still not run",
            report.core,
            report.deadline_ns / 1000,
            report.kicked_at_ns / 1000
        ),
    }
}

/// The timeline's record of the monitor carrying out `action`.
#[cfg(feature = "trace")]
fn traced(action: &Action) -> crate::trace::Event {
    use crate::trace::{Event, MonitorAction};
    let (action, core) = match action {
        Action::Kick(core) => (MonitorAction::Kick, *core),
        Action::Retake(core) => (MonitorAction::Retake, *core),
        Action::ReportStall(report) => (MonitorAction::Stall, report.core),
        Action::ReportUnresponsive(report) => (MonitorAction::Unresponsive, report.core),
    };
    Event::monitor_action(action, core)
}

/// `stall: core 3 made no progress for 1002 ms; task 'spinner' (11774) seen running since 12 ms;
/// holds [run_queue]; PC at last interrupt 0x4008abcd`: the pass's report, with the locks the
/// core holds and the PC it published at its last interrupt read now, after the pass.
fn write_stall_report(out: &mut impl Write, report: &StallReport) -> core::fmt::Result {
    let task = report.task;
    let name = if (task as usize) < task::MAX_TASKS {
        task::task(task).name()
    } else {
        "?"
    };
    write!(
        out,
        "stall: core {} made no progress for {} ms; task '{name}' ({task}) seen running since {} ms; holds [",
        report.core,
        report.silent_for_ns / 1_000_000,
        report.run_seen_at_ns / 1_000_000
    )?;
    for (index, rank) in crate::sync::held_locks(report.core).iter().enumerate() {
        let separator = if index == 0 { "" } else { ", " };
        write!(out, "{separator}{}", rank.name())?;
    }
    write!(
        out,
        "]; PC at last interrupt {:#x}",
        CORE_TABLE.interrupt_pc(report.core)
    )
}

/// The buddy's periodic check that the monitor still completes passes.
static BUDDY: PeriodicTimer = PeriodicTimer::new(check_monitor, 0, 250_000_000);

fn check_monitor(_: usize) {
    if !super::hold::watched() {
        return;
    }
    let limit = STALL_LIMIT_NS.load(Ordering::Relaxed);
    if let Some(silence) = COUNTERS.monitor_silence(arch::now_ns(), limit) {
        BUDDY_REPORTS.fetch_add(1, Ordering::Relaxed);
        log::error!(
            "stall: the monitor on core {} made no pass for {} ms (after {} passes); reported by its buddy, core {}",
            monitor_core(),
            silence.silent_for_ns / 1_000_000,
            silence.passes,
            arch::core_id()
        );
    }
}

/// Prints the monitor's counters (at shutdown) on one line starting with `prefix`. Never
/// inlined: the end of a run's report is where a debugger breaks (`tests/gdb.rs` does), and an
/// inlined copy leaves gdb no function to break on.
#[inline(never)]
pub fn print_counters(prefix: &str) {
    let counters = COUNTERS.snapshot(&CORE_TABLE);
    crate::kprintln!(
        "{prefix}monitor: {} passes, {} kicks, {} retakes, {} stalls, {} unresponsive; longest core-table-lock hold {} ns; pass cost mean {} ns, longest {} ns",
        counters.passes,
        counters.kicks,
        counters.retakes,
        counters.stalls,
        counters.unresponsive,
        counters.longest_lock_hold_ns,
        counters.mean_pass_cost_ns,
        counters.longest_pass_cost_ns
    );
}
