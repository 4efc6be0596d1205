//! The demo `cargo qemu` runs by default: every core answers a cross-core call and fires a
//! kernel timer, and the boot core prints what each did.

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::arch::aarch64::stop::ExitCode;
use crate::arch::aarch64::{cpu, smp};
use crate::timer::{self, Expiry};
use crate::{MAX_CORES, kprintln};

static ANSWERED: AtomicUsize = AtomicUsize::new(0);
static TIMER_LATENESS_NS: [AtomicU64; MAX_CORES] = [const { AtomicU64::new(u64::MAX) }; MAX_CORES];
static TIMER_DEADLINE_NS: AtomicU64 = AtomicU64::new(0);

fn answer() {
    ANSWERED.fetch_add(1, Ordering::AcqRel);
}

fn timer_fired(core: usize) {
    let late = cpu::now_ns().saturating_sub(TIMER_DEADLINE_NS.load(Ordering::Relaxed));
    TIMER_LATENESS_NS[core].store(late, Ordering::Release);
}

/// Runs the demo on `online` cores.
pub fn run(online: usize) -> ExitCode {
    kprintln!("demo: asking each of {online} cores to answer a call SGI and fire a timer");
    for core in 0..online {
        smp::call_on(core, answer);
    }
    let deadline = cpu::now_ns() + 2_000_000;
    TIMER_DEADLINE_NS.store(deadline, Ordering::Relaxed);
    for core in 0..online {
        let expiry = Expiry {
            callback: timer_fired,
            argument: core,
        };
        if timer::arm_on(core, deadline, expiry).is_err() {
            log::error!("demo: core {core}'s timer queue is full");
        }
    }
    let give_up = cpu::now_ns() + 5_000_000_000;
    let all_fired =
        || (0..online).all(|core| TIMER_LATENESS_NS[core].load(Ordering::Acquire) != u64::MAX);
    while (ANSWERED.load(Ordering::Acquire) < online || !all_fired()) && cpu::now_ns() < give_up {
        core::hint::spin_loop();
    }
    let worst = (0..online)
        .map(|core| TIMER_LATENESS_NS[core].load(Ordering::Acquire))
        .max()
        .unwrap_or(0);
    kprintln!(
        "demo: {} of {online} cores answered; every core's timer fired: {}; worst lateness {} us",
        ANSWERED.load(Ordering::Acquire),
        all_fired(),
        worst / 1000
    );
    if ANSWERED.load(Ordering::Acquire) == online && all_fired() {
        ExitCode::Success
    } else {
        ExitCode::Fatal
    }
}
