//! The scheduler API a kernel user sees: spawning, joining, yielding, sleeping, exiting, and
//! the start of scheduling on each core.

use core::time::Duration;

use super::scheduler;
use super::task::{self, Affinity, Body, TaskId, task};
pub use super::task::{Affinity as TaskAffinity, State as TaskState, TASK_STACK_SIZE};
pub use super::wait::{Event, Mutex, MutexGuard, Semaphore, WaitQueue};
use crate::arch;
use crate::time::Instant;
use crate::timer;

/// How to spawn a task.
#[derive(Clone, Copy, Debug)]
pub struct SpawnOptions {
    /// Shown in fault and stall reports.
    pub name: &'static str,
    /// Where it may run.
    pub affinity: Affinity,
    /// Whether it runs ahead of ordinary tasks on its core each time it becomes runnable,
    /// preempting the running one (for system tasks such as the monitor).
    pub urgent: bool,
}

impl Default for SpawnOptions {
    fn default() -> Self {
        Self {
            name: "task",
            affinity: Affinity::Any,
            urgent: false,
        }
    }
}

impl SpawnOptions {
    /// Options for a task called `name` that may run anywhere.
    pub fn named(name: &'static str) -> Self {
        Self {
            name,
            ..Self::default()
        }
    }

    /// The same options, pinned to `core`.
    pub fn on_core(self, core: usize) -> Self {
        Self {
            affinity: Affinity::Core(core),
            ..self
        }
    }

    /// The same options, for an urgent task (see [`SpawnOptions::urgent`]).
    pub fn urgent(self) -> Self {
        Self {
            urgent: true,
            ..self
        }
    }
}

/// Why [`spawn`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpawnError {
    /// Every task slot with a stack is in use.
    TooManyTasks,
    /// The closure does not fit on the stack with room to run.
    ClosureTooLarge,
    /// The pinned core does not exist or does not run the scheduler.
    NoSuchCore,
}

/// Owns a spawned task's result slot: [`JoinHandle::join`] waits for it to exit.
/// Dropping the handle detaches the task.
pub struct JoinHandle {
    id: TaskId,
}

impl JoinHandle {
    /// Blocks until the task has exited.
    pub fn join(self) {
        let joined = task(self.id);
        joined
            .joiners
            .wait_while(|| joined.state() != TaskState::Exited);
    }

    /// The task's id (its slot in the task table).
    pub fn id(&self) -> TaskId {
        self.id
    }
}

impl Drop for JoinHandle {
    fn drop(&mut self) {
        task(self.id).release();
    }
}

unsafe fn run_closure<F: FnOnce()>(data: *mut u8) {
    // SAFETY: `spawn` moved an `F` to `data` and the task reads it exactly once.
    let body = unsafe { data.cast::<F>().read() };
    body();
}

/// Stack bytes a closure may not use: the switch frame and room for the task to run.
const STACK_RESERVE: usize = 4 * 1024;

/// Starts a task running `body`, placed on the calling core (or its pinned core), and wakes
/// an idle core to steal it if none is looking for work.
pub fn spawn<F: FnOnce() + Send + 'static>(
    options: SpawnOptions,
    body: F,
) -> Result<JoinHandle, SpawnError> {
    if size_of::<F>() + align_of::<F>() + STACK_RESERVE > TASK_STACK_SIZE {
        return Err(SpawnError::ClosureTooLarge);
    }
    let target = match options.affinity {
        Affinity::Core(core)
            if crate::registry::CORE_TABLE.state(core) != crate::registry::CoreState::Online =>
        {
            return Err(SpawnError::NoSuchCore);
        }
        Affinity::Core(core) => core,
        Affinity::Any => arch::core_id(),
    };
    let new = task::allocate(options.name, options.affinity, options.urgent)
        .ok_or(SpawnError::TooManyTasks)?;
    let data = (new.stack_top - size_of::<F>()) & !(align_of::<F>().max(16) - 1);
    // `data` (aligned for F) and the switch frame below it lie within the slot's stack.
    // SAFETY: that stack is private to this core until the task is published.
    let saved_sp = unsafe {
        (data as *mut F).write(body);
        arch::prepare_stack(data & !15, scheduler::task_entry, new.id as usize)
    };
    task::set_start(
        new.id,
        Some(Body {
            run: run_closure::<F>,
            data: data as *mut u8,
        }),
        saved_sp,
    );
    task(new.id).set_state(TaskState::Ready);
    scheduler::enqueue(target, new.id);
    Ok(JoinHandle { id: new.id })
}

/// Gives the core to another runnable task, if any.
pub fn yield_now() {
    scheduler::yield_now();
}

fn wake_sleeper(id: usize) {
    // A task's reserved timer is armed only while it sleeps, and it fires once.
    scheduler::wake(id as TaskId);
}

/// Blocks the calling task until `deadline` (no earlier). Never fails: each task has a
/// timer of its own, reserved with its slot, so sleeping needs no room in any queue.
pub fn sleep_until(deadline: Instant) {
    let interrupts = crate::arch::irq_save_disable();
    let me = scheduler::current_id();
    task(me).set_state(TaskState::Blocked);
    // Cannot fail: this core runs the scheduler, so it has a timer queue.
    timer::arm_reserved(
        arch::core_id(),
        me as usize,
        deadline.as_nanos(),
        wake_sleeper,
    )
    .expect("the running core has a timer queue");
    scheduler::schedule();
    crate::arch::irq_restore(interrupts);
}

/// Blocks the calling task for at least `duration`. Never fails (see [`sleep_until`]).
pub fn sleep_for(duration: Duration) {
    sleep_until(Instant::now().saturating_add(duration));
}

/// Ends the calling task.
pub fn exit() -> ! {
    scheduler::exit()
}

/// The running task's id.
pub fn current_task() -> TaskId {
    scheduler::current_id()
}

/// The core the caller runs on (it may change at any preemption point).
pub fn current_core() -> usize {
    arch::core_id()
}

/// Starts the scheduler on the boot core: its boot thread becomes the `main` task, and
/// an idle task is made for it.
pub fn start_boot_core() {
    let core = arch::core_id();
    let guard = arch::stack_guard();
    let main = task::adopt_boot_thread("main", core, guard);
    super::hotplug::set_heir(core);
    let idle = scheduler::spawn_idle_task(core)
        .expect("the task pool has room for the boot core's idle task");
    scheduler::start_scheduling_here(main, idle);
}

/// Starts the scheduler on a secondary core: its boot thread becomes its idle task, which
/// the caller then runs with [`idle_loop`] once it has announced the core online.
pub fn start_secondary_core() {
    let core = arch::core_id();
    let guard = arch::stack_guard();
    let idle = task::adopt_boot_thread("idle", core, guard);
    scheduler::start_scheduling_here(idle, idle);
}

/// Runs the calling core's idle task: whatever is runnable, else WFI. Never returns.
pub fn idle_loop() -> ! {
    scheduler::idle_loop()
}

/// The name of the task running on this core, for fault reports ("boot" before the scheduler
/// runs here).
pub fn current_task_name() -> &'static str {
    scheduler::current_on(arch::core_id()).map_or("boot", |id| task(id).name())
}
