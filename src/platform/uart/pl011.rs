//! Arm PL011 and SBSA generic UART (`arm,pl011`, `arm,sbsa-uart`): data register at 0, TX FIFO
//! full in the flag register. 32-bit accesses, which both accept (the SBSA UART requires them).

use super::{Access, Io, Transmitter};

const DR: usize = 0x00;
const FR: usize = 0x18;
const FR_TXFF: u32 = 1 << 5;

/// The PL011/SBSA driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Pl011;

/// The driver for `compatible`, if it names a PL011 or an SBSA UART.
pub(super) fn probe(compatible: &str) -> Option<Pl011> {
    matches!(compatible, "arm,pl011" | "arm,sbsa-uart").then_some(Pl011)
}

impl Transmitter for Pl011 {
    fn ready(&self, io: &impl Io) -> bool {
        io.read(FR, Access::U32) & FR_TXFF == 0
    }

    fn send(&self, io: &impl Io, byte: u8) {
        io.write(DR, Access::U32, byte.into());
    }
}

#[cfg(test)]
mod tests {
    use super::super::UartConfig;
    use super::super::sim::Family;
    use super::*;

    #[test]
    fn writes_the_data_register_while_the_fifo_is_not_full() {
        for compatible in ["arm,pl011", "arm,sbsa-uart"] {
            Family {
                config: UartConfig::from_compatible([compatible], 0, None, None).unwrap(),
                fixed: &[],
                status: (FR, 0, FR_TXFF),
                data: (DR, Access::U32),
            }
            .check();
        }
    }
}
