//! Cores going offline and coming back online at run time.
//!
//! [`core_offline`] asks the core to stop (see `sched::hotplug` for what it then does): its
//! queued tasks and armed timers move to the heir core (the boot core). Tasks pinned to the
//! departing core are re-pinned to the heir with a logged warning (rather than refusing the
//! call): work is never lost. [`core_online`] starts it again with `CPU_ON`. The boot core and
//! the monitor core stay.

use core::time::Duration;

use crate::arch::aarch64::{percpu, smp};
use crate::monitor::kernel::monitor_core;
use crate::registry::{CORE_TABLE, CoreState};
pub use crate::sched::hotplug::heir_core;
use crate::time::Instant;

/// Why a hotplug request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HotplugError {
    /// No such core, or it is not in the state the request needs.
    NotAllowed(CoreState),
    /// The boot core and the monitor core do not go offline.
    Essential,
    /// PSCI refused or is missing: without it a core cannot be powered off and restarted
    /// (spin-table boards), so every core stays online.
    Firmware,
    /// The core did not finish the change within the time limit.
    TimedOut,
}

/// How long a core may take to go offline or come online.
const TRANSITION_LIMIT: Duration = Duration::from_secs(10);

fn wait_for_state(core: usize, wanted: CoreState) -> Result<(), HotplugError> {
    wait_until(|| CORE_TABLE.state(core) == wanted)
}

/// Sleeps in short steps until `done()`, or fails after [`TRANSITION_LIMIT`].
fn wait_until(done: impl Fn() -> bool) -> Result<(), HotplugError> {
    let give_up = Instant::now().saturating_add(TRANSITION_LIMIT);
    while !done() {
        if Instant::now() >= give_up {
            return Err(HotplugError::TimedOut);
        }
        crate::sched::sleep_for(Duration::from_micros(200));
    }
    Ok(())
}

/// Takes `core` offline: its tasks and timers move to the heir core, then it powers off.
/// Returns once it is off. Call from a task on another core. Refused with
/// [`HotplugError::Firmware`], the core untouched, where cores cannot be restarted (no PSCI).
pub fn core_offline(core: usize) -> Result<(), HotplugError> {
    if core == heir_core() || core == monitor_core() {
        return Err(HotplugError::Essential);
    }
    if !smp::can_hotplug() {
        return Err(HotplugError::Firmware);
    }
    CORE_TABLE
        .change_state(core, CoreState::GoingOffline)
        .map_err(|_| HotplugError::NotAllowed(CORE_TABLE.state(core)))?;
    log::debug!(
        "hotplug: core {core} going offline; its tasks and timers move to core {}",
        heir_core()
    );
    crate::sched::scheduler::request_offline(core);
    wait_for_state(core, CoreState::Offline)?;
    log::debug!("hotplug: core {core} is offline, waiting for PSCI to report it powered off");
    // The core marked itself offline just before PSCI `CPU_OFF`: it is off only once the
    // firmware says so (a `CPU_ON` before that is refused).
    wait_until(|| smp::is_powered_off(core))?;
    log::debug!("hotplug: core {core} powered off");
    Ok(())
}

/// Brings an offline `core` back: it restarts with `CPU_ON` and rejoins scheduling. Returns once
/// it is online.
pub fn core_online(core: usize) -> Result<(), HotplugError> {
    CORE_TABLE
        .change_state(core, CoreState::Starting)
        .map_err(|_| HotplugError::NotAllowed(CORE_TABLE.state(core)))?;
    crate::timer::reopen(core);
    log::debug!("hotplug: core {core} timer queue reopened; restarting it with PSCI CPU_ON");
    if let Err(start_error) = smp::restart_core(core) {
        log::debug!("hotplug: core {core} did not restart: {start_error:?}");
        if let Err(error) = CORE_TABLE.change_state(core, CoreState::Offline) {
            log::error!("core {core} did not restart, and stays {error:?}");
        }
        return Err(HotplugError::Firmware);
    }
    wait_until(|| percpu::core(core).is_online())?;
    CORE_TABLE
        .change_state(core, CoreState::Online)
        .map_err(|_| HotplugError::NotAllowed(CORE_TABLE.state(core)))?;
    log::debug!("hotplug: core {core} is online");
    Ok(())
}

/// Makes cores `0..count` online and the rest offline (the essential cores always stay).
/// Returns the first refusal, after trying every core.
pub fn set_active_cores(count: usize) -> Result<(), HotplugError> {
    let cores = super::platform().cpus.len();
    let mut result = Ok(());
    for core in 0..cores {
        let state = CORE_TABLE.state(core);
        let change = match (core < count, state) {
            (true, CoreState::Offline) => core_online(core),
            (false, CoreState::Online) if core != heir_core() && core != monitor_core() => {
                core_offline(core)
            }
            _ => Ok(()),
        };
        result = result.and(change);
    }
    result
}
