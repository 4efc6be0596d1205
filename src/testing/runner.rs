//! Runs the selected kernel tests on the boot core and prints TAP.
//!
//! Each test gets a time limit: a kernel timer on the running core whose expiry stops the
//! system. A test that panics or times out ends the run through the fatal path, which calls
//! [`report_fatal_in_test`] to print it as `not ok` with its message and the final tally.

use core::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use core::time::Duration;

use super::tap::{self, Outcome};
use super::{KernelTest, TestContext};
use crate::arch::aarch64::cpu;
use crate::arch::aarch64::stop::ExitCode;
use crate::platform::bootargs::{BootArgs, TestSelection};
use crate::platform::console::print;
use crate::time::Instant;
use crate::timer::{self, Expiry};

unsafe extern "C" {
    static __kernel_tests_start: u8;
    static __kernel_tests_end: u8;
}

/// Every registered test, in link order.
fn registered() -> &'static [KernelTest] {
    // SAFETY: the linker script brackets the `.kernel_tests` section, which holds only the
    // `KernelTest` statics `kernel_test!` places there, with these two symbols.
    unsafe {
        let start = (&raw const __kernel_tests_start).cast::<KernelTest>();
        let end = (&raw const __kernel_tests_end).cast::<KernelTest>();
        core::slice::from_raw_parts(start, end.offset_from(start) as usize)
    }
}

/// The test running now, as 1-based number (0: none), and the tallies so far.
static RUNNING: AtomicUsize = AtomicUsize::new(0);
static RUNNING_TEST: AtomicPtr<KernelTest> = AtomicPtr::new(core::ptr::null_mut());
static PASSED: AtomicUsize = AtomicUsize::new(0);
static FAILED: AtomicUsize = AtomicUsize::new(0);
static RUNNING_SINCE_NS: AtomicU64 = AtomicU64::new(0);
static CORES: AtomicUsize = AtomicUsize::new(1);
static TIME_LIMIT_MS: AtomicU64 = AtomicU64::new(0);

/// Runs every test the bootargs select, each with the cores and time limit they give.
pub fn run(selection: &TestSelection, args: &BootArgs, online_cores: usize) -> ExitCode {
    if let Some(unmatched) = selection
        .each()
        .find(|one| !registered().iter().any(|test| one.matches(&test.name())))
    {
        crate::kernel::fatal(format_args!(
            "bootargs: test={selection}: `{unmatched}` selects no kernel test"
        ));
    }
    let selected = |test: &&KernelTest| selection.matches(&test.name());
    let count = registered().iter().filter(selected).count();
    let cores = args
        .test_cores
        .map_or(online_cores, |wanted| wanted.get().min(online_cores));
    let time_limit_ms = u64::from(args.test_timeout_ms.get());
    CORES.store(cores, Ordering::Relaxed);
    TIME_LIMIT_MS.store(time_limit_ms, Ordering::Relaxed);
    let mut text = TapText::new();
    let _ = tap::write_plan(&mut text, count);
    print(format_args!("{text}"));
    for (index, test) in registered().iter().filter(selected).enumerate() {
        RUNNING_TEST.store(core::ptr::from_ref(test).cast_mut(), Ordering::Release);
        RUNNING.store(index + 1, Ordering::Release);
        let started = cpu::now_ns();
        RUNNING_SINCE_NS.store(started, Ordering::Relaxed);
        let limit = timer::arm_on(
            cpu::core_id(),
            started.saturating_add(time_limit_ms * 1_000_000),
            Expiry {
                callback: time_limit_expired,
                argument: index,
            },
        );
        let live_before = crate::sched::task::live();
        let result = (test.run)(&TestContext { cores });
        if let Ok(limit) = limit {
            timer::cancel(limit);
        }
        let leftovers = wait_for_leftovers(live_before);
        RUNNING_TEST.store(core::ptr::null_mut(), Ordering::Release);
        let guest_us = (cpu::now_ns() - started) / 1000;
        let name = test.name();
        let mut text = TapText::new();
        let _ = match &result {
            Ok(()) => {
                PASSED.fetch_add(1, Ordering::Relaxed);
                tap::write_result(
                    &mut text,
                    index + 1,
                    &name,
                    cores,
                    guest_us,
                    Outcome::Passed,
                )
            }
            Err(failure) => {
                FAILED.fetch_add(1, Ordering::Relaxed);
                let outcome = Outcome::Failed {
                    message: format_args!("{}", failure.message),
                    location: format_args!("{}", failure.location),
                };
                tap::write_result(&mut text, index + 1, &name, cores, guest_us, outcome)
            }
        };
        print(format_args!("{text}"));
        if leftovers > 0 {
            print(format_args!(
                "# {name} left {leftovers} tasks running after {} ms\n",
                LEFTOVER_WAIT.as_millis()
            ));
        }
    }
    let failed = FAILED.load(Ordering::Relaxed);
    crate::monitor::kernel::print_counters("# ");
    let mut text = TapText::new();
    let _ = tap::write_summary(&mut text, PASSED.load(Ordering::Relaxed), failed);
    print(format_args!("{text}"));
    if failed == 0 {
        ExitCode::Success
    } else {
        ExitCode::TestsFailed
    }
}

/// How long the runner lets the tasks a test left behind finish before the next test starts.
const LEFTOVER_WAIT: Duration = Duration::from_secs(10);

/// Waits until the tasks a test spawned and did not wait for have gone (tests share one boot:
/// a detached task still finishing would hold task slots and cores the next test counts on),
/// or [`LEFTOVER_WAIT`] passes. Returns how many are still there.
fn wait_for_leftovers(live_before: usize) -> usize {
    let give_up = Instant::now().saturating_add(LEFTOVER_WAIT);
    while crate::sched::task::live() > live_before && Instant::now() < give_up {
        crate::sched::sleep_for(Duration::from_millis(1));
    }
    crate::sched::task::live().saturating_sub(live_before)
}

fn time_limit_expired(_test_index: usize) {
    let mut state = heapless::String::<4096>::new();
    crate::sched::scheduler::report_cores(&mut state);
    print(format_args!("scheduler state at the time-out:\n{state}"));
    crate::kernel::fatal(format_args!(
        "timed out after {} ms",
        TIME_LIMIT_MS.load(Ordering::Relaxed)
    ))
}

/// If a test is running, prints it as failed with `message` plus the final tally and returns
/// the exit code for it; `None` outside tests. Called once, from the fatal path.
pub fn report_fatal_in_test(message: core::fmt::Arguments) -> Option<ExitCode> {
    let number = RUNNING.load(Ordering::Acquire);
    // SAFETY: RUNNING_TEST is null or points into the static `.kernel_tests` array.
    let test = unsafe { RUNNING_TEST.load(Ordering::Acquire).as_ref() }?;
    let guest_us = (cpu::now_ns() - RUNNING_SINCE_NS.load(Ordering::Relaxed)) / 1000;
    let outcome = Outcome::Failed {
        message,
        location: format_args!("core {}", cpu::core_id()),
    };
    let mut text = TapText::new();
    let _ = tap::write_result(
        &mut text,
        number,
        &test.name(),
        CORES.load(Ordering::Relaxed),
        guest_us,
        outcome,
    );
    let _ = tap::write_summary(
        &mut text,
        PASSED.load(Ordering::Relaxed),
        FAILED.load(Ordering::Relaxed) + 1,
    );
    crate::platform::console::emergency_print(format_args!("{text}"));
    Some(ExitCode::TestsFailed)
}

/// Room for one TAP test point with its YAML block, printed with one console write so other
/// cores' log lines cannot land inside it.
type TapText = heapless::String<1024>;
