//! Recording and dumping the timeline on the board (feature `trace`): each core's ring, the
//! switch that turns recording on, the per-event hook, and the dump that drains the rings.

use core::fmt::{self, Write};
use core::ptr;

use super::Event;
use super::ring::Ring;
use crate::MAX_CORES;
use crate::arch;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

/// Events each core's ring holds; more are dropped and counted until the dump.
pub const EVENTS_PER_CORE: usize = 4096;

/// One core's ring: each event with the counter tick it happened at.
pub type CoreRing = Ring<(u64, Event), EVENTS_PER_CORE>;

static RINGS: [AtomicPtr<CoreRing>; MAX_CORES] =
    [const { AtomicPtr::new(ptr::null_mut()) }; MAX_CORES];

/// Cores with a ring, from 0: how far the dump looks.
static CORES: AtomicUsize = AtomicUsize::new(0);

static RECORDING: AtomicBool = AtomicBool::new(false);

/// Set by the first dump: the rings have one reader, so a second dump (the fatal path during
/// the end-of-run dump) prints nothing.
static DUMPED: AtomicBool = AtomicBool::new(false);

/// Gives `core` its ring. Called at boot for every core, before any of them records.
pub fn install(core: usize, ring: &'static CoreRing) {
    RINGS[core].store(ptr::from_ref(ring).cast_mut(), Ordering::Release);
    CORES.fetch_max(core + 1, Ordering::AcqRel);
}

/// Starts recording on every core that has a ring.
pub fn start() {
    RECORDING.store(true, Ordering::Release);
}

/// Whether events are being recorded (bootarg `trace`, until the dump).
pub fn is_recording() -> bool {
    RECORDING.load(Ordering::Relaxed)
}

/// Records the event `event` builds on the calling core, stamped with the counter, if the
/// timeline is recording; a full ring counts it as dropped. Interrupts are masked around the
/// push, so the core is the ring's one writer even when a handler records on top of a task.
#[inline]
pub fn emit(event: impl FnOnce() -> Event) {
    if !is_recording() {
        return;
    }
    let interrupts = arch::irq_save_disable();
    let ring = RINGS[arch::core_id()].load(Ordering::Acquire);
    if !ring.is_null() {
        // SAFETY: the pointer came from a `&'static CoreRing` in `install`; this core is its
        // only writer and has interrupts masked, so nothing else on it pushes meanwhile.
        let _ = unsafe { (*ring).push((arch::counter_ticks(), event())) };
    }
    arch::irq_restore(interrupts);
}

/// What a dump printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DumpTotals {
    /// Event lines written.
    pub events: u64,
    /// Events the full rings refused, over all cores.
    pub dropped: u64,
}

/// Stops recording and writes every ring to `out` in the line format of the module's doc
/// (lock-free: safe on the fatal path). Returns `None`, writing nothing, if a dump already ran.
/// Each ring is drained of the events it held when its turn came.
pub fn dump(out: &mut impl Write) -> Option<Result<DumpTotals, fmt::Error>> {
    RECORDING.store(false, Ordering::Release);
    if DUMPED.swap(true, Ordering::AcqRel) {
        return None;
    }
    Some(write_rings(out))
}

fn write_rings(out: &mut impl Write) -> Result<DumpTotals, fmt::Error> {
    let cores = CORES.load(Ordering::Acquire);
    let prefix = super::LINE_PREFIX;
    writeln!(
        out,
        "{prefix}begin freq={} cores={cores} capacity={EVENTS_PER_CORE}",
        arch::counter_frequency()
    )?;
    let mut totals = DumpTotals {
        events: 0,
        dropped: 0,
    };
    for (core, ring) in RINGS.iter().enumerate().take(cores) {
        let ring = ring.load(Ordering::Acquire);
        if ring.is_null() {
            continue;
        }
        // SAFETY: installed from a `&'static CoreRing`.
        let ring = unsafe { &*ring };
        let mut events = 0;
        for _ in 0..ring.len() {
            // SAFETY: `DUMPED` admits one dump, the rings' only reader.
            let Some((ticks, event)) = (unsafe { ring.pop() }) else {
                break;
            };
            writeln!(out, "{prefix}{core} {ticks} {event}")?;
            events += 1;
        }
        let dropped = ring.dropped();
        writeln!(out, "{prefix}core {core} events={events} dropped={dropped}")?;
        totals.events += events;
        totals.dropped += dropped;
    }
    writeln!(
        out,
        "{prefix}end events={} dropped={}",
        totals.events, totals.dropped
    )?;
    Ok(totals)
}
