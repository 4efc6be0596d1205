//! The identity map: MMU and caches on, on every core, as early as possible.
//!
//! Built once by the boot core with `aarch64-paging` from what the DTB describes: RAM as
//! normal write-back memory (the kernel's text executable and read-only, its rodata read-only,
//! everything else never executable), MMIO as device memory, and stack guard pages unmapped.
//! Exclusive loads and stores, and so every spinlock, need normal cacheable memory: on real
//! cores they hang with the MMU off.

use core::ptr::NonNull;

use aarch64_cpu::registers::{ID_AA64MMFR0_EL1, MAIR_EL1, Readable, SCTLR_EL1, TCR_EL1, Writeable};
use aarch64_paging::Mapping;
use aarch64_paging::descriptor::{El1Attributes, PhysicalAddress};
use aarch64_paging::paging::{Constraints, El1And0, MemoryRegion, PageTable, Translation, VaRange};

use crate::platform::memory::{PAGE_SIZE, Range};

/// MAIR index 0: device nGnRE (MMIO). Index 1: normal, inner and outer write-back.
const MAIR_VALUE: u64 = 0x04 | (0xff << 8);
const DEVICE: El1Attributes = El1Attributes::ATTRIBUTE_INDEX_0;
const NORMAL: El1Attributes =
    El1Attributes::ATTRIBUTE_INDEX_1.union(El1Attributes::INNER_SHAREABLE);
const COMMON: El1Attributes = El1Attributes::VALID.union(El1Attributes::ACCESSED);
const NEVER_EXECUTE: El1Attributes = El1Attributes::PXN.union(El1Attributes::UXN);

/// Page tables for every guarded stack (512 cores' and the task pool's, mapped at 4 KiB
/// granularity) plus RAM and MMIO in blocks.
const TABLE_POOL_PAGES: usize = 384;

#[repr(C, align(4096))]
struct TablePool([[u64; 512]; TABLE_POOL_PAGES]);

static mut TABLE_POOL: TablePool = TablePool([[0; 512]; TABLE_POOL_PAGES]);

/// Hands out zeroed pages of `TABLE_POOL` as page tables; the map lives as long as the kernel.
struct PoolTranslation {
    next: usize,
}

impl Translation<El1Attributes> for PoolTranslation {
    fn allocate_table(&mut self) -> (NonNull<PageTable<El1Attributes>>, PhysicalAddress) {
        assert!(
            self.next < TABLE_POOL_PAGES,
            "the page-table pool is exhausted"
        );
        // SAFETY: only the boot core builds the map, before other cores start, and each page
        // of the pool is handed out once; the page is zero (bss), i.e. an empty table.
        let page = unsafe { &raw mut TABLE_POOL.0[self.next] };
        self.next += 1;
        let table = NonNull::new(page.cast::<PageTable<El1Attributes>>()).unwrap();
        (table, PhysicalAddress(page as usize))
    }

    unsafe fn deallocate_table(&mut self, _table: NonNull<PageTable<El1Attributes>>) {
        // The kernel map only grows at boot; tables are never freed.
    }

    fn physical_to_virtual(&self, pa: PhysicalAddress) -> NonNull<PageTable<El1Attributes>> {
        // Cannot fail: tables come from the pool, never at address 0.
        NonNull::new(pa.0 as *mut PageTable<El1Attributes>).unwrap()
    }
}

/// What the kernel image looks like in memory, from linker symbols.
pub struct ImageLayout {
    /// `[start, rodata)`: executable text.
    pub text: Range,
    /// `[rodata, data)`: read-only data, relocated already.
    pub rodata: Range,
    /// `[data, end)`: data and bss.
    pub data: Range,
}

/// The register values each core loads to turn the MMU on with the shared kernel map.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct MmuConfig {
    /// `MAIR_EL1`.
    pub mair: u64,
    /// `TCR_EL1`.
    pub tcr: u64,
    /// `TTBR0_EL1`: the root table.
    pub ttbr0: u64,
    /// `SCTLR_EL1` with the MMU and both caches on.
    pub sctlr: u64,
}

/// Builds the identity map: `ram` normal, `devices` as device memory, `image` with its own
/// permissions, `guards` left unmapped. Returns the configuration every core loads.
///
/// # Panics
/// If a region cannot be mapped (beyond the 48-bit address space) or the pool runs out.
pub fn build_identity_map(
    ram: &[Range],
    devices: &[Range],
    image: &ImageLayout,
    guards: impl IntoIterator<Item = usize>,
) -> MmuConfig {
    let mut map =
        Mapping::with_asid_and_va_range(PoolTranslation { next: 0 }, 0, 0, El1And0, VaRange::Lower);
    let mut map_range = |range: Range, attributes: El1Attributes| {
        map.map_range(
            &MemoryRegion::new(range.start, range.end),
            PhysicalAddress(range.start),
            attributes,
            Constraints::empty(),
        )
        .unwrap_or_else(|error| panic!("cannot map {range:x?}: {error}"));
    };
    for region in ram {
        map_range(*region, COMMON | NORMAL | NEVER_EXECUTE);
    }
    for device in devices {
        map_range(*device, COMMON | DEVICE | NEVER_EXECUTE);
    }
    map_range(
        image.text,
        COMMON | NORMAL | El1Attributes::READ_ONLY | El1Attributes::UXN,
    );
    map_range(
        image.rodata,
        COMMON | NORMAL | El1Attributes::READ_ONLY | NEVER_EXECUTE,
    );
    map_range(image.data, COMMON | NORMAL | NEVER_EXECUTE);
    for guard in guards {
        map_range(
            Range {
                start: guard,
                end: guard + PAGE_SIZE,
            },
            El1Attributes::empty(),
        );
    }
    let ttbr0 = map.root_address().0 as u64;
    // The map is never dropped: every core uses it until power-off.
    core::mem::forget(map);
    MmuConfig {
        mair: MAIR_VALUE,
        tcr: tcr_value(),
        ttbr0,
        sctlr: sctlr_value(),
    }
}

fn tcr_value() -> u64 {
    let physical_range = ID_AA64MMFR0_EL1.read(ID_AA64MMFR0_EL1::PARange);
    (TCR_EL1::T0SZ.val(16)
        + TCR_EL1::TG0::KiB_4
        + TCR_EL1::SH0::Inner
        + TCR_EL1::IRGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable
        + TCR_EL1::ORGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable
        + TCR_EL1::EPD1::DisableTTBR1Walks
        + TCR_EL1::IPS.val(physical_range.min(5)))
    .value
}

fn sctlr_value() -> u64 {
    let current = SCTLR_EL1.get();
    (current | (SCTLR_EL1::M::Enable + SCTLR_EL1::C::Cacheable + SCTLR_EL1::I::Cacheable).value)
        & !SCTLR_EL1::A::Enable.value
}

/// Turns the MMU and caches on for the calling core with `config`.
pub fn enable(config: &MmuConfig) {
    MAIR_EL1.set(config.mair);
    TCR_EL1.set(config.tcr);
    // SAFETY: the map identity-maps all RAM the kernel uses (image, stacks, DTB) and the MMIO
    // it touches, so no address in use changes meaning; TLBs are invalidated before enabling.
    unsafe {
        core::arch::asm!(
            "msr ttbr0_el1, {ttbr0}",
            "isb",
            "tlbi vmalle1",
            "dsb nsh",
            "isb",
            "msr sctlr_el1, {sctlr}",
            "isb",
            ttbr0 = in(reg) config.ttbr0,
            sctlr = in(reg) config.sctlr,
            options(nostack),
        );
    }
}
