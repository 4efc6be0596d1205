//! The interrupt table: which handler serves each interrupt, the hooks the interrupt and
//! exception paths call, and each core's interrupt set-up.

use arm_gic::IntId;
use spin::Once;

use crate::arch::aarch64::hooks::{self, KernelHooks};
use crate::arch::aarch64::irq::{self, Sgi};
use crate::arch::aarch64::{intc, percpu, smp, stop};
use crate::platform::dtb::Platform;

/// The generic timer's PPI, as the DTB names it.
static TIMER_INTID: Once<IntId> = Once::new();

/// Records the interrupt IRQ entry reports to the core registry (the PC the monitor prints).
fn interrupt_entry(core: usize, pc: u64) {
    crate::registry::CORE_TABLE.publish_interrupt_pc(core, pc);
}

/// Registers every interrupt handler and the kernel's hooks; the boot core does it once,
/// before any core unmasks interrupts.
pub fn register_handlers(platform: &Platform) {
    let timer = IntId::ppi(platform.timer.virt - 16);
    TIMER_INTID.call_once(|| timer);
    let handlers: [(IntId, irq::Handler); 4] = [
        (IntId::sgi(Sgi::Call as u32), smp::handle_call),
        (IntId::sgi(Sgi::Stop as u32), stop::handle_stop),
        (
            IntId::sgi(Sgi::Reschedule as u32),
            crate::sched::scheduler::handle_reschedule,
        ),
        (timer, crate::sched::scheduler::handle_timer_interrupt),
    ];
    for (intid, handler) in handlers {
        // Cannot fail: each id is registered once, here, and all are in range.
        irq::register(intid, handler).unwrap();
    }
    hooks::install(KernelHooks {
        interrupt_entry,
        interrupt_exit: crate::sched::scheduler::interrupt_exit,
        fatal: super::fatal,
        task_name: crate::sched::current_task_name,
    });
}

/// Sets up the calling core's part of the interrupt controller and enables its private
/// interrupts, and turns its timer event stream on.
pub fn init_this_core() {
    crate::arch::aarch64::timer::enable_event_stream();
    let controller = intc::controller();
    controller.init_this_core();
    if let Some(mask) = controller.this_core_v2_interface_mask() {
        percpu::this_core().set_gic_v2_interface_mask(mask);
    }
    for sgi in [Sgi::Call, Sgi::Stop, Sgi::Reschedule] {
        irq::enable_private(IntId::sgi(sgi as u32));
    }
    irq::enable_private(
        *TIMER_INTID
            .get()
            .expect("registered before any core enables it"),
    );
}
