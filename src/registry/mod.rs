//! The core registry: the one record of every core that every layer reads and each core
//! publishes into. Below both the scheduler and the monitor: the scheduler, the timer service
//! and the interrupt path publish here; the monitor only reads.
//!
//! - [`CoreTable`]: each core's [`CoreState`] (the single truth for "online") and incarnation
//!   behind the core-table lock, plus what each core publishes lock-free (heartbeat, its switch
//!   count and running task, PC at its last interrupt).
//! - `CORE_TABLE`: the kernel's table, on the board.

mod core_table;

/// A clock for host tests: each test thread sets its own time.
#[cfg(all(test, not(loom)))]
pub(crate) mod test_clock {
    use std::cell::Cell;

    std::thread_local!(static NOW_NS: Cell<u64> = const { Cell::new(0) });

    /// The calling thread's time.
    pub(crate) fn now() -> u64 {
        NOW_NS.with(Cell::get)
    }

    /// Sets the calling thread's time.
    pub(crate) fn set(now_ns: u64) {
        NOW_NS.with(|now| now.set(now_ns));
    }
}

pub use core_table::{
    CoreState, CoreTable, CoreTableGuard, OnlineCore, OnlineCores, OnlineSet, Run, StateError,
};

/// Every core's entry: state (behind the core-table lock) and what it publishes lock-free.
#[cfg(target_os = "none")]
pub static CORE_TABLE: CoreTable = CoreTable::new(crate::arch::now_ns);
