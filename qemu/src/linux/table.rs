//! The comparison both kernels' figures make: one row per workload, printed as a table for
//! people and as `bench <name> coresched=<n> linux=<n>` lines for scripts.

use std::fmt::Write as _;

use super::report::{Figure, LinuxReport};
use crate::machine::Machine;

/// The figures the table lists first, in this order; others follow in the order printed.
pub const TABLE_ORDER: [&str; 7] = [
    "yield_switch",
    "handoff_same_core",
    "handoff_cross_core",
    "sleep_lateness",
    "spawn_join",
    "timer_insert_cancel_1k",
    "timer_insert_cancel_64k",
];

/// Both kernels' figures side by side, one row per workload either kernel reported or
/// [`TABLE_ORDER`] names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comparison {
    linux_release: Option<String>,
    rows: Vec<Row>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Row {
    name: String,
    linux: Option<u64>,
    coresched: Option<u64>,
}

impl Comparison {
    /// Rows in [`TABLE_ORDER`], then any other workload coresched printed, then any other
    /// Linux printed. A figure a kernel did not print is `None`.
    pub fn new(coresched: &[Figure], linux: &LinuxReport) -> Comparison {
        let find = |figures: &[Figure], name: &str| {
            figures
                .iter()
                .find(|figure| figure.name == name)
                .and_then(|figure| figure.instructions)
        };
        let mut names: Vec<&str> = TABLE_ORDER.to_vec();
        for figure in coresched.iter().chain(&linux.figures) {
            if !names.contains(&figure.name.as_str()) {
                names.push(&figure.name);
            }
        }
        let rows = names
            .into_iter()
            .map(|name| Row {
                name: name.to_owned(),
                linux: find(&linux.figures, name),
                coresched: find(coresched, name),
            })
            .collect();
        Comparison {
            linux_release: linux.release.clone(),
            rows,
        }
    }

    /// The table for people: a heading naming the board and the Linux release, then
    /// `| operation | Linux X.Y | coresched | Linux / coresched |` with counts grouped in
    /// thousands, `-` where a figure is missing, then what the figures mean.
    pub fn table(&self, machine: &Machine) -> String {
        let release = self.linux_release.as_deref().unwrap_or("(unknown release)");
        let linux_column = match self.linux_release.as_deref().map(major_minor) {
            Some(version) => format!("Linux {version}"),
            None => "Linux".to_owned(),
        };
        let header = [
            "operation".to_owned(),
            linux_column,
            "coresched".to_owned(),
            "Linux / coresched".to_owned(),
        ];
        let cells: Vec<[String; 4]> = self
            .rows
            .iter()
            .map(|row| {
                [
                    row.name.clone(),
                    row.linux.map_or_else(|| "-".to_owned(), grouped),
                    row.coresched.map_or_else(|| "-".to_owned(), grouped),
                    ratio(row.linux, row.coresched),
                ]
            })
            .collect();
        let widths: [usize; 4] = std::array::from_fn(|column| {
            cells
                .iter()
                .chain([&header])
                .map(|cells| cells[column].len())
                .max()
                .unwrap_or(0)
        });
        let mut table = format!(
            "Guest instructions per operation (-icount shift=0,sleep=off), QEMU virt {machine}, \
             Linux {release}:\n"
        );
        let mut line = |cells: &[String; 4]| {
            let _ = writeln!(
                table,
                "| {:<w0$} | {:>w1$} | {:>w2$} | {:>w3$} |",
                cells[0],
                cells[1],
                cells[2],
                cells[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3],
            );
        };
        line(&header);
        // Markdown's alignment row: the counts are right-aligned.
        line(&std::array::from_fn(|column| {
            let dashes = "-".repeat(widths[column]);
            if column == 0 {
                dashes
            } else {
                format!("{}:", &dashes[1..])
            }
        }));
        for row in &cells {
            line(row);
        }
        table.push_str(
            "Linux / coresched above 1: coresched takes fewer instructions. Linux's \
             sleep_lateness is the median over 100 us sleeps with the default 50 us timer \
             slack, most of it. coresched's figures repeat exactly; Linux's may move by a few \
             instructions from run to run.\n",
        );
        table
    }

    /// The lines for scripts, one per row:
    /// `bench <name> coresched=<n> linux=<n> unit=instructions` (`-` where missing).
    pub fn bench_lines(&self) -> String {
        let value = |count: Option<u64>| count.map_or_else(|| "-".to_owned(), |n| n.to_string());
        self.rows
            .iter()
            .map(|row| {
                format!(
                    "bench {} coresched={} linux={} unit=instructions\n",
                    row.name,
                    value(row.coresched),
                    value(row.linux)
                )
            })
            .collect()
    }
}

/// `6.1` out of `6.1.0-56-arm64`: the release up to its second dot.
fn major_minor(release: &str) -> &str {
    let mut dots = release.match_indices('.').map(|(at, _)| at);
    match (dots.next(), dots.next()) {
        (Some(_), Some(second)) => &release[..second],
        _ => release,
    }
}

/// `count` with its digits grouped in thousands: `41000` is `41,000`.
fn grouped(count: u64) -> String {
    let digits = count.to_string();
    let mut text = String::new();
    for (at, digit) in digits.chars().enumerate() {
        if at > 0 && (digits.len() - at).is_multiple_of(3) {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

/// `linux / coresched` to two decimals with an `x`, or `-` when either is missing or zero.
fn ratio(linux: Option<u64>, coresched: Option<u64>) -> String {
    match (linux, coresched) {
        (Some(linux), Some(coresched)) if coresched > 0 => {
            // Instruction counts are far below 2^53, where f64 stays exact.
            format!("{:.2}x", linux as f64 / coresched as f64)
        }
        _ => "-".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linux::report::coresched_figures;
    use crate::linux::report::tests::{KERNEL_OUTPUT, LINUX_OUTPUT, figure};
    use crate::machine::Clock;

    #[test]
    fn the_table_joins_both_kernels() {
        let comparison = Comparison::new(
            &coresched_figures(KERNEL_OUTPUT),
            &LinuxReport::parse(LINUX_OUTPUT),
        );
        let machine = Machine {
            clock: Clock::Deterministic,
            ..Machine::default()
        };
        assert_eq!(
            comparison.table(&machine),
            "\
Guest instructions per operation (-icount shift=0,sleep=off), QEMU virt smp=4 gic=3 \
cpu=cortex-a72 el=1 mem=1024M deterministic, Linux 6.1.0-56-arm64:
| operation               | Linux 6.1 | coresched | Linux / coresched |
| ----------------------- | --------: | --------: | ----------------: |
| yield_switch            |     2,785 |       512 |             5.44x |
| handoff_same_core       |     6,153 |         - |                 - |
| handoff_cross_core      |     8,575 |         - |                 - |
| sleep_lateness          |    80,656 |         - |                 - |
| spawn_join              |    56,460 |     4,100 |            13.77x |
| timer_insert_cancel_1k  |         - |        95 |                 - |
| timer_insert_cancel_64k |         - |         - |                 - |
| monitor_pass_4          |         - |     1,800 |                 - |
Linux / coresched above 1: coresched takes fewer instructions. Linux's sleep_lateness is the \
median over 100 us sleeps with the default 50 us timer slack, most of it. coresched's figures repeat \
exactly; Linux's may move by a few instructions from run to run.
"
        );
        assert_eq!(
            comparison.bench_lines(),
            "\
bench yield_switch coresched=512 linux=2785 unit=instructions
bench handoff_same_core coresched=- linux=6153 unit=instructions
bench handoff_cross_core coresched=- linux=8575 unit=instructions
bench sleep_lateness coresched=- linux=80656 unit=instructions
bench spawn_join coresched=4100 linux=56460 unit=instructions
bench timer_insert_cancel_1k coresched=95 linux=- unit=instructions
bench timer_insert_cancel_64k coresched=- linux=- unit=instructions
bench monitor_pass_4 coresched=1800 linux=- unit=instructions
"
        );
    }

    #[test]
    fn a_missing_release_still_makes_a_table() {
        let linux = LinuxReport {
            figures: vec![figure("extra_workload", Some(7))],
            ..LinuxReport::default()
        };
        let comparison = Comparison::new(&[], &linux);
        let table = comparison.table(&Machine::default());
        assert!(table.contains("Linux (unknown release):"), "{table}");
        assert!(
            table.contains("| operation               | Linux |"),
            "{table}"
        );
        assert!(
            comparison
                .bench_lines()
                .ends_with("bench extra_workload coresched=- linux=7 unit=instructions\n")
        );
    }

    #[test]
    fn numbers_are_grouped_and_ratios_guarded() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(41_000), "41,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(ratio(Some(2283), Some(1000)), "2.28x");
        assert_eq!(ratio(Some(2283), Some(0)), "-");
        assert_eq!(ratio(None, Some(1)), "-");
        assert_eq!(major_minor("6.1.0-56-arm64"), "6.1");
        assert_eq!(major_minor("6.12"), "6.12");
    }
}
