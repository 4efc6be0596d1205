//! `cargo qemu`'s command line: the flags, their checks, and the launcher's exit status.
//!
//! Every mistake on the command line is caught here, before anything is built or started, and
//! reported as one line with exit status [`USAGE_EXIT_CODE`].

use std::ffi::OsString;
use std::fmt;
use std::time::Duration;

use crate::boot::{Boot, Outcome};
use crate::kernel::Profile;
use crate::linux::LinuxPeer;
use crate::machine::{Cpu, ExceptionLevel, Gic, Machine};
use crate::qemu::Console;

/// The launcher's exit status for a bad command line.
pub const USAGE_EXIT_CODE: u8 = 2;

/// The launcher's exit status when QEMU timed out (as `timeout(1)` uses).
pub const TIMEOUT_EXIT_CODE: u8 = 124;

/// The launcher's exit status when it could not boot at all: the toolchain, the kernel build
/// or QEMU failed it.
pub const LAUNCH_FAILURE_EXIT_CODE: u8 = 125;

/// `--help`'s text.
pub const USAGE: &str = "\
Builds the coresched kernel Image and boots it on QEMU virt.

Usage: cargo qemu -- [FLAGS]

Flags:
  --smp N            vCPUs, 1 to 512 (default 4; GICv2 allows at most 8)
  --gic 2|3          interrupt controller version (default 3)
  --cpu MODEL        cortex-a53, cortex-a72 or max (default cortex-a72)
  --el 1|2           exception level the kernel is entered at (default 1;
                     2 boots with -machine virtualization=on)
  --mem SIZE         guest memory such as 512M or 2G, at least 128M (default 1G)
  --bootargs \"ARGS\"  kernel bootargs (default \"demo\"; exit=semihosting is always added)
  --gdb              start halted with a gdb server on localhost:1234 and say how to attach
  --icount           -icount shift=0,sleep=off: guest time counts instructions and idle
                     time jumps to the next deadline, repeatable run to run
  --timeout SECS     end QEMU after this long (default 60 + smp/4; an hour with --gdb)
  --bench            boot with bootargs \"bench\" (plus any --bootargs) and --icount, and
                     print the kernel's output
  --vs-linux         --bench, then the same workloads on Debian's arm64 Linux 6.1 on
                     the same board; prints one table with both (Linux is fetched and
                     built into target/linux/ on first use: apt-get, dpkg-deb and
                     aarch64-linux-gnu-gcc, which is installed when run as root)
  --help             print this text

On a terminal the guest's console is interactive (Ctrl-A X quits QEMU); otherwise, and
always with --bench, its output is copied to stdout (with --vs-linux, only the table).

Exit status: QEMU's, which is the kernel's (0 passed, 1 a test failed, 3 kernel panic or
boot error, or Linux did not finish its benchmark); 2 bad flags; 124 timed out; 125 could
not build or start QEMU (or fetch and build what Linux needs).
";

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Print [`USAGE`] and exit successfully.
    Help,
    /// Run this boot.
    Boot(Boot),
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
/// otherwise output echoed to stdout (and always echoed for `--bench`).
pub fn parse_args(
    args: impl IntoIterator<Item = OsString>,
    stdin_is_terminal: bool,
) -> Result<Command, UsageError> {
    let mut args = args.into_iter().peekable();
    if args.peek().is_some_and(|first| first == "--") {
        args.next();
    }
    let mut machine = Machine::default();
    let mut bootargs = None;
    let mut timeout = None;
    let mut gdb = false;
    let mut bench = false;
    let mut vs_linux = false;
    while let Some(arg) = args.next() {
        let arg = utf8(arg)?;
        let (flag, mut inline_value) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        let mut value = || match inline_value.take() {
            Some(value) => Ok(value),
            None => match args.next_if(|next| !next.to_string_lossy().starts_with("--")) {
                Some(next) => utf8(next),
                None => Err(UsageError(format!("{flag} needs a value"))),
            },
        };
        match flag {
            "--help" | "-h" => return Ok(Command::Help),
            "--smp" => machine.smp = number(flag, &value()?)?,
            "--gic" => machine.gic = gic(&value()?)?,
            "--cpu" => machine.cpu = cpu(&value()?)?,
            "--el" => machine.el = exception_level(&value()?)?,
            "--mem" => machine.mem_mib = mem_mib(&value()?)?,
            "--bootargs" => bootargs = Some(value()?),
            "--timeout" => timeout = Some(timeout_secs(&value()?)?),
            "--gdb" | "--icount" | "--bench" | "--vs-linux" if inline_value.is_some() => {
                return Err(UsageError(format!("{flag} takes no value")));
            }
            "--gdb" => gdb = true,
            "--icount" => machine.icount = true,
            "--bench" => bench = true,
            "--vs-linux" => vs_linux = true,
            _ if flag.starts_with('-') => {
                return Err(UsageError(format!("unknown flag {flag} (see --help)")));
            }
            _ => {
                return Err(UsageError(format!(
                    "unexpected argument {arg:?} (see --help)"
                )));
            }
        }
    }

    if vs_linux && gdb {
        return Err(UsageError(
            "--vs-linux cannot be combined with --gdb".to_owned(),
        ));
    }
    let console = if bench || vs_linux {
        machine.icount = true;
        bootargs = Some(match bootargs {
            Some(extra) => format!("bench {extra}"),
            None => "bench".to_owned(),
        });
        // With --vs-linux the table is printed once both kernels have run.
        if vs_linux {
            Console::Captured
        } else {
            Console::Echoed
        }
    } else if stdin_is_terminal {
        Console::Terminal
    } else {
        Console::Echoed
    };
    machine.validate().map_err(UsageError)?;
    let mut boot = Boot::new()
        .machine(machine)
        .bootargs(bootargs.as_deref().unwrap_or("demo"))
        .profile(Profile::Release)
        .gdb(gdb)
        .console(console);
    if let Some(timeout) = timeout {
        boot = boot.timeout(timeout);
    }
    if vs_linux {
        let peer = LinuxPeer::new(machine);
        let peer = match timeout {
            Some(timeout) => peer.timeout(timeout),
            None => peer,
        };
        return Ok(Command::BenchVsLinux { boot, peer });
    }
    Ok(Command::Boot(boot))
}

/// The launcher's exit status for a boot that ran: QEMU's own, [`TIMEOUT_EXIT_CODE`] after a
/// time-out, or 128 plus the signal's number if something else ended QEMU.
pub fn exit_code(outcome: &Outcome) -> u8 {
    if outcome.timed_out {
        return TIMEOUT_EXIT_CODE;
    }
    let code = outcome
        .exit_code()
        .or_else(|| outcome.signal().map(|signal| 128 + signal));
    code.and_then(|code| u8::try_from(code).ok())
        .unwrap_or(u8::MAX)
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
fn mem_mib(value: &str) -> Result<u32, UsageError> {
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

fn timeout_secs(value: &str) -> Result<Duration, UsageError> {
    match number("--timeout", value)? {
        0 => Err(UsageError("--timeout must be at least 1 second".to_owned())),
        secs => Ok(Duration::from_secs(secs.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    fn parse(args: &[&str]) -> Result<Command, UsageError> {
        parse_args(args.iter().map(OsString::from), false)
    }

    fn boot(args: &[&str]) -> Boot {
        match parse(args) {
            Ok(Command::Boot(boot)) => boot,
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
        let Ok(Command::Boot(on_terminal)) = parse_args([], true) else {
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
            .gdb(true)
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
    fn bench_boots_the_benchmark_with_icount_and_echoes_it() {
        let bench = captured_default().bootargs("bench").icount(true);
        assert_eq!(boot(&["--bench"]), bench);
        assert_eq!(
            boot(&["--bench", "--bootargs", "log=warn"]),
            bench.bootargs("bench log=warn")
        );
        let Ok(Command::Boot(on_terminal)) = parse_args(["--bench".into()], true) else {
            panic!("a boot")
        };
        assert_eq!(
            on_terminal,
            captured_default().bootargs("bench").icount(true)
        );
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
            .icount(true);
        let board = Machine {
            icount: true,
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
    fn help_wins() {
        assert_eq!(parse(&["--smp", "4", "--help"]), Ok(Command::Help));
        assert_eq!(parse(&["-h"]), Ok(Command::Help));
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

    fn outcome(status: ExitStatus, timed_out: bool) -> Outcome {
        Outcome {
            console: String::new(),
            qemu_stderr: String::new(),
            status,
            timed_out,
            wall: Duration::ZERO,
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn the_launcher_exits_with_qemus_status() {
        let exited = |code: i32| ExitStatus::from_raw(code << 8);
        assert_eq!(exit_code(&outcome(exited(0), false)), 0);
        assert_eq!(exit_code(&outcome(exited(1), false)), 1);
        assert_eq!(exit_code(&outcome(exited(3), false)), 3);
        assert_eq!(exit_code(&outcome(exited(0), true)), TIMEOUT_EXIT_CODE);
        let killed = ExitStatus::from_raw(9);
        assert_eq!(exit_code(&outcome(killed, false)), 137);
        let terminated = Outcome {
            qemu_stderr: "qemu-system-aarch64: terminating on signal 15 from pid 1\n".to_owned(),
            ..outcome(exited(0), false)
        };
        assert_eq!(exit_code(&terminated), 143);
    }
}
