//! Qualcomm GENI serial engine in UART mode (`qcom,geni-debug-uart`), as left by the boot
//! firmware. Each byte is one transfer, as Linux's polled `poll_put_char` does it: once the
//! previous command is no longer active, clear the done and watermark interrupts, set the
//! transfer length to 1, start a TX command and put the byte in the low bits of a TX FIFO word
//! (the first byte of the word under any packing firmware chose).
//!
//! `qcom,geni-uart` has the same registers, but it is not claimed: Linux's `qcom_geni_serial`
//! registers a console only for the debug UART (its high-speed ports, often wired to Bluetooth,
//! never become the console, and no earlycon matches them), so neither does this kernel. A
//! stdout-path naming one is passed over as Linux passes it over (see `platform::dtb::console`).

use super::{Access, Io, Transmitter};

const GENI_STATUS: usize = 0x40;
const M_GENI_CMD_ACTIVE: u32 = 1 << 0;
const UART_TX_TRANS_LEN: usize = 0x270;
const M_CMD0: usize = 0x600;
const M_OPCODE_SHIFT: u32 = 27;
const UART_START_TX: u32 = 1;
const M_IRQ_CLEAR: usize = 0x618;
const M_CMD_DONE: u32 = 1 << 0;
const M_TX_FIFO_WATERMARK: u32 = 1 << 30;
const TX_FIFO: usize = 0x700;

/// The GENI UART driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Geni;

/// The driver for `compatible`, if it names the GENI debug UART.
pub(super) fn probe(compatible: &str) -> Option<Geni> {
    (compatible == "qcom,geni-debug-uart").then_some(Geni)
}

impl Transmitter for Geni {
    fn ready(&self, io: &impl Io) -> bool {
        io.read(GENI_STATUS, Access::U32) & M_GENI_CMD_ACTIVE == 0
    }

    fn send(&self, io: &impl Io, byte: u8) {
        io.write(M_IRQ_CLEAR, Access::U32, M_CMD_DONE | M_TX_FIFO_WATERMARK);
        io.write(UART_TX_TRANS_LEN, Access::U32, 1);
        io.write(M_CMD0, Access::U32, UART_START_TX << M_OPCODE_SHIFT);
        io.write(TX_FIFO, Access::U32, byte.into());
    }
}

#[cfg(test)]
mod tests {
    use super::super::sim::{Family, Sim};
    use super::super::{Uart, UartConfig};
    use super::*;

    fn config() -> UartConfig {
        UartConfig::from_compatible(["qcom,geni-debug-uart"], 0, None, None).unwrap()
    }

    #[test]
    fn writes_the_fifo_once_the_previous_command_is_done() {
        Family {
            config: config(),
            fixed: &[],
            status: (GENI_STATUS, 0, M_GENI_CMD_ACTIVE),
            data: (TX_FIFO, Access::U32),
        }
        .check();
    }

    #[test]
    fn the_high_speed_uart_is_not_a_console() {
        assert_eq!(
            UartConfig::from_compatible(["qcom,geni-uart"], 0, None, None),
            None
        );
    }

    #[test]
    fn each_byte_is_a_one_byte_tx_command() {
        let sim = Sim::with(&[(GENI_STATUS, 0)]);
        Uart::new(config(), &sim).write_bytes(b"A");
        assert_eq!(
            sim.writes(),
            [
                (M_IRQ_CLEAR, Access::U32, M_CMD_DONE | M_TX_FIFO_WATERMARK),
                (UART_TX_TRANS_LEN, Access::U32, 1),
                (M_CMD0, Access::U32, 1 << 27),
                (TX_FIFO, Access::U32, u32::from(b'A')),
            ]
        );
    }
}
