//! The architecture boundary: everything that needs the CPU itself.
//!
//! The rest of the kernel uses the CPU through the names re-exported here, never through
//! `aarch64` directly (only `kernel`, the board glue at the top, and the tests reach further):
//! interrupt masking and WFI, the core's id, the clock, the reschedule SGI, the context switch
//! and stack guard, the per-core timer, and powering a core off.
//!
//! On the board (`target_os = "none"`) this is `aarch64`. On the host the portable modules
//! are unit-tested against `host`, which has the part of the interface they use: interrupt
//! masking, the current core's id and the clock.

#[cfg(target_os = "none")]
pub mod aarch64;
#[cfg(target_os = "none")]
pub use aarch64::{
    context::{prepare_stack, switch as switch_context},
    cpu::{
        IrqState, core_id, counter_frequency, counter_ticks, irq_enable, irq_restore,
        irq_save_disable, irqs_masked, now_ns, send_event, wait_for_event, wait_for_interrupt,
    },
    irq::{send_reschedule, serve_pending_interrupts},
    percpu::{set_stack_guard, stack_guard},
    smp::{mark_offline, power_off_this_core},
    timer::{arm as arm_timer, disarm as disarm_timer},
};

#[cfg(not(target_os = "none"))]
pub mod host;
#[cfg(not(target_os = "none"))]
pub use host::{
    IrqState, core_id, irq_restore, irq_save_disable, irqs_masked, now_ns, send_event,
    wait_for_event,
};
