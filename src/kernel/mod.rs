//! The kernel proper: start-up order, the run, hotplug, the interrupt table and the fatal path.
//!
//! The top layer: it may use every other one, and only the test harness uses it. `arch` enters
//! it through the symbols `boot.s` calls (`start`) and the hooks it registers
//! (`interrupts`); nothing below names it.

mod fatal;
pub mod hotplug;
mod interrupts;
mod memory;
mod run;
mod start;
mod trace;

pub use fatal::{fatal, lock_up};
pub use run::run;
pub use start::platform;
