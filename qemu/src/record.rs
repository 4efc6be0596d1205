//! Recording a boot with QEMU's record/replay and replaying it (`--record DIR`, `--replay DIR`).
//!
//! A recording is a directory: QEMU's log of every non-deterministic event (`replay.bin`), a
//! qcow2 image holding the snapshot taken at the start (`snapshots.qcow2`, which reverse
//! execution in gdb needs), a copy of the kernel ELF and Image that ran (`coresched`,
//! `coresched.Image`), and the QEMU arguments that describe the board and the kernel command line
//! (`qemu-args`, with the clock's `-icount` setting). A replay boots that copy of the kernel and
//! refuses a different clock, board or command line, which would not follow the log.
//!
//! QEMU 7.2's record/replay runs one vCPU only: with `-smp` above 1 QEMU refuses with
//! "Record/replay feature is not supported for 'smp'", so the launcher refuses first.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::error::{LaunchError, io_error, run_tool};
use crate::machine::Clock;
use crate::qemu::find_or_install;

/// QEMU's event log in a recording directory.
const LOG_FILE: &str = "replay.bin";
/// The qcow2 image that holds the recording's snapshots.
const SNAPSHOT_DISK: &str = "snapshots.qcow2";
/// The copy of the kernel ELF (its Image is this name plus `.Image`).
const KERNEL_ELF: &str = "coresched";
/// The QEMU arguments the recording was made with, one a line.
const ARGS_FILE: &str = "qemu-args";
/// The snapshot QEMU takes when recording starts and loads when replay starts.
const START_SNAPSHOT: &str = "start";
/// The snapshot disk's size: it stores only snapshots (the guest's RAM and devices).
const SNAPSHOT_DISK_SIZE: &str = "64M";

/// Whether a boot is recorded into a directory or replayed from one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordReplay {
    /// Record the boot into this directory (created if missing; a recording there is replaced).
    Record(PathBuf),
    /// Replay the recording in this directory.
    Replay(PathBuf),
}

impl RecordReplay {
    /// The recording directory.
    pub fn dir(&self) -> &Path {
        match self {
            RecordReplay::Record(dir) | RecordReplay::Replay(dir) => dir,
        }
    }

    /// The flag that asks for it, `--record` or `--replay`.
    pub fn flag(&self) -> &'static str {
        match self {
            RecordReplay::Record(_) => "--record",
            RecordReplay::Replay(_) => "--replay",
        }
    }

    /// `Err` with the one line the launcher prints if the board cannot be recorded: more than
    /// one vCPU (QEMU 7.2 refuses), or a directory QEMU's option syntax cannot name.
    pub fn check(&self, smp: u32) -> Result<(), String> {
        if smp > 1 {
            return Err(format!(
                "{} needs --smp 1: QEMU 7.2's record/replay runs one vCPU only \
                 (with more it stops with \"Record/replay feature is not supported for 'smp'\")",
                self.flag()
            ));
        }
        if self.dir().to_string_lossy().contains(',') {
            return Err(format!(
                "{} {}: QEMU options cannot name a path with a comma",
                self.flag(),
                self.dir().display()
            ));
        }
        Ok(())
    }

    /// Where the Image that boots is: the copy in the recording directory.
    pub fn image(&self) -> PathBuf {
        image_in(self.dir())
    }

    /// The kernel a replay boots, the copy kept in the recording: its Image, and its ELF if
    /// the recording has one. `None` when recording.
    pub fn recorded_kernel(&self) -> Option<(PathBuf, Option<PathBuf>)> {
        match self {
            RecordReplay::Record(_) => None,
            RecordReplay::Replay(dir) => Some(kernel_in(dir)),
        }
    }

    /// Makes the directory ready before QEMU starts. Recording: creates it and an empty
    /// snapshot disk (with `qemu-img`, installed like QEMU when missing), copies the kernel
    /// (`image` and its `elf`) into it and writes the `-icount` setting of `clock` and
    /// `machine_args`; returns the copy, which is what boots. Replaying: checks that the
    /// recording is complete and was made with the same clock and `machine_args`; returns its
    /// kernel.
    pub fn prepare(
        &self,
        image: &Path,
        elf: Option<&Path>,
        clock: Clock,
        machine_args: &[OsString],
    ) -> Result<(PathBuf, Option<PathBuf>), LaunchError> {
        let dir = self.dir();
        let args_text = args_file_text(clock, machine_args);
        let args_path = dir.join(ARGS_FILE);
        match self {
            RecordReplay::Record(_) => {
                fs::create_dir_all(dir).map_err(|error| io_error(dir, &error))?;
                let elf_copy = dir.join(KERNEL_ELF);
                if elf.is_none() {
                    // A kernel without its ELF leaves none in the recording (none from before).
                    let _ = fs::remove_file(&elf_copy);
                }
                let copies = [(Some(image), self.image()), (elf, elf_copy)];
                for (from, to) in copies {
                    if let Some(from) = from.filter(|from| *from != to) {
                        fs::copy(from, &to).map_err(|error| io_error(&to, &error))?;
                    }
                }
                run_tool(
                    Command::new(find_qemu_img()?)
                        .args(["create", "-q", "-f", "qcow2"])
                        .arg(dir.join(SNAPSHOT_DISK))
                        .arg(SNAPSHOT_DISK_SIZE),
                )?;
                fs::write(&args_path, args_text).map_err(|error| io_error(&args_path, &error))?;
            }
            RecordReplay::Replay(_) => {
                let image_name = format!("{KERNEL_ELF}.Image");
                for file in [LOG_FILE, SNAPSHOT_DISK, ARGS_FILE, image_name.as_str()] {
                    if !dir.join(file).is_file() {
                        return Err(LaunchError::InvalidMachine(format!(
                            "--replay {}: no recording there ({file} is missing; make one with --record)",
                            dir.display()
                        )));
                    }
                }
                let recorded =
                    fs::read_to_string(&args_path).map_err(|error| io_error(&args_path, &error))?;
                if recorded != args_text {
                    return Err(LaunchError::InvalidMachine(format!(
                        "--replay {}: recorded with `{}`, not `{}`: give the flags of the recording",
                        dir.display(),
                        recorded.trim_end().replace('\n', " "),
                        args_text.trim_end().replace('\n', " ")
                    )));
                }
            }
        }
        Ok(kernel_in(dir))
    }

    /// The QEMU arguments that record or replay: `-icount` with `clock`'s setting (QEMU's
    /// `shift=auto` on the host clock) plus the record/replay options, and the snapshot disk.
    pub fn qemu_args(&self, clock: Clock) -> Vec<OsString> {
        let dir = self.dir();
        let mode = match self {
            RecordReplay::Record(_) => "record",
            RecordReplay::Replay(_) => "replay",
        };
        let mut icount = OsString::from(format!("{},rr={mode},rrfile=", icount_setting(clock)));
        icount.push(dir.join(LOG_FILE));
        icount.push(format!(",rrsnapshot={START_SNAPSHOT}"));
        let mut drive = OsString::from("file=");
        drive.push(dir.join(SNAPSHOT_DISK));
        drive.push(",if=none,id=rr-snapshots");
        vec!["-icount".into(), icount, "-drive".into(), drive]
    }
}

/// The Image copy in recording directory `dir`, where QEMU loads it from.
fn image_in(dir: &Path) -> PathBuf {
    dir.join(format!("{KERNEL_ELF}.Image"))
}

/// The kernel copy in recording directory `dir`: its Image, and its ELF if there is one.
fn kernel_in(dir: &Path) -> (PathBuf, Option<PathBuf>) {
    let elf = dir.join(KERNEL_ELF);
    (image_in(dir), elf.is_file().then_some(elf))
}

/// The `-icount` setting a recording runs on: `clock`'s own, or QEMU's `shift=auto` for the
/// host clock (record/replay needs icount).
fn icount_setting(clock: Clock) -> &'static str {
    clock.qemu_args().get(1).copied().unwrap_or("shift=auto")
}

/// What [`ARGS_FILE`] holds: `-icount`, `clock`'s setting, then `args`, one a line.
fn args_file_text(clock: Clock, args: &[OsString]) -> String {
    ["-icount", icount_setting(clock)]
        .into_iter()
        .map(|arg| format!("{arg}\n"))
        .chain(
            args.iter()
                .map(|arg| format!("{}\n", arg.to_string_lossy())),
        )
        .collect()
}

/// The path of `qemu-img`, which makes a recording's snapshot disk: from Debian's
/// `qemu-utils`, installed when missing and this process runs as root with apt-get. Found once
/// per process.
pub fn find_qemu_img() -> Result<PathBuf, LaunchError> {
    static QEMU_IMG: OnceLock<Result<PathBuf, LaunchError>> = OnceLock::new();
    QEMU_IMG
        .get_or_init(|| find_or_install("qemu-img", "qemu-utils"))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_vcpus_are_refused_with_qemus_reason() {
        let record = RecordReplay::Record("/tmp/rec".into());
        assert_eq!(record.check(1), Ok(()));
        let error = record.check(4).expect_err("QEMU 7.2 refuses smp");
        assert!(error.starts_with("--record needs --smp 1"), "{error}");
        assert!(
            error.contains("Record/replay feature is not supported for 'smp'"),
            "{error}"
        );
        let replay = RecordReplay::Replay("/tmp/a,b".into());
        assert!(replay.check(1).expect_err("a comma").contains("comma"));
    }

    #[test]
    fn the_arguments_keep_the_clock_and_name_the_directory() {
        let join = |args: Vec<OsString>| {
            args.iter()
                .map(|arg| arg.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let record = RecordReplay::Record("/r".into());
        assert_eq!(
            join(record.qemu_args(Clock::Host)),
            "-icount shift=auto,rr=record,rrfile=/r/replay.bin,rrsnapshot=start \
             -drive file=/r/snapshots.qcow2,if=none,id=rr-snapshots"
        );
        let replay = RecordReplay::Replay("/r".into());
        assert!(
            join(replay.qemu_args(Clock::Deterministic))
                .starts_with("-icount shift=0,sleep=off,rr=replay,rrfile=/r/replay.bin")
        );
    }

    #[test]
    fn a_replay_needs_a_recording_made_the_same_way() {
        let dir = std::env::temp_dir().join(format!("coresched-record-{}", std::process::id()));
        let replay = RecordReplay::Replay(dir.clone());
        let image = image_in(&dir);
        let args: Vec<OsString> = vec!["-smp".into(), "1".into()];
        let missing = replay
            .prepare(&image, None, Clock::Host, &args)
            .expect_err("nothing recorded");
        assert!(
            missing.to_string().contains("no recording there"),
            "{missing}"
        );

        fs::create_dir_all(&dir).expect("temporary directory");
        for file in [LOG_FILE, SNAPSHOT_DISK, "coresched.Image"] {
            fs::write(dir.join(file), b"").expect("write");
        }
        fs::write(dir.join(ARGS_FILE), "-icount\nshift=auto\n-smp\n1\n").expect("write");
        assert_eq!(
            replay.prepare(&image, None, Clock::Host, &args),
            Ok((image.clone(), None))
        );
        let other: Vec<OsString> = vec!["-smp".into(), "2".into()];
        let differs = replay
            .prepare(&image, None, Clock::Host, &other)
            .expect_err("other flags");
        assert!(
            differs.to_string().contains(
                "recorded with `-icount shift=auto -smp 1`, not `-icount shift=auto -smp 2`"
            ),
            "{differs}"
        );
        let clock = replay
            .prepare(&image, None, Clock::Deterministic, &args)
            .expect_err("another clock");
        assert!(
            clock
                .to_string()
                .contains("not `-icount shift=0,sleep=off -smp 1`"),
            "{clock}"
        );
        fs::remove_dir_all(&dir).expect("clean up");
    }
}
