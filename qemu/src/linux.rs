//! The Linux peer of the benchmark, `cargo qemu -- --bench --vs-linux`: runs coresched's
//! benchmark, then the same scheduler workloads on Debian's arm64 Linux in the same QEMU
//! board, and prints one table with both kernels' instruction counts.
//!
//! Linux is fetched and built on first use and cached in `target/linux/`:
//! - `vmlinuz`: the kernel of Debian's `linux-image-arm64`, downloaded with apt-get through the
//!   host's own apt sources, for arm64, in a private apt state (the host's dpkg is untouched);
//! - `init`: `qemu/linux/bench.c` compiled with `aarch64-linux-gnu-gcc -static -O2` (rebuilt
//!   when the source changes; `init.c` is the copy it was built from);
//! - `initramfs.cpio`: `init` plus `/dev/console`, written here in the cpio `newc` format.
//!
//! The C program prints `linux <name> <n>`; the kernel prints
//! `bench <name> coresched=<n> linux=- unit=instructions`. [`Comparison`] joins the two.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::boot::{Boot, Outcome};
use crate::cli::{self, TIMEOUT_EXIT_CODE};
use crate::error::{LaunchError, describe, run_tool};
use crate::host::find_on_path;
use crate::kernel::workspace_root;
use crate::machine::{Clock, Machine};
use crate::qemu::{self, Console, RunSlots, apt_install, may_install_packages};

/// Linux's command line: the PL011 console, no boot chatter, no address randomisation (the
/// same layout every run), and an immediate reboot on panic, which `-no-reboot` turns into
/// QEMU's exit.
pub const LINUX_COMMAND_LINE: &str = "console=ttyAMA0 quiet nokaslr norandmaps panic=-1";

/// The figures the table lists first, in this order; others follow in the order printed.
pub const TABLE_ORDER: [&str; 7] = [
    "yield_switch",
    "handoff_same_core",
    "handoff_cross_core",
    "sleep_lateness",
    "spawn_join",
    "timer_insert_cancel_1k",
    "timer_insert_cancel_64k",
];

/// The exit status when Linux did not finish its benchmark (as for a kernel boot error).
const PEER_FAILED_EXIT_CODE: u8 = 3;

/// Debian's package that always depends on the current arm64 kernel package.
const KERNEL_METAPACKAGE: &str = "linux-image-arm64";

/// The cross compiler for the C program, and the Debian packages that provide it with a static C
/// library.
const CROSS_GCC: &str = "aarch64-linux-gnu-gcc";
const CROSS_PACKAGES: [&str; 2] = ["gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross"];

/// The C program's source, relative to the workspace root.
const BENCH_SOURCE: &str = "qemu/linux/bench.c";

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
        args.extend(Console::Captured.qemu_args().iter().map(OsString::from));
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
    let status = cli::exit_code(&coresched);
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

/// The files QEMU boots Linux from, in `target/linux/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerFiles {
    /// Debian's arm64 kernel Image.
    pub kernel: PathBuf,
    /// The initramfs holding the benchmark as `/init`.
    pub initramfs: PathBuf,
}

impl PeerFiles {
    /// Makes sure `target/linux/` holds the kernel (downloaded once) and an initramfs built
    /// from the current `qemu/linux/bench.c`. Prints a line to stderr for each step it takes;
    /// `Err` is one line naming what failed or is missing, and how to get it.
    pub fn prepare() -> Result<PeerFiles, LaunchError> {
        let cache = workspace_root().join("target").join("linux");
        fs::create_dir_all(&cache).map_err(|error| io_error(&cache, &error))?;
        let kernel = cache.join("vmlinuz");
        if !kernel.is_file() {
            fetch_kernel(&cache, &kernel)?;
        }
        let init = build_init(&cache)?;
        let init = fs::read(&init).map_err(|error| io_error(&init, &error))?;
        let initramfs = cache.join("initramfs.cpio");
        fs::write(&initramfs, initramfs_archive(&init))
            .map_err(|error| io_error(&initramfs, &error))?;
        Ok(PeerFiles { kernel, initramfs })
    }
}

/// Downloads Debian's current arm64 kernel package through the host's apt sources and
/// extracts its `vmlinuz` to `kernel`.
fn fetch_kernel(cache: &Path, kernel: &Path) -> Result<(), LaunchError> {
    for tool in ["apt-get", "apt-cache", "dpkg-deb", "tar"] {
        if find_on_path(tool).is_none() {
            return Err(LaunchError::Tool(format!(
                "{tool} not found: fetching Debian's arm64 Linux needs apt and dpkg \
                 (or put an arm64 Linux Image at {})",
                kernel.display()
            )));
        }
    }
    let apt = PrivateApt::create(&cache.join("apt"))?;
    progress("fetching Debian's arm64 package index with apt-get (first use only)");
    let update = run_tool(apt.command("apt-get").arg("update"))?;
    let package = apt.kernel_package(&String::from_utf8_lossy(&update.stderr))?;
    progress(&format!("downloading {package} (arm64)"));
    run_tool(
        apt.command("apt-get")
            .args(["download", &package])
            .current_dir(&apt.root),
    )?;
    let deb = only_entry(&apt.root, |name| name.ends_with(".deb"))?;
    progress(&format!("extracting vmlinuz from {}", deb.display()));
    extract_boot_files(&deb, &apt.root)?;
    let vmlinuz = only_entry(&apt.root.join("boot"), |name| name.starts_with("vmlinuz-"))?;
    fs::rename(&vmlinuz, kernel).map_err(|error| io_error(kernel, &error))?;
    fs::remove_dir_all(&apt.root).map_err(|error| io_error(&apt.root, &error))
}

/// An apt state of its own under `root`, for arm64, with the host's sources: the host's
/// package lists and dpkg database are neither read nor changed.
struct PrivateApt {
    root: PathBuf,
}

impl PrivateApt {
    /// Creates the directories and the empty dpkg status file apt needs, afresh.
    fn create(root: &Path) -> Result<PrivateApt, LaunchError> {
        if root.exists() {
            fs::remove_dir_all(root).map_err(|error| io_error(root, &error))?;
        }
        for dir in ["state/lists/partial", "cache/archives/partial"] {
            let dir = root.join(dir);
            fs::create_dir_all(&dir).map_err(|error| io_error(&dir, &error))?;
        }
        let status = root.join("status");
        fs::write(&status, "").map_err(|error| io_error(&status, &error))?;
        Ok(PrivateApt {
            root: root.to_owned(),
        })
    }

    /// `program` (apt-get or apt-cache) set to this state and to arm64.
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        let setting = |name: &str, value: &Path| format!("{name}={}", value.display());
        command
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .args(["-o", &setting("Dir::State", &self.root.join("state"))])
            .args([
                "-o",
                &setting("Dir::State::status", &self.root.join("status")),
            ])
            .args(["-o", &setting("Dir::Cache", &self.root.join("cache"))])
            .args([
                "-o",
                "APT::Architecture=arm64",
                "-o",
                "APT::Architectures=arm64",
            ]);
        command
    }

    /// The kernel package [`KERNEL_METAPACKAGE`] depends on, e.g. `linux-image-6.1.0-56-arm64`.
    /// `update_messages` is what `apt-get update` printed, quoted when the index has no kernel.
    fn kernel_package(&self, update_messages: &str) -> Result<String, LaunchError> {
        let not_found = |detail: &str| {
            LaunchError::Tool(format!(
                "{KERNEL_METAPACKAGE} not found for arm64 in this host's apt sources \
                 (offline, or not Debian 12?): {detail}"
            ))
        };
        let shown = self
            .command("apt-cache")
            .args(["show", "--no-all-versions", KERNEL_METAPACKAGE])
            .output()
            .map_err(|error| LaunchError::Tool(format!("could not run apt-cache: {error}")))?;
        let show = String::from_utf8_lossy(&shown.stdout);
        if !shown.status.success() || show.trim().is_empty() {
            let first_problem = update_messages
                .lines()
                .chain(String::from_utf8_lossy(&shown.stderr).lines())
                .find(|line| line.starts_with("W:") || line.starts_with("E:"))
                .unwrap_or("apt-get update found no package index")
                .to_owned();
            return Err(not_found(&first_problem));
        }
        kernel_dependency(&show).ok_or_else(|| not_found("its record names no linux-image package"))
    }
}

/// The first `linux-image-*` package in the `Depends:` field of an `apt-cache show` record.
fn kernel_dependency(record: &str) -> Option<String> {
    record
        .lines()
        .find_map(|line| line.strip_prefix("Depends:"))?
        .split([',', '|'])
        .filter_map(|dependency| dependency.split_whitespace().next())
        .find(|package| package.starts_with("linux-image-"))
        .map(str::to_owned)
}

/// Extracts `./boot/vmlinuz-*` of `deb` into `into`: `dpkg-deb --fsys-tarfile` piped to `tar`,
/// so the kernel's modules are never written out.
fn extract_boot_files(deb: &Path, into: &Path) -> Result<(), LaunchError> {
    let mut dpkg_deb = Command::new("dpkg-deb");
    dpkg_deb
        .arg("--fsys-tarfile")
        .arg(deb)
        .stdout(Stdio::piped());
    let mut unpacking = dpkg_deb.spawn().map_err(|error| {
        LaunchError::Tool(format!("could not run `{}`: {error}", describe(&dpkg_deb)))
    })?;
    let archive = unpacking.stdout.take().expect("dpkg-deb's stdout is piped");
    let mut tar = Command::new("tar");
    tar.arg("-x")
        .arg("-C")
        .arg(into)
        .args(["--wildcards", "./boot/vmlinuz-*"])
        .stdin(archive);
    let extracted = run_tool(&mut tar);
    let unpacked = unpacking.wait().map_err(|error| {
        LaunchError::Tool(format!("waiting for `{}`: {error}", describe(&dpkg_deb)))
    })?;
    extracted?;
    if unpacked.success() {
        Ok(())
    } else {
        Err(LaunchError::Tool(format!(
            "`{}` failed ({unpacked})",
            describe(&dpkg_deb)
        )))
    }
}

/// The one entry of `dir` whose name `wanted` accepts.
fn only_entry(dir: &Path, wanted: impl Fn(&str) -> bool) -> Result<PathBuf, LaunchError> {
    let entries = fs::read_dir(dir).map_err(|error| io_error(dir, &error))?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .is_some_and(|name| wanted(&name.to_string_lossy()))
        })
        .collect();
    match (found.pop(), found.is_empty()) {
        (Some(path), true) => Ok(path),
        _ => Err(LaunchError::Tool(format!(
            "expected exactly one such file in {}, found {}",
            dir.display(),
            found.len() + 1
        ))),
    }
}

/// Compiles the C program to `target/linux/init` unless it was built from the same source.
fn build_init(cache: &Path) -> Result<PathBuf, LaunchError> {
    let source = workspace_root().join(BENCH_SOURCE);
    let text = fs::read(&source).map_err(|error| io_error(&source, &error))?;
    let init = cache.join("init");
    let built_from = cache.join("init.c");
    if init.is_file() && fs::read(&built_from).is_ok_and(|built| built == text) {
        return Ok(init);
    }
    let gcc = cross_compiler()?;
    progress(&format!(
        "compiling {BENCH_SOURCE} with {CROSS_GCC} -static -O2"
    ));
    run_tool(
        Command::new(gcc)
            .args(["-static", "-O2", "-Wall", "-Wextra", "-pthread", "-o"])
            .arg(&init)
            .arg(&source),
    )?;
    fs::write(&built_from, text).map_err(|error| io_error(&built_from, &error))?;
    Ok(init)
}

/// The path of [`CROSS_GCC`], installing [`CROSS_PACKAGES`] first when it is missing and this
/// process runs as root with apt-get.
fn cross_compiler() -> Result<PathBuf, LaunchError> {
    if let Some(gcc) = find_on_path(CROSS_GCC) {
        return Ok(gcc);
    }
    let missing = format!(
        "{CROSS_GCC} not found; install it with: sudo apt-get install {}",
        CROSS_PACKAGES.join(" ")
    );
    if !may_install_packages() {
        return Err(LaunchError::Tool(missing));
    }
    progress(&format!(
        "{CROSS_GCC} not found; installing {} with apt-get",
        CROSS_PACKAGES.join(" ")
    ));
    apt_install(&CROSS_PACKAGES)
        .map_err(|error| LaunchError::Tool(format!("{error}; {missing}")))?;
    find_on_path(CROSS_GCC).ok_or(LaunchError::Tool(missing))
}

/// A cpio archive in the `newc` format, as the Linux kernel unpacks an initramfs: `/dev`,
/// the console device `/dev/console` (so init has a stdout), and `init` as `/init`.
pub fn initramfs_archive(init: &[u8]) -> Vec<u8> {
    const DIRECTORY: u32 = 0o040_755;
    const CONSOLE_DEVICE: u32 = 0o020_600;
    const PROGRAM: u32 = 0o100_755;
    /// Linux's device number of `/dev/console`: major 5, minor 1.
    const CONSOLE_NUMBER: (u32, u32) = (5, 1);
    let mut archive = Vec::new();
    append_cpio_entry(&mut archive, 1, "dev", DIRECTORY, (0, 0), &[]);
    append_cpio_entry(
        &mut archive,
        2,
        "dev/console",
        CONSOLE_DEVICE,
        CONSOLE_NUMBER,
        &[],
    );
    append_cpio_entry(&mut archive, 3, "init", PROGRAM, (0, 0), init);
    append_cpio_entry(&mut archive, 0, "TRAILER!!!", 0, (0, 0), &[]);
    archive
}

/// Appends one `newc` entry: the 110-byte header of `070701` and thirteen 8-digit hex fields,
/// the name and its NUL padded to 4 bytes, then the data padded to 4 bytes. Owner root,
/// modification time 0, so the archive is the same on every build.
fn append_cpio_entry(
    archive: &mut Vec<u8>,
    inode: u32,
    name: &str,
    mode: u32,
    (device_major, device_minor): (u32, u32),
    data: &[u8],
) {
    let size = u32::try_from(data.len()).expect("an initramfs file is under 4 GiB");
    let name_size = u32::try_from(name.len() + 1).expect("a short name");
    let fields = [
        inode,
        mode,
        0, // uid
        0, // gid
        1, // links
        0, // modification time
        size,
        0, // device of the file system: major
        0, // and minor
        device_major,
        device_minor,
        name_size,
        0, // checksum, unused by newc
    ];
    archive.extend_from_slice(b"070701");
    for field in fields {
        archive.extend_from_slice(format!("{field:08X}").as_bytes());
    }
    archive.extend_from_slice(name.as_bytes());
    archive.push(0);
    pad_to_four(archive);
    archive.extend_from_slice(data);
    pad_to_four(archive);
}

fn pad_to_four(archive: &mut Vec<u8>) {
    archive.resize(archive.len().next_multiple_of(4), 0);
}

/// One figure a kernel printed: the workload's name and its count of guest instructions
/// (`None` where the kernel printed `-`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Figure {
    /// The workload, e.g. `yield_switch`.
    pub name: String,
    /// Guest instructions (guest ns under `-icount shift=0,sleep=off`) per operation.
    pub instructions: Option<u64>,
}

impl Figure {
    /// A figure from a name and the printed value: `-` or a decimal count. `None` for any
    /// other value, so a garbled line is skipped rather than read as a figure.
    fn parse(name: &str, value: &str) -> Option<Figure> {
        let instructions = match value {
            "-" => None,
            count => Some(count.parse().ok()?),
        };
        Some(Figure {
            name: name.to_owned(),
            instructions,
        })
    }
}

/// coresched's figures in its console output: every line
/// `bench <name> coresched=<n> ...`, in order; other lines are skipped.
pub fn coresched_figures(console: &str) -> Vec<Figure> {
    console
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            if words.next() != Some("bench") {
                return None;
            }
            let name = words.next()?;
            let value = words.find_map(|word| word.strip_prefix("coresched="))?;
            Figure::parse(name, value)
        })
        .collect()
}

/// What the Linux benchmark printed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinuxReport {
    /// The kernel's release (`uname -r`), e.g. `6.1.0-56-arm64`.
    pub release: Option<String>,
    /// Every `linux <name> <n>` figure, in order.
    pub figures: Vec<Figure>,
    /// The text of a `linux error ...` line, if the program gave up.
    pub error: Option<String>,
    /// Whether it printed `linux done`: every workload ran.
    pub finished: bool,
}

impl LinuxReport {
    /// Reads the `linux ...` lines out of Linux's console output; other lines are skipped.
    pub fn parse(console: &str) -> LinuxReport {
        let mut report = LinuxReport::default();
        for line in console.lines().map(str::trim) {
            let Some(rest) = line.strip_prefix("linux ") else {
                continue;
            };
            match rest.split_once(' ') {
                Some(("release", release)) => report.release = Some(release.trim().to_owned()),
                Some(("error", why)) => report.error = Some(why.trim().to_owned()),
                Some((name, value)) => report.figures.extend(Figure::parse(name, value.trim())),
                None => report.finished |= rest == "done",
            }
        }
        report
    }
}

/// Both kernels' figures side by side, one row per workload either kernel reported or
/// [`TABLE_ORDER`] names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comparison {
    linux_release: Option<String>,
    rows: Vec<Row>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Row {
    name: String,
    linux: Option<u64>,
    coresched: Option<u64>,
}

impl Comparison {
    /// Rows in [`TABLE_ORDER`], then any other workload coresched printed, then any other
    /// Linux printed. A figure a kernel did not print is `None`.
    pub fn new(coresched: &[Figure], linux: &LinuxReport) -> Comparison {
        let find = |figures: &[Figure], name: &str| {
            figures
                .iter()
                .find(|figure| figure.name == name)
                .and_then(|figure| figure.instructions)
        };
        let mut names: Vec<&str> = TABLE_ORDER.to_vec();
        for figure in coresched.iter().chain(&linux.figures) {
            if !names.contains(&figure.name.as_str()) {
                names.push(&figure.name);
            }
        }
        let rows = names
            .into_iter()
            .map(|name| Row {
                name: name.to_owned(),
                linux: find(&linux.figures, name),
                coresched: find(coresched, name),
            })
            .collect();
        Comparison {
            linux_release: linux.release.clone(),
            rows,
        }
    }

    /// The table for people: a heading naming the board and the Linux release, then
    /// `| operation | Linux X.Y | coresched | Linux / coresched |` with counts grouped in
    /// thousands, `-` where a figure is missing, then what the figures mean.
    pub fn table(&self, machine: &Machine) -> String {
        let release = self.linux_release.as_deref().unwrap_or("(unknown release)");
        let linux_column = match self.linux_release.as_deref().map(major_minor) {
            Some(version) => format!("Linux {version}"),
            None => "Linux".to_owned(),
        };
        let header = [
            "operation".to_owned(),
            linux_column,
            "coresched".to_owned(),
            "Linux / coresched".to_owned(),
        ];
        let cells: Vec<[String; 4]> = self
            .rows
            .iter()
            .map(|row| {
                [
                    row.name.clone(),
                    row.linux.map_or_else(|| "-".to_owned(), grouped),
                    row.coresched.map_or_else(|| "-".to_owned(), grouped),
                    ratio(row.linux, row.coresched),
                ]
            })
            .collect();
        let widths: [usize; 4] = std::array::from_fn(|column| {
            cells
                .iter()
                .chain([&header])
                .map(|cells| cells[column].len())
                .max()
                .unwrap_or(0)
        });
        let mut table = format!(
            "Guest instructions per operation (-icount shift=0,sleep=off), QEMU virt {machine}, \
             Linux {release}:\n"
        );
        let mut line = |cells: &[String; 4]| {
            let _ = writeln!(
                table,
                "| {:<w0$} | {:>w1$} | {:>w2$} | {:>w3$} |",
                cells[0],
                cells[1],
                cells[2],
                cells[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3],
            );
        };
        line(&header);
        // Markdown's alignment row: the counts are right-aligned.
        line(&std::array::from_fn(|column| {
            let dashes = "-".repeat(widths[column]);
            if column == 0 {
                dashes
            } else {
                format!("{}:", &dashes[1..])
            }
        }));
        for row in &cells {
            line(row);
        }
        table.push_str(
            "Linux / coresched above 1: coresched takes fewer instructions. Linux's \
             sleep_lateness is the median over 100 us sleeps with the default 50 us timer \
             slack, most of it. coresched's figures repeat exactly; Linux's may move by a few \
             instructions from run to run.\n",
        );
        table
    }

    /// The lines for scripts, one per row:
    /// `bench <name> coresched=<n> linux=<n> unit=instructions` (`-` where missing).
    pub fn bench_lines(&self) -> String {
        let value = |count: Option<u64>| count.map_or_else(|| "-".to_owned(), |n| n.to_string());
        self.rows
            .iter()
            .map(|row| {
                format!(
                    "bench {} coresched={} linux={} unit=instructions\n",
                    row.name,
                    value(row.coresched),
                    value(row.linux)
                )
            })
            .collect()
    }
}

/// `6.1` out of `6.1.0-56-arm64`: the release up to its second dot.
fn major_minor(release: &str) -> &str {
    let mut dots = release.match_indices('.').map(|(at, _)| at);
    match (dots.next(), dots.next()) {
        (Some(_), Some(second)) => &release[..second],
        _ => release,
    }
}

/// `count` with its digits grouped in thousands: `41000` is `41,000`.
fn grouped(count: u64) -> String {
    let digits = count.to_string();
    let mut text = String::new();
    for (at, digit) in digits.chars().enumerate() {
        if at > 0 && (digits.len() - at).is_multiple_of(3) {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

/// `linux / coresched` to two decimals with an `x`, or `-` when either is missing or zero.
fn ratio(linux: Option<u64>, coresched: Option<u64>) -> String {
    match (linux, coresched) {
        (Some(linux), Some(coresched)) if coresched > 0 => {
            // Instruction counts are far below 2^53, where f64 stays exact.
            format!("{:.2}x", linux as f64 / coresched as f64)
        }
        _ => "-".to_owned(),
    }
}

fn progress(message: &str) {
    eprintln!("coresched-qemu: Linux peer: {message}");
}

fn io_error(path: &Path, error: &io::Error) -> LaunchError {
    LaunchError::Tool(format!("{}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::Gic;

    const KERNEL_OUTPUT: &str = "\
coresched 0.1.0\r
boot: 4 cores online in 1234 us guest time\r
operation            coresched\r
bench yield_switch coresched=512 linux=- unit=instructions\r
[WARN ] a log line\r
bench handoff_same_core coresched=- linux=- unit=instructions\r
bench spawn_join coresched=4100 linux=- unit=instructions\r
bench timer_insert_cancel_1k coresched=95 linux=- unit=instructions\r
bench monitor_pass_4 coresched=1800 linux=- unit=instructions\r
bench garbled coresched=lots linux=- unit=instructions\r
";

    const LINUX_OUTPUT: &str = "\
[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x410fd083]\r
linux release 6.1.0-56-arm64\r
linux yield_switch 2785\r
linux handoff_same_core 6153\r
linux handoff_cross_core 8575\r
linux sleep_lateness 80656\r
linux spawn_join 56460\r
linux done\r
[    1.265996] reboot: Power down\r
";

    fn figure(name: &str, instructions: Option<u64>) -> Figure {
        Figure {
            name: name.to_owned(),
            instructions,
        }
    }

    #[test]
    fn reads_corescheds_bench_lines() {
        assert_eq!(
            coresched_figures(KERNEL_OUTPUT),
            [
                figure("yield_switch", Some(512)),
                figure("handoff_same_core", None),
                figure("spawn_join", Some(4100)),
                figure("timer_insert_cancel_1k", Some(95)),
                figure("monitor_pass_4", Some(1800)),
            ]
        );
        assert_eq!(coresched_figures("no figures\n"), []);
    }

    #[test]
    fn reads_linuxs_report() {
        let report = LinuxReport::parse(LINUX_OUTPUT);
        assert_eq!(report.release.as_deref(), Some("6.1.0-56-arm64"));
        assert!(report.finished);
        assert_eq!(report.error, None);
        assert_eq!(report.figures.len(), 5);
        assert_eq!(report.figures[4], figure("spawn_join", Some(56460)));

        let failed = LinuxReport::parse(
            "linux release 6.1.0-56-arm64\nlinux handoff_cross_core -\n\
             linux error pthread_create: Resource temporarily unavailable\n",
        );
        assert!(!failed.finished);
        assert_eq!(failed.figures, [figure("handoff_cross_core", None)]);
        assert_eq!(
            failed.error.as_deref(),
            Some("pthread_create: Resource temporarily unavailable")
        );
    }

    #[test]
    fn the_table_joins_both_kernels() {
        let comparison = Comparison::new(
            &coresched_figures(KERNEL_OUTPUT),
            &LinuxReport::parse(LINUX_OUTPUT),
        );
        let machine = Machine {
            clock: Clock::Deterministic,
            ..Machine::default()
        };
        assert_eq!(
            comparison.table(&machine),
            "\
Guest instructions per operation (-icount shift=0,sleep=off), QEMU virt smp=4 gic=3 \
cpu=cortex-a72 el=1 mem=1024M deterministic, Linux 6.1.0-56-arm64:
| operation               | Linux 6.1 | coresched | Linux / coresched |
| ----------------------- | --------: | --------: | ----------------: |
| yield_switch            |     2,785 |       512 |             5.44x |
| handoff_same_core       |     6,153 |         - |                 - |
| handoff_cross_core      |     8,575 |         - |                 - |
| sleep_lateness          |    80,656 |         - |                 - |
| spawn_join              |    56,460 |     4,100 |            13.77x |
| timer_insert_cancel_1k  |         - |        95 |                 - |
| timer_insert_cancel_64k |         - |         - |                 - |
| monitor_pass_4          |         - |     1,800 |                 - |
Linux / coresched above 1: coresched takes fewer instructions. Linux's sleep_lateness is the \
median over 100 us sleeps with the default 50 us timer slack, most of it. coresched's figures repeat \
exactly; Linux's may move by a few instructions from run to run.
"
        );
        assert_eq!(
            comparison.bench_lines(),
            "\
bench yield_switch coresched=512 linux=2785 unit=instructions
bench handoff_same_core coresched=- linux=6153 unit=instructions
bench handoff_cross_core coresched=- linux=8575 unit=instructions
bench sleep_lateness coresched=- linux=80656 unit=instructions
bench spawn_join coresched=4100 linux=56460 unit=instructions
bench timer_insert_cancel_1k coresched=95 linux=- unit=instructions
bench timer_insert_cancel_64k coresched=- linux=- unit=instructions
bench monitor_pass_4 coresched=1800 linux=- unit=instructions
"
        );
    }

    #[test]
    fn a_missing_release_still_makes_a_table() {
        let linux = LinuxReport {
            figures: vec![figure("extra_workload", Some(7))],
            ..LinuxReport::default()
        };
        let comparison = Comparison::new(&[], &linux);
        let table = comparison.table(&Machine::default());
        assert!(table.contains("Linux (unknown release):"), "{table}");
        assert!(
            table.contains("| operation               | Linux |"),
            "{table}"
        );
        assert!(
            comparison
                .bench_lines()
                .ends_with("bench extra_workload coresched=- linux=7 unit=instructions\n")
        );
    }

    #[test]
    fn numbers_are_grouped_and_ratios_guarded() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(41_000), "41,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(ratio(Some(2283), Some(1000)), "2.28x");
        assert_eq!(ratio(Some(2283), Some(0)), "-");
        assert_eq!(ratio(None, Some(1)), "-");
        assert_eq!(major_minor("6.1.0-56-arm64"), "6.1");
        assert_eq!(major_minor("6.12"), "6.12");
    }

    #[test]
    fn finds_the_kernel_package_in_the_metapackages_record() {
        let record = "Package: linux-image-arm64\nVersion: 6.1.192-2\n\
                      Depends: linux-image-6.1.0-56-arm64 (= 6.1.192-2)\nDescription: x\n";
        assert_eq!(
            kernel_dependency(record).as_deref(),
            Some("linux-image-6.1.0-56-arm64")
        );
        assert_eq!(kernel_dependency("Package: linux-image-arm64\n"), None);
    }

    #[test]
    fn the_initramfs_is_a_newc_archive() {
        let archive = initramfs_archive(b"\x7fELF!");
        let text = String::from_utf8_lossy(&archive);
        // Each entry starts at a multiple of four with the newc magic.
        let starts: Vec<usize> = text.match_indices("070701").map(|(at, _)| at).collect();
        assert_eq!(starts.len(), 4);
        assert!(starts.iter().all(|start| start % 4 == 0));
        assert_eq!(archive.len() % 4, 0);
        // The console: a character device (mode 020600), device 5:1, name `dev/console`.
        let console = &text[starts[1]..starts[2]];
        assert_eq!(&console[14..22], "00002180");
        assert_eq!(&console[78..94], "0000000500000001");
        assert_eq!(&console[110..122], "dev/console\0");
        // `/init`: executable, five bytes, its data after the name's padding.
        let init = &archive[starts[2]..starts[3]];
        assert_eq!(&init[14..22], b"000081ED");
        assert_eq!(&init[54..62], b"00000005");
        assert_eq!(&init[110..115], b"init\0");
        assert_eq!(&init[116..121], b"\x7fELF!");
        // The trailer's 121 bytes of header and name, padded to 124.
        assert!(text.ends_with("TRAILER!!!\0\0\0\0"));
    }

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
