//! Work stealing: a core that ran dry takes the older half of another core's ring with one
//! compare-and-swap (Go's `runqsteal`), trying the cores that have movable tasks, from a random
//! one on.

use core::sync::atomic::Ordering;

use super::idle::{SPINNING_CORES, wake_idle_core};
use super::percore::{ACTIVE_CORES, CORES};
use super::queues::{STEAL_MAX, STEALABLE, STEALABLE_CORES, push_global, push_own, steal_from};
use super::task::TaskId;
use crate::random::XorShift64;
use crate::sched::balance::next_member;

/// Takes the older half of another core's ring, trying the cores in the stealable set from a
/// random one on; returns one movable task to run and queues the others here (tasks pinned to
/// the victim go back to it). With nothing to steal anywhere it costs one word read, however
/// many cores there are. Interrupts masked.
pub(super) fn steal(core: usize) -> Option<TaskId> {
    if STEALABLE_CORES.load(Ordering::SeqCst) == 0 {
        return None;
    }
    let cores = ACTIVE_CORES.load(Ordering::Relaxed);
    let mut victims = STEALABLE.snapshot(cores);
    victims.remove(core);
    if victims.is_empty() {
        return None;
    }
    let mut random = XorShift64::new(CORES[core].random.load(Ordering::Relaxed));
    let start = random.below(cores);
    CORES[core]
        .random
        .store(random.next_u64(), Ordering::Relaxed);
    SPINNING_CORES.fetch_add(1, Ordering::SeqCst);
    let mut loot = [0; STEAL_MAX];
    let mut taken = 0;
    // Each core is tried once: a victim whose older half holds no movable task, or whose only
    // task is still on its core, gives nothing now, and the idle loop comes back while the set
    // holds it.
    while let Some(victim) = next_member(victims.bits(), start) {
        victims.remove(victim);
        taken = steal_from(victim, &mut loot);
        if taken > 0 {
            crate::trace::record!(steal(victim, taken));
            break;
        }
    }
    SPINNING_CORES.fetch_sub(1, Ordering::SeqCst);
    let (&first, rest) = loot[..taken].split_first()?;
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
