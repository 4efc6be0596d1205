//! NXP i.MX UART (`fsl,imx21-uart`, `fsl,imx6q-uart`, `fsl,imx8m*-uart`, ...): TX FIFO full in
//! the UTS register, bytes to UTXD, 32-bit accesses.

use super::{Access, Io, Transmitter};

const UTXD: usize = 0x40;
const UTS: usize = 0xb4;
const UTS_TXFULL: u32 = 1 << 4;

/// The i.MX UART driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Imx;

/// The driver for `compatible`, if it is `fsl,imx<soc>-uart` (not the `-lpuart`s).
pub(super) fn probe(compatible: &str) -> Option<Imx> {
    compatible
        .strip_prefix("fsl,imx")
        .is_some_and(|rest| rest.ends_with("-uart") && !rest.ends_with("-lpuart"))
        .then_some(Imx)
}

impl Transmitter for Imx {
    fn ready(&self, io: &impl Io) -> bool {
        io.read(UTS, Access::U32) & UTS_TXFULL == 0
    }

    fn send(&self, io: &impl Io, byte: u8) {
        io.write(UTXD, Access::U32, byte.into());
    }
}

#[cfg(test)]
mod tests {
    use super::super::UartConfig;
    use super::super::sim::Family;
    use super::*;

    #[test]
    fn writes_utxd_while_the_fifo_is_not_full() {
        let config =
            UartConfig::from_compatible(["fsl,imx8mp-uart", "fsl,imx6q-uart"], 0, None, None)
                .unwrap();
        Family {
            config,
            fixed: &[],
            status: (UTS, 0, UTS_TXFULL),
            data: (UTXD, Access::U32),
        }
        .check();
    }
}
