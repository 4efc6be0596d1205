//! The launcher itself, without the kernel: bad `cargo qemu` flags stop with one line and exit
//! status 2, and QEMU runs end the way they should (a guest's semihosting exit status comes
//! through, a hung guest is ended at its time-out, a missing Image is QEMU's error) using
//! Images of a few hand-assembled instructions.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use coresched_qemu::cli::{self, Command};
use coresched_qemu::exit::USAGE_EXIT_CODE;
use coresched_qemu::{Boot, LaunchError, Outcome};

#[test]
fn bad_flags_stop_with_one_line_and_status_2() {
    let bad_command_lines: [&[&str]; 12] = [
        &["--smp", "0"],
        &["--gic", "5"],
        &["--smp", "9", "--gic", "2"],
        &["--smp"],
        &["--mem", "64M"],
        &["--no-such-flag"],
        &["--", "--cpu", "pentium"],
        &["--vs-linux", "--gdb"],
        &["--seed", "-1"],
        &["--repeat", "0"],
        &["--repeat", "3", "--gdb"],
        &["--deterministic=yes"],
    ];
    assert_eq!(USAGE_EXIT_CODE, 2);
    for args in bad_command_lines {
        let error =
            cli::parse_args(args.iter().map(OsString::from), false).expect_err("a usage error");
        let line = error.to_string();
        assert!(
            line.starts_with("coresched-qemu: error: ") && !line.contains('\n'),
            "{args:?} printed {line:?}"
        );
    }
}

#[test]
fn good_flags_parse_to_a_boot() {
    let args = ["--", "--smp", "512", "--el", "2", "--bench"].map(OsString::from);
    assert!(matches!(
        cli::parse_args(args, false),
        Ok(Command::Boot(..))
    ));
}

/// Writes `words` (little-endian A64 instructions and data) as a raw Image named `name`.
fn image(name: &str, words: &[u32]) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let bytes: Vec<u8> = words.iter().flat_map(|word| word.to_le_bytes()).collect();
    std::fs::write(&path, bytes).expect("write the test Image");
    path
}

fn boot(image: &std::path::Path, timeout: Duration) -> Outcome {
    Boot::new()
        .smp(1)
        .image(image)
        .timeout(timeout)
        .run()
        .expect("QEMU starts")
}

/// `b .`: spins forever.
const BRANCH_TO_SELF: u32 = 0x1400_0000;

#[test]
fn a_semihosting_exit_status_is_the_outcome() {
    // SYS_EXIT (0x18) with the parameter block { ADP_Stopped_ApplicationExit, 7 }.
    let exit_7 = image(
        "exit-7.Image",
        &[
            0x5280_0300, // movz w0, #0x18
            0x1000_0061, // adr x1, block (12 bytes on)
            0xd45e_0000, // hlt #0xf000: the semihosting call
            BRANCH_TO_SELF,
            0x0002_0026, // block: reason, low then high word
            0,
            7, // block: exit status, low then high word
            0,
        ],
    );
    let outcome = boot(&exit_7, Duration::from_secs(60));
    assert_eq!(outcome.exit_code(), Some(7), "{}", outcome.transcript());
    assert!(!outcome.timed_out);
    assert_eq!(outcome.boot_line(), None);
}

#[test]
fn a_hung_guest_is_ended_at_its_time_out() {
    let spin = image("spin.Image", &[BRANCH_TO_SELF]);
    let timeout = Duration::from_secs(2);
    let outcome = boot(&spin, timeout);
    assert!(outcome.timed_out, "{}", outcome.transcript());
    assert_eq!(outcome.exit_code(), None);
    assert!(outcome.wall >= timeout, "ended early: {:?}", outcome.wall);
    // SIGTERM ends QEMU at once; SIGKILL would follow 3 s later.
    assert!(
        outcome.wall < Duration::from_secs(10),
        "ended late: {:?}",
        outcome.wall
    );
}

#[test]
fn a_missing_image_is_a_launch_failure_with_qemus_reason() {
    let missing = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("no-such.Image");
    let error = Boot::new()
        .smp(1)
        .image(&missing)
        .run()
        .expect_err("QEMU cannot start");
    let LaunchError::QemuFailed(why) = &error else {
        panic!("{error:?}");
    };
    assert!(why.contains("no-such.Image"), "{error}");
}

/// Guest memory QEMU cannot allocate on this host: the launcher exits 125 ("could not start
/// QEMU"), not 1, which means a kernel test failed.
#[test]
fn memory_the_host_cannot_give_is_a_launch_failure() {
    let error = Boot::new()
        .smp(1)
        .mem_mib(4096 * 1024)
        .image(&image("spin-big.Image", &[BRANCH_TO_SELF]))
        .timeout(Duration::from_secs(10))
        .run()
        .expect_err("QEMU cannot start");
    assert!(
        error
            .to_string()
            .starts_with("QEMU could not start the machine: "),
        "{error}"
    );
}
