//! `--repeat N`: one boot run N times on the deterministic clock with consecutive perturbation
//! seeds, and the report that comes of it: how often each kernel test passed and failed, and
//! for every failing run its seed and the one command that repeats it.
//!
//! Each run is deterministic (see [`Clock::Deterministic`](crate::Clock::Deterministic)), so
//! a failing seed fails the same way every time it is booted again.

use std::fmt::{self, Write as _};
use std::hash::{BuildHasher, RandomState};

use crate::boot::Boot;
use crate::console::TapReport;
use crate::error::LaunchError;

/// The most runs one `--repeat` makes.
pub const MAX_RUNS: u32 = 10_000;

/// A series of seeded boots: built with [`Repeat::new`], run with [`Repeat::run`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repeat {
    boot: Boot,
    runs: u32,
    first_seed: Option<u64>,
    flags: Vec<String>,
}

impl Repeat {
    /// `runs` boots of `boot`, each with its own seed (which implies the deterministic clock;
    /// any seed set on `boot` is replaced). `runs` is taken as given; `cargo qemu` checks it is
    /// 1 to [`MAX_RUNS`].
    pub fn new(boot: Boot, runs: u32) -> Self {
        Repeat {
            boot,
            runs,
            first_seed: None,
            flags: Vec::new(),
        }
    }

    /// Sets the first run's seed; the runs after it take the next seeds in turn (wrapping after
    /// `u64::MAX`). Without one, [`Repeat::run`] picks a random start and prints it.
    pub fn first_seed(mut self, seed: Option<u64>) -> Self {
        self.first_seed = seed;
        self
    }

    /// Sets the `cargo qemu` flags that give the same boot without a seed, for the report's
    /// reproduction commands (`cargo qemu -- <flags> --seed <seed>`).
    pub fn flags(mut self, flags: Vec<String>) -> Self {
        self.flags = flags;
        self
    }

    /// Runs the boots one after another (each waits for its share of the host as
    /// [`Boot::run`] does; each prints its summary line to stderr, and a failing one a second
    /// line naming its seed and failed tests). `Err` if a boot could not be started at all: the
    /// series stops there.
    pub fn run(&self) -> Result<RepeatReport, LaunchError> {
        let first_seed = self.first_seed.unwrap_or_else(|| {
            // A process-wide random value; small enough to type back as --seed.
            let start = u64::from(RandomState::new().hash_one(std::process::id()) as u32);
            eprintln!("coresched-qemu: repeat: no --seed given, starting at seed {start}");
            start
        });
        let mut runs = Vec::new();
        for index in 0..self.runs {
            let seed = first_seed.wrapping_add(u64::from(index));
            let outcome = self.boot.clone().seed(Some(seed)).run()?;
            let record = RunRecord {
                seed,
                exit_code: outcome.exit_code(),
                ending: outcome.ending(),
                tap: outcome.tap(),
            };
            if !record.passed() {
                eprintln!(
                    "coresched-qemu: repeat: run {} of {} (seed {seed}) failed: {}",
                    index + 1,
                    self.runs,
                    record.describe()
                );
            }
            runs.push(record);
        }
        Ok(RepeatReport {
            flags: self.flags.clone(),
            runs,
        })
    }
}

/// What one run of a [`Repeat`] came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunRecord {
    /// The run's perturbation seed.
    pub seed: u64,
    /// The kernel's exit status (`None` if QEMU timed out or was ended by a signal).
    pub exit_code: Option<i32>,
    /// How the run ended, e.g. `exit status 1` or `timed out after 61 s`.
    pub ending: String,
    /// The TAP report in its console.
    pub tap: TapReport,
}

impl RunRecord {
    /// Whether the run passed: the kernel exited with status 0.
    pub fn passed(&self) -> bool {
        self.exit_code == Some(0)
    }

    /// How it ended and, if any test failed, which ones and why, on one line.
    fn describe(&self) -> String {
        let mut line = self.ending.clone();
        let mut failures = self.tap.failures().peekable();
        if failures.peek().is_some() {
            line.push_str("; not ok:");
            for failure in failures {
                let _ = write!(line, " {}", failure.name);
                if let Some(message) = failure.message() {
                    let _ = write!(line, " ({message})");
                }
            }
        }
        line
    }
}

/// One test's counts over the runs of a [`Repeat`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tally {
    /// The test's name.
    pub name: String,
    /// Runs in which it passed.
    pub passed: u32,
    /// Runs in which it failed.
    pub failed: u32,
    /// Runs whose console does not report it (the run ended before it, or did not select it).
    pub not_reported: u32,
}

/// Every run of a [`Repeat`]. `Display` writes the summary `cargo qemu` prints: a table of
/// every test's counts, the runs' exit statuses, and one reproduction command per failing run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepeatReport {
    flags: Vec<String>,
    /// The runs, in the order they ran.
    pub runs: Vec<RunRecord>,
}

impl RepeatReport {
    /// Whether every run passed.
    pub fn all_passed(&self) -> bool {
        self.runs.iter().all(RunRecord::passed)
    }

    /// The runs that did not pass.
    pub fn failures(&self) -> impl Iterator<Item = &RunRecord> {
        self.runs.iter().filter(|run| !run.passed())
    }

    /// Each test's counts, in the order the tests were first reported.
    pub fn tallies(&self) -> Vec<Tally> {
        let mut tallies: Vec<Tally> = Vec::new();
        for run in &self.runs {
            for result in &run.tap.results {
                let index = match tallies.iter().position(|tally| tally.name == result.name) {
                    Some(index) => index,
                    None => {
                        tallies.push(Tally {
                            name: result.name.clone(),
                            passed: 0,
                            failed: 0,
                            not_reported: 0,
                        });
                        tallies.len() - 1
                    }
                };
                let tally = &mut tallies[index];
                if result.passed {
                    tally.passed += 1;
                } else {
                    tally.failed += 1;
                }
            }
        }
        let runs = u32::try_from(self.runs.len()).unwrap_or(u32::MAX);
        for tally in &mut tallies {
            tally.not_reported = runs.saturating_sub(tally.passed + tally.failed);
        }
        tallies
    }

    /// The command that repeats the run with `seed`: `cargo qemu -- <flags> --seed <seed>`,
    /// each flag quoted for a POSIX shell where it needs it.
    pub fn reproduction(&self, seed: u64) -> String {
        let mut command = "cargo qemu --".to_owned();
        for flag in &self.flags {
            command.push(' ');
            command.push_str(&shell_quoted(flag));
        }
        let _ = write!(command, " --seed {seed}");
        command
    }

    /// The launcher's exit status for the series: 0 if every run passed, else 1.
    pub fn exit_code(&self) -> u8 {
        if self.all_passed() { 0 } else { 1 }
    }
}

impl fmt::Display for RepeatReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let runs = self.runs.len();
        let seeds = match (self.runs.first(), self.runs.last()) {
            (Some(first), Some(last)) if first.seed == last.seed => format!("seed {}", first.seed),
            (Some(first), Some(last)) => format!("seeds {} to {}", first.seed, last.seed),
            _ => "no seeds".to_owned(),
        };
        writeln!(f, "repeat: {}, {seeds}", runs_text(runs))?;
        let tallies = self.tallies();
        let width = tallies
            .iter()
            .map(|tally| tally.name.len())
            .chain(["test".len()])
            .max()
            .unwrap_or(0);
        writeln!(f, "| {:width$} | passed | failed | not reported |", "test")?;
        writeln!(f, "| {:-<width$} | -----: | -----: | -----------: |", "")?;
        for tally in &tallies {
            writeln!(
                f,
                "| {:width$} | {:>6} | {:>6} | {:>12} |",
                tally.name, tally.passed, tally.failed, tally.not_reported
            )?;
        }
        let mut endings: Vec<(&str, usize)> = Vec::new();
        for run in &self.runs {
            match endings.iter_mut().find(|(ending, _)| *ending == run.ending) {
                Some((_, count)) => *count += 1,
                None => endings.push((&run.ending, 1)),
            }
        }
        let endings: Vec<String> = endings
            .iter()
            .map(|(ending, count)| format!("{count} x {ending}"))
            .collect();
        writeln!(f, "runs ended: {}", endings.join(", "))?;
        let failed = self.failures().count();
        if failed == 0 {
            return writeln!(f, "passed: {runs} of {}", runs_text(runs));
        }
        writeln!(
            f,
            "failed: {failed} of {}; each repeats with its command:",
            runs_text(runs)
        )?;
        for run in self.failures() {
            writeln!(f, "seed {}: {}", run.seed, run.describe())?;
            writeln!(f, "  {}", self.reproduction(run.seed))?;
        }
        Ok(())
    }
}

/// `1 run` or `N runs`.
fn runs_text(runs: usize) -> String {
    match runs {
        1 => "1 run".to_owned(),
        runs => format!("{runs} runs"),
    }
}

/// `word` as a POSIX shell reads it back: as is when it has only characters the shell takes
/// literally, otherwise in single quotes (a `'` inside written `'\''`).
fn shell_quoted(word: &str) -> String {
    let literal = |byte: u8| byte.is_ascii_alphanumeric() || b"_-+=:,./@%".contains(&byte);
    if !word.is_empty() && word.bytes().all(literal) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seed: u64, exit_code: i32, console: &str) -> RunRecord {
        RunRecord {
            seed,
            exit_code: Some(exit_code),
            ending: format!("exit status {exit_code}"),
            tap: TapReport::parse(console),
        }
    }

    const PASSED: &str = "\
TAP version 14
1..2
ok 1 - monitor::scan # cores=8 guest_us=10
ok 2 - monitor::kick # cores=8 guest_us=20
2 passed, 0 failed
";

    const FAILED: &str = "\
TAP version 14
1..2
ok 1 - monitor::scan # cores=8 guest_us=10
not ok 2 - monitor::kick # cores=8 guest_us=20
  ---
  message: 'no kick: it''s late'
  ...
1 passed, 1 failed
";

    fn report(runs: Vec<RunRecord>) -> RepeatReport {
        RepeatReport {
            flags: ["--smp", "8", "--bootargs", "test=monitor:: log=warn"]
                .map(String::from)
                .to_vec(),
            runs,
        }
    }

    #[test]
    fn counts_each_test_over_the_runs() {
        let panicked = RunRecord {
            seed: 12,
            exit_code: None,
            ending: "timed out after 61 s".to_owned(),
            tap: TapReport::parse("TAP version 14\n1..2\nok 1 - monitor::scan\n"),
        };
        let report = report(vec![record(10, 0, PASSED), record(11, 1, FAILED), panicked]);
        assert!(!report.all_passed());
        assert_eq!(report.exit_code(), 1);
        assert_eq!(
            report.tallies(),
            [
                Tally {
                    name: "monitor::scan".to_owned(),
                    passed: 3,
                    failed: 0,
                    not_reported: 0
                },
                Tally {
                    name: "monitor::kick".to_owned(),
                    passed: 1,
                    failed: 1,
                    not_reported: 1
                },
            ]
        );
        let failed: Vec<u64> = report.failures().map(|run| run.seed).collect();
        assert_eq!(failed, [11, 12]);
    }

    #[test]
    fn the_summary_names_each_failing_seed_and_its_command() {
        let report = report(vec![record(10, 0, PASSED), record(11, 1, FAILED)]);
        assert_eq!(
            report.to_string(),
            "\
repeat: 2 runs, seeds 10 to 11
| test          | passed | failed | not reported |
| ------------- | -----: | -----: | -----------: |
| monitor::scan |      2 |      0 |            0 |
| monitor::kick |      1 |      1 |            0 |
runs ended: 1 x exit status 0, 1 x exit status 1
failed: 1 of 2 runs; each repeats with its command:
seed 11: exit status 1; not ok: monitor::kick (no kick: it's late)
  cargo qemu -- --smp 8 --bootargs 'test=monitor:: log=warn' --seed 11
"
        );
    }

    #[test]
    fn a_clean_series_exits_0() {
        let report = report(vec![record(0, 0, PASSED), record(1, 0, PASSED)]);
        assert!(report.all_passed());
        assert_eq!(report.exit_code(), 0);
        assert!(
            report
                .to_string()
                .ends_with("runs ended: 2 x exit status 0\npassed: 2 of 2 runs\n")
        );
        let demo = RepeatReport {
            flags: Vec::new(),
            runs: vec![record(u64::MAX, 0, "demo: done\n")],
        };
        assert_eq!(
            demo.to_string(),
            "\
repeat: 1 run, seed 18446744073709551615
| test | passed | failed | not reported |
| ---- | -----: | -----: | -----------: |
runs ended: 1 x exit status 0
passed: 1 of 1 run
"
        );
        assert_eq!(demo.reproduction(3), "cargo qemu -- --seed 3");
    }

    #[test]
    fn flags_are_quoted_for_the_shell_only_when_needed() {
        assert_eq!(shell_quoted("--smp=8"), "--smp=8");
        assert_eq!(shell_quoted("test=sched::,boot::"), "test=sched::,boot::");
        assert_eq!(shell_quoted("test=all log=warn"), "'test=all log=warn'");
        assert_eq!(shell_quoted("it's"), r"'it'\''s'");
        assert_eq!(shell_quoted(""), "''");
        assert_eq!(shell_quoted("$HOME"), "'$HOME'");
    }
}
