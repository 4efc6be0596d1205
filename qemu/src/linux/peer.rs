//! Running the Linux peer: its board and QEMU command line, and `--bench --vs-linux` from
//! coresched's benchmark through Linux's to the printed table.

use std::ffi::OsString;
use std::time::Duration;

use super::files::PeerFiles;
use super::progress::progress;
use super::report::{LinuxReport, coresched_figures};
use super::table::Comparison;
use crate::boot::Boot;
use crate::error::LaunchError;
use crate::exit::{self, PEER_FAILED_EXIT_CODE, TIMEOUT_EXIT_CODE};
use crate::machine::{Clock, Machine};
use crate::outcome::Outcome;
use crate::qemu::{self, Console, RunSlots};

/// Linux's command line: the PL011 console, no boot chatter, no address randomisation (the
/// same layout every run), and an immediate reboot on panic, which `-no-reboot` turns into
/// QEMU's exit.
pub const LINUX_COMMAND_LINE: &str = "console=ttyAMA0 quiet nokaslr norandmaps panic=-1";

/// The Linux half of a `--vs-linux` run: the board (the same one coresched's benchmark boots,
/// always with `-icount shift=0,sleep=off`) and how long Linux may take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinuxPeer {
    machine: Machine,
    timeout: Option<Duration>,
}

impl LinuxPeer {
    /// Linux on `machine`, with its clock set to `-icount shift=0,sleep=off`.
    pub fn new(machine: Machine) -> Self {
        LinuxPeer {
            machine: Machine {
                clock: Clock::Deterministic,
                ..machine
            },
            timeout: None,
        }
    }

    /// Sets how long QEMU may run Linux before it is ended.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The time-out that applies: the one set, else two minutes plus a second per vCPU.
    pub fn effective_timeout(&self) -> Duration {
        self.timeout
            .unwrap_or(Duration::from_secs(120 + u64::from(self.machine.smp)))
    }

    /// The QEMU command line (after the program name) that boots `files`.
    pub fn qemu_args(&self, files: &PeerFiles) -> Vec<OsString> {
        let mut args = self.machine.qemu_args_booting(&files.kernel);
        args.extend(["-initrd".into(), files.initramfs.clone().into()]);
        args.extend(["-append", LINUX_COMMAND_LINE, "-no-reboot"].map(OsString::from));
        args.extend(
            Console::Captured
                .qemu_args(0)
                .into_iter()
                .map(OsString::from),
        );
        args
    }

    /// Boots Linux from `files` (see [`PeerFiles::prepare`]) and waits for QEMU to exit or
    /// time out. Prints one summary line to stderr.
    pub fn run(&self, files: &PeerFiles) -> Result<Outcome, LaunchError> {
        self.machine
            .validate()
            .map_err(LaunchError::InvalidMachine)?;
        let qemu = qemu::find_qemu()?;
        let _claim = RunSlots::claim(self.machine.smp);
        progress(&format!("booting Linux on {}", self.machine));
        let outcome = qemu::run(
            &qemu,
            &self.qemu_args(files),
            Console::Captured,
            self.effective_timeout(),
        )?;
        let release = LinuxReport::parse(&outcome.console).release;
        let ending = if outcome.timed_out {
            format!(
                "TIMED OUT after {} s, QEMU ended",
                outcome.timeout.as_secs()
            )
        } else {
            outcome.status.to_string()
        };
        progress(&format!(
            "Linux {} {}: wall {:.2} s; {ending}",
            release.as_deref().unwrap_or("(no release printed)"),
            self.machine,
            outcome.wall.as_secs_f64(),
        ));
        Ok(outcome)
    }
}

/// Runs `--bench --vs-linux`: coresched's benchmark (`boot`), then Linux's (`peer`); prints
/// the [`Comparison`] to stdout and returns the launcher's exit status. A run that fails has
/// its transcript printed to stderr, and the status says how it failed (see `--help`).
pub fn bench_vs_linux(boot: &Boot, peer: &LinuxPeer) -> Result<u8, LaunchError> {
    // Linux's files first: a missing tool or no network is reported before any waiting.
    let files = PeerFiles::prepare()?;
    let coresched = boot.run()?;
    let status = exit::status_of(&coresched);
    if status != 0 {
        eprintln!("{}", coresched.transcript());
        return Ok(status);
    }
    let linux = peer.run(&files)?;
    let report = LinuxReport::parse(&linux.console);
    if !report.finished {
        eprintln!("{}", linux.transcript());
        let why = report
            .error
            .unwrap_or_else(|| "it stopped before `linux done`".to_owned());
        eprintln!("coresched-qemu: error: Linux did not finish its benchmark: {why}");
        return Ok(if linux.timed_out {
            TIMEOUT_EXIT_CODE
        } else {
            PEER_FAILED_EXIT_CODE
        });
    }
    let comparison = Comparison::new(&coresched_figures(&coresched.console), &report);
    print!("{}", comparison.table(&peer.machine));
    print!("{}", comparison.bench_lines());
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::Gic;

    #[test]
    fn linux_boots_on_the_same_board_with_the_deterministic_clock() {
        let machine = Machine {
            smp: 8,
            gic: Gic::V2,
            ..Machine::default()
        };
        let peer = LinuxPeer::new(machine);
        let files = PeerFiles {
            kernel: "/c/vmlinuz".into(),
            initramfs: "/c/initramfs.cpio".into(),
        };
        let args: Vec<String> = peer
            .qemu_args(&files)
            .into_iter()
            .map(|arg| arg.into_string().expect("UTF-8"))
            .collect();
        assert_eq!(
            args.join(" "),
            "-machine virt,gic-version=2 -cpu cortex-a72 -smp 8 -m 1024M -icount shift=0,sleep=off \
             -kernel /c/vmlinuz -initrd /c/initramfs.cpio \
             -append console=ttyAMA0 quiet nokaslr norandmaps panic=-1 -no-reboot \
             -display none -serial stdio -monitor none"
        );
        assert_eq!(peer.effective_timeout(), Duration::from_secs(128));
        let set = Duration::from_secs(5);
        assert_eq!(peer.timeout(set).effective_timeout(), set);
    }
}
