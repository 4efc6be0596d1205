//! A core's count of the tasks other cores may steal from its ring, kept in step with the
//! core's membership of the set of cores that have such tasks, while the owner raises the count
//! and thieves lower it at the same time. Portable, so that a loom model checks the protocol.

use crate::sync::atomic::{AtomicUsize, Ordering};

/// Where a core's membership of the stealable set is kept (in the kernel, a bit of a core set
/// and a count of its members). Both calls are sequentially consistent.
pub trait Membership {
    /// Adds the core; returns whether it was missing (it is then counted among the members).
    fn join(&self) -> bool;
    /// Removes the core; returns whether it was there (it is then no longer counted).
    fn leave(&self) -> bool;
}

/// How many of one core's queued tasks other cores may steal.
///
/// Guarantees: once every [`StealCount::add`] has returned, the core is a member exactly when
/// the count is above 0, whatever the interleaving. The caller keeps the count from ever
/// falling below what thieves can take: it raises it before a task can be stolen and lowers it
/// after tasks left.
pub struct StealCount {
    count: AtomicUsize,
}

impl StealCount {
    /// A count of 0; `const` so each core's count can live in a `static`.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Self {
            count: AtomicUsize::new(0),
        }
    }

    /// A count of 0 (loom's atomics are not `const`).
    #[cfg(loom)]
    pub fn new() -> Self {
        Self {
            count: AtomicUsize::new(0),
        }
    }

    /// The count (a snapshot).
    pub fn get(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Moves the count by `delta`, and the core's membership with it when the count passes 0.
    /// Sequentially consistent, so that a core that raises the count and then looks for an
    /// idle core pairs with an idle core that announces itself and then reads the members.
    ///
    /// The owner may raise the count while a thief lowers it to 0, each then changing the
    /// membership; so each rereads the count after changing it and goes again if the two no
    /// longer agree. The last change is thus made by a core that read the count after the
    /// count's last change, and the two end in agreement. Meanwhile a thief's removal can
    /// leave the core out for a moment while a task can be stolen (the owner found it still a
    /// member and left it); the thief then puts it back, so the caller that lowered the count
    /// must look for an idle core after this returns, as every successful steal does.
    pub fn add(&self, delta: isize, membership: &impl Membership) {
        let size = delta.unsigned_abs();
        let passed_zero = if delta > 0 {
            self.count.fetch_add(size, Ordering::SeqCst) == 0
        } else {
            self.count.fetch_sub(size, Ordering::SeqCst) == size
        };
        if !passed_zero {
            return;
        }
        loop {
            let stealable = self.count.load(Ordering::SeqCst) > 0;
            let changed = if stealable {
                membership.join()
            } else {
                membership.leave()
            };
            if !changed {
                return;
            }
            seq_cst_for_loom();
            if (self.count.load(Ordering::SeqCst) > 0) == stealable {
                return;
            }
        }
    }
}

/// Nothing, except under loom, where it is a sequentially consistent fence. Loom treats a
/// sequentially consistent load or store as acquire or release only, so it would let a load
/// after a store read a value the single total order of sequentially consistent accesses rules
/// out (the hardware and Rust's memory model both keep that order; loom does model
/// sequentially consistent fences). Placed between a store and a later load of another word.
#[inline(always)]
fn seq_cst_for_loom() {
    #[cfg(loom)]
    loom::sync::atomic::fence(Ordering::SeqCst);
}

impl Default for StealCount {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    struct Flag(AtomicBool);

    impl Membership for Flag {
        fn join(&self) -> bool {
            !self.0.swap(true, Ordering::SeqCst)
        }
        fn leave(&self) -> bool {
            self.0.swap(false, Ordering::SeqCst)
        }
    }

    #[test]
    fn membership_follows_the_count_across_zero() {
        let (count, member) = (StealCount::new(), Flag(AtomicBool::new(false)));
        count.add(1, &member);
        assert!(member.0.load(Ordering::SeqCst));
        count.add(2, &member);
        count.add(-1, &member);
        assert_eq!(count.get(), 2);
        assert!(member.0.load(Ordering::SeqCst));
        count.add(-2, &member);
        assert_eq!(count.get(), 0);
        assert!(!member.0.load(Ordering::SeqCst));
    }

    #[test]
    fn an_owner_and_a_thief_racing_leave_membership_in_agreement() {
        let (count, member) = (StealCount::new(), Flag(AtomicBool::new(false)));
        std::thread::scope(|scope| {
            let thief = scope.spawn(|| {
                for _ in 0..100_000 {
                    // Take one task whenever there is one, as a thief would.
                    if count.get() > 0 {
                        count.add(-1, &member);
                    }
                }
            });
            for _ in 0..100_000 {
                if count.get() == 0 {
                    count.add(1, &member);
                }
            }
            thief.join().unwrap();
        });
        assert_eq!(member.0.load(Ordering::SeqCst), count.get() > 0);
    }
}

#[cfg(all(test, loom))]
mod model {
    //! Loom model of the stealable count with the idle protocol around it (`idle.rs`): a
    //! victim core has one stealable task; a thief takes it and lowers the count to 0 while the
    //! victim queues another movable task and raises it; each then looks for an idle core to
    //! wake, as the kernel does (Go's `wakep`: only when nobody is spinning, and the thief
    //! spins while it steals). A third core announces itself idle and sleeps if no core is a
    //! member. Membership must end in agreement with the count, and the idle core must not
    //! sleep unwoken while a task can be stolen. A fence (under loom only) sits between each
    //! sequentially consistent store and the next load of another word, see
    //! [`seq_cst_for_loom`].
    //! `RUSTFLAGS="--cfg loom" cargo test --release -p coresched --lib sched::` runs it.

    use super::*;
    use loom::sync::Arc;
    use loom::sync::atomic::AtomicBool;
    use loom::thread;

    /// The stealable set of one core, its member count, and the idle protocol's words.
    #[derive(Default)]
    struct Machine {
        count: StealCount,
        member: AtomicBool,
        members: AtomicUsize,
        idle_cores: AtomicUsize,
        spinning: AtomicUsize,
        woken: AtomicBool,
    }

    impl Membership for Machine {
        fn join(&self) -> bool {
            let joined = !self.member.swap(true, Ordering::SeqCst);
            if joined {
                self.members.fetch_add(1, Ordering::SeqCst);
            }
            joined
        }
        fn leave(&self) -> bool {
            let left = self.member.swap(false, Ordering::SeqCst);
            if left {
                self.members.fetch_sub(1, Ordering::SeqCst);
            }
            left
        }
    }

    impl Machine {
        /// Go's `wakep`, as `idle::wake_idle_core`.
        fn wake_idle_core(&self) {
            seq_cst_for_loom();
            if self.idle_cores.load(Ordering::SeqCst) > 0
                && self.spinning.load(Ordering::SeqCst) == 0
                && self
                    .spinning
                    .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            {
                if self.idle_cores.load(Ordering::SeqCst) > 0 {
                    self.idle_cores.fetch_sub(1, Ordering::SeqCst);
                    self.woken.store(true, Ordering::SeqCst);
                }
                self.spinning.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }

    #[test]
    fn an_owner_and_a_thief_neither_disagree_nor_lose_a_wake_up() {
        loom::model(|| {
            let machine = Arc::new(Machine::default());
            machine.count.add(1, &*machine);
            let thief = {
                let machine = Arc::clone(&machine);
                thread::spawn(move || {
                    machine.spinning.fetch_add(1, Ordering::SeqCst);
                    machine.count.add(-1, &*machine);
                    machine.spinning.fetch_sub(1, Ordering::SeqCst);
                    machine.wake_idle_core();
                })
            };
            let idle = {
                let machine = Arc::clone(&machine);
                thread::spawn(move || {
                    machine.idle_cores.fetch_add(1, Ordering::SeqCst);
                    seq_cst_for_loom();
                    machine.members.load(Ordering::SeqCst) == 0
                })
            };
            machine.count.add(1, &*machine);
            machine.wake_idle_core();
            thief.join().unwrap();
            let slept = idle.join().unwrap();
            assert_eq!(machine.count.get(), 1);
            assert!(
                machine.member.load(Ordering::SeqCst),
                "a core with a stealable task is not in the set"
            );
            assert_eq!(machine.members.load(Ordering::SeqCst), 1);
            assert!(
                !slept || machine.woken.load(Ordering::SeqCst),
                "the idle core slept unwoken while a task could be stolen"
            );
        });
    }
}
