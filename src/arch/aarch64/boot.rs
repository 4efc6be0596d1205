//! Where the image lies: the linker-script symbols the kernel's start-up needs, read at run
//! time wherever the loader placed the image.
//!
//! `boot.s` enters the kernel's `primary_main` and `secondary_main` (in `kernel::start`); this
//! module only tells that code where the image's sections and the boot stack's guard page are.

use super::mmu::ImageLayout;
use crate::platform::memory::Range;

/// The run-time address of a linker-script symbol, computed PC-relative (`adrp` + `add`), so
/// it is right wherever the loader placed the image.
macro_rules! linker_symbol {
    ($name:literal) => {{
        let address: usize;
        // SAFETY: only computes an address; reads and writes nothing.
        unsafe {
            core::arch::asm!(
                concat!("adrp {0}, ", $name),
                concat!("add {0}, {0}, :lo12:", $name),
                out(reg) address,
                options(pure, nomem, nostack),
            )
        };
        address
    }};
}

/// The image's text, read-only data and writable data (with bss), as loaded.
pub fn image_layout() -> ImageLayout {
    let (start, rodata, data, end) = (
        linker_symbol!("__image_start"),
        linker_symbol!("__rodata_start"),
        linker_symbol!("__data_start"),
        linker_symbol!("__image_end"),
    );
    ImageLayout {
        text: Range { start, end: rodata },
        rodata: Range {
            start: rodata,
            end: data,
        },
        data: Range { start: data, end },
    }
}

/// The guard page below the boot core's thread stack.
pub fn boot_stack_guard() -> usize {
    linker_symbol!("__boot_stack_guard")
}
