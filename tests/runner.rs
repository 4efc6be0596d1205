//! `cargo run` on the kernel's target: cargo builds the kernel with the profile asked for and
//! hands the ELF to the launcher (the target's `runner` in `.cargo/config.toml`), which makes
//! its Image and boots it with the flags after `--`.

use std::process::Stdio;

use coresched_qemu::kernel::pinned_toolchain_command;

#[test]
fn cargo_run_boots_the_kernel_it_built_with_the_launchers_flags() {
    let output = pinned_toolchain_command("cargo")
        .args(["run", "--quiet", "--package", "coresched"])
        .args(["--target", "aarch64-unknown-none"])
        .args(["--profile", "kernel-test"])
        // The launcher's own kernel-test build lives here: the same build, so no second one.
        .args(["--target-dir", "target/kernel"])
        .args(["--", "--smp", "2", "--bootargs", "test=boot::cores_online"])
        .stdin(Stdio::null())
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let transcript = format!("--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}");
    assert_eq!(output.status.code(), Some(0), "{transcript}");
    // The flags reached the launcher, and the kernel-test kernel (the one with the rank
    // checker) ran the test on both cores.
    assert!(
        stdout.contains("ok 1 - boot::cores_online # cores=2 "),
        "{transcript}"
    );
    // The console ends lines with CR LF, as a serial console does.
    assert!(stdout.ends_with("1 passed, 0 failed\r\n"), "{transcript}");
    assert!(
        stderr.contains("coresched-qemu: smp=2 gic=3 cpu=cortex-a72 el=1 mem=1024M bootargs=\"test=boot::cores_online\": boot: 2 cores online"),
        "{transcript}"
    );
    let image = "target/kernel/aarch64-unknown-none/kernel-test/coresched.Image";
    assert!(
        coresched_qemu::kernel::workspace_root()
            .join(image)
            .is_file(),
        "the Image is made beside the ELF"
    );
}
