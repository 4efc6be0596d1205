//! Finding the benchmark's timed windows in the stream of executed instructions, and counting
//! what every vCPU ran inside each.
//!
//! The timing core calls the open marker just before its clock starts and the close marker
//! just after it stops. The window is exactly what the clock measured: every instruction any
//! vCPU ran after the timing core's first clock read past the open marker, up to and including
//! that core's last clock read before the close marker. The log is in guest-time order (under
//! `-icount` QEMU runs the vCPUs in turn on one clock), so "after" is the log's order.

use std::collections::{HashMap, HashSet};
use std::mem;

use super::log::Step;

/// The guest addresses that delimit windows.
#[derive(Clone, Debug)]
pub struct Markers {
    /// The open marker's entry.
    pub open: u64,
    /// The close marker's entry.
    pub close: u64,
    /// Every instruction that reads the counter.
    pub counter_reads: HashSet<u64>,
}

/// One window: the instructions counted in it, by guest address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Window {
    /// The vCPU whose clock timed it.
    pub cpu: u32,
    /// How many times each guest address ran in it, on any vCPU.
    pub counts: HashMap<u64, u64>,
}

impl Window {
    /// Every instruction it counts.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }
}

/// Where the finder is between windows.
#[derive(Debug)]
enum State {
    /// Outside any window.
    Between,
    /// The open marker ran on `cpu`; the window starts after its next clock read.
    Opening { cpu: u32 },
    /// Inside a window timed on `window.cpu`: `window` counts up to that core's last clock
    /// read; `since_read` is what ran after it, counted if another read follows.
    Open {
        window: Window,
        since_read: Vec<u64>,
    },
}

/// Reads steps one by one and collects the windows.
#[derive(Debug)]
pub struct WindowFinder {
    markers: Markers,
    state: State,
    windows: Vec<Window>,
    error: Option<String>,
}

impl WindowFinder {
    /// A finder for windows delimited by `markers`.
    pub fn new(markers: Markers) -> Self {
        WindowFinder {
            markers,
            state: State::Between,
            windows: Vec::new(),
            error: None,
        }
    }

    /// Takes the next executed instruction.
    pub fn step(&mut self, step: Step) {
        if self.error.is_some() {
            return;
        }
        let Step { cpu, pc } = step;
        let is_read = self.markers.counter_reads.contains(&pc);
        self.state = match mem::replace(&mut self.state, State::Between) {
            State::Between if pc == self.markers.open => State::Opening { cpu },
            State::Between => {
                if pc == self.markers.close {
                    self.fail(format!("vCPU {cpu} closed a window it never opened"));
                }
                State::Between
            }
            State::Opening { cpu: timing } if cpu == timing && is_read => State::Open {
                window: Window {
                    cpu,
                    counts: HashMap::new(),
                },
                since_read: Vec::new(),
            },
            State::Opening { cpu: timing } => {
                if pc == self.markers.open || pc == self.markers.close {
                    self.fail(format!(
                        "vCPU {cpu} reached a window marker before vCPU {timing}'s window had read its clock"
                    ));
                }
                State::Opening { cpu: timing }
            }
            State::Open { window, .. } if cpu == window.cpu && pc == self.markers.close => {
                self.windows.push(window);
                State::Between
            }
            State::Open {
                mut window,
                mut since_read,
            } => {
                if pc == self.markers.open || pc == self.markers.close {
                    self.fail(format!(
                        "vCPU {cpu} reached a window marker inside vCPU {}'s window",
                        window.cpu
                    ));
                }
                since_read.push(pc);
                if cpu == window.cpu && is_read {
                    for counted in since_read.drain(..) {
                        *window.counts.entry(counted).or_default() += 1;
                    }
                }
                State::Open { window, since_read }
            }
        };
    }

    /// The windows, in the order they closed; `Err` if the markers were out of order or the
    /// log ended inside a window.
    pub fn finish(self) -> Result<Vec<Window>, String> {
        if let Some(error) = self.error {
            return Err(error);
        }
        match self.state {
            State::Between => Ok(self.windows),
            State::Opening { cpu }
            | State::Open {
                window: Window { cpu, .. },
                ..
            } => Err(format!("the log ended inside a window of vCPU {cpu}")),
        }
    }

    fn fail(&mut self, why: String) {
        self.error.get_or_insert(why);
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Marker and clock-read addresses of the synthetic logs.
    pub(in crate::breakdown) const OPEN: u64 = 0x100;
    pub(in crate::breakdown) const CLOSE: u64 = 0x200;
    pub(in crate::breakdown) const READ: u64 = 0x300;

    pub(in crate::breakdown) fn markers() -> Markers {
        Markers {
            open: OPEN,
            close: CLOSE,
            counter_reads: HashSet::from([READ]),
        }
    }

    fn find(steps: &[(u32, u64)]) -> Result<Vec<Window>, String> {
        let mut finder = WindowFinder::new(markers());
        for &(cpu, pc) in steps {
            finder.step(Step { cpu, pc });
        }
        finder.finish()
    }

    #[test]
    fn a_window_counts_every_vcpu_from_the_first_read_to_the_last() {
        let windows = find(&[
            (1, 0x10),  // before: not counted
            (1, OPEN),  // the marker
            (2, 0x20),  // another vCPU before the clock starts: not counted
            (1, 0x14),  // the timing core before its clock read: not counted
            (1, READ),  // the clock starts
            (1, 0x18),  // counted
            (2, 0x20),  // counted: another vCPU inside the window
            (2, READ),  // another vCPU's clock read does not end the window
            (1, 0x18),  // counted
            (1, READ),  // the clock stops (or not: a read inside the timed code)
            (1, 0x1c),  // after the last read: not counted
            (2, 0x24),  // nor this
            (1, CLOSE), // the marker
            (2, 0x28),  // after: not counted
        ])
        .expect("well formed");
        assert_eq!(windows.len(), 1);
        let window = &windows[0];
        assert_eq!(window.cpu, 1);
        assert_eq!(
            window.counts,
            HashMap::from([(0x18, 2), (0x20, 1), (READ, 2)])
        );
        assert_eq!(window.total(), 5);
    }

    #[test]
    fn windows_come_in_order_and_the_close_marker_only_counts_on_the_timing_core() {
        let windows = find(&[
            (0, OPEN),
            (0, READ),
            (0, 0x40),
            (0, READ),
            (0, CLOSE),
            (3, OPEN),
            (3, READ),
            (3, 0x44),
            (3, READ),
            (3, CLOSE),
        ])
        .expect("well formed");
        assert_eq!(
            windows
                .iter()
                .map(|window| (window.cpu, window.total()))
                .collect::<Vec<_>>(),
            [(0, 2), (3, 2)]
        );
    }

    #[test]
    fn markers_out_of_order_are_errors() {
        for (steps, why) in [
            (&[(0, CLOSE)][..], "never opened"),
            (&[(0, OPEN), (0, CLOSE)], "before"),
            (&[(0, OPEN), (0, READ), (1, OPEN)], "inside"),
            (&[(0, OPEN), (0, READ), (1, CLOSE)], "inside"),
            (&[(0, OPEN), (0, READ)], "ended inside"),
            (&[(0, OPEN)], "ended inside"),
        ] {
            let error = find(steps).expect_err("malformed");
            assert!(error.contains(why), "{steps:?}: {error}");
        }
    }
}
