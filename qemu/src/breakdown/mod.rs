//! `cargo qemu -- --breakdown`: where each benchmark figure's instructions go, measured.
//!
//! The benchmark boots under QEMU with one instruction per translation block and its
//! execution log (`-d exec,nochain`) streamed through a named pipe, never written to disk
//! (`log.rs` reads it). The benchmark marks each figure's timed region (`windows.rs`); every
//! instruction any vCPU runs inside one is counted by address, then attributed to its function
//! in the kernel's symbol table (`symbols.rs`) and printed per operation ([`Breakdown`]), checked
//! against the figure the kernel printed. The control figure must come out as its 2-instruction
//! loop.

mod figure;
mod log;
mod symbols;
mod windows;

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;

pub use figure::{Breakdown, CONTROL_FIGURE};
use symbols::Symbols;

use crate::boot::Boot;
use crate::error::LaunchError;
use crate::gdb;
use crate::host::{make_fifo, open_fifo_writer_now};
use crate::linux::coresched_figures;
use crate::outcome::Outcome;
use crate::qemu::find_qemu;
use windows::{Markers, Window, WindowFinder};

/// How much longer than a plain boot a boot may take with one instruction per block and the
/// log: the default time-out is multiplied by this.
pub const SLOWDOWN: u32 = 10;

/// The read buffer for the log, which arrives at hundreds of megabytes a second.
const LOG_BUFFER: usize = 1 << 20;

/// What a `--breakdown` boot gave.
#[derive(Debug)]
pub struct BreakdownRun {
    /// The boot itself.
    pub outcome: Outcome,
    /// Each marked figure's breakdown, in the order the kernel measured them; `Err` says why
    /// the log and the figures do not agree (the control not being its loop among them).
    pub breakdowns: Result<Vec<Breakdown>, String>,
}

/// Boots `boot` (a benchmark boot) with the execution log, and breaks every marked figure
/// down. `Err` if it could not boot, or the kernel has no ELF or no window markers.
pub fn run(boot: &Boot) -> Result<BreakdownRun, LaunchError> {
    let qemu = find_qemu()?;
    let one_instruction_per_block = one_instruction_per_block_args(&qemu_version(&qemu)?);
    let (image, elf) = boot.kernel_files()?;
    let elf = elf.ok_or_else(|| {
        LaunchError::Tool("--breakdown needs the kernel's ELF for its symbols".to_owned())
    })?;
    let symbols = Symbols::read(&elf).map_err(LaunchError::Tool)?;
    let load_address = gdb::load_address(&image, boot.board().model.ram_base())?;
    let markers = markers(&symbols, load_address).map_err(LaunchError::Tool)?;

    let fifo = fifo_path();
    let _ = std::fs::remove_file(&fifo);
    make_fifo(&fifo).map_err(|error| {
        LaunchError::Tool(format!("cannot make the FIFO {}: {error}", fifo.display()))
    })?;
    let reader = {
        let fifo = fifo.clone();
        thread::spawn(move || find_windows(&fifo, markers))
    };
    let mut log_args = one_instruction_per_block;
    log_args.extend([
        "-d".into(),
        "exec,nochain".into(),
        "-D".into(),
        fifo.clone().into(),
    ]);
    let outcome = boot.clone().extra_qemu_args(log_args).run();
    if !reader.is_finished() {
        // QEMU may never have opened the log (it did not start): a writer that opens and
        // closes at once gives the reader its end of file.
        drop(open_fifo_writer_now(&fifo));
    }
    let windows = reader.join().expect("the log reader does not panic");
    let _ = std::fs::remove_file(&fifo);
    let outcome = outcome?;
    let breakdowns =
        windows.and_then(|windows| breakdowns(&outcome.console, &windows, &symbols, load_address));
    Ok(BreakdownRun {
        outcome,
        breakdowns,
    })
}

/// The markers' and clock reads' guest addresses, the kernel loaded at `load_address`.
fn markers(symbols: &Symbols, load_address: u64) -> Result<Markers, String> {
    Ok(Markers {
        open: load_address + symbols.entry_of(symbols::WINDOW_OPEN)?,
        close: load_address + symbols.entry_of(symbols::WINDOW_CLOSE)?,
        counter_reads: symbols
            .counter_reads()
            .into_iter()
            .map(|address| load_address + address)
            .collect::<HashSet<_>>(),
    })
}

/// Reads the log from `fifo` to its end and returns the windows in it.
fn find_windows(fifo: &Path, markers: Markers) -> Result<Vec<Window>, String> {
    let log = File::open(fifo)
        .map_err(|error| format!("cannot open the log FIFO {}: {error}", fifo.display()))?;
    let mut finder = WindowFinder::new(markers);
    log::for_each_step(BufReader::with_capacity(LOG_BUFFER, log), |step| {
        finder.step(step);
    })
    .map_err(|error| format!("cannot read the execution log: {error}"))?;
    finder.finish()
}

/// The breakdowns of `windows`, paired in order with the kernel's `bench window <name>
/// operations=<n>` lines and checked against its figures.
fn breakdowns(
    console: &str,
    windows: &[Window],
    symbols: &Symbols,
    load_address: u64,
) -> Result<Vec<Breakdown>, String> {
    if let Some(printed) = printed_load_address(console)
        && printed != load_address
    {
        return Err(format!(
            "the kernel says its image is at {printed:#x}, not at {load_address:#x} as its header says"
        ));
    }
    let lines = window_lines(console);
    if lines.len() != windows.len() {
        return Err(format!(
            "the kernel printed {} windows but the log holds {}",
            lines.len(),
            windows.len()
        ));
    }
    let figures = coresched_figures(console);
    let mut control_seen = false;
    let breakdowns = lines
        .iter()
        .zip(windows)
        .map(|((name, operations), window)| {
            let figure = figures
                .iter()
                .find(|figure| figure.name == *name)
                .and_then(|figure| figure.instructions)
                .ok_or_else(|| format!("the kernel printed no figure {name}"))?;
            if name == CONTROL_FIGURE {
                Breakdown::check_control(window, *operations, symbols, load_address)?;
                control_seen = true;
            }
            Breakdown::new(name, figure, *operations, window, symbols, load_address)
        })
        .collect::<Result<Vec<_>, String>>()?;
    if !control_seen {
        return Err(format!("the kernel measured no {CONTROL_FIGURE} window"));
    }
    Ok(breakdowns)
}

/// Every `bench window <name> operations=<n>` line: the name and the count, in order.
fn window_lines(console: &str) -> Vec<(String, u64)> {
    console
        .lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("bench window ")?;
            let (name, operations) = rest.split_once(" operations=")?;
            Some((name.to_owned(), operations.trim().parse().ok()?))
        })
        .collect()
}

/// The load address in the kernel's `... image at 0x<address>` boot line, if it printed one.
fn printed_load_address(console: &str) -> Option<u64> {
    let (_, rest) = console.split_once("image at 0x")?;
    let digits = rest
        .find(|c: char| !c.is_ascii_hexdigit())
        .map_or(rest, |end| &rest[..end]);
    u64::from_str_radix(digits, 16).ok()
}

/// QEMU's `major.minor` version, from `qemu --version`.
fn qemu_version(qemu: &Path) -> Result<(u32, u32), LaunchError> {
    let output = Command::new(qemu)
        .arg("--version")
        .output()
        .map_err(|error| {
            LaunchError::Tool(format!(
                "could not run `{} --version`: {error}",
                qemu.display()
            ))
        })?;
    let text = String::from_utf8_lossy(&output.stdout);
    parse_version(&text).ok_or_else(|| {
        LaunchError::Tool(format!("cannot read QEMU's version from {:?}", text.trim()))
    })
}

/// `major.minor` from a `... version X.Y.Z ...` line.
fn parse_version(text: &str) -> Option<(u32, u32)> {
    let (_, rest) = text.split_once("version ")?;
    let mut numbers = rest.split(|c: char| !c.is_ascii_digit());
    Some((numbers.next()?.parse().ok()?, numbers.next()?.parse().ok()?))
}

/// The QEMU arguments for one instruction per translation block: `-singlestep` before 8.1,
/// which renamed it to the TCG accelerator's `one-insn-per-tb`.
fn one_instruction_per_block_args(&(major, minor): &(u32, u32)) -> Vec<OsString> {
    let args: &[&str] = if (major, minor) >= (8, 1) {
        &["-accel", "tcg,one-insn-per-tb=on"]
    } else {
        &["-singlestep"]
    };
    args.iter().map(OsString::from).collect()
}

/// Where this process's log FIFO goes.
fn fifo_path() -> PathBuf {
    std::env::temp_dir().join(format!("coresched-exec-{}.fifo", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::log::{Step, for_each_step};
    use super::windows::tests::{CLOSE, OPEN, READ, markers};
    use super::*;

    /// `subs x8, x8, #1`, `b.ne` back to it, and `ret`.
    const LOOP: [u32; 3] = [0xf100_0508, 0x54ff_ffe1, 0xd65f_03c0];
    const LOAD: u64 = 0;

    /// A control at 0x1000 (its loop), a `switch` at 0x2000 and the markers and clock read of
    /// the synthetic windows.
    fn symbols() -> Symbols {
        symbols_with(LOOP)
    }

    fn symbols_with(code: [u32; 3]) -> Symbols {
        let code = code.iter().flat_map(|word| word.to_le_bytes()).collect();
        Symbols::new(
            vec![
                ("open".into(), OPEN, 4),
                ("close".into(), CLOSE, 4),
                ("clock".into(), READ, 4),
                ("control".into(), 0x1000, 12),
                ("switch".into(), 0x2000, 0x100),
            ],
            vec![(0x1000, code)],
        )
    }

    /// A log of two windows on vCPU 1: the control's 3 turns, then 2 switches of 4
    /// instructions each, half of them on vCPU 2.
    fn log() -> String {
        let mut steps = vec![(1, OPEN), (1, READ)];
        for _ in 0..3 {
            steps.extend([(1, 0x1000), (1, 0x1004)]);
        }
        steps.extend([(1, READ), (1, CLOSE), (1, OPEN), (1, READ)]);
        for _ in 0..2 {
            steps.extend([(1, 0x2000), (2, 0x2004), (2, 0x2008), (1, 0x200c)]);
        }
        steps.extend([(1, READ), (1, CLOSE)]);
        steps
            .iter()
            .map(|(cpu, pc)| format!("Trace {cpu}: 0x7f00 [0/{pc:016x}/0/0] \n"))
            .collect()
    }

    fn windows(log: &str) -> Vec<Window> {
        let mut finder = WindowFinder::new(markers());
        for_each_step(log.as_bytes(), |step: Step| finder.step(step)).expect("in memory");
        finder.finish().expect("well formed")
    }

    const CONSOLE: &str = "core 0 INFO coresched: 4 cores, image at 0x0\n\
        bench window control_loop operations=3\n\
        bench window yield_switch operations=2\n\
        bench control_loop coresched=2 linux=- unit=instructions\n\
        bench yield_switch coresched=4 linux=- unit=instructions\n";

    #[test]
    fn a_log_and_a_console_give_each_figure_its_functions() {
        let breakdowns =
            breakdowns(CONSOLE, &windows(&log()), &symbols(), LOAD).expect("they agree");
        let summary: Vec<_> = breakdowns
            .iter()
            .map(|breakdown| (breakdown.name.as_str(), breakdown.functions.clone()))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "control_loop",
                    vec![("control".to_owned(), 6), ("clock".to_owned(), 1)]
                ),
                (
                    "yield_switch",
                    vec![("switch".to_owned(), 8), ("clock".to_owned(), 1)]
                ),
            ]
        );
    }

    #[test]
    fn a_wrong_attribution_or_a_control_that_is_not_its_loop_is_refused() {
        let windows = windows(&log());
        // The same log read against code where the loop is not a loop.
        let broken_loop = symbols_with([LOOP[0], LOOP[0], LOOP[2]]);
        let error = breakdowns(CONSOLE, &windows, &broken_loop, LOAD).expect_err("no loop");
        assert!(error.contains("not its 2-instruction loop"), "{error}");
        // Figures the windows do not add up to.
        let inflated = CONSOLE.replace("yield_switch coresched=4", "yield_switch coresched=40");
        let error = breakdowns(&inflated, &windows, &symbols(), LOAD).expect_err("a tenth");
        assert!(error.contains("yield_switch"), "{error}");
        // A load address other than the one the kernel printed.
        let error = breakdowns(CONSOLE, &windows, &symbols(), 0x4008_0000).expect_err("moved");
        assert!(error.contains("image is at 0x0"), "{error}");
        // A window the kernel did not print.
        let error = breakdowns(CONSOLE, &windows[..1], &symbols(), LOAD).expect_err("count");
        assert!(error.contains("2 windows but the log holds 1"), "{error}");
        // No control.
        let no_control = CONSOLE.replace("window control_loop", "window control_gone");
        assert!(breakdowns(&no_control, &windows, &symbols(), LOAD).is_err());
    }

    #[test]
    fn window_lines_and_the_load_address_are_read_from_the_console() {
        assert_eq!(
            window_lines(CONSOLE),
            [
                ("control_loop".to_owned(), 3),
                ("yield_switch".to_owned(), 2)
            ]
        );
        assert_eq!(
            printed_load_address("x, image at 0x40080000\n"),
            Some(0x4008_0000)
        );
        assert_eq!(printed_load_address("no such line"), None);
    }

    #[test]
    fn qemu_before_8_1_single_steps_and_later_ones_use_the_accelerator_property() {
        assert_eq!(
            parse_version("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7)\nCopyright"),
            Some((7, 2))
        );
        assert_eq!(parse_version("QEMU emulator version 10.0.0"), Some((10, 0)));
        assert_eq!(parse_version("something else"), None);
        assert_eq!(one_instruction_per_block_args(&(7, 2)), ["-singlestep"]);
        assert_eq!(one_instruction_per_block_args(&(8, 0)), ["-singlestep"]);
        assert_eq!(
            one_instruction_per_block_args(&(8, 1)),
            ["-accel", "tcg,one-insn-per-tb=on"]
        );
        assert_eq!(
            one_instruction_per_block_args(&(9, 2)),
            ["-accel", "tcg,one-insn-per-tb=on"]
        );
    }
}
