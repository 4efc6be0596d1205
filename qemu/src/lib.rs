//! coresched-qemu: builds the coresched kernel and boots it on QEMU `virt`.
//!
//! The `coresched-qemu` binary is `cargo qemu`; the library is what the host tests use to boot
//! the kernel and read its console:
//!
//! ```no_run
//! use coresched_qemu::{Boot, Profile};
//!
//! let outcome = Boot::new().smp(8).bootargs("test=all").profile(Profile::KernelTest).run()?;
//! assert_eq!(outcome.exit_code(), Some(0));
//! assert!(outcome.tap().failures().next().is_none());
//! # Ok::<(), coresched_qemu::LaunchError>(())
//! ```
//!
//! [`kernel`] builds the Image, [`qemu`] runs QEMU under a time-out, [`boot`] puts the two
//! together into one boot and [`outcome`] is what came of it, [`gdb`] attaches a debugger, [`record`] records a boot and replays it, [`console`] reads the output the
//! kernel/host contract defines, [`cli`] is `cargo qemu`'s command line and [`exit`] its exit
//! statuses, [`reports`] writes JUnit XML ([`junit`]) and TAP 13 ([`tap13`]) for CI and the
//! scheduler timeline ([`trace`]: a Chrome trace and a picture), [`breakdown`] measures where
//! each benchmark figure's instructions go, [`linux`] runs the benchmark's Linux peer, [`repeat`] runs one boot under many
//! perturbation seeds.
//!
//! Dependencies go one way: each module imports only modules named after it in
//! `cli`, `breakdown`, `linux`, `repeat`, `reports`, `junit`, `tap13`, `trace`, `boot`, `record`, `gdb`, `exit`, `kernel`,
//! `qemu`, `outcome`, `console`, `machine`, `error`, `host`.

#![warn(missing_docs)]

pub mod boot;
pub mod breakdown;
pub mod cli;
pub mod console;
pub mod error;
pub mod exit;
pub mod gdb;
mod host;
pub mod junit;
pub mod kernel;
pub mod linux;
pub mod machine;
pub mod outcome;
pub mod qemu;
pub mod record;
pub mod repeat;
pub mod reports;
pub mod tap13;
pub mod trace;

pub use boot::Boot;
pub use console::{BootLine, TapReport, TapResult, Totals};
pub use error::LaunchError;
pub use gdb::{DEFAULT_GDB_PORT, Gdb, GdbSession};
pub use kernel::Profile;
pub use machine::{Clock, Cpu, ExceptionLevel, Gic, Machine, Model};
pub use outcome::Outcome;
pub use qemu::{Console, EXCLUSIVE_RUN_SMP, MAX_CONCURRENT_RUNS};
pub use record::RecordReplay;
pub use repeat::{Repeat, RepeatReport, RunRecord, Tally};
