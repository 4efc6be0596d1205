//! The console: the stdout UART (any family `platform::uart` drives) and the `log` facade on
//! it.
//!
//! Every line is written whole under the console lock (an IRQ-masking spinlock of rank
//! `Console`, the innermost), so lines from different cores never interleave mid-line. A panic
//! must print even if the console lock is held, by this core or a stuck one: the emergency
//! path waits a bounded time for the lock and then writes without it.

use core::fmt::{self, Write};
use core::ptr::NonNull;

use spin::Once;

use crate::arch;
use crate::platform::uart::mmio::Mmio;
use crate::platform::uart::{Uart, UartConfig};
use crate::sync::{IrqSpinLock, LockRank};

static CONSOLE: Once<IrqSpinLock<Uart<Mmio>>> = Once::new();

/// How many times the emergency path polls a held console lock before writing without it.
const EMERGENCY_LOCK_ATTEMPTS: usize = 1_000_000;

/// Starts the console on `uart` (the DTB's `/chosen/stdout-path` UART, or `earlycon=`) and
/// installs the logger at `level`. The UART is used as firmware left it (baud rate set by the
/// board); only its family's enabling step runs (see `platform::uart`). Without a UART at a
/// non-zero address nothing starts, and output is dropped as before `init`.
///
/// # Safety
/// `uart.base()` must be the address of that UART's registers, mapped as device memory (or the
/// MMU off), and used by nothing else.
pub unsafe fn init(uart: UartConfig, level: log::LevelFilter) {
    let Some(base) = NonNull::new(uart.base() as *mut u8) else {
        return;
    };
    // SAFETY: the caller promises `base` is this UART's unshared register block.
    let uart = Uart::new(uart, unsafe { Mmio::new(base) });
    CONSOLE.call_once(|| IrqSpinLock::new(LockRank::Console, uart));
    log::set_max_level(level);
    // A second call (never made) would keep the first logger, which is just as good.
    let _ = log::set_logger(&LOGGER);
}

/// Prints `args` atomically with respect to other console output. Without a console (before
/// `init`, or no UART in the DTB) the text is dropped.
pub fn print(args: fmt::Arguments) {
    if let Some(console) = CONSOLE.get() {
        let _ = console.lock().write_fmt(args);
    }
}

/// Prints `args` even if the console lock is held and never released (a panic while printing,
/// or a stuck core): waits a bounded time, then writes without the lock. Only the stop path
/// uses it, once, while every other core is being stopped.
pub fn emergency_print(args: fmt::Arguments) {
    let Some(console) = CONSOLE.get() else {
        return;
    };
    for _ in 0..EMERGENCY_LOCK_ATTEMPTS {
        if let Some(mut uart) = console.try_lock() {
            let _ = uart.write_fmt(args);
            return;
        }
        core::hint::spin_loop();
    }
    // SAFETY: the lock holder is stuck or is this core itself, interrupted mid-line by the
    // panic; the system is stopping, so sharing the UART for this last message is accepted.
    let uart = unsafe { &mut *console.data_ptr() };
    let _ = uart.write_fmt(args);
}

/// `print!` to the kernel console.
#[macro_export]
macro_rules! kprint {
    ($($arg:tt)*) => { $crate::platform::console::print(format_args!($($arg)*)) };
}

/// `println!` to the kernel console: the line is written whole.
#[macro_export]
macro_rules! kprintln {
    ($($arg:tt)*) => { $crate::platform::console::print(format_args!("{}\n", format_args!($($arg)*))) };
}

struct Logger;

static LOGGER: Logger = Logger;

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let micros = arch::now_ns() / 1000;
        print(format_args!(
            "[{:>6}.{:06}] core {:>3} {:<5} {}\n",
            micros / 1_000_000,
            micros % 1_000_000,
            arch::core_id(),
            record.level(),
            record.args()
        ));
    }

    fn flush(&self) {}
}
