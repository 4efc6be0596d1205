//! A core's armed timers, earliest deadline first, in fixed memory.
//!
//! [`TimerQueue`] is an indexed 4-ary min-heap: every armed timer sits in a slot, the heap orders
//! the slots by (deadline, arming order), and each slot remembers where it is in the heap, so
//! arming, cancelling and firing are all O(log n) with no allocation. Equal deadlines fire in the
//! order they were armed. A [`TimerHandle`] names a slot together with the slot's generation, so a
//! handle whose timer has fired or been cancelled, even if the slot now holds a newer timer, is
//! recognised as stale.
//!
//! Four children per node rather than two halve the heap's depth, so a new timer has fewer levels
//! to climb and a cancelled timer's replacement fewer to sink, while a level down compares up to
//! four children instead of two. Eight would cut an insert + cancel further but make every
//! firing compare eight children per level (the README's Benchmark section has the figures).

/// Index of a slot, and of a position in the heap. 32 bits keeps the per-entry bookkeeping small.
type SlotIndex = u32;

/// Children per heap node.
const ARITY: usize = 4;

/// Names one arming of one timer in the [`TimerQueue`] that returned it.
///
/// The handle stays valid until that timer fires, is cancelled or is drained; after that every
/// operation treats it as stale. A handle says nothing about other queues: passing it to a queue
/// that did not issue it has an unspecified (but memory-safe) result. Generations wrap after
/// 2^32 reuses of one slot, after which a long-stale handle could alias a newer timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerHandle {
    slot: SlotIndex,
    generation: u32,
}

/// One heap entry: the ordering key, and the slot holding the timer's payload.
#[derive(Clone, Copy)]
struct HeapNode {
    deadline: u64,
    /// Arming order, so that equal deadlines fire first-armed first. 64 bits never wrap.
    sequence: u64,
    slot: SlotIndex,
}

impl HeapNode {
    /// The all-zero node that fills unused heap positions.
    const UNUSED: Self = Self {
        deadline: 0,
        sequence: 0,
        slot: 0,
    };

    /// The ordering key: deadline, then arming order, as one number, so one comparison decides.
    fn key(&self) -> u128 {
        (u128::from(self.deadline) << 64) | u128::from(self.sequence)
    }

    /// Whether this timer fires before `other`: earlier deadline, or same deadline armed earlier.
    fn fires_before(&self, other: &Self) -> bool {
        self.key() < other.key()
    }
}

/// The heap position of `position`'s parent; `position` must not be the root.
const fn parent(position: usize) -> usize {
    (position - 1) / ARITY
}

/// Where an armed timer's payload lives while it waits in the heap.
struct Slot<T> {
    /// `Some` exactly while the slot holds an armed timer.
    payload: Option<T>,
    /// Incremented each time the slot's timer fires or is cancelled, making old handles stale.
    generation: u32,
    /// The slot's position in the heap; meaningful only while `payload` is `Some`.
    heap_position: SlotIndex,
}

/// A fixed-capacity earliest-deadline-first queue of up to `N` armed timers carrying a `T` each.
///
/// Deadlines are `u64` nanoseconds on whatever clock the caller uses; a timer is due when
/// `now >= deadline`. Guarantees: every armed timer is returned exactly once (by
/// [`pop_expired`](Self::pop_expired), [`cancel`](Self::cancel) or [`drain`](Self::drain)),
/// never before its deadline by `pop_expired`; due timers come out in deadline order, equal
/// deadlines in arming order; a full queue refuses a new timer with `Err` and is left unchanged.
/// The queue never allocates and never panics on any input.
pub struct TimerQueue<T, const N: usize> {
    /// `heap[..len]` is a 4-ary min-heap of armed timers under [`HeapNode::fires_before`]: the
    /// children of position `p` are `4p + 1 ..= 4p + 4`. `heap[len..high_water]` name the slots
    /// freed so far (the next arming reuses `heap[len]`'s slot), and slots `high_water..N` have
    /// never been used. Keeping the free list inside the heap array costs no memory, and an empty
    /// queue is all zeros apart from the payloads.
    heap: [HeapNode; N],
    slots: [Slot<T>; N],
    len: usize,
    high_water: usize,
    next_sequence: u64,
}

impl<T, const N: usize> TimerQueue<T, N> {
    /// Creates an empty queue; `const` so a queue can be placed in a `static`.
    ///
    /// Fails to compile if `N` does not fit the 32-bit slot indices.
    pub const fn new() -> Self {
        const {
            assert!(
                N <= SlotIndex::MAX as usize,
                "TimerQueue capacity exceeds u32 indices"
            );
        }
        Self {
            heap: [HeapNode::UNUSED; N],
            slots: [const {
                Slot {
                    payload: None,
                    generation: 0,
                    heap_position: 0,
                }
            }; N],
            len: 0,
            high_water: 0,
            next_sequence: 0,
        }
    }

    /// The number of armed timers.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether no timer is armed.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the queue holds `N` timers, so [`insert`](Self::insert) would refuse.
    pub const fn is_full(&self) -> bool {
        self.len == N
    }

    /// The most timers the queue can hold: `N`.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// The deadline of the timer that fires next, if any timer is armed.
    pub fn earliest_deadline(&self) -> Option<u64> {
        self.heap[..self.len].first().map(|node| node.deadline)
    }

    /// Arms a timer that becomes due at `deadline`, in O(log n).
    ///
    /// Returns the handle that can cancel it, or gives `payload` back in `Err` when the queue is
    /// full (the queue is then unchanged).
    #[inline]
    pub fn insert(&mut self, deadline: u64, payload: T) -> Result<TimerHandle, T> {
        let position = self.len;
        let Some(free) = self.heap.get(position) else {
            return Err(payload);
        };
        let slot_index = if position < self.high_water {
            free.slot
        } else {
            // `position < N`, which fits in a SlotIndex (checked in `new`): lossless.
            self.high_water = position + 1;
            position as SlotIndex
        };
        let Some(slot) = self.slots.get_mut(slot_index as usize) else {
            return Err(payload);
        };
        slot.payload = Some(payload);
        let handle = TimerHandle {
            slot: slot_index,
            generation: slot.generation,
        };
        let node = HeapNode {
            deadline,
            sequence: self.next_sequence,
            slot: slot_index,
        };
        self.next_sequence += 1;
        self.len = position + 1;
        self.sift_up(position, node);
        Ok(handle)
    }

    /// Disarms the timer `handle` names and returns its payload, in O(log n).
    ///
    /// Returns `None`, changing nothing, if the handle is stale: its timer already fired, was
    /// cancelled or was drained.
    #[inline]
    pub fn cancel(&mut self, handle: TimerHandle) -> Option<T> {
        let slot = self.slots.get_mut(handle.slot as usize)?;
        if slot.generation != handle.generation {
            return None;
        }
        let payload = slot.payload.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        let position = slot.heap_position as usize;
        self.unlink(position, handle.slot);
        Some(payload)
    }

    /// Removes and returns the earliest timer, with its deadline, if it is due (`deadline <= now`).
    ///
    /// Call it in a loop to fire everything due at `now`; it returns `None` once the earliest
    /// remaining timer lies in the future or the queue is empty.
    pub fn pop_expired(&mut self, now: u64) -> Option<(u64, T)> {
        if self.earliest_deadline()? <= now {
            self.pop()
        } else {
            None
        }
    }

    /// Removes every armed timer, yielding `(deadline, payload)` earliest first (ties in arming
    /// order), for moving a going-offline core's timers to another core.
    ///
    /// Re-arming them in the yielded order keeps their relative firing order. Their handles
    /// become stale. Timers the iterator has not yet yielded when it is dropped stay armed, so a
    /// caller whose destination fills up can stop without losing any.
    pub fn drain(&mut self) -> Drain<'_, T, N> {
        Drain { queue: self }
    }

    /// Removes and returns the earliest timer, with its deadline, if any timer is armed.
    fn pop(&mut self) -> Option<(u64, T)> {
        let root = *self.heap[..self.len].first()?;
        let slot = self.slots.get_mut(root.slot as usize)?;
        let payload = slot.payload.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.unlink(0, root.slot);
        Some((root.deadline, payload))
    }

    /// Takes the node at heap `position` (an armed timer's, whose slot `freed` the caller has
    /// just emptied) out of the heap: the last node fills its place, and `freed` joins the free
    /// list where the last node was.
    fn unlink(&mut self, position: usize, freed: SlotIndex) {
        let Some(last) = self.len.checked_sub(1) else {
            return;
        };
        let Some(node) = self.heap.get_mut(last) else {
            return;
        };
        let moved = *node;
        node.slot = freed;
        self.len = last;
        if position < last {
            if position > 0 && moved.fires_before(&self.heap[parent(position)]) {
                self.sift_up(position, moved);
            } else {
                self.sift_down(position, moved);
            }
        }
    }

    /// Puts `node` in the heap at or above the free `hole`: each ancestor that `node` fires
    /// before moves down into the hole, and `node` fills the hole where that stops.
    fn sift_up(&mut self, mut hole: usize, node: HeapNode) {
        while hole > 0 {
            let above = parent(hole);
            let ancestor = self.heap[above];
            if !node.fires_before(&ancestor) {
                break;
            }
            self.place(ancestor, hole);
            hole = above;
        }
        self.place(node, hole);
    }

    /// Puts `node` in the heap at or below the free `hole`: while some child of the hole fires
    /// before `node`, the earliest child moves up into it, and `node` fills the hole where that
    /// stops.
    fn sift_down(&mut self, mut hole: usize, node: HeapNode) {
        while let Some((position, child)) = self.earliest_child(hole) {
            if !child.fires_before(&node) {
                break;
            }
            self.place(child, hole);
            hole = position;
        }
        self.place(node, hole);
    }

    /// The earliest-firing child of heap `position` and where it is, if it has children.
    fn earliest_child(&self, position: usize) -> Option<(usize, HeapNode)> {
        let first = ARITY * position + 1;
        let children = self.heap[..self.len].get(first..)?;
        let (mut best, mut earliest) = (first, *children.first()?);
        for (offset, child) in children.iter().enumerate().take(ARITY).skip(1) {
            if child.fires_before(&earliest) {
                (best, earliest) = (first + offset, *child);
            }
        }
        Some((best, earliest))
    }

    /// Writes `node` at heap `position` and records that position in its slot.
    fn place(&mut self, node: HeapNode, position: usize) {
        self.heap[position] = node;
        // Positions are below `N`, which fits in a SlotIndex (checked in `new`).
        self.slots[node.slot as usize].heap_position = position as SlotIndex;
    }

    /// Panics unless every internal invariant holds; O(N), for tests after each operation.
    #[cfg(test)]
    fn assert_consistent(&self) {
        assert!(self.len <= self.high_water && self.high_water <= N);
        let mut slot_seen = vec![false; N];
        for (position, node) in self.heap[..self.high_water].iter().enumerate() {
            let slot_index = node.slot as usize;
            assert!(
                slot_index < self.high_water,
                "slot {slot_index} beyond the high water"
            );
            assert!(!slot_seen[slot_index], "slot {slot_index} listed twice");
            slot_seen[slot_index] = true;
            let slot = &self.slots[slot_index];
            if position < self.len {
                assert!(slot.payload.is_some(), "armed slot {slot_index} is empty");
                assert_eq!(slot.heap_position as usize, position);
                if position > 0 {
                    assert!(
                        !node.fires_before(&self.heap[parent(position)]),
                        "heap order broken at {position}"
                    );
                }
            } else {
                assert!(
                    slot.payload.is_none(),
                    "free slot {slot_index} holds a payload"
                );
            }
        }
        for slot in &self.slots[self.high_water..] {
            assert!(slot.payload.is_none() && slot.generation == 0);
        }
    }
}

impl<T, const N: usize> Default for TimerQueue<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

/// The iterator returned by [`TimerQueue::drain`]: yields `(deadline, payload)` earliest first,
/// removing each timer as it is yielded.
pub struct Drain<'a, T, const N: usize> {
    queue: &'a mut TimerQueue<T, N>,
}

impl<T, const N: usize> Iterator for Drain<'_, T, N> {
    type Item = (u64, T);

    fn next(&mut self) -> Option<(u64, T)> {
        self.queue.pop()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.queue.len, Some(self.queue.len))
    }
}

impl<T, const N: usize> ExactSizeIterator for Drain<'_, T, N> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::XorShift64;
    use std::collections::BTreeMap;

    /// Each payload is a unique id, so the model can tell timers apart.
    type Id = u64;

    /// The reference behaviour: armed timers keyed by (deadline, arming order).
    #[derive(Default)]
    struct Model {
        armed: BTreeMap<(u64, u64), Id>,
        next_sequence: u64,
    }

    /// How a random workload divides its operations, in percent: arming below `arm`, cancelling
    /// (a live or a stale handle) from there to below `cancel`, advancing the clock and firing
    /// what is due for the rest.
    struct Mix {
        arm: usize,
        cancel: usize,
    }

    /// Mostly arming and firing, so the queue stays a few levels deep.
    const BALANCED: Mix = Mix {
        arm: 45,
        cancel: 65,
    };

    /// Rarely firing, so the queue grows deep and most timers leave by cancellation from inside
    /// the heap: the cancelled timer's replacement climbs as often as it sinks.
    const CANCEL_HEAVY: Mix = Mix {
        arm: 55,
        cancel: 97,
    };

    /// One random workload against a queue of capacity `N`, checking after every operation.
    fn run_random_workload<const N: usize>(
        seed: u64,
        operations: usize,
        deadline_spread: usize,
        mix: &Mix,
    ) {
        let mut random = XorShift64::new(seed);
        let mut queue = TimerQueue::<Id, N>::new();
        let mut model = Model::default();
        let mut live: Vec<(TimerHandle, (u64, u64))> = Vec::new();
        let mut stale: Vec<TimerHandle> = Vec::new();
        let mut now = 0u64;
        let mut next_id: Id = 0;

        for _ in 0..operations {
            let choice = random.below(100);
            if choice < mix.arm {
                let deadline = now + random.below(deadline_spread) as u64;
                let id = next_id;
                next_id += 1;
                let earliest_before = queue.earliest_deadline();
                match queue.insert(deadline, id) {
                    Ok(handle) => {
                        assert!(model.armed.len() < N, "accepted beyond capacity");
                        let key = (deadline, model.next_sequence);
                        model.next_sequence += 1;
                        model.armed.insert(key, id);
                        live.push((handle, key));
                    }
                    Err(returned) => {
                        assert_eq!(returned, id, "full queue returned another payload");
                        assert_eq!(model.armed.len(), N, "refused below capacity");
                        assert_eq!(queue.earliest_deadline(), earliest_before);
                    }
                }
            } else if choice < mix.cancel {
                if !live.is_empty() && random.below(2) == 0 {
                    let (handle, key) = live.swap_remove(random.below(live.len()));
                    let expected = model.armed.remove(&key);
                    assert_eq!(queue.cancel(handle), expected);
                    assert!(expected.is_some());
                    stale.push(handle);
                } else if !stale.is_empty() {
                    let handle = stale[random.below(stale.len())];
                    assert_eq!(queue.cancel(handle), None, "stale handle cancelled");
                }
            } else {
                now += random.below(deadline_spread / 2 + 1) as u64;
                while let Some((deadline, id)) = queue.pop_expired(now) {
                    assert!(deadline <= now, "fired early");
                    let (key, expected_id) = model.armed.pop_first().expect("extra timer");
                    assert_eq!((deadline, id), (key.0, expected_id), "wrong firing order");
                    let index = live.iter().position(|(_, k)| *k == key).expect("live");
                    stale.push(live.swap_remove(index).0);
                    queue.assert_consistent();
                }
                if let Some((&(deadline, _), _)) = model.armed.first_key_value() {
                    assert!(deadline > now, "a due timer was not fired");
                }
            }
            assert_eq!(queue.len(), model.armed.len());
            assert_eq!(
                queue.earliest_deadline(),
                model.armed.keys().next().map(|k| k.0)
            );
            queue.assert_consistent();
        }

        let expected: Vec<(u64, Id)> = model.armed.iter().map(|(k, &id)| (k.0, id)).collect();
        let drained: Vec<(u64, Id)> = queue.drain().collect();
        assert_eq!(drained, expected, "drain order or contents differ");
        assert!(queue.is_empty());
        for (handle, _) in live {
            assert_eq!(
                queue.cancel(handle),
                None,
                "drained timer still cancellable"
            );
        }
        queue.assert_consistent();
    }

    #[test]
    fn random_workloads_match_the_model() {
        for seed in 1..=40 {
            run_random_workload::<1>(seed, 300, 8, &BALANCED);
            run_random_workload::<2>(seed, 300, 8, &BALANCED);
            run_random_workload::<7>(seed, 1000, 4, &BALANCED);
            run_random_workload::<64>(seed, 2000, 16, &BALANCED);
            run_random_workload::<256>(seed, 3000, 1000, &BALANCED);
        }
    }

    #[test]
    fn cancel_heavy_workloads_on_deep_heaps_match_the_model() {
        for seed in 1..=20 {
            run_random_workload::<341>(seed, 4000, 1 << 20, &CANCEL_HEAVY);
            run_random_workload::<400>(seed, 4000, 64, &CANCEL_HEAVY);
        }
    }

    /// Cancelling a timer deep in one subtree moves the last timer, from another subtree, into
    /// its place; when that timer fires before the hole's parent it must climb, not sink.
    #[test]
    fn a_replacement_from_another_subtree_climbs() {
        let mut queue = TimerQueue::<u32, 16>::new();
        // Arming in this order places each at the next position without climbing: 0 at the
        // root, 100, 10, 100, 100 as its children, 200 x 4 under the first 100 (positions 5 to
        // 8) and 11 under the 10 (position 9).
        let deadlines = [0, 100, 10, 100, 100, 200, 200, 200, 200, 11];
        let handles: Vec<TimerHandle> = deadlines
            .iter()
            .zip(0..)
            .map(|(&deadline, id)| queue.insert(deadline, id).unwrap())
            .collect();
        queue.assert_consistent();
        assert_eq!(queue.cancel(handles[5]), Some(5));
        queue.assert_consistent();
        let fired: Vec<(u64, u32)> = core::iter::from_fn(|| queue.pop_expired(u64::MAX)).collect();
        assert_eq!(
            fired,
            [
                (0, 0),
                (10, 2),
                (11, 9),
                (100, 1),
                (100, 3),
                (100, 4),
                (200, 6),
                (200, 7),
                (200, 8)
            ]
        );
    }

    #[test]
    fn a_handle_from_a_larger_queue_is_refused() {
        let mut large = TimerQueue::<u32, 64>::new();
        let handles: Vec<TimerHandle> = (0..40).map(|id| large.insert(5, id).unwrap()).collect();
        let mut small = TimerQueue::<u32, 8>::new();
        small.insert(1, 100).unwrap();
        assert_eq!(small.cancel(handles[39]), None);
        assert_eq!(small.len(), 1);
        small.assert_consistent();
    }

    #[test]
    fn equal_deadlines_fire_in_arming_order() {
        let mut queue = TimerQueue::<u32, 16>::new();
        for id in 0..16 {
            queue.insert(5, id).unwrap();
        }
        let fired: Vec<u32> =
            core::iter::from_fn(|| queue.pop_expired(5).map(|(_, id)| id)).collect();
        assert_eq!(fired, (0..16).collect::<Vec<_>>());
    }

    #[test]
    fn nothing_fires_before_its_deadline() {
        let mut queue = TimerQueue::<&str, 4>::new();
        queue.insert(100, "late").unwrap();
        assert_eq!(queue.pop_expired(99), None);
        assert_eq!(queue.pop_expired(100), Some((100, "late")));
        assert_eq!(queue.pop_expired(u64::MAX), None);
    }

    #[test]
    fn full_queue_gives_the_payload_back_and_stays_intact() {
        let mut queue = TimerQueue::<u32, 2>::new();
        let first = queue.insert(20, 1).unwrap();
        queue.insert(10, 2).unwrap();
        assert_eq!(queue.insert(5, 3), Err(3));
        assert_eq!(queue.len(), 2);
        assert_eq!(queue.earliest_deadline(), Some(10));
        assert_eq!(queue.cancel(first), Some(1));
        assert!(queue.insert(5, 3).is_ok());
    }

    #[test]
    fn handle_to_a_reused_slot_is_stale() {
        let mut queue = TimerQueue::<u32, 1>::new();
        let old = queue.insert(1, 10).unwrap();
        assert_eq!(queue.pop_expired(1), Some((1, 10)));
        let new = queue.insert(2, 20).unwrap();
        assert_ne!(old, new);
        assert_eq!(queue.cancel(old), None);
        assert_eq!(queue.cancel(new), Some(20));
        assert_eq!(queue.cancel(new), None);
    }

    #[test]
    fn dropping_a_drain_early_keeps_the_rest_armed() {
        let mut queue = TimerQueue::<u32, 8>::new();
        for (deadline, id) in [(30, 3), (10, 1), (20, 2)] {
            queue.insert(deadline, id).unwrap();
        }
        {
            let mut drain = queue.drain();
            assert_eq!(drain.len(), 3);
            assert_eq!(drain.next(), Some((10, 1)));
        }
        assert_eq!(queue.len(), 2);
        assert_eq!(queue.earliest_deadline(), Some(20));
    }

    #[test]
    fn fits_in_a_static() {
        static QUEUE: spin::Mutex<TimerQueue<u32, 1024>> = spin::Mutex::new(TimerQueue::new());
        let mut queue = QUEUE.lock();
        assert_eq!(queue.capacity(), 1024);
        let handle = queue.insert(7, 70).unwrap();
        assert_eq!(queue.cancel(handle), Some(70));
    }

    /// Fills a 65,536-entry queue, cancels a random third, then fires the rest in order. Runs
    /// on a thread with a large stack because the queue itself is a few megabytes.
    #[test]
    fn capacity_65536_keeps_order_at_scale() {
        const CAPACITY: usize = 65_536;
        let worker = std::thread::Builder::new().stack_size(64 << 20).spawn(|| {
            let mut queue = TimerQueue::<u32, CAPACITY>::new();
            let mut random = XorShift64::new(65_536);
            let mut handles = Vec::with_capacity(CAPACITY);
            for id in 0..CAPACITY as u32 {
                let deadline = random.below(1 << 20) as u64;
                handles.push(queue.insert(deadline, id).unwrap());
            }
            assert_eq!(queue.insert(0, u32::MAX), Err(u32::MAX));
            queue.assert_consistent();
            let mut cancelled = 0;
            for handle in &handles {
                if random.below(3) == 0 {
                    assert!(queue.cancel(*handle).is_some());
                    cancelled += 1;
                }
            }
            queue.assert_consistent();
            let mut previous = 0;
            let mut fired = 0;
            while let Some((deadline, _)) = queue.pop_expired(u64::MAX) {
                assert!(deadline >= previous, "out of order at scale");
                previous = deadline;
                fired += 1;
            }
            assert_eq!(fired + cancelled, CAPACITY);
            queue.assert_consistent();
        });
        worker.unwrap().join().unwrap();
    }
}
