//! Cadence UART (`cdns,uart-r1p8`, `cdns,uart-r1p12`), as in Xilinx Zynq, ZynqMP and Versal
//! (`xlnx,xuartps`, `xlnx,zynqmp-uart`): TX FIFO full in the channel status register, bytes
//! to the FIFO register. Starting clears TX-disable and sets TX-enable, which Linux's earlycon
//! also does (it resets the FIFOs too; this driver keeps what firmware queued).

use super::{Access, Io, Transmitter};

const CR: usize = 0x00;
const CR_TX_EN: u32 = 1 << 4;
const CR_TX_DIS: u32 = 1 << 5;
const SR: usize = 0x2c;
const SR_TXFULL: u32 = 1 << 4;
const FIFO: usize = 0x30;

/// The Cadence UART driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Cadence;

/// The driver for `compatible`, if it names a Cadence UART.
pub(super) fn probe(compatible: &str) -> Option<Cadence> {
    matches!(
        compatible,
        "cdns,uart-r1p8" | "cdns,uart-r1p12" | "xlnx,xuartps" | "xlnx,zynqmp-uart"
    )
    .then_some(Cadence)
}

impl Transmitter for Cadence {
    fn start(&self, io: &impl Io) {
        let cr = io.read(CR, Access::U32);
        io.write(CR, Access::U32, (cr & !CR_TX_DIS) | CR_TX_EN);
    }

    fn ready(&self, io: &impl Io) -> bool {
        io.read(SR, Access::U32) & SR_TXFULL == 0
    }

    fn send(&self, io: &impl Io, byte: u8) {
        io.write(FIFO, Access::U32, byte.into());
    }
}

#[cfg(test)]
mod tests {
    use super::super::sim::{Family, Sim};
    use super::super::{Uart, UartConfig};
    use super::*;

    fn config() -> UartConfig {
        UartConfig::from_compatible(["xlnx,zynqmp-uart", "cdns,uart-r1p12"], 0, None, None).unwrap()
    }

    #[test]
    fn writes_the_fifo_while_it_is_not_full() {
        Family {
            config: config(),
            fixed: &[],
            status: (SR, 0, SR_TXFULL),
            data: (FIFO, Access::U32),
        }
        .check();
    }

    #[test]
    fn starting_enables_the_transmitter_and_keeps_the_other_bits() {
        let sim = Sim::with(&[]);
        sim.write(CR, Access::U32, 0x128);
        Uart::new(config(), &sim);
        assert_eq!(sim.value(CR), 0x118);
    }
}
