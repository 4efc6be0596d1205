//! Reading the timeline the kernel dumps over its console (bootarg `trace`): the `@trace`
//! lines, in the format `src/trace/mod.rs` documents, into a [`Dump`].

use crate::console::TRACE_LINE_PREFIX;

/// One event as the kernel recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The core switched to `task`, called `name`.
    Switch {
        /// The task now running.
        task: u32,
        /// Its name.
        name: String,
    },
    /// The running task `waker` made `task` runnable on core `target`.
    Wake {
        /// The task woken.
        task: u32,
        /// The core whose queue it went to.
        target: u32,
        /// The task running on the waking core.
        waker: u32,
    },
    /// `count` tasks stolen from core `from`.
    Steal {
        /// The victim core.
        from: u32,
        /// How many tasks.
        count: u32,
    },
    /// A timer armed on `core`, due at `deadline_ns`.
    TimerArm {
        /// The core whose queue holds it.
        core: u32,
        /// Guest ns.
        deadline_ns: u64,
    },
    /// A timer fired.
    TimerFire,
    /// A reschedule SGI sent to core `target`.
    SgiSent {
        /// The core interrupted.
        target: u32,
    },
    /// A reschedule SGI received.
    SgiReceived,
    /// `task` preempted.
    Preempt {
        /// The task.
        task: u32,
    },
    /// A monitor pass that decided `actions` actions.
    MonitorPass {
        /// How many.
        actions: u32,
    },
    /// The monitor's `action` (`kick`, `retake`, `stall`, `unresponsive`) on `core`.
    MonitorAction {
        /// Its name.
        action: String,
        /// The core it was about.
        core: u32,
    },
    /// The core came online.
    Online,
    /// The core went offline.
    Offline,
}

/// One line of the dump: what happened on which core, when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The core that recorded it.
    pub core: u32,
    /// The counter at that moment, in ticks of [`Dump::frequency_hz`].
    pub ticks: u64,
    /// What happened.
    pub event: Event,
}

/// A core's totals from its `@trace core` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoreTotals {
    /// The core.
    pub core: u32,
    /// Events it dumped.
    pub events: u64,
    /// Events its full ring refused.
    pub dropped: u64,
}

/// A whole dump: every record in console order (core by core), and the totals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dump {
    /// The counter's frequency: ticks per second.
    pub frequency_hz: u64,
    /// Cores with a ring.
    pub cores: u32,
    /// Events each core's ring holds.
    pub capacity: u64,
    /// Every event.
    pub records: Vec<Record>,
    /// Each core's totals.
    pub per_core: Vec<CoreTotals>,
    /// Events dropped over all cores, from the `@trace end` line.
    pub dropped: u64,
}

impl Dump {
    /// Reads the dump out of a console. An error names the first line that does not parse, or
    /// says that the console has no dump or an unfinished one.
    pub fn parse(console: &str) -> Result<Dump, String> {
        let mut lines = console
            .lines()
            .map(|line| line.trim_end_matches('\r'))
            .filter_map(|line| line.strip_prefix(TRACE_LINE_PREFIX));
        let begin = lines.next().ok_or(
            "the console holds no timeline (the kernel prints one at the end of a run booted \
             with bootarg `trace` on a kernel built with the feature `trace`)",
        )?;
        let fields = Fields::new(begin.strip_prefix("begin ").ok_or_else(|| bad(begin))?);
        let mut dump = Dump {
            frequency_hz: fields.named("freq").ok_or_else(|| bad(begin))?,
            cores: fields.named("cores").ok_or_else(|| bad(begin))?,
            capacity: fields.named("capacity").ok_or_else(|| bad(begin))?,
            records: Vec::new(),
            per_core: Vec::new(),
            dropped: 0,
        };
        if dump.frequency_hz == 0 {
            return Err(bad(begin));
        }
        for line in lines {
            if let Some(end) = line.strip_prefix("end ") {
                dump.dropped = Fields::new(end).named("dropped").ok_or_else(|| bad(line))?;
                return Ok(dump);
            }
            if let Some(totals) = line.strip_prefix("core ") {
                let fields = Fields::new(totals);
                dump.per_core.push(
                    (|| {
                        Some(CoreTotals {
                            core: fields.word(0)?.parse().ok()?,
                            events: fields.named("events")?,
                            dropped: fields.named("dropped")?,
                        })
                    })()
                    .ok_or_else(|| bad(line))?,
                );
                continue;
            }
            dump.records.push(record(line).ok_or_else(|| bad(line))?);
        }
        Err("the timeline stops before its `@trace end` line (the run was cut short)".to_owned())
    }
}

fn bad(line: &str) -> String {
    format!("unreadable timeline line `{TRACE_LINE_PREFIX}{line}`")
}

/// `<core> <ticks> <event...>`.
fn record(line: &str) -> Option<Record> {
    let mut words = line.splitn(4, ' ');
    let core = words.next()?.parse().ok()?;
    let ticks = words.next()?.parse().ok()?;
    let kind = words.next()?;
    let rest = words.next().unwrap_or("");
    let fields = Fields::new(rest);
    let number = |index: usize| fields.word(index)?.parse().ok();
    let event = match kind {
        "switch" => {
            let (task, name) = rest.split_once(' ')?;
            Event::Switch {
                task: task.parse().ok()?,
                name: name.to_owned(),
            }
        }
        "wake" => Event::Wake {
            task: number(0)?,
            target: number(1)?,
            waker: number(2)?,
        },
        "steal" => Event::Steal {
            from: number(0)?,
            count: number(1)?,
        },
        "arm" => Event::TimerArm {
            core: number(0)?,
            deadline_ns: fields.word(1)?.parse().ok()?,
        },
        "fire" => Event::TimerFire,
        "sgi-send" => Event::SgiSent { target: number(0)? },
        "sgi-receive" => Event::SgiReceived,
        "preempt" => Event::Preempt { task: number(0)? },
        "monitor-pass" => Event::MonitorPass {
            actions: number(0)?,
        },
        "online" => Event::Online,
        "offline" => Event::Offline,
        monitor => Event::MonitorAction {
            action: monitor.strip_prefix("monitor-")?.to_owned(),
            core: number(0)?,
        },
    };
    Some(Record { core, ticks, event })
}

/// The space-separated words of a line's tail, some of them `name=value`.
struct Fields<'a> {
    words: Vec<&'a str>,
}

impl<'a> Fields<'a> {
    fn new(text: &'a str) -> Self {
        Fields {
            words: text.split(' ').filter(|word| !word.is_empty()).collect(),
        }
    }

    fn word(&self, index: usize) -> Option<&'a str> {
        self.words.get(index).copied()
    }

    fn named<T: std::str::FromStr>(&self, name: &str) -> Option<T> {
        self.words.iter().find_map(|word| {
            let (key, value) = word.split_once('=')?;
            (key == name).then(|| value.parse().ok())?
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A dump as the kernel prints it, mixed with other console lines and CR LF endings.
    pub(crate) const SAMPLE: &str = "boot: 2 cores online in 100 us guest time\r\n\
        @trace begin freq=1000000 cores=2 capacity=4096\r\n\
        @trace 0 100 switch 5 ping task\r\n\
        @trace 0 150 wake 6 1 5\r\n\
        @trace 0 160 sgi-send 1\r\n\
        @trace 0 300 switch 1 idle\r\n\
        @trace core 0 events=4 dropped=0\r\n\
        [     0.001000] core   1 INFO  something else\r\n\
        @trace 1 170 sgi-receive\r\n\
        @trace 1 180 switch 6 pong\r\n\
        @trace 1 200 steal 0 2\r\n\
        @trace 1 210 arm 1 5000\r\n\
        @trace 1 220 fire\r\n\
        @trace 1 230 preempt 6\r\n\
        @trace 1 240 monitor-pass 1\r\n\
        @trace 1 250 monitor-kick 0\r\n\
        @trace 1 260 offline\r\n\
        @trace 1 270 online\r\n\
        @trace core 1 events=10 dropped=3\r\n\
        @trace end events=14 dropped=3\r\n\
        trace: 14 events recorded, 3 dropped (rings full)\r\n";

    #[test]
    fn every_event_kind_and_the_totals_are_read() {
        let dump = Dump::parse(SAMPLE).expect("parses");
        assert_eq!(dump.frequency_hz, 1_000_000);
        assert_eq!(dump.cores, 2);
        assert_eq!(dump.capacity, 4096);
        assert_eq!(dump.records.len(), 14);
        assert_eq!(
            dump.records[0],
            Record {
                core: 0,
                ticks: 100,
                event: Event::Switch {
                    task: 5,
                    name: "ping task".to_owned()
                }
            }
        );
        assert_eq!(
            dump.records[1].event,
            Event::Wake {
                task: 6,
                target: 1,
                waker: 5
            }
        );
        assert_eq!(
            dump.records[11].event,
            Event::MonitorAction {
                action: "kick".to_owned(),
                core: 0
            }
        );
        assert_eq!(dump.dropped, 3);
        assert_eq!(
            dump.per_core[1],
            CoreTotals {
                core: 1,
                events: 10,
                dropped: 3
            }
        );
    }

    #[test]
    fn a_missing_or_cut_or_garbled_dump_is_an_error_naming_why() {
        assert!(
            Dump::parse("demo: done\n")
                .unwrap_err()
                .contains("no timeline")
        );
        let cut = SAMPLE.split("@trace end").next().unwrap();
        assert!(Dump::parse(cut).unwrap_err().contains("cut short"));
        let garbled = SAMPLE.replace("wake 6 1 5", "wake six");
        assert_eq!(
            Dump::parse(&garbled).unwrap_err(),
            "unreadable timeline line `@trace 0 150 wake six`"
        );
        let zero = SAMPLE.replace("freq=1000000", "freq=0");
        assert!(Dump::parse(&zero).unwrap_err().contains("begin"));
    }
}
