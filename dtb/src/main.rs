//! `cargo dtb [-v] [--summary] FILE|DIR...`: says, for each board DTB (a directory stands for
//! every `*.dtb` under it), what coresched would do there; see [`coresched_dtb::check`].
//! Exit status 0 when every DTB is `ok`, 1 otherwise, 2 for bad usage.

use std::path::PathBuf;
use std::process::ExitCode;

use coresched_dtb::{Report, Tally, Verdict, check, dtb_files};

const USAGE: &str = "usage: cargo dtb [-v] [--summary] FILE|DIR...";

/// What the command line asks for.
struct Options {
    verbose: bool,
    summary: bool,
    paths: Vec<PathBuf>,
}

/// The options, or the one line that says what is wrong with them.
fn options(args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        verbose: false,
        summary: false,
        paths: Vec::new(),
    };
    for arg in args {
        match arg.as_str() {
            "-v" | "--verbose" => options.verbose = true,
            "--summary" => options.summary = true,
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}; {USAGE}")),
            _ => options.paths.push(arg.into()),
        }
    }
    if options.paths.is_empty() {
        return Err(format!("no DTB given; {USAGE}"));
    }
    Ok(options)
}

/// The DTB's report, or a refusal saying why it could not be read.
fn report(path: &PathBuf) -> Report {
    std::fs::read(path).map_or_else(
        |error| Report {
            verdict: Verdict::Refused {
                message: format!("cannot read: {error}"),
                reason: "cannot read".into(),
            },
            details: Vec::new(),
        },
        |blob| check(&blob),
    )
}

fn main() -> ExitCode {
    let options = match options(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("cargo dtb: {message}");
            return ExitCode::from(2);
        }
    };
    let mut all_ok = true;
    let mut tally = Tally::default();
    for path in &options.paths {
        let files = if path.is_dir() {
            match dtb_files(path) {
                Ok(files) => files,
                Err(error) => {
                    println!(
                        "{}: refused: cannot read the directory: {error}",
                        path.display()
                    );
                    all_ok = false;
                    continue;
                }
            }
        } else {
            vec![path.clone()]
        };
        for file in files {
            let report = report(&file);
            all_ok &= report.verdict.is_ok();
            let name = file.display().to_string();
            tally.add(&name, &report.verdict);
            if options.summary {
                continue;
            }
            println!("{name}: {}", report.verdict);
            if options.verbose {
                for detail in &report.details {
                    println!("    {detail}");
                }
            }
        }
    }
    if options.summary {
        println!("{tally}");
    }
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
