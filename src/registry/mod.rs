//! The core registry: the one record of every core that every layer reads and each core
//! publishes into. Below both the scheduler and the monitor: the scheduler, the timer service
//! and the interrupt path publish here; the monitor only reads.
//!
//! - [`CoreTable`]: each core's [`CoreState`] (the single truth for "online") and incarnation
//!   behind the core-table lock, plus what each core publishes lock-free (heartbeat, running
//!   task and since when, PC at its last interrupt).
//! - `CORE_TABLE`: the kernel's table, on the board.

mod core_table;

pub use core_table::{CoreState, CoreTable, CoreTableGuard, OnlineCore, Running, StateError};

/// Every core's entry: state (behind the core-table lock) and what it publishes lock-free.
#[cfg(target_os = "none")]
pub static CORE_TABLE: CoreTable = CoreTable::new(crate::arch::now_ns);
