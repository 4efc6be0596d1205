//! The GIC: GICv2 or GICv3 through `arm-gic`, as the DTB describes it (one of the interrupt
//! controllers behind [`super::intc`]).
//!
//! One [`Controller`] serves every core. Its distributor is set up once by the boot core; each
//! core then sets up its own part ([`Controller::init_this_core`]): the banked GICv2 CPU
//! interface, or its GICv3 redistributor, found by matching `GICR_TYPER`'s affinity against the
//! core's MPIDR across every redistributor region (QEMU virt above 123 vCPUs has two; `arm-gic`'s
//! `GicV3` alone assumes one).

use core::ptr::NonNull;

use arm_gic::gicv2::GicV2;
use arm_gic::gicv3::registers::{Gicd, GicrSgi};
use arm_gic::gicv3::{
    GicCpuInterface, GicDistributor, GicRedistributor, GicRedistributorIterator, SgiTarget,
    SgiTargetGroup,
};
use arm_gic::{IntId, InterruptGroup, Trigger, UniqueMmioPointer};
use heapless::Vec;

use super::percpu;
use crate::platform::dtb::{MAX_REDISTRIBUTOR_REGIONS, PhysRegion};
use crate::sync::{IrqSpinLock, LockRank};

/// How often the fatal path tries the GICv2 driver's lock before it gives up on an SGI.
const FATAL_PATH_LOCK_TRIES: u32 = 1 << 16;

/// The lowest priority mask: every interrupt priority is let through.
const ALL_PRIORITIES: u8 = 0xff;

/// The GIC found in the DTB.
pub enum Controller {
    /// GICv2: distributor plus a CPU interface banked per core at one address. `arm-gic`'s
    /// driver must be the only one with those registers, so there is exactly one, shared by
    /// every core under a lock (its banked registers still reach each core's own bank).
    V2 {
        /// The distributor's base address.
        distributor: usize,
        /// The one driver instance, for every core.
        gic: IrqSpinLock<GicV2<'static>>,
    },
    /// GICv3: distributor plus one redistributor frame per core, in one or more regions.
    V3 {
        /// The distributor's base address.
        distributor: usize,
        /// Every region of redistributor frames the DTB lists.
        redistributor_regions: Vec<PhysRegion, MAX_REDISTRIBUTOR_REGIONS>,
    },
}

impl Controller {
    /// Describes a GICv2 with these frames; touches no register. Called once per system
    /// (the driver must be the only one with these registers).
    pub fn v2(distributor: PhysRegion, cpu_interface: PhysRegion) -> Self {
        Self::V2 {
            distributor: distributor.base() as usize,
            // The addresses come from the DTB and are mapped as device memory before any
            // register is touched; this is the only `GicV2` ever made for them.
            // SAFETY: so the driver has no alias, as `GicV2::new` requires.
            gic: IrqSpinLock::new(LockRank::InterruptController, unsafe {
                GicV2::new(
                    distributor.base() as usize as *mut _,
                    cpu_interface.base() as usize as *mut _,
                )
            }),
        }
    }

    /// Describes a GICv3 with these frames; touches no register.
    pub fn v3(
        distributor: PhysRegion,
        redistributors: Vec<PhysRegion, MAX_REDISTRIBUTOR_REGIONS>,
    ) -> Self {
        Self::V3 {
            distributor: distributor.base() as usize,
            redistributor_regions: redistributors,
        }
    }

    /// The GIC version (2 or 3), for the boot log.
    pub fn version(&self) -> u8 {
        match self {
            Self::V2 { .. } => 2,
            Self::V3 { .. } => 3,
        }
    }

    /// Sets up the distributor. Called once, by the boot core, before any other core starts.
    pub fn init_distributor(&self) {
        match *self {
            Self::V2 { .. } => {}
            Self::V3 { distributor, .. } => {
                let mut gicd = GicDistributor::new(Self::gicd_v3(distributor));
                gicd.configure_default_settings();
            }
        }
    }

    /// Sets up the calling core's part of the controller and unmasks every priority.
    ///
    /// # Panics
    /// If a GICv3 has no redistributor for this core's MPIDR (a DTB that lies).
    pub fn init_this_core(&self) {
        match self {
            Self::V2 { gic, .. } => {
                let mut gic = gic.lock();
                // Enables the distributor's group 0 (idempotent) and this core's banked
                // CPU interface, SGI and PPI group registers.
                gic.setup();
                gic.set_priority_mask(ALL_PRIORITIES);
            }
            Self::V3 { .. } => {
                let mut redistributor = self
                    .this_core_redistributor()
                    .expect("the DTB lists no GIC redistributor for this core");
                // Already awake after a warm restart (core offline, then online): fine.
                let _ = redistributor.mark_core_awake();
                redistributor.configure_default_settings();
                GicCpuInterface::enable_system_register_el1();
                GicCpuInterface::set_priority_mask(ALL_PRIORITIES);
                GicCpuInterface::enable_group1(true);
            }
        }
    }

    /// Enables interrupt `intid` (an SGI or a PPI) on the calling core, level-triggered for
    /// PPIs (the generic timer's output is a level).
    pub fn enable_private(&self, intid: IntId) {
        match self {
            Self::V2 { gic, .. } => {
                let mut gic = gic.lock();
                if intid.is_ppi() {
                    gic.set_trigger(intid, Trigger::Level);
                }
                gic.set_interrupt_priority(intid, 0x80);
                // Cannot fail: SGIs and PPIs are always valid INTIDs.
                gic.enable_interrupt(intid, true).unwrap();
            }
            Self::V3 { .. } => {
                let mut redistributor = self
                    .this_core_redistributor()
                    .expect("the DTB lists no GIC redistributor for this core");
                // Cannot fail: SGIs and PPIs are always valid for a redistributor.
                redistributor.enable_interrupt(intid, true).unwrap();
            }
        }
    }

    /// Acknowledges the highest-priority pending interrupt on this core, if any.
    pub fn acknowledge(&self) -> Option<IntId> {
        match self {
            // Without the security extensions the aliased (group 1) register reads as spurious:
            // acknowledge with the non-aliased one.
            Self::V2 { gic, .. } => gic
                .lock()
                .get_and_acknowledge_interrupt(InterruptGroup::Group0),
            Self::V3 { .. } => {
                GicCpuInterface::get_and_acknowledge_interrupt(InterruptGroup::Group1)
            }
        }
    }

    /// Signals the end of interrupt `intid`, which this core acknowledged.
    pub fn end(&self, intid: IntId) {
        match self {
            Self::V2 { gic, .. } => gic.lock().end_interrupt(intid, InterruptGroup::Group0),
            Self::V3 { .. } => GicCpuInterface::end_interrupt(intid, InterruptGroup::Group1),
        }
    }

    /// Sends SGI `sgi` (0..16) to the core whose MPIDR affinity is `target_mpidr`.
    ///
    /// GICv3 addresses it by Aff3.Aff2.Aff1 plus a bit for Aff0, so cores in any cluster are
    /// reachable; GICv2 by the target's CPU-interface mask (recorded when it came up).
    ///
    /// With `wait` false (the fatal path, which may have interrupted this very core inside the
    /// GICv2 driver) it gives up rather than wait for the driver's lock, and returns false.
    pub fn send_sgi(&self, sgi: u32, target_core: usize, wait: bool) -> bool {
        let target = percpu::core(target_core);
        match self {
            Self::V2 { gic, .. } => {
                let gic = if wait {
                    Some(gic.lock())
                } else {
                    (0..FATAL_PATH_LOCK_TRIES).find_map(|_| {
                        let gic = gic.try_lock();
                        if gic.is_none() {
                            core::hint::spin_loop();
                        }
                        gic
                    })
                };
                let Some(mut gic) = gic else {
                    return false;
                };
                // A uniprocessor GICv2 reads ITARGETSR as zero, so a core addresses itself with
                // the "self only" filter rather than its (unknown) mask.
                let target_list_filter = if target_core == super::cpu::core_id() {
                    arm_gic::gicv2::SgiTargetListFilter::ForwardSelfOnly
                } else {
                    arm_gic::gicv2::SgiTargetListFilter::CPUTargetList
                };
                gic.send_sgi(
                    IntId::sgi(sgi),
                    arm_gic::gicv2::SgiTarget::List {
                        target_list_filter,
                        target_list: u16::from(target.gic_v2_interface_mask()),
                    },
                );
            }
            Self::V3 { .. } => {
                let mpidr = target.mpidr();
                let [aff0, aff1, aff2, _, aff3, ..] = mpidr.to_le_bytes();
                GicCpuInterface::send_sgi(
                    IntId::sgi(sgi),
                    SgiTarget::List {
                        affinity3: aff3,
                        affinity2: aff2,
                        affinity1: aff1,
                        target_list: 1 << (aff0 & 0xf),
                    },
                    SgiTargetGroup::CurrentGroup1,
                )
                // Cannot fail: `IntId::sgi` always builds an SGI.
                .unwrap();
            }
        }
        true
    }

    /// This core's GICv2 CPU-interface mask, read from the banked `GICD_ITARGETSR0`.
    pub fn this_core_v2_interface_mask(&self) -> Option<u8> {
        match *self {
            Self::V2 { distributor, .. } => {
                let itargetsr0 = (distributor + 0x800) as *const u32;
                // SAFETY: GICD_ITARGETSR0 is a read-only, banked register of the distributor the
                // DTB described and the identity map maps as device memory; its low byte is the
                // calling core's own interface mask (GICv2 spec 4.3.12).
                let value = unsafe { itargetsr0.read_volatile() };
                Some(value as u8)
            }
            Self::V3 { .. } => None,
        }
    }

    fn gicd_v3(distributor: usize) -> UniqueMmioPointer<'static, Gicd> {
        // SAFETY: the distributor address comes from the DTB and is mapped as device memory;
        // only the boot core uses this pointer, once, before other cores start.
        unsafe { UniqueMmioPointer::new(NonNull::new(distributor as *mut Gicd).unwrap()) }
    }

    /// This core's redistributor frame. Found once, in [`Controller::init_this_core`], by
    /// matching GICR_TYPER's affinity against the core's MPIDR across every region, then
    /// remembered in the core's [`PerCore`](super::percpu::PerCore): a scan reads one register
    /// per frame, and with 512 cores that adds up.
    fn this_core_redistributor(&self) -> Option<GicRedistributor<'static>> {
        let Self::V3 {
            redistributor_regions,
            ..
        } = self
        else {
            return None;
        };
        let core = percpu::this_core();
        let frame = match core.gic_redistributor() {
            0 => {
                let mpidr = core.mpidr();
                let found = redistributor_regions.iter().find_map(|region| {
                    let base = NonNull::new(region.base() as *mut GicrSgi)?;
                    // Each region comes from the DTB's GICv3 `reg`, mapped as device memory.
                    // SAFETY: it runs until a frame with GICR_TYPER.Last; only read here.
                    let frames = unsafe { GicRedistributorIterator::new(base) }.ok()?;
                    let index = frames
                        .into_iter()
                        .position(|frame| frame.typer().core_mpidr() == mpidr)?;
                    Some(region.base() as usize + index * redistributor_stride(base))
                })?;
                core.set_gic_redistributor(found);
                found
            }
            known => known,
        };
        let frame = NonNull::new(frame as *mut GicrSgi)?;
        // `frame` is this core's own redistributor frame (matched by MPIDR), device memory.
        // SAFETY: no other core uses it, so this core's pointer is unique.
        Some(GicRedistributor::new(unsafe {
            UniqueMmioPointer::new(frame)
        }))
    }
}

/// Bytes from one redistributor frame to the next: two 64 KiB pages, or four when the
/// redistributor supports virtual LPIs (GICR_TYPER.VLPIS, GICv4).
fn redistributor_stride(first_frame: NonNull<GicrSgi>) -> usize {
    let typer = first_frame
        .as_ptr()
        .cast::<u8>()
        .wrapping_add(0x8)
        .cast::<u64>();
    // GICR_TYPER (offset 0x8) of a frame the DTB describes, mapped as device memory.
    // SAFETY: a read-only register; reading it has no side effect.
    let vlpis = unsafe { typer.read_volatile() } & (1 << 1) != 0;
    if vlpis { 0x40000 } else { 0x20000 }
}
