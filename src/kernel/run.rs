//! What the kernel runs once every core is online: the selected kernel tests, the benchmark,
//! or the demo, with the monitor watching.

use crate::arch::aarch64::smp;
use crate::arch::aarch64::stop::ExitCode;
use crate::monitor;
use crate::platform::bootargs::{BootArgs, Mode};

/// Starts the monitor, runs what the bootargs ask for, dumps the timeline if it was recorded,
/// and returns how the run ended.
pub fn run(args: &BootArgs) -> ExitCode {
    let online = smp::online_count();
    let monitor_core = args
        .monitor_core
        .filter(|core| *core < online)
        .unwrap_or(online - 1);
    monitor::kernel::start(monitor_core, u64::from(args.stall_ms.get()) * 1_000_000);
    let code = match args.mode {
        // The test report prints the monitor's counters itself, before its closing line.
        Mode::Test(selection) => crate::testing::run(&selection, args, online),
        Mode::Bench => {
            let code = crate::bench::run(online);
            monitor::kernel::print_counters("");
            code
        }
        Mode::Demo => {
            let code = crate::demo::run(online);
            monitor::kernel::print_counters("");
            code
        }
    };
    super::trace::dump_at_end();
    code
}
