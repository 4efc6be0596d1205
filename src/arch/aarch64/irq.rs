//! Interrupt dispatch: handlers registered per interrupt id, run with IRQs masked.
//!
//! The IRQ vector saves the interrupted thread's whole state on its own stack and calls
//! `handle_irq`, which acknowledges and dispatches every pending interrupt, then lets the
//! scheduler switch threads if one of the handlers asked for it.

use arm_gic::IntId;

use super::exceptions::TrapFrame;
use super::fn_cell::FnCell;
use super::intc;

/// The SGIs coresched uses, one meaning each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Sgi {
    /// Wake an idle core or make a running one reschedule.
    Reschedule = 0,
    /// Run the function waiting in the target core's call mailbox.
    Call = 1,
    /// Stop: another core panicked; park with interrupts masked.
    Stop = 2,
}

/// An interrupt handler: gets the interrupt id it was registered for.
pub type Handler = fn(IntId);

/// Interrupt ids that can have handlers: SGIs, PPIs and the SPIs a GICv2/v3 numbers below 1020.
const HANDLER_SLOTS: usize = 1020;

static HANDLERS: [FnCell<Handler>; HANDLER_SLOTS] = [const { FnCell::new() }; HANDLER_SLOTS];

/// Why [`register`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterError {
    /// The id is beyond the table.
    OutOfRange(u32),
    /// Another handler is registered for the id already.
    Taken(u32),
}

/// Registers `handler` for interrupt `intid` on every core (ids are global; whether a core
/// receives a private interrupt is up to [`enable_private`]).
pub fn register(intid: IntId, handler: Handler) -> Result<(), RegisterError> {
    let id = intid.raw_value();
    let slot = HANDLERS
        .get(id as usize)
        .ok_or(RegisterError::OutOfRange(id))?;
    if slot.store_if_empty(handler) {
        Ok(())
    } else {
        Err(RegisterError::Taken(id))
    }
}

/// Enables the private interrupt `intid` (an SGI or PPI) on the calling core.
pub fn enable_private(intid: IntId) {
    intc::controller().enable_private(intid);
}

/// Sends `sgi` to core `target`.
pub fn send_sgi(sgi: Sgi, target: usize) {
    intc::controller().send_sgi(sgi as u32, target, true);
}

/// Interrupts core `target` with the reschedule SGI, which makes it look at its queues and its
/// timer again.
pub fn send_reschedule(target: usize) {
    send_sgi(Sgi::Reschedule, target);
}

/// Sends `sgi` to core `target` from the fatal path: never waits long for a driver lock that
/// this core may itself hold (it was interrupted inside the driver). Returns whether it was sent.
pub fn send_sgi_from_fatal_path(sgi: Sgi, target: usize) -> bool {
    intc::controller().send_sgi(sgi as u32, target, false)
}

/// Says that interrupt `id` arrived with no handler. Out of line, so that the interrupt path
/// does not set up the message's arguments on every interrupt.
#[cold]
#[inline(never)]
fn warn_unhandled(id: usize) {
    log::warn!("interrupt {id} has no handler; ignored");
}

/// Called by the IRQ vector with the interrupted thread's saved state.
#[unsafe(no_mangle)]
extern "C" fn handle_irq(frame: &mut TrapFrame) {
    serve(frame.elr);
}

/// Serves every interrupt pending at this core's interrupt controller, for a caller with
/// interrupts masked that has nothing for them to interrupt: the idle loop, whose WFI wakes for
/// a masked interrupt too. Each handler runs as if its interrupt had been taken (the kernel's
/// entry hook records PC 0: no code was interrupted), without the exception's entry, exit and
/// saving of every register. The idle loop unmasks interrupts afterwards, so one that arrives
/// in between is still taken the usual way.
pub fn serve_pending_interrupts() {
    serve(0);
}

/// The interrupt path proper: the kernel's entry hook (with the interrupted `pc`), then
/// acknowledge, handle and end each pending interrupt until none is left, then the exit hook.
fn serve(pc: u64) {
    let hooks = super::hooks::get();
    if let Some(hooks) = hooks {
        (hooks.interrupt_entry)(super::cpu::core_id(), pc);
    }
    let controller = intc::controller();
    while let Some(intid) = controller.acknowledge() {
        // GICv2 reports an SGI's source core in bits 12:10; the id is the low ten bits. The
        // end-of-interrupt write below takes the full value back.
        let id = (intid.raw_value() & 0x3ff) as usize;
        match HANDLERS.get(id).and_then(FnCell::load) {
            Some(handler) => handler(intid),
            None => warn_unhandled(id),
        }
        controller.end(intid);
    }
    if let Some(hooks) = hooks {
        (hooks.interrupt_exit)();
    }
}
