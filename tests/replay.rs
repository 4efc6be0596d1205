//! QEMU record/replay on a real boot: a 1-vCPU run recorded with `--record` replays to the same
//! console, byte for byte (timer interrupts, SGIs, the serial console and the semihosting exit
//! included); a replay under gdb runs backwards (`reverse-stepi`, `reverse-continue`); and a
//! replay with other bootargs than the recording's is refused before QEMU starts.
//!
//! qemu-img (for the snapshot disk) and gdb-multiarch are installed like QEMU when missing (as
//! root with apt-get); where they cannot be, the test says why and skips what needs them.

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use coresched_qemu::gdb::find_gdb;
use coresched_qemu::record::find_qemu_img;
use coresched_qemu::{Boot, Gdb, GdbSession, Profile, RecordReplay};

/// Kernel tests that take timer interrupts, send SGIs and sleep, on the one vCPU.
const BOOTARGS: &str = "test=irq::,sched::spawn_and_join log=debug";

fn boot(bootargs: &str, record_replay: RecordReplay) -> Boot {
    Boot::new()
        .smp(1)
        .profile(Profile::KernelTest)
        .bootargs(bootargs)
        .record_replay(Some(record_replay))
        .timeout(Duration::from_secs(120))
}

/// A fresh recording directory for this test process.
fn recording_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("coresched-{name}-{}", std::process::id()));
    // Left over from an earlier process with the same id, if anything.
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The values of every `pc` line of gdb's `info registers pc`, in order.
fn pcs(gdb_output: &str) -> Vec<&str> {
    gdb_output
        .lines()
        .filter_map(|line| line.strip_prefix("pc "))
        .filter_map(|rest| rest.split_whitespace().next())
        .collect()
}

#[test]
fn a_recorded_run_replays_to_the_same_console_and_backwards_under_gdb() {
    if let Err(error) = find_qemu_img() {
        eprintln!("SKIPPED: qemu-img is not available: {error}");
        return;
    }
    let dir = recording_dir("replay");
    let recorded = boot(BOOTARGS, RecordReplay::Record(dir.clone()))
        .run()
        .unwrap_or_else(|error| panic!("could not record: {error}"));
    assert_eq!(recorded.exit_code(), Some(0), "{}", recorded.transcript());
    assert!(
        recorded.console.contains(" passed, 0 failed"),
        "{}",
        recorded.transcript()
    );

    let replayed = boot(BOOTARGS, RecordReplay::Replay(dir.clone()))
        .run()
        .unwrap_or_else(|error| panic!("could not replay: {error}"));
    assert_eq!(replayed.exit_code(), Some(0), "{}", replayed.transcript());
    assert_eq!(
        replayed.console, recorded.console,
        "the replay's console differs from the recording's"
    );

    // Other bootargs do not follow the log: refused before QEMU starts.
    let refused = boot("test=irq::", RecordReplay::Replay(dir.clone()))
        .run()
        .expect_err("a replay with other bootargs");
    assert!(
        refused
            .to_string()
            .contains("give the flags of the recording"),
        "{refused}"
    );

    match find_gdb() {
        Ok(_) => gdb_runs_the_replay_backwards(&dir),
        Err(error) => eprintln!("SKIPPED the gdb part: gdb-multiarch is not available: {error}"),
    }
    std::fs::remove_dir_all(&dir).expect("clean up the recording");
}

/// Stops at a breakpoint in the replay, steps forwards twice and backwards once (back to the
/// first step's PC), then continues backwards to a breakpoint on a function that ran earlier
/// (the test runner), and lets the replay end.
fn gdb_runs_the_replay_backwards(dir: &std::path::Path) {
    let script = [
        "break coresched::monitor::kernel::print_counters",
        "continue",
        "info registers pc",
        "stepi",
        "info registers pc",
        "stepi",
        "info registers pc",
        "reverse-stepi",
        "info registers pc",
        "delete",
        "break coresched::testing::runner::run",
        "reverse-continue",
        "info registers pc",
        "delete",
        "continue",
    ];
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let session = GdbSession::Batch(script.map(str::to_owned).to_vec());
    let outcome = boot(BOOTARGS, RecordReplay::Replay(dir.to_owned()))
        .gdb(Some(Gdb::on_port(port).session(session)))
        .run()
        .unwrap_or_else(|error| panic!("could not replay under gdb: {error}"));
    let transcript = format!(
        "{}\n--- gdb ---\n{}",
        outcome.transcript(),
        outcome.gdb_output
    );
    let pcs = pcs(&outcome.gdb_output);
    assert_eq!(pcs.len(), 5, "five stops: {transcript}");
    assert_ne!(pcs[1], pcs[0], "stepi moved on: {transcript}");
    assert_eq!(
        pcs[3], pcs[1],
        "reverse-stepi went back one instruction: {transcript}"
    );
    let back = outcome
        .gdb_output
        .split_once("Breakpoint 2 at")
        .map(|(_, after)| after);
    assert!(
        back.is_some_and(|after| after.contains("Breakpoint 2, coresched::testing::runner::run")),
        "reverse-continue went back to the earlier breakpoint: {transcript}"
    );
    assert_eq!(outcome.exit_code(), Some(0), "{transcript}");
}
