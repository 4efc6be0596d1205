//! What [`super::discover`] learns about the board: the [`Platform`] description and the
//! types it is made of. Fixed capacity, no allocation.

use core::fmt;
use core::iter;
use core::num::NonZeroU64;

use heapless::Vec;

use super::fdt::StringList;
use crate::platform::uart::UartConfig;

/// How many RAM regions [`Platform::memory`] holds.
pub const MAX_MEMORY_REGIONS: usize = 8;
/// How many reserved regions [`Platform::reserved`] holds. Debian's 577 arm64 board DTBs have
/// at most 44; a DTB with more is refused rather than trimmed, since a dropped reservation
/// could let the kernel overwrite firmware.
pub const MAX_RESERVED_REGIONS: usize = 128;
/// How many GICv3 redistributor regions [`Gic::V3`] holds (QEMU virt uses up to two).
pub const MAX_REDISTRIBUTOR_REGIONS: usize = 4;
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
    /// PSCI `CPU_ON`, through [`Platform::psci`] (if it is absent, the CPU cannot be started).
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

/// A UART node from the DTB, whether or not the kernel can drive it. A driver picks it by
/// [`Uart::compatible`] (see [`Uart::config`]); `Display` gives
/// `console: <compatible> at <base>`, with `, no driver` if no driver knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Uart<'a> {
    /// The node's name with its unit address (`serial@ff1a0000`).
    pub name: &'a str,
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

impl<'a> Uart<'a> {
    /// The console driver for this UART: the first `compatible` entry a family in
    /// `platform::uart` claims, with the node's register layout; `None` if none does (or the
    /// address does not fit a `usize`).
    pub fn config(&self) -> Option<UartConfig> {
        UartConfig::from_compatible(
            self.compatible.iter(),
            usize::try_from(self.regs.base()).ok()?,
            self.reg_shift,
            self.reg_io_width,
        )
    }

    /// Its first `compatible` entry, or `(no compatible)`.
    pub fn first_compatible(&self) -> &'a str {
        self.compatible.first().unwrap_or("(no compatible)")
    }
}

impl fmt::Display for Uart<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let compatible = self.first_compatible();
        write!(f, "console: {compatible} at {:#x}", self.regs.base())?;
        if self.config().is_none() {
            write!(f, ", no driver")?;
        }
        Ok(())
    }
}

/// How the DTB offers a console UART when `/chosen/stdout-path` names none the kernel can
/// drive: see [`Platform::serial`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SerialFound<'a> {
    /// The lowest-numbered `serialN` alias whose node is enabled and has a driver.
    Alias {
        /// The alias's name (`serial0`).
        alias: &'a str,
        /// The path it names.
        path: &'a str,
    },
    /// No such alias: the first enabled node, in DTB order, that a driver claims.
    FirstNode,
}

/// A UART the DTB offers besides `/chosen/stdout-path`, and which rule found it. Its
/// [`Uart::config`] is always `Some`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SerialUart<'a> {
    /// The UART.
    pub uart: Uart<'a>,
    /// The rule that found it.
    pub found: SerialFound<'a>,
}

/// Why a CPU in [`Platform::cpus`] cannot be started by the kernel. It may still be the boot
/// CPU, which is running already; any other such CPU stays off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CannotStart {
    /// Its node names no `enable-method`.
    NoEnableMethod,
    /// Its `enable-method` is `psci`, but the DTB has no PSCI 0.2+ node (on a real board the
    /// firmware adds one; without it there is no way to call `CPU_ON`).
    NoPsciNode,
}

impl fmt::Display for CannotStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoEnableMethod => write!(f, "no enable-method"),
            Self::NoPsciNode => write!(f, "enable-method psci, but the DTB has no /psci node"),
        }
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
    /// The PSCI conduit, if the tree has a PSCI 0.2+ node. Without one, no CPU whose
    /// enable method is PSCI can be started ([`Platform::cannot_start`]).
    pub psci: Option<PsciConduit>,
    /// The interrupt controller.
    pub gic: Gic,
    /// The UART named by `/chosen/stdout-path`; `None` if the tree names none (no `/chosen`
    /// or no `stdout-path`: a bootloader usually adds it). The caller decides what to do
    /// without a console it can drive: see [`Platform::choose_console`].
    pub console: Option<Uart<'a>>,
    /// Only when `console` is `None` or has no driver: the UART the first `serialN` alias names
    /// (lowest N, enabled, with a driver), else the first enabled UART node with a driver.
    pub serial: Option<SerialUart<'a>>,
    /// The generic timer's interrupts.
    pub timer: TimerInterrupts,
    /// `/chosen/bootargs`, or `""` if there is none.
    pub bootargs: &'a str,
}

impl Platform<'_> {
    /// Why `cpu`, one of [`Platform::cpus`], cannot be started; `None` if it can.
    pub fn cannot_start(&self, cpu: &Cpu) -> Option<CannotStart> {
        match cpu.enable_method {
            EnableMethod::Missing => Some(CannotStart::NoEnableMethod),
            EnableMethod::Psci if self.psci.is_none() => Some(CannotStart::NoPsciNode),
            EnableMethod::Psci | EnableMethod::SpinTable { .. } => None,
        }
    }

    /// The interrupt controller's MMIO regions, which the kernel maps as device memory (it
    /// maps the console it chose itself: [`Platform::choose_console`] may pick another UART
    /// than `stdout-path`'s).
    pub fn interrupt_controller_regions(&self) -> impl Iterator<Item = PhysRegion> + '_ {
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
        iter::once(*distributor).chain(cpu_frames.iter().copied())
    }
}
