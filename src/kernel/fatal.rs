//! The fatal path: a panic or fatal exception on any core is reported once (core, location,
//! message), every core is stopped, the scheduler timeline is dumped if it was recorded, and
//! the run ends with a status that says what happened:
//! the test harness's verdict if a kernel test was running, else [`ExitCode::Fatal`].

use core::fmt::{self, Write};
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::arch::aarch64::cpu;
use crate::arch::aarch64::stop::{self, ExitCode};
use crate::platform::console;
use crate::sync::LockRank;

static STOPPING: AtomicBool = AtomicBool::new(false);

/// Reports a fatal condition once (later callers on other cores just park), stops every core
/// and exits with [`ExitCode::Fatal`], or with the test harness's verdict if a test was running.
pub fn fatal(message: fmt::Arguments) -> ! {
    if STOPPING.swap(true, Ordering::AcqRel) {
        stop::park();
    }
    // The report must not trip over the lock-order checker (the console lock may be held by
    // this very core, interrupted mid-line).
    crate::sync::set_rank_check_enabled(false);
    console::emergency_print(format_args!("{message}\n"));
    stop::stop_other_cores();
    super::trace::dump_on_fatal();
    let code = crate::testing::report_fatal_in_test(message).unwrap_or(ExitCode::Fatal);
    stop::power_off(code)
}

/// The lock-up detector's report (see [`crate::sync::lockup`]): a core waited `waited_ns` for one
/// lock. Names the lock and what every core holds (recorded in builds with the rank checker),
/// which shows the cycle of a deadlock, then stops every core.
pub fn lock_up(waiting_for: Option<LockRank>, waited_ns: u64) -> ! {
    let mut holders = heapless::String::<2048>::new();
    for core in 0..super::platform().cpus.len() {
        let held = crate::sync::held_locks(core);
        if !held.is_empty() {
            // Cut short if it does not fit: the report is still useful.
            let _ = write!(holders, "; core {core} holds {held:?}");
        }
    }
    let lock = waiting_for.map_or("a lock", LockRank::name);
    fatal(format_args!(
        "lock-up on core {}: waited {} ms for {lock}{holders}",
        cpu::core_id(),
        waited_ns / 1_000_000
    ))
}

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    let location = info.location();
    let (file, line, column) =
        location.map_or(("<unknown>", 0, 0), |l| (l.file(), l.line(), l.column()));
    fatal(format_args!(
        "panic on core {} at {file}:{line}:{column}: {}",
        cpu::core_id(),
        info.message()
    ))
}
