//! The few host operating-system services the launcher needs beyond `std`: finding programs on
//! `PATH`, asking whether it runs as root, and signalling process groups. The C library
//! functions are declared here rather than pulled in through a crate; this file is the only
//! place that calls them.

use std::ffi::c_int;
use std::io;
use std::path::PathBuf;

/// Asks a process to end; QEMU restores the terminal and exits.
pub(crate) const SIGTERM: c_int = 15;
/// Ends a process at once.
pub(crate) const SIGKILL: c_int = 9;

// SAFETY: these are the C library's declarations of POSIX functions (and Linux's `prctl`),
// with the argument and return types the C headers give them on Linux and the BSDs.
unsafe extern "C" {
    fn kill(pid: c_int, signal: c_int) -> c_int;
    fn geteuid() -> u32;
    #[cfg(target_os = "linux")]
    fn prctl(option: c_int, ...) -> c_int;
}

/// The executable `name` in one of `PATH`'s directories, if there is one.
pub(crate) fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Whether this process runs with root's privileges (and so may run `apt-get install`).
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid takes no arguments, touches no memory of ours and cannot fail.
    unsafe { geteuid() == 0 }
}

/// Sends `signal` to every process in the process group `group`.
pub(crate) fn signal_process_group(group: u32, signal: c_int) -> io::Result<()> {
    let group = c_int::try_from(group).map_err(io::Error::other)?;
    signal_pid(-group, signal)
}

/// Sends `signal` to the single process `pid`.
pub(crate) fn signal_process(pid: u32, signal: c_int) -> io::Result<()> {
    signal_pid(c_int::try_from(pid).map_err(io::Error::other)?, signal)
}

fn signal_pid(pid: c_int, signal: c_int) -> io::Result<()> {
    // SAFETY: kill(2) only asks the kernel to deliver a signal to other processes (callers pass
    // QEMU's pid or process group, never 0 or -1); it reads and writes no memory of ours.
    let result = unsafe { kill(pid, signal) };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// In a child between fork and exec: asks Linux to send the child SIGKILL when the thread that
/// spawned it dies, so QEMU never outlives an interrupted launcher or test run. Does nothing
/// elsewhere. Only async-signal-safe calls are made, as `pre_exec` requires.
pub(crate) fn die_with_parent() -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        const PR_SET_PDEATHSIG: c_int = 1;
        // SAFETY: PR_SET_PDEATHSIG takes one integer argument (the signal) and changes only
        // this process's own death-signal setting; prctl is async-signal-safe.
        let result = unsafe { prctl(PR_SET_PDEATHSIG, SIGKILL as std::ffi::c_ulong) };
        if result != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_shell_on_path_and_not_a_made_up_program() {
        assert!(find_on_path("sh").is_some());
        assert!(find_on_path("no-such-program-coresched").is_none());
    }

    #[test]
    fn signalling_a_missing_process_reports_the_error() {
        // Pids are at most 2^22 on Linux, so this one cannot exist.
        let error = signal_process(i32::MAX as u32, SIGTERM).expect_err("no such process");
        assert_eq!(error.raw_os_error(), Some(3), "ESRCH expected, got {error}");
    }
}
