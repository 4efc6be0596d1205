//! Hotplug tests: a core going offline hands its queued tasks and armed timers to the heir core
//! (the migrated timers still fire on time, the pinned tasks still run), and comes back online.

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use core::time::Duration;

use crate::arch::aarch64::{cpu, smp};
use crate::kernel::hotplug::{self, HotplugError};
use crate::monitor::kernel;
use crate::registry::CORE_TABLE;
use crate::registry::CoreState;
use crate::sched::{self, Event, SpawnOptions};
use crate::time::Instant;
use crate::timer::{self, Expiry};
use crate::{check, check_eq, kernel_test};

const TIMERS: usize = 100;

static FIRED: AtomicUsize = AtomicUsize::new(0);
static EARLY: AtomicUsize = AtomicUsize::new(0);
static DEADLINES: [AtomicU64; TIMERS] = [const { AtomicU64::new(0) }; TIMERS];
static ALL_FIRED: Event = Event::new();

fn migrated_timer_fired(index: usize) {
    let now = cpu::now_ns();
    let deadline = DEADLINES[index].load(Ordering::Relaxed);
    if now < deadline {
        EARLY.fetch_add(1, Ordering::Relaxed);
    }
    if FIRED.fetch_add(1, Ordering::Release) + 1 == TIMERS {
        ALL_FIRED.set();
    }
}

kernel_test!(fn offline_core_hands_over_tasks_and_timers(context) {
    let keep = [sched::current_core(), kernel::monitor_core(), hotplug::heir_core()];
    let Some(victim) = (0..context.cores).rev().find(|core| !keep.contains(core)) else {
        // Needs a core besides this one, the monitor's and the heir: 3 or more.
        return Ok(());
    };
    if !smp::can_hotplug() {
        // Spin-table boards: the core must be refused and stay online, its work untouched.
        check_eq!(hotplug::core_offline(victim), Err(HotplugError::Firmware));
        check_eq!(CORE_TABLE.state(victim), CoreState::Online);
        return Ok(());
    }
    FIRED.store(0, Ordering::Relaxed);
    ALL_FIRED.reset();
    EARLY.store(0, Ordering::Relaxed);
    let start = cpu::now_ns();
    for (index, deadline) in DEADLINES.iter().enumerate() {
        let due = start + 5_000_000 + index as u64 * 300_000;
        deadline.store(due, Ordering::Relaxed);
        let expiry = Expiry { callback: migrated_timer_fired, argument: index };
        check!(timer::arm_on(victim, due, expiry).is_ok());
    }
    static PINNED_DONE: AtomicUsize = AtomicUsize::new(0);
    PINNED_DONE.store(0, Ordering::Relaxed);
    for _ in 0..4 {
        let pinned = sched::spawn(SpawnOptions::named("pinned-sleeper").on_core(victim), || {
            sched::sleep_for(Duration::from_millis(20));
            PINNED_DONE.fetch_add(1, Ordering::Release);
        });
        check!(pinned.is_ok());
    }
    let online_before = smp::online_count();
    check_eq!(hotplug::core_offline(victim), Ok(()));
    check_eq!(CORE_TABLE.state(victim), CoreState::Offline);
    check_eq!(smp::online_count(), online_before - 1);
    check_eq!(hotplug::core_offline(hotplug::heir_core()), Err(HotplugError::Essential));
    // The heir reprogrammed its hardware timer for the migrated timers (how late they then
    // fire depends on the host running its vCPU, so that is not what is checked). This task
    // runs on the heir, with interrupts on: the heir has taken the migration's SGI.
    let heir = hotplug::heir_core();
    if sched::current_core() == heir {
        let interrupts = crate::arch::irq_save_disable();
        let (programmed, earliest) = (timer::programmed_deadline(heir), timer::earliest_deadline(heir));
        crate::arch::irq_restore(interrupts);
        check!(programmed <= earliest, "heir timer armed for {programmed} ns, earliest timer {earliest} ns");
    }

    ALL_FIRED.wait();
    let give_up = Instant::now().saturating_add(Duration::from_secs(5));
    while PINNED_DONE.load(Ordering::Acquire) < 4 && Instant::now() < give_up {
        sched::sleep_for(Duration::from_millis(1));
    }
    check_eq!(FIRED.load(Ordering::Acquire), TIMERS);
    check_eq!(EARLY.load(Ordering::Relaxed), 0);
    check_eq!(PINNED_DONE.load(Ordering::Acquire), 4);

    check_eq!(hotplug::core_online(victim), Ok(()));
    check_eq!(smp::online_count(), online_before);
    static RAN_ON: AtomicUsize = AtomicUsize::new(usize::MAX);
    let back = sched::spawn(SpawnOptions::named("welcome-back").on_core(victim), || {
        RAN_ON.store(sched::current_core(), Ordering::Relaxed);
    });
    check!(back.is_ok());
    if let Ok(back) = back {
        back.join();
    }
    check_eq!(RAN_ON.load(Ordering::Relaxed), victim);
    Ok(())
});

kernel_test!(fn set_active_cores_goes_down_and_back_up(context) {
    if context.cores < 3 {
        return Ok(());
    }
    if !smp::can_hotplug() {
        check_eq!(hotplug::set_active_cores(2), Err(HotplugError::Firmware));
        check_eq!(smp::online_count(), context.cores);
        return Ok(());
    }
    check_eq!(hotplug::set_active_cores(2), Ok(()));
    let essential = [hotplug::heir_core(), kernel::monitor_core()];
    let expected = (0..context.cores).filter(|core| *core < 2 || essential.contains(core)).count();
    check_eq!(smp::online_count(), expected);
    check_eq!(hotplug::set_active_cores(context.cores), Ok(()));
    check_eq!(smp::online_count(), context.cores);
    Ok(())
});
