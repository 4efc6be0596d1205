//! NXP LPUART, 32-bit register variant: Layerscape (`fsl,ls1021a-lpuart`, big-endian;
//! `fsl,ls1028a-lpuart`) with registers from the base, i.MX 7ULP/8 (`fsl,imx7ulp-lpuart`,
//! `fsl,imx8qxp-lpuart`, `fsl,imx8ulp-lpuart`) with them 0x10 further. Wait for TDRE (transmit
//! data register empty) in STAT, write the byte to DATA. Starting sets the transmit enable bit
//! in CTRL, which Linux's earlycon does for the LS1028A.

use super::{Access, Io, Transmitter};

const STAT: usize = 0x04;
const STAT_TDRE: u32 = 1 << 23;
const CTRL: usize = 0x08;
const CTRL_TE: u32 = 1 << 19;
const DATA: usize = 0x0c;
/// Where the registers start on the i.MX parts (four registers come first there).
const IMX_OFFSET: usize = 0x10;

/// The LPUART driver, for one variant's register offset and byte order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Lpuart {
    offset: usize,
    access: Access,
}

/// The driver for `compatible`, if it names a 32-bit LPUART.
pub(super) fn probe(compatible: &str) -> Option<Lpuart> {
    let (offset, access) = match compatible {
        "fsl,ls1021a-lpuart" => (0, Access::U32BigEndian),
        "fsl,ls1028a-lpuart" => (0, Access::U32),
        "fsl,imx7ulp-lpuart" | "fsl,imx8qxp-lpuart" | "fsl,imx8ulp-lpuart" => {
            (IMX_OFFSET, Access::U32)
        }
        _ => return None,
    };
    Some(Lpuart { offset, access })
}

impl Transmitter for Lpuart {
    fn start(&self, io: &impl Io) {
        let ctrl = io.read(self.offset + CTRL, self.access);
        io.write(self.offset + CTRL, self.access, ctrl | CTRL_TE);
    }

    fn ready(&self, io: &impl Io) -> bool {
        io.read(self.offset + STAT, self.access) & STAT_TDRE != 0
    }

    fn send(&self, io: &impl Io, byte: u8) {
        io.write(self.offset + DATA, self.access, byte.into());
    }
}

#[cfg(test)]
mod tests {
    use super::super::UartConfig;
    use super::super::sim::Family;
    use super::*;

    #[test]
    fn each_variant_writes_data_at_its_offset_and_byte_order_while_tdre_is_set() {
        let cases = [
            ("fsl,imx8qxp-lpuart", IMX_OFFSET, Access::U32),
            ("fsl,ls1028a-lpuart", 0, Access::U32),
            ("fsl,ls1021a-lpuart", 0, Access::U32BigEndian),
        ];
        for (compatible, offset, access) in cases {
            Family {
                config: UartConfig::from_compatible([compatible], 0, None, None).unwrap(),
                fixed: &[],
                status: (offset + STAT, STAT_TDRE, 0),
                data: (offset + DATA, access),
            }
            .check();
        }
    }
}
