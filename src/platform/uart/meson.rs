//! Amlogic Meson UART (`amlogic,meson-gx-uart`, `amlogic,meson-ao-uart`, ...): TX FIFO full in
//! the status register, bytes to the write FIFO. Starting sets the TX-enable bit of the control
//! register, as Linux's earlycon does.

use super::{Access, Io, Transmitter};

const WFIFO: usize = 0x00;
const CONTROL: usize = 0x08;
const CONTROL_TX_EN: u32 = 1 << 12;
const STATUS: usize = 0x0c;
const STATUS_TX_FULL: u32 = 1 << 21;

/// The Meson UART driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Meson;

/// The driver for `compatible`, if it is `amlogic,meson<...>-uart`.
pub(super) fn probe(compatible: &str) -> Option<Meson> {
    compatible
        .strip_prefix("amlogic,meson")
        .is_some_and(|rest| rest.ends_with("-uart"))
        .then_some(Meson)
}

impl Transmitter for Meson {
    fn start(&self, io: &impl Io) {
        let control = io.read(CONTROL, Access::U32);
        io.write(CONTROL, Access::U32, control | CONTROL_TX_EN);
    }

    fn ready(&self, io: &impl Io) -> bool {
        io.read(STATUS, Access::U32) & STATUS_TX_FULL == 0
    }

    fn send(&self, io: &impl Io, byte: u8) {
        io.write(WFIFO, Access::U32, byte.into());
    }
}

#[cfg(test)]
mod tests {
    use super::super::sim::{Family, Sim};
    use super::super::{Uart, UartConfig};
    use super::*;

    fn config() -> UartConfig {
        UartConfig::from_compatible(
            ["amlogic,meson-gx-uart", "amlogic,meson-ao-uart"],
            0,
            None,
            None,
        )
        .unwrap()
    }

    #[test]
    fn writes_the_fifo_while_it_is_not_full() {
        Family {
            config: config(),
            fixed: &[],
            status: (STATUS, 0, STATUS_TX_FULL),
            data: (WFIFO, Access::U32),
        }
        .check();
    }

    #[test]
    fn starting_enables_the_transmitter() {
        let sim = Sim::with(&[]);
        sim.write(CONTROL, Access::U32, 0x3);
        Uart::new(config(), &sim);
        assert_eq!(sim.value(CONTROL), 0x3 | CONTROL_TX_EN);
    }
}
