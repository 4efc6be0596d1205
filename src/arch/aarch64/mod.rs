//! AArch64: boot, exceptions, interrupts (GIC or BCM2836), the generic timer, PSCI, the MMU
//! and SMP.
//!
//! The assembly (`boot.s`, `exceptions.s`) does only what Rust cannot: the image header, the
//! EL2 to EL1 drop, self-relocation, the first instructions of each core and the exception
//! vectors. Everything after that is Rust.
//!
//! This is a leaf: it imports no kernel layer. `boot.s` enters the kernel's start-up code
//! through two symbols the kernel defines (`primary_main`, `secondary_main`; see `boot.s` for
//! their contract), and the interrupt and exception paths reach the kernel through
//! [`hooks`], which the kernel registers.

core::arch::global_asm!(include_str!("boot.s"));
core::arch::global_asm!(include_str!("exceptions.s"));
core::arch::global_asm!(include_str!("context.s"));

pub mod bcm2836;
pub mod boot;
pub mod context;
pub mod cpu;
pub mod exceptions;
pub mod fn_cell;
pub mod gic;
pub mod hooks;
pub mod intc;
pub mod irq;
pub mod mmu;
pub mod percpu;
pub mod psci;
pub mod smp;
pub mod stop;
pub mod timer;
