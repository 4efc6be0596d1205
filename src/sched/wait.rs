//! Blocking: one wait-queue mechanism, and the event, semaphore and mutex built on it.
//!
//! A [`WaitQueue`] is an intrusive FIFO of blocked tasks (linked through the tasks themselves,
//! so it never fills up) behind an IRQ-masking spinlock of rank `WaitQueue`. A waiter checks its
//! condition and enqueues itself under that lock, and a notifier changes the condition before
//! taking it, so a notification can never slip between the check and the sleep.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::task::{NO_TASK, State, TaskId, task};
use crate::sync::{IrqSpinLock, LockRank};

struct WaitList {
    head: TaskId,
    tail: TaskId,
}

/// Tasks blocked until someone notifies them.
pub struct WaitQueue {
    list: IrqSpinLock<WaitList>,
}

impl Default for WaitQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl WaitQueue {
    /// An empty wait queue.
    pub const fn new() -> Self {
        Self {
            list: IrqSpinLock::new(
                LockRank::WaitQueue,
                WaitList {
                    head: NO_TASK,
                    tail: NO_TASK,
                },
            ),
        }
    }

    /// Blocks the calling task for as long as `keep_waiting()` returns true. The closure runs
    /// under the queue's lock, so it sees every change a notifier made before notifying.
    /// Must be called from a task, not from an interrupt handler.
    pub fn wait_while(&self, mut keep_waiting: impl FnMut() -> bool) {
        // Checked first without the lock: a task that need not wait (or was just woken because
        // it need not any more) does not queue on the lock behind every other woken waiter.
        while keep_waiting() {
            // Interrupts stay masked from enqueueing until this core has switched away, so the
            // task cannot be preempted (and re-queued) while it is half asleep.
            let interrupts = crate::arch::irq_save_disable();
            {
                // Masked already, and unmasked below only after the guard is gone.
                let mut list = self.list.lock_masked();
                if !keep_waiting() {
                    drop(list);
                    crate::arch::irq_restore(interrupts);
                    return;
                }
                let me = super::scheduler::current_id();
                task(me).set_state(State::Blocked);
                task(me).wait_next.store(NO_TASK, Ordering::Relaxed);
                match list.tail {
                    NO_TASK => list.head = me,
                    tail => task(tail).wait_next.store(me, Ordering::Relaxed),
                }
                list.tail = me;
            }
            super::scheduler::schedule();
            crate::arch::irq_restore(interrupts);
        }
    }

    /// Wakes the longest-waiting task, if any; returns whether there was one.
    pub fn notify_one(&self) -> bool {
        let woken = {
            let mut list = self.list.lock();
            let first = list.head;
            if first != NO_TASK {
                list.head = task(first).wait_next.load(Ordering::Relaxed);
                if list.head == NO_TASK {
                    list.tail = NO_TASK;
                }
            }
            first
        };
        if woken == NO_TASK {
            return false;
        }
        super::scheduler::wake(woken);
        true
    }

    /// Wakes every waiting task; returns how many there were.
    pub fn notify_all(&self) -> usize {
        let mut next = {
            let mut list = self.list.lock();
            let head = list.head;
            list.head = NO_TASK;
            list.tail = NO_TASK;
            head
        };
        let mut woken = 0;
        while next != NO_TASK {
            // Read the link before waking: once awake the task may block somewhere else.
            let current = next;
            next = task(current).wait_next.load(Ordering::Relaxed);
            super::scheduler::wake(current);
            woken += 1;
        }
        woken
    }
}

/// A manual-reset event: tasks wait until it is set.
#[derive(Default)]
pub struct Event {
    set: AtomicBool,
    waiters: WaitQueue,
}

impl Event {
    /// A clear event.
    pub const fn new() -> Self {
        Self {
            set: AtomicBool::new(false),
            waiters: WaitQueue::new(),
        }
    }

    /// Blocks until the event is set (returns at once if it is).
    pub fn wait(&self) {
        self.waiters
            .wait_while(|| !self.set.load(Ordering::Acquire));
    }

    /// Sets the event and wakes every waiter. Safe from interrupt handlers.
    pub fn set(&self) {
        self.set.store(true, Ordering::Release);
        self.waiters.notify_all();
    }

    /// Clears the event, so later `wait`s block again.
    pub fn reset(&self) {
        self.set.store(false, Ordering::Release);
    }

    /// Whether the event is set.
    pub fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }
}

/// A counting semaphore.
pub struct Semaphore {
    permits: AtomicUsize,
    waiters: WaitQueue,
}

impl Semaphore {
    /// A semaphore holding `permits` permits.
    pub const fn new(permits: usize) -> Self {
        Self {
            permits: AtomicUsize::new(permits),
            waiters: WaitQueue::new(),
        }
    }

    /// Takes a permit, blocking until one is available.
    pub fn acquire(&self) {
        self.waiters.wait_while(|| !self.try_acquire());
    }

    /// Takes a permit if one is available now.
    pub fn try_acquire(&self) -> bool {
        self.permits
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |permits| {
                permits.checked_sub(1)
            })
            .is_ok()
    }

    /// Returns a permit and wakes one waiter. Safe from interrupt handlers.
    pub fn release(&self) {
        self.permits.fetch_add(1, Ordering::AcqRel);
        self.waiters.notify_one();
    }
}

/// A mutual-exclusion lock whose waiters block (sleep) instead of spinning. For tasks only.
pub struct Mutex<T> {
    locked: AtomicBool,
    waiters: WaitQueue,
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reached through a guard, and one guard exists at a time.
unsafe impl<T: Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`.
    pub const fn new(value: T) -> Self {
        Self {
            locked: AtomicBool::new(false),
            waiters: WaitQueue::new(),
            value: UnsafeCell::new(value),
        }
    }

    /// Locks, blocking the calling task while another holds the lock.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        if !self.try_take() {
            self.waiters.wait_while(|| !self.try_take());
        }
        MutexGuard { mutex: self }
    }

    fn try_take(&self) -> bool {
        self.locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }
}

/// Access to a [`Mutex`]'s value; unlocks (and wakes one waiter) when dropped.
pub struct MutexGuard<'a, T> {
    mutex: &'a Mutex<T>,
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves this task holds the lock.
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves this task holds the lock.
        unsafe { &mut *self.mutex.value.get() }
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.locked.store(false, Ordering::Release);
        self.mutex.waiters.notify_one();
    }
}
