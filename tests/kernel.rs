//! The kernel tests as `cargo test` entries: the `kernel-test` kernel is booted with `test=all`
//! on each board shape up to 64 vCPUs (GICv2 and GICv3, three CPU models, EL1 and EL2 entry)
//! and on QEMU's Raspberry Pi 3 (spin tables, the BCM2836 controller, no PSCI: hotplug refused),
//! and every kernel test in its TAP report becomes one libtest trial named
//! `<board>::<kernel test>`, e.g. `gic_v3_4_cores::sched::spawn_and_join`. Each board also has
//! a `<board>::whole_run` trial: status 0, a TAP 14 report with every planned result, the
//! closing tally, and the boot line's core count.
//!
//! A filter selects boots as well as trials: `cargo test -- sched::` boots every board with
//! `test=sched::`, `cargo test -- gic_v3_4_cores::` boots that board alone, and
//! `cargo test -- gic_v2_8_cores::boot::cores_online` boots that board with that test. A filter
//! the kernel cannot take as a selector (`cores_online`, a part of a name) boots `test=all`
//! and leaves the choice to libtest. Listing (`--list`) boots too: the tests are known only
//! from the kernel's report.
//!
//! The boards boot in parallel; the launcher runs at most two QEMUs at once, and 64 vCPUs alone.

use std::thread;
use std::time::Duration;

use coresched_qemu::{Boot, Cpu, ExceptionLevel, Gic, Machine, Model, Outcome, Profile};
use libtest_mimic::{Arguments, Failed, Trial};

/// The kernel tests that must pass on every core of every board.
const BOOT_TESTS: [&str; 3] = [
    "boot::cores_online",
    "boot::timer_irq_every_core",
    "boot::sgi_every_core",
];

/// The name of each board's trial for the run as a whole.
const WHOLE_RUN: &str = "whole_run";

/// What the kernel prints when a `test=` selector selects nothing.
const SELECTS_NOTHING: &str = "selects no kernel test";

/// A board shape and its name in trial names.
struct Board {
    name: &'static str,
    machine: Machine,
}

fn boards() -> Vec<Board> {
    let gic = |smp, gic| Machine {
        smp,
        gic,
        ..Machine::default()
    };
    let four = |cpu, el| Machine {
        cpu,
        el,
        ..Machine::default()
    };
    let board = |name, machine| Board { name, machine };
    vec![
        board("gic_v3_1_core", gic(1, Gic::V3)),
        // The default board, so also the Cortex-A72 case and the EL1-entry case.
        board("gic_v3_4_cores", gic(4, Gic::V3)),
        board("gic_v3_64_cores", gic(64, Gic::V3)),
        board("gic_v2_1_core", gic(1, Gic::V2)),
        board("gic_v2_2_cores", gic(2, Gic::V2)),
        board("gic_v2_8_cores", gic(8, Gic::V2)),
        board("cpu_cortex_a53", four(Cpu::CortexA53, ExceptionLevel::El1)),
        board("cpu_max", four(Cpu::Max, ExceptionLevel::El1)),
        board("el2_entry", four(Cpu::CortexA72, ExceptionLevel::El2)),
        board("raspi3b", Machine::of_model(Model::Raspi3b)),
    ]
}

/// The `test=` selection to boot `board` with for libtest's `filter`, or `None` if the filter
/// names another board.
fn selection(board: &str, all_boards: &[Board], filter: Option<&str>) -> Option<String> {
    let Some(filter) = filter else {
        return Some("all".to_owned());
    };
    let kernel_filter = match filter.strip_prefix(board) {
        Some("") => "",
        Some(rest) if rest.starts_with("::") => &rest[2..],
        _ if all_boards
            .iter()
            .any(|other| filter.starts_with(other.name)) =>
        {
            return None;
        }
        _ => filter,
    };
    // A selector is an area prefix (`sched::`) or a whole name (`sched::spawn_and_join`).
    let selector = kernel_filter.contains("::") && !kernel_filter.starts_with(':');
    Some(if selector { kernel_filter } else { "all" }.to_owned())
}

/// Boots the `kernel-test` kernel on `machine` with `test=<selection>`; a selection the kernel
/// says selects nothing boots again with `test=all`.
fn boot(machine: Machine, selection: &str) -> Outcome {
    // Emulating 64 vCPUs on a small host is slow: give each kernel test more guest time there.
    let time_limit_ms = if machine.smp >= 64 { 120_000 } else { 30_000 };
    let outcome = Boot::new()
        .machine(machine)
        .bootargs(&format!("test={selection} test-timeout-ms={time_limit_ms}"))
        .profile(Profile::KernelTest)
        .timeout(Duration::from_secs(120 + u64::from(machine.smp) / 2))
        .run()
        .unwrap_or_else(|error| panic!("could not boot {machine}: {error}"));
    if selection != "all" && outcome.console.contains(SELECTS_NOTHING) {
        return boot(machine, "all");
    }
    outcome
}

/// The trials one board's boot gives: one per kernel test it reported, and the whole run.
fn trials(board: &Board, outcome: &Outcome) -> Vec<Trial> {
    let tap = outcome.tap();
    let smp = board.machine.smp.to_string();
    let mut trials: Vec<Trial> = tap
        .results
        .iter()
        .map(|result| {
            let verdict = if result.passed {
                let cores = result.field("cores");
                if BOOT_TESTS.contains(&result.name.as_str()) && cores != Some(smp.as_str()) {
                    Err(format!("ran on {cores:?} cores, not all {smp}"))
                } else {
                    Ok(())
                }
            } else {
                Err(format!(
                    "{}\n  at {}\n  ({}; {})",
                    result.message().unwrap_or_default(),
                    result.location().unwrap_or_default(),
                    result.comment,
                    board.machine
                ))
            };
            Trial::test(format!("{}::{}", board.name, result.name), move || {
                verdict.map_err(Failed::from)
            })
        })
        .collect();
    let whole_run = whole_run(board.machine, outcome);
    trials.push(Trial::test(
        format!("{}::{WHOLE_RUN}", board.name),
        move || whole_run.map_err(Failed::from),
    ));
    trials
}

/// Checks the run as a whole: status 0, the boot line's core count, a TAP 14 report with as
/// many results as planned, and the closing tally. `Err` carries the transcript.
fn whole_run(machine: Machine, outcome: &Outcome) -> Result<(), String> {
    let tap = outcome.tap();
    let problem = if outcome.exit_code() != Some(0) {
        Some(format!("the run ended with {}", outcome.ending()))
    } else if outcome.boot_line().map(|line| line.cores) != Some(machine.smp) {
        Some(format!("the boot line does not say {} cores", machine.smp))
    } else if tap.version != Some(14) {
        Some("no TAP 14 header".to_owned())
    } else if tap.planned != u32::try_from(tap.results.len()).ok() {
        Some(format!(
            "{} results for a plan of {:?}",
            tap.results.len(),
            tap.planned
        ))
    } else if outcome.last_line() != format!("{} passed, 0 failed", tap.results.len()) {
        Some(format!("closing line {:?}", outcome.last_line()))
    } else {
        None
    };
    match problem {
        Some(problem) => Err(format!("{problem}\n{}", outcome.transcript())),
        None => Ok(()),
    }
}

fn main() {
    let args = Arguments::from_args();
    let boards = boards();
    let selected: Vec<(&Board, String)> = boards
        .iter()
        .filter_map(|board| {
            let selection = selection(board.name, &boards, args.filter.as_deref())?;
            Some((board, selection))
        })
        .collect();
    let trials: Vec<Trial> = thread::scope(|scope| {
        let boots: Vec<_> = selected
            .iter()
            .map(|(board, selection)| scope.spawn(move || (*board, boot(board.machine, selection))))
            .collect();
        boots
            .into_iter()
            .flat_map(|booted| {
                let (board, outcome) = booted.join().expect("a boot thread panicked");
                trials(board, &outcome)
            })
            .collect()
    });
    libtest_mimic::run(&args, trials).exit();
}
