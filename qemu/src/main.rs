//! `cargo qemu`: builds the kernel Image and boots it on QEMU `virt` (see `--help`).

#![warn(missing_docs)]

use std::io::{self, IsTerminal};
use std::process::ExitCode;

use coresched_qemu::cli::{self, Command, USAGE, VERSION};
use coresched_qemu::exit::{self, LAUNCH_FAILURE_EXIT_CODE, USAGE_EXIT_CODE};
use coresched_qemu::linux;

fn main() -> ExitCode {
    let command = match cli::parse_args(std::env::args_os().skip(1), io::stdin().is_terminal()) {
        Ok(command) => command,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(USAGE_EXIT_CODE);
        }
    };
    let status = match command {
        Command::Help => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Command::Version => {
            print!("{VERSION}");
            return ExitCode::SUCCESS;
        }
        Command::Boot(boot, reports) => boot.run().and_then(|outcome| {
            if outcome.timed_out {
                eprintln!(
                    "coresched-qemu: error: QEMU timed out after {} s and was ended \
                     (a longer limit: --timeout SECS)",
                    outcome.timeout.as_secs()
                );
            }
            reports.write(&boot.board(), &boot.kernel_command_line(), &outcome)?;
            Ok(exit::status_of(&outcome))
        }),
        Command::Build(boot) => boot.build_only().map(|files| {
            for file in files {
                println!("{}", file.display());
            }
            0
        }),
        Command::Repeat(repeat) => repeat.run().map(|report| {
            print!("{report}");
            report.exit_code()
        }),
        Command::BenchVsLinux { boot, peer } => linux::bench_vs_linux(&boot, &peer),
    };
    match status {
        Ok(status) => ExitCode::from(status),
        Err(error) => {
            eprintln!("coresched-qemu: error: {error}");
            ExitCode::from(LAUNCH_FAILURE_EXIT_CODE)
        }
    }
}
