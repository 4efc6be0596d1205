//! Work stealing: a core that ran dry takes half of another core's movable tasks (Go's
//! `runqsteal`), trying the cores that have some, from a random one on.

use core::sync::atomic::Ordering;

use heapless::Vec;

use super::idle::{SPINNING_CORES, wake_idle_core};
use super::percore::{ACTIVE_CORES, CORES};
use super::queues::{RUN_QUEUE_CAPACITY, STEALABLE, STEALABLE_CORES, publish_queued, push_global};
use super::task::TaskId;
use crate::random::XorShift64;
use crate::sched::balance::{next_member, steal_count};

/// Takes half of another core's movable tasks, trying the cores in the stealable set from a
/// random one on; returns one to run and queues the rest here. With nothing to steal anywhere
/// it costs one word read, however many cores there are.
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
    let mut loot: Vec<TaskId, { RUN_QUEUE_CAPACITY / 2 + 1 }> = Vec::new();
    // Each core is tried once: a victim whose movable tasks are all still on a core (see
    // `steal_half`) gives nothing now, and the idle loop comes back while the set holds it.
    while let Some(victim) = next_member(victims.bits(), start) {
        victims.remove(victim);
        let mut queue = CORES[victim].run_queue.lock();
        queue.steal_half(|id| loot.push(id));
        publish_queued(victim, &queue);
        drop(queue);
        if !loot.is_empty() {
            crate::trace::record!(steal(victim, loot.len()));
            break;
        }
    }
    SPINNING_CORES.fetch_sub(1, Ordering::SeqCst);
    let (&first, rest) = loot.split_first()?;
    CORES[core].steals.fetch_add(1, Ordering::Relaxed);
    debug_assert!(rest.len() < steal_count(RUN_QUEUE_CAPACITY) + 1);
    let overflow: Vec<TaskId, { RUN_QUEUE_CAPACITY / 2 + 1 }> = {
        let mut queue = CORES[core].run_queue.lock();
        // Other cores may have queued work here while this one was stealing, so the loot may
        // not all fit: what does not goes to the global queue.
        let overflow = rest
            .iter()
            .filter_map(|id| queue.push(*id, false).err())
            .collect();
        publish_queued(core, &queue);
        overflow
    };
    for id in overflow {
        push_global(id);
    }
    // Like Go's spinning M that found work: there may be more, so wake another idle core. Only
    // now that the loot is published: a core going idle checks for stealable work after
    // announcing itself idle, so either it sees the loot or this sees it idle.
    wake_idle_core();
    Some(first)
}
