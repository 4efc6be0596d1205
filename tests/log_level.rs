//! The `log=` bootarg on a real boot: `log=debug` adds the kernel's debug lines (boot discovery,
//! memory, core start-up) to what `log=info` prints, `log=trace` adds the monitor's passes, and
//! `log=warn` leaves out the info lines.

use coresched_qemu::{Boot, Profile};

/// The console of a short 2-vCPU boot at log level `level`, running a kernel test that lasts
/// until the monitor has scanned the cores (so its passes are there to be logged, however fast
/// the kernel gets).
fn console_at(level: &str) -> String {
    let outcome = Boot::new()
        .smp(2)
        .deterministic(true)
        .profile(Profile::Release)
        .bootargs(&format!(
            "test=monitor::timer_wakeups_across_cores_with_the_monitor_scanning log={level}"
        ))
        .run()
        .unwrap_or_else(|error| panic!("could not boot: {error}"));
    assert_eq!(outcome.exit_code(), Some(0), "{}", outcome.transcript());
    outcome.console
}

/// Whether `console` has a log line at `level` (as the logger pads it) saying `text`.
fn has_line(console: &str, level: &str, text: &str) -> bool {
    console
        .lines()
        .any(|line| line.contains(&format!(" {level:<5} {text}")))
}

#[test]
fn each_level_prints_more_than_the_one_above() {
    let info = console_at("info");
    let debug = console_at("debug");
    let trace = console_at("trace");
    let warn = console_at("warn");
    for (console, level) in [(&info, "info"), (&debug, "debug"), (&trace, "trace")] {
        assert!(
            has_line(console, "INFO", "coresched: 2 cores in the DTB"),
            "log={level} keeps the info lines:\n{console}"
        );
    }
    assert!(
        !has_line(&warn, "INFO", "coresched: "),
        "log=warn leaves out info:\n{warn}"
    );
    let debug_lines = [
        "dtb: cpu 1: MPIDR 0x1, started with PSCI CPU_ON",
        "dtb: RAM 0x40000000..0x80000000 (1024 MiB)",
        "dtb: GICv3 distributor at 0x8000000",
        "console: /chosen/stdout-path pl011@9000000 (pl011 driver)",
        "boot: starting core 1 (MPIDR 0x1) with PSCI CPU_ON",
    ];
    for text in debug_lines {
        assert!(
            has_line(&debug, "DEBUG", text),
            "log=debug: {text}\n{debug}"
        );
        assert!(
            has_line(&trace, "DEBUG", text),
            "log=trace: {text}\n{trace}"
        );
        assert!(!info.contains(text), "log=info: {text}\n{info}");
    }
    assert!(
        has_line(&trace, "TRACE", "monitor: pass done"),
        "log=trace: the monitor's passes\n{trace}"
    );
    assert!(!debug.contains(" TRACE "), "log=debug: no trace\n{debug}");
}
