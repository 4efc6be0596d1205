//! Tasks (kernel threads): the fixed table of task slots, their stacks, and their life cycle.
//!
//! A task slot is allocated by `spawn`, runs, exits, and is freed when both the task itself
//! (after a core has switched away from its stack) and its [`JoinHandle`](super::JoinHandle)
//! have let go of it. Stacks come from a pool carved at boot, each with an unmapped guard page.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicUsize, Ordering};

use heapless::Vec;

use super::wait::WaitQueue;
use crate::platform::memory::Stack;
use crate::sync::{CachePadded, IrqSpinLock, LockRank, SharedStr};

/// Task slots: spawned tasks plus one boot thread per possible core (the boot-time stack pool
/// may allow fewer spawned tasks).
pub const MAX_TASKS: usize = 12_288;

/// Usable bytes of every pooled task stack.
pub const TASK_STACK_SIZE: usize = 16 * 1024;

/// A task's index in the task table.
pub type TaskId = u32;

/// Where a task is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum State {
    /// The slot is free.
    Free = 0,
    /// Runnable, in some run queue (or about to be).
    Ready = 1,
    /// Running on a core.
    Running = 2,
    /// Waiting to be woken (wait queue, sleep, join).
    Blocked = 3,
    /// Finished; waiting for its slot to be released.
    Exited = 4,
}

/// Which cores may run a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Affinity {
    /// Any core; balancing may move it.
    Any,
    /// Only this core; never stolen.
    Core(usize),
}

const ANY_CORE: usize = usize::MAX;

/// One task slot. Fields a task's own core writes while running it are plain cells; fields
/// other cores touch are atomics.
pub struct Task {
    pub(super) state: AtomicU8,
    /// 1 while a core runs on this task's stack; `switch_context` clears it once the task's
    /// registers are saved, and a core about to resume the task waits for that.
    pub(super) on_core: AtomicU8,
    references: AtomicU8,
    /// Runs ahead of ordinary tasks on its core whenever it becomes runnable (system tasks
    /// such as the monitor, which must not wait behind a queue of busy tasks).
    urgent: AtomicBool,
    generation: AtomicU32,
    affinity: AtomicUsize,
    pub(super) last_core: AtomicUsize,
    /// The intrusive link of the wait queue the task is blocked on.
    pub(super) wait_next: AtomicU32,
    /// The intrusive link of the core inbox the task waits in once woken (`sched::inbox`).
    pub(super) inbox_next: AtomicU32,
    pub(super) saved_sp: UnsafeCell<usize>,
    /// Read by any core (reports) while a reused slot gets its new name.
    name: SharedStr,
    body: UnsafeCell<Option<Body>>,
    stack: UnsafeCell<Option<Stack>>,
    /// Tasks waiting in `JoinHandle::join` for this one to exit.
    pub(super) joiners: WaitQueue,
}

/// What a task runs: `run(data)`, with `data` pointing at the closure on the task's stack.
#[derive(Clone, Copy)]
pub(super) struct Body {
    pub(super) run: unsafe fn(*mut u8),
    pub(super) data: *mut u8,
}

// SAFETY: the cells are written only by the core that owns the task at that moment: the
// spawner before publishing it (release), or the core running it; readers synchronise through
// `state`/`on_core` (acquire). The raw pointer in `Body` points into the task's own stack.
unsafe impl Sync for Task {}

impl Task {
    const fn new() -> Self {
        Self {
            state: AtomicU8::new(State::Free as u8),
            on_core: AtomicU8::new(0),
            references: AtomicU8::new(0),
            urgent: AtomicBool::new(false),
            generation: AtomicU32::new(0),
            affinity: AtomicUsize::new(ANY_CORE),
            last_core: AtomicUsize::new(0),
            wait_next: AtomicU32::new(NO_TASK),
            inbox_next: AtomicU32::new(NO_TASK),
            saved_sp: UnsafeCell::new(0),
            name: SharedStr::new(""),
            body: UnsafeCell::new(None),
            stack: UnsafeCell::new(None),
            joiners: WaitQueue::new(),
        }
    }

    /// The task's state.
    pub fn state(&self) -> State {
        match self.state.load(Ordering::Acquire) {
            1 => State::Ready,
            2 => State::Running,
            3 => State::Blocked,
            4 => State::Exited,
            _ => State::Free,
        }
    }

    pub(super) fn set_state(&self, state: State) {
        self.state.store(state as u8, Ordering::Release);
    }

    /// Moves the task from `from` to `to` if it is in `from`; returns whether it was.
    pub(super) fn transition(&self, from: State, to: State) -> bool {
        self.state
            .compare_exchange(from as u8, to as u8, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The task's name, as given at spawn.
    pub fn name(&self) -> &'static str {
        self.name.get()
    }

    /// Whether the task runs ahead of ordinary tasks when it becomes runnable.
    pub fn is_urgent(&self) -> bool {
        self.urgent.load(Ordering::Relaxed)
    }

    /// Whether a core still runs on the task's stack: it is queued again (woken, or requeued
    /// by a yield) before the core switching away from it has saved its registers. Acquire:
    /// once this says `false`, the saved registers are visible.
    pub(super) fn is_on_core(&self) -> bool {
        self.on_core.load(Ordering::Acquire) != 0
    }

    /// Which cores may run the task.
    pub fn affinity(&self) -> Affinity {
        match self.affinity.load(Ordering::Relaxed) {
            ANY_CORE => Affinity::Any,
            core => Affinity::Core(core),
        }
    }

    /// Re-pins the task to `core` (hotplug moves the pinned tasks of a core going offline).
    pub(super) fn pin_to(&self, core: usize) {
        self.affinity.store(core, Ordering::Relaxed);
    }

    /// The generation of the slot: bumped each time it is reused, so stale references fail.
    pub fn generation(&self) -> u32 {
        self.generation.load(Ordering::Acquire)
    }

    pub(super) fn take_body(&self) -> Option<Body> {
        // SAFETY: only the task itself calls this, once, when it starts on its core.
        unsafe { (*self.body.get()).take() }
    }

    pub(super) fn guard_page(&self) -> usize {
        // SAFETY: the stack is set before the task is published and not changed while it lives.
        unsafe { (*self.stack.get()).map_or(0, |stack| stack.guard) }
    }

    /// Drops one reference; the last one returns the slot to the free pool.
    pub(super) fn release(&'static self) {
        if self.references.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.set_state(State::Free);
            free_slot(id_of(self));
            LIVE.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// "No task", in intrusive links.
pub const NO_TASK: TaskId = u32::MAX;

/// Each slot in a [`CachePadded`]: slots running on different cores never share a line.
static TASKS: [CachePadded<Task>; MAX_TASKS] = [const { CachePadded::new(Task::new()) }; MAX_TASKS];

/// The task in slot `id`.
pub fn task(id: TaskId) -> &'static Task {
    &TASKS[id as usize]
}

/// The slot index of `task`.
pub fn id_of(task: &Task) -> TaskId {
    // Cannot overflow: every `Task` lives in `TASKS`, which has fewer than 2^32 slots.
    // A `CachePadded` holds its value at offset 0, so a task's address is its slot's.
    let offset = core::ptr::from_ref(task) as usize - TASKS.as_ptr() as usize;
    (offset / size_of::<CachePadded<Task>>()) as TaskId
}

/// Free slots that have a pooled stack, and how many slots have one at all.
static FREE: IrqSpinLock<Vec<TaskId, MAX_TASKS>> =
    IrqSpinLock::new(LockRank::TaskSlots, Vec::new());
static POOLED: AtomicUsize = AtomicUsize::new(0);

/// Free slots each core keeps for itself (like Go's per-P free list), so that spawning and
/// exiting rarely touch the shared list: cores trade slots with it a batch at a time.
const CORE_CACHE: usize = 64;
static CORE_FREE: [IrqSpinLock<Vec<TaskId, CORE_CACHE>>; crate::MAX_CORES] =
    [const { IrqSpinLock::new(LockRank::TaskSlots, Vec::new()) }; crate::MAX_CORES];

/// Gives slot `POOLED` the stack `stack` and makes it available to `spawn`. Boot calls it once
/// per pooled stack; returns false once the table is full.
pub fn add_pooled_stack(stack: Stack) -> bool {
    let id = POOLED.load(Ordering::Relaxed);
    if id >= BOOT_THREAD_SLOTS {
        return false;
    }
    // SAFETY: the slot is not in the free list yet, so nothing else can touch it.
    unsafe { *TASKS[id].stack.get() = Some(stack) };
    POOLED.store(id + 1, Ordering::Relaxed);
    // Cannot fail: at most MAX_TASKS slots are ever added.
    FREE.lock().push(id as TaskId).unwrap();
    true
}

/// How many task slots have stacks (the effective task capacity).
pub fn capacity() -> usize {
    POOLED.load(Ordering::Relaxed)
}

/// Pooled slots in use: taken by `spawn` (or an idle task) and not yet released.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// How many pooled task slots are in use: tasks spawned and not yet gone (a task that exited
/// but whose handle still exists, or whose core has not switched away from it yet, counts).
pub fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

type Batch = Vec<TaskId, { CORE_CACHE / 2 }>;

/// Gives slots back to the shared list (never while holding a core's cache: same rank).
fn return_to_shared(slots: Batch) {
    if slots.is_empty() {
        return;
    }
    let mut free = FREE.lock();
    for id in slots {
        // Cannot fail: a slot is freed once per allocation, so the list never overflows.
        let _ = free.push(id);
    }
}

fn free_slot(id: TaskId) {
    // The guard goes at the end of this statement, before the slow path takes the lock again.
    let refused = CORE_FREE[crate::arch::core_id()].lock().push(id);
    if let Err(id) = refused {
        free_slot_with_full_cache(id);
    }
}

/// [`free_slot`] when this core's cache is full: half of it goes back to the shared list first.
/// Out of line, so the common path keeps no batch on its stack.
#[cold]
#[inline(never)]
fn free_slot_with_full_cache(id: TaskId) {
    let mut overflow = Batch::new();
    {
        let mut cache = CORE_FREE[crate::arch::core_id()].lock();
        while let (false, Some(spare)) = (overflow.is_full(), cache.pop()) {
            // Cannot fail: checked for room in the loop condition.
            let _ = overflow.push(spare);
        }
        // Cannot fail: half of the cache was just taken out (or it was never full: the task
        // moved to another core in between).
        let _ = cache.push(id);
    }
    return_to_shared(overflow);
}

fn take_free_slot() -> Option<TaskId> {
    let cached = CORE_FREE[crate::arch::core_id()].lock().pop();
    cached.or_else(take_free_slot_from_shared)
}

/// [`take_free_slot`] when this core's cache is empty: takes a batch from the shared list,
/// keeps one slot and caches the rest. Out of line, like [`free_slot_with_full_cache`].
#[cold]
#[inline(never)]
fn take_free_slot_from_shared() -> Option<TaskId> {
    let mut batch = Batch::new();
    {
        let mut free = FREE.lock();
        while let (false, Some(id)) = (batch.is_full(), free.pop()) {
            // Cannot fail: checked for room in the loop condition.
            let _ = batch.push(id);
        }
    }
    let first = batch.pop()?;
    let mut leftovers = Batch::new();
    {
        let mut cache = CORE_FREE[crate::arch::core_id()].lock();
        for id in batch {
            if let Err(id) = cache.push(id) {
                // Cannot fail: at most a batch is left over.
                let _ = leftovers.push(id);
            }
        }
    }
    return_to_shared(leftovers);
    Some(first)
}

/// A slot prepared for a new task, not yet published to any run queue.
pub(super) struct NewTask {
    pub(super) id: TaskId,
    pub(super) stack_top: usize,
}

/// Takes a free slot and sets it up (name, affinity, two references: the task's and its
/// handle's). `None` when every pooled slot is in use.
pub(super) fn allocate(name: &'static str, affinity: Affinity, urgent: bool) -> Option<NewTask> {
    let id = take_free_slot()?;
    LIVE.fetch_add(1, Ordering::Relaxed);
    let slot = task(id);
    slot.generation.fetch_add(1, Ordering::Relaxed);
    slot.name.set(name);
    // SAFETY: the slot came off the free list, so this core owns it until it is published.
    let stack_top = unsafe { (*slot.stack.get()).map_or(0, |stack| stack.top) };
    slot.affinity.store(
        match affinity {
            Affinity::Any => ANY_CORE,
            Affinity::Core(core) => core,
        },
        Ordering::Relaxed,
    );
    slot.urgent.store(urgent, Ordering::Relaxed);
    slot.references.store(2, Ordering::Relaxed);
    slot.wait_next.store(NO_TASK, Ordering::Relaxed);
    Some(NewTask { id, stack_top })
}

/// Records how the new task `id` starts: `body` (if its entry runs one), and its initial saved
/// stack pointer.
pub(super) fn set_start(id: TaskId, body: Option<Body>, saved_sp: usize) {
    let slot = task(id);
    // SAFETY: the slot is still private to the spawner (not published yet).
    unsafe {
        *slot.body.get() = body;
        *slot.saved_sp.get() = saved_sp;
    }
}

/// Slots at the end of the table are reserved for the cores' boot threads, one per core.
const BOOT_THREAD_SLOTS: usize = MAX_TASKS - crate::MAX_CORES;

/// Turns the boot thread running on `core` into a task (its idle task, or the boot core's main
/// task) in the slot reserved for it; `guard` is its stack's guard page. It never exits.
pub(super) fn adopt_boot_thread(name: &'static str, core: usize, guard: usize) -> TaskId {
    let id = (BOOT_THREAD_SLOTS + core) as TaskId;
    let slot = task(id);
    slot.name.set(name);
    // SAFETY: the reserved slot belongs to this core's boot thread alone.
    unsafe {
        *slot.stack.get() = Some(Stack {
            guard,
            bottom: guard + crate::platform::memory::PAGE_SIZE,
            top: 0,
        });
    }
    slot.affinity.store(core, Ordering::Relaxed);
    slot.references.store(1, Ordering::Relaxed);
    slot.on_core.store(1, Ordering::Relaxed);
    slot.last_core.store(core, Ordering::Relaxed);
    slot.set_state(State::Running);
    id
}
