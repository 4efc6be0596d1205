//! Cores going offline and coming back online at run time.
//!
//! [`core_offline`] asks the core to stop: at its next interrupt return it parks its running
//! task on its own queue, and its idle task closes that queue and its timer queue, hands every
//! queued task and armed timer to the heir core (the boot core), which reprograms its timer for
//! them, and powers off with PSCI `CPU_OFF`. Tasks pinned to the departing core are re-pinned
//! to the heir with a logged warning (rather than refusing the call): work is never lost.
//! [`core_online`] starts it again with `CPU_ON`. The boot core and the monitor core stay.

use core::sync::atomic::{AtomicUsize, Ordering};
use core::time::Duration;

use crate::arch::aarch64::{cpu, percpu, psci, smp, stop};
use crate::monitor::kernel as monitor;
use crate::registry::CORE_TABLE;
use crate::registry::CoreState;
use crate::time::Instant;

/// Why a hotplug request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HotplugError {
    /// No such core, or it is not in the state the request needs.
    NotAllowed(CoreState),
    /// The boot core and the monitor core do not go offline.
    Essential,
    /// PSCI refused or is missing (spin-table cores cannot be restarted).
    Firmware,
    /// The core did not finish the change within the time limit.
    TimedOut,
}

static HEIR: AtomicUsize = AtomicUsize::new(0);

/// The core that takes over the work of cores going offline: the boot core.
pub fn heir_core() -> usize {
    HEIR.load(Ordering::Relaxed)
}

/// Records the boot core as the heir of offlined cores.
pub(super) fn set_heir(core: usize) {
    HEIR.store(core, Ordering::Relaxed);
}

/// How long a core may take to go offline or come online.
const TRANSITION_LIMIT: Duration = Duration::from_secs(10);

fn wait_for_state(core: usize, wanted: CoreState) -> Result<(), HotplugError> {
    let give_up = Instant::now().saturating_add(TRANSITION_LIMIT);
    while CORE_TABLE.state(core) != wanted {
        if Instant::now() >= give_up {
            return Err(HotplugError::TimedOut);
        }
        super::sleep_for(Duration::from_micros(200));
    }
    Ok(())
}

/// Takes `core` offline: its tasks and timers move to the heir core, then it powers off.
/// Returns once it is off. Call from a task on another core.
pub fn core_offline(core: usize) -> Result<(), HotplugError> {
    if core == heir_core() || core == monitor::monitor_core() {
        return Err(HotplugError::Essential);
    }
    CORE_TABLE
        .change_state(core, CoreState::GoingOffline)
        .map_err(|_| HotplugError::NotAllowed(CORE_TABLE.state(core)))?;
    super::scheduler::request_offline(core);
    wait_for_state(core, CoreState::Offline)
}

/// Brings an offline `core` back: it restarts with `CPU_ON` and rejoins scheduling. Returns once
/// it is online.
pub fn core_online(core: usize) -> Result<(), HotplugError> {
    CORE_TABLE
        .change_state(core, CoreState::Starting)
        .map_err(|_| HotplugError::NotAllowed(CORE_TABLE.state(core)))?;
    crate::timer::reopen(core);
    if smp::restart_core(core).is_err() {
        if let Err(error) = CORE_TABLE.change_state(core, CoreState::Offline) {
            log::error!("core {core} did not restart, and stays {error:?}");
        }
        return Err(HotplugError::Firmware);
    }
    let give_up = Instant::now().saturating_add(TRANSITION_LIMIT);
    while !percpu::core(core).is_online() {
        if Instant::now() >= give_up {
            return Err(HotplugError::TimedOut);
        }
        super::sleep_for(Duration::from_micros(200));
    }
    CORE_TABLE
        .change_state(core, CoreState::Online)
        .map(|_| ())
        .map_err(|_| HotplugError::NotAllowed(CORE_TABLE.state(core)))
}

/// Makes cores `0..count` online and the rest offline (the essential cores always stay).
/// Returns the first refusal, after trying every core.
pub fn set_active_cores(count: usize) -> Result<(), HotplugError> {
    let cores = crate::arch::aarch64::boot::platform().cpus.len();
    let mut result = Ok(());
    for core in 0..cores {
        let state = CORE_TABLE.state(core);
        let change = match (core < count, state) {
            (true, CoreState::Offline) => core_online(core),
            (false, CoreState::Online)
                if core != heir_core() && core != monitor::monitor_core() =>
            {
                core_offline(core)
            }
            _ => Ok(()),
        };
        result = result.and(change);
    }
    result
}

/// The last steps on a core going offline, run by its idle task with interrupts masked after
/// its run queue was handed over (`tasks_moved`): move its timers, leave, power off.
pub(super) fn power_off_this_core(tasks_moved: usize) -> ! {
    let core = cpu::core_id();
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
    smp::mark_offline();
    if let Err(error) = CORE_TABLE.change_state(core, CoreState::Offline) {
        log::error!("core {core} going offline: {error:?}");
    }
    debug_assert!(!percpu::this_core().is_online());
    // Returns only if the firmware refused: the core then parks, as good as off.
    if let Err(error) = psci::cpu_off() {
        log::warn!("core {core}: PSCI CPU_OFF refused ({error:?}); parked instead");
    }
    stop::park()
}
