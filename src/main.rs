//! The coresched kernel image. Everything lives in the library; this binary only links it.
//! On the host it explains how to run the kernel instead.

#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]

#[cfg(target_os = "none")]
use coresched as _;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("coresched is a bare-metal aarch64 kernel: boot it with `cargo qemu`");
    std::process::exit(2);
}
