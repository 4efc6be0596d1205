//! The per-core scheduler: run queues, the switch, preemption, stealing, idle and wake-up.
//!
//! Each core owns a run queue that only it pushes and pops, without a lock (a ring that thieves
//! take half of with a compare-and-swap when they run dry), and an inbox other cores push the
//! tasks they make runnable for it on. The global queue (rank `GlobalSched`, with the idle-core
//! set) takes overflow. A core with nothing to run waits in WFI with its timer disarmed unless
//! a timer is due (tickless), and is woken by an SGI only when it is idle.

mod coreset;
mod idle;
#[cfg(feature = "legacy-monitor-lock-order")]
mod legacy;
mod percore;
mod queues;
mod report;
mod steal;
mod switch;

use super::task;

pub use idle::idle_loop;
#[cfg(feature = "legacy-monitor-lock-order")]
pub use legacy::{global_lock, ready_under_timer_lock_2019};
pub use percore::{configure, current_id, current_on, start_scheduling_here};
pub use queues::{GLOBAL_QUEUE_CAPACITY, RUN_QUEUE_CAPACITY, enqueue};
pub use report::report_cores;
pub use switch::{
    exit, handle_reschedule, handle_timer_interrupt, interrupt_exit, request_offline,
    request_reschedule, reschedule_sgis, schedule, wake, yield_now,
};
pub(in crate::sched) use switch::{spawn_idle_task, task_entry};
