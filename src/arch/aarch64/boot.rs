//! The first Rust code on each core: from the DTB to a running system.
//!
//! The boot core ([`primary_main`]) discovers the machine from the DTB, starts the console,
//! builds the identity map and turns the MMU on, sets up the GIC and the timer, starts every
//! other core and then runs what the bootargs ask for. Each other core ([`secondary_main`])
//! arrives with its MMU already on (see `boot.s`), sets up its own GIC part and goes idle.

use core::fmt;

use arm_gic::IntId;
use spin::Once;

use super::irq::{self, Sgi};
use super::smp::{self, CoreStacks};
use super::{cpu, gic, mmu, percpu, psci, stop};
use crate::monitor::CoreState;
use crate::platform::bootargs;
use crate::platform::console;
use crate::platform::dtb::{self, Platform};
use crate::platform::memory::{BootAllocator, PAGE_SIZE, Range, Stack};
use crate::sched::task::{self, TASK_STACK_SIZE};
use crate::sync::{IrqSpinLock, LockRank};
use crate::timer::CoreTimerQueue;
use crate::timer::queue::TimerQueue;

/// Size of each core's thread stack (SP_EL0) and exception stack (SP_EL1).
const THREAD_STACK_SIZE: usize = 64 * 1024;
const EXCEPTION_STACK_SIZE: usize = 16 * 1024;

/// Guest time allowed for every core to come online.
const ONLINE_TIMEOUT_NS: u64 = 120_000_000_000;

static PLATFORM: Once<Platform<'static>> = Once::new();
static TIMER_INTID: Once<IntId> = Once::new();

/// The machine as the DTB described it. Available once the boot core has parsed it.
pub fn platform() -> &'static Platform<'static> {
    PLATFORM
        .get()
        .expect("the platform is discovered before anything asks for it")
}

/// The run-time address of a linker-script symbol, computed PC-relative (`adrp` + `add`), so
/// it is right wherever the loader placed the image.
macro_rules! linker_symbol {
    ($name:literal) => {{
        let address: usize;
        // SAFETY: only computes an address; reads and writes nothing.
        unsafe {
            core::arch::asm!(
                concat!("adrp {0}, ", $name),
                concat!("add {0}, {0}, :lo12:", $name),
                out(reg) address,
                options(pure, nomem, nostack),
            )
        };
        address
    }};
}

/// Stops the boot before the console exists: the message goes to semihosting, which QEMU
/// with `-semihosting` prints; on a board the call traps and the fault handler parks the core.
fn early_failure(message: fmt::Arguments) -> ! {
    use semihosting::io::Write;
    if let Ok(mut stderr) = semihosting::io::stderr() {
        let _ = writeln!(stderr, "coresched: {message}");
    }
    stop::use_semihosting_exit(true);
    stop::exit(stop::ExitCode::Fatal)
}

/// The boot core's Rust entry: `dtb_address` from x0 at entry, `entry_el` the exception level
/// the loader entered at (boot.s already left EL2 for EL1).
#[unsafe(no_mangle)]
extern "C" fn primary_main(dtb_address: usize, entry_el: u64) -> ! {
    percpu::install(0);
    cpu::calibrate_clock();
    let (platform, dtb_size) = discover(dtb_address);
    if let Some(conduit) = platform.psci {
        psci::set_conduit(conduit);
    }
    let args = match bootargs::parse(platform.bootargs) {
        Ok(args) => args,
        Err(error) => {
            start_console(platform, log::LevelFilter::Info);
            // The parse failed, so honour the one word that decides how to report it.
            let semihosting = platform
                .bootargs
                .split_ascii_whitespace()
                .any(|word| word == "exit=semihosting");
            stop::use_semihosting_exit(semihosting);
            stop::fatal(format_args!("{error}"))
        }
    };
    start_console(platform, args.log_level);
    stop::use_semihosting_exit(args.exit == bootargs::ExitMethod::Semihosting);
    crate::sync::set_rank_check_enabled(args.rank_check);
    if entry_el == 3 {
        stop::fatal(format_args!(
            "entered at EL3, which coresched does not support: boot it at EL2 or EL1"
        ));
    }
    for word in args.unknown_words() {
        log::warn!("unknown bootarg {word:?} ignored");
    }

    let boot_index = platform
        .cpus
        .iter()
        .position(|cpu| cpu.mpidr == cpu::mpidr())
        .unwrap_or_else(|| {
            stop::fatal(format_args!(
                "the boot core's MPIDR {:#x} is not in the DTB",
                cpu::mpidr()
            ))
        });
    percpu::install(boot_index);
    percpu::this_core().set_mpidr(cpu::mpidr());
    percpu::this_core().set_stack_guard(linker_symbol!("__boot_stack_guard"));

    let dtb = Range {
        start: dtb_address,
        end: dtb_address + dtb_size,
    };
    let memory = carve_memory_and_enable_mmu(platform, dtb);
    install_scheduler_memory(&memory, platform.cpus.len());
    crate::sched::scheduler::configure(
        u64::from(args.slice_ms.get()) * 1_000_000,
        platform.cpus.len(),
    );
    let controller = gic::init(gic::Controller::new(&platform.gic));
    controller.init_distributor();
    register_interrupt_handlers(platform);
    init_this_core_interrupts();
    smp::mark_online();
    log::info!(
        "coresched: {} cores in the DTB, GICv{}, boot core {boot_index}, entered at EL{entry_el}, image at {:#x}",
        platform.cpus.len(),
        controller.version(),
        linker_symbol!("__image_start")
    );

    let table = &crate::monitor::kernel::CORE_TABLE;
    // The table grows before the cores come up: every entry starts `Starting` and turns
    // `Online` once its core is up; readers skip entries that are not online yet.
    for index in 0..platform.cpus.len() {
        let _ = table.change_state(index, CoreState::Starting);
    }
    let _ = table.change_state(boot_index, CoreState::Online);
    for (index, cpu) in platform
        .cpus
        .iter()
        .enumerate()
        .filter(|(index, _)| *index != boot_index)
    {
        if let Err(error) = smp::start_core(index, cpu, memory.core_stacks[index], memory.mmu) {
            let _ = table.change_state(index, CoreState::Offline);
            log::error!(
                "core {index} (MPIDR {:#x}) did not start: {error:?}",
                cpu.mpidr
            );
        }
    }
    let online = smp::wait_online(platform.cpus.len(), ONLINE_TIMEOUT_NS);
    // The boot core marks the started cores online in the table, one lock hold each: hundreds
    // of fresh cores taking the core-table lock at once would only queue on it.
    for index in (0..platform.cpus.len()).filter(|index| percpu::core(*index).is_online()) {
        let _ = table.change_state(index, CoreState::Online);
    }
    crate::kprintln!(
        "boot: {online} cores online in {} us guest time",
        cpu::now_ns() / 1000
    );
    if online < platform.cpus.len() {
        log::error!("only {online} of {} cores came online", platform.cpus.len());
    }
    crate::sched::start_boot_core();
    cpu::irq_enable();
    stop::exit(crate::run(&args))
}

fn discover(dtb_address: usize) -> (&'static Platform<'static>, usize) {
    if dtb_address == 0 {
        early_failure(format_args!(
            "no DTB: x0 was 0 at entry (boot the Image, not the ELF)"
        ));
    }
    // SAFETY: the boot protocol puts a DTB at x0; the header is read first to learn its size,
    // and both reads stay inside the blob the header describes. RAM is readable with the MMU off.
    let header = unsafe { core::slice::from_raw_parts(dtb_address as *const u8, 40) };
    let size = dtb::blob_size(header).unwrap_or_else(|error| {
        early_failure(format_args!("bad DTB at {dtb_address:#x}: {error}"))
    });
    // SAFETY: as above; `size` was checked against the header's own bound.
    let blob = unsafe { core::slice::from_raw_parts(dtb_address as *const u8, size) };
    let platform = dtb::discover(blob).unwrap_or_else(|error| {
        early_failure(format_args!("bad DTB at {dtb_address:#x}: {error}"))
    });
    (PLATFORM.call_once(|| platform), size)
}

/// Starts the console on the PL011 the DTB names, and warns about the CPUs it left out;
/// stops the boot if the DTB names no console or one the kernel cannot drive.
fn start_console(platform: &Platform, level: log::LevelFilter) {
    match &platform.console {
        // SAFETY: the DTB's stdout-path names this PL011, and nothing else drives it.
        Some(uart) if uart.is_pl011() => unsafe { console::init(uart.regs.base() as usize, level) },
        Some(uart) => early_failure(format_args!("DTB {uart}")),
        None => early_failure(format_args!(
            "DTB names no console: /chosen/stdout-path is missing"
        )),
    }
    for cpu in &platform.skipped_cpus {
        log::warn!(
            "CPU with MPIDR {:#x} skipped: unknown enable-method {:?}",
            cpu.mpidr,
            cpu.enable_method
        );
    }
}

/// Memory the boot core hands out before other cores start.
struct BootMemory {
    mmu: mmu::MmuConfig,
    core_stacks: heapless::Vec<CoreStacks, { crate::MAX_CORES }>,
    /// One block of task stacks, each preceded by its guard page.
    task_pool: Range,
    task_stacks: usize,
    /// One block holding every core's timer queue.
    timer_queues: usize,
}

/// Bytes of a pooled task stack with its guard page.
const TASK_STACK_BLOCK: usize = PAGE_SIZE + TASK_STACK_SIZE;

/// Carves RAM for every core's stacks, the task-stack pool (half the free RAM at most) and the
/// per-core timer queues, then builds the identity map (guard pages unmapped) and turns the
/// MMU on for the boot core.
fn carve_memory_and_enable_mmu(platform: &Platform, dtb: Range) -> BootMemory {
    let image = Range {
        start: linker_symbol!("__image_start"),
        end: linker_symbol!("__image_end"),
    };
    let rodata = linker_symbol!("__rodata_start");
    let data = linker_symbol!("__data_start");
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
        stop::fatal(format_args!("too many reserved memory ranges in the DTB"));
    }
    fn out_of_memory<T>(error: crate::platform::memory::OutOfMemory) -> T {
        stop::fatal(format_args!("{error}"))
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
        // Cannot fail: one entry per CPU, and the DTB has at most MAX_CORES.
        core_stacks.push(CoreStacks { thread, exception }).unwrap();
    }
    let cores = platform.cpus.len();
    let timer_queues = allocator
        .allocate(cores * size_of::<CoreTimerQueue>())
        .unwrap_or_else(out_of_memory);
    let task_stacks =
        (allocator.largest_free() / 2 / TASK_STACK_BLOCK).min(task::MAX_TASKS - crate::MAX_CORES);
    let pool_start = allocator
        .allocate(task_stacks * TASK_STACK_BLOCK)
        .unwrap_or_else(out_of_memory);
    let task_pool = Range {
        start: pool_start,
        end: pool_start + task_stacks * TASK_STACK_BLOCK,
    };

    let devices: heapless::Vec<Range, 16> = platform.device_regions().map(Range::from).collect();
    let guards = allocator
        .guard_pages()
        .iter()
        .copied()
        .chain([percpu::this_core().stack_guard()])
        .chain((task_pool.start..task_pool.end).step_by(TASK_STACK_BLOCK));
    let layout = mmu::ImageLayout {
        text: Range {
            start: image.start,
            end: rodata,
        },
        rodata: Range {
            start: rodata,
            end: data,
        },
        data: Range {
            start: data,
            end: image.end,
        },
    };
    let config = mmu::build_identity_map(&ram, &devices, &layout, guards);
    mmu::enable(&config);
    BootMemory {
        mmu: config,
        core_stacks,
        task_pool,
        task_stacks,
        timer_queues,
    }
}

/// With the MMU on: gives every core its timer queue and fills the task-stack pool.
fn install_scheduler_memory(memory: &BootMemory, cores: usize) {
    for core in 0..cores {
        let queue = (memory.timer_queues as *mut CoreTimerQueue).wrapping_add(core);
        // The block was carved for `cores` queues, is mapped normal memory, page aligned.
        // SAFETY: in bounds, aligned, and nothing else refers to it.
        let queue: &'static CoreTimerQueue = unsafe {
            queue.write(IrqSpinLock::new(LockRank::TimerQueue, TimerQueue::new()));
            &*queue
        };
        crate::timer::install_queue(core, queue);
    }
    for guard in (memory.task_pool.start..memory.task_pool.end).step_by(TASK_STACK_BLOCK) {
        let bottom = guard + PAGE_SIZE;
        task::add_pooled_stack(Stack {
            guard,
            bottom,
            top: bottom + TASK_STACK_SIZE,
        });
    }
    log::info!(
        "scheduler: {} task stacks of {} KiB, {} timers per core",
        memory.task_stacks,
        TASK_STACK_SIZE / 1024,
        crate::timer::TIMERS_PER_CORE
    );
}

fn register_interrupt_handlers(platform: &Platform) {
    let timer = IntId::ppi(platform.timer.virt - 16);
    TIMER_INTID.call_once(|| timer);
    let handlers: [(IntId, irq::Handler); 4] = [
        (IntId::sgi(Sgi::Call as u32), smp::handle_call),
        (IntId::sgi(Sgi::Stop as u32), stop::handle_stop),
        (
            IntId::sgi(Sgi::Reschedule as u32),
            crate::sched::handle_reschedule,
        ),
        (timer, crate::timer::handle_timer_interrupt),
    ];
    for (intid, handler) in handlers {
        // Cannot fail: each id is registered once, here, and all are in range.
        irq::register(intid, handler).unwrap();
    }
}

/// Sets up the calling core's GIC part and enables its private interrupts.
fn init_this_core_interrupts() {
    let controller = gic::controller();
    controller.init_this_core();
    if let Some(mask) = controller.this_core_v2_interface_mask() {
        percpu::this_core().set_gic_v2_interface_mask(mask);
    }
    for sgi in [Sgi::Call, Sgi::Stop, Sgi::Reschedule] {
        irq::enable_private(IntId::sgi(sgi as u32));
    }
    irq::enable_private(
        *TIMER_INTID
            .get()
            .expect("registered before any core enables it"),
    );
}

/// A secondary core's Rust entry (boot.s turned its MMU on and gave it its stacks).
#[unsafe(no_mangle)]
extern "C" fn secondary_main(index: usize) -> ! {
    percpu::install(index);
    init_this_core_interrupts();
    smp::mark_online();
    crate::sched::start_secondary_core()
}
