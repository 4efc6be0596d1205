//! The kernel's side of the scheduler timeline (`crate::trace`): refusing the bootarg `trace`
//! in a kernel built without the feature, giving each core its ring, and dumping the rings over
//! the console at the end of the run or on the fatal path.

#[cfg(feature = "trace")]
use core::fmt::{self, Write};

use super::fatal;
use crate::platform::bootargs::BootArgs;
#[cfg(feature = "trace")]
use crate::platform::console;

/// Bytes of RAM each core's ring needs when the timeline records (0 without the feature).
#[cfg(feature = "trace")]
pub const RING_BYTES: usize = size_of::<crate::trace::CoreRing>();
/// Bytes of RAM each core's ring needs when the timeline records (0 without the feature).
#[cfg(not(feature = "trace"))]
pub const RING_BYTES: usize = 0;

/// Stops the boot with one line if the bootargs ask for a timeline this kernel cannot record.
pub fn refuse_if_unavailable(args: &BootArgs) {
    if args.trace && !crate::trace::AVAILABLE {
        fatal(format_args!(
            "bootargs: `trace` needs a kernel built with the cargo feature `trace` (cargo qemu -- --trace FILE builds one)"
        ));
    }
}

/// Gives each of `cores` cores its ring from `block`, which holds `cores * RING_BYTES` bytes of
/// mapped, otherwise unused RAM, and starts recording.
#[cfg(feature = "trace")]
pub fn install_rings(block: usize, cores: usize) {
    use crate::trace::CoreRing;
    for core in 0..cores {
        let ring = (block as *mut CoreRing).wrapping_add(core);
        // The block was carved for `cores` rings, is mapped normal memory, page aligned, and
        // all-zero bytes are an empty ring (`Ring::new`).
        // SAFETY: in bounds, aligned, and nothing else refers to it.
        let ring: &'static CoreRing = unsafe {
            ring.cast::<u8>().write_bytes(0, RING_BYTES);
            &*ring
        };
        crate::trace::install(core, ring);
    }
    crate::trace::start();
    log::info!(
        "trace: recording up to {} events per core, counter at {} Hz",
        crate::trace::EVENTS_PER_CORE,
        crate::arch::counter_frequency()
    );
}

/// Gives each core its ring: nothing to do in a kernel without the feature.
#[cfg(not(feature = "trace"))]
pub fn install_rings(_block: usize, _cores: usize) {}

/// Dumps the timeline at the end of the run, if it was recorded.
pub fn dump_at_end() {
    dump(false);
}

/// Dumps the timeline on the fatal path, other cores stopped: lock-free, and the console is
/// written as the fatal report is.
pub fn dump_on_fatal() {
    dump(true);
}

#[cfg(feature = "trace")]
fn dump(emergency: bool) {
    if !crate::trace::is_recording() {
        return;
    }
    let mut out = Lines {
        line: heapless::String::new(),
        emergency,
    };
    if let Some(Ok(totals)) = crate::trace::dump(&mut out) {
        let _ = writeln!(
            out,
            "trace: {} events recorded, {} dropped (rings full)",
            totals.events, totals.dropped
        );
    }
}

#[cfg(not(feature = "trace"))]
fn dump(_emergency: bool) {}

/// A console writer that prints whole lines, so other cores' output never lands inside one.
/// A line longer than the buffer is cut.
#[cfg(feature = "trace")]
struct Lines {
    line: heapless::String<160>,
    emergency: bool,
}

#[cfg(feature = "trace")]
impl Write for Lines {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        for character in text.chars() {
            if character != '\n' {
                // A full buffer drops the rest of the line: a long task name is cut, not fatal.
                let _ = self.line.push(character);
            } else {
                if self.emergency {
                    console::emergency_print(format_args!("{}\n", self.line));
                } else {
                    console::print(format_args!("{}\n", self.line));
                }
                self.line.clear();
            }
        }
        Ok(())
    }
}
