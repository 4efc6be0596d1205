//! The report files a boot may be asked for (`--junit FILE`, `--tap FILE`, `--trace FILE`,
//! `--trace-png FILE`), written once it has run.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{LaunchError, io_error};
use crate::junit::junit_xml;
use crate::machine::Machine;
use crate::outcome::Outcome;
use crate::tap13::tap13;
use crate::trace::{Dump, Timeline, chrome_trace, timeline_png};

/// Where to write a boot's test reports; both are optional.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reports {
    /// JUnit XML ([`junit_xml`]).
    pub junit: Option<PathBuf>,
    /// TAP version 13 ([`tap13`]), for `prove`.
    pub tap: Option<PathBuf>,
    /// The scheduler timeline as Chrome trace JSON ([`chrome_trace`]), for Perfetto.
    pub trace: Option<PathBuf>,
    /// The scheduler timeline as a PNG picture ([`timeline_png`]).
    pub trace_png: Option<PathBuf>,
}

impl Reports {
    /// Whether a timeline is asked for, so the boot must record one.
    pub fn wants_trace(&self) -> bool {
        self.trace.is_some() || self.trace_png.is_some()
    }

    /// Writes each report asked for, from `outcome`, a boot of `board` with `bootargs`. A
    /// timeline asked for and missing from the console (or cut short) is an error saying so.
    pub fn write(
        &self,
        board: &Machine,
        bootargs: &str,
        outcome: &Outcome,
    ) -> Result<(), LaunchError> {
        let write = |path: &Path, bytes: Vec<u8>| {
            fs::write(path, bytes).map_err(|error| io_error(path, &error))
        };
        if let Some(path) = &self.junit {
            write(path, junit_xml(board, bootargs, outcome).into_bytes())?;
        }
        if let Some(path) = &self.tap {
            write(path, tap13(outcome).into_bytes())?;
        }
        if self.wants_trace() {
            let dump = Dump::parse(&outcome.console).map_err(LaunchError::Tool)?;
            let timeline = Timeline::new(&dump);
            if let Some(path) = &self.trace {
                write(
                    path,
                    chrome_trace(&dump, &timeline).to_string().into_bytes(),
                )?;
            }
            if let Some(path) = &self.trace_png {
                write(path, timeline_png(&timeline).map_err(LaunchError::Tool)?)?;
            }
            eprintln!(
                "coresched-qemu: timeline: {} events from {} cores, {} dropped (rings full), {} wake-up flows",
                dump.records.len(),
                dump.cores,
                dump.dropped,
                timeline.flows.len()
            );
        }
        Ok(())
    }
}
