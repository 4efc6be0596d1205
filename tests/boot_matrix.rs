//! The boot matrix's boots that are about the boot rather than single kernel tests: the largest
//! boards (124 vCPUs, where QEMU splits the GICv3 redistributors over two regions, and 512),
//! which run the boot tests and the seed's scenario (Go's deadlock seen at 96 cores, at the
//! scale coresched promises) under the deterministic clock, where the other scheduler stress
//! tests would take minutes of emulation; the test harness's self-tests, which show that a
//! failed assertion, a panic, a hung test, a stack overflow and a lock-up are each reported as
//! the kernel/host contract says; the `release` kernel's demo; and a selector that selects
//! nothing.
//!
//! The `test=all` boards up to 64 vCPUs are in `tests/kernel.rs`, one `cargo test` entry per
//! kernel test. One `#[test]` per case here. The launcher runs at most two QEMUs at once and a
//! boot of 64 vCPUs or more alone, so libtest's default threads are fine.
//! `cargo test -- --nocapture` shows each boot's line and wall time.

use std::time::Duration;

use coresched_qemu::{Boot, Clock, Gic, Machine, Outcome, Profile, TapResult};

/// The kernel tests every `test=all` boot must pass, each on every core.
const BOOT_TESTS: [&str; 3] = [
    "boot::cores_online",
    "boot::timer_irq_every_core",
    "boot::sgi_every_core",
];

/// A boot of the `kernel-test` kernel on `machine`, with a time-out generous enough for a busy
/// 2-core host (512 vCPUs take 30 s of wall time or more under TCG).
fn kernel_test_boot(machine: Machine, bootargs: &str) -> Outcome {
    Boot::new()
        .machine(machine)
        .bootargs(bootargs)
        .profile(Profile::KernelTest)
        .timeout(Duration::from_secs(120 + u64::from(machine.smp) / 2))
        .run()
        .unwrap_or_else(|error| panic!("could not boot {machine}: {error}"))
}

/// The seed's scenario: the monitor scanning through a storm of cross-core timer wake-ups with
/// a core flapping offline and online (Go's deadlock showed at 96 cores).
const SEED_SCENARIO: &str = "monitor::timer_wakeups_across_cores_with_the_monitor_scanning";

/// Boots the boot tests and the seed's scenario on `machine` under the deterministic clock and
/// checks the whole report: status 0, TAP 14, every boot test passed on every core, nothing
/// failed, the closing totals, and the boot line's core count.
///
/// Why the deterministic clock: with hundreds of vCPUs on a 2-core host, the host leaves a vCPU
/// unrun for a second or more when it is busy, and from inside the guest that is
/// indistinguishable from a stuck core (TCG has no steal clock: the counter, and even the PMU's
/// cycle counter, follow the host's clock). Under a loaded host such runs report stalls of
/// cores whose last interrupt was in their idle loop. Under `-icount shift=0,sleep=off` guest
/// time is the instructions the vCPUs execute, taking turns, so a vCPU waiting for its turn is
/// charged only the other vCPUs' work, as a hypervisor guest is charged no steal time: the
/// monitor's reports are then about the kernel.
fn assert_boot_and_seed_scenario_pass(machine: Machine) {
    let machine = Machine {
        clock: Clock::Deterministic,
        ..machine
    };
    // Emulating this many vCPUs is slow: give each kernel test more guest time.
    let outcome = kernel_test_boot(
        machine,
        &format!("test=boot::,{SEED_SCENARIO} test-timeout-ms=120000"),
    );
    let transcript = outcome.transcript();
    assert_eq!(outcome.exit_code(), Some(0), "{transcript}");
    assert_eq!(
        outcome.boot_line().map(|line| line.cores),
        Some(machine.smp),
        "boot line: {transcript}"
    );
    let tap = outcome.tap();
    assert_eq!(tap.version, Some(14), "TAP header: {transcript}");
    let cores = machine.smp.to_string();
    for name in BOOT_TESTS {
        let result = tap
            .result(name)
            .unwrap_or_else(|| panic!("{name} not reported: {transcript}"));
        assert!(result.passed, "{name} failed: {transcript}");
        assert_eq!(
            result.field("cores"),
            Some(cores.as_str()),
            "{name}: {transcript}"
        );
    }
    assert!(
        !outcome.console.contains("not ok"),
        "a test failed: {transcript}"
    );
    assert_eq!(
        outcome.last_line(),
        format!("{} passed, 0 failed", tap.results.len()),
        "closing line: {transcript}"
    );
}

fn gic_v3(smp: u32) -> Machine {
    Machine {
        smp,
        gic: Gic::V3,
        ..Machine::default()
    }
}

/// Above 123 vCPUs QEMU splits the redistributors over two regions.
#[test]
fn gic_v3_124_cores_two_redistributor_regions() {
    assert_boot_and_seed_scenario_pass(gic_v3(124));
}

#[test]
fn gic_v3_512_cores() {
    assert_boot_and_seed_scenario_pass(gic_v3(512));
}

/// Runs one harness self-test selection on the default board; returns the outcome and the
/// report for the test named `name`, which must be the only one run.
fn run_selftest(bootargs: &str, name: &str) -> (Outcome, TapResult) {
    let outcome = kernel_test_boot(Machine::default(), bootargs);
    let transcript = outcome.transcript();
    let tap = outcome.tap();
    assert_eq!(tap.version, Some(14), "TAP header: {transcript}");
    assert_eq!(tap.results.len(), 1, "only {name} runs: {transcript}");
    let result = tap
        .result(name)
        .unwrap_or_else(|| panic!("{name} not reported: {transcript}"))
        .clone();
    (outcome, result)
}

/// Checks a self-test that must fail: status 1, `not ok` with a diagnostic message, and the
/// closing line `0 passed, 1 failed`. Returns the message.
fn assert_reported_failed(bootargs: &str, name: &str) -> String {
    let (outcome, result) = run_selftest(bootargs, name);
    let transcript = outcome.transcript();
    assert_eq!(outcome.exit_code(), Some(1), "{transcript}");
    assert!(!result.passed, "{name} passed: {transcript}");
    assert_eq!(outcome.last_line(), "0 passed, 1 failed", "{transcript}");
    let message = result.message().unwrap_or_default();
    assert!(!message.is_empty(), "no message: {transcript}");
    message
}

#[test]
fn selftest_expected_pass_passes() {
    let name = "selftest::expected_pass";
    let (outcome, result) = run_selftest(&format!("test={name}"), name);
    let transcript = outcome.transcript();
    assert_eq!(outcome.exit_code(), Some(0), "{transcript}");
    assert!(result.passed, "{transcript}");
    assert_eq!(outcome.last_line(), "1 passed, 0 failed", "{transcript}");
}

#[test]
fn selftest_expected_fail_reports_the_assertion() {
    let name = "selftest::expected_fail";
    let message = assert_reported_failed(&format!("test={name}"), name);
    assert_eq!(
        message, "check failed: 1 + 1 == 3 (left: 2, right: 3)",
        "the failing check and both values"
    );
}

#[test]
fn selftest_expected_panic_reports_the_panic_message() {
    let name = "selftest::expected_panic";
    let message = assert_reported_failed(&format!("test={name}"), name);
    assert!(
        message.contains("deliberate panic from a kernel test") && message.contains("selftest.rs"),
        "the panic's message and location: {message}"
    );
}

#[test]
fn selftest_expected_timeout_is_ended_after_its_limit() {
    let name = "selftest::expected_timeout";
    let message = assert_reported_failed(&format!("test={name} test-timeout-ms=500"), name);
    assert!(
        message.contains("timed out after 500 ms"),
        "message: {message}"
    );
}

#[test]
fn selftest_stack_overflow_is_reported_with_core_task_and_address() {
    let name = "selftest::stack_overflow";
    let message = assert_reported_failed(&format!("test={name}"), name);
    assert!(
        message.starts_with("stack overflow on core ")
            && message.contains(", task deep, address 0x"),
        "message: {message}"
    );
}

#[test]
fn selftest_lock_up_is_reported_with_the_lock_and_its_holder() {
    let name = "selftest::lock_up";
    let message = assert_reported_failed(&format!("test={name} stall-ms=100"), name);
    assert!(
        message.starts_with("lock-up on core 0: waited ")
            && message.contains(" ms for wait_queue; core 3 holds [WaitQueue]"),
        "message: {message}"
    );
}

/// `cargo qemu` with no flags boots the `release` kernel (no rank checker, no perturbation), a
/// different build from every other case here: it must come up and finish the demo.
#[test]
fn release_kernel_runs_the_demo() {
    let outcome = Boot::new()
        .machine(Machine::default())
        .profile(Profile::Release)
        .timeout(Duration::from_secs(120))
        .run()
        .unwrap_or_else(|error| panic!("could not boot: {error}"));
    let transcript = outcome.transcript();
    assert_eq!(outcome.exit_code(), Some(0), "{transcript}");
    assert!(
        outcome
            .console
            .contains("demo: 4 of 4 cores answered; every core's timer fired: true"),
        "{transcript}"
    );
}

/// A test selection that selects nothing is a boot error naming the selector, not an empty
/// pass.
#[test]
fn a_selector_matching_no_test_is_an_error() {
    let outcome = kernel_test_boot(Machine::default(), "test=sched::,nosuch::");
    let transcript = outcome.transcript();
    assert_eq!(outcome.exit_code(), Some(3), "{transcript}");
    assert!(
        outcome
            .console
            .contains("bootargs: test=sched::,nosuch::: `nosuch::` selects no kernel test"),
        "{transcript}"
    );
}
