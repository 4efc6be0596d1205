//! A core's inbox: the tasks other cores made runnable for it, pushed without a lock and taken
//! by the owner all at once (the shape of Linux's `ttwu` wake list).
//!
//! The inbox is an intrusive stack (a Treiber stack) of task ids: each task has one link, and
//! the inbox holds only the id at the top. Any core pushes with a compare-and-swap on the top;
//! only the owning core takes, with one swap that empties the inbox, and hands the tasks on
//! oldest first. Nobody ever removes a single entry from the top, so a pusher's compare-and-swap
//! cannot be fooled by a top that left and came back (the ABA problem): the link it wrote is
//! right for whatever top it replaces.
//!
//! A core going offline closes its inbox: the close takes every task, and later pushes are
//! refused with `Err`, so the pusher sends the task elsewhere and nothing is dropped.

use crate::sync::atomic::{AtomicU32, Ordering};

/// The top of an empty inbox; also the "no task" a link holds at the bottom of the stack.
pub const EMPTY: u32 = u32::MAX;

/// The top of a closed inbox: pushes are refused until the owner reopens it.
const CLOSED: u32 = u32::MAX - 1;

/// Where the inbox finds each task's link: one `AtomicU32` per task id, which only the inbox
/// uses while the task is in it.
pub trait Links {
    /// The link of task `id`.
    fn link(&self, id: u32) -> &AtomicU32;
}

/// A lock-free, multi-producer inbox of task ids that its owner empties in one step.
///
/// Guarantees: every id pushed with `Ok` is handed out exactly once, by [`Inbox::take_all`] or
/// [`Inbox::close`], in the order the pushes took effect (oldest first); an id refused with
/// `Err` is not in the inbox. Ids must be below `u32::MAX - 1` (the inbox's markers), and an id is in at most one inbox
/// at a time (a task is made runnable once before it runs).
pub struct Inbox {
    top: AtomicU32,
}

impl Inbox {
    /// An empty, open inbox; `const` so a core's inbox can live in a `static`.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Self {
            top: AtomicU32::new(EMPTY),
        }
    }

    /// An empty, open inbox (loom's atomics are not `const`).
    #[cfg(loom)]
    pub fn new() -> Self {
        Self {
            top: AtomicU32::new(EMPTY),
        }
    }

    /// Pushes task `id`; any core may call it. Gives `id` back in `Err` if the inbox is closed.
    ///
    /// Sequentially consistent, so that a pusher that then reads the owner's idle flag pairs
    /// with an owner that sets the flag and then checks [`Inbox::is_empty`]: at least one of
    /// them sees the other, and a task is never left here while its core sleeps.
    pub fn push(&self, id: u32, links: &impl Links) -> Result<(), u32> {
        debug_assert!(
            id < CLOSED,
            "task id {id} collides with the inbox's markers"
        );
        let mut top = self.top.load(Ordering::Relaxed);
        loop {
            if top == CLOSED {
                return Err(id);
            }
            // The task is in no queue yet, so its link is this pusher's to write; the release
            // half of the exchange below publishes it to the owner's swap.
            links.link(id).store(top, Ordering::Relaxed);
            match self
                .top
                .compare_exchange_weak(top, id, Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(current) => top = current,
            }
        }
    }

    /// Whether nothing waits in the inbox (a closed inbox is empty). Sequentially consistent:
    /// see [`Inbox::push`].
    #[inline]
    pub fn is_empty(&self) -> bool {
        matches!(self.top.load(Ordering::SeqCst), EMPTY | CLOSED)
    }

    /// Takes every task, handing each to `sink` oldest first; returns how many. Only the owning
    /// core may call it (it never races another taker); a closed inbox stays closed.
    pub fn take_all(&self, links: &impl Links, sink: impl FnMut(u32)) -> usize {
        if self.is_empty() {
            return 0;
        }
        let top = self.top.swap(EMPTY, Ordering::Acquire);
        hand_out(top, links, sink)
    }

    /// Closes the inbox and takes every task in it, oldest first; pushes are refused from now
    /// on. Only the owning core may call it (going offline).
    pub fn close(&self, links: &impl Links, sink: impl FnMut(u32)) -> usize {
        let top = self.top.swap(CLOSED, Ordering::Acquire);
        hand_out(if top == CLOSED { EMPTY } else { top }, links, sink)
    }

    /// Opens a closed inbox again, empty (the owning core coming back online); an open inbox is
    /// left as it is.
    pub fn reopen(&self) {
        let _ = self
            .top
            .compare_exchange(CLOSED, EMPTY, Ordering::Release, Ordering::Relaxed);
    }
}

impl Default for Inbox {
    fn default() -> Self {
        Self::new()
    }
}

/// Hands the stack that starts at `top` to `sink` oldest first: reverses its links (the stack is
/// private to the caller now) and walks it, reading each link before the task is handed on,
/// since the task may be pushed somewhere else as soon as it is.
fn hand_out(top: u32, links: &impl Links, mut sink: impl FnMut(u32)) -> usize {
    let mut oldest = EMPTY;
    let mut current = top;
    while current != EMPTY {
        let below = links.link(current).load(Ordering::Relaxed);
        links.link(current).store(oldest, Ordering::Relaxed);
        oldest = current;
        current = below;
    }
    let mut count = 0;
    while oldest != EMPTY {
        let newer = links.link(oldest).load(Ordering::Relaxed);
        sink(oldest);
        count += 1;
        oldest = newer;
    }
    count
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    struct Table(Vec<AtomicU32>);

    impl Table {
        fn new(tasks: usize) -> Self {
            Self((0..tasks).map(|_| AtomicU32::new(EMPTY)).collect())
        }
    }

    impl Links for Table {
        fn link(&self, id: u32) -> &AtomicU32 {
            &self.0[id as usize]
        }
    }

    fn take(inbox: &Inbox, links: &Table) -> Vec<u32> {
        let mut taken = Vec::new();
        inbox.take_all(links, |id| taken.push(id));
        taken
    }

    #[test]
    fn tasks_come_out_oldest_first_and_once() {
        let links = Table::new(8);
        let inbox = Inbox::new();
        assert!(inbox.is_empty());
        for id in [3, 1, 4] {
            assert_eq!(inbox.push(id, &links), Ok(()));
        }
        assert!(!inbox.is_empty());
        assert_eq!(take(&inbox, &links), [3, 1, 4]);
        assert!(inbox.is_empty());
        assert_eq!(take(&inbox, &links), []);
        // A task taken out may be pushed again at once.
        assert_eq!(inbox.push(4, &links), Ok(()));
        assert_eq!(take(&inbox, &links), [4]);
    }

    #[test]
    fn a_closed_inbox_refuses_until_reopened() {
        let links = Table::new(8);
        let inbox = Inbox::new();
        assert_eq!(inbox.push(5, &links), Ok(()));
        assert_eq!(inbox.push(6, &links), Ok(()));
        let mut handed = Vec::new();
        assert_eq!(inbox.close(&links, |id| handed.push(id)), 2);
        assert_eq!(handed, [5, 6]);
        assert_eq!(inbox.push(7, &links), Err(7));
        assert!(inbox.is_empty());
        assert_eq!(take(&inbox, &links), []);
        assert_eq!(inbox.push(7, &links), Err(7), "taking must not reopen");
        assert_eq!(inbox.close(&links, |_| unreachable!()), 0);
        inbox.reopen();
        assert_eq!(inbox.push(7, &links), Ok(()));
        assert_eq!(take(&inbox, &links), [7]);
    }

    #[test]
    fn threads_pushing_while_the_owner_takes_lose_and_duplicate_nothing() {
        const PUSHERS: u32 = 4;
        const EACH: u32 = 5_000;
        let links = Table::new((PUSHERS * EACH) as usize);
        let inbox = Inbox::new();
        let mut taken = Vec::new();
        std::thread::scope(|scope| {
            for pusher in 0..PUSHERS {
                let (inbox, links) = (&inbox, &links);
                scope.spawn(move || {
                    for id in pusher * EACH..(pusher + 1) * EACH {
                        assert_eq!(inbox.push(id, links), Ok(()));
                    }
                });
            }
            while taken.len() < (PUSHERS * EACH) as usize {
                inbox.take_all(&links, |id| taken.push(id));
            }
        });
        // Each pusher's tasks come out in the order it pushed them.
        for pusher in 0..PUSHERS {
            let own: Vec<u32> = taken
                .iter()
                .copied()
                .filter(|id| id / EACH == pusher)
                .collect();
            assert!(own.windows(2).all(|pair| pair[0] < pair[1]));
        }
        taken.sort_unstable();
        assert_eq!(taken, (0..PUSHERS * EACH).collect::<Vec<_>>());
    }
}

#[cfg(all(test, loom))]
mod model {
    //! Loom model of the inbox: two cores push while the owner takes, then closes (going
    //! offline) while a third push races the close. Every task must come out exactly once,
    //! either from the owner or refused back to its pusher.
    //! `RUSTFLAGS="--cfg loom" cargo test --release -p coresched --lib sched::` runs it.

    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    struct Table(Vec<AtomicU32>);

    impl Links for Table {
        fn link(&self, id: u32) -> &AtomicU32 {
            &self.0[id as usize]
        }
    }

    #[test]
    fn concurrent_pushes_takes_and_close_lose_and_duplicate_nothing() {
        loom::model(|| {
            let links = Arc::new(Table((0..3).map(|_| AtomicU32::new(EMPTY)).collect()));
            let inbox = Arc::new(Inbox::new());
            let pushers: Vec<_> = [[0u32, 1].as_slice(), [2].as_slice()]
                .into_iter()
                .map(|ids| {
                    let (inbox, links) = (Arc::clone(&inbox), Arc::clone(&links));
                    let ids = ids.to_vec();
                    thread::spawn(move || {
                        ids.into_iter()
                            .filter_map(|id| inbox.push(id, &*links).err())
                            .collect::<Vec<u32>>()
                    })
                })
                .collect();
            let mut seen = Vec::new();
            inbox.take_all(&*links, |id| seen.push(id));
            inbox.close(&*links, |id| seen.push(id));
            for pusher in pushers {
                seen.extend(pusher.join().unwrap());
            }
            seen.sort_unstable();
            assert_eq!(seen, [0, 1, 2], "a task was lost or duplicated");
        });
    }
}
