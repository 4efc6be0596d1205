//! From the kernel's records to what a viewer draws: each task's runs on each core (slices),
//! the instant events (marks), and each wake-up linked to the woken task's next run (flows).
//! Both outputs, the Chrome trace and the picture, are drawn from one [`Timeline`].

use std::collections::HashMap;

use super::dump::{Dump, Event};

/// The idle task's name: its runs are the gaps between slices, not slices.
const IDLE_TASK: &str = "idle";

/// A task's run on a core, from its switch-in to the next switch on that core.
#[derive(Clone, Debug, PartialEq)]
pub struct Slice {
    /// The core it ran on.
    pub core: u32,
    /// The task's id.
    pub task: u32,
    /// The task's name.
    pub name: String,
    /// When it started, in µs of guest time.
    pub start_us: f64,
    /// When it stopped: the next switch on its core; if it was still running, the end of the
    /// timeline, or its core's last event if that core's ring overflowed (what came after is
    /// unknown).
    pub end_us: f64,
}

/// What kind of instant a [`Mark`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MarkKind {
    /// A task was woken here (a flow starts here).
    Wake,
    /// This core stole tasks.
    Steal,
    /// A timer was armed.
    TimerArm,
    /// A timer fired.
    TimerFire,
    /// A reschedule SGI was sent or received.
    Sgi,
    /// The running task was preempted.
    Preempt,
    /// A monitor pass or one of its actions.
    Monitor,
    /// The core came online or went offline.
    Hotplug,
}

/// An instant event on a core.
#[derive(Clone, Debug, PartialEq)]
pub struct Mark {
    /// The core.
    pub core: u32,
    /// When, in µs.
    pub at_us: f64,
    /// What kind.
    pub kind: MarkKind,
    /// What it says, e.g. `steal 2 from core 3`.
    pub label: String,
}

/// A wake-up: from the waking core at the wake to the woken task's next switch-in.
#[derive(Clone, Debug, PartialEq)]
pub struct Flow {
    /// Unique among the timeline's flows.
    pub id: u64,
    /// The woken task.
    pub task: u32,
    /// The core that woke it, and when.
    pub from_core: u32,
    /// When it was woken, in µs.
    pub from_us: f64,
    /// The core it next ran on.
    pub to_core: u32,
    /// When it started running there, in µs.
    pub to_us: f64,
}

/// Everything a viewer draws.
#[derive(Clone, Debug, PartialEq)]
pub struct Timeline {
    /// Cores that recorded (tracks 0 to `cores - 1`).
    pub cores: u32,
    /// The first event, in µs.
    pub start_us: f64,
    /// The last event, in µs: where runs still going are cut.
    pub end_us: f64,
    /// Task runs, in start order.
    pub slices: Vec<Slice>,
    /// Instant events, in time order.
    pub marks: Vec<Mark>,
    /// Wake-ups whose task ran again within the timeline.
    pub flows: Vec<Flow>,
}

impl Timeline {
    /// The timeline of `dump`'s records, on one clock (the counter is the same on every core).
    pub fn new(dump: &Dump) -> Timeline {
        let mut records: Vec<_> = dump.records.iter().collect();
        records.sort_by_key(|record| record.ticks);
        let micros = |ticks: u64| ticks as f64 * 1e6 / dump.frequency_hz as f64;
        let start_us = records.first().map_or(0.0, |record| micros(record.ticks));
        let end_us = records.last().map_or(0.0, |record| micros(record.ticks));
        let mut timeline = Timeline {
            cores: dump.cores,
            start_us,
            end_us,
            slices: Vec::new(),
            marks: Vec::new(),
            flows: Vec::new(),
        };
        let mut names: HashMap<u32, String> = HashMap::new();
        let mut running: HashMap<u32, Slice> = HashMap::new();
        let mut woken: HashMap<u32, (u32, f64)> = HashMap::new();
        let mut last_us: HashMap<u32, f64> = HashMap::new();
        for record in records {
            let (core, at_us) = (record.core, micros(record.ticks));
            last_us.insert(core, at_us);
            let name_of = |task: u32| {
                names
                    .get(&task)
                    .cloned()
                    .unwrap_or_else(|| format!("task {task}"))
            };
            let (kind, label) = match &record.event {
                Event::Switch { task, name } => {
                    names.insert(*task, name.clone());
                    timeline.end_run(&mut running, core, at_us);
                    if let Some((from_core, from_us)) = woken.remove(task) {
                        timeline.flows.push(Flow {
                            id: timeline.flows.len() as u64 + 1,
                            task: *task,
                            from_core,
                            from_us,
                            to_core: core,
                            to_us: at_us,
                        });
                    }
                    if name != IDLE_TASK {
                        let slice = Slice {
                            core,
                            task: *task,
                            name: name.clone(),
                            start_us: at_us,
                            end_us,
                        };
                        running.insert(core, slice);
                    }
                    continue;
                }
                Event::Wake {
                    task,
                    target,
                    waker,
                } => {
                    woken.insert(*task, (core, at_us));
                    let label = format!(
                        "wake {} onto core {target} by {}",
                        name_of(*task),
                        name_of(*waker)
                    );
                    (MarkKind::Wake, label)
                }
                Event::Steal { from, count } => {
                    (MarkKind::Steal, format!("steal {count} from core {from}"))
                }
                Event::TimerArm { core, deadline_ns } => (
                    MarkKind::TimerArm,
                    format!("arm timer on core {core} for {} us", deadline_ns / 1000),
                ),
                Event::TimerFire => (MarkKind::TimerFire, "timer fire".to_owned()),
                Event::SgiSent { target } => (MarkKind::Sgi, format!("SGI to core {target}")),
                Event::SgiReceived => (MarkKind::Sgi, "SGI received".to_owned()),
                Event::Preempt { task } => {
                    (MarkKind::Preempt, format!("preempt {}", name_of(*task)))
                }
                Event::MonitorPass { actions } => (
                    MarkKind::Monitor,
                    format!("monitor pass, {actions} actions"),
                ),
                Event::MonitorAction { action, core } => {
                    (MarkKind::Monitor, format!("monitor {action} core {core}"))
                }
                Event::Online => (MarkKind::Hotplug, "online".to_owned()),
                Event::Offline => {
                    timeline.end_run(&mut running, core, at_us);
                    (MarkKind::Hotplug, "offline".to_owned())
                }
            };
            timeline.marks.push(Mark {
                core,
                at_us,
                kind,
                label,
            });
        }
        for totals in dump.per_core.iter().filter(|totals| totals.dropped > 0) {
            if let Some(&last) = last_us.get(&totals.core) {
                timeline.end_run(&mut running, totals.core, last);
            }
        }
        timeline.slices.extend(running.into_values());
        timeline
            .slices
            .sort_by(|a, b| a.start_us.total_cmp(&b.start_us));
        timeline
    }

    /// Ends the run going on on `core`, if any, at `at_us`.
    fn end_run(&mut self, running: &mut HashMap<u32, Slice>, core: u32, at_us: f64) {
        if let Some(mut slice) = running.remove(&core) {
            slice.end_us = at_us;
            self.slices.push(slice);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::dump::tests::SAMPLE;

    fn sample() -> Timeline {
        Timeline::new(&Dump::parse(SAMPLE).unwrap())
    }

    #[test]
    fn runs_become_slices_without_the_idle_task() {
        let timeline = sample();
        assert_eq!(timeline.start_us, 100.0);
        assert_eq!(timeline.end_us, 300.0);
        let runs: Vec<_> = timeline
            .slices
            .iter()
            .map(|slice| {
                (
                    slice.core,
                    slice.name.as_str(),
                    slice.start_us,
                    slice.end_us,
                )
            })
            .collect();
        // `pong` ran until its core went offline; `ping task` until core 0 went idle.
        assert_eq!(
            runs,
            [(0, "ping task", 100.0, 300.0), (1, "pong", 180.0, 260.0)]
        );
    }

    #[test]
    fn a_run_still_going_ends_at_the_end_or_where_its_full_ring_stopped() {
        let dump = Dump::parse(
            "@trace begin freq=1000000 cores=2 capacity=2\n\
             @trace 0 10 switch 4 left\n\
             @trace 0 20 fire\n\
             @trace core 0 events=2 dropped=0\n\
             @trace 1 10 switch 5 right\n\
             @trace 1 15 fire\n\
             @trace core 1 events=2 dropped=7\n\
             @trace end events=4 dropped=7\n",
        )
        .unwrap();
        let mut ends: Vec<_> = Timeline::new(&dump)
            .slices
            .iter()
            .map(|slice| (slice.name.clone(), slice.end_us))
            .collect();
        ends.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            ends,
            [("left".to_owned(), 20.0), ("right".to_owned(), 15.0)]
        );
    }

    #[test]
    fn a_wake_up_flows_to_the_next_run_on_another_core() {
        let timeline = sample();
        assert_eq!(
            timeline.flows,
            [Flow {
                id: 1,
                task: 6,
                from_core: 0,
                from_us: 150.0,
                to_core: 1,
                to_us: 180.0
            }]
        );
        let wake = &timeline.marks[0];
        assert_eq!(wake.kind, MarkKind::Wake);
        assert_eq!(wake.label, "wake task 6 onto core 1 by ping task");
    }

    #[test]
    fn every_other_event_is_a_mark() {
        let kinds: Vec<_> = sample().marks.iter().map(|mark| mark.kind).collect();
        assert_eq!(
            kinds,
            [
                MarkKind::Wake,
                MarkKind::Sgi,
                MarkKind::Sgi,
                MarkKind::Steal,
                MarkKind::TimerArm,
                MarkKind::TimerFire,
                MarkKind::Preempt,
                MarkKind::Monitor,
                MarkKind::Monitor,
                MarkKind::Hotplug,
                MarkKind::Hotplug,
            ]
        );
    }
}
