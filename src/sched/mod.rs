//! Scheduling: per-core run queues, load balance, idle and wake-up.
//!
//! [`runqueue`] and [`balance`] are the portable parts: a core's fixed-capacity FIFO of runnable
//! tasks and the decisions about whom to steal from and when to wake an idle core.

pub mod balance;
pub mod runqueue;

use core::sync::atomic::{AtomicU64, Ordering};

use crate::MAX_CORES;

static RESCHEDULE_SGIS: [AtomicU64; MAX_CORES] = [const { AtomicU64::new(0) }; MAX_CORES];

/// How many reschedule SGIs core `core` has received since boot.
pub fn reschedule_sgis(core: usize) -> u64 {
    RESCHEDULE_SGIS[core].load(Ordering::Relaxed)
}

/// The handler of the reschedule SGI: another core changed this core's work or timers.
#[cfg(target_os = "none")]
pub fn handle_reschedule(_intid: arm_gic::IntId) {
    RESCHEDULE_SGIS[crate::arch::core_id()].fetch_add(1, Ordering::Relaxed);
    crate::timer::reprogram_this_core();
}

/// The name of the task running on this core, for fault reports.
pub fn current_task_name() -> &'static str {
    "boot"
}

/// What a core does when it has nothing to run: wait in WFI with interrupts on.
#[cfg(target_os = "none")]
pub fn idle_loop() -> ! {
    loop {
        crate::arch::aarch64::cpu::wait_for_interrupt();
    }
}
