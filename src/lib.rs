//! coresched: a `no_std` SMP scheduler kernel for bare-metal aarch64.
//!
//! Each core owns a run queue and a timer queue behind its own IRQ-safe spinlock; a monitor
//! core watches every core's published deadline under the core-table lock, never under the
//! global scheduler lock (the lesson of Go issue 35375). Portable logic (queues, scheduling
//! decisions, the monitor's scan, lock ranks, DTB discovery, bootargs, the test harness's
//! output) builds and is unit-tested on the host; only [`arch`] needs the board.

#![cfg_attr(not(test), no_std)]
#![warn(missing_docs)]

pub mod arch;
#[cfg(target_os = "none")]
pub mod kernel;
pub mod monitor;
pub mod platform;
pub mod random;
pub mod registry;
pub mod sched;
pub mod sync;
pub mod testing;
pub mod time;
pub mod timer;
pub mod trace;

/// The most cores coresched runs on: the ceiling of QEMU virt with GICv3. Per-core tables are
/// sized by this at build time; the number actually used comes from the DTB.
pub const MAX_CORES: usize = 512;

#[cfg(target_os = "none")]
mod bench;
#[cfg(target_os = "none")]
mod demo;
