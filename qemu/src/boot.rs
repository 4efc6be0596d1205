//! One boot of the kernel on QEMU: what to build, which board, which bootargs, how long to
//! wait. What came of it is an [`Outcome`].

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::LaunchError;
use crate::gdb::{self, Gdb};
use crate::kernel::{self, BuildOutput, Profile};
use crate::machine::{Clock, Cpu, ExceptionLevel, Gic, Machine, Model};
use crate::outcome::Outcome;
use crate::qemu::{self, Console, RunSlots};
use crate::record::RecordReplay;

/// The bootargs word the launcher always adds: the kernel ends QEMU through semihosting, which
/// carries its exit status out (see `-semihosting-config` in [`Boot::qemu_args`]).
const EXIT_BOOTARG: &str = "exit=semihosting";

/// How long a `--gdb` boot may last when no time-out was given: long enough to debug.
const GDB_TIMEOUT: Duration = Duration::from_secs(3600);

/// Where the kernel a boot runs comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
enum KernelSource {
    /// Built by the launcher with the boot's profile and features.
    Built,
    /// A prebuilt Image, booted as it is (gdb gets no symbols).
    Image(PathBuf),
    /// A prebuilt ELF, converted to an Image beside it.
    Elf(PathBuf),
}

/// A boot to run: built with [`Boot::new`] and the setters, started with [`Boot::run`].
///
/// ```no_run
/// use coresched_qemu::{Boot, Cpu, ExceptionLevel, Profile};
///
/// let outcome = Boot::new()
///     .smp(64)
///     .cpu(Cpu::Max)
///     .el(ExceptionLevel::El2)
///     .bootargs("test=all")
///     .profile(Profile::KernelTest)
///     .run()?;
/// assert_eq!(outcome.exit_code(), Some(0));
/// # Ok::<(), coresched_qemu::LaunchError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Boot {
    machine: Machine,
    bootargs: String,
    profile: Profile,
    features: Vec<String>,
    kernel: KernelSource,
    dtb: Option<PathBuf>,
    timeout: Option<Duration>,
    gdb: Option<Gdb>,
    console: Console,
    seed: Option<u64>,
    record_replay: Option<RecordReplay>,
    extra_qemu_args: Vec<OsString>,
}

impl Default for Boot {
    fn default() -> Self {
        Boot::new()
    }
}

impl Boot {
    /// The default boot: [`Machine::default`] (4 Cortex-A72 vCPUs, GICv3, EL1, 1 GiB),
    /// bootargs `demo`, the `release` kernel, the default time-out, console captured.
    pub fn new() -> Self {
        Boot {
            machine: Machine::default(),
            bootargs: "demo".to_owned(),
            profile: Profile::Release,
            features: Vec::new(),
            kernel: KernelSource::Built,
            dtb: None,
            timeout: None,
            gdb: None,
            console: Console::Captured,
            seed: None,
            record_replay: None,
            extra_qemu_args: Vec::new(),
        }
    }

    /// Sets the whole board at once.
    pub fn machine(mut self, machine: Machine) -> Self {
        self.machine = machine;
        self
    }

    /// Sets the board to QEMU's model `model` with its own cores and CPU model
    /// ([`Machine::of_model`]), keeping the memory (unless the board has a size of its own)
    /// and the clock.
    pub fn model(mut self, model: Model) -> Self {
        let mem_mib = model.fixed_mem_mib().unwrap_or(self.machine.mem_mib);
        self.machine = Machine {
            mem_mib,
            clock: self.machine.clock,
            ..Machine::of_model(model)
        };
        self
    }

    /// Boots with this DTB (QEMU's `-dtb`) instead of the board's default: QEMU's own for
    /// `virt` and Versal, Debian's saved one for the ZCU102 and the Raspberry Pi 3
    /// ([`Model::default_dtb`]); `None` goes back to the default.
    pub fn dtb(mut self, dtb: Option<PathBuf>) -> Self {
        self.dtb = dtb;
        self
    }

    /// The DTB QEMU is given, if any: the one set, else the board's default.
    pub fn effective_dtb(&self) -> Option<PathBuf> {
        self.dtb.clone().or_else(|| {
            self.machine
                .model
                .default_dtb()
                .map(|path| kernel::workspace_root().join(path))
        })
    }

    /// Sets the number of vCPUs (checked by [`Boot::run`]: 1 to 512, at most 8 with GICv2).
    pub fn smp(mut self, smp: u32) -> Self {
        self.machine.smp = smp;
        self
    }

    /// Sets the interrupt controller.
    pub fn gic(mut self, gic: Gic) -> Self {
        self.machine.gic = gic;
        self
    }

    /// Sets the CPU model.
    pub fn cpu(mut self, cpu: Cpu) -> Self {
        self.machine.cpu = cpu;
        self
    }

    /// Sets the exception level the kernel is entered at.
    pub fn el(mut self, el: ExceptionLevel) -> Self {
        self.machine.el = el;
        self
    }

    /// Sets the guest memory in MiB (checked by [`Boot::run`]: at least 128).
    pub fn mem_mib(mut self, mem_mib: u32) -> Self {
        self.machine.mem_mib = mem_mib;
        self
    }

    /// Turns `-icount shift=0` on ([`Clock::Icount`]) or off ([`Clock::Host`]).
    pub fn icount(mut self, icount: bool) -> Self {
        self.machine.clock = if icount { Clock::Icount } else { Clock::Host };
        self
    }

    /// Turns the deterministic clock, `-icount shift=0,sleep=off`, on ([`Clock::Deterministic`])
    /// or off ([`Clock::Host`]). A boot with a [`Boot::seed`] has it whatever this says.
    pub fn deterministic(mut self, deterministic: bool) -> Self {
        self.machine.clock = if deterministic {
            Clock::Deterministic
        } else {
            Clock::Host
        };
        self
    }

    /// Sets how guest time runs.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.machine.clock = clock;
        self
    }

    /// Sets the kernel's perturbation seed, or clears it (`None`, the default). A seed is passed
    /// as the bootarg `seed=N` (after the other bootargs, so it wins over one among them) and
    /// boots with [`Clock::Deterministic`], so the same seed gives the same run. Only a kernel
    /// with debug assertions ([`Profile::KernelTest`]) perturbs its timing from the seed.
    pub fn seed(mut self, seed: Option<u64>) -> Self {
        self.seed = seed;
        self
    }

    /// The board this boot runs on: the one set, with [`Clock::Deterministic`] if a seed is set.
    pub fn board(&self) -> Machine {
        match self.seed {
            Some(_) => Machine {
                clock: Clock::Deterministic,
                ..self.machine
            },
            None => self.machine,
        }
    }

    /// Sets the kernel's bootargs (the contract's words, e.g. `test=all log=debug`);
    /// `exit=semihosting` is always appended.
    pub fn bootargs(mut self, bootargs: &str) -> Self {
        bootargs.clone_into(&mut self.bootargs);
        self
    }

    /// Sets the cargo profile the kernel is built with.
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// Adds a cargo feature of the kernel package to build with.
    pub fn feature(mut self, feature: &str) -> Self {
        self.features.push(feature.to_owned());
        self
    }

    /// Boots this prebuilt Image instead of building the kernel.
    pub fn image(mut self, image: &Path) -> Self {
        self.kernel = KernelSource::Image(image.to_owned());
        self
    }

    /// Boots this prebuilt kernel ELF instead of building one: its Image is made beside it with
    /// llvm-objcopy, as for the launcher's own builds (what `cargo run -p coresched --target
    /// aarch64-unknown-none` does through the launcher as its runner). The profile and
    /// features are then whatever the ELF was built with.
    pub fn elf(mut self, elf: &Path) -> Self {
        self.kernel = KernelSource::Elf(elf.to_owned());
        self
    }

    /// Sets how long QEMU may run before it is ended and the outcome marked timed out.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Starts QEMU halted with a gdb server (`-gdb tcp::PORT -S`), prints the command that
    /// attaches gdb with the kernel's symbols and, as [`Gdb::session`] says, runs it; or
    /// (`None`, the default) runs without one.
    pub fn gdb(mut self, gdb: Option<Gdb>) -> Self {
        self.gdb = gdb;
        self
    }

    /// Records the boot into a directory, or replays one recorded before, with QEMU's
    /// record/replay (`None`, the default: neither). A replay boots the recorded kernel, and
    /// [`Boot::run`] refuses it unless the board and bootargs are those of the recording. Both
    /// need a single vCPU.
    pub fn record_replay(mut self, record_replay: Option<RecordReplay>) -> Self {
        self.record_replay = record_replay;
        self
    }

    /// Sets where the serial console goes.
    pub fn console(mut self, console: Console) -> Self {
        self.console = console;
        self
    }

    /// The time-out that applies: the one set, else an hour under gdb, else 60 s plus a second
    /// per 4 vCPUs (QEMU's TCG boots hundreds of vCPUs slowly on a small host).
    pub fn effective_timeout(&self) -> Duration {
        self.timeout.unwrap_or(if self.gdb.is_some() {
            GDB_TIMEOUT
        } else {
            Duration::from_secs(60 + u64::from(self.machine.smp) / 4)
        })
    }

    /// Checks the board, finds QEMU, builds the kernel (once per process per profile and
    /// features), waits for a share of the host (see [`crate::MAX_CONCURRENT_RUNS`]), then
    /// boots and waits for QEMU to exit or time out. Prints one summary line to stderr: the
    /// board, the bootargs and seed, the kernel's boot line and the wall time.
    pub fn run(&self) -> Result<Outcome, LaunchError> {
        let board = self.board();
        board.validate().map_err(LaunchError::InvalidMachine)?;
        if let Some(record_replay) = &self.record_replay {
            record_replay
                .check(board.smp)
                .map_err(LaunchError::InvalidMachine)?;
        }
        let qemu = qemu::find_qemu()?;
        let recorded = self
            .record_replay
            .as_ref()
            .and_then(RecordReplay::recorded_kernel);
        let (image, elf) = match recorded {
            Some(kernel) => kernel,
            None => self.kernel_files()?,
        };
        let (image, elf) = match &self.record_replay {
            Some(record_replay) => {
                let machine_args = self.machine_args(&record_replay.image());
                record_replay.prepare(&image, elf.as_deref(), board.clock, &machine_args)?
            }
            None => (image, elf),
        };
        let timeout = self.effective_timeout();
        let _claim = RunSlots::claim(board.smp);
        let debugger = match &self.gdb {
            Some(gdb) => self.start_gdb(gdb, &image, elf.as_deref())?,
            None => None,
        };
        let mut outcome = qemu::run(&qemu, &self.qemu_args(&image), self.console, timeout)?;
        if let Some(debugger) = debugger {
            outcome.gdb_output = debugger.join().expect("the gdb thread does not panic");
        }
        eprintln!(
            "coresched-qemu: {board} bootargs={:?}{}: {outcome}",
            self.bootargs,
            self.seed_word()
        );
        Ok(outcome)
    }

    /// Builds (or converts) the kernel as [`Boot::run`] would, boots nothing, and returns the
    /// files the board's loader takes: the Image, and where the board's firmware wants another
    /// name ([`Model::firmware_image_name`]) a copy of it under that name beside it.
    pub fn build_only(&self) -> Result<Vec<PathBuf>, LaunchError> {
        self.board()
            .validate()
            .map_err(LaunchError::InvalidMachine)?;
        let (image, _) = self.kernel_files()?;
        let mut files = vec![image.clone()];
        if let Some(name) = self.machine.model.firmware_image_name() {
            let copy = image.with_file_name(name);
            std::fs::copy(&image, &copy).map_err(|error| {
                LaunchError::Tool(format!(
                    "could not copy {} to {}: {error}",
                    image.display(),
                    copy.display()
                ))
            })?;
            files.push(copy);
        }
        Ok(files)
    }

    /// The Image to boot and the ELF it came from (none for a prebuilt Image): built, converted
    /// or as given.
    pub(crate) fn kernel_files(&self) -> Result<(PathBuf, Option<PathBuf>), LaunchError> {
        Ok(match &self.kernel {
            KernelSource::Image(image) => (image.clone(), None),
            KernelSource::Elf(elf) => {
                let converted = kernel::image_from_elf(elf)?;
                (converted.image, Some(converted.elf))
            }
            KernelSource::Built => {
                let output = match self.console {
                    Console::Captured => BuildOutput::Captured,
                    Console::Echoed | Console::Terminal => BuildOutput::Shown,
                };
                let built = kernel::build(self.profile, &self.features, output)?;
                (built.image, Some(built.elf))
            }
        })
    }

    /// Prints how to attach gdb (a prebuilt Image without its ELF gets no symbols) and starts
    /// the session `gdb` asks for, if any: its thread returns what gdb printed.
    fn start_gdb(
        &self,
        gdb: &Gdb,
        image: &Path,
        elf: Option<&Path>,
    ) -> Result<Option<JoinHandle<String>>, LaunchError> {
        let load_address = gdb::load_address(image, self.machine.model.ram_base())?;
        eprintln!(
            "coresched-qemu: QEMU waits for gdb; attach with: {}",
            gdb.command_line(elf, load_address)
        );
        gdb.start(elf, load_address)
    }

    /// Adds `args` to the end of QEMU's command line (after every argument the boot makes), such
    /// as the execution log `--breakdown` reads.
    pub fn extra_qemu_args(mut self, args: impl IntoIterator<Item = OsString>) -> Self {
        self.extra_qemu_args.extend(args);
        self
    }

    /// The bootargs the kernel gets: those set, the seed's, and `exit=semihosting`.
    pub fn kernel_command_line(&self) -> String {
        format!("{}{} {EXIT_BOOTARG}", self.bootargs, self.seed_word())
    }

    /// The QEMU arguments that make the machine and what runs on it: the board (with no clock
    /// of its own when record/replay sets `-icount`), `image` and the kernel command line. A
    /// replay must have the recording's.
    fn machine_args(&self, image: &Path) -> Vec<OsString> {
        let board = match self.record_replay {
            Some(_) => Machine {
                clock: Clock::Host,
                ..self.board()
            },
            None => self.board(),
        };
        let mut args = board.qemu_args_booting(image);
        if let Some(dtb) = self.effective_dtb() {
            args.extend(["-dtb".into(), dtb.into()]);
        }
        args.extend(["-append".into(), self.kernel_command_line().into()]);
        // Every board: semihosting carries the kernel's exit status out of QEMU, and the
        // Raspberry Pi 3 has no PSCI to power off with.
        args.extend(["-semihosting-config", "enable=on,target=native"].map(OsString::from));
        args
    }

    /// ` seed=N` for a seeded boot, else nothing.
    fn seed_word(&self) -> String {
        self.seed
            .map(|seed| format!(" seed={seed}"))
            .unwrap_or_default()
    }

    /// The QEMU command line (after the program name) that boots `image`.
    pub fn qemu_args(&self, image: &Path) -> Vec<OsString> {
        let mut args = self.machine_args(image);
        if let Some(record_replay) = &self.record_replay {
            args.extend(record_replay.qemu_args(self.board().clock));
        }
        let console_port = self.board().model.console_serial_port();
        args.extend(
            self.console
                .qemu_args(console_port)
                .into_iter()
                .map(OsString::from),
        );
        if let Some(gdb) = &self.gdb {
            args.extend(gdb.qemu_args().map(OsString::from));
        }
        args.extend(self.extra_qemu_args.iter().cloned());
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(boot: &Boot) -> Vec<String> {
        let args = boot.qemu_args(Path::new("/k/Image"));
        args.into_iter()
            .map(|arg| arg.into_string().expect("UTF-8"))
            .collect()
    }

    #[test]
    fn default_boot_command_line() {
        assert_eq!(
            args(&Boot::new()),
            [
                "-machine",
                "virt,gic-version=3",
                "-cpu",
                "cortex-a72",
                "-smp",
                "4",
                "-m",
                "1024M",
                "-kernel",
                "/k/Image",
                "-append",
                "demo exit=semihosting",
                "-semihosting-config",
                "enable=on,target=native",
                "-display",
                "none",
                "-serial",
                "stdio",
                "-monitor",
                "none"
            ]
        );
    }

    #[test]
    fn every_option_reaches_the_command_line() {
        let boot = Boot::new()
            .smp(8)
            .gic(Gic::V2)
            .cpu(Cpu::CortexA53)
            .el(ExceptionLevel::El2)
            .mem_mib(512)
            .icount(true)
            .bootargs("test=all log=debug")
            .console(Console::Terminal)
            .gdb(Some(Gdb::on_port(1234)));
        let args = args(&boot);
        let joined = args.join(" ");
        assert!(joined.starts_with(
            "-machine virt,gic-version=2,virtualization=on -cpu cortex-a53 -smp 8 -m 512M \
             -icount shift=0 -kernel /k/Image"
        ));
        assert!(joined.ends_with("-nographic -gdb tcp::1234 -S"), "{joined}");
        let append = args
            .iter()
            .position(|arg| arg == "-append")
            .expect("has -append");
        assert_eq!(args[append + 1], "test=all log=debug exit=semihosting");
    }

    #[test]
    fn a_real_board_gets_its_dtb_and_its_console_port() {
        let raspi = args(&Boot::new().model(Model::Raspi3b)).join(" ");
        let dtb = kernel::workspace_root().join("tests/data/linux-bcm2837-rpi-3-b.dtb");
        assert_eq!(
            raspi,
            format!(
                "-machine raspi3b -m 1024M -kernel /k/Image -dtb {} -append demo \
                 exit=semihosting -semihosting-config enable=on,target=native -display none \
                 -serial null -serial stdio -monitor none",
                dtb.display()
            )
        );
        let versal = args(&Boot::new().model(Model::Versal));
        assert!(!versal.contains(&"-dtb".to_owned()), "{versal:?}");
        let given = args(&Boot::new().model(Model::Zcu102).dtb(Some("/my.dtb".into())));
        assert!(
            given.join(" ").contains("-dtb /my.dtb -append"),
            "{given:?}"
        );
    }

    #[test]
    fn a_seed_is_a_bootarg_on_the_deterministic_clock() {
        let deterministic = args(&Boot::new().deterministic(true)).join(" ");
        assert!(
            deterministic.contains("-m 1024M -icount shift=0,sleep=off -kernel /k/Image"),
            "{deterministic}"
        );
        assert!(deterministic.contains("-append demo exit=semihosting"));

        // A seed implies the deterministic clock, whatever the clock was set to.
        let seeded = Boot::new()
            .bootargs("test=sched:: seed=1")
            .icount(true)
            .seed(Some(u64::MAX));
        assert_eq!(seeded.board().clock, Clock::Deterministic);
        let seeded = args(&seeded);
        let joined = seeded.join(" ");
        assert!(joined.contains("-icount shift=0,sleep=off"), "{joined}");
        let append = seeded
            .iter()
            .position(|arg| arg == "-append")
            .expect("has -append");
        assert_eq!(
            seeded[append + 1],
            "test=sched:: seed=1 seed=18446744073709551615 exit=semihosting"
        );

        let unseeded = Boot::new().deterministic(true).seed(Some(3)).seed(None);
        assert_eq!(unseeded, Boot::new().deterministic(true));
        assert_eq!(Boot::new().deterministic(false), Boot::new());
        assert_eq!(Boot::new().clock(Clock::Icount), Boot::new().icount(true));
    }

    #[test]
    fn record_replay_sets_the_only_icount_and_keeps_the_clock() {
        let recording = Boot::new()
            .smp(1)
            .deterministic(true)
            .record_replay(Some(RecordReplay::Record("/r".into())));
        let args = args(&recording);
        assert_eq!(
            args.iter().filter(|arg| *arg == "-icount").count(),
            1,
            "{args:?}"
        );
        let joined = args.join(" ");
        assert!(
            joined.contains("-icount shift=0,sleep=off,rr=record,rrfile=/r/replay.bin"),
            "{joined}"
        );
        // What a replay compares: the board and command line, without the clock or rr.
        let machine = recording.machine_args(Path::new("/r/coresched.Image"));
        assert!(!machine.iter().any(|arg| arg == "-icount"), "{machine:?}");
        assert!(machine.iter().any(|arg| arg == "demo exit=semihosting"));
    }

    #[test]
    fn time_out_defaults_scale_with_the_core_count() {
        assert_eq!(Boot::new().effective_timeout(), Duration::from_secs(61));
        assert_eq!(
            Boot::new().smp(512).effective_timeout(),
            Duration::from_secs(188)
        );
        let gdb = Boot::new().gdb(Some(Gdb::on_port(1234)));
        assert_eq!(gdb.effective_timeout(), GDB_TIMEOUT);
        let set = Duration::from_secs(5);
        assert_eq!(gdb.timeout(set).effective_timeout(), set);
    }

    #[test]
    fn an_invalid_board_is_refused_before_building() {
        let error = Boot::new()
            .smp(9)
            .gic(Gic::V2)
            .run()
            .expect_err("GICv2 tops out at 8");
        assert_eq!(
            error,
            LaunchError::InvalidMachine(
                "--smp 9 needs --gic 3: GICv2 allows at most 8 vCPUs".to_owned()
            )
        );
    }
}
