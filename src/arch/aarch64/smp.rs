//! Bringing up the other cores, and running a function on a chosen core.
//!
//! The kernel starts every CPU the DTB gives a way to start: with PSCI `CPU_ON` (all at once),
//! or released from its spin table (one at a time: a released core finds its record through
//! one shared slot). Each
//! core gets its own thread stack and exception stack, both with guard pages, sized from the
//! CPU count.

use core::sync::atomic::{AtomicUsize, Ordering};

use arm_gic::IntId;

use super::fn_cell::FnCell;
use super::irq::{self, Sgi};
use super::mmu::MmuConfig;
use super::{cpu, percpu};
use crate::MAX_CORES;
use crate::platform::dtb::{Cpu, EnableMethod};
use crate::platform::memory::Stack;

/// What a starting core reads with its MMU still off (offsets are used by `boot.s`).
#[repr(C, align(64))]
struct SecondaryBoot {
    mmu: MmuConfig,
    exception_stack_top: u64,
    thread_stack_top: u64,
    index: u64,
}

static mut SECONDARY_BOOT: [SecondaryBoot; MAX_CORES] = [const {
    SecondaryBoot {
        mmu: MmuConfig {
            mair: 0,
            tcr: 0,
            ttbr0: 0,
            sctlr: 0,
        },
        exception_stack_top: 0,
        thread_stack_top: 0,
        index: 0,
    }
}; MAX_CORES];

/// The record a spin-table core reads on release (see `spin_table_entry` in boot.s).
#[unsafe(no_mangle)]
static mut SPIN_TABLE_RECORD: u64 = 0;

static ONLINE_CORES: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" {
    fn secondary_entry();
    fn spin_table_entry();
}

/// Stacks for one core.
#[derive(Clone, Copy, Debug)]
pub struct CoreStacks {
    /// Runs the core's threads (SP_EL0).
    pub thread: Stack,
    /// Takes its exceptions (SP_EL1).
    pub exception: Stack,
}

/// Why a core did not start.
#[derive(Clone, Copy, Debug)]
pub enum StartError {
    /// PSCI `CPU_ON` returned an error.
    Psci(smccc::psci::error::Error),
    /// The DTB says PSCI but describes no conduit.
    NoPsciConduit,
    /// The DTB names no enable method for this (non-boot) CPU.
    NoEnableMethod,
}

/// Starts core `index` (DTB order) described by `cpu`, with `stacks`. Returns once the start
/// request is made; [`wait_online`] waits for the core to come up.
pub fn start_core(
    index: usize,
    cpu: &Cpu,
    stacks: CoreStacks,
    mmu: MmuConfig,
) -> Result<(), StartError> {
    percpu::core(index).set_mpidr(cpu.mpidr);
    let record = SecondaryBoot {
        mmu,
        exception_stack_top: stacks.exception.top as u64,
        thread_stack_top: stacks.thread.top as u64,
        index: index as u64,
    };
    let record_address = (&raw mut SECONDARY_BOOT)
        .cast::<SecondaryBoot>()
        .wrapping_add(index);
    // `index` < MAX_CORES (it indexes the DTB's CPUs); only the boot core writes records.
    // SAFETY: in bounds, and the core reads its record only after being started.
    unsafe { record_address.write(record) };
    percpu::core(index).set_stack_guard(stacks.thread.guard);
    let record_address = record_address as u64;
    clean_to_point_of_coherency(record_address);
    match cpu.enable_method {
        EnableMethod::Missing => Err(StartError::NoEnableMethod),
        EnableMethod::Psci => {
            if !super::psci::is_available() {
                return Err(StartError::NoPsciConduit);
            }
            super::psci::cpu_on(
                cpu.mpidr,
                secondary_entry as *const () as u64,
                record_address,
            )
            .map_err(StartError::Psci)
        }
        EnableMethod::SpinTable { release_addr } => {
            let before = ONLINE_CORES.load(Ordering::Acquire);
            // Spin-table cores start one at a time (we wait below).
            // SAFETY: so the slot is not overwritten while a released core may still read it.
            unsafe { (&raw mut SPIN_TABLE_RECORD).write(record_address) };
            clean_to_point_of_coherency(&raw const SPIN_TABLE_RECORD as u64);
            let release = release_addr.get() as *mut u64;
            // SAFETY: the DTB names this RAM word as the core's release address; the core
            // polls it with its MMU off, so the write is cleaned to the point of coherency.
            unsafe { release.write_volatile(spin_table_entry as *const () as u64) };
            clean_to_point_of_coherency(release_addr.get());
            aarch64_cpu::asm::sev();
            while ONLINE_CORES.load(Ordering::Acquire) == before {
                core::hint::spin_loop();
            }
            Ok(())
        }
    }
}

/// Writes the cache line holding `address` back to memory, where a core with its MMU and
/// caches off reads.
fn clean_to_point_of_coherency(address: u64) {
    // SAFETY: a cache maintenance instruction on a mapped address; it changes no data.
    unsafe { core::arch::asm!("dc civac, {0}", "dsb sy", in(reg) address, options(nostack)) };
}

/// Records that the calling core is up: it takes interrupts from now on.
pub fn mark_online() {
    percpu::this_core().set_online(true);
    ONLINE_CORES.fetch_add(1, Ordering::AcqRel);
}

/// Records that the calling core is going offline: it takes no more SGIs.
pub fn mark_offline() {
    percpu::this_core().set_online(false);
    ONLINE_CORES.fetch_sub(1, Ordering::AcqRel);
}

/// Powers the calling core down with PSCI `CPU_OFF` (after [`mark_offline`]; it is restarted
/// by [`restart_core`]). If the firmware refuses, the core parks, which is as good as off.
pub fn power_off_this_core() -> ! {
    // Returns only if the firmware refused.
    if let Err(error) = super::psci::cpu_off() {
        log::warn!(
            "core {}: PSCI CPU_OFF refused ({error:?}); parked instead",
            cpu::core_id()
        );
    }
    super::stop::park()
}

/// Whether core `index` is powered off, as the firmware says (PSCI `AFFINITY_INFO`); a core
/// going offline marks itself offline a moment before it is. `true` if the firmware cannot
/// say (no PSCI, or no such call), as then nothing better can be known.
pub fn is_powered_off(index: usize) -> bool {
    super::psci::is_off(percpu::core(index).mpidr()).unwrap_or(true)
}

/// Whether cores can be powered off and started again at run time: both need PSCI (`CPU_OFF`,
/// `CPU_ON`). Without it (spin-table boards such as the Raspberry Pi 3) a core released from its
/// spin table can never return to it, so no core may go offline.
pub fn can_hotplug() -> bool {
    super::psci::is_available()
}

/// Starts core `index` again after it went offline, with the record and stacks it booted with.
pub fn restart_core(index: usize) -> Result<(), StartError> {
    let record = (&raw const SECONDARY_BOOT)
        .cast::<SecondaryBoot>()
        .wrapping_add(index) as u64;
    if !super::psci::is_available() {
        return Err(StartError::NoPsciConduit);
    }
    super::psci::cpu_on(
        percpu::core(index).mpidr(),
        secondary_entry as *const () as u64,
        record,
    )
    .map_err(StartError::Psci)
}

/// How many cores are online.
pub fn online_count() -> usize {
    ONLINE_CORES.load(Ordering::Acquire)
}

/// Waits until `count` cores are online or `timeout_ns` of guest time passed; returns the
/// number online.
pub fn wait_online(count: usize, timeout_ns: u64) -> usize {
    let deadline = cpu::now_ns().saturating_add(timeout_ns);
    while online_count() < count && cpu::now_ns() < deadline {
        core::hint::spin_loop();
    }
    online_count()
}

static CALL_MAILBOX: [FnCell<fn()>; MAX_CORES] = [const { FnCell::new() }; MAX_CORES];

/// Runs `function` on core `target` in interrupt context, as soon as it takes the SGI. Waits
/// only for the target's mailbox to be free, not for the call to finish.
pub fn call_on(target: usize, function: fn()) {
    let mailbox = &CALL_MAILBOX[target];
    while !mailbox.store_if_empty(function) {
        core::hint::spin_loop();
    }
    irq::send_sgi(Sgi::Call, target);
}

/// The handler of [`Sgi::Call`]: runs the function in this core's mailbox.
pub fn handle_call(_intid: IntId) {
    if let Some(function) = CALL_MAILBOX[cpu::core_id()].take() {
        function();
    }
}
