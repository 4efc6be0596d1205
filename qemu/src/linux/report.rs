//! Reading both kernels' benchmark figures out of their console output: coresched's
//! `bench <name> coresched=<n> ...` lines and the Linux program's `linux <name> <n>` report.

/// One figure a kernel printed: the workload's name and its count of guest instructions
/// (`None` where the kernel printed `-`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Figure {
    /// The workload, e.g. `yield_switch`.
    pub name: String,
    /// Guest instructions (guest ns under `-icount shift=0,sleep=off`) per operation.
    pub instructions: Option<u64>,
}

impl Figure {
    /// A figure from a name and the printed value: `-` or a decimal count. `None` for any
    /// other value, so a garbled line is skipped rather than read as a figure.
    fn parse(name: &str, value: &str) -> Option<Figure> {
        let instructions = match value {
            "-" => None,
            count => Some(count.parse().ok()?),
        };
        Some(Figure {
            name: name.to_owned(),
            instructions,
        })
    }
}

/// coresched's figures in its console output: every line
/// `bench <name> coresched=<n> ...`, in order; other lines are skipped.
pub fn coresched_figures(console: &str) -> Vec<Figure> {
    console
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            if words.next() != Some("bench") {
                return None;
            }
            let name = words.next()?;
            let value = words.find_map(|word| word.strip_prefix("coresched="))?;
            Figure::parse(name, value)
        })
        .collect()
}

/// What the Linux benchmark printed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinuxReport {
    /// The kernel's release (`uname -r`), e.g. `6.1.0-56-arm64`.
    pub release: Option<String>,
    /// Every `linux <name> <n>` figure, in order.
    pub figures: Vec<Figure>,
    /// The text of a `linux error ...` line, if the program gave up.
    pub error: Option<String>,
    /// Whether it printed `linux done`: every workload ran.
    pub finished: bool,
}

impl LinuxReport {
    /// Reads the `linux ...` lines out of Linux's console output; other lines are skipped.
    pub fn parse(console: &str) -> LinuxReport {
        let mut report = LinuxReport::default();
        for line in console.lines().map(str::trim) {
            let Some(rest) = line.strip_prefix("linux ") else {
                continue;
            };
            match rest.split_once(' ') {
                Some(("release", release)) => report.release = Some(release.trim().to_owned()),
                Some(("error", why)) => report.error = Some(why.trim().to_owned()),
                Some((name, value)) => report.figures.extend(Figure::parse(name, value.trim())),
                None => report.finished |= rest == "done",
            }
        }
        report
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::linux) const KERNEL_OUTPUT: &str = "\
coresched 0.1.0\r
boot: 4 cores online in 1234 us guest time\r
operation            coresched\r
bench yield_switch coresched=512 linux=- unit=instructions\r
[WARN ] a log line\r
bench handoff_same_core coresched=- linux=- unit=instructions\r
bench spawn_join coresched=4100 linux=- unit=instructions\r
bench timer_insert_cancel_1k coresched=95 linux=- unit=instructions\r
bench monitor_pass_4 coresched=1800 linux=- unit=instructions\r
bench garbled coresched=lots linux=- unit=instructions\r
";

    pub(in crate::linux) const LINUX_OUTPUT: &str = "\
[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x410fd083]\r
linux release 6.1.0-56-arm64\r
linux yield_switch 2785\r
linux handoff_same_core 6153\r
linux handoff_cross_core 8575\r
linux sleep_lateness 80656\r
linux spawn_join 56460\r
linux done\r
[    1.265996] reboot: Power down\r
";

    pub(in crate::linux) fn figure(name: &str, instructions: Option<u64>) -> Figure {
        Figure {
            name: name.to_owned(),
            instructions,
        }
    }

    #[test]
    fn reads_corescheds_bench_lines() {
        assert_eq!(
            coresched_figures(KERNEL_OUTPUT),
            [
                figure("yield_switch", Some(512)),
                figure("handoff_same_core", None),
                figure("spawn_join", Some(4100)),
                figure("timer_insert_cancel_1k", Some(95)),
                figure("monitor_pass_4", Some(1800)),
            ]
        );
        assert_eq!(coresched_figures("no figures\n"), []);
    }

    #[test]
    fn reads_linuxs_report() {
        let report = LinuxReport::parse(LINUX_OUTPUT);
        assert_eq!(report.release.as_deref(), Some("6.1.0-56-arm64"));
        assert!(report.finished);
        assert_eq!(report.error, None);
        assert_eq!(report.figures.len(), 5);
        assert_eq!(report.figures[4], figure("spawn_join", Some(56460)));

        let failed = LinuxReport::parse(
            "linux release 6.1.0-56-arm64\nlinux handoff_cross_core -\n\
             linux error pthread_create: Resource temporarily unavailable\n",
        );
        assert!(!failed.finished);
        assert_eq!(failed.figures, [figure("handoff_cross_core", None)]);
        assert_eq!(
            failed.error.as_deref(),
            Some("pthread_create: Resource temporarily unavailable")
        );
    }
}
