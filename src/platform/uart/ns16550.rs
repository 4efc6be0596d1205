//! The 8250/16550 family: `ns16550a` and its many SoC variants (Synopsys DesignWare APB on
//! Rockchip, Allwinner and others, Tegra, Layerscape, TI K3/OMAP, MediaTek) and the Raspberry
//! Pi's BCM2835 mini UART, whose transmit registers are laid out like a 16550's with shift 2.
//! Registers are `index << reg-shift` apart and accessed with `reg-io-width`; a byte goes to
//! THR (index 0) when LSR (index 5) says THR is empty.

use super::{Access, Io, Transmitter};

const THR: usize = 0;
const LSR: usize = 5;
const LSR_THRE: u32 = 1 << 5;

/// An 8250/16550 with its register spacing and access width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ns16550 {
    shift: u32,
    access: Access,
}

impl Ns16550 {
    /// A 16550 whose registers are `1 << shift` bytes apart and read and written with
    /// `access`. `None` if `shift` would move LSR past any register block (more than 16).
    pub const fn new(shift: u32, access: Access) -> Option<Self> {
        if shift > 16 {
            return None;
        }
        Some(Self { shift, access })
    }

    fn register(&self, index: usize) -> usize {
        index << self.shift
    }
}

/// How a compatible string fixes the register layout.
enum Layout {
    /// The DT's `reg-shift` and `reg-io-width`, else this shift and 8-bit access.
    Default(u32),
    /// Always this layout, whatever the DT says (as Linux forces it).
    Forced(u32, Access),
}

fn layout(compatible: &str) -> Option<Layout> {
    let tegra = compatible.starts_with("nvidia,tegra") && compatible.ends_with("-uart");
    match compatible {
        "ns16550a" | "ns16550" | "ns16450" | "ns8250" | "snps,dw-apb-uart" | "fsl,ns16550" => {
            Some(Layout::Default(0))
        }
        _ if tegra => Some(Layout::Default(0)),
        "ti,omap2-uart" | "ti,omap3-uart" | "ti,omap4-uart" | "ti,am654-uart" => {
            Some(Layout::Default(2))
        }
        "mediatek,mt6577-uart" | "brcm,bcm2835-aux-uart" => Some(Layout::Forced(2, Access::U32)),
        _ => None,
    }
}

/// The driver for `compatible`, if it names a 16550-like UART and `reg_io_width` (when given)
/// is 1, 2 or 4.
pub(super) fn probe(
    compatible: &str,
    reg_shift: Option<u32>,
    reg_io_width: Option<u32>,
) -> Option<Ns16550> {
    match layout(compatible)? {
        Layout::Default(shift) => {
            let access = match reg_io_width {
                Some(bytes) => Access::from_reg_io_width(bytes)?,
                None => Access::U8,
            };
            Ns16550::new(reg_shift.unwrap_or(shift), access)
        }
        Layout::Forced(shift, access) => Ns16550::new(shift, access),
    }
}

impl Transmitter for Ns16550 {
    fn ready(&self, io: &impl Io) -> bool {
        io.read(self.register(LSR), self.access) & LSR_THRE != 0
    }

    fn send(&self, io: &impl Io, byte: u8) {
        io.write(self.register(THR), self.access, byte.into());
    }
}

#[cfg(test)]
mod tests {
    use super::super::UartConfig;
    use super::super::sim::Family;
    use super::*;

    fn check(config: UartConfig, lsr: usize, access: Access) {
        Family {
            config,
            fixed: &[],
            status: (lsr, LSR_THRE, 0),
            data: (THR, access),
        }
        .check();
    }

    #[test]
    fn without_properties_registers_are_bytes_one_apart() {
        let config = UartConfig::from_compatible(["ns16550a"], 0, None, None).unwrap();
        check(config, 5, Access::U8);
    }

    #[test]
    fn reg_shift_and_reg_io_width_space_and_size_the_registers() {
        let config = UartConfig::from_compatible(
            ["rockchip,rk3399-uart", "snps,dw-apb-uart"],
            0,
            Some(2),
            Some(4),
        )
        .unwrap();
        check(config, 0x14, Access::U32);
        let config =
            UartConfig::from_compatible(["nvidia,tegra194-uart"], 0, Some(2), None).unwrap();
        check(config, 0x14, Access::U8);
        let config = UartConfig::from_compatible(["fsl,ns16550"], 0, Some(1), Some(2)).unwrap();
        check(config, 0x0a, Access::U16);
    }

    #[test]
    fn ti_uarts_default_to_shift_2() {
        let config =
            UartConfig::from_compatible(["ti,am64-uart", "ti,am654-uart"], 0, None, None).unwrap();
        check(config, 0x14, Access::U8);
    }

    #[test]
    fn the_mini_uart_and_mediatek_always_use_shift_2_and_32_bit_access() {
        for compatible in ["brcm,bcm2835-aux-uart", "mediatek,mt6577-uart"] {
            let config = UartConfig::from_compatible([compatible], 0, Some(0), Some(1)).unwrap();
            check(config, 0x14, Access::U32);
        }
    }

    #[test]
    fn an_unusable_reg_io_width_is_not_claimed() {
        assert_eq!(
            UartConfig::from_compatible(["ns16550a"], 0, None, Some(3)),
            None
        );
        assert_eq!(
            UartConfig::from_compatible(["ns16550a"], 0, Some(40), None),
            None
        );
        assert_eq!(
            UartConfig::from_compatible(["nvidia,tegra30-hsuart"], 0, None, None),
            None
        );
    }
}
