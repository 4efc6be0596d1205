//! Which UART is the console: what the DTB offers ([`stdout`], [`serial`]) and the one choice
//! the kernel and `cargo dtb` both make from it ([`Platform::choose_console`]).
//!
//! The order, first that gives a UART with a driver:
//! 1. `/chosen/stdout-path` (or `linux,stdout-path`), as Linux's `of_alias_scan` reads it;
//! 2. the `earlycon=` bootarg;
//! 3. the lowest-numbered `serialN` alias whose node is enabled (with its parent buses);
//! 4. the first enabled node, in DTB order, whose `compatible` a driver claims.
//!
//! Without stdout-path and `console=`, Linux has no preferred console, and `register_console`
//! enables the first console a driver registers; serial drivers number their ports from the
//! `serialN` aliases (`of_alias_get_id`). Rules 3 and 4 stand for that: this kernel registers
//! nothing, so it takes the port Linux numbers first, else the first one it would probe.

use core::fmt;

use super::fdt::{Fdt, Node};
use super::{
    DtbError, Platform, SerialFound, SerialUart, Uart, compatible, find_path, find_with_ancestors,
    is_available, regions, string_property,
};
use crate::platform::uart::UartConfig;

/// What names a UART in error messages.
const NODE: &str = "UART node";
/// The alias names that rule 3 reads: `serial` and a decimal number.
const SERIAL_ALIAS_PREFIX: &str = "serial";

/// The UART named by `/chosen/stdout-path` (or the older `linux,stdout-path`): a path or an
/// alias, with optional `:options`. `None` without `/chosen`, without either property, or if
/// it names no node (Linux then has no console either); an `Err` if the property is not a
/// string or the node has no usable `reg`.
pub(super) fn stdout<'a>(fdt: &Fdt<'a>) -> Result<Option<Uart<'a>>, DtbError> {
    let root = fdt.root();
    let Some(stdout) = root.child(b"chosen").and_then(|chosen| {
        chosen
            .property("stdout-path")
            .or_else(|| chosen.property("linux,stdout-path"))
    }) else {
        return Ok(None);
    };
    let stdout = stdout.as_str().ok_or(DtbError::BadProperty {
        node: "/chosen",
        property: "stdout-path",
        expected: "a NUL-terminated UTF-8 string",
    })?;
    let name = stdout
        .split_once(':')
        .map_or(stdout, |(name, _options)| name);
    let path = if name.starts_with('/') {
        Some(name)
    } else {
        root.child(b"aliases")
            .and_then(|aliases| string_property(&aliases, name))
    };
    let Some(uart) = path.and_then(|path| find_path(fdt, path)) else {
        return Ok(None);
    };
    uart_at(&uart.node, &uart.ancestors).map(Some)
}

/// The UART `node` describes (`ancestors`: the root first, its parent last); an `Err` if its
/// `reg` or its `reg-shift` / `reg-io-width` cannot be read.
fn uart_at<'a>(node: &Node<'a>, ancestors: &[Node<'a>]) -> Result<Uart<'a>, DtbError> {
    let regs = regions(node, ancestors, NODE)?
        .next()
        .ok_or(DtbError::BadProperty {
            node: NODE,
            property: "reg",
            expected: "an address/size pair",
        })??;
    let optional_cell = |property: &'static str| {
        node.property(property)
            .map(|value| {
                value.as_u32().ok_or(DtbError::BadProperty {
                    node: NODE,
                    property,
                    expected: "one cell",
                })
            })
            .transpose()
    };
    Ok(Uart {
        name: core::str::from_utf8(node.name()).unwrap_or("(unreadable name)"),
        compatible: compatible(node),
        regs,
        reg_shift: optional_cell("reg-shift")?,
        reg_io_width: optional_cell("reg-io-width")?,
    })
}

/// The UART at `node` if it and every ancestor are enabled, it is readable and a driver
/// claims it.
fn drivable<'a>(node: &Node<'a>, ancestors: &[Node<'a>]) -> Option<Uart<'a>> {
    if !(is_available(node) && ancestors.iter().all(is_available)) {
        return None;
    }
    uart_at(node, ancestors)
        .ok()
        .filter(|uart| uart.config().is_some())
}

/// Rules 3 and 4 of the module's order: the lowest `serialN` alias naming a drivable UART, else
/// the first drivable UART node in DTB order. Unusable candidates are passed over, never an
/// error.
pub(super) fn serial<'a>(fdt: &Fdt<'a>) -> Option<SerialUart<'a>> {
    serial_alias(fdt).or_else(|| {
        first_drivable(fdt).map(|uart| SerialUart {
            uart,
            found: SerialFound::FirstNode,
        })
    })
}

/// The drivable UART of the lowest-numbered `serialN` alias, if any.
fn serial_alias<'a>(fdt: &Fdt<'a>) -> Option<SerialUart<'a>> {
    let aliases = fdt.root().child(b"aliases")?;
    let mut best: Option<(u32, SerialUart<'a>)> = None;
    for property in aliases.properties() {
        let Some((name, number)) = property
            .name()
            .and_then(|name| Some((name, serial_number(name)?)))
        else {
            continue;
        };
        if best.as_ref().is_some_and(|(lowest, _)| *lowest <= number) {
            continue;
        }
        let (Ok(alias), Some(path)) = (core::str::from_utf8(name), property.as_str()) else {
            continue;
        };
        let Some(uart) =
            find_path(fdt, path).and_then(|located| drivable(&located.node, &located.ancestors))
        else {
            continue;
        };
        best = Some((
            number,
            SerialUart {
                uart,
                found: SerialFound::Alias { alias, path },
            },
        ));
    }
    best.map(|(_, serial)| serial)
}

/// N in an alias named `serialN` (decimal digits only).
pub(super) fn serial_number(name: &[u8]) -> Option<u32> {
    let digits = name.strip_prefix(SERIAL_ALIAS_PREFIX.as_bytes())?;
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    core::str::from_utf8(digits).ok()?.parse().ok()
}

/// The first drivable UART node in DTB order.
fn first_drivable<'a>(fdt: &Fdt<'a>) -> Option<Uart<'a>> {
    let mut found = None;
    find_with_ancestors(fdt, |node, ancestors| {
        found = node
            .property("compatible")
            .and_then(|_| drivable(node, ancestors));
        found.is_some()
    });
    found
}

/// Why `/chosen/stdout-path` gives no console: see [`Platform::stdout_problem`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StdoutProblem<'a> {
    /// No `/chosen`, no stdout-path, or it names no node.
    Missing,
    /// It names a UART no driver claims; its first compatible.
    NoDriver(&'a str),
}

impl fmt::Display for StdoutProblem<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => write!(f, "no /chosen/stdout-path"),
            Self::NoDriver(compatible) => {
                write!(f, "stdout UART {compatible} has no console driver")
            }
        }
    }
}

/// Which rule of the module's order picked the console.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsoleRule<'a> {
    /// Rule 1: `/chosen/stdout-path` names this UART.
    StdoutPath(Uart<'a>),
    /// Rule 2: the `earlycon=` bootarg.
    Earlycon,
    /// Rules 3 and 4: a `serialN` alias, or the first drivable UART node.
    Serial(SerialUart<'a>),
}

/// The console UART and the rule that chose it; `Display` says both, e.g.
/// `serial0 alias /soc/serial@7a000 (meson driver)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConsoleChoice<'a> {
    /// Its driver and address.
    pub config: UartConfig,
    /// Why it is the console.
    pub rule: ConsoleRule<'a>,
}

impl<'a> ConsoleChoice<'a> {
    /// The DTB node of the UART, unless it came from `earlycon=`.
    pub fn uart(&self) -> Option<&Uart<'a>> {
        match &self.rule {
            ConsoleRule::StdoutPath(uart) => Some(uart),
            ConsoleRule::Earlycon => None,
            ConsoleRule::Serial(serial) => Some(&serial.uart),
        }
    }
}

impl fmt::Display for ConsoleChoice<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.rule {
            ConsoleRule::StdoutPath(uart) => write!(f, "/chosen/stdout-path {}", uart.name)?,
            ConsoleRule::Earlycon => write!(f, "earlycon= at {:#x}", self.config.base())?,
            ConsoleRule::Serial(SerialUart {
                found: SerialFound::Alias { alias, path },
                ..
            }) => write!(f, "{alias} alias {path}")?,
            ConsoleRule::Serial(SerialUart {
                uart,
                found: SerialFound::FirstNode,
            }) => write!(f, "first enabled UART with a driver, {}", uart.name)?,
        }
        write!(f, " ({} driver)", self.config.family())
    }
}

impl<'a> Platform<'a> {
    /// The console, by the module's order: the stdout-path UART if a driver claims it, else
    /// `earlycon` (the parsed `earlycon=` bootarg), else [`Platform::serial`]; `None` if none
    /// of them gives one (the kernel then runs without a console, as Linux does).
    pub fn choose_console(&self, earlycon: Option<UartConfig>) -> Option<ConsoleChoice<'a>> {
        let stdout = self.console.and_then(|uart| {
            uart.config().map(|config| ConsoleChoice {
                config,
                rule: ConsoleRule::StdoutPath(uart),
            })
        });
        let earlycon = || {
            earlycon.map(|config| ConsoleChoice {
                config,
                rule: ConsoleRule::Earlycon,
            })
        };
        let serial = || {
            self.serial.and_then(|serial| {
                serial.uart.config().map(|config| ConsoleChoice {
                    config,
                    rule: ConsoleRule::Serial(serial),
                })
            })
        };
        stdout.or_else(earlycon).or_else(serial)
    }

    /// Why `/chosen/stdout-path` gives no console; `None` if it names a UART with a driver.
    pub fn stdout_problem(&self) -> Option<StdoutProblem<'a>> {
        match self.console {
            None => Some(StdoutProblem::Missing),
            Some(uart) if uart.config().is_none() => {
                Some(StdoutProblem::NoDriver(uart.first_compatible()))
            }
            Some(_) => None,
        }
    }
}
