//! Reading the kernel's console output: the boot line and the TAP 14 test report that the
//! kernel/host contract defines, and the timeline's lines (kept out of what the user sees).
//! Lines may end in `\r\n` (the serial port's convention) and may be mixed with log lines,
//! which are skipped.

use std::fmt;
use std::io::{self, Write};

/// What begins each line of the kernel's timeline dump (bootarg `trace`): the launcher keeps
/// these lines in the captured console and out of the copy it shows.
pub const TRACE_LINE_PREFIX: &str = "@trace ";

/// A writer that passes on everything but the timeline's lines. It holds back a line only
/// while it could still turn out to be one (its start matches [`TRACE_LINE_PREFIX`]), so other
/// output is not delayed.
pub struct WithoutTraceLines<W: Write> {
    out: W,
    /// The start of the current line, while it matches the prefix so far.
    held: Vec<u8>,
    /// The current line is a timeline line: skip to its end.
    skipping: bool,
    /// The current line was found not to be one: pass it on to its end.
    passing: bool,
}

impl<W: Write> WithoutTraceLines<W> {
    /// Filters what is written on to `out`.
    pub fn new(out: W) -> Self {
        WithoutTraceLines {
            out,
            held: Vec::new(),
            skipping: false,
            passing: false,
        }
    }
}

impl<W: Write> Write for WithoutTraceLines<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let prefix = TRACE_LINE_PREFIX.as_bytes();
        let mut passed = Vec::with_capacity(bytes.len());
        for &byte in bytes {
            if self.skipping || self.passing {
                if self.passing {
                    passed.push(byte);
                }
            } else {
                self.held.push(byte);
                if self.held.len() == prefix.len() && self.held == prefix {
                    self.held.clear();
                    self.skipping = true;
                } else if !prefix.starts_with(&self.held) {
                    passed.append(&mut self.held);
                    self.passing = true;
                }
            }
            if byte == b'\n' {
                self.skipping = false;
                self.passing = false;
            }
        }
        self.out.write_all(&passed)?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The kernel's boot line, `boot: <N> cores online in <T> us guest time`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootLine {
    /// Cores that came online.
    pub cores: u32,
    /// Guest time from entry until the last core was up, in microseconds.
    pub guest_us: u64,
}

impl BootLine {
    /// The first boot line in `console`, if any. The line may carry a prefix (a log level,
    /// say) before `boot: `.
    pub fn find(console: &str) -> Option<BootLine> {
        lines(console).find_map(BootLine::parse)
    }

    /// Parses one line; `None` unless it holds `boot: <N> cores online in <T> us guest time`.
    pub fn parse(line: &str) -> Option<BootLine> {
        let (_, rest) = line.split_once("boot: ")?;
        let (cores, rest) = rest.split_once(" cores online in ")?;
        let guest_us = rest.strip_suffix(" us guest time")?;
        Some(BootLine {
            cores: cores.parse().ok()?,
            guest_us: guest_us.parse().ok()?,
        })
    }
}

impl fmt::Display for BootLine {
    /// Writes the line as the kernel prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "boot: {} cores online in {} us guest time",
            self.cores, self.guest_us
        )
    }
}

/// The closing line of a test run, exactly `<N> passed, <M> failed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Totals {
    /// Tests that passed.
    pub passed: u32,
    /// Tests that failed, panicked or timed out.
    pub failed: u32,
}

impl Totals {
    /// Parses one line; `None` unless it is exactly `<N> passed, <M> failed`.
    pub fn parse(line: &str) -> Option<Totals> {
        let (passed, failed) = line.strip_suffix(" failed")?.split_once(" passed, ")?;
        Some(Totals {
            passed: parse_count(passed)?,
            failed: parse_count(failed)?,
        })
    }
}

/// One `ok` / `not ok` line of a TAP report, with its YAML diagnostics block if it has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TapResult {
    /// `true` for `ok`, `false` for `not ok`.
    pub passed: bool,
    /// The test's number in the plan.
    pub number: u32,
    /// The test's name, e.g. `boot::cores_online`.
    pub name: String,
    /// The text after ` # `, e.g. `cores=4 guest_us=1234` (empty when there is none).
    pub comment: String,
    /// The lines between the result's `---` and `...`, trimmed (empty when there is no block).
    pub diagnostics: Vec<String>,
}

impl TapResult {
    /// Parses a result line; `None` unless it is `ok <n> - <name>` or `not ok <n> - <name>`,
    /// optionally followed by ` # <comment>`.
    fn parse(line: &str) -> Option<TapResult> {
        let (passed, rest) = match line.strip_prefix("not ok ") {
            Some(rest) => (false, rest),
            None => (true, line.strip_prefix("ok ")?),
        };
        let (number, rest) = rest.split_once(" - ")?;
        let (name, comment) = rest.split_once(" # ").unwrap_or((rest, ""));
        Some(TapResult {
            passed,
            number: parse_count(number)?,
            name: name.trim().to_owned(),
            comment: comment.trim().to_owned(),
            diagnostics: Vec::new(),
        })
    }

    /// The value of `key=value` in the comment, e.g. `field("cores")` is `Some("4")` for
    /// `# cores=4 guest_us=1234`.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.comment
            .split_whitespace()
            .find_map(|word| word.strip_prefix(key)?.strip_prefix('='))
    }

    /// The diagnostics block's `message:`, without YAML's single quotes (`''` read as `'`).
    pub fn message(&self) -> Option<String> {
        self.diagnostic("message")
    }

    /// The diagnostics block's `at:`, where the test failed: a source location such as
    /// `src/testing/selftest.rs:13:5`, or `core <C>` for a panic or a time-out.
    pub fn location(&self) -> Option<String> {
        self.diagnostic("at")
    }

    /// The value of `key:` in the diagnostics block, without YAML's single quotes.
    fn diagnostic(&self, key: &str) -> Option<String> {
        let value = self
            .diagnostics
            .iter()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))?;
        let value = value.trim();
        let unquoted = value
            .strip_prefix('\'')
            .and_then(|inner| inner.strip_suffix('\''))
            .map_or_else(|| value.to_owned(), |inner| inner.replace("''", "'"));
        Some(unquoted)
    }
}

/// A TAP 14 report read out of console output.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TapReport {
    /// The `N` of `TAP version N`, if the header was printed.
    pub version: Option<u32>,
    /// The `N` of the plan line `1..N`, if printed.
    pub planned: Option<u32>,
    /// Every result line, in console order.
    pub results: Vec<TapResult>,
    /// The totals, if the console's last line is `<N> passed, <M> failed`.
    pub totals: Option<Totals>,
}

impl TapReport {
    /// Reads every TAP line out of `console`; lines that are not TAP are skipped.
    pub fn parse(console: &str) -> TapReport {
        let mut report = TapReport::default();
        let mut in_diagnostics = false;
        for line in lines(console) {
            let trimmed = line.trim();
            if in_diagnostics {
                if trimmed == "..." {
                    in_diagnostics = false;
                } else if let Some(result) = report.results.last_mut() {
                    result.diagnostics.push(trimmed.to_owned());
                }
            } else if trimmed == "---" && !report.results.is_empty() {
                in_diagnostics = true;
            } else if let Some(version) = line.strip_prefix("TAP version ") {
                report.version = version.trim().parse().ok();
            } else if let Some(planned) = line.strip_prefix("1..") {
                report.planned = planned.trim().parse().ok();
            } else if let Some(result) = TapResult::parse(line) {
                report.results.push(result);
            }
        }
        report.totals = Totals::parse(last_line(console));
        report
    }

    /// The result for the test named `name`, if it was reported.
    pub fn result(&self, name: &str) -> Option<&TapResult> {
        self.results.iter().find(|result| result.name == name)
    }

    /// The results that are `not ok`.
    pub fn failures(&self) -> impl Iterator<Item = &TapResult> {
        self.results.iter().filter(|result| !result.passed)
    }
}

/// The last line of `console` that is not blank, without its line ending (`""` if none).
pub fn last_line(console: &str) -> &str {
    lines(console)
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("")
}

/// The lines of `console` without their `\n` or `\r\n` endings.
fn lines(console: &str) -> impl DoubleEndedIterator<Item = &str> {
    console.lines().map(|line| line.trim_end_matches('\r'))
}

/// A decimal count with nothing around it (no sign, no spaces).
fn parse_count(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_echo_drops_timeline_lines_however_the_bytes_are_split() {
        let console = "boot: 2 cores\r\n@trace 0 1 fire\r\n@tracer is not one\n@\n\n\
                       @trace end events=1 dropped=0\ndone\n";
        let expected = "boot: 2 cores\r\n@tracer is not one\n@\n\ndone\n";
        for chunk in [1, 2, 3, 7, console.len()] {
            let mut filter = WithoutTraceLines::new(Vec::new());
            for piece in console.as_bytes().chunks(chunk) {
                filter.write_all(piece).unwrap();
            }
            assert_eq!(String::from_utf8(filter.out).unwrap(), expected, "{chunk}");
        }
    }

    const REPORT: &str = "\
coresched 0.1.0\r
boot: 4 cores online in 1234 us guest time\r
TAP version 14\r
1..3\r
ok 1 - boot::cores_online # cores=4 guest_us=1234\r
[WARN ] a log line in the middle\r
not ok 2 - selftest::expected_fail # cores=4 guest_us=10\r
  ---\r
  message: 'assertion failed: it''s 1 == 2'\r
  at: 'src/testing/selftest.rs:12:5'\r
  ...\r
ok 3 - boot::sgi_every_core\r
2 passed, 1 failed\r
\r
";

    #[test]
    fn finds_the_boot_line() {
        assert_eq!(
            BootLine::find(REPORT),
            Some(BootLine {
                cores: 4,
                guest_us: 1234
            })
        );
        assert_eq!(
            BootLine::parse("[INFO ] boot: 512 cores online in 99 us guest time"),
            Some(BootLine {
                cores: 512,
                guest_us: 99
            })
        );
        assert_eq!(
            BootLine::parse("boot: four cores online in 1 us guest time"),
            None
        );
        assert_eq!(BootLine::find("no boot line here"), None);
        let line = BootLine {
            cores: 8,
            guest_us: 7,
        };
        assert_eq!(BootLine::parse(&line.to_string()), Some(line));
    }

    #[test]
    fn parses_a_tap_report() {
        let report = TapReport::parse(REPORT);
        assert_eq!(report.version, Some(14));
        assert_eq!(report.planned, Some(3));
        assert_eq!(report.results.len(), 3);
        assert_eq!(
            report.totals,
            Some(Totals {
                passed: 2,
                failed: 1
            })
        );

        let cores_online = report.result("boot::cores_online").expect("reported");
        assert!(cores_online.passed);
        assert_eq!(cores_online.number, 1);
        assert_eq!(cores_online.field("cores"), Some("4"));
        assert_eq!(cores_online.field("guest_us"), Some("1234"));
        assert_eq!(cores_online.field("core"), None);
        assert!(cores_online.diagnostics.is_empty());

        let failures: Vec<_> = report
            .failures()
            .map(|result| result.name.as_str())
            .collect();
        assert_eq!(failures, ["selftest::expected_fail"]);
        let failed = report.result("selftest::expected_fail").expect("reported");
        assert_eq!(
            failed.message().as_deref(),
            Some("assertion failed: it's 1 == 2")
        );
        assert_eq!(
            failed.location().as_deref(),
            Some("src/testing/selftest.rs:12:5")
        );
        assert_eq!(failed.diagnostics.len(), 2);

        let sgi = report.result("boot::sgi_every_core").expect("reported");
        assert_eq!(sgi.comment, "");
        assert_eq!(sgi.field("cores"), None);
    }

    #[test]
    fn totals_must_be_the_whole_last_line() {
        assert_eq!(
            Totals::parse("3 passed, 0 failed"),
            Some(Totals {
                passed: 3,
                failed: 0
            })
        );
        assert_eq!(Totals::parse("3 passed, 0 failed."), None);
        assert_eq!(Totals::parse("x: 3 passed, 0 failed"), None);
        assert_eq!(Totals::parse("+3 passed, 0 failed"), None);
        let not_last = "3 passed, 0 failed\npanic on core 1 at src/x.rs:1:1: boom\n";
        assert_eq!(TapReport::parse(not_last).totals, None);
    }

    #[test]
    fn last_line_skips_blank_lines_and_carriage_returns() {
        assert_eq!(last_line(REPORT), "2 passed, 1 failed");
        assert_eq!(last_line(""), "");
        assert_eq!(last_line("one\ntwo"), "two");
    }

    #[test]
    fn an_unquoted_message_is_returned_as_is() {
        let report =
            TapReport::parse("not ok 1 - t\n  ---\n  message: timed out after 500 ms\n  ...\n");
        let result = report.result("t").expect("reported");
        assert_eq!(result.message().as_deref(), Some("timed out after 500 ms"));
    }
}
