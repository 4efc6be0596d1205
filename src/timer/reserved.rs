//! Reserved timers: a fixed set of timers, one per index, that can all be armed at once on one
//! core, so arming one never fails for want of room.
//!
//! The scheduler gives every task slot one (its sleep timer): a task can always sleep, however
//! many other tasks sleep or how many explicit timers a core holds. The timers live in an
//! [`Arena`] made once; each core keeps the ones armed on it in a [`Heap`], an intrusive pairing
//! heap linked through the arena's nodes (no per-core array sized for the worst case, which
//! would cost every core room for every task). Arming is O(1); taking the earliest is
//! O(log n) amortised.
//!
//! Ownership: a node belongs to the heap it is armed in, and only whoever holds that heap
//! mutably (its core's timer-queue lock) touches it; an unarmed node belongs to its index's
//! owner (the task, arming its own sleep). The fields are atomics only so that the arena can be
//! shared between cores without `unsafe`: every access is `Relaxed`, ordered by the lock.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// "No node", in links.
const NIL: u32 = u32::MAX;

/// One reserved timer: its key and its links in the pairing heap that holds it.
struct Node {
    deadline: AtomicU64,
    /// Arming order on its core, so equal deadlines fire first-armed first.
    sequence: AtomicU64,
    /// First child.
    child: AtomicU32,
    /// Next sibling.
    sibling: AtomicU32,
}

impl Node {
    const fn new() -> Self {
        Self {
            deadline: AtomicU64::new(0),
            sequence: AtomicU64::new(0),
            child: AtomicU32::new(NIL),
            sibling: AtomicU32::new(NIL),
        }
    }
}

/// `N` reserved timers, indexed `0..N`. Guarantees: a timer is in at most one [`Heap`] at a time
/// (the caller's contract: it arms an index only while that index is not armed), and every
/// armed timer comes out of its heap exactly once.
pub struct Arena<const N: usize> {
    nodes: [Node; N],
}

impl<const N: usize> Arena<N> {
    /// An arena of `N` unarmed timers; `const` so it can be a `static`.
    pub const fn new() -> Self {
        const {
            assert!(N < NIL as usize, "Arena capacity exceeds u32 indices");
        }
        Self {
            nodes: [const { Node::new() }; N],
        }
    }

    /// How many timers there are: `N`.
    pub const fn capacity(&self) -> usize {
        N
    }

    fn node(&self, index: u32) -> &Node {
        &self.nodes[index as usize]
    }

    fn key(&self, index: u32) -> (u64, u64) {
        let node = self.node(index);
        (
            node.deadline.load(Ordering::Relaxed),
            node.sequence.load(Ordering::Relaxed),
        )
    }

    fn link(field: &AtomicU32, to: u32) {
        field.store(to, Ordering::Relaxed);
    }

    fn follow(field: &AtomicU32) -> u32 {
        field.load(Ordering::Relaxed)
    }

    /// Joins two heap roots (either may be [`NIL`]) and returns the new root: the later one
    /// becomes the first child of the earlier one.
    fn meld(&self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        let (first, second) = if self.key(b) < self.key(a) {
            (b, a)
        } else {
            (a, b)
        };
        let root = self.node(first);
        Self::link(&self.node(second).sibling, Self::follow(&root.child));
        Self::link(&root.child, second);
        Self::link(&root.sibling, NIL);
        first
    }

    /// Melds the sibling list starting at `first` into one heap, in two passes (pairs left to
    /// right, then the pairs right to left), which keeps the pairing heap's amortised bound.
    /// Iterative: no recursion however long the list.
    fn merge_pairs(&self, first: u32) -> u32 {
        // Pass 1: meld neighbours pairwise; the results form a stack linked through `sibling`.
        let mut stack = NIL;
        let mut current = first;
        while current != NIL {
            let partner = Self::follow(&self.node(current).sibling);
            let next = if partner == NIL {
                NIL
            } else {
                Self::follow(&self.node(partner).sibling)
            };
            Self::link(&self.node(current).sibling, NIL);
            if partner != NIL {
                Self::link(&self.node(partner).sibling, NIL);
            }
            let pair = self.meld(current, partner);
            Self::link(&self.node(pair).sibling, stack);
            stack = pair;
            current = next;
        }
        // Pass 2: meld the pairs, last first.
        let mut root = NIL;
        while stack != NIL {
            let pair = stack;
            stack = Self::follow(&self.node(pair).sibling);
            Self::link(&self.node(pair).sibling, NIL);
            root = self.meld(pair, root);
        }
        root
    }
}

impl<const N: usize> Default for Arena<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// The reserved timers armed on one core, earliest first. Holding it mutably (under the core's
/// timer-queue lock) is what entitles the holder to its nodes.
#[derive(Debug)]
pub struct Heap {
    root: u32,
    len: usize,
    next_sequence: u64,
}

impl Heap {
    /// An empty heap.
    pub const fn new() -> Self {
        Self {
            root: NIL,
            len: 0,
            next_sequence: 0,
        }
    }

    /// How many timers are armed here.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether none is.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Arms timer `index` of `arena` here for `deadline`, in O(1). Never fails. The caller must
    /// own `index` (it is armed nowhere), or the heaps holding it are corrupted (memory-safely).
    ///
    /// # Panics
    /// If `index` is not below the arena's capacity.
    pub fn insert<const N: usize>(&mut self, arena: &Arena<N>, index: usize, deadline: u64) {
        assert!(index < N, "reserved timer {index} out of range");
        // Below N, which is below u32::MAX (checked in `Arena::new`).
        let index = index as u32;
        let node = arena.node(index);
        node.deadline.store(deadline, Ordering::Relaxed);
        node.sequence.store(self.next_sequence, Ordering::Relaxed);
        Arena::<N>::link(&node.child, NIL);
        Arena::<N>::link(&node.sibling, NIL);
        self.next_sequence += 1;
        self.root = arena.meld(self.root, index);
        self.len += 1;
    }

    /// The earliest armed deadline, if any timer is armed.
    pub fn earliest_deadline<const N: usize>(&self, arena: &Arena<N>) -> Option<u64> {
        (self.root != NIL).then(|| arena.key(self.root).0)
    }

    /// Removes and returns the earliest timer `(deadline, index)`, if any, in O(log n)
    /// amortised.
    pub fn pop<const N: usize>(&mut self, arena: &Arena<N>) -> Option<(u64, usize)> {
        if self.root == NIL {
            return None;
        }
        let root = self.root;
        let deadline = arena.key(root).0;
        self.root = arena.merge_pairs(Arena::<N>::follow(&arena.node(root).child));
        Arena::<N>::link(&arena.node(root).child, NIL);
        self.len -= 1;
        Some((deadline, root as usize))
    }

    /// Removes and returns the earliest timer if it is due at `now` (`deadline <= now`).
    pub fn pop_expired<const N: usize>(
        &mut self,
        arena: &Arena<N>,
        now: u64,
    ) -> Option<(u64, usize)> {
        if self.earliest_deadline(arena)? <= now {
            self.pop(arena)
        } else {
            None
        }
    }
}

impl Default for Heap {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::XorShift64;

    #[test]
    fn pops_in_deadline_order_then_arming_order() {
        let arena = Arena::<8>::new();
        let mut heap = Heap::new();
        for (index, deadline) in [(0, 30), (1, 10), (2, 20), (3, 10), (4, 5)] {
            heap.insert(&arena, index, deadline);
        }
        assert_eq!(heap.len(), 5);
        let order: Vec<_> = core::iter::from_fn(|| heap.pop(&arena)).collect();
        assert_eq!(order, [(5, 4), (10, 1), (10, 3), (20, 2), (30, 0)]);
        assert!(heap.is_empty());
    }

    #[test]
    fn pop_expired_leaves_future_timers() {
        let arena = Arena::<4>::new();
        let mut heap = Heap::new();
        heap.insert(&arena, 2, 100);
        heap.insert(&arena, 3, 50);
        assert_eq!(heap.pop_expired(&arena, 49), None);
        assert_eq!(heap.pop_expired(&arena, 60), Some((50, 3)));
        assert_eq!(heap.pop_expired(&arena, 60), None);
        assert_eq!(heap.earliest_deadline(&arena), Some(100));
    }

    /// Every timer of a full arena armed on one heap at once, re-armed as they fire, against a
    /// sorted model: each comes out exactly once, in order, and indices can be re-armed at once.
    #[test]
    fn full_arena_on_one_heap_matches_a_model() {
        const N: usize = 4096;
        let arena = Arena::<N>::new();
        let mut heap = Heap::new();
        let mut random = XorShift64::new(7);
        let mut model: Vec<(u64, u64, usize)> = Vec::new();
        let mut sequence = 0;
        for index in 0..N {
            let deadline = random.below(1000) as u64;
            heap.insert(&arena, index, deadline);
            model.push((deadline, sequence, index));
            sequence += 1;
        }
        let mut now = 0;
        while !model.is_empty() {
            now += random.below(50) as u64;
            model.sort_unstable();
            while let Some(&(deadline, _, index)) = model.first().filter(|entry| entry.0 <= now) {
                assert_eq!(heap.pop_expired(&arena, now), Some((deadline, index)));
                model.remove(0);
                if random.below(3) == 0 {
                    let again = now + 1 + random.below(200) as u64;
                    heap.insert(&arena, index, again);
                    model.push((again, sequence, index));
                    sequence += 1;
                    model.sort_unstable();
                }
            }
            assert_eq!(heap.pop_expired(&arena, now), None);
            assert_eq!(heap.len(), model.len());
        }
    }

    #[test]
    fn two_heaps_share_one_arena() {
        let arena = Arena::<4>::new();
        let (mut a, mut b) = (Heap::new(), Heap::new());
        a.insert(&arena, 0, 7);
        b.insert(&arena, 1, 3);
        a.insert(&arena, 2, 1);
        assert_eq!(b.pop(&arena), Some((3, 1)));
        assert_eq!(a.pop(&arena), Some((1, 2)));
        assert_eq!(a.pop(&arena), Some((7, 0)));
        assert_eq!((a.pop(&arena), b.pop(&arena)), (None, None));
    }
}
