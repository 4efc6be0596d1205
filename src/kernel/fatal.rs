//! The fatal path: a panic or fatal exception on any core is reported once (core, location,
//! message), every core is stopped, and the run ends with a status that says what happened:
//! the test harness's verdict if a kernel test was running, else [`ExitCode::Fatal`].

use core::fmt;
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::arch::aarch64::cpu;
use crate::arch::aarch64::stop::{self, ExitCode};
use crate::platform::console;

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
    let code = crate::testing::report_fatal_in_test(message).unwrap_or(ExitCode::Fatal);
    stop::power_off(code)
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
