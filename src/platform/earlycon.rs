//! The `earlycon=` bootarg's value in Linux's syntax, read into the UART it names: the console
//! to use when the DTB names none (no `/chosen/stdout-path`), or before it is read.
//!
//! The value is `<name>,[<iotype>,]<address>[,<options>]`, as in Linux's
//! `Documentation/admin-guide/kernel-parameters.txt`: `pl011,0x9000000`,
//! `uart8250,mmio32,0xff1a0000`, `uart,mmio,0x10000000`, `cdns,0xff000000`. `<iotype>` is
//! `mmio` (8-bit, registers 1 byte apart), `mmio16` (16-bit, 2 apart), `mmio32` or
//! `mmio32native` (32-bit, 4 apart) or `mmio32be` (32-bit big-endian, 4 apart); `io` (x86 port
//! I/O) does not exist on arm64 and is refused. The spacing applies to the 8250 family; other
//! families have fixed layouts (Samsung's data register takes the width, `lpuart32` is
//! big-endian unless `mmio32` says otherwise, as in Linux). `<address>` is hexadecimal with
//! `0x`, or decimal. `<options>` (the baud rate) are ignored: the kernel never sets the baud
//! rate. The bare word `earlycon` (use the DTB's stdout UART) is the caller's to handle.

use core::fmt;

use super::uart::{Access, Ns16550, UartConfig};

/// Why an `earlycon=` value names no UART the kernel can drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EarlyconError {
    /// The name before the first comma is not one this kernel knows.
    UnknownName,
    /// The iotype is `io`: port I/O, which arm64 does not have.
    PortIo,
    /// The address is missing, not a number, or 0.
    BadAddress,
}

impl fmt::Display for EarlyconError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownName => write!(
                f,
                "unknown UART name (expected one of {})",
                NAMES_FOR_MESSAGES
            ),
            Self::PortIo => write!(f, "port I/O (`io`) does not exist on arm64: use mmio"),
            Self::BadAddress => write!(f, "expected a non-zero address such as 0x9000000"),
        }
    }
}

/// The names the error message lists.
const NAMES_FOR_MESSAGES: &str = "uart8250, uart, ns16550a, pl011, cdns, bcm2835aux, mtk8250, \
    omap8250, ec_imx6q, ec_imx21, meson, qcom_geni, msm_serial_dm, s3c2410, s3c2440, s5pv210, \
    exynos4210, s5l, scif, hscif, ar3700_uart, lpuart32";

/// Linux earlycon names of non-8250 drivers, each with a compatible string its DT driver
/// claims, so that both ways of naming a UART share one driver table.
const COMPATIBLE_OF_NAME: &[(&str, &str)] = &[
    ("pl011", "arm,pl011"),
    ("cdns", "cdns,uart-r1p12"),
    ("bcm2835aux", "brcm,bcm2835-aux-uart"),
    ("mtk8250", "mediatek,mt6577-uart"),
    ("ec_imx6q", "fsl,imx6q-uart"),
    ("ec_imx21", "fsl,imx21-uart"),
    ("meson", "amlogic,meson-ao-uart"),
    ("qcom_geni", "qcom,geni-debug-uart"),
    ("msm_serial_dm", "qcom,msm-uartdm"),
    ("s3c2410", "samsung,s3c2410-uart"),
    ("s3c2412", "samsung,s3c2412-uart"),
    ("s3c2440", "samsung,s3c2440-uart"),
    ("s3c6400", "samsung,s3c6400-uart"),
    ("s5pv210", "samsung,s5pv210-uart"),
    ("exynos4210", "samsung,exynos4210-uart"),
    ("artpec8", "axis,artpec8-uart"),
    ("s5l", "apple,s5l-uart"),
    ("scif", "renesas,scif"),
    ("hscif", "renesas,hscif"),
    ("ar3700_uart", "marvell,armada-3700-uart"),
];

/// An `<iotype>`: its access and the register spacing (shift) it implies for an 8250.
#[derive(Clone, Copy)]
struct IoType {
    access: Access,
    shift: u32,
    named: bool,
}

impl IoType {
    const BARE: Self = Self {
        access: Access::U8,
        shift: 0,
        named: false,
    };

    fn parse(word: &str) -> Result<Option<Self>, EarlyconError> {
        let (access, shift) = match word {
            "mmio" => (Access::U8, 0),
            "mmio16" => (Access::U16, 1),
            "mmio32" | "mmio32native" => (Access::U32, 2),
            "mmio32be" => (Access::U32BigEndian, 2),
            "io" => return Err(EarlyconError::PortIo),
            _ => return Ok(None),
        };
        Ok(Some(Self {
            access,
            shift,
            named: true,
        }))
    }

    /// The DT `reg-io-width` equivalent, for families that take one.
    fn reg_io_width(self) -> Option<u32> {
        match (self.named, self.access) {
            (false, _) => None,
            (true, Access::U8) => Some(1),
            (true, Access::U16) => Some(2),
            (true, Access::U32 | Access::U32BigEndian) => Some(4),
        }
    }
}

/// The UART an `earlycon=` value (what follows `earlycon=`) names.
pub fn parse(value: &str) -> Result<UartConfig, EarlyconError> {
    let mut words = value.split(',');
    let name = words.next().unwrap_or_default();
    let mut next = words.next().ok_or(EarlyconError::BadAddress)?;
    let io_type = match IoType::parse(next)? {
        Some(io_type) => {
            next = words.next().ok_or(EarlyconError::BadAddress)?;
            io_type
        }
        None => IoType::BARE,
    };
    let base = address(next).ok_or(EarlyconError::BadAddress)?;
    let ns16550 = |shift| {
        Ns16550::new(shift, io_type.access)
            .map(|driver| UartConfig::ns16550(base, driver))
            .ok_or(EarlyconError::UnknownName)
    };
    match name {
        "uart8250" | "uart" | "ns16550" | "ns16550a" => ns16550(io_type.shift),
        "omap8250" => ns16550(2),
        "lpuart32" => {
            let compatible = if io_type.access == Access::U32 {
                "fsl,ls1028a-lpuart"
            } else {
                "fsl,ls1021a-lpuart"
            };
            UartConfig::from_compatible([compatible], base, None, None)
                .ok_or(EarlyconError::UnknownName)
        }
        _ => COMPATIBLE_OF_NAME
            .iter()
            .find(|(known, _)| *known == name)
            .and_then(|(_, compatible)| {
                UartConfig::from_compatible([*compatible], base, None, io_type.reg_io_width())
            })
            .ok_or(EarlyconError::UnknownName),
    }
}

/// A non-zero address: `0x` and hexadecimal digits, or decimal digits.
fn address(word: &str) -> Option<usize> {
    let parsed = match word.strip_prefix("0x").or_else(|| word.strip_prefix("0X")) {
        Some(hex) => usize::from_str_radix(hex, 16),
        None => word.parse(),
    };
    parsed.ok().filter(|&address| address != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns16550(base: usize, shift: u32, access: Access) -> UartConfig {
        UartConfig::ns16550(base, Ns16550::new(shift, access).unwrap())
    }

    #[test]
    fn reads_linux_examples() {
        assert_eq!(parse("pl011,0x9000000"), Ok(UartConfig::pl011(0x900_0000)));
        assert_eq!(
            parse("uart8250,mmio32,0xff1a0000"),
            Ok(ns16550(0xff1a_0000, 2, Access::U32))
        );
        assert_eq!(
            parse("uart,mmio,0x10000000"),
            Ok(ns16550(0x1000_0000, 0, Access::U8))
        );
        let cadence = parse("cdns,0xff000000").unwrap();
        assert_eq!((cadence.family(), cadence.base()), ("cadence", 0xff00_0000));
    }

    #[test]
    fn the_iotype_sets_an_8250s_width_and_spacing() {
        assert_eq!(parse("uart8250,0x3f8"), Ok(ns16550(0x3f8, 0, Access::U8)));
        assert_eq!(
            parse("ns16550a,mmio16,0x1000"),
            Ok(ns16550(0x1000, 1, Access::U16))
        );
        assert_eq!(
            parse("uart8250,mmio32be,0x21c0500"),
            Ok(ns16550(0x21c_0500, 2, Access::U32BigEndian))
        );
        assert_eq!(
            parse("uart,mmio32native,4096"),
            Ok(ns16550(4096, 2, Access::U32))
        );
        assert_eq!(
            parse("omap8250,0x2800000"),
            Ok(ns16550(0x280_0000, 2, Access::U8))
        );
    }

    #[test]
    fn options_after_the_address_are_ignored() {
        assert_eq!(
            parse("uart8250,mmio32,0xfe660000,1500000n8"),
            Ok(ns16550(0xfe66_0000, 2, Access::U32))
        );
        assert_eq!(
            parse("pl011,mmio32,0x9000000,115200"),
            Ok(UartConfig::pl011(0x900_0000))
        );
    }

    #[test]
    fn other_families_are_named_as_in_linux() {
        let cases = [
            ("bcm2835aux,0x3f215040", "8250"),
            ("ec_imx6q,0x30860000", "imx"),
            ("meson,0xc81004c0", "meson"),
            ("qcom_geni,0xa84000", "qcom-geni"),
            ("msm_serial_dm,0x78af000", "qcom-uartdm"),
            ("exynos4210,0x14c10000", "samsung"),
            ("scif,0xe6e88000", "scif"),
            ("ar3700_uart,0xd0012000", "armada-3700"),
            ("lpuart32,0x2950000", "lpuart"),
        ];
        for (value, family) in cases {
            assert_eq!(
                parse(value).map(|uart| uart.family()),
                Ok(family),
                "{value}"
            );
        }
    }

    #[test]
    fn lpuart32_is_big_endian_unless_mmio32_says_otherwise() {
        let be = parse("lpuart32,mmio32be,0x2950000").unwrap();
        let le = parse("lpuart32,mmio32,0x2950000").unwrap();
        assert_eq!(be, parse("lpuart32,0x2950000").unwrap());
        assert_ne!(be, le);
        assert_eq!(
            le,
            UartConfig::from_compatible(["fsl,ls1028a-lpuart"], 0x295_0000, None, None).unwrap()
        );
    }

    #[test]
    fn refuses_what_names_no_usable_uart() {
        assert_eq!(parse("uart8250,io,0x3f8"), Err(EarlyconError::PortIo));
        assert_eq!(parse("sbi"), Err(EarlyconError::BadAddress));
        assert_eq!(parse("pl011,"), Err(EarlyconError::BadAddress));
        assert_eq!(parse("pl011,mmio32"), Err(EarlyconError::BadAddress));
        assert_eq!(parse("pl011,0x"), Err(EarlyconError::BadAddress));
        assert_eq!(parse("pl011,0"), Err(EarlyconError::BadAddress));
        assert_eq!(parse("pl011,0xzz"), Err(EarlyconError::BadAddress));
        assert_eq!(parse("acme,0x1000"), Err(EarlyconError::UnknownName));
        assert_eq!(parse(""), Err(EarlyconError::BadAddress));
    }

    #[test]
    fn errors_say_what_was_expected() {
        let message = std::format!("{}", EarlyconError::UnknownName);
        assert!(message.contains("uart8250") && message.contains("pl011"));
        assert!(std::format!("{}", EarlyconError::PortIo).contains("mmio"));
    }
}
