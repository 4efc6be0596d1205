//! Building the kernel Image: making sure the pinned toolchain has the bare-metal target and
//! llvm-objcopy, compiling the ELF with a nested `cargo build`, and stripping it to the raw
//! Image QEMU boots (the arm64 Linux boot protocol needs the Image, not the ELF).
//!
//! Each (profile, features) pair is built at most once per process, so a test binary that
//! boots the kernel fifty times compiles and converts it once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock, PoisonError};

use crate::error::{LaunchError, describe, run_tool};
use crate::host::find_on_path;

/// The target the kernel is compiled for.
pub const KERNEL_TARGET: &str = "aarch64-unknown-none";

/// The name of the kernel's package and of its binary.
const KERNEL_PACKAGE: &str = "coresched";

/// Environment variables that would change the nested build: flags meant for the outer build
/// (coverage, sanitizers), a target or target directory, and the outer cargo's toolchain
/// (dropping `RUSTUP_TOOLCHAIN` lets `rust-toolchain.toml` pick the pinned one).
const OUTER_BUILD_VARIABLES: [&str; 9] = [
    "RUSTUP_TOOLCHAIN",
    "RUSTC",
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_BUILD_TARGET",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_BUILD_BUILD_DIR",
];

/// The cargo profile the kernel is compiled with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Profile {
    /// `release`: what `cargo qemu` and the benchmark boot.
    Release,
    /// `kernel-test`: release plus debug assertions, which turn on the lock-rank checker. What
    /// the host tests boot.
    KernelTest,
}

impl Profile {
    /// Every profile, in the order `--profile` lists them.
    pub const ALL: [Profile; 2] = [Profile::Release, Profile::KernelTest];

    /// The name `cargo build --profile` takes, which is also the output directory's name.
    pub const fn cargo_name(self) -> &'static str {
        match self {
            Profile::Release => "release",
            Profile::KernelTest => "kernel-test",
        }
    }
}

/// A built kernel: the ELF (for gdb and symbols) and the raw Image beside it (for QEMU).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelImage {
    /// The linked ELF, `target/kernel/aarch64-unknown-none/<profile>/coresched` for the
    /// launcher's own builds.
    pub elf: PathBuf,
    /// The raw Image, the ELF's path with `.Image` appended.
    pub image: PathBuf,
}

/// How much of the nested build's output the user sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildOutput {
    /// Cargo's progress and warnings go to this process's stderr as they come.
    Shown,
    /// Cargo's output is kept, and shown only inside the error if the build fails.
    Captured,
}

/// The workspace root: the directory holding the kernel's `Cargo.toml` and `rust-toolchain.toml`.
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the launcher's package sits inside the kernel's workspace")
}

/// Builds the kernel with `profile` and `features` and converts it to an Image, once per
/// process: later calls with the same profile and features return the first call's result,
/// success or error, without building again. Concurrent calls wait for each other.
pub fn build(
    profile: Profile,
    features: &[String],
    output: BuildOutput,
) -> Result<KernelImage, LaunchError> {
    static BUILT: OnceLock<Mutex<HashMap<BuildKey, BuildResult>>> = OnceLock::new();
    let mut features = features.to_vec();
    features.sort();
    features.dedup();
    // The lock is held across the build: builds share `target/kernel`, so they run one at a time.
    let mut built = BUILT
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    built
        .entry((profile, features))
        .or_insert_with_key(|(profile, features)| build_uncached(*profile, features, output))
        .clone()
}

/// What identifies a build: the profile and the sorted, deduplicated features.
type BuildKey = (Profile, Vec<String>);

type BuildResult = Result<KernelImage, LaunchError>;

fn build_uncached(profile: Profile, features: &[String], output: BuildOutput) -> BuildResult {
    // A missing target or llvm-tools is completed before the build needs it.
    toolchain()?;
    // Each feature set gets its own target directory, so images built with different features
    // never overwrite one another (tests boot both kinds side by side).
    let target_dir = match features {
        [] => workspace_root().join("target").join("kernel"),
        features => workspace_root()
            .join("target")
            .join(format!("kernel-{}", features.join("+"))),
    };
    let mut cargo = pinned_toolchain_command("cargo");
    cargo.args([
        "build",
        "--target",
        KERNEL_TARGET,
        "--package",
        KERNEL_PACKAGE,
    ]);
    cargo.args(["--bin", KERNEL_PACKAGE, "--profile", profile.cargo_name()]);
    cargo.arg("--target-dir").arg(&target_dir);
    if !features.is_empty() {
        cargo.args(["--features", &features.join(",")]);
    }
    if output == BuildOutput::Captured {
        cargo.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let finished = cargo
        .stdin(Stdio::null())
        .spawn()
        .and_then(|child| child.wait_with_output())
        .map_err(|error| {
            LaunchError::Tool(format!("could not run `{}`: {error}", describe(&cargo)))
        })?;
    if !finished.status.success() {
        let diagnostics = match output {
            BuildOutput::Shown => format!("`{}` failed ({})", describe(&cargo), finished.status),
            BuildOutput::Captured => String::from_utf8_lossy(&finished.stderr).into_owned(),
        };
        return Err(LaunchError::KernelBuild(diagnostics));
    }

    let elf = target_dir
        .join(KERNEL_TARGET)
        .join(profile.cargo_name())
        .join(KERNEL_PACKAGE);
    image_from_elf(&elf)
}

/// Converts a kernel ELF (one the launcher built, or one `cargo run -p coresched --target
/// aarch64-unknown-none` hands it as its runner) to the raw Image beside it, `<elf>.Image`,
/// with llvm-objcopy.
pub fn image_from_elf(elf: &Path) -> Result<KernelImage, LaunchError> {
    let objcopy = toolchain()?.objcopy;
    let mut image = elf.to_owned().into_os_string();
    image.push(".Image");
    let image = PathBuf::from(image);
    run_tool(
        Command::new(&objcopy)
            .args(["-O", "binary"])
            .arg(elf)
            .arg(&image),
    )?;
    Ok(KernelImage {
        elf: elf.to_owned(),
        image,
    })
}

/// What the launcher needs from the pinned toolchain beyond cargo itself.
#[derive(Clone, Debug)]
struct Toolchain {
    /// `llvm-objcopy` from the `llvm-tools` component.
    objcopy: PathBuf,
}

/// Checks the pinned toolchain once per process, adding the kernel target and `llvm-tools`
/// through rustup when they are missing (rustup installs a `rust-toolchain.toml`'s targets
/// only when it installs the toolchain itself, so an existing toolchain may lack them).
fn toolchain() -> Result<Toolchain, LaunchError> {
    static TOOLCHAIN: OnceLock<Result<Toolchain, LaunchError>> = OnceLock::new();
    TOOLCHAIN.get_or_init(prepare_toolchain).clone()
}

fn prepare_toolchain() -> Result<Toolchain, LaunchError> {
    // Without rustup the toolchain is the user's to complete; the build says what is missing.
    if find_on_path("rustup").is_some() {
        let targets = rustup_list(&["target", "list", "--installed"])?;
        if !targets.lines().any(|target| target.trim() == KERNEL_TARGET) {
            add_with_rustup(&["target", "add", KERNEL_TARGET])?;
        }
        let components = rustup_list(&["component", "list", "--installed"])?;
        if !components
            .lines()
            .any(|component| component.starts_with("llvm-tools"))
        {
            add_with_rustup(&["component", "add", "llvm-tools"])?;
        }
    }
    let sysroot = rustc_query(&["--print", "sysroot"])?;
    let version = rustc_query(&["-vV"])?;
    let host = version
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .ok_or_else(|| LaunchError::Tool("`rustc -vV` printed no `host:` line".to_owned()))?;
    let objcopy = Path::new(sysroot.trim())
        .join("lib/rustlib")
        .join(host.trim())
        .join("bin/llvm-objcopy");
    if !objcopy.is_file() {
        return Err(LaunchError::Tool(format!(
            "{} not found; install it with: rustup component add llvm-tools",
            objcopy.display()
        )));
    }
    Ok(Toolchain { objcopy })
}

fn rustup_list(args: &[&str]) -> Result<String, LaunchError> {
    let output = run_tool(pinned_toolchain_command("rustup").args(args))?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn add_with_rustup(args: &[&str]) -> Result<(), LaunchError> {
    eprintln!(
        "coresched-qemu: completing the pinned toolchain: rustup {}",
        args.join(" ")
    );
    run_tool(pinned_toolchain_command("rustup").args(args)).map(drop)
}

fn rustc_query(args: &[&str]) -> Result<String, LaunchError> {
    let output = run_tool(pinned_toolchain_command("rustc").args(args))?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `program` (cargo, rustc, rustup) run from the workspace root, so rustup picks the toolchain
/// `rust-toolchain.toml` pins, with the outer build's variables removed: what a host test
/// uses to run cargo itself.
pub fn pinned_toolchain_command(program: &str) -> Command {
    let mut command = Command::new(program);
    command.current_dir(workspace_root());
    for variable in OUTER_BUILD_VARIABLES {
        command.env_remove(variable);
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_root_holds_the_kernel_manifest_and_toolchain_pin() {
        assert!(workspace_root().join("rust-toolchain.toml").is_file());
        assert!(workspace_root().join("Cargo.toml").is_file());
    }

    #[test]
    fn profile_names_are_cargo_profiles() {
        assert_eq!(Profile::Release.cargo_name(), "release");
        assert_eq!(Profile::KernelTest.cargo_name(), "kernel-test");
    }

    #[test]
    fn pinned_toolchain_commands_drop_the_outer_build_settings() {
        let command = pinned_toolchain_command("cargo");
        assert_eq!(command.get_current_dir(), Some(workspace_root()));
        let removed: Vec<_> = command
            .get_envs()
            .filter(|(_, value)| value.is_none())
            .map(|(name, _)| name.to_string_lossy().into_owned())
            .collect();
        for variable in OUTER_BUILD_VARIABLES {
            assert!(
                removed.iter().any(|name| name == variable),
                "{variable} kept"
            );
        }
    }

    #[test]
    fn the_toolchain_provides_llvm_objcopy() {
        let toolchain = toolchain().expect("toolchain ready");
        assert!(toolchain.objcopy.ends_with("bin/llvm-objcopy"));
    }
}
