//! The scheduler timeline on real boots: `--trace FILE` and `--trace-png FILE` on a 4-vCPU run
//! with cross-core wake-ups give a Chrome trace with events from every core, a wake-up flow
//! from one core to another and the drop count, and a PNG; the fatal path dumps the timeline
//! too; and a kernel built without the feature refuses the bootarg `trace` in one line.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::PathBuf;

use coresched_qemu::cli::{self, Command};
use coresched_qemu::trace::Dump;
use coresched_qemu::{Boot, Outcome, Profile};
use serde_json::Value;

/// Boots what `flags` say (with `--profile kernel-test` and `--deterministic`), writes the
/// reports they ask for, and returns the run.
fn traced_boot(flags: &[&str]) -> Outcome {
    let flags = [&["--profile", "kernel-test", "--deterministic"][..], flags].concat();
    let Ok(Command::Boot(boot, reports)) = cli::parse_args(flags.iter().map(OsString::from), false)
    else {
        panic!("{flags:?} is a boot");
    };
    let outcome = boot.run().expect("QEMU starts");
    reports
        .write(&boot.board(), &boot.kernel_command_line(), &outcome)
        .unwrap_or_else(|error| panic!("{error}\n{}", outcome.transcript()));
    outcome
}

#[test]
fn a_traced_boot_writes_a_chrome_trace_with_every_core_and_a_cross_core_wake_up() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let json = dir.join("timeline.json");
    let png = dir.join("timeline.png");
    let outcome = traced_boot(&[
        "--smp",
        "4",
        "--bootargs",
        "test=sched::unbalanced_load_spreads_by_stealing,sched::mutex_semaphore_and_event_block_and_wake",
        "--trace",
        json.to_str().expect("UTF-8 path"),
        "--trace-png",
        png.to_str().expect("UTF-8 path"),
    ]);
    assert_eq!(outcome.exit_code(), Some(0), "{}", outcome.transcript());
    assert!(
        outcome
            .console
            .lines()
            .any(|line| line.starts_with("trace: ") && line.contains(" dropped")),
        "the kernel prints the drop count:\n{}",
        outcome.transcript()
    );

    let trace: Value = serde_json::from_slice(&std::fs::read(&json).expect("trace written"))
        .expect("the trace is JSON");
    let events = trace["traceEvents"]
        .as_array()
        .expect("a traceEvents array");
    let cores: HashSet<_> = events
        .iter()
        .filter(|event| event["ph"] != "M")
        .map(|event| {
            event["tid"]
                .as_u64()
                .expect("every event is on a core's track")
        })
        .collect();
    assert_eq!(cores, HashSet::from([0, 1, 2, 3]), "events from every core");
    assert!(
        events
            .iter()
            .any(|event| event["ph"] == "X" && event["cat"] == "task"),
        "task runs are slices"
    );
    let flow_ends = |ph: &str| -> HashMap<u64, u64> {
        events
            .iter()
            .filter(|event| event["ph"] == ph)
            .map(|event| {
                (
                    event["id"].as_u64().unwrap(),
                    event["tid"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let (starts, finishes) = (flow_ends("s"), flow_ends("f"));
    assert!(
        starts
            .iter()
            .any(|(id, core)| finishes.get(id).is_some_and(|other| other != core)),
        "a wake-up flows from one core to another"
    );
    assert!(
        trace["otherData"]["dropped"].is_u64(),
        "the drop count is in the file"
    );
    assert_eq!(
        trace["otherData"]["cores"].as_array().map(Vec::len),
        Some(4)
    );

    let picture = std::fs::read(&png).expect("picture written");
    assert!(picture.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG file");
    assert!(
        !outcome.transcript().is_empty() && Dump::parse(&outcome.console).is_ok(),
        "the dump stays in the captured console"
    );
}

#[test]
fn a_kernel_panic_still_dumps_the_timeline() {
    let outcome = traced_boot(&[
        "--smp",
        "2",
        "--bootargs",
        "test=selftest::expected_panic",
        "--trace",
        PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("panic.json")
            .to_str()
            .expect("UTF-8 path"),
    ]);
    assert_eq!(outcome.exit_code(), Some(1), "{}", outcome.transcript());
    let dump = Dump::parse(&outcome.console).expect("a whole dump");
    assert!(!dump.records.is_empty(), "{}", outcome.transcript());
}

#[test]
fn a_kernel_without_the_feature_refuses_the_bootarg_in_one_line() {
    let outcome = Boot::new()
        .smp(1)
        .bootargs("demo trace")
        .profile(Profile::KernelTest)
        .run()
        .expect("QEMU starts");
    assert_eq!(outcome.exit_code(), Some(3), "{}", outcome.transcript());
    let refusals: Vec<_> = outcome
        .console
        .lines()
        .filter(|line| line.contains("`trace`"))
        .collect();
    assert_eq!(
        refusals,
        [
            "bootargs: `trace` needs a kernel built with the cargo feature `trace` (cargo qemu -- --trace FILE builds one)"
        ],
        "{}",
        outcome.transcript()
    );
}
