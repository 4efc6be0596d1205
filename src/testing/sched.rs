//! Scheduler tests: spawn and join, sleeping, preemption, stealing, pinning, capacity, tickless
//! idle and the blocking primitives, on every core the test may use.

use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use core::time::Duration;

use crate::random::XorShift64;
use crate::sched::{self, Event, Mutex, Semaphore, SpawnError, SpawnOptions};
use crate::time::Instant;
use crate::{MAX_CORES, check, check_eq, kernel_test};

/// Waits (sleeping, so other tasks run) until `done()` or `timeout` passes; returns `done()`.
fn wait_until(timeout: Duration, done: impl Fn() -> bool) -> bool {
    let give_up = Instant::now().saturating_add(timeout);
    while !done() && Instant::now() < give_up {
        sched::sleep_for(Duration::from_micros(200));
    }
    done()
}

kernel_test!(fn spawn_and_join(_context) {
    static RAN: AtomicBool = AtomicBool::new(false);
    RAN.store(false, Ordering::Relaxed);
    let handle = sched::spawn(SpawnOptions::named("child"), || RAN.store(true, Ordering::Release));
    check!(handle.is_ok(), "spawn failed: {:?}", handle.err());
    if let Ok(handle) = handle {
        handle.join();
    }
    check!(RAN.load(Ordering::Acquire), "the joined task did not run");
    Ok(())
});

const SLEEPERS: usize = 10_000;

kernel_test!(fn ten_thousand_sleepers_wake_on_time(_context) {
    static FINISHED: AtomicUsize = AtomicUsize::new(0);
    static EARLY: AtomicUsize = AtomicUsize::new(0);
    static SUM: AtomicU64 = AtomicU64::new(0);
    FINISHED.store(0, Ordering::Relaxed);
    EARLY.store(0, Ordering::Relaxed);
    SUM.store(0, Ordering::Relaxed);
    let mut random = XorShift64::new(0x5eed);
    let mut expected_sum = 0u64;
    for index in 0..SLEEPERS as u64 {
        let delay = Duration::from_micros(random.below(20_000) as u64);
        expected_sum += index;
        let body = move || {
            let deadline = Instant::now().saturating_add(delay);
            sched::sleep_until(deadline);
            if Instant::now() < deadline {
                EARLY.fetch_add(1, Ordering::Relaxed);
            }
            SUM.fetch_add(index, Ordering::Relaxed);
            FINISHED.fetch_add(1, Ordering::Release);
        };
        loop {
            match sched::spawn(SpawnOptions::named("sleeper"), body) {
                Ok(_detached) => break,
                Err(SpawnError::TooManyTasks) => {
                    sched::sleep_for(Duration::from_micros(500));
                }
                Err(error) => return Err(crate::testing::TestFailure::new(format_args!("spawn: {error:?}"))),
            }
        }
    }
    let all = wait_until(Duration::from_secs(20), || FINISHED.load(Ordering::Acquire) == SLEEPERS);
    check!(all, "only {} of {SLEEPERS} sleepers finished", FINISHED.load(Ordering::Acquire));
    check_eq!(EARLY.load(Ordering::Relaxed), 0);
    check_eq!(SUM.load(Ordering::Relaxed), expected_sum);
    Ok(())
});

kernel_test!(fn every_task_the_pool_allows_sleeps_at_once(context) {
    // Every task slot sleeps at the same time on one core: far more sleepers than one core's
    // explicit timers (`TIMERS_PER_CORE`), none refused, none early, none lost.
    static ASLEEP: AtomicUsize = AtomicUsize::new(0);
    static PEAK: AtomicUsize = AtomicUsize::new(0);
    static WOKEN: AtomicUsize = AtomicUsize::new(0);
    static EARLY: AtomicUsize = AtomicUsize::new(0);
    static DEADLINE_NS: AtomicU64 = AtomicU64::new(0);
    static START: Event = Event::new();
    for counter in [&ASLEEP, &PEAK, &WOKEN, &EARLY] {
        counter.store(0, Ordering::Relaxed);
    }
    START.reset();
    let core = context.cores - 1;
    let mut spawned = 0usize;
    loop {
        let sleeper = sched::spawn(SpawnOptions::named("sleeper").on_core(core), || {
            START.wait();
            let deadline = Instant::from_nanos(DEADLINE_NS.load(Ordering::Acquire));
            PEAK.fetch_max(ASLEEP.fetch_add(1, Ordering::AcqRel) + 1, Ordering::AcqRel);
            sched::sleep_until(deadline);
            ASLEEP.fetch_sub(1, Ordering::AcqRel);
            if Instant::now() < deadline {
                EARLY.fetch_add(1, Ordering::Relaxed);
            }
            WOKEN.fetch_add(1, Ordering::Release);
        });
        match sleeper {
            Ok(_detached) => spawned += 1,
            Err(SpawnError::TooManyTasks) => break,
            Err(error) => return Err(crate::testing::TestFailure::new(format_args!("spawn: {error:?}"))),
        }
    }
    check!(spawned > crate::timer::TIMERS_PER_CORE, "only {spawned} tasks fit");
    // Far enough ahead that every sleeper is asleep before the first wakes, on any host.
    let deadline = Instant::now().saturating_add(Duration::from_secs(5));
    DEADLINE_NS.store(deadline.as_nanos(), Ordering::Release);
    START.set();
    let all = wait_until(Duration::from_secs(60), || WOKEN.load(Ordering::Acquire) == spawned);
    check!(all, "only {} of {spawned} sleepers woke", WOKEN.load(Ordering::Acquire));
    check_eq!(PEAK.load(Ordering::Acquire), spawned);
    check_eq!(EARLY.load(Ordering::Relaxed), 0);
    Ok(())
});

kernel_test!(fn spinning_task_is_preempted(context) {
    static STOP: AtomicBool = AtomicBool::new(false);
    static DONE: AtomicUsize = AtomicUsize::new(0);
    STOP.store(false, Ordering::Relaxed);
    DONE.store(0, Ordering::Relaxed);
    let core = context.cores - 1;
    let spinner = sched::spawn(SpawnOptions::named("spinner").on_core(core), || {
        while !STOP.load(Ordering::Relaxed) {
            core::hint::spin_loop();
        }
    });
    check!(spinner.is_ok());
    for _ in 0..4 {
        let finisher = sched::spawn(SpawnOptions::named("finisher").on_core(core), || {
            DONE.fetch_add(1, Ordering::Relaxed);
        });
        check!(finisher.is_ok());
    }
    let others_ran = wait_until(Duration::from_secs(5), || DONE.load(Ordering::Relaxed) == 4);
    STOP.store(true, Ordering::Relaxed);
    if let Ok(spinner) = spinner {
        spinner.join();
    }
    check!(others_ran, "tasks behind a spinning task never ran: no preemption");
    Ok(())
});

kernel_test!(fn unbalanced_load_spreads_by_stealing(context) {
    // All the work starts queued on this core, and stays runnable until every core has run
    // some of it: as long as stealable work waits anywhere, no core may stay idle, however
    // slowly the host runs any one vCPU. (Work that finished before a slow vCPU woke would
    // prove nothing about the scheduler, so the tasks do not finish until then.) A task marks
    // every core it runs on, as preemption and stealing may move it at any time. Until every
    // task is spawned, each gives its core back as soon as it gets it: spinning through whole
    // slices, they would take this core from the task spawning them, whose share of it is one
    // turn in as many as there are tasks queued here (under QEMU's -icount, which runs 64
    // vCPUs in turn, the spawning then took most of the test's time limit).
    static RAN_ON: [AtomicBool; MAX_CORES] = [const { AtomicBool::new(false) }; MAX_CORES];
    static FINISHED: AtomicUsize = AtomicUsize::new(0);
    static SPAWNED_ALL: AtomicBool = AtomicBool::new(false);
    static EVERY_CORE_RAN: AtomicBool = AtomicBool::new(false);
    static GIVE_UP_NS: AtomicU64 = AtomicU64::new(0);
    for ran in &RAN_ON {
        ran.store(false, Ordering::Relaxed);
    }
    FINISHED.store(0, Ordering::Relaxed);
    SPAWNED_ALL.store(false, Ordering::Relaxed);
    EVERY_CORE_RAN.store(false, Ordering::Relaxed);
    let give_up = Instant::now().saturating_add(Duration::from_secs(30));
    GIVE_UP_NS.store(give_up.as_nanos(), Ordering::Relaxed);
    let tasks = context.cores * 8;
    for _ in 0..tasks {
        // Spawned on this core (unpinned): only stealing can move them.
        let spawned = sched::spawn(SpawnOptions::named("busy"), || {
            let give_up = GIVE_UP_NS.load(Ordering::Relaxed);
            while !EVERY_CORE_RAN.load(Ordering::Acquire) && Instant::now().as_nanos() < give_up {
                RAN_ON[sched::current_core()].store(true, Ordering::Relaxed);
                if SPAWNED_ALL.load(Ordering::Acquire) {
                    core::hint::spin_loop();
                } else {
                    sched::yield_now();
                }
            }
            FINISHED.fetch_add(1, Ordering::Release);
        });
        check!(spawned.is_ok());
    }
    SPAWNED_ALL.store(true, Ordering::Release);
    let idle_core = || (0..context.cores).find(|core| !RAN_ON[*core].load(Ordering::Relaxed));
    let spread = wait_until(Duration::from_secs(30), || idle_core().is_none());
    EVERY_CORE_RAN.store(true, Ordering::Release);
    check!(wait_until(Duration::from_secs(30), || FINISHED.load(Ordering::Acquire) == tasks));
    check!(spread, "core {:?} never ran any of the {tasks} tasks", idle_core());
    Ok(())
});

kernel_test!(fn pinned_tasks_never_leave_their_core(context) {
    static MOVED: AtomicUsize = AtomicUsize::new(0);
    static FINISHED: AtomicUsize = AtomicUsize::new(0);
    MOVED.store(0, Ordering::Relaxed);
    FINISHED.store(0, Ordering::Relaxed);
    for core in 0..context.cores {
        for _ in 0..4 {
            let spawned = sched::spawn(SpawnOptions::named("pinned").on_core(core), move || {
                for _ in 0..50 {
                    if sched::current_core() != core {
                        MOVED.fetch_add(1, Ordering::Relaxed);
                    }
                    sched::yield_now();
                }
                FINISHED.fetch_add(1, Ordering::Release);
            });
            check!(spawned.is_ok());
        }
    }
    check!(wait_until(Duration::from_secs(20), || FINISHED.load(Ordering::Acquire) == context.cores * 4));
    check_eq!(MOVED.load(Ordering::Relaxed), 0);
    Ok(())
});

kernel_test!(fn spawning_past_capacity_is_an_error(_context) {
    // Parked tasks block until released, holding their slots, spread over many events so that
    // thousands of them do not all queue on one wait-queue lock.
    const EVENTS: usize = 64;
    static RELEASE: [Event; EVENTS] = [const { Event::new() }; EVENTS];
    for event in &RELEASE {
        event.reset();
    }
    let mut spawned = 0usize;
    let error = loop {
        let event = &RELEASE[spawned % EVENTS];
        match sched::spawn(SpawnOptions::named("parked"), move || event.wait()) {
            Ok(_detached) => spawned += 1,
            Err(error) => break error,
        }
    };
    check_eq!(error, SpawnError::TooManyTasks);
    for event in &RELEASE {
        event.set();
    }
    // The kernel goes on: once the parked tasks exit, spawning works again.
    let again = wait_until(Duration::from_secs(20), || match sched::spawn(SpawnOptions::named("after"), || {}) {
        Ok(handle) => {
            handle.join();
            true
        }
        Err(_) => false,
    });
    check!(again, "spawning never worked again after {spawned} parked tasks were released");
    Ok(())
});

kernel_test!(fn idle_cores_take_no_timer_interrupts(context) {
    // This core sleeps on a timer, and the monitor and its buddy keep timers by design.
    let busy = [sched::current_core(), crate::monitor::kernel::monitor_core(), crate::monitor::kernel::buddy_core().unwrap_or(usize::MAX)];
    let watched = || (0..context.cores).filter(|core| !busy.contains(core));
    // Wait for earlier tests' timers to fire and their last slices to end: every watched core
    // idle with its hardware timer disarmed and no timer armed (a host that runs a vCPU late
    // makes this take longer, never fail). Counting starts from that moment.
    let settled = |core: usize| {
        crate::timer::programmed_deadline(core) == crate::timer::NO_DEADLINE
            && crate::timer::earliest_deadline(core) == crate::timer::NO_DEADLINE
    };
    let give_up = Instant::now().saturating_add(Duration::from_secs(10));
    let before: heapless::Vec<u64, MAX_CORES> = loop {
        if watched().all(settled) {
            break (0..context.cores).map(crate::timer::timer_interrupts).collect();
        }
        if Instant::now() >= give_up {
            let armed = watched().find(|core| !settled(*core)).unwrap_or_default();
            check!(false, "idle core {armed} still has a timer armed after 10 s");
        }
        sched::sleep_for(Duration::from_millis(1));
    };
    sched::sleep_for(Duration::from_millis(100));
    for core in watched() {
        let taken = crate::timer::timer_interrupts(core) - before[core];
        check!(taken == 0, "idle core {core} took {taken} timer interrupts in 100 ms");
    }
    Ok(())
});

kernel_test!(fn mutex_semaphore_and_event_block_and_wake(context) {
    static COUNTER: Mutex<u64> = Mutex::new(0);
    static DONE: Semaphore = Semaphore::new(0);
    static START: Event = Event::new();
    START.reset();
    *COUNTER.lock() = 0;
    // Every hand-off crosses cores; a few workers per core are plenty to contend.
    let workers = (context.cores * 2).min(16);
    for index in 0..workers {
        let options = SpawnOptions::named("counter").on_core(index % context.cores);
        let spawned = sched::spawn(options, || {
            START.wait();
            for _ in 0..200 {
                let mut counter = COUNTER.lock();
                let value = *counter;
                sched::yield_now();
                *counter = value + 1;
            }
            DONE.release();
        });
        check!(spawned.is_ok());
    }
    START.set();
    for _ in 0..workers {
        DONE.acquire();
    }
    check_eq!(*COUNTER.lock(), workers as u64 * 200);
    Ok(())
});
