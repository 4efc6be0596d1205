//! Stopping the machine: every other core is stopped with an SGI, and QEMU exits with a status
//! that says what happened (the kernel's fatal path, `kernel::fatal`, reports first).

use core::fmt;
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

/// Stops every other online core with the stop SGI (best effort: see
/// [`irq::send_sgi_from_fatal_path`]).
pub fn stop_other_cores() {
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

/// Ends the run on this core with `code`: semihosting `SYS_EXIT` if chosen, else PSCI
/// `SYSTEM_OFF`, else the core parks.
pub fn power_off(code: ExitCode) -> ! {
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

/// Stops the boot before the console exists: the message goes to semihosting, which QEMU
/// with `-semihosting` prints; on a board the call traps and the fault handler parks the core.
pub fn early_failure(message: fmt::Arguments) -> ! {
    use semihosting::io::Write;
    if let Ok(mut stderr) = semihosting::io::stderr() {
        let _ = writeln!(stderr, "coresched: {message}");
    }
    use_semihosting_exit(true);
    exit(ExitCode::Fatal)
}
