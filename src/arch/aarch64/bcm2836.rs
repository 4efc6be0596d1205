//! The BCM2836 per-core interrupt controller (`brcm,bcm2836-l1-intc`): the "ARM local" block
//! of the Raspberry Pi 2 and 3, which have no GIC. Each core has its own enable register for
//! its four generic-timer interrupts and for its four mailboxes, its own pending register, and
//! four 32-bit mailboxes that any core sets bits in and the owner clears.
//!
//! It serves the kernel as a GIC would (see [`super::intc`]): the timer lines are reported as
//! the PPIs of the same number (the DTB's local interrupt 3, the virtual timer, is PPI 3,
//! interrupt id 19), and bit `n` of a core's mailbox 0 is its SGI `n`. Register layout from
//! Broadcom's "QA7" description of the block, as Linux's and QEMU's models of it read it.

use arm_gic::IntId;

use super::{cpu, percpu};

/// Timer clock source and increment: 0 selects the crystal, counting by one.
const LOCAL_CONTROL: usize = 0x00;
/// Timer prescaler: the counter advances by `prescaler / 2^31` per clock.
const LOCAL_PRESCALER: usize = 0x08;
/// 2^31: the counter runs at the crystal's rate, as the firmware and Linux set it.
const PRESCALER_ONE_TO_ONE: u32 = 1 << 31;
/// Per core (4 bytes apart): IRQ enable of timer interrupts 0 to 3 (bits 0 to 3).
const TIMER_INTERRUPT_CONTROL: usize = 0x40;
/// Per core (4 bytes apart): IRQ enable of mailboxes 0 to 3 (bits 0 to 3).
const MAILBOX_INTERRUPT_CONTROL: usize = 0x50;
/// Per core (4 bytes apart): pending IRQ sources; bits 0 to 3 the timers, bit 4 mailbox 0.
const IRQ_PENDING: usize = 0x60;
/// Per core (16 bytes apart): writing sets bits of the core's mailbox 0.
const MAILBOX0_SET: usize = 0x80;
/// Per core (16 bytes apart): reads the core's mailbox 0; writing clears the bits written.
const MAILBOX0_CLEAR: usize = 0xc0;
/// The pending bit of mailbox 0, and its enable bit in the mailbox control register.
const PENDING_MAILBOX0: u32 = 1 << 4;
const ENABLE_MAILBOX0: u32 = 1 << 0;
/// The generic-timer interrupts: local interrupts (and pending bits) 0 to 3.
const TIMER_LINES: u32 = 4;
/// The cores the block serves.
const CORES: usize = 4;

/// The controller at one base address: the DTB's `reg`, mapped as device memory, at least
/// 0x100 bytes long (what discovery checks).
pub struct LocalController {
    base: usize,
}

impl LocalController {
    /// Describes the controller at `base`; touches no register.
    pub const fn new(base: usize) -> Self {
        Self { base }
    }

    /// Sets the core timers to count at the crystal's rate, as the firmware does on a board.
    /// Called once, by the boot core, before any other core starts.
    pub fn init_global(&self) {
        self.write(LOCAL_CONTROL, 0);
        self.write(LOCAL_PRESCALER, PRESCALER_ONE_TO_ONE);
    }

    /// Enables interrupt `intid` on the calling core: any SGI enables its mailbox 0, a PPI
    /// below 4 its timer line. Other ids do not exist here and are ignored.
    pub fn enable_private(&self, intid: IntId) {
        let Some(core) = hardware_core(cpu::mpidr()) else {
            return;
        };
        let id = intid.raw_value();
        let (register, bit) = if intid.is_sgi() {
            (MAILBOX_INTERRUPT_CONTROL, ENABLE_MAILBOX0)
        } else if intid.is_ppi() && id - IntId::ppi(0).raw_value() < TIMER_LINES {
            (
                TIMER_INTERRUPT_CONTROL,
                1 << (id - IntId::ppi(0).raw_value()),
            )
        } else {
            return;
        };
        // Each core's enable registers are its own: no other core writes them.
        let offset = register + 4 * core;
        self.write(offset, self.read(offset) | bit);
    }

    /// The calling core's next pending interrupt, if any: an SGI from its mailbox 0 (whose bit
    /// is cleared here, so a new one is not lost), else its lowest pending timer line as a PPI.
    pub fn acknowledge(&self) -> Option<IntId> {
        let core = hardware_core(cpu::mpidr())?;
        let pending = self.read(IRQ_PENDING + 4 * core);
        if pending & PENDING_MAILBOX0 != 0 {
            let mailbox = MAILBOX0_CLEAR + 16 * core;
            let bits = self.read(mailbox);
            if bits != 0 {
                let sgi = bits.trailing_zeros();
                self.write(mailbox, 1 << sgi);
                // The sender's writes before its SGI are visible to the handler.
                aarch64_cpu::asm::barrier::dsb(aarch64_cpu::asm::barrier::SY);
                return Some(IntId::sgi(sgi));
            }
        }
        let timers = pending & ((1 << TIMER_LINES) - 1);
        (timers != 0).then(|| IntId::ppi(timers.trailing_zeros()))
    }

    /// Raises SGI `sgi` (0..16) on core `target_core` (DTB order): sets its bit in that core's
    /// mailbox 0. False if the core's MPIDR names no core of this block.
    pub fn send_sgi(&self, sgi: u32, target_core: usize) -> bool {
        let Some(core) = hardware_core(percpu::core(target_core).mpidr()) else {
            return false;
        };
        // What this core wrote before is visible to the target when it takes the interrupt.
        aarch64_cpu::asm::barrier::dsb(aarch64_cpu::asm::barrier::SY);
        self.write(MAILBOX0_SET + 16 * core, 1 << sgi);
        true
    }

    fn read(&self, offset: usize) -> u32 {
        // SAFETY: `offset` is one of the block's registers, below 0x100, and the block's
        // 0x100 bytes are mapped as device memory (see the type's contract).
        unsafe { ((self.base + offset) as *const u32).read_volatile() }
    }

    fn write(&self, offset: usize, value: u32) {
        // SAFETY: as in `read`; writing these registers touches nothing but the controller.
        unsafe { ((self.base + offset) as *mut u32).write_volatile(value) }
    }
}

/// The block's number for the core with `mpidr`: its Aff0, if the block serves it.
fn hardware_core(mpidr: u64) -> Option<usize> {
    let core = (mpidr & 0xff) as usize;
    (core < CORES).then_some(core)
}
