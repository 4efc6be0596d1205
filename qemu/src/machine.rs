//! The virtual board a boot runs on: the QEMU `virt` settings coresched cares about, the limits
//! QEMU puts on them, and the QEMU arguments they turn into.

use std::ffi::OsString;
use std::fmt;
use std::path::Path;

/// The most vCPUs QEMU `virt` runs (with GICv3); coresched's `MAX_CORES` matches it.
pub const MAX_SMP: u32 = 512;

/// Where RAM starts on QEMU `virt`; the loader puts an Image at this plus its `text_offset`.
pub const VIRT_RAM_BASE: u64 = 0x4000_0000;

/// The least guest memory the kernel is booted with, in MiB.
pub const MIN_MEM_MIB: u32 = 128;

/// The interrupt controller QEMU `virt` emulates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gic {
    /// GICv2: a target list of 8 bits, so at most 8 vCPUs.
    V2,
    /// GICv3: affinity routing, up to [`MAX_SMP`] vCPUs.
    V3,
}

impl Gic {
    /// The version number QEMU's `gic-version=` takes.
    pub const fn version(self) -> u8 {
        match self {
            Gic::V2 => 2,
            Gic::V3 => 3,
        }
    }

    /// The most vCPUs QEMU `virt` can wire to this interrupt controller.
    pub const fn max_smp(self) -> u32 {
        match self {
            Gic::V2 => 8,
            Gic::V3 => MAX_SMP,
        }
    }
}

/// The CPU model QEMU emulates (`-cpu`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cpu {
    /// Arm Cortex-A53 (Armv8.0, in-order; the Raspberry Pi 3's core).
    CortexA53,
    /// Arm Cortex-A72 (Armv8.0; the Raspberry Pi 4's core).
    CortexA72,
    /// Every architecture feature QEMU implements.
    Max,
}

impl Cpu {
    /// Every model, in the order `--help` lists them.
    pub const ALL: [Cpu; 3] = [Cpu::CortexA53, Cpu::CortexA72, Cpu::Max];

    /// The name QEMU's `-cpu` takes (and `--cpu` accepts).
    pub const fn qemu_name(self) -> &'static str {
        match self {
            Cpu::CortexA53 => "cortex-a53",
            Cpu::CortexA72 => "cortex-a72",
            Cpu::Max => "max",
        }
    }
}

/// The exception level the kernel is entered at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExceptionLevel {
    /// EL1: QEMU's default; PSCI calls go through `hvc`.
    El1,
    /// EL2 (`virtualization=on`): the kernel drops to EL1 itself; PSCI calls go through `smc`.
    El2,
}

impl ExceptionLevel {
    /// The level's number, as `--el` takes it.
    pub const fn number(self) -> u8 {
        match self {
            ExceptionLevel::El1 => 1,
            ExceptionLevel::El2 => 2,
        }
    }
}

/// How guest time runs: QEMU's `-icount` setting, built in one place ([`Clock::qemu_args`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Clock {
    /// QEMU's default: guest time follows the host's clock, and the vCPUs run on host threads
    /// of their own. The fastest; timings and interleavings vary from run to run.
    Host,
    /// `-icount shift=0`: one guest nanosecond per instruction, all vCPUs round-robin on one
    /// host thread, so guest-timed figures repeat run to run. While every vCPU waits in WFI,
    /// guest time still follows the host's clock, so runs with idle time vary.
    Icount,
    /// `-icount shift=0,sleep=off`: as [`Clock::Icount`], but idle time jumps straight to the
    /// next timer deadline instead of following the host's clock, so a whole SMP run (console,
    /// interleavings, guest times) is the same every time.
    Deterministic,
}

impl Clock {
    /// The QEMU arguments for this clock: none, or `-icount` and its setting.
    pub fn qemu_args(self) -> &'static [&'static str] {
        match self {
            Clock::Host => &[],
            Clock::Icount => &["-icount", "shift=0"],
            Clock::Deterministic => &["-icount", "shift=0,sleep=off"],
        }
    }
}

/// A QEMU `virt` board: cores, interrupt controller, CPU model, entry level, memory and clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Machine {
    /// Number of vCPUs (`-smp`).
    pub smp: u32,
    /// Interrupt controller.
    pub gic: Gic,
    /// CPU model.
    pub cpu: Cpu,
    /// Exception level the kernel is entered at.
    pub el: ExceptionLevel,
    /// Guest memory in MiB (`-m`).
    pub mem_mib: u32,
    /// How guest time runs (`-icount`).
    pub clock: Clock,
}

impl Default for Machine {
    /// `cargo qemu`'s defaults: 4 Cortex-A72 vCPUs, GICv3, EL1 entry, 1 GiB, real-time clock.
    fn default() -> Self {
        Machine {
            smp: 4,
            gic: Gic::V3,
            cpu: Cpu::CortexA72,
            el: ExceptionLevel::El1,
            mem_mib: 1024,
            clock: Clock::Host,
        }
    }
}

impl Machine {
    /// Checks the limits QEMU `virt` and the kernel put on the settings. `Err` holds one line
    /// naming the offending flag and what would be accepted.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_SMP).contains(&self.smp) {
            return Err(format!("--smp must be 1 to {MAX_SMP}, got {}", self.smp));
        }
        if self.smp > self.gic.max_smp() {
            return Err(format!(
                "--smp {} needs --gic 3: GICv{} allows at most {} vCPUs",
                self.smp,
                self.gic.version(),
                self.gic.max_smp()
            ));
        }
        if self.mem_mib < MIN_MEM_MIB {
            return Err(format!(
                "--mem must be at least {MIN_MEM_MIB}M, got {}M",
                self.mem_mib
            ));
        }
        Ok(())
    }

    /// The QEMU arguments that describe this board (`-machine`, `-cpu`, `-smp`, `-m`, `-icount`).
    pub fn qemu_args(&self) -> Vec<String> {
        let mut machine = format!("virt,gic-version={}", self.gic.version());
        if self.el == ExceptionLevel::El2 {
            machine.push_str(",virtualization=on");
        }
        let mut args = vec![
            "-machine".to_owned(),
            machine,
            "-cpu".to_owned(),
            self.cpu.qemu_name().to_owned(),
            "-smp".to_owned(),
            self.smp.to_string(),
            "-m".to_owned(),
            format!("{}M", self.mem_mib),
        ];
        args.extend(self.clock.qemu_args().iter().map(|&arg| arg.to_owned()));
        args
    }

    /// [`Machine::qemu_args`] followed by `-kernel <kernel>`: the start of every command line
    /// that boots a kernel on this board.
    pub fn qemu_args_booting(&self, kernel: &Path) -> Vec<OsString> {
        let mut args: Vec<OsString> = self.qemu_args().into_iter().map(Into::into).collect();
        args.extend(["-kernel".into(), kernel.into()]);
        args
    }
}

impl fmt::Display for Machine {
    /// A compact one-line description, e.g. `smp=64 gic=3 cpu=max el=2 mem=1024M icount`
    /// (`deterministic` for [`Clock::Deterministic`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "smp={} gic={} cpu={} el={} mem={}M",
            self.smp,
            self.gic.version(),
            self.cpu.qemu_name(),
            self.el.number(),
            self.mem_mib
        )?;
        match self.clock {
            Clock::Host => Ok(()),
            Clock::Icount => f.write_str(" icount"),
            Clock::Deterministic => f.write_str(" deterministic"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_machine_is_valid_and_matches_the_documented_defaults() {
        let machine = Machine::default();
        assert_eq!(machine.validate(), Ok(()));
        assert_eq!(
            machine.to_string(),
            "smp=4 gic=3 cpu=cortex-a72 el=1 mem=1024M"
        );
    }

    #[test]
    fn smp_limits_depend_on_the_gic() {
        let with = |smp, gic| {
            Machine {
                smp,
                gic,
                ..Machine::default()
            }
            .validate()
        };
        assert!(with(0, Gic::V3).is_err());
        assert!(with(1, Gic::V3).is_ok());
        assert!(with(512, Gic::V3).is_ok());
        assert!(with(513, Gic::V3).is_err());
        assert!(with(8, Gic::V2).is_ok());
        assert_eq!(
            with(9, Gic::V2),
            Err("--smp 9 needs --gic 3: GICv2 allows at most 8 vCPUs".to_owned())
        );
    }

    #[test]
    fn memory_below_the_minimum_is_rejected() {
        let with = |mem_mib| {
            Machine {
                mem_mib,
                ..Machine::default()
            }
            .validate()
        };
        assert!(with(MIN_MEM_MIB).is_ok());
        assert_eq!(
            with(64),
            Err("--mem must be at least 128M, got 64M".to_owned())
        );
    }

    #[test]
    fn qemu_args_describe_the_board() {
        let machine = Machine {
            smp: 64,
            gic: Gic::V2,
            cpu: Cpu::Max,
            el: ExceptionLevel::El2,
            mem_mib: 512,
            clock: Clock::Icount,
        };
        assert_eq!(
            machine.qemu_args(),
            [
                "-machine",
                "virt,gic-version=2,virtualization=on",
                "-cpu",
                "max",
                "-smp",
                "64",
                "-m",
                "512M",
                "-icount",
                "shift=0"
            ]
        );
        let deterministic = Machine {
            clock: Clock::Deterministic,
            ..Machine::default()
        };
        assert_eq!(
            deterministic.qemu_args()[8..],
            ["-icount", "shift=0,sleep=off"]
        );
        assert_eq!(
            deterministic.to_string(),
            "smp=4 gic=3 cpu=cortex-a72 el=1 mem=1024M deterministic"
        );
        assert_eq!(
            Machine::default().qemu_args(),
            [
                "-machine",
                "virt,gic-version=3",
                "-cpu",
                "cortex-a72",
                "-smp",
                "4",
                "-m",
                "1024M"
            ]
        );
    }
}
