//! Boot-time memory: the boot core carves RAM for every core's stacks, the task-stack pool and
//! the per-core timer queues, builds the identity map and turns the MMU on; then it hands the
//! pieces to the scheduler and the timer service.

use super::fatal;
use crate::arch::aarch64::smp::CoreStacks;
use crate::arch::aarch64::{boot, mmu, percpu};
use crate::platform::dtb::{self, Platform};
use crate::platform::memory::{BootAllocator, OutOfMemory, PAGE_SIZE, Range, Stack};
use crate::platform::uart::UartConfig;
use crate::sched::task::{self, TASK_STACK_SIZE};
use crate::timer::{CoreTimerQueue, EMPTY_CORE_TIMER_QUEUE};

/// Size of each core's thread stack (SP_EL0) and exception stack (SP_EL1).
const THREAD_STACK_SIZE: usize = 64 * 1024;
const EXCEPTION_STACK_SIZE: usize = 16 * 1024;

/// Bytes of a pooled task stack with its guard page.
const TASK_STACK_BLOCK: usize = PAGE_SIZE + TASK_STACK_SIZE;

/// Memory the boot core hands out before other cores start.
pub struct BootMemory {
    /// The identity map every core turns on.
    pub mmu: mmu::MmuConfig,
    /// Each core's thread and exception stacks, in DTB order.
    pub core_stacks: heapless::Vec<CoreStacks, { crate::MAX_CORES }>,
    /// One block of task stacks, each preceded by its guard page.
    task_pool: Range,
    /// One block holding every core's timer queue.
    timer_queues: usize,
    /// One block holding every core's trace ring, when the timeline records.
    trace_rings: Option<usize>,
}

fn out_of_memory<T>(error: OutOfMemory) -> T {
    fatal(format_args!("{error}"))
}

/// Carves RAM for every core's stacks, the per-core timer queues (and trace rings when `trace`),
/// the task-stack pool (half the free RAM left at most), then builds the identity map (guard pages unmapped) and turns the
/// MMU on for the boot core.
pub fn carve_and_enable_mmu(
    platform: &Platform,
    dtb: Range,
    console: Option<UartConfig>,
    trace: bool,
) -> BootMemory {
    let layout = boot::image_layout();
    let image = Range {
        start: layout.text.start,
        end: layout.data.end,
    };
    let ram: heapless::Vec<Range, 16> = platform
        .memory
        .iter()
        .map(|region| Range::from(*region))
        .collect();
    let mut reserved: heapless::Vec<Range, { dtb::MAX_RESERVED_REGIONS + 2 }> = platform
        .reserved
        .iter()
        .map(|region| Range::from(*region))
        .collect();
    if reserved
        .push(image)
        .and_then(|()| reserved.push(dtb))
        .is_err()
    {
        fatal(format_args!("too many reserved memory ranges in the DTB"));
    }
    let mut allocator = BootAllocator::new(&ram, &reserved);
    let mut core_stacks = heapless::Vec::new();
    for _ in &platform.cpus {
        let thread = allocator
            .allocate_stack(THREAD_STACK_SIZE)
            .unwrap_or_else(out_of_memory);
        let exception = allocator
            .allocate_stack(EXCEPTION_STACK_SIZE)
            .unwrap_or_else(out_of_memory);
        log::debug!(
            "memory: core {} thread stack {:#x}..{:#x}, exception stack {:#x}..{:#x}",
            core_stacks.len(),
            thread.bottom,
            thread.top,
            exception.bottom,
            exception.top
        );
        // Cannot fail: one entry per CPU, and the DTB has at most MAX_CORES.
        core_stacks.push(CoreStacks { thread, exception }).unwrap();
    }
    let cores = platform.cpus.len();
    let timer_queues = allocator
        .allocate(cores * size_of::<CoreTimerQueue>())
        .unwrap_or_else(out_of_memory);
    let trace_rings = trace.then(|| {
        allocator
            .allocate(cores * super::trace::RING_BYTES)
            .unwrap_or_else(out_of_memory)
    });
    let task_stacks =
        (allocator.largest_free() / 2 / TASK_STACK_BLOCK).min(task::MAX_TASKS - crate::MAX_CORES);
    let pool_start = allocator
        .allocate(task_stacks * TASK_STACK_BLOCK)
        .unwrap_or_else(out_of_memory);
    let task_pool = Range {
        start: pool_start,
        end: pool_start + task_stacks * TASK_STACK_BLOCK,
    };
    log::debug!(
        "memory: {cores} timer queues at {timer_queues:#x}; task-stack pool {:#x}..{:#x} ({task_stacks} stacks, each after a guard page)",
        task_pool.start,
        task_pool.end
    );

    // The page of the UART the console drives, whichever rule chose it.
    let console_page = console.map(|uart| Range {
        start: uart.base() & !(PAGE_SIZE - 1),
        end: (uart.base() & !(PAGE_SIZE - 1)) + PAGE_SIZE,
    });
    let devices: heapless::Vec<Range, 16> = platform
        .interrupt_controller_regions()
        .map(Range::from)
        .chain(console_page)
        .collect();
    let guards = allocator
        .guard_pages()
        .iter()
        .copied()
        .chain([percpu::this_core().stack_guard()])
        .chain((task_pool.start..task_pool.end).step_by(TASK_STACK_BLOCK));
    for device in &devices {
        log::debug!(
            "memory: device memory {:#x}..{:#x}",
            device.start,
            device.end
        );
    }
    let config = mmu::build_identity_map(&ram, &devices, &layout, guards);
    mmu::enable(&config);
    log::debug!("memory: identity map built, MMU on");
    BootMemory {
        mmu: config,
        core_stacks,
        task_pool,
        timer_queues,
        trace_rings,
    }
}

/// With the MMU on: gives every core its timer queue (and trace ring) and fills the task-stack
/// pool.
pub fn install_scheduler_memory(memory: &BootMemory, cores: usize) {
    for core in 0..cores {
        let queue = (memory.timer_queues as *mut CoreTimerQueue).wrapping_add(core);
        // The block was carved for `cores` queues, is mapped normal memory, page aligned.
        // SAFETY: in bounds, aligned, and nothing else refers to it.
        let queue: &'static CoreTimerQueue = unsafe {
            queue.write(EMPTY_CORE_TIMER_QUEUE);
            &*queue
        };
        crate::timer::install_queue(core, queue);
    }
    if let Some(block) = memory.trace_rings {
        super::trace::install_rings(block, cores);
    }
    for guard in (memory.task_pool.start..memory.task_pool.end).step_by(TASK_STACK_BLOCK) {
        let bottom = guard + PAGE_SIZE;
        let stack = Stack {
            guard,
            bottom,
            top: bottom + TASK_STACK_SIZE,
        };
        if !task::add_pooled_stack(stack) {
            log::warn!("task table full: stacks from {guard:#x} on are not used");
            break;
        }
    }
    log::info!(
        "scheduler: {} task stacks of {} KiB, {} timers per core",
        task::capacity(),
        TASK_STACK_SIZE / 1024,
        crate::timer::TIMERS_PER_CORE
    );
}
