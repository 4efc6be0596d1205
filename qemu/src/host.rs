//! The few host operating-system services the launcher needs beyond `std`: finding programs on
//! `PATH`, asking whether it runs as root, signalling process groups, ignoring Ctrl-C while gdb
//! has the terminal, seeing whether a local TCP port is listening, and making a named pipe. The C library
//! functions are declared here rather than pulled in through a crate; this file is the only
//! place that calls them.

use std::ffi::{CString, c_char, c_int};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Asks a process to end; QEMU restores the terminal and exits.
pub(crate) const SIGTERM: c_int = 15;
/// Ends a process at once.
pub(crate) const SIGKILL: c_int = 9;
/// What Ctrl-C sends to the terminal's foreground process group.
const SIGINT: c_int = 2;
/// The `signal` handler that ignores the signal.
const SIG_IGN: usize = 1;

// SAFETY: these are the C library's declarations of POSIX functions (and Linux's `prctl`),
// with the argument and return types the C headers give them on Linux and the BSDs.
unsafe extern "C" {
    fn kill(pid: c_int, signal: c_int) -> c_int;
    fn geteuid() -> u32;
    fn signal(signal: c_int, handler: usize) -> usize;
    fn mkfifo(path: *const c_char, mode: u32) -> c_int;
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

/// Makes this process ignore Ctrl-C from now on, so that an interactive gdb, which shares the
/// terminal and stops the guest on Ctrl-C, does not take the launcher (and QEMU) down with it.
pub(crate) fn ignore_interrupts() {
    // SAFETY: setting SIGINT's disposition to SIG_IGN installs no code of ours and touches no
    // memory; the previous handler, which is returned, is not needed.
    unsafe {
        signal(SIGINT, SIG_IGN);
    }
}

/// Whether something listens on TCP `port` of this host, per Linux's `/proc/net/tcp` and
/// `/proc/net/tcp6` (a listening socket's state is `0A`). Nothing connects to the port, so a
/// server that accepts one client (QEMU's gdb server) is left alone. `false` where those files
/// do not exist.
pub(crate) fn is_listening(port: u16) -> bool {
    let local_port = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|table| {
        std::fs::read_to_string(table).is_ok_and(|table| {
            table.lines().skip(1).any(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                fields.len() > 3 && fields[1].ends_with(&local_port) && fields[3] == "0A"
            })
        })
    })
}

/// Makes a named pipe (FIFO) at `path`, readable and writable by this user only.
pub(crate) fn make_fifo(path: &Path) -> io::Result<()> {
    let path = CString::new(path.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: `path` is a NUL-terminated string that lives across the call, which only reads
    // it; mkfifo(3) creates a file and touches no other memory of ours.
    let result = unsafe { mkfifo(path.as_ptr(), 0o600) };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Opens the FIFO at `path` for writing without waiting for a reader: `Err` (ENXIO) at once if
/// nobody has it open for reading.
pub(crate) fn open_fifo_writer_now(path: &Path) -> io::Result<File> {
    /// `O_NONBLOCK` on Linux (x86 and Arm).
    const O_NONBLOCK: c_int = 0o4000;
    OpenOptions::new()
        .write(true)
        .custom_flags(O_NONBLOCK)
        .open(path)
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
    fn a_listening_port_is_seen_and_a_closed_one_is_not() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let port = listener.local_addr().expect("its address").port();
        assert!(is_listening(port));
        drop(listener);
        assert!(!is_listening(port));
    }

    #[test]
    fn a_fifo_carries_what_is_written_and_needs_a_reader_to_open() {
        let path = std::env::temp_dir().join(format!("coresched-host-{}.fifo", std::process::id()));
        make_fifo(&path).expect("a new FIFO");
        let error = open_fifo_writer_now(&path).expect_err("no reader yet");
        assert_eq!(error.raw_os_error(), Some(6), "ENXIO expected, got {error}");
        let reader_path = path.clone();
        let reader = std::thread::spawn(move || std::fs::read(reader_path).expect("read it"));
        let mut writer = loop {
            if let Ok(writer) = open_fifo_writer_now(&path) {
                break writer;
            }
            std::thread::yield_now();
        };
        io::Write::write_all(&mut writer, b"through").expect("write");
        drop(writer);
        assert_eq!(reader.join().expect("reader"), b"through");
        std::fs::remove_file(&path).expect("remove it");
    }

    #[test]
    fn signalling_a_missing_process_reports_the_error() {
        // Pids are at most 2^22 on Linux, so this one cannot exist.
        let error = signal_process(i32::MAX as u32, SIGTERM).expect_err("no such process");
        assert_eq!(error.raw_os_error(), Some(3), "ESRCH expected, got {error}");
    }
}
