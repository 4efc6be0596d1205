//! Running QEMU: finding (or installing) `qemu-system-aarch64`, wiring the guest's serial
//! console to this process, enforcing the time-out, and keeping the number of QEMUs that run
//! at once within what the host's cores can carry.
//!
//! A captured run gets its own process group, so a time-out ends QEMU and anything it started
//! in one signal. A terminal run stays in the terminal's process group instead: a process
//! outside the terminal's foreground group is stopped by the kernel as soon as it reads the
//! console, so there the time-out signals QEMU alone (it starts no other processes).

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Condvar, Mutex, OnceLock, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::console::WithoutTraceLines;
use crate::error::{LaunchError, describe, run_tool};
use crate::host::{
    SIGKILL, SIGTERM, die_with_parent, find_on_path, is_root, signal_process, signal_process_group,
};
use crate::outcome::Outcome;

/// QEMU's system emulator for 64-bit Arm.
const QEMU_PROGRAM: &str = "qemu-system-aarch64";

/// The Debian package that provides [`QEMU_PROGRAM`].
const QEMU_PACKAGE: &str = "qemu-system-arm";

/// How long QEMU gets to exit after SIGTERM before it is sent SIGKILL.
const TERMINATION_GRACE: Duration = Duration::from_secs(3);

/// How many QEMUs one process runs at once: the machines this is developed on have 2 cores.
pub const MAX_CONCURRENT_RUNS: u32 = 2;

/// From this many vCPUs up, a run has the host to itself: such guests keep every host core busy.
pub const EXCLUSIVE_RUN_SMP: u32 = 64;

/// Where the guest's serial console goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Console {
    /// Kept in the [`Outcome`] only (what tests use).
    Captured,
    /// Kept in the outcome and also copied as it arrives to this process's stdout (and
    /// QEMU's own messages to its stderr).
    Echoed,
    /// This process's terminal, shared with QEMU (`-nographic`): the user can type to the
    /// guest, and Ctrl-A X quits QEMU. Nothing is captured.
    Terminal,
}

impl Console {
    /// The QEMU arguments that attach serial port `port` (the board's console; the ports
    /// before it go nowhere) and the monitor this way.
    pub(crate) fn qemu_args(self, port: usize) -> Vec<&'static str> {
        if self == Console::Terminal && port == 0 {
            return vec!["-nographic"];
        }
        let mut args = vec!["-display", "none"];
        for _ in 0..port {
            args.extend(["-serial", "null"]);
        }
        match self {
            // The monitor shares the terminal: Ctrl-A X quits, as with -nographic.
            Console::Terminal => args.extend(["-serial", "mon:stdio"]),
            Console::Captured | Console::Echoed => {
                args.extend(["-serial", "stdio", "-monitor", "none"]);
            }
        }
        args
    }
}

/// The path of `qemu-system-aarch64`, installing Debian's `qemu-system-arm` first when it is
/// missing and this process runs as root with apt-get (retrying once after `apt-get update`).
/// The answer is found once per process.
pub fn find_qemu() -> Result<PathBuf, LaunchError> {
    static QEMU: OnceLock<Result<PathBuf, LaunchError>> = OnceLock::new();
    QEMU.get_or_init(|| {
        if let Some(qemu) = find_on_path(QEMU_PROGRAM) {
            return Ok(qemu);
        }
        if !may_install_packages() {
            return Err(LaunchError::QemuMissing);
        }
        eprintln!(
            "coresched-qemu: {QEMU_PROGRAM} not found; installing {QEMU_PACKAGE} with apt-get"
        );
        apt_install(&[QEMU_PACKAGE])
            .map_err(|error| LaunchError::Tool(format!("{error}; {}", LaunchError::QemuMissing)))?;
        find_on_path(QEMU_PROGRAM).ok_or(LaunchError::QemuMissing)
    })
    .clone()
}

/// Whether the launcher may install a missing Debian package itself: it runs as root and
/// apt-get is there.
pub(crate) fn may_install_packages() -> bool {
    is_root() && find_on_path("apt-get").is_some()
}

/// Installs Debian's `packages` with apt-get, retrying once after `apt-get update` (the
/// package lists may be missing or stale). Callers check [`may_install_packages`] first.
pub(crate) fn apt_install(packages: &[&str]) -> Result<(), LaunchError> {
    let install = || run_tool(apt_get().args(["install", "-y"]).args(packages));
    install()
        .or_else(|_| run_tool(apt_get().arg("update")).and_then(|_| install()))
        .map(drop)
}

/// The path of `program`, installing Debian's `package` first when it is missing and
/// [`may_install_packages`]; `Err` saying how to install it otherwise.
pub(crate) fn find_or_install(program: &str, package: &str) -> Result<PathBuf, LaunchError> {
    let missing = || {
        LaunchError::Tool(format!(
            "{program} not found; install it with: sudo apt-get install {package}"
        ))
    };
    if let Some(found) = find_on_path(program) {
        return Ok(found);
    }
    if !may_install_packages() {
        return Err(missing());
    }
    eprintln!("coresched-qemu: {program} not found; installing {package} with apt-get");
    apt_install(&[package])
        .map_err(|error| LaunchError::Tool(format!("{error}; {}", missing())))?;
    find_on_path(program).ok_or_else(missing)
}

fn apt_get() -> Command {
    let mut command = Command::new("apt-get");
    command
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null());
    command
}

/// Runs `program` (QEMU) with `args`, console wired as `console`, and ends it (SIGTERM, then SIGKILL
/// after a grace period) if it has not exited within `timeout`. Returns once it has exited
/// and its output is collected; `Err` only if it could not be started.
pub(crate) fn run(
    program: &Path,
    args: &[OsString],
    console: Console,
    timeout: Duration,
) -> Result<Outcome, LaunchError> {
    let mut command = Command::new(program);
    // No guest here plays sound: the ZCU102's DisplayPort audio would otherwise try the host's
    // ALSA and fill stderr with its complaints.
    command.args(args).env("QEMU_AUDIO_DRV", "none");
    if console == Console::Terminal {
        command
            .stdin(Stdio::inherit())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit());
    } else {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command.process_group(0);
    }
    // SAFETY: die_with_parent makes one async-signal-safe system call and allocates nothing,
    // which is all a pre_exec hook may do.
    unsafe {
        command.pre_exec(die_with_parent);
    }

    let started = Instant::now();
    let mut child = command.spawn().map_err(|error| {
        LaunchError::Tool(format!("could not run `{}`: {error}", describe(&command)))
    })?;
    // Echoed runs show QEMU's own errors as well as the guest's console, less the timeline's
    // lines (kept in the capture for `--trace`).
    let echo = |stream: Box<dyn Write + Send>| (console == Console::Echoed).then_some(stream);
    let console_reader = child
        .stdout
        .take()
        .map(|out| copy_in_background(out, echo(Box::new(WithoutTraceLines::new(io::stdout())))));
    let stderr_reader = child
        .stderr
        .take()
        .map(|err| copy_in_background(err, echo(Box::new(io::stderr()))));
    let (status, timed_out) = wait_or_end(child, console, timeout);
    let wall = started.elapsed();
    let outcome = Outcome {
        console: console_reader.map(join_output).unwrap_or_default(),
        qemu_stderr: stderr_reader.map(join_output).unwrap_or_default(),
        status,
        gdb_output: String::new(),
        timed_out,
        wall,
        timeout,
    };
    match start_failure(&outcome) {
        Some(why) => Err(LaunchError::QemuFailed(why.to_owned())),
        None => Ok(outcome),
    }
}

/// QEMU's error line if it refused to start the machine: it exited 1 before the guest printed
/// anything, saying why on stderr as `<program>: <why>`. A kernel that exits 1 (a failed test)
/// has always printed its report first.
fn start_failure(outcome: &Outcome) -> Option<&str> {
    if outcome.timed_out || outcome.status.code() != Some(1) || !outcome.console.is_empty() {
        return None;
    }
    outcome
        .qemu_stderr
        .lines()
        .find_map(|line| line.strip_prefix(QEMU_PROGRAM)?.strip_prefix(": "))
}

/// Waits for `child` for up to `timeout`; past that, ends it and reports `timed_out`. In the
/// captured modes whatever is left of its process group is then killed, so no straggler keeps
/// the console pipe open.
fn wait_or_end(child: Child, console: Console, timeout: Duration) -> (ExitStatus, bool) {
    let pid = child.id();
    let (exited, exit_status) = mpsc::channel();
    let waiter = thread::spawn(move || {
        let mut child = child;
        // The receiver lives until this thread is joined below, so the send cannot fail.
        let _ = exited.send(child.wait());
    });
    let own_group = console != Console::Terminal;
    // Signalling a process or group that has already gone fails with ESRCH, which is expected
    // here: QEMU may exit on its own at any moment.
    let signal = |signal| {
        let _ = if own_group {
            signal_process_group(pid, signal)
        } else {
            signal_process(pid, signal)
        };
    };
    let (waited, timed_out) = match exit_status.recv_timeout(timeout) {
        Ok(waited) => (waited, false),
        Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
            signal(SIGTERM);
            let waited = exit_status
                .recv_timeout(TERMINATION_GRACE)
                .unwrap_or_else(|_| {
                    signal(SIGKILL);
                    exit_status
                        .recv()
                        .expect("the waiter reports before it ends")
                });
            (waited, true)
        }
    };
    // A process group lives as long as any member, so its id cannot pass to another group
    // while stragglers remain; with none left the signal finds nobody.
    if own_group {
        signal(SIGKILL);
    }
    waiter.join().expect("the waiter thread does not panic");
    // wait(2) on a child we spawned and still own can only fail on a broken process table.
    let status = waited.expect("waiting for our own child process");
    (status, timed_out)
}

/// Reads `source` to its end on a new thread, copying it to `echo` (if any) as it comes; the
/// thread returns what it read.
fn copy_in_background(
    mut source: impl Read + Send + 'static,
    mut echo: Option<Box<dyn Write + Send>>,
) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut kept = Vec::new();
        let mut chunk = [0_u8; 4096];
        loop {
            match source.read(&mut chunk) {
                Ok(0) => break,
                Ok(read) => {
                    kept.extend_from_slice(&chunk[..read]);
                    if let Some(echo) = &mut echo {
                        // Echoing is a convenience: a closed stdout must not lose the capture.
                        let _ = echo.write_all(&chunk[..read]).and_then(|()| echo.flush());
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        kept
    })
}

fn join_output(reader: JoinHandle<Vec<u8>>) -> String {
    let bytes = reader.join().expect("the output reader does not panic");
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A process-wide count of QEMU runs in flight, so concurrent tests do not oversubscribe the
/// host: at most [`MAX_CONCURRENT_RUNS`] at once, and a run of [`EXCLUSIVE_RUN_SMP`] vCPUs or
/// more alone.
pub(crate) struct RunSlots {
    in_use: Mutex<u32>,
    freed: Condvar,
}

/// A claim on some of [`RunSlots`]; dropping it gives them back.
pub(crate) struct RunSlotClaim {
    slots: &'static RunSlots,
    weight: u32,
}

impl RunSlots {
    /// Waits until a run of `smp` vCPUs may start and claims its share of the host.
    pub(crate) fn claim(smp: u32) -> RunSlotClaim {
        static SLOTS: RunSlots = RunSlots {
            in_use: Mutex::new(0),
            freed: Condvar::new(),
        };
        let weight = if smp >= EXCLUSIVE_RUN_SMP {
            MAX_CONCURRENT_RUNS
        } else {
            1
        };
        let in_use = SLOTS.in_use.lock().unwrap_or_else(PoisonError::into_inner);
        let mut in_use = SLOTS
            .freed
            .wait_while(in_use, |in_use| *in_use + weight > MAX_CONCURRENT_RUNS)
            .unwrap_or_else(PoisonError::into_inner);
        *in_use += weight;
        RunSlotClaim {
            slots: &SLOTS,
            weight,
        }
    }
}

impl Drop for RunSlotClaim {
    fn drop(&mut self) {
        *self
            .slots
            .in_use
            .lock()
            .unwrap_or_else(PoisonError::into_inner) -= self.weight;
        self.slots.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(script: &str) -> Vec<OsString> {
        vec!["-c".into(), script.into()]
    }

    #[test]
    fn captures_output_and_exit_status() {
        let outcome = run(
            Path::new("/bin/sh"),
            &shell("echo console; echo diagnostics >&2; exit 3"),
            Console::Captured,
            Duration::from_secs(30),
        )
        .expect("sh runs");
        assert_eq!(outcome.console, "console\n");
        assert_eq!(outcome.qemu_stderr, "diagnostics\n");
        assert_eq!(outcome.status.code(), Some(3));
        assert!(!outcome.timed_out);
    }

    #[test]
    fn a_time_out_ends_the_whole_process_group() {
        // The shell starts a background sleeper, reports its pid and waits: only a signal to the
        // group ends both in time. The sleeper ignores SIGTERM, so SIGKILL must follow.
        let script = "(trap '' TERM; exec sleep 60) & echo $!; wait";
        let outcome = run(
            Path::new("/bin/sh"),
            &shell(script),
            Console::Captured,
            Duration::from_millis(300),
        )
        .expect("sh runs");
        assert!(outcome.timed_out);
        assert_eq!(outcome.status.code(), None, "ended by a signal");
        assert!(
            outcome.wall < Duration::from_secs(30),
            "took {:?}",
            outcome.wall
        );
        let sleeper: u32 = outcome.console.trim().parse().expect("the sleeper's pid");
        assert!(
            !is_running(sleeper),
            "the background sleeper {sleeper} survived"
        );
    }

    /// Whether `pid` is a live process: neither gone nor a zombie waiting to be reaped (a
    /// container's init may never reap it).
    fn is_running(pid: u32) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // The state follows the parenthesised command name.
            let state = stat.rsplit_once(") ").map(|(_, rest)| rest.chars().next());
            if state == Some(Some('Z')) {
                return false;
            }
            if Instant::now() > deadline {
                return true;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn a_machine_qemu_refuses_is_a_launch_error() {
        let script = "echo \"qemu-system-aarch64: cannot set up guest memory 'mach-virt.ram': \
                      Cannot allocate memory\" >&2; exit 1";
        let error = run(
            Path::new("/bin/sh"),
            &shell(script),
            Console::Captured,
            Duration::from_secs(30),
        )
        .expect_err("QEMU refused");
        assert_eq!(
            error.to_string(),
            "QEMU could not start the machine: cannot set up guest memory 'mach-virt.ram': \
             Cannot allocate memory"
        );
        // A guest that printed its report and exited 1 is a failed test, not a launch error.
        let failed_test = run(
            Path::new("/bin/sh"),
            &shell("echo '0 passed, 1 failed'; echo 'qemu-system-aarch64: x' >&2; exit 1"),
            Console::Captured,
            Duration::from_secs(30),
        )
        .expect("a finished run");
        assert_eq!(failed_test.status.code(), Some(1));
    }

    #[test]
    fn a_missing_program_is_a_launch_error() {
        let error = run(
            Path::new("/nonexistent/qemu"),
            &[],
            Console::Captured,
            Duration::from_secs(1),
        )
        .expect_err("cannot start");
        assert!(
            error
                .to_string()
                .starts_with("could not run `/nonexistent/qemu`"),
            "{error}"
        );
    }

    #[test]
    fn console_arguments_match_the_mode() {
        assert_eq!(Console::Terminal.qemu_args(0), ["-nographic"]);
        let captured = ["-display", "none", "-serial", "stdio", "-monitor", "none"];
        assert_eq!(Console::Captured.qemu_args(0), captured);
        assert_eq!(Console::Echoed.qemu_args(0), captured);
        // The Raspberry Pi 3's console is the second port.
        assert_eq!(
            Console::Captured.qemu_args(1),
            [
                "-display", "none", "-serial", "null", "-serial", "stdio", "-monitor", "none"
            ]
        );
        assert_eq!(
            Console::Terminal.qemu_args(1),
            [
                "-display",
                "none",
                "-serial",
                "null",
                "-serial",
                "mon:stdio"
            ]
        );
    }

    #[test]
    fn exclusive_runs_take_every_slot() {
        let small = RunSlots::claim(4);
        assert_eq!(small.weight, 1);
        drop(small);
        let large = RunSlots::claim(EXCLUSIVE_RUN_SMP);
        assert_eq!(large.weight, MAX_CONCURRENT_RUNS);
    }
}
