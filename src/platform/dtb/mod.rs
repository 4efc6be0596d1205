//! Platform discovery: everything the kernel needs to know about the board, read from the
//! flattened device tree (DTB) that the loader passes in `x0`.
//!
//! [`blob_size`] turns the raw DTB pointer into a length; [`discover`] checks the blob with
//! the bounds-checked reader in `fdt` and collects RAM, reserved memory, CPUs, the PSCI
//! conduit, the GIC, the console UART, the generic timer's interrupts and the bootargs into a
//! fixed-capacity [`Platform`]. Nothing board-specific is hard-coded: a malformed or
//! unsupported tree is a [`DtbError`] naming what is wrong, never a panic, and every search is
//! a linear walk bounded by the blob's size.

mod console;
mod error;
mod fdt;
mod platform;

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;

use core::iter;
use core::num::NonZeroU64;

use heapless::Vec;

pub use console::{ConsoleChoice, ConsoleRule, StdoutProblem};
pub use error::{DtbError, Reason};
use fdt::{FDT_MAGIC, Fdt, MAX_DEPTH, Node, OFF_TOTALSIZE, Property, be32};
pub use fdt::{FdtError, HEADER_SIZE, StringList};
pub use platform::{
    CannotStart, Cpu, EnableMethod, Gic, MAX_MEMORY_REGIONS, MAX_REDISTRIBUTOR_REGIONS,
    MAX_RESERVED_REGIONS, PhysRegion, Platform, PsciConduit, SerialFound, SerialUart, SkippedCpu,
    TimerInterrupts, Uart,
};

/// The largest DTB [`blob_size`] accepts (QEMU pads its DTB to 1 MiB).
pub const MAX_BLOB_SIZE: usize = 2 << 20;

/// The MPIDR_EL1 affinity fields (Aff3, Aff2, Aff1, Aff0): the only bits a CPU's `reg` may set.
const MPIDR_AFFINITY_MASK: u64 = 0xff_00ff_ffff;
const GIC_V3_COMPATIBLE: &str = "arm,gic-v3";
/// GICv3, and the GICs with the GICv2 register interface (`arm,cortex-a9-gic` is its GICv1
/// subset), matched against every entry of a node's `compatible`: Qualcomm's
/// `qcom,msm8996-gic-v3` lists `arm,gic-v3` second, and `qcom,msm-qgic2` is a GICv2.
const GIC_COMPATIBLES: &[&str] = &[
    GIC_V3_COMPATIBLE,
    "arm,gic-400",
    "arm,cortex-a15-gic",
    "arm,cortex-a9-gic",
    "arm,cortex-a7-gic",
    "qcom,msm-qgic2",
];
/// The BCM2836 per-core interrupt controller (Raspberry Pi 2 and 3), used where there is no GIC.
const BCM2836_LOCAL_COMPATIBLE: &str = "brcm,bcm2836-l1-intc";
/// The bytes of the BCM2836 per-core controller's registers the kernel uses (up to the last
/// core's mailbox clear registers).
const BCM2836_LOCAL_REGISTERS_SIZE: u64 = 0x100;
/// Cells per BCM2836 per-core interrupt specifier: the local interrupt number, and flags.
const BCM2836_INTERRUPT_CELLS: u32 = 2;
/// The BCM2836's generic-timer interrupts are its local interrupts 0 to 3.
const BCM2836_TIMER_INTERRUPTS: u32 = 4;
const TIMER_COMPATIBLES: &[&str] = &["arm,armv8-timer", "arm,armv7-timer"];
/// PSCI 0.2 and later: the standard function ids. PSCI 0.1 (`arm,psci` alone) names its own
/// ids in the node, which this kernel does not read.
const PSCI_COMPATIBLES: &[&str] = &["arm,psci-1.0", "arm,psci-0.2"];
/// Cells per GIC interrupt specifier: type, number, flags, and for GICv3 optionally a fourth,
/// the PPI partition (0 for all CPUs).
const GIC_INTERRUPT_CELLS: [u32; 2] = [3, 4];
/// The GIC binding's interrupt type for a PPI.
const GIC_SPEC_PPI: u32 = 1;
/// PPI n is GIC interrupt id 16 + n, for n < 16.
const PPI_INTID_BASE: u32 = 16;
const PPI_COUNT: u32 = 16;
/// The specification's defaults for a node without `#address-cells` / `#size-cells`.
const DEFAULT_ADDRESS_CELLS: u32 = 2;
const DEFAULT_SIZE_CELLS: u32 = 1;
/// The most cells an address or size may have (what a `u128` holds; it must fit 64 bits).
const MAX_CELLS: u32 = 4;
/// How many `interrupt-parent` links the timer's parent is followed through.
const MAX_INTERRUPT_PARENT_HOPS: usize = 8;

/// Reads the DTB header at the start of `header` (at least [`HEADER_SIZE`] bytes): checks the
/// magic number and returns `totalsize`, which is within `HEADER_SIZE..=MAX_BLOB_SIZE`. Boot
/// code uses it to turn the raw `x0` pointer into a slice for [`discover`].
pub fn blob_size(header: &[u8]) -> Result<usize, DtbError> {
    let truncated = DtbError::HeaderTruncated {
        available: header.len(),
    };
    if header.len() < HEADER_SIZE {
        return Err(truncated);
    }
    let magic = be32(header, 0).ok_or(truncated.clone())?;
    if magic != FDT_MAGIC {
        return Err(DtbError::BadMagic { found: magic });
    }
    let totalsize = be32(header, OFF_TOTALSIZE).ok_or(truncated)?;
    usize::try_from(totalsize)
        .ok()
        .filter(|size| (HEADER_SIZE..=MAX_BLOB_SIZE).contains(size))
        .ok_or(DtbError::BadTotalSize { totalsize })
}

/// Parses the DTB at the start of `blob` (bytes past its `totalsize` are ignored) and collects
/// the [`Platform`]. Any malformed, missing or unsupported part the kernel needs is an `Err`;
/// a console it cannot drive, or none, is not (see [`Platform::console`]). Never panics.
pub fn discover(blob: &[u8]) -> Result<Platform<'_>, DtbError> {
    discover_with(blob, None)
}

/// [`discover`] as on a board whose bootloader adds a `/memory` node: where the DTB has no
/// non-empty `/memory`, `ram` is the RAM; otherwise the DTB's own. For host checks of board
/// DTBs (`cargo dtb`), which ship without one when the bootloader fills it in.
pub fn discover_assuming_memory(blob: &[u8], ram: PhysRegion) -> Result<Platform<'_>, DtbError> {
    discover_with(blob, Some(ram))
}

/// [`discover`], with `ram` standing in for a missing `/memory` if given.
fn discover_with(blob: &[u8], ram: Option<PhysRegion>) -> Result<Platform<'_>, DtbError> {
    let totalsize = blob_size(blob)?;
    let blob = blob.get(..totalsize).ok_or(DtbError::Truncated {
        totalsize,
        available: blob.len(),
    })?;
    let fdt = Fdt::new(blob).map_err(DtbError::Malformed)?;

    let (cpus, skipped_cpus) = cpus(&fdt)?;
    let psci = psci_conduit(&fdt)?;
    let (gic_node, gic) = find_interrupt_controller(&fdt)?;
    let reserved = reserved(&fdt)?;
    let console = console::stdout(&fdt)?;
    // The other UARTs are looked at only when stdout-path names none a driver knows.
    let serial = match console.and_then(|uart| uart.config()) {
        Some(_) => None,
        None => console::serial(&fdt),
    };
    let timer = timer_interrupts(&fdt, &gic_node, &gic)?;
    let bootargs = bootargs(&fdt)?;
    // Last, what a bootloader usually adds to a board's DTB: RAM.
    Ok(Platform {
        memory: memory(&fdt, ram)?,
        reserved,
        cpus,
        skipped_cpus,
        psci,
        gic,
        console,
        serial,
        timer,
        bootargs,
    })
}

/// A node with its ancestors, which translate its `reg` into CPU physical addresses.
struct Located<'a> {
    node: Node<'a>,
    /// The root first, the parent last; empty for the root.
    ancestors: Vec<Node<'a>, MAX_DEPTH>,
}

impl<'a> Located<'a> {
    /// This node's `reg` entries as CPU physical addresses; see [`regions`].
    fn regions(
        &self,
        name: &'static str,
    ) -> Result<impl Iterator<Item = Result<PhysRegion, DtbError>> + '_, DtbError> {
        regions(&self.node, &self.ancestors, name)
    }
}

/// The first node, in document order, that is `wanted`, with its ancestors.
fn find<'a>(fdt: &Fdt<'a>, mut wanted: impl FnMut(&Node<'a>) -> bool) -> Option<Located<'a>> {
    find_with_ancestors(fdt, |node, _| wanted(node))
}

/// The first node, in document order, that is `wanted` given its ancestors (the root first),
/// with its ancestors.
fn find_with_ancestors<'a>(
    fdt: &Fdt<'a>,
    mut wanted: impl FnMut(&Node<'a>, &[Node<'a>]) -> bool,
) -> Option<Located<'a>> {
    let mut path: Vec<Node<'a>, MAX_DEPTH> = Vec::new();
    for (depth, node) in fdt.nodes() {
        path.truncate(depth);
        if wanted(&node, &path) {
            return Some(Located {
                node,
                ancestors: path,
            });
        }
        path.push(node).ok()?;
    }
    None
}

/// The node at an absolute `path` (unit addresses optional, see [`Node::child`]).
fn find_path<'a>(fdt: &Fdt<'a>, path: &str) -> Option<Located<'a>> {
    if !path.starts_with('/') {
        return None;
    }
    let root = Located {
        node: fdt.root(),
        ancestors: Vec::new(),
    };
    path.split('/')
        .filter(|component| !component.is_empty())
        .try_fold(root, |mut located, component| {
            let child = located.node.child(component.as_bytes())?;
            located.ancestors.push(located.node).ok()?;
            located.node = child;
            Some(located)
        })
}

/// The node's `compatible` list, empty if it has none or an unreadable one.
fn compatible<'a>(node: &Node<'a>) -> StringList<'a> {
    node.property("compatible")
        .and_then(|property| property.as_string_list())
        .unwrap_or_default()
}

/// Whether the node's `status` is `okay` or `ok`, or absent; an unreadable status counts as
/// not.
fn is_available(node: &Node<'_>) -> bool {
    node.property("status")
        .is_none_or(|status| matches!(status.as_str(), Some("okay" | "ok")))
}

/// A string property's value, borrowed from the blob.
fn string_property<'a>(node: &Node<'a>, name: &str) -> Option<&'a str> {
    node.property(name)?.as_str()
}

/// A `#...-cells` property of `node`, `default` if absent, `None` if unreadable or larger
/// than [`MAX_CELLS`].
fn cell_count(node: &Node<'_>, name: &str, default: u32) -> Option<u32> {
    match node.property(name) {
        None => Some(default),
        Some(property) => property.as_u32().filter(|&cells| cells <= MAX_CELLS),
    }
}

/// The number in the next `count` cells, if they are there and it fits 64 bits.
fn read_number(cells: &mut impl Iterator<Item = u32>, count: u32) -> Option<u64> {
    let mut number: u128 = 0;
    for _ in 0..count {
        number = (number << 32) | u128::from(cells.next()?);
    }
    u64::try_from(number).ok()
}

/// The `reg` or `ranges` entries of `property`, `cells` cells each, as cell iterators; `None`
/// unless the value is a whole, non-zero number of entries.
fn entries<'a>(
    property: Property<'a>,
    cells: u32,
) -> Option<impl Iterator<Item = impl Iterator<Item = u32> + 'a> + 'a> {
    let entry_size = usize::try_from(cells).ok()?.checked_mul(4)?;
    let value = property.value();
    if entry_size == 0 || value.is_empty() || !value.len().is_multiple_of(entry_size) {
        return None;
    }
    Some(
        value
            .chunks_exact(entry_size)
            .map(|entry| entry.chunks_exact(4).filter_map(|cell| be32(cell, 0))),
    )
}

/// The entries of `node`'s `reg`, translated to CPU physical addresses through the `ranges` of
/// every bus in `ancestors` (root first, parent last). `name` names the node in errors.
fn regions<'a: 'r, 'r>(
    node: &Node<'a>,
    ancestors: &'r [Node<'a>],
    name: &'static str,
) -> Result<impl Iterator<Item = Result<PhysRegion, DtbError>> + 'r, DtbError> {
    let unusable = move || DtbError::BadProperty {
        node: name,
        property: "reg",
        expected: "address/size pairs that the parent buses' ranges map",
    };
    let parent = ancestors.last().ok_or_else(unusable)?;
    let address_cells = cell_count(parent, "#address-cells", DEFAULT_ADDRESS_CELLS)
        .filter(|&cells| cells > 0)
        .ok_or_else(unusable)?;
    let size_cells = cell_count(parent, "#size-cells", DEFAULT_SIZE_CELLS).ok_or_else(unusable)?;
    let reg = node.property("reg").ok_or_else(unusable)?;
    let entries = entries(reg, address_cells + size_cells).ok_or_else(unusable)?;
    Ok(entries.map(move |mut cells| {
        let address = read_number(&mut cells, address_cells);
        let size = read_number(&mut cells, size_cells);
        address
            .zip(size)
            .and_then(|(address, size)| translate(address, size, ancestors))
            .ok_or_else(unusable)
    }))
}

/// Maps `[base, base + size)`, an address on the bus `ancestors.last()`, through the `ranges`
/// of every bus between it and the root.
fn translate(mut base: u64, size: u64, ancestors: &[Node<'_>]) -> Option<PhysRegion> {
    for pair in ancestors.windows(2).rev() {
        let [parent, bus] = pair else { return None };
        base = bus_to_parent(bus, parent, base, size)?;
    }
    PhysRegion::new(base, size)
}

/// Translates `[base, base + size)` on `bus` into the address space of `parent`, its parent:
/// identity for an empty `ranges`, `None` for none (the bus is not memory-mapped) or no range
/// covering it.
fn bus_to_parent(bus: &Node<'_>, parent: &Node<'_>, base: u64, size: u64) -> Option<u64> {
    let ranges = bus.property("ranges")?;
    if ranges.value().is_empty() {
        return Some(base);
    }
    let child_cells = cell_count(bus, "#address-cells", DEFAULT_ADDRESS_CELLS)?;
    let parent_cells = cell_count(parent, "#address-cells", DEFAULT_ADDRESS_CELLS)?;
    let size_cells = cell_count(bus, "#size-cells", DEFAULT_SIZE_CELLS)?;
    entries(ranges, child_cells + parent_cells + size_cells)?.find_map(|mut cells| {
        let child = read_number(&mut cells, child_cells)?;
        let parent = read_number(&mut cells, parent_cells)?;
        let length = read_number(&mut cells, size_cells)?;
        let offset = base.checked_sub(child)?;
        if offset.checked_add(size)? <= length {
            parent.checked_add(offset)
        } else {
            None
        }
    })
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

/// The CPUs the kernel can use and those it skips.
type CpuLists<'a> = (
    Vec<Cpu, { crate::MAX_CORES }>,
    Vec<SkippedCpu<'a>, { crate::MAX_CORES }>,
);

/// The available CPUs under `/cpus` (`device_type = "cpu"`), in DTB order: those with a known
/// enable method (or none), and those skipped for an unknown one.
fn cpus<'a>(fdt: &Fdt<'a>) -> Result<CpuLists<'a>, DtbError> {
    let cpus_node = fdt
        .root()
        .child(b"cpus")
        .ok_or(DtbError::MissingNode("/cpus"))?;
    let address_cells = cell_count(&cpus_node, "#address-cells", DEFAULT_ADDRESS_CELLS)
        .filter(|&cells| cells > 0)
        .ok_or(DtbError::BadProperty {
            node: "/cpus",
            property: "#address-cells",
            expected: "1 or 2",
        })?;
    let is_cpu = |node: &Node<'_>| string_property(node, "device_type") == Some("cpu");
    let (mut cpus, mut skipped) = (Vec::new(), Vec::new());
    for (index, node) in cpus_node
        .children()
        .filter(|node| is_cpu(node) && is_available(node))
        .enumerate()
    {
        let cpu = cpu(index, &node, address_cells)?;
        let mpidr = match cpu {
            Ok(cpu) => cpu.mpidr,
            Err(skipped) => skipped.mpidr,
        };
        let taken = cpus.iter().map(|cpu: &Cpu| cpu.mpidr);
        if taken
            .chain(skipped.iter().map(|cpu: &SkippedCpu<'_>| cpu.mpidr))
            .any(|other| other == mpidr)
        {
            return Err(DtbError::DuplicateMpidr { mpidr });
        }
        let too_many = DtbError::TooManyCpus {
            limit: crate::MAX_CORES,
        };
        if cpus.len() + skipped.len() == crate::MAX_CORES {
            return Err(too_many);
        }
        match cpu {
            Ok(cpu) => cpus.push(cpu).map_err(|_| too_many)?,
            Err(cpu) => skipped.push(cpu).map_err(|_| too_many)?,
        }
    }
    if cpus.is_empty() {
        return Err(DtbError::NoCpus);
    }
    Ok((cpus, skipped))
}

/// The CPU that `node`, the `index`-th available CPU node, describes: `Ok` if the kernel can
/// use it, `Err` if its enable method is unknown. `address_cells` is `/cpus`'s.
fn cpu<'a>(
    index: usize,
    node: &Node<'a>,
    address_cells: u32,
) -> Result<Result<Cpu, SkippedCpu<'a>>, DtbError> {
    let unusable = |property, expected| DtbError::BadCpu {
        index,
        property,
        expected,
    };
    let mpidr = node
        .property("reg")
        .and_then(|reg| read_number(&mut reg.cells()?, address_cells))
        .filter(|mpidr| mpidr & !MPIDR_AFFINITY_MASK == 0)
        .ok_or_else(|| unusable("reg", "MPIDR affinity bits"))?;
    // An absent `enable-method` is `Missing`; a present but unreadable one is an error.
    let Some(method) = node.property("enable-method") else {
        return Ok(Ok(Cpu {
            mpidr,
            enable_method: EnableMethod::Missing,
        }));
    };
    let method = method
        .as_string_list()
        .and_then(|methods| methods.first())
        .ok_or_else(|| unusable("enable-method", "a string"))?;
    let enable_method = match method {
        "psci" => EnableMethod::Psci,
        "spin-table" => EnableMethod::SpinTable {
            release_addr: node
                .property("cpu-release-addr")
                .and_then(|address| address.as_u64())
                .and_then(NonZeroU64::new)
                .ok_or_else(|| unusable("cpu-release-addr", "a non-zero 64-bit address"))?,
        },
        _ => {
            return Ok(Err(SkippedCpu {
                mpidr,
                enable_method: method,
            }));
        }
    };
    Ok(Ok(Cpu {
        mpidr,
        enable_method,
    }))
}

/// The conduit of the PSCI 0.2+ node, or `None` if there is no such node. A `method` other
/// than exactly `"hvc"` or `"smc"` is refused.
fn psci_conduit(fdt: &Fdt<'_>) -> Result<Option<PsciConduit>, DtbError> {
    let Some(psci) = find(fdt, |node| compatible(node).contains_any(PSCI_COMPATIBLES)) else {
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

/// The interrupt controller: the first available node with a GIC compatible anywhere in its
/// list, else the first available BCM2836 per-core controller; with its node.
fn find_interrupt_controller<'a>(fdt: &Fdt<'a>) -> Result<(Located<'a>, Gic), DtbError> {
    if let Some(gic) = find(fdt, |node| {
        is_available(node) && compatible(node).contains_any(GIC_COMPATIBLES)
    }) {
        let description = interrupt_controller(&gic)?;
        return Ok((gic, description));
    }
    let local = find(fdt, |node| {
        is_available(node) && compatible(node).contains(BCM2836_LOCAL_COMPATIBLE)
    })
    .ok_or(DtbError::NoInterruptController)?;
    const NODE: &str = "brcm,bcm2836-l1-intc node";
    let registers = local
        .regions(NODE)?
        .next()
        .transpose()?
        .filter(|registers| registers.size() >= BCM2836_LOCAL_REGISTERS_SIZE)
        .ok_or(DtbError::BadProperty {
            node: NODE,
            property: "reg",
            expected: "a region of at least 0x100 bytes",
        })?;
    Ok((local, Gic::Bcm2836Local { registers }))
}

/// The GIC that `located` describes.
fn interrupt_controller(located: &Located<'_>) -> Result<Gic, DtbError> {
    const NODE: &str = "GIC node";
    let is_v3 = compatible(&located.node).contains(GIC_V3_COMPATIBLE);
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
    if !is_v3 {
        return Ok(Gic::V2 {
            distributor,
            cpu_interface: next_region()?,
        });
    }
    let count = match located.node.property("#redistributor-regions") {
        None => 1,
        Some(property) => {
            property
                .as_u32()
                .filter(|&count| count > 0)
                .ok_or(DtbError::BadProperty {
                    node: NODE,
                    property: "#redistributor-regions",
                    expected: "a count of at least 1",
                })?
        }
    };
    let mut redistributors = Vec::new();
    for _ in 0..count {
        push_region(&mut redistributors, next_region()?, "GIC redistributor")?;
    }
    Ok(Gic::V3 {
        distributor,
        redistributors,
    })
}

/// RAM: the non-empty `reg` entries of every available top-level `/memory*` node (or
/// `device_type = "memory"`). Empty ones are placeholders that a bootloader fills in; without
/// any non-empty one, `ram` if given.
fn memory(
    fdt: &Fdt<'_>,
    ram: Option<PhysRegion>,
) -> Result<Vec<PhysRegion, MAX_MEMORY_REGIONS>, DtbError> {
    const NODE: &str = "/memory";
    let is_memory = |node: &Node<'_>| {
        (node.name_without_address() == b"memory"
            || string_property(node, "device_type") == Some("memory"))
            && is_available(node)
    };
    let root = fdt.root();
    let mut memory = Vec::new();
    let has_reg = |node: &Node<'_>| {
        node.property("reg")
            .is_some_and(|reg| !reg.value().is_empty())
    };
    for node in root
        .children()
        .filter(|node| is_memory(node) && has_reg(node))
    {
        for region in regions(&node, &[root], NODE)? {
            let region = region?;
            if region.size() > 0 {
                push_region(&mut memory, region, "memory")?;
            }
        }
    }
    if memory.is_empty() {
        let ram = ram.ok_or(DtbError::MissingNode("non-empty /memory"))?;
        push_region(&mut memory, ram, "memory")?;
    }
    Ok(memory)
}

/// The `/memreserve/` entries, then the `reg` of every available `/reserved-memory` child that
/// has one (children with only a `size` are placed by the OS, so reserve nothing yet).
fn reserved(fdt: &Fdt<'_>) -> Result<Vec<PhysRegion, MAX_RESERVED_REGIONS>, DtbError> {
    const KIND: &str = "reserved";
    let mut reserved = Vec::new();
    for (address, size) in fdt.reservations() {
        let region = PhysRegion::new(address, size).ok_or(DtbError::BadProperty {
            node: "/memreserve/ block",
            property: "entry",
            expected: "address + size below 2^64",
        })?;
        push_region(&mut reserved, region, KIND)?;
    }
    let root = fdt.root();
    let Some(parent) = root.child(b"reserved-memory") else {
        return Ok(reserved);
    };
    let statically_placed = |node: &Node<'_>| is_available(node) && node.property("reg").is_some();
    for node in parent.children().filter(statically_placed) {
        for region in regions(&node, &[root, parent], "/reserved-memory child")? {
            push_region(&mut reserved, region?, KIND)?;
        }
    }
    Ok(reserved)
}

/// Whether the interrupt parent of `located` (its own or its nearest ancestor's
/// `interrupt-parent`, followed through non-controller nodes for at most
/// [`MAX_INTERRUPT_PARENT_HOPS`] links) is `gic`. A tree that names no interrupt parent at all
/// leaves the GIC as the only candidate.
fn interrupt_parent_is(fdt: &Fdt<'_>, located: &Located<'_>, gic: &Node<'_>) -> bool {
    let Some(link) = iter::once(&located.node)
        .chain(located.ancestors.iter().rev())
        .find_map(|node| node.property("interrupt-parent"))
    else {
        return true;
    };
    let mut phandle = link.as_u32();
    for _ in 0..MAX_INTERRUPT_PARENT_HOPS {
        let Some(parent) = phandle.and_then(|phandle| fdt.node_by_phandle(phandle)) else {
            return false;
        };
        if parent == *gic {
            return true;
        }
        if parent.property("interrupt-controller").is_some() {
            return false;
        }
        phandle = parent
            .property("interrupt-parent")
            .and_then(|link| link.as_u32());
    }
    false
}

/// The generic timer's PPIs, from its `interrupts` in the interrupt controller's format (the
/// controller being its interrupt parent) or its `interrupts-extended` (each entry naming the
/// controller). `kind` is what `gic` describes: a GIC's specifiers name PPIs; the BCM2836
/// per-core controller's name its local interrupts 0 to 3, which stand for PPIs 0 to 3.
fn timer_interrupts(
    fdt: &Fdt<'_>,
    gic: &Located<'_>,
    kind: &Gic,
) -> Result<TimerInterrupts, DtbError> {
    let is_gic = !matches!(kind, Gic::Bcm2836Local { .. });
    let (node, allowed_cells, expected): (_, &[u32], _) = if is_gic {
        ("GIC node", &GIC_INTERRUPT_CELLS, "3 or 4")
    } else {
        ("brcm,bcm2836-l1-intc node", &[BCM2836_INTERRUPT_CELLS], "2")
    };
    let interrupt_cells = gic
        .node
        .property("#interrupt-cells")
        .and_then(|property| property.as_u32())
        .filter(|cells| allowed_cells.contains(cells))
        .ok_or(DtbError::BadProperty {
            node,
            property: "#interrupt-cells",
            expected,
        })?;
    let timer = find(fdt, |node| compatible(node).contains_any(TIMER_COMPATIBLES))
        .ok_or(DtbError::MissingNode("arm,armv8-timer"))?;
    let extended = timer.node.property("interrupts").is_none();
    if !extended && !interrupt_parent_is(fdt, &timer, &gic.node) {
        return Err(DtbError::BadProperty {
            node: "timer node",
            property: "interrupt-parent",
            expected: "the GIC",
        });
    }
    let unusable = || DtbError::BadProperty {
        node: "timer node",
        property: "interrupts",
        expected: "four GIC PPI specifiers, or interrupts-extended naming the GIC",
    };
    // `interrupts` holds specifiers for the interrupt parent; `interrupts-extended` prefixes
    // each with its controller's phandle, which must be the GIC's.
    let (property, phandle_cells) = match timer.node.property("interrupts") {
        Some(interrupts) => (interrupts, 0),
        None => (
            timer
                .node
                .property("interrupts-extended")
                .ok_or_else(unusable)?,
            1,
        ),
    };
    let mut specifiers = entries(property, phandle_cells + interrupt_cells).ok_or_else(unusable)?;
    let mut next_ppi = || {
        specifiers
            .next()
            .and_then(|mut cells| {
                if phandle_cells == 1 {
                    let controller = fdt.node_by_phandle(cells.next()?)?;
                    (controller == gic.node).then_some(())?;
                }
                if is_gic {
                    ppi_intid(cells.next()?, cells.next()?)
                } else {
                    local_timer_intid(cells.next()?)
                }
            })
            .ok_or_else(unusable)
    };
    Ok(TimerInterrupts {
        secure_phys: next_ppi()?,
        nonsecure_phys: next_ppi()?,
        virt: next_ppi()?,
        hyp_phys: next_ppi()?,
    })
}

/// The GIC interrupt id of a `<type number ...>` specifier, if it is a PPI.
fn ppi_intid(kind: u32, number: u32) -> Option<u32> {
    (kind == GIC_SPEC_PPI && number < PPI_COUNT).then(|| PPI_INTID_BASE + number)
}

/// The interrupt id standing for BCM2836 local interrupt `number`, if it is a generic-timer
/// interrupt: the PPI of the same number.
fn local_timer_intid(number: u32) -> Option<u32> {
    (number < BCM2836_TIMER_INTERRUPTS).then(|| PPI_INTID_BASE + number)
}

/// `/chosen/bootargs`, or `""` without one.
fn bootargs<'a>(fdt: &Fdt<'a>) -> Result<&'a str, DtbError> {
    let Some(bootargs) = fdt
        .root()
        .child(b"chosen")
        .and_then(|chosen| chosen.property("bootargs"))
    else {
        return Ok("");
    };
    bootargs.as_str().ok_or(DtbError::BadProperty {
        node: "/chosen",
        property: "bootargs",
        expected: "a NUL-terminated UTF-8 string",
    })
}
