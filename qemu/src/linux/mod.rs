//! The Linux peer of the benchmark, `cargo qemu -- --bench --vs-linux`: runs coresched's
//! benchmark, then the same scheduler workloads on Debian's arm64 Linux in the same QEMU
//! board, and prints one table with both kernels' instruction counts.
//!
//! Linux is fetched and built on first use and cached in `target/linux/` ([`PeerFiles`]):
//! - `vmlinuz`: the kernel of Debian's `linux-image-arm64`, downloaded with apt-get through the
//!   host's own apt sources, for arm64, in a private apt state (the host's dpkg is untouched);
//! - `init`: `qemu/linux/bench.c` compiled with `aarch64-linux-gnu-gcc -static -O2` (rebuilt
//!   when the source changes; `init.c` is the copy it was built from);
//! - `initramfs.cpio`: `init` plus `/dev/console`, written here in the cpio `newc` format.
//!
//! The C program prints `linux <name> <n>`; the kernel prints
//! `bench <name> coresched=<n> linux=- unit=instructions`. [`Comparison`] joins the two.
//!
//! One job per file: `fetch` gets Debian's kernel package and the cross compiler, `initramfs`
//! builds `/init` and the archive, `files` keeps the cache, `peer` boots Linux and runs the
//! comparison, `report` reads both kernels' figures, `table` prints them side by side.

mod fetch;
mod files;
mod initramfs;
mod peer;
mod progress;
mod report;
mod table;

pub use files::PeerFiles;
pub use initramfs::initramfs_archive;
pub use peer::{LINUX_COMMAND_LINE, LinuxPeer, bench_vs_linux};
pub use report::{Figure, LinuxReport, coresched_figures};
pub use table::{Comparison, TABLE_ORDER};
