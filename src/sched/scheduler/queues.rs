//! Where runnable tasks wait: each core's run queue (rank `RunQueue`), which only its owner
//! pops in the common case, and the global queue (rank `GlobalSched`), which takes what a full
//! core queue cannot hold and has room for every task, so a wake-up is never lost. Also the
//! hand-over of a departing core's queue.

use core::sync::atomic::{AtomicUsize, Ordering};

use super::coreset::CoreSet;
use super::idle::notify;
use super::percore::CORES;
use super::switch::request_reschedule;
use super::task::{Affinity, TaskId, task};
use crate::sched::runqueue::RunQueue;
use crate::sync::{IrqSpinLock, LockRank};

/// Runnable tasks each core's own queue holds; more go to the global queue.
pub const RUN_QUEUE_CAPACITY: usize = 512;
/// Runnable tasks the global queue holds: every task there can be, so it never overflows and
/// a wake-up is never lost.
pub const GLOBAL_QUEUE_CAPACITY: usize = super::task::MAX_TASKS;

/// A core's run queue, counting the tasks in it that other cores may steal.
pub(super) struct CoreRunQueue {
    pub(super) tasks: RunQueue<TaskId, RUN_QUEUE_CAPACITY>,
    pub(super) movable: usize,
    /// The core is going offline: pushes are refused and go elsewhere.
    pub(super) closed: bool,
}

pub(super) fn is_movable(id: TaskId) -> bool {
    task(id).affinity() == Affinity::Any
}

impl CoreRunQueue {
    pub(super) const fn new() -> Self {
        Self {
            tasks: RunQueue::new(),
            movable: 0,
            closed: false,
        }
    }

    /// Queues `id` at the back, or at the front when `ahead` (an urgent task waking up).
    pub(super) fn push(&mut self, id: TaskId, ahead: bool) -> Result<(), TaskId> {
        if self.closed {
            return Err(id);
        }
        if ahead {
            self.tasks.push_front(id)?;
        } else {
            self.tasks.push(id)?;
        }
        self.movable += usize::from(is_movable(id));
        Ok(())
    }

    pub(super) fn pop(&mut self) -> Option<TaskId> {
        let id = self.tasks.pop()?;
        self.movable -= usize::from(is_movable(id));
        Some(id)
    }

    /// Gives a thief about half of the movable tasks. Never one still on a core: the core
    /// switching away from it could itself be waiting, with interrupts masked, for a task this
    /// thief's core is switching away from (two cores stealing each other's just-woken tasks
    /// deadlocked that way). The owner runs it instead, or a later steal takes it.
    pub(super) fn steal_half(&mut self, sink: impl FnMut(TaskId) -> Result<(), TaskId>) {
        self.movable -= self
            .tasks
            .steal_half(sink, |id| is_movable(*id) && !task(*id).is_on_core());
    }
}

pub(super) struct Global {
    pub(super) queue: RunQueue<TaskId, GLOBAL_QUEUE_CAPACITY>,
}

pub(super) static GLOBAL: IrqSpinLock<Global> = IrqSpinLock::new(
    LockRank::GlobalSched,
    Global {
        queue: RunQueue::new(),
    },
);

/// The global queue's length, for the scheduler's report (which must not take the lock); the
/// counts below are what idle cores and thieves decide by.
pub(super) static GLOBAL_QUEUED: AtomicUsize = AtomicUsize::new(0);

/// How many of the global queue's tasks any core may run, and how many wait for each core they
/// are pinned to (a full core queue's overflow): what an idle core checks before it sleeps.
static GLOBAL_MOVABLE: AtomicUsize = AtomicUsize::new(0);
static GLOBAL_PINNED: [AtomicUsize; crate::MAX_CORES] =
    [const { AtomicUsize::new(0) }; crate::MAX_CORES];

/// The cores whose run queues hold tasks other cores may steal: `core` is a member exactly
/// while its published `movable` count is above 0. Thieves find victims here in a few words at
/// any core count, instead of visiting every core.
pub(super) static STEALABLE: CoreSet = CoreSet::new();

/// How many cores are in [`STEALABLE`], counted after each one joins and before it leaves: the
/// one word that a core about to sleep, or about to look for a victim, reads first.
pub(super) static STEALABLE_CORES: AtomicUsize = AtomicUsize::new(0);

/// Publishes `core`'s queue: its length, and its place in the stealable set. Call with `core`'s
/// run-queue lock held, so each core's publications (and its set membership) change in the
/// order of its queue's changes. Sequentially consistent, pairing with `idle` as `idle.rs`
/// explains: a waker stores the new length (and counts its core stealable) and then reads
/// `idle`, an idle core stores `idle` and then reads the lengths and the stealable count, so at
/// least one of them sees the other and the work is never slept on. The per-core stealable
/// count itself is for reports.
pub(super) fn publish_queued(core: usize, queue: &CoreRunQueue) {
    let state = &CORES[core];
    // Only the lock holder writes the count, so this reads the last count published.
    let was = state.movable.load(Ordering::Relaxed);
    if was != queue.movable {
        state.movable.store(queue.movable, Ordering::Relaxed);
        if was == 0 {
            STEALABLE.insert(core);
            STEALABLE_CORES.fetch_add(1, Ordering::SeqCst);
        } else if queue.movable == 0 {
            STEALABLE_CORES.fetch_sub(1, Ordering::SeqCst);
            STEALABLE.remove(core);
        }
    }
    state.queued.store(queue.tasks.len(), Ordering::SeqCst);
}

/// Puts `id` on `core`'s run queue, or on the global queue when that one is full (the global
/// queue has room for every task, so this cannot fail), and tells `core` about it.
pub fn enqueue(core: usize, id: TaskId) {
    let (pushed, closed) = {
        let mut queue = CORES[core].run_queue.lock();
        let pushed = queue.push(id, task(id).is_urgent()).is_ok();
        crate::sync::perturb::point(crate::sync::perturb::Site::Publish);
        publish_queued(core, &queue);
        (pushed, queue.closed)
    };
    if closed {
        // The core is going offline: the task goes where its work is being moved.
        return adopt_from_offline_core(core, id);
    }
    if !pushed {
        push_global(id);
    }
    if task(id).is_urgent() {
        // It goes first on its queue; the core reschedules now rather than at its slice end.
        request_reschedule(core);
    } else {
        notify(core, is_movable(id));
    }
}

/// Places a task that was queued on (or headed for) `core`, which is going offline, on the core
/// that takes over its work; a task pinned there is re-pinned, with a warning.
pub(super) fn adopt_from_offline_core(core: usize, id: TaskId) {
    let heir = crate::sched::hotplug::heir_core();
    if task(id).affinity() == Affinity::Core(core) {
        log::warn!(
            "task {} ({}) was pinned to core {core}, which goes offline: now pinned to core {heir}",
            id,
            task(id).name()
        );
        task(id).pin_to(heir);
    }
    enqueue(heir, id);
}

/// The core a task in the global queue waits for: `None` for a movable task (any core may run
/// it), its own core for a pinned one.
fn global_owner(id: TaskId) -> Option<usize> {
    match task(id).affinity() {
        Affinity::Core(owner) => Some(owner),
        Affinity::Any => None,
    }
}

/// The global queue's count of tasks waiting for `owner` ([`GLOBAL_MOVABLE`] for `None`).
fn global_count(owner: Option<usize>) -> &'static AtomicUsize {
    owner.map_or(&GLOBAL_MOVABLE, |core| &GLOBAL_PINNED[core])
}

/// Adds `delta` to one of the global queue's counts. Call with the global lock held (so a plain
/// load and store suffice); the store is sequentially consistent, pairing with `idle`.
fn count_global(owner: Option<usize>, delta: isize) {
    let count = global_count(owner);
    count.store(
        count.load(Ordering::Relaxed).wrapping_add_signed(delta),
        Ordering::SeqCst,
    );
}

/// Puts `id` on the global queue (a full core queue's overflow, or a thief's loot with no room
/// left). A task pinned to a core that is going offline goes to that core's heir instead: the
/// departing core has emptied, or is about to empty, its share of the global queue.
pub(super) fn push_global(id: TaskId) {
    let owner = global_owner(id);
    let mut global = GLOBAL.lock();
    if let Some(core) = owner.filter(|core| CORES[*core].going_offline.load(Ordering::Acquire)) {
        drop(global);
        return adopt_from_offline_core(core, id);
    }
    // The global queue has a place for every task slot, and a task is queued once: a refusal
    // is a bug that would lose the task, so it stops the kernel rather than go unnoticed.
    assert!(
        global.queue.push(id).is_ok(),
        "global run queue overflow: task {id} lost"
    );
    count_global(owner, 1);
    GLOBAL_QUEUED.store(global.queue.len(), Ordering::Relaxed);
}

/// Takes the oldest task in the global queue that `core` may run: a movable one or one pinned
/// to `core`. Tasks pinned to other cores stay for their own cores, so an idle core neither
/// bounces them nor stays awake for them.
pub(super) fn take_global(core: usize) -> Option<TaskId> {
    if !global_has_work_for(core) {
        return None;
    }
    take_global_where(|owner| owner.is_none_or(|owner| owner == core))
}

/// Takes the oldest task in the global queue pinned to `core`, which is going offline.
fn take_global_pinned(core: usize) -> Option<TaskId> {
    take_global_where(|owner| owner == Some(core))
}

/// Takes the oldest task in the global queue whose owner (see [`global_owner`]) `wanted`
/// accepts, never one still on a core (a yield's overflow), for the reason `steal_half` gives.
fn take_global_where(wanted: impl Fn(Option<usize>) -> bool) -> Option<TaskId> {
    let mut global = GLOBAL.lock();
    let next = global
        .queue
        .take_first(|id| wanted(global_owner(*id)) && !task(*id).is_on_core())?;
    count_global(global_owner(next), -1);
    GLOBAL_QUEUED.store(global.queue.len(), Ordering::Relaxed);
    Some(next)
}

/// Whether the global queue holds a task `core` may run. Lock-free; sequentially consistent,
/// pairing with the stores in `push_global` as the run-queue lengths do with `idle`.
pub(super) fn global_has_work_for(core: usize) -> bool {
    GLOBAL_MOVABLE.load(Ordering::SeqCst) > 0 || GLOBAL_PINNED[core].load(Ordering::SeqCst) > 0
}

/// Closes this core's run queue and moves every task on it, and every task in the global queue
/// pinned to it, to the heir core. Returns how many.
pub(super) fn hand_over_queue(core: usize) -> usize {
    let mut moved = 0;
    // `going_offline` is set, so no task pinned here joins the global queue any more.
    while let Some(id) = take_global_pinned(core) {
        adopt_from_offline_core(core, id);
        moved += 1;
    }
    loop {
        let next = {
            let mut queue = CORES[core].run_queue.lock();
            queue.closed = true;
            let next = queue.pop();
            publish_queued(core, &queue);
            next
        };
        let Some(id) = next else {
            return moved;
        };
        adopt_from_offline_core(core, id);
        moved += 1;
    }
}
