//! Fetching what the Linux peer needs from Debian: the current arm64 kernel package, through
//! the host's apt sources in a private apt state (the host's package lists and dpkg database
//! are neither read nor changed), and the cross compiler for `/init`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::progress::progress;
use crate::error::{LaunchError, describe, io_error, run_tool};
use crate::host::find_on_path;
use crate::qemu::{apt_install, may_install_packages};

/// Debian's package that always depends on the current arm64 kernel package.
const KERNEL_METAPACKAGE: &str = "linux-image-arm64";

/// The cross compiler for the C program, and the Debian packages that provide it with a static C
/// library.
pub(super) const CROSS_GCC: &str = "aarch64-linux-gnu-gcc";
const CROSS_PACKAGES: [&str; 2] = ["gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross"];

/// Downloads Debian's current arm64 kernel package through the host's apt sources and
/// extracts its `vmlinuz` to `kernel`.
pub(super) fn fetch_kernel(cache: &Path, kernel: &Path) -> Result<(), LaunchError> {
    for tool in ["apt-get", "apt-cache", "dpkg-deb", "tar"] {
        if find_on_path(tool).is_none() {
            return Err(LaunchError::Tool(format!(
                "{tool} not found: fetching Debian's arm64 Linux needs apt and dpkg \
                 (or put an arm64 Linux Image at {})",
                kernel.display()
            )));
        }
    }
    let apt = PrivateApt::create(&cache.join("apt"))?;
    progress("fetching Debian's arm64 package index with apt-get (first use only)");
    let update = run_tool(apt.command("apt-get").arg("update"))?;
    let package = apt.kernel_package(&String::from_utf8_lossy(&update.stderr))?;
    progress(&format!("downloading {package} (arm64)"));
    run_tool(
        apt.command("apt-get")
            .args(["download", &package])
            .current_dir(&apt.root),
    )?;
    let deb = only_entry(&apt.root, |name| name.ends_with(".deb"))?;
    progress(&format!("extracting vmlinuz from {}", deb.display()));
    extract_boot_files(&deb, &apt.root)?;
    let vmlinuz = only_entry(&apt.root.join("boot"), |name| name.starts_with("vmlinuz-"))?;
    fs::rename(&vmlinuz, kernel).map_err(|error| io_error(kernel, &error))?;
    fs::remove_dir_all(&apt.root).map_err(|error| io_error(&apt.root, &error))
}

/// An apt state of its own under `root`, for arm64, with the host's sources: the host's
/// package lists and dpkg database are neither read nor changed.
struct PrivateApt {
    root: PathBuf,
}

impl PrivateApt {
    /// Creates the directories and the empty dpkg status file apt needs, afresh.
    fn create(root: &Path) -> Result<PrivateApt, LaunchError> {
        if root.exists() {
            fs::remove_dir_all(root).map_err(|error| io_error(root, &error))?;
        }
        for dir in ["state/lists/partial", "cache/archives/partial"] {
            let dir = root.join(dir);
            fs::create_dir_all(&dir).map_err(|error| io_error(&dir, &error))?;
        }
        let status = root.join("status");
        fs::write(&status, "").map_err(|error| io_error(&status, &error))?;
        Ok(PrivateApt {
            root: root.to_owned(),
        })
    }

    /// `program` (apt-get or apt-cache) set to this state and to arm64.
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        let setting = |name: &str, value: &Path| format!("{name}={}", value.display());
        command
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .args(["-o", &setting("Dir::State", &self.root.join("state"))])
            .args([
                "-o",
                &setting("Dir::State::status", &self.root.join("status")),
            ])
            .args(["-o", &setting("Dir::Cache", &self.root.join("cache"))])
            .args([
                "-o",
                "APT::Architecture=arm64",
                "-o",
                "APT::Architectures=arm64",
            ]);
        command
    }

    /// The kernel package [`KERNEL_METAPACKAGE`] depends on, e.g. `linux-image-6.1.0-56-arm64`.
    /// `update_messages` is what `apt-get update` printed, quoted when the index has no kernel.
    fn kernel_package(&self, update_messages: &str) -> Result<String, LaunchError> {
        let not_found = |detail: &str| {
            LaunchError::Tool(format!(
                "{KERNEL_METAPACKAGE} not found for arm64 in this host's apt sources \
                 (offline, or not Debian 12?): {detail}"
            ))
        };
        let shown = self
            .command("apt-cache")
            .args(["show", "--no-all-versions", KERNEL_METAPACKAGE])
            .output()
            .map_err(|error| LaunchError::Tool(format!("could not run apt-cache: {error}")))?;
        let show = String::from_utf8_lossy(&shown.stdout);
        if !shown.status.success() || show.trim().is_empty() {
            let first_problem = update_messages
                .lines()
                .chain(String::from_utf8_lossy(&shown.stderr).lines())
                .find(|line| line.starts_with("W:") || line.starts_with("E:"))
                .unwrap_or("apt-get update found no package index")
                .to_owned();
            return Err(not_found(&first_problem));
        }
        kernel_dependency(&show).ok_or_else(|| not_found("its record names no linux-image package"))
    }
}

/// The first `linux-image-*` package in the `Depends:` field of an `apt-cache show` record.
fn kernel_dependency(record: &str) -> Option<String> {
    record
        .lines()
        .find_map(|line| line.strip_prefix("Depends:"))?
        .split([',', '|'])
        .filter_map(|dependency| dependency.split_whitespace().next())
        .find(|package| package.starts_with("linux-image-"))
        .map(str::to_owned)
}

/// Extracts `./boot/vmlinuz-*` of `deb` into `into`: `dpkg-deb --fsys-tarfile` piped to `tar`,
/// so the kernel's modules are never written out.
fn extract_boot_files(deb: &Path, into: &Path) -> Result<(), LaunchError> {
    let mut dpkg_deb = Command::new("dpkg-deb");
    dpkg_deb
        .arg("--fsys-tarfile")
        .arg(deb)
        .stdout(Stdio::piped());
    let mut unpacking = dpkg_deb.spawn().map_err(|error| {
        LaunchError::Tool(format!("could not run `{}`: {error}", describe(&dpkg_deb)))
    })?;
    let archive = unpacking.stdout.take().expect("dpkg-deb's stdout is piped");
    let mut tar = Command::new("tar");
    tar.arg("-x")
        .arg("-C")
        .arg(into)
        .args(["--wildcards", "./boot/vmlinuz-*"])
        .stdin(archive);
    let extracted = run_tool(&mut tar);
    let unpacked = unpacking.wait().map_err(|error| {
        LaunchError::Tool(format!("waiting for `{}`: {error}", describe(&dpkg_deb)))
    })?;
    extracted?;
    if unpacked.success() {
        Ok(())
    } else {
        Err(LaunchError::Tool(format!(
            "`{}` failed ({unpacked})",
            describe(&dpkg_deb)
        )))
    }
}

/// The one entry of `dir` whose name `wanted` accepts.
fn only_entry(dir: &Path, wanted: impl Fn(&str) -> bool) -> Result<PathBuf, LaunchError> {
    let entries = fs::read_dir(dir).map_err(|error| io_error(dir, &error))?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .is_some_and(|name| wanted(&name.to_string_lossy()))
        })
        .collect();
    match (found.pop(), found.is_empty()) {
        (Some(path), true) => Ok(path),
        _ => Err(LaunchError::Tool(format!(
            "expected exactly one such file in {}, found {}",
            dir.display(),
            found.len() + 1
        ))),
    }
}

/// The path of [`CROSS_GCC`], installing [`CROSS_PACKAGES`] first when it is missing and this
/// process runs as root with apt-get.
pub(super) fn cross_compiler() -> Result<PathBuf, LaunchError> {
    if let Some(gcc) = find_on_path(CROSS_GCC) {
        return Ok(gcc);
    }
    let missing = format!(
        "{CROSS_GCC} not found; install it with: sudo apt-get install {}",
        CROSS_PACKAGES.join(" ")
    );
    if !may_install_packages() {
        return Err(LaunchError::Tool(missing));
    }
    progress(&format!(
        "{CROSS_GCC} not found; installing {} with apt-get",
        CROSS_PACKAGES.join(" ")
    ));
    apt_install(&CROSS_PACKAGES)
        .map_err(|error| LaunchError::Tool(format!("{error}; {missing}")))?;
    find_on_path(CROSS_GCC).ok_or(LaunchError::Tool(missing))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_kernel_package_in_the_metapackages_record() {
        let record = "Package: linux-image-arm64\nVersion: 6.1.192-2\n\
                      Depends: linux-image-6.1.0-56-arm64 (= 6.1.192-2)\nDescription: x\n";
        assert_eq!(
            kernel_dependency(record).as_deref(),
            Some("linux-image-6.1.0-56-arm64")
        );
        assert_eq!(kernel_dependency("Package: linux-image-arm64\n"), None);
    }
}
