//! Why a DTB cannot be used: [`DtbError`], whose `Display` is the one line the boot prints,
//! and [`Reason`], that line with its numbers left out, for counting refusals by kind.

use core::fmt;

use super::MAX_BLOB_SIZE;
use super::fdt::{FDT_MAGIC, FdtError, HEADER_SIZE};

/// Why a DTB could not be used. `Display` gives a one-line message naming the problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DtbError {
    /// Fewer than [`HEADER_SIZE`] bytes were given to read the header from.
    HeaderTruncated {
        /// How many bytes there were.
        available: usize,
    },
    /// The blob does not start with the FDT magic number.
    BadMagic {
        /// The first four bytes, big-endian.
        found: u32,
    },
    /// The header's `totalsize` is below [`HEADER_SIZE`] or above [`MAX_BLOB_SIZE`].
    BadTotalSize {
        /// The header's `totalsize`.
        totalsize: u32,
    },
    /// The blob is shorter than its header's `totalsize`.
    Truncated {
        /// The header's `totalsize`.
        totalsize: usize,
        /// How many bytes there were.
        available: usize,
    },
    /// The blob's structure is broken: what and where.
    Malformed(FdtError),
    /// A node the kernel needs is absent.
    MissingNode(&'static str),
    /// A property the kernel needs is absent, malformed or has an unsupported value.
    BadProperty {
        /// Which node, in words.
        node: &'static str,
        /// The property's name.
        property: &'static str,
        /// What a usable value looks like.
        expected: &'static str,
    },
    /// A CPU node's property is absent, malformed or has an unsupported value.
    BadCpu {
        /// Position of the CPU node among the available ones, in DTB order, from 0.
        index: usize,
        /// The property's name.
        property: &'static str,
        /// What a usable value looks like.
        expected: &'static str,
    },
    /// `/cpus` lists no available CPU that the kernel could use.
    NoCpus,
    /// `/cpus` lists more available CPUs than the kernel has tables for.
    TooManyCpus {
        /// The kernel's limit, [`crate::MAX_CORES`].
        limit: usize,
    },
    /// Two CPU nodes have the same MPIDR.
    DuplicateMpidr {
        /// The repeated MPIDR.
        mpidr: u64,
    },
    /// No GICv2, GICv3 or BCM2836 per-core interrupt controller node was found.
    NoInterruptController,
    /// More regions of one kind than the fixed capacity holds.
    TooManyRegions {
        /// Which kind of region, in words.
        kind: &'static str,
        /// The capacity.
        limit: usize,
    },
}

impl DtbError {
    /// The message with every number written as `N`, so that refusals differing only in a CPU
    /// node index or a byte offset read the same. Digits inside a word (`pl011`) stay.
    pub fn reason(&self) -> Reason<'_> {
        Reason(self)
    }
}

/// A [`DtbError`]'s message with its numbers written as `N`: see [`DtbError::reason`].
#[derive(Clone, Copy, Debug)]
pub struct Reason<'a>(&'a DtbError);

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write as _;
        let mut out = NumbersAsN {
            out: f,
            previous: ' ',
            in_number: false,
        };
        write!(out, "{}", self.0)
    }
}

/// Writes text to `out` with each number (decimal, or hexadecimal after `0x`) as one `N`.
struct NumbersAsN<'a, 'f> {
    out: &'a mut fmt::Formatter<'f>,
    previous: char,
    in_number: bool,
}

impl fmt::Write for NumbersAsN<'_, '_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        for next in text.chars() {
            let previous = self.previous;
            self.in_number = if self.in_number {
                next.is_ascii_hexdigit() || next == 'x'
            } else {
                next.is_ascii_digit() && !previous.is_ascii_alphanumeric()
            };
            if !self.in_number {
                self.out.write_char(next)?;
            } else if !previous.is_ascii_alphanumeric() {
                self.out.write_char('N')?;
            }
            self.previous = next;
        }
        Ok(())
    }
}

impl fmt::Display for DtbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HeaderTruncated { available } => write!(
                f,
                "DTB header truncated: {available} of {HEADER_SIZE} bytes"
            ),
            Self::BadMagic { found } => write!(
                f,
                "not a DTB: magic {found:#010x}, expected {FDT_MAGIC:#010x}"
            ),
            Self::BadTotalSize { totalsize } => write!(
                f,
                "DTB totalsize {totalsize} outside {HEADER_SIZE}..={MAX_BLOB_SIZE}"
            ),
            Self::Truncated {
                totalsize,
                available,
            } => write!(
                f,
                "DTB truncated: header says {totalsize} bytes, {available} available"
            ),
            Self::Malformed(error) => write!(f, "malformed DTB: {error}"),
            Self::MissingNode(node) => write!(f, "DTB has no {node} node"),
            Self::BadProperty {
                node,
                property,
                expected,
            } => write!(
                f,
                "DTB {node}: `{property}` missing or unusable (expected {expected})"
            ),
            Self::BadCpu {
                index,
                property,
                expected,
            } => write!(
                f,
                "DTB CPU node #{index}: `{property}` missing or unusable (expected {expected})"
            ),
            Self::NoCpus => write!(
                f,
                "DTB /cpus lists no available CPU with a supported enable-method \
                 (psci, spin-table, or none)"
            ),
            Self::TooManyCpus { limit } => {
                write!(f, "DTB lists more than {limit} CPUs, the kernel's limit")
            }
            Self::DuplicateMpidr { mpidr } => {
                write!(f, "DTB lists MPIDR {mpidr:#x} for two CPUs")
            }
            Self::NoInterruptController => write!(
                f,
                "DTB has no supported interrupt controller (GICv2, arm,gic-v3 or \
                 brcm,bcm2836-l1-intc)"
            ),
            Self::TooManyRegions { kind, limit } => {
                write!(f, "DTB has more than {limit} {kind} regions")
            }
        }
    }
}
