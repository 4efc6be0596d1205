//! `cargo qemu`: builds the kernel Image and boots it on QEMU `virt` (see `--help`).

#![warn(missing_docs)]

use std::io::{self, IsTerminal};
use std::process::ExitCode;

use coresched_qemu::cli::{self, Command, USAGE, VERSION};
use coresched_qemu::exit::{
    self, BREAKDOWN_FAILED_EXIT_CODE, LAUNCH_FAILURE_EXIT_CODE, USAGE_EXIT_CODE,
};
use coresched_qemu::{Outcome, breakdown, linux};

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
            report_time_out(&outcome);
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
        Command::Breakdown(boot) => breakdown::run(&boot).map(|run| {
            report_time_out(&run.outcome);
            let status = exit::status_of(&run.outcome);
            match run.breakdowns {
                Ok(breakdowns) => {
                    for breakdown in breakdowns {
                        print!("\n{breakdown}");
                    }
                    status
                }
                Err(why) => {
                    eprintln!("coresched-qemu: error: breakdown: {why}");
                    status.max(BREAKDOWN_FAILED_EXIT_CODE)
                }
            }
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

/// Says on stderr that QEMU timed out, if it did, and how to give it longer.
fn report_time_out(outcome: &Outcome) {
    if outcome.timed_out {
        eprintln!(
            "coresched-qemu: error: QEMU timed out after {} s and was ended \
             (a longer limit: --timeout SECS)",
            outcome.timeout.as_secs()
        );
    }
}
