//! What coresched would do on a board, read from the board's DTB with the kernel's own
//! discovery code: [`check`] runs `coresched::platform::dtb::discover` (adding RAM where the
//! DTB has no `/memory`, as a bootloader does), parses the bootargs and picks the console with
//! the kernel's own `Platform::choose_console` (stdout-path, `earlycon=`, a `serialN` alias, the
//! first UART with a driver, else none).
//! [`dtb_files`] finds the DTBs under a directory and [`Tally`] counts outcomes, for measuring
//! a whole corpus.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use coresched::platform::bootargs;
use coresched::platform::dtb::{
    self, ConsoleRule, Cpu, EnableMethod, Gic, PhysRegion, Platform, PsciConduit, Uart,
};

/// The RAM a check assumes when the DTB has no non-empty `/memory` (a bootloader adds one):
/// 1 GiB at 1 GiB, clear of the low device space most boards use.
const ASSUMED_RAM: (u64, u64) = (0x4000_0000, 0x4000_0000);

/// What coresched would do with one DTB: the one-line verdict and, for `-v`, the details.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The verdict: `ok ...` or `refused: ...`.
    pub verdict: Verdict,
    /// One line per CPU, region, console choice and skipped part (empty when refused).
    pub details: Vec<String>,
}

/// The one-line verdict on a DTB; `Display` gives the text after `<file>: `.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// coresched would boot there.
    Ok {
        /// How many cores would run: the boot CPU (taken to be the first in `/cpus`, as on
        /// most boards) and every other CPU the kernel can start.
        cores: usize,
        /// How many available CPUs `/cpus` lists.
        listed: usize,
        /// How the other cores are started: `psci/hvc`, `psci/smc`, `spin-table`, `mixed`, or
        /// `boot core only`.
        started: &'static str,
        /// Why the CPUs that stay off do (each reason once), if any do.
        left_off: Option<String>,
        /// `GICv2` or `GICv3`.
        gic: &'static str,
        /// The console: the stdout UART's first compatible, `earlycon=...`, or `None`.
        console: Option<String>,
        /// The console driver family (`pl011`, `8250`, ...), if there is a console.
        family: Option<&'static str>,
        /// The RAM, e.g. `2 GiB in 1 region`, or that the DTB has none.
        memory: String,
        /// Why there is no console, if there is none.
        no_console: Option<String>,
    },
    /// coresched would stop there, with this message.
    Refused {
        /// The kernel's message.
        message: String,
        /// The message with its numbers written as `N`, for counting refusals by kind.
        reason: String,
    },
}

impl Verdict {
    /// Whether coresched would boot there.
    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Ok { .. })
    }

    /// The row of a [`Tally`] this verdict counts in.
    fn outcome(&self) -> String {
        match self {
            Self::Ok {
                family,
                no_console,
                left_off,
                ..
            } => {
                let console = match family {
                    Some(family) => format!("ok, console ({family} driver)"),
                    None => format!(
                        "ok, no console: {}",
                        no_console.as_deref().unwrap_or("none named")
                    ),
                };
                match left_off {
                    Some(why) => format!("{console}, cores left off: {why}"),
                    None => console,
                }
            }
            Self::Refused { reason, .. } => format!("refused: {reason}"),
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ok {
                cores,
                listed,
                started,
                left_off,
                gic,
                console,
                memory,
                ..
            } => {
                let count = if cores == listed {
                    plural(*cores, "core")
                } else {
                    format!("{cores} of {}", plural(*listed, "core"))
                };
                let how = match left_off {
                    Some(why) => format!("{started}; {} left off: {why}", listed - cores),
                    None => started.to_string(),
                };
                write!(
                    f,
                    "ok {count} ({how}), {gic}, console={}, {memory}",
                    console.as_deref().unwrap_or("none")
                )
            }
            Self::Refused { message, .. } => write!(f, "refused: {message}"),
        }
    }
}

/// Checks one DTB as the kernel would read it at boot.
pub fn check(blob: &[u8]) -> Report {
    let assumed = PhysRegion::new(ASSUMED_RAM.0, ASSUMED_RAM.1).expect("a region below 2^64");
    let has_memory = !matches!(dtb::discover(blob), Err(dtb::DtbError::MissingNode(node)) if node == "non-empty /memory");
    let platform = match dtb::discover_assuming_memory(blob, assumed) {
        Ok(platform) => platform,
        Err(error) => return refused(error.to_string(), error.reason().to_string()),
    };
    let args = match bootargs::parse(platform.bootargs) {
        Ok(args) => args,
        Err(error) => {
            let message = error.to_string();
            return refused(message.clone(), message);
        }
    };
    let mut details = Vec::new();
    for cpu in &platform.cpus {
        details.push(match platform.cannot_start(cpu) {
            Some(why) => format!(
                "cpu {:#x}: left off unless it is the boot CPU: {why}",
                cpu.mpidr
            ),
            None => cpu_line(cpu, platform.psci),
        });
    }
    for cpu in &platform.skipped_cpus {
        details.push(format!(
            "cpu {:#x}: skipped, unknown enable-method {:?}",
            cpu.mpidr, cpu.enable_method
        ));
    }
    details.push(gic_line(&platform.gic));
    let memory = if has_memory {
        for region in &platform.memory {
            details.push(format!("memory {}", region_text(region)));
        }
        format!(
            "{} in {}",
            size_text(platform.memory.iter().map(PhysRegion::size).sum()),
            plural(platform.memory.len(), "region")
        )
    } else {
        details.push(format!(
            "memory: none in the DTB; checked with {} added, as a bootloader would",
            region_text(&assumed)
        ));
        "memory=none in the DTB (a bootloader adds it)".to_string()
    };
    for region in &platform.reserved {
        details.push(format!("reserved {}", region_text(region)));
    }
    if let Some(problem) = platform.stdout_problem() {
        details.push(format!("console: {problem}"));
    }
    let choice = platform.choose_console(args.earlycon);
    let (console, family, no_console) = match choice {
        Some(choice) => {
            if let Some(uart) = choice.uart() {
                details.push(format!("console UART: {}", uart_text(uart)));
            }
            details.push(format!("console: {choice}"));
            let name = match choice.rule {
                ConsoleRule::Earlycon => platform
                    .bootargs
                    .split_ascii_whitespace()
                    .find(|word| word.starts_with("earlycon="))
                    .unwrap_or("earlycon="),
                _ => choice.uart().map_or("", Uart::first_compatible),
            };
            (Some(name.to_string()), Some(choice.config.family()), None)
        }
        None => {
            details.push("console: none (no UART with a driver)".to_string());
            let why = platform
                .stdout_problem()
                .map_or("none named".to_string(), |problem| problem.to_string());
            (None, None, Some(why))
        }
    };
    if !platform.bootargs.is_empty() {
        details.push(format!("bootargs: {:?}", platform.bootargs));
    }
    let (cores, left_off) = cores(&platform);
    Report {
        verdict: Verdict::Ok {
            cores,
            listed: platform.cpus.len() + platform.skipped_cpus.len(),
            started: started(&platform),
            left_off,
            gic: match platform.gic {
                Gic::V2 { .. } => "GICv2",
                Gic::V3 { .. } => "GICv3",
                Gic::Bcm2836Local { .. } => "BCM2836 per-core controller",
            },
            console,
            family,
            memory,
            no_console,
        },
        details,
    }
}

/// A refusal, with no details.
fn refused(message: String, reason: String) -> Report {
    Report {
        verdict: Verdict::Refused { message, reason },
        details: Vec::new(),
    }
}

/// How many cores would run (the boot CPU, taken to be the first in `/cpus`, and every other
/// CPU the kernel can start), and why the others stay off, each reason once.
fn cores(platform: &Platform<'_>) -> (usize, Option<String>) {
    let mut reasons: Vec<String> = Vec::new();
    let mut note = |reason: String| {
        if !reasons.contains(&reason) {
            reasons.push(reason);
        }
    };
    let mut running = 1;
    for cpu in platform.cpus.iter().skip(1) {
        match platform.cannot_start(cpu) {
            Some(why) => note(why.to_string()),
            None => running += 1,
        }
    }
    for cpu in &platform.skipped_cpus {
        note(format!("unknown enable-method {:?}", cpu.enable_method));
    }
    (running, (!reasons.is_empty()).then(|| reasons.join(", ")))
}

/// How the cores other than the boot CPU are started: by PSCI (with its conduit), spin tables,
/// both, or not at all (none can be started: only the boot CPU runs).
fn started(platform: &Platform<'_>) -> &'static str {
    let uses = |wanted: fn(&EnableMethod) -> bool| {
        platform
            .cpus
            .iter()
            .skip(1)
            .any(|cpu| platform.cannot_start(cpu).is_none() && wanted(&cpu.enable_method))
    };
    let psci = uses(|method| *method == EnableMethod::Psci);
    let spin_table = uses(|method| matches!(method, EnableMethod::SpinTable { .. }));
    match (psci, spin_table, platform.psci) {
        (true, true, _) => "mixed",
        (true, false, Some(PsciConduit::Smc)) => "psci/smc",
        (true, false, _) => "psci/hvc",
        (false, true, _) => "spin-table",
        (false, false, _) => "boot core only",
    }
}

/// One CPU's MPIDR and how it is started (a CPU the kernel can start).
fn cpu_line(cpu: &Cpu, psci: Option<PsciConduit>) -> String {
    let method = match (cpu.enable_method, psci) {
        (EnableMethod::Psci, Some(PsciConduit::Smc)) => "psci over smc".into(),
        (EnableMethod::Psci, _) => "psci over hvc".into(),
        (EnableMethod::SpinTable { release_addr }, _) => {
            format!("spin-table, release address {release_addr:#x}")
        }
        (EnableMethod::Missing, _) => "no enable-method".into(),
    };
    format!("cpu {:#x}: {method}", cpu.mpidr)
}

/// The interrupt controller: a GIC's version and frames, or the BCM2836's registers.
fn gic_line(gic: &Gic) -> String {
    match gic {
        Gic::Bcm2836Local { registers } => {
            format!("BCM2836 per-core controller: {}", region_text(registers))
        }
        Gic::V2 {
            distributor,
            cpu_interface,
        } => format!(
            "GICv2: distributor {}, CPU interface {}",
            region_text(distributor),
            region_text(cpu_interface)
        ),
        Gic::V3 {
            distributor,
            redistributors,
        } => {
            let redistributors: Vec<_> = redistributors.iter().map(region_text).collect();
            format!(
                "GICv3: distributor {}, redistributors {}",
                region_text(distributor),
                redistributors.join(", ")
            )
        }
    }
}

/// A console UART node as the driver sees it.
fn uart_text(uart: &Uart<'_>) -> String {
    let compatible: Vec<_> = uart.compatible.iter().collect();
    let cell = |value: Option<u32>| value.map_or("default".to_string(), |value| value.to_string());
    format!(
        "{} at {:#x}, reg-shift {}, reg-io-width {}",
        compatible.join(" "),
        uart.regs.base(),
        cell(uart.reg_shift),
        cell(uart.reg_io_width)
    )
}

/// `0xBASE..0xEND (SIZE)`.
fn region_text(region: &PhysRegion) -> String {
    format!(
        "{:#x}..{:#x} ({})",
        region.base(),
        region.end(),
        size_text(region.size())
    )
}

/// A size in the largest binary unit that divides it exactly: `2 GiB`, `1536 MiB`, `12 B`.
fn size_text(bytes: u64) -> String {
    const UNITS: [(u32, &str); 4] = [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")];
    UNITS
        .iter()
        .find(|(shift, _)| bytes != 0 && bytes.trailing_zeros() >= *shift)
        .map_or(format!("{bytes} B"), |(shift, unit)| {
            format!("{} {unit}", bytes >> shift)
        })
}

/// `1 region`, `3 regions`.
fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("{count} {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// Every `*.dtb` under `dir`, recursively, sorted.
pub fn dtb_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut pending = vec![dir.to_path_buf()];
    let mut files = Vec::new();
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|extension| extension == "dtb") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// How many DTBs end in each outcome (ok by console driver, ok without a console by why,
/// refused by reason), with an example of each; `Display` gives a Markdown table.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    outcomes: BTreeMap<String, (usize, String)>,
    total: usize,
}

impl Tally {
    /// Counts `verdict`, reached for the DTB `name`.
    pub fn add(&mut self, name: &str, verdict: &Verdict) {
        self.total += 1;
        self.outcomes
            .entry(verdict.outcome())
            .or_insert_with(|| (0, name.to_string()))
            .0 += 1;
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rows: Vec<_> = self.outcomes.iter().collect();
        rows.sort_by_key(|(outcome, (count, _))| {
            (outcome.starts_with("refused"), usize::MAX - count)
        });
        writeln!(f, "| outcome | DTBs | e.g. |")?;
        writeln!(f, "| --- | ---: | --- |")?;
        for (outcome, (count, example)) in rows {
            writeln!(f, "| {outcome} | {count} | {example} |")?;
        }
        write!(f, "| total | {} | |", self.total)
    }
}

#[cfg(test)]
mod tests;
