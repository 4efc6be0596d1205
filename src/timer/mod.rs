//! Kernel timers: one earliest-deadline-first queue per core, and the timer interrupt.
//!
//! [`queue`] is the portable queue. Each core's queue sits behind its own IRQ-masking spinlock
//! (rank `TimerQueue`) and the core publishes its earliest deadline in an atomic whenever the
//! head changes, so the monitor reads deadlines without ever taking a timer-queue lock.
//!
//! The rule from the seed: callbacks never run while a timer-queue lock is held. Expired timers
//! are taken off under the lock, the lock is released, and only then are they fired.

pub mod queue;

use core::sync::atomic::{AtomicU64, Ordering};

use self::queue::{TimerHandle, TimerQueue};
use crate::MAX_CORES;
use crate::sync::{IrqSpinLock, LockRank};

/// Armed timers each core can hold; arming one more is an `Err`.
pub const TIMERS_PER_CORE: usize = 256;

/// No deadline: the published value of a core with no armed timer.
pub const NO_DEADLINE: u64 = u64::MAX;

/// What a timer does when it fires: `callback(argument)`, run with interrupts masked on the
/// timer's core, after the queue lock is released.
#[derive(Clone, Copy, Debug)]
pub struct Expiry {
    /// Called when the timer fires.
    pub callback: fn(usize),
    /// Passed to `callback`.
    pub argument: usize,
}

/// An armed timer, for [`cancel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timer {
    core: usize,
    handle: TimerHandle,
}

/// Why a timer could not be armed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerError {
    /// The core's queue already holds [`TIMERS_PER_CORE`] timers.
    QueueFull,
}

#[repr(align(128))]
struct CoreTimers {
    queue: IrqSpinLock<TimerQueue<Expiry, TIMERS_PER_CORE>>,
    earliest: AtomicU64,
    interrupts: AtomicU64,
}

static CORE_TIMERS: [CoreTimers; MAX_CORES] = [const {
    CoreTimers {
        queue: IrqSpinLock::new(LockRank::TimerQueue, TimerQueue::new()),
        earliest: AtomicU64::new(NO_DEADLINE),
        interrupts: AtomicU64::new(0),
    }
}; MAX_CORES];

/// The earliest deadline armed on `core` ([`NO_DEADLINE`] if none), as last published. Never
/// takes a lock.
pub fn earliest_deadline(core: usize) -> u64 {
    CORE_TIMERS[core].earliest.load(Ordering::Acquire)
}

/// How many timer interrupts core `core` has taken since boot.
pub fn timer_interrupts(core: usize) -> u64 {
    CORE_TIMERS[core].interrupts.load(Ordering::Relaxed)
}

fn publish(core: usize, queue: &TimerQueue<Expiry, TIMERS_PER_CORE>) -> u64 {
    let earliest = queue.earliest_deadline().unwrap_or(NO_DEADLINE);
    CORE_TIMERS[core]
        .earliest
        .store(earliest, Ordering::Release);
    earliest
}

/// Arms a one-shot timer on `core` for `deadline_ns`. If it becomes that core's earliest, the
/// core reprograms its hardware timer (directly, or after an SGI when `core` is another core).
pub fn arm_on(core: usize, deadline_ns: u64, expiry: Expiry) -> Result<Timer, TimerError> {
    let (handle, became_earliest) = {
        let mut queue = CORE_TIMERS[core].queue.lock();
        let previous = queue.earliest_deadline().unwrap_or(NO_DEADLINE);
        let handle = queue
            .insert(deadline_ns, expiry)
            .map_err(|_| TimerError::QueueFull)?;
        publish(core, &queue);
        (handle, deadline_ns < previous)
    };
    if became_earliest {
        hardware::reprogram_core(core);
    }
    Ok(Timer { core, handle })
}

/// Cancels `timer`; returns whether it was still armed (false if it fired already).
pub fn cancel(timer: Timer) -> bool {
    let mut queue = CORE_TIMERS[timer.core].queue.lock();
    let cancelled = queue.cancel(timer.handle).is_some();
    publish(timer.core, &queue);
    cancelled
}

/// Fires every timer of `core` that is due at `now_ns`, in deadline order, each after the
/// queue lock is released. Returns the core's next deadline ([`NO_DEADLINE`] if none).
pub fn fire_expired(core: usize, now_ns: u64) -> u64 {
    loop {
        let (expired, next) = {
            let mut queue = CORE_TIMERS[core].queue.lock();
            let expired = queue.pop_expired(now_ns);
            (expired, publish(core, &queue))
        };
        match expired {
            Some((_, expiry)) => (expiry.callback)(expiry.argument),
            None => return next,
        }
    }
}

#[cfg(target_os = "none")]
mod hardware {
    use super::{CORE_TIMERS, NO_DEADLINE, Ordering, fire_expired};
    use crate::arch::aarch64::{cpu, irq, timer};

    /// Makes `core` program its hardware timer for its earliest deadline.
    pub fn reprogram_core(core: usize) {
        if core == cpu::core_id() {
            reprogram_this_core();
        } else {
            irq::send_sgi(irq::Sgi::Reschedule, core);
        }
    }

    /// Programs this core's hardware timer for its earliest deadline, or disarms it.
    pub fn reprogram_this_core() {
        let core = cpu::core_id();
        match CORE_TIMERS[core].earliest.load(Ordering::Acquire) {
            NO_DEADLINE => timer::disarm(),
            deadline => timer::arm(deadline),
        }
    }

    /// The handler of each core's generic-timer interrupt.
    pub fn handle_timer_interrupt(_intid: arm_gic::IntId) {
        let core = cpu::core_id();
        CORE_TIMERS[core].interrupts.fetch_add(1, Ordering::Relaxed);
        timer::disarm();
        fire_expired(core, cpu::now_ns());
        reprogram_this_core();
    }
}

#[cfg(target_os = "none")]
pub use hardware::{handle_timer_interrupt, reprogram_this_core};

#[cfg(not(target_os = "none"))]
mod hardware {
    /// On the host there is no hardware timer: expiry is driven by calling `fire_expired`.
    pub fn reprogram_core(_core: usize) {}
}
