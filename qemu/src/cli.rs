//! `cargo qemu`'s command line: the flags, their checks, and the launcher's exit status.
//!
//! Every mistake on the command line is caught here, before anything is built or started, and
//! reported as one line with exit status [`USAGE_EXIT_CODE`](crate::exit::USAGE_EXIT_CODE).

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::boot::Boot;
use crate::breakdown;
use crate::gdb::{DEFAULT_GDB_PORT, Gdb, GdbSession};
use crate::kernel::Profile;
use crate::linux::LinuxPeer;
use crate::machine::{Clock, Cpu, ExceptionLevel, Gic, Machine, Model};
use crate::qemu::Console;
use crate::record::RecordReplay;
use crate::repeat::{MAX_RUNS, Repeat};
use crate::reports::Reports;

/// `--version`'s line.
pub const VERSION: &str = concat!("coresched-qemu ", env!("CARGO_PKG_VERSION"), "\n");

/// `--help`'s text.
pub const USAGE: &str = "\
Builds the coresched kernel Image and boots it on QEMU virt or a QEMU model of a real board.

Usage: cargo qemu -- [FLAGS]
       cargo run -p coresched --target aarch64-unknown-none [--profile P] [--features F] -- [FLAGS]
       coresched-qemu [KERNEL-ELF] [FLAGS]

KERNEL-ELF: boot this kernel ELF (its Image is made beside it with llvm-objcopy) instead
of building one; cargo run passes it, as the launcher is the target's runner.

Flags:
  --machine M        virt (default), versal (xlnx-versal-virt: 2 Cortex-A72, GICv3),
                     zcu102 (xlnx-zcu102: 4 Cortex-A53, GIC-400) or raspi3b (Raspberry Pi 3:
                     4 Cortex-A53, BCM2836 interrupt controller, console on the mini UART)
  --dtb FILE         boot with this DTB (default: QEMU's for virt and versal, Debian's in
                     tests/data/ for zcu102 and raspi3b)
  --smp N            vCPUs, 1 to 512 (default 4; GICv2 allows at most 8); a real board's
                     cores are its own
  --gic 2|3          interrupt controller version (default 3; virt only)
  --cpu MODEL        cortex-a53, cortex-a72 or max (default cortex-a72; virt only)
  --el 1|2           exception level the kernel is entered at (default 1;
                     2 boots with -machine virtualization=on; virt only)
  --mem SIZE         guest memory such as 512M or 2G, at least 128M (default 1G; raspi3b
                     has exactly 1G)
  --profile P        the kernel's cargo profile: release (default) or kernel-test
                     (release with debug assertions: the lock-rank checker)
  --bootargs \"ARGS\"  kernel bootargs (default \"demo\"; exit=semihosting is always added)
  --gdb              start halted with a gdb server on localhost:1234 and print the
                     gdb-multiarch command that attaches with the kernel's symbols
  --gdb-port N       the gdb server's port (default 1234); implies --gdb
  --gdb-exec         --gdb, and run that command on this terminal (gdb-multiarch is
                     installed when missing and run as root); the console goes to stdout
  --icount           -icount shift=0: guest time counts instructions, repeatable run to run
  --deterministic    -icount shift=0,sleep=off: idle time jumps to the next deadline too,
                     so the whole SMP run is the same every time (no --seed: seed 0,
                     no perturbation)
  --seed N           perturbation seed, 0 to 2^64-1 (0: none); implies --deterministic and
                     boots the kernel-test kernel, whose timing the seed perturbs; the
                     same seed gives the same run
  --repeat N         run the boot N times (1 to 10000) on the kernel-test kernel with
                     seeds S, S+1, ... (S is --seed, else a random start, printed);
                     prints each test's pass and fail counts and the command that
                     repeats each failing run
  --record DIR       record the run into DIR with QEMU's record/replay (needs --smp 1)
  --replay DIR       replay the run recorded in DIR, with the same flags (with --gdb,
                     gdb can run backwards: reverse-stepi, reverse-continue)
  --junit FILE       write the kernel tests' results as JUnit XML to FILE
  --tap FILE         write them as TAP version 13 to FILE (what Debian's prove 3.44 reads)
  --trace FILE       record the scheduler timeline (a kernel built with the feature trace,
                     bootarg trace) and write it as Chrome trace JSON to FILE (Perfetto)
  --trace-png FILE   record it and draw it as a picture, one row per core, to FILE
  --timeout SECS     end QEMU after this long (default 60 + smp/4; an hour with --gdb)
  --bench            boot with bootargs \"bench\" (plus any --bootargs) and --deterministic, and
                     print the kernel's output
  --breakdown        --bench, run with one instruction per translation block and QEMU's
                     execution log (streamed, never on disk; about 10 times slower), then
                     print where each timed figure's instructions go: per function, per
                     operation, adding up to the figure (the control must be its loop)
  --vs-linux         --bench, then the same workloads on Debian's arm64 Linux 6.1 on
                     the same board; prints one table with both (Linux is fetched and
                     built into target/linux/ on first use: apt-get, dpkg-deb and
                     aarch64-linux-gnu-gcc, which is installed when run as root)
  --build-only       build the kernel and print the path of its Image (and, for raspi3b,
                     of kernel8.img, a copy for the Raspberry Pi firmware); boot nothing
  --version          print the launcher's version
  --help             print this text

On a terminal the guest's console is interactive (Ctrl-A X quits QEMU); otherwise, and
always with --bench, its output is copied to stdout (with --vs-linux, only the table;
with --repeat, only the report).

Exit status: QEMU's, which is the kernel's (0 passed, 1 a test failed, 3 kernel panic or
boot error, or Linux did not finish its benchmark); 2 bad flags; 124 timed out; 125 could
not build or start QEMU (or fetch and build what Linux needs). With --repeat: 0 if every
run exited 0, otherwise 1.
";

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Print [`USAGE`] and exit successfully.
    Help,
    /// Print [`VERSION`] and exit successfully.
    Version,
    /// Run this boot, then write the reports asked for.
    Boot(Boot, Reports),
    /// Build this boot's kernel and print the files a board's loader takes; boot nothing.
    Build(Boot),
    /// Run this boot again and again with consecutive seeds, and report.
    Repeat(Repeat),
    /// Run this benchmark boot with QEMU's execution log, then print each figure's breakdown.
    Breakdown(Boot),
    /// Run this benchmark boot, then the benchmark on Linux, and compare them.
    BenchVsLinux {
        /// coresched's benchmark.
        boot: Boot,
        /// Linux's.
        peer: LinuxPeer,
    },
}

/// A bad command line. Displays as the single line the launcher prints:
/// `coresched-qemu: error: <what is wrong>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageError(String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "coresched-qemu: error: {}", self.0)
    }
}

impl std::error::Error for UsageError {}

/// Parses the launcher's arguments (without the program name; one leading `--`, which
/// `cargo qemu -- ...` passes on, is skipped). Flags take their value as the next argument or
/// after `=`. `stdin_is_terminal` picks the console: the terminal itself when there is one,
/// otherwise output echoed to stdout (and always echoed for `--bench`; always captured for
/// `--repeat`, whose report is printed instead).
pub fn parse_args(
    args: impl IntoIterator<Item = OsString>,
    stdin_is_terminal: bool,
) -> Result<Command, UsageError> {
    let mut args = args.into_iter().map(utf8).collect::<Result<Vec<_>, _>>()?;
    if args.first().is_some_and(|first| first == "--") {
        args.remove(0);
    }
    let flags = args.clone();
    let mut args = args.into_iter().peekable();
    let mut machine = Machine::default();
    let mut model = Model::Virt;
    let mut smp = None;
    let mut mem_mib = None;
    let mut virt_only_flag = None;
    let mut dtb = None;
    let mut bootargs = None;
    let mut timeout = None;
    let mut gdb = false;
    let mut gdb_port = None;
    let mut gdb_exec = false;
    let mut bench = false;
    let mut vs_linux = false;
    let mut breakdown = false;
    let mut build_only = false;
    let mut seed = None;
    let mut repeat = None;
    let mut profile = None;
    let mut kernel_elf: Option<PathBuf> = None;
    let mut record_replay = None;
    let mut reports = Reports::default();
    while let Some(arg) = args.next() {
        let (flag, mut inline_value) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        let mut value = || match inline_value.take() {
            Some(value) => Ok(value),
            None => args
                .next_if(|next| !next.starts_with("--"))
                .ok_or_else(|| UsageError(format!("{flag} needs a value"))),
        };
        if matches!(flag, "--gic" | "--cpu" | "--el") {
            virt_only_flag.get_or_insert_with(|| flag.to_owned());
        }
        match flag {
            "--help" | "-h" => return Ok(Command::Help),
            "--version" | "-V" => return Ok(Command::Version),
            "--machine" => model = model_named(&value()?)?,
            "--dtb" => dtb = Some(dtb_file(&value()?)?),
            "--smp" => smp = Some(number(flag, &value()?)?),
            "--gic" => machine.gic = gic(&value()?)?,
            "--cpu" => machine.cpu = cpu(&value()?)?,
            "--el" => machine.el = exception_level(&value()?)?,
            "--mem" => mem_mib = Some(mem_size(&value()?)?),
            "--bootargs" => bootargs = Some(value()?),
            "--timeout" => timeout = Some(timeout_secs(&value()?)?),
            "--seed" => seed = Some(seed_number(&value()?)?),
            "--repeat" => repeat = Some(repeat_runs(&value()?)?),
            "--profile" => profile = Some(profile_named(&value()?)?),
            "--junit" => reports.junit = Some(value()?.into()),
            "--tap" => reports.tap = Some(value()?.into()),
            "--record" => record_replay = Some(RecordReplay::Record(value()?.into())),
            "--replay" => record_replay = Some(RecordReplay::Replay(value()?.into())),
            "--trace" => reports.trace = Some(value()?.into()),
            "--trace-png" => reports.trace_png = Some(value()?.into()),
            "--gdb-port" => gdb_port = Some(port(&value()?)?),
            "--gdb" | "--gdb-exec" | "--icount" | "--deterministic" | "--bench" | "--vs-linux"
            | "--breakdown" | "--build-only"
                if inline_value.is_some() =>
            {
                return Err(UsageError(format!("{flag} takes no value")));
            }
            "--gdb" => gdb = true,
            "--gdb-exec" => gdb_exec = true,
            "--icount" => machine.clock = machine.clock.max(Clock::Icount),
            "--deterministic" => machine.clock = Clock::Deterministic,
            "--bench" => bench = true,
            "--vs-linux" => vs_linux = true,
            "--breakdown" => breakdown = true,
            "--build-only" => build_only = true,
            _ if flag.starts_with('-') => {
                return Err(UsageError(format!("unknown flag {flag} (see --help)")));
            }
            _ if kernel_elf.is_none() && Path::new(&arg).is_file() => {
                kernel_elf = Some(arg.into());
            }
            _ => {
                return Err(UsageError(format!(
                    "unexpected argument {arg:?} (see --help)"
                )));
            }
        }
    }

    if model != Model::Virt
        && let Some(flag) = virt_only_flag
    {
        return Err(UsageError(format!(
            "{flag} applies to --machine virt only, not {}",
            model.name()
        )));
    }
    let own = Machine::of_model(model);
    let mut machine = Machine {
        smp: smp.unwrap_or(own.smp),
        mem_mib: mem_mib.unwrap_or(own.mem_mib),
        ..if model == Model::Virt {
            machine
        } else {
            Machine {
                clock: machine.clock,
                ..own
            }
        }
    };
    let gdb = (gdb || gdb_exec || gdb_port.is_some()).then(|| {
        let session = if gdb_exec {
            GdbSession::Interactive
        } else {
            GdbSession::Printed
        };
        Gdb::on_port(gdb_port.unwrap_or(DEFAULT_GDB_PORT)).session(session)
    });
    let conflicts = [
        (breakdown && vs_linux, "--breakdown", "--vs-linux"),
        (breakdown && gdb.is_some(), "--breakdown", "--gdb"),
        (breakdown && repeat.is_some(), "--breakdown", "--repeat"),
        (breakdown && build_only, "--breakdown", "--build-only"),
        (
            breakdown && record_replay.is_some(),
            "--breakdown",
            "--record or --replay",
        ),
        (breakdown && reports.wants_trace(), "--breakdown", "--trace"),
        (vs_linux && gdb.is_some(), "--vs-linux", "--gdb"),
        (vs_linux && seed.is_some(), "--vs-linux", "--seed"),
        (vs_linux && repeat.is_some(), "--vs-linux", "--repeat"),
        (
            vs_linux && model != Model::Virt,
            "--vs-linux",
            "--machine other than virt",
        ),
        (vs_linux && dtb.is_some(), "--vs-linux", "--dtb"),
        (build_only && vs_linux, "--build-only", "--vs-linux"),
        (build_only && repeat.is_some(), "--build-only", "--repeat"),
        (build_only && gdb.is_some(), "--build-only", "--gdb"),
        (gdb.is_some() && repeat.is_some(), "--repeat", "--gdb"),
        (
            reports.junit.is_some() && repeat.is_some(),
            "--repeat",
            "--junit",
        ),
        (
            reports.tap.is_some() && repeat.is_some(),
            "--repeat",
            "--tap",
        ),
        (reports.junit.is_some() && vs_linux, "--vs-linux", "--junit"),
        (reports.tap.is_some() && vs_linux, "--vs-linux", "--tap"),
        (
            record_replay.is_some() && (repeat.is_some() || vs_linux),
            "--record and --replay",
            "--repeat or --vs-linux",
        ),
        (
            reports.wants_trace() && repeat.is_some(),
            "--repeat",
            "--trace",
        ),
        (reports.wants_trace() && vs_linux, "--vs-linux", "--trace"),
        (
            kernel_elf.is_some() && profile.is_some(),
            "a kernel ELF",
            "--profile (cargo run builds it with its own --profile)",
        ),
    ];
    if let Some((_, first, second)) = conflicts.into_iter().find(|(conflict, ..)| *conflict) {
        return Err(UsageError(format!(
            "{first} cannot be combined with {second}"
        )));
    }
    if bench || vs_linux || breakdown {
        // Every figure is an instruction count that repeats exactly (idle time too).
        machine.clock = Clock::Deterministic;
        bootargs = Some(match bootargs {
            Some(extra) => format!("bench {extra}"),
            None => "bench".to_owned(),
        });
    }
    if reports.wants_trace() {
        bootargs = Some(format!("{} trace", bootargs.as_deref().unwrap_or("demo")));
    }
    let console = if repeat.is_some() || vs_linux {
        // A series keeps each run's console for its report; with --vs-linux the table is
        // printed once both kernels have run.
        Console::Captured
    } else if bench || breakdown || gdb_exec || reports.wants_trace() || !stdin_is_terminal {
        // The launcher reads the console (and keeps the timeline's lines out of the copy).
        Console::Echoed
    } else {
        Console::Terminal
    };
    machine.validate().map_err(UsageError)?;
    if let Some(record_replay) = &record_replay {
        record_replay.check(machine.smp).map_err(UsageError)?;
    }
    // Only a kernel with debug assertions perturbs its timing from the seed.
    let profile = profile.unwrap_or(if seed.is_some() || repeat.is_some() {
        Profile::KernelTest
    } else {
        Profile::Release
    });
    let mut boot = Boot::new()
        .machine(machine)
        .bootargs(bootargs.as_deref().unwrap_or("demo"))
        .profile(profile)
        .gdb(gdb)
        .dtb(dtb)
        .record_replay(record_replay)
        .console(console);
    if let Some(timeout) = timeout {
        boot = boot.timeout(timeout);
    }
    if let Some(elf) = &kernel_elf {
        boot = boot.elf(elf);
    }
    if reports.wants_trace() {
        boot = boot.feature("trace");
    }
    if build_only {
        return Ok(Command::Build(boot));
    }
    if let Some(runs) = repeat {
        return Ok(Command::Repeat(
            Repeat::new(boot, runs)
                .first_seed(seed)
                .flags(without_seed_and_repeat(&flags)),
        ));
    }
    let boot = boot.seed(seed);
    if breakdown {
        let slowed = boot.effective_timeout() * breakdown::SLOWDOWN;
        let boot = match timeout {
            Some(_) => boot,
            None => boot.timeout(slowed),
        };
        return Ok(Command::Breakdown(boot));
    }
    if vs_linux {
        let peer = LinuxPeer::new(machine);
        let peer = match timeout {
            Some(timeout) => peer.timeout(timeout),
            None => peer,
        };
        return Ok(Command::BenchVsLinux { boot, peer });
    }
    Ok(Command::Boot(boot, reports))
}

fn utf8(arg: OsString) -> Result<String, UsageError> {
    arg.into_string()
        .map_err(|arg| UsageError(format!("argument {arg:?} is not valid UTF-8")))
}

fn number(flag: &str, value: &str) -> Result<u32, UsageError> {
    value
        .parse()
        .map_err(|_| UsageError(format!("{flag} needs a whole number, got {value:?}")))
}

fn gic(value: &str) -> Result<Gic, UsageError> {
    match value {
        "2" => Ok(Gic::V2),
        "3" => Ok(Gic::V3),
        _ => Err(UsageError(format!("--gic must be 2 or 3, got {value:?}"))),
    }
}

fn cpu(value: &str) -> Result<Cpu, UsageError> {
    Cpu::ALL
        .into_iter()
        .find(|cpu| cpu.qemu_name() == value)
        .ok_or_else(|| {
            let names: Vec<_> = Cpu::ALL.iter().map(|cpu| cpu.qemu_name()).collect();
            UsageError(format!(
                "--cpu must be one of {}, got {value:?}",
                names.join(", ")
            ))
        })
}

fn exception_level(value: &str) -> Result<ExceptionLevel, UsageError> {
    match value {
        "1" => Ok(ExceptionLevel::El1),
        "2" => Ok(ExceptionLevel::El2),
        _ => Err(UsageError(format!("--el must be 1 or 2, got {value:?}"))),
    }
}

/// A size such as `512M` or `2G` (suffix in either case), in MiB.
fn mem_size(value: &str) -> Result<u32, UsageError> {
    let bad = || {
        UsageError(format!(
            "--mem takes a size such as 512M or 2G, got {value:?}"
        ))
    };
    let split = value
        .len()
        .checked_sub(1)
        .filter(|&at| value.is_char_boundary(at))
        .ok_or_else(bad)?;
    let (amount, unit) = value.split_at(split);
    let mib_per_unit = match unit {
        "M" | "m" => 1,
        "G" | "g" => 1024,
        _ => return Err(bad()),
    };
    if amount.is_empty() || !amount.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(bad());
    }
    let amount: u32 = amount.parse().map_err(|_| bad())?;
    amount.checked_mul(mib_per_unit).ok_or_else(bad)
}

fn model_named(value: &str) -> Result<Model, UsageError> {
    Model::ALL
        .into_iter()
        .find(|model| model.name() == value)
        .ok_or_else(|| {
            UsageError(format!(
                "--machine must be virt, versal, zcu102 or raspi3b, got {value:?}"
            ))
        })
}

fn dtb_file(value: &str) -> Result<PathBuf, UsageError> {
    let path = PathBuf::from(value);
    if path.is_file() {
        Ok(path)
    } else {
        Err(UsageError(format!("--dtb {value:?} is not a file")))
    }
}

fn profile_named(value: &str) -> Result<Profile, UsageError> {
    Profile::ALL
        .into_iter()
        .find(|profile| profile.cargo_name() == value)
        .ok_or_else(|| {
            UsageError(format!(
                "--profile must be release or kernel-test, got {value:?}"
            ))
        })
}

fn port(value: &str) -> Result<u16, UsageError> {
    match value.parse() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(UsageError(format!(
            "--gdb-port needs a TCP port, 1 to 65535, got {value:?}"
        ))),
    }
}

fn seed_number(value: &str) -> Result<u64, UsageError> {
    value
        .bytes()
        .all(|byte| byte.is_ascii_digit())
        .then(|| value.parse().ok())
        .flatten()
        .ok_or_else(|| {
            UsageError(format!(
                "--seed needs a whole number from 0 to {}, got {value:?}",
                u64::MAX
            ))
        })
}

fn repeat_runs(value: &str) -> Result<u32, UsageError> {
    match number("--repeat", value)? {
        runs @ 1..=MAX_RUNS => Ok(runs),
        runs => Err(UsageError(format!(
            "--repeat must be 1 to {MAX_RUNS}, got {runs}"
        ))),
    }
}

/// `flags` without `--seed` and `--repeat` and their values: the flags of one run of a series,
/// to which its reproduction command adds `--seed <seed>`. Only called on flags that parsed.
fn without_seed_and_repeat(flags: &[String]) -> Vec<String> {
    let mut kept = Vec::new();
    let mut flags = flags.iter().peekable();
    while let Some(flag) = flags.next() {
        if flag == "--seed" || flag == "--repeat" {
            flags.next_if(|value| !value.starts_with("--"));
        } else if !(flag.starts_with("--seed=") || flag.starts_with("--repeat=")) {
            kept.push(flag.clone());
        }
    }
    kept
}

fn timeout_secs(value: &str) -> Result<Duration, UsageError> {
    match number("--timeout", value)? {
        0 => Err(UsageError("--timeout must be at least 1 second".to_owned())),
        secs => Ok(Duration::from_secs(secs.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, UsageError> {
        parse_args(args.iter().map(OsString::from), false)
    }

    fn boot(args: &[&str]) -> Boot {
        match parse(args) {
            Ok(Command::Boot(boot, reports)) if reports == Reports::default() => boot,
            other => panic!("{args:?} gave {other:?}"),
        }
    }

    fn error(args: &[&str]) -> String {
        let error = parse(args).expect_err("a usage error");
        let line = error.to_string();
        assert!(!line.contains('\n'), "one line: {line}");
        line.strip_prefix("coresched-qemu: error: ")
            .expect("prefixed")
            .to_owned()
    }

    fn captured_default() -> Boot {
        Boot::new()
            .profile(Profile::Release)
            .console(Console::Echoed)
    }

    #[test]
    fn no_flags_boot_the_documented_defaults() {
        assert_eq!(boot(&[]), captured_default());
        assert_eq!(boot(&["--"]), captured_default());
        let Ok(Command::Boot(on_terminal, _)) = parse_args([], true) else {
            panic!("a boot")
        };
        assert_eq!(on_terminal, captured_default().console(Console::Terminal));
    }

    #[test]
    fn every_flag_is_applied() {
        let parsed = boot(&[
            "--",
            "--smp",
            "64",
            "--gic",
            "3",
            "--cpu",
            "max",
            "--el",
            "2",
            "--mem",
            "2G",
            "--bootargs",
            "test=all log=debug",
            "--gdb",
            "--icount",
            "--timeout",
            "90",
        ]);
        let expected = captured_default()
            .smp(64)
            .gic(Gic::V3)
            .cpu(Cpu::Max)
            .el(ExceptionLevel::El2)
            .mem_mib(2048)
            .bootargs("test=all log=debug")
            .gdb(Some(Gdb::on_port(DEFAULT_GDB_PORT)))
            .icount(true)
            .timeout(Duration::from_secs(90));
        assert_eq!(parsed, expected);
    }

    #[test]
    fn values_may_follow_an_equals_sign() {
        let parsed = boot(&["--smp=2", "--gic=2", "--cpu=cortex-a53", "--mem=512m"]);
        let expected = captured_default()
            .smp(2)
            .gic(Gic::V2)
            .cpu(Cpu::CortexA53)
            .mem_mib(512);
        assert_eq!(parsed, expected);
    }

    #[test]
    fn bench_boots_the_benchmark_deterministically_and_echoes_it() {
        let bench = captured_default().bootargs("bench").deterministic(true);
        assert_eq!(boot(&["--bench"]), bench);
        assert_eq!(
            boot(&["--bench", "--bootargs", "log=warn"]),
            bench.bootargs("bench log=warn")
        );
        let Ok(Command::Boot(on_terminal, _)) = parse_args(["--bench".into()], true) else {
            panic!("a boot")
        };
        assert_eq!(
            on_terminal,
            captured_default().bootargs("bench").deterministic(true)
        );
    }

    #[test]
    fn breakdown_is_a_benchmark_boot_with_a_longer_time_out() {
        let bench = captured_default().bootargs("bench").deterministic(true);
        let slowed = bench.effective_timeout() * breakdown::SLOWDOWN;
        assert_eq!(
            parse(&["--breakdown"]),
            Ok(Command::Breakdown(bench.clone().timeout(slowed)))
        );
        assert_eq!(
            parse(&["--bench", "--breakdown", "--smp", "2", "--timeout", "90"]),
            Ok(Command::Breakdown(
                bench.smp(2).timeout(Duration::from_secs(90))
            ))
        );
        for (flags, conflict) in [
            (&["--vs-linux"][..], "--vs-linux"),
            (&["--gdb"], "--gdb"),
            (&["--repeat", "2"], "--repeat"),
            (&["--build-only"], "--build-only"),
            (&["--record", "dir", "--smp", "1"], "--record or --replay"),
            (&["--trace", "t.json"], "--trace"),
        ] {
            let args: Vec<&str> = ["--breakdown"].iter().chain(flags).copied().collect();
            assert_eq!(
                error(&args),
                format!("--breakdown cannot be combined with {conflict}"),
                "{args:?}"
            );
        }
        assert_eq!(error(&["--breakdown=yes"]), "--breakdown takes no value");
    }

    #[test]
    fn vs_linux_benchmarks_both_kernels_on_one_board() {
        let comparison = |args: &[&str]| match parse(args) {
            Ok(Command::BenchVsLinux { boot, peer }) => (boot, peer),
            other => panic!("{args:?} gave {other:?}"),
        };
        let bench = captured_default()
            .console(Console::Captured)
            .bootargs("bench")
            .deterministic(true);
        let board = Machine {
            clock: Clock::Deterministic,
            ..Machine::default()
        };
        // --vs-linux implies --bench.
        assert_eq!(
            comparison(&["--vs-linux"]),
            (bench.clone(), LinuxPeer::new(board))
        );
        let ten_minutes = Duration::from_secs(600);
        assert_eq!(
            comparison(&["--bench", "--vs-linux", "--smp", "2", "--timeout", "600"]),
            (
                bench.smp(2).timeout(ten_minutes),
                LinuxPeer::new(Machine { smp: 2, ..board }).timeout(ten_minutes)
            )
        );
    }

    #[test]
    fn deterministic_and_seed_pick_the_clock_the_seed_and_the_kernel() {
        let deterministic = captured_default().deterministic(true);
        assert_eq!(boot(&["--deterministic"]), deterministic);
        assert_eq!(boot(&["--icount", "--deterministic"]), deterministic);
        assert_eq!(boot(&["--deterministic", "--icount"]), deterministic);
        let seeded = captured_default()
            .profile(Profile::KernelTest)
            .seed(Some(42));
        assert_eq!(boot(&["--seed", "42"]), seeded);
        assert_eq!(
            boot(&["--seed=42", "--deterministic"]),
            seeded.clone().deterministic(true)
        );
        assert_eq!(
            boot(&["--seed", "18446744073709551615"]),
            seeded.clone().seed(Some(u64::MAX))
        );
        assert_eq!(boot(&["--seed", "0"]), seeded.seed(Some(0)));
        assert_eq!(
            boot(&["--bench", "--deterministic"]),
            captured_default().bootargs("bench").deterministic(true)
        );
    }

    #[test]
    fn repeat_runs_one_board_with_seeds_from_the_first() {
        let repeat = |args: &[&str]| match parse(args) {
            Ok(Command::Repeat(repeat)) => repeat,
            other => panic!("{args:?} gave {other:?}"),
        };
        let boot = captured_default()
            .console(Console::Captured)
            .profile(Profile::KernelTest)
            .smp(8)
            .bootargs("test=monitor:: log=warn");
        let flags = |flags: &[&str]| flags.iter().map(|&flag| flag.to_owned()).collect();
        assert_eq!(
            repeat(&[
                "--",
                "--smp",
                "8",
                "--repeat",
                "5",
                "--bootargs",
                "test=monitor:: log=warn",
                "--seed",
                "100",
            ]),
            Repeat::new(boot.clone(), 5)
                .first_seed(Some(100))
                .flags(flags(&[
                    "--smp",
                    "8",
                    "--bootargs",
                    "test=monitor:: log=warn"
                ]))
        );
        // Inline values, --deterministic kept; without --seed the start is chosen at run time.
        assert_eq!(
            repeat(&[
                "--repeat=10000",
                "--deterministic",
                "--smp=8",
                "--bootargs=test=monitor:: log=warn",
            ]),
            Repeat::new(boot.deterministic(true), MAX_RUNS).flags(flags(&[
                "--deterministic",
                "--smp=8",
                "--bootargs=test=monitor:: log=warn"
            ]))
        );
        // The console is captured even on a terminal: the report is printed instead.
        let Ok(Command::Repeat(on_terminal)) = parse_args(["--repeat".into(), "1".into()], true)
        else {
            panic!("a series")
        };
        assert_eq!(
            on_terminal,
            Repeat::new(
                captured_default()
                    .console(Console::Captured)
                    .profile(Profile::KernelTest),
                1
            )
        );
    }

    #[test]
    fn gdb_flags_pick_the_port_and_the_session() {
        let gdb = |port, session| Some(Gdb::on_port(port).session(session));
        assert_eq!(
            boot(&["--gdb-port", "4444"]),
            captured_default().gdb(gdb(4444, GdbSession::Printed))
        );
        let Ok(Command::Boot(exec, _)) =
            parse_args(["--gdb-exec".into(), "--gdb-port=5555".into()], true)
        else {
            panic!("a boot")
        };
        // gdb has the terminal, so the console is copied to stdout.
        assert_eq!(
            exec,
            captured_default().gdb(gdb(5555, GdbSession::Interactive))
        );
        assert_eq!(
            error(&["--gdb-port", "0"]),
            "--gdb-port needs a TCP port, 1 to 65535, got \"0\""
        );
        assert_eq!(
            error(&["--gdb-port", "65536"]),
            "--gdb-port needs a TCP port, 1 to 65535, got \"65536\""
        );
        assert_eq!(error(&["--gdb-exec=1"]), "--gdb-exec takes no value");
        assert_eq!(
            error(&["--repeat", "2", "--gdb-exec"]),
            "--repeat cannot be combined with --gdb"
        );
    }

    #[test]
    fn a_kernel_elf_and_a_profile_pick_the_kernel() {
        assert_eq!(
            boot(&["--profile", "kernel-test"]),
            captured_default().profile(Profile::KernelTest)
        );
        assert_eq!(
            boot(&["--profile=release", "--seed", "3"]),
            captured_default().seed(Some(3))
        );
        // What cargo run passes its runner: the ELF first, then the flags after its `--`.
        let elf = env!("CARGO_MANIFEST_DIR").to_owned() + "/Cargo.toml";
        assert_eq!(
            boot(&[&elf, "--smp", "2"]),
            captured_default().smp(2).elf(Path::new(&elf))
        );
        assert_eq!(
            error(&["--profile", "dev"]),
            "--profile must be release or kernel-test, got \"dev\""
        );
        assert_eq!(
            error(&[&elf, "--profile", "release"]),
            "a kernel ELF cannot be combined with --profile (cargo run builds it with its own \
             --profile)"
        );
        assert_eq!(
            error(&[&elf, &elf]),
            format!("unexpected argument {elf:?} (see --help)")
        );
    }

    #[test]
    fn reports_go_to_the_files_named() {
        let Ok(Command::Boot(_, reports)) = parse(&["--junit", "out.xml", "--tap=out.tap"]) else {
            panic!("a boot")
        };
        assert_eq!(
            reports,
            Reports {
                junit: Some("out.xml".into()),
                tap: Some("out.tap".into()),
                ..Reports::default()
            }
        );
        assert_eq!(error(&["--junit"]), "--junit needs a value");
        assert_eq!(
            error(&["--repeat", "2", "--junit", "x"]),
            "--repeat cannot be combined with --junit"
        );
        assert_eq!(
            error(&["--vs-linux", "--tap", "x"]),
            "--vs-linux cannot be combined with --tap"
        );
    }

    #[test]
    fn a_timeline_builds_the_trace_kernel_and_reads_the_console() {
        for flags in [
            &["--trace", "t.json", "--bootargs", "test=sched::"][..],
            &["--trace-png", "t.png", "--bootargs", "test=sched::"],
        ] {
            let Ok(Command::Boot(boot, reports)) =
                parse_args(flags.iter().map(OsString::from), true)
            else {
                panic!("a boot")
            };
            assert!(reports.wants_trace());
            let traced = captured_default()
                .bootargs("test=sched:: trace")
                .feature("trace");
            assert_eq!(boot, traced, "even on a terminal the console is read");
        }
        assert_eq!(
            error(&["--repeat", "2", "--trace", "x"]),
            "--repeat cannot be combined with --trace"
        );
        assert_eq!(
            error(&["--vs-linux", "--trace-png", "x"]),
            "--vs-linux cannot be combined with --trace"
        );
    }

    #[test]
    fn help_wins() {
        assert_eq!(parse(&["--smp", "4", "--help"]), Ok(Command::Help));
        assert_eq!(parse(&["-h"]), Ok(Command::Help));
        assert_eq!(parse(&["--smp", "4", "--version"]), Ok(Command::Version));
        assert_eq!(parse(&["-V"]), Ok(Command::Version));
        assert_eq!(VERSION, "coresched-qemu 0.1.0\n");
    }

    #[test]
    fn bad_flags_are_one_line_errors() {
        assert_eq!(error(&["--smp", "0"]), "--smp must be 1 to 512, got 0");
        assert_eq!(error(&["--smp", "513"]), "--smp must be 1 to 512, got 513");
        assert_eq!(
            error(&["--smp", "many"]),
            "--smp needs a whole number, got \"many\""
        );
        assert_eq!(error(&["--gic", "5"]), "--gic must be 2 or 3, got \"5\"");
        let too_many = "--smp 9 needs --gic 3: GICv2 allows at most 8 vCPUs";
        assert_eq!(error(&["--smp", "9", "--gic", "2"]), too_many);
        assert_eq!(error(&["--gic", "2", "--smp", "9"]), too_many);
        assert_eq!(
            error(&["--cpu", "cortex-a57"]),
            "--cpu must be one of cortex-a53, cortex-a72, max, got \"cortex-a57\""
        );
        assert_eq!(error(&["--el", "3"]), "--el must be 1 or 2, got \"3\"");
        assert_eq!(
            error(&["--timeout", "0"]),
            "--timeout must be at least 1 second"
        );
        assert_eq!(
            error(&["--frobnicate"]),
            "unknown flag --frobnicate (see --help)"
        );
        assert_eq!(
            error(&["--frobnicate=1"]),
            "unknown flag --frobnicate (see --help)"
        );
        assert_eq!(
            error(&["extra"]),
            "unexpected argument \"extra\" (see --help)"
        );
        assert_eq!(error(&["--smp"]), "--smp needs a value");
        assert_eq!(error(&["--smp", "--gic", "3"]), "--smp needs a value");
        assert_eq!(error(&["--gdb=yes"]), "--gdb takes no value");
        assert_eq!(error(&["--vs-linux=yes"]), "--vs-linux takes no value");
        assert_eq!(
            error(&["--vs-linux", "--gdb"]),
            "--vs-linux cannot be combined with --gdb"
        );
    }

    #[test]
    fn bad_seeds_and_repeats_are_one_line_errors() {
        for bad in [
            "-1",
            "+1",
            "0x10",
            "1.5",
            "18446744073709551616",
            "",
            "seven",
        ] {
            assert_eq!(
                error(&["--seed", bad]),
                format!("--seed needs a whole number from 0 to 18446744073709551615, got {bad:?}")
            );
        }
        assert_eq!(error(&["--seed"]), "--seed needs a value");
        assert_eq!(
            error(&["--repeat", "0"]),
            "--repeat must be 1 to 10000, got 0"
        );
        assert_eq!(
            error(&["--repeat", "10001"]),
            "--repeat must be 1 to 10000, got 10001"
        );
        assert_eq!(
            error(&["--repeat", "many"]),
            "--repeat needs a whole number, got \"many\""
        );
        assert_eq!(
            error(&["--repeat", "--seed", "1"]),
            "--repeat needs a value"
        );
        assert_eq!(
            error(&["--deterministic=1"]),
            "--deterministic takes no value"
        );
        assert_eq!(
            error(&["--repeat", "3", "--gdb"]),
            "--repeat cannot be combined with --gdb"
        );
        for flag in [&["--seed", "1"][..], &["--repeat", "2"]] {
            let args: Vec<&str> = ["--vs-linux"].iter().chain(flag).copied().collect();
            assert_eq!(
                error(&args),
                format!("--vs-linux cannot be combined with {}", flag[0])
            );
        }
        // The board is checked for a series too, before anything runs.
        assert_eq!(
            error(&["--repeat", "2", "--smp", "9", "--gic", "2"]),
            "--smp 9 needs --gic 3: GICv2 allows at most 8 vCPUs"
        );
    }

    #[test]
    fn machine_picks_a_real_board_and_refuses_what_does_not_apply() {
        let zcu102 = boot(&["--machine", "zcu102"]);
        assert_eq!(zcu102, captured_default().model(Model::Zcu102));
        assert_eq!(
            zcu102.qemu_args(Path::new("/k/Image"))[..4],
            ["-machine", "xlnx-zcu102", "-m", "1024M"]
        );
        assert_eq!(
            boot(&["--machine=raspi3b", "--smp", "4", "--mem", "1G"]),
            captured_default().model(Model::Raspi3b)
        );
        assert_eq!(
            boot(&["--machine", "versal", "--deterministic", "--mem", "2G"]),
            captured_default()
                .deterministic(true)
                .model(Model::Versal)
                .mem_mib(2048)
        );
        let dtb = env!("CARGO_MANIFEST_DIR").to_owned() + "/Cargo.toml";
        assert_eq!(
            boot(&["--machine", "virt", "--dtb", &dtb]),
            captured_default().dtb(Some(dtb.clone().into()))
        );
        assert_eq!(
            error(&["--machine", "raspi4"]),
            "--machine must be virt, versal, zcu102 or raspi3b, got \"raspi4\""
        );
        assert_eq!(
            error(&["--gic", "2", "--machine", "zcu102"]),
            "--gic applies to --machine virt only, not zcu102"
        );
        assert_eq!(
            error(&["--machine", "versal", "--el=2", "--cpu", "max"]),
            "--el applies to --machine virt only, not versal"
        );
        assert_eq!(
            error(&["--machine", "zcu102", "--smp", "8"]),
            "--smp 8: xlnx-zcu102 has 4 cores (--smp applies to --machine virt)"
        );
        assert_eq!(
            error(&["--machine", "raspi3b", "--mem", "2G"]),
            "--mem 2048M: raspi3b has exactly 1024M"
        );
        assert_eq!(
            error(&["--dtb", "/nonexistent.dtb"]),
            "--dtb \"/nonexistent.dtb\" is not a file"
        );
        assert_eq!(
            error(&["--machine", "zcu102", "--vs-linux"]),
            "--vs-linux cannot be combined with --machine other than virt"
        );
    }

    #[test]
    fn build_only_builds_the_boards_kernel_and_boots_nothing() {
        let Ok(Command::Build(build)) = parse(&["--build-only", "--machine", "raspi3b"]) else {
            panic!("a build")
        };
        assert_eq!(build, captured_default().model(Model::Raspi3b));
        assert_eq!(error(&["--build-only=1"]), "--build-only takes no value");
        assert_eq!(
            error(&["--build-only", "--gdb"]),
            "--build-only cannot be combined with --gdb"
        );
        assert_eq!(
            error(&["--build-only", "--repeat", "2"]),
            "--build-only cannot be combined with --repeat"
        );
    }

    #[test]
    fn memory_sizes_need_a_unit_and_the_minimum() {
        assert_eq!(boot(&["--mem", "128M"]), captured_default().mem_mib(128));
        assert_eq!(boot(&["--mem", "1g"]), captured_default().mem_mib(1024));
        assert_eq!(
            error(&["--mem", "64M"]),
            "--mem must be at least 128M, got 64M"
        );
        for bad in ["512", "M", "1T", "-1G", "1.5G", "5000000G", "1 G", "é"] {
            assert_eq!(
                error(&["--mem", bad]),
                format!("--mem takes a size such as 512M or 2G, got {bad:?}")
            );
        }
    }

    #[test]
    fn non_utf8_arguments_are_refused() {
        use std::os::unix::ffi::OsStringExt;
        let bad = OsString::from_vec(vec![b'-', b'-', 0xff]);
        let error = parse_args([bad], false).expect_err("not UTF-8").to_string();
        assert!(error.contains("is not valid UTF-8"), "{error}");
    }
}
