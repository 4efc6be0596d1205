//! A boot's TAP report rewritten as TAP version 13, which Debian's `prove` (3.44) reads: it
//! refuses the kernel's `TAP version 14` header ("we don't know about versions later than 13").
//!
//! Only TAP lines are kept (header, plan, results with their YAML blocks); log lines and the
//! kernel's closing tally are left out. A run that ended without its closing tally (a panic
//! outside a test, a time-out, a signal) ends in `Bail out!`, which `prove` counts as a failure.

use std::fmt::Write as _;

use crate::outcome::Outcome;

/// The TAP 13 text of `outcome`'s report.
pub fn tap13(outcome: &Outcome) -> String {
    let report = outcome.tap();
    let mut text = String::from("TAP version 13\n");
    let planned = report
        .planned
        .unwrap_or_else(|| u32::try_from(report.results.len()).unwrap_or(u32::MAX));
    let _ = writeln!(text, "1..{planned}");
    for result in &report.results {
        let verdict = if result.passed { "ok" } else { "not ok" };
        let _ = write!(text, "{verdict} {} - {}", result.number, result.name);
        if !result.comment.is_empty() {
            let _ = write!(text, " # {}", result.comment);
        }
        text.push('\n');
        if !result.diagnostics.is_empty() {
            text.push_str("  ---\n");
            for line in &result.diagnostics {
                let _ = writeln!(text, "  {line}");
            }
            text.push_str("  ...\n");
        }
    }
    if report.totals.is_none() {
        let _ = writeln!(
            text,
            "Bail out! the run ended without its closing tally: {}",
            outcome.ending()
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn outcome(console: &str, code: i32) -> Outcome {
        Outcome::finished(console, code, Duration::ZERO)
    }

    #[test]
    fn a_report_becomes_tap_13_without_the_log_lines() {
        let console = "\
boot: 4 cores online in 1234 us guest time\r
TAP version 14\r
1..2\r
ok 1 - boot::cores_online # cores=4 guest_us=1234\r
[WARN ] a log line in the middle\r
not ok 2 - selftest::expected_fail # cores=4 guest_us=10\r
  ---\r
  message: 'check failed: 1 + 1 == 3'\r
  at: 'src/testing/selftest.rs:13:5'\r
  ...\r
# monitor: 1 passes\r
1 passed, 1 failed\r
";
        assert_eq!(
            tap13(&outcome(console, 1)),
            "\
TAP version 13
1..2
ok 1 - boot::cores_online # cores=4 guest_us=1234
not ok 2 - selftest::expected_fail # cores=4 guest_us=10
  ---
  message: 'check failed: 1 + 1 == 3'
  at: 'src/testing/selftest.rs:13:5'
  ...
"
        );
    }

    #[test]
    fn a_run_that_ended_early_bails_out() {
        let console = "TAP version 14\n1..3\nok 1 - boot::cores_online\npanic on core 1\n";
        assert_eq!(
            tap13(&outcome(console, 3)),
            "TAP version 13\n1..3\nok 1 - boot::cores_online\n\
             Bail out! the run ended without its closing tally: exit status 3\n"
        );
    }
}
