//! Monitor tests: a core that masks interrupts past the limits is kicked, retaken and reported;
//! a hung monitor is reported by its buddy; a paused monitor makes no pass (and its buddy no
//! report) until it is let out; and the seed's deadlock scenario (timer expiries
//! waking tasks on other cores through the global lock while the monitor scans, and a core
//! going offline and online all the while) runs clean.

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use core::time::Duration;

use crate::arch::aarch64::{cpu, smp};
use crate::kernel::hotplug;
use crate::monitor::hold;
use crate::monitor::kernel::{self, COUNTERS};
use crate::registry::CORE_TABLE;
use crate::sched::{self, Semaphore, SpawnOptions};
use crate::time::Instant;
use crate::timer::{self, Expiry};
use crate::{MAX_CORES, check, check_eq, kernel_test};

/// The longest a hog keeps its core masked waiting to be noticed: far beyond the stall limit,
/// within the kernel test's time limit.
const HOG_LIMIT: Duration = Duration::from_secs(20);

/// Runs a task on `core` that masks interrupts, arms a timer due in 1 ms there (so the core has
/// an overdue timer for as long as it hogs), and spins until `noticed()` (polled every
/// millisecond) or [`HOG_LIMIT`]; then waits for it. The hog lasts until the watchers act, not
/// for a fixed time: a host that runs the watching vCPU late delays the report, never loses it.
fn hog_core_with_interrupts_masked(
    core: usize,
    noticed: impl Fn() -> bool + Send + 'static,
) -> bool {
    let spawned = sched::spawn(
        SpawnOptions::named("irq-masked hog").on_core(core),
        move || {
            let interrupts = crate::arch::irq_save_disable();
            let expiry = Expiry {
                callback: ignore,
                argument: 0,
            };
            let _ = timer::arm_on(core, cpu::now_ns() + 1_000_000, expiry);
            let give_up = cpu::now_ns() + HOG_LIMIT.as_nanos() as u64;
            let mut next_look = 0;
            loop {
                let now = cpu::now_ns();
                if now >= give_up {
                    break;
                }
                if now >= next_look {
                    if noticed() {
                        break;
                    }
                    next_look = now + 1_000_000;
                }
                core::hint::spin_loop();
            }
            crate::arch::irq_restore(interrupts);
        },
    );
    match spawned {
        Ok(handle) => {
            handle.join();
            true
        }
        Err(_) => false,
    }
}

fn ignore(_: usize) {}

/// A core that is neither the caller's, the monitor's nor the buddy's, if the machine has one.
fn bystander_core(cores: usize) -> Option<usize> {
    let taken = [
        sched::current_core(),
        kernel::monitor_core(),
        kernel::buddy_core().unwrap_or(usize::MAX),
    ];
    (0..cores).find(|core| !taken.contains(core))
}

kernel_test!(fn masked_core_is_kicked_retaken_and_reported(context) {
    let Some(victim) = bystander_core(context.cores) else {
        // Needs a core besides the caller's, the monitor's and its buddy's: 4 or more.
        return Ok(());
    };
    let before = COUNTERS.snapshot(&CORE_TABLE);
    let caught = move || {
        let now = COUNTERS.snapshot(&CORE_TABLE);
        now.kicks > before.kicks && now.retakes > before.retakes && now.stalls > before.stalls
    };
    check!(hog_core_with_interrupts_masked(victim, caught), "could not start the hog task");
    let after = COUNTERS.snapshot(&CORE_TABLE);
    check!(after.kicks > before.kicks, "the overdue timer on core {victim} was never kicked");
    check!(after.retakes > before.retakes, "the long run on core {victim} was never retaken");
    check!(after.stalls > before.stalls, "the stall of core {victim} was never reported");
    Ok(())
});

kernel_test!(fn hung_monitor_is_reported_by_its_buddy(context) {
    let monitor = kernel::monitor_core();
    if context.cores < 2 || monitor == sched::current_core() {
        // The buddy needs a second core, and this task must not share the monitor's core.
        return Ok(());
    }
    let before = kernel::buddy_reports();
    let reported = move || kernel::buddy_reports() > before;
    check!(hog_core_with_interrupts_masked(monitor, reported), "could not start the hog task");
    check_eq!(kernel::buddy_reports(), before + 1);
    Ok(())
});

kernel_test!(fn a_paused_monitor_makes_no_pass_until_let_out(context) {
    let _ = context;
    let reports = kernel::buddy_reports();
    hold::pause();
    let parked_at = COUNTERS.passes();
    // Longer than the buddy's period and the monitor's longest sleep: a running monitor would
    // have made passes, and the buddy has checked at least once.
    sched::sleep_for(Duration::from_millis(300));
    check_eq!(COUNTERS.passes(), parked_at);
    hold::measure_passes(3);
    check_eq!(COUNTERS.passes(), parked_at + 3);
    hold::resume();
    let give_up = Instant::now().saturating_add(Duration::from_secs(10));
    while COUNTERS.passes() == parked_at + 3 && Instant::now() < give_up {
        sched::sleep_for(Duration::from_millis(1));
    }
    check!(COUNTERS.passes() > parked_at + 3, "the monitor did not run on after resume");
    check_eq!(kernel::buddy_reports(), reports);
    Ok(())
});

/// Timers each core arms in the stress test, and how far apart. The 2019-order build runs a
/// longer storm, so the race it restores is all but certain to strike within one boot.
#[cfg(not(feature = "legacy-monitor-lock-order"))]
const TIMERS_PER_CORE: usize = 1000;
#[cfg(feature = "legacy-monitor-lock-order")]
const TIMERS_PER_CORE: usize = 8000;
const TIMER_SPACING_NS: u64 = 20_000;

static FIRED: [AtomicU64; MAX_CORES] = [const { AtomicU64::new(0) }; MAX_CORES];
static WAKE_UPS: [Semaphore; MAX_CORES] = [const { Semaphore::new(0) }; MAX_CORES];
static WOKEN: AtomicUsize = AtomicUsize::new(0);

/// A timer's expiry: count it, then wake the waiter of the next storm core (a task that may run
/// anywhere, so waking it reaches `wakep` and the global lock).
fn timer_fired(argument: usize) {
    let (index, storm_cores) = (argument & 0xffff, argument >> 16);
    FIRED[index].fetch_add(1, Ordering::Relaxed);
    #[cfg(feature = "legacy-monitor-lock-order")]
    crate::sched::scheduler::ready_under_timer_lock_2019(cpu::core_id());
    WAKE_UPS[(index + 1) % storm_cores].release();
}

kernel_test!(fn timer_wakeups_across_cores_with_the_monitor_scanning(context) {
    // The buddy stays out of the storm, so it can report if the monitor ever hangs.
    let buddy = kernel::buddy_core();
    let storm: heapless::Vec<usize, MAX_CORES> =
        (0..context.cores).filter(|core| Some(*core) != buddy || context.cores == 1).collect();
    let stalls_before = COUNTERS.snapshot(&CORE_TABLE).stalls;
    kernel::scan_continuously(true);
    WOKEN.store(0, Ordering::Relaxed);
    for fired in &FIRED {
        fired.store(0, Ordering::Relaxed);
    }
    for (index, core) in storm.iter().copied().enumerate() {
        let waiter = sched::spawn(SpawnOptions::named("waiter"), move || {
            for _ in 0..TIMERS_PER_CORE {
                WAKE_UPS[index].acquire();
                WOKEN.fetch_add(1, Ordering::Relaxed);
            }
        });
        check!(waiter.is_ok());
        let argument = index | storm.len() << 16;
        let armer = sched::spawn(SpawnOptions::named("armer").on_core(core), move || {
            let mut deadline = Instant::now().as_nanos();
            for _ in 0..TIMERS_PER_CORE {
                deadline += TIMER_SPACING_NS;
                let expiry = Expiry { callback: timer_fired, argument };
                while timer::arm_on(core, deadline, expiry).is_err() {
                    sched::sleep_for(Duration::from_micros(100));
                }
            }
        });
        check!(armer.is_ok());
    }
    let total = storm.len() * TIMERS_PER_CORE;
    // Meanwhile one storm core keeps going offline and coming back: its queued tasks and armed
    // timers move to the heir core each time (where PSCI can restart it).
    static HOTPLUG_FAILURES: AtomicUsize = AtomicUsize::new(0);
    static CYCLES: AtomicUsize = AtomicUsize::new(0);
    HOTPLUG_FAILURES.store(0, Ordering::Relaxed);
    CYCLES.store(0, Ordering::Relaxed);
    let keep = [sched::current_core(), kernel::monitor_core(), hotplug::heir_core()];
    // Not in the 2019-order build: an offlined core's timers move to the heir, which is the
    // buddy, and the buddy must stay out of the deadlock to report it.
    let flapping = storm
        .iter()
        .copied()
        .rev()
        .find(|core| {
            !keep.contains(core)
                && !cfg!(feature = "legacy-monitor-lock-order")
                && smp::can_hotplug()
        });
    let hotplugger = flapping.map(|core| {
        sched::spawn(SpawnOptions::named("hotplug"), move || {
            while WOKEN.load(Ordering::Relaxed) < total {
                let cycle = hotplug::core_offline(core).and_then(|()| {
                    sched::sleep_for(Duration::from_millis(2));
                    hotplug::core_online(core)
                });
                if let Err(error) = cycle {
                    log::error!("hotplug cycle of core {core} failed: {error:?}");
                    HOTPLUG_FAILURES.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                CYCLES.fetch_add(1, Ordering::Relaxed);
                sched::sleep_for(Duration::from_millis(2));
            }
        })
    });
    let give_up = Instant::now().saturating_add(Duration::from_secs(20));
    while WOKEN.load(Ordering::Relaxed) < total && Instant::now() < give_up {
        sched::sleep_for(Duration::from_millis(1));
    }
    kernel::scan_continuously(false);
    if let Some(Ok(hotplugger)) = hotplugger {
        hotplugger.join();
    }
    check_eq!(HOTPLUG_FAILURES.load(Ordering::Relaxed), 0);
    for fired in FIRED.iter().take(storm.len()) {
        check_eq!(fired.load(Ordering::Relaxed), TIMERS_PER_CORE as u64);
    }
    check_eq!(WOKEN.load(Ordering::Relaxed), total);
    check_eq!(COUNTERS.snapshot(&CORE_TABLE).stalls, stalls_before);
    Ok(())
});
