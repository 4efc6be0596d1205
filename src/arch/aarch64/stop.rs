//! Stopping the machine: a panic or fatal exception on any core is reported once, every other
//! core is stopped with an SGI, and QEMU exits with a status that says what happened.

use core::fmt;
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

use super::irq::{self, Sgi};
use super::{cpu, percpu, psci};
use crate::platform::console;

/// How the run ended; with semihosting it becomes QEMU's exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum ExitCode {
    /// Everything passed, or the demo or benchmark finished.
    Success = 0,
    /// At least one kernel test failed.
    TestsFailed = 1,
    /// A panic outside a test, a fatal exception, or a boot error.
    Fatal = 3,
}

static SEMIHOSTING_EXIT: AtomicBool = AtomicBool::new(false);
static STOPPING: AtomicBool = AtomicBool::new(false);

/// Chooses semihosting (QEMU with `-semihosting-config enable=on`) over PSCI `SYSTEM_OFF` for
/// [`exit`]; bootarg `exit=semihosting`. On real boards semihosting traps, so it is opt-in.
pub fn use_semihosting_exit(enabled: bool) {
    SEMIHOSTING_EXIT.store(enabled, Ordering::Relaxed);
}

/// Ends the run with `code`: every other core is stopped first.
pub fn exit(code: ExitCode) -> ! {
    stop_other_cores();
    power_off(code)
}

/// Reports a fatal condition once (later callers on other cores just park), stops every core
/// and exits with [`ExitCode::Fatal`], or with the test harness's verdict if a test was running.
pub fn fatal(message: fmt::Arguments) -> ! {
    if STOPPING.swap(true, Ordering::AcqRel) {
        park();
    }
    // The report must not trip over the lock-order checker (the console lock may be held by
    // this very core, interrupted mid-line).
    crate::sync::set_rank_check_enabled(false);
    console::emergency_print(format_args!("{message}\n"));
    stop_other_cores();
    let code = crate::testing::report_fatal_in_test(message).unwrap_or(ExitCode::Fatal);
    power_off(code)
}

fn stop_other_cores() {
    let me = cpu::core_id();
    for core in (0..crate::MAX_CORES).map(percpu::core) {
        if core.index != me
            && core.is_online()
            && !irq::send_sgi_from_fatal_path(Sgi::Stop, core.index)
        {
            console::emergency_print(format_args!(
                "could not stop core {}: the interrupt controller is busy\n",
                core.index
            ));
        }
    }
}

fn power_off(code: ExitCode) -> ! {
    if SEMIHOSTING_EXIT.load(Ordering::Relaxed) {
        semihosting::process::exit(code as i32);
    }
    psci::system_off();
    park()
}

/// The handler of [`Sgi::Stop`]: parks this core for good.
pub fn handle_stop(_intid: arm_gic::IntId) {
    park()
}

/// Masks interrupts and waits forever.
pub fn park() -> ! {
    let _ = cpu::irq_save_disable();
    loop {
        cpu::wait_for_interrupt();
    }
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
