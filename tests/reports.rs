//! CI-readable reports of a real boot: `--junit FILE` is well-formed JUnit XML naming the
//! failing kernel test with its message and location, and `--tap FILE` is TAP 13 that Debian's
//! `prove` reads (it refuses the kernel's own TAP 14), failing because a test failed.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command as Process;

use coresched_qemu::cli::{self, Command};
use quick_xml::Reader;
use quick_xml::events::Event;

/// Every element name in `xml`, in order; panics unless it is well-formed (every tag closed by
/// its own name, nothing after the end).
fn elements(xml: &str) -> Vec<String> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut names = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(tag) | Event::Empty(tag)) => {
                names.push(String::from_utf8_lossy(tag.name().as_ref()).into_owned());
            }
            Ok(Event::Eof) => return names,
            Ok(_) => {}
            Err(error) => panic!(
                "not well-formed XML at {}: {error}\n{xml}",
                reader.buffer_position()
            ),
        }
    }
}

#[test]
fn junit_and_tap_13_report_a_failing_kernel_test() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let junit = dir.join("reports.junit.xml");
    let tap = dir.join("reports.tap");
    let flags = [
        "--profile",
        "kernel-test",
        "--smp",
        "2",
        "--bootargs",
        "test=selftest::expected_pass,selftest::expected_fail",
        "--junit",
        junit.to_str().expect("UTF-8 path"),
        "--tap",
        tap.to_str().expect("UTF-8 path"),
    ];
    let Ok(Command::Boot(boot, reports)) = cli::parse_args(flags.iter().map(OsString::from), false)
    else {
        panic!("{flags:?} is a boot");
    };
    let outcome = boot.run().expect("QEMU starts");
    assert_eq!(outcome.exit_code(), Some(1), "{}", outcome.transcript());
    reports
        .write(&boot.board(), &boot.kernel_command_line(), &outcome)
        .expect("reports written");

    let xml = std::fs::read_to_string(&junit).expect("the JUnit file");
    let names = elements(&xml);
    assert_eq!(names[..2], ["testsuites", "testsuite"], "{xml}");
    assert_eq!(
        names.iter().filter(|name| *name == "testcase").count(),
        2,
        "{xml}"
    );
    assert_eq!(
        names.iter().filter(|name| *name == "failure").count(),
        1,
        "{xml}"
    );
    for expected in [
        "<testsuite name=\"coresched smp=2 gic=3 cpu=cortex-a72 el=1 mem=1024M\" tests=\"2\"",
        "<testcase name=\"selftest::expected_pass\" classname=\"selftest\"",
        "<testcase name=\"selftest::expected_fail\" classname=\"selftest\"",
        "<property name=\"cores\" value=\"2\"/>",
        "<property name=\"at\" value=\"src/testing/selftest.rs:",
        "<failure message=\"check failed: 1 + 1 == 3 (left: 2, right: 3)\" type=\"kernel test failure\">",
    ] {
        assert!(xml.contains(expected), "{expected} missing from {xml}");
    }

    let text = std::fs::read_to_string(&tap).expect("the TAP file");
    assert!(text.starts_with("TAP version 13\n1..2\n"), "{text}");
    let Ok(prove) = Process::new("prove")
        .arg("--exec")
        .arg("cat")
        .arg(&tap)
        .output()
    else {
        eprintln!("SKIPPED the prove check: prove (Debian's perl) is not installed");
        return;
    };
    let said = String::from_utf8_lossy(&prove.stdout);
    assert_eq!(prove.status.code(), Some(1), "prove fails the run: {said}");
    // The kernel runs its tests in link order: find the failing one's number in the TAP.
    let failing = text
        .lines()
        .find_map(|line| {
            line.strip_prefix("not ok ")?
                .split_once(" - selftest::expected_fail")
        })
        .map(|(number, _)| number.to_owned())
        .unwrap_or_else(|| panic!("no `not ok` line for expected_fail: {text}"));
    assert!(
        said.contains(&format!("Failed test:  {failing}")),
        "the failing test by number: {said}"
    );
    assert!(
        !said.contains("Parse errors"),
        "prove parses TAP 13: {said}"
    );
    assert!(said.contains("Result: FAIL"), "{said}");
}
