//! The console's UART drivers: one small output-only, polled driver per UART family (as Linux's
//! earlycon drives them), chosen by a DTB `compatible` list or an `earlycon=` word.
//!
//! Every driver assumes firmware set the baud rate and line format. A driver only says whether
//! its transmitter has room and hands over one byte; the waiting, the `\n` to `\r\n` translation and the bound on the wait
//! are shared by all of them in [`Uart`]. A UART that never gets ready costs each byte at most
//! [`POLL_LIMIT`] polls, and once one byte has been dropped, the following ones get a single poll
//! each until a byte goes through again: a console must never hang the kernel.

mod armada;
mod cadence;
mod geni;
mod imx;
mod lpuart;
mod meson;
#[cfg(target_os = "none")]
pub mod mmio;
mod ns16550;
mod pl011;
mod samsung;
mod scif;
#[cfg(test)]
mod sim;
mod uartdm;

use core::fmt;

pub use ns16550::Ns16550;

/// How many times one byte polls a transmitter that has no room before the byte is dropped.
/// At 115200 baud a full FIFO frees a place every 87 µs; this leaves a wide margin even for
/// 9600 baud on a fast core.
pub const POLL_LIMIT: usize = 200_000;

/// The width (and byte order) of one register access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// An 8-bit access.
    U8,
    /// A 16-bit little-endian access.
    U16,
    /// A 32-bit little-endian access.
    U32,
    /// A 32-bit big-endian access (Linux's `mmio32be`, the LS1021A's lpuart).
    U32BigEndian,
}

impl Access {
    /// The access a DT `reg-io-width` (in bytes) asks for: 1, 2 or 4; `None` for anything else.
    pub fn from_reg_io_width(bytes: u32) -> Option<Self> {
        match bytes {
            1 => Some(Self::U8),
            2 => Some(Self::U16),
            4 => Some(Self::U32),
            _ => None,
        }
    }
}

/// A UART's register block as a driver sees it: byte offsets from the UART's base.
pub trait Io {
    /// Reads the register at `offset` with `access`; 8 and 16-bit reads are zero-extended.
    fn read(&self, offset: usize, access: Access) -> u32;
    /// Writes the low bits of `value` to the register at `offset` with `access`.
    fn write(&self, offset: usize, access: Access, value: u32);
}

impl<T: Io + ?Sized> Io for &T {
    fn read(&self, offset: usize, access: Access) -> u32 {
        (**self).read(offset, access)
    }

    fn write(&self, offset: usize, access: Access, value: u32) {
        (**self).write(offset, access, value)
    }
}

/// The transmit side of one UART family.
trait Transmitter {
    /// Makes the transmitter usable as Linux's earlycon setup does for this family (enable the
    /// transmitter, leave polled mode), never touching the baud rate. Most families need nothing.
    fn start(&self, _io: &impl Io) {}
    /// Whether the transmitter can take one more byte now. Reads registers only.
    fn ready(&self, io: &impl Io) -> bool;
    /// Hands `byte` to the transmitter. Called only right after `ready` returned true.
    fn send(&self, io: &impl Io, byte: u8);
}

/// Every family's driver, so that one value can name any of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Driver {
    Pl011(pl011::Pl011),
    Ns16550(Ns16550),
    Cadence(cadence::Cadence),
    Imx(imx::Imx),
    Meson(meson::Meson),
    Geni(geni::Geni),
    UartDm(uartdm::UartDm),
    Samsung(samsung::Samsung),
    Scif(scif::Scif),
    Armada(armada::Armada),
    Lpuart(lpuart::Lpuart),
}

/// Runs `$body` with `$d` bound to whichever driver `$driver` holds.
macro_rules! with_driver {
    ($driver:expr, $d:ident => $body:expr) => {
        match $driver {
            Driver::Pl011($d) => $body,
            Driver::Ns16550($d) => $body,
            Driver::Cadence($d) => $body,
            Driver::Imx($d) => $body,
            Driver::Meson($d) => $body,
            Driver::Geni($d) => $body,
            Driver::UartDm($d) => $body,
            Driver::Samsung($d) => $body,
            Driver::Scif($d) => $body,
            Driver::Armada($d) => $body,
            Driver::Lpuart($d) => $body,
        }
    };
}

impl Transmitter for Driver {
    fn start(&self, io: &impl Io) {
        with_driver!(self, d => d.start(io))
    }

    fn ready(&self, io: &impl Io) -> bool {
        with_driver!(self, d => d.ready(io))
    }

    fn send(&self, io: &impl Io, byte: u8) {
        with_driver!(self, d => d.send(io, byte))
    }
}

impl Driver {
    /// The driver for one `compatible` string, if a family here claims it and can use the
    /// node's `reg-shift` and `reg-io-width`.
    fn probe(compatible: &str, reg_shift: Option<u32>, reg_io_width: Option<u32>) -> Option<Self> {
        pl011::probe(compatible)
            .map(Self::Pl011)
            .or_else(|| ns16550::probe(compatible, reg_shift, reg_io_width).map(Self::Ns16550))
            .or_else(|| cadence::probe(compatible).map(Self::Cadence))
            .or_else(|| imx::probe(compatible).map(Self::Imx))
            .or_else(|| meson::probe(compatible).map(Self::Meson))
            .or_else(|| geni::probe(compatible).map(Self::Geni))
            .or_else(|| uartdm::probe(compatible).map(Self::UartDm))
            .or_else(|| samsung::probe(compatible, reg_io_width).map(Self::Samsung))
            .or_else(|| scif::probe(compatible).map(Self::Scif))
            .or_else(|| armada::probe(compatible).map(Self::Armada))
            .or_else(|| lpuart::probe(compatible).map(Self::Lpuart))
    }

    fn family(&self) -> &'static str {
        match self {
            Self::Pl011(_) => "pl011",
            Self::Ns16550(_) => "8250",
            Self::Cadence(_) => "cadence",
            Self::Imx(_) => "imx",
            Self::Meson(_) => "meson",
            Self::Geni(_) => "qcom-geni",
            Self::UartDm(_) => "qcom-uartdm",
            Self::Samsung(_) => "samsung",
            Self::Scif(_) => "scif",
            Self::Armada(_) => "armada-3700",
            Self::Lpuart(_) => "lpuart",
        }
    }
}

/// A UART the console can drive: its family's driver (with the register spacing it needs) and
/// the physical address of its registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UartConfig {
    driver: Driver,
    base: usize,
}

impl UartConfig {
    /// The UART a DTB node describes, or `None` if no driver here knows it. `compatible` is the
    /// node's list in its own order: the first string a driver claims picks the driver, as in
    /// Linux. `base` is the register block's physical address (translated through the buses'
    /// `ranges`). `reg_shift` and `reg_io_width` are the node's properties of those names, if
    /// present: the 8250 family uses both (each compatible has Linux's defaults, and the
    /// BCM2835 mini UART and MediaTek UARTs always use shift 2 and 32-bit access, as in Linux),
    /// Samsung UARTs use `reg-io-width` for the data register; every other family has a fixed
    /// layout and ignores them. A string whose driver cannot use the given `reg-io-width`
    /// (anything but 1, 2 or 4 for the 8250) does not count as claimed.
    pub fn from_compatible<'a>(
        compatible: impl IntoIterator<Item = &'a str>,
        base: usize,
        reg_shift: Option<u32>,
        reg_io_width: Option<u32>,
    ) -> Option<Self> {
        compatible
            .into_iter()
            .find_map(|name| Driver::probe(name, reg_shift, reg_io_width))
            .map(|driver| Self { driver, base })
    }

    /// A PL011 at `base`: what the DTB parser reports until it hands over the compatible list.
    pub const fn pl011(base: usize) -> Self {
        Self {
            driver: Driver::Pl011(pl011::Pl011),
            base,
        }
    }

    /// An 8250/16550 at `base` with the given register spacing and access.
    pub const fn ns16550(base: usize, driver: Ns16550) -> Self {
        Self {
            driver: Driver::Ns16550(driver),
            base,
        }
    }

    /// The physical address of the UART's registers.
    pub const fn base(&self) -> usize {
        self.base
    }

    /// The family's short name (`pl011`, `8250`, `cadence`, ...), for messages.
    pub fn family(&self) -> &'static str {
        self.driver.family()
    }
}

/// A started UART: writes text through its family's driver, `\n` as `\r\n`, never waiting
/// more than [`POLL_LIMIT`] polls for one byte.
#[derive(Debug)]
pub struct Uart<I: Io> {
    driver: Driver,
    io: I,
    stalled: bool,
}

impl<I: Io> Uart<I> {
    /// Starts the UART `config` describes through `io`, which must reach its registers: runs
    /// the family's enabling step (never the baud rate).
    pub fn new(config: UartConfig, io: I) -> Self {
        config.driver.start(&io);
        Self {
            driver: config.driver,
            io,
            stalled: false,
        }
    }

    /// Writes `bytes`, each `\n` as `\r\n`. Returns when every byte was handed over or dropped.
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            if byte == b'\n' {
                self.put(b'\r');
            }
            self.put(byte);
        }
    }

    /// Hands `byte` over once the transmitter has room; drops it after [`POLL_LIMIT`] polls,
    /// or after one poll while the previous byte was dropped too.
    fn put(&mut self, byte: u8) {
        let polls = if self.stalled { 1 } else { POLL_LIMIT };
        for _ in 0..polls {
            if self.driver.ready(&self.io) {
                self.driver.send(&self.io, byte);
                self.stalled = false;
                return;
            }
            core::hint::spin_loop();
        }
        self.stalled = true;
    }
}

impl<I: Io> fmt::Write for Uart<I> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_bytes(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::sim::Sim;
    use super::*;

    const FR: usize = 0x18;
    const TXFF: u32 = 1 << 5;

    #[test]
    fn the_first_known_compatible_in_list_order_picks_the_driver() {
        let uart = UartConfig::from_compatible(
            ["vendor,unknown-uart", "xlnx,zynqmp-uart", "arm,pl011"],
            0x1000,
            None,
            None,
        )
        .unwrap();
        assert_eq!(uart.family(), "cadence");
        assert_eq!(uart.base(), 0x1000);
        let uart =
            UartConfig::from_compatible(["arm,pl011", "arm,primecell"], 0x9000000, None, None);
        assert_eq!(uart, Some(UartConfig::pl011(0x9000000)));
    }

    #[test]
    fn no_known_compatible_means_no_uart() {
        assert_eq!(
            UartConfig::from_compatible(["acme,uart"], 1, None, None),
            None
        );
        assert_eq!(UartConfig::from_compatible([], 1, None, None), None);
    }

    #[test]
    fn every_family_is_reachable_from_a_real_compatible() {
        let cases = [
            ("arm,sbsa-uart", "pl011"),
            ("snps,dw-apb-uart", "8250"),
            ("brcm,bcm2835-aux-uart", "8250"),
            ("cdns,uart-r1p12", "cadence"),
            ("fsl,imx8mq-uart", "imx"),
            ("amlogic,meson-gx-uart", "meson"),
            ("qcom,geni-debug-uart", "qcom-geni"),
            ("qcom,msm-uartdm-v1.4", "qcom-uartdm"),
            ("samsung,exynos4210-uart", "samsung"),
            ("renesas,rcar-gen3-scif", "scif"),
            ("marvell,armada-3700-uart", "armada-3700"),
            ("fsl,imx8qxp-lpuart", "lpuart"),
        ];
        for (compatible, family) in cases {
            let uart = UartConfig::from_compatible([compatible], 0x1000, None, None);
            assert_eq!(uart.map(|u| u.family()), Some(family), "{compatible}");
        }
    }

    #[test]
    fn a_newline_goes_out_as_carriage_return_then_newline() {
        let sim = Sim::with(&[(FR, 0)]);
        let mut uart = Uart::new(UartConfig::pl011(0), &sim);
        uart.write_bytes(b"a\nb");
        assert_eq!(sim.bytes_at(0, Access::U32), b"a\r\nb");
    }

    #[test]
    fn a_uart_that_never_has_room_drops_bytes_after_the_bound_then_polls_once_per_byte() {
        let sim = Sim::with(&[(FR, TXFF)]);
        let mut uart = Uart::new(UartConfig::pl011(0), &sim);
        uart.write_bytes(b"abc");
        assert!(sim.writes().is_empty());
        assert_eq!(sim.reads(), POLL_LIMIT + 2);
        sim.set(FR, 0);
        uart.write_bytes(b"de");
        assert_eq!(sim.bytes_at(0, Access::U32), b"de");
        assert_eq!(sim.reads(), POLL_LIMIT + 4);
    }
}
