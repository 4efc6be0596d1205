//! A small deterministic pseudo-random number generator, shared by work stealing (victim
//! order), the benchmark and seeded tests.

/// A small, fast pseudo-random number generator (Marsaglia's xorshift64, shifts 13, 7, 17).
///
/// Guarantees: the sequence is fully determined by the seed, never gets stuck at zero (a zero
/// seed is replaced by a fixed non-zero constant) and has period 2^64 - 1. It is not
/// cryptographically secure; it exists to spread work-stealing choices and to seed tests.
#[derive(Clone, Debug)]
pub struct XorShift64 {
    state: u64,
}

impl XorShift64 {
    /// The state a zero seed is replaced by (zero is the generator's only fixed point).
    const ZERO_SEED_REPLACEMENT: u64 = 0x9E37_79B9_7F4A_7C15;

    /// Creates a generator from `seed`; equal seeds give equal sequences.
    pub const fn new(seed: u64) -> Self {
        let state = if seed == 0 {
            Self::ZERO_SEED_REPLACEMENT
        } else {
            seed
        };
        Self { state }
    }

    /// Returns the next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }

    /// Returns a pseudo-random number in `0..bound`, or 0 when `bound` is 0.
    ///
    /// Uses a multiply-shift reduction rather than `%`: the bias towards some values is at most
    /// `bound / 2^64`, far below anything a scheduler or a test can notice.
    pub fn below(&mut self, bound: usize) -> usize {
        let scaled = u128::from(self.next_u64()) * bound as u128;
        // The high 64 bits of a product with a factor below `bound` are below `bound`, so the
        // cast back to usize is lossless.
        (scaled >> 64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::XorShift64;

    #[test]
    fn xorshift_is_deterministic_and_survives_a_zero_seed() {
        let mut a = XorShift64::new(0);
        let mut b = XorShift64::new(0);
        for _ in 0..100 {
            let value = a.next_u64();
            assert_ne!(value, 0);
            assert_eq!(value, b.next_u64());
        }
    }

    #[test]
    fn xorshift_below_stays_in_range() {
        let mut random = XorShift64::new(5);
        assert_eq!(random.below(0), 0);
        for bound in 1..200 {
            for _ in 0..50 {
                assert!(random.below(bound) < bound);
            }
        }
    }
}
