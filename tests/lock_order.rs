//! The lock discipline, shown to catch what it is for:
//! - a kernel test that takes two locks against the order fails with the rank checker's report;
//! - the seed's deadlock (Go issue 35375) restored with the `legacy-monitor-lock-order` build:
//!   the monitor holds the global scheduler lock while it takes every core's timer-queue lock,
//!   and each core readies woken work under its timer-queue lock, then takes the global lock.
//!   With the checker on, the monitor's first pass is reported as an inversion; with it off,
//!   the cores deadlock against the monitor, the buddy watchdog reports the hung monitor and
//!   the lock-up detector stops the run naming the cycle (the buddy usually
//!   reports the hung monitor first).
//!
//! A caught failure is the expected result of every test here.

use std::time::Duration;

use coresched_qemu::{Boot, Machine, Outcome, Profile};

const LEGACY: &str = "legacy-monitor-lock-order";
const STRESS: &str = "test=monitor::timer_wakeups_across_cores_with_the_monitor_scanning";
const INVERSION: &str =
    "acquiring timer_queue (TimerQueue=1) while holding global_sched (GlobalSched=2)";

fn boot(feature: Option<&str>, bootargs: &str) -> Outcome {
    let mut boot = Boot::new()
        .machine(Machine::default())
        .bootargs(bootargs)
        .profile(Profile::KernelTest)
        .timeout(Duration::from_secs(90));
    if let Some(feature) = feature {
        boot = boot.feature(feature);
    }
    boot.run()
        .unwrap_or_else(|error| panic!("could not boot: {error}"))
}

#[test]
fn a_kernel_test_taking_locks_out_of_order_fails_with_the_checker_report() {
    let outcome = boot(None, "test=selftest::lock_order_inversion");
    let transcript = outcome.transcript();
    assert_eq!(outcome.exit_code(), Some(1), "{transcript}");
    let tap = outcome.tap();
    let result = tap
        .result("selftest::lock_order_inversion")
        .unwrap_or_else(|| panic!("not reported: {transcript}"));
    assert!(!result.passed, "{transcript}");
    let message = result.message().unwrap_or_default();
    assert!(
        message.contains("lock order inversion on core 0: "),
        "{message}"
    );
    assert!(message.contains(INVERSION), "{message}");
}

#[test]
fn the_2019_monitor_order_is_reported_by_the_rank_checker_on_its_first_pass() {
    let outcome = boot(Some(LEGACY), STRESS);
    let transcript = outcome.transcript();
    assert_ne!(outcome.exit_code(), Some(0), "{transcript}");
    assert!(
        outcome.console.contains("lock order inversion on core ")
            && outcome.console.contains(INVERSION),
        "no inversion report: {transcript}"
    );
}

#[test]
fn the_2019_deadlock_without_the_checker_is_reported_by_the_watchdog() {
    // The deadlock is a race; the storm makes it near certain, and three boots make it sure.
    // Once it happens, the lock-up detector of a core spinning in it stops the run and names the
    // cycle: the monitor's core holds the global lock, a storm core holds its timer-queue lock.
    // The monitor's buddy (core 0) usually reports the hung monitor first, unless its own core
    // was caught in the deadlock too, which the lock-up detector does not depend on.
    let caught = (0..3).find_map(|_| {
        let outcome = boot(
            Some(LEGACY),
            &format!("{STRESS} rank-check=off test-timeout-ms=5000 stall-ms=200"),
        );
        (outcome.exit_code() != Some(0)).then_some(outcome)
    });
    let outcome =
        caught.unwrap_or_else(|| panic!("three boots with the 2019 order ran without deadlocking"));
    let transcript = outcome.transcript();
    assert!(
        outcome.console.contains("lock-up on core ")
            && outcome.console.contains("core 3 holds [GlobalSched]")
            && outcome.console.contains(" holds [TimerQueue]"),
        "the lock-up detector did not report the cycle: {transcript}"
    );
}
