//! Platform discovery: everything the kernel needs to know about the board, read from the
//! flattened device tree (DTB) that the loader passes in `x0`.
//!
//! [`blob_size`] turns the raw DTB pointer into a length; [`discover`] parses the blob with
//! `dtoolkit` and collects RAM, reserved memory, CPUs, the PSCI conduit, the GIC, the console
//! UART, the generic timer's interrupts and the bootargs into a fixed-capacity [`Platform`].
//! Nothing board-specific is hard-coded: a malformed or unsupported tree is a [`DtbError`]
//! naming what is wrong, never a panic.

use core::fmt;
use core::iter;
use core::num::NonZeroU64;

use dtoolkit::error::FdtParseError;
use dtoolkit::fdt::{Fdt, FdtNode};
use dtoolkit::standard::{NodeStandard, Reg, Status};
use dtoolkit::{Cells, Node, Property, ToCellInt};
use heapless::Vec;

/// Size of the FDT header: [`blob_size`] needs this many bytes.
pub const HEADER_SIZE: usize = 40;
/// The largest DTB [`blob_size`] accepts (QEMU pads its DTB to 1 MiB).
pub const MAX_BLOB_SIZE: usize = 2 << 20;
/// How many RAM regions [`Platform::memory`] holds.
pub const MAX_MEMORY_REGIONS: usize = 8;
/// How many reserved regions [`Platform::reserved`] holds.
pub const MAX_RESERVED_REGIONS: usize = 16;
/// How many GICv3 redistributor regions [`Gic::V3`] holds (QEMU virt uses up to two).
pub const MAX_REDISTRIBUTOR_REGIONS: usize = 4;

/// The FDT magic number, big-endian at offset 0.
const FDT_MAGIC: u32 = 0xd00d_feed;
/// Offset of the header's `totalsize` field.
const TOTALSIZE_OFFSET: usize = 4;
/// How deep below the root a searched node may sit; deeper nodes are not looked at, which
/// bounds the recursion on hostile input.
const MAX_DEPTH: usize = 8;
/// The MPIDR_EL1 affinity fields (Aff3, Aff2, Aff1, Aff0): the only bits a CPU's `reg` may set.
const MPIDR_AFFINITY_MASK: u64 = 0xff_00ff_ffff;
const GIC_V3_COMPATIBLE: &str = "arm,gic-v3";
/// GICv3, and the GICv2 implementations that share the GICv2 register interface.
const GIC_COMPATIBLES: &[&str] = &[
    GIC_V3_COMPATIBLE,
    "arm,gic-400",
    "arm,cortex-a15-gic",
    "arm,cortex-a9-gic",
    "arm,cortex-a7-gic",
];
const TIMER_COMPATIBLES: &[&str] = &["arm,armv8-timer", "arm,armv7-timer"];
/// PSCI 0.2 and later: the standard function ids. PSCI 0.1 (`arm,psci` alone) names its own
/// ids in the node, which this kernel does not read.
const PSCI_COMPATIBLES: &[&str] = &["arm,psci-1.0", "arm,psci-0.2"];
const UART_COMPATIBLE: &str = "arm,pl011";
/// Cells per interrupt specifier of the GIC binding: type, number, flags.
const GIC_INTERRUPT_CELLS: u32 = 3;
/// The GIC binding's interrupt type for a PPI.
const GIC_SPEC_PPI: u32 = 1;
/// PPI n is GIC interrupt id 16 + n, for n < 16.
const PPI_INTID_BASE: u32 = 16;
const PPI_COUNT: u32 = 16;

/// Why a DTB could not be used. `Display` gives a one-line message naming the problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DtbError {
    /// Fewer than [`HEADER_SIZE`] bytes were given to read the header from.
    HeaderTruncated {
        /// How many bytes there were.
        available: usize,
    },
    /// The blob does not start with the FDT magic number.
    BadMagic {
        /// The first four bytes, big-endian.
        found: u32,
    },
    /// The header's `totalsize` is below [`HEADER_SIZE`] or above [`MAX_BLOB_SIZE`].
    BadTotalSize {
        /// The header's `totalsize`.
        totalsize: u32,
    },
    /// The blob is shorter than its header's `totalsize`.
    Truncated {
        /// The header's `totalsize`.
        totalsize: usize,
        /// How many bytes there were.
        available: usize,
    },
    /// `dtoolkit` rejected the blob's structure.
    Malformed(FdtParseError),
    /// A node the kernel needs is absent.
    MissingNode(&'static str),
    /// A property the kernel needs is absent, malformed or has an unsupported value.
    BadProperty {
        /// Which node, in words.
        node: &'static str,
        /// The property's name.
        property: &'static str,
        /// What a usable value looks like.
        expected: &'static str,
    },
    /// A CPU node's property is absent, malformed or has an unsupported value.
    BadCpu {
        /// Position of the CPU node among the available ones, in DTB order, from 0.
        index: usize,
        /// The property's name.
        property: &'static str,
        /// What a usable value looks like.
        expected: &'static str,
    },
    /// `/cpus` lists no available CPU.
    NoCpus,
    /// `/cpus` lists more CPUs than the kernel has tables for.
    TooManyCpus {
        /// The kernel's limit, [`crate::MAX_CORES`].
        limit: usize,
    },
    /// Two CPU nodes have the same MPIDR.
    DuplicateMpidr {
        /// The repeated MPIDR.
        mpidr: u64,
    },
    /// No GICv2 or GICv3 node was found.
    NoInterruptController,
    /// The console named by `/chosen/stdout-path` is not an `arm,pl011`.
    UnsupportedUart,
    /// More regions of one kind than the fixed capacity holds.
    TooManyRegions {
        /// Which kind of region, in words.
        kind: &'static str,
        /// The capacity.
        limit: usize,
    },
}

impl fmt::Display for DtbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HeaderTruncated { available } => write!(
                f,
                "DTB header truncated: {available} of {HEADER_SIZE} bytes"
            ),
            Self::BadMagic { found } => write!(
                f,
                "not a DTB: magic {found:#010x}, expected {FDT_MAGIC:#010x}"
            ),
            Self::BadTotalSize { totalsize } => write!(
                f,
                "DTB totalsize {totalsize} outside {HEADER_SIZE}..={MAX_BLOB_SIZE}"
            ),
            Self::Truncated {
                totalsize,
                available,
            } => write!(
                f,
                "DTB truncated: header says {totalsize} bytes, {available} available"
            ),
            Self::Malformed(error) => write!(f, "malformed DTB: {error}"),
            Self::MissingNode(node) => write!(f, "DTB has no {node} node"),
            Self::BadProperty {
                node,
                property,
                expected,
            } => write!(
                f,
                "DTB {node}: `{property}` missing or unusable (expected {expected})"
            ),
            Self::BadCpu {
                index,
                property,
                expected,
            } => write!(
                f,
                "DTB CPU node #{index}: `{property}` missing or unusable (expected {expected})"
            ),
            Self::NoCpus => write!(f, "DTB /cpus lists no available CPU"),
            Self::TooManyCpus { limit } => {
                write!(f, "DTB lists more than {limit} CPUs, the kernel's limit")
            }
            Self::DuplicateMpidr { mpidr } => {
                write!(f, "DTB lists MPIDR {mpidr:#x} for two CPUs")
            }
            Self::NoInterruptController => write!(
                f,
                "DTB has no supported interrupt controller (GICv2 or arm,gic-v3)"
            ),
            Self::UnsupportedUart => write!(f, "DTB stdout-path UART is not an arm,pl011"),
            Self::TooManyRegions { kind, limit } => {
                write!(f, "DTB has more than {limit} {kind} regions")
            }
        }
    }
}

/// A range of physical addresses. `base + size` never exceeds 2^64, so [`PhysRegion::end`]
/// cannot overflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhysRegion {
    base: u64,
    size: u64,
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

/// The SMCCC conduit for PSCI calls, from `/psci` `method`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PsciConduit {
    /// `HVC #0`: firmware at EL2 (QEMU entering the kernel at EL1).
    Hvc,
    /// `SMC #0`: firmware at EL3 (QEMU with `virtualization=on` entering at EL2).
    Smc,
}

/// The interrupt controller and its MMIO frames.
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

/// Everything the kernel learns from the DTB. [`discover`] guarantees the documented
/// invariants; the blob it borrows `bootargs` from must outlive it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform<'a> {
    /// RAM, from every `/memory*` node, in DTB order; never empty.
    pub memory: Vec<PhysRegion, MAX_MEMORY_REGIONS>,
    /// RAM not to touch: the `/memreserve/` entries, then the statically placed
    /// `/reserved-memory` children (those with a `reg`).
    pub reserved: Vec<PhysRegion, MAX_RESERVED_REGIONS>,
    /// The available CPUs in DTB order; never empty, MPIDRs distinct.
    pub cpus: Vec<Cpu, { crate::MAX_CORES }>,
    /// The PSCI conduit, if the tree has a PSCI 0.2+ node; present if any CPU uses PSCI.
    pub psci: Option<PsciConduit>,
    /// The interrupt controller.
    pub gic: Gic,
    /// The PL011 UART named by `/chosen/stdout-path`.
    pub uart: PhysRegion,
    /// The generic timer's interrupts.
    pub timer: TimerInterrupts,
    /// `/chosen/bootargs`, or `""` if there is none.
    pub bootargs: &'a str,
}

impl Platform<'_> {
    /// The MMIO regions the kernel must map as device memory: the GIC's frames, then the UART.
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
        };
        iter::once(*distributor)
            .chain(cpu_frames.iter().copied())
            .chain(iter::once(self.uart))
    }
}

/// Reads the DTB header at the start of `header` (at least [`HEADER_SIZE`] bytes): checks the
/// magic number and returns `totalsize`, which is within `HEADER_SIZE..=MAX_BLOB_SIZE`. Boot
/// code uses it to turn the raw `x0` pointer into a slice for [`discover`].
pub fn blob_size(header: &[u8]) -> Result<usize, DtbError> {
    let header = header
        .first_chunk::<HEADER_SIZE>()
        .ok_or(DtbError::HeaderTruncated {
            available: header.len(),
        })?;
    let field = |offset: usize| {
        u32::from_be_bytes([
            header[offset],
            header[offset + 1],
            header[offset + 2],
            header[offset + 3],
        ])
    };
    let magic = field(0);
    if magic != FDT_MAGIC {
        return Err(DtbError::BadMagic { found: magic });
    }
    let totalsize = field(TOTALSIZE_OFFSET);
    usize::try_from(totalsize)
        .ok()
        .filter(|size| (HEADER_SIZE..=MAX_BLOB_SIZE).contains(size))
        .ok_or(DtbError::BadTotalSize { totalsize })
}

/// Parses the DTB at the start of `blob` (bytes past its `totalsize` are ignored) and collects
/// the [`Platform`]. Any malformed, missing or unsupported part is an `Err`; this never panics.
pub fn discover(blob: &[u8]) -> Result<Platform<'_>, DtbError> {
    let totalsize = blob_size(blob)?;
    let blob = blob.get(..totalsize).ok_or(DtbError::Truncated {
        totalsize,
        available: blob.len(),
    })?;
    let fdt = Fdt::new(blob).map_err(DtbError::Malformed)?;

    let cpus = cpus(fdt)?;
    let psci = psci_conduit(fdt)?;
    let uses_psci = cpus
        .iter()
        .any(|cpu| cpu.enable_method == EnableMethod::Psci);
    if uses_psci && psci.is_none() {
        return Err(DtbError::MissingNode("PSCI 0.2+ (/psci)"));
    }
    let (gic, gic_node) = interrupt_controller(fdt)?;
    Ok(Platform {
        memory: memory(fdt)?,
        reserved: reserved(fdt)?,
        cpus,
        psci,
        gic,
        uart: stdout_uart(fdt)?,
        timer: timer_interrupts(fdt, gic_node)?,
        bootargs: bootargs(fdt)?,
    })
}

/// A node with its ancestors, which translate its `reg` into CPU physical addresses.
#[derive(Clone)]
struct Located<'a> {
    node: FdtNode<'a>,
    /// The root first, the parent last.
    ancestors: Vec<FdtNode<'a>, MAX_DEPTH>,
}

impl<'a> Located<'a> {
    fn root(fdt: Fdt<'a>) -> Self {
        Self {
            node: fdt.root(),
            ancestors: Vec::new(),
        }
    }

    /// Moves to `child`, a child of this node; `None` past [`MAX_DEPTH`].
    fn descend(mut self, child: FdtNode<'a>) -> Option<Self> {
        self.ancestors.push(self.node).ok()?;
        self.node = child;
        Some(self)
    }

    /// This node's `reg` entries as CPU physical addresses; see [`regions`].
    fn regions(
        &self,
        name: &'static str,
    ) -> Result<impl Iterator<Item = Result<PhysRegion, DtbError>> + '_, DtbError> {
        regions(self.node, &self.ancestors, name)
    }
}

/// The entries of `node`'s `reg`, translated to CPU physical addresses through the `ranges` of
/// every bus in `ancestors` (root first, parent last). `name` names the node in errors.
fn regions<'a: 'r, 'r>(
    node: FdtNode<'a>,
    ancestors: &'r [FdtNode<'a>],
    name: &'static str,
) -> Result<impl Iterator<Item = Result<PhysRegion, DtbError>> + 'r, DtbError> {
    let unusable = move || DtbError::BadProperty {
        node: name,
        property: "reg",
        expected: "address/size pairs that the parent buses' ranges map",
    };
    let entries = node.reg().ok().flatten().ok_or_else(unusable)?;
    Ok(entries.map(move |reg| translate(reg, ancestors).ok_or_else(unusable)))
}

/// Maps a `reg` entry through the `ranges` of every bus between the node and the root.
fn translate(reg: Reg<'_>, ancestors: &[FdtNode<'_>]) -> Option<PhysRegion> {
    let size: u64 = reg.size().ok()?;
    let mut base: u64 = reg.address().ok()?;
    for bus in ancestors.iter().skip(1).rev() {
        base = bus_to_parent(*bus, base, size)?;
    }
    PhysRegion::new(base, size)
}

/// Translates `[base, base + size)` on `bus` into its parent's address space: identity for an
/// empty `ranges`, `None` for none (the bus is not memory-mapped) or no range covering it.
fn bus_to_parent(bus: FdtNode<'_>, base: u64, size: u64) -> Option<u64> {
    if bus.property("ranges")?.value().is_empty() {
        return Some(base);
    }
    bus.ranges().ok()??.find_map(|range| {
        let child: u64 = range.child_bus_address().ok()?;
        let parent: u64 = range.parent_bus_address().ok()?;
        let length: u64 = range.length().ok()?;
        let offset = base.checked_sub(child)?;
        if offset.checked_add(size)? <= length {
            parent.checked_add(offset)
        } else {
            None
        }
    })
}

/// The first node, depth first from `located`, compatible with one of `compatibles`.
fn find_compatible<'a>(located: Located<'a>, compatibles: &[&str]) -> Option<Located<'a>> {
    if compatibles
        .iter()
        .any(|compatible| located.node.is_compatible(compatible))
    {
        return Some(located);
    }
    located
        .node
        .children()
        .find_map(|child| find_compatible(located.clone().descend(child)?, compatibles))
}

/// The node at an absolute `path` (unit addresses optional, as `dtoolkit` matches them).
fn find_path<'a>(fdt: Fdt<'a>, path: &str) -> Option<Located<'a>> {
    if !path.starts_with('/') {
        return None;
    }
    path.split('/')
        .filter(|component| !component.is_empty())
        .try_fold(Located::root(fdt), |located, component| {
            let child = located.node.child(component)?;
            located.descend(child)
        })
}

/// Whether the node's `status` is `okay` (or absent); an unreadable status counts as not.
fn is_available(node: &FdtNode<'_>) -> bool {
    matches!(node.status(), Ok(Status::Okay))
}

/// A string property's value, borrowed from the blob.
fn string_property<'a>(node: &FdtNode<'a>, name: &str) -> Option<&'a str> {
    node.property(name)?.value_as::<&str>().ok()
}

/// Appends `region`, or says that more `kind` regions exist than fit.
fn push_region<const N: usize>(
    regions: &mut Vec<PhysRegion, N>,
    region: PhysRegion,
    kind: &'static str,
) -> Result<(), DtbError> {
    regions
        .push(region)
        .map_err(|_| DtbError::TooManyRegions { kind, limit: N })
}

/// The available CPUs under `/cpus`, in DTB order.
fn cpus(fdt: Fdt<'_>) -> Result<Vec<Cpu, { crate::MAX_CORES }>, DtbError> {
    let cpus_node = fdt.cpus().map_err(|_| DtbError::MissingNode("/cpus"))?;
    let mut cpus = Vec::new();
    for (index, node) in cpus_node
        .cpus()
        .filter(|node| is_available(node))
        .enumerate()
    {
        let cpu = cpu(index, node)?;
        if cpus.iter().any(|other: &Cpu| other.mpidr == cpu.mpidr) {
            return Err(DtbError::DuplicateMpidr { mpidr: cpu.mpidr });
        }
        cpus.push(cpu).map_err(|_| DtbError::TooManyCpus {
            limit: crate::MAX_CORES,
        })?;
    }
    if cpus.is_empty() {
        return Err(DtbError::NoCpus);
    }
    Ok(cpus)
}

/// The CPU that `node`, the `index`-th available CPU node, describes.
fn cpu(index: usize, node: dtoolkit::standard::Cpu<FdtNode<'_>>) -> Result<Cpu, DtbError> {
    let unusable = |property, expected| DtbError::BadCpu {
        index,
        property,
        expected,
    };
    let mpidr = node
        .ids()
        .ok()
        .and_then(|mut ids| ids.next())
        .and_then(|id| id.to_int::<u64>().ok())
        .filter(|mpidr| mpidr & !MPIDR_AFFINITY_MASK == 0)
        .ok_or_else(|| unusable("reg", "MPIDR affinity bits"))?;
    // An absent `enable-method` is `Missing`; a present but unreadable one is an error.
    let first_method = node
        .property("enable-method")
        .map(|_| node.enable_method().and_then(|mut methods| methods.next()));
    let enable_method = match first_method {
        None => EnableMethod::Missing,
        Some(Some("psci")) => EnableMethod::Psci,
        Some(Some("spin-table")) => EnableMethod::SpinTable {
            release_addr: node
                .cpu_release_addr()
                .ok()
                .flatten()
                .and_then(NonZeroU64::new)
                .ok_or_else(|| unusable("cpu-release-addr", "a non-zero 64-bit address"))?,
        },
        Some(_) => return Err(unusable("enable-method", "\"psci\" or \"spin-table\"")),
    };
    Ok(Cpu {
        mpidr,
        enable_method,
    })
}

/// The conduit of the PSCI 0.2+ node, or `None` if there is no such node.
fn psci_conduit(fdt: Fdt<'_>) -> Result<Option<PsciConduit>, DtbError> {
    let Some(psci) = find_compatible(Located::root(fdt), PSCI_COMPATIBLES) else {
        return Ok(None);
    };
    match string_property(&psci.node, "method") {
        Some("hvc") => Ok(Some(PsciConduit::Hvc)),
        Some("smc") => Ok(Some(PsciConduit::Smc)),
        _ => Err(DtbError::BadProperty {
            node: "/psci",
            property: "method",
            expected: "\"hvc\" or \"smc\"",
        }),
    }
}

/// The GIC and its node, whose `#interrupt-cells` the timer's specifiers follow.
fn interrupt_controller(fdt: Fdt<'_>) -> Result<(Gic, FdtNode<'_>), DtbError> {
    const NODE: &str = "GIC node";
    let located = find_compatible(Located::root(fdt), GIC_COMPATIBLES)
        .ok_or(DtbError::NoInterruptController)?;
    let is_v3 = located.node.is_compatible(GIC_V3_COMPATIBLE);
    let missing = || DtbError::BadProperty {
        node: NODE,
        property: "reg",
        expected: if is_v3 {
            "distributor and #redistributor-regions redistributor regions"
        } else {
            "distributor and CPU interface regions"
        },
    };
    let mut regions = located.regions(NODE)?;
    let mut next_region = || regions.next().ok_or_else(missing)?;
    let distributor = next_region()?;
    let gic = if is_v3 {
        let count = match located.node.property("#redistributor-regions") {
            None => 1,
            Some(property) => property
                .value_as::<u32>()
                .ok()
                .filter(|&count| count > 0)
                .ok_or(DtbError::BadProperty {
                    node: NODE,
                    property: "#redistributor-regions",
                    expected: "a count of at least 1",
                })?,
        };
        let mut redistributors = Vec::new();
        for _ in 0..count {
            push_region(&mut redistributors, next_region()?, "GIC redistributor")?;
        }
        Gic::V3 {
            distributor,
            redistributors,
        }
    } else {
        Gic::V2 {
            distributor,
            cpu_interface: next_region()?,
        }
    };
    Ok((gic, located.node))
}

/// RAM: the `reg` entries of every top-level `/memory*` node (or `device_type = "memory"`).
fn memory(fdt: Fdt<'_>) -> Result<Vec<PhysRegion, MAX_MEMORY_REGIONS>, DtbError> {
    const NODE: &str = "/memory node";
    let is_memory = |node: &FdtNode<'_>| {
        node.name_without_address() == "memory"
            || string_property(node, "device_type") == Some("memory")
    };
    let root = fdt.root();
    let mut memory = Vec::new();
    for node in root.children().filter(is_memory) {
        for region in regions(node, &[root], NODE)? {
            push_region(&mut memory, region?, "memory")?;
        }
    }
    if memory.is_empty() {
        return Err(DtbError::MissingNode(NODE));
    }
    Ok(memory)
}

/// The `/memreserve/` entries, then the `reg` of every available `/reserved-memory` child that
/// has one (children with only a `size` are placed by the OS, so reserve nothing yet).
fn reserved(fdt: Fdt<'_>) -> Result<Vec<PhysRegion, MAX_RESERVED_REGIONS>, DtbError> {
    const KIND: &str = "reserved";
    let mut reserved = Vec::new();
    for entry in fdt.memory_reservations() {
        let region =
            PhysRegion::new(entry.address(), entry.size()).ok_or(DtbError::BadProperty {
                node: "/memreserve/ block",
                property: "entry",
                expected: "address + size below 2^64",
            })?;
        push_region(&mut reserved, region, KIND)?;
    }
    let Some(parent) = fdt.find_node("/reserved-memory") else {
        return Ok(reserved);
    };
    let statically_placed =
        |node: &FdtNode<'_>| is_available(node) && node.property("reg").is_some();
    for node in parent.children().filter(statically_placed) {
        for region in regions(node, &[fdt.root(), parent], "/reserved-memory child")? {
            push_region(&mut reserved, region?, KIND)?;
        }
    }
    Ok(reserved)
}

/// The UART named by `/chosen/stdout-path`: a path or an alias, with optional `:options`.
fn stdout_uart(fdt: Fdt<'_>) -> Result<PhysRegion, DtbError> {
    const NODE: &str = "UART node";
    let unusable = || DtbError::BadProperty {
        node: "/chosen",
        property: "stdout-path",
        expected: "the path or alias of an existing node",
    };
    let chosen = fdt
        .find_node("/chosen")
        .ok_or(DtbError::MissingNode("/chosen"))?;
    let stdout = string_property(&chosen, "stdout-path").ok_or_else(unusable)?;
    let name = stdout
        .split_once(':')
        .map_or(stdout, |(name, _options)| name);
    let path = if name.starts_with('/') {
        name
    } else {
        fdt.find_node("/aliases")
            .and_then(|aliases| string_property(&aliases, name))
            .ok_or_else(unusable)?
    };
    let uart = find_path(fdt, path).ok_or_else(unusable)?;
    if !uart.node.is_compatible(UART_COMPATIBLE) {
        return Err(DtbError::UnsupportedUart);
    }
    uart.regions(NODE)?.next().ok_or(DtbError::BadProperty {
        node: NODE,
        property: "reg",
        expected: "an address/size pair",
    })?
}

/// The generic timer's PPIs, from its `interrupts` in the GIC's three-cell format.
fn timer_interrupts(fdt: Fdt<'_>, gic: FdtNode<'_>) -> Result<TimerInterrupts, DtbError> {
    let interrupt_cells = gic
        .property("#interrupt-cells")
        .and_then(|property| property.value_as::<u32>().ok());
    if interrupt_cells != Some(GIC_INTERRUPT_CELLS) {
        return Err(DtbError::BadProperty {
            node: "GIC node",
            property: "#interrupt-cells",
            expected: "3",
        });
    }
    let timer = find_compatible(Located::root(fdt), TIMER_COMPATIBLES)
        .ok_or(DtbError::MissingNode("arm,armv8-timer"))?;
    let unusable = || DtbError::BadProperty {
        node: "timer node",
        property: "interrupts",
        expected: "four GIC PPI specifiers",
    };
    let mut specifiers = timer
        .node
        .property("interrupts")
        .and_then(|property| property.as_prop_encoded_array([1, 1, 1]).ok())
        .ok_or_else(unusable)?;
    let mut next_ppi = || {
        specifiers
            .next()
            .and_then(|[kind, number, _flags]| ppi_intid(kind, number))
            .ok_or_else(unusable)
    };
    Ok(TimerInterrupts {
        secure_phys: next_ppi()?,
        nonsecure_phys: next_ppi()?,
        virt: next_ppi()?,
        hyp_phys: next_ppi()?,
    })
}

/// The GIC interrupt id of a `<type number flags>` specifier, if it is a PPI.
fn ppi_intid(kind: Cells<'_>, number: Cells<'_>) -> Option<u32> {
    let kind: u32 = kind.to_int().ok()?;
    let number: u32 = number.to_int().ok()?;
    (kind == GIC_SPEC_PPI && number < PPI_COUNT).then(|| PPI_INTID_BASE + number)
}

/// `/chosen/bootargs`, or `""` without one.
fn bootargs(fdt: Fdt<'_>) -> Result<&str, DtbError> {
    let Some(bootargs) = fdt
        .find_node("/chosen")
        .and_then(|chosen| chosen.property("bootargs"))
    else {
        return Ok("");
    };
    bootargs
        .value_as::<&str>()
        .map_err(|_| DtbError::BadProperty {
            node: "/chosen",
            property: "bootargs",
            expected: "a NUL-terminated UTF-8 string",
        })
}

#[cfg(test)]
mod corpus;

#[cfg(test)]
mod tests {
    use super::*;

    const GICV3_SMP1: &[u8] = include_bytes!("../../../tests/data/virt-gicv3-smp1.dtb");
    const GICV3_SMP4: &[u8] = include_bytes!("../../../tests/data/virt-gicv3-smp4.dtb");
    const GICV3_SMP124: &[u8] = include_bytes!("../../../tests/data/virt-gicv3-smp124.dtb");
    const GICV3_SMP512: &[u8] = include_bytes!("../../../tests/data/virt-gicv3-smp512.dtb");
    const GICV2_SMP8: &[u8] = include_bytes!("../../../tests/data/virt-gicv2-smp8.dtb");
    const GICV3_EL2_SMP4: &[u8] = include_bytes!("../../../tests/data/virt-gicv3-el2-smp4.dtb");
    const GICV3_BOOTARGS: &[u8] = include_bytes!("../../../tests/data/virt-gicv3-bootargs.dtb");
    const BOARD_SPIN_TABLE: &[u8] = include_bytes!("../../../tests/data/board-spin-table.dtb");
    const TOO_MANY_CPUS: &[u8] = include_bytes!("../../../tests/data/too-many-cpus.dtb");

    /// Every saved DTB, with how many corrupted variants of it the fuzz test tries (fewer for
    /// the big ones, to keep the test file fast in debug builds).
    const ALL: &[(&str, &[u8], usize)] = &[
        ("virt-gicv3-smp1", GICV3_SMP1, 6_000),
        ("virt-gicv3-smp4", GICV3_SMP4, 6_000),
        ("virt-gicv3-smp124", GICV3_SMP124, 1_500),
        ("virt-gicv3-smp512", GICV3_SMP512, 300),
        ("virt-gicv2-smp8", GICV2_SMP8, 6_000),
        ("virt-gicv3-el2-smp4", GICV3_EL2_SMP4, 6_000),
        ("virt-gicv3-bootargs", GICV3_BOOTARGS, 6_000),
        ("board-spin-table", BOARD_SPIN_TABLE, 10_000),
        ("too-many-cpus", TOO_MANY_CPUS, 300),
    ];

    fn region(base: u64, size: u64) -> PhysRegion {
        PhysRegion::new(base, size).unwrap()
    }

    /// QEMU virt's fixed layout, which the tests (not the code) know.
    const VIRT_GICD: PhysRegion = PhysRegion {
        base: 0x800_0000,
        size: 0x1_0000,
    };
    const VIRT_GICR: PhysRegion = PhysRegion {
        base: 0x80a_0000,
        size: 0xf6_0000,
    };
    const VIRT_GICR_HIGH: PhysRegion = PhysRegion {
        base: 0x40_0000_0000,
        size: 0x400_0000,
    };
    const VIRT_UART: PhysRegion = PhysRegion {
        base: 0x900_0000,
        size: 0x1000,
    };
    /// QEMU virt's timer PPIs 13, 14, 11, 10.
    const VIRT_TIMER: TimerInterrupts = TimerInterrupts {
        secure_phys: 29,
        nonsecure_phys: 30,
        virt: 27,
        hyp_phys: 26,
    };

    /// The MPIDR QEMU virt gives vCPU `index`: 16 per cluster with GICv3, 8 with GICv2.
    fn virt_mpidr(index: u64, cluster_size: u64) -> u64 {
        ((index / cluster_size) << 8) | (index % cluster_size)
    }

    fn assert_virt_cpus(platform: &Platform<'_>, count: u64, cluster_size: u64) {
        let mpidrs: std::vec::Vec<u64> = platform.cpus.iter().map(|cpu| cpu.mpidr).collect();
        let expected: std::vec::Vec<u64> = (0..count)
            .map(|index| virt_mpidr(index, cluster_size))
            .collect();
        assert_eq!(mpidrs, expected);
        let method = if count == 1 {
            EnableMethod::Missing
        } else {
            EnableMethod::Psci
        };
        assert!(platform.cpus.iter().all(|cpu| cpu.enable_method == method));
    }

    fn gicv3(redistributors: &[PhysRegion]) -> Gic {
        Gic::V3 {
            distributor: VIRT_GICD,
            redistributors: Vec::from_slice(redistributors).unwrap(),
        }
    }

    /// `blob` with `from` (which must occur exactly once) replaced by `to`, of the same length.
    fn patched(blob: &[u8], from: &[u8], to: &[u8]) -> std::vec::Vec<u8> {
        assert_eq!(from.len(), to.len());
        let positions: std::vec::Vec<usize> = blob
            .windows(from.len())
            .enumerate()
            .filter(|(_, window)| *window == from)
            .map(|(position, _)| position)
            .collect();
        assert_eq!(positions.len(), 1, "{:?}", String::from_utf8_lossy(from));
        let mut blob = blob.to_vec();
        blob[positions[0]..positions[0] + to.len()].copy_from_slice(to);
        blob
    }

    fn discover_err(blob: &[u8]) -> DtbError {
        discover(blob).expect_err("the DTB should be rejected")
    }

    #[test]
    fn blob_size_reads_totalsize() {
        for &(name, blob, _) in ALL {
            assert_eq!(blob_size(blob), Ok(blob.len()), "{name}");
            assert_eq!(blob_size(&blob[..HEADER_SIZE]), Ok(blob.len()), "{name}");
        }
    }

    #[test]
    fn blob_size_rejects_bad_headers() {
        assert_eq!(
            blob_size(&GICV3_SMP1[..HEADER_SIZE - 1]),
            Err(DtbError::HeaderTruncated { available: 39 })
        );
        let mut header = GICV3_SMP1[..HEADER_SIZE].to_vec();
        header[0] = 0xd1;
        assert_eq!(
            blob_size(&header),
            Err(DtbError::BadMagic { found: 0xd10d_feed })
        );
        for totalsize in [0, 39, MAX_BLOB_SIZE as u32 + 1, u32::MAX] {
            header[..8].copy_from_slice(
                &[0xd0, 0x0d, 0xfe, 0xed]
                    .into_iter()
                    .chain(totalsize.to_be_bytes())
                    .collect::<std::vec::Vec<u8>>(),
            );
            assert_eq!(
                blob_size(&header),
                Err(DtbError::BadTotalSize { totalsize })
            );
        }
    }

    #[test]
    fn gicv3_single_cpu() {
        let platform = discover(GICV3_SMP1).unwrap();
        assert_virt_cpus(&platform, 1, 16);
        assert_eq!(platform.memory.as_slice(), [region(0x4000_0000, 1 << 30)]);
        assert!(platform.reserved.is_empty());
        assert_eq!(platform.psci, Some(PsciConduit::Hvc));
        assert_eq!(platform.gic, gicv3(&[VIRT_GICR]));
        assert_eq!(platform.uart, VIRT_UART);
        assert_eq!(platform.timer, VIRT_TIMER);
        assert_eq!(platform.bootargs, "");
    }

    #[test]
    fn gicv3_four_cpus() {
        let platform = discover(GICV3_SMP4).unwrap();
        assert_virt_cpus(&platform, 4, 16);
        assert_eq!(platform.gic, gicv3(&[VIRT_GICR]));
        assert_eq!(platform.psci, Some(PsciConduit::Hvc));
        assert_eq!(
            platform.device_regions().collect::<std::vec::Vec<_>>(),
            [VIRT_GICD, VIRT_GICR, VIRT_UART]
        );
    }

    #[test]
    fn gicv3_124_cpus_have_two_redistributor_regions() {
        let platform = discover(GICV3_SMP124).unwrap();
        assert_virt_cpus(&platform, 124, 16);
        assert_eq!(platform.cpus[16].mpidr, 0x100);
        assert_eq!(platform.cpus[123].mpidr, 0x70b);
        assert_eq!(platform.gic, gicv3(&[VIRT_GICR, VIRT_GICR_HIGH]));
        assert_eq!(
            platform.device_regions().collect::<std::vec::Vec<_>>(),
            [VIRT_GICD, VIRT_GICR, VIRT_GICR_HIGH, VIRT_UART]
        );
    }

    #[test]
    fn gicv3_512_cpus() {
        let platform = discover(GICV3_SMP512).unwrap();
        assert_virt_cpus(&platform, 512, 16);
        assert_eq!(platform.cpus[511].mpidr, 0x1f0f);
        assert_eq!(platform.memory.as_slice(), [region(0x4000_0000, 2 << 30)]);
        assert_eq!(platform.gic, gicv3(&[VIRT_GICR, VIRT_GICR_HIGH]));
        assert_eq!(platform.timer, VIRT_TIMER);
    }

    #[test]
    fn gicv2_eight_cpus() {
        let platform = discover(GICV2_SMP8).unwrap();
        assert_virt_cpus(&platform, 8, 8);
        let cpu_interface = region(0x801_0000, 0x1_0000);
        assert_eq!(
            platform.gic,
            Gic::V2 {
                distributor: VIRT_GICD,
                cpu_interface,
            }
        );
        assert_eq!(
            platform.device_regions().collect::<std::vec::Vec<_>>(),
            [VIRT_GICD, cpu_interface, VIRT_UART]
        );
        assert_eq!(platform.timer, VIRT_TIMER);
    }

    #[test]
    fn virtualization_uses_smc() {
        let platform = discover(GICV3_EL2_SMP4).unwrap();
        assert_eq!(platform.psci, Some(PsciConduit::Smc));
        assert_virt_cpus(&platform, 4, 16);
    }

    #[test]
    fn bootargs_come_from_chosen() {
        let platform = discover(GICV3_BOOTARGS).unwrap();
        assert_eq!(platform.bootargs, "test=all log=debug");
        let args = crate::platform::bootargs::parse(platform.bootargs).unwrap();
        assert_eq!(args.log_level, log::LevelFilter::Debug);
    }

    #[test]
    fn board_with_bus_translation_spin_table_and_reservations() {
        let platform = discover(BOARD_SPIN_TABLE).unwrap();
        assert_eq!(
            platform.memory.as_slice(),
            [
                region(0, 0x3b40_0000),
                region(0x4000_0000, 0x4000_0000),
                region(0x8000_0000, 0x1000_0000),
            ]
        );
        // The /memreserve/ entry, then the one static, enabled /reserved-memory child.
        assert_eq!(
            platform.reserved.as_slice(),
            [region(0, 0x1000), region(0x3b30_0000, 0x10_0000)]
        );
        let spin_table = |release_addr| EnableMethod::SpinTable {
            release_addr: NonZeroU64::new(release_addr).unwrap(),
        };
        assert_eq!(
            platform.cpus.as_slice(),
            [
                Cpu {
                    mpidr: 0,
                    enable_method: spin_table(0xd8),
                },
                Cpu {
                    mpidr: 0x1_0000_0000,
                    enable_method: spin_table(0xe0),
                },
            ]
        );
        assert_eq!(platform.psci, None);
        // /soc maps 0x7e000000.. to 0xfe000000.. and 0x40000000.. to 0xff800000..
        assert_eq!(
            platform.gic,
            Gic::V2 {
                distributor: region(0xff84_1000, 0x1000),
                cpu_interface: region(0xff84_2000, 0x2000),
            }
        );
        assert_eq!(platform.uart, region(0xfe20_1000, 0x200));
        assert_eq!(platform.timer, VIRT_TIMER);
        assert_eq!(
            platform.bootargs,
            "console=ttyAMA0 log=warn  test=sched::,boot::cores_online"
        );
    }

    #[test]
    fn padding_and_trailing_bytes_are_accepted() {
        let expected = discover(GICV3_SMP4).unwrap();
        let mut padded = GICV3_SMP4.to_vec();
        padded.resize(1 << 20, 0);
        padded[4..8].copy_from_slice(&(1u32 << 20).to_be_bytes());
        assert_eq!(discover(&padded), Ok(expected.clone()));
        let mut trailing = GICV3_SMP4.to_vec();
        trailing.extend_from_slice(&[0xff; 100]);
        assert_eq!(discover(&trailing), Ok(expected));
    }

    #[test]
    fn rejects_more_cpus_than_max_cores() {
        assert_eq!(
            discover_err(TOO_MANY_CPUS),
            DtbError::TooManyCpus {
                limit: crate::MAX_CORES
            }
        );
    }

    #[test]
    fn rejects_missing_or_unsupported_parts() {
        /// A saved DTB, a byte string in it, its same-length replacement, the error expected.
        type Case = (&'static [u8], &'static [u8], &'static [u8], DtbError);
        let cases: &[Case] = &[
            (
                GICV3_SMP1,
                b"cpus\0",
                b"cpuz\0",
                DtbError::MissingNode("/cpus"),
            ),
            (
                GICV3_SMP1,
                b"arm,gic-v3\0",
                b"arm,gic-v9\0",
                DtbError::NoInterruptController,
            ),
            (
                GICV3_SMP1,
                b"arm,pl011\0",
                b"arm,pl012\0",
                DtbError::UnsupportedUart,
            ),
            (
                GICV3_SMP1,
                b"hvc\0",
                b"svc\0",
                DtbError::BadProperty {
                    node: "/psci",
                    property: "method",
                    expected: "\"hvc\" or \"smc\"",
                },
            ),
            (
                GICV3_SMP4,
                b"arm,psci-1.0\0arm,psci-0.2\0",
                b"arm,psci-1.x\0arm,psci-0.x\0",
                DtbError::MissingNode("PSCI 0.2+ (/psci)"),
            ),
            (
                GICV3_SMP1,
                b"arm,armv8-timer\0arm,armv7-timer\0",
                b"arm,armv8-timex\0arm,armv7-timex\0",
                DtbError::MissingNode("arm,armv8-timer"),
            ),
            (
                GICV3_SMP1,
                b"#interrupt-cells\0",
                b"#interrupt-cellz\0",
                DtbError::BadProperty {
                    node: "GIC node",
                    property: "#interrupt-cells",
                    expected: "3",
                },
            ),
            (
                GICV3_SMP1,
                b"stdout-path\0",
                b"stdout-patx\0",
                DtbError::BadProperty {
                    node: "/chosen",
                    property: "stdout-path",
                    expected: "the path or alias of an existing node",
                },
            ),
            (
                BOARD_SPIN_TABLE,
                b"serial0\0",
                b"serialX\0",
                DtbError::BadProperty {
                    node: "/chosen",
                    property: "stdout-path",
                    expected: "the path or alias of an existing node",
                },
            ),
            (
                BOARD_SPIN_TABLE,
                b"cpu-release-addr\0",
                b"cpu-release-adds\0",
                DtbError::BadCpu {
                    index: 0,
                    property: "cpu-release-addr",
                    expected: "a non-zero 64-bit address",
                },
            ),
            (
                BOARD_SPIN_TABLE,
                &[0, 0, 0, 0, 0, 0, 0, 0xd8],
                &[0; 8],
                DtbError::BadCpu {
                    index: 0,
                    property: "cpu-release-addr",
                    expected: "a non-zero 64-bit address",
                },
            ),
            // Without `ranges`, /soc is not memory-mapped: its devices cannot be reached.
            (
                BOARD_SPIN_TABLE,
                b"ranges\0",
                b"rangez\0",
                DtbError::BadProperty {
                    node: "GIC node",
                    property: "reg",
                    expected: "address/size pairs that the parent buses' ranges map",
                },
            ),
        ];
        for (blob, from, to, expected) in cases {
            let name = String::from_utf8_lossy(from);
            assert_eq!(&discover_err(&patched(blob, from, to)), expected, "{name}");
        }
    }

    #[test]
    fn rejects_missing_memory() {
        let blob = patched(GICV3_SMP1, b"memory@40000000\0", b"memorx@40000000\0");
        let blob = patched(&blob, b"memory\0", b"memorx\0");
        assert_eq!(discover_err(&blob), DtbError::MissingNode("/memory node"));
    }

    #[test]
    fn rejects_duplicate_mpidrs() {
        // The third CPU repeats the second's MPIDR but is disabled; renaming `status` enables it.
        assert!(discover(BOARD_SPIN_TABLE).is_ok());
        let blob = patched(BOARD_SPIN_TABLE, b"status\0", b"statuz\0");
        assert_eq!(
            discover_err(&blob),
            DtbError::DuplicateMpidr {
                mpidr: 0x1_0000_0000
            }
        );
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let messages = [
            (DtbError::BadMagic { found: 0 }, "magic 0x00000000"),
            (
                DtbError::Truncated {
                    totalsize: 100,
                    available: 50,
                },
                "truncated",
            ),
            (DtbError::MissingNode("/cpus"), "no /cpus node"),
            (
                DtbError::NoInterruptController,
                "no supported interrupt controller",
            ),
            (DtbError::TooManyCpus { limit: 512 }, "more than 512 CPUs"),
            (DtbError::UnsupportedUart, "not an arm,pl011"),
            (
                DtbError::BadCpu {
                    index: 3,
                    property: "reg",
                    expected: "MPIDR affinity bits",
                },
                "CPU node #3: `reg`",
            ),
        ];
        for (error, fragment) in messages {
            let message = error.to_string();
            assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
        }
        let malformed = discover_err(&patched(GICV3_SMP1, b"cpus\0", b"cp!s\0"));
        assert!(matches!(malformed, DtbError::Malformed(_)), "{malformed:?}");
        assert!(malformed.to_string().starts_with("malformed DTB: "));
    }

    /// `Platform` lives in a static on the board; 512 CPUs of 24 bytes make most of it.
    #[test]
    fn platform_stays_small() {
        assert!(core::mem::size_of::<Platform<'_>>() <= 13 * 1024);
    }

    /// A xorshift64 generator: deterministic corruption without extra crates.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, bound: usize) -> usize {
            (self.next() % bound as u64) as usize
        }
    }

    /// Corrupts one place (half the time, so that more variants get past dtoolkit's structural
    /// checks into discovery) or 2 to 8: a flipped bit, a random byte, or an edge-case
    /// big-endian word (lengths, offsets, cell counts and FDT tokens are all 32-bit words).
    fn corrupt(blob: &mut [u8], rng: &mut XorShift) {
        const WORDS: [u32; 10] = [
            0,
            1,
            2,
            3,
            4,
            9,
            0x7fff_ffff,
            0x8000_0000,
            0xffff_fffe,
            u32::MAX,
        ];
        let places = if rng.below(2) == 0 {
            1
        } else {
            2 + rng.below(7)
        };
        for _ in 0..places {
            let at = rng.below(blob.len());
            match rng.below(3) {
                0 => blob[at] ^= 1 << rng.below(8),
                1 => blob[at] = rng.next() as u8,
                _ => {
                    let at = at & !3;
                    if at + 4 <= blob.len() {
                        let word = WORDS[rng.below(WORDS.len())].to_be_bytes();
                        blob[at..at + 4].copy_from_slice(&word);
                    }
                }
            }
        }
    }

    /// What `discover` promises about any platform it returns.
    fn check_invariants(platform: &Platform<'_>) {
        assert!(!platform.cpus.is_empty());
        assert!(!platform.memory.is_empty());
        for (index, cpu) in platform.cpus.iter().enumerate() {
            assert_eq!(cpu.mpidr & !MPIDR_AFFINITY_MASK, 0);
            assert!(
                platform.cpus[..index]
                    .iter()
                    .all(|other| other.mpidr != cpu.mpidr)
            );
        }
        if let Gic::V3 { redistributors, .. } = &platform.gic {
            assert!(!redistributors.is_empty());
        }
        let timer = platform.timer;
        for intid in [
            timer.secure_phys,
            timer.nonsecure_phys,
            timer.virt,
            timer.hyp_phys,
        ] {
            assert!((16..32).contains(&intid));
        }
    }

    #[test]
    fn corrupted_blobs_never_panic() {
        let mut rng = XorShift(0x5eed_d7b0_c0de_cafe);
        let mut accepted = 0;
        let mut rejected = 0;
        for &(_, blob, variants) in ALL {
            let mut copy = blob.to_vec();
            for _ in 0..variants {
                copy.copy_from_slice(blob);
                corrupt(&mut copy, &mut rng);
                match discover(&copy) {
                    Ok(platform) => {
                        check_invariants(&platform);
                        accepted += 1;
                    }
                    Err(error) => {
                        assert!(!error.to_string().is_empty());
                        rejected += 1;
                    }
                }
            }
        }
        // Both outcomes are common: the corruption reaches past dtoolkit's structural checks.
        assert!(
            accepted > 1_000 && rejected > 1_000,
            "{accepted} accepted, {rejected} rejected"
        );
    }

    #[test]
    fn truncated_blobs_are_rejected() {
        const OFF_DT_STRUCT: usize = 8;
        const OFF_DT_STRINGS: usize = 12;
        const SIZE_DT_STRINGS: usize = 32;
        const SIZE_DT_STRUCT: usize = 36;
        let word =
            |blob: &[u8], at: usize| u32::from_be_bytes(blob[at..at + 4].try_into().unwrap());
        let set_word = |blob: &mut [u8], at: usize, value: u32| {
            blob[at..at + 4].copy_from_slice(&value.to_be_bytes());
        };
        for &(name, blob, _) in ALL {
            let step = 1 + blob.len() / 4_000;
            for len in (0..blob.len()).step_by(step) {
                let cut = &blob[..len];
                assert!(discover(cut).is_err(), "{name} cut to {len}");
                if len < HEADER_SIZE {
                    continue;
                }
                // The same cut with a header that claims it, its blocks shrunk to what is
                // left, so that the parser meets the truncated structure or strings itself.
                let mut relabelled = cut.to_vec();
                let len32 = len as u32;
                set_word(&mut relabelled, TOTALSIZE_OFFSET, len32);
                for (offset, size) in [
                    (OFF_DT_STRUCT, SIZE_DT_STRUCT),
                    (OFF_DT_STRINGS, SIZE_DT_STRINGS),
                ] {
                    let left = len32.saturating_sub(word(cut, offset));
                    let shrunk = word(cut, size).min(left);
                    set_word(&mut relabelled, size, shrunk);
                }
                assert!(discover(&relabelled).is_err(), "{name} relabelled to {len}");
            }
        }
    }
}
