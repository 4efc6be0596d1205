//! Running tasks: waking, picking the next task, the context switch, preemption (the tick
//! and retakes), yielding, and a task's first and last moments.

use core::sync::atomic::{AtomicU64, Ordering};

use super::idle::idle_loop;
use super::percore::{CORES, SLICE_NS, current_id};
use super::queues::{
    drain_inbox, enqueue, is_movable, next_own, push_global, push_own, take_global,
};
use super::steal::{steal, steal_from_busiest, wake_waiting_thief};
use super::task::{self, Affinity, NO_TASK, State, Task, TaskId, task};
use crate::arch;
use crate::timer::NO_DEADLINE;

/// Makes a blocked task runnable again, on its pinned core or the core it last ran on.
/// Safe from interrupt handlers; a task that is not blocked is left alone.
pub fn wake(id: TaskId) {
    crate::sync::perturb::point(crate::sync::perturb::Site::Wake);
    let woken = task(id);
    if !woken.transition(State::Blocked, State::Ready) {
        return;
    }
    let core = match woken.affinity() {
        Affinity::Core(core) => core,
        Affinity::Any => woken.last_core.load(Ordering::Relaxed),
    };
    crate::trace::record!(wake(id, core, current_id()));
    enqueue(core, id);
}

/// Switches to the next runnable task, if any. The running task goes back on the queue if it
/// is still running (a yield or a preemption); a blocked or exited one does not. Call with IRQs
/// masked and no spinlock held; returns when this task runs again (possibly on another core).
pub fn schedule() {
    let core = arch::core_id();
    let state = &CORES[core];
    let previous = state.current.load(Ordering::Relaxed);
    let idle = state.idle_task.load(Ordering::Relaxed);
    // Only a task itself leaves `Running` (to block or exit), and this is that task's core with
    // interrupts masked: a plain load and store, no compare-and-swap.
    let outgoing = task(previous);
    let requeue = previous != idle && outgoing.state() == State::Running;
    if requeue {
        outgoing.set_state(State::Ready);
    }
    let next = if state.going_offline.load(Ordering::Acquire) {
        // Going offline: park the task on the queue the idle task will hand over.
        if requeue {
            enqueue(core, previous);
        }
        idle
    } else {
        pick_next(core, requeue.then_some(previous)).unwrap_or(idle)
    };
    if next == previous {
        // Nobody else to run: the same task goes on, in the slice it had, or a new one if a
        // reschedule ended that.
        outgoing.set_state(State::Running);
        if next != idle {
            keep_a_slice(core);
        }
        return;
    }
    switch_to(core, (previous, outgoing), next, next == idle);
}

/// Starts the run of `next` (the core's idle task if `idle`) on `core`, the calling core with
/// interrupts masked: publishes the switch for the monitor (a count and the task; the monitor
/// times runs itself, so no clock is read for it) and makes sure a task has a slice (the idle
/// task has none: tickless idle).
pub(super) fn start_run(core: usize, next: TaskId, idle: bool) {
    crate::registry::CORE_TABLE.publish_switch(core, (!idle).then_some(next));
    if idle {
        crate::timer::cancel_tick(core);
    } else {
        keep_a_slice(core);
    }
}

/// Gives `core` (the calling core, interrupts masked) a time slice if it has none (after
/// idling, or a reschedule that cancelled the last one). A switch from one task to another
/// keeps the slice running, with no clock read: its end, the tick, grants a run that started
/// during the slice a new slice from there (see `end_slice`).
fn keep_a_slice(core: usize) {
    if crate::timer::tick_deadline(core) == NO_DEADLINE {
        start_slice(core, arch::now_ns());
    }
}

/// Starts a slice on `core` (the calling core, interrupts masked) at `now`, for the run the
/// core's switch count names. The slice's end is the core's tick deadline, and kept nowhere
/// else. The hardware timer is reprogrammed only if the deadline moved earlier (when the core
/// had no slice), not when one slice follows another.
fn start_slice(core: usize, now: u64) {
    let switches = crate::registry::CORE_TABLE.switches(core);
    CORES[core]
        .slice_switches
        .store(switches, Ordering::Relaxed);
    let end = now.saturating_add(SLICE_NS.load(Ordering::Relaxed));
    crate::timer::set_tick_deadline_here(core, end);
}

/// The tick at the end of `core`'s slice (the calling core, in its timer interrupt). A run
/// that had the whole slice is preempted at the interrupt's return. If the core switched
/// during the slice, the run now on it started after the slice did, so it gets a new slice
/// from `now` instead: every run gets at least one slice and at most two before the tick
/// preempts it (Linux's tick checks a run's length the same way, at tick granularity).
fn end_slice(core: usize, now: u64) {
    let switches = crate::registry::CORE_TABLE.switches(core);
    if switches == CORES[core].slice_switches.load(Ordering::Relaxed) {
        set_need_resched(core);
    } else {
        start_slice(core, now);
    }
}

/// Asks `core` to reschedule at its next interrupt return. Its timer need not fire for the old
/// slice any more (that would only interrupt again at once): the new slice sets a new tick.
pub(super) fn set_need_resched(core: usize) {
    CORES[core].need_resched.store(true, Ordering::Release);
    crate::timer::cancel_tick(core);
}

/// The next task for `core` (the calling core, interrupts masked: the switch's contract): from
/// its own queue, after what waits in its inbox, where `requeue`, the task it just stopped,
/// goes to the back; else stolen, else from the global queue; else `requeue` goes on.
pub(super) fn pick_next(core: usize, requeue: Option<TaskId>) -> Option<TaskId> {
    drain_inbox(core);
    match next_own(core, requeue) {
        Some(next) if Some(next) == requeue => Some(take_a_share(core, next)),
        Some(next) => Some(next),
        None => find_elsewhere(core),
    }
}

/// `stopped`, the task `core` just stopped (preempted, or yielding), is all its queue would
/// run: before it goes on, the core takes a share of the longest queue elsewhere, or a task
/// from the global queue, and runs one, queueing `stopped` behind what it took. Without this a
/// core whose task never blocks never steals: with every core busy, one core could keep
/// hundreds of queued tasks (a task woken there waiting behind all of them) while each of the
/// others runs one. Linux's tick balances the same way; Go puts a preempted goroutine on the
/// global queue.
#[cold]
#[inline(never)]
fn take_a_share(core: usize, stopped: TaskId) -> TaskId {
    let Some(next) = steal_from_busiest(core).or_else(|| take_global(core)) else {
        return stopped;
    };
    if let Err(id) = push_own(core, stopped, false) {
        push_global(id);
    }
    next
}

/// Work for `core` when its own queue is empty: stolen, else from the global queue. Kept out of
/// line, so the switch between queued tasks does not pay for the thief's stack frame.
#[cold]
#[inline(never)]
fn find_elsewhere(core: usize) -> Option<TaskId> {
    steal(core).or_else(|| take_global(core))
}

/// Switches `core` (the calling core, interrupts masked) from `previous`, the running task
/// (given with its slot, looked up once), to `next` (its idle task if `idle`).
fn switch_to(core: usize, (previous, outgoing): (TaskId, &Task), next: TaskId, idle: bool) {
    crate::sync::perturb::point(crate::sync::perturb::Site::Switch);
    let state = &CORES[core];
    let incoming = task(next);
    // The task may still be switching out on the core that last ran it.
    while incoming.on_core.load(Ordering::Acquire) != 0 {
        core::hint::spin_loop();
    }
    incoming.on_core.store(1, Ordering::Relaxed);
    incoming.set_state(State::Running);
    incoming.last_core.store(core, Ordering::Relaxed);
    state.current.store(next, Ordering::Relaxed);
    start_run(core, next, idle);
    crate::trace::record!(switch(next, incoming.name()));
    arch::set_stack_guard(incoming.guard_page());
    // IRQs are masked (the caller's contract); `next` is off every core (waited for above)
    // and its saved stack pointer came from `prepare_stack` or its last switch.
    // SAFETY: so resuming it is sound; the pointers are the outgoing task's own fields.
    let switched_from = unsafe {
        arch::switch_context(
            outgoing.saved_sp.get(),
            *incoming.saved_sp.get(),
            outgoing.on_core.as_ptr(),
            previous as usize,
        )
    };
    finish_switch(switched_from as TaskId);
}

/// Runs on the incoming task right after every switch, with interrupts still masked:
/// releases `previous`, the task the switch came from, if it exited, and, now that another
/// core may take `previous` if the switch queued it as stealable (a movable task), wakes an
/// idle core that waits for that. (A new slice's timer was programmed before the switch, by
/// `start_run`.)
#[inline(always)]
fn finish_switch(previous: TaskId) {
    if task(previous).state() == State::Exited {
        task(previous).release();
    }
    if is_movable(previous) {
        wake_waiting_thief(arch::core_id());
    }
}

/// The handler of each core's generic-timer interrupt, where the tick policy lives: the timer
/// service fires what is due, the slice that ended is dealt with (`end_slice`), and the
/// timer is programmed for what comes next.
pub fn handle_timer_interrupt(_intid: arm_gic::IntId) {
    let core = arch::core_id();
    crate::registry::CORE_TABLE.publish_heartbeat(core);
    let now = crate::timer::expire_this_core();
    if now >= crate::timer::tick_deadline(core) {
        end_slice(core, now);
    }
    crate::timer::reprogram_this_core();
}

/// Makes `core` reschedule at its next interrupt return, and interrupts it now (the monitor's
/// retake of a task that ran too long).
pub fn request_reschedule(core: usize) {
    set_need_resched(core);
    crate::trace::record!(sgi_sent(core));
    arch::send_reschedule(core);
}

/// Called last in every IRQ: preempts the interrupted task if a reschedule was asked for.
pub fn interrupt_exit() {
    let core = arch::core_id();
    let state = &CORES[core];
    if state.current.load(Ordering::Relaxed) == NO_TASK
        || !state.need_resched.swap(false, Ordering::Acquire)
    {
        return;
    }
    if state.current.load(Ordering::Relaxed) != state.idle_task.load(Ordering::Relaxed) {
        state.preemptions.fetch_add(1, Ordering::Relaxed);
        crate::trace::record!(Preempt { task: current_id() });
        schedule();
    }
}

/// Gives the core to another runnable task, if there is one.
pub fn yield_now() {
    let interrupts = crate::arch::irq_save_disable();
    schedule();
    crate::arch::irq_restore(interrupts);
}

/// Entry of a spawned task's thread: settle the switch, run the body, exit.
pub(in crate::sched) extern "C" fn task_entry(id: usize, switched_from: usize) -> ! {
    finish_switch(switched_from as TaskId);
    arch::irq_enable();
    if let Some(body) = task(id as TaskId).take_body() {
        // `spawn` stored a body whose `run` matches the closure at `data`.
        // SAFETY: a task starts once, so the closure is read exactly once.
        unsafe { (body.run)(body.data) };
    }
    exit()
}

/// Ends the calling task: joiners are woken and its slot is released once this core has
/// switched away from its stack.
pub fn exit() -> ! {
    let _ = crate::arch::irq_save_disable();
    let me = task(current_id());
    me.set_state(State::Exited);
    me.joiners.notify_all();
    schedule();
    unreachable!("an exited task was resumed")
}

/// Spawns the boot core's idle task (the boot thread itself keeps running as the main task).
pub(in crate::sched) fn spawn_idle_task(core: usize) -> Option<TaskId> {
    let new = task::allocate("idle", Affinity::Core(core), false)?;
    // SAFETY: the slot's stack is private until the task is published; its top is aligned.
    let saved_sp = unsafe { arch::prepare_stack(new.stack_top, idle_entry, new.id as usize) };
    task::set_start(new.id, None, saved_sp);
    task(new.id).set_state(State::Ready);
    Some(new.id)
}

pub(super) extern "C" fn idle_entry(_id: usize, switched_from: usize) -> ! {
    finish_switch(switched_from as TaskId);
    idle_loop()
}

/// Asks `core` to go offline: it stops running tasks at its next interrupt return and its idle
/// task hands its work over (see `hotplug`).
pub fn request_offline(core: usize) {
    CORES[core].going_offline.store(true, Ordering::Release);
    request_reschedule(core);
}

/// The handler of the reschedule SGI: another core gave this one work, changed its timers,
/// or asks it to reschedule; the interrupt's return honours it.
pub fn handle_reschedule(_intid: arm_gic::IntId) {
    RESCHEDULE_SGIS[arch::core_id()].fetch_add(1, Ordering::Relaxed);
    crate::trace::record!(SgiReceived);
    crate::timer::reprogram_this_core();
}

static RESCHEDULE_SGIS: [AtomicU64; crate::MAX_CORES] =
    [const { AtomicU64::new(0) }; crate::MAX_CORES];

/// How many reschedule SGIs core `core` has received since boot.
pub fn reschedule_sgis(core: usize) -> u64 {
    RESCHEDULE_SGIS[core].load(Ordering::Relaxed)
}
