//! coresched: a `no_std` SMP scheduler kernel for bare-metal aarch64.
//!
//! Each core owns a run queue and a timer queue behind its own IRQ-safe spinlock; a monitor
//! core watches every core's published deadline under the core-table lock, never under the
//! global scheduler lock (the lesson of Go issue 35375). Portable logic (queues, scheduling
//! decisions, the monitor's scan, lock ranks, DTB discovery, bootargs, the test harness's
//! output) builds and is unit-tested on the host; only [`arch`] needs the board.

#![cfg_attr(not(test), no_std)]

pub mod arch;
pub mod monitor;
pub mod platform;
pub mod registry;
pub mod sched;
pub mod sync;
pub mod testing;
pub mod time;
pub mod timer;

/// The most cores coresched runs on: the ceiling of QEMU virt with GICv3. Per-core tables are
/// sized by this at build time; the number actually used comes from the DTB.
pub const MAX_CORES: usize = 512;

/// Runs what the bootargs ask for once every core is online: the selected kernel tests, the
/// benchmark, or the demo. Returns how the run ended.
#[cfg(target_os = "none")]
pub fn run(args: &platform::bootargs::BootArgs) -> arch::aarch64::stop::ExitCode {
    use platform::bootargs::Mode;
    let online = arch::aarch64::smp::online_count();
    let monitor_core = args
        .monitor_core
        .filter(|core| *core < online)
        .unwrap_or(online - 1);
    monitor::kernel::start(monitor_core, u64::from(args.stall_ms.get()) * 1_000_000);
    match args.mode {
        // The test report prints the monitor's counters itself, before its closing line.
        Mode::Test(selection) => testing::run(&selection, args, online),
        Mode::Bench => {
            let code = bench::run(online);
            monitor::kernel::print_counters("");
            code
        }
        Mode::Demo => {
            let code = demo::run(online);
            monitor::kernel::print_counters("");
            code
        }
    }
}

#[cfg(target_os = "none")]
mod bench;
#[cfg(target_os = "none")]
mod demo;
