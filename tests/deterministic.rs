//! Deterministic, seeded runs: under QEMU's `-icount shift=0,sleep=off` a seeded boot of the
//! `kernel-test` kernel repeats byte for byte, another seed takes another interleaving, and
//! `--repeat` runs a stress test under several seeds and names each failing seed with the
//! command that repeats it.
//!
//! Nothing is stripped from the consoles before comparing them: every figure the kernel prints
//! (log timestamps, `guest_us`, the monitor's counters) is guest time, which the deterministic
//! clock counts in instructions, and the board (load address, DTB) is QEMU's own. The host's
//! speed shows only in the launcher's wall times, which are not part of the console.

use std::ffi::OsString;
use std::time::Duration;

use coresched_qemu::cli::{self, Command};
use coresched_qemu::{Boot, Console, Outcome, Profile, Repeat, Tally};

/// Scheduler tests that move work between cores (stealing, blocking and waking across cores,
/// pinning) and take little guest time: the sleeper and spawn-capacity tests are left out, as
/// the perturbation makes them several seconds long under the deterministic clock.
const SCHED_SELECTION: &str = "test=sched::unbalanced_load_spreads_by_stealing,\
sched::mutex_semaphore_and_event_block_and_wake,sched::pinned_tasks_never_leave_their_core,\
sched::spawn_and_join";

fn seeded_boot(seed: u64) -> Outcome {
    let outcome = Boot::new()
        .smp(4)
        .bootargs(SCHED_SELECTION)
        .profile(Profile::KernelTest)
        .seed(Some(seed))
        .timeout(Duration::from_secs(120))
        .run()
        .unwrap_or_else(|error| panic!("could not boot seed {seed}: {error}"));
    assert_eq!(outcome.exit_code(), Some(0), "{}", outcome.transcript());
    outcome
}

/// Each test's name and `guest_us`, in the order they ran.
fn guest_times(outcome: &Outcome) -> Vec<(String, String)> {
    outcome
        .tap()
        .results
        .iter()
        .map(|result| {
            let guest_us = result.field("guest_us").unwrap_or("-").to_owned();
            (result.name.clone(), guest_us)
        })
        .collect()
}

#[test]
fn a_seed_repeats_its_run_byte_for_byte_and_another_seed_changes_it() {
    let first = seeded_boot(7);
    let again = seeded_boot(7);
    let differing_line = first
        .console
        .lines()
        .zip(again.console.lines())
        .find(|(one, other)| one != other);
    assert!(
        first.console == again.console,
        "seed 7 twice, first differing line: {differing_line:?}\n{}\n{}",
        first.transcript(),
        again.transcript()
    );
    assert_eq!(first.tap().results.len(), 4, "{}", first.transcript());

    let other = seeded_boot(8);
    assert_ne!(
        guest_times(&first),
        guest_times(&other),
        "seeds 7 and 8 ran alike:\n{}\n{}",
        first.transcript(),
        other.transcript()
    );
}

/// Parses `cargo qemu` flags as the launcher does (stdin not a terminal).
fn parse(flags: &[&str]) -> Command {
    cli::parse_args(flags.iter().map(OsString::from), false)
        .unwrap_or_else(|error| panic!("{flags:?}: {error}"))
}

fn repeat(flags: &[&str]) -> Repeat {
    match parse(flags) {
        Command::Repeat(repeat) => repeat,
        other => panic!("{flags:?} gave {other:?}"),
    }
}

#[test]
fn the_monitor_storm_passes_under_five_seeds() {
    // The two other `monitor::` tests each keep a core masked for 2 s of guest time, which under
    // the deterministic clock is 2e9 emulated instructions: over half a minute per boot here.
    let name = "monitor::timer_wakeups_across_cores_with_the_monitor_scanning";
    let bootargs = format!("test={name}");
    let series = repeat(&[
        "--smp",
        "16",
        "--bootargs",
        &bootargs,
        "--repeat",
        "5",
        "--seed",
        "1",
    ]);
    let report = series.run().expect("the series runs");
    eprintln!("{report}");
    let seeds: Vec<u64> = report.runs.iter().map(|run| run.seed).collect();
    assert_eq!(seeds, [1, 2, 3, 4, 5]);
    assert!(report.all_passed(), "{report}");
    assert_eq!(
        report.tallies(),
        [Tally {
            name: name.to_owned(),
            passed: 5,
            failed: 0,
            not_reported: 0
        }],
        "{report}"
    );
}

#[test]
fn repeat_names_each_failing_seed_and_the_command_that_repeats_it() {
    let flags = ["--smp", "2", "--bootargs", "test=selftest::expected_fail"];
    let series = repeat(&[&flags[..], &["--repeat", "2", "--seed", "41"]].concat());
    let report = series.run().expect("the series runs");
    assert_eq!(report.exit_code(), 1, "{report}");
    let failed: Vec<u64> = report.failures().map(|run| run.seed).collect();
    assert_eq!(failed, [41, 42], "{report}");
    let summary = report.to_string();
    for run in report.failures() {
        let command = report.reproduction(run.seed);
        assert_eq!(
            command,
            format!("cargo qemu -- {} --seed {}", flags.join(" "), run.seed)
        );
        assert!(summary.contains(&command), "{summary}");
        // The command boots that run again: the same TAP report, guest times included.
        let words: Vec<&str> = command.split(' ').skip(3).collect();
        let Command::Boot(boot, _) = parse(&words) else {
            panic!("{command} is not one boot")
        };
        let again = boot
            .console(Console::Captured)
            .run()
            .expect("the reproduction boots");
        assert_eq!(again.exit_code(), Some(1), "{}", again.transcript());
        assert_eq!(again.tap(), run.tap, "{command}: {}", again.transcript());
    }
}

/// Every task slot pinned to one core, far more than its run queue holds: the overflow waits in
/// the global queue for that core alone. When idle cores took those tasks, found the owner's
/// queue full and put them back, they kept the owner from its own run-queue lock and this test
/// timed out on the deterministic clock on every run (40 s of guest time; it needs about 6).
#[test]
fn tasks_pinned_past_their_queue_wait_for_their_core_without_starving_it() {
    let outcome = Boot::new()
        .smp(4)
        .bootargs("test=sched::every_task_the_pool_allows_sleeps_at_once")
        .profile(Profile::KernelTest)
        .deterministic(true)
        .timeout(Duration::from_secs(180))
        .run()
        .expect("the deterministic boot runs");
    assert_eq!(outcome.exit_code(), Some(0), "{}", outcome.transcript());
    let tap = outcome.tap();
    assert_eq!(tap.results.len(), 1, "{}", outcome.transcript());
    assert!(tap.results[0].passed, "{}", outcome.transcript());
}
