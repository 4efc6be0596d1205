//! gdb on a real boot: QEMU starts halted, the launcher runs `gdb-multiarch` in batch mode with
//! the command it prints (the ELF's symbols loaded at the Image's load address), a breakpoint on
//! a kernel function is hit with a backtrace, and the kernel then runs to its end.
//!
//! A seeded deterministic run stops at a breakpoint in the same state (every register, the
//! monitor's counters) twice, and in another state with another seed.
//!
//! gdb-multiarch is installed like QEMU when missing (as root with apt-get); where it cannot
//! be, the test says why and passes without booting.

use std::net::TcpListener;
use std::time::Duration;

use coresched_qemu::gdb::{self, find_gdb};
use coresched_qemu::kernel::{self, BuildOutput};
use coresched_qemu::machine::VIRT_RAM_BASE;
use coresched_qemu::{Boot, Gdb, GdbSession, Profile};

/// A TCP port nothing listens on now, for QEMU's gdb server (so a user's QEMU on 1234 is left
/// alone).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address").port()
}

#[test]
fn a_breakpoint_on_a_kernel_function_is_hit_with_a_backtrace() {
    if let Err(error) = find_gdb() {
        eprintln!("SKIPPED: gdb-multiarch is not available: {error}");
        return;
    }
    let script = [
        "break coresched::demo::run",
        "continue",
        "backtrace",
        "delete",
        "continue",
    ];
    let session = GdbSession::Batch(script.map(str::to_owned).to_vec());
    let outcome = Boot::new()
        .profile(Profile::Release)
        .gdb(Some(Gdb::on_port(free_port()).session(session)))
        .timeout(Duration::from_secs(120))
        .run()
        .unwrap_or_else(|error| panic!("could not boot: {error}"));
    let transcript = format!(
        "{}\n--- gdb ---\n{}",
        outcome.transcript(),
        outcome.gdb_output
    );
    let gdb_output = &outcome.gdb_output;
    assert!(
        gdb_output.contains("Breakpoint 1, coresched::demo::run"),
        "the breakpoint was hit: {transcript}"
    );
    let frames: Vec<&str> = gdb_output
        .lines()
        .filter(|line| line.starts_with('#'))
        .collect();
    assert!(
        frames
            .first()
            .is_some_and(|frame| frame.starts_with("#0  coresched::demo::run")),
        "frame 0 is the function: {transcript}"
    );
    assert!(
        frames
            .get(1)
            // An inlined frame has no `<pc> in` before the function's name.
            .is_some_and(|frame| frame.contains("coresched::kernel::run")
                && frame.contains("src/kernel/run.rs:")),
        "frame 1 is its caller, with a source line: {transcript}"
    );
    // After the breakpoint is deleted, the kernel finishes the demo and exits through QEMU.
    assert_eq!(outcome.exit_code(), Some(0), "{transcript}");
    assert!(
        outcome.console.contains("demo: 4 of 4 cores answered"),
        "{transcript}"
    );
    // The symbols were loaded where the kernel says it runs.
    let image = kernel::build(Profile::Release, &[], BuildOutput::Captured)
        .expect("built above")
        .image;
    let load_address = gdb::load_address(&image, VIRT_RAM_BASE).expect("the Image's header");
    assert!(
        outcome
            .console
            .contains(&format!("image at {load_address:#x}")),
        "the kernel runs at {load_address:#x}: {transcript}"
    );
}

/// What gdb shows at the first stop of a seeded 4-vCPU boot at the monitor's closing report:
/// the stop line, every register, and the monitor's counters (which the seed's interleaving
/// decides). Only the first stop is compared: on several vCPUs a stop changes which vCPU QEMU
/// runs when, so the run after it is not the unstopped one.
fn state_at_the_closing_report(seed: u64) -> String {
    let script = [
        "break coresched::monitor::kernel::print_counters",
        "continue",
        "info registers",
        "print/x coresched::monitor::kernel::COUNTERS",
        "delete",
        "continue",
    ];
    let session = GdbSession::Batch(script.map(str::to_owned).to_vec());
    let outcome = Boot::new()
        .smp(4)
        .profile(Profile::KernelTest)
        .bootargs("test=sched::unbalanced_load_spreads_by_stealing")
        .seed(Some(seed))
        .gdb(Some(Gdb::on_port(free_port()).session(session)))
        .timeout(Duration::from_secs(120))
        .run()
        .unwrap_or_else(|error| panic!("could not boot: {error}"));
    let transcript = format!(
        "{}\n--- gdb ---\n{}",
        outcome.transcript(),
        outcome.gdb_output
    );
    assert_eq!(outcome.exit_code(), Some(0), "{transcript}");
    let stop = outcome
        .gdb_output
        .find("Breakpoint 1, ")
        .unwrap_or_else(|| panic!("the breakpoint was hit: {transcript}"));
    let state: String = outcome.gdb_output[stop..]
        .lines()
        .take_while(|line| !line.starts_with("[Inferior"))
        .map(|line| format!("{line}\n"))
        .collect();
    assert!(
        state.contains("pc ") && state.contains("passes: "),
        "registers and counters were read: {transcript}"
    );
    state
}

#[test]
fn a_seeded_run_under_gdb_stops_in_the_same_state_every_time() {
    if let Err(error) = find_gdb() {
        eprintln!("SKIPPED: gdb-multiarch is not available: {error}");
        return;
    }
    let first = state_at_the_closing_report(7);
    let again = state_at_the_closing_report(7);
    assert_eq!(first, again, "seed 7 twice");
    // The comparison can fail: another seed reaches the same breakpoint in another state.
    let other = state_at_the_closing_report(8);
    assert_ne!(first, other, "seeds 7 and 8:\n{first}");
}
