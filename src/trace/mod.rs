//! The scheduler timeline: what each core did and when (switches, wake-ups, steals, timers,
//! reschedule SGIs, preemptions, the monitor's passes and actions, hotplug), recorded in a
//! lock-free ring per core and dumped over the console at the end of the run for the
//! launcher's `--trace FILE` and `--trace-png FILE`.
//!
//! Recording exists only in a kernel built with the cargo feature `trace` and runs only when
//! the bootarg `trace` is given. The hooks in the layers below the kernel (`sched`, `timer`,
//! `monitor`) are one `record!` each, which without the feature expands to nothing: the code
//! generated is that of a kernel without hooks, so every benchmark figure is unchanged. This
//! module imports only `arch` (and `sync`'s ring of its own).
//!
//! The dump's lines all begin with [`LINE_PREFIX`] (the launcher keeps them out of the console
//! it shows):
//!
//! ```text
//! @trace begin freq=62500000 cores=4 capacity=4096
//! @trace 1 81234567 switch 7 worker-3
//! @trace 1 81234890 wake 9 2 7
//! @trace core 1 events=812 dropped=0
//! @trace end events=3020 dropped=0
//! ```
//!
//! An event line is `@trace <core> <counter ticks> <event>`, the event as [`Event`]'s `Display`
//! writes it.

use core::fmt;

#[cfg(all(feature = "trace", target_os = "none"))]
mod recorder;
#[cfg(any(test, all(feature = "trace", target_os = "none")))]
pub mod ring;

#[cfg(all(feature = "trace", target_os = "none"))]
pub use recorder::{
    CoreRing, DumpTotals, EVENTS_PER_CORE, dump, emit, install, is_recording, start,
};

/// What begins every line of the dump.
pub const LINE_PREFIX: &str = "@trace ";

/// Whether this kernel can record a timeline (it was built with the feature `trace`).
pub const AVAILABLE: bool = cfg!(all(feature = "trace", target_os = "none"));

/// One thing that happened on the core that records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The core switched to `task` (and so away from whatever it ran before).
    Switch {
        /// The task now running.
        task: u32,
        /// Its name.
        name: &'static str,
    },
    /// The running `waker` task (or the interrupt on top of it) made `task` runnable on core
    /// `target`.
    Wake {
        /// The task woken.
        task: u32,
        /// The core whose queue it went to.
        target: u32,
        /// The task that was running on this core when it was woken.
        waker: u32,
    },
    /// The core took `count` tasks from core `from`'s queue.
    Steal {
        /// The victim.
        from: u32,
        /// How many tasks came over.
        count: u32,
    },
    /// A timer was armed on `core` for `deadline_ns` (guest ns).
    TimerArm {
        /// The core whose queue holds it.
        core: u32,
        /// When it is due.
        deadline_ns: u64,
    },
    /// A timer of this core fired (its callback runs next).
    TimerFire,
    /// The core sent a reschedule SGI to core `target`.
    SgiSent {
        /// The core interrupted.
        target: u32,
    },
    /// The core received a reschedule SGI.
    SgiReceived,
    /// `task` was preempted at an interrupt's return (its slice ended, or it was retaken).
    Preempt {
        /// The task preempted.
        task: u32,
    },
    /// The monitor finished a pass that decided `actions` actions.
    MonitorPass {
        /// How many actions the pass decided.
        actions: u32,
    },
    /// The monitor carried out `action` on `core`.
    MonitorAction {
        /// What it did.
        action: MonitorAction,
        /// The core it was about.
        core: u32,
    },
    /// The core came online.
    Online,
    /// The core is going offline.
    Offline,
}

/// The monitor's actions, as the timeline names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MonitorAction {
    /// An overdue timer: the core was sent an SGI.
    Kick,
    /// A task ran too long: the core was made to reschedule.
    Retake,
    /// The core made no progress for the stall limit.
    Stall,
    /// The core was kicked and still did not run its timer.
    Unresponsive,
}

impl MonitorAction {
    /// The name in the dump: `kick`, `retake`, `stall`, `unresponsive`.
    pub const fn name(self) -> &'static str {
        match self {
            MonitorAction::Kick => "kick",
            MonitorAction::Retake => "retake",
            MonitorAction::Stall => "stall",
            MonitorAction::Unresponsive => "unresponsive",
        }
    }
}

/// One-line constructors for the hooks, taking cores and counts as the kernel holds them.
impl Event {
    /// [`Event::Switch`] to `task`, called `name`.
    pub fn switch(task: u32, name: &'static str) -> Event {
        Event::Switch { task, name }
    }

    /// [`Event::Wake`] of `task` onto core `target` by the running task `waker`.
    pub fn wake(task: u32, target: usize, waker: u32) -> Event {
        Event::Wake {
            task,
            target: id(target),
            waker,
        }
    }

    /// [`Event::Steal`] of `count` tasks from core `from`.
    pub fn steal(from: usize, count: usize) -> Event {
        Event::Steal {
            from: id(from),
            count: id(count),
        }
    }

    /// [`Event::TimerArm`] on `core` for `deadline_ns`.
    pub fn timer_arm(core: usize, deadline_ns: u64) -> Event {
        Event::TimerArm {
            core: id(core),
            deadline_ns,
        }
    }

    /// [`Event::SgiSent`] to core `target`.
    pub fn sgi_sent(target: usize) -> Event {
        Event::SgiSent { target: id(target) }
    }

    /// [`Event::MonitorPass`] that decided `actions` actions.
    pub fn monitor_pass(actions: usize) -> Event {
        Event::MonitorPass {
            actions: id(actions),
        }
    }

    /// [`Event::MonitorAction`]: `action` carried out on `core`.
    pub fn monitor_action(action: MonitorAction, core: usize) -> Event {
        Event::MonitorAction {
            action,
            core: id(core),
        }
    }
}

impl fmt::Display for Event {
    /// The event's part of a dump line: a word naming it, then its fields in decimal, separated
    /// by spaces; a switch's task name comes last and runs to the end of the line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Switch { task, name } => write!(f, "switch {task} {name}"),
            Event::Wake {
                task,
                target,
                waker,
            } => write!(f, "wake {task} {target} {waker}"),
            Event::Steal { from, count } => write!(f, "steal {from} {count}"),
            Event::TimerArm { core, deadline_ns } => write!(f, "arm {core} {deadline_ns}"),
            Event::TimerFire => f.write_str("fire"),
            Event::SgiSent { target } => write!(f, "sgi-send {target}"),
            Event::SgiReceived => f.write_str("sgi-receive"),
            Event::Preempt { task } => write!(f, "preempt {task}"),
            Event::MonitorPass { actions } => write!(f, "monitor-pass {actions}"),
            Event::MonitorAction { action, core } => {
                write!(f, "monitor-{} {core}", action.name())
            }
            Event::Online => f.write_str("online"),
            Event::Offline => f.write_str("offline"),
        }
    }
}

/// Records `Event::<constructor or variant>` on the calling core if the timeline is recording:
/// `trace::record!(wake(id, core, waker))`, `trace::record!(TimerFire)`; or, with `=>`, the
/// [`Event`] an expression gives: `trace::record!(=> traced(action))`. The event is built only
/// when it is recorded. In a kernel built without the feature `trace` the macro expands to
/// nothing at all, so a hook leaves no trace in the generated code.
#[cfg(all(feature = "trace", target_os = "none"))]
macro_rules! record {
    (=> $event:expr) => {
        $crate::trace::emit(|| $event)
    };
    ($($event:tt)*) => {
        $crate::trace::emit(|| $crate::trace::Event::$($event)*)
    };
}

/// Records `Event::<constructor or variant>` on the calling core if the timeline is recording
/// (see the other definition); in a kernel built without the feature `trace` (this one) the
/// macro expands to nothing at all, so a hook leaves no trace in the generated code.
#[cfg(not(all(feature = "trace", target_os = "none")))]
macro_rules! record {
    ($($event:tt)*) => {};
}

pub(crate) use record;

/// A core number or count as the timeline stores it (every one fits in `u32`).
fn id(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_event_prints_as_the_launcher_parses_it() {
        let lines = [
            (
                Event::Switch {
                    task: 7,
                    name: "worker 3",
                },
                "switch 7 worker 3",
            ),
            (
                Event::Wake {
                    task: 9,
                    target: 2,
                    waker: 7,
                },
                "wake 9 2 7",
            ),
            (Event::Steal { from: 3, count: 4 }, "steal 3 4"),
            (
                Event::TimerArm {
                    core: 1,
                    deadline_ns: 5_000,
                },
                "arm 1 5000",
            ),
            (Event::TimerFire, "fire"),
            (Event::SgiSent { target: 3 }, "sgi-send 3"),
            (Event::SgiReceived, "sgi-receive"),
            (Event::Preempt { task: 4 }, "preempt 4"),
            (Event::MonitorPass { actions: 1 }, "monitor-pass 1"),
            (
                Event::MonitorAction {
                    action: MonitorAction::Retake,
                    core: 2,
                },
                "monitor-retake 2",
            ),
            (Event::Online, "online"),
            (Event::Offline, "offline"),
        ];
        for (event, line) in lines {
            assert_eq!(event.to_string(), line);
        }
    }

    #[test]
    fn a_stamped_event_takes_32_bytes() {
        // 4096 of them make a core's ring 128 KiB, as the README says.
        assert_eq!(size_of::<(u64, Event)>(), 32);
    }

    #[test]
    fn ids_too_large_saturate() {
        assert_eq!(id(5), 5);
        assert_eq!(id(usize::MAX), u32::MAX);
    }
}
