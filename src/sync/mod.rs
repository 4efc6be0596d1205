//! Locking: the global lock order and the IRQ-safe spinlock every shared structure sits behind.
//!
//! - [`rank`]: [`LockRank`], the one statement of which lock may be taken under which.
//! - [`IrqSpinLock`]: a spinlock that masks interrupts while held and, in debug builds,
//!   panics on an acquisition that breaks the order.
//! - [`held_locks`]: the ranks a core holds, readable from any core (for the watchdog).
//! - [`lockup`]: a core spinning on one lock past the lock-up limit reports a deadlock.
//! - [`CachePadded`]: a per-core record alone on its cache lines.
//! - [`SharedStr`]: a `&'static str` rewritten by its owner and read by any core, never torn.
//! - [`perturb`]: seeded delays at racy points (debug builds), for reproducible stress runs.
//! - [`atomic`]: the atomics to use in code that loom models check.

mod cache_padded;
mod held;
pub mod lockup;
pub mod perturb;
pub mod rank;
mod rank_check;
mod shared_str;
mod spinlock;

pub use cache_padded::CachePadded;
pub use held::held_locks;
pub use rank::LockRank;
pub use rank_check::{HELD_LOCKS_DEPTH, HeldLocks, rank_check_enabled, set_rank_check_enabled};
pub use shared_str::{CONTENDED, SharedStr};
pub use spinlock::{IrqSpinLock, IrqSpinLockGuard};

/// Atomic types and orderings: `core::sync::atomic` normally, `loom::sync::atomic` under
/// `cfg(loom)`, so that loom models explore the same code the kernel runs.
pub mod atomic {
    #[cfg(not(loom))]
    pub use core::sync::atomic::*;
    #[cfg(loom)]
    pub use loom::sync::atomic::*;
}
