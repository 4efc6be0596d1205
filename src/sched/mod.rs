//! Scheduling: tasks (kernel threads) on per-core run queues, with blocking primitives.
//!
//! The portable parts, unit-tested on the host, are `ring` (a core's lock-free run queue: the
//! owner pushes and pops, thieves take half), `inbox` (the lock-free list other cores push a
//! core's woken tasks on), `stealable` (a core's count of stealable tasks and its place in the
//! stealable set), `wake_request` (an idle core's request to be woken once a core's counted
//! tasks can be taken), all four with loom models, `runqueue` (the fixed-capacity FIFO of the
//! global queue) and `balance` (victim order, how much to steal, when to wake an idle core).
//! On the board, `scheduler` is the scheduler itself, `task` the task table and
//! `wait` the wait queue with the event, semaphore and mutex built on it.
//!
//! The API a kernel user sees:
//! - `spawn` with `SpawnOptions` (name, stack size, affinity) returns a `JoinHandle`;
//!   `yield_now`, `sleep_until`, `sleep_for`, `exit`, `current_task`, `current_core`.
//! - `Event`, `Semaphore` and `Mutex` block the calling task.
//! - Capacities are fixed (tasks: the boot-time stack pool; run queues; timers per core), and
//!   running into one is an `Err` the caller sees.

pub mod balance;
pub mod inbox;
pub mod ring;
pub mod runqueue;
pub mod stealable;
pub mod wake_request;

#[cfg(target_os = "none")]
pub mod hotplug;
#[cfg(target_os = "none")]
pub mod scheduler;
#[cfg(target_os = "none")]
pub mod task;
#[cfg(target_os = "none")]
pub mod wait;

#[cfg(target_os = "none")]
pub use self::api::*;

#[cfg(target_os = "none")]
mod api;
