//! Marvell Armada 3700 UART (`marvell,armada-3700-uart`, the standard UART0 layout): TX FIFO
//! full in the status register, bytes to the TSH register, 32-bit accesses.

use super::{Access, Io, Transmitter};

const TSH: usize = 0x04;
const STAT: usize = 0x0c;
const STAT_TX_FIFO_FULL: u32 = 1 << 11;

/// The Armada 3700 UART driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Armada;

/// The driver for `compatible`, if it names the Armada 3700's standard UART.
pub(super) fn probe(compatible: &str) -> Option<Armada> {
    (compatible == "marvell,armada-3700-uart").then_some(Armada)
}

impl Transmitter for Armada {
    fn ready(&self, io: &impl Io) -> bool {
        io.read(STAT, Access::U32) & STAT_TX_FIFO_FULL == 0
    }

    fn send(&self, io: &impl Io, byte: u8) {
        io.write(TSH, Access::U32, byte.into());
    }
}

#[cfg(test)]
mod tests {
    use super::super::UartConfig;
    use super::super::sim::Family;
    use super::*;

    #[test]
    fn writes_tsh_while_the_fifo_is_not_full() {
        Family {
            config: UartConfig::from_compatible(["marvell,armada-3700-uart"], 0, None, None)
                .unwrap(),
            fixed: &[],
            status: (STAT, 0, STAT_TX_FIFO_FULL),
            data: (TSH, Access::U32),
        }
        .check();
    }
}
