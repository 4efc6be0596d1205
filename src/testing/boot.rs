//! Boot tests: every core came up, takes its timer interrupt, and receives SGIs from another
//! core. The boot matrix (tests/boot_matrix.rs) runs them on every configuration.

use core::sync::atomic::{AtomicUsize, Ordering};

use crate::arch::aarch64::{cpu, irq, smp};
use crate::timer::{self, Expiry};
use crate::{check, check_eq, kernel_test};

/// How long (guest time) a core may take to show it received an interrupt.
const ANSWER_TIMEOUT_NS: u64 = 10_000_000_000;

/// Waits until `done(core)` holds for every core in `0..cores`; returns the first that never
/// did.
fn wait_for_every_core(cores: usize, done: impl Fn(usize) -> bool) -> Option<usize> {
    let deadline = cpu::now_ns() + ANSWER_TIMEOUT_NS;
    while cpu::now_ns() < deadline {
        if (0..cores).all(&done) {
            return None;
        }
        core::hint::spin_loop();
    }
    (0..cores).find(|core| !done(*core))
}

kernel_test!(fn cores_online(context) {
    // Every CPU the DTB lists, but those it gives no way to start (the boot core runs anyway).
    let platform = crate::kernel::platform();
    let boot = crate::kernel::hotplug::heir_core();
    let startable = platform
        .cpus
        .iter()
        .enumerate()
        .filter(|(index, cpu)| *index == boot || platform.cannot_start(cpu).is_none())
        .count();
    check_eq!(smp::online_count(), startable);
    check!(context.cores <= startable);
    Ok(())
});

fn note_timer_fired(_core: usize) {}

kernel_test!(fn timer_irq_every_core(context) {
    let mut before = [0; crate::MAX_CORES];
    for (core, count) in before.iter_mut().enumerate().take(context.cores) {
        *count = timer::timer_interrupts(core);
        let expiry = Expiry { callback: note_timer_fired, argument: core };
        check!(timer::arm_on(core, cpu::now_ns() + 1_000_000, expiry).is_ok(), "core {core}: timer queue full");
    }
    let silent = wait_for_every_core(context.cores, |core| timer::timer_interrupts(core) > before[core]);
    check!(silent.is_none(), "core {:?} took no timer interrupt", silent);
    Ok(())
});

/// The next core each core pings; every core is pinged by exactly one other (a ring).
static RING_SIZE: AtomicUsize = AtomicUsize::new(1);

fn ping_next_core() {
    let next = (cpu::core_id() + 1) % RING_SIZE.load(Ordering::Relaxed);
    irq::send_sgi(irq::Sgi::Reschedule, next);
}

kernel_test!(fn sgi_every_core(context) {
    RING_SIZE.store(context.cores, Ordering::Relaxed);
    let mut before = [0; crate::MAX_CORES];
    for (core, count) in before.iter_mut().enumerate().take(context.cores) {
        *count = crate::sched::scheduler::reschedule_sgis(core);
    }
    for core in 0..context.cores {
        smp::call_on(core, ping_next_core);
    }
    let silent = wait_for_every_core(context.cores, |core| crate::sched::scheduler::reschedule_sgis(core) > before[core]);
    check!(silent.is_none(), "core {:?} received no SGI from its neighbour", silent);
    Ok(())
});
