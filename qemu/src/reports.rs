//! The report files a boot may be asked for (`--junit FILE`, `--tap FILE`), written once it
//! has run.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{LaunchError, io_error};
use crate::junit::junit_xml;
use crate::machine::Machine;
use crate::outcome::Outcome;
use crate::tap13::tap13;

/// Where to write a boot's test reports; both are optional.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reports {
    /// JUnit XML ([`junit_xml`]).
    pub junit: Option<PathBuf>,
    /// TAP version 13 ([`tap13`]), for `prove`.
    pub tap: Option<PathBuf>,
}

impl Reports {
    /// Writes each report asked for, from `outcome`, a boot of `board` with `bootargs`.
    pub fn write(
        &self,
        board: &Machine,
        bootargs: &str,
        outcome: &Outcome,
    ) -> Result<(), LaunchError> {
        let write = |path: &Path, text: String| {
            fs::write(path, text).map_err(|error| io_error(path, &error))
        };
        if let Some(path) = &self.junit {
            write(path, junit_xml(board, bootargs, outcome))?;
        }
        if let Some(path) = &self.tap {
            write(path, tap13(outcome))?;
        }
        Ok(())
    }
}
