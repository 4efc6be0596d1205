//! Host stand-ins for the architecture interface, so portable code runs in unit tests.
//!
//! Interrupts do not exist on the host: masking them is a no-op. Each test thread acts as
//! its own core, numbered in the order threads first ask.

/// What [`irq_save_disable`] saved; [`irq_restore`] puts it back.
#[derive(Clone, Copy, Debug)]
pub struct IrqState(());

impl IrqState {
    /// The state as plain bits (always 0 on the host).
    pub fn to_bits(self) -> u64 {
        0
    }

    /// The state [`IrqState::to_bits`] gave.
    pub fn from_bits(_bits: u64) -> Self {
        Self(())
    }
}

/// Masks interrupts on this core and returns the previous state (a no-op on the host).
pub fn irq_save_disable() -> IrqState {
    IrqState(())
}

/// Restores the interrupt state saved by [`irq_save_disable`] (a no-op on the host).
pub fn irq_restore(_state: IrqState) {}

/// Whether interrupts are masked: the host has none, so always.
pub fn irqs_masked() -> bool {
    true
}

/// Nanoseconds since the first call: in unit tests the host's monotonic clock stands in for the
/// counter.
#[cfg(test)]
pub fn now_ns() -> u64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    let elapsed = START.get_or_init(Instant::now).elapsed();
    u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
}

/// Nanoseconds: outside unit tests the host build has no clock, and time stands still at 0.
#[cfg(not(test))]
pub fn now_ns() -> u64 {
    0
}

/// A lock waiter's pause: on the host, a spin-loop hint.
pub fn wait_for_event() {
    core::hint::spin_loop();
}

/// Wakes lock waiters: nothing to do on the host, where waiters only spin.
pub fn send_event() {}

/// The id of the calling core: on the host, a small number unique to the calling thread.
#[cfg(test)]
pub fn core_id() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::thread_local!(static ID: usize = NEXT.fetch_add(1, Ordering::Relaxed));
    ID.with(|id| *id)
}

/// The id of the calling core: outside unit tests the host has one core, 0.
#[cfg(not(test))]
pub fn core_id() -> usize {
    0
}
