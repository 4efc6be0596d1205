//! The scheduler's side of hotplug: the heir core that takes over the work of cores going
//! offline, and the last steps of a core going offline (see `kernel::hotplug` for the requests).
//!
//! A core asked to go offline stops running tasks at its next interrupt return; its idle task
//! closes its run queue and hands every queued task to the heir, then `power_off_this_core`
//! moves its timers there too (the heir reprograms its timer for them) and powers it off with
//! PSCI `CPU_OFF`.

use core::sync::atomic::{AtomicUsize, Ordering};

use crate::arch;
use crate::registry::{CORE_TABLE, CoreState};

static HEIR: AtomicUsize = AtomicUsize::new(0);

/// The core that takes over the work of cores going offline: the boot core.
pub fn heir_core() -> usize {
    HEIR.load(Ordering::Relaxed)
}

/// Records the boot core as the heir of offlined cores.
pub(super) fn set_heir(core: usize) {
    HEIR.store(core, Ordering::Relaxed);
}

/// The last steps on a core going offline, run by its idle task with interrupts masked after
/// its run queue was handed over (`tasks_moved`): move its timers, leave, power off.
pub(super) fn power_off_this_core(tasks_moved: usize) -> ! {
    let core = arch::core_id();
    crate::trace::record!(Offline);
    let timers = crate::timer::migrate(core, heir_core());
    crate::timer::disarm_this_core();
    log::info!(
        "core {core} going offline: {tasks_moved} tasks and {} timers moved to core {}",
        timers.moved,
        heir_core()
    );
    if timers.lost > 0 {
        log::error!("core {core} going offline: {} timers lost", timers.lost);
    }
    arch::mark_offline();
    if let Err(error) = CORE_TABLE.change_state(core, CoreState::Offline) {
        log::error!("core {core} going offline: {error:?}");
    }
    arch::power_off_this_core()
}
