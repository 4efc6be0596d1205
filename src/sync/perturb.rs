//! Seeded timing perturbation: small pseudo-random delays at the points where cores race
//! (taking a lock, switching, waking, publishing a run queue, arming a timer), so that runs with
//! different seeds take different interleavings and a run with the same seed repeats its own.
//!
//! The `seed=N` bootarg picks the seed ([`set_seed`], called once at boot before the other cores
//! start); 0, the default, means no perturbation. Each core draws its delays from its own
//! xorshift stream, started from `seed ^ f(core)` and touched only by that core, so under QEMU's
//! `-icount shift=0,sleep=off` (where a whole SMP run is deterministic) a seed fixes the run.
//!
//! Only builds with debug assertions (the `kernel-test` profile that `cargo test` and
//! `cargo qemu -- --seed N` boot) have the perturbation. Elsewhere, and under `cfg(loom)`,
//! [`point`] is an empty inline function: no state, no code.

/// Where a perturbation point sits. Each site has its own bound on its longest delay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Site {
    /// [`IrqSpinLock::lock`](super::IrqSpinLock::lock), before the raw lock is taken.
    Lock,
    /// The start of a context switch, before the incoming task is claimed.
    Switch,
    /// A wake-up, before the task's state changes.
    Wake,
    /// Making a task runnable, between putting it on a ring or an inbox and telling its core.
    Publish,
    /// Arming a timer, before its core's timer queue is locked.
    TimerArm,
}

impl Site {
    /// The most spin-loop iterations one delay at this site takes. Lock acquisitions are the
    /// most frequent points, so their long delays are the shortest.
    pub const fn max_spins(self) -> u32 {
        match self {
            Site::Lock => 256,
            Site::Switch | Site::Wake | Site::Publish | Site::TimerArm => 1024,
        }
    }
}

/// Sets the seed that [`point`] draws its delays from; 0 turns the perturbation off. Call once
/// at boot, before the other cores start. In builds without the perturbation, a non-zero seed
/// only logs a warning that it has no effect.
pub fn set_seed(seed: u64) {
    #[cfg(all(debug_assertions, not(loom)))]
    streams::set_seed(seed);
    #[cfg(not(all(debug_assertions, not(loom))))]
    if seed != 0 {
        log::warn!(
            "bootarg seed={seed} has no effect: this kernel is built without debug assertions, \
             so it has no perturbation points"
        );
    }
}

/// A perturbation point: with a non-zero seed set, spins for the calling core's next
/// pseudo-random delay (most calls none, some a few iterations, a few up to
/// [`Site::max_spins`]); with none, returns at once. Safe from any context, with interrupts
/// masked or not: it takes no lock and touches only the calling core's stream.
#[cfg(all(debug_assertions, not(loom)))]
#[inline]
pub fn point(site: Site) {
    for _ in 0..streams::next_delay(site) {
        core::hint::spin_loop();
    }
}

/// A perturbation point: this build has no perturbation, so it does nothing.
#[cfg(not(all(debug_assertions, not(loom))))]
#[inline(always)]
pub fn point(_site: Site) {}

/// The delay that 64 random bits give at `site`, in spin-loop iterations: none for 3 in 4
/// draws, 1 to 16 for 3 in 16, and 1 to [`Site::max_spins`] for 1 in 16.
#[cfg(all(debug_assertions, not(loom)))]
fn delay_from_bits(bits: u64, site: Site) -> u32 {
    /// The longest of the short delays.
    const SHORT_MAX: u64 = 16;
    // The low four bits pick the kind of delay; the high 32 pick its length.
    let scale = |max: u64| 1 + (((bits >> 32) * max) >> 32) as u32;
    match bits & 0xf {
        0..=11 => 0,
        12..=14 => scale(SHORT_MAX),
        _ => scale(u64::from(site.max_spins())),
    }
}

#[cfg(all(debug_assertions, not(loom)))]
mod streams {
    use super::{Site, delay_from_bits};
    use crate::MAX_CORES;
    use crate::arch;
    use crate::random::XorShift64;
    use core::sync::atomic::{AtomicU64, Ordering};

    /// Spreads core indices over the seed's bits (the golden-ratio constant), so neighbouring
    /// cores start far apart in the xorshift sequence.
    const CORE_SPREAD: u64 = 0x9E37_79B9_7F4A_7C15;

    /// The seed; 0 means no perturbation.
    static SEED: AtomicU64 = AtomicU64::new(0);

    /// One core's stream: the generator's last output (its state), or 0 before the core's
    /// first draw. Alone on its cache line; only its own core reads or writes it.
    #[repr(align(64))]
    pub(super) struct Stream(AtomicU64);

    impl Stream {
        pub(super) const fn new() -> Self {
            Self(AtomicU64::new(0))
        }

        /// The next delay at `site` for `core`, whose stream this is, under `seed` (0 if
        /// `seed` is 0). The first draw starts the stream from `seed ^ f(core)`.
        pub(super) fn next_delay(&self, seed: u64, core: usize, site: Site) -> u32 {
            if seed == 0 {
                return 0;
            }
            let state = match self.0.load(Ordering::Relaxed) {
                0 => seed ^ (core as u64 + 1).wrapping_mul(CORE_SPREAD),
                state => state,
            };
            // A non-zero xorshift state never yields 0, so a started stream never reads as new.
            let bits = XorShift64::new(state).next_u64();
            self.0.store(bits, Ordering::Relaxed);
            delay_from_bits(bits, site)
        }
    }

    static STREAMS: [Stream; MAX_CORES] = [const { Stream::new() }; MAX_CORES];

    pub(super) fn set_seed(seed: u64) {
        SEED.store(seed, Ordering::Relaxed);
    }

    /// The calling core's next delay at `site`: 0 without a seed, and 0 for a host test thread
    /// numbered past [`MAX_CORES`].
    pub(super) fn next_delay(site: Site) -> u32 {
        let seed = SEED.load(Ordering::Relaxed);
        if seed == 0 {
            return 0;
        }
        // Masked interrupts keep the caller on this core, and keep this core's interrupt
        // handlers out of its stream, between reading the core id and storing the new state.
        let saved = arch::irq_save_disable();
        let core = arch::core_id();
        let delay = STREAMS
            .get(core)
            .map_or(0, |stream| stream.next_delay(seed, core, site));
        arch::irq_restore(saved);
        delay
    }
}

#[cfg(all(test, debug_assertions, not(loom)))]
mod tests {
    use super::streams::Stream;
    use super::{Site, delay_from_bits};

    fn delays(seed: u64, core: usize, site: Site, count: usize) -> Vec<u32> {
        let stream = Stream::new();
        (0..count)
            .map(|_| stream.next_delay(seed, core, site))
            .collect()
    }

    #[test]
    fn a_seed_and_core_give_the_same_delays_every_time() {
        for seed in [1, 42, u64::MAX] {
            for core in [0, 1, 511] {
                assert_eq!(
                    delays(seed, core, Site::Switch, 1000),
                    delays(seed, core, Site::Switch, 1000)
                );
            }
        }
    }

    #[test]
    fn seeds_and_cores_give_different_delays() {
        let first = delays(1, 0, Site::Switch, 1000);
        assert_ne!(first, delays(2, 0, Site::Switch, 1000));
        assert_ne!(first, delays(1, 1, Site::Switch, 1000));
        // Under one seed, every core draws a stream of its own.
        let mut cores: Vec<_> = (0..64)
            .map(|core| delays(7, core, Site::Lock, 64))
            .collect();
        cores.sort();
        cores.dedup();
        assert_eq!(cores.len(), 64);
    }

    #[test]
    fn seed_zero_never_delays() {
        for site in [Site::Lock, Site::Switch, Site::TimerArm] {
            assert!(delays(0, 3, site, 10_000).iter().all(|&delay| delay == 0));
        }
        let stream = Stream::new();
        assert_eq!(stream.next_delay(0, 0, Site::Wake), 0);
        // Seed 0 leaves the stream unstarted: a later seed starts it as if new.
        let started = stream.next_delay(9, 0, Site::Wake);
        assert_eq!(started, delays(9, 0, Site::Wake, 1)[0]);
    }

    #[test]
    fn most_draws_do_nothing_and_a_few_are_long() {
        const DRAWS: usize = 16_000;
        let all = delays(0x5eed, 2, Site::Switch, DRAWS);
        let none = all.iter().filter(|&&delay| delay == 0).count();
        let long = all.iter().filter(|&&delay| delay > 16).count();
        let max = Site::Switch.max_spins();
        assert!(
            (11_500..12_500).contains(&none),
            "{none} of {DRAWS} without delay"
        );
        assert!((800..1_100).contains(&long), "{long} of {DRAWS} long");
        assert!(all.iter().all(|&delay| delay <= max));
        assert!(all.iter().any(|&delay| delay > max / 2));
    }

    #[test]
    fn delays_span_each_bound() {
        // The low four bits pick the kind; the high 32 bits the length, from 1 to the bound.
        assert_eq!(delay_from_bits(0, Site::Lock), 0);
        assert_eq!(delay_from_bits(11, Site::Lock), 0);
        assert_eq!(delay_from_bits(12, Site::Lock), 1);
        assert_eq!(delay_from_bits(u64::MAX - 1, Site::Lock), 16);
        assert_eq!(delay_from_bits(15, Site::Lock), 1);
        assert_eq!(
            delay_from_bits(u64::MAX, Site::Lock),
            Site::Lock.max_spins()
        );
        assert_eq!(delay_from_bits(u64::MAX, Site::TimerArm), 1024);
    }
}
