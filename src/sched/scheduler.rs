//! The per-core scheduler: run queues, the switch, preemption, stealing, idle and wake-up.
//!
//! Each core owns a run queue (rank `RunQueue`) that only it pops in the common case; thieves
//! take half of it when they run dry. New and woken work goes to a core's own queue; the global
//! queue (rank `GlobalSched`, with the idle-core set) takes overflow. A core with nothing to run
//! waits in WFI with its timer disarmed unless a timer is due (tickless), and is woken by an
//! SGI only when it is idle.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use heapless::Vec;

use super::balance::{VictimOrder, XorShift64, should_wake_idle_core, steal_count};
use super::runqueue::RunQueue;
use super::task::{self, Affinity, NO_TASK, State, TaskId, task};
use crate::MAX_CORES;
use crate::arch::aarch64::{context, cpu, irq, percpu};
use crate::sync::{IrqSpinLock, LockRank};
use crate::timer::NO_DEADLINE;

/// Runnable tasks each core's own queue holds; more go to the global queue.
pub const RUN_QUEUE_CAPACITY: usize = 512;
/// Runnable tasks the global queue holds: every task there can be, so it never overflows and
/// a wake-up is never lost.
pub const GLOBAL_QUEUE_CAPACITY: usize = super::task::MAX_TASKS;

/// A core's run queue, counting the tasks in it that other cores may steal.
struct CoreRunQueue {
    tasks: RunQueue<TaskId, RUN_QUEUE_CAPACITY>,
    movable: usize,
    /// The core is going offline: pushes are refused and go elsewhere.
    closed: bool,
}

fn is_movable(id: TaskId) -> bool {
    task(id).affinity() == Affinity::Any
}

impl CoreRunQueue {
    const fn new() -> Self {
        Self {
            tasks: RunQueue::new(),
            movable: 0,
            closed: false,
        }
    }

    fn push(&mut self, id: TaskId) -> Result<(), TaskId> {
        if self.closed {
            return Err(id);
        }
        self.tasks.push(id)?;
        self.movable += usize::from(is_movable(id));
        Ok(())
    }

    fn pop(&mut self) -> Option<TaskId> {
        let id = self.tasks.pop()?;
        self.movable -= usize::from(is_movable(id));
        Some(id)
    }

    fn steal_half(&mut self, sink: impl FnMut(TaskId) -> Result<(), TaskId>) {
        self.movable -= self.tasks.steal_half(sink, |id| is_movable(*id));
    }
}

#[repr(align(128))]
struct CoreSched {
    run_queue: IrqSpinLock<CoreRunQueue>,
    /// The run queue's length, and how many of its tasks may be stolen, as of its last change:
    /// lock-free hints for idle cores and thieves.
    queued: AtomicUsize,
    movable: AtomicUsize,
    current: AtomicU32,
    idle_task: AtomicU32,
    /// The task this core just switched away from, settled by `finish_switch`.
    previous: AtomicU32,
    /// When the running task's time slice ends ([`NO_DEADLINE`] while idle).
    slice_end: AtomicU64,
    /// Set by the timer tick or a retake; honoured when the interrupt returns.
    need_resched: AtomicBool,
    /// In the idle loop and about to sleep: wakers must send an SGI.
    idle: AtomicBool,
    /// Asked to go offline (hotplug): run nothing more, hand everything over, power off.
    going_offline: AtomicBool,
    random: AtomicU64,
    switches: AtomicU64,
    preemptions: AtomicU64,
    steals: AtomicU64,
}

impl CoreSched {
    const fn new() -> Self {
        Self {
            run_queue: IrqSpinLock::new(LockRank::RunQueue, CoreRunQueue::new()),
            queued: AtomicUsize::new(0),
            movable: AtomicUsize::new(0),
            current: AtomicU32::new(NO_TASK),
            idle_task: AtomicU32::new(NO_TASK),
            previous: AtomicU32::new(NO_TASK),
            slice_end: AtomicU64::new(NO_DEADLINE),
            need_resched: AtomicBool::new(false),
            idle: AtomicBool::new(false),
            going_offline: AtomicBool::new(false),
            random: AtomicU64::new(0),
            switches: AtomicU64::new(0),
            preemptions: AtomicU64::new(0),
            steals: AtomicU64::new(0),
        }
    }
}

static CORES: [CoreSched; MAX_CORES] = [const { CoreSched::new() }; MAX_CORES];

struct Global {
    queue: RunQueue<TaskId, GLOBAL_QUEUE_CAPACITY>,
}

static GLOBAL: IrqSpinLock<Global> = IrqSpinLock::new(
    LockRank::GlobalSched,
    Global {
        queue: RunQueue::new(),
    },
);
/// The idle-core set: a core sets its own bit when it is about to sleep and clears it when it
/// wakes; a waker claims a bit (clearing it) to wake that core. Lock-free, so idle transitions
/// never contend on the global lock.
static IDLE_SET: [AtomicU64; MAX_CORES / 64] = [const { AtomicU64::new(0) }; MAX_CORES / 64];
/// Mirrors of the global state for lock-free fast paths.
static GLOBAL_QUEUED: AtomicUsize = AtomicUsize::new(0);
static IDLE_CORES: AtomicUsize = AtomicUsize::new(0);
static SPINNING_CORES: AtomicUsize = AtomicUsize::new(0);
/// Cores running the scheduler: `0..ACTIVE_CORES`.
static ACTIVE_CORES: AtomicUsize = AtomicUsize::new(1);
static SLICE_NS: AtomicU64 = AtomicU64::new(10_000_000);

/// The global scheduler lock, for the 2019 lock order the regression test restores.
#[cfg(feature = "legacy-monitor-lock-order")]
pub fn global_lock() -> &'static IrqSpinLock<impl Sized> {
    &GLOBAL
}

/// Go 1.14's timer path, restored for the regression test only: with `core`'s timer-queue lock
/// held, take the global scheduler lock to wake a core (the order `runtimer -> ready -> wakep
/// -> startm` took `sched.lock` under the P's timer lock). The lock order allows it; the
/// monitor's 2019 pass takes the same two locks the other way round.
#[cfg(feature = "legacy-monitor-lock-order")]
pub fn ready_under_timer_lock_2019(core: usize) {
    if let Some(queue) = crate::timer::queue_lock(core) {
        let _timers = queue.lock();
        // Go's `ready` put the goroutine on a run queue before `wakep`: that time is spent
        // holding the timer lock too, which is what leaves room for the monitor to interleave.
        for _ in 0..64 {
            core::hint::spin_loop();
        }
        let _global = GLOBAL.lock();
    }
}

/// Sets the time slice (bootarg `slice-ms`) and how many cores the scheduler will run on.
pub fn configure(slice_ns: u64, cores: usize) {
    SLICE_NS.store(slice_ns, Ordering::Relaxed);
    ACTIVE_CORES.store(cores, Ordering::Relaxed);
}

/// The id of the task running on this core.
pub fn current_id() -> TaskId {
    CORES[cpu::core_id()].current.load(Ordering::Relaxed)
}

/// The task running on `core`, if the scheduler runs there.
pub fn current_on(core: usize) -> Option<TaskId> {
    Some(CORES[core].current.load(Ordering::Relaxed)).filter(|id| *id != NO_TASK)
}

/// When the slice of the task running on `core` ends: [`NO_DEADLINE`] when idle, or when a
/// reschedule is already pending (the interrupt's return starts a new slice, so the timer must
/// not be re-armed for the old one, which would interrupt again at once).
pub fn slice_end(core: usize) -> u64 {
    let state = &CORES[core];
    if state.need_resched.load(Ordering::Relaxed) {
        NO_DEADLINE
    } else {
        state.slice_end.load(Ordering::Relaxed)
    }
}

/// Makes the calling core's boot thread its first task and records its idle task.
pub fn start_core(current: TaskId, idle: TaskId) {
    let core = cpu::core_id();
    let state = &CORES[core];
    state
        .random
        .store(0x9e37_79b9_7f4a_7c15 ^ (core as u64 + 1), Ordering::Relaxed);
    state.idle_task.store(idle, Ordering::Relaxed);
    state.going_offline.store(false, Ordering::Relaxed);
    state.run_queue.lock().closed = false;
    state.current.store(current, Ordering::Release);
    start_run(core, current);
    percpu::this_core().set_stack_guard(task(current).guard_page());
}

/// Publishes `core`'s queue length. Sequentially consistent, pairing with `idle`: a waker
/// stores the new length and then reads `idle`, an idle core stores `idle` and then reads the
/// length, so at least one of them sees the other and the work is never slept on.
fn publish_queued(core: usize, queue: &CoreRunQueue) {
    CORES[core].movable.store(queue.movable, Ordering::SeqCst);
    CORES[core]
        .queued
        .store(queue.tasks.len(), Ordering::SeqCst);
}

/// Puts `id` on `core`'s run queue, or on the global queue when that one is full (the global
/// queue has room for every task, so this cannot fail), and tells `core` about it.
pub fn enqueue(core: usize, id: TaskId) {
    let (pushed, closed) = {
        let mut queue = CORES[core].run_queue.lock();
        let pushed = queue.push(id).is_ok();
        crate::sync::perturb::point(crate::sync::perturb::Site::Publish);
        publish_queued(core, &queue);
        (pushed, queue.closed)
    };
    if closed {
        // The core is going offline: the task goes where its work is being moved.
        return adopt_from_offline_core(core, id);
    }
    if !pushed {
        push_global(id);
    }
    notify(core, is_movable(id));
}

/// Places a task that was queued on (or headed for) `core`, which is going offline, on the core
/// that takes over its work; a task pinned there is re-pinned, with a warning.
fn adopt_from_offline_core(core: usize, id: TaskId) {
    let heir = super::hotplug::heir_core();
    if task(id).affinity() == Affinity::Core(core) {
        log::warn!(
            "task {} ({}) was pinned to core {core}, which goes offline: now pinned to core {heir}",
            id,
            task(id).name()
        );
        task(id).pin_to(heir);
    }
    enqueue(heir, id);
}

fn push_global(id: TaskId) {
    let mut global = GLOBAL.lock();
    // Cannot fail: the global queue has a place for every task slot, and a task is queued once.
    let _ = global.queue.push(id);
    GLOBAL_QUEUED.store(global.queue.len(), Ordering::SeqCst);
}

/// Tells `core` about new work on its queue: an SGI if it sleeps; otherwise, for work other
/// cores may take, one more idle core woken (Go's `wakep`) if nobody is looking for work.
fn notify(core: usize, movable: bool) {
    if core != cpu::core_id() && CORES[core].idle.load(Ordering::SeqCst) {
        irq::send_sgi(irq::Sgi::Reschedule, core);
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
fn wake_idle_core() {
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
        irq::send_sgi(irq::Sgi::Reschedule, core);
    }
}

/// Takes one core out of the idle set; the caller must wake it.
fn claim_idle_core() -> Option<usize> {
    for (word, bits) in IDLE_SET.iter().enumerate() {
        let mut current = bits.load(Ordering::SeqCst);
        while current != 0 {
            let bit = current.trailing_zeros() as usize;
            let mask = 1u64 << bit;
            let previous = bits.fetch_and(!mask, Ordering::SeqCst);
            if previous & mask != 0 {
                IDLE_CORES.fetch_sub(1, Ordering::SeqCst);
                return Some(word * 64 + bit);
            }
            current = previous & !mask;
        }
    }
    None
}

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
    enqueue(core, id);
}

/// Switches to the next runnable task, if any. The running task goes back on the queue if it
/// is still running (a yield or a preemption); a blocked or exited one does not. Call with IRQs
/// masked and no spinlock held; returns when this task runs again (possibly on another core).
pub fn schedule() {
    let core = cpu::core_id();
    let state = &CORES[core];
    let previous = state.current.load(Ordering::Relaxed);
    let idle = state.idle_task.load(Ordering::Relaxed);
    let requeue = previous != idle && task(previous).transition(State::Running, State::Ready);
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
        // Nobody else to run: the same task goes on, with a fresh slice.
        task(next).set_state(State::Running);
        set_slice_end(core, next == idle, cpu::now_ns());
        crate::monitor::kernel::CORE_TABLE.publish_heartbeat(core);
        crate::timer::reprogram_this_core();
        return;
    }
    switch_to(core, previous, next);
}

/// Starts `next` on `core`: its time slice (none for the idle task: tickless idle) and the
/// monitor's record of what the core runs since when, which is also a heartbeat. The clock is
/// read once for both.
fn start_run(core: usize, next: TaskId) {
    let idle = next == CORES[core].idle_task.load(Ordering::Relaxed);
    let now = if idle { 0 } else { cpu::now_ns() };
    set_slice_end(core, idle, now);
    let table = &crate::monitor::kernel::CORE_TABLE;
    table.publish_heartbeat(core);
    if idle {
        table.publish_idle(core);
    } else {
        table.publish_running(core, next, now);
    }
}

/// Ends `core`'s time slice one slice after `now`, or never for the idle task.
fn set_slice_end(core: usize, idle: bool, now: u64) {
    let slice_end = if idle {
        NO_DEADLINE
    } else {
        now.saturating_add(SLICE_NS.load(Ordering::Relaxed))
    };
    CORES[core].slice_end.store(slice_end, Ordering::Relaxed);
}

/// The next task for `core`: from its own queue (where `requeue`, the task it just stopped, goes
/// first, under the same lock), else stolen, else from the global queue.
fn pick_next(core: usize, requeue: Option<TaskId>) -> Option<TaskId> {
    let (local, overflow) = {
        let mut queue = CORES[core].run_queue.lock();
        let overflow = requeue.and_then(|id| queue.push(id).err());
        let next = queue.pop();
        publish_queued(core, &queue);
        (next, overflow)
    };
    if let Some(id) = overflow {
        push_global(id);
    }
    local.or_else(|| steal(core)).or_else(|| take_global(core))
}

fn take_global(core: usize) -> Option<TaskId> {
    if GLOBAL_QUEUED.load(Ordering::SeqCst) == 0 {
        return None;
    }
    let mut global = GLOBAL.lock();
    let next = global.queue.pop();
    GLOBAL_QUEUED.store(global.queue.len(), Ordering::SeqCst);
    drop(global);
    next.filter(|id| {
        // A pinned task that overflowed here belongs to its own core.
        match task(*id).affinity() {
            Affinity::Core(owner) if owner != core => {
                enqueue(owner, *id);
                false
            }
            _ => true,
        }
    })
}

/// Takes half of another core's movable tasks, trying victims in a random order; returns one
/// to run and queues the rest here.
fn steal(core: usize) -> Option<TaskId> {
    let cores = ACTIVE_CORES.load(Ordering::Relaxed);
    if cores < 2 {
        return None;
    }
    let mut random = XorShift64::new(CORES[core].random.load(Ordering::Relaxed));
    let seed = random.next_u64();
    CORES[core]
        .random
        .store(random.next_u64(), Ordering::Relaxed);
    SPINNING_CORES.fetch_add(1, Ordering::SeqCst);
    let mut loot: Vec<TaskId, { RUN_QUEUE_CAPACITY / 2 + 1 }> = Vec::new();
    for victim in VictimOrder::new(cores, core, seed) {
        if CORES[victim].movable.load(Ordering::Acquire) == 0 {
            continue;
        }
        let mut queue = CORES[victim].run_queue.lock();
        queue.steal_half(|id| loot.push(id));
        publish_queued(victim, &queue);
        drop(queue);
        if !loot.is_empty() {
            break;
        }
    }
    SPINNING_CORES.fetch_sub(1, Ordering::SeqCst);
    let (&first, rest) = loot.split_first()?;
    CORES[core].steals.fetch_add(1, Ordering::Relaxed);
    // Like Go's spinning M that found work: there may be more, so wake another idle core.
    wake_idle_core();
    debug_assert!(rest.len() < steal_count(RUN_QUEUE_CAPACITY) + 1);
    let mut queue = CORES[core].run_queue.lock();
    for id in rest {
        // Cannot fail: this core's queue was empty when it went stealing, and only its owner
        // takes work in; at most half a queue was stolen.
        let _ = queue.push(*id);
    }
    publish_queued(core, &queue);
    Some(first)
}

fn switch_to(core: usize, previous: TaskId, next: TaskId) {
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
    start_run(core, next);
    state.previous.store(previous, Ordering::Relaxed);
    state.switches.fetch_add(1, Ordering::Relaxed);
    percpu::this_core().set_stack_guard(incoming.guard_page());
    let outgoing = task(previous);
    // IRQs are masked (the caller's contract); `next` is off every core (waited for above)
    // and its saved stack pointer came from `prepare_stack` or its last switch.
    // SAFETY: so resuming it is sound; the pointers are the outgoing task's own fields.
    unsafe {
        context::switch(
            outgoing.saved_sp.get(),
            *incoming.saved_sp.get(),
            outgoing.on_core.as_ptr(),
        );
    }
    finish_switch();
}

/// Runs on the incoming task right after every switch: releases the task switched away from
/// if it exited, and programs this core's timer for the new slice.
pub(super) fn finish_switch() {
    let core = cpu::core_id();
    let previous = CORES[core].previous.swap(NO_TASK, Ordering::Relaxed);
    if previous != NO_TASK && task(previous).state() == State::Exited {
        task(previous).release();
    }
    crate::timer::reprogram_this_core();
}

/// Called from the timer interrupt: asks for a reschedule when the running task's slice ended.
pub fn timer_tick(core: usize, now: u64) {
    if now >= CORES[core].slice_end.load(Ordering::Relaxed) {
        CORES[core].need_resched.store(true, Ordering::Relaxed);
    }
}

/// Makes `core` reschedule at its next interrupt return, and interrupts it now (the monitor's
/// retake of a task that ran too long).
pub fn request_reschedule(core: usize) {
    CORES[core].need_resched.store(true, Ordering::Release);
    irq::send_sgi(irq::Sgi::Reschedule, core);
}

/// Called last in every IRQ: preempts the interrupted task if a reschedule was asked for.
pub fn interrupt_exit() {
    let core = cpu::core_id();
    let state = &CORES[core];
    if state.current.load(Ordering::Relaxed) == NO_TASK
        || !state.need_resched.swap(false, Ordering::Acquire)
    {
        return;
    }
    if state.current.load(Ordering::Relaxed) != state.idle_task.load(Ordering::Relaxed) {
        state.preemptions.fetch_add(1, Ordering::Relaxed);
        schedule();
    }
}

/// Gives the core to another runnable task, if there is one.
pub fn yield_now() {
    let interrupts = crate::arch::irq_save_disable();
    schedule();
    crate::arch::irq_restore(interrupts);
}

fn has_work(core: usize) -> bool {
    let cores = ACTIVE_CORES.load(Ordering::Relaxed);
    CORES[core].queued.load(Ordering::SeqCst) > 0
        || GLOBAL_QUEUED.load(Ordering::SeqCst) > 0
        || (0..cores).any(|other| other != core && CORES[other].movable.load(Ordering::SeqCst) > 0)
}

fn set_idle(core: usize, idle: bool) {
    let mask = 1u64 << (core % 64);
    CORES[core].idle.store(idle, Ordering::SeqCst);
    let word = &IDLE_SET[core / 64];
    if idle {
        if word.fetch_or(mask, Ordering::SeqCst) & mask == 0 {
            IDLE_CORES.fetch_add(1, Ordering::SeqCst);
        }
    } else if word.fetch_and(!mask, Ordering::SeqCst) & mask != 0 {
        IDLE_CORES.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The idle task of every core: run whatever is runnable; with nothing, announce the core
/// idle, check once more, and wait in WFI (timer disarmed unless a kernel timer is due).
pub fn idle_loop() -> ! {
    cpu::irq_enable();
    loop {
        let interrupts = crate::arch::irq_save_disable();
        schedule();
        let core = cpu::core_id();
        if CORES[core].going_offline.load(Ordering::Acquire) {
            super::hotplug::power_off_this_core(hand_over_queue(core));
        }
        set_idle(core, true);
        if !has_work(core) {
            crate::timer::reprogram_this_core();
            cpu::wait_for_interrupt();
        }
        set_idle(core, false);
        crate::arch::irq_restore(interrupts);
    }
}

/// Entry of a spawned task's thread: settle the switch, run the body, exit.
pub(super) extern "C" fn task_entry(id: usize) -> ! {
    finish_switch();
    cpu::irq_enable();
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
pub(super) fn spawn_idle_task(core: usize) -> Option<TaskId> {
    let new = task::allocate("idle", Affinity::Core(core))?;
    // SAFETY: the slot's stack is private until the task is published; its top is aligned.
    let saved_sp = unsafe { context::prepare_stack(new.stack_top, idle_entry, new.id as usize) };
    task::set_start(new.id, None, saved_sp);
    task(new.id).set_state(State::Ready);
    Some(new.id)
}

extern "C" fn idle_entry(_id: usize) -> ! {
    finish_switch();
    idle_loop()
}

/// Prints one line per core that has anything queued or runs a task: what it runs, how much
/// waits, and its counters. For time-out and stall reports.
pub fn report_cores(out: &mut impl core::fmt::Write) {
    let cores = ACTIVE_CORES.load(Ordering::Relaxed);
    for (core, state) in CORES.iter().enumerate().take(cores) {
        let current = state.current.load(Ordering::Relaxed);
        let queued = state.queued.load(Ordering::Relaxed);
        if queued == 0 && current == state.idle_task.load(Ordering::Relaxed) {
            continue;
        }
        let name = if current == NO_TASK {
            "-"
        } else {
            task(current).name()
        };
        let _ = writeln!(
            out,
            "  core {core}: running {name} (task {current}), {queued} queued ({} stealable), {} switches, {} preemptions, {} steals, idle flag {}",
            state.movable.load(Ordering::Relaxed),
            state.switches.load(Ordering::Relaxed),
            state.preemptions.load(Ordering::Relaxed),
            state.steals.load(Ordering::Relaxed),
            state.idle.load(Ordering::Relaxed)
        );
    }
    let _ = writeln!(
        out,
        "  global: {} queued, {} idle cores, {} spinning",
        GLOBAL_QUEUED.load(Ordering::Relaxed),
        IDLE_CORES.load(Ordering::Relaxed),
        SPINNING_CORES.load(Ordering::Relaxed)
    );
}

/// Asks `core` to go offline: it stops running tasks at its next interrupt return and its idle
/// task hands its work over (see `hotplug`).
pub(super) fn request_offline(core: usize) {
    CORES[core].going_offline.store(true, Ordering::Release);
    request_reschedule(core);
}

/// Closes this core's run queue and moves every task on it to the heir core. Returns how many.
fn hand_over_queue(core: usize) -> usize {
    let mut moved = 0;
    loop {
        let next = {
            let mut queue = CORES[core].run_queue.lock();
            queue.closed = true;
            let next = queue.pop();
            publish_queued(core, &queue);
            next
        };
        let Some(id) = next else {
            return moved;
        };
        adopt_from_offline_core(core, id);
        moved += 1;
    }
}
