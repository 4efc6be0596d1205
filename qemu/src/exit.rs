//! The launcher's exit statuses: what each one means, and the status of a boot that ran.
//!
//! 0, 1 and 3 are the kernel's own (it exits through semihosting and QEMU passes the status
//! on); the others are the launcher's.

use crate::outcome::Outcome;

/// The launcher's exit status for a bad command line.
pub const USAGE_EXIT_CODE: u8 = 2;

/// The launcher's exit status when QEMU timed out (as `timeout(1)` uses).
pub const TIMEOUT_EXIT_CODE: u8 = 124;

/// The launcher's exit status when it could not boot at all: the toolchain, the kernel build
/// or QEMU failed it.
pub const LAUNCH_FAILURE_EXIT_CODE: u8 = 125;

/// The launcher's exit status when Linux did not finish its benchmark (`--vs-linux`), as for a
/// kernel boot error.
pub const PEER_FAILED_EXIT_CODE: u8 = 3;

/// The launcher's exit status when `--breakdown`'s benchmark ran and exited 0 but its breakdown
/// failed a check (as for a failed test).
pub const BREAKDOWN_FAILED_EXIT_CODE: u8 = 1;

/// The launcher's exit status for a boot that ran: QEMU's own, [`TIMEOUT_EXIT_CODE`] after a
/// time-out, or 128 plus the signal's number if something else ended QEMU.
pub fn status_of(outcome: &Outcome) -> u8 {
    if outcome.timed_out {
        return TIMEOUT_EXIT_CODE;
    }
    let code = outcome
        .exit_code()
        .or_else(|| outcome.signal().map(|signal| 128 + signal));
    code.and_then(|code| u8::try_from(code).ok())
        .unwrap_or(u8::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;
    use std::time::Duration;

    fn outcome(status: ExitStatus, timed_out: bool) -> Outcome {
        Outcome {
            console: String::new(),
            qemu_stderr: String::new(),
            status,
            gdb_output: String::new(),
            timed_out,
            wall: Duration::ZERO,
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn the_launcher_exits_with_qemus_status() {
        let exited = |code: i32| ExitStatus::from_raw(code << 8);
        assert_eq!(status_of(&outcome(exited(0), false)), 0);
        assert_eq!(status_of(&outcome(exited(1), false)), 1);
        assert_eq!(status_of(&outcome(exited(3), false)), 3);
        assert_eq!(status_of(&outcome(exited(0), true)), TIMEOUT_EXIT_CODE);
        let killed = ExitStatus::from_raw(9);
        assert_eq!(status_of(&outcome(killed, false)), 137);
        let terminated = Outcome {
            qemu_stderr: "qemu-system-aarch64: terminating on signal 15 from pid 1\n".to_owned(),
            ..outcome(exited(0), false)
        };
        assert_eq!(status_of(&terminated), 143);
    }
}
