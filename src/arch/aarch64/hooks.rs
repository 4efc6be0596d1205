//! What the interrupt and exception paths call back into the kernel for, without arch naming
//! the kernel: the kernel registers the hooks once at boot, before it unmasks interrupts.
//!
//! Before they are registered, an interrupt runs no hook and a fatal exception is reported
//! through [`super::stop::early_failure`] (there is no console or scheduler yet).

use core::fmt;

use spin::Once;

/// The kernel's side of the interrupt and exception paths.
pub struct KernelHooks {
    /// Runs first in every IRQ, with the core and the interrupted PC.
    pub interrupt_entry: fn(core: usize, pc: u64),
    /// Runs last in every IRQ, once every pending interrupt was handled (the scheduler's
    /// preemption point).
    pub interrupt_exit: fn(),
    /// Reports a fatal condition once and stops every core.
    pub fatal: fn(fmt::Arguments) -> !,
    /// The name of the task running on the calling core, for fault reports.
    pub task_name: fn() -> &'static str,
}

static HOOKS: Once<KernelHooks> = Once::new();

/// Registers the kernel's hooks; the first registration wins and later ones are ignored.
pub fn install(hooks: KernelHooks) {
    HOOKS.call_once(|| hooks);
}

/// The registered hooks, if the kernel registered them yet.
pub(super) fn get() -> Option<&'static KernelHooks> {
    HOOKS.get()
}
