//! Kernel timers: one earliest-deadline-first queue per core, and the timer interrupt.
//!
//! [`queue`] is the portable queue. Each core's queue sits behind its own IRQ-masking spinlock
//! (rank `TimerQueue`), in memory sized at boot from the core count. Every core publishes its
//! earliest deadline in a dense array of atomics whenever the head of its queue changes, so the
//! monitor reads all deadlines without ever taking a timer-queue lock.
//!
//! Two kinds of timer share each core's queue and lock: explicit timers ([`arm_on`]), at most
//! [`TIMERS_PER_CORE`] per core, and [`reserved`] timers ([`arm_reserved`]), one per task slot,
//! which never fail for want of room (a task's sleep).
//!
//! The rule from the seed: callbacks never run while a timer-queue lock is held. Expired timers
//! are taken off under the lock, the lock is released, and only then are they fired.

pub mod queue;
pub mod reserved;

use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};

use self::queue::{TimerHandle, TimerQueue};
use crate::MAX_CORES;
use crate::sync::IrqSpinLock;

/// Armed timers each core can hold; arming one more on that core is an `Err`.
pub const TIMERS_PER_CORE: usize = 4096;

/// No deadline: the published value of a core with no armed timer.
pub const NO_DEADLINE: u64 = u64::MAX;

/// Reserved timers: one per task slot (see [`reserved`]).
pub const RESERVED_TIMERS: usize = 12_288;

/// One core's armed timers: its explicit timers and the reserved timers armed on it.
pub struct CoreTimers {
    explicit: TimerQueue<Expiry, TIMERS_PER_CORE>,
    reserved: reserved::Heap,
}

impl CoreTimers {
    /// A core with no timer armed.
    pub const fn new() -> Self {
        Self {
            explicit: TimerQueue::new(),
            reserved: reserved::Heap::new(),
        }
    }

    /// The earliest deadline of either kind ([`NO_DEADLINE`] if none).
    fn earliest_deadline(&self) -> u64 {
        let explicit = self.explicit.earliest_deadline().unwrap_or(NO_DEADLINE);
        let reserved = self
            .reserved
            .earliest_deadline(&RESERVED)
            .unwrap_or(NO_DEADLINE);
        explicit.min(reserved)
    }

    /// Takes the earliest timer due at `now`, of either kind (an explicit one first when both
    /// are due at the same moment).
    fn pop_expired(&mut self, now: u64) -> Option<Expiry> {
        let reserved = self
            .reserved
            .earliest_deadline(&RESERVED)
            .unwrap_or(NO_DEADLINE);
        let explicit = self.explicit.earliest_deadline().unwrap_or(NO_DEADLINE);
        if explicit <= reserved {
            return self.explicit.pop_expired(now).map(|(_, expiry)| expiry);
        }
        let (_, index) = self.reserved.pop_expired(&RESERVED, now)?;
        let callback = *RESERVED_CALLBACK
            .get()
            .expect("a reserved timer was armed, which sets the callback");
        Some(Expiry {
            callback,
            argument: index,
        })
    }
}

impl Default for CoreTimers {
    fn default() -> Self {
        Self::new()
    }
}

/// A set of armed timers that knows its earliest deadline: what the 2019 lock order (kept for
/// its regression test) reads under each timer-queue lock.
pub trait EarliestDeadline {
    /// The earliest armed deadline, `None` if nothing is armed.
    fn earliest(&self) -> Option<u64>;
}

impl<T, const N: usize> EarliestDeadline for TimerQueue<T, N> {
    fn earliest(&self) -> Option<u64> {
        self.earliest_deadline()
    }
}

impl EarliestDeadline for CoreTimers {
    fn earliest(&self) -> Option<u64> {
        Some(self.earliest_deadline()).filter(|deadline| *deadline != NO_DEADLINE)
    }
}

/// One core's timers behind its lock.
pub type CoreTimerQueue = IrqSpinLock<CoreTimers>;

/// An empty [`CoreTimerQueue`], to copy into the memory carved for one at boot. A constant, so
/// the copy comes straight from the image: built at run time, the value (hundreds of KiB)
/// would pass through the boot stack.
#[cfg(target_os = "none")]
#[expect(
    clippy::declare_interior_mutable_const,
    reason = "only ever used to initialise a fresh queue: each use is a new, unshared value"
)]
pub const EMPTY_CORE_TIMER_QUEUE: CoreTimerQueue =
    IrqSpinLock::new(crate::sync::LockRank::TimerQueue, CoreTimers::new());

/// The reserved timers of every core, and the one callback they all run, with their index.
static RESERVED: reserved::Arena<RESERVED_TIMERS> = reserved::Arena::new();
static RESERVED_CALLBACK: spin::Once<fn(usize)> = spin::Once::new();

/// What a timer does when it fires: `callback(argument)`, run with interrupts masked on the
/// timer's core, after the queue lock is released.
#[derive(Clone, Copy, Debug)]
pub struct Expiry {
    /// Called when the timer fires.
    pub callback: fn(usize),
    /// Passed to `callback`.
    pub argument: usize,
}

/// An armed one-shot timer, for [`cancel`].
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
    /// The core has no timer queue (it does not exist, or is not set up yet).
    NoSuchCore,
}

static QUEUES: [AtomicPtr<CoreTimerQueue>; MAX_CORES] =
    [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_CORES];
static EARLIEST: [AtomicU64; MAX_CORES] = [const { AtomicU64::new(NO_DEADLINE) }; MAX_CORES];
static INTERRUPTS: [AtomicU64; MAX_CORES] = [const { AtomicU64::new(0) }; MAX_CORES];
/// Set (under the core's queue lock) while the core is offline: timers armed for it go to the
/// core that took over its work, recorded in `HEIR`.
static CLOSED: [AtomicBool; MAX_CORES] = [const { AtomicBool::new(false) }; MAX_CORES];
static HEIR: [AtomicUsize; MAX_CORES] = [const { AtomicUsize::new(0) }; MAX_CORES];
/// Each core's tick deadline: a moment its owner (the scheduler: the end of the running task's
/// slice) wants an interrupt at, besides its timers ([`NO_DEADLINE`]: none).
static TICK: [AtomicU64; MAX_CORES] = [const { AtomicU64::new(NO_DEADLINE) }; MAX_CORES];

/// Cancels `core`'s tick deadline (any core may call it): a reschedule is already pending there,
/// and the run that follows sets a new one with `set_tick_deadline_here`. The deadline only
/// moves later, so an armed hardware timer is left alone (it fires, finds nothing due, and
/// re-arms).
pub fn cancel_tick(core: usize) {
    TICK[core].store(NO_DEADLINE, Ordering::Relaxed);
}

/// `core`'s tick deadline, as last set ([`NO_DEADLINE`]: none).
pub fn tick_deadline(core: usize) -> u64 {
    TICK[core].load(Ordering::Relaxed)
}

/// Gives `core` its timer queue. Done once per core at boot, before anyone arms a timer there.
pub fn install_queue(core: usize, queue: &'static CoreTimerQueue) {
    QUEUES[core].store(core::ptr::from_ref(queue).cast_mut(), Ordering::Release);
}

fn queue_of(core: usize) -> Result<&'static CoreTimerQueue, TimerError> {
    let queue = QUEUES
        .get(core)
        .ok_or(TimerError::NoSuchCore)?
        .load(Ordering::Acquire);
    // SAFETY: non-null entries only come from `install_queue`, which takes a `'static` queue.
    unsafe { queue.as_ref() }.ok_or(TimerError::NoSuchCore)
}

/// `core`'s timer-queue lock, for the 2019 lock order the regression test restores.
#[cfg(feature = "legacy-monitor-lock-order")]
pub fn queue_lock(core: usize) -> Option<&'static CoreTimerQueue> {
    queue_of(core).ok()
}

/// The earliest deadline armed on `core` ([`NO_DEADLINE`] if none), as last published. Never
/// takes a lock.
pub fn earliest_deadline(core: usize) -> u64 {
    EARLIEST[core].load(Ordering::Acquire)
}

/// How many timer interrupts core `core` has taken since boot.
pub fn timer_interrupts(core: usize) -> u64 {
    INTERRUPTS[core].load(Ordering::Relaxed)
}

fn publish(core: usize, queue: &CoreTimers) -> u64 {
    let earliest = queue.earliest_deadline();
    EARLIEST[core].store(earliest, Ordering::Release);
    earliest
}

/// Arms a one-shot timer on `core` for `deadline_ns`. If it becomes that core's earliest, the
/// core reprograms its hardware timer (directly, or after an SGI when `core` is another core).
pub fn arm_on(core: usize, deadline_ns: u64, expiry: Expiry) -> Result<Timer, TimerError> {
    let (core, handle) = arm_with(core, deadline_ns, |queue| {
        queue
            .explicit
            .insert(deadline_ns, expiry)
            .map_err(|_| TimerError::QueueFull)
    })?;
    Ok(Timer { core, handle })
}

/// Arms reserved timer `index` on `core` for `deadline_ns`: when due, `callback(index)` runs
/// there, as an [`Expiry`] would. Every reserved timer runs the same callback (the first one
/// ever given), so an owner such as the scheduler keeps all of them. Never fails for room: only
/// [`TimerError::NoSuchCore`]. The caller must own `index` (not armed anywhere) and it must be
/// below [`RESERVED_TIMERS`].
pub fn arm_reserved(
    core: usize,
    index: usize,
    deadline_ns: u64,
    callback: fn(usize),
) -> Result<(), TimerError> {
    RESERVED_CALLBACK.call_once(|| callback);
    arm_with(core, deadline_ns, |queue| {
        queue.reserved.insert(&RESERVED, index, deadline_ns);
        Ok(())
    })
    .map(|_| ())
}

/// Arms a timer due at `deadline_ns` on `core`, or on the core that took over its work while
/// it is offline: `insert` puts it in the locked queue. Publishes the queue's new earliest
/// deadline, and if the timer became the earliest the core reprograms its hardware timer
/// (directly, or after an SGI). Returns the core the timer went to and what `insert` returned.
fn arm_with<R>(
    mut core: usize,
    deadline_ns: u64,
    insert: impl Fn(&mut CoreTimers) -> Result<R, TimerError>,
) -> Result<(usize, R), TimerError> {
    crate::sync::perturb::point(crate::sync::perturb::Site::TimerArm);
    let (armed, became_earliest) = loop {
        let mut queue = queue_of(core)?.lock();
        if CLOSED[core].load(Ordering::Relaxed) {
            core = HEIR[core].load(Ordering::Relaxed);
            continue;
        }
        let previous = queue.earliest_deadline();
        let armed = insert(&mut queue)?;
        publish(core, &queue);
        break (armed, deadline_ns < previous);
    };
    crate::trace::record!(timer_arm(core, deadline_ns));
    if became_earliest {
        hardware::reprogram_core(core);
    }
    Ok((core, armed))
}

/// Cancels `timer`; returns whether it was still armed (false if it fired already).
pub fn cancel(timer: Timer) -> bool {
    let Ok(queue) = queue_of(timer.core) else {
        return false;
    };
    let mut queue = queue.lock();
    let cancelled = queue.explicit.cancel(timer.handle).is_some();
    publish(timer.core, &queue);
    cancelled
}

/// Fires every timer of `core` that is due at `now_ns`, in deadline order, each after the
/// queue lock is released. Returns the core's next deadline ([`NO_DEADLINE`] if none).
pub fn fire_expired(core: usize, now_ns: u64) -> u64 {
    let Ok(queue) = queue_of(core) else {
        return NO_DEADLINE;
    };
    loop {
        let (expired, next) = {
            let mut queue = queue.lock();
            let expired = queue.pop_expired(now_ns);
            (expired, publish(core, &queue))
        };
        match expired {
            Some(expiry) => {
                crate::trace::record!(TimerFire);
                (expiry.callback)(expiry.argument);
            }
            None => return next,
        }
    }
}

/// What [`migrate`] did with a departing core's timers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Migration {
    /// Timers re-armed on the heir (explicit and reserved).
    pub moved: usize,
    /// Explicit timers the heir had no room for: dropped, each logged as an error. Reserved
    /// timers are never lost.
    pub lost: usize,
}

/// Closes `core`'s timer queue and re-arms every timer on it on `heir`, which reprograms its own
/// timer for them (a migrated timer fires on time). Timers armed for `core` from now on go to
/// `heir` too, until [`reopen`]. Moves a batch at a time: the two queues' locks have the same
/// rank and are never held together.
pub fn migrate(core: usize, heir: usize) -> Migration {
    let mut migration = Migration::default();
    let Ok(queue) = queue_of(core) else {
        return migration;
    };
    loop {
        let mut explicit: heapless::Vec<(u64, Expiry), 32> = heapless::Vec::new();
        let mut reserved: heapless::Vec<(u64, usize), 32> = heapless::Vec::new();
        {
            let mut queue = queue.lock();
            HEIR[core].store(heir, Ordering::Relaxed);
            CLOSED[core].store(true, Ordering::Relaxed);
            explicit.extend(queue.explicit.drain().take(32));
            while !reserved.is_full() {
                match queue.reserved.pop(&RESERVED) {
                    // Cannot fail: checked for room in the loop condition.
                    Some(timer) => reserved.push(timer).unwrap(),
                    None => break,
                }
            }
            publish(core, &queue);
        }
        if explicit.is_empty() && reserved.is_empty() {
            return migration;
        }
        for (deadline, expiry) in explicit {
            if arm_on(heir, deadline, expiry).is_ok() {
                migration.moved += 1;
            } else {
                migration.lost += 1;
                log::error!(
                    "timer due at {deadline} ns lost in migration: core {heir}'s queue is full"
                );
            }
        }
        for (deadline, index) in reserved {
            let callback = *RESERVED_CALLBACK
                .get()
                .expect("a reserved timer was armed, which sets the callback");
            if arm_reserved(heir, index, deadline, callback).is_ok() {
                migration.moved += 1;
            } else {
                migration.lost += 1;
                log::error!("reserved timer {index} lost in migration: core {heir} has no queue");
            }
        }
    }
}

/// Lets `core` take timers again (it came back online).
pub fn reopen(core: usize) {
    if let Ok(queue) = queue_of(core) {
        let _queue = queue.lock();
        CLOSED[core].store(false, Ordering::Relaxed);
    }
}

/// A timer that fires every `period_ns` until cancelled. It lives in a `static` so its
/// callback can find it; each expiry re-arms the next one from the previous deadline, so the
/// period does not drift with interrupt latency.
pub struct PeriodicTimer {
    callback: fn(usize),
    argument: usize,
    period_ns: u64,
    running: AtomicBool,
    core: AtomicU64,
    next_deadline: AtomicU64,
}

impl PeriodicTimer {
    /// A stopped periodic timer that will call `callback(argument)` every `period_ns`.
    pub const fn new(callback: fn(usize), argument: usize, period_ns: u64) -> Self {
        Self {
            callback,
            argument,
            period_ns,
            running: AtomicBool::new(false),
            core: AtomicU64::new(0),
            next_deadline: AtomicU64::new(0),
        }
    }

    /// Starts firing on `core`, first at `first_deadline_ns`.
    pub fn start_on(&'static self, core: usize, first_deadline_ns: u64) -> Result<(), TimerError> {
        self.core.store(core as u64, Ordering::Relaxed);
        self.next_deadline
            .store(first_deadline_ns, Ordering::Relaxed);
        self.running.store(true, Ordering::Release);
        self.arm()
            .inspect_err(|_| self.running.store(false, Ordering::Release))
    }

    /// Its period.
    pub const fn period_ns(&self) -> u64 {
        self.period_ns
    }

    /// Stops it: no callback starts after this returns, except one already firing.
    pub fn cancel(&self) {
        self.running.store(false, Ordering::Release);
    }

    fn arm(&'static self) -> Result<(), TimerError> {
        let expiry = Expiry {
            callback: Self::fire,
            argument: core::ptr::from_ref(self) as usize,
        };
        let core = self.core.load(Ordering::Relaxed) as usize;
        arm_on(core, self.next_deadline.load(Ordering::Relaxed), expiry).map(|_| ())
    }

    fn fire(this: usize) {
        // SAFETY: `arm` passes the address of a `'static PeriodicTimer`.
        let this: &'static Self = unsafe { &*(this as *const Self) };
        if !this.running.load(Ordering::Acquire) {
            return;
        }
        (this.callback)(this.argument);
        this.next_deadline
            .fetch_add(this.period_ns, Ordering::Relaxed);
        if this.running.load(Ordering::Acquire) && this.arm().is_err() {
            log::error!("periodic timer stopped: its core's timer queue is full");
            this.running.store(false, Ordering::Release);
        }
    }
}

#[cfg(target_os = "none")]
mod hardware {
    use super::{AtomicU64, INTERRUPTS, MAX_CORES, NO_DEADLINE, Ordering, TICK, fire_expired};
    use crate::arch;

    /// Makes `core` program its hardware timer for its earliest deadline.
    pub fn reprogram_core(core: usize) {
        // Masked, so the caller cannot be moved to another core between the check and the act.
        let interrupts = crate::arch::irq_save_disable();
        if core == arch::core_id() {
            program(core);
        } else {
            crate::trace::record!(sgi_sent(core));
            arch::send_reschedule(core);
        }
        crate::arch::irq_restore(interrupts);
    }

    /// What each core's hardware timer is armed for ([`NO_DEADLINE`]: disarmed). Only the
    /// owning core touches its entry.
    static ARMED: [AtomicU64; MAX_CORES] = [const { AtomicU64::new(NO_DEADLINE) }; MAX_CORES];

    /// Makes sure this core's hardware timer fires no later than the earlier of its earliest
    /// timer and the end of the running task's time slice (see `program`).
    pub fn reprogram_this_core() {
        // Masked, so a timer interrupt cannot re-arm in between and be overwritten with a later
        // deadline (a task arming a timer on its own core calls this with interrupts on).
        let interrupts = crate::arch::irq_save_disable();
        program(arch::core_id());
        crate::arch::irq_restore(interrupts);
    }

    /// Sets the tick deadline of `core`, which must be the calling core with interrupts masked
    /// (the scheduler starting a run), and keeps the hardware timer's promise to fire by then.
    /// The timer is reprogrammed only when the deadline moves earlier: the armed deadline is
    /// never later than the tick deadline (`program` arms for the earlier of the two, and the
    /// tick deadline otherwise only moves later or to [`NO_DEADLINE`]), so a timer armed for
    /// the old deadline fires in time for a later one, finds nothing due, and re-arms. A switch
    /// from one task's slice to the next, which only moves the deadline later, writes one word.
    pub fn set_tick_deadline_here(core: usize, deadline_ns: u64) {
        let previous = super::TICK[core].load(Ordering::Relaxed);
        super::TICK[core].store(deadline_ns, Ordering::Relaxed);
        if deadline_ns < previous {
            program(core);
        }
    }

    /// Programs `core`'s timer, which must be the calling core, with interrupts masked. Lazy:
    /// a timer armed for an earlier moment is left alone (it fires, finds nothing due, and
    /// re-arms), because writing the timer on every context switch costs more than an
    /// occasional early interrupt. With nothing due at all the timer stays disarmed: an idle
    /// core gets no interrupts (tickless).
    fn program(core: usize) {
        let due = super::earliest_deadline(core).min(TICK[core].load(Ordering::Relaxed));
        if due < ARMED[core].load(Ordering::Relaxed) {
            ARMED[core].store(due, Ordering::Relaxed);
            arch::arm_timer(due);
        }
    }

    /// What `core`'s hardware timer is armed for ([`NO_DEADLINE`]: disarmed). Its invariant,
    /// whenever the core runs with interrupts unmasked and no reschedule SGI pending: no later
    /// than the core's earliest timer (lazily, it may be earlier).
    pub fn programmed_deadline(core: usize) -> u64 {
        ARMED[core].load(Ordering::Relaxed)
    }

    /// Disarms this core's hardware timer and forgets what it was armed for (a core going
    /// offline; it starts from scratch when it comes back).
    pub fn disarm_this_core() {
        arch::disarm_timer();
        ARMED[arch::core_id()].store(NO_DEADLINE, Ordering::Relaxed);
    }

    /// The first half of each core's generic-timer interrupt, for the handler its owner
    /// registers (the scheduler's tick): counts the interrupt, disarms the hardware timer and
    /// fires every timer due. Returns the time it fired them at. The handler then decides what
    /// the interrupt means to it and calls [`reprogram_this_core`].
    pub fn expire_this_core() -> u64 {
        let core = arch::core_id();
        INTERRUPTS[core].fetch_add(1, Ordering::Relaxed);
        disarm_this_core();
        let now = arch::now_ns();
        fire_expired(core, now);
        now
    }
}

#[cfg(target_os = "none")]
pub use hardware::{
    disarm_this_core, expire_this_core, programmed_deadline, reprogram_this_core,
    set_tick_deadline_here,
};

#[cfg(not(target_os = "none"))]
mod hardware {
    /// On the host there is no hardware timer: expiry is driven by calling `fire_expired`.
    pub fn reprogram_core(_core: usize) {}
}
