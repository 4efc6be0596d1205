//! A core's run queue: a bounded ring of task ids that its owner pushes and pops without a lock,
//! and that other cores steal from with one compare-and-swap (the shape of Go's `runqput`,
//! `runqget` and `runqgrab`).
//!
//! The owner alone writes `tail` and the slots past it; `head` moves forward by
//! compare-and-swap, by the owner popping one task or by a thief taking several. A thief reads
//! the slots first and then claims them by moving `head` past them: if the claim succeeds,
//! nobody moved `head` meanwhile, so the owner cannot have reused those slots (it writes a slot
//! only once `head` has passed it), and what the thief read is what was queued.

use crate::sync::atomic::{AtomicU32, Ordering};

/// A ring of up to `N` task ids (`N` a power of two, at most 2^31).
///
/// Guarantees: ids leave in the order the owner pushed them (a steal takes the oldest); every
/// id pushed with `Ok` leaves exactly once, by [`Ring::pop`] or [`Ring::steal`]; a full ring
/// refuses with `Err` and is unchanged. [`Ring::push`] and [`Ring::pop`] are for the owning core
/// only (never two at once: the owner masks interrupts around them); any core may steal.
pub struct Ring<const N: usize> {
    head: AtomicU32,
    tail: AtomicU32,
    slots: [AtomicU32; N],
}

impl<const N: usize> Ring<N> {
    const MASK: u32 = {
        assert!(
            N.is_power_of_two() && N <= 1 << 31,
            "N must be a power of two up to 2^31"
        );
        N as u32 - 1
    };

    /// An empty ring; `const` so a core's ring can live in a `static`.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        let _ = Self::MASK;
        Self {
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            slots: [const { AtomicU32::new(0) }; N],
        }
    }

    /// An empty ring (loom's atomics are not `const`).
    #[cfg(loom)]
    pub fn new() -> Self {
        let _ = Self::MASK;
        Self {
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            slots: core::array::from_fn(|_| AtomicU32::new(0)),
        }
    }

    /// Owner only: queues `id` at the back, or gives it back in `Err` when the ring is full.
    pub fn push(&self, id: u32) -> Result<(), u32> {
        let head = self.head.load(Ordering::Acquire);
        let tail = self.tail.load(Ordering::Relaxed);
        if tail.wrapping_sub(head) >= N as u32 {
            return Err(id);
        }
        self.slots[(tail & Self::MASK) as usize].store(id, Ordering::Relaxed);
        // Release: a thief that reads this tail reads the slot stored above.
        self.tail.store(tail.wrapping_add(1), Ordering::Release);
        Ok(())
    }

    /// Owner only: takes the oldest id, if any.
    pub fn pop(&self) -> Option<u32> {
        let mut head = self.head.load(Ordering::Acquire);
        loop {
            if head == self.tail.load(Ordering::Relaxed) {
                return None;
            }
            let id = self.slots[(head & Self::MASK) as usize].load(Ordering::Relaxed);
            match self.head.compare_exchange_weak(
                head,
                head.wrapping_add(1),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some(id),
                Err(current) => head = current,
            }
        }
    }

    /// How many ids are queued (a snapshot: other cores may steal meanwhile).
    pub fn len(&self) -> usize {
        loop {
            let head = self.head.load(Ordering::Acquire);
            let tail = self.tail.load(Ordering::Acquire);
            // A head read before a burst of pops and pushes can trail the tail by more than
            // `N`: read both again.
            if tail.wrapping_sub(head) <= N as u32 {
                return tail.wrapping_sub(head) as usize;
            }
        }
    }

    /// Whether nothing is queued (a snapshot).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The id a steal would take first, if any is queued (a snapshot: the owner or a thief may
    /// take it meanwhile).
    pub fn oldest(&self) -> Option<u32> {
        loop {
            let head = self.head.load(Ordering::Acquire);
            // Acquire: pairs with the owner's release of `tail`, as in `steal`.
            let tail = self.tail.load(Ordering::Acquire);
            let queued = tail.wrapping_sub(head);
            if queued <= N as u32 {
                return (queued > 0)
                    .then(|| self.slots[(head & Self::MASK) as usize].load(Ordering::Relaxed));
            }
        }
    }

    /// Any core: takes up to `limit(queued)` of the oldest ids (and at most `into.len()`),
    /// stopping before the first one `stays` holds back, and writes them into `into` oldest
    /// first; returns how many.
    ///
    /// `stays` is asked about each id before the claim, and must never hold back an id it
    /// once let go while that id stays queued (the scheduler holds back a task still switching
    /// out on its core; a queued task cannot start running, so it cannot start switching out
    /// again until it has left the ring).
    pub fn steal(
        &self,
        limit: impl Fn(usize) -> usize,
        stays: impl Fn(u32) -> bool,
        into: &mut [u32],
    ) -> usize {
        loop {
            let head = self.head.load(Ordering::Acquire);
            // Acquire: pairs with the owner's release of `tail`, so the slots below it are
            // readable.
            let tail = self.tail.load(Ordering::Acquire);
            let queued = tail.wrapping_sub(head);
            if queued > N as u32 {
                continue;
            }
            let wanted = limit(queued as usize).min(queued as usize).min(into.len());
            let mut taken = 0;
            while taken < wanted {
                let id = self.slots[(head.wrapping_add(taken as u32) & Self::MASK) as usize]
                    .load(Ordering::Relaxed);
                if stays(id) {
                    break;
                }
                into[taken] = id;
                taken += 1;
            }
            if taken == 0 {
                return 0;
            }
            // Claimed only if nobody moved `head` since it was read: then the owner has not
            // reused the slots read above, and they held what is queued.
            if self
                .head
                .compare_exchange(
                    head,
                    head.wrapping_add(taken as u32),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
            {
                return taken;
            }
        }
    }
}

impl<const N: usize> Default for Ring<N> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    #[test]
    fn fifo_with_a_full_ring_refusing() {
        let ring = Ring::<4>::new();
        assert!(ring.is_empty());
        assert_eq!(ring.oldest(), None);
        for id in 1..=4 {
            assert_eq!(ring.push(id), Ok(()));
        }
        assert_eq!(ring.push(5), Err(5));
        assert_eq!(ring.len(), 4);
        assert_eq!(ring.oldest(), Some(1));
        assert_eq!(ring.pop(), Some(1));
        assert_eq!(ring.oldest(), Some(2));
        assert_eq!(ring.push(5), Ok(()));
        let rest: Vec<u32> = core::iter::from_fn(|| ring.pop()).collect();
        assert_eq!(rest, [2, 3, 4, 5]);
        assert_eq!(ring.pop(), None);
    }

    #[test]
    fn a_steal_takes_the_oldest_up_to_the_limit_and_stops_before_one_held_back() {
        let ring = Ring::<8>::new();
        for id in 10..16 {
            assert_eq!(ring.push(id), Ok(()));
        }
        let mut loot = [0; 8];
        let half = |queued: usize| queued - queued / 2;
        assert_eq!(ring.steal(half, |_| false, &mut loot), 3);
        assert_eq!(loot[..3], [10, 11, 12]);
        assert_eq!(ring.pop(), Some(13));
        // 15 is held back: the steal takes what is older and leaves 15 queued.
        assert_eq!(ring.steal(|_| usize::MAX, |id| id == 15, &mut loot), 1);
        assert_eq!(loot[0], 14);
        assert_eq!(ring.steal(half, |id| id == 15, &mut loot), 0);
        assert_eq!(ring.pop(), Some(15));
        assert_eq!(ring.steal(half, |_| false, &mut loot), 0);
    }

    #[test]
    fn a_steal_takes_no_more_than_its_buffer_holds() {
        let ring = Ring::<8>::new();
        for id in 1..=8 {
            assert_eq!(ring.push(id), Ok(()));
        }
        let mut loot = [0; 3];
        assert_eq!(ring.steal(|queued| queued, |_| false, &mut loot), 3);
        assert_eq!(loot, [1, 2, 3]);
        assert_eq!(ring.len(), 5);
        assert_eq!(ring.pop(), Some(4));
    }

    #[test]
    fn thieves_racing_the_owner_lose_and_duplicate_nothing() {
        const TASKS: u32 = 200_000;
        let ring = Ring::<64>::new();
        let done = std::sync::atomic::AtomicBool::new(false);
        let mut seen = Vec::new();
        let mut stolen = std::thread::scope(|scope| {
            let thieves: Vec<_> = (0..2)
                .map(|_| {
                    let (ring, done) = (&ring, &done);
                    scope.spawn(move || {
                        let (mut stolen, mut loot) = (Vec::new(), [0; 64]);
                        while !done.load(std::sync::atomic::Ordering::Acquire) {
                            let taken =
                                ring.steal(|queued| queued.div_ceil(2), |_| false, &mut loot);
                            stolen.extend_from_slice(&loot[..taken]);
                        }
                        stolen
                    })
                })
                .collect();
            let mut pending: VecDeque<u32> = (0..TASKS).collect();
            while let Some(id) = pending.pop_front() {
                if let Err(id) = ring.push(id) {
                    pending.push_front(id);
                    seen.extend(ring.pop());
                }
                if id % 3 == 0 {
                    seen.extend(ring.pop());
                }
            }
            seen.extend(core::iter::from_fn(|| ring.pop()));
            done.store(true, std::sync::atomic::Ordering::Release);
            thieves
                .into_iter()
                .flat_map(|thief| thief.join().unwrap())
                .collect::<Vec<u32>>()
        });
        stolen.append(&mut seen);
        stolen.sort_unstable();
        assert_eq!(stolen, (0..TASKS).collect::<Vec<_>>());
    }
}

#[cfg(all(test, loom))]
mod model {
    //! Loom model of a core's run queue and inbox together, as the scheduler's switch uses
    //! them: the owner runs task 2 with task 1 queued; it empties its inbox onto its ring, pops
    //! the next task and, if there is one, queues task 2 behind (still on the core until the
    //! switch is done, which it then marks), while a thief steals half (holding back a task
    //! still on its core) and another core wakes task 3 into the inbox. Every task must come
    //! out exactly once, and the thief must never get a task that is still on its core.
    //! `RUSTFLAGS="--cfg loom" cargo test --release -p coresched --lib sched::` runs it.

    use super::*;
    use crate::sched::inbox::{EMPTY, Inbox, Links};
    use loom::sync::Arc;
    use loom::sync::atomic::AtomicBool;
    use loom::thread;

    /// Task ids 1 to 3 (0 unused).
    const TASKS: usize = 4;

    /// Each task's inbox link and whether a core still runs on its stack.
    struct Table {
        links: Vec<AtomicU32>,
        on_core: Vec<AtomicBool>,
    }

    impl Links for Table {
        fn link(&self, id: u32) -> &AtomicU32 {
            &self.links[id as usize]
        }
    }

    #[test]
    fn steal_wake_pop_and_requeue_lose_duplicate_and_take_from_a_core_nothing() {
        loom::model(|| {
            let ring = Arc::new(Ring::<4>::new());
            let inbox = Arc::new(Inbox::new());
            let table = Arc::new(Table {
                links: (0..TASKS).map(|_| AtomicU32::new(EMPTY)).collect(),
                on_core: (0..TASKS).map(|id| AtomicBool::new(id == 2)).collect(),
            });
            assert_eq!(ring.push(1), Ok(()));
            let thief = {
                let (ring, table) = (Arc::clone(&ring), Arc::clone(&table));
                thread::spawn(move || {
                    let mut loot = [0; 4];
                    let taken = ring.steal(
                        |queued| queued - queued / 2,
                        |id| table.on_core[id as usize].load(Ordering::Acquire),
                        &mut loot,
                    );
                    for id in &loot[..taken] {
                        assert!(
                            !table.on_core[*id as usize].load(Ordering::Acquire),
                            "task {id} was stolen while still on its core"
                        );
                    }
                    loot[..taken].to_vec()
                })
            };
            let waker = {
                let (inbox, table) = (Arc::clone(&inbox), Arc::clone(&table));
                thread::spawn(move || inbox.push(3, &*table))
            };
            let empty_inbox = || inbox.take_all(&*table, |id| assert_eq!(ring.push(id), Ok(())));
            let mut seen = Vec::new();
            // The switch: the next task leaves first, then the running task 2 goes behind it
            // (or goes on running if nothing waits), and the switch lets go of task 2's stack.
            empty_inbox();
            match ring.pop() {
                Some(next) => {
                    seen.push(next);
                    assert_eq!(ring.push(2), Ok(()));
                    table.on_core[2].store(false, Ordering::Release);
                }
                None => seen.push(2),
            }
            seen.extend(thief.join().unwrap());
            assert_eq!(waker.join().unwrap(), Ok(()));
            empty_inbox();
            seen.extend(core::iter::from_fn(|| ring.pop()));
            seen.sort_unstable();
            assert_eq!(seen, [1, 2, 3], "a task was lost or duplicated");
        });
    }
}
