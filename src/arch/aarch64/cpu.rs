//! The running core: its id, interrupt masking, and its generic-timer clock.
//!
//! Each core's [`PerCore`](super::percpu::PerCore) is reached through `TPIDR_EL1`, set once
//! when the core comes up, so `core_id()` is one system-register read and one load.

use core::sync::atomic::{AtomicU64, Ordering};

use aarch64_cpu::registers::{CNTFRQ_EL0, CNTVCT_EL0, DAIF, MPIDR_EL1, Readable};

use super::percpu;

/// The DAIF interrupt mask as it was before [`irq_save_disable`] masked IRQs.
#[derive(Clone, Copy, Debug)]
pub struct IrqState(u64);

impl IrqState {
    /// The state as plain bits, to keep in an atomic.
    pub fn to_bits(self) -> u64 {
        self.0
    }

    /// The state [`IrqState::to_bits`] gave.
    pub fn from_bits(bits: u64) -> Self {
        Self(bits)
    }
}

/// Masks IRQs on this core and returns the previous mask, for [`irq_restore`]. Only the I bit
/// changes: debug, SError and FIQ keep whatever mask boot gave them.
#[inline(always)]
pub fn irq_save_disable() -> IrqState {
    let saved = DAIF.get();
    // SAFETY: `daifset` with #2 sets PSTATE.I alone. No `nomem`: the compiler must not move
    // memory accesses of a critical section to before the mask.
    unsafe { core::arch::asm!("msr daifset, #2", options(nostack, preserves_flags)) };
    IrqState(saved)
}

/// Puts back the IRQ mask that [`irq_save_disable`] returned. The other DAIF bits are left as
/// they are.
#[inline(always)]
pub fn irq_restore(state: IrqState) {
    if state.0 & DAIF_I == 0 {
        irq_enable();
    } else {
        // SAFETY: as in `irq_save_disable`: sets PSTATE.I alone.
        unsafe { core::arch::asm!("msr daifset, #2", options(nostack, preserves_flags)) };
    }
}

/// Whether IRQs are masked on this core.
#[inline(always)]
pub fn irqs_masked() -> bool {
    DAIF.get() & DAIF_I != 0
}

/// The I (IRQ mask) bit of the DAIF register.
const DAIF_I: u64 = 1 << 7;

/// Unmasks IRQs on this core; debug, SError and FIQ masks are left as they are.
#[inline(always)]
pub fn irq_enable() {
    // SAFETY: `daifclr` with #2 clears PSTATE.I alone; no `nomem`, as for the mask.
    unsafe { core::arch::asm!("msr daifclr, #2", options(nostack, preserves_flags)) };
}

/// The index of the calling core in the DTB's `/cpus` order (0 = the boot core): always below
/// [`MAX_CORES`](crate::MAX_CORES), which the compiler is told, so indexing a per-core table
/// with it needs no bounds check.
#[inline(always)]
pub fn core_id() -> usize {
    let index = percpu::this_core().index;
    // SAFETY: `this_core` is an element of `PER_CORE`, which has `MAX_CORES` elements, each
    // built with its own position as its index and never changed.
    unsafe { core::hint::assert_unchecked(index < crate::MAX_CORES) };
    index
}

/// This core's affinity fields (Aff3..Aff0) from `MPIDR_EL1`, as the DTB's `reg` spells them.
pub fn mpidr() -> u64 {
    MPIDR_EL1.get() & 0xff_00ff_ffff
}

/// Nanoseconds since the counter started (about when the machine was reset), from the
/// virtual counter. Monotonic; the multiplication is widened so it cannot overflow.
#[inline(always)]
pub fn now_ns() -> u64 {
    ticks_to_ns(counter_ticks())
}

/// The virtual counter itself, in ticks of [`counter_frequency`]: the cheapest clock read.
#[inline(always)]
pub fn counter_ticks() -> u64 {
    CNTVCT_EL0.get()
}

/// The generic timer's frequency in Hz.
pub fn counter_frequency() -> u64 {
    CNTFRQ_EL0.get().max(1)
}

/// Nanoseconds per counter tick as a 32.32 fixed-point number, computed once at boot by
/// [`calibrate_clock`], so reading the clock costs a multiply instead of a 128-bit division.
static NS_PER_TICK_FIXED: AtomicU64 = AtomicU64::new(0);

/// Computes the tick-to-nanosecond factor from `CNTFRQ_EL0`; the boot core calls it first.
pub fn calibrate_clock() {
    NS_PER_TICK_FIXED.store(
        (1_000_000_000u64 << 32) / counter_frequency(),
        Ordering::Relaxed,
    );
}

/// Converts counter ticks to nanoseconds, saturating instead of overflowing.
#[inline(always)]
pub fn ticks_to_ns(ticks: u64) -> u64 {
    let ns = (u128::from(ticks) * u128::from(NS_PER_TICK_FIXED.load(Ordering::Relaxed))) >> 32;
    u64::try_from(ns).unwrap_or(u64::MAX)
}

/// Converts nanoseconds to counter ticks, rounding up so a deadline is never early.
pub fn ns_to_ticks(ns: u64) -> u64 {
    let ticks = (u128::from(ns) * u128::from(counter_frequency())).div_ceil(1_000_000_000);
    u64::try_from(ticks).unwrap_or(u64::MAX)
}

/// Waits for an event (`wfe`): for a lock waiter, until some core releases a lock (which sends
/// one, see [`send_event`]) or anything else wakes the core; it may also return at once. Under
/// a hypervisor (KVM traps WFE) or QEMU (TCG yields the vCPU on WFE) it gives the host CPU to
/// another vCPU, such as the one holding the lock, instead of burning it.
#[inline(always)]
pub fn wait_for_event() {
    aarch64_cpu::asm::wfe();
}

/// Wakes every core waiting in [`wait_for_event`] (`sev`). No barrier: a waiter woken before
/// the releasing store is visible finds the lock still held and waits again, until the next
/// event (at the latest the timer's event stream).
#[inline(always)]
pub fn send_event() {
    aarch64_cpu::asm::sev();
}

/// Waits for an interrupt (the idle state). Returns after any interrupt became pending, even
/// with IRQs masked.
#[inline(always)]
pub fn wait_for_interrupt() {
    aarch64_cpu::asm::wfi();
}
