//! The per-core generic timer (the EL1 virtual timer), programmed with absolute deadlines.
//!
//! Tickless: a core arms its timer only for its next deadline; with nothing due it disarms it
//! and takes no timer interrupts at all.

use aarch64_cpu::registers::{CNTKCTL_EL1, CNTV_CTL_EL0, CNTV_CVAL_EL0, ReadWriteable, Writeable};

use super::cpu::ns_to_ticks;

/// Arms this core's timer to interrupt at `deadline_ns` (on the [`now_ns`](super::cpu::now_ns)
/// clock); a deadline in the past interrupts at once.
#[inline]
pub fn arm(deadline_ns: u64) {
    CNTV_CVAL_EL0.set(ns_to_ticks(deadline_ns));
    CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::SET + CNTV_CTL_EL0::IMASK::CLEAR);
}

/// Turns on this core's timer event stream: an event (which ends a `wfe`) about every 100 us,
/// as Linux does, so a core waiting for an event that never comes (a lock whose holder is
/// stuck) still wakes up, and its lock-up detector can keep time.
pub fn enable_event_stream() {
    /// Events per second sought.
    const EVENTS_PER_SECOND: u64 = 10_000;
    let ticks = (super::cpu::counter_frequency() / EVENTS_PER_SECOND).max(2);
    // An event fires when counter bit EVNTI changes: every 2^(EVNTI + 1) ticks. EVNTI is 4 bits.
    let bit = (63 - ticks.leading_zeros()).saturating_sub(1).min(15);
    CNTKCTL_EL1.modify(
        CNTKCTL_EL1::EVNTI.val(u64::from(bit))
            + CNTKCTL_EL1::EVNTEN::SET
            + CNTKCTL_EL1::EVNTDIR::CLEAR,
    );
}

/// Disarms this core's timer; its level-triggered interrupt line drops.
#[inline]
pub fn disarm() {
    CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::CLEAR);
}
