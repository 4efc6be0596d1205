//! The platform as the DTB describes it: discovery, bootargs, memory, the console and its
//! UART drivers.

pub mod bootargs;
#[cfg(target_os = "none")]
pub mod console;
pub mod dtb;
pub mod earlycon;
pub mod memory;
pub mod uart;
