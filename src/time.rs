//! Monotonic kernel time in nanoseconds, with arithmetic that cannot overflow.
//!
//! [`Instant`] counts nanoseconds of the generic timer since it started (about when the machine
//! was reset); at 1 GHz a `u64` of nanoseconds lasts 584 years, and every operation saturates
//! rather than wraps, so a deadline computed from a huge duration is simply "never".

use core::time::Duration;

/// A point on the monotonic clock, in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// The latest representable instant: a deadline that never comes.
    pub const NEVER: Instant = Instant(u64::MAX);

    /// The instant `nanos` nanoseconds after the clock started.
    pub const fn from_nanos(nanos: u64) -> Self {
        Self(nanos)
    }

    /// Nanoseconds since the clock started.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// The current time on this core's generic timer.
    #[cfg(target_os = "none")]
    pub fn now() -> Self {
        Self(crate::arch::now_ns())
    }

    /// `self + duration`, or [`Instant::NEVER`] if that does not fit.
    pub fn saturating_add(self, duration: Duration) -> Self {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        Self(self.0.saturating_add(nanos))
    }

    /// How long after `earlier` this instant is; zero if it is not later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_wrapping() {
        let late = Instant::from_nanos(u64::MAX - 5);
        assert_eq!(late.saturating_add(Duration::from_secs(1)), Instant::NEVER);
        assert_eq!(
            Instant::from_nanos(3).saturating_add(Duration::MAX),
            Instant::NEVER
        );
        assert_eq!(
            Instant::from_nanos(10).saturating_duration_since(Instant::from_nanos(25)),
            Duration::ZERO
        );
        assert_eq!(
            Instant::from_nanos(25).saturating_duration_since(Instant::from_nanos(10)),
            Duration::from_nanos(15)
        );
    }
}
