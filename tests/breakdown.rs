//! `--breakdown` on a real benchmark boot: every timed figure is broken down, each breakdown
//! adds up to the figure the kernel printed, and the control is its 2-instruction loop and
//! nothing else. (The launcher refuses a breakdown that fails these; this test checks them
//! again from the outside.)

use std::time::Duration;

use coresched_qemu::breakdown::{self, CONTROL_FIGURE};
use coresched_qemu::{Boot, Console};

/// The figures the benchmark times on one core's clock, in the order it measures them.
const WINDOWED: [&str; 7] = [
    "control_loop",
    "yield_switch",
    "handoff_same_core",
    "handoff_cross_core",
    "spawn_join",
    "timer_insert_cancel_1k",
    "timer_insert_cancel_64k",
];

#[test]
fn every_figure_is_broken_down_into_functions_that_add_up_to_it() {
    let boot = Boot::new()
        .bootargs("bench")
        .deterministic(true)
        .console(Console::Captured)
        .timeout(Duration::from_secs(600));
    let run = breakdown::run(&boot).expect("the benchmark boots");
    assert_eq!(
        run.outcome.exit_code(),
        Some(0),
        "{}",
        run.outcome.transcript()
    );
    let breakdowns = run
        .breakdowns
        .unwrap_or_else(|why| panic!("no breakdown: {why}"));
    let names: Vec<&str> = breakdowns.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, WINDOWED);
    for breakdown in &breakdowns {
        let printed = run
            .outcome
            .console
            .lines()
            .find_map(|line| {
                line.strip_prefix(&format!("bench {} coresched=", breakdown.name))?
                    .split_whitespace()
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
            .expect("the kernel printed the figure");
        assert_eq!(breakdown.figure, printed);
        // Whole instructions per operation: the functions add up to the figure.
        assert_eq!(
            breakdown.total() / breakdown.operations,
            printed,
            "{breakdown}"
        );
        assert!(breakdown.functions.iter().all(|(name, _)| !name.is_empty()));
    }
    let control = &breakdowns[0];
    assert_eq!(control.name, CONTROL_FIGURE);
    let (function, count) = &control.functions[0];
    assert!(
        count / control.operations == 2 && control.total() - count < control.operations,
        "the control is one function's loop of 2 instructions: {control}"
    );
    assert!(function.starts_with("coresched::"), "{control}");
    let switch = &breakdowns[1];
    assert!(
        switch
            .functions
            .iter()
            .any(|(name, _)| name == "coresched::sched::scheduler::switch::schedule"),
        "a yield switches: {switch}"
    );
}
