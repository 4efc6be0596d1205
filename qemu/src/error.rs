//! Why a boot could not be run. A boot that ran but failed (a non-zero status, a time-out) is
//! not an error: it is an [`Outcome`](crate::Outcome) for the caller to judge.

use std::fmt;
use std::io;
use std::path::Path;
use std::process::{Command, Output};

/// A reason the launcher could not build the kernel or start QEMU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LaunchError {
    /// The requested machine is one QEMU `virt` cannot run; the text says which setting.
    InvalidMachine(String),
    /// A tool the launcher runs (rustup, rustc, llvm-objcopy, apt-get, QEMU) could not be
    /// started or failed; the text names the command and what went wrong.
    Tool(String),
    /// The kernel did not compile; the text is cargo's own output.
    KernelBuild(String),
    /// `qemu-system-aarch64` is not installed, and the launcher could not install it.
    QemuMissing,
    /// QEMU refused to start the machine (too much memory for the host, a missing Image, ...);
    /// the text is QEMU's own error line.
    QemuFailed(String),
}

impl fmt::Display for LaunchError {
    /// One line, except for [`LaunchError::KernelBuild`], which adds cargo's diagnostics.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LaunchError::InvalidMachine(why) | LaunchError::Tool(why) => f.write_str(why),
            LaunchError::KernelBuild(output) => write!(f, "the kernel did not build:\n{output}"),
            LaunchError::QemuFailed(why) => write!(f, "QEMU could not start the machine: {why}"),
            LaunchError::QemuMissing => f.write_str(
                "qemu-system-aarch64 not found; install it with: sudo apt-get install qemu-system-arm",
            ),
        }
    }
}

impl std::error::Error for LaunchError {}

/// Runs `command` to completion with its output captured; `Err` names the command and says
/// how it failed (could not start, or a non-zero status with the last line it printed).
pub(crate) fn run_tool(command: &mut Command) -> Result<Output, LaunchError> {
    let output = command.output().map_err(|error| {
        LaunchError::Tool(format!("could not run `{}`: {error}", describe(command)))
    })?;
    if output.status.success() {
        return Ok(output);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last_words = stderr
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("");
    Err(LaunchError::Tool(format!(
        "`{}` failed ({}): {}",
        describe(command),
        output.status,
        last_words.trim()
    )))
}

/// `command` as a user would type it: the program and its arguments.
pub(crate) fn describe(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A file operation on `path` that failed, as one line: the path, then the error.
pub(crate) fn io_error(path: &Path, error: &io::Error) -> LaunchError {
    LaunchError::Tool(format!("{}: {error}", path.display()))
}
