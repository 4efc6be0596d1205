//! Work stealing: a core that ran dry takes the older half of another core's ring with one
//! compare-and-swap (Go's `runqsteal`), trying the cores that have movable tasks, from a random
//! one on; and how an idle core that finds only tasks it cannot take yet sleeps, rather than
//! spin, until their core tells it they can be taken.

use core::sync::atomic::Ordering;

use super::coreset::Snapshot;
use super::idle::{SPINNING_CORES, wake_idle_core};
use super::percore::{ACTIVE_CORES, CORES};
use super::queues::{STEAL_MAX, STEALABLE, STEALABLE_CORES, push_global, push_own, steal_from};
use super::task::{TaskId, task};
use crate::random::XorShift64;
use crate::sched::balance::next_member;

/// Takes the older half of another core's ring, trying the cores in the stealable set from a
/// random one on; returns one movable task to run and queues the others here (tasks pinned to
/// the victim go back to it). With nothing to steal anywhere it costs one word read, however
/// many cores there are. Interrupts masked.
pub(super) fn steal(core: usize) -> Option<TaskId> {
    let mut victims = other_stealable(core)?;
    let cores = ACTIVE_CORES.load(Ordering::Relaxed);
    let mut random = XorShift64::new(CORES[core].random.load(Ordering::Relaxed));
    let start = random.below(cores);
    CORES[core]
        .random
        .store(random.next_u64(), Ordering::Relaxed);
    SPINNING_CORES.fetch_add(1, Ordering::SeqCst);
    let mut loot = [0; STEAL_MAX];
    let mut taken = 0;
    // Each core is tried once: a victim whose older half holds no movable task, or whose only
    // task is still on its core, gives nothing now; the idle loop then asks `can_steal` before
    // it sleeps.
    while let Some(victim) = next_member(victims.bits(), start) {
        victims.remove(victim);
        taken = steal_from(victim, &mut loot);
        if taken > 0 {
            break;
        }
    }
    SPINNING_CORES.fetch_sub(1, Ordering::SeqCst);
    settle_loot(core, &loot[..taken])
}

/// Half of the movable tasks of the core that has the most, if it has at least two: a busy
/// core's share of another's queue, taken at a preemption with nothing else queued here
/// (`switch::take_a_share`). Unlike an idle core's steal, which takes from the first victim it
/// finds, this goes to the longest queue, as Linux's balancing pulls from the busiest: with
/// every core busy and most holding a task or two, a random victim would nearly always be one
/// of those, and a core holding hundreds would keep them. A victim with one movable task is
/// left alone (taking it would only move the imbalance here). Reads one count per core in the
/// stealable set.
pub(super) fn steal_from_busiest(core: usize) -> Option<TaskId> {
    let mut victims = other_stealable(core)?;
    let (mut busiest, mut most) = (None, 1);
    while let Some(victim) = next_member(victims.bits(), 0) {
        victims.remove(victim);
        let movable = CORES[victim].movable.get();
        if movable > most {
            (busiest, most) = (Some(victim), movable);
        }
    }
    let victim = busiest?;
    let mut loot = [0; STEAL_MAX];
    let taken = steal_from(victim, &mut loot);
    settle_loot(core, &loot[..taken])
}

/// The cores other than `core` in the stealable set, or `None` if there are none. With no core
/// in the set it costs one word read, however many cores there are.
fn other_stealable(core: usize) -> Option<Snapshot> {
    if STEALABLE_CORES.load(Ordering::SeqCst) == 0 {
        return None;
    }
    let mut victims = STEALABLE.snapshot(ACTIVE_CORES.load(Ordering::Relaxed));
    victims.remove(core);
    (!victims.is_empty()).then_some(victims)
}

/// Queues what `core` stole after the first task, which it returns to run (`None` if it stole
/// nothing), and wakes an idle core for what may be left elsewhere.
fn settle_loot(core: usize, loot: &[TaskId]) -> Option<TaskId> {
    let (&first, rest) = loot.split_first()?;
    CORES[core].steals.fetch_add(1, Ordering::Relaxed);
    for id in rest {
        // This core steals only with its own queue empty, and only it fills its ring, so the
        // loot fits; were the ring full, the rest would wait in the global queue.
        if let Err(id) = push_own(core, *id, false) {
            push_global(id);
        }
    }
    // Like Go's spinning M that found work: there may be more, so wake another idle core. Only
    // now that the loot is queued (and the victim's place in the stealable set settled): a core
    // going idle checks for stealable work after announcing itself idle, so either it sees the
    // loot or this sees it idle.
    wake_idle_core();
    Some(first)
}

/// Whether `core` (idle: announced in the idle set, interrupts masked) would find a task to
/// take in another core's ring now: the idle loop's last check before it sleeps.
///
/// A core in the stealable set may count tasks that cannot be taken yet: the task its switch
/// queued while still running on its stack, a task counted just before its push, or one just
/// popped or stolen before the count went down. Spinning on such a count would keep this core
/// busy for as long as that core takes to get there, which under a hypervisor, or QEMU running
/// its vCPUs in turn, is as long as that core's vCPU is not running, while this one takes the
/// time it needs. So each such core is asked to wake an idle core once its tasks can be taken
/// (its `thief_waits`, `sched::wake_request`, which [`wake_waiting_thief`] answers) and looked
/// at once more: either that look sees the task, or that core, after making the task
/// takeable, sees the request and finds this core in the idle set, which it joined before this
/// check. With `false` the caller may sleep; a count that never becomes takeable (the task
/// left) leaves a request that costs one idle core a wake-up later. With no core in the
/// stealable set it costs one word read.
#[inline]
pub(super) fn can_steal(core: usize) -> bool {
    STEALABLE_CORES.load(Ordering::SeqCst) > 0 && can_steal_from_members(core)
}

/// [`can_steal`] once some core is in the stealable set.
#[cold]
#[inline(never)]
fn can_steal_from_members(core: usize) -> bool {
    let Some(mut victims) = other_stealable(core) else {
        return false;
    };
    while let Some(victim) = next_member(victims.bits(), 0) {
        victims.remove(victim);
        let takeable = || has_takeable(victim);
        if takeable() || CORES[victim].thief_waits.ask(takeable) {
            return true;
        }
    }
    false
}

/// Whether a steal from `victim` would take a task now: its ring's oldest task is no longer
/// running on a core (a steal stops before the first one that is; `queues::steal_from`). A task
/// pinned to `victim` counts: the steal hands it back and goes on to the next.
fn has_takeable(victim: usize) -> bool {
    CORES[victim]
        .ring
        .oldest()
        .is_some_and(|id| !task(id).is_on_core())
}

/// Called by `core` itself after a task it counted stealable became takeable (pushed on its
/// ring, or let go of by the switch that queued it): wakes an idle core if one asked
/// ([`can_steal`]).
#[inline]
pub(super) fn wake_waiting_thief(core: usize) {
    if CORES[core].thief_waits.take() {
        wake_idle_core();
    }
}
