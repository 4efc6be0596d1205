//! The system's interrupt controller, whichever the DTB describes, behind one interface: a GIC
//! (`gic.rs`) or the Raspberry Pi 2/3's BCM2836 per-core controller
//! (`bcm2836.rs`). The code above it deals in interrupt ids (SGIs 0..16, PPIs
//! 16..32) and core indexes only; it never learns which controller delivers them.

use arm_gic::IntId;

use super::bcm2836::LocalController;
use super::gic;
use crate::platform::dtb::Gic as Description;

/// The interrupt controller found in the DTB.
pub enum Controller {
    /// A GICv2 or GICv3.
    Gic(gic::Controller),
    /// The BCM2836 per-core controller: timer lines and mailboxes per core, no GIC.
    Bcm2836(LocalController),
}

impl Controller {
    /// Describes the controller; touches no register.
    pub fn new(description: &Description) -> Self {
        match description {
            Description::V2 {
                distributor,
                cpu_interface,
            } => Self::Gic(gic::Controller::v2(*distributor, *cpu_interface)),
            Description::V3 {
                distributor,
                redistributors,
            } => Self::Gic(gic::Controller::v3(*distributor, redistributors.clone())),
            Description::Bcm2836Local { registers } => {
                Self::Bcm2836(LocalController::new(registers.base() as usize))
            }
        }
    }

    /// Its name, for the boot log: `GICv2`, `GICv3` or `BCM2836 per-core controller`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Gic(gic) if gic.version() == 2 => "GICv2",
            Self::Gic(_) => "GICv3",
            Self::Bcm2836(_) => "BCM2836 per-core controller",
        }
    }

    /// Sets up what every core shares. Called once, by the boot core, before any other core
    /// starts.
    pub fn init_global(&self) {
        match self {
            Self::Gic(gic) => gic.init_distributor(),
            Self::Bcm2836(local) => local.init_global(),
        }
    }

    /// Sets up the calling core's part of the controller, letting every priority through.
    pub fn init_this_core(&self) {
        match self {
            Self::Gic(gic) => gic.init_this_core(),
            // Everything per core is in its enable registers, set by `enable_private`.
            Self::Bcm2836(_) => {}
        }
    }

    /// Enables interrupt `intid` (an SGI or a PPI) on the calling core.
    pub fn enable_private(&self, intid: IntId) {
        match self {
            Self::Gic(gic) => gic.enable_private(intid),
            Self::Bcm2836(local) => local.enable_private(intid),
        }
    }

    /// Takes the calling core's next pending interrupt, if any; [`Controller::end`] must
    /// follow once it is handled.
    pub fn acknowledge(&self) -> Option<IntId> {
        match self {
            Self::Gic(gic) => gic.acknowledge(),
            Self::Bcm2836(local) => local.acknowledge(),
        }
    }

    /// Ends interrupt `intid`, which this core acknowledged and handled.
    pub fn end(&self, intid: IntId) {
        match self {
            Self::Gic(gic) => gic.end(intid),
            // The mailbox bit was cleared when it was taken; a timer line drops when the
            // timer is re-armed or disarmed.
            Self::Bcm2836(_) => {}
        }
    }

    /// Sends SGI `sgi` (0..16) to core `target_core` (DTB order). With `wait` false (the fatal
    /// path) it gives up rather than wait for a driver lock this core may hold. Returns whether
    /// it was sent.
    pub fn send_sgi(&self, sgi: u32, target_core: usize, wait: bool) -> bool {
        match self {
            Self::Gic(gic) => gic.send_sgi(sgi, target_core, wait),
            Self::Bcm2836(local) => local.send_sgi(sgi, target_core),
        }
    }

    /// This core's GICv2 CPU-interface mask (only a GICv2 has one).
    pub fn this_core_v2_interface_mask(&self) -> Option<u8> {
        match self {
            Self::Gic(gic) => gic.this_core_v2_interface_mask(),
            Self::Bcm2836(_) => None,
        }
    }
}

static CONTROLLER: spin::Once<Controller> = spin::Once::new();

/// Installs the system's interrupt controller; the boot core does it once.
pub fn init(controller: Controller) -> &'static Controller {
    CONTROLLER.call_once(|| controller)
}

/// The system's interrupt controller.
///
/// # Panics
/// Before [`init`].
pub fn controller() -> &'static Controller {
    CONTROLLER
        .get()
        .expect("the interrupt controller is set up before interrupts are used")
}
