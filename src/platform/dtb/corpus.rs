//! Measures [`discover`] against a directory of real board DTBs (Debian's kernel package
//! ships 577; `scripts/fetch-dtb-corpus.sh` puts them in `target/dtb-corpus/`) and prints how
//! many end in each outcome: accepted (by console kind) or refused (by reason). Ignored by
//! default, since the corpus is not committed:
//!
//! ```sh
//! scripts/fetch-dtb-corpus.sh
//! cargo test -p coresched --lib platform::dtb::corpus -- --ignored --nocapture
//! ```
//!
//! `CORESCHED_DTB_CORPUS=<dir>` measures another directory (searched recursively for `*.dtb`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::string::{String, ToString};
use std::vec::Vec;

use super::fdt::Fdt;
use super::{DtbError, Platform, discover, reserved};

/// Where the corpus is read from unless `CORESCHED_DTB_CORPUS` says otherwise.
const DEFAULT_CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/target/dtb-corpus");

/// Every `*.dtb` under `dir`, sorted.
fn dtb_files(dir: &Path) -> Vec<PathBuf> {
    let mut pending = vec![dir.to_path_buf()];
    let mut files = Vec::new();
    while let Some(dir) = pending.pop() {
        let entries =
            std::fs::read_dir(&dir).unwrap_or_else(|error| panic!("{}: {error}", dir.display()));
        for entry in entries {
            let path = entry.expect("a readable directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|extension| extension == "dtb") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The refusal reason: the message with its numbers replaced by `N`, so that, say, every
/// CPU node index or byte offset counts as one reason. Digits inside a word (`pl011`) stay.
pub(super) fn reason(error: &DtbError) -> String {
    let mut reason = String::new();
    let mut previous = ' ';
    let mut in_number = false;
    for next in error.to_string().chars() {
        in_number = if in_number {
            next.is_ascii_hexdigit() || next == 'x'
        } else {
            next.is_ascii_digit() && !previous.is_ascii_alphanumeric()
        };
        if !in_number {
            reason.push(next);
        } else if !previous.is_ascii_alphanumeric() {
            reason.push('N');
        }
        previous = next;
    }
    reason
}

/// The outcome of an accepted DTB: which console it names.
fn accepted(platform: &Platform<'_>) -> String {
    match &platform.console {
        None => "accepted, no console named".to_string(),
        Some(uart) if uart.is_pl011() => "accepted, PL011 console".to_string(),
        Some(uart) => format!(
            "accepted, console {} unsupported",
            uart.compatible.first().unwrap_or("(none)")
        ),
    }
}

#[test]
#[ignore = "needs the DTB corpus: scripts/fetch-dtb-corpus.sh"]
fn corpus() {
    let dir = std::env::var("CORESCHED_DTB_CORPUS").unwrap_or_else(|_| DEFAULT_CORPUS.into());
    let files = dtb_files(Path::new(&dir));
    assert!(!files.is_empty(), "no *.dtb under {dir}");
    let mut outcomes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut skipped_cpus = 0;
    let mut structurally_valid = 0;
    let mut most_reserved = (0, String::new());
    for file in &files {
        let blob = std::fs::read(file).expect("a readable DTB");
        let name = file
            .strip_prefix(&dir)
            .unwrap_or(file)
            .display()
            .to_string();
        if let Ok(fdt) = Fdt::new(&blob) {
            structurally_valid += 1;
            let count = reserved(&fdt).map_or(0, |regions| regions.len());
            if count > most_reserved.0 {
                most_reserved = (count, name.clone());
            }
        }
        let outcome = match discover(&blob) {
            Ok(platform) => {
                skipped_cpus += platform.skipped_cpus.len();
                accepted(&platform)
            }
            Err(error) => format!("refused: {}", reason(&error)),
        };
        let name = file
            .strip_prefix(&dir)
            .unwrap_or(file)
            .display()
            .to_string();
        outcomes.entry(outcome).or_default().push(name);
    }
    let mut rows: Vec<_> = outcomes.iter().collect();
    rows.sort_by_key(|(outcome, names)| {
        (!outcome.starts_with("accepted"), usize::MAX - names.len())
    });
    println!("{} DTBs under {dir}", files.len());
    println!("| outcome | DTBs | e.g. |");
    println!("| --- | ---: | --- |");
    for (outcome, names) in rows {
        println!("| {outcome} | {} | {} |", names.len(), names[0]);
        if outcome.starts_with("refused") && names.len() < 10 {
            println!("    {names:?}");
        }
    }
    println!("structurally valid (fdt::Fdt::new): {structurally_valid}");
    println!(
        "most reserved regions: {} ({})",
        most_reserved.0, most_reserved.1
    );
    println!("CPUs skipped for an unknown enable-method: {skipped_cpus}");
}
