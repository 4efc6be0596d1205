//! A simulated UART register block for the drivers' host tests, and the checks every driver's
//! tests share.
//!
//! Registers start at 0. Status registers are pinned to a value (writes to them are logged but
//! do not change what they read, as hardware status bits do not follow writes); every other
//! register keeps the last value written. Every write is logged with its offset and access.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::vec::Vec;

use super::{Access, Io, POLL_LIMIT, Uart, UartConfig};

/// The simulated register block.
pub(super) struct Sim {
    pinned: RefCell<BTreeMap<usize, u32>>,
    stored: RefCell<BTreeMap<usize, u32>>,
    writes: RefCell<Vec<(usize, Access, u32)>>,
    reads: Cell<usize>,
}

impl Sim {
    /// A block whose registers at the given offsets always read the given values.
    pub(super) fn with(pinned: &[(usize, u32)]) -> Self {
        Self {
            pinned: RefCell::new(pinned.iter().copied().collect()),
            stored: RefCell::default(),
            writes: RefCell::default(),
            reads: Cell::new(0),
        }
    }

    /// Pins the register at `offset` to `value` from now on.
    pub(super) fn set(&self, offset: usize, value: u32) {
        self.pinned.borrow_mut().insert(offset, value);
    }

    /// Every write so far: offset, access, value.
    pub(super) fn writes(&self) -> Vec<(usize, Access, u32)> {
        self.writes.borrow().clone()
    }

    /// The values written to `offset`, in order; panics if one was written with another access.
    pub(super) fn bytes_at(&self, offset: usize, access: Access) -> Vec<u8> {
        self.writes
            .borrow()
            .iter()
            .filter(|(at, ..)| *at == offset)
            .map(|&(_, used, value)| {
                assert_eq!(used, access, "access width at {offset:#x}");
                u8::try_from(value).expect("a byte")
            })
            .collect()
    }

    /// What the register at `offset` reads now.
    pub(super) fn value(&self, offset: usize) -> u32 {
        let pinned = self.pinned.borrow().get(&offset).copied();
        pinned.unwrap_or_else(|| self.stored.borrow().get(&offset).copied().unwrap_or(0))
    }

    /// How many reads the driver made.
    pub(super) fn reads(&self) -> usize {
        self.reads.get()
    }
}

impl Io for Sim {
    fn read(&self, offset: usize, _access: Access) -> u32 {
        self.reads.set(self.reads.get() + 1);
        self.value(offset)
    }

    fn write(&self, offset: usize, access: Access, value: u32) {
        self.writes.borrow_mut().push((offset, access, value));
        self.stored.borrow_mut().insert(offset, value);
    }
}

/// What a driver's tests describe about its family: the register that says whether there is
/// room, its values when there is and when there is not, and where bytes go.
pub(super) struct Family<'a> {
    /// The UART, as `from_compatible` or `earlycon=` would describe it at base 0.
    pub(super) config: UartConfig,
    /// Registers pinned in both cases (a mode register, say).
    pub(super) fixed: &'a [(usize, u32)],
    /// The status register and its values with room and without.
    pub(super) status: (usize, u32, u32),
    /// The data register and the access bytes are written with.
    pub(super) data: (usize, Access),
}

impl Family<'_> {
    fn sim(&self, status: u32) -> Sim {
        let sim = Sim::with(self.fixed);
        sim.set(self.status.0, status);
        sim
    }

    /// Bytes land in the data register with the family's access, `\n` as `\r\n`; then a UART
    /// with no room returns after its bound without writing a byte.
    pub(super) fn check(&self) {
        let (_, ready, busy) = self.status;
        let (data, access) = self.data;

        let sim = self.sim(ready);
        let mut uart = Uart::new(self.config, &sim);
        uart.write_bytes(b"ok\n");
        assert_eq!(sim.bytes_at(data, access), b"ok\r\n");

        let sim = self.sim(busy);
        let mut uart = Uart::new(self.config, &sim);
        let started = sim.writes().len();
        uart.write_bytes(b"x");
        assert!(sim.bytes_at(data, access).is_empty());
        assert_eq!(sim.writes().len(), started, "nothing written while busy");
        assert!(sim.reads() >= POLL_LIMIT, "it waited for its bound");
    }
}
