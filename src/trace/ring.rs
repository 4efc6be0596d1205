//! A single-producer, single-consumer ring of fixed capacity, lock-free: the buffer each core
//! records its trace events in. The owning core is the only writer and the dump the only
//! reader; a push onto a full ring is refused and counted, so no event is lost unnoticed.

use core::cell::UnsafeCell;
use core::mem::MaybeUninit;

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// `N` slots of `T` between a head the writer advances and a tail the reader advances. Both
/// count from 0 and only grow (wrapping at `usize::MAX`), so `head - tail` is the fill level
/// and slot `i % N` holds item `i`.
pub struct Ring<T, const N: usize> {
    slots: [UnsafeCell<MaybeUninit<T>>; N],
    head: AtomicUsize,
    tail: AtomicUsize,
    dropped: AtomicU64,
}

// SAFETY: a slot is written only by the one writer while it is outside `tail..head`, and read
// only by the one reader while it is inside; the head's release/acquire pair publishes the write
// and the tail's pair hands the slot back. `T: Send` because items cross from writer to reader.
unsafe impl<T: Send, const N: usize> Sync for Ring<T, N> {}

impl<T: Copy, const N: usize> Ring<T, N> {
    /// An empty ring with nothing dropped. The all-zero bit pattern is the same empty ring, so
    /// zeroed memory may also be used as one.
    pub const fn new() -> Self {
        Self {
            slots: [const { UnsafeCell::new(MaybeUninit::uninit()) }; N],
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// Appends `item`, or counts it as dropped and returns it when the ring is full.
    ///
    /// # Safety
    /// Only one context pushes to this ring at a time (its owning core, with interrupts
    /// masked so no handler on that core pushes in the middle).
    pub unsafe fn push(&self, item: T) -> Result<(), T> {
        let head = self.head.load(Ordering::Relaxed);
        if head.wrapping_sub(self.tail.load(Ordering::Acquire)) >= N {
            // Only the writer changes the count: a plain load and store.
            let dropped = self.dropped.load(Ordering::Relaxed);
            self.dropped.store(dropped + 1, Ordering::Relaxed);
            return Err(item);
        }
        // SAFETY: the slot is outside `tail..head` (checked above), so the reader does not touch
        // it, and the caller guarantees no other writer does.
        unsafe { (*self.slots[head % N].get()).write(item) };
        self.head.store(head.wrapping_add(1), Ordering::Release);
        Ok(())
    }

    /// Takes the oldest item, if any.
    ///
    /// # Safety
    /// Only one context pops from this ring at a time.
    pub unsafe fn pop(&self) -> Option<T> {
        let tail = self.tail.load(Ordering::Relaxed);
        if tail == self.head.load(Ordering::Acquire) {
            return None;
        }
        // SAFETY: the slot is inside `tail..head`: the writer finished it (the acquire above
        // pairs with its release) and does not reuse it until the tail moves past it.
        let item = unsafe { (*self.slots[tail % N].get()).assume_init() };
        self.tail.store(tail.wrapping_add(1), Ordering::Release);
        Some(item)
    }

    /// Items pushed and not yet popped.
    pub fn len(&self) -> usize {
        self.head
            .load(Ordering::Acquire)
            .wrapping_sub(self.tail.load(Ordering::Acquire))
    }

    /// Whether nothing is waiting to be popped.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many pushes found the ring full since it was made.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl<T: Copy, const N: usize> Default for Ring<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain<const N: usize>(ring: &Ring<u32, N>) -> Vec<u32> {
        // SAFETY: the test is the only reader.
        core::iter::from_fn(|| unsafe { ring.pop() }).collect()
    }

    #[test]
    fn a_full_ring_refuses_and_counts_each_drop() {
        let ring = Ring::<u32, 4>::new();
        for item in 0..4 {
            // SAFETY: the test is the only writer.
            assert_eq!(unsafe { ring.push(item) }, Ok(()));
        }
        // SAFETY: as above.
        assert_eq!(unsafe { ring.push(4) }, Err(4));
        // SAFETY: as above.
        assert_eq!(unsafe { ring.push(5) }, Err(5));
        assert_eq!(ring.dropped(), 2);
        assert_eq!(ring.len(), 4);
        assert_eq!(drain(&ring), [0, 1, 2, 3]);
        assert!(ring.is_empty());
        assert_eq!(ring.dropped(), 2, "popping does not forget the drops");
    }

    #[test]
    fn items_come_out_in_order_across_many_wrap_arounds() {
        let ring = Ring::<u32, 3>::new();
        let mut expected = 0;
        for item in 0..100 {
            // SAFETY: the test is the only writer and reader.
            unsafe { ring.push(item) }.unwrap();
            if item % 2 == 1 {
                for popped in drain(&ring) {
                    assert_eq!(popped, expected);
                    expected += 1;
                }
            }
        }
        assert_eq!(expected, 100);
        assert_eq!(ring.dropped(), 0);
    }

    #[test]
    fn indices_that_wrap_past_usize_max_keep_working() {
        let ring = Ring::<u32, 4>::new();
        ring.head.store(usize::MAX - 1, Ordering::Relaxed);
        ring.tail.store(usize::MAX - 1, Ordering::Relaxed);
        for item in 0..4 {
            // SAFETY: the test is the only writer.
            unsafe { ring.push(item) }.unwrap();
        }
        // SAFETY: as above.
        assert_eq!(unsafe { ring.push(9) }, Err(9));
        assert_eq!(drain(&ring), [0, 1, 2, 3]);
        assert_eq!(ring.dropped(), 1);
    }

    #[test]
    fn a_writer_and_a_reader_on_two_threads_lose_nothing() {
        let ring = Ring::<u32, 8>::new();
        let total = 100_000;
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for item in 0..total {
                    // SAFETY: this thread is the only writer.
                    while unsafe { ring.push(item) }.is_err() {
                        std::hint::spin_loop();
                    }
                }
            });
            let mut next = 0;
            while next < total {
                // SAFETY: this thread is the only reader.
                if let Some(item) = unsafe { ring.pop() } {
                    assert_eq!(item, next);
                    next += 1;
                }
            }
        });
        assert!(ring.is_empty());
    }
}
