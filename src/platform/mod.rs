//! The platform as the DTB describes it: discovery, bootargs, memory and the console.

pub mod bootargs;
#[cfg(target_os = "none")]
pub mod console;
pub mod dtb;
pub mod memory;
