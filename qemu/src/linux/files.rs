//! `target/linux/`, the Linux peer's cache: the files QEMU boots Linux from, fetched and built
//! on first use and rebuilt when `qemu/linux/bench.c` changes.

use std::fs;
use std::path::PathBuf;

use super::fetch::fetch_kernel;
use super::initramfs::{build_init, initramfs_archive};
use crate::error::{LaunchError, io_error};
use crate::kernel::workspace_root;

/// The files QEMU boots Linux from, in `target/linux/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerFiles {
    /// Debian's arm64 kernel Image.
    pub kernel: PathBuf,
    /// The initramfs holding the benchmark as `/init`.
    pub initramfs: PathBuf,
}

impl PeerFiles {
    /// Makes sure `target/linux/` holds the kernel (downloaded once) and an initramfs built
    /// from the current `qemu/linux/bench.c`. Prints a line to stderr for each step it takes;
    /// `Err` is one line naming what failed or is missing, and how to get it.
    pub fn prepare() -> Result<PeerFiles, LaunchError> {
        let cache = workspace_root().join("target").join("linux");
        fs::create_dir_all(&cache).map_err(|error| io_error(&cache, &error))?;
        let kernel = cache.join("vmlinuz");
        if !kernel.is_file() {
            fetch_kernel(&cache, &kernel)?;
        }
        let init = build_init(&cache)?;
        let init = fs::read(&init).map_err(|error| io_error(&init, &error))?;
        let initramfs = cache.join("initramfs.cpio");
        fs::write(&initramfs, initramfs_archive(&init))
            .map_err(|error| io_error(&initramfs, &error))?;
        Ok(PeerFiles { kernel, initramfs })
    }
}
