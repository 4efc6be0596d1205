//! Interrupt-mask tests: masking IRQs for a lock, and unmasking them, changes the I bit alone;
//! the debug, SError and FIQ masks (D, A, F) keep what they were.

use aarch64_cpu::registers::{DAIF, Readable};

use crate::sync::{IrqSpinLock, LockRank};
use crate::{check_eq, kernel_test};

/// DAIF's D, A and F bits.
const DAF: u64 = (1 << 9) | (1 << 8) | (1 << 6);

fn mask_daf(masked: bool) {
    if masked {
        // SAFETY: masks debug, SError and FIQ on this core; the test restores them.
        unsafe { core::arch::asm!("msr daifset, #0xd", options(nostack, preserves_flags)) };
    } else {
        // SAFETY: unmasks them again, as they were before the test.
        unsafe { core::arch::asm!("msr daifclr, #0xd", options(nostack, preserves_flags)) };
    }
}

kernel_test!(fn lock_round_trip_changes_only_the_irq_mask(_context) {
    static LOCK: IrqSpinLock<u32> = IrqSpinLock::new(LockRank::WaitQueue, 0);
    let before = DAIF.get() & DAF;
    let mut seen = [0u64; 3];
    for (masked, seen) in [true, false].into_iter().zip(&mut seen) {
        mask_daf(masked);
        {
            let mut value = LOCK.lock();
            *value += 1;
        }
        crate::arch::irq_restore(crate::arch::irq_save_disable());
        *seen = DAIF.get() & DAF;
        mask_daf(before != 0);
    }
    seen[2] = DAIF.get() & DAF;
    check_eq!(seen, [DAF, 0, before]);
    Ok(())
});
