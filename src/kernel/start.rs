//! Start-up order: the boot core from the DTB to a running system, and each other core from
//! its first Rust instruction to its idle loop.
//!
//! `boot.s` calls [`primary_main`] on the boot core (MMU off, `x0` = the DTB) and
//! [`secondary_main`] on every other core (MMU on, stacks set). The boot core discovers the
//! machine, starts the console, carves memory and turns the MMU on, sets up the scheduler, the
//! timers and the interrupt controller, starts every other core, then runs what the bootargs
//! ask for.

use spin::Once;

use super::{fatal, interrupts, memory};
use crate::arch::aarch64::stop::{self, early_failure};
use crate::arch::aarch64::{boot, cpu, intc, percpu, psci, smp};
use crate::platform::bootargs;
use crate::platform::console;
use crate::platform::dtb::{self, Platform};
use crate::platform::memory::Range;
use crate::platform::uart::UartConfig;
use crate::registry::{CORE_TABLE, CoreState};

/// How many stall limits (`stall-ms`) a core may spin on one lock before the lock-up detector
/// reports a deadlock: far past any real hold, or any wait for a holder the host did not run.
const LOCK_UP_STALLS: u64 = 10;

/// Guest time allowed for every core to come online.
const ONLINE_TIMEOUT_NS: u64 = 120_000_000_000;

static PLATFORM: Once<Platform<'static>> = Once::new();

/// The machine as the DTB described it. Available once the boot core has parsed it.
pub fn platform() -> &'static Platform<'static> {
    PLATFORM
        .get()
        .expect("the platform is discovered before anything asks for it")
}

/// The boot core's Rust entry, called by `boot.s`: `dtb_address` from x0 at entry, `entry_el`
/// the exception level the loader entered at (boot.s already left EL2 for EL1).
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
            start_console(platform, None, log::LevelFilter::Info);
            // The parse failed, so honour the one word that decides how to report it.
            let semihosting = platform
                .bootargs
                .split_ascii_whitespace()
                .any(|word| word == "exit=semihosting");
            stop::use_semihosting_exit(semihosting);
            fatal(format_args!("{error}"))
        }
    };
    let console = start_console(platform, args.earlycon, args.log_level);
    log_discovery(platform, dtb_address, dtb_size);
    stop::use_semihosting_exit(args.exit == bootargs::ExitMethod::Semihosting);
    crate::sync::set_rank_check_enabled(args.rank_check);
    crate::sync::perturb::set_seed(args.seed);
    crate::sync::lockup::set_handler(
        LOCK_UP_STALLS * u64::from(args.stall_ms.get()) * 1_000_000,
        super::lock_up,
    );
    if entry_el == 3 {
        fatal(format_args!(
            "entered at EL3, which coresched does not support: boot it at EL2 or EL1"
        ));
    }
    for word in args.unknown_words() {
        log::warn!("unknown bootarg {word:?} ignored");
    }
    let unnamed = args.unknown_word_count() - args.unknown_words().len();
    if unnamed > 0 {
        log::warn!("{unnamed} more unknown bootargs ignored");
    }
    super::trace::refuse_if_unavailable(&args);

    let boot_index = platform
        .cpus
        .iter()
        .position(|cpu| cpu.mpidr == cpu::mpidr())
        .unwrap_or_else(|| {
            fatal(format_args!(
                "the boot core's MPIDR {:#x} is not in the DTB",
                cpu::mpidr()
            ))
        });
    percpu::install(boot_index);
    percpu::this_core().set_mpidr(cpu::mpidr());
    percpu::this_core().set_stack_guard(boot::boot_stack_guard());

    let dtb = Range {
        start: dtb_address,
        end: dtb_address + dtb_size,
    };
    let memory = memory::carve_and_enable_mmu(platform, dtb, console, args.trace);
    memory::install_scheduler_memory(&memory, platform.cpus.len());
    crate::sched::scheduler::configure(
        u64::from(args.slice_ms.get()) * 1_000_000,
        platform.cpus.len(),
    );
    let controller = intc::init(intc::Controller::new(&platform.gic));
    controller.init_global();
    interrupts::register_handlers(platform);
    interrupts::init_this_core();
    smp::mark_online();
    log::info!(
        "coresched: {} cores in the DTB, {}, boot core {boot_index}, entered at EL{entry_el}, image at {:#x}",
        platform.cpus.len(),
        controller.name(),
        boot::image_layout().text.start
    );

    // The table grows before the cores come up: every entry starts `Starting` and turns
    // `Online` once its core is up; readers skip entries that are not online yet.
    for index in 0..platform.cpus.len() {
        set_core_state(index, CoreState::Starting);
    }
    set_core_state(boot_index, CoreState::Online);
    // The boot core, then every core whose start request was made: only those are waited for.
    let mut expected = 1;
    for (index, cpu) in platform
        .cpus
        .iter()
        .enumerate()
        .filter(|(index, _)| *index != boot_index)
    {
        if let Some(why) = platform.cannot_start(cpu) {
            set_core_state(index, CoreState::Offline);
            log::warn!("core {index} (MPIDR {:#x}) left off: {why}", cpu.mpidr);
            continue;
        }
        log::debug!(
            "boot: starting core {index} (MPIDR {:#x}) with {}",
            cpu.mpidr,
            enable_method_name(cpu.enable_method)
        );
        if let Err(error) = smp::start_core(index, cpu, memory.core_stacks[index], memory.mmu) {
            set_core_state(index, CoreState::Offline);
            log::error!(
                "core {index} (MPIDR {:#x}) did not start: {error:?}",
                cpu.mpidr
            );
        } else {
            expected += 1;
        }
    }
    let online = smp::wait_online(expected, ONLINE_TIMEOUT_NS);
    // The boot core marks the started cores online in the table, one lock hold each: hundreds
    // of fresh cores taking the core-table lock at once would only queue on it.
    for index in (0..platform.cpus.len())
        .filter(|index| *index != boot_index && percpu::core(*index).is_online())
    {
        set_core_state(index, CoreState::Online);
    }
    crate::kprintln!(
        "boot: {online} cores online in {} us guest time",
        cpu::now_ns() / 1000
    );
    if online < expected {
        log::error!("only {online} of {expected} started cores came online");
    }
    crate::sched::start_boot_core();
    cpu::irq_enable();
    stop::exit(super::run(&args))
}

/// A secondary core's Rust entry, called by `boot.s` (which turned its MMU on and gave it its
/// stacks) with the core's index in the DTB's `/cpus` order.
#[unsafe(no_mangle)]
extern "C" fn secondary_main(index: usize) -> ! {
    percpu::install(index);
    interrupts::init_this_core();
    crate::sched::start_secondary_core();
    // Online only once its scheduler is ready: from now on work may be queued for it (a core
    // coming back from hotplug reopens its run queue in `start_secondary_core`).
    smp::mark_online();
    crate::trace::record!(Online);
    crate::sched::idle_loop()
}

/// Moves `core` to `state` in the core table at boot, where every change is one the table
/// allows: a refusal is a bug, and stops the boot.
fn set_core_state(core: usize, state: CoreState) {
    if let Err(error) = CORE_TABLE.change_state(core, state) {
        fatal(format_args!("boot: core table refused: {error:?}"));
    }
}

fn discover(dtb_address: usize) -> (&'static Platform<'static>, usize) {
    if dtb_address == 0 {
        early_failure(format_args!(
            "no DTB: x0 was 0 at entry (boot the Image, not the ELF)"
        ));
    }
    // SAFETY: the boot protocol puts a DTB at x0; the header is read first to learn its size,
    // and both reads stay inside the blob the header describes. RAM is readable with the MMU off.
    let header = unsafe { core::slice::from_raw_parts(dtb_address as *const u8, dtb::HEADER_SIZE) };
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

/// Starts the console on the UART [`Platform::choose_console`] picks (the stdout-path UART,
/// `earlycon=`, a `serialN` alias, the first UART with a driver) or runs without one (as Linux
/// does); says which rule picked it and why stdout-path did not, and warns about the CPUs the
/// DTB lists that cannot be started. Returns the UART chosen.
fn start_console(
    platform: &Platform,
    earlycon: Option<UartConfig>,
    level: log::LevelFilter,
) -> Option<UartConfig> {
    let chosen = platform.choose_console(earlycon);
    if let Some(choice) = chosen {
        // SAFETY: the DTB or the earlycon= bootarg names this UART, and nothing else drives it.
        unsafe { console::init(choice.config, level) };
        log::debug!("console: {choice}");
    }
    if let Some(problem) = platform.stdout_problem() {
        match chosen {
            Some(choice) => log::warn!("{problem}; console: {choice}"),
            None => log::warn!("{problem}, and no other UART with a driver: no console"),
        }
    }
    for cpu in &platform.skipped_cpus {
        log::warn!(
            "CPU with MPIDR {:#x} skipped: unknown enable-method {:?}",
            cpu.mpidr,
            cpu.enable_method
        );
    }
    chosen.map(|choice| choice.config)
}

/// Logs, at `debug`, what discovery found: the DTB, each CPU and how it starts, RAM, the
/// reserved regions, the PSCI conduit, the GIC's frames and the timer's interrupts.
fn log_discovery(platform: &Platform, dtb_address: usize, dtb_size: usize) {
    if !log::log_enabled!(log::Level::Debug) {
        return;
    }
    log::debug!("dtb: {dtb_size} bytes at {dtb_address:#x}");
    for (index, cpu) in platform.cpus.iter().enumerate() {
        log::debug!(
            "dtb: cpu {index}: MPIDR {:#x}, started with {}",
            cpu.mpidr,
            enable_method_name(cpu.enable_method)
        );
    }
    for region in &platform.memory {
        log::debug!(
            "dtb: RAM {:#x}..{:#x} ({} MiB)",
            region.base(),
            region.end(),
            region.size() >> 20
        );
    }
    for region in &platform.reserved {
        log::debug!(
            "dtb: reserved {:#x}..{:#x} ({} bytes)",
            region.base(),
            region.end(),
            region.size()
        );
    }
    log::debug!("dtb: PSCI conduit {:?}", platform.psci);
    match &platform.gic {
        dtb::Gic::V2 {
            distributor,
            cpu_interface,
        } => log::debug!(
            "dtb: GICv2 distributor at {:#x}, CPU interface at {:#x}",
            distributor.base(),
            cpu_interface.base()
        ),
        dtb::Gic::V3 {
            distributor,
            redistributors,
        } => {
            log::debug!("dtb: GICv3 distributor at {:#x}", distributor.base());
            for region in redistributors {
                log::debug!(
                    "dtb: GICv3 redistributors {:#x}..{:#x}",
                    region.base(),
                    region.end()
                );
            }
        }
        dtb::Gic::Bcm2836Local { registers } => log::debug!(
            "dtb: BCM2836 per-core controller at {:#x}",
            registers.base()
        ),
    }
    log::debug!("dtb: timer interrupts {:?}", platform.timer);
}

/// How a CPU is started, in words: `PSCI CPU_ON`, `spin-table at 0x...`, or `no enable-method`.
fn enable_method_name(method: dtb::EnableMethod) -> impl core::fmt::Display {
    struct Name(dtb::EnableMethod);
    impl core::fmt::Display for Name {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            match self.0 {
                dtb::EnableMethod::Psci => write!(f, "PSCI CPU_ON"),
                dtb::EnableMethod::SpinTable { release_addr } => {
                    write!(f, "spin-table at {release_addr:#x}")
                }
                dtb::EnableMethod::Missing => write!(f, "no enable-method"),
            }
        }
    }
    Name(method)
}
