//! A boot's TAP report as JUnit XML, the format CI systems (GitLab, Jenkins, GitHub's test
//! reporters) read, written with the `quick-junit` crate.
//!
//! One `<testsuite>` per boot, named after the board, with the bootargs as a property and the
//! console as its `system-out`. One `<testcase>` per kernel test: its name, its area (`sched`)
//! as the class, its guest time as the time (and, to the microsecond, as the
//! `guest_us` property), its cores as a property, and for a failure the
//! message and the source location. A run that ended without its closing tally (a panic outside
//! a test, a time-out) adds a failed `coresched::run` case that says how it ended.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::console::TapResult;
use crate::machine::Machine;
use crate::outcome::Outcome;

/// The JUnit XML for `outcome`, a boot of `board` with `bootargs`.
pub fn junit_xml(board: &Machine, bootargs: &str, outcome: &Outcome) -> String {
    let tap = outcome.tap();
    let mut suite = TestSuite::new(format!("coresched {board}"));
    suite.add_property(Property::new("bootargs", bootargs));
    suite.set_time(outcome.wall);
    suite.add_test_cases(tap.results.iter().map(test_case));
    if tap.totals.is_none() {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status.set_message(format!(
            "the run ended without its closing tally: {}",
            outcome.ending()
        ));
        suite.add_test_case(TestCase::new("coresched::run", status));
    }
    suite.set_system_out_lossy(outcome.console.as_bytes());
    let mut report = Report::new("coresched");
    report.add_test_suite(suite);
    report
        .to_string()
        .expect("a report built from strings serializes")
}

/// One kernel test's `<testcase>`.
fn test_case(result: &TapResult) -> TestCase {
    let status = if result.passed {
        TestCaseStatus::success()
    } else {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status.set_type("kernel test failure");
        status.set_message(result.message().unwrap_or_default());
        status.set_description(result.diagnostics.join("\n"));
        status
    };
    let mut case = TestCase::new(result.name.as_str(), status);
    if let Some((area, _)) = result.name.split_once("::") {
        case.set_classname(area);
    }
    if let Some(guest_us) = result.field("guest_us") {
        // JUnit's time has millisecond precision; the property keeps the microseconds.
        case.add_property(Property::new("guest_us", guest_us));
        if let Ok(micros) = guest_us.parse() {
            case.set_time(Duration::from_micros(micros));
        }
    }
    if let Some(cores) = result.field("cores") {
        case.add_property(Property::new("cores", cores));
    }
    if let Some(at) = result.location() {
        case.add_property(Property::new("at", at));
    }
    case
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(console: &str, code: i32) -> Outcome {
        Outcome::finished(console, code, Duration::from_millis(1500))
    }

    #[test]
    fn each_kernel_test_is_a_test_case_and_a_failure_carries_its_message() {
        let console = "TAP version 14\n1..2\n\
            ok 1 - boot::cores_online # cores=4 guest_us=1500\n\
            not ok 2 - selftest::expected_fail # cores=2 guest_us=10\n  ---\n  \
            message: 'check failed: 1 + 1 == 3'\n  at: 'src/testing/selftest.rs:13:5'\n  ...\n\
            1 passed, 1 failed\n";
        let xml = junit_xml(&Machine::default(), "test=all", &outcome(console, 1));
        for expected in [
            "<testsuite name=\"coresched smp=4 gic=3 cpu=cortex-a72 el=1 mem=1024M\" tests=\"2\" \
             skipped=\"0\" errors=\"0\" failures=\"1\" time=\"1.500\">",
            "<property name=\"bootargs\" value=\"test=all\"/>",
            "<testcase name=\"boot::cores_online\" classname=\"boot\" time=\"0.002\">",
            "<property name=\"cores\" value=\"4\"/>",
            "<testcase name=\"selftest::expected_fail\" classname=\"selftest\" time=\"0.000\">",
            "<property name=\"at\" value=\"src/testing/selftest.rs:13:5\"/>",
            "<failure message=\"check failed: 1 + 1 == 3\" type=\"kernel test failure\">",
        ] {
            assert!(xml.contains(expected), "{expected} missing from {xml}");
        }
        assert!(!xml.contains("coresched::run"), "{xml}");
    }

    #[test]
    fn a_run_that_ended_early_adds_a_failed_run_case() {
        let console = "TAP version 14\n1..3\nok 1 - boot::cores_online\n";
        let xml = junit_xml(&Machine::default(), "test=all", &outcome(console, 3));
        assert!(
            xml.contains(
                "<testcase name=\"coresched::run\">\n            <failure \
                 message=\"the run ended without its closing tally: exit status 3\"/>"
            ),
            "{xml}"
        );
    }
}
