//! Qualcomm UARTDM (`qcom,msm-uartdm`, `qcom,msm-uartdm-v1.3`, `-v1.4`), at Linux's register
//! offsets. Each byte is a one-character transfer, as Linux's console writes one: once the
//! previous transfer is done (transmitter empty, or TX_READY in the interrupt status) and the
//! FIFO has room, reset TX_READY, set the character count to 1 and write the byte to the TX
//! FIFO. Starting does what Linux's earlycon does: leave data-mover mode, reset and enable the
//! transmitter.

use super::{Access, Io, Transmitter};

const SR: usize = 0x08;
const SR_TX_READY: u32 = 1 << 2;
const SR_TX_EMPTY: u32 = 1 << 3;
const CR: usize = 0x10;
const CR_TX_ENABLE: u32 = 1 << 2;
const CR_RESET_TX: u32 = 2 << 4;
const CR_RESET_TX_READY: u32 = 3 << 8;
const ISR: usize = 0x14;
const ISR_TX_READY: u32 = 1 << 7;
const DMEN: usize = 0x3c;
const NCF_TX: usize = 0x40;
const TF: usize = 0x70;

/// The UARTDM driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct UartDm;

/// The driver for `compatible`, if it names a UARTDM.
pub(super) fn probe(compatible: &str) -> Option<UartDm> {
    compatible.starts_with("qcom,msm-uartdm").then_some(UartDm)
}

impl Transmitter for UartDm {
    fn start(&self, io: &impl Io) {
        io.write(DMEN, Access::U32, 0);
        io.write(CR, Access::U32, CR_RESET_TX);
        io.write(CR, Access::U32, CR_TX_ENABLE);
    }

    fn ready(&self, io: &impl Io) -> bool {
        let sr = io.read(SR, Access::U32);
        let done = sr & SR_TX_EMPTY != 0 || io.read(ISR, Access::U32) & ISR_TX_READY != 0;
        done && sr & SR_TX_READY != 0
    }

    fn send(&self, io: &impl Io, byte: u8) {
        io.write(CR, Access::U32, CR_RESET_TX_READY);
        io.write(NCF_TX, Access::U32, 1);
        io.write(TF, Access::U32, byte.into());
    }
}

#[cfg(test)]
mod tests {
    use super::super::sim::{Family, Sim};
    use super::super::{Uart, UartConfig};
    use super::*;

    fn config() -> UartConfig {
        UartConfig::from_compatible(["qcom,msm-uartdm-v1.4", "qcom,msm-uartdm"], 0, None, None)
            .unwrap()
    }

    #[test]
    fn writes_the_fifo_when_the_last_transfer_is_done_and_there_is_room() {
        Family {
            config: config(),
            fixed: &[(ISR, 0)],
            status: (SR, SR_TX_EMPTY | SR_TX_READY, SR_TX_READY),
            data: (TF, Access::U32),
        }
        .check();
        Family {
            config: config(),
            fixed: &[(ISR, ISR_TX_READY)],
            status: (SR, SR_TX_READY, 0),
            data: (TF, Access::U32),
        }
        .check();
    }

    #[test]
    fn starting_leaves_dm_mode_then_each_byte_is_a_one_character_transfer() {
        let sim = Sim::with(&[(SR, SR_TX_EMPTY | SR_TX_READY)]);
        Uart::new(config(), &sim).write_bytes(b"A");
        assert_eq!(
            sim.writes(),
            [
                (DMEN, Access::U32, 0),
                (CR, Access::U32, CR_RESET_TX),
                (CR, Access::U32, CR_TX_ENABLE),
                (CR, Access::U32, CR_RESET_TX_READY),
                (NCF_TX, Access::U32, 1),
                (TF, Access::U32, u32::from(b'A')),
            ]
        );
    }
}
