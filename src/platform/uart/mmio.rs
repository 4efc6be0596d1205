//! The drivers' register access on the board: volatile MMIO through `safe-mmio`, whose aarch64
//! accessors use only instructions a hypervisor can emulate.

use core::ptr::NonNull;

use safe_mmio::UniqueMmioPointer;
use safe_mmio::fields::ReadWrite;

use super::{Access, Io};

/// A UART's register block at a physical address (the kernel maps MMIO identity).
#[derive(Debug)]
pub struct Mmio {
    base: NonNull<u8>,
}

// SAFETY: `Mmio` is only an address; the console lock serialises every access through it.
unsafe impl Send for Mmio {}

impl Mmio {
    /// The register block at `base`.
    ///
    /// # Safety
    /// `base` must be the address of a UART's registers, mapped as device memory (or the MMU
    /// off), covering every offset its driver uses, and driven by nothing else.
    pub unsafe fn new(base: NonNull<u8>) -> Self {
        Self { base }
    }

    /// A `safe-mmio` pointer to the `T`-sized register at `offset`.
    fn register<T>(&self, offset: usize) -> UniqueMmioPointer<'_, ReadWrite<T>> {
        // SAFETY: `Mmio::new`'s contract: the block at `base` is this UART's, mapped as device
        // memory, and every driver offset is inside it and aligned to its access; the pointer
        // lives only for this one access, under the console lock.
        unsafe { UniqueMmioPointer::new(self.base.add(offset).cast::<ReadWrite<T>>()) }
    }
}

impl Io for Mmio {
    fn read(&self, offset: usize, access: Access) -> u32 {
        match access {
            Access::U8 => self.register::<u8>(offset).read().into(),
            Access::U16 => self.register::<u16>(offset).read().into(),
            Access::U32 => self.register::<u32>(offset).read(),
            Access::U32BigEndian => u32::from_be(self.register::<u32>(offset).read()),
        }
    }

    fn write(&self, offset: usize, access: Access, value: u32) {
        // Truncation is the point: an 8 or 16-bit register takes the low bits.
        match access {
            Access::U8 => self.register::<u8>(offset).write(value as u8),
            Access::U16 => self.register::<u16>(offset).write(value as u16),
            Access::U32 => self.register::<u32>(offset).write(value),
            Access::U32BigEndian => self.register::<u32>(offset).write(value.to_be()),
        }
    }
}
