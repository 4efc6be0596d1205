//! QEMU's models of real boards boot the one Image: `xlnx-versal-virt` (2 Cortex-A72, GICv3,
//! PL011, QEMU's own DTB), `xlnx-zcu102` (4 Cortex-A53, GIC-400, Cadence UART, Debian's DTB)
//! and `raspi3b` (4 Cortex-A53 started through spin tables, the BCM2836 per-core interrupt
//! controller, the mini UART, Debian's DTB). Each runs the boot tests (`test=boot::`) on the
//! `kernel-test` kernel and must bring every core online and pass them all, each on every core.
//!
//! `--build-only` for the Raspberry Pi 3 gives its firmware the Image as `kernel8.img`.
//!
//! Each boot takes about a second of wall time; the launcher runs at most two at once.

use std::time::Duration;

use coresched_qemu::{Boot, Model, Profile};

/// The kernel tests each board must pass on every core.
const BOOT_TESTS: [&str; 3] = [
    "boot::cores_online",
    "boot::timer_irq_every_core",
    "boot::sgi_every_core",
];

/// Boots `model` with its default DTB and checks that all its `cores` came online and passed
/// every boot test on all of them, and that the run ended with status 0 and the closing tally.
fn assert_boot_tests_pass(model: Model, cores: u32) {
    let outcome = Boot::new()
        .model(model)
        .bootargs("test=boot::")
        .profile(Profile::KernelTest)
        .timeout(Duration::from_secs(120))
        .run()
        .unwrap_or_else(|error| panic!("could not boot {model}: {error}"));
    let transcript = outcome.transcript();
    assert_eq!(outcome.exit_code(), Some(0), "{transcript}");
    assert_eq!(
        outcome.boot_line().map(|line| line.cores),
        Some(cores),
        "boot line: {transcript}"
    );
    let tap = outcome.tap();
    let cores = cores.to_string();
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
    assert_eq!(
        outcome.last_line(),
        format!("{} passed, 0 failed", BOOT_TESTS.len()),
        "closing line: {transcript}"
    );
}

#[test]
fn versal_brings_both_cortex_a72_online() {
    assert_boot_tests_pass(Model::Versal, 2);
}

#[test]
fn zcu102_brings_four_cortex_a53_online_through_psci() {
    assert_boot_tests_pass(Model::Zcu102, 4);
}

#[test]
fn raspi3b_brings_four_cortex_a53_online_through_spin_tables_and_the_bcm2836() {
    assert_boot_tests_pass(Model::Raspi3b, 4);
}

#[test]
fn build_only_gives_the_raspberry_pi_firmware_its_kernel8_img() {
    let files = Boot::new()
        .model(Model::Raspi3b)
        .profile(Profile::KernelTest)
        .build_only()
        .unwrap_or_else(|error| panic!("could not build: {error}"));
    let names: Vec<_> = files
        .iter()
        .filter_map(|file| file.file_name()?.to_str())
        .collect();
    assert_eq!(names, ["coresched.Image", "kernel8.img"]);
    let read = |file| std::fs::read(file).expect("a built file");
    assert_eq!(read(&files[0]), read(&files[1]), "the same Image");
}
