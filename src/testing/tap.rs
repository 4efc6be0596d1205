//! TAP version 14 output, as the host side (and any TAP consumer) reads it.
//!
//! ```text
//! TAP version 14
//! 1..2
//! ok 1 - boot::cores_online # cores=4 guest_us=812
//! not ok 2 - selftest::expected_fail # cores=4 guest_us=3
//!   ---
//!   message: 'check failed: 1 + 1 == 3 (left: 2, right: 3)'
//!   at: 'src/testing/selftest.rs:14:5'
//!   ...
//! 1 passed, 1 failed
//! ```

use core::fmt::{self, Write};

/// The header: version line and plan.
pub fn write_plan(out: &mut impl Write, count: usize) -> fmt::Result {
    write!(out, "TAP version 14\n1..{count}\n")
}

/// How one test ended.
pub enum Outcome<'a> {
    /// It returned `Ok`.
    Passed,
    /// It failed with `message` at `location` (a file:line:column).
    Failed {
        /// What went wrong.
        message: fmt::Arguments<'a>,
        /// Where.
        location: fmt::Arguments<'a>,
    },
}

/// One test point: `ok`/`not ok`, number, name, the cores it used and its guest time, and for a
/// failure a YAML block with the message and location. Quotes in the message are doubled, as
/// YAML single-quoted strings require.
pub fn write_result(
    out: &mut impl Write,
    number: usize,
    name: &str,
    cores: usize,
    guest_us: u64,
    outcome: Outcome,
) -> fmt::Result {
    match outcome {
        Outcome::Passed => writeln!(
            out,
            "ok {number} - {name} # cores={cores} guest_us={guest_us}"
        ),
        Outcome::Failed { message, location } => {
            writeln!(
                out,
                "not ok {number} - {name} # cores={cores} guest_us={guest_us}"
            )?;
            out.write_str("  ---\n  message: '")?;
            write!(SingleQuoted(out), "{message}")?;
            out.write_str("'\n  at: '")?;
            write!(SingleQuoted(out), "{location}")?;
            out.write_str("'\n  ...\n")
        }
    }
}

/// The last line: `<passed> passed, <failed> failed`.
pub fn write_summary(out: &mut impl Write, passed: usize, failed: usize) -> fmt::Result {
    writeln!(out, "{passed} passed, {failed} failed")
}

/// Writes through to `W`, doubling single quotes and turning line breaks into spaces, so any
/// message fits a YAML single-quoted scalar on one line.
struct SingleQuoted<'a, W>(&'a mut W);

impl<W: Write> Write for SingleQuoted<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        for piece in text.split_inclusive(['\'', '\n']) {
            match piece.strip_suffix('\'') {
                Some(head) => {
                    self.0.write_str(head)?;
                    self.0.write_str("''")?;
                }
                None => match piece.strip_suffix('\n') {
                    Some(head) => {
                        self.0.write_str(head)?;
                        self.0.write_char(' ')?;
                    }
                    None => self.0.write_str(piece)?,
                },
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passing_and_a_failing_run_read_as_tap14() {
        let mut out = String::new();
        write_plan(&mut out, 2).unwrap();
        write_result(&mut out, 1, "boot::cores_online", 4, 812, Outcome::Passed).unwrap();
        write_result(
            &mut out,
            2,
            "selftest::expected_fail",
            4,
            3,
            Outcome::Failed {
                message: format_args!("it's\nbroken"),
                location: format_args!("src/x.rs:1:2"),
            },
        )
        .unwrap();
        write_summary(&mut out, 1, 1).unwrap();
        assert_eq!(
            out,
            "TAP version 14\n1..2\n\
             ok 1 - boot::cores_online # cores=4 guest_us=812\n\
             not ok 2 - selftest::expected_fail # cores=4 guest_us=3\n  ---\n  \
             message: 'it''s broken'\n  at: 'src/x.rs:1:2'\n  ...\n\
             1 passed, 1 failed\n"
        );
    }
}
