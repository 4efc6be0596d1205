//! The virtual board a boot runs on: QEMU `virt` with the settings coresched cares about, or one
//! of QEMU's models of a real board; the limits QEMU puts on them, and the QEMU arguments they
//! turn into.

use std::ffi::OsString;
use std::fmt;
use std::path::Path;

/// The most vCPUs QEMU `virt` runs (with GICv3); coresched's `MAX_CORES` matches it.
pub const MAX_SMP: u32 = 512;

/// Where RAM starts on QEMU `virt`; the loader puts an Image at this plus its `text_offset`.
pub const VIRT_RAM_BASE: u64 = 0x4000_0000;

/// The least guest memory the kernel is booted with, in MiB.
pub const MIN_MEM_MIB: u32 = 128;

/// The QEMU machine model: `virt`, whose every setting [`Machine`] chooses, or a model of a real
/// board, whose cores, CPU model and interrupt controller are the board's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    /// QEMU `virt`: a board described by its settings; QEMU builds the DTB.
    Virt,
    /// `xlnx-versal-virt`: 2 Cortex-A72, GICv3, a PL011 at 0xFF000000, RAM from 0; QEMU builds
    /// the DTB and enters the kernel at EL2.
    Versal,
    /// `xlnx-zcu102` (Zynq UltraScale+ MPSoC): 4 Cortex-A53, a GIC-400, Cadence UART0 as the
    /// first serial port, RAM from 0; QEMU builds no DTB, so Debian's is passed by default.
    Zcu102,
    /// `raspi3b` (Raspberry Pi 3 Model B): 4 Cortex-A53 started through spin tables, exactly
    /// 1 GiB, no GIC but the BCM2836 per-core interrupt controller; Debian's DTB by default,
    /// whose console is the mini UART, QEMU's second serial port.
    Raspi3b,
}

impl Model {
    /// Every model, in the order `--help` lists them.
    pub const ALL: [Model; 4] = [Model::Virt, Model::Versal, Model::Zcu102, Model::Raspi3b];

    /// The name `--machine` takes.
    pub const fn name(self) -> &'static str {
        match self {
            Model::Virt => "virt",
            Model::Versal => "versal",
            Model::Zcu102 => "zcu102",
            Model::Raspi3b => "raspi3b",
        }
    }

    /// The name QEMU's `-machine` takes.
    pub const fn qemu_name(self) -> &'static str {
        match self {
            Model::Virt => "virt",
            Model::Versal => "xlnx-versal-virt",
            Model::Zcu102 => "xlnx-zcu102",
            Model::Raspi3b => "raspi3b",
        }
    }

    /// The board's Arm application cores and their CPU model (`None` for `virt`, where the
    /// flags choose them).
    pub const fn cores(self) -> Option<(u32, Cpu)> {
        match self {
            Model::Virt => None,
            Model::Versal => Some((2, Cpu::CortexA72)),
            Model::Zcu102 | Model::Raspi3b => Some((4, Cpu::CortexA53)),
        }
    }

    /// The only memory size QEMU accepts for the board, in MiB, if it has one.
    pub const fn fixed_mem_mib(self) -> Option<u32> {
        match self {
            Model::Raspi3b => Some(1024),
            Model::Virt | Model::Versal | Model::Zcu102 => None,
        }
    }

    /// Where RAM starts: QEMU loads an Image at this plus its `text_offset`.
    pub const fn ram_base(self) -> u64 {
        match self {
            Model::Virt => VIRT_RAM_BASE,
            Model::Versal | Model::Zcu102 | Model::Raspi3b => 0,
        }
    }

    /// The DTB booted when none is given, relative to the workspace root: Debian's, saved in
    /// `tests/data/` (see its README), for the boards QEMU builds none for.
    pub const fn default_dtb(self) -> Option<&'static str> {
        match self {
            Model::Virt | Model::Versal => None,
            Model::Zcu102 => Some("tests/data/linux-zynqmp-zcu102-rev1.0.dtb"),
            Model::Raspi3b => Some("tests/data/linux-bcm2837-rpi-3-b.dtb"),
        }
    }

    /// The name the board's firmware loads the kernel from, if it is not the Image's own: the
    /// Raspberry Pi firmware boots a 64-bit kernel from `kernel8.img`.
    pub const fn firmware_image_name(self) -> Option<&'static str> {
        match self {
            Model::Raspi3b => Some("kernel8.img"),
            Model::Virt | Model::Versal | Model::Zcu102 => None,
        }
    }

    /// The index of QEMU's serial port the board's console (the DTB's `stdout-path`) is on.
    pub const fn console_serial_port(self) -> usize {
        match self {
            Model::Raspi3b => 1,
            Model::Virt | Model::Versal | Model::Zcu102 => 0,
        }
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.qemu_name())
    }
}

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

/// A QEMU board: the machine model, its cores and CPU model (a real board's are its own: see
/// [`Machine::of_model`]), for `virt` also its interrupt controller and entry level (a real
/// board ignores them); memory and clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Machine {
    /// The QEMU machine model.
    pub model: Model,
    /// Number of vCPUs (`-smp`; a real board's application cores).
    pub smp: u32,
    /// Interrupt controller (`virt` only).
    pub gic: Gic,
    /// CPU model (`-cpu`; a real board's own).
    pub cpu: Cpu,
    /// Exception level the kernel is entered at (`virt` only).
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
            model: Model::Virt,
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
    /// `model` with its own cores and CPU model (the [`Machine::default`] ones for `virt`),
    /// the default memory (the board's only size where it has one) and the real-time clock.
    pub fn of_model(model: Model) -> Machine {
        let default = Machine {
            model,
            mem_mib: model.fixed_mem_mib().unwrap_or(Machine::default().mem_mib),
            ..Machine::default()
        };
        match model.cores() {
            None => default,
            Some((smp, cpu)) => Machine {
                smp,
                cpu,
                ..default
            },
        }
    }

    /// Checks the limits QEMU and the kernel put on the settings. `Err` holds one line
    /// naming the offending flag and what would be accepted.
    pub fn validate(&self) -> Result<(), String> {
        if let Some((smp, cpu)) = self.model.cores() {
            if self.smp != smp {
                return Err(format!(
                    "--smp {}: {} has {smp} cores (--smp applies to --machine virt)",
                    self.smp, self.model
                ));
            }
            if self.cpu != cpu {
                return Err(format!(
                    "--cpu {}: {} has {} cores (--cpu applies to --machine virt)",
                    self.cpu.qemu_name(),
                    self.model,
                    cpu.qemu_name()
                ));
            }
        }
        if let Some(mem_mib) = self.model.fixed_mem_mib()
            && self.mem_mib != mem_mib
        {
            return Err(format!(
                "--mem {}M: {} has exactly {mem_mib}M",
                self.mem_mib, self.model
            ));
        }
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

    /// The QEMU arguments that describe this board (`-machine`, `-cpu`, `-smp`, `-m`, `-icount`;
    /// a real board's model alone sets its CPUs).
    pub fn qemu_args(&self) -> Vec<String> {
        let mut args = if self.model == Model::Virt {
            let mut machine = format!("virt,gic-version={}", self.gic.version());
            if self.el == ExceptionLevel::El2 {
                machine.push_str(",virtualization=on");
            }
            vec![
                "-machine".to_owned(),
                machine,
                "-cpu".to_owned(),
                self.cpu.qemu_name().to_owned(),
                "-smp".to_owned(),
                self.smp.to_string(),
            ]
        } else {
            vec!["-machine".to_owned(), self.model.qemu_name().to_owned()]
        };
        args.extend(["-m".to_owned(), format!("{}M", self.mem_mib)]);
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
    /// (`deterministic` for [`Clock::Deterministic`]); a real board's starts with its model:
    /// `xlnx-zcu102 smp=4 cpu=cortex-a53 mem=1024M`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.model == Model::Virt {
            write!(
                f,
                "smp={} gic={} cpu={} el={} mem={}M",
                self.smp,
                self.gic.version(),
                self.cpu.qemu_name(),
                self.el.number(),
                self.mem_mib
            )?;
        } else {
            write!(
                f,
                "{} smp={} cpu={} mem={}M",
                self.model,
                self.smp,
                self.cpu.qemu_name(),
                self.mem_mib
            )?;
        }
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
    fn real_boards_have_their_own_cores_and_command_line() {
        let zcu102 = Machine::of_model(Model::Zcu102);
        assert_eq!(zcu102.validate(), Ok(()));
        assert_eq!(
            zcu102.to_string(),
            "xlnx-zcu102 smp=4 cpu=cortex-a53 mem=1024M"
        );
        assert_eq!(
            zcu102.qemu_args(),
            ["-machine", "xlnx-zcu102", "-m", "1024M"]
        );
        let versal = Machine {
            clock: Clock::Deterministic,
            ..Machine::of_model(Model::Versal)
        };
        assert_eq!(
            versal.qemu_args(),
            [
                "-machine",
                "xlnx-versal-virt",
                "-m",
                "1024M",
                "-icount",
                "shift=0,sleep=off"
            ]
        );
        assert_eq!((versal.smp, versal.cpu), (2, Cpu::CortexA72));
        let raspi = Machine::of_model(Model::Raspi3b);
        assert_eq!((raspi.smp, raspi.mem_mib), (4, 1024));
        assert_eq!(Model::Raspi3b.console_serial_port(), 1);
        assert_eq!(Model::Raspi3b.firmware_image_name(), Some("kernel8.img"));
        assert_eq!(Model::Zcu102.firmware_image_name(), None);
        assert_eq!(Model::Raspi3b.ram_base(), 0);
        assert_eq!(Model::Virt.ram_base(), VIRT_RAM_BASE);
        assert_eq!(Machine::of_model(Model::Virt), Machine::default());
        assert_eq!(
            Machine {
                cpu: Cpu::Max,
                ..raspi
            }
            .validate(),
            Err(
                "--cpu max: raspi3b has cortex-a53 cores (--cpu applies to --machine virt)"
                    .to_owned()
            )
        );
        assert_eq!(
            Machine {
                mem_mib: 512,
                ..raspi
            }
            .validate(),
            Err("--mem 512M: raspi3b has exactly 1024M".to_owned())
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
            model: Model::Virt,
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
