//! Loom models of the lock protocol of two cores and the monitor, built from the kernel's own
//! pieces: [`IrqSpinLock`] (a loom mutex under `cfg(loom)`), [`CoreTable`], [`scan()`],
//! [`TimerQueue`], [`RunQueue`] and the atomics of [`crate::sync::atomic`].
//!
//! The machine: core A has an expired timer whose expiry readies a task; core B is starting.
//! Three threads run at once:
//! - core A takes the expired timer off its queue (timer-queue lock) and wakes the task: under
//!   the global scheduler lock it puts the task on B's run queue if B is online, else on the
//!   global queue (Go's `runtimer -> goready -> wakep`);
//! - core B comes online (core-table lock: `Starting -> Online`), then takes what waits on the
//!   global queue (global lock, then its run-queue lock);
//! - the monitor makes a pass.
//!
//! With the protocol here, A releases its timer-queue lock before waking and the monitor scans
//! under the core-table lock only: loom finds no deadlock, the task always ends on B's queue,
//! and the monitor never reads B's stale published deadline. With the 2019 protocol (A wakes
//! while holding its timer lock; the monitor holds the global lock and takes each timer lock)
//! loom finds the deadlock.
//!
//! `RUSTFLAGS="--cfg loom" cargo test --release -p coresched --lib monitor::` runs both models
//! exhaustively in well under a second (after the build).

use std::sync::Arc;

use loom::thread;

use super::{ScanMemory, ScanOutcome, Thresholds, earliest_deadline_2019, scan};
use crate::registry::{CoreState, CoreTable};
use crate::sched::runqueue::RunQueue;
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::{IrqSpinLock, LockRank};
use crate::timer::NO_DEADLINE;
use crate::timer::queue::TimerQueue;

const CORE_A: usize = 0;
const CORE_B: usize = 1;
/// The time on every clock in the model.
const NOW_NS: u64 = 10_000;
/// Core A's timer: expired at [`NOW_NS`], but not overdue at [`THRESHOLDS`].
const TIMER_DEADLINE_NS: u64 = 9_500;
/// What B's published deadline holds from an earlier life: long overdue, so a monitor that read
/// it while B is starting would kick B.
const STALE_DEADLINE_NS: u64 = 1;
/// The task A's timer readies.
const WOKEN_TASK: u32 = 7;
const THRESHOLDS: Thresholds = Thresholds {
    overdue_ns: 1_000,
    ..Thresholds::DEFAULT
};

/// The lock order being checked.
#[derive(Clone, Copy)]
enum Protocol {
    /// coresched's: no lock held across the wake-up; the monitor takes the core-table lock only.
    Fixed,
    /// Go 1.14's before commit b50fcc88.
    Go2019,
}

struct Machine {
    table: CoreTable<2>,
    /// Each core's published earliest deadline, as `crate::timer` publishes them.
    deadlines: [AtomicU64; 2],
    timer_queues: [IrqSpinLock<TimerQueue<u32, 1>>; 2],
    global_queue: IrqSpinLock<RunQueue<u32, 1>>,
    run_queues: [IrqSpinLock<RunQueue<u32, 1>>; 2],
}

fn model_clock() -> u64 {
    NOW_NS
}

impl Machine {
    fn new() -> Self {
        let table = CoreTable::new(model_clock);
        for state in [CoreState::Starting, CoreState::Online] {
            table.change_state(CORE_A, state).expect("A comes up");
        }
        table
            .change_state(CORE_B, CoreState::Starting)
            .expect("B is starting");
        let mut a_timers = TimerQueue::new();
        a_timers
            .insert(TIMER_DEADLINE_NS, WOKEN_TASK)
            .expect("A's queue has room");
        let timer_queue = |queue| IrqSpinLock::new(LockRank::TimerQueue, queue);
        let run_queue = || IrqSpinLock::new(LockRank::RunQueue, RunQueue::new());
        Self {
            table,
            deadlines: [
                AtomicU64::new(TIMER_DEADLINE_NS),
                AtomicU64::new(STALE_DEADLINE_NS),
            ],
            timer_queues: [timer_queue(a_timers), timer_queue(TimerQueue::new())],
            global_queue: IrqSpinLock::new(LockRank::GlobalSched, RunQueue::new()),
            run_queues: [run_queue(), run_queue()],
        }
    }

    /// Core A's timer interrupt.
    fn fire_timers_on_a(&self, protocol: Protocol) {
        let mut timers = self.timer_queues[CORE_A].lock();
        let expired = timers.pop_expired(NOW_NS);
        let next = timers.earliest_deadline().unwrap_or(NO_DEADLINE);
        self.deadlines[CORE_A].store(next, Ordering::Release);
        if let Protocol::Fixed = protocol {
            drop(timers);
        }
        if let Some((_, task)) = expired {
            self.wake(task);
        }
    }

    /// Readies `task`: onto B's run queue if B is online, else onto the global queue, both
    /// decided and done under the global lock.
    fn wake(&self, task: u32) {
        let mut global = self.global_queue.lock();
        let pushed = if self.table.state(CORE_B) == CoreState::Online {
            self.run_queues[CORE_B].lock().push(task)
        } else {
            global.push(task)
        };
        pushed.expect("the model's queues have room");
    }

    /// Core B's bring-up: publish its deadline, go online, then take the global queue's work.
    fn bring_b_online(&self) {
        self.deadlines[CORE_B].store(NO_DEADLINE, Ordering::Release);
        self.table
            .change_state(CORE_B, CoreState::Online)
            .expect("B was starting");
        let mut global = self.global_queue.lock();
        while let Some(task) = global.pop() {
            let mut own = self.run_queues[CORE_B].lock();
            own.push(task).expect("B's queue has room");
        }
    }

    /// One monitor pass.
    fn monitor_pass(&self, protocol: Protocol) {
        match protocol {
            Protocol::Fixed => {
                let probe = |core: usize| self.deadlines[core].load(Ordering::Acquire);
                let mut outcome = ScanOutcome::new();
                scan(
                    &self.table,
                    &mut ScanMemory::new(),
                    &probe,
                    NOW_NS,
                    &THRESHOLDS,
                    &mut outcome,
                );
                assert_ne!(
                    outcome.earliest_deadline_ns, STALE_DEADLINE_NS,
                    "the monitor read B's stale deadline"
                );
                assert!(outcome.actions.is_empty(), "{:?}", outcome.actions);
            }
            Protocol::Go2019 => {
                earliest_deadline_2019(&self.global_queue, &self.timer_queues);
            }
        }
    }
}

/// Runs the model under `protocol` in every interleaving: no preemption bound (whatever
/// `LOOM_MAX_PREEMPTIONS` says), since the whole space is small (1,835 executions for the
/// protocol here; the 2019 one deadlocks in the 28th). The machine
/// is shared through a `std` `Arc`: the model is about the locks, not the `Arc`, and dropping a
/// loom `Arc` while loom unwinds from a deadlock panics again and aborts the test.
fn check(protocol: Protocol) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = None;
    builder.check(move || {
        let machine = Arc::new(Machine::new());
        let core_a = {
            let machine = Arc::clone(&machine);
            thread::spawn(move || machine.fire_timers_on_a(protocol))
        };
        let core_b = {
            let machine = Arc::clone(&machine);
            thread::spawn(move || machine.bring_b_online())
        };
        machine.monitor_pass(protocol);
        core_a.join().expect("core A panicked");
        core_b.join().expect("core B panicked");
        assert_eq!(
            machine.run_queues[CORE_B].lock().pop(),
            Some(WOKEN_TASK),
            "the wake-up was lost"
        );
        assert!(machine.global_queue.lock().is_empty());
    });
}

#[test]
fn the_protocol_neither_deadlocks_nor_loses_a_wake_up() {
    check(Protocol::Fixed);
}

#[test]
#[should_panic(expected = "deadlock")]
fn the_2019_protocol_deadlocks() {
    check(Protocol::Go2019);
}
