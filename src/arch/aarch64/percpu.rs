//! Per-core architecture state, reached through `TPIDR_EL1`.
//!
//! One [`PerCore`] per possible core, each in a [`CachePadded`] so cores do not share lines. The index is fixed at build time; everything else is filled in when the
//! core is started and read by other cores (SGI targets, fault reports), hence atomics.

use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};

use aarch64_cpu::registers::{Readable, TPIDR_EL1, Writeable};

use crate::MAX_CORES;
use crate::sync::CachePadded;

/// What the architecture layer knows about one core.
pub struct PerCore {
    /// The core's index in the DTB's `/cpus` order; also its index in every per-core table.
    pub index: usize,
    mpidr: AtomicU64,
    online: AtomicBool,
    gic_v2_interface_mask: AtomicU8,
    gic_redistributor: AtomicUsize,
    /// Lowest address of the guard page below the core's current thread stack (0 if none).
    stack_guard: AtomicUsize,
}

impl PerCore {
    const fn new(index: usize) -> Self {
        Self {
            index,
            mpidr: AtomicU64::new(u64::MAX),
            online: AtomicBool::new(false),
            gic_v2_interface_mask: AtomicU8::new(0),
            gic_redistributor: AtomicUsize::new(0),
            stack_guard: AtomicUsize::new(0),
        }
    }

    /// The core's MPIDR affinity (from the DTB), `u64::MAX` before it is known.
    pub fn mpidr(&self) -> u64 {
        self.mpidr.load(Ordering::Relaxed)
    }

    /// Records the core's MPIDR affinity; done by the boot core before starting it.
    pub fn set_mpidr(&self, mpidr: u64) {
        self.mpidr.store(mpidr, Ordering::Relaxed);
    }

    /// Whether the core has finished coming up and takes interrupts.
    pub fn is_online(&self) -> bool {
        self.online.load(Ordering::Acquire)
    }

    /// Marks the core online (it is ready for SGIs) or offline.
    pub fn set_online(&self, online: bool) {
        self.online.store(online, Ordering::Release);
    }

    /// The GICv2 CPU-interface mask to address this core's SGIs to.
    pub fn gic_v2_interface_mask(&self) -> u8 {
        self.gic_v2_interface_mask.load(Ordering::Relaxed)
    }

    /// Records the GICv2 CPU-interface mask the core read from its banked `ITARGETSR0`.
    pub fn set_gic_v2_interface_mask(&self, mask: u8) {
        self.gic_v2_interface_mask.store(mask, Ordering::Relaxed);
    }

    /// The address of the core's GICv3 redistributor frame (0 until found).
    pub fn gic_redistributor(&self) -> usize {
        self.gic_redistributor.load(Ordering::Relaxed)
    }

    /// Records the core's GICv3 redistributor frame.
    pub fn set_gic_redistributor(&self, frame: usize) {
        self.gic_redistributor.store(frame, Ordering::Relaxed);
    }

    /// The guard page below the stack the core runs on now.
    pub fn stack_guard(&self) -> usize {
        self.stack_guard.load(Ordering::Relaxed)
    }

    /// Records the guard page of the stack the core switches to.
    pub fn set_stack_guard(&self, guard: usize) {
        self.stack_guard.store(guard, Ordering::Relaxed);
    }
}

static PER_CORE: [CachePadded<PerCore>; MAX_CORES] = {
    let mut cores = [const { CachePadded::new(PerCore::new(0)) }; MAX_CORES];
    let mut index = 0;
    while index < MAX_CORES {
        cores[index] = CachePadded::new(PerCore::new(index));
        index += 1;
    }
    cores
};

/// The state of core `index`.
///
/// # Panics
/// If `index >= MAX_CORES`.
pub fn core(index: usize) -> &'static PerCore {
    &PER_CORE[index]
}

/// Makes `TPIDR_EL1` point at core `index`'s state. Called first thing on each core.
pub fn install(index: usize) {
    TPIDR_EL1.set(core(index) as *const PerCore as u64);
}

/// The guard page below the calling core's current thread stack (0 if none).
pub fn stack_guard() -> usize {
    this_core().stack_guard()
}

/// Records `guard` as the guard page below the calling core's current thread stack, so a fault
/// there is reported as a stack overflow.
pub fn set_stack_guard(guard: usize) {
    this_core().set_stack_guard(guard);
}

/// The calling core's state.
#[inline(always)]
pub fn this_core() -> &'static PerCore {
    let pointer = TPIDR_EL1.get() as *const PerCore;
    // SAFETY: `install` pointed TPIDR_EL1 at an element of the static `PER_CORE` before any code
    // that asks for the current core ran on this core, and nothing else writes TPIDR_EL1.
    unsafe { &*pointer }
}
