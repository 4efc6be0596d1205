//! One boot of the kernel on QEMU: what to build, which board, which bootargs, how long to
//! wait; and what came of it.

use std::ffi::OsString;
use std::fmt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use crate::console::{self, BootLine, TapReport};
use crate::error::LaunchError;
use crate::kernel::{self, BuildOutput, Profile};
use crate::machine::{Cpu, ExceptionLevel, Gic, Machine};
use crate::qemu::{self, Console, RunSlots};

/// The bootargs word the launcher always adds: the kernel ends QEMU through semihosting, which
/// carries its exit status out (see `-semihosting-config` in [`Boot::qemu_args`]).
const EXIT_BOOTARG: &str = "exit=semihosting";

/// What QEMU prints to stderr when a signal makes it shut down: `... terminating on signal N`.
const QEMU_SIGNAL_NOTICE: &str = "terminating on signal ";

/// How long a `--gdb` boot may last when no time-out was given: long enough to debug.
const GDB_TIMEOUT: Duration = Duration::from_secs(3600);

/// A boot to run: built with [`Boot::new`] and the setters, started with [`Boot::run`].
///
/// ```no_run
/// use coresched_qemu::{Boot, Cpu, ExceptionLevel, Profile};
///
/// let outcome = Boot::new()
///     .smp(64)
///     .cpu(Cpu::Max)
///     .el(ExceptionLevel::El2)
///     .bootargs("test=all")
///     .profile(Profile::KernelTest)
///     .run()?;
/// assert_eq!(outcome.exit_code(), Some(0));
/// # Ok::<(), coresched_qemu::LaunchError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Boot {
    machine: Machine,
    bootargs: String,
    profile: Profile,
    features: Vec<String>,
    image: Option<PathBuf>,
    timeout: Option<Duration>,
    gdb: bool,
    console: Console,
}

impl Default for Boot {
    fn default() -> Self {
        Boot::new()
    }
}

impl Boot {
    /// The default boot: [`Machine::default`] (4 Cortex-A72 vCPUs, GICv3, EL1, 1 GiB),
    /// bootargs `demo`, the `release` kernel, the default time-out, console captured.
    pub fn new() -> Self {
        Boot {
            machine: Machine::default(),
            bootargs: "demo".to_owned(),
            profile: Profile::Release,
            features: Vec::new(),
            image: None,
            timeout: None,
            gdb: false,
            console: Console::Captured,
        }
    }

    /// Sets the whole board at once.
    pub fn machine(mut self, machine: Machine) -> Self {
        self.machine = machine;
        self
    }

    /// Sets the number of vCPUs (checked by [`Boot::run`]: 1 to 512, at most 8 with GICv2).
    pub fn smp(mut self, smp: u32) -> Self {
        self.machine.smp = smp;
        self
    }

    /// Sets the interrupt controller.
    pub fn gic(mut self, gic: Gic) -> Self {
        self.machine.gic = gic;
        self
    }

    /// Sets the CPU model.
    pub fn cpu(mut self, cpu: Cpu) -> Self {
        self.machine.cpu = cpu;
        self
    }

    /// Sets the exception level the kernel is entered at.
    pub fn el(mut self, el: ExceptionLevel) -> Self {
        self.machine.el = el;
        self
    }

    /// Sets the guest memory in MiB (checked by [`Boot::run`]: at least 128).
    pub fn mem_mib(mut self, mem_mib: u32) -> Self {
        self.machine.mem_mib = mem_mib;
        self
    }

    /// Turns `-icount shift=0,sleep=off` on or off.
    pub fn icount(mut self, icount: bool) -> Self {
        self.machine.icount = icount;
        self
    }

    /// Sets the kernel's bootargs (the contract's words, e.g. `test=all log=debug`);
    /// `exit=semihosting` is always appended.
    pub fn bootargs(mut self, bootargs: &str) -> Self {
        bootargs.clone_into(&mut self.bootargs);
        self
    }

    /// Sets the cargo profile the kernel is built with.
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// Adds a cargo feature of the kernel package to build with.
    pub fn feature(mut self, feature: &str) -> Self {
        self.features.push(feature.to_owned());
        self
    }

    /// Boots this prebuilt Image instead of building the kernel.
    pub fn image(mut self, image: &Path) -> Self {
        self.image = Some(image.to_owned());
        self
    }

    /// Sets how long QEMU may run before it is ended and the outcome marked timed out.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Starts QEMU halted with a gdb server on localhost:1234 (`-s -S`).
    pub fn gdb(mut self, gdb: bool) -> Self {
        self.gdb = gdb;
        self
    }

    /// Sets where the serial console goes.
    pub fn console(mut self, console: Console) -> Self {
        self.console = console;
        self
    }

    /// The time-out that applies: the one set, else an hour under gdb, else 60 s plus a second
    /// per 4 vCPUs (QEMU's TCG boots hundreds of vCPUs slowly on a small host).
    pub fn effective_timeout(&self) -> Duration {
        self.timeout.unwrap_or(if self.gdb {
            GDB_TIMEOUT
        } else {
            Duration::from_secs(60 + u64::from(self.machine.smp) / 4)
        })
    }

    /// Checks the board, finds QEMU, builds the kernel (once per process per profile and
    /// features), waits for a share of the host (see [`crate::MAX_CONCURRENT_RUNS`]), then
    /// boots and waits for QEMU to exit or time out. Prints one summary line to stderr: the
    /// board, the kernel's boot line and the wall time.
    pub fn run(&self) -> Result<Outcome, LaunchError> {
        self.machine
            .validate()
            .map_err(LaunchError::InvalidMachine)?;
        let qemu = qemu::find_qemu()?;
        let (image, elf) = match &self.image {
            Some(image) => (image.clone(), None),
            None => {
                let output = match self.console {
                    Console::Captured => BuildOutput::Captured,
                    Console::Echoed | Console::Terminal => BuildOutput::Shown,
                };
                let built = kernel::build(self.profile, &self.features, output)?;
                (built.image, Some(built.elf))
            }
        };
        let timeout = self.effective_timeout();
        let _claim = RunSlots::claim(self.machine.smp);
        if self.gdb {
            // A prebuilt Image has no symbols for gdb to load.
            let symbols = elf
                .map(|elf| format!("{} ", elf.display()))
                .unwrap_or_default();
            eprintln!(
                "coresched-qemu: QEMU waits for gdb; attach with: \
                 gdb-multiarch {symbols}-ex 'target remote localhost:1234'"
            );
        }
        let outcome = qemu::run(&qemu, &self.qemu_args(&image), self.console, timeout)?;
        eprintln!(
            "coresched-qemu: {} bootargs={:?}: {outcome}",
            self.machine, self.bootargs
        );
        Ok(outcome)
    }

    /// The QEMU command line (after the program name) that boots `image`.
    pub fn qemu_args(&self, image: &Path) -> Vec<OsString> {
        let mut args = self.machine.qemu_args_booting(image);
        args.extend([
            "-append".into(),
            format!("{} {EXIT_BOOTARG}", self.bootargs).into(),
        ]);
        args.extend(["-semihosting-config", "enable=on,target=native"].map(OsString::from));
        args.extend(self.console.qemu_args().iter().map(OsString::from));
        if self.gdb {
            args.extend(["-s", "-S"].map(OsString::from));
        }
        args
    }
}

/// What came of a boot that ran.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Everything the guest wrote to its serial console (empty for [`Console::Terminal`]).
    pub console: String,
    /// What QEMU itself wrote to stderr: its own errors and warnings (empty for
    /// [`Console::Terminal`], where they went to the terminal).
    pub qemu_stderr: String,
    /// QEMU's exit status, as the operating system reported it.
    pub status: ExitStatus,
    /// Whether QEMU was still running at the time-out and had to be ended.
    pub timed_out: bool,
    /// Wall-clock time from starting QEMU until it exited.
    pub wall: Duration,
    /// The time-out that applied.
    pub timeout: Duration,
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

    fn args(boot: &Boot) -> Vec<String> {
        let args = boot.qemu_args(Path::new("/k/Image"));
        args.into_iter()
            .map(|arg| arg.into_string().expect("UTF-8"))
            .collect()
    }

    #[test]
    fn default_boot_command_line() {
        assert_eq!(
            args(&Boot::new()),
            [
                "-machine",
                "virt,gic-version=3",
                "-cpu",
                "cortex-a72",
                "-smp",
                "4",
                "-m",
                "1024M",
                "-kernel",
                "/k/Image",
                "-append",
                "demo exit=semihosting",
                "-semihosting-config",
                "enable=on,target=native",
                "-display",
                "none",
                "-serial",
                "stdio",
                "-monitor",
                "none"
            ]
        );
    }

    #[test]
    fn every_option_reaches_the_command_line() {
        let boot = Boot::new()
            .smp(8)
            .gic(Gic::V2)
            .cpu(Cpu::CortexA53)
            .el(ExceptionLevel::El2)
            .mem_mib(512)
            .icount(true)
            .bootargs("test=all log=debug")
            .console(Console::Terminal)
            .gdb(true);
        let args = args(&boot);
        let joined = args.join(" ");
        assert!(joined.starts_with(
            "-machine virt,gic-version=2,virtualization=on -cpu cortex-a53 -smp 8 -m 512M \
             -icount shift=0,sleep=off -kernel /k/Image"
        ));
        assert!(joined.ends_with("-nographic -s -S"), "{joined}");
        let append = args
            .iter()
            .position(|arg| arg == "-append")
            .expect("has -append");
        assert_eq!(args[append + 1], "test=all log=debug exit=semihosting");
    }

    #[test]
    fn time_out_defaults_scale_with_the_core_count() {
        assert_eq!(Boot::new().effective_timeout(), Duration::from_secs(61));
        assert_eq!(
            Boot::new().smp(512).effective_timeout(),
            Duration::from_secs(188)
        );
        assert_eq!(Boot::new().gdb(true).effective_timeout(), GDB_TIMEOUT);
        let set = Duration::from_secs(5);
        assert_eq!(Boot::new().gdb(true).timeout(set).effective_timeout(), set);
    }

    fn outcome(status: ExitStatus, qemu_stderr: &str) -> Outcome {
        Outcome {
            console: "boot: 2 cores online in 10 us guest time\n".to_owned(),
            qemu_stderr: qemu_stderr.to_owned(),
            status,
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

    #[test]
    fn an_invalid_board_is_refused_before_building() {
        let error = Boot::new()
            .smp(9)
            .gic(Gic::V2)
            .run()
            .expect_err("GICv2 tops out at 8");
        assert_eq!(
            error,
            LaunchError::InvalidMachine(
                "--smp 9 needs --gic 3: GICv2 allows at most 8 vCPUs".to_owned()
            )
        );
    }
}
