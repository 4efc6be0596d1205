//! Idle cores: the lock-free idle-core set, waking one idle core when work appears (Go's
//! `wakep`), and the idle loop, which waits in WFI with its timer disarmed unless a timer is
//! due (tickless).
//!
//! No wake-up is lost. Whoever makes work runnable first makes it visible and then looks for an
//! idle core:
//! - for another core, it pushes the task on that core's inbox (a sequentially consistent
//!   compare-and-swap, `sched::inbox`) and then reads that core's `idle` flag (the SGI in
//!   `notify`);
//! - for work any core may take, on its own ring, it counts the task stealable (adding its core
//!   to the stealable set and counting it in `queues::STEALABLE_CORES` when the count leaves 0)
//!   and then reads the idle-core count (`wake_idle_core`);
//! - for the global queue, it counts the task there (`queues::global_has_work_for`) and then
//!   does one of the above.
//!
//! A core going idle does the mirror image: it stores its `idle` flag and joins the idle set,
//! then reads its inbox, the global queue's counts of tasks it may run and the stealable count
//! (`has_work`). Its own ring and urgent slot need no check: only the core itself fills them,
//! and it found them empty with interrupts masked since. Every one of these accesses is
//! sequentially consistent, so in their single total order one side's store comes before the
//! other side's read: either the idle core sees the work and does not sleep, or the waker sees
//! the core idle and wakes it (or a core that is looking for work, as Go's `wakep` does, which
//! checks again before it sleeps). A thief that empties a ring while its owner queues another
//! movable task can leave the stealable count at 0 for a moment while the task is there; the
//! thief puts it back and then wakes an idle core itself (`sched::stealable`, whose loom model
//! checks this protocol).
//!
//! A stealable count can run ahead of what a thief can take: the task a switch queued is still
//! on its core's stack until the switch ends, and the count rises just before a push. An idle
//! core does not spin on such a count (it would take the time the counting core needs to get
//! there, for as long as that core is not running): it asks that core to wake an idle core once
//! the task can be taken, checks once more, and sleeps (`steal::can_steal`). So an idle core
//! that goes round its loop without sleeping always had something to take.

use core::sync::atomic::{AtomicUsize, Ordering};

use super::coreset::CoreSet;
use super::percore::CORES;
use super::queues::{GLOBAL, global_has_work_for, hand_over_queue};
use super::steal::can_steal;
use super::switch::schedule;
use crate::arch;
use crate::sched::balance::should_wake_idle_core;

/// The idle-core set: a core sets its own bit when it is about to sleep and clears it when it
/// wakes; a waker claims a bit (clearing it) to wake that core. Lock-free, so idle transitions
/// never contend on the global lock.
pub(super) static IDLE_SET: CoreSet = CoreSet::new();

/// How many cores are in the idle set, and how many are looking for work (stealing or
/// waking a core): lock-free mirrors for the wake-up fast path.
pub(super) static IDLE_CORES: AtomicUsize = AtomicUsize::new(0);
pub(super) static SPINNING_CORES: AtomicUsize = AtomicUsize::new(0);

/// Tells `core` about new work on its queue: an SGI if it sleeps; otherwise, for work other
/// cores may take, one more idle core woken (Go's `wakep`) if nobody is looking for work.
pub(super) fn notify(core: usize, movable: bool) {
    if core != arch::core_id() && CORES[core].idle.load(Ordering::SeqCst) {
        crate::trace::record!(sgi_sent(core));
        arch::send_reschedule(core);
    } else if movable {
        wake_idle_core();
    }
}

/// Go's `wakep`: if some core is idle and none is spinning, wake one. Claims the core under the
/// global lock, as Go's `startm` takes `sched.lock`: this is the path a firing timer reaches
/// (timer -> wake -> here), which is why the timer code must have dropped its timer-queue lock
/// before firing.
///
/// Like Go, the waker first claims the one spinning slot (0 -> 1): of many cores making work
/// at once, one wakes a core and the others leave it to the woken core, which wakes the next
/// if it finds work to steal. So the global lock never becomes a convoy.
pub(super) fn wake_idle_core() {
    if !should_wake_idle_core(
        IDLE_CORES.load(Ordering::SeqCst),
        SPINNING_CORES.load(Ordering::SeqCst),
    ) || SPINNING_CORES
        .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        return;
    }
    let claimed = {
        let _global = GLOBAL.lock();
        claim_idle_core()
    };
    SPINNING_CORES.fetch_sub(1, Ordering::SeqCst);
    if let Some(core) = claimed {
        crate::trace::record!(sgi_sent(core));
        arch::send_reschedule(core);
    }
}

/// Takes one core out of the idle set; the caller must wake it.
pub(super) fn claim_idle_core() -> Option<usize> {
    let core = IDLE_SET.take_any()?;
    IDLE_CORES.fetch_sub(1, Ordering::SeqCst);
    Some(core)
}

/// Whether `core`, having announced itself idle, has anything to run: tasks other cores left in
/// its inbox, work in the global queue it may run, or a task it can steal now. Three words at
/// any core count while no core has stealable tasks; the reads pair with the waker's stores as
/// the module comment explains.
pub(super) fn has_work(core: usize) -> bool {
    !CORES[core].inbox.is_empty() || global_has_work_for(core) || can_steal(core)
}

pub(super) fn set_idle(core: usize, idle: bool) {
    CORES[core].idle.store(idle, Ordering::SeqCst);
    if idle {
        if IDLE_SET.insert(core) {
            IDLE_CORES.fetch_add(1, Ordering::SeqCst);
        }
    } else if IDLE_SET.remove(core) {
        IDLE_CORES.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The idle task of every core: run whatever is runnable; with nothing, announce the core
/// idle, check once more, and wait in WFI (timer disarmed unless a kernel timer is due).
pub fn idle_loop() -> ! {
    arch::irq_enable();
    loop {
        let interrupts = crate::arch::irq_save_disable();
        schedule();
        let core = arch::core_id();
        if CORES[core].going_offline.load(Ordering::Acquire) {
            crate::sched::hotplug::power_off_this_core(hand_over_queue(core));
        }
        set_idle(core, true);
        if !has_work(core) {
            crate::timer::reprogram_this_core();
            arch::wait_for_interrupt();
            // Whatever woke the core (the reschedule SGI of a waker, the timer) is served here,
            // with interrupts still masked, rather than by taking it as an exception.
            arch::serve_pending_interrupts();
        }
        set_idle(core, false);
        crate::arch::irq_restore(interrupts);
    }
}
