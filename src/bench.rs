//! The benchmark (bootarg `bench`): scheduler costs in guest nanoseconds.
//!
//! Run it under QEMU's `-icount shift=0,sleep=off` (`cargo qemu -- --bench`): a guest nanosecond
//! is one instruction, and idle time jumps straight to the next deadline, so every figure is an
//! instruction count and a run repeats exactly. Under `-icount` QEMU runs the vCPUs in turn on
//! one clock, so a figure counts every instruction any core runs while it is measured. Each
//! figure is therefore taken while no core runs but the ones doing the operation: the monitor is
//! parked (and its buddy quiet) for the whole benchmark, the boot core waits in a join, and
//! every other core sleeps in WFI. The monitor's pass is measured the same way, with every other
//! core idle. A control, a loop of a known number of instructions timed like the figures, shows
//! that the method counts only the operation.
//!
//! Each figure is printed in a table and on a line of its own for scripts:
//! `bench <name> coresched=<n> linux=- unit=instructions`.
//!
//! Each figure timed by one core's clock is also a window that `cargo qemu -- --breakdown` finds
//! in QEMU's execution log: the timing core calls [`window_open`] just before its clock starts
//! and [`window_close`] just after it stops, which prints `bench window <name> operations=<n>`.
//! Both calls are outside the timed region, so no figure counts them.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering, compiler_fence};
use core::time::Duration;

use crate::monitor::hold;
use crate::random::XorShift64;
use crate::sched::{self, Semaphore, SpawnOptions};
use crate::sync::{IrqSpinLock, LockRank};
use crate::time::Instant;
use crate::timer::queue::TimerQueue;
use crate::{arch::aarch64::stop::ExitCode, kprintln};

/// Repetitions per figure: enough that start-up costs vanish in the mean.
const ROUNDS: u64 = 2_000;

/// The control's figure name.
const CONTROL: &str = "control_loop";

/// Iterations of the control loop.
const CONTROL_ITERATIONS: u64 = 100_000;

/// Instructions per iteration of the control loop: `subs` and `b.ne`.
const CONTROL_LOOP_INSTRUCTIONS: u64 = 2;

/// Monitor passes measured with every other core idle.
const MONITOR_PASSES: u64 = 20;

/// One measured figure.
struct Figure {
    name: &'static str,
    operation: &'static str,
    nanoseconds: u64,
}

/// Marks the start of a figure's window for `cargo qemu -- --breakdown`: the timing core calls
/// it right before its clock starts, and the window begins at that core's next clock read.
/// Never inlined, so that its entry is one address the launcher finds in the symbol table; the
/// fence keeps the call from being dropped as doing nothing.
#[inline(never)]
fn window_open() {
    compiler_fence(Ordering::SeqCst);
}

/// Marks the end of figure `name`'s window, which timed `operations` operations: the timing
/// core calls it right after its clock stops, and the window ends at that core's last clock
/// read. Prints `bench window <name> operations=<n>`, which tells the launcher the window's
/// figure and how many operations share its instructions.
#[inline(never)]
fn window_close(name: &str, operations: u64) {
    kprintln!("bench window {name} operations={operations}");
}

/// Starts a figure's clock, its window marked first.
fn clock_now() -> Instant {
    window_open();
    Instant::now()
}

/// Figure `name`, measured by `measure`, which is given the name for its window.
fn figure(
    name: &'static str,
    operation: &'static str,
    measure: impl FnOnce(&'static str) -> u64,
) -> Figure {
    Figure {
        name,
        operation,
        nanoseconds: measure(name),
    }
}

/// Starts timing a figure whose loop does not switch: a yield first gives this task a fresh
/// time slice (nothing else is queued on its core, so it goes on at once), so the slice's tick
/// cannot land inside the measurement (a slice is 10 ms; every figure takes less).
fn start_clock() -> Instant {
    sched::yield_now();
    clock_now()
}

/// Stops figure `name`'s clock, started at `start`, after `operations` operations: guest ns
/// since `start`. The window's end is marked after the clock is read.
fn stop_clock(start: Instant, name: &str, operations: u64) -> u64 {
    let elapsed = Instant::now().saturating_duration_since(start).as_nanos() as u64;
    window_close(name, operations);
    elapsed
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

/// The control: `CONTROL_ITERATIONS` turns of a two-instruction loop on `core`, timed there as
/// the figures are; guest ns for them all, which must come out as the loop's instruction count
/// (plus the few instructions of one clock read).
fn control_loop(core: usize) -> u64 {
    static ELAPSED: AtomicU64 = AtomicU64::new(0);
    spawn_pinned("control", core, || {
        let start = start_clock();
        // SAFETY: a register-only countdown: it touches no memory and no stack, and ends when
        // the register reaches 0 (it starts above 0).
        unsafe {
            core::arch::asm!(
                "2:",
                "subs {left}, {left}, #1",
                "b.ne 2b",
                left = inout(reg) CONTROL_ITERATIONS => _,
                options(nomem, nostack),
            );
        }
        ELAPSED.store(
            stop_clock(start, CONTROL, CONTROL_ITERATIONS),
            Ordering::Relaxed,
        );
    })
    .join();
    ELAPSED.load(Ordering::Relaxed)
}

/// Two tasks on one core yield to each other; cost per switch. One task times `ROUNDS` of its
/// yields, each a switch to the other task and back, while the other is sure to be yielding
/// throughout (it starts once the timer is ready and yields more times than the timer does).
fn yield_switch(name: &'static str, core: usize) -> u64 {
    static TIMER_READY: AtomicBool = AtomicBool::new(false);
    static PARTNER_LOOPING: AtomicBool = AtomicBool::new(false);
    static ELAPSED: AtomicU64 = AtomicU64::new(0);
    TIMER_READY.store(false, Ordering::Relaxed);
    PARTNER_LOOPING.store(false, Ordering::Relaxed);
    let partner = spawn_pinned("yield-b", core, || {
        while !TIMER_READY.load(Ordering::Acquire) {
            sched::yield_now();
        }
        PARTNER_LOOPING.store(true, Ordering::Release);
        for _ in 0..ROUNDS + 2 {
            sched::yield_now();
        }
    });
    let timer = spawn_pinned("yield-a", core, || {
        TIMER_READY.store(true, Ordering::Release);
        while !PARTNER_LOOPING.load(Ordering::Acquire) {
            sched::yield_now();
        }
        let start = clock_now();
        for _ in 0..ROUNDS {
            sched::yield_now();
        }
        ELAPSED.store(stop_clock(start, name, 2 * ROUNDS), Ordering::Relaxed);
    });
    timer.join();
    partner.join();
    ELAPSED.load(Ordering::Relaxed) / (2 * ROUNDS)
}

/// Two tasks hand a token back and forth through semaphores (block, wake, switch); cost per
/// hand-off. The pinger times `ROUNDS` round trips after a first, untimed one, so the ponger is
/// in its loop throughout.
fn handoff(name: &'static str, ping_core: usize, pong_core: usize) -> u64 {
    static PING: Semaphore = Semaphore::new(0);
    static PONG: Semaphore = Semaphore::new(0);
    static ELAPSED: AtomicU64 = AtomicU64::new(0);
    let ponger = spawn_pinned("pong", pong_core, || {
        for _ in 0..=ROUNDS {
            PING.acquire();
            PONG.release();
        }
    });
    let pinger = spawn_pinned("ping", ping_core, || {
        PING.release();
        PONG.acquire();
        let start = clock_now();
        for _ in 0..ROUNDS {
            PING.release();
            PONG.acquire();
        }
        ELAPSED.store(stop_clock(start, name, 2 * ROUNDS), Ordering::Relaxed);
    });
    pinger.join();
    ponger.join();
    ELAPSED.load(Ordering::Relaxed) / (2 * ROUNDS)
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
fn spawn_join(name: &str) -> u64 {
    let start = start_clock();
    for _ in 0..ROUNDS {
        // The task runs on this core, so the figure includes both switches.
        sched::spawn(
            SpawnOptions::named("empty").on_core(sched::current_core()),
            || {},
        )
        .expect("one empty task fits the task pool")
        .join();
    }
    stop_clock(start, name, ROUNDS) / ROUNDS
}

/// Arm `armed` timers at random deadlines, then time insert + cancel pairs on that queue (a
/// core's queue, lock included, but sized for 65,536).
fn timer_insert_cancel(name: &str, armed: usize) -> u64 {
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
    let start = start_clock();
    for index in 0..ROUNDS {
        let deadline = random.next_u64() >> 1;
        let mut queue = QUEUE.lock();
        if let Ok(handle) = queue.insert(deadline, index as u32) {
            queue.cancel(handle);
        }
    }
    stop_clock(start, name, ROUNDS) / ROUNDS
}

/// The monitor's mean pass over `MONITOR_PASSES` passes it makes, at its own pace, while every
/// other core is idle (this one waits for it); the monitor must be parked.
fn monitor_pass() -> u64 {
    let counters = &crate::monitor::kernel::COUNTERS;
    let table = &crate::registry::CORE_TABLE;
    let before = counters.snapshot(table);
    hold::measure_passes(MONITOR_PASSES);
    let after = counters.snapshot(table);
    (after.total_pass_cost_ns - before.total_pass_cost_ns) / (after.passes - before.passes)
}

/// With the timeline recording (feature and bootarg `trace`): the cost of recording one event,
/// timed on this core over `ROUNDS` events, which its ring still has room for at the start of
/// the benchmark (they show in the dump as timer fires on this core). `None` otherwise.
fn trace_event() -> Option<Figure> {
    #[cfg(feature = "trace")]
    if crate::trace::is_recording() {
        let start = start_clock();
        for _ in 0..ROUNDS {
            crate::trace::emit(|| crate::trace::Event::TimerFire);
        }
        return Some(figure(
            "trace_event",
            "record one timeline event (feature and bootarg `trace`)",
            |name| stop_clock(start, name, ROUNDS) / ROUNDS,
        ));
    }
    None
}

/// Runs every benchmark on `cores` cores, with the monitor parked, then measures the monitor's
/// pass with every other core idle, and prints the table and the script lines.
pub fn run(cores: usize) -> ExitCode {
    let (near, far) = bench_cores(cores);
    kprintln!(
        "bench: {cores} cores; figures are guest ns (instructions under -icount shift=0,sleep=off)"
    );
    hold::pause();
    let trace_figure = trace_event();
    let control_ns = control_loop(near);
    let figures = [
        Figure {
            name: CONTROL,
            operation: "control: a loop of 2 instructions, per turn",
            nanoseconds: control_ns / CONTROL_ITERATIONS,
        },
        figure(
            "yield_switch",
            "yield between two tasks on one core, per switch",
            |name| yield_switch(name, near),
        ),
        figure(
            "handoff_same_core",
            "block/wake hand-off, same core",
            |name| handoff(name, near, near),
        ),
        figure(
            "handoff_cross_core",
            "block/wake hand-off across two cores",
            |name| handoff(name, near, far),
        ),
        Figure {
            name: "sleep_lateness",
            operation: "sleep 100 us, lateness past the deadline",
            nanoseconds: sleep_lateness(near),
        },
        figure("spawn_join", "spawn + join an empty task", spawn_join),
        figure(
            "timer_insert_cancel_1k",
            "timer insert + cancel, 1,000 armed",
            |name| timer_insert_cancel(name, 1_000),
        ),
        figure(
            "timer_insert_cancel_64k",
            "timer insert + cancel, 64,000 armed",
            |name| timer_insert_cancel(name, 64_000),
        ),
    ];
    let monitor_ns = monitor_pass();
    hold::resume();
    kprintln!(
        "bench: control: {CONTROL_ITERATIONS} turns of a {CONTROL_LOOP_INSTRUCTIONS}-instruction loop took {control_ns} ns"
    );
    kprintln!("| operation | coresched |");
    kprintln!("| --- | --- |");
    for figure in figures.iter().chain(&trace_figure) {
        kprintln!("| {} | {} |", figure.operation, figure.nanoseconds);
    }
    kprintln!(
        "| monitor pass over {cores} cores, every other core idle (mean of {MONITOR_PASSES}) | {monitor_ns} |"
    );
    for figure in figures.iter().chain(&trace_figure) {
        kprintln!(
            "bench {} coresched={} linux=- unit=instructions",
            figure.name,
            figure.nanoseconds
        );
    }
    kprintln!("bench monitor_pass_{cores} coresched={monitor_ns} linux=- unit=instructions");
    ExitCode::Success
}
