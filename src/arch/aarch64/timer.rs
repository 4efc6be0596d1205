//! The per-core generic timer (the EL1 virtual timer), programmed with absolute deadlines.
//!
//! Tickless: a core arms its timer only for its next deadline; with nothing due it disarms it
//! and takes no timer interrupts at all.

use aarch64_cpu::registers::{CNTV_CTL_EL0, CNTV_CVAL_EL0, Writeable};

use super::cpu::ns_to_ticks;

/// Arms this core's timer to interrupt at `deadline_ns` (on the [`now_ns`](super::cpu::now_ns)
/// clock); a deadline in the past interrupts at once.
#[inline]
pub fn arm(deadline_ns: u64) {
    CNTV_CVAL_EL0.set(ns_to_ticks(deadline_ns));
    CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::SET + CNTV_CTL_EL0::IMASK::CLEAR);
}

/// Disarms this core's timer; its level-triggered interrupt line drops.
#[inline]
pub fn disarm() {
    CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::CLEAR);
}
