//! The Linux peer's progress lines on stderr, one per step it takes (fetching, compiling,
//! booting), all with the same prefix.

/// Prints `coresched-qemu: Linux peer: <message>` to stderr.
pub(super) fn progress(message: &str) {
    eprintln!("coresched-qemu: Linux peer: {message}");
}
