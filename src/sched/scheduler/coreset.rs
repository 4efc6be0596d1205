//! [`CoreSet`]: a lock-free set of cores, one bit per core, for the two sets the scheduler keeps
//! where every core can see them: the idle cores, and the cores with work to steal.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::MAX_CORES;

/// Words of one bit per possible core.
pub(super) const WORDS: usize = MAX_CORES / 64;

/// A set of cores. Every operation is sequentially consistent, so a core that changes the set
/// and then reads something else pairs with a core that changes that other thing and then reads
/// the set (see the idle protocol in `idle.rs`). Adding or removing one core never disturbs
/// another core's bit, whoever changes it at the same time.
pub(super) struct CoreSet {
    words: [AtomicU64; WORDS],
}

impl CoreSet {
    /// An empty set.
    pub(super) const fn new() -> Self {
        Self {
            words: [const { AtomicU64::new(0) }; WORDS],
        }
    }

    /// Adds `core`; returns whether it was missing.
    pub(super) fn insert(&self, core: usize) -> bool {
        let mask = 1u64 << (core % 64);
        self.words[core / 64].fetch_or(mask, Ordering::SeqCst) & mask == 0
    }

    /// Removes `core`; returns whether it was there.
    pub(super) fn remove(&self, core: usize) -> bool {
        let mask = 1u64 << (core % 64);
        self.words[core / 64].fetch_and(!mask, Ordering::SeqCst) & mask != 0
    }

    /// The set's members among cores `0..cores`, as bits: word `i` of the result is the
    /// set's word `i`, read once; only the words that hold those cores are read.
    pub(super) fn snapshot(&self, cores: usize) -> Snapshot {
        let mut snapshot = Snapshot {
            bits: [0; WORDS],
            words: cores.div_ceil(64).min(WORDS),
        };
        for (bits, word) in snapshot.bits.iter_mut().zip(&self.words[..snapshot.words]) {
            *bits = word.load(Ordering::SeqCst);
        }
        snapshot
    }

    /// Takes some member out of the set and returns it (the lowest one this core saw), or
    /// `None` if the set is empty. When cores race for the same member, one of them gets it.
    pub(super) fn take_any(&self) -> Option<usize> {
        for (word, bits) in self.words.iter().enumerate() {
            let mut current = bits.load(Ordering::SeqCst);
            while current != 0 {
                let mask = 1u64 << current.trailing_zeros();
                let previous = bits.fetch_and(!mask, Ordering::SeqCst);
                if previous & mask != 0 {
                    return Some(word * 64 + mask.trailing_zeros() as usize);
                }
                current = previous & !mask;
            }
        }
        None
    }
}

/// The members of a [`CoreSet`] as one core read them: a private copy it may change.
pub(super) struct Snapshot {
    bits: [u64; WORDS],
    words: usize,
}

impl Snapshot {
    /// The words that were read, one bit per core.
    pub(super) fn bits(&self) -> &[u64] {
        &self.bits[..self.words]
    }

    /// Whether the copy holds no core.
    pub(super) fn is_empty(&self) -> bool {
        self.bits().iter().all(|word| *word == 0)
    }

    /// Drops `core` from the copy (the set itself is unchanged).
    pub(super) fn remove(&mut self, core: usize) {
        if let Some(word) = self.bits.get_mut(core / 64) {
            *word &= !(1u64 << (core % 64));
        }
    }
}
