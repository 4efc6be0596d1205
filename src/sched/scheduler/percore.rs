//! Each core's scheduler state: what it runs, its idle task, its slice, its counters, and the
//! settings every core shares (how many cores schedule, the slice length).

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use super::queues::RUN_QUEUE_CAPACITY;
use super::switch::start_run;
use super::task::{NO_TASK, TaskId, task};
use crate::MAX_CORES;
use crate::arch;
use crate::sched::inbox::Inbox;
use crate::sched::ring::Ring;
use crate::sched::stealable::StealCount;
use crate::sched::wake_request::WakeRequest;
use crate::sync::CachePadded;

/// One core's scheduler state, kept in a [`CachePadded`] (the owner writes it on every
/// switch; other cores read the hints).
pub(super) struct CoreSched {
    /// The run queue: only this core pushes and pops, other cores steal (`queues.rs`).
    pub(super) ring: Ring<RUN_QUEUE_CAPACITY>,
    /// An urgent task that runs before the ring's (only this core touches it; `NO_TASK`: none).
    pub(super) urgent: AtomicU32,
    /// Tasks other cores made runnable for this core, pushed without a lock; this core moves
    /// them onto its run queue when it next picks a task.
    pub(super) inbox: Inbox,
    /// How many of the ring's tasks may be stolen (never fewer than thieves can take).
    pub(super) movable: StealCount,
    /// An idle core's request, when it found tasks counted in `movable` that it could not take
    /// yet and went to sleep: this core wakes an idle core once they can be taken
    /// (`steal::wake_waiting_thief`).
    pub(super) thief_waits: WakeRequest,
    pub(super) current: AtomicU32,
    pub(super) idle_task: AtomicU32,
    /// Set by the timer tick or a retake; honoured when the interrupt returns.
    pub(super) need_resched: AtomicBool,
    /// In the idle loop and about to sleep: wakers must send an SGI.
    pub(super) idle: AtomicBool,
    /// Asked to go offline (hotplug): run nothing more, hand everything over, power off.
    pub(super) going_offline: AtomicBool,
    pub(super) random: AtomicU64,
    /// The core's switch count (published in the core registry) when its current slice
    /// started: the tick compares it to tell whether the run it ends had the whole slice.
    pub(super) slice_switches: AtomicU64,
    pub(super) preemptions: AtomicU64,
    pub(super) steals: AtomicU64,
}

impl CoreSched {
    pub(super) const fn new() -> Self {
        Self {
            ring: Ring::new(),
            urgent: AtomicU32::new(NO_TASK),
            inbox: Inbox::new(),
            movable: StealCount::new(),
            thief_waits: WakeRequest::new(),
            current: AtomicU32::new(NO_TASK),
            idle_task: AtomicU32::new(NO_TASK),
            need_resched: AtomicBool::new(false),
            idle: AtomicBool::new(false),
            going_offline: AtomicBool::new(false),
            random: AtomicU64::new(0),
            slice_switches: AtomicU64::new(0),
            preemptions: AtomicU64::new(0),
            steals: AtomicU64::new(0),
        }
    }
}

pub(super) static CORES: [CachePadded<CoreSched>; MAX_CORES] =
    [const { CachePadded::new(CoreSched::new()) }; MAX_CORES];

/// Cores running the scheduler: `0..ACTIVE_CORES`.
pub(super) static ACTIVE_CORES: AtomicUsize = AtomicUsize::new(1);

/// The time slice, ns (bootarg `slice-ms`).
pub(super) static SLICE_NS: AtomicU64 = AtomicU64::new(10_000_000);

/// Sets the time slice (bootarg `slice-ms`) and how many cores the scheduler will run on.
pub fn configure(slice_ns: u64, cores: usize) {
    SLICE_NS.store(slice_ns, Ordering::Relaxed);
    ACTIVE_CORES.store(cores, Ordering::Relaxed);
}

/// The id of the task running on this core.
pub fn current_id() -> TaskId {
    CORES[arch::core_id()].current.load(Ordering::Relaxed)
}

/// The task running on `core`, if the scheduler runs there.
pub fn current_on(core: usize) -> Option<TaskId> {
    Some(CORES[core].current.load(Ordering::Relaxed)).filter(|id| *id != NO_TASK)
}

/// Makes the calling core's boot thread its first task and records its idle task.
pub fn start_scheduling_here(current: TaskId, idle: TaskId) {
    let core = arch::core_id();
    let state = &CORES[core];
    state
        .random
        .store(0x9e37_79b9_7f4a_7c15 ^ (core as u64 + 1), Ordering::Relaxed);
    state.idle_task.store(idle, Ordering::Relaxed);
    state.going_offline.store(false, Ordering::Relaxed);
    state.inbox.reopen();
    state.current.store(current, Ordering::Release);
    start_run(core, current, current == idle);
    arch::set_stack_guard(task(current).guard_page());
}
