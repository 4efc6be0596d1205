//! [`FnCell`]: an atomic cell holding a function pointer or nothing, for tables that interrupt
//! handlers read (the IRQ handler table, the cross-core call mailboxes).

use core::marker::PhantomData;
use core::sync::atomic::{AtomicUsize, Ordering};

use arm_gic::IntId;

/// The function-pointer types a [`FnCell`] may hold: never null, one word, `Copy`.
pub trait FnPointer: Copy + sealed::Sealed {
    /// The pointer as a word.
    fn to_bits(self) -> usize;
    /// The pointer back from a word that [`FnPointer::to_bits`] of this type gave.
    ///
    /// # Safety
    /// `bits` must come from `to_bits` of a value of `Self`.
    unsafe fn from_bits(bits: usize) -> Self;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for fn() {}
    impl Sealed for fn(super::IntId) {}
}

macro_rules! fn_pointer {
    ($($ty:ty),*) => {$(
        impl FnPointer for $ty {
            fn to_bits(self) -> usize {
                self as usize
            }

            unsafe fn from_bits(bits: usize) -> Self {
                // SAFETY: the caller passes the bits of a `$ty`, which round-trip through usize.
                unsafe { core::mem::transmute::<usize, $ty>(bits) }
            }
        }
    )*};
}
fn_pointer!(fn(), fn(IntId));

/// An atomic `Option<F>`. Guarantees: what [`FnCell::load`] or [`FnCell::take`] returns is
/// exactly a pointer some caller stored, never a mix (function pointers are never null, so
/// "empty" is the null word).
pub struct FnCell<F: FnPointer> {
    bits: AtomicUsize,
    kind: PhantomData<F>,
}

impl<F: FnPointer> FnCell<F> {
    /// An empty cell.
    pub const fn new() -> Self {
        Self {
            bits: AtomicUsize::new(0),
            kind: PhantomData,
        }
    }

    /// Stores `function` if the cell is empty; returns whether it did.
    pub fn store_if_empty(&self, function: F) -> bool {
        self.bits
            .compare_exchange(0, function.to_bits(), Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The function stored, if any.
    pub fn load(&self) -> Option<F> {
        Self::decode(self.bits.load(Ordering::Acquire))
    }

    /// Takes the function out, leaving the cell empty.
    pub fn take(&self) -> Option<F> {
        Self::decode(self.bits.swap(0, Ordering::AcqRel))
    }

    fn decode(bits: usize) -> Option<F> {
        // SAFETY: non-zero words in the cell were only ever stored from an `F`.
        (bits != 0).then(|| unsafe { F::from_bits(bits) })
    }
}

impl<F: FnPointer> Default for FnCell<F> {
    fn default() -> Self {
        Self::new()
    }
}
