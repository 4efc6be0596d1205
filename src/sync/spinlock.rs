//! [`IrqSpinLock`]: a spinlock that masks interrupts while held and has a place in the
//! lock order ([`LockRank`]).
//!
//! Masking matters because an interrupt handler may take the same lock: if it interrupted its
//! own core while that core held the lock, it would spin forever. The lock is a
//! test-and-test-and-set spinlock (`spin::mutex::SpinMutex`): waiters spin reading the lock and
//! whichever core sees it free first takes it. A ticket lock would serve waiters in order, but
//! when cores are virtual CPUs sharing fewer host CPUs (QEMU on a small host, or any guest under
//! a busy hypervisor), the next ticket's holder is often not running, and every other core then
//! waits for the host to schedule it: a convoy that made 124-vCPU boots 30 times slower here.
//! Critical sections are short, so unfairness costs little.

use super::held;
use super::rank::LockRank;
use super::rank_check::CheckedRank;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};

/// A spinlock that masks interrupts on the holding core and obeys the lock order.
///
/// - Interrupts on a core stay masked from its first `IrqSpinLock` acquisition until its last
///   guard is dropped, in whatever order the guards go.
/// - In debug builds, acquiring out of order (see [`LockRank`]) panics before spinning.
/// - A free lock goes to whichever waiting core sees it first (`spin::mutex::SpinMutex`).
/// - Under `cfg(loom)` the lock is a `loom::sync::Mutex`, so loom models explore it; there the
///   rank check is off and [`IrqSpinLock::new`] is not `const`.
pub struct IrqSpinLock<T> {
    rank: CheckedRank,
    inner: raw::Lock<T>,
}

/// Proof that the current core holds an [`IrqSpinLock`]; gives access to the data. Dropping it
/// releases the lock, then forgets its rank, then (if it was the core's last such lock) restores
/// the interrupt state: the lock is free before interrupts are unmasked. Not `Send`: it must be
/// dropped on the core that took it.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct IrqSpinLockGuard<'a, T> {
    inner: ManuallyDrop<raw::Guard<'a, T>>,
    rank: CheckedRank,
    /// Taken by [`IrqSpinLock::lock`] (counted among the core's locks, restores the interrupt
    /// state) rather than [`IrqSpinLock::lock_masked`].
    counted: bool,
    not_send: PhantomData<*const ()>,
}

impl<T> IrqSpinLock<T> {
    /// A free lock of rank `rank` guarding `value`.
    #[cfg(not(loom))]
    pub const fn new(rank: LockRank, value: T) -> Self {
        Self {
            rank: CheckedRank::new(rank),
            inner: raw::Lock::new(value),
        }
    }

    /// A free lock of rank `rank` guarding `value` (not `const` under loom, whose mutex is not).
    #[cfg(loom)]
    pub fn new(rank: LockRank, value: T) -> Self {
        Self {
            rank: CheckedRank::new(rank),
            inner: raw::Lock::new(value),
        }
    }

    /// Masks interrupts, checks the lock order (panicking on an inversion in debug builds),
    /// passes a perturbation point (a seeded delay in debug builds, see
    /// [`perturb`](super::perturb)), spins until the lock is free, and returns the guard.
    pub fn lock(&self) -> IrqSpinLockGuard<'_, T> {
        let saved = held::prepare_acquire(self.rank);
        super::perturb::point(super::perturb::Site::Lock);
        let inner = raw::lock(&self.inner, self.rank.rank());
        held::record_acquire(self.rank, saved);
        self.guard(inner, true)
    }

    /// Like [`IrqSpinLock::lock`], for a caller that masked interrupts itself and keeps them
    /// masked until the guard is gone (the scheduler's switch): the order is checked and the
    /// rank recorded as `lock` does, but the interrupt state is neither saved nor restored and
    /// the guard is not counted among the core's locks, so in a build without the checker it
    /// costs only the raw lock. Debug builds panic if interrupts are unmasked.
    pub fn lock_masked(&self) -> IrqSpinLockGuard<'_, T> {
        held::prepare_acquire_masked(self.rank);
        super::perturb::point(super::perturb::Site::Lock);
        let inner = raw::lock(&self.inner, self.rank.rank());
        held::record_acquire_masked(self.rank);
        self.guard(inner, false)
    }

    /// Like [`IrqSpinLock::lock`] (the order is checked the same way), but returns `None` at
    /// once, with the interrupt state as it was, if the lock is held.
    pub fn try_lock(&self) -> Option<IrqSpinLockGuard<'_, T>> {
        let saved = held::prepare_acquire(self.rank);
        match raw::try_lock(&self.inner) {
            Some(inner) => {
                held::record_acquire(self.rank, saved);
                Some(self.guard(inner, true))
            }
            None => {
                crate::arch::irq_restore(saved);
                None
            }
        }
    }

    /// Whether some core holds the lock at this instant: a hint, since it may change at once.
    pub fn is_locked(&self) -> bool {
        raw::is_locked(&self.inner)
    }

    /// A raw pointer to the guarded value, for a last-resort path that must reach it while the
    /// lock may be held by a core that will never release it (the panic path's console).
    /// Dereferencing it is sound only while no other core or interrupt handler uses the value.
    /// Not available under loom.
    #[cfg(not(loom))]
    pub fn data_ptr(&self) -> *mut T {
        self.inner.as_mut_ptr()
    }

    fn guard<'a>(&self, inner: raw::Guard<'a, T>, counted: bool) -> IrqSpinLockGuard<'a, T> {
        IrqSpinLockGuard {
            inner: ManuallyDrop::new(inner),
            rank: self.rank,
            counted,
            not_send: PhantomData,
        }
    }
}

impl<T> Deref for IrqSpinLockGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> DerefMut for IrqSpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T> Drop for IrqSpinLockGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: `inner` is dropped only here, once, and never used again.
        unsafe { ManuallyDrop::drop(&mut self.inner) };
        // Waiters wait for an event (see `lockup::Watch::spin`): this is it.
        crate::arch::send_event();
        if self.counted {
            held::record_release(self.rank);
        } else {
            held::record_release_masked(self.rank);
        }
    }
}

#[cfg(not(loom))]
mod raw {
    use crate::sync::LockRank;
    use crate::sync::lockup::Watch;

    pub(super) type Lock<T> = spin::mutex::SpinMutex<T>;
    pub(super) type Guard<'a, T> = spin::mutex::SpinMutexGuard<'a, T>;

    /// Test-and-test-and-set: spins reading the lock until it looks free, then tries to take
    /// it, with the lock-up detector watching the wait.
    pub(super) fn lock<T>(lock: &Lock<T>, rank: Option<LockRank>) -> Guard<'_, T> {
        if let Some(guard) = lock.try_lock() {
            return guard;
        }
        let mut watch = Watch::new(rank);
        loop {
            while lock.is_locked() {
                watch.spin();
            }
            if let Some(guard) = lock.try_lock() {
                return guard;
            }
        }
    }

    pub(super) fn try_lock<T>(lock: &Lock<T>) -> Option<Guard<'_, T>> {
        lock.try_lock()
    }

    pub(super) fn is_locked<T>(lock: &Lock<T>) -> bool {
        lock.is_locked()
    }
}

#[cfg(loom)]
mod raw {
    pub(super) type Lock<T> = loom::sync::Mutex<T>;
    pub(super) type Guard<'a, T> = loom::sync::MutexGuard<'a, T>;

    pub(super) fn lock<T>(lock: &Lock<T>, _rank: Option<crate::sync::LockRank>) -> Guard<'_, T> {
        // A poisoned lock only means a model thread panicked while holding it; loom reports
        // that panic itself.
        lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn try_lock<T>(lock: &Lock<T>) -> Option<Guard<'_, T>> {
        lock.try_lock().ok()
    }

    pub(super) fn is_locked<T>(lock: &Lock<T>) -> bool {
        lock.try_lock().is_err()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::IrqSpinLock;
    use crate::sync::LockRank;
    use std::sync::Arc;

    #[test]
    fn counter_from_two_threads() {
        // Two threads contend as hard as eight for mutual exclusion, and stay quick on a loaded
        // 2-core host.
        const THREADS: usize = 2;
        const INCREMENTS: usize = 20_000;
        let counter = Arc::new(IrqSpinLock::new(LockRank::RunQueue, 0usize));
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                let counter = Arc::clone(&counter);
                std::thread::spawn(move || {
                    for _ in 0..INCREMENTS {
                        *counter.lock() += 1;
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().expect("a worker thread panicked");
        }
        assert_eq!(*counter.lock(), THREADS * INCREMENTS);
    }

    #[test]
    fn try_lock_fails_while_held_and_succeeds_after() {
        let lock = IrqSpinLock::new(LockRank::TaskSlots, 7u32);
        let guard = lock.lock();
        assert!(lock.is_locked());
        std::thread::scope(|scope| {
            scope.spawn(|| assert!(lock.try_lock().is_none()));
        });
        drop(guard);
        assert!(!lock.is_locked());
        assert_eq!(lock.try_lock().map(|guard| *guard), Some(7));
    }

    #[test]
    fn data_ptr_reaches_the_value_past_a_held_lock() {
        let lock = IrqSpinLock::new(LockRank::Console, 1u32);
        let stuck = lock.lock();
        // SAFETY: the guard is held but not used until the write below is done.
        unsafe { *lock.data_ptr() = 2 };
        assert_eq!(*stuck, 2);
    }

    #[test]
    fn lock_usable_in_a_static() {
        static CONSOLE: IrqSpinLock<u8> = IrqSpinLock::new(LockRank::Console, 0);
        *CONSOLE.lock() = 5;
        assert_eq!(*CONSOLE.lock(), 5);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::IrqSpinLock;
    use crate::sync::LockRank;
    use loom::sync::Arc;

    #[test]
    fn two_threads_increment_under_loom() {
        loom::model(|| {
            let counter = Arc::new(IrqSpinLock::new(LockRank::RunQueue, 0u32));
            let other = Arc::clone(&counter);
            let worker = loom::thread::spawn(move || *other.lock() += 1);
            *counter.lock() += 1;
            worker.join().expect("the model thread panicked");
            assert_eq!(*counter.lock(), 2);
        });
    }
}
