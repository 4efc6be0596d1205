//! The benchmark (bootarg `bench`): scheduler costs in guest nanoseconds.
//!
//! Run it under QEMU's `-icount shift=0` (`cargo qemu -- --bench`), where a guest nanosecond is
//! one instruction, so every figure is an instruction count and repeats exactly. Each figure is
//! printed in a table and on a line of its own for scripts:
//! `bench <name> coresched=<n> linux=- unit=instructions`.

use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;

use crate::random::XorShift64;
use crate::sched::{self, Semaphore, SpawnOptions};
use crate::sync::{IrqSpinLock, LockRank};
use crate::time::Instant;
use crate::timer::queue::TimerQueue;
use crate::{arch::aarch64::stop::ExitCode, kprintln};

/// Repetitions per figure: enough that start-up costs vanish in the mean.
const ROUNDS: u64 = 2_000;

/// One measured figure.
struct Figure {
    name: &'static str,
    operation: &'static str,
    nanoseconds: u64,
}

fn elapsed_ns(start: Instant) -> u64 {
    Instant::now().saturating_duration_since(start).as_nanos() as u64
}

/// Two cores for the cross-core figure and one for the rest, away from the boot core when the
/// machine has enough (the boot core runs this code and the harness).
fn bench_cores(cores: usize) -> (usize, usize) {
    match cores {
        1 => (0, 0),
        2 => (1, 0),
        _ => (1, 2),
    }
}

fn spawn_pinned(
    name: &'static str,
    core: usize,
    body: impl FnOnce() + Send + 'static,
) -> sched::JoinHandle {
    sched::spawn(SpawnOptions::named(name).on_core(core), body)
        .expect("the benchmark's tasks fit the task pool")
}

/// Two tasks on one core yield to each other; cost per switch.
fn yield_switch(core: usize) -> u64 {
    static START: Semaphore = Semaphore::new(0);
    let yielder = || {
        START.acquire();
        for _ in 0..ROUNDS {
            sched::yield_now();
        }
    };
    let first = spawn_pinned("yield-a", core, yielder);
    let second = spawn_pinned("yield-b", core, yielder);
    sched::sleep_for(Duration::from_millis(1));
    let start = Instant::now();
    START.release();
    START.release();
    first.join();
    second.join();
    elapsed_ns(start) / (2 * ROUNDS)
}

/// Two tasks hand a token back and forth through semaphores (block, wake, switch); cost per
/// hand-off.
fn handoff(ping_core: usize, pong_core: usize) -> u64 {
    static PING: Semaphore = Semaphore::new(0);
    static PONG: Semaphore = Semaphore::new(0);
    static STARTED_AT: AtomicU64 = AtomicU64::new(0);
    let ponger = spawn_pinned("pong", pong_core, || {
        for _ in 0..ROUNDS {
            PING.acquire();
            PONG.release();
        }
    });
    let pinger = spawn_pinned("ping", ping_core, || {
        STARTED_AT.store(Instant::now().as_nanos(), Ordering::Relaxed);
        for _ in 0..ROUNDS {
            PING.release();
            PONG.acquire();
        }
    });
    pinger.join();
    let finished = Instant::now().as_nanos();
    ponger.join();
    (finished - STARTED_AT.load(Ordering::Relaxed)) / (2 * ROUNDS)
}

/// A task sleeps 100 us again and again; mean lateness past the deadline, from the deadline to
/// the task running again.
fn sleep_lateness(core: usize) -> u64 {
    static TOTAL_LATENESS: AtomicU64 = AtomicU64::new(0);
    const SLEEPS: u64 = 200;
    TOTAL_LATENESS.store(0, Ordering::Relaxed);
    spawn_pinned("sleeper", core, || {
        for _ in 0..SLEEPS {
            let deadline = Instant::now().saturating_add(Duration::from_micros(100));
            sched::sleep_until(deadline);
            let late = Instant::now()
                .saturating_duration_since(deadline)
                .as_nanos() as u64;
            TOTAL_LATENESS.fetch_add(late, Ordering::Relaxed);
        }
    })
    .join();
    TOTAL_LATENESS.load(Ordering::Relaxed) / SLEEPS
}

/// Spawn an empty task and join it; cost per spawn + join.
fn spawn_join() -> u64 {
    let start = Instant::now();
    for _ in 0..ROUNDS {
        // The task runs on this core, so the figure includes both switches.
        sched::spawn(
            SpawnOptions::named("empty").on_core(sched::current_core()),
            || {},
        )
        .expect("one empty task fits the task pool")
        .join();
    }
    elapsed_ns(start) / ROUNDS
}

/// Arm `armed` timers at random deadlines, then time insert + cancel pairs on that queue (a
/// core's queue, lock included, but sized for 65,536).
fn timer_insert_cancel(armed: usize) -> u64 {
    static QUEUE: IrqSpinLock<TimerQueue<u32, 65_536>> =
        IrqSpinLock::new(LockRank::TimerQueue, TimerQueue::new());
    let mut random = XorShift64::new(armed as u64);
    {
        let mut queue = QUEUE.lock();
        queue.drain().for_each(drop);
        for index in 0..armed {
            let _ = queue.insert(random.next_u64() >> 1, index as u32);
        }
    }
    let start = Instant::now();
    for index in 0..ROUNDS {
        let deadline = random.next_u64() >> 1;
        let mut queue = QUEUE.lock();
        if let Ok(handle) = queue.insert(deadline, index as u32) {
            queue.cancel(handle);
        }
    }
    elapsed_ns(start) / ROUNDS
}

/// Runs every benchmark on `cores` cores and prints the table and the script lines.
pub fn run(cores: usize) -> ExitCode {
    let (near, far) = bench_cores(cores);
    kprintln!("bench: {cores} cores; figures are guest ns (instructions under -icount shift=0)");
    let figures = [
        Figure {
            name: "yield_switch",
            operation: "yield between two tasks on one core, per switch",
            nanoseconds: yield_switch(near),
        },
        Figure {
            name: "handoff_same_core",
            operation: "block/wake hand-off, same core",
            nanoseconds: handoff(near, near),
        },
        Figure {
            name: "handoff_cross_core",
            operation: "block/wake hand-off across two cores",
            nanoseconds: handoff(near, far),
        },
        Figure {
            name: "sleep_lateness",
            operation: "sleep 100 us, lateness past the deadline",
            nanoseconds: sleep_lateness(near),
        },
        Figure {
            name: "spawn_join",
            operation: "spawn + join an empty task",
            nanoseconds: spawn_join(),
        },
        Figure {
            name: "timer_insert_cancel_1k",
            operation: "timer insert + cancel, 1,000 armed",
            nanoseconds: timer_insert_cancel(1_000),
        },
        Figure {
            name: "timer_insert_cancel_64k",
            operation: "timer insert + cancel, 64,000 armed",
            nanoseconds: timer_insert_cancel(64_000),
        },
    ];
    // The monitor has been scanning all along; give it a few more passes at its idle pace.
    sched::sleep_for(Duration::from_millis(30));
    let monitor = crate::monitor::kernel::COUNTERS.snapshot(&crate::registry::CORE_TABLE);
    kprintln!("| operation | coresched |");
    kprintln!("| --- | --- |");
    for figure in &figures {
        kprintln!("| {} | {} |", figure.operation, figure.nanoseconds);
    }
    kprintln!(
        "| monitor pass over {cores} cores (mean of {}) | {} |",
        monitor.passes,
        monitor.mean_pass_cost_ns
    );
    kprintln!(
        "| longest core-table-lock hold | {} |",
        monitor.longest_lock_hold_ns
    );
    for figure in &figures {
        kprintln!(
            "bench {} coresched={} linux=- unit=instructions",
            figure.name,
            figure.nanoseconds
        );
    }
    kprintln!(
        "bench monitor_pass_{cores} coresched={} linux=- unit=instructions",
        monitor.mean_pass_cost_ns
    );
    ExitCode::Success
}
