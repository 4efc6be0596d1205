//! What [`super::discover`] learns about the board: the [`Platform`] description and the
//! types it is made of. Fixed capacity, no allocation.

use core::fmt;
use core::iter;
use core::num::NonZeroU64;

use heapless::Vec;

use super::fdt::StringList;

/// How many RAM regions [`Platform::memory`] holds.
pub const MAX_MEMORY_REGIONS: usize = 8;
/// How many reserved regions [`Platform::reserved`] holds. Debian's 577 arm64 board DTBs have
/// at most 44; a DTB with more is refused rather than trimmed, since a dropped reservation
/// could let the kernel overwrite firmware.
pub const MAX_RESERVED_REGIONS: usize = 128;
/// How many GICv3 redistributor regions [`Gic::V3`] holds (QEMU virt uses up to two).
pub const MAX_REDISTRIBUTOR_REGIONS: usize = 4;
/// The compatible string of the one UART the kernel drives today.
pub const PL011_COMPATIBLE: &str = "arm,pl011";

/// A range of physical addresses. `base + size` never exceeds 2^64, so [`PhysRegion::end`]
/// cannot overflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhysRegion {
    pub(super) base: u64,
    pub(super) size: u64,
}

impl PhysRegion {
    /// The region `[base, base + size)`, or `None` if it would wrap past 2^64.
    pub const fn new(base: u64, size: u64) -> Option<Self> {
        match base.checked_add(size) {
            Some(_) => Some(Self { base, size }),
            None => None,
        }
    }

    /// The first address.
    pub const fn base(&self) -> u64 {
        self.base
    }

    /// The length in bytes.
    pub const fn size(&self) -> u64 {
        self.size
    }

    /// The first address past the region.
    pub const fn end(&self) -> u64 {
        self.base + self.size
    }
}

/// How a secondary CPU is started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnableMethod {
    /// PSCI `CPU_ON`, through [`Platform::psci`] (present whenever a CPU uses this).
    Psci,
    /// The CPU spins reading `release_addr`; write the entry point there and send an event.
    SpinTable {
        /// The physical address the CPU polls (never 0).
        release_addr: NonZeroU64,
    },
    /// The node names no enable method. Normal for the boot CPU, which is already running
    /// (QEMU omits it with a single vCPU); any other such CPU cannot be started.
    Missing,
}

/// One CPU from `/cpus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cpu {
    /// The CPU's MPIDR_EL1 affinity fields (only Aff3..Aff0 bits are set).
    pub mpidr: u64,
    /// How to start it.
    pub enable_method: EnableMethod,
}

/// An available CPU left out of [`Platform::cpus`] because the kernel cannot start it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SkippedCpu<'a> {
    /// The CPU's MPIDR_EL1 affinity fields.
    pub mpidr: u64,
    /// Its `enable-method` (the first entry), which the kernel does not know.
    pub enable_method: &'a str,
}

/// The SMCCC conduit for PSCI calls, from `/psci` `method`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PsciConduit {
    /// `HVC #0`: firmware at EL2 (QEMU entering the kernel at EL1).
    Hvc,
    /// `SMC #0`: firmware at EL3 (QEMU with `virtualization=on` entering at EL2).
    Smc,
}

/// The interrupt controller and its MMIO frames: a GIC, or the Raspberry Pi 2/3's BCM2836
/// per-core controller where there is none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gic {
    /// GICv2 (also GIC-400): memory-mapped CPU interface, at most 8 CPUs.
    V2 {
        /// The distributor (GICD).
        distributor: PhysRegion,
        /// The CPU interface (GICC).
        cpu_interface: PhysRegion,
    },
    /// GICv3: system-register CPU interface, one redistributor frame per CPU.
    V3 {
        /// The distributor (GICD).
        distributor: PhysRegion,
        /// Every redistributor region, in DTB order; never empty.
        redistributors: Vec<PhysRegion, MAX_REDISTRIBUTOR_REGIONS>,
    },
    /// The BCM2836 per-core controller (`brcm,bcm2836-l1-intc`): each core's generic-timer
    /// interrupts and mailboxes. Its timer interrupts are given as PPIs of the same number
    /// (local interrupt 3, the virtual timer, is PPI 3, interrupt id 19).
    Bcm2836Local {
        /// Its registers: at least 0x100 bytes.
        registers: PhysRegion,
    },
}

/// The UART named by `/chosen/stdout-path`, whether or not the kernel can drive it. A driver
/// picks it by [`Uart::compatible`]; `Display` gives `console: <compatible> at <base>`, with
/// `, unsupported` unless it is a PL011.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Uart<'a> {
    /// Its `compatible` list, most specific first (empty if the node has none).
    pub compatible: StringList<'a>,
    /// Its first `reg` entry, translated through the parent buses' `ranges`.
    pub regs: PhysRegion,
    /// `reg-shift`: registers are `1 << reg_shift` bytes apart (8250 binding); `None` if the
    /// node has none (the binding's default is 0).
    pub reg_shift: Option<u32>,
    /// `reg-io-width`: the access size in bytes (8250 binding); `None` if the node has none
    /// (the binding's default is 1).
    pub reg_io_width: Option<u32>,
}

impl Uart<'_> {
    /// Whether it is an `arm,pl011`, the one UART the kernel drives today.
    pub fn is_pl011(&self) -> bool {
        self.compatible.contains(PL011_COMPATIBLE)
    }
}

impl fmt::Display for Uart<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let compatible = self.compatible.first().unwrap_or("(no compatible)");
        write!(f, "console: {compatible} at {:#x}", self.regs.base())?;
        if !self.is_pl011() {
            write!(f, ", unsupported")?;
        }
        Ok(())
    }
}

/// The generic timer's per-CPU interrupts, as GIC interrupt ids (PPIs: 16..=31).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerInterrupts {
    /// Secure EL1 physical timer.
    pub secure_phys: u32,
    /// Non-secure EL1 physical timer.
    pub nonsecure_phys: u32,
    /// Virtual timer.
    pub virt: u32,
    /// EL2 (hypervisor) physical timer.
    pub hyp_phys: u32,
}

/// Everything the kernel learns from the DTB. [`super::discover`] guarantees the documented
/// invariants; the blob it borrows strings from must outlive it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform<'a> {
    /// RAM, from every `/memory*` node, in DTB order; never empty.
    pub memory: Vec<PhysRegion, MAX_MEMORY_REGIONS>,
    /// RAM not to touch: the `/memreserve/` entries, then the statically placed
    /// `/reserved-memory` children (those with a `reg`).
    pub reserved: Vec<PhysRegion, MAX_RESERVED_REGIONS>,
    /// The available CPUs the kernel can use, in DTB order; never empty, MPIDRs distinct.
    pub cpus: Vec<Cpu, { crate::MAX_CORES }>,
    /// The available CPUs left out of `cpus` for an unknown `enable-method`, in DTB order;
    /// their MPIDRs differ from each other and from those in `cpus`. Together with `cpus`, at
    /// most [`crate::MAX_CORES`].
    pub skipped_cpus: Vec<SkippedCpu<'a>, { crate::MAX_CORES }>,
    /// The PSCI conduit, if the tree has a PSCI 0.2+ node; present if any CPU uses PSCI.
    pub psci: Option<PsciConduit>,
    /// The interrupt controller.
    pub gic: Gic,
    /// The UART named by `/chosen/stdout-path`; `None` if the tree names none (no `/chosen`
    /// or no `stdout-path`: a bootloader usually adds it). The caller decides what to do
    /// without a console it can drive.
    pub console: Option<Uart<'a>>,
    /// The generic timer's interrupts.
    pub timer: TimerInterrupts,
    /// `/chosen/bootargs`, or `""` if there is none.
    pub bootargs: &'a str,
}

impl Platform<'_> {
    /// The MMIO regions the kernel must map as device memory: the interrupt controller's
    /// frames, then the console UART's registers if there is a console.
    pub fn device_regions(&self) -> impl Iterator<Item = PhysRegion> + '_ {
        let (distributor, cpu_frames) = match &self.gic {
            Gic::V2 {
                distributor,
                cpu_interface,
            } => (distributor, core::slice::from_ref(cpu_interface)),
            Gic::V3 {
                distributor,
                redistributors,
            } => (distributor, redistributors.as_slice()),
            Gic::Bcm2836Local { registers } => (registers, &[][..]),
        };
        iter::once(*distributor)
            .chain(cpu_frames.iter().copied())
            .chain(self.console.iter().map(|uart| uart.regs))
    }
}
