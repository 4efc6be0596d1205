//! The Linux peer's initramfs: `qemu/linux/bench.c` cross-compiled into a static `/init`, and
//! the cpio `newc` archive Linux unpacks, holding it and `/dev/console`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::fetch::{CROSS_GCC, cross_compiler};
use super::progress::progress;
use crate::error::{LaunchError, io_error, run_tool};
use crate::kernel::workspace_root;

/// The C program's source, relative to the workspace root.
const BENCH_SOURCE: &str = "qemu/linux/bench.c";

/// Compiles the C program to `target/linux/init` unless it was built from the same source.
pub(super) fn build_init(cache: &Path) -> Result<PathBuf, LaunchError> {
    let source = workspace_root().join(BENCH_SOURCE);
    let text = fs::read(&source).map_err(|error| io_error(&source, &error))?;
    let init = cache.join("init");
    let built_from = cache.join("init.c");
    if init.is_file() && fs::read(&built_from).is_ok_and(|built| built == text) {
        return Ok(init);
    }
    let gcc = cross_compiler()?;
    progress(&format!(
        "compiling {BENCH_SOURCE} with {CROSS_GCC} -static -O2"
    ));
    run_tool(
        Command::new(gcc)
            .args(["-static", "-O2", "-Wall", "-Wextra", "-pthread", "-o"])
            .arg(&init)
            .arg(&source),
    )?;
    fs::write(&built_from, text).map_err(|error| io_error(&built_from, &error))?;
    Ok(init)
}

/// A cpio archive in the `newc` format, as the Linux kernel unpacks an initramfs: `/dev`,
/// the console device `/dev/console` (so init has a stdout), and `init` as `/init`.
pub fn initramfs_archive(init: &[u8]) -> Vec<u8> {
    const DIRECTORY: u32 = 0o040_755;
    const CONSOLE_DEVICE: u32 = 0o020_600;
    const PROGRAM: u32 = 0o100_755;
    /// Linux's device number of `/dev/console`: major 5, minor 1.
    const CONSOLE_NUMBER: (u32, u32) = (5, 1);
    let mut archive = Vec::new();
    append_cpio_entry(&mut archive, 1, "dev", DIRECTORY, (0, 0), &[]);
    append_cpio_entry(
        &mut archive,
        2,
        "dev/console",
        CONSOLE_DEVICE,
        CONSOLE_NUMBER,
        &[],
    );
    append_cpio_entry(&mut archive, 3, "init", PROGRAM, (0, 0), init);
    append_cpio_entry(&mut archive, 0, "TRAILER!!!", 0, (0, 0), &[]);
    archive
}

/// Appends one `newc` entry: the 110-byte header of `070701` and thirteen 8-digit hex fields,
/// the name and its NUL padded to 4 bytes, then the data padded to 4 bytes. Owner root,
/// modification time 0, so the archive is the same on every build.
fn append_cpio_entry(
    archive: &mut Vec<u8>,
    inode: u32,
    name: &str,
    mode: u32,
    (device_major, device_minor): (u32, u32),
    data: &[u8],
) {
    let size = u32::try_from(data.len()).expect("an initramfs file is under 4 GiB");
    let name_size = u32::try_from(name.len() + 1).expect("a short name");
    let fields = [
        inode,
        mode,
        0, // uid
        0, // gid
        1, // links
        0, // modification time
        size,
        0, // device of the file system: major
        0, // and minor
        device_major,
        device_minor,
        name_size,
        0, // checksum, unused by newc
    ];
    archive.extend_from_slice(b"070701");
    for field in fields {
        archive.extend_from_slice(format!("{field:08X}").as_bytes());
    }
    archive.extend_from_slice(name.as_bytes());
    archive.push(0);
    pad_to_four(archive);
    archive.extend_from_slice(data);
    pad_to_four(archive);
}

fn pad_to_four(archive: &mut Vec<u8>) {
    archive.resize(archive.len().next_multiple_of(4), 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_initramfs_is_a_newc_archive() {
        let archive = initramfs_archive(b"\x7fELF!");
        let text = String::from_utf8_lossy(&archive);
        // Each entry starts at a multiple of four with the newc magic.
        let starts: Vec<usize> = text.match_indices("070701").map(|(at, _)| at).collect();
        assert_eq!(starts.len(), 4);
        assert!(starts.iter().all(|start| start % 4 == 0));
        assert_eq!(archive.len() % 4, 0);
        // The console: a character device (mode 020600), device 5:1, name `dev/console`.
        let console = &text[starts[1]..starts[2]];
        assert_eq!(&console[14..22], "00002180");
        assert_eq!(&console[78..94], "0000000500000001");
        assert_eq!(&console[110..122], "dev/console\0");
        // `/init`: executable, five bytes, its data after the name's padding.
        let init = &archive[starts[2]..starts[3]];
        assert_eq!(&init[14..22], b"000081ED");
        assert_eq!(&init[54..62], b"00000005");
        assert_eq!(&init[110..115], b"init\0");
        assert_eq!(&init[116..121], b"\x7fELF!");
        // The trailer's 121 bytes of header and name, padded to 124.
        assert!(text.ends_with("TRAILER!!!\0\0\0\0"));
    }
}
