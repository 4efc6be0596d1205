//! What came of a boot that ran: the console, QEMU's stderr and exit status, whether it timed
//! out, and the readings the kernel/host contract defines (boot line, TAP report).

use std::fmt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

use crate::console::{self, BootLine, TapReport};

/// What QEMU prints to stderr when a signal makes it shut down: `... terminating on signal N`.
const QEMU_SIGNAL_NOTICE: &str = "terminating on signal ";

/// What came of a boot that ran.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Everything the guest wrote to its serial console (empty for [`Console::Terminal`](crate::Console::Terminal)).
    pub console: String,
    /// What QEMU itself wrote to stderr: its own errors and warnings (empty for
    /// [`Console::Terminal`](crate::Console::Terminal), where they went to the terminal).
    pub qemu_stderr: String,
    /// QEMU's exit status, as the operating system reported it.
    pub status: ExitStatus,
    /// What gdb printed, for a boot debugged with a [`GdbSession::Batch`](crate::GdbSession::Batch)
    /// script (empty otherwise).
    pub gdb_output: String,
    /// Whether QEMU was still running at the time-out and had to be ended.
    pub timed_out: bool,
    /// Wall-clock time from starting QEMU until it exited.
    pub wall: Duration,
    /// The time-out that applied.
    pub timeout: Duration,
}

#[cfg(test)]
impl Outcome {
    /// A run that printed `console` and exited with `code` after `wall`, for unit tests of what
    /// is made of an outcome.
    pub(crate) fn finished(console: &str, code: i32, wall: Duration) -> Self {
        Self {
            console: console.to_owned(),
            qemu_stderr: String::new(),
            status: ExitStatus::from_raw(code << 8),
            gdb_output: String::new(),
            timed_out: false,
            wall,
            timeout: Duration::from_secs(1),
        }
    }
}

impl Outcome {
    /// The exit status the kernel chose (0 passed, 1 a test failed, 3 kernel panic or boot
    /// error); `None` if QEMU timed out or was ended by a signal.
    pub fn exit_code(&self) -> Option<i32> {
        if self.timed_out || self.signal().is_some() {
            None
        } else {
            self.status.code()
        }
    }

    /// The signal that ended QEMU, if one did: one it could not catch, or one it caught and
    /// reported on stderr before exiting with status 0 (SIGTERM, SIGINT, SIGHUP), which would
    /// otherwise pass for the kernel's success.
    pub fn signal(&self) -> Option<i32> {
        self.status.signal().or_else(|| {
            let (_, notice) = self.qemu_stderr.split_once(QEMU_SIGNAL_NOTICE)?;
            let digits = notice
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(notice.len());
            notice[..digits].parse().ok()
        })
    }

    /// How a boot ended, in a few words: `exit status N`, `timed out after N s` or
    /// `ended by signal N`.
    pub fn ending(&self) -> String {
        if self.timed_out {
            format!("timed out after {} s", self.timeout.as_secs())
        } else if let Some(signal) = self.signal() {
            format!("ended by signal {signal}")
        } else {
            match self.exit_code() {
                Some(code) => format!("exit status {code}"),
                None => self.status.to_string(),
            }
        }
    }

    /// The kernel's boot line, if it printed one.
    pub fn boot_line(&self) -> Option<BootLine> {
        BootLine::find(&self.console)
    }

    /// The TAP report in the console output.
    pub fn tap(&self) -> TapReport {
        TapReport::parse(&self.console)
    }

    /// The console's last line that is not blank.
    pub fn last_line(&self) -> &str {
        console::last_line(&self.console)
    }

    /// Everything known about the run, for an assertion's message: the summary line, then the
    /// console output and QEMU's stderr.
    pub fn transcript(&self) -> String {
        format!(
            "{self}\n--- console ---\n{}\n--- QEMU stderr ---\n{}",
            self.console, self.qemu_stderr
        )
    }
}

impl fmt::Display for Outcome {
    /// One line: the boot line (or its absence), the wall time and how QEMU ended.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.boot_line() {
            Some(boot_line) => write!(f, "{boot_line}")?,
            None => f.write_str("no boot line captured")?,
        }
        write!(f, "; wall {:.2} s; ", self.wall.as_secs_f64())?;
        if self.timed_out {
            write!(
                f,
                "TIMED OUT after {} s, QEMU ended",
                self.timeout.as_secs()
            )
        } else if let Some(signal) = self.signal() {
            write!(f, "QEMU ended by signal {signal}")
        } else {
            write!(f, "{}", self.status)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(status: ExitStatus, qemu_stderr: &str) -> Outcome {
        Outcome {
            console: "boot: 2 cores online in 10 us guest time\n".to_owned(),
            qemu_stderr: qemu_stderr.to_owned(),
            status,
            gdb_output: String::new(),
            timed_out: false,
            wall: Duration::from_millis(1500),
            timeout: Duration::from_secs(61),
        }
    }

    #[test]
    fn a_signal_is_never_taken_for_the_kernels_status() {
        let exited = |code: i32| ExitStatus::from_raw(code << 8);
        let normal = outcome(exited(1), "");
        assert_eq!((normal.exit_code(), normal.signal()), (Some(1), None));
        assert_eq!(
            normal.to_string(),
            "boot: 2 cores online in 10 us guest time; wall 1.50 s; exit status: 1"
        );

        let notice = "qemu-system-aarch64: terminating on signal 15 from pid 42 (pkill)\n";
        let caught = outcome(exited(0), notice);
        assert_eq!((caught.exit_code(), caught.signal()), (None, Some(15)));
        assert!(caught.to_string().ends_with("; QEMU ended by signal 15"));

        let killed = outcome(ExitStatus::from_raw(9), "");
        assert_eq!((killed.exit_code(), killed.signal()), (None, Some(9)));

        let timed_out = Outcome {
            timed_out: true,
            ..outcome(exited(0), notice)
        };
        assert_eq!(timed_out.exit_code(), None);
        assert!(
            timed_out
                .to_string()
                .ends_with("; TIMED OUT after 61 s, QEMU ended")
        );
    }
}
