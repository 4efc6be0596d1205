//! Debugging a boot with gdb: the `gdb-multiarch` command that attaches to QEMU's gdb server
//! with the kernel's symbols at the address the Image runs at, finding (or installing)
//! `gdb-multiarch`, and running it beside QEMU, interactively (`--gdb-exec`) or with a script
//! in batch mode (what the host tests use).
//!
//! The ELF is linked at 0 and relocates itself wherever the loader puts the Image. QEMU `virt`
//! loads an arm64 Image at the start of RAM plus the header's `text_offset`, so the symbols are
//! loaded with `symbol-file -o <that address>`.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::error::{LaunchError, describe, io_error};
use crate::host::{ignore_interrupts, is_listening};
use crate::qemu::find_or_install;

/// The port QEMU's gdb server listens on unless `--gdb-port` says otherwise (QEMU's `-s`).
pub const DEFAULT_GDB_PORT: u16 = 1234;

/// gdb for every architecture, which debugs an aarch64 guest from any host.
const GDB_PROGRAM: &str = "gdb-multiarch";

/// How long gdb waits for QEMU to open its gdb server before giving up.
const LISTEN_WAIT: Duration = Duration::from_secs(30);

/// How a boot is debugged: where QEMU's gdb server listens, and whether the launcher starts
/// gdb itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gdb {
    /// The TCP port of QEMU's gdb server on localhost.
    pub port: u16,
    /// What the launcher runs, if anything, once QEMU listens.
    pub session: GdbSession,
}

/// Whether the launcher runs gdb itself, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GdbSession {
    /// The launcher prints the command and the user runs it.
    Printed,
    /// The launcher runs the command on this process's terminal (`--gdb-exec`).
    Interactive,
    /// The launcher runs the command in batch mode followed by these gdb commands, and keeps
    /// what gdb prints in [`Outcome::gdb_output`](crate::Outcome::gdb_output).
    Batch(Vec<String>),
}

impl Gdb {
    /// QEMU's gdb server on `port`; gdb itself is left to the user.
    pub fn on_port(port: u16) -> Self {
        Gdb {
            port,
            session: GdbSession::Printed,
        }
    }

    /// Sets whether, and how, the launcher runs gdb.
    pub fn session(mut self, session: GdbSession) -> Self {
        self.session = session;
        self
    }

    /// The QEMU arguments that start the guest halted with a gdb server on [`Gdb::port`].
    pub fn qemu_args(&self) -> [String; 3] {
        [
            "-gdb".to_owned(),
            format!("tcp::{}", self.port),
            "-S".to_owned(),
        ]
    }

    /// The gdb commands that attach: the ELF's symbols at `load_address` (when there is an
    /// ELF), then the remote target.
    pub fn attach_commands(&self, elf: Option<&Path>, load_address: u64) -> Vec<String> {
        let symbols = elf.map(|elf| format!("symbol-file -o {load_address:#x} {}", elf.display()));
        symbols
            .into_iter()
            .chain([format!("target remote localhost:{}", self.port)])
            .collect()
    }

    /// The command line a user types to attach, e.g.
    /// `gdb-multiarch -ex 'symbol-file -o 0x40080000 target/.../coresched' -ex 'target remote localhost:1234'`.
    pub fn command_line(&self, elf: Option<&Path>, load_address: u64) -> String {
        let mut line = GDB_PROGRAM.to_owned();
        for command in self.attach_commands(elf, load_address) {
            line.push_str(&format!(" -ex '{command}'"));
        }
        line
    }

    /// Starts [`GdbSession::Interactive`] or [`GdbSession::Batch`] gdb on a new thread, which
    /// waits for QEMU's server to listen, runs gdb and returns what it printed (nothing for an
    /// interactive session, during which this process ignores Ctrl-C: gdb uses it to stop the
    /// guest). `None` for [`GdbSession::Printed`]. `Err` if gdb-multiarch is missing and cannot
    /// be installed.
    pub(crate) fn start(
        &self,
        elf: Option<&Path>,
        load_address: u64,
    ) -> Result<Option<JoinHandle<String>>, LaunchError> {
        let script = match &self.session {
            GdbSession::Printed => return Ok(None),
            GdbSession::Interactive => {
                ignore_interrupts();
                None
            }
            GdbSession::Batch(commands) => Some(commands.clone()),
        };
        let program = find_gdb()?;
        let mut command = Command::new(program);
        command.arg("-q");
        if script.is_some() {
            command.arg("-batch").stdin(Stdio::null());
        }
        let commands = self
            .attach_commands(elf, load_address)
            .into_iter()
            .chain(script.iter().flatten().cloned());
        for gdb_command in commands {
            command.arg("-ex").arg(gdb_command);
        }
        let port = self.port;
        Ok(Some(thread::spawn(move || {
            let started = Instant::now();
            while !is_listening(port) && started.elapsed() < LISTEN_WAIT {
                thread::sleep(Duration::from_millis(20));
            }
            let result = if script.is_some() {
                command.output().map(|output| {
                    let mut printed = String::from_utf8_lossy(&output.stdout).into_owned();
                    printed.push_str(&String::from_utf8_lossy(&output.stderr));
                    printed
                })
            } else {
                command.status().map(|_| String::new())
            };
            result
                .unwrap_or_else(|error| format!("could not run `{}`: {error}", describe(&command)))
        })))
    }
}

/// Where QEMU puts an arm64 Image on a board whose RAM starts at `ram_base`: there plus the
/// `text_offset` in the Image's header (as QEMU's loader does for any Image whose header gives
/// its size and whose offset clears QEMU's boot stub at the bottom of RAM, as 0x80000 does).
pub fn load_address(image: &Path, ram_base: u64) -> Result<u64, LaunchError> {
    let mut header = [0_u8; 24];
    File::open(image)
        .and_then(|mut file| file.read_exact(&mut header))
        .map_err(|error| io_error(image, &error))?;
    let field = |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().expect("eight bytes"));
    let (text_offset, image_size) = (field(8), field(16));
    Ok(ram_base
        + if image_size == 0 {
            0x80000
        } else {
            text_offset
        })
}

/// The path of `gdb-multiarch`, installing Debian's package first when it is missing and this
/// process runs as root with apt-get. The answer is found once per process.
pub fn find_gdb() -> Result<PathBuf, LaunchError> {
    static GDB: OnceLock<Result<PathBuf, LaunchError>> = OnceLock::new();
    GDB.get_or_init(|| find_or_install(GDB_PROGRAM, GDB_PROGRAM))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::VIRT_RAM_BASE;

    #[test]
    fn the_command_loads_the_symbols_at_the_load_address() {
        let gdb = Gdb::on_port(4321);
        assert_eq!(gdb.qemu_args(), ["-gdb", "tcp::4321", "-S"]);
        assert_eq!(
            gdb.command_line(Some(Path::new("/k/coresched")), 0x4008_0000),
            "gdb-multiarch -ex 'symbol-file -o 0x40080000 /k/coresched' \
             -ex 'target remote localhost:4321'"
        );
        assert_eq!(
            gdb.command_line(None, 0x4008_0000),
            "gdb-multiarch -ex 'target remote localhost:4321'"
        );
    }

    #[test]
    fn the_load_address_comes_from_the_image_header() {
        let dir = std::env::temp_dir().join(format!("coresched-gdb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temporary directory");
        let image = dir.join("header.Image");
        let header = |text_offset: u64, size: u64| {
            let mut bytes = vec![0_u8; 8];
            bytes.extend(text_offset.to_le_bytes());
            bytes.extend(size.to_le_bytes());
            std::fs::write(&image, bytes).expect("write the header");
        };
        header(0x20_0000, 0x1000);
        assert_eq!(load_address(&image, VIRT_RAM_BASE), Ok(0x4020_0000));
        // An old header without a size: QEMU assumes the classic 512 KiB offset.
        header(0x20_0000, 0);
        assert_eq!(load_address(&image, VIRT_RAM_BASE), Ok(0x4008_0000));
        std::fs::write(&image, b"short").expect("write");
        assert!(load_address(&image, VIRT_RAM_BASE).is_err());
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
