//! Exceptions coresched does not handle: decoded, reported once, and the system stopped.
//!
//! The vector table is in `exceptions.s`. Synchronous exceptions from kernel threads, FIQs,
//! SErrors and anything from SP_EL1 or a lower EL arrive in `handle_fatal_exception` on the
//! core's exception stack, so even a thread stack that overflowed into its guard page gets a
//! proper report naming the core, the task and the address.

use core::fmt;

use aarch64_cpu::registers::{ESR_EL1, FAR_EL1, Readable};

use super::{percpu, stop};
use crate::platform::memory::PAGE_SIZE;

/// The registers the vector code saved, in the layout `exceptions.s` writes.
#[repr(C)]
pub struct TrapFrame {
    /// x0..x30.
    pub x: [u64; 31],
    /// Where the exception was taken (ELR_EL1).
    pub elr: u64,
    /// The interrupted PSTATE (SPSR_EL1).
    pub spsr: u64,
    spare: u64,
}

const ORIGINS: [&str; 4] = [
    "kernel thread",
    "exception handler",
    "lower EL (AArch64)",
    "lower EL (AArch32)",
];
const KINDS: [&str; 4] = ["synchronous exception", "IRQ", "FIQ", "SError"];

/// The name of an ESR_EL1 exception class.
pub fn exception_class_name(class: u64) -> &'static str {
    match class {
        0x00 => "unknown reason",
        0x01 => "WFI/WFE trapped",
        0x07 => "FP/SIMD access trapped",
        0x0e => "illegal execution state",
        0x15 => "SVC",
        0x16 => "HVC",
        0x17 => "SMC",
        0x18 => "system register access trapped",
        0x20 => "instruction abort from a lower EL",
        0x21 => "instruction abort",
        0x22 => "PC alignment fault",
        0x24 => "data abort from a lower EL",
        0x25 => "data abort",
        0x26 => "SP alignment fault",
        0x2c => "floating-point exception",
        0x2f => "SError",
        0x30 | 0x31 => "breakpoint",
        0x32 | 0x33 => "software step",
        0x34 | 0x35 => "watchpoint",
        0x3c => "BRK instruction",
        _ => "unlisted exception class",
    }
}

struct Report<'a> {
    frame: &'a TrapFrame,
    kind: usize,
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let esr = ESR_EL1.get();
        let far = FAR_EL1.get();
        let class = ESR_EL1.read(ESR_EL1::EC);
        let core = percpu::this_core();
        let guard = core.stack_guard();
        if class == 0x25 && guard != 0 && (guard..guard + PAGE_SIZE).contains(&(far as usize)) {
            return write!(
                f,
                "stack overflow on core {}, task {}, address {far:#x} (pc {:#x})",
                core.index,
                super::hooks::get().map_or("boot", |hooks| (hooks.task_name)()),
                self.frame.elr
            );
        }
        write!(
            f,
            "unexpected {} from {} on core {}: {} (ESR class {class:#04x}, ESR {esr:#x}), \
             FAR {far:#x}, ELR {:#x}",
            KINDS[self.kind % 4],
            ORIGINS[self.kind / 4 % 4],
            core.index,
            exception_class_name(class),
            self.frame.elr
        )
    }
}

/// Called by the vector table for every exception coresched does not handle. `kind` is
/// origin * 4 + type (see `exceptions.s`). Reports once and stops every core.
#[unsafe(no_mangle)]
extern "C" fn handle_fatal_exception(frame: &TrapFrame, kind: usize) -> ! {
    let report = Report { frame, kind };
    match super::hooks::get() {
        Some(hooks) => (hooks.fatal)(format_args!("{report}")),
        None => stop::early_failure(format_args!("{report}")),
    }
}
