//! The architecture boundary: everything that needs the CPU itself.
//!
//! On the board (`target_os = "none"`) this is `aarch64`. On the host the portable modules
//! are unit-tested against `host`, which has the same small interface: interrupt masking,
//! the current core's id and the clock.

#[cfg(target_os = "none")]
pub mod aarch64;
#[cfg(target_os = "none")]
pub use aarch64::cpu::{IrqState, core_id, irq_restore, irq_save_disable, now_ns};

#[cfg(not(target_os = "none"))]
pub mod host;
#[cfg(not(target_os = "none"))]
pub use host::{IrqState, core_id, irq_restore, irq_save_disable, now_ns};
