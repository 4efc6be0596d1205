//! How long the monitor sleeps between passes: Go `sysmon`'s backoff, capped by the next time
//! a pass could find something to do.
//!
//! While passes find work the monitor sleeps [`MIN_SLEEP_NS`] (20 us). Once they stop, it keeps
//! that pace for [`IDLE_PASSES_AT_MIN_SLEEP`] more passes (about 1 ms, as `sysmon` does), then
//! doubles the sleep each idle pass up to [`MAX_SLEEP_NS`] (10 ms). It never sleeps past the
//! time the last pass said something may become due.

/// The sleep while passes find work: 20 us.
pub const MIN_SLEEP_NS: u64 = 20_000;

/// The longest sleep: 10 ms.
pub const MAX_SLEEP_NS: u64 = 10_000_000;

/// Idle passes that still sleep [`MIN_SLEEP_NS`] before the doubling starts.
pub const IDLE_PASSES_AT_MIN_SLEEP: u32 = 50;

/// The monitor's sleep schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backoff {
    delay_ns: u64,
    idle_passes: u32,
}

impl Backoff {
    /// A schedule that starts at [`MIN_SLEEP_NS`].
    pub const fn new() -> Self {
        Self {
            delay_ns: MIN_SLEEP_NS,
            idle_passes: 0,
        }
    }

    /// How long to sleep after a pass that ended at `now_ns`, found work or not, and computed
    /// `next_check_ns` as the next time something may become due. The result is the backoff
    /// delay, cut short to reach `next_check_ns`, and never 0.
    pub fn next_sleep_ns(&mut self, found_work: bool, now_ns: u64, next_check_ns: u64) -> u64 {
        if found_work {
            self.idle_passes = 0;
            self.delay_ns = MIN_SLEEP_NS;
        } else {
            self.idle_passes = self.idle_passes.saturating_add(1);
            if self.idle_passes > IDLE_PASSES_AT_MIN_SLEEP {
                self.delay_ns = self.delay_ns.saturating_mul(2).min(MAX_SLEEP_NS);
            }
        }
        self.delay_ns
            .min(next_check_ns.saturating_sub(now_ns))
            .max(1)
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::timer::NO_DEADLINE;

    #[test]
    fn sysmon_sequence() {
        let mut backoff = Backoff::new();
        let mut idle = || backoff.next_sleep_ns(false, 0, NO_DEADLINE);
        let first: Vec<u64> = (0..IDLE_PASSES_AT_MIN_SLEEP).map(|_| idle()).collect();
        assert!(first.iter().all(|sleep| *sleep == MIN_SLEEP_NS));
        let doubling: Vec<u64> = (0..11).map(|_| idle()).collect();
        assert_eq!(
            doubling,
            [
                40_000,
                80_000,
                160_000,
                320_000,
                640_000,
                1_280_000,
                2_560_000,
                5_120_000,
                MAX_SLEEP_NS,
                MAX_SLEEP_NS,
                MAX_SLEEP_NS
            ]
        );
    }

    #[test]
    fn work_resets_to_the_minimum() {
        let mut backoff = Backoff::new();
        for _ in 0..100 {
            backoff.next_sleep_ns(false, 0, NO_DEADLINE);
        }
        assert_eq!(backoff.next_sleep_ns(false, 0, NO_DEADLINE), MAX_SLEEP_NS);
        assert_eq!(backoff.next_sleep_ns(true, 0, NO_DEADLINE), MIN_SLEEP_NS);
        assert_eq!(backoff.next_sleep_ns(false, 0, NO_DEADLINE), MIN_SLEEP_NS);
    }

    #[test]
    fn the_next_check_cuts_the_sleep_short_but_never_to_zero() {
        let mut backoff = Backoff::new();
        for _ in 0..100 {
            backoff.next_sleep_ns(false, 0, NO_DEADLINE);
        }
        assert_eq!(backoff.next_sleep_ns(false, 1_000_000, 1_700_000), 700_000);
        assert_eq!(backoff.next_sleep_ns(false, 1_000_000, 1_000_005), 5);
        assert_eq!(backoff.next_sleep_ns(false, 1_000_000, 900_000), 1);
        assert_eq!(
            backoff.next_sleep_ns(false, 1_000_000, 30_000_000),
            MAX_SLEEP_NS
        );
    }
}
