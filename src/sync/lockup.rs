//! The lock-up detector: a core that has spun on one [`IrqSpinLock`](super::IrqSpinLock) for
//! longer than the lock-up limit reports a suspected deadlock instead of hanging silently.
//!
//! A deadlock between spinlocks (the AB-BA of Go issue 35375, or a lock never released) leaves
//! its cores spinning with interrupts masked, where no timer, watchdog or test time-out of
//! theirs can run; if the watchdog's own core is one of them, nothing else reports it either.
//! So the spin loop itself keeps time: every [`SPINS_PER_CLOCK_READ`] spins it reads the clock,
//! and once it has waited [`limit`] it calls the handler the kernel registered (the fatal
//! path), with the rank it waits for and how long. As Linux's "spinlock lockup suspected".
//!
//! The limit is far above any hold a working kernel has (holds are microseconds; a vCPU the
//! host does not run for a while delays its holder by milliseconds to a second), so a report
//! means a lock that is not coming back. Until the kernel registers a handler, and on the host
//! outside tests, nothing is reported.

use core::sync::atomic::{AtomicU64, Ordering};

use spin::Once;

use super::LockRank;

/// Spins between two clock reads: reading the counter costs far more than a spin.
pub const SPINS_PER_CLOCK_READ: u32 = 1 << 12;

/// What the kernel does about a lock-up: report it and stop (it does not return).
pub type Handler = fn(waiting_for: Option<LockRank>, waited_ns: u64) -> !;

static HANDLER: Once<Handler> = Once::new();
static LIMIT_NS: AtomicU64 = AtomicU64::new(u64::MAX);

/// Registers `handler`, called on a core that waited `limit_ns` or more for one lock, with the
/// lock's rank (in builds with the rank checker; `None` elsewhere). The first registration
/// wins.
pub fn set_handler(limit_ns: u64, handler: Handler) {
    LIMIT_NS.store(limit_ns, Ordering::Relaxed);
    HANDLER.call_once(|| handler);
}

/// The lock-up limit, ns (`u64::MAX` before a handler is registered).
pub fn limit() -> u64 {
    LIMIT_NS.load(Ordering::Relaxed)
}

/// One wait for one lock: call [`Watch::spin`] once per failed look at the lock. (Under loom
/// the lock is loom's mutex, which has no spin loop to watch.)
#[cfg(not(loom))]
pub(super) struct Watch {
    rank: Option<LockRank>,
    spins: u32,
    since_ns: Option<u64>,
}

#[cfg(not(loom))]
impl Watch {
    /// Starts watching a wait for a lock of `rank`; reads no clock yet (most waits are short).
    pub(super) fn new(rank: Option<LockRank>) -> Self {
        Self {
            rank,
            spins: 0,
            since_ns: None,
        }
    }

    /// One spin of the wait (a wait for an event, which a lock release sends); reports a
    /// lock-up once the wait has lasted the limit.
    #[inline]
    pub(super) fn spin(&mut self) {
        crate::arch::wait_for_event();
        self.spins = self.spins.wrapping_add(1);
        if self.spins.is_multiple_of(SPINS_PER_CLOCK_READ) {
            self.check(crate::arch::now_ns());
        }
    }

    #[cold]
    fn check(&mut self, now_ns: u64) {
        let since = *self.since_ns.get_or_insert(now_ns);
        let waited = now_ns.saturating_sub(since);
        if waited >= limit()
            && let Some(handler) = HANDLER.get()
        {
            handler(self.rank, waited);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::{LockRank, Watch};

    #[test]
    fn a_wait_is_timed_from_its_first_clock_read() {
        let mut watch = Watch::new(Some(LockRank::RunQueue));
        watch.check(1_000);
        watch.check(5_000);
        assert_eq!(watch.since_ns, Some(1_000));
    }
}
