//! Renesas SCIF and HSCIF (`renesas,scif`, `renesas,hscif`, `renesas,rcar-gen*-scif`), in the
//! SH-4 register layout R-Car uses: wait for TDFE (room in the TX FIFO) in SCFSR, write the
//! byte to SCFTDR, then clear TDFE and TEND by writing 0 to them (SCIF status bits clear on a
//! 0 written after they read 1), as Linux's polled `put_char` does. Starting sets the
//! transmit-enable bit of SCSCR, which Linux's earlycon also sets.

use super::{Access, Io, Transmitter};

const SCSCR: usize = 0x08;
const SCSCR_TE: u32 = 1 << 5;
const SCFTDR: usize = 0x0c;
const SCFSR: usize = 0x10;
const SCFSR_TDFE: u32 = 1 << 5;
const SCFSR_TEND: u32 = 1 << 6;

/// The SCIF/HSCIF driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Scif;

/// The driver for `compatible`, if it names an SCIF or HSCIF with the R-Car register layout
/// (not the RZ/G2L's `renesas,scif-r9a07g044`, which lays them out differently).
pub(super) fn probe(compatible: &str) -> Option<Scif> {
    let rcar = compatible
        .strip_prefix("renesas,rcar-gen")
        .is_some_and(|rest| rest.ends_with("-scif") || rest.ends_with("-hscif"));
    (rcar || matches!(compatible, "renesas,scif" | "renesas,hscif")).then_some(Scif)
}

impl Transmitter for Scif {
    fn start(&self, io: &impl Io) {
        let scscr = io.read(SCSCR, Access::U16);
        io.write(SCSCR, Access::U16, scscr | SCSCR_TE);
    }

    fn ready(&self, io: &impl Io) -> bool {
        io.read(SCFSR, Access::U16) & SCFSR_TDFE != 0
    }

    fn send(&self, io: &impl Io, byte: u8) {
        io.write(SCFTDR, Access::U8, byte.into());
        io.write(SCFSR, Access::U16, 0xffff & !(SCFSR_TDFE | SCFSR_TEND));
    }
}

#[cfg(test)]
mod tests {
    use super::super::sim::{Family, Sim};
    use super::super::{Uart, UartConfig};
    use super::*;

    fn config() -> UartConfig {
        UartConfig::from_compatible(
            [
                "renesas,scif-r8a77951",
                "renesas,rcar-gen3-scif",
                "renesas,scif",
            ],
            0,
            None,
            None,
        )
        .unwrap()
    }

    #[test]
    fn writes_scftdr_while_tdfe_is_set() {
        Family {
            config: config(),
            fixed: &[],
            status: (SCFSR, SCFSR_TDFE | SCFSR_TEND, 0),
            data: (SCFTDR, Access::U8),
        }
        .check();
    }

    #[test]
    fn each_byte_clears_tdfe_and_tend_and_starting_sets_te() {
        let sim = Sim::with(&[(SCFSR, SCFSR_TDFE)]);
        sim.write(SCSCR, Access::U16, 0x10);
        Uart::new(config(), &sim).write_bytes(b"A");
        assert_eq!(sim.value(SCSCR), 0x10 | SCSCR_TE);
        assert_eq!(sim.writes().last(), Some(&(SCFSR, Access::U16, 0xff9f)));
        assert_eq!(
            UartConfig::from_compatible(["renesas,scif-r9a07g044"], 0, None, None),
            None
        );
    }
}
