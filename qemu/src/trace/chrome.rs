//! The timeline as a Chrome trace (the JSON object format that Perfetto and `chrome://tracing`
//! open): one thread track per core, an `X` slice per task run named by the task, instant
//! events for the rest, and a flow (`s` to `f`) from each wake-up to the woken task's next run.

use serde_json::{Value, json};

use super::dump::Dump;
use super::timeline::{MarkKind, Timeline};

/// The one process every track belongs to.
const PID: u32 = 1;

/// The Chrome trace of `timeline`, read from `dump` (whose drop counts go in `otherData`).
pub fn chrome_trace(dump: &Dump, timeline: &Timeline) -> Value {
    let mut events = vec![json!({
        "ph": "M", "pid": PID, "name": "process_name", "args": {"name": "coresched"}
    })];
    for core in 0..timeline.cores {
        events.push(json!({
            "ph": "M", "pid": PID, "tid": core, "name": "thread_name",
            "args": {"name": format!("core {core}")}
        }));
        events.push(json!({
            "ph": "M", "pid": PID, "tid": core, "name": "thread_sort_index",
            "args": {"sort_index": core}
        }));
    }
    for slice in &timeline.slices {
        events.push(json!({
            "ph": "X", "pid": PID, "tid": slice.core, "cat": "task", "name": slice.name,
            "ts": slice.start_us, "dur": slice.end_us - slice.start_us,
            "args": {"task": slice.task}
        }));
    }
    for mark in &timeline.marks {
        events.push(match mark.kind {
            // A wake-up is a zero-length slice, so the flow that starts there has one to bind to.
            MarkKind::Wake => json!({
                "ph": "X", "pid": PID, "tid": mark.core, "cat": "wake", "name": mark.label,
                "ts": mark.at_us, "dur": 0
            }),
            kind => json!({
                "ph": "i", "s": "t", "pid": PID, "tid": mark.core, "cat": category(kind),
                "name": mark.label, "ts": mark.at_us
            }),
        });
    }
    for flow in &timeline.flows {
        events.push(json!({
            "ph": "s", "pid": PID, "tid": flow.from_core, "cat": "wake", "name": "wake",
            "id": flow.id, "ts": flow.from_us
        }));
        events.push(json!({
            "ph": "f", "bp": "e", "pid": PID, "tid": flow.to_core, "cat": "wake",
            "name": "wake", "id": flow.id, "ts": flow.to_us
        }));
    }
    let dropped_per_core: Vec<_> = dump
        .per_core
        .iter()
        .map(|totals| json!({"core": totals.core, "events": totals.events, "dropped": totals.dropped}))
        .collect();
    json!({
        "traceEvents": events,
        "displayTimeUnit": "ns",
        "otherData": {
            "counter_frequency_hz": dump.frequency_hz,
            "events_per_core_capacity": dump.capacity,
            "dropped": dump.dropped,
            "cores": dropped_per_core,
        }
    })
}

fn category(kind: MarkKind) -> &'static str {
    match kind {
        MarkKind::Wake => "wake",
        MarkKind::Steal => "steal",
        MarkKind::TimerArm | MarkKind::TimerFire => "timer",
        MarkKind::Sgi => "sgi",
        MarkKind::Preempt => "preempt",
        MarkKind::Monitor => "monitor",
        MarkKind::Hotplug => "hotplug",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::dump::tests::SAMPLE;

    #[test]
    fn tracks_slices_instants_and_a_cross_core_flow() {
        let dump = Dump::parse(SAMPLE).unwrap();
        let trace = chrome_trace(&dump, &Timeline::new(&dump));
        let events = trace["traceEvents"].as_array().unwrap();
        let of = |ph: &'static str| events.iter().filter(move |event| event["ph"] == ph);
        let names: Vec<_> = of("M")
            .filter(|event| event["name"] == "thread_name")
            .map(|event| event["args"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["core 0", "core 1"]);
        let slice = of("X").find(|event| event["name"] == "pong").unwrap();
        assert_eq!(slice["tid"], 1);
        assert_eq!(slice["ts"], 180.0);
        assert_eq!(slice["dur"], 80.0);
        let start = of("s").next().unwrap();
        let finish = of("f").next().unwrap();
        assert_eq!(start["id"], finish["id"]);
        assert_eq!(
            (start["tid"].as_u64(), finish["tid"].as_u64()),
            (Some(0), Some(1))
        );
        assert_eq!(of("i").count(), 10);
        assert_eq!(trace["otherData"]["dropped"], 3);
        assert_eq!(trace["otherData"]["cores"][1]["dropped"], 3);
    }
}
