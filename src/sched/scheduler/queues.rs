//! Where runnable tasks wait, and how a task gets there: each core's run queue, a lock-free
//! ring that only its owner pushes and pops and that other cores steal from (`sched::ring`),
//! with an urgent slot ahead of it; each core's lock-free inbox of tasks other cores made
//! runnable for it (`sched::inbox`); the stealable set that thieves and idle cores read; and the
//! global queue (rank `GlobalSched`), which takes what a full ring cannot hold and has room for
//! every task, so a wake-up is never lost. Also the hand-over of a departing core's queues.

use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use super::coreset::CoreSet;
use super::idle::notify;
use super::percore::CORES;
use super::steal::wake_waiting_thief;
use super::switch::request_reschedule;
use super::task::{Affinity, NO_TASK, TaskId, task};
use crate::arch;
use crate::sched::balance::steal_count;
use crate::sched::inbox::Links;
use crate::sched::runqueue::RunQueue;
use crate::sched::stealable::Membership;
use crate::sync::{IrqSpinLock, LockRank};

/// Runnable tasks each core's own ring holds (a power of two); more go to the global queue.
pub const RUN_QUEUE_CAPACITY: usize = 512;
/// Runnable tasks the global queue holds: every task there can be, so it never overflows and
/// a wake-up is never lost.
pub const GLOBAL_QUEUE_CAPACITY: usize = super::task::MAX_TASKS;

/// The most tasks one steal takes: half of a full ring, rounded up.
pub(super) const STEAL_MAX: usize = steal_count(RUN_QUEUE_CAPACITY);

pub(super) fn is_movable(id: TaskId) -> bool {
    task(id).affinity() == Affinity::Any
}

/// The cores whose rings hold tasks other cores may steal: `core` is a member while its
/// `movable` count is above 0 (`sched::stealable`). Thieves find victims here in a few words at
/// any core count, instead of visiting every core.
pub(super) static STEALABLE: CoreSet = CoreSet::new();

/// How many cores are in [`STEALABLE`], counted after each one joins and after it leaves: the
/// one word that a core about to sleep, or about to look for a victim, reads first.
pub(super) static STEALABLE_CORES: AtomicUsize = AtomicUsize::new(0);

/// One core's place in [`STEALABLE`], counted in [`STEALABLE_CORES`].
struct Stealable(usize);

impl Membership for Stealable {
    fn join(&self) -> bool {
        let joined = STEALABLE.insert(self.0);
        if joined {
            STEALABLE_CORES.fetch_add(1, Ordering::SeqCst);
        }
        joined
    }

    fn leave(&self) -> bool {
        let left = STEALABLE.remove(self.0);
        if left {
            STEALABLE_CORES.fetch_sub(1, Ordering::SeqCst);
        }
        left
    }
}

/// Moves `core`'s count of stealable tasks by `delta`, and its place in the stealable set with
/// it. The owner raises the count before a task can be stolen (before it is queued, or before
/// the switch that queued it ends); the owner or a thief lowers it after tasks left.
fn count_stealable(core: usize, delta: isize) {
    CORES[core].movable.add(delta, &Stealable(core));
}

/// The owning core's push onto its own run queue (interrupts masked: nothing else of the owner
/// runs meanwhile): into the urgent slot, ahead of the ring, if `ahead` (an urgent task waking
/// up) and the slot is free; else at the ring's back. Gives `id` back in `Err` when the ring is
/// full.
pub(super) fn push_own(core: usize, id: TaskId, ahead: bool) -> Result<(), TaskId> {
    let state = &CORES[core];
    if ahead && state.urgent.load(Ordering::Relaxed) == NO_TASK {
        state.urgent.store(id, Ordering::Relaxed);
        return Ok(());
    }
    let movable = is_movable(id);
    if !movable {
        return state.ring.push(id);
    }
    // Before the task can be stolen: the count never falls below what thieves take.
    count_stealable(core, 1);
    match state.ring.push(id) {
        Ok(()) => {
            wake_waiting_thief(core);
            Ok(())
        }
        Err(id) => {
            count_stealable(core, -1);
            Err(id)
        }
    }
}

/// The owning core's turn at its own run queue (interrupts masked), for a switch or a hand-over:
/// takes the next task, the urgent slot's or else the ring's oldest, and queues `stopped` (the
/// task the core stops running, if it goes on being runnable) at the ring's back, urgent or
/// not. With nothing queued it gives `stopped` back, to go on, and changes nothing.
///
/// The stealable count moves once, by the difference: a switch between two movable tasks does
/// not touch it. `stopped` is still on this core until the switch ends, so no thief takes it
/// before it is counted.
#[inline]
pub(super) fn next_own(core: usize, stopped: Option<TaskId>) -> Option<TaskId> {
    let state = &CORES[core];
    let urgent = state.urgent.load(Ordering::Relaxed);
    let (next, mut delta) = if urgent != NO_TASK {
        state.urgent.store(NO_TASK, Ordering::Relaxed);
        (urgent, 0)
    } else {
        let Some(next) = state.ring.pop() else {
            return stopped;
        };
        (next, -isize::from(is_movable(next)))
    };
    if let Some(id) = stopped {
        // A pop from the ring left room; a take from the urgent slot may not have.
        match state.ring.push(id) {
            Ok(()) => delta += isize::from(is_movable(id)),
            Err(id) => push_global(id),
        }
    }
    if delta != 0 {
        count_stealable(core, delta);
    }
    Some(next)
}

/// How many tasks wait on `core`'s run queue (a snapshot, for reports).
pub(super) fn queued(core: usize) -> usize {
    let state = &CORES[core];
    state.ring.len() + usize::from(state.urgent.load(Ordering::Relaxed) != NO_TASK)
}

/// A thief's take from `victim`'s ring: the older half (Go's `runqgrab`), up to the first task
/// still switching out on its core. The movable tasks end up at the front of `loot`, oldest
/// first; tasks pinned to `victim` go straight back to it, through its inbox. Returns how many
/// movable tasks it took.
///
/// Never a task still on a core: the core switching away from it could itself be waiting, with
/// interrupts masked, for a task this thief's core is switching away from (two cores stealing
/// each other's just-woken tasks deadlocked that way). On a ring, such a task is the one the
/// victim's switch queued last (`enqueue` sends a task woken while still switching out to its
/// own core's inbox); the steal takes only what is older, and the victim runs it, or a later
/// steal takes it. So a core only ever waits for a task it stopped itself, or one that other
/// cores put on its inbox because it last ran there.
pub(super) fn steal_from(victim: usize, loot: &mut [TaskId; STEAL_MAX]) -> usize {
    let taken = CORES[victim]
        .ring
        .steal(steal_count, |id| task(id).is_on_core(), loot);
    let mut movable = 0;
    for index in 0..taken {
        let id = loot[index];
        if is_movable(id) {
            loot[movable] = id;
            movable += 1;
        } else {
            give_back(victim, id);
        }
    }
    if movable > 0 {
        count_stealable(victim, -(movable as isize));
        crate::trace::record!(steal(victim, movable));
    }
    movable
}

/// Returns `id`, pinned to `victim` and taken off its ring by a steal, to `victim` through its
/// inbox (an SGI wakes it if it went idle meanwhile). A victim going offline has closed its
/// inbox: the task goes to the heir then.
fn give_back(victim: usize, id: TaskId) {
    match CORES[victim].inbox.push(id, &TaskLinks) {
        Ok(()) => notify(victim, false),
        Err(id) => adopt_from_offline_core(victim, id),
    }
}

/// Where the inbox finds a task's link: the task table.
pub(super) struct TaskLinks;

impl Links for TaskLinks {
    fn link(&self, id: u32) -> &AtomicU32 {
        &task(id).inbox_next
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

/// Makes `id` runnable for `core` and tells `core` about it, without a lock unless a ring is
/// full (the task then goes to the global queue, which has room for every task, so this cannot
/// fail):
///
/// - for the calling core itself: its own run queue;
/// - a task pinned to another core, for another core that is idle, or still switching out on
///   its core (it blocked there a moment ago): that core's inbox, which it empties onto its run
///   queue when it next picks a task (an SGI wakes it if it is idle). A task still switching
///   out is then often picked by the very switch that was stopping it, and goes on without a
///   switch at all, as Linux's `ttwu` queues a task still on its CPU on that CPU's wake list;
/// - a task that may run anywhere, for another core that is busy: the calling core's own run
///   queue, where idle cores can steal it at once (Go's `ready` puts it on the waker's queue
///   too), and an idle core is woken.
pub fn enqueue(core: usize, id: TaskId) {
    // Masked, so the core id stays this core's and the owner's push is not interleaved with
    // another push or pop of an interrupt handler on this core.
    let interrupts = arch::irq_save_disable();
    let here = arch::core_id();
    let movable = is_movable(id);
    let target = if core == here
        || (movable
            && !CORES[core].idle.load(Ordering::SeqCst)
            && !task(id).is_on_core()
            && !CORES[here].going_offline.load(Ordering::Relaxed))
    {
        if let Err(id) = push_own(here, id, task(id).is_urgent()) {
            push_global(id);
        }
        Some(here)
    } else {
        // The push is sequentially consistent, and `notify` reads the idle flag after it.
        match CORES[core].inbox.push(id, &TaskLinks) {
            Ok(()) => Some(core),
            Err(id) => {
                // The core is going offline and has closed its inbox.
                adopt_from_offline_core(core, id);
                None
            }
        }
    };
    arch::irq_restore(interrupts);
    // The window between making the task visible and telling its core, where a lost wake-up
    // would hide.
    crate::sync::perturb::point(crate::sync::perturb::Site::Publish);
    let Some(target) = target else {
        return;
    };
    if task(id).is_urgent() {
        // It goes first on its queue; the core reschedules now rather than at its slice end.
        request_reschedule(target);
    } else {
        notify(target, movable);
    }
}

/// Moves what other cores left in `core`'s inbox onto its run queue, oldest first (an urgent
/// task into the urgent slot while it is free), or onto the global queue when the ring is full.
/// Called by `core` itself, interrupts masked, before it picks a task; the senders have told it
/// already. The common case, an empty inbox, costs one load.
#[inline]
pub(super) fn drain_inbox(core: usize) {
    if !CORES[core].inbox.is_empty() {
        take_inbox(core);
    }
}

#[cold]
#[inline(never)]
fn take_inbox(core: usize) {
    CORES[core].inbox.take_all(&TaskLinks, |id| {
        if let Err(id) = push_own(core, id, task(id).is_urgent()) {
            push_global(id);
        }
    });
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
/// accepts, never one still on a core (a yield's overflow), for the reason `steal_from` gives.
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

/// Closes this core's inbox and moves every task in it, on its run queue, and in the global
/// queue pinned to it, to the heir core. Called by the core itself, interrupts masked until it
/// powers off, so it queues nothing on its own run queue after this. Returns how many moved.
pub(super) fn hand_over_queue(core: usize) -> usize {
    let mut moved = 0;
    // `going_offline` is set, so no task pinned here joins the global queue any more.
    while let Some(id) = take_global_pinned(core) {
        adopt_from_offline_core(core, id);
        moved += 1;
    }
    // Later pushes are refused, and their senders hand the task to the heir themselves.
    moved += CORES[core]
        .inbox
        .close(&TaskLinks, |id| adopt_from_offline_core(core, id));
    while let Some(id) = next_own(core, None) {
        adopt_from_offline_core(core, id);
        moved += 1;
    }
    moved
}
