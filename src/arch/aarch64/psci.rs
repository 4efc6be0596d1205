//! PSCI (power state coordination) through `smccc`, over the conduit the DTB names.

use core::sync::atomic::{AtomicU8, Ordering};

use smccc::psci;
use smccc::{Hvc, Smc};

use crate::platform::dtb::PsciConduit;

const UNKNOWN: u8 = 0;
const HVC: u8 = 1;
const SMC: u8 = 2;

static CONDUIT: AtomicU8 = AtomicU8::new(UNKNOWN);

/// Records the conduit (`/psci/method`) every later call uses.
pub fn set_conduit(conduit: PsciConduit) {
    let value = match conduit {
        PsciConduit::Hvc => HVC,
        PsciConduit::Smc => SMC,
    };
    CONDUIT.store(value, Ordering::Relaxed);
}

/// Whether the DTB described PSCI.
pub fn is_available() -> bool {
    CONDUIT.load(Ordering::Relaxed) != UNKNOWN
}

/// Starts the core with MPIDR `target` at physical address `entry`, with `context` in its x0.
pub fn cpu_on(target: u64, entry: u64, context: u64) -> Result<(), psci::error::Error> {
    match CONDUIT.load(Ordering::Relaxed) {
        HVC => psci::cpu_on::<Hvc>(target, entry, context),
        SMC => psci::cpu_on::<Smc>(target, entry, context),
        _ => Err(psci::error::Error::NotSupported),
    }
}

/// Whether every core with MPIDR `target` is powered off (PSCI `AFFINITY_INFO`): `None` if the
/// firmware cannot say.
pub fn is_off(target: u64) -> Option<bool> {
    let state = match CONDUIT.load(Ordering::Relaxed) {
        HVC => psci::affinity_info::<Hvc>(target, psci::LowestAffinityLevel::All),
        SMC => psci::affinity_info::<Smc>(target, psci::LowestAffinityLevel::All),
        _ => return None,
    };
    state.ok().map(|state| state == psci::AffinityState::Off)
}

/// Powers the calling core off. Returns only if PSCI refused.
pub fn cpu_off() -> Result<(), psci::error::Error> {
    match CONDUIT.load(Ordering::Relaxed) {
        HVC => psci::cpu_off::<Hvc>(),
        SMC => psci::cpu_off::<Smc>(),
        _ => Err(psci::error::Error::NotSupported),
    }
}

/// Powers the whole machine off. Returns only if PSCI is missing or refused.
pub fn system_off() {
    let _ = match CONDUIT.load(Ordering::Relaxed) {
        HVC => psci::system_off::<Hvc>(),
        SMC => psci::system_off::<Smc>(),
        _ => Err(psci::error::Error::NotSupported),
    };
}
